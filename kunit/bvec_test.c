// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the folio-run tables of registered buffers and the
 * slice -> bio_vec import (module/logic_bvec.c), on real pages: compound
 * folios from alloc_pages(__GFP_COMP), single pages, and physically
 * contiguous pages that are separate folios.
 */
#include <kunit/test.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "pbuf_logic.h"

#define BVEC_MAX_ALLOCS		32

/* Pages a test allocated (freed by the exit hook) and its output array. */
struct bvec_fixture {
	struct page *page[BVEC_MAX_ALLOCS];
	unsigned int order[BVEC_MAX_ALLOCS];
	unsigned int nr;
	struct pbuf_bvec_out out;
};

static int bvec_test_init(struct kunit *test)
{
	struct bvec_fixture *fx = kunit_kzalloc(test, sizeof(*fx), GFP_KERNEL);

	if (!fx)
		return -ENOMEM;
	pbuf_bvec_out_init(&fx->out, PBUF_MAX_BUNDLE_SEGS, GFP_KERNEL);
	test->priv = fx;
	return 0;
}

static void bvec_test_exit(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	unsigned int i;

	pbuf_bvec_out_release(&fx->out);
	for (i = 0; i < fx->nr; i++)
		__free_pages(fx->page[i], fx->order[i]);
}

/* 2^@order pages, freed when the test ends; NULL if none are available. */
static struct page *bvec_alloc(struct kunit *test, unsigned int order,
			       gfp_t extra)
{
	struct bvec_fixture *fx = test->priv;
	struct page *page;

	KUNIT_ASSERT_LT(test, fx->nr, BVEC_MAX_ALLOCS);
	page = alloc_pages(GFP_KERNEL | __GFP_NOWARN | extra, order);
	if (page) {
		fx->page[fx->nr] = page;
		fx->order[fx->nr] = order;
		fx->nr++;
	}
	return page;
}

/* A compound folio of 2^@order pages; the test fails without one. */
static struct page *bvec_folio(struct kunit *test, unsigned int order)
{
	struct page *page = bvec_alloc(test, order, order ? __GFP_COMP : 0);

	KUNIT_ASSERT_NOT_NULL(test, page);
	return page;
}

static void bvec_runs_init(struct kunit *test, struct pbuf_runs *r,
			   unsigned int cap)
{
	r->bv = kunit_kcalloc(test, cap, sizeof(*r->bv), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r->bv);
	r->start = kunit_kcalloc(test, cap, sizeof(*r->start), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r->start);
	r->nr = 0;
	r->cap = cap;
	r->len = 0;
	r->page_run = NULL;
	r->nr_pages = 0;
}

/* Add @nr whole pages starting at @page, in order. */
static void bvec_add_pages(struct kunit *test, struct pbuf_runs *r,
			   struct page *page, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		KUNIT_ASSERT_EQ(test, pbuf_runs_add(r, page + i, 0, PAGE_SIZE), 0);
}

/* A table of @nr runs, each one separately allocated page. */
static void bvec_page_runs(struct kunit *test, struct pbuf_runs *r,
			   unsigned int nr)
{
	unsigned int i;

	bvec_runs_init(test, r, nr);
	for (i = 0; i < nr; i++)
		bvec_add_pages(test, r, bvec_folio(test, 0), 1);
	KUNIT_ASSERT_EQ(test, r->nr, nr);
}

/*
 * Import @n slices of @r, @len bytes each, @step bytes apart from @off
 * and never adjacent: each must fit and add one segment.
 */
static void bvec_import_spaced(struct kunit *test, struct pbuf_bvec_out *out,
			       const struct pbuf_runs *r, u64 off, u64 step,
			       u64 len, unsigned int n)
{
	unsigned int i, nr = out->nr;

	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ_MSG(test, pbuf_bvec_import(out, r, off + step * i,
							   len), 0, "slice %u", i);
		KUNIT_ASSERT_EQ(test, out->nr, nr + i + 1);
	}
}

static void bvec_expect_bv(struct kunit *test, const struct bio_vec *bv,
			   struct page *page, unsigned int offset,
			   unsigned int len)
{
	KUNIT_EXPECT_PTR_EQ(test, bv->bv_page, page);
	KUNIT_EXPECT_EQ(test, bv->bv_offset, offset);
	KUNIT_EXPECT_EQ(test, bv->bv_len, len);
}

/*
 * The table most import tests use: an order-0 page A, an order-2 folio F
 * and the first 1000 bytes of an order-0 page C, i.e. three runs starting
 * at 0, PAGE_SIZE and 5 * PAGE_SIZE.
 */
struct bvec_three {
	struct pbuf_runs r;
	struct page *a, *f, *c;
};

#define THREE_LEN	(5 * PAGE_SIZE + 1000)

static void bvec_three_init(struct kunit *test, struct bvec_three *t)
{
	bvec_runs_init(test, &t->r, 4);
	t->a = bvec_folio(test, 0);
	t->f = bvec_folio(test, 2);
	t->c = bvec_folio(test, 0);
	bvec_add_pages(test, &t->r, t->a, 1);
	bvec_add_pages(test, &t->r, t->f, 4);
	KUNIT_ASSERT_EQ(test, pbuf_runs_add(&t->r, t->c, 0, 1000), 0);
	KUNIT_ASSERT_EQ(test, t->r.nr, 3);
	KUNIT_ASSERT_EQ(test, t->r.len, THREE_LEN);
}

