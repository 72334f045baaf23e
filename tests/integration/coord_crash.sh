#!/usr/bin/env bash
# No acknowledged write lost: writers add machines continuously while the
# coordinator is killed with SIGKILL at random moments; after each restart,
# every machine whose add was acknowledged (bmctl exit 0) is there, once.
. "$(dirname "$0")/lib.sh"
WRITERS=6
ROUNDS=3

start_coord
cat >"$T/base.yaml" <<'Y'
sites: [{name: s1}]
racks: [{name: r1, site: s1, subnet: 10.0.0.0/16}]
Y
expect_exit 0 "base fleet" bmctl apply -f "$T/base.yaml"

# writer W ROUND: add machines until told to stop; log each acknowledged one.
writer() {
  local w=$1 round=$2 i=0
  while [ ! -e "$T/stop.$round" ]; do
    i=$((i + 1))
    local name="m-$round-$w-$i" mac
    mac=$(printf '52:54:%02x:%02x:%02x:%02x' "$round" "$w" $((i / 256)) $((i % 256)))
    if bmctl --timeout 2 machine add "$name" --rack r1 --mac "$mac" >/dev/null 2>&1; then
      echo "$name" >>"$T/acked.$w"
    else
      echo "$name" >>"$T/unacked.$w"
    fi
  done
}

for round in $(seq 1 "$ROUNDS"); do
  for w in $(seq 1 "$WRITERS"); do writer "$w" "$round" & done
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 1.0 + (r % 150) / 100 }')"
  kill9_coord
  sleep 0.3
  start_coord
  sleep 0.5
  touch "$T/stop.$round"
  wait $(jobs -p | grep -v "^$COORD_PID\$") 2>/dev/null
done

bmctl get machines -o json >"$T/all.json" || not_ok "list after the last restart"
grep -o '"name": "m-[^"]*"' "$T/all.json" | cut -d'"' -f4 | sort >"$T/present"
cat "$T"/acked.* | sort >"$T/acked"
acked=$(wc -l <"$T/acked"); present=$(wc -l <"$T/present")
missing=$(comm -23 "$T/acked" "$T/present" | wc -l)
dups=$(uniq -d "$T/present" | wc -l)
unacked_present=$(cat "$T"/unacked.* 2>/dev/null | sort | comm -12 - "$T/present" | wc -l)
echo "# acknowledged=$acked present=$present missing=$missing duplicated=$dups" \
  "unacknowledged-but-applied=$unacked_present kills=$ROUNDS"
[ "$acked" -gt 50 ] && ok "writers made progress ($acked acknowledged)" || not_ok "only $acked writes acknowledged"
[ "$missing" = 0 ] && ok "every acknowledged machine is present" || not_ok "$missing acknowledged machines lost"
[ "$dups" = 0 ] && ok "no machine twice" || not_ok "$dups duplicated"
finish
