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
URL=tcp://10.0.0.1:7400
ip -n "$K" addr add 10.0.0.1/32 dev lo
PIDS=()
cleanup_agents() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for i in $(seq 1 "$AGENTS"); do ip netns del "bmsy$i" 2>/dev/null || true; done
  bench_down
}
trap cleanup_agents EXIT
bmctl() { ip netns exec "$K" "$B/bmctl" --coordinator "$URL" "$@"; }

ip netns exec "$K" "$B/bmcoord" --data-dir "$W/coord" --listen "$URL" --insecure --log-level debug \
  2>"$W/coord.log" &
PIDS+=($!)
for _ in $(seq 1 100); do bmctl status >/dev/null 2>&1 && break; sleep 0.1; done

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
bmctl apply -f "$W/fleet.yaml" >/dev/null
printf test >"$W/k" # its sha256 is the fleet's image k: every agent caches it
bmctl image push k "$W/k" >/dev/null

for i in $(seq 1 "$AGENTS"); do
  n=bmsy$i
  ip netns add "$n"
  ip -n "$n" link set lo up
  ip link add "bsy$i" netns "$n" type veth peer name "bsk$i" netns "$K"
  ip -n "$K" addr add "10.202.$((i / 64)).$((i % 64 * 4 + 1))/30" dev "bsk$i"
  ip -n "$n" addr add "10.202.$((i / 64)).$((i % 64 * 4 + 2))/30" dev "bsy$i"
  ip -n "$K" link set "bsk$i" up
  ip -n "$n" link set "bsy$i" up
  ip -n "$n" route add default via "10.202.$((i / 64)).$((i % 64 * 4 + 1))"
  ip -n "$n" link add rk type veth peer name rkp # (no dummy module here)
  ip -n "$n" link set rkp up
  ip -n "$n" addr add "10.$((100 + i / 200)).$((i % 200)).1/24" dev rk
  ip -n "$n" link set rk up
  mkdir -p "$W/a$i/root"
  cat >"$W/a$i/agent.yaml" <<Y
rack: r$i
data_dir: $W/a$i/data
interfaces: [rk]
tftp_root: $W/a$i/root
coordinator: [$URL]
log_level: debug
Y
  ip netns exec "$n" "$B/bmagent" --config "$W/a$i/agent.yaml" 2>"$W/a$i/log" &
  PIDS+=($!)
done
for _ in $(seq 1 200); do
  synced=$(grep -l "view updated machines=20" "$W"/a*/log 2>/dev/null | wc -l)
  [ "$synced" -ge "$AGENTS" ] && break
  sleep 0.1
done
echo "agents synced: $synced of $AGENTS" >&2

# latencies REVS_FILE WHAT(updated|received): commit -> each agent's step, ms.
latencies() {
  python3 - "$W" "$1" "$2" <<'P'
import glob, re, sys, datetime
w, revs, what = sys.argv[1], set(int(x) for x in open(sys.argv[2]).read().split()), sys.argv[3]
def ms(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000
commit = {}
for l in open(w + "/coord.log"):
    m = re.match(r"(\S+) debug propose committed revision=(\d+)", l)
    if m and int(m.group(2)) in revs:
        commit[int(m.group(2))] = ms(m.group(1))
for f in glob.glob(w + "/a*/log"):
    for l in open(f):
        m = re.match(r"(\S+) debug sync view " + what + r" revision=(\d+)", l)
        if m and int(m.group(2)) in commit:
            print("%.3f" % (ms(m.group(1)) - commit[int(m.group(2))]))
P
}
pct() { sort -g | awk -v p="$1" '{a[NR]=$1} END {i=int(NR*p/100+0.999); if (i<1) i=1; print a[i]}'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# apply FILE: apply it and print the revision it committed at
apply() { bmctl apply -f "$1" | sed -n 's/.*(revision \([0-9]*\)).*/\1/p'; }
: >"$W/one.p50"; : >"$W/one.p99"; : >"$W/all.p50"; : >"$W/all.p99"
: >"$W/rone.p50"; : >"$W/rone.p99"; : >"$W/rall.p50"; : >"$W/rall.p99"
: >"$W/eone.p50"; : >"$W/eone.p99"; : >"$W/eall.p50"; : >"$W/eall.p99"
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
  pct 50 <"$d/one" >>"$W/eone.p50"; pct 99 <"$d/one" >>"$W/eone.p99"
  pct 50 <"$d/all" >>"$W/eall.p50"; pct 99 <"$d/all" >>"$W/eall.p99"
  echo "round $1: etcd one rack $(wc -l <"$d/one") events, all racks $(wc -l <"$d/all") events" >&2
}
gen=0
for round in $(seq 1 "$ROUNDS"); do
  : >"$W/revs.one"
  for c in $(seq 1 "$CHANGES"); do
    gen=$((gen + 1)); i=$((c % AGENTS + 1))
    printf 'machines: [{name: r%d-m1, rack: r%d, mac: "52:54:%02x:%02x:00:01", profile: p, labels: {gen: "%d"}}]\n' \
      "$i" "$i" $((i / 256)) $((i % 256)) "$gen" >"$W/one.yaml"
    apply "$W/one.yaml" >>"$W/revs.one"
  done
  : >"$W/revs.all"
  for c in $(seq 1 10); do
    gen=$((gen + 1))
    echo "profiles: [{name: p, kernel: k, cmdline: 'gen=$gen'}]" >"$W/all.yaml"
    apply "$W/all.yaml" >>"$W/revs.all"
    sleep 0.2
  done
  sleep 1
  latencies "$W/revs.one" updated >"$W/lat.one"
  latencies "$W/revs.all" updated >"$W/lat.all"
  latencies "$W/revs.one" received >"$W/rlat.one"
  latencies "$W/revs.all" received >"$W/rlat.all"
  pct 50 <"$W/lat.one" >>"$W/one.p50"; pct 99 <"$W/lat.one" >>"$W/one.p99"
  pct 50 <"$W/lat.all" >>"$W/all.p50"; pct 99 <"$W/lat.all" >>"$W/all.p99"
  pct 50 <"$W/rlat.one" >>"$W/rone.p50"; pct 99 <"$W/rlat.one" >>"$W/rone.p99"
  pct 50 <"$W/rlat.all" >>"$W/rall.p50"; pct 99 <"$W/rlat.all" >>"$W/rall.p99"
  echo "round $round: one rack $(wc -l <"$W/lat.one") applies, all racks $(wc -l <"$W/lat.all") applies" >&2
  etcd_round "$round"
done
echo "sync: commit on the coordinator -> the agent, ms; $AGENTS agents, each in its own namespace; medians of $ROUNDS rounds' p50 and p99"
echo "$(nproc) cores, $(uname -r); received: the answer arrived; stored: committed to the agent's LMDB (fsync)"
echo
echo "| change | per round | bmagent received p50 / p99 | bmagent stored p50 / p99 | etcd watch received p50 / p99 |"
echo "|---|---|---|---|---|"
echo "| one machine of one rack ($CHANGES changes, racks in turn) | $(wc -l <"$W/lat.one") | $(median <"$W/rone.p50") / $(median <"$W/rone.p99") | $(median <"$W/one.p50") / $(median <"$W/one.p99") | $(median <"$W/eone.p50") / $(median <"$W/eone.p99") |"
echo "| the profile of every rack (10 changes x $AGENTS agents) | $(wc -l <"$W/lat.all") | $(median <"$W/rall.p50") / $(median <"$W/rall.p99") | $(median <"$W/all.p50") / $(median <"$W/all.p99") | $(median <"$W/eall.p50") / $(median <"$W/eall.p99") |"
