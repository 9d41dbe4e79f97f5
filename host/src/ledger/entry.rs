//! The journal's entries: what a run did, one typed entry per step.
//!
//! The on-disk form is one JSON object per entry, tagged by `op`, with the
//! same spellings as `ip` where there is one (`"kind": "macvlan"`, `"mode":
//! "vepa"`, `"change": "mtu=1400"`): the types here parse them on the way
//! in, so a value no netwasm writes is refused where the journal is read,
//! not misread where it is used.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::check_lab_name;
use crate::vocab::net::{Cidr, Mac, check_link_name, check_ns_name, parse_destination, parse_ip};
use crate::vocab::process::{check_cgroup, check_command};
use crate::vocab::text::printable;
use crate::vocab::{LinkKind, MacvlanMode, NsIdent, ROOT_NS, VNI_MAX};

/// Version 2 records kernel identities: of namespaces (`id` of `ns-create`
/// and `ns-open`), links (`index`) and routes (`oif`, `metric`). Version 1
/// journals are read too; their objects have no identity, so `down` leaves
/// them unless forced (see `ledger::undo`). Version 3 adds programs
/// (`process-start`, `process-pid`, `process-end`): a netwasm that reads
/// only version 2 refuses such a journal whole rather than stop reading
/// at the first program and leave it running.
pub const JOURNAL_VERSION: u32 = 3;

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Entry {
    /// First entry of every journal.
    Header {
        version: u32,
        lab: String,
    },
    /// A run started.
    Begin {
        pid: u32,
        guest: String,
        args: Vec<String>,
        /// Milliseconds since the Unix epoch.
        time: u64,
        /// The process's start time (clock ticks since boot, field 22 of
        /// `/proc/PID/stat`): with `pid` it names the run's process for
        /// the life of the machine, where a pid alone is reused. Absent in
        /// journals of older netwasm (and ignored by them).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started: Option<u64>,
    },
    /// The entry before this one did not happen: the kernel refused it.
    /// (Creations are journaled before the kernel acts; see `Lab`.)
    Abort,
    /// The entry before this one happened: the kernel took it. Written
    /// after adding a route or an address, whose key another party could
    /// have taken first: a `route-add` or `addr-add` outside the lab's own
    /// namespaces counts as the lab's only when this follows it.
    Done,
    /// A run ended.
    End {
        outcome: RunOutcome,
    },
    /// A namespace the lab created. Written once the namespace exists but
    /// before its name does (see `Lab`), so the journal pins every name it
    /// claims to the namespace it made. (Version 1 journals have no `id`.)
    NsCreate {
        ns: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<NsIdent>,
    },
    /// A namespace that existed before, which this run acts in: its
    /// identity, so that what the lab makes there is undone there only.
    NsOpen {
        ns: String,
        id: NsIdent,
    },
    NsDelete {
        ns: String,
    },
    LinkAdd {
        ns: String,
        name: String,
        /// The interface index netwasm chose for the link.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
        kind: LinkKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<MacvlanMode>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent_ns: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_ns: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer_index: Option<u32>,
        /// A vxlan's tunnel. Its device, if any, is `parent`; `parent_ns`
        /// is the namespace of its tunnel (where it was made), which it
        /// dies with, device or not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vxlan: Option<VxlanRecord>,
    },
    /// A link moved (and perhaps renamed); it keeps its index `index`.
    /// `to_id` is the identity of the namespace it moved into.
    LinkMove {
        from_ns: String,
        name: String,
        to_ns: String,
        new_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_id: Option<NsIdent>,
    },
    /// A property change worth checking for drift.
    LinkSet {
        ns: String,
        name: String,
        change: LinkSetting,
    },
    LinkDelete {
        ns: String,
        name: String,
    },
    AddrAdd {
        ns: String,
        link: String,
        /// The link's interface index.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
        cidr: String,
    },
    AddrDelete {
        ns: String,
        link: String,
        cidr: String,
    },
    /// A route of the main table, with its whole key: the output link's
    /// index `oif` (chosen by the kernel when the guest named none, and
    /// absent only in namespaces the lab created) and the metric the kernel
    /// gave it.
    RouteAdd {
        ns: String,
        destination: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oif: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<u32>,
    },
    /// A program about to start in namespace `ns`, in cgroup `cgroup`
    /// (relative to the cgroup v2 mount point; made after this entry).
    /// Written before the program runs: whatever instant a crash strikes,
    /// the journal names the cgroup that holds everything it started.
    /// `command` is its argv, joined by spaces and cut, for reports only.
    ProcessStart {
        ns: String,
        cgroup: String,
        command: String,
    },
    /// The program of `cgroup` started as process `pid`, with start time
    /// `start` (field 22 of `/proc/PID/stat`): the pair names it for the
    /// life of the machine, though a pid is reused.
    ProcessPid {
        cgroup: String,
        pid: u32,
        start: u64,
    },
    /// The program of `cgroup` ended, nothing was left in its cgroup, and
    /// the cgroup was removed: nothing of it is left to stop.
    ProcessEnd {
        cgroup: String,
    },
    RouteDelete {
        ns: String,
        destination: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oif: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<u32>,
    },
}

