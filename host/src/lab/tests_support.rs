//! What the unit tests on the simulated kernel share: a lab on a [`Sim`]
//! under a policy, journaling in memory, and reading the kernel back.

use std::sync::Arc;

use super::Lab;
use crate::error::{Failure, HostResult};
use crate::kernel::Kernel;
use crate::kernel::sim::Sim;
use crate::ledger::Ledger;
use crate::policy::Policy;

pub(crate) fn policy(text: &str) -> Arc<Policy> {
    Arc::new(crate::policy::file::parse(text, "t.toml").expect("a valid policy"))
}

/// A lab on `sim` under the policy `text`, journaling in memory; the
/// ledger is returned too (its clones share one journal).
pub(crate) fn lab_on(sim: &Arc<Sim>, text: &str) -> (Lab, Ledger) {
    let ledger = Ledger::in_memory("t");
    let kernel: Arc<dyn Kernel> = sim.clone();
    let lab = Lab::new(kernel, policy(text)).with_ledger(ledger.clone());
    (lab, ledger)
}

/// The value of a call that must succeed.
pub(crate) fn ok<T>(r: HostResult<T>) -> T {
    match r {
        Ok(v) => v,
        Err(Failure::Op(e)) => panic!("{:?}: {}", e.kind, e.message),
        Err(Failure::Trap(e)) => panic!("trap: {e:#}"),
    }
}

pub(crate) fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The links of namespace `ns` as the kernel lists them, by name (sorted).
pub(crate) async fn links_of(sim: &Sim, ns: &str) -> Vec<String> {
    let (id, _) = sim.ns_open(ns).await.unwrap();
    let mut out: Vec<String> = sim
        .link_list(id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    sim.ns_close(id);
    out.sort();
    out
}
