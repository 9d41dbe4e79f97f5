use std::io;
use std::net::IpAddr;
use std::time::Duration;

use super::Sim;
use crate::kernel::{CreateError, Kernel, errno_of, explanation_of};
use crate::vocab::net::{Cidr, Mac};
use crate::vocab::{
    LinkChange, MacvlanMode, NewLink, NewLinkKind, NsId, NudState, OperState, Removal, RouteSpec,
    Vxlan,
};

fn cidr(s: &str) -> Cidr {
    Cidr::parse(s, "test", true).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn errno<T: std::fmt::Debug>(r: io::Result<T>) -> i32 {
    errno_of(&r.expect_err("a refusal")).unwrap()
}

async fn ns(k: &Sim, name: &str) -> NsId {
    let (id, _) = k.ns_create(name, Box::new(|_| Ok(()))).await.unwrap();
    let lo = k.link_by_name(id, "lo").await.unwrap();
    k.link_set(id, lo.index, &LinkChange::Up).await.unwrap();
    id
}

fn new_link(ns: NsId, name: &str, kind: NewLinkKind) -> NewLink {
    NewLink {
        name: name.into(),
        ns,
        index: None,
        kind,
        mac: None,
        mtu: None,
        up: true,
    }
}

async fn veth(k: &Sim, a: NsId, an: &str, b: NsId, bn: &str) -> (u32, u32) {
    let kind = NewLinkKind::Veth {
        peer_name: bn.into(),
        peer_ns: b,
        peer_index: None,
    };
    let made = k.link_add(&new_link(a, an, kind)).await.unwrap();
    k.link_set(b, made[1].index, &LinkChange::Up).await.unwrap();
    (made[0].index, made[1].index)
}

async fn bridge(k: &Sim, ns: NsId, name: &str) -> u32 {
    k.link_add(&new_link(ns, name, NewLinkKind::Bridge))
        .await
        .unwrap()[0]
        .index
}

async fn macvlan(
    k: &Sim,
    ns: NsId,
    name: &str,
    pns: NsId,
    parent: u32,
    mode: Option<MacvlanMode>,
) -> io::Result<u32> {
    let kind = NewLinkKind::Macvlan {
        parent_ns: pns,
        parent,
        mode,
    };
    Ok(k.link_add(&new_link(ns, name, kind)).await?[0].index)
}

async fn addr(k: &Sim, ns: NsId, index: u32, a: &str) {
    k.addr_add(ns, index, cidr(a)).await.unwrap();
}

fn via(dst: &str, gw: &str) -> RouteSpec {
    RouteSpec {
        destination: crate::vocab::net::parse_destination(dst, false).unwrap(),
        gateway: Some(ip(gw)),
        dev: None,
        metric: None,
        protocol: None,
    }
}

async fn reaches(k: &Sim, ns: NsId, to: &str) -> bool {
    let stats = k.ping(ns, ip(to), 3, Duration::from_millis(10)).await;
    stats.is_ok_and(|s| s.received == s.sent && s.sent == 3)
}

#[tokio::test]
async fn namespaces_are_named_once_and_start_with_lo_down() {
    let k = Sim::new();
    let (a, ident) = k.ns_create("a", Box::new(|_| Ok(()))).await.unwrap();
    assert_eq!(k.ns_ident(a), Some(ident));
    assert_ne!(ident, k.ns_home().unwrap());
    match k.ns_create("a", Box::new(|_| Ok(()))).await {
        Err(CreateError::Mount(e)) => assert_eq!(errno_of(&e), Some(libc::EEXIST)),
        other => panic!("{other:?}"),
    }
    let failed = k
        .ns_create("b", Box::new(|_| Err(io::Error::other("journal full"))))
        .await;
    assert!(matches!(failed, Err(CreateError::Record(_))));
    assert_eq!(k.ns_list().unwrap(), vec!["a".to_string()]);
    assert_eq!(errno(k.ns_open("nope").await), libc::ENOENT);
    let lo = k.link_by_index(a, 1).await.unwrap();
    assert_eq!(
        (lo.name.as_str(), lo.admin_up, lo.state),
        ("lo", false, OperState::Down)
    );
    assert_eq!(lo.namespace, "a");
    let (root, _) = k.ns_open_root().await.unwrap();
    let lo = k.link_by_index(root, 1).await.unwrap();
    assert_eq!(
        (lo.admin_up, lo.state, lo.mtu),
        (true, OperState::Unknown, 65536)
    );
    assert_eq!(lo.namespace, "/");
    // An id is never given twice.
    let (b, b_ident) = k.ns_create("b", Box::new(|_| Ok(()))).await.unwrap();
    k.ns_delete(b).await.unwrap();
    let (_, again) = k.ns_create("b", Box::new(|_| Ok(()))).await.unwrap();
    assert_ne!(again.id, b_ident.id);
}

#[tokio::test]
async fn removal_checks_whose_name_it_is() {
    let k = Sim::new();
    let (a, a_ident) = k.ns_create("a", Box::new(|_| Ok(()))).await.unwrap();
    let (_, b_ident) = k.ns_create("b", Box::new(|_| Ok(()))).await.unwrap();
    assert!(matches!(
        k.ns_remove("a", Some(b_ident)).await.unwrap(),
        Removal::NotOurs(_)
    ));
    assert_eq!(
        k.ns_remove("a", Some(a_ident)).await.unwrap(),
        Removal::Removed
    );
    assert_eq!(k.ns_remove("a", None).await.unwrap(), Removal::Gone);
    // Unnamed but held: it lives until closed.
    assert!(k.link_by_index(a, 1).await.is_ok());
    k.ns_close(a);
    assert_eq!(errno(k.link_by_index(a, 1).await), libc::ENOENT);
    assert_eq!(
        k.ns_delete(a).await.map_err(|e| errno_of(&e)),
        Err(Some(libc::ENOENT))
    );
}

#[tokio::test]
async fn a_dying_namespace_takes_peers_and_children_along() {
    let k = Sim::with_root_links(&[("eth9", None)]);
    let (a, b, c) = (ns(&k, "a").await, ns(&k, "b").await, ns(&k, "c").await);
    let (root, _) = k.ns_open_root().await.unwrap();
    let eth9 = k.link_by_name(root, "eth9").await.unwrap();
    k.link_move(root, eth9.index, b, Some("wan0"))
        .await
        .unwrap();
    let (v0, v1) = veth(&k, a, "v0", b, "v1").await;
    let child = macvlan(&k, c, "mv0", b, v1, None).await.unwrap();
    assert_eq!(k.ns_delete(b).await.unwrap(), Removal::Removed);
    assert_eq!(errno(k.link_by_index(a, v0).await), libc::ENODEV);
    assert_eq!(errno(k.link_by_index(c, child).await), libc::ENODEV);
    assert_eq!(errno(k.link_by_index(b, v1).await), libc::ENOENT);
    // A NIC goes home, down, under its own name.
    let back = k.link_by_name(root, "wan0").await.unwrap();
    assert_eq!((back.index, back.admin_up), (eth9.index, false));
    assert_eq!(k.ns_list().unwrap(), vec!["a".to_string(), "c".to_string()]);
}

#[tokio::test]
async fn veths_report_their_peer_as_the_backend_does() {
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    let kind = NewLinkKind::Veth {
        peer_name: "v1".into(),
        peer_ns: b,
        peer_index: Some(77),
    };
    let mut link = new_link(a, "v0", kind);
    link.index = Some(1 << 24);
    let made = k.link_add(&link).await.unwrap();
    assert_eq!((made[0].index, made[1].index), (1 << 24, 77));
    assert_eq!(made[0].kind.as_deref(), Some("veth"));
    assert_eq!(
        (made[0].parent_index, made[0].parent_name.as_deref()),
        (Some(77), None)
    );
    assert_eq!((made[1].namespace.as_str(), made[1].admin_up), ("b", false));
    let v0 = k.link_by_index(a, 1 << 24).await.unwrap();
    assert_eq!(v0.parent_name.as_deref(), Some("v1"));
    assert_eq!(v0.parent_namespace.as_deref(), Some("b"));
    // Up, but its peer is not: no carrier.
    assert_eq!(v0.state, OperState::Down);
    k.link_set(b, 77, &LinkChange::Up).await.unwrap();
    assert_eq!(
        k.link_by_index(a, 1 << 24).await.unwrap().state,
        OperState::Up
    );
    k.link_del(b, 77).await.unwrap();
    assert_eq!(errno(k.link_by_index(a, 1 << 24).await), libc::ENODEV);
    // In one namespace the peer is named, and a peerless end is
    // LOWERLAYERDOWN.
    let kind = NewLinkKind::Veth {
        peer_name: "y".into(),
        peer_ns: a,
        peer_index: None,
    };
    let made = k.link_add(&new_link(a, "x", kind)).await.unwrap();
    let x = k.link_by_index(a, made[0].index).await.unwrap();
    assert_eq!(
        (x.parent_name.as_deref(), x.parent_namespace),
        (Some("y"), None)
    );
    assert_eq!(x.state, OperState::LowerLayerDown);
}

#[tokio::test]
async fn refusals_carry_the_kernels_errno() {
    let k = Sim::new();
    let a = ns(&k, "a").await;
    let br = bridge(&k, a, "br0").await;
    let again = k.link_add(&new_link(a, "br0", NewLinkKind::Bridge)).await;
    assert_eq!(errno(again), libc::EEXIST);
    let mut taken = new_link(a, "br1", NewLinkKind::Bridge);
    taken.index = Some(br);
    assert_eq!(errno(k.link_add(&taken).await), libc::EEXIST);
    let long = k
        .link_add(&new_link(a, "sixteen-chars-xx", NewLinkKind::Bridge))
        .await;
    assert_eq!(errno(long), libc::EINVAL);
    assert_eq!(errno(k.link_by_name(a, "nope").await), libc::ENODEV);
    assert_eq!(errno(k.link_by_index(a, 999).await), libc::ENODEV);
    let mut bad = new_link(a, "br2", NewLinkKind::Bridge);
    bad.mac = Some(Mac([1, 0, 0, 0, 0, 1]));
    assert_eq!(errno(k.link_add(&bad).await), libc::EADDRNOTAVAIL);

    addr(&k, a, br, "10.0.0.1/24").await;
    assert_eq!(
        errno(k.addr_add(a, br, cidr("10.0.0.1/24")).await),
        libc::EEXIST
    );
    assert_eq!(
        errno(k.addr_del(a, br, cidr("10.0.0.9/24")).await),
        libc::EADDRNOTAVAIL
    );
    let off_link = k.route_add(a, &via("0.0.0.0/0", "192.168.1.1")).await;
    let e = off_link.unwrap_err();
    assert_eq!(errno_of(&e), Some(libc::ENETUNREACH));
    assert_eq!(explanation_of(&e), Some("Nexthop has invalid gateway"));
    let mut wrong_dev = via("0.0.0.0/0", "10.0.0.254");
    wrong_dev.dev = Some(1);
    assert_eq!(errno(k.route_add(a, &wrong_dev).await), libc::ENETUNREACH);
    k.route_add(a, &via("0.0.0.0/0", "10.0.0.254"))
        .await
        .unwrap();
    assert_eq!(
        errno(k.route_add(a, &via("0.0.0.0/0", "10.0.0.253")).await),
        libc::EEXIST
    );
    assert_eq!(
        errno(k.route_del(a, &via("10.9.0.0/16", "10.0.0.254")).await),
        libc::ESRCH
    );
    k.route_del(a, &via("0.0.0.0/0", "10.0.0.254"))
        .await
        .unwrap();
    let v6 = k.route_add(a, &via("fd01::/64", "fd00::1")).await;
    assert_eq!(errno(v6), libc::EHOSTUNREACH);

    let down = bridge(&k, a, "br3").await;
    k.link_set(a, down, &LinkChange::Down).await.unwrap();
    let mut dev_route = via("10.7.0.0/16", "10.0.0.1");
    (dev_route.gateway, dev_route.dev) = (None, Some(down));
    let e = k.route_add(a, &dev_route).await.unwrap_err();
    assert_eq!(errno_of(&e), Some(libc::ENETDOWN));
    assert_eq!(explanation_of(&e), Some("Device for nexthop is not up"));
    let e = k.link_set(a, br, &LinkChange::Mtu(40)).await.unwrap_err();
    assert_eq!(explanation_of(&e), Some("mtu less than device minimum"));
    let e = k
        .link_set(a, down, &LinkChange::Master(Some(br)))
        .await
        .unwrap_err();
    assert_eq!(errno_of(&e), Some(libc::ELOOP));
    assert_eq!(
        errno(k.link_set(a, br, &LinkChange::Hairpin(true)).await),
        libc::EOPNOTSUPP
    );
    assert_eq!(errno(k.link_del(a, 1).await), libc::EOPNOTSUPP);
}

#[tokio::test]
async fn macvlan_rules_of_the_driver() {
    let k = Sim::new();
    let (host, a, b) = (ns(&k, "host").await, ns(&k, "a").await, ns(&k, "b").await);
    let (eth0, _) = veth(&k, host, "eth0", a, "peer").await;
    k.link_set(host, eth0, &LinkChange::Mtu(1400))
        .await
        .unwrap();
    let first = macvlan(&k, a, "mv0", host, eth0, None).await.unwrap();
    let info = k.link_by_index(a, first).await.unwrap();
    assert_eq!(info.macvlan_mode, Some(MacvlanMode::Vepa));
    assert_eq!(info.mtu, 1400);
    assert_eq!(info.parent_name.as_deref(), Some("eth0"));
    assert_eq!(info.parent_namespace.as_deref(), Some("host"));
    let passthru = macvlan(&k, b, "pt", host, eth0, Some(MacvlanMode::Passthru)).await;
    assert_eq!(errno(passthru), libc::EINVAL);
    let mut big = new_link(
        b,
        "big",
        NewLinkKind::Macvlan {
            parent_ns: host,
            parent: eth0,
            mode: None,
        },
    );
    big.mtu = Some(1500);
    assert_eq!(errno(k.link_add(&big).await), libc::EINVAL);
    assert_eq!(
        errno(k.link_set(a, first, &LinkChange::Mtu(1401)).await),
        libc::EINVAL
    );
    k.link_del(a, first).await.unwrap();

    let pt = macvlan(&k, b, "pt", host, eth0, Some(MacvlanMode::Passthru))
        .await
        .unwrap();
    let parent_mac = k.link_by_index(host, eth0).await.unwrap().mac;
    assert_eq!(k.link_by_index(b, pt).await.unwrap().mac, parent_mac);
    let second = macvlan(&k, a, "mv1", host, eth0, Some(MacvlanMode::Bridge)).await;
    assert_eq!(errno(second), libc::EINVAL);
    // Deleting the parent deletes the child.
    k.link_del(host, eth0).await.unwrap();
    assert_eq!(errno(k.link_by_index(b, pt).await), libc::ENODEV);
}

/// A switch (bridge br0 in `sw`, with the gateway 172.16.10.1 on it, routing
/// to 10.20.30.0/24 where `far` is), a host cabled to a port of it (eth0
/// 172.16.10.2/24), and two macvlan children of eth0 in `c1` (.5) and `c2`
/// (.6), all with default routes via .1: the seed lab.
struct Lab {
    k: Sim,
    sw: NsId,
    far: NsId,
    host: NsId,
    c1: NsId,
    c2: NsId,
    port: u32,
}

async fn lab(m1: MacvlanMode, m2: MacvlanMode, hairpin: bool, defaults: bool) -> Lab {
    let k = Sim::new();
    let sw = ns(&k, "sw").await;
    k.ns_set_forwarding(sw, true).await.unwrap();
    let br = bridge(&k, sw, "br0").await;
    addr(&k, sw, br, "172.16.10.1/24").await;
    let far = ns(&k, "far").await;
    let (up, down) = veth(&k, sw, "far", far, "eth0").await;
    addr(&k, sw, up, "10.20.30.1/24").await;
    addr(&k, far, down, "10.20.30.10/24").await;
    k.route_add(far, &via("default", "10.20.30.1"))
        .await
        .unwrap();
    let host = ns(&k, "host").await;
    let (eth0, port) = veth(&k, host, "eth0", sw, "net1").await;
    k.link_set(sw, port, &LinkChange::Master(Some(br)))
        .await
        .unwrap();
    k.link_set(sw, port, &LinkChange::Hairpin(hairpin))
        .await
        .unwrap();
    addr(&k, host, eth0, "172.16.10.2/24").await;
    k.route_add(host, &via("default", "172.16.10.1"))
        .await
        .unwrap();
    let mut children = Vec::new();
    for (n, mode, a) in [(1, m1, "172.16.10.5/24"), (2, m2, "172.16.10.6/24")] {
        let c = ns(&k, &format!("c{n}")).await;
        let mv = macvlan(&k, c, &format!("macvlan{n}"), host, eth0, Some(mode))
            .await
            .unwrap();
        addr(&k, c, mv, a).await;
        if defaults {
            k.route_add(c, &via("default", "172.16.10.1"))
                .await
                .unwrap();
        }
        children.push(c);
    }
    Lab {
        k,
        sw,
        far,
        host,
        c1: children[0],
        c2: children[1],
        port,
    }
}

#[tokio::test]
async fn the_seed_lab_answers_as_the_cookbook_says() {
    for mode in [MacvlanMode::Vepa, MacvlanMode::Bridge] {
        let l = lab(mode, mode, false, false).await;
        let k = &l.k;
        assert!(reaches(k, l.far, "172.16.10.2").await);
        assert!(!reaches(k, l.far, "172.16.10.5").await, "no way back yet");
        for c in [l.c1, l.c2] {
            k.route_add(c, &via("default", "172.16.10.1"))
                .await
                .unwrap();
        }
        assert!(reaches(k, l.far, "172.16.10.5").await);
        assert!(reaches(k, l.far, "172.16.10.6").await);
        for to in ["172.16.10.2", "172.16.10.5", "172.16.10.6"] {
            assert!(reaches(k, l.sw, to).await, "{to}");
        }
        assert_eq!(
            reaches(k, l.c1, "172.16.10.6").await,
            mode == MacvlanMode::Bridge
        );
        assert!(!reaches(k, l.c1, "172.16.10.2").await);
        assert!(!reaches(k, l.c2, "172.16.10.2").await);
        assert!(!reaches(k, l.host, "172.16.10.5").await);
        let seen = k.neighbors(l.sw).await.unwrap();
        assert!(
            seen.iter()
                .any(|n| n.address == ip("172.16.10.5") && n.state == NudState::Reachable)
        );
    }
}

#[tokio::test]
async fn macvlan_modes_between_siblings() {
    use MacvlanMode::*;
    // (mode of c1, mode of c2, hairpin on the parent's switch port, c1 reaches c2)
    let table = [
        (Vepa, Vepa, false, false),
        (Vepa, Vepa, true, true),
        (Bridge, Bridge, false, true),
        (Bridge, Bridge, true, true),
        (Bridge, Vepa, false, false),
        (Bridge, Vepa, true, true),
        (Vepa, Bridge, true, true),
        (Private, Private, false, false),
        (Private, Private, true, false),
        (Vepa, Private, true, false),
        (Private, Vepa, true, false),
    ];
    for (m1, m2, hairpin, expected) in table {
        let l = lab(m1, m2, hairpin, true).await;
        let got = reaches(&l.k, l.c1, "172.16.10.6").await;
        assert_eq!(got, expected, "{m1:?} to {m2:?}, hairpin {hairpin}");
    }
}

#[tokio::test]
async fn a_child_and_its_parent_meet_only_through_a_hairpin() {
    use MacvlanMode::*;
    for mode in [Private, Vepa, Bridge] {
        let l = lab(mode, mode, false, true).await;
        assert!(!reaches(&l.k, l.c1, "172.16.10.2").await, "{mode:?}");
        assert!(!reaches(&l.k, l.host, "172.16.10.5").await, "{mode:?}");
        // The switch sending the parent's frames back is the textbook way
        // round it; a private child's own broadcasts still come back to it
        // alone, so it cannot ask for the parent's address.
        k_hairpin(&l).await;
        assert_eq!(
            reaches(&l.k, l.c1, "172.16.10.2").await,
            mode != Private,
            "{mode:?}"
        );
        assert!(reaches(&l.k, l.host, "172.16.10.5").await, "{mode:?}");
    }
}

async fn k_hairpin(l: &Lab) {
    l.k.link_set(l.sw, l.port, &LinkChange::Hairpin(true))
        .await
        .unwrap();
}

/// a (10.0.1.2) -- r (10.0.1.1 | 10.0.2.1) -- b (10.0.2.2)
async fn routed(forwarding: bool, return_route: bool) -> (Sim, NsId) {
    let k = Sim::new();
    let (a, r, b) = (ns(&k, "a").await, ns(&k, "r").await, ns(&k, "b").await);
    let (ra, ar) = veth(&k, r, "to-a", a, "eth0").await;
    let (rb, br) = veth(&k, r, "to-b", b, "eth0").await;
    addr(&k, r, ra, "10.0.1.1/24").await;
    addr(&k, r, rb, "10.0.2.1/24").await;
    addr(&k, a, ar, "10.0.1.2/24").await;
    addr(&k, b, br, "10.0.2.2/24").await;
    k.route_add(a, &via("default", "10.0.1.1")).await.unwrap();
    if return_route {
        k.route_add(b, &via("10.0.1.0/24", "10.0.2.1"))
            .await
            .unwrap();
    }
    k.ns_set_forwarding(r, forwarding).await.unwrap();
    (k, a)
}

#[tokio::test]
async fn routers_forward_only_when_told_to() {
    let (k, a) = routed(true, true).await;
    assert!(reaches(&k, a, "10.0.2.2").await);
    // The router's own addresses answer whatever the forwarding.
    let (k, a) = routed(false, true).await;
    assert!(!reaches(&k, a, "10.0.2.2").await);
    assert!(reaches(&k, a, "10.0.2.1").await);
    let (k, a) = routed(true, false).await;
    assert!(!reaches(&k, a, "10.0.2.2").await, "no way back");
    let lonely = ns(&k, "lonely").await;
    assert_eq!(
        errno(k.ping(lonely, ip("10.0.2.2"), 1, Duration::ZERO).await),
        libc::ENETUNREACH
    );
}

#[tokio::test]
async fn routes_follow_their_addresses_and_links() {
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    let (v0, _) = veth(&k, a, "v0", b, "v1").await;
    addr(&k, a, v0, "10.0.0.2/24").await;
    addr(&k, a, v0, "fd00::2/64").await;
    let routes = k.route_list(a).await.unwrap();
    let connected = routes
        .iter()
        .find(|r| r.destination == cidr("10.0.0.0/24"))
        .unwrap();
    assert_eq!(connected.protocol, "kernel");
    assert_eq!(connected.scope, "link");
    assert_eq!(connected.source, Some(ip("10.0.0.2")));
    assert_eq!(connected.metric, None);
    let v6 = routes
        .iter()
        .find(|r| r.destination == cidr("fd00::/64"))
        .unwrap();
    assert_eq!((v6.metric, v6.scope.as_str()), (Some(256), "global"));
    k.route_add(a, &via("10.1.0.0/16", "10.0.0.1"))
        .await
        .unwrap();
    k.route_add(a, &via("fd01::/64", "fd00::1")).await.unwrap();
    let routes = k.route_list(a).await.unwrap();
    let mine = routes
        .iter()
        .find(|r| r.destination == cidr("10.1.0.0/16"))
        .unwrap();
    assert_eq!(
        (mine.protocol.as_str(), mine.proto, mine.scope.as_str()),
        ("110", 110, "global")
    );
    assert_eq!(mine.dev.as_deref(), Some("v0"));
    let mine6 = routes
        .iter()
        .find(|r| r.destination == cidr("fd01::/64"))
        .unwrap();
    assert_eq!(mine6.metric, Some(1024));
    assert_eq!(k.route_oif(a, ip("10.1.2.3")).await.unwrap(), Some(v0));
    assert_eq!(k.route_oif(a, ip("10.0.0.2")).await.unwrap(), Some(1));
    assert_eq!(
        errno(k.route_oif(a, ip("192.0.2.1")).await),
        libc::ENETUNREACH
    );
    let addrs = k.addr_list(a, Some(v0)).await.unwrap();
    // Besides the kernel's own link-local address.
    assert!(
        addrs
            .iter()
            .filter(|x| x.scope != "link")
            .all(|x| x.proto == 110 && x.scope == "global")
    );

    // Down: its routes and its IPv6 addresses go; up: the IPv4 prefix
    // route comes back, the gateway route does not.
    k.link_set(a, v0, &LinkChange::Down).await.unwrap();
    assert!(
        k.route_list(a)
            .await
            .unwrap()
            .iter()
            .all(|r| r.dev.as_deref() != Some("v0"))
    );
    k.link_set(a, v0, &LinkChange::Up).await.unwrap();
    let after: Vec<Cidr> = k
        .route_list(a)
        .await
        .unwrap()
        .iter()
        .map(|r| r.destination)
        .collect();
    assert!(after.contains(&cidr("10.0.0.0/24")));
    assert!(!after.contains(&cidr("10.1.0.0/16")));
    let global =
        |v: Vec<crate::vocab::AddrInfo>| v.into_iter().filter(|x| x.scope != "link").count();
    assert_eq!(global(k.addr_list(a, Some(v0)).await.unwrap()), 1);
    k.addr_del(a, v0, cidr("10.0.0.2/24")).await.unwrap();
    // Only the link-local route is left on it.
    assert!(
        k.route_list(a)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.dev.as_deref() == Some("v0"))
            .all(|r| r.destination == cidr("fe80::/64"))
    );
}

