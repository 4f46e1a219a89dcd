/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal test harness for the iouring-pbuf userspace tests.
 *
 * Protocol (scripts/guest-init.sh): every case prints exactly one line,
 *   PASS: <case>
 *   FAIL: <case>: <first failed expectation>
 *   SKIP: <case>: <why this kernel cannot run it>
 * Further diagnostics go to lines starting with '#', which the guest
 * ignores. A test binary exits 1 if any case failed.
 *
 * A case is a plain `static void fn(void)` run by h_run() (RUN), a
 * function of a fixture the runner makes and releases (RUN_DEV here,
 * t_run_fx() in util.h), or one function over a table of rows (RUN_ROWS).
 * Expectations (EXPECT*, below) evaluate to true when they hold and never
 * return from the case, so a case can clean up after a failure with
 * `goto out` (or just return, when its runner owns the fixture).
 * The failure record lives in a MAP_SHARED page, so a case may fork
 * (h_in_child) and the child's failures count for the case.
 */
#ifndef IOPBUF_TESTS_HARNESS_H
#define IOPBUF_TESTS_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/magic.h>

#include <liburing.h>
#include <linux/iouring_pbuf.h>

#define H_PAGE		4096UL
#define H_SYSFS_DIR	"/sys/class/misc/iouring-pbuf"
#define H_UNREADABLE	(-1000000L)
#define H_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------
 * Case bookkeeping
 */

struct h_shared {
	char fail[768];		/* first failure of the current case */
	char skip[512];		/* skip reason of the current case */
	int more_failures;	/* failures after the first one */
};

/* Defined once, in harness.c (tests/build/libtestutil.a). */
extern struct h_shared *h_st;
extern const char *h_test_name;
extern const char *h_case_name;
extern int h_npass, h_nfail, h_nskip;

/*
 * The one hang guard: how long any wait for something that must happen
 * (a completion, a counter, a child's exit) gives it before failing.
 * Waits return as soon as their event comes, so the bound is generous:
 * H_HANG_BASE_MS times IOPBUF_TIME_FACTOR from the environment (an
 * integer, 1 when unset; the guest's init sets it from the kernel command
 * line, scripts/vm-test.sh scales it for TCG and the debug kernel).
 */
#define H_HANG_BASE_MS	5000
int h_time_factor(void);

static inline int h_hang_ms(void)
{
	return H_HANG_BASE_MS * h_time_factor();
}

/* A '#' line: diagnostics the guest does not count. */
static inline void __attribute__((format(printf, 1, 2))) h_note(const char *fmt, ...)
{
	va_list ap;

	printf("# %s: ", h_case_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static inline void __attribute__((format(printf, 3, 4)))
h_failf(const char *file, int line, const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!h_st->fail[0]) {
		snprintf(h_st->fail, sizeof(h_st->fail), "%s:%d: %s", file, line, msg);
	} else {
		h_st->more_failures++;
		printf("# %s: also %s:%d: %s\n", h_case_name, file, line, msg);
	}
}

#define FAILF(...)	h_failf(__FILE__, __LINE__, __VA_ARGS__)

/* Mark the current case skipped; failures recorded so far still win. */
static inline void __attribute__((format(printf, 1, 2))) h_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h_st->skip, sizeof(h_st->skip), fmt, ap);
	va_end(ap);
}

static inline bool h_case_failed(void)
{
	return h_st->fail[0] != 0;
}

static inline void h_init_counters(void);

static inline void h_init(const char *name)
{
	FILE *f;
	char rel[128] = "?";

	setvbuf(stdout, NULL, _IOLBF, 0);
	setvbuf(stderr, NULL, _IOLBF, 0);
	h_test_name = name;
	h_st = mmap(NULL, sizeof(*h_st), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h_st == MAP_FAILED) {
		printf("FAIL: %s: harness: mmap: %s\n", name, strerror(errno));
		exit(1);
	}
	f = fopen("/proc/sys/kernel/osrelease", "r");
	if (f) {
		if (fgets(rel, sizeof(rel), f))
			rel[strcspn(rel, "\n")] = 0;
		fclose(f);
	}
	printf("# %s: running on Linux %s\n", name, rel);
	h_init_counters();
}

