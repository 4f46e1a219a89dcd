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

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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
	check_pbuf_version "$version" "$top"
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
	for k in $(dkms_kernels); do
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

# A test result: "PASS: dkms MSG" (FAIL, SKIP) and its count.
pass=0
fail=0
skip=0
ok() { echo "PASS: dkms $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: dkms $*"; fail=$((fail + 1)); }
skipped_note() { echo "SKIP: dkms $*"; skip=$((skip + 1)); }

do_test() {
	local k got
	if [ -z "$(dkms_kernels)" ]; then
		echo "FAIL: dkms: no kernel with a build tree (/lib/modules/*/build): nothing to test"
		echo "dkms: 0 passed, 1 failed, 0 skipped"
		return 1
	fi
	do_install
	for k in $(dkms_kernels); do
		got=$(modinfo -k "$k" -F version iouring_pbuf 2>/dev/null || true)
		if [[ " ${skipped[*]} " == *" $k "* ]]; then
			skipped_note "$k: DKMS declined the kernel (exit 77)"
		elif [ "$got" = "$version" ]; then
			ok "$k: modinfo version $got"
		else
			bad "$k: modinfo version '$got', want $version"
		fi
	done
	do_remove
	for k in $(dkms_kernels); do
		if modinfo -k "$k" iouring_pbuf >/dev/null 2>&1; then
			bad "$k: module still installed after remove"
		else
			ok "$k: removed"
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
