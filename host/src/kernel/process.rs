//! Programs in namespaces: started confined (a guest's) or as they are (the
//! operator's `netwasm exec`), held in cgroups, and stopped.
//!
//! A guest's program is started by fork and exec from a tokio worker; the
//! child, before it execs, does what confines it, in this order: joins its
//! cgroup (so that nothing it ever starts escapes it), enters the
//! namespace (`setns` on the namespace's descriptor: never by name, which
//! could be remounted), starts a session, drops every capability from the
//! bounding set while it still may, clears the ambient set, becomes the
//! unprivileged user (no supplementary groups), clears the remaining sets,
//! sets `no_new_privs` (so no setuid program or file capability gives any
//! back), and marks every descriptor above stderr close-on-exec. The child
//! is a fork of a multi-threaded process: it makes only raw system calls,
//! with everything prepared before the fork.
//!
//! Every program gets a cgroup v2 of its own, `netwasm/LAB/NAME`, so that
//! stopping it stops what it forked too, even what detached into a session
//! of its own (a process group would not hold that). Stopping is SIGTERM
//! to every member, a grace period, then `cgroup.kill`.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::vocab::process::{CGROUP_DIR, ExitStatus};

/// How long stopped programs get between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(2);
/// How long a killed cgroup may take to empty before giving up on it.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// The cgroup v2 mount point, from `/proc/self/mountinfo`: `/sys/fs/cgroup`
/// on a unified host, `/sys/fs/cgroup/unified` on a hybrid one.
pub fn cgroup_root() -> io::Result<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    text.lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mount = left.split(' ').nth(4)?;
            (fstype == "cgroup2").then(|| PathBuf::from(mount))
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "no cgroup v2 hierarchy is mounted (netwasm holds every program in one, to stop what it leaves behind)",
            )
        })
}

/// A program's cgroup: `rel` as the ledger records it, under `root`.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub rel: String,
    pub dir: PathBuf,
}

impl Cgroup {
    pub fn at(rel: &str) -> io::Result<Self> {
        Ok(Self {
            rel: rel.to_string(),
            dir: cgroup_root()?.join(rel),
        })
    }

    /// Makes the cgroup (and `netwasm/LAB` above it).
    pub fn create(rel: &str) -> io::Result<Self> {
        let cg = Self::at(rel)?;
        let parent = cg.dir.parent().expect("netwasm/LAB/NAME has a parent");
        std::fs::create_dir_all(parent)?;
        std::fs::create_dir(&cg.dir)?;
        Ok(cg)
    }

    /// The processes in it now; none when it is gone.
    pub fn members(&self) -> Vec<i32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// Removes the cgroup once it is empty, and `netwasm/LAB` and `netwasm`
    /// when they are empty too (another program's cgroup keeps them).
    pub fn remove(&self) -> io::Result<()> {
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut up = self.dir.parent();
        for _ in 0..2 {
            let Some(dir) = up else { break };
            if dir.file_name().is_none() || std::fs::remove_dir(dir).is_err() {
                break;
            }
            up = dir.parent();
        }
        Ok(())
    }
}

/// The start time of process `pid` (field 22 of `/proc/PID/stat`, in clock
/// ticks since boot) and whether it is a zombie. With the pid it names one
/// process for the life of the machine: a pid is reused, a (pid, start
/// time) pair is not.
pub fn proc_start(pid: u32) -> io::Result<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: the
    // fields after it start after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: no command name")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let zombie = fields.first().is_some_and(|s| *s == "Z" || *s == "X");
    let start = fields
        .get(19)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: no start time")))?;
    Ok((start, zombie))
}

/// Whether process `pid`, started at `start`, still runs (a zombie does not).
pub fn alive(pid: u32, start: u64) -> bool {
    matches!(proc_start(pid), Ok((s, false)) if s == start)
}

