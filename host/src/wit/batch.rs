//! `netwasm:lab/batch`.

use wasmtime::component::Resource;

use super::bindings::netwasm::lab::batch::{Host, NamespacePlan, NewLink, NewVxlan};
use super::{LabView, NsHandle};
use crate::error::HostResult;
use crate::lab::{NsPlan, PlanLink, PlanRoute, PlanVxlan};

impl From<NamespacePlan> for NsPlan {
    fn from(p: NamespacePlan) -> Self {
        NsPlan {
            name: p.name,
            links: p
                .links
                .into_iter()
                .map(|l| match l {
                    NewLink::Macvlan(m) => PlanLink::Macvlan {
                        parent_ns: m.parent_namespace,
                        parent: m.parent,
                        config: m.config.into(),
                    },
                    NewLink::Bridge(name) => PlanLink::Bridge(name),
                })
                .collect(),
            up: p.up,
            addresses: p.addresses.into_iter().map(|a| (a.link, a.cidr)).collect(),
            routes: p
                .routes
                .into_iter()
                .map(|r| PlanRoute {
                    destination: r.route.destination,
                    gateway: r.route.gateway,
                    metric: r.route.metric,
                    dev: r.dev,
                })
                .collect(),
        }
    }
}

impl Host for LabView<'_> {
    async fn build(&mut self, plans: Vec<NamespacePlan>) -> HostResult<Vec<Resource<NsHandle>>> {
        // As `create-all`: a guest that could not hold the handles is
        // stopped before anything is made.
        self.check_handle_room(plans.len())?;
        let plans: Vec<NsPlan> = plans.into_iter().map(Into::into).collect();
        let names = self.lab().build(&plans).await?;
        names.into_iter().map(|name| self.push_ns(name)).collect()
    }

    async fn build_with_vxlans(
        &mut self,
        plans: Vec<NamespacePlan>,
        vxlans: Vec<NewVxlan>,
    ) -> HostResult<Vec<Resource<NsHandle>>> {
        self.check_handle_room(plans.len())?;
        let plans: Vec<NsPlan> = plans.into_iter().map(Into::into).collect();
        let vxlans = vxlans
            .into_iter()
            .map(|v| PlanVxlan {
                namespace: v.namespace,
                name: v.name,
                config: v.config.into(),
            })
            .collect();
        let names = self.lab().build_with_vxlans(plans, vxlans).await?;
        names.into_iter().map(|name| self.push_ns(name)).collect()
    }
}
