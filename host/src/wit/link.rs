//! `netwasm:lab/link`.

use wasmtime::component::Resource;

use super::bindings::netwasm::lab::link::{
    Host, HostLink, LinkInfo, MacvlanConfig, MacvlanMode, OperState, VxlanConfig, VxlanInfo,
};
use super::{LabView, LinkHandle, NsHandle};
use crate::error::{Failure, HostResult};
use crate::lab;
use crate::vocab::net::Mac;
use crate::vocab::{self, LinkChange};

impl From<MacvlanMode> for vocab::MacvlanMode {
    fn from(m: MacvlanMode) -> Self {
        match m {
            MacvlanMode::Private => Self::Private,
            MacvlanMode::Vepa => Self::Vepa,
            MacvlanMode::Bridge => Self::Bridge,
            MacvlanMode::Passthru => Self::Passthru,
            MacvlanMode::Source => Self::Source,
        }
    }
}

impl From<vocab::MacvlanMode> for MacvlanMode {
    fn from(m: vocab::MacvlanMode) -> Self {
        match m {
            vocab::MacvlanMode::Private => Self::Private,
            vocab::MacvlanMode::Vepa => Self::Vepa,
            vocab::MacvlanMode::Bridge => Self::Bridge,
            vocab::MacvlanMode::Passthru => Self::Passthru,
            vocab::MacvlanMode::Source => Self::Source,
        }
    }
}

impl From<vocab::OperState> for OperState {
    fn from(s: vocab::OperState) -> Self {
        match s {
            vocab::OperState::Unknown => Self::Unknown,
            vocab::OperState::NotPresent => Self::NotPresent,
            vocab::OperState::Down => Self::Down,
            vocab::OperState::LowerLayerDown => Self::LowerLayerDown,
            vocab::OperState::Testing => Self::Testing,
            vocab::OperState::Dormant => Self::Dormant,
            vocab::OperState::Up => Self::Up,
        }
    }
}

impl From<vocab::LinkInfo> for LinkInfo {
    fn from(i: vocab::LinkInfo) -> Self {
        Self {
            index: i.index,
            name: i.name,
            namespace: i.namespace,
            kind: i.kind,
            mac: i.mac.map(|m| m.to_string()),
            mtu: i.mtu,
            admin_up: i.admin_up,
            state: i.state.into(),
            parent_index: i.parent_index,
            parent_name: i.parent_name,
            parent_namespace: i.parent_namespace,
            macvlan_mode: i.macvlan_mode.map(Into::into),
            master: i.master,
            hairpin: i.hairpin,
        }
    }
}

impl From<MacvlanConfig> for lab::MacvlanConfig {
    fn from(c: MacvlanConfig) -> Self {
        Self {
            name: c.name,
            mode: c.mode.map(Into::into),
            mac: c.mac,
            mtu: c.mtu,
        }
    }
}

impl From<VxlanConfig> for lab::VxlanConfig {
    fn from(c: VxlanConfig) -> Self {
        Self {
            id: c.id,
            local: c.local,
            remote: c.remote,
            group: c.group,
            device: c.device,
            port: c.port,
            learning: c.learning,
            ttl: c.ttl,
        }
    }
}

impl From<vocab::Vxlan> for VxlanInfo {
    fn from(v: vocab::Vxlan) -> Self {
        Self {
            id: v.id,
            local: v.local.map(|a| a.to_string()),
            remote: v.remote.map(|a| a.to_string()),
            group: v.group.map(|a| a.to_string()),
            device: v.device_name,
            port: v.port,
            learning: v.learning,
            ttl: v.ttl,
        }
    }
}

impl LabView<'_> {
    fn target(&self, target: &Option<Resource<NsHandle>>) -> HostResult<Option<String>> {
        target.as_ref().map(|t| self.ns_name(t)).transpose()
    }

    async fn set(&mut self, link: Resource<LinkHandle>, change: LinkChange) -> HostResult<()> {
        let key = self.link_key(&link)?;
        self.lab().link_set(key, change).await
    }
}

