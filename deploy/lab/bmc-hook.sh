#!/bin/sh
# ipmi_sim's chassis_control program: the BMC's power and boot device drive
# a machine. Called by ipmi_sim (inside the rack's namespace) as:
#   bmc-hook.sh DIR get|set|check KEY [VALUE]...
# The machine is
#   - a QEMU process (the lab): DIR/machine.env (written by lab.sh) gives
#     NAME MAC TAP FIRMWARE ACCEL ART and VMPORT (ipmi_sim's port for QEMU's
#     ipmi-bmc-extern);
#   - or a script (the integration tests): DIR/boot.sh, run detached at each
#     power on, the simulated machine booting; its power state in DIR/power.
# A boot device set through IPMI applies once, at the next power on, as on
# a real BMC. Every set is logged in DIR/bmc.log.
DIR=$1; op=$2; shift 2
[ -f "$DIR/machine.env" ] && . "$DIR/machine.env"
log() { echo "$(date '+%F %T.%3N') $*" >>"$DIR/bmc.log"; }
script_on() { [ "$(cat "$DIR/power" 2>/dev/null)" = 1 ]; }
script_power_on() {
  script_on && return 0
  log "power on bootdev=$(cat "$DIR/bootdev" 2>/dev/null || echo none) machine=script"
  rm -f "$DIR/bootdev"
  echo 1 >"$DIR/power"
  setsid sh "$DIR/boot.sh" </dev/null >>"$DIR/boot.log" 2>&1 &
}
script_power_off() { echo 0 >"$DIR/power"; }
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
if [ -f "$DIR/boot.sh" ]; then
  is_on() { script_on; }
  power_on() { script_power_on; }
  power_off() { script_power_off; }
else
  is_on() { pid >/dev/null; }
fi
case $op in
get)
  for k in "$@"; do
    case $k in
    power) is_on && echo power:1 || echo power:0 ;;
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
    reset) is_on || exit 1; power_off; power_on || exit 1 ;;
    boot) case $v in none) rm -f "$DIR/bootdev" ;; *) echo "$v" >"$DIR/bootdev" ;; esac ;;
    *) : ;;
    esac
  done ;;
check) : ;;
*) exit 1 ;;
esac
exit 0
