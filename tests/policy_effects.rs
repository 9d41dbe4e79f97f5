//! The policy judges what a call does, not only what it is: a macvlan
//! that takes its parent over, an address whose prefix routes more than
//! `[routes]` grants, a list that shows links the policy does not grant,
//! a name that the kernel rewrites or that looks like another. Each attack
//! runs the real binary on the real kernel against a namespace the test
//! built ([`Decoy`]) or, for the root namespace, against a [`StandInRoot`]
//! netwasm runs in; the namespace must be exactly as it was afterwards, and
//! each refusal must name what would allow it.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::*;

fn kit() -> PathBuf {
    rust_guest("testkit")
}

/// Runs the testkit as lab `lab` under `policy`, with `netwasm` (from
/// [`World::netwasm`] or [`StandInRoot::netwasm`]), and returns what the
/// guest printed. The run must succeed: every attack is a `try`.
fn run_kit(
    w: &World,
    mut netwasm: Command,
    lab: &str,
    policy: &str,
    statements: &[String],
) -> (Output, Vec<String>) {
    let path = w.state_dir.join(format!("{lab}.toml"));
    std::fs::write(&path, policy).unwrap();
    let out = netwasm
        .args(["run", "--policy", path.to_str().unwrap(), "--lab", lab])
        .arg(kit())
        .arg("--")
        .args(statements)
        .output()
        .expect("run netwasm");
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("[guest] ").map(str::to_string))
        .collect();
    (out, lines)
}

/// `state()` once IPv6 duplicate address detection is over: until then
/// the kernel flags new addresses "tentative", and the flag goes by itself.
fn settled(state: impl Fn() -> Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = state();
        if !s.to_string().contains("\"tentative\"") || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that `state()` is `before` again. The kernel destroys a deleted
/// namespace, and with it the macvlans a lab put in it (and their hold on
/// a parent's promiscuity), a moment after `down` removed its name.
fn assert_back(state: impl Fn() -> Value, before: &Value, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = state();
        if &s == before {
            return;
        }
        if Instant::now() > deadline {
            assert_eq!(&s, before, "{what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn down(out: Output) {
    assert!(out.status.success(), "down: {}", stderr(&out));
}

fn assert_denied(line: &str, hints: &[&str]) {
    assert!(
        line.starts_with("error: denied: "),
        "want a denial, got {line:?}"
    );
    for hint in hints {
        assert!(line.contains(hint), "the denial says {hint:?}: {line}");
    }
}

fn assert_invalid(line: &str, hint: &str) {
    assert!(
        line.starts_with("error: invalid argument: "),
        "want an invalid argument, got {line:?}"
    );
    assert!(line.contains(hint), "the error says {hint:?}: {line}");
}

#[test]
fn passthru_and_bridge_ports_take_over_a_granted_parent() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let decoy = Decoy::new(&w, "up");
    let before = settled(|| decoy.state());
    let (d, own) = (decoy.name.as_str(), w.ns("own"));
    let lab = format!("{}-lab", w.prefix);
    let policy = format!(
        r#"
[namespaces]
create = ["{p}-*"]
open = ["{d}"]

[links]
parents = [{{ namespace = "{d}", link = "p0" }}]
"#,
        p = w.prefix
    );
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &policy,
        &[
            format!("ns {own}"),
            format!("try macvlan {d} p0 pt0 passthru {own}"),
            format!("try macvlan {d} p0 pt1 passthru"),
            format!("try build {d} p0 passthru {own}-b"),
            format!("try macvlan {d} p0 mv0 bridge {own}"),
            format!("try bridge {own} br0"),
            format!("try master {own} mv0 br0"),
            format!("try mac {own} mv0 02:00:00:00:00:42"),
            format!("try mtu {own} mv0 1400"),
            format!("try up {own} mv0"),
        ],
    );
    let manage = format!("add {{ namespace = \"{d}\", link = \"p0\" }} to [links] manage");
    let takeover = format!("takes over link \"p0\" in namespace \"{d}\"");
    for (i, what) in [
        (0, "create macvlan \"pt0\" in mode passthru"),
        (1, "create macvlan \"pt1\" in mode passthru"),
        (2, "create macvlan \"eth0\" in mode passthru"),
    ] {
        assert_denied(&lines[i], &[what, &takeover, &manage]);
    }
    assert_eq!(
        lines[3], "ok",
        "a bridge-mode child is what [links] parents grants"
    );
    assert_eq!(lines[4], "ok");
    assert_denied(
        &lines[5],
        &["a bridge port turns promiscuous", &takeover, &manage],
    );
    assert_eq!(
        &lines[6..9],
        ["ok", "ok", "ok"],
        "the child's own MAC, MTU, state"
    );
    assert!(
        !w.namespaces().contains(&format!("{own}-b")),
        "the refused batch built nothing"
    );
    down(w.run(&["down", &lab]));
    assert_back(|| decoy.state(), &before, "the granted parent is as it was");

    // With the parent in [links] manage, passthru is allowed: the rule is
    // about the parent, not the mode.
    let policy = format!("{policy}manage = [{{ namespace = \"{d}\", link = \"p0\" }}]\n");
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &policy,
        &[
            format!("ns {own}"),
            format!("try macvlan {d} p0 pt0 passthru {own}"),
        ],
    );
    assert_eq!(lines, ["ok"]);
    down(w.run(&["down", &lab]));
    assert_back(|| decoy.state(), &before, "the decoy is as it was");
}

