// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring uring_cmd entry: snapshot the payload, dispatch on cmd_op.
 *
 * The payload (sqe->cmd) is readable only during this first call and, on
 * 6.1, lives in the SQ ring the application can rewrite at any moment. The
 * dispatcher therefore copies its 16 bytes once (two READ_ONCE loads) and
 * hands the handlers that copy; they validate it and nobody looks at the
 * SQE again.
 */
#include <linux/uaccess.h>

#include "pbuf.h"
#include "pbuf_trace.h"

/* Every command's payload, as one snapshot of the SQE's 16 bytes. */
union pbuf_cmd_req {
	struct iopbuf_cmd_probe	probe;
	struct iopbuf_cmd_recv	recv;
	struct iopbuf_cmd_send	send;
	struct iopbuf_cmd_lend	lend;
	u64			raw[2];
};

static int pbuf_cmd_probe(const struct iopbuf_cmd_probe *req)
{
	struct iopbuf_probe p;

	if (req->resv || req->len < sizeof(p))
		return -EINVAL;
	pbuf_probe_fill(&p);
	if (copy_to_user(u64_to_user_ptr(req->addr), &p, sizeof(p)))
		return -EFAULT;
	return sizeof(p);
}

static int pbuf_uring_cmd_dispatch(struct io_uring_cmd *cmd,
				   unsigned int issue_flags, u64 *res2)
{
	const u64 *src = pbuf_cmd_payload(cmd);
	union pbuf_cmd_req req;

	BUILD_BUG_ON(sizeof(req) != sizeof(req.raw));
	/* the one read of the payload: 8-byte aligned in every SQE */
	req.raw[0] = READ_ONCE(src[0]);
	req.raw[1] = READ_ONCE(src[1]);

	switch (cmd->cmd_op) {
	case IOPBUF_CMD_PROBE:
		return pbuf_cmd_probe(&req.probe);
	case IOPBUF_CMD_RECV:
	case IOPBUF_CMD_READ:
	case IOPBUF_CMD_SEND:
	case IOPBUF_CMD_LEND:
		break;
	default:
		return -EOPNOTSUPP;
	}
	/* the buffer commands report in both result words of a CQE32 */
	if (!(issue_flags & IO_URING_F_CQE32))
		return -EINVAL;
	switch (cmd->cmd_op) {
	case IOPBUF_CMD_RECV:
		return pbuf_cmd_recv(cmd, &req.recv, issue_flags, false);
	case IOPBUF_CMD_READ:
		return pbuf_cmd_recv(cmd, &req.recv, issue_flags, true);
	case IOPBUF_CMD_SEND:
		return pbuf_cmd_send(cmd, &req.send, issue_flags);
	}
	return pbuf_cmd_lend(cmd, &req.lend, issue_flags, res2);
}

int pbuf_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	u64 res2 = 0;
	int ret;

	/* io_uring asks a parked command to cancel; the SQE is gone by now */
	if (pbuf_cmd_is_cancel(issue_flags)) {
		pbuf_op_cancel_cmd(cmd);
		return 0;
	}

	trace_iopbuf_cmd_issue(cmd, issue_flags);
	ret = pbuf_uring_cmd_dispatch(cmd, issue_flags, &res2);
	/*
	 * Post every completion ourselves, as ublk does: 6.1 loses a
	 * positive ->uring_cmd() result when the command was issued from
	 * io-wq (IOSQE_ASYNC), and the request never completes. Both result
	 * words: a command that fails before it starts may say why in the
	 * second (LEND: which secondary).
	 */
	if (ret != -EIOCBQUEUED)
		pbuf_cmd_done(cmd, ret, res2, issue_flags);
	return -EIOCBQUEUED;
}
