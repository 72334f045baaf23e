#!/usr/bin/env bash
# Crafted packets over the wire against bmagent (dhcp_probe.py): every PXE
# branch, unknown MACs with and without a pool, every malformed case followed
# by a request that must be answered, proxyDHCP on 67 and 4011; SIGHUP
# reloads the fleet file (a bad one changes nothing); SIGTERM exits cleanly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
PROBE="$HERE/dhcp_probe.py"

netns_up 10.12.0.1/24 10.12.0.99/24
agent_yaml() { # MODE FLEET
  printf 'rack: rack12\ndata_dir: %s\ninterfaces: [%s]\nmode: %s\nfleet: %s\n' \
    "$T/agent-data" "$IF_S" "$1" "$2" >"$T/agent.yaml"
}
probe() { in_c python3 "$PROBE" "$IF_C" 10.12.0.1 "$1" | tee -a "$T/probe.out"; }

cp "$BM_SRC/deploy/examples/fleet.yaml" "$T/fleet.yaml"
agent_yaml authoritative "$T/fleet.yaml"
start_agent "$T/agent.yaml"
probe authoritative
grep -q "dropped malformed packet" "$T/agent.log.new" && ok "malformed packets are logged" || not_ok "no log line for malformed packets"

# SIGHUP: a broken fleet file changes nothing; a good one (rack12 without
# its pool) is served at once.
printf 'machines: [{name: x, rack: rack12, mac: "zz"}]\n' >"$T/fleet.yaml"
kill -HUP "$AGENT_PID"; sleep 0.3
grep -q "reload refused" "$T/agent.log.new" && ok "SIGHUP with a bad fleet file is refused" || not_ok "bad reload not refused"
sed 's/, pool: 10.12.0.200-10.12.0.250//; /pool: 10.12.0.200-10.12.0.250/d' \
  "$BM_SRC/deploy/examples/fleet.yaml" >"$T/fleet.yaml"
kill -HUP "$AGENT_PID"; sleep 0.3
grep -q "agent reloaded" "$T/agent.log.new" && ok "SIGHUP reloads a good fleet file" || not_ok "no reload"
probe nopool
n=$(grep -c "no reply mac=52:54:00:99:00:78" "$T/agent.log.new")
[ "$n" = 1 ] && ok "an unknown MAC without a pool is logged once a minute at most (3 requests, $n line)" ||
  not_ok "unknown MAC logged $n times for 3 requests"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; rc=$?; AGENT_PID=
[ "$rc" = 0 ] && grep -q "agent stopped" "$T/agent.log.new" && ok "SIGTERM: clean exit" || not_ok "SIGTERM exit $rc"

agent_yaml proxy "$BM_SRC/deploy/examples/fleet.yaml"
start_agent "$T/agent.yaml"
probe proxy
fails=$((fails + $(grep -c '^not ok' "$T/probe.out")))
finish