/* Ranges outside the page and empty ranges are refused, table untouched. */
static void runs_add_invalid_test(struct kunit *test)
{
	struct page *page = bvec_folio(test, 0);
	struct pbuf_runs r;

	bvec_runs_init(test, &r, 2);
	KUNIT_EXPECT_EQ(test, pbuf_runs_add(&r, page, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, pbuf_runs_add(&r, page, PAGE_SIZE, 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, pbuf_runs_add(&r, page, 100, PAGE_SIZE - 99),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, pbuf_runs_add(&r, page, 0, PAGE_SIZE + 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, r.nr, 0);
	KUNIT_EXPECT_EQ(test, r.len, 0);
	/* the largest valid ranges */
	KUNIT_EXPECT_EQ(test, pbuf_runs_add(&r, page, PAGE_SIZE - 1, 1), 0);
	KUNIT_EXPECT_EQ(test, r.len, 1);
}

static const unsigned int folio_orders[] = { 0, 2, 4, 9 };

static void folio_order_desc(const unsigned int *order, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "order %u", *order);
}

KUNIT_ARRAY_PARAM(folio_order, folio_orders, folio_order_desc);

/*
 * All pages of one compound folio, added one by one, form ONE run; for
 * order 9 that is the 2 MiB huge-page case.
 */
static void runs_folio_one_run_test(struct kunit *test)
{
	unsigned int order = *(const unsigned int *)test->param_value;
	unsigned int nr = 1U << order;
	struct pbuf_runs r;
	struct page *page;

	page = bvec_alloc(test, order, order ? __GFP_COMP : 0);
	if (!page)
		kunit_skip(test, "no free order-%u folio (fragmented memory)",
			   order);
	if (order)
		KUNIT_ASSERT_PTR_EQ(test, page_folio(page + nr - 1),
				    page_folio(page));

	bvec_runs_init(test, &r, 2);
	bvec_add_pages(test, &r, page, nr);
	KUNIT_EXPECT_EQ(test, r.nr, 1);
	KUNIT_EXPECT_EQ(test, r.len, (u64)nr * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, r.start[0], 0);
	bvec_expect_bv(test, &r.bv[0], page, 0, nr * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&r, (u64)nr * PAGE_SIZE - 1), 0);
}

/*
 * A non-compound order-1 allocation gives two physically contiguous pages
 * that are separate folios: they must stay two runs.
 */
static void runs_contiguous_folios_split_test(struct kunit *test)
{
	struct page *page = bvec_alloc(test, 1, 0);
	struct pbuf_runs r;

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, page_to_pfn(page + 1), page_to_pfn(page) + 1);
	KUNIT_ASSERT_PTR_NE(test, page_folio(page + 1), page_folio(page));

	bvec_runs_init(test, &r, 2);
	bvec_add_pages(test, &r, page, 2);
	KUNIT_EXPECT_EQ(test, r.nr, 2);
	KUNIT_EXPECT_EQ(test, r.len, 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, r.start[1], PAGE_SIZE);
	bvec_expect_bv(test, &r.bv[0], page, 0, PAGE_SIZE);
	bvec_expect_bv(test, &r.bv[1], page + 1, 0, PAGE_SIZE);
}

/* Separately allocated single pages never merge, contiguous or not. */
static void runs_order0_pages_test(struct kunit *test)
{
	struct page *p[3];
	struct pbuf_runs r;
	unsigned int i;

	bvec_runs_init(test, &r, 3);
	for (i = 0; i < 3; i++) {
		p[i] = bvec_folio(test, 0);
		bvec_add_pages(test, &r, p[i], 1);
	}
	KUNIT_EXPECT_EQ(test, r.nr, 3);
	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_EQ(test, r.start[i], (u64)i * PAGE_SIZE);
		bvec_expect_bv(test, &r.bv[i], p[i], 0, PAGE_SIZE);
	}
}

/*
 * Pages added one after the other to a fresh run table of @cap runs:
 * folios of @order (compound above 0) are allocated, then each of the
 * @nadd adds puts @n pages (1 if 0) from page @page of folio @folio into
 * the table, @len bytes at @off of each, each returning @ret. Then the
 * table holds @nr runs, @len bytes in all; run @idx starts at @start, and
 * run @idx of @bv[] is @len bytes at @off of page @page of folio @folio.
 */
struct runs_case {
	const char *desc;
	unsigned int nfolio;
	unsigned int order[2];
	unsigned int cap;
	unsigned int nadd;
	struct {
		unsigned int folio, page, n;
		u32 off, len;
		int ret;
	} add[4];
	unsigned int nr;
	u64 len;
	unsigned int nstart;
	struct {
		unsigned int idx;
		u64 start;
	} start[1];
	unsigned int nbv;
	struct {
		unsigned int idx, folio, page, off, len;
	} bv[3];
};

#define ADD(f, p, cnt)	{ .folio = (f), .page = (p), .n = (cnt), .len = PAGE_SIZE }
#define ADD_PART(f, p, o, l)	{ .folio = (f), .page = (p), .off = (o), .len = (l) }
#define ADD_ERR(f, p, e)	{ .folio = (f), .page = (p), .len = PAGE_SIZE, .ret = (e) }
#define RUN(i, f, p, o, l)	{ .idx = (i), .folio = (f), .page = (p), .off = (o), .len = (l) }

