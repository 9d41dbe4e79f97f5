//! Probes and reachability expectations: ping, neighbours, and the matrix of
//! expected against actual reachability.

use super::gate::is_root;
use futures::StreamExt;
use std::net::IpAddr;

use serde_json::json;

use super::{Checked, EXPECT_COUNT, EXPECT_TIMEOUT, Expectation, Lab, desc_ns};
use crate::error::{HostResult, OpError};
use crate::vocab::Operation;
use crate::vocab::{NsId, PingStats};

/// How many probes of expectations run at once.
pub const PROBES_IN_FLIGHT: usize = 64;

/// The longest label an expectation may carry, in bytes.
pub const MAX_LABEL_BYTES: usize = 256;

/// How many expectations a run may state, checked or not: each is kept
/// until the run ends, and probed.
pub const MAX_EXPECTATIONS: usize = 10_000;

impl Lab {
    /// May the guest probe from this namespace? From those it created,
    /// and those `[namespaces] modify` grants; never from the root.
    fn check_probe_from(&self, ns: &str) -> Result<NsId, OpError> {
        let id = self.ns_id(ns)?;
        if is_root(ns) {
            return Err(OpError::denied(
                "probe from the root namespace: never allowed",
            ));
        }
        self.check_builds_in(ns, &format!("probe from {}", desc_ns(ns)))?;
        Ok(id)
    }

    /// Counts the pair (`ns`, `to`) against `[quotas] probes`: each new pair
    /// may leave an entry in the neighbour table all namespaces share.
    fn count_probe(&mut self, ns: &str, to: IpAddr) -> Result<(), OpError> {
        let pair = (ns.to_string(), to);
        if self.probed.contains(&pair) {
            return Ok(());
        }
        let max = self.policy.quotas.probes;
        if self.probed.len() as u64 >= max {
            return Err(OpError::limit(format!(
                "probe {to} from {}: the run has probed its quota of {max} distinct source and destination pairs ([quotas] probes in {}; the kernel's neighbour table, shared by every namespace, holds 1024 entries by default)",
                desc_ns(ns),
                self.policy.source
            )));
        }
        self.probed.insert(pair);
        Ok(())
    }

    pub async fn probe_ping(
        &mut self,
        ns: &str,
        to: &str,
        count: u32,
        timeout_ms: u32,
    ) -> HostResult<crate::vocab::PingStats> {
        let args = json!({ "namespace": ns, "to": to, "count": count, "timeout-ms": timeout_ms });
        self.op(Operation::ProbePing, args, async |lab| {
            let addr = crate::vocab::net::parse_ip(to, "ping destination")?;
            if !(1..=100).contains(&count) {
                return Err(
                    OpError::invalid(format!("ping count {count}: must be 1 to 100")).into(),
                );
            }
            if !(1..=60_000).contains(&timeout_ms) {
                return Err(OpError::invalid(format!(
                    "ping timeout {timeout_ms} ms: must be 1 to 60000"
                ))
                .into());
            }
            let id = lab.check_probe_from(ns)?;
            lab.count_probe(ns, addr)?;
            let timeout = std::time::Duration::from_millis(u64::from(timeout_ms));
            lab.kernel
                .ping(id, addr, count, timeout)
                .await
                .map_err(|e| Self::kernel_err(format!("ping {addr} from {}", desc_ns(ns)), e))
        })
        .await
    }

    pub async fn probe_neighbors(&mut self, ns: &str) -> HostResult<Vec<crate::vocab::Neighbor>> {
        self.op(
            Operation::ProbeNeighbors,
            json!({ "namespace": ns }),
            async |lab| {
                // Reading the table sends nothing: any namespace held but the
                // root, and only entries on links the guest may see.
                let id = lab.ns_id(ns)?;
                if is_root(ns) {
                    return Err(OpError::denied(
                        "list neighbours in the root namespace: never allowed",
                    )
                    .into());
                }
                let mut found = lab.kernel.neighbors(id).await.map_err(|e| {
                    Self::kernel_err(format!("list neighbours in {}", desc_ns(ns)), e)
                })?;
                // As route.list: only entries on links the guest may see.
                found.retain(|n| lab.link_visible(ns, None, &n.dev));
                Ok(found)
            },
        )
        .await
    }

    pub async fn verify_expect(
        &mut self,
        ns: &str,
        to: &str,
        reachable: bool,
        label: &str,
    ) -> HostResult<()> {
        // The arguments are copied and serialized on every call, audited
        // or not: no more of a label than may be kept.
        let shown = &label[..label.floor_char_boundary(MAX_LABEL_BYTES)];
        let args = json!({ "namespace": ns, "to": to, "reachable": reachable, "label": shown });
        self.op(Operation::VerifyExpect, args, async |lab| {
            let addr = crate::vocab::net::parse_ip(to, "expected address")?;
            if label.len() > MAX_LABEL_BYTES {
                return Err(OpError::invalid(format!(
                    "expectation label of {} bytes: at most {MAX_LABEL_BYTES} allowed",
                    label.len()
                ))
                .into());
            }
            let stated = lab.pending.len() + lab.checked.len();
            if stated >= MAX_EXPECTATIONS {
                return Err(OpError::limit(format!(
                    "expect {addr} from {}: the run has stated its {MAX_EXPECTATIONS} expectations, the most a run may state",
                    desc_ns(ns)
                ))
                .into());
            }
            lab.check_probe_from(ns)?;
            lab.count_probe(ns, addr)?;
            lab.pending.push(Expectation {
                from: ns.to_string(),
                to: addr,
                reachable,
                label: crate::vocab::text::neutralise(label.as_bytes()),
            });
            Ok(())
        })
        .await
    }

