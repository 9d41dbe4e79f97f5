//! The gate, the policy, the lab and `batch.build`, driven through [`Lab`]
//! on the simulated kernel: what each call decides, what it leaves in the
//! kernel (read back through the [`Kernel`] trait) and in the journal.
//! Each asserts what the integration tests in `tests/` assert of the real
//! kernel, without privileges.

use std::sync::Arc;

use serde_json::Value;

use super::audit::{Audit, AuditLines};
use super::tests_support::{lab_on, links_of, names, ok};
use super::{Lab, LinkKey, MacvlanConfig, NsPlan, PlanLink, PlanRoute, PlanVxlan, VxlanConfig};
use crate::error::{ErrorKind, Failure, HostResult, OpError};
use crate::kernel::Kernel;
use crate::kernel::sim::Sim;
use crate::ledger::replay::{Object, replay};
use crate::ledger::{Entry, Ledger, LinkSetting, undo};
use crate::vocab::{LinkChange, LinkKind, MacvlanMode, NETWASM_PROTO};

// ---------------------------------------------------------------- helpers

/// As [`lab_on`], audited in memory.
fn audited_lab_on(sim: &Arc<Sim>, text: &str) -> (Lab, Ledger, AuditLines) {
    let (lab, ledger) = lab_on(sim, text);
    let (audit, lines) = Audit::in_memory();
    (lab.with_audit(audit), ledger, lines)
}

/// The guest's error of a call that must fail with one.
fn op_err<T: std::fmt::Debug>(r: HostResult<T>) -> OpError {
    match r {
        Err(Failure::Op(e)) => e,
        other => panic!("expected an operation error, got {other:?}"),
    }
}

/// A policy refusal that names `hint` (the policy entry that would allow it).
fn assert_denied(e: &OpError, hint: &str) {
    assert_eq!(e.kind, ErrorKind::Denied, "{}", e.message);
    assert!(e.message.contains(hint), "want {hint:?} in: {}", e.message);
    assert!(
        e.message.contains("t.toml"),
        "names the policy: {}",
        e.message
    );
}

fn mv(name: &str, mode: Option<MacvlanMode>) -> MacvlanConfig {
    MacvlanConfig {
        name: name.into(),
        mode,
        mac: None,
        mtu: None,
    }
}

/// The addresses of namespace `ns`, as "link cidr" (sorted).
async fn addrs_of(sim: &Sim, ns: &str) -> Vec<String> {
    let (id, _) = sim.ns_open(ns).await.unwrap();
    let links = sim.link_list(id).await.unwrap();
    let mut out: Vec<String> = sim
        .addr_list(id, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.scope == "global")
        .map(|a| {
            let l = links.iter().find(|l| l.index == a.index).unwrap();
            format!("{} {}", l.name, a.cidr)
        })
        .collect();
    sim.ns_close(id);
    out.sort();
    out
}

/// The routes of namespace `ns` netwasm added, as "destination via gateway".
async fn our_routes(sim: &Sim, ns: &str) -> Vec<String> {
    let (id, _) = sim.ns_open(ns).await.unwrap();
    let mut out: Vec<String> = sim
        .route_list(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.proto == NETWASM_PROTO)
        .map(|r| match r.gateway {
            Some(g) => format!("{} via {g}", r.destination),
            None => r.destination.to_string(),
        })
        .collect();
    sim.ns_close(id);
    out.sort();
    out
}

/// Namespace `ns` with a veth pair `v0`/`v1` in it, `v0` up with
/// 10.9.0.1/24.
async fn veth_ns(lab: &mut Lab, ns: &str) -> (LinkKey, LinkKey) {
    ok(lab.ns_create(ns).await);
    let (v0, v1) = ok(lab.add_veth(ns, "v0", ns, "v1").await);
    ok(lab.addr_add(v0, "10.9.0.1/24").await);
    ok(lab.link_set(v0, LinkChange::Up).await);
    (v0, v1)
}

fn audit_lines(lines: &AuditLines) -> Vec<Value> {
    lines.lock().unwrap().clone()
}

// ------------------------------------------------------------------- gate

#[tokio::test]
async fn the_operations_deny_list_refuses_naming_the_rule() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "[operations]\ndeny = [\"link.add-b*\"]\n");
    ok(lab.ns_create("a").await);
    let e = op_err(lab.add_bridge("a", "br0").await);
    assert_denied(&e, "remove \"link.add-b*\" from [operations] deny");
    assert!(e.message.contains("link.add-bridge"), "{}", e.message);
    // Others pass.
    ok(lab.add_veth("a", "v0", "a", "v1").await);
    assert_eq!(links_of(&sim, "a").await, names(&["lo", "v0", "v1"]));
    // The refusal journaled nothing: no bridge, made or aborted.
    assert!(
        !ledger.this_run().iter().any(|e| matches!(
            e,
            Entry::LinkAdd {
                kind: LinkKind::Bridge,
                ..
            }
        )),
        "{:?}",
        ledger.this_run()
    );
}

#[tokio::test]
async fn an_operation_outside_the_allow_list_is_refused() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "[operations]\nallow = [\"namespace.*\"]\n");
    ok(lab.ns_create("a").await);
    let e = op_err(lab.add_veth("a", "v0", "a", "v1").await);
    assert_denied(&e, "add \"link.add-veth\" to [operations] allow");
    assert_eq!(links_of(&sim, "a").await, names(&["lo"]));
}

#[tokio::test]
async fn the_third_namespace_past_a_quota_of_two_is_refused() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "[quotas]\nnamespaces = 2\n");
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let e = op_err(lab.ns_create("c").await);
    assert_eq!(e.kind, ErrorKind::LimitReached, "{}", e.message);
    assert!(e.message.contains("[quotas] namespaces"), "{}", e.message);
    assert!(e.message.contains("\"c\""), "{}", e.message);
    assert_eq!(sim.ns_list().unwrap(), names(&["a", "b"]));
    assert_eq!(lab.usage().namespaces, 2);
}

#[tokio::test]
async fn create_all_past_the_quota_creates_nothing() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "[quotas]\nnamespaces = 2\n");
    let e = op_err(lab.ns_create_all(&names(&["a", "b", "c"])).await);
    assert_eq!(e.kind, ErrorKind::LimitReached, "{}", e.message);
    assert!(e.message.contains("[quotas] namespaces"), "{}", e.message);
    assert!(e.message.contains("(from \"c\" on)"), "{}", e.message);
    assert!(sim.ns_list().unwrap().is_empty());
    assert!(ledger.this_run().is_empty(), "{:?}", ledger.this_run());
    assert_eq!(lab.usage().namespaces, 0);
    // Nothing was used up: the whole quota is still there.
    let made = ok(lab.ns_create_all(&names(&["a", "b"])).await);
    assert_eq!(made, names(&["a", "b"]));
    assert_eq!(sim.ns_list().unwrap(), names(&["a", "b"]));
}

#[tokio::test]
async fn create_all_with_one_refused_or_taken_name_creates_nothing() {
    let sim = Arc::new(Sim::new().with_namespace("taken", &[]));
    let (mut lab, _) = lab_on(&sim, "[namespaces]\ncreate = [\"lab-*\", \"taken\"]\n");
    let e = op_err(lab.ns_create_all(&names(&["lab-a", "other"])).await);
    assert_denied(&e, "[namespaces] create");
    let e = op_err(lab.ns_create_all(&names(&["lab-a", "taken"])).await);
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{}", e.message);
    let e = op_err(lab.ns_create_all(&names(&["lab-a", "lab-a"])).await);
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(e.message.contains("twice"), "{}", e.message);
    assert_eq!(sim.ns_list().unwrap(), names(&["taken"]));
}

#[tokio::test]
async fn the_other_quotas_are_enforced() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(
        &sim,
        "[quotas]\nnamespaces = 2\nlinks = 3\naddresses = 1\nroutes = 1\n",
    );
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let (v0, _) = ok(lab.add_veth("a", "v0", "b", "v1").await);
    ok(lab.add_bridge("a", "br0").await);
    let links = op_err(lab.add_bridge("a", "br1").await);
    ok(lab.addr_add(v0, "10.1.0.1/24").await);
    let addrs = op_err(lab.addr_add(v0, "10.1.0.2/24").await);
    ok(lab.link_set(v0, LinkChange::Up).await);
    ok(lab
        .route_add("a", "10.2.0.0/16", Some("10.1.0.9"), None, None)
        .await);
    let routes = op_err(
        lab.route_add("a", "10.3.0.0/16", Some("10.1.0.9"), None, None)
            .await,
    );
    for (e, key) in [(links, "links"), (addrs, "addresses"), (routes, "routes")] {
        assert_eq!(e.kind, ErrorKind::LimitReached, "{}", e.message);
        assert!(
            e.message.contains(&format!("[quotas] {key}")),
            "{}",
            e.message
        );
    }
    assert_eq!(links_of(&sim, "a").await, names(&["br0", "lo", "v0"]));
    assert_eq!(addrs_of(&sim, "a").await, names(&["v0 10.1.0.1/24"]));
    assert_eq!(
        our_routes(&sim, "a").await,
        names(&["10.2.0.0/16 via 10.1.0.9"])
    );
}

