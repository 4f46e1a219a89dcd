# SPDX-License-Identifier: GPL-2.0
# A short run of tools/fuzz (random and malformed operations from racing
# threads and killed processes) on every kernel of the guest matrix; the
# long runs are `make fuzz` on the debug kernel. scripts/vm-test.sh stages
# the fuzzer as /tools/fuzz. FUZZ_SMOKE_SECONDS (default 15) and FUZZ_SEED
# (replay) come from the environment when set.
# shellcheck shell=sh

if [ ! -x /tools/fuzz ]; then
	echo "SKIP: fuzz_smoke: /tools/fuzz not staged (no tools/fuzz.c?)"
	exit 0
fi
/tools/fuzz --seconds "${FUZZ_SMOKE_SECONDS:-15}"
