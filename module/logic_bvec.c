// SPDX-License-Identifier: GPL-2.0
/*
 * Registered-buffer segment tables and bio_vec import.
 *
 * Pure logic: compiled into the module and, unchanged, into the KUnit tree.
 */
#include <linux/bug.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uio.h>

#include "pbuf_logic.h"

/* Physical address of byte @offset of @page; @offset may exceed a page. */
static u64 pbuf_phys(struct page *page, u64 offset)
{
	return ((u64)page_to_pfn(page) << PAGE_SHIFT) + offset;
}

/*
 * Do @len bytes at @offset of @page continue @prev in memory, inside the
 * same folio? Only then may they share one bio_vec: a folio is physically
 * contiguous, two neighbouring folios need not stay so.
 */
static bool pbuf_bvec_continues(const struct bio_vec *prev, struct page *page,
				u64 offset)
{
	u64 prev_end = pbuf_phys(prev->bv_page,
				 (u64)prev->bv_offset + prev->bv_len);

	return prev_end == pbuf_phys(page, offset) &&
	       page_folio(prev->bv_page) == page_folio(page);
}

/**
 * pbuf_runs_add - append part of a pinned page to a buffer's run table
 * @r: the table; @r->cap slots were allocated by the caller
 * @page: the page
 * @offset: first byte used in @page
 * @len: bytes used, ending at or before the page end
 *
 * Pages arrive in buffer order. A page that continues the last run within
 * its folio extends it; any other starts a new run.
 *
 * Return: 0, -EINVAL for a range outside the page, -E2BIG when @r is full.
 */
int pbuf_runs_add(struct pbuf_runs *r, struct page *page, unsigned int offset,
		  unsigned int len)
{
	if (!len || offset >= PAGE_SIZE || len > PAGE_SIZE - offset)
		return -EINVAL;

	if (r->nr && pbuf_bvec_continues(&r->bv[r->nr - 1], page, offset)) {
		r->bv[r->nr - 1].bv_len += len;
		r->len += len;
		return 0;
	}
	if (r->nr == r->cap)
		return -E2BIG;

	r->bv[r->nr].bv_page = page;
	r->bv[r->nr].bv_offset = offset;
	r->bv[r->nr].bv_len = len;
	r->start[r->nr] = r->len;
	r->nr++;
	r->len += len;
	return 0;
}

/**
 * pbuf_runs_index_fill - give a complete run table its page index
 * @r: the table, all its runs added
 * @page_run: pbuf_runs_pages(@r) entries, owned by @r from now on
 *
 * See struct pbuf_runs: page p goes to the run holding the page's first
 * byte, which holds all of it.
 */
void pbuf_runs_index_fill(struct pbuf_runs *r, u32 *page_run)
{
	unsigned long p = 0, end;
	unsigned int i;

	for (i = 0; i < r->nr; i++) {
		/* the run's end, counted from the first page's start */
		end = r->bv[0].bv_offset + r->start[i] + r->bv[i].bv_len;
		for (; ((u64)p << PAGE_SHIFT) < end; p++)
			page_run[p] = i;
	}
	r->page_run = page_run;
	r->nr_pages = p;
}

/*
 * pbuf_runs_find() for a table without a page index: direct for tables of
 * equal runs, else a binary search for the last run starting at or before
 * @offset. An offset equal to a run's end belongs to the next run: that is
 * the off-by-one the provided-registered-buffers RFC had (it compared with
 * '>' and produced an empty segment at the end of the previous one).
 */
