//! Kernel refusals as the kernel says them: the errno, and the message of
//! its extended ACK where it gives one, through the netlink backend and
//! through a guest.

mod common;

use common::*;
use netwasm::error::{ErrorKind, OpError};
use netwasm::kernel::netlink::Netlink;
use netwasm::kernel::{Kernel, errno_of, explanation_of};
use netwasm::vocab::net::Cidr;
use netwasm::vocab::{LinkChange, MacvlanMode, NewLink, NewLinkKind, NsId, RouteSpec};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A namespace of the world's, made with `ip`: a veth pair `p0`/`p1`, `p0`
/// up with 10.9.0.1/24.
fn veth_namespace(w: &World, suffix: &str) -> String {
    let n = w.ns(suffix);
    ip(&["netns", "add", &n]);
    ip(&[
        "-n", &n, "link", "add", "p0", "type", "veth", "peer", "name", "p1",
    ]);
    ip(&["-n", &n, "addr", "add", "10.9.0.1/24", "dev", "p0"]);
    ip(&["-n", &n, "link", "set", "p0", "up"]);
    n
}

fn macvlan(ns: NsId, parent: u32, name: &str, mode: MacvlanMode) -> NewLink {
    NewLink {
        name: name.to_string(),
        ns,
        index: None,
        kind: NewLinkKind::Macvlan {
            parent_ns: ns,
            parent,
            mode: Some(mode),
        },
        mac: None,
        mtu: None,
        up: false,
    }
}

#[test]
fn an_off_link_gateway_is_refused_with_the_kernels_words() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let name = veth_namespace(&w, "gw");
    let nl = Netlink::new();
    runtime().block_on(async {
        let (ns, _) = nl.ns_open(&name).await.unwrap();
        let route = RouteSpec {
            destination: Cidr {
                addr: "10.10.0.0".parse().unwrap(),
                prefix: 16,
            },
            gateway: Some("10.99.0.1".parse().unwrap()),
            dev: None,
            metric: None,
            protocol: None,
        };
        let e = nl.route_add(ns, &route).await.unwrap_err();
        assert_eq!(errno_of(&e), Some(libc::ENETUNREACH), "{e}");
        assert_eq!(
            explanation_of(&e),
            Some("Nexthop has invalid gateway"),
            "{e}"
        );
        let op = OpError::io("add route 10.10.0.0/16", &e);
        assert_eq!(op.kind, ErrorKind::Kernel);
        assert_eq!(op.errno, Some(libc::ENETUNREACH));
        assert!(
            op.message
                .ends_with("(ENETUNREACH) (Nexthop has invalid gateway)"),
            "{}",
            op.message
        );
        nl.ns_close(ns);
    });
}

#[test]
fn passthru_conflicts_are_einval_not_busy() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let name = veth_namespace(&w, "pt");
    let nl = Netlink::new();
    runtime().block_on(async {
        let (ns, _) = nl.ns_open(&name).await.unwrap();
        let p0 = nl.link_by_name(ns, "p0").await.unwrap().index;
        let p1 = nl.link_by_name(ns, "p1").await.unwrap().index;
        nl.link_add(&macvlan(ns, p0, "pt0", MacvlanMode::Passthru))
            .await
            .unwrap();
        nl.link_add(&macvlan(ns, p1, "mv0", MacvlanMode::Bridge))
            .await
            .unwrap();
        let refusals = [
            // A second passthru child of a passthru parent.
            macvlan(ns, p0, "pt1", MacvlanMode::Passthru),
            // Any other child of a passthru parent.
            macvlan(ns, p0, "mv1", MacvlanMode::Bridge),
            // A passthru child of a parent that has children.
            macvlan(ns, p1, "pt2", MacvlanMode::Passthru),
        ];
        for link in &refusals {
            let e = nl.link_add(link).await.unwrap_err();
            // macvlan_common_newlink refuses each with a bare -EINVAL: no
            // extended ACK message (as of Linux 6.18), so none is asserted.
            assert_eq!(errno_of(&e), Some(libc::EINVAL), "{}: {e}", link.name);
            let op = OpError::io(format!("create macvlan {:?}", link.name), &e);
            assert_eq!(op.kind, ErrorKind::Kernel, "{}", op.message);
            assert_eq!(op.errno, Some(libc::EINVAL));
        }
        nl.ns_close(ns);
    });
}

