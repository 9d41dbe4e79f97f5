//! Named network namespaces, made and entered without forking.
//!
//! `setns(2)` and `unshare(2)` change the namespace of the calling *thread*,
//! so they run only on dedicated OS threads ([`NsThread`], a few of them in
//! an [`NsPool`]), never on a tokio worker (whose other tasks would silently
//! start working in the wrong namespace).
//! Such a thread enters a namespace just long enough to open a socket there: a
//! socket stays bound to the namespace it was created in, so the rest of the
//! work runs anywhere.
//!
//! Names live under `/run/netns` as bind mounts of the namespace file, the
//! same convention as iproute2, so `ip netns exec` sees what netwasm builds.

use std::cell::Cell;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;

use tokio::sync::oneshot;

use crate::vocab::{NsIdent, Removal};

pub const NETNS_RUN_DIR: &str = "/run/netns";

/// `ioctl(NS_GET_NSTYPE)`: the kind of namespace a namespace file is.
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
/// `ioctl(NS_GET_ID)` (Linux 6.18): the namespace's 64-bit id, never reused.
const NS_GET_ID: libc::c_ulong = 0x8008_b70d;
/// `getsockopt(SO_NETNS_COOKIE)` (Linux 5.14): the same kind of id for
/// the network namespace of a socket, where `NS_GET_ID` is missing.
const SO_NETNS_COOKIE: libc::c_int = 71;

type Job = Box<dyn FnOnce(&NsThreadState) + Send>;

/// A handle to one dedicated namespace thread. Cheap to clone.
#[derive(Clone)]
pub struct NsThread {
    jobs: mpsc::Sender<Job>,
}

/// What the namespace thread owns: the namespace it must return to after
/// every job.
pub struct NsThreadState {
    home: File,
    /// Whether this thread knows `/run/netns` to be a shared mount point.
    run_dir_seen: Cell<bool>,
    /// Whether any thread of the pool made it one. Once per process is
    /// enough; doing it per namespace would cost a recursive propagation
    /// change over every namespace mounted there, quadratic in a big lab.
    /// A lock, not a flag: two threads making it at once could stack two
    /// bind mounts of the directory onto itself.
    run_dir_ready: Arc<Mutex<bool>>,
}

/// A few dedicated namespace threads, so that namespaces can be created
/// concurrently. Every job about a given name goes to the same thread
/// ([`NsPool::for_name`]), so jobs on one name run in the order they were
/// sent (a removal after a creation still in flight, say).
///
/// A thread starts on its first job: commands that never enter a namespace
/// (`netwasm down` only unmounts names) pay for no threads at all.
pub struct NsPool {
    slots: Vec<OnceLock<NsThread>>,
    /// Shared by the threads: whether `/run/netns` is a shared mount yet.
    run_dir_ready: Arc<Mutex<bool>>,
}

impl NsPool {
    /// A pool of `size` threads (at least one), none started yet.
    pub fn new(size: usize) -> Self {
        Self {
            slots: (0..size.max(1)).map(|_| OnceLock::new()).collect(),
            run_dir_ready: Arc::new(Mutex::new(false)),
        }
    }

    /// The pool size for this machine: twice the cores, at most 4.
    pub fn default_size() -> usize {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        (2 * cores).min(4)
    }

    /// The number of threads.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the pool has no threads (never: it has at least one).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The index of the thread that handles namespace `name`.
    pub fn index_for(&self, name: &str) -> usize {
        // FNV-1a: stable and cheap; spreads `PREFIX{i}` names evenly.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        (h % self.slots.len() as u64) as usize
    }

    /// The thread at `index` (modulo the pool size), started if need be.
    pub fn thread(&self, index: usize) -> io::Result<&NsThread> {
        let slot = &self.slots[index % self.slots.len()];
        if let Some(t) = slot.get() {
            return Ok(t);
        }
        let spawned = NsThread::spawn_shared(self.run_dir_ready.clone())?;
        // Two callers may race to start a slot: the loser's thread sees its
        // channel close and ends.
        Ok(slot.get_or_init(|| spawned))
    }

    /// The thread that handles namespace `name`, started if need be.
    pub fn for_name(&self, name: &str) -> io::Result<&NsThread> {
        self.thread(self.index_for(name))
    }

    /// The thread at `index` if it has started.
    pub fn started(&self, index: usize) -> Option<&NsThread> {
        self.slots.get(index).and_then(OnceLock::get)
    }

