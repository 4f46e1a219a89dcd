// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the registered-buffer encoding of the iouring-pbuf uAPI
 * (index in bits 0..19, offset in bits 20..63), the ring entry layout and
 * pbuf_range_ok().
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/stddef.h>

#include "pbuf_logic.h"

#define MAX_INDEX	IOPBUF_REGBUF_MAX_INDEX
#define MAX_OFFSET	IOPBUF_REGBUF_MAX_OFFSET

struct encode_case {
	u32 index;
	u64 offset;
	u64 addr;	/* the expected encoding */
};

static const struct encode_case encode_cases[] = {
	{ 0, 0, 0 },
	{ 1, 0, 0x1 },
	{ 0, 1, 0x100000 },
	{ 0xfffff, 0, 0xfffff },
	{ 0, 0xfffffffffffULL, 0xfffffffffff00000ULL },
	{ 0xfffff, 0xfffffffffffULL, ~0ULL },
	{ 0x12345, 0xabcdef012ULL, 0xabcdef01212345ULL },
	{ 0x80000, 0x80000000000ULL, 0x8000000000080000ULL },
	{ 4095, 4096, 0x100000fffULL },
	{ 0x00001, 0x7ffffffffffULL, 0x7ffffffffff00001ULL },
};

static void encode_case_desc(const struct encode_case *c, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "index=%#x offset=%#llx",
		 c->index, c->offset);
}

KUNIT_ARRAY_PARAM(encode, encode_cases, encode_case_desc);

/* Known (index, offset) pairs encode to the documented bit layout and back. */
static void encode_roundtrip_test(struct kunit *test)
{
	const struct encode_case *c = test->param_value;
	u64 addr = iopbuf_regbuf_encode(c->index, c->offset);

	KUNIT_EXPECT_TRUE(test, iopbuf_regbuf_encodable(c->index, c->offset));
	KUNIT_EXPECT_EQ(test, addr, c->addr);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_index(addr), c->index);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_offset(addr), c->offset);
}

/* The field widths and derived limits agree with each other. */
static void encode_constants_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, IOPBUF_REGBUF_INDEX_BITS +
			IOPBUF_REGBUF_OFFSET_BITS, 64);
	KUNIT_EXPECT_EQ(test, MAX_INDEX, (1ULL << 20) - 1);
	KUNIT_EXPECT_EQ(test, MAX_OFFSET, (1ULL << 44) - 1);
	KUNIT_EXPECT_EQ(test, (u64)IOPBUF_MAX_BUFS, MAX_INDEX + 1);
	KUNIT_EXPECT_EQ(test, IOPBUF_REGBUF_INDEX_MASK & (MAX_OFFSET << 20), 0);
}

/* The largest encodable values, alone and together. */
static void encode_encodable_limits_test(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, iopbuf_regbuf_encodable(0, 0));
	KUNIT_EXPECT_TRUE(test, iopbuf_regbuf_encodable(MAX_INDEX, 0));
	KUNIT_EXPECT_TRUE(test, iopbuf_regbuf_encodable(0, MAX_OFFSET));
	KUNIT_EXPECT_TRUE(test, iopbuf_regbuf_encodable(MAX_INDEX, MAX_OFFSET));
}

/* One past the largest index is rejected, whatever the offset. */
static void encode_rejects_index_test(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, iopbuf_regbuf_encodable(1U << 20, 0));
	KUNIT_EXPECT_FALSE(test, iopbuf_regbuf_encodable(1U << 20, 1));
	KUNIT_EXPECT_FALSE(test, iopbuf_regbuf_encodable(U32_MAX, 0));
	KUNIT_EXPECT_FALSE(test,
			   iopbuf_regbuf_encodable(IOPBUF_MAX_BUFS, MAX_OFFSET));
}

/* One past the largest offset is rejected, whatever the index. */
static void encode_rejects_offset_test(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, iopbuf_regbuf_encodable(0, 1ULL << 44));
	KUNIT_EXPECT_FALSE(test,
			   iopbuf_regbuf_encodable(MAX_INDEX, 1ULL << 44));
	KUNIT_EXPECT_FALSE(test, iopbuf_regbuf_encodable(0, U64_MAX));
	KUNIT_EXPECT_FALSE(test, iopbuf_regbuf_encodable(U32_MAX, U64_MAX));
}

/*
 * An index too large keeps only its low 20 bits: the excess must not leak
 * into the offset field.
 */
static void encode_truncates_index_test(struct kunit *test)
{
	u64 addr = iopbuf_regbuf_encode((1U << 20) | 5, 7);

	KUNIT_EXPECT_EQ(test, addr, iopbuf_regbuf_encode(5, 7));
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_index(addr), 5);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_offset(addr), 7);

	addr = iopbuf_regbuf_encode(U32_MAX, 0);
	KUNIT_EXPECT_EQ(test, addr, MAX_INDEX);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_offset(addr), 0);
}

/*
 * An offset too large keeps only its low 44 bits: the excess is shifted
 * out and never touches the index field.
 */
static void encode_truncates_offset_test(struct kunit *test)
{
	u64 addr = iopbuf_regbuf_encode(3, (1ULL << 44) | 9);

	KUNIT_EXPECT_EQ(test, addr, iopbuf_regbuf_encode(3, 9));
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_index(addr), 3);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_offset(addr), 9);

	addr = iopbuf_regbuf_encode(0, U64_MAX);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_index(addr), 0);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_offset(addr), MAX_OFFSET);
}

