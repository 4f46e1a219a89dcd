// SPDX-License-Identifier: GPL-2.0
/*
 * ring: IOPBUF_IOC_REGISTER_RING, UNREGISTER_RING, RING_STATUS and mmap of
 * kernel-allocated rings. Layout compatibility with liburing's buffer
 * rings, validation (mirroring io_uring's io_register_pbuf_ring), pin and
 * charge counts, mapping lifetime, fdinfo.
 */
#include "harness.h"

/* The ring layout is byte for byte io_uring's (liburing works on it). */
_Static_assert(sizeof(struct iopbuf_buf) == sizeof(struct io_uring_buf),
	       "entry size");
_Static_assert(offsetof(struct iopbuf_buf, addr) ==
	       offsetof(struct io_uring_buf, addr), "addr");
_Static_assert(offsetof(struct iopbuf_buf, len) ==
	       offsetof(struct io_uring_buf, len), "len");
_Static_assert(offsetof(struct iopbuf_buf, bid) ==
	       offsetof(struct io_uring_buf, bid), "bid");
_Static_assert(offsetof(struct iopbuf_buf, resv) ==
	       offsetof(struct io_uring_buf_ring, tail), "tail overlays resv");

#define ENTRY		sizeof(struct iopbuf_buf)
#define KERNEL_ADDR	0xffff888000000000ULL

/*
 * bgids for rings that are mmap()ed: bit 15 set, the top bit of the
 * offset's bgid field (an earlier IOPBUF_OFF_RING() lost it to the base;
 * mmap_low_bgid and mmap_offsets_distinct pin the fix down).
 */
#define MBGID(n)	(0x8000 + (n))

static void *ring_mmap(int fd, unsigned int bgid, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    IOPBUF_OFF_RING(bgid));
}

/*
 * Open the device into *@fd (-1 if it fails), register kernel-allocated
 * ring @bgid of 1024 entries there and map it (4 pages).
 */
static char *open_mmap_ring_1024(int *fd, unsigned int bgid)
{
	char *ring;

	*fd = h_open();
	if (*fd < 0 ||
	    !EXPECT_OK(h_register_ring(*fd, NULL, 1024, bgid, IOPBUF_RING_MMAP,
				       0)))
		return MAP_FAILED;
	ring = ring_mmap(*fd, bgid, 4 * H_PAGE);
	EXPECT(ring != MAP_FAILED);
	return ring;
}

/* mmap() result as 0 / -errno */
static long ring_mmap_err(int fd, size_t len, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, len);
	return 0;
}

/* The exact fdinfo line of ring @bgid. */
#define EXPECT_RING_LINE(fd, bgid, entries, tail, flags, min_left)	\
	EXPECT_FDINFO_LINE(fd, "  ring %u: entries %u head 0 tail %u%s%s%s min_left %u", \
			   (unsigned int)(bgid), (unsigned int)(entries),	\
			   (unsigned int)(tail),				\
			   (flags) & IOPBUF_RING_MMAP ? " mmap" : "",	\
			   (flags) & IOPBUF_RING_REGBUF ? " regbuf" : "",	\
			   (flags) & IOPBUF_RING_INC ? " inc" : "",		\
			   (unsigned int)(min_left))

/* Fill @n entries with liburing and publish them (release store of tail). */
static void liburing_fill(void *ring, unsigned int entries, unsigned int n,
			  char *data)
{
	struct io_uring_buf_ring *br = ring;
	unsigned int i;

	for (i = 0; i < n; i++)
		io_uring_buf_ring_add(br, data + i * 100, 100 + i, 10 + i,
				      io_uring_buf_ring_mask(entries), i);
	io_uring_buf_ring_advance(br, n);
}

/* The same entries as seen through the uAPI's layout. */
static void check_fill(const void *ring, unsigned int entries,
		       unsigned int tail, unsigned int n, const char *data)
{
	const struct iopbuf_buf *bufs = ring;
	unsigned int i;

	EXPECT_EQ(*iopbuf_ring_tail((struct iopbuf_buf *)bufs), tail);
	for (i = 0; i < n; i++) {
		const struct iopbuf_buf *b = &bufs[(tail - n + i) & (entries - 1)];

		EXPECT_EQ(b->addr, (uintptr_t)(data + i * 100));
		EXPECT_EQ(b->len, 100 + i);
		EXPECT_EQ(b->bid, 10 + i);
	}
}

/* ------------------------------------------------------------------------
 * Application memory
 */

/*
 * A ring in page-aligned application memory: liburing's
 * io_uring_buf_ring_init/add/advance/mask work on it unchanged, the
 * uAPI's struct iopbuf_buf and iopbuf_ring_tail() read the same bytes,
 * and the kernel sees the tail through its own mapping (fdinfo). The
 * kernel head starts at 0.
 */
