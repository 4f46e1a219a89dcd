// SPDX-License-Identifier: GPL-2.0
/*
 * Provided-buffer rings: registration, memory (pinned user pages mapped
 * with vmap, or kernel pages the application mmaps), lookup and fdinfo.
 * Selection and commit arithmetic lives in logic_ring.c.
 */
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>

#include "pbuf.h"
#include "pbuf_trace.h"

#define PBUF_RING_FLAGS	(IOPBUF_RING_MMAP | IOPBUF_RING_REGBUF | IOPBUF_RING_INC)

static void pbuf_ring_mem_free(struct pbuf_ring_mem *mem)
{
	if (mem->va) {
		vfree(mem->va);
		pbuf_acct_pinned(mem->ctx, &mem->acct, -(long)mem->acct.pinned);
	}
	pbuf_acct_release(mem->ctx, &mem->acct);
	pbuf_ctx_put(mem->ctx);
	kfree(mem);
}

/* The last reference may be a mapping's, dropped in munmap() or exit. */
static void pbuf_ring_mem_put(struct pbuf_ring_mem *mem)
{
	if (refcount_dec_and_test(&mem->refs))
		pbuf_ring_mem_free(mem);
}

/* The last reference is gone (pbuf_ring_put()). */
void pbuf_ring_free(struct pbuf_ring *ring)
{
	struct pbuf_ctx *ctx = ring->ctx;

	might_sleep();
	if (ring->pages) {
		if (ring->bufs)
			vunmap(ring->bufs);
		/* The application wrote the ring: keep its pages dirty. */
		unpin_user_pages_dirty_lock(ring->pages, ring->nr_pages, true);
		pbuf_acct_pinned(ctx, &ring->acct, -(long)ring->nr_pages);
		kvfree(ring->pages);
	}
	if (ring->mem)
		pbuf_ring_mem_put(ring->mem);
	pbuf_acct_release(ctx, &ring->acct);
	pbuf_ctx_put(ctx);
	/* pbuf_ring_get() may still be looking at it under RCU */
	kfree_rcu(ring, rcu);
}

/* The slot of ring @bgid: an xarray's, or a direct one (struct pbuf_ctx). */
static struct pbuf_ring *pbuf_ring_load(struct pbuf_ctx *ctx, u16 bgid)
{
	XA_STATE(xas, &ctx->rings, bgid);
	struct pbuf_ring *ring;

	if (bgid < PBUF_FAST_SLOTS)
		return rcu_dereference(ctx->fast_rings[array_index_nospec(bgid,
							PBUF_FAST_SLOTS)]);
	do {
		ring = xas_load(&xas);
		if (xa_is_zero(ring))
			ring = NULL;
	} while (xas_retry(&xas, ring));
	return ring;
}

/* Register or unregister @ring as @bgid's in the direct slots too. */
static void pbuf_ring_publish(struct pbuf_ctx *ctx, unsigned long bgid,
			      struct pbuf_ring *ring)
{
	lockdep_assert_held(&ctx->setup_lock);
	if (bgid < PBUF_FAST_SLOTS)
		rcu_assign_pointer(ctx->fast_rings[bgid], ring);
}

/*
 * Reference ring @bgid. One RCU section around the slot load (xas_load(),
 * not xa_load(), which would nest a second one) and the reference: a ring
 * with no reference left has been unregistered, so it counts as none.
 */
struct pbuf_ring *pbuf_ring_get(struct pbuf_ctx *ctx, u16 bgid)
{
	struct pbuf_ring *ring;

	rcu_read_lock();
	ring = pbuf_ring_load(ctx, bgid);
	if (ring && !refcount_inc_not_zero(&ring->refs))
		ring = NULL;
	rcu_read_unlock();
	return ring;
}

/*
 * Kernel-allocated ring memory, zeroed, for the application to mmap. The
 * memory carries its own charge (see struct pbuf_ring_mem).
 */
static int pbuf_ring_alloc_mem(struct pbuf_ring *ring, size_t size)
{
	struct pbuf_ring_mem *mem;
	int ret;

	mem = kzalloc(sizeof(*mem), GFP_KERNEL_ACCOUNT);
	if (!mem)
		return -ENOMEM;
	refcount_set(&mem->refs, 1);
	pbuf_ctx_get(ring->ctx);
	mem->ctx = ring->ctx;
	mem->size = PAGE_ALIGN(size);
	ring->nr_pages = mem->size >> PAGE_SHIFT;
	ret = pbuf_acct_charge(mem->ctx, &mem->acct, ring->nr_pages);
	if (ret)
		goto err;
	ret = -ENOMEM;
	mem->va = vmalloc_user(mem->size);
	if (!mem->va)
		goto err;
	pbuf_acct_pinned(mem->ctx, &mem->acct, ring->nr_pages);
	ring->mem = mem;
	ring->bufs = mem->va;
	return 0;
err:
	pbuf_ring_mem_free(mem);
	return ret;
}

