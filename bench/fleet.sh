#!/usr/bin/env bash
# bench/fleet.sh: a fleet at scale on this box. N real bmagent processes
# (default 1,000), one per rack, each in a network namespace of its own
# (its rack segment a veth pair inside it: this kernel has no dummy links)
# routed to the coordinators' namespace; a three-node bmcoord cluster on
# TLS; M machines per rack (default 100: 100,000). Per round, fresh daemons:
#   apply       the whole fleet, one `bmctl apply` (in parts of 10,000
#               machines; acknowledged);
#   sync        agents started -> every agent's view holds its machines;
#   profile     the profile every rack boots changes (10 times): commit on
#               the leader -> stored on each agent (LMDB commit), p50/p99/max,
#               and the agents' CPU per change each (less their idle rate),
#               with its shares by thread name (nng's, the watch, the main
#               loop, the rest);
#   one         one machine changes (100 times, racks in turn): commit ->
#               stored on its agent, p50/p99;
#   reimage     `bmctl reimage` of 10,000 machines (100 racks), then of all:
#               committed (bmctl started -> applied on the leader; taken in
#               slices: its last slice applied),
#               acknowledged (bmctl exited, having printed every machine),
#               and until the last rack's agent acted (its first power
#               action; machines are manual://);
#   list        `bmctl get machines -o json`;
#   leader      its RSS and CPU seconds at the end; an agent's RSS and PSS.
# Times come from the daemons' microsecond log stamps (one clock). Three
# rounds by default; the table shows medians. -w says which coordinator
# the agents list first (watch): node 1 (first, the default: leading or
# not, as the election fell), the leader, or a follower.
# On this box 1,000 agent processes share 2 cores with the coordinators,
# and CFS gives each runnable thread an equal share, so a burst of agents'
# work (all 1,000 taking a reimage) starves the coordinators' loops of the
# CPU that, in a real fleet, is their own, and leadership moves. So the
# coordinators run in a CPU cgroup of cpu.shares -C (default 262144, the
# most; each other thread weighs 1,024; -C 0: none): they come first, and
# the agents, this script and its bmctl share the rest. -N runs the agents
# at that niceness too (default 0).
# The table's floor: the agents' CPU for a change times N over the cores,
# the least a change to all agents can take on this box whatever the
# coordinators do.
#   usage: bench/fleet.sh [-n AGENTS] [-m MACHINES_PER_RACK] [-r ROUNDS] [-w first|leader|follower] [-N NICE] [-C SHARES]
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=1000 PER=100 ROUNDS=3 WATCH=first NICE=0 SHARES=262144
while getopts n:m:r:w:N:C: o; do
  case $o in
    n) AGENTS=$OPTARG ;; m) PER=$OPTARG ;; r) ROUNDS=$OPTARG ;; w) WATCH=$OPTARG ;;
    N) NICE=$OPTARG ;; C) SHARES=$OPTARG ;; *) exit 2 ;;
  esac
done
NAME=fleet
. bench/lib.sh
K=$NS_S # the coordinators' namespace (lib.sh's server side)
for i in 1 2 3; do ip -n "$K" addr add "10.0.0.$i/32" dev lo; done
AGENT_NS=bmfl
. bench/lib_agents.sh

P=$W/pki
"$B/bmctl" pki init "$P" >/dev/null
for i in 1 2 3; do "$B/bmctl" pki issue "$P" coordinator "c$i" --address "10.0.0.$i" >/dev/null; done
"$B/bmctl" pki issue "$P" operator admin --role admin >/dev/null
for i in $(seq 1 "$AGENTS"); do "$B/bmctl" pki issue "$P" agent "a$i" --rack "r$i" >/dev/null; done
URLS="tls+tcp://10.0.0.1:7400,tls+tcp://10.0.0.2:7400,tls+tcp://10.0.0.3:7400"
bmctl() {
  ip netns exec "$K" env BMCTL_CA="$P/ca.crt" BMCTL_CERT="$P/admin.crt" BMCTL_KEY="$P/admin.key" \
    "$B/bmctl" --coordinator "$URLS" --timeout 120 "$@"
}

