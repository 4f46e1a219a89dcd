#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel matrix: which kernels the module is built and tested against,
# and where their images, module trees and headers are.
#
# Matrix, in this order (release strings are resolved at run time, never
# hard-coded, so Debian point releases are picked up automatically):
#   6.1   bookworm's kernel           (what linux-image-amd64 depends on)
#   6.12  bookworm's 6.12 backport    (what linux-image-6.12-amd64 depends on)
#   sid   Debian sid's newest kernel  (what sid's linux-image-amd64 depends on)
#   rt    bookworm's 6.12 PREEMPT_RT  (what linux-image-6.12-rt-amd64 depends on)
#
# No kernel is installed on the host: every guest kernel is downloaded and
# unpacked (dpkg-deb -x) into the cache, where nothing boots it and no
# package database knows it. The bookworm kernels come through the system's
# own apt sources (apt-get download, or /var/cache/apt/archives when the
# .deb is already there): the image, its modules and the headers with
# their -common and linux-kbuild packages, under $CACHE_DIR/bookworm; the
# module builds against those headers on the host (bookworm's gcc).
# sid's kernel is fetched through a private apt configuration under
# $CACHE_DIR/sid (the system's sources are never touched) and unpacked
# there; its headers need sid's gcc, so its modules are built in a sid
# debootstrap chroot.
#
# Outside the matrix, only when named: `debug`, the KASAN/lockdep/kmemleak/
# fault-injection kernel scripts/debug-kernel.sh builds from
# linux-source-6.12 and caches under $CACHE_DIR/debug-kernel.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BW_DIR=$CACHE_DIR/bookworm
SID_DIR=$CACHE_DIR/sid
SID_APT=$SID_DIR/apt
SID_CHROOT=$SID_DIR/chroot
SID_RELEASE_FILE=$SID_DIR/release
# sid's package lists are refreshed at most this often (seconds), so a re-run
# is a no-op; `setup --refresh` forces it.
SID_REFRESH_SECONDS=${SID_REFRESH_SECONDS:-21600}
# Packages the sid chroot needs besides gcc and the headers: make/libc for
# kbuild, bash for scripts/conftest.sh (Essential anyway), kmod for modinfo,
# sparse for `make C=2` style checks. Changing this list makes the next
# setup install the difference into an existing chroot.
SID_CHROOT_PACKAGES=(make libc6-dev bash kmod sparse)

usage() {
	cat <<'EOF'
Usage: scripts/kernels.sh COMMAND [ARGS]

Commands:
  setup [--refresh]   install the host packages (scripts/install-deps.sh),
                      fetch and unpack the bookworm kernels (image, modules,
                      headers) and sid's newest kernel + build chroot into
                      $IOURING_PBUF_CACHE (default /var/cache/iouring-pbuf);
                      no linux-image package is installed on the host.
                      Re-runs are no-ops; sid's lists are re-read every
                      SID_REFRESH_SECONDS (21600) or with --refresh.
  list                release strings of the matrix, one per line, in order
                      6.1, 6.12, sid, rt (filtered by $KERNELS when set;
                      never the debug kernel unless $KERNELS names it)
  resolve TOKEN...    map tokens to release strings (see KERNELS below)
  vmlinuz RELEASE     path of the bootable kernel image
  moddir RELEASE      the kernel's module directory (holds kernel/ and
                      modules.dep; paths in modules.dep are relative to it)
  kdir RELEASE        headers build dir, as seen by the build environment
                      (for sid: the path inside the chroot)
  chroot RELEASE      the build chroot for RELEASE, or nothing (host build)
  short RELEASE       short name (major.minor), e.g. 6.12
  run RELEASE CMD...  run CMD in RELEASE's build environment: directly on
                      the host, or for sid inside the chroot with /proc
                      mounted in a private mount namespace

