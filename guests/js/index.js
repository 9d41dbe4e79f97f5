// @netwasm/guest: write netwasm lab scripts in JavaScript.
//
// The same shape as the Rust SDK (guests/netwasm-guest): Namespace and Link
// objects, builders for macvlans, veths, bridges, vxlans, routes and
// programs, Plan for batches, expectations, and one Error class per kind of
// the WIT `error` variant whose message reads like the host's. Wrap the
// world's export with `main` and any throw ends the run as the guest's
// error, with its message (and stack on stderr):
//
//   import { Namespace, main } from '@netwasm/guest';
//
//   export const run = main((args) => {
//     const host = Namespace.create(`${args[0]}-host`);
//     host.bridge('br0').addr('10.0.0.1/24').up();
//   });
//
// Built with componentize-js by `netwasm-componentize` (bin/), which
// resolves this module for it and uses the WIT shipped in wit/.

import * as namespace from 'netwasm:lab/namespace@0.1.0';
import * as link from 'netwasm:lab/link@0.1.0';
import * as addr from 'netwasm:lab/addr@0.1.0';
import * as route from 'netwasm:lab/route@0.1.0';
import * as probe from 'netwasm:lab/probe@0.1.0';
import * as verify from 'netwasm:lab/verify@0.1.0';
import * as batch from 'netwasm:lab/batch@0.1.0';
import * as proc from 'netwasm:lab/process@0.1.0';

/** The WIT package this SDK is written for, and its version. */
export const WIT_PACKAGE = 'netwasm:lab@0.1.0';
export const VERSION = '0.1.0';

/** The raw bindings, for what the SDK does not wrap. */
export const raw = { namespace, link, addr, route, probe, verify, batch, process: proc };

// ---------------------------------------------------------------- errors

/**
 * Why a lab step failed: the base class of one class per case of the WIT
 * `error` variant. `kind` is the case's WIT name (`already-exists`),
 * `detail` the host's line naming the operation and the object, and
 * `message` reads as the Rust SDK and the host put it:
 * `already exists: create namespace "demo-lan": a namespace of that name exists`.
 */
export class LabError extends Error {
  constructor(kind, detail, label = kind.replace(/-/g, ' ')) {
    super(`${label}: ${detail}`);
    this.name = new.target.name;
    this.kind = kind;
    this.detail = detail;
  }
}

export class NotFoundError extends LabError {
  constructor(detail) { super('not-found', detail); }
}
export class AlreadyExistsError extends LabError {
  constructor(detail) { super('already-exists', detail); }
}
export class InvalidArgumentError extends LabError {
  constructor(detail) { super('invalid-argument', detail); }
}
export class BusyError extends LabError {
  constructor(detail) { super('busy', detail); }
}
export class PermissionDeniedError extends LabError {
  constructor(detail) { super('permission-denied', detail); }
}
export class DeniedError extends LabError {
  constructor(detail) { super('denied', detail); }
}
export class LimitReachedError extends LabError {
  constructor(detail) { super('limit-reached', detail); }
}
/**
 * Any other refusal by the kernel. The host's message already names the
 * operation, the errno and the kernel's own words, as `ip` prints them:
 * `kernel: add route 10.10.0.0/16 via 10.99.0.1 in "x": Network is
 * unreachable (ENETUNREACH) (Nexthop has invalid gateway)`.
 */
export class KernelError extends LabError {
  constructor({ errno, message, operation }) {
    super('kernel', message);
    this.errno = errno;
    this.operation = operation;
  }
}

const ERROR_CLASSES = {
  'not-found': NotFoundError,
  'already-exists': AlreadyExistsError,
  'invalid-argument': InvalidArgumentError,
  busy: BusyError,
  'permission-denied': PermissionDeniedError,
  denied: DeniedError,
  'limit-reached': LimitReachedError,
  kernel: KernelError,
};

/** The LabError for a WIT `error` value (`{ tag, val }`). */
export function fromWit(variant) {
  const Class = ERROR_CLASSES[variant.tag];
  if (!Class) return new LabError(String(variant.tag), JSON.stringify(variant.val));
  return new Class(variant.val);
}

