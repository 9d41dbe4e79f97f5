//! Probes and reachability expectations: ping, neighbours, and the matrix of
//! expected against actual reachability.

use serde_json::json;

use super::{Checked, EXPECT_COUNT, EXPECT_TIMEOUT, Expectation, Lab, desc_ns};
use crate::error::{HostResult, OpError};
use crate::kernel::{NsId, ROOT_NS};

impl Lab {
    /// May the guest probe from this namespace? Any it holds, but the root.
    fn check_probe_from(&self, ns: &str) -> Result<NsId, OpError> {
        let id = self.ns_id(ns)?;
        if ns == ROOT_NS {
            return Err(OpError::denied(
                "probe from the root namespace: never allowed",
            ));
        }
        Ok(id)
    }

    pub async fn probe_ping(
        &mut self,
        ns: &str,
        to: &str,
        count: u32,
        timeout_ms: u32,
    ) -> HostResult<crate::kernel::PingStats> {
        let args = json!({ "namespace": ns, "to": to, "count": count, "timeout-ms": timeout_ms });
        self.op("probe.ping", args, async |lab| {
            let addr = crate::net::parse_ip(to, "ping destination")?;
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
            let timeout = std::time::Duration::from_millis(u64::from(timeout_ms));
            lab.kernel
                .ping(id, addr, count, timeout)
                .await
                .map_err(|e| Self::kernel_err(format!("ping {addr} from {}", desc_ns(ns)), e))
        })
        .await
    }

    pub async fn probe_neighbors(&mut self, ns: &str) -> HostResult<Vec<crate::kernel::Neighbor>> {
        self.op("probe.neighbors", json!({ "namespace": ns }), async |lab| {
            let id = lab.check_probe_from(ns)?;
            let mut found =
                lab.kernel.neighbors(id).await.map_err(|e| {
                    Self::kernel_err(format!("list neighbours in {}", desc_ns(ns)), e)
                })?;
            // As route.list: only entries on links the guest may see.
            found.retain(|n| lab.link_visible(ns, None, &n.dev));
            Ok(found)
        })
        .await
    }

    pub async fn verify_expect(
        &mut self,
        ns: &str,
        to: &str,
        reachable: bool,
        label: &str,
    ) -> HostResult<()> {
        let args = json!({ "namespace": ns, "to": to, "reachable": reachable, "label": label });
        self.op("verify.expect", args, async |lab| {
            let addr = crate::net::parse_ip(to, "expected address")?;
            lab.check_probe_from(ns)?;
            lab.pending.push(Expectation {
                from: ns.to_string(),
                to: addr,
                reachable,
                label: crate::runtime::stdio::neutralise(label.as_bytes()),
            });
            Ok(())
        })
        .await
    }

    pub async fn verify_check(&mut self) -> HostResult<Vec<Checked>> {
        self.op(
            "verify.check",
            json!({ "pending": self.pending.len() }),
            async |lab| Ok(lab.run_pending().await),
        )
        .await
    }

    /// Probes every pending expectation, all at once, prints the matrix and
    /// returns the outcomes.
    pub async fn run_pending(&mut self) -> Vec<Checked> {
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Vec::new();
        }
        let probes = pending.iter().map(|e| {
            let id = self.ns_id(&e.from);
            let kernel = self.kernel.clone();
            let to = e.to;
            async move {
                match id {
                    Ok(id) => kernel.ping(id, to, EXPECT_COUNT, EXPECT_TIMEOUT).await,
                    Err(e) => Err(std::io::Error::other(e.message)),
                }
            }
        });
        let results = futures::future::join_all(probes).await;
        let checked: Vec<Checked> = pending
            .into_iter()
            .zip(results)
            .map(|(expectation, r)| {
                let (actual, detail) = match r {
                    Ok(s) if s.received > 0 => (
                        true,
                        format!(
                            "{}/{} replies, {:.3} ms",
                            s.received,
                            s.sent,
                            f64::from(s.rtt_avg_us.unwrap_or(0)) / 1000.0
                        ),
                    ),
                    Ok(s) => (false, format!("0/{} replies", s.sent)),
                    Err(e) if e.raw_os_error() == Some(libc::ENETUNREACH) => {
                        (false, "no route".to_string())
                    }
                    Err(e) => (false, format!("probe failed: {e}")),
                };
                Checked {
                    expectation,
                    actual,
                    detail,
                }
            })
            .collect();
        print_matrix(&checked);
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

/// Prints checked expectations as a matrix: one row per pair, with a mark.
pub fn print_matrix(checked: &[Checked]) {
    let word = |b: bool| if b { "reachable" } else { "unreachable" };
    let unmet = checked.iter().filter(|c| !c.met()).count();
    let mut out = format!(
        "reachability: {} checked, {} met, {} NOT met\n",
        checked.len(),
        checked.len() - unmet,
        unmet
    );
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
    out += &format!(
        "      {:<w_from$}  {:<w_to$}  {:<11}  {:<11}  {}\n",
        "FROM", "TO", "EXPECTED", "ACTUAL", "DETAIL"
    );
    for c in checked {
        let e = &c.expectation;
        let mark = if c.met() { " ok " } else { "FAIL" };
        let label = if e.label.is_empty() {
            String::new()
        } else {
            format!("  ({})", e.label)
        };
        out += &format!(
            " {mark} {:<w_from$}  {:<w_to$}  {:<11}  {:<11}  {}{label}\n",
            e.from,
            e.to.to_string(),
            word(e.reachable),
            word(c.actual),
            c.detail
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}
