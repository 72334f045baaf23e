# /lib/bm.sh of the lab's ramdisks (the stand-in installer, the deploy
# ramdisk) and of the tiny disk image: the steps every one of their inits
# takes. busybox sh.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
bm_mounts() {
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev 2>/dev/null
}
# Every module of /lib/modules/order, in that order (dependencies first).
bm_modules() {
  [ -f /lib/modules/order ] || return 0
  while read -r m; do insmod "/lib/modules/$m.ko" 2>/dev/null; done </lib/modules/order
}
# bm_arg KEY: KEY's value on the kernel command line.
bm_arg() {
  for w in $(cat /proc/cmdline); do
    case $w in "$1="*) echo "${w#*=}"; return 0 ;; esac
  done
  return 1
}
# bm_net MAC VENDOR: the interface of MAC (any but lo when MAC is empty) up
# with an address from DHCP (busybox udhcpc, vendor class VENDOR); IF names
# it. Returns 1 when there is no interface or no lease.
bm_net() {
  local want=$1 i=0 d n
  IF=
  while [ -z "$IF" ] && [ $i -lt 50 ]; do
    for d in /sys/class/net/*; do
      n=${d##*/}
      [ "$n" = lo ] && continue
      if [ -z "$want" ] || [ "$(cat "$d/address")" = "$want" ]; then IF=$n; break; fi
    done
    i=$((i + 1)); [ -n "$IF" ] || usleep 200000
  done
  [ -n "$IF" ] || return 1
  ip link set lo up
  ip link set "$IF" up
  i=0
  while [ $i -lt 50 ] && [ "$(cat "/sys/class/net/$IF/carrier" 2>/dev/null)" != 1 ]; do
    i=$((i + 1)); usleep 100000
  done
  udhcpc -i "$IF" -n -q -f -t 20 -T 1 -A 1 -s /etc/udhcpc.script -V "$2"
}
# bm_get URL FILE: up to 5 tries.
bm_get() {
  local n=0
  while [ $n -lt 5 ]; do
    timeout 10 wget -q -O "$2" "$1" && return 0
    n=$((n + 1)); sleep 1
  done
  return 1
}
bm_idle() { while :; do sleep 3600; done; }
# bm_secureboot: 1 or 0 as the firmware's SecureBoot variable says (efivarfs
# mounted here if need be); nothing when not booted by UEFI.
bm_secureboot() {
  local v=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
  [ -d /sys/firmware/efi ] || return 0
  [ -e "$v" ] || mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null
  [ -e "$v" ] && dd if="$v" bs=1 skip=4 count=1 2>/dev/null | od -An -tu1 | tr -d ' \n'
}
