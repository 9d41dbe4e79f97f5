//! Programs in lab namespaces (`netwasm:lab/process`) on the real kernel:
//! confined as the policy says, refused when it does not list them, held
//! to their quotas, and stopped — with everything they started, detached
//! or not — by `down`, by a rollback, and by `down` after netwasm was
//! killed. Their output goes to files that outlive netwasm, bounded in
//! size; what they fork is bounded too. And `netwasm exec` for the
//! operator.

mod common;

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Units separate a statement's words when an argument holds spaces.
const US: &str = "\u{1f}";

fn policy(extra: &str) -> String {
    format!(
        "[exec]\ncommands = [\"/bin/echo\", \"sh\", \"sleep\", \"ip\", \"cat\", \"setsid\", \"yes\"]\n{extra}"
    )
}

/// Whether process `pid` runs (a zombie has ended).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start())
                .unwrap_or("");
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

/// Waits up to 5 s for every pid to stop running.
fn all_gone(pids: &[u32]) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if pids.iter().all(|p| !running(*p)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The pids the guest printed, by program id (`started ID pid=N`), and the
/// pid of a detached child a `sh` printed (`out ID: "N\n"`).
fn pids(lines: &[String]) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    for l in lines {
        if let Some(rest) = l.strip_prefix("started ")
            && let Some((id, pid)) = rest.split_once(" pid=")
        {
            out.insert(id.to_string(), pid.parse().unwrap());
        }
        if let Some(rest) = l.strip_prefix("out ")
            && let Some((id, text)) = rest.split_once(": \"")
            && let Some(n) = text.split("\\n").next().and_then(|n| n.parse().ok())
        {
            out.insert(format!("{id}-child"), n);
        }
    }
    out
}

/// Statements that start a sleeper and a program that detaches a sleeper
/// into a session of its own, printing the detached one's pid.
fn sleepers(ns: &str) -> Vec<String> {
    vec![
        format!("spawn s {ns} sleep 1000"),
        [
            "spawn",
            "d",
            ns,
            "setsid",
            "-w",
            "sh",
            "-c",
            "sleep 1000 >/dev/null 2>&1 & echo $!",
        ]
        .join(US),
        "wait d 5000".into(),
        "out d".into(),
    ]
}