#[test]
fn a_granted_passthru_child_cannot_change_its_parent() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let decoy = Decoy::new(&w, "up");
    let d = decoy.name.as_str();
    ip(&[
        "-n", d, "link", "add", "pt0", "link", "p1", "type", "macvlan", "mode", "passthru",
    ]);
    let before = settled(|| decoy.state());
    let lab = format!("{}-lab", w.prefix);
    // The child is granted to manage, its parent p1 is not.
    let policy = format!(
        r#"
[namespaces]
open = ["{d}"]

[links]
manage = [{{ namespace = "{d}", link = "pt0" }}]
"#
    );
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &policy,
        &[
            format!("try mac {d} pt0 02:00:00:00:00:42"),
            format!("try up {d} pt0"),
        ],
    );
    let manage = format!("add {{ namespace = \"{d}\", link = \"p1\" }} to [links] manage");
    assert_denied(
        &lines[0],
        &[
            "set MAC 02:00:00:00:00:42 on",
            "a passthru macvlan",
            &manage,
        ],
    );
    assert_denied(&lines[1], &["set up", "a passthru macvlan", &manage]);
    down(w.run(&["down", &lab]));
    assert_back(|| decoy.state(), &before, "the decoy is as it was");
}

#[test]
fn root_links_are_never_taken_over() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let stand = StandInRoot::new(&w);
    let before = settled(|| stand.state());
    let own = w.ns("own");
    let lab = format!("{}-lab", w.prefix);
    let policy = format!(
        r#"
[namespaces]
create = ["{p}-*"]

[root]
links = ["eth0"]
"#,
        p = w.prefix
    );
    let (_, lines) = run_kit(
        &w,
        stand.netwasm(&w),
        &lab,
        &policy,
        &[
            "root".into(),
            format!("ns {own}"),
            format!("try macvlan / eth0 pt0 passthru {own}"),
            format!("try build / eth0 passthru {own}-b"),
            format!("try macvlan / eth0 mv0 bridge {own}"),
            format!("try bridge {own} br0"),
            format!("try master {own} mv0 br0"),
        ],
    );
    let never = [
        "takes over link \"eth0\" in the root namespace: never allowed, whatever the policy",
        "the root namespace's links can only be macvlan parents",
    ];
    assert_denied(&lines[0], &never);
    assert_denied(&lines[1], &never);
    assert_eq!(lines[2], "ok", "a bridge-mode child of a root link");
    assert_eq!(lines[3], "ok");
    assert_denied(&lines[4], &never);
    down(stand.run(&w, &["down", &lab]));
    assert_back(|| stand.state(), &before, "the stand-in root is as it was");
}

