//! netwasm as a CNI plugin, driven as a container runtime drives it:
//! `CNI_*` variables, the network configuration on stdin, the result on
//! stdout — with the reference plugins of `containernetworking-plugins`
//! (host-local IPAM, macvlan, tuning) beside it.
//!
//! Each test's "host" is a namespace it makes (`H`, with `eth0`, a veth to
//! a switch namespace); the plugin runs under `nsenter --net` of it, so
//! that is the namespace it takes for the root. Containers are namespaces
//! under `/run/netns`, as podman names them.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::{Value, json};

const REFERENCE: &str = "/usr/lib/cni";

/// A host, its switch, and a private state and IPAM directory.
struct Host {
    w: World,
    host: String,
    dir: PathBuf,
}

impl Host {
    fn new() -> Self {
        let w = World::new();
        let (host, sw) = (w.ns("h"), w.ns("sw"));
        ip(&["netns", "add", &host]);
        ip(&["netns", "add", &sw]);
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &sw, "link", "set", "br0", "up"]);
        ip(&[
            "-n", &host, "link", "add", "eth0", "type", "veth", "peer", "name", "p0", "netns", &sw,
        ]);
        ip(&["-n", &sw, "link", "set", "p0", "master", "br0"]);
        ip(&["-n", &sw, "link", "set", "p0", "up"]);
        ip(&["-n", &host, "link", "set", "eth0", "up"]);
        ip(&["-n", &host, "addr", "add", "172.30.0.1/24", "dev", "eth0"]);
        let dir = w.state_dir.join("cni");
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_netwasm-cni"),
            dir.join("bin").join("netwasm-cni"),
        )
        .unwrap();
        Self { w, host, dir }
    }

    /// A container namespace.
    fn container(&self, name: &str) -> String {
        let ns = self.w.ns(name);
        ip(&["netns", "add", &ns]);
        ns
    }

    /// The network configuration: the netwasm guest, or with `reference`
    /// the reference plugin of that name, the same keys otherwise.
    fn config(&self, plugin: Option<&str>, mode: &str, extra: Value) -> Value {
        let mut c = json!({
            "cniVersion": "1.0.0",
            "name": format!("{}-net", self.w.prefix),
            "type": "netwasm-cni",
            "guest": guest().display().to_string(),
            "master": "eth0",
            "mode": mode,
            "ipam": {
                "type": "host-local",
                "subnet": "172.30.0.0/24",
                "rangeStart": "172.30.0.10",
                "gateway": "172.30.0.1",
                "dataDir": self.dir.join("ipam").display().to_string(),
                "routes": [{"dst": "0.0.0.0/0"}],
            },
        });
        if let Some(p) = plugin {
            c["type"] = p.into();
            c.as_object_mut().unwrap().remove("guest");
        }
        for (k, v) in extra.as_object().into_iter().flatten() {
            c[k] = v.clone();
        }
        c
    }

    /// Runs plugin `plugin` (`netwasm-cni` or a reference one) for
    /// `command` on container `ns` (`None`: no CNI_NETNS), in the host.
    fn cni(
        &self,
        plugin: &str,
        command: &str,
        id: &str,
        ns: Option<&str>,
        config: &Value,
    ) -> Output {
        self.cni_raw(plugin, command, id, ns, config.to_string().as_bytes(), &[])
    }

    fn cni_raw(
        &self,
        plugin: &str,
        command: &str,
        id: &str,
        ns: Option<&str>,
        stdin: &[u8],
        unset: &[&str],
    ) -> Output {
        let exe = if plugin == "netwasm-cni" {
            self.dir.join("bin").join("netwasm-cni")
        } else {
            Path::new(REFERENCE).join(plugin)
        };
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.host))
            .arg(exe)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", id)
            .env("CNI_IFNAME", "eth0")
            .env(
                "CNI_PATH",
                format!("{REFERENCE}:{}", self.dir.join("bin").display()),
            )
            .env("NETWASM_STATE_DIR", &self.w.state_dir)
            .env(
                "NETWASM_CACHE_DIR",
                root().join("target").join("netwasm-cache"),
            );
        if let Some(ns) = ns {
            // A name under /run/netns, or a path given whole.
            let path = if ns.starts_with('/') {
                ns.to_string()
            } else {
                format!("/run/netns/{ns}")
            };
            cmd.env("CNI_NETNS", path);
        }
        for k in unset {
            cmd.env_remove(k);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the plugin");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// The leases host-local holds for this network.
    fn leases(&self) -> Vec<String> {
        self.leases_of(&format!("{}-net", self.w.prefix))
    }

    /// The leases host-local holds for network `network`.
    fn leases_of(&self, network: &str) -> Vec<String> {
        leases_in(&self.dir.join("ipam").join(network))
    }

    /// The attachment labs netwasm-cni keeps.
    fn labs(&self) -> Vec<String> {
        std::fs::read_dir(self.w.state_dir.join("labs"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The leases a host-local data directory holds (its files named by address).
fn leases_in(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn guest() -> PathBuf {
    rust_guest("cni-macvlan")
}

fn ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "the plugin failed ({:?}):\n{}\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    if out.stdout.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// The CNI error object a failed call printed, checked to be one.
fn cni_error(out: &Output) -> Value {
    assert!(
        !out.status.success(),
        "expected a failure:\n{}",
        stdout(out)
    );
    let e: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not a CNI error object:\n{}\n{}", stdout(out), stderr(out)));
    assert!(e["code"].as_u64().is_some() && e["msg"].is_string(), "{e}");
    e
}

/// What the kernel says of the container's `eth0`: kind, mode, MTU,
/// IPv4 addresses, IPv4 routes.
fn facts(ns: &str) -> Value {
    let l = link(ns, "eth0");
    let routes = ip_json(Some(ns), &["-4", "route", "show"]);
    json!({
        "kind": l["linkinfo"]["info_kind"],
        "mode": l["linkinfo"]["info_data"]["mode"],
        "mtu": l["mtu"],
        "addrs": addrs4(ns, "eth0"),
        "routes": routes.as_array().unwrap().iter()
            .map(|r| format!("{} {}", r["dst"].as_str().unwrap_or(""), r["gateway"].as_str().unwrap_or("")))
            .collect::<Vec<_>>(),
    })
}

/// Whether the container has an `eth0`.
fn has_eth0(ns: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "link", "show", "eth0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn pings(from: &str, to: &str) -> bool {
    ping(from, to)
}

#[test]
fn containers_on_a_netwasm_macvlan_network_behave_as_the_chapter_says() {
    if !root_or_skip() {
        return;
    }
    for (mode, siblings) in [("bridge", true), ("vepa", false)] {
        let h = Host::new();
        let (c1, c2) = (h.container("c1"), h.container("c2"));
        let conf = h.config(None, mode, json!({}));
        let r1 = ok(&h.cni("netwasm-cni", "ADD", "c1", Some(&c1), &conf));
        let r2 = ok(&h.cni("netwasm-cni", "ADD", "c2", Some(&c2), &conf));
        assert_eq!(r1["cniVersion"], "1.0.0");
        assert_eq!(r1["interfaces"][0]["sandbox"], format!("/run/netns/{c1}"));
        assert_eq!(r1["ips"][0]["address"], "172.30.0.10/24");
        assert_eq!(r2["ips"][0]["address"], "172.30.0.11/24");
        let f = facts(&c1);
        assert_eq!(
            (f["kind"].as_str(), f["mode"].as_str()),
            (Some("macvlan"), Some(mode))
        );
        assert_eq!(pings(&c1, "172.30.0.11"), siblings, "{mode}: c1 to c2");
        assert!(
            !pings(&c1, "172.30.0.1"),
            "{mode}: a child reaches its master's address"
        );
        // DEL is exact and idempotent, IPAM included.
        for _ in 0..2 {
            ok(&h.cni("netwasm-cni", "DEL", "c1", Some(&c1), &conf));
            ok(&h.cni("netwasm-cni", "DEL", "c2", Some(&c2), &conf));
        }
        assert!(!has_eth0(&c1), "DEL left the interface");
        assert_eq!(h.leases(), Vec::<String>::new());
        assert_eq!(h.labs(), Vec::<String>::new());
    }
}

#[test]
fn the_guest_gives_the_reference_plugins_interface_and_result() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let (a, b) = (h.container("ref"), h.container("nw"));
    let extra = json!({"mtu": 1400});
    let ref_conf = h.config(Some("macvlan"), "bridge", extra.clone());
    let my_conf = h.config(None, "bridge", extra);
    let reference = ok(&h.cni("macvlan", "ADD", "ref", Some(&a), &ref_conf));
    let mine = ok(&h.cni("netwasm-cni", "ADD", "nw", Some(&b), &my_conf));
    // The two hold the two first leases: .10 and .11.
    let (mut f_ref, mut f_mine) = (facts(&a), facts(&b));
    assert_eq!(f_ref["addrs"], json!(["172.30.0.10/24"]));
    assert_eq!(f_mine["addrs"], json!(["172.30.0.11/24"]));
    f_ref["addrs"] = Value::Null;
    f_mine["addrs"] = Value::Null;
    assert_eq!(f_mine, f_ref, "the container interfaces differ");
    let scrub = |mut r: Value| {
        for i in r["interfaces"].as_array_mut().unwrap() {
            let o = i.as_object_mut().unwrap();
            o.remove("mac");
            o.remove("sandbox");
        }
        for ip in r["ips"].as_array_mut().unwrap() {
            ip.as_object_mut().unwrap().remove("address");
        }
        // Plugins 1.1.1 print an empty `dns`; later libcni leaves it out.
        if r["dns"] == json!({}) {
            r.as_object_mut().unwrap().remove("dns");
        }
        r
    };
    assert_eq!(scrub(mine), scrub(reference), "the CNI results differ");
    ok(&h.cni("netwasm-cni", "DEL", "nw", Some(&b), &my_conf));
    ok(&h.cni("macvlan", "DEL", "ref", Some(&a), &ref_conf));
    assert_eq!(h.leases(), Vec::<String>::new());
}

#[test]
fn a_chained_tuning_plugin_gets_and_passes_the_result() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let c = h.container("c");
    let conf = h.config(None, "bridge", json!({}));
    let first = ok(&h.cni("netwasm-cni", "ADD", "c", Some(&c), &conf));
    let tuning = json!({
        "cniVersion": "1.0.0",
        "name": conf["name"],
        "type": "tuning",
        "mtu": 1300,
        "prevResult": first,
    });
    let second = ok(&h.cni("tuning", "ADD", "c", Some(&c), &tuning));
    assert_eq!(second["ips"], first["ips"]);
    assert_eq!(link(&c, "eth0")["mtu"], 1300);
    ok(&h.cni("tuning", "DEL", "c", Some(&c), &tuning));
    ok(&h.cni("netwasm-cni", "DEL", "c", Some(&c), &conf));
}

#[test]
fn a_refused_or_failed_add_leaves_nothing_and_check_and_gc_see_the_truth() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let c = h.container("c");
    // A policy that grants no master: the guest is refused, nothing is made.
    let policy = h.dir.join("nothing.toml");
    std::fs::write(&policy, "[namespaces]\ncreate = []\n").unwrap();
    let conf = h.config(
        None,
        "bridge",
        json!({"policy": policy.display().to_string()}),
    );
    let e = cni_error(&h.cni("netwasm-cni", "ADD", "c", Some(&c), &conf));
    assert_eq!(e["code"], 100, "{e}");
    assert!(e["msg"].as_str().unwrap().contains("not allowed"), "{e}");
    // host-local was started early, before the guest was refused: its
    // allocation went back all the same.
    assert_eq!(
        h.leases(),
        Vec::<String>::new(),
        "a refused ADD kept the lease IPAM gave early"
    );
    // A failure after IPAM gave an address: the route is refused by the
    // policy's [operations]; the address goes back, the link goes.
    let policy2 = h.dir.join("noroutes.toml");
    std::fs::write(
        &policy2,
        "[links]\nkinds = [\"macvlan\"]\n[root]\nlinks = [\"eth0\"]\n[operations]\ndeny = [\"route.add\"]\n",
    )
    .unwrap();
    let conf2 = h.config(
        None,
        "bridge",
        json!({"policy": policy2.display().to_string()}),
    );
    let e = cni_error(&h.cni("netwasm-cni", "ADD", "c", Some(&c), &conf2));
    assert_eq!(e["code"], 100, "{e}");
    assert!(!has_eth0(&c), "a failed ADD left the interface");
    assert_eq!(
        h.leases(),
        Vec::<String>::new(),
        "a failed ADD kept its lease"
    );
    assert_eq!(h.labs(), Vec::<String>::new());

    // CHECK: fine, then the interface deleted behind its back.
    let conf = h.config(None, "bridge", json!({}));
    ok(&h.cni("netwasm-cni", "ADD", "c", Some(&c), &conf));
    ok(&h.cni("netwasm-cni", "CHECK", "c", Some(&c), &conf));
    ip(&["-n", &c, "link", "del", "eth0"]);
    let e = cni_error(&h.cni("netwasm-cni", "CHECK", "c", Some(&c), &conf));
    assert!(e["msg"].as_str().unwrap().contains("missing"), "{e}");
    ok(&h.cni("netwasm-cni", "DEL", "c", Some(&c), &conf));

    // DEL after the container's namespace is gone.
    let d = h.container("d");
    ok(&h.cni("netwasm-cni", "ADD", "d", Some(&d), &conf));
    ip(&["netns", "del", &d]);
    ok(&h.cni("netwasm-cni", "DEL", "d", Some(&d), &conf));
    ok(&h.cni("netwasm-cni", "DEL", "d", None, &conf));
    assert_eq!(h.leases(), Vec::<String>::new());
    assert_eq!(h.labs(), Vec::<String>::new());

    // GC: of two attachments, the one not listed as valid goes.
    let (g1, g2) = (h.container("g1"), h.container("g2"));
    ok(&h.cni("netwasm-cni", "ADD", "g1", Some(&g1), &conf));
    ok(&h.cni("netwasm-cni", "ADD", "g2", Some(&g2), &conf));
    let mut gc = conf.clone();
    gc["cniVersion"] = "1.1.0".into();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "g1", "ifname": "eth0"}]);
    ok(&h.cni_raw(
        "netwasm-cni",
        "GC",
        "",
        None,
        gc.to_string().as_bytes(),
        &["CNI_CONTAINERID", "CNI_IFNAME"],
    ));
    assert!(
        !addrs4(&g1, "eth0").is_empty(),
        "GC removed a valid attachment"
    );
    assert!(!has_eth0(&g2), "GC left the interface");
    assert_eq!(h.labs().len(), 1);
    let g1_addr = addrs4(&g1, "eth0")[0]
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        h.leases(),
        vec![g1_addr],
        "GC kept the other lease, or lost g1's"
    );
    ok(&h.cni("netwasm-cni", "DEL", "g1", Some(&g1), &conf));
}

