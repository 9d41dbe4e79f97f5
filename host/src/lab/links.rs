//! Links: look-ups, macvlan, veth, bridge and vxlan creation, changes,
//! moves, deletion.

use super::gate::is_root;
use std::collections::HashSet;

use serde_json::{Value, json};

use super::gate::Quota;
use super::{Lab, LinkKey, MacvlanConfig, Origin, VxlanConfig, desc_ns};
use crate::error::{Failure, HostResult, OpError};
use crate::ledger::LinkSetting;
use crate::ledger::{Entry, VxlanRecord};
use crate::policy::Policy;
use crate::vocab::Operation;
use crate::vocab::net::{Mac, check_link_name, check_mtu, parse_ip};
use crate::vocab::{
    LinkChange, LinkInfo, LinkKind, MacvlanMode, NewLink, NewLinkKind, NsId, VNI_MAX, VXLAN_PORT,
    Vxlan, pick_ifindex,
};

/// A checked new link, ready to be created once its namespace is known.
pub(super) struct PlannedLink {
    name: String,
    /// The interface index chosen for it (see [`pick_ifindex`]).
    pub index: u32,
    /// A macvlan's parent, by namespace and index (for the loop check: the
    /// kernel's report of a new link does not say where its parent is).
    pub lower: Option<(String, u32)>,
    kind: NewLinkKind,
    mac: Option<Mac>,
    mtu: Option<u32>,
    /// Whether to create it up (a batch folds a plan's `up` into creation).
    pub up: bool,
    /// What to journal before creating it.
    pub entry: Entry,
    /// What creating it is called in an error.
    pub op: String,
}

impl PlannedLink {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn new_link(&self, ns: NsId) -> NewLink {
        NewLink {
            name: self.name.clone(),
            ns,
            index: Some(self.index),
            kind: self.kind.clone(),
            mac: self.mac,
            mtu: self.mtu,
            up: self.up,
        }
    }
}

impl Lab {
    pub async fn link_get(&mut self, ns: &str, name: &str) -> HostResult<LinkKey> {
        self.op(
            Operation::LinkGet,
            json!({ "namespace": ns, "name": name }),
            async |lab| {
                check_link_name(name)?;
                let entry = lab.ns(ns)?;
                let (id, origin) = (entry.id, entry.origin);
                // Before the look-up: a guest learns nothing of links it is
                // not granted, not even whether they exist.
                if origin != Origin::Created && !lab.link_visible(ns, None, name) {
                    lab.policy.check_link_visible(ns, name, is_root(ns))?;
                }
                let info = lab.kernel.link_by_name(id, name).await.map_err(|e| {
                    Self::kernel_err(format!("get link {name:?} in {}", desc_ns(ns)), e)
                })?;
                // Seen by its name as one of the lab's own: it must be that
                // link still (its index), not one that took the name since.
                if origin != Origin::Created
                    && !lab.policy.link_granted(ns, name, is_root(ns))
                    && !lab
                        .find_link(ns, info.index)
                        .is_some_and(|k| lab.links[&k].origin == Origin::Created)
                {
                    lab.policy.check_link_visible(ns, name, is_root(ns))?;
                }
                if let Some(key) = lab.find_link(ns, info.index) {
                    return Ok(key);
                }
                // A link found in a namespace the lab created is the lab's: it
                // lives and dies with the namespace (`lo`, for one).
                Ok(lab.hold_found(ns, &info, origin))
            },
        )
        .await
    }

    pub async fn link_list(&mut self, ns: &str) -> HostResult<Vec<LinkInfo>> {
        self.op(
            Operation::LinkList,
            json!({ "namespace": ns }),
            async |lab| {
                let id = lab.ns_id(ns)?;
                let mut links =
                    lab.kernel.link_list(id).await.map_err(|e| {
                        Self::kernel_err(format!("list links in {}", desc_ns(ns)), e)
                    })?;
                if lab.ns(ns)?.origin != Origin::Created {
                    links.retain(|l| lab.link_visible(ns, Some(l.index), &l.name));
                }
                Ok(links.into_iter().map(|l| lab.redact(l)).collect())
            },
        )
        .await
    }

    pub async fn link_info(&mut self, key: LinkKey) -> HostResult<LinkInfo> {
        let desc = self.desc_link(key);
        self.op(Operation::LinkInfo, json!({ "link": desc }), async |lab| {
            let link = lab.link(key)?.clone();
            let id = lab.ns_id(&link.ns)?;
            let info = lab
                .kernel
                .link_by_index(id, link.index)
                .await
                .map_err(|e| Self::kernel_err(format!("get {desc}"), e))?;
            Ok(lab.redact(info))
        })
        .await
    }

