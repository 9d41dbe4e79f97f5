// The reference CNI `macvlan` plugin's behaviour as a netwasm guest, in
// JavaScript: the same configuration keys as examples/cni-macvlan (the Rust
// one) and the reference plugin — `master`, `mode` (default bridge), `mtu`,
// `ipam` — and the same result. Built with componentize-js for world
// netwasm:lab/plugin; see build.sh.

import * as namespace from 'netwasm:lab/namespace@0.1.0';
import * as link from 'netwasm:lab/link@0.1.0';
import * as addr from 'netwasm:lab/addr@0.1.0';
import * as route from 'netwasm:lab/route@0.1.0';
import * as cni from 'netwasm:lab/cni@0.1.0';

const MODES = ['bridge', 'private', 'vepa', 'passthru', 'source'];

// A failed import call throws; the WIT `error` variant ({ tag, val }) is
// the exception's payload. Exports report `err` by throwing a string.
function describe(e) {
  const err = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  if (err && typeof err === 'object' && 'tag' in err) {
    if (err.tag === 'kernel') return `kernel error: ${err.val.message}`;
    return `${err.tag.replace('-', ' ')}: ${err.val}`;
  }
  return String(err && err.message ? err.message : err);
}

function isNotFound(e) {
  const err = e && typeof e === 'object' && 'payload' in e ? e.payload : e;
  return err && err.tag === 'not-found';
}

function config(text) {
  const c = JSON.parse(text);
  if (typeof c.master !== 'string' || c.master === '') {
    throw 'network configuration: "master" (the host link to attach to) is required';
  }
  const mode = c.mode === undefined ? 'bridge' : c.mode;
  if (!MODES.includes(mode)) {
    throw `network configuration: "mode" ${JSON.stringify(mode)} is not one of ${MODES.join(', ')}`;
  }
  const mtu = c.mtu ? c.mtu : undefined;
  return { master: c.master, mode, mtu };
}

// The gateway of the first IPAM address of `dst`'s family.
function gatewayFor(ipam, dst) {
  const v6 = dst.includes(':');
  const ip = ipam.ips.find((i) => i.address.includes(':') === v6 && i.gateway !== undefined);
  return ip ? ip.gateway : undefined;
}

export function add(container, at) {
  try {
    const conf = config(at.config);
    const master = link.get(namespace.root(), conf.master);
    // Created straight in the container under its final name.
    const mv = link.addMacvlan(
      master,
      { name: at.ifname, mode: conf.mode, mac: undefined, mtu: conf.mtu },
      container,
    );
    let ipam;
    try {
      ipam = cni.ipamAdd();
    } catch (e) {
      link.delete(mv);
      throw e;
    }
    try {
      for (const ip of ipam.ips) addr.add(mv, ip.address);
      mv.setUp();
      for (const r of ipam.routes) {
        const gateway = r.gw !== undefined ? r.gw : gatewayFor(ipam, r.dst);
        route.add(container, { destination: r.dst, gateway, metric: undefined }, mv);
      }
      return {
        interfaces: [{ name: at.ifname, mac: mv.info().mac, sandbox: undefined }],
        ips: ipam.ips.map((ip) => ({ ...ip, interface: 0 })),
        routes: ipam.routes,
        dns: ipam.dns,
      };
    } catch (e) {
      // The host rolls the link back; the lease only the guest knows of.
      try { cni.ipamDel(); } catch (_) { /* reported below */ }
      try { link.delete(mv); } catch (_) { /* the host undoes it */ }
      throw e;
    }
  } catch (e) {
    throw describe(e);
  }
}

export function del(container, at) {
  try {
    cni.ipamDel();
    if (container === undefined) return;
    try {
      link.delete(link.get(container, at.ifname));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  } catch (e) {
    throw describe(e);
  }
}

export function check(container, at) {
  try {
    const conf = config(at.config);
    cni.ipamCheck();
    const info = link.get(container, at.ifname).info();
    if (info.kind !== 'macvlan') throw `${at.ifname} in the container is not a macvlan`;
    if (info.macvlanMode !== conf.mode) {
      throw `${at.ifname} is in macvlan mode ${info.macvlanMode}, not ${conf.mode}`;
    }
  } catch (e) {
    throw describe(e);
  }
}
