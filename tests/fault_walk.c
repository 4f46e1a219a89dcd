// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection of every allocation, the syzkaller way: for each setup
 * and data-path operation, write N to /proc/thread-self/fail-nth, perform
 * the operation, read fail-nth back (0: the Nth allocation was failed), for
 * N = 1, 2, ... until the operation runs without a failure being injected.
 *
 * Every injected failure must end cleanly:
 *  - an error: nothing changed -- the context's IOPBUF_IOC_STATS, the
 *    module-wide counters in sysfs (pinned_pages, charged_pages, inflight,
 *    notifs, contexts), the ring head, the data in the socket or pipe;
 *  - or a success (the failure was tolerated): the same effect as without
 *    injection, and undoing it brings every counter back.
 * After each operation's walk: no memlock charge left (the walk runs
 * without CAP_IPC_LOCK, under an RLIMIT_MEMLOCK it must be able to fill
 * again), no stale pin (hugetlb buffers: every huge page returns to the
 * pool once unmapped). At the end, kmemleak must find nothing.
 *
 * Each walk is done twice: counting every allocation of the task during
 * the operation (syscall, VFS, io_uring, network stack, the module), and
 * counting only those made below module code (the stack-trace filter of
 * fault injection, require-start/-end = the module's text). The report
 * line "# failure points: ..." gives both per operation.
 *
 * Needs a kernel with CONFIG_FAULT_INJECTION (+FAILSLAB, FAIL_PAGE_ALLOC,
 * FAULT_INJECTION_DEBUG_FS): the debug kernel of scripts/debug-kernel.sh.
 * Elsewhere it SKIPs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "util.h"

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DEBUGFS		"/sys/kernel/debug"
#define KMEMLEAK	DEBUGFS "/kmemleak"
#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define HUGE_SZ		(2UL << 20)

/* No operation has this many allocations; a walk that gets here loops. */
#define MAX_POINTS	3000
/* The memlock limit of the walks, in pages: a 2 MiB huge page and change. */
#define MEMLOCK_PAGES	1024UL
/* Bytes moved by the data-path operations. */
#define DATA_LEN	1000
/* Entry size of the walks' rings. */
#define ENTRY_LEN	4096

static int nth_fd = -1;
static bool module_only;	/* the walk counts module-reached points only */
static bool have_hugetlb;
static long huge_free0;
static long saved_nr_hugepages = -1;

/* ------------------------------------------------------------------------
 * fail-nth and the fault-injection settings
 */

static void nth_set(unsigned int n)
{
	char b[16];
	int l = snprintf(b, sizeof(b), "%u", n);

	if (pwrite(nth_fd, b, l, 0) != l) {
		printf("# fail-nth write: %s\n", strerror(errno));
		abort();
	}
}

static unsigned int nth_get(void)
{
	char b[16] = "";

	if (pread(nth_fd, b, sizeof(b) - 1, 0) <= 0) {
		printf("# fail-nth read: %s\n", strerror(errno));
		abort();
	}
	return (unsigned int)strtoul(b, NULL, 10);
}

static bool write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s);
}

static long read_long(const char *path)
{
	char b[64] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	return n > 0 ? strtol(b, NULL, 10) : -1;
}

/*
 * As the guest init does, and syzkaller: fail sleeping allocations and
 * order-0 pages too, and print nothing when failing one.
 */
static bool setup_fault_attrs(void)
{
	static const char *const dirs[] = {
		DEBUGFS "/failslab", DEBUGFS "/fail_page_alloc",
	};
	char p[128];
	unsigned int i;

	if (access(DEBUGFS "/failslab", F_OK))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (i = 0; i < H_ARRAY_SIZE(dirs); i++) {
		snprintf(p, sizeof(p), "%s/ignore-gfp-wait", dirs[i]);
		if (!write_str(p, "N"))
			return false;
		snprintf(p, sizeof(p), "%s/verbose", dirs[i]);
		write_str(p, "0");
		snprintf(p, sizeof(p), "%s/stacktrace-depth", dirs[i]);
		write_str(p, "64");
	}
	write_str(DEBUGFS "/fail_page_alloc/ignore-gfp-highmem", "N");
	write_str(DEBUGFS "/fail_page_alloc/min-order", "0");
	return true;
}

/* The text of module iouring_pbuf, from /proc/kallsyms. */
static bool module_text(unsigned long *start, unsigned long *end)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], type, name[256], mod[64];
	unsigned long a, lo = ~0UL, hi = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %255s [%63[^]]]", &a, &type, name, mod) != 4)
			continue;
		if (strcmp(mod, "iouring_pbuf") || (type != 't' && type != 'T'))
			continue;
		if (a < lo)
			lo = a;
		if (a > hi)
			hi = a;
	}
	fclose(f);
	if (!hi || lo == ~0UL)
		return false;
	*start = lo;
	/* the last function's size is not listed: no function is 64 KiB */
	*end = hi + 65536;
	return true;
}

/* Restrict fail-nth to allocations made below module code, or not. */
static bool set_module_filter(bool on)
{
	static const char *const dirs[] = {
		DEBUGFS "/failslab", DEBUGFS "/fail_page_alloc",
	};
	unsigned long start = 0, end = ~0UL;
	char p[128], v[32];
	unsigned int i;

	if (on && !module_text(&start, &end))
		return false;
	for (i = 0; i < H_ARRAY_SIZE(dirs); i++) {
		/* end first: start must stay below it */
		snprintf(p, sizeof(p), "%s/require-end", dirs[i]);
		snprintf(v, sizeof(v), "%lu", end);
		if (!write_str(p, v))
			return false;
		snprintf(p, sizeof(p), "%s/require-start", dirs[i]);
		snprintf(v, sizeof(v), "%lu", start);
		if (!write_str(p, v))
			return false;
	}
	module_only = on;
	return true;
}

/* ------------------------------------------------------------------------
 * Counters
 */

static const char *const gnames[] = {
	"pinned_pages", "charged_pages", "inflight", "notifs", "contexts",
};

struct snap {
	long g[5];
	bool have_ctx;
	struct iopbuf_stats st;
};

static void snap_take(struct snap *s, int dev)
{
	unsigned int i;

	for (i = 0; i < H_ARRAY_SIZE(gnames); i++)
		s->g[i] = h_sysfs_read(gnames[i]);
	s->have_ctx = dev >= 0;
	if (dev >= 0 && h_stats(dev, &s->st))
		s->have_ctx = false;
}

static bool snap_equal(const struct snap *a, const struct snap *b)
{
	unsigned int i;

	for (i = 0; i < H_ARRAY_SIZE(gnames); i++)
		if (a->g[i] != b->g[i])
			return false;
	if (a->have_ctx != b->have_ctx)
		return false;
	return !a->have_ctx ||
	       (a->st.pinned_pages == b->st.pinned_pages &&
		a->st.charged_pages == b->st.charged_pages &&
		a->st.buf_slots == b->st.buf_slots && a->st.bufs == b->st.bufs &&
		a->st.rings == b->st.rings && a->st.inflight == b->st.inflight);
}

