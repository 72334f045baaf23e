#!/usr/bin/env bash
# A reimage larger than a slice (OP_SLICE: 10,000 machines) through
# bmcoord and bmctl (and the fleet, applied by bmctl in parts of
# BM_APPLY_MACHINES_MAX; one Apply of more is refused): the coordinator takes its machines a slice per tick
# (store_op_intake.c) and answers the reimage once all are taken, as a
# reimage taken in one command is answered: with every machine, or with
# the refusal its checks found (exit 1, naming the machine, nothing
# taken). A small reimage sent while a large one takes waits its turn and
# is then checked against every machine the large one took. In a cluster,
# the leadership moving in the middle of a reimage's intake answers its
# call unavailable, naming the operation, and the new leader takes it to
# the end. The op list's answer counts each operation's machines without
# their names. Fleet: 205 racks of 100 machines.
. "$(dirname "$0")/lib.sh"
start_coord

python3 - "$T/fleet.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("sites: [{name: s}]\nimages: [{name: k, sha256: "
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]\n"
            "profiles: [{name: p, kernel: k}]\nracks:\n")
    for r in range(205):
        f.write(f"  - {{name: r{r}, site: s, subnet: 10.{100 + r // 200}.{r % 200}.0/24, "
                f"gateway: 10.{100 + r // 200}.{r % 200}.1}}\n")
    f.write("machines:\n")
    for i in range(205 * 100):
        f.write(f"  - {{name: r{i // 100}-m{i % 100}, rack: r{i // 100}, "
                f"mac: \"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}\", profile: p}}\n")
PY
expect_exit 0 "fleet of 20,500 machines applied" bmctl apply -f "$T/fleet.yaml"
expect_in "$T/out" "20708 created, 0 updated" "bmctl sent it in parts and sums what they did (20,500 machines, 205 racks, a site, an image, a profile)"
reimaging() { bmctl get machines --state reimaging -o json | grep -c '"name"'; }

# Refused in its checks: r99-m99 (last in name order) is in another
# operation; the answer comes after three slices of checks.
expect_exit 0 "a small reimage" bmctl reimage machine/r99-m99
SMALL=$(awk 'NR == 1 {print $1}' "$T/out")
expect_exit 1 "a reimage of the site is refused" bmctl reimage site/s
expect_in "$T/err" "machine r99-m99 is already in operation $SMALL" "the refusal names the machine and its operation"
n=$(reimaging)
[ "$n" = 1 ] && ok "nothing taken by the refused one" || not_ok "$n machines reimaging, wanted 1"
expect_exit 0 "op list" bmctl op get
REFUSED=$(awk '$2 == "failed" {print $1}' "$T/out")
expect_exit 0 "op get of the refused one" bmctl op get "$REFUSED"
expect_in "$T/out" "refused: machine r99-m99 is already in operation" "op get says why it was refused"
expect_exit 0 "cancel the small one" bmctl op cancel "$SMALL"

# The whole site, and a reimage of one of its machines sent while it takes.
bmctl reimage site/s >"$T/big.out" 2>"$T/big.err" &
BIG_PID=$!
for _ in $(seq 1 200); do
  bmctl op get 2>/dev/null | grep -q ' taking ' && break
  sleep 0.05
done
if bmctl op get | grep -q ' taking '; then
  ok "the site's operation is taking its machines"
  expect_exit 1 "a reimage of r0-m0 meanwhile waits, then is refused" bmctl reimage machine/r0-m0
  expect_in "$T/err" "machine r0-m0 is already in operation" "it was checked against what the site's took"
  expect_exit 0 "op list" bmctl op get
  if [ "$(awk '$2 == "failed"' "$T/out" | wc -l)" = 2 ]; then
    ok "it was queued as an operation (refused in its checks)"
  else
    not_ok "no second refused operation"; sed 's/^/    /' "$T/out"
  fi
else
  not_ok "the site's operation was never seen taking"
fi
wait "$BIG_PID" && ok "the site's reimage answered after its intake" ||
  { not_ok "the site's reimage failed"; sed 's/^/    /' "$T/big.err"; }
BIG=$(awk 'NR == 1 {print $1}' "$T/big.out")
[ "$(grep -cE '^  r[0-9]+-m[0-9]+ +r[0-9]+ .* reimaging ' "$T/big.out")" = 20500 ] &&
  ok "its answer lists all 20,500 machines" || not_ok "answer: $(head -3 "$T/big.out")"
n=$(reimaging)
[ "$n" = 20500 ] && ok "all 20,500 reimaging" || not_ok "$n reimaging"
# The op list counts each operation's machines and leaves their names out.
"$BM_BIN/rpc_probe" "$BMCTL_COORDINATOR" "$BMCTL_CA" "$BMCTL_CERT" "$BMCTL_KEY" ops - >"$T/ops" 2>&1
grep -q "^op $BIG listed=20500 names=0$" "$T/ops" && ok "the op list's answer counts 20,500 machines, no names" ||
  not_ok "op list answer: $(cat "$T/ops")"
