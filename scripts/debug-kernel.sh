#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The debug kernel: Debian's linux-source-6.12 built with KASAN, KFENCE,
# UBSAN, lockdep, kmemleak and fault injection for a QEMU guest, and the
# test tiers that run on it. See usage() for the interface.
#
# Config: `make allnoconfig` + kernel/configs/kvm_guest.config + the
# fragments in configs/debug-kernel/*.config (merge_config.sh, then
# olddefconfig). Every option a fragment names must end up with that value,
# or the build stops: a silently dropped sanitizer would make every run
# look clean.
#
# Cache: $IOURING_PBUF_CACHE/debug-kernel/<key>/ (default
# /var/cache/iouring-pbuf), <key> a hash of the fragments' options (not
# their comments), the source (the linux-source-6.12 package version), the
# compiler and DEBUG_KERNEL_RECIPE below. It holds the built tree (linux/, also the KDIR
# for out-of-tree modules: vmlinux.symvers copied to Module.symvers,
# modules_prepare done), bzImage, a module dir for the harness and
# build.log. A directory without .done is a build that did not finish and
# is started over. Older keys are pruned (DEBUG_KERNEL_KEEP, default 2).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Bump when the build steps change in a way that changes the product.
DEBUG_KERNEL_RECIPE=1
SOURCE_PKG=linux-source-6.12
SOURCE_TAR=/usr/src/$SOURCE_PKG.tar.xz
CONFIG_DIR=$SRC_DIR/configs/debug-kernel
DEBUG_CACHE=$CACHE_DIR/debug-kernel
# The release suffix guest.config sets (CONFIG_LOCALVERSION).
DEBUG_SUFFIX=-iopbuf-debug
KEEP=${DEBUG_KERNEL_KEEP:-2}
JOBS=${BUILD_JOBS:-$(nproc)}

# The fuzzer's run time in seconds (`make fuzz FUZZ_SECONDS=600`). Guest
# memory and timeouts of the debug kernel are scripts/vm-test.sh's
# (VM_MEM, VM_TIMEOUT, VM_TEST_TIMEOUT; larger defaults for this kernel).
: "${FUZZ_SECONDS:=60}"

usage() {
	cat <<'EOF'
Usage: scripts/debug-kernel.sh COMMAND

Commands:
  build     build the debug kernel, or reuse the cached one; prints its dir
  test      build (or reuse), then boot it in QEMU with the module loaded
            and run the whole guest suite (tests/, fault_walk included);
            ends with "debug: N passed, N failed, N skipped"
  fuzz      build (or reuse), then run tools/fuzz in the debug guest for
            FUZZ_SECONDS (default 60) seconds; FUZZ_SEED=N replays a run;
            ends with "fuzz: N passed, N failed, N skipped"
  key       the cache key of the current fragments and source
  dir       the cache dir of the current key if built (exit 1 otherwise)
  release   the kernel release string if built (exit 1 otherwise)
  config    write the merged .config to stdout (no build; ~1 min)
  prune     remove cached builds other than the newest DEBUG_KERNEL_KEEP

Environment:
  IOURING_PBUF_CACHE   cache root (default /var/cache/iouring-pbuf)
  BUILD_JOBS=N         make -j (default: nproc); builds run under nice 19
  DEBUG_KERNEL_KEEP=2  cached builds to keep
  DEBUG_KERNEL_KEY=K   use cached build K instead of the current key's
                       (e.g. an older config, to compare)
  VM_MEM VM_TIMEOUT VM_TEST_TIMEOUT VM_APPEND ...   see scripts/vm-test.sh
  FUZZ_SECONDS=60 FUZZ_SEED=N   the fuzzer's run time and seed
  SKIP_DEPS=1          do not run install-deps.sh
Exit status: 0 on success, 1 on failure.
EOF
}

# --- the cache key --------------------------------------------------------------

source_version() {
	dpkg-query -W -f='${Version}' "$SOURCE_PKG" 2>/dev/null ||
		die "$SOURCE_PKG is not installed (run scripts/install-deps.sh)"
}

fragments() {
	local f
	for f in "$CONFIG_DIR"/*.config; do
		[ -f "$f" ] && printf '%s\n' "$f"
	done | LC_ALL=C sort
}

cache_key() {
	local f
	if [ -n "${DEBUG_KERNEL_KEY:-}" ]; then
		printf '%s\n' "$DEBUG_KERNEL_KEY"
		return
	fi
	{
		printf 'recipe %s\n' "$DEBUG_KERNEL_RECIPE"
		printf 'source %s %s\n' "$SOURCE_PKG" "$(source_version)"
		printf 'cc %s\n' "$(gcc --version | head -n1)"
		# the options only: editing a comment does not rebuild
		while read -r f; do
			printf 'fragment %s\n' "${f##*/}"
			grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)' "$f" || true
		done < <(fragments)
	} | sha256sum | cut -c1-16
}