/// What the journal keeps of a vxlan's tunnel, for `status` to compare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VxlanRecord {
    pub id: u32,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<IpAddr>,
}

impl fmt::Display for VxlanRecord {
    /// `vni 42, remote 10.0.0.2, port 4789`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vni {}", self.id)?;
        if let Some(r) = self.remote {
            write!(f, ", remote {r}")?;
        }
        if let Some(g) = self.group {
            write!(f, ", group {g}")?;
        }
        if let Some(l) = self.local {
            write!(f, ", local {l}")?;
        }
        write!(f, ", port {}", self.port)
    }
}

impl Entry {
    /// Checks every name and value in the entry exactly as the guest path
    /// checks them. A journal is input like any other: whoever could write
    /// the state directory could otherwise have `down` act on `../` names,
    /// paths into `/proc`, or names no guest may use.
    pub fn validate(&self) -> Result<(), String> {
        let ns = |n: &str| -> Result<(), String> {
            if n == ROOT_NS {
                return Ok(());
            }
            check_ns_name(n).map_err(|e| e.message)
        };
        let link = |n: &str| check_link_name(n).map_err(|e| e.message);
        let opt = |o: &Option<String>, f: &dyn Fn(&str) -> Result<(), String>| match o {
            Some(v) => f(v),
            None => Ok(()),
        };
        match self {
            Entry::Header { version, lab } => {
                if *version == 0 || *version > JOURNAL_VERSION {
                    return Err(format!(
                        "is of journal version {version}; this netwasm reads versions 1 to {JOURNAL_VERSION}"
                    ));
                }
                check_lab_name(lab).map_err(|e| e.to_string())
            }
            Entry::Begin { .. } | Entry::End { .. } | Entry::Abort | Entry::Done => Ok(()),
            Entry::NsCreate { ns: n, .. } | Entry::NsDelete { ns: n } => {
                if n == ROOT_NS {
                    return Err("creates or deletes the root namespace".into());
                }
                ns(n)
            }
            Entry::NsOpen { ns: n, .. } => ns(n),
            Entry::ProcessStart {
                ns: n,
                cgroup,
                command,
            } => {
                if n == ROOT_NS {
                    return Err("starts a program in the root namespace".into());
                }
                ns(n)?;
                check_cgroup(cgroup)?;
                check_command(command)
            }
            Entry::ProcessPid { cgroup, .. } | Entry::ProcessEnd { cgroup } => check_cgroup(cgroup),
            Entry::LinkAdd {
                ns: n,
                name,
                parent,
                parent_ns,
                peer,
                peer_ns,
                kind,
                vxlan,
                ..
            } => {
                ns(n)?;
                link(name)?;
                opt(parent, &link)?;
                opt(parent_ns, &ns)?;
                opt(peer, &link)?;
                opt(peer_ns, &ns)?;
                match (kind, vxlan) {
                    (LinkKind::Vxlan, Some(v)) if v.id > VNI_MAX => {
                        Err(format!("vxlan VNI {} is above {VNI_MAX}", v.id))
                    }
                    (LinkKind::Vxlan, _) => Ok(()),
                    (_, Some(_)) => Err(format!("a {kind} with a vxlan tunnel")),
                    (_, None) => Ok(()),
                }
            }
            Entry::LinkMove {
                from_ns,
                name,
                to_ns,
                new_name,
                ..
            } => {
                ns(from_ns)?;
                ns(to_ns)?;
                link(name)?;
                link(new_name)
            }
            Entry::LinkSet {
                ns: n,
                name,
                change,
            } => {
                ns(n)?;
                link(name)?;
                if let LinkSetting::Master(m) = change {
                    link(m)?;
                }
                Ok(())
            }
            Entry::LinkDelete { ns: n, name } => {
                ns(n)?;
                link(name)
            }
            Entry::AddrAdd {
                ns: n,
                link: l,
                cidr,
                ..
            }
            | Entry::AddrDelete {
                ns: n,
                link: l,
                cidr,
            } => {
                ns(n)?;
                link(l)?;
                Cidr::parse(cidr, "address", false)
                    .map(|_| ())
                    .map_err(|e| e.message)
            }
            Entry::RouteAdd {
                ns: n,
                destination,
                gateway,
                dev,
                ..
            }
            | Entry::RouteDelete {
                ns: n,
                destination,
                gateway,
                dev,
                ..
            } => {
                ns(n)?;
                opt(dev, &link)?;
                let gw = match gateway {
                    Some(g) => Some(parse_ip(g, "gateway").map_err(|e| e.message)?),
                    None => None,
                };
                parse_destination(destination, gw.is_some_and(|g| g.is_ipv6()))
                    .map(|_| ())
                    .map_err(|e| e.message)
            }
        }
    }
}

