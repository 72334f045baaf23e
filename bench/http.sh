#!/usr/bin/env bash
# bench/http.sh: bmagent's HTTP beside nginx, on the same veth pair, in one
# run, three rounds, medians.
#   script: wrk -t2 -c64 on the agent's per-machine iPXE script (rendered
#     per request from the profile; the client's address is the machine's
#     reservation, as only the machine may fetch its script) vs nginx serving that same script as a
#     static file: requests/s, p99 latency, requests per server CPU-second;
#   image: curl of a 1 GiB image (page cache warm), agent (from its image
#     cache by sha256, sendfile) vs nginx (sendfile on, tcp_nopush): both
#     servers run at once (agent :8080, nginx :8081) and the transfers
#     alternate, agent then nginx, PAIRS times a round, so that each pair
#     meets the same machine (a single 1 GiB transfer on this 2-core box
#     varies by +-40 % with where the scheduler puts client and server):
#     MB/s, server CPU-seconds per GiB, and the median of the per-pair
#     ratios; bytes compared by length and HTTP status.
# Both log nothing per request (nginx access_log off; the agent at
# log_level warn, as its per-request lines are info). nginx runs its default
# worker_processes auto (2 here); the agent is one thread.
#   usage: bench/http.sh [-r ROUNDS] [-d WRK_SECONDS] [-p PAIRS] [SERVER...]  (bmagent nginx)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 SECS=10 PAIRS=5
while getopts r:d:p: o; do
  case $o in r) ROUNDS=$OPTARG ;; d) SECS=$OPTARG ;; p) PAIRS=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
SERVERS=(${@:-bmagent nginx})
NAME=http
. bench/lib.sh
pkill -x nginx 2>/dev/null || true # the package's own service, if it started one

MAC=52:54:00:99:00:01
mkdir -p "$W/www" "$W/agent/cache/sha256" "$W/root" "$W/nginx"
head -c $((1 << 30)) /dev/urandom >"$W/www/1G.bin"
BIG=$(sha256sum "$W/www/1G.bin" | cut -d' ' -f1)
ln "$W/www/1G.bin" "$W/agent/cache/sha256/$BIG"
cat >"$W/fleet.yaml" <<Y
sites: [{name: bench}]
racks: [{name: bench, site: bench, subnet: 10.99.0.0/16, gateway: 10.99.0.1, dns: [10.99.0.1]}]
images:
  - {name: vmlinuz, sha256: "$BIG", size: $((1 << 30))}
  - {name: initrd, sha256: "$BIG", size: $((1 << 30))}
profiles:
  - name: install
    kernel: vmlinuz
    initrd: initrd
    cmdline: "console=ttyS0,115200n8 ip=dhcp BOOTIF=01-{{mac}} ds=nocloud-net;s={{seed_url}} bm.callback={{callback_url}} bm.token={{token}}"
machines:
  - {name: bench-n1, rack: bench, mac: "$MAC", ip: 10.99.0.2, profile: install, netboot: true}
Y
cat >"$W/agent.yaml" <<Y
rack: bench
data_dir: $W/agent
interfaces: [$IF_S]
tftp_root: $W/root
fleet: $W/fleet.yaml
http_port: 8080
http_max_per_client: 1024 # wrk's connections all come from the one client address
log_level: warn
Y
nginx_conf() { # PORT
NGINX_PORT=$1
cat >"$W/nginx/nginx.conf" <<Y
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 4096; }
http {
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    access_log off;
    types { text/plain ipxe; application/octet-stream bin; }
    default_type application/octet-stream;
    client_body_temp_path $W/nginx/body;
    proxy_temp_path $W/nginx/proxy;
    fastcgi_temp_path $W/nginx/fastcgi;
    uwsgi_temp_path $W/nginx/uwsgi;
    scgi_temp_path $W/nginx/scgi;
    server { listen 10.99.0.1:${NGINX_PORT}; root $W/www; }
}
Y
}
nginx_conf 8080
chmod 755 "$W" "$W/www" # nginx's workers run as nobody
cat "$W/www/1G.bin" >/dev/null # warm the page cache

start_server() { # SERVER [NGINX_PORT]
  case $1 in
  bmagent) ip netns exec "$NS_S" "$B/bmagent" --config "$W/agent.yaml" 2>>"$W/agent.log" & ;;
  nginx) ip netns exec "$NS_S" nginx -c "$W/nginx/nginx.conf" -g 'daemon off;' 2>>"$W/nginx.log" & ;;
  esac
  SRV_PID=$!
  local port=8080
  [ "$1" = nginx ] && port=${2:-8080}
  for _ in $(seq 1 50); do # any answer: it listens
    [ "$(ip netns exec "$NS_C" curl -s -o /dev/null -w '%{http_code}' "http://10.99.0.1:$port/")" != 000 ] && break
    sleep 0.1
  done
  sleep 0.3
}
stop_server() { kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=; }
url_script() { [ "$1" = bmagent ] && echo "http://10.99.0.1:8080/boot/$MAC.ipxe" || echo "http://10.99.0.1:8080/boot.ipxe"; }
url_big() { [ "$1" = bmagent ] && echo "http://10.99.0.1:8080/images/$BIG" || echo "http://10.99.0.1:8081/1G.bin"; }

