"""The seed macvlan lab (see examples/seed-macvlan/src/lib.rs), in Python,
with the Python SDK (guests/python, package `netwasm`).

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

import netwasm
from netwasm import Namespace, NotFoundError, ScriptError

USAGE = "usage: up PREFIX [vepa|bridge] | down PREFIX"
NAMESPACES = ["ns1", "ns2", "net1", "test", "lan"]


def new_ns(name: str) -> Namespace:
    return Namespace.create(name).lo_up()


def up(prefix: str, mode: str) -> None:
    # The "physical" network: a switch with the subnet's gateway on it.
    lan = new_ns(f"{prefix}-lan").forwarding(True)
    switch = lan.bridge("br0").addr("172.16.10.1/24").up()

    # The chapter's test_server, on another subnet behind the router.
    test = new_ns(f"{prefix}-test")
    uplink, server = lan.veth("test", test, "eth0")
    uplink.addr("10.20.30.1/24").up()
    server.addr("10.20.30.10/24").up()
    test.default_route("10.20.30.1")

    # The Docker host, cabled to the switch.
    net1 = new_ns(f"{prefix}-net1")
    eth0, port = net1.veth("eth0", lan, "net1")
    port.master(switch).up()
    eth0.addr("172.16.10.2/24").up()
    net1.default_route("172.16.10.1")

    # Two macvlan children of eth0, each created directly in its namespace
    # (the mode by name: "vepa" or "bridge").
    children = []
    for n, ip in [(1, "172.16.10.5/24"), (2, "172.16.10.6/24")]:
        ns = new_ns(f"{prefix}-ns{n}")
        child = eth0.macvlan(f"macvlan{n}", mode=mode, namespace=ns).addr(ip).up()
        info = child.info()
        shown = info.macvlan_mode.name.lower() if info.macvlan_mode else mode
        print(f"{ns.name}: macvlan{n} {ip} mode {shown} on {info.parent_name} in {info.parent_namespace}")
        children.append(ns)

    # Without default routes the children answer their own subnet only.
    test.expect_reachable("172.16.10.2", "test_server to the host")
    test.expect_unreachable("172.16.10.5", "no default route in ns1 yet")
    test.expect_unreachable("172.16.10.6", "no default route in ns2 yet")
    netwasm.check()

    for ns in children:
        ns.default_route("172.16.10.1")
    ns1, ns2 = children
    test.expect_reachable("172.16.10.5", "default route in ns1")
    test.expect_reachable("172.16.10.6", "default route in ns2")
    lan.expect_reachable("172.16.10.2", "gateway to the host")
    lan.expect_reachable("172.16.10.5", "gateway to macvlan1")
    lan.expect_reachable("172.16.10.6", "gateway to macvlan2")
    if mode == "bridge":
        ns1.expect_reachable("172.16.10.6", "bridge mode: siblings talk")
    else:
        ns1.expect_unreachable("172.16.10.6", "vepa: siblings cannot talk")
    ns1.expect_unreachable("172.16.10.2", "a child never reaches its parent's address")
    ns2.expect_unreachable("172.16.10.2", "a child never reaches its parent's address")


def down(prefix: str) -> None:
    # Children first; a namespace already gone is fine.
    for suffix in NAMESPACES:
        try:
            ns = Namespace.open(f"{prefix}-{suffix}")
        except NotFoundError:
            continue
        ns.delete()


def run(args: list[str]) -> None:
    match args:
        case ["up", prefix]:
            up(prefix, "vepa")
        case ["up", prefix, ("vepa" | "bridge") as mode]:
            up(prefix, mode)
        case ["down", prefix]:
            down(prefix)
        case _:
            raise ScriptError(USAGE)


WitWorld = netwasm.main(run)
