#!/usr/bin/env bash
# bmctl against a coordinator that answers OK with bodies of the wrong
# shape (tests/tools/odd_coord): without the result asked for, every
# command refuses the answer with exit 1 and says why; a command about one
# operation refuses an answer naming none or two; none crashes (the test
# build runs bmctl under ASan and UBSan, whose reports end it otherwise).
# And a TLS listener that takes the connection but never speaks: bmctl
# gives up at its --timeout.
. "$(dirname "$0")/lib.sh"

# Commands that read a result, each as one line of arguments.
COMMANDS=(
  "get machines" "get machine r1" "describe machine r1" "status" "agents"
  "trace r1" "op get" "op get op-1" "op watch op-1" "op cancel op-1"
  "reimage rack1" "reimage rack1 --wait" "cluster status"
)

for mode in nobody other hollow twoops; do
  url="ipc://$T/odd-$mode.sock"
  "$BM_BIN/odd_coord" "$url" "$mode" 2>>"$T/odd.log" &
  pid=$!
  for c in "${COMMANDS[@]}"; do
    # shellcheck disable=SC2086 # one line of arguments
    "$BM_BIN/bmctl" --coordinator "$url" --timeout 5 $c >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ge 3 ] || grep -qE "Sanitizer|runtime error" "$T/err"; then
      not_ok "$mode: bmctl $c crashed (exit $rc)"; sed 's/^/    /' "$T/err" | head -20
    elif [ "$rc" = 1 ] && grep -q "not what was asked for" "$T/err"; then
      ok "$mode: bmctl $c refuses the answer"
    elif [ "$rc" = 0 ] && [[ "$mode" = hollow || "$mode" = twoops ]] &&
         [[ "$c" != "op "*op-1 && "$c" != reimage* ]]; then
      ok "$mode: bmctl $c prints what it was given"   # empty lists and objects are answers
    else
      not_ok "$mode: bmctl $c (exit $rc)"; sed 's/^/    /' "$T/out" "$T/err" | head -10
    fi
  done
  kill "$pid"; wait "$pid" 2>/dev/null
done

# A socket listening that never accepts: the kernel completes the TCP
# handshake, nobody answers the ClientHello (nng 1.5's own dial would wait
# for ever).
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(60)' "$PORT_BASE" &
pid=$!
for _ in $(seq 1 50); do ss -ltnH "sport = :$PORT_BASE" | grep -q . && break; sleep 0.1; done
timeout 30 "$BM_BIN/bmctl" --coordinator "tls+tcp://127.0.0.1:$PORT_BASE" --timeout 2 status \
  >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" = 1 ] && grep -q "no answer" "$T/err"; then ok "a listener that never speaks: bmctl gives up at its --timeout"
else not_ok "a listener that never speaks: exit $rc (124: still waiting after 30 s)"; sed 's/^/    /' "$T/err"; fi
kill "$pid"; wait "$pid" 2>/dev/null
finish
