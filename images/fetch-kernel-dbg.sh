#!/usr/bin/env bash
# Fetches the debug symbols of the pinned Debian guest kernel (the
# linux-image-<release>-dbg package of images/guest-kernel.env) with
# `apt-get download` and keeps only its vmlinux (full DWARF) in a cache folder
# keyed by version: the package is 282 MB, 1.7 GB unpacked, and the rest of it
# (the modules' separate debug files) is not needed to debug the project's own
# modules. Nothing is installed on the host. Safe to run concurrently (flock)
# and again (a finished fetch is reused). For `vsc-guest --gdb` (docs/gdb.md).
#
# usage: fetch-kernel-dbg.sh CACHE_DIR
# prints the vmlinux path on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=guest-kernel.env
. "$here/guest-kernel.env"

cache=${1:?usage: fetch-kernel-dbg.sh CACHE_DIR}
release="$KERNEL_ABI-$KERNEL_FLAVOUR"
pkg="linux-image-$release-dbg"
dest="$cache/kernel-dbg/$KERNEL_PKG_VERSION-$KERNEL_FLAVOUR"
vmlinux="$dest/vmlinux-$release"
log() { echo "fetch-kernel-dbg: $*" >&2; }

if [ -f "$dest/.ready" ]; then
  echo "$vmlinux"
  exit 0
fi

mkdir -p "$cache/kernel-dbg"
exec 9>"$cache/kernel-dbg/.lock"
flock 9
if [ -f "$dest/.ready" ]; then   # another run finished it while we waited
  echo "$vmlinux"
  exit 0
fi

work=$(mktemp -d "$cache/kernel-dbg/.partial.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "downloading $pkg=$KERNEL_PKG_VERSION (about 280 MB, once) into the cache $dest"
download() {
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$KERNEL_PKG_VERSION") >&2
}
if ! download; then
  log "download failed; refreshing the package lists once and retrying"
  apt-get update -q >&2 || true
  if ! download; then
    log "error: the archive does not serve $pkg=$KERNEL_PKG_VERSION, the debug symbols of the"
    log "pinned guest kernel; when the kernel itself is no longer served either, images/fetch-kernel.sh"
    log "says what to pin instead in $here/guest-kernel.env"
    exit 1
  fi
fi
deb=$(ls "$work"/*.deb)

# The package keeps the kernel's DWARF at usr/lib/debug/boot/vmlinux-<release>
# (usr/lib/debug/lib/modules/<release>/vmlinux links to it). Take that member only.
member="./usr/lib/debug/boot/vmlinux-$release"
log "extracting ${member#./} from $(basename "$deb")"
if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "$member"; then
  log "error: $(basename "$deb") has no ${member#./}"
  exit 1
fi
test -s "$work/$member" || { log "error: ${member#./} is empty"; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"
mv "$work/$member" "$vmlinux"
echo "$KERNEL_PKG_VERSION $release" > "$dest/.ready"
log "ready: $vmlinux"
echo "$vmlinux"
