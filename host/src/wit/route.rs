//! `netwasm:lab/route`.

use wasmtime::component::Resource;

use super::bindings::netwasm::lab::route::{Host, RouteInfo, RouteSpec};
use super::bindings::netwasm::lab::types::IpFamily;
use super::{LabView, LinkHandle, NsHandle};
use crate::error::HostResult;

impl LabView<'_> {
    fn dev(&self, dev: &Option<Resource<LinkHandle>>) -> HostResult<Option<crate::lab::LinkKey>> {
        dev.as_ref().map(|d| self.link_key(d)).transpose()
    }
}

impl Host for LabView<'_> {
    async fn add(
        &mut self,
        ns: Resource<NsHandle>,
        route: RouteSpec,
        dev: Option<Resource<LinkHandle>>,
    ) -> HostResult<()> {
        let ns = self.ns_name(&ns)?;
        let dev = self.dev(&dev)?;
        self.lab()
            .route_add(
                &ns,
                &route.destination,
                route.gateway.as_deref(),
                route.metric,
                dev,
            )
            .await
    }

    async fn delete(
        &mut self,
        ns: Resource<NsHandle>,
        route: RouteSpec,
        dev: Option<Resource<LinkHandle>>,
    ) -> HostResult<()> {
        let ns = self.ns_name(&ns)?;
        let dev = self.dev(&dev)?;
        self.lab()
            .route_delete(
                &ns,
                &route.destination,
                route.gateway.as_deref(),
                route.metric,
                dev,
            )
            .await
    }

    async fn list(&mut self, ns: Resource<NsHandle>) -> HostResult<Vec<RouteInfo>> {
        let ns = self.ns_name(&ns)?;
        let routes = self.lab().route_list(&ns).await?;
        Ok(routes
            .into_iter()
            .map(|r| RouteInfo {
                destination: if r.destination.is_default() {
                    "default".to_string()
                } else {
                    r.destination.to_string()
                },
                gateway: r.gateway.map(|g| g.to_string()),
                dev: r.dev,
                metric: r.metric,
                family: if r.destination.addr.is_ipv4() {
                    IpFamily::Ipv4
                } else {
                    IpFamily::Ipv6
                },
                protocol: r.protocol,
                scope: r.scope,
                source: r.source.map(|s| s.to_string()),
            })
            .collect())
    }
}
