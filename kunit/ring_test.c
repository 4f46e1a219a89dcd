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

/*
 * name##_gen_params() for the table name##_cases of struct name##_case,
 * whose rows start with "const char *desc": each parameter is named by it.
 */
#define RING_TABLE_PARAMS(name)						\
static void name##_case_desc(const struct name##_case *c, char *desc)	\
{									\
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);			\
}									\
KUNIT_ARRAY_PARAM(name, name##_cases, name##_case_desc)

/* Ring position @pos holds @len bytes at @addr (0: not checked). */
struct buf_want {
	unsigned int pos;
	u64 addr;
	u32 len;
};

/*
 * A selection on a freshly filled ring: @nr entries of @lens from ring
 * position @at (entry i at @at + i, ENTRY_ADDR(i), ENTRY_BID(i)), published
 * up to @tail, peeked from @head with @max_len, @max_bufs and @inc. Expects
 * @want (entries or -ENOBUFS), then the @nsel selections @sel hold entry
 * @entry with @len of its @buf_len bytes.
 */
struct peek_case {
	const char *desc;
	u32 lens[RING_ENTRIES];
	unsigned int nr;
	u16 at, tail, head;
	u64 max_len;
	unsigned int max_bufs;
	bool inc;
	int want;
	unsigned int nsel;
	struct {
		unsigned int pos, entry;
		u32 len, buf_len;
	} sel[3];
};

#define SEL(p, e, l, b)	{ .pos = (p), .entry = (e), .len = (l), .buf_len = (b) }

static const struct peek_case peek_cases[] = {
	/* a single selection snapshots the head entry whole */
	{ "single: the head entry", { 4096, 2048, 1024 }, 3, 0, 3, 0,
	  0, 1, false, 1, 1, { SEL(0, 0, 4096, 4096) } },
	{ "single: from the second entry", { 4096, 2048, 1024 }, 3, 0, 3, 1,
	  0, 1, true, 1, 1, { SEL(0, 1, 2048, 2048) } },
	/* head 65535, tail 1, mask 7: the head entry is bufs[7], then bufs[0] */
	{ "wrap: single", { 300, 400 }, 2, 65535, 1, 65535,
	  0, 1, false, 1, 1, { SEL(0, 0, 300, 300) } },
	{ "wrap: bundle", { 300, 400 }, 2, 65535, 1, 65535,
	  0, 4, false, 2, 2, { SEL(0, 0, 300, 300), SEL(1, 1, 400, 400) } },
	/* a single selection with a byte limit is cut short, on any ring */
	{ "single: limit 100", { 4096 }, 1, 0, 1, 0,
	  100, 1, false, 1, 1, { SEL(0, 0, 100, 4096) } },
	{ "single: limit 100, inc", { 4096 }, 1, 0, 1, 0,
	  100, 1, true, 1, 1, { SEL(0, 0, 100, 4096) } },
	{ "single: a limit above the length changes nothing", { 4096 }, 1, 0,
	  1, 0, 8192, 1, false, 1, 1, { SEL(0, 0, 4096, 4096) } },
	/* a single selection takes a zero-length head entry, as upstream */
	{ "single: zero-length head, limit", { 0, 100 }, 2, 0, 2, 0,
	  100, 1, false, 1, 1, { SEL(0, 0, 0, 0) } },
	{ "single: zero-length head, inc", { 0, 100 }, 2, 0, 2, 0,
	  0, 1, true, 1, 1, { SEL(0, 0, 0, 0) } },
	/* a bundle with a byte limit refuses a zero-length head entry */
	{ "bundle: limit, zero-length head", { 0, 100, 100 }, 3, 0, 3, 0,
	  100, 4, false, -ENOBUFS },
	{ "bundle: limit, zero-length head, inc", { 0, 100, 100 }, 3, 0, 3, 0,
	  100, 4, true, -ENOBUFS },
	/*
	 * Issue 13 item 6: the head on an empty entry (bid 11) that follows
	 * a retired one. A bundle with a byte limit refuses it, as upstream
	 * with max_len; one without takes it first, 0 bytes long, then
	 * entries 2 and 3.
	 */
	{ "bundle: limit, zero-length head after a retired entry",
	  { 0, 0, 100, 100 }, 4, 0, 4, 1, 1000, SEL_MAX, true, -ENOBUFS },
	{ "bundle: no limit, zero-length head after a retired entry",
	  { 0, 0, 100, 100 }, 4, 0, 4, 1, 0, SEL_MAX, true, 3, 2,
	  { SEL(0, 1, 0, 0), SEL(1, 2, 100, 100) } },
	/* at most max_bufs entries, and at most what is published */
	{ "bundle: max_bufs 3", { 100, 100, 100, 100, 100, 100, 100, 100 }, 8,
	  0, 8, 0, 0, 3, false, 3 },
	{ "bundle: max_bufs 3, limit", { 100, 100, 100, 100, 100, 100, 100, 100 },
	  8, 0, 8, 0, 10000, 3, false, 3, 3,
	  { SEL(0, 0, 100, 100), SEL(1, 1, 100, 100), SEL(2, 2, 100, 100) } },
	{ "bundle: two published", { 100, 100, 100, 100, 100, 100, 100, 100 },
	  8, 0, 2, 0, 0, SEL_MAX, false, 2 },
	{ "bundle: two published, limit, inc",
	  { 100, 100, 100, 100, 100, 100, 100, 100 }, 8, 0, 2, 0,
	  10000, SEL_MAX, true, 2 },
	/* stops once max_len is covered; without inc the crossing entry is out */
	{ "bundle: limit 250", { 100, 100, 100, 100 }, 4, 0, 4, 0,
	  250, SEL_MAX, false, 2, 1, { SEL(1, 1, 100, 100) } },
	{ "bundle: limit 250, inc", { 100, 100, 100, 100 }, 4, 0, 4, 0,
	  250, SEL_MAX, true, 3, 1, { SEL(2, 2, 50, 100) } },
	/* a limit met exactly ends the bundle at that entry, on any ring */
	{ "bundle: limit met exactly", { 50, 100, 50, 100 }, 4, 0, 4, 0,
	  200, SEL_MAX, false, 3, 1, { SEL(2, 2, 50, 50) } },
	{ "bundle: limit met exactly, inc", { 50, 100, 50, 100 }, 4, 0, 4, 0,
	  200, SEL_MAX, true, 3 },
	/*
	 * Upstream's cap: at most DIV_ROUND_UP(max_len, first_len) entries,
	 * even when later, shorter entries leave bytes uncovered.
	 */
	{ "cap: DIV_ROUND_UP(150, 100) == 2", { 100, 10, 10, 10, 10, 10, 10, 10 },
	  8, 0, 8, 0, 150, SEL_MAX, false, 2 },
	{ "cap: DIV_ROUND_UP(150, 100) == 2, inc",
	  { 100, 10, 10, 10, 10, 10, 10, 10 }, 8, 0, 8, 0,
	  150, SEL_MAX, true, 2 },
	{ "cap: DIV_ROUND_UP(100, 100) == 1", { 100, 10, 10, 10, 10, 10, 10, 10 },
	  8, 0, 8, 0, 100, SEL_MAX, false, 1 },
	{ "cap: DIV_ROUND_UP(129, 64) == 3, no inc", { 64, 64, 64, 64 }, 4, 0, 4,
	  0, 129, SEL_MAX, false, 2 },
	/* the third entry holds the last byte */
	{ "cap: DIV_ROUND_UP(129, 64) == 3, inc", { 64, 64, 64, 64 }, 4, 0, 4, 0,
	  129, SEL_MAX, true, 3, 1, { SEL(2, 2, 1, 64) } },
	/* the first entry of a bundle may be cut short on any ring */
	{ "bundle: first entry cut short", { 4096, 100 }, 2, 0, 2, 0,
	  1000, SEL_MAX, false, 1, 1, { SEL(0, 0, 1000, 4096) } },
	/* without inc a later entry is never cut short: the bundle stops */
	{ "bundle: later entry not cut", { 100, 4096, 100 }, 3, 0, 3, 0,
	  1000, SEL_MAX, false, 1, 1, { SEL(0, 0, 100, 100) } },
	/* with inc it is included, cut short */
	{ "bundle: later entry cut, inc", { 100, 4096, 100 }, 3, 0, 3, 0,
	  1000, SEL_MAX, true, 2, 2,
	  { SEL(0, 0, 100, 100), SEL(1, 1, 900, 4096) } },
	/* zero-length entries after the first are taken and cover 0 bytes */
	{ "bundle: zero-length middle entry", { 100, 0, 100 }, 3, 0, 3, 0,
	  1000, SEL_MAX, false, 3, 2,
	  { SEL(1, 1, 0, 0), SEL(2, 2, 100, 100) } },
	/* without a byte limit a bundle is every available entry, whole */
	{ "bundle: no limit", { 100, 200, 300 }, 3, 0, 3, 0,
	  0, SEL_MAX, false, 3, 3,
	  { SEL(0, 0, 100, 100), SEL(1, 1, 200, 200), SEL(2, 2, 300, 300) } },
	/*
	 * A limit so large that max_len + first_len - 1 wraps around u64 is
	 * still a limit far above what the ring holds.
	 */
	{ "bundle: limit U64_MAX / 2", { 2, 2, 2, 2 }, 4, 0, 4, 0,
	  U64_MAX / 2, SEL_MAX, false, 4 },
	{ "bundle: limit U64_MAX", { 2, 2, 2, 2 }, 4, 0, 4, 0,
	  U64_MAX, SEL_MAX, false, 4 },
	{ "bundle: limit U64_MAX, inc", { 2, 2, 2, 2 }, 4, 0, 4, 0,
	  U64_MAX, SEL_MAX, true, 4 },
};

RING_TABLE_PARAMS(peek);

static void peek_table_test(struct kunit *test)
{
	const struct peek_case *c = test->param_value;
	struct ring_fixture *fx = test->priv;
	unsigned int i;

	ring_fill(fx->bufs, RING_MASK, c->at, c->lens, c->nr);
	KUNIT_ASSERT_EQ(test, ring_peek(fx, c->head, c->tail, c->max_len,
					c->max_bufs, c->inc), c->want);
	for (i = 0; i < c->nsel; i++)
		ring_expect_sel(test, &fx->sel[c->sel[i].pos], c->sel[i].entry,
				c->sel[i].len, c->sel[i].buf_len);
}

/* ring_fill() at head 65535 wraps: entry 0 in bufs[7], entry 1 in bufs[0]. */
static void fill_wrap_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 300, 400 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 65535, lens, 2);

	KUNIT_ASSERT_EQ(test, tail, 1);
	KUNIT_EXPECT_EQ(test, fx->bufs[7].len, 300);
	KUNIT_EXPECT_EQ(test, fx->bufs[0].len, 400);
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

