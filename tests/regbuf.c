// SPDX-License-Identifier: GPL-2.0
/*
 * regbuf: IOPBUF_IOC_REGISTER_BUFFERS, UPDATE_BUFFERS, UNREGISTER_BUFFERS.
 * Pin and charge counts, sparse tables and updates, kinds of memory
 * (anonymous, shmem, hugetlb accepted; other file-backed memory refused),
 * faults and RLIMIT_MEMLOCK.
 */
#include <stdatomic.h>
#include <sys/shm.h>

#include "util.h"

#define HUGE_SZ		(2UL << 20)

/* One registered buffer as fdinfo shows it. */
struct fdbuf {
	unsigned long long addr, len;
	unsigned int segs;
	unsigned long pinned;
};

/* Parse fdinfo's "  buf <idx>: 0x.. len .. segs .. pinned .." line. */
static bool fdinfo_buf(int fd, unsigned int idx, struct fdbuf *b)
{
	static char buf[65536];
	char prefix[32];
	const char *p;

	snprintf(prefix, sizeof(prefix), "  buf %u: ", idx);
	if (!h_fdinfo(fd, buf, sizeof(buf)))
		return false;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, prefix, strlen(prefix)))
			continue;
		return sscanf(p + strlen(prefix), "0x%llx len %llu segs %u pinned %lu",
			      &b->addr, &b->len, &b->segs, &b->pinned) == 4;
	}
	return false;
}

/*
 * fdinfo lists slot @idx with the buffer's address, length and pinned
 * pages; its folio runs ("segs") number at least 1 and at most one per
 * page, or exactly @segs when @segs is non-zero.
 */
static bool expect_fdinfo_buf(int fd, unsigned int idx, const void *addr,
			      size_t len, unsigned long pinned,
			      unsigned int segs)
{
	struct fdbuf b;
	bool ok;

	if (!h_expect(fdinfo_buf(fd, idx, &b), __FILE__, __LINE__,
		      "fdinfo lists no buf %u", idx)) {
		h_fdinfo_dump(fd);
		return false;
	}
	ok = EXPECT_EQ(b.addr, (uintptr_t)addr);
	ok &= EXPECT_EQ(b.len, len);
	ok &= EXPECT_EQ(b.pinned, pinned);
	if (segs)
		ok &= EXPECT_EQ(b.segs, segs);
	else
		ok &= EXPECT(b.segs >= 1 && b.segs <= pinned);
	return ok;
}

static bool fdinfo_lists_buf(int fd, unsigned int idx)
{
	struct fdbuf b;

	return fdinfo_buf(fd, idx, &b);
}

/* Pages [addr, addr + len) touches. */
static unsigned long span_pages(const void *addr, size_t len)
{
	uintptr_t start = (uintptr_t)addr & ~(H_PAGE - 1);
	uintptr_t end = ((uintptr_t)addr + len + H_PAGE - 1) & ~(H_PAGE - 1);

	return (end - start) / H_PAGE;
}

/* A context that failed to register has no table, pins and charges nothing. */
static bool expect_no_table(int fd)
{
	struct iovec empty = { 0 };

	return EXPECT_STATS(fd, 0, 0, 0, 0, 0) &&
	       EXPECT_ERR(h_update_iov(fd, 0, &empty, 1), ENXIO);
}

/* ------------------------------------------------------------------------
 * Registration and counting
 */

/* Four buffers at odd offsets and lengths in one 16-page mapping. */
struct four {
	char *mem;
	struct iovec iov[4];
	unsigned long pages[4];
	unsigned long total;
};

static bool four_init(struct four *f)
{
	unsigned int i;

	f->mem = h_map(16 * H_PAGE);
	if (!f->mem)
		return false;
	f->iov[0] = (struct iovec){ f->mem + 41, 100 };			/* 1 page */
	f->iov[1] = (struct iovec){ f->mem + H_PAGE + 4000, 200 };	/* 2 pages */
	f->iov[2] = (struct iovec){ f->mem + 4 * H_PAGE + 33, 3 * H_PAGE + 33 }; /* 4 */
	f->iov[3] = (struct iovec){ f->mem + 10 * H_PAGE, 2 * H_PAGE };	/* 2 pages */
	f->total = 0;
	for (i = 0; i < 4; i++) {
		f->pages[i] = span_pages(f->iov[i].iov_base, f->iov[i].iov_len);
		f->total += f->pages[i];
	}
	return true;
}

static void four_check(int fd, const struct four *f, unsigned long charged)
{
	unsigned int i;

	EXPECT_EQ(f->total, 9);
	EXPECT_STATS(fd, 4, 4, 0, f->total, charged);
	for (i = 0; i < 4; i++)
		expect_fdinfo_buf(fd, i, f->iov[i].iov_base, f->iov[i].iov_len,
				  f->pages[i], 0);
}

/*
 * Each buffer pins every page it touches (odd offsets round outwards);
 * with CAP_IPC_LOCK nothing is charged. Unregistering releases all, in
 * the context and module-wide.
 */
