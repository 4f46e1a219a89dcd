#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian packages of iouring-pbuf, from the source package in debian/
# (debhelper-compat 13, dh-sequence-dkms), built with
# `dpkg-buildpackage -us -uc -b` in a copy of the tree (build/deb/src), so
# the source tree stays clean; the packages land in build/deb/:
#
#   iouring-pbuf-dkms_V-R_all.deb      the module's sources in
#                                      /usr/src/iouring-pbuf-V, registered
#                                      with DKMS by dh_dkms's maintainer
#                                      scripts, a udev rule, modules-load.d
#                                      and modprobe.d examples,
#                                      iopbuf-stat (/usr/bin, man page)
#   libiouring-pbuf0_V-R_ARCH.deb      the shared library (soname .so.0,
#                                      symbols file)
#   libiouring-pbuf-dev_V-R_ARCH.deb   static library, .so link, headers
#                                      (<iopbuf.h>; <linux/iouring_pbuf.h>
#                                      in /usr/include/iouring-pbuf),
#                                      pkg-config file, man pages, examples
#
# V is PACKAGE_VERSION of dkms.conf (debian/changelog must agree).
#
#   scripts/deb.sh [build]   build the packages (make deb), print lintian's
#                            findings on them
#   scripts/deb.sh test      build them; lintian must report no error and no
#                            warning; install them with apt-get (DKMS builds
#                            the module), build the examples against the
#                            installed library with pkg-config, compile
#                            <iopbuf.h> first as C99, C11 -pedantic and C++17,
#                            purge and check nothing is left; root; ends
#                            with "deb: N passed, N failed, 0 skipped"
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

top=$(cd "$(dirname "$0")/.." && pwd)
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$top/dkms.conf")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
debversion=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
out=$top/build/deb
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib_packages=(libiouring-pbuf0 libiouring-pbuf-dev)

log() { echo "deb: $*" >&2; }
die() { log "error: $*"; exit 1; }

check_version() {
	check_pbuf_version "$version" "$top"
	[ "${debversion%-*}" = "$version" ] ||
		die "debian/changelog version $debversion is not $version-N"
}

# The source tree as git sees it (tracked and new files, not ignored ones,
# so no build product), or without git everything but build/ and .git.
copy_tree() {
	local dest=$1
	mkdir -p "$dest"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$top" && git ls-files -z -c -o --exclude-standard |
			while IFS= read -r -d '' f; do
				if [ -e "$f" ]; then printf '%s\0' "$f"; fi
			done |
			tar --null -T - -cf -) | tar -C "$dest" -xf -
	else
		tar -C "$top" --exclude=./build --exclude=./.git -cf - . |
			tar -C "$dest" -xf -
	fi
}

# lintian on every built package; its output on stdout. --fail-on makes
# errors and warnings fail (overrides, each with its reason, are in
# debian/*.lintian-overrides).
run_lintian() {
	lintian --fail-on error,warning --display-info --tag-display-limit 0 \
		"$out"/*.deb
}

do_build() {
	local work
	command -v dpkg-buildpackage >/dev/null ||
		die "dpkg-buildpackage is missing (make deps)"
	check_version
	rm -rf "$out"
	work=$out/src/$name-$version
	copy_tree "$work"
	log "dpkg-buildpackage -us -uc -b in $work (log: $out/build.log)"
	if ! (cd "$work" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
		tail -n 40 "$out/build.log" >&2
		die "dpkg-buildpackage failed (log: $out/build.log)"
	fi
	mv "$out"/src/*.deb "$out"/src/*.buildinfo "$out"/src/*.changes "$out/"
	rm -rf "$out/src"
	log "built:"
	ls -1 "$out"/*.deb >&2
	if [ "${1:-}" != quiet ] && command -v lintian >/dev/null; then
		log "lintian:"
		run_lintian >&2 || log "lintian reports errors or warnings"
	fi
}

# --- test ---------------------------------------------------------------------

pass=0
fail=0
dir=		# scratch directory of the test
ok() { echo "PASS: deb: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: deb: $*"; fail=$((fail + 1)); }
check() {	# check DESCRIPTION CMD...
	local what=$1
	shift
	if "$@" >"$out/check.log" 2>&1; then
		ok "$what"
	else
		bad "$what"
		sed 's/^/  | /' "$out/check.log" | tail -n 30
	fi
}

# The kernels dh_dkms's postinst (/usr/lib/dkms/common.postinst) builds
# for: the running one and the newest installed one, or -- when the
# running kernel is not installed (a container, a chroot) -- every kernel
# in /lib/modules; of those, the ones with headers.
expected_kernels() {
	local k newest
	if [ -d "/lib/modules/$(uname -r)" ]; then
		newest=$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' |
			sort -V | tail -n 1)
		for k in $(dkms_kernels); do
			case $k in "$(uname -r)" | "$newest") echo "$k" ;; esac
		done
	else
		dkms_kernels
	fi
}

# apt-get that waits for other users of the dpkg lock (5 minutes)
apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@"
}

purge() {
	apt_get purge iouring-pbuf-dkms "${lib_packages[@]}"
}

module_files() {
	find /lib/modules/*/updates -name 'iouring_pbuf.ko*' 2>/dev/null
}