static inline void h_run(const char *name, void (*fn)(void))
{
	memset(h_st, 0, sizeof(*h_st));
	h_case_name = name;
	fn();
	if (h_st->fail[0]) {
		if (h_st->more_failures)
			printf("FAIL: %s: %s (+%d more)\n", name, h_st->fail,
			       h_st->more_failures);
		else
			printf("FAIL: %s: %s\n", name, h_st->fail);
		h_nfail++;
	} else if (h_st->skip[0]) {
		printf("SKIP: %s: %s\n", name, h_st->skip);
		h_nskip++;
	} else {
		printf("PASS: %s\n", name);
		h_npass++;
	}
	h_case_name = "";
}

#define RUN(fn)	h_run(#fn, fn)

/*
 * A case on the fixture most ioctl-level cases share: a fresh context
 * (@fd, /dev/iouring-pbuf) and @pages pages of populated anonymous memory
 * (@mem), made before fn() and closed and unmapped after it, however it
 * returns. If either cannot be made, the case fails without running fn().
 */
void h_run_dev(const char *name, void (*fn)(int fd, char *mem),
	       unsigned int pages);

#define RUN_DEV(fn, pages)	h_run_dev(#fn, fn, pages)

/*
 * Table-driven cases: one case function and an array of rows whose first
 * member is the case's name (const char *name). h_run_arg() runs
 * fn(arg) as the case @name; RUN_ROWS(fn, rows) runs fn(&rows[i]) as the
 * case rows[i].name for every row, in order.
 */
void h_run_arg(const char *name, void (*fn)(const void *arg),
	       const void *arg);

#define RUN_ROWS(fn, rows)						\
	do {								\
		size_t _r;						\
									\
		for (_r = 0; _r < H_ARRAY_SIZE(rows); _r++)		\
			h_run_arg((rows)[_r].name, fn, &(rows)[_r]);	\
	} while (0)

static inline int h_exit(void)
{
	printf("# %s: %d passed, %d failed, %d skipped\n", h_test_name,
	       h_npass, h_nfail, h_nskip);
	return h_nfail ? 1 : 0;
}

/*
 * Run fn(arg) in a forked child (for capability and rlimit changes that
 * must not leak into the rest of the test). Failures the child records
 * count for the current case; so does a crash or a non-zero exit.
 */
static inline void h_in_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		FAILF("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid) {
		FAILF("waitpid: %s", strerror(errno));
		return;
	}
	if (WIFSIGNALED(status))
		FAILF("child killed by signal %d", WTERMSIG(status));
	else if (WEXITSTATUS(status))
		FAILF("child exited with %d", WEXITSTATUS(status));
}

/* ------------------------------------------------------------------------
 * Errno names and expectations
 */

/* "ENOENT" for 2; "0" for 0; a number for unknown values. */
static inline const char *h_errname(int err)
{
	static char bufs[4][24];
	static int next;
	const char *name;
	char *b;

	if (err == 0)
		return "0";
	name = strerrorname_np(err);
	if (name)
		return name;
	b = bufs[next++ % 4];
	snprintf(b, sizeof(bufs[0]), "errno %d", err);
	return b;
}

/* A result in -errno convention as text: "-EINVAL" or "64". */
static inline const char *h_res(long r)
{
	static char bufs[4][32];
	static int next;
	char *b = bufs[next++ % 4];

	if (r < 0 && r > -4096)
		snprintf(b, sizeof(bufs[0]), "-%s", h_errname((int)-r));
	else
		snprintf(b, sizeof(bufs[0]), "%ld", r);
	return b;
}

static inline bool __attribute__((format(printf, 4, 5)))
h_expect(bool ok, const char *file, int line, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	if (ok)
		return true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h_failf(file, line, "%s", msg);
	return false;
}