#[tokio::test]
async fn bridges_need_a_port_up_and_moves_keep_the_index() {
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    let br = bridge(&k, a, "br0").await;
    assert_eq!(k.link_by_index(a, br).await.unwrap().state, OperState::Down);
    let (p, _) = veth(&k, a, "p0", b, "x").await;
    k.link_set(a, p, &LinkChange::Master(Some(br)))
        .await
        .unwrap();
    let port = k.link_by_index(a, p).await.unwrap();
    assert_eq!(
        (port.master.as_deref(), port.master_index, port.hairpin),
        (Some("br0"), Some(br), Some(false))
    );
    assert_eq!(k.link_by_index(a, br).await.unwrap().state, OperState::Up);
    assert_eq!(errno(k.link_move(a, br, b, None).await), libc::EINVAL);
    // The kernel moves before it renames: a new name taken in the target,
    // the old one free, fails the rename after the move.
    assert_eq!(errno(k.link_move(a, p, b, Some("x")).await), libc::EEXIST);
    assert_eq!(errno(k.link_by_index(a, p).await), libc::ENODEV);
    let moved = k.link_by_index(b, p).await.unwrap();
    assert_eq!(moved.name, "p0", "moved, not renamed");
    assert_eq!((moved.index, moved.namespace.as_str()), (p, "b"));
    assert_eq!((moved.master, moved.admin_up), (None, false));
    assert_eq!(
        moved.parent_name.as_deref(),
        Some("x"),
        "its peer is beside it now"
    );
    assert_eq!(k.link_by_index(a, br).await.unwrap().state, OperState::Down);
}