Environment:
  KERNELS   space/comma separated tokens selecting kernels for `list` and
            `setup`: aliases 6.1 (or bookworm), 6.12, sid, rt (or 6.12-rt),
            all (the matrix), debug (the debug kernel); an exact release; a
            glob on the matrix's releases (e.g. '6.*'); or any other kernel
            installed on the host (/boot/vmlinuz-R plus its headers).
            `setup` prepares only the kernels KERNELS names (all when unset):
            sid only when KERNELS is unset or names sid/all,
            and builds the debug kernel (scripts/debug-kernel.sh build, about
            15 min the first time) only when KERNELS names debug.
  SKIP_DEPS=1           do not run install-deps.sh in setup
  SID_MIRROR, SID_KEYRING  override the archive URI / keyring taken from
                        /etc/apt/sources.list.d/debian.sources
Exit status: 0 on success, 1 on error (message on stderr).
EOF
}

# --- bookworm kernels ---------------------------------------------------------

# The matrix's bookworm kernels: alias and the metapackage whose Depends
# names the release (linux-image-amd64 -> linux-image-6.1.0-57-amd64).
BW_ALIASES=(6.1 6.12 rt)
bw_meta() {
	case $1 in
	6.1) echo linux-image-amd64 ;;
	6.12) echo linux-image-6.12-amd64 ;;
	rt) echo linux-image-6.12-rt-amd64 ;;
	esac
}

# The release the metapackage's candidate depends on, from the system's apt
# lists (nothing needs to be installed).
bw_candidate_release() {
	local meta=$1
	apt-cache depends "$meta" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)$/\1/p' | head -n1 | grep . ||
		die "cannot resolve $meta's kernel release from apt's lists (apt-get update?)"
}

# The release setup prepared for ALIAS (recorded in $BW_DIR/release-ALIAS).
meta_release() {
	local alias=$1 f=$BW_DIR/release-$1
	[ -s "$f" ] || die "bookworm kernel '$alias' not prepared (run: KERNELS=$alias scripts/kernels.sh setup)"
	cat "$f"
}

bw_kernel_root() { printf '%s\n' "$BW_DIR/kernels/$1/root"; }

is_bookworm() {
	[ -e "$BW_DIR/kernels/$1/.done" ]
}

# The packages to unpack for RELEASE: the image (vmlinuz and modules), the
# headers and what they depend on (-common, linux-kbuild).
bw_packages() {
	local release=$1
	printf '%s\n' "linux-image-$release" "linux-headers-$release"
	apt-cache depends "linux-headers-$release" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ <>]*\)$/\1/p'
}

# PKG's candidate .deb into DIR: from apt's archive cache when it is there,
# else `apt-get download` (no installation, no dpkg database entry).
bw_fetch_deb() {
	local pkg=$1 dir=$2 ver f
	ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		die "$pkg is not in apt's lists"
	fi
	for f in /var/cache/apt/archives/"${pkg}_${ver//:/%3a}"_*.deb; do
		if [ -f "$f" ] && dpkg-deb -I "$f" >/dev/null 2>&1; then
			cp "$f" "$dir/"
			return 0
		fi
	done
	(cd "$dir" && apt-get -q -o APT::Sandbox::User=root download "$pkg=$ver" >/dev/null) ||
		die "apt-get download $pkg=$ver failed"
}

# Download and unpack RELEASE into $BW_DIR/kernels/RELEASE/root (about
# 120 MB downloaded, 550 MB unpacked), generate modules.dep, and point the
# headers' Makefile at the unpacked -common tree. Built aside and renamed:
# an interrupted run never looks done.
# The headers' Makefile is one line, "include /usr/src/linux-headers-R-
# common/Makefile": the only absolute path in them (scripts/ and tools/
# are relative links). Point it at ROOT's copy; again when the cache was
# copied or moved since.
bw_fix_headers() {
	local release=$1 root=$2 mk
	mk=$root/usr/src/linux-headers-$release/Makefile
	[ -f "$mk" ] || die "bookworm: no headers Makefile in linux-headers-$release"
	grep -q "^include $root/usr/src/" "$mk" ||
		sed -i "s|^include .*/usr/src/\(linux-headers-[^/]*/Makefile\)$|include $root/usr/src/\1|" "$mk"
	grep -q "^include $root/usr/src/" "$mk" || die "bookworm: cannot point $mk at $root"
}

