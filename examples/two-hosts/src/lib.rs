//! The Docker Networking Cookbook's second MacVLAN recipe — the Docker
//! macvlan driver on two hosts — rebuilt in network namespaces, with a web
//! server in every container and the recipe's results stated as
//! expectations:
//!
//! ```text
//!   PREFIX-lan      the LAN both hosts are on: bridge br0, the gateway 10.10.10.1/24
//!     | veth               | veth
//!   PREFIX-docker1         PREFIX-docker2        eth0 10.10.10.101 / .102
//!     +-- PREFIX-web1 .2     +-- PREFIX-web3 .130  macvlan children of the
//!     +-- PREFIX-web2 .3     +-- PREFIX-web4 .131  host's eth0, bridge mode
//! ```
//!
//! As `docker network create -d macvlan --subnet 10.10.10.0/24
//! --gateway 10.10.10.1 -o parent=eth0` on each host, with the first host's
//! containers in 10.10.10.0/25 and the second's in 10.10.10.128/25: one
//! subnet across both hosts. With `vxlan`, the hosts share no bridge:
//! each host's `eth0` is a vxlan (VNI 42, UDP 4789) over an underlay link
//! between them (192.168.50.1/.2), and the same containers ride on it.
//!
//! Every container and both hosts run busybox `httpd` on port 8080; every
//! container fetches a page from every other container, across hosts too,
//! and from both hosts with busybox `wget`. A container reaches every
//! container and the other host, never its own host (a macvlan child never
//! reaches its parent's address).
//!
//! Arguments: `PREFIX [bridge|vxlan]`. Needs `/bin/busybox` in the policy's
//! `[exec] commands` (`examples/two-hosts/policy.toml`).

use netwasm_guest::{Error, ExitStatus, MacvlanMode, Namespace, Process, Result, Signal, check};

const USAGE: &str = "usage: PREFIX [bridge|vxlan]";
const BUSYBOX: &str = "/bin/busybox";
const PORT: u16 = 8080;
/// What the servers serve: a directory every Debian has, readable by the
/// unprivileged user the servers run as.
const DOCROOT: &str = "/usr/share/common-licenses";
const PAGE: &str = "BSD";
/// Text the page holds.
const PAGE_TEXT: &str = "Redistribution and use in source and binary forms";

/// A Docker host: its namespace's suffix, its eth0 address, its
/// containers (suffix, address).
struct HostSpec {
    name: &'static str,
    addr: &'static str,
    containers: [(&'static str, &'static str); 2],
}

const HOSTS: [HostSpec; 2] = [
    HostSpec {
        name: "docker1",
        addr: "10.10.10.101",
        containers: [("web1", "10.10.10.2"), ("web2", "10.10.10.3")],
    },
    HostSpec {
        name: "docker2",
        addr: "10.10.10.102",
        containers: [("web3", "10.10.10.130"), ("web4", "10.10.10.131")],
    },
];

const GATEWAY: &str = "10.10.10.1";
const UNDERLAY: [&str; 2] = ["192.168.50.1", "192.168.50.2"];

#[derive(Clone, Copy, PartialEq)]
enum Lan {
    /// The hosts' eth0s are ports of one bridge, as on the recipe's LAN.
    Bridge,
    /// The hosts' eth0s are vxlans to each other over an underlay link.
    Vxlan,
}

/// A namespace of the lab that runs a web server, and its address.
struct Node {
    ns: Namespace,
    addr: &'static str,
    /// The host whose eth0 this container's macvlan hangs off (None for a host).
    host: Option<usize>,
    /// This node's index in HOSTS if it is a host.
    is_host: Option<usize>,
}

fn run(args: Vec<String>) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [prefix] | [prefix, "bridge"] => up(prefix, Lan::Bridge),
        [prefix, "vxlan"] => up(prefix, Lan::Vxlan),
        _ => Err(Error::msg(USAGE)),
    }
}