static void user_ring_liburing(void)
{
	char *ring = h_map(H_PAGE), *data = h_map(H_PAGE);
	unsigned int head = 99;
	int fd = h_open();

	if (fd < 0 || !ring || !data)
		goto out;
	io_uring_buf_ring_init((struct io_uring_buf_ring *)ring);
	if (!EXPECT_OK(h_register_ring(fd, ring, 256, 1, 0, 0)))
		goto out;
	EXPECT_STATS(fd, 0, 0, 1, 1, 0);
	EXPECT_RING_LINE(fd, 1, 256, 0, 0, 1);
	liburing_fill(ring, 256, 8, data);
	check_fill(ring, 256, 8, 8, data);
	EXPECT_RING_LINE(fd, 1, 256, 8, 0, 1);
	/* the tail is a free-running u16: past the ring size and wrapping */
	io_uring_buf_ring_advance((struct io_uring_buf_ring *)ring, 300);
	EXPECT_RING_LINE(fd, 1, 256, 308, 0, 1);
	io_uring_buf_ring_advance((struct io_uring_buf_ring *)ring, 65535 - 307);
	EXPECT_RING_LINE(fd, 1, 256, 0, 0, 1);
	EXPECT_OK(h_ring_status(fd, 1, &head));
	EXPECT_EQ(head, 0);
out:
	h_close(&fd);
	h_unmap(ring, H_PAGE);
	h_unmap(data, H_PAGE);
}

/* User rings of 1, 256, 512 and 32768 entries. */
static const struct {
	unsigned int entries, bgid, pages;
} sizes[] = {
	{ 1, 10, 1 },		/* 16 bytes still pin a page */
	{ 256, 11, 1 },		/* exactly one page */
	{ 512, 12, 2 },
	{ 32768, 13, 128 },	/* IOPBUF_MAX_RING_ENTRIES */
};

static void sized_rings(bool charged)
{
	char *mem = h_map(132 * H_PAGE);
	struct h_global g0, g1;
	unsigned int i, pages = 0, off = 0;
	int fd = h_open();

	if (fd < 0 || !mem)
		goto out;
	h_global_read(&g0);
	for (i = 0; i < H_ARRAY_SIZE(sizes); i++) {
		if (!EXPECT_OK(h_register_ring(fd, mem + off * H_PAGE,
					       sizes[i].entries, sizes[i].bgid,
					       0, 0)))
			goto out;
		off += sizes[i].pages;
		pages += sizes[i].pages;
		EXPECT_STATS(fd, 0, 0, i + 1, pages, charged ? pages : 0);
		EXPECT_RING_LINE(fd, sizes[i].bgid, sizes[i].entries, 0, 0, 1);
	}
	h_global_read(&g1);
	EXPECT_EQ(g1.pinned_pages - g0.pinned_pages, 132);
	EXPECT_EQ(g1.charged_pages - g0.charged_pages, charged ? 132 : 0);
	for (i = 0; i < H_ARRAY_SIZE(sizes); i++) {
		if (!EXPECT_OK(h_unregister_ring(fd, sizes[i].bgid)))
			goto out;
		pages -= sizes[i].pages;
		EXPECT_STATS(fd, 0, 0, H_ARRAY_SIZE(sizes) - 1 - i, pages,
			     charged ? pages : 0);
	}
	EXPECT_PAGES_AS(g0);
	EXPECT_EQ(h_fdinfo_count(fd, "  ring "), 0);
out:
	h_close(&fd);
	h_unmap(mem, 132 * H_PAGE);
}

/*
 * A user ring pins exactly the pages of ring_entries * 16 bytes (at least
 * one); with CAP_IPC_LOCK nothing is charged. Unregistering releases them.
 */
static void user_ring_pinned(void)
{
	sized_rings(false);
}

static void user_ring_charged_child(void *arg)
{
	(void)arg;
	if (h_drop_ipc_lock() && EXPECT_OK(h_set_memlock(1 << 20)))
		sized_rings(true);
}

/* Without CAP_IPC_LOCK every page of a user ring is charged. */
static void user_ring_charged(void)
{
	h_in_child(user_ring_charged_child, NULL);
}

