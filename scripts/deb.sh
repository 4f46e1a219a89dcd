#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian packages of iouring-pbuf, built with dpkg-deb alone (no debhelper
# needed), into build/deb/:
#
#   iouring-pbuf-dkms_V-1_all.deb      the module's sources in
#                                      /usr/src/iouring-pbuf-V, registered
#                                      with DKMS by the maintainer scripts
#                                      (packaging/dkms/postinst, prerm), a
#                                      udev rule, modules-load.d and
#                                      modprobe.d examples
#   libiouring-pbuf0_V-1_ARCH.deb      the shared library (soname .so.0)
#   libiouring-pbuf-dev_V-1_ARCH.deb   static library, .so link, headers
#                                      (<iopbuf.h>, <linux/iouring_pbuf.h>),
#                                      pkg-config file, man pages, examples
#
# V is PACKAGE_VERSION of dkms.conf.
#
#   scripts/deb.sh [build]   build the packages (make deb)
#   scripts/deb.sh test      build them, install them with apt-get, check
#                            DKMS built the module for every kernel with
#                            headers, build the examples against the
#                            installed library with pkg-config, purge and
#                            check nothing is left; root; ends with
#                            "deb: N passed, N failed"
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$top/dkms.conf")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
debversion=$version-1
out=$top/build/deb
stage=$out/stage
arch=$(dpkg --print-architecture)
multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH)
maintainer=${DEB_MAINTAINER:-"iouring-pbuf maintainers <iouring-pbuf@localhost>"}
# what DKMS needs to build the module (as scripts/dkms.sh installs it)
module_sources=(Kbuild Makefile dkms.conf module include uapi scripts/conftest.sh)
lib_packages=(libiouring-pbuf0 libiouring-pbuf-dev)

log() { echo "deb: $*" >&2; }
die() { log "error: $*"; exit 1; }

check_version() {
	local mod
	mod=$(sed -n 's/^#define PBUF_VERSION[[:space:]]*"\(.*\)"/\1/p' \
		"$top/include/pbuf.h")
	[ "$mod" = "$version" ] ||
		die "dkms.conf version $version != PBUF_VERSION $mod"
}

# DEBIAN/md5sums of a staged package
md5sums() {
	(cd "$1" && find . -path ./DEBIAN -prune -o -type f -print0 |
		sed -z 's|^\./||' | LC_ALL=C sort -z | xargs -0r md5sum) \
		>"$1/DEBIAN/md5sums"
	[ -s "$1/DEBIAN/md5sums" ] || rm -f "$1/DEBIAN/md5sums"
}

installed_size() {
	du -sk --exclude=DEBIAN "$1" | cut -f1
}

# The doc directory every package needs: copyright and a changelog.
docs() {
	local dir=$1/usr/share/doc/$2
	install -d "$dir"
	install -m 644 "$top/packaging/copyright" "$dir/copyright"
	printf '%s (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- %s  %s\n' \
		"$name" "$debversion" \
		"$(git -C "$top" describe --always --dirty 2>/dev/null || echo 'the source tree')" \
		"$maintainer" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(date +%s)}")" |
		gzip -9n >"$dir/changelog.Debian.gz"
}

build_pkg() {
	local dir=$1
	md5sums "$dir"
	dpkg-deb --root-owner-group -Zxz --build "$dir" "$out" >/dev/null
}

stage_dkms() {
	local p=iouring-pbuf-dkms d=$stage/iouring-pbuf-dkms src f
	src=$d/usr/src/$name-$version
	install -d "$src/scripts" "$d/DEBIAN" "$d/lib/udev/rules.d"
	for f in "${module_sources[@]}"; do
		cp -r "$top/$f" "$src/$f"
	done
	rm -rf "$src/include/generated"
	find "$src" \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o \
		-name '*.mod' -o -name '*.mod.c' \) -delete
	install -m 644 "$top/packaging/dkms/70-iouring-pbuf.rules" \
		"$d/lib/udev/rules.d/70-iouring-pbuf.rules"
	docs "$d" $p
	install -m 644 "$top/packaging/dkms/README.Debian" "$d/usr/share/doc/$p/"
	cp -r "$top/packaging/dkms/examples" "$d/usr/share/doc/$p/examples"
	for f in postinst prerm; do
		sed -e "s/@NAME@/$name/" -e "s/@VERSION@/$version/" \
			"$top/packaging/dkms/$f" >"$d/DEBIAN/$f"
		chmod 755 "$d/DEBIAN/$f"
	done
	cat >"$d/DEBIAN/control" <<EOF
