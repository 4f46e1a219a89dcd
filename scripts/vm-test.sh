#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot each kernel of the matrix under QEMU with iouring_pbuf.ko loaded and
# run the userspace tests inside. See usage() for the interface.
#
# Per kernel: build the module (build-module.sh), check its vermagic, pack
# an initramfs (busybox-static, scripts/guest-init.sh as /init, the module,
# the static test binaries and the kernel's own helper modules), boot it
# under `timeout`, stream the console, and pass only if the guest wrote
# SUCCESS to its second serial port (a file here) -- WireGuard's harness.
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KERNELS_SH=$LIB_DIR/kernels.sh

# The kernel's own modules the tests may need; dependencies (net_failover,
# failover for virtio_net; virtio, virtio_ring, virtio_pci_*_dev for
# virtio_pci) are added from modules.dep, built-in ones are skipped.
# virtio_pci is =m on 6.1 (=y on 6.12/sid): without it there is no eth0.
# Extend with VM_MODULES="tun macvlan".
HELPER_MODULES=(virtio_pci virtio_net veth dummy)
# Staged where the kernel has them as modules, without a warning where it
# does not (the debug kernel has them built in): brd and ext4 (which
# serves ext2) give tests/lend.c ramdisks for O_DIRECT, and it says so when
# they are missing; ext4 up to 6.12 mounts nothing without the crypto API's
# crc32c (a soft dependency).
OPTIONAL_HELPER_MODULES=(brd ext4 crc32c_generic)

# What the caller set explicitly wins over the per-kernel defaults below.
VM_USER_TIMEOUT=${VM_TIMEOUT:-}
VM_USER_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-}
VM_USER_MEM=${VM_MEM:-}
VM_TIMEOUT=${VM_TIMEOUT:-300}
VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-120}
VM_MEM=${VM_MEM:-1G}
VM_SMP=${VM_SMP:-2}
VM_ACCEL=${VM_ACCEL:-auto}
VM_LOG_DIR=${VM_LOG_DIR:-$SRC_DIR/build/vm-logs}
# The skips each kernel is expected to have (see check_skips).
VM_EXPECTED_SKIPS=${VM_EXPECTED_SKIPS:-$SRC_DIR/tests/expected-skips}

RUN_CMD=${VM_RUN:-}
# What a --run program's spec (tools/NAME.vm or tests/NAME.vm, see
# load_run_spec) adds to its guest.
RUN_HOST_PROGS=()
RUN_MODULES=()
RUN_QEMU_ARGS=()
RUN_TIMEOUT=0
RUN_TEST_TIMEOUT=0
DO_SETUP=1
KEEP=0
SCRATCH=

# Totals over kernels, and one summary line per kernel.
TOTAL_PASSED=0
TOTAL_FAILED=0
TOTAL_SKIPPED=0
SUMMARY=()

usage() {
	cat <<'EOF'
Usage: scripts/vm-test.sh [OPTIONS] [KERNEL...]

Boot each KERNEL under QEMU with iouring_pbuf.ko loaded and run the tests.
KERNEL is a release string or alias (6.1, 6.12, sid; see kernels.sh);
none = the whole matrix (scripts/kernels.sh list, honours $KERNELS).

Options:
  --run CMD     boot with the module loaded and run only CMD ("prog args"),
                prog taken from tests/build/, tools/build/ (each built with
                `make -C tests|tools` when it has a Makefile) or a host path;
                tools/PROG.vm (or tests/PROG.vm), if present, says what else
                its guest needs (files, host programs, modules, QEMU devices)
  --no-setup    skip `scripts/kernels.sh setup` (kernels already prepared)
  --keep        keep the scratch dir (initramfs, module builds)
  -h, --help    this text

Environment:
  VM_TIMEOUT=300        seconds per guest (boot + all tests), then it fails
  VM_TEST_TIMEOUT=120   seconds per test binary inside the guest
  VM_MEM=1G VM_SMP=2    guest size
                        (debug kernel: 2400 s, 1200 s and 2G unless set;
                        KASAN, lockdep and kmemleak under TCG are slow)
  VM_ACCEL=auto         tcg | kvm | auto (kvm only if the CPU has VMX/SVM,
                        /dev/kvm is usable and a probe boot works; cached)
  VM_MODULES="a b"      extra kernel modules to load in the guest
  VM_APPEND="..."       extra kernel command line
  VM_TIME_FACTOR=N      the tests' hang guard is N x 5 s (IOPBUF_TIME_FACTOR
                        in the guest; default 4 under TCG, 1 under KVM, x4
                        on the debug kernel)
  VM_QUIET=0            boot without `quiet` (full kernel log on console)
  VM_DMESG_IGNORE=RE    extra regex of benign kernel-log lines
  VM_LOG_DIR=DIR        console logs, one RELEASE.log per kernel
                        (default build/vm-logs)
  VM_RUN="CMD"          same as --run CMD
  VM_EXPECTED_SKIPS=F   the expected skips (default tests/expected-skips)
  MAKE_ARGS="W=1"       extra make arguments for the module build
  KERNELS=...           kernel selection when no KERNEL is given

