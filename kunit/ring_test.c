// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the provided-buffer ring arithmetic (module/logic_ring.c):
 * selection of single buffers and bundles, the bytes-to-buffers count, and
 * incremental commit, following upstream io_uring's kbuf.c rules and the
 * liburing tests recvmsg-inc-tail and read-inc-file.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/string.h>

#include "pbuf_logic.h"

#define RING_ENTRIES	8
#define RING_MASK	(RING_ENTRIES - 1)
#define SEL_MAX		RING_ENTRIES

/* Entry i (counted from the head the ring was filled at). */
#define ENTRY_ADDR(i)	(0x100000ULL * ((i) + 1))
#define ENTRY_BID(i)	((u16)(10 + (i)))

struct ring_fixture {
	struct iopbuf_buf bufs[RING_ENTRIES];
	struct pbuf_sel sel[SEL_MAX];
};

static int ring_test_init(struct kunit *test)
{
	struct ring_fixture *fx = kunit_kzalloc(test, sizeof(*fx), GFP_KERNEL);

	if (!fx)
		return -ENOMEM;
	test->priv = fx;
	return 0;
}

/*
 * Put @nr entries with lengths @lens at ring positions @head, @head + 1, ...
 * and return the matching tail.
 */
static u16 ring_fill(struct iopbuf_buf *bufs, u32 mask, u16 head,
		     const u32 *lens, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct iopbuf_buf *buf = &bufs[(u16)(head + i) & mask];

		buf->addr = ENTRY_ADDR(i);
		buf->len = lens[i];
		buf->bid = ENTRY_BID(i);
	}
	return head + nr;
}

/* pbuf_ring_peek() on the fixture's ring into its selection array. */
static int ring_peek(struct ring_fixture *fx, u16 head, u16 tail, u64 max_len,
		     unsigned int max_bufs, bool inc)
{
	return pbuf_ring_peek(fx->bufs, RING_MASK, head, tail, max_len,
			      max_bufs, inc, fx->sel);
}

/* pbuf_ring_commit_inc() of the fixture's first @nr selected entries. */
static bool ring_commit(struct ring_fixture *fx, u16 *head, unsigned int nr,
			u64 bytes, u32 min_left)
{
	return pbuf_ring_commit_inc(fx->bufs, RING_MASK, head, fx->sel, nr,
				    bytes, min_left);
}

static void ring_expect_sel(struct kunit *test, const struct pbuf_sel *sel,
			    unsigned int i, u32 len, u32 buf_len)
{
	KUNIT_EXPECT_EQ_MSG(test, sel->addr, ENTRY_ADDR(i), "entry %u", i);
	KUNIT_EXPECT_EQ_MSG(test, sel->bid, ENTRY_BID(i), "entry %u", i);
	KUNIT_EXPECT_EQ_MSG(test, sel->len, len, "entry %u", i);
	KUNIT_EXPECT_EQ_MSG(test, sel->buf_len, buf_len, "entry %u", i);
}

/* Ring entry @pos holds @addr and @len. */
static void ring_expect_buf(struct kunit *test, const struct ring_fixture *fx,
			    unsigned int pos, u64 addr, u32 len)
{
	KUNIT_EXPECT_EQ_MSG(test, fx->bufs[pos].addr, addr, "bufs[%u]", pos);
	KUNIT_EXPECT_EQ_MSG(test, fx->bufs[pos].len, len, "bufs[%u]", pos);
}

/* Free-running u16 head and tail, wrapping at 65535 -> 0. */
static void ring_avail_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(0, 0), 0);
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(0, 5), 5);
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(65535, 65535), 0);
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(65535, 0), 1);
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(65535, 4), 5);
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(65530, 2), 8);
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(100, 99), 65535);
}