// componentize-js throws a failed import's `err` as an Error whose
// `payload` is the WIT variant; every SDK call goes through `lab` so that
// what the script catches is a LabError with a message that reads.
function lab(f) {
  try {
    return f();
  } catch (e) {
    const v = e !== null && typeof e === 'object' && 'payload' in e ? e.payload : undefined;
    if (v !== null && typeof v === 'object' && typeof v.tag === 'string') throw fromWit(v);
    throw e;
  }
}

// --------------------------------------------------------------- enums

function enumOf(name, values) {
  const e = {};
  for (const v of values) {
    e[v.replace(/(^|-)([a-z0-9])/g, (_, __, c) => c.toUpperCase())] = v;
  }
  Object.defineProperty(e, 'values', { value: Object.freeze([...values]) });
  Object.defineProperty(e, 'typeName', { value: name });
  return Object.freeze(e);
}

/** Macvlan modes: `MacvlanMode.Bridge` is `'bridge'`; either is accepted. */
export const MacvlanMode = enumOf('macvlan mode', ['private', 'vepa', 'bridge', 'passthru', 'source']);
/** Signals a guest may send to its programs. */
export const Signal = enumOf('signal', ['term', 'kill', 'int', 'hup', 'usr1', 'usr2']);

// A wrong name fails here, readably, rather than deep in the bindings.
function checkEnum(e, value) {
  if (e.values.includes(value)) return value;
  const shown = typeof value === 'string' ? `'${value}'` : String(value);
  throw new InvalidArgumentError(
    `${e.typeName} ${shown} is not one of ${e.values.map((v) => `'${v}'`).join(', ')}`,
  );
}

function handleOf(ns) {
  return ns instanceof Namespace ? ns.handle : ns;
}

// ----------------------------------------------------------- namespaces

/** A network namespace the script holds. */
export class Namespace {
  /** Wraps a raw `netns` handle (such as a CNI plugin's container). */
  constructor(handle) {
    this.handle = handle;
  }

  /** Creates a new namespace. */
  static create(name) {
    return new Namespace(lab(() => namespace.create(name)));
  }

  /**
   * Creates several namespaces at once, all or nothing, concurrently on
   * the host; the handles come back in the order of `names`.
   */
  static createAll(names) {
    return lab(() => namespace.createAll([...names])).map((h) => new Namespace(h));
  }

  /**
   * Builds many namespaces, each with its links, addresses and routes
   * (a `Plan` each), in one call, all or nothing: see `Plan`.
   */
  static buildAll(plans) {
    const vxlans = plans.flatMap((p) => p.vxlans);
    const specs = plans.map((p) => p.spec);
    const built = lab(() => (vxlans.length === 0 ? batch.build(specs) : batch.buildWithVxlans(specs, vxlans)));
    return built.map((h) => new Namespace(h));
  }

  /** Opens an existing namespace (created earlier, or granted). */
  static open(name) {
    return new Namespace(lab(() => namespace.open(name)));
  }

  /** Opens the root namespace (only when the policy grants root links). */
  static root() {
    return new Namespace(lab(() => namespace.root()));
  }

  /** The names of the namespaces the script may see. */
  static list() {
    return lab(() => namespace.list());
  }

  /** The namespace's name. */
  get name() {
    return this.handle.name();
  }

  /** Deletes the namespace and everything in it. */
  delete() {
    lab(() => namespace.delete(this.handle));
  }

  /** An existing link here, by name. */
  link(name) {
    return new Link(lab(() => link.get(this.handle, name)));
  }

  /** Sets the loopback link up (a new namespace's `lo` is down). */
  loUp() {
    this.link('lo').up();
    return this;
  }

  /** The facts about every link here. */
  links() {
    return lab(() => link.list(this.handle));
  }

  /** Creates a Linux bridge here. */
  bridge(name) {
    return new Link(lab(() => link.addBridge(this.handle, name)));
  }

  /** Creates a veth pair, `name` here and `peerName` in `peerNs`: [here, there]. */
  veth(name, peerNs, peerName) {
    const [a, b] = lab(() => link.addVeth(this.handle, name, handleOf(peerNs), peerName));
    return [new Link(a), new Link(b)];
  }

  /** Starts a vxlan here with VNI `id`; give it a remote, then `create()`. */
  vxlan(name, id) {
    return new Vxlan(this, name, id);
  }

  /** Starts a macvlan on the link called `parent` here. */
  macvlanOn(parent, name) {
    return new Macvlan({ ns: this, parent }, name);
  }