    /// Whether the guest may see link `name` (with `index`, when known) of
    /// namespace `ns`: any link of a namespace the lab created, else only
    /// the links the policy grants there and those the lab created.
    pub(super) fn link_visible(&self, ns: &str, index: Option<u32>, name: &str) -> bool {
        match self.namespaces.get(ns) {
            Some(e) if e.origin == Origin::Created => return true,
            Some(_) => {}
            None => return false,
        }
        if self.policy.link_granted(ns, name, is_root(ns)) {
            return true;
        }
        self.adopted_links
            .iter()
            .any(|(n, i, l)| n == ns && l == name && index.is_none_or(|x| x == *i))
            || self.links.values().any(|l| {
                l.ns == ns
                    && l.origin == Origin::Created
                    && index.map_or(l.name == name, |i| l.index == i)
            })
    }

    /// `info` without the names of links the guest may not see: a granted
    /// link's lower link or veth peer, and its bridge.
    pub(super) fn redact(&self, mut info: LinkInfo) -> LinkInfo {
        let parent_ns = info
            .parent_namespace
            .clone()
            .unwrap_or_else(|| info.namespace.clone());
        let parent_seen = info
            .parent_name
            .as_deref()
            .is_some_and(|p| self.link_visible(&parent_ns, info.parent_index, p));
        if !parent_seen {
            info.parent_index = None;
            info.parent_name = None;
            info.parent_namespace = None;
        }
        if let Some(m) = &info.master
            && !self.link_visible(&info.namespace, None, m)
        {
            info.master = None;
        }
        if let Some(v) = &mut info.vxlan
            && v.device_name
                .as_deref()
                .is_none_or(|d| !self.link_visible(&info.namespace, v.device, d))
        {
            v.device = None;
            v.device_name = None;
        }
        info
    }

    /// Whether the lab owns link `name` (index `index`) of `ns`: it created
    /// the link, or the namespace.
    fn owns_link(&self, ns: &str, index: u32, name: &str) -> bool {
        self.namespaces
            .get(ns)
            .is_some_and(|e| e.origin == Origin::Created)
            || self
                .find_link(ns, index)
                .is_some_and(|k| self.links[&k].origin == Origin::Created)
            || self
                .adopted_links
                .contains(&(ns.to_string(), index, name.to_string()))
    }

    /// `what`, done to macvlan `info`, lands on its parent: allowed when the
    /// lab owns the parent, else as [`Policy::check_takeover`] says.
    fn check_parent_takeover(&self, info: &LinkInfo, what: &str) -> Result<(), OpError> {
        let parent_ns = info
            .parent_namespace
            .clone()
            .unwrap_or_else(|| info.namespace.clone());
        let (Some(index), Some(name)) = (info.parent_index, info.parent_name.as_deref()) else {
            return Err(OpError::denied(format!(
                "{what}: takes over its parent link, which is in a namespace this run does not hold; open that namespace first"
            )));
        };
        if self.owns_link(&parent_ns, index, name) {
            return Ok(());
        }
        self.policy
            .check_takeover(&parent_ns, name, is_root(&parent_ns), what)
    }

    /// Name and namespace of a link handle, without asking the kernel.
    pub fn link_names(&self, key: LinkKey) -> Result<(String, String), OpError> {
        let l = self.link(key)?;
        Ok((l.name.clone(), l.ns.clone()))
    }

    pub async fn add_macvlan(
        &mut self,
        parent: LinkKey,
        config: MacvlanConfig,
        target: Option<String>,
    ) -> HostResult<LinkKey> {
        let args = json!({
            "parent": self.desc_link(parent),
            "name": config.name,
            "mode": config.mode.map(|m| m.as_str()),
            "mac": config.mac,
            "mtu": config.mtu,
            "target": target,
        });
        self.op(Operation::LinkAddMacvlan, args, async |lab| {
            lab.add_macvlan_inner(parent, config, target).await
        })
        .await
    }

    pub async fn add_macvlan_on(
        &mut self,
        ns: &str,
        parent: &str,
        config: MacvlanConfig,
        target: Option<String>,
    ) -> HostResult<LinkKey> {
        let args = json!({
            "namespace": ns,
            "parent": parent,
            "name": config.name,
            "mode": config.mode.map(|m| m.as_str()),
            "mac": config.mac,
            "mtu": config.mtu,
            "target": target,
        });
        self.op(Operation::LinkAddMacvlan, args, async |lab| {
            let key = lab.macvlan_parent(ns, parent).await?;
            lab.add_macvlan_inner(key, config, target).await
        })
        .await
    }

    /// The link `parent` of namespace `ns`, to put a macvlan on, held by
    /// the lab from now on (as `link.get` would hold it).
    pub(super) async fn macvlan_parent(&mut self, ns: &str, parent: &str) -> HostResult<LinkKey> {
        check_link_name(parent)?;
        let id = self.ns_id(ns)?;
        if self.ns(ns)?.origin != Origin::Created && !self.link_visible(ns, None, parent) {
            // Before the look-up: a guest learns nothing of links it is not
            // granted, not even whether they exist.
            self.policy.check_parent(ns, parent, is_root(ns))?;
        }
        let info = self.kernel.link_by_name(id, parent).await.map_err(|e| {
            Self::kernel_err(format!("find parent link {parent:?} in {}", desc_ns(ns)), e)
        })?;
        Ok(match self.find_link(ns, info.index) {
            Some(k) => k,
            None => {
                let origin = self.ns(ns)?.origin;
                self.hold_found(ns, &info, origin)
            }
        })
    }

