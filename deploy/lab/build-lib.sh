# Sourced by the lab's artefact builders: Debian packages fetched and
# unpacked without installing them, kernel modules with their
# dependencies, programs with their shared libraries, and reproducible
# cpio archives. Needs CACHE (downloads go to $CACHE/deb).

# fetch PKG: the cached .deb of PKG (downloaded once) on stdout.
fetch() {
  local deb
  mkdir -p "$CACHE/deb"
  deb=$(ls "$CACHE/deb/$1"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    (cd "$CACHE/deb" && apt-get download "$1" >/dev/null 2>&1) ||
      { echo "build: apt-get download $1 failed" >&2; return 1; }
    deb=$(ls "$CACHE/deb/$1"_*.deb | head -1)
  fi
  echo "$deb"
}

# kernel_pkg: linux-image-amd64's current kernel package (BMLAB_KERNEL_PKG
# overrides).
kernel_pkg() {
  local k=${BMLAB_KERNEL_PKG:-$(apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/.*Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -1)}
  [ -n "$k" ] || { echo "build: cannot resolve linux-image-amd64 (apt-get update?)" >&2; return 1; }
  echo "$k"
}

# mod_path KROOT NAME: the .ko of module NAME under KROOT/lib/modules.
mod_path() { find "$1/lib/modules" -name "$2.ko" | head -1; }

# mods_closure KROOT MOD...: the modules and what they depend on (read from
# each .ko's modinfo section), dependencies first, each once.
mods_closure() {
  local kroot=$1 m f d
  shift
  for m in "$@"; do
    case " $SEEN " in *" $m "*) continue ;; esac
    SEEN="$SEEN $m"
    f=$(mod_path "$kroot" "$m")
    [ -n "$f" ] || { echo "build: module $m not in the kernel package" >&2; return 1; }
    d=$(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')
    [ -n "$d" ] && mods_closure "$kroot" $d
    echo "$m"
  done
}

# put_modules KROOT DEST MOD...: the closure copied flat into DEST/lib/modules
# and its load order into DEST/lib/modules/order.
put_modules() {
  local kroot=$1 dest=$2 m
  shift 2
  mkdir -p "$dest/lib/modules"
  SEEN=
  mods_closure "$kroot" "$@" >"$dest/lib/modules/order" || return 1
  while read -r m; do cp "$(mod_path "$kroot" "$m")" "$dest/lib/modules/$m.ko"; done \
    <"$dest/lib/modules/order"
}

# put_busybox BUSYBOX DEST: busybox-static and a link per applet.
put_busybox() {
  local a
  mkdir -p "$2/bin" "$2/sbin" "$2/etc" "$2/proc" "$2/sys" "$2/dev" "$2/tmp" "$2/mnt" "$2/run"
  cp "$1" "$2/bin/busybox"
  for a in $("$1" --list); do [ "$a" = busybox ] || ln -sf busybox "$2/bin/$a"; done
}

# put_program BIN DEST [NAME]: a dynamic program into DEST/usr/bin (as NAME)
# with every library ldd lists, at the same paths.
put_program() {
  local lib
  mkdir -p "$2/usr/bin"
  cp "$1" "$2/usr/bin/${3:-$(basename "$1")}"
  for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
    mkdir -p "$2$(dirname "$lib")"
    cp -L "$lib" "$2$lib"
  done
}

# pack DIR OUT: DIR as a newc cpio, gzip, reproducible (fixed times, sorted).
pack() {
  find "$1" -exec touch -h -d @0 {} +
  (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 --reproducible) |
    gzip -9n >"$2.tmp"
  mv "$2.tmp" "$2"
}