Package: $p
Version: $debversion
Architecture: all
Maintainer: $maintainer
Installed-Size: $(installed_size "$d")
Depends: dkms (>= 2.1.0.0)
Recommends: linux-headers-$arch | linux-headers
Section: kernel
Priority: optional
Description: provided-buffer rings over registered buffers for io_uring (DKMS)
 The iouring_pbuf kernel module serves /dev/iouring-pbuf: registered
 buffers, provided-buffer rings whose entries name slices of them,
 incremental consumption, bundles, receive and read into rings and
 zero-copy send from rings whose completion releases the buffers, through
 ioctl(2) and io_uring uring_cmd, on Linux 6.1 and newer.
 .
 This package provides the module's sources; DKMS builds the module for
 every installed kernel with headers. See iouring_pbuf(7) in
 libiouring-pbuf-dev.
EOF
}

stage_lib() {
	local inst=$stage/install d0=$stage/libiouring-pbuf0 \
		dd=$stage/libiouring-pbuf-dev libdir=/usr/lib/$multiarch f libc
	make -s -C "$top/lib" clean
	make -s -C "$top/lib" PREFIX=/usr LIBDIR="$libdir" DESTDIR="$inst" install

	# runtime: the soname and the real file
	install -d "$d0/DEBIAN" "$d0$libdir"
	mv "$inst$libdir"/libiouring-pbuf.so.* "$d0$libdir/"
	strip --strip-unneeded --remove-section=.comment "$d0$libdir"/libiouring-pbuf.so.*.*.*
	strip --strip-debug --remove-section=.comment "$inst$libdir"/libiouring-pbuf.a
	docs "$d0" libiouring-pbuf0
	libc=$(objdump -T "$d0$libdir"/libiouring-pbuf.so.*.*.* |
		sed -n 's/.*GLIBC_\([0-9.]*\).*/\1/p' | sort -uV | tail -n1)
	echo "libiouring-pbuf $SOVERSION libiouring-pbuf0 (>= $version)" \
		>"$d0/DEBIAN/shlibs"
	echo "activate-noawait ldconfig" >"$d0/DEBIAN/triggers"
	cat >"$d0/DEBIAN/control" <<EOF
Package: libiouring-pbuf0
Source: $name
Version: $debversion
Architecture: $arch
Multi-Arch: same
Maintainer: $maintainer
Installed-Size: $(installed_size "$d0")
Depends: libc6 (>= ${libc:-2.34})
Section: libs
Priority: optional
Description: library for the iouring-pbuf module (/dev/iouring-pbuf)
 libiouring-pbuf wraps the ABI of /dev/iouring-pbuf: probing, registered
 buffers, provided-buffer rings in the io_uring_buf_ring layout, and the
 setup of its io_uring commands, for applications using liburing.
 .
 This package contains the shared library.
EOF

	# development: everything else make install put there
	install -d "$dd/DEBIAN"
	cp -a "$inst/." "$dd/"
	rm -rf "$inst"
	# man pages compressed, alias pages (.so) as symlinks, as dh_installman
	for f in "$dd"/usr/share/man/man*/*; do
		if grep -q '^\.so ' "$f" && [ "$(wc -l <"$f")" = 1 ]; then
			ln -sf "$(sed -n 's|^\.so man[0-9]*/||p' "$f").gz" "$f.gz"
			rm "$f"
		else
			gzip -9n "$f"
		fi
	done
	docs "$dd" libiouring-pbuf-dev
	install -d "$dd/usr/share/doc/libiouring-pbuf-dev/examples"
	install -m 644 "$top/examples/fileserver.c" "$top/examples/echo.c" \
		"$dd/usr/share/doc/libiouring-pbuf-dev/examples/"
	cat >"$dd/usr/share/doc/libiouring-pbuf-dev/examples/Makefile" <<'EOF'
# The examples against the installed library.
CFLAGS ?= -O2 -g -Wall
CFLAGS += $(shell pkg-config --cflags iouring-pbuf)
LDLIBS += $(shell pkg-config --libs iouring-pbuf)
all: fileserver echo
clean:
	rm -f fileserver echo
EOF
	cat >"$dd/DEBIAN/control" <<EOF
Package: libiouring-pbuf-dev
Source: $name
Version: $debversion
Architecture: $arch
Multi-Arch: same
Maintainer: $maintainer
Installed-Size: $(installed_size "$dd")
Depends: libiouring-pbuf0 (= $debversion), liburing-dev (>= 2.3)
Recommends: pkgconf | pkg-config
Suggests: iouring-pbuf-dkms
Section: libdevel
Priority: optional
Description: library for the iouring-pbuf module - development files
 libiouring-pbuf wraps the ABI of /dev/iouring-pbuf: probing, registered
 buffers, provided-buffer rings in the io_uring_buf_ring layout, and the
 setup of its io_uring commands, for applications using liburing.
 .
 This package contains the headers (<iopbuf.h> and the module's ABI,
 <linux/iouring_pbuf.h>), the static library, the pkg-config file
 iouring-pbuf, the man pages (iouring_pbuf(7) and section 3) and two
 example programs.
EOF
}

