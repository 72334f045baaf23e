#!/usr/bin/env bash
# bench/sync.sh: how fast a committed change reaches the agents it concerns.
# One coordinator and N agents (default 50), each agent in a namespace of its
# own routed to the coordinator's, as racks are. Two measures, each over
# three rounds, medians of the rounds' p50 and p99:
#   one rack:  a machine of one rack changes (one apply each, racks in turn):
#              commit on the coordinator -> the change applied (LMDB commit)
#              on that rack's agent;
#   all racks: the profile every rack boots changes: commit -> applied on
#              each of the N agents (the fan-out).
# Each round runs twice, with fresh daemons: on TLS (the fleet CA's
# certificates, each agent its rack's, as deployed) and plaintext
# (--insecure): the cost of TLS.
# Times come from the coordinator's and the agents' debug logs (one clock,
# microsecond stamps): "committed revision=R", then on the agent "view
# received revision=R" (the answer arrived) and "view updated revision=R"
# (stored: LMDB commit, fsync).
# Beside it, the same changes through etcd 3.4 (the peer a coordinator of
# this kind is measured against): N watchers on its v3 JSON gateway, each on
# its rack's prefix and the profiles' (bench/etcd_watch.py), from the put's
# acknowledgement to the watcher's receipt. etcd's watchers only receive;
# our agents also commit the change to their LMDB before it counts.
#   usage: bench/sync.sh [-n AGENTS] [-c CHANGES] [-r ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=50 CHANGES=100 ROUNDS=3
while getopts n:c:r: o; do
  case $o in n) AGENTS=$OPTARG ;; c) CHANGES=$OPTARG ;; r) ROUNDS=$OPTARG ;; *) exit 2 ;; esac
done
NAME=sync
. bench/lib.sh
K=$NS_S # the coordinator's namespace (lib.sh's server side)
ip -n "$K" addr add 10.0.0.1/32 dev lo
AGENT_NS=bmsy
. bench/lib_agents.sh

