#!/usr/bin/env bash
# bench/boot.sh: whole boots with real firmware, time from the command to
# the last machine deployed, for 1, 4 and 8 BIOS machines (SeaBIOS + QEMU's
# iPXE ROM, TCG or KVM as the lab finds) of one rack (deploy/lab/lab.sh up
# --bench), two ways in the same run, on the same machines:
#   bmagent:   bmctl reimage b1..bN --wait: power through each ipmi_sim BMC
#              (ipmitool), DHCP, script, kernel and initrd from the agent,
#              the installer's callbacks, the state machine;
#   reference: the agent stopped; dnsmasq (DHCP, static reservations, the
#              iPXE script URL for iPXE clients, IPv6 router advertisements
#              as the agent sends them) and a static HTTP server
#              (python3 http.server, logging callbacks); each machine
#              powered on through its BMC with ipmitool (all at once),
#              until N "done" callbacks are logged.
# And the two UEFI flows of one machine (OVMF, the stand-in installer):
#   iPXE:        u1, OVMF's PXE -> ipxe.efi over TFTP -> script, kernel and
#                initrd over HTTP (profile lab);
#   Secure Boot: sb1, OVMF with Microsoft's keys and Secure Boot on, behind
#                the Redfish BMC -> Debian's signed shim -> signed GRUB ->
#                its config, kernel and initrd over TFTP (profile lab-sb).
# Medians of ROUNDS rounds.   usage: bench/boot.sh [-r ROUNDS] [-u]
# (-u: the UEFI flows only)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 BIOS=1
while getopts r:u o; do case $o in r) ROUNDS=$OPTARG ;; u) BIOS=0 ;; *) exit 2 ;; esac; done
SRC=$PWD
./deploy/install-deps.sh --bench >/dev/null
LAB=$SRC/deploy/lab/lab.sh
export BMLAB_RUN=${BMLAB_RUN:-/var/tmp/bmlab-bench}
RUN=$BMLAB_RUN
NS=bml-rack12
W=$(mktemp -d /var/tmp/bm-bench-boot.XXXXXX)
trap '"$LAB" down >/dev/null 2>&1; [ -f "$W/http.pid" ] && kill "$(cat "$W/http.pid")" 2>/dev/null; rm -rf "$W"' EXIT
"$LAB" up --bench >"$W/up.log" 2>&1 || { tail -20 "$W/up.log"; exit 1; }
ART=$(sed -n 's/^ART=//p' "$RUN/rack12/bmc/b1/machine.env")
ACCEL=$(cat "$RUN/accel")
now() { date +%s.%N; }
ipmi() { # ipmi N ARGS...: machine bN's BMC
  local port=$((9000 + $1))
  shift
  IPMI_PASSWORD=$(cat "$RUN/bmc.pass") ip netns exec "$NS" ipmitool -I lanplus -H 10.12.1.1 \
    -p "$port" -U admin -E -C 3 "$@"
}
off_all() { for i in 1 2 3 4 5 6 7 8; do ipmi "$i" chassis power off >/dev/null 2>&1 || true; done; }

agent_run() { # agent_run N: seconds from reimage to the last deployed
  local n=$1 t0 names=
  for i in $(seq 1 "$n"); do names="$names b$i"; done
  t0=$(now)
  # shellcheck disable=SC2086
  "$LAB" bmctl reimage $names --batch "$n" --timeout 5m --wait >"$W/agent-$n.out" 2>&1 ||
    { echo "agent run $n failed: $(tail -3 "$W/agent-$n.out")" >&2; return 1; }
  echo "$(now) - $t0" | bc -l
}

