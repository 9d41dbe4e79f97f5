// The seed macvlan lab (see examples/seed-macvlan/src/lib.rs), in JavaScript,
// with the SDK @netwasm/guest (guests/js).
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
// removes it. Built with build.sh (netwasm-componentize): see README.md.

import { Namespace, NotFoundError, check, main } from '@netwasm/guest';

const USAGE = 'usage: up PREFIX [vepa|bridge] | down PREFIX';
const NAMESPACES = ['ns1', 'ns2', 'net1', 'test', 'lan'];

function up(prefix, mode) {
  // The "physical" network: a switch with the subnet's gateway on it.
  const lan = Namespace.create(`${prefix}-lan`).loUp().forwarding(true);
  const sw = lan.bridge('br0').addr('172.16.10.1/24').up();

  // The chapter's test_server, on another subnet behind the router.
  const test = Namespace.create(`${prefix}-test`).loUp();
  const [uplink, server] = lan.veth('test', test, 'eth0');
  uplink.addr('10.20.30.1/24').up();
  server.addr('10.20.30.10/24').up();
  test.defaultRoute('10.20.30.1');

  // The Docker host, cabled to the switch.
  const net1 = Namespace.create(`${prefix}-net1`).loUp();
  const [eth0, port] = net1.veth('eth0', lan, 'net1');
  port.master(sw).up();
  eth0.addr('172.16.10.2/24').up();
  net1.defaultRoute('172.16.10.1');

  // Two macvlan children of eth0, each created directly in its namespace.
  const children = [];
  for (const [n, ip] of [[1, '172.16.10.5/24'], [2, '172.16.10.6/24']]) {
    const ns = Namespace.create(`${prefix}-ns${n}`).loUp();
    const child = eth0.macvlan(`macvlan${n}`).mode(mode).inNamespace(ns).create();
    child.addr(ip).up();
    const info = child.info();
    console.log(`${ns.name}: macvlan${n} ${ip} mode ${info.macvlanMode ?? mode} on ${info.parentName} in ${info.parentNamespace}`);
    children.push(ns);
  }

  // Without default routes the children answer their own subnet only.
  test.expectReachable('172.16.10.2', 'test_server to the host');
  test.expectUnreachable('172.16.10.5', 'no default route in ns1 yet');
  test.expectUnreachable('172.16.10.6', 'no default route in ns2 yet');
  check();

  for (const ns of children) ns.defaultRoute('172.16.10.1');
  const [ns1, ns2] = children;
  test.expectReachable('172.16.10.5', 'default route in ns1');
  test.expectReachable('172.16.10.6', 'default route in ns2');
  lan.expectReachable('172.16.10.2', 'gateway to the host');
  lan.expectReachable('172.16.10.5', 'gateway to macvlan1');
  lan.expectReachable('172.16.10.6', 'gateway to macvlan2');
  if (mode === 'bridge') {
    ns1.expectReachable('172.16.10.6', 'bridge mode: siblings talk');
  } else {
    ns1.expectUnreachable('172.16.10.6', 'vepa: siblings cannot talk');
  }
  ns1.expectUnreachable('172.16.10.2', "a child never reaches its parent's address");
  ns2.expectUnreachable('172.16.10.2', "a child never reaches its parent's address");
}

function down(prefix) {
  // Children first; a namespace already gone is fine.
  for (const suffix of NAMESPACES) {
    try {
      Namespace.open(`${prefix}-${suffix}`).delete();
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
}

// The world's export. `main` turns whatever is thrown into the run's error
// (exit 1) with its message, and prints an Error's stack.
export const run = main((args) => {
  const [cmd, prefix, mode, ...rest] = args;
  if (cmd === 'up' && prefix && rest.length === 0 && (mode === undefined || mode === 'vepa' || mode === 'bridge')) {
    return up(prefix, mode ?? 'vepa');
  }
  if (cmd === 'down' && prefix && mode === undefined) return down(prefix);
  throw USAGE;
});