/* true when cond holds; records "cond" as the failure otherwise */
#define EXPECT(cond)	h_expect(!!(cond), __FILE__, __LINE__, "%s", #cond)

/* unsigned comparison with both values in the message */
#define EXPECT_EQ(a, b) ({						\
	unsigned long long _a = (unsigned long long)(a);		\
	unsigned long long _b = (unsigned long long)(b);		\
	h_expect(_a == _b, __FILE__, __LINE__,				\
		 "%s == %s: got %llu (0x%llx), want %llu (0x%llx)",	\
		 #a, #b, _a, _a, _b, _b);				\
})

/* expr yields 0 or -errno; expect -err (err > 0) or 0 (err == 0) */
#define EXPECT_ERR(expr, err) ({					\
	long _r = (long)(expr);						\
	int _e = (err);							\
	h_expect(_r == -_e, __FILE__, __LINE__, "%s: got %s, want %s%s",	\
		 #expr, h_res(_r), _e ? "-" : "", h_errname(_e));	\
})

#define EXPECT_OK(expr)	EXPECT_ERR(expr, 0)

/* ------------------------------------------------------------------------
 * The device
 */

/* Open a new context; records a failure and returns -1 when it cannot. */
static inline int h_open(void)
{
	int fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		FAILF("open %s: %s", IOPBUF_DEVICE_PATH, strerror(errno));
	return fd;
}

static inline void h_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ioctl(2) with the result as 0 / -errno */
static inline long h_ioctl(int fd, unsigned long req, const void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static inline long h_stats(int fd, struct iopbuf_stats *st)
{
	memset(st, 0xa5, sizeof(*st));
	return h_ioctl(fd, IOPBUF_IOC_STATS, st);
}

static inline long h_probe(int fd, struct iopbuf_probe *p)
{
	memset(p, 0xa5, sizeof(*p));
	return h_ioctl(fd, IOPBUF_IOC_PROBE, p);
}

/* Register @nr iovecs (REGISTER_BUFFERS, no flags). */
static inline long h_register_iov(int fd, const struct iovec *iov, unsigned int nr)
{
	struct iopbuf_buf_reg reg = {
		.iovs = (uintptr_t)iov,
		.nr = nr,
	};

	return h_ioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS, &reg);
}

static inline long h_register_sparse(int fd, unsigned int nr)
{
	struct iopbuf_buf_reg reg = {
		.nr = nr,
		.flags = IOPBUF_BUF_REG_SPARSE,
	};

	return h_ioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS, &reg);
}

static inline long h_update_iov(int fd, unsigned int offset, const struct iovec *iov,
			 unsigned int nr)
{
	struct iopbuf_buf_reg reg = {
		.iovs = (uintptr_t)iov,
		.nr = nr,
		.offset = offset,
	};

	return h_ioctl(fd, IOPBUF_IOC_UPDATE_BUFFERS, &reg);
}

static inline long h_unregister_bufs(int fd)
{
	return h_ioctl(fd, IOPBUF_IOC_UNREGISTER_BUFFERS, NULL);
}

/* Register a ring; @addr NULL for IOPBUF_RING_MMAP. */
static inline long h_register_ring(int fd, void *addr, unsigned int entries,
			    unsigned int bgid, unsigned int flags,
			    unsigned int min_left)
{
	struct iopbuf_ring_reg reg = {
		.ring_addr = (uintptr_t)addr,
		.ring_entries = entries,
		.bgid = (__u16)bgid,
		.flags = (__u16)flags,
		.min_left = min_left,
	};

	return h_ioctl(fd, IOPBUF_IOC_REGISTER_RING, &reg);
}

static inline long h_unregister_ring(int fd, unsigned int bgid)
{
	struct iopbuf_ring_reg reg = { .bgid = (__u16)bgid };

	return h_ioctl(fd, IOPBUF_IOC_UNREGISTER_RING, &reg);
}

