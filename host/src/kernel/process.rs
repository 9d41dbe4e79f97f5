//! Programs in namespaces: started confined (a guest's) or as they are (the
//! operator's `netwasm exec`), held in cgroups, and stopped.
//!
//! A guest's program is started by fork and exec from a tokio worker; the
//! child, before it execs, does what confines it, in this order: joins its
//! cgroup (so that nothing it ever starts escapes it), enters the
//! namespace (`setns` on the namespace's descriptor: never by name, which
//! could be remounted), starts a session, sets its resource limits and
//! ignores SIGXFSZ (below), drops every capability from the bounding set
//! while it still may, clears the ambient set, becomes the
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
//!
//! A program's stdout and stderr are files in its lab's state directory,
//! not pipes: a lab that stays up keeps its programs running after netwasm
//! exits, and a pipe no one reads any more would kill them (SIGPIPE) on
//! their next write. What bounds the files then is the program's own
//! `RLIMIT_FSIZE`, with SIGXFSZ ignored so that a write past it fails
//! (`EFBIG`) instead of killing the program. `RLIMIT_NPROC`, and `pids.max`
//! where the hierarchy has the pids controller, bound what it forks.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

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

    /// Makes the cgroup (and `netwasm/LAB` above it). Where the hierarchy
    /// offers the pids controller (the root cgroup enables it for its
    /// children, as systemd does on a unified host), it is enabled down to
    /// the new cgroup, whose `pids.max` is set to `max_tasks`; netwasm
    /// never enables a controller in the root cgroup itself, which belongs
    /// to whoever manages the machine.
    pub fn create(rel: &str, max_tasks: u64) -> io::Result<Self> {
        let root = cgroup_root()?;
        let cg = Self {
            rel: rel.to_string(),
            dir: root.join(rel),
        };
        // Another run's `remove` (of this lab or another) may delete an
        // empty `netwasm/LAB` or `netwasm` between our making it and
        // making what goes in it: once more, then it holds our cgroup.
        match cg.make(&root, max_tasks) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => cg.make(&root, max_tasks)?,
            r => r?,
        }
        Ok(cg)
    }

    fn make(&self, root: &Path, max_tasks: u64) -> io::Result<()> {
        let cg = self;
        let lab = cg.dir.parent().expect("netwasm/LAB/NAME has a parent");
        std::fs::create_dir_all(lab)?;
        let pids = pids_offered(root);
        if pids {
            for dir in [lab.parent().expect("netwasm/LAB has a parent"), lab] {
                let control = dir.join("cgroup.subtree_control");
                std::fs::write(&control, b"+pids").map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("enable pids in {}: {e}", control.display()),
                    )
                })?;
            }
        }
        std::fs::create_dir(&cg.dir)?;
        if pids {
            let max = cg.dir.join("pids.max");
            if let Err(e) = std::fs::write(&max, max_tasks.to_string()) {
                let _ = std::fs::remove_dir(&cg.dir);
                return Err(io::Error::new(
                    e.kind(),
                    format!("set {} to {max_tasks}: {e}", max.display()),
                ));
            }
        }
        Ok(())
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
        // Only the members of netwasm's own cgroup are signalled, never a
        // pid the journal names: a journal can be forged, and whoever reads
        // /proc/PID/stat can give any process's start time. A program
        // cannot leave its cgroup (the cgroup files are root's), so a
        // cgroup that is gone means nothing of the program is left.
        if s.cgroup.exists() {
            for pid in s.cgroup.members() {
                running = true;
                // SAFETY: kill has no memory preconditions.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        was_running.push(running);
    }
    let empty = |s: &Stop| !s.cgroup.exists() || s.cgroup.members().is_empty();
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline && !stops.iter().all(empty) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for s in stops.iter().filter(|s| !empty(s)) {
        kill_cgroup(&s.cgroup);
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

/// Whether the root cgroup at `root` enables the pids controller for its
/// children (`cgroup.subtree_control`). On a hybrid host the controller
/// lives in the v1 hierarchy and the v2 one does not offer it.
pub fn pids_offered(root: &Path) -> bool {
    std::fs::read_to_string(root.join("cgroup.subtree_control"))
        .is_ok_and(|s| lists_controller(&s, "pids"))
}

fn lists_controller(list: &str, name: &str) -> bool {
    list.split_whitespace().any(|c| c == name)
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

/// keyctl(2): replace the caller's session keyring with a new, anonymous one.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;

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
    /// Its stdout and stderr: files opened for appending.
    pub stdout: File,
    pub stderr: File,
    /// `RLIMIT_FSIZE`: the most a file it writes may hold, its logs above
    /// all (`[quotas] program-log`).
    pub file_size: u64,
    /// `RLIMIT_NPROC` (and `pids.max`): `[exec] max-tasks`.
    pub max_tasks: u64,
}

/// The host's read end of a program's log file, and how far it has read.
#[derive(Debug)]
pub struct Log {
    file: File,
    offset: u64,
}

impl Log {
    /// A description of its own for reading `writer`'s file: reopened
    /// through `/proc/self/fd`, so the very file the program writes, never
    /// whatever holds its name by now.
    fn reader_of(writer: &File) -> io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(format!("/proc/self/fd/{}", writer.as_raw_fd()))?;
        Ok(Self { file, offset: 0 })
    }

    /// Reads up to `max` bytes written since the last read; says whether
    /// that reached what the file held when the read began.
    pub fn read_new(&mut self, max: u64) -> io::Result<(Vec<u8>, bool)> {
        let len = self.file.metadata()?.len();
        // The program may truncate its own log (its descriptor is
        // writable): what it writes next starts over from the beginning.
        if len < self.offset {
            self.offset = 0;
        }
        let want = (len - self.offset).min(max);
        let mut data = vec![0u8; want as usize];
        let mut got = 0;
        while got < data.len() {
            match self
                .file
                .read_at(&mut data[got..], self.offset + got as u64)
            {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        data.truncate(got);
        self.offset += got as u64;
        Ok((data, self.offset >= len))
    }
}

/// A confined program, started.
pub struct Running {
    pub pid: u32,
    pub start: u64,
    child: tokio::process::Child,
    status: Option<ExitStatus>,
    pub stdout: Log,
    pub stderr: Log,
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

    /// Whether the program has ended (reaping it, its status kept).
    pub fn ended(&mut self) -> io::Result<bool> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?.map(exit_status);
        }
        Ok(self.status.is_some())
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
/// inside `cgroup`.
pub fn spawn(netns: OwnedFd, cgroup: &Cgroup, spec: Spawn) -> io::Result<Running> {
    use std::process::Stdio;
    let stdout = Log::reader_of(&spec.stdout)?;
    let stderr = Log::reader_of(&spec.stderr)?;
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
        .stdout(Stdio::from(spec.stdout))
        .stderr(Stdio::from(spec.stderr));
    let (ns_fd, procs_fd) = (netns.as_raw_fd(), procs.as_raw_fd());
    let (uid, gid) = (spec.uid, spec.gid);
    let file_size = libc::rlimit {
        rlim_cur: spec.file_size,
        rlim_max: spec.file_size,
    };
    let tasks = libc::rlimit {
        rlim_cur: spec.max_tasks,
        rlim_max: spec.max_tasks,
    };
    // SAFETY: an all-zero sigaction is a valid value (no flags, empty mask).
    let mut ignore: libc::sigaction = unsafe { std::mem::zeroed() };
    ignore.sa_sigaction = libc::SIG_IGN;
    // SAFETY: the closure runs in the forked child before exec and makes
    // only async-signal-safe system calls on values prepared before the
    // fork; it allocates nothing (an error's errno is carried back by std).
    unsafe {
        cmd.pre_exec(move || {
            check(libc::write(procs_fd, b"0".as_ptr().cast(), 1) as libc::c_long)?;
            check(libc::setns(ns_fd, libc::CLONE_NEWNET).into())?;
            check(libc::setsid().into())?;
            // Both limits hard as well as soft, so the program cannot raise
            // them; an ignored signal stays ignored across exec.
            check(libc::setrlimit(libc::RLIMIT_FSIZE, &file_size).into())?;
            check(libc::setrlimit(libc::RLIMIT_NPROC, &tasks).into())?;
            check(libc::sigaction(libc::SIGXFSZ, &ignore, std::ptr::null_mut()).into())?;
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
            // A session keyring of its own, as runc gives containers: the
            // inherited one is netwasm's (root's), and possession, not the
            // uid, is what keyring permissions ask. ENOSYS: a kernel without
            // keys has nothing to share.
            let joined = libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            );
            if joined < 0 && *libc::__errno_location() != libc::ENOSYS {
                return Err(io::Error::last_os_error());
            }
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
    // Past the fork the program runs: if it cannot be named, the caller
    // journals that it never started, so nothing of it may be left.
    let (pid, start) = or_kill(cgroup, identify(&child))?;
    if let (Some(bytes), Some(mut stdin)) = (spec.stdin, child.stdin.take()) {
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
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

/// The pid and start time of a child just forked.
fn identify(child: &tokio::process::Child) -> io::Result<(u32, u64)> {
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the program ended unseen"))?;
    // Not yet reaped, so /proc/PID is this child's.
    Ok((pid, proc_start(pid)?.0))
}

/// `result`, after killing everything in `cgroup` if it is an error: a
/// program started but not recorded must not run on untracked.
fn or_kill<T>(cgroup: &Cgroup, result: io::Result<T>) -> io::Result<T> {
    if result.is_err() {
        kill_cgroup(cgroup);
    }
    result
}

/// The name of a new program's cgroup in lab `lab`: unique on this
/// machine (this process's pid and start time, and its own count), so
/// that no two runs share one, nor the logs named after it, even when a
/// later run of the lab gets an earlier one's pid.
pub fn cgroup_name(lab: &str, n: u64) -> String {
    let pid = std::process::id();
    let start = proc_start(pid).map_or(0, |(t, _)| t);
    format!("{CGROUP_DIR}/{lab}/{pid}-{start}-{n}")
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
    use std::io::Write;

    #[test]
    fn our_own_start_time_reads() {
        let (start, zombie) = proc_start(std::process::id()).unwrap();
        assert!(start > 0 && !zombie);
        assert!(alive(std::process::id(), start));
        assert!(!alive(std::process::id(), start + 1));
    }

    #[test]
    fn a_log_reads_on_from_where_it_stopped() {
        let path = std::env::temp_dir().join(format!(
            "netwasm-log-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let writer = std::fs::OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .unwrap();
        let _ = std::fs::remove_file(&path);
        let mut log = Log::reader_of(&writer).unwrap();
        assert_eq!(log.read_new(4).unwrap(), (vec![], true));
        (&writer).write_all(b"hello world").unwrap();
        assert_eq!(log.read_new(5).unwrap(), (b"hello".to_vec(), false));
        assert_eq!(log.read_new(100).unwrap(), (b" world".to_vec(), true));
        writer.set_len(0).unwrap();
        (&writer).write_all(b"again").unwrap();
        assert_eq!(log.read_new(100).unwrap(), (b"again".to_vec(), true));
    }

    #[test]
    fn a_program_that_cannot_be_named_is_killed() {
        // A directory standing in for the cgroup: what `or_kill` writes
        // to `cgroup.kill` is what the kernel would act on.
        let dir = std::env::temp_dir().join(format!("netwasm-orkill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cg = Cgroup {
            rel: "netwasm/t/1-1-1".into(),
            dir: dir.clone(),
        };
        assert_eq!(or_kill(&cg, Ok(7)).unwrap(), 7);
        assert!(!dir.join("cgroup.kill").exists());
        let e = or_kill::<()>(&cg, Err(io::Error::other("no /proc/PID/stat")));
        assert!(e.is_err());
        assert_eq!(std::fs::read(dir.join("cgroup.kill")).unwrap(), b"1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn controllers_are_read_by_name() {
        assert!(lists_controller("cpuset cpu io memory pids\n", "pids"));
        assert!(!lists_controller("hugetlb\n", "pids"));
        assert!(!lists_controller("", "pids"));
    }
}
