//! `netwasm plan`: a dry run on the simulated kernel, and the model held
//! to the real kernel.
//!
//! The first tests need no privileges (as root they drop every capability
//! first, to prove it). The differential tests run each guest twice, on
//! the real kernel (`netwasm run`) and on the model (`netwasm plan`), and
//! require the same journal, the same `show --json` (MACs, interface
//! indexes and the kernel's own IPv6 link-local addresses' values aside),
//! the same guest output — which carries every error a refused step gave —
//! and the same expectation outcomes.

mod common;

use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// `netwasm ARGS` with every capability dropped when run as root (so
/// that plan is seen to need none), else as is.
fn unprivileged(w: &World, args: &[&str]) -> Output {
    // SAFETY: geteuid has no preconditions.
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args([
            "--inh-caps=-all",
            "--ambient-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
        ])
        .arg(env!("CARGO_BIN_EXE_netwasm"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_netwasm"))
    };
    cmd.env("NETWASM_STATE_DIR", &w.state_dir)
        .env(
            "NETWASM_CACHE_DIR",
            root().join("target").join("netwasm-cache"),
        )
        .args(args)
        .output()
        .expect("run netwasm")
}

fn plan_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "plan --json printed no JSON ({e}):\n{}\n{}",
            stdout(out),
            stderr(out)
        )
    })
}

/// (from, to, expected, predicted) of every expectation in a plan.
fn predicted(plan: &Value) -> Vec<(String, String, String, String)> {
    plan["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap().to_string();
            (s("from"), s("to"), s("expected"), s("predicted"))
        })
        .collect()
}