/* Application ring memory: pin it and map it contiguously for the kernel. */
static int pbuf_ring_pin_mem(struct pbuf_ring *ring, u64 addr, size_t size)
{
	unsigned int nr = PAGE_ALIGN(size) >> PAGE_SHIFT;
	int ret;

	if (!access_ok(u64_to_user_ptr(addr), size))
		return -EFAULT;
	ret = pbuf_pin_check_vmas(addr, size);
	if (ret)
		return ret;
	ret = pbuf_acct_charge(ring->ctx, &ring->acct, nr);
	if (ret)
		return ret;

	ring->pages = kvmalloc_array(nr, sizeof(*ring->pages),
				     GFP_KERNEL_ACCOUNT);
	if (!ring->pages)
		return -ENOMEM;
	ret = pbuf_pin_pages(addr, nr, ring->pages);
	if (ret) {
		kvfree(ring->pages);
		ring->pages = NULL;
		return ret;
	}
	ring->nr_pages = nr;
	pbuf_acct_pinned(ring->ctx, &ring->acct, nr);

	ring->bufs = vmap(ring->pages, nr, VM_MAP, PAGE_KERNEL);
	return ring->bufs ? 0 : -ENOMEM;
}

static int pbuf_ring_reg_check(const struct iopbuf_ring_reg *reg)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(reg->resv); i++)
		if (reg->resv[i])
			return -EINVAL;
	if (reg->flags & ~PBUF_RING_FLAGS)
		return -EINVAL;
	if (!is_power_of_2(reg->ring_entries) ||
	    reg->ring_entries > IOPBUF_MAX_RING_ENTRIES)
		return -EINVAL;
	if (reg->min_left && !(reg->flags & IOPBUF_RING_INC))
		return -EINVAL;
	if (reg->flags & IOPBUF_RING_MMAP)
		return reg->ring_addr ? -EINVAL : 0;
	if (!reg->ring_addr)
		return -EFAULT;
	if (!PAGE_ALIGNED(reg->ring_addr))
		return -EINVAL;
	return 0;
}

static struct pbuf_ring *pbuf_ring_create(struct pbuf_ctx *ctx,
					  const struct iopbuf_ring_reg *reg)
{
	size_t size = (size_t)reg->ring_entries * sizeof(struct iopbuf_buf);
	struct pbuf_ring *ring;
	int ret;

	ring = kzalloc(sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		return ERR_PTR(-ENOMEM);
	refcount_set(&ring->refs, 1);
	pbuf_ctx_get(ctx);
	ring->ctx = ctx;
	mutex_init(&ring->io_lock);
	init_waitqueue_head(&ring->tx_wait);
	ring->mask = reg->ring_entries - 1;
	ring->min_left = max(reg->min_left, 1U);
	ring->bgid = reg->bgid;
	ring->flags = reg->flags;
	ring->ring_addr = reg->ring_addr;

	if (reg->flags & IOPBUF_RING_MMAP)
		ret = pbuf_ring_alloc_mem(ring, size);
	else
		ret = pbuf_ring_pin_mem(ring, reg->ring_addr, size);
	if (ret) {
		pbuf_ring_free(ring);
		return ERR_PTR(ret);
	}
	return ring;
}

int pbuf_ring_register(struct pbuf_ctx *ctx, void __user *arg)
{
	struct iopbuf_ring_reg reg;
	struct pbuf_ring *ring;
	int ret;

	if (copy_from_user(&reg, arg, sizeof(reg)))
		return -EFAULT;
	ret = pbuf_ring_reg_check(&reg);
	if (ret)
		return ret;

	/* killable: pinning may wait for faults in user memory */
	if (mutex_lock_killable(&ctx->setup_lock))
		return -EINTR;
	if (xa_load(&ctx->rings, reg.bgid)) {
		ret = -EEXIST;
		goto unlock;
	}
	ring = pbuf_ring_create(ctx, &reg);
	if (IS_ERR(ring)) {
		ret = PTR_ERR(ring);
		goto unlock;
	}
	ret = xa_err(xa_store(&ctx->rings, reg.bgid, ring, GFP_KERNEL_ACCOUNT));
	if (ret)
		pbuf_ring_put(ring);
	else
		pbuf_ring_publish(ctx, reg.bgid, ring);
unlock:
	mutex_unlock(&ctx->setup_lock);
	trace_iopbuf_ring_register(ctx, reg.bgid, reg.ring_entries, reg.flags,
				   ret);
	return ret;
}

int pbuf_ring_unregister(struct pbuf_ctx *ctx, void __user *arg)
{
	struct iopbuf_ring_reg reg;
	struct pbuf_ring *ring;
	unsigned int i;

	if (copy_from_user(&reg, arg, sizeof(reg)))
		return -EFAULT;
	if (reg.ring_addr || reg.ring_entries || reg.flags || reg.min_left)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(reg.resv); i++)
		if (reg.resv[i])
			return -EINVAL;

	if (mutex_lock_killable(&ctx->setup_lock))
		return -EINTR;
	ring = xa_erase(&ctx->rings, reg.bgid);
	pbuf_ring_publish(ctx, reg.bgid, NULL);
	mutex_unlock(&ctx->setup_lock);
	trace_iopbuf_ring_unregister(ctx, reg.bgid, 0, 0, ring ? 0 : -ENOENT);
	if (!ring)
		return -ENOENT;
	pbuf_ring_put(ring);
	return 0;
}

