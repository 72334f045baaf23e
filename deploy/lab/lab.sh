#!/usr/bin/env bash
# The multi-site lab: the whole system against real firmware, on one
# machine, inside network namespaces this script makes (root only).
#
#   lab.sh up [--reduced]   build, then start: the lab's fleet CA
#                           ($BMLAB_RUN/pki), three coordinators on TLS (namespace
#                           bml-core), and per rack a namespace with its own
#                           bridge and routed subnet (no DHCP relay anywhere),
#                           one bmagent, and QEMU machines behind OpenIPMI
#                           ipmi_sim BMCs or the lab's Redfish BMC
#                           (redfish-bmc.py; powered off until a BMC powers
#                           them); the fleet applied and the boot images pushed
#   lab.sh demo             up, then rack12's four machines reimaged with the
#                           Debian 12 image (image-debian.sh, cached), 4 of 4
#                           deployed, r12-sb's trace, then again with the
#                           tiny image
#   lab.sh bmctl ARGS...    bmctl against the lab's coordinators (as its admin)
#   lab.sh coords stop|start   kill -9 every coordinator / start them again
#   lab.sh agent RACK stop|start   kill -9 a rack's agent / start it again
#   lab.sh down             stop and remove everything the lab made
#
# Full lab: sites s1 (rack11, rack12) and s2 (rack21, rack22). rack12 holds
# the firmware flows: BIOS with QEMU's iPXE ROM, UEFI PXE (OVMF, ipxe.efi
# over TFTP), UEFI HTTP boot (OVMF, DHCP arch 16), UEFI Secure Boot (r12-sb:
# OVMF with Microsoft's keys and Secure Boot on, behind a Redfish BMC,
# booted by Debian's signed shim and GRUB: profiles lab-sb, lab-disk-sb,
# lab-debian-sb); rack11's agent chains BIOS iPXE ROMs through
# undionly.kpxe (the loop broken by its user-class marker). --reduced (CI):
# site s1 only, rack11 (BIOS) and rack12 (UEFI PXE, r12-sb, and a machine
# whose BMC does not answer).
# Environment: BMLAB_RUN (state, default /var/tmp/bmlab), BMLAB_CACHE
# (artefacts, default /var/cache/bmlab), BMLAB_ACCEL (kvm|tcg; default:
# kvm when a probe guest boots under it, else tcg), BM_BIN (binaries,
# default build/bin of this tree, built by up).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
RUN=${BMLAB_RUN:-/var/tmp/bmlab}
CACHE=${BMLAB_CACHE:-/var/cache/bmlab}
ART=$CACHE/artifacts
BM_BIN=${BM_BIN:-$SRC/build/bin}
CORE=bml-core
COORDS="tls+tcp://10.200.0.1:7401,tls+tcp://10.200.0.1:7402,tls+tcp://10.200.0.1:7403"
PKI=$RUN/pki # the lab's fleet CA, made at up