#[tokio::test]
async fn a_guest_that_calls_on_past_its_operation_quota_is_stopped() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "[quotas]\noperations = 3\n");
    ok(lab.ns_create("a").await);
    ok(lab.link_list("a").await);
    ok(lab.link_list("a").await);
    let e = op_err(lab.link_list("a").await);
    assert_eq!(e.kind, ErrorKind::LimitReached, "{}", e.message);
    assert!(e.message.contains("[quotas] operations"), "{}", e.message);
    // Told once; calling on is the guest's fault, and ends the run.
    match lab.ns_create("b").await {
        Err(Failure::Trap(t)) => {
            let t = format!("{t:#}");
            assert!(t.contains("kept calling"), "{t}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(sim.ns_list().unwrap(), names(&["a"]));
}

#[tokio::test]
async fn the_audit_records_each_call_with_its_decision() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _, lines) = audited_lab_on(
        &sim,
        "[namespaces]\ncreate = [\"lab-*\"]\n\n[operations]\ndeny = [\"link.add-bridge\"]\n",
    );
    ok(lab.ns_create("lab-a").await);
    op_err(lab.ns_create("other").await);
    op_err(lab.add_bridge("lab-a", "br0").await);
    let (v0, _) = ok(lab.add_veth("lab-a", "v0", "lab-a", "v1").await);
    ok(lab.addr_add(v0, "10.9.0.1/24").await);
    ok(lab.link_set(v0, LinkChange::Up).await);
    op_err(
        lab.route_add("lab-a", "10.10.0.0/16", Some("10.99.0.1"), None, None)
            .await,
    );
    let audit = audit_lines(&lines);
    let summary: Vec<(String, String)> = audit
        .iter()
        .map(|l| {
            (
                l["op"].as_str().unwrap().to_string(),
                l["decision"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("namespace.create", "allowed"),
        ("namespace.create", "denied"),
        ("link.add-bridge", "denied"),
        ("link.add-veth", "allowed"),
        ("addr.add", "allowed"),
        ("link.set-up", "allowed"),
        ("route.add", "allowed"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(summary, want, "{audit:#?}");
    // An allowed call that worked.
    assert_eq!(audit[0]["args"]["name"], "lab-a");
    assert_eq!(audit[0]["result"], "ok");
    assert!(audit[0].get("rule").is_none(), "{}", audit[0]);
    // Refusals name their rule and their kind.
    assert_eq!(audit[1]["args"]["name"], "other");
    assert_eq!(audit[1]["result"]["error"], "denied");
    assert!(
        audit[1]["rule"]
            .as_str()
            .unwrap()
            .contains("[namespaces] create"),
        "{}",
        audit[1]
    );
    assert!(
        audit[2]["rule"]
            .as_str()
            .unwrap()
            .contains("remove \"link.add-bridge\" from [operations] deny"),
        "{}",
        audit[2]
    );
    // An allowed call the kernel refused: its errno and words.
    let kernel = &audit[6]["result"];
    assert_eq!(kernel["error"], "kernel", "{}", audit[6]);
    assert_eq!(kernel["errno"], libc::ENETUNREACH, "{}", audit[6]);
    assert!(
        kernel["message"]
            .as_str()
            .unwrap()
            .contains("Nexthop has invalid gateway"),
        "{}",
        audit[6]
    );
    assert!(audit.iter().all(|l| l["time"].is_string()));
}

#[tokio::test]
async fn create_all_is_audited_per_name_or_in_one_line_when_refused() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _, lines) = audited_lab_on(&sim, "[quotas]\nnamespaces = 3\n");
    op_err(lab.ns_create_all(&names(&["a", "b", "c", "d"])).await);
    ok(lab.ns_create_all(&names(&["a", "b"])).await);
    let audit = audit_lines(&lines);
    assert_eq!(audit.len(), 3, "{audit:#?}");
    assert_eq!(audit[0]["op"], "namespace.create-all");
    assert_eq!(audit[0]["decision"], "denied");
    assert_eq!(audit[0]["result"]["error"], "limit-reached");
    assert_eq!(audit[0]["args"]["names"], 4);
    for (line, name) in audit[1..].iter().zip(["a", "b"]) {
        assert_eq!(line["op"], "namespace.create");
        assert_eq!(line["decision"], "allowed");
        assert_eq!(line["args"]["name"], name);
        assert_eq!(line["args"]["batch"], 2);
    }
}

// ----------------------------------------------------------------- policy

#[tokio::test]
async fn a_namespace_outside_the_create_globs_is_denied() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "[namespaces]\ncreate = [\"lab-*\"]\n");
    let e = op_err(lab.ns_create("other").await);
    assert_denied(
        &e,
        "add a pattern matching \"other\" to [namespaces] create",
    );
    assert!(sim.ns_list().unwrap().is_empty());
    assert!(ledger.this_run().is_empty());
    ok(lab.ns_create("lab-1").await);
    assert_eq!(sim.ns_list().unwrap(), names(&["lab-1"]));
}

#[tokio::test]
async fn a_macvlan_mode_the_policy_does_not_list_is_denied() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "[links]\nmacvlan-modes = [\"bridge\"]\n");
    let (v0, _) = veth_ns(&mut lab, "a").await;
    let e = op_err(
        lab.add_macvlan(v0, mv("mv0", Some(MacvlanMode::Private)), None)
            .await,
    );
    assert_denied(&e, "add \"private\" to [links] macvlan-modes");
    // No mode is vepa, the kernel's default: not listed either.
    let e = op_err(lab.add_macvlan(v0, mv("mv0", None), None).await);
    assert_denied(&e, "add \"vepa\" to [links] macvlan-modes");
    assert_eq!(links_of(&sim, "a").await, names(&["lo", "v0", "v1"]));
    ok(lab
        .add_macvlan(v0, mv("mv0", Some(MacvlanMode::Bridge)), None)
        .await);
    assert_eq!(links_of(&sim, "a").await, names(&["lo", "mv0", "v0", "v1"]));
}

#[tokio::test]
async fn a_link_kind_the_policy_does_not_list_is_denied() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "[links]\nkinds = [\"veth\"]\n");
    let (v0, _) = veth_ns(&mut lab, "a").await;
    let e = op_err(lab.add_bridge("a", "br0").await);
    assert_denied(&e, "add \"bridge\" to [links] kinds");
    let e = op_err(
        lab.add_macvlan(v0, mv("mv0", Some(MacvlanMode::Bridge)), None)
            .await,
    );
    assert_denied(&e, "add \"macvlan\" to [links] kinds");
    assert_eq!(links_of(&sim, "a").await, names(&["lo", "v0", "v1"]));
}

#[tokio::test]
async fn an_address_outside_the_allowed_prefixes_is_denied() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(
        &sim,
        "[addresses]\nallow = [\"172.16.10.0/24\", \"10.9.0.0/24\"]\n\n[routes]\ndestinations = [\"172.16.10.0/24\", \"10.9.0.0/24\"]\n",
    );
    let (v0, _) = veth_ns(&mut lab, "a").await;
    let before = addrs_of(&sim, "a").await;
    let e = op_err(lab.addr_add(v0, "10.9.9.9/24").await);
    assert_denied(&e, "to [addresses] allow");
    assert!(
        e.message.contains("10.9.9.0/24"),
        "names the network: {}",
        e.message
    );
    // Inside the allowed prefix, but its network is not.
    let e = op_err(lab.addr_add(v0, "172.16.10.9/16").await);
    assert_denied(&e, "[addresses] allow");
    assert_eq!(addrs_of(&sim, "a").await, before);
    ok(lab.addr_add(v0, "172.16.10.9/24").await);
    assert_eq!(
        addrs_of(&sim, "a").await,
        names(&["v0 10.9.0.1/24", "v0 172.16.10.9/24"])
    );
}

