//! The capability sandbox against guests written to break out: each attack
//! gets its documented outcome, the host stays intact, the run ends within
//! its limit, and nothing outside what the policy grants changes (compared
//! with `ip` before and after).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

fn hostile() -> PathBuf {
    rust_guest("hostile")
}

fn kit() -> PathBuf {
    rust_guest("testkit")
}

/// Runs `netwasm run [flags] GUEST -- args`, timing it, with a snapshot of
/// the machine before and after that must match.
fn run_guarded(
    w: &World,
    flags: &[&str],
    guest: &std::path::Path,
    args: &[&str],
) -> (Output, Duration) {
    let before = Snapshot::take();
    let mut cmd = vec!["run"];
    cmd.extend_from_slice(flags);
    cmd.push(guest.to_str().unwrap());
    cmd.push("--");
    cmd.extend_from_slice(args);
    let start = Instant::now();
    let out = w.run(&cmd);
    let took = start.elapsed();
    // The host process ended by itself with an exit code, not a signal.
    assert!(
        out.status.code().is_some(),
        "netwasm died by a signal: {:?}",
        out.status
    );
    assert_eq!(
        Snapshot::take(),
        before,
        "the run changed something outside its world"
    );
    assert!(
        w.namespaces().is_empty(),
        "the failed run was rolled back: {:?}",
        w.namespaces()
    );
    (out, took)
}

/// Compiles `guest` into the cache first, so timings measure the run only.
fn warm(w: &World, guest: &std::path::Path) {
    let out = w.run(&["check", guest.to_str().unwrap()]);
    assert!(out.status.code().is_some());
}

fn assert_limit(out: &Output, limit: &str, value: &str) {
    assert_eq!(out.status.code(), Some(4), "{}", stderr(out));
    let err = stderr(out);
    let want = format!("the guest hit its {limit} limit ({value})");
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
    assert!(err.contains("rolled back"), "{err}");
}

#[test]
fn endless_loop_meets_the_deadline() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let g = hostile();
    warm(&w, &g);
    // Fuel enough for hours, so only the deadline can stop it: the default
    // fuel lasts a tight loop only 1 to 4 seconds, depending on the machine.
    let limits = ["--limit-deadline", "2s", "--limit-fuel", "1000000000000000"];
    let (out, took) = run_guarded(&w, &limits, &g, &["loop"]);
    assert_limit(&out, "deadline", "2s");
    assert!(
        took < Duration::from_secs(10),
        "stopped near its deadline, took {took:?}"
    );
}

#[test]
fn endless_loop_runs_out_of_fuel() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let g = hostile();
    warm(&w, &g);
    let (out, took) = run_guarded(&w, &["--limit-fuel", "50000000"], &g, &["loop"]);
    assert_limit(&out, "fuel", "50000000");
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn memory_bomb_meets_the_memory_limit() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (out, _) = run_guarded(&w, &[], &hostile(), &["memory"]);
    assert_limit(&out, "memory", "64MiB");
    let (out, _) = run_guarded(&w, &["--limit-memory", "16MiB"], &hostile(), &["memory"]);
    assert_limit(&out, "memory", "16MiB");
}

#[test]
fn unbounded_recursion_meets_the_stack_limit() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (out, _) = run_guarded(&w, &[], &hostile(), &["recursion"]);
    assert_limit(&out, "stack", "1MiB");
}

#[test]
fn output_flood_meets_the_output_limit() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (out, _) = run_guarded(&w, &["--limit-output", "64KiB"], &hostile(), &["flood"]);
    assert_limit(&out, "output", "64KiB");
    assert!(
        out.stdout.len() < 200 * 1024,
        "the flood was cut off: {} bytes",
        out.stdout.len()
    );
}

#[test]
fn a_million_handles_meet_the_handle_limit() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let ns = w.ns("h");
    let (out, _) = run_guarded(
        &w,
        &["--limit-handles", "500"],
        &hostile(),
        &["handles", &ns],
    );
    assert_limit(&out, "handles", "500");
}

#[test]
fn dropped_and_forged_handles_stop_the_guest() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let ns = w.ns("d");
    for attack in ["use-after-drop", "forged-handle"] {
        let (out, _) = run_guarded(&w, &[], &hostile(), &[attack, &ns]);
        assert_eq!(out.status.code(), Some(4), "{attack}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("handle"),
            "{attack}: the report names the bad handle:\n{err}"
        );
        assert!(
            !stdout(&out).contains("name after delete"),
            "{attack}: the call never returned"
        );
    }
}

