#!/bin/bash
# The benchmark lab with `ip -batch` (see bench/README.md): N+2 processes,
# one `ip -batch` creating every namespace, one creating every macvlan in
# the parent's namespace, and one per unit configuring inside it.
#   ip-batch.sh up PHY_NS PARENT PREFIX COUNT NET move|direct
#   ip-batch.sh down PREFIX COUNT
# move: each macvlan is created beside its parent and then moved into its
# namespace (renamed to eth0 in the same request), as the cookbook does.
# direct: each is created directly in its namespace, ip -batch at its best.
set -euo pipefail
case "$1" in
up)
    phy=$2 parent=$3 prefix=$4 count=$5 net=$6 placement=$7
    for ((i = 0; i < count; i++)); do
        echo "netns add $prefix$i"
    done | ip -batch -
    for ((i = 0; i < count; i++)); do
        case $placement in
        move)
            echo "link add mv$i link $parent type macvlan mode bridge"
            echo "link set mv$i netns $prefix$i name eth0"
            ;;
        direct)
            echo "link add eth0 link $parent netns $prefix$i type macvlan mode bridge"
            ;;
        esac
    done | ip -n "$phy" -batch -
    for ((i = 0; i < count; i++)); do
        s=$((i / 250)) h=$((i % 250 + 2))
        printf 'link set lo up\nlink set eth0 up\naddr add %s dev eth0\nroute add default via %s\n' \
            "$net.$s.$h/24" "$net.$s.1" | ip -n "$prefix$i" -batch -
    done
    ;;
down)
    prefix=$2 count=$3
    for ((i = 0; i < count; i++)); do
        echo "netns del $prefix$i"
    done | ip -batch -
    ;;
*)
    echo "usage: $0 up PHY_NS PARENT PREFIX COUNT NET move|direct | down PREFIX COUNT" >&2
    exit 2
    ;;
esac
