#!/usr/bin/env bash
# The reduced QEMU lab (deploy/lab/lab.sh up --reduced): real firmware
# booting through the agents of one site's two racks, reimaged with bmctl:
#   r11-bios   SeaBIOS + QEMU's iPXE ROM (DHCP arch 0), script and kernel
#              over HTTP: deployed;
#   r12-uefi   OVMF's own PXE (arch 7) -> ipxe.efi over TFTP -> iPXE ->
#              script: deployed;
#   r12-nobmc  a BMC that does not answer: failed with ipmitool's message,
#              and the operation goes on.
# Power goes through ipmi_sim BMCs for real. Under TCG this takes about a
# minute; the namespaces are removed at the end whatever happens.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/labtest.sh"

"$LAB" up --reduced >"$T/up.log" 2>&1 && ok "the reduced lab is up (2 racks, 3 coordinators)" ||
  { not_ok "lab up"; tail -20 "$T/up.log"; finish; }
lab reimage rack/rack11 rack/rack12 --timeout 4m --wait >"$T/out" 2>&1
rc=$?
sed 's/^/    /' "$T/out" | tail -4
[ "$rc" = 1 ] && ok "reimage --wait exits 1: not every machine deployed" || not_ok "reimage exit $rc"
expect_in "$T/out" "2 of 3 deployed" "two machines deployed through real firmware"
expect_in "$T/out" "r12-nobmc failed: ipmitool chassis bootdev pxe: Error" \
  "the machine whose BMC does not answer fails with ipmitool's message"
lab get machines >"$T/machines" 2>&1
for m in r11-bios r12-uefi; do
  grep -q "^$m .*deployed" "$T/machines" && ok "$m deployed" || not_ok "$m: $(grep "^$m " "$T/machines")"
done
lab trace r11-bios >"$T/trace1" 2>&1
expect_in "$T/trace1" "ipmi: boot from PXE, power on" "r11-bios was powered through its BMC"
expect_in "$T/trace1" "arch=0" "r11-bios: the BIOS iPXE ROM's DHCP (arch 0)"
expect_in "$T/trace1" "state=done" "r11-bios: the installer called back done"
lab trace r12-uefi >"$T/trace2" 2>&1
expect_in "$T/trace2" "PXEClient:Arch:00007" "r12-uefi: OVMF's PXE client (arch 7)"
grep -Eq "tftp .*ipxe.efi [0-9]+ bytes" "$T/trace2" && ok "r12-uefi: ipxe.efi over TFTP" ||
  not_ok "r12-uefi: no TFTP of ipxe.efi in its trace"
expect_in "$T/trace2" "installing -> deployed" "r12-uefi: installing -> deployed"
grep -q "answering router solicitations" "$T/lab/rack11/agent.log" &&
  ok "rack11's agent answered the firmware's IPv6 router solicitations" ||
  not_ok "no router solicitation answered on rack11"
lab_down
ip netns list | grep -q '^bml-' && not_ok "lab down left namespaces" || ok "lab down removes every namespace"
finish