#[tokio::test]
async fn a_move_renames_after_it_moves() {
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    bridge(&k, b, "x").await;
    bridge(&k, b, "y").await;
    // Past the indexes b uses: a move keeps its index or fails (EBUSY).
    bridge(&k, a, "d0").await;
    bridge(&k, a, "d1").await;
    let (v, _) = veth(&k, a, "y", a, "v1").await;
    let (w, _) = veth(&k, a, "w0", a, "w1").await;
    // Old name and new name both taken: nothing moves.
    assert_eq!(errno(k.link_move(a, v, b, Some("x")).await), libc::EEXIST);
    assert_eq!(k.link_by_index(a, v).await.unwrap().name, "y");
    // Old name taken, new name free: it moves under the new name.
    let moved = k.link_move(a, v, b, Some("v0")).await.unwrap();
    assert_eq!((moved.name.as_str(), moved.index), ("v0", v));
    // Both free: it moves, then is renamed.
    let (z, _) = veth(&k, a, "z", a, "z1").await;
    let moved = k.link_move(a, z, b, Some("z0")).await.unwrap();
    assert_eq!(moved.name, "z0");
    assert!(
        k.link_by_name(b, "z").await.is_err(),
        "no trace of the old name"
    );
    // Old name free, new name taken: moved, not renamed (EEXIST).
    assert_eq!(errno(k.link_move(a, w, b, Some("y")).await), libc::EEXIST);
    let there = k.link_by_index(b, w).await.unwrap();
    assert_eq!(there.name, "w0", "{there:?}");
}