    /// The thread that handles namespace `name` if it has started, that is
    /// if this process ever sent it a job.
    pub fn started_for_name(&self, name: &str) -> Option<&NsThread> {
        self.slots[self.index_for(name)].get()
    }

    /// The first thread, for work not tied to a name.
    pub fn first(&self) -> io::Result<&NsThread> {
        self.thread(0)
    }
}

/// A freshly made or opened namespace: a file descriptor that keeps it
/// alive and identifies it (for `IFLA_NET_NS_FD`), a route netlink socket
/// opened inside it, and who it is.
pub struct NsOpened {
    pub fd: OwnedFd,
    pub netlink: OwnedFd,
    pub ident: NsIdent,
}

impl NsThread {
    /// Starts the thread, sharing `run_dir_ready` with the rest of a pool.
    /// It remembers the namespace it starts in as "home": callers are tokio
    /// workers or the main thread, which never leave the process's namespace.
    fn spawn_shared(run_dir_ready: Arc<Mutex<bool>>) -> io::Result<Self> {
        let home = File::open("/proc/thread-self/ns/net")?;
        let (tx, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("netwasm-netns".into())
            .spawn(move || {
                let state = NsThreadState {
                    home,
                    run_dir_seen: Cell::new(false),
                    run_dir_ready,
                };
                while let Ok(job) = rx.recv() {
                    job(&state);
                }
            })?;
        Ok(Self { jobs: tx })
    }

    /// Runs `f` on the namespace thread and waits for its result.
    pub async fn run<R, F>(&self, f: F) -> io::Result<R>
    where
        F: FnOnce(&NsThreadState) -> io::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |state| {
                let _ = tx.send(f(state));
            }))
            .map_err(|_| io::Error::other("the namespace thread has stopped"))?;
        rx.await
            .map_err(|_| io::Error::other("the namespace thread has stopped"))?
    }
}

impl NsThreadState {
    /// Makes a new namespace on this thread, opens it and a netlink socket
    /// inside it, and returns home. It has no name: it lives as long as the
    /// descriptor does, until [`NsThreadState::mount`] names it.
    pub fn make(&self) -> io::Result<NsOpened> {
        self.inside_new(|| {
            let fd = open_fd(Path::new("/proc/thread-self/ns/net"))?;
            let netlink = route_socket()?;
            let ident = ident(&fd, Some(&netlink))?;
            Ok(NsOpened { fd, netlink, ident })
        })
    }

    /// Names the namespace `fd` as `name`: claims `/run/netns/NAME` and
    /// bind-mounts the namespace there. No namespace switch is needed (the
    /// mount's source is the descriptor); it runs on the name's thread so
    /// that it is ordered with every other job about the name.
    pub fn mount(&self, fd: &OwnedFd, ident: &NsIdent, name: &str) -> io::Result<()> {
        if !self.run_dir_seen.get() {
            let mut ready = self.run_dir_ready.lock().unwrap_or_else(|e| e.into_inner());
            if !*ready {
                ensure_run_dir()?;
                *ready = true;
            }
            self.run_dir_seen.set(true);
        }
        let path = ns_path(name);
        let text = claim_text(ident);
        if let Err(e) = claim(&path, &text) {
            if e.kind() != io::ErrorKind::NotFound {
                return Err(e);
            }
            // Someone removed /run/netns since we made it: make it again.
            {
                let _ready = self.run_dir_ready.lock().unwrap_or_else(|e| e.into_inner());
                ensure_run_dir()?;
            }
            claim(&path, &text)?;
        }
        let source = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        let result = bind_mount(&source, &path);
        if result.is_err() {
            // Ours: the claim made it, and nothing is mounted on it.
            let _ = std::fs::remove_file(&path);
        }
        result
    }

    /// Opens the existing namespace at `path` and a netlink socket inside it.
    pub fn open(&self, path: &Path) -> io::Result<NsOpened> {
        let fd = open_fd(path)?;
        check_netns(&fd)?;
        let netlink = self.inside(&fd, route_socket)?;
        let ident = ident(&fd, Some(&netlink))?;
        Ok(NsOpened { fd, netlink, ident })
    }

    /// Opens a socket of the given type inside the namespace `fd`.
    pub fn socket_in(
        &self,
        fd: &OwnedFd,
        domain: i32,
        ty: i32,
        protocol: i32,
    ) -> io::Result<OwnedFd> {
        self.inside(fd, || {
            // SAFETY: plain socket(2) call; the result is checked below.
            let raw = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
            if raw < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `raw` is a fresh descriptor this function owns.
            Ok(unsafe { OwnedFd::from_raw_fd(raw) })
        })
    }