fn nobody_uid() -> String {
    let out = Command::new("id").args(["-u", "nobody"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn programs_run_confined_and_stop_on_down() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["conf"]);
    let ns = w.ns("a");
    // `sh` as the policy finds it on its fixed PATH, and what that is.
    let sh_found = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ]
    .iter()
    .map(|d| std::path::Path::new(d).join("sh"))
    .find(|p| p.is_file())
    .unwrap();
    let sh_resolved = std::fs::canonicalize(&sh_found).unwrap();
    let mut st = vec![format!("ns {ns}"), format!("up {ns} lo")];
    st.extend(sleepers(&ns));
    st.extend([
        format!("spawn c {ns} cat /proc/self/status"),
        "wait c 5000".into(),
        "out c".into(),
        format!("spawn i {ns} ip link set lo down"),
        "wait i 5000".into(),
        "err i".into(),
        [
            "spawn",
            "e",
            &ns,
            "/bin/echo",
            "$(id);rm -rf /",
            "`id`",
            "a b",
        ]
        .join(US),
        "wait e 5000".into(),
        "out e".into(),
        // Named by what it resolves to (dash), sh still runs as the
        // policy's `sh`: argv[0] is the listed name, so a multi-call
        // binary cannot be steered by the guest's argv[0].
        [
            "spawn",
            "z",
            &ns,
            sh_resolved.to_str().unwrap(),
            "-c",
            "echo $0",
        ]
        .join(US),
        "wait z 5000".into(),
        "out z".into(),
    ]);
    let out = w.run_kit("conf", Some(&policy("")), &st);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    let text = lines.join("\n");
    let p = pids(&lines);
    let (s, d, child) = (p["s"], p["d"], p["d-child"]);
    assert!(running(s) && running(child), "{text}");
    assert!(!running(d), "the detaching sh exited: {text}");

    // As the configured user, with no capabilities, no_new_privs.
    let status = lines.iter().find(|l| l.starts_with("out c:")).unwrap();
    let uid = nobody_uid();
    assert!(
        status.contains(&format!("Uid:\\t{uid}\\t{uid}\\t{uid}\\t{uid}")),
        "{status}"
    );
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(
            status.contains(&format!("{cap}:\\t0000000000000000")),
            "{cap}: {status}"
        );
    }
    assert!(status.contains("NoNewPrivs:\\t1"), "{status}");
    assert!(
        status.contains("Groups:\\t \\n") || status.contains("Groups:\\t\\n"),
        "{status}"
    );
    // Its namespace's links are out of its reach.
    assert!(text.contains("wait i exited=2"), "{text}");
    assert!(text.contains("Operation not permitted"), "{text}");
    assert_eq!(link(&ns, "lo")["operstate"], "UNKNOWN", "lo untouched");
    // No shell: every argument arrives as it was given.
    assert!(
        text.contains(r#"out e: "$(id);rm -rf / `id` a b\n""#),
        "{text}"
    );
    assert!(
        text.contains(&format!("out z: {:?}", format!("{}\n", sh_found.display()))),
        "{text}"
    );

    // Running programs are no drift; show lists them.
    let status = w.run(&["status", "conf"]);
    assert!(status.status.success(), "{}", stdout(&status));
    let show = w.run(&["show", "conf", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let procs = v["namespaces"][0]["processes"].as_array().unwrap().clone();
    assert!(
        procs.iter().any(|p| p["pid"] == s && p["running"] == true),
        "{procs:?}"
    );
    assert!(
        procs
            .iter()
            .any(|p| p["pid"] == d && p["running"] == false && p["processes"] == 1),
        "the detached sleeper is in its cgroup: {procs:?}"
    );
    // An exited program is drift.
    unsafe { libc::kill(s as i32, libc::SIGKILL) };
    assert!(all_gone(&[s]));
    let status = w.run(&["status", "conf"]);
    assert_eq!(status.status.code(), Some(7), "{}", stdout(&status));
    assert!(stdout(&status).contains(&format!("program {s} (sleep 1000) in {ns} has exited")));

    let down = w.run(&["down", "conf"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(all_gone(&[child]), "the detached child is stopped too");
    assert!(w.namespaces().is_empty());
}

#[test]
fn a_rolled_back_run_stops_its_programs() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["rb"]);
    let ns = w.ns("a");
    let mut st = vec![format!("ns {ns}")];
    st.extend(sleepers(&ns));
    st.push("fail on purpose".into());
    let out = w.run_kit("rb", Some(&policy("")), &st);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let p = pids(&guest_lines(&out));
    assert!(all_gone(&[p["s"], p["d-child"]]), "{}", stderr(&out));
    assert!(w.namespaces().is_empty());
    assert!(!w.state_dir.join("labs/rb").exists());
}

#[test]
fn a_program_whose_handle_was_dropped_stops_with_its_namespace() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["fg"]);
    let ns = w.ns("a");
    let st = vec![
        format!("ns {ns}"),
        format!("spawn s {ns} sleep 1000"),
        "drop s".into(),
        format!("del-ns {ns}"),
    ];
    let out = w.run_kit("fg", Some(&policy("")), &st);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = pids(&guest_lines(&out));
    // Stopped when its namespace was deleted, not left holding it until
    // `down`.
    assert!(all_gone(&[p["s"]]), "{}", stderr(&out));
}

