//! The real kernel: rtnetlink over one route socket per namespace.
//!
//! Each namespace's socket is opened once, inside that namespace, on the
//! namespace thread (see [`super::netns`]), and reused for every operation of
//! the run; the operations themselves are plain async requests on tokio, each
//! a send and a receive on the caller's thread (see [`request`]).
//!
//! One file per kind of object, as rtnetlink's own are: [`namespaces`],
//! [`link`], [`addr`], [`route`], [`neighbour`], each building its requests
//! and reading the replies ([`parse`]); the [`Kernel`] impl here only
//! routes each operation to its file.

mod addr;
mod link;
mod namespaces;
mod neighbour;
mod parse;
mod request;
mod route;

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use self::request::Socket;
use super::netns::{self, NsPool};
use super::{CreateError, Kernel, RecordFn};
use crate::vocab::net::Cidr;
use crate::vocab::{
    AddrInfo, LinkChange, LinkInfo, Neighbor, NewLink, NsId, NsIdent, PingStats, Removal,
    RouteInfo, RouteSpec,
};

/// One open namespace: its descriptor (which also keeps it alive while we
/// work in it) and the netlink socket inside it. Dropping it closes both,
/// so a deleted namespace is really released.
struct Space {
    name: String,
    fd: OwnedFd,
    socket: Socket,
    ident: NsIdent,
}

pub struct Netlink {
    /// The dedicated namespace threads; creating a name always goes to that
    /// name's thread, and so does removing it once that thread has started.
    pool: NsPool,
    spaces: Mutex<HashMap<NsId, Arc<Space>>>,
    next_id: AtomicU64,
    /// (namespace, nsid seen from it) → the open namespace it denotes.
    nsids: Mutex<HashMap<(NsId, i32), NsId>>,
    /// The namespace this process runs in, once asked.
    home: std::sync::OnceLock<NsIdent>,
    /// Set by `settle`: creations not yet begun on their thread make nothing.
    settled: Arc<std::sync::atomic::AtomicBool>,
}

impl Default for Netlink {
    fn default() -> Self {
        Self::new()
    }
}