/* An empty ring, or asking for no entries, gives -ENOBUFS and no output. */
static void peek_empty_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096 };
	struct pbuf_sel canary;

	memset(fx->sel, 0xa5, sizeof(fx->sel));
	canary = fx->sel[0];
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, 0, 0, 1, false), -ENOBUFS);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 65535, 65535, 100, 4, true),
			-ENOBUFS);
	ring_fill(fx->bufs, RING_MASK, 0, lens, 1);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, 1, 0, 0, false), -ENOBUFS);
	KUNIT_EXPECT_EQ(test, memcmp(&fx->sel[0], &canary, sizeof(canary)), 0);
}

/* A single selection snapshots the head entry whole. */
static void peek_single_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096, 2048, 1024 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 3);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 0, 1, false), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 4096, 4096);

	/* from the second entry on */
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 1, tail, 0, 1, true), 1);
	ring_expect_sel(test, &fx->sel[0], 1, 2048, 2048);
}

/*
 * head 65535, tail 1, mask 7: the head entry is bufs[7], the next one
 * bufs[0].
 */
static void peek_wrap_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 300, 400 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 65535, lens, 2);

	KUNIT_ASSERT_EQ(test, tail, 1);
	KUNIT_EXPECT_EQ(test, fx->bufs[7].len, 300);
	KUNIT_EXPECT_EQ(test, fx->bufs[0].len, 400);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 65535, tail, 0, 1, false), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 300, 300);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 65535, tail, 0, 4, false), 2);
	ring_expect_sel(test, &fx->sel[0], 0, 300, 300);
	ring_expect_sel(test, &fx->sel[1], 1, 400, 400);
}

/* A single selection with a byte limit is cut short, on any ring. */
static void peek_single_max_len_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 1);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 100, 1, false), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 100, 4096);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 100, 1, true), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 100, 4096);
	/* a limit above the length changes nothing */
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 8192, 1, false), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 4096, 4096);
}

/* A single selection takes a zero-length head entry, as upstream does. */
static void peek_single_zero_len_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 0, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 2);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 100, 1, false), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 0, 1, true), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 0, 0);
}

/* A bundle with a byte limit refuses a zero-length head entry. */
static void bundle_zero_len_first_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 0, 100, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 3);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 100, 4, false), -ENOBUFS);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 100, 4, true), -ENOBUFS);
}

/* A bundle takes at most max_bufs entries, and at most what is there. */
static void bundle_max_bufs_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 100, 100, 100, 100, 100, 100, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 8);
	unsigned int i;

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 0, 3, false), 3);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 10000, 3, false), 3);
	for (i = 0; i < 3; i++)
		ring_expect_sel(test, &fx->sel[i], i, 100, 100);

	/* only two entries published */
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, 2, 0, SEL_MAX, false), 2);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, 2, 10000, SEL_MAX, true), 2);
}

/*
 * A bundle stops once max_len bytes are covered; without incremental
 * consumption the entry crossing the limit is left out.
 */
static void bundle_max_len_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 100, 100, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 250, SEL_MAX, false), 2);
	ring_expect_sel(test, &fx->sel[1], 1, 100, 100);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 250, SEL_MAX, true), 3);
	ring_expect_sel(test, &fx->sel[2], 2, 50, 100);
}

/* A limit met exactly ends the bundle at that entry, on any ring. */
static void bundle_exact_max_len_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 50, 100, 50, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 200, SEL_MAX, false), 3);
	ring_expect_sel(test, &fx->sel[2], 2, 50, 50);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 200, SEL_MAX, true), 3);
}

/*
 * Upstream's cap: a bundle has at most DIV_ROUND_UP(max_len, first_len)
 * entries, even when later, shorter entries leave bytes uncovered.
 */
static void bundle_upstream_cap_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 10, 10, 10, 10, 10, 10, 10 };
	static const u32 lens64[] = { 64, 64, 64, 64 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 8);

	/* DIV_ROUND_UP(150, 100) == 2 */
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 150, SEL_MAX, false), 2);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 150, SEL_MAX, true), 2);
	/* DIV_ROUND_UP(100, 100) == 1 */
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 100, SEL_MAX, false), 1);

	/* DIV_ROUND_UP(129, 64) == 3: the third entry holds the last byte */
	tail = ring_fill(fx->bufs, RING_MASK, 0, lens64, 4);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 129, SEL_MAX, false), 2);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 129, SEL_MAX, true), 3);
	ring_expect_sel(test, &fx->sel[2], 2, 1, 64);
}

