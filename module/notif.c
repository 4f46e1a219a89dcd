// SPDX-License-Identifier: GPL-2.0
/*
 * Zero-copy notifications: one struct ubuf_info per send command, however
 * many buffers it sends. Every skb holding our pages holds a reference on
 * it; the command holds one more while it is sending. When the last goes,
 * the network stack has let go of every page, and the command may post its
 * completion (the application may reuse the buffers).
 *
 * The callback runs in whatever context frees the skb, softirq included:
 * it only records how the data went and hands over to task work (the
 * waiting command) or to pbuf_wq (a command that no longer waits).
 */
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>

#include "pbuf.h"
#include "pbuf_trace.h"

static void pbuf_notif_release_work(struct work_struct *work)
{
	pbuf_notif_free(container_of(work, struct pbuf_notif, work));
}

/* The stack and the command have both let go. */
static void pbuf_notif_done(struct pbuf_notif *n)
{
	struct pbuf_op *op;
	unsigned long flags;

	/*
	 * The command cannot go away while we hold the lock (detach), but
	 * once woken it may complete and free n before we unlock: RCU keeps
	 * n (its lock) valid until then.
	 */
	rcu_read_lock();
	spin_lock_irqsave(&n->lock, flags);
	op = n->op;
	n->op = NULL;
	n->done = true;
	trace_iopbuf_zc_notif(n, op);
	if (op)
		pbuf_op_wake_external(op);
	spin_unlock_irqrestore(&n->lock, flags);
	rcu_read_unlock();

	/* a detached n is freed by this work alone */
	if (!op)
		queue_work(pbuf_wq, &n->work);
}

/* Called once per reference drop: each skb's, and ours from the flush. */
static void pbuf_notif_callback(struct sk_buff *skb, struct ubuf_info *uarg,
				bool success)
{
	struct pbuf_notif *n = container_of(uarg, struct pbuf_notif, uarg);
	bool last;

	/*
	 * Until the count drops, n is ours; after, it may be freed by
	 * whoever drops the last reference, and the module may go once
	 * every notification is gone. Module exit waits for callbacks with
	 * synchronize_rcu() (pbuf_notif_wait_all()), which waits for a
	 * region with preemption off too, and costs less here than an RCU
	 * section on kernels with preemptible RCU.
	 */
	preempt_disable();
	if (success && skb)
		WRITE_ONCE(n->zc_used, true);
	else if (!success)
		WRITE_ONCE(n->zc_copied, true);
	last = refcount_dec_and_test(&uarg->refcnt);
	preempt_enable();
	/* the last reference: nobody else frees n before pbuf_notif_done() */
	if (last)
		pbuf_notif_done(n);
}

PBUF_DEFINE_UBUF_OPS(pbuf_notif_ops, pbuf_notif_callback);

/**
 * pbuf_notif_alloc - the notification of a zero-copy send
 * @op: the send command
 * @max_refs: most buffer references it may take over (the selection's
 *	entries)
 *
 * Taken from the context's cache when it has one: see struct pbuf_notif
 * for why a notification may be reused while a callback of its previous
 * use is still unlocking it.
 *
 * Return: the notification, or NULL (-ENOMEM).
 */
struct pbuf_notif *pbuf_notif_alloc(struct pbuf_op *op, unsigned int max_refs)
{
	struct pbuf_ctx *ctx = op->ctx;
	struct pbuf_notif *n = op->spare_notif;

	if (n)
		op->spare_notif = NULL;
	else
		n = pbuf_ctx_notif_get(ctx);
	if (!n) {
		pbuf_stat_add(cache_misses, 1);
		n = kzalloc(sizeof(*n), GFP_KERNEL_ACCOUNT);
		if (!n)
			return NULL;
		/* once for the object's life: never while a callback holds it */
		spin_lock_init(&n->lock);
		INIT_WORK(&n->work, pbuf_notif_release_work);
	}
	if (n->refs_cap < max_refs) {
		pbuf_stat_add(cache_misses, 1);
		kfree(n->refs);
		n->refs_cap = 0;
		n->refs = kmalloc_array(max_refs, sizeof(*n->refs),
					GFP_KERNEL_ACCOUNT);
		if (!n->refs) {
			pbuf_ctx_notif_put(ctx, n);
			return NULL;
		}
		n->refs_cap = max_refs;
	}
	memset(&n->uarg, 0, sizeof(n->uarg));
	pbuf_ubuf_set_ops(&n->uarg, pbuf_notif_ops);
	/* the command's reference, dropped by pbuf_notif_flush() */
	refcount_set(&n->uarg.refcnt, 1);
	/* as io_uring: frags are ours, the skb must not be orphaned early */
	n->uarg.flags = SKBFL_ZEROCOPY_FRAG | SKBFL_DONT_ORPHAN;
	n->op = op;
	n->done = false;
	n->zc_used = false;
	n->zc_copied = false;
	n->detached = false;
	n->nr_refs = 0;
	n->ctx = ctx;
	pbuf_stat_add(notifs, 1);
	return n;
}

