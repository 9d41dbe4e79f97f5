#!/usr/bin/env bash
# The layer-2 loop of the sandbox review, built by the netwasm given: two
# bridges in two namespaces joined by two veth pairs, everything up, then one
# ARP. Prints the machine's softirq, system and idle CPU over the 3 s after
# the ARP, and removes what it built. A netwasm that refuses the loop shows
# an idle machine; one that builds it, a broadcast storm.
#
#   sudo bench/loop-storm.sh target/debug/netwasm
#
# Everything lives in two namespaces of its own (zzst-a, zzst-b) and a
# private state directory; nothing touches the root namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
nw=${1:?usage: bench/loop-storm.sh NETWASM}
kit=$(cargo build -q --release --target wasm32-wasip2 -p testkit --message-format=short >&2; \
      echo target/wasm32-wasip2/release/testkit.wasm)
export NETWASM_STATE_DIR=$(mktemp -d)
a=zzst-a b=zzst-b
cleanup() {
    "$nw" down storm >/dev/null 2>&1 || true
    ip netns delete "$a" 2>/dev/null || true
    ip netns delete "$b" 2>/dev/null || true
    rm -rf "$NETWASM_STATE_DIR"
}
trap cleanup EXIT
"$nw" run --lab storm "$kit" -- "ns $a" "ns $b" "bridge $a br1" "bridge $b br2" \
    "veth $a a1 $b b1" "veth $a a2 $b b2" \
    "try master $a a1 br1" "try master $b b1 br2" "try master $a a2 br1" "try master $b b2 br2" \
    "up $a br1" "up $b br2" "up $a a1" "up $a a2" "up $b b1" "up $b b2" \
    "addr $a br1 10.77.0.1/24" 2>&1 | grep -v '^\[guest\] ok$' || true
sleep 1
cpu() { read -r _ u n s i w q sq _ < /proc/stat; echo "$((u+n+s+i+w+q+sq)) $s $i $sq"; }
ip netns exec "$a" ping -c1 -W1 10.77.0.99 >/dev/null 2>&1 || true
read -r t0 s0 i0 q0 <<< "$(cpu)"
sleep 3
read -r t1 s1 i1 q1 <<< "$(cpu)"
t=$((t1 - t0))
echo "after one ARP, over 3 s, of all CPUs: softirq $((100 * (q1 - q0) / t))%," \
     "system $((100 * (s1 - s0) / t))%, idle $((100 * (i1 - i0) / t))%"
