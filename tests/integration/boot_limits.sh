#!/usr/bin/env bash
# One host on a rack's LAN trying to take the agent's slots, and a second
# host that must still be served at once:
#   - HTTP: 1,000 idle connections from 10.12.0.99: http_max_per_client of
#     them are held, the rest closed at accept; 10.12.0.98 gets its file;
#   - slowloris: a request head trickled a byte a second loses its slot
#     (408) long before it is whole;
#   - TFTP: 1,030 requests with timeout 255 from 10.12.0.99: 8 start
#     (without the timeout granted), the rest get "busy"; 10.12.0.98's
#     tftp-hpa and atftp fetches succeed;
#   - every refusal is counted in /metrics (127.0.0.1:9180) and logged at a
#     bounded rate; the agent stays up;
#   - http_listen: [ADDR] moves HTTP to those addresses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
PROBE="$BM_SRC/tests/integration/flood_probe.py"

netns_up 10.12.0.1/24 10.12.0.99/24
ip -n "$NS_C" addr add 10.12.0.98/24 dev "$IF_C"
R=$T/root
mkdir -p "$R"
head -c 200000 /dev/urandom >"$R/ipxe.efi"
cat >"$T/fleet.yaml" <<Y
sites: [{name: s}]
racks: [{name: rack12, site: s, subnet: 10.12.0.0/24, gateway: 10.12.0.1}]
images: []
profiles: []
machines: []
Y
standalone_conf "$T/fleet.yaml" "$R" "http_header_timeout: 3"
start_agent "$T/agent.yaml"
U=http://10.12.0.1:8080
metric() { in_s curl -s http://127.0.0.1:9180/metrics | awk -v m="$1" '$1 == m {print $2}'; }

# --- HTTP: 1,000 idle connections from one address --------------------------
coproc FLOOD { in_c python3 "$PROBE" http-idle 10.12.0.1 8080 10.12.0.99 1000; }
FLOOD_IN=${FLOOD[1]}
read -r -t 60 line <&"${FLOOD[0]}"
echo "# $line"
set -- $line
[ "${2:-0}" = 64 ] && [ "${4:-0}" = 936 ] &&
  ok "1,000 idle connections from one address: 64 held, 936 closed at accept" ||
  not_ok "idle flood: $line"
c98=$(in_c curl -s -o /dev/null -w '%{http_code}' --max-time 5 --interface 10.12.0.98 "$U/boot/ipxe.efi")
[ "$c98" = 200 ] && ok "meanwhile a second address is served" || not_ok "second address: $c98"
[ "$(metric bm_http_connections_rejected_per_client_total)" -ge 936 ] 2>/dev/null &&
  ok "per-address refusals counted in /metrics" ||
  not_ok "bm_http_connections_rejected_per_client_total=$(metric bm_http_connections_rejected_per_client_total)"
n=$(grep -c 'connection refused peer=10.12.0.99.*from this address' "$T/agent.log.new")
[ "$n" -ge 1 ] && [ "$n" -le 100 ] && ok "the refusals are logged at a bounded rate ($n lines)" ||
  not_ok "refusal log lines: $n"
exec {FLOOD_IN}>&-
wait "$FLOOD_PID" 2>/dev/null

# --- slowloris ----------------------------------------------------------------
out=$(in_c python3 "$PROBE" slowloris 10.12.0.1 8080 10.12.0.99)
echo "# $out"
set -- $out
[ "${8:-}" = 408 ] && [ "${3:-99}" -lt "${5:-0}" ] &&
  ok "a head trickled a byte a second loses its slot (408) before it is whole" ||
  not_ok "slowloris: $out"

# --- TFTP: 1,030 requests with timeout 255 from one address ------------------
# The probe keeps its sockets open until told (TFLOOD_IN closed): its
# transfers hold their slots until their retries run out, not until the
# probe exits (a closed port ends a transfer at its next retransmission).
coproc TFLOOD { in_c python3 "$PROBE" tftp 10.12.0.1 10.12.0.99 1030 ipxe.efi; }
TFLOOD_IN=${TFLOOD[1]}
read -r -t 60 out <&"${TFLOOD[0]}"
echo "# $out"
set -- $out
[ "${2:-}" = 8 ] && [ "${4:-}" = 1022 ] && ok "1,030 requests from one address: 8 start, 1,022 busy" ||
  not_ok "tftp flood: $out"
[ "${8:-}" = 0 ] && ok "a timeout of 255 s is not granted" || not_ok "timeout granted: $out"
cd "$T"
# The real clients speak from 10.12.0.98 (the route's source) while .99's
# transfers still hold their slots (counted as the clients start: the
# held transfers give up after their retries, ~16 s, which on a loaded
# box can come before both clients are done).
ip -n "$NS_C" route replace 10.12.0.0/24 dev "$IF_C" src 10.12.0.98
active=$(metric bm_tftp_transfers_active)
in_c tftp 10.12.0.1 -m octet -c get ipxe.efi got.hpa >/dev/null 2>&1
cmp -s got.hpa "$R/ipxe.efi" && ok "meanwhile tftp-hpa from another address is served" ||
  not_ok "tftp-hpa from another address failed"
in_c atftp --option "blksize 1428" -g -r ipxe.efi -l got.atftp 10.12.0.1 >/dev/null 2>&1
cmp -s got.atftp "$R/ipxe.efi" && ok "and atftp too" || not_ok "atftp from another address failed"
[ "$active" -ge 8 ] 2>/dev/null &&
  ok "(.99's transfers were holding their slots as the clients started)" ||
  not_ok "bm_tftp_transfers_active=$active as the clients started"
exec {TFLOOD_IN}>&-
wait "$TFLOOD_PID" 2>/dev/null
[ "$(metric bm_tftp_refused_per_client_total)" -ge 1022 ] 2>/dev/null &&
  ok "TFTP per-address refusals counted" || not_ok "bm_tftp_refused_per_client_total=$(metric bm_tftp_refused_per_client_total)"
[ "$(metric bm_tftp_timeouts_declined_total)" -ge 8 ] 2>/dev/null &&
  ok "declined timeouts counted" || not_ok "bm_tftp_timeouts_declined_total=$(metric bm_tftp_timeouts_declined_total)"
kill -0 "$AGENT_PID" && ok "the agent is still up" || not_ok "the agent died"

# --- http_listen widens where HTTP listens ----------------------------------
kill9_agent
standalone_conf "$T/fleet.yaml" "$R" "http_listen: [127.0.0.1]"
start_agent "$T/agent.yaml"
[ "$(in_s curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://127.0.0.1:8080/boot/ipxe.efi)" = 200 ] &&
  ok "http_listen: [127.0.0.1]: served there" || not_ok "not served on 127.0.0.1"
in_c curl -s -o /dev/null --max-time 3 "$U/boot/ipxe.efi"
[ $? = 7 ] && ok "and no longer on the rack interface" || not_ok "still served on the rack interface"
finish
