// SPDX-License-Identifier: GPL-2.0
/*
 * sizes: registered buffers at the documented size limit, probe.max_buf_len.
 *
 * Kept apart from regbuf, and named to run last (the guest runs the tests
 * in name order), because a module that mishandles these sizes may trip a
 * kernel WARN, which panics the guest (panic_on_warn) and would hide the
 * results of every test after it.
 */
#include "harness.h"

/*
 * Reserve @len bytes of address space: one anonymous PROT_NONE vma, no
 * memory behind it (MAP_NORESERVE; PROT_NONE is not accounted).
 */
static void *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		h_skip("cannot reserve %zu GiB of address space: %s",
		       len >> 30, strerror(errno));
		return NULL;
	}
	return p;
}

static unsigned long long max_buf_len(void)
{
	struct iopbuf_probe p;
	int fd = h_open();

	if (fd < 0)
		return 0;
	if (!EXPECT_OK(h_probe(fd, &p)))
		p.max_buf_len = 0;
	close(fd);
	return p.max_buf_len;
}

/* Register [p, p + len) on a fresh context; returns the result. */
static long register_one(void *p, unsigned long long len)
{
	struct iovec iov = { p, len };
	long r;
	int fd = h_open();

	if (fd < 0)
		return -EBADF;
	r = h_register_iov(fd, &iov, 1);
	/* whatever the result, nothing may stay pinned or charged */
	if (r)
		EXPECT_STATS(fd, 0, 0, 0, 0, 0);
	close(fd);
	return r;
}

static void max_unprivileged_child(void *arg)
{
	unsigned long long len = *(unsigned long long *)arg;
	void *p;

	if (!h_drop_ipc_lock() || !EXPECT_OK(h_set_memlock(64 << 10)))
		return;
	p = reserve(len + H_PAGE);
	if (!p)
		return;
	/* charged before anything is allocated or pinned: over the limit */
	EXPECT_ERR(register_one(p, len), ENOMEM);
	munmap(p, len + H_PAGE);
}

/*
 * A max_buf_len buffer charged to a 64 KiB RLIMIT_MEMLOCK is refused with
 * -ENOMEM before the module allocates anything for it.
 */
static void max_len_over_memlock(void)
{
	unsigned long long len = max_buf_len();

	if (len)
		h_in_child(max_unprivileged_child, &len);
	EXPECT_GLOBAL_IDLE();
}

/*
 * A buffer of exactly probe.max_buf_len bytes (1 TiB) whose memory cannot
 * be pinned (a PROT_NONE reservation) is refused cleanly: -EFAULT (the
 * memory is not there to pin) or -ENOMEM, nothing pinned, and no kernel
 * warning. With CAP_IPC_LOCK no memlock charge stops it first; this is
 * what a privileged application or one with RLIMIT_MEMLOCK=unlimited
 * reaches. Length max_buf_len + 1 is -E2BIG.
 */
static void max_len_unpinnable(void)
{
	unsigned long long len = max_buf_len();
	long r;
	void *p;

	if (!len)
		return;
	p = reserve(len + H_PAGE);
	if (!p)
		return;
	EXPECT_ERR(register_one(p, len + 1), E2BIG);
	r = register_one(p, len);
	if (r != -ENOMEM)
		EXPECT_ERR(r, EFAULT);
	/* half of it: still more than INT_MAX bytes of bio_vecs */
	r = register_one(p, len / 2);
	if (r != -ENOMEM)
		EXPECT_ERR(r, EFAULT);
	munmap(p, len + H_PAGE);
	EXPECT_GLOBAL_IDLE();
}

int main(void)
{
	h_init("sizes");
	RUN(max_len_over_memlock);
	RUN(max_len_unpinnable);
	h_run("counters_zero", h_case_counters_zero);
	return h_exit();
}
