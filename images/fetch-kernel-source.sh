#!/usr/bin/env bash
# Fetches Debian's linux-source package at the pinned guest kernel version with
# `apt-get download` and keeps only the kernel's lint tools from it
# (checkpatch.pl and the data files it reads) in a cache folder keyed by
# version; the 140 MB package itself is not kept. Nothing is installed on the
# host. Safe to run concurrently (flock) and again (a finished folder is reused).
#
# usage: fetch-kernel-source.sh CACHE_DIR
# prints the folder holding scripts/checkpatch.pl on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=guest-kernel.env
. "$here/guest-kernel.env"

cache=${1:?usage: fetch-kernel-source.sh CACHE_DIR}
pkg="linux-source-$KBUILD_SERIES"
dest="$cache/kernel-source/$KERNEL_PKG_VERSION"
# What checkpatch.pl reads beside itself: the typo list and the list of structs
# that should be const. (With --no-tree it reads nothing else from the tree.)
wanted=(scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch)
log() { echo "fetch-kernel-source: $*" >&2; }

if [ -f "$dest/.ready" ]; then
  echo "$dest"
  exit 0
fi

mkdir -p "$cache/kernel-source"
exec 9>"$cache/kernel-source/.lock"
flock 9
if [ -f "$dest/.ready" ]; then   # another build finished it while we waited
  echo "$dest"
  exit 0
fi

work=$(mktemp -d "$cache/kernel-source/.partial.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "downloading $pkg=$KERNEL_PKG_VERSION (about 140 MB, once) for checkpatch.pl into $dest"
download() {
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$KERNEL_PKG_VERSION") >&2
}
if ! download; then
  log "download failed; refreshing the package lists once and retrying"
  apt-get update -q >&2 || true
  if ! download; then
    log "error: the archive does not serve $pkg=$KERNEL_PKG_VERSION;"
    log "images/fetch-kernel.sh CACHE says which kernel to pin instead (images/guest-kernel.env)"
    exit 1
  fi
fi

# The package holds one tarball of the whole tree; take only the wanted files
# out of it, streaming (the unpacked tree would be over 1 GB).
deb=("$work"/*.deb)
members=()
for f in "${wanted[@]}"; do members+=("$pkg/$f"); done
log "extracting ${wanted[*]}"
dpkg-deb --fsys-tarfile "${deb[0]}" |
  tar -xO "./usr/src/$pkg.tar.xz" |
  tar -xJ -C "$work" "${members[@]}"
for f in "${wanted[@]}"; do
  test -s "$work/$pkg/$f" || { log "error: $f is missing from $pkg"; exit 1; }
done

rm -rf "$dest"
mv "$work/$pkg" "$dest"
echo "$KERNEL_PKG_VERSION" > "$dest/.ready"
log "ready: $dest"
echo "$dest"