static void snap_describe(const struct snap *s, char *buf, size_t size)
{
	int n = snprintf(buf, size, "pinned %ld charged %ld inflight %ld notifs %ld contexts %ld",
			 s->g[0], s->g[1], s->g[2], s->g[3], s->g[4]);

	if (s->have_ctx && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - n,
			 "; ctx pinned %llu charged %llu slots %u bufs %u rings %u inflight %u",
			 (unsigned long long)s->st.pinned_pages,
			 (unsigned long long)s->st.charged_pages, s->st.buf_slots,
			 s->st.bufs, s->st.rings, s->st.inflight);
}

/*
 * Wait (up to 3 s: io_uring and zero-copy notifications finish
 * asynchronously) for the counters to equal @want; record a failure with
 * both states otherwise.
 */
static bool expect_snap(const struct snap *want, int dev, const char *what,
			unsigned int n)
{
	char a[256], b[256];
	struct snap now;
	int ms;

	for (ms = 0;; ms += 10) {
		snap_take(&now, dev);
		if (snap_equal(&now, want) || ms >= T_WAIT_MS)
			break;
		usleep(10000);
	}
	if (snap_equal(&now, want))
		return true;
	snap_describe(want, a, sizeof(a));
	snap_describe(&now, b, sizeof(b));
	FAILF("%s (fail-nth %u%s): counters changed: want {%s}, got {%s}", what, n,
	      module_only ? ", module-only" : "", a, b);
	return false;
}

/* ------------------------------------------------------------------------
 * Memory, sockets, io_uring
 */

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		FAILF("mmap %zu: %s", len, strerror(errno));
		return NULL;
	}
	memset(p, 0x11, len);
	return p;
}

/* A 2 MiB huge page, or anonymous memory when there are none. */
static void *map_huge(bool *huge)
{
	void *p = MAP_FAILED;

	if (have_hugetlb)
		p = mmap(NULL, HUGE_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
			 -1, 0);
	*huge = p != MAP_FAILED;
	if (p == MAP_FAILED)
		return map_anon(HUGE_SZ);
	memset(p, 0x22, HUGE_SZ);
	return p;
}

static void *map_memfd(size_t len)
{
	int fd = memfd_create("fault_walk", MFD_CLOEXEC);
	void *p = MAP_FAILED;

	if (fd >= 0 && !ftruncate(fd, len))
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			 fd, 0);
	h_close(&fd);
	if (p == MAP_FAILED) {
		FAILF("memfd mapping: %s", strerror(errno));
		return NULL;
	}
	memset(p, 0x33, len);
	return p;
}

/* Every huge page back in the pool: no pin left on any. */
static bool expect_no_stale_huge_pin(const char *what)
{
	long f;
	int ms;

	if (!have_hugetlb)
		return true;
	for (ms = 0;; ms += 10) {
		f = t_meminfo("HugePages_Free");
		if (f == huge_free0 || ms >= T_WAIT_MS)
			break;
		usleep(10000);
	}
	return h_expect(f == huge_free0, __FILE__, __LINE__,
			"%s: stale pin: %ld of %ld huge pages still in use after munmap",
			what, huge_free0 - f, huge_free0);
}

static long fionread(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) ? -errno : n;
}

/* Wait until @fd has exactly @want bytes queued (or the hang guard). */
static long fionread_wait(int fd, long want)
{
	long n;
	int ms;

	for (ms = 0;; ms += 5) {
		n = fionread(fd);
		if (n == want || ms >= T_WAIT_MS)
			return n;
		usleep(5000);
	}
}

static void fill_pattern(char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(seed * 31 + i * 7 + (i >> 8));
}

/*
 * The io_uring of a uring_cmd walk: a fresh one per attempt, created
 * before fail-nth is written and destroyed after it is reset, so that only
 * submitting and completing the command count. (A submission that failed
 * to allocate its request leaves the SQE in the SQ ring; a fresh ring
 * forgets it.)
 */
static struct io_uring uring;
static bool uring_up;

static bool uring_create(void)
{
	int ret = io_uring_queue_init(4, &uring, IORING_SETUP_CQE32);

	uring_up = !ret;
	return h_expect(!ret, __FILE__, __LINE__, "io_uring_queue_init: %s",
			h_res(ret));
}

static void uring_destroy(void)
{
	if (uring_up)
		io_uring_queue_exit(&uring);
	uring_up = false;
}

