#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the KUnit suites in kunit/ against the pure logic (module/logic_*.c)
# inside Debian's linux-source trees, as UML kernels built by kunit.py.
#
# For each tree: the linux-source-X package's tarball is extracted once into
# $IOURING_PBUF_CACHE/kunit/<package version>/src; our files are staged as
# COPIES into drivers/misc/iouring_pbuf_kunit/ of that tree (only changed
# files are rewritten, so kbuild stays incremental); drivers/misc/Kconfig
# and drivers/misc/Makefile get one line each (idempotent); then
#   kunit.py run --kunitconfig=<staged .kunitconfig> --build_dir=<cache>/build
# builds and boots the UML kernel. The full log stays in <cache>/kunit.log.
#
# Usage: scripts/kunit.sh            (or: make kunit)
# Environment:
#   KUNIT_TREES         trees to use, space/comma separated (default "6.1 6.12")
#   KUNIT_JOBS          make jobs (default 2)
#   KUNIT_ARCH          kunit.py --arch (default: kunit.py's default, um);
#                       a non-default arch gets its own build dir (build-ARCH)
#   KUNIT_FILTER        kunit.py --filter_glob (e.g. 'iouring_pbuf_ring.*');
#                       only the suites the glob names are then required
#   IOURING_PBUF_CACHE  cache root (default /var/cache/iouring-pbuf)
#   LOG_TAIL_LINES      lines of a failing tree's log to print (default 60)
# Output: per tree "kunit <tree>: N passed, N failed, N skipped", then exactly
# one line "kunit: N passed, N failed, N skipped" summed over trees (test
# cases as kunit.py counts them, each parameter of a parameterized case
# included).
# Exit status: 0 when every tree built, ran every expected suite and had no
# failure; 1 otherwise (the tail of a failing tree's log is printed).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Every suite kunit/*_test.c defines; each must show up in kunit.py's output.
EXPECTED_SUITES=(
	iouring_pbuf_encode
	iouring_pbuf_bvec
	iouring_pbuf_ring
)

# Where our code goes inside a kernel tree, relative to its root.
STAGE_REL=drivers/misc/iouring_pbuf_kunit
KCONFIG_LINE="source \"$STAGE_REL/Kconfig\""
# shellcheck disable=SC2016 # a make variable, not a shell one
MAKEFILE_LINE='obj-$(CONFIG_IOURING_PBUF_KUNIT_TEST) += iouring_pbuf_kunit/'

KUNIT_TREES=${KUNIT_TREES:-6.1 6.12}
KUNIT_JOBS=${KUNIT_JOBS:-2}
KUNIT_ARCH=${KUNIT_ARCH:-}
KUNIT_FILTER=${KUNIT_FILTER:-}
KUNIT_CACHE=$CACHE_DIR/kunit
LOG_TAIL_LINES=${LOG_TAIL_LINES:-60}

apt_updated=

# Install linux-source-TREE unless its tarball is already there.
ensure_source_pkg() {
	local pkg=$1 tarball=$2

	[ -f "$tarball" ] && return 0
	need_root
	log "installing $pkg"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >&2; then
		[ -z "$apt_updated" ] || die "apt-get install $pkg failed"
		log "apt-get install failed; running apt-get update once"
		apt-get update -q >&2 || die "apt-get update failed"
		apt_updated=1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >&2 ||
			die "apt-get install $pkg failed"
	fi
	[ -f "$tarball" ] || die "$pkg installed but $tarball is missing"
}

# Extract TARBALL into DIR once; the stamp marks a complete extraction.
ensure_extracted() {
	local tarball=$1 dir=$2 tmp

	[ -f "$dir/.iouring-pbuf-extracted" ] && return 0
	tmp=$dir.tmp
	rm -rf "$tmp" "$dir"
	mkdir -p "$tmp"
	log "extracting $tarball into $dir"
	tar -xJf "$tarball" -C "$tmp" --strip-components=1
	touch "$tmp/.iouring-pbuf-extracted"
	mv "$tmp" "$dir"
}

