#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The guest side of `make demo` (the README's main job), run as /tests/demo
# by scripts/guest-init.sh with the module loaded; tools/demo.vm says what
# else the guest gets: examples/fileserver.c (static), send_demo, Debian's
# curl with its shared libraries, and two e1000 NICs joined by a QEMU hub.
#
#  1. files of a few sizes in a tmpfs, and their sha256;
#  2. the example file server serves them to CLIENTS concurrent curl
#     processes, each fetching every file over one keep-alive connection:
#     a. over loopback (127.0.0.1);
#     b. from one NIC to the other: the clients run in their own network
#        namespace behind the second NIC, so the server's packets leave
#        through a (emulated) network card, as they would on a real host;
#  3. every download must match its file's sha256;
#  4. load: wrk on one keep-alive connection against the file server and
#     against nginx (sendfile on) serving the same 4 KiB file, over
#     loopback and through the NICs, alternating, the best of LOAD_ROUNDS
#     runs each: requests per second side by side;
#  5. tools/send_demo.c: UDP to a dummy sink, TCP over loopback;
#  6. a summary: bytes served, throughput, and the zero-copy share of the
#     server's sent bytes, from its completions' ZC / ZC_COPIED flags.
#
# Exits non-zero if a download fails or differs, the server misbehaves
# (also under wrk: an error or a non-200 answer),
# the NIC path shows no zero copy at all or send_demo fails; the guest's
# kernel-log check (WARNING, BUG, KASAN, ...) runs after it.
# Usage (in the guest): demo [CLIENTS]
# shellcheck shell=sh
# shellcheck disable=SC3043 # busybox ash has `local`
set -eu

CLIENTS=${1:-4}
ROOT=/tmp/www
DL=/tmp/dl
# name:size -- below a chunk (32 KiB), one past a bundle of 8 chunks,
# a round MiB, and one large enough to keep the sends going for a while
FILES="small:4096 medium:262145 large:1048576 huge:8388608"
NS_PID=
SERVER=
failures=0

say() { printf '%s\n' "$*"; }
fail() {
	say "FAIL: $*"
	failures=$((failures + 1))
}

cleanup() {
	[ -z "$SERVER" ] || kill "$SERVER" 2>/dev/null || true
	[ ! -f /tmp/nginx/nginx.pid ] || kill "$(cat /tmp/nginx/nginx.pid)" 2>/dev/null || true
	[ -z "$NS_PID" ] || kill "$NS_PID" 2>/dev/null || true
}
trap cleanup EXIT

# Centiseconds since boot (busybox date has no %N).
now_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# --- files -------------------------------------------------------------------