# The fleet: rack i is 10.(100 + i/200).(i%200).0/24; machine j of rack i
# has MAC 52:54:HI(i):LO(i):HI(j):LO(j).
awk -v n="$AGENTS" -v m="$PER" 'BEGIN {
  print "sites: [{name: s}]"; print "racks:"
  for (i = 1; i <= n; i++)
    printf "  - {name: r%d, site: s, subnet: 10.%d.%d.0/24, gateway: 10.%d.%d.1}\n", i, 100 + int(i / 200), i % 200, 100 + int(i / 200), i % 200
  print "images: [{name: k, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]"
  print "profiles: [{name: p, kernel: k, cmdline: \"gen=0\"}]"
  print "machines:"
  for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
    printf "  - {name: r%d-m%d, rack: r%d, mac: \"52:54:%02x:%02x:%02x:%02x\", profile: p, bmc: \"manual://bench\"}\n", i, j, i, int(i / 256), i % 256, int(j / 256), j % 256
}' >"$W/fleet.yaml"
printf test >"$W/k" # its sha256 is the fleet's image k: every agent caches it

agents_netns_up
coord_cgroup "$SHARES"
echo "namespaces: $AGENTS agents" >&2

ms() { date +%s%3N; }
leader() { # the leading node's number
  local i
  for i in 1 2 3; do
    ip netns exec "$K" env BMCTL_CA="$P/ca.crt" BMCTL_CERT="$P/admin.crt" BMCTL_KEY="$P/admin.key" \
      "$B/bmctl" --coordinator "tls+tcp://10.0.0.$i:7400" --timeout 1 -o json cluster status 2>/dev/null |
      grep -q '"state": "leader"' && { echo "$i"; return 0; }
  done
  return 0
}
cluster() { # cluster DIR: three fresh nodes, one leading
  local d=$1 i
  for i in 1 2 3; do
    mkdir -p "$d/n$i"
    ip netns exec "$K" "$B/bmcoord" --id "$i" --raft-address "10.0.0.$i:7410" \
      --bootstrap "1=10.0.0.1:7410,2=10.0.0.2:7410,3=10.0.0.3:7410" --data-dir "$d/n$i" \
      --listen "tls+tcp://10.0.0.$i:7400" --tls-ca "$P/ca.crt" --tls-cert "$P/c$i.crt" \
      --tls-key "$P/c$i.key" --secrets-key "$P/secrets.key" --log-level debug 2>"$d/n$i.log" &
    PIDS+=($!)
    coord_cgroup_add $!
    eval "NODE$i=$!"
  done
  for _ in $(seq 1 200); do L=$(leader); [ -n "$L" ] && return 0; sleep 0.1; done
  echo "no leader" >&2; exit 1
}
watch_urls() { # the coordinators in the order -w asks for
  local f=1
  case $WATCH in leader) f=$L ;; follower) f=$((L % 3 + 1)) ;; first) ;; *) exit 2 ;; esac
  echo "tls+tcp://10.0.0.$f:7400, tls+tcp://10.0.0.$((f % 3 + 1)):7400, tls+tcp://10.0.0.$(((f + 1) % 3 + 1)):7400"
}
agents() { # agents DIR: start every agent
  local d=$1 i
  for i in $(seq 1 "$AGENTS"); do
    mkdir -p "$d/a$i/root"
    cat >"$d/a$i/agent.yaml" <<Y
rack: r$i
data_dir: $d/a$i/data
interfaces: [rk]
tftp_root: $d/a$i/root
coordinator: [$(watch_urls)]
log_level: debug
tls: {ca: $P/ca.crt, cert: $P/a$i.crt, key: $P/a$i.key}
Y
    ip netns exec "bmfl$i" nice -n "$NICE" "$B/bmagent" --config "$d/a$i/agent.yaml" \
      2>"$d/a$i/log" &
    PIDS+=($!)
  done
}
# first_stamps DIR REGEX [SINCE_MS]: each agent's first log stamp (ms) of
# a line matching, at or after SINCE_MS
first_stamps() {
  /usr/bin/python3 - "$1" "$2" "${3:-0}" <<'PY'
import glob, re, sys, datetime
pat, since = re.compile(sys.argv[2]), float(sys.argv[3])
for f in glob.glob(sys.argv[1] + "/a*/log"):
    for l in open(f, errors="replace"):
        if pat.search(l):
            t = datetime.datetime.strptime(l.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
            t = t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
            if t >= since:
                print("%.3f" % t)
                break
PY
}
put() { echo "$2" >>"$W/$1"; } # put METRIC VALUE: one round's figure
# agents_cpu_groups PID,PID,...: their threads' CPU time (ms, schedstat)
# by thread name: nng's (nng:*), sync/0 (the watch: receive and store), bmagent (the
# main loop, serving the view), the rest.
agents_cpu_groups() {
  /usr/bin/python3 - "$1" <<'PY'
import glob, sys
s = {"nng": 0, "watch": 0, "main": 0, "other": 0}
for pid in sys.argv[1].split(","):
    for t in glob.glob(f"/proc/{pid}/task/*"):
        try:
            comm = open(t + "/comm").read().strip()
            ns = int(open(t + "/schedstat").read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        g = "nng" if comm.startswith("nng:") else {"sync/0": "watch", "bmagent": "main"}.get(comm, "other")
        s[g] += ns
print(" ".join(f"{s[g] / 1e6:.3f}" for g in ("nng", "watch", "main", "other")))
PY
}
agents_cpu_ms() { # agents_cpu_ms PID,PID,...: their threads' CPU time, ms
  agents_cpu_groups "$1" | awk '{printf "%.3f\n", $1 + $2 + $3 + $4}'
}
apply_rev() { bmctl apply -f "$1" | sed -n 's/.*(revision \([0-9]*\)).*/\1/p'; }
op_live() { # (an answer lost to an election counts as live: ask again)
  local out # taking: a large reimage's intake, before it runs
  out=$(bmctl op get 2>/dev/null) || return 0
  echo "$out" | awk '$2 == "taking" || $2 == "running" || $2 == "halted"' | grep -q .
}
cpu_s() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; }

again() { # again ROUND BMCTL_ARGS...: up to three tries, each said
  local r=$1 try
  shift
  for try in 1 2 3; do
    bmctl "$@" >/dev/null && return 0
    echo "round $r: bmctl $1 cut short (try $try)" >&2
    sleep 1
  done
  exit 1
}

committed() { # committed DIR REVISION SINCE_MS: ms after SINCE_MS when operation op-REVISION
  # was taken: its intake's end on the leader when taken in slices ("intake done"),
  # else its command's first "propose committed"
  /usr/bin/python3 - "$@" <<'PY'
import datetime, glob, re, sys
d, rev, since = sys.argv[1], sys.argv[2], float(sys.argv[3])
def stamps(pat):
    pat = re.compile(pat)
    return [datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
            .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
            for f in glob.glob(d + "/n?.log") for l in open(f, errors="replace")
            for m in [pat.match(l)] if m]
t = (stamps(r"(\S+) info ops intake done op=op-" + rev + r" ") or
     stamps(r"(\S+) debug propose committed revision=" + rev + r" "))
print("%.1f" % (min(t) - since) if t else "nan")
PY
}
reimage() { # reimage DIR TAG TARGETS...: acknowledged ms, last rack's first action ms
  local d=$1 tag=$2 t0 t1 last
  shift 2
  for _ in $(seq 1 600); do op_live || break; sleep 1; done
  t0=$(ms)
  if ! bmctl reimage "$@" --timeout 3s >"$d/$tag.out"; then
    # Cut short by an election: applied if an operation is live (then
    # acknowledged when that was known), else asked again.
    echo "  $tag: bmctl reimage cut short" >&2
    op_live || bmctl reimage "$@" --timeout 3s >"$d/$tag.out"
  fi
  t1=$(ms)
  put "$tag.ack" $((t1 - t0))
  # Committed: the leader has applied it (its first line names op-REVISION).
  local rev
  rev=$(sed -n '1s/^op-\([0-9]*\) .*/\1/p' "$d/$tag.out")
  [ -z "$rev" ] || put "$tag.commit" "$(committed "$d" "$rev" "$t0")"
  sleep 8
  first_stamps "$d" "manual power action machine=" "$t0" >"$d/$tag.acted"
  last=$(sort -g "$d/$tag.acted" | tail -1)
  put "$tag.acted" "$(echo "$last - $t0" | bc -l)"
  echo "  $tag: acknowledged $((t1 - t0)) ms, last of $(wc -l <"$d/$tag.acted") agents acted $(echo "$last - $t0" | bc -l) ms" >&2
}

round() {
  local d=$W/r$1 t0 t1 revs c i gen=0 n
  mkdir -p "$d"
  cluster "$d"
  # bmctl sends the fleet in parts of 10,000 machines (each held every
  # node's loop ~0.2 s here); were an election to cut one short ("leadership
  # changed ... retry"), it is declarative: again, and say so.
  t0=$(ms)
  again "$1" apply -f "$W/fleet.yaml"
  t1=$(ms)
  put apply $((t1 - t0))
  again "$1" image push k "$W/k"
  echo "round $1: leader n$L, fleet applied in $((t1 - t0)) ms" >&2
  t0=$(ms)
  agents "$d"
  for _ in $(seq 1 600); do
    n=$( (grep -l "view updated machines=$PER\$" "$d"/a*/log 2>/dev/null || true) | wc -l)
    [ "$n" -ge "$AGENTS" ] && break
    sleep 1
  done
  t1=$(first_stamps "$d" "view updated machines=$PER\$" | sort -g | tail -1)
  put sync "$(echo "$t1 - $t0" | bc -l)"
  echo "  $n of $AGENTS agents synced in $(echo "$t1 - $t0" | bc -l) ms" >&2
  # The agents' CPU: idle over 5 s (registrations and caches settle;
  # heartbeats), then over the 10 profile changes, less the idle rate.
  local apids t_idle c_idle t_all c_all
  apids=$(pgrep -d, -f "bmagent --config $d/a")
  c_idle=$(agents_cpu_ms "$apids"); t_idle=$(ms)
  sleep 5
  c_all=$(agents_cpu_ms "$apids"); t_all=$(ms)
  local g_all; g_all=$(agents_cpu_groups "$apids")
  c_idle=$(echo "($c_all - $c_idle) / ($t_all - $t_idle)" | bc -l) # ms of CPU a ms
  : >"$d/revs.all"
  for c in $(seq 1 10); do
    gen=$((gen + 1))
    echo "profiles: [{name: p, kernel: k, cmdline: 'gen=$gen'}]" >"$d/all.yaml"
    apply_rev "$d/all.yaml" >>"$d/revs.all"
    sleep 1
  done
  put agent.cpu "$(printf '%.3f' "$(echo "($(agents_cpu_ms "$apids") - $c_all - $c_idle * ($(ms) - $t_all)) / (10 * $AGENTS)" | bc -l)")"
  # Its shares by thread over those 10 s (idle included), percent.
  paste <(echo "$g_all" | tr ' ' '\n') <(agents_cpu_groups "$apids" | tr ' ' '\n') |
    awk '{d[NR] = $2 - $1; t += d[NR]} END {for (i = 1; i <= 4; i++) print (t > 0 ? 100 * d[i] / t : 0)}' |
    paste - - - - | { read -r a b c e; put share.nng "$a"; put share.watch "$b"; put share.main "$c"; put share.other "$e"; }
  : >"$d/revs.one"
  for c in $(seq 1 100); do
    i=$((c * 7 % AGENTS + 1))
    printf 'machines: [{name: r%d-m1, rack: r%d, mac: "52:54:%02x:%02x:00:01", profile: p, bmc: "manual://bench", labels: {gen: "%d"}}]\n' \
      "$i" "$i" $((i / 256)) $((i % 256)) "$c" >"$d/one.yaml"
    apply_rev "$d/one.yaml" >>"$d/revs.one"
  done
  sleep 2
  latencies "$d" "$d/revs.all" updated "$d"/n?.log >"$d/lat.all"
  latencies "$d" "$d/revs.all" fanout "$d"/n?.log >"$d/lat.fan"
  put fan.p50 "$(pct 50 <"$d/lat.fan")"; put fan.max "$(pct 100 <"$d/lat.fan")"
  latencies "$d" "$d/revs.one" fanout "$d"/n?.log >"$d/lat.fanone"
  put fanone.p50 "$(pct 50 <"$d/lat.fanone")"; put fanone.p99 "$(pct 99 <"$d/lat.fanone")"
  latencies "$d" "$d/revs.one" updated "$d"/n?.log >"$d/lat.one"
  latencies "$d" "$d/revs.one" received "$d"/n?.log >"$d/lat.rone"
  put all.p50 "$(pct 50 <"$d/lat.all")"; put all.p99 "$(pct 99 <"$d/lat.all")"
  put all.max "$(pct 100 <"$d/lat.all")"
  put one.p50 "$(pct 50 <"$d/lat.one")"; put one.p99 "$(pct 99 <"$d/lat.one")"
  echo "  profile to all: $(wc -l <"$d/lat.all") stored, p99 $(pct 99 <"$d/lat.all") ms; one machine p50/p99 received $(pct 50 <"$d/lat.rone")/$(pct 99 <"$d/lat.rone"), stored $(pct 50 <"$d/lat.one")/$(pct 99 <"$d/lat.one") ms" >&2
  local racks=()
  local nr=$((10000 / PER))
  [ "$nr" -le "$AGENTS" ] || nr=$AGENTS
  for i in $(seq 1 "$nr"); do racks+=("rack/r$i"); done
  reimage "$d" re10k "${racks[@]}"
  reimage "$d" reall site/s
  t0=$(ms)
  bmctl get machines -o json >/dev/null || echo "round $1: get machines failed" >&2
  t1=$(ms)
  put list $((t1 - t0))
  eval "lp=\$NODE$L"
  put rss "$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$lp/status")"
  put cpu "$(cpu_s "$lp")"
  local ap
  ap=$(pgrep -f "bmagent --config $d/a1/agent.yaml" | head -1)
  put agent.rss "$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$ap/status")"
  put agent.pss "$(awk '/^Pss:/ {print $2 / 1024}' "/proc/$ap/smaps_rollup")"
  stop_daemons
}

