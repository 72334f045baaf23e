#!/usr/bin/env bash
# Least privilege. bmagent opens its sockets as root, then runs as its
# `user:` with CAP_NET_ADMIN alone (permitted, effective, bounding; nothing
# inheritable or ambient; no_new_privs), and still serves: a DHCP lease
# (unicast to a client without an address: the neighbour entry needs
# CAP_NET_ADMIN), a TFTP transfer, an HTTP fetch, its leases stored in a
# data dir it now owns. Without a user it says it runs as root. bmcoord
# needs no privilege at all: it runs as a plain user and answers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/netns.sh"
U=bmt$$
useradd --system --no-create-home --shell /usr/sbin/nologin "$U" || { echo "FATAL: useradd"; exit 1; }
trap 'userdel "$U" 2>/dev/null; netns_cleanup' EXIT
chmod 755 "$T" # the agent's user reads its fleet and tftp_root below

netns_up 10.12.0.1/24
R=$T/root
mkdir -p "$R"
head -c 100000 /dev/urandom >"$R/ipxe.efi"
chmod -R a+rX "$R"
cat >"$T/fleet.yaml" <<Y
sites: [{name: s}]
racks: [{name: rack12, site: s, subnet: 10.12.0.0/24, gateway: 10.12.0.1, pool: 10.12.0.100-10.12.0.150}]
images: []
profiles: []
machines: []
Y
chmod 644 "$T/fleet.yaml"
standalone_conf "$T/fleet.yaml" "$R" "user: $U"
start_agent "$T/agent.yaml"
st=/proc/$AGENT_PID/status
field() { awk -v k="$1:" '$1 == k {print $2}' "$st"; }
uid=$(id -u "$U")
[ "$(awk '$1 == "Uid:" {print $2 $3 $4 $5}' "$st")" = "$uid$uid$uid$uid" ] &&
  ok "after start the agent runs as $U (uid $uid: real, effective, saved, fs)" ||
  not_ok "Uid: $(grep Uid "$st")"
[ "$(awk '$1 == "Gid:" {print $2}' "$st")" = "$(id -g "$U")" ] && [ "$(field Groups)" = "$(id -g "$U")" ] &&
  ok "its group, and no other" || not_ok "Gid/Groups: $(grep -E 'Gid|Groups' "$st")"
[ "$(field CapEff)" = 0000000000001000 ] && [ "$(field CapPrm)" = 0000000000001000 ] &&
  [ "$(field CapBnd)" = 0000000000001000 ] && ok "capabilities: CAP_NET_ADMIN alone (effective, permitted, bounding)" ||
  not_ok "capabilities: $(grep Cap "$st" | tr '\n' ' ')"
[ "$(field CapInh)" = 0000000000000000 ] && [ "$(field CapAmb)" = 0000000000000000 ] &&
  [ "$(field NoNewPrivs)" = 1 ] && ok "nothing inheritable or ambient, no_new_privs" ||
  not_ok "$(grep -E 'CapInh|CapAmb|NoNewPrivs' "$st" | tr '\n' ' ')"
for p in /proc/$AGENT_PID/task/*/status; do
  [ "$(awk '$1 == "CapEff:" {print $2}' "$p")" = 0000000000001000 ] || not_ok "thread $p: $(grep CapEff "$p")"
done
ok "every thread the same"
grep -q "running as user=$U" "$T/agent.log.new" && ok "the agent says so" || not_ok "no log line"
[ "$(stat -c %U "$T/agent-data/rackdb/data.mdb")" = "$U" ] && ok "its data dir is $U's" ||
  not_ok "data.mdb owner: $(stat -c %U "$T/agent-data/rackdb/data.mdb")"

out=$(in_c python3 "$BM_SRC/tests/integration/dhcp_dora.py" "$IF_C" 02:00:00:00:12:01) || true
[ "${out%% lease_time*}" = "acked 1 offered 1 of 1" ] && ok "a DHCP lease, as $U" || not_ok "DHCP: $out"
before=$(entries leases)
[ "$before" -ge 1 ] && ok "its lease is stored ($before)" || not_ok "no lease stored"
ip -n "$NS_C" addr add 10.12.0.99/24 dev "$IF_C"
cd "$T"
in_c tftp 10.12.0.1 -m octet -c get ipxe.efi got.tftp >/dev/null 2>&1
cmp -s got.tftp "$R/ipxe.efi" && ok "a TFTP transfer, as $U" || not_ok "TFTP failed"
in_c curl -s --max-time 5 -o got.http http://10.12.0.1:8080/boot/ipxe.efi
cmp -s got.http "$R/ipxe.efi" && ok "an HTTP fetch, as $U" || not_ok "HTTP failed"
kill -HUP "$AGENT_PID"
for _ in $(seq 1 50); do grep -q "reloaded file=" "$T/agent.log.new" && break; sleep 0.1; done
grep -q "reloaded file=" "$T/agent.log.new" && ok "SIGHUP rereads the fleet, as $U" || not_ok "no reload"
kill -0 "$AGENT_PID" && ok "the agent is still up" || not_ok "the agent died"
kill9_agent

# Without a user (and no user bmagent): root, said at start.
id bmagent >/dev/null 2>&1 || {
  standalone_conf "$T/fleet.yaml" "$R"
  start_agent "$T/agent.yaml"
  grep -q 'running as root reason="no user bmagent; set user: in the config"' "$T/agent.log.new" &&
    ok "without user: and no user bmagent, the agent warns it runs as root" || not_ok "no root warning"
  kill9_agent
}
standalone_conf "$T/fleet.yaml" "$R" "user: nosuchuser$$"
ip netns exec "$NS_S" "$BM_BIN/bmagent" --config "$T/agent.yaml" 2>"$T/nouser.log"
[ $? = 1 ] && grep -q "no user nosuchuser$$" "$T/nouser.log" && ok "a user that does not exist: refused at start, named" ||
  not_ok "unknown user: $(cat "$T/nouser.log")"

# bmcoord as a plain user: no privilege needed.
mkdir -p "$T/cdata" && chown "$U" "$T/cdata"
CTLS=$(coord_tls 1)
chmod 755 "$PKI"; chown "$U" "$PKI"/c1.key "$PKI"/secrets.key
# shellcheck disable=SC2086 # the options are words
ip netns exec "$NS_S" setpriv --reuid="$U" --regid="$(id -g "$U")" --clear-groups --inh-caps=-all --bounding-set=-all \
  "$BM_BIN/bmcoord" --data-dir "$T/cdata" --listen "$BMCTL_COORDINATOR" $CTLS 2>"$T/coord.log" &
CPID=$!
for _ in $(seq 1 100); do bmctl --timeout 0.5 status >/dev/null 2>&1 && break; sleep 0.1; done
bmctl status >"$T/out" 2>&1 && ok "bmcoord serves as $U, with no capability" ||
  not_ok "bmcoord: $(cat "$T/out") $(tail -3 "$T/coord.log")"
[ "$(awk '$1 == "Uid:" {print $2}' /proc/$CPID/status)" = "$uid" ] &&
  [ "$(awk '$1 == "CapEff:" {print $2}' /proc/$CPID/status)" = 0000000000000000 ] &&
  ok "(its uid is $uid, its capabilities none)" || not_ok "bmcoord status: $(grep -E 'Uid|CapEff' /proc/$CPID/status)"
kill "$CPID"; wait "$CPID" 2>/dev/null
finish