/*
 * An incremental commit on a freshly filled ring: @nr entries of @lens
 * from ring position @at (as for peek_case), published up to @at + @nr;
 * a selection from @head with @max_len and @max_bufs gives @want_sel
 * entries, of which the first @commit_nr take @bytes with @min_left.
 * Expects the commit's result @done (true: no BUF_MORE), the head at
 * @want_head with @avail entries left, and ring positions @buf[].pos holding @len bytes at @addr
 * (0: the address is not checked) with their bid unchanged.
 */
struct commit_case {
	const char *desc;
	u32 lens[4];
	unsigned int nr;
	u16 at, head;
	u64 max_len;
	unsigned int max_bufs;
	int want_sel;
	unsigned int commit_nr;
	u64 bytes;
	u32 min_left;
	bool done;
	u16 want_head, avail;
	unsigned int nbuf;
	struct buf_want buf[4];
};

#define BUF(p, a, l)	{ .pos = (p), .addr = (a), .len = (l) }

static const struct commit_case commit_cases[] = {
	/* a partial consume advances addr and shrinks len in place */
	{ "partial: head stays", { 4096 }, 1, 0, 0, 0, 1, 1,
	  1, 100, 0, false, 0, 1, 1, { BUF(0, ENTRY_ADDR(0) + 100, 3996) } },
	/* filling an entry exactly retires it; as upstream, addr is kept */
	{ "exact fill: retired, head moves", { 4096, 4096 }, 2, 0, 0, 0, 1, 1,
	  1, 4096, 1, true, 1, 1, 2,
	  { BUF(0, ENTRY_ADDR(0), 0), BUF(1, ENTRY_ADDR(1), 4096) } },
	/* with min_left 1 (or 0, meaning 1) a 1-byte remainder stays */
	{ "one byte left, min_left 0", { 4096 }, 1, 0, 0, 0, 1, 1,
	  1, 4095, 0, false, 0, 1, 1, { BUF(0, ENTRY_ADDR(0) + 4095, 1) } },
	{ "one byte left, min_left 1", { 4096 }, 1, 0, 0, 0, 1, 1,
	  1, 4095, 1, false, 0, 1, 1, { BUF(0, ENTRY_ADDR(0) + 4095, 1) } },
	/* min_left 32: a 31-byte remainder is retired, a 32-byte one stays */
	{ "min_left 32: 31 bytes left, retired", { 1024, 1024 }, 2, 0, 0, 0, 1, 1,
	  1, 1024 - 31, 32, true, 1, 1, 1, { BUF(0, 0, 0) } },
	{ "min_left 32: 32 bytes left, kept", { 1024, 1024 }, 2, 0, 1, 0, 1, 1,
	  1, 1024 - 32, 32, false, 1, 1, 1,
	  { BUF(1, ENTRY_ADDR(1) + 1024 - 32, 32) } },
	/* a bundle commit retires filled entries and stops in the partial one */
	{ "bundle: stops in the partial entry", { 100, 100, 100, 100 }, 4, 0, 0,
	  300, SEL_MAX, 3, 3, 250, 1, false, 2, 2, 4,
	  { BUF(0, 0, 0), BUF(1, 0, 0), BUF(2, ENTRY_ADDR(2) + 50, 50),
	    BUF(3, 0, 100) } },
	/* all of a fresh selection: every entry retired */
	{ "bundle: all retired", { 100, 100, 100, 100 }, 4, 0, 0,
	  300, SEL_MAX, 3, 3, 300, 1, true, 3, 1, 1, { BUF(3, 0, 100) } },
	/* more bytes than selected never retire entries beyond the selection */
	{ "bundle: bytes beyond the selection", { 100, 100, 100 }, 3, 0, 0,
	  0, 2, 2, 2, 500, 1, true, 2, 1, 1, { BUF(2, ENTRY_ADDR(2), 100) } },
	/* across the wrap: bufs[7] retired, head 65535 -> 0, bufs[0] cut */
	{ "wrap", { 300, 400 }, 2, 65535, 65535, 0, SEL_MAX, 2,
	  2, 310, 1, false, 0, 1, 2,
	  { BUF(7, 0, 0), BUF(0, ENTRY_ADDR(1) + 10, 390) } },
	/*
	 * A zero-length entry stops the commit where it is (upstream's
	 * "!this" case): head stays on it, the result is BUF_MORE.
	 */
	{ "zero-length entry alone", { 0 }, 1, 0, 0, 0, 1, 1,
	  1, 10, 1, false, 0, 1, 1, { BUF(0, ENTRY_ADDR(0), 0) } },
	{ "zero-length entry inside", { 100, 0, 100 }, 3, 0, 0,
	  1000, SEL_MAX, 3, 3, 150, 1, false, 1, 2, 1, { BUF(2, 0, 100) } },
};