impl Entry {
    /// The step in words (`create macvlan mv1 (bridge) in ns1 on eth0 in
    /// net1`); none for the journal's own bookkeeping (header, begin, end,
    /// abort, done).
    pub fn describe(&self) -> Option<String> {
        let at = |ns: &str| {
            if ns == ROOT_NS {
                "the root namespace".to_string()
            } else {
                ns.to_string()
            }
        };
        Some(match self {
            Entry::Header { .. }
            | Entry::Begin { .. }
            | Entry::End { .. }
            | Entry::Abort
            | Entry::Done => return None,
            Entry::NsCreate { ns, .. } => format!("create namespace {ns}"),
            Entry::NsOpen { ns, .. } => format!("open {}", at(ns)),
            Entry::NsDelete { ns } => format!("delete namespace {ns}"),
            Entry::ProcessStart { ns, command, .. } => {
                // Checked when read, escaped again here: what is printed
                // must not depend on every path having checked it.
                format!("start {} in {ns}", printable(command))
            }
            Entry::ProcessPid { cgroup, pid, .. } => format!("program of {cgroup} is pid {pid}"),
            Entry::ProcessEnd { cgroup } => format!("program of {cgroup} ended"),
            Entry::LinkAdd {
                ns,
                name,
                kind,
                mode,
                parent,
                parent_ns,
                peer,
                peer_ns,
                vxlan,
                ..
            } => {
                let mut s = format!("create {kind} {name}");
                if let Some(m) = mode {
                    s += &format!(" ({m})");
                }
                if let Some(v) = vxlan {
                    s += &format!(" ({v})");
                }
                s += &format!(" in {}", at(ns));
                if let Some(p) = parent {
                    s += &format!(" on {p} in {}", at(parent_ns.as_deref().unwrap_or(ns)));
                }
                if let Some(p) = peer {
                    s += &format!(", peer {p} in {}", at(peer_ns.as_deref().unwrap_or(ns)));
                }
                s
            }
            Entry::LinkMove {
                from_ns,
                name,
                to_ns,
                new_name,
                ..
            } => {
                let mut s = format!("move {name} from {} to {}", at(from_ns), at(to_ns));
                if new_name != name {
                    s += &format!(" as {new_name}");
                }
                s
            }
            Entry::LinkSet { ns, name, change } => {
                format!("set {change} on {name} in {}", at(ns))
            }
            Entry::LinkDelete { ns, name } => format!("delete {name} in {}", at(ns)),
            Entry::AddrAdd { ns, link, cidr, .. } => {
                format!("add address {cidr} to {link} in {}", at(ns))
            }
            Entry::AddrDelete { ns, link, cidr } => {
                format!("delete address {cidr} from {link} in {}", at(ns))
            }
            Entry::RouteAdd {
                ns,
                destination,
                gateway,
                dev,
                ..
            }
            | Entry::RouteDelete {
                ns,
                destination,
                gateway,
                dev,
                ..
            } => {
                let verb = if matches!(self, Entry::RouteAdd { .. }) {
                    "add"
                } else {
                    "delete"
                };
                let mut s = format!("{verb} route {destination}");
                if let Some(g) = gateway {
                    s += &format!(" via {g}");
                }
                if let Some(d) = dev {
                    s += &format!(" dev {d}");
                }
                s + &format!(" in {}", at(ns))
            }
        })
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunOutcome {
    /// The guest succeeded: what it built is the lab.
    Committed,
    /// It failed, and `--keep-on-error` kept what it built.
    Kept,
    /// It failed, and everything it built was removed.
    RolledBack,
    /// It failed, and removing what it built failed part-way: what is left
    /// stays recorded for `netwasm down`.
    RollbackIncomplete,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Committed => "committed",
            RunOutcome::Kept => "kept",
            RunOutcome::RolledBack => "rolled-back",
            RunOutcome::RollbackIncomplete => "rollback-incomplete",
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change to a link that `status` checks for drift. On disk it is one
/// string: `up`, `down`, `mtu=N`, `mac=M`, `master=BR`, `nomaster`,
/// `hairpin=on|off`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LinkSetting {
    Up,
    Down,
    Mtu(u32),
    Mac(Mac),
    /// A port of the bridge of this name (in the link's namespace).
    Master(String),
    NoMaster,
    Hairpin(bool),
}

impl fmt::Display for LinkSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkSetting::Up => f.write_str("up"),
            LinkSetting::Down => f.write_str("down"),
            LinkSetting::Mtu(m) => write!(f, "mtu={m}"),
            LinkSetting::Mac(m) => write!(f, "mac={m}"),
            LinkSetting::Master(b) => write!(f, "master={b}"),
            LinkSetting::NoMaster => f.write_str("nomaster"),
            LinkSetting::Hairpin(on) => write!(f, "hairpin={}", if *on { "on" } else { "off" }),
        }
    }
}