do_build() {
	local p
	command -v dpkg-deb >/dev/null || die "dpkg-deb is missing"
	check_version
	rm -rf "$out"
	mkdir -p "$stage"
	SOVERSION=$(sed -n 's/^SOVERSION := //p' "$top/lib/Makefile")
	stage_dkms
	stage_lib
	for p in iouring-pbuf-dkms "${lib_packages[@]}"; do
		build_pkg "$stage/$p"
	done
	rm -rf "$stage"
	log "built:"
	ls -1 "$out"/*.deb >&2
	if command -v lintian >/dev/null; then
		lintian --no-tag-display-limit "$out"/*.deb >&2 || true
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

# Kernels with a build tree DKMS can use.
kernels() {
	local d
	for d in /lib/modules/*/build; do
		[ -e "$d/Makefile" ] && basename "$(dirname "$d")"
	done
	return 0
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

do_test() {
	local k got ks
	[ "$(id -u)" -eq 0 ] || die "test must run as root (apt-get, dkms)"
	do_build
	if dkms status -m "$name" 2>/dev/null | grep -q .; then
		bad "DKMS already has $name (make dkms-remove first); not testing"
		echo "deb: $pass passed, $fail failed"
		return 1
	fi
	dir=$(mktemp -d)
	# whatever happens, leave no package behind
	trap 'purge >/dev/null 2>&1 || true; rm -rf "${dir:-}"' EXIT

	check "apt-get install ./build/deb/iouring-pbuf-dkms_*.deb" \
		apt_get install "$out"/iouring-pbuf-dkms_"$debversion"_all.deb
	mapfile -t ks < <(kernels)
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
	check "apt-get install ./build/deb/libiouring-pbuf{0,-dev}_*.deb" \
		apt_get install "$out"/libiouring-pbuf0_"$debversion"_"$arch".deb \
		"$out"/libiouring-pbuf-dev_"$debversion"_"$arch".deb
	check "pkg-config iouring-pbuf is version $version" \
		test "$(pkg-config --modversion iouring-pbuf)" = "$version"
	check "examples build against the installed library (pkg-config, shared and static)" \
		compile_examples "$dir"
	check "a program linked with -liouring-pbuf runs" run_probe "$dir"
	check "man pages installed (iouring_pbuf(7), iopbuf_prep_send(3) and its aliases)" \
		test -e /usr/share/man/man7/iouring_pbuf.7.gz -a \
		-e /usr/share/man/man3/iopbuf_prep_send.3.gz -a \
		-e /usr/share/man/man3/iopbuf_prep_recv.3.gz

	check "apt-get purge" purge
	check "DKMS no longer knows $name" \
		test -z "$(dkms status -m "$name" 2>/dev/null)"
	check "/usr/src holds no $name" \
		test -z "$(find /usr/src -maxdepth 1 -name "$name-*" -print -quit)"
	check "/lib/modules/*/updates hold no iouring_pbuf.ko" \
		test -z "$(module_files)"
	for k in "${ks[@]}"; do
		check "modinfo -k $k finds no iouring_pbuf" \
			bash -c "! modinfo -k '$k' iouring_pbuf"
	done
	check "headers, libraries and pkg-config file gone" \
		test ! -e /usr/include/iopbuf.h -a ! -e /usr/include/linux/iouring_pbuf.h \
		-a -z "$(find /usr/lib -name 'libiouring-pbuf*' -print -quit)" \
		-a ! -e "/usr/lib/$multiarch/pkgconfig/iouring-pbuf.pc"
	check "dpkg knows none of the packages" \
		bash -c "! dpkg-query -W -f='\${db:Status-Status}\n' iouring-pbuf-dkms ${lib_packages[*]} 2>/dev/null | grep -qv '^not-installed\$'"
	echo "deb: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

case "${1:-build}" in
build) do_build ;;
test) do_test ;;
*) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac
