#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot every kernel of the matrix in QEMU with the module loaded,
# run tools/bench/ inside, pull its CSV lines out of the console logs and
# report. Three modes (BENCH_MODE):
#
#   det   (default) the targets, deterministically: QEMU counts instructions
#         (-icount shift=0,sleep=off, one vCPU; tools/bench.vm), so CPU time
#         depends on what the guest executes and not on the host's load.
#         `bench -o targets`, BENCH_RUNS (2) full runs of every kernel;
#         scripts/bench_report.py writes build/bench/{results,targets,fit,
#         spread}.csv and, with BENCH_DOC=1, the targets block of
#         docs/BENCHMARKS.md and docs/benchmarks/*.csv.
#   wall  the whole send matrix, bvec import and lending under plain TCG
#         (throughput, every sender, hot and cold buffers);
#         scripts/bench_wall_report.py writes build/bench-wall/ and the
#         wall-clock blocks of docs/BENCHMARKS.md.
#   lend  the lending benchmark alone (bench -o lend) under plain TCG; same
#         report, build/bench-lend/ and the lending block. BENCH_ONLY=lend
#         is the older spelling.
#   profile  (make bench-profile) where a send's instructions go: the
#         60 KiB UDP cell of the module and of native SEND_ZC under the
#         function_graph tracer in the deterministic guest
#         (tools/benchprof.sh); scripts/bench_profile_report.py writes
#         build/bench-profile/profile.csv and, with BENCH_DOC=1, the
#         profile block of docs/BENCHMARKS.md. BENCH_ARGS are benchprof's
#         SENDER:FUNC,... lists.
#
# Not part of `make check` (it times things); tests/bench_smoke.c runs the
# program with tiny sizes there.
#
# Environment:
#   KERNELS="6.1 6.12 sid"  kernels (default: scripts/kernels.sh list)
#   BENCH_MODE=det|wall|lend|profile
#   BENCH_RUNS=N            det: full runs to compare (default 2)
#   BENCH_ARGS="..."        arguments of tools/build/bench (bench -h)
#   BENCH_OUT=DIR           output directory
#   BENCH_DOC=0             leave docs/ alone. With BENCH_DOC=1 (default) the
#                           tree must have no uncommitted change under
#                           module/, include/ or uapi/: the results name the
#                           commit they describe.
#   BENCH_REPORT_ONLY=1     no guests: redo the report from BENCH_OUT's logs
#   BENCH_SOURCE=...        what was measured, when the tree is no git
#                           checkout (a git archive, say)
#   SKIP_DEPS=1             do not run install-deps.sh / kernels.sh setup
#   VM_MEM, VM_TIMEOUT, VM_TEST_TIMEOUT as for scripts/vm-test.sh
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ "${BENCH_ONLY:-}" = lend ]; then
	BENCH_MODE=${BENCH_MODE:-lend}
fi
BENCH_MODE=${BENCH_MODE:-det}
# The guest program: tools/bench, or its profiler.
BENCH_PROG=bench
case "$BENCH_MODE" in
det)
	# Nine repetitions of 40 ms windows (80 ms on the NIC path) of the
	# target cells: about 2 minutes per kernel and run on 2 host cores.
	BENCH_ARGS=${BENCH_ARGS:-"-o targets -S -r 9 -t 40 -w 10 -q 8 -m send,sendzc,mod,mod_b16"}
	BENCH_OUT=${BENCH_OUT:-$SRC_DIR/build/bench}
	BENCH_RUNS=${BENCH_RUNS:-2}
	export BENCH_CLOCK=icount
	;;
wall)
	# Nine interleaved repetitions of 100 ms per sender and cell; TCP
	# receiver on the sender's vCPU (-c 0,0); the 4 KiB vs 2 MiB page
	# pass (-H); lending. About 15 minutes for four kernels.
	BENCH_ARGS=${BENCH_ARGS:-"-r 9 -t 100 -w 20 -q 8 -c 0,0 -C 128M -H"}
	BENCH_OUT=${BENCH_OUT:-$SRC_DIR/build/bench-wall}
	BENCH_RUNS=1
	;;
lend)
	BENCH_ARGS=${BENCH_ARGS:-"-o lend -r 15 -t 60 -w 20 -q 8 -c 0,0"}
	BENCH_OUT=${BENCH_OUT:-$SRC_DIR/build/bench-lend}
	BENCH_RUNS=1
	export BENCH_ONLY=lend
	;;
profile)
	# Functions of one list must not call each other (a traced callee
	# counts in its caller's time); sock_from_file is the yardstick.
	# shellcheck disable=SC2054 # commas inside benchprof arguments
	specs=(
		mod:pbuf_uring_cmd,io_uring_cmd_prep
		sendzc:io_send_zc,io_send_zc_prep,io_notif_tw_complete/__io_notif_complete_tw
		mod:sock_sendmsg,pbuf_op_alloc_sel,pbuf_notif_alloc,pbuf_bufsel_select,pbuf_op_free,pbuf_cmd_done,sock_from_file
		sendzc:sock_sendmsg,io_import_fixed/io_import_reg_buf,sock_from_file
		mod:pbuf_ring_get,pbuf_ring_peek,pbuf_regbuf_get,pbuf_skb_fill,pbuf_notif_callback,sock_from_file
		sendzc:io_sg_from_iter,io_tx_ubuf_complete/io_tx_ubuf_callback/io_uring_tx_zerocopy_callback,sock_from_file
		mod_b16:pbuf_bufsel_select,sock_sendmsg,sock_from_file
		mod_b16:pbuf_ring_peek,pbuf_skb_fill,sock_from_file
	)
	BENCH_ARGS=${BENCH_ARGS:-"${specs[*]}"}
	BENCH_OUT=${BENCH_OUT:-$SRC_DIR/build/bench-profile}
	BENCH_RUNS=1
	BENCH_PROG=benchprof
	export BENCH_CLOCK=icount
	;;
