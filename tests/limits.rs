//! The limits cover what the host does for a guest, not only the guest's
//! own instructions: memory over all of a store's memories and tables
//! (and the random bytes WASI hands out), expectations and their labels,
//! the matrix against the output budget, what the host repeats of the
//! guest's strings, probes a few at a time and never mistaken for
//! "unreachable" when they fail, durations and sizes that cannot
//! overflow, and WASI `exit`.
//!
//! Each attack runs through the real binary on the real kernel, and each
//! test checks the host's own bound (its peak memory, its output, its
//! file descriptors, its time), the exit code and one-line report, and
//! that nothing outside the test's world changed: the machine
//! ([`Snapshot`]) and a namespace the test built ([`Decoy`]).

mod common;

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn hostile() -> PathBuf {
    rust_guest("hostile")
}

/// A run of netwasm as the kernel accounted it.
struct Measured {
    out: Output,
    /// The process's peak resident memory, bytes (`wait4`'s own rusage of
    /// this one child, so sibling tests' processes do not count).
    peak_rss: u64,
    took: Duration,
}

/// Runs `cmd`, collecting its output and its peak resident memory.
// The child is reaped by `wait4`, which `Child` does not know of.
#[allow(clippy::zombie_processes)]
fn measured(mut cmd: Command) -> Measured {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netwasm");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            r.read_to_end(&mut buf).expect("read netwasm's output");
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let mut status = 0;
    // SAFETY: zeroed rusage is valid; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which nothing else waits for.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    Measured {
        out: Output {
            status: std::process::ExitStatus::from_raw(status),
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
        // ru_maxrss is in KiB on Linux.
        peak_rss: usage.ru_maxrss as u64 * 1024,
        took: start.elapsed(),
    }
}

/// A test's world with a decoy beside it, and the machine as it was.
struct Guarded {
    // Dropped before the world, which removes whatever is left under its
    // prefix.
    decoy: Decoy,
    w: World,
    decoy_before: serde_json::Value,
    before: Snapshot,
}

impl Guarded {
    fn new() -> Self {
        let w = World::new();
        let decoy = Decoy::new(&w, "decoy");
        let decoy_before = settled(&decoy);
        Self {
            w,
            decoy,
            decoy_before,
            before: Snapshot::take(),
        }
    }

    /// `netwasm run FLAGS GUEST -- ARGS`, measured.
    fn run(&self, flags: &[&str], guest: &Path, args: &[&str]) -> Measured {
        self.run_with(|_| {}, flags, guest, args)
    }

    /// As [`Guarded::run`], with `setup` applied to the command first.
    fn run_with(
        &self,
        setup: impl FnOnce(&mut Command),
        flags: &[&str],
        guest: &Path,
        args: &[&str],
    ) -> Measured {
        // The guest compiled beforehand (`check` fills the cache): what is
        // measured is the run, not a first compile, whose memory is the
        // compiler's and depends on which test got to the guest first.
        if !flags.contains(&"--no-cache") {
            let _ = self.w.netwasm().arg("check").arg(guest).output();
        }
        let mut cmd = self.w.netwasm();
        cmd.arg("run").args(flags).arg(guest).arg("--").args(args);
        setup(&mut cmd);
        let m = measured(cmd);
        assert!(
            m.out.status.code().is_some(),
            "netwasm died by a signal: {:?}\n{}",
            m.out.status,
            stderr(&m.out)
        );
        m
    }

