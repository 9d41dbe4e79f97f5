//! Reachability probes and expectations against known-good and
//! known-blocked pairs, cross-checked with the real `ping`.

mod common;

use common::*;

/// Statements building: a parent veth end `p0` (10.50.0.1) in `up`; two
/// bridge-mode macvlan children of it in `b1`/`b2` (.11/.12, also IPv6);
/// two vepa children in `v1`/`v2` (.21/.22).
fn build(w: &World) -> Vec<String> {
    let up = w.ns("up");
    let mut s = vec![
        format!("ns {up}"),
        format!("veth {up} p0 {up} p1"),
        format!("addr {up} p0 10.50.0.1/24"),
        format!("up {up} p0"),
        format!("up {up} p1"),
    ];
    for (ns, mode, ip, ip6) in [
        ("b1", "bridge", "10.50.0.11/24", Some("fd00:50::11/64")),
        ("b2", "bridge", "10.50.0.12/24", Some("fd00:50::12/64")),
        ("v1", "vepa", "10.50.0.21/24", None),
        ("v2", "vepa", "10.50.0.22/24", None),
    ] {
        let n = w.ns(ns);
        s.push(format!("ns {n}"));
        s.push(format!("macvlan {up} p0 mv0 {mode} {n}"));
        s.push(format!("addr {n} mv0 {ip}"));
        if let Some(ip6) = ip6 {
            s.push(format!("addr {n} mv0 {ip6}"));
        }
        s.push(format!("up {n} mv0"));
    }
    s
}

#[test]
fn probes_report_success_and_loss() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let kit = rust_guest("testkit");
    let lab = format!("{}-probe", w.prefix);
    let (b1, v1) = (w.ns("b1"), w.ns("v1"));
    let mut s = build(&w);
    s.extend([
        format!("ping {b1} 10.50.0.12"),
        format!("ping {v1} 10.50.0.22"),
        format!("ping {b1} 10.50.0.1"),
        format!("try ping {b1} 192.0.2.99"),
        // IPv6 addresses are usable once duplicate address detection is done.
        "sleep 2500".into(),
        format!("ping {b1} fd00:50::12"),
        format!("neigh {b1}"),
        "try ping / 10.50.0.1".into(),
        format!("try ping {b1} not-an-address"),
    ]);
    let mut args = vec!["run", "--lab", &lab, kit.to_str().unwrap(), "--"];
    args.extend(s.iter().map(String::as_str));
    let out = w.run(&args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("ping 10.50.0.12 2/2"),
        "bridge siblings answer: {text}"
    );
    assert!(
        text.contains("ping 10.50.0.22 0/2"),
        "vepa siblings do not: {text}"
    );
    assert!(
        text.contains("ping 10.50.0.1 0/2"),
        "a child never reaches its parent: {text}"
    );
    assert!(
        text.contains("Network is unreachable (ENETUNREACH)"),
        "no route is an error: {text}"
    );
    assert!(
        text.contains("ping fd00:50::12 2/2"),
        "IPv6 bridge siblings answer: {text}"
    );
    assert!(
        text.contains("neigh 10.50.0.12 "),
        "the neighbour table has the sibling: {text}"
    );
    assert!(
        text.contains("error: denied: open the root network namespace"),
        "{text}"
    );
    assert!(
        text.contains("error: invalid argument: ping destination \"not-an-address\""),
        "{text}"
    );

    // The real ping agrees.
    assert!(ping(&b1, "10.50.0.12"));
    assert!(!ping(&v1, "10.50.0.22"));
    assert!(!ping(&b1, "10.50.0.1"));
    assert!(w.run(&["down", &lab]).status.success());
    assert!(w.namespaces().is_empty());
}

#[test]
fn an_unmet_expectation_fails_the_run_and_rolls_it_back() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let kit = rust_guest("testkit");
    let (b1, v1) = (w.ns("b1"), w.ns("v1"));
    let mut s = build(&w);
    s.extend([
        format!("expect {b1} 10.50.0.12 yes"),
        format!("expect {b1} 10.50.0.1 no"),
        // Wrong: vepa siblings cannot talk.
        format!("expect {v1} 10.50.0.22 yes"),
    ]);
    let mut args = vec!["run", kit.to_str().unwrap(), "--"];
    args.extend(s.iter().map(String::as_str));
    let out = w.run(&args);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("reachability: 3 checked, 2 met, 1 NOT met"),
        "{text}"
    );
    let fail = text
        .lines()
        .find(|l| l.contains("FAIL"))
        .expect("a FAIL row");
    assert!(fail.contains(&v1) && fail.contains("10.50.0.22"), "{fail}");
    assert!(
        fail.contains("reachable") && fail.contains("unreachable"),
        "expected vs actual: {fail}"
    );
    let ok = text
        .lines()
        .filter(|l| l.trim_start().starts_with("ok "))
        .count();
    assert_eq!(ok, 2, "{text}");
    let err = stderr(&out);
    assert!(
        err.contains("1 reachability expectation was not met"),
        "{err}"
    );
    assert!(err.contains("rolled back"), "{err}");
    assert!(w.namespaces().is_empty());
    assert_eq!(Snapshot::take(), before);
}
