// SPDX-License-Identifier: GPL-2.0
/*
 * Registered buffers: user memory pinned once and referred to by index.
 *
 * Each buffer is stored as folio runs (struct pbuf_runs), built while
 * pinning, so that a buffer backed by huge pages costs one segment per huge
 * page. Buffers are reference counted: the table holds one reference and
 * every in-flight operation using the buffer holds one, so unregistering
 * never waits for the network and never frees pages still in use.
 */
#include <linux/compat.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/xarray.h>

#include "pbuf.h"
#include "pbuf_trace.h"

/* Pages pinned per pin_user_pages_fast() call. */
#define PBUF_PIN_BATCH		512U
/* Registered buffers listed in fdinfo. */
#define PBUF_SHOW_MAX		64U

static void pbuf_regbuf_unpin(struct pbuf_regbuf *buf)
{
	unsigned int i;

	for (i = 0; i < buf->runs.nr; i++) {
		const struct bio_vec *bv = &buf->runs.bv[i];
		unsigned int npages = DIV_ROUND_UP(bv->bv_offset + bv->bv_len,
						   PAGE_SIZE);

		/* a kernel buffer's run is one folio we allocated */
		if (buf->kernel)
			put_page(bv->bv_page);
		/* The buffer may have been received into: dirty it. */
		else
			unpin_user_page_range_dirty_lock(bv->bv_page, npages,
							 true);
		/* up to 2^24 runs: let others run */
		if (!(i % 1024))
			cond_resched();
	}
	pbuf_acct_pinned(buf->ctx, &buf->acct, -(long)buf->acct.pinned);
}

/* The last reference is gone (pbuf_regbuf_put()). */
void pbuf_regbuf_free(struct pbuf_regbuf *buf)
{
	might_sleep();
	pbuf_regbuf_unpin(buf);
	pbuf_acct_release(buf->ctx, &buf->acct);
	kvfree(buf->runs.bv);
	kvfree(buf->runs.start);
	kvfree(buf->runs.page_run);
	pbuf_ctx_put(buf->ctx);
	/* pbuf_regbuf_get() may still be looking at it under RCU */
	kfree_rcu(buf, rcu);
}

/*
 * Reference the buffer in slot @index, lock-free as fget() is: the slot is
 * read under RCU and the reference taken only while the buffer still has
 * one. A buffer whose last reference is gone has left its slot already
 * (the table drops its reference only after changing the slot), so the
 * slot is read again and yields the buffer that replaced it, or none. The
 * struct outlives such a reader by a grace period (pbuf_regbuf_free()).
 */
static struct pbuf_regbuf *pbuf_regbuf_lookup(struct pbuf_ctx *ctx, u32 index)
{
	XA_STATE(xas, &ctx->bufs, index);
	struct pbuf_regbuf *buf;

	rcu_read_lock();
	for (;;) {
		if (index < PBUF_FAST_SLOTS) {
			/* a direct slot (struct pbuf_ctx) */
			u32 i = array_index_nospec(index, PBUF_FAST_SLOTS);

			buf = rcu_dereference(ctx->fast_bufs[i]);
		} else {
			buf = xas_load(&xas);
			/* a slot reserved for an update reads as empty */
			if (xa_is_zero(buf))
				buf = NULL;
			if (xas_retry(&xas, buf))
				continue;
		}
		if (!buf || refcount_inc_not_zero(&buf->refs))
			break;
		xas_reset(&xas);
	}
	rcu_read_unlock();
	return buf;
}

/**
 * pbuf_regbuf_get - look up and reference registered buffer @index
 * @ctx: the context
 * @index: slot index, as untrusted as the ring entry it came from
 *
 * Return: the buffer, or ERR_PTR(-EFAULT) when @index names no buffer (out
 * of range or an empty slot), as io_uring answers for a bad buffer index.
 */
struct pbuf_regbuf *pbuf_regbuf_get(struct pbuf_ctx *ctx, u32 index)
{
	/* pairs with the release store publishing a new table's slots */
	u32 nr = smp_load_acquire(&ctx->nr_bufs);
	struct pbuf_regbuf *buf;

