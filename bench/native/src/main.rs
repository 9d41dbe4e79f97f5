//! The native lower bound of the lab-setup benchmark (see `bench/README.md`):
//! the same lab as the netwasm guest, built by a plain Rust program on
//! rtnetlink, with nothing between it and the kernel.
//!
//! - Namespaces are made without forking: `unshare(CLONE_NEWNET)` on one
//!   dedicated thread, a bind mount of the thread's namespace onto
//!   `/run/netns/NAME` (the iproute2 convention), a route netlink socket
//!   opened inside, and `setns` back home.
//! - Each link is created directly in its namespace: RTM_NEWLINK goes to the
//!   parent's namespace and carries IFLA_NET_NS_FD of the unit's namespace.
//! - One netlink connection per namespace; no other threads or switches.
//!
//! ```text
//! netwasm-bench-native up PHY_NS PARENT PREFIX COUNT NET [--inflight K]
//! netwasm-bench-native down PREFIX COUNT
//! ```
//!
//! Unit `i` is namespace `PREFIX{i}` with macvlan `eth0` (bridge mode, on
//! PARENT in PHY_NS), `lo` and `eth0` up, `NET.{i/250}.{i%250+2}/24` and a
//! default route via `NET.{i/250}.1`; exactly what `bench/guest` builds.
//! `--inflight K` keeps K units in progress at once (default 1: sequential,
//! the fair baseline for a sequential guest).
//!
//! `netwasm-bench-native measure OUT -- CMD...` runs CMD and writes its wall
//! time, exit code and peak RSS to OUT as JSON: the benchmark runs every
//! variant through it. The peak RSS a parent reads with `wait4` includes
//! the memory of the process image the child replaced by `exec`, so it is
//! only the command's own when the parent is as small as this program.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::mpsc;

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use netlink_packet_route::link::MacVlanMode;
use netlink_sys::TokioSocket;
use rtnetlink::{Handle, LinkMacVlan, LinkUnspec, RouteMessageBuilder};
use tokio::sync::oneshot;

const RUN_DIR: &str = "/run/netns";
/// The loopback device is index 1 in every network namespace.
const LOOPBACK_INDEX: u32 = 1;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["up", phy, parent, prefix, count, net, rest @ ..] => {
            let inflight = match rest {
                [] => 1,
                ["--inflight", k] => k.parse().context("--inflight K")?,
                _ => bail!("usage: up PHY_NS PARENT PREFIX COUNT NET [--inflight K]"),
            };
            let count: u32 = count.parse().context("COUNT")?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(up(phy, parent, prefix, count, net, inflight))
        }
        ["down", prefix, count] => {
            let count: u32 = count.parse().context("COUNT")?;
            for i in 0..count {
                remove(&format!("{RUN_DIR}/{prefix}{i}"))?;
            }
            Ok(())
        }
        ["measure", out, "--", cmd @ ..] if !cmd.is_empty() => measure(out, cmd),
        _ => bail!(
            "usage: up PHY_NS PARENT PREFIX COUNT NET [--inflight K] | down PREFIX COUNT | measure OUT -- CMD..."
        ),
    }
}

async fn up(
    phy: &str,
    parent: &str,
    prefix: &str,
    count: u32,
    net: &str,
    inflight: usize,
) -> anyhow::Result<()> {
    let thread = NsThread::spawn()?;
    let phy_path = format!("{RUN_DIR}/{phy}");
    let (_phy_fd, phy_sock) = thread.run(move |t| t.open(&phy_path)).await?;
    let phy = connect(phy_sock);
    let parent_index = link_index(&phy, parent)
        .await
        .with_context(|| format!("{parent} in {phy:?}"))?;
    let net: Vec<u8> = net
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("NET: like 10.231")?;
    let [a, b] = net[..] else {
        bail!("NET: two octets, like 10.231")
    };

    let unit = |i: u32| {
        let thread = thread.clone();
        let phy = phy.clone();
        let name = format!("{prefix}{i}");
        let (subnet, host) = ((i / 250) as u8, (i % 250 + 2) as u8);
        async move {
            let path = format!("{RUN_DIR}/{name}");
            let (fd, sock) = thread
                .run(move |t| t.create(&path))
                .await
                .with_context(|| format!("create {name}"))?;
            let ns = connect(sock);
            phy.link()
                .add(
                    LinkMacVlan::new("eth0", parent_index, MacVlanMode::Bridge)
                        .setns_by_fd(fd.as_raw_fd())
                        .build(),
                )
                .execute()
                .await
                .with_context(|| format!("macvlan in {name}"))?;
            ns.link()
                .set(LinkUnspec::new_with_index(LOOPBACK_INDEX).up().build())
                .execute()
                .await?;
            let index = link_index(&ns, "eth0").await?;
            ns.link()
                .set(LinkUnspec::new_with_index(index).up().build())
                .execute()
                .await?;
            ns.address()
                .add(index, Ipv4Addr::new(a, b, subnet, host).into(), 24)
                .execute()
                .await
                .with_context(|| format!("address in {name}"))?;
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(Ipv4Addr::new(a, b, subnet, 1))
                .build();
            ns.route()
                .add(route)
                .execute()
                .await
                .with_context(|| format!("route in {name}"))?;
            anyhow::Ok(())
        }
    };
    if inflight <= 1 {
        for i in 0..count {
            unit(i).await?;
        }
    } else {
        futures::stream::iter((0..count).map(unit))
            .buffer_unordered(inflight)
            .try_collect::<()>()
            .await?;
    }
    Ok(())
}

