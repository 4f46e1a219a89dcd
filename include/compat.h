/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place that knows kernels differ. Force-included into every module
 * source file (see Kbuild). Feature tests come from compile probes
 * (scripts/conftest.sh -> generated/compat_autoconf.h), never from version
 * numbers: distribution kernels backport APIs. The only version check is
 * the floor below.
 */
#ifndef _PBUF_COMPAT_H
#define _PBUF_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "iouring-pbuf needs Linux 6.1 or newer"
#endif

#include "generated/compat_autoconf.h"

#include <linux/io_uring.h>
#ifdef HAVE_IOU_CMD_H
#include <linux/io_uring/cmd.h>
#endif

/*
 * The uring_cmd payload (sqe->cmd): 16 bytes, 80 with SQE128. Valid only
 * during the first ->uring_cmd() call of a command, and on 6.1 it points
 * into the user-writable SQ ring: read it once, with READ_ONCE.
 */
static inline const void *pbuf_cmd_payload(const struct io_uring_cmd *cmd)
{
#ifdef HAVE_IOU_CMD_SQE
	return cmd->sqe->cmd;
#else
	return cmd->cmd;
#endif
}

#endif /* _PBUF_COMPAT_H */
