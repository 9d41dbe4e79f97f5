//! `netwasm status` against the snapshot of the lab's last commit: every
//! property `show` reports, changed with `ip netns exec` behind a lab a
//! guest built, is drift (exit 7) named in one line; an untouched lab,
//! IPv6 autoconfiguration and duplicate address detection included, is
//! not.

mod common;

use std::process::Command;

use common::*;

/// `ip ARGS` inside `ns`, by `ip netns exec`, as an operator would.
fn ip_in(ns: &str, args: &[&str]) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "ip"])
        .args(args)
        .output()
        .expect("run ip netns exec");
    assert!(
        out.status.success(),
        "ip netns exec {ns} ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `status`: its exit code and its drift lines.
fn status(w: &World, lab: &str) -> (Option<i32>, Vec<String>, String) {
    let out = w.run(&["status", lab]);
    let text = stdout(&out);
    let drift = text
        .lines()
        .filter_map(|l| l.strip_prefix("drift: ").map(str::to_string))
        .collect();
    (out.status.code(), drift, text)
}

fn assert_clean(w: &World, lab: &str) {
    let (code, _, text) = status(w, lab);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("as at its last commit"), "{text}");
}

/// Makes the change, expects exactly `want` as drift, undoes it, and
/// expects no drift again.
fn detected(w: &World, lab: &str, change: impl Fn(), want: &[String], undo: impl Fn()) {
    change();
    let (code, drift, text) = status(w, lab);
    assert_eq!(code, Some(7), "{text}");
    assert_eq!(drift, want, "{text}");
    undo();
    assert_clean(w, lab);
}

#[test]
fn every_property_show_reports_is_compared_with_the_commit() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-drift", w.prefix);
    let _down = LabsDown::new(&w, &[&lab]);
    let (a, b) = (w.ns("a"), w.ns("b"));
    let statements: Vec<String> = [
        format!("ns {a}"),
        format!("ns {b}"),
        format!("veth {a} v0 {b} v1"),
        format!("bridge {a} br0"),
        format!("veth {a} p0 {a} p1"),
        format!("master {a} p0 br0"),
        format!("up {a} lo"),
        format!("up {a} v0"),
        format!("up {a} br0"),
        format!("up {a} p0"),
        format!("up {a} p1"),
        format!("up {b} lo"),
        format!("up {b} v1"),
        format!("addr {a} v0 10.9.0.1/24"),
        format!("addr {a} v0 fd00:9::1/64"),
        format!("addr {b} v1 10.9.0.2/24"),
        format!("addr {b} v1 fd00:9::2/64"),
        format!("route {b} default via 10.9.0.1"),
    ]
    .into();
    let up = w.run_kit(&lab, None, &statements);
    assert!(up.status.success(), "{}{}", stdout(&up), stderr(&up));
    assert!(
        w.state_dir
            .join("labs")
            .join(&lab)
            .join("snapshot")
            .is_file(),
        "the commit recorded a snapshot"
    );
    assert_clean(&w, &lab);
    // IPv6 link-local addresses appear and duplicate address detection
    // ends in the seconds after the commit: none of it is drift.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_clean(&w, &lab);

    detected(
        &w,
        &lab,
        || ip_in(&a, &["link", "set", "v0", "mtu", "1400"]),
        &[format!("{a}/v0: mtu 1500 → 1400")],
        || ip_in(&a, &["link", "set", "v0", "mtu", "1500"]),
    );
    let mac = link(&b, "v1")["address"].as_str().unwrap().to_string();
    detected(
        &w,
        &lab,
        || ip_in(&b, &["link", "set", "v1", "address", "02:00:00:aa:bb:cc"]),
        &[format!("{b}/v1: mac {mac} → 02:00:00:aa:bb:cc")],
        || ip_in(&b, &["link", "set", "v1", "address", &mac]),
    );
    // Its peer loses its carrier: reported apart, not drift.
    ip_in(&a, &["link", "set", "p1", "down"]);
    let (code, drift, text) = status(&w, &lab);
    assert_eq!(code, Some(7), "{text}");
    assert_eq!(drift, [format!("{a}/p1: admin up → down")], "{text}");
    assert!(
        text.contains(&format!("carrier: {a}/p0: oper UP → LOWERLAYERDOWN")),
        "{text}"
    );
    ip_in(&a, &["link", "set", "p1", "up"]);
    assert_clean(&w, &lab);
    let br_mac = link(&a, "br0")["address"].as_str().unwrap().to_string();
    ip_in(&a, &["link", "set", "p0", "nomaster"]);
    let (code, drift, text) = status(&w, &lab);
    assert_eq!(code, Some(7), "{text}");
    assert!(
        drift.contains(&format!("{a}/p0: master br0 → none")),
        "{text}"
    );
    ip_in(&a, &["link", "set", "p0", "master", "br0"]);
    assert_eq!(link(&a, "br0")["address"], br_mac.as_str());
    assert_clean(&w, &lab);
    detected(
        &w,
        &lab,
        || ip_in(&a, &["addr", "add", "10.9.1.1/24", "dev", "v0"]),
        // Its prefix route follows it: not said again.
        &[format!("{a}/v0: address 10.9.1.1/24 added")],
        || ip_in(&a, &["addr", "del", "10.9.1.1/24", "dev", "v0"]),
    );
    detected(
        &w,
        &lab,
        || ip_in(&a, &["addr", "del", "127.0.0.1/8", "dev", "lo"]),
        &[format!("{a}/lo: address 127.0.0.1/8 removed")],
        || ip_in(&a, &["addr", "add", "127.0.0.1/8", "dev", "lo"]),
    );
    detected(
        &w,
        &lab,
        || ip_in(&b, &["route", "add", "10.77.0.0/16", "via", "10.9.0.1"]),
        &[format!(
            "{b}: route 10.77.0.0/16 via 10.9.0.1 dev v1 proto boot added"
        )],
        || ip_in(&b, &["route", "del", "10.77.0.0/16"]),
    );
    detected(
        &w,
        &lab,
        || ip_in(&b, &["-6", "route", "del", "fd00:9::/64", "dev", "v1"]),
        &[format!(
            "{b}: route fd00:9::/64 dev v1 metric 256 proto kernel removed"
        )],
        || {
            ip_in(
                &b,
                &[
                    "-6",
                    "route",
                    "add",
                    "fd00:9::/64",
                    "dev",
                    "v1",
                    "proto",
                    "kernel",
                    "metric",
                    "256",
                ],
            )
        },
    );
    // What the lab set and recorded is still said in the journal's words.
    ip_in(&b, &["addr", "del", "10.9.0.2/24", "dev", "v1"]);
    let (code, drift, text) = status(&w, &lab);
    assert_eq!(code, Some(7), "{text}");
    assert!(
        drift.contains(&format!(
            "address 10.9.0.2/24 on v1 in {b} is missing (the link has fd00:9::2/64)"
        )),
        "{text}"
    );
    assert!(
        drift.contains(&format!("route 0.0.0.0/0 via 10.9.0.1 in {b} is missing")),
        "the kernel took the default route with the address: {text}"
    );
    assert_eq!(drift.len(), 2, "{text}");
}