make_files() {
	local spec name size
	rm -rf "$ROOT"
	mkdir -p "$ROOT"
	for spec in $FILES; do
		name=${spec%%:*}
		size=${spec#*:}
		head -c "$size" /dev/urandom >"$ROOT/$name"
		sha256sum "$ROOT/$name" | cut -d' ' -f1 >"$ROOT/.$name.sha256"
	done
	say "files: $(for spec in $FILES; do printf '%s (%s bytes) ' "${spec%%:*}" "${spec#*:}"; done)"
}

# --- the NIC pair -------------------------------------------------------------

# The two e1000 NICs (tools/demo.vm puts them alone on one QEMU hub): the
# first stays here with the server, the second goes into a new network
# namespace for the clients. Within one namespace the kernel would route
# between its own addresses over loopback, whichever NIC they are on.
nic_setup() {
	local d drv nics=''
	for d in /sys/class/net/*; do
		drv=$(readlink "$d/device/driver" 2>/dev/null) || continue
		[ "${drv##*/}" = e1000 ] && nics="$nics ${d##*/}"
	done
	# shellcheck disable=SC2086 # a word list
	set -- $nics
	if [ "$#" -lt 2 ]; then
		fail "nic: need two e1000 NICs, found ${#}: run through scripts/vm-test.sh --run demo (tools/demo.vm)"
		return 1
	fi
	SRV_IF=$1
	CLI_IF=$2
	unshare -n sleep 100000 &
	NS_PID=$!
	# the device may move only once the holder has its own namespace
	while [ "$(readlink "/proc/$NS_PID/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do
		sleep 0.05
	done
	ip link set "$CLI_IF" netns "$NS_PID"
	ip addr add 10.99.0.1/24 dev "$SRV_IF"
	ip link set "$SRV_IF" up
	in_ns ip link set lo up
	in_ns ip addr add 10.99.0.2/24 dev "$CLI_IF"
	in_ns ip link set "$CLI_IF" up
	# e1000 link negotiation takes a moment after `up`; until then ping
	# fails at once (no carrier), after that it waits up to a second
	local i=0
	while ! in_ns ping -c 1 -W 1 10.99.0.1 >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -ge 50 ]; then
			fail "nic: 10.99.0.1 unreachable from the client namespace"
			return 1
		fi
		sleep 0.2
	done
	say "network: server on $SRV_IF 10.99.0.1, clients in their own namespace on $CLI_IF 10.99.0.2"
}

in_ns() { nsenter -t "$NS_PID" -n "$@"; }

# --- one run of the server and its clients -----------------------------------

# client INDEX HOST PORT [PREFIX...]: one curl fetching every file over one
# connection (curl keeps it alive between the URLs), with PREFIX (nsenter)
# in front; per transfer "code bytes new-connections" into $DL/INDEX.w.
client() {
	local i="$1" host="$2" port="$3" args='' spec
	shift 3
	for spec in $FILES; do
		args="$args -o $DL/$i.${spec%%:*} http://$host:$port/${spec%%:*}"
	done
	# shellcheck disable=SC2086 # a word list
	"$@" curl -sS --fail --max-time 300 \
		-w '%{http_code} %{size_download} %{num_connects}\n' \
		$args >"$DL/$i.w" 2>"$DL/$i.err"
}

# run NAME HOST PORT [PREFIX...]: serve CLIENTS clients, check, report.
# Sets R_BYTES (served, headers included), R_CS (centiseconds from the
# first client's start to the last one's end), R_ZC_BYTES, R_ZC and
# R_COPIED (sends whose completion said zero copy, or ZC_COPIED).
run() {
	local name="$1" host="$2" port="$3" out="/tmp/fileserver.$1" i p t0 t1
	local pids=''
	local spec n line ok=0 total=0 conns
	shift 3
	rm -rf "$DL"
	mkdir -p "$DL"
	fileserver "$ROOT" "$port" "$CLIENTS" >"$out" 2>&1 &
	SERVER=$!
	i=0
	while ! grep -q 'listening' "$out"; do
		i=$((i + 1))
		if [ "$i" -ge 100 ] || ! kill -0 "$SERVER" 2>/dev/null; then
			fail "$name: the file server did not start: $(cat "$out")"
			return 1
		fi
		sleep 0.05
	done
	t0=$(now_cs)
	i=1
	while [ "$i" -le "$CLIENTS" ]; do
		client "$i" "$host" "$port" "$@" &
		pids="$pids $!"
		i=$((i + 1))
	done
	i=1
	for p in $pids; do
		wait "$p" || fail "$name: curl $i: $(cat "$DL/$i.err")"
		i=$((i + 1))
	done
	t1=$(now_cs)
	# the server exits after CLIENTS connections and prints its counters
	i=0
	while kill -0 "$SERVER" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge 200 ]; then
			fail "$name: the file server still runs after $CLIENTS connections"
			kill "$SERVER"
			break
		fi
		sleep 0.05
	done
	wait "$SERVER" || fail "$name: the file server exited with $?"
	SERVER=
	# every download against its file's sha256
	i=1
	while [ "$i" -le "$CLIENTS" ]; do
		for spec in $FILES; do
			n=${spec%%:*}
			total=$((total + 1))
			if [ "$(sha256sum "$DL/$i.$n" 2>/dev/null | cut -d' ' -f1)" = "$(cat "$ROOT/.$n.sha256")" ]; then
				ok=$((ok + 1))
			else
				fail "$name: client $i: $n differs from the served file (sha256)"
			fi
		done
		i=$((i + 1))
	done
	CHECKED=$((CHECKED + total))
	MATCHED=$((MATCHED + ok))
	conns=$(cat "$DL"/*.w | awk '{ s += $3 } END { print s + 0 }')
	R_CS=$((t1 - t0))
	[ "$R_CS" -gt 0 ] || R_CS=1
	line=$(grep '^fileserver: .* requests' "$out" | tail -n 1)
	# fileserver: R requests, B bytes in S sends of A buffers on average,
	# zero copy Z, copied C, zero-copy bytes ZB
	# shellcheck disable=SC2046 # five numbers
	set -- $(printf '%s\n' "$line" | tr -d , | sed -nE \
		's/.* ([0-9]+) bytes in ([0-9]+) sends .* zero copy ([0-9]+) copied ([0-9]+) zero-copy bytes ([0-9]+)$/\1 \2 \3 \4 \5/p')
	if [ "$#" -ne 5 ]; then
		fail "$name: no counters from the file server: $(cat "$out")"
		set -- 0 0 0 0 0
	fi
	R_BYTES=$1 R_ZC=$3 R_COPIED=$4 R_ZC_BYTES=$5
	say "$name: $CLIENTS curl clients, $conns connections, $ok/$total downloads match their sha256"
	say "$name: server: $line"
}

# --- load: wrk against the file server and nginx ------------------------------

LOAD_SECONDS=3
LOAD_ROUNDS=2
LOAD_FILE=small

# nginx as the reference: one worker (the file server is one thread),
# sendfile, no access log, keep-alive without a request limit.
nginx_start() {
	mkdir -p /tmp/nginx /var/lib/nginx /var/log/nginx
	# nginx's workers need a user to switch to
	grep -q '^root:' /etc/passwd 2>/dev/null || echo 'root:x:0:0:root:/root:/bin/sh' >>/etc/passwd
	grep -q '^root:' /etc/group 2>/dev/null || echo 'root:x:0:' >>/etc/group
	cat >/tmp/nginx/nginx.conf <<-EOF
		user root root;
		worker_processes 1;
		pid /tmp/nginx/nginx.pid;
		error_log /tmp/nginx/error.log;
		events { worker_connections 64; }
		http {
			access_log off;
			sendfile on;
			tcp_nopush on;
			tcp_nodelay on;
			keepalive_requests 100000000;
			keepalive_timeout 60;
			default_type application/octet-stream;
			server { listen 8090; root $ROOT; }
		}
	EOF
	nginx -p /tmp/nginx -e /tmp/nginx/error.log -c /tmp/nginx/nginx.conf || {
		fail "load: nginx did not start: $(cat /tmp/nginx/error.log 2>/dev/null)"
		return 1
	}
}

# wrk_run URL OUT [PREFIX]: one thread, one connection; prints req/s.
wrk_run() {
	# shellcheck disable=SC2086 # PREFIX is in_ns or nothing
	${3:-} wrk -t1 -c1 -d"${LOAD_SECONDS}s" "$1" >"$2" 2>&1 || true
	awk '/^Requests\/sec:/ { print $2 }' "$2"
}

# fs_run URL OUT [PREFIX]: the file server under wrk; prints req/s (or
# "error", with wrk's and the server's output on stderr), bytes sent and
# zero-copy bytes (its counters). Runs in a subshell: no fail() here.
fs_run() {
	local i rps line
	# two connections: wrk tries one before its test (and closes it)
	fileserver "$ROOT" 8089 2 >"$2.server" 2>&1 &
	SERVER=$!
	i=0
	while ! grep -q listening "$2.server" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge 100 ] || ! kill -0 "$SERVER" 2>/dev/null; then
			break
		fi
		sleep 0.05
	done
	rps=$(wrk_run "$1" "$2" "${3:-}")
	# the server exits after wrk's connections, with its counters
	i=0
	while kill -0 "$SERVER" 2>/dev/null && [ "$i" -lt 100 ]; do
		i=$((i + 1))
		sleep 0.05
	done
	kill "$SERVER" 2>/dev/null || true
	wait "$SERVER" 2>/dev/null || true
	SERVER=
	if [ -z "$rps" ] || grep -qE '^ +(Non-2xx|Socket errors)' "$2"; then
		cat "$2" "$2.server" >&2
		rps=error
	fi
	line=$(grep '^fileserver: .* requests' "$2.server" | tail -n 1)
	printf '%s %s\n' "${rps:-0}" "$(printf '%s\n' "$line" | tr -d , |
		sed -nE 's/.* ([0-9]+) bytes in .* zero-copy bytes ([0-9]+)$/\1 \2/p')"
}

# load TAG NAME HOST [PREFIX]: LOAD_ROUNDS rounds of the file server, then
# nginx, alternating, the best round of each (other guests on the same
# cores make single runs uneven); sets L_ROW.
load() {
	local out="/tmp/load.$1" name="$2" host="$3" pfx="${4:-}"
	local fs=0 ng=0 zcb=0 b=0 r=1 rps all_fs='' all_ng=''
	while [ "$r" -le "$LOAD_ROUNDS" ]; do
		# shellcheck disable=SC2046 # three numbers
		set -- $(fs_run "http://$host:8089/$LOAD_FILE" "$out.fs$r" "$pfx") 0 0 0
		if [ "$1" = error ]; then
			fail "load: $name: wrk against the file server (its output above)"
			set -- 0 "$2" "$3"
		fi
		all_fs="$all_fs $1"
		fs=$(awk -v a="$1" -v b="$fs" 'BEGIN { print (a + 0 > b + 0 ? a : b) }')
		b=$((b + $2))
		zcb=$((zcb + $3))
		rps=$(wrk_run "http://$host:8090/$LOAD_FILE" "$out.nginx$r" "$pfx")
		[ -n "$rps" ] || fail "load: $name: wrk against nginx: $(cat "$out.nginx$r")"
		all_ng="$all_ng ${rps:-0}"
		ng=$(awk -v a="${rps:-0}" -v b="$ng" 'BEGIN { print (a + 0 > b + 0 ? a : b) }')
		r=$((r + 1))
	done
	say "load: $name: file server req/s:$all_fs; nginx req/s:$all_ng; server: $(grep '^fileserver: .* requests' "$out.fs1.server")"
	L_ROW=$(printf '  %-10s %12s %12s %8s %10s' "$name" "$fs" "$ng" \
		"$(awk -v a="$fs" -v b="$ng" 'BEGIN { printf "%.2fx", b ? a / b : 0 }')" \
		"$(pct "$zcb" "$b")%")
}

# Percent, megabytes and MB/s with awk's floating point.
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }'; }
mb() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1e6 }'; }
mbps() { awk -v a="$1" -v cs="$2" 'BEGIN { printf "%.1f", a / 1e6 / (cs / 100) }'; }

ROW='  %-10s %9s %8s %10s %10s %8s %15s\n'

# summary LABEL: one row of the table from the R_* of the last run()
summary() {
	# shellcheck disable=SC2059 # the format is $ROW
	printf "$ROW" "$1" "$(mb "$R_BYTES") MB" \
		"$(awk -v cs="$R_CS" 'BEGIN { printf "%.2f", cs / 100 }') s" \
		"$(mbps "$R_BYTES" "$R_CS") MB/s" "$(pct "$R_ZC_BYTES" "$R_BYTES")%" \
		"$(pct $((R_BYTES - R_ZC_BYTES)) "$R_BYTES")%" "$R_ZC / $R_COPIED"
}

main() {
	local lo nic send_out
	CHECKED=0
	MATCHED=0
	START_CS=$(now_cs)
	say "client: $(curl --version | head -n 1)"
	make_files

	say "--- 1/4: file server, $CLIENTS concurrent curl clients over loopback"
	run loopback 127.0.0.1 8080
	lo=$(summary loopback)

	say "--- 2/4: file server, $CLIENTS concurrent curl clients through the NICs"
	if nic_setup; then
		run nic 10.99.0.1 8081 in_ns
		nic=$(summary "e1000 NIC")
		[ "$R_ZC_BYTES" -gt 0 ] ||
			fail "nic: no send went zero copy (scatter-gather NIC, registered buffers)"
	else
		nic="  e1000 NIC  not run"
	fi

	say "--- 3/4: load: wrk -t1 -c1 -d${LOAD_SECONDS}s, $LOAD_FILE (4 KiB), file server and nginx (sendfile)"
	say "load: client: $(wrk -v 2>&1 | head -n 1), reference: $(nginx -v 2>&1)"
	load_lo="  loopback   not run"
	load_nic="  e1000 NIC  not run"
	if nginx_start; then
		load lo loopback 127.0.0.1
		load_lo=$L_ROW
		if [ -n "$NS_PID" ]; then
			load nic "e1000 NIC" 10.99.0.1 in_ns
			load_nic=$L_ROW
		fi
		kill "$(cat /tmp/nginx/nginx.pid)" 2>/dev/null || true
	fi
	if [ -n "$NS_PID" ]; then
		kill "$NS_PID" 2>/dev/null || true
		NS_PID=
	fi

	say "--- 4/4: send_demo: UDP to a dummy sink, TCP over loopback (tools/send_demo.c)"
	send_out=/tmp/send_demo.out
	if send_demo 128 >"$send_out" 2>&1; then
		cat "$send_out"
	else
		cat "$send_out"
		fail "send_demo"
	fi

	say "=== summary: $CHECKED downloads by curl, $MATCHED match their file's sha256"
	say "  (QEMU TCG: the CPU is emulated, so MB/s are a fraction of real hardware's)"
	# shellcheck disable=SC2059 # the format is $ROW
	printf "$ROW" path served time throughput "zero copy" copied "sends zc/copied"
	say "$lo"
	say "$nic"
	grep -E '^(UDP|TCP over)' "$send_out" | sed 's/^/  send_demo: /' || true
	say "  load: wrk, one keep-alive connection, the 4 KiB file, best of $LOAD_ROUNDS runs of ${LOAD_SECONDS} s each,"
	say "  alternating; nginx: sendfile, one worker"
	printf '  %-10s %12s %12s %8s %10s\n' path "file server" nginx "ratio" "zero copy"
	printf '  %-10s %12s %12s %8s %10s\n' "" "req/s" "req/s" "" "(server)"
	say "$load_lo"
	say "$load_nic"
	say "  zero copy: the share of the server's sent bytes (HTTP headers included)"
	say "  whose send completion had IOPBUF_CQE_F_ZC set and ZC_COPIED clear: the"
	say "  stack sent them from the registered buffers' pages and nothing copied"
	say "  them. Over loopback the receiving socket would get the sender's pages,"
	say "  so the kernel copies them first (as for MSG_ZEROCOPY): every completion"
	say "  says ZC_COPIED and 0% is the honest number. Through the NIC the pages go"
	say "  to the card as they are (scatter-gather DMA; under QEMU the device model"
	say "  reads guest memory): the zero copy a real network gets, as does UDP to"
	say "  the dummy sink. The file data is read into the buffers once"
	say "  (IOPBUF_CMD_READ, from the page cache); sending adds no copy."
	say "  demo took $(( ($(now_cs) - START_CS) / 100 )) s in the guest"
	if [ "$failures" -eq 0 ]; then
		say "OK"
	else
		say "$failures failure(s)"
		exit 1
	fi
}

main "$@"
