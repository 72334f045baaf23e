#!/usr/bin/env bash
# A coordinator and two agents on two racks. Five namespaces: the
# coordinator's (it routes: each agent reaches it over its own uplink, no
# DHCP relay anywhere), and per rack one for the agent and one for its
# machines, on the rack's own subnet.
#   - each agent knows its own rack's machines and not the other's (a
#     machine's script asked from the test's address: 403 for a machine the
#     agent knows, which only the machine itself may fetch; 404 otherwise);
#   - a change reaches the agent it concerns, and only that one; the other,
#     parked through that commit, still shows LAG 0;
#   - bmctl agents lists both;
#   - kill -9 of an agent while a large change is committed: it restarts
#     from its stored revision (no snapshot) and ends with exactly the
#     coordinator's view;
#   - with the coordinator stopped, a machine boots through its agent
#     (dhclient, the script, the callback); once the coordinator is back,
#     the events arrive exactly once (bmctl trace) and the unknown MAC the
#     agent saw in DHCP becomes a machine in state new.
PKI_ADDRESSES=10.0.0.1 # the coordinator's, in its namespace
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

K=bm$$k A2=bm$$b C2=bm$$y
NS_EXTRA="$K $A2 $C2"
CURL="curl -s --max-time 3"
export BMCTL_COORDINATOR=tls+tcp://10.0.0.1:7400
bmctl() { ip netns exec "$K" "$BM_BIN/bmctl" "$@"; }

# --- topology -----------------------------------------------------------
netns_up 10.11.0.1/24 10.11.0.99/24 # rack1: agent NS_S, machines NS_C
for n in $NS_EXTRA; do ip netns add "$n" && ip -n "$n" link set lo up; done
ip -n "$K" addr add 10.0.0.1/32 dev lo
uplink() { # uplink AGENT_NS N
  ip link add "bm$$u$2" netns "$1" type veth peer name "bm$$k$2" netns "$K"
  ip -n "$K" addr add "10.201.$2.1/30" dev "bm$$k$2"
  ip -n "$1" addr add "10.201.$2.2/30" dev "bm$$u$2"
  ip -n "$K" link set "bm$$k$2" up
  ip -n "$1" link set "bm$$u$2" up
  ip -n "$1" route add default via "10.201.$2.1"
}
uplink "$NS_S" 1
uplink "$A2" 2
ip link add "bm$$r2" netns "$A2" type veth peer name "bm$$m2" netns "$C2"
ip -n "$A2" addr add 10.12.0.1/24 dev "bm$$r2"
ip -n "$C2" addr add 10.12.0.99/24 dev "bm$$m2"
ip -n "$A2" link set "bm$$r2" up
ip -n "$C2" link set "bm$$m2" up

# --- coordinator and fleet ----------------------------------------------
start_coord_k() {
  # shellcheck disable=SC2046 # the options are words
  ip netns exec "$K" "$BM_BIN/bmcoord" --data-dir "$T/data" --listen "$BMCTL_COORDINATOR" \
    $(coord_tls 1) 2>>"$T/coord.log" &
  COORD_PID=$!
  for _ in $(seq 1 100); do
    bmctl --timeout 0.5 status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "FATAL: bmcoord did not come up"; cat "$T/coord.log"; exit 1
}
start_coord_k

KSHA=$(head -c 1000 /dev/zero | sha256sum | cut -d' ' -f1)
fleet_head() {
  cat <<Y
sites: [{name: fra1}]
racks:
  - {name: rack1, site: fra1, subnet: 10.11.0.0/24, gateway: 10.11.0.1, pool: 10.11.0.100-10.11.0.150}
  - {name: rack2, site: fra1, subnet: 10.12.0.0/24, gateway: 10.12.0.1}
images: [{name: k, sha256: "$KSHA", size: 1000}]
profiles:
  - {name: inst, kernel: k, cmdline: "bm.callback={{callback_url}} bm.token={{token}}"}
machines:
  - {name: m1, rack: rack1, mac: "52:54:00:11:00:01", ip: 10.11.0.11, profile: inst, netboot: true}
  - {name: m2, rack: rack2, mac: "52:54:00:12:00:01", ip: 10.12.0.11, profile: inst}
Y
}
fleet_head >"$T/fleet.yaml"
expect_exit 0 "fleet applied" bmctl apply -f "$T/fleet.yaml"