/// Not a test of speed (nothing here is timed against a bound): prints what
/// a thousand namespaces with a veth each cost through the trait.
#[tokio::test]
#[ignore]
async fn thousand_namespaces() {
    let k = Sim::new();
    let (root, _) = k.ns_open_root().await.unwrap();
    let start = std::time::Instant::now();
    for n in 0..1000 {
        let ns = ns(&k, &format!("lab-{n}")).await;
        let (inner, _) = veth(&k, ns, "eth0", root, &format!("h{n}")).await;
        addr(
            &k,
            ns,
            inner,
            &format!("10.{}.{}.2/30", n / 64, (n % 64) * 4),
        )
        .await;
    }
    let built = start.elapsed();
    let names: Vec<(String, Option<crate::vocab::NsIdent>)> = k
        .ns_list()
        .unwrap()
        .into_iter()
        .map(|n| (n, None))
        .collect();
    k.ns_remove_all(&names).await;
    println!(
        "1000 namespaces with a veth each: built in {built:?}, all in {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn ipv6_neighbours_answer_for_their_own_link() {
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    let (v0, v1) = veth(&k, a, "v0", b, "v1").await;
    addr(&k, a, v0, "fd00::1/64").await;
    addr(&k, b, v1, "fd00::2/64").await;
    assert!(reaches(&k, a, "fd00::2").await);
    assert!(
        reaches(&k, a, "fd00::1").await,
        "its own address, through lo"
    );
    let seen = k.neighbors(a).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].dev.as_str(), seen[0].state),
        ("v0", NudState::Reachable)
    );
    // Down and up again: the IPv6 address is gone (keep_addr_on_down 0).
    k.link_set(b, v1, &LinkChange::Down).await.unwrap();
    assert!(!reaches(&k, a, "fd00::2").await);
    k.link_set(b, v1, &LinkChange::Up).await.unwrap();
    assert!(
        k.addr_list(b, Some(v1))
            .await
            .unwrap()
            .iter()
            .all(|a| a.scope == "link")
    );
    assert!(!reaches(&k, a, "fd00::2").await);
}