static void register_four_odd(void)
{
	struct h_global g0, g1;
	struct four f = { 0 };
	int fd = h_open();

	if (fd < 0 || !four_init(&f))
		goto out;
	h_global_read(&g0);
	if (!EXPECT_OK(h_register_iov(fd, f.iov, 4)))
		goto out;
	four_check(fd, &f, 0);
	h_global_read(&g1);
	EXPECT_EQ(g1.pinned_pages - g0.pinned_pages, f.total);
	EXPECT_EQ(g1.charged_pages - g0.charged_pages, 0);
	EXPECT_OK(h_unregister_bufs(fd));
	EXPECT_STATS(fd, 0, 0, 0, 0, 0);
	h_global_read(&g1);
	EXPECT_EQ(g1.pinned_pages, g0.pinned_pages);
	EXPECT_EQ(h_fdinfo_count(fd, "  buf "), 0);
out:
	h_close(&fd);
	h_unmap(f.mem, 16 * H_PAGE);
}

static void register_four_charged_child(void *arg)
{
	struct h_global g0, g1;
	struct four f = { 0 };
	int fd;

	(void)arg;
	if (!h_drop_ipc_lock() || !EXPECT_OK(h_set_memlock(1 << 20)))
		return;
	fd = h_open();
	if (fd < 0 || !four_init(&f))
		return;
	h_global_read(&g0);
	if (EXPECT_OK(h_register_iov(fd, f.iov, 4))) {
		four_check(fd, &f, f.total);
		h_global_read(&g1);
		EXPECT_EQ(g1.charged_pages - g0.charged_pages, f.total);
		EXPECT_FDINFO_LINE(fd, "charged_pages:\t%lu", f.total);
		EXPECT_OK(h_unregister_bufs(fd));
		EXPECT_STATS(fd, 0, 0, 0, 0, 0);
		h_global_read(&g1);
		EXPECT_EQ(g1.charged_pages, g0.charged_pages);
	}
	close(fd);
}

/* Without CAP_IPC_LOCK every pinned page is charged to RLIMIT_MEMLOCK. */
static void register_four_charged(void)
{
	h_in_child(register_four_charged_child, NULL);
}

/* An iovec {NULL, 0} leaves its slot empty; the others are registered. */
static void register_empty_slots(int fd, char *mem)
{
	struct iovec iov[3];

	iov[0] = (struct iovec){ mem, H_PAGE };
	iov[1] = (struct iovec){ NULL, 0 };
	iov[2] = (struct iovec){ mem + H_PAGE, 1 };
	if (!EXPECT_OK(h_register_iov(fd, iov, 3)))
		return;
	EXPECT_STATS(fd, 3, 2, 0, 2, 0);
	EXPECT(!fdinfo_lists_buf(fd, 1));
	expect_fdinfo_buf(fd, 2, mem + H_PAGE, 1, 1, 1);
}

/*
 * IOPBUF_BUF_REG_SPARSE: @nr empty slots, nothing pinned; UPDATE then
 * fills slots [offset, offset + nr).
 */
static void sparse_then_update(int fd, char *mem)
{
	struct iovec iov[2];

	if (!EXPECT_OK(h_register_sparse(fd, 8)))
		return;
	EXPECT_STATS(fd, 8, 0, 0, 0, 0);
	EXPECT_FDINFO_LINE(fd, "buf_slots:\t8");
	iov[0] = (struct iovec){ mem + 5, 3 * H_PAGE };		/* 4 pages */
	iov[1] = (struct iovec){ mem + 5 * H_PAGE, H_PAGE };	/* 1 page */
	if (!EXPECT_OK(h_update_iov(fd, 2, iov, 2)))
		return;
	EXPECT_STATS(fd, 8, 2, 0, 5, 0);
	expect_fdinfo_buf(fd, 2, iov[0].iov_base, iov[0].iov_len, 4, 0);
	expect_fdinfo_buf(fd, 3, iov[1].iov_base, iov[1].iov_len, 1, 1);
	EXPECT(!fdinfo_lists_buf(fd, 1));
	EXPECT(!fdinfo_lists_buf(fd, 4));
	/* the last slot */
	if (EXPECT_OK(h_update_iov(fd, 7, iov + 1, 1)))
		EXPECT_STATS(fd, 8, 3, 0, 6, 0);
}

/*
 * UPDATE replaces: the old buffer's pages are released (context and
 * module-wide pinned counts drop by them); an empty iovec clears a slot.
 */
static void update_replaces_and_clears(int fd, char *mem)
{
	struct iovec big, small, empty = { 0 };
	struct h_global g0, g1;

	big = (struct iovec){ mem, 5 * H_PAGE };
	small = (struct iovec){ mem + 6 * H_PAGE + 7, 9 };
	if (!EXPECT_OK(h_register_sparse(fd, 4)))
		return;
	h_global_read(&g0);
	if (!EXPECT_OK(h_update_iov(fd, 1, &big, 1)))
		return;
	EXPECT_STATS(fd, 4, 1, 0, 5, 0);
	/* replace slot 1: 5 pages out, 1 page in */
	if (!EXPECT_OK(h_update_iov(fd, 1, &small, 1)))
		return;
	EXPECT_STATS(fd, 4, 1, 0, 1, 0);
	h_global_read(&g1);
	EXPECT_EQ(g1.pinned_pages - g0.pinned_pages, 1);
	expect_fdinfo_buf(fd, 1, small.iov_base, small.iov_len, 1, 1);
	/* clear slot 1 */
	if (!EXPECT_OK(h_update_iov(fd, 1, &empty, 1)))
		return;
	EXPECT_STATS(fd, 4, 0, 0, 0, 0);
	EXPECT(!fdinfo_lists_buf(fd, 1));
	h_global_read(&g1);
	EXPECT_EQ(g1.pinned_pages, g0.pinned_pages);
	/* clearing an empty slot is fine too */
	EXPECT_OK(h_update_iov(fd, 3, &empty, 1));
	EXPECT_STATS(fd, 4, 0, 0, 0, 0);
}

