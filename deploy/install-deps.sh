#!/usr/bin/env bash
# Install every build and test dependency of the project from Debian packages.
# Non-interactive and idempotent: packages already present are not touched, and
# apt is only asked for what is missing.
set -euo pipefail

# Build: compiler, CMake, pkg-config and the libraries of DESIGN.md (libzstd:
# the deploy program decompresses disk images; json-c: the Redfish driver
# reads the BMC's answers).
BUILD_PKGS=(
  build-essential cmake pkg-config
  libnng-dev libmbedtls-dev
  libprotobuf-c-dev protobuf-c-compiler
  libev-dev liblmdb-dev
  libraft-dev libuv1-dev
  libcurl4-openssl-dev libyaml-dev libssl-dev
  libzstd-dev zlib1g-dev libjson-c-dev
)
# Run: the tools the agent drives (ipmitool for the ipmi power driver).
RUN_PKGS=(ipmitool)
# Test: cmocka for unit tests, clang + its runtime for libFuzzer targets,
# the LMDB tools for inspecting stores, and the tools integration tests call
# (dnsmasq as the rogue DHCP server, useradd and setpriv for least privilege;
# sfdisk, mtools, dosfstools, e2fsprogs and zstd check what the deploy program
# writes; redfishtool and python3-sushy check the lab's Redfish BMC emulator,
# openssl makes its self-signed certificate).
TEST_PKGS=(
  libcmocka-dev clang libclang-rt-14-dev lmdb-utils
  python3 iproute2 procps psmisc curl
  isc-dhcp-client busybox kea-admin
  tftp-hpa atftp nftables openipmi ndisc6 tcpdump dnsmasq-base passwd util-linux
  mtools dosfstools e2fsprogs zstd fdisk
  redfishtool python3-sushy openssl
)

# The QEMU lab (deploy/lab, whose reduced run is part of the tests): QEMU
# with SeaBIOS, QEMU's iPXE ROMs and OVMF; iPXE's binaries; cpio for the
# ramdisks; qemu-img for the machines' disks; GRUB's tools and its BIOS
# and UEFI modules, sfdisk, mtools, dosfstools and e2fsprogs to build the
# disk images (no loop device or mount needed); debootstrap for the
# Debian 12 image of `lab.sh demo`.
LAB_PKGS=(qemu-system-x86 seabios ipxe-qemu ipxe ovmf cpio qemu-utils
  grub-common grub-pc-bin grub-efi-amd64-bin fdisk mtools dosfstools e2fsprogs zstd debootstrap)

# Benchmarks only (deploy/install-deps.sh --bench): the peers they run beside us.
BENCH_PKGS=(etcd-server etcd-client bc kea-dhcp4-server dnsmasq-base tftpd-hpa nginx-light wrk)

WANT=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${TEST_PKGS[@]}" "${LAB_PKGS[@]}")
[ "${1:-}" = --bench ] && WANT+=("${BENCH_PKGS[@]}")

missing=()
for p in "${WANT[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#WANT[@]} packages present"
  exit 0
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