#[tokio::test]
async fn a_route_outside_the_allowed_prefixes_is_denied() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(
        &sim,
        "[routes]\ndestinations = [\"10.0.0.0/8\"]\ngateways = [\"10.9.0.2/32\"]\n",
    );
    veth_ns(&mut lab, "a").await;
    let e = op_err(
        lab.route_add("a", "default", Some("10.9.0.2"), None, None)
            .await,
    );
    assert_denied(&e, "[routes] destinations");
    let e = op_err(
        lab.route_add("a", "10.1.0.0/16", Some("10.9.0.3"), None, None)
            .await,
    );
    assert_denied(&e, "add a prefix containing 10.9.0.3 to [routes] gateways");
    assert!(our_routes(&sim, "a").await.is_empty());
    ok(lab
        .route_add("a", "10.1.0.0/16", Some("10.9.0.2"), None, None)
        .await);
    assert_eq!(
        our_routes(&sim, "a").await,
        names(&["10.1.0.0/16 via 10.9.0.2"])
    );
}

#[tokio::test]
async fn opening_a_namespace_the_policy_does_not_list_is_denied() {
    let sim = Arc::new(
        Sim::new()
            .with_namespace("phy", &["eth0"])
            .with_namespace("other", &["eth0"]),
    );
    let (mut lab, ledger) = lab_on(&sim, "[namespaces]\nopen = [\"phy\"]\n");
    let e = op_err(lab.ns_open("other").await);
    assert_denied(&e, "add \"other\" to [namespaces] open");
    assert!(ledger.this_run().is_empty(), "{:?}", ledger.this_run());
    // A listed one opens; one that does not exist is not found.
    assert_eq!(ok(lab.ns_open("phy").await), "phy");
    let e = op_err(lab.ns_open("missing").await);
    assert_eq!(e.kind, ErrorKind::Denied, "unlisted first: {}", e.message);
    assert_eq!(sim.ns_list().unwrap(), names(&["other", "phy"]));
    // Opened is not created: nothing may be built or deleted in it.
    let e = op_err(lab.add_bridge("phy", "br0").await);
    assert_denied(&e, "add \"phy\" to [namespaces] modify");
    let e = op_err(lab.ns_delete("phy").await);
    assert_denied(&e, "delete-opened = true");
    assert_eq!(links_of(&sim, "phy").await, names(&["eth0", "lo"]));
    assert_eq!(sim.ns_list().unwrap(), names(&["other", "phy"]));
}

#[tokio::test]
async fn a_parent_link_the_policy_does_not_grant_is_denied() {
    let sim = Arc::new(Sim::new().with_namespace("phy", &["eth0", "eth1"]));
    let (mut lab, ledger) = lab_on(
        &sim,
        "[namespaces]\nopen = [\"phy\"]\n\n[links]\nparents = [{ namespace = \"phy\", link = \"eth0\" }]\n",
    );
    ok(lab.ns_create("a").await);
    ok(lab.ns_open("phy").await);
    let e = op_err(
        lab.add_macvlan_on(
            "phy",
            "eth1",
            mv("mv1", Some(MacvlanMode::Bridge)),
            Some("a".into()),
        )
        .await,
    );
    assert_denied(
        &e,
        "add { namespace = \"phy\", link = \"eth1\" } to [links] parents",
    );
    // Nor can it be seen, so as not to tell whether it exists.
    let e = op_err(lab.link_get("phy", "eth1").await);
    assert_denied(&e, "[links] parents");
    // Granted as a parent only: passthru would take it over.
    let e = op_err(
        lab.add_macvlan_on(
            "phy",
            "eth0",
            mv("pt0", Some(MacvlanMode::Passthru)),
            Some("a".into()),
        )
        .await,
    );
    assert_denied(&e, "to [links] manage");
    assert_eq!(links_of(&sim, "phy").await, names(&["eth0", "eth1", "lo"]));
    assert_eq!(links_of(&sim, "a").await, names(&["lo"]));
    assert!(
        !ledger
            .this_run()
            .iter()
            .any(|e| matches!(e, Entry::LinkAdd { .. })),
        "{:?}",
        ledger.this_run()
    );
    // The granted parent works, into the lab's namespace.
    ok(lab
        .add_macvlan_on(
            "phy",
            "eth0",
            mv("mv0", Some(MacvlanMode::Bridge)),
            Some("a".into()),
        )
        .await);
    assert_eq!(links_of(&sim, "a").await, names(&["lo", "mv0"]));
    assert_eq!(links_of(&sim, "phy").await, names(&["eth0", "eth1", "lo"]));
}

#[tokio::test]
async fn the_root_namespace_is_opened_only_for_its_listed_links() {
    let sim = Arc::new(Sim::with_root_links(&[("eth0", None), ("eth1", None)]));
    let (mut lab, _) = lab_on(&sim, "");
    let e = op_err(lab.ns_root().await);
    assert_denied(&e, "[root] links");

    let (mut lab, _) = lab_on(&sim, "[root]\nlinks = [\"eth0\"]\n");
    ok(lab.ns_create("a").await);
    let root = ok(lab.ns_root().await);
    let e = op_err(
        lab.add_macvlan_on(
            &root,
            "eth1",
            mv("mv1", Some(MacvlanMode::Bridge)),
            Some("a".into()),
        )
        .await,
    );
    assert_denied(&e, "add \"eth1\" to [root] links");
    // Never into the root, nor passthru on a root link, whatever the policy.
    let e = op_err(lab.add_bridge(&root, "br0").await);
    assert_eq!(e.kind, ErrorKind::Denied, "{}", e.message);
    let e = op_err(
        lab.add_macvlan_on(
            &root,
            "eth0",
            mv("pt0", Some(MacvlanMode::Passthru)),
            Some("a".into()),
        )
        .await,
    );
    assert_eq!(e.kind, ErrorKind::Denied, "{}", e.message);
    assert!(e.message.contains("never allowed"), "{}", e.message);
    assert_eq!(links_of(&sim, "a").await, names(&["lo"]));
    ok(lab
        .add_macvlan_on(
            &root,
            "eth0",
            mv("mv0", Some(MacvlanMode::Bridge)),
            Some("a".into()),
        )
        .await);
    assert_eq!(links_of(&sim, "a").await, names(&["lo", "mv0"]));
}

#[tokio::test]
async fn passthru_and_bridge_ports_take_over_a_granted_parent() {
    let sim = Arc::new(Sim::new().with_namespace("d", &["p0", "p1"]));
    let grant = "[namespaces]\nopen = [\"d\"]\n\n[links]\nparents = [{ namespace = \"d\", link = \"p0\" }]\n";
    let (mut lab, _) = lab_on(&sim, grant);
    ok(lab.ns_create("own").await);
    ok(lab.ns_open("d").await);
    let manage = "add { namespace = \"d\", link = \"p0\" } to [links] manage";
    let takeover = "takes over link \"p0\" in namespace \"d\"";
    let passthru = |name: &str| mv(name, Some(MacvlanMode::Passthru));
    let e = op_err(
        lab.add_macvlan_on("d", "p0", passthru("pt0"), Some("own".into()))
            .await,
    );
    assert_denied(&e, takeover);
    assert!(e.message.contains(manage), "{}", e.message);
    assert!(
        e.message
            .contains("create macvlan \"pt0\" in mode passthru")
    );
    let mut plan = NsPlan {
        name: "own-b".into(),
        links: vec![PlanLink::Macvlan {
            parent_ns: "d".into(),
            parent: "p0".into(),
            config: passthru("eth0"),
        }],
        up: Vec::new(),
        addresses: Vec::new(),
        routes: Vec::new(),
    };
    let e = op_err(lab.build(std::slice::from_ref(&plan)).await);
    assert_denied(&e, takeover);
    assert!(!sim.ns_exists("own-b"), "the refused batch built nothing");
    // A bridge-mode child is what [links] parents grants; as a bridge
    // port it would turn its parent promiscuous.
    let mv0 = ok(lab
        .add_macvlan_on(
            "d",
            "p0",
            mv("mv0", Some(MacvlanMode::Bridge)),
            Some("own".into()),
        )
        .await);
    let br0 = ok(lab.add_bridge("own", "br0").await);
    let e = op_err(lab.link_set_master(mv0, br0).await);
    assert_denied(&e, "a bridge port turns promiscuous");
    assert!(e.message.contains(takeover), "{}", e.message);
    // The child's own MAC, MTU and state are its own.
    ok(lab
        .link_set(mv0, LinkChange::Mac("02:00:00:00:00:42".parse().unwrap()))
        .await);
    ok(lab.link_set(mv0, LinkChange::Mtu(1400)).await);
    ok(lab.link_set(mv0, LinkChange::Up).await);
    assert_eq!(links_of(&sim, "d").await, names(&["lo", "p0", "p1"]));
    let (id, _) = sim.ns_open("d").await.unwrap();
    let p0 = sim.link_by_name(id, "p0").await.unwrap();
    sim.ns_close(id);
    assert_eq!((p0.mtu, p0.master), (1500, None), "the parent is as it was");
    drop(lab);

    // With the parent in [links] manage, passthru is allowed: the rule is
    // about the parent, not the mode.
    let granted = format!("{grant}manage = [{{ namespace = \"d\", link = \"p1\" }}]\n");
    let (mut lab, _) = lab_on(&sim, &granted);
    ok(lab.ns_create("own2").await);
    ok(lab.ns_open("d").await);
    ok(lab
        .add_macvlan_on("d", "p1", passthru("pt0"), Some("own2".into()))
        .await);
    plan.name = "own3".into();
    if let PlanLink::Macvlan { parent, .. } = &mut plan.links[0] {
        *parent = "p1".into();
    }
    // The kernel refuses a second passthru child (EINVAL), after every
    // check passed: the whole batch is rolled back.
    let e = op_err(lab.build(&[plan]).await);
    assert_eq!(e.errno, Some(libc::EINVAL), "{}", e.message);
    assert!(!sim.ns_exists("own3"));
}