#[test]
fn bad_input_is_a_cni_error_with_the_right_code() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let c = h.container("c");
    let conf = h.config(None, "bridge", json!({}));
    let code = |out: Output| cni_error(&out)["code"].as_u64().unwrap();
    assert_eq!(
        code(h.cni_raw("netwasm-cni", "ADD", "c", Some(&c), b"{not json", &[])),
        6
    );
    let missing = cni_error(&h.cni_raw(
        "netwasm-cni",
        "ADD",
        "c",
        Some(&c),
        conf.to_string().as_bytes(),
        &["CNI_COMMAND"],
    ));
    assert_eq!(missing["code"], 4);
    // Answered in the version the configuration declares.
    assert_eq!(missing["cniVersion"], "1.0.0");
    assert_eq!(code(h.cni("netwasm-cni", "ADD", "c", None, &conf)), 4);
    let mut v = conf.clone();
    v["cniVersion"] = "9.9.9".into();
    assert_eq!(code(h.cni("netwasm-cni", "ADD", "c", Some(&c), &v)), 1);
    let mut g = conf.clone();
    g["guest"] = "/nonexistent/plugin.wasm".into();
    assert_eq!(code(h.cni("netwasm-cni", "ADD", "c", Some(&c), &g)), 7);
    assert_eq!(
        code(h.cni("netwasm-cni", "ADD", "c", Some("no-such-ns"), &conf)),
        3
    );
    // VERSION answers whatever the stdin.
    let out = h.cni_raw("netwasm-cni", "VERSION", "", None, b"{}", &[]);
    let v = ok(&out);
    assert!(
        v["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("1.1.0"))
    );
    assert_eq!(h.labs(), Vec::<String>::new());
}

