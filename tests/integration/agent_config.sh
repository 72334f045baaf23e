#!/usr/bin/env bash
# bmagent --check-config: the shipped example passes; every bad key or value
# is refused with its file, line and reason; a bad fleet file is refused.
. "$(dirname "$0")/lib.sh"
cd "$BM_SRC"
expect_exit 0 "the shipped example config passes" "$BM_BIN/bmagent" --check-config deploy/examples/agent.yaml
cat >"$T/bad.yaml" <<'Y'
rack: Rack_12
interfaces: []
mode: sometimes
http_port: 0
lease_time: 5
colour: blue
boot_files: {bios: /etc/passwd, vga: x}
tls: {ca: ca.crt, cert: /etc/a.crt}
coordinator: [tls+tcp://10.0.0.1:7400]
bmc_ca: bmc-ca.pem
bmc_timeout: 0
power_stagger_ms: 60001
Y
expect_exit 1 "a bad config is refused" "$BM_BIN/bmagent" --check-config "$T/bad.yaml"
for want in "bad.yaml:1: rack: \"Rack_12\" is not a valid name" "bad.yaml:2: interfaces: needs 1 to 8 entries" \
  "bad.yaml:3: mode: must be authoritative or proxy" "bad.yaml:4: http_port: must be a number in 1..65535" \
  "bad.yaml:5: lease_time: must be a number in 60..604800" "bad.yaml:6: colour: unknown key" \
  "bad.yaml:7: boot_files: \"/etc/passwd\" must be a path relative to tftp_root" \
  "bad.yaml:7: boot_files: unknown key \"vga\"" "bad.yaml:8: tls: \"ca.crt\" must be an absolute path" \
  "bad.yaml:8: tls: needs ca, cert and key" "bad.yaml:10: bmc_ca: must be an absolute path" \
  "bad.yaml:11: bmc_timeout: must be a number in 1..600" \
  "bad.yaml:12: power_stagger_ms: must be a number in 0..60000"; do
  expect_in "$T/err" "$want" "refusal: $want"
done
printf 'rack: rack12\ninterfaces: [eth1]\ncoordinator: [tls+tcp://10.0.0.1:7400]\n' >"$T/notls.yaml"
expect_exit 1 "a tls+tcp:// coordinator without tls: is refused" "$BM_BIN/bmagent" --check-config "$T/notls.yaml"
expect_in "$T/err" "tls: coordinator tls+tcp://10.0.0.1:7400 needs tls: {ca, cert, key}" "and says what to give"
printf 'rack: rack12\ninterfaces: [eth1]\nfleet: deploy/examples/fleet.yaml\ncoordinator: [ipc:///x]\n' >"$T/both.yaml"
expect_exit 1 "both fleet and coordinator is refused" "$BM_BIN/bmagent" --check-config "$T/both.yaml"
expect_in "$T/err" "fleet: give either fleet (standalone) or coordinator" "and names the choice"
printf 'rack: rack99\ninterfaces: [eth1]\nfleet: deploy/examples/fleet.yaml\n' >"$T/norack.yaml"
expect_exit 1 "a rack missing from the fleet file is refused" "$BM_BIN/bmagent" --check-config "$T/norack.yaml"
expect_in "$T/err" "rack rack99 is not in the fleet file" "the missing rack is named"
printf 'machines: [{name: m1, rack: rack12, mac: "52:54:00:12:00:01", profile: nope}]\n' >"$T/fleet.yaml"
printf 'rack: rack12\ninterfaces: [eth1]\nfleet: %s\n' "$T/fleet.yaml" >"$T/badfleet.yaml"
expect_exit 1 "a fleet file with dangling references is refused" "$BM_BIN/bmagent" --check-config "$T/badfleet.yaml"
expect_in "$T/err" "rack rack12 is not in this file" "dangling rack reference named"
expect_in "$T/err" "profile nope is not in this file" "dangling profile reference named"
finish