void pbuf_ring_unregister_all(struct pbuf_ctx *ctx)
{
	struct pbuf_ring *ring;
	unsigned long bgid;

	mutex_lock(&ctx->setup_lock);
	xa_for_each(&ctx->rings, bgid, ring) {
		xa_erase(&ctx->rings, bgid);
		pbuf_ring_publish(ctx, bgid, NULL);
		trace_iopbuf_ring_unregister(ctx, bgid, 0, 0, 0);
		pbuf_ring_put(ring);
	}
	mutex_unlock(&ctx->setup_lock);
}

int pbuf_ring_status(struct pbuf_ctx *ctx, void __user *arg)
{
	struct iopbuf_ring_status st;
	struct pbuf_ring *ring;

	if (copy_from_user(&st, arg, sizeof(st)))
		return -EFAULT;
	if (st.resv0 || st.resv[0] || st.resv[1])
		return -EINVAL;
	ring = pbuf_ring_get(ctx, st.bgid);
	if (!ring)
		return -ENOENT;
	/* a READ may hold io_lock across a slow file (FUSE, NFS) */
	if (mutex_lock_killable(&ring->io_lock)) {
		pbuf_ring_put(ring);
		return -EINTR;
	}
	st.head = ring->head;
	mutex_unlock(&ring->io_lock);
	pbuf_ring_put(ring);
	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

/*
 * Each mapping holds a reference on the ring memory, so the application
 * may keep writing to it after the ring is unregistered; the pages are
 * freed with the last of the ring and its mappings.
 */
static void pbuf_ring_vm_open(struct vm_area_struct *vma)
{
	struct pbuf_ring_mem *mem = vma->vm_private_data;

	refcount_inc(&mem->refs);
}

static void pbuf_ring_vm_close(struct vm_area_struct *vma)
{
	pbuf_ring_mem_put(vma->vm_private_data);
}

static const struct vm_operations_struct pbuf_ring_vm_ops = {
	.open	= pbuf_ring_vm_open,
	.close	= pbuf_ring_vm_close,
};

/* mmap(2) of IOPBUF_OFF_RING(bgid): the memory of an IOPBUF_RING_MMAP ring. */
int pbuf_ring_mmap(struct pbuf_ctx *ctx, struct vm_area_struct *vma)
{
	u64 off = (u64)vma->vm_pgoff << PAGE_SHIFT;
	u16 bgid = (off - IOPBUF_OFF_RING_BASE) >> IOPBUF_OFF_RING_SHIFT;
	struct pbuf_ring *ring;
	int ret;

	if (off < IOPBUF_OFF_RING_BASE || off != IOPBUF_OFF_RING(bgid))
		return -EINVAL;
	ring = pbuf_ring_get(ctx, bgid);
	if (!ring)
		return -ENOENT;
	ret = -EINVAL;
	if (!(ring->flags & IOPBUF_RING_MMAP) ||
	    vma->vm_end - vma->vm_start > ring->mem->size)
		goto out;
	ret = remap_vmalloc_range(vma, ring->mem->va, 0);
	if (ret)
		goto out;
	refcount_inc(&ring->mem->refs);
	vma->vm_private_data = ring->mem;
	vma->vm_ops = &pbuf_ring_vm_ops;
out:
	pbuf_ring_put(ring);
	return ret;
}

void pbuf_ring_show(struct seq_file *m, struct pbuf_ctx *ctx)
{
	struct pbuf_ring *ring;
	unsigned long bgid;
	unsigned int nr = 0;

	/*
	 * Rings in the xarray are alive and mapped while setup_lock is held.
	 * A registration may hold it for long (pinning faults in user
	 * memory): fdinfo readers (lsof, monitoring) must not wait for it.
	 */
	if (!mutex_trylock(&ctx->setup_lock)) {
		seq_puts(m, "rings:\tbusy\n");
		return;
	}
	xa_for_each(&ctx->rings, bgid, ring)
		nr++;
	seq_printf(m, "rings:\t%u\n", nr);
	xa_for_each(&ctx->rings, bgid, ring) {
		seq_printf(m, "  ring %lu: entries %u head %u tail %u%s%s%s min_left %u\n",
			   bgid, ring->mask + 1, READ_ONCE(ring->head),
			   READ_ONCE(ring->bufs[0].resv),
			   ring->flags & IOPBUF_RING_MMAP ? " mmap" : "",
			   ring->flags & IOPBUF_RING_REGBUF ? " regbuf" : "",
			   ring->flags & IOPBUF_RING_INC ? " inc" : "",
			   ring->min_left);
	}
	mutex_unlock(&ctx->setup_lock);
}