# Copy SRC to DST only if the content differs, so unchanged files keep their
# timestamps and kbuild does not rebuild them.
sync_file() {
	local src=$1 dst=$2

	cmp -s "$src" "$dst" 2>/dev/null && return 0
	mkdir -p "$(dirname "$dst")"
	cp -f "$src" "$dst.tmp"
	mv -f "$dst.tmp" "$dst"
}

# Stage our files into TREE's drivers/misc/iouring_pbuf_kunit/ and hook the
# folder into drivers/misc/{Kconfig,Makefile}.
stage() {
	local tree=$1 dest=$1/$STAGE_REL rel f
	local -a files=() want=()

	for f in "$SRC_DIR"/kunit/Kconfig "$SRC_DIR"/kunit/Makefile \
		 "$SRC_DIR"/kunit/.kunitconfig "$SRC_DIR"/kunit/*_test.c \
		 "$SRC_DIR"/module/logic_*.c; do
		[ -e "$f" ] || continue
		files+=("$f")
		want+=("${f##*/}")
	done
	[ -f "$SRC_DIR/kunit/.kunitconfig" ] || die "kunit/.kunitconfig is missing"

	for f in "${files[@]}"; do
		sync_file "$f" "$dest/${f##*/}"
	done
	sync_file "$SRC_DIR/include/pbuf_logic.h" "$dest/include/pbuf_logic.h"
	sync_file "$SRC_DIR/uapi/linux/iouring_pbuf.h" \
		"$dest/uapi/linux/iouring_pbuf.h"
	want+=(include uapi)

	# Drop staged files whose original is gone (a deleted test file).
	for f in "$dest"/* "$dest"/.kunitconfig; do
		[ -e "$f" ] || continue
		rel=${f##*/}
		case " ${want[*]} " in
		*" $rel "*) ;;
		*) rm -rf "$f" ;;
		esac
	done

	grep -qxF "$KCONFIG_LINE" "$tree/drivers/misc/Kconfig" ||
		printf '%s\n' "$KCONFIG_LINE" >>"$tree/drivers/misc/Kconfig"
	grep -qxF "$MAKEFILE_LINE" "$tree/drivers/misc/Makefile" ||
		printf '%s\n' "$MAKEFILE_LINE" >>"$tree/drivers/misc/Makefile"
}

# The suites this run must see: all, or those KUNIT_FILTER's suite part
# matches.
expected_suites() {
	local s glob=${KUNIT_FILTER%%.*}

	for s in "${EXPECTED_SUITES[@]}"; do
		# shellcheck disable=SC2254
		case $s in
		${glob:-*}) printf '%s\n' "$s" ;;
		esac
	done
}

# kunit.py in the source tree SRC (a subshell: the cd stays there).
kunit_py() {
	(cd "$1" && shift && python3 tools/testing/kunit/kunit.py "$@")
}

# Sum one counter ("passed", "failed", ...) out of kunit.py's final line,
# e.g. "Testing complete. Ran 62 tests: passed: 61, failed: 1".
count_of() {
	local what=$1 line=$2

	printf '%s\n' "$line" | sed -n "s/.*[ :,]$what: \\([0-9][0-9]*\\).*/\\1/p" |
		grep . || echo 0
}

total_passed=0
total_failed=0
total_skipped=0
any_bad=

