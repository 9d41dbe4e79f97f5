//! Replay, undo and drift of journals a [`Lab`] wrote while it built on
//! the simulated kernel: what the journal says the lab holds, what
//! tearing it down removes, and what changed behind the lab's back — each
//! checked against the kernel through the [`Kernel`] trait.

use std::sync::Arc;

use super::replay::{LinkProps, Object, replay};
use super::{Entry, Ledger, drift, undo};
use crate::error::Failure;
use crate::inspect::committed::{self, Baseline, Snapshot};
use crate::kernel::Kernel;
use crate::kernel::sim::Sim;
use crate::lab::tests_support::{lab_on, links_of, names, ok};
use crate::lab::{Lab, MacvlanConfig};
use crate::vocab::{LinkChange, LinkKind, MacvlanMode, NETWASM_PROTO, NsIdent};

fn bridge_mode(name: &str) -> MacvlanConfig {
    MacvlanConfig {
        name: name.into(),
        mode: Some(MacvlanMode::Bridge),
        mac: None,
        mtu: None,
    }
}

fn described(objects: &[Object]) -> Vec<String> {
    objects.iter().map(Object::describe).collect()
}

async fn ident(sim: &Sim, ns: &str) -> NsIdent {
    let (id, ident) = sim.ns_open(ns).await.unwrap();
    sim.ns_close(id);
    ident
}

/// The index of link `name` in namespace `ns`, as the kernel has it.
async fn index_of(sim: &Sim, ns: &str, name: &str) -> u32 {
    let (id, _) = sim.ns_open(ns).await.unwrap();
    let i = sim.link_by_name(id, name).await.unwrap().index;
    sim.ns_close(id);
    i
}

/// Runs `f` on the kernel with namespace `ns` open, as someone other than
/// the lab would.
async fn behind_the_back<F>(sim: &Sim, ns: &str, f: F)
where
    F: AsyncFnOnce(&Sim, crate::vocab::NsId),
{
    let (id, _) = sim.ns_open(ns).await.unwrap();
    f(sim, id).await;
    sim.ns_close(id);
}

/// A small lab: namespaces `a` and `b`; a veth `va`/`vb` between them; in
/// `a` a bridge `br0` with port `p0` of a veth `p0`/`p1`; in `b` a
/// macvlan `mv0` on `vb` with MTU 1400; addresses on `va`, `vb` and
/// `mv0`; a route in each namespace.
async fn small_lab(sim: &Arc<Sim>) -> (Lab, Ledger) {
    let (mut lab, ledger) = lab_on(sim, "");
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let (va, vb) = ok(lab.add_veth("a", "va", "b", "vb").await);
    let br = ok(lab.add_bridge("a", "br0").await);
    let (p0, _) = ok(lab.add_veth("a", "p0", "a", "p1").await);
    ok(lab.link_set_master(p0, br).await);
    let mv0 = ok(lab.add_macvlan(vb, bridge_mode("mv0"), None).await);
    for l in [va, vb, br, p0, mv0] {
        ok(lab.link_set(l, LinkChange::Up).await);
    }
    ok(lab.link_set(mv0, LinkChange::Mtu(1400)).await);
    ok(lab.addr_add(va, "10.1.0.1/24").await);
    ok(lab.addr_add(vb, "10.1.0.2/24").await);
    ok(lab.addr_add(mv0, "10.2.0.1/24").await);
    ok(lab
        .route_add("a", "10.3.0.0/16", Some("10.1.0.2"), None, None)
        .await);
    ok(lab
        .route_add("b", "default", Some("10.1.0.1"), None, None)
        .await);
    (lab, ledger)
}

const SMALL_LAB: [&str; 11] = [
    "namespace a",
    "namespace b",
    "veth va in a (peer vb in b)",
    "bridge br0 in a",
    "veth p0 in a (peer p1 in a)",
    "macvlan mv0 (bridge) in b",
    "address 10.1.0.1/24 on va in a",
    "address 10.1.0.2/24 on vb in b",
    "address 10.2.0.1/24 on mv0 in b",
    "route 10.3.0.0/16 via 10.1.0.2 in a",
    "route 0.0.0.0/0 via 10.1.0.1 in b",
];

