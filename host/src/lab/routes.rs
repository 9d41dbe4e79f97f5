//! Routes: the gateway and destination checks, add, delete, list.

use super::gate::is_root;
use std::net::IpAddr;

use serde_json::json;

use super::gate::Quota;
use super::{Lab, LinkKey, Origin, desc_ns};
use crate::error::{Failure, HostResult, OpError};
use crate::ledger::Entry;
use crate::vocab::Operation;
use crate::vocab::net::Cidr;
use crate::vocab::{NETWASM_PROTO, RouteInfo, RouteSpec};

/// The metric the kernel gives a route added with `metric` (none: without
/// one): 0 for IPv4; for IPv6, 1024 (`IP6_RT_PRIO_USER`) for none and for
/// 0 alike, since IPv6 has no metric 0.
pub(super) fn effective_metric(destination: &Cidr, metric: Option<u32>) -> u32 {
    match metric {
        Some(0) | None if destination.addr.is_ipv6() => 1024,
        Some(m) => m,
        None => 0,
    }
}

impl Lab {
    fn route_spec(
        &self,
        destination: &str,
        gateway: Option<&str>,
        metric: Option<u32>,
        dev: Option<LinkKey>,
        ns: &str,
    ) -> Result<RouteSpec, OpError> {
        let mut spec = Self::parse_route(destination, gateway, metric)?;
        if let Some(k) = dev {
            let l = self.link(k)?;
            if l.ns != ns {
                return Err(OpError::invalid(format!(
                    "route to {}: dev {:?} is in {}, not {}",
                    spec.destination,
                    l.name,
                    desc_ns(&l.ns),
                    desc_ns(ns)
                )));
            }
            spec.dev = Some(l.index);
        }
        Self::check_route_target(&spec, dev.is_some())?;
        Ok(spec)
    }

    /// A route's destination, gateway and metric, checked; no dev yet.
    pub(super) fn parse_route(
        destination: &str,
        gateway: Option<&str>,
        metric: Option<u32>,
    ) -> Result<RouteSpec, OpError> {
        let gateway: Option<IpAddr> = gateway
            .map(|g| crate::vocab::net::parse_ip(g, "gateway"))
            .transpose()?;
        let dest = crate::vocab::net::parse_destination(
            destination,
            gateway.is_some_and(|g| g.is_ipv6()),
        )?;
        if let Some(gw) = gateway
            && gw.is_ipv4() != dest.addr.is_ipv4()
        {
            return Err(OpError::invalid(format!(
                "route to {dest} via {gw}: destination and gateway are of different IP families"
            )));
        }
        Ok(RouteSpec {
            destination: dest,
            gateway,
            dev: None,
            metric,
            protocol: None,
        })
    }

    /// A route must say where it goes: through a gateway, a dev, or both.
    pub(super) fn check_route_target(spec: &RouteSpec, has_dev: bool) -> Result<(), OpError> {
        if spec.gateway.is_none() && !has_dev {
            return Err(OpError::invalid(format!(
                "route to {}: give a gateway, a dev, or both",
                spec.destination
            )));
        }
        Ok(())
    }

    pub(super) fn describe_route(r: &RouteSpec, ns: &str) -> String {
        let mut s = format!(
            "route to {}",
            if r.destination.is_default() {
                "default".to_string()
            } else {
                r.destination.to_string()
            }
        );
        if let Some(g) = r.gateway {
            s += &format!(" via {g}");
        }
        if let Some(m) = r.metric {
            s += &format!(" metric {m}");
        }
        s + &format!(" in {}", desc_ns(ns))
    }

    pub async fn route_add(
        &mut self,
        ns: &str,
        destination: &str,
        gateway: Option<&str>,
        metric: Option<u32>,
        dev: Option<LinkKey>,
    ) -> HostResult<()> {
        let args = json!({ "namespace": ns, "destination": destination, "gateway": gateway, "metric": metric, "dev": dev.map(|d| self.desc_link(d)) });
        self.op(Operation::RouteAdd, args, async |lab| {
            let mut spec = lab.route_spec(destination, gateway, metric, dev, ns)?;
            let what = Self::describe_route(&spec, ns);
            let origin = lab.ns(ns)?.origin;
            if is_root(ns) {
                return Err(OpError::denied(format!(
                    "add {what}: never allowed in the root namespace"
                ))
                .into());
            }
            lab.check_builds_in(ns, &format!("add {what}"))?;
            lab.policy
                .check_route(&spec.destination, spec.gateway.as_ref())?;
            lab.gate.room(Quota::Routes, 1, &format!("add {what}"))?;
            let id = lab.ns_id(ns)?;
            // The route's whole key goes into the journal before the route
            // exists, so that it is deleted later by that key and no other
            // route: the metric the kernel would give it, and, outside the
            // lab's own namespaces, the output link the kernel would choose.
            spec.metric = Some(effective_metric(&spec.destination, spec.metric));
            if spec.dev.is_none()
                && origin != Origin::Created
                && let Some(gw) = spec.gateway
            {
                spec.dev = lab
                    .kernel
                    .route_oif(id, gw)
                    .await
                    .map_err(|e| Self::kernel_err(format!("add {what}"), e))?;
            }
            let dev_name = dev.and_then(|d| lab.links.get(&d)).map(|l| l.name.clone());
            let entry = Entry::RouteAdd {
                ns: ns.to_string(),
                destination: spec.destination.to_string(),
                gateway: spec.gateway.map(|g| g.to_string()),
                dev: dev_name,
                oif: spec.dev,
                metric: spec.metric,
            };
            let k = lab.kernel.clone();
            lab.journaled(entry, format!("add {what}"), k.route_add(id, &spec))
                .await?;
            lab.gate.usage.routes += 1;
            lab.added_routes.insert((ns.to_string(), spec.clone()));
            Ok(())
        })
        .await
    }

