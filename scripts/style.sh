#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Kernel style gates, all of which must report zero findings:
#  - checkpatch.pl --strict (from Debian's linux-source-6.12) over every
#    kernel-side and uAPI source file;
#  - sparse (make C=2) over the module, built against the 6.1 and 6.12
#    headers;
#  - shellcheck over every shell script of the tree (*.sh, the files
#    whose first line names sh or bash, the sourced *.vm fragments);
#  - pyflakes over the Python benchmark reports (scripts/*.py);
#  - the man pages: `make -C lib check-man` renders each with warnings on.
# Prints one PASS/FAIL line per gate and "style: N passed, N failed,
# 0 skipped"; a checker's non-zero exit status fails its gate.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${PBUF_CACHE:-/var/cache/iouring-pbuf}/checkpatch
pass=0
fail=0

result() {
	if [ "$1" -eq 0 ]; then
		echo "PASS: $2"
		pass=$((pass + 1))
	else
		echo "FAIL: $2"
		fail=$((fail + 1))
	fi
}

# checkpatch.pl and the data files it reads, extracted once.
checkpatch() {
	local tarball=/usr/src/linux-source-6.12.tar.xz dir
	[ -f "$tarball" ] || { echo "missing $tarball (make deps)" >&2; return 1; }
	dir=$cache/linux-source-6.12
	if [ ! -x "$dir/scripts/checkpatch.pl" ] || [ "$tarball" -nt "$dir/scripts/checkpatch.pl" ]; then
		rm -rf "$dir"
		mkdir -p "$cache"
		tar -C "$cache" -xJf "$tarball" \
			linux-source-6.12/scripts/checkpatch.pl \
			linux-source-6.12/scripts/spelling.txt \
			linux-source-6.12/scripts/const_structs.checkpatch
		touch "$dir/scripts/checkpatch.pl"
	fi
	echo "$dir/scripts/checkpatch.pl"
}

# Prints checkpatch's findings; fails when checkpatch cannot run or exits
# non-zero (its status counts even when its output says nothing).
run_checkpatch() {
	local cp files out rc=0 r
	cp=$(checkpatch) || { echo "checkpatch.pl is not available"; return 1; }
	local cp_args=(--no-tree --strict --terse --show-types)
	files=()
	for r in "$top"/module/*.c "$top"/include/*.h "$top"/kunit/*.c; do
		case ${r#"$top"/} in
		include/compat.h | include/pbuf_trace.h) continue ;;
		esac
		[ -e "$r" ] && files+=("${r#"$top"/}")
	done
	[ "${#files[@]}" -gt 0 ] || { echo "no files for checkpatch"; return 1; }
	# Three deliberate exceptions, each confined to one file: compat.h holds
	# the only version check (the 6.1 floor); the uAPI header cannot use
	# BIT(), which userspace does not have; the trace header is laid out as
	# every TRACE_EVENT is (TP_STRUCT__entry( ending a line, TP_PROTO
	# continuations under its first argument), which --strict reads as C
	# calls.
	cd "$top" || return 1
	for r in compat uapi trace rest; do
		case $r in
		compat) out=$("$cp" "${cp_args[@]}" --ignore LINUX_VERSION_CODE \
			--ignore CONSTANT_COMPARISON -f include/compat.h 2>&1) ;;
		uapi) out=$("$cp" "${cp_args[@]}" --ignore BIT_MACRO \
			-f uapi/linux/*.h 2>&1) ;;
		trace) out=$("$cp" "${cp_args[@]}" --ignore OPEN_ENDED_LINE \
			--ignore PARENTHESIS_ALIGNMENT \
			-f include/pbuf_trace.h 2>&1) ;;
		rest) out=$("$cp" "${cp_args[@]}" -f "${files[@]}" 2>&1) ;;
		esac || {
			rc=$?
			echo "checkpatch ($r) exited with status $rc"
		}
		grep -v -e '^total: 0 errors, 0 warnings, 0 checks' \
			-e 'has no obvious style problems' <<<"$out" || true
	done
	return "$rc"
}

# Sparse findings in our own files; kernel headers are not ours to fix.
run_sparse() {
	local kver=$1 out
	out=$(mktemp -d)
	if ! "$top/scripts/build-module.sh" "$kver" "$out" C=2 >/dev/null 2>&1; then
		echo "module build with C=2 failed for $kver:"
		tail -20 "$out/build.log" 2>/dev/null
		rm -rf "$out"
		return 0
	fi
	grep -E '(module|include|uapi)/[^:]*:[0-9]+:[0-9]+: (warning|error)' \
		"$out/build.log" || true
	rm -rf "$out"
}

# Every shell script the tree holds: git's tracked and new files (or, out
# of a checkout, every file), picked by name or by their #! line.
shell_scripts() {
	local f
	cd "$top" || return 1
	{
		if git rev-parse --git-dir >/dev/null 2>&1; then
			git ls-files -c -o --exclude-standard
		else
			find . -path ./build -prune -o -path ./.git -prune -o \
				-type f -printf '%P\n'
		fi
	} | while IFS= read -r f; do
		[ -f "$f" ] || continue
		case $f in
		*.sh | *.vm) echo "$f" ;;
		*) if head -n 1 "$f" | grep -qE '^#!.*[/ ](ba)?sh( |$)'; then
			echo "$f"
		fi ;;
		esac
	done
}

# Prints shellcheck's findings (all severities, style included); fails
# when shellcheck is missing or exits non-zero.
run_shellcheck() {
	local scripts
	command -v shellcheck >/dev/null ||
		{ echo "shellcheck is not installed (make deps)"; return 1; }
	mapfile -t scripts < <(shell_scripts)
	[ "${#scripts[@]}" -gt 0 ] || { echo "no shell scripts found"; return 1; }
	# *.vm fragments have no #! line: they are sourced by bash.
	(cd "$top" && shellcheck -x -s bash -f gcc "${scripts[@]}" 2>&1)
}

cp_rc=0
findings=$(run_checkpatch) || cp_rc=$?
[ -z "$findings" ] || echo "$findings"
result "$([ -z "$findings" ] && [ "$cp_rc" -eq 0 ]; echo $?)" "checkpatch --strict"

for k in 6.1 6.12; do
	findings=$(run_sparse "$k")
	[ -z "$findings" ] || echo "$findings"
	result "$([ -z "$findings" ]; echo $?)" "sparse C=2 ($k)"
done

# The benchmark reports are Python: pyflakes (syntax, undefined names,
# unused imports and variables).
py_findings=$(cd "$top" && pyflakes3 scripts/*.py 2>&1) ||
	py_findings=${py_findings:-"pyflakes3 failed"}
[ -z "$py_findings" ] || echo "$py_findings"
result "$([ -z "$py_findings" ]; echo $?)" "pyflakes3 scripts/*.py"

sc_rc=0
findings=$(run_shellcheck) || sc_rc=$?
[ -z "$findings" ] || echo "$findings"
result "$([ -z "$findings" ] && [ "$sc_rc" -eq 0 ]; echo $?)" "shellcheck"

man_rc=0
findings=$(make -s -C "$top/lib" check-man 2>&1) || man_rc=$?
grep -v '^PASS: ' <<<"$findings" || true
result "$man_rc" "man pages (make -C lib check-man)"

echo "style: $pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