    /// Writes `value` to the sysctl at `path` (under /proc/sys/net) as seen
    /// from inside namespace `fd`: /proc/sys/net shows the opening thread's
    /// namespace.
    pub fn sysctl_in(&self, fd: &OwnedFd, path: &str, value: &str) -> io::Result<()> {
        self.inside(fd, || std::fs::write(path, value))
    }

    /// Runs `f` inside namespace `fd`, then returns home.
    fn inside<R>(&self, fd: &OwnedFd, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        setns(fd.as_raw_fd())?;
        let result = f();
        self.go_home();
        result
    }

    /// Runs `f` inside a brand-new namespace, then returns home.
    fn inside_new<R>(&self, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        // SAFETY: unshare(2) affects only this thread's namespaces.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let result = f();
        self.go_home();
        result
    }

    fn go_home(&self) {
        // Failing to return would leave every later job of this thread in the
        // wrong namespace; nothing sane can continue from there.
        if let Err(e) = setns(self.home.as_raw_fd()) {
            eprintln!("netwasm: fatal: cannot return to the home network namespace: {e}");
            std::process::abort();
        }
    }
}

/// Removes the name `name` if it names the network namespace `expect`
/// (any network namespace when `expect` is none), but never a name of
/// `home`, the namespace netwasm runs in. The kernel destroys the namespace
/// once nothing else (a socket, a process, a file descriptor) holds it.
///
/// The name is opened (not following symbolic links) and the namespace
/// behind it checked; the unmount then goes through that descriptor, so it
/// removes the very mount that was checked even if the name changed hands
/// in between. Only the file that mount covered is then unlinked, and only
/// when nothing else is mounted on the name by then.
pub fn remove(name: &str, expect: Option<&NsIdent>, home: &NsIdent) -> io::Result<Removal> {
    let path = ns_path(name);
    let fd = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
    {
        Ok(f) => OwnedFd::from(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Removal::Gone),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(Removal::NotOurs(
                "it is a symbolic link, not a namespace".into(),
            ));
        }
        Err(e) => return Err(e),
    };
    if let Err(e) = check_netns(&fd) {
        // The claim of a creation killed before its mount: the namespace
        // never had this name, and the file is the lab's to remove.
        if let Some(expect) = expect
            && is_claim_of(&fd, expect)
        {
            drop(fd);
            std::fs::remove_file(&path)?;
            return Ok(Removal::Gone);
        }
        return Ok(Removal::NotOurs(e.to_string()));
    }
    let found = ident(&fd, None)?;
    if found.same(home) {
        return Ok(Removal::NotOurs(
            "it names the namespace netwasm runs in (the root namespace)".into(),
        ));
    }
    if let Some(expect) = expect
        && !found.same(expect)
    {
        return Ok(Removal::NotOurs(format!(
            "it names another namespace now ({found}, not {expect})"
        )));
    }
    let via = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let c = cstr(&via)?;
    // SAFETY: valid C string. MNT_DETACH so a busy mount does not block us.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(io::Error::last_os_error());
    }
    drop(fd);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(Removal::Removed),
        // Someone else unlinked it meanwhile: the namespace is unnamed all
        // the same.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Removal::Removed),
        Err(e) => Err(e),
    }
}

/// Names the network namespace at `path`, a file outside `/run/netns` (a
/// `/proc/PID/ns/net`, a runtime's own mount), `PREFIX` + its inode in
/// hex under `/run/netns`, for code that works on names. The name is the
/// namespace's own, so naming one namespace twice gives one name and two
/// namespaces never share one. Returns the name and the namespace's
/// identity; a name already there is taken if it names that namespace
/// (left by a call that was killed), refused otherwise. [`remove`] with
/// the identity takes it away.
pub fn alias(path: &Path, prefix: &str) -> io::Result<(String, NsIdent)> {
    let fd = open_fd(path)?;
    check_netns(&fd)?;
    let id = ident(&fd, None)?;
    let name = format!("{prefix}{:x}", id.ino);
    let target = ns_path(&name);
    ensure_run_dir()?;
    match claim(&target, &claim_text(&id)) {
        Ok(()) => {
            let source = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            if let Err(e) = bind_mount(&source, &target) {
                let _ = std::fs::remove_file(&target);
                return Err(e);
            }
            Ok((name, id))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let there = open_fd(&target)?;
            match check_netns(&there).and_then(|()| ident(&there, None)) {
                Ok(found) if found.same(&id) => Ok((name, id)),
                _ => Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is taken by something else", target.display()),
                )),
            }
        }
        Err(e) => Err(e),
    }
}

