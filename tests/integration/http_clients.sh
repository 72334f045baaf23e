#!/usr/bin/env bash
# bmagent's HTTP with curl and raw sockets in network namespaces: per-machine
# iPXE scripts (netboot, local disk, unknown MAC -> 404, no discovery),
# installer seeds, images by digest and by name with keep-alive, Range, HEAD
# and If-None-Match, boot programs for UEFI HTTP boot, callbacks with right
# and wrong tokens (recorded before the answer, kept across kill -9), the
# per-boot token (kept across a restart, revoked by failed, a new one for
# the next boot), a machine's script, seeds and callbacks refused to any
# other address (403, logged), HTTP on the rack interface only, /metrics
# apart on 127.0.0.1, and every limit (http_probe.py).
# The client namespace holds 10.12.0.99 (no machine), 10.12.0.13 (n3's
# reservation) and 10.12.0.11 (n1's).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
PROBE="$HERE/http_probe.py"

netns_up 10.12.0.1/24 10.12.0.99/24
R=$T/root
C=$T/agent-data/cache/sha256
mkdir -p "$R" "$C"
head -c 300000 /dev/urandom >"$T/kernel"
head -c $((5 << 20)) /dev/urandom >"$T/initrd"
head -c 70000 /dev/urandom >"$R/ipxe.efi"
KSHA=$(sha256sum "$T/kernel" | cut -d' ' -f1)
ISHA=$(sha256sum "$T/initrd" | cut -d' ' -f1)
cp "$T/kernel" "$C/$KSHA"
cp "$T/initrd" "$C/$ISHA"

cat >"$T/fleet.yaml" <<Y
sites: [{name: fra1}]
racks:
  - {name: rack12, site: fra1, subnet: 10.12.0.0/24, gateway: 10.12.0.1, dns: [10.12.0.1, 10.12.0.2]}
images:
  - {name: k, sha256: "$KSHA", size: 300000}
  - {name: i, sha256: "$ISHA", size: $((5 << 20))}
profiles:
  - name: inst
    kernel: k
    initrd: i
    cmdline: "console=ttyS0 ds=nocloud-net;s={{seed_url}} bm.callback={{callback_url}} bm.token={{token}} role={{labels.role}}"
    templates:
      user-data: |
        #cloud-config
        hostname: {{hostname}}
        phone_home: {url: "{{callback_url}}?state=done&token={{token}}"}
      ks.cfg: |
        network --bootproto=static --ip={{ip}} --netmask={{netmask}} --gateway={{gateway}} --nameserver={{dns}} --hostname={{hostname}}
        %post
        curl -fsS "{{callback_url}}?token={{token}}&state=done"
        %end
machines:
  - {name: n1, rack: rack12, mac: "52:54:00:12:00:01", ip: 10.12.0.11, profile: inst}
  - {name: n3, rack: rack12, mac: "52:54:00:12:00:03", ip: 10.12.0.13, profile: inst,
     labels: {role: gpu}, netboot: true}
Y
standalone_conf "$T/fleet.yaml" "$R" "http_max_connections: 6" "http_header_timeout: 1" \
  "http_idle_timeout: 2"
ip -n "$NS_C" addr add 10.12.0.13/24 dev "$IF_C"
ip -n "$NS_C" addr add 10.12.0.11/24 dev "$IF_C"
start_agent "$T/agent.yaml"
cd "$T"
U=http://10.12.0.1:8080
get() { in_c curl -sS "$@"; }                          # from 10.12.0.99
code() { in_c curl -s -o /dev/null -w '%{http_code}' "$@"; }
get13() { in_c curl -sS --interface 10.12.0.13 "$@"; } # as n3
code13() { in_c curl -s -o /dev/null -w '%{http_code}' --interface 10.12.0.13 "$@"; }
get11() { in_c curl -sS --interface 10.12.0.11 "$@"; } # as n1
code11() { in_c curl -s -o /dev/null -w '%{http_code}' --interface 10.12.0.11 "$@"; }