impl FromStr for LinkSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("unknown link change {s:?}");
        Ok(match s.split_once('=') {
            None => match s {
                "up" => LinkSetting::Up,
                "down" => LinkSetting::Down,
                "nomaster" => LinkSetting::NoMaster,
                _ => return Err(bad()),
            },
            Some(("mtu", v)) => LinkSetting::Mtu(v.parse().map_err(|_| bad())?),
            Some(("mac", v)) => LinkSetting::Mac(v.parse().map_err(|()| bad())?),
            Some(("master", v)) => LinkSetting::Master(v.to_string()),
            Some(("hairpin", "on")) => LinkSetting::Hairpin(true),
            Some(("hairpin", "off")) => LinkSetting::Hairpin(false),
            _ => return Err(bad()),
        })
    }
}

impl TryFrom<String> for LinkSetting {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<LinkSetting> for String {
    fn from(c: LinkSetting) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_on_disk_spelling() {
        for line in [
            r#"{"op":"end","outcome":"committed"}"#,
            r#"{"op":"end","outcome":"rollback-incomplete"}"#,
            r#"{"op":"link-set","ns":"a","name":"mv0","change":"mtu=1400"}"#,
            r#"{"op":"link-set","ns":"a","name":"mv0","change":"hairpin=off"}"#,
            r#"{"op":"link-set","ns":"a","name":"mv0","change":"master=br0"}"#,
            r#"{"op":"link-set","ns":"a","name":"mv0","change":"mac=02:00:00:00:00:01"}"#,
            r#"{"op":"link-set","ns":"a","name":"mv0","change":"nomaster"}"#,
            r#"{"op":"link-add","ns":"a","name":"mv0","kind":"macvlan","mode":"private","parent":"eth0"}"#,
            r#"{"op":"process-start","ns":"a","cgroup":"netwasm/lab/12-1","command":"/bin/sleep 9"}"#,
            r#"{"op":"process-pid","cgroup":"netwasm/lab/12-1","pid":77,"start":1234}"#,
            r#"{"op":"process-end","cgroup":"netwasm/lab/12-1"}"#,
            r#"{"op":"link-add","ns":"a","name":"vx0","index":16777300,"kind":"vxlan","parent":"va","parent_ns":"a","vxlan":{"id":42,"port":4789,"local":"10.0.0.1","remote":"10.0.0.2"}}"#,
            r#"{"op":"link-add","ns":"a","name":"vx1","kind":"vxlan","parent_ns":"a","vxlan":{"id":0,"port":8472,"group":"ff05::9"}}"#,
        ] {
            let entry: Entry = serde_json::from_str(line).unwrap();
            entry.validate().unwrap();
            assert_eq!(serde_json::to_string(&entry).unwrap(), line);
        }
    }