#[tokio::test]
async fn bridge_ports_and_macvlan_parents_exclude_each_other() {
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    let br = bridge(&k, a, "br0").await;
    let (port, _) = veth(&k, a, "p0", b, "x").await;
    k.link_set(a, port, &LinkChange::Master(Some(br)))
        .await
        .unwrap();
    assert_eq!(
        errno(macvlan(&k, b, "mv", a, port, None).await),
        libc::EBUSY
    );
    let (parent, _) = veth(&k, a, "p1", b, "y").await;
    macvlan(&k, b, "mv", a, parent, None).await.unwrap();
    let e = k.link_set(a, parent, &LinkChange::Master(Some(br))).await;
    assert_eq!(errno(e), libc::EBUSY);
    // A macvlan on the bridge itself is fine, and cannot be its port.
    let on_br = macvlan(&k, a, "mvb", a, br, None).await.unwrap();
    let e = k.link_set(a, on_br, &LinkChange::Master(Some(br))).await;
    assert_eq!(errno(e), libc::EBUSY);
    assert_eq!(
        errno(k.link_set(a, port, &LinkChange::Master(Some(999))).await),
        libc::EINVAL
    );
    let gone = k.link_by_index(a, port).await.unwrap();
    assert_eq!(
        gone.master, None,
        "released before the new master was looked up"
    );
}

