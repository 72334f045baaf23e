# Sourced by the lab tests (after lib.sh): the reduced QEMU lab in the
# test's folder, its daemons' logs kept where finish() checks them for
# sanitizer reports, and `lab down` whatever happens.
LAB=$BM_SRC/deploy/lab/lab.sh
export BMLAB_RUN=$T/lab BMLAB_REBUILD=0
chmod 711 "$T" # the lab's agents run as their own user, below it
command -v qemu-system-x86_64 >/dev/null || { echo "skip: no QEMU"; exit 77; }
lab_down() {
  for f in "$T"/lab/coord/n*.log; do [ -f "$f" ] && cp "$f" "$T/coord-$(basename "$f")"; done
  for r in rack11 rack12; do [ -f "$T/lab/$r/agent.log" ] && cp "$T/lab/$r/agent.log" "$T/$r-agent.log"; done
  "$LAB" down >/dev/null 2>&1
}
trap 'lab_down; cleanup' EXIT
lab() { "$LAB" bmctl "$@"; }
