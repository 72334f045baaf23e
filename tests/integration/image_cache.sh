#!/usr/bin/env bash
# The agent's image cache, managed by a coordinator, with a throttled HTTP
# image source (range_server.py) beside it:
#   - a pushed image arrives from the coordinator's blob store, byte for byte;
#   - an image whose source serves other bytes is never served: the digest
#     mismatch is reported upstream and nothing lands in the cache;
#   - kill -9 in the middle of a download: the restart resumes it with a
#     Range request from where the partial file stood, and verifies it;
#   - an image url is http or https: file:// is refused at apply, and a
#     source redirecting to file:// is not followed (reported upstream);
#   - `bmctl get images` counts the agents holding each image;
#   - eviction under a budget takes the least recently used image no
#     profile names, never one the rack's profiles name.
#   - a peer of the site that serves other bytes for an image: the digest
#     fails, and the image comes from the coordinator, the peer not asked
#     again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"

netns_up 10.13.0.1/24 10.13.0.99/24
start_coord
SRC=$T/src C=$T/agent-data/cache
mkdir -p "$SRC" "$T/root"
MiB=$((1 << 20))
head -c $MiB /dev/urandom >"$T/pushed.bin"
head -c $((2 * MiB)) /dev/urandom >"$SRC/good.bin"
head -c $MiB /dev/urandom >"$T/bad-declared.bin"
head -c $MiB /dev/urandom >"$SRC/bad.bin" # what the source really serves
sha() { sha256sum "$1" | cut -d' ' -f1; }
PSHA=$(sha "$T/pushed.bin") GSHA=$(sha "$SRC/good.bin") BSHA=$(sha "$T/bad-declared.bin")

expect_exit 0 "image pushed to the coordinator" bmctl image push pushed "$T/pushed.bin"
LSHA=$(sha /etc/passwd) LSIZE=$(stat -c %s /etc/passwd)
fleet() { # fleet EXTRA_IMAGES P1_INITRD [URL_PREFIX_OF_LEAK]
  cat <<Y
sites: [{name: s}]
racks:
  - {name: r13, site: s, subnet: 10.13.0.0/24, gateway: 10.13.0.1}
  - {name: r14, site: s, subnet: 10.14.0.0/24, gateway: 10.14.0.1}
images:
  - {name: pushed, sha256: "$PSHA", size: $MiB}
  - {name: good, sha256: "$GSHA", size: $((2 * MiB)), url: "http://127.0.0.1:18080/good.bin"}
  - {name: bad, sha256: "$BSHA", size: $MiB, url: "http://127.0.0.1:18080/bad.bin"}
  - {name: leak, sha256: "$LSHA", size: $LSIZE, url: "${3:-}http://127.0.0.1:18080/redirect?to=file:///etc/passwd"}
$1
profiles:
  - {name: p1, kernel: pushed, initrd: $2}
  - {name: p2, kernel: bad, initrd: leak}
machines:
  - {name: m1, rack: r13, mac: "52:54:00:13:00:01", ip: 10.13.0.11, profile: p1}
  - {name: m2, rack: r13, mac: "52:54:00:13:00:02", ip: 10.13.0.12, profile: p2}
Y
}
fleet "" good "file:///etc/passwd#" >"$T/fleet.yaml"
expect_exit 1 "a fleet with a file:// image url is refused" bmctl apply -f "$T/fleet.yaml"
expect_in "$T/err" "url" "the refusal names the url"
fleet "" good >"$T/fleet.yaml"
expect_exit 0 "fleet applied" bmctl apply -f "$T/fleet.yaml"

in_s python3 "$HERE/range_server.py" "$SRC" 18080 "$T/src.log" $((512 << 10)) &
for _ in $(seq 1 100); do in_s curl -s -o /dev/null http://127.0.0.1:18080/none && break; sleep 0.1; done
conf() { # conf BUDGET_MIB
  cat <<Y
rack: r13
data_dir: $T/agent-data
interfaces: [$IF_S]
tftp_root: $T/root
coordinator: [$BMCTL_COORDINATOR]
$(agent_tls r13)
cache_budget_mib: $1
Y
}
conf 0 >"$T/agent.yaml"
start_agent "$T/agent.yaml"

