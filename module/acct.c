// SPDX-License-Identifier: GPL-2.0
/*
 * Pinned-memory accounting against RLIMIT_MEMLOCK.
 *
 * Like io_uring and RDMA, pages are charged to the registering user's
 * locked_vm and checked against the registering task's RLIMIT_MEMLOCK,
 * unless that task has CAP_IPC_LOCK. Each buffer and ring remembers whom
 * it charged, so the charge is returned to the right user even when the
 * object is freed from another task.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>

#include "pbuf.h"

static void pbuf_acct_count_charged(struct pbuf_ctx *ctx, long pages)
{
	atomic_long_add(pages, &ctx->charged_pages);
	atomic_long_add(pages, &pbuf_global.charged_pages);
}

/* Charge @pages to the calling user's locked_vm, within RLIMIT_MEMLOCK. */
static int pbuf_acct_charge_user(struct pbuf_ctx *ctx, struct pbuf_acct *acct,
				 unsigned long pages)
{
	unsigned long limit, cur, new;
	struct user_struct *user;

	if (capable(CAP_IPC_LOCK))
		return 0;

	limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	user = current_user();
	cur = atomic_long_read(&user->locked_vm);
	do {
		if (check_add_overflow(cur, pages, &new) || new > limit)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));

	acct->user = get_uid(user);
	acct->charged = pages;
	pbuf_acct_count_charged(ctx, pages);
	return 0;
}

/**
 * pbuf_acct_charge - charge @pages pages to the calling user and process
 * @ctx: context whose counters show the charge
 * @acct: the object's accounting record, to remember the charge; charged
 *	at most once
 * @pages: pages to charge
 *
 * Return: 0, or -ENOMEM when the charge would exceed RLIMIT_MEMLOCK (then
 * nothing is charged).
 */
int pbuf_acct_charge(struct pbuf_ctx *ctx, struct pbuf_acct *acct,
		     unsigned long pages)
{
	int ret = pbuf_acct_charge_user(ctx, acct, pages);

	if (ret || !current->mm)
		return ret;
	mmgrab(current->mm);
	acct->mm = current->mm;
	acct->vm_pages = pages;
	atomic64_add(pages, &acct->mm->pinned_vm);
	return 0;
}

/* Count @pages (negative to drop) as pinned by @acct's object. */
void pbuf_acct_pinned(struct pbuf_ctx *ctx, struct pbuf_acct *acct, long pages)
{
	acct->pinned += pages;
	atomic_long_add(pages, &ctx->pinned_pages);
	atomic_long_add(pages, &pbuf_global.pinned_pages);
}

/* Return the charge; the caller has unpinned everything already. */
void pbuf_acct_release(struct pbuf_ctx *ctx, struct pbuf_acct *acct)
{
	WARN_ON_ONCE(acct->pinned);
	if (acct->mm) {
		atomic64_sub(acct->vm_pages, &acct->mm->pinned_vm);
		mmdrop(acct->mm);
		acct->mm = NULL;
		acct->vm_pages = 0;
	}
	if (!acct->user)
		return;
	atomic_long_sub(acct->charged, &acct->user->locked_vm);
	pbuf_acct_count_charged(ctx, -(long)acct->charged);
	free_uid(acct->user);
	acct->user = NULL;
	acct->charged = 0;
}