/* One uring_cmd on the walk's io_uring; -ETIME if nothing completes. */
static long uring_cmd_once(int dev, __u32 cmd_op, const void *payload,
			   __u64 *res2)
{
	/* twice the hang guard: an injected failure may take a slow path */
	struct __kernel_timespec ts = { .tv_sec = 2 * T_WAIT_MS / 1000 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	long ret;

	sqe = io_uring_get_sqe(&uring);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = dev;
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, payload, 16);
	ret = io_uring_submit(&uring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = io_uring_wait_cqe_timeout(&uring, &cqe, &ts);
	if (ret)
		return ret;
	ret = cqe->res;
	if (res2)
		*res2 = cqe->big_cqe[0];
	io_uring_cqe_seen(&uring, cqe);
	return ret;
}

/* ------------------------------------------------------------------------
 * The walk
 */

struct walk {
	const char *name;
	/* once before the walk, without faults; false: skip the operation */
	bool (*setup)(void);
	/* the operation: >= 0 on success, -errno on failure */
	long (*op)(unsigned int nth);
	/* after a failed attempt: is everything as before? */
	bool (*same)(unsigned int nth);
	/* after a successful attempt: the effect as expected? */
	bool (*done)(long res, unsigned int nth);
	/* after a successful attempt: back to the state before */
	void (*undo)(void);
	/* once after the walk */
	void (*teardown)(void);
	/* the context whose IOPBUF_IOC_STATS must not change, or -1 */
	int *dev;
	/* a uring_cmd: a fresh io_uring per attempt (uring_create) */
	bool uring;
	/* what same() and done() call the operation in their messages */
	const char *what;
};

/* The walk running. */
static const struct walk *cur_walk;

struct walk_result {
	unsigned int points;	/* injected failures */
	unsigned int errors;	/* of those, the operation failed */
	unsigned int tolerated;	/* of those, it succeeded anyway */
	int errnos[8];
	unsigned int errno_counts[8];
	bool complete;
};

static void count_errno(struct walk_result *r, int e)
{
	unsigned int i;

	for (i = 0; i < H_ARRAY_SIZE(r->errnos); i++) {
		if (r->errnos[i] == e || !r->errnos[i]) {
			r->errnos[i] = e;
			r->errno_counts[i]++;
			return;
		}
	}
}

static void describe_errnos(const struct walk_result *r, char *buf, size_t size)
{
	unsigned int i;
	size_t len = 0;

	buf[0] = 0;
	for (i = 0; i < H_ARRAY_SIZE(r->errnos) && r->errnos[i]; i++)
		len += snprintf(buf + len, len < size ? size - len : 0, "%s%s x%u",
				i ? ", " : "", h_errname(r->errnos[i]),
				r->errno_counts[i]);
}

static int cur_dev(const struct walk *w)
{
	return w->dev ? *w->dev : -1;
}

/* Walk fail-nth from 1 until the operation runs without an injected failure. */
static void walk(const struct walk *w, struct walk_result *r)
{
	struct snap before;
	unsigned int n;

	memset(r, 0, sizeof(*r));
	for (n = 1; n <= MAX_POINTS; n++) {
		unsigned int left;
		long res;

		snap_take(&before, cur_dev(w));
		if (w->uring && !uring_create())
			return;
		nth_set(n);
		res = w->op(n);
		left = nth_get();
		nth_set(0);
		uring_destroy();

		if (left != 0) {
			/* nothing injected: the operation must just work */
			if (res < 0) {
				FAILF("%s: fails without an injected failure (fail-nth %u): %s",
				      w->name, n, h_res(res));
				return;
			}
			if (!w->done(res, n))
				return;
			if (w->undo)
				w->undo();
			expect_snap(&before, cur_dev(w), w->name, n);
			r->complete = true;
			return;
		}
		r->points++;
		if (res < 0) {
			r->errors++;
			count_errno(r, (int)-res);
			if (res == -ETIME) {
				FAILF("%s: no completion within %d ms after failing allocation %u",
				      w->name, 2 * T_WAIT_MS, n);
				return;
			}
			if (!w->same(n) || !expect_snap(&before, cur_dev(w), w->name, n))
				return;
		} else {
			r->tolerated++;
			if (!w->done(res, n))
				return;
			if (w->undo)
				w->undo();
			if (!expect_snap(&before, cur_dev(w), w->name, n))
				return;
		}
		if (h_case_failed())
			return;
	}
	FAILF("%s: still failing allocations at fail-nth %u: endless?", w->name,
	      MAX_POINTS);
}

/* A memlock charge left behind would make this fail with ENOMEM. */
static bool expect_memlock_free(const char *what)
{
	size_t len = MEMLOCK_PAGES * H_PAGE;
	char *p = map_anon(len);
	struct iovec iov = { p, len };
	long r;
	int dev;

	if (!p)
		return false;
	dev = h_open();
	if (dev < 0) {
		munmap(p, len);
		return false;
	}
	r = h_register_iov(dev, &iov, 1);
	close(dev);
	munmap(p, len);
	return h_expect(!r, __FILE__, __LINE__,
			"%s: registering the whole RLIMIT_MEMLOCK (%lu pages) fails "
			"afterwards: %s (a charge was not returned)",
			what, MEMLOCK_PAGES, h_res(r));
}

#define NR_WALKS	32
static struct {
	const char *name;
	unsigned int all, module;
	bool have_module;
} report[NR_WALKS];
static unsigned int nr_report;

static void run_walk(const struct walk *w)
{
	struct walk_result all, mod;
	char errs[256];
	unsigned int i;

	if (w->setup && !w->setup()) {
		if (w->teardown)
			w->teardown();
		return;
	}
	walk(w, &all);
	if (!h_case_failed()) {
		describe_errnos(&all, errs, sizeof(errs));
		h_note("%u failure points (all allocations): %u failed cleanly (%s), %u tolerated",
		       all.points, all.errors, errs[0] ? errs : "-", all.tolerated);
	}
	memset(&mod, 0, sizeof(mod));
	if (!h_case_failed() && set_module_filter(true)) {
		walk(w, &mod);
		set_module_filter(false);
		if (!h_case_failed()) {
			describe_errnos(&mod, errs, sizeof(errs));
			h_note("%u failure points below module code: %u failed cleanly (%s), %u tolerated",
			       mod.points, mod.errors, errs[0] ? errs : "-", mod.tolerated);
		}
	}
	if (w->teardown)
		w->teardown();
	expect_no_stale_huge_pin(w->name);
	expect_memlock_free(w->name);
	i = nr_report < NR_WALKS ? nr_report++ : NR_WALKS - 1;
	report[i].name = w->name;
	report[i].all = all.points;
	report[i].module = mod.points;
	report[i].have_module = mod.complete;
}

/* ------------------------------------------------------------------------
 * Shared state of the operations
 */

static int dev = -1;		/* the context */
static int opened = -1;		/* open: the new fd */
static char *abuf, *hbuf, *mbuf;	/* anonymous, huge page, memfd */
static bool hbuf_huge;
static size_t abuf_len = 3 * H_PAGE + 100;
static char *ringmem;		/* user ring memory (2 pages) */
static struct iopbuf_buf *rbufs;	/* the ring of the data-path walks */
static unsigned int rmask;
static __u16 rtail;
static int sk[2] = { -1, -1 };	/* sockets/pipe: [0] ours, [1] the peer */
static int filefd = -1;
static char *data;		/* DATA_LEN bytes sent/received/read */
static char *probebuf;

#define BGID_USER	3
#define BGID_MMAP	4
#define BGID_DATA	5

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static bool open_dev(void)
{
	dev = h_open();
	return dev >= 0;
}

static void close_dev(void)
{
	close_fd(&dev);
}

static bool map_bufs(void)
{
	abuf = map_anon(abuf_len);
	hbuf = map_huge(&hbuf_huge);
	mbuf = map_memfd(2 * H_PAGE);
	return abuf && hbuf && mbuf;
}

static void unmap_bufs(void)
{
	h_unmap(abuf, abuf_len);
	h_unmap(hbuf, HUGE_SZ);
	h_unmap(mbuf, 2 * H_PAGE);
	abuf = hbuf = mbuf = NULL;
}

/* iovecs: anonymous (unaligned), empty slot, huge page, memfd */
static unsigned int fill_iovs(struct iovec *iov)
{
	iov[0] = (struct iovec){ abuf + 100, abuf_len - 100 };
	iov[1] = (struct iovec){ NULL, 0 };
	iov[2] = (struct iovec){ hbuf, HUGE_SZ };
	iov[3] = (struct iovec){ mbuf, 2 * H_PAGE };
	return 4;
}

/* ---- open ---- */

static long op_open(unsigned int nth)
{
	(void)nth;
	opened = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	return opened < 0 ? -errno : 0;
}

static bool same_nothing(unsigned int nth)
{
	(void)nth;
	return true;
}

static bool done_open(long res, unsigned int nth)
{
	(void)res;
	(void)nth;
	return EXPECT(opened >= 0) && EXPECT_STATS(opened, 0, 0, 0, 0, 0);
}

static void undo_open(void)
{
	close_fd(&opened);
}

/* ---- register buffers ---- */

static bool setup_register(void)
{
	return open_dev() && map_bufs();
}

static void teardown_bufs(void)
{
	close_dev();
	unmap_bufs();
}

static long op_register(unsigned int nth)
{
	struct iovec iov[4];
	unsigned int nr = fill_iovs(iov);

	(void)nth;
	return h_register_iov(dev, iov, nr);
}

static bool done_register(long res, unsigned int nth)
{
	struct iopbuf_stats st;

	(void)res;
	(void)nth;
	return EXPECT_OK(h_stats(dev, &st)) && EXPECT_EQ(st.buf_slots, 4) &&
	       EXPECT_EQ(st.bufs, 3) && EXPECT_EQ(st.pinned_pages, 4 + 512 + 2) &&
	       EXPECT_EQ(st.charged_pages, st.pinned_pages);
}

static void undo_register(void)
{
	EXPECT_OK(h_unregister_bufs(dev));
}

/* ---- update buffers: replace slot 1 (occupied), fill slots 2 and 3 ---- */

static bool setup_update(void)
{
	struct iovec iov;

	if (!open_dev() || !map_bufs())
		return false;
	iov = (struct iovec){ abuf, H_PAGE };
	return EXPECT_OK(h_register_sparse(dev, 8)) &&
	       EXPECT_OK(h_update_iov(dev, 1, &iov, 1));
}

static long op_update(unsigned int nth)
{
	struct iovec iov[3] = {
		{ mbuf, 2 * H_PAGE }, { hbuf, HUGE_SZ }, { abuf + 7, 2 * H_PAGE },
	};

	(void)nth;
	return h_update_iov(dev, 1, iov, 3);
}

static bool done_update(long res, unsigned int nth)
{
	struct iopbuf_stats st;

	(void)res;
	(void)nth;
	return EXPECT_OK(h_stats(dev, &st)) && EXPECT_EQ(st.buf_slots, 8) &&
	       EXPECT_EQ(st.bufs, 3) && EXPECT_EQ(st.pinned_pages, 2 + 512 + 3);
}

static void undo_update(void)
{
	struct iovec iov[3] = { { abuf, H_PAGE }, { NULL, 0 }, { NULL, 0 } };

	EXPECT_OK(h_update_iov(dev, 1, iov, 3));
}

/* ---- unregister buffers ---- */

static bool setup_unregister_bufs(void)
{
	struct iovec iov[4];

	return open_dev() && map_bufs() &&
	       EXPECT_OK(h_register_iov(dev, iov, fill_iovs(iov)));
}

static long op_unregister_bufs(unsigned int nth)
{
	(void)nth;
	return h_unregister_bufs(dev);
}

static bool done_unregister_bufs(long res, unsigned int nth)
{
	(void)res;
	(void)nth;
	return EXPECT_STATS(dev, 0, 0, 0, 0, 0);
}

static void undo_unregister_bufs(void)
{
	struct iovec iov[4];

	EXPECT_OK(h_register_iov(dev, iov, fill_iovs(iov)));
}

/* ---- register a ring in user memory (2 pages, 512 entries) ---- */

static bool setup_ring_user(void)
{
	if (!open_dev())
		return false;
	ringmem = map_anon(2 * H_PAGE);
	return ringmem != NULL;
}

static void teardown_ring(void)
{
	close_dev();
	h_unmap(ringmem, 2 * H_PAGE);
	ringmem = NULL;
}

static long op_ring_user(unsigned int nth)
{
	(void)nth;
	return h_register_ring(dev, ringmem, 512, BGID_USER,
			       IOPBUF_RING_REGBUF | IOPBUF_RING_INC, 64);
}

static bool done_ring(long res, unsigned int nth, unsigned int pinned)
{
	(void)res;
	(void)nth;
	return EXPECT_STATS(dev, 0, 0, 1, pinned, pinned);
}

static bool done_ring_user(long res, unsigned int nth)
{
	return done_ring(res, nth, 2);
}

static void undo_ring_user(void)
{
	EXPECT_OK(h_unregister_ring(dev, BGID_USER));
}

/* ---- register a ring in kernel memory (IOPBUF_RING_MMAP) ---- */

static long op_ring_mmap(unsigned int nth)
{
	(void)nth;
	return h_register_ring(dev, NULL, 512, BGID_MMAP, IOPBUF_RING_MMAP, 0);
}

static bool done_ring_mmap(long res, unsigned int nth)
{
	return done_ring(res, nth, 2);
}

static void undo_ring_mmap(void)
{
	EXPECT_OK(h_unregister_ring(dev, BGID_MMAP));
}

/* ---- mmap(2) of an IOPBUF_RING_MMAP ring ---- */

static void *mapped;

static bool setup_mmap(void)
{
	return open_dev() &&
	       EXPECT_OK(h_register_ring(dev, NULL, 512, BGID_MMAP, IOPBUF_RING_MMAP, 0));
}

static long op_mmap(unsigned int nth)
{
	(void)nth;
	mapped = mmap(NULL, 2 * H_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, dev,
		      IOPBUF_OFF_RING(BGID_MMAP));
	return mapped == MAP_FAILED ? -errno : 0;
}

static bool done_mmap(long res, unsigned int nth)
{
	volatile struct iopbuf_buf *b = mapped;

	(void)res;
	/* the ring memory is mapped, both pages, and writable */
	b[1].addr = nth;
	b[511].len = nth;
	return EXPECT_EQ(b[1].addr, nth) && EXPECT_EQ(b[511].len, nth);
}

static void undo_mmap(void)
{
	munmap(mapped, 2 * H_PAGE);
	mapped = NULL;
}

static void teardown_mmap(void)
{
	/* a mapping keeps the file, and so the context, alive */
	if (mapped && mapped != MAP_FAILED)
		munmap(mapped, 2 * H_PAGE);
	mapped = NULL;
	close_dev();
}

/* ---- unregister a ring ---- */

static long op_unregister_ring(unsigned int nth)
{
	(void)nth;
	return h_unregister_ring(dev, BGID_MMAP);
}

static bool done_unregister_ring(long res, unsigned int nth)
{
	(void)res;
	(void)nth;
	return EXPECT_STATS(dev, 0, 0, 0, 0, 0);
}

static void undo_unregister_ring(void)
{
	EXPECT_OK(h_register_ring(dev, NULL, 512, BGID_MMAP, IOPBUF_RING_MMAP, 0));
}

/* ---- close a context holding buffers and rings ---- */

static bool setup_close(void)
{
	struct iovec iov[4];

	if (!map_bufs())
		return false;
	ringmem = map_anon(2 * H_PAGE);
	if (!ringmem)
		return false;
	dev = h_open();
	return dev >= 0 && EXPECT_OK(h_register_iov(dev, iov, fill_iovs(iov))) &&
	       EXPECT_OK(h_register_ring(dev, ringmem, 512, BGID_USER, 0, 0)) &&
	       EXPECT_OK(h_register_ring(dev, NULL, 64, BGID_MMAP, IOPBUF_RING_MMAP, 0));
}

static long op_close(unsigned int nth)
{
	(void)nth;
	return close(dev) ? -errno : 0;
}

static bool done_close(long res, unsigned int nth)
{
	struct h_global g;
	int ms;

	(void)res;
	(void)nth;
	dev = -1;
	for (ms = 0;; ms += 10) {
		h_global_read(&g);
		if (h_global_is_zero(&g) || ms >= T_WAIT_MS)
			break;
		usleep(10000);
	}
	return h_expect(h_global_is_zero(&g), __FILE__, __LINE__,
			"after close: pinned %ld charged %ld contexts %ld inflight %ld",
			g.pinned_pages, g.charged_pages, g.contexts, g.inflight);
}

static void teardown_close(void)
{
	teardown_bufs();
	h_unmap(ringmem, 2 * H_PAGE);
	ringmem = NULL;
}

static void undo_close(void)
{
	struct iovec iov[4];

	dev = h_open();
	if (dev < 0)
		return;
	EXPECT_OK(h_register_iov(dev, iov, fill_iovs(iov)));
	EXPECT_OK(h_register_ring(dev, ringmem, 512, BGID_USER, 0, 0));
	EXPECT_OK(h_register_ring(dev, NULL, 64, BGID_MMAP, IOPBUF_RING_MMAP, 0));
}

/*
 * The contexts counter is global: the walk's snapshot before close has
 * one context more than after, so close compares against its own
 * expectations (done_close) and the undo recreates the same state.
 */

/* ---- IOPBUF_CMD_PROBE through io_uring ---- */

static bool setup_probe(void)
{
	probebuf = map_anon(H_PAGE);
	return open_dev() && probebuf;
}

static long op_probe(unsigned int nth)
{
	struct iopbuf_cmd_probe p = {
		.addr = (uintptr_t)probebuf,
		.len = sizeof(struct iopbuf_probe),
	};

	(void)nth;
	memset(probebuf, 0xee, sizeof(struct iopbuf_probe));
	return uring_cmd_once(dev, IOPBUF_CMD_PROBE, &p, NULL);
}

static bool done_probe(long res, unsigned int nth)
{
	const struct iopbuf_probe *p = (const void *)probebuf;

	(void)nth;
	return EXPECT_EQ(res, sizeof(*p)) && EXPECT_EQ(p->abi_version, IOPBUF_ABI_VERSION);
}

static void teardown_probe(void)
{
	close_dev();
	h_unmap(probebuf, H_PAGE);
	probebuf = NULL;
}

/* ---- the data-path operations: a ring of 8 entries over a buffer ---- */

static bool data_regbuf;	/* ring entries are regbuf encodings */
static __u16 cur_head;

static long ring_head(void)
{
	unsigned int head = 0;
	long r = h_ring_status(dev, BGID_DATA, &head);

	return r ? r : (long)head;
}

/* Add one entry of ENTRY_LEN bytes: buffer slice @i of abuf/the table. */
static void data_ring_add(unsigned int i)
{
	struct iopbuf_buf *b = &rbufs[rtail & rmask];
	__u64 addr = data_regbuf ? iopbuf_regbuf_encode(0, (__u64)i * ENTRY_LEN)
				 : (uintptr_t)(abuf + (size_t)i * ENTRY_LEN);

	b->addr = addr;
	b->len = ENTRY_LEN;
	b->bid = (__u16)i;
	rtail++;
	__atomic_store_n(&rbufs[0].resv, rtail, __ATOMIC_RELEASE);
}

/*
 * A context with one 32 KiB registered buffer (when @regbuf) and ring
 * BGID_DATA of 8 entries over it, all published.
 */
static bool data_setup(bool regbuf)
{
	struct iovec iov;
	unsigned int i;

	data_regbuf = regbuf;
	abuf_len = 8 * ENTRY_LEN;
	abuf = map_anon(abuf_len);
	ringmem = map_anon(H_PAGE);
	data = map_anon(H_PAGE);
	if (!abuf || !ringmem || !data || !open_dev())
		return false;
	fill_pattern(data, DATA_LEN, 1);
	iov = (struct iovec){ abuf, abuf_len };
	if (regbuf && !EXPECT_OK(h_register_iov(dev, &iov, 1)))
		return false;
	if (!EXPECT_OK(h_register_ring(dev, ringmem, 8, BGID_DATA,
				       regbuf ? IOPBUF_RING_REGBUF : 0, 0)))
		return false;
	rbufs = (struct iopbuf_buf *)ringmem;
	rmask = 7;
	rtail = 0;
	for (i = 0; i < 8; i++)
		data_ring_add(i);
	cur_head = 0;
	return true;
}

/* Memory for a lending chain: the second half of the data page. */
static char *probe_area(void)
{
	return data ? data + H_PAGE / 2 : NULL;
}

static void data_teardown(void)
{
	close_fd(&sk[0]);
	close_fd(&sk[1]);
	close_fd(&filefd);
	close_dev();
	h_unmap(abuf, abuf_len);
	h_unmap(ringmem, H_PAGE);
	h_unmap(data, H_PAGE);
	abuf = ringmem = data = NULL;
	abuf_len = 3 * H_PAGE + 100;
}

/* After a successful transfer of one entry: give it back to the ring. */
static void data_ring_readd(void)
{
	long head = ring_head();

	if (!EXPECT(head >= 0))
		return;
	while (cur_head != (__u16)head) {
		data_ring_add(cur_head & rmask);
		cur_head++;
	}
}

static bool expect_head(__u16 want, const char *what, unsigned int nth)
{
	long head = ring_head();

	return h_expect(head == want, __FILE__, __LINE__,
			"%s (fail-nth %u): ring head %ld, want %u", what, nth, head,
			want);
}

/* The received data sits in the entry at @bid. */
static bool expect_data_in(unsigned int bid, long len)
{
	const char *p = abuf + (size_t)bid * ENTRY_LEN;

	return EXPECT_EQ(len, DATA_LEN) && EXPECT(!memcmp(p, data, DATA_LEN));
}

static long data_cmd(__u32 cmd_op, int fd, __u16 flags, __u64 *res2)
{
	union {
		struct iopbuf_cmd_recv r;
		struct iopbuf_cmd_send s;
	} u;

	memset(&u, 0, sizeof(u));
	if (cmd_op == IOPBUF_CMD_SEND) {
		u.s.fd = fd;
		u.s.bgid = BGID_DATA;
		u.s.flags = flags;
	} else {
		u.r.fd = fd;
		u.r.bgid = BGID_DATA;
		u.r.flags = flags;
	}
	return uring_cmd_once(dev, cmd_op, &u, res2);
}

/* ---- recv: TCP over loopback into a regbuf ring, as a bundle ---- */

static bool put_data(int fd)
{
	return EXPECT_EQ(write(fd, data, DATA_LEN), DATA_LEN);
}

static bool setup_recv_tcp(void)
{
	return data_setup(true) && t_tcp_pair(sk) && put_data(sk[1]) &&
	       EXPECT_EQ(fionread_wait(sk[0], DATA_LEN), DATA_LEN);
}

static long op_recv(unsigned int nth)
{
	(void)nth;
	return data_cmd(IOPBUF_CMD_RECV, sk[0], IOPBUF_RECV_BUNDLE, NULL);
}

/*
 * The walk's operation (cur_walk->what: "recv", "read") from sk[0]: a
 * failed one left the ring head and the DATA_LEN bytes queued on sk[0]; a
 * successful one consumed one entry, which holds them, and the queue is
 * empty.
 */
static bool same_sock_data(unsigned int nth)
{
	char failed[32];

	snprintf(failed, sizeof(failed), "%s failed", cur_walk->what);
	return expect_head(cur_head, failed, nth) &&
	       h_expect(fionread(sk[0]) == DATA_LEN, __FILE__, __LINE__,
			"%s (fail-nth %u) but consumed data: %ld bytes left",
			failed, nth, fionread(sk[0]));
}

static bool done_sock_data(long res, unsigned int nth)
{
	return expect_head(cur_head + 1, cur_walk->what, nth) &&
	       expect_data_in(cur_head & rmask, res) && EXPECT_EQ(fionread(sk[0]), 0);
}

static void undo_recv(void)
{
	data_ring_readd();
	if (put_data(sk[1]))
		EXPECT_EQ(fionread_wait(sk[0], DATA_LEN), DATA_LEN);
}

/* ---- recv: unix stream socket into a ring of user addresses ---- */

static bool setup_recv_unix(void)
{
	if (!data_setup(false))
		return false;
	if (!EXPECT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk)))
		return false;
	return put_data(sk[1]);
}