/* RING_STATUS; *head receives the kernel head on success. */
static inline long h_ring_status(int fd, unsigned int bgid, unsigned int *head)
{
	struct iopbuf_ring_status st = { .bgid = (__u16)bgid };
	long r = h_ioctl(fd, IOPBUF_IOC_RING_STATUS, &st);

	if (!r && head)
		*head = st.head;
	return r;
}

/*
 * The context's counters must equal the given values (buf_slots, bufs,
 * rings, pinned, charged); inflight and every reserved field must be 0.
 */
#define EXPECT_STATS(fd, slots, nbufs, nrings, pinned, charged) ({	\
	struct iopbuf_stats _st;					\
	bool _ok = EXPECT_OK(h_stats(fd, &_st));			\
	if (_ok) {							\
		_ok &= EXPECT_EQ(_st.buf_slots, slots);			\
		_ok &= EXPECT_EQ(_st.bufs, nbufs);			\
		_ok &= EXPECT_EQ(_st.rings, nrings);			\
		_ok &= EXPECT_EQ(_st.pinned_pages, pinned);		\
		_ok &= EXPECT_EQ(_st.charged_pages, charged);		\
		_ok &= EXPECT_EQ(_st.inflight, 0);			\
		_ok &= EXPECT(!_st.resv[0] && !_st.resv[1] &&		\
			      !_st.resv[2] && !_st.resv[3]);		\
	}								\
	_ok;								\
})

/* ------------------------------------------------------------------------
 * Module-wide counters in sysfs
 */

struct h_global {
	long pinned_pages;
	long charged_pages;
	long contexts;
	long inflight;
};

/* One counter of /sys/class/misc/iouring-pbuf/, or H_UNREADABLE. */
static inline long h_sysfs_read(const char *attr)
{
	char path[128], buf[64];
	long v = -1;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", H_SYSFS_DIR, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return H_UNREADABLE;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return H_UNREADABLE;
	buf[n] = 0;
	if (sscanf(buf, "%ld", &v) != 1)
		return H_UNREADABLE;
	return v;
}

static inline void h_global_read(struct h_global *g)
{
	g->pinned_pages = h_sysfs_read("pinned_pages");
	g->charged_pages = h_sysfs_read("charged_pages");
	g->contexts = h_sysfs_read("contexts");
	g->inflight = h_sysfs_read("inflight");
}

static inline bool h_global_is_zero(const struct h_global *g)
{
	return !g->pinned_pages && !g->charged_pages && !g->contexts &&
	       !g->inflight;
}

/* The module-wide counters when this test started (see h_init). */
extern struct h_global h_global_start;

static inline void h_init_counters(void)
{
	h_global_read(&h_global_start);
	if (!h_global_is_zero(&h_global_start))
		printf("# %s: module counters not zero at start (left by an "
		       "earlier test): pinned_pages %ld charged_pages %ld "
		       "contexts %ld inflight %ld\n", h_test_name,
		       h_global_start.pinned_pages,
		       h_global_start.charged_pages, h_global_start.contexts,
		       h_global_start.inflight);
}

static inline bool h_global_equal(const struct h_global *a,
				  const struct h_global *b)
{
	return a->pinned_pages == b->pinned_pages &&
	       a->charged_pages == b->charged_pages &&
	       a->contexts == b->contexts && a->inflight == b->inflight;
}

/*
 * Wait (up to the hang guard) for the module-wide counters to return to
 * their values at the start of this test: 0, unless an earlier test
 * leaked (h_init notes it), which is then not blamed on this one.
 */
#define EXPECT_GLOBAL_IDLE() ({						\
	struct h_global _g, _s = h_global_start;			\
	int _ms = h_hang_ms();						\
	for (;;) {							\
		h_global_read(&_g);					\
		if (h_global_equal(&_g, &_s) || _ms <= 0)		\
			break;						\
		usleep(10000);						\
		_ms -= 10;						\
	}								\
	h_expect(h_global_equal(&_g, &_s), __FILE__, __LINE__,		\
		 "global counters not back to %s: pinned_pages %ld "	\
		 "charged_pages %ld contexts %ld inflight %ld",		\
		 h_global_is_zero(&_s) ? "zero" : "their start values",	\
		 _g.pinned_pages, _g.charged_pages, _g.contexts,	\
		 _g.inflight);						\
})

