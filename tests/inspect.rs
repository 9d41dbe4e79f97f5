//! `netwasm show` and `netwasm graph` on the real kernel: the seed lab is
//! built, then what netwasm reports is checked field by field against
//! iproute2 (`ip -j -d`), an independent reader of the same kernel.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::*;
use serde_json::Value;

/// Builds the seed lab in `mode` as lab `lab`.
fn seed_up(w: &World, lab: &str, mode: &str) {
    let out = w.seed_up(lab, Some(mode), &["--quiet"]);
    assert!(out.status.success(), "seed lab failed: {}", stderr(&out));
}

fn down(w: &World, lab: &str) {
    let out = w.run(&["down", lab]);
    assert!(out.status.success(), "down failed: {}", stderr(&out));
    assert!(
        w.namespaces().is_empty(),
        "left behind: {:?}",
        w.namespaces()
    );
}

fn show_json(w: &World, lab: &str) -> Value {
    let out = w.run(&["show", "--json", lab]);
    assert!(out.status.success(), "show failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("show --json prints JSON")
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// `ip -j route` destinations, as CIDRs.
fn cidr(dst: &str, v6: bool) -> String {
    match dst {
        "default" => (if v6 { "::/0" } else { "0.0.0.0/0" }).to_string(),
        d if d.contains('/') => d.to_string(),
        d => format!("{d}/{}", if v6 { 128 } else { 32 }),
    }
}

/// A namespace's nsid → name map, as `ip netns list-id` sees it from `ns`.
fn nsids(ns: &str) -> HashMap<i64, String> {
    let v = ip_json(Some(ns), &["netns", "list-id"]);
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| Some((e["nsid"].as_i64()?, e["name"].as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks every field `show` reports for namespace `ns` against iproute2.
fn check_namespace(ns: &str, view: &Value) {
    assert_eq!(view["present"], true, "{ns}");
    assert_eq!(view["error"], Value::Null, "{ns}");
    let ip_links = ip_json(Some(ns), &["-d", "link", "show"]);
    let ip_links = ip_links.as_array().unwrap();
    let shown = view["links"].as_array().unwrap();
    let names = |it: &mut dyn Iterator<Item = String>| it.collect::<BTreeSet<_>>();
    assert_eq!(
        names(&mut shown.iter().map(|l| s(&l["name"]).unwrap())),
        names(&mut ip_links.iter().map(|l| s(&l["ifname"]).unwrap())),
        "{ns}: the links differ"
    );
    let ids = nsids(ns);
    for l in shown {
        let name = l["name"].as_str().unwrap();
        let what = format!("{ns}/{name}");
        let k = ip_links.iter().find(|k| k["ifname"] == name).unwrap();
        assert_eq!(l["index"], k["ifindex"], "{what}: index");
        assert_eq!(l["kind"], k["linkinfo"]["info_kind"], "{what}: kind");
        let mode = if k["linkinfo"]["info_kind"] == "macvlan" {
            k["linkinfo"]["info_data"]["mode"].clone()
        } else {
            Value::Null
        };
        assert_eq!(l["macvlan_mode"], mode, "{what}: macvlan mode");
        assert_eq!(l["mac"], k["address"], "{what}: MAC");
        assert_eq!(l["mtu"], k["mtu"], "{what}: MTU");
        let flags: Vec<&str> = k["flags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(l["admin_up"], flags.contains(&"UP"), "{what}: admin state");
        assert_eq!(l["oper_state"], k["operstate"], "{what}: operational state");
        assert_eq!(l["master"], k["master"], "{what}: master");

        // The parent or peer: the same index ip reports, in the namespace
        // ip's nsid names, where a link of that index has that name.
        let is_veth = l["kind"] == "veth";
        let (other, none) = if is_veth {
            (&l["peer"], &l["parent"])
        } else {
            (&l["parent"], &l["peer"])
        };
        assert_eq!(*none, Value::Null, "{what}: parent/peer mixed up");
        let (index, other_ns) = match (k.get("link_index"), k.get("link")) {
            (Some(i), _) => {
                let nsid = k["link_netnsid"]
                    .as_i64()
                    .expect("link_netnsid with link_index");
                (i.as_i64(), ids.get(&nsid).cloned())
            }
            (None, Some(Value::String(n))) => {
                let i = ip_links
                    .iter()
                    .find(|x| x["ifname"] == *n)
                    .map(|x| x["ifindex"].as_i64().unwrap());
                (i, Some(ns.to_string()))
            }
            _ => (None, None),
        };
        match index {
            None => assert_eq!(*other, Value::Null, "{what}: ip reports no lower link"),
            Some(index) => {
                assert_eq!(
                    other["index"].as_i64(),
                    Some(index),
                    "{what}: parent/peer index"
                );
                let other_ns = other_ns.expect("iproute2 names the namespace");
                assert_eq!(
                    s(&other["namespace"]),
                    Some(other_ns.clone()),
                    "{what}: parent/peer namespace"
                );
                let there = ip_json(Some(&other_ns), &["link", "show"]);
                let found = there
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["ifindex"].as_i64() == Some(index))
                    .unwrap();
                assert_eq!(other["name"], found["ifname"], "{what}: parent/peer name");
            }
        }

        // Addresses.
        let ip_addrs = ip_json(Some(ns), &["addr", "show", "dev", name]);
        let want: BTreeSet<(String, String, String)> = ip_addrs[0]["addr_info"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]),
                    s(&a["family"]).unwrap(),
                    s(&a["scope"]).unwrap(),
                )
            })
            .collect();
        let have: BTreeSet<(String, String, String)> = l["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                assert_eq!(
                    a["cidr"].as_str().unwrap(),
                    format!("{}/{}", a["address"].as_str().unwrap(), a["prefix_len"])
                );
                (
                    s(&a["cidr"]).unwrap(),
                    s(&a["family"]).unwrap(),
                    s(&a["scope"]).unwrap(),
                )
            })
            .collect();
        assert_eq!(have, want, "{what}: addresses");
    }

    // Routes: the unicast routes of the main table, both families.
    type Route = (
        String,
        Option<String>,
        Option<String>,
        Option<u64>,
        String,
        String,
    );
    let mut want: BTreeSet<Route> = BTreeSet::new();
    for (flag, v6) in [("-4", false), ("-6", true)] {
        let routes = ip_json(Some(ns), &[flag, "route", "show", "table", "main"]);
        for r in routes.as_array().unwrap() {
            if r.get("type").is_some_and(|t| t != "unicast") {
                continue;
            }
            want.insert((
                cidr(r["dst"].as_str().unwrap(), v6),
                s(&r["gateway"]),
                s(&r["dev"]),
                r["metric"].as_u64(),
                s(&r["protocol"]).unwrap_or_else(|| "boot".into()),
                s(&r["scope"]).unwrap_or_else(|| "global".into()),
            ));
        }
    }
    let have: BTreeSet<Route> = view["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                s(&r["destination"]).unwrap(),
                s(&r["gateway"]),
                s(&r["dev"]),
                r["metric"].as_u64(),
                s(&r["protocol"]).unwrap(),
                s(&r["scope"]).unwrap(),
            )
        })
        .collect();
    assert_eq!(have, want, "{ns}: routes");
}

