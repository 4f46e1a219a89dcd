// SPDX-License-Identifier: GPL-2.0
/*
 * Provided-buffer ring arithmetic: selection and incremental commit.
 *
 * Pure logic: compiled into the module and, unchanged, into the KUnit tree.
 * The ring memory is shared with the application, which may rewrite it at
 * any time: every entry field is read exactly once (READ_ONCE) into a
 * struct pbuf_sel, and everything after selection works on that snapshot.
 * The caller reads the tail with smp_load_acquire() and owns the head.
 */
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/minmax.h>

#include "pbuf_logic.h"

static const struct iopbuf_buf *pbuf_ring_entry(const struct iopbuf_buf *bufs,
						u32 mask, u16 head)
{
	return &bufs[head & mask];
}

/*
 * Snapshot entry @buf, whose len field read @len, into @sel; the command
 * may use @use bytes of it. Each field is read once, here.
 */
static void pbuf_sel_fill(struct pbuf_sel *sel, const struct iopbuf_buf *buf,
			  u32 len, u32 use)
{
	sel->addr = READ_ONCE(buf->addr);
	sel->bid = READ_ONCE(buf->bid);
	sel->buf_len = len;
	sel->len = use;
}

/* Upstream caps a bundle by the entries the first one's length implies. */
static unsigned int pbuf_ring_bundle_cap(u64 max_len, u32 first_len,
					 unsigned int max_bufs)
{
	/* not DIV_ROUND_UP: max_len + first_len - 1 may wrap */
	u64 needed = max_len / first_len + !!(max_len % first_len);

	return min_t(u64, needed, max_bufs);
}

/**
 * pbuf_ring_peek - select entries from the ring head without consuming them
 * @bufs: ring entries
 * @mask: ring_entries - 1
 * @head: the kernel's head
 * @tail: the tail, read by the caller with acquire semantics
 * @max_len: byte limit of the command; 0 for none
 * @max_bufs: entries wanted: 1 for a single buffer, more for a bundle
 * @inc: the ring consumes entries incrementally
 * @sel: @max_bufs slots for the snapshot of the selected entries
 *
 * Follows upstream io_uring: a bundle stops once @max_len bytes are
 * covered and takes at most as many entries as @max_len needs in units of
 * the first entry's length. The entry that crosses @max_len is cut short;
 * on a ring without incremental consumption it is taken only as the first
 * entry, since a partly used buffer would be lost to the application. A
 * bundle whose first entry has length 0 fails; a single selection takes it
 * (with 0 bytes) as upstream does.
 *
 * Return: entries selected (at least 1), or -ENOBUFS when the ring is empty.
 */
int pbuf_ring_peek(const struct iopbuf_buf *bufs, u32 mask, u16 head,
		   u16 tail, u64 max_len, unsigned int max_bufs, bool inc,
		   struct pbuf_sel *sel)
{
	unsigned int avail = pbuf_ring_avail(head, tail);
	const struct iopbuf_buf *buf;
	unsigned int n;
	u32 len, use;

	if (!avail || !max_bufs)
		return -ENOBUFS;
	avail = min(avail, max_bufs);

	buf = pbuf_ring_entry(bufs, mask, head);
	len = READ_ONCE(buf->len);
	if (!max_len) {
		/* no byte limit: every entry whole */
		pbuf_sel_fill(&sel[0], buf, len, len);
		for (n = 1; n < avail; n++) {
			buf = pbuf_ring_entry(bufs, mask, head + n);
			len = READ_ONCE(buf->len);
			pbuf_sel_fill(&sel[n], buf, len, len);
		}
		return n;
	}

	if (max_bufs > 1) {
		if (!len)
			return -ENOBUFS;
		avail = min(avail, pbuf_ring_bundle_cap(max_len, len, avail));
	}
	/* the first entry is cut to the limit on any ring */
	use = min_t(u64, len, max_len);
	pbuf_sel_fill(&sel[0], buf, len, use);
	max_len -= use;
	for (n = 1; n < avail && max_len; n++) {
		buf = pbuf_ring_entry(bufs, mask, head + n);
		len = READ_ONCE(buf->len);
		use = len;
		if (len > max_len) {
			if (!inc)
				break;
			use = max_len;
		}
		pbuf_sel_fill(&sel[n], buf, len, use);
		max_len -= use;
	}
	return n;
}

