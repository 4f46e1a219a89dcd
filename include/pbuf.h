/* SPDX-License-Identifier: GPL-2.0 */
/*
 * iouring-pbuf internal interfaces: the per-open context, registered
 * buffers, provided-buffer rings and memory accounting.
 */
#ifndef _PBUF_H
#define _PBUF_H

#include <linux/atomic.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <linux/bits.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/poll.h>
#include <linux/xarray.h>
#include <linux/iouring_pbuf.h>

#include "pbuf_logic.h"

#define PBUF_VERSION		"0.1.0"

/*
 * Longest registered buffer: 64 GiB, 64 times upstream's 1 GiB. Its run
 * table (24 bytes a page at worst) stays within one kvmalloc().
 */
#define PBUF_MAX_BUF_LEN	BIT_ULL(36)

struct seq_file;
struct user_struct;

/*
 * Module-wide counters, shown in /sys/class/misc/iouring-pbuf/. All return
 * to zero once every context is closed and every operation has ended.
 * Those that registration changes are atomics here; those every command
 * changes are per CPU (struct pbuf_pcpu_stats), so that commands on
 * different CPUs and contexts share no cache line.
 */
struct pbuf_global {
	atomic_long_t	pinned_pages;
	atomic_long_t	charged_pages;
	atomic_t	contexts;
};

extern struct pbuf_global pbuf_global;

/*
 * Per-command counters, one copy per CPU: an increment and its decrement
 * may land on different CPUs, only the sum means anything.
 */
struct pbuf_pcpu_stats {
	long	inflight;	/* commands in flight past their issue */
	long	notifs;		/* zero-copy notifications pending */
	long	cache_misses;	/* command objects allocated (never falls) */
};

DECLARE_PER_CPU(struct pbuf_pcpu_stats, pbuf_pcpu_stats);

#define pbuf_stat_add(field, n)	this_cpu_add(pbuf_pcpu_stats.field, (n))

/* The sum over every CPU; racing updates can make it briefly off. */
#define pbuf_stat_sum(field)						\
({									\
	long __sum = 0;							\
	int __cpu;							\
									\
	for_each_possible_cpu(__cpu)					\
		__sum += per_cpu(pbuf_pcpu_stats.field, __cpu);		\
	__sum;								\
})
/* For work that must finish before the module goes (detached notifs). */
extern struct workqueue_struct *pbuf_wq;

/*
 * Pages one buffer or ring holds pinned, and who pays for them. The charge
 * goes to the registering user's locked_vm, checked against that task's
 * RLIMIT_MEMLOCK (the pool io_uring and RDMA draw from); a caller with
 * CAP_IPC_LOCK is not charged. Either way the pages show in the
 * registering process's pinned_vm (VmPin in /proc/PID/status), as
 * io_uring's registered buffers do, so administrators see who pins what.
 */
struct pbuf_acct {
	struct user_struct	*user;		/* NULL when not charged */
	struct mm_struct	*mm;		/* pinned_vm holder; mmgrab()ed */
	unsigned long		pinned;
	unsigned long		charged;	/* to user->locked_vm */
	unsigned long		vm_pages;	/* in mm->pinned_vm */
};

/* A free list of cached objects, each linked through its own node. */
struct pbuf_free_node {
	struct pbuf_free_node	*next;
};

struct pbuf_free_list {
	struct pbuf_free_node	*head;
	unsigned int		nr;
};

/* Buffer slots and ring ids with a direct lookup (struct pbuf_ctx). */
#define PBUF_FAST_SLOTS	16

/*
 * One open file of /dev/iouring-pbuf.
 *
 * Lifetime: the file holds one reference, every registered buffer and ring
 * holds one, so counters can be updated by an object that outlives the
 * file (a buffer still referenced by an in-flight operation).
 */
struct pbuf_ctx {
	struct kref		ref;

	/* Serializes setup: creating and destroying tables and rings. */
	struct mutex		setup_lock;

