# Shared by the integration scripts: a temporary folder, a fleet CA, a
# coordinator on TLS started and stopped in it, and assertions. Everything
# runs on loopback (or in the test's namespaces), and is removed on exit.
set -u
: "${BM_BIN:?BM_BIN must point at build/bin}"
: "${BM_SRC:?BM_SRC must point at the source tree}"

# HERE: the integration scripts' folder, absolute (tests cd into $T).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d /tmp/bm-it.XXXXXX)
COORD_PID=
fails=0

cleanup() {
  [ -n "$COORD_PID" ] && kill -9 "$COORD_PID" 2>/dev/null
  jobs -p | xargs -r kill -9 2>/dev/null
  wait 2>/dev/null
  # BM_IT_DEBUG=DIR keeps the test's folder (logs, stores) for a post-mortem.
  [ -n "${BM_IT_DEBUG:-}" ] && mkdir -p "$BM_IT_DEBUG" && cp -r "$T" "$BM_IT_DEBUG/" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

# Ports of this test: 40 from PORT_BASE, apart from other tests' (by PID)
# and below the kernel's ephemeral range.
PORT_BASE=$((20000 + ($$ % 250) * 40))
# COORD_NS: the namespace the coordinator runs in (netns.sh sets it, so
# that agents there reach it on 127.0.0.1); bmctl runs there too.
COORD_NS=
in_coord_ns() { if [ -n "$COORD_NS" ]; then ip netns exec "$COORD_NS" "$@"; else "$@"; fi; }
bmctl() { in_coord_ns "$BM_BIN/bmctl" "$@"; }

# The test's fleet CA (bmctl pki) in $PKI: coordinators c1..c5 naming
# 127.0.0.1 (and $PKI_ADDRESSES), and an admin, whose certificate bmctl
# uses. Every daemon of the suite runs on TLS with it.
PKI=$T/pki
pki_init() {
  "$BM_BIN/bmctl" pki init "$PKI" >/dev/null || { echo "FATAL: bmctl pki init"; exit 1; }
  for i in 1 2 3 4 5; do
    "$BM_BIN/bmctl" pki issue "$PKI" coordinator "c$i" \
      --address "127.0.0.1${PKI_ADDRESSES:+,$PKI_ADDRESSES}" >/dev/null
  done
  "$BM_BIN/bmctl" pki issue "$PKI" operator admin --role admin >/dev/null
  export BMCTL_CA=$PKI/ca.crt BMCTL_CERT=$PKI/admin.crt BMCTL_KEY=$PKI/admin.key
}
# coord_tls N: bmcoord's TLS options, with coordinator N's certificate
# (issued on first use past c5).
coord_tls() {
  [ -e "$PKI/c$1.crt" ] || "$BM_BIN/bmctl" pki issue "$PKI" coordinator "c$1" \
    --address "127.0.0.1${PKI_ADDRESSES:+,$PKI_ADDRESSES}" >/dev/null
  echo "--tls-ca $PKI/ca.crt --tls-cert $PKI/c$1.crt --tls-key $PKI/c$1.key --tls-crl $PKI/crl.pem --secrets-key $PKI/secrets.key"
}
# agent_tls RACK: the tls: line of an agent config of RACK (its certificate
# issued on first use).
agent_tls() {
  [ -e "$PKI/agent-$1.crt" ] ||
    "$BM_BIN/bmctl" pki issue "$PKI" agent "agent-$1" --rack "$1" >/dev/null
  echo "tls: {ca: $PKI/ca.crt, cert: $PKI/agent-$1.crt, key: $PKI/agent-$1.key}"
}
pki_init
export BMCTL_COORDINATOR="tls+tcp://127.0.0.1:$PORT_BASE"

# start_coord [extra args]: start bmcoord on $BMCTL_COORDINATOR (TLS, as c1)
# with data in $T/data, and wait until it answers.
start_coord() {
  local ns=()
  [ -n "$COORD_NS" ] && ns=(ip netns exec "$COORD_NS") # execs: $! is bmcoord's PID
  # shellcheck disable=SC2046 # the options are words
  "${ns[@]}" "$BM_BIN/bmcoord" --data-dir "$T/data" --listen "$BMCTL_COORDINATOR" \
    $(coord_tls 1) "$@" 2>>"$T/coord.log" &
  COORD_PID=$!
  for _ in $(seq 1 100); do
    bmctl --timeout 0.5 status >/dev/null 2>&1 && return 0
    kill -0 "$COORD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "FATAL: bmcoord did not come up"; cat "$T/coord.log"; exit 1
}

kill9_coord() { kill -9 "$COORD_PID"; wait "$COORD_PID" 2>/dev/null; COORD_PID=; }

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }

# expect_exit CODE DESC CMD...: run CMD, compare its exit status.
expect_exit() {
  local want=$1 desc=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; local got=$?
  if [ "$got" = "$want" ]; then ok "$desc"; else
    not_ok "$desc (exit $got, wanted $want)"; sed 's/^/    /' "$T/out" "$T/err"; fi
}

# expect_in FILE TEXT DESC: FILE contains TEXT.
expect_in() {
  if grep -qF -- "$2" "$1"; then ok "$3"; else
    not_ok "$3: no \"$2\" in"; sed 's/^/    /' "$1"; fi
}

# expect_golden NAME: $T/out equals tests/golden/NAME (BM_UPDATE_GOLDEN=1 rewrites it).
expect_golden() {
  local g="$BM_SRC/tests/golden/$1"
  if [ "${BM_UPDATE_GOLDEN:-0}" = 1 ]; then cp "$T/out" "$g"; ok "golden $1 (updated)"; return; fi
  if diff -u "$g" "$T/out" >"$T/diff"; then ok "golden $1"; else
    not_ok "golden $1 differs"; sed 's/^/    /' "$T/diff"; fi
}

# The daemons run under the sanitizers in the test build: a report in any
# of their logs fails the test, whatever else passed.
sanitizer_reports() {
  grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log* "$T"/*/*.log* \
    2>/dev/null | while read -r f; do
    not_ok "sanitizer report in $(basename "$f")"
    grep -m1 -A12 -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$f" | sed 's/^/    /'
  done
}

finish() {
  # Not `tee /dev/stderr`: opening it anew truncates a log file stderr is.
  local rep
  rep=$(sanitizer_reports)
  [ -n "$rep" ] && printf '%s\n' "$rep" >&2
  fails=$((fails + $(printf '%s\n' "$rep" | grep -c '^not ok')))
  if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
  echo "all checks passed"; exit 0
}
