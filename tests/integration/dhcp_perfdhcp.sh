#!/usr/bin/env bash
# perfdhcp (kea-admin) runs 10,000 DORA exchanges against bmagent: the agent
# answers every packet it receives, drops none, and keeps a lease on disk for
# every client that asked for one. perfdhcp acts as a relay from the client namespace, as in
# bench/dhcp.sh; a steady rate, not a measurement. The outcome is read on the
# server's side (the namespace's UDP counters, the leases on disk): with
# other tests on the same two cores perfdhcp itself is starved, and its own
# socket overflows (RcvbufErrors in the client namespace) while the agent
# has answered everything; what perfdhcp saw is printed, not asserted.
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
rogue_dhcp_probe: 0 # its probes would count among the namespace's datagrams
Y
start_agent "$T/agent.yaml"
# udp NS FIELD: a counter of the namespace's UDP statistics.
udp() {
  ip netns exec "$1" cat /proc/net/snmp |
    awk -v f="$2" '/^Udp:/ && !h {for (i = 1; i <= NF; i++) n[i] = $i; h = 1; next}
                   /^Udp:/ {for (i = 1; i <= NF; i++) if (n[i] == f) print $i}'
}
in_c perfdhcp -4 -l "$IF_C" -r 1000 -R 1000000 -n 10000 -d 10 -W 12000000 -g single 10.99.0.1 >"$T/perf.out" 2>&1
awk '/Statistics for: DISCOVER-OFFER/ {s="DO"} /Statistics for: REQUEST-ACK/ {s="RA"}
     /^sent packets:/ {sent[s]=$3} /^received packets:/ {recv[s]=$3}
     END {printf "# perfdhcp saw: DISCOVER %d OFFER %d REQUEST %d ACK %d\n", sent["DO"], recv["DO"], sent["RA"], recv["RA"]}' "$T/perf.out"
echo "# perfdhcp's socket overflowed: $(udp "$NS_C" RcvbufErrors) times"
disc=$(awk '/Statistics for: DISCOVER-OFFER/ {f=1} f && /^sent packets:/ {print $3; exit}' "$T/perf.out")
reqs=$(awk '/Statistics for: REQUEST-ACK/ {f=1} f && /^sent packets:/ {print $3; exit}' "$T/perf.out")
sent=$(udp "$NS_C" OutDatagrams) got=$(udp "$NS_S" InDatagrams) answered=$(udp "$NS_S" OutDatagrams)
[ "${disc:-0}" -ge 10000 ] && ok "perfdhcp sent $disc DISCOVERs" || not_ok "perfdhcp: $(tail -5 "$T/perf.out")"
[ "$got" = "$sent" ] && [ "$(udp "$NS_S" RcvbufErrors)" = 0 ] &&
  ok "the agent received all $sent packets, its socket never overflowed" ||
  not_ok "sent $sent, received $got, overflows $(udp "$NS_S" RcvbufErrors)"
[ "$answered" = "$got" ] && ok "the agent answered every one ($answered)" ||
  not_ok "received $got, answered $answered"
# A million MACs to draw from: every client is a new one.
[ "$(entries leases)" = "${reqs:-0}" ] && ok "a lease on disk for each of the $reqs clients that asked" ||
  not_ok "leases on disk: $(entries leases), REQUESTs sent $reqs"
finish