	/*
	 * The registered-buffer table: slot -> struct pbuf_regbuf, slots
	 * [0, nr_bufs) valid, a table registered when nr_bufs != 0. An
	 * xarray, so that a sparse table of 2^20 slots costs memory only for
	 * the slots filled (each pins and charges at least a page). The
	 * xarray's lock guards its slots, nr_bufs and nr_bufs_used; writers
	 * also hold setup_lock. The data path takes no lock: it reads
	 * nr_bufs (acquire) and the slot under RCU (pbuf_regbuf_get()).
	 */
	struct xarray		bufs;
	unsigned int		nr_bufs;
	unsigned int		nr_bufs_used;	/* occupied slots */

	/* bgid -> struct pbuf_ring; stores under setup_lock, loads under RCU. */
	struct xarray		rings;

	/*
	 * Slots [0, PBUF_FAST_SLOTS) of bufs and rings again, as plain
	 * arrays: the lookup a command makes (pbuf_regbuf_get(),
	 * pbuf_ring_get()) loads one pointer there instead of walking the
	 * xarray. Each is written together with its xarray slot, under the
	 * same locks, and read under RCU as that slot is.
	 */
	struct pbuf_regbuf __rcu *fast_bufs[PBUF_FAST_SLOTS];
	struct pbuf_ring __rcu	*fast_rings[PBUF_FAST_SLOTS];
	/* id -> kernel-owned struct pbuf_regbuf; lookups take a ref under xa_lock */
	struct xarray		kbufs;

	atomic_long_t		pinned_pages;
	atomic_long_t		charged_pages;
	atomic_t		inflight;

	/* Commands in flight (struct pbuf_op.ctx_node), for cancellation. */
	spinlock_t		op_lock;
	struct list_head	ops;

	/*
	 * Command objects and notifications of finished commands, for the
	 * next ones (module/ctx.c): steady-state commands allocate nothing.
	 * At most PBUF_CACHE_MAX of each; freed with the context.
	 */
	spinlock_t		cache_lock;
	struct pbuf_free_list	op_cache;
	struct pbuf_free_list	notif_cache;
	/*
	 * One more op, outside the lock: the op of a command that completed
	 * during its issue (the steady state of sends that the stack lets
	 * go of at once) comes back here and the next command takes it,
	 * with one atomic exchange each. Owned by whoever exchanged it out.
	 */
	struct pbuf_op		*hot_op;
};

/* Most cached objects of each kind per context. */
#define PBUF_CACHE_MAX	128

/*
 * A registered buffer: pinned user memory as folio runs. Immutable after
 * creation except for the reference count; freed (unpinned, uncharged)
 * when the table's reference and every in-flight user's are gone.
 */
struct pbuf_regbuf {
	refcount_t		refs;
	struct pbuf_ctx		*ctx;
	bool			kernel;		/* module-allocated pages (kbuf) */
	u64			ubuf;		/* user address at registration */
	struct pbuf_acct	acct;
	struct pbuf_runs	runs;
	struct rcu_head		rcu;	/* lookups run under RCU */
};

/*
 * Kernel-allocated ring memory. The ring and each mapping of it hold a
 * reference: the memory outlives an unregistered ring while mmap()ed, and
 * so does its charge, returned with the last reference (otherwise a user
 * could keep any amount of it mapped, charged to nobody).
 */
struct pbuf_ring_mem {
	refcount_t		refs;
	struct pbuf_ctx		*ctx;		/* counters; a reference */
	void			*va;
	size_t			size;
	struct pbuf_acct	acct;
};

/*
 * A provided-buffer ring. The entries live in memory the application
 * writes concurrently: see module/logic_ring.c for how it is read.
 */
struct pbuf_ring {
	refcount_t		refs;
	struct pbuf_ctx		*ctx;
	struct iopbuf_buf	*bufs;		/* kernel mapping of the ring */
	u32			mask;
	u32			min_left;
	u16			bgid;
	u16			flags;		/* IOPBUF_RING_* */
	u64			ring_addr;	/* user address, 0 for MMAP */