#[tokio::test]
async fn a_granted_passthru_child_cannot_change_its_parent() {
    let sim = Arc::new(Sim::new().with_namespace("d", &["p0", "p1"]));
    // Someone else's passthru child of p1.
    let (id, _) = sim.ns_open("d").await.unwrap();
    let p1 = sim.link_by_name(id, "p1").await.unwrap().index;
    sim.link_add(&crate::vocab::NewLink {
        name: "pt0".into(),
        ns: id,
        index: None,
        kind: crate::vocab::NewLinkKind::Macvlan {
            parent_ns: id,
            parent: p1,
            mode: Some(MacvlanMode::Passthru),
        },
        mac: None,
        mtu: None,
        up: false,
    })
    .await
    .unwrap();
    let before = sim.link_by_name(id, "p1").await.unwrap();
    // The child is granted to manage, its parent p1 is not.
    let (mut lab, _) = lab_on(
        &sim,
        "[namespaces]\nopen = [\"d\"]\n\n[links]\nmanage = [{ namespace = \"d\", link = \"pt0\" }]\n",
    );
    ok(lab.ns_open("d").await);
    let pt0 = ok(lab.link_get("d", "pt0").await);
    let manage = "add { namespace = \"d\", link = \"p1\" } to [links] manage";
    let e = op_err(
        lab.link_set(pt0, LinkChange::Mac("02:00:00:00:00:42".parse().unwrap()))
            .await,
    );
    assert_denied(&e, manage);
    assert!(
        e.message.contains("set MAC 02:00:00:00:00:42 on"),
        "{}",
        e.message
    );
    assert!(e.message.contains("a passthru macvlan"), "{}", e.message);
    let e = op_err(lab.link_set(pt0, LinkChange::Up).await);
    assert_denied(&e, manage);
    assert!(e.message.contains("set up"), "{}", e.message);
    // Its MTU is its own.
    ok(lab.link_set(pt0, LinkChange::Mtu(1400)).await);
    let after = sim.link_by_name(id, "p1").await.unwrap();
    assert_eq!(
        (after.mac, after.admin_up, after.mtu),
        (before.mac, before.admin_up, before.mtu)
    );
    sim.ns_close(id);
}

// -------------------------------------------------------------------- lab

#[tokio::test]
async fn an_off_link_gateway_is_a_kernel_error_with_the_kernels_words() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    veth_ns(&mut lab, "a").await;
    let e = op_err(
        lab.route_add("a", "10.10.0.0/16", Some("10.99.0.1"), None, None)
            .await,
    );
    assert_eq!(e.kind, ErrorKind::Kernel, "{}", e.message);
    assert_eq!(e.errno, Some(libc::ENETUNREACH));
    assert!(
        e.message
            .ends_with("(ENETUNREACH) (Nexthop has invalid gateway)"),
        "{}",
        e.message
    );
    assert!(e.message.contains("via 10.99.0.1"), "{}", e.message);
    assert!(our_routes(&sim, "a").await.is_empty());
    // Journaled ahead, then cancelled: the journal holds no such route.
    let run = ledger.this_run();
    assert!(
        matches!(
            &run[run.len() - 2..],
            [Entry::RouteAdd { .. }, Entry::Abort]
        ),
        "{run:?}"
    );
    assert!(
        !replay(&run)
            .iter()
            .any(|o| matches!(o, Object::Route { .. })),
        "{:?}",
        replay(&run)
    );
    // An on-link gateway is taken.
    ok(lab
        .route_add("a", "10.10.0.0/16", Some("10.9.0.2"), None, None)
        .await);
    assert_eq!(
        our_routes(&sim, "a").await,
        names(&["10.10.0.0/16 via 10.9.0.2"])
    );
}

#[tokio::test]
async fn passthru_conflicts_are_einval_not_busy() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    let (p0, p1) = veth_ns(&mut lab, "a").await;
    ok(lab
        .add_macvlan(p0, mv("pt0", Some(MacvlanMode::Passthru)), None)
        .await);
    ok(lab
        .add_macvlan(p1, mv("mv0", Some(MacvlanMode::Bridge)), None)
        .await);
    let refusals = [
        // A second passthru child of a passthru parent.
        (p0, "pt1", MacvlanMode::Passthru),
        // Any other child of a passthru parent.
        (p0, "mv1", MacvlanMode::Bridge),
        // A passthru child of a parent that has children.
        (p1, "pt2", MacvlanMode::Passthru),
    ];
    for (parent, name, mode) in refusals {
        let e = op_err(lab.add_macvlan(parent, mv(name, Some(mode)), None).await);
        assert_eq!(e.kind, ErrorKind::Kernel, "{name}: {}", e.message);
        assert_eq!(e.errno, Some(libc::EINVAL), "{name}: {}", e.message);
        assert!(e.message.contains("(EINVAL)"), "{}", e.message);
        assert!(e.message.contains(&format!("{name:?}")), "{}", e.message);
    }
    assert_eq!(
        links_of(&sim, "a").await,
        names(&["lo", "mv0", "pt0", "v0", "v1"])
    );
}

#[tokio::test]
async fn a_bridge_port_and_a_macvlan_parent_exclude_each_other_busy() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    let (p0, _) = veth_ns(&mut lab, "a").await;
    // Another pair: the first one's ends are connected through it already,
    // and the lab refuses a loop before the kernel is asked.
    let (p1, _) = ok(lab.add_veth("a", "w0", "a", "w1").await);
    let br = ok(lab.add_bridge("a", "br0").await);
    ok(lab.link_set_master(p0, br).await);
    let e = op_err(
        lab.add_macvlan(p0, mv("mv0", Some(MacvlanMode::Bridge)), None)
            .await,
    );
    assert_eq!(e.kind, ErrorKind::Busy, "{}", e.message);
    assert_eq!(e.errno, Some(libc::EBUSY));
    ok(lab
        .add_macvlan(p1, mv("mv1", Some(MacvlanMode::Bridge)), None)
        .await);
    let e = op_err(lab.link_set_master(p1, br).await);
    assert_eq!(e.kind, ErrorKind::Busy, "{}", e.message);
    assert_eq!(e.errno, Some(libc::EBUSY));
}

#[tokio::test]
async fn kernel_refusals_of_links_and_addresses_are_typed() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    let (v0, _) = veth_ns(&mut lab, "a").await;
    // A name the namespace has.
    let e = op_err(lab.add_bridge("a", "v0").await);
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{}", e.message);
    assert_eq!(e.errno, Some(libc::EEXIST));
    // An address the link has.
    let e = op_err(lab.addr_add(v0, "10.9.0.1/24").await);
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{}", e.message);
    // An address the link does not have.
    let e = op_err(lab.addr_delete(v0, "10.9.0.7/24").await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert_eq!(e.errno, Some(libc::EADDRNOTAVAIL));
    // A macvlan's MTU above its parent's.
    let child = ok(lab
        .add_macvlan(v0, mv("mv0", Some(MacvlanMode::Bridge)), None)
        .await);
    let e = op_err(lab.link_set(child, LinkChange::Mtu(9000)).await);
    assert_eq!(e.kind, ErrorKind::Kernel, "{}", e.message);
    assert_eq!(e.errno, Some(libc::EINVAL), "{}", e.message);
    // One the lab itself refuses never reaches the kernel.
    let e = op_err(lab.link_set(v0, LinkChange::Mtu(70_000)).await);
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert_eq!(e.errno, None);
    assert_eq!(links_of(&sim, "a").await, names(&["lo", "mv0", "v0", "v1"]));
}

