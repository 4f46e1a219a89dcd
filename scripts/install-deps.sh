#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian 12 packages the build and the QEMU test tiers need.
# Never a linux-image package (see PACKAGES).
#
# Usage: scripts/install-deps.sh [--check]
#   --check   only report missing packages (exit 1 if any), install nothing
#
# Idempotent and fast: dpkg-query decides first, and apt is not touched at
# all when every package is already installed (the common case on a reused
# machine). CI machines start fresh, so this is the one place that knows the
# package list. Extra packages can be added with EXTRA_DEPS="pkg1 pkg2".
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# No linux-image package: the guest kernels (images, modules, the headers
# the module is built against) are downloaded and unpacked into the cache
# by scripts/kernels.sh setup, so the host's boot entries never change.
PACKAGES=(
	# bookworm's 6.1 headers only (no image, nothing to boot): what the
	# DKMS and package tiers build the installed module against, as an
	# administrator's machine would. Not the 6.12 backport's headers:
	# linux-headers-6.12.*-amd64 depends on its linux-image package.
	linux-headers-amd64
	# Kernel sources for KUnit, debug kernels and checkpatch.pl.
	linux-source-6.1 linux-source-6.12
	# Module build toolchain (kbuild needs bc/flex/bison/libelf/libssl).
	gcc make bc flex bison libelf-dev libssl-dev kmod sparse dkms
	# make style checks the benchmark reports (scripts/*.py).
	pyflakes3
	# QEMU tier: emulator, guest userland, initramfs tooling, compressors
	# for the kernels' .ko.xz/.ko.zst modules, sid build chroot.
	qemu-system-x86 busybox-static cpio xz-utils zstd debootstrap
	# Userspace tests (static liburing.a), helpers.
	liburing-dev python3 iproute2 git ca-certificates
	# make demo: the HTTP client, copied into the guest with its libraries;
	# its load step: wrk, and nginx (sendfile) to compare the server with.
	curl wrk nginx-light
	# make deb, the deb tier: the source package in debian/ (debhelper
	# compat 13, dh-sequence-dkms), lintian, and what the tier compiles
	# against the installed library (pkg-config, C++ for <iopbuf.h>).
	debhelper dh-dkms dpkg-dev fakeroot lintian pkgconf g++
	# make style: shellcheck over every script, man --warnings (groff)
	# over the man pages (make -C lib check-man).
	shellcheck man-db groff-base
)

missing_packages() {
	local pkg status
	for pkg in "${PACKAGES[@]}" ${EXTRA_DEPS:-}; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null) || status=
		[ "$status" = installed ] || printf '%s\n' "$pkg"
	done
}

main() {
	local -a missing
	mapfile -t missing < <(missing_packages)
	if [ "${#missing[@]}" -eq 0 ]; then
		log "all ${#PACKAGES[@]} packages present"
		return 0
	fi
	if [ "${1:-}" = --check ]; then
		log "missing: ${missing[*]}"
		return 1
	fi
	need_root
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Lists on a fresh machine are empty or stale; one update is enough.
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

main "$@"