# Unpack (dpkg-deb -x, no installation) every .deb of DEBS into ROOT, then
# delete DEBS and generate modules.dep of RELEASE with the host's depmod.
# depmod -b ROOT looks in ROOT/lib/modules; merged-/usr packages ship
# usr/lib/modules.
unpack_debs() {
	local debs=$1 root=$2 release=$3 deb
	for deb in "$debs"/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	rm -rf "$debs"
	[ -e "$root/lib" ] || ln -s usr/lib "$root/lib"
	depmod -b "$root" "$release"
}

bw_unpack_kernel() {
	local release=$1 dir=$BW_DIR/kernels/$1 pkg
	if [ -e "$dir/.done" ]; then
		bw_fix_headers "$release" "$dir/root"
		return 0
	fi
	log "bookworm: fetching kernel $release (image, modules, headers)"
	rm -rf "$dir"
	mkdir -p "$dir/root.tmp" "$dir/debs"
	while read -r pkg; do
		bw_fetch_deb "$pkg" "$dir/debs"
	done < <(bw_packages "$release")
	unpack_debs "$dir/debs" "$dir/root.tmp" "$release"
	[ -f "$dir/root.tmp/boot/vmlinuz-$release" ] || die "bookworm: no vmlinuz in linux-image-$release"
	mv "$dir/root.tmp" "$dir/root"
	bw_fix_headers "$release" "$dir/root"
	touch "$dir/.done"
}

# Resolve ALIAS from apt's lists, unpack its kernel, record the release;
# older unpacked releases no alias records any more are pruned.
bw_setup() {
	local alias=$1 release
	release=$(bw_candidate_release "$(bw_meta "$alias")")
	mkdir -p "$BW_DIR"
	bw_unpack_kernel "$release"
	printf '%s\n' "$release" >"$BW_DIR/release-$alias"
	log "bookworm: ready: $alias = $release"
}

bw_prune() {
	local d keep
	keep=$(cat "$BW_DIR"/release-* 2>/dev/null || true)
	for d in "$BW_DIR"/kernels/*; do
		[ -d "$d" ] || continue
		grep -qxF "${d##*/}" <<<"$keep" || rm -rf "$d"
	done
}

wants_bookworm() {
	local tok
	[ -n "${KERNELS:-}" ] || return 0
	while read -r tok; do
		case $tok in
		all) return 0 ;;
		bookworm) [ "$1" = 6.1 ] && return 0 ;;
		6.12-rt) [ "$1" = rt ] && return 0 ;;
		"$1") return 0 ;;
		esac
		if [ -s "$BW_DIR/release-$1" ] && [ "$tok" = "$(cat "$BW_DIR/release-$1")" ]; then
			return 0
		fi
	done < <(kernels_tokens)
	return 1
}

# --- sid: private apt configuration -----------------------------------------

# Archive URI and keyring of the machine's own Debian sources (deb822 file),
# so the sid fetch goes to the same mirror through the same proxy config.
system_archive() {
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -r "$f" ]; then
		awk '
			/^[ \t]*$/ { if (uri != "" && suites !~ /security/) { print uri, key; found = 1; exit }
			             uri = ""; key = ""; suites = ""; next }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { suites = $0 }
			tolower($1) == "signed-by:" { key = $2 }
			END { if (!found && uri != "" && suites !~ /security/) print uri, key }
		' "$f" | head -n1
	fi
}

