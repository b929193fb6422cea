#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the guests need, and
# only those that are missing. Idempotent: a second run installs nothing.
# Both README commands (ci/main.sh, ci/test.sh) call it.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config
  libboost-test-dev libprotobuf-dev protobuf-compiler
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libbenchmark-dev
  # fuzz targets and sanitizer runtimes (clang's libFuzzer)
  clang libclang-rt-14-dev
  # guest: emulator, initramfs (binutils strips modules), and what Debian's kbuild needs to build modules
  qemu-system-x86 busybox-static cpio kmod binutils util-linux
  gcc-12 libelf1 libssl3 apt dpkg
  # kernel lint: sparse, and what checkpatch.pl and images/fetch-kernel-source.sh run
  sparse perl xz-utils tar
  # the debug guest kernel, built from source by images/build-kernel.sh
  flex bison bc libelf-dev libssl-dev
  # manual debugging (issue 9): gdb for the guest kernel, the libvirt backend
  # (its daemon and C API), and the repository's Vagrantfile
  gdb libvirt-daemon-system libvirt-dev vagrant vagrant-libvirt
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} required Debian packages are installed"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing Debian package(s): ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: error: not root and no sudo; install them by hand" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
