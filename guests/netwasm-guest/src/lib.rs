//! Write netwasm lab scripts in Rust.
//!
//! A lab script is a WebAssembly component (target `wasm32-wasip2`) that
//! netwasm runs in its sandbox. This crate gives it the `netwasm:lab`
//! bindings and a small builder API over them, with errors that work
//! with `?`:
//!
//! ```no_run
//! use netwasm_guest::{MacvlanMode, Namespace, Result};
//!
//! fn run(args: Vec<String>) -> Result<()> {
//!     let prefix = args.first().map(String::as_str).unwrap_or("demo");
//!     let host = Namespace::create(&format!("{prefix}-host"))?;
//!     let child = Namespace::create(&format!("{prefix}-child"))?;
//!     let lan = host.bridge("lan")?;
//!     lan.addr("10.0.0.1/24")?.up()?;
//!     // A macvlan on the bridge, created directly inside `child`:
//!     // far cheaper than creating it next to its parent and moving it.
//!     let mv = lan.macvlan("mv0").mode(MacvlanMode::Bridge).in_namespace(&child).create()?;
//!     mv.addr("10.0.0.5/24")?.up()?;
//!     child.lo_up()?;
//!     child.default_route("10.0.0.1")?;
//!     Ok(())
//! }
//!
//! netwasm_guest::main!(run);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` and run the
//! `.wasm` with `netwasm run`.

use std::fmt;

/// The raw bindings generated from the `netwasm:lab` WIT package.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "netwasm:lab/lab",
        pub_export_macro: true,
        default_bindings_module: "netwasm_guest::bindings",
    });
}

use bindings::netwasm::lab::process as proc_api;
use bindings::netwasm::lab::{addr, batch, link, namespace, probe, route, types, verify};

pub use bindings::netwasm::lab::addr::AddressInfo;
pub use bindings::netwasm::lab::link::{
    LinkInfo, MacvlanConfig, MacvlanMode, OperState, VxlanConfig, VxlanInfo,
};
pub use bindings::netwasm::lab::probe::{Neighbor, NeighborState, PingResult};
pub use bindings::netwasm::lab::process::{ExitStatus, Output, Signal};
pub use bindings::netwasm::lab::route::{RouteInfo, RouteSpec};
pub use bindings::netwasm::lab::types::{IpFamily, KernelError};
pub use bindings::netwasm::lab::verify::Outcome;

/// Why a lab step failed.
#[derive(Debug, Clone)]
pub enum Error {
    /// The host refused or failed the operation; see the WIT `error` docs.
    Lab(types::Error),
    /// A condition of the script itself (bad arguments, a failed check).
    Script(String),
}

impl Error {
    /// The error of a script's own making.
    pub fn msg(message: impl Into<String>) -> Self {
        Error::Script(message.into())
    }