	if (index >= nr)
		return ERR_PTR(-EFAULT);
	buf = pbuf_regbuf_lookup(ctx, array_index_nospec(index, nr));
	return buf ?: ERR_PTR(-EFAULT);
}

/* Move the runs into an array of the exact size, when memory allows. */
static void pbuf_runs_shrink(struct pbuf_runs *r)
{
	struct bio_vec *bv;
	u64 *start;

	if (r->nr == r->cap)
		return;
	bv = kvmalloc_array(r->nr, sizeof(*bv), GFP_KERNEL_ACCOUNT);
	start = kvmalloc_array(r->nr, sizeof(*start), GFP_KERNEL_ACCOUNT);
	if (!bv || !start) {
		kvfree(bv);
		kvfree(start);
		return;
	}
	memcpy(bv, r->bv, r->nr * sizeof(*bv));
	memcpy(start, r->start, r->nr * sizeof(*start));
	kvfree(r->bv);
	kvfree(r->start);
	r->bv = bv;
	r->start = start;
	r->cap = r->nr;
}

/*
 * A page index for a table of many runs (struct pbuf_runs), when memory
 * allows: 4 bytes a page, where the table itself takes up to 24.
 */
static void pbuf_runs_index(struct pbuf_runs *r)
{
	u32 *page_run;

	if (r->nr <= PBUF_RUNS_INDEX_MIN)
		return;
	page_run = kvmalloc_array(pbuf_runs_pages(r), sizeof(*page_run),
				  GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (page_run)
		pbuf_runs_index_fill(r, page_run);
}

/* Add @nr freshly pinned pages to the runs, starting @off into the first. */
static void pbuf_regbuf_add_pages(struct pbuf_regbuf *buf, struct page **pages,
				  unsigned int nr, unsigned int off, u64 *left)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		unsigned int seg = min_t(u64, *left, PAGE_SIZE - off);

		/* Cannot fail: runs have room for every page. */
		WARN_ON_ONCE(pbuf_runs_add(&buf->runs, pages[i], off, seg));
		*left -= seg;
		off = 0;
	}
}

