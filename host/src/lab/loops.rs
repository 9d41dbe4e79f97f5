//! Layer-2 loops: refused before they exist.
//!
//! A loop of bridges floods every broadcast around forever, and the kernel
//! forwards it in softirq context at the expense of the whole machine: two
//! guest bridges joined by two veth pairs and a single ARP took ~78 % of a
//! core here, and went on after the run that built them ended. Spanning
//! tree would stop it, but the kernel's holds every new port back for at
//! least 4 s (two forward delays of 2 s, its minimum), which no lab that
//! pings right after building itself can live with. So netwasm refuses the
//! step that would close a loop:
//!
//! - making a link a bridge port when it is already connected to that
//!   bridge (through veth pairs, macvlan parents and children, and other
//!   bridges): the new port would be a second path;
//! - hairpin on a port whose far side reaches another bridge: hairpin sends
//!   floods back out of the port they came in by, and two bridges that do
//!   so to each other pass a frame back and forth forever. (Hairpin facing
//!   endpoints, such as a VEPA switch port facing macvlan children, is what
//!   it is for, and stays allowed.)
//!
//! The graph is the links this lab holds, with the relations the kernel
//! reported for them and those the lab made since. A vxlan's far side is
//! whatever vxlans its packets reach, which the lab cannot see: it counts
//! as a link whose far side is out of sight (not as a layer-2 neighbour
//! of its device, which carries its packets, not its frames). Links the lab does not
//! hold are not in it: a loop that closes through bridges and ports the
//! lab neither made nor was handed (a granted namespace's own topology) is
//! not seen. README "Layer-2 loops" says so.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Lab, LinkKey};
use crate::error::OpError;
use crate::vocab::LinkInfo;

/// What the loop check knows about one link.
#[derive(Debug, Clone, Default)]
pub(super) struct L2 {
    pub bridge: bool,
    /// The link it hangs off, by namespace and index: a macvlan's parent,
    /// a veth's peer.
    pub lower: Option<(String, u32)>,
    /// Whether it has a lower link the lab cannot see (a veth's peer or a
    /// macvlan's parent in a namespace it does not hold).
    pub lower_unseen: bool,
    /// Its bridge, by index in its own namespace (not by name: a name may
    /// have passed to another link since).
    pub master: Option<u32>,
    pub hairpin: bool,
    /// A vxlan: `lower` is its device, which it dies with, and its
    /// layer-2 far side is out of sight.
    pub tunnel: bool,
    /// The namespace a vxlan the lab made has its tunnel in: the vxlan
    /// dies with it, wherever it was moved since.
    pub tunnel_ns: Option<String>,
}

impl L2 {
    /// What a kernel report says. A lower link the kernel could not name
    /// (it lives in a namespace the lab does not hold) is left out.
    pub fn from_info(info: &LinkInfo) -> Self {
        if let Some(v) = &info.vxlan {
            return Self {
                lower: v
                    .device
                    .zip(v.device_name.as_ref())
                    .map(|(i, _)| (info.namespace.clone(), i)),
                master: info.master_index,
                hairpin: info.hairpin.unwrap_or(false),
                tunnel: true,
                ..Self::default()
            };
        }
        let lower = match (info.parent_index, &info.parent_name) {
            (Some(i), Some(_)) => Some((
                info.parent_namespace
                    .clone()
                    .unwrap_or_else(|| info.namespace.clone()),
                i,
            )),
            _ => None,
        };
        let lower_unseen = lower.is_none()
            && (info.parent_index.is_some()
                || matches!(info.kind.as_deref(), Some("veth" | "macvlan")));
        Self {
            bridge: info.kind.as_deref() == Some("bridge"),
            lower,
            lower_unseen,
            master: info.master_index,
            hairpin: info.hairpin.unwrap_or(false),
            tunnel: false,
            tunnel_ns: None,
        }
    }
}

/// The links the lab holds as an undirected graph.
struct Graph {
    edges: HashMap<LinkKey, Vec<LinkKey>>,
    /// Links whose lower link the lab does not hold: what lies beyond them
    /// is out of sight.
    unseen: HashSet<LinkKey>,
}

impl Graph {
    fn connect(&mut self, a: LinkKey, b: LinkKey) {
        self.edges.entry(a).or_default().push(b);
        self.edges.entry(b).or_default().push(a);
    }

