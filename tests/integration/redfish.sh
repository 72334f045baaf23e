#!/usr/bin/env bash
# The Redfish power driver against the lab's BMC emulator
# (deploy/lab/redfish-bmc.py), itself first checked with Debian's own
# clients (redfishtool, python3-sushy):
#   - the driver once (tests/tools/redfish_drive) in each vendor mode: the
#     override set once and read back (mode from the firmware, UefiHttp for
#     HTTP boot), the reset chosen from the allowable values, If-Match, a
#     202 task monitor followed, Basic without sessions, the session
#     deleted, a wrong password with the BMC's message, a BMC that ignores
#     the override, two systems, a stalled BMC within bmc_timeout; HTTPS
#     checked against a CA file or a pinned fingerprint, refused otherwise;
#   - then through bmagent: `bmctl reimage` of m1 behind an HTTPS emulator
#     (pinned by bmc_fingerprint in the fleet) whose hook boots the
#     simulated machine; its DHCP (arch 7) makes its firmware known (uefi,
#     in describe), so the next reimage's override says UEFI; m2's BMC
#     refuses the password, and the trace carries the BMC's message;
#   - `bmctl machine power` status/off/on/cycle through the agent, in the
#     trace and the audit log; a refusing BMC makes it exit 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
EMU=$BM_SRC/deploy/lab/redfish-bmc.py
DRIVE=$BM_BIN/redfish_drive
PY=/usr/bin/python3 # Debian's (python3-sushy), whatever python3 is first in PATH

PW='rf pass'"$RANDOM"
(umask 077 && echo "$PW" >"$T/bmc.pass")
export BMC_PASSWORD=$PW
BMC_PID=
# bmc PORT [switches]: an emulator on 127.0.0.1:PORT, its log $T/rf-PORT.log.
bmc() {
  local port=$1; shift
  "$PY" "$EMU" --port "$port" --user admin --password-file "$T/bmc.pass" \
    --log "$T/rf-$port.log" "$@" 2>>"$T/rf-$port.err" &
  BMC_PID=$!
  for _ in $(seq 1 50); do
    curl -sk -o /dev/null "http://127.0.0.1:$port/redfish/v1" && return 0
    curl -sk -o /dev/null "https://127.0.0.1:$port/redfish/v1" && return 0
    sleep 0.1
  done
  echo "FATAL: the emulator did not come up"; cat "$T/rf-$port.err"; exit 1
}
stop_bmc() { kill "$BMC_PID" 2>/dev/null; wait "$BMC_PID" 2>/dev/null; BMC_PID=; }
# drive DESC WANT_EXIT TEXT URL VERB FIRMWARE [k=v...]
drive() {
  local desc=$1 want=$2 text=$3; shift 3
  "$DRIVE" "$@" >"$T/out" 2>&1; local got=$?
  if [ "$got" = "$want" ] && grep -qF -- "$text" "$T/out"; then ok "$desc"; else
    not_ok "$desc (exit $got, wanted $want with \"$text\")"; sed 's/^/    /' "$T/out"; fi
}
log_has() { # PORT PATTERN DESC
  if grep -qE -- "$2" "$T/rf-$1.log"; then ok "$3"; else
    not_ok "$3: no /$2/ in"; sed 's/^/    /' "$T/rf-$1.log"; fi
}
log_lacks() {
  if grep -qE -- "$2" "$T/rf-$1.log"; then not_ok "$3"; sed 's/^/    /' "$T/rf-$1.log"; else
    ok "$3"; fi
}

P=$((PORT_BASE + 10))
U="redfish+http://admin@127.0.0.1"

# --- the emulator, as Debian's clients read the standard
bmc $P
redfishtool -r "127.0.0.1:$P" -S Never -u admin -p "$PW" Systems get >"$T/out" 2>&1 &&
  grep -q '"#ComputerSystem.Reset"' "$T/out" && ok "redfishtool reads the system" ||
  { not_ok "redfishtool Systems get"; sed 's/^/    /' "$T/out"; }
redfishtool -r "127.0.0.1:$P" -S Never -u admin -p "$PW" -A Session Systems setBootOverride Once Pxe \
  >"$T/out" 2>&1 && redfishtool -r "127.0.0.1:$P" -S Never -u admin -p "$PW" Systems reset On \
  >>"$T/out" 2>&1 && ok "redfishtool sets the override (in a session) and resets" ||
  { not_ok "redfishtool setBootOverride/reset"; sed 's/^/    /' "$T/out"; }
