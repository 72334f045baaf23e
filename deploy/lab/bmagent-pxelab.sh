#!/usr/bin/env bash
# bmagent as the boot server of a QEMU PXE lab that follows the pxelab
# plug-in contract (PXELAB_SERVER_CMD): it runs in the lab's namespace, in
# the foreground, and gets PXELAB_IF, PXELAB_SERVER_IP, PXELAB_HTTP_PORT,
# PXELAB_ARTIFACTS (vmlinuz, initrd.img, undionly.kpxe, ipxe.efi) and
# PXELAB_RUN. It writes a standalone fleet for the lab's VM MACs
# (52:54:00:77:<flow>:<idx>), every one marked for netboot with a profile
# whose command line carries the callback URL and token, puts the kernel and
# initrd in the image cache under their sha256, and runs bmagent.
#   PXELAB_SERVER_CMD="$PWD/deploy/lab/bmagent-pxelab.sh" pxelab.sh up
# BMAGENT (default: build/bin/bmagent beside this script), BM_CHAIN_IPXE=1
# for the bios-chain flow (iPXE ROMs are sent undionly.kpxe first).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BMAGENT=${BMAGENT:-$HERE/../../build/bin/bmagent}
D=$PXELAB_RUN/bmagent
SRV=$PXELAB_SERVER_IP
NET=${SRV%.*}
mkdir -p "$D/tftp" "$D/data/cache/sha256"
# Copies, not links: the agent refuses names that leave its roots.
for f in undionly.kpxe ipxe.efi snponly.efi; do
  [ -f "$PXELAB_ARTIFACTS/$f" ] && cp -L "$PXELAB_ARTIFACTS/$f" "$D/tftp/$f"
done
image() {
  local sha
  sha=$(sha256sum "$PXELAB_ARTIFACTS/$2" | cut -d' ' -f1)
  cp -L "$PXELAB_ARTIFACTS/$2" "$D/data/cache/sha256/$sha"
  echo "  - {name: $1, sha256: \"$sha\", size: $(stat -Lc %s "$PXELAB_ARTIFACTS/$2")}"
}
{
  echo "sites: [{name: lab}]"
  echo "racks:"
  echo "  - {name: lab, site: lab, subnet: $NET.0/24, gateway: $SRV, dns: [$SRV], pool: $NET.210-$NET.250}"
  echo "images:"
  image lab-kernel vmlinuz
  image lab-initrd initrd.img
  cat <<'P'
profiles:
  - name: lab
    kernel: lab-kernel
    initrd: lab-initrd
    cmdline: "console=ttyS0 quiet panic=-1 bm.mac={{mac}} bm.callback={{callback_url}}?state=done&token={{token}}"
machines:
P
  for flow in 1 2 3 4; do
    for idx in 1 2 3 4; do
      printf '  - {name: lab-%02d-%02d, rack: lab, mac: "52:54:00:77:%02x:%02x", ip: %s.%d, profile: lab, netboot: true}\n' \
        "$flow" "$idx" "$flow" "$idx" "$NET" $((50 * (flow - 1) + idx + 9))
    done
  done
} >"$D/fleet.yaml"
cat >"$D/agent.yaml" <<Y
rack: lab
data_dir: $D/data
interfaces: [$PXELAB_IF]
tftp_root: $D/tftp
http_port: $PXELAB_HTTP_PORT
fleet: $D/fleet.yaml
chain_ipxe: $([ "${BM_CHAIN_IPXE:-0}" = 1 ] && echo true || echo false)
Y
exec "$BMAGENT" --config "$D/agent.yaml"
