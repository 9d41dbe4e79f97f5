//! The Docker Networking Cookbook's two-host macvlan recipe, built by
//! `examples/two-hosts` through `netwasm run`, checked from outside with
//! `ip netns exec ... busybox wget` and `ip -j -d`: every container gets a
//! page from every other container, across hosts, and from the other host,
//! never from its own; the web servers outlive the run and are gone after
//! `netwasm down`.

mod common;

use std::process::Command;

use common::*;

/// A host: its name, its eth0 address, its containers (name, address).
type Host = (
    &'static str,
    &'static str,
    [(&'static str, &'static str); 2],
);

const HOSTS: [Host; 2] = [
    (
        "docker1",
        "10.10.10.101",
        [("web1", "10.10.10.2"), ("web2", "10.10.10.3")],
    ),
    (
        "docker2",
        "10.10.10.102",
        [("web3", "10.10.10.130"), ("web4", "10.10.10.131")],
    ),
];

/// Whether namespace `ns` gets the example's page from `addr`.
fn fetches(ns: &str, addr: &str) -> bool {
    // timeout(1), not wget's -T, with which busybox 1.35's wget crashes.
    let out = Command::new("timeout")
        .args([
            "5", "ip", "netns", "exec", ns, "busybox", "wget", "-q", "-O", "-",
        ])
        .arg(format!("http://{addr}:8080/BSD"))
        .output()
        .expect("ip netns exec busybox wget");
    out.status.success()
        && String::from_utf8_lossy(&out.stdout)
            .contains("Redistribution and use in source and binary forms")
}

/// The processes in namespace `ns` (`ip netns pids`).
fn pids(ns: &str) -> Vec<u32> {
    let out = Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether process `pid` runs (a zombie has ended).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Builds the recipe with `lan` (`bridge` or `vxlan`), checks it from
/// outside, takes it down.
fn recipe(lan: &str) {
    let w = World::new();
    let lab = format!("{}-2h", w.prefix);
    let _down = LabsDown::new(&w, &[&lab]);
    let guest = rust_guest("two-hosts");
    let policy = root()
        .join("examples")
        .join("two-hosts")
        .join("policy.toml");
    let out = w.run(&[
        "run",
        "--lab",
        &lab,
        "--policy",
        policy.to_str().unwrap(),
        guest.to_str().unwrap(),
        "--",
        &w.prefix,
        lan,
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let mut servers = Vec::new();
    for (h, (host, host_addr, containers)) in HOSTS.iter().enumerate() {
        let (_, other_addr, _) = HOSTS[1 - h];
        for (c, addr) in containers {
            let ns = w.ns(c);
            let l = link(&ns, "eth0");
            assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
            assert_eq!(l["linkinfo"]["info_data"]["mode"], "bridge", "{l}");
            assert_eq!(addrs4(&ns, "eth0"), vec![format!("{addr}/24")]);
            for (_, _, others) in &HOSTS {
                for (d, d_addr) in others {
                    if d != c {
                        assert!(fetches(&ns, d_addr), "{lan}: {c} cannot fetch from {d}");
                    }
                }
            }
            assert!(
                !fetches(&ns, host_addr),
                "{lan}: {c} fetches from its own host {host}"
            );
            assert!(
                fetches(&ns, other_addr),
                "{lan}: {c} cannot fetch from the other host"
            );
            let p = pids(&ns);
            assert!(
                !p.is_empty(),
                "{lan}: no web server runs in {c} after the run"
            );
            servers.extend(p);
        }
        let eth0 = link(&w.ns(host), "eth0");
        match lan {
            "vxlan" => {
                let data = &eth0["linkinfo"]["info_data"];
                assert_eq!(eth0["linkinfo"]["info_kind"], "vxlan", "{eth0}");
                assert_eq!(data["id"], 42, "{eth0}");
                assert_eq!(data["port"], 4789, "{eth0}");
                assert_eq!(
                    data["remote"],
                    ["192.168.50.2", "192.168.50.1"][h],
                    "{eth0}"
                );
            }
            _ => assert_eq!(eth0["linkinfo"]["info_kind"], "veth", "{eth0}"),
        }
        servers.extend(pids(&w.ns(host)));
    }

    let out = w.run(&["down", &lab]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let left: Vec<u32> = servers.into_iter().filter(|p| running(*p)).collect();
    assert_eq!(left, Vec::<u32>::new(), "{lan}: programs left after down");
    assert_eq!(w.namespaces(), Vec::<String>::new());
}

#[test]
fn two_hosts_on_one_lan_serve_every_container_but_their_own_host() {
    if !root_or_skip() {
        return;
    }
    recipe("bridge");
}

#[test]
fn two_hosts_joined_by_a_vxlan_serve_every_container_but_their_own_host() {
    if !root_or_skip() {
        return;
    }
    recipe("vxlan");
}
