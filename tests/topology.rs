//! Topology files (`netwasm up FILE`, issue 18), against the real kernel:
//! the seed lab as a file builds what the Rust seed guest builds; mistakes
//! in a file are bad input naming their line and key, with nothing built;
//! a policy refuses a file's lab whole; `expect` entries decide the exit
//! code as in `run`; `down FILE` removes the lab the file names.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use common::seed_state::lab_state;
use common::{World, ip_json, root, root_or_skip, seed_guest, stderr, stdout};

/// Writes `text` as `NAME` in the world's state directory; its path.
fn file(w: &World, name: &str, text: &str) -> PathBuf {
    let path = w.state_dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The seed lab's file, named (and so its namespaces prefixed) for `w`.
fn seed_file(w: &World) -> PathBuf {
    seed_file_in(w, "vepa")
}

/// The seed lab's file in macvlan `mode`: bridge mode is the chapter's
/// second run, where the siblings reach each other.
fn seed_file_in(w: &World, mode: &str) -> PathBuf {
    let text = std::fs::read_to_string(root().join("examples/seed-macvlan.yaml")).unwrap();
    let mut text = text.replacen("name: seed ", &format!("name: {} ", w.prefix), 1);
    assert!(text.contains(&format!("name: {}", w.prefix)));
    if mode == "bridge" {
        text = text.replace("mode: vepa", "mode: bridge").replace(
            "{from: ns1, to: 172.16.10.6, reachable: false, label: \"vepa: siblings cannot talk\"}",
            "{from: ns1, to: 172.16.10.6, label: \"bridge mode: siblings talk\"}",
        );
        assert!(text.contains("bridge mode: siblings talk"));
    }
    file(w, "seed.yaml", &text)
}

fn up(w: &World, path: &Path, flags: &[&str]) -> Output {
    let mut args = vec!["up"];
    args.extend_from_slice(flags);
    args.push(path.to_str().unwrap());
    w.run(&args)
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// `show --json` of `lab`, without what differs between two builds of the
/// same lab: the lab's name and prefix, MACs, interface indexes, IPv6
/// link-local addresses (they derive from the MAC), and the order of links.
fn shown(w: &World, lab: &str) -> Value {
    let out = w.run(&["show", "--json", lab]);
    ok(&out, "show --json");
    let text = stdout(&out).replace(&format!("{}-", w.prefix), "P-");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    fn scrub(v: &mut Value) {
        match v {
            Value::Object(o) => {
                for k in ["index", "mac", "lab"] {
                    o.remove(k);
                }
                for (_, x) in o.iter_mut() {
                    scrub(x);
                }
            }
            Value::Array(a) => {
                for x in a.iter_mut() {
                    scrub(x);
                }
                a.retain(|x| !(x["family"] == "inet6" && x["scope"] == "link"));
                a.sort_by_key(|x| x.to_string());
            }
            _ => {}
        }
    }
    scrub(&mut v);
    v
}

#[test]
fn the_seed_file_builds_what_the_rust_seed_guest_builds() {
    seed_file_against_guest("vepa");
}

#[test]
fn the_seed_file_in_bridge_mode_builds_what_the_rust_seed_guest_builds() {
    seed_file_against_guest("bridge");
}

fn seed_file_against_guest(mode: &str) {
    if !root_or_skip() {
        return;
    }
    let by_file = World::new();
    let by_guest = World::new();
    let path = seed_file_in(&by_file, mode);
    let out = up(&by_file, &path, &[]);
    ok(&out, "up examples/seed-macvlan.yaml");
    let matrix = stdout(&out);
    assert!(
        matrix.contains("reachability: 9 checked, 9 met, 0 NOT met"),
        "{matrix}"
    );
    let seed = seed_guest();
    let out = by_guest.run(&[
        "run",
        "--lab",
        &by_guest.prefix,
        seed.to_str().unwrap(),
        "--",
        "up",
        &by_guest.prefix,
        mode,
    ]);
    ok(&out, "run seed_macvlan.wasm");

    let from_file = lab_state(&by_file.prefix);
    let from_guest = lab_state(&by_guest.prefix);
    assert_eq!(
        from_file,
        from_guest,
        "kernel state, file vs guest:\n{}\n{}",
        serde_json::to_string_pretty(&from_file).unwrap(),
        serde_json::to_string_pretty(&from_guest).unwrap()
    );
    // The state is the chapter's, not two equal mistakes.
    let lan = from_file["lan"].to_string();
    assert!(
        lan.contains("\"master\":\"br0\"") && lan.contains("172.16.10.1/24"),
        "{lan}"
    );
    assert_eq!(from_file["lan"]["forwarding"], json!(["1", "1"]));
    let ns1 = from_file["ns1"].to_string();
    assert!(
        ns1.contains(&format!("\"macvlan_mode\":\"{mode}\""))
            && ns1.contains("\"parent\":\"net1/eth0\""),
        "{ns1}"
    );

    assert_eq!(
        shown(&by_file, &by_file.prefix),
        shown(&by_guest, &by_guest.prefix),
        "show --json, file vs guest"
    );

    // `down FILE` is `down NAME` of the file's lab.
    ok(&by_file.run(&["down", path.to_str().unwrap()]), "down FILE");
    assert_eq!(by_file.namespaces(), Vec::<String>::new());
    ok(&by_guest.run(&["down", &by_guest.prefix]), "down");
    assert_eq!(by_guest.namespaces(), Vec::<String>::new());
}

/// A file with one mistake: netwasm's one-line error, exit 2, and nothing
/// built or recorded.
fn refused(w: &World, text: &str) -> String {
    let path = file(w, "lab.yaml", text);
    let out = up(w, &path, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{text}\n{err}");
    assert_eq!(w.namespaces(), Vec::<String>::new(), "{text}");
    assert!(
        stdout(&w.run(&["ls"])).trim().is_empty(),
        "{text}: a lab is recorded"
    );
    let shown = path.display().to_string();
    err.trim()
        .strip_prefix(&format!("netwasm: error: {shown}:"))
        .unwrap_or_else(|| panic!("{err}"))
        .to_string()
}

#[test]
fn mistakes_in_a_file_name_their_line_and_key_and_build_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let p = &w.prefix;
    let two = format!(
        "name: {p}\ntopology:\n  nodes:\n    a: {{}}\n    b: {{}}\n  links:\n    - endpoints: [\"a:eth0\", \"b:eth0\"]\n"
    );
    // Each file has its mistake after a good lab's worth of nodes, so
    // nothing of it may be built either.
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{two}    - endpoints: [\"a:eth1\", \"c:eth0\"]\n"),
            "8: topology.links[1].endpoints[1]: node \"c\" is not in topology.nodes",
        ),
        (
            format!("{two}    - endpoints: [\"a:eth1\"]\n"),
            "8: topology.links[1].endpoints: a link joins two endpoints, \"NODE:LINK\"; 1 given",
        ),
        (
            two.replace("    b: {}\n", "    b:\n      colour: red\n"),
            "6: topology.nodes.b.colour: unknown field `colour`, expected one of kind, forwarding, interfaces, routes",
        ),
        (
            two.replace("    b: {}\n", "    b: {}\n    a: {}\n"),
            "6: topology.nodes.a: \"a\" is given twice",
        ),
        (
            two.replace(
                "    b: {}\n",
                "    b:\n      interfaces:\n        eth0:\n          addresses: [10.0.0.2/33]\n",
            ),
            "8: topology.nodes.b.interfaces.eth0.addresses[0]: \"10.0.0.2/33\": the prefix length is at most 32",
        ),
        (
            two.replace(
                "    b: {}\n",
                "    b:\n      routes:\n        - via: 10.0.0.1\n",
            ),
            "7: topology.nodes.b.routes[0]: missing field `to`",
        ),
        (
            two.replace(
                "    b: {}\n",
                "    b:\n      interfaces:\n        mv0: {kind: macvlan, parent: \"a:eth9\"}\n",
            ),
            "7: topology.nodes.b.interfaces.mv0.parent: node a has no link \"eth9\" to be a parent",
        ),
        (
            format!("{two}expect:\n  - {{from: a, to: 10.0.0.300}}\n"),
            "9: expect[0].to: \"10.0.0.300\" is not an IPv4 or IPv6 address",
        ),
        (
            format!("{two}  colour: red\n"),
            "8: topology.colour: unknown field `colour`, expected one of nodes, links",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(refused(&w, &text), format!("{want}"), "{text}");
    }
    // The host reads the name line; a file without one is refused there.
    let out = up(&w, &file(&w, "noname.yaml", "topology: {}\n"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no top-level `name: LAB` line"),
        "{}",
        stderr(&out)
    );
    // The file is the guest's argument, bounded by its args limit.
    let big = format!("{two}{}", "# padding\n".repeat(7000));
    let out = up(&w, &file(&w, "big.yaml", &big), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "a topology file is the topology guest's argument, and its args limit is 64KiB"
        ),
        "{err}"
    );
    assert_eq!(w.namespaces(), Vec::<String>::new());
}

#[test]
fn a_file_the_policy_refuses_leaves_nothing_built() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let policy = file(&w, "policy.toml", "[links]\nmacvlan-modes = [\"bridge\"]\n");
    let path = seed_file(&w);
    let out = up(&w, &path, &["--policy", policy.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "building {}:42: topology.nodes.ns1.interfaces.macvlan1: denied: ",
            path.display()
        )),
        "{err}"
    );
    assert!(err.contains("rolled back"), "{err}");
    assert_eq!(w.namespaces(), Vec::<String>::new());
    assert!(stdout(&w.run(&["ls"])).trim().is_empty());
}

