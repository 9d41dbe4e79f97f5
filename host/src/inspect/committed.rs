//! What the kernel had when a lab's last run committed: every property
//! `netwasm show` reports of the lab's links, addresses and routes, kept
//! beside the journal (`labs/NAME/snapshot`). `netwasm status` compares the
//! kernel now with it, so drift is whatever changed since the commit — an
//! MTU the guest never set, a route someone added — not only what the lab
//! itself recorded.
//!
//! The journal stays the one authority on what the lab owns and what
//! `down` undoes; the snapshot only says how things were. It is written at
//! every commit and removed when a run begins and when the lab goes down,
//! so a snapshot that exists describes the lab's last commit, which is
//! also what the journal's objects are. A run that failed or was kept
//! leaves none, and `status` then compares with the journal alone, as for
//! a lab of an older netwasm.
//!
//! The file is untrusted on read: bounded in size, checked against its
//! schema, its lab and the namespaces the journal holds. What it says is
//! only ever compared and reported (escaped for the terminal); nothing
//! netwasm does depends on it.
//!
//! Left out on purpose: IPv6 link-local addresses and the `fe80::/64`
//! routes (the kernel makes and remakes them itself: address
//! autoconfiguration, duplicate address detection, a new MAC), and the
//! programs a lab started (the journal's check covers them). Operational
//! state (carrier) is compared but reported apart: it follows from other
//! changes (a peer set down, a parent outside the lab losing its cable)
//! rather than being one.

use std::collections::HashSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::view::{self, LabView, LinkView, RouteView, VxlanView, held_namespaces};
use crate::kernel::Kernel;
use crate::ledger::StateDir;
use crate::ledger::drift;
use crate::ledger::replay::Object;
use crate::vocab::ROOT_NS;
use crate::vocab::net::{Cidr, parse_destination};
use crate::vocab::text::printable;

/// The `schema` value of a snapshot file.
pub const SCHEMA: &str = "netwasm.snapshot/1";

/// No snapshot netwasm writes is larger (a lab at every quota's limit
/// makes a few MiB); a bigger file is not read.
pub const MAX_SNAPSHOT_BYTES: u64 = 64 << 20;

/// The longest string a snapshot may hold (a route or tunnel as text).
const MAX_TEXT: usize = 512;

/// The lab's links, addresses and routes at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub schema: String,
    pub lab: String,
    /// When it was taken, in milliseconds since the Unix epoch.
    pub taken_ms: u64,
    /// The namespaces that were there and readable.
    pub namespaces: Vec<NsState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NsState {
    pub name: String,
    pub links: Vec<LinkState>,
    pub routes: Vec<RouteState>,
}

/// A link as `show` reports it; references to other links as `show`
/// prints them (`NAME@NAMESPACE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkState {
    pub index: u32,
    pub name: String,
    pub kind: Option<String>,
    pub macvlan_mode: Option<String>,
    pub parent: Option<String>,
    pub peer: Option<String>,
    /// The tunnel, as one line (`vni 42 remote 10.0.0.2 port 4789 ...`).
    pub vxlan: Option<String>,
    pub master: Option<String>,
    pub mac: Option<String>,
    pub mtu: u32,
    pub admin_up: bool,
    pub oper_state: String,
    /// `address/prefix_len`, IPv6 link-local ones left out.
    pub addresses: Vec<String>,
}

/// A route of the main table, as `show` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteState {
    pub destination: String,
    pub gateway: Option<String>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub protocol: String,
    pub scope: String,
    pub source: Option<String>,
}