    /// Nothing outside the world changed, and the world is empty again
    /// (the run was rolled back, or taken down).
    fn assert_untouched(&self) {
        assert_eq!(
            Snapshot::take(),
            self.before,
            "the run changed something outside its world"
        );
        assert_eq!(self.decoy.state(), self.decoy_before, "the decoy changed");
        let left: Vec<String> = self
            .w
            .namespaces()
            .into_iter()
            .filter(|n| *n != self.decoy.name)
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

/// A decoy's state once duplicate address detection is over: until then
/// its IPv6 link-local addresses are tentative and their local routes
/// missing, and they change by themselves while a test runs.
fn settled(decoy: &Decoy) -> serde_json::Value {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let state = decoy.state();
        if !state.to_string().contains("\"tentative\"") {
            return state;
        }
        assert!(Instant::now() < give_up, "the decoy never settled: {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The one line of stderr that reports how the run ended.
fn report_line(out: &Output, what: &str) -> String {
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(what)).collect();
    assert_eq!(lines.len(), 1, "one line with {what:?} in:\n{err}");
    lines[0].to_string()
}

fn assert_limit(out: &Output, limit: &str, value: &str) {
    assert_eq!(out.status.code(), Some(4), "{}", stderr(out));
    report_line(out, &format!("the guest hit its {limit} limit ({value}): "));
    assert!(stderr(out).contains("rolled back"), "{}", stderr(out));
}

/// Writes a component, given as component-model text, into the world.
fn component(w: &World, name: &str, text: &str) -> PathBuf {
    let wasm = wat::parse_str(text).expect("valid component text");
    let path = w.state_dir.join(format!("{name}.wasm"));
    std::fs::write(&path, wasm).unwrap();
    path
}

/// A lab script whose `run` returns ok at once, after instantiating the
/// core module `module` `copies` times: the attack is what instantiation
/// makes the host allocate.
fn instantiating(module: &str, copies: usize) -> String {
    let mut text = format!("(component\n  (core module $attack {module})\n");
    for _ in 0..copies {
        text += "  (core instance (instantiate $attack))\n";
    }
    text += r#"
  (core module $main
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    ;; The result lives at address 0, which is zero: `ok`.
    (func (export "run") (param i32 i32) (result i32) (i32.const 0)))
  (core instance $m (instantiate $main))
  (func (export "run") (param "args" (list string)) (result (result (error string)))
    (canon lift (core func $m "run") (memory (core memory $m "memory"))
      (realloc (core func $m "realloc"))))
)"#;
    text
}

const MIB: u64 = 1 << 20;

/// What netwasm itself may take on top of a guest's memory limit: the
/// runtime, the compiled guest, tokio's threads, a copy of what the guest
/// passes in one call. A debug build peaks at 18 to 22 MiB running a small
/// guest; the attacks below would take hundreds.
const HOST_OVERHEAD: u64 = 48 * MIB;

#[test]
fn many_memories_share_one_memory_limit() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    // Twelve memories of 48 MiB, each filled at instantiation: each alone
    // is under the 64 MiB limit, together they are 576 MiB.
    let filler = "(memory 768)
        (func $fill (memory.fill (i32.const 0) (i32.const 1) (i32.const 50331648)))
        (start $fill)";
    let guest = component(&g.w, "memories", &instantiating(filler, 12));
    let m = g.run(&[], &guest, &[]);
    assert_limit(&m.out, "memory", "64MiB");
    report_line(
        &m.out,
        "it asked for a linear memory of 48MiB, which would bring its linear memories and tables to 96MiB",
    );
    assert!(
        m.peak_rss < 64 * MIB + HOST_OVERHEAD,
        "netwasm took {} MiB",
        m.peak_rss / MIB
    );

    // Tables count at their element size: twelve of 900,000 elements are
    // 82 MiB of pointers.
    let guest = component(&g.w, "tables", &instantiating("(table 900000 funcref)", 12));
    let m = g.run(&[], &guest, &[]);
    assert_limit(&m.out, "memory", "64MiB");
    report_line(&m.out, "it tried to grow a table from 0 to 900000 elements");
    g.assert_untouched();
}

/// A lab script whose `run` asks WASI for `len` random bytes at once.
fn random_bytes(len: u64) -> String {
    r#"(component
  (import "wasi:random/random@0.2.0" (instance $random
    (export "get-random-bytes" (func (param "len" u64) (result (list u8))))))
  (alias export $random "get-random-bytes" (func $get-random-bytes))
  (core module $libc
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (local.get $at) (local.get 3)))
      (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.add (i32.const 1)
          (i32.shr_u (i32.sub (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
            (i32.const 16)))))))
      (local.get $at)))
  (core instance $libc (instantiate $libc))
  (core func $get (canon lower (func $get-random-bytes)
    (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
  (core module $main
    (import "random" "get" (func $get (param i64 i32)))
    (func (export "run") (param i32 i32) (result i32)
      (call $get (i64.const {len}) (i32.const 16))
      (i32.const 0)))
  (core instance $m (instantiate $main
    (with "random" (instance (export "get" (func $get))))))
  (func (export "run") (param "args" (list string)) (result (result (error string)))
    (canon lift (core func $m "run") (memory (core memory $libc "memory"))
      (realloc (core func $libc "realloc"))))
)"#
    .replace("{len}", &len.to_string())
}

#[test]
fn wasi_cannot_make_the_host_allocate_past_the_memory_limit() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    // The host would allocate the bytes before handing them over.
    let guest = component(&g.w, "random", &random_bytes(1 << 30));
    let m = g.run(&[], &guest, &[]);
    assert_limit(&m.out, "memory", "64MiB");
    report_line(&m.out, "it asked WASI for 1GiB of random bytes at once");
    assert!(
        m.peak_rss < 64 * MIB + HOST_OVERHEAD,
        "netwasm took {} MiB",
        m.peak_rss / MIB
    );
    // What fits the limit is handed over (and the guest's memory grows).
    let guest = component(&g.w, "random-ok", &random_bytes(1 << 20));
    let m = g.run(&[], &guest, &[]);
    assert_eq!(m.out.status.code(), Some(0), "{}", stderr(&m.out));
    g.assert_untouched();
}

