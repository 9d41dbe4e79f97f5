//! Bad input to `netwasm run`: one clear line, a distinct exit code, and
//! nothing created.

mod common;

use std::process::Output;

use common::*;

/// The single `netwasm: error:` line of a failed command.
fn error_line(out: &Output) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("netwasm: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one error line expected:\n{err}");
    lines[0].to_string()
}

fn assert_nothing_created(w: &World, before: &[String]) {
    assert_eq!(
        w.namespaces(),
        Vec::<String>::new(),
        "no namespace was created"
    );
    assert_eq!(foreign_namespaces(), before, "no namespace was created");
}

#[test]
fn help_is_documentation() {
    let w = World::new();
    let out = w.run(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for needle in ["run", "down", "status", "Exit codes", "sandbox"] {
        assert!(text.contains(needle), "--help mentions {needle}:\n{text}");
    }
    let out = w.run(&["run", "--help"]);
    let text = stdout(&out);
    for needle in [
        "--policy",
        "--attach",
        "--keep-on-error",
        "--audit",
        "--limit-memory",
        "GUEST",
    ] {
        assert!(
            text.contains(needle),
            "run --help mentions {needle}:\n{text}"
        );
    }
}

#[test]
fn missing_file() {
    let w = World::new();
    let before = foreign_namespaces();
    let out = w.run(&["run", "/nonexistent/lab.wasm", "--", "up", &w.prefix]);
    assert_eq!(out.status.code(), Some(2));
    let line = error_line(&out);
    assert!(
        line.contains("/nonexistent/lab.wasm: cannot read"),
        "{line}"
    );
    assert_nothing_created(&w, &before);
}

#[test]
fn not_wasm_and_core_module() {
    let w = World::new();
    let before = foreign_namespaces();
    let text = w.state_dir.join("notes.wasm");
    std::fs::write(&text, "this is not wasm\n").unwrap();
    let out = w.run(&["run", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        error_line(&out).contains("not a WebAssembly file"),
        "{}",
        stderr(&out)
    );

    // The smallest core module: magic, version 1.
    let core = w.state_dir.join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let out = w.run(&["run", core.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let line = error_line(&out);
    assert!(
        line.contains("a core WebAssembly module, not a component"),
        "{line}"
    );
    assert_nothing_created(&w, &before);
}

#[test]
fn component_of_another_world() {
    let w = World::new();
    let before = foreign_namespaces();
    let guest = rust_guest("wrong-world");
    let out = w.run(&["run", guest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(
        line.contains("is not a netwasm lab: it does not export `run"),
        "{line}"
    );
    assert!(
        line.contains("wasi:cli/run"),
        "names what it does export: {line}"
    );
    assert_nothing_created(&w, &before);
}

#[test]
fn guest_error_is_shown_and_rolled_back() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = foreign_namespaces();
    let seed = seed_guest();
    let out = w.run(&["run", seed.to_str().unwrap(), "--", "sideways"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the guest's run failed: usage: up PREFIX"),
        "{}",
        stderr(&out)
    );

    // A guest that fails after building something: all of it is undone.
    let kit = rust_guest("testkit");
    let a = w.ns("a");
    let out = w.run(&[
        "run",
        kit.to_str().unwrap(),
        "--",
        &format!("ns {a}"),
        "bridge x",
        "fail the second step broke",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("rolled back: undid namespace"), "{err}");
    assert_nothing_created(&w, &before);
}

#[test]
fn kernel_refusal_names_object_operation_and_errno() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = foreign_namespaces();
    let kit = rust_guest("testkit");
    let a = w.ns("a");
    // A macvlan cannot have a larger MTU than its parent: the kernel says EINVAL.
    let out = w.run(&[
        "run",
        kit.to_str().unwrap(),
        "--",
        &format!("ns {a}"),
        &format!("veth {a} p0 {a} p1"),
        &format!("macvlan {a} p0 mv0 bridge"),
        &format!("mtu {a} mv0 9000"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "kernel: set mtu 9000 on link \"mv0\" in namespace \"{a}\": Invalid argument (EINVAL)"
        )),
        "{err}"
    );
    assert_nothing_created(&w, &before);
}

#[test]
fn missing_privileges_are_named() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let before = foreign_namespaces();
    let seed = seed_guest();
    // Run as an unprivileged user: no capabilities at all.
    std::fs::set_permissions(
        &w.state_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_netwasm"))
        .args(["run", "--no-cache", "--state-dir"])
        .arg(&w.state_dir)
        .args([seed.to_str().unwrap(), "--", "up", &w.prefix])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let line = error_line(&out);
    assert!(
        line.contains("CAP_SYS_ADMIN (to create, name and enter network namespaces)"),
        "{line}"
    );
    assert!(line.contains("CAP_NET_ADMIN"), "{line}");
    assert_nothing_created(&w, &before);
}

#[test]
fn argument_errors_are_one_line_naming_the_argument() {
    let w = World::new();
    let guest = w.state_dir.join("lab.wasm");
    let g = guest.to_str().unwrap();
    for (args, says) in [
        (
            vec!["run", "--lab", "../x", g],
            "invalid value '../x' for '--lab <NAME>': lab name \"../x\"",
        ),
        (
            vec!["run", "--bogus", g],
            "unexpected argument '--bogus' found; tip: to pass '--bogus' as a value, use '-- --bogus'",
        ),
        (
            vec!["run"],
            "the following required arguments were not provided: <GUEST>",
        ),
        (
            vec!["run", "--limit-handles", "many", g],
            "invalid value 'many' for '--limit-handles <N>'",
        ),
        (
            vec!["run", "--replace", "--attach", g],
            "the argument '--replace' cannot be used with '--attach'",
        ),
        (
            vec!["graph", "lab", "-f", "png"],
            "invalid value 'png' for '--format <FORMAT>'",
        ),
        (vec!["rnu", g], "unrecognized subcommand 'rnu'"),
        (
            vec![],
            "no command given (one of: run, up, plan, check, down, ls, status, show, graph, probe, exec, cache)",
        ),
        // What the user typed is shown, not obeyed: a newline in a value
        // does not start a line of its own.
        (
            vec!["run", "--lab", "x\nnetwasm: error: forged", g],
            "invalid value 'x\\nnetwasm: error: forged' for '--lab <NAME>'",
        ),
    ] {
        let out = w.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: one line:\n{err}");
        assert!(
            err.starts_with(&format!("netwasm: error: {says}")),
            "{args:?}: {err}"
        );
        let command = if args.first() == Some(&"graph") || args.first() == Some(&"run") {
            format!("netwasm {}", args[0])
        } else {
            "netwasm".to_string()
        };
        assert!(
            err.ends_with(&format!("; see '{command} --help'\n")),
            "{args:?}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
    // A guest's arguments without `--` before them: the line gives the
    // command as it should have been typed.
    let out = w.run(&["run", "--lab", "x", g, "up", "demo"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "netwasm: error: unexpected argument 'up'; guest arguments go after --: netwasm run --lab x {g} -- up demo\n"
        )
    );
}

#[test]
fn help_and_version_are_not_errors() {
    let w = World::new();
    for args in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["help", "run"],
        vec!["--version"],
    ] {
        let out = w.run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
        assert!(!stdout(&out).is_empty(), "{args:?}");
    }
    let out = w.run(&["--version"]);
    assert!(stdout(&out).starts_with("netwasm "), "{}", stdout(&out));
}

#[test]
fn output_that_cannot_be_written_is_one_line_not_a_panic() {
    let w = World::new();
    // A full device: the listing cannot be written.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let out = w
        .netwasm()
        .args(["ls"])
        .stdout(full)
        .output()
        .expect("run netwasm");
    assert_ne!(out.status.code(), Some(101), "{}", stderr(&out));
    // An empty state directory lists nothing: nothing to fail on is fine
    // too; when something is written it must fail in one line.
    if !out.status.success() {
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(
            stderr(&out).starts_with("netwasm: error: "),
            "{}",
            stderr(&out)
        );
    }
    let seed = seed_guest();
    let out = w.run(&["check", seed.to_str().unwrap()]);
    assert!(out.status.success());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = w
        .netwasm()
        .args(["check", seed.to_str().unwrap()])
        .stdout(full)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(101), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot write to standard output"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_audit_log_that_cannot_be_made_is_bad_input() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let seed = seed_guest();
    let out = w.run(&[
        "run",
        "--audit",
        "/proc/nonexistent/audit.jsonl",
        seed.to_str().unwrap(),
        "--",
        "up",
        &w.prefix,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // (A first run in a fresh checkout also says it compiled the guest.)
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("netwasm: compiled "))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("audit log"), "{err}");
    assert!(w.namespaces().is_empty());
}
