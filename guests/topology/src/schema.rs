//! The topology file as written: serde types, close to containerlab's
//! (`name`, `topology.nodes`, `topology.links[].endpoints`), with netwasm's
//! additions (interfaces of a node: bridges and their ports, macvlan
//! children, vxlans, addresses; routes; `expect`). Every struct refuses
//! unknown keys, and values whose meaning is checked later carry their
//! position ([`Spanned`]) so that a mistake is reported at its line.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
pub use serde_saphyr::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// The lab's name: `netwasm down NAME` removes it.
    pub name: Spanned<String>,
    /// What namespace names start with: `PREFIX-NODE`; the lab's name when
    /// not given, and the bare node names when empty.
    #[serde(default)]
    pub prefix: Option<Spanned<String>>,
    pub topology: Topology,
    /// Reachability the lab must show once built.
    #[serde(default)]
    pub expect: Vec<Spanned<Expect>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    #[serde(default)]
    pub nodes: Ordered<Node>,
    #[serde(default)]
    pub links: Vec<Spanned<Link>>,
}

/// A node: one network namespace.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// `netns`, the only kind (containerlab files name one on every node).
    #[serde(default)]
    pub kind: Option<Spanned<String>>,
    /// IPv4 and IPv6 forwarding (a router).
    #[serde(default)]
    pub forwarding: Option<bool>,
    #[serde(default)]
    pub interfaces: Ordered<Interface>,
    #[serde(default)]
    pub routes: Vec<Spanned<Route>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An end of a veth pair (made by `topology.links`); the default.
    Veth,
    Bridge,
    Macvlan,
    Vxlan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Private,
    Vepa,
    Bridge,
    Passthru,
    Source,
}

/// A link of a node, by its name there: what it is (`kind`) and how it is
/// set up. A veth end needs no `kind`: `topology.links` makes it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    #[serde(default)]
    pub kind: Option<Spanned<Kind>>,
    /// A macvlan's parent, `NODE:LINK`.
    #[serde(default)]
    pub parent: Option<Spanned<String>>,
    /// A macvlan's mode (the kernel's default, vepa, when not given).
    #[serde(default)]
    pub mode: Option<Spanned<Mode>>,
    /// A bridge's ports: links of the same node.
    #[serde(default)]
    pub ports: Option<Spanned<Vec<Spanned<String>>>>,
    /// A vxlan's VNI.
    #[serde(default)]
    pub id: Option<Spanned<u32>>,
    #[serde(default)]
    pub remote: Option<Spanned<String>>,
    #[serde(default)]
    pub group: Option<Spanned<String>>,
    #[serde(default)]
    pub local: Option<Spanned<String>>,
    /// A vxlan's underlay link, of the same node.
    #[serde(default)]
    pub device: Option<Spanned<String>>,
    /// A vxlan's UDP port (4789 when not given).
    #[serde(default)]
    pub port: Option<Spanned<u16>>,
    #[serde(default)]
    pub learning: Option<Spanned<bool>>,
    #[serde(default)]
    pub ttl: Option<Spanned<u8>>,
    #[serde(default)]
    pub addresses: Vec<Spanned<String>>,
    #[serde(default)]
    pub mtu: Option<Spanned<u32>>,
    #[serde(default)]
    pub mac: Option<Spanned<String>>,
    /// Administratively up (the default) or down.
    #[serde(default)]
    pub up: Option<bool>,
    /// Hairpin on a bridge port.
    #[serde(default)]
    pub hairpin: Option<Spanned<bool>>,
}

/// A veth pair between two nodes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// `["NODE:LINK", "NODE:LINK"]`.
    pub endpoints: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// `default` or a prefix.
    pub to: Spanned<String>,
    #[serde(default)]
    pub via: Option<Spanned<String>>,
    /// The output link, of the same node.
    #[serde(default)]
    pub dev: Option<Spanned<String>>,
    #[serde(default)]
    pub metric: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The node the pings leave from.
    pub from: Spanned<String>,
    /// The address pinged.
    pub to: Spanned<String>,
    #[serde(default = "yes")]
    pub reachable: bool,
    /// What the matrix calls it (the entry's line when not given).
    #[serde(default)]
    pub label: Option<String>,
}

fn yes() -> bool {
    true
}

thread_local! {
    /// The keys of the [`Ordered`] maps being read, outermost first.
    pub static KEYS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A mapping kept in the file's order, each key with its position: nodes
/// are made, and mistakes found, in the order the file gives them.
#[derive(Debug)]
pub struct Ordered<V>(pub Vec<(Spanned<String>, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Seen<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Seen<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                // `nodes:` with nothing after it.
                Ok(Ordered::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    KEYS.with(|s| s.borrow_mut().push(k.value.clone()));
                    // On an error the key stays: the stack is then the
                    // path's map keys, outermost first.
                    let v = map.next_value::<V>()?;
                    KEYS.with(|s| s.borrow_mut().pop());
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Seen(PhantomData))
    }
}