/* The first entry of a bundle may be cut short on any ring. */
static void bundle_truncate_first_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 2);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 1000, SEL_MAX, false), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 1000, 4096);
}

/*
 * Without incremental consumption a later entry is never cut short: the
 * bundle stops before it. With it, the entry is included, cut short.
 */
static void bundle_truncate_later_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 4096, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 3);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 1000, SEL_MAX, false), 1);
	ring_expect_sel(test, &fx->sel[0], 0, 100, 100);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 1000, SEL_MAX, true), 2);
	ring_expect_sel(test, &fx->sel[0], 0, 100, 100);
	ring_expect_sel(test, &fx->sel[1], 1, 900, 4096);
}

/* Zero-length entries after the first are taken and cover 0 bytes. */
static void bundle_zero_len_middle_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 0, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 3);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 1000, SEL_MAX, false), 3);
	ring_expect_sel(test, &fx->sel[1], 1, 0, 0);
	ring_expect_sel(test, &fx->sel[2], 2, 100, 100);
}

/* Without a byte limit a bundle is every available entry, whole. */
static void bundle_no_max_len_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 200, 300 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 3);
	unsigned int i;

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, 0, SEL_MAX, false), 3);
	for (i = 0; i < 3; i++)
		ring_expect_sel(test, &fx->sel[i], i, lens[i], lens[i]);
}

/*
 * A byte limit so large that max_len + first_len - 1 wraps around u64 is
 * still a limit far above what the ring holds.
 */
static void bundle_huge_max_len_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 2, 2, 2, 2 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);

	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, U64_MAX / 2, SEL_MAX,
					false), 4);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, U64_MAX, SEL_MAX, false),
			4);
	KUNIT_EXPECT_EQ(test, ring_peek(fx, 0, tail, U64_MAX, SEL_MAX, true),
			4);
}

/*
 * The selection is a snapshot: rewriting the ring afterwards does not
 * change it, and peeking never writes the ring (upstream no longer writes
 * a truncated length back).
 */
static void peek_snapshot_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096, 4096 };
	struct iopbuf_buf copy[RING_ENTRIES];
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 2);

	memcpy(copy, fx->bufs, sizeof(copy));
	KUNIT_ASSERT_EQ(test, ring_peek(fx, 0, tail, 5000, SEL_MAX, true), 2);
	KUNIT_EXPECT_EQ(test, memcmp(copy, fx->bufs, sizeof(copy)), 0);
	KUNIT_ASSERT_EQ(test, ring_peek(fx, 0, tail, 1000, SEL_MAX, false), 1);
	KUNIT_EXPECT_EQ(test, memcmp(copy, fx->bufs, sizeof(copy)), 0);

	fx->bufs[0].addr = 0xdead0000;
	fx->bufs[0].len = 1;
	fx->bufs[0].bid = 999;
	ring_expect_sel(test, &fx->sel[0], 0, 1000, 4096);
}

/* Bytes moved -> entries touched, 0 bytes touching none. */
static void bufs_used_test(struct kunit *test)
{
	static const struct pbuf_sel sel[] = {
		{ .len = 100, .buf_len = 100 },
		{ .len = 100, .buf_len = 100 },
		{ .len = 100, .buf_len = 4096 },
	};

	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 3, 0), 0);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 3, 1), 1);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 3, 100), 1);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 3, 101), 2);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 3, 299), 3);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 3, 300), 3);
	/* never more than selected, and counted on the selected length */
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 3, 1000), 3);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 2, 1000), 2);
}

/*
 * Zero-length entries the transfer passed count as used; those after its
 * last byte do not.
 */