#[test]
fn programs_stop_on_down_after_netwasm_is_killed() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["killed"]);
    let ns = w.ns("a");
    let mut st = vec![format!("ns {ns}")];
    st.extend(sleepers(&ns));
    st.push("sleep 60000".into());
    let args = w.kit_args(
        "killed",
        Some(&policy("[limits]\ndeadline = \"120s\"\n")),
        &[],
        &st,
    );
    let mut child = w
        .netwasm()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Both programs recorded, with their pids: then kill netwasm.
    let end = Instant::now() + Duration::from_secs(60);
    let procs = loop {
        assert!(Instant::now() < end, "the run never recorded its programs");
        let show = w.run(&["show", "killed", "--json"]);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&show.stdout)
            && let Some(p) = v["namespaces"][0]["processes"].as_array()
            && p.len() == 2
            && p.iter().all(|p| p["pid"].is_u64())
            && p[1]["running"] == false
        {
            break p.clone();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let s = procs[0]["pid"].as_u64().unwrap() as u32;
    assert!(running(s));
    let down = w.run(&["down", "killed"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(all_gone(&[s]), "{}", stderr(&down));
    assert!(stderr(&down).contains("undid program"), "{}", stderr(&down));
    assert!(w.namespaces().is_empty());
}

#[test]
fn a_program_not_listed_is_refused_and_nothing_starts() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["none", "other"]);
    let ns = w.ns("a");
    let st = [
        format!("ns {ns}"),
        format!("try spawn x {ns} sleep 1000"),
        format!("try spawn x {ns} bin/sleep 1000"),
        format!("try spawn x {ns} /usr/bin/id"),
    ];
    // The default policy lists nothing; this one lists other programs.
    for (lab, p) in [
        ("none", None),
        ("other", Some(policy("").replace("\"sleep\", ", ""))),
    ] {
        let out = w.run_kit(lab, p.as_deref(), &st);
        assert!(out.status.success(), "{}", stderr(&out));
        let lines = guest_lines(&out);
        assert!(
            lines[0].starts_with("error: denied: start program \"sleep\"")
                && lines[0].contains("add \"sleep\" to [exec] commands"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("error: invalid argument:"),
            "{lines:?}"
        );
        assert!(lines[2].starts_with("error: denied:"), "{lines:?}");
        assert!(!stdout(&out).contains("started"));
        assert!(
            !std::path::Path::new(&format!("/sys/fs/cgroup/unified/netwasm/{lab}")).exists()
                && !std::path::Path::new(&format!("/sys/fs/cgroup/netwasm/{lab}")).exists()
        );
        let down = w.run(&["down", lab]);
        assert!(down.status.success());
    }
}

#[test]
fn hostile_guests_flood_programs_and_output() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["flood"]);
    let ns = w.ns("a");
    let st = [
        format!("ns {ns}"),
        format!("spawn y {ns} yes"),
        "sleep 1500".into(),
        "size y".into(),
        "sleep 300".into(),
        "size y".into(),
        format!("try spawn 2 {ns} sleep 1000"),
        format!("try spawn 3 {ns} sleep 1000"),
        format!("try spawn 4 {ns} sleep 1000"),
    ];
    let p = policy("[quotas]\nprocesses = 3\nprocess-output = \"64KiB\"\n");
    let out = w.run_kit("flood", Some(&p), &st);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    let sizes: Vec<(u64, u64)> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("size y "))
        .map(|l| {
            let n = |k: &str| {
                l.split(' ')
                    .find_map(|f| f.strip_prefix(k))
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            };
            (n("bytes="), n("dropped="))
        })
        .collect();
    // A read returns at most the quota, however much `yes` wrote; the
    // rest waits in its log for the next read, nothing skipped.
    for (bytes, dropped) in &sizes {
        assert_eq!(*bytes, 64 << 10, "{lines:?}");
        assert_eq!(*dropped, 0, "{lines:?}");
    }
    assert!(
        lines.iter().filter(|l| l.starts_with("started")).count() == 3,
        "{lines:?}"
    );
    assert!(
        lines.last().unwrap().starts_with("error: limit reached:")
            && lines.last().unwrap().contains("[quotas] processes"),
        "{lines:?}"
    );
    let p = pids(&lines);
    let down = w.run(&["down", "flood"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(all_gone(&p.values().copied().collect::<Vec<_>>()));
}

#[test]
fn exec_runs_a_command_in_a_labs_namespace() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["ex"]);
    let ns = w.ns("a");
    let out = w.run_kit("ex", None, &[format!("ns {ns}"), format!("up {ns} lo")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let o = w.run(&["exec", "ex", &ns, "--", "ip", "-o", "link", "show", "lo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("lo:") && stdout(&o).contains("UP"),
        "{}",
        stdout(&o)
    );
    let o = w.run(&["exec", "ex", &ns, "--", "sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let o = w.run(&["exec", "ex", &ns, "--", "/no/such/program"]);
    assert_eq!(o.status.code(), Some(127));
    for (lab, space) in [("ex", "elsewhere"), ("nolab", ns.as_str()), ("ex", "/")] {
        let o = w.run(&["exec", lab, space, "--", "true"]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
    assert!(w.run(&["down", "ex"]).status.success());
}

/// The lab's programs as `netwasm show --json` lists them.
fn shown_programs(w: &World, lab: &str) -> Vec<serde_json::Value> {
    let show = w.run(&["show", lab, "--json"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    v["namespaces"][0]["processes"].as_array().unwrap().clone()
}

/// The processes in cgroup `rel` (as `show` gives it) now.
fn cgroup_members(rel: &str) -> Vec<u32> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .find_map(|root| std::fs::read_to_string(format!("{root}/{rel}/cgroup.procs")).ok())
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// The limit `name` (e.g. "Max file size") of a `/proc/PID/limits` text
/// as the guest printed it (newlines escaped): soft and hard.
fn limit(printed: &str, name: &str) -> (String, String) {
    let line = printed
        .split("\\n")
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {printed}"));
    let f: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (f[0].to_string(), f[1].to_string())
}

#[test]
fn a_program_outlives_netwasm_writing_to_its_log_until_down() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["outlive"]);
    let ns = w.ns("a");
    let st = [
        format!("ns {ns}"),
        [
            "spawn",
            "t",
            &ns,
            "sh",
            "-c",
            "while :; do echo tick; sleep 0.1; done",
        ]
        .join(US),
        "sleep 500".into(),
        "out t".into(),
        format!("spawn l {ns} cat /proc/self/limits"),
        "wait l 5000".into(),
        "out l".into(),
    ];
    let out = w.run_kit("outlive", Some(&policy("")), &st);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    let text = lines.join("\n");
    assert!(
        text.contains(r#"out t: "tick\ntick\n"#) && text.contains("dropped=0 closed=false"),
        "{text}"
    );
    // The limits every program gets by default.
    let limits = lines.iter().find(|l| l.starts_with("out l:")).unwrap();
    let mib = (1u64 << 20).to_string();
    assert_eq!(
        limit(limits, "Max file size"),
        (mib.clone(), mib),
        "{limits}"
    );
    let tasks = "128".to_string();
    assert_eq!(
        limit(limits, "Max processes"),
        (tasks.clone(), tasks),
        "{limits}"
    );

    // netwasm has exited; the program writes on, to its log.
    let t = pids(&lines)["t"];
    let procs = shown_programs(&w, "outlive");
    let shown = procs.iter().find(|p| p["pid"] == t).expect("show lists it");
    let log = PathBuf::from(shown["stdout_log"].as_str().unwrap());
    let err = PathBuf::from(shown["stderr_log"].as_str().unwrap());
    let dir = w.state_dir.join("labs/outlive/programs");
    assert_eq!(log.parent(), Some(dir.as_path()), "{shown}");
    assert!(log.extension().is_some_and(|e| e == "out") && err.exists());
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700);
    for f in [&log, &err] {
        let m = std::fs::symlink_metadata(f).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid()), (0o600, 0), "{}", f.display());
    }
    let before = std::fs::metadata(&log).unwrap().len();
    std::thread::sleep(Duration::from_secs(1));
    assert!(running(t), "the program died once netwasm exited");
    let after = std::fs::metadata(&log).unwrap().len();
    assert!(after > before, "its log grew: {before} then {after}");
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.lines().all(|l| l == "tick"), "{written}");
    let table = stdout(&w.run(&["show", "outlive"]));
    assert!(table.contains(&log.display().to_string()), "{table}");

    let down = w.run(&["down", "outlive"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(all_gone(&[t]));
    assert!(!log.exists() && !w.state_dir.join("labs/outlive").exists());
}

#[test]
fn a_programs_log_stops_at_its_bound_and_the_program_is_not_killed() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["bound"]);
    let ns = w.ns("a");
    let st = [
        format!("ns {ns}"),
        format!("spawn y {ns} yes"),
        "wait y 10000".into(),
        "err y".into(),
        "size y".into(),
    ];
    let p = policy("[quotas]\nprogram-log = \"64KiB\"\n");
    let out = w.run_kit("bound", Some(&p), &st);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    let text = lines.join("\n");
    // `yes` saw EFBIG and said so; SIGXFSZ (25) did not end it.
    assert!(text.contains("wait y exited=1"), "{text}");
    assert!(text.contains("File too large"), "{text}");
    assert!(
        text.contains(&format!("size y bytes={} dropped=0 closed=true", 64 << 10)),
        "{text}"
    );
    let dir = w.state_dir.join("labs/bound/programs");
    let logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(std::fs::metadata(&logs[0]).unwrap().len(), 64 << 10);
    let down = w.run(&["down", "bound"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(!dir.exists());
}

#[test]
fn what_a_program_forks_is_bounded_and_down_stops_it_all() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let _labs = LabsDown::new(&w, &["forks"]);
    let ns = w.ns("a");
    let bomb = "i=0; while [ $i -lt 1000 ]; do sleep 30 & i=$((i+1)); done; wait";
    let st = [
        format!("ns {ns}"),
        ["spawn", "f", &ns, "sh", "-c", bomb].join(US),
        "wait f 10000".into(),
        "err f".into(),
    ];
    let out = w.run_kit("forks", Some(&policy("max-tasks = 20\n")), &st);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = guest_lines(&out).join("\n");
    // dash gives up at its first failed fork.
    assert!(text.contains("wait f exited="), "{text}");
    assert!(text.contains("fork"), "{text}");
    let procs = shown_programs(&w, "forks");
    assert_eq!(procs.len(), 1, "its sleepers keep it recorded: {procs:?}");
    let cgroup = procs[0]["cgroup"].as_str().unwrap().to_string();
    let members = cgroup_members(&cgroup);
    // RLIMIT_NPROC counts every task of the user (other programs as
    // nobody too), so the program got at most 20, maybe fewer.
    assert!(
        !members.is_empty() && members.len() <= 20,
        "{} running: {members:?}",
        members.len()
    );
    let down = w.run(&["down", "forks"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(all_gone(&members));
    assert!(cgroup_members(&cgroup).is_empty());
}
