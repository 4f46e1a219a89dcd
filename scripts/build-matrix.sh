#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the module with W=1 for every kernel of the matrix; any warning
# fails (scripts/build-module.sh). Prints "build: N passed, N failed".
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
pass=0
fail=0
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for k in $("$top/scripts/kernels.sh" list); do
	if "$top/scripts/build-module.sh" "$k" "$out/$k" W=1 >"$out/$k.log" 2>&1; then
		echo "PASS: build W=1 $k"
		pass=$((pass + 1))
	else
		echo "FAIL: build W=1 $k"
		tail -30 "$out/$k.log"
		fail=$((fail + 1))
	fi
done
echo "build: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
