// SPDX-License-Identifier: GPL-2.0
/*
 * IOPBUF_CMD_LEND: a command lends a buffer (a registered-buffer slice, a
 * kernel-owned buffer, or the next entry of a REGBUF ring) to a chain of
 * secondary operations the module runs in order, and completes after the
 * last of them and after the network stack released the pages of any
 * zero-copy send. Fused-command semantics without an io_uring change:
 * the buffer's lifetime never crosses commands.
 *
 * The chain is read once from user memory at issue and validated whole
 * (opcodes, directions, fds, ranges) before any I/O. Each secondary runs
 * without blocking; one that would block parks the command on its file
 * (op.c), so a chain waiting for a socket holds no thread.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "pbuf.h"

struct pbuf_lend {
	struct iopbuf_lend	req;		/* validated copy */
	struct file		*files[IOPBUF_LEND_MAX_OPS];
	s64			results[IOPBUF_LEND_MAX_OPS];
	unsigned int		idx;		/* secondary running */
	int			failed;		/* index, or -1 */
	u64			prev;		/* bytes the previous one moved */
	u64			total;
	u64			moved;		/* progress of WRITE/SEND */

	struct pbuf_regbuf	*buf;		/* the lent buffer */
	u64			off;		/* where the lent range starts */
	u64			len;		/* bytes lent */
	struct pbuf_commit	commit;		/* SRC_RING: the entry taken */
	bool			waiting_notif;
	bool			zc_sent;	/* a SEND moved bytes */
};

static bool pbuf_lend_fills(u8 opcode)
{
	return opcode == IOPBUF_LEND_OP_READ || opcode == IOPBUF_LEND_OP_RECV;
}

/* Validate the chain on its own; ranges are checked once the length is known. */
static int pbuf_lend_check(const struct iopbuf_lend *req)
{
	unsigned int i;

	if (req->resv0 || req->resv[0] || req->resv[1])
		return -EINVAL;
	if (req->src < IOPBUF_LEND_SRC_REGBUF || req->src > IOPBUF_LEND_SRC_RING)
		return -EINVAL;
	if (!req->dir || req->dir & ~(IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT))
		return -EINVAL;
	if (!req->nr_ops || req->nr_ops > IOPBUF_LEND_MAX_OPS)
		return -EINVAL;
	/* fields the source does not use are reserved; a slice needs bytes */
	if (req->src == IOPBUF_LEND_SRC_RING ? req->addr || req->len :
					       req->bgid)
		return -EINVAL;
	if (req->src == IOPBUF_LEND_SRC_REGBUF && !req->len)
		return -EINVAL;
	for (i = 0; i < req->nr_ops; i++) {
		const struct iopbuf_lend_op *o = &req->ops[i];

		if (o->resv0 || o->resv1 || !o->opcode ||
		    o->opcode > IOPBUF_LEND_OP_RECV)
			return -EINVAL;
	}
	return 0;
}

/* Directions granted. Return: 0 or -EACCES, *bad = the secondary. */
static int pbuf_lend_check_dir(const struct iopbuf_lend *req,
			       unsigned int *bad)
{
	unsigned int i;

	for (i = 0; i < req->nr_ops; i++) {
		u8 opcode = req->ops[i].opcode;
		u16 need = pbuf_lend_fills(opcode) ? IOPBUF_LEND_DIR_IN :
						     IOPBUF_LEND_DIR_OUT;

		if (!(req->dir & need)) {
			*bad = i;
			return -EACCES;
		}
	}
	return 0;
}

/* Ranges with an explicit length. Return: 0 or -EFAULT, *bad = the secondary. */
static int pbuf_lend_check_ranges(struct pbuf_lend *lend, unsigned int *bad)
{
	unsigned int i;

	for (i = 0; i < lend->req.nr_ops; i++) {
		const struct iopbuf_lend_op *o = &lend->req.ops[i];

		if (!pbuf_range_ok(lend->len, o->buf_off, o->len)) {
			*bad = i;
			return -EFAULT;
		}
	}
	return 0;
}

