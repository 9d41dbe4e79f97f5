//! The seed macvlan lab written in Python, JavaScript and C (issue 6): each
//! guest is built from source by its example's `build.sh`, run with the real
//! `netwasm` under the default policy, and must leave the kernel in exactly
//! the state the Rust guest leaves (apart from the names' prefix, MAC
//! addresses and interface indexes), then tear it all down again.
//!
//! The tools come from `scripts/install-guest-tools.sh`. A build script
//! exits 127 when a tool is missing: that fails the test in CI and skips it,
//! with a message, elsewhere.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use common::seed_state::{SUFFIXES, lab_state};
use common::{World, root, root_or_skip, seed_guest, stderr, stdout};

/// The modes the tests run each guest in.
const MODES: [&str; 2] = ["vepa", "bridge"];

/// Builds the guest of `examples/DIR` with its `build.sh` and returns the
/// component's path (the script's last line of output); `None` when a tool
/// is missing outside CI.
fn build(dir: &str) -> Option<PathBuf> {
    let script = root().join("examples").join(dir).join("build.sh");
    let started = std::time::Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    if out.status.code() == Some(127) {
        let why = format!(
            "{dir}: a build tool is missing (see above); run scripts/install-guest-tools.sh"
        );
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        eprintln!("SKIPPED: {why}");
        return None;
    }
    assert!(
        out.status.success(),
        "{} failed: {:?}",
        script.display(),
        out.status
    );
    let text = stdout(&out);
    let path = PathBuf::from(text.lines().last().unwrap_or_default().trim());
    assert!(
        path.is_file(),
        "{} did not produce a component (printed {text:?})",
        script.display()
    );
    eprintln!(
        "{dir}: built {} in {:.1?}",
        path.display(),
        started.elapsed()
    );
    Some(path)
}

/// Runs `up PREFIX MODE` with `guest` in a fresh world and returns the
/// world (still up) after checking the run succeeded.
fn up(guest: &Path, mode: &str) -> World {
    let world = World::new();
    let out = world.run(&[
        "run",
        guest.to_str().unwrap(),
        "--",
        "up",
        &world.prefix,
        mode,
    ]);
    assert!(
        out.status.success(),
        "{} up {mode} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        guest.display(),
        out.status,
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        world.namespaces().len(),
        SUFFIXES.len(),
        "{}: namespaces after up",
        guest.display()
    );
    world
}

/// Tears the world's lab down with the guest's own `down` (attached to the
/// lab that is up) and checks that nothing is left: no namespace, no ledger.
fn down(world: &World, guest: &Path) {
    let out = world.run(&[
        "run",
        "--attach",
        guest.to_str().unwrap(),
        "--",
        "down",
        &world.prefix,
    ]);
    assert!(
        out.status.success(),
        "{} down failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        guest.display(),
        out.status,
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        world.namespaces(),
        Vec::<String>::new(),
        "{}: namespaces left after down",
        guest.display()
    );
    let ls = world.run(&["ls"]);
    assert!(ls.status.success());
    assert!(
        stdout(&ls).trim().is_empty(),
        "{}: a lab is still recorded after down:\n{}",
        guest.display(),
        stdout(&ls)
    );
}