#[test]
fn instances_memories_and_tables_are_counted() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    for (name, module, copies, limit, value) in [
        ("instances", "", 100, "instances", "64"),
        ("memories", "(memory 1)", 10, "memories", "8"),
        ("tables", "(table 1 funcref)", 20, "tables", "16"),
    ] {
        let guest = component(&g.w, name, &instantiating(module, copies));
        let m = g.run(&[], &guest, &[]);
        assert_limit(&m.out, limit, value);
        assert!(
            stderr(&m.out).contains("(a fixed limit of netwasm)"),
            "{}",
            stderr(&m.out)
        );
    }
    // Several memories in one module (the multi-memory proposal) are
    // refused before anything runs.
    let guest = component(&g.w, "multi", &instantiating("(memory 1) (memory 1)", 1));
    let m = g.run(&[], &guest, &[]);
    assert_eq!(m.out.status.code(), Some(2), "{}", stderr(&m.out));
    report_line(&m.out, "not a valid WebAssembly component");
    g.assert_untouched();
}

#[test]
fn expectations_and_their_labels_are_capped_and_the_matrix_is_budgeted() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    let ns = g.w.ns("flood");
    // Sixteen labels of 16 MiB, then as many expectations as it may state;
    // the matrix must fit in 4 KiB of output with the guest's own lines.
    let m = g.run(
        &["--limit-output", "4KiB"],
        &hostile(),
        &["expect-flood", &ns, "16", "20000"],
    );
    let out = stdout(&m.out);
    assert_eq!(m.out.status.code(), Some(6), "{}{}", out, stderr(&m.out));
    assert!(!out.contains("KEPT"), "a long label was kept:\n{out}");
    assert!(
        out.contains(
            "[guest] long label 15: invalid argument: expectation label of 16777216 bytes: at most 256 allowed"
        ),
        "{out}"
    );
    assert!(
        out.contains("[guest] expectation 9999: limit reached: expect 10.0.0.1 from namespace"),
        "the 10,000th (with the unmet one) is the last:\n{out}"
    );
    assert!(
        out.contains("reachability: 10000 checked, 9999 met, 1 NOT met"),
        "{out}"
    );
    let cut: Vec<&str> = out.lines().filter(|l| l.contains("left out")).collect();
    assert_eq!(cut.len(), 1, "{out}");
    assert!(
        cut[0].contains("of 10000 rows left out: the guest's output limit (4KiB) is spent"),
        "{}",
        cut[0]
    );
    // 4 KiB and the "[guest] " marks of its few lines, and the cut line.
    assert!(out.len() < 5 * 1024, "{} bytes of output", out.len());
    // The verdict does not depend on what was printed.
    report_line(&m.out, "1 reachability expectation was not met");
    assert!(
        m.peak_rss < 64 * MIB + HOST_OVERHEAD,
        "netwasm took {} MiB",
        m.peak_rss / MIB
    );
    g.assert_untouched();
}

