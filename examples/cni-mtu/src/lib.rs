//! A chained CNI plugin as a netwasm guest: it sets the MTU of the
//! interface an earlier plugin of the chain made (`bridge`, `macvlan`, ...)
//! and passes the earlier result on, as the reference `tuning` plugin does
//! for its `mtu` key.
//!
//! ```json
//! { "type": "netwasm-cni", "guest": ".../cni_mtu.wasm", "mtu": 1400 }
//! ```
//!
//! The host lets a plugin change the attachment's own interface (the one
//! `CNI_IFNAME` names in the container) and nothing else it did not make.

use netwasm_cni_guest::{Attachment, CniResult, Netns};
use netwasm_guest::bindings::netwasm::lab::link;
use netwasm_guest::{Error, Link, Result};

fn mtu(config: &str) -> Result<u32> {
    let v: serde_json::Value = serde_json::from_str(config)
        .map_err(|e| Error::msg(format!("network configuration: {e}")))?;
    v.get("mtu")
        .and_then(serde_json::Value::as_u64)
        .and_then(|m| u32::try_from(m).ok())
        .ok_or_else(|| Error::msg("network configuration: \"mtu\" (a number) is required"))
}

fn add(container: &Netns, at: Attachment) -> Result<CniResult> {
    let mtu = mtu(&at.config)?;
    let prev = at
        .prev_result
        .ok_or_else(|| Error::msg("a chained plugin: no prevResult to act on"))?;
    Link::from_handle(link::get(container, &at.ifname)?).mtu(mtu)?;
    Ok(prev)
}

fn del(_container: Option<&Netns>, _at: Attachment) -> Result<()> {
    // The interface is the earlier plugin's: it goes with that plugin's DEL.
    Ok(())
}

fn check(container: &Netns, at: Attachment) -> Result<()> {
    let want = mtu(&at.config)?;
    let have = Link::from_handle(link::get(container, &at.ifname)?)
        .info()?
        .mtu;
    if have != want {
        return Err(Error::msg(format!(
            "{} has MTU {have}, not {want}",
            at.ifname
        )));
    }
    Ok(())
}

netwasm_cni_guest::plugin!(add, del, check);