/* ---- read: a pipe into a regbuf ring ---- */

static bool setup_read_pipe(void)
{
	if (!data_setup(true) || !EXPECT(!pipe2(sk, O_CLOEXEC)))
		return false;
	return put_data(sk[1]);
}

static long op_read(unsigned int nth)
{
	(void)nth;
	return data_cmd(IOPBUF_CMD_READ, filefd >= 0 ? filefd : sk[0], 0, NULL);
}

static void undo_read_pipe(void)
{
	data_ring_readd();
	put_data(sk[1]);
}

/* ---- read: a tmpfs file into a ring of user addresses ---- */

/* filefd: a tmpfs file holding the DATA_LEN bytes of data, at position 0 */
static bool data_file(void)
{
	char path[] = "/tmp/fault_walk.XXXXXX";

	filefd = mkostemp(path, O_CLOEXEC);
	if (!EXPECT(filefd >= 0))
		return false;
	unlink(path);
	return put_data(filefd) && EXPECT(lseek(filefd, 0, SEEK_SET) == 0);
}

static bool setup_read_file(void)
{
	return data_setup(false) && data_file();
}

static bool same_read_file(unsigned int nth)
{
	off_t pos = lseek(filefd, 0, SEEK_CUR);

	return expect_head(cur_head, "read failed", nth) &&
	       h_expect(pos == 0, __FILE__, __LINE__,
			"read failed (fail-nth %u) but moved the file position to %lld",
			nth, (long long)pos);
}

