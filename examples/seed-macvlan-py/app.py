"""The seed macvlan lab (see examples/seed-macvlan/src/lib.rs), in Python.

    PREFIX-test   test_server 10.20.30.10/24, default via 10.20.30.1
        | veth
    PREFIX-lan    the upstream switch (bridge br0) and the subnet's router:
                  172.16.10.1/24 on br0, 10.20.30.1/24 towards test_server
        | veth (PREFIX-net1's eth0 <-> port "net1" of br0)
    PREFIX-net1   the Docker host: eth0 172.16.10.2/24, default via .1
        +-- macvlan1 (child of eth0) in PREFIX-ns1: 172.16.10.5/24
        +-- macvlan2 (child of eth0) in PREFIX-ns2: 172.16.10.6/24

Arguments: `up PREFIX [vepa|bridge]` builds and checks it; `down PREFIX`
removes it. Built with componentize-py: see README.md.
"""

import wit_world
from wit_world.imports import addr, link, namespace, route, verify
from wit_world.imports.link import MacvlanConfig, MacvlanMode
from wit_world.imports.route import RouteSpec
from wit_world.imports.types import Error_NotFound, Error_Kernel
from componentize_py_types import Err

USAGE = "usage: up PREFIX [vepa|bridge] | down PREFIX"
NAMESPACES = ["ns1", "ns2", "net1", "test", "lan"]
MODES = {"vepa": MacvlanMode.VEPA, "bridge": MacvlanMode.BRIDGE}


class LabError(Exception):
    pass


def describe(err: Err) -> str:
    """One line for a netwasm error, as the Rust SDK prints it."""
    e = err.value
    if isinstance(e, Error_Kernel):
        return f"kernel error: {e.value.message}"
    kind = type(e).__name__.removeprefix("Error_")
    words = "".join(" " + c.lower() if c.isupper() else c for c in kind).strip()
    return f"{words}: {e.value}"


def new_ns(name: str) -> namespace.Netns:
    ns = namespace.create(name)
    link.get(ns, "lo").set_up()
    return ns


def up_with(l: link.Link, cidr: str) -> link.Link:
    addr.add(l, cidr)
    l.set_up()
    return l


def default_route(ns: namespace.Netns, gateway: str) -> None:
    route.add(ns, RouteSpec(destination="default", gateway=gateway, metric=None), None)


def expect(ns: namespace.Netns, to: str, reachable: bool, label: str) -> None:
    verify.expect(ns, to, reachable, label)


def up(prefix: str, mode: MacvlanMode) -> None:
    # The "physical" network: a switch with the subnet's gateway on it.
    lan = new_ns(f"{prefix}-lan")
    lan.set_forwarding(True)
    switch = up_with(link.add_bridge(lan, "br0"), "172.16.10.1/24")

    # The chapter's test_server, on another subnet behind the router.
    test = new_ns(f"{prefix}-test")
    uplink, server = link.add_veth(lan, "test", test, "eth0")
    up_with(uplink, "10.20.30.1/24")
    up_with(server, "10.20.30.10/24")
    default_route(test, "10.20.30.1")

    # The Docker host, cabled to the switch.
    net1 = new_ns(f"{prefix}-net1")
    eth0, port = link.add_veth(net1, "eth0", lan, "net1")
    port.set_master(switch)
    port.set_up()
    up_with(eth0, "172.16.10.2/24")
    default_route(net1, "172.16.10.1")

    # Two macvlan children of eth0, each created directly in its namespace.
    children = []
    for n, ip in [(1, "172.16.10.5/24"), (2, "172.16.10.6/24")]:
        ns = new_ns(f"{prefix}-ns{n}")
        config = MacvlanConfig(name=f"macvlan{n}", mode=mode, mac=None, mtu=None)
        child = up_with(link.add_macvlan(eth0, config, ns), ip)
        info = child.info()
        shown = (info.macvlan_mode or mode).name.lower()
        print(f"{ns.name()}: macvlan{n} {ip} mode {shown} on {info.parent_name} in {info.parent_namespace}")
        children.append(ns)

    # Without default routes the children answer their own subnet only.
    expect(test, "172.16.10.2", True, "test_server to the host")
    expect(test, "172.16.10.5", False, "no default route in ns1 yet")
    expect(test, "172.16.10.6", False, "no default route in ns2 yet")
    verify.check()

    for ns in children:
        default_route(ns, "172.16.10.1")
    ns1, ns2 = children
    expect(test, "172.16.10.5", True, "default route in ns1")
    expect(test, "172.16.10.6", True, "default route in ns2")
    expect(lan, "172.16.10.2", True, "gateway to the host")
    expect(lan, "172.16.10.5", True, "gateway to macvlan1")
    expect(lan, "172.16.10.6", True, "gateway to macvlan2")
    if mode == MacvlanMode.BRIDGE:
        expect(ns1, "172.16.10.6", True, "bridge mode: siblings talk")
    else:
        expect(ns1, "172.16.10.6", False, "vepa: siblings cannot talk")
    expect(ns1, "172.16.10.2", False, "a child never reaches its parent's address")
    expect(ns2, "172.16.10.2", False, "a child never reaches its parent's address")


def down(prefix: str) -> None:
    # Children first; a namespace already gone is fine.
    for suffix in NAMESPACES:
        try:
            ns = namespace.open(f"{prefix}-{suffix}")
        except Err as e:
            if isinstance(e.value, Error_NotFound):
                continue
            raise
        namespace.delete(ns)


class WitWorld(wit_world.WitWorld):
    def run(self, args: list[str]) -> None:
        try:
            match args:
                case ["up", prefix]:
                    up(prefix, MacvlanMode.VEPA)
                case ["up", prefix, m] if m in MODES:
                    up(prefix, MODES[m])
                case ["down", prefix]:
                    down(prefix)
                case _:
                    raise LabError(USAGE)
        except Err as e:
            raise Err(describe(e))
        except LabError as e:
            raise Err(str(e))
