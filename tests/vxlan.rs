//! vxlan links on the real kernel: an overlay across a veth underlay that
//! carries pings, as `ip -j -d link` and `ping` see it; `show` and `graph`;
//! rollback and `down` in a namespace the lab did not make; and the
//! refusals (policy and arguments) that leave nothing.

mod common;

use serde_json::Value;

use common::*;

fn strings(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The statements that build two namespaces `a` and `b` on a veth
/// underlay (10.99.0.1 and .2 on `u0`), each with a vxlan `vx0` of VNI 42
/// on `u0` pointed at the other, up, at 192.168.77.1 and .2.
fn overlay(a: &str, b: &str) -> Vec<String> {
    vec![
        format!("ns {a}"),
        format!("ns {b}"),
        format!("veth {a} u0 {b} u0"),
        format!("addr {a} u0 10.99.0.1/24"),
        format!("addr {b} u0 10.99.0.2/24"),
        format!("up {a} u0"),
        format!("up {b} u0"),
        format!("vxlan {a} vx0 42 remote=10.99.0.2 local=10.99.0.1 dev=u0"),
        format!("vxlan {b} vx0 42 remote=10.99.0.1 local=10.99.0.2 dev=u0"),
        format!("addr {a} vx0 192.168.77.1/24"),
        format!("addr {b} vx0 192.168.77.2/24"),
        format!("up {a} vx0"),
        format!("up {b} vx0"),
    ]
}

#[test]
fn an_overlay_across_a_veth_underlay_carries_pings() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-vx", w.prefix);
    let (a, b) = (w.ns("a"), w.ns("b"));
    let mut s = overlay(&a, &b);
    s.extend([
        format!("ping {a} 192.168.77.2"),
        format!("ping {b} 192.168.77.1"),
        // Nobody there: an address the overlay does not have.
        format!("ping {a} 192.168.77.3"),
        format!("vxinfo {a} vx0"),
        format!("vxinfo {b} u0"),
        format!("info {a} vx0"),
    ]);
    // The simulated kernel predicts what the real one does.
    let mut args = w.kit_args(&lab, None, &[], &s);
    args[0] = "plan".into();
    let planned = w.run(&strings(&args));
    assert!(
        planned.status.success(),
        "{}{}",
        stdout(&planned),
        stderr(&planned)
    );
    assert!(w.namespaces().is_empty(), "plan made nothing");
    let out = w.run_kit(&lab, None, &s);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = guest_lines(&out);
    assert!(
        lines.contains(&"ping 192.168.77.2 2/2".to_string()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(
            &"vxinfo vx0 id=42 remote=10.99.0.2 group= local=10.99.0.1 dev=u0 port=4789 learning=true ttl=0"
                .to_string()
        ),
        "{lines:#?}"
    );
    assert!(lines.contains(&"vxinfo u0 none".to_string()), "{lines:#?}");
    assert!(
        lines.contains(&"ping 192.168.77.3 0/2".to_string()),
        "{lines:#?}"
    );
    assert_eq!(guest_lines(&planned), lines, "plan and run differ");

    // What ip sees: the tunnel as asked, with 4789 although the kernel's
    // default is 8472, and the MTU the device leaves it.
    for (ns, local, remote, overlay) in [
        (&a, "10.99.0.1", "10.99.0.2", "192.168.77.1/24"),
        (&b, "10.99.0.2", "10.99.0.1", "192.168.77.2/24"),
    ] {
        let l = link(ns, "vx0");
        assert_eq!(l["linkinfo"]["info_kind"], "vxlan", "{l}");
        let d = &l["linkinfo"]["info_data"];
        assert_eq!(d["id"], 42, "{l}");
        assert_eq!(d["remote"], remote, "{l}");
        assert_eq!(d["local"], local, "{l}");
        assert_eq!(d["port"], 4789, "{l}");
        assert_eq!(d["link"], "u0", "{l}");
        assert_eq!(d["learning"], true, "{l}");
        assert_eq!(l["mtu"], 1450, "{l}");
        assert_eq!(addrs4(ns, "vx0"), vec![overlay.to_string()]);
    }
    // An independent ping across the overlay, both ways.
    assert!(ping(&a, "192.168.77.2"));
    assert!(ping(&b, "192.168.77.1"));

    // show: the tunnel in JSON and in the table.
    let out = w.run(&["show", "--json", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let vx = v["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == a.as_str())
        .and_then(|n| {
            n["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["name"] == "vx0")
        })
        .unwrap_or_else(|| panic!("no vx0 in {v:#}"))
        .clone();
    assert_eq!(vx["kind"], "vxlan");
    assert_eq!(vx["in_ledger"], true);
    assert_eq!(vx["oper_state"], "UNKNOWN");
    let t = &vx["vxlan"];
    assert_eq!(
        (&t["id"], &t["remote"], &t["local"], &t["port"], &t["group"]),
        (
            &Value::from(42),
            &Value::from("10.99.0.2"),
            &Value::from("10.99.0.1"),
            &Value::from(4789),
            &Value::Null
        ),
        "{vx:#}"
    );
    assert_eq!(t["device"]["name"], "u0", "{vx:#}");
    assert_eq!(t["device"]["namespace"], a.as_str(), "{vx:#}");
    let text = stdout(&w.run(&["show", &lab]));
    assert!(text.contains("vni 42"), "{text}");
    assert!(text.contains(&format!("dev u0@{a}")), "{text}");
    assert!(text.contains("remote 10.99.0.2:4789"), "{text}");

    // graph: the device's edge and the tunnel between the two.
    let out = w.run(&["graph", "--format", "dot", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    let dot = stdout(&out);
    assert!(
        dot.contains(&format!("\"{a}/u0\" -> \"{a}/vx0\" [label=\"vxlan 42\"")),
        "{dot}"
    );
    assert!(
        dot.contains(&format!("\"{a}/vx0\" -> \"{b}/vx0\" [label=\"vni 42\"")),
        "{dot}"
    );

    // status finds no drift; down removes it all.
    let out = w.run(&["status", &lab]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = w.run(&["down", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.namespaces().is_empty(), "{:?}", w.namespaces());
}

/// A policy that lets the lab build in the decoy `ns` and use its `p0`
/// as a vxlan device, with VNIs 100 to 199 and remotes in 192.0.2.0/24.
fn granted(ns: &str) -> String {
    format!(
        "[namespaces]\nmodify = [\"{ns}\"]\n\n[links]\nparents = [{{ namespace = \"{ns}\", link = \"p0\" }}]\nvxlan-ids = [\"100-199\"]\nvxlan-remotes = [\"192.0.2.0/24\"]\n"
    )
}

#[test]
fn in_a_namespace_the_lab_did_not_make_rollback_and_down_remove_only_the_vxlan() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let decoy = Decoy::new(&w, "up");
    let d = decoy.name.clone();
    let before = decoy.state();
    let policy = granted(&d);

    // A failed run takes its vxlan back out.
    let lab = format!("{}-rb", w.prefix);
    let s = vec![
        format!("vxlan {d} vx0 150 remote=192.0.2.9 dev=p0"),
        format!("up {d} vx0"),
        "fail on purpose".to_string(),
    ];
    let out = w.run_kit(&lab, Some(&policy), &s);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stderr(&out).contains("rolled back"), "{}", stderr(&out));
    assert_eq!(
        decoy.state(),
        before,
        "the rollback left the namespace as it was"
    );

    // A committed one stays until `down`, which removes the vxlan alone.
    let lab = format!("{}-up", w.prefix);
    let s = vec![format!(
        "vxlan {d} vx0 150 remote=192.0.2.9 dev=p0 port=4790 nolearning ttl=9"
    )];
    let out = w.run_kit(&lab, Some(&policy), &s);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let l = link(&d, "vx0");
    let data = &l["linkinfo"]["info_data"];
    assert_eq!(
        (&data["id"], &data["port"]),
        (&Value::from(150), &Value::from(4790)),
        "{l}"
    );
    assert_eq!(
        (&data["learning"], &data["ttl"]),
        (&Value::from(false), &Value::from(9)),
        "{l}"
    );
    assert_eq!(data["link"], "p0", "{l}");
    let out = w.run(&["down", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(decoy.state(), before, "down left the namespace as it was");
}

#[test]
fn refusals_are_typed_and_leave_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let decoy = Decoy::new(&w, "up");
    let other = Decoy::new(&w, "other");
    let d = decoy.name.clone();
    let o = other.name.clone();
    let (before, other_before) = (decoy.state(), other.state());
    // `other` may be opened, not built in.
    let policy = format!("{}\n[addresses]\nallow = [\"192.0.2.0/24\"]\n", granted(&d))
        .replace("modify = [", &format!("open = [\"{o}\"]\nmodify = ["));
    let lab = format!("{}-no", w.prefix);
    let attempts = [
        // Not granted: building in a namespace only opened.
        (
            format!("vxlan {o} vx0 150 remote=192.0.2.9"),
            "denied: ",
            "[namespaces] modify",
        ),
        // A remote outside [links] vxlan-remotes, a local outside
        // [addresses] allow.
        (
            format!("vxlan {d} vx0 150 remote=198.51.100.9"),
            "denied: ",
            "to [links] vxlan-remotes",
        ),
        (
            format!("vxlan {d} vx0 150 remote=192.0.2.9 local=10.0.0.1"),
            "denied: ",
            "to [addresses] allow",
        ),
        // A VNI outside [links] vxlan-ids, and one past 24 bits.
        (
            format!("vxlan {d} vx0 200 remote=192.0.2.9"),
            "denied: ",
            "add 200 to [links] vxlan-ids",
        ),
        (
            format!("vxlan {d} vx0 16777216 remote=192.0.2.9"),
            "invalid argument: ",
            "VNI 16777216 is out of range",
        ),
        // A device the policy does not grant.
        (
            format!("vxlan {d} vx0 150 remote=192.0.2.9 dev=p1"),
            "denied: ",
            "link = \"p1\" } to [links] parents",
        ),
        // A group without a device; a multicast remote.
        (
            format!("vxlan {d} vx0 150 group=239.1.1.1"),
            "invalid argument: ",
            "a group needs a device",
        ),
        (
            format!("vxlan {d} vx0 150 remote=239.1.1.1 dev=p0"),
            "invalid argument: ",
            "not a unicast address",
        ),
    ];
    let mut s: Vec<String> = attempts
        .iter()
        .map(|(a, _, _)| format!("try {a}"))
        .collect();
    // The kernel's refusal of a second vxlan of a VNI and port is typed
    // too, and the first stays.
    s.push(format!("vxlan {d} vx0 150 remote=192.0.2.9 dev=p0"));
    s.push(format!("try vxlan {d} vx1 150 remote=192.0.2.8"));
    let out = w.run_kit(&lab, Some(&policy), &s);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = guest_lines(&out);
    let results: Vec<&String> = lines
        .iter()
        .filter(|l| *l == "ok" || l.starts_with("error: "))
        .collect();
    assert_eq!(results.len(), attempts.len() + 1, "{lines:#?}");
    for ((attempt, kind, hint), line) in attempts.iter().zip(&results) {
        assert!(
            line.starts_with(&format!("error: {kind}")) && line.contains(hint),
            "{attempt}: want {kind}...{hint}, got {line}"
        );
    }
    let last = results.last().unwrap();
    assert!(
        last.starts_with("error: already exists: ")
            && last.contains("A VXLAN device with the specified VNI already exists"),
        "{last}"
    );
    // Only the one vxlan made it; down takes it; nothing else changed.
    assert_eq!(other.state(), other_before);
    let mut names: Vec<String> = ip_json(Some(&d), &["link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(strings(&names), ["lo", "p0", "p1", "vx0"], "{names:?}");
    assert!(w.run(&["down", &lab]).status.success());
    assert_eq!(decoy.state(), before);
}

#[test]
fn a_batch_makes_vxlans_on_the_links_of_its_plans() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-batch", w.prefix);
    let (phy, u1, u2) = (w.ns("phy"), w.ns("u1"), w.ns("u2"));
    let unit = |name: &str, me: &str, other: &str| {
        format!(
            "{name},ip=10.98.0.{me}/24,vxlan=vx0/7/10.98.0.{other},up=vx0,addr=192.168.66.{me}/24@vx0"
        )
    };
    let s = vec![
        format!("ns {phy}"),
        format!("veth {phy} p0 {phy} p1"),
        format!("up {phy} p0"),
        format!("up {phy} p1"),
        format!(
            "build {phy} p0 bridge {} {}",
            unit(&u1, "1", "2"),
            unit(&u2, "2", "1")
        ),
        format!("ping {u1} 192.168.66.2"),
    ];
    let out = w.run_kit(&lab, None, &s);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        guest_lines(&out).contains(&"ping 192.168.66.2 2/2".to_string()),
        "{:?}",
        guest_lines(&out)
    );
    for (ns, remote) in [(&u1, "10.98.0.2"), (&u2, "10.98.0.1")] {
        let l = link(ns, "vx0");
        let d = &l["linkinfo"]["info_data"];
        assert_eq!(
            (&d["id"], &d["remote"], &d["link"]),
            (&Value::from(7), &Value::from(remote), &Value::from("eth0")),
            "{l}"
        );
        assert_eq!(d["port"], 4789, "{l}");
    }
    assert!(ping(&u2, "192.168.66.1"));
    assert!(w.run(&["down", &lab]).status.success());
    assert!(w.namespaces().is_empty(), "{:?}", w.namespaces());
}
