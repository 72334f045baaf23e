#!/bin/sh
# A simulated machine's network boot, from its own interface (a macvlan with
# its MAC): DHCP (ISC dhclient), its iPXE script and kernel over HTTP from the
# agent, then the installer's callbacks -- or none, for a machine that hangs,
# or a failed one ("disk on fire").
#   machine_sim.sh IFACE AGENT_URL MODE(ok|silent|fail) WORKDIR
# With MACHINE_ARCH=N its DHCP says what a PXE firmware says: option 93
# (client architecture N) and vendor class PXEClient:Arch:N.
IFACE=$1 AGENT=$2 MODE=$3 W=$4
MAC=$(cat "/sys/class/net/$IFACE/address")
cat >"$W/$IFACE.dhc.sh" <<'S'
#!/bin/sh
case "$reason" in BOUND|RENEW|REBIND|REBOOT)
  ip addr flush dev "$interface"; ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
esac
S
chmod +x "$W/$IFACE.dhc.sh"
CF=
if [ -n "${MACHINE_ARCH:-}" ]; then
  CF="-cf $W/$IFACE.dhclient.conf"
  printf 'option pxe-arch code 93 = unsigned integer 16;\nsend pxe-arch %s;\nsend vendor-class-identifier "PXEClient:Arch:%05d:UNDI:003000";\n' \
    "$MACHINE_ARCH" "$MACHINE_ARCH" >"$W/$IFACE.dhclient.conf"
fi
# shellcheck disable=SC2086 # CF is words or nothing
timeout 30 dhclient -1 $CF -lf "$W/$IFACE.leases" -pf "$W/$IFACE.pid" -sf "$W/$IFACE.dhc.sh" "$IFACE" || exit 1
C="curl -s --max-time 10 --interface $IFACE"
$C "$AGENT/boot/$MAC.ipxe" >"$W/$IFACE.script" || exit 1
kernel=$(sed -n 's/^kernel \([^ ]*\).*/\1/p' "$W/$IFACE.script")
[ -n "$kernel" ] && $C -o /dev/null "$kernel"
cb=$(sed -n 's/.*bm.callback=\([^ ]*\).*/\1/p' "$W/$IFACE.script")
tok=$(sed -n 's/.*bm.token=\([0-9a-f]*\).*/\1/p' "$W/$IFACE.script")
[ "$MODE" = fail ] && { $C "$cb?state=failed&reason=disk+on+fire&token=$tok" >/dev/null; exit 0; }
[ "$MODE" = ok ] || exit 0
$C "$cb?state=started&token=$tok" >/dev/null
sleep 1
$C "$cb?state=done&token=$tok" >/dev/null
echo "$IFACE installed"