#[test]
fn plan_predicts_the_chapter_without_privileges_and_changes_nothing() {
    let w = World::new();
    let seed = seed_guest();
    let seed = seed.to_str().unwrap();
    // Warm the compile cache as a privileged run would not be needed for.
    for mode in ["vepa", "bridge"] {
        let out = unprivileged(
            &w,
            &[
                "plan", "--json", "--lab", "p", seed, "--", "up", &w.prefix, mode,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let plan = plan_json(&out);
        assert_eq!(plan["schema"], "netwasm.plan/1");
        assert_eq!(plan["outcome"], "committed");
        assert_eq!(plan["exit"], 0);
        let all = predicted(&plan);
        assert_eq!(all.len(), 11, "{all:?}");
        assert!(
            plan["expectations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["met"] == true),
            "{plan:#}"
        );
        let (ns1, ns2) = (w.ns("ns1"), w.ns("ns2"));
        let siblings = all
            .iter()
            .find(|(f, t, _, _)| f == &ns1 && t == "172.16.10.6")
            .unwrap();
        let want = if mode == "bridge" {
            "reachable"
        } else {
            "unreachable"
        };
        assert_eq!(siblings.3, want, "{mode}: ns1 to ns2");
        for from in [&ns1, &ns2] {
            let to_parent = all
                .iter()
                .find(|(f, t, _, _)| f == from && t == "172.16.10.2")
                .unwrap();
            assert_eq!(to_parent.3, "unreachable", "{mode}: a child to its parent");
        }
        // What it would build, in order: the namespaces first made, the
        // macvlans on the host's eth0 in the mode asked for.
        let steps: Vec<&str> = plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(steps[0], format!("create namespace {}", w.ns("lan")));
        assert!(
            steps.contains(
                &format!(
                    "create macvlan macvlan1 ({mode}) in {ns1} on eth0 in {}",
                    w.ns("net1")
                )
                .as_str()
            ),
            "{steps:#?}"
        );
        assert_eq!(plan["show"]["namespaces"].as_array().unwrap().len(), 5);
    }
    assert!(
        w.namespaces().is_empty(),
        "plan created {:?}",
        w.namespaces()
    );
    assert!(
        !w.state_dir.join("labs").join("p").exists(),
        "plan left a journal"
    );
    // The same setting cannot build for real: it has no privileges.
    if unsafe { libc::geteuid() } == 0 {
        let out = unprivileged(&w, &["run", "--lab", "p", seed, "--", "up", &w.prefix]);
        assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    }
}

#[test]
fn plan_shows_denials_refusals_and_unmet_expectations_with_runs_exit_codes() {
    let w = World::new();
    let (a, b) = (w.ns("a"), w.ns("b"));
    let policy = format!(
        "[namespaces]\ncreate = [\"{}-*\"]\n[links]\nmacvlan-modes = [\"bridge\"]\n",
        w.prefix
    );
    let statements = [
        format!("ns {a}"),
        format!("ns {b}"),
        format!("veth {a} v0 {b} v1"),
        format!("up {a} v0"),
        format!("up {b} v1"),
        format!("addr {a} v0 10.9.0.1/24"),
        format!("try macvlan {a} v0 mv0 vepa"),
        format!("try route {a} 10.8.0.0/16 via 10.7.0.1"),
        format!("try ns {a}"),
        format!("expect {a} 10.9.0.2 yes"),
    ];
    let mut args = w.kit_args("k", Some(&policy), &[], &statements);
    args[0] = "plan".into();
    args.insert(1, "--json".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = unprivileged(&w, &args);
    // 10.9.0.2 has no address: the expectation fails, as `run` exits 6.
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let plan = plan_json(&out);
    assert_eq!(plan["exit"], 6);
    assert_eq!(plan["outcome"], "rolled-back");
    assert!(
        plan["error"]
            .as_str()
            .unwrap()
            .contains("1 reachability expectation was not met")
    );
    let decisions = plan["decisions"].as_array().unwrap();
    let denied: Vec<&Value> = decisions
        .iter()
        .filter(|d| d["decision"] == "denied")
        .collect();
    assert_eq!(denied.len(), 1, "{decisions:#?}");
    assert_eq!(denied[0]["op"], "link.add-macvlan");
    assert!(denied[0]["rule"].as_str().unwrap().contains("vepa"));
    // The kernel's refusals, in the model's words (which are the kernel's).
    let route = decisions.iter().find(|d| d["op"] == "route.add").unwrap();
    assert_eq!(route["result"]["errno"], libc::ENETUNREACH);
    assert!(
        route["result"]["message"]
            .as_str()
            .unwrap()
            .contains("Nexthop has invalid gateway"),
        "{route}"
    );
    let again = decisions
        .iter()
        .filter(|d| d["op"] == "namespace.create")
        .nth(2)
        .unwrap();
    assert_eq!(again["result"]["error"], "already-exists");
    let refused: Vec<&Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["refused"] == true)
        .collect();
    assert_eq!(refused.len(), 1, "{plan:#}");
    assert!(
        refused[0]["step"]
            .as_str()
            .unwrap()
            .starts_with("add route")
    );
    assert_eq!(predicted(&plan)[0].3, "unreachable");

    // A guest's own failure: exit 1, as `run`.
    let mut args = w.kit_args("k", None, &[], &["fail no luck".to_string()]);
    args[0] = "plan".into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = unprivileged(&w, &args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("the run would fail (exit 1)"));
    assert!(w.namespaces().is_empty());
}

/// A journal's run entries as plan lists its steps: bookkeeping left
/// out, a refusal marked on the step it refused, and what differs from
/// machine to machine (interface indexes, namespace identities) removed.
fn steps_of(entries: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for e in entries {
        match e["op"].as_str().unwrap() {
            "header" | "begin" | "end" | "done" => {}
            "abort" => {
                if let Some(last) = out.last_mut() {
                    last["refused"] = true.into();
                }
            }
            _ => out.push(serde_json::json!({ "entry": e.clone(), "refused": false })),
        }
    }
    for s in &mut out {
        scrub_entry(&mut s["entry"]);
    }
    out
}

fn scrub_entry(e: &mut Value) {
    let o = e.as_object_mut().unwrap();
    for k in ["index", "peer_index", "id", "to_id"] {
        o.remove(k);
    }
}

fn journal_entries(w: &World, lab: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(w.state_dir.join("labs").join(lab).join("journal"))
        .expect("the lab's journal");
    text.lines()
        .map(|l| serde_json::from_str(l.split_once(' ').unwrap().1).unwrap())
        .collect()
}

/// `show --json` without what no model can predict: MACs, interface
/// indexes, the values of IPv6 link-local addresses; links and routes in
/// a fixed order.
fn scrub_show(mut v: Value) -> Value {
    let namespaces = v["namespaces"].as_array_mut().unwrap();
    namespaces.sort_by_key(|n| n["name"].as_str().unwrap().to_string());
    for ns in namespaces {
        let links = ns["links"].as_array_mut().unwrap();
        for l in links.iter_mut() {
            let o = l.as_object_mut().unwrap();
            o.remove("mac");
            o.remove("index");
            for k in ["peer", "parent"] {
                if let Some(p) = o.get_mut(k).and_then(Value::as_object_mut) {
                    p.remove("index");
                }
            }
            for a in o["addresses"].as_array_mut().unwrap() {
                if a["address"].as_str().unwrap().starts_with("fe80:") {
                    a["address"] = "fe80::".into();
                    a["cidr"] = "fe80::/64".into();
                }
            }
        }
        links.sort_by_key(|l| l["name"].as_str().unwrap().to_string());
        let routes = ns["routes"].as_array_mut().unwrap();
        routes.sort_by_key(|r| r.to_string());
    }
    v
}

/// The expectation rows of a report: mark, from, to, expected, actual
/// (not the detail: round-trip times differ).
fn matrix_rows(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("  ok ") || l.starts_with(" FAIL "))
        .map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" "))
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Runs `guest ARGS` on the kernel and on the model under `policy` and
/// requires the same journal, `show --json`, guest output and
/// expectation outcomes.
/// The first place two JSON values differ, as a path and both sides.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let null = Value::Null;
                first_difference(
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    &format!("{path}/{k}"),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: kernel {a}, model {b}")),
    }
}