	/*
	 * io_lock makes select, transfer and commit one step, as io_uring's
	 * uring_lock does: commands sharing a ring consume it in order and
	 * never see each other's data. head is the kernel's head.
	 */
	struct mutex		io_lock;
	u16			head;
	/*
	 * A send still owning a partly sent selection (under io_lock): later
	 * sends wait on tx_wait until it is done, so data stays contiguous
	 * and leaves in ring order.
	 */
	struct pbuf_op		*tx_partial;
	struct wait_queue_head	tx_wait;

	/* user-provided memory: pinned pages and their vmap() */
	struct page		**pages;
	unsigned int		nr_pages;
	/* IOPBUF_RING_MMAP memory */
	struct pbuf_ring_mem	*mem;

	struct pbuf_acct	acct;
	struct rcu_head		rcu;
};

/*
 * Buffers one attempt of a command selected from a ring, imported into an
 * iterator. References on registered buffers are held until released.
 */
struct pbuf_bufsel {
	struct pbuf_ring	*ring;
	unsigned int		nr;
	unsigned int		max;
	unsigned int		nr_refs;
	struct iov_iter		iter;
	u64			bytes;		/* the entries' sum, as imported */
	/*
	 * Kept with a cached command object (module/ctx.c) and grown on
	 * demand: sel, iov and refs have room for cap entries each, and bv
	 * keeps the array it grew.
	 */
	unsigned int		cap;
	struct pbuf_sel		*sel;
	struct iovec		*iov;		/* user-address entries */
	struct pbuf_regbuf	**refs;		/* registered buffers used */
	struct pbuf_bvec_out	bv;		/* their segments */
};

/* What a commit consumed, for the completion. */
struct pbuf_commit {
	u16	bid;
	u16	nbufs;
	u16	flags;		/* IOPBUF_CQE_F_* */
};

struct pbuf_op;
struct pbuf_lend;

/*
 * What one kind of command does with its op (module/op.c runs them): one
 * const table per kind, given to pbuf_op_alloc().
 * @run: one attempt at the command's transfer, without blocking. Return:
 *	the result (and *res2, the second result word), -EAGAIN to wait
 *	for op->events on op->poll_file, or PBUF_OP_WAIT after
 *	pbuf_op_wait_external() or pbuf_op_park_on(): another event queues
 *	the next attempt.
 * @cancel: the result (and *res2) of a cancelled command; NULL for
 *	-ECANCELED.
 * @destroy: release what @run kept across attempts; may be NULL.
 */
struct pbuf_op_ops {
	int	(*run)(struct pbuf_op *op, u64 *res2);
	int	(*cancel)(struct pbuf_op *op, u64 *res2);
	void	(*destroy)(struct pbuf_op *op);
};

#define PBUF_OP_WAIT	INT_MIN

/*
 * A zero-copy send's notification: the ubuf_info the network stack
 * references from every skb holding our pages, and the buffer references
 * kept until it lets go of the last one.
 */
struct pbuf_notif {
	struct ubuf_info	uarg;
	/*
	 * lock guards op and done: the completion (any context) and the
	 * command detaching from it must agree on who frees the notif.
	 */
	spinlock_t		lock;
	struct pbuf_op		*op;		/* waiting command, or NULL */
	bool			done;
	bool			zc_used;
	bool			zc_copied;
	/*
	 * The command stopped waiting while the stack still held pages: the
	 * notif frees itself (pbuf_wq) and holds a context and a module
	 * reference until then. A notif its command frees needs neither:
	 * the command holds both.
	 */
	bool			detached;
	struct pbuf_ctx		*ctx;		/* its cache */
	struct pbuf_regbuf	**refs;
	unsigned int		nr_refs;
	unsigned int		refs_cap;	/* kept when cached */
	struct work_struct	work;
	/*
	 * The callback still holds n->lock for a moment after waking the
	 * command, which may complete and release the notif on another CPU
	 * at once. Released notifs go back to their context's cache and
	 * stay struct pbuf_notif, with lock and work initialized once and
	 * never again, so that unlock meets a valid lock even when a new
	 * send has reused n meanwhile (SLAB_TYPESAFE_BY_RCU reasoning). The
	 * memory itself is freed only after a grace period (the callback
	 * wakes and unlocks under rcu_read_lock(), pbuf_notif_done()), when
	 * the context goes.
	 */
	struct rcu_head		rcu;
	struct pbuf_free_node	cache_node;
};