#[test]
fn del_after_a_killed_add_leaves_nothing() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let conf = h.config(None, "bridge", json!({}));
    // Killed at different points of its run; whatever it got to, DEL
    // cleans it up: no interface, no lease, no lab.
    for (i, delay_ms) in [0u64, 2, 5, 10, 20, 40].into_iter().enumerate() {
        let id = format!("k{i}");
        let c = h.container(&id);
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", h.host))
            .arg(h.dir.join("bin").join("netwasm-cni"))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", "ADD")
            .env("CNI_CONTAINERID", &id)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_NETNS", format!("/run/netns/{c}"))
            .env(
                "CNI_PATH",
                format!("{REFERENCE}:{}", h.dir.join("bin").display()),
            )
            .env("NETWASM_STATE_DIR", &h.w.state_dir)
            .env(
                "NETWASM_CACHE_DIR",
                root().join("target").join("netwasm-cache"),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.to_string().as_bytes())
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // nsenter execs the plugin: this pid is the plugin's.
        let _ = child.kill();
        let _ = child.wait();
        ok(&h.cni("netwasm-cni", "DEL", &id, Some(&c), &conf));
        assert!(
            !has_eth0(&c),
            "killed after {delay_ms} ms: DEL left the interface"
        );
    }
    assert_eq!(
        h.leases(),
        Vec::<String>::new(),
        "a killed ADD's lease leaked"
    );
    assert_eq!(h.labs(), Vec::<String>::new());
}