static bool done_read_file(long res, unsigned int nth)
{
	return expect_head(cur_head + 1, "read", nth) &&
	       expect_data_in(cur_head & rmask, res) &&
	       EXPECT_EQ(lseek(filefd, 0, SEEK_CUR), DATA_LEN);
}

static void undo_read_file(void)
{
	data_ring_readd();
	EXPECT(lseek(filefd, 0, SEEK_SET) == 0);
}

/* ---- send: TCP over loopback from a regbuf ring (zero copy) ---- */

/* Entries to send: DATA_LEN bytes of the pattern, in every slot. */
static bool setup_send_common(void)
{
	unsigned int i;

	for (i = 0; i < 8; i++) {
		memcpy(abuf + (size_t)i * ENTRY_LEN, data, DATA_LEN);
		rbufs[i].len = DATA_LEN;
	}
	return true;
}

static void send_ring_fix_len(void)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		rbufs[i].len = DATA_LEN;
}

static bool setup_send_tcp(void)
{
	return data_setup(true) && t_tcp_pair(sk) && setup_send_common();
}

static long op_send(unsigned int nth)
{
	(void)nth;
	return data_cmd(IOPBUF_CMD_SEND, sk[0], 0, NULL);
}

static bool same_send(unsigned int nth)
{
	long n = fionread(sk[1]);

	return expect_head(cur_head, "send failed", nth) &&
	       h_expect(n == 0, __FILE__, __LINE__,
			"send failed (fail-nth %u) but %ld bytes arrived", nth, n);
}