static const struct runs_case runs_cases[] = {
	/* two compound folios make two runs, each covering its whole folio */
	{ "two folios", 2, { 2, 2 }, 2, 2, { ADD(0, 0, 4), ADD(1, 0, 4) },
	  2, 8 * PAGE_SIZE, 1, { { 1, 4 * PAGE_SIZE } }, 2,
	  { RUN(0, 0, 0, 0, 4 * PAGE_SIZE), RUN(1, 1, 0, 0, 4 * PAGE_SIZE) } },
	/*
	 * An unaligned buffer: the first page starts at an offset, the last
	 * is partial; within one folio it is still one run.
	 */
	{ "offset and partial page", 1, { 2 }, 1, 3,
	  { ADD_PART(0, 0, 100, PAGE_SIZE - 100), ADD(0, 1, 2),
	    ADD_PART(0, 3, 0, 50) },
	  1, 3 * PAGE_SIZE - 100 + 50, 0, {}, 1,
	  { RUN(0, 0, 0, 100, 3 * PAGE_SIZE - 100 + 50) } },
	/*
	 * Inside one folio, a page that does not continue the previous bytes
	 * starts a new run: a skipped page (1), or a previous range ending
	 * mid-page (page 3 again, from 0).
	 */
	{ "gap in a folio", 1, { 2 }, 4, 4,
	  { ADD(0, 0, 1), ADD(0, 2, 1), ADD_PART(0, 3, 0, 100), ADD(0, 3, 1) },
	  3, 3 * PAGE_SIZE + 100, 1, { { 2, 2 * PAGE_SIZE + 100 } }, 3,
	  { RUN(0, 0, 0, 0, PAGE_SIZE), RUN(1, 0, 2, 0, PAGE_SIZE + 100),
	    RUN(2, 0, 3, 0, PAGE_SIZE) } },
	/* a full table refuses a new run ... */
	{ "full table refuses a run", 2, { 1, 0 }, 1, 2,
	  { ADD(0, 0, 1), ADD_ERR(1, 0, -E2BIG) }, 1, PAGE_SIZE },
	/* ... but still extends its last one */
	{ "full table extends its run", 2, { 1, 0 }, 1, 3,
	  { ADD(0, 0, 1), ADD_ERR(1, 0, -E2BIG), ADD(0, 1, 1) },
	  1, 2 * PAGE_SIZE },
};

static void runs_case_desc(const struct runs_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(runs, runs_cases, runs_case_desc);

static void runs_table_test(struct kunit *test)
{
	const struct runs_case *c = test->param_value;
	struct page *folio[2];
	struct pbuf_runs r;
	unsigned int i, j;

	for (i = 0; i < c->nfolio; i++)
		folio[i] = bvec_folio(test, c->order[i]);
	bvec_runs_init(test, &r, c->cap);
	for (i = 0; i < c->nadd; i++) {
		struct page *page = folio[c->add[i].folio] + c->add[i].page;

		for (j = 0; j < (c->add[i].n ?: 1); j++)
			KUNIT_ASSERT_EQ_MSG(test, pbuf_runs_add(&r, page + j,
								c->add[i].off,
								c->add[i].len),
					    c->add[i].ret, "add %u, page %u",
					    i, j);
	}
	KUNIT_EXPECT_EQ(test, r.nr, c->nr);
	KUNIT_EXPECT_EQ(test, r.len, c->len);
	for (i = 0; i < c->nstart; i++)
		KUNIT_EXPECT_EQ(test, r.start[c->start[i].idx],
				c->start[i].start);
	for (i = 0; i < c->nbv; i++)
		bvec_expect_bv(test, &r.bv[c->bv[i].idx],
			       folio[c->bv[i].folio] + c->bv[i].page,
			       c->bv[i].off, c->bv[i].len);
}

/* Finding the first run: offset 0 and inside it. */
static void runs_find_first_test(struct kunit *test)
{
	struct bvec_three t;

	bvec_three_init(test, &t);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&t.r, 0), 0);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&t.r, 1), 0);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&t.r, PAGE_SIZE / 2), 0);
}

/* A run's last byte still belongs to it. */
static void runs_find_last_byte_test(struct kunit *test)
{
	struct bvec_three t;

	bvec_three_init(test, &t);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&t.r, PAGE_SIZE - 1), 0);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&t.r, 5 * PAGE_SIZE - 1), 1);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&t.r, THREE_LEN - 1), 2);
}

/*
 * The RFC's off-by-one: an offset equal to the previous run's end belongs
 * to the next run.
 */
static void runs_find_boundary_test(struct kunit *test)
{
	struct bvec_three t;

	bvec_three_init(test, &t);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&t.r, PAGE_SIZE), 1);
	KUNIT_EXPECT_EQ(test, pbuf_runs_find(&t.r, 5 * PAGE_SIZE), 2);
}

