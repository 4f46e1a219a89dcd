// SPDX-License-Identifier: GPL-2.0
/*
 * IOPBUF_CMD_SEND: send on a kernel socket from buffers selected from a
 * provided-buffer ring, zero copy for registered-buffer entries.
 *
 * A command goes through three phases, one or more steps each:
 *  START  select entries under the ring's io_lock, hand them to
 *         sock_sendmsg() without blocking, commit what was taken. Nothing
 *         taken (-EAGAIN): release the selection, wait for EPOLLOUT, retry.
 *  MORE   a stream socket took part of the selection: keep sending the
 *         rest as room appears. Meanwhile later sends on the ring wait
 *         (ring->tx_partial), so the data stays contiguous and in ring
 *         order.
 *  NOTIF  all sent: drop the command's reference on the notification and
 *         wait until the stack has dropped every other one (no wait when
 *         it already has, during the send). Only then is the completion
 *         posted: it doubles as the buffer-release notification.
 */
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/socket.h>

#include "pbuf.h"

enum {
	PBUF_SEND_START,
	PBUF_SEND_MORE,
	PBUF_SEND_NOTIF,
};

/*
 * Managed frags (see PBUF_DEFINE_SG_FROM_ITER() in compat.h): place the
 * pages of a registered-buffer iterator into @skb as frags without taking
 * a page reference each. The notification the skb holds keeps the
 * buffer, hence its pinned pages, until the stack lets go of the skb, so
 * the frags need no references of their own; the skb is marked
 * SKBFL_MANAGED_FRAG_REFS so that it does not drop any either (and takes
 * them, __skb_zcopy_downgrade_managed(), if it ever needs to own frags).
 * An skb that already holds frags with references (TCP appending to an
 * skb filled otherwise) gets references for ours too, so that its frags
 * stay alike.
 *
 * Each segment becomes one frag as it is, page and offset, however many
 * pages of its folio it spans, as io_uring's own filler does. The
 * segments are runs, each as long as physical contiguity inside a folio
 * allows (struct pbuf_runs, pbuf_bvec_import()), so no two of them could
 * share a frag. Nor is a frag already in the skb extended: only a command
 * continuing a partial send could find one of its own there to extend,
 * which saves a frag at most.
 *
 * Return: 0, or -EMSGSIZE when the skb ran out of frags (what was placed
 * stays, and @from is advanced past it).
 */
int pbuf_skb_fill(struct sk_buff *skb, struct iov_iter *from, size_t length)
{
	struct skb_shared_info *shinfo = skb_shinfo(skb);
	unsigned int frag = shinfo->nr_frags;
	const struct bio_vec *bv = from->bvec;
	size_t skip = from->iov_offset;
	size_t left = min(length, iov_iter_count(from));
	size_t done = left;
	unsigned long truesize = 0;
	bool managed;

	if (WARN_ON_ONCE(!iov_iter_is_bvec(from)))
		return -EFAULT;
	if (!frag) {
		shinfo->flags |= SKBFL_MANAGED_FRAG_REFS;
		managed = true;
	} else {
		managed = skb_zcopy_managed(skb);
	}

	/*
	 * The iterator is moved on in place at the end
	 * (pbuf_iter_bvec_advance()): one pass over the segments.
	 */
	while (left) {
		size_t off = bv->bv_offset + skip;
		size_t len = min_t(size_t, left, bv->bv_len - skip);

		if (frag == MAX_SKB_FRAGS)
			break;
		if (!managed)
			get_page(bv->bv_page);
		__skb_fill_page_desc_noacc(shinfo, frag++, bv->bv_page, off, len);
		truesize += PAGE_ALIGN(len + offset_in_page(off));
		left -= len;
		skip += len;
		if (skip == bv->bv_len) {
			bv++;
			skip = 0;
		}
	}
	done -= left;
	shinfo->nr_frags = frag;
	pbuf_iter_bvec_advance(from, bv, skip, done);
	skb->data_len += done;
	skb->len += done;
	skb->truesize += truesize;
	return left ? -EMSGSIZE : 0;
}

PBUF_DEFINE_SG_FROM_ITER(pbuf_skb_fill);

