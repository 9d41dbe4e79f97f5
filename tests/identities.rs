//! A hostile tenant racing for names: everything that outlives one host call
//! names kernel objects by identity, not by name. Each test builds decoys —
//! namespaces, links and routes the lab did not make, some under the very
//! names the lab used — and checks that rollback, `down`, `--attach` and
//! `status` never act on them, and that the journal, being input like any
//! other, cannot steer netwasm either.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Waits until namespace `name` exists (bounded).
fn wait_for(name: &str, within: Duration) -> bool {
    let path = format!("/run/netns/{name}");
    let start = Instant::now();
    while start.elapsed() < within {
        if std::path::Path::new(&path).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// Starts the testkit in the background.
fn spawn_kit(w: &World, lab: &str, flags: &[&str], statements: &[String]) -> Child {
    let args = w.kit_args(lab, None, flags, statements);
    w.netwasm()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netwasm")
}

/// The statements of a `batch.build` of `n` units `PREFIX-u0..` on a
/// parent made first: long enough that a deadline or a kill lands in it.
fn big_build(w: &World, n: usize) -> Vec<String> {
    let phy = w.ns("phy");
    let mut build = format!("build {phy} eth0 bridge");
    for i in 0..n {
        build += &format!(" {}", w.ns(&format!("u{i}")));
    }
    vec![
        format!("ns {phy}"),
        format!("veth {phy} eth0 {phy} eth1"),
        build,
    ]
}

/// Starts a big build and, as soon as it is under way, makes a decoy under
/// the name of its last plan, as another tenant would. Returns the running
/// netwasm and the decoy, once the decoy is in place.
fn race_a_big_build(w: &World, lab: &str, flags: &[&str]) -> (Child, Decoy) {
    warm_kit(w);
    // Within the default quota of 1000 namespaces, with the parent's.
    let n = 900;
    let child = spawn_kit(w, lab, flags, &big_build(w, n));
    assert!(
        wait_for(&w.ns("u0"), Duration::from_secs(30)),
        "the build started"
    );
    let last = format!("u{}", n - 1);
    assert!(
        !std::path::Path::new(&format!("/run/netns/{}", w.ns(&last))).exists(),
        "the decoy's name is still free: the build has not got that far"
    );
    (child, Decoy::new(w, &last))
}

/// Compiles the testkit into the cache (a run with nothing to do; `check`
/// does not use the cache), so that a run's time and output are its own.
fn warm_kit(w: &World) {
    let out = w.run_kit(&format!("{}-warm", w.prefix), None, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_build_cut_short_by_its_deadline_never_removes_a_name_it_did_not_make() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-dl", w.prefix);
    let (child, decoy) = race_a_big_build(&w, &lab, &["--limit-deadline", "700ms"]);
    let state = decoy.state();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("deadline"), "{}", stderr(&out));
    assert!(
        std::path::Path::new(&format!("/run/netns/{}", decoy.name)).exists(),
        "the rollback removed the other tenant's namespace: {}",
        stderr(&out)
    );
    assert_eq!(decoy.state(), state);
    assert_eq!(w.namespaces(), vec![decoy.name.clone()], "all else undone");
}

#[test]
fn down_after_a_kill_mid_build_never_removes_a_name_it_did_not_make() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-kill", w.prefix);
    let (mut child, decoy) = race_a_big_build(&w, &lab, &["--limit-deadline", "60s"]);
    let state = decoy.state();
    child.kill().unwrap(); // SIGKILL, mid-build
    child.wait().unwrap();
    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(decoy.state(), state);
    assert_eq!(w.namespaces(), vec![decoy.name.clone()], "all else undone");
}

#[test]
fn a_lab_namespace_replaced_by_another_is_not_attached_and_not_removed() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let lab = format!("{}-imp", w.prefix);
    let (a, b) = (w.ns("a"), w.ns("b"));
    let up = w.run_kit(&lab, None, &[format!("ns {a}"), format!("ns {b}")]);
    assert!(up.status.success(), "{}", stderr(&up));

    // Someone deletes the lab's namespace and makes their own by that name.
    ip(&["netns", "delete", &a]);
    let impostor = Decoy::new(&w, "a");
    let state = impostor.state();

    let status = w.run(&["status", &lab]);
    assert_eq!(status.status.code(), Some(7), "{}", stdout(&status));
    assert!(
        stdout(&status).contains(&format!("namespace {a} was replaced")),
        "{}",
        stdout(&status)
    );

    // An attached run is not handed the impostor as the lab's own.
    let attach = w.kit_args(
        &lab,
        None,
        &["--attach"],
        &[
            format!("try open {a}"),
            format!("try del-ns {a}"),
            format!("try addr {a} p0 10.1.1.1/24"),
            format!("try open {b}"),
        ],
    );
    let attach: Vec<&str> = attach.iter().map(String::as_str).collect();
    let out = w.run(&attach);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "namespace {a}: namespace {a} is another namespace now"
        )),
        "{}",
        stderr(&out)
    );
    let lines = guest_lines(&out);
    assert!(lines[0].starts_with("error: denied: "), "{lines:?}");
    assert!(lines[1].starts_with("error: "), "{lines:?}");
    assert!(lines[2].starts_with("error: "), "{lines:?}");
    assert_eq!(lines[3], "ok", "the lab's own namespace is still its own");
    assert_eq!(impostor.state(), state);

    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(
        stderr(&down).contains("left alone, no longer the lab's"),
        "{}",
        stderr(&down)
    );
    assert_eq!(impostor.state(), state);
    assert_eq!(w.namespaces(), vec![a.clone()], "{b} removed, {a} left");
}

