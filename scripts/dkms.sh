#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS helpers.
#
#   scripts/dkms.sh install   copy the sources to /usr/src/iouring-pbuf-VERSION,
#                             register them with DKMS and build and install the
#                             module for every installed kernel with headers;
#                             a kernel DKMS declines with exit 77 (its headers
#                             are incomplete, or BUILD_EXCLUSIVE_KERNEL rules
#                             it out) is skipped with a note
#   scripts/dkms.sh remove    remove what `install` installed: the versions
#                             whose /usr/src directory carries its marker
#                             (.installed-by-dkms.sh), from DKMS and /usr/src;
#                             the iouring-pbuf-dkms package's files and DKMS
#                             registration are left alone (apt purge them)
#   scripts/dkms.sh test      install, check modinfo of the installed module
#                             for each kernel, remove, check it is gone;
#                             prints "dkms: N passed, N failed, N skipped"
#                             (a kernel DKMS declined is a skip);
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
# what `install` leaves in the sources it copied, so `remove` deletes only those
marker=.installed-by-dkms.sh
# kernels `install` skipped (DKMS exit 77)
skipped=()
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
	return 0
}

do_remove() {
	local d v
	for d in /usr/src/"$name"-*; do
		[ -f "$d/$marker" ] || continue
		v=${d#/usr/src/"$name"-}
		if [ -n "$(dkms status -m "$name" -v "$v" 2>/dev/null)" ]; then
			dkms remove -m "$name" -v "$v" --all || true
		fi
		rm -rf "$d"
	done
}

do_install() {
	local k p rc owner
	check_version
	command -v dkms >/dev/null || die "dkms is not installed (make deps)"
	owner=$(dpkg-query -S "$src" 2>/dev/null | cut -d: -f1 || true)
	[ -z "$owner" ] ||
		die "$src belongs to the package $owner: use it, or apt purge it first"
	do_remove
	[ ! -e "$src" ] ||
		die "$src exists and was not installed by dkms.sh; remove it first"
	mkdir -p "$src/scripts"
	for p in "${sources[@]}"; do
		cp -r "$top/$p" "$src/$p"
	done
	rm -rf "$src/include/generated"
	echo "installed by scripts/dkms.sh install; scripts/dkms.sh remove deletes it" \
		>"$src/$marker"
	dkms add -m "$name" -v "$version"
	for k in $(kernels); do
		rc=0
		dkms build -m "$name" -v "$version" -k "$k" || rc=$?
		case $rc in
		0) ;;
		77)
			echo "dkms: $k skipped: DKMS declined it (exit 77: headers incomplete or BUILD_EXCLUSIVE)" >&2
			skipped+=("$k")
			continue
			;;
		*) die "dkms build for $k failed (exit $rc)" ;;
		esac
		dkms install -m "$name" -v "$version" -k "$k" --force
	done
}

do_test() {
	local k got pass=0 fail=0 skip=0
	if [ -z "$(kernels)" ]; then
		echo "FAIL: dkms: no kernel with a build tree (/lib/modules/*/build): nothing to test"
		echo "dkms: 0 passed, 1 failed, 0 skipped"
		return 1
	fi
	do_install
	for k in $(kernels); do
		got=$(modinfo -k "$k" -F version iouring_pbuf 2>/dev/null || true)
		if [[ " ${skipped[*]} " == *" $k "* ]]; then
			echo "SKIP: dkms $k: DKMS declined the kernel (exit 77)"
			skip=$((skip + 1))
		elif [ "$got" = "$version" ]; then
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
	if [ -e "$src" ]; then
		echo "FAIL: dkms: $src still there after remove"
		fail=$((fail + 1))
	fi
	if [ $((pass + fail)) -eq 0 ]; then
		echo "FAIL: dkms: no result"
		fail=1
	fi
	echo "dkms: $pass passed, $fail failed, $skip skipped"
	[ "$fail" -eq 0 ]
}

case "${1:-}" in
install) do_install ;;
remove) do_remove ;;
test) do_test ;;
*) echo "usage: $0 install|remove|test" >&2; exit 2 ;;
esac