compile_examples() {
	local dir=$1 ex=/usr/share/doc/libiouring-pbuf-dev/examples
	cp "$ex"/*.c "$ex"/Makefile "$dir/"
	# shellcheck disable=SC2046 # pkg-config output is a word list
	cc -O2 -Wall -Wextra -Werror -o "$dir/fileserver" "$dir/fileserver.c" \
		$(pkg-config --cflags --libs iouring-pbuf) ||
		{ echo "shared build of fileserver.c failed"; return 1; }
	ldd "$dir/fileserver" | grep 'libiouring-pbuf\.so\.0 => /' ||
		{ ldd "$dir/fileserver"; echo "libiouring-pbuf.so.0 not found"; return 1; }
	# shellcheck disable=SC2046
	cc -O2 -Wall -Wextra -Werror -static -o "$dir/echo" "$dir/echo.c" \
		$(pkg-config --static --cflags --libs iouring-pbuf) ||
		{ echo "static build of echo.c failed"; return 1; }
	rm -f "$dir/fileserver" "$dir/echo"
	make -C "$dir" ||
		{ echo "the examples' Makefile failed"; return 1; }
}

# A program linked against the shared library runs (the device need not be
# there: -ENOENT is an answer too).
run_probe() {
	local dir=$1
	cat >"$dir/probe.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <iopbuf.h>

int main(void)
{
	struct iopbuf_probe p;
	int dev = iopbuf_open();

	if (dev < 0) {
		printf("no device: %s\n", strerror(-dev));
		return dev == -ENOENT ? 0 : 1;
	}
	return iopbuf_check(dev, IOPBUF_FEAT_RING, &p) ? 1 : 0;
}
EOF
	# shellcheck disable=SC2046
	cc -o "$dir/probe" "$dir/probe.c" $(pkg-config --cflags --libs iouring-pbuf) &&
		"$dir/probe"
}

stat_runs() {
	local dir=$1 c rc=0
	mkdir -p "$dir/sysfs"
	IOPBUF_SYSFS=$dir/nonexistent iopbuf-stat || rc=$?
	[ "$rc" -eq 1 ] || { echo "exit $rc without the module, want 1"; return 1; }
	for c in pinned_pages charged_pages contexts inflight notifs cache_misses; do
		echo "${#c}" >"$dir/sysfs/$c"
	done
	IOPBUF_SYSFS=$dir/sysfs iopbuf-stat -m | tee "$dir/stat.out"
	grep -qx 'module: pinned_pages 12 charged_pages 13 contexts 8 inflight 8 notifs 6 cache_misses 12' \
		"$dir/stat.out"
}

do_test() {
	local k got ks
	[ "$(id -u)" -eq 0 ] || die "test must run as root (apt-get, dkms)"
	do_build quiet
	check "lintian: no error, no warning on $(cd "$out" && echo *.deb)" run_lintian
	if [ -n "$(dkms status -m "$name" 2>/dev/null)" ]; then
		bad "DKMS already has $name (make dkms-remove first); not testing"
		echo "deb: $pass passed, $fail failed, 0 skipped"
		return 1
	fi
	dir=$(mktemp -d)
	# whatever happens, leave no package behind
	trap 'purge >/dev/null 2>&1 || true; rm -rf "${dir:-}"' EXIT

	check "apt-get install ./build/deb/iouring-pbuf-dkms_*.deb" \
		apt_get install "$out"/iouring-pbuf-dkms_"$debversion"_all.deb
	mapfile -t ks < <(expected_kernels)
	[ "${#ks[@]}" -gt 0 ] || bad "no kernel with headers to build for"
	for k in "${ks[@]}"; do
		got=$(modinfo -k "$k" -F version iouring_pbuf 2>/dev/null || true)
		if [ "$got" = "$version" ] &&
			modinfo -k "$k" -n iouring_pbuf | grep -q "^/lib/modules/$k/updates/"; then
			ok "DKMS built and installed $name $version for $k"
		else
			bad "modinfo -k $k iouring_pbuf: version '$got', want $version"
		fi
	done
	check "udev rule and modules-load.d example installed" \
		test -f /lib/udev/rules.d/70-iouring-pbuf.rules -a \
		-f /usr/share/doc/iouring-pbuf-dkms/examples/modules-load.d/iouring-pbuf.conf
	# The host has no module loaded: exit 1 with the reason; with a stand-in
	# sysfs directory the counters line (tests/iopbuf_stat.c runs it against
	# the module in the guests).
	check "iopbuf-stat installed, with iopbuf-stat(1) and tracing.md" \
		test -x /usr/bin/iopbuf-stat -a -e /usr/share/man/man1/iopbuf-stat.1.gz \
		-a -e /usr/share/doc/iouring-pbuf-dkms/tracing.md.gz
	check "iopbuf-stat: exit 1 without the module, counters from sysfs" \
		stat_runs "$dir"
	check "apt-get install ./build/deb/libiouring-pbuf{0,-dev}_*.deb" \
		apt_get install "$out"/libiouring-pbuf0_"$debversion"_"$arch".deb \
		"$out"/libiouring-pbuf-dev_"$debversion"_"$arch".deb
	check "the ABI header is in /usr/include/iouring-pbuf/linux, not in linux-libc-dev's /usr/include/linux" \
		test -f /usr/include/iouring-pbuf/linux/iouring_pbuf.h -a \
		! -e /usr/include/linux/iouring_pbuf.h
	check "pkg-config iouring-pbuf is version $version" \
		test "$(pkg-config --modversion iouring-pbuf)" = "$version"
	check "examples build against the installed library (pkg-config, shared and static)" \
		compile_examples "$dir"
	check "a program linked with -liouring-pbuf runs" run_probe "$dir"
	check "the installed <iopbuf.h> compiles first: C99, C11 -pedantic, C++17" \
		make -s -C "$top/lib" check-headers \
		HEADER_CPPFLAGS="$(pkg-config --cflags iouring-pbuf)"
	check "man pages installed (iouring_pbuf(7), iopbuf_prep_send(3) and its aliases)" \
		test -e /usr/share/man/man7/iouring_pbuf.7.gz -a \
		-e /usr/share/man/man3/iopbuf_prep_send.3.gz -a \
		-e /usr/share/man/man3/iopbuf_prep_recv.3.gz

	check "apt-get purge" purge
	check "/var/lib/dkms holds no $name" test ! -e "/var/lib/dkms/$name"
	check "DKMS no longer knows $name" \
		test -z "$(dkms status -m "$name" 2>/dev/null)"
	check "/usr/src holds no $name" \
		test -z "$(find /usr/src -maxdepth 1 -name "$name-*" -print -quit)"
	check "/lib/modules/*/updates hold no iouring_pbuf.ko" \
		test -z "$(module_files)"
	mapfile -t ks < <(dkms_kernels)
	for k in "${ks[@]}"; do
		check "modinfo -k $k finds no iouring_pbuf" \
			bash -c "! modinfo -k '$k' iouring_pbuf"
	done
	check "headers, libraries, pkg-config file and iopbuf-stat gone" \
		test ! -e /usr/bin/iopbuf-stat -a ! -e /usr/include/iopbuf.h -a ! -e /usr/include/iouring-pbuf \
		-a -z "$(find /usr/lib -name 'libiouring-pbuf*' -print -quit)" \
		-a ! -e "/usr/lib/$multiarch/pkgconfig/iouring-pbuf.pc"
	check "dpkg knows none of the packages" \
		bash -c "! dpkg-query -W -f='\${db:Status-Status}\n' iouring-pbuf-dkms ${lib_packages[*]} 2>/dev/null | grep -qv '^not-installed\$'"
	echo "deb: $pass passed, $fail failed, 0 skipped"
	[ "$fail" -eq 0 ]
}

case "${1:-build}" in
build) do_build ;;
test) do_test ;;
*) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac
