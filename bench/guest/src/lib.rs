//! The benchmark lab as a netwasm guest (see `bench/README.md`).
//!
//! `up PHY_NS PARENT PREFIX COUNT NET` builds COUNT units. Unit `i` is:
//!
//! - namespace `PREFIX{i}`, created by netwasm without forking;
//! - a bridge-mode macvlan `eth0` on link PARENT of namespace PHY_NS (the
//!   shared "physical" network, which the benchmark made), created directly
//!   in the unit's namespace;
//! - `lo` and `eth0` up, `NET.{i/250}.{i%250+2}/24` on `eth0`, and a default
//!   route via `NET.{i/250}.1`.
//!
//! `up` hands the units to the host as plans, `BATCH` at a time, with
//! `Namespace::build_all`, which keeps several units in progress at once.
//! `up-steps` builds the same lab one call per step (namespaces still
//! `BATCH` at a time with `Namespace::create_all`): what a script that
//! does not use plans costs.
//!
//! `noop` does nothing: the fixed cost of `netwasm run`.
//!
//! Handles are dropped when their units are done, so the guest holds a
//! bounded number of them whatever COUNT is.

use netwasm_guest::{Error, MacvlanMode, Namespace, Plan, Result};

/// Units per host call: one call for the benchmark's largest lab. At
/// N = 1000, one call of 1000 took 1.02 ms per unit, ten of 100 took 1.10
/// (each call ramps up and drains its in-flight units).
const BATCH: u32 = 1000;

const USAGE: &str =
    "usage: up PHY_NS PARENT PREFIX COUNT NET | up-steps PHY_NS PARENT PREFIX COUNT NET | noop";

fn run(args: Vec<String>) -> Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["noop"] => Ok(()),
        [how @ ("up" | "up-steps"), phy, parent, prefix, count, net] => {
            let count: u32 = count.parse().map_err(|_| Error::msg(USAGE))?;
            let lab = Lab {
                phy,
                parent,
                prefix,
                net,
            };
            if *how == "up" {
                lab.up(count)
            } else {
                lab.up_steps(count)
            }
        }
        _ => Err(Error::msg(USAGE)),
    }
}

struct Lab<'a> {
    phy: &'a str,
    parent: &'a str,
    prefix: &'a str,
    net: &'a str,
}

impl Lab<'_> {
    fn address(&self, i: u32) -> (String, String) {
        let (subnet, host) = (i / 250, i % 250 + 2);
        (
            format!("{}.{subnet}.{host}/24", self.net),
            format!("{}.{subnet}.1", self.net),
        )
    }

    fn up(&self, count: u32) -> Result<()> {
        Namespace::open(self.phy)?;
        for first in (0..count).step_by(BATCH as usize) {
            let last = (first + BATCH).min(count);
            let plans: Vec<Plan> = (first..last)
                .map(|i| {
                    let (cidr, gateway) = self.address(i);
                    Plan::new(&format!("{}{i}", self.prefix))
                        .macvlan(self.phy, self.parent, "eth0", MacvlanMode::Bridge)
                        .up("lo")
                        .up("eth0")
                        .addr("eth0", &cidr)
                        .default_route(&gateway)
                })
                .collect();
            Namespace::build_all(&plans)?;
        }
        Ok(())
    }

    fn up_steps(&self, count: u32) -> Result<()> {
        let phy = Namespace::open(self.phy)?;
        let parent = phy.link(self.parent)?;
        for first in (0..count).step_by(BATCH as usize) {
            let last = (first + BATCH).min(count);
            let names: Vec<String> = (first..last)
                .map(|i| format!("{}{i}", self.prefix))
                .collect();
            let spaces = Namespace::create_all(&names)?;
            for (i, ns) in (first..last).zip(spaces) {
                let (cidr, gateway) = self.address(i);
                ns.lo_up()?;
                let eth0 = parent
                    .macvlan("eth0")
                    .mode(MacvlanMode::Bridge)
                    .in_namespace(&ns)
                    .create()?;
                eth0.up()?.addr(&cidr)?;
                ns.default_route(&gateway)?;
            }
        }
        Ok(())
    }
}

netwasm_guest::main!(run);
