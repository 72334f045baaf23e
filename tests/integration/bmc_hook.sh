#!/bin/sh
# ipmi_sim's chassis_control program for the reimage test: a BMC whose
# "machine" is a script. Called as: bmc_hook.sh DIR get|set|check KEY [VALUE]...
# DIR holds power (0/1), bootdev, and boot.sh, run (detached) at each power
# on or reset: the simulated machine booting.
DIR=$1; shift
op=$1; shift
log() { echo "$(date +%T.%N) $*" >>"$DIR/hook.log"; }
boot() { setsid sh "$DIR/boot.sh" </dev/null >>"$DIR/boot.log" 2>&1 & }
case $op in
get)
  log "get $*"
  for k in "$@"; do
    case $k in
    power) echo "power:$(cat "$DIR/power" 2>/dev/null || echo 0)" ;;
    boot) echo "boot:$(cat "$DIR/bootdev" 2>/dev/null || echo none)" ;;
    *) echo "$k:0" ;;
    esac
  done ;;
set)
  while [ $# -ge 2 ]; do
    k=$1 v=$2; shift 2
    log "set $k $v"
    case $k in
    power)
      was=$(cat "$DIR/power" 2>/dev/null || echo 0)
      echo "$v" >"$DIR/power"
      [ "$v" = 1 ] && [ "$was" = 0 ] && boot ;;
    reset) [ "$(cat "$DIR/power" 2>/dev/null)" = 1 ] || exit 1; boot ;;
    boot) echo "$v" >"$DIR/bootdev" ;;
    *) : ;;
    esac
  done ;;
check) : ;;
*) exit 1 ;;
esac
exit 0