  /** Adds a default route via `gateway`. */
  defaultRoute(gateway) {
    this.route('default').via(gateway).add();
    return this;
  }

  /** Starts a route to `destination` (a prefix, an address, or `default`). */
  route(destination) {
    return new Route(this, destination);
  }

  /** The routes of the main table. */
  routes() {
    return lab(() => route.list(this.handle));
  }

  /** Turns IP forwarding on or off here. */
  forwarding(on) {
    lab(() => this.handle.setForwarding(on));
    return this;
  }

  /**
   * Pings `to` from here: `count` requests 100 ms apart, waiting up to
   * `timeoutMs` after the last. Loss shows in `received`, not as an error.
   */
  ping(to, count = 1, timeoutMs = 1000) {
    return lab(() => probe.ping(this.handle, to, count, timeoutMs));
  }

  /** This namespace's ARP and NDP entries. */
  neighbors() {
    return lab(() => probe.neighbors(this.handle));
  }

  /** States that `to` must answer pings from here (checked by `check()` or at the end). */
  expectReachable(to, label = '') {
    lab(() => verify.expect(this.handle, to, true, label));
    return this;
  }

  /** States that `to` must not answer pings from here. */
  expectUnreachable(to, label = '') {
    lab(() => verify.expect(this.handle, to, false, label));
    return this;
  }

  /**
   * A program to run here: `argv[0]` must be in the policy's `[exec]
   * commands`; no shell, an empty environment unless `env` sets some.
   */
  spawn(argv) {
    return new Spawn(this, argv);
  }
}

/**
 * Checks every pending expectation now (netwasm prints the matrix) and
 * returns the outcomes. Unmet ones still fail the run when it ends.
 */
export function check() {
  return lab(() => verify.check());
}

/** `probe.ping` from `ns` (a Namespace or a raw handle). */
export function ping(ns, to, count = 1, timeoutMs = 1000) {
  return lab(() => probe.ping(handleOf(ns), to, count, timeoutMs));
}

// ---------------------------------------------------------------- links

/** A link the script holds; it follows the link when it is moved. */
export class Link {
  constructor(handle) {
    this.handle = handle;
  }

  get name() {
    return this.handle.name();
  }

  /** The name of the namespace the link is in. */
  get namespace() {
    return this.handle.namespace();
  }

  /** The kernel's current facts about the link. */
  info() {
    return lab(() => this.handle.info());
  }

  /** The link's vxlan tunnel; undefined when it is not a vxlan. */
  vxlanInfo() {
    return lab(() => this.handle.vxlanInfo());
  }

  up() {
    lab(() => this.handle.setUp());
    return this;
  }

  down() {
    lab(() => this.handle.setDown());
    return this;
  }

  mtu(mtu) {
    lab(() => this.handle.setMtu(mtu));
    return this;
  }

  mac(mac) {
    lab(() => this.handle.setMac(mac));
    return this;
  }

  /** Makes this link a port of `bridge`. */
  master(bridge) {
    lab(() => this.handle.setMaster(bridge.handle));
    return this;
  }

  nomaster() {
    lab(() => this.handle.unsetMaster());
    return this;
  }

  /** Hairpin mode on a bridge port. */
  hairpin(on) {
    lab(() => this.handle.setHairpin(on));
    return this;
  }

  /** Moves the link to `ns`, optionally renaming it (slow: prefer creating it there). */
  moveTo(ns, newName = undefined) {
    lab(() => this.handle.moveTo(handleOf(ns), newName));
    return this;
  }

  delete() {
    lab(() => link.delete(this.handle));
  }

  /** Adds an address, `172.16.10.5/24` or `fd00::5/64`. */
  addr(cidr) {
    lab(() => addr.add(this.handle, cidr));
    return this;
  }

  delAddr(cidr) {
    lab(() => addr.delete(this.handle, cidr));
    return this;
  }

  addrs() {
    return lab(() => addr.list(this.handle));
  }

  /** Starts a macvlan child of this link. */
  macvlan(name) {
    return new Macvlan({ link: this }, name);
  }
}

/** A macvlan to create: `parent.macvlan('mv0').mode('bridge').inNamespace(ns).create()`. */
export class Macvlan {
  constructor(parent, name) {
    this.parent = parent;
    this.config = { name, mode: undefined, mac: undefined, mtu: undefined };
    this.target = undefined;
  }