#[test]
fn the_root_namespace_under_another_name_is_the_root() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let root = StandInRoot::new(&w);
    let r = root.name().to_string();
    let state = root.state();
    let lab = format!("{}-alias", w.prefix);
    let policy_path = w.state_dir.join("alias.toml");
    let run = |policy: &str, statements: &[String]| {
        std::fs::write(&policy_path, policy).unwrap();
        let mut args = vec![
            "run".to_string(),
            "--lab".into(),
            lab.clone(),
            "--policy".into(),
            policy_path.to_str().unwrap().into(),
            kit().to_str().unwrap().into(),
            "--".into(),
        ];
        args.extend(statements.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = root.run(&w, &args);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        guest_lines(&out)
    };
    // Its name matches `open`, but it is the root: without [root] links it
    // cannot be opened at all.
    let lines = run(
        &format!("[namespaces]\nopen = [\"{}-*\"]\n", w.prefix),
        &[format!("try open {r}")],
    );
    assert!(lines[0].starts_with("error: denied: "), "{lines:?}");
    assert!(lines[0].contains("[root] links"), "{lines:?}");
    // With [root] links, it is the root with the root's rules.
    let lines = run(
        &format!(
            "[namespaces]\nopen = [\"{}-*\"]\ndelete-opened = true\n[root]\nlinks = [\"eth0\"]\n",
            w.prefix
        ),
        &[
            format!("try open {r}"),
            format!("try bridge {r} br9"),
            format!("try veth {r} x0 {r} x1"),
            format!("try addr {r} eth0 10.99.0.9/24"),
            format!("try route {r} 10.5.0.0/16 via 10.99.0.1"),
            format!("try ping {r} 10.99.0.2"),
            format!("try down {r} eth0"),
            format!("try del-ns {r}"),
        ],
    );
    assert_eq!(lines[0], "ok");
    for (i, line) in lines.iter().enumerate().skip(1) {
        assert!(
            line.starts_with("error: denied: "),
            "statement {i}: {lines:?}"
        );
    }
    assert_eq!(root.state(), state, "the stand-in root is unchanged");
    assert!(w.namespaces().contains(&r));
}

/// A decoy the guest may build in (`modify`), adding routes that differ
/// from the decoy's own only in their metric, or moving its own links in.
fn route_policy(decoy: &Decoy) -> String {
    format!("[namespaces]\nmodify = [\"{}\"]\n", decoy.name)
}