/// Namespace `phy` exists before the run, with NIC `eth0`; the policy
/// lets the lab build in it and use `eth0` as a parent. The lab makes
/// namespace `a`, a veth `va`/`vp` from it into `phy`, and in `phy` a
/// macvlan `mv9` on `eth0` (up, with an address and a route through it)
/// and a bridge `br9`: objects outside its own namespaces, which a
/// teardown removes one by one.
async fn lab_in_phy(sim: &Arc<Sim>) -> (Lab, Ledger) {
    let (mut lab, ledger) = lab_on(
        sim,
        "[namespaces]\nmodify = [\"phy\"]\n\n[links]\nparents = [{ namespace = \"phy\", link = \"eth0\" }]\n",
    );
    ok(lab.ns_create("a").await);
    ok(lab.ns_open("phy").await);
    ok(lab.add_veth("a", "va", "phy", "vp").await);
    let mv = ok(lab
        .add_macvlan_on("phy", "eth0", bridge_mode("mv9"), None)
        .await);
    ok(lab.link_set(mv, LinkChange::Up).await);
    ok(lab.addr_add(mv, "10.4.0.1/24").await);
    ok(lab
        .route_add("phy", "10.5.0.0/16", Some("10.4.0.2"), None, None)
        .await);
    ok(lab.add_bridge("phy", "br9").await);
    (lab, ledger)
}

// ----------------------------------------------------------------- replay

