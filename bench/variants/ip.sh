#!/bin/bash
# The benchmark lab with bash calling `ip` once per step (see bench/README.md).
#   ip.sh up PHY_NS PARENT PREFIX COUNT NET move|direct
#   ip.sh down PREFIX COUNT
# move: as the MacVLAN chapter of the Docker Networking Cookbook scripts it,
# and as most lab scripts do: the macvlan is created beside its parent, then
# moved into its namespace (`link set ... netns NS`, renamed to eth0 in the
# same request, so no extra process).
# direct: created directly in its namespace (`link add ... netns NS`), the
# fast path, bash + ip at its best.
set -euo pipefail
case "$1" in
up)
    phy=$2 parent=$3 prefix=$4 count=$5 net=$6 placement=$7
    for ((i = 0; i < count; i++)); do
        ns=$prefix$i s=$((i / 250)) h=$((i % 250 + 2))
        ip netns add "$ns"
        case $placement in
        move)
            ip -n "$phy" link add "mv$i" link "$parent" type macvlan mode bridge
            ip -n "$phy" link set "mv$i" netns "$ns" name eth0
            ;;
        direct)
            ip -n "$phy" link add eth0 link "$parent" netns "$ns" type macvlan mode bridge
            ;;
        esac
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
    echo "usage: $0 up PHY_NS PARENT PREFIX COUNT NET move|direct | down PREFIX COUNT" >&2
    exit 2
    ;;
esac
