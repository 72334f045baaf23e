#!/usr/bin/env bash
# Site-local image fill over a WAN. Two sites of four racks each; each
# site's agents share a switch (a bridge in the site's router namespace),
# and the site reaches the coordinator over a WAN link
# (bench/wanem.c, as this kernel has no netem: SITE_FILL_WAN=
# "DELAY_MS LOSS_PERMILLE RATE_MBIT" each way, by default 20 ms (40 ms
# RTT), 1 % loss and 100 Mbit/s). An image pushed to the coordinator is staged on both
# sites (`bmctl image stage`); then the eight agents start together:
#   - every agent ends holding the image, verified;
#   - the coordinator sends it about once per site: the bytes leaving it on
#     the WAN links are at most 2.2x the image (8x without peers), and at
#     most 1.1x on each site's link;
#   - per site one agent fetched it from the coordinator, the others from a
#     peer of their site (their logs), and a peer never from another site;
#   - bmctl get images shows the holders per site; bad staging targets are
#     refused naming what is missing, unstage takes a site off;
#   - sync and event upload over that WAN: machines added one at a time
#     reach their agents (LAG 0), and the agents' cache events arrive.
# SITE_FILL_MB (default 24) sets the image size, SITE_FILL_PEERS=0 runs
# the agents without peer_url (the comparison bench/site_fill.sh makes),
# SITE_FILL_CHANGES the machines added; "measure:" lines are for the bench.
PKI_ADDRESSES=10.0.0.1 # the coordinator's, in its namespace
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root"; exit 77; }

MB=${SITE_FILL_MB:-24}
PEERS=${SITE_FILL_PEERS:-1}
CHANGES=${SITE_FILL_CHANGES:-10}
WAN=${SITE_FILL_WAN:-20 10 100}
K=bm$$k
NSS="$K"
PIDS=()
site_cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  for n in $NSS; do
    ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$n" 2>/dev/null
  done
  cleanup
}
trap site_cleanup EXIT
export BMCTL_COORDINATOR=tls+tcp://10.0.0.1:7400
bmctl() { ip netns exec "$K" "$BM_BIN/bmctl" "$@"; }

# --- topology -------------------------------------------------------------
ip netns add "$K" && ip -n "$K" link set lo up && ip -n "$K" addr add 10.0.0.1/32 dev lo
site_up() { # site_up S: the site's router and switch, its WAN link shaped
  local w=bm$$w$1
  NSS="$NSS $w"
  ip netns add "$w" && ip -n "$w" link set lo up
  ip netns exec "$w" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$K" tuntap add dev "bm$$x$1" mode tap && ip -n "$w" tuntap add dev wan mode tap || {
    echo "FATAL: tap devices"; exit 1; }
  # shellcheck disable=SC2086 # the link's three numbers
  "$BM_BIN/wanem" "$K" "bm$$x$1" "$w" wan $WAN >"$T/wanem$1.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 50); do grep -q "wanem up" "$T/wanem$1.out" && break; sleep 0.1; done
  ip -n "$K" addr add "10.250.$1.1/30" dev "bm$$x$1"
  ip -n "$w" addr add "10.250.$1.2/30" dev wan
  ip -n "$K" link set "bm$$x$1" up && ip -n "$w" link set wan up
  ip -n "$w" route add default via "10.250.$1.1"
  ip -n "$K" route add "10.9$1.0.0/24" via "10.250.$1.2"
  ip -n "$w" link add name sw type bridge && ip -n "$w" link set sw up
  ip -n "$w" addr add "10.9$1.0.1/24" dev sw
}
agent_up() { # agent_up S R: its namespace on the site's switch, its rack segment
  local a=bm$$a$1$2 w=bm$$w$1
  NSS="$NSS $a"
  ip netns add "$a" && ip -n "$a" link set lo up
  ip link add "bm$$p$1$2" netns "$w" type veth peer name lan netns "$a"
  ip -n "$w" link set "bm$$p$1$2" master sw up
  ip -n "$a" addr add "10.9$1.0.1$2/24" dev lan && ip -n "$a" link set lan up
  ip -n "$a" route add default via "10.9$1.0.1"
  ip -n "$a" link add rk type veth peer name rkp
  ip -n "$a" addr add "10.1$1$2.0.1/24" dev rk
  ip -n "$a" link set rk up && ip -n "$a" link set rkp up
}
for s in 1 2; do
  site_up "$s"
  for r in 1 2 3 4; do agent_up "$s" "$r"; done
done