RING_TABLE_PARAMS(commit);

static void commit_table_test(struct kunit *test)
{
	const struct commit_case *c = test->param_value;
	struct ring_fixture *fx = test->priv;
	u16 tail = ring_fill(fx->bufs, RING_MASK, c->at, c->lens, c->nr);
	u16 head = c->head;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, c->max_len,
					c->max_bufs, true), c->want_sel);
	KUNIT_EXPECT_EQ(test, ring_commit(fx, &head, c->commit_nr, c->bytes,
					  c->min_left), c->done);
	KUNIT_EXPECT_EQ(test, head, c->want_head);
	KUNIT_EXPECT_EQ(test, pbuf_ring_avail(head, tail), c->avail);
	for (i = 0; i < c->nbuf; i++) {
		const struct iopbuf_buf *b = &fx->bufs[c->buf[i].pos];

		if (c->buf[i].addr)
			KUNIT_EXPECT_EQ_MSG(test, b->addr, c->buf[i].addr,
					    "bufs[%u]", c->buf[i].pos);
		KUNIT_EXPECT_EQ_MSG(test, b->len, c->buf[i].len, "bufs[%u]",
				    c->buf[i].pos);
		KUNIT_EXPECT_EQ_MSG(test, b->bid,
				    ENTRY_BID((u16)(c->buf[i].pos - c->at) &
					      RING_MASK),
				    "bufs[%u]", c->buf[i].pos);
	}
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
 * What a bundle's completion reports on an INC ring: @lens filled from
 * position 0 (bids 10, 11, ...), a selection from @head with @max_len
 * gives @want_sel entries, which @bytes touch @used of
 * (pbuf_ring_bufs_used()); their commit reports BUF_MORE (@more) and
 * @nbufs entries from the head's bid, leaves the head at @want_head and
 * ring positions @buf[].pos holding @len bytes at @addr.
 */