/* Binary search over a longer table: every start, end and middle. */
static void runs_find_many_test(struct kunit *test)
{
	const unsigned int nr = 13;
	struct pbuf_runs r;
	unsigned int i;

	bvec_page_runs(test, &r, nr);
	for (i = 0; i < nr; i++) {
		u64 base = (u64)i * PAGE_SIZE;

		KUNIT_EXPECT_EQ(test, pbuf_runs_find(&r, base), i);
		KUNIT_EXPECT_EQ(test, pbuf_runs_find(&r, base + 17), i);
		KUNIT_EXPECT_EQ(test, pbuf_runs_find(&r, base + PAGE_SIZE - 1),
				i);
	}
}

/*
 * The page index (pbuf_runs_index_fill()) answers as the search does, for
 * a buffer starting 100 bytes into its first page, with runs of one and
 * of four pages and a partial last page: every run's first and last byte
 * and the bytes around each page boundary.
 */
static void runs_index_test(struct kunit *test)
{
	struct pbuf_runs r;
	unsigned int want[96];
	u32 *page_run;
	unsigned int i, n = 0;
	u64 off;

	bvec_runs_init(test, &r, 16);
	KUNIT_ASSERT_EQ(test, pbuf_runs_add(&r, bvec_folio(test, 0), 100,
					    PAGE_SIZE - 100), 0);
	for (i = 0; i < 3; i++)
		bvec_add_pages(test, &r, bvec_folio(test, 0), 1);
	bvec_add_pages(test, &r, bvec_folio(test, 2), 4);
	bvec_add_pages(test, &r, bvec_folio(test, 0), 1);
	KUNIT_ASSERT_EQ(test, pbuf_runs_add(&r, bvec_folio(test, 0), 0, 10), 0);
	KUNIT_ASSERT_EQ(test, r.nr, 7);
	KUNIT_ASSERT_EQ(test, pbuf_runs_pages(&r), 10);

	/* the offsets to ask about, and what the search says */
	for (i = 0; i < r.nr; i++) {
		want[n++] = r.start[i];
		want[n++] = r.start[i] + r.bv[i].bv_len - 1;
	}
	for (off = PAGE_SIZE - 100; off < r.len; off += PAGE_SIZE) {
		want[n++] = off - 1;
		want[n++] = off;
	}
	KUNIT_ASSERT_LE(test, n, ARRAY_SIZE(want) / 2);
	for (i = 0; i < n; i++)
		want[n + i] = pbuf_runs_find(&r, want[i]);

	page_run = kunit_kcalloc(test, 10, sizeof(*page_run), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page_run);
	pbuf_runs_index_fill(&r, page_run);
	KUNIT_EXPECT_EQ(test, r.nr_pages, 10);
	KUNIT_EXPECT_EQ(test, page_run[0], 0);
	KUNIT_EXPECT_EQ(test, page_run[4], 4);
	KUNIT_EXPECT_EQ(test, page_run[7], 4);
	KUNIT_EXPECT_EQ(test, page_run[9], 6);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ_MSG(test, pbuf_runs_find(&r, want[i]),
				    want[n + i], "offset %u", want[i]);
}

/* The pages of struct bvec_three, as import_case names them. */
enum { THREE_A, THREE_F, THREE_C };

/*
 * Slices imported one after the other from the three-run buffer
 * (bvec_three: A, F, C) into a fresh output array: @nimp imports of
 * @len bytes at @off, each returning @ret. Then the array holds @nr
 * segments, @len bytes in all, and segment @idx of @bv[] is @len bytes
 * at @off of page @page (THREE_*).
 */
struct import_case {
	const char *desc;
	unsigned int nimp;
	struct {
		u64 off, len;
		int ret;
	} imp[5];
	unsigned int nr;
	u64 len;
	unsigned int nbv;
	struct {
		unsigned int idx, page, off, len;
	} bv[4];
};

#define IMP(o, l)	{ .off = (o), .len = (l) }
#define IMP_ERR(o, l, e)	{ .off = (o), .len = (l), .ret = (e) }
#define BV(i, p, o, l)	{ .idx = (i), .page = (p), .off = (o), .len = (l) }