impl RouteState {
    /// The route as `ip route` prints it.
    fn text(&self) -> String {
        let mut s = if self.destination.ends_with("/0") {
            "default".to_string()
        } else {
            self.destination.clone()
        };
        let mut add = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                s += &format!(" {k} {v}");
            }
        };
        add("via", &self.gateway);
        add("dev", &self.dev);
        add("metric", &self.metric.map(|m| m.to_string()));
        add("proto", &Some(self.protocol.clone()));
        if !matches!(self.scope.as_str(), "universe" | "global") {
            add("scope", &Some(self.scope.clone()));
        }
        add("src", &self.source);
        s
    }

    /// IPv6 link-local routes come and go with the link-local addresses.
    fn kept(r: &RouteView) -> bool {
        !r.destination.to_ascii_lowercase().starts_with("fe80:")
    }
}

fn vxlan_text(v: &VxlanView) -> String {
    let mut s = format!("vni {}", v.id);
    for (k, val) in [
        ("local", &v.local),
        ("remote", &v.remote),
        ("group", &v.group),
    ] {
        if let Some(val) = val {
            s += &format!(" {k} {val}");
        }
    }
    s += &format!(" port {}", v.port);
    if let Some(d) = &v.device {
        s += &format!(" dev {}", d.display());
    }
    s += if v.learning {
        " learning"
    } else {
        " nolearning"
    };
    s += &format!(" ttl {}", v.ttl);
    s
}

fn link_state(l: &LinkView) -> LinkState {
    LinkState {
        index: l.index,
        name: l.name.clone(),
        kind: l.kind.clone(),
        macvlan_mode: l.macvlan_mode.clone(),
        parent: l.parent.as_ref().map(|p| p.display()),
        peer: l.peer.as_ref().map(|p| p.display()),
        vxlan: l.vxlan.as_ref().map(vxlan_text),
        master: l.master.clone(),
        mac: l.mac.clone(),
        mtu: l.mtu,
        admin_up: l.admin_up,
        oper_state: l.oper_state.clone(),
        addresses: l
            .addresses
            .iter()
            .filter(|a| !(a.family == "inet6" && a.scope == "link"))
            .map(|a| a.cidr.clone())
            .collect(),
    }
}

fn route_state(r: &RouteView) -> RouteState {
    RouteState {
        destination: r.destination.clone(),
        gateway: r.gateway.clone(),
        dev: r.dev.clone(),
        metric: r.metric,
        protocol: r.protocol.clone(),
        scope: r.scope.clone(),
        source: r.source.clone(),
    }
}