# --- coordinator, fleet, image ----------------------------------------------
# shellcheck disable=SC2046 # the options are words
ip netns exec "$K" "$BM_BIN/bmcoord" --data-dir "$T/data" --listen "$BMCTL_COORDINATOR" \
  --log-level debug $(coord_tls 1) 2>>"$T/coord.log" &
COORD_PID=$!
for _ in $(seq 1 100); do bmctl --timeout 0.5 status >/dev/null 2>&1 && break; sleep 0.1; done
{
  echo "sites: [{name: west}, {name: east}]"
  echo "racks:"
  for s in 1 2; do for r in 1 2 3 4; do
    echo "  - {name: s${s}r$r, site: $([ "$s" = 1 ] && echo west || echo east), subnet: 10.1$s$r.0.0/24, gateway: 10.1$s$r.0.1}"
  done; done
} >"$T/fleet.yaml"
expect_exit 0 "fleet of two sites applied" bmctl apply -f "$T/fleet.yaml"
head -c $((MB << 20)) /dev/urandom >"$T/big.img"
SHA=$(sha256sum "$T/big.img" | cut -d' ' -f1)
SIZE=$((MB << 20))
expect_exit 0 "image pushed" bmctl image push big "$T/big.img"
rm -f "$T/big.img"

# --- staging ------------------------------------------------------------------
expect_exit 1 "staging on a rack that does not exist is refused" bmctl image stage big rack/nope
expect_in "$T/err" "no rack nope" "the refusal names the missing rack"
expect_exit 1 "an unknown target form is refused" bmctl image stage big pod/x
expect_in "$T/err" "rack/NAME, site/NAME or label/KEY=VALUE" "the refusal says the forms"
expect_exit 1 "staging an undeclared image is refused" bmctl image stage nosuch site/west
expect_in "$T/err" "no image nosuch" "the refusal names the image"
expect_exit 0 "staged on site west" bmctl image stage big site/west
expect_exit 0 "staged on east, by its bare name" bmctl image stage big east
expect_exit 0 "staged on a label" bmctl image stage big gpu=a100
expect_exit 0 "and unstaged from it" bmctl image unstage big label/gpu=a100
bmctl -o json get images >"$T/images.json" 2>"$T/err"
/usr/bin/python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))[0]; sys.exit(0 if i["staged"] == ["site/west", "site/east"] else 1)' "$T/images.json" &&
  ok "the image is staged on site/west and site/east (a bare name normalized)" ||
  not_ok "staged: $(cat "$T/images.json")"

# --- the fill -------------------------------------------------------------------
agent_conf() { # agent_conf S R
  local ip=10.9$1.0.1$2
  echo "rack: s${1}r$2"
  echo "data_dir: $T/a$1$2"
  echo "interfaces: [rk]"
  echo "tftp_root: $T/root"
  echo "coordinator: [$BMCTL_COORDINATOR]"
  agent_tls "s${1}r$2"
  echo "http_listen: [$ip, 10.1$1$2.0.1]"
  [ "$PEERS" = 1 ] && echo "peer_url: http://$ip:8080"
  echo "log_level: debug"
}
mkdir -p "$T/root"
tx() { # bytes the coordinator has sent on site S's WAN link
  ip netns exec "$K" cat "/sys/class/net/bm$$x$1/statistics/tx_bytes"
}
TX1=$(tx 1) TX2=$(tx 2)
T0=$(date +%s.%N)
for s in 1 2; do for r in 1 2 3 4; do
  agent_conf "$s" "$r" >"$T/a$s$r.yaml"
  ip netns exec "bm$$a$s$r" "$BM_BIN/bmagent" --config "$T/a$s$r.yaml" 2>>"$T/a$s$r.log" &
  PIDS+=($!)
done; done
held() { local n=0 d; for d in "$T"/a??; do [ -e "$d/cache/sha256/$SHA" ] && n=$((n + 1)); done; echo $n; }
for _ in $(seq 1 $((60 + MB * 10))); do [ "$(held)" = 8 ] && break; sleep 0.5; done
T1=$(date +%s.%N)
[ "$(held)" = 8 ] && ok "all eight racks hold the image" || not_ok "racks holding it: $(held) of 8"
for d in "$T"/a??; do
  cmp -s <(sha256sum <"$d/cache/sha256/$SHA" | cut -d' ' -f1) <(echo "$SHA") || not_ok "$d: other bytes"
