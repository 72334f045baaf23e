#!/usr/bin/env bash
# The agent's router advertisements (ipv6_ra: true) to a real client:
# ndisc6's rdisc6 solicits on the client's side of the rack segment and
# gets the agent's RA: not a default router (lifetime 0), no DHCPv6 (M and
# O clear), the agent's MAC as source link-layer address -- what ends
# iPXE's IPv6 wait. Without the option the agent sends none.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
command -v rdisc6 >/dev/null || { echo "skip: no rdisc6 (ndisc6)"; exit 77; }
netns_up 10.16.0.1/24 10.16.0.99/24
# Link-local addresses first (DAD), on both sides.
for _ in $(seq 1 50); do
  [ -z "$(in_s ip -6 addr show dev "$IF_S" tentative)$(in_c ip -6 addr show dev "$IF_C" tentative)" ] &&
    in_s ip -6 addr show dev "$IF_S" | grep -q fe80 && break
  sleep 0.1
done
mkdir -p "$T/root"
printf 'sites: [{name: s}]\nracks: [{name: rack16, site: s, subnet: 10.16.0.0/24, gateway: 10.16.0.1}]\n' >"$T/fleet.yaml"
agent_yaml() {
  cat <<Y
rack: rack16
data_dir: $T/agent-data
interfaces: [$IF_S]
tftp_root: $T/root
fleet: $T/fleet.yaml
ipv6_ra: $1
Y
}
agent_yaml false >"$T/agent.yaml"
start_agent "$T/agent.yaml"
in_c rdisc6 -1 -w 500 -r 2 "$IF_C" >"$T/none" 2>&1
[ $? != 0 ] && ok "ipv6_ra off: no advertisement" || not_ok "an RA without the option: $(cat "$T/none")"
kill9_agent
agent_yaml true >"$T/agent.yaml"
start_agent "$T/agent.yaml"
in_c rdisc6 -1 -w 1000 -r 3 "$IF_C" >"$T/out" 2>&1 && ok "rdisc6 gets an advertisement" ||
  { not_ok "no RA"; cat "$T/out"; }
grep -Eq "Router lifetime +: +0 " "$T/out" && ok "router lifetime 0: not a default router" ||
  not_ok "lifetime: $(grep -i lifetime "$T/out")"
grep -Eq "Stateful address conf\. +: +No" "$T/out" && grep -Eq "Stateful other conf\. +: +No" "$T/out" &&
  ok "M and O clear: no DHCPv6" || not_ok "flags: $(cat "$T/out")"
mac=$(in_s cat "/sys/class/net/$IF_S/address" | tr a-f A-F)
grep -qi "Source link-layer address: *$mac" "$T/out" && ok "source link-layer address is the agent's MAC" ||
  not_ok "lladdr: $(grep -i link-layer "$T/out")"
grep -q "from fe80:" "$T/out" && ok "sent from the link-local address" || not_ok "source: $(grep from "$T/out")"
expect_in "$T/agent.log.new" "answering router solicitations" "the agent logs its first answer"
finish