/*
 * "All or nothing: on error no slot changes." An update of slots 0..2
 * whose third iovec is bad leaves the table exactly as it was.
 */
static void update_all_or_nothing(int fd, char *mem)
{
	void *hole = h_hole(H_PAGE);
	struct iovec old[2], upd[3];
	struct h_global g0;

	if (!hole)
		return;
	old[0] = (struct iovec){ mem, H_PAGE };
	old[1] = (struct iovec){ mem + H_PAGE, H_PAGE };
	if (!EXPECT_OK(h_register_sparse(fd, 3)) ||
	    !EXPECT_OK(h_update_iov(fd, 0, old, 2)))
		return;
	h_global_read(&g0);
	upd[0] = (struct iovec){ mem + 2 * H_PAGE, H_PAGE };
	upd[1] = (struct iovec){ NULL, 0 };
	upd[2] = (struct iovec){ hole, H_PAGE };
	EXPECT_ERR(h_update_iov(fd, 0, upd, 3), EFAULT);
	EXPECT_STATS(fd, 3, 2, 0, 2, 0);
	expect_fdinfo_buf(fd, 0, mem, H_PAGE, 1, 1);
	expect_fdinfo_buf(fd, 1, mem + H_PAGE, H_PAGE, 1, 1);
	EXPECT_PAGES_AS(g0);
}

/* UPDATE must stay inside the table: offset + nr <= buf_slots. */
static void update_out_of_range(int fd, char *mem)
{
	struct iovec iov[2] = { { mem, 1 }, { mem + 1, 1 } };

	if (!EXPECT_OK(h_register_sparse(fd, 8)))
		return;
	EXPECT_ERR(h_update_iov(fd, 7, iov, 2), EINVAL);
	EXPECT_ERR(h_update_iov(fd, 8, iov, 1), EINVAL);
	EXPECT_ERR(h_update_iov(fd, 0xffffffffu, iov, 1), EINVAL);
	EXPECT_STATS(fd, 8, 0, 0, 0, 0);
	EXPECT_OK(h_update_iov(fd, 6, iov, 2));
	EXPECT_STATS(fd, 8, 2, 0, 2, 0);
}

/* A second REGISTER while a table exists -> -EBUSY; the table is intact. */
static void register_twice_ebusy(int fd, char *mem)
{
	struct iovec a = { mem, H_PAGE }, b = { mem + H_PAGE, 3 * H_PAGE };
	struct h_global g0, g1;

	if (!EXPECT_OK(h_register_iov(fd, &a, 1)))
		return;
	h_global_read(&g0);
	EXPECT_ERR(h_register_iov(fd, &b, 1), EBUSY);
	EXPECT_ERR(h_register_sparse(fd, 16), EBUSY);
	EXPECT_STATS(fd, 1, 1, 0, 1, 0);
	expect_fdinfo_buf(fd, 0, mem, H_PAGE, 1, 1);
	h_global_read(&g1);
	EXPECT_EQ(g1.pinned_pages, g0.pinned_pages);
}

/* UPDATE and UNREGISTER without a table -> -ENXIO (also after unregister). */
static void no_table_enxio(int fd, char *mem)
{
	struct iovec iov = { mem, 64 };

	EXPECT_ERR(h_update_iov(fd, 0, &iov, 1), ENXIO);
	EXPECT_ERR(h_unregister_bufs(fd), ENXIO);
	if (!EXPECT_OK(h_register_iov(fd, &iov, 1)))
		return;
	EXPECT_OK(h_unregister_bufs(fd));
	EXPECT_ERR(h_unregister_bufs(fd), ENXIO);
	EXPECT_ERR(h_update_iov(fd, 0, &iov, 1), ENXIO);
	EXPECT_STATS(fd, 0, 0, 0, 0, 0);
}

/* After UNREGISTER a new table of another size can be registered. */
static void unregister_register_again(int fd, char *mem)
{
	struct iovec iov[2];
	int i;

	iov[0] = (struct iovec){ mem, 2 * H_PAGE };
	iov[1] = (struct iovec){ mem + 2 * H_PAGE, 2 * H_PAGE };
	for (i = 0; i < 3; i++) {
		if (!EXPECT_OK(h_register_iov(fd, iov, 1 + (i & 1))))
			return;
		EXPECT_STATS(fd, 1 + (i & 1), 1 + (i & 1), 0, 2 + 2 * (i & 1), 0);
		if (!EXPECT_OK(h_unregister_bufs(fd)))
			return;
	}
	if (EXPECT_OK(h_register_sparse(fd, 5)))
		EXPECT_STATS(fd, 5, 0, 0, 0, 0);
}

/*
 * The table holds up to IOPBUF_MAX_BUFS slots (every encodable index):
 * a sparse table of exactly that many works and its last slot can be
 * filled.
 */
static void max_slots(int fd, char *mem)
{
	struct iovec iov = { mem, 1 };

	if (!EXPECT_OK(h_register_sparse(fd, IOPBUF_MAX_BUFS)))
		return;
	EXPECT_STATS(fd, IOPBUF_MAX_BUFS, 0, 0, 0, 0);
	EXPECT_OK(h_update_iov(fd, IOPBUF_MAX_BUFS - 1, &iov, 1));
	EXPECT_ERR(h_update_iov(fd, IOPBUF_MAX_BUFS, &iov, 1), EINVAL);
	EXPECT_STATS(fd, IOPBUF_MAX_BUFS, 1, 0, 1, 0);
	expect_fdinfo_buf(fd, IOPBUF_MAX_BUFS - 1, mem, 1, 1, 1);
}

/* fdinfo lists at most 64 buffers and summarises the rest. */
#define N_MANY	70

static void fdinfo_many_bufs(int fd, char *mem)
{
	enum { N = N_MANY };
	struct iovec iov[N];
	int i;

	for (i = 0; i < N; i++)
		iov[i] = (struct iovec){ mem + i * H_PAGE, 1 };
	if (!EXPECT_OK(h_register_iov(fd, iov, N)))
		return;
	EXPECT_STATS(fd, N, N, 0, N, 0);
	EXPECT_EQ(h_fdinfo_count(fd, "  buf "), 64);
	EXPECT_FDINFO_LINE(fd, "  (%d more)", N - 64);
}

/* ------------------------------------------------------------------------
 * Kinds of memory
 */

/* Register one buffer of @len at @p on a fresh fd, expect @err. */
static void expect_register(void *p, size_t len, int err, const char *what)
{
	struct iovec iov = { p, len };
	int fd = h_open();

	if (fd < 0)
		return;
	if (!EXPECT_ERR(h_register_iov(fd, &iov, 1), err))
		h_note("memory: %s", what);
	if (err)
		expect_no_table(fd);
	else
		EXPECT_STATS(fd, 1, 1, 0, span_pages(p, len), 0);
	close(fd);
}

/*
 * Shmem is accepted: memfd mapped shared or private, shared anonymous
 * memory, SysV shm.
 */
static void shmem_accepted(void)
{
	size_t len = 4 * H_PAGE;
	char *shared = MAP_FAILED, *priv = MAP_FAILED, *anon = MAP_FAILED;
	void *shm = (void *)-1;
	int mfd, shmid = -1;

	mfd = memfd_create("iopbuf-test", MFD_CLOEXEC);
	if (!EXPECT(mfd >= 0) || !EXPECT(ftruncate(mfd, len) == 0))
		goto out;
	shared = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	priv = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
	anon = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!EXPECT(shared != MAP_FAILED && priv != MAP_FAILED &&
		    anon != MAP_FAILED))
		goto out;
	memset(shared, 1, len);
	expect_register(shared, len, 0, "memfd MAP_SHARED");
	expect_register(shared + 100, len - 200, 0, "memfd MAP_SHARED, offset");
	expect_register(priv, len, 0, "memfd MAP_PRIVATE");
	expect_register(anon, len, 0, "MAP_SHARED|MAP_ANONYMOUS");

	shmid = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
	if (shmid < 0) {
		h_note("shmget: %s: SysV shm not tested", strerror(errno));
		goto out;
	}
	shm = shmat(shmid, NULL, 0);
	if (EXPECT(shm != (void *)-1))
		expect_register(shm, len, 0, "SysV shm");
out:
	if (shm != (void *)-1)
		shmdt(shm);
	if (shmid >= 0)
		shmctl(shmid, IPC_RMID, NULL);
	h_munmap(shared, len);
	h_munmap(priv, len);
	h_munmap(anon, len);
	h_close(&mfd);
}

/* Write the number @v into @path (a sysctl). */
static bool write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", v);
	return t_write_str(path, buf);
}

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/*
 * hugetlb memory is accepted, and a buffer inside one 2 MiB huge page is
 * one folio run ("segs 1") however many 4 KiB pages it pins (as io_uring
 * coalesces registered buffers per folio); a buffer crossing into the next
 * huge page is two. Shared hugetlb (hugetlbfs page cache) too.
 */
