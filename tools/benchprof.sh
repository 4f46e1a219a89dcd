#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of `make bench-profile` (scripts/bench-profile.sh), run as
# /tests/benchprof with the module loaded, in the deterministic guest of
# tools/bench.vm (QEMU -icount: one instruction, one nanosecond).
#
# For each SPEC, SENDER:FUNC[,FUNC...], it runs tools/bench's 60 KiB hot
# UDP cell of SENDER (mod, mod_b16, sendzc, ...) with the function_graph
# tracer on exactly those functions, with the x86-tsc trace clock (in the
# icount guest a tick is an instruction), and prints per function
#   BENCHPROF,SENDER,FUNC,CALLS,AVG_TICKS
# or BENCHPROF,SENDER,FUNC,-,- for a function this kernel cannot trace
# (inlined, renamed). FUNC may name alternatives, FIRST/OTHER...: the first
# one the kernel can trace is, and is reported as FIRST (a function that
# was renamed between kernels). Only the listed functions are patched, so the code
# between them runs at full speed, but each traced function's own time
# includes part of the tracer's entry and exit (about 690 ticks), and a
# traced function's time includes all of it for each traced callee: list
# functions that do not call each other, and one known cheap function
# (sock_from_file) to measure the overhead with. The host subtracts it.
#
# Usage (in the guest): benchprof SPEC...
# shellcheck shell=sh
# shellcheck disable=SC3043 # busybox ash has `local`
set -eu

T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T

# Set the filter one function at a time: one the kernel cannot trace
# fails alone. /tmp/benchprof.ok lists the names to report, and
# /tmp/benchprof.alias "TRACED NAME" where an alternative was traced.
set_filter() {
	local spec fn name
	: > $T/set_ftrace_filter
	for spec in $(echo "$1" | tr ',' ' '); do
		name=${spec%%/*}
		for fn in $(echo "$spec" | tr '/' ' ') -; do
			[ "$fn" = - ] && break
			if echo "$fn" >> $T/set_ftrace_filter 2>/dev/null; then
				echo "$name" >> /tmp/benchprof.ok
				echo "$fn $name" >> /tmp/benchprof.alias
				break
			fi
		done
		[ "$fn" = - ] && echo "BENCHPROF,$2,$name,-,-"
	done
	return 0
}

# Average duration per function from function_graph's output: leaf calls
# ("12.345 us | f();") and closing braces ("12.345 us | } /* f */").
summarize() {
	awk -v sender="$1" '
	FNR == NR { alias[$1] = $2; next }
	/^#/ { next }
	{
		i = index($0, "|")
		if (!i)
			next
		pre = substr($0, 1, i - 1)
		body = substr($0, i + 1)
		sub(/^ +/, "", body)
		gsub(/ \[[a-z_0-9]+\]/, "", body)
		if (!match(pre, /[0-9]+\.[0-9]+ us/))
			next
		dur = substr(pre, RSTART, RLENGTH - 3) * 1000
		name = ""
		if (body ~ /^[A-Za-z_0-9.]+\(\);/) {
			name = body
			sub(/\(.*/, "", name)
		} else if (body ~ /^} \/\* /) {
			name = body
			sub(/^} \/\* /, "", name)
			sub(/ .*/, "", name)
		}
		if (name == "")
			next
		if (name in alias)
			name = alias[name]
		sum[name] += dur
		n[name]++
	}
	END {
		for (f in sum)
			printf "BENCHPROF,%s,%s,%d,%.0f\n", sender, f, n[f], sum[f] / n[f]
	}' /tmp/benchprof.alias $T/trace
}

profile() {
	local sender="$1" fns="$2"
	echo 0 > $T/tracing_on
	echo nop > $T/current_tracer
	: > $T/trace
	: > /tmp/benchprof.ok
	: > /tmp/benchprof.alias
	echo x86-tsc > $T/trace_clock
	echo 30000 > $T/buffer_size_kb
	echo 0 > $T/max_graph_depth
	echo 1 > $T/options/funcgraph-tail
	set_filter "$fns" "$sender"
	[ -s /tmp/benchprof.ok ] || return 0
	echo function_graph > $T/current_tracer
	echo 1 > $T/tracing_on
	# one short repetition: the tracer makes it several times slower
	/tests/bench -o matrix -P udp -p 64k -T hot -m "$sender" -r 1 -t 10 \
		-w 2 -q 8 -N > /tmp/benchprof.out 2>&1 || {
		cat /tmp/benchprof.out
		echo "benchprof: bench failed for $sender" >&2
		exit 1
	}
	echo 0 > $T/tracing_on
	summarize "$sender" | tee /tmp/benchprof.seen
	# a listed function the cell never called
	while read -r fn; do
		grep -q "^BENCHPROF,$sender,$fn," /tmp/benchprof.seen ||
			echo "BENCHPROF,$sender,$fn,0,-"
	done < /tmp/benchprof.ok
	echo nop > $T/current_tracer
}

[ $# -gt 0 ] || {
	echo "usage: benchprof SENDER:FUNC[,FUNC...]..." >&2
	exit 2
}
for spec in "$@"; do
	profile "${spec%%:*}" "${spec#*:}"
done
echo BENCHPROFDONE
