#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /init of the QEMU test guest (busybox sh, PID 1), put there by vm-test.sh.
#
# Loads the helper modules and iouring_pbuf.ko, runs every test in /tests
# (or the one program named by VM_RUN), unloads the module, checks the
# kernel log and taint flags, prints
#   RESULT <release>: N passed, N failed, N skipped
# and writes SUCCESS or FAILURE to /dev/ttyS1, which the host reads from a
# file: a crash, a hang or a missing marker can never pass (WireGuard's
# QEMU harness does the same). panic_on_warn/oops=panic on the command line
# turn any WARN or oops into an immediate power-off without a marker.
#
# On a kernel with kmemleak (the debug kernel, scripts/debug-kernel.sh)
# leaks are scanned for after the tests and again after rmmod; with fault
# injection, failslab and fail_page_alloc are set up for fail-nth (every
# allocation may fail, silently) and the kernel-log check tolerates the
# allocation-failure dumps an injected failure may print.
#
# Test protocol: a test prints `PASS: <case>`, `FAIL: <case>: <why>` or
# `SKIP: <case>: <reason>` lines and exits 0 on success, non-zero on failure.
# A non-zero exit without a FAIL line counts as one failure "<test>: exit N";
# a test that prints no result line at all counts as one failure too.
#
# Settings come from /etc/vmtest.conf (written by vm-test.sh): VM_RELEASE,
# VM_RUN, VM_TEST_TIMEOUT, VM_DMESG_IGNORE.
# shellcheck shell=sh

PATH=/usr/sbin:/usr/bin:/sbin:/bin:/tests:/tools
export PATH

VM_RELEASE=unknown
VM_RUN=
VM_TEST_TIMEOUT=120
VM_DMESG_IGNORE=
# shellcheck source=/dev/null
[ -r /etc/vmtest.conf ] && . /etc/vmtest.conf
export VM_RELEASE

MODULE=iouring_pbuf
DEVICE=/dev/iouring-pbuf

# Kernel log lines that indicate a bug. Case-sensitive on purpose: "leak"
# alone is matched as a word so e.g. "Memory leak" matches but boot-time
# lines like "Leak" in a CPU name do not.
DMESG_BAD='WARNING|BUG|Oops|refcount_t|lockdep|[Ll]eak\b|KASAN|UBSAN|general protection|Call Trace|kmemleak|list_(add|del) corruption|stack-protector|segfault at'
# Known-benign matches, extended per run with VM_DMESG_IGNORE (an extended
# regex). A clean TCG boot of Debian's 6.1, 6.12 and sid 7.2 kernels has no
# match at all; these are CPU-vulnerability notices that appear only with a
# host CPU model (KVM): "MDS CPU bug present and SMT on, data leak possible"
# and "Spectre V2 : WARNING: Unprivileged eBPF is enabled ...".
# The debug kernel announces its detectors at boot: "rcu: RCU lockdep
# checking is enabled." and "kmemleak: Kernel memory leak detector
# initialized (mem pool available: N)".
DMESG_BENIGN='data leak possible|Spectre V2 : WARNING: Unprivileged eBPF|rcu:[[:space:]]+RCU lockdep checking is enabled\.|kmemleak: Kernel memory leak detector initialized'
# Taint bits that mean something went wrong (kernel/panic.c): 4 MCE,
# 5 bad page, 7 die/oops, 9 WARN, 14 soft lockup. Out-of-tree (O, 12) and
# unsigned-module (E, 13) taints are expected for this module.
TAINT_BAD=$(((1 << 4) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14)))

passed=0
failed=0
skipped=0

say() { echo "$*"; }

# An infrastructure failure (not a test case): counted as one failed case.
infra_fail() {
	say "FAIL: init: $*"
	failed=$((failed + 1))
}

setup_fs() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	# The initramfs has no devtmpfs of its own; the kernel does not mount it
	# into an initramfs root (CONFIG_DEVTMPFS_MOUNT applies to real roots).
	mount -t devtmpfs devtmpfs /dev 2>/dev/null
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs tmpfs /dev/shm
	mount -t tmpfs tmpfs /tmp
	mount -t tmpfs tmpfs /run
	[ -d /sys/kernel/debug ] && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	setup_fault_injection
	# bash-isms in test scripts (process substitution) want /dev/fd.
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
	hostname vmtest
	ip link set lo up
	# The tests' hang guard factor (tests/harness.h), from vm-test.sh.
	IOPBUF_TIME_FACTOR=$(sed -n 's/.*\biopbuf_time_factor=\([0-9]*\).*/\1/p' /proc/cmdline)
	[ -n "$IOPBUF_TIME_FACTOR" ] || IOPBUF_TIME_FACTOR=1
	export IOPBUF_TIME_FACTOR
	say "init: time factor $IOPBUF_TIME_FACTOR"
}

