#!/usr/bin/env bash
# Builds a guest kernel variant from Debian's linux-source package at the
# pinned version (images/guest-kernel.env), so it is the same kernel as the
# stock cloud image with other options:
#
#   config = Debian's cloud config (from the pinned image package)
#            -> `make localmodconfig` with images/kernel/modules (every
#               module the guest does not load is dropped)
#            -> merged with images/kernel/VARIANT.config
#            -> `make olddefconfig`; every line of the fragment must survive.
#
# The build is cached outside the source tree in
# CACHE/kernel-build/<version>-<variant>-<hash>/, the hash taken over the pin,
# the fragment, the module list and this script: a change to any of them is a
# new build, the same inputs reuse a finished one. That folder keeps the
# object tree (obj/, what out-of-tree modules are built against) and an
# installed tree (root/boot/vmlinuz-<release>, root/lib/modules/<release>) in
# the layout images/make-initramfs.sh reads. An interrupted build resumes
# where it stopped. The source tree is unpacked once per version into
# CACHE/kernel-tree/<version>/ (about 1.5 GB). A progress line every 15 s says
# how many files are compiled, against the count of the last build of the same
# variant when there was one. Nothing is installed on the host.
#
# usage: build-kernel.sh VARIANT CACHE_DIR
# prints the build folder on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=guest-kernel.env
. "$here/guest-kernel.env"

variant=${1:?usage: build-kernel.sh VARIANT CACHE_DIR}
cache=${2:?usage: build-kernel.sh VARIANT CACHE_DIR}
fragment="$here/kernel/$variant.config"
modlist="$here/kernel/modules"
log() { echo "build-kernel: $*" >&2; }
die() { log "error: $*"; exit 1; }
[ -f "$fragment" ] || die "no fragment $fragment for variant '$variant'"

upstream=${KERNEL_PKG_VERSION%%-*}   # 6.1.176-1 -> 6.1.176
release="$upstream-vscsim-$variant"
hash=$(cat "$here/guest-kernel.env" "$fragment" "$modlist" "$0" | sha256sum | cut -c1-12)
dest="$cache/kernel-build/$KERNEL_PKG_VERSION-$variant-$hash"

if [ -f "$dest/.ready" ]; then
  echo "$dest"
  exit 0
fi

# One build at a time: two would halve each other's speed and share nothing.
mkdir -p "$cache/kernel-build"
exec 9>"$cache/kernel-build/.lock"
flock 9
if [ -f "$dest/.ready" ]; then
  echo "$dest"
  exit 0
fi

# The stock kernel gives the base config.
stock_root=$("$here/fetch-kernel.sh" "$cache")
base_config="$stock_root/boot/config-$KERNEL_ABI-$KERNEL_FLAVOUR"
[ -f "$base_config" ] || die "the stock kernel has no config at $base_config"

# The whole source tree, unpacked once per version.
src="$cache/kernel-tree/$KERNEL_PKG_VERSION"
if [ ! -f "$src/.ready" ]; then
  pkg="linux-source-$KBUILD_SERIES"
  mkdir -p "$cache/kernel-tree"
  work=$(mktemp -d "$cache/kernel-tree/.partial.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  log "downloading $pkg=$KERNEL_PKG_VERSION (about 140 MB) and unpacking it into $src (about 1.5 GB)"
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$KERNEL_PKG_VERSION") >&2 ||
    die "the archive does not serve $pkg=$KERNEL_PKG_VERSION; images/fetch-kernel.sh says what to pin instead"
  debs=("$work"/*.deb)
  dpkg-deb --fsys-tarfile "${debs[0]}" | tar -xO "./usr/src/$pkg.tar.xz" | tar -xJ -C "$work"
  rm -rf "$src"
  mv "$work/$pkg" "$src"
  rm -rf "$work"
  trap - EXIT
  echo "$KERNEL_PKG_VERSION" > "$src/.ready"
fi

obj="$dest/obj"
mkdir -p "$obj"
# Not the caller's make's jobserver (CMake's, often -j1): this build sets its own -j.
kmake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$src" O="$obj" "$@"; }

if [ ! -f "$dest/.configured" ]; then
  log "configuring $release: Debian's cloud config, trimmed to images/kernel/modules, with $variant.config"
  cp "$base_config" "$obj/.config"
  lsmod_file="$dest/lsmod"
  grep -v '^#' "$modlist" | awk 'NF { print $1, 0, 0 }' > "$lsmod_file"
  # localmodconfig asks about options new to the base config; the defaults are right.
  kmake -s LSMOD="$lsmod_file" localmodconfig < <(yes '') >/dev/null 2>&1 ||
    die "make localmodconfig failed (run it by hand in $obj to see why)"
  "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment" >/dev/null
  kmake -s olddefconfig >&2
  missing=0
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) grep -qxF -- "$line" "$obj/.config" || { log "fragment line lost: $line"; missing=1; } ;;
      "# CONFIG_"*" is not set")
        opt=${line#\# }; opt=${opt%% *}
        grep -q "^$opt=" "$obj/.config" && { log "fragment line lost: $line"; missing=1; } ;;
    esac
  done < "$fragment"
  [ "$missing" = 0 ] || die "olddefconfig dropped fragment lines (a dependency is missing from $fragment)"
  touch "$dest/.configured"
fi

jobs=$(nproc)
count_file="$cache/kernel-build/.compiled-$variant"
expected=$(cat "$count_file" 2>/dev/null || true)
buildlog="$dest/build.log"
log "building $release with $jobs jobs; log: $buildlog"
start=$(date +%s)
progress() {
  local n el
  while sleep 15; do
    n=$(grep -c '^  CC ' "$buildlog" 2>/dev/null || true)
    el=$(( $(date +%s) - start ))
    if [ -n "$expected" ]; then
      log "$(printf '%d:%02d' $((el / 60)) $((el % 60))) $n files compiled (the last build compiled $expected)"
    else
      log "$(printf '%d:%02d' $((el / 60)) $((el % 60))) $n files compiled"
    fi
  done
}
progress &
progress_pid=$!
trap 'kill "$progress_pid" 2>/dev/null || true' EXIT
if ! kmake -j"$jobs" bzImage modules > "$buildlog" 2>&1; then
  tail -n 30 "$buildlog" >&2
  die "the kernel build failed; see $buildlog (run again to resume)"
fi
kill "$progress_pid" 2>/dev/null || true
trap - EXIT
elapsed=$(( $(date +%s) - start ))
got=$(cat "$obj/include/config/kernel.release")
[ "$got" = "$release" ] || die "the tree says kernel release '$got', CMake expects '$release'"
compiled=$(grep -c '^  CC ' "$buildlog" || true)

root="$dest/root"
rm -rf "$root"
mkdir -p "$root/boot"
kmake -s INSTALL_MOD_PATH="$root" modules_install >&2
cp "$obj/arch/x86/boot/bzImage" "$root/boot/vmlinuz-$release"
cp "$obj/.config" "$root/boot/config-$release"
cp "$obj/System.map" "$root/boot/System.map-$release"
# modules_install points build at the object tree by absolute path; keep it relative.
ln -sfn "../../../../obj" "$root/lib/modules/$release/build"
rm -f "$root/lib/modules/$release/source"

# A resumed build compiles less than a whole one: it must not lower the estimate.
if [ -z "$expected" ] || [ "$compiled" -ge "$expected" ]; then echo "$compiled" > "$count_file"; fi
echo "$release $elapsed" > "$dest/.ready"
log "ready in $(printf '%d:%02d' $((elapsed / 60)) $((elapsed % 60))) ($compiled files compiled): $dest"
echo "$dest"