static void hugetlb_accepted(void)
{
	size_t len = 2 * HUGE_SZ;
	char *priv = MAP_FAILED, *shared = MAP_FAILED;
	long saved = t_read_long(NR_HUGEPAGES), now;
	struct iovec iov[4];
	int fd = -1;

	if (saved < 0) {
		h_skip("no %s: kernel without hugetlb", NR_HUGEPAGES);
		return;
	}
	if (saved < 8 && !write_long(NR_HUGEPAGES, 8)) {
		h_skip("cannot write %s: %s", NR_HUGEPAGES, strerror(errno));
		return;
	}
	now = t_read_long(NR_HUGEPAGES);
	if (now < 3) {
		h_skip("the kernel gave only %ld huge pages (asked for 8)", now);
		goto restore;
	}
	priv = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	shared = mmap(NULL, HUGE_SZ, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (priv == MAP_FAILED || shared == MAP_FAILED) {
		h_skip("mmap(MAP_HUGETLB): %s", strerror(errno));
		goto unmap;
	}
	memset(priv, 1, len);
	memset(shared, 2, HUGE_SZ);
	fd = h_open();
	if (fd < 0)
		goto unmap;
	iov[0] = (struct iovec){ priv + 0x1234, 64 << 10 };	/* 17 pages */
	iov[1] = (struct iovec){ priv, HUGE_SZ };		/* 512 pages */
	iov[2] = (struct iovec){ priv + HUGE_SZ - H_PAGE, 2 * H_PAGE };
	iov[3] = (struct iovec){ shared + 100, HUGE_SZ - 100 };
	if (!EXPECT_OK(h_register_iov(fd, iov, 4)))
		goto unmap;
	EXPECT_STATS(fd, 4, 4, 0, 17 + 512 + 2 + 512, 0);
	expect_fdinfo_buf(fd, 0, iov[0].iov_base, iov[0].iov_len, 17, 1);
	expect_fdinfo_buf(fd, 1, iov[1].iov_base, iov[1].iov_len, 512, 1);
	expect_fdinfo_buf(fd, 2, iov[2].iov_base, iov[2].iov_len, 2, 2);
	expect_fdinfo_buf(fd, 3, iov[3].iov_base, iov[3].iov_len, 512, 1);
unmap:
	h_close(&fd);
	h_munmap(priv, len);
	h_munmap(shared, HUGE_SZ);
restore:
	if (saved < 8)
		write_long(NR_HUGEPAGES, saved);
}

static void note_fs(const char *path)
{
	struct statfs sf;

	if (!statfs(path, &sf))
		h_note("%s is f_type %#lx%s", path, (unsigned long)sf.f_type,
		       sf.f_type == TMPFS_MAGIC ? " (tmpfs)" :
		       sf.f_type == RAMFS_MAGIC ? " (ramfs)" : "");
}

/*
 * "-EOPNOTSUPP file-backed memory other than shmem/hugetlb", on every
 * kernel (6.1's GUP would pin page cache, newer ones refuse with
 * -EFAULT). The guest's / and /tmp are tmpfs, so the file lives on a
 * ramfs mounted for the case (h_ramfs_file): a page-cache file system
 * that is not shmem. Shared and private file mappings are refused, and
 * so is a buffer that merely ends in one; nothing stays pinned.
 */
static void file_backed_rejected(void)
{
	char *file = MAP_FAILED, *priv = MAP_FAILED, *mixed = MAP_FAILED;
	size_t len = 4 * H_PAGE;
	int ffd;

	note_fs("/");
	note_fs("/tmp");
	ffd = h_ramfs_file(len);
	if (ffd < 0)
		return;
	file = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ffd, 0);
	priv = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, ffd, 0);
	/* one anonymous page followed by one page of the file */
	mixed = mmap(NULL, 2 * H_PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!EXPECT(file != MAP_FAILED && priv != MAP_FAILED &&
		    mixed != MAP_FAILED))
		goto out;
	if (!EXPECT(mmap(mixed + H_PAGE, H_PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, ffd, 0) == mixed + H_PAGE))
		goto out;
	memset(file, 1, len);
	memset(priv, 2, len);
	memset(mixed, 3, 2 * H_PAGE);
	expect_register(file, len, EOPNOTSUPP, "ramfs MAP_SHARED");
	expect_register(file + 10, 10, EOPNOTSUPP, "ramfs MAP_SHARED, 10 bytes");
	expect_register(priv, len, EOPNOTSUPP, "ramfs MAP_PRIVATE");
	expect_register(mixed, 2 * H_PAGE, EOPNOTSUPP, "anonymous + ramfs page");
	/* the anonymous page alone is fine */
	expect_register(mixed, H_PAGE, 0, "anonymous page next to ramfs");
out:
	h_munmap(file, len);
	h_munmap(priv, len);
	h_munmap(mixed, 2 * H_PAGE);
	h_ramfs_put(ffd);
}

/*
 * The pages of an IOPBUF_RING_MMAP ring are kernel (vmalloc) memory
 * mapped from the device file: not memory that may be registered.
 * (bgid 0x8001: see ring.c, mmap_low_bgid, for why not a small bgid.)
 */
static void ring_mapping_rejected(void)
{
	unsigned int bgid = 0x8001;
	void *ring = MAP_FAILED;
	int fd = h_open(), fd2 = h_open();
	struct iovec iov;

	if (fd < 0 || fd2 < 0)
		goto out;
	if (!EXPECT_OK(h_register_ring(fd, NULL, 256, bgid, IOPBUF_RING_MMAP, 0)))
		goto out;
	ring = mmap(NULL, H_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    IOPBUF_OFF_RING(bgid));
	if (!EXPECT(ring != MAP_FAILED))
		goto out;
	iov = (struct iovec){ ring, H_PAGE };
	EXPECT_ERR(h_register_iov(fd2, &iov, 1), EOPNOTSUPP);
	expect_no_table(fd2);
	EXPECT_ERR(h_register_iov(fd, &iov, 1), EOPNOTSUPP);
	EXPECT_STATS(fd, 0, 0, 1, 1, 0);
out:
	h_munmap(ring, H_PAGE);
	h_close(&fd);
	h_close(&fd2);
}

/*
 * Memory that cannot be pinned for writing -> -EFAULT, nothing pinned:
 * PROT_NONE, read-only (buffers are pinned writable, as io_uring does),
 * a hole, and a buffer running from mapped memory into a hole.
 */
