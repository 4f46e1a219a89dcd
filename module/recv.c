// SPDX-License-Identifier: GPL-2.0
/*
 * IOPBUF_CMD_RECV and IOPBUF_CMD_READ: receive from a socket, or read from
 * a file or pipe, into buffers selected from a provided-buffer ring when
 * the transfer runs.
 *
 * Commit rules, as upstream io_uring's:
 *  - sockets and pipes (pollable) commit the bytes moved, after moving
 *    them; -EAGAIN leaves the ring untouched and the command waits;
 *  - a socket receive of 0 bytes (EOF) consumes nothing and reports no
 *    buffer; a pipe or file read of 0 bytes reports its buffer, consuming
 *    it on a plain ring and keeping it (BUF_MORE) on an INC ring;
 *  - a single buffer read from a regular file (not pollable) commits the
 *    length selected, whatever the read returned, as io_uring commits at
 *    selection for it; a bundle commits the bytes read (io_uring has no
 *    bundle reads to follow, and consuming 256 entries at end of file
 *    would help nobody).
 */
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>

#include "pbuf.h"

static u64 pbuf_res2(const struct pbuf_commit *c)
{
	return iopbuf_cqe_res2(c->bid, c->nbufs, c->flags);
}

static int pbuf_recv_fn(struct pbuf_op *op, u64 *res2)
{
	struct socket *sock = sock_from_file(op->file);
	struct pbuf_bufsel *bs = &op->bs;
	struct pbuf_ring *ring = bs->ring;
	struct msghdr msg = {};
	struct pbuf_commit c;
	int ret;

	mutex_lock(&ring->io_lock);
	ret = pbuf_bufsel_select(bs, op->len, ITER_DEST);
	if (ret)
		goto out;
	msg.msg_iter = bs->iter;
	ret = sock_recvmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (ret > 0) {
		pbuf_bufsel_commit(bs, ret, &c);
		*res2 = pbuf_res2(&c);
	}
out:
	pbuf_bufsel_release(bs);
	mutex_unlock(&ring->io_lock);
	return ret;
}

/* A 0-byte read: the buffer is reported, and kept only by an INC ring. */
static void pbuf_read_eof(struct pbuf_bufsel *bs, struct pbuf_commit *c)
{
	struct pbuf_ring *ring = bs->ring;

	c->bid = bs->sel[0].bid;
	c->nbufs = 1;
	c->flags = IOPBUF_CQE_F_BUFFER;
	if (ring->flags & IOPBUF_RING_INC)
		c->flags |= IOPBUF_CQE_F_BUF_MORE;
	else
		ring->head++;
}

static int pbuf_read_fn(struct pbuf_op *op, u64 *res2)
{
	struct pbuf_bufsel *bs = &op->bs;
	struct pbuf_ring *ring = bs->ring;
	struct file *file = op->file;
	bool stream = file->f_mode & FMODE_STREAM;
	/* io_uring commits a single buffer of a regular file at selection */
	bool early = !file_can_poll(file) && bs->max == 1;
	struct pbuf_commit c;
	loff_t pos = file->f_pos;
	size_t selected, max;
	rwf_t rwf;
	int ret;

	mutex_lock(&ring->io_lock);
	/* an empty ring fails at once, whether or not data is there */
	ret = pbuf_bufsel_select(bs, op->len, ITER_DEST);
	if (ret)
		goto out;
	/* a read is never cut: it returns what is there */
	ret = pbuf_file_rwf(file, EPOLLIN | EPOLLRDNORM, &rwf, &max);
	if (ret)
		goto out;
	selected = iov_iter_count(&bs->iter);
	ret = vfs_iter_read(file, &bs->iter, stream ? NULL : &pos, rwf);
	if (ret >= 0 && !stream)
		file->f_pos = pos;
	if (ret > 0 || (ret == 0 && early && selected)) {
		pbuf_bufsel_commit(bs, early ? selected : ret, &c);
		*res2 = pbuf_res2(&c);
	} else if (ret == 0) {
		pbuf_read_eof(bs, &c);
		*res2 = pbuf_res2(&c);
	}
out:
	pbuf_bufsel_release(bs);
	mutex_unlock(&ring->io_lock);
	return ret;
}

static const struct pbuf_op_ops pbuf_recv_ops = {
	.run	= pbuf_recv_fn,
};

static const struct pbuf_op_ops pbuf_read_ops = {
	.run	= pbuf_read_fn,
};

int pbuf_cmd_recv(struct io_uring_cmd *cmd, const struct iopbuf_cmd_recv *req,
		  unsigned int issue_flags, bool is_read)
{
	struct pbuf_op *op;
	int ret;

	if (req->resv || req->flags & ~IOPBUF_RECV_BUNDLE)
		return -EINVAL;
	op = pbuf_op_alloc_sel(cmd, is_read ? &pbuf_read_ops : &pbuf_recv_ops,
			       req->fd, req->bgid,
			       req->flags & IOPBUF_RECV_BUNDLE);
	if (IS_ERR(op))
		return PTR_ERR(op);
	if (is_read) {
		ret = -EBADF;
		if (!(op->file->f_mode & FMODE_READ))
			goto fail;
	} else {
		ret = -ENOTSOCK;
		if (!sock_from_file(op->file))
			goto fail;
	}
	op->events = EPOLLIN | EPOLLRDNORM;
	op->len = req->len;
	return pbuf_op_start(op, issue_flags);
fail:
	pbuf_op_free(op);
	return ret;
}