log_has $P "PATCH /redfish/v1/Systems/1 auth=token .* 200 boot=Pxe/Once/-" \
  "the emulator logged redfishtool's override"
"$PY" "$HERE/redfish_sushy.py" "http://127.0.0.1:$P/redfish/v1" admin "$T/bmc.pass" >"$T/out" 2>&1 &&
  ok "python3-sushy: sessions and Basic, the override read back, the allowable resets" ||
  { not_ok "python3-sushy against the emulator"; sed 's/^/    /' "$T/out"; }
stop_bmc

# --- the driver, vendor by vendor
bmc $P --reset-answer 204
: >"$T/rf-$P.log"
drive "off -> cycle: the override once (UEFI), then On" 0 "boot Pxe once (UEFI), On; power was Off" \
  "$U:$P" netboot uefi
log_has $P "PATCH .*auth=token if-match=W/.* 200 boot=Pxe/Once/UEFI" "If-Match sent with the ETag"
log_has $P "DELETE /redfish/v1/SessionService/Sessions/" "the session is deleted after"
drive "on -> cycle: ForceRestart, the first allowable" 0 "ForceRestart; power was On" "$U:$P" netboot uefi
drive "bios: Legacy mode" 0 "boot Pxe once (Legacy)" "$U:$P" netboot bios
drive "UEFI HTTP boot: UefiHttp" 0 "boot UefiHttp once (UEFI)" "$U:$P" netboot uefi-http
drive "firmware unknown: the mode is left alone" 0 "boot Pxe once, ForceRestart" "$U:$P" netboot ""
drive "status reads only" 0 "power was On" "$U:$P" status ""
drive "cycle without the override" 0 "redfish: ForceRestart; power was On" "$U:$P" cycle ""
drive "off" 0 "ForceOff; power was On" "$U:$P" off ""
drive "on" 0 "On; power was Off" "$U:$P" on ""
BMC_PASSWORD=wrong drive "a wrong password: the BMC's message" 1 \
  "the BMC refused the user and password): HTTP 401: There is no valid session" "$U:$P" netboot uefi
drive "a system path in the URL" 0 "ForceRestart" "$U:$P/redfish/v1/Systems/1" netboot uefi
drive "a system the BMC lacks: its 404 message" 1 \
  "HTTP 404: The resource at the URI /redfish/v1/Systems/9 was not found" \
  "$U:$P/redfish/v1/Systems/9" netboot uefi
stop_bmc

bmc $P --require-if-match --reset-answer 202 --task-polls 2
code=$(curl -s -o /dev/null -w '%{http_code}' -u "admin:$PW" -X PATCH \
  -H 'Content-Type: application/json' -d '{"Boot":{"BootSourceOverrideEnabled":"Once"}}' \
  "http://127.0.0.1:$P/redfish/v1/Systems/1")
[ "$code" = 428 ] && ok "iDRAC mode: a PATCH without If-Match is refused 428" || not_ok "428: $code"
: >"$T/rf-$P.log"
drive "iDRAC mode + 202: If-Match taken, the task monitor followed" 0 "On; power was Off" \
  "$U:$P" netboot uefi
[ "$(grep -c "GET /redfish/v1/TaskService/TaskMonitors/1 .* 202" "$T/rf-$P.log")" = 2 ] &&
  grep -q "GET /redfish/v1/TaskService/TaskMonitors/1 .* 200" "$T/rf-$P.log" &&
  ok "the monitor was polled until its task Completed" ||
  { not_ok "task monitor polls"; sed 's/^/    /' "$T/rf-$P.log"; }
stop_bmc

bmc $P --no-force-restart --reset-answer 200
drive "no ForceRestart: PowerCycle" 0 "On" "$U:$P" netboot uefi
drive "no ForceRestart: PowerCycle (on)" 0 "PowerCycle; power was On" "$U:$P" netboot uefi
stop_bmc
bmc $P --no-force-restart --no-power-cycle --no-sessions --no-mode
: >"$T/rf-$P.log"
drive "neither: ForceOff + On, Basic, no mode property" 0 "boot Pxe once, On" "$U:$P" netboot uefi
drive "neither (on): ForceOff, wait for Off, On" 0 "ForceOff + On; power was On" "$U:$P" netboot uefi
log_lacks $P "Sessions" "no SessionService: no session tried"
log_has $P "PATCH .*auth=basic .* 200 boot=Pxe/Once/-$" "Basic auth, no mode sent"
stop_bmc

bmc $P --ignore-boot
: >"$T/rf-$P.log"
drive "a BMC that ignores the override: refused before any reset" 1 \
  "did not take the boot override (read back: target None, enabled Disabled" "$U:$P" netboot uefi