/* The command has sent all it will: drop its reference. */
void pbuf_notif_flush(struct pbuf_notif *n)
{
	pbuf_notif_callback(NULL, &n->uarg, true);
}

/*
 * The command has sent all it will. If the stack holds no reference any
 * more (it freed every skb during the send), drop ours, the last, and
 * return true: the notification is done and the command may complete at
 * once. Otherwise do nothing and return false: the command waits
 * (pbuf_op_wait_external()) and then flushes. Once the count is 1 it
 * stays so: only skbs that still hold a reference can make new ones.
 */
bool pbuf_notif_flush_if_last(struct pbuf_notif *n)
{
	if (refcount_read(&n->uarg.refcnt) != 1)
		return false;
	/* see what the skbs recorded before their release of the count */
	smp_acquire__after_ctrl_dep();
	/*
	 * No skb holds n, so no callback can run: drop our reference and
	 * finish n here, without the callback's lock and hand-over (nobody
	 * waits: the command completes in this step).
	 */
	refcount_set(&n->uarg.refcnt, 0);
	trace_iopbuf_zc_notif(n, n->op);
	n->op = NULL;
	n->done = true;
	return true;
}

/*
 * The command stops waiting (cancelled). Return: true when the stack still
 * holds pages, so the notif frees itself later; false when it is done and
 * the command frees it.
 */
bool pbuf_notif_detach(struct pbuf_notif *n)
{
	unsigned long flags;
	bool pending;

	spin_lock_irqsave(&n->lock, flags);
	pending = !n->done;
	if (pending) {
		/*
		 * From now on the notif can outlive its command, its device
		 * file and any io_uring (a cancelled send to a peer that
		 * never reads): it holds its context, and the module, so
		 * that rmmod fails with -EBUSY rather than waiting for the
		 * network in D state. The command's file still holds both
		 * here, and the callback frees n only once op is NULL.
		 */
		pbuf_ctx_get(n->ctx);
		__module_get(THIS_MODULE);
		n->detached = true;
	}
	n->op = NULL;
	spin_unlock_irqrestore(&n->lock, flags);
	return pending;
}

/* Drop the buffer references (process context: may unpin pages). */
static inline void pbuf_notif_drop_refs(struct pbuf_notif *n)
{
	while (n->nr_refs)
		pbuf_regbuf_put(n->refs[--n->nr_refs]);
	pbuf_stat_add(notifs, -1);
}

/*
 * A command is done with its finished notification (op->notif), if it has
 * one: kept with the op for its next zero-copy command, or cached.
 */
void pbuf_op_notif_free(struct pbuf_op *op)
{
	struct pbuf_notif *n = op->notif;

	if (!n)
		return;
	op->notif = NULL;
	pbuf_notif_drop_refs(n);
	if (!op->spare_notif)
		op->spare_notif = n;
	else
		pbuf_ctx_notif_put(op->ctx, n);
}

/* A detached notification is done: the last step of the release work. */
void pbuf_notif_free(struct pbuf_notif *n)
{
	struct pbuf_ctx *ctx = n->ctx;
	bool detached = n->detached;

	pbuf_notif_drop_refs(n);
	/*
	 * Back to the cache first: the context stays alive through our
	 * reference (detached) or the command's. n may be reused at once.
	 */
	pbuf_ctx_notif_put(ctx, n);
	if (!detached)
		return;
	pbuf_ctx_put(ctx);
	/*
	 * Last: from pbuf_wq, module exit flushes the queue before the code
	 * goes.
	 */
	module_put(THIS_MODULE);
}

/*
 * Module exit: every notification is freed (each holds the module until
 * the end of pbuf_notif_free(), so exit cannot begin before), but a
 * callback may still be returning and a release work still running.
 */
void pbuf_notif_wait_all(void)
{
	WARN_ON(pbuf_stat_sum(notifs));
	/* a callback may still be returning from pbuf_notif_done() */
	synchronize_rcu();
	flush_workqueue(pbuf_wq);
}