static int pbuf_regbuf_pin(struct pbuf_regbuf *buf, u64 ubuf, u64 len,
			   unsigned int nr_pages)
{
	unsigned long addr = ubuf & PAGE_MASK;
	unsigned int off = offset_in_page(ubuf);
	unsigned int done = 0;
	struct page **pages;
	int ret = 0;

	/* worst case, one run a page; shrunk once the buffer is pinned */
	buf->runs.bv = kvmalloc_array(nr_pages, sizeof(*buf->runs.bv),
				      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	buf->runs.start = kvmalloc_array(nr_pages, sizeof(*buf->runs.start),
					 GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	pages = kmalloc_array(min(nr_pages, PBUF_PIN_BATCH), sizeof(*pages),
			      GFP_KERNEL);
	if (!buf->runs.bv || !buf->runs.start || !pages) {
		ret = -ENOMEM;
		goto out;
	}
	buf->runs.cap = nr_pages;

	while (done < nr_pages) {
		unsigned int n = min(nr_pages - done, PBUF_PIN_BATCH);

		/* Registering gigabytes takes a while: stay killable. */
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		ret = pbuf_pin_pages(addr, n, pages);
		if (ret)
			break;
		pbuf_acct_pinned(buf->ctx, &buf->acct, n);
		pbuf_regbuf_add_pages(buf, pages, n, off, &len);
		addr += (unsigned long)n << PAGE_SHIFT;
		done += n;
		off = 0;
		cond_resched();
	}
	if (!ret) {
		pbuf_runs_shrink(&buf->runs);
		pbuf_runs_index(&buf->runs);
	}
out:
	kfree(pages);
	return ret;
}

/* An empty buffer owned by @ctx, with one reference. */
struct pbuf_regbuf *pbuf_regbuf_alloc(struct pbuf_ctx *ctx)
{
	struct pbuf_regbuf *buf = kzalloc(sizeof(*buf), GFP_KERNEL_ACCOUNT);

	if (!buf)
		return NULL;
	refcount_set(&buf->refs, 1);
	pbuf_ctx_get(ctx);
	buf->ctx = ctx;
	return buf;
}

/**
 * pbuf_regbuf_create - pin [@ubuf, @ubuf + @len) as a registered buffer
 * @ctx: the context that will own it
 * @ubuf: user address
 * @len: bytes
 *
 * Return: the buffer, NULL for an empty slot (@ubuf and @len both 0), or an
 * ERR_PTR: -EINVAL (zero length), -EFAULT, -EOVERFLOW, -E2BIG, -ENOMEM,
 * -EOPNOTSUPP, -EINTR. On error nothing stays pinned or charged.
 */
static struct pbuf_regbuf *pbuf_regbuf_create(struct pbuf_ctx *ctx, u64 ubuf,
					      u64 len)
{
	struct pbuf_regbuf *buf;
	unsigned int nr_pages;
	u64 end;
	int ret;

	if (!ubuf && !len)
		return NULL;
	if (!len)
		return ERR_PTR(-EINVAL);
	if (!ubuf)
		return ERR_PTR(-EFAULT);
	if (check_add_overflow(ubuf, len, &end))
		return ERR_PTR(-EOVERFLOW);
	if (len > PBUF_MAX_BUF_LEN)
		return ERR_PTR(-E2BIG);
	if (!access_ok(u64_to_user_ptr(ubuf), len))
		return ERR_PTR(-EFAULT);
	nr_pages = (PAGE_ALIGN(end) - (ubuf & PAGE_MASK)) >> PAGE_SHIFT;

	buf = pbuf_regbuf_alloc(ctx);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	buf->ubuf = ubuf;

	/* the limit first: an oversized request fails before any work */
	ret = pbuf_acct_charge(ctx, &buf->acct, nr_pages);
	if (ret)
		goto fail;
	ret = pbuf_pin_check_vmas(ubuf, len);
	if (ret)
		goto fail;
	ret = pbuf_regbuf_pin(buf, ubuf, len, nr_pages);
	if (ret)
		goto fail;
	return buf;
fail:
	pbuf_regbuf_free(buf);
	return ERR_PTR(ret);
}

static void pbuf_regbuf_put_array(struct pbuf_regbuf **bufs, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (bufs[i])
			pbuf_regbuf_put(bufs[i]);
		cond_resched();
	}
}

/* Read iovec @i of the array at @uiov, 32-bit tasks' layout included. */
static int pbuf_get_iovec(const void __user *uiov, unsigned int i,
			  u64 *base, u64 *len)
{
	struct iovec iov;

#ifdef CONFIG_COMPAT
	if (in_compat_syscall()) {
		const struct compat_iovec __user *c = uiov;
		struct compat_iovec ciov;

		if (copy_from_user(&ciov, &c[i], sizeof(ciov)))
			return -EFAULT;
		*base = ciov.iov_base;
		*len = ciov.iov_len;
		return 0;
	}
#endif
	if (copy_from_user(&iov, (const struct iovec __user *)uiov + i,
			   sizeof(iov)))
		return -EFAULT;
	*base = (uintptr_t)iov.iov_base;
	*len = iov.iov_len;
	return 0;
}

/* Create one buffer per iovec at @uiov; all or nothing. */
static int pbuf_regbuf_fill(struct pbuf_ctx *ctx, struct pbuf_regbuf **bufs,
			    const void __user *uiov, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct pbuf_regbuf *buf;
		u64 base, len;
		int ret;

		ret = pbuf_get_iovec(uiov, i, &base, &len);
		if (ret)
			buf = ERR_PTR(ret);
		else
			buf = pbuf_regbuf_create(ctx, base, len);
		if (IS_ERR(buf)) {
			pbuf_regbuf_put_array(bufs, i);
			memset(bufs, 0, i * sizeof(*bufs));
			return PTR_ERR(buf);
		}
		bufs[i] = buf;
	}
	return 0;
}

/*
 * Put @bufs[i] into slot @first + i of the table, all or nothing, and
 * leave the buffers they replace in @bufs for the caller to put; a new
 * table (REGISTER) also gets its size @new_nr in the same step, so that
 * no reader sees filled slots of a table without slots. The caller holds
 * setup_lock. Slots about to be filled get their xarray nodes first, so
 * the swap itself, which lookups see as one step, cannot fail.
 *
 * Return: 0, or -ENOMEM with the table unchanged.
 */
