//! Every link, address and route operation of the WIT API, checked against
//! what `ip -j -d` reports.

mod common;

use common::*;

fn guest_lines(out: &std::process::Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter_map(|l| l.strip_prefix("[guest] ").map(str::to_string))
        .collect()
}

#[test]
fn links_addresses_and_routes_do_what_ip_shows() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let kit = rust_guest("testkit");
    let lab = format!("{}-links", w.prefix);
    let (a, b) = (w.ns("a"), w.ns("b"));
    let s: Vec<String> = vec![
        format!("ns {a}"),
        format!("ns {b}"),
        format!("bridge {a} br0"),
        format!("veth {a} v0 {b} v1"),
        format!("veth {a} h0 {a} h1"),
        format!("veth {a} d0 {a} d1"),
        format!("master {a} h0 br0"),
        format!("hairpin {a} h0 on"),
        format!("up {a} br0"),
        format!("up {a} h0"),
        format!("mtu {a} v0 1400"),
        format!("mac {a} v0 02:00:00:00:00:0a"),
        format!("macvlan {a} v0 mp0 private {b}"),
        format!("macvlan {a} v0 ms0 source {b}"),
        format!("macvlan {a} v0 mv0 - {b}"),
        format!("up {a} v0"),
        format!("up {b} v1"),
        format!("addr {b} v1 10.60.0.2/24"),
        format!("addr {b} v1 fd00:60::2/64"),
        format!("addr {b} v1 10.60.1.2/24"),
        format!("del-addr {b} v1 10.60.1.2/24"),
        format!("route {b} 10.61.0.0/16 via 10.60.0.1 metric 50"),
        format!("route {b} 10.62.0.0/16 dev v1"),
        format!("route {b} fd00:61::/64 via fd00:60::1"),
        format!("route {b} 10.63.0.0/16 via 10.60.0.1"),
        format!("del-route {b} 10.63.0.0/16 via 10.60.0.1"),
        // Move with a rename; the handle follows the link.
        format!("veth {a} m0 {a} m1"),
        format!("move {a} m0 {b} moved0"),
        format!("up {b} moved0"),
        format!("info {a} h0"),
        format!("info {b} mv0"),
        format!("links {b}"),
        format!("addrs {b} v1"),
        format!("routes {b}"),
        format!("try del-link {a} d1"),
        format!("try info {a} d0"),
        format!("try mtu {a} v0 20"),
        format!("try mac {a} v0 01:00:5e:00:00:01"),
        format!("try veth {a} br0 {a} x1"),
        format!("try hairpin {a} v0 on"),
    ];
    let mut args = vec!["run", "--lab", &lab, kit.to_str().unwrap(), "--"];
    args.extend(s.iter().map(String::as_str));
    let out = w.run(&args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = guest_lines(&out);
    let find = |prefix: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in {lines:#?}"))
            .clone()
    };

    // The bridge port: master and hairpin, as ip shows them.
    let h0 = link(&a, "h0");
    assert_eq!(h0["master"], "br0");
    assert_eq!(h0["linkinfo"]["info_slave_kind"], "bridge");
    assert_eq!(h0["linkinfo"]["info_slave_data"]["hairpin"], true, "{h0}");
    assert!(find("info h0 ").contains("master=br0"));

    // MTU and MAC on the parent; macvlans in every mode, created in b.
    let v0 = link(&a, "v0");
    assert_eq!(v0["mtu"], 1400);
    assert_eq!(v0["address"], "02:00:00:00:00:0a");
    for (name, mode) in [("mp0", "private"), ("ms0", "source"), ("mv0", "vepa")] {
        let l = link(&b, name);
        assert_eq!(l["linkinfo"]["info_data"]["mode"], mode, "{l}");
        assert_eq!(l["mtu"], 1400, "a macvlan inherits its parent's MTU");
    }
    let mv0 = find("info mv0 ");
    assert!(
        mv0.contains("mode=Some(MacvlanMode::Vepa)"),
        "no mode given: the kernel default, reported: {mv0}"
    );
    assert!(mv0.contains(&format!("parent=v0@{a}")), "{mv0}");

    // The list reports what ip reports.
    let ip_links = ip_json(Some(&b), &["-d", "link", "show"]);
    for l in ip_links.as_array().unwrap() {
        let name = l["ifname"].as_str().unwrap();
        let line = find(&format!("link {} {name} ", l["ifindex"]));
        assert!(line.contains(&format!("mtu={}", l["mtu"])), "{line}");
        if let Some(kind) = l["linkinfo"]["info_kind"].as_str() {
            assert!(line.contains(&format!("kind={kind} ")), "{line}");
        }
        if name != "lo" {
            assert!(
                line.contains(&format!("mac={}", l["address"].as_str().unwrap())),
                "{line}"
            );
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" moved0 ") && l.contains("up=true")),
        "the move renamed it: {lines:#?}"
    );
    assert_eq!(link(&b, "moved0")["linkinfo"]["info_kind"], "veth");

    // Addresses: v4 and v6, the deleted one gone.
    assert_eq!(addrs4(&b, "v1"), vec!["10.60.0.2/24".to_string()]);
    assert!(
        lines
            .iter()
            .any(|l| l == "address 10.60.0.2/24 IpFamily::Ipv4 global"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "address fd00:60::2/64 IpFamily::Ipv6 global"),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("10.60.1.2")));

    // Routes, with gateway, dev, metric; the deleted one gone.
    let r = ip_json(Some(&b), &["-4", "route", "show", "10.61.0.0/16"]);
    assert_eq!(r[0]["gateway"], "10.60.0.1");
    assert_eq!(r[0]["metric"], 50);
    let r = ip_json(Some(&b), &["-4", "route", "show", "10.62.0.0/16"]);
    assert_eq!(r[0]["dev"], "v1");
    assert_eq!(r[0]["scope"], "link");
    let r = ip_json(Some(&b), &["-6", "route", "show", "fd00:61::/64"]);
    assert_eq!(r[0]["gateway"], "fd00:60::1");
    assert!(
        ip_json(Some(&b), &["-4", "route", "show", "10.63.0.0/16"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(find("route 10.61.0.0/16 ").contains("via=10.60.0.1 dev=v1 metric=Some(50) proto=110"));
    assert!(find("route fd00:61::/64 ").contains("via=fd00:60::1"));

    // Deleting one end of a veth deletes both; the other handle then reports it gone.
    let errors: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("error:") || *l == "ok")
        .collect();
    assert_eq!(errors[0], "ok", "{errors:#?}");
    assert!(errors[1].starts_with("error: not found:"), "{errors:#?}");
    assert!(
        errors[2].contains("MTU 20: must be between 68 and 65535"),
        "{errors:#?}"
    );
    assert!(errors[3].contains("is multicast"), "{errors:#?}");
    assert!(
        errors[4].starts_with("error: already exists:") && errors[4].contains("EEXIST"),
        "{errors:#?}"
    );
    assert!(errors[5].contains("not a bridge port"), "{errors:#?}");
    let names: Vec<String> = ip_json(Some(&a), &["link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names.contains(&"d0".to_string()) && !names.contains(&"d1".to_string()),
        "{names:?}"
    );

    assert!(w.run(&["down", &lab]).status.success());
    assert!(w.namespaces().is_empty());
}