sid_archive_init() {
	local uri key
	read -r uri key < <(system_archive) || true
	SID_MIRROR=${SID_MIRROR:-${uri:-http://deb.debian.org/debian}}
	SID_KEYRING=${SID_KEYRING:-${key:-/usr/share/keyrings/debian-archive-keyring.gpg}}
}

# apt-get/apt-cache with every state path redirected into $SID_APT: the
# system's sources, lists, status and archive cache are left alone.
SID_APT_OPTS=()
sid_apt_opts_init() {
	SID_APT_OPTS=(
		-o "Dir::Etc::SourceList=/dev/null"
		-o "Dir::Etc::SourceParts=$SID_APT/sources"
		-o "Dir::State::Lists=$SID_APT/lists"
		-o "Dir::State::status=$SID_APT/status"
		-o "Dir::Cache=$SID_APT/cache"
		-o "Dir::Cache::archives=$SID_APT/archives"
		# The _apt user cannot write into a root-only cache dir.
		-o "APT::Sandbox::User=root"
	)
}

sid_apt_prepare() {
	sid_archive_init
	sid_apt_opts_init
	mkdir -p "$SID_APT"/{sources,lists/partial,cache,archives/partial,debs}
	[ -e "$SID_APT/status" ] || : >"$SID_APT/status"
	cat >"$SID_APT/sources/sid.sources.new" <<EOF
Types: deb
URIs: $SID_MIRROR
Suites: sid
Components: main
Signed-By: $SID_KEYRING
EOF
	mv "$SID_APT/sources/sid.sources.new" "$SID_APT/sources/sid.sources"
}

sid_apt_get() { apt-get -q "${SID_APT_OPTS[@]}" "$@"; }
sid_apt_cache() { apt-cache "${SID_APT_OPTS[@]}" "$@"; }

# Re-read sid's package lists when older than SID_REFRESH_SECONDS. A network
# failure is not fatal when older lists exist: the cached kernel still works.
# Sets SID_LISTS_CHANGED=1 when the lists were re-read.
SID_LISTS_CHANGED=0
sid_refresh() {
	local force=$1 stamp=$SID_APT/lists/.stamp now age
	now=$(date +%s)
	if [ -e "$stamp" ] && [ "$force" != 1 ]; then
		age=$((now - $(stat -c %Y "$stamp")))
		if [ "$age" -lt "$SID_REFRESH_SECONDS" ]; then
			return 0
		fi
	fi
	log "sid: updating package lists from $SID_MIRROR"
	if sid_apt_get update >"$SID_APT/update.log" 2>&1; then
		touch "$stamp"
		SID_LISTS_CHANGED=1
	elif [ -e "$stamp" ]; then
		log "warning: sid update failed (see $SID_APT/update.log); using cached lists"
	else
		cat "$SID_APT/update.log" >&2
		die "sid: apt-get update failed"
	fi
}

# The release sid's linux-image-amd64 metapackage depends on, e.g.
# 7.2.13+deb14-amd64.
sid_newest_release() {
	sid_apt_cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)$/\1/p' | head -n1 | grep . ||
		die "sid: cannot resolve linux-image-amd64's kernel release"
}

sid_has_package() {
	sid_apt_cache show "$1" >/dev/null 2>&1
}

# The gcc the sid headers were built for: linux-headers-R depends on
# gcc-N-for-host (older layouts: gcc-N), so the chroot installs gcc-N.
sid_gcc_package() {
	local release=$1
	sid_apt_cache depends "linux-headers-$release" 2>/dev/null |
		sed -n 's/^ *Depends: \(gcc-[0-9][0-9]*\)\(-for-host\)\{0,1\}$/\1/p' | head -n1 | grep . ||
		die "sid: cannot find the gcc linux-headers-$release needs"
}

# --- sid: kernel image and modules -----------------------------------------

sid_kernel_root() { printf '%s\n' "$SID_DIR/kernels/$1/root"; }

# Download and unpack the image and module tree of RELEASE (dpkg-deb -x, no
# installation), then generate modules.dep with the host's depmod.
sid_unpack_kernel() {
	local release=$1 dir=$SID_DIR/kernels/$1 pkg
	local -a pkgs=()
	[ -e "$dir/.done" ] && return 0
	log "sid: fetching kernel $release"
	# Since 6.x-era sid packaging the image is in linux-binary-R and the
	# modules in linux-modules-R; older layouts had both in linux-image-R.
	for pkg in "linux-binary-$release" "linux-modules-$release" "linux-base-$release"; do
		if sid_has_package "$pkg"; then pkgs+=("$pkg"); fi
	done
	[ "${#pkgs[@]}" -gt 0 ] || pkgs=("linux-image-$release")
	rm -rf "$dir" "$SID_APT/debs"
	mkdir -p "$dir/root.tmp" "$SID_APT/debs"
	(cd "$SID_APT/debs" && sid_apt_get download "${pkgs[@]}" >/dev/null) ||
		die "sid: downloading ${pkgs[*]} failed"
	unpack_debs "$SID_APT/debs" "$dir/root.tmp" "$release"
	mv "$dir/root.tmp" "$dir/root"
	[ -n "$(sid_vmlinuz "$release")" ] || die "sid: no vmlinuz in ${pkgs[*]}"
	touch "$dir/.done"
}

sid_vmlinuz() {
	local root f
	root=$(sid_kernel_root "$1")
	for f in "$root/usr/lib/modules/$1/vmlinuz" "$root/boot/vmlinuz-$1"; do
		if [ -f "$f" ]; then
			printf '%s\n' "$f"
			return 0
		fi
	done
}

# --- sid: build chroot ------------------------------------------------------

# Run a command inside CHROOT with /proc mounted (objtool reads
# /proc/self/limits). The mount lives in a private mount namespace, so it
# disappears with the command however it ends: nothing to unmount, nothing
# left mounted under the cache if a build is killed.
in_chroot() {
	local root=$1
	shift
	# shellcheck disable=SC2016 # $1/$@ are expanded by the inner sh
	unshare --mount --propagation private \
		sh -c 'mount -t proc proc "$1/proc" && exec chroot "$@"' sh "$root" \
		/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LC_ALL=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "$@"
}

# The ready marker records what the chroot was provisioned with.
sid_chroot_stamp() {
	printf '%s\n' "$1" "$2" "${SID_CHROOT_PACKAGES[@]}"
}

sid_chroot_ready() {
	[ -e "$SID_CHROOT/.iouring-pbuf-ready" ] &&
		[ "$(cat "$SID_CHROOT/.iouring-pbuf-ready")" = "$(sid_chroot_stamp "$1" "$2")" ] &&
		[ -e "$SID_CHROOT/usr/src/linux-headers-$1/Makefile" ] &&
		[ -x "$SID_CHROOT/usr/bin/$2" ]
}

# A fresh minbase sid chroot with gcc and RELEASE's headers (about a minute).
# Built aside and renamed, so an interrupted run never looks ready.
sid_debootstrap() {
	local release=$1 gcc=$2 tmp=$SID_CHROOT.tmp include
	include=$(IFS=,; echo "$gcc,${SID_CHROOT_PACKAGES[*]},linux-headers-$release")
	log "sid: debootstrap build chroot ($include)"
	rm -rf "$tmp"
	if ! debootstrap --variant=minbase --keyring="$SID_KEYRING" \
		--include="$include" sid "$tmp" "$SID_MIRROR" >"$SID_DIR/debootstrap.log" 2>&1; then
		tail -n 20 "$SID_DIR/debootstrap.log" >&2
		die "sid: debootstrap failed (log: $SID_DIR/debootstrap.log)"
	fi
	sid_chroot_stamp "$release" "$gcc" >"$tmp/.iouring-pbuf-ready"
	rm -rf "$SID_CHROOT"
	mv "$tmp" "$SID_CHROOT"
}

# Make sure the chroot can build for RELEASE: nothing to do when it already
# has the headers; a new sid release is installed with apt inside the
# chroot (a dist-upgrade keeps gcc in step); if that fails, start over.
sid_prepare_chroot() {
	local release=$1 gcc
	gcc=$(sid_gcc_package "$release")
	sid_chroot_ready "$release" "$gcc" && return 0
	if [ -e "$SID_CHROOT/.iouring-pbuf-ready" ]; then
		log "sid: installing linux-headers-$release and tools in the chroot"
		# The chroot's apt must judge Release files like the host's does: a
		# host that disables Valid-Until (clock ahead of a frozen mirror)
		# needs the same inside, or `apt-get update` fails on "expired".
		local valid
		valid=$(apt-config dump Acquire::Check-Valid-Until | sed -n 's/^Acquire::Check-Valid-Until "\(.*\)";$/\1/p')
		# shellcheck disable=SC2016 # expanded by the inner sh
		if in_chroot "$SID_CHROOT" sh -c 'o="-o Acquire::Check-Valid-Until=$1"; shift
			apt-get -q $o update && apt-get -qy $o dist-upgrade &&
			apt-get -qy $o install --no-install-recommends "$@"' sh "${valid:-true}" \
			"$gcc" "${SID_CHROOT_PACKAGES[@]}" "linux-headers-$release" \
			>"$SID_DIR/chroot-upgrade.log" 2>&1; then
			sid_chroot_stamp "$release" "$gcc" >"$SID_CHROOT/.iouring-pbuf-ready"
			sid_chroot_ready "$release" "$gcc" && return 0
		fi
		log "warning: upgrading the chroot failed (see $SID_DIR/chroot-upgrade.log); rebuilding it"
	fi
	sid_debootstrap "$release" "$gcc"
}

# Drop unpacked kernels of older sid releases (about 600 MB each).
sid_prune() {
	local keep=$1 d
	for d in "$SID_DIR"/kernels/*; do
		[ -d "$d" ] || continue
		[ "${d##*/}" = "$keep" ] || rm -rf "$d"
	done
}