Output: guest console lines as they arrive, prefixed "[<short>] "; the
guest prints "<test>: PASS: <case>" etc. and
"RESULT <release>: N passed, N failed, N skipped". Then one line per kernel
("<release>: ok|FAIL, N passed, N failed, N skipped (...)") and finally
exactly "vm: N passed, N failed, N skipped" (test cases over all kernels;
a kernel that fails to build, boot or report counts as 1 failed).
Every SKIP of the suite must be listed for that kernel in
tests/expected-skips: one that is not counts as failed ("FAIL: unexpected
skip"); a listed skip that did not happen is reported ("note: expected skip
did not happen"), without failing.
Exit status: 0 if every kernel passed, 1 on any failure, 2 on usage errors.
EOF
}

cleanup() {
	remove_scratch "$SCRATCH" "$KEEP" "scratch dir"
}

# --- userspace tests ----------------------------------------------------------

# A regular, executable file that is not a build by-product.
is_program() {
	[ -f "$1" ] && [ -x "$1" ] || return 1
	case $1 in *.o | *.a | *.so | *.d) return 1 ;; esac
}

# The guest has no libc: ELF programs must be static.
require_static() {
	local f=$1
	if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] &&
		readelf -lW "$f" 2>/dev/null | grep -q 'program interpreter'; then
		die "$f is dynamically linked; the guest has no libc (link with -static)"
	fi
}

# Stage the test programs into DEST: tests/build/* and tests/*.sh. None
# at all is a failure: a guest with nothing to run must not pass.
stage_tests() {
	local dest=$1 f n=0
	mkdir -p "$dest"
	if [ -f "$SRC_DIR/tests/Makefile" ]; then
		log "building tests (make -C tests)"
		make -C "$SRC_DIR/tests" >"$SCRATCH/tests-build.log" 2>&1 || {
			cat "$SCRATCH/tests-build.log" >&2
			return 1
		}
	fi
	for f in "$SRC_DIR"/tests/build/* "$SRC_DIR"/tests/*.sh; do
		[ -e "$f" ] || continue
		case $f in
		*.sh) cp "$f" "$dest/" ;;
		*)
			is_program "$f" || continue
			require_static "$f"
			cp "$f" "$dest/"
			;;
		esac
		n=$((n + 1))
	done
	if [ "$n" -eq 0 ]; then
		log "no tests in tests/build or tests/*.sh"
		return 1
	fi
}

# Stage the programs tests run as they are built (examples_*: the example
# programs, bench_smoke: the benchmark) into DEST, the guest's /progs:
# examples/build/static/* (static builds of the examples) and
# tools/build/bench.
PROGS_DIR=/progs
stage_progs() {
	local dest=$1 f
	mkdir -p "$dest"
	make -C "$SRC_DIR/examples" STATIC=1 OUT=build/static \
		>"$SCRATCH/examples-build.log" 2>&1 || {
		cat "$SCRATCH/examples-build.log" >&2
		return 1
	}
	make -C "$SRC_DIR/tools" build/bench >"$SCRATCH/tools-build.log" 2>&1 || {
		cat "$SCRATCH/tools-build.log" >&2
		return 1
	}
	for f in "$SRC_DIR"/examples/build/static/* "$SRC_DIR/tools/build/bench"; do
		is_program "$f" || continue
		require_static "$f"
		cp "$f" "$dest/"
	done
}

# --run: find the program (tests/build, tools/build, or a path) and stage it.
stage_run_program() {
	local dest=$1 prog=${RUN_CMD%% *} d path=
	mkdir -p "$dest"
	for d in tests tools; do
		if [ -f "$SRC_DIR/$d/Makefile" ]; then
			make -C "$SRC_DIR/$d" >"$SCRATCH/$d-build.log" 2>&1 || {
				cat "$SCRATCH/$d-build.log" >&2
				return 1
			}
		fi
	done
	if [[ $prog == */* ]]; then
		path=$prog
	else
		for d in tests/build tools/build; do
			if is_program "$SRC_DIR/$d/$prog"; then
				path=$SRC_DIR/$d/$prog
				break
			fi
		done
	fi
	if [ -z "$path" ] || ! is_program "$path"; then
		die "--run: no program '$prog' in tests/build or tools/build"
	fi
	require_static "$path"
	cp "$path" "$dest/"
	load_run_spec "$path" "$dest"
	# The guest runs it by name from /tests.
	RUN_CMD=/tests/${path##*/}${RUN_CMD#"$prog"}
}

