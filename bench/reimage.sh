#!/usr/bin/env bash
# bench/reimage.sh: image-based reimaging with real firmware (the lab's
# bench rack: eight BIOS machines, SeaBIOS + QEMU's iPXE ROM, each with a
# blank virtio disk; TCG or KVM as the lab finds), three measures:
#   1. `bmctl reimage bN.. --profile P --wait` -> every machine deployed
#      (written, rebooted from its disk, its OS called back booted), for
#      1, 4 and 8 machines, with the tiny image (lab-disk) and, with -d,
#      the Debian 12 image (lab-debian; built and cached first);
#   2. the deploy program's write rate into the VM's disk (image raw bytes
#      over the time from its disk choice to the image written and synced:
#      transfer, digest, decompression and writes; read from the consoles
#      of the 1-machine runs) against `zstd -dc | dd oflag=direct`
#      of the same image on this host into a file on the filesystem that
#      holds the VM disks (the physical reference);
#   3. the agent's image serving: 8 concurrent curls of the image from the
#      agent on the rack's bridge, aggregate MB/s, against one plain curl
#      (the link's ceiling on this host), after one warm-up fetch.
# Medians of ROUNDS.   usage: bench/reimage.sh [-r ROUNDS] [-n "1 4 8"] [-d]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 COUNTS="1 4 8" DEBIAN=0
while getopts r:n:d o; do
  case $o in r) ROUNDS=$OPTARG ;; n) COUNTS=$OPTARG ;; d) DEBIAN=1 ;; *) exit 2 ;; esac
done
SRC=$PWD
./deploy/install-deps.sh --bench >/dev/null
LAB=$SRC/deploy/lab/lab.sh
export BMLAB_RUN=${BMLAB_RUN:-/var/tmp/bmlab-bench}
RUN=$BMLAB_RUN NS=bml-rack12
CACHE=${BMLAB_CACHE:-/var/cache/bmlab}
W=$(mktemp -d /var/tmp/bm-bench-reimage.XXXXXX)
trap '"$LAB" down >/dev/null 2>&1; rm -rf "$W"' EXIT
[ "$DEBIAN" = 1 ] && "$SRC/deploy/lab/image-debian.sh" "$CACHE/artifacts/debian12.raw.zst"
"$LAB" up --bench >"$W/up.log" 2>&1 || { tail -20 "$W/up.log"; exit 1; }
ART=$CACHE/artifacts ACCEL=$(cat "$RUN/accel")
now() { date +%s.%N; }
. bench/stats.sh

reimage() { # reimage PROFILE N: seconds from the command to the last deployed
  local t0 names= i
  for i in $(seq 1 "$2"); do names="$names b$i"; done
  t0=$(now)
  # shellcheck disable=SC2086
  "$LAB" bmctl reimage $names --profile "$1" --batch "$2" --timeout 20m --wait >"$W/out" 2>&1 ||
    { echo "reimage $1 x$2 failed: $(tail -3 "$W/out")" >&2; return 1; }
  echo "$(now) - $t0" | bc -l
}
# write_rates: MB/s of each deploy since the last mark, from b1's console
# ("disk chosen" ... "image written disk=vda bytes=N", UTC stamps).
write_rates() {
  tail -c +"$(($(cat "$W/mark") + 1))" "$RUN/rack12/bmc/b1/serial.log" | python3 -c '
import re, sys
from datetime import datetime
chosen = None
for line in sys.stdin.buffer.read().decode("utf-8", "replace").splitlines():
    m = re.search(r"(\d{4}-\d\d-\d\dT[\d:.]+)Z info deploy (disk chosen|image written disk=\S+ bytes=(\d+))", line)
    if not m:
        continue
    t = datetime.fromisoformat(m.group(1)).timestamp()
    if m.group(3) is None:
        chosen = t
    elif chosen is not None:
        print("%.1f" % (int(m.group(3)) / 1e6 / (t - chosen)))
        chosen = None'
}
mark() { stat -c %s "$RUN/rack12/bmc/b1/serial.log" 2>/dev/null >"$W/mark" || echo 0 >"$W/mark"; }

echo "bench/reimage.sh: accelerator $ACCEL, $ROUNDS round(s), $(nproc) CPUs"
printf '%-8s %3s %12s\n' image N "deployed(s)"
profiles="lab-disk:tiny"
[ "$DEBIAN" = 1 ] && profiles="$profiles lab-debian:debian12"
for pi in $profiles; do
  p=${pi%%:*} img=${pi#*:}
  : >"$W/rates-$img"
  for n in $COUNTS; do
    : >"$W/t"
    for _ in $(seq 1 "$ROUNDS"); do
      mark
      reimage "$p" "$n" >>"$W/t"
      [ "$n" = 1 ] && write_rates >>"$W/rates-$img"
    done
    printf '%-8s %3s %12.1f\n' "$img" "$n" "$(median <"$W/t")"
  done
done

# 2. the write rate against the host's zstd -dc | dd.
echo
printf '%-8s %18s %22s %7s\n' image "bmdeploy in VM MB/s" "host zstd|dd MB/s" ratio
for pi in $profiles; do
  img=${pi#*:}
  [ -s "$W/rates-$img" ] || continue
  raw=$(zstd -lv "$ART/$img.raw.zst" 2>/dev/null | sed -n 's/.*Decompressed Size: .*(\([0-9]*\) B).*/\1/p')
  : >"$W/ref"
  for _ in $(seq 1 "$ROUNDS"); do
    t0=$(now)
    zstd -q -dc "$ART/$img.raw.zst" | dd of="$RUN/ref.raw" bs=4M oflag=direct iflag=fullblock status=none
    echo "$raw / 1000000 / ($(now) - $t0)" | bc -l >>"$W/ref"
    rm -f "$RUN/ref.raw"
  done
  vm=$(median <"$W/rates-$img") host=$(median <"$W/ref")
  printf '%-8s %18.1f %22.1f %6.2fx\n' "$img" "$vm" "$host" "$(echo "$vm / $host" | bc -l)"
done

# 3. the agent serving one image to 8 at once, against one plain curl.
sha=$(sha256sum "$ART/tiny.raw.zst" | cut -d' ' -f1)
url=http://10.12.0.1:8080/images/$sha
get() { ip netns exec "$NS" curl -s -o /dev/null -w '%{size_download}\n' "$url"; }
: >"$W/one" && : >"$W/eight"
get >/dev/null # the warm-up: the agent's file in the page cache
for _ in $(seq 1 "$ROUNDS"); do
  t0=$(now); b=$(get); echo "$b / 1000000 / ($(now) - $t0)" | bc -l >>"$W/one"
  t0=$(now)
  for _ in 1 2 3 4 5 6 7 8; do get >>"$W/sizes" & done
  wait
  echo "8 * $b / 1000000 / ($(now) - $t0)" | bc -l >>"$W/eight"
done
echo
printf '%-28s %10s\n' "agent image serving" "MB/s"
printf '%-28s %10.0f\n' "1 client (the ceiling)" "$(median <"$W/one")"
printf '%-28s %10.0f  (%.2fx)\n' "8 clients, aggregate" "$(median <"$W/eight")" \
  "$(echo "$(median <"$W/eight") / $(median <"$W/one")" | bc -l)"
