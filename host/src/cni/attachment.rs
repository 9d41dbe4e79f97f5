//! One CNI attachment — a network, a container, an interface — and the
//! lab that records it.
//!
//! Every attachment is a lab of its own under the state directory, so
//! that `DEL` undoes exactly what its `ADD` made (the journal), `CHECK` is
//! the lab's drift check, and an operator sees attachments with `netwasm
//! ls`, `show` and `status` like any lab.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::vocab::net::check_ns_name;

/// What names an attachment (CNI spec: network name, container id,
/// interface name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub network: String,
    pub container_id: String,
    pub ifname: String,
}

/// The first word of a CNI lab's `begin` arguments.
const BEGIN_MARK: &str = "cni";

impl Attachment {
    /// The lab recording the attachment: `cni-` and 40 hex digits of a
    /// SHA-256 over its three names (the names may hold anything a lab
    /// name may not, and must not collide).
    pub fn lab_name(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.network, &self.container_id, &self.ifname] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        let digest = h.finalize();
        let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
        format!("cni-{hex}")
    }

    /// The arguments its runs record in `begin`, which `GC` reads back to
    /// tell which attachment a lab is.
    pub fn begin_args(&self, command: &str) -> Vec<String> {
        vec![
            BEGIN_MARK.to_string(),
            command.to_string(),
            self.network.clone(),
            self.container_id.clone(),
            self.ifname.clone(),
        ]
    }

    /// The attachment a run's `begin` arguments name, if they are a CNI
    /// run's.
    pub fn from_begin_args(args: &[String]) -> Option<Attachment> {
        match args {
            [mark, _command, network, container_id, ifname] if mark == BEGIN_MARK => {
                Some(Attachment {
                    network: network.clone(),
                    container_id: container_id.clone(),
                    ifname: ifname.clone(),
                })
            }
            _ => None,
        }
    }
}

/// Where container runtimes name network namespaces (podman, containerd
/// and CRI-O mount them there; `/var/run` is a link to `/run`).
const NETNS_DIRS: [&str; 2] = ["/run/netns", "/var/run/netns"];

/// The name of the container namespace `CNI_NETNS` points at when it is a
/// mount under `/run/netns`; `None` for a path elsewhere (`/proc/PID/ns/net`,
/// a runtime's own directory), which has to be given a name first (see
/// [`ALIAS_PREFIX`]).
pub fn container_ns_name(netns: &Path) -> Result<Option<String>, String> {
    let shown = netns.display();
    let dir = netns.parent().and_then(Path::to_str).unwrap_or("");
    if !NETNS_DIRS.contains(&dir) {
        return Ok(None);
    }
    let name = netns
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("CNI_NETNS {shown}: not a namespace path"))?;
    check_ns_name(name).map_err(|e| format!("CNI_NETNS {shown}: {}", e.message))?;
    Ok(Some(name.to_string()))
}

/// How netwasm names, for the length of one call, a container namespace
/// given by a path outside `/run/netns`: this prefix and the namespace's
/// inode. netwasm holds namespaces by name (and identity), so the name
/// lets the lab, its journal and its teardown work as they do for any
/// other; the call removes it when it ends, and a DEL removes one a killed
/// call left.
pub const ALIAS_PREFIX: &str = "netwasm-cni-";

#[cfg(test)]
mod tests {
    use super::*;

    fn at(network: &str, container_id: &str, ifname: &str) -> Attachment {
        Attachment {
            network: network.into(),
            container_id: container_id.into(),
            ifname: ifname.into(),
        }
    }

    #[test]
    fn lab_names_are_lab_names_and_do_not_collide() {
        let a = at("net", "abc", "eth0");
        let name = a.lab_name();
        crate::ledger::check_lab_name(&name).unwrap();
        assert_ne!(name, at("net", "abc", "eth1").lab_name());
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(at("ne", "tabc", "eth0").lab_name(), name);
        assert_eq!(
            Attachment::from_begin_args(&a.begin_args("ADD")),
            Some(a.clone())
        );
        assert_eq!(Attachment::from_begin_args(&["up".into()]), None);
    }

    #[test]
    fn container_namespaces_under_run_netns_go_by_their_name() {
        assert_eq!(
            container_ns_name(Path::new("/var/run/netns/cni-1234"))
                .unwrap()
                .unwrap(),
            "cni-1234"
        );
        assert_eq!(
            container_ns_name(Path::new("/run/netns/c1")).unwrap(),
            Some("c1".to_string())
        );
        assert_eq!(container_ns_name(Path::new("/proc/42/ns/net")), Ok(None));
        assert!(container_ns_name(Path::new("/run/netns/..")).is_err());
        // Deeper is elsewhere: a path like any other, named for the call.
        assert_eq!(container_ns_name(Path::new("/run/netns/a/b")), Ok(None));
    }
}