#[test]
fn a_bridge_port_and_a_macvlan_parent_exclude_each_other_busy() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let name = veth_namespace(&w, "br");
    ip(&["-n", &name, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &name, "link", "set", "p0", "master", "br0"]);
    let nl = Netlink::new();
    runtime().block_on(async {
        let (ns, _) = nl.ns_open(&name).await.unwrap();
        let p0 = nl.link_by_name(ns, "p0").await.unwrap().index;
        let p1 = nl.link_by_name(ns, "p1").await.unwrap().index;
        let br0 = nl.link_by_name(ns, "br0").await.unwrap().index;
        // A link has one receive handler: a bridge's or a macvlan's.
        let e = nl
            .link_add(&macvlan(ns, p0, "mv0", MacvlanMode::Bridge))
            .await
            .unwrap_err();
        assert_eq!(errno_of(&e), Some(libc::EBUSY), "{e}");
        assert_eq!(OpError::io("create macvlan", &e).kind, ErrorKind::Busy);
        nl.link_add(&macvlan(ns, p1, "mv1", MacvlanMode::Bridge))
            .await
            .unwrap();
        let e = nl
            .link_set(ns, p1, &LinkChange::Master(Some(br0)))
            .await
            .unwrap_err();
        assert_eq!(errno_of(&e), Some(libc::EBUSY), "{e}");
        assert_eq!(OpError::io("attach", &e).kind, ErrorKind::Busy);
        nl.ns_close(ns);
    });
}

#[test]
fn a_move_onto_a_taken_index_is_busy() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let (a, b) = (veth_namespace(&w, "ma"), veth_namespace(&w, "mb"));
    let nl = Netlink::new();
    runtime().block_on(async {
        let (na, _) = nl.ns_open(&a).await.unwrap();
        let (nb, _) = nl.ns_open(&b).await.unwrap();
        let p0 = nl.link_by_name(na, "p0").await.unwrap().index;
        assert_eq!(nl.link_by_name(nb, "p0").await.unwrap().index, p0);
        // Moved under a free name, but onto an index `b` uses: the link
        // keeps its index or does not move.
        let e = nl.link_move(na, p0, nb, Some("m0")).await.unwrap_err();
        assert_eq!(errno_of(&e), Some(libc::EBUSY), "{e}");
        assert_eq!(OpError::io("move", &e).kind, ErrorKind::Busy);
        nl.ns_close(na);
        nl.ns_close(nb);
    });
}

fn guest_lines(out: &std::process::Output) -> Vec<String> {
    stdout(out)
        .lines()
        .filter_map(|l| l.strip_prefix("[guest] ").map(str::to_string))
        .collect()
}

#[test]
fn a_guest_sees_the_kernels_words() {
    if !root_or_skip() {
        return;
    }
    let w = World::new();
    let kit = rust_guest("testkit");
    let lab = format!("{}-errors", w.prefix);
    let a = w.ns("a");
    let s: Vec<String> = vec![
        format!("ns {a}"),
        format!("veth {a} p0 {a} p1"),
        format!("up {a} p0"),
        format!("addr {a} p0 10.9.0.1/24"),
        format!("try route {a} 10.10.0.0/16 via 10.99.0.1"),
        format!("macvlan {a} p0 pt0 passthru"),
        format!("try macvlan {a} p0 pt1 passthru"),
        format!("macvlan {a} p1 mv0 bridge"),
        format!("try macvlan {a} p1 pt2 passthru"),
    ];
    let mut args = vec!["run", "--lab", &lab, kit.to_str().unwrap(), "--"];
    args.extend(s.iter().map(String::as_str));
    let out = w.run(&args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines = guest_lines(&out);
    let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 3, "{lines:#?}");
    assert!(
        errors[0].contains("ENETUNREACH") && errors[0].contains("Nexthop has invalid gateway"),
        "{}",
        errors[0]
    );
    for e in &errors[1..] {
        assert!(e.contains("EINVAL") && !e.contains("busy"), "{e}");
    }
}
