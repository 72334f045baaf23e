# Shared by the benchmarks that run many agents (sync.sh, fleet.sh): each
# agent in a namespace of its own (PREFIX1, PREFIX2, ...) routed to the
# coordinators' namespace $K over a veth, its rack segment a veth pair
# inside it (this kernel has no dummy links), rack i at 10.(100 +
# i/200).(i%200).1/24; the daemons started, killed by their own PIDs; and
# the commit -> agent latencies from the logs. Source after lib.sh, with
# K, AGENTS and AGENT_NS (the namespaces' prefix) set.
PIDS=()
# The kernel's neighbour (ARP) table is one for every namespace: two
# entries an agent would pass its default 1,024 past 500 agents, and
# connections time out. Raised for the run, put back on exit.
NEIGH=net.ipv4.neigh.default
NEIGH_WAS=$(sysctl -n "$NEIGH.gc_thresh1" "$NEIGH.gc_thresh2" "$NEIGH.gc_thresh3" | tr '\n' ' ')
neigh_set() { sysctl -qw "$NEIGH.gc_thresh1=$1" "$NEIGH.gc_thresh2=$2" "$NEIGH.gc_thresh3=$3"; }
neigh_set $((AGENTS * 4 + 1024)) $((AGENTS * 8 + 2048)) $((AGENTS * 16 + 4096))
stop_daemons() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
# The coordinators' CPU group (coord_cgroup): on this box 1,000 agents share
# 2 cores with the coordinators, which in a fleet have machines of their
# own. In a cgroup of high cpu.shares the coordinators come first, and the
# agents, the bench and its bmctl share what is left, thread by thread
# (cgroup v1's cpu controller; if this kernel has none, said and skipped).
COORD_CG=
coord_cgroup() { # coord_cgroup SHARES: make the group (0: none)
  local root=/sys/fs/cgroup/cpu
  [ "$1" != 0 ] || return 0
  if [ ! -w "$root/cgroup.procs" ]; then
    echo "no cgroup v1 cpu controller at $root: the coordinators share the CPU with the agents" >&2
    return 0
  fi
  COORD_CG=$root/bm-$AGENT_NS-coord
  rmdir "$COORD_CG" 2>/dev/null || true
  mkdir -p "$COORD_CG"
  echo "$1" >"$COORD_CG/cpu.shares"
}
coord_cgroup_add() { # coord_cgroup_add PID: into the group, if any
  [ -z "$COORD_CG" ] || echo "$1" >"$COORD_CG/cgroup.procs"
}
cleanup_agents() {
  stop_daemons
  [ -z "$COORD_CG" ] || rmdir "$COORD_CG" 2>/dev/null || true
  for i in $(seq 1 "$AGENTS"); do ip netns del "$AGENT_NS$i" 2>/dev/null || true; done
  # shellcheck disable=SC2086 # three numbers
  neigh_set $NEIGH_WAS
  bench_down
}
trap cleanup_agents EXIT

# agents_netns_up: every agent's namespace, link and rack segment.
agents_netns_up() {
  local i n a
  for i in $(seq 1 "$AGENTS"); do
    n=$AGENT_NS$i a=10.$((200 + i / 16384)).$((i / 64 % 256)).$((i % 64 * 4))
    ip netns add "$n"
    ip -n "$n" link set lo up
    ip link add "${AGENT_NS}l$i" netns "$n" type veth peer name "${AGENT_NS}k$i" netns "$K"
    ip -n "$K" addr add "${a%.*}.$((${a##*.} + 1))/30" dev "${AGENT_NS}k$i"
    ip -n "$n" addr add "${a%.*}.$((${a##*.} + 2))/30" dev "${AGENT_NS}l$i"
    ip -n "$K" link set "${AGENT_NS}k$i" up
    ip -n "$n" link set "${AGENT_NS}l$i" up
    ip -n "$n" route add default via "${a%.*}.$((${a##*.} + 1))"
    ip -n "$n" link add rk type veth peer name rkp
    ip -n "$n" link set rkp up
    ip -n "$n" addr add "10.$((100 + i / 200)).$((i % 200)).1/24" dev rk
    ip -n "$n" link set rk up
  done
}

# latencies RUN_DIR REVS_FILE WHAT(updated|received) COORD_LOG...: commit
# (its first apply on any of the coordinators) -> each agent's step
# (RUN_DIR/a*/log), ms.
latencies() {
  local d=$1 revs=$2 what=$3
  shift 3
  "$(dirname "${BASH_SOURCE[0]}")/latencies.py" "$revs" "$what" "$d/a*/log" "$@"
}