/*
 * The module-wide pinned_pages and charged_pages are (again) what
 * h_global_read() read into @g0 before.
 */
#define EXPECT_PAGES_AS(g0) ({						\
	struct h_global _g0 = (g0), _g1;				\
	bool _ok;							\
									\
	h_global_read(&_g1);						\
	_ok = EXPECT_EQ(_g1.pinned_pages, _g0.pinned_pages);		\
	_ok &= EXPECT_EQ(_g1.charged_pages, _g0.charged_pages);	\
	_ok;								\
})

/*
 * Every test file ends with this case: once all its files are closed, no
 * page stays pinned or charged and no context or operation is left.
 */
static inline void h_case_counters_zero(void)
{
	EXPECT_GLOBAL_IDLE();
}

/* ------------------------------------------------------------------------
 * fdinfo
 */

/* /proc/self/fdinfo/<fd> into buf; false on error. */
static inline bool h_fdinfo(int fd, char *buf, size_t size)
{
	char path[64];
	size_t len = 0;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	while (len + 1 < size && (n = read(f, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(f);
	buf[len] = 0;
	return true;
}

/* Does fdinfo of @fd contain the line @line (without its newline)? */
static inline bool h_fdinfo_has_line(int fd, const char *line)
{
	static char buf[65536];
	size_t n = strlen(line);
	const char *p;

	if (!h_fdinfo(fd, buf, sizeof(buf)))
		return false;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || p[n] == 0))
			return true;
	return false;
}

/* Does fdinfo of @fd contain @s anywhere? */
static inline bool h_fdinfo_contains(int fd, const char *s)
{
	static char buf[65536];

	return h_fdinfo(fd, buf, sizeof(buf)) && strstr(buf, s);
}

/* Count fdinfo lines that start with @prefix. */
static inline int h_fdinfo_count(int fd, const char *prefix)
{
	static char buf[65536];
	size_t n = strlen(prefix);
	const char *p;
	int count = 0;

	if (!h_fdinfo(fd, buf, sizeof(buf)))
		return -1;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			count++;
	return count;
}

static inline void h_fdinfo_dump(int fd)
{
	static char buf[65536];
	char *line, *save = NULL;

	if (!h_fdinfo(fd, buf, sizeof(buf)))
		return;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		h_note("fdinfo: %s", line);
}

#define EXPECT_FDINFO_LINE(fd, ...) ({					\
	char _l[256];							\
	snprintf(_l, sizeof(_l), __VA_ARGS__);				\
	bool _ok = h_expect(h_fdinfo_has_line(fd, _l), __FILE__,	\
			    __LINE__, "fdinfo has no line \"%s\"", _l);	\
	if (!_ok)							\
		h_fdinfo_dump(fd);					\
	_ok;								\
})

/* ------------------------------------------------------------------------
 * Capabilities and resource limits (no libcap)
 */

/* Drop @cap from the effective, permitted and inheritable sets. */
static inline int h_drop_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	__u32 bit = 1U << (cap % 32);

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[cap / 32].effective &= ~bit;
	data[cap / 32].permitted &= ~bit;
	data[cap / 32].inheritable &= ~bit;
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

/* Is @cap in the effective set? */
static inline bool h_has_cap(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return true;
	return data[cap / 32].effective & (1U << (cap % 32));
}

/* Drop CAP_IPC_LOCK so that memlock charging applies even as root. */
static inline bool h_drop_ipc_lock(void)
{
	return EXPECT_OK(h_drop_cap(CAP_IPC_LOCK)) &&
	       EXPECT(!h_has_cap(CAP_IPC_LOCK));
}

