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

#include <linux/bvec.h>
#include <linux/io_uring.h>
#include <linux/skbuff.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>
#if defined(HAVE_IOU_RING_REFS) || defined(HAVE_IOU_TCTX_IN_IDLE)
#include <linux/io_uring_types.h>
#include <linux/percpu-refcount.h>
#endif
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

/*
 * Post the completion: @res in cqe->res and, on a CQE32 ring, @res2 in the
 * first extra word. @issue_flags must be the ones io_uring handed us.
 * Called only by pbuf_cmd_done() (module/op.c), which traces it first.
 */
static inline void pbuf_cmd_post(struct io_uring_cmd *cmd, s32 res, u64 res2,
				 unsigned int issue_flags)
{
#ifdef HAVE_IOU_CMD_DONE32
	io_uring_cmd_done32(cmd, res, res2, issue_flags);
#else
	io_uring_cmd_done(cmd, res, res2, issue_flags);
#endif
}

/*
 * Task-work callbacks: PBUF_TW_CB(name, fn) defines name() in the form
 * io_uring_cmd_complete_in_task() takes on this kernel, calling
 * fn(cmd, issue_flags, dead); @dead is true when the submitting task is
 * gone and the work runs elsewhere (no user memory, no fds).
 */
#ifdef HAVE_IOU_TW_REQ
#define PBUF_TW_CB(name, fn)						\
static void name(struct io_tw_req tw_req, io_tw_token_t tw)		\
{									\
	fn(io_uring_cmd_from_tw(tw_req),				\
	   IO_URING_CMD_TASK_WORK_ISSUE_FLAGS, tw.cancel);		\
}
#else
#define PBUF_TW_CB(name, fn)						\
static void name(struct io_uring_cmd *cmd, unsigned int issue_flags)	\
{									\
	fn(cmd, issue_flags, pbuf_tw_dead(issue_flags));		\
}
#endif

static inline bool pbuf_tw_dead(unsigned int issue_flags)
{
#ifdef HAVE_IOU_F_TASK_DEAD
	if (issue_flags & IO_URING_F_TASK_DEAD)
		return true;
#endif
	return false;
}

/*
 * Whether the module must watch its commands for exit, exec and ring
 * teardown itself (the exit monitor in module/op.c, with a reference on
 * each submitting task): only where io_uring cannot ask a uring_cmd to
 * cancel. Elsewhere no command pays for the monitor's list and lock.
 */
static inline bool pbuf_need_exit_monitor(void)
{
#ifdef HAVE_IOU_CANCEL
	return false;
#else
	return true;
#endif
}

/*
 * Cancellation by io_uring (ring or task exit) exists from 6.7. Older kernels
 * never ask; the module's exit monitor (task exit or exec: see
 * pbuf_cmd_task_cancelling(); ring teardown: pbuf_cmd_ring_dying()) and
 * IOPBUF_IOC_CANCEL cover them.
 */
static inline bool pbuf_cmd_is_cancel(unsigned int issue_flags)
{
#ifdef HAVE_IOU_CANCEL
	return issue_flags & IO_URING_F_CANCEL;
#else
	return false;
#endif
}

static inline void pbuf_cmd_mark_cancelable(struct io_uring_cmd *cmd,
					    unsigned int issue_flags)
{
#ifdef HAVE_IOU_CANCEL
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
#endif
}

/*
 * Whether the io_uring instance @cmd was submitted to is being torn down
 * (its last fd closed). Only kernels that cannot ask commands to cancel
 * need to know: there a waiting command would keep the ring's exit work
 * waiting for ever (and warning after five minutes), so the exit monitor
 * cancels it. The request holds the instance alive until the command
 * completes, so its refs can be read while the command is in flight.
 */
static inline bool pbuf_cmd_ring_dying(struct io_uring_cmd *cmd)
{
#if !defined(HAVE_IOU_CANCEL) && defined(HAVE_IOU_RING_REFS)
	return percpu_ref_is_dying(&cmd_to_io_kiocb(cmd)->ctx->refs);
#else
	return false;
#endif
}

/*
 * Whether io_uring is cancelling every request of the task that submitted
 * @cmd: the task is exiting or exec()ing (io_uring_cancel_generic() raised
 * in_idle and waits for them). Only kernels that cannot ask commands to
 * cancel need to know: there exec() of a task with a waiting command never
 * returned, and a SIGKILL then left it spinning in that wait. The request
 * keeps its task's io_uring context alive while the command is in flight
 * (the wait ends only when it completes), so it can be read from here.
 */
static inline bool pbuf_cmd_task_cancelling(struct io_uring_cmd *cmd)
{
#if !defined(HAVE_IOU_CANCEL) && defined(HAVE_IOU_TCTX_IN_IDLE)
	struct io_uring_task *tctx = cmd_to_io_kiocb(cmd)->task->io_uring;

	return tctx && atomic_read(&tctx->in_idle);
#else
	return false;
#endif
}

/*
 * Zero-copy completion callbacks: a function pointer in struct ubuf_info
 * until 6.9, an ops table from 6.10. Same signature and semantics.
 */
#ifdef HAVE_UBUF_INFO_OPS
#define PBUF_DEFINE_UBUF_OPS(name, fn)					\
	static const struct ubuf_info_ops name = { .complete = fn }