expect_exit 0 "op list" bmctl op get
grep -Eq "^$BIG +running +20500 machines" "$T/out" && ok "bmctl op get shows the count" ||
  not_ok "op get: $(cat "$T/out")"
expect_in "$T/coord.log" "intake done op=$BIG" "the coordinator logs the intake's end"
# bmctl delete operation: a live one is refused, a finished one forgotten.
expect_exit 1 "delete of the live operation" bmctl delete operation "$BIG"
expect_in "$T/err" "operation $BIG is live: cancel it first" "the refusal says what to do first"
expect_exit 0 "delete of the refused (finished) operation" bmctl delete operation "$REFUSED"
expect_exit 1 "op get of the deleted one" bmctl op get "$REFUSED"
n=$(reimaging)
[ "$n" = 20500 ] && ok "the deletes changed no machine" || not_ok "$n reimaging"
grep -q "leadership\|election" "$T/coord.log" && not_ok "leadership moved" || ok "leadership held"

# An Apply of more than BM_APPLY_MACHINES_MAX machines is refused whoever
# sends it; bmctl's parts stop at the first refused, saying what was applied
# (x14999 takes the MAC of r0-m0, stored and not in that file).
"$BM_BIN/rpc_probe" "$BMCTL_COORDINATOR" "$BMCTL_CA" "$BMCTL_CERT" "$BMCTL_KEY" apply r0 10001 >"$T/out" 2>&1
expect_in "$T/out" "an apply of 10001 machines: at most 10000 in one" "one Apply of 10,001 machines is refused"
python3 - "$T/x.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("machines:\n")
    for i in range(25000):
        mac = "52:54:00:00:00:00" if i == 14999 else f"52:54:01:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}"
        f.write(f"  - {{name: x{i}, rack: r{i % 205}, mac: \"{mac}\", profile: p}}\n")
PY
expect_exit 1 "a file whose second part is refused" bmctl apply -f "$T/x.yaml"
expect_in "$T/err" "machines 1-10000 of 25000 (and every other entry) were applied, in parts of 10000; from machine 10001 on, nothing" "bmctl says what was applied"
expect_in "$T/err" "x.yaml:$(grep -n 'name: x14999,' "$T/x.yaml" | cut -d: -f1): machine x14999: mac: 52:54:00:00:00:00 is already the MAC of machine r0-m0" "the refusal names the file's line"
n=$(bmctl get machines -o json | grep -c '"name": "x')
[ "$n" = 10000 ] && ok "the first part is stored, nothing of the second" || not_ok "$n x machines stored"
kill "$COORD_PID"; wait "$COORD_PID"; COORD_PID=

# --- three nodes: the leadership moves while a reimage takes its machines.
# The reimage's call is answered unavailable, naming the operation, which
# the new leader's ticks take to the end.
# Its commands write 10,000 machines each: up to ~1 s under the sanitizers,
# which would hold a 500 ms election timeout's heartbeats (the bench runs
# the default, 1 s, in a Release build: bench/fleet.sh).
ELECTION_MS=3000
. "$(dirname "$0")/cluster.sh"
trap 'kill_nodes; cleanup' EXIT
BS="1=$(raddr 1),2=$(raddr 2),3=$(raddr 3)"
for i in 1 2 3; do start_node "$i" --bootstrap "$BS"; done
L=$(wait_leader 1 2 3) || { not_ok "no leader"; finish; }
export BMCTL_COORDINATOR=$(urls 1 2 3)
expect_exit 0 "the fleet applied to the cluster" bmctl apply -f "$T/fleet.yaml"
bmctl reimage site/s >"$T/big2.out" 2>"$T/big2.err" &
BIG_PID=$!
for _ in $(seq 1 200); do
  on "$L" op get 2>/dev/null | grep -q ' taking ' && break
  sleep 0.05
done
N2=$(( L % 3 + 1 ))
expect_exit 0 "leadership handed to node $N2 while the operation takes" bmctl cluster transfer "$N2"
wait "$BIG_PID"
expect_in "$T/big2.err" "leadership moved while op-" "the reimage's call says leadership moved"
expect_in "$T/big2.err" "it goes on" "... and that the operation goes on"
OP=$(grep -o 'op-[0-9]*' "$T/big2.err" | head -1)
for _ in $(seq 1 200); do
  on "$N2" op get 2>/dev/null | grep -q "^$OP  *running" && break
  sleep 0.1
done
for i in 1 2 3; do
  n=$(on "$i" get machines --state reimaging -o json | grep -c '"name"')
  [ "$n" = 20500 ] && ok "node $i: all 20,500 reimaging in $OP" || not_ok "node $i: $n reimaging"
done
finish
