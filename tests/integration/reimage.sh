#!/usr/bin/env bash
# `bmctl reimage rack14 --wait` end to end, with the machines simulated by
# real clients: each is a macvlan with its MAC in the machines' namespace,
# booting with ISC dhclient and curl (machine_sim.sh).
#   m1: a BMC (OpenIPMI's ipmi_sim, whose chassis_control hook boots the
#       simulated machine at power on): the agent sets boot from PXE (with
#       options=efiboot: m1 is `firmware: uefi`), reads it back and powers
#       it; it installs and calls back;
#   m2: manual power (the test power-cycles it when the agent asks): installs;
#   m3: manual, boots but never calls back: fails on the timeout;
#   m4: a BMC that does not answer: fails with ipmitool's message.
# bmctl exits 1 (not every machine deployed) and says which failed and why;
# m1 and m2 end deployed and boot from their disks after that. m1's BMC
# password comes from a password_file:, m4's is inline in its URL: neither
# is in an answer, a data file or a log of the coordinator or the agent, nor
# on the wire (tcpdump of the API and the sync). Then the agent dies: it is
# listed as silent, and a reimage in its rack says so.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

netns_up 10.14.0.1/24 10.14.0.99/24
# Every byte between bmctl, the agent and the coordinator (loopback of the
# server namespace), from before the fleet is applied.
ip netns exec "$NS_S" tcpdump -i lo -U -Z root -w "$T/wire.pcap" "tcp port $PORT_BASE" \
  2>"$T/tcpdump.log" &
DUMP_PID=$!
for _ in $(seq 1 50); do grep -q "listening on" "$T/tcpdump.log" && break; sleep 0.1; done
P1=p1$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n') # IPMI: at most 20
P4=p4$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
(umask 077 && echo "$P1" >"$T/bmc1.pass")
start_coord
mkdir -p "$T/root" "$T/bmc1/state"
head -c 200000 /dev/urandom >"$T/vmlinuz"
expect_exit 0 "kernel pushed" bmctl image push k "$T/vmlinuz"
KSHA=$(sha256sum "$T/vmlinuz" | cut -d' ' -f1)
cat >"$T/fleet.yaml" <<Y
sites: [{name: s}]
racks: [{name: rack14, site: s, subnet: 10.14.0.0/24, gateway: 10.14.0.1}]
images: [{name: k, sha256: "$KSHA", size: 200000}]
profiles:
  - {name: inst, kernel: k, cmdline: "bm.callback={{callback_url}} bm.token={{token}}"}
machines:
  - {name: m1, rack: rack14, mac: "52:54:00:14:00:01", ip: 10.14.0.11, profile: inst,
     bmc: "ipmi://admin@10.14.0.99:9001", password_file: bmc1.pass, firmware: uefi}
  - {name: m2, rack: rack14, mac: "52:54:00:14:00:02", ip: 10.14.0.12, profile: inst, bmc: "manual://by-hand"}
  - {name: m3, rack: rack14, mac: "52:54:00:14:00:03", ip: 10.14.0.13, profile: inst, bmc: "manual://by-hand"}
  - {name: m4, rack: rack14, mac: "52:54:00:14:00:04", ip: 10.14.0.14, profile: inst,
     bmc: "ipmi://admin:$P4@10.14.0.99:9009"}
Y
expect_exit 0 "fleet applied" bmctl apply -f "$T/fleet.yaml"

# The machines' interfaces.
for i in 1 2 3 4; do
  ip -n "$NS_C" link add "m$i" link "$IF_C" type macvlan mode bridge
  ip -n "$NS_C" link set "m$i" address "52:54:00:14:00:0$i" up
done

# m1's BMC: ipmi_sim on the machines' segment, its hook boots m1.
cat >"$T/bmc1/lan.conf" <<Y
name "bmc1"
set_working_mc 0x20
  startlan 1
    addr 10.14.0.99 9001
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user md2 md5 straight
    allowed_auths_operator md2 md5 straight
    allowed_auths_admin md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$BM_SRC/deploy/lab/bmc-hook.sh $T/bmc1"
  user 2 true "admin" "$P1" admin 10 md2 md5 straight
Y
cat >"$T/bmc1/bmc.emu" <<Y
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
Y
echo "exec $HERE/machine_sim.sh m1 http://10.14.0.1:8080 ok $T" >"$T/bmc1/boot.sh"
echo 0 >"$T/bmc1/power"
(cd "$T/bmc1" && exec ip netns exec "$NS_C" ipmi_sim -c lan.conf -f bmc.emu -s state -n \
  </dev/null >"$T/bmc1/sim.out" 2>&1) &
