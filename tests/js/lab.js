// The guest of tests/languages.rs's JavaScript SDK tests, built from the
// packed @netwasm/guest in a project outside the checkout. `COMMAND PREFIX`:
//   ok      two namespaces on a veth, a Plan, expectations, a ping
//   throw   an uncaught Error from a nested call
//   enum    a macvlan mode given as 'Bridge'
//   kernel  a route via an off-link gateway (ENETUNREACH)
//   exists  a namespace created twice
//   catch   LabErrors caught by class, then a string thrown
//   object  an object thrown

import { AlreadyExistsError, LabError, Namespace, Plan, check, main } from '@netwasm/guest';

function lan(prefix) {
  const a = Namespace.create(`${prefix}-a`).loUp();
  const b = Namespace.create(`${prefix}-b`).loUp();
  const [pa, pb] = a.veth('p0', b, 'p0');
  pa.addr('10.9.0.1/24').up();
  pb.addr('10.9.0.2/24').up();
  return [a, b];
}

function nested() {
  throw new Error('boom from the guest');
}

export const run = main(([cmd, prefix]) => {
  switch (cmd) {
    case 'ok': {
      const [a] = lan(prefix);
      const [c] = Namespace.buildAll([new Plan(`${prefix}-c`).bridge('br0').up('lo').up('br0').addr('br0', '10.8.0.1/24')]);
      a.expectReachable('10.9.0.2', 'the peer answers');
      a.expectUnreachable('10.7.0.1', 'no route there');
      const outcomes = check();
      const p = a.ping('10.9.0.2', 2, 1000);
      console.log(`${c.name}: ${c.links().map((l) => l.name).join(',')}`);
      console.log(`ping: ${p.received}/${p.sent}; ${outcomes.filter((o) => o.expected === o.actual).length} of ${outcomes.length} met`);
      return;
    }
    case 'throw':
      nested();
      return;
    case 'enum': {
      const ns = Namespace.create(`${prefix}-e`);
      ns.bridge('br0').macvlan('mv0').mode('Bridge').create();
      return;
    }
    case 'kernel': {
      const [a] = lan(prefix);
      a.route('10.10.0.0/16').via('10.99.0.1').add();
      return;
    }
    case 'exists':
      Namespace.create(`${prefix}-x`);
      Namespace.create(`${prefix}-x`);
      return;
    case 'catch': {
      Namespace.create(`${prefix}-x`);
      try {
        Namespace.create(`${prefix}-x`);
      } catch (e) {
        const ok = e instanceof AlreadyExistsError && e instanceof LabError && e instanceof Error;
        console.log(`caught ${e.name} (${e.kind}) ${ok}: ${e.message}`);
      }
      throw 'a plain string';
    }
    case 'object':
      throw { what: 'an object' };
    default:
      throw `unknown command ${cmd}`;
  }
});