#[tokio::test]
async fn a_deleted_namespace_takes_its_links_with_it() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let (va, _) = ok(lab.add_veth("a", "va", "b", "vb").await);
    ok(lab.ns_delete("b").await);
    assert_eq!(sim.ns_list().unwrap(), names(&["a"]));
    assert_eq!(links_of(&sim, "a").await, names(&["lo"]));
    // The handle of the other end is dead.
    let e = op_err(lab.link_set(va, LinkChange::Up).await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    let objects = replay(&ledger.this_run());
    assert_eq!(
        objects,
        vec![Object::Ns {
            ns: "a".into(),
            id: sim
                .ns_open("a")
                .await
                .map(|(id, ident)| {
                    sim.ns_close(id);
                    Some(ident)
                })
                .unwrap()
        }]
    );
}

#[tokio::test]
async fn probes_see_what_the_lab_built() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let (va, vb) = ok(lab.add_veth("a", "va", "b", "vb").await);
    ok(lab.addr_add(va, "10.1.0.1/24").await);
    ok(lab.addr_add(vb, "10.1.0.2/24").await);
    ok(lab.link_set(va, LinkChange::Up).await);
    let down = ok(lab.probe_ping("a", "10.1.0.2", 1, 100).await);
    assert_eq!(down.received, 0, "vb is down");
    ok(lab.link_set(vb, LinkChange::Up).await);
    let up = ok(lab.probe_ping("a", "10.1.0.2", 2, 100).await);
    assert_eq!((up.sent, up.received), (2, 2));
}

// ------------------------------------------------------------------ loops

fn assert_loop_denied(e: &OpError) {
    assert_eq!(e.kind, ErrorKind::Denied, "{}", e.message);
    assert!(e.message.contains("Layer-2 loops"), "{}", e.message);
}

/// The bridge of link `name` in `ns`, and its hairpin, as the kernel says.
async fn port_of(sim: &Sim, ns: &str, name: &str) -> (Option<String>, Option<bool>) {
    let (id, _) = sim.ns_open(ns).await.unwrap();
    let l = sim.link_by_name(id, name).await.unwrap();
    sim.ns_close(id);
    (l.master, l.hairpin)
}

async fn master_of(sim: &Sim, ns: &str, name: &str) -> Option<String> {
    port_of(sim, ns, name).await.0
}

#[tokio::test]
async fn a_second_path_between_two_bridges_is_refused() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let br1 = ok(lab.add_bridge("a", "br1").await);
    let br2 = ok(lab.add_bridge("b", "br2").await);
    let (a1, b1) = ok(lab.add_veth("a", "a1", "b", "b1").await);
    let (a2, b2) = ok(lab.add_veth("a", "a2", "b", "b2").await);
    ok(lab.link_set_master(a1, br1).await);
    ok(lab.link_set_master(b1, br2).await);
    ok(lab.link_set_master(a2, br1).await);
    assert_loop_denied(&op_err(lab.link_set_master(b2, br2).await));
    // Through one bridge, the two ends of one pair.
    let (x0, x1) = ok(lab.add_veth("a", "x0", "a", "x1").await);
    ok(lab.link_set_master(x0, br1).await);
    assert_loop_denied(&op_err(lab.link_set_master(x1, br1).await));
    assert_eq!(master_of(&sim, "b", "b1").await.as_deref(), Some("br2"));
    assert_eq!(master_of(&sim, "a", "a2").await.as_deref(), Some("br1"));
    assert_eq!(master_of(&sim, "b", "b2").await, None, "never made");
    assert_eq!(master_of(&sim, "a", "x1").await, None);
}

#[tokio::test]
async fn macvlan_siblings_as_ports_of_one_bridge_are_refused() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    let (p, _) = ok(lab.add_veth("a", "p", "a", "q").await);
    let m1 = ok(lab
        .add_macvlan(p, mv("m1", Some(MacvlanMode::Bridge)), None)
        .await);
    let m2 = ok(lab
        .add_macvlan(p, mv("m2", Some(MacvlanMode::Vepa)), None)
        .await);
    let br = ok(lab.add_bridge("a", "br").await);
    ok(lab.link_set_master(m1, br).await);
    assert_loop_denied(&op_err(lab.link_set_master(m2, br).await));
    assert_loop_denied(&op_err(lab.link_set_master(p, br).await));
    assert_eq!(master_of(&sim, "a", "m1").await.as_deref(), Some("br"));
    assert_eq!(master_of(&sim, "a", "m2").await, None);
    assert_eq!(master_of(&sim, "a", "p").await, None);
}

#[tokio::test]
async fn hairpin_may_face_endpoints_but_never_another_bridge() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    // The seed lab's VEPA switch: hairpin on the port that faces a host
    // whose macvlan children are endpoints.
    ok(lab.ns_create("switch").await);
    ok(lab.ns_create("host").await);
    let br0 = ok(lab.add_bridge("switch", "br0").await);
    let (net1, eth0) = ok(lab.add_veth("switch", "net1", "host", "eth0").await);
    ok(lab.link_set_master(net1, br0).await);
    let mv1 = ok(lab
        .add_macvlan(eth0, mv("mv1", Some(MacvlanMode::Vepa)), None)
        .await);
    ok(lab
        .add_macvlan(eth0, mv("mv2", Some(MacvlanMode::Vepa)), None)
        .await);
    ok(lab.link_set(net1, LinkChange::Hairpin(true)).await);
    // A bridge behind the host would now face the hairpin port.
    let brh = ok(lab.add_bridge("host", "brh").await);
    assert_loop_denied(&op_err(lab.link_set_master(mv1, brh).await));
    // Two bridges joined by one pair: hairpin on either end is a
    // ping-pong of every flood.
    ok(lab.ns_create("b").await);
    let br2 = ok(lab.add_bridge("b", "br2").await);
    let (net2, up0) = ok(lab.add_veth("switch", "net2", "b", "up0").await);
    ok(lab.link_set_master(net2, br0).await);
    ok(lab.link_set_master(up0, br2).await);
    assert_loop_denied(&op_err(lab.link_set(net2, LinkChange::Hairpin(true)).await));
    assert_loop_denied(&op_err(lab.link_set(up0, LinkChange::Hairpin(true)).await));
    assert_eq!(port_of(&sim, "switch", "net1").await.1, Some(true));
    assert_eq!(master_of(&sim, "host", "mv1").await, None);
    assert_eq!(port_of(&sim, "switch", "net2").await.1, Some(false));
    assert_eq!(port_of(&sim, "b", "up0").await.1, Some(false));
}

#[tokio::test]
async fn a_macvlan_on_a_macvlan_hangs_off_the_real_parent() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    let (p0, _) = ok(lab.add_veth("a", "p0", "a", "p1").await);
    let m1 = ok(lab
        .add_macvlan(p0, mv("m1", Some(MacvlanMode::Bridge)), None)
        .await);
    // The kernel makes m2 on p0, m1's parent.
    let m2 = ok(lab
        .add_macvlan(m1, mv("m2", Some(MacvlanMode::Bridge)), None)
        .await);
    let (id, _) = sim.ns_open("a").await.unwrap();
    let info = sim.link_by_name(id, "m2").await.unwrap();
    sim.ns_close(id);
    assert_eq!(info.parent_name.as_deref(), Some("p0"), "{info:?}");
    // The journal names the real parent too.
    assert!(
        ledger.this_run().iter().any(|e| matches!(e,
            Entry::LinkAdd { name, parent: Some(p), .. } if name == "m2" && p == "p0")),
        "{:?}",
        ledger.this_run()
    );
    ok(lab.link_delete(m1).await);
    assert_eq!(
        links_of(&sim, "a").await,
        names(&["lo", "m2", "p0", "p1"]),
        "m2 does not hang off m1"
    );
    let m3 = ok(lab
        .add_macvlan(p0, mv("m3", Some(MacvlanMode::Bridge)), None)
        .await);
    let br0 = ok(lab.add_bridge("a", "br0").await);
    ok(lab.link_set_master(m2, br0).await);
    assert_loop_denied(&op_err(lab.link_set_master(m3, br0).await));
    assert_eq!(master_of(&sim, "a", "m3").await, None);
}