#[test]
fn what_the_guest_makes_the_host_repeat_is_clipped() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    let audit = g.w.state_dir.join("audit.jsonl");
    // A 4 MiB namespace name, refused with an error that repeats it, and
    // that error (and 4 MiB more) as the run's error message.
    let m = g.run(
        &["--audit", audit.to_str().unwrap()],
        &hostile(),
        &["shout", "4194304"],
    );
    assert_eq!(m.out.status.code(), Some(1), "{}", stderr(&m.out));
    let err = stderr(&m.out);
    assert!(err.len() < 8 * 1024, "{} bytes on stderr", err.len());
    report_line(
        &m.out,
        "the guest's run failed: invalid argument: namespace name",
    );
    assert!(err.contains("bytes in all)"), "{err}");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.len() < 8 * 1024, "{} bytes of audit log", log.len());
    let line: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(line["op"], "namespace.create");
    assert!(
        line["args"]["name"]
            .as_str()
            .unwrap()
            .ends_with("... (4194304 bytes in all)"),
        "{line}"
    );
    g.assert_untouched();
}

#[test]
fn a_probe_that_fails_is_never_taken_for_unreachable() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    let a = g.w.ns("a");
    // A namespace with a default route: a ping to the broadcast address
    // is refused by the kernel (EACCES, no SO_BROADCAST), not lost.
    let statements = [
        format!("ns {a}"),
        format!("veth {a} v0 {a} v1"),
        format!("addr {a} v0 10.77.0.1/24"),
        format!("up {a} v0"),
        format!("up {a} v1"),
        format!("route {a} default via 10.77.0.2"),
        format!("try ping {a} 255.255.255.255"),
        format!("expect {a} 255.255.255.255 no"),
        "check".to_string(),
    ];
    let kit = rust_guest("testkit");
    let args: Vec<&str> = statements.iter().map(String::as_str).collect();
    let m = g.run(&[], &kit, &args);
    let out = stdout(&m.out);
    assert_eq!(m.out.status.code(), Some(6), "{out}{}", stderr(&m.out));
    assert!(
        out.contains(&format!(
            "[guest] error: permission denied: ping 255.255.255.255 from namespace \"{a}\": Permission denied (EACCES)"
        )),
        "{out}"
    );
    let row = out
        .lines()
        .find(|l| l.contains("255.255.255.255") && !l.starts_with("[guest]"))
        .unwrap_or_else(|| panic!("a matrix row:\n{out}"));
    assert!(row.starts_with(" FAIL "), "{row}");
    assert!(
        row.contains("failed       probe failed: Permission denied (EACCES)"),
        "{row}"
    );
    assert!(out.contains("[guest] checked: 0 met"), "{out}");
    report_line(&m.out, "1 reachability expectation was not met");
    g.assert_untouched();
}

#[test]
fn thousands_of_expectations_are_probed_a_few_at_a_time() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    let ns = g.w.ns("fds");
    // 3000 probes at once would need 3000 sockets; 256 descriptors are
    // plenty for a few at a time.
    let low_fds = |cmd: &mut Command| {
        // SAFETY: setrlimit only, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let l = libc::rlimit {
                    rlim_cur: 256,
                    rlim_max: 256,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    };
    let lab = format!("{}-fds", g.w.prefix);
    let m = g.run_with(
        low_fds,
        &["--lab", &lab],
        &hostile(),
        &["probe-flood", &ns, "3000"],
    );
    let out = stdout(&m.out);
    assert_eq!(
        m.out.status.code(),
        Some(0),
        "{}{}",
        out.lines()
            .filter(|l| l.contains("FAIL"))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n"),
        stderr(&m.out)
    );
    assert!(
        out.contains("reachability: 3000 checked, 3000 met, 0 NOT met"),
        "{}",
        &out[..out.len().min(2000)]
    );
    report_line(&m.out, &format!("lab {lab} is up: 1 namespace"));
    let down = g.w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));
    g.assert_untouched();
}