#[test]
fn show_agrees_with_iproute2() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-show", w.prefix);
    seed_up(&w, &lab, "bridge");

    let v = show_json(&w, &lab);
    assert_eq!(v["schema"], "netwasm.show/1");
    assert_eq!(v["lab"], lab.as_str());
    let names: Vec<String> = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| s(&n["name"]).unwrap())
        .collect();
    assert_eq!(
        names,
        ["lan", "test", "net1", "ns1", "ns2"].map(|n| w.ns(n)),
        "in ledger order"
    );
    for n in v["namespaces"].as_array().unwrap() {
        assert_eq!(n["created_by_lab"], true);
        assert_eq!(n["links_shown"], "all");
        check_namespace(n["name"].as_str().unwrap(), n);
    }

    // What the seed lab is, spelled out.
    let link = |ns: &str, name: &str| -> Value {
        let n = v["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == w.ns(ns))
            .unwrap();
        n["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()
            .clone()
    };
    for (ns, name) in [("ns1", "macvlan1"), ("ns2", "macvlan2")] {
        let l = link(ns, name);
        assert_eq!(l["kind"], "macvlan");
        assert_eq!(l["macvlan_mode"], "bridge");
        assert_eq!(l["parent"]["name"], "eth0");
        assert_eq!(l["parent"]["namespace"], w.ns("net1"));
        assert_eq!(l["in_ledger"], true);
    }
    let port = link("lan", "net1");
    assert_eq!(port["master"], "br0");
    assert_eq!(port["peer"]["name"], "eth0");
    assert_eq!(port["peer"]["namespace"], w.ns("net1"));
    assert_eq!(link("lan", "br0")["kind"], "bridge");
    assert_eq!(link("lan", "lo")["in_ledger"], false);

    // The table says the same, aligned.
    let out = w.run(&["show", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("lab {lab}: 5 namespaces\n")),
        "{text}"
    );
    assert!(text.contains(&format!("eth0@{}", w.ns("net1"))), "{text}");
    // Columns line up with their header, in each namespace's table.
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with("macvlan1"))
        .unwrap();
    let header = lines[..at]
        .iter()
        .rev()
        .find(|l| l.trim_start().starts_with("LINK"))
        .unwrap();
    let row = lines[at];
    assert_eq!(header.find("PARENT/PEER"), row.find("eth0@"), "{text}");
    assert_eq!(
        header.find("ADDRESSES"),
        row.find("172.16.10.5/24"),
        "{text}"
    );

    // Unknown labs are bad input.
    let out = w.run(&["show", "no-such-lab"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    down(&w, &lab);
}

/// The text of every `<text>` of an SVG.
fn texts_of(doc: &roxmltree::Document) -> BTreeSet<String> {
    doc.descendants()
        .filter(|d| d.has_tag_name("text"))
        .filter_map(|d| d.text().map(str::to_string))
        .collect()
}

/// The edges of a DOT graph: (from, to, label).
fn dot_edges(dot: &str) -> BTreeSet<(String, String, String)> {
    dot.lines()
        .filter(|l| l.contains(" -> "))
        .map(|l| {
            let q: Vec<&str> = l.split('"').collect();
            // "from" -> "to" [label="label", ...
            (q[1].to_string(), q[3].to_string(), q[5].to_string())
        })
        .collect()
}

/// A Mermaid edge: (from, arrow, label, to), the nodes as `namespace/link`.
type MermaidEdge = (String, String, String, String);

/// The clusters, nodes and edges of a Mermaid flowchart, by name.
fn mermaid_parts(m: &str) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<MermaidEdge>) {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut clusters = BTreeSet::new();
    let mut current = String::new();
    let mut edges = Vec::new();
    for line in m.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("subgraph ") {
            current = rest.split('"').nth(1).unwrap().to_string();
            clusters.insert(current.clone());
        } else if line.contains('|') && line.starts_with('n') {
            // nA ARROW|"label"| nB
            let pieces: Vec<&str> = line.split('|').collect();
            let (from, arrow) = pieces[0].split_once(' ').unwrap();
            let label = pieces[1].trim_matches('"').to_string();
            edges.push((
                from.to_string(),
                arrow.trim().to_string(),
                label,
                pieces[2].trim().to_string(),
            ));
        } else if line.starts_with('n') && (line.contains("[\"") || line.contains("{{\"")) {
            let id: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let label = line.split('"').nth(1).unwrap();
            let name = label.split("<br/>").next().unwrap();
            ids.insert(id, format!("{current}/{name}"));
        }
    }
    let nodes = ids.values().cloned().collect();
    let edges = edges
        .into_iter()
        .map(|(a, arrow, label, b)| (ids[&a].clone(), arrow, label, ids[&b].clone()))
        .collect();
    (clusters, nodes, edges)
}