#[test]
fn addresses_are_refused_for_the_networks_and_routes_they_imply() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let decoy = Decoy::new(&w, "up");
    let before = settled(|| decoy.state());
    let (d, own) = (decoy.name.as_str(), w.ns("own"));
    let lab = format!("{}-lab", w.prefix);
    let policy = format!(
        r#"
[namespaces]
create = ["{p}-*"]
open = ["{d}"]

[links]
manage = [{{ namespace = "{d}", link = "p0" }}]

[addresses]
allow = ["172.16.10.0/24", "fd00::/64"]

[routes]
destinations = ["10.0.0.0/8", "fd00::/64"]
"#,
        p = w.prefix
    );
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &policy,
        &[
            format!("try addr {d} p0 172.16.10.9/1"),
            format!("try addr {d} p0 fd00::5/0"),
            format!("try addr {d} p0 172.16.10.9/24"),
            format!("ns {own}"),
            format!("try build {d} p0 bridge {own}-b,ip=172.16.10.9/1"),
            format!("veth {own} v0 {own} v1"),
            format!("try addr {own} v0 172.16.10.9/32"),
            format!("try addr {own} v0 fd00::5/64"),
            format!("try addr {own} v0 fd00::6/128"),
            format!("try addr {own} v0 172.16.10.10/24"),
        ],
    );
    assert_denied(
        &lines[0],
        &[
            "assign address 172.16.10.9/1 (its network 128.0.0.0/1 would be on the link)",
            "add a prefix containing 128.0.0.0/1 to [addresses] allow",
        ],
    );
    assert_denied(
        &lines[1],
        &["add a prefix containing ::/0 to [addresses] allow"],
    );
    let route = [
        "the kernel would add a route to 172.16.10.0/24 out of the link",
        "add a prefix containing 172.16.10.0/24 to [routes] destinations",
    ];
    assert_denied(&lines[2], &route);
    assert_denied(&lines[3], &["128.0.0.0/1 to [addresses] allow"]);
    assert_eq!(
        &lines[4..7],
        ["ok", "ok", "ok"],
        "no route, or a granted one"
    );
    assert_denied(&lines[7], &["172.16.10.0/24 to [routes] destinations"]);
    assert!(!w.namespaces().contains(&format!("{own}-b")));
    down(w.run(&["down", &lab]));
    assert_back(|| decoy.state(), &before, "the managed link is as it was");
}

/// Whether a line the guest printed (not an error) names something the
/// policy does not grant.
fn leaks<'a>(lines: &'a [String], secrets: &[&str]) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| !l.starts_with("error: "))
        .filter(|l| secrets.iter().any(|s| l.contains(s)))
        .collect()
}

#[test]
fn lists_show_only_granted_links() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();

    // The root: only [root] links, and what goes through them.
    let stand = StandInRoot::new(&w);
    let before = settled(|| stand.state());
    let lab = format!("{}-lab", w.prefix);
    let (_, lines) = run_kit(
        &w,
        stand.netwasm(&w),
        &lab,
        "[root]\nlinks = [\"eth0\"]\n",
        &[
            "root".into(),
            "routes /".into(),
            "links /".into(),
            "info / eth0".into(),
            "addrs / eth0".into(),
            "try info / p0".into(),
            "try info / lo".into(),
        ],
    );
    let secrets = [
        "p0",
        "p1",
        " lo ",
        "dev=lo",
        "eth0-peer",
        "192.0.2.",
        "198.51.100.",
        "203.0.113.",
        "fd98:",
        "fd99:",
    ];
    assert_eq!(leaks(&lines, &secrets), Vec::<&String>::new(), "{lines:#?}");
    let routes: Vec<&String> = lines.iter().filter(|l| l.starts_with("route ")).collect();
    assert!(
        routes.iter().any(|l| l.starts_with("route 10.99.0.0/24 ")),
        "{lines:#?}"
    );
    assert!(
        routes.iter().all(|l| l.contains(" dev=eth0 ")),
        "{routes:#?}"
    );
    let links: Vec<&String> = lines.iter().filter(|l| l.starts_with("link ")).collect();
    assert_eq!(links.len(), 1, "{links:#?}");
    assert!(links[0].contains(" eth0 kind=veth ") && links[0].contains(" parent=@ "));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("info eth0 kind=veth ") && l.contains(" parent=@ "))
    );
    assert!(lines.iter().any(|l| l.starts_with("address 10.99.0.2/24 ")));
    assert_denied(&lines[lines.len() - 2], &["add \"p0\" to [root] links"]);
    assert_denied(&lines[lines.len() - 1], &["add \"lo\" to [root] links"]);
    down(stand.run(&w, &["down", &lab]));
    assert_back(|| stand.state(), &before, "the stand-in root is as it was");

    // A granted namespace: only the links [links] names, and what goes
    // through them.
    let decoy = Decoy::new(&w, "up");
    let before = settled(|| decoy.state());
    let d = decoy.name.as_str();
    let policy = format!(
        "[namespaces]\nopen = [\"{d}\"]\n\n[links]\nparents = [{{ namespace = \"{d}\", link = \"p0\" }}]\n"
    );
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &policy,
        &[
            format!("routes {d}"),
            format!("links {d}"),
            format!("neigh {d}"),
            format!("info {d} p0"),
            format!("try info {d} p1"),
            format!("try addrs {d} lo"),
            format!("try route {d} 10.0.0.0/8 dev p1"),
        ],
    );
    assert_eq!(
        leaks(&lines, &["p1", " lo ", "dev=lo"]),
        Vec::<&String>::new(),
        "{lines:#?}"
    );
    let routes: Vec<&String> = lines.iter().filter(|l| l.starts_with("route ")).collect();
    assert!(
        routes
            .iter()
            .any(|l| l.starts_with("route 198.51.100.0/24 via=192.0.2.254 dev=p0 ")),
        "{lines:#?}"
    );
    assert!(routes.iter().all(|l| l.contains(" dev=p0 ")), "{routes:#?}");
    let links: Vec<&String> = lines.iter().filter(|l| l.starts_with("link ")).collect();
    assert_eq!(links.len(), 1, "{links:#?}");
    assert!(
        links[0].contains(" p0 kind=veth ") && links[0].contains(" parent=@ "),
        "the peer is not named: {}",
        links[0]
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.starts_with("neigh "))
            .all(|l| l.ends_with(" p0"))
    );
    let n = lines.len();
    let grant = format!("add {{ namespace = \"{d}\", link = \"p1\" }} to [links] parents");
    assert_denied(&lines[n - 3], &[&grant, "[links] manage"]);
    assert_denied(&lines[n - 2], &["link = \"lo\" } to [links] parents"]);
    assert_denied(&lines[n - 1], &[&grant]);
    down(w.run(&["down", &lab]));
    assert_back(|| decoy.state(), &before, "the decoy is as it was");
}

