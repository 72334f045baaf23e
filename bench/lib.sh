# Shared by the network benchmarks: root, the bench packages, a Release
# build in build-bench (BM_BENCH_BIN: other binaries), a work folder, and two namespaces joined by a veth
# (10.99.0.1/16 server side, 10.99.0.2/16 client side) that are removed on
# exit. Source from the repository root after setting NAME (a short tag) and
# optionally W_PARENT (default /var/tmp: on disk, not tmpfs).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bench/$NAME.sh needs root (network namespaces)"; exit 1; }
./deploy/install-deps.sh --bench >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBM_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
B=${BM_BENCH_BIN:-$PWD/build-bench/bin} # another build's, e.g. a sanitized one to hunt a crash
W=$(mktemp -d "${W_PARENT:-/var/tmp}/bm-bench-$NAME.XXXXXX")
NS_S=bmb${NAME:0:2}s NS_C=bmb${NAME:0:2}c IF_S=bmb${NAME:0:2}-s IF_C=bmb${NAME:0:2}-c
SRV_PID=

bench_down() {
  [ -n "$SRV_PID" ] && kill -9 "$SRV_PID" 2>/dev/null
  ip netns del "$NS_S" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  [ "${BM_BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap bench_down EXIT
ip netns del "$NS_S" 2>/dev/null || true
ip netns del "$NS_C" 2>/dev/null || true
ip netns add "$NS_S"
ip netns add "$NS_C"
ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C"
ip -n "$NS_S" addr add 10.99.0.1/16 dev "$IF_S"
ip -n "$NS_C" addr add 10.99.0.2/16 dev "$IF_C"
for n in "$NS_S" "$NS_C"; do ip -n "$n" link set lo up; done
ip -n "$NS_S" link set "$IF_S" up
ip -n "$NS_C" link set "$IF_C" up

now() { date +%s.%N; }
. bench/stats.sh
# CPU seconds (user + system) used so far by a process and its children
# that are still running (nginx's workers).
cpu_secs() {
  local t=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "scale=3; $t / $(getconf CLK_TCK)" | bc -l
}
