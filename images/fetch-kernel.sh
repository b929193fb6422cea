#!/usr/bin/env bash
# Fetches the pinned Debian guest kernel (image, headers, kbuild) with
# `apt-get download`, unpacks it with `dpkg -x` into a cache folder keyed by
# version, and fixes the tree up so out-of-tree modules build against it.
# Nothing is installed on the host. Safe to run concurrently (flock) and again
# (a finished tree is reused).
#
# usage: fetch-kernel.sh CACHE_DIR
# prints the unpacked root folder on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=guest-kernel.env
. "$here/guest-kernel.env"

cache=${1:?usage: fetch-kernel.sh CACHE_DIR}
release="$KERNEL_ABI-$KERNEL_FLAVOUR"
dest="$cache/kernel/$KERNEL_PKG_VERSION-$KERNEL_FLAVOUR"
log() { echo "fetch-kernel: $*" >&2; }

if [ -f "$dest/.ready" ]; then
  echo "$dest/root"
  exit 0
fi

mkdir -p "$cache/kernel"
exec 9>"$cache/kernel/.lock"
flock 9
if [ -f "$dest/.ready" ]; then   # another build finished it while we waited
  echo "$dest/root"
  exit 0
fi

pkgs=(
  "linux-image-$release=$KERNEL_PKG_VERSION"
  "linux-headers-$release=$KERNEL_PKG_VERSION"
  "linux-headers-$KERNEL_ABI-common=$KERNEL_PKG_VERSION"
  "linux-kbuild-$KBUILD_SERIES=$KERNEL_PKG_VERSION"
)

suggest_pin() {
  # Newest $KBUILD_SERIES cloud kernel whose kbuild of the same version is served too.
  local best="" ver abi
  for pkg in $(apt-cache search --names-only "^linux-image-$KBUILD_SERIES\.[0-9]+-[0-9]+-$KERNEL_FLAVOUR\$" | awk '{print $1}'); do
    ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
    apt-cache madison "linux-kbuild-$KBUILD_SERIES" | grep -qF " $ver " || continue
    abi=${pkg#linux-image-}; abi=${abi%-"$KERNEL_FLAVOUR"}
    best="$best$ver $abi"$'\n'
  done
  best=$(printf '%s' "$best" | sort -V | tail -n 1)
  if [ -n "$best" ]; then
    log "the archive serves instead: KERNEL_ABI=${best#* } KERNEL_PKG_VERSION=${best% *}"
    log "pin it in $here/guest-kernel.env"
  else
    log "no $KBUILD_SERIES $KERNEL_FLAVOUR kernel with a matching linux-kbuild-$KBUILD_SERIES is served"
  fi
}

work=$(mktemp -d "$cache/kernel/.partial.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs" "$work/root"
log "downloading Debian kernel $KERNEL_PKG_VERSION ($release) into the cache $dest"
download() {
  (cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "${pkgs[@]}") >&2
}
if ! download; then
  log "download failed; refreshing the package lists once and retrying"
  apt-get update -q >&2 || true
  if ! download; then
    log "error: the archive does not serve the pinned kernel $KERNEL_PKG_VERSION ($release)"
    suggest_pin
    exit 1
  fi
fi

for deb in "$work"/debs/*.deb; do
  dpkg -x "$deb" "$work/root"
done

root="$dest/root"   # final location: the fix-ups below must name it
hdr="usr/src/linux-headers-$release"
# The flavour Makefile includes the common one by absolute path: point it at the cache.
sed -i "s|^include /usr/src/|include $root/usr/src/|" "$work/root/$hdr/Makefile"
# lib/modules/<release>/build and source point at /usr/src: make them relative.
ln -sfn "../../../$hdr" "$work/root/lib/modules/$release/build"
ln -sfn "../../../usr/src/linux-headers-$KERNEL_ABI-common" "$work/root/lib/modules/$release/source"
test -f "$work/root/boot/vmlinuz-$release" || { log "error: no vmlinuz in the image package"; exit 1; }

rm -rf "$dest"
mkdir -p "$dest"
mv "$work/root" "$root"
echo "$KERNEL_PKG_VERSION $release" > "$dest/.ready"
log "ready: $root"
echo "$root"