    /// Whether the host reported the object as already existing.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Error::Lab(types::Error::AlreadyExists(_)))
    }

    /// Whether the host reported the object as missing.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Lab(types::Error::NotFound(_)))
    }

    /// Whether the sandbox policy refused the operation.
    pub fn is_denied(&self) -> bool {
        matches!(self, Error::Lab(types::Error::Denied(_)))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use types::Error as E;
        match self {
            Error::Lab(E::NotFound(m)) => write!(f, "not found: {m}"),
            Error::Lab(E::AlreadyExists(m)) => write!(f, "already exists: {m}"),
            Error::Lab(E::InvalidArgument(m)) => write!(f, "invalid argument: {m}"),
            Error::Lab(E::Busy(m)) => write!(f, "busy: {m}"),
            Error::Lab(E::PermissionDenied(m)) => write!(f, "permission denied: {m}"),
            Error::Lab(E::Denied(m)) => write!(f, "denied: {m}"),
            Error::Lab(E::LimitReached(m)) => write!(f, "limit reached: {m}"),
            Error::Lab(E::Kernel(k)) => write!(f, "kernel: {}", k.message),
            Error::Script(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl From<types::Error> for Error {
    fn from(e: types::Error) -> Self {
        Error::Lab(e)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A network namespace the script holds.
pub struct Namespace {
    inner: namespace::Netns,
}

impl Namespace {
    /// Creates a new namespace.
    pub fn create(name: &str) -> Result<Self> {
        Ok(Self {
            inner: namespace::create(name)?,
        })
    }

    /// Creates several namespaces at once, all or nothing: the host makes
    /// them concurrently, which is faster than calling [`Namespace::create`]
    /// for each. On an error none of them exists, and the error names the
    /// first name that failed. The handles come back in the order of
    /// `names`.
    pub fn create_all<S: AsRef<str>>(names: &[S]) -> Result<Vec<Self>> {
        let names: Vec<String> = names.iter().map(|n| n.as_ref().to_string()).collect();
        Ok(namespace::create_all(&names)?
            .into_iter()
            .map(|inner| Self { inner })
            .collect())
    }

    /// Builds many namespaces, each with its links, addresses and routes,
    /// in one call, all or nothing. The host keeps several plans in
    /// progress at once, so this is several times faster than the same
    /// steps called one by one (see [`Plan`]). Every step is checked
    /// before anything is made; if the kernel then refuses one, every
    /// namespace of the call is deleted again and the error names the step.
    /// The handles come back in the order of `plans`.
    ///
    /// ```no_run
    /// # use netwasm_guest::{MacvlanMode, Namespace, Plan, Result};
    /// # fn f() -> Result<()> {
    /// let plans: Vec<Plan> = (0..100)
    ///     .map(|i| {
    ///         Plan::new(&format!("unit{i}"))
    ///             .macvlan("phy", "eth0", "eth0", MacvlanMode::Bridge)
    ///             .up("lo")
    ///             .up("eth0")
    ///             .addr("eth0", &format!("172.16.10.{}/24", i + 2))
    ///             .default_route("172.16.10.1")
    ///     })
    ///     .collect();
    /// let units = Namespace::build_all(&plans)?;
    /// # Ok(()) }
    /// ```
    pub fn build_all(plans: &[Plan]) -> Result<Vec<Self>> {
        let vxlans: Vec<batch::NewVxlan> = plans
            .iter()
            .flat_map(|p| p.vxlans.iter().cloned())
            .collect();
        let plans: Vec<batch::NamespacePlan> = plans.iter().map(|p| p.inner.clone()).collect();
        let built = if vxlans.is_empty() {
            batch::build(&plans)?
        } else {
            batch::build_with_vxlans(&plans, &vxlans)?
        };
        Ok(built.into_iter().map(|inner| Self { inner }).collect())
    }

    /// Opens an existing namespace (one this lab created earlier, or one the
    /// policy grants).
    pub fn open(name: &str) -> Result<Self> {
        Ok(Self {
            inner: namespace::open(name)?,
        })
    }

    /// Opens the root namespace (only when the policy grants root links).
    pub fn root() -> Result<Self> {
        Ok(Self {
            inner: namespace::root()?,
        })
    }

    /// The names of the namespaces the script may see.
    pub fn list() -> Result<Vec<String>> {
        Ok(namespace::list()?)
    }

    /// The namespace's name.
    pub fn name(&self) -> String {
        self.inner.name()
    }

    /// Deletes the namespace and everything in it.
    pub fn delete(self) -> Result<()> {
        Ok(namespace::delete(self.inner)?)
    }

    /// The raw handle, for the generated bindings.
    pub fn handle(&self) -> &namespace::Netns {
        &self.inner
    }

    /// An existing link in this namespace, by name.
    pub fn link(&self, name: &str) -> Result<Link> {
        Ok(Link {
            inner: link::get(&self.inner, name)?,
        })
    }

    /// Sets the loopback link up (a new namespace's `lo` is down).
    pub fn lo_up(&self) -> Result<()> {
        self.link("lo")?.up()?;
        Ok(())
    }

    /// The facts about every link in this namespace.
    pub fn links(&self) -> Result<Vec<LinkInfo>> {
        Ok(link::list(&self.inner)?)
    }

    /// Creates a Linux bridge here.
    pub fn bridge(&self, name: &str) -> Result<Link> {
        Ok(Link {
            inner: link::add_bridge(&self.inner, name)?,
        })
    }

    /// Creates a veth pair: `name` here, `peer_name` in `peer_ns`.
    pub fn veth(&self, name: &str, peer_ns: &Namespace, peer_name: &str) -> Result<(Link, Link)> {
        let (a, b) = link::add_veth(&self.inner, name, &peer_ns.inner, peer_name)?;
        Ok((Link { inner: a }, Link { inner: b }))
    }

    /// Starts a vxlan here with VNI `id`: give it a `remote` (or a `group`
    /// and a `device`), then `create` it.
    ///
    /// ```no_run
    /// # use netwasm_guest::{Namespace, Result};
    /// # fn f(ns: &Namespace) -> Result<()> {
    /// let vx = ns.vxlan("vx0", 42).remote("10.99.0.2").device("eth0").create()?;
    /// vx.addr("192.168.77.1/24")?.up()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn vxlan<'a>(&'a self, name: &str, id: u32) -> Vxlan<'a> {
        Vxlan {
            ns: self,
            name: name.to_string(),
            config: link::VxlanConfig {
                id,
                local: None,
                remote: None,
                group: None,
                device: None,
                port: None,
                learning: None,
                ttl: None,
            },
        }
    }

    /// Starts a macvlan on the link called `parent` in this namespace.
    pub fn macvlan_on<'a>(&'a self, parent: &str, name: &str) -> Macvlan<'a> {
        Macvlan::new(Parent::Named(self, parent.to_string()), name)
    }

    /// Adds a default route via `gateway` (IPv4 or IPv6).
    pub fn default_route(&self, gateway: &str) -> Result<()> {
        self.route("default").via(gateway).add()
    }

    /// Starts a route to `destination` (a prefix, an address, or `default`).
    pub fn route<'a>(&'a self, destination: &str) -> Route<'a> {
        Route {
            ns: self,
            spec: route::RouteSpec {
                destination: destination.to_string(),
                gateway: None,
                metric: None,
            },
            dev: None,
        }
    }

    /// The routes of the main table.
    pub fn routes(&self) -> Result<Vec<RouteInfo>> {
        Ok(route::list(&self.inner)?)
    }

    /// Turns IP forwarding on or off here (a router namespace).
    pub fn forwarding(&self, on: bool) -> Result<()> {
        Ok(self.inner.set_forwarding(on)?)
    }

    /// Pings `to` from inside this namespace: `count` requests, waiting up
    /// to `timeout_ms` after the last. Loss shows in the result, not as an
    /// error.
    pub fn ping(&self, to: &str, count: u32, timeout_ms: u32) -> Result<PingResult> {
        Ok(probe::ping(&self.inner, to, count, timeout_ms)?)
    }

    /// This namespace's ARP and NDP entries.
    pub fn neighbors(&self) -> Result<Vec<Neighbor>> {
        Ok(probe::neighbors(&self.inner)?)
    }

    /// States that `to` must answer pings from here; checked by [`check`]
    /// or when `run` returns, and the run fails if it does not.
    pub fn expect_reachable(&self, to: &str, label: &str) -> Result<()> {
        Ok(verify::expect(&self.inner, to, true, label)?)
    }

    /// States that `to` must not answer pings from here.
    pub fn expect_unreachable(&self, to: &str, label: &str) -> Result<()> {
        Ok(verify::expect(&self.inner, to, false, label)?)
    }
}

