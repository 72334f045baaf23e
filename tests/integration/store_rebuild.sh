#!/usr/bin/env bash
# The coordinator's store is unsynced (a replica of the Raft log): after a
# process crash it is used as it stands; after a system crash (the marker
# DATA/store.state says "open" under another boot id) it is moved aside and
# rebuilt from the Raft snapshot and log. Simulated here by rewriting the
# marker and tearing the store's file.
. "$(dirname "$0")/lib.sh"
ARGS=(--snapshot-threshold 16)
add() { # add FROM TO: one machine per write
  for i in $(seq "$1" "$2"); do
    bmctl machine add "m$i" --rack r1 --mac "$(printf '52:54:00:aa:%02x:%02x' $((i / 256)) $((i % 256)))" \
      >/dev/null || return 1
  done
}
count() { bmctl get machines -o json | grep -c '"name"'; }
start_coord "${ARGS[@]}"
printf 'sites: [{name: s1}]\nracks: [{name: r1, site: s1, subnet: 10.0.0.0/16}]\n' >"$T/base.yaml"
expect_exit 0 "base fleet" bmctl apply -f "$T/base.yaml"
add 1 40 && ok "40 writes, one machine each" || not_ok "writes failed"
expect_in "$T/data/store.state" " open" "the marker says the store is open"
kill9_coord
start_coord "${ARGS[@]}"
[ "$(count)" = 40 ] && ok "after kill -9 the store is used as it stands: 40 machines" ||
  not_ok "after kill -9: $(count) machines"
grep -q "rebuilt from the Raft" "$T/coord.log" && not_ok "a process crash rebuilt the store" ||
  ok "a process crash does not rebuild"
add 41 50 || not_ok "more writes"
kill9_coord
# A system crash: the marker from another boot, the store's file torn.
echo "00000000-0000-0000-0000-000000000000 open" >"$T/data/store.state"
head -c 65536 /dev/urandom | dd of="$T/data/store/data.mdb" bs=4096 seek=2 conv=notrunc status=none
start_coord "${ARGS[@]}"
expect_in "$T/coord.log" "rebuilt from the Raft snapshot and log" "a system crash: the store is rebuilt"
ls -d "$T"/data/store.crashed-* >/dev/null 2>&1 && ok "the torn store is kept aside" ||
  not_ok "no store.crashed-*"
[ "$(count)" = 50 ] && ok "every acknowledged write is back: 50 machines" || not_ok "rebuilt: $(count) machines"
expect_exit 0 "writes go on" bmctl machine add m51 --rack r1 --mac 52:54:00:bb:00:01
kill -TERM "$COORD_PID"; wait "$COORD_PID"; COORD_PID=
expect_in "$T/data/store.state" " clean" "a clean shutdown marks the store clean"
finish