#[test]
fn expectations_decide_the_exit_code_and_down_file_removes_the_lab() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let p = &w.prefix;
    let lab = |reachable: &str| {
        format!(
            "name: {p}\ntopology:\n  nodes:\n    a:\n      interfaces:\n        eth0: {{addresses: [10.0.0.1/24]}}\n    b:\n      interfaces:\n        eth0: {{addresses: [10.0.0.2/24]}}\n  links:\n    - endpoints: [\"a:eth0\", \"b:eth0\"]\nexpect:\n  - {{from: a, to: 10.0.0.2}}\n  - {{from: b, to: 10.0.0.1, reachable: {reachable}}}\n"
        )
    };
    // Unmet: exit 6, as `run`, and rolled back.
    let path = file(&w, "ab.yaml", &lab("false"));
    let out = up(&w, &path, &[]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 checked, 1 met, 1 NOT met"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.namespaces(), Vec::<String>::new());

    let path = file(&w, "ab.yaml", &lab("true"));
    ok(&up(&w, &path, &[]), "up");
    assert_eq!(w.namespaces().len(), 2);
    assert_eq!(common::addrs4(&w.ns("b"), "eth0"), vec!["10.0.0.2/24"]);
    // Up already: refused, as `run` refuses; --replace builds it again.
    assert_eq!(up(&w, &path, &[]).status.code(), Some(3));
    ok(&up(&w, &path, &["--replace"]), "up --replace");
    // A mistake in the file does not cost the lab that is up: exit 2 and
    // the lab as it was.
    let broken = file(
        &w,
        "ab.yaml",
        &lab("true").replace("10.0.0.2/24", "10.0.0.300/24"),
    );
    let out = up(&w, &broken, &["--replace"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(w.namespaces().len(), 2, "{}", stderr(&out));
    assert_eq!(common::addrs4(&w.ns("b"), "eth0"), vec!["10.0.0.2/24"]);
    // Nor with --keep-on-error, which would have recorded an empty lab.
    let out = up(&w, &broken, &["--keep-on-error"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(w.namespaces().len(), 2, "{}", stderr(&out));
    let path = file(&w, "ab.yaml", &lab("true"));
    ok(&w.run(&["status", path.to_str().unwrap()]), "status FILE");
    ok(&w.run(&["down", path.to_str().unwrap()]), "down FILE");
    assert_eq!(w.namespaces(), Vec::<String>::new());
    assert!(stdout(&w.run(&["ls"])).trim().is_empty());
}

#[test]
fn the_tour_file_builds_every_kind_of_part() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let p = &w.prefix;
    let text = std::fs::read_to_string(root().join("examples/topology-tour.yaml")).unwrap();
    let text = text
        .replacen("name: tour\n", &format!("name: {p}\n"), 1)
        .replacen("prefix: tour ", &format!("prefix: {p} "), 1);
    let path = file(&w, "tour.yaml", &text);
    let out = up(&w, &path, &[]);
    ok(&out, "up examples/topology-tour.yaml");
    assert!(
        stdout(&out).contains("reachability: 5 checked, 5 met, 0 NOT met"),
        "{}",
        stdout(&out)
    );
    assert_eq!(w.namespaces().len(), 6);
    let port = common::link(&w.ns("switch"), "server");
    assert_eq!(port["master"], "br0");
    assert_eq!(port["linkinfo"]["info_slave_data"]["hairpin"], true);
    assert_eq!(common::link(&w.ns("switch"), "router")["master"], "br0");
    let vx = common::link(&w.ns("far"), "vx0");
    assert_eq!(vx["linkinfo"]["info_kind"], "vxlan");
    assert_eq!(vx["linkinfo"]["info_data"]["id"], 42);
    assert_eq!(vx["linkinfo"]["info_data"]["port"], 4789);
    assert_eq!(common::link(&w.ns("far"), "eth0")["mtu"], 9000);
    let mv = common::link(&w.ns("c1"), "mv0");
    assert_eq!(mv["address"], "02:00:00:00:01:11");
    assert_eq!(mv["linkinfo"]["info_data"]["mode"], "vepa");
    assert_eq!(
        common::addrs4(&w.ns("router"), "lo"),
        vec!["127.0.0.1/8", "10.255.0.1/32"]
    );
    let routes = ip_json(
        Some(&w.ns("far")),
        &["-4", "route", "show", "10.255.0.1/32"],
    );
    assert_eq!(routes[0]["dev"], "vx0");
    assert_eq!(routes[0]["metric"], 10);
    assert_eq!(
        common::default_gateway(&w.ns("c2")).as_deref(),
        Some("10.1.0.1")
    );
    assert!(common::ping(&w.ns("far"), "10.1.0.12"));
    // show, graph and exec take the file for the lab it names, as down does.
    let out = w.run(&["show", "--json", path.to_str().unwrap()]);
    ok(&out, "show --json FILE");
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["lab"], p.as_str());
    ok(
        &w.run(&["graph", path.to_str().unwrap(), "-f", "dot"]),
        "graph FILE",
    );
    let out = w.run(&["exec", path.to_str().unwrap(), &w.ns("c1"), "--", "true"]);
    ok(&out, "exec FILE");
    ok(&w.run(&["down", path.to_str().unwrap()]), "down FILE");
    assert_eq!(w.namespaces(), Vec::<String>::new());
}

/// The README's and docs/topology.md's commands, as written: the example
/// files under their own names (so their namespaces are `seed-*` and
/// `tour-*`, not the world's; the guard takes down whatever this test's
/// ledger recorded).
#[test]
fn the_documented_commands_work_as_written() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _down = common::LabsDown::new(&w, &["seed", "tour"]);
    for (file, lab) in [
        ("examples/seed-macvlan.yaml", "seed"),
        ("examples/topology-tour.yaml", "tour"),
    ] {
        let mut plan = w.netwasm();
        plan.current_dir(root()).args(["up", "--dry-run", file]);
        ok(
            &plan.output().unwrap(),
            &format!("netwasm up --dry-run {file}"),
        );
        let mut up = w.netwasm();
        up.current_dir(root()).args(["up", file]);
        ok(&up.output().unwrap(), &format!("netwasm up {file}"));
        let mut status = w.netwasm();
        status.current_dir(root()).args(["status", file]);
        ok(&status.output().unwrap(), &format!("netwasm status {file}"));
        let mut down = w.netwasm();
        down.current_dir(root()).args(["down", file]);
        ok(&down.output().unwrap(), &format!("netwasm down {file}"));
        let left: Vec<String> = common::netns_list()
            .into_iter()
            .filter(|n| n.starts_with(&format!("{lab}-")))
            .collect();
        assert_eq!(left, Vec::<String>::new(), "{file}");
    }
}

/// A lab whose two nodes hang macvlan children off `host:eth0`, the
/// machine's own namespace as containerlab writes it. Run inside a
/// stand-in root (never the machine's), where eth0 is 10.99.0.2/24
/// (without carrier: its peer is down, so the children cannot ping).
fn host_parent_file(w: &World) -> PathBuf {
    let p = &w.prefix;
    file(
        w,
        "host-parent.yaml",
        &format!(
            "name: {p}\ntopology:\n  nodes:\n    a:\n      interfaces:\n        mv0: {{kind: macvlan, parent: host:eth0, mode: bridge, addresses: [10.99.0.11/24]}}\n    b:\n      interfaces:\n        mv0:\n          kind: macvlan\n          parent: host:eth0\n          mode: bridge\n          addresses: [10.99.0.12/24]\n"
        ),
    )
}

#[test]
fn a_host_parent_the_policy_does_not_grant_leaves_nothing_built() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let root_ns = common::StandInRoot::new(&w);
    let before = root_ns.state();
    let path = host_parent_file(&w);
    let out = root_ns.run(&w, &["up", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "building {}:6: topology.nodes.a.interfaces.mv0: denied: ",
            path.display()
        )) && err.contains("[root] links"),
        "{err}"
    );
    // Only the stand-in root itself is left of this world's namespaces.
    assert_eq!(w.namespaces(), vec![root_ns.name().to_string()]);
    assert_eq!(root_ns.state(), before);
    assert!(stdout(&root_ns.run(&w, &["ls"])).trim().is_empty());
}

