#!/usr/bin/env bash
# bmagent with real DHCP clients in network namespaces: ISC dhclient and
# busybox udhcpc obtain their reservation, renew and release; an unknown MAC
# gets a pool address and is recorded as discovered; kill -9 of the agent
# in the middle loses no lease and never hands one address to two clients.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

netns_up 10.12.0.1/24
cat >"$T/agent.yaml" <<Y
rack: rack12
data_dir: $T/agent-data
interfaces: [$IF_S]
fleet: $BM_SRC/deploy/examples/fleet.yaml
Y
cat >"$T/udhcpc.sh" <<'S'
#!/bin/sh
# udhcpc hook: configure the address (renewals are unicast from it), log.
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
echo "$1 ${ip:-}" >>"$UDHCPC_LOG"
S
cat >"$T/dhclient.sh" <<'S'
#!/bin/sh
# dhclient hook: configure the address (RELEASE is unicast from it).
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT) ip addr flush dev "$interface"
    ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
  RELEASE|EXPIRE|FAIL|STOP) ip addr flush dev "$interface" ;;
esac
S
chmod +x "$T/udhcpc.sh" "$T/dhclient.sh"
start_agent "$T/agent.yaml"

# --- udhcpc: reservation of r12n01, renew, release
client_mac 52:54:00:12:00:01
# Not through in_c: $! must be udhcpc itself, to signal it.
ip netns exec "$NS_C" env UDHCPC_LOG="$T/udhcpc.log" busybox udhcpc -f -i "$IF_C" \
  -s "$T/udhcpc.sh" -t 5 -T 1 >"$T/udhcpc.out" 2>&1 &
UP=$!
wait_log() { for _ in $(seq 1 100); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
wait_log "bound 10.12.0.11" "$T/udhcpc.log" && ok "udhcpc bound to its reservation" || not_ok "udhcpc: $(cat "$T/udhcpc.out")"
[ "$(entries leases)" = 1 ] && ok "the lease is on disk" || not_ok "leases on disk: $(entries leases)"
kill -USR1 "$UP"
wait_log "renew 10.12.0.11" "$T/udhcpc.log" && ok "udhcpc renewed (unicast REQUEST)" || not_ok "no renewal: $(cat "$T/udhcpc.log")"
kill -USR2 "$UP"
for _ in $(seq 1 40); do [ "$(entries leases)" = 0 ] && break; sleep 0.05; done
[ "$(entries leases)" = 0 ] && ok "udhcpc released: lease gone from disk" || not_ok "lease still on disk after release"
kill "$UP"; wait "$UP" 2>/dev/null
in_c ip addr flush dev "$IF_C"

# --- dhclient: reservation of r12n02 across a kill -9 of the agent
client_mac 52:54:00:12:00:02
dhc() { in_c timeout 20 dhclient -1 -v -lf "$T/dhclient.leases" -pf "$T/dhclient.pid" -sf "$T/dhclient.sh" "$@" "$IF_C"; }
dhc >"$T/dhc1" 2>&1
grep -q "bound to 10.12.0.12" "$T/dhc1" && ok "dhclient bound to its reservation" || not_ok "dhclient: $(tail -3 "$T/dhc1")"
kill9_agent
start_agent "$T/agent.yaml"
dhc >"$T/dhc2" 2>&1
grep -q "DHCPREQUEST for 10.12.0.12" "$T/dhc2" && grep -q "DHCPACK of 10.12.0.12" "$T/dhc2" &&
  ok "after kill -9 and restart, dhclient's REQUEST for its lease is ACKed" || not_ok "dhclient after restart: $(tail -4 "$T/dhc2")"
dhc -r >"$T/dhc3" 2>&1
for _ in $(seq 1 40); do [ "$(entries leases)" = 0 ] && break; sleep 0.05; done
[ "$(entries leases)" = 0 ] && ok "dhclient -r released the lease" || not_ok "lease after dhclient -r: $(entries leases)"
in_c ip addr flush dev "$IF_C"

# --- unknown MACs: the pool, the discovery, no double allocation across kill -9
# Discovery events (their detail is "dhcp", the last field of the record);
# the known machines' exchanges are in the outbox too.
discovered_events() { mdb_dump -p -s outbox "$T/agent-data/rackdb" | grep -c 'dhcp$'; }
client_mac 52:54:00:99:00:01
in_c busybox udhcpc -n -q -i "$IF_C" -s /bin/true -t 5 -T 1 >"$T/u1" 2>&1
pool_ip=$(sed -n 's/.*lease of \([0-9.]*\) obtained.*/\1/p' "$T/u1")
case "$pool_ip" in 10.12.0.2[0-5][0-9]) ok "unknown MAC got pool address $pool_ip" ;; *) not_ok "unknown MAC: $(cat "$T/u1")" ;; esac
[ "$(discovered_events)" = 1 ] && ok "the unknown MAC is recorded as discovered" || not_ok "outbox has $(discovered_events) discovery events"
kill9_agent
start_agent "$T/agent.yaml"
client_mac 52:54:00:99:00:02
in_c busybox udhcpc -n -q -i "$IF_C" -s /bin/true -t 5 -T 1 >"$T/u2" 2>&1
other_ip=$(sed -n 's/.*lease of \([0-9.]*\) obtained.*/\1/p' "$T/u2")
[ -n "$other_ip" ] && [ "$other_ip" != "$pool_ip" ] && ok "after kill -9 the held address is not handed to another client ($other_ip)" ||
  not_ok "second unknown MAC got '$other_ip' (first had $pool_ip)"