    async fn add_macvlan_inner(
        &mut self,
        parent: LinkKey,
        config: MacvlanConfig,
        target: Option<String>,
    ) -> HostResult<LinkKey> {
        let target_ns = match target {
            Some(t) => t,
            None => self.link(parent)?.ns.clone(),
        };
        let plan = self.macvlan_plan(parent, &config, &target_ns)?;
        let what = format!("create macvlan {:?}", config.name);
        self.create_planned(plan, &target_ns, &what).await
    }

    /// Creates a planned macvlan or bridge in `ns`, a namespace the lab
    /// holds: the target and quota checks, the journal, the kernel call.
    async fn create_planned(
        &mut self,
        plan: PlannedLink,
        ns: &str,
        what: &str,
    ) -> HostResult<LinkKey> {
        self.check_builds_in(ns, what)?;
        self.gate.room(Quota::Links, 1, what)?;
        let spec = plan.new_link(self.ns_id(ns)?);
        let k = self.kernel.clone();
        let created = self
            .journaled(plan.entry, plan.op, k.link_add(&spec))
            .await?;
        self.gate.usage.links += 1;
        let key = self.new_link_entry(&created[0], Origin::Created, true);
        self.set_lower(key, plan.lower);
        Ok(key)
    }

    /// All of creating macvlan `config.name` on `parent` in `target_ns`
    /// but the quota and the kernel call: the argument and policy checks,
    /// the request, the journal entry and the description. The target need
    /// not exist yet (a batch plans macvlans in namespaces it will create).
    pub(super) fn macvlan_plan(
        &self,
        parent: LinkKey,
        config: &MacvlanConfig,
        target_ns: &str,
    ) -> HostResult<PlannedLink> {
        let name = config.name.as_str();
        check_link_name(name)?;
        let mac = config.mac.as_deref().map(Mac::parse_unicast).transpose()?;
        if let Some(mtu) = config.mtu {
            check_mtu(mtu)?;
        }
        let p = self.link(parent)?.clone();
        self.policy.check_kind(LinkKind::Macvlan, name)?;
        self.policy
            .check_macvlan_mode(config.mode.unwrap_or(MacvlanMode::Vepa), name)?;
        let parent_ns_origin = self.ns(&p.ns)?.origin;
        let mode = config.mode.unwrap_or(MacvlanMode::Vepa);
        if p.origin != Origin::Created && parent_ns_origin != Origin::Created {
            self.policy.check_parent(&p.ns, &p.name, is_root(&p.ns))?;
            // The kernel puts a macvlan made on a macvlan on that one's own
            // parent, which is not the link the policy granted.
            if p.kind.as_deref() == Some("macvlan") {
                return Err(OpError::denied(format!(
                    "create macvlan {name:?} on link {:?} in {}: that link is itself a macvlan, so the kernel would make the child on its parent, which the policy does not grant; grant that link as the parent instead",
                    p.name,
                    desc_ns(&p.ns)
                ))
                .into());
            }
            // Passthru gives the child the parent itself: the parent turns
            // promiscuous, every frame it receives goes to the child, the
            // child's MAC changes become the parent's, and no other child
            // can be added. (A macvlan on a macvlan is made on the lower
            // link, but passthru then fails: the lower link has a child.)
            if mode == MacvlanMode::Passthru {
                self.policy.check_takeover(
                    &p.ns,
                    &p.name,
                    is_root(&p.ns),
                    &format!("create macvlan {name:?} in mode passthru"),
                )?;
            }
        }
        let op = format!(
            "create macvlan {name:?} on {:?} in {}{}",
            p.name,
            desc_ns(&p.ns),
            if target_ns != p.ns {
                format!(" into {}", desc_ns(target_ns))
            } else {
                String::new()
            }
        );
        let index = pick_ifindex();
        // On a macvlan, the kernel makes the child on that one's own parent:
        // that is the link it hangs off, and the one the journal names, so
        // that the child is forgotten only when that one goes.
        let lower = match (&p.kind, &p.l2.lower) {
            (Some(k), Some(lower)) if k == "macvlan" => lower.clone(),
            _ => (p.ns.clone(), p.index),
        };
        let (parent_name, parent_ns) = match self.find_link(&lower.0, lower.1) {
            Some(k) => {
                let l = self.link(k)?;
                (l.name.clone(), l.ns.clone())
            }
            None => (p.name.clone(), p.ns.clone()),
        };
        let entry = Entry::LinkAdd {
            ns: target_ns.to_string(),
            name: name.to_string(),
            index: Some(index),
            kind: LinkKind::Macvlan,
            mode: config.mode.or(Some(MacvlanMode::Vepa)),
            parent: Some(parent_name),
            parent_ns: Some(parent_ns),
            peer: None,
            peer_ns: None,
            peer_index: None,
            vxlan: None,
        };
        Ok(PlannedLink {
            name: name.to_string(),
            index,
            lower: Some(lower),
            kind: NewLinkKind::Macvlan {
                parent_ns: self.ns_id(&p.ns)?,
                parent: p.index,
                mode: config.mode,
            },
            mac,
            mtu: config.mtu,
            up: false,
            entry,
            op,
        })
    }

