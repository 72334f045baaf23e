#!/usr/bin/env bash
# perfdhcp (kea-admin) completes 10,000 DORA exchanges against bmagent with
# no drops, every lease durable. perfdhcp acts as a relay from the client
# namespace, as in bench/dhcp.sh; a steady rate, not a measurement.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
command -v perfdhcp >/dev/null || { echo "SKIP: perfdhcp (kea-admin) not installed"; exit 77; }

netns_up 10.99.0.1/16 10.99.0.2/16
cat >"$T/fleet.yaml" <<Y
sites: [{name: bench}]
racks: [{name: bench, site: bench, subnet: 10.99.0.0/16, gateway: 10.99.0.1,
         pool: 10.99.1.0-10.99.255.254}]
Y
cat >"$T/agent.yaml" <<Y
rack: bench
data_dir: $T/agent-data
interfaces: [$IF_S]
fleet: $T/fleet.yaml
Y
start_agent "$T/agent.yaml"
in_c perfdhcp -4 -l "$IF_C" -r 1000 -R 10000 -n 10000 -W 2000000 -g single 10.99.0.1 >"$T/perf.out" 2>&1
awk '/Statistics for: DISCOVER-OFFER/ {s="DO"} /Statistics for: REQUEST-ACK/ {s="RA"}
     /^sent packets:/ {sent[s]=$3} /^received packets:/ {recv[s]=$3}
     END {printf "# DISCOVER %d OFFER %d REQUEST %d ACK %d\n", sent["DO"], recv["DO"], sent["RA"], recv["RA"]}' "$T/perf.out"
disc=$(awk '/Statistics for: DISCOVER-OFFER/ {f=1} f && /^sent packets:/ {print $3; exit}' "$T/perf.out")
acks=$(awk '/Statistics for: REQUEST-ACK/ {f=1} f && /^received packets:/ {print $3; exit}' "$T/perf.out")
[ "$disc" = 10000 ] && ok "perfdhcp sent 10,000 DISCOVERs" || not_ok "perfdhcp: $(tail -5 "$T/perf.out")"
[ "$acks" = 10000 ] && ok "10,000 ACKs: no drops" || not_ok "ACKs received: $acks"
[ "$(entries leases)" = 10000 ] && ok "10,000 leases on disk" || not_ok "leases on disk: $(entries leases)"
finish
