//! What a CNI plugin returns and is given, as plain Rust values: the
//! protocol layer reads and writes these (they serialize to the CNI 1.x
//! JSON field names) and never sees the WIT bindings, which convert to
//! and from them in `wit::plugin`.

use serde::{Deserialize, Serialize};

/// A CNI 1.x result (`interfaces`, `ips`, `routes`, `dns`), without the
/// `cniVersion`, which the protocol layer adds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniResult {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<CniInterface>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<CniIp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<CniRoute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<CniDns>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniInterface {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The namespace path; none for host interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniIp {
    /// CIDR notation.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Index into [`CniResult::interfaces`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniRoute {
    pub dst: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniDns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One attachment of a container to a network, as the protocol layer
/// parsed it: what a plugin's export is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attachment {
    /// `CNI_CONTAINERID`.
    pub container_id: String,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// The network's `name`.
    pub network: String,
    /// The network configuration JSON as given on stdin.
    pub config: String,
    /// `CNI_ARGS`, in order.
    pub args: Vec<(String, String)>,
    /// `prevResult`, if the configuration had one.
    pub prev_result: Option<CniResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_to_cni_field_names_and_skips_empties() {
        let r = CniResult {
            interfaces: vec![CniInterface {
                name: "eth0".into(),
                mac: Some("aa:bb:cc:dd:ee:ff".into()),
                sandbox: None,
            }],
            ips: vec![CniIp {
                address: "10.0.0.5/24".into(),
                gateway: Some("10.0.0.1".into()),
                interface: Some(0),
            }],
            routes: vec![],
            dns: None,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"interfaces":[{"name":"eth0","mac":"aa:bb:cc:dd:ee:ff"}],"ips":[{"address":"10.0.0.5/24","gateway":"10.0.0.1","interface":0}]}"#
        );
        let back: CniResult = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