static void bufs_used_zero_len_test(struct kunit *test)
{
	static const struct pbuf_sel sel[] = {
		{ .len = 100, .buf_len = 100 },
		{ .len = 0, .buf_len = 0 },
		{ .len = 0, .buf_len = 0 },
		{ .len = 100, .buf_len = 100 },
	};

	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 4, 150), 4);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel, 4, 100), 1);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(sel + 1, 3, 50), 3);
}

/* 0 bytes consume nothing: false (BUF_MORE), ring and head untouched. */
static void commit_zero_bytes_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096 };
	struct iopbuf_buf copy[RING_ENTRIES];
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 1);
	u16 head = 0;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 1, true), 1);
	memcpy(copy, fx->bufs, sizeof(copy));
	KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 1, 0, 1));
	KUNIT_EXPECT_EQ(test, head, 0);
	KUNIT_EXPECT_EQ(test, memcmp(copy, fx->bufs, sizeof(copy)), 0);
}

/* A partial consume advances addr and shrinks len in place; head stays. */
static void commit_partial_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 1);
	u16 head = 0;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 1, true), 1);
	KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 1, 100, 0));
	KUNIT_EXPECT_EQ(test, head, 0);
	ring_expect_buf(test, fx, 0, ENTRY_ADDR(0) + 100, 3996);
	KUNIT_EXPECT_EQ(test, fx->bufs[0].bid, ENTRY_BID(0));
}

/* Filling an entry exactly retires it: len 0, head moves, true. */
static void commit_exact_fill_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096, 4096 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 2);
	u16 head = 0;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 1, true), 1);
	KUNIT_EXPECT_TRUE(test, ring_commit(fx, &head, 1, 4096, 1));
	KUNIT_EXPECT_EQ(test, head, 1);
	KUNIT_EXPECT_EQ(test, fx->bufs[0].len, 0);
	/* as upstream, a retired entry's addr is left alone */
	KUNIT_EXPECT_EQ(test, fx->bufs[0].addr, ENTRY_ADDR(0));
	KUNIT_EXPECT_EQ(test, fx->bufs[1].len, 4096);
}

/* With min_left 1 (or 0, meaning 1) a 1-byte remainder stays available. */
static void commit_one_byte_left_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096 };
	u32 min_left;

	for (min_left = 0; min_left <= 1; min_left++) {
		u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 1);
		u16 head = 0;

		KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 1, true), 1);
		KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 1, 4095,
						     min_left));
		KUNIT_EXPECT_EQ(test, head, 0);
		ring_expect_buf(test, fx, 0, ENTRY_ADDR(0) + 4095, 1);
	}
}

/* min_left 32: a 31-byte remainder is retired, a 32-byte one stays. */
static void commit_min_left_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 1024, 1024 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 2);
	u16 head = 0;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 1, true), 1);
	KUNIT_EXPECT_TRUE(test, ring_commit(fx, &head, 1, 1024 - 31, 32));
	KUNIT_EXPECT_EQ(test, head, 1);
	KUNIT_EXPECT_EQ(test, fx->bufs[0].len, 0);

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 1, true), 1);
	KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 1, 1024 - 32, 32));
	KUNIT_EXPECT_EQ(test, head, 1);
	ring_expect_buf(test, fx, 1, ENTRY_ADDR(1) + 1024 - 32, 32);
}

/* A bundle commit retires filled entries and stops in the partial one. */
static void commit_multi_entry_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 100, 100, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);
	u16 head = 0;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 300, SEL_MAX, true), 3);
	KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 3, 250, 1));
	KUNIT_EXPECT_EQ(test, head, 2);
	KUNIT_EXPECT_EQ(test, fx->bufs[0].len, 0);
	KUNIT_EXPECT_EQ(test, fx->bufs[1].len, 0);
	ring_expect_buf(test, fx, 2, ENTRY_ADDR(2) + 50, 50);
	KUNIT_EXPECT_EQ(test, fx->bufs[3].len, 100);

	/* all of a fresh selection: every entry retired */
	tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);
	head = 0;
	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 300, SEL_MAX, true), 3);
	KUNIT_EXPECT_TRUE(test, ring_commit(fx, &head, 3, 300, 1));
	KUNIT_EXPECT_EQ(test, head, 3);
	KUNIT_EXPECT_EQ(test, fx->bufs[3].len, 100);
}

