#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the module with W=1 for every kernel of the matrix; any warning
# fails (scripts/build-module.sh). Prints "build: N passed, N failed,
# 0 skipped". The matrix is `kernels.sh list`: if that fails or lists no
# kernel, the tier fails (it would otherwise pass having built nothing).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pass=0
fail=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

if ! list=$("$top/scripts/kernels.sh" list); then
	echo "FAIL: build: scripts/kernels.sh list failed"
	echo "build: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
mapfile -t kernels < <(grep . <<<"$list" || true)
if [ "${#kernels[@]}" -eq 0 ]; then
	echo "FAIL: build: scripts/kernels.sh list gave no kernel"
	echo "build: 0 passed, 1 failed, 0 skipped"
	exit 1
fi

for k in "${kernels[@]}"; do
	if "$top/scripts/build-module.sh" "$k" "$out/$k" W=1 >"$out/$k.log" 2>&1; then
		echo "PASS: build W=1 $k"
		pass=$((pass + 1))
	else
		echo "FAIL: build W=1 $k"
		tail -30 "$out/$k.log"
		fail=$((fail + 1))
	fi
done
echo "build: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