/* Can secondary @o use @file? Return: 0, -ENOTSOCK or -EBADF. */
static int pbuf_lend_file_ok(const struct iopbuf_lend_op *o, struct file *file)
{
	switch (o->opcode) {
	case IOPBUF_LEND_OP_SEND:
	case IOPBUF_LEND_OP_RECV:
		return sock_from_file(file) ? 0 : -ENOTSOCK;
	case IOPBUF_LEND_OP_READ:
		return file->f_mode & FMODE_READ ? 0 : -EBADF;
	default:
		return file->f_mode & FMODE_WRITE ? 0 : -EBADF;
	}
}

/*
 * Take a reference on each secondary's file and check its kind.
 * Return: 0, or -errno with *bad = the secondary (only then: a later
 * failure of the buffer itself must not be blamed on a secondary).
 */
static int pbuf_lend_get_files(struct pbuf_lend *lend, unsigned int *bad)
{
	unsigned int i;
	int ret;

	for (i = 0; i < lend->req.nr_ops; i++) {
		const struct iopbuf_lend_op *o = &lend->req.ops[i];

		lend->files[i] = fget(o->fd);
		ret = lend->files[i] ? pbuf_lend_file_ok(o, lend->files[i]) :
				       -EBADF;
		if (ret) {
			*bad = i;
			return ret;
		}
	}
	return 0;
}

/* The next entry of a REGBUF ring becomes the lent buffer; it is consumed. */
static int pbuf_lend_from_ring(struct pbuf_ctx *ctx, struct pbuf_lend *lend,
			       u64 *addr)
{
	struct pbuf_ring *ring = pbuf_ring_get(ctx, lend->req.bgid);
	struct pbuf_sel sel;
	int ret;

	if (!ring)
		return -ENOENT;
	ret = -EINVAL;
	if (!(ring->flags & IOPBUF_RING_REGBUF))
		goto out;
	mutex_lock(&ring->io_lock);
	/* the whole entry, consumed whole on an INC ring too */
	ret = pbuf_ring_select(ring, 0, 1, &sel);
	if (ret > 0) {
		ring->head++;
		*addr = sel.addr;
		lend->len = sel.len;
		lend->commit.bid = sel.bid;
		lend->commit.nbufs = 1;
		lend->commit.flags = IOPBUF_CQE_F_BUFFER;
		ret = 0;
	}
	mutex_unlock(&ring->io_lock);
out:
	pbuf_ring_put(ring);
	return ret;
}

/*
 * Reference the lent buffer and check the lent range. Secondaries walk the
 * buffer's own run table (pbuf_lend_iter()): nothing is copied, however
 * many segments the range spans (a buffer of a small memfd mapped
 * thousands of times has one per page).
 */
static int pbuf_lend_get_buf(struct pbuf_ctx *ctx, struct pbuf_lend *lend)
{
	u64 addr = lend->req.addr;
	int ret;

	lend->len = lend->req.len;
	switch (lend->req.src) {
	case IOPBUF_LEND_SRC_KBUF:
		lend->buf = pbuf_kbuf_get(ctx, addr > U32_MAX ? 0 : addr);
		if (!IS_ERR(lend->buf) && !lend->len)
			lend->len = lend->buf->runs.len;
		break;
	case IOPBUF_LEND_SRC_RING:
		ret = pbuf_lend_from_ring(ctx, lend, &addr);
		if (ret)
			return ret;
		fallthrough;
	case IOPBUF_LEND_SRC_REGBUF:
		lend->buf = pbuf_regbuf_get(ctx, iopbuf_regbuf_index(addr));
		lend->off = iopbuf_regbuf_offset(addr);
		break;
	}
	if (IS_ERR(lend->buf)) {
		ret = PTR_ERR(lend->buf);
		lend->buf = NULL;
		return ret;
	}
	if (!pbuf_range_ok(lend->buf->runs.len, lend->off, lend->len))
		return -EFAULT;
	return 0;
}

static bool pbuf_lend_has_send(const struct pbuf_lend *lend)
{
	unsigned int i;

	for (i = 0; i < lend->req.nr_ops; i++)
		if (lend->req.ops[i].opcode == IOPBUF_LEND_OP_SEND)
			return true;
	return false;
}