fn tunnel(id: u32, remote: Option<&str>, device: Option<u32>) -> Vxlan {
    Vxlan {
        id,
        local: None,
        remote: remote.map(ip),
        group: None,
        device,
        device_name: None,
        port: 4789,
        learning: true,
        ttl: 0,
    }
}

async fn vxlan(k: &Sim, ns: NsId, name: &str, t: Vxlan) -> io::Result<u32> {
    Ok(k.link_add(&new_link(ns, name, NewLinkKind::Vxlan(t)))
        .await?[0]
        .index)
}

/// Two namespaces on a veth underlay (10.99.0.1 and .2), with a vxlan in
/// each pointed at the other, addressed 192.168.77.1 and .2.
async fn tunnelled(b_id: u32, b_port: u16) -> (Sim, NsId, NsId, u32, u32) {
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    let (va, vb) = veth(&k, a, "va", b, "vb").await;
    addr(&k, a, va, "10.99.0.1/24").await;
    addr(&k, b, vb, "10.99.0.2/24").await;
    let xa = vxlan(&k, a, "vx0", tunnel(42, Some("10.99.0.2"), Some(va)))
        .await
        .unwrap();
    let mut tb = tunnel(b_id, Some("10.99.0.1"), Some(vb));
    tb.port = b_port;
    let xb = vxlan(&k, b, "vx0", tb).await.unwrap();
    addr(&k, a, xa, "192.168.77.1/24").await;
    addr(&k, b, xb, "192.168.77.2/24").await;
    (k, a, b, xa, xb)
}

