//! The macvlan lab of the Docker Networking Cookbook (chapter "MacVLAN"),
//! rebuilt inside network namespaces, with the chapter's own results stated
//! as expectations that netwasm checks by pinging:
//!
//! ```text
//!   PREFIX-test   test_server 10.20.30.10/24, default via 10.20.30.1
//!       | veth
//!   PREFIX-lan    the upstream switch (bridge br0) and the subnet's router:
//!                 172.16.10.1/24 on br0, 10.20.30.1/24 towards test_server
//!       | veth (PREFIX-net1's eth0 <-> port "net1" of br0)
//!   PREFIX-net1   the Docker host: eth0 172.16.10.2/24, default via .1
//!       +-- macvlan1 (child of eth0) in PREFIX-ns1: 172.16.10.5/24
//!       +-- macvlan2 (child of eth0) in PREFIX-ns2: 172.16.10.6/24
//! ```
//!
//! Arguments: `up PREFIX [vepa|bridge]` builds and checks it (vepa, the
//! kernel's default, is the chapter's first run; bridge its second);
//! `down PREFIX` removes it.

use netwasm_guest::{Error, MacvlanMode, Namespace, Result, check};

const USAGE: &str = "usage: up PREFIX [vepa|bridge] | down PREFIX";
const NAMESPACES: [&str; 5] = ["ns1", "ns2", "net1", "test", "lan"];

fn run(args: Vec<String>) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["up", prefix] => up(prefix, MacvlanMode::Vepa),
        ["up", prefix, "vepa"] => up(prefix, MacvlanMode::Vepa),
        ["up", prefix, "bridge"] => up(prefix, MacvlanMode::Bridge),
        ["down", prefix] => down(prefix),
        _ => Err(Error::msg(USAGE)),
    }
}

fn mode_name(mode: MacvlanMode) -> &'static str {
    match mode {
        MacvlanMode::Private => "private",
        MacvlanMode::Vepa => "vepa",
        MacvlanMode::Bridge => "bridge",
        MacvlanMode::Passthru => "passthru",
        MacvlanMode::Source => "source",
    }
}

fn up(prefix: &str, mode: MacvlanMode) -> Result<()> {
    // The "physical" network: a switch (a bridge in its own namespace) with
    // the subnet's gateway on it, routing to the test server's subnet.
    let lan = Namespace::create(&format!("{prefix}-lan"))?;
    lan.lo_up()?;
    lan.forwarding(true)?;
    let switch = lan.bridge("br0")?;
    switch.addr("172.16.10.1/24")?.up()?;

    // The chapter's test_server, on another subnet behind the router.
    let test = Namespace::create(&format!("{prefix}-test"))?;
    test.lo_up()?;
    let (uplink, server) = lan.veth("test", &test, "eth0")?;
    uplink.addr("10.20.30.1/24")?.up()?;
    server.addr("10.20.30.10/24")?.up()?;
    test.default_route("10.20.30.1")?;

    // The Docker host, cabled to the switch: its eth0 is one end of a veth
    // pair whose other end is a switch port.
    let net1 = Namespace::create(&format!("{prefix}-net1"))?;
    net1.lo_up()?;
    let (eth0, port) = net1.veth("eth0", &lan, "net1")?;
    port.master(&switch)?.up()?;
    eth0.addr("172.16.10.2/24")?.up()?;
    net1.default_route("172.16.10.1")?;

    // Two macvlan children of eth0, each in its own namespace. They are
    // created directly there (the kernel makes that far cheaper than the
    // chapter's create-then-move) and share eth0 as their parent all the same.
    let mut children = Vec::new();
    for (n, ip) in [(1, "172.16.10.5/24"), (2, "172.16.10.6/24")] {
        let ns = Namespace::create(&format!("{prefix}-ns{n}"))?;
        ns.lo_up()?;
        let child = eth0
            .macvlan(&format!("macvlan{n}"))
            .mode(mode)
            .in_namespace(&ns)
            .create()?;
        child.addr(ip)?.up()?;
        let info = child.info()?;
        println!(
            "{}: macvlan{n} {ip} mode {} on {} in {}",
            ns.name(),
            mode_name(info.macvlan_mode.unwrap_or(mode)),
            info.parent_name.as_deref().unwrap_or("?"),
            info.parent_namespace.as_deref().unwrap_or("?"),
        );
        children.push(ns);
    }

    // As in the chapter: without default routes the children answer their
    // own subnet only, so the test server reaches the host's .2 and not them.
    test.expect_reachable("172.16.10.2", "test_server to the host")?;
    test.expect_unreachable("172.16.10.5", "no default route in ns1 yet")?;
    test.expect_unreachable("172.16.10.6", "no default route in ns2 yet")?;
    check()?;

    for ns in &children {
        ns.default_route("172.16.10.1")?;
    }
    let (ns1, ns2) = (&children[0], &children[1]);
    test.expect_reachable("172.16.10.5", "default route in ns1")?;
    test.expect_reachable("172.16.10.6", "default route in ns2")?;
    lan.expect_reachable("172.16.10.2", "gateway to the host")?;
    lan.expect_reachable("172.16.10.5", "gateway to macvlan1")?;
    lan.expect_reachable("172.16.10.6", "gateway to macvlan2")?;
    match mode {
        MacvlanMode::Bridge => ns1.expect_reachable("172.16.10.6", "bridge mode: siblings talk")?,
        _ => ns1.expect_unreachable("172.16.10.6", "vepa: siblings cannot talk")?,
    }
    ns1.expect_unreachable("172.16.10.2", "a child never reaches its parent's address")?;
    ns2.expect_unreachable("172.16.10.2", "a child never reaches its parent's address")?;
    Ok(())
}

fn down(prefix: &str) -> Result<()> {
    // Children first, then the host, the test server and the switch; a
    // namespace already gone is fine.
    for suffix in NAMESPACES {
        match Namespace::open(&format!("{prefix}-{suffix}")) {
            Ok(ns) => ns.delete()?,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

netwasm_guest::main!(run);
