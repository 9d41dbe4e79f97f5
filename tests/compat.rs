//! Guests keep working: a guest built against an earlier `netwasm:lab`
//! runs on this host, and one built against a later version than this host
//! serves is told so in one line.

mod common;

use common::{World, root, stderr, stdout};

/// Every committed fixture (tests/fixtures/testkit-<version>.wasm, built
/// by tests/fixtures/build.sh when that WIT version was current) plans a
/// namespace, a veth pair, an address and an expectation on this host.
#[test]
fn guests_built_against_released_wits_still_run() {
    let w = World::new();
    let dir = root().join("tests").join("fixtures");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    fixtures.sort();
    assert!(
        fixtures.iter().any(|p| p.ends_with("testkit-0.1.0.wasm")),
        "the 0.1.0 fixture is there: {fixtures:?}"
    );
    let (a, b) = (w.ns("a"), w.ns("b"));
    for f in fixtures {
        let out = w.run(&[
            "plan",
            f.to_str().unwrap(),
            "--",
            &format!("ns {a}"),
            &format!("ns {b}"),
            &format!("veth {a} v0 {b} v1"),
            &format!("up {a} v0"),
            &format!("up {b} v1"),
            &format!("addr {a} v0 10.9.0.1/24"),
            &format!("addr {b} v1 10.9.0.2/24"),
            &format!("expect {a} 10.9.0.2 yes"),
        ]);
        assert!(
            out.status.success(),
            "{}: {}\n{}",
            f.display(),
            stdout(&out),
            stderr(&out)
        );
    }
}

/// A component whose `run` does nothing and that imports
/// `netwasm:lab/namespace@VERSION` with a function this host lacks.
fn newer_guest(w: &World, version: &str) -> std::path::PathBuf {
    let text = r#"(component
  (import "netwasm:lab/namespace@VERSION" (instance $ns
    (export "rename" (func (param "name" string)))))
  (core module $m
    (memory (export "memory") 1)
    (func (export "run") (param i32 i32) (result i32) (i32.const 0))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 0)))
  (core instance $i (instantiate $m))
  (func (export "run") (param "args" (list string)) (result (result (error string)))
    (canon lift (core func $i "run") (memory (core memory $i "memory"))
      (realloc (core func $i "realloc"))))
)"#
    .replace("VERSION", version);
    let path = w.state_dir.join(format!("newer-{version}.wasm"));
    std::fs::write(&path, wat::parse_str(&text).unwrap()).unwrap();
    path
}

#[test]
fn a_guest_for_a_newer_wit_is_told_which_version_it_wants() {
    let w = World::new();
    for version in ["0.2.0", "0.1.9"] {
        let guest = newer_guest(&w, version);
        let g = guest.to_str().unwrap();
        let want = format!(
            "it needs netwasm:lab@{version} (it imports `netwasm:lab/namespace@{version}`); this netwasm serves netwasm:lab@0.1.0"
        );
        let out = w.run(&["plan", "--no-cache", g]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(&want), "{err}");
        assert!(!err.contains("wrong type"), "{err}");

        let out = w.run(&["check", "--no-cache", g]);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        assert!(stdout(&out).contains(&want), "{}", stdout(&out));
    }
}