#[test]
fn graph_draws_the_seed_lab() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-graph", w.prefix);
    seed_up(&w, &lab, "vepa");
    let n = |s: &str| w.ns(s);
    let id = |ns: &str, link: &str| format!("{}/{link}", n(ns));

    // DOT: every namespace a cluster, every link a node, and the edges.
    let out = w.run(&["graph", "--format", "dot", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dot = stdout(&out);
    assert!(dot.starts_with("// The topology of netwasm lab"), "{dot}");
    for ns in ["lan", "test", "net1", "ns1", "ns2"] {
        assert!(
            dot.contains(&format!("subgraph \"cluster_{}\"", n(ns))),
            "{ns}: {dot}"
        );
        assert!(dot.contains(&format!("label=\"{}\"", n(ns))), "{ns}: {dot}");
    }
    for (ns, link) in [
        ("lan", "br0"),
        ("lan", "test"),
        ("lan", "net1"),
        ("test", "eth0"),
        ("net1", "eth0"),
        ("ns1", "macvlan1"),
        ("ns2", "macvlan2"),
    ] {
        assert!(
            dot.contains(&format!("    \"{}\" [label=\"{link}\\n", id(ns, link))),
            "{ns}/{link}: {dot}"
        );
    }
    assert!(!dot.contains("/lo\""), "loopback is left out: {dot}");
    let edges = dot_edges(&dot);
    let want: BTreeSet<(String, String, String)> = [
        (id("net1", "eth0"), id("ns1", "macvlan1"), "macvlan vepa"),
        (id("net1", "eth0"), id("ns2", "macvlan2"), "macvlan vepa"),
        (id("lan", "test"), id("test", "eth0"), "veth"),
        (id("lan", "net1"), id("net1", "eth0"), "veth"),
        (id("lan", "br0"), id("lan", "net1"), "port"),
    ]
    .into_iter()
    .map(|(a, b, l)| (a, b, l.to_string()))
    .collect();
    assert_eq!(edges, want, "{dot}");
    assert!(dot.contains("172.16.10.5/24"), "addresses on links: {dot}");

    // Mermaid: the same graph.
    let out = w.run(&["graph", "--format", "mermaid", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = stdout(&out);
    assert!(m.contains("flowchart TB"), "{m}");
    let (clusters, nodes, edges) = mermaid_parts(&m);
    for ns in ["lan", "test", "net1", "ns1", "ns2"] {
        assert!(clusters.contains(&n(ns)), "{ns}: {m}");
    }
    assert_eq!(nodes.len(), 7, "{nodes:?}");
    assert!(nodes.contains(&id("ns2", "macvlan2")), "{nodes:?}");
    let want: BTreeSet<MermaidEdge> = [
        (
            id("net1", "eth0"),
            "-.->",
            "macvlan vepa",
            id("ns1", "macvlan1"),
        ),
        (
            id("net1", "eth0"),
            "-.->",
            "macvlan vepa",
            id("ns2", "macvlan2"),
        ),
        (id("lan", "test"), "<==>", "veth", id("test", "eth0")),
        (id("lan", "net1"), "<==>", "veth", id("net1", "eth0")),
        (id("lan", "br0"), "---", "port", id("lan", "net1")),
    ]
    .into_iter()
    .map(|(a, arrow, l, b)| (a, arrow.to_string(), l.to_string(), b))
    .collect();
    assert_eq!(edges, want, "{m}");

    // SVG, the default, to a file: well-formed XML naming every namespace
    // and link.
    let file = w.state_dir.join("lab.svg");
    let out = w.run(&["graph", &lab, "-o", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let svg = std::fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let texts: BTreeSet<String> = doc
        .descendants()
        .filter(|d| d.has_tag_name("text"))
        .filter_map(|d| d.text().map(str::to_string))
        .collect();
    for ns in ["lan", "test", "net1", "ns1", "ns2"] {
        assert!(texts.contains(&n(ns)), "{ns} not in {texts:?}");
    }
    for link in [
        "br0",
        "test",
        "net1",
        "eth0",
        "macvlan1",
        "macvlan2",
        "macvlan vepa",
        "172.16.10.2/24",
    ] {
        assert!(texts.contains(link), "{link} not in {texts:?}");
    }
    let stdout_svg = w.run(&["graph", &lab]);
    assert!(
        stdout(&stdout_svg).starts_with("<?xml"),
        "SVG is the default"
    );

    // A link set down by hand is DOWN; the veth end it leaves without
    // carrier is NO-CARRIER, drawn apart from it.
    let test_ns = n("test");
    assert!(
        std::process::Command::new("ip")
            .args(["-n", &test_ns, "link", "set", "eth0", "down"])
            .status()
            .unwrap()
            .success()
    );
    let lan_test = ip_json(Some(&n("lan")), &["link", "show", "test"]);
    assert_ne!(lan_test[0]["operstate"], "UP", "{lan_test}");
    let out = w.run(&["graph", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = stdout(&out);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed");
    let state = |id: &str| {
        doc.descendants()
            .find(|d| d.attribute("data-id") == Some(id))
            .and_then(|d| d.attribute("data-state"))
            .map(str::to_string)
    };
    assert_eq!(state(&id("test", "eth0")).as_deref(), Some("down"));
    assert_eq!(state(&id("lan", "test")).as_deref(), Some("no-carrier"));
    assert_eq!(state(&id("lan", "br0")).as_deref(), Some("up"));
    let texts = texts_of(&doc);
    assert!(texts.contains("veth, NO-CARRIER"), "{texts:?}");
    assert!(texts.contains("veth, DOWN"), "{texts:?}");
    let dot = stdout(&w.run(&["graph", "--format", "dot", &lab]));
    assert!(dot.contains("eth0\\nveth, DOWN"), "{dot}");
    assert!(dot.contains("test\\nveth, NO-CARRIER"), "{dot}");

    // A namespace gone behind netwasm's back is reported, not fatal.
    let gone = n("ns2");
    assert!(
        std::process::Command::new("ip")
            .args(["netns", "delete", &gone])
            .status()
            .unwrap()
            .success()
    );
    let v = show_json(&w, &lab);
    let ns2 = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == gone)
        .unwrap();
    assert_eq!(ns2["present"], false);
    assert_eq!(ns2["links"], Value::Array(vec![]));
    let text = stdout(&w.run(&["show", &lab]));
    assert!(
        text.contains(&format!("namespace {gone}  MISSING")),
        "{text}"
    );
    let out = w.run(&["graph", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    roxmltree::Document::parse(&stdout(&out)).expect("still well-formed");
    assert!(stdout(&out).contains(&format!("{gone} (missing)")));
    assert!(stderr(&out).contains("missing"), "{}", stderr(&out));

    down(&w, &lab);
}