log_lacks $P "reset=" "no reset after a failed read-back"
stop_bmc

bmc $P --systems 2
drive "two systems: the URL must name one" 1 \
  "the BMC lists 2 systems; name one in the URL: /redfish/v1/Systems/1 /redfish/v1/Systems/2" \
  "$U:$P" netboot uefi
drive "two systems, one named" 0 "boot Pxe once (UEFI)" "$U:$P/redfish/v1/Systems/2" netboot uefi
stop_bmc

bmc $P --stall 4
start=$(date +%s)
drive "a stalled BMC: refused within bmc_timeout" 1 "timed out" "$U:$P" netboot uefi timeout=1
[ $(($(date +%s) - start)) -lt 4 ] && ok "it gave up before the BMC answered" ||
  not_ok "the driver waited for the stalled BMC"
stop_bmc

# --- HTTPS: a self-signed certificate, as BMCs ship
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bmc \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/bmc.key" -out "$T/bmc.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=other \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/other.key" -out "$T/other.crt" 2>/dev/null
FP=$(openssl x509 -in "$T/bmc.crt" -noout -fingerprint -sha256 | cut -d= -f2)
FP_OTHER=$(openssl x509 -in "$T/other.crt" -noout -fingerprint -sha256 | cut -d= -f2)
bmc $P --tls "$T/bmc.crt" "$T/bmc.key"
S="redfish://admin@127.0.0.1:$P"
drive "HTTPS, no bmc_ca, no fingerprint: refused, naming the settings" 1 \
  "bmc_ca or the machine's bmc_fingerprint" "$S" status ""
drive "HTTPS checked against bmc_ca" 0 "power was" "$S" status "" "ca=$T/bmc.crt"
drive "HTTPS pinned by fingerprint" 0 "power was" "$S" status "" "fingerprint=$FP"
drive "HTTPS: another certificate's fingerprint is refused" 1 "bmc_fingerprint" \
  "$S" status "" "fingerprint=$FP_OTHER"
drive "HTTPS: a CA that did not sign it is refused" 1 "certificate" "$S" status "" \
  "ca=$T/other.crt"
drive "redfish+http:// to an HTTPS BMC is no answer" 1 "redfish" "$U:$P" status ""
stop_bmc

# --- through bmagent: reimage with Redfish BMCs
netns_up 10.16.0.1/24 10.16.0.99/24
start_coord
mkdir -p "$T/root" "$T/bmc1" "$T/bmc2"
head -c 100000 /dev/urandom >"$T/vmlinuz"
expect_exit 0 "kernel pushed" bmctl image push k "$T/vmlinuz"
KSHA=$(sha256sum "$T/vmlinuz" | cut -d' ' -f1)
cat >"$T/fleet.yaml" <<Y
sites: [{name: s}]
racks: [{name: rack16, site: s, subnet: 10.16.0.0/24, gateway: 10.16.0.1}]
images: [{name: k, sha256: "$KSHA", size: 100000}]
profiles:
  - {name: inst, kernel: k, cmdline: "bm.callback={{callback_url}} bm.token={{token}}"}
machines:
  - {name: m1, rack: rack16, mac: "52:54:00:16:00:01", ip: 10.16.0.11, profile: inst,
     bmc: "redfish://admin@10.16.0.99:$((P + 1))", password_file: bmc.pass,
     bmc_fingerprint: "$FP"}
  - {name: m2, rack: rack16, mac: "52:54:00:16:00:02", ip: 10.16.0.12, profile: inst,
     bmc: "redfish+http://admin:wrong@10.16.0.99:$((P + 2))"}
Y
expect_exit 0 "fleet applied (bmc_fingerprint, redfish URLs)" bmctl apply -f "$T/fleet.yaml"
ip -n "$NS_C" link add m1 link "$IF_C" type macvlan mode bridge
ip -n "$NS_C" link set m1 address 52:54:00:16:00:01 up
echo "MACHINE_ARCH=7 exec $HERE/machine_sim.sh m1 http://10.16.0.1:8080 ok $T" >"$T/bmc1/boot.sh"
echo 0 >"$T/bmc1/power"
ip netns exec "$NS_C" "$PY" "$EMU" --listen 10.16.0.99 --port $((P + 1)) --user admin \
  --password-file "$T/bmc.pass" --log "$T/rf-m1.log" --tls "$T/bmc.crt" "$T/bmc.key" \
  --hook "$BM_SRC/deploy/lab/bmc-hook.sh $T/bmc1" 2>"$T/rf-m1.err" &