agent_conf() { # agent_conf RACK IFACE DIR
  cat <<Y
rack: $1
data_dir: $3
interfaces: [$2]
tftp_root: $T/root
coordinator: [$BMCTL_COORDINATOR]
$(agent_tls "$1")
log_level: debug
Y
}
mkdir -p "$T/root"
agent_conf rack1 "$IF_S" "$T/agent-data" >"$T/a1.yaml"
agent_conf rack2 "bm$$r2" "$T/a2-data" >"$T/a2.yaml"
A2_PID=
start_a2() {
  ip netns exec "$A2" "$BM_BIN/bmagent" --config "$T/a2.yaml" 2>>"$T/a2.log" &
  A2_PID=$!
}
start_agent "$T/a1.yaml"
start_a2

code1() { in_c $CURL -o /dev/null -w '%{http_code}' "http://10.11.0.1:8080$1"; }
code2() { ip netns exec "$C2" $CURL -o /dev/null -w '%{http_code}' "http://10.12.0.1:8080$1"; }
# wait_code FN PATH CODE: up to 10 s
wait_code() {
  for _ in $(seq 1 100); do [ "$($1 "$2")" = "$3" ] && return 0; sleep 0.1; done
  return 1
}

# --- each rack its own machines -------------------------------------------
wait_code code1 /boot/52:54:00:11:00:01.ipxe 403 && ok "agent 1 knows m1 after its first sync" ||
  not_ok "agent 1 never knew m1"
wait_code code2 /boot/52:54:00:12:00:01.ipxe 403 && ok "agent 2 knows m2" ||
  not_ok "agent 2 never knew m2"
[ "$(code1 /boot/52:54:00:12:00:01.ipxe)" = 404 ] && ok "agent 1 does not know rack2's m2" ||
  not_ok "agent 1 serves m2"
[ "$(code2 /boot/52:54:00:11:00:01.ipxe)" = 404 ] && ok "agent 2 does not know rack1's m1" ||
  not_ok "agent 2 serves m1"

# --- a change reaches the right agent only --------------------------------
a1_updates=$(grep -c "view updated" "$T/agent.log.new")
{ fleet_head; echo '  - {name: m3, rack: rack2, mac: "52:54:00:12:00:03", ip: 10.12.0.13, profile: inst}'; } >"$T/fleet.yaml"
expect_exit 0 "m3 added to rack2" bmctl apply -f "$T/fleet.yaml"
wait_code code2 /boot/52:54:00:12:00:03.ipxe 403 && ok "agent 2 knows the new m3" ||
  not_ok "agent 2 never knew m3"
sleep 0.3
[ "$(code1 /boot/52:54:00:12:00:03.ipxe)" = 404 ] && ok "agent 1 does not serve m3" || not_ok "agent 1 serves m3"
[ "$(grep -c "view updated" "$T/agent.log.new")" = "$a1_updates" ] &&
  ok "agent 1's view was not touched by rack2's change" ||
  not_ok "agent 1 updated its view for rack2's change"
# Its watch stayed parked through that commit, yet its recorded revision
# followed it: LAG 0, not the commits it had nothing in.
bmctl -o json agents >"$T/out" 2>&1
cat >"$T/lag.py" <<'P'
import json, sys
items = json.load(open(sys.argv[1]))
items = items.get("items", items) if isinstance(items, dict) else items
a1 = [a for a in items if a.get("rack") == "rack1"]
sys.exit(0 if a1 and all(a.get("lag") == 0 for a in a1) else 1)
P
if python3 "$T/lag.py" "$T/out"; then ok "agent 1's LAG is 0 while it waits (its revision followed rack2's commit)"
else not_ok "agent 1's LAG"; sed 's/^/    /' "$T/out"; fi