    pub async fn add_veth(
        &mut self,
        ns: &str,
        name: &str,
        peer_ns: &str,
        peer_name: &str,
    ) -> HostResult<(LinkKey, LinkKey)> {
        let args = json!({ "namespace": ns, "name": name, "peer-namespace": peer_ns, "peer-name": peer_name });
        self.op(Operation::LinkAddVeth, args, async |lab| {
            check_link_name(name)?;
            check_link_name(peer_name)?;
            if ns == peer_ns && name == peer_name {
                return Err(OpError::invalid(format!(
                    "create veth {name:?}: both ends have the same name in the same namespace"
                ))
                .into());
            }
            lab.policy.check_kind(LinkKind::Veth, name)?;
            lab.check_builds_in(ns, &format!("create veth {name:?}"))?;
            lab.check_builds_in(peer_ns, &format!("create veth peer {peer_name:?}"))?;
            lab.gate
                .room(Quota::Links, 2, &format!("create veth {name:?}"))?;
            let (index, peer_index) = (pick_ifindex(), pick_ifindex());
            let spec = NewLink {
                name: name.to_string(),
                ns: lab.ns_id(ns)?,
                index: Some(index),
                kind: NewLinkKind::Veth {
                    peer_name: peer_name.to_string(),
                    peer_ns: lab.ns_id(peer_ns)?,
                    peer_index: Some(peer_index),
                },
                mac: None,
                mtu: None,
                up: false,
            };
            let op = format!(
                "create veth {name:?} in {} with peer {peer_name:?} in {}",
                desc_ns(ns),
                desc_ns(peer_ns)
            );
            let entry = Entry::LinkAdd {
                ns: ns.to_string(),
                name: name.to_string(),
                index: Some(index),
                kind: LinkKind::Veth,
                mode: None,
                parent: None,
                parent_ns: None,
                peer: Some(peer_name.to_string()),
                peer_ns: Some(peer_ns.to_string()),
                peer_index: Some(peer_index),
                vxlan: None,
            };
            let k = lab.kernel.clone();
            let created = lab.journaled(entry, op, k.link_add(&spec)).await?;
            lab.gate.usage.links += 2;
            let a = lab.new_link_entry(&created[0], Origin::Created, true);
            let b = lab.new_link_entry(&created[1], Origin::Created, true);
            // Each end hangs off the other (the kernel's report of a new
            // pair does not say in which namespace the peer is).
            for (end, other_ns, other) in [(a, peer_ns, &created[1]), (b, ns, &created[0])] {
                if let Some(l) = lab.links.get_mut(&end) {
                    l.l2.lower = Some((other_ns.to_string(), other.index));
                    l.l2.lower_unseen = false;
                }
            }
            Ok((a, b))
        })
        .await
    }

    pub async fn add_bridge(&mut self, ns: &str, name: &str) -> HostResult<LinkKey> {
        self.op(
            Operation::LinkAddBridge,
            json!({ "namespace": ns, "name": name }),
            async |lab| {
                let plan = Self::bridge_plan(&lab.policy, ns, name)?;
                lab.create_planned(plan, ns, &format!("create bridge {name:?}"))
                    .await
            },
        )
        .await
    }

    /// All of creating bridge `name` in `ns` but the target check, the
    /// quota and the kernel call (see [`Lab::macvlan_plan`]).
    pub(super) fn bridge_plan(policy: &Policy, ns: &str, name: &str) -> HostResult<PlannedLink> {
        check_link_name(name)?;
        policy.check_kind(LinkKind::Bridge, name)?;
        let index = pick_ifindex();
        Ok(PlannedLink {
            name: name.to_string(),
            index,
            lower: None,
            kind: NewLinkKind::Bridge,
            mac: None,
            mtu: None,
            up: false,
            entry: Entry::LinkAdd {
                ns: ns.to_string(),
                name: name.to_string(),
                index: Some(index),
                kind: LinkKind::Bridge,
                mode: None,
                parent: None,
                parent_ns: None,
                peer: None,
                peer_ns: None,
                peer_index: None,
                vxlan: None,
            },
            op: format!("create bridge {name:?} in {}", desc_ns(ns)),
        })
    }

    pub async fn add_vxlan(
        &mut self,
        ns: &str,
        name: &str,
        config: VxlanConfig,
    ) -> HostResult<LinkKey> {
        let args = vxlan_args(ns, name, &config);
        self.op(Operation::LinkAddVxlan, args, async |lab| {
            let what = format!("create vxlan {name:?}");
            let tunnel = Self::vxlan_tunnel(&lab.policy, name, &config)?;
            // Before the device is looked up: a guest learns nothing of a
            // namespace it may not build in.
            lab.check_builds_in(ns, &what)?;
            let device = match &config.device {
                Some(d) => {
                    let key = lab.vxlan_device(ns, d, name).await?;
                    let l = lab.link(key)?;
                    Some((l.name.clone(), l.index))
                }
                None => None,
            };
            let plan = Self::vxlan_plan(ns, name, tunnel, device);
            let key = lab.create_planned(plan, ns, &what).await?;
            if let Some(l) = lab.links.get_mut(&key) {
                l.l2.tunnel_ns = Some(ns.to_string());
            }
            Ok(key)
        })
        .await
    }

