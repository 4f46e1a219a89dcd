// SPDX-License-Identifier: GPL-2.0
/*
 * Commands in flight: issue, waiting, retry, cancellation, completion.
 *
 * A command first runs its transfer without blocking, in the issuing task.
 * When that would block, it parks: a wait-queue entry on its file's poll
 * head, as io_uring's own poll does, so no thread sleeps per command. The
 * wake-up (often in softirq) only unhooks the entry and queues task work;
 * the retry runs in the submitting task, where user memory is reachable.
 * Completion is posted from task work or from the issue itself, never from
 * the wake-up.
 *
 * State rules (op->state):
 *  - PBUF_OP_ARMED is set while the op is parked, only once its entries
 *    are on their wait queues. Whoever clears it (wake-up, cancel, or the
 *    arming code finding the file ready) owns the op: it queues the next
 *    step (or, the arming code, runs it), and that step unhooks whatever
 *    entries are left before anything else.
 *  - PBUF_OP_CANCEL asks the next step to complete with -ECANCELED. A step
 *    of the op is running or queued whenever ARMED is clear, so setting the
 *    bit is enough unless the op is parked, in which case the canceller
 *    clears ARMED and queues the step itself.
 *  - Steps of one op never run concurrently: they run in the submitting
 *    task (or io_uring's fallback worker once that task is gone), one task
 *    work at a time; a command issued from io-wq starts there too.
 *
 * Exit: io_uring from 6.7 asks cancelable commands to cancel (ring or task
 * exit, exec). 6.1 never does, and a parked command would make the exiting
 * or exec()ing task (or the closed ring's exit work) wait forever, so a
 * monitor checks the waiting commands for a submitter with PF_EXITING, a
 * submitter whose io_uring is cancelling its requests (exit and exec both
 * do: pbuf_cmd_task_cancelling()), or a ring being torn down, and cancels
 * them.
 */
#include <linux/file.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "pbuf.h"
#include "pbuf_trace.h"

enum {
	PBUF_OP_ARMED,
	PBUF_OP_CANCEL,
};

/* Steps run back to back before yielding to other task work. */
#define PBUF_OP_MAX_SPINS	8
/* How often the exit monitor looks at waiting commands. */
#define PBUF_MONITOR_PERIOD	(HZ / 20)

/* Every op in flight, for the exit monitor. */
static DEFINE_SPINLOCK(pbuf_ops_lock);
static LIST_HEAD(pbuf_ops);
static void pbuf_monitor_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(pbuf_monitor, pbuf_monitor_fn);

static void pbuf_op_unhook(struct pbuf_op *op);
static void pbuf_monitor_del(struct pbuf_op *op);

static struct pbuf_op **pbuf_cmd_op(struct io_uring_cmd *cmd)
{
	BUILD_BUG_ON(sizeof(struct pbuf_op *) > sizeof(cmd->pdu));
	return (struct pbuf_op **)cmd->pdu;
}

/* pbuf_op_alloc(), inline in the selecting commands' pbuf_op_alloc_sel() */
static __always_inline struct pbuf_op *
__pbuf_op_alloc(struct io_uring_cmd *cmd, const struct pbuf_op_ops *ops, int fd)
{
	struct pbuf_ctx *ctx = cmd->file->private_data;
	struct pbuf_op *op;

	op = pbuf_ctx_op_get(ctx);
	if (!op)
		return ERR_PTR(-ENOMEM);
	op->ops = ops;
	/* PBUF_OP_NO_FILE is ours alone: callers reject negative user fds */
	if (fd != PBUF_OP_NO_FILE) {
		op->file = fget(fd);
		if (!op->file) {
			pbuf_ctx_op_put(ctx, op);
			return ERR_PTR(-EBADF);
		}
	}
	op->poll_file = op->file;
	op->cmd = cmd;
	/*
	 * No context reference: the op ends before its command completes,
	 * and io_uring holds the command's file (whose release drops the
	 * context) until then.
	 */
	op->ctx = ctx;
	INIT_LIST_HEAD(&op->ctx_node);
	INIT_LIST_HEAD(&op->monitor_node);
	*pbuf_cmd_op(cmd) = op;
	return op;
}

/**
 * pbuf_op_alloc - a new command in flight
 * @cmd: the uring_cmd
 * @ops: what this kind of command does
 * @fd: the file descriptor the command acts on, or PBUF_OP_NO_FILE for a
 *	command that manages its files itself
 *
 * Return: the op, or ERR_PTR(-EBADF, -ENOMEM).
 */