static bool done_send(long res, unsigned int nth)
{
	char buf[DATA_LEN];
	long n;

	if (!EXPECT_EQ(res, DATA_LEN) || !expect_head(cur_head + 1, "send", nth))
		return false;
	n = fionread_wait(sk[1], DATA_LEN);
	if (!EXPECT_EQ(n, DATA_LEN))
		return false;
	return EXPECT_EQ(read(sk[1], buf, sizeof(buf)), DATA_LEN) &&
	       EXPECT(!memcmp(buf, data, DATA_LEN));
}

static void undo_send(void)
{
	data_ring_readd();
	send_ring_fix_len();
}

/* ---- send: unix stream socket from a ring of user addresses (copy) ---- */

static bool setup_send_unix(void)
{
	return data_setup(false) &&
	       EXPECT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk)) &&
	       setup_send_common();
}

/* ---- kernel-owned buffer: IOPBUF_IOC_KBUF_ALLOC of 64 KiB ---- */

static __u32 kbuf_id;

static bool setup_kbuf(void)
{
	return open_dev();
}

static long op_kbuf_alloc(unsigned int nth)
{
	struct iopbuf_kbuf kb = { .len = 16 * H_PAGE };

	(void)nth;
	kbuf_id = 0;
	if (ioctl(dev, IOPBUF_IOC_KBUF_ALLOC, &kb))
		return -errno;
	kbuf_id = kb.id;
	return 0;
}

static bool done_kbuf_alloc(long res, unsigned int nth)
{
	(void)res;
	(void)nth;
	return EXPECT(kbuf_id >= 1 && kbuf_id <= IOPBUF_MAX_KBUFS) &&
	       EXPECT_STATS(dev, 0, 0, 0, 16, 16);
}

static void undo_kbuf_alloc(void)
{
	struct iopbuf_kbuf kb = { .id = kbuf_id };

	EXPECT_OK(h_ioctl(dev, IOPBUF_IOC_KBUF_FREE, &kb));
}

/* ---- lending: one chain, SEND zero copy from a registered buffer ---- */

static struct iopbuf_lend *lend;

static long op_lend(unsigned int nth)
{
	struct iopbuf_cmd_lend c = {
		.addr = (uintptr_t)lend,
		.len = sizeof(*lend),
	};

	(void)nth;
	return uring_cmd_once(dev, IOPBUF_CMD_LEND, &c, NULL);
}

static bool setup_lend_send(void)
{
	if (!data_setup(true) || !t_tcp_pair(sk) || !setup_send_common())
		return false;
	lend = (struct iopbuf_lend *)probe_area();
	if (!lend)
		return false;
	iopbuf_lend_init(lend, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_OUT,
			 iopbuf_regbuf_encode(0, 0), DATA_LEN, 0);
	iopbuf_lend_add(lend, IOPBUF_LEND_OP_SEND, sk[0], 0, 0, DATA_LEN);
	return true;
}

