//! The CNI invocation: the `CNI_*` environment and the network configuration
//! on stdin, checked and parsed into an [`Invocation`].
//!
//! [`Invocation::parse`] takes the environment and stdin as values so the
//! whole front end is testable without a process; `cni::main` reads the
//! real ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rscni_types::types::{
    CNI_ARGS, CNI_COMMAND, CNI_CONTAINERID, CNI_IFNAME, CNI_NETNS, CNI_PATH, GcAttachment, Ipam,
    NetConf,
};
use rscni_types::version::SpecVersion;
use serde_json::{Map, Value};

use super::error::{CniError, code};

pub use rscni_types::types::{CNIResult, Cmd as Command};

/// The versions netwasm answers in. `rscni-types` also speaks 0.3.0 and
/// 0.3.1 (same result layout as 0.4.0), but those predate CHECK and no
/// maintained runtime asks for them; 0.1.0/0.2.0 (the `ip4`/`ip6` layout)
/// the crate cannot write at all.
pub const SUPPORTED_VERSIONS: [SpecVersion; 3] = [
    SpecVersion::new(0, 4, 0),
    SpecVersion::new(1, 0, 0),
    SpecVersion::new(1, 1, 0),
];

/// The version of anything netwasm writes unasked (VERSION without a usable
/// `cniVersion`, errors before the configuration could be read).
pub const CURRENT_VERSION: SpecVersion = SpecVersion::CURRENT;