struct pbuf_op *pbuf_op_alloc(struct io_uring_cmd *cmd,
			      const struct pbuf_op_ops *ops, int fd)
{
	return __pbuf_op_alloc(cmd, ops, fd);
}

/**
 * pbuf_op_alloc_sel - a new command that selects from a provided-buffer ring
 * @cmd: the uring_cmd
 * @ops: what this kind of command does
 * @fd: the file descriptor it transfers on, from the application
 * @bgid: the ring
 * @bundle: whether one attempt may take several entries
 *
 * Return: the op with its selection prepared (op->bs), or ERR_PTR(-EBADF,
 * also for a negative @fd; -ENOENT for no such ring; -ENOMEM).
 */
struct pbuf_op *pbuf_op_alloc_sel(struct io_uring_cmd *cmd,
				  const struct pbuf_op_ops *ops, int fd,
				  u16 bgid, bool bundle)
{
	struct pbuf_ring *ring;
	struct pbuf_op *op;
	int ret = -ENOENT;

	/* PBUF_OP_NO_FILE is negative too: never taken from the application */
	if (fd < 0)
		return ERR_PTR(-EBADF);
	op = __pbuf_op_alloc(cmd, ops, fd);
	if (IS_ERR(op))
		return op;
	ring = pbuf_ring_get(op->ctx, bgid);
	if (ring)
		ret = pbuf_bufsel_init(&op->bs, ring, bundle ?
				       PBUF_MAX_BUNDLE_BUFS : 1);
	if (ret) {
		pbuf_op_free(op);
		return ERR_PTR(ret);
	}
	return op;
}

void pbuf_op_free(struct pbuf_op *op)
{
	struct pbuf_ctx *ctx = op->ctx;

	if (!list_empty(&op->ctx_node)) {
		spin_lock(&ctx->op_lock);
		list_del(&op->ctx_node);
		/* a cancel from io_uring finds no op from now on */
		*pbuf_cmd_op(op->cmd) = NULL;
		spin_unlock(&ctx->op_lock);
		atomic_dec(&ctx->inflight);
		pbuf_stat_add(inflight, -1);
	}
	pbuf_monitor_del(op);
	/* nothing is hooked by now; stay safe if a path forgot */
	pbuf_op_unhook(op);
	if (op->ops->destroy)
		op->ops->destroy(op);
	if (op->bs.ring)
		pbuf_bufsel_destroy(&op->bs);
	if (op->file)
		fput(op->file);
	/* the command's file keeps the context alive (pbuf_op_alloc()) */
	pbuf_ctx_op_put(ctx, op);
}

/*
 * The one place every completion goes through (commands that never
 * started included, module/cmd.c), so that each is traced exactly once.
 */
void pbuf_cmd_done(struct io_uring_cmd *cmd, s32 res, u64 res2,
		   unsigned int issue_flags)
{
	trace_iopbuf_cmd_complete(cmd, res, res2);
	pbuf_cmd_post(cmd, res, res2, issue_flags);
}

static void pbuf_op_complete(struct pbuf_op *op, int res, u64 res2,
			     unsigned int issue_flags)
{
	struct io_uring_cmd *cmd = op->cmd;

	pbuf_op_free(op);
	pbuf_cmd_done(cmd, res, res2, issue_flags);
}

static __always_inline bool pbuf_op_run(struct pbuf_op *op,
					unsigned int issue_flags);

static void pbuf_op_tw_fn(struct io_uring_cmd *cmd, unsigned int issue_flags,
			  bool dead)
{
	struct pbuf_op *op = *pbuf_cmd_op(cmd);

	/* No user memory and no retries once the submitter is going away. */
	if (dead || current->flags & (PF_EXITING | PF_KTHREAD))
		set_bit(PBUF_OP_CANCEL, &op->state);
	pbuf_op_run(op, issue_flags);
}

PBUF_TW_CB(pbuf_op_tw, pbuf_op_tw_fn)

static void pbuf_op_queue_step(struct pbuf_op *op)
{
	io_uring_cmd_complete_in_task(op->cmd, pbuf_op_tw);
}

/*
 * Take every entry off its wait queue. Run by the op's owner: a step, or
 * whoever cleared ARMED. A wake-up removes its own entry only (it holds
 * that queue's lock, not the other's), so the step it queues removes the
 * rest first.
 */
