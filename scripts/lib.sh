# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the kernel-matrix scripts (kernels.sh, build-module.sh,
# vm-test.sh, install-deps.sh, ...) and the packaging ones (dkms.sh, deb.sh).
# Source it after `set -euo pipefail`.
# shellcheck shell=bash

# Let `set -e` reach into $(...) too, so a failing lookup inside a command
# substitution stops the script instead of yielding an empty string.
shopt -s inherit_errexit

# The repository root: the parent of this scripts/ directory. Resolved
# logically (no readlink -f) so a symlinked scripts/ dir in a scratch checkout
# still points at that checkout. SRC_DIR overrides it.
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=${SRC_DIR:-$(cd "$LIB_DIR/.." && pwd)}

# Everything downloaded or generated per kernel lives outside the repository,
# keyed by kernel release, so re-runs are cheap and nothing leaks into git.
# shellcheck disable=SC2034 # used by the scripts that source this file
CACHE_DIR=${IOURING_PBUF_CACHE:-/var/cache/iouring-pbuf}

# The module file name every script agrees on.
# shellcheck disable=SC2034
MODULE_NAME=iouring_pbuf

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (apt, chroot, mount)"
}

# A kernel's short name for prefixes: major.minor of its release
# (6.1.0-56-amd64 -> 6.1, 6.12.117+deb12-amd64 -> 6.12, 7.2.13+deb14 -> 7.2),
# plus the flavour of the PREEMPT_RT and debug kernels, which share a
# major.minor with another kernel of the matrix
# (6.12.117+deb12-rt-amd64 -> 6.12-rt, 6.12.117-iopbuf-debug -> 6.12-debug).
short_name() {
	local r=${1%%[-+]*} flavour=
	case $1 in
	*-rt-*) flavour=-rt ;;
	*-iopbuf-debug) flavour=-debug ;;
	esac
	printf '%s%s\n' "$(printf '%s' "$r" | cut -d. -f1-2)" "$flavour"
}

# The vermagic release of a built module (first word of modinfo's vermagic),
# e.g. "6.1.0-56-amd64". Host modinfo reads any x86-64 module's .modinfo.
module_vermagic_release() {
	modinfo -F vermagic "$1" | awk '{print $1; exit}'
}

# Fail unless MODULE was built for RELEASE: a mismatch would only show up as
# an "invalid module format" inside the guest, after a slow boot.
check_vermagic() {
	local ko=$1 release=$2 got
	got=$(module_vermagic_release "$ko") || die "modinfo failed on $ko"
	[ "$got" = "$release" ] ||
		die "$ko: vermagic release '$got' does not match kernel '$release'"
}

# Run CMD... with its output in LOG, and while it runs print on stderr, at
# least every PROGRESS_SECONDS (30), how long it has taken, where the log
# is and the log's last line, so that a long build (the debug kernel,
# KUnit's UML kernels) never looks hung. Returns CMD's status.
progress_run() {
	local what=$1 logf=$2 start pid ticker rc=0
	shift 2
	start=$(date +%s)
	"$@" >"$logf" 2>&1 &
	pid=$!
	# The ticker kills its own sleep when stopped, so nothing holds the
	# caller's stderr (a pipe into tee) open after we return.
	# shellcheck disable=SC2016 # $s is the subshell's
	(
		s=
		trap 'kill $s 2>/dev/null; exit 0' TERM
		while :; do
			sleep "${PROGRESS_SECONDS:-30}" &
			s=$!
			wait "$s"
			kill -0 "$pid" 2>/dev/null || exit 0
			printf '%s: %s: %d s so far (log: %s): %s\n' "${0##*/}" "$what" \
				$(($(date +%s) - start)) "$logf" \
				"$(tail -n 1 "$logf" 2>/dev/null | tr -d '\r' | cut -c1-100)" >&2
		done
	) &
	ticker=$!
	wait "$pid" || rc=$?
	kill "$ticker" 2>/dev/null || true
	wait "$ticker" 2>/dev/null || true
	return "$rc"
}

# Remove the scratch directory DIR (if there is one) unless KEEP is 1; then
# say where it is, as WHAT ("build dir", "scratch dir").
remove_scratch() {
	local dir=$1 keep=$2 what=$3
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	if [ "$keep" = 1 ]; then
		log "kept $what $dir"
	else
		rm -rf "$dir"
	fi
}

# Die unless VERSION (dkms.conf's PACKAGE_VERSION) is the module's
# PBUF_VERSION (include/pbuf.h of the tree TOP).
check_pbuf_version() {
	local version=$1 top=$2 mod
	mod=$(sed -n 's/^#define PBUF_VERSION[[:space:]]*"\(.*\)"/\1/p' \
		"$top/include/pbuf.h")
	[ "$mod" = "$version" ] ||
		die "dkms.conf version $version != PBUF_VERSION $mod"
}

# The installed kernels with a build tree DKMS can use, one release a line.
dkms_kernels() {
	local d
	for d in /lib/modules/*/build; do
		[ -e "$d/Makefile" ] && basename "$(dirname "$d")"
	done
	return 0
}