struct report_case {
	const char *desc;
	u32 lens[4];
	u16 head;
	u64 max_len;
	int want_sel;
	u64 bytes;
	unsigned int used;
	bool more;
	unsigned int nbufs;
	u16 want_head;
	unsigned int nbuf;
	struct buf_want buf[4];
};

/*
 * Issue 13 item 6, first case: entries { 100, 0, 100, 100 }, a bundle
 * receives 150 bytes: 100 into entry 0, none into the empty entry 1, 50
 * into entry 2. The ring ends as upstream's io_kbuf_inc_commit() leaves
 * it (entry 0 retired, the head stopped on the empty entry 1, entries 2
 * and 3 untouched); the completion reports bid 10 with 3 entries (it used
 * to say 2: retired + the kept one) and BUF_MORE, since entry 2, which
 * holds data, is still in the ring. The same with or without a byte
 * limit, and when the bytes fill entry 2 exactly.
 */
#define REPORT_INSIDE(d, limit, b)					\
	{ d, { 100, 0, 100, 100 }, 0, limit, 4, b, 3, true, 3, 1, 4,	\
	  { BUF(0, ENTRY_ADDR(0), 0), BUF(1, ENTRY_ADDR(1), 0),		\
	    BUF(2, ENTRY_ADDR(2), 100), BUF(3, ENTRY_ADDR(3), 100) } }