    pub async fn verify_check(&mut self) -> HostResult<Vec<Checked>> {
        self.op(
            Operation::VerifyCheck,
            json!({ "pending": self.pending.len() }),
            async |lab| Ok(lab.run_pending().await),
        )
        .await
    }

    /// Probes every pending expectation, [`PROBES_IN_FLIGHT`] at a time,
    /// reports them (see [`Lab::on_checked`]) and returns the outcomes.
    pub async fn run_pending(&mut self) -> Vec<Checked> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Vec::new();
        }
        let probes: Vec<_> = pending
            .iter()
            .map(|e| {
                let id = self.ns_id(&e.from);
                let kernel = self.kernel.clone();
                let to = e.to;
                async move {
                    match id {
                        Ok(id) => kernel.ping(id, to, EXPECT_COUNT, EXPECT_TIMEOUT).await,
                        Err(e) => Err(std::io::Error::other(e.message)),
                    }
                }
            })
            .collect();
        // Each probe holds sockets while it waits for replies: unbounded,
        // a guest's thousands of expectations would exhaust the host's
        // file descriptors.
        let results: Vec<_> = futures::stream::iter(probes)
            .buffered(PROBES_IN_FLIGHT)
            .collect()
            .await;
        let checked: Vec<Checked> = pending
            .into_iter()
            .zip(results)
            .map(|(expectation, r)| Checked::from_probe(expectation, r))
            .collect();
        if let Some(report) = &self.on_checked {
            report(&checked);
        }
        self.checked.extend(checked.iter().cloned());
        checked
    }

    /// Checks what is still pending when the run ends; returns every
    /// unmet expectation of the run.
    pub async fn finish_expectations(&mut self) -> Vec<Checked> {
        self.run_pending().await;
        self.checked.iter().filter(|c| !c.met()).cloned().collect()
    }
}

impl Checked {
    /// What a probe's result says about an expectation. Only "no route"
    /// (ENETUNREACH, EHOSTUNREACH) is an answer among the errors; any other
    /// error means the probe could not tell, and such an expectation is
    /// never met.
    fn from_probe(expectation: Expectation, r: std::io::Result<PingStats>) -> Self {
        let (actual, failed, detail) = match r {
            Ok(s) if s.received > 0 => (
                true,
                false,
                format!(
                    "{}/{} replies, {:.3} ms",
                    s.received,
                    s.sent,
                    f64::from(s.rtt_avg_us.unwrap_or(0)) / 1000.0
                ),
            ),
            Ok(s) => (false, false, format!("0/{} replies", s.sent)),
            Err(e)
                if matches!(
                    crate::kernel::errno_of(&e),
                    Some(libc::ENETUNREACH | libc::EHOSTUNREACH)
                ) =>
            {
                (false, false, "no route".to_string())
            }
            Err(e) => (
                !expectation.reachable,
                true,
                format!("probe failed: {}", probe_error(&e)),
            ),
        };
        Checked {
            expectation,
            actual,
            failed,
            detail,
        }
    }
}

/// An error of a probe in one line, with the errno's name.
pub(crate) fn probe_error(e: &std::io::Error) -> String {
    match crate::kernel::errno_of(e) {
        Some(errno) => {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            format!("{text} ({})", crate::error::errno_name(errno))
        }
        None => e.to_string(),
    }
}

/// Checked expectations as a matrix: a summary, a header, and one row per
/// pair with a mark.
pub fn matrix_lines(checked: &[Checked]) -> Vec<String> {
    let word = |b: bool| if b { "reachable" } else { "unreachable" };
    let unmet = checked.iter().filter(|c| !c.met()).count();
    let mut lines = vec![format!(
        "reachability: {} checked, {} met, {} NOT met",
        checked.len(),
        checked.len() - unmet,
        unmet
    )];
    let w_from = checked
        .iter()
        .map(|c| c.expectation.from.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let w_to = checked
        .iter()
        .map(|c| c.expectation.to.to_string().len())
        .max()
        .unwrap_or(2)
        .max(2);
    lines.push(format!(
        "      {:<w_from$}  {:<w_to$}  {:<11}  {:<11}  {}",
        "FROM", "TO", "EXPECTED", "ACTUAL", "DETAIL"
    ));
    for c in checked {
        let e = &c.expectation;
        let mark = if c.met() { " ok " } else { "FAIL" };
        let label = if e.label.is_empty() {
            String::new()
        } else {
            format!("  ({})", e.label)
        };
        let actual = if c.failed { "failed" } else { word(c.actual) };
        lines.push(format!(
            " {mark} {:<w_from$}  {:<w_to$}  {:<11}  {:<11}  {}{label}",
            e.from,
            e.to.to_string(),
            word(e.reachable),
            actual,
            c.detail
        ));
    }
    lines
}
