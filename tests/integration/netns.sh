# Network namespaces for agent tests: a server namespace and a client
# namespace joined by a veth pair, with names unique to this test run, and
# always removed on exit. Source after lib.sh.
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root"; exit 77; }
NS_S=bm$$s
NS_C=bm$$c
IF_S=bm$$sv
IF_C=bm$$cv
AGENT_PID=
NS_EXTRA= # more namespaces a test makes, removed with the others

netns_cleanup() {
  for n in $NS_EXTRA; do
    ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$n" 2>/dev/null
  done
  [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
  ip netns pids "$NS_C" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns pids "$NS_S" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip netns del "$NS_S" 2>/dev/null
  ip netns del "$NS_C" 2>/dev/null
  cleanup
}
trap netns_cleanup EXIT

# netns_up SERVER_CIDR [CLIENT_CIDR]
netns_up() {
  ip netns add "$NS_S" && ip netns add "$NS_C" &&
    ip link add "$IF_S" netns "$NS_S" type veth peer name "$IF_C" netns "$NS_C" &&
    ip -n "$NS_S" addr add "$1" dev "$IF_S" &&
    ip -n "$NS_S" link set "$IF_S" up && ip -n "$NS_S" link set lo up &&
    ip -n "$NS_C" link set "$IF_C" up && ip -n "$NS_C" link set lo up || {
    echo "FATAL: cannot create namespaces"; exit 1; }
  [ -n "${2:-}" ] && ip -n "$NS_C" addr add "$2" dev "$IF_C"
  COORD_NS=$NS_S # the coordinator beside the agent: 127.0.0.1 is shared
  return 0
}
# standalone_conf FLEET TFTP_ROOT [KEY: VALUE...]: $T/agent.yaml for a
# standalone rack12 agent on IF_S, with extra settings, one a line.
standalone_conf() {
  local fleet=$1 root=$2 l
  shift 2
  { echo "rack: rack12"; echo "data_dir: $T/agent-data"; echo "interfaces: [$IF_S]"
    echo "tftp_root: $root"; echo "fleet: $fleet"
    for l in "$@"; do echo "$l"; done; } >"$T/agent.yaml"
}
# rack_conf RACK [KEY: VALUE...]: $T/agent.yaml for RACK's agent on IF_S,
# synced from the test's coordinator over mTLS, with extra settings.
rack_conf() {
  local rack=$1 l
  shift
  { echo "rack: $rack"; echo "data_dir: $T/agent-data"; echo "interfaces: [$IF_S]"
    echo "tftp_root: $T/root"; echo "coordinator: [$BMCTL_COORDINATOR]"; agent_tls "$rack"
    for l in "$@"; do echo "$l"; done; } >"$T/agent.yaml"
}
in_s() { ip netns exec "$NS_S" "$@"; }
in_c() { ip netns exec "$NS_C" "$@"; }
client_mac() { ip -n "$NS_C" link set "$IF_C" address "$1"; }

# start_agent CONFIG: bmagent in the server namespace; waits for "serving".
start_agent() {
  : >"$T/agent.log.new"
  # Not through in_s: backgrounding a function would leave $! a subshell.
  ip netns exec "$NS_S" "$BM_BIN/bmagent" --config "$1" 2>>"$T/agent.log.new" &
  AGENT_PID=$!
  for _ in $(seq 1 100); do
    grep -q "agent serving" "$T/agent.log.new" && { cat "$T/agent.log.new" >>"$T/agent.log"; return 0; }
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "FATAL: bmagent did not start"; cat "$T/agent.log.new"; exit 1
}
kill9_agent() { kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=; }
# entries TABLE: rows in a table of the agent's store
entries() { mdb_stat -s "$1" "$T/agent-data/rackdb" | awk '/Entries/ {print $2}'; }
