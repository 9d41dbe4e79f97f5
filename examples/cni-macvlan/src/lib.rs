//! The reference CNI `macvlan` plugin, as a netwasm guest: it gives the
//! container a macvlan child of `master` (a link of the namespace netwasm
//! runs in, which the policy's `[root] links` must grant), addressed by the
//! configured IPAM.
//!
//! Configuration keys read (the rest is the host's or the IPAM's):
//!
//! ```json
//! { "master": "eth0", "mode": "bridge", "mtu": 1500, "ipam": { ... } }
//! ```
//!
//! `mode` is one of `bridge` (the default, as in the reference plugin),
//! `private`, `vepa`, `passthru`, `source`; `mtu` defaults to the
//! master's.

mod config;

use netwasm_cni_guest::{Attachment, CniResult, Netns};
use netwasm_guest::bindings::netwasm::lab::{addr, link, route};
use netwasm_guest::{Error, Link, MacvlanConfig, Result, RouteSpec};

use config::Config;

fn add(container: &Netns, at: Attachment) -> Result<CniResult> {
    let conf = Config::parse(&at.config)?;
    let root = netwasm_guest::bindings::netwasm::lab::namespace::root()?;
    let master = link::get(&root, &conf.master)?;
    // Created straight in the container under its final name: the name
    // only has to be free there, so the reference plugin's temporary name
    // (needed because it creates the link next to its master, where
    // `eth0` is usually taken) and the slow move are not needed.
    let config = MacvlanConfig {
        name: at.ifname.clone(),
        mode: Some(conf.mode),
        mac: None,
        mtu: conf.mtu,
    };
    let mv = Link::from_handle(link::add_macvlan(&master, &config, Some(container))?);
    let ipam = match netwasm_cni_guest::ipam_add() {
        Ok(r) => r,
        Err(e) => {
            let _ = mv.delete();
            return Err(e);
        }
    };
    match configure(container, &mv, &at.ifname, ipam) {
        Ok(result) => Ok(result),
        Err(e) => {
            // The host cannot give the addresses back: release them here.
            // The link goes too (the host would also roll it back).
            let _ = netwasm_cni_guest::ipam_del();
            let _ = mv.delete();
            Err(e)
        }
    }
}

/// Puts what IPAM allocated on `mv` and in the container's routing table,
/// and returns the plugin's result.
fn configure(container: &Netns, mv: &Link, ifname: &str, ipam: CniResult) -> Result<CniResult> {
    for ip in &ipam.ips {
        mv.addr(&ip.address)?;
    }
    mv.up()?;
    for r in &ipam.routes {
        // A route without `gw` goes through the gateway of an address of
        // its family, as the reference plugin does; without one it is a
        // route straight out of the link.
        let gateway = r.gw.clone().or_else(|| gateway_for(&ipam, &r.dst));
        let spec = RouteSpec {
            destination: r.dst.clone(),
            gateway,
            metric: None,
        };
        route::add(container, &spec, Some(mv.handle()))?;
    }
    let mut result = CniResult::empty();
    let index = result.interface(ifname, mv.info()?.mac);
    result.ips = ipam.ips;
    result.assign_ips(index);
    result.routes = ipam.routes;
    result.dns = ipam.dns;
    Ok(result)
}

/// The gateway of the first IPAM address of the same family as `dst`.
fn gateway_for(ipam: &CniResult, dst: &str) -> Option<String> {
    let v6 = dst.contains(':');
    ipam.ips
        .iter()
        .filter(|ip| ip.address.contains(':') == v6)
        .find_map(|ip| ip.gateway.clone())
}

fn del(container: Option<&Netns>, at: Attachment) -> Result<()> {
    // Release the addresses first: even if the link cannot be deleted,
    // they must not leak (the reference plugin's order too).
    netwasm_cni_guest::ipam_del()?;
    let Some(container) = container else {
        // The namespace is gone, and the kernel deleted the link with it.
        return Ok(());
    };
    match link::get(container, &at.ifname) {
        Ok(mv) => Ok(link::delete(mv)?),
        // DEL is idempotent: nothing left is success.
        Err(e) if Error::from(e.clone()).is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn check(container: &Netns, at: Attachment) -> Result<()> {
    let conf = Config::parse(&at.config)?;
    netwasm_cni_guest::ipam_check()?;
    let mv = Link::from_handle(link::get(container, &at.ifname)?);
    let info = mv.info()?;
    if info.kind.as_deref() != Some("macvlan") {
        return Err(Error::msg(format!(
            "{} in the container is a {}, not a macvlan",
            at.ifname,
            info.kind.as_deref().unwrap_or("link of no kind")
        )));
    }
    if info.macvlan_mode != Some(conf.mode) {
        return Err(Error::msg(format!(
            "{} is in macvlan mode {:?}, not {:?}",
            at.ifname, info.macvlan_mode, conf.mode
        )));
    }
    if let Some(prev) = &at.prev_result {
        check_prev(&mv, &at.ifname, info.mac.as_deref(), prev)?;
    }
    Ok(())
}

/// Whether what ADD returned (`prevResult`) still holds: the interface's
/// MAC and its addresses.
fn check_prev(mv: &Link, ifname: &str, mac: Option<&str>, prev: &CniResult) -> Result<()> {
    let Some(index) = prev.interfaces.iter().position(|i| i.name == ifname) else {
        return Err(Error::msg(format!("prevResult has no interface {ifname}")));
    };
    let want_mac = prev.interfaces[index].mac.as_deref();
    if want_mac.is_some() && want_mac.map(str::to_lowercase) != mac.map(str::to_lowercase) {
        return Err(Error::msg(format!(
            "{ifname} has MAC {}, not {}",
            mac.unwrap_or("none"),
            want_mac.unwrap_or("none")
        )));
    }
    let have: Vec<String> = addr::list(mv.handle())?
        .iter()
        .map(|a| format!("{}/{}", a.address, a.prefix_len))
        .collect();
    let on_it = prev
        .ips
        .iter()
        .filter(|ip| ip.interface.is_none_or(|i| i as usize == index));
    for ip in on_it {
        if !have.contains(&ip.address) {
            return Err(Error::msg(format!("{ifname} lacks address {}", ip.address)));
        }
    }
    Ok(())
}

netwasm_cni_guest::plugin!(add, del, check);