#[test]
fn routes_are_deleted_by_their_whole_key() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let d = Decoy::new(&w, "routes");
    let n = d.name.clone();
    let state = d.state();
    let lab = format!("{}-rt", w.prefix);
    let policy = route_policy(&d);

    // In the run: the guest's delete without a metric removes its own
    // route (1024), not the decoy's of metric 200.
    let out = w.run_kit(
        &lab,
        Some(&policy),
        &[
            format!("route {n} fd98::/64 via fd99::ff"),
            format!("del-route {n} fd98::/64 via fd99::ff"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(d.state(), state);

    // By `down`, after a committed run.
    let out = w.run_kit(
        &lab,
        Some(&policy),
        &[
            format!("route {n} fd98::/64 via fd99::ff"),
            format!("route {n} 203.0.113.0/24 via 192.0.2.254"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(d.state(), state);
    // The lab's IPv4 route is removed by someone else first: `down` must
    // not take the decoy's route of another metric for it.
    ip(&[
        "-n",
        &n,
        "route",
        "del",
        "203.0.113.0/24",
        "via",
        "192.0.2.254",
        "metric",
        "0",
    ]);
    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(d.state(), state);
}

#[test]
fn a_move_whose_rename_fails_is_journaled_where_the_link_went() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let d = Decoy::new(&w, "mv");
    let state = d.state();
    let a = w.ns("a");
    let lab = format!("{}-mv", w.prefix);
    // Both ends of a veth pair end up in the decoy (so that deleting the
    // lab's namespace cannot take them along); v0's new name p0 is taken
    // there, its old name is not: the kernel moves it, then fails to
    // rename it.
    let out = w.run_kit(
        &lab,
        Some(&route_policy(&d)),
        &[
            format!("ns {a}"),
            format!("veth {a} v0 {a} v1"),
            format!("move {a} v1 {}", d.name),
            format!("try move {a} v0 {} p0", d.name),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    assert!(
        lines[0].contains("moved all the same, as \"v0\""),
        "{lines:?}"
    );
    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(
        d.state(),
        state,
        "nothing of the lab's leaked into the decoy"
    );
}

/// Writes a journal for lab `lab` with these entries (JSON) after a header
/// of journal `version`.
fn forge(w: &World, lab: &str, version: u32, entries: &[String]) -> std::path::PathBuf {
    let dir = w.state_dir.join("labs").join(lab);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = journal_line(&format!(
        r#"{{"op":"header","version":{version},"lab":"{lab}"}}"#
    ));
    for e in entries {
        text += &journal_line(e);
    }
    let path = dir.join("journal");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_forged_journal_cannot_steer_down() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let d = Decoy::new(&w, "forged");
    let state = d.state();
    let before = Snapshot::take();

    // Names no guest could use, and paths out of /run/netns.
    for (i, bad) in [
        r#"{"op":"ns-create","ns":"../../proc/1/ns/net"}"#.to_string(),
        r#"{"op":"ns-create","ns":".."}"#.to_string(),
        format!(
            r#"{{"op":"link-add","ns":"{}","name":"../p0","kind":"veth"}}"#,
            d.name
        ),
    ]
    .iter()
    .enumerate()
    {
        let lab = format!("{}-f{i}", w.prefix);
        forge(&w, &lab, 2, std::slice::from_ref(bad));
        let out = w.run(&["down", &lab]);
        assert_eq!(out.status.code(), Some(8), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("damaged"), "{}", stderr(&out));
    }

    // The decoy's name, with the identity of another namespace: left alone.
    let other = std::fs::metadata("/proc/self/ns/net").unwrap();
    use std::os::unix::fs::MetadataExt;
    let lab = format!("{}-fid", w.prefix);
    forge(
        &w,
        &lab,
        2,
        &[
            format!(
                r#"{{"op":"ns-create","ns":"{}","id":{{"dev":{},"ino":{},"id":1}}}}"#,
                d.name,
                other.dev(),
                other.ino()
            ),
            format!(
                r#"{{"op":"link-add","ns":"{}","name":"p0","index":2,"kind":"veth"}}"#,
                d.name
            ),
        ],
    );
    let out = w.run(&["down", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("left alone"), "{}", stderr(&out));

    // A version 1 journal (no identities): left, and the lab kept, unless
    // the operator forces it.
    let lab = format!("{}-v1", w.prefix);
    forge(
        &w,
        &lab,
        1,
        &[format!(r#"{{"op":"ns-create","ns":"{}"}}"#, d.name)],
    );
    let out = w.run(&["down", &lab]);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(d.state(), state);
    assert_eq!(Snapshot::take(), before);

    // Only network namespace mounts are ever unmounted, even when forced:
    // here the name holds a plain file.
    let plain = w.ns("plain");
    std::fs::write(format!("/run/netns/{plain}"), "").unwrap();
    let lab = format!("{}-plain", w.prefix);
    forge(
        &w,
        &lab,
        1,
        &[format!(r#"{{"op":"ns-create","ns":"{plain}"}}"#)],
    );
    let out = w.run(&["down", "--force", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a namespace"), "{}", stderr(&out));
    assert!(std::path::Path::new(&format!("/run/netns/{plain}")).exists());
    std::fs::remove_file(format!("/run/netns/{plain}")).unwrap();

    // Forced, the version 1 journal's namespace goes by name.
    let lab = format!("{}-v1", w.prefix);
    let out = w.run(&["down", "--force", &lab]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!std::path::Path::new(&format!("/run/netns/{}", d.name)).exists());
}

#[test]
fn an_unsafe_state_directory_is_refused() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    warm_kit(&w);
    let a = w.ns("a");
    let lab = format!("{}-st", w.prefix);
    let kit_run = |w: &World| w.run_kit(&lab, None, &[format!("ns {a}")]);

    // Writable by others.
    std::fs::set_permissions(&w.state_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = kit_run(&w);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("writable by its group or by others") && err.contains("chmod 700"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(w.namespaces().is_empty());
    std::fs::set_permissions(&w.state_dir, std::fs::Permissions::from_mode(0o755)).unwrap();

    // A journal that is a symbolic link: nothing is written through it.
    let target = w.state_dir.join("elsewhere");
    std::fs::write(&target, "precious\n").unwrap();
    let dir = w.state_dir.join("labs").join(&lab);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&target, dir.join("journal")).unwrap();
    let out = kit_run(&w);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(w.namespaces().is_empty());
    std::fs::remove_file(dir.join("journal")).unwrap();

    // A lab directory that is a symbolic link.
    std::fs::remove_dir_all(&dir).unwrap();
    let real = w.state_dir.join("real");
    std::fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&real, &dir).unwrap();
    let out = kit_run(&w);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(std::fs::read_dir(&real).unwrap().next().is_none());
    std::fs::remove_file(&dir).unwrap();

    // A fresh state directory is made 0700.
    let fresh = w.state_dir.join("fresh");
    let out = w
        .netwasm()
        .env("NETWASM_STATE_DIR", &fresh)
        .args(w.kit_args(&lab, None, &[], &[format!("ns {a}")]))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let down = Command::new(env!("CARGO_BIN_EXE_netwasm"))
        .env("NETWASM_STATE_DIR", &fresh)
        .args(["down", &lab])
        .output()
        .unwrap();
    assert!(down.status.success(), "{}", stderr(&down));
}

#[test]
fn the_journal_stops_growing_at_its_quota() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (keep, churn) = (w.ns("keep"), w.ns("churn"));
    let lab = format!("{}-jq", w.prefix);
    let mut statements = vec![format!("ns {keep}")];
    // Changes to `lo` are no object of the lab's: not journaled at all.
    statements.extend((0..300).map(|_| format!("up {keep} lo")));
    for _ in 0..400 {
        statements.push(format!("try ns {churn}"));
        statements.push(format!("try del-ns {churn}"));
    }
    let out = w.run_kit(&lab, Some("[quotas]\njournal = \"64KiB\"\n"), &statements);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = guest_lines(&out);
    let refused = lines
        .iter()
        .filter(|l| l.starts_with("error: limit reached: ") && l.contains("[quotas] journal"))
        .count();
    assert!(refused > 0, "{lines:?}");
    let journal = w.state_dir.join("labs").join(&lab).join("journal");
    let size = std::fs::metadata(&journal).unwrap().len();
    // Creations stop at the cap; the deletions and the run's end that
    // follow them are always written.
    assert!(size <= 64 * 1024 + 4096, "journal of {size} bytes");
    assert!(w.run(&["down", &lab]).status.success());
    assert!(w.namespaces().is_empty());
}

/// The kernel identity of namespace `name`, as the journal records it.
fn ident_json(name: &str) -> String {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let f = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
    let meta = f.metadata().unwrap();
    let mut id: u64 = 0;
    // SAFETY: NS_GET_ID writes one u64 to the pointer given.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), 0x8008_b70d, &mut id as *mut u64) };
    assert_eq!(rc, 0, "NS_GET_ID");
    format!(r#"{{"dev":{},"ino":{},"id":{id}}}"#, meta.dev(), meta.ino())
}

#[test]
fn routes_and_addresses_someone_else_added_are_never_the_labs() {
    if !root_or_skip() {
        return;
    }
    // A journal that claims the decoy's own route and address, under their
    // very keys and in the very namespace (its true identity): what a run
    // killed between its add and the kernel's refusal of it would leave.
    let w = World::new();
    let d = Decoy::new(&w, "keys");
    let state = d.state();
    let id = ident_json(&d.name);
    let p0 = link(&d.name, "p0")["ifindex"].as_u64().unwrap();
    let lab = format!("{}-keys", w.prefix);
    forge(
        &w,
        &lab,
        2,
        &[
            r#"{"op":"begin","pid":1,"guest":"g","args":[],"time":0}"#.to_string(),
            format!(r#"{{"op":"ns-open","ns":"{}","id":{id}}}"#, d.name),
            format!(
                r#"{{"op":"route-add","ns":"{}","destination":"198.51.100.0/24","gateway":"192.0.2.254","oif":{p0},"metric":0}}"#,
                d.name
            ),
            r#"{"op":"done"}"#.to_string(),
            format!(
                r#"{{"op":"addr-add","ns":"{}","link":"p0","index":{p0},"cidr":"192.0.2.1/24"}}"#,
                d.name
            ),
            r#"{"op":"done"}"#.to_string(),
            r#"{"op":"end","outcome":"committed"}"#.to_string(),
        ],
    );
    let status = w.run(&["status", &lab]);
    assert_eq!(status.status.code(), Some(7), "{}", stdout(&status));
    assert!(
        stdout(&status).contains("someone else's"),
        "{}",
        stdout(&status)
    );
    // An attached guest is not handed them either.
    let out = w.run(
        &w.kit_args(
            &lab,
            Some(&format!("[namespaces]\nmodify = [\"{}\"]\n", d.name)),
            &["--attach"],
            &[format!(
                "try del-route {} 198.51.100.0/24 via 192.0.2.254",
                d.name
            )],
        )
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        guest_lines(&out)[0].starts_with("error: "),
        "{:?}",
        guest_lines(&out)
    );
    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(
        d.state(),
        state,
        "the decoy's route and address are its own"
    );
}

#[test]
fn an_ipv6_route_with_metric_0_is_the_kernels_1024() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let d = Decoy::new(&w, "m0");
    let state = d.state();
    let lab = format!("{}-m0", w.prefix);
    let out = w.run_kit(
        &lab,
        Some(&route_policy(&d)),
        &[format!("route {} fd97::/64 via fd99::ff metric 0", d.name)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(d.state(), state);
    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(d.state(), state, "down removed it");
}

#[test]
fn a_rolled_back_attach_that_moved_a_link_leaves_a_lab_down_can_remove() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (a, b) = (w.ns("a"), w.ns("b"));
    let lab = format!("{}-mv2", w.prefix);
    let up = w.run_kit(
        &lab,
        None,
        &[
            format!("ns {a}"),
            format!("bridge {a} br0"),
            format!("macvlan {a} br0 m0 bridge"),
        ],
    );
    assert!(up.status.success(), "{}", stderr(&up));
    let args = w.kit_args(
        &lab,
        None,
        &["--attach"],
        &[
            format!("open {a}"),
            format!("ns {b}"),
            format!("move {a} m0 {b}"),
            "fail boom".into(),
        ],
    );
    let out = w.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert!(w.namespaces().is_empty(), "{:?}", w.namespaces());
}

#[test]
fn a_state_directory_under_another_users_directory_is_refused() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    warm_kit(&w);
    let theirs = w.state_dir.join("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let a = w.ns("a");
    let lab = format!("{}-anc", w.prefix);
    let out = w
        .netwasm()
        .env("NETWASM_STATE_DIR", theirs.join("state"))
        .args(w.kit_args(&lab, None, &[], &[format!("ns {a}")]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("above it"), "{}", stderr(&out));
    assert!(w.namespaces().is_empty());
}

#[test]
fn deleting_what_the_kernel_makes_again_does_not_grow_the_journal() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let a = w.ns("a");
    let lab = format!("{}-lo", w.prefix);
    let mut statements = vec![format!("ns {a}"), format!("up {a} lo")];
    for _ in 0..300 {
        statements.push(format!("del-addr {a} lo 127.0.0.1/8"));
        statements.push(format!("down {a} lo"));
        statements.push(format!("up {a} lo"));
    }
    let out = w.run_kit(&lab, None, &statements);
    assert!(out.status.success(), "{}", stderr(&out));
    let journal =
        std::fs::read_to_string(w.state_dir.join("labs").join(&lab).join("journal")).unwrap();
    let ops: Vec<&str> = journal
        .lines()
        .map(|l| l.split('"').nth(3).unwrap_or(""))
        .collect();
    assert_eq!(ops, ["header", "begin", "ns-create", "end"], "{journal}");
    assert!(w.run(&["down", &lab]).status.success());
}

#[test]
fn an_add_the_journal_never_saw_taken_is_not_the_labs() {
    if !root_or_skip() {
        return;
    }
    // Another lab's route, under the key this lab's journal claims, but
    // with no `done` after its add: a run cut short between its add and
    // the kernel's answer, which may have been EEXIST. `down` leaves it.
    let w = World::new();
    let d = Decoy::new(&w, "intent");
    let n = d.name.clone();
    let victim = format!("{}-victim", w.prefix);
    let out = w.run_kit(
        &victim,
        Some(&route_policy(&d)),
        &[format!("route {n} 10.50.0.0/24 via 192.0.2.254")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let state = d.state();
    let p0 = link(&n, "p0")["ifindex"].as_u64().unwrap();
    let attacker = format!("{}-attacker", w.prefix);
    forge(
        &w,
        &attacker,
        2,
        &[
            r#"{"op":"begin","pid":1,"guest":"g","args":[],"time":0}"#.to_string(),
            format!(r#"{{"op":"ns-open","ns":"{n}","id":{}}}"#, ident_json(&n)),
            format!(
                r#"{{"op":"route-add","ns":"{n}","destination":"10.50.0.0/24","gateway":"192.0.2.254","oif":{p0},"metric":0}}"#
            ),
        ],
    );
    let down = w.run(&["down", &attacker]);
    assert_eq!(down.status.code(), Some(8), "{}", stderr(&down));
    assert!(
        stderr(&down).contains("nothing recorded proves"),
        "{}",
        stderr(&down)
    );
    assert_eq!(d.state(), state, "the victim's route stands");
    assert!(w.run(&["down", &victim]).status.success());
}

#[test]
fn a_macvlan_made_on_the_labs_macvlan_is_recorded_on_its_real_parent() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let d = Decoy::new(&w, "mm");
    let n = d.name.clone();
    let state = d.state();
    let a = w.ns("a");
    let lab = format!("{}-mm", w.prefix);
    let policy = format!(
        "[namespaces]\nmodify = [\"{n}\"]\n[links]\nparents = [{{ namespace = \"{n}\", link = \"p0\" }}]\n"
    );
    let out = w.run_kit(
        &lab,
        Some(&policy),
        &[
            format!("ns {a}"),
            format!("macvlan {n} p0 m bridge {a}"),
            // The kernel makes n on p0, in the decoy.
            format!("macvlan {a} m n bridge {n}"),
            format!("del-link {a} m"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(d.state(), state, "n is in the decoy");
    let down = w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(d.state(), state, "down took n away");
}

#[test]
fn an_attached_run_builds_in_an_opened_namespace_only_under_its_own_policy() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let d = Decoy::new(&w, "att");
    let n = d.name.clone();
    let a = w.ns("a");
    let lab = format!("{}-att", w.prefix);
    let up = w.run_kit(
        &lab,
        Some(&route_policy(&d)),
        &[format!("ns {a}"), format!("veth {a} pa {n} pb")],
    );
    assert!(up.status.success(), "{}", stderr(&up));
    let state = d.state();
    let open_only = format!("[namespaces]\nopen = [\"{n}\"]\n");
    let args = w.kit_args(
        &lab,
        Some(&open_only),
        &["--attach"],
        &[
            format!("open {n}"),
            format!("try addr {n} pb 10.77.0.1/24"),
            format!("try up {n} pb"),
        ],
    );
    let out = w.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    for line in guest_lines(&out) {
        assert!(line.contains("[namespaces] modify"), "{line}");
    }
    assert_eq!(d.state(), state);
    assert!(w.run(&["down", &lab]).status.success());
}
