// SPDX-License-Identifier: GPL-2.0
/*
 * Buffer selection for one attempt of a command: pick entries from the
 * ring head (logic_ring.c), import them into an iov_iter, and after the
 * transfer commit what was consumed. The caller holds ring->io_lock from
 * selection to commit, so the three are one step as in io_uring.
 */
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "pbuf.h"

/* A new command object's selection: empty, no arrays yet. */
void pbuf_bufsel_setup(struct pbuf_bufsel *bs)
{
	memset(bs, 0, sizeof(*bs));
	pbuf_bvec_out_init(&bs->bv, PBUF_MAX_BUNDLE_SEGS, GFP_KERNEL_ACCOUNT);
}

/* The command object goes: free the arrays it kept. */
void pbuf_bufsel_free(struct pbuf_bufsel *bs)
{
	kfree(bs->sel);
	kfree(bs->refs);
	kfree(bs->iov);
	pbuf_bvec_out_release(&bs->bv);
}

/*
 * Room for @max entries in each array: pbuf_bufsel_init() found the kept
 * ones too small.
 */
int pbuf_bufsel_reserve(struct pbuf_bufsel *bs, unsigned int max)
{
	kfree(bs->sel);
	kfree(bs->refs);
	kfree(bs->iov);
	bs->cap = 0;
	pbuf_stat_add(cache_misses, 1);
	/* held while the command waits: charged to its memory cgroup */
	bs->sel = kmalloc_array(max, sizeof(*bs->sel), GFP_KERNEL_ACCOUNT);
	bs->refs = kmalloc_array(max, sizeof(*bs->refs), GFP_KERNEL_ACCOUNT);
	bs->iov = kmalloc_array(max, sizeof(*bs->iov), GFP_KERNEL_ACCOUNT);
	if (!bs->sel || !bs->refs || !bs->iov)
		return -ENOMEM;
	bs->cap = max;
	return 0;
}

/* Entries holding user addresses: a plain user iovec iterator. */
static int pbuf_bufsel_import_user(struct pbuf_bufsel *bs, int dir)
{
	size_t total = 0;
	unsigned int i;

	for (i = 0; i < bs->nr; i++) {
		void __user *base = u64_to_user_ptr(bs->sel[i].addr);
		size_t len = bs->sel[i].len;

		if (!access_ok(base, len))
			return -EFAULT;
		bs->iov[i].iov_base = base;
		bs->iov[i].iov_len = len;
		total += len;
	}
	iov_iter_init(&bs->iter, dir, bs->iov, bs->nr, total);
	return 0;
}

/*
 * How many runs [@offset, @offset + @len) of @r spans, or 0 for an empty
 * slice; -EFAULT for a slice outside the buffer.
 */
static long pbuf_runs_span(const struct pbuf_runs *r, u64 offset, u64 len)
{
	if (!pbuf_range_ok(r->len, offset, len))
		return -EFAULT;
	if (!len)
		return 0;
	return pbuf_runs_find(r, offset + len - 1) -
	       pbuf_runs_find(r, offset) + 1;
}

/*
 * Entries holding registered-buffer encodings. Consecutive entries naming
 * back-to-back slices of one buffer are one slice (a bundle cut from one
 * area, the usual case); when the whole selection is one slice, the
 * iterator walks the buffer's own run table as for a single entry, else
 * the slices are copied into a bio_vec array, merged where physically
 * contiguous. One reference per registered buffer used (consecutive
 * entries of one buffer share it). Either way a selection spans at most
 * bs->bv.max segments (-E2BIG), a single entry any number.
 */