# Build and run one tree; updates the totals, sets any_bad on failure.
run_tree() {
	local t=$1 pkg tarball version key dir src build logf rc start secs
	local summary ran passed failed crashed errors skipped missing s
	local -a args

	pkg=linux-source-$t
	tarball=/usr/src/$pkg.tar.xz
	ensure_source_pkg "$pkg" "$tarball"
	# The package version keys the cache; a tarball without its package
	# (copied in by hand) is keyed by its size and mtime instead.
	version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
		version=file-$(stat -c '%s-%Y' "$tarball")
	key=$(printf '%s' "$version" | tr -c 'A-Za-z0-9._-' '_')
	dir=$KUNIT_CACHE/$key
	src=$dir/src
	build=$dir/build${KUNIT_ARCH:+-$KUNIT_ARCH}
	logf=$dir/kunit.log
	mkdir -p "$dir"

	exec 9>"$dir/lock"
	flock 9

	ensure_extracted "$tarball" "$src"
	stage "$src"

	args=(run "--kunitconfig=$src/$STAGE_REL/.kunitconfig"
	      "--build_dir=$build" "--jobs=$KUNIT_JOBS")
	[ -z "$KUNIT_ARCH" ] || args+=("--arch=$KUNIT_ARCH")
	[ -z "$KUNIT_FILTER" ] || args+=("$KUNIT_FILTER")

	log "kunit $t ($pkg $version): building and running in $build"
	start=$SECONDS
	rc=0
	progress_run "kunit $t" "$logf" kunit_py "$src" "${args[@]}" || rc=$?
	secs=$((SECONDS - start))
	exec 9>&-

	# kunit.py colours its output only on a terminal; strip it regardless.
	sed -i 's/\x1b\[[0-9;]*m//g' "$logf"
	summary=$(grep -E 'Testing complete\. Ran [0-9]+ tests?' "$logf" |
		  tail -n1 || true)
	ran=$(printf '%s\n' "$summary" |
	      sed -n 's/.*Ran \([0-9][0-9]*\) test.*/\1/p')
	passed=$(count_of passed "$summary")
	failed=$(count_of failed "$summary")
	crashed=$(count_of crashed "$summary")
	errors=$(count_of errors "$summary")
	skipped=$(count_of skipped "$summary")
	failed=$((failed + crashed + errors))

	missing=
	while read -r s; do
		grep -qE "(^|[^A-Za-z0-9_])$s([^A-Za-z0-9_]|\$)" "$logf" ||
			missing+=" $s"
	done < <(expected_suites)

	printf 'kunit %s: %d passed, %d failed, %d skipped (%ds, log %s)\n' \
		"$t" "$passed" "$failed" "$skipped" "$secs" "$logf"

	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	total_skipped=$((total_skipped + skipped))

	local why=
	if [ "$rc" -ne 0 ]; then
		why="kunit.py exited with status $rc"
	elif [ -z "$ran" ] || [ "$ran" -eq 0 ]; then
		why="no tests ran"
	elif [ -n "$missing" ]; then
		why="suites missing from the output:$missing"
	elif [ "$failed" -ne 0 ]; then
		why="$failed test(s) failed"
	elif grep -qE 'BUG: KASAN|kernel BUG at|Kernel panic' \
		"$build/test.log" 2>/dev/null; then
		why="the kernel log has a KASAN report, BUG or panic ($build/test.log)"
	fi
	if [ -n "$why" ]; then
		any_bad=1
		log "kunit $t: FAILED: $why; last $LOG_TAIL_LINES lines of $logf:"
		tail -n "$LOG_TAIL_LINES" "$logf" >&2
	fi
}

usage() {
	sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

main() {
	local t
	local -a trees

	case ${1-} in
	'') ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 1 ;;
	esac
	read -r -a trees <<<"${KUNIT_TREES//,/ }"
	[ ${#trees[@]} -gt 0 ] || die "KUNIT_TREES is empty"
	for t in "${trees[@]}"; do
		case $t in
		*[!0-9.]*) die "bad tree '$t' in KUNIT_TREES (want e.g. 6.1 6.12)" ;;
		esac
	done
	mkdir -p "$KUNIT_CACHE"

	for t in "${trees[@]}"; do
		run_tree "$t"
	done

	echo "kunit: $total_passed passed, $total_failed failed, $total_skipped skipped"
	[ -z "$any_bad" ]
}

main "$@"