    /// The tunnel `config` asks for, checked: the arguments (what the
    /// kernel would refuse or read otherwise than meant), then the policy.
    /// Its device is for the caller to find.
    pub(super) fn vxlan_tunnel(
        policy: &Policy,
        name: &str,
        config: &VxlanConfig,
    ) -> HostResult<Vxlan> {
        check_link_name(name)?;
        let bad = |why: String| OpError::invalid(format!("create vxlan {name:?}: {why}"));
        if config.id > VNI_MAX {
            return Err(bad(format!(
                "VNI {} is out of range: a VNI has 24 bits (0 to {VNI_MAX})",
                config.id
            ))
            .into());
        }
        let addr = |s: &Option<String>, what: &str| {
            s.as_deref()
                .map(|s| parse_ip(s, what).map_err(|e| bad(e.message)))
                .transpose()
        };
        let local = addr(&config.local, "local")?;
        let remote = addr(&config.remote, "remote")?;
        let group = addr(&config.group, "group")?;
        if remote.is_some() && group.is_some() {
            return Err(bad("give a remote or a group, not both".into()).into());
        }
        if let Some(l) = local
            && (l.is_unspecified() || l.is_multicast())
        {
            return Err(bad(format!("local {l} is not a unicast address")).into());
        }
        if let Some(r) = remote
            && (r.is_unspecified() || r.is_multicast())
        {
            return Err(bad(format!(
                "remote {r} is not a unicast address (a multicast one is a group)"
            ))
            .into());
        }
        if let Some(g) = group
            && !g.is_multicast()
        {
            return Err(bad(format!(
                "group {g} is not a multicast address (a unicast one is a remote)"
            ))
            .into());
        }
        if let (Some(l), Some(d)) = (local, remote.or(group))
            && l.is_ipv4() != d.is_ipv4()
        {
            return Err(bad(format!("local {l} and {d} are of different families")).into());
        }
        if group.is_some() && config.device.is_none() {
            return Err(bad("a group needs a device to join it on".into()).into());
        }
        // 0 would have the kernel pick its own default, 8472.
        let port = match config.port {
            Some(0) => return Err(bad("port 0 is no port".into()).into()),
            Some(p) => p,
            None => VXLAN_PORT,
        };
        policy.check_kind(LinkKind::Vxlan, name)?;
        policy.check_vxlan(
            name,
            config.id,
            port,
            local.as_ref(),
            remote.as_ref(),
            group.as_ref(),
        )?;
        Ok(Vxlan {
            id: config.id,
            local,
            remote,
            group,
            device: None,
            device_name: None,
            port,
            learning: config.learning.unwrap_or(true),
            ttl: config.ttl.unwrap_or(0),
        })
    }

    /// The link `device` of namespace `ns`, for vxlan `vxlan` to send by,
    /// held by the lab from now on: one it owns, or one the policy grants
    /// as it grants macvlan parents.
    async fn vxlan_device(&mut self, ns: &str, device: &str, vxlan: &str) -> HostResult<LinkKey> {
        check_link_name(device)?;
        let id = self.ns_id(ns)?;
        let origin = self.ns(ns)?.origin;
        // Before the look-up: a guest learns nothing of links it is not
        // granted, not even whether they exist.
        if origin != Origin::Created && !self.link_visible(ns, None, device) {
            self.policy.check_device(ns, device, vxlan)?;
        }
        let info = self.kernel.link_by_name(id, device).await.map_err(|e| {
            Self::kernel_err(
                format!(
                    "find device {device:?} for vxlan {vxlan:?} in {}",
                    desc_ns(ns)
                ),
                e,
            )
        })?;
        let key = match self.find_link(ns, info.index) {
            Some(k) => k,
            None => self.hold_found(ns, &info, origin),
        };
        // Seen by its name as one of the lab's own: it must be that link
        // still, not one that took the name since.
        if !self.owns_link(ns, info.index, &info.name) {
            self.policy.check_device(ns, device, vxlan)?;
        }
        Ok(key)
    }

