#!/usr/bin/env bash
# The rack's image bandwidth cap (image_rate_mbit: 8, 1 MB/s), shared by
# HTTP and TFTP: a 4 MiB image over HTTP (curl) and a 2 MiB boot file over
# TFTP (tftp-hpa) fetched at once arrive whole, and together no faster than
# the cap allows (their bytes, less the bucket's burst, over the time both
# took: a slow box only lowers that figure). A bad value is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

netns_up 10.12.0.1/24 10.12.0.99/24
R=$T/root C=$T/agent-data/cache/sha256
mkdir -p "$R" "$C"
head -c $((4 << 20)) /dev/urandom >"$T/img"
head -c $((2 << 20)) /dev/urandom >"$R/boot.bin"
SHA=$(sha256sum "$T/img" | cut -d' ' -f1)
cp "$T/img" "$C/$SHA"
cat >"$T/fleet.yaml" <<Y
sites: [{name: fra1}]
racks: [{name: rack12, site: fra1, subnet: 10.12.0.0/24, gateway: 10.12.0.1}]
images: [{name: i, sha256: "$SHA", size: $((4 << 20))}]
profiles: [{name: p, kernel: i}]
Y
standalone_conf "$T/fleet.yaml" "$R" "image_rate_mbit: 100001"
expect_exit 1 "image_rate_mbit past its bound is refused" "$BM_BIN/bmagent" --check-config "$T/agent.yaml"
expect_in "$T/err" "image_rate_mbit: must be a number in 0..100000" "and says the bound"
standalone_conf "$T/fleet.yaml" "$R" "image_rate_mbit: 8"
start_agent "$T/agent.yaml"
cd "$T"

t0=$(date +%s.%N)
ip netns exec "$NS_C" curl -sS -o got.img "http://10.12.0.1:8080/images/$SHA" &
CURL=$!
ip netns exec "$NS_C" tftp 10.12.0.1 -m octet -c get boot.bin got.tftp >tftp.out 2>&1
wait "$CURL"
t1=$(date +%s.%N)
cmp -s img got.img && ok "the HTTP image arrived whole under the cap" || not_ok "HTTP bytes differ"
cmp -s "$R/boot.bin" got.tftp && ok "the TFTP file arrived whole under the cap" ||
  not_ok "TFTP bytes differ: $(cat tftp.out)"
# 1 MB/s; the burst (BM_RATE_BURST_MIN, 256 KiB) may go at once.
rate=$(echo "((6 * 1048576) - 262144) / ($t1 - $t0)" | bc -l)
[ "$(echo "$rate <= 1010000" | bc -l)" = 1 ] &&
  ok "HTTP and TFTP together within the cap: $(printf '%.0f' "$rate") B/s for 1,000,000" ||
  not_ok "HTTP and TFTP together at $(printf '%.0f' "$rate") B/s, over the cap of 1,000,000"
finish
