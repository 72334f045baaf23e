#!/usr/bin/env bash
# A rogue DHCP server on a rack's segment: dnsmasq at 10.12.0.66 in the
# machines' namespace. The managed agent (probing every 2 s) reports it
# within seconds: a warning with the server's address and MAC, a counter in
# /metrics, and `bmctl agents` (its NOTES, and -o json) through the
# coordinator. Its own answers are never taken for a rogue's, nor its own
# probes answered by its server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

netns_up 10.12.0.1/24 10.12.0.66/24
start_coord
cat >"$T/fleet.yaml" <<Y
sites: [{name: s}]
racks: [{name: rack12, site: s, subnet: 10.12.0.0/24, gateway: 10.12.0.1, pool: 10.12.0.100-10.12.0.120}]
images: []
profiles: []
machines: []
Y
expect_exit 0 "fleet applied" bmctl apply -f "$T/fleet.yaml"
cat >"$T/agent.yaml" <<Y
rack: rack12
data_dir: $T/agent-data
interfaces: [$IF_S]
tftp_root: $T
coordinator: [$BMCTL_COORDINATOR]
$(agent_tls rack12)
rogue_dhcp_probe: 2
Y
start_agent "$T/agent.yaml"
sleep 3 # two probes answered by the agent alone
grep -q "rogue DHCP server" "$T/agent.log.new" && not_ok "the agent took itself for a rogue" ||
  ok "alone on the segment: no rogue reported"
in_s curl -s http://127.0.0.1:9180/metrics >"$T/metrics"
expect_in "$T/metrics" 'bm_dhcp_packets_sent_total{type="offer"} 0' \
  "the agent's own server does not answer its probes (no address offered to itself)"

ip netns exec "$NS_C" dnsmasq --no-daemon --port=0 --interface="$IF_C" --bind-interfaces \
  --dhcp-range=10.12.0.150,10.12.0.160,1h --dhcp-leasefile="$T/dnsmasq.leases" --pid-file= \
  2>"$T/dnsmasq.log" &
DNSMASQ_PID=$!
MAC=$(ip -n "$NS_C" -br link show "$IF_C" | awk '{print $3}')
for _ in $(seq 1 100); do grep -q "rogue DHCP server" "$T/agent.log.new" && break; sleep 0.1; done
grep -q "rogue DHCP server iface=$IF_S server=10.12.0.66 mac=$MAC" "$T/agent.log.new" &&
  ok "the agent warns of the rogue server, with its address and MAC" ||
  not_ok "no warning: $(grep -i rogue "$T/agent.log.new")"
n=$(in_s curl -s http://127.0.0.1:9180/metrics | awk '$1 == "bm_dhcp_rogue_answers_total" {print $2}')
[ "${n:-0}" -ge 1 ] && ok "counted in /metrics ($n answers)" || not_ok "bm_dhcp_rogue_answers_total=$n"
for _ in $(seq 1 100); do bmctl agents 2>/dev/null | grep -q "rogue DHCP 10.12.0.66" && break; sleep 0.1; done
bmctl agents >"$T/out" 2>&1
expect_in "$T/out" "rogue DHCP 10.12.0.66 seen" "bmctl agents shows it"
bmctl -o json agents >"$T/out" 2>&1
expect_in "$T/out" "\"mac\": \"$MAC\"" "bmctl -o json agents gives its MAC"
sleep 3
w=$(grep -c "rogue DHCP server" "$T/agent.log.new")
[ "$w" = 1 ] && ok "seen again, not warned again within the minute" || not_ok "$w warnings"
kill "$DNSMASQ_PID"; wait "$DNSMASQ_PID" 2>/dev/null
finish