/// Builds `examples/DIR` with its build.sh: the component's path. A
/// missing tool skips outside CI and fails in it.
fn build_example(dir: &str) -> Option<PathBuf> {
    let script = root().join("examples").join(dir).join("build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    if out.status.code() == Some(127) {
        let why = format!("{dir}: a build tool is missing; run scripts/install-guest-tools.sh");
        if std::env::var_os("CI").is_some() {
            panic!("{why}");
        }
        eprintln!("SKIPPED: {why}");
        return None;
    }
    assert!(out.status.success(), "{} failed", script.display());
    let path = PathBuf::from(stdout(&out).lines().last().unwrap_or_default().trim());
    assert!(path.is_file(), "{} built nothing", script.display());
    Some(path)
}

#[test]
fn a_javascript_plugin_wires_containers_as_the_rust_one_does() {
    if !root_or_skip() {
        return;
    }
    let Some(js) = build_example("cni-macvlan-js") else {
        return;
    };
    let h = Host::new();
    let (r, j, j2) = (h.container("r"), h.container("j"), h.container("j2"));
    let rust_conf = h.config(None, "bridge", json!({"mtu": 1400}));
    let mut js_conf = rust_conf.clone();
    js_conf["guest"] = js.display().to_string().into();
    let from_rust = ok(&h.cni("netwasm-cni", "ADD", "r", Some(&r), &rust_conf));
    let from_js = ok(&h.cni("netwasm-cni", "ADD", "j", Some(&j), &js_conf));
    ok(&h.cni("netwasm-cni", "ADD", "j2", Some(&j2), &js_conf));
    let (mut fr, mut fj) = (facts(&r), facts(&j));
    fr["addrs"] = Value::Null;
    fj["addrs"] = Value::Null;
    assert_eq!(
        fj, fr,
        "the JavaScript plugin's interface differs from the Rust one's"
    );
    let scrub = |mut v: Value| {
        for i in v["interfaces"].as_array_mut().unwrap() {
            i.as_object_mut().unwrap().remove("mac");
            i.as_object_mut().unwrap().remove("sandbox");
        }
        for ip in v["ips"].as_array_mut().unwrap() {
            ip.as_object_mut().unwrap().remove("address");
        }
        v
    };
    assert_eq!(scrub(from_js), scrub(from_rust));
    let j2_addr = addrs4(&j2, "eth0")[0]
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(
        pings(&j, &j2_addr),
        "bridge mode: the JavaScript plugin's containers do not talk"
    );
    for (id, ns, conf) in [
        ("r", &r, &rust_conf),
        ("j", &j, &js_conf),
        ("j2", &j2, &js_conf),
    ] {
        ok(&h.cni("netwasm-cni", "DEL", id, Some(ns), conf));
    }
    assert_eq!(h.leases(), Vec::<String>::new());
    assert_eq!(h.labs(), Vec::<String>::new());
}