*)
	die "BENCH_MODE=$BENCH_MODE: det, wall, lend or profile"
	;;
esac
case "$BENCH_RUNS" in
[1-9]) ;;
*) die "BENCH_RUNS=$BENCH_RUNS: 1 to 9" ;;
esac
BENCH_DOC=${BENCH_DOC:-1}
export VM_MEM=${VM_MEM:-1G}
export VM_TIMEOUT=${VM_TIMEOUT:-1500}
export VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-1400}

report() {
	local docs=()
	[ "$BENCH_DOC" = 1 ] && docs=("$SRC_DIR/docs")
	if [ "$BENCH_MODE" = det ]; then
		python3 "$LIB_DIR/bench_report.py" "$BENCH_OUT" "${docs[@]}"
	elif [ "$BENCH_MODE" = profile ]; then
		python3 "$LIB_DIR/bench_profile_report.py" "$BENCH_OUT" "${docs[@]}"
	else
		python3 "$LIB_DIR/bench_wall_report.py" "$BENCH_OUT" "$BENCH_OUT/run1/vm-logs" "${docs[@]}"
	fi
}

# The commit the results describe; refuses a tree whose module, headers or
# uAPI differ from it when the results are to be published.
source_commit() {
	local dirty
	if ! git -C "$SRC_DIR" rev-parse --git-dir >/dev/null 2>&1; then
		echo "${BENCH_SOURCE:-unknown}"
		return
	fi
	dirty=$(git -C "$SRC_DIR" status --porcelain -- module include uapi Kbuild)
	if [ -n "$dirty" ]; then
		[ "$BENCH_DOC" = 1 ] &&
			die "uncommitted changes under module/, include/ or uapi/: commit them, or BENCH_DOC=0 to leave docs/ alone:
$dirty"
		echo "$(git -C "$SRC_DIR" rev-parse --short=12 HEAD) with uncommitted module changes"
		return
	fi
	git -C "$SRC_DIR" rev-parse --short=12 HEAD
}

if [ "${BENCH_REPORT_ONLY:-0}" = 1 ]; then
	[ -s "$BENCH_OUT/machine.txt" ] || die "no $BENCH_OUT/machine.txt: run make bench first"
	report
	exit
fi

need_root
commit=$(source_commit)
start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- dependencies: the kernels, and something to draw the chart with ------
if [ "${SKIP_DEPS:-0}" != 1 ]; then
	"$LIB_DIR/install-deps.sh"
	"$LIB_DIR/kernels.sh" setup
fi
missing=()
command -v python3 >/dev/null || missing+=(python3)
[ "$BENCH_MODE" = det ] || command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null ||
		{ apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
			apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi
command -v python3 >/dev/null || die "python3 is needed for the report"

mapfile -t releases < <("$LIB_DIR/kernels.sh" list)
[ "${#releases[@]}" -gt 0 ] || die "no kernels"
mkdir -p "$BENCH_OUT"
rm -rf "$BENCH_OUT"/run[0-9]

# --- the guest runs ----------------------------------------------------------
vm_rc=0
for run in $(seq 1 "$BENCH_RUNS"); do
	export VM_LOG_DIR=$BENCH_OUT/run$run/vm-logs
	mkdir -p "$VM_LOG_DIR"
	log "run $run of $BENCH_RUNS ($BENCH_MODE): ${releases[*]} with: $BENCH_PROG $BENCH_ARGS"
	set +e
	"$LIB_DIR/vm-test.sh" --no-setup --run "$BENCH_PROG $BENCH_ARGS" "${releases[@]}" |
		tee "$BENCH_OUT/run$run/console.log" | grep -v -E '\] bench(prof)?: (BENCH|BVEC|LEND)'
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" = 0 ] || vm_rc=$rc
done
end=$(date +%s)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- machine description --------------------------------------------------------
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "elapsed_s=$((end - start))"
	echo "vm_rc=$vm_rc"
	echo "git=$commit"
	echo "mode=$BENCH_MODE"
	echo "runs=$BENCH_RUNS"
	echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "host_cpus=$(nproc)"
	echo "host_mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "host_llc=$(lscpu 2>/dev/null | sed -n 's/^L3 cache:[[:space:]]*//p' | head -n1)"
	echo "host_kernel=$(uname -r)"
	echo "qemu=$(qemu-system-x86_64 --version | head -n1)"
	if [ "$BENCH_MODE" = det ] || [ "$BENCH_MODE" = profile ]; then
		echo "accel=tcg"
		echo "clock=-icount shift=0,sleep=off: 1 instruction = 1 ns of guest time"
		echo "vm=1 vCPU (qemu64), $VM_MEM"
	else
		echo "accel=$(if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then echo 'kvm if the probe boot works, else tcg'; else echo tcg; fi)"
		echo "clock=host time (plain TCG)"
		echo "vm=${VM_SMP:-2} vCPUs (qemu64), $VM_MEM"
	fi
	echo "load_start=$load_start"
	echo "load_end=$load_end"
	echo "bench_args=$BENCH_ARGS"
	echo "liburing=$(dpkg-query -W -f='${Version}' liburing-dev 2>/dev/null || echo unknown)"
	for r in "${releases[@]}"; do echo "kernel=$r"; done
} >"$BENCH_OUT/machine.txt"

# --- report ----------------------------------------------------------------------
report_rc=0
report || report_rc=$?

log "make bench ($BENCH_MODE) took $((end - start)) s (guests exit status $vm_rc, report $report_rc)"
[ "$vm_rc" = 0 ] || exit "$vm_rc"
exit "$report_rc"