static void unpinnable_efault(void)
{
	char *none = mmap(NULL, H_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	char *ro = mmap(NULL, H_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	char *edge = h_edge();
	void *hole = h_hole(4 * H_PAGE);

	if (!EXPECT(none != MAP_FAILED && ro != MAP_FAILED) || !edge || !hole)
		goto out;
	expect_register(none, H_PAGE, EFAULT, "PROT_NONE");
	expect_register(none + 1, 1, EFAULT, "PROT_NONE, 1 byte");
	expect_register(ro, H_PAGE, EFAULT, "PROT_READ");
	expect_register(hole, 4 * H_PAGE, EFAULT, "unmapped");
	expect_register(edge, 2 * H_PAGE, EFAULT, "mapped page + hole");
	expect_register(edge + H_PAGE - 1, 2, EFAULT, "2 bytes into the hole");
	expect_register(edge, H_PAGE, 0, "the mapped page alone");
out:
	h_munmap(none, H_PAGE);
	h_munmap(ro, H_PAGE);
}

/* ------------------------------------------------------------------------
 * RLIMIT_MEMLOCK
 */

static void memlock_child(void *arg)
{
	char *mem = h_map(64 * H_PAGE);
	struct iovec b8 = { mem, 8 * H_PAGE };
	struct iovec b9 = { mem + 8 * H_PAGE, 9 * H_PAGE };
	struct iovec b8b = { mem + 20 * H_PAGE, 8 * H_PAGE };
	struct iovec b1 = { mem + 40 * H_PAGE, 1 };
	struct iovec b7 = { mem + 48 * H_PAGE, 7 * H_PAGE };
	struct iovec bad_pair[2] = { b1, b9 }, good_pair[2] = { b1, b7 };
	struct iovec empty = { 0 };
	struct h_global g0, g1;
	int fd = -1, fd2 = -1;

	(void)arg;
	if (!mem || !h_drop_ipc_lock() || !EXPECT_OK(h_set_memlock(64 << 10)))
		goto out;
	fd = h_open();
	fd2 = h_open();
	if (fd < 0 || fd2 < 0 || !EXPECT_OK(h_register_sparse(fd, 4)))
		goto out;
	h_global_read(&g0);

	/* 8 of 16 pages */
	if (!EXPECT_OK(h_update_iov(fd, 0, &b8, 1)))
		goto out;
	EXPECT_STATS(fd, 4, 1, 0, 8, 8);
	/* 8 + 9 > 16: refused, nothing more pinned or charged */
	EXPECT_ERR(h_update_iov(fd, 1, &b9, 1), ENOMEM);
	EXPECT_STATS(fd, 4, 1, 0, 8, 8);
	/*
	 * The limit is the user's, across contexts. A REGISTER whose first
	 * buffer fits (8 + 1) and second does not (9 + 9) fails as a whole:
	 * the first buffer's pin and charge are undone.
	 */
	EXPECT_ERR(h_register_iov(fd2, bad_pair, 2), ENOMEM);
	expect_no_table(fd2);
	h_global_read(&g1);
	EXPECT_EQ(g1.pinned_pages - g0.pinned_pages, 8);
	EXPECT_EQ(g1.charged_pages - g0.charged_pages, 8);
	/* exactly at the limit */
	EXPECT_OK(h_update_iov(fd, 1, &b8b, 1));
	EXPECT_STATS(fd, 4, 2, 0, 16, 16);
	/* one page more: refused */
	EXPECT_ERR(h_update_iov(fd, 2, &b1, 1), ENOMEM);
	EXPECT_STATS(fd, 4, 2, 0, 16, 16);
	/* releasing a buffer returns its charge to the user */
	EXPECT_OK(h_update_iov(fd, 0, &empty, 1));
	EXPECT_STATS(fd, 4, 1, 0, 8, 8);
	EXPECT_OK(h_register_iov(fd2, good_pair, 2));
	EXPECT_STATS(fd2, 2, 2, 0, 8, 8);
	h_global_read(&g1);
	EXPECT_EQ(g1.charged_pages - g0.charged_pages, 16);
	h_close(&fd);
	h_close(&fd2);
	EXPECT_PAGES_AS(g0);
out:
	h_close(&fd);
	h_close(&fd2);
	h_unmap(mem, 64 * H_PAGE);
}

/*
 * Without CAP_IPC_LOCK, RLIMIT_MEMLOCK (64 KiB = 16 pages here) bounds
 * the pages charged to the user; over it -> -ENOMEM with nothing left
 * pinned or charged, in the context and module-wide.
 */
static void memlock_enforced(void)
{
	h_in_child(memlock_child, NULL);
}

static void unprivileged_child(void *arg)
{
	char *mem = h_map(32 * H_PAGE);
	struct iovec ok = { mem, 12 * H_PAGE }, over = { mem, 20 * H_PAGE };
	int fd = -1;

	(void)arg;
	if (!mem || !EXPECT_OK(h_set_memlock(64 << 10)) ||
	    !EXPECT(setresgid(65534, 65534, 65534) == 0) ||
	    !EXPECT(setresuid(65534, 65534, 65534) == 0) ||
	    !EXPECT(!h_has_cap(CAP_IPC_LOCK)))
		goto out;
	fd = h_open();
	if (fd < 0)
		goto out;
	EXPECT_ERR(h_register_iov(fd, &over, 1), ENOMEM);
	expect_no_table(fd);
	if (EXPECT_OK(h_register_iov(fd, &ok, 1)))
		EXPECT_STATS(fd, 1, 1, 0, 12, 12);
out:
	h_close(&fd);
	h_unmap(mem, 32 * H_PAGE);
}

/*
 * The device is 0666: an unprivileged user (uid 65534) registers buffers
 * within its own RLIMIT_MEMLOCK and is refused beyond it.
 */
static void unprivileged_user(void)
{
	h_in_child(unprivileged_child, NULL);
	EXPECT_GLOBAL_IDLE();
}

/* The updater of lookup_races_update(): slot 0 swaps between two areas. */
struct swapper {
	int		dev;
	struct iovec	iov[2];
	atomic_bool	stop;
	unsigned long	updates;
	long		err;		/* the first update that failed */
};

static void *swap_slot0(void *arg)
{
	struct swapper *w = arg;

	while (!atomic_load(&w->stop)) {
		long ret = h_update_iov(w->dev, 0, &w->iov[w->updates & 1], 1);

		if (ret) {
			w->err = ret;
			break;
		}
		w->updates++;
	}
	return NULL;
}

#define RACE_RECVS	2000

/*
 * Lookups take no lock: a receive looks its registered buffer up while
 * UPDATE replaces that slot, over and over. The slot is never empty, so
 * every receive must land its datagram in one of the two buffers (never
 * -EFAULT from a lookup that caught the old buffer on its way out), every
 * update must succeed, and nothing may stay pinned or leak (the debug
 * kernel's KASAN and kmemleak watch the freed buffers).
 */
static void lookup_races_update(struct t_fx *f)
{
	const size_t half = f->data_len / 2;
	struct swapper w = { .dev = f->dev };
	unsigned int i, bad = 0;
	char msg[64];
	pthread_t t;

	w.iov[0] = (struct iovec){ f->data, half };
	w.iov[1] = (struct iovec){ f->data + half, half };
	if (!EXPECT_OK(h_register_iov(f->dev, w.iov, 1)) ||
	    !t_udp_pair(f->fds))
		return;
	if (pthread_create(&t, NULL, swap_slot0, &w)) {
		FAILF("pthread_create: %s", strerror(errno));
		return;
	}
	memset(msg, 'r', sizeof(msg));
	for (i = 0; i < RACE_RECVS; i++) {
		struct t_cqe c;

		t_ring_add(&f->r, iopbuf_regbuf_encode(0, i % 64), sizeof(msg),
			   (__u16)i);
		t_ring_publish(&f->r);
		if (!EXPECT_EQ(send(f->fds[1], msg, sizeof(msg), 0),
			       (ssize_t)sizeof(msg)) ||
		    !t_recv(&f->uring, f->dev, f->fds[0], 1, 0, 0, &c))
			break;
		if (c.res != (int)sizeof(msg) && !bad++)
			h_note("receive %u: %s", i, h_res(c.res));
	}
	atomic_store(&w.stop, true);
	pthread_join(t, NULL);
	EXPECT_EQ(i, RACE_RECVS);
	EXPECT_EQ(bad, 0);
	EXPECT_OK(w.err);
	/* the race ran: the slot changed while receives looked it up */
	EXPECT(w.updates > 0);
	h_note("%u receives, %lu updates", i, w.updates);
	EXPECT_OK(h_unregister_bufs(f->dev));
}

/*
 * Receive one datagram of @len bytes, filled with @pat, through ring @r
 * (one entry naming @addr). Return: the completion's res, -ENODATA when
 * the datagram could not be sent or no completion came.
 */
static int recv_one(struct t_fx *f, struct t_ring *r, __u64 addr, char pat,
		    size_t len)
{
	char msg[64];
	struct t_cqe c;

	memset(msg, pat, len);
	t_ring_add(r, addr, len, 0);
	t_ring_publish(r);
	if (!EXPECT_EQ(send(f->fds[1], msg, len, 0), (ssize_t)len) ||
	    !t_recv(&f->uring, f->dev, f->fds[0], r->bgid, 0, 0, &c))
		return -ENODATA;
	return c.res;
}

/* Do @len bytes at @p all read @pat? */
static bool all_pat(const char *p, char pat, size_t len)
{
	while (len--)
		if (*p++ != pat)
			return false;
	return true;
}

/*
 * Buffer slots and ring ids below 16 are also looked up directly, the
 * others in the xarray (struct pbuf_ctx): both agree with the table on
 * either side of the boundary, through UPDATE, clearing and
 * unregistering. Slots 15, 16 and 1000 of a sparse table hold pages 0, 1
 * and 2; each receive must land in its slot's page. Slot 15 then moves
 * to page 3, is cleared (-EFAULT), and the table goes (-EFAULT). Rings 15,
 * 16 and 65535 each take a receive; ring 15 unregistered is gone
 * (-ENOENT) even while a parked receive still holds it, and registered
 * again works.
 */
static void direct_slots_boundary(struct t_fx *f)
{
	static const unsigned int slot[] = { 15, 16, 1000 };
	static const unsigned int bgid[] = { 15, 16, 65535 };
	struct iovec iov, empty = { 0 };
	struct t_ring r[3] = { 0 };
	int other[2] = { -1, -1 };
	struct t_cqe c;
	char msg[64];
	unsigned int i;

	if (!EXPECT_OK(h_register_sparse(f->dev, 1024)) || !t_udp_pair(f->fds))
		return;
	for (i = 0; i < 3; i++) {
		iov = (struct iovec){ f->data + i * H_PAGE, H_PAGE };
		if (!EXPECT_OK(h_update_iov(f->dev, slot[i], &iov, 1)) ||
		    !t_ring_init(&r[i], f->dev, 8, bgid[i], IOPBUF_RING_REGBUF,
				 0))
			goto out;
	}
	/* every slot through every ring */
	for (i = 0; i < 9; i++) {
		unsigned int s = i % 3;
		char pat = (char)('a' + i);

		if (!EXPECT_EQ(recv_one(f, &r[i / 3],
					iopbuf_regbuf_encode(slot[s], 100), pat,
					64), 64))
			goto out;
		EXPECT(all_pat(f->data + s * H_PAGE + 100, pat, 64));
	}
	/* slot 15 moves to page 3, then is cleared */
	iov = (struct iovec){ f->data + 3 * H_PAGE, H_PAGE };
	if (!EXPECT_OK(h_update_iov(f->dev, 15, &iov, 1)) ||
	    !EXPECT_EQ(recv_one(f, &r[0], iopbuf_regbuf_encode(15, 0), 'x', 32),
		       32))
		goto out;
	EXPECT(all_pat(f->data + 3 * H_PAGE, 'x', 32));
	if (!EXPECT_OK(h_update_iov(f->dev, 15, &empty, 1)))
		goto out;
	/* the failed receive leaves its entry at ring 16's head, and the data */
	EXPECT_EQ(recv_one(f, &r[1], iopbuf_regbuf_encode(15, 0), 'y', 32),
		  -EFAULT);
	EXPECT_EQ(recv(f->fds[0], msg, sizeof(msg), MSG_DONTWAIT), 32);

	/*
	 * Ring 15 unregistered while a receive parked on it still holds it:
	 * a later command finds no ring 15 all the same. The parked receive
	 * completes from the old ring once its datagram comes.
	 */
	t_ring_add(&r[0], iopbuf_regbuf_encode(16, 0), 32, 0);
	t_ring_publish(&r[0]);
	if (!t_udp_pair(other) ||
	    !t_start(&f->uring, f->dev, &(struct t_cmd){
			.op = IOPBUF_CMD_RECV, .fd = other[0], .bgid = 15 },
		     0x0ff) ||
	    !EXPECT(t_no_cqe(&f->uring)))
		goto out;
	t_ring_fini(&r[0]);
	if (!EXPECT_EQ(send(f->fds[1], msg, 32, 0), 32))
		goto out;
	if (t_recv(&f->uring, f->dev, f->fds[0], 15, 0, 0, &c))
		EXPECT_EQ(c.res, -ENOENT);
	if (!EXPECT_EQ(send(other[1], msg, 32, 0), 32) ||
	    !t_wait(&f->uring, &c))
		goto out;
	EXPECT_EQ(c.user_data, 0x0ff);
	EXPECT_EQ(c.res, 32);
	/* registered again: found */
	if (!t_ring_init(&r[0], f->dev, 8, 15, IOPBUF_RING_REGBUF, 0))
		goto out;
	t_ring_add(&r[0], iopbuf_regbuf_encode(16, 0), 32, 0);
	t_ring_publish(&r[0]);
	if (t_recv(&f->uring, f->dev, f->fds[0], 15, 0, 0, &c))
		EXPECT_EQ(c.res, 32);

	/* the table gone: no slot, direct or not */
	if (!EXPECT_OK(h_unregister_bufs(f->dev)))
		goto out;
	EXPECT_EQ(recv_one(f, &r[0], iopbuf_regbuf_encode(16, 0), 'w', 32),
		  -EFAULT);
	EXPECT_EQ(recv_one(f, &r[2], iopbuf_regbuf_encode(1000, 0), 'v', 32),
		  -EFAULT);
out:
	for (i = 0; i < 3; i++)
		t_ring_fini(&r[i]);
	h_unregister_bufs(f->dev);
	t_close2(other);
}

int main(void)
{
	h_init("regbuf");
	RUN(register_four_odd);
	RUN(register_four_charged);
	RUN_DEV(register_empty_slots, 2);
	RUN_DEV(sparse_then_update, 8);
	RUN_DEV(update_replaces_and_clears, 8);
	RUN_DEV(update_all_or_nothing, 4);
	RUN_DEV(update_out_of_range, 1);
	RUN_DEV(register_twice_ebusy, 4);
	RUN_DEV(no_table_enxio, 1);
	RUN_DEV(unregister_register_again, 4);
	RUN_DEV(max_slots, 1);
	RUN_DEV(fdinfo_many_bufs, N_MANY);
	RUN(shmem_accepted);
	RUN(hugetlb_accepted);
	RUN(file_backed_rejected);
	RUN(ring_mapping_rejected);
	RUN(unpinnable_efault);
	RUN(memlock_enforced);
	RUN(unprivileged_user);
	t_run_fx("direct_slots_boundary", direct_slots_boundary, 4 * H_PAGE,
		 8, 1, IOPBUF_RING_REGBUF);
	/* last: its churn of pinned pages must not fragment hugetlb_accepted's */
	t_run_fx("lookup_races_update", lookup_races_update, 8 * H_PAGE, 8, 1,
		 IOPBUF_RING_REGBUF);
	h_run("counters_zero", h_case_counters_zero);
	return h_exit();
}