#define pbuf_ubuf_set_ops(uarg, name)	((uarg)->ops = &(name))
#else
#define PBUF_DEFINE_UBUF_OPS(name, fn)					\
	static void (*const name)(struct sk_buff *, struct ubuf_info *,	\
				  bool) = fn
#define pbuf_ubuf_set_ops(uarg, name)	((uarg)->callback = (name))
#endif

/*
 * Move the bvec iterator @from on by @done bytes, to segment @bv at offset
 * @skip, where the caller's walk over its segments ended (the filler's).
 * Written in place where the iterator's fields are what the walk assumes
 * (probe IOV_ITER_BVEC_FIELDS); otherwise iov_iter_advance() walks the
 * segments a second time to the same place.
 */
static inline void pbuf_iter_bvec_advance(struct iov_iter *from,
					  const struct bio_vec *bv,
					  size_t skip, size_t done)
{
#ifdef HAVE_IOV_ITER_BVEC_FIELDS
	from->nr_segs -= bv - from->bvec;
	from->bvec = bv;
	from->iov_offset = skip;
	from->count -= done;
#else
	iov_iter_advance(from, done);
#endif
}

/*
 * Managed frags: msg->sg_from_iter lets a zero-copy sender place its
 * pages into the skb itself, without a page reference per frag
 * (SKBFL_MANAGED_FRAG_REFS), as io_uring does for registered buffers.
 * The module's filler (module/send.c) has the form
 * fill(skb, from, length), only fills frags and grows skb->len, data_len
 * and truesize. PBUF_DEFINE_SG_FROM_ITER(fill) defines fill_sg_from_iter,
 * the callback in this kernel's form, and pbuf_msg_set_sg_from_iter(msg,
 * fill) installs it. Who charges the socket for the new truesize differs:
 *  - (sk, skb, from, length), 6.1: the callback charges, as the stack's
 *    own filler does there (pbuf_skb_charge());
 *  - (skb, from, length), 6.4 on: __zerocopy_sg_from_iter() charges
 *    after the callback returns, so the callback must not, and the
 *    filler is the callback itself;
 *  - (skb, ubuf, from, length), a 2026 proposal: the caller charges as
 *    above.
 * Without any of them the stack fills the skb itself, with references.
 */
#if defined(HAVE_SG_FROM_ITER_SK)
static inline void pbuf_skb_charge(struct sock *sk, struct sk_buff *skb,
				   unsigned int truesize)
{
	if (sk && sk->sk_type == SOCK_STREAM) {
		sk_wmem_queued_add(sk, truesize);
		if (!skb_zcopy_pure(skb))
			sk_mem_charge(sk, truesize);
	} else {
		refcount_add(truesize, &skb->sk->sk_wmem_alloc);
	}
}

#define PBUF_DEFINE_SG_FROM_ITER(fill)					\
static inline int fill##_sg_from_iter(struct sock *sk,			\
				      struct sk_buff *skb,		\
				      struct iov_iter *from,		\
				      size_t length)			\
{									\
	unsigned int before = skb->truesize;				\
	int ret = fill(skb, from, length);				\
									\
	pbuf_skb_charge(sk, skb, skb->truesize - before);		\
	return ret;							\
}

#define pbuf_msg_set_sg_from_iter(msg, fill)				\
	((msg)->sg_from_iter = fill##_sg_from_iter)
#elif defined(HAVE_SG_FROM_ITER_SKB)
#define PBUF_DEFINE_SG_FROM_ITER(fill)					\
	static int (*const fill##_sg_from_iter)(struct sk_buff *,	\
						struct iov_iter *,	\
						size_t) = fill
#define pbuf_msg_set_sg_from_iter(msg, fill)				\
	((msg)->sg_from_iter = fill##_sg_from_iter)
#elif defined(HAVE_SG_FROM_ITER_UBUF)
#define PBUF_DEFINE_SG_FROM_ITER(fill)					\
static inline int fill##_sg_from_iter(struct sk_buff *skb,		\
				      struct ubuf_info *ubuf,		\
				      struct iov_iter *from,		\
				      size_t length)			\
{									\
	return fill(skb, from, length);					\
}

#define pbuf_msg_set_sg_from_iter(msg, fill)				\
	((msg)->sg_from_iter = fill##_sg_from_iter)
#else
#define PBUF_DEFINE_SG_FROM_ITER(fill)					\
	static_assert(__same_type(&(fill), int (*)(struct sk_buff *,	\
						   struct iov_iter *,	\
						   size_t)))
#define pbuf_msg_set_sg_from_iter(msg, fill)	((void)(msg), (void)(fill))
#endif

/*
 * The task a command belongs to, whose exit must cancel it. A command
 * issued from io-wq runs in a worker thread that may exit on its own when
 * idle; before 6.8 the owner is not exported, so the worker's process
 * (its thread-group leader) stands in for it.
 */
static inline struct task_struct *pbuf_cmd_task(struct io_uring_cmd *cmd)
{
#ifdef HAVE_IOU_CMD_GET_TASK
	return io_uring_cmd_get_task(cmd);
#else
	return current->flags & PF_IO_WORKER ? current->group_leader : current;
#endif
}

#endif /* _PBUF_COMPAT_H */
