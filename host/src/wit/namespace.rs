//! `netwasm:lab/namespace`.

use wasmtime::component::Resource;

use super::bindings::netwasm::lab::namespace::{Host, HostNetns};
use super::{LabView, NsHandle};
use crate::error::HostResult;

impl HostNetns for LabView<'_> {
    async fn name(&mut self, ns: Resource<NsHandle>) -> wasmtime::Result<String> {
        Ok(self.table.get(&ns)?.name.clone())
    }

    async fn set_forwarding(&mut self, ns: Resource<NsHandle>, on: bool) -> HostResult<()> {
        let name = self.ns_name(&ns)?;
        self.lab().ns_set_forwarding(&name, on).await
    }

    async fn drop(&mut self, ns: Resource<NsHandle>) -> wasmtime::Result<()> {
        self.drop_handle(ns)
    }
}

impl Host for LabView<'_> {
    async fn create(&mut self, name: String) -> HostResult<Resource<NsHandle>> {
        let name = self.lab().ns_create(&name).await?;
        self.push_ns(name)
    }

    async fn create_all(&mut self, names: Vec<String>) -> HostResult<Vec<Resource<NsHandle>>> {
        // A guest that could not hold the handles is stopped before any
        // namespace is made, as `push_ns` would stop it after.
        self.check_handle_room(names.len())?;
        let names = self.lab().ns_create_all(&names).await?;
        names.into_iter().map(|name| self.push_ns(name)).collect()
    }

    async fn open(&mut self, name: String) -> HostResult<Resource<NsHandle>> {
        let name = self.lab().ns_open(&name).await?;
        self.push_ns(name)
    }

    async fn root(&mut self) -> HostResult<Resource<NsHandle>> {
        let name = self.lab().ns_root().await?;
        self.push_ns(name)
    }

    async fn delete(&mut self, ns: Resource<NsHandle>) -> HostResult<()> {
        let name = self.ns_name(&ns)?;
        let result = self.lab().ns_delete(&name).await;
        // The handle is consumed whatever the outcome.
        self.drop_handle(ns)
            .map_err(|e| crate::error::Failure::Trap(e.into()))?;
        result
    }

    async fn list(&mut self) -> HostResult<Vec<String>> {
        self.lab().ns_list().await
    }
}