static void ring_memlock_child(void *arg)
{
	char *mem = h_map(128 * H_PAGE);
	struct h_global g0, g1;
	int fd = -1;

	(void)arg;
	if (!mem || !h_drop_ipc_lock() || !EXPECT_OK(h_set_memlock(64 << 10)))
		goto out;
	fd = h_open();
	if (fd < 0)
		goto out;
	h_global_read(&g0);
	/* 8 + 4 of 16 pages, in application and in kernel memory */
	if (!EXPECT_OK(h_register_ring(fd, mem, 2048, 1, 0, 0)) ||
	    !EXPECT_OK(h_register_ring(fd, NULL, 1024, 2, IOPBUF_RING_MMAP, 0)))
		goto out;
	EXPECT_STATS(fd, 0, 0, 2, 12, 12);
	/* 12 + 8 > 16 */
	EXPECT_ERR(h_register_ring(fd, mem + 64 * H_PAGE, 2048, 3, 0, 0), ENOMEM);
	EXPECT_ERR(h_register_ring(fd, NULL, 2048, 3, IOPBUF_RING_MMAP, 0),
		   ENOMEM);
	EXPECT_STATS(fd, 0, 0, 2, 12, 12);
	h_global_read(&g1);
	EXPECT_EQ(g1.pinned_pages - g0.pinned_pages, 12);
	EXPECT_EQ(g1.charged_pages - g0.charged_pages, 12);
	/* up to the limit: 4 more pages; then not one more */
	EXPECT_OK(h_register_ring(fd, NULL, 1024, 3, IOPBUF_RING_MMAP, 0));
	EXPECT_STATS(fd, 0, 0, 3, 16, 16);
	EXPECT_ERR(h_register_ring(fd, mem + 64 * H_PAGE, 1, 4, 0, 0), ENOMEM);
	EXPECT_ERR(h_register_ring(fd, NULL, 1, 4, IOPBUF_RING_MMAP, 0), ENOMEM);
	EXPECT_STATS(fd, 0, 0, 3, 16, 16);
	/* unregistering returns the charge */
	EXPECT_OK(h_unregister_ring(fd, 1));
	EXPECT_STATS(fd, 0, 0, 2, 8, 8);
	h_close(&fd);
	EXPECT_PAGES_AS(g0);
out:
	h_close(&fd);
	h_unmap(mem, 128 * H_PAGE);
}

/*
 * Rings count against RLIMIT_MEMLOCK like buffers (64 KiB = 16 pages):
 * over it -> -ENOMEM for user and kernel-allocated rings, nothing left
 * pinned or charged.
 */
static void ring_memlock(void)
{
	h_in_child(ring_memlock_child, NULL);
}

/*
 * "anonymous or shmem" application memory: memfd and shared anonymous
 * memory are accepted; other file-backed memory -> -EOPNOTSUPP; memory
 * that cannot be pinned writable or is not there -> -EFAULT (PROT_NONE,
 * read-only, a hole, a ring running into a hole, a kernel address).
 * Failures leave nothing pinned.
 */