impl Snapshot {
    /// The snapshot of a lab as `show` sees it: the namespaces that are
    /// there and readable.
    pub fn of(view: &LabView, taken_ms: u64) -> Self {
        Snapshot {
            schema: SCHEMA.to_string(),
            lab: view.lab.clone(),
            taken_ms,
            namespaces: view
                .namespaces
                .iter()
                .filter(|n| n.present && n.error.is_none())
                .map(|n| NsState {
                    name: n.name.clone(),
                    links: n.links.iter().map(link_state).collect(),
                    routes: n
                        .routes
                        .iter()
                        .filter(|r| RouteState::kept(r))
                        .map(route_state)
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a snapshot always serializes")
    }

    /// Reads a snapshot file of lab `lab`, whose journal holds the
    /// namespaces `held`; says in one phrase what is wrong with one that
    /// is not usable.
    pub fn parse(bytes: &[u8], lab: &str, held: &[(String, bool)]) -> Result<Self, String> {
        let s: Snapshot =
            serde_json::from_slice(bytes).map_err(|e| format!("is not a snapshot ({e})"))?;
        if s.schema != SCHEMA {
            return Err(format!(
                "has schema {:?}; this netwasm reads {SCHEMA}",
                printable(&s.schema)
            ));
        }
        if s.lab != lab {
            return Err(format!("is of lab {:?}", printable(&s.lab)));
        }
        let mut names = HashSet::new();
        for ns in &s.namespaces {
            if !held.iter().any(|(n, _)| *n == ns.name) {
                return Err(format!(
                    "names namespace {:?}, which the journal does not hold",
                    printable(&ns.name)
                ));
            }
            if !names.insert(&ns.name) {
                return Err(format!("names namespace {:?} twice", printable(&ns.name)));
            }
            let mut indexes = HashSet::new();
            for l in &ns.links {
                if l.name.is_empty() || l.name.len() > 15 {
                    return Err(format!(
                        "names a link {:?} no kernel would",
                        printable(&l.name)
                    ));
                }
                if !indexes.insert(l.index) {
                    return Err(format!(
                        "has interface {} twice in namespace {:?}",
                        l.index,
                        printable(&ns.name)
                    ));
                }
                let texts = [
                    &l.kind,
                    &l.macvlan_mode,
                    &l.parent,
                    &l.peer,
                    &l.vxlan,
                    &l.master,
                    &l.mac,
                ];
                if texts
                    .iter()
                    .any(|t| t.as_ref().is_some_and(|t| t.len() > MAX_TEXT))
                    || l.oper_state.len() > MAX_TEXT
                    || l.addresses.iter().any(|a| a.len() > MAX_TEXT)
                {
                    return Err("holds a string longer than netwasm writes".into());
                }
            }
            for r in &ns.routes {
                if r.text().len() > 4 * MAX_TEXT {
                    return Err("holds a string longer than netwasm writes".into());
                }
            }
        }
        Ok(s)
    }
}

/// What `netwasm status` compares the kernel with, beside the journal.
#[derive(Debug, Clone)]
pub enum Baseline {
    /// The lab's snapshot of its last commit.
    Commit(Snapshot),
    /// No snapshot: a lab of an older netwasm, or one whose last run did
    /// not commit. Only what the journal records is compared.
    JournalOnly,
    /// A snapshot that cannot be used, and why; compared as `JournalOnly`.
    Unusable(String),
}

impl Baseline {
    /// Reads lab `lab`'s snapshot, if it has one, and checks it against
    /// the journal's `objects`.
    pub fn read(state: &StateDir, lab: &str, objects: &[Object]) -> Baseline {
        let bytes = match state.read_snapshot(lab, MAX_SNAPSHOT_BYTES) {
            Ok(Some(b)) => b,
            Ok(None) => return Baseline::JournalOnly,
            Err(e) => return Baseline::Unusable(printable(&format!("{e:#}"))),
        };
        match Snapshot::parse(&bytes, lab, &held_namespaces(objects)) {
            Ok(s) => Baseline::Commit(s),
            // serde names an unknown key as the file spells it, escapes
            // and all: everything of the file is escaped before printing.
            Err(why) => Baseline::Unusable(printable(&format!(
                "{} {why}",
                state.snapshot_path(lab).display()
            ))),
        }
    }
}

/// Drift of a lab from its journal and, when there is one, from the
/// snapshot of its last commit: every property `show` reports.
pub async fn drift(
    kernel: &dyn Kernel,
    lab: &str,
    objects: &[Object],
    baseline: &Baseline,
) -> Changes {
    let Baseline::Commit(then) = baseline else {
        return Changes {
            drift: drift::check(kernel, objects).await,
            carrier: Vec::new(),
        };
    };
    let mut found = drift::check_presence(kernel, objects).await;
    let now = view::gather(kernel, lab, objects, None, None).await;
    let changes = compare(then, &Snapshot::of(&now, 0), objects);
    found.extend(changes.drift);
    Changes {
        drift: found,
        carrier: changes.carrier,
    }
}

/// What changed between two snapshots of a lab.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// One line per change, naming the object (`ns/link`) and the change.
    pub drift: Vec<String>,
    /// Operational state (carrier) changes: reported, not drift.
    pub carrier: Vec<String>,
}

/// What the journal records, to leave to its own check (which reports a
/// recorded object missing or replaced, with the journal's words).
struct Recorded<'a> {
    links: HashSet<(&'a str, &'a str)>,
    addrs: HashSet<(&'a str, &'a str, Option<Cidr>)>,
    routes: Vec<(&'a str, Option<Cidr>, Option<IpAddr>)>,
}

impl<'a> Recorded<'a> {
    fn new(objects: &'a [Object]) -> Self {
        let mut r = Recorded {
            links: HashSet::new(),
            addrs: HashSet::new(),
            routes: Vec::new(),
        };
        for o in objects {
            match o {
                Object::Link {
                    ns,
                    name,
                    peer,
                    peer_ns,
                    ..
                } => {
                    r.links.insert((ns, name));
                    if let (Some(p), Some(pns)) = (peer, peer_ns) {
                        r.links.insert((pns, p));
                    }
                }
                Object::Addr { ns, link, cidr, .. } => {
                    r.addrs
                        .insert((ns, link, Cidr::parse(cidr, "address", false).ok()));
                }
                Object::Route {
                    ns,
                    destination,
                    gateway,
                    ..
                } => {
                    let gw: Option<IpAddr> = gateway.as_deref().and_then(|g| g.parse().ok());
                    let dest =
                        parse_destination(destination, matches!(gw, Some(IpAddr::V6(_)))).ok();
                    r.routes.push((ns, dest, gw));
                }
                _ => {}
            }
        }
        r
    }

    fn link(&self, ns: &str, name: &str) -> bool {
        self.links.contains(&(ns, name))
    }

    fn addr(&self, ns: &str, link: &str, cidr: &str) -> bool {
        let c = Cidr::parse(cidr, "address", false).ok();
        c.is_some() && self.addrs.contains(&(ns, link, c))
    }

    fn route(&self, ns: &str, r: &RouteState) -> bool {
        let gw: Option<IpAddr> = r.gateway.as_deref().and_then(|g| g.parse().ok());
        let dest = parse_destination(&r.destination, matches!(gw, Some(IpAddr::V6(_)))).ok();
        dest.is_some()
            && self
                .routes
                .iter()
                .any(|(n, d, g)| *n == ns && *d == dest && *g == gw)
    }
}

/// `ns/link`, `/link` for the root namespace's.
fn at(ns: &str, link: &str) -> String {
    if ns == ROOT_NS {
        format!("/{link}")
    } else {
        format!("{ns}/{link}")
    }
}

fn or_none(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("none")
}

/// Compares the lab at its last commit (`then`) with the lab now. What
/// the journal's own check reports — a namespace missing or replaced, a
/// recorded link, address or route missing — is left to it, so nothing
/// is said twice.
pub fn compare(then: &Snapshot, now: &Snapshot, objects: &[Object]) -> Changes {
    let recorded = Recorded::new(objects);
    let mut out = Changes::default();
    for t in &then.namespaces {
        // A namespace gone or replaced is the journal check's to report.
        if let Some(n) = now.namespaces.iter().find(|n| n.name == t.name) {
            compare_ns(t, n, &recorded, &mut out);
        }
    }
    for line in out.drift.iter_mut().chain(out.carrier.iter_mut()) {
        *line = printable(line);
    }
    out
}

fn compare_ns(then: &NsState, now: &NsState, recorded: &Recorded, out: &mut Changes) {
    let ns = then.name.as_str();
    // Links by interface index: the kernel never reuses one while the
    // link lives, and a rename keeps it.
    let mut matched: HashSet<u32> = HashSet::new();
    // Addresses added or removed per link (now's name), and links set up
    // or down, to tell which kernel routes only followed them.
    let mut moved_addrs: Vec<(String, Cidr)> = Vec::new();
    let mut switched: Vec<&str> = Vec::new();
    // Indexed once: a forged snapshot may list links by the hundred
    // thousand, and a search per link (and per route) would be quadratic.
    let now_by_index: std::collections::HashMap<u32, &LinkState> =
        now.links.iter().map(|l| (l.index, l)).collect();
    let names_then: HashSet<&str> = then.links.iter().map(|l| l.name.as_str()).collect();
    let names_now: HashSet<&str> = now.links.iter().map(|l| l.name.as_str()).collect();
    for t in &then.links {
        let Some(&n) = now_by_index.get(&t.index) else {
            if !recorded.link(ns, &t.name) {
                out.drift.push(format!(
                    "{}: gone (interface {} is not there)",
                    at(ns, &t.name),
                    t.index
                ));
            }
            continue;
        };
        matched.insert(n.index);
        if n.name != t.name && !recorded.link(ns, &t.name) {
            out.drift
                .push(format!("{}: renamed to {}", at(ns, &t.name), n.name));
        }
        if t.admin_up != n.admin_up {
            switched.push(&n.name);
        }
        compare_link(ns, t, n, recorded, out, &mut moved_addrs);
    }
    for n in now.links.iter().filter(|n| !matched.contains(&n.index)) {
        if !recorded.link(ns, &n.name) {
            out.drift.push(format!(
                "{}: added ({} interface {}, not there at commit)",
                at(ns, &n.name),
                n.kind.as_deref().unwrap_or("a"),
                n.index
            ));
        }
    }
    // Routes of links on one side only follow the link's coming or going;
    // kernel routes follow their addresses, and their link going down or
    // up (IPv4 drops a link's routes when it goes down).
    let on_both = |r: &RouteState| {
        r.dev
            .as_deref()
            .is_none_or(|d| names_then.contains(d) && names_now.contains(d))
    };
    let follows_address = |r: &RouteState| {
        r.protocol == "kernel"
            && (r.dev.as_deref().is_some_and(|d| switched.contains(&d))
                || moved_addrs.iter().any(|(dev, c)| {
                    r.dev.as_deref() == Some(dev.as_str())
                        && Cidr::parse(&r.destination, "route", true)
                            .is_ok_and(|d| d == c.network())
                }))
    };
    let (t_routes, n_routes): (HashSet<&RouteState>, HashSet<&RouteState>) =
        (then.routes.iter().collect(), now.routes.iter().collect());
    for r in then.routes.iter().filter(|r| !n_routes.contains(r)) {
        if on_both(r) && !follows_address(r) && !recorded.route(ns, r) {
            out.drift
                .push(format!("{}: route {} removed", ns_label(ns), r.text()));
        }
    }
    for r in now.routes.iter().filter(|r| !t_routes.contains(r)) {
        if on_both(r) && !follows_address(r) && !recorded.route(ns, r) {
            out.drift
                .push(format!("{}: route {} added", ns_label(ns), r.text()));
        }
    }
}

fn ns_label(ns: &str) -> &str {
    if ns == ROOT_NS { "/ (root)" } else { ns }
}

fn compare_link(
    ns: &str,
    t: &LinkState,
    n: &LinkState,
    recorded: &Recorded,
    out: &mut Changes,
    moved_addrs: &mut Vec<(String, Cidr)>,
) {
    let here = at(ns, &n.name);
    let mut changed = |what: &str, a: &str, b: &str| {
        if a != b {
            out.drift.push(format!("{here}: {what} {a} → {b}"));
        }
    };
    changed("kind", or_none(&t.kind), or_none(&n.kind));
    changed(
        "macvlan mode",
        or_none(&t.macvlan_mode),
        or_none(&n.macvlan_mode),
    );
    changed("parent", or_none(&t.parent), or_none(&n.parent));
    changed("peer", or_none(&t.peer), or_none(&n.peer));
    changed("vxlan", or_none(&t.vxlan), or_none(&n.vxlan));
    changed("master", or_none(&t.master), or_none(&n.master));
    changed("mac", or_none(&t.mac), or_none(&n.mac));
    changed("mtu", &t.mtu.to_string(), &n.mtu.to_string());
    let state = |up: bool| if up { "up" } else { "down" };
    changed("admin", state(t.admin_up), state(n.admin_up));
    if t.oper_state != n.oper_state {
        out.carrier
            .push(format!("{here}: oper {} → {}", t.oper_state, n.oper_state));
    }
    for a in t.addresses.iter().filter(|a| !n.addresses.contains(a)) {
        if let Ok(c) = Cidr::parse(a, "address", false) {
            moved_addrs.push((n.name.clone(), c));
        }
        if !recorded.addr(ns, &t.name, a) {
            out.drift.push(format!("{here}: address {a} removed"));
        }
    }
    for a in n.addresses.iter().filter(|a| !t.addresses.contains(a)) {
        if let Ok(c) = Cidr::parse(a, "address", false) {
            moved_addrs.push((n.name.clone(), c));
        }
        if !recorded.addr(ns, &n.name, a) {
            out.drift.push(format!("{here}: address {a} added"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(index: u32, name: &str) -> LinkState {
        LinkState {
            index,
            name: name.into(),
            kind: Some("veth".into()),
            macvlan_mode: None,
            parent: None,
            peer: Some("v1@b".into()),
            vxlan: None,
            master: None,
            mac: Some("02:00:00:00:00:01".into()),
            mtu: 1500,
            admin_up: true,
            oper_state: "up".into(),
            addresses: vec!["10.0.0.1/24".into()],
        }
    }

    fn route(dest: &str, gw: Option<&str>, dev: &str, proto: &str) -> RouteState {
        RouteState {
            destination: dest.into(),
            gateway: gw.map(Into::into),
            dev: Some(dev.into()),
            metric: None,
            protocol: proto.into(),
            scope: if gw.is_some() { "universe" } else { "link" }.into(),
            source: None,
        }
    }

    fn lab(links: Vec<LinkState>, routes: Vec<RouteState>) -> Snapshot {
        Snapshot {
            schema: SCHEMA.into(),
            lab: "t".into(),
            taken_ms: 0,
            namespaces: vec![NsState {
                name: "a".into(),
                links,
                routes,
            }],
        }
    }

    fn base() -> Snapshot {
        lab(
            vec![link(1, "lo"), link(2, "v0")],
            vec![
                route("10.0.0.0/24", None, "v0", "kernel"),
                route("0.0.0.0/0", Some("10.0.0.254"), "v0", "static"),
            ],
        )
    }

    #[test]
    fn the_same_lab_has_not_drifted() {
        assert_eq!(compare(&base(), &base(), &[]), Changes::default());
    }

    #[test]
    fn every_property_is_compared() {
        let mut now = base();
        let l = &mut now.namespaces[0].links[1];
        l.mtu = 1400;
        l.mac = Some("02:00:00:00:00:99".into());
        l.admin_up = false;
        l.master = Some("br0".into());
        l.oper_state = "lowerlayerdown".into();
        let changes = compare(&base(), &now, &[]);
        assert_eq!(
            changes.drift,
            vec![
                "a/v0: master none → br0",
                "a/v0: mac 02:00:00:00:00:01 → 02:00:00:00:00:99",
                "a/v0: mtu 1500 → 1400",
                "a/v0: admin up → down",
            ]
        );
        assert_eq!(changes.carrier, vec!["a/v0: oper up → lowerlayerdown"]);
    }

    #[test]
    fn addresses_and_routes_added_and_removed() {
        let mut now = base();
        let ns = &mut now.namespaces[0];
        ns.links[1].addresses = vec!["10.0.1.1/24".into()];
        // The kernel's routes follow the addresses: not said again.
        ns.routes = vec![
            route("10.0.1.0/24", None, "v0", "kernel"),
            route("192.0.2.0/24", Some("10.0.1.254"), "v0", "static"),
        ];
        let changes = compare(&base(), &now, &[]);
        assert_eq!(
            changes.drift,
            vec![
                "a/v0: address 10.0.0.1/24 removed",
                "a/v0: address 10.0.1.1/24 added",
                "a: route default via 10.0.0.254 dev v0 proto static removed",
                "a: route 192.0.2.0/24 via 10.0.1.254 dev v0 proto static added",
            ]
        );
    }

    #[test]
    fn links_added_gone_and_renamed() {
        let mut now = base();
        now.namespaces[0].links[1].name = "v9".into();
        now.namespaces[0].links.push(link(7, "dummy0"));
        let changes = compare(&base(), &now, &[]);
        assert_eq!(
            changes.drift,
            vec![
                "a/v0: renamed to v9",
                "a/dummy0: added (veth interface 7, not there at commit)",
            ]
        );
        let mut now = base();
        now.namespaces[0].links.pop();
        now.namespaces[0].routes.clear();
        // The routes went with their link: only the link is reported.
        assert_eq!(
            compare(&base(), &now, &[]).drift,
            vec!["a/v0: gone (interface 2 is not there)"]
        );
    }

    #[test]
    fn what_the_journal_records_is_left_to_its_check() {
        let objects = vec![
            Object::Link {
                ns: "a".into(),
                ns_id: None,
                name: "v0".into(),
                index: Some(2),
                kind: crate::vocab::LinkKind::Veth,
                mode: None,
                parent: None,
                parent_ns: None,
                peer: None,
                peer_ns: None,
                peer_index: None,
                vxlan: None,
                props: Default::default(),
            },
            Object::Addr {
                ns: "a".into(),
                ns_id: None,
                link: "v0".into(),
                index: Some(2),
                cidr: "10.0.0.1/24".into(),
                done: true,
            },
            Object::Route {
                ns: "a".into(),
                ns_id: None,
                destination: "default".into(),
                gateway: Some("10.0.0.254".into()),
                dev: None,
                oif: None,
                metric: None,
                done: true,
            },
        ];
        let mut now = base();
        now.namespaces[0].links[1].addresses.clear();
        now.namespaces[0].routes.remove(1);
        assert_eq!(compare(&base(), &now, &objects), Changes::default());
        now.namespaces[0].links.pop();
        assert_eq!(compare(&base(), &now, &objects), Changes::default());
        // A namespace gone is the journal's to report too.
        now.namespaces.clear();
        assert_eq!(compare(&base(), &now, &objects), Changes::default());
    }

    #[test]
    fn what_a_file_says_is_escaped() {
        let then = base();
        let mut now = base();
        now.namespaces[0].links[1].mac = Some("\x1b[2Jx".into());
        let changes = compare(&then, &now, &[]);
        assert_eq!(
            changes.drift,
            vec!["a/v0: mac 02:00:00:00:00:01 → \\u{1b}[2Jx"]
        );
    }

    #[test]
    fn a_forged_or_foreign_file_is_refused() {
        let held = vec![("a".to_string(), true)];
        let ok = base().to_bytes();
        assert_eq!(Snapshot::parse(&ok, "t", &held).unwrap(), base());
        let bad = |s: Snapshot| Snapshot::parse(&s.to_bytes(), "t", &held).unwrap_err();
        assert!(Snapshot::parse(b"{}", "t", &held).is_err());
        assert!(
            Snapshot::parse(&ok, "other", &held)
                .unwrap_err()
                .contains("lab")
        );
        let mut s = base();
        s.schema = "netwasm.snapshot/9".into();
        assert!(bad(s).contains("schema"));
        let mut s = base();
        s.namespaces[0].name = "elsewhere".into();
        assert!(bad(s).contains("does not hold"));
        let mut s = base();
        s.namespaces[0].links[1].index = 1;
        assert!(bad(s).contains("twice"));
        let mut s = base();
        s.namespaces[0].links[1].name = "x".repeat(16);
        assert!(bad(s).contains("no kernel would"));
        let mut s = base();
        s.namespaces[0].links[1].mac = Some("x".repeat(1000));
        assert!(bad(s).contains("longer"));
        let extra = String::from_utf8(ok).unwrap().replacen('{', "{\"x\":1,", 1);
        assert!(Snapshot::parse(extra.as_bytes(), "t", &held).is_err());
    }
}