/// podman 4 with its CNI backend, confined to the test: a private root,
/// runroot, CNI configuration directory and containers.conf, run under
/// `nsenter --net` of the test's host namespace (podman then wires its
/// containers there). Removes its containers and directories on drop.
struct Podman<'a> {
    h: &'a Host,
    dir: PathBuf,
}

impl<'a> Podman<'a> {
    fn new(h: &'a Host) -> Self {
        let dir = h.w.state_dir.join("podman");
        for d in ["root", "runroot", "cni", "img/bin"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [\"{}\", \"{REFERENCE}\"]\nnetwork_config_dir = \"{}\"\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
                h.dir.join("bin").display(),
                dir.join("cni").display()
            ),
        )
        .unwrap();
        let p = Podman { h, dir };
        // The image: Debian's busybox-static and its applets, imported.
        let img = p.dir.join("img");
        std::fs::copy("/bin/busybox", img.join("bin/busybox"))
            .expect("busybox-static is installed");
        for applet in ["sh", "sleep", "ping", "ip"] {
            std::os::unix::fs::symlink("busybox", img.join("bin").join(applet)).unwrap();
        }
        let tar = p.dir.join("img.tar");
        let status = Command::new("tar")
            .args([
                "-C",
                img.to_str().unwrap(),
                "-cf",
                tar.to_str().unwrap(),
                ".",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        let out = p.run(&["import", tar.to_str().unwrap(), "localhost/nwbb:1"]);
        assert!(out.status.success(), "podman import: {}", stderr(&out));
        p
    }

    /// The netwasm plugin's entry in a network's plugin list: the test's
    /// configuration with `extra` on top, its state where the test looks.
    fn netwasm(&self, mode: &str, extra: Value) -> Value {
        let mut plugin = self.h.config(
            None,
            mode,
            json!({
                "stateDir": self.h.w.state_dir.display().to_string(),
                "cacheDir": root().join("target").join("netwasm-cache").display().to_string(),
            }),
        );
        for (k, v) in extra.as_object().into_iter().flatten() {
            plugin[k] = v.clone();
        }
        plugin
    }

    /// Defines network `name` as the chain `plugins` (their own
    /// `cniVersion` and `name` give way to the list's).
    fn define(&self, name: &str, plugins: Vec<Value>) {
        let plugins: Vec<Value> = plugins
            .into_iter()
            .map(|mut p| {
                p.as_object_mut().unwrap().remove("cniVersion");
                p.as_object_mut().unwrap().remove("name");
                p
            })
            .collect();
        let list = json!({"cniVersion": "1.0.0", "name": name, "plugins": plugins});
        std::fs::write(
            self.dir.join("cni").join(format!("{name}.conflist")),
            list.to_string(),
        )
        .unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.h.host))
            .arg("podman")
            .args(["--root", self.dir.join("root").to_str().unwrap()])
            .args(["--runroot", self.dir.join("runroot").to_str().unwrap()])
            .args(["--storage-driver", "vfs", "--network-backend", "cni"])
            .args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"])
            .args(["--cni-config-dir", self.dir.join("cni").to_str().unwrap()])
            .args(args)
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .stdin(Stdio::null())
            .output()
            .expect("run podman")
    }

