// SPDX-License-Identifier: GPL-2.0
/*
 * The tracepoints' definitions (include/pbuf_trace.h), and the one place
 * every completion goes through, so that each is traced exactly once.
 */
#include "pbuf.h"

#define CREATE_TRACE_POINTS
#include "pbuf_trace.h"

void pbuf_cmd_done(struct io_uring_cmd *cmd, s32 res, u64 res2,
		   unsigned int issue_flags)
{
	trace_iopbuf_cmd_complete(cmd, res, res2);
	pbuf_cmd_post(cmd, res, res2, issue_flags);
}