    /// All of creating vxlan `name` in `ns`, on the device of that name and
    /// index there, but the checks, the quota and the kernel call. The
    /// namespace need not exist yet (a batch plans vxlans in namespaces it
    /// will create).
    pub(super) fn vxlan_plan(
        ns: &str,
        name: &str,
        mut tunnel: Vxlan,
        device: Option<(String, u32)>,
    ) -> PlannedLink {
        tunnel.device = device.as_ref().map(|d| d.1);
        let index = pick_ifindex();
        let record = VxlanRecord {
            id: tunnel.id,
            port: tunnel.port,
            local: tunnel.local,
            remote: tunnel.remote,
            group: tunnel.group,
        };
        let mut op = format!("create vxlan {name:?} ({record}) in {}", desc_ns(ns));
        if let Some((d, _)) = &device {
            op += &format!(" on device {d:?}");
        }
        PlannedLink {
            name: name.to_string(),
            index,
            lower: device.as_ref().map(|d| (ns.to_string(), d.1)),
            kind: NewLinkKind::Vxlan(tunnel),
            mac: None,
            mtu: None,
            up: false,
            entry: Entry::LinkAdd {
                ns: ns.to_string(),
                name: name.to_string(),
                index: Some(index),
                kind: LinkKind::Vxlan,
                mode: None,
                parent: device.map(|d| d.0),
                // The namespace of its tunnel, which it dies with.
                parent_ns: Some(ns.to_string()),
                peer: None,
                peer_ns: None,
                peer_index: None,
                vxlan: Some(record),
            },
            op,
        }
    }

    /// Applies one change to a link the lab may change.
    pub async fn link_set(&mut self, key: LinkKey, change: LinkChange) -> HostResult<()> {
        let (op, action, arg) = match &change {
            LinkChange::Up => (Operation::LinkSetUp, "set up".to_string(), Value::Null),
            LinkChange::Down => (Operation::LinkSetDown, "set down".to_string(), Value::Null),
            LinkChange::Mtu(m) => (Operation::LinkSetMtu, format!("set mtu {m} on"), json!(m)),
            LinkChange::Mac(m) => (
                Operation::LinkSetMac,
                format!("set MAC {m} on"),
                json!(m.to_string()),
            ),
            LinkChange::Hairpin(h) => (
                Operation::LinkSetHairpin,
                format!("set hairpin {} on", if *h { "on" } else { "off" }),
                json!(h),
            ),
            LinkChange::Master(_) => (
                Operation::LinkUnsetMaster,
                "remove from its bridge".to_string(),
                Value::Null,
            ),
        };
        let desc = self.desc_link(key);
        self.op(op, json!({ "link": desc, "value": arg }), async |lab| {
            if let LinkChange::Mtu(m) = change {
                check_mtu(m)?;
            }
            lab.check_change(key, &action)?;
            if let LinkChange::Hairpin(true) = change {
                lab.check_hairpin(key, &format!("{action} {desc}"))?;
            }
            let link = lab.link(key)?.clone();
            let id = lab.ns_id(&link.ns)?;
            if link.journaled {
                lab.journal_room(&format!("{action} {desc}"), 1)?;
            }
            // A passthru child applies its state and MAC to its parent. The
            // lab checked the parent when it created the child; a child it
            // did not create this run (granted, or adopted with --attach
            // under another policy) is checked here.
            if matches!(change, LinkChange::Up | LinkChange::Down | LinkChange::Mac(_))
                && (link.origin == Origin::Granted
                    || lab.adopted_links.contains(&(
                        link.ns.clone(),
                        link.index,
                        link.name.clone(),
                    )))
            {
                let info = lab
                    .kernel
                    .link_by_index(id, link.index)
                    .await
                    .map_err(|e| Self::kernel_err(format!("{action} {desc}"), e))?;
                if info.macvlan_mode == Some(MacvlanMode::Passthru) {
                    lab.check_parent_takeover(
                        &info,
                        &format!("{action} {desc}, a passthru macvlan (its parent takes the change)"),
                    )?;
                }
            }
            if let LinkChange::Hairpin(_) = change {
                let info = lab
                    .kernel
                    .link_by_index(id, link.index)
                    .await
                    .map_err(|e| Self::kernel_err(format!("{action} {desc}"), e))?;
                if info.master.is_none() {
                    return Err(OpError::invalid(format!(
                        "{action} {desc}: the link is not a bridge port; attach it with set-master first"
                    ))
                    .into());
                }
            }
            lab.kernel
                .link_set(id, link.index, &change)
                .await
                .map_err(|e| Self::kernel_err(format!("{action} {desc}"), e))?;
            if let Some(l) = lab.links.get_mut(&key) {
                match change {
                    LinkChange::Master(_) => {
                        l.l2.master = None;
                        l.l2.hairpin = false;
                    }
                    LinkChange::Hairpin(on) => l.l2.hairpin = on,
                    _ => {}
                }
            }
            let change = match change {
                LinkChange::Up => LinkSetting::Up,
                LinkChange::Down => LinkSetting::Down,
                LinkChange::Mtu(m) => LinkSetting::Mtu(m),
                LinkChange::Mac(m) => LinkSetting::Mac(m),
                LinkChange::Hairpin(h) => LinkSetting::Hairpin(h),
                LinkChange::Master(_) => LinkSetting::NoMaster,
            };
            if !link.journaled {
                return Ok(());
            }
            lab.record(Entry::LinkSet { ns: link.ns.clone(), name: link.name.clone(), change })
        })
        .await
    }

