//! `netwasm check`: can this guest run under this policy? Answered without
//! running it and without privileges.

use super::{CheckArgs, Exit};
use crate::policy::Policy;
use crate::runtime::{Runtime, imports};

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `100-199, 4242`.
fn ranges(items: &[std::ops::RangeInclusive<u32>]) -> String {
    list(
        &items
            .iter()
            .map(|r| match r.start() == r.end() {
                true => r.start().to_string(),
                false => format!("{}-{}", r.start(), r.end()),
            })
            .collect::<Vec<_>>(),
    )
}

/// One paragraph per policy section, as an operator reads it.
pub fn describe_policy(p: &Policy) -> Vec<String> {
    let l = &p.limits;
    let q = &p.quotas;
    vec![
        format!(
            "namespaces: create {}; open existing {}; build in existing {}; delete opened ones: {}",
            list(&p.ns_create),
            list(&p.ns_open),
            list(&p.ns_modify),
            if p.ns_delete_opened { "yes" } else { "no" }
        ),
        format!(
            "links: kinds {}; macvlan modes {}; vxlan VNIs {}, ports {}, remotes {}",
            list(&p.link_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>()),
            list(
                &p.macvlan_modes
                    .iter()
                    .map(|m| m.as_str())
                    .collect::<Vec<_>>()
            ),
            ranges(&p.vxlan_ids),
            ranges(&p.vxlan_ports),
            list(&p.vxlan_remotes)
        ),
        format!(
            "existing links usable as macvlan parents or vxlan devices: {}; manageable: {}",
            list(
                &p.parents
                    .iter()
                    .map(|g| format!("{}/{}", g.namespace, g.link))
                    .collect::<Vec<_>>()
            ),
            list(
                &p.manage
                    .iter()
                    .map(|g| format!("{}/{}", g.namespace, g.link))
                    .collect::<Vec<_>>()
            )
        ),
        format!(
            "root namespace: {}",
            if p.root_links.is_empty() {
                "never touched".to_string()
            } else {
                format!("only links {} as macvlan parents", list(&p.root_links))
            }
        ),
        format!("addresses: {}", list(&p.addresses)),
        format!(
            "routes: destinations {}; gateways {}",
            list(&p.route_destinations),
            list(&p.route_gateways)
        ),
        format!(
            "operations: allow {}; deny {}",
            list(&p.ops_allow),
            list(&p.ops_deny)
        ),
        format!(
            "quotas: {} namespaces, {} links, {} addresses, {} routes, {} operations, {} probe pairs, a journal of {}",
            q.namespaces,
            q.links,
            q.addresses,
            q.routes,
            q.operations,
            q.probes,
            crate::vocab::limit::bytes(q.journal)
        ),
        format!(
            "limits: memory {}, deadline {:?}, fuel {}, handles {}, output {}, args {}",
            crate::vocab::limit::bytes(l.memory),
            l.deadline,
            l.fuel,
            l.handles,
            crate::vocab::limit::bytes(l.output),
            crate::vocab::limit::bytes(l.args)
        ),
    ]
}

pub fn check(args: CheckArgs) -> anyhow::Result<Exit> {
    let mut out = String::new();
    let exit = check_into(args, &mut out);
    super::print_out(&out)?;
    exit
}

fn check_into(args: CheckArgs, out: &mut String) -> anyhow::Result<Exit> {
    let policy = super::run::load_policy(args.policy.as_deref(), &Default::default())?;
    outln!(out, "policy: {} is valid", policy.source);
    for line in describe_policy(&policy) {
        outln!(out, "  {line}");
    }
    // The compile cache, as `run` uses it: a check then costs a compile
    // only for a guest never seen, and warms the cache for the run after.
    let runtime = Runtime::new(args.cache.cache())?;
    let i = runtime.inspect(&args.guest)?;
    outln!(
        out,
        "guest: {} ({} bytes, a component)",
        args.guest.display(),
        i.size
    );
    outln!(out, "imports:");
    let mut refused = Vec::new();
    for name in &i.imports {
        let ok = imports::first_disallowed([name.as_str()]).is_none();
        let why = imports::ALLOWED
            .iter()
            .find(|(p, _)| name.starts_with(p))
            .map(|(_, why)| *why)
            .filter(|_| ok)
            .unwrap_or("not provided by netwasm: the guest would be refused");
        outln!(
            out,
            "  {} {name}  ({why})",
            if ok { "ok     " } else { "REFUSED" }
        );
        if !ok {
            refused.push(name.clone());
        }
    }
    outln!(out, "exports: {}", list(&i.exports));
    if let Some(why) = imports::version_mismatch(i.imports.iter().map(String::as_str)) {
        outln!(out, "verdict: cannot run on this netwasm: {why}");
        return Ok(Exit::BadInput);
    }
    if !refused.is_empty() {
        outln!(
            out,
            "verdict: cannot run: it imports {}",
            refused.join(", ")
        );
        return Ok(Exit::Refused);
    }
    if !i.has_run {
        outln!(
            out,
            "verdict: cannot run: it does not export `run` (world netwasm:lab/lab)"
        );
        return Ok(Exit::BadInput);
    }
    let shown = args.guest.display().to_string();
    if let Err(e) = runtime.accept(&shown, i) {
        outln!(out, "verdict: cannot run: {e:#}");
        return Ok(super::exit_for(&e));
    }
    outln!(out, "verdict: can run under {}", policy.source);
    Ok(Exit::Ok)
}