static void pbuf_op_unhook(struct pbuf_op *op)
{
	unsigned long flags;
	unsigned int i;

	if (!op->nr_waits)
		return;
	/* the users of wake_up_pollfree() free the queue after a grace period */
	rcu_read_lock();
	for (i = 0; i < op->nr_waits; i++) {
		struct pbuf_op_wait *w = &op->waits[i];
		/* pairs with the release in pbuf_op_wake() on POLLFREE */
		struct wait_queue_head *head = smp_load_acquire(&w->head);

		if (!head)
			continue;
		spin_lock_irqsave(&head->lock, flags);
		list_del_init(&w->entry.entry);
		w->head = NULL;
		spin_unlock_irqrestore(&head->lock, flags);
	}
	rcu_read_unlock();
	op->nr_waits = 0;
}

static int pbuf_op_wake(struct wait_queue_entry *wait, unsigned int mode,
			int sync, void *key)
{
	struct pbuf_op_wait *w = container_of(wait, struct pbuf_op_wait, entry);
	struct pbuf_op *op = wait->private;
	__poll_t mask = key_to_poll(key);

	/* called with the wait-queue lock held */
	if (unlikely(mask & POLLFREE)) {
		/*
		 * The queue is going away with its file: leave it whoever
		 * owns the op, and stop waiting on that file.
		 */
		set_bit(PBUF_OP_CANCEL, &op->state);
		list_del_init(&wait->entry);
		/* pairs with the acquire in pbuf_op_unhook() */
		smp_store_release(&w->head, NULL);
	} else if (mask && !(mask & (op->events | EPOLLERR | EPOLLHUP))) {
		return 0;
	}
	if (!test_and_clear_bit(PBUF_OP_ARMED, &op->state))
		return 0;
	list_del_init(&wait->entry);
	pbuf_op_queue_step(op);
	return 1;
}

static void pbuf_op_add_wait(struct pbuf_op *op, struct wait_queue_head *head)
{
	struct pbuf_op_wait *w = &op->waits[op->nr_waits++];

	init_waitqueue_func_entry(&w->entry, pbuf_op_wake);
	w->entry.private = op;
	w->head = head;
	add_wait_queue(head, &w->entry);
}

static void pbuf_op_queue_proc(struct file *file, struct wait_queue_head *head,
			       poll_table *pt)
{
	struct pbuf_op *op = container_of(pt, struct pbuf_op, pt);

	/* two are enough: a read queue and a write queue */
	if (op->nr_waits < ARRAY_SIZE(op->waits))
		pbuf_op_add_wait(op, head);
}

/*
 * Park on the file's wait queues. The entries are hooked first and ARMED
 * set after, so nobody unhooks them half-hooked; an event in between
 * found ARMED clear and woke nobody, hence the second look at the file.
 * A step is never concurrent with another (see pbuf_op_start()), so the
 * op stays valid here even when a wake-up or cancel takes it at once.
 *
 * Return: 0 parked (a wake-up or cancel will queue the next step), 1 the
 * file is ready or the op was cancelled meanwhile: run the next step now,
 * -EOPNOTSUPP the file cannot be waited on.
 */
static int pbuf_op_arm(struct pbuf_op *op)
{
	__poll_t events = op->events | EPOLLERR | EPOLLHUP;
	__poll_t mask;

	init_poll_funcptr(&op->pt, pbuf_op_queue_proc);
	mask = vfs_poll(op->poll_file, &op->pt) & events;
	if (!op->nr_waits)
		return mask ? 1 : -EOPNOTSUPP;
	if (!mask) {
		set_bit(PBUF_OP_ARMED, &op->state);
		/* ARMED before reading CANCEL: pairs with pbuf_op_cancel() */
		smp_mb__after_atomic();
		mask = vfs_poll(op->poll_file, NULL) & events;
		if (!mask && !test_bit(PBUF_OP_CANCEL, &op->state))
			return 0;
		if (!test_and_clear_bit(PBUF_OP_ARMED, &op->state))
			return 0;	/* a wake-up or cancel took it */
	}
	pbuf_op_unhook(op);
	return 1;
}

/*
 * One or more steps: try the transfer, complete, or park.
 * Return: true when the op completed (it is freed), false when it waits.
 */
static __always_inline bool pbuf_op_run(struct pbuf_op *op,
					unsigned int issue_flags)
{
	unsigned int spins = 0;
	u64 res2 = 0;
	int ret;

	/* what a wake-up left hooked: this step owns the op now */
	pbuf_op_unhook(op);
	for (;;) {
		if (test_bit(PBUF_OP_CANCEL, &op->state)) {
			ret = op->ops->cancel ? op->ops->cancel(op, &res2) :
						-ECANCELED;
			break;
		}
		ret = op->ops->run(op, &res2);
		if (ret == PBUF_OP_WAIT)
			return false;
		if (ret != -EAGAIN)
			break;
		ret = pbuf_op_arm(op);
		if (!ret)
			return false;	/* parked */
		if (ret < 0) {
			res2 = 0;	/* the file cannot be waited on */
			break;
		}
		if (++spins == PBUF_OP_MAX_SPINS) {
			/* ready but not progressing: let other work run first */
			pbuf_op_queue_step(op);
			return false;
		}
	}
	pbuf_op_complete(op, ret, res2, issue_flags);
	return true;
}