static const struct import_case import_cases[] = {
	/*
	 * Lookup order: C, then A (behind the hint), then F's second page
	 * (the next run), then the same run as the last slice, further on.
	 */
	{ "lookup order", 4,
	  { IMP(5 * PAGE_SIZE + 10, 10), IMP(20, 10), IMP(2 * PAGE_SIZE, 10),
	    IMP(4 * PAGE_SIZE, 10) }, 4, 40, 4,
	  { BV(0, THREE_C, 10, 10), BV(1, THREE_A, 20, 10),
	    BV(2, THREE_F, PAGE_SIZE, 10), BV(3, THREE_F, 3 * PAGE_SIZE, 10) } },
	/* a slice inside one run is one segment, starting at the run's page */
	{ "within a run", 1, { IMP(10, 100) }, 1, 100, 1,
	  { BV(0, THREE_A, 10, 100) } },
	/*
	 * A slice deep inside a multi-page run: one segment on the folio's
	 * first page with a bv_offset beyond PAGE_SIZE (buffer offset
	 * PAGE_SIZE is byte 0 of F).
	 */
	{ "deep inside a multi-page run", 1,
	  { IMP(PAGE_SIZE + 3 * PAGE_SIZE + 5, PAGE_SIZE - 5) }, 1,
	  PAGE_SIZE - 5, 1, { BV(0, THREE_F, 3 * PAGE_SIZE + 5, PAGE_SIZE - 5) } },
	/* crossing page boundaries inside the folio stays one segment */
	{ "across pages of one folio", 1,
	  { IMP(PAGE_SIZE + PAGE_SIZE - 1, 2 * PAGE_SIZE + 2) }, 1,
	  2 * PAGE_SIZE + 2, 1, { BV(0, THREE_F, PAGE_SIZE - 1, 2 * PAGE_SIZE + 2) } },
	/*
	 * A slice starting exactly at a run boundary starts in the next run,
	 * with no zero-length segment for the previous one; a slice ending
	 * exactly at a boundary takes nothing from the next run.
	 */
	{ "starts at the boundary of F", 1, { IMP(PAGE_SIZE, 10) }, 1, 10, 1,
	  { BV(0, THREE_F, 0, 10) } },
	{ "starts at the boundary of C", 1, { IMP(5 * PAGE_SIZE, 1000) }, 1, 1000,
	  1, { BV(0, THREE_C, 0, 1000) } },
	{ "ends at the boundary of A", 1, { IMP(0, PAGE_SIZE) }, 1, PAGE_SIZE, 1,
	  { BV(0, THREE_A, 0, PAGE_SIZE) } },
	/* a slice over all three runs gives three segments with exact bounds */
	{ "spanning all runs", 1, { IMP(PAGE_SIZE - 10, 4 * PAGE_SIZE + 10 + 20) },
	  3, 4 * PAGE_SIZE + 30, 3,
	  { BV(0, THREE_A, PAGE_SIZE - 10, 10), BV(1, THREE_F, 0, 4 * PAGE_SIZE),
	    BV(2, THREE_C, 0, 20) } },
	{ "the whole buffer", 1, { IMP(0, THREE_LEN) }, 3, THREE_LEN },
	/* two adjacent slices of one folio, imported in order, merge */
	{ "adjacent slices merge", 2,
	  { IMP(PAGE_SIZE + 100, 200), IMP(PAGE_SIZE + 300, 2 * PAGE_SIZE) }, 1,
	  2 * PAGE_SIZE + 200, 1, { BV(0, THREE_F, 100, 2 * PAGE_SIZE + 200) } },
	/* slices that are not adjacent stay separate segments */
	{ "slices apart", 2, { IMP(0, 100), IMP(200, 100) }, 2, 200, 1,
	  { BV(1, THREE_A, 200, 100) } },
	/* 100..200 then 0..100: contiguous in reverse, no merge */
	{ "adjacent in reverse", 2, { IMP(100, 100), IMP(0, 100) }, 2, 200, 2,
	  { BV(0, THREE_A, 100, 100), BV(1, THREE_A, 0, 100) } },
	/* an empty slice appends nothing, anywhere inside or at the end */
	{ "empty slices", 3,
	  { IMP(0, 0), IMP(PAGE_SIZE, 0), IMP(THREE_LEN, 0) }, 0, 0 },
	/* and does not disturb what is there */
	{ "empty slices, then one after a slice", 5,
	  { IMP(0, 0), IMP(PAGE_SIZE, 0), IMP(THREE_LEN, 0), IMP(0, 100),
	    IMP(100, 0) }, 1, 100 },
	/* slices reaching outside the buffer fail with -EFAULT, adding nothing */
	{ "out of range", 5,
	  { IMP_ERR(0, THREE_LEN + 1, -EFAULT),
	    IMP_ERR(THREE_LEN - 1, 2, -EFAULT),
	    IMP_ERR(THREE_LEN + 1, 0, -EFAULT), IMP_ERR(U64_MAX, 2, -EFAULT),
	    IMP_ERR(10, U64_MAX, -EFAULT) }, 0, 0 },
	/* out->len sums every import, merged or not; failed ones add nothing */
	{ "length accounting", 4,
	  { IMP(0, 10), IMP(10, 20), IMP(4000, PAGE_SIZE),
	    IMP_ERR(THREE_LEN, 1, -EFAULT) }, 3, 30 + PAGE_SIZE, 3,
	  { BV(0, THREE_A, 0, 30), BV(1, THREE_A, 4000, PAGE_SIZE - 4000),
	    BV(2, THREE_F, 0, 4000) } },
};

