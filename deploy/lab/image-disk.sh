#!/usr/bin/env bash
# A root filesystem tree made into one GPT disk image that boots BIOS and
# UEFI, without a loop device or a mount (the lab's tiny and Debian images):
#   p1  BIOS boot (1 MiB)  GRUB's i386-pc core.img, behind boot.img in the MBR
#   p2  ESP (16 MiB, FAT)  GRUB's x86_64-efi image as \EFI\BOOT\BOOTX64.EFI;
#       with SIGNED_EFI=DIR (shimx64.efi.signed, grubx64.efi.signed), Debian's
#       signed shim there instead, its signed GRUB beside it (what shim
#       loads) and the config as \EFI\debian\grub.cfg (that GRUB's
#       prefix): the image boots with Secure Boot on
#   p3  the root tree as ext4, labelled bmroot
# Both GRUBs carry the same embedded config: find bmroot, boot KERNEL and
# INITRD (paths in the tree) with ARGS. Compressed with zstd.
#   usage: image-disk.sh ROOT_DIR KERNEL INITRD ARGS SIZE_MB OUT.raw.zst
set -euo pipefail
ROOT=$1 KERNEL=$2 INITRD=$3 ARGS=$4 SIZE_MB=$5 OUT=$6
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat >"$W/grub.cfg" <<E
search --no-floppy --label bmroot --set root
linux $KERNEL $ARGS
initrd $INITRD
boot
E
GMODS="part_gpt ext2 search search_label linux echo normal"
grub-mkimage -O i386-pc -o "$W/core.img" -p /boot/grub -c "$W/grub.cfg" biosdisk $GMODS
grub-mkimage -O x86_64-efi -o "$W/bootx64.efi" -p /boot/grub -c "$W/grub.cfg" efi_gop $GMODS
mkfs.vfat -n ESP -C "$W/esp.img" 16384 >/dev/null
mmd -i "$W/esp.img" ::/EFI ::/EFI/BOOT
if [ -n "${SIGNED_EFI:-}" ]; then
  mmd -i "$W/esp.img" ::/EFI/debian
  mcopy -i "$W/esp.img" "$SIGNED_EFI/shimx64.efi.signed" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -i "$W/esp.img" "$SIGNED_EFI/grubx64.efi.signed" ::/EFI/BOOT/grubx64.efi
  mcopy -i "$W/esp.img" "$W/grub.cfg" ::/EFI/debian/grub.cfg
else
  mcopy -i "$W/esp.img" "$W/bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
fi

# The disk: table, then each part at its place.
truncate -s "${SIZE_MB}M" "$W/disk.raw"
printf '%s\n' 'label: gpt' 'start=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649' \
  'size=32768, type=U, name=ESP' 'type=L, name=bmroot' | sfdisk -q "$W/disk.raw"
read -r S3 N3 < <(sfdisk --json "$W/disk.raw" | python3 -c \
  "import json,sys; p=json.load(sys.stdin)['partitiontable']['partitions'][2]; print(p['start'], p['size'])")
mkfs.ext4 -q -F -b 4096 -L bmroot -d "$ROOT" -E root_owner=0:0 "$W/root.ext4" $((N3 / 8)) >/dev/null
put() { dd if="$1" of="$W/disk.raw" bs=512 seek="$2" conv=notrunc,sparse status=none; }
put "$W/esp.img" 4096
put "$W/root.ext4" "$S3"
# BIOS: boot.img's code into the MBR (its table kept), pointing at
# core.img in p1 (LBA 2048); core.img's first sector lists the rest of it.
# What grub-bios-setup does, on a file.
core_sectors=$(( ($(stat -c %s "$W/core.img") + 511) / 512 ))
[ "$core_sectors" -le 2048 ] || { echo "image-disk: core.img does not fit p1" >&2; exit 1; }
le() { python3 -c "import sys; sys.stdout.buffer.write(($1).to_bytes($2, 'little'))"; }
patch() { dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
le 2049 8 | patch "$W/core.img" $((0x1f4))                  # the blocklist: start
le $((core_sectors - 1)) 2 | patch "$W/core.img" $((0x1fc)) # its length
put "$W/core.img" 2048
dd if=/usr/lib/grub/i386-pc/boot.img of="$W/disk.raw" bs=440 count=1 conv=notrunc status=none
le 2048 8 | patch "$W/disk.raw" $((0x5c))                   # boot.img's kernel sector
zstd -q -f -T0 -12 "$W/disk.raw" -o "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