#[test]
fn probing_at_the_end_of_the_run_counts_against_the_deadline() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    let a = g.w.ns("slow");
    // A thousand expectations of an address on the link that nobody
    // answers: each probe waits a second for replies.
    let mut statements = vec![
        format!("ns {a}"),
        format!("veth {a} v0 {a} v1"),
        format!("addr {a} v0 10.77.0.1/24"),
        format!("up {a} v0"),
        format!("up {a} v1"),
    ];
    statements.extend((0..1000).map(|_| format!("expect {a} 10.77.0.99 no")));
    let args: Vec<&str> = statements.iter().map(String::as_str).collect();
    let m = g.run(&["--limit-deadline", "3s"], &rust_guest("testkit"), &args);
    assert_limit(&m.out, "deadline", "3s");
    assert!(m.took < Duration::from_secs(30), "took {:?}", m.took);
    g.assert_untouched();
}

#[test]
fn durations_and_sizes_are_input_errors_never_panics() {
    let w = World::new();
    let guest = hostile();
    let g = guest.to_str().unwrap();
    let size = "expected a size like 64MiB, 512KiB or 1048576";
    for (flag, value, why) in [
        (
            "--limit-deadline",
            "99999999999999999999",
            "must be between 1ms and 24h",
        ),
        (
            "--limit-deadline",
            "99999999999999999999h",
            "must be between 1ms and 24h",
        ),
        ("--limit-deadline", "25h", "must be between 1ms and 24h"),
        ("--limit-deadline", "0", "must be between 1ms and 24h"),
        (
            "--limit-deadline",
            "1e9s",
            "expected a duration like 60s, 500ms or 5m",
        ),
        ("--limit-memory", "99999999999999999999GiB", size),
        ("--limit-memory", "18446744073709551615GiB", size),
        ("--limit-memory", "5GiB", "must be between 64KiB and 4GiB"),
        ("--limit-output", "2GiB", "must be between 0 bytes and 1GiB"),
        ("--limit-args", "1GiB", "must be between 0 bytes and 16MiB"),
    ] {
        let out = w.run(&["run", flag, value, g, "--", "loop"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flag} {value}: {}",
            stderr(&out)
        );
        assert_eq!(
            stderr(&out),
            format!("netwasm: error: {flag} {value:?}: {why}\n")
        );
    }
    // The same values in a policy, for `run` and `check` alike.
    for (key, value) in [
        ("deadline", "\"99999999999999999999\""),
        ("deadline", "\"25h\""),
        ("memory", "\"99999999999999999999GiB\""),
        ("output", "\"2GiB\""),
        ("fuel", "99999999999999999999"),
    ] {
        let policy = w.state_dir.join("limits.toml");
        std::fs::write(&policy, format!("[limits]\n{key} = {value}\n")).unwrap();
        let p = policy.to_str().unwrap();
        for cmd in [
            vec!["run", "--policy", p, g],
            vec!["check", "--policy", p, g],
        ] {
            let out = w.run(&cmd);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{key} {value}: {}",
                stderr(&out)
            );
            let err = stderr(&out);
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.starts_with(&format!("netwasm: error: policy {p} line 2: ")),
                "{err}"
            );
        }
    }
    assert!(w.namespaces().is_empty());
}