/*
 * The exit monitor's bookkeeping: where io_uring can ask a command to
 * cancel (pbuf_need_exit_monitor() is false), both compile to nothing and
 * no command touches the global list, its lock or a task reference.
 */
static void pbuf_monitor_add(struct pbuf_op *op)
{
	bool first;

	if (!pbuf_need_exit_monitor())
		return;
	op->task = get_task_struct(pbuf_cmd_task(op->cmd));
	spin_lock(&pbuf_ops_lock);
	first = list_empty(&pbuf_ops);
	list_add_tail(&op->monitor_node, &pbuf_ops);
	spin_unlock(&pbuf_ops_lock);
	if (first)
		schedule_delayed_work(&pbuf_monitor, PBUF_MONITOR_PERIOD);
}

static void pbuf_monitor_del(struct pbuf_op *op)
{
	if (!pbuf_need_exit_monitor())
		return;
	if (!list_empty(&op->monitor_node)) {
		spin_lock(&pbuf_ops_lock);
		list_del_init(&op->monitor_node);
		spin_unlock(&pbuf_ops_lock);
	}
	if (op->task) {
		put_task_struct(op->task);
		op->task = NULL;
	}
}

/*
 * The op outlives its issue: make it findable by whoever may have to
 * cancel it (IOPBUF_IOC_CANCEL, io_uring's cancel, the exit monitor) and
 * count it in flight. An op that completes during its issue never needs
 * any of this, so it is done only then (see pbuf_op_start()).
 */
static void pbuf_op_track(struct pbuf_op *op, unsigned int issue_flags)
{
	struct pbuf_ctx *ctx = op->ctx;

	atomic_inc(&ctx->inflight);
	pbuf_stat_add(inflight, 1);
	spin_lock(&ctx->op_lock);
	list_add_tail(&op->ctx_node, &ctx->ops);
	spin_unlock(&ctx->op_lock);
	pbuf_monitor_add(op);
	pbuf_cmd_mark_cancelable(op->cmd, issue_flags);
}

/**
 * pbuf_op_start - run a prepared command from its ->uring_cmd() issue
 * @op: the command, with its events and arguments set
 * @issue_flags: as io_uring passed them
 *
 * Return: -EIOCBQUEUED; the completion is posted with pbuf_cmd_done().
 */
int pbuf_op_start(struct pbuf_op *op, unsigned int issue_flags)
{
	/*
	 * Issued from io-wq (IOSQE_ASYNC, or a punt), the first step would
	 * run in the worker while a wake-up could queue the next one to the
	 * submitting task: start in the submitting task instead, so steps
	 * of one op never run concurrently.
	 */
	if (current->flags & PF_IO_WORKER) {
		pbuf_op_track(op, issue_flags);
		pbuf_op_queue_step(op);
		return -EIOCBQUEUED;
	}
	/*
	 * Issued by the submitting task: the op's next step, if it parks,
	 * is task work of this very task, which cannot run before this
	 * issue returns, and nothing else can find the op before it is
	 * tracked. So the op is tracked only when it is still in flight
	 * after its first step; one that completed at once (a UDP send, a
	 * receive with data waiting) pays for none of it.
	 */
	if (!pbuf_op_run(op, issue_flags))
		pbuf_op_track(op, issue_flags);
	return -EIOCBQUEUED;
}

/*
 * Ask @op to complete with -ECANCELED. A parked op gets its next step
 * queued, which unhooks it; a running one sees the bit at its next look.
 * Return: whether this call asked.
 */
static bool pbuf_op_cancel(struct pbuf_op *op)
{
	if (test_and_set_bit(PBUF_OP_CANCEL, &op->state))
		return false;
	trace_iopbuf_cmd_cancel(op->cmd);
	if (test_and_clear_bit(PBUF_OP_ARMED, &op->state))
		pbuf_op_queue_step(op);
	return true;
}

/*
 * Wait on @head, a wait queue of the module's own, until a wake_up() on it
 * or a cancel. The caller checks its condition and calls this under the
 * lock the waker takes to change it, so no wake-up is lost.
 */
void pbuf_op_park_on(struct pbuf_op *op, struct wait_queue_head *head)
{
	pbuf_op_add_wait(op, head);
	set_bit(PBUF_OP_ARMED, &op->state);
}