# ---------------------------------------------------------------- scripts
get13 "$U/boot/52:54:00:12:00:03.ipxe" >script.n3
TOKEN=$(sed -n 's/.*bm.token=\([0-9a-f]*\).*/\1/p' script.n3)
[ ${#TOKEN} = 32 ] && ok "the script carries a 128-bit token" || not_ok "token: '$TOKEN'"
sed -e "s/$TOKEN/TOKEN/g" -e "s/$KSHA/KSHA/g" -e "s/$ISHA/ISHA/g" script.n3 >out
expect_golden http-script-netboot.ipxe
get13 "$U/boot/52-54-00-12-00-03.ipxe" | cmp -s - script.n3 && ok "MAC with hyphens: same script" ||
  not_ok "hyphen MAC"
get11 "$U/boot/52:54:00:12:00:01.ipxe" >out
expect_golden http-script-localdisk.ipxe
[ "$(code "$U/boot/52:54:00:12:00:03.ipxe")" = 403 ] && ok "n3's script asked by 10.12.0.99: 403" ||
  not_ok "n3's script served to another address"
grep -q 'script refused machine=n3 peer=10.12.0.99 reason="not the machine.s reserved address"' \
  "$T/agent.log.new" && ok "the refused script is logged" || not_ok "no log of the refused script"
[ "$(code11 "$U/boot/52:54:00:12:00:03.ipxe")" = 403 ] && ok "n3's script asked by n1: 403" ||
  not_ok "n3's script served to n1"
before=$(entries outbox)
[ "$(code "$U/boot/52:54:00:12:00:99.ipxe")" = 404 ] && ok "unknown MAC: 404" || not_ok "unknown MAC"
code "$U/boot/52:54:00:12:00:98.ipxe" >/dev/null
[ "$(entries discovered)" = 0 ] && [ "$(entries outbox)" = "$before" ] &&
  ok "unknown MACs in URLs discover nothing (DHCP does)" ||
  not_ok "discovery: discovered=$(entries discovered) outbox=$(entries outbox) before=$before"
grep -q 'unknown machine mac=52:54:00:12:00:99' "$T/agent.log.new" && ok "unknown MAC logged" ||
  not_ok "no log line for the unknown MAC"
[ "$(code "$U/boot/zz:54:00:12:00:99.ipxe")" = 400 ] && ok "not a MAC: 400" || not_ok "bad MAC"

# ------------------------------------------------------------------ seeds
get13 "$U/seed/52:54:00:12:00:03/user-data" | sed "s/$TOKEN/TOKEN/g" >out
expect_golden http-seed-user-data
get13 "$U/seed/52:54:00:12:00:03/ks.cfg" | sed "s/$TOKEN/TOKEN/g" >out
expect_golden http-seed-ks.cfg
get13 "$U/seed/52:54:00:12:00:03/meta-data" >out
expect_golden http-seed-meta-data
[ "$(code13 "$U/seed/52:54:00:12:00:03/vendor-data")" = 200 ] &&
  [ -z "$(get13 "$U/seed/52:54:00:12:00:03/vendor-data")" ] && ok "vendor-data: empty 200" ||
  not_ok "vendor-data"
[ "$(code13 "$U/seed/52:54:00:12:00:03/preseed.cfg")" = 404 ] && ok "a seed the profile lacks: 404" ||
  not_ok "missing seed"
[ "$(code "$U/seed/52:54:00:12:00:03/user-data")" = 403 ] && ok "n3's seed asked by 10.12.0.99: 403" ||
  not_ok "n3's seed served to another address"
[ "$(code11 "$U/seed/52:54:00:12:00:01/user-data")" = 403 ] &&
  ok "n1's seed while n1 is not netbooting: 403" || not_ok "seed of a machine not netbooting"

# ----------------------------------------------------------------- images
get "$U/images/$KSHA" -o got.k -w '%{num_connects} ' "$U/images/by-name/i" -o got.i >conns
cmp -s got.k kernel && cmp -s got.i initrd && ok "images by digest and by name: bytes match" ||
  not_ok "image bytes differ"
[ "$(cat conns)" = "1 0 " ] && ok "keep-alive: the second fetch reuses the connection" ||
  not_ok "keep-alive: connects per fetch '$(cat conns)'"
in_c curl -sSI "$U/images/$ISHA" | tr -d '\r' >head.i
expect_in head.i "HTTP/1.1 200 OK" "HEAD: 200"
expect_in head.i "Content-Length: $((5 << 20))" "HEAD: the image's length"
expect_in head.i "ETag: \"$ISHA\"" "HEAD: ETag is the sha256"
expect_in head.i "Accept-Ranges: bytes" "HEAD: Accept-Ranges"
grep -q '^Last-Modified: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] 20[0-9][0-9] ..:..:.. GMT$' head.i &&
  ok "HEAD: Last-Modified in IMF-fixdate" || not_ok "Last-Modified"
get -r 1000-1999 -D hdr.r "$U/images/$ISHA" -o got.r
tr -d '\r' <hdr.r >hdr.r2
expect_in hdr.r2 "HTTP/1.1 206 Partial Content" "Range: 206"
expect_in hdr.r2 "Content-Range: bytes 1000-1999/$((5 << 20))" "Range: Content-Range"
tail -c +1001 initrd | head -c 1000 | cmp -s - got.r && ok "Range: the right 1000 bytes" ||
  not_ok "Range bytes"
get -r -500 "$U/images/$ISHA" | cmp -s - <(tail -c 500 initrd) && ok "suffix Range: last 500 bytes" ||
  not_ok "suffix range"
[ "$(code -r 99999999- "$U/images/$ISHA")" = 416 ] && ok "Range past the end: 416" || not_ok "416"
[ "$(code -H "If-None-Match: \"$ISHA\"" "$U/images/$ISHA")" = 304 ] && ok "If-None-Match: 304" ||
  not_ok "304"
[ "$(code "$U/images/by-name/nope")" = 404 ] && ok "unknown image name: 404" || not_ok "image name"
[ "$(code "$U/images/0000000000000000000000000000000000000000000000000000000000000000")" = 404 ] &&
  ok "digest not in the cache: 404" || not_ok "uncached digest"
get "$U/boot/ipxe.efi" | cmp -s - "$R/ipxe.efi" && ok "boot program over HTTP (UEFI HTTP boot)" ||
  not_ok "boot file"
[ "$(in_c curl -s -o /dev/null -w '%{http_code}' --path-as-is "$U/boot/../../../etc/passwd")" = 400 ] &&
  ok "curl --path-as-is traversal: 400" || not_ok "traversal through curl"

# -------------------------------------------------------------- callbacks
before=$(entries outbox)
[ "$(code13 "$U/callback/52:54:00:12:00:03?state=installing&token=$TOKEN")" = 200 ] &&
  ok "GET callback with the right token: 200" || not_ok "GET callback"
[ "$(code "$U/callback/52:54:00:12:00:03?state=done&token=$TOKEN")" = 403 ] &&
  ok "the right token from another address: 403" || not_ok "callback from another address"
grep -q 'callback refused machine=n3 peer=10.12.0.99' "$T/agent.log.new" &&
  ok "the callback from another address is logged" || not_ok "no log of it"
kill9_agent
start_agent "$T/agent.yaml"
[ "$(get13 "$U/boot/52:54:00:12:00:03.ipxe" | sed -n 's/.*bm.token=\([0-9a-f]*\).*/\1/p')" = "$TOKEN" ] &&
  ok "a live token survives kill -9 and a restart" || not_ok "token changed across restart"
grep -q "$TOKEN" "$T/agent.log" "$T/agent.log.new" && not_ok "the token appears in the log" ||
  ok "the token never appears in the log"
[ "$(code13 "$U/callback/52:54:00:12:00:03?state=done&token=0123456789abcdef0123456789abcdef")" = 403 ] &&
  ok "wrong token: 403" || not_ok "wrong token"
[ "$(code13 "$U/callback/52:54:00:12:00:03?state=done")" = 403 ] && ok "no token: 403" || not_ok "no token"
[ "$(code11 "$U/callback/52:54:00:12:00:01?state=done&token=$TOKEN")" = 403 ] &&
  ok "another machine's token: 403" || not_ok "token of another machine"
[ "$(code13 "$U/callback/52:54:00:12:00:03?state=rebooted&token=$TOKEN")" = 400 ] &&
  ok "unknown state: 400" || not_ok "bad state"
[ "$(entries outbox)" = $((before + 1)) ] && ok "refused callbacks change nothing" ||
  not_ok "outbox after refused callbacks: $(entries outbox), wanted $((before + 1))"
grep -q 'callback refused machine=n3 peer=10.12.0.13 reason="wrong or old token"' "$T/agent.log.new" &&
  ok "wrong token logged" || not_ok "no log of the wrong token"
[ "$(in_c curl -s -o /dev/null -w '%{http_code}' --interface 10.12.0.13 -X POST -d "mac=52:54:00:12:00:03&token=$TOKEN&state=failed&reason=disk+sda+missing" "$U/callback")" = 200 ] &&
  ok "POST callback (form) with the right token: 200" || not_ok "POST callback"
kill9_agent
[ "$(entries outbox)" = $((before + 2)) ] && ok "both callbacks in the outbox, kept across kill -9" ||
  not_ok "outbox after callbacks: $(entries outbox), wanted $((before + 2))"
mdb_dump -p -s outbox "$T/agent-data/rackdb" >dump
expect_in dump "state=failed reason=disk sda missing" "the failure's reason is recorded"
grep -q "$TOKEN" dump && not_ok "the token is in the outbox" || ok "the token is not in the outbox"
mdb_dump -p -s tokens "$T/agent-data/rackdb" >dump.t
[ -s dump.t ] && ! grep -q "$TOKEN" dump.t && ok "tokens are kept sealed (not in clear in the rackdb)" ||
  not_ok "tokens table: $(head -c 300 dump.t)"
start_agent "$T/agent.yaml"
[ "$(code13 "$U/callback/52:54:00:12:00:03?state=done&token=$TOKEN")" = 403 ] &&
  ok "after failed, the old token: 403" || not_ok "old token accepted after failed"
TOKEN2=$(get13 "$U/boot/52:54:00:12:00:03.ipxe" | sed -n 's/.*bm.token=\([0-9a-f]*\).*/\1/p')
[ ${#TOKEN2} = 32 ] && [ "$TOKEN2" != "$TOKEN" ] && ok "the next boot gets a new token" ||
  not_ok "next boot's token: '$TOKEN2'"
[ "$(code13 "$U/callback/52:54:00:12:00:03?state=started&token=$TOKEN2")" = 200 ] &&
  ok "the new token works" || not_ok "new token refused"

# --------------------------------------------- where HTTP and /metrics listen
# A management network beside the rack's: a host there routes to the rack's
# subnet through the agent's host, and must not reach the boot HTTP.
NS_M=bm$$m
NS_EXTRA=$NS_M
ip netns add "$NS_M"
ip link add bm$$mv netns "$NS_S" type veth peer name bm$$mc netns "$NS_M"
ip -n "$NS_S" addr add 10.98.0.1/24 dev bm$$mv && ip -n "$NS_S" link set bm$$mv up
ip -n "$NS_M" addr add 10.98.0.2/24 dev bm$$mc && ip -n "$NS_M" link set bm$$mc up
ip -n "$NS_M" route add 10.12.0.0/24 via 10.98.0.1
# curl's exit 7 is a refused connection: the SYN reached the agent's host
# (a missing route would time out, 28) and no listener took it.
ip netns exec "$NS_M" curl -s -o /dev/null --max-time 3 "$U/boot/ipxe.efi"
[ $? = 7 ] && ok "HTTP on the rack interface only: a management host reaching 10.12.0.1 is refused" ||
  not_ok "HTTP from the management network: not refused"
[ "$(code "$U/metrics")" = 404 ] && ok "no /metrics on the boot network" || not_ok "/metrics on the rack LAN"

# ---------------------------------------------------------------- metrics
in_s curl -sS http://127.0.0.1:9180/metrics >metrics
expect_in metrics 'bm_http_requests_total{code="4xx"}' "metrics: HTTP requests by class"
grep -q '^bm_callbacks_refused_total [1-9]' metrics && ok "metrics: refused callbacks counted" ||
  not_ok "callbacks_refused"
grep -q '^bm_http_machine_refused_total [1-9]' metrics && ok "metrics: 403s to other addresses counted" ||
  not_ok "bm_http_machine_refused_total"
expect_in metrics 'bm_dhcp_packets_received_total{type="discover"} 0' "metrics: DHCP by type"
expect_in metrics 'bm_tftp_requests_total 0' "metrics: TFTP"

# ------------------------------------------------------------- the limits
in_c python3 "$PROBE" 10.12.0.1 8080 6 1 2 10.12.0.11 >probe.out
cat probe.out
fails=$((fails + $(grep -c '^not ok' probe.out)))
grep -q 'refused peer=10.12.0.11:[0-9]* status=414' "$T/agent.log.new" && ok "refusals are logged" ||
  not_ok "no refusal log line"
grep -q 'connection refused peer=10.12.0.11' "$T/agent.log.new" && ok "the connection cap is logged" ||
  not_ok "no log line at the cap"
kill -0 "$AGENT_PID" && ok "the agent is still up" || not_ok "the agent died"
finish