/// The state the Rust seed guest leaves in `mode`, computed once per test
/// process and checked against the chapter's topology on the way.
fn reference(mode: &str) -> Value {
    static REFERENCE: OnceLock<Mutex<HashMap<String, Value>>> = OnceLock::new();
    let mut cache = REFERENCE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(v) = cache.get(mode) {
        return v.clone();
    }
    let guest = seed_guest();
    let world = up(&guest, mode);
    let state = lab_state(&world.prefix);
    down(&world, &guest);

    // The reference itself is what the chapter builds.
    let link = |ns: &str, name: &str| -> Value {
        state[ns]["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    for (ns, child) in [("ns1", "macvlan1"), ("ns2", "macvlan2")] {
        let l = link(ns, child);
        assert_eq!(l["kind"], "macvlan", "reference {mode}: {ns}/{child}: {l}");
        assert_eq!(
            l["macvlan_mode"], mode,
            "reference {mode}: {ns}/{child}: {l}"
        );
        assert_eq!(
            l["parent"], "net1/eth0",
            "reference {mode}: {ns}/{child}: {l}"
        );
    }
    assert_eq!(link("lan", "net1")["master"], "br0");
    assert_eq!(link("lan", "br0")["kind"], "bridge");
    assert_eq!(link("net1", "eth0")["parent"], "lan/net1");
    let routes = state["ns1"]["routes"].to_string();
    assert!(
        routes.contains("default gateway 172.16.10.1 dev macvlan1"),
        "reference {mode}: ns1 routes {routes}"
    );

    cache.insert(mode.to_string(), state.clone());
    state
}

/// The whole check for the guest of `examples/DIR`.
fn language(dir: &str) {
    if !root_or_skip() {
        return;
    }
    let Some(guest) = build(dir) else { return };
    for mode in MODES {
        let want = reference(mode);
        let world = up(&guest, mode);
        let got = lab_state(&world.prefix);
        assert_eq!(
            serde_json::to_string_pretty(&got).unwrap(),
            serde_json::to_string_pretty(&want).unwrap(),
            "{dir} ({mode}): the kernel state differs from the Rust guest's (left: {dir}, right: Rust)"
        );
        down(&world, &guest);
    }
}

#[test]
fn python_guest_builds_the_same_lab_as_rust() {
    language("seed-macvlan-py");
}

#[test]
fn javascript_guest_builds_the_same_lab_as_rust() {
    language("seed-macvlan-js");
}

#[test]
fn c_guest_builds_the_same_lab_as_rust() {
    language("seed-macvlan-c");
}

// The Python SDK (guests/python, issue 17): how a Python guest's failures
// read, and the package used from outside this repository.

/// The componentize-py every Python build here pins
/// (scripts/install-guest-tools.sh).
const COMPONENTIZE_PY: &str = "0.25.1";

/// Whether `python3` has the pinned componentize-py: a failure in CI, a
/// skip with a message elsewhere (as [`build`] does for a missing tool).
fn componentize_py_or_skip() -> bool {
    let have = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('componentize-py'))",
        ])
        .stderr(Stdio::null())
        .output()
        .map(|o| stdout(&o).trim().to_string())
        .unwrap_or_default();
    if have == COMPONENTIZE_PY {
        return true;
    }
    let why = format!(
        "python3 has componentize-py {have:?}, not {COMPONENTIZE_PY}; run scripts/install-guest-tools.sh py"
    );
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    false
}

/// A directory of its own under the system's temp dir (outside the
/// repository), removed with all it holds when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(world: &World, tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("netwasm-{tag}-{}", world.prefix));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

// ---------------------------------------------------------------------
// The JavaScript SDK (guests/js, `@netwasm/guest`; issue 17).

