#!/usr/bin/env bash
# bmcoord driven by bmctl only: apply, get, describe, delete, add, push,
# refusals with their exit codes, kill -9 and restart with every
# acknowledged write still there, clean shutdown, one coordinator per dir.
. "$(dirname "$0")/lib.sh"
FLEET="$BM_SRC/deploy/examples/fleet.yaml"

start_coord
# One version, from CMake's project(VERSION), in all three programs and in
# what the coordinator reports.
V=$(sed -n 's/^project(baremetal VERSION \([0-9.]*\).*/\1/p' "$BM_SRC/CMakeLists.txt")
for p in bmctl bmcoord bmagent; do
  [ "$("$BM_BIN/$p" --version)" = "$p $V" ] && ok "$p --version says $V" ||
    not_ok "$p --version: $("$BM_BIN/$p" --version 2>&1)"
done
expect_exit 0 "status" bmctl status
expect_in "$T/out" "(bmcoord $V)" "bmctl status names the coordinator's version"
expect_exit 0 "apply example fleet" bmctl apply -f "$FLEET"
expect_in "$T/out" "12 created, 0 updated, 0 unchanged (revision 1)" "apply reports what it created"
expect_exit 0 "apply again" bmctl apply -f "$FLEET"
expect_in "$T/out" "0 created, 0 updated, 12 unchanged (revision 1)" "a second apply changes nothing"

for k in sites racks machines profiles images; do
  expect_exit 0 "get $k" bmctl get "$k"; expect_golden "get_$k.txt"
done
expect_exit 0 "get machines -o json" bmctl get machines -o json; expect_golden get_machines.json
expect_exit 0 "describe machine" bmctl describe machine r12n01; expect_golden describe_machine.txt
expect_exit 0 "describe rack -o json" bmctl -o json describe rack rack12; expect_golden describe_rack.json
expect_exit 0 "describe profile" bmctl describe profile tiny; expect_golden describe_profile.txt
expect_exit 0 "filters" bmctl get machines --site fra1 --rack rack12 -l role=gpu --state ready
expect_golden get_machines_filtered.txt
expect_exit 0 "get one machine" bmctl get machine r11n03
expect_in "$T/out" "52:54:00:11:00:03" "get NAME shows that machine"

# Refusals: exit 1 with the reason; usage errors exit 2.
cat >"$T/bad.yaml" <<'Y'
machines:
  - {name: dup, rack: rack12, mac: "52:54:00:12:00:01", ip: 10.12.0.99}
  - {name: far, rack: rack11, mac: "52:54:00:99:00:01", ip: 10.99.0.5}
  - {name: ghost, rack: rack99, mac: "52:54:00:99:00:02"}
Y
expect_exit 1 "fleet with conflicts is refused" bmctl apply -f "$T/bad.yaml"
expect_in "$T/err" "bad.yaml:2: machine dup: mac: 52:54:00:12:00:01 is already the MAC of machine r12n01" "duplicate MAC named with its line"
expect_in "$T/err" "bad.yaml:3: machine far: ip: 10.99.0.5 is outside the subnet of rack rack11" "IP outside subnet"
expect_in "$T/err" "bad.yaml:4: machine ghost: rack: rack rack99 does not exist" "unknown rack"
printf 'machines:\n  - {name: Bad_Name, rack: rack12, mac: "zz"}\n' >"$T/bad2.yaml"
expect_exit 1 "malformed entries refused before sending" bmctl apply -f "$T/bad2.yaml"
expect_in "$T/err" "refused, nothing sent: 2 problems" "local check lists every problem"
expect_exit 0 "nothing of a refused fleet was applied" bmctl get machines -o json
if grep -q '"dup"\|"far"' "$T/out"; then not_ok "refused entries leaked"; else ok "refused entries absent"; fi
expect_exit 1 "delete a rack that holds machines" bmctl delete rack rack12
expect_in "$T/err" "rack rack12 still holds machines" "delete refusal says why"
expect_exit 1 "get a missing machine" bmctl get machine nosuch
expect_exit 2 "unknown kind" bmctl get gizmos
expect_exit 2 "bad output format" bmctl -o yaml get machines
expect_exit 2 "machine add without mac" bmctl machine add x --rack rack12
expect_exit 1 "unreachable coordinator" bmctl --coordinator "ipc://$T/nobody.sock" --timeout 0.3 get sites

# Writes through the single-object commands.
expect_exit 0 "delete machine" bmctl delete machine r12n03
expect_exit 0 "machine add" bmctl machine add r12n09 --rack rack12 --mac 52:54:00:12:00:09 \
  --ip 10.12.0.19 --profile tiny --bmc ipmi://u:p@10.12.1.19 -l role=db -l tier=1