# big SERVER PID: one 1 GiB transfer, appends "MB/s CPU-seconds" to big.SERVER.
big() {
  local c0 c1 res code size secs
  c0=$(cpu_secs "$2")
  res=$(ip netns exec "$NS_C" curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$(url_big "$1")")
  c1=$(cpu_secs "$2")
  read -r code size secs <<<"$res"
  if [ "$code" = 200 ] && [ "$size" = $((1 << 30)) ]; then
    printf '%.0f %.2f\n' "$(echo "$size / $secs / 1000000" | bc -l)" "$(echo "$c1 - $c0" | bc -l)" >>"$W/big.$1"
  else
    echo "0 0" >>"$W/big.$1"
  fi
}

# nginx serves the very script the agent renders, as a file of the same size.
start_server bmagent
ip netns exec "$NS_C" curl -sf "$(url_script bmagent)" >"$W/www/boot.ipxe"
stop_server
SCRIPT_BYTES=$(stat -c %s "$W/www/boot.ipxe")
grep -q '^kernel http' "$W/www/boot.ipxe" || { echo "no netboot script from the agent"; cat "$W/agent.log"; exit 1; }

for round in $(seq 1 "$ROUNDS"); do
  for s in "${SERVERS[@]}"; do
    echo "round $round/$ROUNDS: $s" >&2
    start_server "$s"
    c0=$(cpu_secs "$SRV_PID")
    ip netns exec "$NS_C" wrk -t2 -c64 -d"${SECS}s" --latency "$(url_script "$s")" >"$W/wrk.$s.$round"
    c1=$(cpu_secs "$SRV_PID")
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$W/wrk.$s.$round")
    p99=$(awk '/^ +99%/ {print $2; exit}' "$W/wrk.$s.$round")
    errs=$(awk '/Non-2xx|Socket errors/' "$W/wrk.$s.$round")
    [ -n "$errs" ] && { echo "    $s: $errs" >&2; rps=0; }
    total=$(awk '/requests in/ {print $1}' "$W/wrk.$s.$round")
    printf '%.0f %s %.0f\n' "$rps" "$p99" "$(echo "$total / ($c1 - $c0 + 0.001)" | bc -l)" >>"$W/script.$s"
    echo "    $s script $(tail -1 "$W/script.$s")" >&2
    stop_server
  done
  # The image: every server at once, transfers alternating.
  nginx_conf 8081
  PIDS=()
  for s in "${SERVERS[@]}"; do start_server "$s" 8081; PIDS+=("$SRV_PID"); done
  SRV_PID=
  for _ in $(seq 1 "$PAIRS"); do
    line="    1 GiB"
    for i in "${!SERVERS[@]}"; do
      big "${SERVERS[$i]}" "${PIDS[$i]}"
      line="$line ${SERVERS[$i]} $(tail -1 "$W/big.${SERVERS[$i]}" | cut -d' ' -f1) MB/s"
    done
    echo "$line" >&2
    if [ "${#SERVERS[@]}" = 2 ]; then
      a=$(tail -1 "$W/big.bmagent" | cut -d' ' -f1) n=$(tail -1 "$W/big.nginx" | cut -d' ' -f1)
      [ "$n" != 0 ] && echo "scale=3; $a / $n" | bc -l >>"$W/ratio"
    fi
  done
  kill "${PIDS[@]}" 2>/dev/null; wait "${PIDS[@]}" 2>/dev/null || true
  nginx_conf 8080
done

col() { cut -d' ' -f"$2" "$W/$1" | median; }
echo "http: medians of $ROUNDS rounds, $(nproc) cores, $(uname -r), $(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "script: wrk -t2 -c64 -d${SECS}s, $SCRIPT_BYTES bytes (agent: rendered per request; nginx: the same bytes as a static file)"
echo "image: curl -o /dev/null of 1 GiB over the veth, page cache warm, both servers up, transfers alternating ($((ROUNDS * PAIRS)) pairs)"
echo
printf '| %-37s |' measure; for s in "${SERVERS[@]}"; do printf ' %-10s |' "$s"; done; echo
printf '|%s|' "---------------------------------------"; for s in "${SERVERS[@]}"; do printf '%s|' "------------"; done; echo
row() { printf '| %-37s |' "$1"; for s in "${SERVERS[@]}"; do printf ' %-10s |' "$(col "$2.$s" "$3")"; done; echo; }
row "script requests/s" script 1
row "script p99 latency" script 2
row "script requests per server CPU-second" script 3
row "1 GiB image MB/s (10^6 B/s)" big 1
row "1 GiB image server CPU-seconds" big 2
echo
if [ -s "$W/script.bmagent" ] && [ -s "$W/script.nginx" ]; then
  echo "bmagent / nginx: script $(echo "scale=2; $(col script.bmagent 1) / $(col script.nginx 1)" | bc -l)x," \
    "1 GiB $(echo "scale=2; $(col big.bmagent 1) / $(col big.nginx 1)" | bc -l)x" \
    "(median of the per-pair ratios $(median <"$W/ratio")x)"
fi