/// One execution of the plugin by the runtime.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub command: Command,
    /// `CNI_CONTAINERID`: required for ADD, DEL and CHECK.
    pub container_id: Option<String>,
    /// `CNI_NETNS`: required for ADD and CHECK, optional for DEL (the
    /// namespace may already be gone), absent for the others.
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME`: required for ADD, DEL and CHECK.
    pub ifname: Option<String>,
    /// `CNI_ARGS`, `K=V;K=V`, in order.
    pub args: Vec<(String, String)>,
    /// `CNI_PATH`, split on ':'; where delegated plugins are looked for.
    pub path: Vec<PathBuf>,
    /// The version to answer in: the configuration's `cniVersion` (checked
    /// to be one of [`SUPPORTED_VERSIONS`]); for VERSION, the one asked if
    /// supported, else [`CURRENT_VERSION`].
    pub version: SpecVersion,
    /// The network configuration; `None` only for VERSION.
    pub config: Option<Config>,
    /// stdin as the runtime gave it: a delegated plugin gets these bytes.
    pub raw_config: Vec<u8>,
    /// The whole environment: a delegated plugin gets the same one.
    pub env: HashMap<String, String>,
}

/// The network configuration: the spec's keys (in `net`) and netwasm's own.
#[derive(Debug, Clone)]
pub struct Config {
    /// The whole document as the spec reads it; `ipam`, `prevResult`,
    /// `cni.dev/valid-attachments` and unknown keys are there too.
    pub net: NetConf,
    /// `guest`: the plugin component to run.
    pub guest: PathBuf,
    /// `policy`: the policy file confining the guest.
    pub policy: Option<PathBuf>,
    /// `args`: handed to the guest as is.
    pub args: Map<String, Value>,
    /// `master`: the host link to attach through (macvlan/ipvlan style).
    pub master: Option<String>,
    /// `mode`: e.g. `bridge`; its meaning is the guest's.
    pub mode: Option<String>,
    pub mtu: Option<u32>,
}

impl Config {
    pub fn ipam(&self) -> Option<&Ipam> {
        self.net.ipam.as_ref()
    }

    pub fn prev_result(&self) -> Option<&CNIResult> {
        self.net.prev_result.as_ref()
    }

    /// GC: the attachments the runtime still knows; the others may go.
    pub fn valid_attachments(&self) -> &[GcAttachment] {
        self.net.valid_attachments.as_deref().unwrap_or(&[])
    }
}

impl Invocation {
    /// Checks and parses an invocation. The order follows the reference
    /// library (skel): command, then the variables it requires, then the
    /// configuration, then the version.
    pub fn parse(env: HashMap<String, String>, stdin: &[u8]) -> Result<Self, CniError> {
        let command = command(&env)?;
        let (container_id, netns, ifname, path) = {
            use Command::*;
            let req = |cmds: &[Command]| cmds.contains(&command);
            let container_id = var(&env, CNI_CONTAINERID, req(&[Add, Del, Check]))?;
            let netns = var(&env, CNI_NETNS, req(&[Add, Check]))?;
            let ifname = var(&env, CNI_IFNAME, req(&[Add, Del, Check]))?;
            let path = var(&env, CNI_PATH, req(&[Add, Del, Check, Gc, Status]))?;
            (container_id, netns, ifname, path)
        };
        if let Some(id) = &container_id {
            check_container_id(id)?;
        }
        if let Some(name) = &ifname {
            check_link_name(CNI_IFNAME, name).map_err(CniError::env)?;
        }
        let args = cni_args(env.get(CNI_ARGS).map_or("", String::as_str))?;
        let path = path
            .as_deref()
            .unwrap_or("")
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();

        let (version, config) = if command == Command::Version {
            (version_asked(stdin), None)
        } else {
            let net = net_conf(stdin)?;
            let version = check_version(&net, command)?;
            (version, Some(config(net, command)?))
        };
        Ok(Self {
            command,
            container_id,
            netns: netns.map(PathBuf::from),
            ifname,
            args,
            path,
            version,
            config,
            raw_config: stdin.to_vec(),
            env,
        })
    }

    /// The `CNI_ARGS` value for `key`, if given.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn command(env: &HashMap<String, String>) -> Result<Command, CniError> {
    match env.get(CNI_COMMAND).map(String::as_str) {
        None | Some("") => Err(CniError::env("CNI_COMMAND is missing")),
        Some(c) => c.parse().map_err(|_| {
            CniError::env(format!(
                "CNI_COMMAND {c}: unknown (expected ADD, DEL, CHECK, GC, STATUS or VERSION)"
            ))
        }),
    }
}

/// A variable's value; an empty one counts as missing, as in skel.
fn var(
    env: &HashMap<String, String>,
    name: &str,
    required: bool,
) -> Result<Option<String>, CniError> {
    match env.get(name).filter(|v| !v.is_empty()) {
        Some(v) => Ok(Some(v.clone())),
        None if required => Err(CniError::env(format!("{name} is missing"))),
        None => Ok(None),
    }
}

fn check_container_id(id: &str) -> Result<(), CniError> {
    // The spec's rule, shared with network names; the crate has the check.
    id.parse::<rscni_types::types::ContainerId>()
        .map(drop)
        .map_err(|_| {
            CniError::env(format!(
                "{CNI_CONTAINERID} {id}: must be an ASCII letter or digit then letters, digits, '_', '.' or '-'"
            ))
        })
}

/// The kernel's rule for link names (`dev_valid_name`): what the interface
/// will be called in the container, or the host link named by `master`.
pub fn check_link_name(what: &str, name: &str) -> Result<(), String> {
    let bad = if name.len() > 15 {
        Some("longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("is . or ..")
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
    {
        Some("contains '/', ':' or whitespace")
    } else {
        None
    };
    match bad {
        Some(why) => Err(format!("{what} {name:?}: {why}")),
        None => Ok(()),
    }
}

/// `CNI_ARGS`: `K=V` pairs separated by ';'. Empty pairs (a trailing ';')
/// are skipped; a pair without '=' is an error, as in the reference library.
fn cni_args(s: &str) -> Result<Vec<(String, String)>, CniError> {
    s.split(';')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(CniError::env(format!(
                "{CNI_ARGS}: pair {p:?} is not KEY=VALUE"
            ))),
        })
        .collect()
}

/// VERSION is answered whatever stdin holds: a runtime asks it to learn
/// what to send, so refusing it for a bad version would help nobody.
fn version_asked(stdin: &[u8]) -> SpecVersion {
    #[derive(serde::Deserialize)]
    struct Asked {
        #[serde(rename = "cniVersion")]
        cni_version: Option<String>,
    }
    serde_json::from_slice::<Asked>(stdin)
        .ok()
        .and_then(|a| a.cni_version)
        .and_then(|v| v.parse::<SpecVersion>().ok())
        .filter(|v| SUPPORTED_VERSIONS.contains(v))
        .unwrap_or(CURRENT_VERSION)
}

fn net_conf(stdin: &[u8]) -> Result<NetConf, CniError> {
    if stdin.iter().all(u8::is_ascii_whitespace) {
        return Err(CniError::decode("network configuration: stdin is empty"));
    }
    serde_json::from_slice(stdin)
        .map_err(|e| CniError::decode(format!("network configuration: {e}")))
}

fn check_version(net: &NetConf, command: Command) -> Result<SpecVersion, CniError> {
    let version = net
        .version()
        .map_err(|e| CniError::from_rscni("cniVersion", &e))?;
    if !SUPPORTED_VERSIONS.contains(&version) {
        let supported: Vec<String> = SUPPORTED_VERSIONS.iter().map(|v| v.to_string()).collect();
        let declared = if net.cni_version.is_empty() {
            "(absent, meaning 0.1.0)"
        } else {
            net.cni_version.as_str()
        };
        return Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "cniVersion {declared} is not supported (supported: {})",
                supported.join(", ")
            ),
        ));
    }
    // GC and STATUS exist from 1.1.0 on; CHECK from 0.4.0 (all supported).
    version
        .allows(command)
        .map_err(|e| CniError::from_rscni(&format!("cniVersion {version}"), &e))?;
    Ok(version)
}

/// netwasm's keys, typed, from the configuration's unknown keys.
fn config(net: NetConf, command: Command) -> Result<Config, CniError> {
    net.validate_name()
        .map_err(|e| CniError::from_rscni("network configuration: name", &e))?;
    let guest: PathBuf = key(&net, "guest")?
        .ok_or_else(|| CniError::config("network configuration: guest is missing"))?;
    let policy: Option<PathBuf> = key(&net, "policy")?;
    // DEL must succeed on what is left (spec: "should not return an error
    // if resources are missing"), so a deleted guest or policy file does
    // not block it; the orchestration undoes from its ledger.
    if command != Command::Del {
        let files = check_file("guest", &guest).and_then(|()| {
            policy
                .as_deref()
                .map_or(Ok(()), |p| check_file("policy", p))
        });
        // For STATUS a missing file is the answer, not a bad request: the
        // plugin cannot service ADD (spec 1.1 code 50).
        files.map_err(|e| match command {
            Command::Status => CniError::new(code::PLUGIN_NOT_AVAILABLE, e.msg),
            _ => e,
        })?;
    }
    let args = match net.args.clone() {
        Some(a) => a.into_iter().collect(),
        None => Map::new(),
    };
    let master: Option<String> = key(&net, "master")?;
    if let Some(m) = &master {
        check_link_name("network configuration: master", m).map_err(CniError::config)?;
    }
    let mode = key(&net, "mode")?;
    let mtu: Option<u32> = key(&net, "mtu")?;
    if let Some(m) = mtu {
        // IPv4's minimum link MTU (RFC 791) and the largest the kernel sets.
        if !(68..=65535).contains(&m) {
            return Err(CniError::config(format!(
                "network configuration: mtu {m}: not in 68..=65535"
            )));
        }
    }
    Ok(Config {
        net,
        guest,
        policy,
        args,
        master,
        mode,
        mtu,
    })
}

/// An optional key of `net.custom`, typed; `null` reads as absent.
fn key<T: serde::de::DeserializeOwned>(net: &NetConf, name: &str) -> Result<Option<T>, CniError> {
    match net.custom.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| CniError::config(format!("network configuration: {name}: {e}"))),
    }
}

/// The file must exist and be a regular file (after symlinks).
fn check_file(what: &str, path: &Path) -> Result<(), CniError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(CniError::config(format!(
            "{what} {}: not a regular file",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CniError::config(format!(
            "{what} {}: no such file",
            path.display()
        ))),
        Err(e) => Err(CniError::io(format!("{what} {}: {e}", path.display()))),
    }
}