static int pbuf_table_swap(struct pbuf_ctx *ctx, unsigned int first,
			   struct pbuf_regbuf **bufs, unsigned int nr,
			   unsigned int new_nr)
{
	unsigned int i;
	int ret;

	for (i = 0; i < nr; i++) {
		if (!bufs[i])
			continue;
		ret = xa_reserve(&ctx->bufs, first + i, GFP_KERNEL_ACCOUNT);
		if (ret)
			goto unreserve;
	}
	xa_lock(&ctx->bufs);
	for (i = 0; i < nr; i++) {
		struct pbuf_regbuf *old;

		if (bufs[i])
			old = __xa_store(&ctx->bufs, first + i, bufs[i], 0);
		else
			old = __xa_erase(&ctx->bufs, first + i);
		if (first + i < PBUF_FAST_SLOTS)
			rcu_assign_pointer(ctx->fast_bufs[first + i], bufs[i]);
		/* cannot happen: the slot was reserved */
		if (WARN_ON_ONCE(xa_is_err(old)))
			old = NULL;
		ctx->nr_bufs_used += !!bufs[i] - !!old;
		bufs[i] = old;
	}
	if (new_nr)
		/* pairs with pbuf_regbuf_get(): the slots are visible first */
		smp_store_release(&ctx->nr_bufs, new_nr);
	xa_unlock(&ctx->bufs);
	return 0;

unreserve:
	/* releases only reservations: filled slots are left alone */
	while (i--)
		if (bufs[i])
			xa_release(&ctx->bufs, first + i);
	return ret;
}

static int pbuf_buf_reg_copy(struct iopbuf_buf_reg *reg, void __user *arg)
{
	if (copy_from_user(reg, arg, sizeof(*reg)))
		return -EFAULT;
	if (reg->resv || reg->resv2[0] || reg->resv2[1])
		return -EINVAL;
	if (!reg->nr || reg->nr > IOPBUF_MAX_BUFS)
		return -EINVAL;
	return 0;
}

int pbuf_regbuf_register(struct pbuf_ctx *ctx, void __user *arg)
{
	struct iopbuf_buf_reg reg;
	struct pbuf_regbuf **bufs;
	int ret;

	ret = pbuf_buf_reg_copy(&reg, arg);
	if (ret)
		return ret;
	if (reg.flags & ~IOPBUF_BUF_REG_SPARSE || reg.offset)
		return -EINVAL;
	if (reg.flags & IOPBUF_BUF_REG_SPARSE) {
		if (reg.iovs)
			return -EINVAL;
	} else if (!reg.iovs) {
		return -EFAULT;
	}

	/* a sparse table needs no memory until it is filled */
	if (reg.iovs) {
		bufs = kvcalloc(reg.nr, sizeof(*bufs), GFP_KERNEL_ACCOUNT);
		if (!bufs)
			return -ENOMEM;
	} else {
		bufs = NULL;
	}

	/* killable: filling may wait for faults in user memory */
	if (mutex_lock_killable(&ctx->setup_lock)) {
		ret = -EINTR;
		goto out;
	}
	if (ctx->nr_bufs) {
		ret = -EBUSY;
		goto unlock;
	}
	if (bufs) {
		ret = pbuf_regbuf_fill(ctx, bufs, u64_to_user_ptr(reg.iovs),
				       reg.nr);
		if (ret)
			goto unlock;
		ret = pbuf_table_swap(ctx, 0, bufs, reg.nr, reg.nr);
	} else {
		xa_lock(&ctx->bufs);
		WRITE_ONCE(ctx->nr_bufs, reg.nr);
		xa_unlock(&ctx->bufs);
	}
unlock:
	mutex_unlock(&ctx->setup_lock);
out:
	/* nothing after a swap; the new buffers after an error */
	if (bufs)
		pbuf_regbuf_put_array(bufs, reg.nr);
	kvfree(bufs);
	trace_iopbuf_buf_register(ctx, 0, reg.nr, ret);
	return ret;
}

