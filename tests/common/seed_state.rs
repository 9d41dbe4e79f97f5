//! The seed lab's kernel state in terms two labs can be compared in:
//! what `tests/topology.rs` (a topology file against the Rust seed guest)
//! and `tests/languages.rs` (each language's seed guest against Rust's)
//! hold equal.

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

use serde_json::{Value, json};

use super::ip_json;

/// The namespaces the seed lab builds, as `PREFIX-suffix`.
pub const SUFFIXES: [&str; 5] = ["lan", "test", "net1", "ns1", "ns2"];

/// `ip -j -n NS netns list-id`: the namespace's ids for its peers, by name.
fn nsids(ns: &str) -> HashMap<u64, String> {
    ip_json(Some(ns), &["netns", "list-id"])
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| Some((e["nsid"].as_u64()?, e["name"].as_str()?.to_string())))
        .collect()
}

/// `name` without the lab's prefix: `PREFIX-net1` is `net1`; a name from
/// outside the lab is kept whole (and so differs between two labs).
fn unprefixed(prefix: &str, name: &str) -> String {
    name.strip_prefix(&format!("{prefix}-"))
        .map(str::to_string)
        .unwrap_or_else(|| format!("outside:{name}"))
}

/// Sorted strings, as a JSON array.
fn sorted(mut v: Vec<String>) -> Value {
    v.sort();
    json!(v)
}

/// What the lab under `prefix` is, in terms that do not depend on the
/// prefix, MAC addresses or interface indexes: per namespace, its links
/// (kind, macvlan mode, parent, master, flags, MTU, state), its addresses
/// (but IPv6 link-local ones, which derive from the MAC) and its main-table
/// routes, from `ip -j -d`; and whether it forwards IPv4 and IPv6.
pub fn lab_state(prefix: &str) -> Value {
    let forwarding = |ns: &str, family: &str| -> String {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "cat",
                &format!("/proc/sys/net/{family}/conf/all/forwarding"),
            ])
            .output()
            .expect("run ip netns exec cat");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let links_of: HashMap<&str, Value> = SUFFIXES
        .iter()
        .map(|s| {
            (
                *s,
                ip_json(Some(&format!("{prefix}-{s}")), &["-d", "link", "show"]),
            )
        })
        .collect();
    // (suffix, ifindex) -> ifname, to name parents and veth peers.
    let mut by_index: HashMap<(String, u64), String> = HashMap::new();
    for (s, links) in &links_of {
        for l in links.as_array().unwrap() {
            by_index.insert(
                (s.to_string(), l["ifindex"].as_u64().unwrap()),
                l["ifname"].as_str().unwrap().to_string(),
            );
        }
    }
    let mut state = BTreeMap::new();
    for s in SUFFIXES {
        let ns = format!("{prefix}-{s}");
        let ids = nsids(&ns);
        let mut links = Vec::new();
        for l in links_of[s].as_array().unwrap() {
            let info = &l["linkinfo"];
            let parent = l["link_index"].as_u64().map(|index| {
                let there = match l["link_netnsid"].as_u64() {
                    Some(id) => ids
                        .get(&id)
                        .map(|n| unprefixed(prefix, n))
                        .unwrap_or_else(|| format!("nsid {id}")),
                    None => s.to_string(),
                };
                let name = by_index
                    .get(&(there.clone(), index))
                    .cloned()
                    .unwrap_or_else(|| "?".into());
                format!("{there}/{name}")
            });
            let mut flags: Vec<String> = l["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect();
            flags.sort();
            links.push(json!({
                "name": l["ifname"],
                "kind": info["info_kind"],
                "parent": parent,
                "macvlan_mode": if info["info_kind"] == "macvlan" { info["info_data"]["mode"].clone() } else { Value::Null },
                "stp_state": if info["info_kind"] == "bridge" { info["info_data"]["stp_state"].clone() } else { Value::Null },
                "master": l["master"],
                "port_kind": info["info_slave_kind"],
                "port_state": info["info_slave_data"]["state"],
                "hairpin": info["info_slave_data"]["hairpin"],
                "flags": flags,
                "mtu": l["mtu"],
                "operstate": l["operstate"],
                "link_type": l["link_type"],
            }));
        }
        links.sort_by_key(|l| l["name"].as_str().unwrap().to_string());

        let mut addrs = Vec::new();
        for l in ip_json(Some(&ns), &["addr", "show"]).as_array().unwrap() {
            for a in l["addr_info"].as_array().cloned().unwrap_or_default() {
                if a["family"] == "inet6" && a["scope"] == "link" {
                    continue;
                }
                addrs.push(format!(
                    "{} {} {}/{} scope {}",
                    l["ifname"].as_str().unwrap(),
                    a["family"].as_str().unwrap(),
                    a["local"].as_str().unwrap(),
                    a["prefixlen"],
                    a["scope"].as_str().unwrap_or("?"),
                ));
            }
        }

        let mut routes = Vec::new();
        for family in ["-4", "-6"] {
            for r in ip_json(Some(&ns), &[family, "route", "show"])
                .as_array()
                .unwrap()
            {
                let field = |k: &str| match &r[k] {
                    Value::Null => String::new(),
                    Value::String(v) => format!(" {k} {v}"),
                    v => format!(" {k} {v}"),
                };
                routes.push(format!(
                    "{}{}{}{}{}{}{}",
                    r["dst"].as_str().unwrap_or("?"),
                    field("gateway"),
                    field("dev"),
                    field("protocol"),
                    field("scope"),
                    field("prefsrc"),
                    field("metric"),
                ));
            }
        }

        state.insert(
            s.to_string(),
            json!({
                "links": links,
                "addrs": sorted(addrs),
                "routes": sorted(routes),
                "forwarding": [forwarding(&ns, "ipv4"), forwarding(&ns, "ipv6")],
            }),
        );
    }
    json!(state)
}