/// Removes several names as [`remove`] does, on up to `width` threads at
/// once, and says how each went, in order. Each unmount waits in the kernel
/// for an RCU grace period (0.1 to 0.4 ms here), and waits on several
/// threads overlap. The threads only unmount and unlink: they never change
/// namespace, so they need not be namespace threads.
pub fn remove_many(
    names: &[(String, Option<NsIdent>)],
    width: usize,
    home: &NsIdent,
) -> Vec<io::Result<Removal>> {
    let one_by_one = |names: &[(String, Option<NsIdent>)]| {
        names
            .iter()
            .map(|(n, id)| remove(n, id.as_ref(), home))
            .collect::<Vec<_>>()
    };
    let width = width.clamp(1, names.len().max(1));
    if width == 1 {
        return one_by_one(names);
    }
    let chunks: Vec<&[(String, Option<NsIdent>)]> =
        names.chunks(names.len().div_ceil(width)).collect();
    thread::scope(|s| {
        let running: Vec<_> = chunks
            .iter()
            .map(|&chunk| {
                let spawned = thread::Builder::new()
                    .name("netwasm-unmount".into())
                    .spawn_scoped(s, move || one_by_one(chunk));
                (chunk, spawned)
            })
            .collect();
        running
            .into_iter()
            .flat_map(|(chunk, spawned)| match spawned {
                Ok(handle) => handle.join().unwrap_or_else(|_| {
                    chunk
                        .iter()
                        .map(|_| Err(io::Error::other("an unmount thread panicked")))
                        .collect()
                }),
                // No thread to be had: do this share here.
                Err(_) => one_by_one(chunk),
            })
            .collect()
    })
}

/// Whether a namespace called `name` exists.
pub fn exists(name: &str) -> bool {
    ns_path(name).exists()
}

/// The names of all namespaces under `/run/netns`, sorted.
pub fn list() -> io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(NETNS_RUN_DIR) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        if let Some(name) = entry?.file_name().to_str() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