static bool same_lend_send(unsigned int nth)
{
	long n = fionread(sk[1]);

	return h_expect(n == 0, __FILE__, __LINE__,
			"lend failed (fail-nth %u) but %ld bytes arrived", nth, n);
}

static bool done_lend_send(long res, unsigned int nth)
{
	char buf[DATA_LEN];

	(void)nth;
	return EXPECT_EQ(res, DATA_LEN) &&
	       EXPECT_EQ(fionread_wait(sk[1], DATA_LEN), DATA_LEN) &&
	       EXPECT_EQ(read(sk[1], buf, sizeof(buf)), DATA_LEN) &&
	       EXPECT(!memcmp(buf, data, DATA_LEN));
}

/* ---- lending: RECV into a kernel buffer, then WRITE it to a pipe ---- */

static int lend_pipe[2] = { -1, -1 };

static bool setup_lend_kbuf(void)
{
	struct iopbuf_kbuf kb = { .len = 4 * H_PAGE };

	if (!data_setup(false) || !t_tcp_pair(sk) || !put_data(sk[1]) ||
	    !EXPECT(!pipe2(lend_pipe, O_CLOEXEC)) ||
	    !EXPECT_OK(h_ioctl(dev, IOPBUF_IOC_KBUF_ALLOC, &kb)))
		return false;
	lend = (struct iopbuf_lend *)probe_area();
	if (!lend || !EXPECT_EQ(fionread_wait(sk[0], DATA_LEN), DATA_LEN))
		return false;
	iopbuf_lend_init(lend, IOPBUF_LEND_SRC_KBUF,
			 IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT, kb.id,
			 4 * H_PAGE, 0);
	iopbuf_lend_add(lend, IOPBUF_LEND_OP_RECV, sk[0], 0, 0, DATA_LEN);
	iopbuf_lend_add(lend, IOPBUF_LEND_OP_WRITE, lend_pipe[1],
			IOPBUF_LEND_POS, 0, 0);
	return true;
}

/*
 * A chain stops at its first failure and keeps what earlier secondaries
 * did: a failure in WRITE leaves the data received and dropped with the
 * buffer's contents. Either nothing was received, or it all was and the
 * pipe got nothing.
 */
static bool same_lend_kbuf(unsigned int nth)
{
	long in = fionread(sk[0]), out = fionread(lend_pipe[0]);

	if (in == 0 && out == 0) {
		/* RECV ran, WRITE failed: put the data back for the next try */
		return put_data(sk[1]) &&
		       EXPECT_EQ(fionread_wait(sk[0], DATA_LEN), DATA_LEN);
	}
	return h_expect(in == DATA_LEN && out == 0, __FILE__, __LINE__,
			"lend failed (fail-nth %u): %ld bytes left in the socket, "
			"%ld in the pipe", nth, in, out);
}

static bool done_lend_kbuf(long res, unsigned int nth)
{
	char buf[DATA_LEN];

	(void)nth;
	return EXPECT_EQ(res, 2 * DATA_LEN) && EXPECT_EQ(fionread(sk[0]), 0) &&
	       EXPECT_EQ(read(lend_pipe[0], buf, sizeof(buf)), DATA_LEN) &&
	       EXPECT(!memcmp(buf, data, DATA_LEN));
}

static void undo_lend_kbuf(void)
{
	if (put_data(sk[1]))
		EXPECT_EQ(fionread_wait(sk[0], DATA_LEN), DATA_LEN);
}

/*
 * ---- lending: the next entry of a REGBUF ring, READ a file into it and
 * SEND that zero copy ----
 */

static bool setup_lend_ring(void)
{
	if (!data_setup(true) || !data_file() || !t_tcp_pair(sk))
		return false;
	lend = (struct iopbuf_lend *)probe_area();
	if (!lend)
		return false;
	iopbuf_lend_init(lend, IOPBUF_LEND_SRC_RING,
			 IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT, 0, 0,
			 BGID_DATA);
	/* len 0: the entry's length, then what the READ moved */
	iopbuf_lend_add(lend, IOPBUF_LEND_OP_READ, filefd, 0, 0, 0);
	iopbuf_lend_add(lend, IOPBUF_LEND_OP_SEND, sk[0], 0, 0, 0);
	return true;
}

/*
 * Nothing was sent. A ring entry taken before the failure stays consumed
 * (docs/design.md, known limits): give it back for the next attempt.
 */
static bool same_lend_ring(unsigned int nth)
{
	long head = ring_head(), n = fionread(sk[1]);

	if (!h_expect(head == cur_head || head == (__u16)(cur_head + 1),
		      __FILE__, __LINE__,
		      "lend failed (fail-nth %u): ring head %ld, want %u or %u",
		      nth, head, cur_head, (__u16)(cur_head + 1)) ||
	    !h_expect(n == 0, __FILE__, __LINE__,
		      "lend failed (fail-nth %u) but %ld bytes arrived", nth, n))
		return false;
	data_ring_readd();
	return true;
}

static bool done_lend_ring(long res, unsigned int nth)
{
	char buf[DATA_LEN];

	return EXPECT_EQ(res, 2 * DATA_LEN) &&
	       expect_head(cur_head + 1, "lend", nth) &&
	       expect_data_in(cur_head & rmask, DATA_LEN) &&
	       EXPECT_EQ(fionread_wait(sk[1], DATA_LEN), DATA_LEN) &&
	       EXPECT_EQ(read(sk[1], buf, sizeof(buf)), DATA_LEN) &&
	       EXPECT(!memcmp(buf, data, DATA_LEN));
}

static void undo_lend_ring(void)
{
	data_ring_readd();
}

static void teardown_lend(void)
{
	close_fd(&lend_pipe[0]);
	close_fd(&lend_pipe[1]);
	data_teardown();
	lend = NULL;
}

/* ------------------------------------------------------------------------
 * Cases
 */

#define SETUP(x)	.setup = setup_##x
/* op_x, done_x and undo_x; a failed attempt must have changed nothing */
#define STEPS(x)	.op = op_##x, .same = same_nothing, .done = done_##x, \
			.undo = undo_##x