/* More bytes than selected never retire entries beyond the selection. */
static void commit_beyond_selection_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 100, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 3);
	u16 head = 0;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 2, true), 2);
	KUNIT_EXPECT_TRUE(test, ring_commit(fx, &head, 2, 500, 1));
	KUNIT_EXPECT_EQ(test, head, 2);
	ring_expect_buf(test, fx, 2, ENTRY_ADDR(2), 100);
}

/* Commit across the wrap: bufs[7] retired, head 65535 -> 0, bufs[0] cut. */
static void commit_wrap_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 300, 400 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 65535, lens, 2);
	u16 head = 65535;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, SEL_MAX, true), 2);
	KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 2, 310, 1));
	KUNIT_EXPECT_EQ(test, head, 0);
	KUNIT_EXPECT_EQ(test, fx->bufs[7].len, 0);
	ring_expect_buf(test, fx, 0, ENTRY_ADDR(1) + 10, 390);
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(head, tail), 1);
}

/*
 * A zero-length entry stops the commit where it is (upstream's "!this"
 * case): head stays on it, the result is BUF_MORE.
 */
static void commit_zero_len_entry_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens0[] = { 0 };
	static const u32 lens[] = { 100, 0, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens0, 1);
	u16 head = 0;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 1, true), 1);
	KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 1, 10, 1));
	KUNIT_EXPECT_EQ(test, head, 0);
	ring_expect_buf(test, fx, 0, ENTRY_ADDR(0), 0);

	tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 3);
	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 1000, SEL_MAX, true),
			3);
	KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 3, 150, 1));
	KUNIT_EXPECT_EQ(test, head, 1);
	KUNIT_EXPECT_EQ(test, fx->bufs[2].len, 100);
}

/*
 * What pbuf_bufsel_commit() reports for an INC ring: the commit, then the
 * count of the entries the data went into. Returns BUF_MORE.
 */
static bool ring_commit_report(struct ring_fixture *fx, u16 *head,
			       unsigned int nr, u64 bytes, unsigned int *nbufs)
{
	u16 old = *head;
	bool more = !ring_commit(fx, head, nr, bytes, 1);

	*nbufs = pbuf_ring_commit_nbufs(fx->sel, nr, bytes, (u16)(*head - old),
					more);
	return more;
}

/*
 * Issue 13 item 6, first case: entries { 100, 0, 100, 100 } with bids
 * 10..13, a bundle receives 150 bytes: 100 into entry 0, none into the
 * empty entry 1, 50 into entry 2. The ring ends as upstream's
 * io_kbuf_inc_commit() leaves it (entry 0 retired, the head stopped on the
 * empty entry 1, entries 2 and 3 untouched); the completion reports bid 10
 * with 3 entries (it used to say 2: retired + the kept one) and BUF_MORE,
 * since entry 2, which holds data, is still in the ring. The same with or
 * without a byte limit, and when the bytes fill entry 2 exactly.
 */
static void report_zero_len_inside_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 0, 100, 100 };
	static const u64 limits[] = { 1000, 0 };
	static const u64 sizes[] = { 150, 200 };
	unsigned int l, b, nbufs;

	for (l = 0; l < ARRAY_SIZE(limits); l++) {
		for (b = 0; b < ARRAY_SIZE(sizes); b++) {
			u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);
			u16 head = 0;

			KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail,
							limits[l], SEL_MAX,
							true), 4);
			KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(fx->sel, 4,
								  sizes[b]), 3);
			KUNIT_EXPECT_TRUE(test, ring_commit_report(fx, &head, 4,
								   sizes[b],
								   &nbufs));
			KUNIT_EXPECT_EQ(test, fx->sel[0].bid, ENTRY_BID(0));
			KUNIT_EXPECT_EQ_MSG(test, nbufs, 3,
					    "limit %llu bytes %llu",
					    limits[l], sizes[b]);
			/* upstream's ring state */
			KUNIT_EXPECT_EQ(test, head, 1);
			ring_expect_buf(test, fx, 0, ENTRY_ADDR(0), 0);
			ring_expect_buf(test, fx, 1, ENTRY_ADDR(1), 0);
			ring_expect_buf(test, fx, 2, ENTRY_ADDR(2), 100);
			KUNIT_EXPECT_EQ(test, fx->bufs[3].len, 100);
		}
	}
}