say() { echo "lab: $*" >&2; }
die() { say "$*"; exit 1; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
bmctl() {
  in_ns "$CORE" "$BM_BIN/bmctl" --coordinator "$COORDS" --ca "$PKI/ca.crt" \
    --cert "$PKI/operator.crt" --key "$PKI/operator.key" "$@"
}

# The lab's fleet CA: a certificate per coordinator (naming 10.200.0.1),
# per rack's agent, and an admin operator that lab.sh bmctl uses.
make_pki() {
  local i r
  "$BM_BIN/bmctl" pki init "$PKI" >/dev/null
  for i in 1 2 3; do
    "$BM_BIN/bmctl" pki issue "$PKI" coordinator "n$i" --address 10.200.0.1 >/dev/null
  done
  for r in $(racks); do
    "$BM_BIN/bmctl" pki issue "$PKI" agent "agent-$(field "$r" 1)" --rack "$(field "$r" 1)" >/dev/null
  done
  "$BM_BIN/bmctl" pki issue "$PKI" operator operator --role admin >/dev/null
}

# ------------------------------------------------------------- topology
# rack:site:id -- the rack's subnet is 10.ID.0.0/24, its BMCs 10.ID.1.1.
racks() {
  local mode
  mode=$(cat "$RUN/mode" 2>/dev/null || true)
  if [ "$mode" = reduced ]; then
    echo rack11:s1:11 rack12:s1:12
  elif [ "$mode" = bench ]; then
    echo rack12:s1:12
  else
    echo rack11:s1:11 rack12:s1:12 rack21:s2:21 rack22:s2:22
  fi
}
# name:rack:firmware:profile (firmware "none": a BMC that never answers;
# "uefi-sb": Secure Boot on, behind a Redfish BMC, its profiles loader grub)
machines() {
  local mode
  mode=$(cat "$RUN/mode" 2>/dev/null || true)
  if [ "$mode" = reduced ]; then
    echo r11-bios:rack11:bios:lab r12-uefi:rack12:uefi:lab r12-nobmc:rack12:none:lab \
      r12-sb:rack12:uefi-sb:lab-sb
  elif [ "$mode" = bench ]; then
    for i in 1 2 3 4 5 6 7 8; do echo "b$i:rack12:bios:lab"; done
    echo u1:rack12:uefi:lab sb1:rack12:uefi-sb:lab-sb # the UEFI flows: iPXE, Secure Boot
  else
    echo r11-chain:rack11:bios-chain:lab r12-bios:rack12:bios:lab r12-uefi:rack12:uefi:lab \
      r12-http:rack12:uefi-http:lab r12-sb:rack12:uefi-sb:lab-sb r21-bios:rack21:bios:lab \
      r22-uefi:rack22:uefi:lab
  fi
}
field() { echo "$1" | cut -d: -f"$2"; }
rack_id() { for r in $(racks); do [ "$(field "$r" 1)" != "$1" ] || field "$r" 3; done; }

# -------------------------------------------------------------- build
build() {
  "$SRC/deploy/install-deps.sh" >&2
  if [ ! -x "$BM_BIN/bmagent" ] || [ "${BMLAB_REBUILD:-1}" = 1 ]; then
    cmake -S "$SRC" -B "$SRC/build" >/dev/null
    cmake --build "$SRC/build" -j"$(nproc)" >/dev/null
  fi
  "$HERE/artifacts.sh" "$CACHE" >&2
}

accel() {
  [ -n "${BMLAB_ACCEL:-}" ] && { echo "$BMLAB_ACCEL"; return; }
  [ -f "$RUN/accel" ] && { cat "$RUN/accel"; return; }
  local a=tcg probed=$CACHE/accel.$(uname -r)
  # KVM only when a guest really runs under it: some hosts open /dev/kvm
  # yet cannot run ordinary guests. The probe kernel panics at once (no
  # root): seen on serial within 10 s means KVM works. Probed once per
  # host kernel (the answer is kept in the cache).
  if [ -f "$probed" ]; then
    a=$(cat "$probed")
  elif [ -w /dev/kvm ]; then
    timeout 10 qemu-system-x86_64 -accel kvm -cpu host,-arch-capabilities -m 128 -nodefaults \
      -display none -no-reboot -kernel "$ART/vmlinuz" -append "console=ttyS0 panic=-1" \
      -serial "file:$RUN/kvm-probe.log" >/dev/null 2>&1 || true
    grep -q "Kernel panic\|VFS:" "$RUN/kvm-probe.log" 2>/dev/null && a=kvm
    echo "$a" >"$probed"
  fi
  echo "$a" >"$RUN/accel"
  echo "$a"
}

# ------------------------------------------------------------ network
net_core() {
  ip netns add "$CORE"
  in_ns "$CORE" ip link set lo up
  in_ns "$CORE" ip addr add 10.200.0.1/32 dev lo
  in_ns "$CORE" sysctl -qw net.ipv4.ip_forward=1
}

# A rack: its namespace, routed to the core over a veth; a bridge for its
# machines (the agent's segment); an address for its BMCs. The agent sends
# the IPv6 router advertisements (ipv6_ra): iPXE otherwise waits ~13 s for
# a router before it gives up on IPv6.
net_rack() {
  local rack=$1 id=$2 ns=bml-$1
  ip netns add "$ns"
  in_ns "$ns" ip link set lo up
  ip link add "bml-r$id" netns "$CORE" type veth peer name up0 netns "$ns"
  in_ns "$CORE" ip addr add "10.201.$id.1/30" dev "bml-r$id"
  in_ns "$CORE" ip link set "bml-r$id" up
  in_ns "$CORE" ip route add "10.$id.0.0/16" via "10.201.$id.2"
  in_ns "$ns" ip addr add "10.201.$id.2/30" dev up0
  in_ns "$ns" ip link set up0 up
  in_ns "$ns" ip route add default via "10.201.$id.1"
  in_ns "$ns" ip link add br0 type bridge
  in_ns "$ns" ip addr add "10.$id.0.1/24" dev br0
  in_ns "$ns" ip link set br0 up
  in_ns "$ns" ip addr add "10.$id.1.1/32" dev lo
}

# -------------------------------------------------------------- daemons
start_coords() {
  local bs="1=10.200.0.1:7501,2=10.200.0.1:7502,3=10.200.0.1:7503" i
  for i in 1 2 3; do
    mkdir -p "$RUN/coord"
    ip netns exec "$CORE" setsid "$BM_BIN/bmcoord" --id "$i" --raft-address "10.200.0.1:750$i" \
      --listen "tls+tcp://10.200.0.1:740$i" --data-dir "$RUN/coord/n$i" --bootstrap "$bs" \
      --tls-ca "$PKI/ca.crt" --tls-cert "$PKI/n$i.crt" --tls-key "$PKI/n$i.key" \
      --tls-crl "$PKI/crl.pem" --secrets-key "$PKI/secrets.key" \
      </dev/null >/dev/null 2>>"$RUN/coord/n$i.log" &
    echo $! >"$RUN/coord/n$i.pid"
  done
  for _ in $(seq 1 100); do
    bmctl --timeout 1 cluster status 2>/dev/null | grep -q leader && return 0
    sleep 0.1
  done
  die "the coordinators elected no leader (see $RUN/coord/*.log)"
}

# The agents run as this user after binding (created by `up` when the host
# has none, removed by `down` then). Each holds its own TLS files, readable
# by it alone, as an agent host would. Not the default `bmagent`: agents of
# tests running beside the lab, which name no user, must not become it.
LAB_USER=bmlab
lab_user() {
  id -u "$LAB_USER" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin "$LAB_USER" ||
    die "cannot create the agents' user $LAB_USER"
  touch "$RUN/user-created"
}

start_agent() {
  local rack=$1 id=$2 d=$RUN/$1 chain=false
  [ "$rack" = rack11 ] && [ "$(cat "$RUN/mode")" = full ] && chain=true
  mkdir -p "$d/tftp"
  cp "$ART/undionly.kpxe" "$ART/ipxe.efi" "$d/tftp/"
  install -d -o "$LAB_USER" -m 700 "$d/tls"
  install -o "$LAB_USER" -m 644 "$PKI/ca.crt" "$PKI/agent-$rack.crt" "$d/tls/"
  install -o "$LAB_USER" -m 600 "$PKI/agent-$rack.key" "$d/tls/"
  cat >"$d/agent.yaml" <<Y
rack: $rack
user: $LAB_USER
data_dir: $d/agent
interfaces: [br0]
tftp_root: $d/tftp
http_port: 8080
chain_ipxe: $chain
ipv6_ra: true
coordinator: [${COORDS//,/, }]
tls: {ca: $d/tls/ca.crt, cert: $d/tls/agent-$rack.crt, key: $d/tls/agent-$rack.key}
signed_shim: $ART/shimx64.efi.signed
signed_grub: $ART/grubnetx64.efi.signed
Y
  ip netns exec "bml-$rack" setsid "$BM_BIN/bmagent" --config "$d/agent.yaml" \
    </dev/null >/dev/null 2>>"$d/agent.log" &
  echo $! >"$d/agent.pid"
}

# The Redfish BMCs' certificate (self-signed, as BMCs ship them): the fleet
# pins it (bmc_fingerprint).
bmc_cert() {
  [ -f "$RUN/bmc-tls/bmc.crt" ] || { mkdir -p "$RUN/bmc-tls" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=lab-bmc \
      -keyout "$RUN/bmc-tls/bmc.key" -out "$RUN/bmc-tls/bmc.crt" 2>/dev/null; }
  openssl x509 -in "$RUN/bmc-tls/bmc.crt" -noout -fingerprint -sha256 | cut -d= -f2
}
# A Secure Boot machine's BMC: the lab's Redfish BMC (iDRAC-like: If-Match,
# resets as 202 tasks) on the rack's BMC address, its hook running QEMU.
start_redfish_bmc() {
  local d=$1 rack=$2 id=$3 n=$4
  bmc_cert >/dev/null
  ip netns exec "bml-$rack" setsid /usr/bin/python3 "$HERE/redfish-bmc.py" --listen "10.$id.1.1" \
    --port $((8000 + n)) --user admin --password-file "$RUN/bmc.pass" \
    --tls "$RUN/bmc-tls/bmc.crt" "$RUN/bmc-tls/bmc.key" --hook "$HERE/bmc-hook.sh $d" \
    --require-if-match --reset-answer 202 --log "$d/redfish.log" </dev/null >"$d/sim.log" 2>&1 &
  echo $! >"$d/sim.pid"
}

# A machine: a tap on its rack's bridge and an ipmi_sim BMC on the rack's
# BMC address, whose chassis hook runs QEMU (bmc-hook.sh); for uefi-sb, the
# Redfish BMC instead. Powered off.
start_machine() {
  local name=$1 rack=$2 fw=$3 n=$4 id d mac
  id=$(rack_id "$rack")
  d=$RUN/$rack/bmc/$name
  mac=$(printf '52:54:00:%02x:00:%02x' "$id" "$n")
  mkdir -p "$d/state"
  [ "$fw" = none ] && return 0 # its BMC address answers nothing
  qemu-img create -q -f qcow2 "$d/disk.qcow2" 2G # blank, sparse
  in_ns "bml-$rack" ip tuntap add "tap$n" mode tap
  in_ns "bml-$rack" ip link set "tap$n" master br0 up
  cat >"$d/machine.env" <<E
NAME=$name
MAC=$mac
TAP=tap$n
FIRMWARE=$fw
ACCEL=$(accel)
ART=$ART
VMPORT=$([ "$fw" = uefi-sb ] || echo $((9100 + n)))
UUID=$(printf 'b0000000-0000-4000-8000-5254%02x00%04x' "$id" "$n")
E
  [ "$fw" = uefi-sb ] && { start_redfish_bmc "$d" "$rack" "$id" "$n"; return 0; }
  cat >"$d/bmc.emu" <<E
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
E
  cat >"$d/lan.conf" <<E
name "$name"
set_working_mc 0x20
  startlan 1
    addr 10.$id.1.1 $((9000 + n))
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user md2 md5 straight
    allowed_auths_operator md2 md5 straight
    allowed_auths_admin md2 md5 straight
    guid $(printf 'b0%030x' "$((id * 256 + n))")
  endlan
  serial 15 127.0.0.1 $((9100 + n)) codec VM
  chassis_control "$HERE/bmc-hook.sh $d"
  user 2 true "admin" "$(cat "$RUN/bmc.pass")" admin 10 md2 md5 straight
E
  (cd "$d" && exec ip netns exec "bml-$rack" setsid ipmi_sim -c lan.conf -f bmc.emu -s state -n \
    </dev/null >"$d/sim.log" 2>&1) &
  echo $! >"$d/sim.pid"
}

# image NAME FILE [EXTRA]: a fleet line declaring FILE as image NAME.
image() {
  echo "  - {name: $1, sha256: \"$(sha256sum "$2" | cut -d' ' -f1)\", size: $(stat -c %s "$2")${3:+, $3}}"
}
# The disk profiles' command line: the deploy ramdisk's orders (deployer/args.h).
DEPLOY_ARGS="bm.image={{image_url}} bm.sha256={{image_sha256}} bm.format={{image_format}} bm.root={{root_device}} bm.grow={{grow}} bm.callback={{callback_url}} bm.token={{token}} bm.seed={{seed_url}}"
# The NoCloud user-data of the disk profiles: the tiny image's phone-home
# reads the bm-phone-home line; cloud-init (the Debian image) runs runcmd.
user_data() {
  echo "    templates:"
  echo "      user-data: |"
  echo "        #cloud-config"
  [ "$1" = silent ] && return 0
  echo "        # bm-phone-home: {{callback_url}} {{token}}"
  echo "        runcmd:"
  echo "          - [sh, -c, '. /etc/os-release; sb=\$(od -An -tu1 -j4 -N1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c 2>/dev/null | tr -dc 01); curl -fsS --retry 20 --retry-connrefused \"{{callback_url}}?state=booted&token={{token}}&os=\$ID%20\$VERSION_ID&kernel=\$(uname -r)\${sb:+&secureboot=\$sb}\"']"
}
# disk_profile NAME SHA256 USER_DATA [IMAGE [LOADER]]: the deploy ramdisk
# writing IMAGE (lab-tiny), booted by LOADER (ipxe).
disk_profile() {
  cat <<Y
  - name: $1
    kernel: lab-kernel
    initrd: lab-deploy
    loader: ${5:-ipxe}
    disk_image: ${4:-lab-tiny}
    grow: true
    cmdline: "console=ttyS0 quiet panic=-1 $([ "${5:-}" = grub ] || echo "initrd=initrd.img ")bm.mac={{mac}} ${DEPLOY_ARGS/\{\{image_sha256\}\}/$2}"
Y
  user_data "$3"
}

fleet() {
  echo "sites: [{name: s1}$([ "$(cat "$RUN/mode")" = full ] && echo ", {name: s2}")]"
  echo "racks:"
  for r in $(racks); do
    local rack site id
    rack=$(field "$r" 1) site=$(field "$r" 2) id=$(field "$r" 3)
    echo "  - {name: $rack, site: $site, subnet: 10.$id.0.0/24, gateway: 10.$id.0.1, pool: 10.$id.0.100-10.$id.0.199}"
  done
  cat <<Y
images:
$(image lab-kernel "$ART/vmlinuz")
$(image lab-initrd "$ART/initrd.img")
$(image lab-deploy "$ART/deploy.img")
$(image lab-tiny "$ART/tiny.raw.zst" "kind: disk, format: raw.zst")
$([ -f "$ART/debian12.raw.zst" ] && image lab-debian "$ART/debian12.raw.zst" "kind: disk, format: raw.zst")
profiles:
  - name: lab
    kernel: lab-kernel
    initrd: lab-initrd
    cmdline: "console=ttyS0 quiet panic=-1 initrd=initrd.img bm.mac={{mac}} bm.callback={{callback_url}} bm.token={{token}} bm.seed={{seed_url}}"
  - name: lab-sb
    kernel: lab-kernel
    initrd: lab-initrd
    loader: grub
    cmdline: "console=ttyS0 quiet panic=-1 bm.mac={{mac}} bm.callback={{callback_url}} bm.token={{token}} bm.seed={{seed_url}}"
  - name: lab-hang
    kernel: lab-kernel
    initrd: lab-initrd
    cmdline: "console=ttyS0 quiet panic=-1 initrd=initrd.img bm.mac={{mac}} bm.hang=1"
Y
  # lab-disk: the tiny image, grown, its OS calls back booted;
  # lab-disk-silent: its OS never does; lab-disk-corrupt: the digest the
  # ramdisk is given is not the image's (as if its bytes were damaged).
  disk_profile lab-disk "{{image_sha256}}" phone-home
  disk_profile lab-disk-silent "{{image_sha256}}" silent
  disk_profile lab-disk-corrupt "$(printf '%064d' 0)" phone-home
  # lab-disk-sb: lab-disk through Debian's signed shim and GRUB (Secure Boot).
  disk_profile lab-disk-sb "{{image_sha256}}" phone-home lab-tiny grub
  # lab-debian: the Debian 12 image (image-debian.sh), when it is built.
  [ -f "$ART/debian12.raw.zst" ] && disk_profile lab-debian "{{image_sha256}}" phone-home lab-debian &&
    disk_profile lab-debian-sb "{{image_sha256}}" phone-home lab-debian grub
  echo "machines:"
  local n=0
  for m in $(machines); do
    local name rack fw profile id
    name=$(field "$m" 1) rack=$(field "$m" 2) fw=$(field "$m" 3) profile=$(field "$m" 4)
    id=$(rack_id "$rack")
    n=$((n + 1))
    local bmc="ipmi://admin@10.$id.1.1:$((9000 + n))" extra=""
    [ "$fw" = uefi-sb ] && bmc="redfish://admin@10.$id.1.1:$((8000 + n))" &&
      extra=", firmware: uefi, bmc_fingerprint: \"$(bmc_cert)\""
    printf '  - {name: %s, rack: %s, mac: "52:54:00:%02x:00:%02x", ip: 10.%d.0.%d, profile: %s, bmc: "%s", password_file: %s, labels: {firmware: %s}%s}\n' \
      "$name" "$rack" "$id" "$n" "$id" $((10 + n)) "$profile" "$bmc" "$RUN/bmc.pass" "$fw" "$extra"
  done
}

# ------------------------------------------------------------- commands
down() {
  local p
  for f in "$RUN"/*/bmc/*/run.pid "$RUN"/*/bmc/*/qemu.pid "$RUN"/*/bmc/*/sim.pid "$RUN"/*/agent.pid "$RUN"/coord/*.pid; do
    [ -f "$f" ] && p=$(cat "$f") && [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
  done
  for ns in $(ip netns list | awk '/^bml-/ {print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns"
  done
  [ -e "$RUN/user-created" ] && userdel "$LAB_USER" 2>/dev/null
  rm -rf "$RUN"
}

up() {
  local mode=full
  [ "${1:-}" = --reduced ] && mode=reduced
  [ "${1:-}" = --bench ] && mode=bench # rack12 alone: eight BIOS machines, u1, sb1 (bench/boot.sh)
  [ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces, taps)"
  down # a second up after a crash starts clean
  build
  mkdir -p "$RUN"
  chmod 755 "$RUN" # the agents' user reaches its rack's folder
  echo "$mode" >"$RUN/mode"
  lab_user
  say "accelerator: $(accel)"
  net_core
  for r in $(racks); do
    mkdir -p "$RUN/$(field "$r" 1)"
    net_rack "$(field "$r" 1)" "$(field "$r" 3)"
  done
  make_pki
  # The BMCs' password (IPMI: at most 20 characters), read by bmctl apply
  # through the fleet's password_file: and sealed by the coordinators.
  (umask 077 && head -c 12 /dev/urandom | base64 | tr '+/' '-_' >"$RUN/bmc.pass")
  start_coords
  fleet >"$RUN/fleet.yaml"
  cp "$ART/vmlinuz" "$ART/initrd.img" "$ART/deploy.img" "$ART/tiny.raw.zst" "$RUN/"
  bmctl image push lab-kernel "$RUN/vmlinuz" >/dev/null
  bmctl image push lab-initrd "$RUN/initrd.img" >/dev/null
  bmctl image push lab-deploy "$RUN/deploy.img" >/dev/null
  bmctl image push lab-tiny "$RUN/tiny.raw.zst" >/dev/null
  [ -f "$ART/debian12.raw.zst" ] && bmctl image push lab-debian "$ART/debian12.raw.zst" >/dev/null
  bmctl apply -f "$RUN/fleet.yaml" >&2
  local n=0
  for m in $(machines); do
    n=$((n + 1))
    start_machine "$(field "$m" 1)" "$(field "$m" 2)" "$(field "$m" 3)" "$n"
  done
  for r in $(racks); do start_agent "$(field "$r" 1)" "$(field "$r" 3)"; done
  # Ready once every agent has registered and holds the installer's images
  # (a rack's agent fetches the disk profiles' images when an operation
  # names them).
  for _ in $(seq 1 300); do
    [ "$(bmctl get images 2>/dev/null | awk '/^lab-(kernel|initrd) / {print $NF}' | sort -u)" = "$(racks | wc -w)" ] &&
      break
    sleep 0.2
  done
  bmctl agents >&2
  say "up: $(racks | wc -w) racks, $(machines | wc -w) machines, coordinators $COORDS"
}

# demo: rack12's four machines (BIOS iPXE, UEFI PXE, UEFI HTTP, UEFI
# Secure Boot) reimaged with the Debian 12 image (built and cached first):
# each writes it, reboots from its disk, cloud-init phones home. r12-sb
# boots through Debian's signed shim and GRUB (lab-debian-sb, loader grub),
# the others through iPXE (lab-debian): two operations at once. Then rack12
# again with the tiny image, which replaces it.
demo() {
  local rc=0 n
  [ "$(id -u)" = 0 ] || die "the lab needs root (network namespaces, taps)"
  "$SRC/deploy/install-deps.sh" >&2
  mkdir -p "$ART"
  "$HERE/artifacts.sh" "$CACHE" >&2 # the signed shim and GRUB for its ESP
  SIGNED_EFI=$ART "$HERE/image-debian.sh" "$ART/debian12.raw.zst" >&2 ||
    die "cannot build the Debian 12 image"
  up "$@"
  say "bmctl reimage r12-bios r12-uefi r12-http --profile lab-debian, r12-sb --profile lab-debian-sb"
  bmctl reimage r12-bios r12-uefi r12-http --profile lab-debian --timeout 20m >&2
  bmctl reimage r12-sb --profile lab-debian-sb --timeout 20m --wait >&2 || rc=$?
  wait_rack12 || rc=1
  n=$(bmctl get machines --rack rack12 | grep -c ' deployed ')
  say "rack12: $n of 4 deployed"
  [ "$n" = 4 ] || rc=1
  say "bmctl trace r12-sb"
  bmctl trace r12-sb | grep -E "shim|grub|images/|callback|secureboot|power" | grep -v " total=" >&2
  say "bmctl reimage rack12 --profile lab-disk (iPXE) and r12-sb --profile lab-disk-sb: the tiny image replaces it"
  bmctl reimage r12-bios r12-uefi r12-http --profile lab-disk --timeout 10m >&2
  bmctl reimage r12-sb --profile lab-disk-sb --timeout 10m --wait >&2 || rc=$?
  wait_rack12 || rc=1
  bmctl describe machine r12-sb
  return $rc
}
# Until no machine of rack12 is in an operation (20 minutes at most).
wait_rack12() {
  for _ in $(seq 1 1200); do
    bmctl get machines --rack rack12 | grep -Eq ' (reimaging|netbooting|installing|installed) ' ||
      return 0
    sleep 1
  done
  return 1
}

kill_pidfile() {
  local p
  p=$(cat "$1" 2>/dev/null) || return 0
  kill -9 "$p" 2>/dev/null || true
  while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
}

coords() {
  case ${1:-} in
  stop) for i in 1 2 3; do kill_pidfile "$RUN/coord/n$i.pid"; done ;;
  start) start_coords ;;
  *) die "coords stop|start" ;;
  esac
}

agent() {
  local rack=${1:-} id
  id=$(rack_id "$rack")
  [ -n "$id" ] || die "no rack $rack in this lab"
  case ${2:-} in
  stop) kill_pidfile "$RUN/$rack/agent.pid" ;;
  start) start_agent "$rack" "$id" ;;
  *) die "agent RACK stop|start" ;;
  esac
}

cmd=${1:-}
shift || true
case $cmd in
up) up "$@" ;;
demo) demo "$@" ;;
down) down ;;
bmctl) bmctl "$@" ;;
coords) coords "$@" ;;
agent) agent "$@" ;;
*) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 2 ;;
esac