#[tokio::test]
async fn a_vxlan_carries_frames_to_the_vxlan_its_remote_reaches() {
    let (k, a, b, xa, _) = tunnelled(42, 4789).await;
    assert!(reaches(&k, a, "192.168.77.2").await);
    assert!(reaches(&k, b, "192.168.77.1").await);
    // As `ip -d link show` reports it: UNKNOWN when up (it never sets
    // its carrier), the device's MTU less 50, the tunnel.
    let info = k.link_by_index(a, xa).await.unwrap();
    assert_eq!(info.kind.as_deref(), Some("vxlan"));
    assert_eq!(
        (info.state, info.mtu, info.parent_index),
        (OperState::Unknown, 1450, None)
    );
    let v = info.vxlan.unwrap();
    assert_eq!(
        (v.id, v.port, v.remote, v.device_name.as_deref()),
        (42, 4789, Some(ip("10.99.0.2")), Some("va"))
    );
    // Down, it carries nothing.
    k.link_set(a, xa, &LinkChange::Down).await.unwrap();
    assert!(!reaches(&k, b, "192.168.77.1").await);
    // Another VNI or port meets nobody.
    let (k, a, _, _, _) = tunnelled(43, 4789).await;
    assert!(!reaches(&k, a, "192.168.77.2").await);
    let (k, a, _, _, _) = tunnelled(42, 8472).await;
    assert!(!reaches(&k, a, "192.168.77.2").await);
    // Nor does one whose remote is not where the other is.
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    let (va, vb) = veth(&k, a, "va", b, "vb").await;
    addr(&k, a, va, "10.99.0.1/24").await;
    addr(&k, b, vb, "10.99.0.2/24").await;
    let xa = vxlan(&k, a, "vx0", tunnel(42, Some("10.99.0.3"), None))
        .await
        .unwrap();
    let xb = vxlan(&k, b, "vx0", tunnel(42, Some("10.99.0.1"), None))
        .await
        .unwrap();
    addr(&k, a, xa, "192.168.77.1/24").await;
    addr(&k, b, xb, "192.168.77.2/24").await;
    assert!(!reaches(&k, a, "192.168.77.2").await);
}