/**
 * pbuf_ring_commit_nbufs - the entry count a completion reports
 * @sel: the selection, in ring order
 * @nr: entries in @sel
 * @bytes: bytes moved, filling the entries in order (sel[i].len each)
 * @retired: entries the commit retired (how far it moved the head)
 * @kept: the commit left the head on an entry of @sel (an INC commit that
 *	returned false: the completion carries BUF_MORE)
 *
 * The entries the data went into: from sel[0], in ring order, through the
 * last entry that received a byte, zero-length entries in between
 * included (pbuf_ring_bufs_used()). Not what the commit retired: an INC
 * commit stops at a zero-length entry, as upstream's io_kbuf_inc_commit()
 * does, and leaves the head there although later entries of the selection
 * already hold data; the count still reaches the last of those, and they
 * stay in the ring (@kept, BUF_MORE). A commit of 0 bytes that keeps the
 * head entry reports that one entry, as a 0-byte read does.
 *
 * Return: entries to report, at least @retired + @kept, at most @nr.
 */
unsigned int pbuf_ring_commit_nbufs(const struct pbuf_sel *sel,
				    unsigned int nr, u64 bytes,
				    unsigned int retired, bool kept)
{
	unsigned int used = pbuf_ring_bufs_used(sel, nr, bytes);

	return max(used, retired + (kept ? 1U : 0U));
}

/**
 * pbuf_ring_commit_inc_shift - consume @bytes from an incrementally consumed ring
 * @bufs: ring entries
 * @mask: ring_entries - 1
 * @head: the kernel's head, advanced past retired entries
 * @sel: the selection the bytes went to, in ring order from @head
 * @nr: entries in @sel
 * @bytes: bytes moved
 * @min_left: retire an entry once fewer bytes than this remain (0 means 1)
 * @shift: where the byte address sits in an entry's addr: 0 for user
 *	addresses, IOPBUF_REGBUF_INDEX_BITS for registered-buffer encodings,
 *	whose low bits are the buffer index and must not change
 *
 * As pbuf_ring_commit_inc(), for either kind of entry.
 */
bool pbuf_ring_commit_inc_shift(struct iopbuf_buf *bufs, u32 mask, u16 *head,
				const struct pbuf_sel *sel, unsigned int nr,
				u64 bytes, u32 min_left, unsigned int shift)
{
	unsigned int i;

	if (!bytes)
		return false;
	min_left = max(min_left, 1U);

	for (i = 0; bytes && i < nr; i++) {
		struct iopbuf_buf *buf = &bufs[*head & mask];
		u32 this_len = min_t(u64, bytes, sel[i].buf_len);
		u32 left = sel[i].buf_len - this_len;

		if (left >= min_left || !this_len) {
			WRITE_ONCE(buf->addr,
				   sel[i].addr + ((u64)this_len << shift));
			WRITE_ONCE(buf->len, left);
			return false;
		}
		WRITE_ONCE(buf->len, 0);
		(*head)++;
		bytes -= this_len;
	}
	return true;
}

/**
 * pbuf_ring_commit_inc - consume @bytes from an incrementally consumed ring
 * @bufs: ring entries
 * @mask: ring_entries - 1
 * @head: the kernel's head, advanced past retired entries
 * @sel: the selection the bytes went to, in ring order from @head
 * @nr: entries in @sel
 * @bytes: bytes moved
 * @min_left: retire an entry once fewer bytes than this remain (0 means 1)
 *
 * As upstream's io_kbuf_inc_commit(): entries filled (down to fewer than
 * @min_left bytes) get len 0 and the head moves past them; the entry the
 * transfer ended in has its addr advanced and its len reduced in place and
 * stays at the head. A zero-length entry stops the commit where it is,
 * head on it, even when later entries of @sel received bytes (they stay
 * in the ring untouched; pbuf_ring_commit_nbufs() still counts them).
 * 0 bytes consume nothing.
 *
 * Return: true when the head entry was used up, false when it stays
 * partly available (the completion then carries BUF_MORE).
 */
bool pbuf_ring_commit_inc(struct iopbuf_buf *bufs, u32 mask, u16 *head,
			  const struct pbuf_sel *sel, unsigned int nr,
			  u64 bytes, u32 min_left)
{
	return pbuf_ring_commit_inc_shift(bufs, mask, head, sel, nr, bytes,
					  min_left, 0);
}