#[tokio::test]
async fn links_the_kernel_took_away_leave_no_stale_names() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    ok(lab.ns_create("b").await);
    let (p, _) = ok(lab.add_veth("b", "p", "b", "q").await);
    // y, a macvlan, dies with p; a bridge takes its name.
    ok(lab
        .add_macvlan(p, mv("y", Some(MacvlanMode::Bridge)), None)
        .await);
    ok(lab.link_delete(p).await);
    assert_eq!(links_of(&sim, "b").await, names(&["lo"]));
    let x = ok(lab.add_bridge("b", "x").await);
    let y = ok(lab.add_bridge("b", "y").await);
    let (a1, a2) = ok(lab.add_veth("b", "a1", "b", "a2").await);
    let (b1, b2) = ok(lab.add_veth("b", "b1", "b", "b2").await);
    ok(lab.link_set_master(a1, x).await);
    ok(lab.link_set_master(a2, y).await);
    ok(lab.link_set_master(b1, x).await);
    // However the lab's entries hash, the second path is refused.
    for i in 0..8 {
        assert_loop_denied(&op_err(lab.link_set_master(b2, y).await));
        ok(lab.add_bridge("b", &format!("d{i}")).await);
    }
    // A "move" into its own namespace would be a rename that keeps it in
    // its bridge: refused.
    let e = op_err(lab.link_move(b1, "b", None).await);
    assert!(
        e.message.contains("in that namespace already"),
        "{}",
        e.message
    );
    assert_loop_denied(&op_err(lab.link_set_master(b2, y).await));
    assert_eq!(master_of(&sim, "b", "b2").await, None);
}

// ------------------------------------------------------------------ vxlan

fn vx(id: u32, remote: &str, device: Option<&str>) -> VxlanConfig {
    VxlanConfig {
        id,
        remote: Some(remote.into()),
        device: device.map(Into::into),
        ..VxlanConfig::default()
    }
}

/// Namespaces a and b on a veth underlay (10.99.0.1, .2), each with a
/// vxlan `vx0` of VNI 42 pointed at the other, up, at 192.168.77.1 and .2.
async fn overlay(lab: &mut Lab) -> (LinkKey, LinkKey) {
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let (va, vb) = ok(lab.add_veth("a", "va", "b", "vb").await);
    ok(lab.addr_add(va, "10.99.0.1/24").await);
    ok(lab.addr_add(vb, "10.99.0.2/24").await);
    let xa = ok(lab
        .add_vxlan("a", "vx0", vx(42, "10.99.0.2", Some("va")))
        .await);
    let xb = ok(lab
        .add_vxlan("b", "vx0", vx(42, "10.99.0.1", Some("vb")))
        .await);
    ok(lab.addr_add(xa, "192.168.77.1/24").await);
    ok(lab.addr_add(xb, "192.168.77.2/24").await);
    for l in [va, vb, xa, xb] {
        ok(lab.link_set(l, LinkChange::Up).await);
    }
    (xa, xb)
}

#[tokio::test]
async fn a_vxlan_overlay_is_built_journaled_and_undone() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    let (xa, _) = overlay(&mut lab).await;
    let ping = ok(lab.probe_ping("a", "192.168.77.2", 2, 100).await);
    assert_eq!(ping.received, 2);
    let info = ok(lab.link_info(xa).await);
    let v = info.vxlan.expect("a vxlan");
    assert_eq!(
        (v.id, v.port, v.learning, v.device_name.as_deref()),
        (42, 4789, true, Some("va"))
    );
    let entries = ledger.this_run();
    let add = entries
        .iter()
        .find(|e| {
            matches!(
                e,
                Entry::LinkAdd {
                    kind: LinkKind::Vxlan,
                    ..
                }
            )
        })
        .expect("journaled");
    assert_eq!(
        add.describe().unwrap(),
        "create vxlan vx0 (vni 42, remote 10.99.0.2, port 4789) in a on va in a"
    );
    // Undone like any link: the namespaces take everything with them.
    let objects = replay(&entries);
    assert!(objects.iter().any(|o| matches!(
        o,
        Object::Link {
            kind: LinkKind::Vxlan,
            ..
        }
    )));
    drop(lab);
    let report = undo::undo(&*sim, &objects, false).await;
    assert!(
        report.is_complete() && report.replaced.is_empty(),
        "{report:?}"
    );
    assert!(sim.ns_list().unwrap().is_empty());
}

#[tokio::test]
async fn vxlan_arguments_and_policy_are_checked_before_the_kernel() {
    let sim = Arc::new(Sim::new().with_namespace("phy", &["eth0", "eth1"]));
    let (mut lab, ledger) = lab_on(
        &sim,
        "[namespaces]\nmodify = [\"phy\"]\n\n[addresses]\nallow = [\"10.99.0.0/24\", \"192.168.0.0/16\"]\n\n[links]\nvxlan-ids = [\"1-100\"]\nvxlan-ports = [4789]\nvxlan-remotes = [\"10.99.0.0/24\", \"239.1.1.0/24\"]\nparents = [{ namespace = \"phy\", link = \"eth0\" }]\n",
    );
    ok(lab.ns_create("a").await);
    ok(lab.ns_open("phy").await);
    let invalid = |e: OpError, want: &str| {
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
        assert!(e.message.contains(want), "want {want:?} in: {}", e.message);
        assert!(e.message.starts_with("create vxlan \"x\""), "{}", e.message);
    };
    let try_add = async |lab: &mut Lab, c: VxlanConfig| lab.add_vxlan("a", "x", c).await;
    invalid(
        op_err(try_add(&mut lab, vx(1 << 24, "10.99.0.2", None)).await),
        "VNI 16777216 is out of range: a VNI has 24 bits (0 to 16777215)",
    );
    invalid(
        op_err(try_add(&mut lab, vx(1, "10.99.0.x", None)).await),
        "remote \"10.99.0.x\": not an IPv4 or IPv6 address",
    );
    invalid(
        op_err(try_add(&mut lab, vx(1, "239.1.1.1", Some("lo"))).await),
        "is not a unicast address",
    );
    let both = VxlanConfig {
        group: Some("239.1.1.1".into()),
        ..vx(1, "10.99.0.2", None)
    };
    invalid(op_err(try_add(&mut lab, both).await), "not both");
    let group = VxlanConfig {
        group: Some("239.1.1.1".into()),
        ..VxlanConfig::default()
    };
    invalid(
        op_err(try_add(&mut lab, group).await),
        "a group needs a device",
    );
    let mixed = VxlanConfig {
        local: Some("fd00::1".into()),
        ..vx(1, "10.99.0.2", None)
    };
    invalid(
        op_err(try_add(&mut lab, mixed).await),
        "of different families",
    );
    let port0 = VxlanConfig {
        port: Some(0),
        ..vx(1, "10.99.0.2", None)
    };
    invalid(op_err(try_add(&mut lab, port0).await), "port 0");
    // The policy: VNI, port, remote, local, and a device in a namespace
    // the lab did not make.
    assert_denied(
        &op_err(try_add(&mut lab, vx(101, "10.99.0.2", None)).await),
        "add 101 to [links] vxlan-ids",
    );
    let port = VxlanConfig {
        port: Some(8472),
        ..vx(1, "10.99.0.2", None)
    };
    assert_denied(
        &op_err(try_add(&mut lab, port).await),
        "add 8472 to [links] vxlan-ports",
    );
    assert_denied(
        &op_err(try_add(&mut lab, vx(1, "10.98.0.2", None)).await),
        "add a prefix containing 10.98.0.2 to [links] vxlan-remotes",
    );
    let local = VxlanConfig {
        local: Some("10.98.0.1".into()),
        ..vx(1, "10.99.0.2", None)
    };
    assert_denied(
        &op_err(try_add(&mut lab, local).await),
        "add a prefix containing 10.98.0.1 to [addresses] allow",
    );
    let e = op_err(
        lab.add_vxlan("phy", "x", vx(1, "10.99.0.2", Some("eth1")))
            .await,
    );
    assert_denied(
        &e,
        "add { namespace = \"phy\", link = \"eth1\" } to [links] parents",
    );
    // A device that is not there is the kernel's not-found.
    let e = op_err(try_add(&mut lab, vx(1, "10.99.0.2", Some("nope"))).await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    // None of it made or journaled anything.
    assert_eq!(links_of(&sim, "a").await, names(&["lo"]));
    assert_eq!(links_of(&sim, "phy").await, names(&["eth0", "eth1", "lo"]));
    assert!(
        !ledger
            .this_run()
            .iter()
            .any(|e| matches!(e, Entry::LinkAdd { .. })),
        "{:?}",
        ledger.this_run()
    );
    // The granted device works; the kernel refuses a second vxlan of a
    // VNI and port, typed.
    ok(lab
        .add_vxlan("phy", "vx0", vx(7, "10.99.0.2", Some("eth0")))
        .await);
    let e = op_err(lab.add_vxlan("phy", "vx1", vx(7, "10.99.0.3", None)).await);
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{}", e.message);
    assert!(
        e.message
            .contains("A VXLAN device with the specified VNI already exists"),
        "{}",
        e.message
    );
    assert_eq!(
        links_of(&sim, "phy").await,
        names(&["eth0", "eth1", "lo", "vx0"])
    );
}

#[tokio::test]
async fn a_vxlan_kind_the_policy_does_not_list_is_denied() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "[links]\nkinds = [\"veth\"]\n");
    ok(lab.ns_create("a").await);
    let e = op_err(lab.add_vxlan("a", "vx0", vx(1, "10.0.0.2", None)).await);
    assert_denied(&e, "add \"vxlan\" to [links] kinds");
}