    pub async fn link_set_master(&mut self, key: LinkKey, bridge: LinkKey) -> HostResult<()> {
        let desc = self.desc_link(key);
        let bridge_desc = self.desc_link(bridge);
        self.op(
            Operation::LinkSetMaster,
            json!({ "link": desc, "bridge": bridge_desc }),
            async |lab| {
                lab.check_change(key, "attach to a bridge")?;
                lab.check_change(bridge, "attach a port to")?;
                let link = lab.link(key)?.clone();
                let br = lab.link(bridge)?.clone();
                if link.ns != br.ns {
                    return Err(OpError::invalid(format!(
                        "attach {desc} to {bridge_desc}: they are in different namespaces"
                    ))
                    .into());
                }
                let id = lab.ns_id(&link.ns)?;
                if link.journaled {
                    lab.journal_room(&format!("attach {desc}"), 1)?;
                }
                let info = lab
                    .kernel
                    .link_by_index(id, br.index)
                    .await
                    .map_err(|e| Self::kernel_err(format!("get {bridge_desc}"), e))?;
                if info.kind.as_deref() != Some("bridge") {
                    return Err(OpError::invalid(format!(
                        "attach {desc} to {bridge_desc}: that link is not a bridge"
                    ))
                    .into());
                }
                lab.check_no_loop(key, bridge, &format!("attach {desc} to {bridge_desc}"))?;
                // A bridge makes its ports promiscuous and all-multicast, and
                // a macvlan passes both on to its parent (seen on 6.18).
                let port = lab
                    .kernel
                    .link_by_index(id, link.index)
                    .await
                    .map_err(|e| Self::kernel_err(format!("get {desc}"), e))?;
                if port.kind.as_deref() == Some("macvlan") {
                    lab.check_parent_takeover(
                        &port,
                        &format!(
                            "attach macvlan {desc} to {bridge_desc} (a bridge port turns promiscuous, and so does its parent)"
                        ),
                    )?;
                }
                lab.kernel
                    .link_set(id, link.index, &LinkChange::Master(Some(br.index)))
                    .await
                    .map_err(|e| Self::kernel_err(format!("attach {desc} to {bridge_desc}"), e))?;
                if let Some(l) = lab.links.get_mut(&key) {
                    l.l2.master = Some(br.index);
                    l.l2.hairpin = false;
                }
                if !link.journaled {
                    return Ok(());
                }
                lab.record(Entry::LinkSet {
                    ns: link.ns.clone(),
                    name: link.name.clone(),
                    change: LinkSetting::Master(br.name.clone()),
                })
            },
        )
        .await
    }

    pub async fn link_move(
        &mut self,
        key: LinkKey,
        to: &str,
        new_name: Option<String>,
    ) -> HostResult<()> {
        let desc = self.desc_link(key);
        self.op(
            Operation::LinkMoveTo,
            json!({ "link": desc, "namespace": to, "new-name": new_name }),
            async |lab| {
                if let Some(n) = &new_name {
                    check_link_name(n)?;
                }
                lab.check_own(key, "move")?;
                lab.check_change(key, "move")?;
                lab.check_builds_in(to, &format!("move {desc}"))?;
                let link = lab.link(key)?.clone();
                // The kernel takes a "move" into the link's own namespace for
                // a rename, and leaves it in its bridge; refused, so that what
                // the lab knows of the link stays what the kernel has.
                if link.ns == to {
                    return Err(OpError::invalid(format!(
                        "move {desc} to {}: it is in that namespace already",
                        desc_ns(to)
                    ))
                    .into());
                }
                let from = lab.ns_id(&link.ns)?;
                let to_id = lab.ns_id(to)?;
                let to_ident = lab.kernel.ns_ident(to_id);
                let entry = Entry::LinkMove {
                    from_ns: link.ns.clone(),
                    name: link.name.clone(),
                    to_ns: to.to_string(),
                    new_name: new_name.clone().unwrap_or_else(|| link.name.clone()),
                    index: Some(link.index),
                    to_id: to_ident,
                };
                let k = lab.kernel.clone();
                let op = format!("move {desc} to {}", desc_ns(to));
                lab.journal_room(&op, 2)?;
                lab.record(entry)?;
                let info = match k
                    .link_move(from, link.index, to_id, new_name.as_deref())
                    .await
                {
                    Ok(info) => info,
                    Err(e) => {
                        lab.record(Entry::Abort)?;
                        // The kernel moves a link before it renames it: a
                        // rename that fails leaves the link moved under its
                        // old name. The journal must say where it is.
                        let error = Self::kernel_err(op, e);
                        let Ok(moved) = k.link_by_index(to_id, link.index).await else {
                            return Err(error);
                        };
                        lab.record(Entry::LinkMove {
                            from_ns: link.ns.clone(),
                            name: link.name.clone(),
                            to_ns: to.to_string(),
                            new_name: moved.name.clone(),
                            index: Some(link.index),
                            to_id: to_ident,
                        })?;
                        lab.follow_move(key, to, &moved);
                        return Err(match error {
                            Failure::Op(mut e) => {
                                e.message = format!(
                                    "{}; the link was moved all the same, as {:?}",
                                    e.message, moved.name
                                );
                                Failure::Op(e)
                            }
                            other => other,
                        });
                    }
                };
                lab.follow_move(key, to, &info);
                Ok(())
            },
        )
        .await
    }