impl Netlink {
    pub fn new() -> Self {
        Self {
            pool: NsPool::new(NsPool::default_size()),
            spaces: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            nsids: Mutex::new(HashMap::new()),
            home: std::sync::OnceLock::new(),
            settled: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// Runs `f` with the descriptor of namespace `ns`.
    pub fn with_ns_fd<R>(&self, ns: NsId, f: impl FnOnce(&OwnedFd) -> R) -> io::Result<R> {
        Ok(f(&self.space(ns)?.fd))
    }

    fn space(&self, ns: NsId) -> io::Result<Arc<Space>> {
        self.spaces
            .lock()
            .unwrap()
            .get(&ns)
            .cloned()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn add_space(&self, name: &str, opened: netns::NsOpened) -> (NsId, NsIdent) {
        let socket = Socket::new(opened.netlink);
        let id = NsId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let ident = opened.ident;
        let space = Space {
            name: name.to_string(),
            fd: opened.fd,
            socket,
            ident,
        };
        self.spaces.lock().unwrap().insert(id, Arc::new(space));
        (id, ident)
    }

    fn home(&self) -> io::Result<NsIdent> {
        if let Some(h) = self.home.get() {
            return Ok(*h);
        }
        let h = netns::home()?;
        Ok(*self.home.get_or_init(|| h))
    }
}

#[async_trait]
impl Kernel for Netlink {
    async fn ns_create(
        &self,
        name: &str,
        record: RecordFn,
    ) -> Result<(NsId, NsIdent), CreateError> {
        namespaces::create(self, name, record).await
    }

    async fn settle(&self) {
        namespaces::settle(self).await
    }

    async fn ns_make(&self, name: &str) -> io::Result<(NsId, NsIdent)> {
        namespaces::make(self, name).await
    }

    async fn ns_make_all(&self, names: &[String]) -> Vec<io::Result<(NsId, NsIdent)>> {
        namespaces::make_all(self, names).await
    }

    async fn ns_mount(&self, ns: NsId) -> io::Result<()> {
        namespaces::mount(self, ns).await
    }

    async fn ns_mount_all(&self, ns: &[NsId]) -> Vec<io::Result<()>> {
        namespaces::mount_all(self, ns).await
    }

    async fn ns_open(&self, name: &str) -> io::Result<(NsId, NsIdent)> {
        namespaces::open(self, name).await
    }

    async fn ns_open_root(&self) -> io::Result<(NsId, NsIdent)> {
        namespaces::open_root(self).await
    }

    fn ns_home(&self) -> io::Result<NsIdent> {
        self.home()
    }

    fn ns_ident(&self, ns: NsId) -> Option<NsIdent> {
        self.space(ns).ok().map(|s| s.ident)
    }

    async fn ns_delete(&self, ns: NsId) -> io::Result<Removal> {
        namespaces::delete(self, ns).await
    }

    async fn ns_remove(&self, name: &str, expect: Option<NsIdent>) -> io::Result<Removal> {
        namespaces::remove(self, name, expect).await
    }

    async fn ns_remove_all(&self, names: &[(String, Option<NsIdent>)]) -> Vec<io::Result<Removal>> {
        namespaces::remove_all(self, names).await
    }

    fn ns_close(&self, ns: NsId) {
        namespaces::close(self, ns)
    }

    fn ns_exists(&self, name: &str) -> bool {
        netns::exists(name)
    }

    fn ns_list(&self) -> io::Result<Vec<String>> {
        netns::list()
    }

    fn ns_name(&self, ns: NsId) -> Option<String> {
        self.space(ns).ok().map(|s| s.name.clone())
    }

    fn ns_fd(&self, ns: NsId) -> io::Result<OwnedFd> {
        // try_clone duplicates with F_DUPFD_CLOEXEC.
        self.space(ns)?.fd.try_clone()
    }

    async fn link_add(&self, link: &NewLink) -> io::Result<Vec<LinkInfo>> {
        link::add(self, link).await
    }

    async fn link_by_index(&self, ns: NsId, index: u32) -> io::Result<LinkInfo> {
        link::by_index(self, ns, index).await
    }

    async fn link_by_name(&self, ns: NsId, name: &str) -> io::Result<LinkInfo> {
        link::by_name(self, ns, name).await
    }

    async fn link_list(&self, ns: NsId) -> io::Result<Vec<LinkInfo>> {
        link::list(self, ns).await
    }

    async fn link_set(&self, ns: NsId, index: u32, change: &LinkChange) -> io::Result<()> {
        link::change(self, ns, index, change).await
    }

    async fn link_move(
        &self,
        ns: NsId,
        index: u32,
        to: NsId,
        new_name: Option<&str>,
    ) -> io::Result<LinkInfo> {
        link::move_to(self, ns, index, to, new_name).await
    }

    async fn link_del(&self, ns: NsId, index: u32) -> io::Result<()> {
        link::delete(self, ns, index).await
    }

    async fn addr_add(&self, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()> {
        addr::add(self, ns, index, cidr).await
    }

    async fn addr_del(&self, ns: NsId, index: u32, cidr: Cidr) -> io::Result<()> {
        addr::delete(self, ns, index, cidr).await
    }

    async fn addr_list(&self, ns: NsId, index: Option<u32>) -> io::Result<Vec<AddrInfo>> {
        addr::list(self, ns, index).await
    }

    async fn route_add(&self, ns: NsId, route: &RouteSpec) -> io::Result<()> {
        route::add(self, ns, route).await
    }

    async fn route_del(&self, ns: NsId, route: &RouteSpec) -> io::Result<()> {
        route::delete(self, ns, route).await
    }

    async fn route_list(&self, ns: NsId) -> io::Result<Vec<RouteInfo>> {
        route::list(self, ns).await
    }

    async fn route_oif(&self, ns: NsId, to: IpAddr) -> io::Result<Option<u32>> {
        route::oif(self, ns, to).await
    }

    async fn ns_set_forwarding(&self, ns: NsId, on: bool) -> io::Result<()> {
        namespaces::set_forwarding(self, ns, on).await
    }

    async fn ping(
        &self,
        ns: NsId,
        to: IpAddr,
        count: u32,
        timeout: std::time::Duration,
    ) -> io::Result<PingStats> {
        let fd = self.space(ns)?.fd.try_clone()?;
        let (domain, protocol) = super::icmp::socket_kind(&to);
        let socket = self
            .pool
            .first()?
            .run(move |t| t.socket_in(&fd, domain, libc::SOCK_RAW, protocol))
            .await?;
        super::icmp::ping(socket, to, count, timeout).await
    }

    async fn neighbors(&self, ns: NsId) -> io::Result<Vec<Neighbor>> {
        neighbour::list(self, ns).await
    }
}