for r in $(seq 1 "$ROUNDS"); do round "$r"; done

m() { median <"$W/$1"; }
cat <<T
fleet: $AGENTS agents (one per rack, each in its namespace), $((AGENTS * PER)) machines, a 3-node bmcoord cluster on TLS; medians of $ROUNDS rounds
agents watch: $WATCH$([ "$WATCH" = first ] && echo " (node 1, leading or not)"); agents at nice $NICE, $([ -n "$COORD_CG" ] && echo "coordinators in a CPU cgroup of cpu.shares $SHARES" || echo "no CPU cgroup")
$(nproc) cores, $(uname -r); stored: committed to the agent's LMDB (fsync)

| measure | result |
|---|---|
| apply of the $((AGENTS * PER))-machine fleet (acknowledged) | $(m apply) ms |
| every agent synced from empty (agents started -> last view stored) | $(m sync) ms |
| a profile change reaching all agents: p50 / p99 / max | $(m all.p50) / $(m all.p99) / $(m all.max) ms |
| a profile change: commit -> the watched node has answered every agent's watch (fan-out done), p50 / max of 10 | $(m fan.p50) / $(m fan.max) ms |
| an agent's CPU for a profile change (receive, store, serve the new view) | $(m agent.cpu) ms |
| ... by thread, over the 10 changes (idle included): nng's / sync/0 (receive, store) / the main loop (serve the view) / the rest | $(m share.nng | xargs printf '%.0f') / $(m share.watch | xargs printf '%.0f') / $(m share.main | xargs printf '%.0f') / $(m share.other | xargs printf '%.0f') % |
| ... the floor on this box: that times $AGENTS agents over $(nproc) cores | $(echo "$(m agent.cpu) * $AGENTS / $(nproc)" | bc -l | xargs printf '%.0f') ms |
| one machine's change reaching its agent: p50 / p99 | $(m one.p50) / $(m one.p99) ms |
| a machine's change: commit -> the watched node answered its agent's watch, p50 / p99 | $(m fanone.p50) / $(m fanone.p99) ms |
| reimage of $(( (10000 / PER <= AGENTS ? 10000 / PER : AGENTS) * PER )) machines: committed (applied on the leader) / acknowledged (bmctl, its answer listing every machine, has exited) / last agent acted | $(m re10k.commit) / $(m re10k.ack) / $(m re10k.acted) ms |
| reimage of $((AGENTS * PER)) machines: committed / acknowledged / last agent acted | $(m reall.commit) / $(m reall.ack) / $(m reall.acted) ms |
| bmctl get machines -o json | $(m list) ms |
| leader: RSS / CPU seconds over the round | $(m rss) MiB / $(m cpu) s |
| one agent: RSS / PSS | $(m agent.rss) / $(m agent.pss) MiB |
T
