#!/usr/bin/env bash
# The deploy program (bmdeploy) against a loop device, with the agent and
# the coordinator in namespaces. The machine (the client namespace, with
# its MAC) is reimaged with a disk image (GPT: BIOS boot, ESP, ext4 root;
# zstd): it takes its lease, reads its iPXE script and runs bmdeploy with
# the script's command line, as the deploy ramdisk does, onto a loop
# device listed in a sysfs folder of the test's.
#   1. grow off: the written partitions equal the image's, byte for byte;
#      the CIDATA partition holds the machine's seeds; the machine is
#      installed, its next script boots the local disk, and the booted
#      callback of its OS (from the seed on the disk) makes it deployed,
#      with the OS in describe and the trace;
#   2. grow on: the last partition and its ext4 reach the disk's end, the
#      filesystem is clean and holds the image's files;
#   3. the connection cut mid-image: resumed with Range, bytes equal;
#   4. one corrupt transfer: refused, then a fresh retry completes;
#   5. corrupt every time: never completed, failed "digest mismatch ...
#      after one fresh retry";
#   6. a disk smaller than the image: refused, "disk too small", the disk
#      untouched;
#   7. installed, its OS never calls back: "installed but never booted from
#      disk".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
LOOPS=()
loops_cleanup() { for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done; netns_cleanup; }
trap loops_cleanup EXIT
losetup -f >/dev/null 2>&1 || { echo "SKIP: no loop devices"; exit 77; }
MAC=52:54:00:15:00:01
U=http://10.15.0.1:8080

# The image: 48 MiB, three partitions, a root filesystem with a file.
mkdir -p "$T/rootfs/etc" "$T/root"
echo "tiny 1" >"$T/rootfs/etc/bm-release"
head -c 3000000 /dev/urandom >"$T/rootfs/blob"
truncate -s 48M "$T/img.raw"
printf 'label: gpt\n,1M,21686148-6449-6E6F-744E-656564454649\n,8M,U\n,,L\n' |
  sfdisk -q "$T/img.raw" || { echo "FATAL: sfdisk"; exit 1; }
part() { sfdisk --json "$1" | python3 -c "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][$2-1]; print(p['start'], p['size'])"; }
read -r S3 N3 < <(part "$T/img.raw" 3)
head -c 1048576 /dev/urandom | dd of="$T/img.raw" bs=512 seek=2048 conv=notrunc status=none
head -c 8388608 /dev/urandom | dd of="$T/img.raw" bs=512 seek=4096 conv=notrunc status=none
mkfs.ext4 -q -F -b 4096 -d "$T/rootfs" "$T/root.ext4" $((N3 / 8)) >/dev/null && dd if="$T/root.ext4" of="$T/img.raw" \
  bs=512 seek="$S3" conv=notrunc status=none || { echo "FATAL: mkfs.ext4"; exit 1; }
zstd -q -3 "$T/img.raw" -o "$T/img.zst"
ISHA=$(sha256sum "$T/img.zst" | cut -d' ' -f1)
ISIZE=$(stat -c %s "$T/img.zst")

netns_up 10.15.0.1/24
start_coord
head -c 100000 /dev/urandom >"$T/vmlinuz"
KSHA=$(sha256sum "$T/vmlinuz" | cut -d' ' -f1)
bmctl image push k "$T/vmlinuz" >/dev/null && bmctl image push disk "$T/img.zst" >/dev/null ||
  not_ok "images pushed"
