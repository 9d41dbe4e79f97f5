//! Namespaces: how netwasm names them, holds them, and tells them apart.

use serde::{Deserialize, Serialize};

/// The name netwasm gives the root namespace (the one it runs in). No
/// named namespace can be called this: names cannot contain `/`.
pub const ROOT_NS: &str = "/";

/// A namespace the backend has open. Ids are never reused within a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId(pub u64);

/// Who a network namespace is, as opposed to what it is called: a name
/// under `/run/netns` can be removed and given to another namespace at any
/// time, so everything that outlives one host call (the journal, `down`,
/// `--attach`, `status`) names namespaces by this.
///
/// `dev` and `ino` are the namespace file's device and inode (what `stat`
/// shows for `/run/netns/NAME` or `/proc/PID/ns/net`). The kernel hands a
/// freed namespace's inode number to the next namespace made, so they alone
/// cannot tell a namespace from its successor; `id` can: the 64-bit id the
/// kernel gives each namespace and never gives again while it runs
/// (`NS_GET_ID`, Linux 6.18; before that the network namespace cookie,
/// `SO_NETNS_COOKIE`, read through a socket inside). 0 when the kernel has
/// neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NsIdent {
    pub dev: u64,
    pub ino: u64,
    pub id: u64,
}

impl NsIdent {
    /// Whether `other` is the same namespace. An id of 0 (a kernel that
    /// could not say) leaves the inode alone to decide.
    pub fn same(&self, other: &NsIdent) -> bool {
        self.dev == other.dev
            && self.ino == other.ino
            && (self.id == other.id || self.id == 0 || other.id == 0)
    }
}

impl std::fmt::Display for NsIdent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "net:[{}] id {}", self.ino, self.id)
    }
}

/// What removing a namespace's name found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// The name denoted the namespace expected, and is removed.
    Removed,
    /// There was no such name: the namespace is gone already.
    Gone,
    /// The name denotes something else now (another namespace, the one
    /// netwasm runs in, or no namespace at all): it was left alone. Why.
    NotOurs(String),
}
