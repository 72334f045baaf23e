#!/usr/bin/env bash
# The Debian 12 disk image of `lab.sh demo`, from the Debian archive apt
# uses (its first deb.debian.org-style URI; BMLAB_MIRROR overrides):
# debootstrap minbase + linux-image-amd64 + systemd + cloud-init (NoCloud
# only) + ifupdown and isc-dhcp-client (cloud-init's fallback network:
# DHCP on the first NIC) + curl (the user-data's phone-home), made a disk
# that boots BIOS and UEFI by image-disk.sh. Cached: built again only when
# this script changes. Root only (debootstrap).
#   usage: image-debian.sh OUT.raw.zst
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
STAMP=$(cat "$0" "$HERE/image-disk.sh" | sha256sum | cut -c1-16)
[ "$(cat "$OUT.stamp" 2>/dev/null)" = "$STAMP" ] && [ -f "$OUT" ] &&
  { echo "image-debian: up to date ($OUT)"; exit 0; }
MIRROR=${BMLAB_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources \
  2>/dev/null | head -1)}
MIRROR=${MIRROR:-$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
[ -n "$MIRROR" ] || { echo "image-debian: no Debian mirror in apt's sources" >&2; exit 1; }
W=$(mktemp -d /var/tmp/bm-debian.XXXXXX)
R=$W/root
# The chroot's kernel filesystems, always unmounted.
down() {
  for m in sys dev/pts dev proc; do mountpoint -q "$R/$m" && umount -l "$R/$m"; done
  rm -rf --one-file-system "$W"
}
trap down EXIT
s=$(date +%s)
# minbase first, the rest with apt inside it: debootstrap's own --include
# cannot configure python3's packages in its base pass.
debootstrap --variant=minbase --include=systemd-sysv,udev,kmod,ca-certificates \
  bookworm "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 ||
  { tail -20 "$W/debootstrap.log" >&2; exit 1; }
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount -t devpts devpts "$R/dev/pts"
mount -t sysfs sysfs "$R/sys"
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d" # no service starts in the chroot
chmod +x "$R/usr/sbin/policy-rc.d"
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  linux-image-amd64 initramfs-tools cloud-init ifupdown isc-dhcp-client curl e2fsprogs \
  >"$W/apt.log" 2>&1 || { tail -20 "$W/apt.log" >&2; exit 1; }
rm -f "$R/usr/sbin/policy-rc.d"
for m in sys dev/pts dev proc; do umount -l "$R/$m"; done
echo "LABEL=bmroot / ext4 defaults 0 1" >"$R/etc/fstab"
cat >"$R/etc/cloud/cloud.cfg.d/90-bm.cfg" <<E
# The seed is the CIDATA partition the deploy program wrote.
datasource_list: [NoCloud, None]
E
echo localhost >"$R/etc/hostname"
: >"$R/etc/machine-id" # made at first boot
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* "$R"/usr/share/doc "$R"/usr/share/man
SIZE_MB=$(( $(du -sm "$R" | cut -f1) * 13 / 10 + 64 ))
"$HERE/image-disk.sh" "$R" /vmlinuz /initrd.img "root=LABEL=bmroot ro console=ttyS0" "$SIZE_MB" "$OUT"
echo "$STAMP" >"$OUT.stamp"
echo "image-debian: $OUT ($(stat -c %s "$OUT") bytes, $SIZE_MB MiB raw) built in $(($(date +%s) - s)) s"