# The spec of a --run program built into tests/build or tools/build: the
# bash file NAME.vm next to its source, sourced here. It may set
# RUN_HOST_PROGS (host programs for the guest's /usr/bin, with their shared
# libraries), RUN_MODULES (more kernel modules to load), RUN_QEMU_ARGS
# (devices), RUN_TIMEOUT and RUN_TEST_TIMEOUT (seconds, used where larger
# than the defaults and VM_TIMEOUT/VM_TEST_TIMEOUT are unset), and define
# run_prepare DEST, which stages further files into the guest's /tests.
# tools/demo.vm is the example.
load_run_spec() {
	local path=$1 dest=$2 spec
	case $path in
	"$SRC_DIR"/tests/build/* | "$SRC_DIR"/tools/build/*) ;;
	*) return 0 ;;
	esac
	spec=${path%/build/*}/${path##*/}.vm
	[ -f "$spec" ] || return 0
	log "--run: guest spec ${spec#"$SRC_DIR"/}"
	# shellcheck source=tools/demo.vm
	. "$spec"
	if declare -F run_prepare >/dev/null; then
		run_prepare "$dest" || die "$spec: run_prepare failed"
	fi
}

# Copy host program NAME into ROOT/usr/bin, and the shared libraries and
# dynamic loader it needs (ldd) to their host paths under ROOT: the
# guest's loader finds them in its default directories, without an
# ld.so.cache. The test programs stay static; this is for tools the guest
# borrows from the host (the demo's curl).
stage_host_program() {
	local name=$1 root=$2 path deps lib n=0
	path=$(command -v "$name") ||
		die "$name: not installed on the host (scripts/install-deps.sh)"
	deps=$(ldd "$path") || die "ldd $path failed"
	if grep -q 'not found' <<<"$deps"; then
		die "$path: missing libraries: $(grep 'not found' <<<"$deps" | tr -s ' \t\n' ' ')"
	fi
	install -D -m 755 "$path" "$root/usr/bin/$name"
	while read -r lib; do
		# install copies the file a soname symlink points to
		install -D -m 755 "$lib" "$root$lib"
		n=$((n + 1))
	done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$deps")
	log "guest: $name with $n shared objects from the host"
}

# --- kernel helper modules ------------------------------------------------------

# Print the modules.dep path of module NAME (dashes and underscores are the
# same in module names), or nothing.
module_path() {
	local moddir=$1 name=${2//-/_}
	awk -F: -v want="$name" '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n); gsub(/-/, "_", n)
		if (n == want) { print $1; exit }
	}' "$moddir/modules.dep"
}