client_mac 52:54:00:99:00:01
in_c busybox udhcpc -n -q -i "$IF_C" -s /bin/true -r "$pool_ip" -t 5 -T 1 >"$T/u3" 2>&1
grep -q "lease of $pool_ip obtained" "$T/u3" && ok "the first unknown MAC keeps its address after the restart" || not_ok "first MAC: $(cat "$T/u3")"
[ "$(discovered_events)" = 2 ] && ok "a discovery is recorded once per MAC" || not_ok "outbox has $(discovered_events) discovery events"

# --- two interfaces: the agent serves the rack on each
NS_C2=bm$$d IF_S2=bm$$sw IF_C2=bm$$cw
ip netns add "$NS_C2"
NS_EXTRA=$NS_C2
ip link add "$IF_S2" netns "$NS_S" type veth peer name "$IF_C2" netns "$NS_C2"
ip -n "$NS_S" addr add 10.12.0.2/24 dev "$IF_S2"
ip -n "$NS_S" link set "$IF_S2" up
ip -n "$NS_C2" link set "$IF_C2" address 52:54:00:12:00:03
ip -n "$NS_C2" link set "$IF_C2" up
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
sed "s|interfaces: \[$IF_S\]|interfaces: [$IF_S, $IF_S2]|" "$T/agent.yaml" >"$T/two.yaml"
start_agent "$T/two.yaml"
ip netns exec "$NS_C2" busybox udhcpc -n -q -i "$IF_C2" -s /bin/true -t 5 -T 1 >"$T/u4" 2>&1
grep -q "lease of 10.12.0.13 obtained from 10.12.0.2" "$T/u4" && ok "the second interface serves with its own server address" ||
  not_ok "second interface: $(cat "$T/u4")"
client_mac 52:54:00:12:00:01
in_c busybox udhcpc -n -q -i "$IF_C" -s /bin/true -t 5 -T 1 >"$T/u5" 2>&1
grep -q "lease of 10.12.0.11 obtained from 10.12.0.1" "$T/u5" && ok "the first interface still serves" || not_ok "first interface: $(cat "$T/u5")"
ip netns del "$NS_C2"
NS_EXTRA=

# --- a second agent is refused: same data dir, or same interface
in_s "$BM_BIN/bmagent" --config "$T/agent.yaml" 2>"$T/second.log"
[ $? = 1 ] && grep -q "in use by another bmagent" "$T/second.log" && ok "second agent on the same data dir refused" ||
  not_ok "second agent (same dir): $(cat "$T/second.log")"
sed "s|$T/agent-data|$T/other-data|" "$T/agent.yaml" >"$T/other.yaml"
in_s "$BM_BIN/bmagent" --config "$T/other.yaml" 2>"$T/third.log"
[ $? = 1 ] && grep -q "Address already in use" "$T/third.log" && ok "second DHCP server on the same interface refused" ||
  not_ok "second agent (same iface): $(cat "$T/third.log")"
finish
