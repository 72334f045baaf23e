#!/usr/bin/env bash
# Coordinators replicating through Raft, on loopback, all on TLS with the
# test's fleet CA (Raft between the nodes and the API):
#   - three nodes: writes through any node (bmctl's URL list follows the
#     leader; a follower alone redirects to it), reads converge on every
#     node, linearizable reads through a follower see the last write;
#   - kill -9 of the leader: a new one is elected, writes go on; the old
#     leader restarts and catches up by log, and a follower kept down past
#     several snapshots catches up by snapshot;
#   - no acknowledged write lost: writers add machines with unique names
#     while the leader is killed 5 times at random moments; at the end every
#     acknowledged machine is on every node exactly once (counts printed);
#   - membership: a cluster of one grows to 3 and 5 (--join), then shrinks
#     to 3 (bmctl cluster remove), with writes running throughout;
#   - a rogue node (a coordinator certificate of another CA) can neither
#     join nor receive an entry, even added by an admin; a node with a
#     certificate of the fleet CA joins and catches up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster.sh"
NODE_ARGS=(--snapshot-threshold 64)
count_on() { on "$1" get machines -o json 2>/dev/null | grep -c '"name"'; }
cleanup_nodes() { kill_nodes; cleanup; }
trap cleanup_nodes EXIT

# --- three nodes ------------------------------------------------------------
BS="1=$(raddr 1),2=$(raddr 2),3=$(raddr 3)"
for i in 1 2 3; do start_node "$i" --bootstrap "$BS"; done
L=$(wait_leader 1 2 3) && ok "three nodes elect a leader (node $L)" || { not_ok "no leader"; finish; }
export BMCTL_COORDINATOR=$(urls 1 2 3)
cat >"$T/base.yaml" <<'Y'
sites: [{name: s1}]
racks: [{name: r1, site: s1, subnet: 10.0.0.0/16}]
Y
expect_exit 0 "a write through the URL list lands on the leader" bmctl apply -f "$T/base.yaml"
for i in 1 2 3; do
  for _ in $(seq 1 50); do on "$i" get racks 2>/dev/null | grep -q '^r1 ' && break; sleep 0.1; done
done
ok_all=1
for i in 1 2 3; do on "$i" get racks 2>/dev/null | grep -q '^r1 ' || ok_all=0; done
[ "$ok_all" = 1 ] && ok "the write is readable on every node" || not_ok "not on every node"
F=$(( L % 3 + 1 ))
on "$F" audit >"$T/out" 2>&1
grep -q "operator admin (admin) .* apply *ok *\[sites s1, racks r1\]" "$T/out" &&
  ok "the audit log is replicated: a follower lists the apply, who sent it" ||
  not_ok "follower's audit: $(cat "$T/out")"
