//! `netwasm check`: can this guest run under this policy? Answered without
//! running it and without privileges.

use serde::Serialize;

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

/// The schema of `netwasm check --json` (docs/json.md).
const SCHEMA: &str = "netwasm.check/1";

/// What `check` found, as `--json` prints it.
#[derive(Serialize)]
struct Report {
    schema: &'static str,
    policy: PolicyReport,
    guest: GuestReport,
    imports: Vec<ImportReport>,
    exports: Vec<String>,
    can_run: bool,
    verdict: String,
    exit: u8,
}

#[derive(Serialize)]
struct PolicyReport {
    source: String,
    summary: Vec<String>,
}

#[derive(Serialize)]
struct GuestReport {
    path: String,
    size: usize,
}

#[derive(Serialize)]
struct ImportReport {
    name: String,
    provided: bool,
    why: &'static str,
}

pub fn check(args: CheckArgs) -> anyhow::Result<Exit> {
    let json = args.json;
    let (report, exit) = assess(args)?;
    let out = if json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        text(&report)
    };
    super::print_out(&out)?;
    Ok(exit)
}

fn text(r: &Report) -> String {
    let mut out = String::new();
    outln!(out, "policy: {} is valid", r.policy.source);
    for line in &r.policy.summary {
        outln!(out, "  {line}");
    }
    outln!(
        out,
        "guest: {} ({} bytes, a component)",
        r.guest.path,
        r.guest.size
    );
    outln!(out, "imports:");
    for i in &r.imports {
        outln!(
            out,
            "  {} {}  ({})",
            if i.provided { "ok     " } else { "REFUSED" },
            i.name,
            i.why
        );
    }
    outln!(out, "exports: {}", list(&r.exports));
    outln!(out, "verdict: {}", r.verdict);
    out
}

fn assess(args: CheckArgs) -> anyhow::Result<(Report, Exit)> {
    let policy = super::run::load_policy(args.policy.as_deref(), &Default::default())?;
    // The compile cache, as `run` uses it: a check then costs a compile
    // only for a guest never seen, and warms the cache for the run after.
    let runtime = Runtime::new(args.cache.cache())?;
    let i = runtime.inspect(&args.guest)?;
    let imports: Vec<ImportReport> = i
        .imports
        .iter()
        .map(|name| {
            let provided = imports::first_disallowed([name.as_str()]).is_none();
            let why = imports::ALLOWED
                .iter()
                .find(|(p, _)| name.starts_with(p))
                .map(|(_, why)| *why)
                .filter(|_| provided)
                .unwrap_or("not provided by netwasm: the guest would be refused");
            ImportReport {
                name: name.clone(),
                provided,
                why,
            }
        })
        .collect();
    let refused: Vec<&str> = imports
        .iter()
        .filter(|i| !i.provided)
        .map(|i| i.name.as_str())
        .collect();
    let shown = args.guest.display().to_string();
    let (size, exports) = (i.size, i.exports.clone());
    let (exit, verdict) =
        if let Some(why) = imports::version_mismatch(i.imports.iter().map(String::as_str)) {
            (Exit::BadInput, format!("cannot run on this netwasm: {why}"))
        } else if !refused.is_empty() {
            (
                Exit::Refused,
                format!("cannot run: it imports {}", refused.join(", ")),
            )
        } else if !i.has_run {
            (
                Exit::BadInput,
                "cannot run: it does not export `run` (world netwasm:lab/lab)".to_string(),
            )
        } else {
            match runtime.accept(&shown, i) {
                Err(e) => (super::exit_for(&e), format!("cannot run: {e:#}")),
                Ok(_) => (Exit::Ok, format!("can run under {}", policy.source)),
            }
        };
    let report = Report {
        schema: SCHEMA,
        policy: PolicyReport {
            source: policy.source.to_string(),
            summary: describe_policy(&policy),
        },
        guest: GuestReport { path: shown, size },
        imports,
        exports,
        can_run: exit == Exit::Ok,
        verdict,
        exit: exit as u8,
    };
    Ok((report, exit))
}