/* Any 64-bit value decodes to an encodable pair that encodes back to it. */
static void encode_decode_any_test(struct kunit *test)
{
	static const u64 addrs[] = {
		0, 1, ~0ULL, 0x0123456789abcdefULL, 0x8000000000000000ULL,
		0xfffff, 0x100000, 0xdeadbeefcafef00dULL,
	};
	unsigned int i;

	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_index(~0ULL), MAX_INDEX);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_offset(~0ULL), MAX_OFFSET);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_index(0x0123456789abcdefULL),
			0xbcdef);
	KUNIT_EXPECT_EQ(test, iopbuf_regbuf_offset(0x0123456789abcdefULL),
			0x0123456789aULL);

	for (i = 0; i < ARRAY_SIZE(addrs); i++) {
		u32 index = iopbuf_regbuf_index(addrs[i]);
		u64 offset = iopbuf_regbuf_offset(addrs[i]);

		KUNIT_EXPECT_TRUE(test, iopbuf_regbuf_encodable(index, offset));
		KUNIT_EXPECT_EQ(test, iopbuf_regbuf_encode(index, offset),
				addrs[i]);
	}
}

/*
 * The ring entry is io_uring's struct io_uring_buf byte for byte, and the
 * tail overlays entry 0's resv at byte 14.
 */
static void encode_ring_layout_test(struct kunit *test)
{
	struct iopbuf_buf bufs[2] = {};

	KUNIT_EXPECT_EQ(test, sizeof(struct iopbuf_buf), 16);
	KUNIT_EXPECT_EQ(test, offsetof(struct iopbuf_buf, addr), 0);
	KUNIT_EXPECT_EQ(test, offsetof(struct iopbuf_buf, len), 8);
	KUNIT_EXPECT_EQ(test, offsetof(struct iopbuf_buf, bid), 12);
	KUNIT_EXPECT_EQ(test, offsetof(struct iopbuf_buf, resv), 14);
	KUNIT_EXPECT_PTR_EQ(test, (void *)iopbuf_ring_tail(bufs),
			    (void *)((u8 *)bufs + 14));

	/* power of two, and below 65536 so full and empty differ */
	KUNIT_EXPECT_TRUE(test, is_power_of_2(IOPBUF_MAX_RING_ENTRIES));
	KUNIT_EXPECT_LT(test, IOPBUF_MAX_RING_ENTRIES, 65536);
}

struct range_case {
	const char *name;
	u64 buf_len;
	u64 offset;
	u64 len;
	bool ok;
};

static const struct range_case range_cases[] = {
	{ "empty buffer, empty slice", 0, 0, 0, true },
	{ "empty buffer, offset 1", 0, 1, 0, false },
	{ "empty buffer, len 1", 0, 0, 1, false },
	{ "whole buffer", 4096, 0, 4096, true },
	{ "one byte too long", 4096, 0, 4097, false },
	{ "last byte", 4096, 4095, 1, true },
	{ "past the last byte", 4096, 4095, 2, false },
	{ "empty slice at the end", 4096, 4096, 0, true },
	{ "empty slice past the end", 4096, 4097, 0, false },
	{ "offset + len wraps to 0", U64_MAX, 1, U64_MAX, false },
	{ "offset + len wraps below buf_len", 100, 50, U64_MAX - 10, false },
	{ "offset U64_MAX, len 2", 4096, U64_MAX, 2, false },
	{ "U64_MAX buffer, whole", U64_MAX, 0, U64_MAX, true },
	{ "U64_MAX buffer, empty slice at end", U64_MAX, U64_MAX, 0, true },
	{ "U64_MAX buffer, last byte", U64_MAX, U64_MAX - 1, 1, true },
	{ "U64_MAX buffer, past the end", U64_MAX, U64_MAX, 1, false },
	{ "offset U64_MAX into a smaller buffer", U64_MAX - 1, U64_MAX, 0,
	  false },
};

static void range_case_desc(const struct range_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(range, range_cases, range_case_desc);

/* pbuf_range_ok() at the buffer edges and where offset + len overflows. */
static void range_ok_test(struct kunit *test)
{
	const struct range_case *c = test->param_value;

	KUNIT_EXPECT_EQ_MSG(test, pbuf_range_ok(c->buf_len, c->offset, c->len),
			    c->ok, "buf_len=%llu offset=%llu len=%llu",
			    c->buf_len, c->offset, c->len);
}

static struct kunit_case iouring_pbuf_encode_cases[] = {
	KUNIT_CASE_PARAM(encode_roundtrip_test, encode_gen_params),
	KUNIT_CASE(encode_constants_test),
	KUNIT_CASE(encode_encodable_limits_test),
	KUNIT_CASE(encode_rejects_index_test),
	KUNIT_CASE(encode_rejects_offset_test),
	KUNIT_CASE(encode_truncates_index_test),
	KUNIT_CASE(encode_truncates_offset_test),
	KUNIT_CASE(encode_decode_any_test),
	KUNIT_CASE(encode_ring_layout_test),
	KUNIT_CASE_PARAM(range_ok_test, range_gen_params),
	{}
};

static struct kunit_suite iouring_pbuf_encode_suite = {
	.name = "iouring_pbuf_encode",
	.test_cases = iouring_pbuf_encode_cases,
};

kunit_test_suite(iouring_pbuf_encode_suite);

MODULE_DESCRIPTION("KUnit tests for the iouring-pbuf registered-buffer encoding");
MODULE_LICENSE("GPL");