#[tokio::test]
async fn replay_lists_exactly_what_the_lab_made() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    assert_eq!(described(&objects), names(&SMALL_LAB));

    // Each with the identity the kernel gave it.
    let (a, b) = (ident(&sim, "a").await, ident(&sim, "b").await);
    for o in &objects {
        let want = if o.ns() == "a" { a } else { b };
        assert!(o.ns_id().is_some_and(|i| i.same(&want)), "{o:?}");
    }
    for o in &objects {
        match o {
            Object::Link {
                ns, name, index, ..
            } => assert_eq!(*index, Some(index_of(&sim, ns, name).await), "{o:?}"),
            Object::Addr {
                ns,
                link,
                index,
                done,
                ..
            } => {
                assert!(done, "the kernel took it: {o:?}");
                assert_eq!(*index, Some(index_of(&sim, ns, link).await), "{o:?}");
            }
            Object::Route {
                done, metric, oif, ..
            } => {
                assert!(done, "the kernel took it: {o:?}");
                assert_eq!(*metric, Some(0), "{o:?}");
                assert_eq!(*oif, None, "no dev named, in the lab's own namespace");
            }
            Object::Ns { .. } | Object::Process { .. } => {}
        }
    }
    // The changes worth checking for drift, on the links they were made to.
    let props = |name: &str| {
        objects
            .iter()
            .find_map(|o| match o {
                Object::Link { name: n, props, .. } if n == name => Some(props.clone()),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(
        props("va"),
        LinkProps {
            admin_up: Some(true),
            ..LinkProps::default()
        }
    );
    assert_eq!(props("p0").master, Some(Some("br0".into())));
    assert_eq!(props("mv0").mtu, Some(1400));
    match objects.iter().find(|o| o.describe().starts_with("macvlan")) {
        Some(Object::Link {
            kind: LinkKind::Macvlan,
            parent,
            parent_ns,
            ..
        }) => {
            assert_eq!(parent.as_deref(), Some("vb"));
            assert_eq!(parent_ns.as_deref(), Some("b"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn replay_forgets_what_the_lab_deleted_or_the_kernel_refused() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = small_lab(&sim).await;
    // Deleted by the lab: a bridge, an address, a route.
    let br = ok(lab.link_get("a", "br0").await);
    ok(lab.link_delete(br).await);
    let mv0 = ok(lab.link_get("b", "mv0").await);
    ok(lab.addr_delete(mv0, "10.2.0.1/24").await);
    let va = ok(lab.link_get("a", "va").await);
    ok(lab
        .route_add("a", "10.6.0.0/16", Some("10.1.0.2"), None, Some(va))
        .await);
    ok(lab
        .route_delete("a", "10.6.0.0/16", Some("10.1.0.2"), None, Some(va))
        .await);
    // Refused by the kernel: journaled, then cancelled.
    assert!(
        lab.route_add("a", "10.9.0.0/16", Some("10.99.0.1"), None, None)
            .await
            .is_err()
    );
    assert!(lab.add_bridge("a", "va").await.is_err());
    let run = ledger.this_run();
    assert_eq!(run.iter().filter(|e| matches!(e, Entry::Abort)).count(), 2);
    let objects = replay(&run);
    let want: Vec<&str> = SMALL_LAB
        .iter()
        .copied()
        .filter(|d| !d.starts_with("bridge br0") && !d.starts_with("address 10.2.0.1/24"))
        .collect();
    assert_eq!(described(&objects), names(&want));
    // A deleted namespace takes everything in it, and the veth into it.
    // (What was on the veth's other end stays listed: the journal lists at
    // least what exists, and a teardown finds it gone.)
    ok(lab.ns_delete("b").await);
    let objects = replay(&ledger.this_run());
    assert_eq!(
        described(&objects),
        names(&[
            "namespace a",
            "veth p0 in a (peer p1 in a)",
            "address 10.1.0.1/24 on va in a",
            "route 10.3.0.0/16 via 10.1.0.2 in a",
        ])
    );
}

/// A route the guest added without naming its dev, in a namespace the lab
/// made, is journaled without its output link (`oif`); deleting it
/// journals the output link the kernel reports. Replay must match the
/// two, or the deleted route stays listed: `down` would count it as
/// already gone, and drift report it missing (found here; the journal
/// entries are the real kernel's too).
#[tokio::test]
async fn replay_forgets_a_route_added_and_deleted_without_a_dev() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = small_lab(&sim).await;
    ok(lab
        .route_delete("a", "10.3.0.0/16", Some("10.1.0.2"), None, None)
        .await);
    let objects = replay(&ledger.this_run());
    assert!(
        !described(&objects).contains(&"route 10.3.0.0/16 via 10.1.0.2 in a".to_string()),
        "{objects:#?}"
    );
}

/// The lab deletes a bridge with a port: the kernel frees the port, and
/// no entry says so; replay must free it too, or drift reports the port's
/// master as changed behind the lab's back, though the lab did it.
#[tokio::test]
async fn deleting_a_bridge_is_no_drift_of_its_ports() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = small_lab(&sim).await;
    let br = ok(lab.link_get("a", "br0").await);
    ok(lab.link_delete(br).await);
    drop(lab);
    let objects = replay(&ledger.this_run());
    assert_eq!(drift::check(&*sim, &objects).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_vxlan_remade_with_another_tunnel_is_drift() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    let config = crate::lab::VxlanConfig {
        id: 42,
        remote: Some("10.0.0.2".into()),
        ..Default::default()
    };
    ok(lab.add_vxlan("a", "vx0", config).await);
    drop(lab);
    let objects = replay(&ledger.this_run());
    assert_eq!(drift::check(&*sim, &objects).await, Vec::<String>::new());
    // Someone remakes it, index and all, sending elsewhere.
    let index = index_of(&sim, "a", "vx0").await;
    behind_the_back(&sim, "a", async |k: &Sim, id| {
        let old = k.link_by_index(id, index).await.unwrap();
        k.link_del(id, index).await.unwrap();
        let mut v = old.vxlan.unwrap();
        v.remote = Some("10.0.0.9".parse().unwrap());
        let remade = crate::vocab::NewLink {
            name: "vx0".into(),
            ns: id,
            index: Some(index),
            kind: crate::vocab::NewLinkKind::Vxlan(v),
            mac: None,
            mtu: None,
            up: false,
        };
        k.link_add(&remade).await.unwrap();
    })
    .await;
    assert_eq!(
        drift::check(&*sim, &objects).await,
        vec![
            "vxlan vx0 (vni 42) in a: tunnel is vni 42, remote 10.0.0.9, port 4789, recorded vni 42, remote 10.0.0.2, port 4789"
                .to_string()
        ]
    );
}

// ------------------------------------------------------------------- undo

#[tokio::test]
async fn undo_removes_everything_the_lab_made() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    let report = undo::undo(&*sim, &objects, false).await;
    assert!(report.is_complete(), "{}", report.summary());
    assert_eq!(report.undone, names(&["namespace b", "namespace a"]));
    assert_eq!(report.with_namespace, SMALL_LAB.len() - 2);
    assert!(report.gone.is_empty() && report.replaced.is_empty());
    assert!(sim.ns_list().unwrap().is_empty(), "{:?}", sim.ns_list());
    assert_eq!(
        report.summary(),
        "undid namespace b, namespace a (9 more objects went with their namespaces)"
    );
}

#[tokio::test]
async fn undo_removes_the_labs_objects_from_a_namespace_it_did_not_make() {
    let sim = Arc::new(Sim::new().with_namespace("phy", &["eth0"]));
    let (lab, ledger) = lab_in_phy(&sim).await;
    assert_eq!(
        links_of(&sim, "phy").await,
        names(&["br9", "eth0", "lo", "mv9", "vp"])
    );
    drop(lab);
    let objects = replay(&ledger.this_run());
    assert_eq!(
        described(&objects),
        names(&[
            "namespace a",
            "veth va in a (peer vp in phy)",
            "macvlan mv9 (bridge) in phy",
            "address 10.4.0.1/24 on mv9 in phy",
            "route 10.5.0.0/16 via 10.4.0.2 in phy",
            "bridge br9 in phy",
        ])
    );
    let report = undo::undo(&*sim, &objects, false).await;
    assert!(report.is_complete(), "{}", report.summary());
    assert_eq!(
        report.undone,
        names(&[
            "bridge br9 in phy",
            "route 10.5.0.0/16 via 10.4.0.2 in phy",
            "address 10.4.0.1/24 on mv9 in phy",
            "macvlan mv9 (bridge) in phy",
            "namespace a",
        ])
    );
    assert_eq!(report.with_namespace, 1, "the veth went with a");
    // `phy` is as it was before the run.
    assert_eq!(sim.ns_list().unwrap(), names(&["phy"]));
    assert_eq!(links_of(&sim, "phy").await, names(&["eth0", "lo"]));
    let (id, _) = sim.ns_open("phy").await.unwrap();
    // Nothing but the kernel's own link-local address on eth0.
    assert!(
        sim.addr_list(id, None)
            .await
            .unwrap()
            .iter()
            .all(|a| a.scope == "link")
    );
    assert!(
        !sim.route_list(id)
            .await
            .unwrap()
            .iter()
            .any(|r| r.proto == NETWASM_PROTO)
    );
    sim.ns_close(id);
}

#[tokio::test]
async fn undo_of_what_is_already_gone_counts_it_as_gone() {
    let sim = Arc::new(Sim::new().with_namespace("phy", &["eth0"]));
    let (lab, ledger) = lab_in_phy(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    // Someone else removes the bridge, the route and namespace `a`.
    behind_the_back(&sim, "phy", async |k, id| {
        let br = k.link_by_name(id, "br9").await.unwrap().index;
        k.link_del(id, br).await.unwrap();
        let route = k
            .route_list(id)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.proto == NETWASM_PROTO)
            .unwrap();
        let spec = crate::vocab::RouteSpec {
            destination: route.destination,
            gateway: route.gateway,
            dev: route.dev_index,
            metric: route.metric,
            protocol: None,
        };
        k.route_del(id, &spec).await.unwrap();
    })
    .await;
    assert_eq!(
        sim.ns_remove("a", None).await.unwrap(),
        crate::vocab::Removal::Removed
    );
    let report = undo::undo(&*sim, &objects, false).await;
    assert!(report.is_complete(), "{}", report.summary());
    assert_eq!(
        report.gone,
        names(&[
            "bridge br9 in phy",
            "route 10.5.0.0/16 via 10.4.0.2 in phy",
            "namespace a",
        ])
    );
    assert_eq!(
        report.undone,
        names(&[
            "address 10.4.0.1/24 on mv9 in phy",
            "macvlan mv9 (bridge) in phy",
        ])
    );
    assert_eq!(links_of(&sim, "phy").await, names(&["eth0", "lo"]));

    // Undone twice: all of it is gone, and the teardown is complete.
    let again = undo::undo(&*sim, &objects, false).await;
    assert!(again.is_complete(), "{}", again.summary());
    assert!(again.undone.is_empty(), "{}", again.summary());
    assert_eq!(again.gone.len(), objects.len() - again.with_namespace);
}

#[tokio::test]
async fn undo_leaves_a_namespace_that_took_the_labs_name() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    // `b` is removed, and someone else makes a namespace of that name.
    sim.ns_remove("b", None).await.unwrap();
    let (id, _) = sim.ns_create("b", Box::new(|_| Ok(()))).await.unwrap();
    sim.ns_close(id);
    let report = undo::undo(&*sim, &objects, false).await;
    assert!(report.is_complete(), "{}", report.summary());
    assert_eq!(report.undone, names(&["namespace a"]));
    assert_eq!(report.replaced.len(), 1, "{}", report.summary());
    assert!(
        report.replaced[0].starts_with("namespace b (it names another namespace now"),
        "{}",
        report.summary()
    );
    assert_eq!(sim.ns_list().unwrap(), names(&["b"]));
}

#[tokio::test]
async fn a_move_whose_rename_fails_is_journaled_where_the_link_went() {
    // As `identities.rs` has it: both ends of a veth pair end up in the
    // decoy (so that deleting the lab's namespace cannot take them along);
    // v0's new name p0 is taken there, its old name is not: the kernel
    // moves it, then fails to rename it.
    let sim = Arc::new(Sim::new().with_namespace("decoy", &["p0", "p1"]));
    let (mut lab, ledger) = lab_on(&sim, "[namespaces]\nmodify = [\"decoy\"]\n");
    ok(lab.ns_create("a").await);
    ok(lab.ns_open("decoy").await);
    let (v0, v1) = ok(lab.add_veth("a", "v0", "a", "v1").await);
    ok(lab.link_move(v1, "decoy", None).await);
    let e = match lab.link_move(v0, "decoy", Some("p0".into())).await {
        Err(Failure::Op(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(e.errno, Some(libc::EEXIST), "{}", e.message);
    assert!(
        e.message.contains("moved all the same, as \"v0\""),
        "{}",
        e.message
    );
    // The handle followed it.
    assert_eq!(
        lab.link_names(v0).unwrap(),
        ("v0".to_string(), "decoy".to_string())
    );
    assert_eq!(
        links_of(&sim, "decoy").await,
        names(&["lo", "p0", "p1", "v0", "v1"])
    );
    let objects = replay(&ledger.this_run());
    assert_eq!(
        described(&objects),
        names(&["namespace a", "veth v0 in decoy (peer v1 in decoy)"])
    );
    drop(lab);
    let report = undo::undo(&*sim, &objects, false).await;
    assert!(report.is_complete(), "{}", report.summary());
    assert_eq!(
        report.undone,
        names(&["veth v0 in decoy (peer v1 in decoy)", "namespace a"])
    );
    assert_eq!(links_of(&sim, "decoy").await, names(&["lo", "p0", "p1"]));
    assert_eq!(sim.ns_list().unwrap(), names(&["decoy"]));
}

#[tokio::test]
async fn a_moved_link_leaves_its_addresses_and_routes_behind() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let (v0, _) = ok(lab.add_veth("a", "v0", "a", "v1").await);
    ok(lab.link_set(v0, LinkChange::Up).await);
    ok(lab.addr_add(v0, "10.7.0.1/24").await);
    ok(lab
        .route_add("a", "10.8.0.0/16", Some("10.7.0.2"), None, Some(v0))
        .await);
    ok(lab.link_move(v0, "b", Some("m0".into())).await);
    assert_eq!(links_of(&sim, "b").await, names(&["lo", "m0"]));
    let (id, _) = sim.ns_open("b").await.unwrap();
    let m0 = sim.link_by_name(id, "m0").await.unwrap();
    assert!(!m0.admin_up, "a moved link is down");
    assert!(sim.addr_list(id, Some(m0.index)).await.unwrap().is_empty());
    sim.ns_close(id);
    let objects = replay(&ledger.this_run());
    assert_eq!(
        described(&objects),
        names(&["namespace a", "namespace b", "veth m0 in b (peer v1 in a)"])
    );
    // Set up again where it went, as a guest does: no drift.
    ok(lab.link_set(v0, LinkChange::Up).await);
    drop(lab);
    let objects = replay(&ledger.this_run());
    assert_eq!(drift::check(&*sim, &objects).await, Vec::<String>::new());
}

/// The kernel sets a link down when it moves it (`dev_close` in
/// `__dev_change_net_namespace`), and takes it out of its bridge; replay
/// must follow, or drift reports the lab's own move as a change behind its
/// back.
#[tokio::test]
async fn moving_an_up_link_is_no_drift() {
    let sim = Arc::new(Sim::new());
    let (mut lab, ledger) = lab_on(&sim, "");
    ok(lab.ns_create("a").await);
    ok(lab.ns_create("b").await);
    let (v0, _) = ok(lab.add_veth("a", "v0", "a", "v1").await);
    ok(lab.link_set(v0, LinkChange::Up).await);
    ok(lab.link_move(v0, "b", None).await);
    drop(lab);
    let objects = replay(&ledger.this_run());
    assert_eq!(drift::check(&*sim, &objects).await, Vec::<String>::new());
}

#[tokio::test]
async fn an_attached_run_holds_what_earlier_runs_built() {
    let sim = Arc::new(Sim::new());
    let (mut first, ledger) = lab_on(&sim, "");
    ok(first.ns_create("a").await);
    let br1 = ok(first.add_bridge("a", "br1").await);
    let br2 = ok(first.add_bridge("a", "br2").await);
    let (v0, v1) = ok(first.add_veth("a", "v0", "a", "v1").await);
    ok(first.link_set_master(v0, br1).await);
    ok(first.link_set_master(v1, br2).await);
    drop(first);
    let objects = replay(&ledger.this_run());

    // The next run adopts them: each checked against the kernel first.
    let (mut lab, _) = lab_on(&sim, "[namespaces]\ncreate = [\"other-*\"]\n");
    let refused = lab.adopt(&objects).await.unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    // The lab's own namespace opens whatever the policy says of it.
    ok(lab.ns_open("a").await);
    let (w0, w1) = ok(lab.add_veth("a", "w0", "a", "w1").await);
    let br1 = ok(lab.link_get("a", "br1").await);
    let br2 = ok(lab.link_get("a", "br2").await);
    ok(lab.link_set_master(w0, br1).await);
    // What the earlier run built counts in the loop check.
    let e = match lab.link_set_master(w1, br2).await {
        Err(Failure::Op(e)) => e,
        other => panic!("{other:?}"),
    };
    assert!(e.message.contains("Layer-2 loops"), "{}", e.message);
    // And the lab may delete what it made before.
    ok(lab.link_delete(br2).await);
    assert_eq!(
        links_of(&sim, "a").await,
        names(&["br1", "lo", "v0", "v1", "w0", "w1"])
    );
    drop(lab);

    // A namespace replaced since is not handed over.
    sim.ns_remove("a", None).await.unwrap();
    let (id, _) = sim.ns_create("a", Box::new(|_| Ok(()))).await.unwrap();
    sim.ns_close(id);
    let (mut lab, _) = lab_on(&sim, "");
    let refused = lab.adopt(&objects).await.unwrap();
    assert_eq!(refused.len(), objects.len(), "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|r| r.contains("namespace a is another namespace now")),
        "{refused:?}"
    );
    let e = match lab.ns_open("a").await {
        Err(Failure::Op(e)) => e,
        other => panic!("{other:?}"),
    };
    assert!(e.message.contains("[namespaces] open"), "{}", e.message);
}

// ------------------------------------------------------------------ drift

#[tokio::test]
async fn drift_is_nothing_right_after_the_build() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    assert_eq!(drift::check(&*sim, &objects).await, Vec::<String>::new());

    let sim = Arc::new(Sim::new().with_namespace("phy", &["eth0"]));
    let (lab, ledger) = lab_in_phy(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    assert_eq!(drift::check(&*sim, &objects).await, Vec::<String>::new());
}

#[tokio::test]
async fn drift_reports_a_link_set_down_behind_the_labs_back() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    behind_the_back(&sim, "a", async |k, id| {
        let va = k.link_by_name(id, "va").await.unwrap().index;
        k.link_set(id, va, &LinkChange::Down).await.unwrap();
    })
    .await;
    // The kernel flushes the routes through a link set down.
    assert_eq!(
        drift::check(&*sim, &objects).await,
        names(&[
            "veth va in a (peer vb in b): is down, recorded up",
            "route 10.3.0.0/16 via 10.1.0.2 in a is missing",
        ])
    );
}

#[tokio::test]
async fn drift_reports_an_mtu_changed_behind_the_labs_back() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    behind_the_back(&sim, "b", async |k, id| {
        let mv0 = k.link_by_name(id, "mv0").await.unwrap().index;
        k.link_set(id, mv0, &LinkChange::Mtu(1300)).await.unwrap();
    })
    .await;
    assert_eq!(
        drift::check(&*sim, &objects).await,
        names(&["macvlan mv0 (bridge) in b: mtu is 1300, recorded 1400"])
    );
}

/// The lab as the sim has it now, as a commit would record it.
async fn snapshot_of(sim: &Sim, objects: &[Object]) -> Baseline {
    let view = crate::inspect::view::gather(sim, "t", objects, None, None).await;
    Baseline::Commit(Snapshot::of(&view, 0))
}

/// With a snapshot of the commit, a property the lab never set is
/// compared too, and what the journal also records is said once.
#[tokio::test]
async fn drift_against_the_commit_sees_what_the_lab_never_set() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    let then = snapshot_of(&sim, &objects).await;
    let found = committed::drift(&*sim, "t", &objects, &then).await;
    assert_eq!(found, Default::default());
    behind_the_back(&sim, "a", async |k, id| {
        let va = k.link_by_name(id, "va").await.unwrap().index;
        k.link_set(id, va, &LinkChange::Mtu(1280)).await.unwrap();
        let p0 = k.link_by_name(id, "p0").await.unwrap().index;
        k.link_set(id, p0, &LinkChange::Master(None)).await.unwrap();
    })
    .await;
    behind_the_back(&sim, "b", async |k, id| {
        let mv0 = k.link_by_name(id, "mv0").await.unwrap().index;
        k.link_set(id, mv0, &LinkChange::Mtu(1300)).await.unwrap();
    })
    .await;
    // Without a snapshot only what the lab set is seen.
    assert_eq!(
        drift::check(&*sim, &objects).await,
        names(&[
            "veth p0 in a (peer p1 in a): master is none, recorded br0",
            "macvlan mv0 (bridge) in b: mtu is 1300, recorded 1400"
        ])
    );
    let mut found = committed::drift(&*sim, "t", &objects, &then).await;
    found.drift.sort();
    assert_eq!(
        found.drift,
        names(&[
            "a/p0: master br0 → none",
            "a/va: mtu 1500 → 1280",
            "b/mv0: mtu 1400 → 1300",
        ]),
        "{found:?}"
    );
}

#[tokio::test]
async fn drift_reports_a_link_deleted_behind_the_labs_back() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    behind_the_back(&sim, "a", async |k, id| {
        let br = k.link_by_name(id, "br0").await.unwrap().index;
        k.link_del(id, br).await.unwrap();
    })
    .await;
    // Its port is a port of nothing now.
    assert_eq!(
        drift::check(&*sim, &objects).await,
        names(&[
            "bridge br0 in a is missing",
            "veth p0 in a (peer p1 in a): master is none, recorded br0",
        ])
    );
}

#[tokio::test]
async fn drift_reports_addresses_routes_and_namespaces_gone() {
    let sim = Arc::new(Sim::new());
    let (lab, ledger) = small_lab(&sim).await;
    drop(lab);
    let objects = replay(&ledger.this_run());
    behind_the_back(&sim, "b", async |k, id| {
        let mv0 = k.link_by_name(id, "mv0").await.unwrap().index;
        let cidr = crate::vocab::net::Cidr::parse("10.2.0.1/24", "t", false).unwrap();
        k.addr_del(id, mv0, cidr).await.unwrap();
    })
    .await;
    assert_eq!(
        drift::check(&*sim, &objects).await,
        names(&["address 10.2.0.1/24 on mv0 in b is missing (the link has no global addresses)"])
    );
    // A namespace replaced under its name: nothing in it is compared with
    // the impostor. The veth into it died with it, and what was on its
    // other end.
    sim.ns_remove("b", None).await.unwrap();
    let (id, _) = sim.ns_create("b", Box::new(|_| Ok(()))).await.unwrap();
    sim.ns_close(id);
    let with_b = [
        "veth va in a (peer vb in b) is missing",
        "address 10.1.0.1/24 on va in a: link va is missing",
        "route 10.3.0.0/16 via 10.1.0.2 in a is missing",
    ];
    let found = drift::check(&*sim, &objects).await;
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found[0].starts_with("namespace b was replaced: the name now denotes another namespace"),
        "{found:#?}"
    );
    assert_eq!(found[1..], with_b);
    sim.ns_remove("b", None).await.unwrap();
    let mut want = vec!["namespace b is missing"];
    want.extend(with_b);
    assert_eq!(drift::check(&*sim, &objects).await, want);
}
