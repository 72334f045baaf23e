#!/usr/bin/env bash
# bench/tls.sh: what a new API connection costs (dial, mutual TLS handshake,
# one status read, close), this tree's TLS (nng on the OpenSSL engine of
# lib/rpc_tls_engine.c) against another commit's (nng's own mbedtls engine
# by default), in the same run. A lone coordinator on loopback; C clients
# make N connections one after another; the coordinator's CPU is read from
# /proc. Medians of R rounds of each.
#   usage: bench/tls.sh [-n CONNECTIONS] [-c CLIENTS] [-r ROUNDS] [-b REF]
set -euo pipefail
cd "$(dirname "$0")/.."
N=2000 C=4 ROUNDS=3 BASE=2429c5a PORT=${BM_BENCH_PORT:-29300}
while getopts n:c:r:b: o; do
  case $o in
    n) N=$OPTARG ;; c) C=$OPTARG ;; r) ROUNDS=$OPTARG ;; b) BASE=$OPTARG ;; *) exit 2 ;;
  esac
done
. bench/stats.sh
./deploy/install-deps.sh >/dev/null
W=$(mktemp -d "${W_PARENT:-/var/tmp}/bm-bench-tls.XXXXXX")
COORD=
cleanup() {
  [ -n "$COORD" ] && kill "$COORD" 2>/dev/null && wait "$COORD" 2>/dev/null
  git worktree remove --force "$W/base" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
build() { # build SRC DIR: Release bmcoord, bmctl and bm_bench_store of SRC into DIR
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DBM_TESTS=OFF >/dev/null
  cmake --build "$2" -j"$(nproc)" --target bmcoord bmctl bm_bench_store >/dev/null
}
git worktree add -q --detach "$W/base" "$BASE"
# The load generator is this tree's (-H), built against the other's RPC.
cp bench/bm_bench_store.c "$W/base/bench/"
build . "$W/new"
build "$W/base" "$W/old"
P=$W/pki
"$W/new/bin/bmctl" pki init "$P" >/dev/null
"$W/new/bin/bmctl" pki issue "$P" coordinator c1 --address 127.0.0.1 >/dev/null
"$W/new/bin/bmctl" pki issue "$P" operator admin --role admin >/dev/null
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }
run() { # run BUILD: one round's key=value line
  local d url=tls+tcp://127.0.0.1:$PORT out c0 c1
  d=$(mktemp -d "$W/coord.XXXXXX")
  "$W/$1/bin/bmcoord" --data-dir "$d" --listen "$url" --tls-ca "$P/ca.crt" \
    --tls-cert "$P/c1.crt" --tls-key "$P/c1.key" --tls-crl "$P/crl.pem" \
    --secrets-key "$P/secrets.key" 2>"$d/log" &
  COORD=$!
  for _ in $(seq 1 100); do
    BMCTL_CA=$P/ca.crt BMCTL_CERT=$P/admin.crt BMCTL_KEY=$P/admin.key \
      "$W/$1/bin/bmctl" --coordinator "$url" --timeout 2 status >/dev/null 2>&1 && break
    sleep 0.1
  done
  c0=$(cpu_ms "$COORD")
  out=$("$W/$1/bin/bm_bench_store" -u "$url" -H -n "$N" -c "$C" -C "$P/ca.crt" \
    -E "$P/admin.crt" -K "$P/admin.key" | tr '\n' ' ')
  c1=$(cpu_ms "$COORD")
  kill "$COORD"
  wait "$COORD" 2>/dev/null || true
  COORD=
  rm -rf "$d"
  echo "$out coord_cpu_ms=$(echo "$c1 - $c0" | bc -l)"
}
for i in $(seq 1 "$ROUNDS"); do
  for b in old new; do
    run "$b" | tee -a "$W/$b.txt" >&2
  done
done
field() { sed -n "s/.*\(^\| \)$2=\([0-9.]*\).*/\2/p" "$W/$1.txt" | median; }
per() { echo "scale=2; $(field "$1" "$2") / $N" | bc -l; }
ratio() { echo "scale=1; $1 / $2" | bc -l; }
cat <<T
tls: $N API connections (dial, mutual TLS handshake with ECDSA P-256 certificates of
the fleet CA, one status read, close) by $C clients at once, a lone Release
coordinator on loopback; medians of $ROUNDS rounds; $(nproc) cores.
Before: $BASE (nng 1.5.2's mbedtls 2.28 engine: TLS 1.2, ECDHE on secp521r1).
After: this tree (nng on OpenSSL $(openssl version | awk '{print $2}'): TLS 1.3, X25519).

| measure | before ($BASE) | this tree | ratio |
|---|---|---|---|
| connections a second | $(field old writes_per_s) | $(field new writes_per_s) | $(ratio "$(field new writes_per_s)" "$(field old writes_per_s)")x |
| a connection + read, p50 | $(field old p50_ms) ms | $(field new p50_ms) ms | - |
| a connection + read, p99 | $(field old p99_ms) ms | $(field new p99_ms) ms | - |
| coordinator CPU per connection | $(per old coord_cpu_ms) ms | $(per new coord_cpu_ms) ms | $(ratio "$(per old coord_cpu_ms)" "$(per new coord_cpu_ms)")x less |
| client CPU per connection | $(per old client_cpu_ms) ms | $(per new client_cpu_ms) ms | $(ratio "$(per old client_cpu_ms)" "$(per new client_cpu_ms)")x less |
T