/// Checks every pending expectation now (netwasm prints the matrix) and
/// returns the outcomes. Unmet ones still fail the run when it ends.
pub fn check() -> Result<Vec<Outcome>> {
    Ok(verify::check()?)
}

/// A link the script holds. The handle follows the link when it is moved.
pub struct Link {
    inner: link::Link,
}

impl Link {
    pub fn name(&self) -> String {
        self.inner.name()
    }

    /// The name of the namespace the link is in.
    pub fn namespace(&self) -> String {
        self.inner.namespace()
    }

    /// The kernel's current facts about the link.
    pub fn info(&self) -> Result<LinkInfo> {
        Ok(self.inner.info()?)
    }

    /// The kernel's current facts about the link's vxlan tunnel; `None`
    /// for a link that is not a vxlan.
    pub fn vxlan_info(&self) -> Result<Option<VxlanInfo>> {
        Ok(self.inner.vxlan_info()?)
    }

    /// The raw handle, for the generated bindings.
    pub fn handle(&self) -> &link::Link {
        &self.inner
    }

    /// Wraps a raw handle from the generated bindings (or from a CNI
    /// plugin's bindings, which share them).
    pub fn from_handle(inner: link::Link) -> Self {
        Self { inner }
    }

    pub fn up(&self) -> Result<&Self> {
        self.inner.set_up()?;
        Ok(self)
    }

    pub fn down(&self) -> Result<&Self> {
        self.inner.set_down()?;
        Ok(self)
    }

    pub fn mtu(&self, mtu: u32) -> Result<&Self> {
        self.inner.set_mtu(mtu)?;
        Ok(self)
    }