    /// Records the link a new link hangs off, where the lab knows it.
    pub(super) fn set_lower(&mut self, key: LinkKey, lower: Option<(String, u32)>) {
        if let (Some(l), Some(lower)) = (self.links.get_mut(&key), lower) {
            l.l2.lower = Some(lower);
            l.l2.lower_unseen = false;
        }
    }

    /// Forgets the links that went with a deleted link or namespace:
    /// those that hung off it (a macvlan's children, a veth's other end),
    /// and theirs in turn, so that no stale entry (and its name) stands in
    /// for a link made later. `gone(ns, index)` says what was deleted.
    pub(super) fn forget_gone(&mut self, gone: impl Fn(&str, u32) -> bool) {
        let mut dead: HashSet<(String, u32)> = HashSet::new();
        loop {
            let more: Vec<LinkKey> = self
                .links
                .iter()
                .filter(|(_, l)| {
                    l.l2.lower
                        .as_ref()
                        .is_some_and(|(ns, i)| gone(ns, *i) || dead.contains(&(ns.clone(), *i)))
                })
                .map(|(k, _)| *k)
                .collect();
            if more.is_empty() {
                break;
            }
            for k in more {
                if let Some(l) = self.links.remove(&k) {
                    dead.insert((l.ns, l.index));
                }
            }
        }
        // Their ports are ports of nothing now.
        for l in self.links.values_mut() {
            if l.l2
                .master
                .is_some_and(|m| gone(&l.ns, m) || dead.contains(&(l.ns.clone(), m)))
            {
                l.l2.master = None;
                l.l2.hairpin = false;
            }
        }
    }

    /// Points the handle `key` at the link where a move put it. The kernel
    /// takes a moved link out of its bridge.
    fn follow_move(&mut self, key: LinkKey, to: &str, info: &LinkInfo) {
        let Some(entry) = self.links.get_mut(&key) else {
            return;
        };
        let was = (entry.ns.clone(), entry.index);
        entry.ns = to.to_string();
        entry.index = info.index;
        entry.name = info.name.clone();
        // As the kernel has it now: a link that really changed namespace
        // has left its bridge; one that half moved may not have.
        entry.l2.master = info.master_index;
        entry.l2.hairpin = info.hairpin.unwrap_or(false);
        // The kernel deletes the vxlans whose device leaves their
        // namespace (a macvlan child follows its parent instead).
        let dead: HashSet<(String, u32)> = self
            .links
            .values()
            .filter(|l| l.l2.tunnel && l.l2.lower.as_ref() == Some(&was))
            .map(|l| (l.ns.clone(), l.index))
            .collect();
        if !dead.is_empty() {
            self.links
                .retain(|_, l| !dead.contains(&(l.ns.clone(), l.index)));
            self.forget_gone(|ns, i| dead.contains(&(ns.to_string(), i)));
        }
        for l in self.links.values_mut() {
            if l.l2.lower.as_ref() == Some(&was) {
                l.l2.lower = Some((to.to_string(), info.index));
            }
        }
    }

    pub async fn link_delete(&mut self, key: LinkKey) -> HostResult<()> {
        let desc = self.desc_link(key);
        self.op(
            Operation::LinkDelete,
            json!({ "link": desc }),
            async |lab| {
                lab.check_own(key, "delete")?;
                lab.check_change(key, "delete")?;
                let link = lab.link(key)?.clone();
                let id = lab.ns_id(&link.ns)?;
                let info = lab.kernel.link_by_index(id, link.index).await.ok();
                lab.kernel
                    .link_del(id, link.index)
                    .await
                    .map_err(|e| Self::kernel_err(format!("delete {desc}"), e))?;
                lab.links.remove(&key);
                // The kernel takes a veth's peer with it.
                if let Some(info) = info.filter(|i| i.kind.as_deref() == Some("veth"))
                    && let Some(pi) = info.parent_index
                    && let Some(peer) =
                        lab.find_link(&info.parent_namespace.unwrap_or(link.ns.clone()), pi)
                {
                    lab.links.remove(&peer);
                }
                lab.forget_gone(|ns, index| ns == link.ns && index == link.index);
                if !link.journaled {
                    return Ok(());
                }
                lab.record(Entry::LinkDelete {
                    ns: link.ns.clone(),
                    name: link.name.clone(),
                })?;
                Ok(())
            },
        )
        .await
    }
}

/// A vxlan creation's arguments as the audit log records them (one
/// step or a batch's).
pub(super) fn vxlan_args(ns: &str, name: &str, config: &VxlanConfig) -> serde_json::Value {
    json!({
        "namespace": ns,
        "name": name,
        "id": config.id,
        "local": config.local,
        "remote": config.remote,
        "group": config.group,
        "device": config.device,
        "port": config.port,
        "learning": config.learning,
        "ttl": config.ttl,
    })
}
