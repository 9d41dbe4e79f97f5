#!/bin/bash
# The benchmark lab with `ip -batch` (see bench/README.md): N+2 processes,
# one `ip -batch` creating every namespace, one creating every macvlan from
# the parent's namespace (directly in its target namespace), and one per
# unit configuring inside it.
#   ip-batch.sh up PHY_NS PARENT PREFIX COUNT NET
#   ip-batch.sh down PREFIX COUNT
set -euo pipefail
case "$1" in
up)
    phy=$2 parent=$3 prefix=$4 count=$5 net=$6
    for ((i = 0; i < count; i++)); do
        echo "netns add $prefix$i"
    done | ip -batch -
    for ((i = 0; i < count; i++)); do
        echo "link add eth0 link $parent netns $prefix$i type macvlan mode bridge"
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
    echo "usage: $0 up PHY_NS PARENT PREFIX COUNT NET | down PREFIX COUNT" >&2
    exit 2
    ;;
esac