#[test]
fn wasi_exit_ends_the_run_like_a_return() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    let ns = g.w.ns("exit");
    let lab = format!("{}-exit", g.w.prefix);
    let flags = ["--lab", lab.as_str()];

    // exit(0): committed, with its expectations checked.
    let m = g.run(&flags, &hostile(), &["exit", &ns, "0", "ok"]);
    assert_eq!(m.out.status.code(), Some(0), "{}", stderr(&m.out));
    report_line(&m.out, &format!("lab {lab} is up: 1 namespace"));
    assert!(
        stdout(&m.out).contains("reachability: 1 checked, 1 met, 0 NOT met"),
        "{}",
        stdout(&m.out)
    );
    assert_eq!(g.w.namespaces().iter().filter(|n| **n == ns).count(), 1);
    let down = g.w.run(&["down", &lab]);
    assert!(down.status.success(), "{}", stderr(&down));

    // exit(0) with an unmet expectation: as a return would, exit 6.
    let m = g.run(&flags, &hostile(), &["exit", &ns, "0", "unmet"]);
    assert_eq!(m.out.status.code(), Some(6), "{}", stderr(&m.out));
    report_line(&m.out, "1 reachability expectation was not met");

    // exit(3): the guest's failure (WASI 0.2 carries only failure: 1).
    let m = g.run(&flags, &hostile(), &["exit", &ns, "3", "ok"]);
    assert_eq!(m.out.status.code(), Some(1), "{}", stderr(&m.out));
    report_line(
        &m.out,
        &format!("lab {lab}: the guest exited with status 1"),
    );
    assert!(!stderr(&m.out).contains("backtrace"), "{}", stderr(&m.out));
    assert!(stderr(&m.out).contains("rolled back"));
    g.assert_untouched();
}

/// A guest's trap: exit 4, rolled back, reported in one line that starts
/// with `the guest trapped: {what}`, and nothing on stderr but netwasm's
/// own one-line messages (no backtrace).
fn assert_trapped(out: &Output, what: &str) {
    assert_eq!(out.status.code(), Some(4), "{}", stderr(out));
    report_line(out, &format!("the guest trapped: {what}"));
    assert_one_line_messages(out);
    assert!(stderr(out).contains("rolled back"), "{}", stderr(out));
}

/// Every line on stderr is one of netwasm's own (`netwasm: ...`): no
/// backtrace or continuation line.
fn assert_one_line_messages(out: &Output) {
    let err = stderr(out);
    for line in err.lines() {
        assert!(
            line.starts_with("netwasm: "),
            "a stray line {line:?} in:\n{err}"
        );
    }
    assert!(!err.contains("backtrace"), "{err}");
}

/// A lab script whose `run` returns, as its `result<_, string>`, the
/// bytes `result` (the canonical ABI's layout: a discriminant byte, then
/// the error string's address and length at offset 4), with `data` at
/// address 64.
fn returning(result: &str, data: &str) -> String {
    r#"(component
  (core module $main
    (memory (export "memory") 1)
    (data (i32.const 16) "{result}")
    (data (i32.const 64) "{data}")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    (func (export "run") (param i32 i32) (result i32) (i32.const 16)))
  (core instance $m (instantiate $main))
  (func (export "run") (param "args" (list string)) (result (result (error string)))
    (canon lift (core func $m "run") (memory (core memory $m "memory"))
      (realloc (core func $m "realloc"))))
)"#
    .replace("{result}", result)
    .replace("{data}", data)
}

#[test]
fn what_the_guest_hands_the_host_that_cannot_be_read_is_its_trap() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    // Arguments of a host call.
    for (how, what) in [
        (
            "out-of-bounds",
            "string pointer/length out of bounds of memory",
        ),
        ("utf8", "invalid utf-8 sequence"),
    ] {
        let m = g.run(&[], &hostile(), &["bad-string", how]);
        assert_trapped(&m.out, what);
    }
    // The result of `run` itself: a discriminant that is neither ok nor
    // err, and error strings that cannot be read.
    for (name, result, data, what) in [
        ("discriminant", "\\02", "", "invalid expected discriminant"),
        (
            "past-memory",
            "\\01\\00\\00\\00\\f0\\ff\\ff\\ff\\40\\00\\00\\00",
            "",
            "string pointer/length out of bounds of memory",
        ),
        (
            "not-utf8",
            "\\01\\00\\00\\00\\40\\00\\00\\00\\03\\00\\00\\00",
            "a\\ff\\fe",
            "invalid utf-8 sequence",
        ),
    ] {
        let guest = component(&g.w, name, &returning(result, data));
        let m = g.run(&[], &guest, &[]);
        assert_trapped(&m.out, what);
    }
    g.assert_untouched();
}