sid_setup() {
	local force=$1 release
	sid_apt_prepare
	sid_refresh "$force"
	# Fast path (the common re-run): lists unchanged and the recorded release
	# fully prepared. Querying the 10 MB lists again would cost seconds.
	if [ "$SID_LISTS_CHANGED" = 0 ] && [ -s "$SID_RELEASE_FILE" ]; then
		release=$(cat "$SID_RELEASE_FILE")
		if [ -e "$SID_DIR/kernels/$release/.done" ] &&
			[ -e "$SID_CHROOT/.iouring-pbuf-ready" ] &&
			[ "$(tail -n +3 "$SID_CHROOT/.iouring-pbuf-ready")" = "$(printf '%s\n' "${SID_CHROOT_PACKAGES[@]}")" ] &&
			[ -e "$SID_CHROOT/usr/src/linux-headers-$release/Makefile" ]; then
			log "sid: ready: $release (cached)"
			return 0
		fi
	fi
	release=$(sid_newest_release)
	sid_has_package "linux-headers-$release" ||
		die "sid: linux-headers-$release is not in sid (yet?)"
	sid_unpack_kernel "$release"
	sid_prepare_chroot "$release"
	printf '%s\n' "$release" >"$SID_RELEASE_FILE"
	sid_prune "$release"
	log "sid: ready: $release"
}

