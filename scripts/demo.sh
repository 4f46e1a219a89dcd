#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: the main job from a fresh Debian 12 machine. Installs what is
# missing (curl included), prepares Debian's 6.1 kernel, builds the module,
# the example file server and the demo, boots the kernel in QEMU with the
# module loaded and runs tools/demo.sh there: the file server of examples/
# serves files to concurrent curl clients over loopback and through a NIC
# pair, every download is checked against its sha256, and a summary gives
# bytes served, throughput and the zero-copy share; then tools/send_demo.c.
#
#   DEMO_KERNEL=6.12 (or sid, or a release string) picks another kernel;
#   DEMO=send runs only the zero-copy send demo (tools/send_demo.c).
#
# Ends with "demo: N passed, N failed, N skipped" (as the demo tier of make check);
# fails on a failed download or checksum, and on kernel-log reports.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kernel=${DEMO_KERNEL:-6.1}
case ${DEMO:-fileserver} in
fileserver) prog=demo ;;
send) prog=send_demo ;;
*)
	echo "demo.sh: DEMO=${DEMO}: fileserver (the default) or send" >&2
	exit 2
	;;
esac

"$top/scripts/install-deps.sh"
KERNELS=$kernel "$top/scripts/kernels.sh" setup
"$top/scripts/vm-test.sh" --no-setup --run "$prog" "$kernel" |
	sed -u 's/^vm: /demo: /'