/*
 * One wait-queue entry of a parked command. @head is cleared when the
 * queue goes away (POLLFREE) or the entry leaves it.
 */
struct pbuf_op_wait {
	struct wait_queue_entry	entry;		/* .private: the op */
	struct wait_queue_head	*head;
};

/*
 * A uring_cmd in flight: from issue to completion. Commands that must wait
 * park on their file's wait queue (a poll, as io_uring does) and retry
 * from task work when woken; see module/op.c for the state rules.
 */
struct pbuf_op {
	struct io_uring_cmd	*cmd;
	struct pbuf_ctx		*ctx;
	/* submitter, for the exit monitor; NULL without one */
	struct task_struct	*task;
	struct file		*file;		/* the fd the command acts on */
	struct file		*poll_file;	/* the file a wait is on */
	const struct pbuf_op_ops *ops;
	__poll_t		events;		/* what a wait is for */
	unsigned long		state;		/* PBUF_OP_* bits */

	unsigned int		nr_waits;	/* entries of waits[] in use */

	struct list_head	ctx_node;	/* ctx->ops, under ctx->op_lock */
	/* the exit monitor's list, under its lock; empty without one */
	struct list_head	monitor_node;

	/* command arguments, validated copies of the SQE payload */
	u16			bgid;
	u16			flags;
	u32			len;
	u32			msg_flags;

	/* send state across steps */
	struct socket		*sock;		/* op->file's */
	u8			phase;
	int			sent;
	struct pbuf_commit	commit;
	struct pbuf_notif	*notif;

	/*
	 * Everything above is zeroed when a cached op is reused. What
	 * follows is not: either it is set up whenever it is used, or it is
	 * kept for the object's next command.
	 */
	struct pbuf_free_node	cache_node;
	/*
	 * Up to two wait queues of the file a wait is on: pipes and ttys
	 * offer their read queue first and their write queue second, and a
	 * writer must hear the second (io_uring's double poll). An entry is
	 * set up when added (nr_waits), pt when the op arms.
	 */
	struct pbuf_op_wait	waits[2];
	poll_table		pt;
	/*
	 * The notification of this object's last zero-copy command, finished
	 * and kept for its next one: a send takes it without going through
	 * the context's cache. NULL when there is none.
	 */
	struct pbuf_notif	*spare_notif;
	/*
	 * LEND's chain state (module/lend.c), kept for this object's next
	 * LEND, which resets it; NULL until the object runs one.
	 */
	struct pbuf_lend	*lend;
	struct pbuf_bufsel	bs;
};

/* module/op.c */
#define PBUF_OP_NO_FILE	INT_MIN
struct pbuf_op *pbuf_op_alloc(struct io_uring_cmd *cmd,
			      const struct pbuf_op_ops *ops, int fd);
struct pbuf_op *pbuf_op_alloc_sel(struct io_uring_cmd *cmd,
				  const struct pbuf_op_ops *ops, int fd,
				  u16 bgid, bool bundle);
int pbuf_op_start(struct pbuf_op *op, unsigned int issue_flags);
void pbuf_op_free(struct pbuf_op *op);
int pbuf_op_cancel_all(struct pbuf_ctx *ctx);
void pbuf_op_cancel_cmd(struct io_uring_cmd *cmd);
int pbuf_file_rwf(struct file *file, __poll_t events, rwf_t *rwf,
		  size_t *max);
void pbuf_op_park_on(struct pbuf_op *op, struct wait_queue_head *head);
void pbuf_op_wait_external(struct pbuf_op *op);
void pbuf_op_wake_external(struct pbuf_op *op);
void pbuf_op_exit(void);