static const struct walk walks[] = {
	{ .name = "open", STEPS(open) },
	{ .name = "register_buffers", SETUP(register), STEPS(register),
	  .teardown = teardown_bufs, .dev = &dev },
	{ .name = "update_buffers", SETUP(update), STEPS(update),
	  .teardown = teardown_bufs, .dev = &dev },
	{ .name = "unregister_buffers", SETUP(unregister_bufs),
	  STEPS(unregister_bufs), .teardown = teardown_bufs, .dev = &dev },
	{ .name = "register_ring_user", SETUP(ring_user), STEPS(ring_user),
	  .teardown = teardown_ring, .dev = &dev },
	{ .name = "register_ring_mmap", SETUP(ring_user), STEPS(ring_mmap),
	  .teardown = teardown_ring, .dev = &dev },
	{ .name = "mmap_ring", SETUP(mmap), STEPS(mmap),
	  .teardown = teardown_mmap, .dev = &dev },
	{ .name = "unregister_ring", SETUP(mmap), STEPS(unregister_ring),
	  .teardown = teardown_mmap, .dev = &dev },
	{ .name = "close_context", SETUP(close), STEPS(close),
	  .teardown = teardown_close },
	{ .name = "probe_cmd", SETUP(probe), .op = op_probe,
	  .same = same_nothing, .done = done_probe, .teardown = teardown_probe,
	  .dev = &dev, .uring = true },
	{ .name = "recv_tcp_regbuf_bundle", SETUP(recv_tcp), .op = op_recv,
	  .same = same_sock_data, .done = done_sock_data, .undo = undo_recv,
	  .teardown = data_teardown, .dev = &dev, .uring = true, .what = "recv" },
	{ .name = "recv_unix", SETUP(recv_unix), .op = op_recv,
	  .same = same_sock_data, .done = done_sock_data, .undo = undo_recv,
	  .teardown = data_teardown, .dev = &dev, .uring = true, .what = "recv" },
	{ .name = "read_pipe_regbuf", SETUP(read_pipe), .op = op_read,
	  .same = same_sock_data, .done = done_sock_data,
	  .undo = undo_read_pipe, .teardown = data_teardown, .dev = &dev,
	  .uring = true, .what = "read" },
	{ .name = "read_file", SETUP(read_file), .op = op_read,
	  .same = same_read_file, .done = done_read_file,
	  .undo = undo_read_file, .teardown = data_teardown, .dev = &dev,
	  .uring = true },
	{ .name = "send_tcp_zc", SETUP(send_tcp), .op = op_send,
	  .same = same_send, .done = done_send, .undo = undo_send,
	  .teardown = data_teardown, .dev = &dev, .uring = true },
	{ .name = "send_unix", SETUP(send_unix), .op = op_send,
	  .same = same_send, .done = done_send, .undo = undo_send,
	  .teardown = data_teardown, .dev = &dev, .uring = true },
	{ .name = "kbuf_alloc", SETUP(kbuf), .op = op_kbuf_alloc,
	  .same = same_nothing, .done = done_kbuf_alloc, .undo = undo_kbuf_alloc,
	  .teardown = close_dev, .dev = &dev },
	{ .name = "lend_send_zc_regbuf", SETUP(lend_send), .op = op_lend,
	  .same = same_lend_send, .done = done_lend_send, .undo = NULL,
	  .teardown = teardown_lend, .dev = &dev, .uring = true },
	{ .name = "lend_recv_write_kbuf", SETUP(lend_kbuf), .op = op_lend,
	  .same = same_lend_kbuf, .done = done_lend_kbuf,
	  .undo = undo_lend_kbuf, .teardown = teardown_lend, .dev = &dev,
	  .uring = true },
	{ .name = "lend_ring_read_send_zc", SETUP(lend_ring), .op = op_lend,
	  .same = same_lend_ring, .done = done_lend_ring,
	  .undo = undo_lend_ring, .teardown = teardown_lend, .dev = &dev,
	  .uring = true },
};

static void case_walk(void)
{
	run_walk(cur_walk);
	if (h_case_failed()) {
		/* leave a clean slate for the next walk */
		nth_set(0);
		set_module_filter(false);
		close_fd(&opened);
		if (mapped && mapped != MAP_FAILED)
			munmap(mapped, 2 * H_PAGE);
		mapped = NULL;
	}
}

/* kmemleak: nothing unreferenced after all the walks. */
static void case_kmemleak(void)
{
	static char buf[8192];
	ssize_t n;
	int fd;

	if (access(KMEMLEAK, W_OK)) {
		h_skip("no %s (kernel without CONFIG_DEBUG_KMEMLEAK)", KMEMLEAK);
		return;
	}
	/* kmemleak reports only objects older than 5 s */
	sleep(6);
	if (!EXPECT(write_str(KMEMLEAK, "scan")) || !EXPECT(write_str(KMEMLEAK, "scan")))
		return;
	fd = open(KMEMLEAK, O_RDONLY | O_CLOEXEC);
	if (!EXPECT(fd >= 0))
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		char *line, *save = NULL;

		buf[n] = 0;
		FAILF("kmemleak reports unreferenced objects after the walks");
		for (line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			printf("# kmemleak: %s\n", line);
		/* reported here: the guest's own check need not repeat it */
		write_str(KMEMLEAK, "clear");
	}
}

static void setup_hugetlb(void)
{
	long total;

	saved_nr_hugepages = read_long(NR_HUGEPAGES);
	if (saved_nr_hugepages < 0)
		return;
	if (saved_nr_hugepages < 4) {
		char v[16];

		snprintf(v, sizeof(v), "%d", 4);
		write_str(NR_HUGEPAGES, v);
	}
	total = read_long(NR_HUGEPAGES);
	huge_free0 = t_meminfo("HugePages_Free");
	have_hugetlb = total >= 1 && huge_free0 >= 1;
	if (!have_hugetlb)
		printf("# no huge pages available: stale-pin checks on anonymous memory only\n");
}

static void restore_hugetlb(void)
{
	char v[32];

	if (saved_nr_hugepages < 0)
		return;
	snprintf(v, sizeof(v), "%ld", saved_nr_hugepages);
	write_str(NR_HUGEPAGES, v);
}

int main(void)
{
	static char name[64];
	unsigned int i;
	size_t len = 0;
	char line[2048];

	h_init("fault_walk");
	signal(SIGPIPE, SIG_IGN);
	if (access("/proc/self/fail-nth", F_OK)) {
		printf("SKIP: fault_walk: this kernel has no fault injection "
		       "(/proc/self/fail-nth missing: CONFIG_FAULT_INJECTION is off in "
		       "Debian's kernels); it runs on the debug kernel (make debug-test)\n");
		return 0;
	}
	nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	if (nth_fd < 0 || !setup_fault_attrs()) {
		printf("FAIL: fault_walk: setup: %s or %s/failslab not writable: %s\n",
		       FAIL_NTH, DEBUGFS, strerror(errno));
		return 1;
	}
	setup_hugetlb();
	/* charge to RLIMIT_MEMLOCK, as an unprivileged application is */
	if (h_drop_cap(CAP_IPC_LOCK) || h_set_memlock(MEMLOCK_PAGES * H_PAGE)) {
		printf("FAIL: fault_walk: cannot drop CAP_IPC_LOCK / set RLIMIT_MEMLOCK\n");
		return 1;
	}

	for (i = 0; i < H_ARRAY_SIZE(walks); i++) {
		cur_walk = &walks[i];
		snprintf(name, sizeof(name), "walk_%s", walks[i].name);
		h_run(name, case_walk);
	}
	RUN(case_kmemleak);
	restore_hugetlb();

	for (i = 0; i < nr_report; i++)
		len += snprintf(line + len, len < sizeof(line) ? sizeof(line) - len : 0,
				"%s%s %u/%u", i ? ", " : "", report[i].name,
				report[i].all, report[i].module);
	printf("# failure points (all allocations / below module code): %s\n", line);
	h_run("counters_zero", h_case_counters_zero);
	return h_exit();
}