# The commit nudge: on a quiet cluster one write is two entries, the write
# and the barrier the leader sends once it applied (its AppendEntries tells
# the followers the write committed, before the next heartbeat would).
idx() { on "$1" -o json cluster status 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
quiet() { # every node applied what the leader holds, for half a second
  local a b
  for _ in $(seq 1 100); do
    a=$(idx "$L" last_index)
    sleep 0.5
    b=$(idx "$L" last_index)
    [ "$a" = "$b" ] && [ "$(idx 1 applied_index)$(idx 2 applied_index)$(idx 3 applied_index)" = "$b$b$b" ] && return 0
  done
  return 1
}
quiet
I0=$(idx "$L" last_index)
expect_exit 0 "one more write on a quiet cluster" bmctl machine add nudge --rack r1 --mac 52:54:00:ff:00:09
quiet
I1=$(idx "$L" last_index)
[ "$((I1 - I0))" = 2 ] && ok "the write and the leader's commit nudge: two entries, applied on every node" ||
  not_ok "entries for one write: $((I1 - I0)) ($I0 -> $I1)"
expect_exit 0 "(the machine deleted again)" bmctl delete machine nudge
# Image bytes: the upload goes to the leader; every coordinator fetches
# what it lacks (BlobGet from the others), so an image outlives its node.
head -c 3000000 /dev/urandom >"$T/img"
ISHA=$(sha256sum "$T/img" | cut -d' ' -f1)
expect_exit 0 "an image pushed through the URL list" bmctl image push img "$T/img"
held=0
for _ in $(seq 1 150); do
  held=0
  for i in 1 2 3; do [ -f "$T/n$i/blobs/sha256/$ISHA" ] && held=$((held + 1)); done
  [ "$held" = 3 ] && break
  sleep 0.1
done
[ "$held" = 3 ] && ok "every coordinator holds the image's bytes" || not_ok "$held of 3 hold the image"
ok_sha=1
for i in 1 2 3; do
  [ "$(sha256sum "$T/n$i/blobs/sha256/$ISHA" 2>/dev/null | cut -d' ' -f1)" = "$ISHA" ] || ok_sha=0
done
[ "$ok_sha" = 1 ] && ok "each copy has the image's sha256" || not_ok "a copy differs"
# A follower asked alone names the leader's API URL (each leader announces
# it through the log); bmctl follows.
expect_exit 0 "a write through a follower alone is redirected to the leader" \
  on "$F" machine add lone --rack r1 --mac 52:54:00:ff:00:01
expect_exit 0 "a linearizable read through a follower alone reads it at once" \
  on "$F" --linearizable get machines lone
expect_in "$T/out" "lone" "the linearizable read shows the machine"
expect_exit 0 "a delete through a follower alone is redirected too" on "$F" delete machine lone
expect_exit 1 "a linearizable read after the delete no longer finds it" on "$F" --linearizable get machines lone

# --- kill -9 the leader -----------------------------------------------------
kill_node "$L"
others=$(for i in 1 2 3; do [ "$i" != "$L" ] && echo "$i"; done)
L2=$(wait_leader $others) && ok "after kill -9 of node $L, node $L2 leads" || not_ok "no new leader"
expect_exit 0 "writes go on through the new leader" bmctl machine add after-kill --rack r1 --mac 52:54:00:ff:00:02
start_node "$L"
for _ in $(seq 1 100); do [ "$(count_on "$L")" = 1 ] && break; sleep 0.1; done
[ "$(count_on "$L")" = 1 ] && ok "the old leader restarts and catches up by log" ||
  not_ok "node $L has $(count_on "$L") machines"
# A follower down while the log moves past several snapshots.
D=$(for i in 1 2 3; do [ "$i" != "$L2" ] && echo "$i"; done | head -1)
kill_node "$D"
for i in $(seq 1 200); do
  printf 'machines: [{name: s%d, rack: r1, mac: "52:54:00:fe:%02x:%02x"}]\n' "$i" $((i / 256)) $((i % 256))
done >"$T/many.list"
n=0
while read -r line; do echo "$line" >"$T/one.yaml"; bmctl apply -f "$T/one.yaml" >/dev/null && n=$((n + 1)); done <"$T/many.list"
[ "$n" = 200 ] && ok "200 writes with node $D down" || not_ok "only $n of 200 writes"
start_node "$D"
for _ in $(seq 1 150); do [ "$(count_on "$D")" = 201 ] && break; sleep 0.1; done
[ "$(count_on "$D")" = 201 ] && ok "node $D catches up (201 machines)" || not_ok "node $D has $(count_on "$D")"
grep -q "installing snapshot" "$T/n$D.log" && ok "node $D caught up by snapshot" ||
  not_ok "node $D did not install a snapshot"

# --- no acknowledged write lost ---------------------------------------------
writer() {
  local w=$1 i=0
  while [ ! -e "$T/stop" ]; do
    i=$((i + 1))
    if bmctl --timeout 3 machine add "w$w-$i" --rack r1 \
      --mac "$(printf '52:54:%02x:%02x:%02x:00' "$w" $((i / 256)) $((i % 256)))" >/dev/null 2>&1; then
      echo "w$w-$i" >>"$T/acked.$w"
    else
      echo "w$w-$i" >>"$T/unacked.$w"
    fi
  done
}
WPIDS=
for w in 1 2 3 4; do writer "$w" & WPIDS="$WPIDS $!"; done
for k in 1 2 3 4 5; do
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.5 + (r % 100) / 100 }')"
  L=$(wait_leader 1 2 3) || break
  kill_node "$L"
  sleep 0.3
  start_node "$L"
done
sleep 1
touch "$T/stop"
for p in $WPIDS; do wait "$p" 2>/dev/null; done
wait_leader 1 2 3 >/dev/null
cat "$T"/acked.* | sort >"$T/acked"
lost=0 dup=0
for i in 1 2 3; do
  for _ in $(seq 1 100); do
    on "$i" get machines -o json 2>/dev/null | grep -o '"name": "w[^"]*"' | cut -d'"' -f4 | sort >"$T/on.$i"
    [ "$(comm -23 "$T/acked" "$T/on.$i" | wc -l)" = 0 ] && break
    sleep 0.1
  done
  lost=$((lost + $(comm -23 "$T/acked" "$T/on.$i" | wc -l)))
  dup=$((dup + $(uniq -d "$T/on.$i" | wc -l)))
done
unacked_present=$(cat "$T"/unacked.* 2>/dev/null | sort | comm -12 - "$T/on.1" | wc -l)
echo "# acknowledged=$(wc -l <"$T/acked") lost=$lost duplicated=$dup unacknowledged-but-applied=$unacked_present leader-kills=5"
[ "$(wc -l <"$T/acked")" -gt 20 ] && ok "writers made progress through 5 leader kills" || not_ok "too few writes acknowledged"
[ "$lost" = 0 ] && ok "every acknowledged machine is on every node" || not_ok "$lost acknowledged writes missing"
[ "$dup" = 0 ] && ok "none twice" || not_ok "$dup duplicated"
for i in 1 2 3; do kill_node "$i"; done