key_dir() { printf '%s\n' "$DEBUG_CACHE/$(cache_key)"; }

built_dir() {
	local d
	d=$(key_dir)
	[ -e "$d/.done" ] || return 1
	printf '%s\n' "$d"
}

# --- config -----------------------------------------------------------------------

# Every CONFIG_X=v and "# CONFIG_X is not set" of the fragments must be in
# .config with that value.
check_config() {
	local cfg=$1 f line opt want got bad=0
	while read -r f; do
		while IFS= read -r line; do
			if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
				opt=${BASH_REMATCH[1]} want=${BASH_REMATCH[2]}
			elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
				opt=${BASH_REMATCH[1]} want=n
			else
				continue
			fi
			got=$(sed -n "s/^$opt=//p" "$cfg")
			[ -n "$got" ] || got=n
			if [ "$got" != "$want" ]; then
				log "config: ${f##*/}: $opt=$want requested, .config has $got"
				bad=1
			fi
		done <"$f"
	done < <(fragments)
	[ "$bad" = 0 ] || die "the fragments ask for values Kconfig does not allow (dependencies?)"
}

# allnoconfig + kvm_guest.config + fragments in TREE.
make_config() {
	local tree=$1
	local -a frags
	mapfile -t frags < <(fragments)
	[ "${#frags[@]}" -gt 0 ] || die "no fragments in $CONFIG_DIR"
	make -C "$tree" -s allnoconfig >/dev/null
	# -m: merge only; olddefconfig resolves the dependencies afterwards.
	(cd "$tree" && scripts/kconfig/merge_config.sh -m .config \
		kernel/configs/kvm_guest.config "${frags[@]}") >"$tree/../merge.log" 2>&1 ||
		{ cat "$tree/../merge.log" >&2; die "merge_config.sh failed"; }
	make -C "$tree" -s olddefconfig >/dev/null
	check_config "$tree/.config"
}

# --- build ------------------------------------------------------------------------

# A module directory for scripts/vm-test.sh: an empty modules.dep (nothing
# is a module) and modules.builtin, so the harness sees veth, virtio_net...
# as built in.
make_moddir() {
	local dir=$1 release=$2 m=$1/modroot/lib/modules/$2
	mkdir -p "$m"
	: >"$m/modules.dep"
	cp "$dir/linux/modules.builtin" "$m/modules.builtin"
	[ ! -e "$dir/linux/modules.builtin.modinfo" ] ||
		cp "$dir/linux/modules.builtin.modinfo" "$m/"
}

# Run a command; append "<user+sys seconds of its processes>" to FILE.
cpu_timed() {
	local file=$1
	shift
	(
		"$@"
		# bash's `times` (in this shell, not a pipeline's subshell): the
		# second line is the children's user and system time
		times >"$file.times"
		sed -n 2p "$file.times" | awk '{
			t = 0
			for (i = 1; i <= 2; i++) {
				split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2]
			}
			printf "%d\n", t
		}' >"$file"
		rm -f "$file.times"
	)
}

prune() {
	local keep=$1 current d
	current=$(cache_key)
	# newest first; the current key is always kept
	while read -r d; do
		[ -n "$d" ] || continue
		[ "${d##*/}" = "$current" ] && continue
		if [ "$keep" -gt 1 ] && [ -e "$d/.done" ]; then
			keep=$((keep - 1))
			continue
		fi
		log "removing old debug kernel ${d##*/}"
		rm -rf "$d"
	done < <(find "$DEBUG_CACHE" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' 2>/dev/null |
		sort -rn | cut -d' ' -f2-)
}