unsigned int pbuf_runs_search(const struct pbuf_runs *r, u64 offset)
{
	unsigned int lo = 0, hi = r->nr;

	/*
	 * Runs of one power-of-two size from offset 0 (order-0 pages, or
	 * huge pages of one size): the run is offset >> size. The guess is
	 * checked, so any other table still gets the right answer below.
	 */
	if (hi > 1 && is_power_of_2(r->bv[0].bv_len)) {
		u64 g = offset >> ilog2(r->bv[0].bv_len);

		if (g < hi && r->start[g] <= offset &&
		    (g + 1 == hi || offset < r->start[g + 1]))
			return g;
	}

	while (hi - lo > 1) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (r->start[mid] <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void pbuf_bvec_out_init(struct pbuf_bvec_out *out, unsigned int max, gfp_t gfp)
{
	out->bv = out->inline_bv;
	out->nr = 0;
	out->cap = min_t(unsigned int, PBUF_INLINE_SEGS, max);
	out->max = max;
	out->len = 0;
	out->gfp = gfp;
	out->last_src = NULL;
}

void pbuf_bvec_out_release(struct pbuf_bvec_out *out)
{
	if (out->bv != out->inline_bv)
		kfree(out->bv);
	pbuf_bvec_out_init(out, out->max, out->gfp);
}

/*
 * The run holding @offset of @src. A bundle's slices mostly follow one
 * another: try the run the previous slice of the same buffer ended in and
 * the next one before searching.
 */
static unsigned int pbuf_bvec_find(const struct pbuf_bvec_out *out,
				   const struct pbuf_runs *src, u64 offset)
{
	unsigned int i = out->last_run;

	if (out->last_src == src && i < src->nr && src->start[i] <= offset) {
		if (i + 1 == src->nr || offset < src->start[i + 1])
			return i;
		if (i + 2 == src->nr || offset < src->start[i + 2])
			return i + 1;
	}
	return pbuf_runs_find(src, offset);
}

/* Double the array, up to @out->max segments. */
static int pbuf_bvec_out_grow(struct pbuf_bvec_out *out)
{
	unsigned int cap = min(out->cap * 2, out->max);
	struct bio_vec *bv;

	if (out->cap >= out->max)
		return -E2BIG;
	bv = kmalloc_array(cap, sizeof(*bv), out->gfp);
	if (!bv)
		return -ENOMEM;
	memcpy(bv, out->bv, out->nr * sizeof(*bv));
	if (out->bv != out->inline_bv)
		kfree(out->bv);
	out->bv = bv;
	out->cap = cap;
	return 0;
}

/* Append one segment, merging it into the previous one when contiguous. */
static int pbuf_bvec_emit(struct pbuf_bvec_out *out, struct page *page,
			  unsigned int offset, unsigned int len)
{
	struct bio_vec *bv;
	int ret;

	if (out->nr && pbuf_bvec_continues(&out->bv[out->nr - 1], page, offset)) {
		out->bv[out->nr - 1].bv_len += len;
		out->len += len;
		return 0;
	}
	if (out->nr == out->cap) {
		ret = pbuf_bvec_out_grow(out);
		if (ret)
			return ret;
	}
	bv = &out->bv[out->nr++];
	bv->bv_page = page;
	bv->bv_offset = offset;
	bv->bv_len = len;
	out->len += len;
	return 0;
}

/**
 * pbuf_bvec_import - append a slice of a registered buffer to @out
 * @out: the command's bio_vec array
 * @src: the buffer's run table
 * @offset: first byte of the slice in the buffer
 * @len: bytes in the slice; 0 appends nothing
 *
 * Segments are multi-page bio_vecs (bv_offset may exceed PAGE_SIZE), which
 * iov_iter_bvec() users handle. On error @out may hold part of the slice;
 * the caller fails the command and releases @out.
 *
 * Return: 0, -EFAULT for a slice outside the buffer, -E2BIG when the slice
 * needs more than @out->max segments, -ENOMEM.
 */
int pbuf_bvec_import(struct pbuf_bvec_out *out, const struct pbuf_runs *src,
		     u64 offset, u64 len)
{
	unsigned int i;
	u64 off;
	int ret;

	if (!pbuf_range_ok(src->len, offset, len))
		return -EFAULT;
	if (!len)
		return 0;

	i = pbuf_bvec_find(out, src, offset);
	off = offset - src->start[i];
	while (len) {
		const struct bio_vec *run;
		u32 take;

		if (WARN_ON_ONCE(i >= src->nr))
			return -EFAULT;
		run = &src->bv[i++];
		take = min_t(u64, len, run->bv_len - off);
		ret = pbuf_bvec_emit(out, run->bv_page, run->bv_offset + off,
				     take);
		if (ret)
			return ret;
		len -= take;
		off = 0;
	}
	out->last_src = src;
	out->last_run = i - 1;
	return 0;
}

