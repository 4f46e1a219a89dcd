#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build iouring_pbuf.ko for one kernel of the matrix, out of tree.
#
# Usage: scripts/build-module.sh RELEASE OUTDIR [MAKE_ARG...]
#   RELEASE   a release string or alias (6.1, 6.12, sid; see kernels.sh)
#   OUTDIR    receives iouring_pbuf.ko and build.log
#   MAKE_ARG  extra arguments for make, e.g. W=1 or C=2
#
# The module sources are copied into a scratch dir (inside the sid chroot
# for sid, whose headers need sid's gcc), so the source tree is never
# written to and builds for different kernels cannot see each other's
# objects or generated compat headers. Then `make KDIR=<headers>` runs there.
#
# Fails (exit 1) if the build fails, prints any "warning:" line (compiler,
# modpost or the Makefile's own probes; case-insensitive), or produces a
# module whose vermagic does not match RELEASE.
#
# Environment: KEEP_BUILD=1 keeps the scratch dir (path is logged);
#              BUILD_JOBS=N parallel make jobs (default: nproc).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# What the module build reads. Paths that do not exist are skipped, so the
# list can name optional pieces (kunit/, scripts/conftest.sh).
BUILD_PATHS=(Kbuild Makefile module include uapi kunit scripts/conftest.sh dkms.conf)

# Build products and generated headers are left behind: each kernel's build
# must regenerate them (a stale include/generated/ from another kernel's
# compat probes would silently pick the wrong API).
COPY_EXCLUDES=(--exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c'
	--exclude='.*.cmd' --exclude='*.symvers' --exclude='modules.order'
	--exclude='include/generated' --exclude='.tmp_versions')

KERNELS_SH=$LIB_DIR/kernels.sh
SCRATCH=

usage() {
	sed -n '3,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

cleanup() {
	remove_scratch "$SCRATCH" "${KEEP_BUILD:-0}" "build dir"
}

copy_sources() {
	local dest=$1 p
	local -a present=()
	for p in "${BUILD_PATHS[@]}"; do
		if [ -e "$SRC_DIR/$p" ]; then present+=("$p"); fi
	done
	[ -e "$SRC_DIR/Makefile" ] || die "$SRC_DIR/Makefile not found"
	tar -C "$SRC_DIR" "${COPY_EXCLUDES[@]}" -cf - "${present[@]}" | tar -C "$dest" -xf -
}

main() {
	[ "$#" -ge 2 ] || { usage >&2; exit 1; }
	case $1 in -h | --help) usage; exit 0 ;; esac
	local release out chroot kdir builddir log rc=0
	release=$("$KERNELS_SH" resolve "$1")
	out=$2
	shift 2
	[ "$(printf '%s\n' "$release" | wc -l)" -eq 1 ] || die "'$release' is not one kernel"
	chroot=$("$KERNELS_SH" chroot "$release")
	kdir=$("$KERNELS_SH" kdir "$release")

	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	log=$out/build.log
	trap cleanup EXIT
	if [ -n "$chroot" ]; then
		mkdir -p "$chroot/build"
		SCRATCH=$(mktemp -d "$chroot/build/${MODULE_NAME}.XXXXXX")
		builddir=/build/${SCRATCH##*/}
	else
		SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/${MODULE_NAME}-build.XXXXXX")
		builddir=$SCRATCH
	fi
	copy_sources "$SCRATCH"
	rm -f "$out/$MODULE_NAME.ko"

	log "building $MODULE_NAME for $release (KDIR=$kdir${*:+ $*})"
	# kernels.sh run = plain exec on the host, chroot with /proc for sid.
	"$KERNELS_SH" run "$release" make -C "$builddir" -j"${BUILD_JOBS:-$(nproc)}" \
		KDIR="$kdir" "$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$log" >&2
		die "build for $release failed (exit $rc, log: $log)"
	fi
	if grep -qi 'warning:' "$log"; then
		grep -i 'warning:' "$log" >&2
		die "build for $release printed warnings (log: $log)"
	fi
	[ -f "$SCRATCH/$MODULE_NAME.ko" ] || die "no $MODULE_NAME.ko after building for $release"
	check_vermagic "$SCRATCH/$MODULE_NAME.ko" "$release"
	cp "$SCRATCH/$MODULE_NAME.ko" "$out/$MODULE_NAME.ko"
	log "ok: $out/$MODULE_NAME.ko"
}

main "$@"