# --- membership: 1 -> 3 -> 5 -> 3 with writes running -------------------------
# A new cluster (nodes 11..15, their own folders): one node first.
start_node 11
wait_leader 11 >/dev/null && ok "a cluster of one" || not_ok "one node did not lead"
export BMCTL_COORDINATOR=$(urls 11 12 13 14 15)
rm -f "$T/stop" "$T"/acked.* "$T"/unacked.*
bmctl apply -f "$T/base.yaml" >/dev/null
WPIDS=
for w in 5 6; do writer "$w" & WPIDS="$WPIDS $!"; done
voters() { on "$1" -o json cluster status 2>/dev/null | grep -c '"role": "voter"'; }
for i in 12 13; do start_node "$i" --join "$(api 11)"; done
for _ in $(seq 1 100); do [ "$(voters 11)" = 3 ] && break; sleep 0.1; done
[ "$(voters 11)" = 3 ] && ok "grown to 3 voters (--join)" || not_ok "voters: $(voters 11)"
for i in 14 15; do start_node "$i" --join "$(urls 11 12 13)"; done
for _ in $(seq 1 100); do [ "$(voters 11)" = 5 ] && break; sleep 0.1; done
[ "$(voters 11)" = 5 ] && ok "grown to 5 voters" || not_ok "voters: $(voters 11)"
bmctl cluster remove 15 >/dev/null && bmctl cluster remove 14 >/dev/null
L=$(wait_leader 11 12 13)
for _ in $(seq 1 50); do [ "$(voters "$L")" = 3 ] && break; sleep 0.1; done
[ "$(voters "$L")" = 3 ] && ok "shrunk to 3 voters" || not_ok "voters: $(voters "$L")"
kill_node 14; kill_node 15
sleep 0.5
touch "$T/stop"
for p in $WPIDS; do wait "$p" 2>/dev/null; done
cat "$T"/acked.* | sort >"$T/acked"
for _ in $(seq 1 50); do
  on "$L" get machines -o json | grep -o '"name": "w[^"]*"' | cut -d'"' -f4 | sort >"$T/on"
  [ "$(comm -23 "$T/acked" "$T/on" | wc -l)" = 0 ] && break
  sleep 0.1
done
m=$(comm -23 "$T/acked" "$T/on" | wc -l)
echo "# membership: acknowledged=$(wc -l <"$T/acked") missing=$m"
[ "$m" = 0 ] && [ "$(wc -l <"$T/acked")" -gt 5 ] && ok "writes during the membership changes all kept" ||
  not_ok "$m acknowledged writes missing"

# --- a rogue node: a coordinator certificate of its own CA --------------------
R=$T/rogue-pki
"$BM_BIN/bmctl" pki init "$R" >/dev/null
"$BM_BIN/bmctl" pki issue "$R" coordinator c16 --address 127.0.0.1 >/dev/null
"$BM_BIN/bmcoord" --id 16 --raft-address "$(raddr 16)" --data-dir "$T/n16" --listen "$(api 16)" \
  --tls-ca "$R/ca.crt" --tls-cert "$R/c16.crt" --tls-key "$R/c16.key" \
  --join "$(urls 11 12 13)" 2>>"$T/n16.log" &
NODE[16]=$!
sleep 3
[ "$(voters "$L")" = 3 ] && ok "a rogue node (another CA) cannot join" || not_ok "voters: $(voters "$L")"
# Added by an admin anyway: the leader's TLS refuses it, it gets no entry.
bmctl cluster add 16 "$(raddr 16)" >/dev/null 2>&1 &
ADD=$!
for _ in $(seq 1 50); do grep -q "TLS connection refused" "$T"/n1[123].log && break; sleep 0.1; done
grep -h "TLS connection refused" "$T"/n1[123].log | head -1 | sed 's/^/# /'
grep -q "TLS connection refused" "$T"/n1[123].log && ok "the cluster refuses the rogue's TLS" ||
  not_ok "no refusal logged"
racks=$(mdb_stat -s racks "$T/n16/store" 2>/dev/null | awk '/Entries/ {print $2}')
[ "${racks:-0}" = 0 ] && ok "the rogue holds no entry of the cluster" || not_ok "the rogue holds $racks racks"
kill -9 "$ADD" 2>/dev/null; kill_node 16
bmctl cluster remove 16 >/dev/null 2>&1
# A good node (a certificate of the fleet CA) joins and gets everything.
start_node 17 --join "$(urls 11 12 13)"
for _ in $(seq 1 100); do [ "$(voters "$L")" = 4 ] && break; sleep 0.1; done
[ "$(voters "$L")" = 4 ] && ok "a node with a certificate of the CA joins" || not_ok "voters: $(voters "$L")"
for _ in $(seq 1 100); do [ "$(count_on 17)" = "$(count_on "$L")" ] && break; sleep 0.1; done
[ "$(count_on 17)" = "$(count_on "$L")" ] && ok "and holds every machine ($(count_on 17))" ||
  not_ok "node 17 holds $(count_on 17), the leader $(count_on "$L")"
finish
