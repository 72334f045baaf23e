# Shared by the integration scripts: a temporary folder, a coordinator
# started and stopped in it, and assertions. Everything runs on loopback or
# on ipc:// sockets inside the folder, and is removed on exit.
set -u
: "${BM_BIN:?BM_BIN must point at build/bin}"
: "${BM_SRC:?BM_SRC must point at the source tree}"

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

export BMCTL_COORDINATOR="ipc://$T/coord.sock"
bmctl() { "$BM_BIN/bmctl" "$@"; }

# start_coord [extra args]: start bmcoord on $BMCTL_COORDINATOR with data in
# $T/data, and wait until it answers.
start_coord() {
  "$BM_BIN/bmcoord" --data-dir "$T/data" --listen "$BMCTL_COORDINATOR" "$@" \
    2>>"$T/coord.log" &
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
  fails=$((fails + $(sanitizer_reports | tee /dev/stderr | grep -c '^not ok')))
  if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
  echo "all checks passed"; exit 0
}
