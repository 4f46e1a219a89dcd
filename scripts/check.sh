#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: every test tier, on every kernel of the matrix.
#
#   deps     install missing Debian packages, prepare the kernel matrix
#   style    checkpatch --strict, sparse, shellcheck, man pages: zero findings
#   build    the module with W=1 for every kernel, zero warnings
#   kunit    KUnit suites under kunit.py on Debian's 6.1 and 6.12 sources
#   vm       the selftests inside QEMU guests of every kernel (PREEMPT_RT
#            6.12 included)
#   debug    the selftests (and the fault-injection walk) on the debug
#            kernel: KASAN, KFENCE, UBSAN, lockdep, kmemleak, fail-nth;
#            built once from linux-source-6.12 and cached
#   fuzz     tools/fuzz on the debug kernel for FUZZ_SECONDS (120)
#   demo     the README's demo (make demo) in a 6.1 guest
#   dkms     DKMS build, install and removal for the kernels whose headers
#            the host has (bookworm's 6.1: linux-headers-amd64)
#   deb      the Debian packages (debian/, dpkg-buildpackage): build (lib's
#            header check runs as its test step), lintian with no error or
#            warning, install (DKMS builds the module), compile the examples
#            and <iopbuf.h> against the installed library, purge
#
# Each tier ends with "<tier>: N passed, N failed, N skipped" (a tier that
# has nothing to skip may leave out ", N skipped": 0); a tier that ends
# without one, or with 0 passed and 0 failed, counts as one failure. All tiers run even after a failure.
# The last line sums them: "N passed, N failed, N skipped", alone on its
# line (CI reads it). Set TIERS="style kunit" to run a subset.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
tiers=${TIERS:-"deps style build kunit vm debug fuzz demo dkms deb"}
# The fuzzer's time in check: "a few minutes"; `make fuzz` runs it longer.
check_fuzz_seconds=${FUZZ_SECONDS:-120}
# ... replaying one fixed seed, so that a check's verdict describes the
# code rather than the dice; `make fuzz` (a new seed each run) explores.
check_fuzz_seed=${FUZZ_SEED:-20261204}
log_dir=$top/build/check
mkdir -p "$log_dir"
total_pass=0
total_fail=0
total_skip=0
summary=()

tier_cmd() {
	case "$1" in
	deps) echo "scripts/install-deps.sh && scripts/kernels.sh setup && echo 'deps: 1 passed, 0 failed, 0 skipped'" ;;
	style) echo "scripts/style.sh" ;;
	build) echo "scripts/build-matrix.sh" ;;
	kunit) echo "scripts/kunit.sh" ;;
	vm) echo "scripts/vm-test.sh --no-setup" ;;
	debug) echo "SKIP_DEPS=1 scripts/debug-kernel.sh test" ;;
	fuzz) echo "SKIP_DEPS=1 FUZZ_SECONDS=$check_fuzz_seconds FUZZ_SEED=$check_fuzz_seed scripts/debug-kernel.sh fuzz" ;;
	demo) echo "scripts/vm-test.sh --no-setup --run demo 6.1 | sed 's/^vm: /demo: /'" ;;
	dkms) echo "scripts/dkms.sh test" ;;
	deb) echo "scripts/deb.sh test" ;;
	*) return 1 ;;
	esac
}

for t in $tiers; do
	cmd=$(tier_cmd "$t") || { echo "unknown tier $t" >&2; exit 2; }
	echo "=== $t: $cmd"
	start=$SECONDS
	bash -o pipefail -c "$cmd" 2>&1 | tee "$log_dir/$t.log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E "^$t: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?\$" \
		"$log_dir/$t.log" | tail -1)
	p=0 f=1 s=0
	if [[ $line =~ ^$t:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
		# the tier failed after its count, e.g. in teardown
		[ "$rc" -eq 0 ] || [ "$f" -ne 0 ] || f=1
		# a tier that passed and failed nothing ran nothing
		if [ $((p + f)) -eq 0 ]; then
			echo "$t: ran nothing (0 passed, 0 failed): 1 failed"
			f=1
		fi
	else
		echo "$t: no summary line \"$t: N passed, N failed, N skipped\": 1 failed"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	summary+=("$t: $p passed, $f failed, $s skipped ($((SECONDS - start)) s)")
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" -eq 0 ]