    fn network(&self) -> String {
        format!("{}-net", self.h.w.prefix)
    }

    /// Starts container `name` on the netwasm network.
    fn start(&self, name: &str) {
        let out = self.try_start(name, &self.network());
        assert!(out.status.success(), "podman run {name}: {}", stderr(&out));
    }

    /// Runs container `name` on network `network`, as podman answers.
    fn try_start(&self, name: &str, network: &str) -> Output {
        self.run(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            network,
            "--cap-add",
            "NET_RAW",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "localhost/nwbb:1",
            "sleep",
            "600",
        ])
    }

    /// The name of container `name`'s network namespace (podman's CNI
    /// backend mounts it under /run/netns).
    fn netns(&self, name: &str) -> String {
        let out = self.run(&[
            "inspect",
            "--format",
            "{{.NetworkSettings.SandboxKey}}",
            name,
        ]);
        let path = stdout(&out).trim().to_string();
        path.strip_prefix("/run/netns/")
            .unwrap_or_else(|| panic!("{name}: sandbox {path:?} is not under /run/netns"))
            .to_string()
    }

    /// Whether container `from` gets an answer from `to`.
    fn pings(&self, from: &str, to: &str) -> bool {
        self.run(&["exec", from, "ping", "-c", "1", "-W", "1", to])
            .status
            .success()
    }

    fn address(&self, name: &str) -> String {
        let out = self.run(&["exec", name, "ip", "-4", "-o", "addr", "show", "eth0"]);
        let text = stdout(&out);
        text.split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .and_then(|a| a.split('/').next())
            .unwrap_or_else(|| panic!("no address in {name}: {text}"))
            .to_string()
    }
}

