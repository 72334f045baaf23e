#!/usr/bin/env bash
# bmagent's TFTP with real clients in network namespaces: tftp-hpa and atftp
# fetch 0, 511, 512, 513 bytes and 40 MiB (block rollover at 512-byte
# blocks), with and without blksize, tsize and windowsize, bytes compared;
# netascii; traversal in every form refused (and logged); WRQ refused; 100
# clients at once; 5 % loss each way (nftables) recovered by retransmission;
# a transfer abandoned by its client reaped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
PROBE="$HERE/tftp_probe.py"

netns_up 10.12.0.1/24 10.12.0.99/24
R=$T/root
mkdir -p "$R/sub"
for n in 0 511 512 513; do head -c "$n" /dev/urandom >"$R/f$n"; done
head -c $((40 << 20)) /dev/urandom >"$R/big40"
head -c $((1 << 20)) /dev/urandom >"$R/1M"
head -c $((64 << 10)) /dev/urandom >"$R/64K"
printf 'line1\nline2\r\nend\n' >"$R/text.txt"
echo secret >"$T/secret"
ln -s /etc/passwd "$R/evil"
ln -s ../secret "$R/evil2"
# The storm's 100 clients share one address here (boot_limits tests the cap).
standalone_conf "$BM_SRC/deploy/examples/fleet.yaml" "$R" "tftp_max_per_client: 128"
start_agent "$T/agent.yaml"
cd "$T"

hpa() { in_c tftp 10.12.0.1 -m "${3:-octet}" -c get "$1" "$2" 2>&1; }
atftp_get() { local f=$1 out=$2; shift 2; in_c atftp "$@" -g -r "$f" -l "$out" 10.12.0.1 2>&1; }
same() { cmp -s "$R/$1" "$2" && ok "$3" || not_ok "$3: bytes differ or missing"; }

for f in f0 f511 f512 f513 big40; do
  hpa "$f" "got.hpa.$f" >/dev/null; same "$f" "got.hpa.$f" "tftp-hpa $f (512-byte lock-step)"
done
for f in f0 f511 f512 f513; do
  atftp_get "$f" "got.a.$f" >/dev/null; same "$f" "got.a.$f" "atftp $f (no options)"
  atftp_get "$f" "got.b.$f" --option "blksize 8" --option "tsize 0" >/dev/null
  same "$f" "got.b.$f" "atftp $f with blksize 8 and tsize"
done
atftp_get big40 got.w16 --option "blksize 1468" --option "tsize 0" --option "windowsize 16" >/dev/null
same big40 got.w16 "atftp 40 MiB with blksize 1468, tsize, windowsize 16"
atftp_get big40 got.512w8 --option "windowsize 8" >/dev/null
same big40 got.512w8 "atftp 40 MiB, 512-byte blocks and windowsize 8 (rollover inside windows)"
hpa text.txt got.txt netascii >/dev/null; same text.txt got.txt "netascii round trip"

for bad in ../secret evil evil2 /../secret sub sub/../../secret; do
  out=$(hpa "$bad" got.bad)
  grep -q "Error code 2" <<<"$out" && ok "refused with error 2: $bad" || not_ok "$bad: $out"
done
# An absolute name is taken from the root, as GRUB asks for its config.
out=$(hpa /etc/passwd got.abs)
grep -q "Error code 1" <<<"$out" && ok "/etc/passwd is the root's etc/passwd: not found" ||
  not_ok "/etc/passwd: $out"
hpa /f513 got.abs513 >/dev/null; same f513 got.abs513 "an absolute name (/f513) is served from the root"
hpa nothere got.no | grep -q "Error code 1" && ok "missing file: error 1" || not_ok "missing file"
in_c python3 "$PROBE" 10.12.0.1 >"$T/probe.out"; cat "$T/probe.out"
fails=$((fails + $(grep -c '^not ok' "$T/probe.out")))
grep -q 'refused peer=10.12.0.99:[0-9]* file=..\/secret' "$T/agent.log.new" && ok "refusals are logged" ||
  not_ok "no refusal log line"

# 100 clients at once, half with windows. (Wait for them by PID: a bare
# `wait` would wait for the agent too.)
pids=()
for i in $(seq 1 100); do
  if [ $((i % 2)) = 0 ]; then atftp_get 1M "storm.$i" --option "blksize 1468" --option "windowsize 8" >/dev/null &
  else hpa 1M "storm.$i" >/dev/null & fi
  pids+=($!)
done
wait "${pids[@]}"
good=0; for i in $(seq 1 100); do cmp -s "$R/1M" "storm.$i" && good=$((good + 1)); done
[ "$good" = 100 ] && ok "100 clients at once: all 100 complete and correct" || not_ok "storm: $good of 100"

# 5 % of the server's packets and of the client's ACKs lost: retransmission.
# Dropped on the receiving side's input, as a network loses them silently (a
# drop on output would give the sender EPERM, which no wire does).
for ns in s c; do
  in_$ns nft add table inet loss
  in_$ns nft add chain inet loss in '{ type filter hook input priority 0; }'
done
in_c nft add rule inet loss in udp sport != 69 numgen random mod 20 0 drop
in_s nft add rule inet loss in udp dport != 69 numgen random mod 20 0 drop
hpa 64K got.loss >/dev/null; same 64K got.loss "tftp-hpa 64 KiB with 5 % loss each way"
# atftp 0.8's client answers a gap with one extra ACK and then ignores
# retransmissions until 5 s of silence; the server's last 8 s wait gives it
# that silence (tftp_io.c). Should its re-ACK be lost too, it aborts: like
# firmware, it gets three tries; the bytes must match on the one that ends.
for _ in 1 2 3; do
  atftp_get 1M got.loss2 --option "blksize 1468" --option "windowsize 16" >/dev/null &&
    cmp -s "$R/1M" got.loss2 && break
done
same 1M got.loss2 "atftp 1 MiB, windowsize 16, with 5 % loss each way"
in_s nft delete table inet loss
in_c nft delete table inet loss

# A client that goes away mid-transfer: the transfer is reaped.
# (Gone for good, its port answers ICMP unreachable, or silent: the timer.)
in_c python3 "$PROBE" 10.12.0.1 abandon
# (Wait for that reason itself: the lossy transfers above end with file=1M
# too. Retransmission backs off to 8 s, ~16 s in all: allow 30 s.)
reaped() {
  grep -Eq "transfer ended.*file=1M reason=\"(no acknowledgement: abandoned|client port unreachable)\"" \
    "$T/agent.log.new"
}
for _ in $(seq 1 300); do reaped && break; sleep 0.1; done
reaped && ok "an abandoned transfer is reaped" || not_ok "abandoned transfer not reaped"
finish