fn assert_same(kernel: &Value, model: &Value, what: &str) {
    if let Some(d) = first_difference(kernel, model, "") {
        panic!("{what} differ at {d}");
    }
}

/// Whether the guest builds in one order: a batch builds its units
/// concurrently, and the journal has them in the order they finished.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    Sequential,
    Concurrent,
}

fn differential(
    w: &World,
    lab: &str,
    policy: Option<&str>,
    guest: &str,
    args: &[String],
    order: Order,
) {
    let mut flags: Vec<String> = vec!["--lab".into(), lab.into()];
    if let Some(p) = policy {
        let path = w.state_dir.join(format!("{lab}.toml"));
        std::fs::write(&path, p).unwrap();
        flags.extend(["--policy".into(), path.to_str().unwrap().into()]);
    }
    let cmd = |verb: &str, json: bool| -> Vec<String> {
        let mut v = vec![verb.to_string()];
        if json {
            v.push("--json".into());
        }
        v.extend(flags.iter().cloned());
        v.push(guest.into());
        v.push("--".into());
        v.extend(args.iter().cloned());
        v
    };

    let real = w.run(&strs(&cmd("run", false)));
    let real_code = real.status.code();
    assert!(
        w.state_dir.join("labs").join(lab).join("journal").exists(),
        "{lab}: the real run left no lab to compare (exit {real_code:?}):\n{}\n{}",
        stdout(&real),
        stderr(&real)
    );
    let mut real_steps = steps_of(&journal_entries(w, lab));
    let shown = w.run(&["show", "--json", lab]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let mut real_show = scrub_show(serde_json::from_slice(&shown.stdout).unwrap());
    // The lab's state is the ledger's and the lock's word, not the
    // kernel's: the model's lab has none.
    assert_eq!(real_show["state"], "up", "{real_show}");
    for k in ["state", "state_why", "ended"] {
        real_show.as_object_mut().unwrap().remove(k);
    }
    let down = w.run(&["down", lab]);
    assert!(down.status.success(), "{}", stderr(&down));

    let text = w.run(&strs(&cmd("plan", false)));
    let json = w.run(&strs(&cmd("plan", true)));
    assert_eq!(text.status.code(), real_code, "{}", stderr(&text));
    assert_eq!(json.status.code(), real_code);
    let plan = plan_json(&json);
    let mut plan_steps: Vec<Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(
            |s| serde_json::json!({ "entry": s["entry"].clone(), "refused": s["refused"].clone() }),
        )
        .collect();
    for s in &mut plan_steps {
        scrub_entry(&mut s["entry"]);
    }
    if order == Order::Concurrent {
        plan_steps.sort_by_key(Value::to_string);
        real_steps.sort_by_key(Value::to_string);
    }
    assert_same(
        &Value::Array(real_steps),
        &Value::Array(plan_steps),
        &format!("{lab}: the journals"),
    );
    assert_same(
        &real_show,
        &scrub_show(plan["show"].clone()),
        &format!("{lab}: show --json"),
    );
    assert_eq!(
        guest_lines(&text),
        guest_lines(&real),
        "{lab}: the guest saw different results"
    );
    let real_rows = matrix_rows(&stdout(&real));
    // The plan prints the matrix as the run goes, like `run`, then again
    // in its summary (indented): the first is the run's.
    let plan_rows = matrix_rows(&stdout(&text));
    assert_eq!(plan_rows, real_rows, "{lab}: the expectations differ");
    assert!(!real_rows.is_empty() || !args.is_empty());
}

#[test]
fn the_model_agrees_with_the_kernel_on_the_seed_lab() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let seed = seed_guest();
    for mode in ["vepa", "bridge"] {
        differential(
            &w,
            &format!("seed-{mode}"),
            None,
            seed.to_str().unwrap(),
            &["up".into(), w.prefix.clone(), mode.into()],
            Order::Sequential,
        );
    }
}

