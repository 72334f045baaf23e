#!/usr/bin/env bash
# bench/raft.sh: the coordinator replicated by Raft, on loopback.
#   writes: acknowledged writes/s and p50/p99 latency (bm_bench_store: one
#     Apply of one machine per request, C concurrent clients, each its own
#     connection) with 1, 16 and 64 clients, on three nodes (against the
#     leader) and on one node for comparison; a fresh cluster for each run;
#     each run twice in a row: on TLS (the API and Raft, certificates of a
#     CA made here, as deployed) and plaintext (loopback needs no
#     --insecure): the cost of TLS; clients connect before the clock starts
#     (the handshakes' time is reported apart);
#   failover (on TLS): kill -9 of the leader of three nodes -> the first write
#     acknowledged by the new leader (bmctl with the three URLs, retrying),
#     over TRIALS trials with the default timeouts (election 500 ms,
#     heartbeat 50 ms).
# Medians of ROUNDS rounds for the writes.
#   usage: bench/raft.sh [-n WRITES] [-r ROUNDS] [-t TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=10000 ROUNDS=3 TRIALS=10
while getopts n:r:t: o; do
  case $o in n) N=$OPTARG ;; r) ROUNDS=$OPTARG ;; t) TRIALS=$OPTARG ;; *) exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || true
./deploy/install-deps.sh --bench >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBM_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
B=$PWD/build-bench/bin
W=$(mktemp -d /var/tmp/bm-bench-raft.XXXXXX)
PIDS=()
stop_all() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; PIDS=(); }
trap 'stop_all; [ "${BM_BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"' EXIT

MODE=tls # or plain: what start_node and the clients use
"$B/bmctl" pki init "$W/pki" >/dev/null
for i in 1 2 3; do "$B/bmctl" pki issue "$W/pki" coordinator "c$i" --address 127.0.0.1 >/dev/null; done
"$B/bmctl" pki issue "$W/pki" operator admin --role admin >/dev/null
export BMCTL_CA=$W/pki/ca.crt BMCTL_CERT=$W/pki/admin.crt BMCTL_KEY=$W/pki/admin.key
api() { if [ "$MODE" = tls ]; then echo "tls+tcp://127.0.0.1:$((17600 + $1))"; else echo "tcp://127.0.0.1:$((17600 + $1))"; fi; }
tls_args() { # tls_args ID: a node's TLS options in MODE tls
  [ "$MODE" = tls ] && echo "--tls-ca $W/pki/ca.crt --tls-cert $W/pki/c$1.crt --tls-key $W/pki/c$1.key"
  return 0
}
client_tls() { [ "$MODE" = tls ] && echo "-C $BMCTL_CA -E $BMCTL_CERT -K $BMCTL_KEY"; return 0; }
raddr() { echo "127.0.0.1:$((17610 + $1))"; }
NODE=()
start_node() { # start_node DIR ID [ARGS]
  local d=$1 id=$2; shift 2
  # shellcheck disable=SC2046 # options are words
  "$B/bmcoord" --id "$id" --raft-address "$(raddr "$id")" --data-dir "$d/n$id" \
    --listen "$(api "$id")" --secrets-key "$W/pki/secrets.key" $(tls_args "$id") "$@" \
    >/dev/null 2>>"$d/n$id.log" &
  NODE[$id]=$!
  PIDS+=($!)
}
state_of() { "$B/bmctl" --coordinator "$(api "$1")" --timeout 1 -o json cluster status 2>/dev/null |
  sed -n 's/.*"state": "\([a-z]*\)".*/\1/p'; }