/*
 * Issue 13 item 6, second case ("bid 1 count 1, bytes in entry 2"): after
 * the first case the head sits on the empty entry (bid 11). A bundle with
 * a byte limit refuses it (-ENOBUFS, as upstream with max_len), but one
 * without a limit takes it as its first entry, 0 bytes long, followed by
 * entries 2 and 3; 60 bytes land in entry 2. The commit stops at once on
 * the empty entry (nothing retired, head stays), so retired + kept said
 * bid 11 count 1; the data went into 2 entries from bid 11.
 */
static void report_zero_len_head_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 0, 0, 100, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);
	u16 head = 1;
	unsigned int nbufs;

	KUNIT_EXPECT_EQ(test, ring_peek(fx, head, tail, 1000, SEL_MAX, true),
			-ENOBUFS);
	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, SEL_MAX, true), 3);
	ring_expect_sel(test, &fx->sel[0], 1, 0, 0);
	ring_expect_sel(test, &fx->sel[1], 2, 100, 100);
	KUNIT_EXPECT_TRUE(test, ring_commit_report(fx, &head, 3, 60, &nbufs));
	KUNIT_EXPECT_EQ(test, fx->sel[0].bid, ENTRY_BID(1));
	KUNIT_EXPECT_EQ(test, nbufs, 2);
	KUNIT_EXPECT_EQ(test, head, 1);
	ring_expect_buf(test, fx, 1, ENTRY_ADDR(1), 0);
	ring_expect_buf(test, fx, 2, ENTRY_ADDR(2), 100);

	/* 150 bytes: entries 2 and 3 from bid 11, still nothing retired */
	KUNIT_EXPECT_TRUE(test, ring_commit_report(fx, &head, 3, 150, &nbufs));
	KUNIT_EXPECT_EQ(test, nbufs, 3);
	KUNIT_EXPECT_EQ(test, head, 1);
	KUNIT_EXPECT_EQ(test, fx->bufs[3].len, 100);
}

/*
 * The count stops at the last entry that received a byte: empty entries
 * after it are not counted, and without an empty entry inside the range
 * the count is what the commit retired plus the kept one, as before.
 */
static void report_count_edges_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 100, 0, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);
	u16 head = 0;
	unsigned int nbufs;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, SEL_MAX, true), 4);
	/* 150 bytes end in entry 1: 2 entries, entry 1 kept */
	KUNIT_EXPECT_TRUE(test, ring_commit_report(fx, &head, 4, 150, &nbufs));
	KUNIT_EXPECT_EQ(test, nbufs, 2);
	KUNIT_EXPECT_EQ(test, head, 1);
	KUNIT_EXPECT_EQ(test, fx->bufs[1].len, 50);

	/* 200 bytes fill entries 0 and 1 exactly: both retired, no BUF_MORE */
	tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);
	head = 0;
	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, SEL_MAX, true), 4);
	KUNIT_EXPECT_FALSE(test, ring_commit_report(fx, &head, 4, 200, &nbufs));
	KUNIT_EXPECT_EQ(test, nbufs, 2);
	KUNIT_EXPECT_EQ(test, head, 2);

	/* 0 bytes: the head entry is kept and reported, as a 0-byte read */
	KUNIT_EXPECT_EQ(test, pbuf_ring_commit_nbufs(fx->sel, 4, 0, 0, true),
			1);
	/* a plain ring: every entry up to the last byte, empty ones too */
	KUNIT_EXPECT_EQ(test, pbuf_ring_commit_nbufs(fx->sel, 4, 250, 4,
						     false), 4);
}