for _ in $(seq 1 50); do
  IPMI_PASSWORD=$P1 in_c ipmitool -I lanplus -H 10.14.0.99 -p 9001 -U admin -E -C 3 -R 1 \
    -N 1 chassis power status >/dev/null 2>&1 && break
  sleep 0.2
done

rack_conf rack14 "log_level: debug"
start_agent "$T/agent.yaml"
for _ in $(seq 1 100); do
  [ -e "$T/agent-data/cache/sha256/$KSHA" ] && break
  sleep 0.1
done

# Manual power: the test reboots m2 and m3 once the agent has asked.
manual_power() {
  local done2= done3=
  for _ in $(seq 1 600); do
    grep -q "manual power action machine=m2" "$T/agent.log.new" && [ -z "$done2" ] && done2=1 &&
      { in_c "$HERE/machine_sim.sh" m2 http://10.14.0.1:8080 ok "$T" >>"$T/m2.log" 2>&1 & }
    grep -q "manual power action machine=m3" "$T/agent.log.new" && [ -z "$done3" ] && done3=1 &&
      { in_c "$HERE/machine_sim.sh" m3 http://10.14.0.1:8080 silent "$T" >>"$T/m3.log" 2>&1 & }
    [ -n "$done2" ] && [ -n "$done3" ] && return 0
    sleep 0.1
  done
}
manual_power &
bmctl reimage rack/rack14 --batch 4 --timeout 15s --wait >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" = 1 ] && ok "bmctl reimage --wait exits 1: not every machine deployed" ||
  { not_ok "bmctl reimage exited $rc"; sed 's/^/    /' "$T/out" "$T/err"; }
expect_in "$T/out" "2 of 4 deployed" "the summary counts the deployed machines"
expect_in "$T/out" "m3 failed: no progress for 15s" "m3 (never called back) timed out, and says so"
expect_in "$T/out" "m4 failed: ipmitool chassis bootdev pxe:" "m4's BMC failure carries ipmitool's message"
grep -q "m1 failed\|m2 failed" "$T/out" && not_ok "m1 or m2 failed: $(cat "$T/out")" ||
  ok "m1 (ipmi_sim) and m2 (manual) deployed"
grep -q "set boot pxe" "$T/bmc1/bmc.log" && grep -q "set power 1" "$T/bmc1/bmc.log" &&
  ok "m1's BMC was set to boot from PXE, then powered" || not_ok "BMC hook: $(cat "$T/bmc1/bmc.log")"
bmctl op get op-999999 >/dev/null 2>&1; [ $? = 1 ] && ok "op get of an unknown operation: exit 1" ||
  not_ok "unknown op"
bmctl trace m1 >"$T/trace"
expect_in "$T/trace" "ipmi: boot from PXE (EFI asked; the BMC did not keep the EFI flag), power on" \
  "m1's trace shows the power action: a UEFI machine's bootdev asks for EFI"
expect_in "$T/trace" "kernel k" "m1's trace shows the kernel fetch"
expect_in "$T/trace" "state=done" "m1's trace shows the callback"
expect_in "$T/trace" "ready -> reimaging (op-" "m1's trace shows its operation taking it"
expect_in "$T/trace" "installing -> deployed" "m1's trace shows it deployed"
# Deployed: the next boot goes to the disk.
in_c curl -s --max-time 3 --interface m1 "http://10.14.0.1:8080/boot/52:54:00:14:00:01.ipxe" >"$T/script"
for _ in $(seq 1 30); do grep -q "local disk" "$T/script" && break; sleep 0.1
  in_c curl -s --max-time 3 --interface m1 "http://10.14.0.1:8080/boot/52:54:00:14:00:01.ipxe" >"$T/script"; done
expect_in "$T/script" "boot from the local disk" "after done, m1's next boot goes to its disk"
# Per-boot tokens: a second reimage of m1 is another boot with another
# token; the first one's is dead; another host is refused, and traced.
tok() { sed -n 's/.*bm.token=\([0-9a-f]*\).*/\1/p' "$T/m1.script"; }
T1=$(tok)
bmctl reimage m1 --timeout 30s --wait >"$T/out" 2>&1 && ok "m1 reimaged a second time" ||
  not_ok "second reimage of m1: $(cat "$T/out")"
T2=$(tok)
[ ${#T1} = 32 ] && [ ${#T2} = 32 ] && [ "$T1" != "$T2" ] && ok "two reimages of m1, two tokens" ||
  not_ok "tokens of m1's two boots: '$T1' '$T2'"
cb="http://10.14.0.1:8080/callback/52:54:00:14:00:01"
[ "$(in_c curl -s -o /dev/null -w '%{http_code}' --interface m1 "$cb?state=done&token=$T1")" = 403 ] &&
  ok "the first boot's token, replayed by m1: 403" || not_ok "old token accepted"
[ "$(in_c curl -s -o /dev/null -w '%{http_code}' --interface m1 "$cb?state=done&token=$T2")" = 403 ] &&
  ok "the second boot's token after its done: 403" || not_ok "token accepted after done"
[ "$(in_c curl -s -o /dev/null -w '%{http_code}' "http://10.14.0.1:8080/boot/52:54:00:14:00:01.ipxe")" = 403 ] &&
  ok "m1's script asked by 10.14.0.99: 403" || not_ok "m1's script served to another host"
for _ in $(seq 1 50); do
  bmctl trace m1 >"$T/trace" 2>&1
  grep -q "script asked by 10.14.0.99, refused" "$T/trace" && grep -q "callback asked by 10.14.0.11, refused" "$T/trace" && break
  sleep 0.1
done
expect_in "$T/trace" "script asked by 10.14.0.99, refused" "bmctl trace m1 shows the refused script"
expect_in "$T/trace" "callback asked by 10.14.0.11, refused: wrong or old token" "and the replayed token"
# A second reimage of a machine in a running operation is refused with its id.
bmctl reimage m3 --timeout 1h >/dev/null 2>&1
op=$(bmctl op get 2>/dev/null | awk '$2 == "running" {print $1}' | head -1)
bmctl reimage rack14 >"$T/out" 2>&1
[ $? = 1 ] && grep -q "machine m3 is already in operation $op" "$T/out" &&
  ok "a second reimage of m3 is refused, naming $op" || not_ok "second reimage: $(cat "$T/out")"
bmctl op cancel "$op" >/dev/null

# BMC passwords: write-only, sealed at rest, never in the clear on the wire.
bmctl describe machine m1 >"$T/describe"
expect_in "$T/describe" "ipmi://admin:***@10.14.0.99:9001" "describe shows m1's password as ***"
{ bmctl get machines -o json; bmctl describe machine m4; bmctl get machines; } >"$T/answers"
expect_in "$T/answers" "ipmi://admin:***@10.14.0.99:9009" "m4's inline password is masked too"
bmctl apply -f "$T/fleet.yaml" >"$T/out" 2>&1
expect_in "$T/out" "0 created, 0 updated" "the fleet applied again (same passwords) changes nothing"
sleep 0.5 # the agent's last watch and report on the wire
kill "$DUMP_PID"; wait "$DUMP_PID" 2>/dev/null
pkts=$(tcpdump -r "$T/wire.pcap" 2>/dev/null | wc -l)
[ "$pkts" -gt 50 ] && ok "the capture holds the API and sync sessions ($pkts packets)" ||
  not_ok "capture: $pkts packets"
grep -qaF "$P4" "$T/fleet.yaml" && ok "the search finds a password where one is (the fleet file)" ||
  not_ok "control search"
for p in "$P1" "$P4"; do
  found=$(grep -rlaF "$p" "$T/data" "$T/agent-data" "$T/wire.pcap" "$T"/*.log "$T"/agent.log* \
    "$T/answers" "$T/describe" 2>/dev/null)
  [ -z "$found" ] && ok "no BMC password in answers, data files, logs or on the wire" ||
    not_ok "a BMC password in: $found"
done

# The rack's agent dies: `bmctl agents` calls it silent, `bmctl op get`
# says the rack is not reporting, and the machine's timeout blames it.
kill9_agent
bmctl reimage m2 --timeout 45s >/dev/null 2>&1 || not_ok "reimage m2 without its agent"
op2=$(bmctl op get 2>/dev/null | awk '$2 == "running" && $NF == "m2" {print $1}' | head -1)
for _ in $(seq 1 600); do bmctl agents 2>/dev/null | grep -q " silent " && break; sleep 0.1; done
bmctl agents >"$T/out" 2>&1
expect_in "$T/out" " silent " "bmctl agents calls the dead agent silent"
bmctl op get "$op2" >"$T/out" 2>&1
expect_in "$T/out" "note: rack14's agent last seen" "bmctl op get says rack14's agent is not reporting"
bmctl op watch "$op2" >"$T/out" 2>&1
expect_in "$T/out" "m2 failed: no progress for 45s (last: reimaging, power cycle requested); rack14's agent last seen" \
  "m2's timeout names its silent agent"
[ -n "${BM_IT_DEBUG:-}" ] && cp -r "$T" "$BM_IT_DEBUG"
finish