/* module/notif.c */
struct pbuf_notif *pbuf_notif_alloc(struct pbuf_op *op, unsigned int max_refs);
void pbuf_notif_flush(struct pbuf_notif *n);
bool pbuf_notif_flush_if_last(struct pbuf_notif *n);
bool pbuf_notif_detach(struct pbuf_notif *n);
void pbuf_notif_free(struct pbuf_notif *n);
void pbuf_op_notif_free(struct pbuf_op *op);
void pbuf_notif_wait_all(void);

/*
 * Hand the selection's buffer references to @n, which drops them when the
 * stack lets go. @n has room for all of them (pbuf_notif_alloc()).
 */
static inline void pbuf_notif_take_refs(struct pbuf_notif *n,
					struct pbuf_bufsel *bs)
{
	unsigned int i;

	if (WARN_ON_ONCE(n->nr_refs + bs->nr_refs > n->refs_cap))
		return;
	/* usually one: a loop is cheaper than a call to memcpy() */
	for (i = 0; i < bs->nr_refs; i++)
		n->refs[n->nr_refs++] = bs->refs[i];
	bs->nr_refs = 0;
}

/* Completion flags saying how a finished notification went. */
static inline u16 pbuf_notif_cqe_flags(const struct pbuf_notif *n)
{
	u16 flags = IOPBUF_CQE_F_ZC;

	/* as io_uring's REPORT_USAGE: nothing seen going out counts as copied */
	if (READ_ONCE(n->zc_copied) || !READ_ONCE(n->zc_used))
		flags |= IOPBUF_CQE_F_ZC_COPIED;
	return flags;
}

/* module/send.c */
int pbuf_skb_fill(struct sk_buff *skb, struct iov_iter *from, size_t length);
int pbuf_cmd_send(struct io_uring_cmd *cmd, const struct iopbuf_cmd_send *req,
		  unsigned int issue_flags);

/* module/bufsel.c */
int pbuf_bufsel_reserve(struct pbuf_bufsel *bs, unsigned int max);

/**
 * pbuf_bufsel_init - prepare to select up to @max entries of @ring
 * @bs: the selection state of a new or reused command object
 *	(pbuf_bufsel_setup()); takes over the caller's reference on @ring
 * @ring: the ring
 * @max: entries per attempt: 1, or the bundle limit
 *
 * Return: 0 or -ENOMEM; pbuf_bufsel_destroy() cleans up either way.
 */
static inline int pbuf_bufsel_init(struct pbuf_bufsel *bs,
				   struct pbuf_ring *ring, unsigned int max)
{
	bs->ring = ring;
	bs->max = max;
	bs->nr = 0;
	bs->nr_refs = 0;
	pbuf_bvec_out_reuse(&bs->bv);
	/* the arrays kept with the object are reused when large enough */
	return bs->cap >= max ? 0 : pbuf_bufsel_reserve(bs, max);
}

void pbuf_bufsel_setup(struct pbuf_bufsel *bs);
void pbuf_bufsel_free(struct pbuf_bufsel *bs);
int pbuf_bufsel_select(struct pbuf_bufsel *bs, u64 max_len, int dir);
void pbuf_bufsel_commit_inc(struct pbuf_bufsel *bs, u64 bytes,
			    struct pbuf_commit *c);

/**
 * pbuf_bufsel_commit - consume @bytes of the selection from the ring
 * @bs: selection state of a successful transfer
 * @bytes: bytes moved
 * @c: receives what the completion reports
 *
 * A ring without IOPBUF_RING_INC consumes every entry the bytes touched,
 * and that is the count the completion reports (pbuf_ring_bufs_used());
 * an INC ring is pbuf_bufsel_commit_inc()'s.
 */
static inline void pbuf_bufsel_commit(struct pbuf_bufsel *bs, u64 bytes,
				      struct pbuf_commit *c)
{
	struct pbuf_ring *ring = bs->ring;