pub fn ns_path(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

/// Makes `/run/netns` exist and be a shared mount, as iproute2 does, so that
/// namespace mounts made here propagate to other mount namespaces.
fn ensure_run_dir() -> io::Result<()> {
    std::fs::create_dir_all(NETNS_RUN_DIR)?;
    let dir = cstr(Path::new(NETNS_RUN_DIR))?;
    let make_shared = || {
        // SAFETY: valid C strings; mount(2) only changes propagation here.
        unsafe {
            libc::mount(
                c"none".as_ptr(),
                dir.as_ptr(),
                std::ptr::null(),
                libc::MS_SHARED | libc::MS_REC,
                std::ptr::null(),
            )
        }
    };
    if make_shared() == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EINVAL) {
        return Err(err);
    }
    // EINVAL: not a mount point yet. Bind it onto itself, then share it.
    bind_mount(Path::new(NETNS_RUN_DIR), Path::new(NETNS_RUN_DIR))?;
    if make_shared() != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn bind_mount(from: &Path, to: &Path) -> io::Result<()> {
    let from = cstr(from)?;
    let to = cstr(to)?;
    // SAFETY: valid C strings; a plain bind mount.
    let rc = unsafe {
        libc::mount(
            from.as_ptr(),
            to.as_ptr(),
            c"none".as_ptr(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn open_fd(path: &Path) -> io::Result<OwnedFd> {
    Ok(File::open(path)?.into())
}

fn setns(fd: i32) -> io::Result<()> {
    // SAFETY: setns(2) on a namespace descriptor; affects only this thread.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn route_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked below.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::NETLINK_ROUTE,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor this function owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // Extended ACKs: a refusal then carries the kernel's own words ("Nexthop
    // has invalid gateway") beside its errno (see `request`). Best effort: a
    // kernel without them (before 4.12) still gives the errno.
    let on: libc::c_int = 1;
    // SAFETY: setsockopt(2) on our descriptor with a c_int of its size.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_NETLINK,
            libc::NETLINK_EXT_ACK,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    Ok(fd)
}

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

/// Claims the name `path` for a namespace: makes the file the namespace is
/// then mounted on, holding `text`, or fails (EEXIST) if the name is taken
/// — one atomic step, so two creators racing for one name cannot both win.
///
/// The file is written before it has its name (`O_TMPFILE`, then `linkat`):
/// a process killed at any instant leaves either no name or a claim that
/// says whose it is, which `remove` recognises. Where the file system has
/// no `O_TMPFILE`, the file is made empty and written at once.
fn claim(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new(NETNS_RUN_DIR));
    let unnamed = OpenOptions::new()
        .write(true)
        .mode(0o644)
        .custom_flags(libc::O_TMPFILE)
        .open(dir);
    match unnamed {
        Ok(mut file) => {
            file.write_all(text.as_bytes())?;
            let from = cstr(Path::new(&format!("/proc/self/fd/{}", file.as_raw_fd())))?;
            let to = cstr(path)?;
            // SAFETY: valid C strings; the magic link names the open file.
            let rc = unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    from.as_ptr(),
                    libc::AT_FDCWD,
                    to.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
            ) =>
        {
            let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
            file.write_all(text.as_bytes())
        }
        Err(e) => Err(e),
    }
}

/// What a name's claim file holds until the namespace is mounted over it.
fn claim_text(ident: &NsIdent) -> String {
    format!("netwasm claim {} {} {}\n", ident.dev, ident.ino, ident.id)
}

/// Whether `fd` is a claim file left for namespace `ident`: a regular file
/// holding exactly [`claim_text`].
fn is_claim_of(fd: &OwnedFd, ident: &NsIdent) -> bool {
    use std::io::Read;
    let want = claim_text(ident);
    let Ok(file) = fd.try_clone().map(File::from) else {
        return false;
    };
    let Ok(meta) = file.metadata() else {
        return false;
    };
    if !meta.is_file() || meta.len() != want.len() as u64 {
        return false;
    }
    let mut got = String::new();
    file.take(want.len() as u64)
        .read_to_string(&mut got)
        .is_ok()
        && got == want
}

/// The identity of the namespace this process runs in.
pub fn home() -> io::Result<NsIdent> {
    let fd = open_fd(Path::new("/proc/self/ns/net"))?;
    ident(&fd, None)
}

/// Who the namespace `fd` is. `socket`, a socket inside it, supplies the
/// id where the kernel has no `NS_GET_ID`.
pub fn ident(fd: &OwnedFd, socket: Option<&OwnedFd>) -> io::Result<NsIdent> {
    // SAFETY: fstat fills the struct given.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut id: u64 = 0;
    // SAFETY: NS_GET_ID writes one u64 to the pointer given.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_ID, &mut id as *mut u64) };
    if rc != 0 {
        id = 0;
        if let Some(socket) = socket {
            let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
            // SAFETY: a u64 buffer of the length given.
            let rc = unsafe {
                libc::getsockopt(
                    socket.as_raw_fd(),
                    libc::SOL_SOCKET,
                    SO_NETNS_COOKIE,
                    (&mut id as *mut u64).cast(),
                    &mut len,
                )
            };
            if rc != 0 {
                id = 0;
            }
        }
    }
    Ok(NsIdent {
        dev: st.st_dev,
        ino: st.st_ino,
        id,
    })
}

/// Checks that `fd` is a network namespace file (nsfs, of type
/// CLONE_NEWNET): a name under `/run/netns` may hold anything.
fn check_netns(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: NS_GET_NSTYPE takes no argument. Only nsfs answers it: any
    // other file refuses the ioctl (ENOTTY), a plain file left by a killed
    // `mount` included.
    let kind = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
    if kind < 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a namespace (no namespace is mounted there)",
        ));
    }
    if kind != libc::CLONE_NEWNET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a network namespace",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_threads_start_on_their_first_job() {
        let pool = NsPool::new(3);
        assert_eq!(pool.len(), 3);
        assert!((0..10).all(|i| pool.started_for_name(&format!("n{i}")).is_none()));
        pool.for_name("n4").unwrap();
        assert!(pool.started_for_name("n4").is_some());
        let started = (0..3).filter(|&i| pool.slots[i].get().is_some()).count();
        assert_eq!(started, 1, "only n4's thread started");
    }

    #[test]
    fn remove_many_answers_once_per_name() {
        // Names that do not exist: every answer is "not found", one per
        // name, whatever the width.
        let names: Vec<(String, Option<NsIdent>)> = (0..37)
            .map(|i| (format!("netwasm-test-absent-{i}"), None))
            .collect();
        let home = NsIdent {
            dev: 0,
            ino: 0,
            id: 0,
        };
        for width in [1, 4, 64] {
            let results = remove_many(&names, width, &home);
            assert_eq!(results.len(), names.len());
            assert!(results.iter().all(|r| matches!(r, Ok(Removal::Gone))));
        }
    }
}