static void import_case_desc(const struct import_case *c, char *desc)
{
	strscpy(desc, c->desc, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(import, import_cases, import_case_desc);

static void import_table_test(struct kunit *test)
{
	const struct import_case *c = test->param_value;
	struct bvec_fixture *fx = test->priv;
	struct bvec_three t;
	struct page *page[3];
	unsigned int i;

	bvec_three_init(test, &t);
	page[THREE_A] = t.a;
	page[THREE_F] = t.f;
	page[THREE_C] = t.c;
	for (i = 0; i < c->nimp; i++)
		KUNIT_ASSERT_EQ_MSG(test, pbuf_bvec_import(&fx->out, &t.r,
							   c->imp[i].off,
							   c->imp[i].len),
				    c->imp[i].ret, "import %u", i);
	KUNIT_EXPECT_EQ(test, fx->out.nr, c->nr);
	KUNIT_EXPECT_EQ(test, fx->out.len, c->len);
	for (i = 0; i < c->nbv; i++)
		bvec_expect_bv(test, &fx->out.bv[c->bv[i].idx],
			       page[c->bv[i].page], c->bv[i].off,
			       c->bv[i].len);
}

/*
 * pbuf_runs_iter() points the iterator into the table itself: at the run
 * holding the offset, that far into it, over the runs to the end.
 */
static void runs_iter_test(struct kunit *test)
{
	struct bvec_three t;
	struct iov_iter it;

	bvec_three_init(test, &t);
	KUNIT_ASSERT_EQ(test, pbuf_runs_iter(&it, ITER_SOURCE, &t.r,
					     PAGE_SIZE + 100, 2 * PAGE_SIZE), 0);
	KUNIT_EXPECT_PTR_EQ(test, it.bvec, &t.r.bv[1]);
	KUNIT_EXPECT_EQ(test, it.iov_offset, 100);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&it), 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, it.nr_segs, 2);

	/* the whole buffer, and a slice starting exactly at a run */
	KUNIT_ASSERT_EQ(test, pbuf_runs_iter(&it, ITER_SOURCE, &t.r, 0,
					     THREE_LEN), 0);
	KUNIT_EXPECT_PTR_EQ(test, it.bvec, &t.r.bv[0]);
	KUNIT_EXPECT_EQ(test, it.iov_offset, 0);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&it), THREE_LEN);
	/* inside a run: the iterator starts that far into it */
	KUNIT_ASSERT_EQ(test, pbuf_runs_iter(&it, ITER_SOURCE, &t.r, 100,
					     THREE_LEN - 200), 0);
	KUNIT_EXPECT_PTR_EQ(test, it.bvec, &t.r.bv[0]);
	KUNIT_EXPECT_EQ(test, it.iov_offset, 100);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&it), THREE_LEN - 200);
	KUNIT_EXPECT_EQ(test, it.nr_segs, 3);
	/* the first run's end belongs to the next run */
	KUNIT_ASSERT_EQ(test, pbuf_runs_iter(&it, ITER_SOURCE, &t.r,
					     PAGE_SIZE, 10), 0);
	KUNIT_EXPECT_PTR_EQ(test, it.bvec, &t.r.bv[1]);
	KUNIT_EXPECT_EQ(test, it.iov_offset, 0);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&it), 10);
	KUNIT_ASSERT_EQ(test, pbuf_runs_iter(&it, ITER_DEST, &t.r,
					     5 * PAGE_SIZE, 1000), 0);
	KUNIT_EXPECT_PTR_EQ(test, it.bvec, &t.r.bv[2]);
	KUNIT_EXPECT_EQ(test, it.iov_offset, 0);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&it), 1000);

	KUNIT_ASSERT_EQ(test, pbuf_runs_iter(&it, ITER_SOURCE, &t.r,
					     THREE_LEN, 0), 0);
	KUNIT_EXPECT_EQ(test, iov_iter_count(&it), 0);
	KUNIT_EXPECT_EQ(test, pbuf_runs_iter(&it, ITER_SOURCE, &t.r,
					     THREE_LEN - 1, 2), -EFAULT);
	KUNIT_EXPECT_EQ(test, pbuf_runs_iter(&it, ITER_SOURCE, &t.r,
					     THREE_LEN + 1, 0), -EFAULT);
}

/* Reuse empties the array but keeps what it grew; release frees it. */
static void out_reuse_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	struct pbuf_bvec_out *out = &fx->out;
	struct bvec_three t;
	struct bio_vec *heap;
	unsigned int cap;

	pbuf_bvec_out_init(out, 64, GFP_KERNEL);
	bvec_three_init(test, &t);
	bvec_import_spaced(test, out, &t.r, 0, 64, 1, PBUF_INLINE_SEGS + 1);
	heap = out->bv;
	cap = out->cap;
	KUNIT_EXPECT_PTR_NE(test, heap, &out->inline_bv[0]);

	pbuf_bvec_out_reuse(out);
	KUNIT_EXPECT_PTR_EQ(test, out->bv, heap);
	KUNIT_EXPECT_EQ(test, out->cap, cap);
	KUNIT_EXPECT_EQ(test, out->nr, 0);
	KUNIT_EXPECT_EQ(test, out->len, 0);
	bvec_import_spaced(test, out, &t.r, 0, 64, 1, PBUF_INLINE_SEGS + 1);
	KUNIT_EXPECT_PTR_EQ(test, out->bv, heap);
	KUNIT_EXPECT_EQ(test, out->nr, PBUF_INLINE_SEGS + 1);
	KUNIT_EXPECT_EQ(test, out->len, PBUF_INLINE_SEGS + 1);

	pbuf_bvec_out_release(out);
	KUNIT_EXPECT_PTR_EQ(test, out->bv, &out->inline_bv[0]);
}