static const struct report_case report_cases[] = {
	REPORT_INSIDE("zero-length entry inside, limit, 150 bytes", 1000, 150),
	REPORT_INSIDE("zero-length entry inside, limit, 200 bytes", 1000, 200),
	REPORT_INSIDE("zero-length entry inside, no limit, 150 bytes", 0, 150),
	REPORT_INSIDE("zero-length entry inside, no limit, 200 bytes", 0, 200),
	/*
	 * The second case ("bid 1 count 1, bytes in entry 2"): the head on
	 * the empty entry (bid 11), selected without a limit with entries 2
	 * and 3; 60 bytes land in entry 2. The commit stops at once on the
	 * empty entry (nothing retired, head stays), so retired + kept said
	 * bid 11 count 1; the data went into 2 entries from bid 11.
	 */
	{ "zero-length head, 60 bytes", { 0, 0, 100, 100 }, 1, 0, 3, 60, 2,
	  true, 2, 1, 2, { BUF(1, ENTRY_ADDR(1), 0), BUF(2, ENTRY_ADDR(2), 100) } },
	/* 150 bytes: entries 2 and 3 from bid 11, still nothing retired */
	{ "zero-length head, 150 bytes", { 0, 0, 100, 100 }, 1, 0, 3, 150, 3,
	  true, 3, 1, 1, { BUF(3, ENTRY_ADDR(3), 100) } },
	/*
	 * The count stops at the last entry that received a byte: empty
	 * entries after it are not counted, and without an empty entry
	 * inside the range it is what the commit retired plus the kept one.
	 * 150 bytes end in entry 1: 2 entries, entry 1 kept.
	 */
	{ "ends before an empty entry, 150 bytes", { 100, 100, 0, 100 }, 0, 0, 4,
	  150, 2, true, 2, 1, 1, { BUF(1, ENTRY_ADDR(1) + 50, 50) } },
	/* 200 bytes fill entries 0 and 1 exactly: both retired, no BUF_MORE */
	{ "ends before an empty entry, 200 bytes", { 100, 100, 0, 100 }, 0, 0, 4,
	  200, 2, false, 2, 2, 0 },
};