#[tokio::test]
async fn vxlan_rules_of_the_driver() {
    let k = Sim::new();
    let a = ns(&k, "a").await;
    let b = ns(&k, "b").await;
    let (va, _) = veth(&k, a, "va", b, "vb").await;
    let refusal = |r: io::Result<u32>| {
        let e = r.expect_err("a refusal");
        (
            errno_of(&e).unwrap(),
            explanation_of(&e).unwrap_or("").to_string(),
        )
    };
    assert_eq!(
        refusal(vxlan(&k, a, "x", tunnel(1 << 24, None, None)).await),
        (libc::ERANGE, "VXLAN ID must be lower than 16777216".into())
    );
    let mut mixed = tunnel(1, Some("fd00::2"), None);
    mixed.local = Some(ip("10.0.0.1"));
    assert_eq!(refusal(vxlan(&k, a, "x", mixed).await).0, libc::EINVAL);
    let mut group = tunnel(1, None, None);
    group.group = Some(ip("239.1.1.1"));
    assert_eq!(
        refusal(vxlan(&k, a, "x", group.clone()).await),
        (
            libc::EINVAL,
            "Local interface required for multicast remote destination".into()
        )
    );
    assert_eq!(
        refusal(vxlan(&k, a, "x", tunnel(1, None, Some(999))).await).0,
        libc::ENODEV
    );
    group.device = Some(va);
    let g = vxlan(&k, a, "vg", group).await.unwrap();
    let v = k.link_by_index(a, g).await.unwrap().vxlan.unwrap();
    assert_eq!((v.group, v.remote), (Some(ip("239.1.1.1")), None));
    // One vxlan per VNI, port and family in a namespace.
    vxlan(&k, a, "v1", tunnel(7, Some("10.0.0.2"), None))
        .await
        .unwrap();
    assert_eq!(
        refusal(vxlan(&k, a, "v2", tunnel(7, Some("10.0.0.3"), None)).await),
        (
            libc::EEXIST,
            "A VXLAN device with the specified VNI already exists".into()
        )
    );
    vxlan(&k, a, "v3", tunnel(7, Some("fd00::3"), None))
        .await
        .unwrap();
    vxlan(&k, b, "v1", tunnel(7, Some("10.0.0.3"), None))
        .await
        .unwrap();
    // Its MTU: 1500 without a device; over IPv6 the device's less 70,
    // and no more than that later.
    let v6 = k.link_by_name(a, "v3").await.unwrap();
    assert_eq!(v6.mtu, 1500);
    let x6 = vxlan(&k, a, "v6", tunnel(8, Some("fd00::3"), Some(va)))
        .await
        .unwrap();
    assert_eq!(k.link_by_index(a, x6).await.unwrap().mtu, 1430);
    assert_eq!(
        errno(k.link_set(a, x6, &LinkChange::Mtu(1431)).await),
        libc::EINVAL
    );
    k.link_set(a, x6, &LinkChange::Mtu(1400)).await.unwrap();
}

#[tokio::test]
async fn a_vxlan_dies_with_its_device_and_its_tunnels_namespace() {
    let k = Sim::new();
    let (a, b) = (ns(&k, "a").await, ns(&k, "b").await);
    let (u1, _) = veth(&k, a, "u1", a, "u2").await;
    let x = vxlan(&k, a, "vx0", tunnel(1, Some("10.0.0.2"), Some(u1)))
        .await
        .unwrap();
    // Moving the device out of the namespace deletes the vxlan.
    k.link_move(a, u1, b, None).await.unwrap();
    assert_eq!(errno(k.link_by_index(a, x).await), libc::ENODEV);
    // So does deleting it.
    let (d1, _) = veth(&k, a, "d1", a, "d2").await;
    let x = vxlan(&k, a, "vx1", tunnel(2, Some("10.0.0.2"), Some(d1)))
        .await
        .unwrap();
    k.link_del(a, d1).await.unwrap();
    assert_eq!(errno(k.link_by_index(a, x).await), libc::ENODEV);
    // A vxlan moved away keeps its tunnel where it was made, and dies
    // with that namespace.
    let c = ns(&k, "c").await;
    let mut nl = new_link(
        c,
        "vx2",
        NewLinkKind::Vxlan(tunnel(3, Some("10.0.0.2"), None)),
    );
    nl.index = Some(77);
    let x = k.link_add(&nl).await.unwrap()[0].index;
    let moved = k.link_move(c, x, b, None).await.unwrap();
    assert_eq!(moved.namespace, "b");
    k.ns_delete(c).await.unwrap();
    assert_eq!(errno(k.link_by_index(b, x).await), libc::ENODEV);
}
