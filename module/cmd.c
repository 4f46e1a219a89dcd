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

int pbuf_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	/* io_uring asks a parked command to cancel; the SQE is gone by now */
	if (pbuf_cmd_is_cancel(issue_flags)) {
		pbuf_op_cancel_cmd(cmd);
		return 0;
	}

	switch (cmd->cmd_op) {
	case IOPBUF_CMD_PROBE:
		return pbuf_cmd_probe(cmd);
	case IOPBUF_CMD_RECV:
		return pbuf_cmd_recv(cmd, issue_flags, false);
	case IOPBUF_CMD_READ:
		return pbuf_cmd_recv(cmd, issue_flags, true);
	case IOPBUF_CMD_SEND:
		return pbuf_cmd_send(cmd, issue_flags);
	}
	return -EOPNOTSUPP;
}