#[test]
fn a_lab_without_a_snapshot_is_compared_with_its_journal() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-old", w.prefix);
    let _down = LabsDown::new(&w, &[&lab]);
    let a = w.ns("a");
    let up = w.run_kit(
        &lab,
        None,
        &[format!("ns {a}"), format!("veth {a} v0 {a} v1")],
    );
    assert!(up.status.success(), "{}", stderr(&up));
    let snapshot = w.state_dir.join("labs").join(&lab).join("snapshot");
    std::fs::remove_file(&snapshot).unwrap();
    // As a lab of an older netwasm: an MTU the lab never set is not seen.
    ip_in(&a, &["link", "set", "v0", "mtu", "1400"]);
    let (code, _, text) = status(&w, &lab);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("all as recorded"), "{text}");
    // A forged snapshot is reported as unusable, and nothing more.
    std::fs::write(
        &snapshot,
        br#"{"schema":"netwasm.snapshot/1","lab":"x","taken_ms":0,"namespaces":[]}"#,
    )
    .unwrap();
    let (code, _, text) = status(&w, &lab);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("snapshot not used:") && text.contains("is of lab \"x\""),
        "{text}"
    );
    // serde names an unknown key as the file spells it: escaped before it
    // reaches the terminal.
    std::fs::write(&snapshot, br#"{"\u001b]0;pwned\u0007\u001b[2J": 1}"#).unwrap();
    let (code, _, text) = status(&w, &lab);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("snapshot not used:"), "{text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    // The next committed run records one again.
    let again = w.kit_args(&lab, None, &["--attach"], &[format!("up {a} v0")]);
    let again: Vec<&str> = again.iter().map(String::as_str).collect();
    let out = w.run(&again);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean(&w, &lab);
    ip_in(&a, &["link", "set", "v0", "mtu", "1300"]);
    let (code, drift, text) = status(&w, &lab);
    assert_eq!(code, Some(7), "{text}");
    assert_eq!(drift, [format!("{a}/v0: mtu 1400 → 1300")], "{text}");
}
