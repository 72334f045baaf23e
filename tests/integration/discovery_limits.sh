#!/usr/bin/env bash
# Unknown MACs from a host making them up, against an agent and its
# coordinator:
#   - an unknown MAC's lease is short (discovery_lease_time), a known
#     machine's is not;
#   - 3,000 unknown MACs (real DHCP exchanges): the coordinator keeps at
#     most the rack's discovery_max machines in state new, counts the rest
#     (bmctl describe rack) and logs them at a bounded rate; the agent keeps
#     serving (a known machine gets its lease after the flood);
#   - with the default discovery_rate (10 a second after a burst of 100),
#     the agent drops discovery events beyond it and counts them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
DORA="$BM_SRC/tests/integration/dhcp_dora.py"

netns_up 10.16.0.1/20 10.16.0.99/20
start_coord
cat >"$T/fleet.yaml" <<Y
sites: [{name: s}]
racks:
  - {name: rack16, site: s, subnet: 10.16.0.0/20, gateway: 10.16.0.1,
     pool: 10.16.1.0-10.16.15.250, discovery_max: 500}
images: []
profiles: []
machines:
  - {name: m1, rack: rack16, mac: "52:54:00:16:00:01", ip: 10.16.0.11}
Y
expect_exit 0 "fleet applied (discovery_max: 500)" bmctl apply -f "$T/fleet.yaml"
conf() { # conf [KEY: VALUE...]
  cat <<Y
rack: rack16
data_dir: $T/agent-data
interfaces: [$IF_S]
tftp_root: $T
coordinator: [$BMCTL_COORDINATOR]
$(agent_tls rack16)
lease_time: 3600
Y
  for l in "$@"; do echo "$l"; done
}
conf "discovery_rate: 0" >"$T/agent.yaml"
start_agent "$T/agent.yaml"
for _ in $(seq 1 100); do grep -q "view updated" "$T/agent.log.new" && break; sleep 0.1; done
metric() { in_s curl -s http://127.0.0.1:9180/metrics | awk -v m="$1" '$1 == m {print $2}'; }

out=$(in_c python3 "$DORA" "$IF_C" 52:54:00:16:00:01) || true
echo "# m1: $out"
[ "${out##* }" = 3600 ] && ok "a known machine's lease: lease_time (3600 s)" || not_ok "m1: $out"
out=$(in_c python3 "$DORA" "$IF_C" 02:00:00:00:00:01) || true
echo "# unknown: $out"
[ "${out##* }" = 600 ] && ok "an unknown MAC's lease: discovery_lease_time (600 s)" ||
  not_ok "unknown MAC: $out"

# --- 3,000 unknown MACs -------------------------------------------------------
out=$(in_c python3 "$DORA" "$IF_C" 02:00:00:01:00:00 3000) || true
echo "# flood: $out"
set -- $out
[ "$2" = 3000 ] && ok "3,000 unknown MACs all leased (the pool holds them)" || not_ok "flood: $out"
new() { bmctl get machines --state new 2>/dev/null | grep -c '^rack16-'; }
for _ in $(seq 1 300); do
  [ "$(entries outbox)" = 0 ] && [ "$(new)" -ge 500 ] && break
  sleep 0.1
done
[ "$(new)" = 500 ] && ok "the coordinator stores exactly discovery_max (500) new machines" ||
  not_ok "machines in state new: $(new)"
bmctl describe rack rack16 >"$T/out" 2>&1
expect_in "$T/out" "at most 500 new machines; 2501 MACs refused" \
  "bmctl describe rack counts the 2,501 refused (3,001 unknown MACs, 500 kept)"
n=$(grep -c "discovery refused rack=rack16" "$T/coord.log")
[ "$n" -ge 1 ] && [ "$n" -le 13 ] && ok "the coordinator logs the refusals at a bounded rate ($n lines)" ||
  not_ok "refusal log lines: $n"
out=$(in_c python3 "$DORA" "$IF_C" 52:54:00:16:00:01) || true
[ "${out%% *}" = acked ] && [ "$(echo "$out" | cut -d' ' -f2)" = 1 ] &&
  ok "after the flood, a known machine still gets its lease" || not_ok "m1 after the flood: $out"
kill -0 "$AGENT_PID" && ok "the agent is still up" || not_ok "the agent died"

# --- the agent's discovery rate ---------------------------------------------
kill9_agent
conf >"$T/agent.yaml" # defaults: 10 a second after a burst of 100
start_agent "$T/agent.yaml"
before=$(mdb_stat -s discovered "$T/agent-data/rackdb" | awk '/Entries/ {print $2}')
out=$(in_c python3 "$DORA" "$IF_C" 02:00:00:02:00:00 400) || true
echo "# rate: $out"
recorded=$(( $(mdb_stat -s discovered "$T/agent-data/rackdb" | awk '/Entries/ {print $2}') - before ))
dropped=$(metric bm_dhcp_discoveries_dropped_total)
[ "$recorded" -ge 100 ] && [ "${dropped:-0}" -ge 1 ] && [ $((recorded + dropped)) = 400 ] &&
  ok "400 unknown MACs at once: $recorded reported, $dropped dropped beyond discovery_rate" ||
  not_ok "rate: recorded $recorded dropped $dropped"
grep -q 'discovery dropped mac=' "$T/agent.log.new" && ok "the dropped discoveries are logged" ||
  not_ok "no log of the dropped discoveries"
finish