/// One stopped program: what it was.
#[derive(Debug)]
pub struct Stop {
    pub cgroup: Cgroup,
    /// Its pid and start time, if recorded: stopped by those only when its
    /// cgroup is gone.
    pub pid: Option<(u32, u64)>,
}

/// What stopping one program did.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Something was running and was stopped.
    Stopped,
    /// Nothing was running any more.
    Gone,
}

/// Stops every program of `stops` with everything in their cgroups, all at
/// once: SIGTERM, up to [`GRACE`] for them to end, then SIGKILL
/// (`cgroup.kill`), and removes the cgroups. Bounded: [`GRACE`] plus
/// [`KILL_WAIT`]. One result per program, in order.
pub async fn stop_all(stops: &[Stop]) -> Vec<io::Result<Stopped>> {
    let mut was_running = Vec::with_capacity(stops.len());
    for s in stops {
        let mut running = false;
        if s.cgroup.exists() {
            for pid in s.cgroup.members() {
                running = true;
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        } else if let Some((pid, start)) = s.pid
            && alive(pid, start)
        {
            running = true;
            // SAFETY: as above; the start time shows the pid is still ours.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        was_running.push(running);
    }
    let empty = |s: &Stop| {
        if s.cgroup.exists() {
            s.cgroup.members().is_empty()
        } else {
            s.pid.is_none_or(|(p, t)| !alive(p, t))
        }
    };
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && !stops.iter().all(empty) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for s in stops.iter().filter(|s| !empty(s)) {
        if s.cgroup.exists() {
            kill_cgroup(&s.cgroup);
        } else if let Some((pid, start)) = s.pid
            && alive(pid, start)
        {
            // SAFETY: as above.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
    let deadline = Instant::now() + KILL_WAIT;
    while Instant::now() < deadline && !stops.iter().all(empty) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stops
        .iter()
        .zip(was_running)
        .map(|(s, running)| {
            if !empty(s) {
                return Err(io::Error::other(format!(
                    "cgroup {} still holds processes {:?} after SIGKILL",
                    s.cgroup.rel,
                    s.cgroup.members()
                )));
            }
            s.cgroup.remove()?;
            Ok(if running {
                Stopped::Stopped
            } else {
                Stopped::Gone
            })
        })
        .collect()
}

/// SIGKILL to everything in the cgroup: by `cgroup.kill` (Linux 5.14),
/// which no fork can race, or member by member where it is missing.
fn kill_cgroup(cg: &Cgroup) {
    if std::fs::write(cg.dir.join("cgroup.kill"), b"1").is_ok() {
        return;
    }
    for _ in 0..10 {
        let members = cg.members();
        if members.is_empty() {
            return;
        }
        for pid in members {
            // SAFETY: kill has no memory preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// What a confined program is started with.
pub struct Spawn {
    /// The file to execute (resolved by the policy).
    pub program: PathBuf,
    /// Its arguments, `argv[0]` first.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub stdin: Option<Vec<u8>>,
    pub uid: u32,
    pub gid: u32,
}

/// The bytes a run's programs may have kept at once, shared by all.
#[derive(Debug)]
pub struct OutputBudget {
    held: AtomicU64,
    cap: u64,
}

impl OutputBudget {
    pub fn new(cap: u64) -> Arc<Self> {
        Arc::new(Self {
            held: AtomicU64::new(0),
            cap,
        })
    }

    /// Takes room for up to `n` bytes; returns how many fit.
    fn take(&self, n: u64) -> u64 {
        let mut held = self.held.load(Ordering::Relaxed);
        loop {
            let fit = n.min(self.cap.saturating_sub(held));
            match self.held.compare_exchange_weak(
                held,
                held + fit,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return fit,
                Err(now) => held = now,
            }
        }
    }

    fn give_back(&self, n: u64) {
        self.held.fetch_sub(n, Ordering::Relaxed);
    }
}

/// What the host read of one stream and not yet handed on.
#[derive(Debug, Default)]
struct StreamBuf {
    data: Vec<u8>,
    dropped: u64,
    closed: bool,
}

/// One of a program's output streams, read by a task of its own.
#[derive(Clone)]
pub struct Stream {
    buf: Arc<Mutex<StreamBuf>>,
    budget: Arc<OutputBudget>,
    /// Cleared when no one will read any more: what comes is dropped.
    kept: Arc<AtomicBool>,
}

/// One read of a stream.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    pub data: Vec<u8>,
    pub dropped: u64,
    pub closed: bool,
}

impl Stream {
    fn new(budget: Arc<OutputBudget>) -> Self {
        Self {
            buf: Arc::default(),
            budget,
            kept: Arc::new(AtomicBool::new(true)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StreamBuf> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads `from` to its end, keeping what the budget has room for.
    fn pump(self, mut from: impl AsyncRead + Unpin + Send + 'static) {
        tokio::spawn(async move {
            let mut chunk = vec![0u8; 16 << 10];
            loop {
                let n = match from.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut b = self.lock();
                let fit = if self.kept.load(Ordering::Relaxed) {
                    self.budget.take(n as u64) as usize
                } else {
                    0
                };
                b.data.extend_from_slice(&chunk[..fit]);
                b.dropped += (n - fit) as u64;
            }
            self.lock().closed = true;
        });
    }

    /// Takes what was read since the last call.
    pub fn take(&self) -> Taken {
        let mut b = self.lock();
        let data = std::mem::take(&mut b.data);
        self.budget.give_back(data.len() as u64);
        Taken {
            data,
            dropped: std::mem::take(&mut b.dropped),
            closed: b.closed,
        }
    }

    /// Stops keeping what comes, and gives back what was kept.
    pub fn forget(&self) {
        self.kept.store(false, Ordering::Relaxed);
        self.take();
    }
}

/// A confined program, started.
pub struct Running {
    pub pid: u32,
    pub start: u64,
    child: tokio::process::Child,
    status: Option<ExitStatus>,
    pub stdout: Stream,
    pub stderr: Stream,
}

impl Running {
    /// Waits up to `timeout` for the program to end.
    pub async fn wait(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            let status = if timeout.is_zero() {
                self.child.try_wait()?
            } else {
                match tokio::time::timeout(timeout, self.child.wait()).await {
                    Ok(s) => Some(s?),
                    Err(_) => None,
                }
            };
            self.status = status.map(exit_status);
        }
        Ok(self.status)
    }

    /// Sends `sig` to the program itself, unless it has ended (ESRCH).
    pub fn signal(&mut self, sig: i32) -> io::Result<()> {
        if self.status.is_some() || self.child.try_wait()?.is_some() {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        // Not yet reaped: the pid is still this child's.
        // SAFETY: kill has no memory preconditions.
        if unsafe { libc::kill(self.pid as i32, sig) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn exit_status(s: std::process::ExitStatus) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => ExitStatus::Exited(c as u8),
        (None, Some(sig)) => ExitStatus::Signaled(sig as u8),
        (None, None) => ExitStatus::Exited(255),
    }
}

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_V3: u32 = 0x2008_0522;
/// `close_range(2)` flag: mark close-on-exec instead of closing.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn check(r: libc::c_long) -> io::Result<()> {
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Starts `spec` confined (see the module docs) in the namespace `netns`,
/// inside `cgroup`, with its output read into `budget`.
pub fn spawn(
    netns: OwnedFd,
    cgroup: &Cgroup,
    spec: &Spawn,
    budget: &Arc<OutputBudget>,
) -> io::Result<Running> {
    use std::process::Stdio;
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(cgroup.dir.join("cgroup.procs"))?;
    let last_cap: libc::c_ulong = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63);
    let mut cmd = tokio::process::Command::new(&spec.program);
    let (arg0, args) = spec.argv.split_first().ok_or(io::ErrorKind::InvalidInput)?;
    cmd.arg0(arg0)
        .args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (ns_fd, procs_fd) = (netns.as_raw_fd(), procs.as_raw_fd());
    let (uid, gid) = (spec.uid, spec.gid);
    // SAFETY: the closure runs in the forked child before exec and makes
    // only async-signal-safe system calls on values prepared before the
    // fork; it allocates nothing (an error's errno is carried back by std).
    unsafe {
        cmd.pre_exec(move || {
            check(libc::write(procs_fd, b"0".as_ptr().cast(), 1) as libc::c_long)?;
            check(libc::setns(ns_fd, libc::CLONE_NEWNET).into())?;
            check(libc::setsid().into())?;
            for cap in 0..=last_cap {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    // Past the kernel's last capability.
                    if io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                        break;
                    }
                    return Err(io::Error::last_os_error());
                }
            }
            check(
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL,
                    0,
                    0,
                    0,
                )
                .into(),
            )?;
            check(libc::setgroups(0, std::ptr::null()).into())?;
            check(libc::setresgid(gid, gid, gid).into())?;
            check(libc::setresuid(uid, uid, uid).into())?;
            let mut header = CapHeader {
                version: CAP_V3,
                pid: 0,
            };
            let data = [CapData {
                effective: 0,
                permitted: 0,
                inheritable: 0,
            }; 2];
            check(libc::syscall(
                libc::SYS_capset,
                &mut header as *mut CapHeader,
                data.as_ptr(),
            ))?;
            check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into())?;
            check(libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            ))?;
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(procs);
    drop(netns);
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the program ended unseen"))?;
    // Not yet reaped, so /proc/PID is this child's.
    let start = proc_start(pid)?.0;
    if let (Some(bytes), Some(mut stdin)) = (spec.stdin.clone(), child.stdin.take()) {
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let stdout = Stream::new(budget.clone());
    let stderr = Stream::new(budget.clone());
    if let Some(o) = child.stdout.take() {
        stdout.clone().pump(o);
    }
    if let Some(e) = child.stderr.take() {
        stderr.clone().pump(e);
    }
    Ok(Running {
        pid,
        start,
        child,
        status: None,
        stdout,
        stderr,
    })
}

/// The name of a new program's cgroup in lab `lab`: unique on this
/// machine (this process's pid and its own count), so that no two runs
/// share one.
pub fn cgroup_name(lab: &str, n: u64) -> String {
    format!("{CGROUP_DIR}/{lab}/{}-{n}", std::process::id())
}

/// Runs `argv` inside the namespace `netns` as netwasm's own user, with
/// netwasm's stdio and environment: the operator's `netwasm exec`. Waits
/// for it and returns its status.
pub async fn exec_as_operator(netns: OwnedFd, argv: &[String]) -> io::Result<ExitStatus> {
    let (program, args) = argv.split_first().ok_or(io::ErrorKind::InvalidInput)?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    let fd = netns.as_raw_fd();
    // SAFETY: one system call on a descriptor opened before the fork.
    unsafe {
        cmd.pre_exec(move || check(libc::setns(fd, libc::CLONE_NEWNET).into()));
    }
    let status = cmd.spawn()?.wait().await?;
    drop(netns);
    Ok(exit_status(status))
}

/// Opens the namespace file at `path` (close-on-exec, no symbolic links).
pub fn open_ns(path: &Path) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    Ok(f.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_start_time_reads() {
        let (start, zombie) = proc_start(std::process::id()).unwrap();
        assert!(start > 0 && !zombie);
        assert!(alive(std::process::id(), start));
        assert!(!alive(std::process::id(), start + 1));
    }

    #[test]
    fn the_budget_is_shared_and_given_back() {
        let b = OutputBudget::new(10);
        assert_eq!(b.take(6), 6);
        assert_eq!(b.take(6), 4);
        assert_eq!(b.take(1), 0);
        b.give_back(5);
        assert_eq!(b.take(9), 5);
    }
}