fleet() { # fleet GROW
  cat >"$T/fleet.yaml" <<Y
sites: [{name: s}]
racks: [{name: rack15, site: s, subnet: 10.15.0.0/24, gateway: 10.15.0.1}]
images:
  - {name: k, sha256: "$KSHA", size: 100000}
  - {name: disk, sha256: "$ISHA", size: $ISIZE, kind: disk, format: raw.zst}
profiles:
  - name: img
    kernel: k
    disk_image: disk
    grow: $1
    root_device: {pick: largest}
    cmdline: "bm.image={{image_url}} bm.sha256={{image_sha256}} bm.format={{image_format}} bm.root={{root_device}} bm.grow={{grow}} bm.callback={{callback_url}} bm.token={{token}} bm.seed={{seed_url}}"
    templates:
      user-data: |
        #cloud-config
        # bm-phone-home: {{callback_url}} {{token}}
        runcmd:
          - [sh, -c, "wget -q -O- '{{callback_url}}?state=booted&token={{token}}'"]
machines:
  - {name: m1, rack: rack15, mac: "$MAC", ip: 10.15.0.11, profile: img, bmc: "manual://by-hand"}
Y
  bmctl apply -f "$T/fleet.yaml" >/dev/null || not_ok "fleet applied"
}
fleet false
cat >"$T/agent.yaml" <<Y
rack: rack15
data_dir: $T/agent-data
interfaces: [$IF_S]
tftp_root: $T/root
coordinator: [$BMCTL_COORDINATOR]
$(agent_tls rack15)
Y
start_agent "$T/agent.yaml"
for _ in $(seq 1 200); do [ -e "$T/agent-data/cache/sha256/$ISHA" ] && break; sleep 0.1; done
client_mac "$MAC"
in_c ip addr add 10.15.0.11/24 dev "$IF_C"
# range_server [ENV...]: the image over HTTP from another port, with faults.
RS_PID=
range_server() {
  [ -n "$RS_PID" ] && kill "$RS_PID" 2>/dev/null && wait "$RS_PID" 2>/dev/null
  env "$@" ip netns exec "$NS_S" python3 "$HERE/range_server.py" "$T" 8090 "$T/range.log" &
  RS_PID=$!
  for _ in $(seq 1 50); do in_c curl -s -o /dev/null -r 0-0 http://10.15.0.1:8090/img.zst && return; sleep 0.1; done
}

# disk SIZE: a loop device of SIZE as the machine's only disk, "vda" in
# the test's sysfs folder.
disk() {
  rm -rf "$T/sys" "$T/dev"; mkdir -p "$T/sys/block/vda" "$T/dev"
  truncate -s 0 "$T/disk.img"; truncate -s "$1" "$T/disk.img"
  LOOP=$(losetup -f --show -P "$T/disk.img") || { not_ok "losetup"; return 1; }
  LOOPS+=("$LOOP")
  echo $(($(blockdev --getsize64 "$LOOP") / 512)) >"$T/sys/block/vda/size"
  echo 0 >"$T/sys/block/vda/removable"; echo 0 >"$T/sys/block/vda/ro"
  ln -s "$LOOP" "$T/dev/vda"
}
undisk() { losetup -d "$LOOP"; }
# boot [IMAGE_URL]: reimage m1, take its script, run bmdeploy (the
# script's command line; the image from IMAGE_URL when given).
boot() {
  local op
  bmctl reimage m1 --timeout "${TIMEOUT:-60s}" >"$T/op" 2>&1 || { not_ok "reimage: $(cat "$T/op")"; return 1; }
  for _ in $(seq 1 100); do
    in_c curl -s --max-time 3 "$U/boot/$MAC.ipxe" >"$T/script"
    grep -q "bm.token=[0-9a-f]" "$T/script" && break
    sleep 0.1
  done
  CMDLINE=$(sed -n 's/^kernel [^ ]* //p' "$T/script")
  [ -n "${1:-}" ] && CMDLINE=$(echo "$CMDLINE" | sed "s|bm.image=[^ ]*|bm.image=$1|")
  in_c "$BM_BIN/bmdeploy" --cmdline "$CMDLINE" --sysroot "$T/sys" --dev "$T/dev" --no-reboot \
    >"$T/deploy.log" 2>&1
}
# booted: m1's OS calls back booted with the token of its last script.
booted() {
  local tok cb
  tok=$(echo "$CMDLINE" | sed -n 's/.*bm.token=\([0-9a-f]*\).*/\1/p')
  cb=$(echo "$CMDLINE" | sed -n 's/.*bm.callback=\([^ ]*\).*/\1/p')
  wait_state installed && in_c curl -s -o /dev/null --max-time 3 "$cb?state=booted&token=$tok&os=tiny%201" &&
    wait_state deployed
}
state() { bmctl get machines -o json | python3 -c "import json,sys; print([m for m in json.load(sys.stdin) if m['name']=='m1'][0]['state'])"; }
wait_state() { for _ in $(seq 1 150); do [ "$(state)" = "$1" ] && return 0; sleep 0.2; done; return 1; }
# same PART: partition PART on the disk equals the image's, byte for byte.
same() {
  local s n
  read -r s n < <(part "$T/img.raw" "$1")
  cmp -s <(dd if="$T/img.raw" bs=512 skip="$s" count="$n" status=none) \
    <(dd if="$LOOP" bs=512 skip="$s" count="$n" status=none)
}
seed() { # seed FILE: a seed file from the disk's CIDATA partition
  local s n
  read -r s n < <(part "$LOOP" 4)
  dd if="$LOOP" of="$T/cidata" bs=512 skip="$s" count="$n" status=none
  mtype -i "$T/cidata" "::$1"
}

