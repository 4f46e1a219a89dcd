/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure logic of iouring-pbuf: registered-buffer segment tables, bio_vec
 * import with merging, and provided-buffer ring arithmetic.
 *
 * Everything declared here compiles unchanged into the module and into a
 * KUnit staging tree: it knows nothing of io_uring, sockets, files or the
 * compat layer. Inputs and outputs are plain values, pages and bio_vecs.
 */
#ifndef _PBUF_LOGIC_H
#define _PBUF_LOGIC_H

#include <linux/bvec.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/nospec.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/iouring_pbuf.h>

/* Most ring entries one command may select (a bundle). */
#define PBUF_MAX_BUNDLE_BUFS	256
/* Most bio_vec segments one command may build. */
#define PBUF_MAX_BUNDLE_SEGS	1024
/* Inline segments in struct pbuf_bvec_out before it allocates. */
#define PBUF_INLINE_SEGS	8

/* ------------------------------------------------------------------------
 * Registered-buffer slices
 */

/* Does [@offset, @offset + @len) lie inside a buffer of @buf_len bytes? */
static inline bool pbuf_range_ok(u64 buf_len, u64 offset, u64 len)
{
	return offset <= buf_len && len <= buf_len - offset;
}

/*
 * The pages of one registered buffer, as folio runs: each bio_vec covers
 * physically contiguous pages of a single folio, so a buffer backed by
 * 2 MiB huge pages needs one segment per huge page. bv[i].bv_offset is
 * below PAGE_SIZE; start[i] is the byte offset of bv[i] in the buffer, so
 * start[0] == 0 and start[i + 1] == start[i] + bv[i].bv_len.
 *
 * Every run but the first starts on a page boundary of the user mapping,
 * so each of the buffer's pages lies in one run: page_run, when set, maps
 * page p (counted from the first one, which holds byte 0 at
 * bv[0].bv_offset) to its run, nr_pages entries (pbuf_runs_index_fill()).
 * A table of many runs of unequal sizes (order-0 pages, mostly) finds a
 * run there at once rather than by binary search.
 */
struct pbuf_runs {
	struct bio_vec	*bv;
	u64		*start;
	unsigned int	nr;
	unsigned int	cap;
	u64		len;
	u32		*page_run;	/* NULL: pbuf_runs_find() searches */
	unsigned int	nr_pages;
};

/* Tables of more runs than this are worth a page index (struct pbuf_runs). */
#define PBUF_RUNS_INDEX_MIN	8

/* How many pages @r spans: the entries of its page index. */
static inline unsigned long pbuf_runs_pages(const struct pbuf_runs *r)
{
	return r->nr ? DIV_ROUND_UP(r->bv[0].bv_offset + r->len, PAGE_SIZE) : 0;
}

int pbuf_runs_add(struct pbuf_runs *r, struct page *page,
		  unsigned int offset, unsigned int len);
unsigned int pbuf_runs_search(const struct pbuf_runs *r, u64 offset);

/**
 * pbuf_runs_find - the run holding byte @offset of the buffer
 * @r: a non-empty run table
 * @offset: a byte offset below @r->len
 *
 * One load with a page index, else pbuf_runs_search().
 */
static inline unsigned int pbuf_runs_find(const struct pbuf_runs *r,
					  u64 offset)
{
	unsigned long page;

	if (!r->page_run)
		return pbuf_runs_search(r, offset);
	page = (offset + r->bv[0].bv_offset) >> PAGE_SHIFT;
	/* @offset is untrusted (a ring entry's): clamp speculation */
	return r->page_run[array_index_nospec(page, r->nr_pages)];
}

void pbuf_runs_index_fill(struct pbuf_runs *r, u32 *page_run);

/**
 * pbuf_runs_iter - point @iter at a slice of a registered buffer
 * @iter: the iterator to set up
 * @dir: ITER_SOURCE or ITER_DEST
 * @src: the buffer's run table; must outlive @iter's use
 * @offset: first byte of the slice in the buffer
 * @len: bytes in the slice
 *
 * No bio_vec is copied: the iterator walks @src's own table from the run
 * holding @offset, starting that far into it, as io_import_fixed() does
 * for io_uring's registered buffers.
 *
 * Return: 0, or -EFAULT for a slice outside the buffer.
 */