# wait_file PATH [MIN_BYTES]: up to 30 s
wait_file() {
  for _ in $(seq 1 300); do
    [ -f "$1" ] && [ "$(stat -c %s "$1")" -ge "${2:-0}" ] && return 0
    sleep 0.1
  done
  return 1
}

# --- kill -9 in the middle of a download, then resume -----------------------
if wait_file "$C/partial/$GSHA" $((256 << 10)); then
  kill9_agent
  P=$(stat -c %s "$C/partial/$GSHA")
  ok "download of good under way ($P bytes) when the agent is killed"
  [ ! -e "$C/sha256/$GSHA" ] && ok "a partial download is not servable" || not_ok "partial file servable"
  start_agent "$T/agent.yaml"
  wait_file "$C/sha256/$GSHA" && ok "after the restart, good is verified and servable" ||
    not_ok "good never completed"
  grep -q "good.bin range=bytes=$P-" "$T/src.log" && ok "the restart resumed with Range: bytes=$P-" ||
    { not_ok "no resumed request from $P:"; sed 's/^/    /' "$T/src.log"; }
else
  not_ok "good's download never started"
fi
cmp -s "$C/sha256/$GSHA" "$SRC/good.bin" && ok "good's cached bytes equal the source" || not_ok "good differs"

# --- the coordinator's blob store -------------------------------------------
wait_file "$C/sha256/$PSHA" && cmp -s "$C/sha256/$PSHA" "$T/pushed.bin" &&
  ok "pushed arrives from the coordinator's blob store, byte for byte" || not_ok "pushed not cached"
code() { in_c curl -s -o /dev/null -w '%{http_code}' "http://10.13.0.1:8080$1"; }
[ "$(code "/images/$PSHA")" = 200 ] && ok "the agent serves pushed by digest" || not_ok "pushed not served"

# --- a source serving other bytes -------------------------------------------
for _ in $(seq 1 100); do grep -q "digest mismatch" "$T/agent.log.new" && break; sleep 0.1; done
grep -q "download failed image=bad err=\"digest mismatch" "$T/agent.log.new" &&
  ok "bad's digest mismatch is detected" || not_ok "no digest mismatch logged"
[ ! -e "$C/sha256/$BSHA" ] && [ ! -e "$C/partial/$BSHA" ] && ok "bad's bytes are neither kept nor servable" ||
  not_ok "bad's bytes kept"
[ "$(code "/images/$BSHA")" = 404 ] && ok "the agent answers 404 for bad" || not_ok "bad served"
for _ in $(seq 1 100); do
  bmctl trace 00:00:00:00:00:00 >"$T/trace" 2>&1
  grep -q "failed bad: digest mismatch" "$T/trace" && break
  sleep 0.1
done
expect_in "$T/trace" "failed bad: digest mismatch" "the mismatch is reported upstream"
for _ in $(seq 1 100); do
  bmctl -o json get images >"$T/images.json"
  python3 -c 'import json,sys; d={i["name"]: i["agents_cached"] for i in json.load(open(sys.argv[1]))}; sys.exit(0 if d == {"pushed": 1, "good": 1, "bad": 0, "leak": 0} else 1)' "$T/images.json" && break
  sleep 0.1
done
python3 -c 'import json,sys; d={i["name"]: i["agents_cached"] for i in json.load(open(sys.argv[1]))}; sys.exit(0 if d == {"pushed": 1, "good": 1, "bad": 0, "leak": 0} else 1)' "$T/images.json" &&
  ok "bmctl get images counts the agents holding each image" || not_ok "images: $(cat "$T/images.json")"

# --- a redirect to file:// ---------------------------------------------------
for _ in $(seq 1 100); do grep -q "image=leak" "$T/agent.log.new" && break; sleep 0.1; done
grep -q "download failed image=leak err=.*rotocol" "$T/agent.log.new" &&
  ok "a redirect to file:// is not followed" || not_ok "leak: $(grep leak "$T/agent.log.new")"
grep -q "redirect?to=file" "$T/src.log" && ok "(the source did answer with the redirect)" ||
  not_ok "the source never saw the leak's request"
[ ! -e "$C/sha256/$LSHA" ] && ok "nothing of /etc/passwd in the cache" || not_ok "/etc/passwd cached"