# Fault injection (debug kernel): fail-nth (/proc/thread-self/fail-nth)
# may fail any slab or page allocation of the writing task, sleeping ones
# and order 0 included, without a "forcing a failure" stack dump each time.
# Nothing fails unless a test writes fail-nth: the probability stays 0.
FAULT_INJECTION=0
setup_fault_injection() {
	d=
	for d in /sys/kernel/debug/failslab /sys/kernel/debug/fail_page_alloc; do
		[ -d "$d" ] || continue
		FAULT_INJECTION=1
		echo 0 >"$d/verbose"
		echo N >"$d/ignore-gfp-wait"
		[ ! -e "$d/ignore-gfp-highmem" ] || echo N >"$d/ignore-gfp-highmem"
		[ ! -e "$d/min-order" ] || echo 0 >"$d/min-order"
	done
	[ "$FAULT_INJECTION" = 0 ] || say "init: fault injection ready (fail-nth)"
}

# Kernel modules the tests need (veth, virtio_net, ...), in dependency order
# as computed on the host from the kernel's modules.dep.
load_helper_modules() {
	m=
	[ -r /modules/order ] || return 0
	while read -r m; do
		[ -n "$m" ] || continue
		if ! insmod "/modules/$m" 2>/tmp/insmod.err; then
			infra_fail "insmod $m: $(cat /tmp/insmod.err)"
		fi
	done </modules/order
}

load_module() {
	if ! insmod "/$MODULE.ko" 2>/tmp/insmod.err; then
		infra_fail "insmod $MODULE.ko: $(cat /tmp/insmod.err)"
		dmesg | tail -n 20
		return 1
	fi
	if [ ! -c "$DEVICE" ]; then
		infra_fail "$DEVICE missing after insmod"
		return 1
	fi
	say "init: $MODULE loaded on $(uname -r)"
}

count_lines() {
	grep -c "^$1: " "$2" 2>/dev/null || true
}

# Run CMD with a timeout, output on stdout, status into /tmp/rc.
# The test runs as its own process group (setsid without fork: a
# background job of a non-interactive shell is not a group leader), so the
# watchdog and the final cleanup reach every process it started: a stray
# child keeping the output pipe open would otherwise stall the run.
# /tmp/timedout exists afterwards if the watchdog fired.
run_timed() {
	rm -f /tmp/rc /tmp/timedout
	(
		cd /tmp || exit 1
		setsid "$@" </dev/null 2>&1 &
		pid=$!
		# shellcheck disable=SC2016 # expanded by the watchdog's sh
		setsid sh -c 'sleep "$1"; touch /tmp/timedout; kill -TERM -- "-$2"
			sleep 5; kill -KILL -- "-$2"' sh "$VM_TEST_TIMEOUT" "$pid" \
			</dev/null >/dev/null 2>&1 &
		wd=$!
		wait "$pid"
		echo $? >/tmp/rc
		kill -KILL -- "-$wd" 2>/dev/null
		kill -KILL -- "-$pid" 2>/dev/null
	)
}

# Run one test: stream its output prefixed with its name, then count its
# PASS/FAIL/SKIP lines and judge its exit status.
run_one() {
	name=$1
	shift
	out=/tmp/out.$name
	: >"$out"
	t0=$(date +%s)
	# The reader loop is unbuffered: lines reach the console as they come.
	run_timed "$@" | while IFS= read -r line; do
		echo "$line" >>"$out"
		say "$name: $line"
	done
	rc=$(cat /tmp/rc 2>/dev/null || echo 255)
	dt=$(($(date +%s) - t0))
	p=$(count_lines PASS "$out")
	f=$(count_lines FAIL "$out")
	s=$(count_lines SKIP "$out")
	passed=$((passed + p))
	skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		failed=$((failed + f))
	elif [ "$rc" -ne 0 ]; then
		why="exit $rc"
		[ -e /tmp/timedout ] && why="$why (timed out after ${VM_TEST_TIMEOUT}s)"
		say "$name: FAIL: $name: $why"
		failed=$((failed + 1))
	elif [ $((p + s)) -eq 0 ]; then
		say "$name: FAIL: $name: no PASS/FAIL/SKIP line"
		failed=$((failed + 1))
	fi
	say "$name: done: exit $rc, ${p} passed, ${f} failed, ${s} skipped, ${dt}s"
}

run_suite() {
	n=0
	for t in /tests/*; do
		[ -f "$t" ] || continue
		name=${t##*/}
		case $t in
		*.sh) run_one "${name%.sh}" sh "$t" ;;
		*)
			[ -x "$t" ] || continue
			run_one "$name" "$t"
			;;
		esac
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || infra_fail "no tests in /tests"
}

