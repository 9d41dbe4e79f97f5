//! The kernel boundary: typed network operations, and the netlink backend
//! that performs them.
//!
//! Everything above this module (the sandbox, the WIT host, the ledger)
//! speaks these types only. Netlink messages, sockets and namespace file
//! descriptors stay below it, so a second backend — a simulated kernel for
//! tests without privileges — can implement [`Kernel`] without touching the
//! WIT layer. Errors here are plain `io::Error`s carrying the errno; the
//! caller knows which object and operation to name in the message.

pub mod icmp;
pub mod netlink;
pub mod netns;
pub mod process;
pub mod sim;

use std::io;
use std::net::IpAddr;

use async_trait::async_trait;

use crate::vocab::net::Cidr;
use crate::vocab::{
    AddrInfo, LinkChange, LinkInfo, Neighbor, NewLink, NsId, NsIdent, PingStats, Removal,
    RouteInfo, RouteSpec,
};

pub use crate::error::{Refusal, errno_of, explanation_of, refused};

/// What [`Kernel::ns_create`] calls between making a namespace and naming
/// it: journals its identity. An error stops the creation.
pub type RecordFn = Box<dyn FnOnce(NsIdent) -> io::Result<()> + Send>;

/// Which step of [`Kernel::ns_create`] failed, for the caller to know what
/// the journal holds: nothing (`Make`, `Record`), or the namespace's
/// creation, which did not take effect (`Mount`).
#[derive(Debug)]
pub enum CreateError {
    Make(io::Error),
    Record(io::Error),
    Mount(io::Error),
}

