//! What netwasm answers: the bytes for stdout and the exit code, in the
//! version the runtime asked for. Nothing here prints: the caller writes
//! [`Output::stdout`] and exits with [`Output::exit_code`].

use std::net::IpAddr;
use std::path::PathBuf;

use rscni_types::ipnet::IpNet;
use rscni_types::legacy;
use rscni_types::types::{self, CNIResultWithVersion};
use rscni_types::version::{PluginInfo, SpecVersion};

use super::error::{CniError, Wire};
use super::protocol::SUPPORTED_VERSIONS;

/// What to print, and how to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub exit_code: i32,
}

impl Output {
    /// DEL, CHECK, GC and STATUS succeed with nothing on stdout.
    pub fn empty() -> Self {
        Self {
            stdout: Vec::new(),
            exit_code: 0,
        }
    }
}

/// An attachment's result as netwasm builds it; converted to the spec's
/// layout only when written, so one value serves every version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachResult {
    pub interfaces: Vec<ResultInterface>,
    pub ips: Vec<ResultIp>,
    pub routes: Vec<ResultRoute>,
    pub dns: ResultDns,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultInterface {
    pub name: String,
    /// `aa:bb:cc:dd:ee:ff`; `None` where there is none (e.g. a tun link).
    pub mac: Option<String>,
    /// The netns path for links inside the container (`CNI_NETNS`), `None`
    /// for links on the host.
    pub sandbox: Option<PathBuf>,
    /// Written from 1.1.0 on only; the older layouts have no such field.
    pub mtu: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultIp {
    /// The address with its prefix, e.g. `10.1.0.5/24`.
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
    /// Index into `interfaces` of the link holding the address.
    pub interface: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRoute {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultDns {
    pub nameservers: Vec<String>,
    pub domain: Option<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl From<AttachResult> for types::CNIResult {
    fn from(r: AttachResult) -> Self {
        let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
        Self {
            interfaces: r
                .interfaces
                .into_iter()
                .map(|i| types::Interface {
                    name: i.name,
                    mac: i.mac.unwrap_or_default(),
                    mtu: i.mtu,
                    sandbox: i.sandbox.map(|p| p.to_string_lossy().into_owned()),
                    socket_path: None,
                    pci_id: None,
                })
                .collect(),
            ips: r
                .ips
                .into_iter()
                .map(|ip| types::IpConfig {
                    interface: ip.interface,
                    address: ip.address,
                    gateway: ip.gateway,
                })
                .collect(),
            routes: r
                .routes
                .into_iter()
                .map(|rt| types::Route {
                    dst: rt.dst,
                    gw: rt.gw,
                    mtu: None,
                    advmss: None,
                    priority: None,
                    table: None,
                    scope: None,
                })
                .collect(),
            dns: Some(types::Dns {
                nameservers: r.dns.nameservers,
                domain: r.dns.domain,
                search: some(r.dns.search),
                options: some(r.dns.options),
            }),
        }
    }
}

/// The other way, for what comes in: an IPAM plugin's result, `prevResult`.
/// Fields netwasm does not model (route metrics, socket paths) are dropped.
impl From<types::CNIResult> for AttachResult {
    fn from(r: types::CNIResult) -> Self {
        let dns = r.dns.unwrap_or_default();
        Self {
            interfaces: r
                .interfaces
                .into_iter()
                .map(|i| ResultInterface {
                    name: i.name,
                    mac: (!i.mac.is_empty()).then_some(i.mac),
                    sandbox: i.sandbox.map(PathBuf::from),
                    mtu: i.mtu,
                })
                .collect(),
            ips: r
                .ips
                .into_iter()
                .map(|ip| ResultIp {
                    address: ip.address,
                    gateway: ip.gateway,
                    interface: ip.interface,
                })
                .collect(),
            routes: r
                .routes
                .into_iter()
                .map(|rt| ResultRoute {
                    dst: rt.dst,
                    gw: rt.gw,
                })
                .collect(),
            dns: ResultDns {
                nameservers: dns.nameservers,
                domain: dns.domain,
                search: dns.search.unwrap_or_default(),
                options: dns.options.unwrap_or_default(),
            },
        }
    }
}

/// ADD's success: the result in `version`'s layout (0.4.0: the legacy one,
/// with `ips[].version`; 1.0.0: no interface `mtu`; 1.1.0: all of it).
pub fn add_success(version: SpecVersion, result: AttachResult) -> Output {
    let mut result = types::CNIResult::from(result);
    let json = if version.is_legacy() {
        serde_json::to_vec(&legacy::CNIResult::new(version, result))
    } else {
        // 1.0.0 has no interface mtu (added by 1.1.0).
        if version < SpecVersion::new(1, 1, 0) {
            for i in &mut result.interfaces {
                i.mtu = None;
            }
        }
        serde_json::to_vec(&CNIResultWithVersion::new(version, result))
    };
    success(json)
}

/// VERSION's answer: the version asked (or the current one) and the list.
pub fn version_reply(version: SpecVersion) -> Output {
    success(serde_json::to_vec(&PluginInfo::new(
        version,
        SUPPORTED_VERSIONS.to_vec(),
    )))
}

/// The error object, reported under `cni_version`: the configuration's
/// declared version when it could be read, else the current one (see
/// [`error_version`]). Exit code 1, as the reference library's.
pub fn error(cni_version: &str, e: &CniError) -> Output {
    let json = serde_json::to_vec(&Wire {
        cni_version,
        error: e,
    })
    .expect("a CniError serialises");
    Output {
        stdout: json,
        exit_code: 1,
    }
}

/// The `cniVersion` to report an error under, from stdin as given: the
/// declared string when there is one (even an unsupported one: it tells the
/// runtime what it sent), else the current version.
pub fn error_version(stdin: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Declared {
        #[serde(rename = "cniVersion")]
        cni_version: Option<String>,
    }
    serde_json::from_slice::<Declared>(stdin)
        .ok()
        .and_then(|d| d.cni_version)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| SpecVersion::CURRENT.to_string())
}

fn success(json: serde_json::Result<Vec<u8>>) -> Output {
    // The types hold only strings, numbers and addresses: serde_json cannot
    // fail on them, so a failure is a bug, not an input error.
    let mut stdout = json.expect("a CNI result serialises");
    stdout.push(b'\n');
    Output {
        stdout,
        exit_code: 0,
    }
}
