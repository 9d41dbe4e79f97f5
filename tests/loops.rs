//! Layer-2 loops: a guest cannot build one, so it cannot burn the host's
//! CPU flooding broadcasts around it. Every refused step leaves the kernel
//! as it was (checked with `ip -j`), and ordinary topologies — a second
//! bridge behind one link, a VEPA switch port in hairpin mode — still work.

mod common;

use common::*;

/// The master of `link` in `ns`, as `ip` sees it.
fn master(ns: &str, link: &str) -> Option<String> {
    common::link(ns, link)["master"]
        .as_str()
        .map(str::to_string)
}

fn hairpin(ns: &str, link: &str) -> Option<bool> {
    common::link(ns, link)["linkinfo"]["info_slave_data"]["hairpin"].as_bool()
}

fn assert_loop_denied(line: &str) {
    assert!(line.starts_with("error: denied: "), "{line}");
    assert!(line.contains("Layer-2 loops"), "{line}");
}

#[test]
fn a_second_path_between_two_bridges_is_refused() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (a, b) = (w.ns("a"), w.ns("b"));
    let lab = format!("{}-l2", w.prefix);
    let out = w.run_kit(
        &lab,
        None,
        &[
            format!("ns {a}"),
            format!("ns {b}"),
            format!("bridge {a} br1"),
            format!("bridge {b} br2"),
            format!("veth {a} a1 {b} b1"),
            format!("veth {a} a2 {b} b2"),
            format!("master {a} a1 br1"),
            format!("master {b} b1 br2"),
            format!("master {a} a2 br1"),
            format!("try master {b} b2 br2"),
            // Through one bridge, the two ends of one pair.
            format!("veth {a} x0 {a} x1"),
            format!("master {a} x0 br1"),
            format!("try master {a} x1 br1"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    assert_loop_denied(&lines[0]);
    assert_loop_denied(&lines[1]);
    assert_eq!(master(&b, "b1").as_deref(), Some("br2"), "one path stands");
    assert_eq!(master(&a, "a2").as_deref(), Some("br1"));
    assert_eq!(master(&b, "b2"), None, "the second path was never made");
    assert_eq!(master(&a, "x1"), None);
    assert!(w.run(&["down", &lab]).status.success());
}

#[test]
fn macvlan_siblings_as_ports_of_one_bridge_are_refused() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let a = w.ns("a");
    let lab = format!("{}-mv", w.prefix);
    let out = w.run_kit(
        &lab,
        None,
        &[
            format!("ns {a}"),
            format!("veth {a} p {a} q"),
            format!("macvlan {a} p m1 bridge"),
            format!("macvlan {a} p m2 vepa"),
            format!("bridge {a} br"),
            format!("master {a} m1 br"),
            format!("try master {a} m2 br"),
            format!("try master {a} p br"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    assert_loop_denied(&lines[0]);
    assert_loop_denied(&lines[1]);
    assert_eq!(master(&a, "m1").as_deref(), Some("br"));
    assert_eq!(master(&a, "m2"), None);
    assert_eq!(master(&a, "p"), None);
    assert!(w.run(&["down", &lab]).status.success());
}

#[test]
fn hairpin_may_face_endpoints_but_never_another_bridge() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (s, h, b) = (w.ns("switch"), w.ns("host"), w.ns("b"));
    let lab = format!("{}-hp", w.prefix);
    let out = w.run_kit(
        &lab,
        None,
        &[
            // The seed lab's VEPA switch: hairpin on the port that faces a
            // host whose macvlan children are endpoints.
            format!("ns {s}"),
            format!("ns {h}"),
            format!("bridge {s} br0"),
            format!("veth {s} net1 {h} eth0"),
            format!("master {s} net1 br0"),
            format!("macvlan {h} eth0 mv1 vepa"),
            format!("macvlan {h} eth0 mv2 vepa"),
            format!("hairpin {s} net1 on"),
            // A bridge behind the host would now face the hairpin port.
            format!("bridge {h} brh"),
            format!("try master {h} mv1 brh"),
            // Two bridges joined by one pair: hairpin on either end is a
            // ping-pong of every flood.
            format!("ns {b}"),
            format!("bridge {b} br2"),
            format!("veth {s} net2 {b} up0"),
            format!("master {s} net2 br0"),
            format!("master {b} up0 br2"),
            format!("try hairpin {s} net2 on"),
            format!("try hairpin {b} up0 on"),
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = guest_lines(&out);
    for line in &lines {
        assert_loop_denied(line);
    }
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(hairpin(&s, "net1"), Some(true), "hairpin facing endpoints");
    assert_eq!(master(&h, "mv1"), None);
    assert_eq!(hairpin(&s, "net2"), Some(false));
    assert_eq!(hairpin(&b, "up0"), Some(false));
    assert!(w.run(&["down", &lab]).status.success());
}

#[test]
fn a_macvlan_on_a_macvlan_hangs_off_the_real_parent() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let a = w.ns("a");
    let lab = format!("{}-mm", w.prefix);
    let out = w.run_kit(
        &lab,
        None,
        &[
            format!("ns {a}"),
            format!("veth {a} p0 {a} p1"),
            format!("macvlan {a} p0 m1 bridge"),
            // The kernel makes m2 on p0, m1's parent.
            format!("macvlan {a} m1 m2 bridge"),
            format!("del-link {a} m1"),
            format!("macvlan {a} p0 m3 bridge"),
            format!("bridge {a} br0"),
            format!("master {a} m2 br0"),
            format!("try master {a} m3 br0"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_loop_denied(&guest_lines(&out)[0]);
    assert_eq!(master(&a, "m3"), None);
    assert!(w.run(&["down", &lab]).status.success());
}

#[test]
fn what_earlier_runs_built_counts_in_an_attached_run() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let a = w.ns("a");
    let lab = format!("{}-at", w.prefix);
    let first = w.run_kit(
        &lab,
        None,
        &[
            format!("ns {a}"),
            format!("bridge {a} br1"),
            format!("bridge {a} br2"),
            format!("veth {a} v0 {a} v1"),
            format!("master {a} v0 br1"),
            format!("master {a} v1 br2"),
        ],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let args = w.kit_args(
        &lab,
        None,
        &["--attach"],
        &[
            format!("open {a}"),
            format!("veth {a} w0 {a} w1"),
            format!("master {a} w0 br1"),
            format!("try master {a} w1 br2"),
        ],
    );
    let out = w.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_loop_denied(&guest_lines(&out)[0]);
    assert_eq!(master(&a, "w1"), None);
    assert!(w.run(&["down", &lab]).status.success());
}

#[test]
fn links_the_kernel_took_away_leave_no_stale_names() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let b = w.ns("b");
    let lab = format!("{}-st", w.prefix);
    let mut statements = vec![
        format!("ns {b}"),
        format!("veth {b} p {b} q"),
        // y, a macvlan, dies with p; a bridge takes its name.
        format!("macvlan {b} p y bridge"),
        format!("del-link {b} p"),
        format!("bridge {b} x"),
        format!("bridge {b} y"),
        format!("veth {b} a1 {b} a2"),
        format!("veth {b} b1 {b} b2"),
        format!("master {b} a1 x"),
        format!("master {b} a2 y"),
        format!("master {b} b1 x"),
    ];
    // However the lab's entries hash, the second path is refused.
    for i in 0..8 {
        statements.push(format!("try master {b} b2 y"));
        statements.push(format!("bridge {b} d{i}"));
    }
    // A "move" into its own namespace would be a rename that keeps it in
    // its bridge: refused.
    statements.push(format!("try move {b} b1 {b}"));
    statements.push(format!("try master {b} b2 y"));
    let out = w.run_kit(&lab, None, &statements);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    assert_eq!(lines.len(), 10, "{lines:?}");
    for (i, line) in lines.iter().enumerate() {
        if i == 8 {
            assert!(line.contains("in that namespace already"), "{line}");
        } else {
            assert_loop_denied(line);
        }
    }
    assert_eq!(master(&b, "b2"), None);
    assert!(w.run(&["down", &lab]).status.success());
}

#[test]
fn an_attached_run_sees_what_adopted_links_hang_off() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let d = Decoy::new(&w, "up");
    let n = d.name.clone();
    let a = w.ns("a");
    let lab = format!("{}-ad", w.prefix);
    let policy = format!("[namespaces]\nmodify = [\"{n}\"]\n");
    let statements = vec![
        format!("ns {a}"),
        format!("veth {a} pa {n} pb"),
        format!("macvlan {n} pb m1 bridge {a}"),
        format!("macvlan {n} pb m2 bridge {a}"),
        format!("bridge {a} brx"),
        format!("bridge {a} bry"),
        format!("veth {a} c1 {a} c2"),
        format!("master {a} c1 brx"),
        format!("master {a} c2 bry"),
        format!("master {a} m1 brx"),
        format!("try master {a} m2 bry"),
    ];
    let out = w.run_kit(&lab, Some(&policy), &statements);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_loop_denied(&guest_lines(&out)[0]);
    let args = w.kit_args(
        &lab,
        Some(&policy),
        &["--attach"],
        &[format!("open {n}"), format!("try master {a} m2 bry")],
    );
    let out = w.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        guest_lines(&out)[0].starts_with("error: denied: "),
        "{:?}",
        guest_lines(&out)
    );
    assert_eq!(master(&a, "m2"), None);
    assert!(w.run(&["down", &lab]).status.success());
}
