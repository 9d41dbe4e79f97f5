//! `namespace.create-all`: many namespaces in one call, all or nothing,
//! each under the same policy, quota, journal and rollback as `create`.

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

    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(w.namespaces().is_empty(), "left: {:?}", w.namespaces());
    assert_eq!(Snapshot::take(), before);
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
    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(w.namespaces().is_empty(), "left: {:?}", w.namespaces());
    assert_eq!(Snapshot::take(), before);
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
