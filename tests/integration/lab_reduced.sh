#!/usr/bin/env bash
# The reduced QEMU lab (deploy/lab/lab.sh up --reduced): real firmware
# booting through the agents of one site's two racks, reimaged with bmctl
# with the tiny disk image (profile lab-disk: the deploy ramdisk writes it,
# grows it, the machine reboots into it and its OS calls back booted):
#   r11-bios   SeaBIOS + QEMU's iPXE ROM (DHCP arch 0), script and kernel
#              over HTTP, then GRUB i386-pc from its disk: deployed;
#   r12-uefi   OVMF's own PXE (arch 7) -> ipxe.efi over TFTP -> iPXE ->
#              script; it tries the network first at every boot, so after
#              installed its agent hands it a boot file that fails and it
#              goes on to its disk: GRUB x86_64-efi, deployed;
#   r12-nobmc  a BMC that does not answer: failed with ipmitool's message,
#              and the operation goes on;
#   r12-sb     OVMF with Microsoft's keys and Secure Boot on, behind the
#              lab's Redfish BMC (HTTPS, pinned by bmc_fingerprint): handed
#              ipxe.efi (lab-disk), its firmware refuses it and the machine
#              fails with that reason.
# Then r12-sb again with lab-disk-sb (loader grub): Debian's signed shim,
# signed GRUB, its per-MAC config, Debian's signed kernel and the deploy
# ramdisk, which says secureboot=1; its disk boots through shim and GRUB
# under Secure Boot and its OS calls back booted secureboot=1.
# Then r11-bios is given a digest its image does not have (lab-disk-corrupt):
# failed, digest mismatch; and r12-uefi an OS that never phones home
# (lab-disk-silent): failed, installed but never booted from disk.
# Power goes through ipmi_sim BMCs for real. Under TCG this takes about
# four minutes; the namespaces are removed at the end whatever happens.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/labtest.sh"

"$LAB" up --reduced >"$T/up.log" 2>&1 && ok "the reduced lab is up (2 racks, 3 coordinators)" ||
  { not_ok "lab up"; tail -20 "$T/up.log"; finish; }
lab reimage rack/rack11 rack/rack12 --profile lab-disk --timeout 4m --wait >"$T/out" 2>&1
rc=$?
sed 's/^/    /' "$T/out" | tail -4
[ "$rc" = 1 ] && ok "reimage --wait exits 1: not every machine deployed" || not_ok "reimage exit $rc"
expect_in "$T/out" "2 of 4 deployed" "two machines deployed from their disks through real firmware"
expect_in "$T/out" "r12-sb failed: its firmware did not run ipxe.efi" \
  "Secure Boot firmware handed the unsigned ipxe.efi: failed, and says why"
expect_in "$T/out" "give its profile loader: grub" "and what to do"
expect_in "$T/out" "r12-nobmc failed: ipmitool chassis bootdev pxe: Error" \
  "the machine whose BMC does not answer fails with ipmitool's message"
lab get machines >"$T/machines" 2>&1
for m in r11-bios r12-uefi; do
  grep -q "^$m .*deployed" "$T/machines" && ok "$m deployed" || not_ok "$m: $(grep "^$m " "$T/machines")"
done
lab trace r11-bios >"$T/trace1" 2>&1
expect_in "$T/trace1" "ipmi: boot from PXE, power on" "r11-bios was powered through its BMC"
expect_in "$T/trace1" "arch=0" "r11-bios: the BIOS iPXE ROM's DHCP (arch 0)"
expect_in "$T/trace1" "initrd lab-deploy" "r11-bios: the deploy ramdisk"
expect_in "$T/trace1" "image lab-tiny" "r11-bios: its disk image, from its agent"
expect_in "$T/trace1" "state=installed disk=vda" "r11-bios: the deploy program called back installed"
expect_in "$T/trace1" "state=booted kernel=" "r11-bios: its OS booted from disk and called back"
expect_in "$T/trace1" "os=bmtiny 1" "r11-bios: booted os=bmtiny 1"
expect_in "$T/trace1" "installed -> deployed" "r11-bios: installed -> deployed"
grep -q "resize2fs" "$T/lab/rack11/bmc/r11-bios/serial.log" &&
  grep -q "BM_BOOTED r11-bios" "$T/lab/rack11/bmc/r11-bios/serial.log" &&
  ok "r11-bios: its console shows the grown filesystem and the phone-home" ||
  not_ok "r11-bios console: $(strings "$T/lab/rack11/bmc/r11-bios/serial.log" | grep bm- | tail -5)"
