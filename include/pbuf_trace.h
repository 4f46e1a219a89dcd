/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of iouring_pbuf: events/iouring_pbuf/ in tracefs, for ftrace,
 * perf (perf trace -e 'iouring_pbuf:*') and bpftrace
 * (tracepoint:iouring_pbuf:*).
 *
 * @req is the command's struct io_uring_cmd, which io_uring embeds at the
 * start of its request: the same value as the req field of io_uring's own
 * events (io_uring:io_uring_submit_req, io_uring:io_uring_complete), so
 * the two can be joined. @ctx is the device file's context.
 *
 * This header is read several times (define_trace.h); the guard below is
 * the form every trace header uses.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM iouring_pbuf

#if !defined(_PBUF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PBUF_TRACE_H

#include <linux/tracepoint.h>

#include "pbuf.h"

#ifndef PBUF_TRACE_CMD_NAME
#define PBUF_TRACE_CMD_NAME
/*
 * The command's name, copied into the event: __print_symbolic() tables
 * print nothing on 6.1 when the instance's hash-ptr option is off.
 */
static inline const char *pbuf_trace_cmd_name(u32 cmd_op)
{
	switch (cmd_op) {
	case IOPBUF_CMD_PROBE:	return "PROBE";
	case IOPBUF_CMD_RECV:	return "RECV";
	case IOPBUF_CMD_READ:	return "READ";
	case IOPBUF_CMD_SEND:	return "SEND";
	case IOPBUF_CMD_LEND:	return "LEND";
	}
	return "?";
}
#endif

TRACE_EVENT(iopbuf_cmd_issue,

	TP_PROTO(const struct io_uring_cmd *cmd, unsigned int issue_flags),

	TP_ARGS(cmd, issue_flags),

	TP_STRUCT__entry(
		__field(const void *,	req)
		__field(u32,		cmd_op)
		__array(char,		op, 8)
		__field(unsigned int,	issue_flags)
	),

	TP_fast_assign(
		__entry->req		= cmd;
		__entry->cmd_op		= cmd->cmd_op;
		strscpy(__entry->op, pbuf_trace_cmd_name(cmd->cmd_op), 8);
		__entry->issue_flags	= issue_flags;
	),

	TP_printk("req %p op %s issue_flags 0x%x", __entry->req,
		  __entry->op, __entry->issue_flags)
);

TRACE_EVENT(iopbuf_cmd_complete,

	TP_PROTO(const struct io_uring_cmd *cmd, s32 res, u64 res2),

	TP_ARGS(cmd, res, res2),

	TP_STRUCT__entry(
		__field(const void *,	req)
		__field(u32,		cmd_op)
		__array(char,		op, 8)
		__field(s32,		res)
		__field(u16,		flags)
		__field(u16,		bid)
		__field(u16,		nbufs)
	),

	TP_fast_assign(
		__entry->req	= cmd;
		__entry->cmd_op	= cmd->cmd_op;
		strscpy(__entry->op, pbuf_trace_cmd_name(cmd->cmd_op), 8);
		__entry->res	= res;
		__entry->flags	= iopbuf_cqe_flags(res2);
		__entry->bid	= iopbuf_cqe_bid(res2);
		__entry->nbufs	= iopbuf_cqe_nbufs(res2);
	),

	TP_printk("req %p op %s res %d flags 0x%x bid %u nbufs %u",
		  __entry->req, __entry->op, __entry->res, __entry->flags,
		  __entry->bid, __entry->nbufs)
);

/* A command is asked to cancel (IOPBUF_IOC_CANCEL, io_uring, task exit). */
TRACE_EVENT(iopbuf_cmd_cancel,

	TP_PROTO(const struct io_uring_cmd *cmd),

	TP_ARGS(cmd),

	TP_STRUCT__entry(
		__field(const void *,	req)
		__field(u32,		cmd_op)
		__array(char,		op, 8)
	),

	TP_fast_assign(
		__entry->req	= cmd;
		__entry->cmd_op	= cmd->cmd_op;
		strscpy(__entry->op, pbuf_trace_cmd_name(cmd->cmd_op), 8);
	),

	TP_printk("req %p op %s", __entry->req, __entry->op)
);

/*
 * A send's zero-copy notification is done: the network stack let go of
 * every page. @req is 0 when the command no longer waits (cancelled).
 * zerocopy: some data went out without a copy; copied: some was copied.
 */