#[test]
fn wasi_sockets_and_files_are_linked_but_empty() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    for attack in ["sockets", "files"] {
        let (out, _) = run_guarded(&w, &[], &hostile(), &[attack]);
        assert!(out.status.success(), "{attack}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains("refused"), "{attack}: {text}");
        for escaped in ["CONNECTED", "SENT", "RESOLVED", "OPENED", "WROTE", "LEAKED"] {
            assert!(!text.contains(escaped), "{attack}: {escaped} in:\n{text}");
        }
    }
    assert!(!std::path::Path::new("/tmp/netwasm-escape").exists());
}

#[test]
fn unknown_imports_are_refused_before_start() {
    let w = World::new();
    let before = foreign_namespaces();
    let g = rust_guest("hostile-import");
    let out = w.run(&["run", g.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("imports `evil:escape/host`, which netwasm does not provide"),
        "{err}"
    );
    assert!(w.namespaces().is_empty());
    assert_eq!(foreign_namespaces(), before);
    let out = w.run(&["check", g.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains("REFUSED evil:escape/host"),
        "{}",
        stdout(&out)
    );
}

/// A namespace made by the test (not by netwasm), with a veth and an
/// address, to be left untouched; removed on drop.
struct Existing {
    name: String,
}

impl Existing {
    fn new(w: &World) -> Self {
        let name = w.ns("pre");
        let ip = |args: &[&str]| {
            assert!(
                Command::new("ip").args(args).status().unwrap().success(),
                "ip {args:?}"
            )
        };
        ip(&["netns", "add", &name]);
        ip(&[
            "-n", &name, "link", "add", "p0", "type", "veth", "peer", "name", "p1",
        ]);
        ip(&["-n", &name, "addr", "add", "192.0.2.1/24", "dev", "p0"]);
        ip(&["-n", &name, "link", "set", "p0", "up"]);
        Self { name }
    }

    fn state(&self) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
        (
            ip_json(Some(&self.name), &["-d", "link", "show"]),
            ip_json(Some(&self.name), &["addr", "show"]),
            ip_json(Some(&self.name), &["route", "show"]),
        )
    }
}

impl Drop for Existing {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

/// Runs the testkit with `try` statements and returns its stdout lines.
fn try_all(w: &World, policy: Option<&str>, statements: &[String]) -> (Output, Vec<String>) {
    let mut flags: Vec<String> = Vec::new();
    if let Some(p) = policy {
        let path = w.state_dir.join("policy.toml");
        std::fs::write(&path, p).unwrap();
        flags.push("--policy".into());
        flags.push(path.to_str().unwrap().into());
    }
    let audit = w.state_dir.join("audit.jsonl");
    flags.push("--audit".into());
    flags.push(audit.to_str().unwrap().into());
    flags.push("--lab".into());
    flags.push(format!("{}-kit", w.prefix));
    let mut args: Vec<String> = vec!["run".into()];
    args.extend(flags);
    args.push(kit().to_str().unwrap().into());
    args.push("--".into());
    args.extend(statements.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.run(&args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("[guest] ").map(str::to_string))
        .collect();
    (out, lines)
}

fn assert_denied(line: &str, hint: &str) {
    assert!(
        line.starts_with("error: denied: "),
        "want a denial, got {line:?}"
    );
    assert!(
        line.contains(hint),
        "the denial names the policy entry {hint:?}: {line}"
    );
}

#[test]
fn the_default_policy_grants_only_what_the_guest_creates() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let pre = Existing::new(&w);
    let pre_state = pre.state();
    let before = Snapshot::take();
    let own = w.ns("own");
    let (out, lines) = try_all(
        &w,
        None,
        &[
            "try root".into(),
            format!("try open {}", pre.name),
            format!("try del-ns {}", pre.name),
            format!("ns {own}"),
            format!("try macvlan / eth0 mv0 bridge {own}"),
            format!("try open {own}"),
            format!("try del-ns {own}"),
        ],
    );
    assert_denied(&lines[0], "[root] links");
    assert_denied(
        &lines[1],
        &format!("add \"{}\" to [namespaces] open", pre.name),
    );
    assert_denied(&lines[2], "[namespaces] open");
    assert_denied(&lines[3], "[root] links");
    assert_eq!(
        lines[4], "ok",
        "a namespace the guest created can be reopened"
    );
    assert_eq!(lines[5], "ok", "and deleted");
    assert_eq!(
        pre.state(),
        pre_state,
        "the pre-existing namespace is untouched"
    );
    assert_eq!(Snapshot::take(), before);
    assert!(
        stderr(&out).contains("nothing is left up"),
        "{}",
        stderr(&out)
    );

    // The audit log has one JSON line per call, with the denials' rules.
    let audit = std::fs::read_to_string(w.state_dir.join("audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 6, "{audit}");
    let root = &lines[0];
    assert_eq!(root["op"], "namespace.root");
    assert_eq!(root["decision"], "denied");
    assert!(
        root["rule"].as_str().unwrap().contains("[root] links"),
        "{root}"
    );
    assert!(root["time"].as_str().unwrap().ends_with('Z'));
    let create = lines
        .iter()
        .find(|l| l["op"] == "namespace.create")
        .unwrap();
    assert_eq!(create["decision"], "allowed");
    assert_eq!(create["result"], "ok");
    assert_eq!(create["args"]["name"], own);
}

#[test]
fn granted_namespaces_parents_and_prefixes_are_all_that_is_granted() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let pre = Existing::new(&w);
    let pre_state = pre.state();
    let before = Snapshot::take();
    let own = w.ns("own");
    let policy = format!(
        r#"
[namespaces]
create = ["{p}-*"]
open = ["{pre}"]

[links]
kinds = ["veth", "macvlan"]
macvlan-modes = ["bridge"]

[root]
links = ["nosuchlink0"]

[addresses]
allow = ["172.16.10.0/24"]

[routes]
destinations = ["10.0.0.0/8", "172.16.10.0/24"] # 172.16.10.9/24 routes its /24
gateways = ["172.16.10.1/32"]
"#,
        p = w.prefix,
        pre = pre.name
    );
    let (_, lines) = try_all(
        &w,
        Some(&policy),
        &[
            "try ns other-name".into(),
            format!("ns {own}"),
            format!("veth {own} v0 {own} v1"),
            format!("try open {}", pre.name),
            format!("try macvlan {} p0 mv0 bridge {own}", pre.name),
            format!("try down {} p0", pre.name),
            format!("try addr {} p0 172.16.10.9/24", pre.name),
            format!("try del-ns {}", pre.name),
            format!("try macvlan / eth0 mv1 bridge {own}"),
            format!("try move {own} v0 /"),
            format!("try bridge {own} br0"),
            format!("try macvlan {own} v0 mv2 vepa"),
            format!("try addr {own} v0 10.9.9.9/24"),
            format!("addr {own} v0 172.16.10.9/24"),
            format!("up {own} v0"),
            format!("try route {own} 10.1.0.0/16 via 172.16.10.254"),
            format!("try route {own} default via 172.16.10.1"),
            format!("route {own} 10.1.0.0/16 via 172.16.10.1"),
        ],
    );
    assert_denied(&lines[0], "[namespaces] create");
    assert_eq!(lines[1], "ok", "a granted namespace can be opened");
    assert_denied(
        &lines[2],
        &format!(
            "{{ namespace = \"{}\", link = \"p0\" }} to [links] parents",
            pre.name
        ),
    );
    assert_denied(&lines[3], "[links] manage");
    assert_denied(&lines[4], "[links] manage");
    assert_denied(&lines[5], "delete-opened = true");
    assert_denied(&lines[6], "add \"eth0\" to [root] links");
    assert_denied(
        &lines[7],
        "nothing is ever created in or moved into the root namespace",
    );
    assert_denied(&lines[8], "add \"bridge\" to [links] kinds");
    assert_denied(&lines[9], "add \"vepa\" to [links] macvlan-modes");
    assert_denied(&lines[10], "[addresses] allow");
    assert_denied(&lines[11], "[routes] gateways");
    assert_denied(&lines[12], "[routes] destinations");
    assert_eq!(
        pre.state(),
        pre_state,
        "the pre-existing namespace is untouched"
    );
    let out = w.run(&["down", &format!("{}-kit", w.prefix)]);
    assert!(out.status.success());
    assert_eq!(Snapshot::take(), before);
}

#[test]
fn every_quota_is_enforced() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let (a, b, c) = (w.ns("a"), w.ns("b"), w.ns("c"));
    let policy =
        "[quotas]\nnamespaces = 2\nlinks = 3\naddresses = 1\nroutes = 1\noperations = 40\n";
    let (_, lines) = try_all(
        &w,
        Some(policy),
        &[
            format!("ns {a}"),
            format!("ns {b}"),
            format!("try ns {c}"),
            format!("veth {a} v0 {b} v1"),
            format!("bridge {a} br0"),
            format!("try bridge {a} br1"),
            format!("addr {a} v0 10.1.0.1/24"),
            format!("try addr {a} v0 10.1.0.2/24"),
            format!("up {a} v0"),
            format!("route {a} 10.2.0.0/16 via 10.1.0.9"),
            format!("try route {a} 10.3.0.0/16 via 10.1.0.9"),
        ],
    );
    for (i, key) in [
        (0, "namespaces"),
        (1, "links"),
        (2, "addresses"),
        (3, "routes"),
    ] {
        assert!(
            lines[i].starts_with("error: limit reached: "),
            "{}",
            lines[i]
        );
        assert!(
            lines[i].contains(&format!("[quotas] {key}")),
            "{}",
            lines[i]
        );
    }
    assert!(
        w.run(&["down", &format!("{}-kit", w.prefix)])
            .status
            .success()
    );

    // The operation quota: every call counts, and the run fails when the
    // guest does not handle the refusal.
    let mut statements: Vec<String> = vec![format!("ns {a}")];
    statements.extend((0..50).map(|_| format!("info {a} lo")));
    let path = w.state_dir.join("ops.toml");
    std::fs::write(&path, "[quotas]\noperations = 20\n").unwrap();
    let mut args = vec!["run", "--policy", path.to_str().unwrap()];
    let k = kit();
    args.push(k.to_str().unwrap());
    args.push("--");
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    args.extend(refs);
    let out = w.run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("quota of 20 operations"),
        "{}",
        stderr(&out)
    );
    assert_eq!(Snapshot::take(), before);
}

#[test]
fn check_says_whether_a_guest_can_run() {
    let w = World::new();
    let seed = seed_guest();
    let out = w.run(&["check", seed.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("policy: the default policy is valid"),
        "{text}"
    );
    assert!(text.contains("ok      netwasm:lab/link@0.1.0"), "{text}");
    assert!(text.contains("verdict: can run"), "{text}");

    let bad = w.state_dir.join("bad.toml");
    std::fs::write(&bad, "[namespaces]\ncreate = [\"x\"]\nopne = []\n").unwrap();
    let out = w.run(&[
        "check",
        "--policy",
        bad.to_str().unwrap(),
        seed.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("line 3") && err.contains("opne"), "{err}");
}

#[test]
fn oversized_arguments_are_refused_before_start() {
    let w = World::new();
    let before = foreign_namespaces();
    let seed = seed_guest();
    let big = "x".repeat(2048);
    let out = w.run(&[
        "run",
        "--limit-args",
        "1KiB",
        seed.to_str().unwrap(),
        "--",
        "up",
        &big,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the guest's arguments are 2052 bytes; its args limit is 1KiB"),
        "{err}"
    );
    assert!(w.namespaces().is_empty());
    assert_eq!(foreign_namespaces(), before);
}

#[test]
fn guest_output_cannot_drive_the_terminal() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (out, _) = run_guarded(&w, &[], &hostile(), &["ansi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !stream.contains(&0x1b),
            "no raw escape reaches the terminal"
        );
        assert!(!stream.contains(&0x07) && !stream.contains(&b'\r'));
        assert!(!String::from_utf8_lossy(stream).contains('\u{9b}'));
    }
    let text = stdout(&out);
    assert!(
        text.contains("[guest] \\u{1b}[2J\\u{1b}]0;pwned\\u{7}clear\\rnetwasm: error: fake"),
        "{text}"
    );
    assert!(
        stderr(&out).contains("[guest:stderr] \\u{1b}[31mred"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out)
            .lines()
            .any(|l| l.starts_with("netwasm: error"))
    );
}

#[test]
fn a_guest_that_calls_on_past_its_operation_quota_is_stopped() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let a = w.ns("a");
    let before = Snapshot::take();
    let path = w.state_dir.join("ops.toml");
    std::fs::write(&path, "[quotas]\noperations = 5\n").unwrap();
    let mut args = vec![
        "run".to_string(),
        "--policy".into(),
        path.to_str().unwrap().into(),
        kit().to_str().unwrap().into(),
        "--".into(),
        format!("ns {a}"),
    ];
    // Each refusal is handled; the host would audit and answer them forever.
    args.extend((0..1000).map(|_| format!("try info {a} lo")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.run(&args);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("kept calling after it had used its quota of 5 operations"),
        "{err}"
    );
    let lines: Vec<String> = stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("[guest] ").map(str::to_string))
        .collect();
    assert_eq!(lines.len(), 5, "4 answers and one refusal: {lines:?}");
    assert!(lines[4].starts_with("error: limit reached: "), "{lines:?}");
    assert!(w.namespaces().is_empty(), "rolled back");
    assert_eq!(Snapshot::take(), before);
}

#[test]
fn probes_are_counted_by_source_and_destination() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let a = w.ns("a");
    let policy = "[quotas]\nprobes = 2\n";
    let (_, lines) = try_all(
        &w,
        Some(policy),
        &[
            format!("ns {a}"),
            format!("veth {a} v0 {a} v1"),
            format!("addr {a} v0 10.5.0.1/24"),
            format!("up {a} v0"),
            format!("try ping {a} 10.5.0.1"),
            format!("try ping {a} 10.5.0.1"),
            format!("try ping {a} 10.5.0.2"),
            format!("try ping {a} 10.5.0.3"),
            format!("try expect {a} 10.5.0.4 no"),
        ],
    );
    let refused: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("error: limit reached: "))
        .collect();
    assert_eq!(refused.len(), 2, "{lines:?}");
    assert!(refused[0].contains("[quotas] probes"), "{lines:?}");
    assert!(
        refused[0].contains("neighbour table"),
        "the refusal says why: {lines:?}"
    );
}