static inline int pbuf_runs_iter(struct iov_iter *iter, int dir,
				 const struct pbuf_runs *src, u64 offset,
				 u64 len)
{
	unsigned int i;
	u64 skip;

	if (!pbuf_range_ok(src->len, offset, len))
		return -EFAULT;
	if (!len) {
		iov_iter_bvec(iter, dir, src->bv, 0, 0);
		return 0;
	}
	i = pbuf_runs_find(src, offset);
	skip = offset - src->start[i];
	/*
	 * @offset lies inside run i, so skip < bv[i].bv_len: setting the
	 * offset is what iov_iter_advance() would do, without its walk.
	 */
	iov_iter_bvec(iter, dir, &src->bv[i], src->nr - i, len);
	iter->iov_offset = skip;
	return 0;
}

/*
 * A growable bio_vec array for one command: starts in @inline_bv and moves
 * to the heap when a bundle needs more, never beyond @max segments.
 */
struct pbuf_bvec_out {
	struct bio_vec	*bv;
	unsigned int	nr;
	unsigned int	cap;
	unsigned int	max;
	u64		len;
	gfp_t		gfp;
	/* where the last import ended: the next slice's lookup starts there */
	const struct pbuf_runs *last_src;
	unsigned int	last_run;
	struct bio_vec	inline_bv[PBUF_INLINE_SEGS];
};

void pbuf_bvec_out_init(struct pbuf_bvec_out *out, unsigned int max, gfp_t gfp);
void pbuf_bvec_out_release(struct pbuf_bvec_out *out);

/*
 * Empty @out for the next command but keep the array it grew, so a reused
 * command object builds its next bundle without allocating.
 * pbuf_bvec_out_release() frees it.
 */
static inline void pbuf_bvec_out_reuse(struct pbuf_bvec_out *out)
{
	out->nr = 0;
	out->len = 0;
	out->last_src = NULL;
}

int pbuf_bvec_import(struct pbuf_bvec_out *out, const struct pbuf_runs *src,
		     u64 offset, u64 len);

/* ------------------------------------------------------------------------
 * Provided-buffer ring arithmetic. head and tail are free-running u16
 * counters; entry i lives at bufs[i & mask].
 */

/*
 * One ring entry as read (once) at selection time: @buf_len is the entry's
 * len field, @len the part of it this command may use (a bundle's byte
 * limit can cut the last entry short). Commits work from this snapshot, so
 * an application rewriting an entry in flight cannot make the kernel
 * account for bytes it did not move.
 */
struct pbuf_sel {
	u64	addr;
	u32	len;
	u32	buf_len;
	u16	bid;
};

static inline u16 pbuf_ring_avail(u16 head, u16 tail)
{
	return (u16)(tail - head);
}

int pbuf_ring_peek(const struct iopbuf_buf *bufs, u32 mask, u16 head,
		   u16 tail, u64 max_len, unsigned int max_bufs, bool inc,
		   struct pbuf_sel *sel);

/**
 * pbuf_ring_bufs_used - entries a transfer of @bytes touched
 * @sel: the selection, in ring order
 * @nr: entries in @sel
 * @bytes: bytes moved, filling the entries in order
 *
 * On a ring without incremental consumption every touched entry is
 * consumed whole, including a partly filled last one, and so are empty
 * entries the transfer passed. 0 bytes touch nothing. Inline: every
 * commit walks the selection with it.
 */
static inline unsigned int pbuf_ring_bufs_used(const struct pbuf_sel *sel,
					       unsigned int nr, u64 bytes)
{
	unsigned int i = 0;

	while (bytes && i < nr) {
		bytes -= min_t(u64, bytes, sel[i].len);
		i++;
	}
	return i;
}

unsigned int pbuf_ring_commit_nbufs(const struct pbuf_sel *sel,
				    unsigned int nr, u64 bytes,
				    unsigned int retired, bool kept);
bool pbuf_ring_commit_inc(struct iopbuf_buf *bufs, u32 mask, u16 *head,
			  const struct pbuf_sel *sel, unsigned int nr,
			  u64 bytes, u32 min_left);
bool pbuf_ring_commit_inc_shift(struct iopbuf_buf *bufs, u32 mask, u16 *head,
				const struct pbuf_sel *sel, unsigned int nr,
				u64 bytes, u32 min_left, unsigned int shift);

#endif /* _PBUF_LOGIC_H */