/**
 * pbuf_file_rwf - how to read or write @file now without blocking
 * @file: the file
 * @events: EPOLLIN to read, EPOLLOUT to write
 * @rwf: receives the flags for vfs_iter_read() / vfs_iter_write()
 * @max: receives the most bytes the transfer may move: SIZE_MAX, or less
 *	where a larger one could wait
 *
 * Files that cannot be polled (regular files, /dev/null) are read and
 * written inline, as pread(2) and pwrite(2) would. Pollable files opened
 * O_NONBLOCK, or supporting RWF_NOWAIT (sockets, pipes from 6.3), never
 * wait. The others (pipes on 6.1, FIFOs, ttys) are asked for readiness
 * first; then
 *  - a read returns what is there without waiting;
 *  - a write to a pipe or FIFO is cut to one page, which a pipe with a
 *    free slot (what EPOLLOUT means for it) takes whole;
 *  - a write to any other such file could wait for room however little
 *    it asks for, so it is refused: such files must be opened O_NONBLOCK.
 * Another writer (or reader) racing for the same pipe between the check
 * and the transfer can still make it wait, as write(2) and read(2) would.
 *
 * Return: 0 (go ahead with *@rwf and *@max), -EAGAIN (wait for @events),
 * or -EOPNOTSUPP (a write that cannot be made without blocking).
 */
int pbuf_file_rwf(struct file *file, __poll_t events, rwf_t *rwf,
		  size_t *max)
{
	*rwf = 0;
	*max = SIZE_MAX;
	if (!file_can_poll(file) || file->f_flags & O_NONBLOCK)
		return 0;
	if (file->f_mode & FMODE_NOWAIT) {
		*rwf = RWF_NOWAIT;
		return 0;
	}
	if (events & EPOLLOUT) {
		if (!S_ISFIFO(file_inode(file)->i_mode))
			return -EOPNOTSUPP;
		*max = PAGE_SIZE;
	}
	if (vfs_poll(file, NULL) & (events | EPOLLERR | EPOLLHUP))
		return 0;
	return -EAGAIN;
}

/*
 * Wait for an event other than the file's readiness: the op is parked (ARMED
 * with no wait queue) until pbuf_op_wake_external() or a cancel.
 */
void pbuf_op_wait_external(struct pbuf_op *op)
{
	set_bit(PBUF_OP_ARMED, &op->state);
}

/* The external event happened: queue the next step, if it is still waited for. */
void pbuf_op_wake_external(struct pbuf_op *op)
{
	if (test_and_clear_bit(PBUF_OP_ARMED, &op->state))
		pbuf_op_queue_step(op);
}

/* IOPBUF_IOC_CANCEL. Return: how many commands were asked to cancel. */
int pbuf_op_cancel_all(struct pbuf_ctx *ctx)
{
	struct pbuf_op *op;
	int n = 0;

	spin_lock(&ctx->op_lock);
	list_for_each_entry(op, &ctx->ops, ctx_node)
		n += pbuf_op_cancel(op);
	spin_unlock(&ctx->op_lock);
	return n;
}

/*
 * io_uring's cancel request (IO_URING_F_CANCEL, 6.7+). The pdu is read
 * under op_lock: a completion racing with the cancel clears it there
 * before freeing the op.
 */
void pbuf_op_cancel_cmd(struct io_uring_cmd *cmd)
{
	struct pbuf_ctx *ctx = cmd->file->private_data;
	struct pbuf_op *op;

	spin_lock(&ctx->op_lock);
	op = *pbuf_cmd_op(cmd);
	if (op)
		pbuf_op_cancel(op);
	spin_unlock(&ctx->op_lock);
}

static void pbuf_monitor_fn(struct work_struct *work)
{
	struct pbuf_op *op;
	bool again;

	spin_lock(&pbuf_ops_lock);
	list_for_each_entry(op, &pbuf_ops, monitor_node) {
		if (READ_ONCE(op->task->flags) & PF_EXITING ||
		    pbuf_cmd_task_cancelling(op->cmd) ||
		    pbuf_cmd_ring_dying(op->cmd))
			pbuf_op_cancel(op);
	}
	again = !list_empty(&pbuf_ops);
	spin_unlock(&pbuf_ops_lock);
	if (again)
		schedule_delayed_work(&pbuf_monitor, PBUF_MONITOR_PERIOD);
}

/* Module exit: no op can exist (each holds the device file open). */
void pbuf_op_exit(void)
{
	cancel_delayed_work_sync(&pbuf_monitor);
}