module_deps() {
	local moddir=$1 path=$2
	awk -F': *' -v p="$path" '$1 == p { print $2; exit }' "$moddir/modules.dep" | tr ' ' '\n' | grep . || true
}

is_builtin() {
	local moddir=$1 name=${2//-/_}
	[ -e "$moddir/modules.builtin" ] &&
		tr '-' '_' <"$moddir/modules.builtin" | grep -q "/$name\.ko$"
}

# Depth-first: dependencies before their users, each once.
declare -A MOD_SEEN=()
MOD_ORDER=()
add_module_path() {
	local moddir=$1 path=$2 dep
	[ -z "${MOD_SEEN[$path]:-}" ] || return 0
	MOD_SEEN[$path]=1
	while read -r dep; do
		[ -n "$dep" ] && add_module_path "$moddir" "$dep"
	done < <(module_deps "$moddir" "$path")
	MOD_ORDER+=("$path")
}

# Copy the helper modules of RELEASE into DEST (decompressed: busybox insmod
# cannot read .ko.xz/.ko.zst) and write DEST/order for the guest.
stage_kernel_modules() {
	local release=$1 dest=$2 moddir name path file
	moddir=$("$KERNELS_SH" moddir "$release")
	MOD_SEEN=()
	MOD_ORDER=()
	mkdir -p "$dest"
	# shellcheck disable=SC2206 # VM_MODULES is a word list
	for name in "${HELPER_MODULES[@]}" "${RUN_MODULES[@]}" ${VM_MODULES:-}; do
		path=$(module_path "$moddir" "$name")
		if [ -n "$path" ]; then
			add_module_path "$moddir" "$path"
		elif is_builtin "$moddir" "$name"; then
			:
		else
			log "warning: module $name not found for $release"
		fi
	done
	for name in "${OPTIONAL_HELPER_MODULES[@]}"; do
		path=$(module_path "$moddir" "$name")
		[ -z "$path" ] || add_module_path "$moddir" "$path"
	done
	: >"$dest/order"
	for path in "${MOD_ORDER[@]}"; do
		file=${path##*/}
		file=${file%.xz}
		file=${file%.zst}
		file=${file%.gz}
		case $path in
		*.xz) xz -dc "$moddir/$path" >"$dest/$file" ;;
		*.zst) zstd -qdc "$moddir/$path" >"$dest/$file" ;;
		*.gz) gzip -dc "$moddir/$path" >"$dest/$file" ;;
		*) cp "$moddir/$path" "$dest/$file" ;;
		esac
		printf '%s\n' "$file" >>"$dest/order"
	done
}

# --- initramfs --------------------------------------------------------------------

# Quote VALUE for a POSIX sh assignment.
sh_quote() {
	local q="'\\''"
	printf "'%s'" "${1//\'/$q}"
}

build_initramfs() {
	local release=$1 ko=$2 tests=$3 out=$4 root applet prog
	root=$(dirname "$out")/initramfs
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,root,tests}
	cp /bin/busybox "$root/bin/busybox"
	while read -r applet; do
		[ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$root/$applet"
	done < <(/bin/busybox --list-full)
	# The console must exist before /init runs (the kernel opens it).
	mknod -m 600 "$root/dev/console" c 5 1
	install -m 755 "$LIB_DIR/guest-init.sh" "$root/init"
	cp "$ko" "$root/$MODULE_NAME.ko"
	cp -a "$tests"/. "$root/tests/"
	mkdir -p "$root$PROGS_DIR"
	cp -a "$SCRATCH/progs"/. "$root$PROGS_DIR/"
	for prog in "${RUN_HOST_PROGS[@]}"; do
		stage_host_program "$prog" "$root"
	done
	stage_kernel_modules "$release" "$root/modules"
	{
		printf 'VM_RELEASE=%s\n' "$(sh_quote "$release")"
		printf 'VM_RUN=%s\n' "$(sh_quote "$RUN_CMD")"
		printf 'VM_TEST_TIMEOUT=%s\n' "$(sh_quote "$K_TEST_TIMEOUT")"
		printf 'VM_DMESG_IGNORE=%s\n' "$(sh_quote "${VM_DMESG_IGNORE:-}")"
	} >"$root/etc/vmtest.conf"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$out"
}