/// The package's `wit/` is the repository's, byte for byte, and its
/// version is the WIT package's: `npm pack` ships what guests build
/// against (`guests/js/scripts/sync-wit.sh` copies it).
#[test]
fn the_javascript_sdk_carries_the_repos_wit_and_its_version() {
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&p).unwrap())
            })
            .collect()
    }
    let repo = files(&root().join("wit"));
    let sdk = files(&root().join("guests/js/wit"));
    assert_eq!(
        repo.keys().collect::<Vec<_>>(),
        sdk.keys().collect::<Vec<_>>(),
        "guests/js/wit lists other files than wit/: run guests/js/scripts/sync-wit.sh"
    );
    for (name, text) in &repo {
        assert!(
            sdk[name] == *text,
            "guests/js/wit/{name} differs from wit/{name}: run guests/js/scripts/sync-wit.sh"
        );
    }
    let world = String::from_utf8(repo["world.wit"].clone()).unwrap();
    let wit_version = world
        .lines()
        .find_map(|l| l.strip_prefix("package netwasm:lab@"))
        .and_then(|v| v.strip_suffix(';'))
        .expect("world.wit names its package");
    let package: Value =
        serde_json::from_slice(&std::fs::read(root().join("guests/js/package.json")).unwrap())
            .unwrap();
    assert_eq!(package["version"], wit_version, "guests/js/package.json");
    assert_eq!(package["name"], "@netwasm/guest");
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd` and panics with its output unless it succeeds.
fn must(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    out
}

/// `netwasm ARGS` in `world`, compiling into `cache` (the scratch's, so
/// the 40 MB a Python component compiles to goes when the test ends), and
/// both of its streams as one text (the guest's lines go to either).
fn run_in(world: &World, cache: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = world
        .netwasm()
        .env("NETWASM_CACHE_DIR", cache)
        .args(args)
        .output()
        .expect("run netwasm");
    (
        out.status.code(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

#[test]
fn python_guest_failures_read_like_the_hosts() {
    if !root_or_skip() || !componentize_py_or_skip() {
        return;
    }
    let world = World::new();
    let scratch = Scratch::new(&world, "pyfail");
    let sdk = root().join("guests/python");
    let wasm = scratch.0.join("failing.wasm");
    must(
        Command::new("python3")
            .current_dir(&scratch.0)
            .args([
                "-c",
                "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())",
                "-d",
                root().join("wit").to_str().unwrap(),
                "-w",
                "netwasm:lab/lab",
                "componentize",
                "-p",
                sdk.join("tests").to_str().unwrap(),
                "-p",
                sdk.to_str().unwrap(),
                "failing",
                "-o",
                wasm.to_str().unwrap(),
            ]),
        "componentize-py (guests/python/tests/failing.py)",
    );
    let _ = std::fs::remove_dir_all(sdk.join("tests/__pycache__"));
    let _ = std::fs::remove_dir_all(sdk.join("netwasm/__pycache__"));
    let cache = scratch.0.join("cache");
    let p = world.prefix.as_str();
    let run = |what: &str| {
        run_in(
            &world,
            &cache,
            &["run", wasm.to_str().unwrap(), "--", what, p],
        )
    };

    // An uncaught exception: the guest's error (exit 1), not a trap (exit
    // 4), with its message, and its traceback on the guest's stderr.
    let (code, text) = run("raise");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("the guest's run failed: ValueError: boom in {p}")),
        "{text}"
    );
    assert!(
        text.contains("Traceback (most recent call last):"),
        "{text}"
    );
    assert!(
        text.contains("in nested"),
        "the traceback names the frame: {text}"
    );
    assert!(!text.contains("trap"), "{text}");

    // A wrong enum name: one readable line naming the names there are.
    let (code, text) = run("enum");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "the guest's run failed: invalid argument: macvlan mode 'bridged' is not one of \
             private, vepa, bridge, passthru, source"
        ),
        "{text}"
    );
    assert!(
        !text.contains("PyErr") && !text.contains("AttributeError"),
        "{text}"
    );
    assert_eq!(world.namespaces(), Vec::<String>::new(), "rolled back");

    // A kernel error reads as the host words it: kind, operation, errno's
    // text and name, the kernel's own explanation; the errno is a field.
    let (code, text) = run("kernel");
    assert_eq!(code, Some(1), "{text}");
    let message = format!(
        "kernel: add route to 10.10.0.0/16 via 10.99.0.1 in namespace \"{p}-k\": \
         Network is unreachable (ENETUNREACH) (Nexthop has invalid gateway)"
    );
    assert!(text.contains(&format!("caught: {message}")), "{text}");
    assert!(text.contains("errno 101;"), "{text}");
    assert!(
        text.contains(&format!("the guest's run failed: {message}")),
        "{text}"
    );

    // Another kind, caught by its class; the run goes on and succeeds.
    let (code, text) = run("exists");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("caught: already exists: "), "{text}");
    assert!(text.contains(&format!("\"{p}-x\"")), "{text}");

    // The script's own message: exactly that, no traceback.
    let (code, text) = run("script");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "the guest's run failed: usage: {p} is not what was wanted"
        )),
        "{text}"
    );
    assert!(!text.contains("Traceback"), "{text}");
    assert_eq!(world.namespaces(), Vec::<String>::new());
}

/// The first ```python block of the README's "Write a guest" Python section.
fn readme_python_snippet() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find("\n### Python\n").expect("README: ### Python")..];
    let start = section.find("```python\n").expect("README: a python block") + 10;
    let len = section[start..].find("\n```").unwrap();
    section[start..start + len + 1].to_string()
}