#[tokio::test]
async fn a_vxlans_far_side_is_out_of_sight_of_the_loop_check() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    let (xa, xb) = overlay(&mut lab).await;
    let bra = ok(lab.add_bridge("a", "bra").await);
    let brb = ok(lab.add_bridge("b", "brb").await);
    // Each side of the tunnel in a bridge: fine.
    ok(lab.link_set_master(xa, bra).await);
    ok(lab.link_set_master(xb, brb).await);
    // A veth between the two bridges would close a loop through the
    // tunnel, which the lab cannot follow: refused.
    let (pa, pb) = ok(lab.add_veth("a", "pa", "b", "pb").await);
    ok(lab.link_set_master(pa, bra).await);
    let e = op_err(lab.link_set_master(pb, brb).await);
    assert_loop_denied(&e);
    assert!(e.message.contains("vxlans"), "{}", e.message);
}

#[tokio::test]
async fn a_vxlan_goes_with_its_device() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let (u1, _) = ok(lab.add_veth("a", "u1", "a", "u2").await);
    let x = ok(lab
        .add_vxlan("a", "vx0", vx(1, "10.0.0.2", Some("u1")))
        .await);
    ok(lab.link_move(u1, "b", None).await);
    assert_eq!(links_of(&sim, "a").await, names(&["lo", "u2"]));
    let e = op_err(lab.link_info(x).await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    // Its name is free again, for a link of any kind.
    ok(lab.add_bridge("a", "vx0").await);
}

// ------------------------------------------------------------------ batch

const NET: &str = "10.5.0";

/// The physical network `batch.rs` of the integration tests makes: `phy`
/// with `p0`, a veth whose peer `g0` in `gw` holds the gateway NET.1/24.
async fn physical(lab: &mut Lab) {
    ok(lab.ns_create_all(&names(&["phy", "gw"])).await);
    let (p0, g0) = ok(lab.add_veth("phy", "p0", "gw", "g0").await);
    ok(lab.link_set(p0, LinkChange::Up).await);
    ok(lab.link_set(g0, LinkChange::Up).await);
    ok(lab.addr_add(g0, &format!("{NET}.1/24")).await);
}

/// A unit: namespace `name` with macvlan `eth0` on `p0` of `phy`, `lo` and
/// `eth0` up, `eth0` at `ip`, and a default route via `gw`.
fn unit(name: &str, ip: &str, gw: Option<&str>) -> NsPlan {
    NsPlan {
        name: name.into(),
        links: vec![PlanLink::Macvlan {
            parent_ns: "phy".into(),
            parent: "p0".into(),
            config: mv("eth0", Some(MacvlanMode::Bridge)),
        }],
        up: names(&["lo", "eth0"]),
        addresses: vec![("eth0".into(), ip.into())],
        routes: gw
            .map(|g| PlanRoute {
                destination: "default".into(),
                gateway: Some(g.into()),
                metric: None,
                dev: None,
            })
            .into_iter()
            .collect(),
    }
}

#[tokio::test]
async fn build_with_vxlans_makes_them_on_the_plans_links() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger, lines) = audited_lab_on(&sim, "");
    physical(&mut lab).await;
    let mut plans = vec![
        unit("u1", "10.5.0.11/24", None),
        unit("u2", "10.5.0.12/24", None),
    ];
    for (p, me) in plans.iter_mut().zip(["1", "2"]) {
        p.up.push("vx0".into());
        p.addresses
            .push(("vx0".into(), format!("192.168.66.{me}/24")));
    }
    let vxlan = |ns: &str, remote: &str| PlanVxlan {
        namespace: ns.into(),
        name: "vx0".into(),
        config: vx(7, remote, Some("eth0")),
    };
    // A vxlan for a namespace no plan makes, or on a device the plan does
    // not make: refused before anything is made, in one audit line.
    let e = op_err(
        lab.build_with_vxlans(plans.clone(), vec![vxlan("u3", "10.5.0.12")])
            .await,
    );
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(e.message.contains("which no plan creates"), "{}", e.message);
    let mut bad = vxlan("u1", "10.5.0.12");
    bad.config.device = Some("eth9".into());
    let e = op_err(lab.build_with_vxlans(plans.clone(), vec![bad]).await);
    assert!(e.message.contains("has device \"eth9\""), "{}", e.message);
    assert!(!sim.ns_exists("u1"));
    let refused = audit_lines(&lines);
    assert!(
        refused.iter().any(|l| l["op"] == "batch.build"),
        "{refused:?}"
    );
    // Built: each vxlan on its namespace's eth0, up, addressed, carrying
    // pings across the macvlans' segment; journaled as a vxlan.
    let vxlans = vec![vxlan("u1", "10.5.0.12"), vxlan("u2", "10.5.0.11")];
    ok(lab.build_with_vxlans(plans, vxlans).await);
    assert_eq!(links_of(&sim, "u1").await, names(&["eth0", "lo", "vx0"]));
    let ping = ok(lab.probe_ping("u1", "192.168.66.2", 2, 100).await);
    assert_eq!(ping.received, 2);
    let vx0 = ok(lab.link_get("u2", "vx0").await);
    let v = ok(lab.link_info(vx0).await).vxlan.unwrap();
    assert_eq!((v.id, v.device_name.as_deref()), (7, Some("eth0")));
    assert!(ledger.this_run().iter().any(|e| matches!(
        e,
        Entry::LinkAdd { ns, kind: LinkKind::Vxlan, parent: Some(p), .. } if ns == "u2" && p == "eth0"
    )));
    assert!(
        audit_lines(&lines)
            .iter()
            .any(|l| l["op"] == "link.add-vxlan" && l["args"]["batch"] == 2),
        "{:?}",
        audit_lines(&lines)
    );
}