# --- QEMU -----------------------------------------------------------------------

# KVM only helps if it works: on these machines /dev/kvm exists but the CPU
# has no VMX and guests hang, so without VMX/SVM flags we never try it.
choose_accel() {
	local release=$1 initrd=$2 probe=$CACHE_DIR/kvm-probe bootid
	case $VM_ACCEL in
	tcg | kvm) echo "$VM_ACCEL"; return ;;
	esac
	if ! grep -qwE 'vmx|svm' /proc/cpuinfo || [ ! -w /dev/kvm ]; then
		echo tcg
		return
	fi
	bootid=$(cat /proc/sys/kernel/random/boot_id)
	if [ -f "$probe" ] && [ "$(head -n1 "$probe")" = "$bootid" ]; then
		sed -n 2p "$probe"
		return
	fi
	# A probe boot with a short timeout: the marker proves the guest ran.
	local m=$SCRATCH/kvm-probe.marker result=tcg
	: >"$m"
	if timeout 30 qemu-system-x86_64 -accel kvm -m "$VM_MEM" -smp 1 -nodefaults \
		-display none -no-reboot -kernel "$("$KERNELS_SH" vmlinuz "$release")" \
		-initrd "$initrd" -append "console=ttyS0 panic=-1 quiet" \
		-serial null -serial "file:$m" </dev/null >/dev/null 2>&1 &&
		grep -q . "$m"; then
		result=kvm
	fi
	mkdir -p "$CACHE_DIR"
	printf '%s\n%s\n' "$bootid" "$result" >"$probe"
	log "KVM probe: using $result"
	echo "$result"
}

# Copy console lines to the log and to stdout, prefixed, as they arrive.
stream_console() {
	local short=$1 log=$2 line
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line//$'\r'/}
		# Expected: the NICs' hubs deliberately lead nowhere.
		[[ $line == *"hub "*" is not connected to host network"* ]] && continue
		printf '%s\n' "$line" >>"$log"
		printf '[%s] %s\n' "$short" "$line"
	done
}

# Boot and wait; sets BOOT_RC (timeout's status) and BOOT_SECS.
BOOT_RC=0
BOOT_SECS=0
boot() {
	local release=$1 initrd=$2 marker=$3 log=$4 short accel accel_opts append t0
	short=$(short_name "$release")
	accel=$(choose_accel "$release" "$initrd")
	append="console=ttyS0 panic=-1 panic_on_warn=1 oops=panic rdinit=/init"
	[ "${VM_QUIET:-1}" = 0 ] || append="$append quiet"
	append="$append $K_APPEND ${VM_APPEND:-}"
	# The tests' one hang guard scales with this (tests/harness.h):
	# emulation (TCG) is ~4x slower than KVM, the debug kernel ~4x more.
	if [ -n "${VM_TIME_FACTOR:-}" ]; then
		append="$append iopbuf_time_factor=$VM_TIME_FACTOR"
	elif [ "$accel" = tcg ]; then
		append="$append iopbuf_time_factor=$((4 * K_TIME_FACTOR))"
	else
		append="$append iopbuf_time_factor=$K_TIME_FACTOR"
	fi
	# Under TCG the clocksource watchdog sees the emulated TSC drift
	# against HPET whenever the host is busy, marks it unstable and
	# switches clocksource from a workqueue, patching kernel text as it
	# goes; on sid's 7.2 that once ended in an int3 Oops in
	# sched_clock_cpu(). The guests' TSC is QEMU's, not a real one that
	# could drift: trust it.
	[ "$accel" = tcg ] && append="$append tsc=reliable"
	# One host thread for all vCPUs under TCG (thread=single): with one
	# thread per vCPU (MTTCG), a vCPU can still run code another vCPU is
	# patching with text_poke_bp() (static keys flipped when the CRNG gets
	# ready, tracepoints enabled) after the int3 was taken out again, and
	# the guest dies with "Oops: int3" in the patched function (seen in
	# urandom_read_iter() and __schedule() on 6.12 and 7.2). Round-robin
	# vCPUs see every code change before they run again; tests that race
	# threads still interleave at every TCG time slice.
	accel_opts=$accel
	[ "$accel" = tcg ] && accel_opts=tcg,thread=single
	: >"$marker"
	: >"$log"
	t0=$(date +%s)
	set +e
	# -nodefaults: no VGA/default NIC to emulate. The virtio-net NIC sits
	# alone on a QEMU hub: the guest gets a real virtio_net device without
	# reaching any network. ttyS0 = console (stdio), ttyS1 = marker file.
	timeout -k 10 "$K_TIMEOUT" qemu-system-x86_64 -accel "$accel_opts" \
		-m "$K_MEM" -smp "$VM_SMP" -nodefaults -display none -no-reboot \
		-kernel "$("$KERNELS_SH" vmlinuz "$release")" -initrd "$initrd" \
		-append "$append" \
		-serial stdio -serial "file:$marker" \
		-netdev hubport,id=n0,hubid=0 -device virtio-net-pci,netdev=n0,romfile= \
		"${RUN_QEMU_ARGS[@]}" </dev/null 2>&1 | stream_console "$short" "$log"
	BOOT_RC=${PIPESTATUS[0]}
	set -e
	BOOT_SECS=$(($(date +%s) - t0))
}