    pub fn mac(&self, mac: &str) -> Result<&Self> {
        self.inner.set_mac(mac)?;
        Ok(self)
    }

    /// Makes this link a port of `bridge`.
    pub fn master(&self, bridge: &Link) -> Result<&Self> {
        self.inner.set_master(&bridge.inner)?;
        Ok(self)
    }

    pub fn nomaster(&self) -> Result<&Self> {
        self.inner.unset_master()?;
        Ok(self)
    }

    /// Hairpin mode on a bridge port: frames may leave by the port they
    /// came in on, as a VEPA-capable switch does.
    pub fn hairpin(&self, on: bool) -> Result<&Self> {
        self.inner.set_hairpin(on)?;
        Ok(self)
    }

    /// Moves the link to `ns`, optionally renaming it. Prefer creating links
    /// where they live: a move costs the kernel tens of milliseconds.
    pub fn move_to(&self, ns: &Namespace, new_name: Option<&str>) -> Result<&Self> {
        self.inner.move_to(&ns.inner, new_name)?;
        Ok(self)
    }

    pub fn delete(self) -> Result<()> {
        Ok(link::delete(self.inner)?)
    }

    /// Adds an address, `172.16.10.5/24` or `fd00::5/64`.
    pub fn addr(&self, cidr: &str) -> Result<&Self> {
        addr::add(&self.inner, cidr)?;
        Ok(self)
    }

    pub fn del_addr(&self, cidr: &str) -> Result<&Self> {
        addr::delete(&self.inner, cidr)?;
        Ok(self)
    }

    pub fn addrs(&self) -> Result<Vec<AddressInfo>> {
        Ok(addr::list(&self.inner)?)
    }

    /// Starts a macvlan child of this link.
    pub fn macvlan<'a>(&'a self, name: &str) -> Macvlan<'a> {
        Macvlan::new(Parent::Link(self), name)
    }
}

enum Parent<'a> {
    Link(&'a Link),
    Named(&'a Namespace, String),
}

/// A macvlan to create; see [`Link::macvlan`].
pub struct Macvlan<'a> {
    parent: Parent<'a>,
    config: link::MacvlanConfig,
    target: Option<&'a namespace::Netns>,
}

impl<'a> Macvlan<'a> {
    fn new(parent: Parent<'a>, name: &str) -> Self {
        Self {
            parent,
            config: link::MacvlanConfig {
                name: name.to_string(),
                mode: None,
                mac: None,
                mtu: None,
            },
            target: None,
        }
    }

    /// The mode; without one the kernel default (vepa) applies.
    pub fn mode(mut self, mode: MacvlanMode) -> Self {
        self.config.mode = Some(mode);
        self
    }

    pub fn mac(mut self, mac: &str) -> Self {
        self.config.mac = Some(mac.to_string());
        self
    }

    pub fn mtu(mut self, mtu: u32) -> Self {
        self.config.mtu = Some(mtu);
        self
    }

    /// Creates the macvlan directly in `ns` instead of next to its parent.
    pub fn in_namespace(mut self, ns: &'a Namespace) -> Self {
        self.target = Some(&ns.inner);
        self
    }

    /// Creates the macvlan directly in the namespace of a raw handle, such
    /// as the container handle a CNI plugin is given.
    pub fn in_handle(mut self, ns: &'a namespace::Netns) -> Self {
        self.target = Some(ns);
        self
    }

    pub fn create(self) -> Result<Link> {
        let target = self.target;
        let inner = match self.parent {
            Parent::Link(p) => link::add_macvlan(&p.inner, &self.config, target)?,
            Parent::Named(ns, p) => link::add_macvlan_on(&ns.inner, &p, &self.config, target)?,
        };
        Ok(Link { inner })
    }
}

/// A vxlan to create; see [`Namespace::vxlan`].
pub struct Vxlan<'a> {
    ns: &'a Namespace,
    name: String,
    config: link::VxlanConfig,
}