#[test]
fn python_sdk_installs_outside_the_repo_and_the_readme_guest_runs() {
    if !root_or_skip() || !componentize_py_or_skip() {
        return;
    }
    let world = World::new();
    let scratch = Scratch::new(&world, "pysdk");
    let venv = scratch.0.join("venv");
    let python = venv.join("bin/python");
    // The system's site-packages hold componentize-py (installed by
    // scripts/install-guest-tools.sh); the SDK goes into the venv only.
    must(
        Command::new("python3").args([
            "-m",
            "venv",
            "--system-site-packages",
            venv.to_str().unwrap(),
        ]),
        "python3 -m venv",
    );
    // --no-index: the package needs nothing from the network, not even to
    // build (its backend is in the tree and has no requirements).
    must(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--disable-pip-version-check",
            root().join("guests/python").to_str().unwrap(),
        ]),
        "pip install guests/python",
    );

    // The installed package carries the WIT, identical to the repository's,
    // and its version is the WIT package's.
    let wit = PathBuf::from(
        stdout(&must(
            Command::new(&python).args(["-m", "netwasm", "wit"]),
            "python -m netwasm wit",
        ))
        .trim(),
    );
    assert!(
        wit.starts_with(&venv),
        "the WIT of the installed package: {}",
        wit.display()
    );
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".wit"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&wit), names(&root().join("wit")));
    for n in names(&wit) {
        assert_eq!(
            std::fs::read(wit.join(&n)).unwrap(),
            std::fs::read(root().join("wit").join(&n)).unwrap(),
            "the packaged {n} differs from wit/{n}"
        );
    }
    let world_wit = std::fs::read_to_string(root().join("wit/world.wit")).unwrap();
    let version = stdout(&must(
        Command::new(&python).args(["-m", "netwasm", "version"]),
        "python -m netwasm version",
    ));
    assert!(
        world_wit.contains(&format!("package netwasm:lab@{};", version.trim())),
        "package version {version:?} is not the WIT's"
    );

    // The README's guest, built as the README says, in a project of its own.
    let proj = scratch.0.join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("app.py"), readme_python_snippet()).unwrap();
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    must(
        Command::new("python")
            .current_dir(&proj)
            .env("PATH", &path)
            .env("VIRTUAL_ENV", &venv)
            .args(["-m", "netwasm", "build", "app", "-o", "lab.wasm"]),
        "python -m netwasm build app -o lab.wasm",
    );
    let cache = scratch.0.join("cache");
    let wasm = proj.join("lab.wasm");
    let (code, text) = run_in(
        &world,
        &cache,
        &["run", wasm.to_str().unwrap(), "--", &world.prefix],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("2 checked, 2 met, 0 NOT met"), "{text}");
    assert!(text.contains("ping 10.0.0.2: 3/3 replies"), "{text}");
    let mut up = world.namespaces();
    up.sort();
    assert_eq!(up, vec![world.ns("a"), world.ns("b")], "{text}");
    let (code, text) = run_in(&world, &cache, &["down", "lab"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(world.namespaces(), Vec::<String>::new());
}

/// Runs `cmd` in `dir`, panicking with its output when it fails.
fn sh(dir: &Path, cmd: &mut Command) -> String {
    let out = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// A fresh project outside the repository with the packed SDK installed
/// as a user would: `npm pack`, then `npm install
/// ./netwasm-guest-0.1.0.tgz` offline. Its componentize-js is the seed
/// example's, linked in (installing it would need the registry). `None`
/// when a tool is missing outside CI.
fn sdk_project(scratch: &Path) -> Option<PathBuf> {
    // node, npm and componentize-js, as the seed example's build.sh finds
    // or installs them (127 when missing: a panic in CI).
    build("seed-macvlan-js")?;
    let sdk = root().join("guests/js");
    let project = scratch.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let packed = sh(
        &sdk,
        Command::new("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(scratch),
    );
    let tarball = packed.lines().last().unwrap_or_default().trim().to_string();
    assert_eq!(
        tarball, "netwasm-guest-0.1.0.tgz",
        "npm pack printed {packed:?}"
    );
    std::fs::write(
        project.join("package.json"),
        r#"{ "name": "a-lab-of-my-own", "private": true, "type": "module" }"#,
    )
    .unwrap();
    sh(
        &project,
        Command::new("npm").args([
            "install",
            "--offline",
            "--no-audit",
            "--no-fund",
            "../netwasm-guest-0.1.0.tgz",
        ]),
    );
    let installed = project.join("node_modules/@netwasm/guest");
    assert!(
        !installed.is_symlink() && installed.join("wit/world.wit").is_file(),
        "the tarball did not install a copy with its wit/"
    );
    std::os::unix::fs::symlink(
        root().join("examples/seed-macvlan-js/node_modules/@bytecodealliance"),
        project.join("node_modules/@bytecodealliance"),
    )
    .unwrap();
    Some(project)
}

/// Builds `source` (JavaScript) as `project/NAME.js` with the installed
/// SDK's `netwasm-componentize`; the component's path.
fn componentize(project: &Path, name: &str, source: &str) -> PathBuf {
    let js = format!("{name}.js");
    let wasm = format!("{name}.wasm");
    std::fs::write(project.join(&js), source).unwrap();
    sh(
        project,
        Command::new("node_modules/.bin/netwasm-componentize").args([&js, "-o", &wasm]),
    );
    assert!(
        !project.join(format!(".{js}.netwasm-build.js")).exists(),
        "netwasm-componentize left its copy of the entry behind"
    );
    let wasm = project.join(wasm);
    assert!(wasm.is_file());
    wasm
}

/// The JavaScript snippet of the README's "Write a guest" section that
/// uses the SDK.
fn readme_snippet() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = readme
        .split("\n### JavaScript\n")
        .nth(1)
        .expect("README has a JavaScript section");
    let section = section.split("\n### ").next().unwrap();
    let start = section
        .find("```js\nimport { Namespace")
        .expect("the JavaScript section has an SDK snippet")
        + "```js\n".len();
    let len = section[start..].find("```").unwrap();
    section[start..start + len].to_string()
}

/// netwasm's whole output, stdout then stderr.
fn output(out: &std::process::Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn the_packed_javascript_sdk_builds_a_guest_whose_failures_read() {
    if !root_or_skip() {
        return;
    }
    let scratch =
        Scratch(std::env::temp_dir().join(format!("netwasm-js-sdk-{}", common::process_prefix())));
    let _ = std::fs::remove_dir_all(&scratch.0);
    std::fs::create_dir_all(&scratch.0).unwrap();
    let Some(project) = sdk_project(&scratch.0) else {
        return;
    };

    // The README's snippet does what it says: a lab, an expectation
    // checked on the spot, a ping.
    let readme = componentize(&project, "readme", &readme_snippet());
    let world = World::new();
    let out = world.run(&["run", readme.to_str().unwrap(), "--", &world.prefix]);
    let text = output(&out);
    assert!(out.status.success(), "the README's snippet:\n{text}");
    assert!(
        text.contains("reachability: 1 checked, 1 met, 0 NOT met")
            && text.contains("(b answers a)")
            && text.contains("[guest] 3/3 replies"),
        "the README's snippet:\n{text}"
    );
    drop(world);

    let source = std::fs::read_to_string(root().join("tests/js/lab.js")).unwrap();
    let guest = componentize(&project, "lab", &source);
    let guest = guest.to_str().unwrap();
    let run = |cmd: &str| {
        let world = World::new();
        let out = world.run(&["run", guest, "--", cmd, &world.prefix]);
        (world, out)
    };

    // A lab, an expectation, a Plan and a ping, through the SDK.
    let (world, out) = run("ok");
    assert!(out.status.success(), "ok:\n{}", output(&out));
    let text = output(&out);
    assert!(text.contains("ping: 2/2; 2 of 2 met"), "ok:\n{text}");
    assert!(
        text.contains(&format!("{}-c: lo,br0", world.prefix)),
        "ok:\n{text}"
    );
    drop(world);

    // An uncaught Error: the guest's error (exit 1), its message, and a
    // stack line naming the guest's function and file.
    let (_w, out) = run("throw");
    let text = output(&out);
    assert_eq!(out.status.code(), Some(1), "throw:\n{text}");
    assert!(
        text.contains("the guest's run failed: Error: boom from the guest"),
        "throw:\n{text}"
    );
    assert!(
        text.contains("at nested (lab.js:"),
        "throw: no stack line:\n{text}"
    );
    assert!(!text.contains("netwasm-build"), "throw:\n{text}");

    // A wrong enum name names the valid ones.
    let (_w, out) = run("enum");
    let text = output(&out);
    assert_eq!(out.status.code(), Some(1), "enum:\n{text}");
    assert!(
        text.contains(
            "the guest's run failed: invalid argument: macvlan mode 'Bridge' is not one of 'private', 'vepa', 'bridge', 'passthru', 'source'"
        ),
        "enum:\n{text}"
    );

    // A kernel error reads as the host puts it.
    let (_w, out) = run("kernel");
    let text = output(&out);
    assert_eq!(out.status.code(), Some(1), "kernel:\n{text}");
    let line = text
        .lines()
        .find(|l| l.contains("the guest's run failed"))
        .unwrap_or_else(|| panic!("kernel:\n{text}"));
    assert!(
        line.contains("the guest's run failed: kernel: ")
            && line.contains("(ENETUNREACH) (Nexthop has invalid gateway)")
            && !line.contains("[object"),
        "kernel: {line}"
    );

    // Every other kind reads `kind: the host's line`.
    let (w, out) = run("exists");
    let text = output(&out);
    assert_eq!(out.status.code(), Some(1), "exists:\n{text}");
    assert!(
        text.contains(&format!(
            "the guest's run failed: already exists: create namespace \"{}-x\"",
            w.prefix
        )),
        "exists:\n{text}"
    );

    // Caught by class; then a thrown string is the message as it is.
    let (_w, out) = run("catch");
    let text = output(&out);
    assert_eq!(out.status.code(), Some(1), "catch:\n{text}");
    assert!(
        text.contains(
            "caught AlreadyExistsError (already-exists) true: already exists: create namespace"
        ),
        "catch:\n{text}"
    );
    assert!(
        text.contains("the guest's run failed: a plain string"),
        "catch:\n{text}"
    );

    // Not even a thrown object traps.
    let (_w, out) = run("object");
    let text = output(&out);
    assert_eq!(out.status.code(), Some(1), "object:\n{text}");
    assert!(
        text.contains(r#"the guest's run failed: {"what":"an object"}"#),
        "object:\n{text}"
    );
}
