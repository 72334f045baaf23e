#!/usr/bin/env bash
# bench/optick.sh: what the operation tick costs the coordinator's loop
# with a large operation live, this tree against another commit's (the
# tick before DB_OP_WAKE by default), in the same run. bm_bench_optick
# applies a fleet of N machines (racks of 100), reimages them all (32 per
# rack start, the rest wait; nothing ends or times out; that command is
# timed too) and times T ticks a second apart on the store itself, then the
# advance after one machine ended. Medians of R rounds of each.
#   usage: bench/optick.sh [-n MACHINES] [-t TICKS] [-r ROUNDS] [-b REF]
set -euo pipefail
cd "$(dirname "$0")/.."
N=100000 TICKS=20 ROUNDS=3 BASE=c1308ac
while getopts n:t:r:b: o; do
  case $o in
    n) N=$OPTARG ;; t) TICKS=$OPTARG ;; r) ROUNDS=$OPTARG ;; b) BASE=$OPTARG ;; *) exit 2 ;;
  esac
done
. bench/stats.sh
./deploy/install-deps.sh >/dev/null
W=$(mktemp -d "${W_PARENT:-/var/tmp}/bm-bench-optick.XXXXXX")
trap 'git worktree remove --force "$W/base" 2>/dev/null; rm -rf "$W"' EXIT
build() { # build SRC DIR: a Release bm_bench_optick of SRC into DIR
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DBM_TESTS=OFF >/dev/null
  cmake --build "$2" -j"$(nproc)" --target bm_bench_optick >/dev/null
}
git worktree add -q --detach "$W/base" "$BASE"
# The benchmark program is this tree's, built against the other's store.
cp bench/bm_bench_optick.c bench/CMakeLists.txt "$W/base/bench/"
build . "$W/new"
build "$W/base" "$W/old"
run() { # run BUILD: one round's key=value line
  local d
  d=$(mktemp -d "$W/store.XXXXXX")
  "$W/$1/bin/bm_bench_optick" -d "$d" -n "$N" -t "$TICKS"
  rm -rf "$d"
}
for i in $(seq 1 "$ROUNDS"); do
  for b in old new; do
    run "$b" | tee -a "$W/$b.txt" >&2
  done
done
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$W/$1.txt" | median; }
ratio() { echo "scale=${2:-1}; $(field old "$1") / $(field new "$1")" | bc -l; } # old/new FIELD
cat <<T
optick: $N machines in one live operation (racks of 100, 32 booting per rack, the rest
queued), ticks a second apart on the store; medians of $ROUNDS rounds; $(nproc) cores.
Before: $BASE$([ "$BASE" = c1308ac ] && echo " (every live operation advanced at every tick)").

| measure | before ($BASE) | this tree | ratio |
|---|---|---|---|
| a tick, p50 | $(field old tick_p50_ms) ms | $(field new tick_p50_ms) ms | $(ratio tick_p50_ms)x |
| a tick, max of $TICKS | $(field old tick_max_ms) ms | $(field new tick_max_ms) ms | - |
| the reimage of all $N, applied on the store: its command and its intake's ticks | $(field old reimage_ms) ms | $(field new reimage_ms) ms | $(ratio reimage_ms 2)x |
| ... in commands | $(field old reimage_commands) | $(field new reimage_commands) | - |
| ... the longest command (what holds a node's loop) | $(field old reimage_command_max_ms) ms | $(field new reimage_command_max_ms) ms | $(ratio reimage_command_max_ms)x |
| the tick that advances it after one machine ended | $(field old advance_ms) ms | $(field new advance_ms) ms | $(ratio advance_ms)x |
| the fleet's apply (one command) | $(field old apply_ms) ms | $(field new apply_ms) ms | - |
| fleet applied + reimage of all | $(field old setup_ms) ms | $(field new setup_ms) ms | - |
T