sid_release() {
	[ -s "$SID_RELEASE_FILE" ] || die "sid kernel not prepared (run: scripts/kernels.sh setup)"
	cat "$SID_RELEASE_FILE"
}

is_sid() {
	[ -e "$SID_DIR/kernels/$1/.done" ]
}

# --- the matrix ---------------------------------------------------------------

matrix() {
	meta_release 6.1
	meta_release 6.12
	sid_release
	meta_release rt
}

# --- the debug kernel (scripts/debug-kernel.sh) --------------------------------

DEBUG_KERNEL_SH=$LIB_DIR/debug-kernel.sh

# Its release (6.12.N-iopbuf-debug), or an error if it is not built.
debug_release() {
	"$DEBUG_KERNEL_SH" release
}

# Is RELEASE the built debug kernel? Cheap test first: the suffix.
is_debug() {
	[[ $1 == *-iopbuf-debug ]] && [ "$(debug_release 2>/dev/null)" = "$1" ]
}

debug_dir() {
	"$DEBUG_KERNEL_SH" dir
}

wants_debug() {
	local tok
	while read -r tok; do
		[ "$tok" = debug ] && return 0
	done < <(kernels_tokens)
	return 1
}

# Map tokens (aliases, releases, globs, other installed kernels) to releases,
# in matrix order first, without duplicates.
resolve() {
	local -a all=() out=()
	local tok r matched b61 b612 brt dbg
	# A kernel setup has not prepared yet is left out until someone asks
	# for it by name: then it fails with the usual message.
	b61=$(meta_release 6.1 2>/dev/null) || b61=
	b612=$(meta_release 6.12 2>/dev/null) || b612=
	brt=$(meta_release rt 2>/dev/null) || brt=
	all=()
	if [ -n "$b61" ]; then all+=("$b61"); fi
	if [ -n "$b612" ]; then all+=("$b612"); fi
	if [ -s "$SID_RELEASE_FILE" ]; then all+=("$(cat "$SID_RELEASE_FILE")"); fi
	if [ -n "$brt" ]; then all+=("$brt"); fi
	for tok in "$@"; do
		matched=0
		case $tok in
		all)
			out+=("$(meta_release 6.1)" "$(meta_release 6.12)" "$(sid_release)")
			out+=("$(meta_release rt)")
			matched=1
			;;
		6.1 | bookworm) out+=("$(meta_release 6.1)"); matched=1 ;;
		6.12) out+=("$(meta_release 6.12)"); matched=1 ;;
		sid) out+=("$(sid_release)"); matched=1 ;;
		rt | 6.12-rt) out+=("$(meta_release rt)"); matched=1 ;;
		debug) dbg=$(debug_release); out+=("$dbg"); matched=1 ;;
		*-iopbuf-debug)
			if [ "$(debug_release 2>/dev/null)" = "$tok" ]; then
				out+=("$tok")
				matched=1
			fi
			;;
		*)
			for r in "${all[@]}"; do
				# shellcheck disable=SC2053 # tok is deliberately a glob
				if [[ $r == $tok ]]; then out+=("$r"); matched=1; fi
			done
			if [ "$matched" = 0 ] && [ -e "/boot/vmlinuz-$tok" ] && [ -d "/lib/modules/$tok/build" ]; then
				out+=("$tok")
				matched=1
			fi
			;;
		esac
		[ "$matched" = 1 ] || die "unknown kernel '$tok' (try: 6.1, 6.12, sid, rt, debug, a release, or run setup)"
	done
	printf '%s\n' "${out[@]}" | awk '!seen[$0]++'
}

