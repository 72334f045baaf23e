#!/bin/sh
# ipmi_sim's chassis_control program: the BMC's power and boot device drive
# a machine. Called by ipmi_sim (inside the rack's namespace) as:
#   bmc-hook.sh DIR get|set|check KEY [VALUE]...
# and by itself as `bmc-hook.sh DIR run BOOTDEV` (a powered machine's life).
# (the same interface serves the lab's Redfish BMC, redfish-bmc.py --hook).
# The machine is
#   - a QEMU process (the lab): DIR/machine.env (written by lab.sh) gives
#     NAME MAC TAP FIRMWARE (bios, bios-chain, uefi, uefi-http, uefi-sb:
#     Secure Boot on) ACCEL ART and VMPORT (ipmi_sim's port for QEMU's
#     ipmi-bmc-extern; none behind a Redfish BMC); its disk is
#     DIR/disk.qcow2 (virtio); a reboot of
#     the guest starts it again without the BMC's boot device (run, below);
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
# qemu_run BOOTDEV: one run of QEMU. BIOS machines boot the BMC's boot
# device first (bootindex), then the disk. UEFI machines are set up as
# servers that always try the network first (OVMF ignores -boot once
# anyway): the agent's script sends them on to their disk (exit 1).
qemu_run() {
  local net=2 disk=1
  case $FIRMWARE in uefi*) net=1 disk=2 ;; esac # uefi, uefi-http, uefi-sb
  [ "$1" = pxe ] && net=1 disk=2
  # 512 MiB: GRUB's EFI loader runs out of memory for the kernel at 256.
  set -- -name "$NAME" -accel "$ACCEL" -m 512 -smp 1 -nodefaults -display none -no-reboot \
    -uuid "$UUID" -chardev "file,id=ser0,path=$DIR/serial.log,append=on" -serial chardev:ser0 \
    -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" \
    -drive "file=$DIR/disk.qcow2,if=none,id=d0,format=qcow2" \
    -device "virtio-blk-pci,drive=d0,bootindex=$disk" \
    -qmp "unix:$DIR/qmp.sock,server=on,wait=off" -pidfile "$DIR/qemu.pid"
  # An IPMI BMC (ipmi_sim) has the machine's KCS interface; a Redfish one none.
  [ -n "${VMPORT:-}" ] && set -- "$@" \
    -chardev "socket,id=ipmi0,host=127.0.0.1,port=$VMPORT,reconnect=10" \
    -device ipmi-bmc-extern,id=bmc0,chardev=ipmi0 -device isa-ipmi-kcs,bmc=bmc0
  [ "$ACCEL" = kvm ] && set -- "$@" -cpu host,-arch-capabilities
  case $FIRMWARE in
  bios | bios-chain)
    # QEMU's e1000 ROM is iPXE (ipxe-qemu); SeaBIOS mirrors its text to serial.
    set -- "$@" -device "e1000,netdev=n0,mac=$MAC,bootindex=$net" \
      -fw_cfg name=etc/sercon-port,string=0x3f8 ;;
  uefi-sb)
    # Secure Boot enforced: OVMF's SMM build (q35, SMM, secure flash) with
    # Microsoft's keys enrolled and Secure Boot on in its variables.
    [ -f "$DIR/OVMF_VARS.fd" ] || cp "$ART/OVMF_VARS.ms.fd" "$DIR/OVMF_VARS.fd"
    set -- "$@" -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
      -drive "if=pflash,format=raw,unit=0,readonly=on,file=$ART/OVMF_CODE.sb.fd" \
      -drive "if=pflash,format=raw,unit=1,file=$DIR/OVMF_VARS.fd" \
      -device "virtio-net-pci,netdev=n0,mac=$MAC,romfile=,bootindex=$net" \
      -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n ;;
  uefi | uefi-http)
    [ -f "$DIR/OVMF_VARS.fd" ] || cp "$ART/OVMF_VARS.fd" "$DIR/OVMF_VARS.fd"
    # No option ROM: EDK2's own PXE / HTTP boot client, not iPXE's driver.
    set -- "$@" -drive "if=pflash,format=raw,readonly=on,file=$ART/OVMF_CODE.fd" \
      -drive "if=pflash,format=raw,file=$DIR/OVMF_VARS.fd" \
      -device "virtio-net-pci,netdev=n0,mac=$MAC,romfile=,bootindex=$net" \
      -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n
    [ "$FIRMWARE" = uefi-http ] &&
      set -- "$@" -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n ;;
  esac
  qemu-system-x86_64 "$@" </dev/null
}
# The machine's life from one power on (run by power_on, detached): QEMU
# runs with -no-reboot, so a reboot of the guest ends it, and it starts
# again without the BMC's boot device: that applies once, as on a real
# BMC. A guest that powered itself off (its kernel said so on the
# console) stays off. Powering off through the BMC kills this loop first.
run() {
  local bootdev=$1 rc off
  echo $$ >"$DIR/run.pid"
  while :; do
    echo "=== power on $(date '+%F %T') bootdev=$bootdev" >>"$DIR/serial.log"
    off=$(stat -c %s "$DIR/serial.log")
    qemu_run "$bootdev"
    rc=$?
    [ "$rc" = 0 ] || { log "qemu exited $rc"; exit 1; }
    tail -c +$((off + 1)) "$DIR/serial.log" | grep -q "reboot: Power down" &&
      { log "the guest powered off"; exit 0; }
    log "reboot: the disk first"
    bootdev=none
  done
}
power_on() {
  pid >/dev/null && return 0
  bootdev=$(cat "$DIR/bootdev" 2>/dev/null || echo none)
  rm -f "$DIR/bootdev" "$DIR/qemu.pid"
  log "power on bootdev=$bootdev firmware=$FIRMWARE"
  setsid sh "$0" "$DIR" run "$bootdev" </dev/null >>"$DIR/qemu.log" 2>&1 &
  for _ in $(seq 1 50); do pid >/dev/null && return 0; sleep 0.1; done
  log "power on failed"
  return 1
}
power_off() {
  r=$(cat "$DIR/run.pid" 2>/dev/null) && [ -n "$r" ] && kill -9 "$r" 2>/dev/null
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
run) run "$@" ;;
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