impl Drop for Podman<'_> {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-f", "-a", "-t", "0"]);
        let _ = self.run(&["rmi", "-a", "-f"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn podman_containers_on_a_netwasm_network_behave_as_the_chapter_says() {
    if !root_or_skip() {
        return;
    }
    for (mode, siblings) in [("bridge", true), ("vepa", false)] {
        let h = Host::new();
        let p = Podman::new(&h);
        p.define(&p.network(), vec![p.netwasm(mode, json!({}))]);
        p.start("c1");
        p.start("c2");
        let c2 = p.address("c2");
        assert_eq!(p.pings("c1", &c2), siblings, "{mode}: c1 to c2");
        assert!(
            !p.pings("c1", "172.30.0.1"),
            "{mode}: a container reaches the master's address"
        );
        assert_eq!(h.labs().len(), 2, "one lab per attachment");
        assert_eq!(h.leases().len(), 2, "one lease per container");
        let out = p.run(&["rm", "-f", "-t", "0", "c1", "c2"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            h.labs(),
            Vec::<String>::new(),
            "{mode}: podman rm left attachments"
        );
        assert_eq!(
            h.leases(),
            Vec::<String>::new(),
            "{mode}: podman rm left leases"
        );
    }
}

#[test]
fn podman_wires_netwasm_as_it_wires_the_reference_chained_and_refused() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let p = Podman::new(&h);
    let tuning = json!({"type": "tuning", "mtu": 1400});
    // The same network twice, the reference macvlan and the netwasm guest
    // each followed by the reference tuning plugin; disjoint ranges of one
    // subnet, so that both can be up on the one LAN.
    let pre = &h.w.prefix;
    let (ref_net, nw_net, refused_net) = (
        format!("{pre}-ref"),
        format!("{pre}-nw"),
        format!("{pre}-refused"),
    );
    let mut reference = h.config(Some("macvlan"), "bridge", json!({}));
    reference["ipam"]["rangeStart"] = "172.30.0.100".into();
    p.define(&ref_net, vec![reference, tuning.clone()]);
    p.define(&nw_net, vec![p.netwasm("bridge", json!({})), tuning]);
    for (name, net) in [("cref", &ref_net), ("cnw", &nw_net)] {
        let out = p.try_start(name, net);
        assert!(out.status.success(), "podman run {name}: {}", stderr(&out));
    }
    let (a, b) = (p.netns("cref"), p.netns("cnw"));
    let (mut f_ref, mut f_nw) = (facts(&a), facts(&b));
    assert_eq!(f_ref["addrs"], json!(["172.30.0.100/24"]));
    assert_eq!(f_nw["addrs"], json!(["172.30.0.10/24"]));
    assert_eq!(f_nw["mtu"], 1400, "tuning after netwasm: {f_nw}");
    f_ref["addrs"] = Value::Null;
    f_nw["addrs"] = Value::Null;
    assert_eq!(f_nw, f_ref, "the containers' interfaces differ");
    assert!(p.pings("cnw", "172.30.0.100"), "bridge mode: cnw to cref");
    assert_eq!(h.labs().len(), 1, "one attachment lab, netwasm's");

    // A guest its policy refuses: podman's run fails, and the plugin
    // leaves nothing behind, no interface, no lab, no lease.
    let nothing = h.dir.join("nothing.toml");
    std::fs::write(&nothing, "[namespaces]\ncreate = []\n").unwrap();
    let mut refused = p.netwasm("bridge", json!({"policy": nothing.display().to_string()}));
    refused["ipam"]["rangeStart"] = "172.30.0.200".into();
    p.define(&refused_net, vec![refused]);
    let out = p.try_start("cbad", &refused_net);
    assert!(
        !out.status.success(),
        "podman ran a container its plugin refused"
    );
    assert!(stderr(&out).contains("not allowed"), "{}", stderr(&out));
    assert_eq!(h.leases_of(&refused_net), Vec::<String>::new());
    assert_eq!(h.labs().len(), 1, "the refused ADD left a lab");

    let out = p.run(&["rm", "-f", "-t", "0", "cref", "cnw", "cbad"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(h.labs(), Vec::<String>::new(), "podman rm left attachments");
    for net in [&ref_net, &nw_net, &refused_net] {
        assert_eq!(h.leases_of(net), Vec::<String>::new(), "{net}: leases left");
    }
}

#[test]
fn a_netwasm_plugin_chained_after_bridge_acts_on_bridges_interface() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let c = h.container("c");
    let network = format!("{}-net", h.w.prefix);
    let bridge = json!({
        "cniVersion": "1.0.0",
        "name": network,
        "type": "bridge",
        "bridge": "cni-nw0",
        "ipam": {
            "type": "host-local",
            "subnet": "172.29.0.0/24",
            "dataDir": h.dir.join("ipam").display().to_string(),
        },
    });
    let first = ok(&h.cni("bridge", "ADD", "c", Some(&c), &bridge));
    let mtu = json!({
        "cniVersion": "1.0.0",
        "name": network,
        "type": "netwasm-cni",
        "guest": rust_guest("cni-mtu").display().to_string(),
        "mtu": 1280,
        "prevResult": first,
    });
    let second = ok(&h.cni("netwasm-cni", "ADD", "c", Some(&c), &mtu));
    // An IPAM section the guest never uses: host-local is started early
    // all the same, and what it allocated is given back.
    let mut with_ipam = mtu.clone();
    with_ipam["ipam"] = json!({
        "type": "host-local",
        "subnet": "172.28.0.0/24",
        "dataDir": h.dir.join("unused-ipam").display().to_string(),
    });
    let d = h.container("d");
    with_ipam["prevResult"] = ok(&h.cni("bridge", "ADD", "d", Some(&d), &bridge));
    ok(&h.cni("netwasm-cni", "ADD", "d", Some(&d), &with_ipam));
    let leases = leases_in(&h.dir.join("unused-ipam").join(&network));
    assert_eq!(
        leases,
        Vec::<String>::new(),
        "an unasked-for lease was kept"
    );
    ok(&h.cni("netwasm-cni", "DEL", "d", Some(&d), &with_ipam));
    ok(&h.cni("bridge", "DEL", "d", Some(&d), &bridge));
    // The earlier result passed on, and bridge's interface changed.
    assert_eq!(second["ips"], first["ips"]);
    assert_eq!(second["interfaces"], first["interfaces"]);
    assert_eq!(link(&c, "eth0")["mtu"], 1280);
    ok(&h.cni("netwasm-cni", "CHECK", "c", Some(&c), &mtu));
    ok(&h.cni("netwasm-cni", "DEL", "c", Some(&c), &mtu));
    ok(&h.cni("bridge", "DEL", "c", Some(&c), &bridge));
    assert_eq!(h.labs(), Vec::<String>::new());
}

#[test]
fn an_ipam_plugin_that_needs_the_interface_runs_when_the_guest_asks() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let c = h.container("c");
    // Like `dhcp`, which speaks on the container's interface: only the
    // bookkeeping allocators (host-local, static) are started early.
    let log = h.dir.join("recorder.log");
    let plugin = h.dir.join("bin").join("recorder");
    std::fs::write(
        &plugin,
        format!(
            r#"#!/bin/sh
cat >/dev/null
if nsenter --net="$CNI_NETNS" ip link show eth0 >/dev/null 2>&1; then seen=present; else seen=absent; fi
echo "$CNI_COMMAND $seen" >> {log}
if [ "$CNI_COMMAND" = ADD ]; then
  echo '{{"cniVersion":"1.0.0","ips":[{{"address":"172.30.0.77/24","gateway":"172.30.0.1"}}]}}'
fi
"#,
            log = log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut conf = h.config(None, "bridge", json!({}));
    conf["ipam"] = json!({"type": "recorder"});
    let result = ok(&h.cni("netwasm-cni", "ADD", "c", Some(&c), &conf));
    assert_eq!(result["ips"][0]["address"], "172.30.0.77/24", "{result}");
    assert_eq!(addrs4(&c, "eth0"), vec!["172.30.0.77/24".to_string()]);
    ok(&h.cni("netwasm-cni", "DEL", "c", Some(&c), &conf));
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        vec!["ADD present", "DEL present"],
        "the IPAM plugin ran before the guest asked"
    );
}

/// A process in a network namespace of its own that nothing names: a
/// container as runtimes that pass `/proc/PID/ns/net` see it. Killed on drop.
struct Unnamed(std::process::Child);

impl Unnamed {
    fn new() -> Self {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "120"])
            .spawn()
            .expect("unshare");
        let me = Unnamed(child);
        let path = me.path();
        // unshare(1) switches namespace before it execs sleep: wait for it.
        for _ in 0..200 {
            let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
            if std::fs::read_link(&path).is_ok_and(|l| l != ours) {
                return me;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("{path} never got a namespace of its own");
    }

    fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.0.id())
    }

    fn ip(&self, args: &[&str]) -> Value {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", self.path()))
            .args(["ip", "-j"])
            .args(args)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

impl Drop for Unnamed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The names netwasm-cni gave namespaces, still under /run/netns.
fn aliases() -> Vec<String> {
    netns_list()
        .into_iter()
        .filter(|n| n.starts_with("netwasm-cni-"))
        .collect()
}

#[test]
fn a_container_given_as_proc_pid_ns_net_is_wired_and_unwired() {
    if !root_or_skip() {
        return;
    }
    let h = Host::new();
    let c = Unnamed::new();
    let path = c.path();
    let conf = h.config(None, "bridge", json!({}));
    let before = aliases();
    let r = ok(&h.cni("netwasm-cni", "ADD", "c", Some(&path), &conf));
    assert_eq!(r["interfaces"][0]["sandbox"], path.as_str(), "{r}");
    let addrs = c.ip(&["-4", "addr", "show", "eth0"]);
    assert_eq!(addrs[0]["addr_info"][0]["local"], "172.30.0.10", "{addrs}");
    let l = c.ip(&["-d", "link", "show", "eth0"]);
    assert_eq!(l[0]["linkinfo"]["info_data"]["mode"], "bridge", "{l}");
    // The name it had for the call is gone with the call.
    assert_eq!(aliases(), before, "ADD left its name for the namespace");
    ok(&h.cni("netwasm-cni", "CHECK", "c", Some(&path), &conf));
    ok(&h.cni("netwasm-cni", "DEL", "c", Some(&path), &conf));
    assert_eq!(
        c.ip(&["link", "show", "eth0"]),
        Value::Null,
        "DEL left eth0"
    );
    assert_eq!(aliases(), before, "DEL left its name for the namespace");
    assert_eq!(h.leases(), Vec::<String>::new());
    assert_eq!(h.labs(), Vec::<String>::new());
    // Not a network namespace: an invalid environment (code 4).
    let e = cni_error(&h.cni(
        "netwasm-cni",
        "ADD",
        "x",
        Some(&format!("/proc/{}/ns/uts", std::process::id())),
        &conf,
    ));
    assert_eq!(e["code"], 4, "{e}");
    // Gone: an unknown container (code 3).
    let e = cni_error(&h.cni(
        "netwasm-cni",
        "ADD",
        "y",
        Some("/proc/999999999/ns/net"),
        &conf,
    ));
    assert_eq!(e["code"], 3, "{e}");
    assert_eq!(h.leases(), Vec::<String>::new());
}