kernels_tokens() {
	printf '%s\n' "${KERNELS:-}" | tr ' ,' '\n' | grep -v '^$' || true
}

wants_sid() {
	local tok cached=
	[ -n "${KERNELS:-}" ] || return 0
	[ -s "$SID_RELEASE_FILE" ] && cached=$(cat "$SID_RELEASE_FILE")
	while read -r tok; do
		case $tok in sid | all | "$cached") return 0 ;; esac
	done < <(kernels_tokens)
	return 1
}

# --- per-kernel paths -------------------------------------------------------

cmd_vmlinuz() {
	if is_debug "$1"; then
		printf '%s\n' "$(debug_dir)/bzImage"
	elif is_sid "$1"; then
		sid_vmlinuz "$1" | grep . || die "sid kernel $1 has no vmlinuz"
	elif is_bookworm "$1"; then
		printf '%s
' "$(bw_kernel_root "$1")/boot/vmlinuz-$1"
	else
		[ -f "/boot/vmlinuz-$1" ] || die "/boot/vmlinuz-$1 not found"
		printf '%s\n' "/boot/vmlinuz-$1"
	fi
}

cmd_moddir() {
	local d
	if is_debug "$1"; then
		d=$(debug_dir)/modroot/lib/modules/$1
	elif is_sid "$1"; then
		d=$(sid_kernel_root "$1")/usr/lib/modules/$1
		[ -d "$d" ] || d=$(sid_kernel_root "$1")/lib/modules/$1
	elif is_bookworm "$1"; then
		d=$(bw_kernel_root "$1")/lib/modules/$1
	else
		d=/lib/modules/$1
	fi
	[ -e "$d/modules.dep" ] || die "no modules.dep in $d"
	printf '%s\n' "$d"
}