/*
 * The range of the lent buffer secondary @o works on, from its progress:
 * an iterator over the buffer's run table from the run holding its first
 * byte (pbuf_runs_find(): the page index or a binary search, as
 * io_import_fixed() indexes its table). The caller has checked that at
 * least one byte is left.
 */
static void pbuf_lend_iter(struct pbuf_lend *lend,
			   const struct iopbuf_lend_op *o, u64 len, int dir,
			   struct iov_iter *iter)
{
	const struct pbuf_runs *runs = &lend->buf->runs;
	u64 pos = lend->off + o->buf_off + lend->moved;
	unsigned int i = pbuf_runs_find(runs, pos);

	iov_iter_bvec(iter, dir, &runs->bv[i], runs->nr - i,
		      runs->len - runs->start[i]);
	iov_iter_advance(iter, pos - runs->start[i]);
	/* one transfer at most MAX_RW_COUNT: socket code takes an int */
	iov_iter_truncate(iter, min_t(u64, len - lend->moved, MAX_RW_COUNT));
}

static loff_t *pbuf_lend_pos(struct file *file, const struct iopbuf_lend_op *o,
			     u64 moved, loff_t *pos)
{
	if (file->f_mode & FMODE_STREAM)
		return NULL;
	*pos = o->off == IOPBUF_LEND_POS ? file->f_pos : o->off + moved;
	return pos;
}

static int pbuf_lend_io(struct pbuf_op *op, struct pbuf_lend *lend,
			const struct iopbuf_lend_op *o, struct file *file,
			struct iov_iter *iter)
{
	struct socket *sock = sock_from_file(file);
	struct msghdr msg = {};
	loff_t pos, *ppos;
	size_t max;
	rwf_t rwf;
	int ret;

	if (sock) {
		msg.msg_iter = *iter;
		if (pbuf_lend_fills(o->opcode))
			return sock_recvmsg(sock, &msg, MSG_DONTWAIT);
		msg.msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
		if (o->opcode == IOPBUF_LEND_OP_SEND && op->notif &&
		    test_bit(SOCK_SUPPORT_ZC, &sock->flags)) {
			msg.msg_flags |= MSG_ZEROCOPY;
			msg.msg_ubuf = &op->notif->uarg;
		}
		return sock_sendmsg(sock, &msg);
	}
	ret = pbuf_file_rwf(file, op->events, &rwf, &max);
	if (ret)
		return ret;
	iov_iter_truncate(iter, max);
	ppos = pbuf_lend_pos(file, o, lend->moved, &pos);
	if (pbuf_lend_fills(o->opcode))
		ret = vfs_iter_read(file, iter, ppos, rwf);
	else
		ret = vfs_iter_write(file, iter, ppos, rwf);
	if (ret > 0 && ppos && o->off == IOPBUF_LEND_POS)
		file->f_pos = pos;
	return ret;
}

/*
 * One secondary, without blocking. READ/RECV: one transfer. WRITE/SEND:
 * until all @len bytes are out. Return: bytes, -errno, or -EAGAIN with
 * op->poll_file and op->events set for the wait.
 */
static int pbuf_lend_step(struct pbuf_op *op, struct pbuf_lend *lend)
{
	const struct iopbuf_lend_op *o = &lend->req.ops[lend->idx];
	struct file *file = lend->files[lend->idx];
	bool fills = pbuf_lend_fills(o->opcode);
	u64 len = o->len ?: (lend->idx ? lend->prev : lend->len);
	struct iov_iter iter;
	int ret;

	/* a length taken from the previous secondary is checked here */
	if (!pbuf_range_ok(lend->len, o->buf_off, len))
		return -EFAULT;
	if (!len)
		return 0;
	op->poll_file = file;
	op->events = fills ? EPOLLIN | EPOLLRDNORM : EPOLLOUT | EPOLLWRNORM;

	do {
		pbuf_lend_iter(lend, o, len, fills ? ITER_DEST : ITER_SOURCE,
			       &iter);
		ret = pbuf_lend_io(op, lend, o, file, &iter);
		if (ret <= 0)
			break;
		lend->moved += ret;
		if (o->opcode == IOPBUF_LEND_OP_SEND)
			lend->zc_sent = true;
	} while (!fills && lend->moved < len);

	if (ret == -EAGAIN)
		return ret;
	if (ret < 0 && !lend->moved)
		return ret;
	return lend->moved;
}