  /** The mode (`'bridge'` or `MacvlanMode.Bridge`); the kernel's default is vepa. */
  mode(mode) {
    this.config.mode = checkEnum(MacvlanMode, mode);
    return this;
  }

  mac(mac) {
    this.config.mac = mac;
    return this;
  }

  mtu(mtu) {
    this.config.mtu = mtu;
    return this;
  }

  /** Creates it directly in `ns` (a Namespace or a raw handle), not next to its parent. */
  inNamespace(ns) {
    this.target = handleOf(ns);
    return this;
  }

  create() {
    const { parent, config, target } = this;
    const h = parent.link
      ? lab(() => link.addMacvlan(parent.link.handle, config, target))
      : lab(() => link.addMacvlanOn(parent.ns.handle, parent.parent, config, target));
    return new Link(h);
  }
}

function vxlanConfig(id, config = {}) {
  return {
    id,
    local: config.local,
    remote: config.remote,
    group: config.group,
    device: config.device,
    port: config.port,
    learning: config.learning,
    ttl: config.ttl,
  };
}

/** A vxlan to create: `ns.vxlan('vx0', 42).remote('10.99.0.2').device('eth0').create()`. */
export class Vxlan {
  constructor(ns, name, id) {
    this.ns = ns;
    this.name = name;
    this.config = vxlanConfig(id);
  }

  remote(addr) { this.config.remote = addr; return this; }
  group(addr) { this.config.group = addr; return this; }
  local(addr) { this.config.local = addr; return this; }
  device(linkName) { this.config.device = linkName; return this; }
  port(port) { this.config.port = port; return this; }
  learning(on) { this.config.learning = on; return this; }
  ttl(ttl) { this.config.ttl = ttl; return this; }

  create() {
    return new Link(lab(() => link.addVxlan(this.ns.handle, this.name, this.config)));
  }
}

/** A route to add or delete: `ns.route('10.0.0.0/8').via('172.16.10.1').add()`. */
export class Route {
  constructor(ns, destination) {
    this.ns = ns;
    this.spec = { destination, gateway: undefined, metric: undefined };
    this.link = undefined;
  }

  via(gateway) { this.spec.gateway = gateway; return this; }
  dev(l) { this.link = l; return this; }
  metric(metric) { this.spec.metric = metric; return this; }

  add() {
    lab(() => route.add(this.ns.handle, this.spec, this.link?.handle));
  }

  delete() {
    lab(() => route.delete(this.ns.handle, this.spec, this.link?.handle));
  }
}

// ---------------------------------------------------------------- plans

/**
 * One namespace for `Namespace.buildAll` and what goes in it. The host
 * does the steps in this order, whatever order they are given in: the
 * namespace, its links, its vxlans, `up`, addresses, routes. Links are
 * named: `lo`, or a link the plan creates.
 */
export class Plan {
  constructor(name) {
    this.spec = { name, links: [], up: [], addresses: [], routes: [] };
    this.vxlans = [];
  }

  get name() {
    return this.spec.name;
  }

  /** A macvlan `name` in mode `mode` here, on link `parent` of namespace `parentNs`. */
  macvlan(parentNs, parent, name, mode) {
    return this.macvlanWith(parentNs, parent, { name, mode: checkEnum(MacvlanMode, mode) });
  }

  /** A macvlan with every setting given: `{ name, mode, mac, mtu }`. */
  macvlanWith(parentNs, parent, { name, mode, mac, mtu }) {
    const config = {
      name,
      mode: mode === undefined ? undefined : checkEnum(MacvlanMode, mode),
      mac,
      mtu,
    };
    this.spec.links.push({ tag: 'macvlan', val: { parentNamespace: parentNs, parent, config } });
    return this;
  }

  /** A vxlan `name` here, made after the plan's other links: `{ id, remote, device, ... }`. */
  vxlan(name, config) {
    this.vxlans.push({ namespace: this.spec.name, name, config: vxlanConfig(config.id, config) });
    return this;
  }

  /** A Linux bridge `name` here. */
  bridge(name) {
    this.spec.links.push({ tag: 'bridge', val: name });
    return this;
  }

  /** Sets `linkName` administratively up. */
  up(linkName) {
    this.spec.up.push(linkName);
    return this;
  }

  /** Adds address `cidr` to `linkName`. */
  addr(linkName, cidr) {
    this.spec.addresses.push({ link: linkName, cidr });
    return this;
  }