	lockdep_assert_held(&ring->io_lock);
	if (ring->flags & IOPBUF_RING_INC) {
		pbuf_bufsel_commit_inc(bs, bytes, c);
		return;
	}
	c->bid = bs->sel[0].bid;
	/*
	 * A transfer of all the selection holds touched every entry up to
	 * the last that holds bytes: all of them when that is the last one,
	 * without a walk (a bundle's usual end).
	 */
	if (bytes == bs->bytes && bs->sel[bs->nr - 1].len)
		c->nbufs = bs->nr;
	else
		c->nbufs = pbuf_ring_bufs_used(bs->sel, bs->nr, bytes);
	c->flags = IOPBUF_CQE_F_BUFFER;
	ring->head += c->nbufs;
}

/* module/recv.c */
int pbuf_cmd_recv(struct io_uring_cmd *cmd, const struct iopbuf_cmd_recv *req,
		  unsigned int issue_flags, bool is_read);

/* module/ctx.c */
struct pbuf_ctx *pbuf_ctx_create(void);
void pbuf_ctx_release(struct kref *ref);
struct pbuf_op *pbuf_ctx_op_get_cached(struct pbuf_ctx *ctx);
void pbuf_ctx_op_put_cached(struct pbuf_ctx *ctx, struct pbuf_op *op);
struct pbuf_notif *pbuf_ctx_notif_get(struct pbuf_ctx *ctx);
void pbuf_ctx_notif_put(struct pbuf_ctx *ctx, struct pbuf_notif *n);

/*
 * Every object a context owns holds a reference on it. Inline, so that
 * those objects (buffers, rings, commands) need only this header, not the
 * file that creates and frees contexts.
 */
static inline void pbuf_ctx_get(struct pbuf_ctx *ctx)
{
	kref_get(&ctx->ref);
}

static inline void pbuf_ctx_put(struct pbuf_ctx *ctx)
{
	kref_put(&ctx->ref, pbuf_ctx_release);
}

/*
 * A command object, zeroed up to cache_node (see struct pbuf_op): the
 * context's hot op when there is one, which the last command that
 * completed during its issue left with one atomic exchange, else one from
 * the cache or a new one (NULL: -ENOMEM).
 */
static inline struct pbuf_op *pbuf_ctx_op_get(struct pbuf_ctx *ctx)
{
	/* a full barrier: sees all the last owner wrote */
	struct pbuf_op *op = xchg(&ctx->hot_op, NULL);

	if (unlikely(!op))
		return pbuf_ctx_op_get_cached(ctx);
	memset(op, 0, offsetof(struct pbuf_op, cache_node));
	return op;
}

static inline void pbuf_ctx_op_put(struct pbuf_ctx *ctx, struct pbuf_op *op)
{
	/* a full barrier when it succeeds: the next owner sees our writes */
	if (unlikely(cmpxchg(&ctx->hot_op, NULL, op)))
		pbuf_ctx_op_put_cached(ctx, op);
}

/* module/acct.c */
int pbuf_acct_charge(struct pbuf_ctx *ctx, struct pbuf_acct *acct,
		     unsigned long pages);
void pbuf_acct_pinned(struct pbuf_ctx *ctx, struct pbuf_acct *acct, long pages);
void pbuf_acct_release(struct pbuf_ctx *ctx, struct pbuf_acct *acct);

/* module/pin.c */
int pbuf_pin_check_vmas(unsigned long start, unsigned long len);
int pbuf_pin_pages(unsigned long start, unsigned int nr, struct page **pages);

/* module/regbuf.c */
int pbuf_regbuf_register(struct pbuf_ctx *ctx, void __user *arg);
int pbuf_regbuf_update(struct pbuf_ctx *ctx, void __user *arg);
int pbuf_regbuf_unregister_all(struct pbuf_ctx *ctx);
void pbuf_regbuf_release_all(struct pbuf_ctx *ctx);
struct pbuf_regbuf *pbuf_regbuf_alloc(struct pbuf_ctx *ctx);
struct pbuf_regbuf *pbuf_regbuf_get(struct pbuf_ctx *ctx, u32 index);
void pbuf_regbuf_free(struct pbuf_regbuf *buf);

/*
 * The puts of the hot path are inline. The last reference frees, which may
 * sleep (unpinning, vfree), so every put must be made where sleeping is
 * allowed: __might_sleep() checks that on debug kernels, without the
 * rescheduling point might_sleep() would add to every command.
 */
