#!/usr/bin/env bash
# The kernel lint tests of cmake/KernelLint.cmake. Exit 0 only when clean.
#
#   kernel-lint.sh checkpatch CHECKPATCH_PL FILE...
#     checkpatch.pl --strict --no-tree on each file; any ERROR, WARNING or
#     CHECK fails. --show-types names each finding's kind.
#   kernel-lint.sh sparse KERNEL_BUILD_DIR WORK_DIR [MAKE_ARG...] -- FILE...
#     copies the files (Kbuild among them) into WORK_DIR afresh and builds the
#     module with C=2 (sparse on every file) and the module build's own make
#     arguments (W=1, include paths, ...); any warning or error in the
#     module's own files fails (the kernel's headers are not ours to fix).
#     Undefined symbols at modpost (exports of another project module) are
#     not sparse findings: KBUILD_MODPOST_WARN=1 keeps them from failing.
set -uo pipefail
die() { echo "kernel-lint: $*" >&2; exit 1; }
mode=${1:?usage: kernel-lint.sh checkpatch|sparse ...}
shift

case "$mode" in
  checkpatch)
    checkpatch=${1:?checkpatch.pl path}
    shift
    [ -f "$checkpatch" ] ||
      die "no $checkpatch: build the kernel_lint_tools target (images/fetch-kernel-source.sh fetches it)"
    command -v perl >/dev/null || die "perl is not installed: run ci/install-deps.sh"
    files=()
    for f in "$@"; do
      [ -f "$f" ] || die "no such file: $f"
      files+=("$(realpath "$f")")
    done
    # From an empty folder, so no .checkpatch.conf of a source tree changes the rules.
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    out=$(cd "$scratch" && perl "$checkpatch" --strict --no-tree --show-types --color=never -f "${files[@]}" 2>&1)
    rc=$?
    echo "$out"
    errors=$(grep -c '^ERROR:' <<<"$out")
    warnings=$(grep -c '^WARNING:' <<<"$out")
    checks=$(grep -c '^CHECK:' <<<"$out")
    # One summary per file, or checkpatch did not look at them all.
    summaries=$(grep -c '^total: ' <<<"$out")
    echo "kernel-lint: checkpatch --strict: $errors errors, $warnings warnings, $checks checks in $# file(s)"
    [ "$summaries" -eq "$#" ] || die "checkpatch summarised $summaries of $# files"
    [ "$rc" -eq 0 ] && [ $((errors + warnings + checks)) -eq 0 ]
    ;;
  sparse)
    kbuild=${1:?kernel build dir}
    work=${2:?work dir}
    shift 2
    make_args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do make_args+=("$1"); shift; done
    [ $# -gt 0 ] || die "sparse: no '--' before the files"
    shift
    command -v sparse >/dev/null || die "sparse is not installed: run ci/install-deps.sh"
    [ -f "$kbuild/Makefile" ] || die "no kernel build tree at $kbuild: build the guest_kernel target"
    rm -rf "$work"
    mkdir -p "$work"
    cp "$@" "$work/" || die "cannot copy the sources into $work"
    out=$(env MAKEFLAGS= make -C "$kbuild" M="$work" "${make_args[@]}" C=2 CHECK=sparse \
          KBUILD_MODPOST_WARN=1 modules 2>&1)
    rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] || die "the module build under sparse failed (exit $rc)"
    # Findings in the kernel's own headers (e.g. hyperv.h's "array of flexible
    # structures") are not the module's to fix: shown, not counted.
    kernel_tree=$(dirname "$(realpath "$kbuild")")
    finding='^[^ ]+:[0-9]+:[0-9]+: (warning|error):'
    total=$(grep -cE "$finding" <<<"$out")
    theirs=$(grep -E "$finding" <<<"$out" | grep -cF "$kernel_tree/")
    ours=$((total - theirs))
    echo "kernel-lint: sparse: $ours warning(s) or error(s) in the module's files" \
         "($theirs more in the kernel's headers, not counted)"
    [ "$ours" -eq 0 ]
    ;;
  *) die "unknown mode '$mode' (checkpatch or sparse)" ;;
esac