# --- one kernel -------------------------------------------------------------------

# Per-kernel guest settings: K_MEM, K_TIMEOUT, K_TEST_TIMEOUT, K_APPEND,
# K_TIME_FACTOR (the debug kernel's share of the tests' time factor).
kernel_settings() {
	K_MEM=$VM_MEM
	K_TIMEOUT=$VM_TIMEOUT
	K_TEST_TIMEOUT=$VM_TEST_TIMEOUT
	K_APPEND=
	K_TIME_FACTOR=1
	case $1 in
	*-iopbuf-debug)
		# scripts/debug-kernel.sh's kernel: KASAN shadow and kmemleak's
		# metadata need memory, and everything runs ~10x slower.
		K_MEM=${VM_USER_MEM:-2G}
		K_TIMEOUT=${VM_USER_TIMEOUT:-2400}
		K_TEST_TIMEOUT=${VM_USER_TEST_TIMEOUT:-1200}
		# A task blocked for DEFAULT_HUNG_TASK_TIMEOUT is a hang: panic,
		# so that no marker is written. acpi=noirq: evaluating the PCI
		# routing method (_PRT) under KASAN and lockdep in TCG runs
		# into ACPI's 30 s AML loop timeout; the NIC uses MSI-X anyway.
		K_APPEND="hung_task_panic=1 acpi=noirq"
		K_TIME_FACTOR=4
		;;
	esac
	# a --run spec may ask for more time than the defaults give
	[ -n "$VM_USER_TIMEOUT" ] || [ "$RUN_TIMEOUT" -le "$K_TIMEOUT" ] ||
		K_TIMEOUT=$RUN_TIMEOUT
	[ -n "$VM_USER_TEST_TIMEOUT" ] || [ "$RUN_TEST_TIMEOUT" -le "$K_TEST_TIMEOUT" ] ||
		K_TEST_TIMEOUT=$RUN_TEST_TIMEOUT
}

# --- expected skips ---------------------------------------------------------------