cmd_kdir() {
	local d
	if is_debug "$1"; then
		d=$(debug_dir)/linux
		[ -e "$d/Module.symvers" ] || die "debug kernel tree $d has no Module.symvers"
	elif is_sid "$1"; then
		d=/usr/src/linux-headers-$1
		[ -e "$SID_CHROOT$d/Makefile" ] || die "sid chroot lacks $d (run: scripts/kernels.sh setup)"
	elif is_bookworm "$1"; then
		d=$(bw_kernel_root "$1")/usr/src/linux-headers-$1
		[ -e "$d/Makefile" ] || die "no headers in $d (run: scripts/kernels.sh setup)"
	else
		d=/lib/modules/$1/build
		[ -e "$d/Makefile" ] || d=/usr/src/linux-headers-$1
		[ -e "$d/Makefile" ] || die "no headers for $1 (install linux-headers-$1)"
	fi
	printf '%s\n' "$d"
}

cmd_chroot() {
	if is_sid "$1"; then printf '%s\n' "$SID_CHROOT"; fi
}

cmd_run() {
	local release=$1
	shift
	[ "$#" -gt 0 ] || die "run: missing command"
	if is_sid "$release"; then
		need_root
		in_chroot "$SID_CHROOT" "$@"
	else
		"$@"
	fi
}

cmd_setup() {
	local force=0 start
	[ "${1:-}" = --refresh ] && force=1
	need_root
	start=$(date +%s)
	if [ "${SKIP_DEPS:-0}" != 1 ]; then
		"$LIB_DIR/install-deps.sh"
	fi
	mkdir -p "$CACHE_DIR"
	# One setup at a time per cache (parallel CI jobs, a developer's shell):
	# two debootstraps into the same chroot would wreck each other.
	exec 9>"$CACHE_DIR/.setup.lock"
	flock 9
	local alias
	for alias in "${BW_ALIASES[@]}"; do
		if wants_bookworm "$alias"; then bw_setup "$alias"; fi
	done
	bw_prune
	if wants_sid; then
		sid_setup "$force"
	fi
	exec 9>&-
	# Outside the lock: it has its own, per build.
	if wants_debug; then
		SKIP_DEPS=1 "$DEBUG_KERNEL_SH" build >/dev/null
	fi
	log "setup done in $(($(date +%s) - start)) s"
}

# Per-kernel commands accept any single token `resolve` understands
# (6.1, 6.12, sid, a release, ...); print the one release it names.
one_release() {
	local out
	[ -n "${1:-}" ] || die "missing RELEASE argument (see --help)"
	out=$(resolve "$1")
	if [ -z "$out" ] || [ "$(printf '%s\n' "$out" | wc -l)" -ne 1 ]; then
		die "'$1' does not name exactly one kernel"
	fi
	printf '%s\n' "$out"
}

main() {
	local cmd=${1:-} r
	[ "$#" -gt 0 ] && shift
	case $cmd in
	setup) cmd_setup "$@" ;;
	list)
		if [ -n "${KERNELS:-}" ]; then
			local -a toks
			mapfile -t toks < <(kernels_tokens)
			resolve "${toks[@]}"
		else
			matrix
		fi
		;;
	resolve) resolve "$@" ;;
	vmlinuz) r=$(one_release "${1:-}"); cmd_vmlinuz "$r" ;;
	moddir) r=$(one_release "${1:-}"); cmd_moddir "$r" ;;
	kdir) r=$(one_release "${1:-}"); cmd_kdir "$r" ;;
	chroot) r=$(one_release "${1:-}"); cmd_chroot "$r" ;;
	short) r=$(one_release "${1:-}"); short_name "$r" ;;
	run) r=$(one_release "${1:-}"); shift; cmd_run "$r" "$@" ;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 1 ;;
	esac
}

main "$@"