/*
 * Zero-copy flags as a SEND command reports them: only when data went out
 * (a chain whose SEND failed or never ran sent nothing, zero copy or not).
 */
static u16 pbuf_lend_zc_flags(const struct pbuf_lend *lend,
			      const struct pbuf_notif *n)
{
	return lend->zc_sent ? pbuf_notif_cqe_flags(n) : 0;
}

static u64 pbuf_lend_res2(struct pbuf_op *op, struct pbuf_lend *lend, u16 extra)
{
	const struct pbuf_commit *c = &lend->commit;
	u8 failed = lend->failed < 0 ? IOPBUF_LEND_NONE : lend->failed;
	u8 done = lend->failed < 0 ? lend->req.nr_ops : lend->failed;

	return c->bid | (u64)done << 16 | (u64)failed << 24 |
	       (u64)(c->flags | extra) << 32;
}

/* Each secondary's result, for the application; best effort. */
static void pbuf_lend_write_results(struct pbuf_lend *lend)
{
	void __user *dst = u64_to_user_ptr(lend->req.results);

	if (!lend->req.results || current->flags & (PF_EXITING | PF_KTHREAD))
		return;
	if (copy_to_user(dst, lend->results,
			 lend->req.nr_ops * sizeof(lend->results[0])))
		pr_debug("cannot write lend results to %p\n", dst);
}

static int pbuf_lend_result(struct pbuf_op *op, struct pbuf_lend *lend,
			    u64 *res2, u16 extra)
{
	pbuf_lend_write_results(lend);
	*res2 = pbuf_lend_res2(op, lend, extra);
	if (lend->failed >= 0)
		return lend->results[lend->failed];
	return min_t(u64, lend->total, INT_MAX);
}

/* The chain ended: wait for the stack to release zero-copy pages, if any. */
static int pbuf_lend_finish(struct pbuf_op *op, struct pbuf_lend *lend,
			    u64 *res2)
{
	struct pbuf_notif *n = op->notif;

	if (!n)
		return pbuf_lend_result(op, lend, res2, 0);
	/* the notif has room for it (pbuf_notif_alloc()) */
	if (lend->buf && !n->nr_refs) {
		n->refs[n->nr_refs++] = lend->buf;
		lend->buf = NULL;
	}
	lend->waiting_notif = true;
	pbuf_op_wait_external(op);
	pbuf_notif_flush(n);
	return PBUF_OP_WAIT;
}

static int pbuf_lend_fn(struct pbuf_op *op, u64 *res2)
{
	struct pbuf_lend *lend = op->lend;

	if (lend->waiting_notif)
		return pbuf_lend_result(op, lend, res2,
					pbuf_lend_zc_flags(lend, op->notif));

	while (lend->idx < lend->req.nr_ops) {
		int ret = pbuf_lend_step(op, lend);

		if (ret == -EAGAIN)
			return ret;
		lend->results[lend->idx] = ret;
		if (ret < 0) {
			lend->failed = lend->idx;
			break;
		}
		lend->prev = ret;
		lend->total += ret;
		lend->moved = 0;
		lend->idx++;
	}
	return pbuf_lend_finish(op, lend, res2);
}

static int pbuf_lend_cancel(struct pbuf_op *op, u64 *res2)
{
	struct pbuf_lend *lend = op->lend;
	struct pbuf_notif *n = op->notif;
	u16 extra = 0;

	if (lend->idx < lend->req.nr_ops && lend->failed < 0) {
		lend->results[lend->idx] = lend->moved ?: -ECANCELED;
		lend->failed = lend->idx;
	}
	if (n) {
		if (!lend->waiting_notif)
			pbuf_notif_flush(n);
		if (pbuf_notif_detach(n)) {
			/* the stack still has pages: the notif keeps the buffer */
			if (lend->buf && !n->nr_refs) {
				n->refs[n->nr_refs++] = lend->buf;
				lend->buf = NULL;
			}
			op->notif = NULL;
			extra = IOPBUF_CQE_F_ZC | IOPBUF_CQE_F_DETACHED;
		} else {
			extra = pbuf_lend_zc_flags(lend, n);
		}
	}
	pbuf_lend_result(op, lend, res2, extra);
	return -ECANCELED;
}