/// A lab script whose `run` writes `len` bytes to stdout with one WASI
/// `blocking-write-and-flush`, which allows at most 4096 at once.
fn blocking_write(len: usize) -> String {
    r#"(component
  (import "wasi:io/error@0.2.0" (instance $error
    (export "error" (type (sub resource)))))
  (alias export $error "error" (type $error-type))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer 1 $error-type (type $err))
    (export "error" (type $error (eq $err)))
    (export "output-stream" (type $output-stream (sub resource)))
    (type $stream-error (variant
      (case "last-operation-failed" (own $error))
      (case "closed")))
    (export "stream-error" (type $se (eq $stream-error)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $output-stream)) (param "contents" (list u8))
        (result (result (error $se)))))))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output-stream (type $os))
    (export "output-stream" (type $out (eq $os)))
    (export "get-stdout" (func (result (own $out))))))
  (alias export $streams "[method]output-stream.blocking-write-and-flush" (func $write))
  (alias export $stdout "get-stdout" (func $get-stdout))
  (core module $libc
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 32768)))
  (core instance $libc (instantiate $libc))
  (core func $get-stdout (canon lower (func $get-stdout)))
  (core func $write (canon lower (func $write) (memory (core memory $libc "memory"))))
  (core module $main
    (import "wasi" "get-stdout" (func $get-stdout (result i32)))
    (import "wasi" "write" (func $write (param i32 i32 i32 i32)))
    (func (export "run") (param i32 i32) (result i32)
      (call $write (call $get-stdout) (i32.const 1024) (i32.const {len}) (i32.const 16))
      (i32.const 0)))
  (core instance $m (instantiate $main
    (with "wasi" (instance
      (export "get-stdout" (func $get-stdout))
      (export "write" (func $write))))))
  (func (export "run") (param "args" (list string)) (result (result (error string)))
    (canon lift (core func $m "run") (memory (core memory $libc "memory"))
      (realloc (core func $libc "realloc"))))
)"#
    .replace("{len}", &len.to_string())
}

#[test]
fn a_misuse_of_wasi_is_the_guests_trap() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    let guest = component(&g.w, "write", &blocking_write(5000));
    let m = g.run(&[], &guest, &[]);
    assert_trapped(
        &m.out,
        "Buffer too large for blocking-write-and-flush (expected at most 4096)",
    );
    // Within what WASI allows, the same write is shown.
    let guest = component(&g.w, "write-ok", &blocking_write(4000));
    let m = g.run(&[], &guest, &[]);
    assert_eq!(m.out.status.code(), Some(0), "{}", stderr(&m.out));
    g.assert_untouched();
}

#[test]
fn what_one_host_call_copies_is_bounded_by_the_memory_limit() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    // Four million empty names: 32 MiB in the guest's memory, but a
    // `String` of 24 bytes each, 96 MiB, once lifted on the host.
    let m = g.run(&[], &hostile(), &["lift", "4000000"]);
    assert_limit(&m.out, "memory", "64MiB");
    report_line(&m.out, "it passed the host more than 64MiB in one call");
    assert_one_line_messages(&m.out);
    assert!(
        m.peak_rss < 64 * MIB + HOST_OVERHEAD,
        "netwasm took {} MiB",
        m.peak_rss / MIB
    );
    // Past the engine's own default of 128 MiB in one call, with a memory
    // limit that allows it: the call goes through to the lab.
    let m = g.run(
        &["--limit-memory", "1GiB"],
        &hostile(),
        &["lift", "6000000"],
    );
    assert_limit(&m.out, "handles", "10000");
    assert_one_line_messages(&m.out);
    g.assert_untouched();
}

/// A lab script that makes resources of its own until something stops
/// it: handles the host keeps for it without a host call.
const OWN_RESOURCES: &str = r#"(component
  (type $r (resource (rep i32)))
  (core func $new (canon resource.new $r))
  (core module $main
    (import "" "new" (func $new (param i32) (result i32)))
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024))
    (func (export "run") (param i32 i32) (result i32)
      (loop $more (drop (call $new (i32.const 0))) (br $more))
      (i32.const 0)))
  (core instance $m (instantiate $main (with "" (instance (export "new" (func $new))))))
  (func (export "run") (param "args" (list string)) (result (result (error string)))
    (canon lift (core func $m "run") (memory (core memory $m "memory"))
      (realloc (core func $m "realloc"))))
)"#;