impl HostLink for LabView<'_> {
    async fn name(&mut self, link: Resource<LinkHandle>) -> wasmtime::Result<String> {
        let key = self.table.get(&link)?.key;
        Ok(self
            .lab()
            .link_names(key)
            .map(|(n, _)| n)
            .unwrap_or_default())
    }

    async fn namespace(&mut self, link: Resource<LinkHandle>) -> wasmtime::Result<String> {
        let key = self.table.get(&link)?.key;
        Ok(self
            .lab()
            .link_names(key)
            .map(|(_, ns)| ns)
            .unwrap_or_default())
    }

    async fn info(&mut self, link: Resource<LinkHandle>) -> HostResult<LinkInfo> {
        let key = self.link_key(&link)?;
        Ok(self.lab().link_info(key).await?.into())
    }

    async fn vxlan_info(&mut self, link: Resource<LinkHandle>) -> HostResult<Option<VxlanInfo>> {
        let key = self.link_key(&link)?;
        Ok(self.lab().link_info(key).await?.vxlan.map(Into::into))
    }

    async fn set_up(&mut self, link: Resource<LinkHandle>) -> HostResult<()> {
        self.set(link, LinkChange::Up).await
    }

    async fn set_down(&mut self, link: Resource<LinkHandle>) -> HostResult<()> {
        self.set(link, LinkChange::Down).await
    }

    async fn set_mtu(&mut self, link: Resource<LinkHandle>, mtu: u32) -> HostResult<()> {
        self.set(link, LinkChange::Mtu(mtu)).await
    }

    async fn set_mac(&mut self, link: Resource<LinkHandle>, mac: String) -> HostResult<()> {
        let mac = Mac::parse_unicast(&mac)?;
        self.set(link, LinkChange::Mac(mac)).await
    }

    async fn set_master(
        &mut self,
        link: Resource<LinkHandle>,
        bridge: Resource<LinkHandle>,
    ) -> HostResult<()> {
        let key = self.link_key(&link)?;
        let bridge = self.link_key(&bridge)?;
        self.lab().link_set_master(key, bridge).await
    }

    async fn unset_master(&mut self, link: Resource<LinkHandle>) -> HostResult<()> {
        self.set(link, LinkChange::Master(None)).await
    }

    async fn set_hairpin(&mut self, link: Resource<LinkHandle>, on: bool) -> HostResult<()> {
        self.set(link, LinkChange::Hairpin(on)).await
    }

    async fn move_to(
        &mut self,
        link: Resource<LinkHandle>,
        ns: Resource<NsHandle>,
        new_name: Option<String>,
    ) -> HostResult<()> {
        let key = self.link_key(&link)?;
        let ns = self.ns_name(&ns)?;
        self.lab().link_move(key, &ns, new_name).await
    }

    async fn drop(&mut self, link: Resource<LinkHandle>) -> wasmtime::Result<()> {
        self.drop_handle(link)
    }
}

impl Host for LabView<'_> {
    async fn add_macvlan(
        &mut self,
        parent: Resource<LinkHandle>,
        config: MacvlanConfig,
        target: Option<Resource<NsHandle>>,
    ) -> HostResult<Resource<LinkHandle>> {
        let parent = self.link_key(&parent)?;
        let target = self.target(&target)?;
        let key = self
            .lab()
            .add_macvlan(parent, config.into(), target)
            .await?;
        self.push_link(key)
    }

    async fn add_macvlan_on(
        &mut self,
        ns: Resource<NsHandle>,
        parent: String,
        config: MacvlanConfig,
        target: Option<Resource<NsHandle>>,
    ) -> HostResult<Resource<LinkHandle>> {
        let ns = self.ns_name(&ns)?;
        let target = self.target(&target)?;
        let key = self
            .lab()
            .add_macvlan_on(&ns, &parent, config.into(), target)
            .await?;
        self.push_link(key)
    }

    async fn add_veth(
        &mut self,
        ns: Resource<NsHandle>,
        name: String,
        peer_ns: Resource<NsHandle>,
        peer_name: String,
    ) -> HostResult<(Resource<LinkHandle>, Resource<LinkHandle>)> {
        let ns = self.ns_name(&ns)?;
        let peer_ns = self.ns_name(&peer_ns)?;
        let (a, b) = self
            .lab()
            .add_veth(&ns, &name, &peer_ns, &peer_name)
            .await?;
        Ok((self.push_link(a)?, self.push_link(b)?))
    }

    async fn add_bridge(
        &mut self,
        ns: Resource<NsHandle>,
        name: String,
    ) -> HostResult<Resource<LinkHandle>> {
        let ns = self.ns_name(&ns)?;
        let key = self.lab().add_bridge(&ns, &name).await?;
        self.push_link(key)
    }

    async fn add_vxlan(
        &mut self,
        ns: Resource<NsHandle>,
        name: String,
        config: VxlanConfig,
    ) -> HostResult<Resource<LinkHandle>> {
        let ns = self.ns_name(&ns)?;
        let key = self.lab().add_vxlan(&ns, &name, config.into()).await?;
        self.push_link(key)
    }

    async fn get(
        &mut self,
        ns: Resource<NsHandle>,
        name: String,
    ) -> HostResult<Resource<LinkHandle>> {
        let ns = self.ns_name(&ns)?;
        let key = self.lab().link_get(&ns, &name).await?;
        self.push_link(key)
    }

    async fn list(&mut self, ns: Resource<NsHandle>) -> HostResult<Vec<LinkInfo>> {
        let ns = self.ns_name(&ns)?;
        Ok(self
            .lab()
            .link_list(&ns)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    async fn delete(&mut self, link: Resource<LinkHandle>) -> HostResult<()> {
        let key = self.link_key(&link)?;
        let result = self.lab().link_delete(key).await;
        self.drop_handle(link)
            .map_err(|e| Failure::Trap(e.into()))?;
        result
    }
}