# Compare the SKIP lines of the suite's run in LOG ("<test>: SKIP: <case>:
# <reason>") with the entries of $VM_EXPECTED_SKIPS whose kernel pattern
# matches RELEASE. Each line there reads
#   <kernel glob> <test> <case glob> <reason>
# (whitespace-separated, the reason the rest of the line; '#' starts a
# comment line): the skip is expected when the test is <test>, its case
# matches <case glob> and its reason contains <reason>. Prints every
# unexpected skip as a FAIL line and every entry that matched no skip as a
# note; sets SKIPS_SEEN (SKIP lines in LOG) and SKIPS_UNEXPECTED.
SKIPS_SEEN=0
SKIPS_UNEXPECTED=0
check_skips() {
	local release=$1 log=$2 short line kglob test cglob reason i ok
	local s_test s_case s_reason
	local -a e_test=() e_case=() e_reason=() e_hits=()
	short=$(short_name "$release")
	SKIPS_SEEN=0
	SKIPS_UNEXPECTED=0
	if [ -f "$VM_EXPECTED_SKIPS" ]; then
		while read -r kglob test cglob reason; do
			case $kglob in '' | '#'*) continue ;; esac
			# shellcheck disable=SC2053 # a glob on purpose
			[[ $release == $kglob ]] || continue
			e_test+=("$test") e_case+=("$cglob") e_reason+=("$reason") e_hits+=(0)
		done <"$VM_EXPECTED_SKIPS"
	fi
	while IFS= read -r line; do
		[[ $line =~ ^([A-Za-z0-9_.-]+):\ SKIP:\ ([^:]*):\ ?(.*)$ ]] || continue
		s_test=${BASH_REMATCH[1]} s_case=${BASH_REMATCH[2]} s_reason=${BASH_REMATCH[3]}
		SKIPS_SEEN=$((SKIPS_SEEN + 1))
		ok=
		for i in "${!e_test[@]}"; do
			# shellcheck disable=SC2053 # a glob on purpose
			if [ "$s_test" = "${e_test[i]}" ] && [[ $s_case == ${e_case[i]} ]] &&
				[[ $s_reason == *"${e_reason[i]}"* ]]; then
				e_hits[i]=$((e_hits[i] + 1))
				ok=1
				break
			fi
		done
		if [ -z "$ok" ]; then
			SKIPS_UNEXPECTED=$((SKIPS_UNEXPECTED + 1))
			printf '[%s] FAIL: unexpected skip: %s: %s: %s (not in %s for %s)\n' \
				"$short" "$s_test" "$s_case" "$s_reason" \
				"${VM_EXPECTED_SKIPS#"$SRC_DIR"/}" "$release"
		fi
	done < <(tr -d '\r' <"$log")
	for i in "${!e_test[@]}"; do
		[ "${e_hits[i]}" -eq 0 ] || continue
		printf '[%s] note: expected skip did not happen: %s: %s: %s\n' \
			"$short" "${e_test[i]}" "${e_case[i]}" "${e_reason[i]}"
	done
}

record() {
	local release=$1 verdict=$2 p=$3 f=$4 s=$5 note=$6
	TOTAL_PASSED=$((TOTAL_PASSED + p))
	TOTAL_FAILED=$((TOTAL_FAILED + f))
	TOTAL_SKIPPED=$((TOTAL_SKIPPED + s))
	SUMMARY+=("$release: $verdict, $p passed, $f failed, $s skipped${note:+ ($note)}")
}

