//! `netwasm:lab/probe` and `netwasm:lab/verify`.

use wasmtime::component::Resource;

use super::bindings::netwasm::lab::probe::{self, Neighbor, NeighborState, PingResult};
use super::bindings::netwasm::lab::types::IpFamily;
use super::bindings::netwasm::lab::verify::{self, Outcome};
use super::{LabView, NsHandle};
use crate::error::HostResult;
use crate::vocab::NudState;

impl From<NudState> for NeighborState {
    fn from(s: NudState) -> Self {
        match s {
            NudState::None => Self::None,
            NudState::Incomplete => Self::Incomplete,
            NudState::Reachable => Self::Reachable,
            NudState::Stale => Self::Stale,
            NudState::Delay => Self::Delay,
            NudState::Probe => Self::Probe,
            NudState::Failed => Self::Failed,
            NudState::Noarp => Self::Noarp,
            NudState::Permanent => Self::Permanent,
        }
    }
}

impl probe::Host for LabView<'_> {
    async fn ping(
        &mut self,
        source: Resource<NsHandle>,
        to: String,
        count: u32,
        timeout_ms: u32,
    ) -> HostResult<PingResult> {
        let ns = self.ns_name(&source)?;
        let s = self.lab().probe_ping(&ns, &to, count, timeout_ms).await?;
        Ok(PingResult {
            sent: s.sent,
            received: s.received,
            rtt_min_us: s.rtt_min_us,
            rtt_avg_us: s.rtt_avg_us,
            rtt_max_us: s.rtt_max_us,
        })
    }

    async fn neighbors(&mut self, ns: Resource<NsHandle>) -> HostResult<Vec<Neighbor>> {
        let ns = self.ns_name(&ns)?;
        let list = self.lab().probe_neighbors(&ns).await?;
        Ok(list
            .into_iter()
            .map(|n| Neighbor {
                address: n.address.to_string(),
                mac: n.mac.map(|m| m.to_string()),
                dev: n.dev,
                state: n.state.into(),
                family: if n.address.is_ipv4() {
                    IpFamily::Ipv4
                } else {
                    IpFamily::Ipv6
                },
            })
            .collect())
    }
}

impl verify::Host for LabView<'_> {
    async fn expect(
        &mut self,
        source: Resource<NsHandle>,
        to: String,
        reachable: bool,
        label: String,
    ) -> HostResult<()> {
        let ns = self.ns_name(&source)?;
        self.lab().verify_expect(&ns, &to, reachable, &label).await
    }

    async fn check(&mut self) -> HostResult<Vec<Outcome>> {
        let checked = self.lab().verify_check().await?;
        Ok(checked
            .into_iter()
            .map(|c| Outcome {
                source: c.expectation.from,
                to: c.expectation.to.to_string(),
                expected: c.expectation.reachable,
                actual: c.actual,
                label: c.expectation.label,
            })
            .collect())
    }
}
