#!/usr/bin/env bash
# The lab's failure cases, with real firmware (the reduced lab: r11-bios
# boots SeaBIOS + iPXE ROM, r12-uefi OVMF PXE), each ending in a checked
# outcome:
#   1. every coordinator killed during a reimage: the machines already
#      powered keep booting through their agents and install; once the
#      coordinators are back, every event arrives exactly once and the
#      operation completes;
#   2. the agent killed (kill -9) and restarted during a reimage, once
#      the power action is recorded: the operation completes, and the BMC
#      was powered once;
#   3. an installer that never calls back: that machine fails at the
#      operation's timeout, the other deploys.
# (A BMC that does not answer: lab_reduced.sh.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/labtest.sh"
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
  local s=$1; shift
  for _ in $(seq 1 $((s * 5))); do "$@" && return 0; sleep 0.2; done
  return 1
}
op_of() { grep -o '^op-[0-9]*' "$1" | head -1; }
called_back() { grep -q "callback machine=$2 state=done" "$T/lab/$1/agent.log"; }
count_in() { grep -c -- "$2" "$1" || true; }

"$LAB" up --reduced >"$T/up.log" 2>&1 && ok "the reduced lab is up" ||
  { not_ok "lab up"; tail -20 "$T/up.log"; finish; }

# --- 1. every coordinator killed during a reimage ---------------------------
lab reimage r11-bios r12-uefi --timeout 4m >"$T/op1" 2>&1
OP=$(op_of "$T/op1")
[ -n "$OP" ] && ok "reimage started ($OP)" || not_ok "reimage: $(cat "$T/op1")"
wait_for 60 sh -c "[ \"\$($LAB bmctl get machines | grep -c netbooting)\" = 2 ]" &&
  ok "both machines are netbooting" || not_ok "not netbooting: $(lab get machines)"
"$LAB" coords stop
ok "every coordinator killed"
wait_for 120 called_back rack11 r11-bios && wait_for 60 called_back rack12 r12-uefi &&
  ok "with no coordinator, both machines installed and called back their agents" ||
  not_ok "no callbacks while the coordinators were down"
"$LAB" coords start >/dev/null 2>&1 && ok "the coordinators are back" || not_ok "coordinators did not return"
timeout 120 "$LAB" bmctl op watch "$OP" >"$T/watch1" 2>&1
expect_in "$T/watch1" "2 of 2 deployed" "the operation completes once the events arrive"
for m in r11-bios r12-uefi; do
  lab trace "$m" >"$T/trace-$m" 2>&1
  [ "$(count_in "$T/trace-$m" "state=done")" = 1 ] && [ "$(count_in "$T/trace-$m" "installing -> deployed")" = 1 ] &&
    ok "$m: its done callback and its deployment, each exactly once" ||
    not_ok "$m: done x$(count_in "$T/trace-$m" "state=done"), deployed x$(count_in "$T/trace-$m" "installing -> deployed")"
done

# --- 2. the agent killed and restarted during a reimage ---------------------
before=$(count_in "$T/lab/rack11/bmc/r11-bios/bmc.log" "power on")
lab reimage r11-bios --timeout 4m >"$T/op2" 2>&1
OP=$(op_of "$T/op2")
# Kill it once its power action is recorded (the event reached the
# coordinator): a restart must not repeat it. (Killed between the BMC's
# action and that record, the agent repeats the action: at least once.)
powered() { "$LAB" bmctl trace r11-bios 2>/dev/null | grep -q "power .*ok seq=2"; }
wait_for 60 powered && ok "r11-bios powered on by its BMC, and that recorded" || not_ok "no power on"
"$LAB" agent rack11 stop
sleep 2
"$LAB" agent rack11 start
ok "rack11's agent killed with kill -9 and restarted"
timeout 180 "$LAB" bmctl op watch "$OP" >"$T/watch2" 2>&1
expect_in "$T/watch2" "1 of 1 deployed" "the operation completes across the agent's restart"
after=$(count_in "$T/lab/rack11/bmc/r11-bios/bmc.log" "power on")
[ "$((after - before))" = 1 ] && ok "the BMC was powered on once (not again after the restart)" ||
  not_ok "powered on $((after - before)) times"

# --- 3. an installer that never calls back -----------------------------------
sed 's/\(name: r11-bios, .*profile: \)lab,/\1lab-hang,/' "$T/lab/fleet.yaml" >"$T/hang.yaml"
grep -q "r11-bios.*lab-hang" "$T/hang.yaml" || not_ok "could not make the hang fleet"
lab apply -f "$T/hang.yaml" >/dev/null
lab reimage r11-bios r12-uefi --timeout 40s --wait >"$T/op3" 2>&1
rc=$?
[ "$rc" = 1 ] && ok "reimage --wait exits 1" || not_ok "exit $rc: $(cat "$T/op3")"
expect_in "$T/op3" "1 of 2 deployed" "the other machine still deploys"
expect_in "$T/op3" "r11-bios failed: no progress for 40s" "the silent installer fails at the timeout"
lab_down
ip netns list | grep -q '^bml-' && not_ok "lab down left namespaces" || ok "lab down removes every namespace"
finish