leader_of() { # leader_of IDS...: wait for one to lead, print it
  for _ in $(seq 1 200); do
    for i in "$@"; do [ "$(state_of "$i")" = leader ] && { echo "$i"; return 0; }; done
    sleep 0.05
  done
  return 1
}
cluster() { # cluster DIR NODES: start 1 or 3 nodes; the leader in $L
  local d=$1 n=$2 bs=
  mkdir -p "$d"
  if [ "$n" = 1 ]; then start_node "$d" 1; else
    bs="1=$(raddr 1),2=$(raddr 2),3=$(raddr 3)"
    for i in 1 2 3; do start_node "$d" "$i" --bootstrap "$bs"; done
  fi
  L=$(leader_of $(seq 1 "$n"))
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
. bench/stats.sh

for round in $(seq 1 "$ROUNDS"); do
  for nodes in 1 3; do
    for c in 1 16 64; do
      for MODE in tls plain; do
        d=$W/r$round-n$nodes-c$c-$MODE
        cluster "$d" "$nodes"
        # shellcheck disable=SC2046 # options are words
        "$B/bm_bench_store" -u "$(api "$L")" $(client_tls) -n "$N" -c "$c" >"$d/put" \
          2>"$d/put.err" || true
        echo "round $round: $nodes node(s), $c clients, $MODE: $(cat "$d/put")" >&2
        stop_all
      done
    done
  done
done
MODE=tls

# Failover: a fresh three-node cluster, the leader killed TRIALS times.
d=$W/failover
cluster "$d" 3
URLS="$(api 1),$(api 2),$(api 3)"
printf 'sites: [{name: s}]\nracks: [{name: r, site: s, subnet: 10.0.0.0/16}]\n' >"$d/base.yaml"
"$B/bmctl" --coordinator "$URLS" apply -f "$d/base.yaml" >/dev/null
: >"$d/failover"
for t in $(seq 1 "$TRIALS"); do
  sleep 1
  L=$(leader_of 1 2 3)
  printf 'machines: [{name: f%d, rack: r, mac: "52:54:00:aa:00:%02x"}]\n' "$t" "$t" >"$d/one.yaml"
  t0=$(date +%s.%N)
  kill -9 "${NODE[$L]}"
  until "$B/bmctl" --coordinator "$URLS" --timeout 1 apply -f "$d/one.yaml" >/dev/null 2>&1; do :; done
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l >>"$d/failover"
  echo "failover $t: node $L killed, first write after $(tail -1 "$d/failover") s" >&2
  start_node "$d" "$L" --bootstrap "1=$(raddr 1),2=$(raddr 2),3=$(raddr 3)"
done

echo "raft: acknowledged writes on loopback (one Apply of one machine each, its BMC password sealed), medians of $ROUNDS rounds; $(nproc) cores, $(uname -r)"
echo "TLS: the API on TLS 1.2 (nng's mbedtls 2.28 has no 1.3: ECDHE-ECDSA-CHACHA20-POLY1305) and Raft on TLS 1.3 (OpenSSL), the fleet CA's certificates; plain: the same on plaintext"
echo
echo "| nodes | clients | writes/s TLS | writes/s plain | TLS / plain | p50 ms TLS / plain | p99 ms TLS / plain |"
echo "|---|---|---|---|---|---|---|"
med() { for r in $(seq 1 "$ROUNDS"); do field "$1" <"$W/r$r-n$2-c$3-$4/put"; done | median; }
for nodes in 1 3; do
  for c in 1 16 64; do
    wt=$(med writes_per_s "$nodes" "$c" tls) wp=$(med writes_per_s "$nodes" "$c" plain)
    echo "| $nodes | $c | $wt | $wp | $(echo "scale=2; $wt / $wp" | bc -l) | $(med p50_ms "$nodes" "$c" tls) / $(med p50_ms "$nodes" "$c" plain) | $(med p99_ms "$nodes" "$c" tls) / $(med p99_ms "$nodes" "$c" plain) |"
  done
done
echo
echo "connecting 64 clients (TLS handshakes, outside the timed part): $(med connect_s 1 64 tls) s on TLS, $(med connect_s 1 64 plain) s plain"
echo
echo "failover (kill -9 of the leader -> first acknowledged write), $TRIALS trials: p50 $(pct 50 <"$d/failover") s, p99 $(pct 99 <"$d/failover") s, max $(sort -g "$d/failover" | tail -1) s"
