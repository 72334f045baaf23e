#!/usr/bin/env bash
# Boot artefacts of the lab, from Debian packages only, into a cache:
#   vmlinuz      Debian's kernel (linux-image-amd64's current version)
#   initrd.img   busybox-static + the NIC modules + installer-init, built
#                reproducibly (fixed mtimes, sorted cpio, gzip -n)
#   undionly.kpxe, ipxe.efi   from the ipxe package
#   OVMF_CODE.fd, OVMF_VARS.fd  from ovmf
# The kernel and busybox-static are fetched with apt-get download and
# unpacked here: nothing is installed on the host (busybox-static would
# replace the busybox package the tests use). Idempotent: a stamp of the
# inputs skips a rebuild.
#   usage: artifacts.sh [CACHE_DIR]   (default $BMLAB_CACHE or /var/cache/bmlab)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${1:-${BMLAB_CACHE:-/var/cache/bmlab}}
A=$CACHE/artifacts
mkdir -p "$CACHE/deb" "$A"
# fetch PKG: the cached .deb of PKG (downloaded once) on stdout.
fetch() {
  local deb
  deb=$(ls "$CACHE/deb/$1"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    (cd "$CACHE/deb" && apt-get download "$1" >/dev/null 2>&1) ||
      { echo "artifacts: apt-get download $1 failed" >&2; return 1; }
    deb=$(ls "$CACHE/deb/$1"_*.deb | head -1)
  fi
  echo "$deb"
}
KPKG=${BMLAB_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null |
  sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)}
[ -n "$KPKG" ] || { echo "artifacts: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
KVER=${KPKG#linux-image-}
DEB=$(fetch "$KPKG")
BBDEB=$(fetch busybox-static)
MODS="e1000 virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
STAMP=$( (basename "$DEB" "$BBDEB"; cat "$HERE/installer-init" "$HERE/udhcpc.script"
  echo "$MODS"; ls -l /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi /usr/share/OVMF/OVMF_CODE_4M.fd) |
  sha256sum | cut -c1-16)
if [ "$(cat "$A/stamp" 2>/dev/null)" = "$STAMP" ]; then
  echo "artifacts: up to date ($A, kernel $KVER)"
  exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$TMP" --wildcards "./boot/vmlinuz-$KVER" \
  $(for m in $MODS; do echo "*/$m.ko"; done)
dpkg-deb --fsys-tarfile "$BBDEB" | tar -x -C "$TMP" ./bin/busybox
R=$TMP/root
mkdir -p "$R"/bin "$R"/sbin "$R"/etc "$R"/proc "$R"/sys "$R"/dev "$R"/tmp "$R"/lib/modules
cp "$TMP/bin/busybox" "$R/bin/busybox"
for a in $("$TMP/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
for m in $MODS; do
  f=$(find "$TMP/lib/modules/$KVER" -name "$m.ko" | head -1)
  [ -n "$f" ] || { echo "artifacts: module $m not in $KPKG" >&2; exit 1; }
  cp "$f" "$R/lib/modules/$m.ko"
done
install -m755 "$HERE/installer-init" "$R/init"
install -m755 "$HERE/udhcpc.script" "$R/etc/udhcpc.script"
find "$R" -exec touch -h -d @0 {} +
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 --reproducible) |
  gzip -9n >"$A/initrd.img.tmp"
mv "$A/initrd.img.tmp" "$A/initrd.img"
cp "$TMP/boot/vmlinuz-$KVER" "$A/vmlinuz"
cp /usr/lib/ipxe/undionly.kpxe /usr/lib/ipxe/ipxe.efi "$A/"
cp /usr/share/OVMF/OVMF_CODE_4M.fd "$A/OVMF_CODE.fd"
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$A/OVMF_VARS.fd"
echo "$KVER" >"$A/kernel-version"
echo "$STAMP" >"$A/stamp"
(cd "$A" && sha256sum vmlinuz initrd.img undionly.kpxe ipxe.efi) | sed 's/^/artifacts: /'
