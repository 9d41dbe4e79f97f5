//! Lab states as every command tells them (docs/lab-states.md), the JSON
//! of `ls`, `status`, `check` and `run` (docs/json.md) against the kernel,
//! and mistakes caught: `down` and `show` of labs that are not, guest
//! arguments before `--`, and namespace clashes between labs.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A lab of two namespaces joined by a veth pair, one address each side.
fn pair(w: &World) -> Vec<String> {
    let (a, b) = (w.ns("a"), w.ns("b"));
    vec![
        format!("ns {a}"),
        format!("ns {b}"),
        format!("veth {a} v0 {b} v1"),
        format!("addr {a} v0 10.77.0.1/24"),
        format!("addr {b} v1 10.77.0.2/24"),
        format!("up {a} v0"),
        format!("up {b} v1"),
    ]
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr:\n{}", stdout(out), stderr(out)))
}

/// `ls --json`'s entry for `lab`.
fn ls_entry(w: &World, lab: &str) -> Value {
    let out = w.run(&["ls", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json_of(&out);
    assert_eq!(v["schema"], "netwasm.ls/1");
    v["labs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == lab)
        .unwrap_or_else(|| panic!("{lab} not listed: {v}"))
        .clone()
}

/// The `ls` table's row for `lab`, split into columns.
fn ls_row(w: &World, lab: &str) -> Vec<String> {
    let out = w.run(&["ls"]);
    stdout(&out)
        .lines()
        .find(|l| l.split_whitespace().next() == Some(lab))
        .unwrap_or_else(|| panic!("{lab} not in:\n{}", stdout(&out)))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Links other than `lo` in namespace `ns`, as `ip` counts them.
fn links_in(ns: &str) -> usize {
    ip_json(Some(ns), &["link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["ifname"] != "lo")
        .count()
}

fn spawn(w: &World, lab: &str, statements: &[String]) -> Child {
    let k = kit();
    let mut cmd = w.netwasm();
    cmd.args(["run", "--lab", lab, k.to_str().unwrap(), "--"]);
    cmd.args(statements);
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start netwasm")
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(60), "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_failed_attach_leaves_the_lab_up_and_a_veth_pair_is_two_links() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-att", w.prefix);
    let _down = LabsDown::new(&w, &[&lab]);
    let out = w.run_kit(&lab, None, &pair(&w));
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);

    let args = w.kit_args(
        &lab,
        None,
        &["--attach"],
        &[format!("ns {}", w.ns("c")), "fail on purpose".into()],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let attach_said = stderr(&out);

    let row = ls_row(&w, &lab);
    assert_eq!(row[1], "up", "{row:?}");
    assert!(said.contains("2 links"), "{said}");
    assert!(
        attach_said.contains(&format!(
            "lab {lab} is up: 2 namespaces, 2 links, 2 addresses, 0 routes"
        )),
        "{attach_said}"
    );
    let e = ls_entry(&w, &lab);
    assert_eq!(e["state"], "up", "{e}");
    assert_eq!(e["last_run"]["outcome"], "rolled-back");
    let kernel_links = links_in(&w.ns("a")) + links_in(&w.ns("b"));
    assert_eq!(kernel_links, 2);
    assert_eq!(e["counts"]["links"], kernel_links);
    assert_eq!(e["counts"]["namespaces"], w.namespaces().len());
    assert_eq!(e["counts"]["addresses"], 2);
    assert_eq!(row[2..5], ["2", "2", "2"], "{row:?}");
    assert_eq!(e["args"][0], format!("ns {}", w.ns("a")));
    assert!(e["guest"].as_str().unwrap().ends_with("testkit.wasm"));
    assert!(row.iter().any(|c| c == "testkit.wasm"), "{row:?}");
}

#[test]
fn an_idle_lab_is_not_running_to_a_user_who_cannot_lock_it() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-idle", w.prefix);
    let _down = LabsDown::new(&w, &[&lab]);
    let out = w.run_kit(&lab, None, &pair(&w));
    assert!(out.status.success(), "{}", stderr(&out));
    let as_nobody = |args: &[&str]| -> Output {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_netwasm"))
            .args(args)
            .env("NETWASM_STATE_DIR", &w.state_dir);
        cmd.output().expect("run setpriv")
    };
    // A lab this user cannot look into is listed, as unknown.
    let labs = w.state_dir.join("labs");
    for dir in [w.state_dir.as_path(), &labs] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let v = json_of(&as_nobody(&["ls", "--json"]));
    assert_eq!(v["labs"][0]["state"], "unknown", "{v}");
    assert!(
        v["labs"][0]["why"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{v}"
    );
    // Readable, not writable, by others: what an operator shares to let
    // users look.
    std::fs::set_permissions(labs.join(&lab), std::fs::Permissions::from_mode(0o755)).unwrap();
    let journal = labs.join(&lab).join("journal");
    std::fs::set_permissions(&journal, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = as_nobody(&["ls"]);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with(&lab) && l.contains(" up ")),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = as_nobody(&["ls", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json_of(&out);
    let e = &v["labs"][0];
    assert_eq!(e["state"], "up", "{v}");
    assert_eq!(e["lock"], "free", "{v}");

    // And a lab at work is running, to root and to others alike, named
    // by the process that holds it.
    let busy = format!("{}-busy", w.prefix);
    let _down_busy = LabsDown::new(&w, &[&busy]);
    let mut child = spawn(
        &w,
        &busy,
        &[format!("ns {}", w.ns("s")), "sleep 20000".into()],
    );
    wait_for("the sleeping run's namespace", || {
        w.namespaces().contains(&w.ns("s"))
    });
    let e = ls_entry(&w, &busy);
    assert_eq!(e["state"], "running", "{e}");
    assert_eq!(e["lock_holder_pid"], child.id());
    std::fs::set_permissions(labs.join(&busy), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = as_nobody(&["ls"]);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with(&busy) && l.contains("running")),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let refused = w.run_kit(&busy, None, &["sleep 1".into()]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        stderr(&refused).contains(&format!("netwasm process {} holds it", child.id())),
        "{}",
        stderr(&refused)
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn after_kill_9_every_command_calls_the_lab_interrupted() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-k9", w.prefix);
    let _down = LabsDown::new(&w, &[&lab]);
    let mut stmts = pair(&w);
    stmts.push("sleep 60000".into());
    let mut child = spawn(&w, &lab, &stmts);
    wait_for("the pair", || w.namespaces().len() == 2);
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(ls_row(&w, &lab)[1], "interrupted");
    let out = w.run_kit(&lab, None, &["sleep 1".into()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains(&format!("lab {lab} is interrupted (")),
        "{}",
        stderr(&out)
    );
    let e = ls_entry(&w, &lab);
    assert_eq!(e["state"], "interrupted", "{e}");
    assert_eq!(e["last_run"]["outcome"], Value::Null);
    let out = w.run(&["status", &lab, "--json"]);
    let v = json_of(&out);
    assert_eq!(v["schema"], "netwasm.status/1");
    assert_eq!(v["state"], "interrupted");
    let out = w.run(&["down", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn json_of_run_status_ls_and_check_matches_the_kernel() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-json", w.prefix);
    let _down = LabsDown::new(&w, &[&lab]);
    let mut stmts = pair(&w);
    // The guest prints to its stdout: none of it may reach netwasm's.
    stmts.push("list-ns".into());
    stmts.push(format!("expect {} 10.77.0.2 yes", w.ns("a")));
    stmts.push(format!("expect {} 10.77.0.3 no", w.ns("a")));
    let args = w.kit_args(&lab, None, &["--json"], &stmts);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json_of(&out);
    assert!(
        stderr(&out).contains("[guest] namespaces:"),
        "{}",
        stderr(&out)
    );
    assert_eq!(v["schema"], "netwasm.run/1");
    assert_eq!(v["outcome"], "committed");
    assert_eq!(v["exit"], 0);
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["lab_state"], "up");
    assert_eq!(v["summary"], "2 namespaces, 2 links, 2 addresses, 0 routes");
    assert_eq!(v["made"]["namespaces"], w.namespaces().len());
    assert_eq!(
        v["made"]["links"],
        links_in(&w.ns("a")) + links_in(&w.ns("b"))
    );
    assert_eq!(v["objects_made"].as_array().unwrap().len(), 5);
    let expectations = v["expectations"].as_array().unwrap();
    assert_eq!(expectations.len(), 2);
    assert_eq!(expectations[0]["observed"], "reachable");
    assert_eq!(expectations[1]["expected"], "unreachable");
    assert!(expectations.iter().all(|e| e["met"] == true));

    let out = w.run(&["status", &lab, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = json_of(&out);
    assert_eq!(s["lab"], lab.as_str());
    assert_eq!(s["state"], "up");
    assert_eq!(s["as_recorded"], true);
    assert_eq!(s["drift"], serde_json::json!([]));
    assert_eq!(s["counts"], v["made"]);

    // A namespace removed behind the lab's back: degraded to every reader.
    ip(&["netns", "delete", &w.ns("b")]);
    let e = ls_entry(&w, &lab);
    assert_eq!(e["state"], "degraded", "{e}");
    assert_eq!(e["missing_namespaces"], serde_json::json!([w.ns("b")]));
    let out = w.run(&["status", &lab, "--json"]);
    assert_eq!(out.status.code(), Some(7));
    let s = json_of(&out);
    assert_eq!(s["state"], "degraded");
    assert_eq!(s["as_recorded"], false);
    assert!(!s["drift"].as_array().unwrap().is_empty());

    let k = kit();
    let out = w.run(&["check", "--json", k.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let c = json_of(&out);
    assert_eq!(c["schema"], "netwasm.check/1");
    assert_eq!(c["can_run"], true);
    assert_eq!(c["exit"], 0);
    assert!(
        c["imports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["provided"] == true)
    );
    assert_eq!(c["exports"], serde_json::json!(["run"]));
}

#[test]
fn down_and_show_tell_a_lab_torn_down_from_one_never_there() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-gone", w.prefix);
    let _down = LabsDown::new(&w, &[&lab]);

    let never = w.run(&["down", "no-such-lab"]);
    assert_eq!(never.status.code(), Some(2));
    assert_eq!(stderr(&never).lines().count(), 1);
    assert!(
        stderr(&never).starts_with("netwasm: error: lab no-such-lab: no such lab"),
        "{}",
        stderr(&never)
    );
    let ok = w.run(&["down", "--missing-ok", "no-such-lab"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    let out = w.run_kit(&lab, None, &pair(&w));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run(&["down", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(w.namespaces().is_empty());

    let show = w.run(&["show", &lab]);
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(
        stdout(&show).starts_with(&format!("lab {lab}: torn down at 20")),
        "{}",
        stdout(&show)
    );
    let v = json_of(&w.run(&["show", "--json", &lab]));
    assert_eq!(v["schema"], "netwasm.show/1");
    assert_eq!(v["ended"]["how"], "torn-down");
    assert_eq!(v["namespaces"], serde_json::json!([]));
    let again = w.run(&["down", &lab]);
    assert!(again.status.success());
    assert!(
        stderr(&again).contains("torn down at") && stderr(&again).contains("nothing left to undo"),
        "{}",
        stderr(&again)
    );
    let status = w.run(&["status", &lab]);
    assert_eq!(status.status.code(), Some(2));
    assert!(
        stderr(&status).contains("torn down at"),
        "{}",
        stderr(&status)
    );

    let never = w.run(&["show", "never-was"]);
    assert_eq!(never.status.code(), Some(2));
    assert!(
        stderr(&never).starts_with("netwasm: error: lab never-was: no such lab"),
        "{}",
        stderr(&never)
    );

    // Running the lab again forgets that it ended.
    let out = w.run_kit(&lab, None, &pair(&w));
    assert!(out.status.success(), "{}", stderr(&out));
    let show = w.run(&["show", "--json", &lab]);
    assert_eq!(json_of(&show)["ended"], Value::Null);
}

#[test]
fn a_namespace_clash_names_the_lab_that_holds_it() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (first, second) = (format!("{}-one", w.prefix), format!("{}-two", w.prefix));
    let _down = LabsDown::new(&w, &[&first, &second]);
    let out = w.run_kit(&first, None, &pair(&w));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run_kit(&second, None, &[format!("ns {}", w.ns("b"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "a namespace of that name exists; lab {first} holds it"
        )),
        "{}",
        stderr(&out)
    );
    // A namespace no lab holds is only said to exist.
    let stray = w.ns("stray");
    ip(&["netns", "add", &stray]);
    let out = w.run_kit(&second, None, &[format!("ns {stray}")]);
    assert!(
        stderr(&out).contains("a namespace of that name exists")
            && !stderr(&out).contains("holds it"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn mistakes_on_the_command_line_are_one_documented_line() {
    let w = World::new();
    // `status --json` exists: no tip to pass it after `--`.
    let out = w.run(&["status", "--json", "x", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains("-- --json"), "{}", stderr(&out));
    let out = w.run(&["ls", "extra"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("netwasm: error: unexpected argument 'extra'"),
        "{}",
        stderr(&out)
    );
    let out = w.run(&["plan", "g.wasm", "up"]);
    assert_eq!(
        stderr(&out),
        "netwasm: error: unexpected argument 'up'; guest arguments go after --: netwasm plan g.wasm -- up\n"
    );
    assert!(Path::new(env!("CARGO_BIN_EXE_netwasm")).exists());
}