#[test]
fn names_that_expand_or_spoof_are_refused() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let decoy = Decoy::new(&w, "up");
    let before = settled(|| decoy.state());
    let (p, own) = (w.prefix.as_str(), w.ns("own"));
    let lab = format!("{p}-lab");
    let policy = format!("[namespaces]\ncreate = [\"{p}-*\"]\n");
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &policy,
        &[
            format!("try ns {p}-%d"),
            format!("try ns {p}-a\u{202e}b"),
            format!("try ns {p}-\u{200b}x"),
            format!("try ns {p}-\u{3164}"),
            format!("try ns {p}-\u{435}th"),
            format!("try nsall {p}-fine {p}-x%s"),
            format!("try open {}\u{200d}", decoy.name),
            format!("ns {own}"),
            format!("try bridge {own} mv%d"),
            format!("try bridge {own} e\u{200b}th0"),
            format!("try veth {own} \u{202e}a {own} b"),
            format!("try bridge {own} \u{ff45}th0"),
            format!("veth {own} v0 {own} v1"),
            format!("try build {own} v0 bridge {p}-u\u{2066}"),
            format!("try macvlan {own} v0 mv%d bridge"),
        ],
    );
    let hints = [
        "'%'",
        "U+202E, a bidirectional control",
        "U+200B, an invisible",
        "U+3164, an invisible",
        "mixes letters of different scripts",
        "'%'",
        "U+200D, an invisible",
        "'%'",
        "U+200B, an invisible",
        "U+202E, a bidirectional control",
        "NFKC",
        "U+2066, a bidirectional control",
        "'%'",
    ];
    assert_eq!(lines.len(), hints.len(), "{lines:#?}");
    for (line, hint) in lines.iter().zip(hints) {
        assert_invalid(line, hint);
    }
    let mut made = w.namespaces();
    made.sort();
    let mut want = [decoy.name.clone(), own.clone()];
    want.sort();
    assert_eq!(made, want, "nothing else was created");
    let mut names: Vec<String> = ip_json(Some(&own), &["link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["ifname"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["lo", "v0", "v1"],
        "no link was created but v0 and v1"
    );
    down(w.run(&["down", &lab]));
    assert_back(|| decoy.state(), &before, "the decoy is as it was");

    // A policy file cannot name such a link either.
    let bad = w.state_dir.join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "[links]\nparents = [\n  {{ namespace = \"{}\", link = \"mv%d\" }},\n]\n",
            decoy.name
        ),
    )
    .unwrap();
    let out = w.run(&[
        "check",
        "--policy",
        bad.to_str().unwrap(),
        kit().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("line 3: [links] parents link: \"mv%d\""),
        "{err}"
    );
}