impl Vxlan<'_> {
    /// The unicast endpoint its frames go to, over the underlay.
    pub fn remote(mut self, addr: &str) -> Self {
        self.config.remote = Some(addr.to_string());
        self
    }

    /// The multicast group it sends to and joins (needs a `device`).
    pub fn group(mut self, addr: &str) -> Self {
        self.config.group = Some(addr.to_string());
        self
    }

    /// The underlay address it sends from.
    pub fn local(mut self, addr: &str) -> Self {
        self.config.local = Some(addr.to_string());
        self
    }

    /// The underlay link it sends by: a link of its namespace, by name.
    pub fn device(mut self, link: &str) -> Self {
        self.config.device = Some(link.to_string());
        self
    }

    /// The UDP destination port; 4789 (IANA's) when not given.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = Some(port);
        self
    }

    /// Whether it learns remote MAC addresses (on when not given).
    pub fn learning(mut self, on: bool) -> Self {
        self.config.learning = Some(on);
        self
    }

    /// The TTL of its packets (`ttl auto` when not given).
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.config.ttl = Some(ttl);
        self
    }

    pub fn create(self) -> Result<Link> {
        let inner = link::add_vxlan(&self.ns.inner, &self.name, &self.config)?;
        Ok(Link { inner })
    }
}

/// A route to add or delete; see [`Namespace::route`].
pub struct Route<'a> {
    ns: &'a Namespace,
    spec: route::RouteSpec,
    dev: Option<&'a Link>,
}

impl<'a> Route<'a> {
    pub fn via(mut self, gateway: &str) -> Self {
        self.spec.gateway = Some(gateway.to_string());
        self
    }

    pub fn dev(mut self, link: &'a Link) -> Self {
        self.dev = Some(link);
        self
    }

    pub fn metric(mut self, metric: u32) -> Self {
        self.spec.metric = Some(metric);
        self
    }

    pub fn add(self) -> Result<()> {
        Ok(route::add(
            &self.ns.inner,
            &self.spec,
            self.dev.map(|d| &d.inner),
        )?)
    }

    pub fn delete(self) -> Result<()> {
        Ok(route::delete(
            &self.ns.inner,
            &self.spec,
            self.dev.map(|d| &d.inner),
        )?)
    }
}

/// One namespace for [`Namespace::build_all`] and what goes in it. The
/// host does the steps in this order, whatever order they are given in:
/// create the namespace, its links, its vxlans, set links up, add
/// addresses, add routes. Links are named by name: `lo`, or a link the
/// plan creates.
#[derive(Debug, Clone)]
pub struct Plan {
    inner: batch::NamespacePlan,
    vxlans: Vec<batch::NewVxlan>,
}

impl Plan {
    /// A plan for a new namespace called `name`, empty so far.
    pub fn new(name: &str) -> Self {
        Self {
            inner: batch::NamespacePlan {
                name: name.to_string(),
                links: Vec::new(),
                up: Vec::new(),
                addresses: Vec::new(),
                routes: Vec::new(),
            },
            vxlans: Vec::new(),
        }
    }

    /// A macvlan `name` in mode `mode`, made directly in this namespace, on
    /// link `parent` of namespace `parent_ns` (one the script holds).
    pub fn macvlan(self, parent_ns: &str, parent: &str, name: &str, mode: MacvlanMode) -> Self {
        self.macvlan_with(
            parent_ns,
            parent,
            link::MacvlanConfig {
                name: name.to_string(),
                mode: Some(mode),
                mac: None,
                mtu: None,
            },
        )
    }

    /// A macvlan with every setting given (MAC, MTU, or the kernel's
    /// default mode).
    pub fn macvlan_with(
        mut self,
        parent_ns: &str,
        parent: &str,
        config: link::MacvlanConfig,
    ) -> Self {
        self.inner
            .links
            .push(batch::NewLink::Macvlan(batch::NewMacvlan {
                parent_namespace: parent_ns.to_string(),
                parent: parent.to_string(),
                config,
            }));
        self
    }

    /// A vxlan `name` in this namespace, made after its other links (its
    /// `device` may be one of them), with the tunnel `config`.
    pub fn vxlan(mut self, name: &str, config: VxlanConfig) -> Self {
        self.vxlans.push(batch::NewVxlan {
            namespace: self.inner.name.clone(),
            name: name.to_string(),
            config,
        });
        self
    }

    /// A Linux bridge `name` in this namespace.
    pub fn bridge(mut self, name: &str) -> Self {
        self.inner
            .links
            .push(batch::NewLink::Bridge(name.to_string()));
        self
    }

    /// Sets `link` administratively up.
    pub fn up(mut self, link: &str) -> Self {
        self.inner.up.push(link.to_string());
        self
    }

