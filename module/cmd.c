// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring uring_cmd entry: snapshot the payload, dispatch on cmd_op.
 *
 * The payload (sqe->cmd) is readable only during this first call and, on
 * 6.1, lives in the SQ ring the application can rewrite at any moment. Each
 * handler therefore copies the fields it needs with READ_ONCE exactly once,
 * validates the copy, and never looks at the SQE again.
 */
#include <linux/uaccess.h>

#include "pbuf.h"
#include "pbuf_trace.h"

static int pbuf_cmd_probe(struct io_uring_cmd *cmd)
{
	const struct iopbuf_cmd_probe *src = pbuf_cmd_payload(cmd);
	const struct iopbuf_cmd_probe req = {
		.addr	= READ_ONCE(src->addr),
		.len	= READ_ONCE(src->len),
		.resv	= READ_ONCE(src->resv),
	};
	struct iopbuf_probe p;

	if (req.resv || req.len < sizeof(p))
		return -EINVAL;
	pbuf_probe_fill(&p);
	if (copy_to_user(u64_to_user_ptr(req.addr), &p, sizeof(p)))
		return -EFAULT;
	return sizeof(p);
}

static int pbuf_uring_cmd_dispatch(struct io_uring_cmd *cmd,
				   unsigned int issue_flags)
{
	switch (cmd->cmd_op) {
	case IOPBUF_CMD_PROBE:
		return pbuf_cmd_probe(cmd);
	case IOPBUF_CMD_RECV:
		return pbuf_cmd_recv(cmd, issue_flags, false);
	case IOPBUF_CMD_READ:
		return pbuf_cmd_recv(cmd, issue_flags, true);
	case IOPBUF_CMD_SEND:
		return pbuf_cmd_send(cmd, issue_flags);
	case IOPBUF_CMD_LEND:
		return pbuf_cmd_lend(cmd, issue_flags);
	}
	return -EOPNOTSUPP;
}

int pbuf_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	int ret;

	/* io_uring asks a parked command to cancel; the SQE is gone by now */
	if (pbuf_cmd_is_cancel(issue_flags)) {
		pbuf_op_cancel_cmd(cmd);
		return 0;
	}

	trace_iopbuf_cmd_issue(cmd, issue_flags);
	ret = pbuf_uring_cmd_dispatch(cmd, issue_flags);
	/*
	 * Post every completion ourselves, as ublk does: 6.1 loses a
	 * positive ->uring_cmd() result when the command was issued from
	 * io-wq (IOSQE_ASYNC), and the request never completes.
	 */
	if (ret != -EIOCBQUEUED)
		pbuf_cmd_done(cmd, ret, 0, issue_flags);
	return -EIOCBQUEUED;
}