#[test]
fn the_model_agrees_with_the_kernel_on_refusals_and_test_guests() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (a, b, c) = (w.ns("a"), w.ns("b"), w.ns("c"));
    let statements: Vec<String> = [
        format!("ns {a}"),
        format!("ns {b}"),
        format!("nsall {c}"),
        format!("veth {a} v0 {b} v1"),
        format!("bridge {a} br0"),
        format!("veth {a} p0 {c} eth0"),
        format!("master {a} p0 br0"),
        format!("hairpin {a} p0 on"),
        format!("up {a} p0"),
        format!("up {a} br0"),
        format!("up {c} eth0"),
        format!("up {a} v0"),
        format!("up {b} v1"),
        format!("addr {a} v0 10.9.0.1/24"),
        format!("addr {b} v1 10.9.0.2/24"),
        format!("addr {c} eth0 10.6.0.2/24"),
        format!("mtu {b} v1 1400"),
        format!("macvlan {c} eth0 m1 vepa {c}"),
        format!("try macvlan {c} eth0 m2 passthru"),
        format!("try route {a} 10.8.0.0/16 via 10.7.0.1"),
        format!("try addr {a} v0 10.9.0.1/24"),
        format!("try ns {a}"),
        format!("try del-link {a} nosuch"),
        format!("route {b} default via 10.9.0.1"),
        format!("try route {b} default via 10.9.0.1"),
        format!("forward {a} on"),
        format!("expect {b} 10.9.0.1 yes"),
        format!("expect {a} 10.9.0.2 yes"),
        format!("expect {b} 10.6.0.2 no"),
        "check".to_string(),
        format!("move {b} v1 {c} v9"),
        format!("del-link {a} br0"),
        format!("routes {b}"),
    ]
    .to_vec();
    differential(
        &w,
        "kit",
        None,
        kit().to_str().unwrap(),
        &statements,
        Order::Sequential,
    );
}

#[test]
fn the_model_agrees_with_the_kernel_on_the_batch_benchmark() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    // The benchmark's "physical" network: a namespace with a NIC (a veth
    // whose peer stays in the same namespace, up: the NIC has carrier).
    let phy = w.ns("phy");
    ip(&["netns", "add", &phy]);
    ip(&[
        "-n", &phy, "link", "add", "phy0", "type", "veth", "peer", "name", "phy0p",
    ]);
    ip(&["-n", &phy, "link", "set", "phy0", "up"]);
    ip(&["-n", &phy, "link", "set", "phy0p", "up"]);
    let policy = format!(
        "[namespaces]\ncreate = [\"{p}-u*\"]\nopen = [\"{phy}\"]\n[links]\nparents = [{{ namespace = \"{phy}\", link = \"phy0\" }}]\n",
        p = w.prefix
    );
    let guest = rust_guest("netwasm-bench-guest");
    for how in ["up", "up-steps"] {
        differential(
            &w,
            &format!("bench-{how}"),
            Some(&policy),
            guest.to_str().unwrap(),
            &[
                how.into(),
                phy.clone(),
                "phy0".into(),
                format!("{}-u", w.prefix),
                "12".into(),
                "10.231".into(),
            ],
            if how == "up" {
                Order::Concurrent
            } else {
                Order::Sequential
            },
        );
    }
}