test_kernel() {
	local release=$1 tests=$2 dir short ko initrd marker log t0 build_secs
	local result p=0 f=0 s=0 verdict=FAIL note
	short=$(short_name "$release")
	kernel_settings "$release"
	dir=$SCRATCH/$release
	mkdir -p "$dir"
	log "[$short] building module for $release"
	t0=$(date +%s)
	# shellcheck disable=SC2086 # MAKE_ARGS is a word list
	if ! "$LIB_DIR/build-module.sh" "$release" "$dir/module" ${MAKE_ARGS:-}; then
		cp "$dir/module/build.log" "$VM_LOG_DIR/$release.build.log" 2>/dev/null || true
		record "$release" FAIL 0 1 0 "module build failed, log $VM_LOG_DIR/$release.build.log"
		return
	fi
	cp "$dir/module/build.log" "$VM_LOG_DIR/$release.build.log"
	build_secs=$(($(date +%s) - t0))
	ko=$dir/module/$MODULE_NAME.ko
	if ! (check_vermagic "$ko" "$release"); then
		record "$release" FAIL 0 1 0 "vermagic mismatch"
		return
	fi
	initrd=$dir/initrd.gz
	build_initramfs "$release" "$ko" "$tests" "$initrd"
	marker=$dir/marker
	log=$VM_LOG_DIR/$release.log
	log "[$short] booting $release (timeout ${K_TIMEOUT}s, log $log)"
	boot "$release" "$initrd" "$marker" "$log"

	result=$(grep -a '^RESULT ' "$log" | tail -n1 || true)
	if [[ $result =~ :\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
	fi
	note="build ${build_secs}s, boot+tests ${BOOT_SECS}s"
	# The suite's skips against the list (a --run program has no list).
	local skips_bad=0
	if [ -z "$RUN_CMD" ] && [ -n "$result" ]; then
		check_skips "$release" "$log"
		if [ "$SKIPS_SEEN" -ne "$s" ]; then
			# every skip must be seen to be checked
			note="the log has $SKIPS_SEEN SKIP lines, the guest counted $s; $note"
			f=$((f + 1))
			skips_bad=1
		fi
		if [ "$SKIPS_UNEXPECTED" -gt 0 ]; then
			# an unexpected skip is a failed case, not a skipped one
			s=$((s - SKIPS_UNEXPECTED))
			[ "$s" -ge 0 ] || s=0
			f=$((f + SKIPS_UNEXPECTED))
			note="$SKIPS_UNEXPECTED unexpected skips; $note"
			skips_bad=1
		fi
	fi
	if [ "$BOOT_RC" = 124 ] || [ "$BOOT_RC" = 137 ]; then
		note="timed out after ${K_TIMEOUT}s; $note"
	elif [ "$BOOT_RC" != 0 ]; then
		note="qemu exit $BOOT_RC; $note"
	fi
	if [ "$BOOT_RC" = 0 ] && grep -aqx 'SUCCESS' <(tr -d '\r' <"$marker") &&
		[ "$skips_bad" = 0 ]; then
		verdict=ok
	else
		[ -n "$result" ] || note="no RESULT line (crash, panic or hang?); $note"
		# A failed run always counts at least one failure.
		[ "$f" -gt 0 ] || f=1
	fi
	record "$release" "$verdict" "$p" "$f" "$s" "$note"
	log "[$short] $release: $verdict ($note)"
}

main() {
	local -a releases=()
	while [ "$#" -gt 0 ]; do
		case $1 in
		--run)
			[ "$#" -ge 2 ] || { usage >&2; exit 2; }
			RUN_CMD=$2
			shift 2
			;;
		--no-setup) DO_SETUP=0; shift ;;
		--keep) KEEP=1; shift ;;
		-h | --help) usage; exit 0 ;;
		--) shift; break ;;
		-*) usage >&2; exit 2 ;;
		*) break ;;
		esac
	done
	need_root

	# Prepare only what was asked for: with explicit kernels, `setup` fetches
	# sid only if one of them is sid.
	if [ "$DO_SETUP" = 1 ]; then
		if [ "$#" -gt 0 ]; then
			KERNELS="$*" "$KERNELS_SH" setup
		else
			"$KERNELS_SH" setup
		fi
	fi
	local list
	if [ "$#" -gt 0 ]; then
		list=$("$KERNELS_SH" resolve "$@")
	else
		list=$("$KERNELS_SH" list)
	fi
	mapfile -t releases <<<"$list"
	[ -n "$list" ] || die "no kernels selected"

	mkdir -p "$VM_LOG_DIR"
	SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/vm-test.XXXXXX")
	trap cleanup EXIT
	local tests=$SCRATCH/tests rel
	if ! stage_progs "$SCRATCH/progs"; then
		echo "vm: 0 passed, 1 failed, 0 skipped"
		die "building or staging the example programs and the benchmark failed"
	fi
	if [ -n "$RUN_CMD" ]; then
		stage_run_program "$tests"
	elif ! stage_tests "$tests"; then
		echo "vm: 0 passed, 1 failed, 0 skipped"
		die "building or staging the tests failed (tests/build empty?)"
	fi

	for rel in "${releases[@]}"; do
		test_kernel "$rel" "$tests"
	done

	echo
	echo "== vm-test summary"
	printf '%s\n' "${SUMMARY[@]}"
	echo "vm: $TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
	[ "$TOTAL_FAILED" -eq 0 ]
}

main "$@"