static __always_inline int pbuf_sendmsg(struct pbuf_op *op,
					struct socket *sock)
{
	struct msghdr msg = {
		.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL | op->msg_flags,
	};
	int ret;

	msg.msg_iter = op->bs.iter;
	if (op->notif) {
		msg.msg_flags |= MSG_ZEROCOPY;
		msg.msg_ubuf = &op->notif->uarg;
		pbuf_msg_set_sg_from_iter(&msg, pbuf_skb_fill);
	}
	ret = sock_sendmsg(sock, &msg);
	if (ret > 0)
		op->bs.iter = msg.msg_iter;
	return ret;
}

static u64 pbuf_send_res2(struct pbuf_op *op, u16 extra)
{
	struct pbuf_commit *c = &op->commit;

	return iopbuf_cqe_res2(c->bid, c->nbufs, c->flags | extra);
}

/* A partly sent selection is done with: let the next send on the ring go. */
static void pbuf_send_release_ring(struct pbuf_op *op)
{
	struct pbuf_ring *ring = op->bs.ring;

	if (op->phase != PBUF_SEND_MORE)
		return;
	mutex_lock(&ring->io_lock);
	if (ring->tx_partial == op)
		ring->tx_partial = NULL;
	mutex_unlock(&ring->io_lock);
	wake_up_all(&ring->tx_wait);
}

/*
 * All sent, or an error: the result is final. A zero-copy send moves its
 * buffer references to the notification and waits for it.
 */
static int pbuf_send_finish(struct pbuf_op *op, int ret, u64 *res2)
{
	struct pbuf_notif *n = op->notif;
	struct pbuf_bufsel *bs = &op->bs;

	pbuf_send_release_ring(op);
	op->sent = op->sent ?: ret;
	if (!n) {
		pbuf_bufsel_release(bs);
		*res2 = op->sent > 0 ? pbuf_send_res2(op, 0) : 0;
		return op->sent;
	}
	pbuf_notif_take_refs(n, bs);
	pbuf_bufsel_release(bs);

	op->phase = PBUF_SEND_NOTIF;
	/*
	 * The stack may have let go of every skb already (a UDP packet
	 * dropped or sent out during the issue): then complete now, without
	 * a hop through task work.
	 */
	if (pbuf_notif_flush_if_last(n)) {
		*res2 = op->sent > 0 ?
			pbuf_send_res2(op, pbuf_notif_cqe_flags(n)) : 0;
		return op->sent;
	}
	pbuf_op_wait_external(op);
	pbuf_notif_flush(n);
	return PBUF_OP_WAIT;
}

/* Keep sending the rest of a selection a stream socket took part of. */
static int pbuf_send_more(struct pbuf_op *op, struct socket *sock, u64 *res2)
{
	while (iov_iter_count(&op->bs.iter)) {
		int ret = pbuf_sendmsg(op, sock);

		if (ret == -EAGAIN)
			return -EAGAIN;
		if (ret <= 0)
			break;	/* the error is lost to the bytes already sent */
		op->sent += ret;
	}
	return pbuf_send_finish(op, op->sent, res2);
}

static __always_inline int pbuf_send_start(struct pbuf_op *op,
					   struct socket *sock, u64 *res2)
{
	struct pbuf_bufsel *bs = &op->bs;
	struct pbuf_ring *ring = bs->ring;
	size_t total;
	int ret;

