#!/usr/bin/env bash
# bench/dhcp.sh: DORA exchanges per second at under 0.1 % drops, bmagent
# beside kea-dhcp4 (memfile on disk) and dnsmasq, on the same veth pair in
# the same run; three rounds, medians; and the server's CPU per 1,000
# exchanges.
#
# Method: two network namespaces joined by a veth (10.99.0.1/16 server,
# 10.99.0.2/16 client); perfdhcp (kea-admin) in the client namespace acts as
# a relay (giaddr 10.99.0.2) with 10,000 distinct MACs, single-threaded (its
# multi-thread mode busy-polls the second core). Every trial starts the
# server fresh with an empty lease store on disk. For each server and round:
# double the offered rate until a trial drops more than 0.1 %, then bisect
# BISECT times; the figure is the completed exchanges/s of the best passing
# trial. Durability as configured: bmagent fsyncs each batch of leases
# before their ACKs leave (LMDB group commit); kea's memfile appends each
# lease to its CSV without fsync; dnsmasq rewrites its lease file.
#   usage: bench/dhcp.sh [-r ROUNDS] [-t TRIAL_SECONDS] [SERVER...]
#   SERVER: bmagent kea dnsmasq (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 SECS=6 BISECT=3 CLIENTS=10000 DROP_MAX=0.1
while getopts r:t: o; do
  case $o in r) ROUNDS=$OPTARG ;; t) SECS=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
SERVERS=("${@:-bmagent kea dnsmasq}")
# shellcheck disable=SC2206
SERVERS=(${SERVERS[*]})

NAME=dhcp
. bench/lib.sh

write_configs() {
  cat >"$W/fleet.yaml" <<Y
sites: [{name: bench}]
racks: [{name: bench, site: bench, subnet: 10.99.0.0/16, gateway: 10.99.0.1,
         pool: 10.99.1.0-10.99.255.254}]
Y
  cat >"$W/agent.yaml" <<Y
rack: bench
data_dir: $W/agent
interfaces: [$IF_S]
fleet: $W/fleet.yaml
log_level: warn
Y
  cat >"$W/kea.json" <<Y
{ "Dhcp4": { "interfaces-config": { "interfaces": [ "$IF_S" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "persist": true, "name": "$W/kea/leases4.csv", "lfc-interval": 0 },
  "valid-lifetime": 3600, "renew-timer": 1800, "rebind-timer": 3150,
  "subnet4": [ { "id": 1, "subnet": "10.99.0.0/16", "pools": [ { "pool": "10.99.1.0 - 10.99.255.254" } ],
    "option-data": [ { "name": "routers", "data": "10.99.0.1" } ],
    "next-server": "10.99.0.1", "boot-file-name": "undionly.kpxe" } ],
  "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "$W/kea/kea.log" } ], "severity": "WARN" } ] } }
Y
  cat >"$W/dnsmasq.conf" <<Y
port=0
no-resolv
no-hosts
interface=$IF_S
bind-interfaces
dhcp-range=10.99.1.0,10.99.255.254,255.255.0.0,1h
dhcp-option=option:router,10.99.0.1
dhcp-boot=undionly.kpxe,,10.99.0.1
dhcp-lease-max=200000
dhcp-leasefile=$W/dnsmasq/leases
dhcp-authoritative
no-ping
quiet-dhcp
pid-file=$W/dnsmasq/pid
user=root
Y
}

start_server() {
  rm -rf "$W/agent" "$W/kea" "$W/dnsmasq"
  mkdir -p "$W/kea" "$W/dnsmasq"
  case $1 in
  bmagent) ip netns exec "$NS_S" "$B/bmagent" --config "$W/agent.yaml" 2>>"$W/agent.log" & ;;
  kea) KEA_PIDFILE_DIR=$W/kea KEA_LOCKFILE_DIR=none ip netns exec "$NS_S" kea-dhcp4 -c "$W/kea.json" >>"$W/kea.out" 2>&1 & ;;
  dnsmasq) ip netns exec "$NS_S" dnsmasq -k -C "$W/dnsmasq.conf" >>"$W/dnsmasq.out" 2>&1 & ;;
  esac
  SRV_PID=$!
  sleep 1
  kill -0 "$SRV_PID" || { echo "$1 did not start"; exit 1; }
}