#[test]
fn a_host_parent_the_policy_grants_is_used_and_left_as_it_was() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let root_ns = common::StandInRoot::new(&w);
    let before = root_ns.state();
    let policy = file(&w, "policy.toml", "[root]\nlinks = [\"eth0\"]\n");
    let path = host_parent_file(&w);
    let out = root_ns.run(
        &w,
        &[
            "up",
            "--policy",
            policy.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
    );
    ok(&out, "up with host:eth0 parents");
    let mv = common::link(&w.ns("a"), "mv0");
    assert_eq!(mv["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(mv["linkinfo"]["info_data"]["mode"], "bridge");
    assert_eq!(common::addrs4(&w.ns("b"), "mv0"), vec!["10.99.0.12/24"]);
    ok(
        &root_ns.run(&w, &["down", path.to_str().unwrap()]),
        "down FILE",
    );
    assert_eq!(w.namespaces(), vec![root_ns.name().to_string()]);
    // The kernel removes a deleted namespace's links in the background:
    // eth0 counts its children's promiscuity until then.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while root_ns.state() != before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(root_ns.state(), before);
}

/// `up --dry-run` is `plan` of the file: no privileges, nothing built, the
/// expectations as the model predicts them, and `plan`'s exit codes.
#[test]
fn a_dry_run_plans_the_file_on_the_simulated_kernel() {
    let w = World::new();
    let path = seed_file(&w);
    let out = up(&w, &path, &["--dry-run"]);
    ok(&out, "up --dry-run");
    let text = stdout(&out);
    assert!(text.contains("expectations, as predicted:"), "{text}");
    assert!(
        text.contains("reachability: 9 checked, 9 met, 0 NOT met"),
        "{text}"
    );
    assert!(
        text.contains("the lab would be up: 5 namespaces, 7 links, 6 addresses, 4 routes"),
        "{text}"
    );
    let out = up(&w, &path, &["--dry-run", "--json"]);
    ok(&out, "up --dry-run --json");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["schema"], "netwasm.plan/1");
    assert_eq!(plan["guest"], "netwasm-topology (built in)");
    assert_eq!(plan["args"], json!([path.to_str().unwrap()]));
    // A mistake is bad input here too; an unmet expectation exits 6.
    let bad = file(
        &w,
        "bad.yaml",
        &format!(
            "name: {}\ntopology:\n  nodes:\n    a: {{kind: linux}}\n",
            w.prefix
        ),
    );
    let out = up(&w, &bad, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            ":4: topology.nodes.a.kind: \"linux\": a netwasm node is a network namespace"
        ),
        "{}",
        stderr(&out)
    );
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "{from: ns1, to: 172.16.10.6, reachable: false",
        "{from: ns1, to: 172.16.10.6, reachable: true",
    );
    let out = up(&w, &file(&w, "unmet.yaml", &text), &["--dry-run"]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(w.namespaces(), Vec::<String>::new());
}
