#!/usr/bin/env bash
# `loader: grub` through a standalone agent, with real clients: ISC
# dhclient saying what UEFI x64 PXE firmware says (arch 7) is offered the
# signed shim (shimx64.efi); tftp-hpa fetches shimx64.efi and grubx64.efi
# (the agent's signed_shim and signed_grub files: stand-ins here, the lab
# boots the real ones), the bootstrap grub/grub.cfg and the machine's own
# grub/grub.cfg-01-<mac> with its kernel over TFTP and its boot token on
# the command line; another address asking for that config is refused and
# traced; a machine not netbooting gets `exit`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

netns_up 10.12.0.1/24 10.12.0.99/24
ip -n "$NS_C" addr add 10.12.0.98/24 dev "$IF_C"
R=$T/root
mkdir -p "$R"
head -c 4096 /dev/urandom >"$T/shim"
head -c 8192 /dev/urandom >"$T/grub"
head -c 100000 /dev/urandom >"$T/k"
KSHA=$(sha256sum "$T/k" | cut -d' ' -f1)
cat >"$T/fleet.yaml" <<Y
sites: [{name: s}]
racks: [{name: rack12, site: s, subnet: 10.12.0.0/24, gateway: 10.12.0.1}]
images: [{name: k, sha256: "$KSHA"}]
profiles:
  - {name: sb, kernel: k, loader: grub, cmdline: "console=ttyS0 bm.callback={{callback_url}} bm.token={{token}} x='y'"}
machines:
  - {name: sb1, rack: rack12, mac: "52:54:00:12:00:63", ip: 10.12.0.99, profile: sb, netboot: true}
  - {name: sb2, rack: rack12, mac: "52:54:00:12:00:64", ip: 10.12.0.98, profile: sb}
Y
standalone_conf "$T/fleet.yaml" "$R" "signed_shim: $T/shim" "signed_grub: $T/grub"
start_agent "$T/agent.yaml"
cd "$T"
client_mac 52:54:00:12:00:63
printf 'option pxe-arch code 93 = unsigned integer 16;\nsend pxe-arch 7;\nsend vendor-class-identifier "PXEClient:Arch:00007:UNDI:003000";\n' >"$T/dhc.conf"
printf '#!/bin/sh\nexit 0\n' >"$T/dhc.sh"
chmod +x "$T/dhc.sh"
timeout 20 ip netns exec "$NS_C" dhclient -1 -cf "$T/dhc.conf" -lf "$T/leases" -pf "$T/dhc.pid" \
  -sf "$T/dhc.sh" "$IF_C" >/dev/null 2>&1
kill "$(cat "$T/dhc.pid" 2>/dev/null)" 2>/dev/null
expect_in "$T/leases" 'filename "shimx64.efi";' "UEFI x64 PXE of a loader-grub machine is offered the signed shim"

hpa() { in_c tftp 10.12.0.1 -m octet -c get "$1" "$2" 2>&1; }
hpa shimx64.efi got.shim >/dev/null
cmp -s "$T/shim" got.shim && ok "shimx64.efi is signed_shim" || not_ok "shimx64.efi differs"
hpa grubx64.efi got.grub >/dev/null
cmp -s "$T/grub" got.grub && ok "grubx64.efi (what shim loads next) is signed_grub" ||
  not_ok "grubx64.efi differs"
hpa grub/grub.cfg got.boot >/dev/null
expect_in got.boot 'configfile $prefix/grub.cfg-01-$m1-$m2-$m3-$m4-$m5-$m6' \
  "the bootstrap hands over to the machine's config by MAC"
hpa grub/grub.cfg-01-52-54-00-12-00-63 got.cfg >/dev/null
expect_in got.cfg "linux /images/$KSHA 'console=ttyS0' 'bm.callback=http://10.12.0.1:8080/callback/52:54:00:12:00:63'" \
  "the machine's config: its kernel over TFTP, the callback on the command line"
grep -qE "'bm.token=[0-9a-f]{32}'" got.cfg && ok "and its boot token" || not_ok "no token: $(cat got.cfg)"
grep -qF "'x='\\''y'\\'''" got.cfg && ok "a quote in the command line is quoted for GRUB" ||
  not_ok "quoting: $(cat got.cfg)"
hpa "images/$KSHA" got.k >/dev/null
[ ! -s got.k ] && ok "the kernel is not cached yet: nothing served" || not_ok "a kernel the cache lacks"
code=$(in_c curl -s -o "$T/http.cfg" -w '%{http_code}' --interface 10.12.0.98 \
  "http://10.12.0.1:8080/boot/grub/grub.cfg-01-52-54-00-12-00-63")
[ "$code" = 403 ] && ok "another address asking for sb1's config is refused (403)" ||
  not_ok "another address: HTTP $code"
code=$(in_c curl -s -o "$T/http.cfg" -w '%{http_code}' --interface 10.12.0.99 \
  "http://10.12.0.1:8080/boot/grub/grub.cfg-01-52-54-00-12-00-63")
[ "$code" = 200 ] && cmp -s "$T/http.cfg" got.cfg && ok "over HTTP from the machine: the same config" ||
  not_ok "HTTP from the machine: $code"
code=$(in_c curl -s -o "$T/sb2.cfg" -w '%{http_code}' --interface 10.12.0.98 \
  "http://10.12.0.1:8080/boot/grub/grub.cfg-01-52-54-00-12-00-64")
[ "$code" = 200 ] && grep -qx "exit" "$T/sb2.cfg" && ok "a machine not netbooting gets exit" ||
  not_ok "sb2: $code $(cat "$T/sb2.cfg")"
grep -q 'grub config refused machine=sb1 peer=10.12.0.98' "$T/agent.log.new" &&
  ok "the refusal is logged" || not_ok "no refusal in the log"
finish