# --- an agent's certificate renewed (the old one revoked) without a restart
cp "$PKI/agent-rack2.crt" "$T/old.crt"; cp "$PKI/agent-rack2.key" "$T/old.key"
"$BM_BIN/bmctl" pki issue "$PKI" agent agent-rack2-new --rack rack2 >/dev/null
"$BM_BIN/bmctl" pki revoke "$PKI" agent-rack2 >/dev/null
cp "$PKI/agent-rack2-new.crt" "$PKI/agent-rack2.crt"; cp "$PKI/agent-rack2-new.key" "$PKI/agent-rack2.key"
kill -HUP "$A2_PID"
for _ in $(seq 1 50); do grep -q "TLS reloaded" "$T/a2.log" && break; sleep 0.1; done
kill -HUP "$COORD_PID"
for _ in $(seq 1 50); do grep -q "TLS reloaded" "$T/coord.log" && break; sleep 0.1; done
for m in 4 5; do # m5: a watch sent after the coordinator took the CRL
  { fleet_head; echo '  - {name: m3, rack: rack2, mac: "52:54:00:12:00:03", ip: 10.12.0.13, profile: inst}'
    for j in $(seq 4 $m); do echo "  - {name: m$j, rack: rack2, mac: \"52:54:00:12:00:0$j\", profile: inst}"; done
  } >"$T/fleet.yaml"
  bmctl apply -f "$T/fleet.yaml" >/dev/null
  wait_code code2 "/boot/52:54:00:12:00:0$m.ipxe" 403 || break
done
[ "$(code2 /boot/52:54:00:12:00:05.ipxe)" = 403 ] &&
  ok "after SIGHUP, agent 2 syncs on its renewed certificate" || not_ok "agent 2 stopped syncing"
# The coordinator's SIGHUP listened again, which reset every connection:
# agent 1 (its certificate unchanged) asked again on the same socket, which
# was already dialing (closing it could cut that negotiation short: what
# deafens nng 1.5's listener); agent 2's certificate was renewed, so it
# took a new connection (checked just above).
grep -q "watch connection reset url=.*(same connection)" "$T/agent.log.new" &&
  ok "agent 1, its connection reset by the coordinator, asked again on the same socket" ||
  not_ok "agent 1 after the reset: $(grep -h 'sync.*watch' "$T/agent.log.new" | tail -2)"
"$BM_BIN/rpc_probe" "$BMCTL_COORDINATOR" "$PKI/ca.crt" "$T/old.crt" "$T/old.key" watch rack2 >"$T/out"
grep -qE "^FAILED|revoked" "$T/out" && ok "the revoked certificate is refused ($(cat "$T/out"))" ||
  not_ok "the revoked certificate: $(cat "$T/out")"

bmctl agents >"$T/out" 2>&1
expect_in "$T/out" rack1 "bmctl agents lists rack1's agent"
expect_in "$T/out" rack2 "bmctl agents lists rack2's agent"
bmctl -o json agents >"$T/out" 2>&1
expect_in "$T/out" "$IF_S 10.11.0.1/24" "an agent registers its interfaces and subnets"