fn up(prefix: &str, lan: Lan) -> Result<()> {
    let mut hosts = Vec::new();
    for h in &HOSTS {
        let ns = Namespace::create(&format!("{prefix}-{}", h.name))?;
        ns.lo_up()?;
        hosts.push(ns);
    }
    // The hosts' eth0s, on one LAN.
    let eth0s = match lan {
        Lan::Bridge => {
            let switch_ns = Namespace::create(&format!("{prefix}-lan"))?;
            switch_ns.lo_up()?;
            let switch = switch_ns.bridge("br0")?;
            switch.addr(&format!("{GATEWAY}/24"))?.up()?;
            let mut eth0s = Vec::new();
            for (h, ns) in HOSTS.iter().zip(&hosts) {
                let (eth0, port) = ns.veth("eth0", &switch_ns, h.name)?;
                port.master(&switch)?.up()?;
                eth0s.push(eth0);
            }
            eth0s
        }
        Lan::Vxlan => {
            // The underlay: one cable between the hosts. The overlay LAN
            // rides on it, in UDP to port 4789.
            let (u1, u2) = hosts[0].veth("ul0", &hosts[1], "ul0")?;
            let mut eth0s = Vec::new();
            for (i, u) in [u1, u2].into_iter().enumerate() {
                u.addr(&format!("{}/24", UNDERLAY[i]))?.up()?;
                let eth0 = hosts[i]
                    .vxlan("eth0", 42)
                    .local(UNDERLAY[i])
                    .remote(UNDERLAY[1 - i])
                    .device("ul0")
                    .create()?;
                eth0s.push(eth0);
            }
            eth0s
        }
    };
    for ((h, ns), eth0) in HOSTS.iter().zip(&hosts).zip(&eth0s) {
        eth0.addr(&format!("{}/24", h.addr))?.up()?;
        if lan == Lan::Bridge {
            ns.default_route(GATEWAY)?;
        }
    }

    // The containers: macvlan children of their host's eth0, bridge mode,
    // as the Docker macvlan driver makes them (`-o macvlan_mode=bridge`
    // is its default).
    let mut nodes = Vec::new();
    for (i, (h, eth0)) in HOSTS.iter().zip(&eth0s).enumerate() {
        for (name, addr) in h.containers {
            let ns = Namespace::create(&format!("{prefix}-{name}"))?;
            ns.lo_up()?;
            let child = eth0
                .macvlan("eth0")
                .mode(MacvlanMode::Bridge)
                .in_namespace(&ns)
                .create()?;
            child.addr(&format!("{addr}/24"))?.up()?;
            if lan == Lan::Bridge {
                ns.default_route(GATEWAY)?;
            }
            nodes.push(Node {
                ns,
                addr,
                host: Some(i),
                is_host: None,
            });
        }
    }
    for (i, (h, ns)) in HOSTS.iter().zip(hosts).enumerate() {
        nodes.push(Node {
            ns,
            addr: h.addr,
            host: None,
            is_host: Some(i),
        });
    }

    // A web server everywhere. They outlive the run: the lab stays up
    // with them until `netwasm down`.
    let mut servers = Vec::new();
    for n in &nodes {
        let server =
            n.ns.spawn(&[
                BUSYBOX,
                "httpd",
                "-f",
                "-p",
                &PORT.to_string(),
                "-h",
                DOCROOT,
            ])
            .start()?;
        servers.push(server);
    }
    for (n, server) in nodes.iter().zip(&servers) {
        wait_listening(n, server)?;
    }

    // The recipe's results over HTTP: containers reach each other across
    // hosts and the other host, never their own. All fetches at once: one
    // that cannot connect waits out ARP (about 3 s).
    let containers: Vec<&Node> = nodes.iter().filter(|n| n.host.is_some()).collect();
    let mut fetches = Vec::new();
    for from in &containers {
        for to in nodes.iter().filter(|to| !std::ptr::eq(*from, *to)) {
            fetches.push((*from, to, start_fetch(from, to.addr)?));
        }
    }
    let mut wrong = Vec::new();
    let mut rows: Vec<(String, Vec<&str>)> = Vec::new();
    for (from, to, wget) in &fetches {
        let expected = to.is_host.is_none() || to.is_host != from.host;
        let got = fetched(wget)?;
        if rows.last().is_none_or(|(name, _)| *name != from.ns.name()) {
            rows.push((from.ns.name().to_string(), Vec::new()));
        }
        let cell = match (got, expected) {
            (true, true) => "yes",
            (false, false) => "no",
            (true, false) => "YES(!)",
            (false, true) => "NO(!)",
        };
        rows.last_mut().expect("pushed above").1.push(cell);
        if got != expected {
            wrong.push(format!(
                "{} {} fetch from {} ({})",
                from.ns.name(),
                if expected { "cannot" } else { "can" },
                to.ns.name(),
                to.addr
            ));
        }
    }
    println!("HTTP, each container to the others in order, then docker1 and docker2:");
    for (name, cells) in rows {
        println!("  {name}: {}", cells.join(" "));
    }

    // And the same over ICMP, as expectations netwasm checks and reports.
    for from in &containers {
        for to in &nodes {
            if std::ptr::eq(*from, to) {
                continue;
            }
            let own_host = to.is_host.is_some() && to.is_host == from.host;
            if own_host {
                from.ns
                    .expect_unreachable(to.addr, "a container never reaches its own host")?;
            } else {
                from.ns
                    .expect_reachable(to.addr, "one LAN across both hosts")?;
            }
        }
    }
    check()?;
    if !wrong.is_empty() {
        return Err(Error::msg(format!("HTTP: {}", wrong.join("; "))));
    }
    Ok(())
}

/// Waits (at most 5 s) until `n`'s server answers on its own address.
fn wait_listening(n: &Node, server: &Process) -> Result<()> {
    for _ in 0..25 {
        if fetched(&start_fetch(n, n.addr)?)? {
            return Ok(());
        }
        if let Some(status) = server.wait(200)? {
            let err = String::from_utf8_lossy(&server.stderr().data).into_owned();
            return Err(Error::msg(format!(
                "httpd in {} ended ({status:?}): {}",
                n.ns.name(),
                err.trim()
            )));
        }
    }
    Err(Error::msg(format!(
        "httpd in {} does not answer on {}:{PORT}",
        n.ns.name(),
        n.addr
    )))
}

/// Starts fetching the page from `addr` in `from`. (No `-T`: busybox
/// 1.35's wget crashes with it; `fetched` bounds the wait instead.)
fn start_fetch(from: &Node, addr: &str) -> Result<Process> {
    let url = format!("http://{addr}:{PORT}/{PAGE}");
    from.ns
        .spawn(&[BUSYBOX, "wget", "-q", "-O", "-", &url])
        .start()
}

/// Whether `wget` got the page within 5 s (it is killed after that).
fn fetched(wget: &Process) -> Result<bool> {
    let status = wget.wait(5000)?;
    if status.is_none() {
        wget.signal(Signal::Kill)?;
        let _ = wget.wait(1000)?;
        return Ok(false);
    }
    let page = wget.stdout();
    Ok(matches!(status, Some(ExitStatus::Exited(0)))
        && String::from_utf8_lossy(&page.data).contains(PAGE_TEXT))
}

netwasm_guest::main!(run);
