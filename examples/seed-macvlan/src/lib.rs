//! The macvlan lab of the Docker Networking Cookbook (chapter "MacVLAN"),
//! rebuilt inside network namespaces:
//!
//! ```text
//!   PREFIX-lan    the upstream switch: bridge br0 with the gateway 172.16.10.1/24
//!       | veth (PREFIX-net1's eth0 <-> port "net1" of br0)
//!   PREFIX-net1   the Docker host: eth0 172.16.10.2/24
//!       +-- macvlan1 (child of eth0) -> PREFIX-ns1: 172.16.10.5/24, default via .1
//!       +-- macvlan2 (child of eth0) -> PREFIX-ns2: 172.16.10.6/24, default via .1
//! ```
//!
//! Arguments: `up PREFIX [vepa|bridge]` builds it (vepa, the kernel's
//! default, is the chapter's first run; bridge its second); `down PREFIX`
//! removes it.

use netwasm_guest::{Error, MacvlanMode, Namespace, Result};

const USAGE: &str = "usage: up PREFIX [vepa|bridge] | down PREFIX";

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

fn up(prefix: &str, mode: MacvlanMode) -> Result<()> {
    // The "physical" network: a switch (a bridge in its own namespace) with
    // the subnet's gateway on it.
    let lan = Namespace::create(&format!("{prefix}-lan"))?;
    lan.lo_up()?;
    let switch = lan.bridge("br0")?;
    switch.addr("172.16.10.1/24")?.up()?;

    // The Docker host, cabled to the switch: its eth0 is one end of a veth
    // pair whose other end is a switch port.
    let net1 = Namespace::create(&format!("{prefix}-net1"))?;
    net1.lo_up()?;
    let (eth0, port) = net1.veth("eth0", &lan, "net1")?;
    port.master(&switch)?.up()?;
    eth0.addr("172.16.10.2/24")?.up()?;

    // Two macvlan children of eth0, each in its own namespace. They are
    // created directly there (the kernel makes that far cheaper than the
    // chapter's create-then-move) and share eth0 as their parent all the same.
    for (n, ip) in [(1, "172.16.10.5/24"), (2, "172.16.10.6/24")] {
        let ns = Namespace::create(&format!("{prefix}-ns{n}"))?;
        ns.lo_up()?;
        let child = eth0
            .macvlan(&format!("macvlan{n}"))
            .mode(mode)
            .in_namespace(&ns)
            .create()?;
        child.addr(ip)?.up()?;
        // Without a default route the children answer only their own subnet.
        ns.default_route("172.16.10.1")?;
        let info = child.info()?;
        println!(
            "{}: macvlan{n} {ip} mode {} on {} in {}",
            ns.name(),
            mode_name(info.macvlan_mode.unwrap_or(mode)),
            info.parent_name.as_deref().unwrap_or("?"),
            info.parent_namespace.as_deref().unwrap_or("?"),
        );
    }
    Ok(())
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

fn down(prefix: &str) -> Result<()> {
    // Children first, then the host, then the switch; gone already is fine.
    for suffix in ["ns1", "ns2", "net1", "lan"] {
        match Namespace::open(&format!("{prefix}-{suffix}")) {
            Ok(ns) => ns.delete()?,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

netwasm_guest::main!(run);