static inline void pbuf_regbuf_put(struct pbuf_regbuf *buf)
{
	__might_sleep(__FILE__, __LINE__);
	if (refcount_dec_and_test(&buf->refs))
		pbuf_regbuf_free(buf);
}

/* Drop what the last selection imported; the entries stay selected. */
static inline void pbuf_bufsel_release(struct pbuf_bufsel *bs)
{
	while (bs->nr_refs)
		pbuf_regbuf_put(bs->refs[--bs->nr_refs]);
	pbuf_bvec_out_reuse(&bs->bv);
}

/* module/kbuf.c */
int pbuf_kbuf_alloc_ioctl(struct pbuf_ctx *ctx, void __user *arg);
int pbuf_kbuf_free_ioctl(struct pbuf_ctx *ctx, void __user *arg);
struct pbuf_regbuf *pbuf_kbuf_get(struct pbuf_ctx *ctx, u32 id);
void pbuf_kbuf_free_all(struct pbuf_ctx *ctx);

/* module/lend.c */
int pbuf_cmd_lend(struct io_uring_cmd *cmd, const struct iopbuf_cmd_lend *req,
		  unsigned int issue_flags, u64 *res2);
void pbuf_regbuf_show(struct seq_file *m, struct pbuf_ctx *ctx);

/* module/ring.c */
int pbuf_ring_register(struct pbuf_ctx *ctx, void __user *arg);
int pbuf_ring_unregister(struct pbuf_ctx *ctx, void __user *arg);
int pbuf_ring_status(struct pbuf_ctx *ctx, void __user *arg);
void pbuf_ring_unregister_all(struct pbuf_ctx *ctx);
int pbuf_ring_mmap(struct pbuf_ctx *ctx, struct vm_area_struct *vma);
struct pbuf_ring *pbuf_ring_get(struct pbuf_ctx *ctx, u16 bgid);
void pbuf_ring_free(struct pbuf_ring *ring);

/* As pbuf_regbuf_put(): the last reference may sleep. */
static inline void pbuf_ring_put(struct pbuf_ring *ring)
{
	__might_sleep(__FILE__, __LINE__);
	if (refcount_dec_and_test(&ring->refs))
		pbuf_ring_free(ring);
}

/* The command is done with the ring; the arrays stay for the next one. */
static inline void pbuf_bufsel_destroy(struct pbuf_bufsel *bs)
{
	pbuf_bufsel_release(bs);
	pbuf_ring_put(bs->ring);
	bs->ring = NULL;
}

void pbuf_ring_show(struct seq_file *m, struct pbuf_ctx *ctx);

/*
 * Snapshot up to @max entries from the head of @ring, @max_len bytes at
 * most (0: no limit), into @sel: the one place that reads the tail, for
 * buffer selection and lending alike. Nothing is consumed; the caller
 * holds io_lock until it moves the head.
 * Return: entries selected, or -ENOBUFS (see pbuf_ring_peek()).
 */
static inline int pbuf_ring_select(struct pbuf_ring *ring, u64 max_len,
				   unsigned int max, struct pbuf_sel *sel)
{
	/* pairs with the application's release store of the tail */
	u16 tail = smp_load_acquire(&ring->bufs[0].resv);

	lockdep_assert_held(&ring->io_lock);
	return pbuf_ring_peek(ring->bufs, ring->mask, ring->head, tail,
			      max_len, max, ring->flags & IOPBUF_RING_INC, sel);
}

/* module/probe.c */
void pbuf_probe_fill(struct iopbuf_probe *p);
int pbuf_probe_ioctl(void __user *arg);

/* module/cmd.c */
int pbuf_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);

/* module/op.c: trace, then post the completion */
void pbuf_cmd_done(struct io_uring_cmd *cmd, s32 res, u64 res2,
		   unsigned int issue_flags);

/* module/main.c */
extern const struct file_operations pbuf_fops;

#endif /* _PBUF_H */