    /// Adds address `cidr` (`172.16.10.5/24`) to `link`.
    pub fn addr(mut self, link: &str, cidr: &str) -> Self {
        self.inner.addresses.push(batch::NewAddress {
            link: link.to_string(),
            cidr: cidr.to_string(),
        });
        self
    }

    /// Adds a default route via `gateway`.
    pub fn default_route(self, gateway: &str) -> Self {
        self.route("default", Some(gateway), None)
    }

    /// Adds a route to `destination` via `gateway`, out of `dev`, or both.
    pub fn route(mut self, destination: &str, gateway: Option<&str>, dev: Option<&str>) -> Self {
        self.inner.routes.push(batch::NewRoute {
            route: route::RouteSpec {
                destination: destination.to_string(),
                gateway: gateway.map(str::to_string),
                metric: None,
            },
            dev: dev.map(str::to_string),
        });
        self
    }

    /// Adds a route with every setting given (metric included).
    pub fn route_with(mut self, route: route::RouteSpec, dev: Option<&str>) -> Self {
        self.inner.routes.push(batch::NewRoute {
            route,
            dev: dev.map(str::to_string),
        });
        self
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

/// Exports `run` from a function `fn(Vec<String>) -> Result<(), E>` with `E:
/// Display`: the one line a lab script needs.
#[macro_export]
macro_rules! main {
    ($run:path) => {
        struct __NetwasmLab;

        impl $crate::bindings::Guest for __NetwasmLab {
            fn run(args: ::std::vec::Vec<::std::string::String>) -> ::std::result::Result<(), ::std::string::String> {
                $run(args).map_err(|e| e.to_string())
            }
        }

        $crate::bindings::export!(__NetwasmLab with_types_in $crate::bindings);
    };
}

/// A program to start in a namespace: see [`Namespace::spawn`].
#[must_use = "call .start() to start the program"]
pub struct Spawn<'a> {
    ns: &'a Namespace,
    command: proc_api::Command,
}

impl Namespace {
    /// A program to run inside this namespace: `argv[0]` names it (an
    /// absolute path, or a bare name on the fixed PATH) and must be in the
    /// policy's `[exec] commands`; the rest are its arguments, passed as
    /// they are (no shell). Its environment is empty unless
    /// [`Spawn::env`] sets some; it runs as the policy's unprivileged
    /// `[exec] user`.
    ///
    /// ```no_run
    /// # fn f(ns: &netwasm_guest::Namespace) -> netwasm_guest::Result<()> {
    /// let server = ns.spawn(&["/bin/busybox", "httpd", "-f", "-p", "8080"]).start()?;
    /// let fetch = ns
    ///     .spawn(&["wget", "-qO-", "http://127.0.0.1:8080/"])
    ///     .env("HOME", "/")
    ///     .start()?;
    /// let status = fetch.wait(5000)?;
    /// let page = fetch.stdout();
    /// # let _ = (server, status, page); Ok(()) }
    /// ```
    pub fn spawn(&self, argv: &[&str]) -> Spawn<'_> {
        Spawn {
            ns: self,
            command: proc_api::Command {
                argv: argv.iter().map(|s| s.to_string()).collect(),
                env: Vec::new(),
                stdin: None,
            },
        }
    }
}

impl Spawn<'_> {
    /// Sets one environment variable.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.command.env.push((name.into(), value.into()));
        self
    }

    /// Bytes for the program's standard input (closed after them);
    /// without this it reads `/dev/null`.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.command.stdin = Some(bytes.into());
        self
    }

    /// Starts the program.
    pub fn start(self) -> Result<Process> {
        Ok(Process {
            inner: proc_api::start(&self.ns.inner, &self.command)?,
        })
    }
}

/// A program this guest started. Dropping it leaves the program running.
pub struct Process {
    inner: proc_api::Process,
}

impl Process {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// Waits up to `timeout_ms` (at most 60000) for it to end; `None`
    /// while it runs.
    pub fn wait(&self, timeout_ms: u32) -> Result<Option<ExitStatus>> {
        Ok(self.inner.wait(timeout_ms)?)
    }

    /// Takes what it wrote to stdout since the last call.
    pub fn stdout(&self) -> Output {
        self.inner.read_stdout()
    }

    /// Takes what it wrote to stderr since the last call.
    pub fn stderr(&self) -> Output {
        self.inner.read_stderr()
    }

    /// Sends it a signal.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        Ok(self.inner.signal(sig)?)
    }
}
