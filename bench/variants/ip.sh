#!/bin/bash
# The benchmark lab with bash calling `ip` once per step (see bench/README.md).
#   ip.sh up PHY_NS PARENT PREFIX COUNT NET
#   ip.sh down PREFIX COUNT
# Each macvlan is created directly in its namespace (`link add ... netns NS`),
# the fast path, so this is bash + ip at its best.
set -euo pipefail
case "$1" in
up)
    phy=$2 parent=$3 prefix=$4 count=$5 net=$6
    for ((i = 0; i < count; i++)); do
        ns=$prefix$i s=$((i / 250)) h=$((i % 250 + 2))
        ip netns add "$ns"
        ip -n "$phy" link add eth0 link "$parent" netns "$ns" type macvlan mode bridge
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
        ip -n "$ns" addr add "$net.$s.$h/24" dev eth0
        ip -n "$ns" route add default via "$net.$s.1"
    done
    ;;
down)
    prefix=$2 count=$3
    for ((i = 0; i < count; i++)); do
        ip netns del "$prefix$i"
    done
    ;;
*)
    echo "usage: $0 up PHY_NS PARENT PREFIX COUNT NET | down PREFIX COUNT" >&2
    exit 2
    ;;
esac
