#!/usr/bin/env bash
# bench/store.sh: the coordinator's store side by side with etcd, same run,
# same machine, same records. For each of three rounds, on a fresh data dir
# on disk (durable writes: every acknowledged write is fsynced):
#   - N machines applied through the real API by C concurrent clients
#     (bm_bench_store: one Apply per machine over nng/TCP);
#     the same N records put into etcd by C clients (etcd_bench_put, v3 gateway);
#   - the full list: `bmctl get machines -o json` vs `etcdctl get --prefix -w json`;
#   - bytes on disk per machine.
# Prints a table of medians of three, with bm/etcd ratios.
#   usage: bench/store.sh [-n MACHINES] [-c CLIENTS] [-r ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=100000 C=32 ROUNDS=3
while getopts n:c:r: o; do
  case $o in n) N=$OPTARG ;; c) C=$OPTARG ;; r) ROUNDS=$OPTARG ;; *) exit 2 ;; esac
done

./deploy/install-deps.sh --bench >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBM_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
B=$PWD/build-bench/bin
W=$(mktemp -d /var/tmp/bm-bench-store.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; [ "${BM_BENCH_KEEP:-0}" = 1 ] || rm -rf "$W"' EXIT

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
. bench/stats.sh
elapsed() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
port_free() {
  if ss -ltnH "sport = :$1" | grep -q .; then
    echo "bench/store.sh: port $1 is in use (a stale server?); stop it first" >&2; exit 1
  fi
}
wait_for() { for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

bm_round() {
  local d=$W/bm$1 url=tcp://127.0.0.1:17499
  mkdir -p "$d"
  port_free 17499
  [ -e "$W/secrets.key" ] || head -c 32 /dev/urandom >"$W/secrets.key" # seals the BMC passwords
  "$B/bmcoord" --data-dir "$d/data" --listen "$url" --secrets-key "$W/secrets.key" 2>"$d/log" &
  local pid=$!; PIDS+=("$pid")
  wait_for "$B/bmctl" --coordinator "$url" --timeout 0.5 status
  "$B/bm_bench_store" -u "$url" -n "$N" -c "$C" >"$d/put"
  # The RPC ceiling: the same clients sending status reads (no write, no fsync).
  "$B/bm_bench_store" -u "$url" -n "$N" -c "$C" -r >"$d/reads"
  elapsed "$B/bmctl" --coordinator "$url" get machines -o json >"$d/list"
  "$B/bmctl" --coordinator "$url" -o json status | sed -n 's/.*"store_bytes": \([0-9]*\).*/\1/p' >"$d/bytes"
  "$B/bmctl" --coordinator "$url" get machines -o json | grep -c '"name": "m' >"$d/count"
  kill -TERM "$pid"; wait "$pid" || true
}

etcd_round() {
  local d=$W/etcd$1 url=http://127.0.0.1:23799
  mkdir -p "$d"
  port_free 23799; port_free 23899
  etcd --name b --data-dir "$d/data" --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls http://127.0.0.1:23899 --initial-advertise-peer-urls http://127.0.0.1:23899 \
    --initial-cluster b=http://127.0.0.1:23899 --quota-backend-bytes=8589934592 >"$d/log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  export ETCDCTL_API=3
  wait_for etcdctl --endpoints "$url" endpoint health
  "$B/etcd_bench_put" -u "$url" -n "$N" -c "$C" >"$d/put"
  elapsed etcdctl --endpoints "$url" get --prefix /machines/ -w json >"$d/list"
  etcdctl --endpoints "$url" endpoint status -w json | sed -n 's/.*"dbSize":\([0-9]*\).*/\1/p' >"$d/bytes"
  du -sb "$d/data/member/wal" | cut -f1 >"$d/wal"
  etcdctl --endpoints "$url" get --prefix /machines/ --keys-only | grep -c '^/machines/' >"$d/count"
  kill -TERM "$pid"; wait "$pid" || true
}

for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS: bmcoord" >&2; bm_round "$r"
  echo "round $r/$ROUNDS: etcd" >&2; etcd_round "$r"
done

med() { for r in $(seq 1 "$ROUNDS"); do $2 <"$W/$1$r/put"; done | median; }
medf() { for r in $(seq 1 "$ROUNDS"); do cat "$W/$1$r/$2"; done | median; }
wps_bm=$(med bm "field writes_per_s"); wps_e=$(med etcd "field writes_per_s")
p50_bm=$(med bm "field p50_ms"); p50_e=$(med etcd "field p50_ms")
p99_bm=$(med bm "field p99_ms"); p99_e=$(med etcd "field p99_ms")
list_bm=$(medf bm list); list_e=$(medf etcd list)
rpc_bm=$(for r in $(seq 1 "$ROUNDS"); do field writes_per_s <"$W/bm$r/reads"; done | median)
bpm_bm=$(echo "$(medf bm bytes) / $N" | bc); bpm_e=$(echo "$(medf etcd bytes) / $N" | bc)
wal_e=$(echo "$(medf etcd wal) / $N" | bc)
ratio() { echo "scale=2; $1 / $2" | bc -l; }

cat <<T
store: $N machines, $C concurrent clients, medians of $ROUNDS rounds, $(nproc) cores, $(uname -r)
counts listed at the end of each round: bm $(medf bm count), etcd $(medf etcd count)

| metric                              | bmcoord        | etcd $(etcd --version | sed -n 's/etcd Version: //p') | bm/etcd |
|-------------------------------------|----------------|------------|---------|
| acknowledged writes/s               | $wps_bm | $wps_e | $(ratio "$wps_bm" "$wps_e") |
| write latency p50 (ms)              | $p50_bm | $p50_e | $(ratio "$p50_bm" "$p50_e") |
| write latency p99 (ms)              | $p99_bm | $p99_e | $(ratio "$p99_bm" "$p99_e") |
| full list as JSON (s)               | $(printf %.2f "$list_bm") | $(printf %.2f "$list_e") | $(ratio "$list_bm" "$list_e") |
| bytes per machine (store file)      | $bpm_bm | $bpm_e (+$wal_e WAL) | $(ratio "$bpm_bm" "$bpm_e") |

RPC ceiling on this machine: the same $C clients sending bmcoord status reads
(no store write, no fsync) reach $rpc_bm requests/s.
bmcoord bytes include its indexes (MAC, per-rack IP, rack membership) and the
change log; etcd's are one key per machine plus its MVCC history.
T