# --- kill -9 around a large change ------------------------------------------
N=3000
{
  fleet_head
  echo '  - {name: m3, rack: rack2, mac: "52:54:00:12:00:03", ip: 10.12.0.13, profile: inst}'
  for i in $(seq 1 $N); do
    printf '  - {name: b%d, rack: rack2, mac: "52:54:00:22:%02x:%02x", profile: inst}\n' \
      "$i" $((i / 256)) $((i % 256))
  done
} >"$T/fleet.yaml"
bmctl apply -f "$T/fleet.yaml" >/dev/null &
apply_pid=$!
sleep 0.15
kill -9 "$A2_PID"; wait "$A2_PID" 2>/dev/null
wait "$apply_pid" && ok "$N machines applied while agent 2 was killed" || not_ok "large apply failed"
a2_lines=$(wc -l <"$T/a2.log")
start_a2
last=$(printf '52:54:00:22:%02x:%02x' $((N / 256)) $((N % 256)))
wait_code code2 "/boot/$last.ipxe" 403 && ok "after kill -9 and restart, agent 2 knows the last machine" ||
  not_ok "agent 2 never caught up"
tail -n +$((a2_lines + 1)) "$T/a2.log" | grep 'sync view updated' >"$T/after"
grep -q "snapshot=1" "$T/after" && not_ok "the restarted agent needed a snapshot: $(cat "$T/after")" ||
  ok "the restarted agent resumed from its stored revision (no snapshot)"
# site + rack + machines (m2, m3, m4, m5, N) + profile + image
want=$((1 + 1 + 4 + N + 1 + 1))
got=$(mdb_stat -s view "$T/a2-data/rackdb" | awk '/Entries/ {print $2}')
[ "$got" = "$want" ] && ok "agent 2's stored view holds exactly the rack's $want objects" ||
  not_ok "agent 2's view has $got objects, wanted $want"

# --- a coordinator too slow to answer in time: the agents keep their links
# A call that times out on a connection that is up is asked again there
# (sync.c link_slow): another connection would cost a TLS handshake on both
# sides and leave the first request to be served for nobody. Stopped for
# 16 s, the coordinator misses at least one heartbeat's 10 s timeout.
peers() { ip netns exec "$K" ss -Htn state established '( sport = :7400 )' | awk '{print $4}' | sort; }
peers >"$T/peers.before"
kill -STOP "$COORD_PID"
sleep 16
kill -CONT "$COORD_PID"
for _ in $(seq 1 50); do grep -q "(same connection)" "$T/agent.log.new" "$T/a2.log" && break; sleep 0.1; done
grep -q "(same connection)" "$T/agent.log.new" "$T/a2.log" &&
  ok "a call that timed out on a stopped coordinator is asked again on its connection" ||
  not_ok "no agent waited on its connection: $(grep -h 'sync.*failed' "$T/agent.log.new" "$T/a2.log" | tail -2)"
sleep 2
peers >"$T/peers.after"
[ -s "$T/peers.before" ] && [ -z "$(comm -23 "$T/peers.before" "$T/peers.after")" ] &&
  [ "$(wc -l <"$T/peers.after")" = "$(wc -l <"$T/peers.before")" ] &&
  ok "the agents' connections are the same after the coordinator's stall" ||
  not_ok "connections before: $(tr '\n' ' ' <"$T/peers.before") after: $(tr '\n' ' ' <"$T/peers.after")"

# --- the coordinator away: boot through the agent --------------------------
# (killed: its connections close under the agents, as when a host dies;
# SIGTERM would answer their calls "shutting down")
kill -9 "$COORD_PID"; wait "$COORD_PID" 2>/dev/null; COORD_PID=
cat >"$T/dhclient.sh" <<'S'
#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT) ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
esac
S
chmod +x "$T/dhclient.sh"
client_mac 52:54:00:11:00:01
in_c timeout 20 dhclient -1 -v -lf "$T/dhc.leases" -pf "$T/dhc.pid" -sf "$T/dhclient.sh" "$IF_C" \
  >"$T/dhc" 2>&1
grep -q "bound to 10.11.0.11" "$T/dhc" && ok "coordinator down: m1 gets its reservation from agent 1" ||
  not_ok "dhclient: $(tail -3 "$T/dhc")"
