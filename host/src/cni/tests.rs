//! The CNI front end without a runtime: environments and configurations as
//! values, fake IPAM plugins as shell scripts in a temporary directory. No
//! test touches the network or needs root.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rscni_types::version::SpecVersion;
use serde_json::{Value, json};

use super::error::code;
use super::output::{self, AttachResult, ResultDns, ResultInterface, ResultIp, ResultRoute};
use super::protocol::{Command, Invocation};
use super::{CniError, ipam};

/// A fresh directory for one test, removed by the next run of the same test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("netwasm-cni-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A guest file to point `guest` at (its content is not read here).
fn guest(dir: &Path) -> PathBuf {
    let g = dir.join("plugin.wasm");
    std::fs::write(&g, b"\0asm").unwrap();
    g
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn add_env() -> HashMap<String, String> {
    env(&[
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "abc123"),
        ("CNI_NETNS", "/var/run/netns/c1"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/opt/cni/bin"),
    ])
}

fn conf(version: &str, guest: &Path, extra: Value) -> Vec<u8> {
    let mut c = json!({
        "cniVersion": version,
        "name": "lab",
        "type": "netwasm-cni",
        "guest": guest,
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    serde_json::to_vec(&c).unwrap()
}

fn parse_err(env: HashMap<String, String>, stdin: &[u8]) -> CniError {
    Invocation::parse(env, stdin).unwrap_err()
}

// ---- protocol ----

#[test]
fn a_full_add_parses() {
    let d = scratch("full-add");
    let g = guest(&d);
    let policy = d.join("policy.toml");
    std::fs::write(&policy, "").unwrap();
    let mut e = add_env();
    e.insert(
        "CNI_ARGS".into(),
        "IgnoreUnknown=1;K8S_POD_NAME=web;".into(),
    );
    e.insert("CNI_PATH".into(), "/opt/cni/bin::/usr/lib/cni".into());
    let stdin = conf(
        "1.1.0",
        &g,
        json!({
            "policy": policy, "args": {"rate": 3}, "master": "eth0",
            "mode": "bridge", "mtu": 1500, "other": true,
            "ipam": {"type": "host-local", "subnet": "10.1.0.0/24"},
            "prevResult": {"cniVersion": "1.1.0", "ips": [{"address": "10.1.0.5/24"}]},
        }),
    );
    let inv = Invocation::parse(e, &stdin).unwrap();
    assert_eq!(inv.command, Command::Add);
    assert_eq!(inv.container_id.as_deref(), Some("abc123"));
    assert_eq!(inv.netns, Some(PathBuf::from("/var/run/netns/c1")));
    assert_eq!(inv.ifname.as_deref(), Some("eth0"));
    assert_eq!(inv.arg("K8S_POD_NAME"), Some("web"));
    assert_eq!(inv.args.len(), 2);
    assert_eq!(
        inv.path,
        [PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")]
    );
    assert_eq!(inv.version, SpecVersion::new(1, 1, 0));
    assert_eq!(inv.raw_config, stdin);
    let c = inv.config.unwrap();
    assert_eq!(c.guest, g);
    assert_eq!(c.policy, Some(policy));
    assert_eq!(c.args["rate"], 3);
    assert_eq!(c.master.as_deref(), Some("eth0"));
    assert_eq!(c.mode.as_deref(), Some("bridge"));
    assert_eq!(c.mtu, Some(1500));
    assert_eq!(c.ipam().unwrap().r#type, "host-local");
    assert_eq!(c.prev_result().unwrap().ips.len(), 1);
    // Unknown keys pass through: no code 2 for them.
    assert_eq!(c.net.custom["other"], true);
}

#[test]
fn the_environment_is_checked_per_command() {
    let d = scratch("env");
    let stdin = conf("1.1.0", &guest(&d), json!({}));
    let e = parse_err(HashMap::new(), &stdin);
    assert_eq!((e.code, e.msg.as_str()), (4, "CNI_COMMAND is missing"));
    let e = parse_err(env(&[("CNI_COMMAND", "ATTACH")]), &stdin);
    assert_eq!(e.code, 4);
    assert!(e.msg.starts_with("CNI_COMMAND ATTACH: unknown"), "{e}");
    for (cmd, var) in [
        ("ADD", "CNI_NETNS"),
        ("CHECK", "CNI_NETNS"),
        ("ADD", "CNI_CONTAINERID"),
        ("DEL", "CNI_IFNAME"),
        ("DEL", "CNI_PATH"),
    ] {
        let mut e = add_env();
        e.insert("CNI_COMMAND".into(), cmd.into());
        e.remove(var);
        let err = parse_err(e, &stdin);
        assert_eq!(
            (err.code, err.msg),
            (4, format!("{var} is missing")),
            "{cmd}"
        );
    }
    // DEL without a netns: the namespace may be gone already.
    let mut e = add_env();
    e.insert("CNI_COMMAND".into(), "DEL".into());
    e.remove("CNI_NETNS");
    assert_eq!(Invocation::parse(e, &stdin).unwrap().netns, None);
    // STATUS and GC need no container.
    for cmd in ["STATUS", "GC"] {
        let e = env(&[("CNI_COMMAND", cmd), ("CNI_PATH", "/opt/cni/bin")]);
        let inv = Invocation::parse(e, &stdin).unwrap();
        assert_eq!(inv.container_id, None);
    }
}

#[test]
fn names_and_args_are_validated() {
    let d = scratch("names");
    let stdin = conf("1.0.0", &guest(&d), json!({}));
    for bad in ["eth0/1", "a:b", "a b", "abcdefghijklmnop", ".."] {
        let mut e = add_env();
        e.insert("CNI_IFNAME".into(), bad.into());
        let err = parse_err(e, &stdin);
        assert_eq!(err.code, 4, "{bad}");
        assert!(err.msg.starts_with("CNI_IFNAME "), "{err}");
    }
    let mut e = add_env();
    e.insert("CNI_CONTAINERID".into(), "-x/y".into());
    let err = parse_err(e, &stdin);
    assert_eq!(err.code, 4);
    assert!(err.msg.starts_with("CNI_CONTAINERID -x/y: "), "{err}");
    let mut e = add_env();
    e.insert("CNI_ARGS".into(), "A=1;B".into());
    let err = parse_err(e, &stdin);
    assert_eq!(
        (err.code, err.msg.as_str()),
        (4, r#"CNI_ARGS: pair "B" is not KEY=VALUE"#)
    );
}

#[test]
fn configurations_that_do_not_parse_are_code_6() {
    let e = parse_err(add_env(), b"=");
    assert_eq!(
        (e.code, e.msg.as_str()),
        (
            6,
            "network configuration: expected value at line 1 column 1"
        )
    );
    let e = parse_err(add_env(), b"  \n");
    assert_eq!(
        (e.code, e.msg.as_str()),
        (6, "network configuration: stdin is empty")
    );
    let e = parse_err(
        add_env(),
        br#"{"cniVersion": "1.x", "name": "n", "type": "t"}"#,
    );
    assert_eq!(e.code, 6);
    assert!(
        e.msg.starts_with("cniVersion: invalid version format"),
        "{e}"
    );
}

#[test]
fn versions_outside_the_supported_set_are_code_1() {
    let d = scratch("versions");
    let g = guest(&d);
    let e = parse_err(add_env(), &conf("9.9.9", &g, json!({})));
    assert_eq!(
        (e.code, e.msg.as_str()),
        (
            1,
            "cniVersion 9.9.9 is not supported (supported: 0.4.0, 1.0.0, 1.1.0)"
        )
    );
    // The crate speaks 0.3.1; netwasm does not offer it.
    assert_eq!(parse_err(add_env(), &conf("0.3.1", &g, json!({}))).code, 1);
    let absent = br#"{"name": "n", "type": "t", "guest": "/g"}"#;
    let e = parse_err(add_env(), absent);
    assert_eq!(e.code, 1);
    assert!(e.msg.contains("absent, meaning 0.1.0"), "{e}");
    // GC and STATUS are 1.1.0 verbs.
    let e = parse_err(
        env(&[("CNI_COMMAND", "GC"), ("CNI_PATH", "/p")]),
        &conf("1.0.0", &g, json!({})),
    );
    assert_eq!(e.code, 1);
    assert_eq!(e.msg, "cniVersion 1.0.0: config version does not allow GC");
    for v in ["0.4.0", "1.0.0", "1.1.0"] {
        let inv = Invocation::parse(add_env(), &conf(v, &g, json!({}))).unwrap();
        assert_eq!(inv.version.to_string(), v);
    }
}

#[test]
fn netwasm_keys_are_checked() {
    let d = scratch("keys");
    let g = guest(&d);
    let e = parse_err(
        add_env(),
        br#"{"cniVersion": "1.1.0", "name": "n", "type": "t"}"#,
    );
    assert_eq!(
        (e.code, e.msg.as_str()),
        (7, "network configuration: guest is missing")
    );
    let e = parse_err(add_env(), &conf("1.1.0", Path::new("/x.wasm"), json!({})));
    assert_eq!((e.code, e.msg.as_str()), (7, "guest /x.wasm: no such file"));
    let e = parse_err(add_env(), &conf("1.1.0", &d, json!({})));
    assert_eq!(e.code, 7);
    assert!(e.msg.ends_with(": not a regular file"), "{e}");
    let e = parse_err(add_env(), &conf("1.1.0", &g, json!({"policy": "/no.toml"})));
    assert_eq!(
        (e.code, e.msg.as_str()),
        (7, "policy /no.toml: no such file")
    );
    // STATUS: a missing guest means "cannot service ADD".
    let e = parse_err(
        env(&[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/p")]),
        &conf("1.1.0", Path::new("/x.wasm"), json!({})),
    );
    assert_eq!(
        (e.code, e.msg.as_str()),
        (50, "guest /x.wasm: no such file")
    );
    // DEL goes ahead without the files: it must clean up what is left.
    let mut del = add_env();
    del.insert("CNI_COMMAND".into(), "DEL".into());
    Invocation::parse(del, &conf("1.1.0", Path::new("/x.wasm"), json!({}))).unwrap();
    let e = parse_err(add_env(), &conf("1.1.0", &g, json!({"mtu": "big"})));
    assert_eq!(e.code, 7);
    assert!(e.msg.starts_with("network configuration: mtu: "), "{e}");
    let e = parse_err(add_env(), &conf("1.1.0", &g, json!({"mtu": 20})));
    assert_eq!(
        (e.code, e.msg.as_str()),
        (7, "network configuration: mtu 20: not in 68..=65535")
    );
    let e = parse_err(add_env(), &conf("1.1.0", &g, json!({"master": "a/b"})));
    assert_eq!(e.code, 7);
    assert!(e.msg.starts_with("network configuration: master "), "{e}");
    let e = parse_err(add_env(), &conf("1.1.0", &g, json!({"name": "bad name"})));
    assert_eq!(e.code, 7);
    assert!(e.msg.starts_with("network configuration: name: "), "{e}");
    // An ipam object without its type does not decode.
    let e = parse_err(add_env(), &conf("1.1.0", &g, json!({"ipam": {}})));
    assert_eq!(e.code, 6);
}

#[test]
fn gc_reads_the_valid_attachments_and_prev_results_of_0_4_0_read_too() {
    let d = scratch("gc");
    let g = guest(&d);
    let stdin = conf(
        "1.1.0",
        &g,
        json!({"cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}]}),
    );
    let inv = Invocation::parse(env(&[("CNI_COMMAND", "GC"), ("CNI_PATH", "/p")]), &stdin).unwrap();
    let atts = inv.config.as_ref().unwrap().valid_attachments();
    assert_eq!(
        (atts[0].container_id.as_str(), atts[0].ifname.as_str()),
        ("c1", "eth0")
    );
    // A 0.4.0 prevResult has ips[].version, which reading ignores.
    let stdin = conf(
        "0.4.0",
        &g,
        json!({"prevResult": {"cniVersion": "0.4.0",
            "ips": [{"version": "4", "address": "10.0.0.2/24", "interface": 0}]}}),
    );
    let mut e = add_env();
    e.insert("CNI_COMMAND".into(), "CHECK".into());
    let inv = Invocation::parse(e, &stdin).unwrap();
    let prev = inv.config.unwrap().net.prev_result.unwrap();
    assert_eq!(prev.ips[0].address.to_string(), "10.0.0.2/24");
}

#[test]
fn version_answers_whatever_stdin_holds() {
    let e = env(&[("CNI_COMMAND", "VERSION")]);
    let inv = Invocation::parse(e.clone(), b"").unwrap();
    assert_eq!(inv.version, SpecVersion::CURRENT);
    assert!(inv.config.is_none());
    let inv = Invocation::parse(e.clone(), br#"{"cniVersion": "0.4.0"}"#).unwrap();
    assert_eq!(inv.version, SpecVersion::new(0, 4, 0));
    let inv = Invocation::parse(e, br#"{"cniVersion": "9.9.9"}"#).unwrap();
    assert_eq!(inv.version, SpecVersion::CURRENT);
}

// ---- output ----

fn sample() -> AttachResult {
    AttachResult {
        interfaces: vec![ResultInterface {
            name: "eth0".into(),
            mac: Some("02:00:00:00:00:01".into()),
            sandbox: Some("/var/run/netns/c1".into()),
            mtu: Some(1500),
        }],
        ips: vec![
            ResultIp {
                address: "10.1.0.5/24".parse().unwrap(),
                gateway: Some("10.1.0.1".parse().unwrap()),
                interface: Some(0),
            },
            ResultIp {
                address: "fd00::5/64".parse().unwrap(),
                gateway: None,
                interface: Some(0),
            },
        ],
        routes: vec![ResultRoute {
            dst: "0.0.0.0/0".parse().unwrap(),
            gw: Some("10.1.0.1".parse().unwrap()),
        }],
        dns: ResultDns {
            nameservers: vec!["10.1.0.1".into()],
            domain: Some("lab".into()),
            search: vec![],
            options: vec![],
        },
    }
}

fn json_of(o: &output::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn add_results_take_the_layout_of_the_version_asked() {
    let o = output::add_success(SpecVersion::new(0, 4, 0), sample());
    assert_eq!(o.exit_code, 0);
    assert_eq!(
        json_of(&o),
        json!({
            "cniVersion": "0.4.0",
            "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "sandbox": "/var/run/netns/c1"}],
            "ips": [
                {"version": "4", "interface": 0, "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
                {"version": "6", "interface": 0, "address": "fd00::5/64"}
            ],
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}],
            "dns": {"nameservers": ["10.1.0.1"], "domain": "lab"}
        })
    );
    let v1 = json_of(&output::add_success(SpecVersion::new(1, 0, 0), sample()));
    assert_eq!(v1["cniVersion"], "1.0.0");
    assert_eq!(
        v1["ips"][0],
        json!({"interface": 0, "address": "10.1.0.5/24", "gateway": "10.1.0.1"})
    );
    assert!(
        v1["interfaces"][0].get("mtu").is_none(),
        "1.0.0 has no interface mtu"
    );
    let v11 = json_of(&output::add_success(SpecVersion::new(1, 1, 0), sample()));
    assert_eq!(v11["interfaces"][0]["mtu"], 1500);
    // An empty DNS is dropped from the current layout.
    let empty = json_of(&output::add_success(
        SpecVersion::new(1, 1, 0),
        AttachResult::default(),
    ));
    assert_eq!(empty, json!({"cniVersion": "1.1.0"}));
}

#[test]
fn results_convert_both_ways() {
    let spec = rscni_types::types::CNIResult::from(sample());
    assert_eq!(AttachResult::from(spec), sample());
}

#[test]
fn version_status_and_errors_serialise() {
    let o = output::version_reply(SpecVersion::new(1, 0, 0));
    assert_eq!(o.exit_code, 0);
    assert_eq!(
        json_of(&o),
        json!({"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]})
    );
    assert_eq!(output::Output::empty().stdout, b"");
    let e = CniError::new(code::POLICY_DENIED, "policy lab.toml: link create denied")
        .with_details("rule 3");
    let o = output::error("1.1.0", &e);
    assert_eq!(o.exit_code, 1);
    assert_eq!(
        json_of(&o),
        json!({"cniVersion": "1.1.0", "code": 101,
               "msg": "policy lab.toml: link create denied", "details": "rule 3"})
    );
    assert_eq!(
        output::error_version(br#"{"cniVersion": "9.9.9"}"#),
        "9.9.9"
    );
    assert_eq!(output::error_version(b"garbage"), "1.1.0");
}

// ---- IPAM delegation ----

/// A fake IPAM plugin: `body` after a shebang, executable.
fn plugin(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// An invocation whose `CNI_PATH` is `dir` and whose ipam type is `fake`.
fn ipam_invocation(dir: &Path, version: &str) -> Invocation {
    let mut e = add_env();
    e.insert("CNI_PATH".into(), format!("/nonexistent:{}", dir.display()));
    // The scripts use cat and sleep; the runtime's environment has a PATH.
    e.insert("PATH".into(), "/usr/bin:/bin".into());
    let g = guest(dir);
    let stdin = conf(
        version,
        &g,
        json!({"ipam": {"type": "fake", "subnet": "10.1.0.0/24"}}),
    );
    Invocation::parse(e, &stdin).unwrap()
}

#[test]
fn plugins_are_plain_names_found_in_cni_path() {
    let d = scratch("find");
    let a = d.join("a");
    let b = d.join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    // In a: not executable, and a directory; in b: the real one.
    std::fs::write(a.join("fake"), "").unwrap();
    std::fs::create_dir_all(a.join("dir")).unwrap();
    let found = plugin(&b, "fake", "exit 0");
    plugin(&b, "dir", "exit 0");
    let path = [a.clone(), b.clone()];
    assert_eq!(ipam::find_plugin("fake", &path).unwrap(), found);
    assert_eq!(ipam::find_plugin("dir", &path).unwrap(), b.join("dir"));
    for bad in ["../b/fake", "b/fake", "/bin/sh", "..", ""] {
        let e = ipam::find_plugin(bad, &path).unwrap_err();
        assert_eq!(e.code, 7, "{bad}");
        assert!(e.msg.ends_with("not a plain plugin name"), "{e}");
    }
    let e = ipam::find_plugin("host-local", &path).unwrap_err();
    assert_eq!(e.code, 7);
    assert!(
        e.msg
            .starts_with("ipam plugin host-local: no executable file in CNI_PATH"),
        "{e}"
    );
}

#[tokio::test]
async fn add_passes_the_same_config_and_environment_and_reads_the_result() {
    let d = scratch("ipam-add");
    let seen = d.join("seen");
    plugin(
        &d,
        "fake",
        &format!(
            r#"cat > {seen}.stdin
echo "$CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME" > {seen}.env
printf '%s' '{{"cniVersion":"0.4.0","ips":[{{"version":"4","address":"10.1.0.7/24","gateway":"10.1.0.1"}}],"dns":{{}}}}'"#,
            seen = seen.display()
        ),
    );
    let inv = ipam_invocation(&d, "0.4.0");
    let r = ipam::delegate(&inv, Command::Add, Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.ips[0].address.to_string(), "10.1.0.7/24");
    assert_eq!(std::fs::read(d.join("seen.stdin")).unwrap(), inv.raw_config);
    assert_eq!(
        std::fs::read_to_string(d.join("seen.env")).unwrap(),
        "ADD abc123 eth0\n"
    );
    // DEL: the command is overridden, nothing is parsed.
    let r = ipam::delegate(&inv, Command::Del, Duration::from_secs(10)).await;
    assert_eq!(r, Ok(None));
    assert!(
        std::fs::read_to_string(d.join("seen.env"))
            .unwrap()
            .starts_with("DEL ")
    );
}

#[tokio::test]
async fn a_plugin_error_comes_back_as_printed() {
    let d = scratch("ipam-error");
    plugin(
        &d,
        "fake",
        r#"printf '%s' '{"cniVersion":"1.1.0","code":11,"msg":"pool busy","details":"10.1.0.0/24 locked"}'
exit 1"#,
    );
    let inv = ipam_invocation(&d, "1.1.0");
    let e = ipam::delegate(&inv, Command::Add, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        CniError::new(11, "pool busy").with_details("10.1.0.0/24 locked")
    );
}

#[tokio::test]
async fn a_plugin_failing_without_an_error_object_is_an_io_failure() {
    let d = scratch("ipam-crash");
    plugin(&d, "fake", "echo 'segfault, sort of' >&2\nexit 2");
    let inv = ipam_invocation(&d, "1.1.0");
    let e = ipam::delegate(&inv, Command::Add, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(e.code, code::IO_FAILURE);
    assert_eq!(e.msg, "ipam plugin fake: exit status: 2: segfault, sort of");
}

#[tokio::test]
async fn a_result_that_does_not_parse_is_code_6() {
    let d = scratch("ipam-garbage");
    plugin(&d, "fake", "echo 'not json'");
    let inv = ipam_invocation(&d, "1.1.0");
    let e = ipam::delegate(&inv, Command::Add, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert_eq!(e.code, 6);
    assert!(e.msg.starts_with("ipam plugin fake: result: "), "{e}");
}

#[tokio::test]
async fn a_plugin_that_hangs_is_killed_at_the_timeout() {
    let d = scratch("ipam-hang");
    plugin(&d, "fake", "exec sleep 30");
    let inv = ipam_invocation(&d, "1.1.0");
    let start = std::time::Instant::now();
    let e = ipam::delegate(&inv, Command::Add, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(e.code, code::TRY_AGAIN_LATER);
    assert_eq!(e.msg, "ipam plugin fake: no answer within 300ms");
}

#[tokio::test]
async fn no_ipam_section_is_a_config_error() {
    let d = scratch("ipam-none");
    let inv = Invocation::parse(add_env(), &conf("1.1.0", &guest(&d), json!({}))).unwrap();
    let e = ipam::delegate(&inv, Command::Add, ipam::DEFAULT_TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        (e.code, e.msg.as_str()),
        (7, "network configuration: ipam is missing")
    );
}