/* A fresh output array is empty and inline; release returns it there. */
static void out_init_release_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	struct pbuf_bvec_out *out = &fx->out;
	struct bvec_three t;

	pbuf_bvec_out_init(out, 64, GFP_KERNEL);
	KUNIT_EXPECT_PTR_EQ(test, out->bv, &out->inline_bv[0]);
	KUNIT_EXPECT_EQ(test, out->nr, 0);
	KUNIT_EXPECT_EQ(test, out->cap, PBUF_INLINE_SEGS);
	KUNIT_EXPECT_EQ(test, out->max, 64);
	KUNIT_EXPECT_EQ(test, out->len, 0);

	bvec_three_init(test, &t);
	bvec_import_spaced(test, out, &t.r, 0, 64, 1, PBUF_INLINE_SEGS + 1);
	KUNIT_EXPECT_PTR_NE(test, out->bv, &out->inline_bv[0]);

	pbuf_bvec_out_release(out);
	KUNIT_EXPECT_PTR_EQ(test, out->bv, &out->inline_bv[0]);
	KUNIT_EXPECT_EQ(test, out->nr, 0);
	KUNIT_EXPECT_EQ(test, out->cap, PBUF_INLINE_SEGS);
	KUNIT_EXPECT_EQ(test, out->max, 64);
	KUNIT_EXPECT_EQ(test, out->len, 0);
}

/* The first run's bv_offset carries into every slice taken from it. */
static void import_first_page_offset_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	struct page *f = bvec_folio(test, 2);
	struct pbuf_runs r;

	bvec_runs_init(test, &r, 1);
	KUNIT_ASSERT_EQ(test, pbuf_runs_add(&r, f, 100, PAGE_SIZE - 100), 0);
	bvec_add_pages(test, &r, f + 1, 3);

	KUNIT_ASSERT_EQ(test, pbuf_bvec_import(&fx->out, &r, 0, 10), 0);
	bvec_expect_bv(test, &fx->out.bv[0], f, 100, 10);
	/* buffer offset PAGE_SIZE is 100 bytes into the second page */
	KUNIT_ASSERT_EQ(test, pbuf_bvec_import(&fx->out, &r, PAGE_SIZE, 10), 0);
	KUNIT_EXPECT_EQ(test, fx->out.nr, 2);
	bvec_expect_bv(test, &fx->out.bv[1], f, PAGE_SIZE + 100, 10);
	/* the buffer's last byte */
	KUNIT_ASSERT_EQ(test, pbuf_bvec_import(&fx->out, &r, r.len - 1, 1), 0);
	bvec_expect_bv(test, &fx->out.bv[2], f, 4 * PAGE_SIZE - 1, 1);
}

/*
 * Physically contiguous pages of different folios are never merged: not
 * within one slice, and not across two adjacent slices.
 */
static void import_contiguous_folios_no_merge_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	struct page *page = bvec_alloc(test, 1, 0);
	struct pbuf_runs r;

	KUNIT_ASSERT_NOT_NULL(test, page);
	bvec_runs_init(test, &r, 2);
	bvec_add_pages(test, &r, page, 2);
	KUNIT_ASSERT_EQ(test, r.nr, 2);

	KUNIT_ASSERT_EQ(test, pbuf_bvec_import(&fx->out, &r, 100,
					       PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, fx->out.nr, 2);
	bvec_expect_bv(test, &fx->out.bv[0], page, 100, PAGE_SIZE - 100);
	bvec_expect_bv(test, &fx->out.bv[1], page + 1, 0, 100);

	pbuf_bvec_out_release(&fx->out);
	KUNIT_ASSERT_EQ(test, pbuf_bvec_import(&fx->out, &r, 0, PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, pbuf_bvec_import(&fx->out, &r, PAGE_SIZE,
					       PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, fx->out.nr, 2);
	KUNIT_EXPECT_EQ(test, fx->out.len, 2 * PAGE_SIZE);
}

/*
 * More segments than fit inline: the array moves to the heap, doubling,
 * and keeps every segment already built.
 */
static void import_grow_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	struct pbuf_bvec_out *out = &fx->out;
	const unsigned int nr = 2 * PBUF_INLINE_SEGS + 4;
	struct bvec_three t;
	unsigned int i;

	bvec_three_init(test, &t);
	pbuf_bvec_out_init(out, 64, GFP_KERNEL);
	/* 16-byte slices 32 bytes apart inside F */
	bvec_import_spaced(test, out, &t.r, PAGE_SIZE, 32, 16, nr);
	KUNIT_EXPECT_PTR_NE(test, out->bv, &out->inline_bv[0]);
	KUNIT_EXPECT_EQ(test, out->cap, 4 * PBUF_INLINE_SEGS);
	KUNIT_EXPECT_EQ(test, out->len, 16 * nr);
	for (i = 0; i < nr; i++)
		bvec_expect_bv(test, &out->bv[i], t.f, 32 * i, 16);
}

/*
 * At @max segments a new segment fails with -E2BIG and changes nothing,
 * while a slice that merges into the last segment still fits.
 */
static void import_max_segs_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	struct pbuf_bvec_out *out = &fx->out;
	const unsigned int max = 2 * PBUF_INLINE_SEGS;
	struct bvec_three t;

	bvec_three_init(test, &t);
	pbuf_bvec_out_init(out, max, GFP_KERNEL);
	bvec_import_spaced(test, out, &t.r, 0, 32, 16, max);
	KUNIT_EXPECT_EQ(test, out->cap, max);

	KUNIT_EXPECT_EQ(test, pbuf_bvec_import(out, &t.r, 32 * max, 16),
			-E2BIG);
	KUNIT_EXPECT_EQ(test, out->nr, max);
	KUNIT_EXPECT_EQ(test, out->len, 16 * max);

	KUNIT_EXPECT_EQ(test, pbuf_bvec_import(out, &t.r, 32 * (max - 1) + 16,
					       16), 0);
	KUNIT_EXPECT_EQ(test, out->nr, max);
	bvec_expect_bv(test, &out->bv[max - 1], t.a, 32 * (max - 1), 32);
}

