#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS helpers.
#
#   scripts/dkms.sh install   copy the sources to /usr/src/iouring-pbuf-VERSION,
#                             register them with DKMS and build and install the
#                             module for every installed kernel with headers
#   scripts/dkms.sh remove    remove every version from DKMS and /usr/src
#   scripts/dkms.sh test      install, check modinfo of the installed module
#                             for each kernel, remove, check it is gone;
#                             prints "dkms: N passed, N failed, 0 skipped";
#                             no kernel with headers is a failure
#
# With Secure Boot, DKMS signs the module with its MOK key
# (/var/lib/dkms/mok.key); enrol it once with `mokutil --import
# /var/lib/dkms/mok.pub` and reboot.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$top/dkms.conf")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
src=/usr/src/$name-$version
# What DKMS needs to build: the module sources and the probe script.
sources=(Kbuild Makefile dkms.conf module include uapi scripts/conftest.sh)

die() { echo "dkms: $*" >&2; exit 1; }

check_version() {
	local mod
	mod=$(sed -n 's/^#define PBUF_VERSION[[:space:]]*"\(.*\)"/\1/p' \
		"$top/include/pbuf.h")
	[ "$mod" = "$version" ] ||
		die "dkms.conf version $version != PBUF_VERSION $mod"
}

# Kernels with a build tree DKMS can use.
kernels() {
	local d
	for d in /lib/modules/*/build; do
		[ -e "$d/Makefile" ] && basename "$(dirname "$d")"
	done
}

do_remove() {
	local v
	for v in $(dkms status -m "$name" 2>/dev/null |
		   sed -n "s|^$name/\([^,:]*\).*|\1|p" | sort -u); do
		dkms remove -m "$name" -v "$v" --all || true
	done
	rm -rf /usr/src/"$name"-*
}

do_install() {
	local k p
	check_version
	command -v dkms >/dev/null || die "dkms is not installed (make deps)"
	do_remove
	mkdir -p "$src/scripts"
	for p in "${sources[@]}"; do
		cp -r "$top/$p" "$src/$p"
	done
	rm -rf "$src/include/generated"
	dkms add -m "$name" -v "$version"
	for k in $(kernels); do
		dkms build -m "$name" -v "$version" -k "$k"
		dkms install -m "$name" -v "$version" -k "$k" --force
	done
}

do_test() {
	local k got pass=0 fail=0
	if [ -z "$(kernels)" ]; then
		echo "FAIL: dkms: no kernel with a build tree (/lib/modules/*/build): nothing to test"
		echo "dkms: 0 passed, 1 failed, 0 skipped"
		return 1
	fi
	do_install
	for k in $(kernels); do
		got=$(modinfo -k "$k" -F version iouring_pbuf 2>/dev/null || true)
		if [ "$got" = "$version" ]; then
			echo "PASS: dkms $k: modinfo version $got"
			pass=$((pass + 1))
		else
			echo "FAIL: dkms $k: modinfo version '$got', want $version"
			fail=$((fail + 1))
		fi
	done
	do_remove
	for k in $(kernels); do
		if modinfo -k "$k" iouring_pbuf >/dev/null 2>&1; then
			echo "FAIL: dkms $k: module still installed after remove"
			fail=$((fail + 1))
		else
			echo "PASS: dkms $k: removed"
			pass=$((pass + 1))
		fi
	done
	if [ $((pass + fail)) -eq 0 ]; then
		echo "FAIL: dkms: no result"
		fail=1
	fi
	echo "dkms: $pass passed, $fail failed, 0 skipped"
	[ "$fail" -eq 0 ]
}

case "${1:-}" in
install) do_install ;;
remove) do_remove ;;
test) do_test ;;
*) echo "usage: $0 install|remove|test" >&2; exit 2 ;;
esac
