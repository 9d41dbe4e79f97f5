//! Shared helpers for netwasm's integration tests: building guests, running
//! the real `netwasm` binary, unique names, independent checks of the kernel
//! with `ip -j`, and cleanup that happens even when a test panics.
//!
//! Every test builds its world in namespaces named under its own unique
//! prefix and never touches the root namespace; [`World`]'s `Drop` removes
//! whatever is left under the prefix.

#![allow(dead_code)]

pub mod seed_state;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Whether privileged tests can run. Outside CI a non-root run skips them
/// with a message; in CI (which runs as root) not being root is a failure,
/// so a privileged test can never skip silently there.
pub fn root_or_skip() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("this privileged test must run as root in CI");
    }
    eprintln!(
        "SKIPPED: this test needs root (namespaces and netlink); run the suite as root, as CI does"
    );
    false
}

/// Builds the Rust guest crate `package` for wasm32-wasip2 (once per test
/// process) and returns the component's path.
pub fn rust_guest(package: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(package) {
        return p.clone();
    }
    let target_dir = root().join("target").join("guests");
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .env("CARGO_TARGET_DIR", &target_dir)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            package,
        ])
        .status()
        .expect("run cargo to build a guest");
    assert!(status.success(), "building guest {package} failed");
    // Libraries are named with underscores; binaries as declared.
    let dir = target_dir.join("wasm32-wasip2/release");
    let path = [package.replace('-', "_"), package.to_string()]
        .iter()
        .map(|n| dir.join(format!("{n}.wasm")))
        .find(|p| p.exists())
        .unwrap_or_else(|| dir.join(format!("{package}.wasm")));
    assert!(
        path.exists(),
        "guest {package} built but {} is missing",
        path.display()
    );
    built.insert(package.to_string(), path.clone());
    path
}

/// The seed example guest.
pub fn seed_guest() -> PathBuf {
    rust_guest("seed-macvlan")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The start of every name this test process makes.
pub fn process_prefix() -> String {
    format!("nw{:x}x", std::process::id())
}

/// One test's world: a unique name prefix, a private state directory, and
/// cleanup of both on drop.
pub struct World {
    pub prefix: String,
    pub state_dir: PathBuf,
}

impl World {
    pub fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{}{n:x}", process_prefix());
        let state_dir = std::env::temp_dir().join(format!("netwasm-test-{prefix}"));
        std::fs::create_dir_all(&state_dir).unwrap();
        Self { prefix, state_dir }
    }

    /// The namespace `PREFIX-suffix`.
    pub fn ns(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.prefix)
    }

    /// A `netwasm` command using this world's state directory and the
    /// shared compile cache.
    pub fn netwasm(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_netwasm"));
        cmd.env("NETWASM_STATE_DIR", &self.state_dir).env(
            "NETWASM_CACHE_DIR",
            root().join("target").join("netwasm-cache"),
        );
        cmd
    }

    /// Runs `netwasm ARGS` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.netwasm().args(args).output().expect("run netwasm")
    }

    /// Runs the seed lab as lab `lab` under this world's prefix, in macvlan
    /// `mode` (`None`: the guest's default, vepa), with `flags` before the
    /// guest, and returns netwasm's output.
    pub fn seed_up(&self, lab: &str, mode: Option<&str>, flags: &[&str]) -> Output {
        let seed = seed_guest();
        let mut args = vec!["run", "--lab", lab];
        args.extend_from_slice(flags);
        args.extend([seed.to_str().unwrap(), "--", "up", &self.prefix]);
        args.extend(mode);
        self.run(&args)
    }

    /// The namespaces under this world's prefix that exist now.
    pub fn namespaces(&self) -> Vec<String> {
        let p = format!("{}-", self.prefix);
        netns_list()
            .into_iter()
            .filter(|n| n.starts_with(&p))
            .collect()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for ns in self.namespaces() {
            let _ = Command::new("ip").args(["netns", "delete", &ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// Every named network namespace, as `ip netns list` shows them.
pub fn netns_list() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-j", "netns", "list"])
        .output()
        .expect("run ip netns list");
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&text).expect("ip -j netns list is JSON");
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .collect()
}

/// `ip -j [-n NS] ARGS` as JSON.
pub fn ip_json(ns: Option<&str>, args: &[&str]) -> Value {
    let mut cmd = Command::new("ip");
    cmd.arg("-j");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    let out = cmd.args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Array(Vec::new()))
}

/// The link called `name` in `ns`, with details (`ip -j -d link show`).
pub fn link(ns: &str, name: &str) -> Value {
    let v = ip_json(Some(ns), &["-d", "link", "show", "dev", name]);
    v[0].clone()
}

/// The IPv4 addresses (`a.b.c.d/len`) on `dev` in `ns`.
pub fn addrs4(ns: &str, dev: &str) -> Vec<String> {
    let v = ip_json(Some(ns), &["-4", "addr", "show", "dev", dev]);
    v[0]["addr_info"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| format!("{}/{}", i["local"].as_str().unwrap(), i["prefixlen"]))
                .collect()
        })
        .unwrap_or_default()
}