#[test]
fn handles_are_netwasms_limit_whatever_holds_them() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    // More namespace handles than the engine allows a store by default
    // (100,000): netwasm's own limit is the one met.
    let ns = g.w.ns("hoard");
    let m = g.run(
        &["--limit-handles", "200000"],
        &hostile(),
        &["handles", &ns],
    );
    assert_limit(&m.out, "handles", "200000");
    report_line(&m.out, "it tried to hold one more namespace or link handle");
    assert_one_line_messages(&m.out);
    // Resources of the guest's own: the same limit, counted with them.
    let guest = component(&g.w, "own", OWN_RESOURCES);
    let m = g.run(&[], &guest, &[]);
    assert_limit(&m.out, "handles", "10000");
    report_line(&m.out, "component-model handles at once");
    assert_one_line_messages(&m.out);
    g.assert_untouched();
}

#[test]
fn the_output_limit_counts_what_is_printed() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    // A million newlines would print nine million bytes ("[guest] " and
    // the newline each), a million 0x01 five million ("\u{1}" each).
    for byte in ["10", "1"] {
        let m = g.run(
            &["--limit-output", "1MiB"],
            &hostile(),
            &["spray", byte, "1000000"],
        );
        assert_limit(&m.out, "output", "1MiB");
        assert_one_line_messages(&m.out);
        assert!(
            m.out.stdout.len() as u64 <= MIB,
            "byte {byte}: {} bytes printed",
            m.out.stdout.len()
        );
        assert!(
            m.out.stdout.len() as u64 > MIB - 64 * 1024,
            "byte {byte}: the budget is used, not wasted: {} bytes printed",
            m.out.stdout.len()
        );
    }
    // What fits is printed whole, and the run goes on.
    let m = g.run(
        &["--limit-output", "1MiB"],
        &hostile(),
        &["spray", "10", "100000"],
    );
    assert_eq!(m.out.status.code(), Some(0), "{}", stderr(&m.out));
    assert_eq!(m.out.stdout.len(), 900_000);
    g.assert_untouched();
}

/// Files netwasm writes cannot grow past `bytes` (RLIMIT_FSIZE, with its
/// signal ignored: writes past it fail with EFBIG).
fn files_up_to(bytes: u64) -> impl FnOnce(&mut Command) {
    move |cmd: &mut Command| {
        // SAFETY: signal and setrlimit only, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let l = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &l) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

#[test]
fn a_failure_of_netwasm_itself_is_still_an_internal_error() {
    if !root_or_skip() {
        return;
    }
    let g = Guarded::new();
    let kit = rust_guest("testkit");
    let many = format!("many 20 {}", g.w.ns("j"));
    // The engine cannot write the guest's memory image (a few KiB): the
    // system refused netwasm, before the guest ran.
    let m = g.run_with(files_up_to(4096), &["--no-cache"], &kit, &[&many]);
    assert_eq!(m.out.status.code(), Some(9), "{}", stderr(&m.out));
    report_line(
        &m.out,
        "netwasm failed while running the guest: cannot set the guest up: File too large",
    );
    assert_one_line_messages(&m.out);
    // The journal cannot grow past 64 KiB, and the run's arguments (which
    // its first entry records) take nearly all of it: the host cannot
    // record the namespaces the guest asks for.
    let pad = format!("# {}", "x".repeat(64_000));
    let m = g.run_with(files_up_to(64 << 10), &["--no-cache"], &kit, &[&many, &pad]);
    assert_eq!(m.out.status.code(), Some(9), "{}", stderr(&m.out));
    report_line(
        &m.out,
        "netwasm failed while running the guest: lab testkit: cannot write its journal: File too large",
    );
    assert_one_line_messages(&m.out);
    g.assert_untouched();
}