    /// Whether `full`, a route the kernel has in `ns`, is one the lab
    /// recorded adding: added by netwasm (its protocol), under a recorded
    /// key. A recorded key may lack its output link or metric (a version 1
    /// journal), which then match any.
    fn recorded_route(&self, ns: &str, full: &RouteSpec) -> bool {
        full.protocol == Some(NETWASM_PROTO)
            && self.added_routes.iter().any(|(n, r)| {
                n == ns
                    && r.destination == full.destination
                    && r.gateway == full.gateway
                    && r.dev.is_none_or(|d| full.dev == Some(d))
                    && r.metric.is_none_or(|m| full.metric == Some(m))
            })
    }

    pub async fn route_delete(
        &mut self,
        ns: &str,
        destination: &str,
        gateway: Option<&str>,
        metric: Option<u32>,
        dev: Option<LinkKey>,
    ) -> HostResult<()> {
        let args = json!({ "namespace": ns, "destination": destination, "gateway": gateway, "metric": metric, "dev": dev.map(|d| self.desc_link(d)) });
        self.op(Operation::RouteDelete, args, async |lab| {
            let spec = lab.route_spec(destination, gateway, metric, dev, ns)?;
            let what = Self::describe_route(&spec, ns);
            let origin = lab.ns(ns)?.origin;
            let loosely = |r: &RouteSpec| {
                r.destination == spec.destination
                    && r.gateway == spec.gateway
                    && spec.dev.is_none_or(|d| r.dev.is_none_or(|rd| rd == d))
                    && spec.metric.is_none_or(|m| r.metric.is_none_or(|rm| rm == m))
            };
            if origin != Origin::Created
                && !lab.added_routes.iter().any(|(n, r)| n == ns && loosely(r))
            {
                return Err(OpError::denied(format!(
                    "delete {what}: the lab did not add this route and did not create the namespace; a policy cannot grant this"
                ))
                .into());
            }
            // The kernel deletes the first route that matches what a delete
            // names, and an unnamed metric or output link matches any: so
            // the route is found first, and deleted by its whole key.
            let id = lab.ns_id(ns)?;
            let found: Vec<RouteSpec> = lab
                .kernel
                .route_list(id)
                .await
                .map_err(|e| Self::kernel_err(format!("delete {what}"), e))?
                .into_iter()
                .map(|r| RouteSpec {
                    destination: r.destination,
                    gateway: r.gateway,
                    dev: r.dev_index,
                    metric: Some(r.metric.unwrap_or(0)),
                    protocol: Some(r.proto),
                })
                .filter(|r| loosely(r))
                .filter(|r| origin == Origin::Created || lab.recorded_route(ns, r))
                .collect();
            let full = match &found[..] {
                [] => {
                    return Err(Failure::Op(OpError::errno(
                        format!("delete {what}"),
                        libc::ESRCH,
                    )));
                }
                [one] => one.clone(),
                several => {
                    let keys: Vec<String> = several
                        .iter()
                        .map(|r| format!("metric {}", r.metric.unwrap_or(0)))
                        .collect();
                    return Err(OpError::invalid(format!(
                        "delete {what}: {} routes match ({}); name the metric or the dev",
                        several.len(),
                        keys.join(", ")
                    ))
                    .into());
                }
            };
            let recorded = lab.recorded_route(ns, &full);
            lab.kernel
                .route_del(id, &full)
                .await
                .map_err(|e| Self::kernel_err(format!("delete {what}"), e))?;
            lab.added_routes.retain(|(n, r)| {
                !(n == ns
                    && r.destination == full.destination
                    && r.gateway == full.gateway
                    && r.dev.is_none_or(|d| full.dev == Some(d))
                    && r.metric.is_none_or(|m| full.metric == Some(m)))
            });
            if !recorded {
                // A route the kernel made (a prefix route, say), which the
                // journal does not record: nor its end.
                return Ok(());
            }
            let dev_name = dev.and_then(|d| lab.links.get(&d)).map(|l| l.name.clone());
            lab.record(Entry::RouteDelete {
                ns: ns.to_string(),
                destination: full.destination.to_string(),
                gateway: full.gateway.map(|g| g.to_string()),
                dev: dev_name,
                oif: full.dev,
                metric: full.metric,
            })?;
            Ok(())
        })
        .await
    }

    pub async fn route_list(&mut self, ns: &str) -> HostResult<Vec<RouteInfo>> {
        self.op(
            Operation::RouteList,
            json!({ "namespace": ns }),
            async |lab| {
                let id = lab.ns_id(ns)?;
                let mut routes =
                    lab.kernel.route_list(id).await.map_err(|e| {
                        Self::kernel_err(format!("list routes in {}", desc_ns(ns)), e)
                    })?;
                // In a namespace the lab did not create, a route shows only
                // through a link the guest may see; one without an output link
                // (unreachable, multipath, ...) names nothing it was granted.
                if lab.ns(ns)?.origin != Origin::Created {
                    routes.retain(|r| match (r.dev_index, r.dev.as_deref()) {
                        (Some(index), Some(dev)) => lab.link_visible(ns, Some(index), dev),
                        _ => false,
                    });
                }
                Ok(routes)
            },
        )
        .await
    }
}