/*
 * Commit works from the selection snapshot: an entry rewritten by the
 * application in flight does not change what is accounted.
 */
static void commit_uses_snapshot_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 4096 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 1);
	u16 head = 0;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, 0, 1, true), 1);
	fx->bufs[0].addr = 0xdead0000;
	fx->bufs[0].len = 10;
	KUNIT_EXPECT_FALSE(test, ring_commit(fx, &head, 1, 100, 1));
	KUNIT_EXPECT_EQ(test, head, 0);
	ring_expect_buf(test, fx, 0, ENTRY_ADDR(0) + 100, 3996);
}

/*
 * liburing test/recvmsg-inc-tail.c: min_left 32, four 1 KiB buffers; each
 * completion consumes a 32-byte recvmsg header plus the payload, 2 x 480
 * then 7 x 305 bytes. Expected bids { 0, 0, 1, 1, 1, 2, 2, 2, 3 }: bid 0
 * is filled exactly, bids 1 and 2 retire with a 13-byte tail.
 */
static void recvmsg_inc_tail_test(struct kunit *test)
{
	static const u16 want_bid[] = { 0, 0, 1, 1, 1, 2, 2, 2, 3 };
	static const bool want_done[] = {
		false, true, false, false, true, false, false, true, false
	};
	struct iopbuf_buf bufs[4] = {};
	u64 used[4] = {};
	struct pbuf_sel sel;
	u16 head = 0, tail = 0;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		bufs[i].addr = 0x10000 + i * 1024;
		bufs[i].len = 1024;
		bufs[i].bid = i;
		tail++;
	}

	for (i = 0; i < ARRAY_SIZE(want_bid); i++) {
		u64 bytes = 32 + (i < 2 ? 480 : 305);
		bool done;

		KUNIT_ASSERT_EQ(test, pbuf_ring_peek(bufs, 3, head, tail, 0, 1,
						     true, &sel), 1);
		KUNIT_EXPECT_EQ_MSG(test, sel.bid, want_bid[i], "cqe %u", i);
		KUNIT_ASSERT_LT(test, sel.bid, 4);
		/* the payload lands right after the previous one */
		KUNIT_EXPECT_EQ_MSG(test, sel.addr,
				    0x10000 + sel.bid * 1024 + used[sel.bid],
				    "cqe %u", i);
		KUNIT_EXPECT_GE_MSG(test, (u64)sel.len, bytes, "cqe %u", i);
		done = pbuf_ring_commit_inc(bufs, 3, &head, &sel, 1, bytes, 32);
		KUNIT_EXPECT_EQ_MSG(test, done, want_done[i], "cqe %u", i);
		used[sel.bid] += bytes;
	}
	KUNIT_EXPECT_EQ(test, head, 3);
	KUNIT_EXPECT_EQ(test, bufs[3].len, 1024 - 337);
}

/*
 * liburing test/read-inc-file.c: four 80-byte reads into one 64 KiB
 * incrementally consumed buffer land back to back, each with BUF_MORE.
 */
static void read_inc_file_test(struct kunit *test)
{
	struct iopbuf_buf bufs[1] = {
		{ .addr = 0x200000, .len = 65536, .bid = 0 },
	};
	struct pbuf_sel sel;
	u16 head = 0;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		KUNIT_ASSERT_EQ(test, pbuf_ring_peek(bufs, 0, head, 1, 80, 1,
						     true, &sel), 1);
		KUNIT_EXPECT_EQ(test, sel.addr, 0x200000 + 80 * i);
		KUNIT_EXPECT_EQ(test, sel.len, 80);
		KUNIT_EXPECT_EQ(test, sel.buf_len, 65536 - 80 * i);
		KUNIT_EXPECT_EQ(test, sel.bid, 0);
		KUNIT_EXPECT_FALSE(test, pbuf_ring_commit_inc(bufs, 0, &head,
							      &sel, 1, 80, 1));
		KUNIT_EXPECT_EQ(test, head, 0);
	}
	KUNIT_EXPECT_EQ(test, bufs[0].addr, 0x200000 + 320);
	KUNIT_EXPECT_EQ(test, bufs[0].len, 65536 - 320);
}

