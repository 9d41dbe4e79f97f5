//! `namespace.create-all` and `batch.build`: many namespaces (with their
//! links, addresses and routes) in one call, all or nothing, each step under
//! the same policy, quota, journal and rollback as its single-step call.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn kit() -> PathBuf {
    rust_guest("testkit")
}

/// `netwasm run --lab LAB [--policy P] --audit A testkit -- STATEMENTS`.
fn run_kit(w: &World, lab: &str, policy: Option<&str>, statements: &[String]) -> Output {
    let k = kit();
    let audit = w.state_dir.join("audit.jsonl");
    let mut args: Vec<String> = vec!["run".into(), "--lab".into(), lab.into()];
    if let Some(p) = policy {
        let path = w.state_dir.join("policy.toml");
        std::fs::write(&path, p).unwrap();
        args.extend(["--policy".into(), path.to_str().unwrap().into()]);
    }
    args.extend(["--audit".into(), audit.to_str().unwrap().into()]);
    args.push(k.to_str().unwrap().into());
    args.push("--".into());
    args.extend(statements.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.run(&args)
}

/// The guest's output lines.
fn guest_lines(out: &Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter_map(|l| l.strip_prefix("[guest] ").map(str::to_string))
        .collect()
}

fn names(w: &World, suffixes: &[&str]) -> Vec<String> {
    suffixes.iter().map(|s| w.ns(s)).collect()
}

/// `netwasm down LAB` succeeds and leaves nothing of the test's world, and
/// the machine outside it is as `before`.
fn down_leaves_nothing(w: &World, lab: &str, before: Snapshot) {
    let down = w.run(&["down", lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(w.namespaces().is_empty(), "left: {:?}", w.namespaces());
    assert_eq!(Snapshot::take(), before);
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn create_all_creates_every_name_and_down_removes_them() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-all", w.prefix);
    let all = names(&w, &["a", "b", "c", "d", "e", "f", "g", "h", "i"]);
    let out = run_kit(
        &w,
        &lab,
        None,
        &[
            format!("nsall {}", all.join(" ")),
            // The handles work: each namespace is the lab's own.
            format!("up {} lo", all[0]),
            format!("veth {} v0 {} v1", all[1], all[8]),
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(sorted(w.namespaces()), sorted(all.clone()));
    for ns in &all {
        let lo = link(ns, "lo");
        assert_eq!(lo["ifname"], "lo", "{ns} is a fresh namespace: {lo}");
    }
    assert_eq!(link(&all[0], "lo")["operstate"], "UNKNOWN");
    assert_eq!(link(&all[8], "v1")["ifname"], "v1");

    // One audit line per namespace, as `namespace.create`.
    let audit = std::fs::read_to_string(w.state_dir.join("audit.jsonl")).unwrap();
    let creates: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &serde_json::Value| l["op"] == "namespace.create")
        .collect();
    assert_eq!(creates.len(), all.len(), "{audit}");
    for (line, name) in creates.iter().zip(&all) {
        assert_eq!(line["args"]["name"], name.as_str());
        assert_eq!(line["result"], "ok");
    }

    down_leaves_nothing(&w, &lab, before);
}

#[test]
fn a_refused_or_taken_name_creates_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-deny", w.prefix);
    // Made outside netwasm: create-all must neither take nor remove it.
    let taken = w.ns("taken");
    let st = Command::new("ip")
        .args(["netns", "add", &taken])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let policy = format!(
        "[namespaces]\ncreate = [\"{p}-ok*\", \"{p}-taken\"]\n\n[quotas]\nnamespaces = 4\n",
        p = w.prefix
    );
    let ok = names(&w, &["ok1", "ok2", "ok3"]);
    let denied = w.ns("nope");
    let out = run_kit(
        &w,
        &lab,
        Some(&policy),
        &[
            format!("try nsall {} {} {} {}", ok[0], ok[1], denied, ok[2]),
            format!("try nsall {} {} {} {}", ok[0], ok[1], taken, ok[2]),
            format!("try nsall {} {} {}", ok[0], ok[1], ok[0]),
            format!(
                "try nsall {} {} {} {} {}",
                ok[0],
                ok[1],
                ok[2],
                w.ns("ok4"),
                w.ns("ok5")
            ),
            "list-ns".into(),
            // Nothing was used up: the whole quota is still there.
            format!("nsall {} {} {} {}", ok[0], ok[1], ok[2], w.ns("ok4")),
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = guest_lines(&out);
    assert!(
        lines[0].starts_with("error: denied: ") && lines[0].contains(&format!("{denied:?}")),
        "the denial names the refused name: {lines:?}"
    );
    assert!(
        lines[1].starts_with("error: already exists: ") && lines[1].contains(&format!("{taken:?}")),
        "the error names the taken name: {lines:?}"
    );
    assert!(
        lines[2].starts_with("error: invalid argument: ") && lines[2].contains("twice"),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("error: limit reached: ") && lines[3].contains(&w.ns("ok5")),
        "the quota error names the first name past it: {lines:?}"
    );
    assert_eq!(
        lines[4].trim_end(),
        "namespaces:",
        "none was created: {lines:?}"
    );
    assert_eq!(
        sorted(w.namespaces()),
        sorted(vec![
            ok[0].clone(),
            ok[1].clone(),
            ok[2].clone(),
            w.ns("ok4"),
            taken.clone()
        ])
    );

    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(w.namespaces(), vec![taken.clone()], "the taken one stays");
    let _ = Command::new("ip").args(["netns", "del", &taken]).status();
    assert_eq!(Snapshot::take(), before);
}

#[test]
fn a_failed_run_rolls_back_what_create_all_made() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-fail", w.prefix);
    let all = names(&w, &["a", "b", "c", "d", "e", "f"]);
    let out = run_kit(
        &w,
        &lab,
        None,
        &[format!("nsall {}", all.join(" ")), "fail on purpose".into()],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("on purpose"), "{}", stderr(&out));
    assert!(w.namespaces().is_empty(), "left: {:?}", w.namespaces());
    assert_eq!(Snapshot::take(), before);
}

#[test]
fn sigkill_after_create_all_then_down_leaves_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-kill", w.prefix);
    let all: Vec<String> = (0..40).map(|i| w.ns(&format!("u{i}"))).collect();
    let k = kit();
    let mut child = w
        .netwasm()
        .args(["run", "--lab", &lab, k.to_str().unwrap(), "--"])
        .arg(format!("nsall {}", all.join(" ")))
        .arg("sleep 60000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while w.namespaces().len() < all.len() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(w.namespaces().len(), all.len(), "the killed run left them");
    down_leaves_nothing(&w, &lab, before);
}

/// `netwasm down` of a few hundred namespaces removes them on several
/// threads: every one goes, and the report still says which were already
/// gone.
#[test]
fn down_of_hundreds_removes_every_one_and_names_the_missing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-many", w.prefix);
    let all: Vec<String> = (0..300).map(|i| w.ns(&format!("m{i}"))).collect();
    let out = run_kit(&w, &lab, None, &[format!("nsall {}", all.join(" "))]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(w.namespaces().len(), all.len());

    // Two go missing behind the lab's back.
    for gone in [&all[7], &all[250]] {
        let status = Command::new("ip").args(["netns", "del", gone]).status();
        assert!(status.unwrap().success());
    }
    let down = w.run(&["down", &lab]);
    let err = stderr(&down);
    assert!(down.status.success(), "{err}");
    assert!(w.namespaces().is_empty(), "left: {:?}", w.namespaces());
    let gone_part = err.split("already gone: ").nth(1).expect(&err);
    assert!(
        gone_part.starts_with(&format!("namespace {}, namespace {}", all[250], all[7])),
        "{err}"
    );
    assert!(err.contains("and 290 more"), "{err}");
    assert!(!w.state_dir.join("labs").join(&lab).exists());
    assert_eq!(Snapshot::take(), before);
}

// ---- batch.build -------------------------------------------------------------

/// The subnet of the "physical" network a `build` test plans its units on.
const NET: &str = "10.77.0";

/// Statements that make a small physical network inside the test's world:
/// namespace `phy` with link `p0`, a veth whose peer `g0` sits in namespace
/// `gw` holding the gateway `NET.1/24`. Units hang macvlans on `p0`.
fn physical(w: &World) -> Vec<String> {
    let (phy, gw) = (w.ns("phy"), w.ns("gw"));
    vec![
        format!("nsall {phy} {gw}"),
        format!("veth {phy} p0 {gw} g0"),
        format!("up {phy} p0"),
        format!("up {gw} g0"),
        format!("addr {gw} g0 {NET}.1/24"),
    ]
}

/// A `build` statement: units `suffix,ITEM...` on `p0` of `phy`.
fn build(w: &World, mode: &str, units: &[String]) -> String {
    let units: Vec<String> = units.iter().map(|u| format!("{}-{u}", w.prefix)).collect();
    format!("build {} p0 {mode} {}", w.ns("phy"), units.join(" "))
}

#[test]
fn build_makes_every_plan_as_ip_sees_it_and_down_removes_it() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-build", w.prefix);
    let units: Vec<String> = (0..3)
        .map(|i| format!("u{i},ip={NET}.{}/24,gw={NET}.1", i + 2))
        .collect();
    let mut statements = physical(&w);
    statements.push(build(&w, "bridge", &units));
    let out = run_kit(&w, &lab, None, &statements);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(guest_lines(&out), vec!["built 3"]);

    for i in 0..3 {
        let ns = w.ns(&format!("u{i}"));
        let eth0 = link(&ns, "eth0");
        assert_eq!(eth0["linkinfo"]["info_kind"], "macvlan", "{eth0}");
        assert_eq!(eth0["linkinfo"]["info_data"]["mode"], "bridge", "{eth0}");
        let up = |l: &serde_json::Value| {
            l["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "UP"))
        };
        assert!(up(&eth0), "eth0 is created up: {eth0}");
        assert!(up(&link(&ns, "lo")), "lo is up in {ns}");
        assert_eq!(addrs4(&ns, "eth0"), vec![format!("{NET}.{}/24", i + 2)]);
        assert_eq!(default_gateway(&ns).as_deref(), Some(&*format!("{NET}.1")));
    }
    // Bridge mode: the children reach each other, and the gateway.
    let u0 = w.ns("u0");
    assert!(ping(&u0, &format!("{NET}.3")), "u0 → u1");
    assert!(ping(&u0, &format!("{NET}.1")), "u0 → gateway");

    // Each step is audited as its own operation, marked with its batch.
    let audit = std::fs::read_to_string(w.state_dir.join("audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &serde_json::Value| l["args"]["batch"] == 3)
        .collect();
    let count = |op: &str| lines.iter().filter(|l| l["op"] == op).count();
    assert_eq!(count("namespace.create"), 3, "{audit}");
    assert_eq!(count("link.add-macvlan"), 3, "{audit}");
    assert_eq!(count("link.set-up"), 6, "{audit}");
    assert_eq!(count("addr.add"), 3, "{audit}");
    assert_eq!(count("route.add"), 3, "{audit}");
    assert!(lines.iter().all(|l| l["result"] == "ok"), "{audit}");

    // Each unit's link, address and route go with its namespace (as the
    // veth and the gateway's address go with theirs), and the namespaces
    // are removed together.
    let down = w.run(&["down", &lab]);
    let err = stderr(&down);
    assert!(down.status.success(), "{err}");
    assert!(
        err.contains("(11 more objects went with their namespaces)"),
        "{err}"
    );
    assert!(w.namespaces().is_empty(), "left: {:?}", w.namespaces());
    assert_eq!(Snapshot::take(), before);
}

#[test]
fn a_refused_or_malformed_plan_changes_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-bdeny", w.prefix);
    // Room for phy, gw and three units; routes refused outright.
    let policy = format!(
        "[namespaces]\ncreate = [\"{p}-*\"]\n\n[operations]\ndeny = [\"route.add\"]\n\n[quotas]\nnamespaces = 5\n",
        p = w.prefix
    );
    let unit = |s: &str, i: u32| format!("{s},ip={NET}.{i}/24");
    let mut statements = physical(&w);
    statements.extend([
        format!(
            "try {}",
            build(
                &w,
                "bridge",
                &[unit("a", 2), format!("{},gw={NET}.1", unit("b", 3))]
            )
        ),
        format!(
            "try {}",
            build(
                &w,
                "bridge",
                &[unit("a", 2), format!("{},up=nope", unit("b", 3))]
            )
        ),
        format!("try {}", build(&w, "bridge", &[unit("a", 2), unit("a", 3)])),
        format!(
            "try {}",
            build(
                &w,
                "bridge",
                &[unit("a", 2), format!("{},bridge=eth0", unit("b", 3))]
            )
        ),
        format!(
            "try {}",
            build(
                &w,
                "bridge",
                &[unit("a", 2), unit("b", 3), unit("c", 4), unit("d", 5)]
            )
        ),
        format!("try build {} nosuch bridge {}", w.ns("phy"), w.ns("a")),
        format!(
            "try {}",
            build(&w, "bridge", &[unit("a", 2), "b,ip=10.77.0.300/24".into()])
        ),
        "list-ns".into(),
        // Nothing was used up: the whole quota is still there.
        build(&w, "bridge", &[unit("a", 2), unit("b", 3), unit("c", 4)]),
    ]);
    let out = run_kit(&w, &lab, Some(&policy), &statements);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = guest_lines(&out);
    let expect = [
        ("error: denied: ", "route.add"),
        ("error: invalid argument: ", "\"nope\""),
        ("error: invalid argument: ", "twice"),
        ("error: invalid argument: ", "\"eth0\" is used twice"),
        ("error: limit reached: ", "namespaces"),
        ("error: not found: ", "\"nosuch\""),
        ("error: invalid argument: ", "10.77.0.300"),
    ];
    for (i, (start, part)) in expect.iter().enumerate() {
        assert!(
            lines[i].starts_with(start) && lines[i].contains(part),
            "line {i} should start {start:?} and name {part:?}: {lines:?}"
        );
    }
    let listed = lines[expect.len()].trim_end();
    assert_eq!(
        listed,
        format!("namespaces: {} {}", w.ns("gw"), w.ns("phy")),
        "only the physical network exists: {lines:?}"
    );
    assert_eq!(lines[expect.len() + 1], "built 3");
    assert_eq!(w.namespaces().len(), 5);

    down_leaves_nothing(&w, &lab, before);
}

#[test]
fn a_kernel_refusal_rolls_back_the_whole_build() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-brb", w.prefix);
    let mut statements = physical(&w);
    // Every check passes; the kernel then refuses b's route (its gateway
    // is on no link), after a and b were made.
    let units = [
        format!("a,ip={NET}.2/24,gw={NET}.1"),
        format!("b,ip={NET}.3/24,gw=10.99.0.1"),
        format!("c,ip={NET}.4/24,gw={NET}.1"),
    ];
    statements.push(format!("try {}", build(&w, "bridge", &units)));
    statements.push("list-ns".into());
    let out = run_kit(&w, &lab, None, &statements);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = guest_lines(&out);
    assert!(
        lines[0].starts_with("error: kernel: ")
            && lines[0].contains("via 10.99.0.1")
            && lines[0].contains(&format!("{:?}", w.ns("b")))
            && lines[0].contains("ENETUNREACH")
            && lines[0].contains("none of the 3 planned namespaces was kept"),
        "the error names the step, the plan and the rollback: {lines:?}"
    );
    assert_eq!(
        lines[1].trim_end(),
        format!("namespaces: {} {}", w.ns("gw"), w.ns("phy")),
        "{lines:?}"
    );
    assert_eq!(sorted(w.namespaces()), sorted(names(&w, &["gw", "phy"])));

    // The ledger agrees: the lab holds the physical network only.
    let show = w.run(&["show", &lab, "--json"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let text = stdout(&show);
    assert!(!text.contains(&w.ns("a")), "{text}");

    down_leaves_nothing(&w, &lab, before);
}

#[test]
fn sigkill_during_build_then_down_leaves_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-bkill", w.prefix);
    let units: Vec<String> = (0..300)
        .map(|i| format!("k{i},ip=10.{}.{}.2/24", 100 + i / 250, i % 250))
        .collect();
    let mut statements = physical(&w);
    statements.push(build(&w, "bridge", &units));
    statements.push("sleep 60000".into());
    let k = kit();
    let mut child = w
        .netwasm()
        .args(["run", "--lab", &lab, k.to_str().unwrap(), "--"])
        .args(&statements)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as the first unit exists: in the middle of the build.
    let start = Instant::now();
    while !w.namespaces().iter().any(|n| n.contains("-k")) {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    down_leaves_nothing(&w, &lab, before);
}

#[test]
fn a_batch_refused_as_a_whole_is_audited_in_one_line() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-aud", w.prefix);
    let units: Vec<String> = (0..50).map(|i| format!("r{i}")).collect();
    let mut statements = physical(&w);
    statements.push(format!("try {}", build(&w, "bridge", &units)));
    let out = run_kit(&w, &lab, Some("[quotas]\nnamespaces = 10\n"), &statements);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(guest_lines(&out)[0].starts_with("error: limit reached: "));
    let audit = std::fs::read_to_string(w.state_dir.join("audit.jsonl")).unwrap();
    let ops: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["op"].to_string())
        .collect();
    assert_eq!(
        ops.iter().filter(|o| o.contains("batch.build")).count(),
        1,
        "{ops:?}"
    );
    assert!(
        !ops.iter().any(|o| o.contains("link.add-macvlan")),
        "{ops:?}"
    );
    assert!(w.run(&["down", &lab]).status.success());
}
