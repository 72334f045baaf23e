#!/usr/bin/env bash
# The tiny disk image of the CI lab, from Debian packages only: a root of
# busybox-static, Debian's kernel and an initrd (its disk, filesystem and
# NIC modules), /etc/os-release (bmtiny 1) and the first-boot phone-home
# (tiny-init), made a disk that boots BIOS and UEFI by image-disk.sh.
#   usage: image-tiny.sh KERNEL_ROOT BUSYBOX OUT.raw.zst
# KERNEL_ROOT: the unpacked kernel package (boot/vmlinuz-*, lib/modules).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/build-lib.sh"
KROOT=$1 BUSYBOX=$2 OUT=$3
SIZE_MB=${TINY_SIZE_MB:-64}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# Disk, filesystems (ext4 asks for crc32c through the crypto API: no
# depends= names it) and the lab's NICs (e1000 for BIOS, virtio for UEFI).
MODS="virtio_pci virtio_blk crc32c_generic ext4 vfat nls_cp437 nls_ascii e1000 virtio_net efivarfs"

# The root filesystem, and its initrd.
R=$W/root I=$W/initrd
put_busybox "$BUSYBOX" "$R"
put_busybox "$BUSYBOX" "$I"
mkdir -p "$R/boot" "$R/lib" "$I/lib"
for d in "$R" "$I"; do
  install -m644 "$HERE/ramdisk-lib.sh" "$d/lib/bm.sh"
  install -m755 "$HERE/udhcpc.script" "$d/etc/udhcpc.script"
done
put_modules "$KROOT" "$I" $MODS
install -m755 "$HERE/tiny-initrd-init" "$I/init"
install -m755 "$HERE/tiny-init" "$R/sbin/init"
cat >"$R/etc/os-release" <<E
PRETTY_NAME="bmtiny 1 (the lab's tiny image)"
NAME=bmtiny
ID=bmtiny
VERSION_ID=1
E
pack "$I" "$R/boot/initrd.img"
cp "$KROOT"/boot/vmlinuz-* "$R/boot/vmlinuz"

"$HERE/image-disk.sh" "$R" /boot/vmlinuz /boot/initrd.img "console=ttyS0 quiet panic=-1" \
  "$SIZE_MB" "$OUT"
