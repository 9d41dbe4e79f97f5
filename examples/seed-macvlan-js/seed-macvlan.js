// The seed macvlan lab (see examples/seed-macvlan/src/lib.rs), in JavaScript.
//
//   PREFIX-test   test_server 10.20.30.10/24, default via 10.20.30.1
//       | veth
//   PREFIX-lan    the upstream switch (bridge br0) and the subnet's router:
//                 172.16.10.1/24 on br0, 10.20.30.1/24 towards test_server
//       | veth (PREFIX-net1's eth0 <-> port "net1" of br0)
//   PREFIX-net1   the Docker host: eth0 172.16.10.2/24, default via .1
//       +-- macvlan1 (child of eth0) in PREFIX-ns1: 172.16.10.5/24
//       +-- macvlan2 (child of eth0) in PREFIX-ns2: 172.16.10.6/24
//
// Arguments: `up PREFIX [vepa|bridge]` builds and checks it; `down PREFIX`
// removes it. Built with componentize-js: see README.md.

import * as namespace from 'netwasm:lab/namespace@0.1.0';
import * as link from 'netwasm:lab/link@0.1.0';
import * as addr from 'netwasm:lab/addr@0.1.0';
import * as route from 'netwasm:lab/route@0.1.0';
import * as verify from 'netwasm:lab/verify@0.1.0';

const USAGE = 'usage: up PREFIX [vepa|bridge] | down PREFIX';
const NAMESPACES = ['ns1', 'ns2', 'net1', 'test', 'lan'];

// A failed import call throws; the WIT `error` variant ({ tag, val }) is
// the exception's payload.
function labError(e) {
  return e && typeof e === 'object' && 'payload' in e ? e.payload : e;
}

function describe(e) {
  const err = labError(e);
  if (err && typeof err === 'object' && 'tag' in err) {
    if (err.tag === 'kernel') return `kernel error: ${err.val.message}`;
    return `${err.tag.replace('-', ' ')}: ${err.val}`;
  }
  return String(err && err.message ? err.message : err);
}

function newNs(name) {
  const ns = namespace.create(name);
  link.get(ns, 'lo').setUp();
  return ns;
}

function upWith(l, cidr) {
  addr.add(l, cidr);
  l.setUp();
  return l;
}

function defaultRoute(ns, gateway) {
  route.add(ns, { destination: 'default', gateway, metric: undefined }, undefined);
}

function up(prefix, mode) {
  // The "physical" network: a switch with the subnet's gateway on it.
  const lan = newNs(`${prefix}-lan`);
  lan.setForwarding(true);
  const sw = upWith(link.addBridge(lan, 'br0'), '172.16.10.1/24');

  // The chapter's test_server, on another subnet behind the router.
  const test = newNs(`${prefix}-test`);
  const [uplink, server] = link.addVeth(lan, 'test', test, 'eth0');
  upWith(uplink, '10.20.30.1/24');
  upWith(server, '10.20.30.10/24');
  defaultRoute(test, '10.20.30.1');

  // The Docker host, cabled to the switch.
  const net1 = newNs(`${prefix}-net1`);
  const [eth0, port] = link.addVeth(net1, 'eth0', lan, 'net1');
  port.setMaster(sw);
  port.setUp();
  upWith(eth0, '172.16.10.2/24');
  defaultRoute(net1, '172.16.10.1');

  // Two macvlan children of eth0, each created directly in its namespace.
  const children = [];
  for (const [n, ip] of [[1, '172.16.10.5/24'], [2, '172.16.10.6/24']]) {
    const ns = newNs(`${prefix}-ns${n}`);
    const config = { name: `macvlan${n}`, mode, mac: undefined, mtu: undefined };
    const child = upWith(link.addMacvlan(eth0, config, ns), ip);
    const info = child.info();
    console.log(`${ns.name()}: macvlan${n} ${ip} mode ${info.macvlanMode ?? mode} on ${info.parentName} in ${info.parentNamespace}`);
    children.push(ns);
  }

  // Without default routes the children answer their own subnet only.
  verify.expect(test, '172.16.10.2', true, 'test_server to the host');
  verify.expect(test, '172.16.10.5', false, 'no default route in ns1 yet');
  verify.expect(test, '172.16.10.6', false, 'no default route in ns2 yet');
  verify.check();

  for (const ns of children) defaultRoute(ns, '172.16.10.1');
  const [ns1, ns2] = children;
  verify.expect(test, '172.16.10.5', true, 'default route in ns1');
  verify.expect(test, '172.16.10.6', true, 'default route in ns2');
  verify.expect(lan, '172.16.10.2', true, 'gateway to the host');
  verify.expect(lan, '172.16.10.5', true, 'gateway to macvlan1');
  verify.expect(lan, '172.16.10.6', true, 'gateway to macvlan2');
  if (mode === 'bridge') {
    verify.expect(ns1, '172.16.10.6', true, 'bridge mode: siblings talk');
  } else {
    verify.expect(ns1, '172.16.10.6', false, 'vepa: siblings cannot talk');
  }
  verify.expect(ns1, '172.16.10.2', false, "a child never reaches its parent's address");
  verify.expect(ns2, '172.16.10.2', false, "a child never reaches its parent's address");
}

function down(prefix) {
  // Children first; a namespace already gone is fine.
  for (const suffix of NAMESPACES) {
    let ns;
    try {
      ns = namespace.open(`${prefix}-${suffix}`);
    } catch (e) {
      if (labError(e)?.tag === 'not-found') continue;
      throw e;
    }
    namespace.delete(ns);
  }
}

// The world's export. Throwing makes `run` return `err`: the message is
// what netwasm shows.
export function run(args) {
  try {
    const [cmd, prefix, mode, ...rest] = args;
    if (cmd === 'up' && prefix && rest.length === 0 && (mode === undefined || mode === 'vepa' || mode === 'bridge')) {
      return up(prefix, mode ?? 'vepa');
    }
    if (cmd === 'down' && prefix && mode === undefined) return down(prefix);
  } catch (e) {
    throw describe(e);
  }
  throw USAGE;
}
