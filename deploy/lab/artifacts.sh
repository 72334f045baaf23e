#!/usr/bin/env bash
# Boot artefacts of the lab, from Debian packages only, into a cache:
#   vmlinuz         Debian's kernel (linux-image-amd64's current version)
#   initrd.img      the stand-in installer: busybox-static + the NIC
#                   modules + installer-init
#   deploy.img      the deploy ramdisk: busybox-static + NIC, disk and loop
#                   modules + bmdeploy and e2fsck/resize2fs with their
#                   libraries + deploy-init
#   tiny.raw.zst    the tiny disk image (image-tiny.sh)
#   undionly.kpxe, ipxe.efi   from the ipxe package
#   OVMF_CODE.fd, OVMF_VARS.fd  from ovmf; OVMF_CODE.sb.fd, OVMF_VARS.ms.fd
#                   its Secure Boot build and variables with Microsoft's keys
#                   enrolled and Secure Boot on
#   shimx64.efi.signed, grubnetx64.efi.signed, grubx64.efi.signed  Debian's
#                   signed shim (shim-signed) and GRUBs (grub-efi-amd64-
#                   signed): the agent's loader grub, the disk images' ESP
# The ramdisks are reproducible (fixed mtimes, sorted cpio, gzip -n).
# The kernel and busybox-static are fetched with apt-get download and
# unpacked here: nothing is installed on the host (busybox-static would
# replace the busybox package the tests use). bmdeploy is built from this
# tree without sanitizers in CACHE/build-deploy-<hash of this tree's path>
# (a cache shared by two checkouts must not mix their CMake caches;
# BMDEPLOY=FILE uses that one). Idempotent: a stamp of the inputs skips a rebuild.
#   usage: artifacts.sh [CACHE_DIR]   (default $BMLAB_CACHE or /var/cache/bmlab)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
CACHE=${1:-${BMLAB_CACHE:-/var/cache/bmlab}}
A=$CACHE/artifacts
mkdir -p "$A"
. "$HERE/build-lib.sh"
KPKG=$(kernel_pkg)
KVER=${KPKG#linux-image-}
DEB=$(fetch "$KPKG")
BBDEB=$(fetch busybox-static)
SHIMDEB=$(fetch shim-signed)
GRUBDEB=$(fetch grub-efi-amd64-signed)
NICS="e1000 virtio_pci virtio_net"
DISKS="virtio_blk virtio_scsi sd_mod loop"
if [ -z "${BMDEPLOY:-}" ]; then
  BD=$CACHE/build-deploy-$(printf %s "$SRC" | sha256sum | cut -c1-12)
  cmake -S "$SRC" -B "$BD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BD" -j"$(nproc)" --target bmdeploy-bin >/dev/null
  BMDEPLOY=$BD/bin/bmdeploy
fi
STAMP=$( (basename -a "$DEB" "$BBDEB" "$SHIMDEB" "$GRUBDEB"; echo "$NICS $DISKS"; sha256sum "$BMDEPLOY"
  cat "$HERE"/{installer-init,deploy-init,ramdisk-lib.sh,udhcpc.script,build-lib.sh} \
    "$HERE"/{image-tiny.sh,image-disk.sh,tiny-init,tiny-initrd-init}
  ls -l /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi /usr/share/OVMF/OVMF_CODE_4M.fd \
    /usr/share/OVMF/OVMF_CODE_4M.secboot.fd /usr/share/OVMF/OVMF_VARS_4M.ms.fd \
    /usr/lib/grub/i386-pc/boot.img /usr/lib/grub/x86_64-efi/linux.mod) |
  sha256sum | cut -c1-16)
if [ "$(cat "$A/stamp" 2>/dev/null)" = "$STAMP" ]; then
  echo "artifacts: up to date ($A, kernel $KVER)"
  exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# The kernel package unpacked once (its modules are picked from it).
K=$CACHE/kernel/$KVER
if [ ! -e "$K/done" ]; then
  rm -rf "$K" && mkdir -p "$K"
  dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$K" ./boot ./lib && touch "$K/done"
fi
dpkg-deb --fsys-tarfile "$BBDEB" | tar -x -C "$TMP" ./bin/busybox
# The signed boot programs, unpacked (not installed: shim-signed's scripts
# would run grub-install on the host).
dpkg-deb --fsys-tarfile "$SHIMDEB" | tar -x -C "$TMP" ./usr/lib/shim/shimx64.efi.signed
dpkg-deb --fsys-tarfile "$GRUBDEB" | tar -x -C "$TMP" ./usr/lib/grub/x86_64-efi-signed
cp "$TMP/usr/lib/shim/shimx64.efi.signed" "$TMP"/usr/lib/grub/x86_64-efi-signed/grub{net,}x64.efi.signed "$A/"

# ramdisk DIR INIT MOD...: busybox, /lib/bm.sh, the modules, INIT as /init.
ramdisk() {
  local d=$1 init=$2
  shift 2
  put_busybox "$TMP/bin/busybox" "$d"
  install -D -m644 "$HERE/ramdisk-lib.sh" "$d/lib/bm.sh"
  install -m755 "$HERE/udhcpc.script" "$d/etc/udhcpc.script"
  put_modules "$K" "$d" "$@"
  install -m755 "$HERE/$init" "$d/init"
}
ramdisk "$TMP/installer" installer-init $NICS
pack "$TMP/installer" "$A/initrd.img"
ramdisk "$TMP/deploy" deploy-init $NICS $DISKS efivarfs
put_program "$BMDEPLOY" "$TMP/deploy"
put_program /usr/sbin/e2fsck "$TMP/deploy"
put_program /usr/sbin/resize2fs "$TMP/deploy"
pack "$TMP/deploy" "$A/deploy.img"
s=$(date +%s)
SIGNED_EFI=$A "$HERE/image-tiny.sh" "$K" "$TMP/bin/busybox" "$A/tiny.raw.zst"
echo "artifacts: tiny.raw.zst built in $(($(date +%s) - s)) s"
cp "$K/boot/vmlinuz-$KVER" "$A/vmlinuz"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi "$A/"
cp /usr/share/OVMF/OVMF_CODE_4M.fd "$A/OVMF_CODE.fd"
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$A/OVMF_VARS.fd"
cp /usr/share/OVMF/OVMF_CODE_4M.secboot.fd "$A/OVMF_CODE.sb.fd"
cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$A/OVMF_VARS.ms.fd"
echo "$KVER" >"$A/kernel-version"
echo "$STAMP" >"$A/stamp"
(cd "$A" && ls -l vmlinuz initrd.img deploy.img tiny.raw.zst | awk '{print "artifacts:", $5, $NF}')
