#!/usr/bin/env bash
# Packs the guest initramfs: busybox-static, images/init as /init, Debian
# modules the guest needs (with their dependencies, in load order), the
# project's modules and static guest binaries. Output is an uncompressed newc
# cpio, reproducible for the same inputs (sorted, fixed mtimes): under TCG the
# kernel took 150 to 260 ms to gunzip a 6.7 MB image and takes 10 ms to unpack
# the same 16 MB uncompressed (docs/performance.md). The project's modules go
# in without debug info (the host keeps it in build/modules*/ for gdb).
#
# usage: make-initramfs.sh --kernel-root DIR --release REL --init FILE --out FILE
#                          [--kmod NAME]... [--extra-kmod NAME]... [--module FILE.ko]...
#                          [--bin FILE]...
# --kmod: a Debian module loaded at every boot (dependencies added, in order).
# --extra-kmod: a Debian module packed under /lib/vscsim/kmods/extra but never
#   loaded unless init is asked to (vscsim.kmod= or vscsim.force_load=); its
#   dependencies are not added: they are built in, or (hv_vmbus) replaced by a
#   project module.
set -euo pipefail

die() { echo "make-initramfs: error: $*" >&2; exit 1; }
root="" release="" init="" out=""
kmods=() extra_kmods=() modules=() bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel-root) root=$2; shift 2 ;;
    --release) release=$2; shift 2 ;;
    --init) init=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --kmod) kmods+=("$2"); shift 2 ;;
    --extra-kmod) extra_kmods+=("$2"); shift 2 ;;
    --module) modules+=("$2"); shift 2 ;;
    --bin) bins+=("$2"); shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[ -n "$root" ] && [ -n "$release" ] && [ -n "$init" ] && [ -n "$out" ] ||
  die "--kernel-root, --release, --init and --out are required"
moddir="$root/lib/modules/$release"
[ -d "$moddir" ] || die "no kernel modules at $moddir (run images/fetch-kernel.sh)"
busybox=/bin/busybox   # from busybox-static: the guest has no libc to link against
[ -x "$busybox" ] || die "$busybox not found: install busybox-static (ci/install-deps.sh)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,etc/vscsim,lib/vscsim/kmods/extra}
cp "$busybox" "$stage/bin/busybox"
# The applets' links are made here, not by init at boot (`busybox --install`
# took 50 ms of every boot under TCG).
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$stage/bin/$applet"
done
install -m 0755 "$init" "$stage/init"

# Resolve Debian modules and their dependencies into load order (deps first).
declare -A placed=()
order=()
find_ko() {
  local name=$1 hit
  hit=$(find "$moddir/kernel" \( -name "$name.ko" -o -name "${name//_/-}.ko" \) -print -quit)
  [ -n "$hit" ] || die "module '$name' not found under $moddir"
  echo "$hit"
}
# A module built into this kernel (the fast kernel builds in what init would
# load at every boot) is neither packed nor loaded.
builtin() {
  grep -qE "/(${1}|${1//_/-})\.ko\$" "$moddir/modules.builtin" 2>/dev/null
}
place() {
  local name=$1 ko dep
  [ -n "${placed[$name]:-}" ] && return 0
  placed[$name]=1
  builtin "$name" && return 0
  ko=$(find_ko "$name")
  for dep in $(modinfo -F depends "$ko" | tr ',' ' '); do
    place "$dep"
  done
  cp "$ko" "$stage/lib/vscsim/kmods/$name.ko"
  order+=("$name")
}
for m in "${kmods[@]}"; do place "$m"; done
# Empty when all are built in (the fast kernel).
: > "$stage/etc/vscsim/base-modules"
for m in "${order[@]}"; do echo "$m" >> "$stage/etc/vscsim/base-modules"; done
for m in "${extra_kmods[@]}"; do
  cp "$(find_ko "$m")" "$stage/lib/vscsim/kmods/extra/$m.ko"
done

for ko in "${modules[@]}"; do
  [ -f "$ko" ] || die "module file '$ko' does not exist"
  strip --strip-debug -o "$stage/lib/vscsim/$(basename "$ko")" "$ko"
done
for b in "${bins[@]}"; do
  [ -f "$b" ] || die "binary '$b' does not exist"
  install -m 0755 "$b" "$stage/sbin/"
done

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
  xargs -0 touch -h -d @0 &&
  find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible) > "$out.tmp"
mv "$out.tmp" "$out"
echo "make-initramfs: $out ($(du -h "$out" | cut -f1); ${#order[@]} kernel modules, ${#extra_kmods[@]} extra, ${#modules[@]} project modules, ${#bins[@]} binaries)"
