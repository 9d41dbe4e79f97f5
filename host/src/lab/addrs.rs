//! Addresses on the links the lab holds.

use serde_json::json;

use super::gate::Quota;
use super::{Lab, LinkKey};
use crate::error::HostResult;
use crate::ledger::Entry;
use crate::vocab::AddrInfo;
use crate::vocab::Operation;
use crate::vocab::net::Cidr;

impl Lab {
    pub async fn addr_add(&mut self, key: LinkKey, cidr: &str) -> HostResult<()> {
        let desc = self.desc_link(key);
        self.op(
            Operation::AddrAdd,
            json!({ "link": desc, "address": cidr }),
            async |lab| {
                let c = Cidr::parse(cidr, "address", false)?;
                lab.check_change(key, &format!("add address {c} to"))?;
                lab.policy.check_address(&c)?;
                lab.gate
                    .room(Quota::Addresses, 1, &format!("add address {c}"))?;
                let link = lab.link(key)?.clone();
                let id = lab.ns_id(&link.ns)?;
                let entry = Entry::AddrAdd {
                    ns: link.ns.clone(),
                    link: link.name.clone(),
                    index: Some(link.index),
                    cidr: c.to_string(),
                };
                let k = lab.kernel.clone();
                let op = format!("add address {c} to {desc}");
                lab.journaled(entry, op, k.addr_add(id, link.index, c))
                    .await?;
                lab.gate.usage.addresses += 1;
                lab.added_addrs.insert((link.ns.clone(), link.index, c));
                Ok(())
            },
        )
        .await
    }

    pub async fn addr_delete(&mut self, key: LinkKey, cidr: &str) -> HostResult<()> {
        let desc = self.desc_link(key);
        self.op(
            Operation::AddrDelete,
            json!({ "link": desc, "address": cidr }),
            async |lab| {
                let c = Cidr::parse(cidr, "address", false)?;
                lab.check_change(key, &format!("delete address {c} from"))?;
                let link = lab.link(key)?.clone();
                let id = lab.ns_id(&link.ns)?;
                lab.kernel
                    .addr_del(id, link.index, c)
                    .await
                    .map_err(|e| Self::kernel_err(format!("delete address {c} from {desc}"), e))?;
                if !lab.added_addrs.remove(&(link.ns.clone(), link.index, c)) {
                    // Not the lab's (the kernel's own, or on a managed
                    // link): the journal does not record it, nor its end.
                    return Ok(());
                }
                lab.record(Entry::AddrDelete {
                    ns: link.ns.clone(),
                    link: link.name.clone(),
                    cidr: c.to_string(),
                })?;
                Ok(())
            },
        )
        .await
    }

    pub async fn addr_list(&mut self, key: LinkKey) -> HostResult<Vec<AddrInfo>> {
        let desc = self.desc_link(key);
        self.op(Operation::AddrList, json!({ "link": desc }), async |lab| {
            let link = lab.link(key)?.clone();
            let id = lab.ns_id(&link.ns)?;
            lab.kernel
                .addr_list(id, Some(link.index))
                .await
                .map_err(|e| Self::kernel_err(format!("list addresses of {desc}"), e))
        })
        .await
    }
}