#[test]
fn an_opened_namespace_is_built_in_only_where_modify_says() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let decoy = Decoy::new(&w, "up");
    let before = settled(|| decoy.state());
    let (d, own) = (decoy.name.as_str(), w.ns("own"));
    let lab = format!("{}-lab", w.prefix);
    // `open` and a parent grant, as in the README's example: the guest may
    // hang macvlans off p0 into its own namespaces, and nothing more there.
    let open = format!(
        "[namespaces]\nopen = [\"{d}\"]\n[links]\nparents = [{{ namespace = \"{d}\", link = \"p0\" }}]\n"
    );
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &open,
        &[
            format!("ns {own}"),
            format!("macvlan {d} p0 mv0 bridge {own}"),
            format!("try veth {d} zzh {own} v1"),
            format!("try bridge {d} br9"),
            format!("try macvlan {d} p0 mv1 bridge"),
            format!("try route {d} 0.0.0.0/1 via 192.0.2.9"),
            format!("try ping {d} 192.0.2.254"),
            format!("veth {own} v0 {own} v2"),
            format!("try move {own} v0 {d}"),
        ],
    );
    assert_eq!(lines.len(), 6, "{lines:#?}");
    for line in &lines {
        assert_denied(line, &[&format!("add \"{d}\" to [namespaces] modify")]);
    }
    assert_back(
        || decoy.state(),
        &before,
        "open alone changed nothing there",
    );
    down(w.run(&["down", &lab]));

    // With `modify`, it builds there, and `down` takes all of it away again.
    let modify = format!("[namespaces]\nmodify = [\"{d}\"]\n");
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &modify,
        &[
            format!("ns {own}"),
            format!("veth {d} zzh {own} v1"),
            format!("route {d} 10.9.0.0/16 via 192.0.2.9"),
            format!("ping {d} 192.0.2.1"),
        ],
    );
    assert!(
        lines.iter().any(|l| l.starts_with("ping 192.0.2.1 ")),
        "{lines:#?}"
    );
    assert_ne!(decoy.state(), before);
    down(w.run(&["down", &lab]));
    assert_back(
        || decoy.state(),
        &before,
        "down removed what the lab built there",
    );
}

#[test]
fn links_the_lab_did_not_make_are_neither_moved_nor_deleted() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let decoy = Decoy::new(&w, "up");
    // A macvlan of the decoy's own, to offer as a parent.
    ip(&[
        "-n",
        &decoy.name,
        "link",
        "add",
        "link",
        "p1",
        "name",
        "mvx",
        "type",
        "macvlan",
        "mode",
        "private",
    ]);
    let before = settled(|| decoy.state());
    let (d, own) = (decoy.name.as_str(), w.ns("own"));
    let lab = format!("{}-lab", w.prefix);
    let policy = format!(
        "[namespaces]\nmodify = [\"{d}\"]\ndelete-opened = true\n[links]\nmanage = [{{ namespace = \"{d}\", link = \"p0\" }}]\nparents = [{{ namespace = \"{d}\", link = \"mvx\" }}]\n"
    );
    let (_, lines) = run_kit(
        &w,
        w.netwasm(),
        &lab,
        &policy,
        &[
            format!("ns {own}"),
            // Moved into a namespace the lab made, it would die with it.
            format!("try move {d} p0 {own}"),
            // Its veth peer p1 would go with it.
            format!("try del-link {d} p0"),
            // mvx is a macvlan: the child would land on p1, not mvx.
            format!("try macvlan {d} mvx child0 bridge {own}"),
        ],
    );
    assert_denied(&lines[0], &["only its own links can be moved or deleted"]);
    assert_denied(&lines[1], &["only its own links can be moved or deleted"]);
    assert_denied(&lines[2], &["itself a macvlan"]);
    down(w.run(&["down", &lab]));
    assert_back(
        || decoy.state(),
        &before,
        "the decoy's links are where they were",
    );
}
