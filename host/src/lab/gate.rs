//! The gate every operation passes on its way in: the operation quota,
//! the policy's `[operations]`, the other quotas, and the audit line on its
//! way out. One step (`admit`) or a whole batch (`admit_all`) goes through
//! the same checks, and a refusal reads the same whichever it was.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::audit::Audit;
use crate::error::{Failure, GuestFault, HostResult, OpError};
use crate::policy::Policy;
use crate::vocab::{Operation, ROOT_NS};

/// The quotas of `[quotas]` that count objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Namespaces,
    Links,
    Addresses,
    Routes,
    /// Programs started (`process.start`).
    Processes,
}

impl Quota {
    /// The policy key.
    pub fn key(self) -> &'static str {
        match self {
            Quota::Namespaces => "namespaces",
            Quota::Links => "links",
            Quota::Addresses => "addresses",
            Quota::Routes => "routes",
            Quota::Processes => "processes",
        }
    }
}

/// What a run has used of its quotas.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub namespaces: u64,
    pub links: u64,
    pub addresses: u64,
    pub routes: u64,
    pub operations: u64,
    pub processes: u64,
}

impl Usage {
    fn of(&self, q: Quota) -> u64 {
        match q {
            Quota::Namespaces => self.namespaces,
            Quota::Links => self.links,
            Quota::Addresses => self.addresses,
            Quota::Routes => self.routes,
            Quota::Processes => self.processes,
        }
    }

    /// Counts `n` more of `q` (after the kernel made them).
    pub fn add(&mut self, q: Quota, n: u64) {
        let slot = match q {
            Quota::Namespaces => &mut self.namespaces,
            Quota::Links => &mut self.links,
            Quota::Addresses => &mut self.addresses,
            Quota::Routes => &mut self.routes,
            Quota::Processes => &mut self.processes,
        };
        *slot += n;
    }
}

pub struct Gate {
    policy: Arc<Policy>,
    pub usage: Usage,
    /// Whether the guest was told its operation quota is used up.
    told: bool,
    audit: Option<Audit>,
}

impl Gate {
    pub fn new(policy: Arc<Policy>) -> Self {
        Self {
            policy,
            usage: Usage::default(),
            told: false,
            audit: None,
        }
    }

    pub fn set_audit(&mut self, audit: Audit) {
        self.audit = Some(audit);
    }

    /// The refusal of `want` more of `key` where `used` of `max` are used,
    /// in one wording for one step and for many.
    fn over(&self, what: &str, key: &str, want: u64, used: u64, max: u64) -> OpError {
        let src = &self.policy.source;
        OpError::limit(if want == 1 {
            format!("{what}: the run has used its quota of {max} {key} ([quotas] {key} in {src})")
        } else {
            format!(
                "{what}: its {want} {key} would pass the run's quota of {max} {key}, of which {used} are used ([quotas] {key} in {src})"
            )
        })
    }

    /// Lets one step in: counts it against the operation quota and checks
    /// it against `[operations]`. A guest told once that its quota is used
    /// up and calling on is stopped: the host would only work (and audit)
    /// for nothing.
    pub fn admit(&mut self, op: Operation, args: &Value) -> HostResult<()> {
        let max = self.policy.quotas.operations;
        if self.usage.operations >= max {
            if std::mem::replace(&mut self.told, true) {
                return Err(Failure::Trap(
                    GuestFault(format!(
                        "the guest kept calling after it had used its quota of {max} operations ([quotas] operations in {})",
                        self.policy.source
                    ))
                    .into(),
                ));
            }
            let used = self.usage.operations;
            return Err(self.over(op.as_str(), "operations", 1, used, max).into());
        }
        self.usage.operations += 1;
        Ok(self.policy.check_operation(op, &args.to_string())?)
    }

    /// Lets the `count` steps of one call in, all or none: the operation
    /// quota for all of them at once, then `[operations]` for each kind of
    /// step among `ops` (a refusal names the first step it hits, with that
    /// step's arguments from `steps`, made only then).
    pub fn admit_all(
        &mut self,
        what: &str,
        count: u64,
        ops: impl IntoIterator<Item = Operation>,
        steps: impl FnOnce() -> Vec<(Operation, Value)>,
    ) -> HostResult<()> {
        let max = self.policy.quotas.operations;
        let used = self.usage.operations;
        if used.saturating_add(count) > max {
            return Err(self.over(what, "operations", count, used, max).into());
        }
        self.usage.operations += count;
        let denied: BTreeSet<Operation> = ops
            .into_iter()
            .filter(|op| !self.policy.operation_allowed(*op))
            .collect();
        if denied.is_empty() {
            return Ok(());
        }
        for (op, args) in steps() {
            if denied.contains(&op) {
                self.policy.check_operation(op, &args.to_string())?;
            }
        }
        Ok(())
    }

    /// Refuses `want` more objects of `q` past its quota.
    pub fn room(&self, q: Quota, want: u64, what: &str) -> Result<(), OpError> {
        let used = self.usage.of(q);
        let max = match q {
            Quota::Namespaces => self.policy.quotas.namespaces,
            Quota::Links => self.policy.quotas.links,
            Quota::Addresses => self.policy.quotas.addresses,
            Quota::Routes => self.policy.quotas.routes,
            Quota::Processes => self.policy.quotas.processes,
        };
        if used.saturating_add(want) > max {
            return Err(self.over(what, q.key(), want, used, max));
        }
        Ok(())
    }

    /// Writes the audit line of one call or step, if the run is audited.
    pub fn audit<T>(
        &mut self,
        op: Operation,
        args: Value,
        result: &HostResult<T>,
    ) -> HostResult<()> {
        if let Some(audit) = &mut self.audit {
            audit.record(op, args, result)?;
        }
        Ok(())
    }

    /// Whether the run is audited (so that a batch builds its per-step
    /// lines only then).
    pub fn audited(&self) -> bool {
        self.audit.is_some()
    }
}

/// Whether `ns` is the lab's name for the namespace netwasm runs in. The
/// lab holds that namespace under [`ROOT_NS`] only when its identity is the
/// home namespace's (see `hold_root` and `ns_open`, which compare
/// identities, never names): every rule about the root goes through here.
pub fn is_root(ns: &str) -> bool {
    ns == ROOT_NS
}