RING_TABLE_PARAMS(report);

static void report_table_test(struct kunit *test)
{
	const struct report_case *c = test->param_value;
	struct ring_fixture *fx = test->priv;
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, c->lens, 4);
	u16 head = c->head;
	unsigned int i, nbufs;

	KUNIT_ASSERT_EQ(test, ring_peek(fx, head, tail, c->max_len, SEL_MAX,
					true), c->want_sel);
	KUNIT_EXPECT_EQ(test, pbuf_ring_bufs_used(fx->sel, c->want_sel,
						  c->bytes), c->used);
	KUNIT_EXPECT_EQ(test, ring_commit_report(fx, &head, c->want_sel,
						 c->bytes, &nbufs), c->more);
	KUNIT_EXPECT_EQ(test, fx->sel[0].bid, ENTRY_BID(c->head));
	KUNIT_EXPECT_EQ(test, nbufs, c->nbufs);
	/* upstream's ring state */
	KUNIT_EXPECT_EQ(test, head, c->want_head);
	for (i = 0; i < c->nbuf; i++)
		ring_expect_buf(test, fx, c->buf[i].pos, c->buf[i].addr,
				c->buf[i].len);
}

/*
 * pbuf_ring_commit_nbufs() on its own: 0 bytes keep and report the head
 * entry, as a 0-byte read; a plain ring reports every entry up to the
 * last byte, empty ones too.
 */
static void report_count_edges_test(struct kunit *test)
{
	struct ring_fixture *fx = test->priv;
	static const u32 lens[] = { 100, 100, 0, 100 };
	u16 tail = ring_fill(fx->bufs, RING_MASK, 0, lens, 4);

	KUNIT_ASSERT_EQ(test, ring_peek(fx, 0, tail, 0, SEL_MAX, true), 4);
	KUNIT_EXPECT_EQ(test, pbuf_ring_commit_nbufs(fx->sel, 4, 0, 0, true),
			1);
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
	KUNIT_CASE(fill_wrap_test),
	KUNIT_CASE_PARAM(peek_table_test, peek_gen_params),
	KUNIT_CASE(peek_snapshot_test),
	KUNIT_CASE(bufs_used_test),
	KUNIT_CASE(bufs_used_zero_len_test),
	KUNIT_CASE(commit_zero_bytes_test),
	KUNIT_CASE_PARAM(commit_table_test, commit_gen_params),
	KUNIT_CASE(commit_uses_snapshot_test),
	KUNIT_CASE_PARAM(report_table_test, report_gen_params),
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
