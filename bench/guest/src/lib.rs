//! The benchmark lab as a netwasm guest (see `bench/README.md`).
//!
//! `up PHY_NS PARENT PREFIX COUNT NET` builds COUNT units. Unit `i` is:
//!
//! - namespace `PREFIX{i}`, created by netwasm without forking, a batch of
//!   them at a time with `Namespace::create_all` (which the host runs on
//!   several threads);
//! - a bridge-mode macvlan `eth0` on link PARENT of namespace PHY_NS (the
//!   shared "physical" network, which the benchmark made), created directly
//!   in the unit's namespace;
//! - `lo` and `eth0` up, `NET.{i/250}.{i%250+2}/24` on `eth0`, and a default
//!   route via `NET.{i/250}.1`.
//!
//! `noop` does nothing: the fixed cost of `netwasm run`.
//!
//! Namespaces are made BATCH at a time and their handles dropped when
//! their units are done, so the guest holds a bounded number of handles
//! whatever COUNT is.

use netwasm_guest::{Error, MacvlanMode, Namespace, Result};

/// Namespaces created per `create_all` call.
const BATCH: u32 = 100;

const USAGE: &str = "usage: up PHY_NS PARENT PREFIX COUNT NET | noop";

fn run(args: Vec<String>) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["noop"] => Ok(()),
        ["up", phy, parent, prefix, count, net] => {
            let count: u32 = count.parse().map_err(|_| Error::msg(USAGE))?;
            up(phy, parent, prefix, count, net)
        }
        _ => Err(Error::msg(USAGE)),
    }
}

fn up(phy: &str, parent: &str, prefix: &str, count: u32, net: &str) -> Result<()> {
    let phy = Namespace::open(phy)?;
    let parent = phy.link(parent)?;
    for first in (0..count).step_by(BATCH as usize) {
        let last = (first + BATCH).min(count);
        let names: Vec<String> = (first..last).map(|i| format!("{prefix}{i}")).collect();
        let spaces = Namespace::create_all(&names)?;
        for (i, ns) in (first..last).zip(spaces) {
            let (subnet, host) = (i / 250, i % 250 + 2);
            ns.lo_up()?;
            let eth0 = parent
                .macvlan("eth0")
                .mode(MacvlanMode::Bridge)
                .in_namespace(&ns)
                .create()?;
            eth0.up()?.addr(&format!("{net}.{subnet}.{host}/24"))?;
            ns.default_route(&format!("{net}.{subnet}.1"))?;
        }
    }
    Ok(())
}

netwasm_guest::main!(run);