# The reference boot server, in the rack's namespace on br0 (the agent is
# stopped, so the addresses and ports are free).
ref_start() {
  mkdir -p "$W/www"
  cp "$ART/vmlinuz" "$ART/initrd.img" "$W/www/"
  cat >"$W/www/boot.ipxe" <<'S'
#!ipxe
kernel http://10.12.0.1:8080/vmlinuz console=ttyS0 quiet panic=-1 initrd=initrd.img bm.mac=${mac} bm.callback=http://10.12.0.1:8080/cb/${mac} bm.token=ref
initrd http://10.12.0.1:8080/initrd.img
boot
S
  cat >"$W/refhttp.py" <<'P'
import http.server, sys, time
LOG = sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/cb/"):
            with open(LOG, "a") as f:
                f.write("%.6f %s\n" % (time.time(), self.path))
            self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers()
            self.wfile.write(b"ok\n")
            return
        super().do_GET()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.daemon_threads = True
import functools, os
os.chdir(sys.argv[1])
http.server.ThreadingHTTPServer(("10.12.0.1", 8080), H).serve_forever()
P
  : >"$W/callbacks.log"
  ip netns exec "$NS" python3 "$W/refhttp.py" "$W/www" "$W/callbacks.log" >/dev/null 2>&1 &
  echo $! >"$W/http.pid"
  {
    echo "port=0"
    echo "interface=br0"
    echo "bind-interfaces"
    echo "dhcp-range=10.12.0.100,10.12.0.199,255.255.255.0,1h"
    for i in 1 2 3 4 5 6 7 8; do printf 'dhcp-host=52:54:00:0c:00:%02x,10.12.0.%d\n' "$i" $((10 + i)); done
    echo "dhcp-userclass=set:ipxe,iPXE"
    echo "dhcp-boot=tag:ipxe,http://10.12.0.1:8080/boot.ipxe,,10.12.0.1"
    echo "dhcp-option-force=tag:ipxe,60,PXEClient"
    echo "dhcp-option=3,10.12.0.1"
    # iPXE waits ~13 s for an IPv6 router without one (the agent: ipv6_ra).
    echo "enable-ra"
    echo "dhcp-range=::,constructor:br0,ra-only"
  } >"$W/dnsmasq.conf"
  ip -n "$NS" -6 addr add fd00:12::1/64 dev br0 nodad 2>/dev/null || true
  ip netns exec "$NS" dnsmasq --conf-file="$W/dnsmasq.conf" --pid-file="$W/dnsmasq.pid" \
    --log-facility="$W/dnsmasq.log"
}
ref_stop() {
  kill "$(cat "$W/http.pid")" "$(cat "$W/dnsmasq.pid")" 2>/dev/null || true
  ip -n "$NS" -6 addr del fd00:12::1/64 dev br0 2>/dev/null || true
  rm -f "$W/http.pid"
}
ref_run() { # ref_run N: seconds from the power commands to the last done callback
  local n=$1 t0
  : >"$W/callbacks.log"
  t0=$(now)
  for i in $(seq 1 "$n"); do
    (ipmi "$i" chassis bootdev pxe >/dev/null && ipmi "$i" chassis power on >/dev/null) &
  done
  wait
  for _ in $(seq 1 3000); do
    [ "$(grep -c 'state=done' "$W/callbacks.log")" -ge "$n" ] && break
    sleep 0.1
  done
  [ "$(grep -c 'state=done' "$W/callbacks.log")" -ge "$n" ] || { echo "reference run $n: timed out" >&2; return 1; }
  echo "$(tail -1 "$W/callbacks.log" | cut -d' ' -f1) - $t0" | bc -l
}

[ "$BIOS" = 1 ] && for r in $(seq 1 "$ROUNDS"); do
  for n in 1 4 8; do
    off_all
    a=$(agent_run "$n")
    echo "round $r: $n machines, bmagent $a s" >&2
    echo "$a" >>"$W/agent.$n"
    sleep 2
    off_all
    "$LAB" agent rack12 stop
    ref_start
    sleep 1
    b=$(ref_run "$n")
    echo "round $r: $n machines, reference $b s" >&2
    echo "$b" >>"$W/ref.$n"
    ref_stop
    sleep 2
    off_all
    "$LAB" agent rack12 start
    sleep 3
  done
done
uefi_run() { # uefi_run MACHINE: seconds from reimage to deployed
  local t0
  t0=$(now)
  "$LAB" bmctl reimage "$1" --timeout 10m --wait >"$W/$1.out" 2>&1 ||
    { echo "$1 failed: $(tail -3 "$W/$1.out")" >&2; return 1; }
  echo "$(now) - $t0" | bc -l
}
for r in $(seq 1 "$ROUNDS"); do
  for m in u1 sb1; do
    t=$(uefi_run "$m")
    echo "round $r: $m $t s" >&2
    echo "$t" >>"$W/uefi.$m"
  done
done
. bench/stats.sh
if [ "$BIOS" = 1 ]; then
  echo "boot: reimage -> last machine deployed, BIOS (SeaBIOS + iPXE ROM), accel=$ACCEL, medians of $ROUNDS rounds; $(nproc) cores"
  echo
  echo "| machines | bmagent s | dnsmasq + http.server s | ratio |"
  echo "|---|---|---|---|"
  for n in 1 4 8; do
    a=$(median <"$W/agent.$n") b=$(median <"$W/ref.$n")
    printf '| %d | %.1f | %.1f | %.2f |\n' "$n" "$a" "$b" "$(echo "$a / $b" | bc -l)"
  done
fi
echo
echo "UEFI, one machine: reimage -> deployed (stand-in installer), accel=$ACCEL, medians of $ROUNDS rounds"
echo
echo "| flow | s | ratio to iPXE |"
echo "|---|---|---|"
u=$(median <"$W/uefi.u1") sb=$(median <"$W/uefi.sb1")
printf '| iPXE (ipxe.efi over TFTP, kernel and initrd over HTTP) | %.1f | 1.00 |\n' "$u"
printf '| Secure Boot (shim, GRUB, kernel and initrd over TFTP) | %.1f | %.2f |\n' "$sb" "$(echo "$sb / $u" | bc -l)"