    #[test]
    fn values_no_netwasm_writes_are_refused_on_reading() {
        for line in [
            r#"{"op":"end","outcome":"won"}"#,
            r#"{"op":"link-set","ns":"a","name":"mv0","change":"mtu=big"}"#,
            r#"{"op":"link-set","ns":"a","name":"mv0","change":"hairpin=yes"}"#,
            r#"{"op":"link-add","ns":"a","name":"x","kind":"dummy"}"#,
            r#"{"op":"link-add","ns":"a","name":"x","kind":"macvlan","mode":"Bridge"}"#,
            r#"{"op":"link-add","ns":"a","name":"x","kind":"vxlan","vxlan":{"id":1,"port":70000}}"#,
            r#"{"op":"link-add","ns":"a","name":"x","kind":"vxlan","vxlan":{"id":1,"port":1,"remote":"10.0.0.256"}}"#,
            r#"{"op":"link-add","ns":"a","name":"x","kind":"vxlan","vxlan":{"id":1,"port":1,"dev":"eth0"}}"#,
        ] {
            assert!(serde_json::from_str::<Entry>(line).is_err(), "{line}");
        }
        let bad_master: Entry = serde_json::from_str(
            r#"{"op":"link-set","ns":"a","name":"mv0","change":"master=../x"}"#,
        )
        .unwrap();
        assert!(bad_master.validate().is_err());
        for line in [
            r#"{"op":"process-start","ns":"a","cgroup":"netwasm/../../init.scope/x","command":"x"}"#,
            r#"{"op":"process-start","ns":"/","cgroup":"netwasm/lab/1-1","command":"x"}"#,
            r#"{"op":"process-end","cgroup":"system.slice/a/b"}"#,
            // A forged command that would drive the operator's terminal.
            r#"{"op":"process-start","ns":"a","cgroup":"netwasm/lab/1-1","command":"x\u001b]0;owned\u0007"}"#,
            r#"{"op":"process-start","ns":"a","cgroup":"netwasm/lab/1-1","command":"x\r\nnamespace y"}"#,
            r#"{"op":"process-start","ns":"a","cgroup":"netwasm/lab/1-1","command":"x\u202ey"}"#,
            r#"{"op":"link-add","ns":"a","name":"x","kind":"vxlan","vxlan":{"id":16777216,"port":1}}"#,
            r#"{"op":"link-add","ns":"a","name":"x","kind":"veth","vxlan":{"id":1,"port":1}}"#,
        ] {
            let e: Entry = serde_json::from_str(line).unwrap();
            assert!(e.validate().is_err(), "{line}");
        }
    }

    #[test]
    fn a_vxlan_is_described_with_its_tunnel() {
        let e: Entry = serde_json::from_str(
            r#"{"op":"link-add","ns":"a","name":"vx0","kind":"vxlan","parent":"va","parent_ns":"a","vxlan":{"id":42,"port":4789,"remote":"10.0.0.2"}}"#,
        )
        .unwrap();
        assert_eq!(
            e.describe().unwrap(),
            "create vxlan vx0 (vni 42, remote 10.0.0.2, port 4789) in a on va in a"
        );
    }
}
