#!/bin/sh
# ipmi_sim's chassis_control program for a lab machine: the BMC's power and
# boot device drive a QEMU process. Called by ipmi_sim (inside the rack's
# namespace) as: bmc-hook.sh DIR get|set|check KEY [VALUE]...
# DIR/machine.env (written by lab.sh) gives NAME MAC TAP FIRMWARE ACCEL ART
# and VMPORT (ipmi_sim's port for QEMU's ipmi-bmc-extern). A boot device set
# through IPMI applies once, at the next power on, as on a real BMC.
DIR=$1; op=$2; shift 2
. "$DIR/machine.env"
log() { echo "$(date '+%F %T.%3N') $*" >>"$DIR/bmc.log"; }
pid() {
  p=$(cat "$DIR/qemu.pid" 2>/dev/null) || return 1
  [ -n "$p" ] && [ -d "/proc/$p" ] && grep -q "$DIR/qmp.sock" "/proc/$p/cmdline" 2>/dev/null && echo "$p"
}
power_on() {
  pid >/dev/null && return 0
  bootdev=$(cat "$DIR/bootdev" 2>/dev/null || echo none)
  rm -f "$DIR/bootdev" "$DIR/qemu.pid"
  set -- -name "$NAME" -accel "$ACCEL" -m 256 -smp 1 -nodefaults -display none -no-reboot \
    -uuid "$UUID" -chardev "file,id=ser0,path=$DIR/serial.log,append=on" -serial chardev:ser0 \
    -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" \
    -chardev "socket,id=ipmi0,host=127.0.0.1,port=$VMPORT,reconnect=10" \
    -device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0 \
    -qmp "unix:$DIR/qmp.sock,server=on,wait=off" -pidfile "$DIR/qemu.pid" -daemonize
  [ "$ACCEL" = kvm ] && set -- "$@" -cpu host,-arch-capabilities
  case $FIRMWARE in
  bios | bios-chain)
    # QEMU's e1000 ROM is iPXE (ipxe-qemu); SeaBIOS mirrors its text to serial.
    set -- "$@" -device "e1000,netdev=n0,mac=$MAC" -fw_cfg name=etc/sercon-port,string=0x3f8 ;;
  uefi | uefi-http)
    [ -f "$DIR/OVMF_VARS.fd" ] || cp "$ART/OVMF_VARS.fd" "$DIR/OVMF_VARS.fd"
    # No option ROM: EDK2's own PXE / HTTP boot client, not iPXE's driver.
    set -- "$@" -drive "if=pflash,format=raw,readonly=on,file=$ART/OVMF_CODE.fd" \
      -drive "if=pflash,format=raw,file=$DIR/OVMF_VARS.fd" \
      -device "virtio-net-pci,netdev=n0,mac=$MAC,romfile=" \
      -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n
    [ "$FIRMWARE" = uefi-http ] &&
      set -- "$@" -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n ;;
  esac
  [ "$bootdev" = pxe ] && set -- "$@" -boot once=n
  log "power on bootdev=$bootdev firmware=$FIRMWARE"
  echo "=== power on $(date '+%F %T') bootdev=$bootdev" >>"$DIR/serial.log"
  qemu-system-x86_64 "$@" </dev/null >>"$DIR/qemu.log" 2>&1 || { log "power on failed"; return 1; }
}
power_off() {
  p=$(pid) || return 0
  log "power off pid=$p"
  kill "$p" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -d "/proc/$p" ] || return 0; sleep 0.1; done
  kill -9 "$p" 2>/dev/null
  return 0
}
case $op in
get)
  for k in "$@"; do
    case $k in
    power) pid >/dev/null && echo power:1 || echo power:0 ;;
    boot) echo "boot:$(cat "$DIR/bootdev" 2>/dev/null || echo none)" ;;
    *) echo "$k:0" ;;
    esac
  done ;;
set)
  while [ $# -ge 2 ]; do
    k=$1 v=$2; shift 2
    log "set $k $v"
    case $k in
    power) if [ "$v" = 0 ]; then power_off; else power_on; fi || exit 1 ;;
    reset) pid >/dev/null || exit 1; power_off; power_on || exit 1 ;;
    boot) case $v in none) rm -f "$DIR/bootdev" ;; *) echo "$v" >"$DIR/bootdev" ;; esac ;;
    *) : ;;
    esac
  done ;;
check) : ;;
*) exit 1 ;;
esac
exit 0