/*
 * An INC ring of registered-buffer encodings advances the offset, never
 * the index in the low 20 bits (a 100-byte receive into
 * encode(0, 4096) must leave encode(0, 4196), not index 100).
 */
static void commit_inc_regbuf_test(struct kunit *test)
{
	struct iopbuf_buf bufs[1] = {
		{ .addr = iopbuf_regbuf_encode(7, 4096), .len = 8192, .bid = 3 },
	};
	struct pbuf_sel sel;
	u16 head = 0;
	bool done;

	KUNIT_ASSERT_EQ(test, pbuf_ring_peek(bufs, 0, head, 1, 0, 1, true,
					     &sel), 1);
	done = pbuf_ring_commit_inc_shift(bufs, 0, &head, &sel, 1, 100, 1,
					  IOPBUF_REGBUF_INDEX_BITS);
	KUNIT_EXPECT_FALSE(test, done);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_index(bufs[0].addr), 7);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_offset(bufs[0].addr), 4196);
	KUNIT_EXPECT_EQ(test, bufs[0].len, 8092);
	KUNIT_EXPECT_EQ(test, head, 0);
}

static struct kunit_case iouring_pbuf_ring_cases[] = {
	KUNIT_CASE(commit_inc_regbuf_test),
	KUNIT_CASE(ring_avail_test),
	KUNIT_CASE(peek_empty_test),
	KUNIT_CASE(peek_single_test),
	KUNIT_CASE(peek_wrap_test),
	KUNIT_CASE(peek_single_max_len_test),
	KUNIT_CASE(peek_single_zero_len_test),
	KUNIT_CASE(bundle_zero_len_first_test),
	KUNIT_CASE(bundle_max_bufs_test),
	KUNIT_CASE(bundle_max_len_test),
	KUNIT_CASE(bundle_exact_max_len_test),
	KUNIT_CASE(bundle_upstream_cap_test),
	KUNIT_CASE(bundle_truncate_first_test),
	KUNIT_CASE(bundle_truncate_later_test),
	KUNIT_CASE(bundle_zero_len_middle_test),
	KUNIT_CASE(bundle_no_max_len_test),
	KUNIT_CASE(bundle_huge_max_len_test),
	KUNIT_CASE(peek_snapshot_test),
	KUNIT_CASE(bufs_used_test),
	KUNIT_CASE(bufs_used_zero_len_test),
	KUNIT_CASE(commit_zero_bytes_test),
	KUNIT_CASE(commit_partial_test),
	KUNIT_CASE(commit_exact_fill_test),
	KUNIT_CASE(commit_one_byte_left_test),
	KUNIT_CASE(commit_min_left_test),
	KUNIT_CASE(commit_multi_entry_test),
	KUNIT_CASE(commit_beyond_selection_test),
	KUNIT_CASE(commit_wrap_test),
	KUNIT_CASE(commit_zero_len_entry_test),
	KUNIT_CASE(commit_uses_snapshot_test),
	KUNIT_CASE(report_zero_len_inside_test),
	KUNIT_CASE(report_zero_len_head_test),
	KUNIT_CASE(report_count_edges_test),
	KUNIT_CASE(recvmsg_inc_tail_test),
	KUNIT_CASE(read_inc_file_test),
	{}
};

static struct kunit_suite iouring_pbuf_ring_suite = {
	.name = "iouring_pbuf_ring",
	.init = ring_test_init,
	.test_cases = iouring_pbuf_ring_cases,
};

kunit_test_suite(iouring_pbuf_ring_suite);

MODULE_DESCRIPTION("KUnit tests for iouring-pbuf ring selection and commit");
MODULE_LICENSE("GPL");