in_c $CURL --interface 10.11.0.11 "http://10.11.0.1:8080/boot/52:54:00:11:00:01.ipxe" >"$T/script"
cb=$(sed -n 's/.*bm.callback=\([^ ]*\) bm.token=\([0-9a-f]*\).*/\1?state=done\&token=\2/p' "$T/script")
[ -n "$cb" ] && ok "coordinator down: m1's script names its callback" || not_ok "no callback in: $(cat "$T/script")"
[ "$(in_c $CURL -o /dev/null -w '%{http_code}' --interface 10.11.0.11 "$cb")" = 200 ] &&
  ok "coordinator down: m1's callback is taken" || not_ok "callback refused"
# (from m1's address: the agent's ARP entry for .99 still names the MAC
# the client had before m1's)
c99=$(in_c $CURL -o /dev/null -w '%{http_code}' --interface 10.11.0.11 http://10.11.0.1:8080/boot/52:54:00:11:00:99.ipxe)
[ "$c99" = 404 ] && ok "an unknown MAC asks for its script: 404" || not_ok "unknown MAC: $c99"
client_mac 52:54:00:11:00:99 # a machine nobody declared, in DHCP
in_c timeout 20 dhclient -1 -v -lf "$T/dhc99.leases" -pf "$T/dhc99.pid" -sf "$T/dhclient.sh" "$IF_C" \
  >"$T/dhc99" 2>&1
grep -q "bound to 10.11.0.1[0-5][0-9]" "$T/dhc99" && ok "coordinator down: an unknown MAC gets a pool address" ||
  not_ok "dhclient of the unknown MAC: $(tail -3 "$T/dhc99")"
outbox=$(entries outbox)
[ "$outbox" -ge 3 ] && ok "the outbox holds the boot's events ($outbox)" || not_ok "outbox holds $outbox"
# Its connection reset by a coordinator that died, agent 1 asked again on
# the same socket, which never came back: the link gave up after
# SYNC_REDIAL_MS (10 s) and tried the next (here the same) URL afresh.
for _ in $(seq 1 200); do grep -q "err=\"the connection it reset is not back in" "$T/agent.log.new" && break; sleep 0.1; done
grep -q "err=\"the connection it reset is not back in 10000 ms\"" "$T/agent.log.new" &&
  ok "coordinator down: the link stops waiting for its reset connection after 10 s" ||
  not_ok "the link's reset connection: $(grep -h 'sync.*watch' "$T/agent.log.new" | tail -2)"

start_coord_k
for _ in $(seq 1 100); do
  [ "$(entries outbox)" = 0 ] && break
  sleep 0.1
done
[ "$(entries outbox)" = 0 ] && ok "coordinator back: the outbox drains" || not_ok "outbox still $(entries outbox)"
bmctl trace m1 >"$T/trace" 2>&1
[ "$(grep -c 'callback.*state=done' "$T/trace")" = 1 ] && ok "bmctl trace m1 shows the callback exactly once" ||
  { not_ok "trace:"; sed 's/^/    /' "$T/trace"; }
expect_in "$T/trace" "dhcp" "bmctl trace m1 shows its DHCP exchange"
expect_in "$T/trace" "script (install)" "bmctl trace m1 shows the fetch of its script"
bmctl get machines --state new >"$T/out" 2>&1
expect_in "$T/out" "rack1-525400110099" "the unknown MAC is a machine in state new"
# A second delivery of the same events changes nothing: restart the agent
# (it re-registers and resends from what the coordinator acknowledged).
kill9_agent
start_agent "$T/a1.yaml"
sleep 1
bmctl trace m1 >"$T/trace" 2>&1
[ "$(grep -c 'callback.*state=done' "$T/trace")" = 1 ] && ok "after the agent's restart, still once" ||
  not_ok "callback counted $(grep -c 'callback.*state=done' "$T/trace") times"
[ -n "${BM_IT_DEBUG:-}" ] && cp -r "$T" "$BM_IT_DEBUG"
finish