static inline long h_set_memlock(unsigned long bytes)
{
	struct rlimit rl = { .rlim_cur = bytes, .rlim_max = bytes };

	return setrlimit(RLIMIT_MEMLOCK, &rl) ? -errno : 0;
}

/* ------------------------------------------------------------------------
 * Memory
 */

/* Anonymous private memory, faulted in; NULL (and a failure) on error. */
static inline void *h_map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		FAILF("mmap %zu bytes: %s", size, strerror(errno));
		return NULL;
	}
	return p;
}

/*
 * An address range of @size bytes (at most 1 MiB) with nothing mapped.
 * A fixed address far below the mmap area and far above the binary, so
 * that no later mmap() can land there (a range freed with munmap() would
 * be reused by the next mapping, e.g. io_uring's rings).
 */
#define H_HOLE_ADDR	0x100000000000UL	/* 16 TiB */

static inline void *h_hole(size_t size)
{
	size_t off;

	for (off = 0; off < size && off < (1UL << 20); off += H_PAGE) {
		void *p = (void *)(H_HOLE_ADDR + off);

		/* msync() fails with ENOMEM on unmapped memory */
		if (msync(p, H_PAGE, MS_ASYNC) == 0 || errno != ENOMEM) {
			FAILF("%p is mapped; no hole for the test", p);
			return NULL;
		}
	}
	return (void *)H_HOLE_ADDR;
}

/*
 * A read-write page right below the hole of h_hole(), for arrays and
 * buffers that run from mapped memory into unmapped memory. Mapped once,
 * at a fixed address, so that no later mmap() can fill the hole above it.
 */