done
S1=$(($(tx 1) - TX1)) S2=$(($(tx 2) - TX2))
echo "measure: image_bytes=$SIZE coordinator_bytes=$((S1 + S2)) site1=$S1 site2=$S2 fill_s=$(echo "$T1 - $T0" | bc)"
ratio() { echo "scale=3; $1 / $SIZE" | bc; }
if [ "$PEERS" = 1 ]; then
  [ $((S1 + S2)) -le $((SIZE * 22 / 10)) ] &&
    ok "the coordinator sent $(ratio $((S1 + S2)))x the image to the two sites (at most 2.2)" ||
    not_ok "the coordinator sent $(ratio $((S1 + S2)))x the image"
  [ "$S1" -le $((SIZE * 11 / 10)) ] && [ "$S2" -le $((SIZE * 11 / 10)) ] &&
    ok "about once per site: $(ratio "$S1")x and $(ratio "$S2")x" ||
    not_ok "per site: $(ratio "$S1")x and $(ratio "$S2")x"
  for s in 1 2; do
    n=$(cat "$T"/a"$s"?.log | grep -c "fetched from a peer image=big peer=http://10.9$s.0.")
    o=$(cat "$T"/a"$s"?.log | grep "fetched from a peer" | grep -vc "peer=http://10.9$s.0.")
    [ "$n" = 3 ] && [ "$o" = 0 ] && ok "site $s: three agents fetched from a peer of their site" ||
      not_ok "site $s: $n from a peer of the site, $o from elsewhere"
  done
fi

# --- holders per site -------------------------------------------------------------
for _ in $(seq 1 100); do
  bmctl -o json get images >"$T/images.json" 2>"$T/err"
  /usr/bin/python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))[0]; sys.exit(0 if i["holders"] == {"west": {"held": 4, "agents": 4}, "east": {"held": 4, "agents": 4}} and i["agents_cached"] == 8 else 1)' "$T/images.json" && break
  sleep 0.2
done
/usr/bin/python3 -c 'import json,sys; i=json.load(open(sys.argv[1]))[0]; sys.exit(0 if i["holders"] == {"west": {"held": 4, "agents": 4}, "east": {"held": 4, "agents": 4}} else 1)' "$T/images.json" &&
  ok "bmctl get images: 4/4 holders in each site" || not_ok "holders: $(cat "$T/images.json")"
bmctl get images >"$T/images.txt" 2>&1
expect_in "$T/images.txt" "west 4/4, east 4/4" "the table shows the holders per site"
expect_exit 0 "unstaged from east" bmctl image unstage big site/east
bmctl describe image big >"$T/describe.txt" 2>&1
grep -q "site/west" "$T/describe.txt" && ! grep -q "site/east" "$T/describe.txt" &&
  ok "describe shows it staged on west only" || not_ok "describe: $(cat "$T/describe.txt")"

# --- sync and events over the WAN -------------------------------------------------
revision() { bmctl -o json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])'; }
REV0=$(revision)
for i in $(seq 1 "$CHANGES"); do
  r=$((i % 4 + 1))
  bmctl machine add "m$i" --rack "s2r$r" --mac "52:54:00:22:00:$(printf %02x "$i")" \
    >/dev/null 2>>"$T/err" || not_ok "machine add m$i"
  sleep 0.2
done
REV=$(revision)
echo "measure: change_revisions=$((REV0 + 1))-$REV"
lagging() {
  bmctl -o json agents 2>/dev/null | /usr/bin/python3 -c '
import json, sys
a = json.load(sys.stdin)
rev = int(sys.argv[1])
print(sum(1 for x in a if x.get("revision", 0) < rev) + 8 - len(a))' "$REV"
}
for _ in $(seq 1 150); do [ "$(lagging)" = 0 ] && break; sleep 0.2; done
[ "$(lagging)" = 0 ] && ok "every agent's view reached revision $REV over the WAN" ||
  not_ok "$(lagging) agents behind revision $REV: $(bmctl agents 2>&1 | tr '\n' ';')"
bmctl -o json agents >"$T/agents.json" 2>&1
/usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); sys.exit(0 if len(a) == 8 and all(x.get("events_applied", 0) >= 1 for x in a) else 1)' "$T/agents.json" &&
  ok "each agent's events (its cache's outcome) arrived over the WAN" ||
  not_ok "events: $(cat "$T/agents.json")"
for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || not_ok "an agent died (pid $p)"; done
kill -0 "$COORD_PID" 2>/dev/null || not_ok "bmcoord died"
finish "$T"/a??.log "$T/coord.log"