  defaultRoute(gateway) {
    return this.route('default', gateway);
  }

  /** A route to `destination` via `gateway`, out of `dev`, or both. */
  route(destination, gateway = undefined, dev = undefined, metric = undefined) {
    this.spec.routes.push({ route: { destination, gateway, metric }, dev });
    return this;
  }
}

// ------------------------------------------------------------ programs

/** A program to start: `ns.spawn(['wget', '-qO-', url]).env('HOME', '/').start()`. */
export class Spawn {
  constructor(ns, argv) {
    this.ns = ns;
    this.command = { argv: [...argv], env: [], stdin: undefined };
  }

  env(name, value) {
    this.command.env.push([name, value]);
    return this;
  }

  /** Bytes (or a string, as UTF-8) for its standard input. */
  stdin(data) {
    this.command.stdin = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    return this;
  }

  start() {
    return new Process(lab(() => proc.start(this.ns.handle, this.command)));
  }
}

/** A program this guest started. Dropping it leaves it running. */
export class Process {
  constructor(handle) {
    this.handle = handle;
  }

  get pid() {
    return this.handle.pid();
  }

  /**
   * Waits up to `timeoutMs` for it to end: undefined while it runs, else
   * `{ tag: 'exited', val: code }` or `{ tag: 'signaled', val: signal }`.
   */
  wait(timeoutMs) {
    return lab(() => this.handle.wait(timeoutMs));
  }

  /** Takes what it wrote to stdout since the last call: `{ data, dropped, closed }`. */
  stdout() {
    return this.handle.readStdout();
  }

  stderr() {
    return this.handle.readStderr();
  }

  /** Takes its stdout so far as text. */
  stdoutText() {
    return new TextDecoder().decode(this.stdout().data);
  }

  stderrText() {
    return new TextDecoder().decode(this.stderr().data);
  }

  signal(sig) {
    lab(() => this.handle.signal(checkEnum(Signal, sig)));
  }
}

// ------------------------------------------------------------- the run

/**
 * What `e` says, on one line: a LabError's message as it is, another
 * Error's as `Name: message` (as Node prints an uncaught one), a string as
 * it is, anything else as JSON where it can be.
 */
export function describe(e) {
  if (e instanceof LabError) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  if (typeof e === 'string') return e;
  const v = e !== null && typeof e === 'object' && 'payload' in e ? e.payload : undefined;
  if (v !== null && typeof v === 'object' && typeof v.tag === 'string') return fromWit(v).message;
  if (e === undefined || e === null || typeof e !== 'object') return String(e);
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

// SpiderMonkey writes `fn@file:line:col`; shown as `    at fn (file:line:col)`,
// as people read stacks, leaving out this module's own frames.
function stackLines(e) {
  if (!(e instanceof Error) || typeof e.stack !== 'string') return [];
  return e.stack
    .split('\n')
    // Not this module's frames, nor componentize-js's glue (initializer.js).
    .filter((l) => l.trim() !== '' && !/(@netwasm\/guest|guests\/js)\/index\.js:|\/\.netwasm-guest\.js:|\/initializer\.js:/.test(l))
    // netwasm-componentize builds the entry as a hidden copy beside it.
    .map((l) => l.replace(/(^|[@/])\.([^/]+?)\.netwasm-build\.js:/, '$1$2:'))
    .map((l) => {
      const m = /^(.*)@(.*)$/.exec(l);
      if (!m) return `    ${l.trim()}`;
      // SpiderMonkey names an arrow function after its place: `run/<`, `run<`.
      const name = m[1].replace(/[/<]+$/, '');
      return name ? `    at ${name} (${m[2]})` : `    at ${m[2]}`;
    });
}

/**
 * Wraps the world's `run`: `export const run = main((args) => { ... })`.
 * Whatever `f` throws (a LabError, an Error, a string, anything) ends the
 * run as the guest's error (netwasm exits 1) with `describe(e)` as its
 * message; an Error's stack goes to stderr first.
 */
export function main(f) {
  return function run(args) {
    try {
      f(args);
    } catch (e) {
      const lines = stackLines(e);
      if (lines.length > 0) console.error(`${describe(e)}\n${lines.join('\n')}`);
      // componentize-js makes `err` of a thrown string; anything else
      // would trap ("expected a string, received [object]").
      throw describe(e);
    }
  };
}