ip netns exec "$NS_C" "$PY" "$EMU" --listen 10.16.0.99 --port $((P + 2)) --user admin \
  --password-file "$T/bmc.pass" --log "$T/rf-m2.log" 2>"$T/rf-m2.err" &
cat >"$T/agent.yaml" <<Y
rack: rack16
data_dir: $T/agent-data
interfaces: [$IF_S]
tftp_root: $T/root
coordinator: [$BMCTL_COORDINATOR]
bmc_timeout: 10
$(agent_tls rack16)
Y
start_agent "$T/agent.yaml"
bmctl reimage rack/rack16 --timeout 60s --wait >"$T/out" 2>"$T/err"
expect_in "$T/out" "1 of 2 deployed" "m1 deployed through its Redfish BMC"
expect_in "$T/out" "m2 failed: redfish session (the BMC refused the user and password): HTTP 401" \
  "m2's failure carries the BMC's message"
grep -q "power on bootdev=pxe" "$T/bmc1/bmc.log" && ok "m1's hook: boot from PXE once, then on" ||
  not_ok "m1's hook: $(cat "$T/bmc1/bmc.log" 2>&1)"
grep -q "boot=Pxe/Once/-" "$T/rf-m1.log" && ok "firmware not known yet: no mode in the override" ||
  not_ok "first override: $(grep PATCH "$T/rf-m1.log")"
bmctl trace m1 >"$T/out" 2>&1
expect_in "$T/out" "redfish: boot Pxe once, On; power was Off" "the trace shows the Redfish action"
bmctl describe machine m1 >"$T/out" 2>&1
expect_in "$T/out" "uefi (seen)" "m1's firmware is known from its DHCP (arch 7)"
bmctl reimage m1 --timeout 60s --wait >"$T/out" 2>"$T/err"
expect_in "$T/out" "1 of 1 deployed" "m1 reimaged again"
grep -q "boot=Pxe/Once/UEFI" "$T/rf-m1.log" && ok "now the override says UEFI" ||
  not_ok "second override: $(grep PATCH "$T/rf-m1.log")"
grep -q "reset=ForceRestart" "$T/rf-m1.log" && ok "m1 was on: ForceRestart" ||
  not_ok "reset: $(grep reset= "$T/rf-m1.log")"
# bmctl machine power, through the agent and the BMC, in the trace.
expect_exit 0 "machine power status" bmctl machine power m1 status
expect_in "$T/out" "m1 power status: ok: redfish: power was On" "status: the BMC's PowerState"
expect_exit 0 "machine power off" bmctl machine power m1 off
expect_in "$T/out" "ok: redfish: ForceOff; power was On" "off: ForceOff"
grep -q "set power 0" "$T/bmc1/bmc.log" && ok "the hook powered m1 off" || not_ok "no power off"
expect_exit 0 "machine power on" bmctl machine power m1 on
expect_in "$T/out" "ok: redfish: On; power was Off" "on: On"
expect_exit 0 "machine power cycle" bmctl machine power m1 cycle
expect_in "$T/out" "ok: redfish: ForceRestart; power was On" "cycle: ForceRestart, no override"
[ "$(grep -c "PATCH" "$T/rf-m1.log")" = 2 ] && ok "machine power sets no boot override" ||
  not_ok "PATCHes: $(grep -c PATCH "$T/rf-m1.log")"
expect_exit 1 "machine power with a refusing BMC exits 1" bmctl machine power m2 status
expect_in "$T/out" "m2 power status: failed: redfish session (the BMC refused the user and password)" \
  "and prints the BMC's message"
expect_exit 2 "machine power: a bad action is a usage error" bmctl machine power m1
expect_exit 1 "machine power: an unknown action is refused" bmctl machine power m1 reboot
expect_in "$T/err" "machine power takes on, off, cycle or status, not reboot" "and says what it takes"
expect_exit 1 "machine power: an unknown machine is refused" bmctl machine power m9 on
bmctl trace m1 >"$T/out" 2>&1
expect_in "$T/out" "power off asked (req=" "the trace records the request and who asked"
expect_in "$T/out" "ok req=" "and the agent's outcome"
bmctl audit >"$T/out" 2>&1
expect_in "$T/out" "machine m1 off" "the audit log has the request"
grep -rqF -- "$PW" "$T/agent.log" "$T/coord.log" "$T"/rf-*.log &&
  not_ok "the BMC password is in a log" || ok "the BMC password is in no log"

finish