/// The IPv4 default route's gateway in `ns`, if any.
pub fn default_gateway(ns: &str) -> Option<String> {
    let v = ip_json(Some(ns), &["-4", "route", "show", "default"]);
    v.as_array()?.first()?["gateway"]
        .as_str()
        .map(str::to_string)
}

/// One ping from inside `ns` to `addr`, with `ip netns exec` and the real
/// `ping`: an independent check of what netwasm built.
pub fn ping(ns: &str, addr: &str) -> bool {
    Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-q", addr,
        ])
        .output()
        .expect("run ping (Debian package iputils-ping)")
        .status
        .success()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A test's view of the machine outside its own world: the named
/// namespaces, and the root namespace's links and addresses. Taken before
/// and after a guest runs, to prove it changed nothing it was not granted.
/// Every named namespace except those of this test process's worlds: tests
/// run in parallel threads, so a sibling test's namespaces come and go while
/// another test compares before and after. Pair it with
/// [`World::namespaces`] to see what one test's run created.
pub fn foreign_namespaces() -> Vec<String> {
    let own = process_prefix();
    let mut names: Vec<String> = netns_list()
        .into_iter()
        .filter(|n| !n.starts_with(&own))
        .collect();
    names.sort();
    names
}

#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub namespaces: Vec<String>,
    pub root_links: Vec<(String, String, String)>,
    pub root_addrs: Vec<String>,
}

impl Snapshot {
    /// Everything but the namespaces of this test process's worlds (tests
    /// run in parallel threads).
    pub fn take() -> Self {
        let namespaces = foreign_namespaces();
        let links = ip_json(None, &["link", "show"]);
        let mut root_links: Vec<(String, String, String)> = links
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["ifname"].as_str().unwrap_or("").to_string(),
                    l["address"].as_str().unwrap_or("").to_string(),
                    l["flags"].to_string(),
                )
            })
            .collect();
        root_links.sort();
        let addrs = ip_json(None, &["addr", "show"]);
        let mut root_addrs: Vec<String> = addrs
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| {
                let dev = l["ifname"].as_str().unwrap_or("").to_string();
                l["addr_info"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |a| {
                        format!(
                            "{dev} {}/{}",
                            a["local"].as_str().unwrap_or(""),
                            a["prefixlen"]
                        )
                    })
            })
            .collect();
        root_addrs.sort();
        Self {
            namespaces,
            root_links,
            root_addrs,
        }
    }
}

/// Runs `ip ARGS`, asserting it succeeds (the test's own set-up).
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A namespace the test builds itself (not netwasm), full of things a
/// guest must not touch: a veth pair `p0`/`p1`, IPv4 and IPv6 addresses on
/// `p0`, and routes of both families with and without metrics. Tests take
/// its [`Decoy::state`] before and after an attack and compare. Removed on
/// drop, even when the test panics.
pub struct Decoy {
    pub name: String,
}

impl Decoy {
    pub fn new(w: &World, suffix: &str) -> Self {
        let name = w.ns(suffix);
        ip(&["netns", "add", &name]);
        let d = Self { name };
        let n = d.name.as_str();
        ip(&[
            "-n", n, "link", "add", "p0", "type", "veth", "peer", "name", "p1",
        ]);
        ip(&["-n", n, "addr", "add", "192.0.2.1/24", "dev", "p0"]);
        ip(&["-n", n, "addr", "add", "fd99::1/64", "dev", "p0", "nodad"]);
        ip(&["-n", n, "link", "set", "p0", "up"]);
        ip(&["-n", n, "link", "set", "p1", "up"]);
        ip(&["-n", n, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            n,
            "route",
            "add",
            "198.51.100.0/24",
            "via",
            "192.0.2.254",
        ]);
        ip(&[
            "-n",
            n,
            "route",
            "add",
            "203.0.113.0/24",
            "via",
            "192.0.2.254",
            "metric",
            "50",
        ]);
        ip(&[
            "-n",
            n,
            "-6",
            "route",
            "add",
            "fd98::/64",
            "via",
            "fd99::ff",
            "metric",
            "200",
        ]);
        d.settle();
        d
    }

    /// Waits (up to 10 s) until the kernel is done with the new links:
    /// carrier up, IPv6 duplicate address detection over. Until then their
    /// state changes by itself.
    fn settle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            let s = self.state().to_string();
            if !s.contains("tentative") && !s.contains("NO-CARRIER") && !s.contains("linkdown") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Everything `ip` reports about the namespace: links with details,
    /// addresses, and every route of both families.
    pub fn state(&self) -> Value {
        let n = Some(self.name.as_str());
        serde_json::json!({
            "links": strip_volatile(ip_json(n, &["-d", "link", "show"])),
            "addrs": strip_volatile(ip_json(n, &["addr", "show"])),
            "routes4": ip_json(n, &["-4", "route", "show", "table", "all"]),
            "routes6": ip_json(n, &["-6", "route", "show", "table", "all"]),
        })
    }
}

