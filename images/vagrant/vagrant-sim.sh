#!/usr/bin/env bash
# The Vagrantfile's triggers: `start` prepares the host for the VM (libvirtd,
# /dev/kvm's mode, the images staged where libvirt-qemu reads them) and
# starts vsp-sim in the background; `stop` ends that vsp-sim (by its pid
# file) and removes its files. Both are idempotent.
#
# usage: vagrant-sim.sh start|stop BUILD_DIR STATE_DIR DEVICES
#   DEVICES: comma-separated device kinds for vsp-sim, e.g. blob,keyboard
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 start|stop BUILD_DIR STATE_DIR DEVICES" >&2; exit 2; }
build=$2 state=$3 devices=$4
pidfile=$state/vsp-sim.pid
log() { echo "vagrant-sim: $*" >&2; }

sim_running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

stop() {
  if sim_running; then
    local pid
    pid=$(cat "$pidfile")
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "vsp-sim (pid $pid) stopped"
  fi
  rm -rf "$state"
}

start() {
  [ "$(id -u)" -eq 0 ] || { log "error: run vagrant as root (libvirt's system domain, /dev/kvm, the state folder)"; exit 1; }
  local sim=$build/bin/vsp-sim kernel initrd
  kernel=$(cat "$build/images/stock/kernel.path" 2>/dev/null || true)
  initrd=$build/images/stock/initramfs.cpio
  for f in "$sim" "$kernel" "$initrd"; do
    [ -n "$f" ] && [ -e "$f" ] || { log "error: ${f:-$build/images/stock/kernel.path} is missing: build first (cmake --build build)"; exit 1; }
  done
  # libvirtd where nothing started it (no systemd here); libvirt-qemu must
  # open /dev/kvm or libvirtd re-probes QEMU on every start (harness/libvirt).
  if ! virsh -c qemu:///system version >/dev/null 2>&1; then
    if [ -d /run/systemd/system ]; then systemctl start libvirtd; else virtlogd -d || true; libvirtd -d; fi
    for _ in $(seq 100); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.2; done
    log "started libvirtd"
  fi
  # vagrant-libvirt looks up a storage pool even for a VM without disks; a
  # fresh libvirt has none (a desktop install defines this one).
  if ! virsh -c qemu:///system pool-info default >/dev/null 2>&1; then
    virsh -q -c qemu:///system pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
    virsh -q -c qemu:///system pool-build default >/dev/null
    virsh -q -c qemu:///system pool-start default >/dev/null
    virsh -q -c qemu:///system pool-autostart default >/dev/null
    log "defined libvirt's storage pool 'default' (/var/lib/libvirt/images)"
  fi
  if [ -e /dev/kvm ] && ! su -s /bin/sh libvirt-qemu -c 'test -r /dev/kvm -a -w /dev/kvm'; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm && log "/dev/kvm made root:kvm 0660"
  fi
  if sim_running; then
    log "vsp-sim already runs (pid $(cat "$pidfile"))"
    return
  fi
  mkdir -p "$state"
  chmod 0711 "$state"
  install -m 0644 "$kernel" "$state/vmlinuz"
  install -m 0644 "$initrd" "$state/initramfs.cpio"
  local args=(--socket "$state/vsp-sim.sock" --control "$state/vsp-sim.ctl" --guest-ram-from-peer)
  IFS=, read -ra kinds <<<"$devices"
  for k in "${kinds[@]}"; do args+=(--device "$k"); done
  setsid "$sim" "${args[@]}" >"$state/vsp-sim.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  for _ in $(seq 100); do [ -S "$state/vsp-sim.sock" ] && break; sleep 0.1; done
  [ -S "$state/vsp-sim.sock" ] || { log "error: vsp-sim did not start:"; cat "$state/vsp-sim.log" >&2; exit 1; }
  chown libvirt-qemu "$state/vsp-sim.sock"
  log "vsp-sim (pid $(cat "$pidfile")) serves $state/vsp-sim.sock; faults: $build/bin/vsc-ctl $state/vsp-sim.ctl help"
}

case "$1" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop BUILD_DIR STATE_DIR DEVICES" >&2; exit 2 ;;
esac