static void pbuf_lend_destroy(struct pbuf_op *op)
{
	struct pbuf_lend *lend = op->lend;
	unsigned int i;

	pbuf_op_notif_free(op);
	if (!lend)
		return;
	for (i = 0; i < IOPBUF_LEND_MAX_OPS; i++) {
		if (lend->files[i])
			fput(lend->files[i]);
		lend->files[i] = NULL;
	}
	if (lend->buf)
		pbuf_regbuf_put(lend->buf);
	lend->buf = NULL;
	/* the state itself stays with the op (pbuf_lend_state()) */
}

static int pbuf_lend_prepare(struct pbuf_op *op, struct pbuf_lend *lend,
			     u64 addr, unsigned int *bad)
{
	struct pbuf_ctx *ctx = op->ctx;
	int ret;

	if (copy_from_user(&lend->req, u64_to_user_ptr(addr),
			   sizeof(lend->req)))
		return -EFAULT;
	ret = pbuf_lend_check(&lend->req);
	if (ret)
		return ret;
	ret = pbuf_lend_check_dir(&lend->req, bad);
	if (ret)
		return ret;
	ret = pbuf_lend_get_files(lend, bad);
	if (ret)
		return ret;
	/* last: a ring entry taken here is consumed even if a range is bad */
	ret = pbuf_lend_get_buf(ctx, lend);
	if (ret)
		return ret;
	ret = pbuf_lend_check_ranges(lend, bad);
	if (ret)
		return ret;
	if (pbuf_lend_has_send(lend)) {
		op->notif = pbuf_notif_alloc(op, 1);
		if (!op->notif)
			return -ENOMEM;
	}
	return 0;
}

/*
 * The chain state of a new LEND: the one its command object kept from an
 * earlier LEND, or a new one kept from now on (freed with the object).
 * Either way reset. pbuf_lend_destroy() leaves a kept state holding
 * nothing, so an op freed before this point releases nothing twice.
 */
static struct pbuf_lend *pbuf_lend_state(struct pbuf_op *op)
{
	struct pbuf_lend *lend = op->lend;

	if (!lend) {
		pbuf_stat_add(cache_misses, 1);
		/* held while the chain waits: charged to its memory cgroup */
		lend = kmalloc(sizeof(*lend), GFP_KERNEL_ACCOUNT);
		if (!lend)
			return NULL;
		op->lend = lend;
	}
	memset(lend, 0, sizeof(*lend));
	lend->failed = -1;
	return lend;
}

static const struct pbuf_op_ops pbuf_lend_ops = {
	.run		= pbuf_lend_fn,
	.cancel		= pbuf_lend_cancel,
	.destroy	= pbuf_lend_destroy,
};

/*
 * A setup failure's *@res2 says which secondary it failed on
 * (IOPBUF_LEND_NONE for the chain as a whole).
 */
int pbuf_cmd_lend(struct io_uring_cmd *cmd, const struct iopbuf_cmd_lend *req,
		  unsigned int issue_flags, u64 *res2)
{
	unsigned int bad = IOPBUF_LEND_NONE;
	struct pbuf_lend *lend;
	struct pbuf_op *op;
	int ret;

	if (req->resv || req->len != sizeof(struct iopbuf_lend))
		return -EINVAL;

	op = pbuf_op_alloc(cmd, &pbuf_lend_ops, PBUF_OP_NO_FILE);
	if (IS_ERR(op))
		return PTR_ERR(op);
	lend = pbuf_lend_state(op);
	if (!lend) {
		pbuf_op_free(op);
		return -ENOMEM;
	}

	ret = pbuf_lend_prepare(op, lend, req->addr, &bad);
	if (ret) {
		pbuf_op_free(op);
		*res2 = (u64)bad << 24;
		return ret;
	}
	return pbuf_op_start(op, issue_flags);
}
