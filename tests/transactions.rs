//! Labs as transactions: crashes, signals and failures leave nothing
//! behind, `down` works from the ledger alone, and `status` sees drift.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn kit() -> PathBuf {
    rust_guest("testkit")
}

/// Starts `netwasm run` in the background.
fn spawn(w: &World, lab: &str, statements: &[String]) -> Child {
    let k = kit();
    let mut cmd = w.netwasm();
    cmd.args(["run", "--lab", lab, k.to_str().unwrap(), "--"]);
    cmd.args(statements);
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netwasm")
}

/// Waits until at least `n` of the world's namespaces exist.
fn wait_for_namespaces(w: &World, n: usize) {
    let start = Instant::now();
    while w.namespaces().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {} namespaces appeared",
            w.namespaces().len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A base namespace with a veth to serve as the macvlan parent of each unit.
fn base(w: &World) -> Vec<String> {
    let b = w.ns("base");
    vec![
        format!("ns {b}"),
        format!("veth {b} up0 {b} up1"),
        format!("up {b} up0"),
    ]
}

fn assert_no_residue(w: &World, before: &Snapshot) {
    assert!(
        w.namespaces().is_empty(),
        "left behind: {:?}",
        w.namespaces()
    );
    assert_eq!(&Snapshot::take(), before);
}

#[test]
fn sigkill_mid_run_then_down_leaves_nothing() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let lab = format!("{}-kill", w.prefix);
    let mut stmts = base(&w);
    stmts.push(format!("many 50 {} 10 {} up0", w.ns("u"), w.ns("base")));
    stmts.push("sleep 60000".into());
    let mut child = spawn(&w, &lab, &stmts);
    wait_for_namespaces(&w, 20);
    child.kill().unwrap(); // SIGKILL, mid-run
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert!(
        !w.namespaces().is_empty(),
        "the killed run left its lab behind, as expected"
    );

    let ls = w.run(&["ls"]);
    assert!(
        stdout(&ls)
            .lines()
            .any(|l| l.starts_with(&lab) && l.contains("interrupted")),
        "{}",
        stdout(&ls)
    );
    let out = w.run(&["down", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_residue(&w, &before);
    assert!(
        !w.state_dir.join("labs").join(&lab).exists(),
        "the lab's state is gone"
    );
    let again = w.run(&["down", &lab]);
    assert!(again.status.success());
    assert!(
        stderr(&again).contains("nothing left to undo"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn sigint_and_sigterm_roll_back() {
    if !root_or_skip() {
        return;
    }
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let w = World::new();
        let before = Snapshot::take();
        let lab = format!("{}-sig", w.prefix);
        let mut stmts = base(&w);
        stmts.push(format!("many 30 {} 20 {} up0", w.ns("u"), w.ns("base")));
        stmts.push("sleep 60000".into());
        let child = spawn(&w, &lab, &stmts);
        wait_for_namespaces(&w, 8);
        // SAFETY: signalling the child process this test started.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("interrupted by SIG"), "{err}");
        assert!(err.contains("rolled back: undid namespace"), "{err}");
        assert_no_residue(&w, &before);
        assert!(!w.state_dir.join("labs").join(&lab).exists());
    }
}

#[test]
fn a_guest_failing_halfway_is_undone_and_told() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = Snapshot::take();
    let (a, b) = (w.ns("a"), w.ns("b"));
    let k = kit();
    let out = w.run(&[
        "run",
        k.to_str().unwrap(),
        "--",
        &format!("ns {a}"),
        &format!("ns {b}"),
        &format!("veth {a} v0 {b} v1"),
        &format!("addr {a} v0 10.7.0.1/24"),
        &format!("up {a} v0"),
        &format!("route {a} 10.8.0.0/16 via 10.7.0.2"),
        "fail halfway there",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("the guest's run failed: halfway there"),
        "{err}"
    );
    assert!(
        err.contains(&format!("undid namespace {b}, namespace {a}")),
        "{err}"
    );
    assert!(
        err.contains("more objects went with their namespaces"),
        "{err}"
    );
    assert_no_residue(&w, &before);

    // --keep-on-error keeps it, recorded; `down` removes it.
    let lab = format!("{}-keep", w.prefix);
    let out = w.run(&[
        "run",
        "--lab",
        &lab,
        "--keep-on-error",
        k.to_str().unwrap(),
        "--",
        &format!("ns {a}"),
        "fail kept",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("kept what the run built"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.namespaces(), vec![a.clone()]);
    assert!(w.run(&["down", &lab]).status.success());
    assert_no_residue(&w, &before);
}

#[test]
fn a_hundred_up_down_cycles_leak_nothing() {
    if !root_or_skip() {
        return;
    }
    let before = Snapshot::take();
    seed_guest(); // built once, before the threads race to build it
    // Five labs side by side, twenty cycles each.
    let workers: Vec<_> = (0..5)
        .map(|_| {
            std::thread::spawn(move || {
                let w = World::new();
                let lab = format!("{}-cycle", w.prefix);
                for i in 0..20 {
                    let mode = if i % 2 == 0 { "vepa" } else { "bridge" };
                    let up = w.seed_up(&lab, Some(mode), &["--quiet"]);
                    assert!(up.status.success(), "cycle {i}: {}", stderr(&up));
                    let down = w.run(&["down", &lab]);
                    assert!(down.status.success(), "cycle {i}: {}", stderr(&down));
                    assert!(
                        w.namespaces().is_empty(),
                        "cycle {i} leaked {:?}",
                        w.namespaces()
                    );
                }
                assert!(
                    !w.state_dir.join("labs").join(&lab).exists(),
                    "the lab's state is gone"
                );
            })
        })
        .collect();
    for t in workers {
        t.join().unwrap();
    }
    assert_eq!(Snapshot::take(), before, "no namespace or root link leaked");
}

#[test]
fn status_names_drift() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-drift", w.prefix);
    let out = w.seed_up(&lab, None, &["--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = w.run(&["status", &lab]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("as at its last commit"),
        "{}",
        stdout(&out)
    );

    let ip = |args: &[&str]| {
        assert!(
            Command::new("ip").args(args).status().unwrap().success(),
            "ip {args:?}"
        )
    };
    ip(&["-n", &w.ns("ns1"), "link", "del", "macvlan1"]);
    let out = w.run(&["status", &lab]);
    assert_eq!(out.status.code(), Some(7));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "drift: macvlan macvlan1 (vepa) in {} is missing",
            w.ns("ns1")
        )),
        "{text}"
    );
    assert!(
        text.contains("address 172.16.10.5/24 on macvlan1"),
        "its address went with it: {text}"
    );

    ip(&[
        "-n",
        &w.ns("ns2"),
        "addr",
        "del",
        "172.16.10.6/24",
        "dev",
        "macvlan2",
    ]);
    ip(&[
        "-n",
        &w.ns("ns2"),
        "addr",
        "add",
        "172.16.10.66/24",
        "dev",
        "macvlan2",
    ]);
    ip(&["-n", &w.ns("net1"), "link", "set", "eth0", "down"]);
    let out = w.run(&["status", &lab]);
    assert_eq!(out.status.code(), Some(7));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("drift: address 172.16.10.6/24 on macvlan2 in {} is missing (the link has 172.16.10.66/24)", w.ns("ns2"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("drift: {}/eth0: admin up → down", w.ns("net1"))),
        "{text}"
    );
    assert!(w.run(&["down", &lab]).status.success());
    assert!(w.namespaces().is_empty());
}

#[test]
fn a_truncated_journal_still_tears_down_what_it_records() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-cut", w.prefix);
    let k = kit();
    let names: Vec<String> = (0..3).map(|i| w.ns(&format!("t{i}"))).collect();
    let mut args = vec![
        "run".to_string(),
        "--lab".into(),
        lab.clone(),
        k.to_str().unwrap().into(),
        "--".into(),
    ];
    args.extend(names.iter().map(|n| format!("ns {n}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(w.run(&args).status.success());

    // Cut the journal inside the entry recording the last namespace.
    let journal = w.state_dir.join("labs").join(&lab).join("journal");
    let text = std::fs::read_to_string(&journal).unwrap();
    let cut = text.find(&format!("\"ns\":\"{}\"", names[2])).unwrap();
    std::fs::write(&journal, &text[..cut]).unwrap();

    let out = w.run(&["down", &lab]);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "undid namespace {}, namespace {}",
            names[1], names[0]
        )),
        "{err}"
    );
    assert!(
        err.contains("the journal is damaged: line") && err.contains("is cut short"),
        "{err}"
    );
    assert_eq!(
        w.namespaces(),
        vec![names[2].clone()],
        "only what the lost line recorded is left"
    );
}
