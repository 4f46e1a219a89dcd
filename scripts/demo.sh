#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: the main job from a fresh Debian 12 machine. Installs what is
# missing, prepares Debian's 6.1 kernel, builds the module and the demo,
# boots the kernel in QEMU with the module loaded and runs tools/demo.c.
# DEMO_KERNEL=6.12 (or sid, or a release string) picks another kernel.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
kernel=${DEMO_KERNEL:-6.1}

"$top/scripts/install-deps.sh"
KERNELS=$kernel "$top/scripts/kernels.sh" setup
exec "$top/scripts/vm-test.sh" --no-setup --run demo "$kernel"