    /// The links reachable from `from` without passing through `avoid`.
    fn reach(&self, from: LinkKey, avoid: Option<LinkKey>) -> HashSet<LinkKey> {
        let mut seen = HashSet::from([from]);
        let mut queue = VecDeque::from([from]);
        while let Some(k) = queue.pop_front() {
            for &next in self.edges.get(&k).map(Vec::as_slice).unwrap_or_default() {
                if Some(next) != avoid && seen.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        seen
    }
}

impl Lab {
    /// The graph of held links, with `port`'s bridge edge left out (a port
    /// moved to another bridge leaves its old one).
    fn graph(&self, without_master_of: Option<LinkKey>) -> Graph {
        let by_index: HashMap<(&str, u32), LinkKey> = self
            .links
            .iter()
            .map(|(k, l)| ((l.ns.as_str(), l.index), *k))
            .collect();
        let mut g = Graph {
            edges: HashMap::new(),
            unseen: HashSet::new(),
        };
        for (k, l) in &self.links {
            if l.l2.tunnel {
                g.unseen.insert(*k);
            }
            match &l.l2.lower {
                _ if l.l2.tunnel => {}
                Some((ns, i)) => match by_index.get(&(ns.as_str(), *i)) {
                    Some(&lower) => g.connect(*k, lower),
                    None => {
                        g.unseen.insert(*k);
                    }
                },
                None if l.l2.lower_unseen => {
                    g.unseen.insert(*k);
                }
                None => {}
            }
            if Some(*k) != without_master_of
                && let Some(m) = l.l2.master
                && let Some(&master) = by_index.get(&(l.ns.as_str(), m))
            {
                g.connect(*k, master);
            }
        }
        g
    }

    fn is_bridge(&self, k: LinkKey) -> bool {
        self.links.get(&k).is_some_and(|l| l.l2.bridge)
    }

    /// Whether a hairpin port `port` of `bridge` faces another bridge in
    /// `g`; which one.
    fn faces_a_bridge(&self, g: &Graph, port: LinkKey, bridge: LinkKey) -> Option<LinkKey> {
        g.reach(port, Some(bridge))
            .into_iter()
            .find(|k| *k != port && *k != bridge && self.is_bridge(*k))
    }

    /// Refuses making `port` a port of `bridge` when that closes a loop.
    pub(super) fn check_no_loop(
        &self,
        port: LinkKey,
        bridge: LinkKey,
        what: &str,
    ) -> Result<(), OpError> {
        let mut g = self.graph(Some(port));
        let from_port = g.reach(port, None);
        if from_port.contains(&bridge) {
            return Err(OpError::denied(format!(
                "{what}: the two are connected already (through veth pairs, macvlans or bridges), so this port would be a second path between them: a layer-2 loop, which netwasm never builds (README: Layer-2 loops)"
            )));
        }
        // Where both sides reach links whose far side the lab cannot see,
        // they may already meet out of sight: fail closed.
        let unseen = |set: &HashSet<LinkKey>| set.iter().find(|k| g.unseen.contains(k)).copied();
        if let (Some(a), Some(b)) = (unseen(&from_port), unseen(&g.reach(bridge, None))) {
            return Err(OpError::denied(format!(
                "{what}: {} and {} lead to links the lab does not hold (or are vxlans, whose far ends it cannot see), so netwasm cannot tell whether this port closes a layer-2 loop through them (README: Layer-2 loops)",
                self.desc_link(a),
                self.desc_link(b)
            )));
        }
        g.connect(port, bridge);
        for (k, l) in &self.links {
            if !l.l2.hairpin {
                continue;
            }
            let master = if *k == port {
                Some(bridge)
            } else {
                l.l2.master.and_then(|m| self.find_link(&l.ns, m))
            };
            if let Some(master) = master
                && let Some(other) = self.faces_a_bridge(&g, *k, master)
            {
                return Err(OpError::denied(format!(
                    "{what}: hairpin port {} would then face bridge {}, and two bridges that send floods back to each other pass them back and forth forever (README: Layer-2 loops)",
                    self.desc_link(*k),
                    self.desc_link(other)
                )));
            }
        }
        Ok(())
    }

    /// Refuses hairpin on `port` when its far side reaches another bridge.
    pub(super) fn check_hairpin(&self, port: LinkKey, what: &str) -> Result<(), OpError> {
        let Some(l) = self.links.get(&port) else {
            return Ok(());
        };
        let Some(master) = l.l2.master.and_then(|m| self.find_link(&l.ns, m)) else {
            return Ok(());
        };
        let g = self.graph(None);
        if let Some(other) = self.faces_a_bridge(&g, port, master) {
            return Err(OpError::denied(format!(
                "{what}: the port faces bridge {}; hairpin there would send floods back into a bridge that floods them back (a layer-2 loop, which netwasm never builds; README: Layer-2 loops)",
                self.desc_link(other)
            )));
        }
        Ok(())
    }
}
