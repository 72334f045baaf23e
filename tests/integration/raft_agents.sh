#!/usr/bin/env bash
# An agent watching a three-coordinator cluster keeps its view through
# leader changes: it long-polls whichever coordinator answers, resumes on
# another from the revision it holds, and ends with every change (its view
# at the cluster's revision, every machine there), while its outbox keeps
# reaching the cluster and every node lists it as live. Given one follower
# alone, its writes follow the redirect to the leader.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
. "$(dirname "$0")/cluster.sh"
# The nodes run in the agent's namespace (netns_up sets COORD_NS), on TLS.
NODE_ARGS=(--bootstrap "1=$(raddr 1),2=$(raddr 2),3=$(raddr 3)")
leader() { wait_leader 1 2 3; }
stop_nodes() { kill_nodes; netns_cleanup; }
trap stop_nodes EXIT

netns_up 10.15.0.1/24 10.15.0.99/24
for i in 1 2 3; do start_node "$i"; done
leader >/dev/null || { not_ok "no leader"; finish; }
export BMCTL_COORDINATOR="$(api 1),$(api 2),$(api 3)"
fleet() { # fleet N: machines m1..mN in rack15
  echo "sites: [{name: s}]"
  echo "racks: [{name: rack15, site: s, subnet: 10.15.0.0/24, gateway: 10.15.0.1, pool: 10.15.0.100-10.15.0.199}]"
  echo "machines:"
  for i in $(seq 1 "$1"); do printf '  - {name: m%d, rack: rack15, mac: "52:54:00:15:%02x:%02x"}\n' "$i" $((i / 256)) $((i % 256)); done
}
fleet 1 >"$T/fleet.yaml"
expect_exit 0 "fleet applied to the cluster" bmctl apply -f "$T/fleet.yaml"
mkdir -p "$T/root"
cat >"$T/agent.yaml" <<Y
rack: rack15
data_dir: $T/agent-data
interfaces: [$IF_S]
tftp_root: $T/root
coordinator: [$(api 1), $(api 2), $(api 3)]
$(agent_tls rack15)
log_level: debug
Y
start_agent "$T/agent.yaml"
code() { in_c curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://10.15.0.1:8080$1"; }
wait_code() { for _ in $(seq 1 150); do [ "$(code "$1")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
# A machine's script asked from the test's address: 403 when the agent
# knows the machine (only the machine may fetch it), 404 when it does not.
wait_code /boot/52:54:00:15:00:01.ipxe 403 && ok "the agent syncs from the cluster" || not_ok "no first sync"

# Three leader changes, each followed by new machines.
n=1
for k in 1 2 3; do
  L=$(leader)
  kill_node "$L"
  for j in 1 2 3 4 5; do
    n=$((n + 1))
    fleet "$n" >"$T/fleet.yaml"
    bmctl apply -f "$T/fleet.yaml" >/dev/null || not_ok "apply $n after killing node $L"
  done
  start_node "$L"
done
last=$(printf '52:54:00:15:%02x:%02x' $((n / 256)) $((n % 256)))
wait_code "/boot/$last.ipxe" 403 && ok "after 3 leader changes the agent knows the last machine (m$n)" ||
  not_ok "the agent never got m$n"
held=$(mdb_stat -s view "$T/agent-data/rackdb" | awk '/Entries/ {print $2}')
# site + rack + machines
[ "$held" = $((2 + n)) ] && ok "its view holds every machine, none missed ($n)" ||
  not_ok "its view holds $held objects, wanted $((2 + n))"
# A follower behind the agent makes it wait rather than send an older
# snapshot: the revisions the agent stores never go back.
sed -n 's/.*view updated revision=\([0-9]*\).*/\1/p' "$T/agent.log.new" >"$T/revs"
sort -n -c "$T/revs" 2>/dev/null && ok "the agent's view revision never went back ($(wc -l <"$T/revs") updates)" ||
  not_ok "the view revision went back: $(tr '\n' ' ' <"$T/revs")"
missing=0
for i in $(seq 1 "$n"); do
  [ "$(code "/boot/$(printf '52:54:00:15:%02x:%02x' $((i / 256)) $((i % 256))).ipxe")" = 403 ] ||
    missing=$((missing + 1))
done
[ "$missing" = 0 ] && ok "every machine is known to the agent" || not_ok "$missing machines unknown"
# Every node knows when the agent was last seen, whichever it watches:
# the leader replicates the heartbeats it gets, so on all three nodes the
# last sighting moves past the registration, and none calls the agent
# silent or never seen.
seen_after_register() { # NODE: last_seen_ms - registered_ms of the agent there
  on "$1" -o json agents 2>/dev/null | python3 -c '
import json, sys
a = json.load(sys.stdin)
a = a[0] if isinstance(a, list) else a["items"][0]
print(a["last_seen_ms"] - a["registered_ms"])' 2>/dev/null || echo -1
}
for i in 1 2 3; do
  for _ in $(seq 1 300); do [ "$(seen_after_register "$i")" -ge 6000 ] && break; sleep 0.1; done
  d=$(seen_after_register "$i")
  [ "$d" -ge 6000 ] && ok "node $i saw the agent ${d} ms after it registered" ||
    not_ok "node $i: last seen $d ms after registering"
  on "$i" agents >"$T/out" 2>&1
  expect_in "$T/out" " live " "after the leader changes, node $i lists the agent as live"
done
V=$(sed -n 's/^project(baremetal VERSION \([0-9.]*\).*/\1/p' "$BM_SRC/CMakeLists.txt")
expect_in "$T/out" " $V " "the agent registered its version ($V)"
# Events still reach the cluster: an unknown MAC in DHCP becomes a machine.
in_c python3 "$BM_SRC/tests/integration/dhcp_dora.py" "$IF_C" 52:54:00:15:09:99 >/dev/null ||
  not_ok "no lease for 52:54:00:15:09:99"
for _ in $(seq 1 100); do bmctl get machines --state new 2>/dev/null | grep -q rack15-525400150999 && break; sleep 0.1; done
bmctl get machines --state new >"$T/out" 2>&1
expect_in "$T/out" "rack15-525400150999" "the agent's events reach the cluster after the leader changes"

# An agent given one follower alone: its writes are redirected to the
# leader that follower names, and its events still land.
L=$(leader)
F=$((L % 3 + 1))
kill9_agent
sed -i "s|^coordinator: .*|coordinator: [$(api "$F")]|" "$T/agent.yaml"
start_agent "$T/agent.yaml"
in_c python3 "$BM_SRC/tests/integration/dhcp_dora.py" "$IF_C" 52:54:00:15:09:98 >/dev/null ||
  not_ok "no lease for 52:54:00:15:09:98"
for _ in $(seq 1 100); do bmctl get machines --state new 2>/dev/null | grep -q rack15-525400150998 && break; sleep 0.1; done
bmctl get machines --state new >"$T/out" 2>&1
expect_in "$T/out" "rack15-525400150998" "an agent told only of follower $F reaches the leader (node $L)"
grep -h "redirected" "$T"/agent.log* >"$T/out" 2>/dev/null
expect_in "$T/out" "leader=$(api "$L")" "the follower redirected the agent to the leader's URL"
finish