/* A single slice needing more than @max segments fails with -E2BIG. */
static void import_slice_too_many_segs_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	struct pbuf_bvec_out *out = &fx->out;
	const unsigned int nr = 2 * PBUF_INLINE_SEGS + 1;
	struct pbuf_runs r;

	bvec_page_runs(test, &r, nr);
	pbuf_bvec_out_init(out, nr - 1, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, pbuf_bvec_import(out, &r, 0, r.len), -E2BIG);
	KUNIT_EXPECT_LE(test, out->nr, nr - 1);

	pbuf_bvec_out_release(out);
	pbuf_bvec_out_init(out, nr, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, pbuf_bvec_import(out, &r, 0, r.len), 0);
	KUNIT_EXPECT_EQ(test, out->nr, nr);
	KUNIT_EXPECT_EQ(test, out->len, r.len);
}

/*
 * A limit below the inline capacity is a limit too: "never beyond @max
 * segments" holds before the array ever grows.
 */
static void import_small_max_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	struct pbuf_bvec_out *out = &fx->out;
	struct bvec_three t;

	bvec_three_init(test, &t);
	pbuf_bvec_out_init(out, 2, GFP_KERNEL);
	bvec_import_spaced(test, out, &t.r, 0, 32, 16, 2);
	KUNIT_EXPECT_EQ(test, pbuf_bvec_import(out, &t.r, 64, 16), -E2BIG);
	KUNIT_EXPECT_LE(test, out->nr, 2);

	/* max 1: a slice over two runs cannot be built */
	pbuf_bvec_out_release(out);
	pbuf_bvec_out_init(out, 1, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, pbuf_bvec_import(out, &t.r, PAGE_SIZE - 1, 2),
			-E2BIG);
	KUNIT_EXPECT_LE(test, out->nr, 1);
}

/* A whole 2 MiB folio imports as one segment, as does any slice of it. */
static void import_huge_folio_test(struct kunit *test)
{
	struct bvec_fixture *fx = test->priv;
	const unsigned int order = 9;
	struct pbuf_runs r;
	struct page *page;

	page = bvec_alloc(test, order, __GFP_COMP);
	if (!page)
		kunit_skip(test, "no free order-9 folio (fragmented memory)");

	bvec_runs_init(test, &r, 1);
	bvec_add_pages(test, &r, page, 1U << order);
	KUNIT_ASSERT_EQ(test, r.nr, 1);

	KUNIT_ASSERT_EQ(test, pbuf_bvec_import(&fx->out, &r, 0, r.len), 0);
	KUNIT_EXPECT_EQ(test, fx->out.nr, 1);
	bvec_expect_bv(test, &fx->out.bv[0], page, 0, PAGE_SIZE << order);

	pbuf_bvec_out_release(&fx->out);
	KUNIT_ASSERT_EQ(test, pbuf_bvec_import(&fx->out, &r,
					       300 * PAGE_SIZE + 7,
					       100 * PAGE_SIZE), 0);
	KUNIT_EXPECT_EQ(test, fx->out.nr, 1);
	bvec_expect_bv(test, &fx->out.bv[0], page, 300 * PAGE_SIZE + 7,
		       100 * PAGE_SIZE);
}

static struct kunit_case iouring_pbuf_bvec_cases[] = {
	KUNIT_CASE(runs_add_invalid_test),
	KUNIT_CASE_PARAM(runs_folio_one_run_test, folio_order_gen_params),
	KUNIT_CASE(runs_contiguous_folios_split_test),
	KUNIT_CASE(runs_order0_pages_test),
	KUNIT_CASE_PARAM(runs_table_test, runs_gen_params),
	KUNIT_CASE(runs_find_first_test),
	KUNIT_CASE(runs_find_last_byte_test),
	KUNIT_CASE(runs_find_boundary_test),
	KUNIT_CASE(runs_find_many_test),
	KUNIT_CASE(runs_index_test),
	KUNIT_CASE(out_init_release_test),
	KUNIT_CASE(out_reuse_test),
	KUNIT_CASE(runs_iter_test),
	KUNIT_CASE_PARAM(import_table_test, import_gen_params),
	KUNIT_CASE(import_first_page_offset_test),
	KUNIT_CASE(import_contiguous_folios_no_merge_test),
	KUNIT_CASE(import_grow_test),
	KUNIT_CASE(import_max_segs_test),
	KUNIT_CASE(import_slice_too_many_segs_test),
	KUNIT_CASE(import_small_max_test),
	KUNIT_CASE(import_huge_folio_test),
	{}
};

static struct kunit_suite iouring_pbuf_bvec_suite = {
	.name = "iouring_pbuf_bvec",
	.init = bvec_test_init,
	.exit = bvec_test_exit,
	.test_cases = iouring_pbuf_bvec_cases,
};

kunit_test_suite(iouring_pbuf_bvec_suite);

MODULE_DESCRIPTION("KUnit tests for iouring-pbuf folio runs and bio_vec import");
MODULE_LICENSE("GPL");