static inline char *h_edge(void)
{
	static char *edge;
	void *want = (void *)(H_HOLE_ADDR - H_PAGE);

	if (edge)
		return edge;
	if (!h_hole(H_PAGE))
		return NULL;
	edge = mmap(want, H_PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (edge != want) {
		FAILF("mmap at %p: %s", want, strerror(errno));
		edge = NULL;
		return NULL;
	}
	memset(edge, 0x5a, H_PAGE);
	return edge;
}

static inline void h_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

/* Unmap what mmap() returned, unless that was MAP_FAILED. */
static inline void h_munmap(void *p, size_t size)
{
	if (p != MAP_FAILED)
		munmap(p, size);
}

/*
 * A file on a ramfs: page-cache memory that is neither shmem nor hugetlb.
 * In the guest / is the initramfs (tmpfs when the kernel has it) and /tmp
 * is tmpfs, so mount a ramfs (always built in; RAMFS_MAGIC, which is not
 * TMPFS_MAGIC). Returns an fd of a @len-byte file, or -1 with the case
 * marked skipped; h_ramfs_put() cleans up.
 */
#define H_RAMFS_DIR	"/tmp/iopbuf-ramfs"

static inline int h_ramfs_file(size_t len)
{
	struct statfs sf;
	int fd;

	mkdir(H_RAMFS_DIR, 0700);
	if (mount("iopbuf-ramfs", H_RAMFS_DIR, "ramfs", 0, "mode=0700")) {
		h_skip("cannot mount a ramfs on %s: %s", H_RAMFS_DIR,
		       strerror(errno));
		rmdir(H_RAMFS_DIR);
		return -1;
	}
	if (statfs(H_RAMFS_DIR, &sf) || sf.f_type != RAMFS_MAGIC) {
		FAILF("%s is not a ramfs after mounting one", H_RAMFS_DIR);
		goto fail;
	}
	fd = open(H_RAMFS_DIR "/data", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, len)) {
		FAILF("ramfs file: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	return fd;
fail:
	umount2(H_RAMFS_DIR, MNT_DETACH);
	rmdir(H_RAMFS_DIR);
	return -1;
}

static inline void h_ramfs_put(int fd)
{
	if (fd < 0)
		return;
	close(fd);
	umount2(H_RAMFS_DIR, MNT_DETACH);
	rmdir(H_RAMFS_DIR);
}

/* ------------------------------------------------------------------------
 * io_uring: IORING_OP_URING_CMD by hand (liburing 2.3 has no helper)
 */

/* Bytes of sqe->cmd: 16, or 80 with IORING_SETUP_SQE128. */
static inline size_t h_cmd_area(const struct io_uring *ring)
{
	return ring->flags & IORING_SETUP_SQE128 ? 80 : 16;
}

/*
 * Fill a fresh SQE with a uring_cmd: opcode, fd, cmd_op (the off union)
 * and @len payload bytes copied into sqe->cmd; everything else zero.
 */
static inline struct io_uring_sqe *h_prep_cmd(struct io_uring *ring, int fd,
				       __u32 cmd_op, const void *payload,
				       size_t len, __u64 user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	size_t sqe_size = ring->flags & IORING_SETUP_SQE128 ? 128 : 64;

	if (!sqe)
		return NULL;
	memset(sqe, 0, sqe_size);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	sqe->user_data = user_data;
	if (len > h_cmd_area(ring))
		len = h_cmd_area(ring);
	memcpy((unsigned char *)sqe + offsetof(struct io_uring_sqe, cmd),
	       payload, len);
	return sqe;
}

/*
 * Wait for one CQE; returns its res (or -ETIME with a failure recorded),
 * its user_data and, on an IORING_SETUP_CQE32 ring, its first extra word.
 */
static inline int h_wait_cqe2(struct io_uring *ring, __u64 *user_data,
			      __u64 *res2)
{
	struct __kernel_timespec ts = {
		.tv_sec = h_hang_ms() / 1000,
		.tv_nsec = (h_hang_ms() % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;
	int ret, res;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret) {
		FAILF("waiting for a CQE: %s", h_res(ret));
		return -ETIME;
	}
	res = cqe->res;
	if (user_data)
		*user_data = cqe->user_data;
	if (res2)
		*res2 = ring->flags & IORING_SETUP_CQE32 ? cqe->big_cqe[0] : 0;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static inline int h_wait_cqe(struct io_uring *ring, __u64 *user_data)
{
	return h_wait_cqe2(ring, user_data, NULL);
}

/* Submit one uring_cmd and return cqe->res (and res2, see h_wait_cqe2). */
static inline int h_uring_cmd2(struct io_uring *ring, int fd, __u32 cmd_op,
			       const void *payload, size_t len, __u64 *res2)
{
	int ret;

	if (!h_prep_cmd(ring, fd, cmd_op, payload, len, 0x1234)) {
		FAILF("no free SQE");
		return -EBUSY;
	}
	ret = io_uring_submit(ring);
	if (ret != 1) {
		FAILF("io_uring_submit: %s", h_res(ret));
		return ret < 0 ? ret : -EIO;
	}
	return h_wait_cqe2(ring, NULL, res2);
}

static inline int h_uring_cmd(struct io_uring *ring, int fd, __u32 cmd_op,
			      const void *payload, size_t len)
{
	return h_uring_cmd2(ring, fd, cmd_op, payload, len, NULL);
}

/*
 * Set up a ring of @entries SQEs; on failure either SKIP (io_uring
 * unavailable on this kernel: ENOSYS, EPERM from kernel.io_uring_disabled)
 * or FAIL.
 */
static inline bool h_uring_init2(struct io_uring *ring, unsigned int entries,
				 unsigned int flags)
{
	int ret = io_uring_queue_init(entries, ring, flags);

	if (!ret)
		return true;
	if (ret == -ENOSYS || ret == -EPERM)
		h_skip("io_uring unavailable: %s", h_res(ret));
	else
		FAILF("io_uring_queue_init(%u, flags %#x): %s", entries, flags,
		      h_res(ret));
	return false;
}

static inline bool h_uring_init(struct io_uring *ring, unsigned int flags)
{
	return h_uring_init2(ring, 8, flags);
}

#endif /* IOPBUF_TESTS_HARNESS_H */