/// Runs `cmd` (its stdout to /dev/null), then writes `{"wall_s", "exit",
/// "maxrss_kib"}` to `out`; exits with the command's status.
fn measure(out: &str, cmd: &[&str]) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let child = std::process::Command::new(cmd[0])
        .args(&cmd[1..])
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run {}", cmd[0]))?;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into locals.
    if unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) } < 0 {
        return Err(io::Error::last_os_error().into());
    }
    let wall = start.elapsed().as_secs_f64();
    let exit = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    std::fs::write(
        out,
        format!(
            "{{\"wall_s\": {wall}, \"exit\": {exit}, \"maxrss_kib\": {}}}\n",
            usage.ru_maxrss
        ),
    )?;
    std::process::exit(exit);
}

fn connect(sock: OwnedFd) -> Handle {
    // SAFETY: a fresh route netlink socket this process owns.
    let socket = unsafe { TokioSocket::from_raw_fd(sock.into_raw_fd()) };
    let (connection, handle, _) = rtnetlink::from_socket(socket);
    tokio::spawn(connection);
    handle
}

async fn link_index(h: &Handle, name: &str) -> anyhow::Result<u32> {
    let mut links = h.link().get().match_name(name.to_string()).execute();
    match links.try_next().await? {
        Some(l) => Ok(l.header.index),
        None => bail!("no link {name}"),
    }
}

type Job = Box<dyn FnOnce(&ThreadState) + Send>;

/// The one thread that changes namespaces.
#[derive(Clone)]
struct NsThread {
    jobs: mpsc::Sender<Job>,
}

struct ThreadState {
    home: File,
}

impl NsThread {
    fn spawn() -> io::Result<Self> {
        make_run_dir()?;
        let home = File::open("/proc/thread-self/ns/net")?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::spawn(move || {
            let state = ThreadState { home };
            while let Ok(job) = rx.recv() {
                job(&state);
            }
        });
        Ok(Self { jobs: tx })
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&ThreadState) -> io::Result<R> + Send + 'static,
    ) -> io::Result<R> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |s| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| io::Error::other("namespace thread gone"))?;
        rx.await
            .map_err(|_| io::Error::other("namespace thread gone"))?
    }
}

impl ThreadState {
    /// A new namespace named `path`: its descriptor and a socket inside.
    fn create(&self, path: &str) -> io::Result<(OwnedFd, OwnedFd)> {
        OpenOptions::new().write(true).create_new(true).open(path)?;
        // SAFETY: affects this thread only.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let result = (|| {
            mount(c"/proc/thread-self/ns/net", &cstr(path), libc::MS_BIND)?;
            let fd: OwnedFd = File::open("/proc/thread-self/ns/net")?.into();
            Ok((fd, route_socket()?))
        })();
        self.home();
        if result.is_err() {
            let _ = remove(path);
        }
        result
    }

    /// An existing namespace: its descriptor and a socket inside.
    fn open(&self, path: &str) -> io::Result<(OwnedFd, OwnedFd)> {
        let fd: OwnedFd = File::open(path)?.into();
        setns(fd.as_raw_fd())?;
        let sock = route_socket();
        self.home();
        Ok((fd, sock?))
    }

    fn home(&self) {
        if setns(self.home.as_raw_fd()).is_err() {
            eprintln!("cannot return to the home namespace");
            std::process::abort();
        }
    }
}

/// `/run/netns` as iproute2 makes it: a shared mount point.
fn make_run_dir() -> io::Result<()> {
    std::fs::create_dir_all(RUN_DIR)?;
    let dir = cstr(RUN_DIR);
    if mount(c"none", &dir, libc::MS_SHARED | libc::MS_REC).is_ok() {
        return Ok(());
    }
    mount(&dir, &dir, libc::MS_BIND | libc::MS_REC)?;
    mount(c"none", &dir, libc::MS_SHARED | libc::MS_REC)
}

fn mount(from: &std::ffi::CStr, to: &std::ffi::CStr, flags: libc::c_ulong) -> io::Result<()> {
    // SAFETY: valid C strings; bind or propagation-only mounts.
    let rc = unsafe {
        libc::mount(
            from.as_ptr(),
            to.as_ptr(),
            c"none".as_ptr(),
            flags,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn remove(path: &str) -> io::Result<()> {
    // SAFETY: valid C string.
    unsafe { libc::umount2(cstr(path).as_ptr(), libc::MNT_DETACH) };
    std::fs::remove_file(path)
}

fn setns(fd: i32) -> io::Result<()> {
    // SAFETY: affects this thread only.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn route_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); checked below.
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
    // SAFETY: a fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("no NUL in paths")
}