static int pbuf_bufsel_import_regbuf(struct pbuf_bufsel *bs, int dir)
{
	const struct pbuf_sel *sel = bs->sel;
	struct pbuf_ctx *ctx = bs->ring->ctx;
	unsigned int cap = bs->bv.cap;
	struct pbuf_regbuf *buf = NULL;
	unsigned int nr = bs->nr;
	unsigned int i = 0;
	u64 start, len, next;
	u32 index, cur = 0;
	bool one = true;
	long span;
	int ret;

	/* the selection has at least one entry (pbuf_ring_peek()) */
	do {
		index = iopbuf_regbuf_index(sel[i].addr);
		start = iopbuf_regbuf_offset(sel[i].addr);
		len = sel[i].len;
		/*
		 * Entries that continue the slice have the encoding of its
		 * end: compared encoded, one load per entry. An end past the
		 * offset bits wraps, but is past any buffer too, and both
		 * the merged and the unmerged slice are refused (-EFAULT).
		 */
		next = sel[i].addr + (len << IOPBUF_REGBUF_INDEX_BITS);
		for (i++; i < nr && sel[i].addr == next; i++) {
			len += sel[i].len;
			next += (u64)sel[i].len << IOPBUF_REGBUF_INDEX_BITS;
		}
		if (!buf || index != cur) {
			buf = pbuf_regbuf_get(ctx, index);
			if (IS_ERR(buf))
				return PTR_ERR(buf);
			bs->refs[bs->nr_refs++] = buf;
			cur = index;
		}
		if (i == nr && one)
			break;
		ret = pbuf_bvec_import(&bs->bv, &buf->runs, start, len);
		if (ret)
			goto out;
		one = false;
	} while (i < nr);

	if (one) {
		/*
		 * The whole selection is one slice: the iterator walks the
		 * buffer's own run table. A buffer of at most bv.max runs
		 * cannot exceed it: no count.
		 */
		if (nr > 1 && buf->runs.nr > bs->bv.max) {
			span = pbuf_runs_span(&buf->runs, start, len);
			if (span < 0)
				return span;
			if (span > bs->bv.max)
				return -E2BIG;
		}
		return pbuf_runs_iter(&bs->iter, dir, &buf->runs, start, len);
	}
	ret = 0;
out:
	/* the array grew: kept for the next commands of this object */
	if (bs->bv.cap != cap)
		pbuf_stat_add(cache_misses, 1);
	if (ret)
		return ret;
	iov_iter_bvec(&bs->iter, dir, bs->bv.bv, bs->bv.nr, bs->bv.len);
	return 0;
}

/**
 * pbuf_bufsel_select - select entries from the ring head and import them
 * @bs: selection state
 * @max_len: byte limit, 0 for none
 * @dir: ITER_DEST to receive into the buffers, ITER_SOURCE to send
 *
 * Nothing is consumed until pbuf_bufsel_commit(). On error the caller
 * calls pbuf_bufsel_release().
 *
 * Return: 0, -ENOBUFS (ring empty), -EFAULT (an entry names memory that is
 * not there), -E2BIG (too many segments), -ENOMEM.
 */
int pbuf_bufsel_select(struct pbuf_bufsel *bs, u64 max_len, int dir)
{
	struct pbuf_ring *ring = bs->ring;
	int ret;

	ret = pbuf_ring_select(ring, max_len, bs->max, bs->sel);
	if (ret < 0)
		return ret;
	bs->nr = ret;
	if (ring->flags & IOPBUF_RING_REGBUF)
		ret = pbuf_bufsel_import_regbuf(bs, dir);
	else
		ret = pbuf_bufsel_import_user(bs, dir);
	bs->bytes = iov_iter_count(&bs->iter);
	/*
	 * One transfer moves at most MAX_RW_COUNT bytes, as import_ubuf()
	 * ensures for read(2): entry lengths are the application's, and
	 * socket code takes an int (a 4 GiB entry became len -1 in
	 * unix_stream_sendmsg() and hit skb_over_panic()).
	 */
	if (!ret)
		iov_iter_truncate(&bs->iter, MAX_RW_COUNT);
	return ret;
}

/*
 * pbuf_bufsel_commit() for an IOPBUF_RING_INC ring: advance the entry the
 * bytes ended in, in place (BUF_MORE), and stop at a zero-length entry as
 * upstream does. The completion counts the entries the bytes went into,
 * from the first selected one through the last that received a byte
 * (pbuf_ring_commit_nbufs()).
 */
void pbuf_bufsel_commit_inc(struct pbuf_bufsel *bs, u64 bytes,
			    struct pbuf_commit *c)
{
	struct pbuf_ring *ring = bs->ring;
	u16 head = ring->head;
	bool more;

	/* an encoding advances its offset, above the index bits */
	more = !pbuf_ring_commit_inc_shift(ring->bufs, ring->mask, &ring->head,
					   bs->sel, bs->nr, bytes,
					   ring->min_left,
					   ring->flags & IOPBUF_RING_REGBUF ?
					   IOPBUF_REGBUF_INDEX_BITS : 0);
	c->bid = bs->sel[0].bid;
	c->nbufs = pbuf_ring_commit_nbufs(bs->sel, bs->nr, bytes,
					  (u16)(ring->head - head), more);
	c->flags = IOPBUF_CQE_F_BUFFER | (more ? IOPBUF_CQE_F_BUF_MORE : 0);
}