#[test]
fn the_model_agrees_with_the_kernel_on_modes_hairpin_routing_and_ipv6() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let n = |s: &str| w.ns(s);
    let (sw, h, a, b, c, d, r, x, y) = (
        n("sw"),
        n("h"),
        n("a"),
        n("b"),
        n("c"),
        n("d"),
        n("r"),
        n("x"),
        n("y"),
    );
    let statements: Vec<String> = [
        // A switch with a hairpin port to a host whose eth0 has macvlan
        // children: vepa siblings meet through the hairpin, private ones
        // never; through the hairpin a vepa child and its host reach each
        // other too (the chapter's "never" holds without one).
        format!("nsall {sw} {h} {a} {b} {c} {d}"),
        format!("bridge {sw} br0"),
        format!("veth {sw} p1 {h} eth0"),
        format!("master {sw} p1 br0"),
        format!("hairpin {sw} p1 on"),
        format!("up {sw} br0"),
        format!("up {sw} p1"),
        format!("up {h} eth0"),
        format!("addr {h} eth0 172.20.0.1/24"),
        format!("addr {h} eth0 fd00::1/64"),
        format!("macvlan {h} eth0 va vepa {a}"),
        format!("macvlan {h} eth0 vb vepa {b}"),
        format!("macvlan {h} eth0 pc private {c}"),
        format!("macvlan {h} eth0 pd private {d}"),
        format!("up {a} va"),
        format!("up {b} vb"),
        format!("up {c} pc"),
        format!("up {d} pd"),
        format!("addr {a} va 172.20.0.11/24"),
        format!("addr {b} vb 172.20.0.12/24"),
        format!("addr {c} pc 172.20.0.13/24"),
        format!("addr {d} pd 172.20.0.14/24"),
        format!("addr {a} va fd00::11/64"),
        format!("mtu {a} va 1400"),
        format!("try mtu {a} va 9000"),
        format!("mac {b} vb 02:00:00:00:00:0b"),
        format!("try macvlan {h} eth0 pt passthru"),
        format!("expect {a} 172.20.0.12 yes"),
        format!("expect {c} 172.20.0.14 no"),
        format!("expect {a} 172.20.0.1 yes"),
        format!("expect {h} 172.20.0.11 yes"),
        "check".to_string(),
        // A router between two subnets: through with forwarding, not
        // without; then a link moved away takes its routes with it.
        format!("nsall {r} {x} {y}"),
        format!("veth {r} rx {x} eth0"),
        format!("veth {r} ry {y} eth0"),
        format!("up {r} rx"),
        format!("up {r} ry"),
        format!("up {x} eth0"),
        format!("up {y} eth0"),
        format!("addr {r} rx 10.1.1.1/24"),
        format!("addr {r} ry 10.2.2.1/24"),
        format!("addr {x} eth0 10.1.1.2/24"),
        format!("addr {y} eth0 10.2.2.2/24"),
        format!("route {x} default via 10.1.1.1"),
        format!("route {y} default via 10.2.2.1"),
        format!("try route {x} 10.9.0.0/16 via 10.2.2.1"),
        format!("route {x} 10.8.0.0/16 via 10.1.1.1 metric 50"),
        format!("expect {x} 10.2.2.2 no"),
        "check".to_string(),
        format!("forward {r} on"),
        format!("expect {x} 10.2.2.2 yes"),
        format!("expect {y} 10.1.1.2 yes"),
        "check".to_string(),
        format!("move {x} eth0 {d} x0"),
        format!("routes {x}"),
        format!("try del-route {x} default via 10.1.1.1"),
        format!("down {sw} p1"),
        format!("expect {a} 172.20.0.12 no"),
        format!("del-ns {y}"),
        format!("try ping {r} 10.2.2.2"),
    ]
    .to_vec();
    differential(
        &w,
        "kit2",
        None,
        kit().to_str().unwrap(),
        &statements,
        Order::Sequential,
    );
}