int pbuf_regbuf_update(struct pbuf_ctx *ctx, void __user *arg)
{
	struct iopbuf_buf_reg reg;
	struct pbuf_regbuf **bufs;
	unsigned int end;
	int ret;

	ret = pbuf_buf_reg_copy(&reg, arg);
	if (ret)
		return ret;
	if (reg.flags || check_add_overflow(reg.offset, reg.nr, &end))
		return -EINVAL;
	if (!reg.iovs)
		return -EFAULT;

	bufs = kvcalloc(reg.nr, sizeof(*bufs), GFP_KERNEL_ACCOUNT);
	if (!bufs)
		return -ENOMEM;

	if (mutex_lock_killable(&ctx->setup_lock)) {
		ret = -EINTR;
		goto out;
	}
	if (!ctx->nr_bufs) {
		ret = -ENXIO;
		goto unlock;
	}
	/* nr_bufs changes only under setup_lock, which we hold */
	if (end > ctx->nr_bufs) {
		ret = -EINVAL;
		goto unlock;
	}
	ret = pbuf_regbuf_fill(ctx, bufs, u64_to_user_ptr(reg.iovs), reg.nr);
	if (ret)
		goto unlock;
	ret = pbuf_table_swap(ctx, reg.offset, bufs, reg.nr, 0);
unlock:
	mutex_unlock(&ctx->setup_lock);
out:
	/* the replaced buffers, or the new ones on error */
	pbuf_regbuf_put_array(bufs, reg.nr);
	kvfree(bufs);
	trace_iopbuf_buf_update(ctx, reg.offset, reg.nr, ret);
	return ret;
}

/*
 * Drop the table. Buffers still used by commands in flight live on until
 * those end. Return: how many slots it had, 0 when none was registered.
 */
static unsigned int pbuf_regbuf_drop_all(struct pbuf_ctx *ctx)
{
	struct pbuf_regbuf *buf;
	unsigned long index;
	unsigned int nr;

	mutex_lock(&ctx->setup_lock);
	xa_lock(&ctx->bufs);
	nr = ctx->nr_bufs;
	/* from here new lookups find nothing */
	WRITE_ONCE(ctx->nr_bufs, 0);
	ctx->nr_bufs_used = 0;
	for (index = 0; index < PBUF_FAST_SLOTS; index++)
		RCU_INIT_POINTER(ctx->fast_bufs[index], NULL);
	xa_unlock(&ctx->bufs);
	xa_for_each(&ctx->bufs, index, buf) {
		xa_erase(&ctx->bufs, index);
		pbuf_regbuf_put(buf);
		cond_resched();
	}
	mutex_unlock(&ctx->setup_lock);
	return nr;
}

/* IOPBUF_IOC_UNREGISTER_BUFFERS. Return: 0, or -ENXIO without a table. */
int pbuf_regbuf_unregister_all(struct pbuf_ctx *ctx)
{
	unsigned int nr = pbuf_regbuf_drop_all(ctx);
	int ret = nr ? 0 : -ENXIO;

	trace_iopbuf_buf_unregister(ctx, 0, nr, ret);
	return ret;
}

/* The file is closed: a table it still had is unregistered (and traced). */
void pbuf_regbuf_release_all(struct pbuf_ctx *ctx)
{
	unsigned int nr = pbuf_regbuf_drop_all(ctx);

	if (nr)
		trace_iopbuf_buf_unregister(ctx, 0, nr, 0);
}

void pbuf_regbuf_show(struct seq_file *m, struct pbuf_ctx *ctx)
{
	const struct pbuf_regbuf *buf;
	unsigned int shown = 0;
	unsigned long i;

	xa_lock(&ctx->bufs);
	seq_printf(m, "buf_slots:\t%u\n", ctx->nr_bufs);
	seq_printf(m, "bufs:\t%u\n", ctx->nr_bufs_used);
	xa_for_each(&ctx->bufs, i, buf) {
		if (shown == PBUF_SHOW_MAX || i >= ctx->nr_bufs)
			break;
		seq_printf(m, "  buf %lu: 0x%llx len %llu segs %u pinned %lu\n",
			   i, buf->ubuf, buf->runs.len, buf->runs.nr,
			   buf->acct.pinned);
		shown++;
	}
	if (shown < ctx->nr_bufs_used)
		seq_printf(m, "  (%u more)\n", ctx->nr_bufs_used - shown);
	xa_unlock(&ctx->bufs);
}