# The fleet CA: the coordinator at 10.0.0.1, an admin, an agent per rack.
P=$W/pki
"$B/bmctl" pki init "$P" >/dev/null
"$B/bmctl" pki issue "$P" coordinator coord --address 10.0.0.1 >/dev/null
"$B/bmctl" pki issue "$P" operator admin --role admin >/dev/null
for i in $(seq 1 "$AGENTS"); do "$B/bmctl" pki issue "$P" agent "a$i" --rack "r$i" >/dev/null; done
MODE=tls
url() { if [ "$MODE" = tls ]; then echo tls+tcp://10.0.0.1:7400; else echo tcp://10.0.0.1:7400; fi; }
bmctl() {
  ip netns exec "$K" env BMCTL_CA="$P/ca.crt" BMCTL_CERT="$P/admin.crt" BMCTL_KEY="$P/admin.key" \
    "$B/bmctl" --coordinator "$(url)" "$@"
}

fleet() { # fleet GEN PROFILE_GEN
  echo "sites: [{name: s}]"
  echo "racks:"
  for i in $(seq 1 "$AGENTS"); do
    echo "  - {name: r$i, site: s, subnet: 10.$((100 + i / 200)).$((i % 200)).0/24, gateway: 10.$((100 + i / 200)).$((i % 200)).1}"
  done
  echo "images: [{name: k, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]"
  echo "profiles: [{name: p, kernel: k, cmdline: 'gen=$2'}]"
  echo "machines:"
  for i in $(seq 1 "$AGENTS"); do
    for j in $(seq 1 20); do
      printf '  - {name: r%d-m%d, rack: r%d, mac: "52:54:%02x:%02x:00:%02x", profile: p}\n' \
        "$i" "$j" "$i" $((i / 256)) $((i % 256)) "$j"
    done
  done
}
fleet 0 0 >"$W/fleet.yaml"
printf test >"$W/k" # its sha256 is the fleet's image k: every agent caches it

agents_netns_up

# start RUN_DIR: a fresh coordinator and agents in MODE, the fleet applied,
# every agent synced.
start() {
  local d=$1 i synced=0 tls=()
  mkdir -p "$d"
  [ "$MODE" = tls ] && tls=(--tls-ca "$P/ca.crt" --tls-cert "$P/coord.crt" --tls-key "$P/coord.key")
  [ "$MODE" = plain ] && tls=(--insecure)
  ip netns exec "$K" "$B/bmcoord" --data-dir "$d/coord" --listen "$(url)" "${tls[@]}" \
    --secrets-key "$P/secrets.key" --log-level debug 2>"$d/coord.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do bmctl status >/dev/null 2>&1 && break; sleep 0.1; done
  bmctl apply -f "$W/fleet.yaml" >/dev/null
  bmctl image push k "$W/k" >/dev/null
  for i in $(seq 1 "$AGENTS"); do
    mkdir -p "$d/a$i/root"
    cat >"$d/a$i/agent.yaml" <<Y
rack: r$i
data_dir: $d/a$i/data
interfaces: [rk]
tftp_root: $d/a$i/root
coordinator: [$(url)]
log_level: debug
$([ "$MODE" = tls ] && echo "tls: {ca: $P/ca.crt, cert: $P/a$i.crt, key: $P/a$i.key}")
Y
    ip netns exec "bmsy$i" "$B/bmagent" --config "$d/a$i/agent.yaml" 2>"$d/a$i/log" &
    PIDS+=($!)
  done
  for _ in $(seq 1 300); do
    synced=$(grep -l "view updated machines=20" "$d"/a*/log 2>/dev/null | wc -l)
    [ "$synced" -ge "$AGENTS" ] && break
    sleep 0.1
  done
  echo "$MODE: agents synced: $synced of $AGENTS" >&2
}


# apply FILE: apply it and print the revision it committed at
apply() { bmctl apply -f "$1" | sed -n 's/.*(revision \([0-9]*\)).*/\1/p'; }
# measure RUN_DIR: the changes of one round; p50 and p99 appended to
# $W/MODE.{one,all,rone,rall}.{p50,p99}.
gen=0
measure() {
  local d=$1 c i
  : >"$d/revs.one"
  for c in $(seq 1 "$CHANGES"); do
    gen=$((gen + 1)); i=$((c % AGENTS + 1))
    printf 'machines: [{name: r%d-m1, rack: r%d, mac: "52:54:%02x:%02x:00:01", profile: p, labels: {gen: "%d"}}]\n' \
      "$i" "$i" $((i / 256)) $((i % 256)) "$gen" >"$d/one.yaml"
    apply "$d/one.yaml" >>"$d/revs.one"
  done
  : >"$d/revs.all"
  for c in $(seq 1 10); do
    gen=$((gen + 1))
    echo "profiles: [{name: p, kernel: k, cmdline: 'gen=$gen'}]" >"$d/all.yaml"
    apply "$d/all.yaml" >>"$d/revs.all"
    sleep 0.2
  done
  sleep 1
  latencies "$d" "$d/revs.one" updated "$d/coord.log" >"$d/lat.one"
  latencies "$d" "$d/revs.all" updated "$d/coord.log" >"$d/lat.all"
  latencies "$d" "$d/revs.one" received "$d/coord.log" >"$d/lat.rone"
  latencies "$d" "$d/revs.all" received "$d/coord.log" >"$d/lat.rall"
  for k in one all rone rall; do
    pct 50 <"$d/lat.$k" >>"$W/$MODE.$k.p50"; pct 99 <"$d/lat.$k" >>"$W/$MODE.$k.p99"
  done
  wc -l <"$d/lat.one" >"$W/n.one"; wc -l <"$d/lat.all" >"$W/n.all"
  echo "$MODE: one rack $(wc -l <"$d/lat.one") applies, all racks $(wc -l <"$d/lat.all") applies" >&2
}
etcd_round() {
  local d=$W/etcd$1 url=http://127.0.0.1:23799 pid
  mkdir -p "$d"
  etcd --name b --data-dir "$d/data" --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls http://127.0.0.1:23899 --initial-advertise-peer-urls http://127.0.0.1:23899 \
    --initial-cluster b=http://127.0.0.1:23899 >"$d/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do ETCDCTL_API=3 etcdctl --endpoints "$url" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
  python3 bench/etcd_watch.py "$url" "$AGENTS" "$CHANGES" 10 "$d/one" "$d/all"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  pct 50 <"$d/one" >>"$W/etcd.one.p50"; pct 99 <"$d/one" >>"$W/etcd.one.p99"
  pct 50 <"$d/all" >>"$W/etcd.all.p50"; pct 99 <"$d/all" >>"$W/etcd.all.p99"
  echo "round $1: etcd one rack $(wc -l <"$d/one") events, all racks $(wc -l <"$d/all") events" >&2
}
for round in $(seq 1 "$ROUNDS"); do
  for MODE in tls plain; do
    start "$W/r$round-$MODE"
    measure "$W/r$round-$MODE"
    stop_daemons
  done
  etcd_round "$round"
done
m() { median <"$W/$1.$2"; }
echo "sync: commit on the coordinator -> the agent, ms; $AGENTS agents, each in its own namespace; medians of $ROUNDS rounds' p50 and p99"
echo "$(nproc) cores, $(uname -r); received: the answer arrived; stored: committed to the agent's LMDB (fsync)"
echo "TLS: the API on TLS 1.3 (nng on OpenSSL, lib/rpc_tls_engine.c: X25519, ECDSA P-256 certificates), each agent with its rack's certificate; plain: the same daemons on plaintext (--insecure)"
echo
echo "| change | per round | received TLS p50 / p99 | received plain p50 / p99 | stored TLS p50 / p99 | stored plain p50 / p99 | etcd watch received p50 / p99 |"
echo "|---|---|---|---|---|---|---|"
echo "| one machine of one rack ($CHANGES changes, racks in turn) | $(cat "$W/n.one") | $(m tls.rone p50) / $(m tls.rone p99) | $(m plain.rone p50) / $(m plain.rone p99) | $(m tls.one p50) / $(m tls.one p99) | $(m plain.one p50) / $(m plain.one p99) | $(m etcd.one p50) / $(m etcd.one p99) |"
echo "| the profile of every rack (10 changes x $AGENTS agents) | $(cat "$W/n.all") | $(m tls.rall p50) / $(m tls.rall p99) | $(m plain.rall p50) / $(m plain.rall p99) | $(m tls.all p50) / $(m tls.all p99) | $(m plain.all p50) / $(m plain.all p99) | $(m etcd.all p50) / $(m etcd.all p99) |"