# --- eviction under a budget ----------------------------------------------
# Held: pushed (1 MiB, named by p1, and the oldest), old (1 MiB, named by
# nothing, older than good), good (2 MiB, named by nothing once p1 drops
# it). Budget 4 MiB, and a new image fresh (1 MiB) is wanted: old must go,
# pushed must stay.
kill9_agent
head -c $MiB /dev/urandom >"$T/old.bin"
OSHA=$(sha "$T/old.bin")
cp "$T/old.bin" "$C/sha256/$OSHA"
touch -d 2019-01-01 "$C/sha256/$PSHA"
touch -d 2020-01-01 "$C/sha256/$OSHA"
head -c $MiB /dev/urandom >"$T/fresh.bin"
FSHA=$(sha "$T/fresh.bin")
expect_exit 0 "fresh pushed" bmctl image push fresh "$T/fresh.bin"
# (without leak: its tiny want would make room by evicting good)
fleet "  - {name: fresh, sha256: \"$FSHA\", size: $MiB}" fresh |
  sed -e '/name: leak/d' -e 's/, initrd: leak//' >"$T/fleet.yaml"
expect_exit 0 "p1 now names pushed and fresh" bmctl apply -f "$T/fleet.yaml"
conf 4 >"$T/agent.yaml"
start_agent "$T/agent.yaml"
wait_file "$C/sha256/$FSHA" && ok "fresh fetched within the budget" || not_ok "fresh not fetched"
[ ! -e "$C/sha256/$OSHA" ] && ok "old (least recently used, named by nothing) evicted" || not_ok "old kept"
[ -e "$C/sha256/$PSHA" ] && ok "pushed (older still, but named by p1) never evicted" || not_ok "pushed evicted"
[ -e "$C/sha256/$GSHA" ] && ok "good (more recently used) kept" || not_ok "good evicted"

# --- a peer of the site serving other bytes -----------------------------------
# rack r14's agent (a registration) holds peered and serves its site at the
# source, which has other bytes under /images/SHA: the agent is sent there,
# finds the digest wrong, and takes the coordinator's bytes instead (the
# source serves /images/SHA from its folder's file SHA).
head -c $MiB /dev/urandom >"$T/peered.bin"
XSHA=$(sha "$T/peered.bin")
head -c $MiB /dev/urandom >"$SRC/$XSHA"
expect_exit 0 "peered pushed" bmctl image push peered "$T/peered.bin"
fleet "  - {name: fresh, sha256: \"$FSHA\", size: $MiB}
  - {name: peered, sha256: \"$XSHA\", size: $MiB}" fresh |
  sed -e '/name: leak/d' -e 's/, initrd: leak//' >"$T/fleet.yaml"
expect_exit 0 "peered declared" bmctl apply -f "$T/fleet.yaml"
agent_tls r14 >/dev/null
in_coord_ns "$BM_BIN/rpc_probe" "$BMCTL_COORDINATOR" "$PKI/ca.crt" "$PKI/agent-r14.crt" \
  "$PKI/agent-r14.key" register r14 http://127.0.0.1:18080 "$XSHA" >"$T/out"
expect_in "$T/out" "ok" "r14's agent registers, holding peered and serving its site"
expect_exit 0 "peered staged on r13" bmctl image stage peered rack/r13
wait_file "$C/sha256/$XSHA" && cmp -s "$C/sha256/$XSHA" "$T/peered.bin" &&
  ok "peered is cached with the coordinator's bytes" || not_ok "peered not cached right"
grep -q "/images/$XSHA" "$T/src.log" && ok "(the peer was asked first)" ||
  not_ok "the peer was never asked: $(grep peered "$T/agent.log.new")"
grep -q "download failed image=peered err=\"digest mismatch" "$T/agent.log.new" &&
  ok "the peer's bytes failed the digest" || not_ok "no mismatch: $(grep peered "$T/agent.log.new")"
[ "$(grep -c "/images/$XSHA" "$T/src.log")" = 1 ] && ok "and the peer was not asked again" ||
  not_ok "the peer was asked $(grep -c "/images/$XSHA" "$T/src.log") times"
[ -n "${BM_IT_DEBUG:-}" ] && cp -r "$T" "$BM_IT_DEBUG"
finish