expect_exit 1 "machine add of an existing name" bmctl machine add r12n09 --rack rack12 --mac 52:54:00:12:00:0a
expect_in "$T/err" "machine r12n09 already exists" "exists is reported"
printf 'test' >"$T/kernel"
expect_exit 0 "image push (declared digest matches)" bmctl image push tiny-kernel "$T/kernel"
printf 'tesx' >"$T/initrd"
expect_exit 1 "image push with other bytes than declared" bmctl image push tiny-initrd "$T/initrd"
expect_in "$T/err" "declares sha256 60303ae2" "digest mismatch is reported"
yes bm-image-block | head -c 5000000 >"$T/big.img"
expect_exit 0 "image push of a 5 MB file in chunks" bmctl image push big "$T/big.img"
expect_in "$T/out" "$(sha256sum "$T/big.img" | cut -c1-64)" "push reports the file's sha256"
stored=$(find "$T/data/blobs/sha256" -type f -name "$(sha256sum "$T/big.img" | cut -c1-64)")
if [ -n "$stored" ] && cmp -s "$stored" "$T/big.img"; then ok "blob stored byte for byte"; else not_ok "blob missing or different"; fi
expect_exit 0 "get images" bmctl get images; expect_golden get_images_after_push.txt

# An interrupted push resumes where the coordinator's partial copy ends.
yes bm-resume-block | head -c 150000000 >"$T/huge.img"
huge_sha=$(sha256sum "$T/huge.img" | cut -c1-64)
"$BM_BIN/bmctl" image push huge "$T/huge.img" >/dev/null 2>&1 &
pusher=$!
for _ in $(seq 1 300); do
  [ "$(stat -c %s "$T/data/blobs/partial/$huge_sha" 2>/dev/null || echo 0)" -gt 0 ] && break
  sleep 0.02
done
kill -9 "$pusher" 2>/dev/null; wait "$pusher" 2>/dev/null
partial=$(stat -c %s "$T/data/blobs/partial/$huge_sha" 2>/dev/null || echo 0)
echo "# push interrupted with $partial bytes at the coordinator"
if [ "$partial" -gt 0 ] && [ "$partial" -lt 150000000 ]; then
  expect_exit 0 "push again after an interrupted push" bmctl image push huge "$T/huge.img"
  expect_in "$T/err" "resuming the upload at" "the second push resumes"
  if cmp -s "$T/data/blobs/sha256/$huge_sha" "$T/huge.img"; then ok "resumed blob is byte for byte"; else
    not_ok "resumed blob differs"; fi
else
  echo "# the push finished before it could be interrupted (partial=$partial); resume not exercised"
fi

# kill -9: every acknowledged write survives.
bmctl get machines -o json >"$T/before.json"; bmctl get images -o json >>"$T/before.json"
kill9_coord
start_coord
bmctl get machines -o json >"$T/after.json"; bmctl get images -o json >>"$T/after.json"
if cmp -s "$T/before.json" "$T/after.json"; then ok "state after kill -9 equals state before"; else
  not_ok "state changed across kill -9"; diff "$T/before.json" "$T/after.json" | head; fi

# One coordinator per data dir; clean shutdown on SIGTERM.
"$BM_BIN/bmcoord" --data-dir "$T/data" --listen "ipc://$T/other.sock" 2>"$T/second.log"
[ $? = 1 ] && grep -q "in use by another bmcoord" "$T/second.log" && ok "second bmcoord on the same dir refused" \
  || not_ok "second bmcoord was not refused"
# Its own data dir, but the API address is taken: the Raft node it started
# is shut down in order and it exits 1 (the log is checked for sanitizer
# reports by finish).
"$BM_BIN/bmcoord" --data-dir "$T/data3" --listen "$BMCTL_COORDINATOR" $(coord_tls 2) 2>"$T/third.log"
[ $? = 1 ] && grep -q "cannot listen" "$T/third.log" && ok "a taken API address: exit 1, said why" \
  || not_ok "taken address: $(cat "$T/third.log")"
# That dir's Raft metadata turned to garbage: Raft refuses to start, and
# what it had opened is closed before the exit (a freed io was read there
# once: the sanitizer check of fourth.log at finish).
head -c 16 /dev/urandom >"$T/data3/raft/metadata1"
"$BM_BIN/bmcoord" --data-dir "$T/data3" --listen "ipc://$T/fourth.sock" 2>"$T/fourth.log"
[ $? = 1 ] && grep -q "error raft " "$T/fourth.log" && ok "garbage Raft metadata: exit 1, said by raft" \
  || not_ok "garbage Raft metadata: $(cat "$T/fourth.log")"
kill -TERM "$COORD_PID"; wait "$COORD_PID"; rc=$?; COORD_PID=
[ "$rc" = 0 ] && ok "SIGTERM exits 0" || not_ok "SIGTERM exit $rc"
expect_in "$T/coord.log" "info coord stopped" "shutdown is logged"
finish
