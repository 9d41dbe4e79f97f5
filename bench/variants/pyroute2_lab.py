"""The benchmark lab with pyroute2 (see bench/README.md), written the way
its documentation suggests: `netns.create`, one `IPRoute` in the parent's
namespace creating each macvlan directly in its target namespace
(`net_ns_fd`), and an `IPRoute(netns=...)` per unit for the rest.

    python3 pyroute2_lab.py up PHY_NS PARENT PREFIX COUNT NET
    python3 pyroute2_lab.py down PREFIX COUNT
"""

import sys

from pyroute2 import IPRoute, netns


def up(phy, parent, prefix, count, net):
    with IPRoute(netns=phy, flags=0) as p:
        (parent_index,) = p.link_lookup(ifname=parent)
        for i in range(count):
            name, s, h = f"{prefix}{i}", i // 250, i % 250 + 2
            netns.create(name)
            p.link(
                "add",
                ifname="eth0",
                kind="macvlan",
                link=parent_index,
                macvlan_mode="bridge",
                net_ns_fd=name,
            )
            with IPRoute(netns=name, flags=0) as ns:
                ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
                (eth0,) = ns.link_lookup(ifname="eth0")
                ns.link("set", index=eth0, state="up")
                ns.addr("add", index=eth0, address=f"{net}.{s}.{h}", prefixlen=24)
                ns.route("add", dst="default", gateway=f"{net}.{s}.1")


def down(prefix, count):
    for i in range(count):
        netns.remove(f"{prefix}{i}")


if __name__ == "__main__":
    a = sys.argv[1:]
    if len(a) == 6 and a[0] == "up":
        up(a[1], a[2], a[3], int(a[4]), a[5])
    elif len(a) == 3 and a[0] == "down":
        down(a[1], int(a[2]))
    else:
        sys.exit(__doc__)