/// The typed operations netwasm performs on the kernel.
#[async_trait]
pub trait Kernel: Send + Sync {
    /// Creates and opens namespace `name` in one job on the thread that
    /// makes it: makes it with no name, calls `record` with its identity,
    /// and only then names it (see [`Kernel::ns_make`] for why). A plan of
    /// a batch journals itself in `record`, so each namespace costs one
    /// trip to a namespace thread, not two.
    async fn ns_create(&self, name: &str, record: RecordFn)
    -> Result<(NsId, NsIdent), CreateError>;
    /// Stops every namespace creation not yet under way and waits for those
    /// that are: afterwards everything the backend will ever have made is
    /// made and recorded. A run cut short (a deadline, a signal) calls this
    /// before it reads what to roll back, since a creation it abandoned may
    /// still be running on a namespace thread.
    async fn settle(&self) {}
    /// Makes a new namespace, with no name yet, and opens it. It lives as
    /// long as the backend holds it; [`Kernel::ns_mount`] names it. The two
    /// steps let the caller journal the namespace's identity before any name
    /// refers to it, so that no crash can leave a name the journal does not
    /// pin to its namespace. `name` is the name it is meant to get.
    async fn ns_make(&self, name: &str) -> io::Result<(NsId, NsIdent)>;
    /// Makes several namespaces, concurrently where the backend can: one
    /// result per name, in order. It undoes nothing: the caller closes the
    /// ones it does not keep. The default makes them one after another.
    async fn ns_make_all(&self, names: &[String]) -> Vec<io::Result<(NsId, NsIdent)>> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(self.ns_make(name).await);
        }
        out
    }
    /// Gives a namespace made by [`Kernel::ns_make`] its name (EEXIST when
    /// the name is taken, atomically: two makers racing for a name cannot
    /// both win).
    async fn ns_mount(&self, ns: NsId) -> io::Result<()>;
    /// Names several made namespaces, concurrently where the backend can.
    async fn ns_mount_all(&self, ns: &[NsId]) -> Vec<io::Result<()>> {
        let mut out = Vec::with_capacity(ns.len());
        for id in ns {
            out.push(self.ns_mount(*id).await);
        }
        out
    }
    /// Opens an existing named namespace.
    async fn ns_open(&self, name: &str) -> io::Result<(NsId, NsIdent)>;
    /// Opens the namespace this process runs in (the root namespace),
    /// under the name [`ROOT_NS`].
    async fn ns_open_root(&self) -> io::Result<(NsId, NsIdent)>;
    /// The identity of the namespace this process runs in: the root
    /// namespace, whatever other names it may have.
    fn ns_home(&self) -> io::Result<NsIdent>;
    /// The identity of an open namespace.
    fn ns_ident(&self, ns: NsId) -> Option<NsIdent>;
    /// Removes the name of an open namespace if it still names it, and
    /// closes everything held in it; the kernel destroys the namespace once
    /// no one else holds it.
    async fn ns_delete(&self, ns: NsId) -> io::Result<Removal>;
    /// Removes the name `name` if it names the namespace `expect`, without
    /// opening it. With no `expect` (a namespace recorded without its
    /// identity, removed by force), any network namespace under that name
    /// but the one this process runs in is removed.
    async fn ns_remove(&self, name: &str, expect: Option<NsIdent>) -> io::Result<Removal>;
    /// Removes several names as [`Kernel::ns_remove`] does, concurrently
    /// where the backend can: one result per name, in order. The default
    /// removes them one after another.
    async fn ns_remove_all(&self, names: &[(String, Option<NsIdent>)]) -> Vec<io::Result<Removal>> {
        let mut out = Vec::with_capacity(names.len());
        for (name, expect) in names {
            out.push(self.ns_remove(name, *expect).await);
        }
        out
    }
    /// Closes what the backend holds in `ns` without deleting it.
    fn ns_close(&self, ns: NsId);
    fn ns_exists(&self, name: &str) -> bool;
    fn ns_list(&self) -> io::Result<Vec<String>>;
    /// The name `ns` was opened or created under.
    fn ns_name(&self, ns: NsId) -> Option<String>;
    /// A new descriptor (close-on-exec) of the open namespace `ns`, for a
    /// program to enter it. A model of the kernel has none to give.
    fn ns_fd(&self, ns: NsId) -> io::Result<std::os::fd::OwnedFd> {
        let _ = ns;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "programs run only on the real kernel, not on a model of it",
        ))
    }

    /// Creates a link; returns it (and the peer, for a veth) as created.
    async fn link_add(&self, link: &NewLink) -> io::Result<Vec<LinkInfo>>;
    async fn link_by_index(&self, ns: NsId, index: u32) -> io::Result<LinkInfo>;
    async fn link_by_name(&self, ns: NsId, name: &str) -> io::Result<LinkInfo>;
    async fn link_list(&self, ns: NsId) -> io::Result<Vec<LinkInfo>>;
    async fn link_set(&self, ns: NsId, index: u32, change: &LinkChange) -> io::Result<()>;
    /// Moves a link to namespace `to`, optionally renaming it; returns it as
    /// it is there.
    async fn link_move(
        &self,
        ns: NsId,
        index: u32,
        to: NsId,
        new_name: Option<&str>,
    ) -> io::Result<LinkInfo>;
    async fn link_del(&self, ns: NsId, index: u32) -> io::Result<()>;

    async fn addr_add(&self, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()>;
    async fn addr_del(&self, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()>;
    /// The addresses in `ns`, of one link or of all.
    async fn addr_list(&self, ns: NsId, index: Option<u32>) -> io::Result<Vec<AddrInfo>>;

    async fn route_add(&self, ns: NsId, route: &RouteSpec) -> io::Result<()>;
    async fn route_del(&self, ns: NsId, route: &RouteSpec) -> io::Result<()>;
    async fn route_list(&self, ns: NsId) -> io::Result<Vec<RouteInfo>>;
    /// The output link of the route the kernel would use to reach `to`
    /// from `ns` (`ip route get`), if it names one.
    async fn route_oif(&self, ns: NsId, to: IpAddr) -> io::Result<Option<u32>>;

    /// Turns IPv4 and IPv6 forwarding on or off in `ns`.
    async fn ns_set_forwarding(&self, ns: NsId, on: bool) -> io::Result<()>;

    /// ICMP echo from inside `ns` to `to`.
    async fn ping(
        &self,
        ns: NsId,
        to: IpAddr,
        count: u32,
        timeout: std::time::Duration,
    ) -> io::Result<PingStats>;
    /// The neighbour tables (ARP and NDP) of `ns`.
    async fn neighbors(&self, ns: NsId) -> io::Result<Vec<Neighbor>>;
}
