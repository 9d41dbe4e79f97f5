//! `netwasm:lab/addr`.

use wasmtime::component::Resource;

use super::bindings::netwasm::lab::addr::{AddressInfo, Host};
use super::bindings::netwasm::lab::types::IpFamily;
use super::{LabView, LinkHandle};
use crate::error::HostResult;

impl Host for LabView<'_> {
    async fn add(&mut self, link: Resource<LinkHandle>, cidr: String) -> HostResult<()> {
        let key = self.link_key(&link)?;
        self.lab().addr_add(key, &cidr).await
    }

    async fn delete(&mut self, link: Resource<LinkHandle>, cidr: String) -> HostResult<()> {
        let key = self.link_key(&link)?;
        self.lab().addr_delete(key, &cidr).await
    }

    async fn list(&mut self, link: Resource<LinkHandle>) -> HostResult<Vec<AddressInfo>> {
        let key = self.link_key(&link)?;
        let addrs = self.lab().addr_list(key).await?;
        Ok(addrs
            .into_iter()
            .map(|a| AddressInfo {
                address: a.cidr.addr.to_string(),
                prefix_len: a.cidr.prefix,
                family: if a.cidr.addr.is_ipv4() {
                    IpFamily::Ipv4
                } else {
                    IpFamily::Ipv6
                },
                scope: a.scope,
            })
            .collect())
    }
}
