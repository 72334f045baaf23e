#!/usr/bin/env bash
# bench/tftp.sh: TFTP throughput of bmagent beside tftpd-hpa, dnsmasq's TFTP
# and atftpd (the one peer with RFC 7440 windowsize), on the same veth pair,
# in one run, three rounds, medians.
#   64 MiB file: tftp-hpa client at default options (512-byte lock-step),
#   atftp with blksize 1468, atftp with blksize 1468 + windowsize 16;
#   a storm of 100 clients fetching 1 MiB (atftp, blksize 1468): total time
#   and failures. Every download is compared with the original.
#   usage: bench/tftp.sh [-r ROUNDS] [SERVER...]  (bmagent tftpd-hpa dnsmasq atftpd)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 STORM=100
while getopts r: o; do case $o in r) ROUNDS=$OPTARG ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
SERVERS=(${@:-bmagent tftpd-hpa dnsmasq atftpd})
MODES=(hpa-512 atftp-1468 atftp-1468-w16)

NAME=tftp
. bench/lib.sh

# atftpd conflicts with tftpd-hpa as a package: unpack it beside the run.
if [ ! -x "$W/atftpd-root/usr/sbin/atftpd" ]; then
  (cd "$W" && apt-get download -qq atftpd >/dev/null 2>&1 && dpkg-deb -x atftpd_*.deb atftpd-root)
fi
ATFTPD=$W/atftpd-root/usr/sbin/atftpd

R=$W/root
mkdir -p "$R" "$W/out"
head -c $((64 << 20)) /dev/urandom >"$R/64M.bin"
head -c $((1 << 20)) /dev/urandom >"$R/1M.bin"
cat >"$W/fleet.yaml" <<Y
sites: [{name: bench}]
racks: [{name: bench, site: bench, subnet: 10.99.0.0/16, gateway: 10.99.0.1}]
Y
cat >"$W/agent.yaml" <<Y
rack: bench
data_dir: $W/agent
interfaces: [$IF_S]
tftp_root: $R
fleet: $W/fleet.yaml
log_level: warn
Y
cat >"$W/dnsmasq.conf" <<Y
port=0
no-resolv
no-hosts
interface=$IF_S
bind-interfaces
enable-tftp
tftp-root=$R
tftp-max=200
quiet-tftp
pid-file=$W/dnsmasq.pid
user=root
Y

start_server() {
  case $1 in
  bmagent) ip netns exec "$NS_S" "$B/bmagent" --config "$W/agent.yaml" 2>>"$W/agent.log" & ;;
  tftpd-hpa) ip netns exec "$NS_S" in.tftpd -L -s -u root -a 10.99.0.1:69 "$R" 2>>"$W/hpa.log" & ;;
  dnsmasq) ip netns exec "$NS_S" dnsmasq -k -C "$W/dnsmasq.conf" 2>>"$W/dnsmasq.log" & ;;
  atftpd) ip netns exec "$NS_S" "$ATFTPD" --daemon --no-fork --bind-address 10.99.0.1 --port 69 \
            --user root.root --maxthread 200 --no-multicast --logfile "$W/atftpd.log" "$R" & ;;
  esac
  SRV_PID=$!
  sleep 0.7
}
stop_server() { kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null || true; SRV_PID=; }

get() { # MODE FILE OUT
  case $1 in
  hpa-512) ip netns exec "$NS_C" tftp 10.99.0.1 -m octet -c get "$2" "$3" ;;
  atftp-1468) ip netns exec "$NS_C" atftp --option "blksize 1468" -g -r "$2" -l "$3" 10.99.0.1 ;;
  atftp-1468-w16) ip netns exec "$NS_C" atftp --option "blksize 1468" --option "windowsize 16" \
                    -g -r "$2" -l "$3" 10.99.0.1 ;;
  esac >/dev/null 2>&1
}


for round in $(seq 1 "$ROUNDS"); do
  for s in "${SERVERS[@]}"; do
    echo "round $round/$ROUNDS: $s" >&2
    start_server "$s"
    for m in "${MODES[@]}"; do
      rm -f "$W/out/x"
      t0=$(now); timeout 300 bash -c "$(declare -f get); NS_C=$NS_C get $m 64M.bin $W/out/x" || true; t1=$(now)
      if cmp -s "$R/64M.bin" "$W/out/x"; then
        echo "$(echo "$((64 << 20)) / ($t1 - $t0) / 1000000" | bc -l)" >>"$W/res.$s.$m"
      else
        echo 0 >>"$W/res.$s.$m"
      fi
      echo "    $s $m $(tail -1 "$W/res.$s.$m" | cut -c1-6) MB/s" >&2
    done
    rm -f "$W"/out/storm.*
    t0=$(now); pids=()
    for i in $(seq 1 "$STORM"); do
      timeout 120 bash -c "$(declare -f get); NS_C=$NS_C get atftp-1468 1M.bin $W/out/storm.$i" &
      pids+=($!)
    done
    wait "${pids[@]}" || true
    t1=$(now)
    bad=0; for i in $(seq 1 "$STORM"); do cmp -s "$R/1M.bin" "$W/out/storm.$i" || bad=$((bad + 1)); done
    echo "$(echo "$t1 - $t0" | bc -l) $bad" >>"$W/storm.$s"
    echo "    $s storm $(tail -1 "$W/storm.$s")" >&2
    stop_server
  done
done

med() { median <"$W/res.$1.$2"; }
echo "tftp: 64 MiB, MB/s (10^6 B/s, client wall time), medians of $ROUNDS rounds; storm: $STORM x 1 MiB, atftp blksize 1468"
echo "$(nproc) cores, $(uname -r); a 0 is a failed or corrupted download"
echo
printf '| %-34s |' setting; for s in "${SERVERS[@]}"; do printf ' %-10s |' "$s"; done; echo
printf '|%s|' "------------------------------------"; for s in "${SERVERS[@]}"; do printf '%s|' "------------"; done; echo
for m in "${MODES[@]}"; do
  case $m in hpa-512) label="tftp-hpa client, default (512)" ;; atftp-1468) label="atftp, blksize 1468" ;;
    atftp-1468-w16) label="atftp, blksize 1468 + windowsize 16" ;; esac
  printf '| %-34s |' "$label"; for s in "${SERVERS[@]}"; do printf ' %-10.1f |' "$(med "$s" "$m")"; done; echo
done
printf '| %-34s |' "storm 100 x 1 MiB: seconds (failed)"
for s in "${SERVERS[@]}"; do
  t=$(cut -d' ' -f1 "$W/storm.$s" | median); f=$(cut -d' ' -f2 "$W/storm.$s" | median)
  printf ' %-10s |' "$(printf '%.2f (%s)' "$t" "$f")"
done
echo
echo
has() { [[ -s "$W/res.$1.hpa-512" ]]; }
has bmagent || exit 0
best=$(for m in "${MODES[@]}"; do med bmagent "$m"; done | sort -g | tail -1)
if has tftpd-hpa; then
  echo "bmagent best / tftpd-hpa default: $(echo "scale=1; $best / $(med tftpd-hpa hpa-512)" | bc -l)x"
fi
if has atftpd; then
  for m in atftp-1468 atftp-1468-w16; do
    echo "bmagent / atftpd at $m: $(echo "scale=2; $(med bmagent $m) / $(med atftpd $m)" | bc -l)x"
  done
fi
