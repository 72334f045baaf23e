#!/usr/bin/env bash
# bench/site_fill.sh: an image to two sites of four racks over a WAN
# (bench/wanem: 40 ms RTT, 1 % loss each way, 100 Mbit/s), with site-local
# fill (every agent a peer_url) and without (every rack from the
# coordinator: how it was), side by side in one run, medians of the rounds:
#   - the bytes the coordinator sent on the WAN links, over the image's size;
#   - the time from the agents' start until all eight hold it, verified;
#   - sync over that WAN: machines added one at a time, commit on the
#     coordinator -> stored on the agent (p50, p99 of all changes).
# It runs tests/integration/site_fill.sh (its checks pass or the round
# fails) on a Release build, with the test's logs kept for the latencies.
#   usage: bench/site_fill.sh [-m MB] [-r ROUNDS] [-c CHANGES]
set -euo pipefail
cd "$(dirname "$0")/.."
MB=200 ROUNDS=3 CHANGES=100
while getopts m:r:c: o; do
  case $o in m) MB=$OPTARG ;; r) ROUNDS=$OPTARG ;; c) CHANGES=$OPTARG ;; *) exit 2 ;; esac
done
NAME=fill
. bench/lib.sh

round() { # round N PEERS: one run of the test; its measures into $W/rN-pP.txt
  local d=$W/r$1-p$2 out
  mkdir -p "$d"
  out=$(BM_BIN=$B BM_SRC=$PWD BM_IT_DEBUG=$d SITE_FILL_MB=$MB SITE_FILL_PEERS=$2 \
    SITE_FILL_CHANGES=$CHANGES tests/integration/site_fill.sh 2>&1) || {
    echo "round $1 (peers $2) failed:"; echo "$out" | grep -E "not ok|FATAL" | head; exit 1; }
  local m revs t
  m=$(echo "$out" | grep "measure: image_bytes")
  revs=$(echo "$out" | sed -n 's/^measure: change_revisions=//p')
  t=$(ls -d "$d"/bm-it.*)
  seq "${revs%-*}" "${revs#*-}" >"$d/revs"
  bench/latencies.py "$d/revs" updated "$t/a??.log" "$t/coord.log" >"$d/lat"
  {
    echo "$m" | tr ' ' '\n' | awk -F= '$1 == "image_bytes" {i = $2} $1 == "coordinator_bytes" {c = $2}
      $1 == "fill_s" {f = $2} END {printf "ratio %.3f\nfill_s %s\n", c / i, f}'
    echo "p50 $(pct 50 <"$d/lat")"
    echo "p99 $(pct 99 <"$d/lat")"
  } >"$W/r$1-p$2.txt"
  rm -rf "$t/a"?? "$t/data" # the caches and the blob store: 2 GB a round
}
for r in $(seq 1 "$ROUNDS"); do
  for p in 1 0; do round "$r" "$p"; done
done
med() { cat "$W"/r*-p"$1".txt | awk -v k="$2" '$1 == k {print $2}' | median; }
printf '\nsite-local fill, %s MB image, 2 sites x 4 racks, WAN 40 ms RTT 1%% loss 100 Mbit/s, medians of %s rounds\n\n' "$MB" "$ROUNDS"
printf '| measure | with peers (site-local fill) | without (each rack from the coordinator) |\n|---|---|---|\n'
printf '| coordinator bytes / image size | %s | %s |\n' "$(med 1 ratio)" "$(med 0 ratio)"
printf '| until all 8 racks hold it, s | %s | %s |\n' "$(med 1 fill_s)" "$(med 0 fill_s)"
printf '| change -> agent over the WAN, p50 ms | %s | %s |\n' "$(med 1 p50)" "$(med 0 p50)"
printf '| change -> agent over the WAN, p99 ms | %s | %s |\n' "$(med 1 p99)" "$(med 0 p99)"