cpu_s() { awk '{printf "%.3f", ($14 + $15) / 100}' "/proc/$1/stat"; }

# trial SERVER RATE -> "drop_pct rate_done cpu_s acks" on stdout
trial() {
  local out=$W/perf.out c0 c1
  start_server "$1"
  c0=$(cpu_s "$SRV_PID")
  timeout $((SECS + 20)) ip netns exec "$NS_C" perfdhcp -4 -l "$IF_C" -r "$2" -R "$CLIENTS" \
    -p "$SECS" -W 500000 -g single 10.99.0.1 >"$out" 2>&1 || true
  c1=$(cpu_s "$SRV_PID")
  kill "$SRV_PID"; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=
  awk -v c="$(echo "$c1 - $c0" | bc -l)" '
    /Statistics for: DISCOVER-OFFER/ {s="DO"} /Statistics for: REQUEST-ACK/ {s="RA"}
    /^Rate:/ {rate=$2}
    /^sent packets:/ {sent[s]=$3} /^received packets:/ {recv[s]=$3}
    END { ds=sent["DO"]+0; ack=recv["RA"]+0
          printf "%.3f %.0f %.3f %d\n", (ds>0 ? 100*(ds-ack)/ds : 100), rate, c, ack }' "$out"
}

passes() { awk -v d="$1" -v m="$DROP_MAX" 'BEGIN { exit !(d <= m) }'; }

# search SERVER START -> "rate cpu_per_1000" of the best passing trial
search() {
  local lo=0 hi r=$2 best="0 0" res
  while :; do
    read -r drop done cpu acks < <(trial "$1" "$r")
    echo "    $1 offered=$r done=$done drop=$drop% cpu=${cpu}s" >&2
    if passes "$drop"; then
      lo=$r; best="$done $(echo "scale=3; 1000 * $cpu / ($acks + 0.001)" | bc -l)"; r=$((r * 2))
    else
      hi=$r; break
    fi
    [ "$r" -gt 64000 ] && { hi=$r; break; }
  done
  for _ in $(seq 1 "$BISECT"); do
    r=$(((lo + hi) / 2))
    [ "$r" -le "$lo" ] && break
    read -r drop done cpu acks < <(trial "$1" "$r")
    echo "    $1 offered=$r done=$done drop=$drop% cpu=${cpu}s" >&2
    if passes "$drop"; then lo=$r; best="$done $(echo "scale=3; 1000 * $cpu / ($acks + 0.001)" | bc -l)"
    else hi=$r; fi
  done
  echo "$best"
}

start_rate() { case $1 in dnsmasq) echo 50 ;; *) echo 1000 ;; esac; }

write_configs
for round in $(seq 1 "$ROUNDS"); do
  for s in "${SERVERS[@]}"; do
    echo "round $round/$ROUNDS: $s" >&2
    search "$s" "$(start_rate "$s")" >"$W/res.$s.$round"
  done
done

echo "dhcp: DORA/s at <= $DROP_MAX % drops, $CLIENTS clients, perfdhcp relay -g single, ${SECS}s trials,"
echo "medians of $ROUNDS rounds, $(nproc) cores, $(uname -r)"
echo
printf '| %-22s | %-12s | %-18s | %-14s |\n' server "DORA/s" "CPU s / 1000 DORA" "bmagent / this"
printf '|%s|%s|%s|%s|\n' "------------------------" "--------------" "--------------------" "----------------"
ref=
for s in "${SERVERS[@]}"; do
  rate=$(for r in $(seq 1 "$ROUNDS"); do cut -d' ' -f1 "$W/res.$s.$r"; done | median)
  cpu=$(for r in $(seq 1 "$ROUNDS"); do cut -d' ' -f2 "$W/res.$s.$r"; done | median)
  [ -z "$ref" ] && ref=$rate
  ver=$(case $s in bmagent) "$B/bmagent" --version ;; kea) echo "kea-dhcp4 $(kea-dhcp4 -v)" ;;
        dnsmasq) dnsmasq --version | head -1 | awk '{print "dnsmasq " $3}' ;; esac)
  ratio=$(awk -v a="$ref" -v b="$rate" 'BEGIN { printf (b > 0 ? "%.2fx" : "-"), a / b }')
  printf '| %-22s | %-12s | %-18s | %-14s |\n' "$ver" "$rate" "$cpu" "$ratio"
done