	mutex_lock(&ring->io_lock);
	if (ring->tx_partial) {
		/* an earlier send still owns the stream: queue behind it */
		pbuf_op_park_on(op, &ring->tx_wait);
		mutex_unlock(&ring->io_lock);
		return PBUF_OP_WAIT;
	}
	ret = pbuf_bufsel_select(bs, op->len, ITER_SOURCE);
	if (ret)
		goto fail;
	total = iov_iter_count(&bs->iter);
	ret = pbuf_sendmsg(op, sock);
	if (ret < 0)
		goto fail;
	/*
	 * Commit under the lock, so that the next command on this ring
	 * starts after what this one took. A plain ring gives the whole
	 * selection to this command; an INC ring only what was sent.
	 */
	if (ring->flags & IOPBUF_RING_INC)
		pbuf_bufsel_commit(bs, ret, &op->commit);
	else
		pbuf_bufsel_commit(bs, total, &op->commit);
	op->sent = ret;
	if (ret < total && !(ring->flags & IOPBUF_RING_INC) &&
	    sock->type == SOCK_STREAM) {
		ring->tx_partial = op;
		op->phase = PBUF_SEND_MORE;
		mutex_unlock(&ring->io_lock);
		return pbuf_send_more(op, sock, res2);
	}
	mutex_unlock(&ring->io_lock);
	return pbuf_send_finish(op, ret, res2);
fail:
	pbuf_bufsel_release(bs);
	mutex_unlock(&ring->io_lock);
	if (ret == -EAGAIN)
		return ret;
	return pbuf_send_finish(op, ret, res2);
}

static int pbuf_send_fn(struct pbuf_op *op, u64 *res2)
{
	struct socket *sock = op->sock;

	switch (op->phase) {
	case PBUF_SEND_START:
		return pbuf_send_start(op, sock, res2);
	case PBUF_SEND_MORE:
		return pbuf_send_more(op, sock, res2);
	}
	/* PBUF_SEND_NOTIF: woken by the notification */
	*res2 = op->sent > 0 ? pbuf_send_res2(op, pbuf_notif_cqe_flags(op->notif)) : 0;
	return op->sent;
}

/*
 * Exit, ring teardown or IOPBUF_IOC_CANCEL. Report what was sent; if the
 * stack still holds pages, leave the notification to free itself and say
 * so (DETACHED).
 */
static int pbuf_send_cancel(struct pbuf_op *op, u64 *res2)
{
	struct pbuf_notif *n = op->notif;
	u16 extra = 0;

	pbuf_send_release_ring(op);
	if (n && op->phase != PBUF_SEND_NOTIF) {
		/* parked in START or MORE: hand over what MORE still holds */
		pbuf_notif_take_refs(n, &op->bs);
		pbuf_bufsel_release(&op->bs);
		pbuf_notif_flush(n);
	}
	if (n) {
		if (pbuf_notif_detach(n)) {
			op->notif = NULL;
			extra = IOPBUF_CQE_F_ZC | IOPBUF_CQE_F_DETACHED;
		} else {
			extra = pbuf_notif_cqe_flags(n);
		}
	}
	if (op->sent <= 0)
		return -ECANCELED;
	*res2 = pbuf_send_res2(op, extra);
	return op->sent;
}

static const struct pbuf_op_ops pbuf_send_ops = {
	.run		= pbuf_send_fn,
	.cancel		= pbuf_send_cancel,
	.destroy	= pbuf_op_notif_free,
};

int pbuf_cmd_send(struct io_uring_cmd *cmd, const struct iopbuf_cmd_send *req,
		  unsigned int issue_flags)
{
	struct socket *sock;
	struct pbuf_op *op;
	int ret;

	if (req->flags & ~IOPBUF_SEND_BUNDLE || req->msg_flags & ~MSG_MORE)
		return -EINVAL;
	op = pbuf_op_alloc_sel(cmd, &pbuf_send_ops, req->fd, req->bgid,
			       req->flags & IOPBUF_SEND_BUNDLE);
	if (IS_ERR(op))
		return PTR_ERR(op);
	op->events = EPOLLOUT | EPOLLWRNORM;
	op->len = req->len;
	op->msg_flags = req->msg_flags;

	ret = -ENOTSOCK;
	sock = sock_from_file(op->file);
	if (!sock)
		goto fail;
	op->sock = sock;
	/* zero copy for pinned pages, on sockets that take msg_ubuf */
	if (op->bs.ring->flags & IOPBUF_RING_REGBUF &&
	    test_bit(SOCK_SUPPORT_ZC, &sock->flags)) {
		ret = -ENOMEM;
		op->notif = pbuf_notif_alloc(op, op->bs.max);
		if (!op->notif)
			goto fail;
	}
	return pbuf_op_start(op, issue_flags);
fail:
	pbuf_op_free(op);
	return ret;
}