#[tokio::test]
async fn build_makes_every_plan_as_the_kernel_would() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger, lines) = audited_lab_on(&sim, "");
    physical(&mut lab).await;
    let before = ledger.this_run().len();
    let gw = format!("{NET}.1");
    let plans: Vec<NsPlan> = (0..3)
        .map(|i| unit(&format!("u{i}"), &format!("{NET}.{}/24", i + 2), Some(&gw)))
        .collect();
    let built = ok(lab.build(&plans).await);
    assert_eq!(built, names(&["u0", "u1", "u2"]));
    assert_eq!(
        sim.ns_list().unwrap(),
        names(&["gw", "phy", "u0", "u1", "u2"])
    );
    for i in 0..3 {
        let ns = format!("u{i}");
        let (id, _) = sim.ns_open(&ns).await.unwrap();
        let eth0 = sim.link_by_name(id, "eth0").await.unwrap();
        assert_eq!(eth0.kind.as_deref(), Some("macvlan"), "{eth0:?}");
        assert_eq!(eth0.macvlan_mode, Some(MacvlanMode::Bridge), "{eth0:?}");
        assert!(eth0.admin_up, "eth0 is created up: {eth0:?}");
        assert!(sim.link_by_name(id, "lo").await.unwrap().admin_up);
        sim.ns_close(id);
        assert_eq!(
            addrs_of(&sim, &ns).await,
            vec![format!("eth0 {NET}.{}/24", i + 2)]
        );
        assert_eq!(
            our_routes(&sim, &ns).await,
            vec![format!("0.0.0.0/0 via {gw}")]
        );
    }
    // Bridge mode: the units reach each other, and the gateway.
    let ping = ok(lab.probe_ping("u0", &format!("{NET}.3"), 1, 100).await);
    assert_eq!(ping.received, 1, "u0 → u1");
    let ping = ok(lab.probe_ping("u0", &gw, 1, 100).await);
    assert_eq!(ping.received, 1, "u0 → gateway");

    // The journal: each plan's namespace, with its identity, then what the
    // plan puts in it, in one write; the links' `up` after.
    let run = ledger.this_run();
    let mine = &run[before..];
    for i in 0..3 {
        let ns = format!("u{i}");
        let at = mine
            .iter()
            .position(|e| matches!(e, Entry::NsCreate { ns: n, id: Some(_) } if *n == ns))
            .unwrap_or_else(|| panic!("{ns} journaled: {mine:#?}"));
        match &mine[at + 1..at + 4] {
            [
                Entry::LinkAdd {
                    ns: l_ns,
                    name,
                    kind: LinkKind::Macvlan,
                    mode: Some(MacvlanMode::Bridge),
                    parent: Some(parent),
                    parent_ns: Some(parent_ns),
                    index: Some(_),
                    ..
                },
                Entry::AddrAdd {
                    ns: a_ns,
                    link,
                    cidr,
                    index: Some(_),
                },
                Entry::RouteAdd {
                    ns: r_ns,
                    destination,
                    gateway: Some(g),
                    ..
                },
            ] => {
                assert_eq!((l_ns, name.as_str()), (&ns, "eth0"));
                assert_eq!((parent.as_str(), parent_ns.as_str()), ("p0", "phy"));
                assert_eq!((a_ns, link.as_str()), (&ns, "eth0"));
                assert_eq!(cidr, &format!("{NET}.{}/24", i + 2));
                assert_eq!((r_ns, destination.as_str()), (&ns, "0.0.0.0/0"));
                assert_eq!(g, &gw);
            }
            other => panic!("{ns}: {other:#?}"),
        }
        assert!(
            mine.iter().any(|e| matches!(e,
                Entry::LinkSet { ns: n, name, change: LinkSetting::Up }
                    if *n == ns && name == "eth0")),
            "{mine:#?}"
        );
        // `lo` is no object of the lab's.
        assert!(
            !mine.iter().any(|e| matches!(e,
                Entry::LinkSet { name, .. } if name == "lo")),
            "{mine:#?}"
        );
    }
    // What replay makes of it: each unit's namespace, link, address, route.
    let units: Vec<String> = replay(&run)
        .iter()
        .filter(|o| o.ns().starts_with('u'))
        .map(Object::describe)
        .collect();
    let mut want = Vec::new();
    for i in 0..3 {
        want.extend([
            format!("namespace u{i}"),
            format!("macvlan eth0 (bridge) in u{i}"),
            format!("address {NET}.{}/24 on eth0 in u{i}", i + 2),
            format!("route 0.0.0.0/0 via {gw} in u{i}"),
        ]);
    }
    let mut got = units.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // Each step is audited as its own operation, marked with its batch.
    let audit: Vec<Value> = audit_lines(&lines)
        .into_iter()
        .filter(|l| l["args"]["batch"] == 3)
        .collect();
    let count = |op: &str| audit.iter().filter(|l| l["op"] == op).count();
    assert_eq!(count("namespace.create"), 3);
    assert_eq!(count("link.add-macvlan"), 3);
    assert_eq!(count("link.set-up"), 6);
    assert_eq!(count("addr.add"), 3);
    assert_eq!(count("route.add"), 3);
    assert!(audit.iter().all(|l| l["result"] == "ok"), "{audit:#?}");
    assert_eq!(lab.usage().namespaces, 5);

    // And the lab holds what it built: a unit's link can be changed.
    let eth0 = ok(lab.link_get("u1", "eth0").await);
    ok(lab.link_set(eth0, LinkChange::Mtu(1400)).await);
}

#[tokio::test]
async fn a_kernel_refusal_rolls_back_the_whole_build() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    physical(&mut lab).await;
    let gw = format!("{NET}.1");
    let plans = vec![
        unit("a", &format!("{NET}.2/24"), Some(&gw)),
        unit("b", &format!("{NET}.3/24"), Some("10.99.0.1")),
        unit("c", &format!("{NET}.4/24"), Some(&gw)),
    ];
    let e = op_err(lab.build(&plans).await);
    assert_eq!(e.kind, ErrorKind::Kernel, "{}", e.message);
    assert_eq!(e.errno, Some(libc::ENETUNREACH));
    for part in [
        "via 10.99.0.1",
        "\"b\"",
        "ENETUNREACH",
        "none of the 3 planned namespaces was kept",
    ] {
        assert!(e.message.contains(part), "{part:?} in {}", e.message);
    }
    assert_eq!(sim.ns_list().unwrap(), names(&["gw", "phy"]));
    assert_eq!(links_of(&sim, "phy").await, names(&["lo", "p0"]));
    // The ledger agrees: the lab holds the physical network only.
    let objects = replay(&ledger.this_run());
    assert!(
        objects.iter().all(|o| ["phy", "gw"].contains(&o.ns())),
        "{objects:#?}"
    );
    assert_eq!(lab.usage().namespaces, 2);
}

#[tokio::test]
async fn a_plan_with_a_bad_address_fails_and_leaves_nothing_after_undo() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    physical(&mut lab).await;
    let gw = format!("{NET}.1");
    let journaled = ledger.this_run().len();

    // Malformed: refused before anything is made or journaled.
    let plans = vec![
        unit("a", &format!("{NET}.2/24"), Some(&gw)),
        unit("b", "10.77.0.300/24", Some(&gw)),
    ];
    let e = op_err(lab.build(&plans).await);
    assert_eq!(e.kind, ErrorKind::InvalidArgument, "{}", e.message);
    assert!(e.message.contains("10.77.0.300"), "{}", e.message);
    assert_eq!(sim.ns_list().unwrap(), names(&["gw", "phy"]));
    assert_eq!(ledger.this_run().len(), journaled);

    // Well-formed, refused by the kernel (the link has it already):
    // rolled back.
    let mut twice = unit("b", &format!("{NET}.3/24"), Some(&gw));
    twice.addresses.push(("eth0".into(), format!("{NET}.3/24")));
    let plans = vec![unit("a", &format!("{NET}.2/24"), Some(&gw)), twice];
    let e = op_err(lab.build(&plans).await);
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{}", e.message);
    assert_eq!(e.errno, Some(libc::EEXIST));
    assert!(
        e.message
            .contains("none of the 2 planned namespaces was kept"),
        "{}",
        e.message
    );
    assert_eq!(sim.ns_list().unwrap(), names(&["gw", "phy"]));

    // The journal holds the physical network only; undoing it leaves
    // nothing.
    let objects = replay(&ledger.this_run());
    assert!(
        objects.iter().all(|o| ["phy", "gw"].contains(&o.ns())),
        "{objects:#?}"
    );
    drop(lab);
    let report = undo::undo(&*sim, &objects, false).await;
    assert!(report.is_complete(), "{}", report.summary());
    assert!(sim.ns_list().unwrap().is_empty(), "{:?}", sim.ns_list());
}

#[tokio::test]
async fn a_refused_build_is_audited_in_one_line_and_uses_nothing() {
    let sim = Arc::new(Sim::new());
    let (mut lab, _, lines) = audited_lab_on(
        &sim,
        "[operations]\ndeny = [\"route.add\"]\n\n[quotas]\nnamespaces = 5\n",
    );
    physical(&mut lab).await;
    let gw = format!("{NET}.1");
    let e = op_err(
        lab.build(&[
            unit("a", &format!("{NET}.2/24"), None),
            unit("b", &format!("{NET}.3/24"), Some(&gw)),
        ])
        .await,
    );
    assert_denied(&e, "route.add");
    let too_many: Vec<NsPlan> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, n)| unit(n, &format!("{NET}.{}/24", i + 2), None))
        .collect();
    let e = op_err(lab.build(&too_many).await);
    assert_eq!(e.kind, ErrorKind::LimitReached, "{}", e.message);
    assert!(e.message.contains("namespaces"), "{}", e.message);
    let e = op_err(
        lab.build(&[
            unit("a", &format!("{NET}.2/24"), None),
            unit("a", &format!("{NET}.3/24"), None),
        ])
        .await,
    );
    assert!(e.message.contains("twice"), "{}", e.message);
    let mut nosuch = unit("a", &format!("{NET}.2/24"), None);
    nosuch.links = vec![PlanLink::Macvlan {
        parent_ns: "phy".into(),
        parent: "nosuch".into(),
        config: mv("eth0", Some(MacvlanMode::Bridge)),
    }];
    let e = op_err(lab.build(&[nosuch]).await);
    assert_eq!(e.kind, ErrorKind::NotFound, "{}", e.message);
    assert!(e.message.contains("\"nosuch\""), "{}", e.message);
    assert_eq!(sim.ns_list().unwrap(), names(&["gw", "phy"]));

    let audit = audit_lines(&lines);
    let batch: Vec<&Value> = audit.iter().filter(|l| l["op"] == "batch.build").collect();
    assert_eq!(batch.len(), 4, "{audit:#?}");
    assert_eq!(batch[0]["decision"], "denied");
    assert_eq!(batch[0]["args"]["plans"], 2);
    assert!(
        !audit.iter().any(|l| l["op"] == "link.add-macvlan"),
        "{audit:#?}"
    );
    // Nothing was used up: the whole quota is still there.
    let three: Vec<NsPlan> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, n)| unit(n, &format!("{NET}.{}/24", i + 2), None))
        .collect();
    ok(lab.build(&three).await);
    assert_eq!(sim.ns_list().unwrap().len(), 5);
}