TRACE_EVENT(iopbuf_zc_notif,

	TP_PROTO(const struct pbuf_notif *n, const struct pbuf_op *op),

	TP_ARGS(n, op),

	TP_STRUCT__entry(
		__field(const void *,	notif)
		__field(const void *,	req)
		__field(bool,		zerocopy)
		__field(bool,		copied)
	),

	TP_fast_assign(
		__entry->notif		= n;
		__entry->req		= op ? op->cmd : NULL;
		__entry->zerocopy	= READ_ONCE(n->zc_used);
		__entry->copied		= READ_ONCE(n->zc_copied);
	),

	TP_printk("notif %p req %p zerocopy %d copied %d", __entry->notif,
		  __entry->req, __entry->zerocopy, __entry->copied)
);

/*
 * The registered-buffer table: slots [offset, offset + nr) registered,
 * updated or (all nr) unregistered; ret is the ioctl's result.
 */
DECLARE_EVENT_CLASS(iopbuf_buf_table,

	TP_PROTO(const struct pbuf_ctx *ctx, u32 offset, u32 nr, int ret),

	TP_ARGS(ctx, offset, nr, ret),

	TP_STRUCT__entry(
		__field(const void *,	ctx)
		__field(u32,		offset)
		__field(u32,		nr)
		__field(int,		ret)
	),

	TP_fast_assign(
		__entry->ctx	= ctx;
		__entry->offset	= offset;
		__entry->nr	= nr;
		__entry->ret	= ret;
	),

	TP_printk("ctx %p offset %u nr %u ret %d", __entry->ctx,
		  __entry->offset, __entry->nr, __entry->ret)
);

DEFINE_EVENT(iopbuf_buf_table, iopbuf_buf_register,
	TP_PROTO(const struct pbuf_ctx *ctx, u32 offset, u32 nr, int ret),
	TP_ARGS(ctx, offset, nr, ret)
);

DEFINE_EVENT(iopbuf_buf_table, iopbuf_buf_update,
	TP_PROTO(const struct pbuf_ctx *ctx, u32 offset, u32 nr, int ret),
	TP_ARGS(ctx, offset, nr, ret)
);

DEFINE_EVENT(iopbuf_buf_table, iopbuf_buf_unregister,
	TP_PROTO(const struct pbuf_ctx *ctx, u32 offset, u32 nr, int ret),
	TP_ARGS(ctx, offset, nr, ret)
);

/* A provided-buffer ring; entries and flags are 0 for an unregister. */
DECLARE_EVENT_CLASS(iopbuf_ring,

	TP_PROTO(const struct pbuf_ctx *ctx, u16 bgid, u32 entries, u32 flags,
		 int ret),

	TP_ARGS(ctx, bgid, entries, flags, ret),

	TP_STRUCT__entry(
		__field(const void *,	ctx)
		__field(u16,		bgid)
		__field(u32,		entries)
		__field(u32,		flags)
		__field(int,		ret)
	),

	TP_fast_assign(
		__entry->ctx		= ctx;
		__entry->bgid		= bgid;
		__entry->entries	= entries;
		__entry->flags		= flags;
		__entry->ret		= ret;
	),

	TP_printk("ctx %p bgid %u entries %u flags 0x%x ret %d",
		  __entry->ctx, __entry->bgid, __entry->entries,
		  __entry->flags, __entry->ret)
);

DEFINE_EVENT(iopbuf_ring, iopbuf_ring_register,
	TP_PROTO(const struct pbuf_ctx *ctx, u16 bgid, u32 entries, u32 flags,
		 int ret),
	TP_ARGS(ctx, bgid, entries, flags, ret)
);

DEFINE_EVENT(iopbuf_ring, iopbuf_ring_unregister,
	TP_PROTO(const struct pbuf_ctx *ctx, u16 bgid, u32 entries, u32 flags,
		 int ret),
	TP_ARGS(ctx, bgid, entries, flags, ret)
);

#endif /* _PBUF_TRACE_H */

/*
 * Out of tree: define_trace.h includes TRACE_INCLUDE_PATH/TRACE_INCLUDE_FILE.h
 * as a quoted path, found through Kbuild's -I$(src)/include.
 */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE pbuf_trace
#include <trace/define_trace.h>