lab trace r12-uefi >"$T/trace2" 2>&1
expect_in "$T/trace2" "PXEClient:Arch:00007" "r12-uefi: OVMF's PXE client (arch 7)"
grep -Eq "tftp .*ipxe.efi [0-9]+ bytes" "$T/trace2" && ok "r12-uefi: ipxe.efi over TFTP" ||
  not_ok "r12-uefi: no TFTP of ipxe.efi in its trace"
expect_in "$T/trace2" "OFFER file=local-disk" \
  "r12-uefi (network first) after installed: its PXE is sent on to its disk"
expect_in "$T/trace2" "installed -> deployed" "r12-uefi: installed -> deployed"
lab describe machine r12-uefi >"$T/desc2" 2>&1
expect_in "$T/desc2" "OS:         bmtiny 1 (kernel" "describe machine shows the OS r12-uefi runs"
# A machine whose image does not match its digest, and one whose OS never
# calls back, at once.
lab reimage r11-bios --profile lab-disk-corrupt --timeout 4m >"$T/op-corrupt" 2>&1 ||
  not_ok "reimage corrupt: $(cat "$T/op-corrupt")"
lab reimage r12-sb --profile lab-disk-sb --timeout 6m >"$T/op-sb" 2>&1 ||
  not_ok "reimage sb: $(cat "$T/op-sb")"
lab reimage r12-uefi --profile lab-disk-silent --timeout 75s --wait >"$T/out" 2>&1
expect_in "$T/out" "r12-uefi failed: installed but never booted from disk" \
  "an OS that never phones home: failed, installed but never booted from disk"
for _ in $(seq 1 120); do
  lab get machines 2>/dev/null | grep -q "^r11-bios .*failed" && break; sleep 1
done
lab describe machine r11-bios >"$T/desc1" 2>&1
expect_in "$T/desc1" "digest mismatch" "a corrupt image: failed with the digest reason"
expect_in "$T/desc1" "after one fresh retry" "after one fresh retry"
for _ in $(seq 1 300); do
  lab get machines 2>/dev/null | grep -Eq "^r12-sb .*(deployed|failed)" && break; sleep 1
done
lab trace r12-sb >"$T/trace3" 2>&1
expect_in "$T/trace3" "redfish: boot Pxe once (UEFI)" "r12-sb: powered through its Redfish BMC (override once, UEFI)"
expect_in "$T/trace3" "OFFER file=shimx64.efi" "r12-sb (loader grub): offered Debian's signed shim"
grep -Eq "tftp .*grubx64.efi [0-9]+ bytes" "$T/trace3" && ok "r12-sb: shim loaded the signed GRUB" ||
  not_ok "r12-sb: no grubx64.efi in its trace"
expect_in "$T/trace3" "grub.cfg-01-52-54-00-0c-00-04" "r12-sb: GRUB read its own config, by MAC"
expect_in "$T/trace3" "state=installing secureboot=1" "r12-sb: the deploy ramdisk says Secure Boot is on"
expect_in "$T/trace3" "state=installed disk=vda" "r12-sb: installed"
expect_in "$T/trace3" "secureboot=1 os=bmtiny 1" "r12-sb: its disk booted under Secure Boot, and says so"
expect_in "$T/trace3" "installed -> deployed" "r12-sb: deployed"
grep -q "reset=ForceRestart\|reset=On" "$T/lab/rack12/bmc/r12-sb/redfish.log" &&
  grep -q "PATCH .*if-match=W/" "$T/lab/rack12/bmc/r12-sb/redfish.log" &&
  ok "r12-sb's Redfish BMC: an If-Match PATCH, then a reset" || not_ok "redfish log"
grep -q "answering router solicitations" "$T/lab/rack11/agent.log" &&
  ok "rack11's agent answered the firmware's IPv6 router solicitations" ||
  not_ok "no router solicitation answered on rack11"
lab_down
ip netns list | grep -q '^bml-' && not_ok "lab down left namespaces" || ok "lab down removes every namespace"
finish