static void user_ring_memory_kinds(void)
{
	char *shm = MAP_FAILED, *ro = MAP_FAILED, *none = MAP_FAILED;
	char *file = MAP_FAILED, *edge = h_edge();
	void *hole = h_hole(2 * H_PAGE);
	int fd = h_open(), mfd = memfd_create("ring", MFD_CLOEXEC), ffd = -1;

	if (fd < 0 || !edge || !hole || !EXPECT(mfd >= 0) ||
	    !EXPECT(ftruncate(mfd, H_PAGE) == 0))
		goto out;
	shm = mmap(NULL, H_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ro = mmap(NULL, H_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none = mmap(NULL, H_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!EXPECT(shm != MAP_FAILED && ro != MAP_FAILED && none != MAP_FAILED))
		goto out;

	EXPECT_ERR(h_register_ring(fd, none, 256, 1, 0, 0), EFAULT);
	EXPECT_ERR(h_register_ring(fd, ro, 256, 1, 0, 0), EFAULT);
	EXPECT_ERR(h_register_ring(fd, hole, 256, 1, 0, 0), EFAULT);
	EXPECT_ERR(h_register_ring(fd, edge, 512, 1, 0, 0), EFAULT);
	EXPECT_ERR(h_register_ring(fd, (void *)KERNEL_ADDR, 256, 1, 0, 0), EFAULT);
	EXPECT_STATS(fd, 0, 0, 0, 0, 0);
	EXPECT_OK(h_register_ring(fd, edge, 256, 1, 0, 0));
	EXPECT_OK(h_register_ring(fd, shm, 256, 2, 0, 0));
	EXPECT_STATS(fd, 0, 0, 2, 2, 0);

	ffd = h_ramfs_file(H_PAGE);
	if (ffd < 0)
		goto out;
	file = mmap(NULL, H_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	if (!EXPECT(file != MAP_FAILED))
		goto out;
	EXPECT_ERR(h_register_ring(fd, file, 256, 3, 0, 0), EOPNOTSUPP);
	EXPECT_STATS(fd, 0, 0, 2, 2, 0);
out:
	h_close(&fd);
	h_munmap(file, H_PAGE);
	h_ramfs_put(ffd);
	h_munmap(shm, H_PAGE);
	h_munmap(ro, H_PAGE);
	h_munmap(none, H_PAGE);
	h_close(&mfd);
}

/* ------------------------------------------------------------------------
 * Validation (io_uring's io_register_pbuf_ring rules)
 */

/* bgid already has a ring -> -EEXIST, whatever the new ring's kind. */
static void duplicate_bgid(int fd, char *mem)
{
	if (!EXPECT_OK(h_register_ring(fd, mem, 256, 5, 0, 0)))
		return;
	EXPECT_ERR(h_register_ring(fd, mem + H_PAGE, 256, 5, 0, 0), EEXIST);
	EXPECT_ERR(h_register_ring(fd, mem, 256, 5, 0, 0), EEXIST);
	EXPECT_ERR(h_register_ring(fd, NULL, 8, 5, IOPBUF_RING_MMAP, 0), EEXIST);
	EXPECT_STATS(fd, 0, 0, 1, 1, 0);
	/* a neighbouring bgid is free; the same memory may back two rings */
	EXPECT_OK(h_register_ring(fd, mem, 256, 6, 0, 0));
	EXPECT_STATS(fd, 0, 0, 2, 2, 0);
	/* bgid 0 and 65535 are ordinary bgids */
	EXPECT_OK(h_register_ring(fd, NULL, 8, 0, IOPBUF_RING_MMAP, 0));
	EXPECT_OK(h_register_ring(fd, NULL, 8, 65535, IOPBUF_RING_MMAP, 0));
	EXPECT_STATS(fd, 0, 0, 4, 4, 0);
}

/*
 * Unregister and status of a bgid without a ring -> -ENOENT (as
 * IORING_UNREGISTER_PBUF_RING and IORING_REGISTER_PBUF_STATUS); a second
 * unregister too. Unregistering one ring leaves the others.
 */
static void unknown_bgid(int fd, char *mem)
{
	unsigned int head = 7;

	EXPECT_ERR(h_unregister_ring(fd, 77), ENOENT);
	EXPECT_ERR(h_ring_status(fd, 77, NULL), ENOENT);
	if (!EXPECT_OK(h_register_ring(fd, mem, 16, 77, 0, 0)) ||
	    !EXPECT_OK(h_register_ring(fd, NULL, 16, 78, IOPBUF_RING_MMAP, 0)))
		return;
	EXPECT_OK(h_ring_status(fd, 78, &head));
	EXPECT_EQ(head, 0);
	EXPECT_ERR(h_ring_status(fd, 76, NULL), ENOENT);
	EXPECT_OK(h_unregister_ring(fd, 77));
	EXPECT_ERR(h_unregister_ring(fd, 77), ENOENT);
	EXPECT_ERR(h_ring_status(fd, 77, NULL), ENOENT);
	EXPECT_OK(h_ring_status(fd, 78, NULL));
	EXPECT_STATS(fd, 0, 0, 1, 1, 0);
}

/*
 * ring_entries: a power of two from 1 to 32768; 0, non-powers of two and
 * 65536 ("full and empty alike") -> -EINVAL, for both kinds of ring.
 */
static void entries_validation(int fd, char *mem)
{
	static const unsigned int bad[] = { 0, 3, 6, 100, 32767, 32769, 65536,
					    1U << 20, 1U << 31, ~0U };
	unsigned int i;

	for (i = 0; i < H_ARRAY_SIZE(bad); i++) {
		if (!EXPECT_ERR(h_register_ring(fd, mem, bad[i], 1, 0, 0), EINVAL) ||
		    !EXPECT_ERR(h_register_ring(fd, NULL, bad[i], 1,
						IOPBUF_RING_MMAP, 0), EINVAL))
			h_note("ring_entries %u", bad[i]);
	}
	EXPECT_STATS(fd, 0, 0, 0, 0, 0);
	EXPECT_OK(h_register_ring(fd, mem, 32768, 1, 0, 0));
	EXPECT_OK(h_register_ring(fd, NULL, 32768, 2, IOPBUF_RING_MMAP, 0));
	EXPECT_OK(h_register_ring(fd, mem, 2, 3, 0, 0));
	EXPECT_OK(h_register_ring(fd, NULL, 1, 4, IOPBUF_RING_MMAP, 0));
	EXPECT_STATS(fd, 0, 0, 4, 128 + 128 + 1 + 1, 0);
	EXPECT_RING_LINE(fd, 2, 32768, 0, IOPBUF_RING_MMAP, 1);
}

/*
 * ring_addr: page-aligned (else -EINVAL), non-zero without MMAP (else
 * -EFAULT), zero with MMAP (else -EINVAL).
 */
static void ring_addr_validation(int fd, char *mem)
{
	EXPECT_ERR(h_register_ring(fd, mem + ENTRY, 8, 1, 0, 0), EINVAL);
	EXPECT_ERR(h_register_ring(fd, mem + H_PAGE / 2, 8, 1, 0, 0), EINVAL);
	EXPECT_ERR(h_register_ring(fd, mem + 1, 8, 1, 0, 0), EINVAL);
	EXPECT_ERR(h_register_ring(fd, NULL, 8, 1, 0, 0), EFAULT);
	EXPECT_ERR(h_register_ring(fd, mem, 8, 1, IOPBUF_RING_MMAP, 0), EINVAL);
	EXPECT_ERR(h_register_ring(fd, (void *)H_PAGE, 8, 1, IOPBUF_RING_MMAP, 0),
		   EINVAL);
	EXPECT_STATS(fd, 0, 0, 0, 0, 0);
}

/* A REGISTER_RING with one reserved word set. */
static long register_ring_resv(int fd, void *mem, unsigned int i)
{
	struct iopbuf_ring_reg reg = {
		.ring_addr = (uintptr_t)mem,
		.ring_entries = 8,
		.bgid = 1,
	};

	reg.resv[i] = 1U << (i * 7);
	return h_ioctl(fd, IOPBUF_IOC_REGISTER_RING, &reg);
}

/*
 * flags: only MMAP, REGBUF and INC exist (else -EINVAL); min_left needs
 * INC (else -EINVAL) and defaults to 1; every reserved word must be 0.
 * fdinfo shows the flags and min_left of each ring.
 */
static void flags_validation(int fd, char *mem)
{
	unsigned int i;

	EXPECT_ERR(h_register_ring(fd, mem, 8, 1, 0, 32), EINVAL);
	EXPECT_ERR(h_register_ring(fd, mem, 8, 1, IOPBUF_RING_REGBUF, 1), EINVAL);
	EXPECT_ERR(h_register_ring(fd, NULL, 8, 1, IOPBUF_RING_MMAP, 1), EINVAL);
	EXPECT_ERR(h_register_ring(fd, mem, 8, 1, 1U << 3, 0), EINVAL);
	EXPECT_ERR(h_register_ring(fd, mem, 8, 1, 1U << 15, 0), EINVAL);
	EXPECT_ERR(h_register_ring(fd, NULL, 8, 1, IOPBUF_RING_MMAP | 1U << 8, 0),
		   EINVAL);
	for (i = 0; i < 5; i++)
		if (!EXPECT_ERR(register_ring_resv(fd, mem, i), EINVAL))
			h_note("resv[%u]", i);
	EXPECT_STATS(fd, 0, 0, 0, 0, 0);

	EXPECT_OK(h_register_ring(fd, mem, 8, 1, IOPBUF_RING_INC, 0));
	EXPECT_OK(h_register_ring(fd, mem, 8, 2, IOPBUF_RING_INC, 32));
	EXPECT_OK(h_register_ring(fd, mem, 8, 3, IOPBUF_RING_REGBUF, 0));
	EXPECT_OK(h_register_ring(fd, NULL, 8, 4, IOPBUF_RING_MMAP |
				  IOPBUF_RING_REGBUF | IOPBUF_RING_INC, 4096));
	EXPECT_RING_LINE(fd, 1, 8, 0, IOPBUF_RING_INC, 1);
	EXPECT_RING_LINE(fd, 2, 8, 0, IOPBUF_RING_INC, 32);
	EXPECT_RING_LINE(fd, 3, 8, 0, IOPBUF_RING_REGBUF, 1);
	EXPECT_RING_LINE(fd, 4, 8, 0, IOPBUF_RING_MMAP | IOPBUF_RING_REGBUF |
			 IOPBUF_RING_INC, 4096);
	EXPECT_EQ(h_fdinfo_count(fd, "  ring "), 4);
	EXPECT_STATS(fd, 0, 0, 4, 4, 0);
}

/* ------------------------------------------------------------------------
 * Kernel-allocated rings (IOPBUF_RING_MMAP)
 */

/*
 * An MMAP ring is zeroed kernel memory mapped at IOPBUF_OFF_RING(bgid);
 * liburing fills it through the mapping and the kernel sees the tail.
 * Its pages count as pinned.
 */
static void mmap_ring(void)
{
	unsigned int bgid = MBGID(1), head = 5;
	char *ring = MAP_FAILED, *data = h_map(H_PAGE), zero[2 * H_PAGE];
	int fd = h_open();

	if (fd < 0 || !data)
		goto out;
	if (!EXPECT_OK(h_register_ring(fd, NULL, 512, bgid, IOPBUF_RING_MMAP, 0)))
		goto out;
	EXPECT_STATS(fd, 0, 0, 1, 2, 0);
	ring = ring_mmap(fd, bgid, 2 * H_PAGE);
	if (!h_expect(ring != MAP_FAILED, __FILE__, __LINE__,
		      "mmap IOPBUF_OFF_RING(%#x): %s", bgid, strerror(errno)))
		goto out;
	memset(zero, 0, sizeof(zero));
	EXPECT(!memcmp(ring, zero, sizeof(zero)));
	liburing_fill(ring, 512, 3, data);
	check_fill(ring, 512, 3, 3, data);
	EXPECT_RING_LINE(fd, bgid, 512, 3, IOPBUF_RING_MMAP, 1);
	/* the last entry is in the second page */
	((struct iopbuf_buf *)ring)[511].len = 77;
	EXPECT_EQ(((struct iopbuf_buf *)ring)[511].len, 77);
	EXPECT_OK(h_ring_status(fd, bgid, &head));
	EXPECT_EQ(head, 0);
out:
	h_munmap(ring, 2 * H_PAGE);
	h_close(&fd);
	h_unmap(data, H_PAGE);
}

/* Map ring @bgid at its offset, set its tail to @tail; false on failure. */
static bool map_and_set_tail(int fd, unsigned int bgid, __u16 tail)
{
	void *ring = ring_mmap(fd, bgid, H_PAGE);

	if (!h_expect(ring != MAP_FAILED, __FILE__, __LINE__,
		      "mmap IOPBUF_OFF_RING(%#x) = %#llx: %s", bgid,
		      (unsigned long long)IOPBUF_OFF_RING(bgid), strerror(errno)))
		return false;
	*iopbuf_ring_tail(ring) = tail;
	munmap(ring, H_PAGE);
	return true;
}

/*
 * "map it with mmap(2) at IOPBUF_OFF_RING(bgid)": for every bgid,
 * including the small ones applications use (liburing starts at 0 or 1).
 */
static void mmap_low_bgid(void)
{
	static const unsigned int bgids[] = { 0, 1, 2, 0x7fff };
	unsigned int i;
	int fd = h_open();

	if (fd < 0)
		return;
	for (i = 0; i < H_ARRAY_SIZE(bgids); i++) {
		if (!EXPECT_OK(h_register_ring(fd, NULL, 8, bgids[i],
					       IOPBUF_RING_MMAP, 0)))
			continue;
		if (map_and_set_tail(fd, bgids[i], 40 + i))
			EXPECT_RING_LINE(fd, bgids[i], 8, 40 + i,
					 IOPBUF_RING_MMAP, 1);
	}
	h_close(&fd);
}

/*
 * Each bgid has its own mmap offset: IOPBUF_OFF_RING() must be
 * injective over 0..65535, and mapping the offset of bgid b maps ring b,
 * not another one.
 */
static void mmap_offsets_distinct(void)
{
	static const unsigned int probe[] = { 0, 1, 2, 0x7fff, 0x8000, 0x8001,
					      0x8002, 0xffff };
	unsigned int i, j;
	int fd;

	for (i = 0; i < H_ARRAY_SIZE(probe); i++)
		for (j = i + 1; j < H_ARRAY_SIZE(probe); j++)
			if (IOPBUF_OFF_RING(probe[i]) == IOPBUF_OFF_RING(probe[j]))
				FAILF("IOPBUF_OFF_RING(%#x) == IOPBUF_OFF_RING(%#x) == %#llx",
				      probe[i], probe[j],
				      (unsigned long long)IOPBUF_OFF_RING(probe[i]));

	fd = h_open();
	if (fd < 0)
		return;
	if (EXPECT_OK(h_register_ring(fd, NULL, 8, 2, IOPBUF_RING_MMAP, 0)) &&
	    EXPECT_OK(h_register_ring(fd, NULL, 8, 0x8002, IOPBUF_RING_MMAP, 0)) &&
	    map_and_set_tail(fd, 2, 5) && map_and_set_tail(fd, 0x8002, 9)) {
		EXPECT_RING_LINE(fd, 2, 8, 5, IOPBUF_RING_MMAP, 1);
		EXPECT_RING_LINE(fd, 0x8002, 8, 9, IOPBUF_RING_MMAP, 1);
	}
	h_close(&fd);
}

/*
 * mmap errors: a ring in application memory has nothing to map
 * (-EINVAL), an unknown bgid -> -ENOENT, a mapping larger than the ring
 * -> -EINVAL, an offset that is not IOPBUF_OFF_RING(bgid) -> -EINVAL.
 * A mapping smaller than the ring is fine.
 */
static void mmap_errors(int fd, char *mem)
{
	if (!EXPECT_OK(h_register_ring(fd, mem, 256, MBGID(3), 0, 0)) ||
	    !EXPECT_OK(h_register_ring(fd, NULL, 512, MBGID(4), IOPBUF_RING_MMAP, 0)))
		return;
	EXPECT_ERR(ring_mmap_err(fd, H_PAGE, IOPBUF_OFF_RING(MBGID(3))), EINVAL);
	EXPECT_ERR(ring_mmap_err(fd, H_PAGE, IOPBUF_OFF_RING(MBGID(9))), ENOENT);
	EXPECT_ERR(ring_mmap_err(fd, 3 * H_PAGE, IOPBUF_OFF_RING(MBGID(4))),
		   EINVAL);
	EXPECT_ERR(ring_mmap_err(fd, H_PAGE, IOPBUF_OFF_RING(MBGID(4)) + H_PAGE),
		   EINVAL);
	EXPECT_ERR(ring_mmap_err(fd, H_PAGE, 0), EINVAL);
	EXPECT_ERR(ring_mmap_err(fd, H_PAGE, 0x40000000), EINVAL);
	EXPECT_OK(ring_mmap_err(fd, H_PAGE, IOPBUF_OFF_RING(MBGID(4))));
	EXPECT_OK(ring_mmap_err(fd, 2 * H_PAGE, IOPBUF_OFF_RING(MBGID(4))));
	EXPECT_STATS(fd, 0, 0, 2, 3, 0);
}

/*
 * "The mapping stays valid after the ring is unregistered" (liburing's
 * buf-ring-put): writes after unregister land in memory that is still
 * the application's, and so still counts (and is charged) until the last
 * mapping goes; a new ring of the same bgid gets fresh zeroed memory, the
 * old mapping keeps its data.
 */
static void mmap_after_unregister(void)
{
	unsigned int bgid = MBGID(5);
	char *old = MAP_FAILED, *new = MAP_FAILED, *data = h_map(H_PAGE);
	int fd = h_open();

	if (fd < 0 || !data)
		goto out;
	if (!EXPECT_OK(h_register_ring(fd, NULL, 256, bgid, IOPBUF_RING_MMAP, 0)))
		goto out;
	old = ring_mmap(fd, bgid, H_PAGE);
	if (!EXPECT(old != MAP_FAILED))
		goto out;
	liburing_fill(old, 256, 4, data);
	if (!EXPECT_OK(h_unregister_ring(fd, bgid)))
		goto out;
	EXPECT_STATS(fd, 0, 0, 0, 1, 0);
	EXPECT_EQ(h_fdinfo_count(fd, "  ring "), 0);
	liburing_fill(old, 256, 4, data);
	memset(old + 2048, 0x5a, 2048);
	check_fill(old, 256, 8, 4, data);
	EXPECT_ERR(ring_mmap_err(fd, H_PAGE, IOPBUF_OFF_RING(bgid)), ENOENT);

	if (!EXPECT_OK(h_register_ring(fd, NULL, 256, bgid, IOPBUF_RING_MMAP, 0)))
		goto out;
	new = ring_mmap(fd, bgid, H_PAGE);
	if (!EXPECT(new != MAP_FAILED))
		goto out;
	EXPECT(new[0] == 0 && new[2048] == 0 && new[H_PAGE - 1] == 0);
	EXPECT_EQ(*iopbuf_ring_tail((struct iopbuf_buf *)new), 0);
	EXPECT_EQ((unsigned char)old[2048], 0x5a);
	EXPECT_EQ(*iopbuf_ring_tail((struct iopbuf_buf *)old), 8);
	EXPECT_RING_LINE(fd, bgid, 256, 0, IOPBUF_RING_MMAP, 1);
	EXPECT_STATS(fd, 0, 0, 1, 2, 0);
	/* the old memory goes with its last mapping */
	EXPECT_OK(munmap(old, H_PAGE));
	old = MAP_FAILED;
	EXPECT_STATS(fd, 0, 0, 1, 1, 0);
out:
	h_munmap(old, H_PAGE);
	h_munmap(new, H_PAGE);
	h_close(&fd);
	h_unmap(data, H_PAGE);
}

/*
 * A mapping holds the file: closing the fd leaves the context (and its
 * ring) alive until the last mapping goes; then everything is released.
 */
static void mmap_outlives_close(void)
{
	unsigned int bgid = MBGID(6);
	long base = h_sysfs_read("contexts");
	int fd;
	char *ring = open_mmap_ring_1024(&fd, bgid);

	if (ring == MAP_FAILED)
		goto out;
	h_close(&fd);
	EXPECT_EQ(h_sysfs_read("contexts"), base + 1);
	memset(ring, 0x11, 4 * H_PAGE);
	EXPECT_EQ((unsigned char)ring[4 * H_PAGE - 1], 0x11);
	munmap(ring, 4 * H_PAGE);
	ring = MAP_FAILED;
	EXPECT_GLOBAL_IDLE();
out:
	h_munmap(ring, 4 * H_PAGE);
	h_close(&fd);
}

static void fork_child_writes(void *ring)
{
	*iopbuf_ring_tail(ring) = 1234;
}

/*
 * The mapping is shared with a forked child (vm_ops->open takes a
 * reference), and splitting it with a partial munmap keeps each part
 * valid.
 */
static void mmap_fork_and_split(void)
{
	unsigned int bgid = MBGID(7);
	int fd;
	char *ring = open_mmap_ring_1024(&fd, bgid);

	if (ring == MAP_FAILED)
		goto out;
	h_in_child(fork_child_writes, ring);
	EXPECT_EQ(*iopbuf_ring_tail((struct iopbuf_buf *)ring), 1234);
	EXPECT_RING_LINE(fd, bgid, 1024, 1234, IOPBUF_RING_MMAP, 1);
	/* split: drop the first page, then the middle, keep writing */
	munmap(ring, H_PAGE);
	ring[2 * H_PAGE] = 1;
	munmap(ring + 2 * H_PAGE, H_PAGE);
	ring[H_PAGE] = 2;
	ring[3 * H_PAGE] = 3;
	EXPECT(ring[H_PAGE] == 2 && ring[3 * H_PAGE] == 3);
	EXPECT_OK(h_unregister_ring(fd, bgid));
	ring[3 * H_PAGE + 1] = 4;
	munmap(ring + H_PAGE, H_PAGE);
	munmap(ring + 3 * H_PAGE, H_PAGE);
	ring = MAP_FAILED;
out:
	h_munmap(ring, 4 * H_PAGE);
	h_close(&fd);
}

/* fdinfo lists every ring of the context, in bgid order, and only those. */
static void fdinfo_lists_rings(void)
{
	char *mem = h_map(H_PAGE);
	int fd = h_open(), other = h_open();

	if (fd < 0 || other < 0 || !mem)
		goto out;
	if (!EXPECT_OK(h_register_ring(fd, mem, 64, 300, 0, 0)) ||
	    !EXPECT_OK(h_register_ring(fd, NULL, 128, 20, IOPBUF_RING_MMAP, 0)) ||
	    !EXPECT_OK(h_register_ring(fd, mem, 4, 4000, IOPBUF_RING_INC, 2)))
		goto out;
	EXPECT_EQ(h_fdinfo_count(fd, "  ring "), 3);
	EXPECT_RING_LINE(fd, 300, 64, 0, 0, 1);
	EXPECT_RING_LINE(fd, 20, 128, 0, IOPBUF_RING_MMAP, 1);
	EXPECT_RING_LINE(fd, 4000, 4, 0, IOPBUF_RING_INC, 2);
	EXPECT(h_fdinfo_contains(fd, "  ring 20:") && h_fdinfo_contains(fd, "  ring 4000:"));
	EXPECT_EQ(h_fdinfo_count(other, "  ring "), 0);
	EXPECT_OK(h_unregister_ring(fd, 300));
	EXPECT_EQ(h_fdinfo_count(fd, "  ring "), 2);
	EXPECT_STATS(fd, 0, 0, 2, 2, 0);
out:
	h_close(&fd);
	h_close(&other);
	h_unmap(mem, H_PAGE);
}

int main(void)
{
	h_init("ring");
	RUN(user_ring_liburing);
	RUN(user_ring_pinned);
	RUN(user_ring_charged);
	RUN(ring_memlock);
	RUN(user_ring_memory_kinds);
	RUN_DEV(duplicate_bgid, 2);
	RUN_DEV(unknown_bgid, 1);
	RUN_DEV(entries_validation, 128);
	RUN_DEV(ring_addr_validation, 2);
	RUN_DEV(flags_validation, 1);
	RUN(mmap_ring);
	RUN(mmap_low_bgid);
	RUN(mmap_offsets_distinct);
	RUN_DEV(mmap_errors, 1);
	RUN(mmap_after_unregister);
	RUN(mmap_outlives_close);
	RUN(mmap_fork_and_split);
	RUN(fdinfo_lists_rings);
	h_run("counters_zero", h_case_counters_zero);
	return h_exit();
}