build() {
	local dir key t0 t1 t2 release
	key=$(cache_key)
	dir=$DEBUG_CACHE/$key
	if [ -e "$dir/.done" ]; then
		log "debug kernel $key: cached ($(cat "$dir/release"), built in $(cat "$dir/build-seconds") s)"
		printf '%s\n' "$dir"
		return 0
	fi
	[ -r "$SOURCE_TAR" ] || die "$SOURCE_TAR not found (apt-get install $SOURCE_PKG)"
	mkdir -p "$DEBUG_CACHE"
	# One build per key at a time; a second caller waits and reuses it.
	exec 8>"$DEBUG_CACHE/.$key.lock"
	flock 8
	if [ -e "$dir/.done" ]; then
		exec 8>&-
		printf '%s\n' "$dir"
		return 0
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	log "debug kernel $key: building in $dir (log: $dir/build.log)"
	t0=$(date +%s)
	nice -n 19 tar -C "$dir" -xf "$SOURCE_TAR"
	mv "$dir/$SOURCE_PKG" "$dir/linux"
	make_config "$dir/linux"
	t1=$(date +%s)
	log "debug kernel $key: sources and config ready in $((t1 - t0)) s; make -j$JOBS bzImage modules_prepare (nice 19)"
	if ! progress_run "debug kernel build" "$dir/build.log" \
		cpu_timed "$dir/build-cpu-seconds" nice -n 19 make -C "$dir/linux" -j"$JOBS" \
		bzImage modules_prepare; then
		tail -n 40 "$dir/build.log" >&2
		die "debug kernel build failed (log: $dir/build.log)"
	fi
	# Out-of-tree modules need the exports of vmlinux (there are no
	# in-tree modules to add): modpost reads Module.symvers.
	cp "$dir/linux/vmlinux.symvers" "$dir/linux/Module.symvers"
	cp "$dir/linux/arch/x86/boot/bzImage" "$dir/bzImage"
	release=$(make -C "$dir/linux" -s kernelrelease)
	[[ $release == *"$DEBUG_SUFFIX" ]] || die "unexpected kernel release '$release'"
	printf '%s\n' "$release" >"$dir/release"
	make_moddir "$dir" "$release"
	# The objects are not needed for module builds: about 1 GB less.
	find "$dir/linux" -name '*.o' ! -path '*/scripts/*' ! -path '*/tools/*' -delete
	t2=$(date +%s)
	printf '%s\n' "$((t2 - t0))" >"$dir/build-seconds"
	touch "$dir/.done"
	exec 8>&-
	log "debug kernel $key: built $release in $((t2 - t0)) s (compile $((t2 - t1)) s wall, $(cat "$dir/build-cpu-seconds" 2>/dev/null || echo '?') s CPU with -j$JOBS)"
	prune "$KEEP"
	printf '%s\n' "$dir"
}

# --- guest runs -------------------------------------------------------------------

deps() {
	if [ "${SKIP_DEPS:-0}" != 1 ]; then
		"$LIB_DIR/install-deps.sh" >&2
	fi
}

# Run vm-test.sh on the debug kernel and turn its "vm: N passed, N failed,
# N skipped" into "TIER: N passed, N failed, N skipped". Any failure before
# it counts as one.
run_tier() {
	local tier=$1 out rc=0 line t0
	shift
	t0=$(date +%s)
	out=$(mktemp "${TMPDIR:-/tmp}/debug-kernel.XXXXXX")
	# shellcheck disable=SC2064 # expand now
	trap "rm -f '$out'" EXIT
	"$LIB_DIR/vm-test.sh" --no-setup "$@" debug 2>&1 | tee "$out" || rc=$?
	line=$(grep -E '^vm: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" |
		tail -n1 || true)
	echo
	log "$tier: guest run took $(($(date +%s) - t0)) s"
	if [ -z "$line" ]; then
		echo "$tier: 0 passed, 1 failed, 0 skipped"
		return 1
	fi
	if [ "$rc" -ne 0 ] && [[ $line == *", 0 failed, "* ]]; then
		line=${line/, 0 failed, /, 1 failed, }
	fi
	echo "$tier: ${line#vm: }"
	[ "$rc" -eq 0 ]
}

cmd_test() {
	need_root
	deps
	if ! build >/dev/null; then
		echo "debug: 0 passed, 1 failed, 0 skipped"
		return 1
	fi
	run_tier debug
}

cmd_fuzz() {
	local seconds=$FUZZ_SECONDS args
	need_root
	deps
	if ! build >/dev/null; then
		echo "fuzz: 0 passed, 1 failed, 0 skipped"
		return 1
	fi
	[[ $seconds =~ ^[0-9]+$ ]] || die "FUZZ_SECONDS must be a number of seconds"
	args="fuzz --seconds $seconds"
	if [ -n "${FUZZ_SEED:-}" ]; then args="$args --seed $FUZZ_SEED"; fi
	# The fuzzer stops itself after its time plus cleanup; the guest's
	# per-test watchdog only catches a hang.
	VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-$((seconds + 600))} \
		VM_TIMEOUT=${VM_TIMEOUT:-$((seconds + 1200))} \
		run_tier fuzz --run "$args"
}

cmd_config() {
	local tmp
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/debug-config.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	tar -C "$tmp" -xf "$SOURCE_TAR"
	make_config "$tmp/$SOURCE_PKG"
	cat "$tmp/$SOURCE_PKG/.config"
}

main() {
	local cmd=${1:-}
	[ "$#" -gt 0 ] && shift
	case $cmd in
	build) need_root; deps; build ;;
	test) cmd_test ;;
	fuzz) cmd_fuzz ;;
	key) cache_key ;;
	dir) built_dir || die "the debug kernel is not built (run: scripts/debug-kernel.sh build)" ;;
	release)
		local d
		d=$(built_dir) || die "the debug kernel is not built (run: scripts/debug-kernel.sh build)"
		cat "$d/release"
		;;
	config) cmd_config ;;
	prune) prune "$KEEP" ;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 1 ;;
	esac
}

main "$@"
