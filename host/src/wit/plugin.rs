//! World `netwasm:lab/plugin` on the host side: its bindings, which reuse
//! the `lab` world's interfaces (one implementation of namespaces, links,
//! addresses, routes and probes for both worlds), the `cni` interface,
//! whose IPAM calls go to an [`IpamDelegate`], and the conversions between
//! the WIT records and [`crate::vocab::cni`], so that the CNI protocol
//! layer never sees WIT types.

use async_trait::async_trait;
use wasmtime::component::Linker;

use super::{HasLab, LabView};
use crate::error::{Failure, HostResult, OpError};
use crate::vocab::cni as v;

/// The generated bindings. `bindings::Plugin` is the guest's world.
pub mod bindings {
    wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    trappable_error_type: {
        "netwasm:lab/types.error" => crate::error::Failure,
    },
    // The shared interfaces are the `lab` world's, so that their host
    // implementations (and resource types) serve both worlds.
    with: {
        "netwasm:lab/types": crate::wit::bindings::netwasm::lab::types,
        "netwasm:lab/namespace": crate::wit::bindings::netwasm::lab::namespace,
        "netwasm:lab/link": crate::wit::bindings::netwasm::lab::link,
        "netwasm:lab/addr": crate::wit::bindings::netwasm::lab::addr,
        "netwasm:lab/route": crate::wit::bindings::netwasm::lab::route,
        "netwasm:lab/probe": crate::wit::bindings::netwasm::lab::probe,
    },
    });
}

use bindings::netwasm::lab::cni as w;

/// Runs the configured IPAM plugin for the attachment being served, with
/// the environment and configuration of the CNI call. The protocol layer
/// implements it; the guest reaches it through `cni.ipam-*`.
///
/// An `Err` goes back to the guest as its `error` value (the guest may
/// handle it), never as a trap: the IPAM plugin failing is not the
/// host failing.
#[async_trait]
pub trait IpamDelegate: Send + Sync {
    /// IPAM ADD: what it allocated.
    async fn add(&self) -> Result<v::CniResult, OpError>;
    /// IPAM DEL: releases the allocation.
    async fn del(&self) -> Result<(), OpError>;
    /// IPAM CHECK: whether the allocation holds.
    async fn check(&self) -> Result<(), OpError>;
}

/// Adds the `netwasm:lab/plugin` world's interfaces (the shared ones and
/// `cni`) to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> LabView<'_>,
) -> wasmtime::Result<()> {
    bindings::Plugin::add_to_linker::<T, HasLab>(linker, get)
}

impl LabView<'_> {
    /// The run's IPAM, or the guest's error when it has none.
    fn ipam(&self) -> HostResult<std::sync::Arc<dyn IpamDelegate>> {
        self.state
            .ipam
            .clone()
            .ok_or_else(|| Failure::Op(OpError::invalid("this run has no IPAM")))
    }
}

impl w::Host for LabView<'_> {
    async fn ipam_add(&mut self) -> HostResult<w::CniResult> {
        // The delegate is cloned out so that the call borrows nothing of
        // the store while the IPAM plugin runs.
        let ipam = self.ipam()?;
        Ok(ipam.add().await?.into())
    }

    async fn ipam_del(&mut self) -> HostResult<()> {
        let ipam = self.ipam()?;
        Ok(ipam.del().await?)
    }

    async fn ipam_check(&mut self) -> HostResult<()> {
        let ipam = self.ipam()?;
        Ok(ipam.check().await?)
    }
}

// Conversions, field by field: both sides are plain records.

impl From<v::CniResult> for w::CniResult {
    fn from(r: v::CniResult) -> Self {
        Self {
            interfaces: r.interfaces.into_iter().map(Into::into).collect(),
            ips: r.ips.into_iter().map(Into::into).collect(),
            routes: r.routes.into_iter().map(Into::into).collect(),
            dns: r.dns.map(Into::into),
        }
    }
}

impl From<w::CniResult> for v::CniResult {
    fn from(r: w::CniResult) -> Self {
        Self {
            interfaces: r.interfaces.into_iter().map(Into::into).collect(),
            ips: r.ips.into_iter().map(Into::into).collect(),
            routes: r.routes.into_iter().map(Into::into).collect(),
            dns: r.dns.map(Into::into),
        }
    }
}

impl From<v::CniInterface> for w::CniInterface {
    fn from(i: v::CniInterface) -> Self {
        Self {
            name: i.name,
            mac: i.mac,
            sandbox: i.sandbox,
        }
    }
}

impl From<w::CniInterface> for v::CniInterface {
    fn from(i: w::CniInterface) -> Self {
        Self {
            name: i.name,
            mac: i.mac,
            sandbox: i.sandbox,
        }
    }
}

impl From<v::CniIp> for w::CniIp {
    fn from(i: v::CniIp) -> Self {
        Self {
            address: i.address,
            gateway: i.gateway,
            interface: i.interface,
        }
    }
}

impl From<w::CniIp> for v::CniIp {
    fn from(i: w::CniIp) -> Self {
        Self {
            address: i.address,
            gateway: i.gateway,
            interface: i.interface,
        }
    }
}

impl From<v::CniRoute> for w::CniRoute {
    fn from(r: v::CniRoute) -> Self {
        Self {
            dst: r.dst,
            gw: r.gw,
        }
    }
}

impl From<w::CniRoute> for v::CniRoute {
    fn from(r: w::CniRoute) -> Self {
        Self {
            dst: r.dst,
            gw: r.gw,
        }
    }
}

impl From<v::CniDns> for w::CniDns {
    fn from(d: v::CniDns) -> Self {
        Self {
            nameservers: d.nameservers,
            domain: d.domain,
            search: d.search,
            options: d.options,
        }
    }
}

impl From<w::CniDns> for v::CniDns {
    fn from(d: w::CniDns) -> Self {
        Self {
            nameservers: d.nameservers,
            domain: d.domain,
            search: d.search,
            options: d.options,
        }
    }
}

impl From<v::Attachment> for w::Attachment {
    fn from(a: v::Attachment) -> Self {
        Self {
            container_id: a.container_id,
            ifname: a.ifname,
            network: a.network,
            config: a.config,
            args: a.args,
            prev_result: a.prev_result.map(Into::into),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_convert_both_ways_unchanged() {
        let r = v::CniResult {
            interfaces: vec![v::CniInterface {
                name: "eth0".into(),
                mac: Some("02:00:00:00:00:01".into()),
                sandbox: Some("/run/netns/c1".into()),
            }],
            ips: vec![v::CniIp {
                address: "10.0.0.5/24".into(),
                gateway: Some("10.0.0.1".into()),
                interface: Some(0),
            }],
            routes: vec![v::CniRoute {
                dst: "0.0.0.0/0".into(),
                gw: None,
            }],
            dns: Some(v::CniDns {
                nameservers: vec!["10.0.0.1".into()],
                domain: Some("lab".into()),
                search: vec!["lab".into()],
                options: vec!["ndots:2".into()],
            }),
        };
        let wit: w::CniResult = r.clone().into();
        assert_eq!(v::CniResult::from(wit), r);
    }
}