# 1. grow off: a byte-exact copy, the seed, installed -> booted.
disk 128M
boot && ok "bmdeploy wrote the image and called back installed" ||
  { not_ok "bmdeploy: $(cat "$T/deploy.log")"; }
sfdisk -q --verify "$LOOP" >/dev/null 2>&1 && ok "the disk's GPT is valid (sfdisk --verify)" ||
  not_ok "GPT: $(sfdisk --verify "$LOOP" 2>&1)"
same 1 && same 2 && same 3 && ok "partitions 1-3 equal the image's (decompressed)" ||
  not_ok "written bytes differ from the image"
seed meta-data >"$T/md" 2>&1; expect_in "$T/md" "m1" "the CIDATA partition holds meta-data naming m1"
seed user-data >"$T/ud" 2>&1; expect_in "$T/ud" "bm-phone-home: $U/callback/$MAC" "and the user-data, callback and token rendered"
blkid -p -s LABEL -o value "$T/cidata" 2>/dev/null | grep -qx CIDATA && ok "blkid sees LABEL=CIDATA" ||
  not_ok "no CIDATA label on partition 4"
wait_state installed && ok "m1 is installed" || not_ok "m1 is $(state), not installed"
in_c curl -s --max-time 3 "$U/boot/$MAC.ipxe" >"$T/script2"
expect_in "$T/script2" "boot from the local disk" "installed: its next network boot exits to the disk"
read -r CB TOK < <(sed -n 's/^# bm-phone-home: //p' "$T/ud")
code() { in_c curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@"; }
[ "$(code "$CB?state=booted&token=$TOK&os=debian%2012&kernel=6.1.0-28-amd64")" = 200 ] &&
  ok "the booted callback with the seed's token: 200" || not_ok "booted callback refused"
wait_state deployed && ok "booted from disk: m1 is deployed" || not_ok "m1 is $(state)"
bmctl describe machine m1 >"$T/describe"
expect_in "$T/describe" "debian 12 (kernel 6.1.0-28-amd64)" "describe machine shows the OS it runs"
bmctl trace m1 >"$T/trace"
expect_in "$T/trace" "state=installed disk=vda" "the trace shows installed"
expect_in "$T/trace" "state=booted kernel=6.1.0-28-amd64 os=debian 12" "and booted os=debian 12"
expect_in "$T/trace" "installed -> deployed" "and the move to deployed"
[ "$(code "$CB?state=booted&token=$TOK")" = 403 ] && ok "the token is dead after booted" ||
  not_ok "token live after booted"
undisk

# 2. grow on: the root partition and its ext4 fill the disk.
fleet true
disk 160M
boot && wait_state installed && ok "grow: installed" || not_ok "grow: $(cat "$T/deploy.log")"
read -r s n < <(part "$LOOP" 3)
read -r s4 _ < <(part "$LOOP" 4)
[ $((s + n)) = "$s4" ] && ok "partition 3 grew up to the CIDATA partition" || not_ok "p3 $s+$n, p4 at $s4"
dd if="$LOOP" of="$T/p3" bs=512 skip="$s" count="$n" status=none
e2fsck -fn "$T/p3" >"$T/fsck" 2>&1 && ok "the grown ext4 is clean (e2fsck -fn)" ||
  not_ok "e2fsck: $(cat "$T/fsck")"
blocks=$(dumpe2fs -h "$T/p3" 2>/dev/null | awk -F: '/^Block count/ {print $2}' | tr -d ' ')
[ "$blocks" -ge $((n / 8 - 8)) ] && [ "$blocks" -gt $((N3 / 8)) ] &&
  ok "its filesystem grew with it ($((N3 / 8)) -> $blocks blocks)" || not_ok "fs blocks $blocks, partition $n sectors"
[ "$(debugfs -R 'cat /etc/bm-release' "$T/p3" 2>/dev/null)" = "tiny 1" ] &&
  ok "the image's files are in the grown filesystem" || not_ok "files lost"
booted || not_ok "grow: not deployed"
undisk
fleet false

# 3. the connection cut after 1 MB: resumed with Range.
disk 128M
range_server RANGE_CUT=1000000
: >"$T/range.log"
boot "http://10.15.0.1:8090/img.zst" && same 3 && ok "a cut transfer resumed: the bytes equal the image" ||
  not_ok "resume: $(cat "$T/deploy.log")"
booted || not_ok "resume: not deployed"
grep -q "range=bytes=1000000-" "$T/range.log" && ok "it asked Range: bytes=1000000-" ||
  not_ok "no Range resume: $(cat "$T/range.log")"
undisk

# 4. one corrupt transfer: the fresh retry completes.
range_server RANGE_CORRUPT=1
disk 128M
boot "http://10.15.0.1:8090/img.zst" && same 3 && ok "a corrupt transfer, then a fresh retry: written" ||
  not_ok "retry: $(cat "$T/deploy.log")"
expect_in "$T/deploy.log" "image refused pass=1" "the first pass was refused"
booted || not_ok "retry: not deployed"
undisk

# 5. corrupt every time: never completed, failed with the digest reason.
range_server RANGE_CORRUPT=9
disk 128M
boot "http://10.15.0.1:8090/img.zst" && not_ok "a corrupt image completed" ||
  ok "bmdeploy refused the corrupt image (exit 1)"
wait_state failed && ok "m1 failed" || not_ok "m1 is $(state)"
bmctl describe machine m1 >"$T/describe"
expect_in "$T/describe" "digest mismatch" "its reason: digest mismatch"
expect_in "$T/describe" "after one fresh retry" "after one fresh retry"
grep -q "state=installed" <(bmctl trace m1 | tail -3) && not_ok "installed after a corrupt image" ||
  ok "no installed callback"
undisk

# 6. a disk smaller than the image: refused, untouched.
disk 40M
boot && not_ok "a 40 MiB disk took a 48 MiB image" || ok "bmdeploy refused the small disk"
wait_state failed; bmctl describe machine m1 >"$T/describe"
expect_in "$T/describe" "too small" "the reason: disk too small"
cmp -s -n 40M "$T/disk.img" /dev/zero &&
  ok "the small disk was not written" || not_ok "the small disk was written"
undisk

# 7. installed, and its OS never calls back.
TIMEOUT=8s
disk 128M
boot && wait_state installed || not_ok "7: $(cat "$T/deploy.log")"
wait_state failed && ok "silent after installed: failed" || not_ok "m1 is $(state)"
bmctl describe machine m1 >"$T/describe"
expect_in "$T/describe" "installed but never booted from disk" "the reason: installed but never booted from disk"
undisk
finish
