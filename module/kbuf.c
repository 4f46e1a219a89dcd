// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel-owned buffers: pages the module allocates and never maps to user
 * space, usable only as lent buffers (lend.c). They are struct pbuf_regbuf
 * like registered buffers, with the pages allocated rather than pinned, so
 * bvec import, references and accounting work the same; each run is one
 * folio we allocated (as large as the allocator gives cheaply).
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "pbuf.h"

/* Largest folio tried first: 2 MiB on x86-64. */
#define PBUF_KBUF_MAX_ORDER	9

/*
 * Allocate one folio of at most @order, falling back to smaller ones. Never
 * the OOM killer: these pages belong to no process it could choose, so it
 * would kill bystanders; a failure is -ENOMEM for the caller instead.
 */
static struct page *pbuf_kbuf_alloc_folio(unsigned int *order)
{
	for (;;) {
		gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO |
			    __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
		struct page *page;

		if (*order)
			gfp = (gfp & ~__GFP_RETRY_MAYFAIL) | __GFP_COMP |
			      __GFP_NORETRY;
		page = alloc_pages(gfp, *order);
		if (page || !*order)
			return page;
		(*order)--;
	}
}

static int pbuf_kbuf_fill(struct pbuf_regbuf *buf, unsigned long nr_pages)
{
	unsigned long done = 0;

	buf->runs.bv = kvmalloc_array(nr_pages, sizeof(*buf->runs.bv),
				      GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL |
				      __GFP_NOWARN);
	buf->runs.start = kvmalloc_array(nr_pages, sizeof(*buf->runs.start),
					 GFP_KERNEL_ACCOUNT |
					 __GFP_RETRY_MAYFAIL | __GFP_NOWARN);
	if (!buf->runs.bv || !buf->runs.start)
		return -ENOMEM;
	buf->runs.cap = nr_pages;

	while (done < nr_pages) {
		unsigned int order = min_t(unsigned int, PBUF_KBUF_MAX_ORDER,
					   ilog2(nr_pages - done));
		struct page *page;
		unsigned long i;

		if (fatal_signal_pending(current))
			return -EINTR;
		page = pbuf_kbuf_alloc_folio(&order);
		if (!page)
			return -ENOMEM;
		/* one run per folio, starting at its head: see pbuf_regbuf_unpin() */
		for (i = 0; i < (1UL << order); i++)
			WARN_ON_ONCE(pbuf_runs_add(&buf->runs, page + i, 0,
						   PAGE_SIZE));
		pbuf_acct_pinned(buf->ctx, &buf->acct, 1L << order);
		done += 1UL << order;
		cond_resched();
	}
	return 0;
}

static struct pbuf_regbuf *pbuf_kbuf_create(struct pbuf_ctx *ctx, u64 len)
{
	unsigned long nr_pages = PAGE_ALIGN(len) >> PAGE_SHIFT;
	struct pbuf_regbuf *buf;
	int ret;

	/*
	 * The memlock charge does not bound a CAP_IPC_LOCK caller. As the
	 * tracing ring buffer does, fail at once what the available memory
	 * cannot cover rather than drain the system trying.
	 */
	if (nr_pages > (unsigned long)si_mem_available())
		return ERR_PTR(-ENOMEM);
	buf = pbuf_regbuf_alloc(ctx);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	buf->kernel = true;
	ret = pbuf_acct_charge(ctx, &buf->acct, nr_pages);
	if (!ret)
		ret = pbuf_kbuf_fill(buf, nr_pages);
	if (ret) {
		pbuf_regbuf_put(buf);
		return ERR_PTR(ret);
	}
	return buf;
}

int pbuf_kbuf_alloc_ioctl(struct pbuf_ctx *ctx, void __user *arg)
{
	struct iopbuf_kbuf kb;
	struct pbuf_regbuf *buf;
	u32 id;
	int ret;

	if (copy_from_user(&kb, arg, sizeof(kb)))
		return -EFAULT;
	if (kb.id || kb.resv || kb.resv2[0] || kb.resv2[1] || !kb.len)
		return -EINVAL;
	if (kb.len > PBUF_MAX_BUF_LEN)
		return -E2BIG;

	buf = pbuf_kbuf_create(ctx, kb.len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = xa_alloc(&ctx->kbufs, &id, buf, XA_LIMIT(1, IOPBUF_MAX_KBUFS),
		       GFP_KERNEL_ACCOUNT);
	if (ret) {
		pbuf_regbuf_put(buf);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	kb.id = id;
	if (copy_to_user(arg, &kb, sizeof(kb))) {
		buf = xa_erase(&ctx->kbufs, id);
		if (buf)
			pbuf_regbuf_put(buf);
		return -EFAULT;
	}
	return 0;
}

int pbuf_kbuf_free_ioctl(struct pbuf_ctx *ctx, void __user *arg)
{
	struct iopbuf_kbuf kb;
	struct pbuf_regbuf *buf;

	if (copy_from_user(&kb, arg, sizeof(kb)))
		return -EFAULT;
	if (kb.len || kb.resv || kb.resv2[0] || kb.resv2[1])
		return -EINVAL;
	buf = xa_erase(&ctx->kbufs, kb.id);
	if (!buf)
		return -ENOENT;
	pbuf_regbuf_put(buf);
	return 0;
}

/* Return: a reference on kernel buffer @id, or ERR_PTR(-ENOENT). */
struct pbuf_regbuf *pbuf_kbuf_get(struct pbuf_ctx *ctx, u32 id)
{
	struct pbuf_regbuf *buf;

	xa_lock(&ctx->kbufs);
	buf = xa_load(&ctx->kbufs, id);
	if (buf)
		refcount_inc(&buf->refs);
	xa_unlock(&ctx->kbufs);
	return buf ?: ERR_PTR(-ENOENT);
}

void pbuf_kbuf_free_all(struct pbuf_ctx *ctx)
{
	struct pbuf_regbuf *buf;
	unsigned long id;

	xa_for_each(&ctx->kbufs, id, buf) {
		xa_erase(&ctx->kbufs, id);
		pbuf_regbuf_put(buf);
	}
}