impl Drop for Decoy {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

/// Drops fields of `ip -j` output that change by themselves (address
/// lifetimes, operational state of links whose carrier settles).
fn strip_volatile(mut v: Value) -> Value {
    if let Some(items) = v.as_array_mut() {
        for item in items {
            if let Some(o) = item.as_object_mut() {
                for k in ["operstate", "stats64", "linkmode"] {
                    o.remove(k);
                }
                if let Some(infos) = o.get_mut("addr_info").and_then(Value::as_array_mut) {
                    for a in infos {
                        if let Some(a) = a.as_object_mut() {
                            a.remove("valid_life_time");
                            a.remove("preferred_life_time");
                        }
                    }
                }
            }
        }
    }
    v
}

/// A namespace that stands in for the machine's root namespace: netwasm
/// runs inside it (`nsenter --net=/run/netns/NAME`), so every "root" case
/// is tested without touching the real root. It holds a decoy's links,
/// addresses and routes, and `eth0` (a veth whose peer `eth0-peer` stays
/// there too) to grant as a `[root] links` parent.
pub struct StandInRoot {
    pub decoy: Decoy,
}

impl StandInRoot {
    pub fn new(w: &World) -> Self {
        let decoy = Decoy::new(w, "root");
        let n = decoy.name.as_str();
        ip(&[
            "-n",
            n,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "eth0-peer",
        ]);
        ip(&["-n", n, "link", "set", "eth0", "up"]);
        ip(&["-n", n, "addr", "add", "10.99.0.2/24", "dev", "eth0"]);
        Self { decoy }
    }

    pub fn name(&self) -> &str {
        &self.decoy.name
    }

    pub fn state(&self) -> Value {
        self.decoy.state()
    }

    /// `netwasm` run inside this namespace, with the world's state and cache
    /// directories: the namespace is then the root netwasm sees.
    pub fn netwasm(&self, w: &World) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.name()))
            .arg(env!("CARGO_BIN_EXE_netwasm"))
            .env("NETWASM_STATE_DIR", &w.state_dir)
            .env(
                "NETWASM_CACHE_DIR",
                root().join("target").join("netwasm-cache"),
            );
        cmd
    }

    /// Runs `netwasm ARGS` inside this namespace.
    pub fn run(&self, w: &World, args: &[&str]) -> Output {
        self.netwasm(w)
            .args(args)
            .output()
            .expect("run nsenter netwasm")
    }
}

/// The testkit guest (a statement interpreter; see its module docs).
pub fn kit() -> PathBuf {
    rust_guest("testkit")
}

impl World {
    /// The arguments of `netwasm run --lab LAB [--policy P] FLAGS testkit
    /// -- STATEMENTS`; the policy text is written into the state directory.
    pub fn kit_args(
        &self,
        lab: &str,
        policy: Option<&str>,
        flags: &[&str],
        statements: &[String],
    ) -> Vec<String> {
        let mut args: Vec<String> = vec!["run".into(), "--lab".into(), lab.into()];
        if let Some(p) = policy {
            let path = self.state_dir.join(format!("{lab}.policy.toml"));
            std::fs::write(&path, p).unwrap();
            args.extend(["--policy".into(), path.to_str().unwrap().into()]);
        }
        args.extend(flags.iter().map(|f| f.to_string()));
        args.push(kit().to_str().unwrap().into());
        args.push("--".into());
        args.extend(statements.iter().cloned());
        args
    }

    /// Runs the testkit with `statements` as lab `lab`.
    pub fn run_kit(&self, lab: &str, policy: Option<&str>, statements: &[String]) -> Output {
        let args = self.kit_args(lab, policy, &[], statements);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args)
    }
}

/// The guest's output lines, without the `[guest] ` mark.
pub fn guest_lines(out: &Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter_map(|l| l.strip_prefix("[guest] ").map(str::to_string))
        .collect()
}

/// One journal line for `json`, checksum and all: what a forger with write
/// access to the state directory could write.
pub fn journal_line(json: &str) -> String {
    format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes()))
}

/// Takes labs down (`netwasm down`) when dropped, passed or failed: a
/// World removes namespaces by name, which would leave a lab's programs
/// running.
pub struct LabsDown<'a> {
    w: &'a World,
    labs: Vec<String>,
}

impl<'a> LabsDown<'a> {
    pub fn new(w: &'a World, labs: &[&str]) -> Self {
        Self {
            w,
            labs: labs.iter().map(|l| l.to_string()).collect(),
        }
    }
}

impl Drop for LabsDown<'_> {
    fn drop(&mut self) {
        for lab in &self.labs {
            let _ = self.w.run(&["down", lab]);
        }
    }
}
