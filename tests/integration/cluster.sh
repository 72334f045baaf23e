# Coordinators of a Raft cluster, for the integration scripts (after
# lib.sh): node N listens on `api N` and talks Raft on `raddr N`, keeps its
# data in $T/nN and logs to $T/nN.log; its PID is ${NODE[N]}. It runs in
# $COORD_NS when that is set. NODE_ARGS: options of every start (besides
# those start_node is given); ELECTION_MS: the Raft election timeout
# (500 ms: elections in tests are quick).
NODE=()
NODE_ARGS=()
ELECTION_MS=${ELECTION_MS:-500}
api() { echo "tls+tcp://127.0.0.1:$((PORT_BASE + 20 + $1))"; }
urls() { local u= i; for i in "$@"; do u="$u${u:+,}$(api "$i")"; done; echo "$u"; }
raddr() { echo "127.0.0.1:$((PORT_BASE + $1))"; }
start_node() { # start_node ID ARGS...
  local id=$1 ns=()
  shift
  [ -n "$COORD_NS" ] && ns=(ip netns exec "$COORD_NS") # execs: $! is bmcoord's PID
  # shellcheck disable=SC2046 # the options are words
  "${ns[@]}" "$BM_BIN/bmcoord" --id "$id" --raft-address "$(raddr "$id")" --data-dir "$T/n$id" \
    --listen "$(api "$id")" --election-ms "$ELECTION_MS" --heartbeat-ms 50 "${NODE_ARGS[@]}" \
    $(coord_tls "$id") "$@" 2>>"$T/n$id.log" &
  NODE[$id]=$!
}
kill_node() { kill -9 "${NODE[$1]}" 2>/dev/null; wait "${NODE[$1]}" 2>/dev/null; NODE[$1]=; }
kill_nodes() { for p in "${NODE[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done; }
on() { local n=$1; shift; BMCTL_COORDINATOR=$(api "$n") bmctl --timeout 5 "$@"; }
wait_leader() { # wait_leader NODE...: until one of them is the leader; prints its id
  for _ in $(seq 1 100); do
    for n in "$@"; do
      on "$n" -o json cluster status 2>/dev/null | grep -q '"state": "leader"' &&
        { echo "$n"; return 0; }
    done
    sleep 0.1
  done
  return 1
}