# --run mode: one program; its exit status is the single result.
run_program() {
	prog=${VM_RUN%% *}
	prog=${prog##*/}
	say "init: running: $VM_RUN"
	# VM_RUN is a command line: word splitting is intended.
	# shellcheck disable=SC2086
	run_timed $VM_RUN | while IFS= read -r line; do say "$prog: $line"; done
	rc=$(cat /tmp/rc 2>/dev/null || echo 255)
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
	else
		why="exit $rc"
		[ -e /tmp/timedout ] && why="$why (timed out after ${VM_TEST_TIMEOUT}s)"
		say "FAIL: $prog: $why"
		failed=$((failed + 1))
	fi
}

# busybox rmmod uses O_NONBLOCK: it fails with EAGAIN while anything holds
# a reference. io_uring tears rings down asynchronously (io_ring_exit_work),
# so a test's last file reference may drop shortly after it exits: retry
# for up to RMMOD_WAIT seconds before calling it a leak.
RMMOD_WAIT=10
unload_module() {
	i=0
	while ! rmmod "$MODULE" 2>/tmp/rmmod.err; do
		i=$((i + 1))
		if [ "$i" -gt $((RMMOD_WAIT * 5)) ]; then
			infra_fail "rmmod $MODULE (after ${RMMOD_WAIT}s): $(cat /tmp/rmmod.err)"
			lsmod | grep "^$MODULE" || true
			return 1
		fi
		sleep 0.2
	done
	[ "$i" -eq 0 ] || say "init: rmmod $MODULE needed $i retries"
	say "init: $MODULE unloaded"
}

# kmemleak reports only objects older than 5 s (MSECS_MIN_AGE) found
# unreferenced by two scans; a report is printed, counted and cleared, so
# that the next check shows only new leaks.
KMEMLEAK_MIN_AGE=6
check_kmemleak() {
	k=/sys/kernel/debug/kmemleak
	[ -w "$k" ] || return 0
	t0=$(date +%s)
	sleep "$KMEMLEAK_MIN_AGE"
	echo scan >"$k"
	echo scan >"$k"
	if [ -s "$k" ] && grep -q unreferenced "$k"; then
		infra_fail "kmemleak reports leaks $1:"
		sed 's/^/kmemleak: /' "$k" | head -n 200
		echo clear >"$k"
	else
		say "init: kmemleak: no leaks $1 ($(($(date +%s) - t0))s)"
	fi
}

# The kernel log without what an injected allocation failure (fault
# injection only) may print: warn_alloc()'s "...: page allocation failure:
# ..." or "...: vmalloc error: ..." and its stack trace (only the trace
# lines -- frames, Call Trace, <TASK> -- are dropped, up to the dump's
# </TASK>: anything else printed meanwhile, a report from another CPU
# included, is kept), and kmemleak's "Cannot allocate a scan area,
# scanning the full object" (it falls back; a failed kmemleak_object
# allocation, which disables kmemleak, still counts).
dmesg_filtered() {
	if [ "$FAULT_INJECTION" = 0 ]; then
		dmesg
		return
	fi
	dmesg | awk '
		/kmemleak: Cannot allocate a scan area, scanning the full object/ { next }
		/page allocation failure: order:|vmalloc error: size|vmalloc size [0-9]+ allocation failure/ {
			skip = 200
		}
		skip > 0 {
			skip--
			if ($0 ~ /<\/TASK>/) { skip = 0; next }
			if ($0 ~ /Call Trace:|<TASK>|[A-Za-z0-9_.]+\+0x[0-9a-f]+\/0x[0-9a-f]+/)
				next
		}
		{ print }
	'
}

check_dmesg() {
	ignore=$DMESG_BENIGN
	[ -n "$VM_DMESG_IGNORE" ] && ignore="$ignore|$VM_DMESG_IGNORE"
	dmesg_filtered | grep -E "$DMESG_BAD" | grep -v -E "$ignore" >/tmp/dmesg.bad
	if [ -s /tmp/dmesg.bad ]; then
		infra_fail "suspicious kernel log lines:"
		sed 's/^/dmesg: /' /tmp/dmesg.bad
	fi
	taint=$(cat /proc/sys/kernel/tainted)
	if [ $((taint & TAINT_BAD)) -ne 0 ]; then
		infra_fail "kernel tainted: $taint"
	fi
}

finish() {
	say "RESULT $VM_RELEASE: $passed passed, $failed failed, $skipped skipped"
	if [ "$failed" -eq 0 ]; then
		marker=SUCCESS
	else
		marker=FAILURE
		# Full kernel log for the host's log file: failures need context.
		say "init: --- dmesg ---"
		dmesg
		say "init: --- end of dmesg ---"
	fi
	# Opening and closing the port drains it before power-off.
	echo "$marker" >/dev/ttyS1
	sleep 0.2
	# A kernel without ACPI (the debug kernel) cannot power off; QEMU runs
	# with -no-reboot, so a reboot ends it just the same.
	if [ -d /sys/firmware/acpi ]; then
		poweroff -f
	else
		reboot -f
	fi
	# Not reached; PID 1 must never exit (that would be a panic).
	while :; do sleep 60; done
}

main() {
	setup_fs
	say "init: booted $(uname -r) in $(cut -d' ' -f1 /proc/uptime)s"
	load_helper_modules
	if load_module; then
		if [ -n "$VM_RUN" ]; then
			run_program
		else
			run_suite
		fi
		check_kmemleak "after the tests"
		unload_module && check_kmemleak "after rmmod"
	else
		check_kmemleak "at the end"
	fi
	check_dmesg
	finish
}

main
