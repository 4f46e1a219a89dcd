// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: random sequences of every /dev/iouring-pbuf operation with random
 * and malformed arguments, in racing threads and processes that get killed.
 *
 *   fuzz [--seconds N] [--seed N] [--workers N] [--threads N]
 *   (or FUZZ_SECONDS (60), FUZZ_SEED, FUZZ_WORKERS (2), FUZZ_THREADS (3))
 *
 * A supervisor forks worker processes (FUZZ_WORKERS at a time, each with a
 * seed derived from the run's seed, living 3-12 s) and SIGKILLs some of
 * them at a random moment: whatever they had registered or in flight must
 * be torn down by the kernel. A worker runs:
 *  - FUZZ_THREADS operation threads, each with its own io_urings (CQE32,
 *    SQE128, plain -- buffer commands must fail there), picking operations
 *    at random: open/close/dup/dup2 of contexts; every ioctl with nr,
 *    offsets, indexes, entry counts, lengths and bgids at and beyond each
 *    limit, unknown flags, non-zero reserved fields and bad pointers
 *    (NULL, kernel addresses, structures running into a guard page);
 *    kernel-owned buffers (KBUF_ALLOC/FREE); mmap/mremap of kernel rings;
 *    fdinfo reads; uring_cmd PROBE/RECV/READ/SEND/LEND (lending chains of
 *    random secondaries) and unknown commands, on every kind of fd
 *    (TCP/UDP/unix stream and datagram sockets, pipes, FIFOs and ptys --
 *    opened blocking or not, written by chains while nobody drains them
 *    --, a regular file, a directory, eventfd, epoll, /dev/null, /proc
 *    files, the device opened read-only, closed and absurd fd numbers);
 *    IOSQE_ASYNC and linked submissions; cancelation; fork()ed children
 *    that inherit the contexts, submit and die; fork()ed children that put
 *    waiting RECVs, READs, lending chains and SENDs in flight and execve()
 *    the fuzzer again (which exits at once or runs a short worker); a
 *    "long buffer" (one small memfd mapped back to back 1000..16000 times:
 *    up to 262144 page segments) registered and used by lending chains of
 *    big lengths and by SEND/RECV bundles of a REGBUF ring into it; and,
 *    on kernels with fault injection, a failed allocation (fail-nth) in
 *    about 4% of the operations;
 *  - a userfaultfd handler for two regions (buffers and rings may lie
 *    there) registered in missing mode in epochs of 0.2..1.5 s: it fills
 *    a fault at once, late, or only when the epoch ends (closing the
 *    userfaultfd lets every waiter through), so pins and copies meet
 *    faults that wait, and nothing waits longer than an epoch;
 *  - a scribbler thread that writes garbage into ring memory (entries and
 *    tails) and into the buffers while the kernel reads them, and unmaps
 *    and remaps kernel rings under everyone;
 *  - a peer thread that feeds and drains the other ends of the sockets and
 *    pipes, shuts them down, closes them and swaps in new ones (dup2 over
 *    the same numbers) under in-flight commands.
 * Registration and unregistration on one thread race with sends, receives
 * and lending chains in flight from another: all threads share the
 * contexts. A quarter of the workers drop CAP_IPC_LOCK (RLIMIT_MEMLOCK
 * 1 MiB), a quarter become uid/gid 65534 with a small RLIMIT_MEMLOCK (0 to
 * 8 MiB; their userfaultfd is UFFD_USER_MODE_ONLY unless
 * vm.unprivileged_userfaultfd is 1), and a quarter execve() themselves at
 * a random moment, every thread mid-operation.
 * A watchdog in each worker reports a thread blocked in the kernel (not in
 * a userfaultfd wait) for 5 s in a data-path submission or 15 s in a setup
 * ioctl, with what it submitted and its kernel stack: the module must never
 * block the submitting thread. An execve() that does not get through in
 * 4 s with commands in flight is a failure too.
 *
 * First, unless --no-regressions, the cases earlier runs found are replayed
 * deterministically (regress_*: a crash there is a known bug still there).
 *
 * Reproducible: the seed is printed; FUZZ_SEED=N replays the same sequence
 * of workers and, per thread, of operations and arguments (what each
 * operation meets depends on how the threads interleave).
 *
 * Checks: completions are well formed (res2's reserved bits, F_BUFFER
 * consistency, lending progress fields), IOPBUF_IOC_STATS is consistent,
 * no worker dies of anything but our SIGKILL, every kind of operation ran,
 * and once every worker is gone every module counter
 * (/sys/class/misc/iouring-pbuf/{pinned_pages,charged_pages,inflight,
 * notifs,contexts}) returns to zero. The kernel itself is judged by the
 * guest (KASAN, lockdep, kmemleak, rmmod). Output follows the tests'
 * protocol (PASS:/FAIL:/SKIP: lines, '#' notes) with the operation rate;
 * exit status 0 when every check passed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <liburing.h>
#include <linux/iouring_pbuf.h>

#define SYSFS_DIR	"/sys/class/misc/iouring-pbuf"
#define PAGE		4096UL
#define HUGE_SZ		(2UL << 20)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------
 * Random numbers: one xorshift64* state per thread, derived from the seed.
 */

static __thread uint64_t rng;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x ?: 1;	/* xorshift never leaves 0 */
}

static uint64_t rnd64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)(rnd64() % n) : 0;
}

static bool one_in(uint32_t n)
{
	return rnd(n) == 0;
}

static uint64_t pick_u64(const uint64_t *v, size_t n)
{
	return v[rnd((uint32_t)n)];
}

/* A "boundary-ish" 32-bit value: limits, limits +- 1, or random. */
static uint32_t wild32(void)
{
	static const uint64_t v[] = {
		0, 1, 2, 3, 7, 8, 15, 16, 63, 64, 255, 256, 4095, 4096, 4097,
		32767, 32768, 32769, 65535, 65536, 65537, (1 << 20) - 1, 1 << 20,
		(1 << 20) + 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	};

	return one_in(4) ? (uint32_t)rnd64() : (uint32_t)pick_u64(v, ARRAY_SIZE(v));
}

static uint64_t wild64(void)
{
	static const uint64_t v[] = {
		0, 1, 4095, 4096, 1ULL << 32, (1ULL << 40) - 1, 1ULL << 40,
		(1ULL << 44) - 1, 1ULL << 44, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, 0xffffffffffff0000ULL, ~0ULL,
		0xffff888000000000ULL, 0xffffffff81000000ULL,
	};

	return one_in(3) ? rnd64() : pick_u64(v, ARRAY_SIZE(v));
}

/* ------------------------------------------------------------------------
 * Shared with the supervisor (MAP_SHARED): statistics and failures.
 */

enum op_kind {
	OP_OPEN, OP_CLOSE_CTX, OP_DUP_CTX, OP_PROBE, OP_STATS, OP_REG_BUFS,
	OP_REG_SPARSE, OP_UPDATE_BUFS, OP_UNREG_BUFS, OP_REG_RING,
	OP_UNREG_RING, OP_RING_STATUS, OP_CANCEL, OP_BAD_IOCTL, OP_MMAP,
	OP_MUNMAP, OP_FDINFO, OP_PROVIDE, OP_CMD_PROBE, OP_CMD_RECV,
	OP_CMD_READ, OP_CMD_SEND, OP_CMD_BAD, OP_REAP, OP_NEW_URING,
	OP_CLOSE_URING, OP_FORK, OP_FAULT, OP_SOCK_SWAP, OP_PEER_IO,
	OP_SCRIBBLE, OP_REMAP, OP_SETUP_GOOD, OP_KBUF_ALLOC, OP_KBUF_FREE,
	OP_CMD_LEND, OP_EXEC, OP_LONG_SETUP,
	/* not operations of their own: events counted for the summary */
	OP_WORKER_EXEC, OP_EXEC_WORKER, OP_UNPRIV, OP_UFFD_FAULT, OP_UFFD_LATE,
	OP_UFFD_NEVER, OP_UFFD_EPOCH, OP_LONG_LEND,
	NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"open", "close_ctx", "dup_ctx", "probe", "stats", "register_buffers",
	"register_sparse", "update_buffers", "unregister_buffers",
	"register_ring", "unregister_ring", "ring_status", "cancel",
	"bad_ioctl", "mmap", "munmap", "fdinfo", "provide", "cmd_probe",
	"cmd_recv", "cmd_read", "cmd_send", "cmd_bad", "reap", "new_uring",
	"close_uring", "fork", "fault_inject", "sock_swap", "peer_io",
	"scribble", "remap", "setup_good", "kbuf_alloc", "kbuf_free",
	"cmd_lend", "exec", "long_setup",
	"worker_exec", "exec_worker", "unprivileged", "uffd_fault", "uffd_late",
	"uffd_never", "uffd_epoch", "long_lend",
};

/* Counters that are not operations on the module (left out of the rate). */
static bool is_meta(unsigned int k)
{
	return k == OP_SCRIBBLE || k == OP_PEER_IO || k == OP_REMAP ||
	       k == OP_SOCK_SWAP || k == OP_PROVIDE || k == OP_REAP ||
	       k == OP_FAULT || k >= OP_WORKER_EXEC;
}

struct shared {
	atomic_ullong ops[NR_OPS];
	atomic_ullong completions;
	atomic_ullong cqe_errors;
	atomic_ullong cqe_buffers;	/* completions that consumed buffers */
	atomic_ullong cqe_errno[160];	/* completions by -res */
	atomic_ullong bytes;		/* moved by successful buffer commands */
	atomic_uint failures;
	char first_failure[512];
	/* exec'd images check in here: [pid & 255] = pid */
	atomic_int exec_arrived[256];
	atomic_uint uffd_unavail;	/* workers where userfaultfd() failed */
	atomic_uint uffd_user_only;	/* workers with UFFD_USER_MODE_ONLY */
	atomic_uint pty_unavail;	/* posix_openpt() failures */
	atomic_uint long_maps_max;	/* mappings of the longest long buffer */
	atomic_uint long_pages_max;	/* its pages */
	atomic_uint stuck;		/* threads found blocked in the kernel */
	atomic_uint long_registered;	/* long buffers registered */
	atomic_uint long_reg_ms_max;	/* the slowest long registration */
	atomic_uint long_reg_errno[8];	/* failures: ENOMEM, E2BIG, EFAULT, EINTR, other */
};

static struct shared *sh;

static void __attribute__((format(printf, 1, 2))) fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	unsigned int nth = atomic_fetch_add(&sh->failures, 1);
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (nth == 0)
		memcpy(sh->first_failure, msg, sizeof(msg));
	if (nth < 20)	/* every one, not only the first (unbuffered: workers exec) */
		dprintf(STDOUT_FILENO, "# fuzz: violation %u (pid %d): %s\n", nth + 1, getpid(), msg);
}

static void count(enum op_kind k)
{
	atomic_fetch_add_explicit(&sh->ops[k], 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * A worker's objects. Shared by its threads without locks on purpose: one
 * thread may close what another is using. The fuzzer's own memory stays
 * safe from itself and from the kernel writing where garbage entries point:
 *  - memory regions are never unmapped while the worker lives, and each is
 *    followed by a PROT_NONE guard page, so a buffer "running off the end"
 *    faults there instead of reaching the next mapping;
 *  - kernel rings are mapped into fixed, reserved address ranges (map
 *    slots) that are always mapped, PROT_NONE when "unmapped", so a stale
 *    pointer never reaches memory reused for something else;
 *  - rings are written through a consistent snapshot (base, span) taken
 *    under the ring slot's mutex, within that span, under a SIGSEGV guard.
 */

#define NCTX		4
#define NREGION		16
#define NRING		8
#define NPAIR		8
#define NMAP		4
#define MAP_SLOT_PAGES	128	/* the largest ring: 32768 entries */
#define NFDS		48
#define RING_ENTRIES	64	/* entries of the rings fuzz provides into */

enum region_kind { R_ANON, R_MEMFD, R_HUGE, R_RAMFS, R_RDONLY, R_NONE, R_SHM, R_UFFD };

struct region {
	char *p;
	size_t len;
	enum region_kind kind;
};

/* What this worker believes is registered; may be stale. */
struct ring_slot {
	pthread_mutex_t lock;	/* for a consistent snapshot of the rest */
	uint16_t bgid;
	struct iopbuf_buf *bufs;	/* user memory or a map slot, or NULL */
	size_t span;		/* bytes writable from bufs */
	unsigned int entries;
	bool regbuf;
	bool mmap;		/* a kernel ring: bufs set when mapped */
	uint16_t tail;
	int ctx;		/* index in W.ctx of the context it was registered on */
	bool good;		/* set up by do_setup_good(): valid entries */
};

struct map_slot {
	pthread_mutex_t lock;
	char *base;		/* MAP_SLOT_PAGES reserved pages */
	size_t len;		/* of the ring mapped there, 0: PROT_NONE */
	uint16_t bgid;
};

enum pair_kind {
	P_TCP, P_UDP, P_UNIX_STREAM, P_UNIX_DGRAM, P_PIPE, P_FIFO, P_PTY,
	NR_PAIR_KINDS
};

static const char *const pair_names[NR_PAIR_KINDS] = {
	"tcp", "udp", "unix-stream", "unix-dgram", "pipe", "fifo", "pty",
};

#define WR_IS_A		(-2)	/* pair.wr: the module writes into a itself */

/*
 * a: the module's side (it reads, receives, sends there), b: the peer's
 * (non-blocking; the peer thread feeds and drains it), wr: where lending
 * chains WRITE (-1: b; WR_IS_A: a), a separate open file description of a
 * pipe or FIFO write end, blocking or not, that nobody but the module's
 * READs drains, or a pty's slave (raw mode, blocking or not) whose master
 * the peer drains only when @drain is set.
 */
struct pair {
	atomic_int a, b, wr;
	enum pair_kind kind;
	bool drain;
	bool a_blocking;	/* for reports: a without O_NONBLOCK */
	bool wr_blocking;
	bool pty_master_a;	/* a pty pair whose a is the master */
};

static bool is_sock(enum pair_kind k)
{
	return k <= P_UNIX_DGRAM;
}

static struct {
	atomic_int ctx[NCTX];
	struct region reg[NREGION];
	unsigned int nreg;
	struct ring_slot ring[NRING];
	struct map_slot map[NMAP];
	struct pair pair[NPAIR];
	int misc[16];		/* other fds: files, eventfd, dirs, ... */
	unsigned int nmisc;
	char *edge;		/* a page followed by a guard page */
	atomic_bool stop;
	bool have_fail_nth;
	char ramfs_dir[64];
	char tmpdir[64];	/* for FIFOs */
	unsigned int nfifo;
	bool unpriv;		/* uid/gid 65534, no capabilities */
	bool exec_image;	/* a worker started by execve() */
	int devnull;
	/* userfaultfd: R_UFFD regions registered while an epoch is open */
	struct {
		int fd;
		bool user_only;
		unsigned int nr;
		struct region *r[2];
	} uffd;
	/* one small memfd mapped back to back many times (registered slot LONG_IDX) */
	struct {
		char *p;
		size_t len;
		unsigned int maps, chunk_pages;
	} lng;
} W;

#define LONG_IDX	8	/* registered-buffer slot of the long buffer */

/* bgids the operations use: mostly a few, so that they meet */
static uint16_t pick_bgid(void)
{
	static const uint16_t odd[] = { 0, 65535, 32768, 255, 256 };

	if (one_in(10))
		return odd[rnd(ARRAY_SIZE(odd))];
	return (uint16_t)rnd(NRING);
}

static int pick_ctx_fd(void)
{
	int fd = atomic_load(&W.ctx[rnd(NCTX)]);

	if (one_in(50))
		return one_in(2) ? -1 : 100000;
	return fd;
}

/* Any fd: a context, a socket of either side, a pipe, a file... or junk. */
static int pick_any_fd(void)
{
	switch (rnd(8)) {
	case 0:
		return pick_ctx_fd();
	case 1:
	case 2:
	case 3:
		return atomic_load(&W.pair[rnd(NPAIR)].a);
	case 4:
		return atomic_load(&W.pair[rnd(NPAIR)].b);
	case 5:
		return W.nmisc ? W.misc[rnd(W.nmisc)] : -1;
	case 6:
		return (int)rnd(NFDS + 16);	/* whatever has this number now */
	}
	return one_in(2) ? -1 : (int)wild32();
}

static struct region *pick_region(void)
{
	return &W.reg[rnd(W.nreg)];
}

/* An address for a buffer: mostly inside a region, sometimes anything. */
static void pick_buf(uint64_t *addr, uint64_t *len)
{
	struct region *r = pick_region();
	uint64_t off;

	switch (rnd(12)) {
	case 0:
		*addr = wild64();
		*len = one_in(2) ? wild64() : rnd(1 << 16);
		return;
	case 1:
		*addr = 0;
		*len = one_in(2) ? 0 : rnd(PAGE);
		return;
	case 2:		/* runs off the end of the region */
		*addr = (uintptr_t)r->p + r->len - rnd(PAGE);
		*len = PAGE + rnd(PAGE * 4);
		return;
	}
	off = rnd((uint32_t)r->len);
	*addr = (uintptr_t)r->p + off;
	*len = 1 + rnd((uint32_t)(r->len - off));
	if (one_in(4))
		*len = r->len - off;
}

/* ------------------------------------------------------------------------
 * SIGSEGV guard for writes into memory that may be unmapped meanwhile.
 */

static __thread sigjmp_buf *guard;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (guard)
		siglongjmp(*guard, 1);
	/* a real bug in the fuzzer: die with the signal */
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Run fn(arg); a SIGSEGV/SIGBUS inside it just ends it. */
static void __attribute__((noinline)) guarded(void (*fn)(void *), void *arg)
{
	sigjmp_buf jb;

	if (!sigsetjmp(jb, 1)) {
		guard = &jb;
		fn(arg);
	}
	guard = NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Where thread @tid of process @pid sleeps in the kernel ("0": running). */
static void thread_wchan(pid_t pid, pid_t tid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = 0;
}

/* Its kernel stack, when readable (root), on one line. */
static void thread_stack(pid_t pid, pid_t tid, char *buf, size_t size)
{
	char path[64];
	ssize_t n, i;
	int fd;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", pid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	for (i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
}

/* ------------------------------------------------------------------------
 * Setup of a worker
 */

/* PROT_NONE address space: guard pages and reservations. */
static char *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void add_region(size_t len, enum region_kind kind)
{
	void *p = MAP_FAILED;
	int fd = -1, prot = PROT_READ | PROT_WRITE, flags = MAP_FIXED;
	char path[128], *at;

	if (W.nreg >= NREGION)
		return;
	/* the region, then a guard page; huge pages want 2 MiB alignment */
	at = reserve(kind == R_HUGE ? 2 * HUGE_SZ + PAGE : len + PAGE);
	if (!at)
		return;
	if (kind == R_HUGE)
		at = (char *)(((uintptr_t)at + HUGE_SZ - 1) & ~(HUGE_SZ - 1));
	switch (kind) {
	case R_ANON:
		p = mmap(at, len, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case R_MEMFD:
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd >= 0 && !ftruncate(fd, len))
			p = mmap(at, len, prot, flags | MAP_SHARED, fd, 0);
		break;
	case R_HUGE:
		p = mmap(at, HUGE_SZ, prot,
			 flags | MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		len = HUGE_SZ;
		break;
	case R_RAMFS:		/* page cache that may not be pinned */
		if (!W.ramfs_dir[0])
			break;
		snprintf(path, sizeof(path), "%s/f%u.%d", W.ramfs_dir, W.nreg, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0 && !ftruncate(fd, len))
			p = mmap(at, len, prot, flags | MAP_SHARED, fd, 0);
		unlink(path);
		break;
	case R_RDONLY:
		p = mmap(at, len, PROT_READ, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case R_NONE:
		p = at;	/* the reservation itself */
		break;
	case R_SHM:
		p = mmap(at, len, prot, flags | MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		break;
	case R_UFFD:	/* left unpopulated: the userfaultfd handler fills it */
		p = mmap(at, len, prot, flags | MAP_ANONYMOUS |
			 (one_in(2) ? MAP_SHARED : MAP_PRIVATE), -1, 0);
		break;
	}
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return;
	if (prot & PROT_WRITE && kind != R_RDONLY && kind != R_NONE && kind != R_UFFD)
		memset(p, 0x5a, len);
	W.reg[W.nreg] = (struct region){ p, len, kind };
	if (kind == R_UFFD && W.uffd.nr < ARRAY_SIZE(W.uffd.r))
		W.uffd.r[W.uffd.nr++] = &W.reg[W.nreg];
	W.nreg++;
}

/*
 * The long buffer: one memfd of 1..16 pages mapped back to back (MAP_FIXED)
 * 1000..16000 times, 4096..262144 pages in all: registered as one buffer it
 * is as many bio_vec segments (the same few pages over and over, never
 * contiguous), while it costs the guest only the memfd and page tables.
 */
static void make_long_region(void)
{
	unsigned int chunk = 1U << rnd(5), pages, maps, i;
	size_t csize;
	char *at;
	int fd;

	pages = one_in(4) ? 65536 + rnd(196609) : 4096 + rnd(28673);
	maps = pages / chunk;
	if (maps < 1000)
		maps = 1000;
	if (maps > 16000)
		maps = 16000;
	pages = maps * chunk;
	csize = (size_t)chunk * PAGE;
	at = reserve((size_t)pages * PAGE + PAGE);
	fd = memfd_create("fuzz-long", MFD_CLOEXEC);
	if (!at || fd < 0 || ftruncate(fd, (off_t)csize)) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (i = 0; i < maps; i++)
		if (mmap(at + i * csize, csize, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd, 0) == MAP_FAILED)
			break;
	close(fd);
	if (i < 1000)
		return;
	memset(at, 'L', csize);
	W.lng.p = at;
	W.lng.maps = i;
	W.lng.chunk_pages = chunk;
	W.lng.len = (size_t)i * csize;
	if (i > atomic_load(&sh->long_maps_max))
		atomic_store(&sh->long_maps_max, i);
	if (i * chunk > atomic_load(&sh->long_pages_max))
		atomic_store(&sh->long_pages_max, i * chunk);
}

static void add_misc(int fd)
{
	if (fd >= 0 && W.nmisc < ARRAY_SIZE(W.misc))
		W.misc[W.nmisc++] = fd;
}

/* A FIFO in the worker's tmpdir: fds[0] reads, fds[1] and fds[2] write. */
static void make_fifo(struct pair *p, int fds[3])
{
	char path[128];

	if (!W.tmpdir[0])
		return;
	snprintf(path, sizeof(path), "%s/fifo.%u", W.tmpdir, W.nfifo++);
	if (mkfifo(path, 0600))
		return;
	/* a reader first, so that opening the write ends does not wait */
	fds[0] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fds[0] >= 0) {
		fds[1] = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		p->wr_blocking = one_in(2);
		fds[2] = open(path, O_WRONLY | O_CLOEXEC | (p->wr_blocking ? 0 : O_NONBLOCK));
		p->a_blocking = one_in(2);
		if (p->a_blocking)
			fcntl(fds[0], F_SETFL, 0);
	}
	unlink(path);
}

/*
 * A pty pair in raw mode. Mostly a is the slave (the module reads what the
 * peer writes on the master, and its WRITEs go to the master, which the
 * peer drains only if the pair says so), sometimes the master. The
 * module's side is opened without O_NONBLOCK half of the time.
 */
static void make_pty(struct pair *p, int fds[3])
{
	struct termios tio;
	int m, s, fl;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) || unlockpt(m)) {
		atomic_fetch_add(&sh->pty_unavail, 1);
		if (m >= 0)
			close(m);
		return;
	}
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0) {
		char name[64];

		if (!ptsname_r(m, name, sizeof(name)))
			s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	}
	if (s < 0) {
		atomic_fetch_add(&sh->pty_unavail, 1);
		close(m);
		return;
	}
	if (!tcgetattr(s, &tio)) {
		cfmakeraw(&tio);
		tcsetattr(s, TCSANOW, &tio);
	}
	p->pty_master_a = one_in(3);
	fds[0] = p->pty_master_a ? m : s;
	fds[1] = p->pty_master_a ? s : m;
	fds[2] = WR_IS_A;
	p->a_blocking = one_in(2);
	p->wr_blocking = p->a_blocking;
	fl = fcntl(fds[0], F_GETFL);
	if (fl >= 0 && !p->a_blocking)
		fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
}

/* fds[0]: a, fds[1]: b, fds[2]: wr (see struct pair) */
static bool make_pair(struct pair *pr, int fds[3])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int l = -1, one = 1;
	enum pair_kind kind = pr->kind;

	fds[0] = fds[1] = -1;
	fds[2] = -1;
	pr->a_blocking = pr->wr_blocking = false;
	pr->drain = one_in(2);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	switch (kind) {
	case P_TCP:
		l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (void *)&sa, sizeof(sa)) || listen(l, 1) ||
		    getsockname(l, (void *)&sa, &sl))
			break;
		fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[1] < 0 || connect(fds[1], (void *)&sa, sizeof(sa)))
			break;
		fds[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		break;
	case P_UDP: {
		struct sockaddr_in sb = sa;
		socklen_t sbl = sizeof(sb);

		fds[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		fds[1] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[0] < 0 || fds[1] < 0 || bind(fds[0], (void *)&sa, sizeof(sa)) ||
		    bind(fds[1], (void *)&sb, sizeof(sb)) ||
		    getsockname(fds[0], (void *)&sa, &sl) ||
		    getsockname(fds[1], (void *)&sb, &sbl) ||
		    connect(fds[0], (void *)&sb, sizeof(sb)) ||
		    connect(fds[1], (void *)&sa, sizeof(sa))) {
			close(fds[0]);
			close(fds[1]);
			fds[0] = fds[1] = -1;
		}
		break;
	}
	case P_UNIX_STREAM:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
			fds[0] = fds[1] = -1;
		break;
	case P_UNIX_DGRAM:
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds))
			fds[0] = fds[1] = -1;
		break;
	case P_PIPE: {
		int p[2];

		if (!pipe2(p, O_CLOEXEC)) {
			char path[64];

			fds[0] = p[0];	/* the module reads */
			fds[1] = p[1];
			/* its own open file description of the write end */
			if (one_in(2)) {
				snprintf(path, sizeof(path), "/proc/self/fd/%d", p[1]);
				pr->wr_blocking = one_in(2);
				fds[2] = open(path, O_WRONLY | O_CLOEXEC |
					      (pr->wr_blocking ? 0 : O_NONBLOCK));
			}
		}
		break;
	}
	case P_FIFO:
		make_fifo(pr, fds);
		break;
	case P_PTY:
		make_pty(pr, fds);
		break;
	default:
		break;
	}
	if (l >= 0)
		close(l);
	if (fds[1] >= 0)
		fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
	if (fds[0] < 0 || fds[1] < 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		if (fds[1] >= 0)
			close(fds[1]);
		if (fds[2] >= 0)
			close(fds[2]);
		fds[0] = fds[1] = fds[2] = -1;
		return false;
	}
	return true;
}

/* Where a lending chain WRITEs for this pair. */
static int pair_wr(struct pair *p)
{
	int wr = atomic_load(&p->wr);

	return wr == WR_IS_A ? atomic_load(&p->a) : wr >= 0 ? wr : atomic_load(&p->b);
}

/* What an fd is, for reports: "fifo a (blocking)", "pty wr", ... */
static const char *describe_fd(int fd, char *buf, size_t size)
{
	unsigned int i;

	for (i = 0; i < NPAIR; i++) {
		struct pair *p = &W.pair[i];
		const char *side = NULL;
		bool blocking = false;

		if (fd < 0)
			break;
		if (fd == atomic_load(&p->a)) {
			side = p->kind == P_PTY ? (p->pty_master_a ? "a (master)" : "a (slave)") : "a";
			blocking = p->a_blocking;
		} else if (fd == atomic_load(&p->b)) {
			side = "b";
		} else if (fd == atomic_load(&p->wr)) {
			side = "wr";
			blocking = p->wr_blocking;
		}
		if (side) {
			snprintf(buf, size, "%s %s%s", pair_names[p->kind], side,
				 blocking ? " (blocking)" : "");
			return buf;
		}
	}
	snprintf(buf, size, "fd %d", fd);
	return buf;
}

static void worker_setup(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_NODEFER };
	char path[64];
	unsigned int i;
	int fds[3];

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	add_region(64 * PAGE, R_ANON);
	add_region(16 * PAGE, R_ANON);
	add_region(3 * PAGE, R_ANON);
	add_region(8 * PAGE, R_MEMFD);
	add_region(HUGE_SZ, R_HUGE);
	add_region(4 * PAGE, R_RAMFS);
	add_region(2 * PAGE, R_RDONLY);
	add_region(2 * PAGE, R_NONE);
	add_region(16 * PAGE, R_SHM);
	add_region(PAGE, R_ANON);
	add_region(32 * PAGE, R_MEMFD);
	add_region(32 * PAGE, R_UFFD);
	add_region(64 * PAGE, R_UFFD);
	/* half the workers (not those started by exec) get a long buffer */
	if (!W.exec_image && one_in(2))
		make_long_region();
	snprintf(W.tmpdir, sizeof(W.tmpdir), "/tmp/fuzz-fifo.XXXXXX");
	if (!mkdtemp(W.tmpdir))
		W.tmpdir[0] = 0;

	for (i = 0; i < NCTX; i++)
		atomic_store(&W.ctx[i], open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC));
	for (i = 0; i < NRING; i++) {
		pthread_mutex_init(&W.ring[i].lock, NULL);
		W.ring[i].bgid = (uint16_t)i;
	}
	for (i = 0; i < NMAP; i++) {
		pthread_mutex_init(&W.map[i].lock, NULL);
		W.map[i].base = reserve(MAP_SLOT_PAGES * PAGE);
	}
	/* argument structures that end right before a guard page */
	W.edge = reserve(2 * PAGE);
	if (W.edge)
		mprotect(W.edge, PAGE, PROT_READ | PROT_WRITE);
	for (i = 0; i < NPAIR; i++) {
		W.pair[i].kind = (enum pair_kind)(i % NR_PAIR_KINDS);
		make_pair(&W.pair[i], fds);
		atomic_store(&W.pair[i].a, fds[0]);
		atomic_store(&W.pair[i].b, fds[1]);
		atomic_store(&W.pair[i].wr, fds[2]);
	}
	/* wrong fd types */
	snprintf(path, sizeof(path), "/tmp/fuzz.%d", getpid());
	add_misc(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
	if (W.nmisc) {
		char junk[8192];

		memset(junk, 'j', sizeof(junk));
		if (write(W.misc[0], junk, sizeof(junk)) < 0)
			perror("write");
	}
	unlink(path);
	add_misc(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	add_misc(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	W.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	add_misc(W.devnull);
	add_misc(epoll_create1(EPOLL_CLOEXEC));
	add_misc(memfd_create("fuzz-misc", MFD_CLOEXEC));
	add_misc(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));	/* unconnected */
	add_misc(socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	add_misc(open("/proc/self/status", O_RDONLY | O_CLOEXEC));
	add_misc(open(IOPBUF_DEVICE_PATH, O_RDONLY | O_CLOEXEC));	/* read-only context */
	add_misc(open(IOPBUF_DEVICE_PATH, O_WRONLY | O_CLOEXEC));
}

/* ------------------------------------------------------------------------
 * ioctl operations
 */

static long xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/* A pointer for an ioctl argument: valid, or one of the bad ones. */
static void *arg_ptr(void *good)
{
	switch (rnd(40)) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)wild64();
	case 2:	/* straddling into a guard page */
		return W.edge ? W.edge + PAGE - 8 : NULL;
	}
	return good;
}

static void do_probe(void)
{
	struct iopbuf_probe p;

	xioctl(pick_any_fd(), IOPBUF_IOC_PROBE, arg_ptr(&p));
}

static void do_stats(void)
{
	struct iopbuf_stats st;
	int fd = pick_ctx_fd();

	memset(&st, 0, sizeof(st));
	/*
	 * Not charged <= pinned: a registration charges first and pins
	 * afterwards, so another thread may see the charge before the pins.
	 */
	if (!xioctl(fd, IOPBUF_IOC_STATS, arg_ptr(&st)) &&
	    (st.bufs > st.buf_slots || st.resv[0] || st.resv[1] || st.resv[2] ||
	     st.resv[3]))
		fuzz_fail("IOPBUF_IOC_STATS inconsistent: bufs %u/%u resv %llx",
			  st.bufs, st.buf_slots,
			  (unsigned long long)(st.resv[0] | st.resv[1] | st.resv[2] | st.resv[3]));
}

/* An iovec array of @nr entries, mostly buffers of the regions. */
static struct iovec *make_iovs(unsigned int nr, unsigned int *filled)
{
	static __thread struct iovec fallback[64];
	/*
	 * Per thread: a page whose end is a guard page, the array at its end,
	 * so that an nr beyond the array makes the kernel fault (EFAULT)
	 * rather than read whatever follows.
	 */
	static __thread char *page;
	struct iovec *iov;
	unsigned int i, n;

	if (!page) {
		page = reserve(2 * PAGE);
		if (page && mprotect(page, PAGE, PROT_READ | PROT_WRITE))
			page = NULL;
	}
	iov = page ? (struct iovec *)(page + PAGE) - 64 : fallback;
	n = nr < 64 ? nr : 64;

	for (i = 0; i < n; i++) {
		uint64_t a, l;

		if (one_in(6)) {
			iov[i].iov_base = NULL;
			iov[i].iov_len = 0;
			continue;
		}
		pick_buf(&a, &l);
		if (l > (1 << 20) && !one_in(8))
			l &= 0xfffff;
		iov[i].iov_base = (void *)(uintptr_t)a;
		iov[i].iov_len = l;
	}
	*filled = n;
	return iov;
}

static uint32_t pick_nr(void)
{
	switch (rnd(10)) {
	case 0:
		return wild32();
	case 1:
		return 0;
	}
	return 1 + rnd(one_in(3) ? 64 : 8);
}

static void do_reg_bufs(bool sparse)
{
	struct iopbuf_buf_reg reg;
	unsigned int filled = 0;

	memset(&reg, 0, sizeof(reg));
	reg.nr = pick_nr();
	if (!sparse) {
		struct iovec *iov = make_iovs(reg.nr, &filled);

		reg.iovs = (uintptr_t)arg_ptr(iov);
	} else {
		reg.flags = IOPBUF_BUF_REG_SPARSE;
		if (one_in(10))
			reg.iovs = (uintptr_t)&reg;
	}
	if (one_in(20))
		reg.flags |= 1U << rnd(32);
	if (one_in(20))
		reg.offset = wild32();
	if (one_in(30))
		reg.resv = wild32();
	if (one_in(30))
		reg.resv2[rnd(2)] = wild64();
	xioctl(pick_ctx_fd(), IOPBUF_IOC_REGISTER_BUFFERS, arg_ptr(&reg));
}

static void do_update_bufs(void)
{
	struct iopbuf_buf_reg reg;
	unsigned int filled = 0;
	struct iovec *iov;

	memset(&reg, 0, sizeof(reg));
	reg.nr = pick_nr();
	reg.offset = one_in(4) ? wild32() : rnd(16);
	iov = make_iovs(reg.nr, &filled);
	reg.iovs = (uintptr_t)arg_ptr(iov);
	if (one_in(20))
		reg.flags = 1U << rnd(32);
	if (one_in(30))
		reg.resv2[rnd(2)] = wild64();
	xioctl(pick_ctx_fd(), IOPBUF_IOC_UPDATE_BUFFERS, arg_ptr(&reg));
}

static void do_unreg_bufs(void)
{
	xioctl(pick_ctx_fd(), IOPBUF_IOC_UNREGISTER_BUFFERS, NULL);
}

/* Ring memory for @entries entries: page-aligned inside a region, or not. */
static uint64_t pick_ring_addr(uint32_t entries, struct region **out)
{
	struct region *r = pick_region();
	size_t size = (size_t)entries * sizeof(struct iopbuf_buf);
	size_t pages = (size + PAGE - 1) / PAGE;
	size_t rpages = r->len / PAGE;

	*out = NULL;
	switch (rnd(12)) {
	case 0:
		return wild64();
	case 1:
		return 0;
	case 2:
		return (uintptr_t)r->p + 1 + rnd(PAGE - 1);	/* misaligned */
	}
	if (pages <= rpages) {
		*out = r;
		return (uintptr_t)r->p + rnd((uint32_t)(rpages - pages + 1)) * PAGE;
	}
	return (uintptr_t)r->p;	/* too small: runs off the end */
}

static uint32_t pick_entries(void)
{
	static const uint64_t v[] = { 0, 1, 2, 3, 8, 100, 256, 4096, 32768, 32769, 65536 };

	if (one_in(5))
		return (uint32_t)pick_u64(v, ARRAY_SIZE(v));
	return 1U << rnd(8);	/* 1 .. 128 */
}

static void do_reg_ring(void)
{
	struct iopbuf_ring_reg reg;
	struct region *r = NULL;
	struct ring_slot *rs;
	int ci = (int)rnd(NCTX), fd = one_in(50) ? pick_ctx_fd() : atomic_load(&W.ctx[ci]);

	memset(&reg, 0, sizeof(reg));
	reg.ring_entries = one_in(2) ? RING_ENTRIES : pick_entries();
	reg.bgid = pick_bgid();
	reg.flags = (uint16_t)rnd(8);
	if (one_in(20))
		reg.flags |= (uint16_t)(1U << rnd(16));
	if (reg.flags & IOPBUF_RING_INC || one_in(20))
		reg.min_left = one_in(2) ? rnd(64) : wild32();
	if (!(reg.flags & IOPBUF_RING_MMAP) || one_in(20))
		reg.ring_addr = pick_ring_addr(reg.ring_entries, &r);
	if (one_in(30))
		reg.resv[rnd(5)] = wild32();
	if (xioctl(fd, IOPBUF_IOC_REGISTER_RING, arg_ptr(&reg)) || reg.bgid >= NRING)
		return;
	/*
	 * Remember it, for providing buffers and for the scribbler: user
	 * memory only when it lies inside a writable region.
	 */
	rs = &W.ring[reg.bgid];
	pthread_mutex_lock(&rs->lock);
	rs->bufs = NULL;
	rs->span = 0;
	rs->mmap = reg.flags & IOPBUF_RING_MMAP;
	if (!rs->mmap && r && r->kind != R_RDONLY && r->kind != R_NONE) {
		rs->bufs = (struct iopbuf_buf *)(uintptr_t)reg.ring_addr;
		rs->span = (size_t)reg.ring_entries * sizeof(struct iopbuf_buf);
	}
	rs->tail = 0;
	rs->regbuf = reg.flags & IOPBUF_RING_REGBUF;
	rs->entries = reg.ring_entries;
	rs->ctx = ci;
	rs->good = false;
	pthread_mutex_unlock(&rs->lock);
}

static void do_unreg_ring(void)
{
	struct iopbuf_ring_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.bgid = pick_bgid();
	if (one_in(20))
		reg.ring_entries = wild32();
	if (one_in(20))
		reg.flags = (uint16_t)rnd64();
	if (one_in(30))
		reg.resv[rnd(5)] = wild32();
	xioctl(pick_ctx_fd(), IOPBUF_IOC_UNREGISTER_RING, arg_ptr(&reg));
}

static void do_ring_status(void)
{
	struct iopbuf_ring_status st;

	memset(&st, 0, sizeof(st));
	st.bgid = pick_bgid();
	if (one_in(30))
		st.resv[rnd(2)] = wild64();
	if (!xioctl(pick_ctx_fd(), IOPBUF_IOC_RING_STATUS, arg_ptr(&st)) && st.head > 65535)
		fuzz_fail("RING_STATUS head %u > 65535", st.head);
}

static void do_cancel(void)
{
	long r = ioctl(pick_ctx_fd(), IOPBUF_IOC_CANCEL, 0);

	if (r > 0x100000)
		fuzz_fail("IOPBUF_IOC_CANCEL returned %ld", r);
}

static void do_bad_ioctl(void)
{
	unsigned long req;
	char buf[256];

	switch (rnd(4)) {
	case 0:	/* our magic, any number, any direction/size */
		req = _IOC(rnd(4), IOPBUF_IOC_MAGIC, rnd(256), rnd(512));
		break;
	case 1:	/* a known number with the wrong size */
		req = _IOC(_IOC_WRITE, IOPBUF_IOC_MAGIC, 2 + rnd(6), rnd(128));
		break;
	case 2:	/* anything, on the device only */
		req = (unsigned long)rnd64();
		memset(buf, 0, sizeof(buf));
		ioctl(pick_ctx_fd(), req, arg_ptr(buf));
		return;
	default:	/* common ioctls on the device */
		req = one_in(2) ? FIONREAD : FIONBIO;
		break;
	}
	memset(buf, 0, sizeof(buf));
	ioctl(pick_any_fd(), req, arg_ptr(buf));
}

/*
 * Register a ring of RING_ENTRIES entries (INC one time in three) on
 * context @ci's @fd, page-aligned in a writable region (with @uffd also a
 * userfaultfd one), replacing whatever had its random bgid. Return: its
 * slot, locked, for the caller to fill and ring_publish_good(); NULL if
 * no region fits or the registration failed.
 */
static struct ring_slot *ring_register_good(int fd, int ci, bool regbuf,
					    bool uffd)
{
	size_t size = RING_ENTRIES * sizeof(struct iopbuf_buf);
	struct iopbuf_ring_reg reg;
	struct ring_slot *rs;
	struct region *r;
	unsigned int tries;

	for (tries = 0; tries < 8; tries++) {
		r = pick_region();
		if ((r->kind == R_ANON || r->kind == R_MEMFD || r->kind == R_SHM ||
		     (uffd && r->kind == R_UFFD)) && r->len >= size)
			break;
	}
	if (tries == 8)
		return NULL;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uintptr_t)r->p + rnd((uint32_t)((r->len - size) / PAGE + 1)) * PAGE;
	reg.ring_entries = RING_ENTRIES;
	reg.bgid = (uint16_t)rnd(NRING);
	reg.flags = (regbuf ? IOPBUF_RING_REGBUF : 0) | (one_in(3) ? IOPBUF_RING_INC : 0);
	xioctl(fd, IOPBUF_IOC_UNREGISTER_RING, &(struct iopbuf_ring_reg){ .bgid = reg.bgid });
	if (xioctl(fd, IOPBUF_IOC_REGISTER_RING, &reg))
		return NULL;
	rs = &W.ring[reg.bgid];
	pthread_mutex_lock(&rs->lock);
	rs->bufs = (struct iopbuf_buf *)(uintptr_t)reg.ring_addr;
	rs->span = size;
	rs->entries = RING_ENTRIES;
	rs->regbuf = regbuf;
	rs->mmap = false;
	rs->ctx = ci;
	rs->good = true;
	return rs;
}

/* Make every entry of a ring from ring_register_good() the kernel's. */
static void ring_publish_good(struct ring_slot *rs)
{
	rs->tail = RING_ENTRIES;
	__atomic_store_n(&rs->bufs[0].resv, rs->tail, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&rs->lock);
}

/*
 * A context set up right, so that the data path gets past validation:
 * eight valid buffers registered (or replacing the table's first slots),
 * a ring of RING_ENTRIES entries inside a writable region, filled with
 * valid entries (regbuf encodings within those buffers, or their
 * addresses).
 */
static void do_setup_good(void)
{
	struct iovec *iov;
	struct ring_slot *rs;
	struct region *r;
	unsigned int i, n = 0, tries;
	int fd;
	bool regbuf = one_in(2);
	int ci = (int)rnd(NCTX);
	struct {
		uint64_t addr;
		uint32_t len;
	} bufs[8];

	fd = atomic_load(&W.ctx[ci]);
	if (fd < 0) {
		fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		atomic_store(&W.ctx[ci], fd);
	}
	iov = make_iovs(8, &n);
	for (i = 0; i < 8; i++) {
		for (tries = 0; tries < 8; tries++) {
			r = pick_region();
			if (r->kind == R_ANON || r->kind == R_MEMFD || r->kind == R_SHM ||
			    r->kind == R_HUGE || r->kind == R_UFFD)
				break;
		}
		iov[i].iov_base = r->p;
		iov[i].iov_len = r->len < 8 * PAGE ? r->len : 8 * PAGE;
		bufs[i].addr = (uintptr_t)r->p;
		bufs[i].len = (uint32_t)iov[i].iov_len;
	}
	{
		struct iopbuf_buf_reg br = { .iovs = (uintptr_t)iov, .nr = 8 };

		if (xioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS, &br) == -EBUSY)
			xioctl(fd, IOPBUF_IOC_UPDATE_BUFFERS, &br);
	}
	/* ring memory: page-aligned inside a writable region */
	rs = ring_register_good(fd, ci, regbuf, true);
	if (!rs)
		return;
	for (i = 0; i < RING_ENTRIES; i++) {
		struct iopbuf_buf *e = &rs->bufs[i];
		unsigned int b = rnd(8);
		uint32_t len = 1 + rnd(bufs[b].len < 4096 ? bufs[b].len : 4096);
		uint64_t off = rnd(bufs[b].len - len + 1);

		e->addr = regbuf ? iopbuf_regbuf_encode(b, off) : bufs[b].addr + off;
		e->len = len;
		e->bid = (uint16_t)i;
	}
	ring_publish_good(rs);
}

/* Kernel-owned buffers: ids count up from 1, so small ids usually exist. */
static void do_kbuf_alloc(void)
{
	struct iopbuf_kbuf kb;

	memset(&kb, 0, sizeof(kb));
	switch (rnd(8)) {
	case 0:
		kb.len = wild64();
		break;
	case 1:
		kb.len = 1 + rnd(PAGE);
		break;
	default:
		kb.len = PAGE * (1 + rnd(one_in(8) ? 600 : 16));
		break;
	}
	if (one_in(20))
		kb.id = wild32();
	if (one_in(30))
		kb.resv2[rnd(2)] = wild64();
	xioctl(pick_ctx_fd(), IOPBUF_IOC_KBUF_ALLOC, arg_ptr(&kb));
}

static void do_kbuf_free(void)
{
	struct iopbuf_kbuf kb;

	memset(&kb, 0, sizeof(kb));
	kb.id = one_in(10) ? wild32() : 1 + rnd(8);
	if (one_in(20))
		kb.len = wild64();
	xioctl(pick_ctx_fd(), IOPBUF_IOC_KBUF_FREE, arg_ptr(&kb));
}

/* ------------------------------------------------------------------------
 * mmap of kernel rings, fdinfo
 */

/*
 * Map ring @bgid into a map slot: mmap anywhere, then mremap onto the
 * slot's reserved range, which is never left unmapped.
 */
static void do_mmap(void)
{
	struct map_slot *m = &W.map[rnd(NMAP)];
	uint16_t bgid = pick_bgid();
	uint64_t off = IOPBUF_OFF_RING(bgid);
	size_t len = PAGE * (1 + rnd(one_in(4) ? MAP_SLOT_PAGES : 4));
	void *p, *q;

	if (!m->base)
		return;
	if (one_in(10))
		off = one_in(2) ? (uint64_t)rnd(1 << 20) * PAGE : wild64() & ~(PAGE - 1);
	p = mmap(NULL, len, one_in(10) ? PROT_READ : PROT_READ | PROT_WRITE,
		 one_in(10) ? MAP_PRIVATE : MAP_SHARED, pick_ctx_fd(), (off_t)off);
	if (p == MAP_FAILED)
		return;
	pthread_mutex_lock(&m->lock);
	q = mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, m->base);
	if (q == MAP_FAILED) {
		pthread_mutex_unlock(&m->lock);
		munmap(p, len);
		return;
	}
	m->len = len;
	m->bgid = bgid;
	pthread_mutex_unlock(&m->lock);
	if (bgid < NRING) {
		struct ring_slot *rs = &W.ring[bgid];

		pthread_mutex_lock(&rs->lock);
		if (rs->mmap) {
			rs->bufs = (struct iopbuf_buf *)m->base;
			rs->span = len;
		}
		pthread_mutex_unlock(&rs->lock);
	}
}

/* "Unmap" a slot: PROT_NONE over it (the ring mapping goes, the range stays). */
static void do_munmap(void)
{
	struct map_slot *m = &W.map[rnd(NMAP)];

	if (!m->base)
		return;
	pthread_mutex_lock(&m->lock);
	mmap(m->base, MAP_SLOT_PAGES * PAGE, PROT_NONE,
	     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	m->len = 0;
	pthread_mutex_unlock(&m->lock);
}

static void do_fdinfo(void)
{
	char path[64], buf[4096];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pick_ctx_fd());
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* ------------------------------------------------------------------------
 * Providing buffers and scribbling on rings
 */

/*
 * A ring entry's length in the long buffer: mostly up to 1 MiB (256
 * segments), sometimes up to 8 MiB, always within the buffer.
 */
static uint32_t long_entry_len(void)
{
	uint32_t len = one_in(16) ? 1 + rnd(8U << 20) : PAGE + rnd(1U << 20);

	return len > W.lng.len ? (uint32_t)W.lng.len : len;
}

static uint64_t entry_addr(bool regbuf, uint32_t *len)
{
	uint64_t a, l;

	if (regbuf) {
		uint32_t index = one_in(10) ? wild32() : rnd(8);
		uint64_t off = one_in(10) ? wild64() : rnd(8 * PAGE);

		*len = one_in(10) ? wild32() : 1 + rnd(2 * PAGE);
		if (W.lng.p && one_in(8)) {	/* a long slice of the long buffer */
			*len = long_entry_len();
			return iopbuf_regbuf_encode(LONG_IDX, rnd((uint32_t)(W.lng.len - *len + 1)));
		}
		return iopbuf_regbuf_encode(index, off);
	}
	pick_buf(&a, &l);
	*len = (uint32_t)(l > 65536 ? 1 + rnd(65536) : l);
	if (one_in(20))
		*len = wild32();
	return a;
}

/* A consistent view of a ring slot: write only within b[0 .. entries). */
struct ring_write {
	struct ring_slot *rs;
	struct iopbuf_buf *b;
	unsigned int entries;	/* the ring's, or fewer when span is short */
	unsigned int mask;	/* the ring's */
	bool regbuf;
	uint16_t tail;
};

static bool ring_snapshot(struct ring_slot *rs, struct ring_write *w)
{
	pthread_mutex_lock(&rs->lock);
	w->rs = rs;
	w->b = rs->bufs;
	w->entries = rs->entries;
	if (w->entries > rs->span / sizeof(struct iopbuf_buf))
		w->entries = (unsigned int)(rs->span / sizeof(struct iopbuf_buf));
	w->mask = rs->entries - 1;
	w->regbuf = rs->regbuf;
	w->tail = rs->tail;
	pthread_mutex_unlock(&rs->lock);
	return w->b && w->entries;
}

static void provide_fn(void *arg)
{
	struct ring_write *w = arg;
	unsigned int i, n = 1 + rnd(8);

	for (i = 0; i < n; i++) {
		unsigned int idx = w->tail & w->mask;
		struct iopbuf_buf *e;
		uint32_t len;

		if (idx >= w->entries)
			break;
		e = &w->b[idx];
		e->addr = entry_addr(w->regbuf, &len);
		e->len = len;
		e->bid = (uint16_t)rnd(65536);
		w->tail++;
	}
	__atomic_store_n(&w->b[0].resv, w->tail, __ATOMIC_RELEASE);
}

/* Add 1..8 entries to a ring fuzz registered, and publish the tail. */
static void do_provide(void)
{
	struct ring_slot *rs = &W.ring[rnd(NRING)];
	struct ring_write w;

	if (!ring_snapshot(rs, &w))
		return;
	guarded(provide_fn, &w);
	pthread_mutex_lock(&rs->lock);
	if (rs->bufs == w.b)
		rs->tail = w.tail;
	pthread_mutex_unlock(&rs->lock);
}

static void scribble_fn(void *arg)
{
	struct ring_write *w = arg;
	unsigned int i, n = 1 + rnd(16);

	for (i = 0; i < n; i++) {
		struct iopbuf_buf *e = &w->b[rnd(w->entries)];

		switch (rnd(6)) {
		case 0:
			e->addr = wild64();
			break;
		case 1:
			e->len = wild32();
			break;
		case 2:
			e->bid = (uint16_t)rnd64();
			break;
		case 3:	/* the tail: anything */
			__atomic_store_n(&w->b[0].resv, (uint16_t)rnd64(),
					 __ATOMIC_RELEASE);
			break;
		case 4:	/* flip len back and forth */
			e->len ^= (uint32_t)rnd64();
			e->len ^= (uint32_t)rnd64();
			break;
		default:
			e->addr ^= 1ULL << rnd(64);
			break;
		}
	}
}

/* Garbage into a ring while the kernel may be reading it. */
static void scribble_once(void)
{
	struct ring_write w;

	if (ring_snapshot(&W.ring[rnd(NRING)], &w))
		guarded(scribble_fn, &w);
}

struct memset_args {
	char *p;
	size_t len;
	int c;
};

static __thread struct memset_args scribble_at;

static void memset_fn(void *arg)
{
	struct memset_args *a = arg;

	memset(a->p, a->c, a->len);
}

/* Garbage into the buffers themselves (data being sent / received). */
static void scribble_region(void)
{
	struct region *r = pick_region();
	size_t off = rnd((uint32_t)r->len);
	size_t len = 1 + rnd((uint32_t)(r->len - off) % 4096);
	int c = (int)rnd(256);

	if (r->kind == R_RDONLY || r->kind == R_NONE)
		return;
	scribble_at.p = r->p + off;
	scribble_at.len = len;
	scribble_at.c = c;
	guarded(memset_fn, &scribble_at);
}

static void *scribbler(void *arg)
{
	rng = *(uint64_t *)arg;
	while (!atomic_load(&W.stop)) {
		unsigned int i;

		/* a burst of writes, then a pause: racing, not starving */
		for (i = 0; i < 16; i++) {
			if (one_in(4))
				scribble_region();
			else
				scribble_once();
			count(OP_SCRIBBLE);
		}
		if (one_in(20)) {
			/* unmap a kernel ring under everyone, then map it again */
			do_munmap();
			do_mmap();
			count(OP_REMAP);
		}
		usleep(rnd(1000));
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * The peers: feed, drain, close and replace sockets and pipes.
 */

static void swap_pair(struct pair *p)
{
	int fds[3], a, b, wr;

	if (!make_pair(p, fds))
		return;
	/*
	 * dup2 over the old numbers: a command submitted with the old fd may
	 * meet the new socket, one in flight holds the old file.
	 */
	a = atomic_load(&p->a);
	b = atomic_load(&p->b);
	wr = atomic_exchange(&p->wr, fds[2]);
	if (wr >= 0)
		close(wr);
	if (one_in(2) && a >= 0 && b >= 0) {
		dup2(fds[0], a);
		dup2(fds[1], b);
		close(fds[0]);
		close(fds[1]);
		return;
	}
	atomic_store(&p->a, fds[0]);
	atomic_store(&p->b, fds[1]);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

static void peer_io(void)
{
	struct pair *p = &W.pair[rnd(NPAIR)];
	char buf[8192];
	int b = atomic_load(&p->b), a;
	unsigned int roll = rnd(100);
	ssize_t n;

	/* 2% close, 3% replace, 5% shutdown, 50% write, 40% drain */
	switch (roll < 2 ? 0 : roll < 5 ? 1 : roll < 10 ? 2 : roll < 60 ? 3 : 6) {
	case 0:	/* close one side under in-flight commands */
		if (one_in(2)) {
			a = atomic_exchange(&p->a, -1);
			if (a >= 0)
				close(a);
		} else {
			b = atomic_exchange(&p->b, -1);
			if (b >= 0)
				close(b);
		}
		break;
	case 1:
		swap_pair(p);
		count(OP_SOCK_SWAP);
		break;
	case 2:
		if (is_sock(p->kind))
			shutdown(b, (int)rnd(3));
		else if (W.nmisc && one_in(2)) {
			/* keep the regular file small: lending chains WRITE at its position */
			if (ftruncate(W.misc[0], 8192) == 0)
				lseek(W.misc[0], 0, SEEK_SET);
		}
		break;
	case 3:
	case 4:
	case 5:
		if (atomic_load(&p->a) < 0 || b < 0)
			swap_pair(p);
		/*
		 * A pipe or FIFO the module writes through a blocking file:
		 * the module's own WRITEs feed it. A peer racing them for
		 * the free slot could make such a write wait, as write(2)
		 * would (documented in pbuf_file_rwf()).
		 */
		if ((p->kind == P_PIPE || p->kind == P_FIFO) && p->wr_blocking)
			break;
		memset(buf, (int)rnd(256), sizeof(buf));
		n = 1 + rnd(one_in(4) ? sizeof(buf) : 512);
		if (!is_sock(p->kind))
			n = write(b, buf, n);
		else
			n = send(b, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	default:	/* drain what sends (and pty writes) delivered */
		if (p->kind == P_PTY && p->drain) {
			while (read(b, buf, sizeof(buf)) > 0)
				;
			break;
		}
		if (!is_sock(p->kind))
			break;
		while (recv(b, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		break;
	}
	count(OP_PEER_IO);
}

static void *peers(void *arg)
{
	rng = *(uint64_t *)arg;
	while (!atomic_load(&W.stop)) {
		peer_io();
		usleep(rnd(2000));
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * io_uring: each operation thread owns its rings.
 */

#define NURING 3

struct uring_slot {
	struct io_uring ring;
	bool up;
	bool cqe32;
	unsigned int inflight;
};

struct thread_state {
	struct uring_slot u[NURING];
	int nth_fd;
	unsigned int id;
	uint64_t seed;
	/* for the worker's watchdog: what the thread is doing since when */
	atomic_int tid;
	atomic_llong op_start_ms;	/* 0: between operations */
	atomic_int op_kind;
	bool reported;
	char detail[160];		/* the last submission, for reports */
};

static void uring_open(struct uring_slot *s)
{
	unsigned int flags = 0;

	switch (rnd(12)) {
	case 0:
		flags = 0;	/* no CQE32: buffer commands fail with EINVAL */
		break;
	case 1:
		flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
		break;
	default:
		flags = IORING_SETUP_CQE32;
		break;
	}
	if (one_in(4))
		flags |= IORING_SETUP_SUBMIT_ALL;
	if (io_uring_queue_init(32, &s->ring, flags) &&
	    io_uring_queue_init(32, &s->ring, flags & ~IORING_SETUP_SUBMIT_ALL))
		return;
	s->up = true;
	s->cqe32 = flags & IORING_SETUP_CQE32;
	s->inflight = 0;
}

static void check_cqe(const struct uring_slot *s, const struct io_uring_cqe *cqe)
{
	__u64 res2 = s->cqe32 ? cqe->big_cqe[0] : 0;
	__u16 flags = iopbuf_cqe_flags(res2);
	__u32 op = (__u32)(cqe->user_data >> 32);

	atomic_fetch_add_explicit(&sh->completions, 1, memory_order_relaxed);
	if (cqe->res < 0) {
		atomic_fetch_add_explicit(&sh->cqe_errors, 1, memory_order_relaxed);
		if (-cqe->res < (int)ARRAY_SIZE(sh->cqe_errno))
			atomic_fetch_add_explicit(&sh->cqe_errno[-cqe->res], 1,
						  memory_order_relaxed);
	} else if (op == IOPBUF_CMD_RECV || op == IOPBUF_CMD_READ ||
		   op == IOPBUF_CMD_SEND || op == IOPBUF_CMD_LEND) {
		atomic_fetch_add_explicit(&sh->bytes, (unsigned long long)cqe->res,
					  memory_order_relaxed);
	}
	if (res2 >> 48)
		fuzz_fail("cqe res2 %#llx: reserved bits set (cmd %#x res %d)",
			  (unsigned long long)res2, op, cqe->res);
	if (op == IOPBUF_CMD_LEND) {
		/* bits 16..31 are the chain's progress, not a buffer count */
		if (iopbuf_lend_done(res2) > IOPBUF_LEND_MAX_OPS ||
		    (iopbuf_lend_failed(res2) != IOPBUF_LEND_NONE &&
		     iopbuf_lend_failed(res2) >= IOPBUF_LEND_MAX_OPS))
			fuzz_fail("lend cqe res2 %#llx: done %u, failed %u (res %d)",
				  (unsigned long long)res2, iopbuf_lend_done(res2),
				  iopbuf_lend_failed(res2), cqe->res);
		return;
	}
	if (!(flags & IOPBUF_CQE_F_BUFFER) && (iopbuf_cqe_bid(res2) || iopbuf_cqe_nbufs(res2)))
		fuzz_fail("cqe res2 %#llx: bid/count without F_BUFFER (cmd %#x res %d)",
			  (unsigned long long)res2, op, cqe->res);
	if (flags & IOPBUF_CQE_F_BUFFER) {
		atomic_fetch_add_explicit(&sh->cqe_buffers, 1, memory_order_relaxed);
		if (!iopbuf_cqe_nbufs(res2))
			fuzz_fail("cqe res2 %#llx: F_BUFFER with no buffer (cmd %#x res %d)",
				  (unsigned long long)res2, op, cqe->res);
	}
	if (s->cqe32 && cqe->res > 0 &&
	    (op == IOPBUF_CMD_RECV || op == IOPBUF_CMD_SEND) &&
	    !(flags & IOPBUF_CQE_F_BUFFER))
		fuzz_fail("cqe: cmd %#x moved %d bytes without F_BUFFER", op, cqe->res);
}

static void reap(struct uring_slot *s, bool wait)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_nsec = 100000 * (1 + rnd(20)) };

	if (!s->up)
		return;
	if (wait && s->inflight)
		io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
	while (!io_uring_peek_cqe(&s->ring, &cqe)) {
		check_cqe(s, cqe);
		io_uring_cqe_seen(&s->ring, cqe);
		if (s->inflight)
			s->inflight--;
	}
}

static void uring_close(struct uring_slot *s)
{
	if (!s->up)
		return;
	/*
	 * Kernels before 6.7 do not cancel uring_cmds at ring exit: cancel
	 * this worker's waiting commands first (or not, sometimes: then the
	 * commands wait until the worker dies, and its exit cancels them).
	 */
	if (s->inflight && !one_in(4)) {
		unsigned int i;

		for (i = 0; i < NCTX; i++)
			ioctl(atomic_load(&W.ctx[i]), IOPBUF_IOC_CANCEL, 0);
		reap(s, true);
	} else if (s->inflight) {
		return;	/* keep it: closing would hang on 6.1 */
	}
	io_uring_queue_exit(&s->ring);
	s->up = false;
}

/*
 * A lending chain in memory that stays mapped (the module reads it when the
 * command is issued, which IOSQE_ASYNC defers; it writes the results array
 * at the end): per thread, 32 slots used round robin, so that a slot may be
 * rewritten while a command that points at it waits to be issued.
 */
#define LEND_SLOTS	32
#define LEND_SLOT_SIZE	512

/*
 * A chain lending a big slice of the long buffer (slot LONG_IDX): hundreds
 * of thousands of segments for the iterators of its secondaries, which are
 * chosen so that moving the whole slice stays cheap -- WRITE to /dev/null
 * or to a pipe, FIFO or pty (partial, or waiting for room), READ of the
 * 8 KiB regular file, SEND/RECV of at most 1 MiB on a socket.
 */
static void make_long_lend(struct iopbuf_lend *l)
{
	uint64_t off = rnd(W.lng.chunk_pages * 4) * PAGE / 4 + (one_in(4) ? rnd(PAGE) : 0);
	uint64_t max = W.lng.len - (off < W.lng.len ? off : 0);
	unsigned int i, nr = 1 + rnd(4);

	count(OP_LONG_LEND);
	if (off >= W.lng.len)
		off = 0, max = W.lng.len;
	l->src = IOPBUF_LEND_SRC_REGBUF;
	l->dir = IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT;
	l->addr = iopbuf_regbuf_encode(LONG_IDX, off);
	l->len = (uint32_t)(one_in(3) ? (max > 0xffffffffULL ? 0xffffffffULL : max) :
			    1 + rnd((uint32_t)(max < (64U << 20) ? max : 64U << 20)));
	if (one_in(20))
		l->len = (uint32_t)(max + 1 + rnd(PAGE));	/* past the end: -EFAULT */
	l->nr_ops = (uint16_t)nr;
	if (one_in(2))
		l->results = (uintptr_t)((char *)l + sizeof(*l));
	for (i = 0; i < nr; i++) {
		struct iopbuf_lend_op *o = &l->ops[i];
		struct pair *p = &W.pair[rnd(NPAIR)];

		o->off = IOPBUF_LEND_POS;
		switch (rnd(6)) {
		case 0:
		case 1:
			o->opcode = IOPBUF_LEND_OP_WRITE;
			o->fd = W.devnull;
			o->len = one_in(2) ? 0 : l->len;	/* the whole slice */
			break;
		case 2:
			o->opcode = IOPBUF_LEND_OP_WRITE;
			o->fd = pair_wr(p);
			o->len = 1 + rnd(one_in(4) ? l->len : 65536);
			if (p->kind <= P_UNIX_DGRAM && o->len > (1U << 20))
				o->len = 1U << 20;
			break;
		case 3:
			o->opcode = IOPBUF_LEND_OP_READ;
			o->fd = W.nmisc ? W.misc[0] : -1;	/* the regular file */
			o->off = rnd(8192);
			break;
		case 4:
			o->opcode = IOPBUF_LEND_OP_SEND;
			o->fd = atomic_load(&p->a);
			o->len = 1 + rnd(1U << 20);
			break;
		default:
			o->opcode = IOPBUF_LEND_OP_RECV;
			o->fd = atomic_load(&p->a);
			o->len = 1 + rnd(1U << 20);
			break;
		}
		o->buf_off = one_in(2) ? 0 : rnd(l->len);
		if (o->len && (uint64_t)o->buf_off + o->len > l->len)
			o->buf_off = 0;
		if (o->len > l->len)
			o->len = l->len;
	}
}

static __thread struct iopbuf_lend *last_lend;
static __thread struct thread_state *cur_t;	/* the operation thread's own */

static struct iopbuf_lend *make_lend(uint16_t bgid)
{
	static __thread char *slab;
	static __thread unsigned int next;
	struct iopbuf_lend *l;
	unsigned int i, nr;
	bool ring;

	if (!slab) {
		slab = reserve(LEND_SLOTS * LEND_SLOT_SIZE + PAGE);
		if (slab && mprotect(slab, LEND_SLOTS * LEND_SLOT_SIZE, PROT_READ | PROT_WRITE))
			slab = NULL;
		if (!slab)
			return arg_ptr(NULL);
	}
	l = (struct iopbuf_lend *)(slab + (next++ % LEND_SLOTS) * LEND_SLOT_SIZE);
	memset(l, 0, sizeof(*l));
	last_lend = l;
	if (W.lng.p && one_in(6)) {
		make_long_lend(l);
		return l;
	}
	l->src = one_in(10) ? (uint16_t)rnd64() : 1 + rnd(3);
	l->dir = one_in(10) ? (uint16_t)rnd64() : rnd(4);
	nr = one_in(10) ? rnd(256) : 1 + rnd(one_in(3) ? IOPBUF_LEND_MAX_OPS : 2);
	l->nr_ops = (uint16_t)nr;
	/* fields the source does not use must be 0 (-EINVAL): mostly they are */
	ring = l->src == IOPBUF_LEND_SRC_RING;
	if (ring || one_in(20))
		l->bgid = one_in(4) ? pick_bgid() : bgid;
	if (!ring || one_in(20))
		l->len = one_in(8) ? wild32() : 1 + rnd(one_in(4) ? 65536 : 4096);
	switch (l->src) {
	case IOPBUF_LEND_SRC_REGBUF:
		l->addr = one_in(8) ? wild64() : iopbuf_regbuf_encode(rnd(8), rnd(8 * PAGE));
		break;
	case IOPBUF_LEND_SRC_KBUF:
		l->addr = one_in(8) ? wild64() : 1 + rnd(8);
		break;
	default:
		l->addr = one_in(4) ? wild64() : 0;
		break;
	}
	if (one_in(2))	/* results right after the chain, in the slot */
		l->results = (uintptr_t)arg_ptr((char *)l + sizeof(*l));
	if (one_in(40))
		l->resv[rnd(2)] = wild64();
	if (one_in(40))
		l->resv0 = wild32();
	for (i = 0; i < IOPBUF_LEND_MAX_OPS && i < nr; i++) {
		struct iopbuf_lend_op *o = &l->ops[i];
		unsigned int p = rnd(NPAIR);

		o->opcode = one_in(10) ? (uint8_t)rnd(256) : 1 + rnd(4);
		/* mostly a sensible fd for the opcode, sometimes anything */
		if (one_in(6))
			o->fd = pick_any_fd();
		else if (o->opcode == IOPBUF_LEND_OP_READ || o->opcode == IOPBUF_LEND_OP_RECV)
			o->fd = atomic_load(&W.pair[p].a);
		else if (o->opcode == IOPBUF_LEND_OP_WRITE && one_in(2))
			o->fd = pair_wr(&W.pair[p]);	/* pipes, FIFOs, ptys nobody drains */
		else if (one_in(2))
			o->fd = atomic_load(&W.pair[p].b);
		else
			o->fd = W.nmisc ? W.misc[0] : -1;	/* the regular file */
		o->off = one_in(2) ? IOPBUF_LEND_POS : (one_in(4) ? wild64() : rnd(8192));
		o->buf_off = one_in(6) ? wild32() : rnd(4096);
		o->len = one_in(3) ? 0 : (one_in(6) ? wild32() : 1 + rnd(4096));
		if (one_in(40))
			o->resv0 = (uint8_t)rnd(256);
		if (one_in(40))
			o->resv1 = (uint16_t)rnd64();
	}
	return l;
}

static void prep_cmd(struct io_uring_sqe *sqe, int fd, __u32 cmd_op,
		     const void *payload)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, payload, 16);
	sqe->user_data = (__u64)cmd_op << 32 | rnd(1 << 16);
	if (one_in(8))
		sqe->flags |= IOSQE_ASYNC;
	if (one_in(30))
		sqe->flags |= IOSQE_IO_LINK;
	if (one_in(40))
		sqe->rw_flags = (__u32)rnd64();	/* uring_cmd_flags: unknown bits */
}

/* A ring this worker registered (set up right if @want_good) and its context. */
static void pick_target(bool want_good, int *dev, uint16_t *bgid)
{
	unsigned int j, start = rnd(NRING);

	for (j = 0; j < NRING; j++) {
		struct ring_slot *rs = &W.ring[(start + j) % NRING];
		bool found = false;

		pthread_mutex_lock(&rs->lock);
		if (rs->entries && (!want_good || rs->good)) {
			*dev = atomic_load(&W.ctx[rs->ctx]);
			*bgid = rs->bgid;
			found = true;
		}
		pthread_mutex_unlock(&rs->lock);
		if (found)
			break;
	}
}

/* Append "cmd on <fd>" (or a chain's secondaries) to the thread's detail. */
static void note_cmd(struct thread_state *t, __u32 cmd_op, const void *payload)
{
	size_t len = strlen(t->detail);
	char d[64];

	if (len >= sizeof(t->detail) - 40)
		return;
	if (cmd_op == IOPBUF_CMD_RECV || cmd_op == IOPBUF_CMD_READ) {
		const struct iopbuf_cmd_recv *r = payload;

		snprintf(t->detail + len, sizeof(t->detail) - len, "%s%s on %s",
			 len ? "; " : "", cmd_op == IOPBUF_CMD_RECV ? "RECV" : "READ",
			 describe_fd(r->fd, d, sizeof(d)));
	} else if (cmd_op == IOPBUF_CMD_SEND) {
		const struct iopbuf_cmd_send *c = payload;

		snprintf(t->detail + len, sizeof(t->detail) - len, "%sSEND on %s",
			 len ? "; " : "", describe_fd(c->fd, d, sizeof(d)));
	} else if (cmd_op == IOPBUF_CMD_LEND) {
		const struct iopbuf_cmd_lend *c = payload;
		const struct iopbuf_lend *l = (const void *)(uintptr_t)c->addr;
		static const char *const names[] = { "?", "READ", "WRITE", "SEND", "RECV" };
		unsigned int i;

		/* only a chain make_lend() just wrote (not a bad pointer) */
		if (!l || l != last_lend)
			return;
		len += snprintf(t->detail + len, sizeof(t->detail) - len, "%sLEND src %u len %u:",
				len ? "; " : "", l->src, l->len);
		for (i = 0; i < l->nr_ops && i < IOPBUF_LEND_MAX_OPS && len < sizeof(t->detail) - 30; i++)
			len += snprintf(t->detail + len, sizeof(t->detail) - len, " %s %s",
					names[l->ops[i].opcode <= 4 ? l->ops[i].opcode : 0],
					describe_fd(l->ops[i].fd, d, sizeof(d)));
	}
}

static void do_cmd(struct thread_state *t, enum op_kind k)
{
	struct uring_slot *s = &t->u[rnd(NURING)];
	union {
		struct iopbuf_cmd_probe p;
		struct iopbuf_cmd_recv r;
		struct iopbuf_cmd_send s;
		struct iopbuf_cmd_lend l;
		unsigned char raw[16];
	} u;
	struct io_uring_sqe *sqe;
	unsigned int i, n = one_in(4) ? 1 + rnd(4) : 1;
	__u32 cmd_op = 0;
	int dev = pick_ctx_fd();
	uint16_t bgid = pick_bgid();

	/*
	 * Mostly a ring this worker registered, on its context; half of the
	 * time one set up right (do_setup_good), so that transfers happen.
	 */
	if (!one_in(4))
		pick_target(one_in(2), &dev, &bgid);
	t->detail[0] = 0;

	if (!s->up)
		uring_open(s);
	if (!s->up)
		return;
	for (i = 0; i < n; i++) {
		memset(&u, 0, sizeof(u));
		switch (k) {
		case OP_CMD_PROBE:
			cmd_op = IOPBUF_CMD_PROBE;
			u.p.addr = (uintptr_t)arg_ptr(W.reg[0].p);
			u.p.len = one_in(4) ? wild32() : sizeof(struct iopbuf_probe);
			if (one_in(20))
				u.p.resv = wild32();
			break;
		case OP_CMD_RECV:
		case OP_CMD_READ:
			cmd_op = k == OP_CMD_RECV ? IOPBUF_CMD_RECV : IOPBUF_CMD_READ;
			u.r.fd = one_in(10) ? pick_any_fd() :
				 atomic_load(&W.pair[rnd(NPAIR)].a);
			u.r.bgid = one_in(8) ? pick_bgid() : bgid;
			u.r.flags = one_in(2) ? IOPBUF_RECV_BUNDLE : 0;
			if (one_in(20))
				u.r.flags = (__u16)rnd64();
			u.r.len = one_in(3) ? 0 : (one_in(4) ? wild32() : 1 + rnd(8192));
			if (one_in(30))
				u.r.resv = wild32();
			break;
		case OP_CMD_LEND:
			cmd_op = IOPBUF_CMD_LEND;
			u.l.addr = (uintptr_t)make_lend(bgid);
			u.l.len = one_in(20) ? wild32() : sizeof(struct iopbuf_lend);
			if (one_in(30))
				u.l.resv = wild32();
			break;
		case OP_CMD_SEND:
			cmd_op = IOPBUF_CMD_SEND;
			u.s.fd = one_in(10) ? pick_any_fd() :
				 atomic_load(&W.pair[rnd(NPAIR)].a);
			u.s.bgid = one_in(8) ? pick_bgid() : bgid;
			u.s.flags = one_in(2) ? IOPBUF_SEND_BUNDLE : 0;
			if (one_in(20))
				u.s.flags = (__u16)rnd64();
			u.s.len = one_in(3) ? 0 : (one_in(4) ? wild32() : 1 + rnd(16384));
			u.s.msg_flags = one_in(4) ? MSG_MORE : 0;
			if (one_in(20))
				u.s.msg_flags = (__u32)rnd64();
			break;
		default:	/* unknown or mangled command numbers, junk payload */
			cmd_op = one_in(2) ? _IOC(rnd(4), IOPBUF_IOC_MAGIC, rnd(256), rnd(64)) :
					     (__u32)rnd64();
			for (unsigned int j = 0; j < sizeof(u.raw); j++)
				u.raw[j] = (unsigned char)rnd(256);
			break;
		}
		sqe = io_uring_get_sqe(&s->ring);
		if (!sqe)
			break;
		prep_cmd(sqe, one_in(30) ? pick_any_fd() : dev, cmd_op, &u);
		note_cmd(t, cmd_op, &u);
	}
	if (io_uring_submit(&s->ring) > 0)
		s->inflight += n;
	reap(s, one_in(4));
}

/* ------------------------------------------------------------------------
 * Contexts, fork, fault injection
 */

static void do_open(void)
{
	int i = (int)rnd(NCTX);
	int fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	int old = atomic_exchange(&W.ctx[i], fd);

	if (old >= 0 && one_in(2))
		close(old);	/* else leaked until exit, on purpose */
}

static void do_close_ctx(void)
{
	int i = (int)rnd(NCTX);
	int old = atomic_exchange(&W.ctx[i], -1);

	if (old >= 0)
		close(old);
}

static void do_dup_ctx(void)
{
	int from = pick_ctx_fd();
	int i = (int)rnd(NCTX);
	int fd = dup(from), old;

	if (fd < 0)
		return;
	if (one_in(3)) {
		/* dup2 over another context: its number now names this one */
		old = atomic_load(&W.ctx[i]);
		if (old >= 0 && dup2(fd, old) >= 0) {
			close(fd);
			return;
		}
	}
	old = atomic_exchange(&W.ctx[i], fd);
	if (old >= 0)
		close(old);
}

/*
 * A child inherits the contexts, submits commands on its own io_uring and
 * dies: by _exit, or killed by us while they wait.
 */
static void do_fork(void)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		struct io_uring ring;
		struct iopbuf_cmd_recv r = { .bgid = (uint16_t)rnd(NRING) };
		struct io_uring_sqe *sqe;
		unsigned int i;

		/* dies with the thread that forked it, or its worker */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (io_uring_queue_init(8, &ring, IORING_SETUP_CQE32))
			_exit(0);
		for (i = 0; i < 4; i++) {
			sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				break;
			r.fd = atomic_load(&W.pair[rnd(NPAIR)].a);
			r.flags = one_in(2) ? IOPBUF_RECV_BUNDLE : 0;
			prep_cmd(sqe, atomic_load(&W.ctx[rnd(NCTX)]),
				 one_in(3) ? IOPBUF_CMD_SEND : IOPBUF_CMD_RECV, &r);
		}
		io_uring_submit(&ring);
		if (one_in(2)) {
			struct iopbuf_ring_reg reg = { .bgid = (uint16_t)rnd(NRING) };

			ioctl(atomic_load(&W.ctx[rnd(NCTX)]), IOPBUF_IOC_UNREGISTER_RING, &reg);
		}
		if (one_in(2))
			pause();	/* until killed */
		_exit(0);
	}
	usleep(rnd(5000));
	if (!one_in(3)) {
		kill(pid, SIGKILL);
	} else {
		/* let it end by itself, within 1 s (one that pause()s does not) */
		double t0 = now_s();

		while (waitpid(pid, &status, WNOHANG) != pid) {
			if (now_s() - t0 > 1.0) {
				kill(pid, SIGKILL);
				break;
			}
			usleep(2000);
		}
	}
	waitpid(pid, &status, 0);
}

/*
 * The long buffer registered in slot LONG_IDX of a context (a new table of
 * 16 slots whose first 8 are good buffers, or an update of that slot), and
 * a REGBUF ring of good entries into it, up to 8 MiB each, for SEND and
 * RECV bundles: a bundle of them is thousands of segments.
 */
static void do_long_setup(void)
{
	struct iovec iov[16];
	struct ring_slot *rs;
	struct region *r = NULL;
	size_t off, len;
	unsigned int i, el;
	int ci = (int)rnd(NCTX), fd = atomic_load(&W.ctx[ci]);
	double t0;
	long ret;

	if (!W.lng.p)
		return;
	if (fd < 0) {
		fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		atomic_store(&W.ctx[ci], fd);
	}
	memset(iov, 0, sizeof(iov));
	for (i = 0; i < 8; i++) {
		r = pick_region();
		if (r->kind == R_ANON || r->kind == R_MEMFD || r->kind == R_SHM) {
			iov[i].iov_base = r->p;
			iov[i].iov_len = r->len < 8 * PAGE ? r->len : 8 * PAGE;
		}
	}
	/* all of it, or a slice starting and ending anywhere */
	off = one_in(2) ? 0 : rnd((uint32_t)(W.lng.len / 2));
	len = one_in(2) ? W.lng.len - off : 1 + rnd((uint32_t)(W.lng.len - off));
	iov[LONG_IDX].iov_base = W.lng.p + off;
	iov[LONG_IDX].iov_len = len;
	if (cur_t)
		snprintf(cur_t->detail, sizeof(cur_t->detail),
			 "long buffer: %zu bytes, %zu pages in %u mappings",
			 len, (len + PAGE - 1) / PAGE, W.lng.maps);
	t0 = now_s();
	ret = xioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS,
		     &(struct iopbuf_buf_reg){ .iovs = (uintptr_t)iov, .nr = 16 });
	if (ret == -EBUSY)
		ret = xioctl(fd, IOPBUF_IOC_UPDATE_BUFFERS,
			     &(struct iopbuf_buf_reg){ .iovs = (uintptr_t)&iov[LONG_IDX],
						       .nr = 1, .offset = LONG_IDX });
	if ((ret == -EINVAL || ret == -ENXIO) && one_in(2)) {
		/* a table too small for the slot: replace it */
		xioctl(fd, IOPBUF_IOC_UNREGISTER_BUFFERS, NULL);
		ret = xioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS,
			     &(struct iopbuf_buf_reg){ .iovs = (uintptr_t)iov, .nr = 16 });
	}
	el = (unsigned int)((now_s() - t0) * 1000);
	if (el > atomic_load(&sh->long_reg_ms_max))
		atomic_store(&sh->long_reg_ms_max, el);
	if (ret) {
		atomic_fetch_add(&sh->long_reg_errno[ret == -ENOMEM ? 0 : ret == -E2BIG ? 1 :
						   ret == -EFAULT ? 2 : ret == -EINTR ? 3 :
						   ret == -ENXIO || ret == -EINVAL ? 4 : 5], 1);
		return;
	}
	atomic_fetch_add(&sh->long_registered, 1);
	rs = ring_register_good(fd, ci, true, false);
	if (!rs)
		return;
	for (i = 0; i < RING_ENTRIES; i++) {
		struct iopbuf_buf *e = &rs->bufs[i];
		uint32_t elen = long_entry_len();

		if (elen > len)
			elen = (uint32_t)len;
		e->addr = iopbuf_regbuf_encode(LONG_IDX, rnd((uint32_t)(len - elen + 1)));
		e->len = elen;
		e->bid = (uint16_t)i;
	}
	ring_publish_good(rs);
}

/* ------------------------------------------------------------------------
 * userfaultfd: R_UFFD regions whose missing pages a handler fills late
 */

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/*
 * Open an epoch: a new userfaultfd with the R_UFFD regions registered
 * (missing mode). Unprivileged workers need UFFD_USER_MODE_ONLY when
 * vm.unprivileged_userfaultfd is 0: then only the fuzzer's own accesses
 * wait for the handler and the module's fail at once (-EFAULT).
 */
static bool uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int flags = O_CLOEXEC | O_NONBLOCK, fd;
	unsigned int i;

	if (W.uffd.user_only)
		flags |= UFFD_USER_MODE_ONLY;
	fd = (int)syscall(SYS_userfaultfd, flags);
	if (fd < 0 && !W.uffd.user_only && (errno == EPERM || errno == EINVAL)) {
		W.uffd.user_only = true;	/* no CAP_SYS_PTRACE after all */
		fd = (int)syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
		if (fd >= 0)
			atomic_fetch_add(&sh->uffd_user_only, 1);
	}
	if (fd < 0)
		return false;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return false;
	}
	for (i = 0; i < W.uffd.nr; i++) {
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)W.uffd.r[i]->p, .len = W.uffd.r[i]->len },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		ioctl(fd, UFFDIO_REGISTER, &reg);
	}
	W.uffd.fd = fd;
	count(OP_UFFD_EPOCH);
	return true;
}

struct uffd_pending {
	uint64_t addr;
	double due;	/* 0: never (until the epoch ends) */
};

static void uffd_resolve(uint64_t addr, const char *src)
{
	struct uffdio_range rg = { .start = addr & ~(PAGE - 1), .len = PAGE };
	long r;

	if (one_in(3)) {
		struct uffdio_zeropage z = { .range = rg };

		r = ioctl(W.uffd.fd, UFFDIO_ZEROPAGE, &z);
	} else {
		struct uffdio_copy c = { .dst = rg.start, .src = (uintptr_t)src, .len = PAGE };

		r = ioctl(W.uffd.fd, UFFDIO_COPY, &c);
	}
	if (r && errno == EEXIST)	/* filled meanwhile: wake whoever waits */
		ioctl(W.uffd.fd, UFFDIO_WAKE, &rg);
}

/*
 * The handler: epochs of 0.2..1.5 s with a userfaultfd, 0.1..0.6 s without.
 * Each fault is resolved at once (55%), late (35%: 1..100 ms, sometimes
 * 500 ms) or never within its epoch (10%): closing the userfaultfd at the
 * epoch's end lets every waiter through, so nothing waits longer than an
 * epoch. Then, half of the time, the regions' pages are dropped
 * (MADV_DONTNEED; the module's pins keep theirs) to fault again. Pages
 * written by the handler are 'U'.
 */
static void *uffd_handler(void *arg)
{
	static struct uffd_pending pend[512];
	unsigned int npend = 0, i;
	double epoch_end = 0, next_epoch = 0;
	char *src;

	rng = *(uint64_t *)arg;
	W.uffd.fd = -1;
	src = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || !W.uffd.nr)
		return NULL;
	memset(src, 'U', PAGE);
	while (!atomic_load(&W.stop)) {
		struct uffd_msg msg[16];
		struct pollfd pfd;
		double t = now_s();
		ssize_t n;

		if (W.uffd.fd < 0) {
			if (t < next_epoch) {
				usleep(10000);
				continue;
			}
			if (!uffd_open()) {
				atomic_fetch_add(&sh->uffd_unavail, 1);
				return NULL;
			}
			epoch_end = t + 0.2 + rnd(1300) / 1000.0;
		}
		if (t >= epoch_end) {
			close(W.uffd.fd);	/* every waiter goes on */
			W.uffd.fd = -1;
			npend = 0;
			if (one_in(2))
				for (i = 0; i < W.uffd.nr; i++)
					madvise(W.uffd.r[i]->p, W.uffd.r[i]->len, MADV_DONTNEED);
			next_epoch = t + 0.1 + rnd(500) / 1000.0;
			continue;
		}
		pfd.fd = W.uffd.fd;
		pfd.events = POLLIN;
		poll(&pfd, 1, 5);
		while ((n = read(W.uffd.fd, msg, sizeof(msg))) > 0) {
			for (i = 0; i < n / sizeof(msg[0]); i++) {
				unsigned int roll = rnd(100);

				if (msg[i].event != UFFD_EVENT_PAGEFAULT)
					continue;
				count(OP_UFFD_FAULT);
				if (roll < 55 || npend == ARRAY_SIZE(pend)) {
					uffd_resolve(msg[i].arg.pagefault.address, src);
					continue;
				}
				pend[npend].addr = msg[i].arg.pagefault.address;
				if (roll < 90) {
					count(OP_UFFD_LATE);
					pend[npend].due = t + (1 + rnd(one_in(8) ? 500 : 100)) / 1000.0;
				} else {
					count(OP_UFFD_NEVER);
					pend[npend].due = 0;
				}
				npend++;
			}
		}
		t = now_s();
		for (i = 0; i < npend; i++) {
			if (!pend[i].due || pend[i].due > t)
				continue;
			uffd_resolve(pend[i].addr, src);
			pend[i--] = pend[--npend];
		}
	}
	if (W.uffd.fd >= 0)
		close(W.uffd.fd);
	W.uffd.fd = -1;
	return NULL;
}

/* ------------------------------------------------------------------------
 * execve() with commands in flight
 */

static int sh_fd = -1;	/* the shared statistics, a memfd exec'd images map */
extern char **environ;

/*
 * Replace this process by the fuzzer again: "--exec-exit" exits at once,
 * "--exec-worker" runs a fresh worker (seed, ms, threads) in the same
 * process, reporting into the same shared statistics.
 */
static void exec_self(bool as_worker, uint64_t seed, unsigned int ms, unsigned int threads)
{
	char a_seed[32], a_ms[16], a_fd[16], a_thr[16];
	char *argv[10];
	int n = 0;

	snprintf(a_seed, sizeof(a_seed), "%" PRIu64, seed);
	snprintf(a_ms, sizeof(a_ms), "%u", ms);
	snprintf(a_fd, sizeof(a_fd), "%d", sh_fd);
	snprintf(a_thr, sizeof(a_thr), "%u", threads);
	argv[n++] = "fuzz";
	argv[n++] = as_worker ? "--exec-worker" : "--exec-exit";
	argv[n++] = a_fd;
	if (as_worker) {
		argv[n++] = a_seed;
		argv[n++] = a_ms;
		argv[n++] = a_thr;
		argv[n++] = W.ramfs_dir[0] ? W.ramfs_dir : "-";
	}
	argv[n] = NULL;
	execve("/proc/self/exe", argv, environ);
}

/* Something for the exec child's second thread to wait in. */
static void *exec_child_thread(void *arg)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct iopbuf_cmd_recv r = { .bgid = (uint16_t)(uintptr_t)arg };
	struct io_uring_sqe *sqe;
	int p[2];

	if (io_uring_queue_init(4, &ring, IORING_SETUP_CQE32) || pipe(p))
		return NULL;
	sqe = io_uring_get_sqe(&ring);
	r.fd = p[0];	/* an empty pipe: waits */
	prep_cmd(sqe, atomic_load(&W.ctx[rnd(NCTX)]), IOPBUF_CMD_READ, &r);
	io_uring_submit(&ring);
	io_uring_wait_cqe(&ring, &cqe);	/* until execve kills this thread */
	return NULL;
}

/*
 * A forked child puts commands in flight that wait -- RECV on a socket
 * nobody writes to, READ on an empty pipe, FIFO or pty, a lending chain
 * whose first secondary waits, SENDs from a good ring -- on its own
 * io_uring (sometimes without FD_CLOEXEC, and sometimes from a second
 * thread too), then calls execve(): the new image exits at once or runs a
 * short worker. The exec must get through (io_uring cancels the task's
 * requests at exec) within 4 s, whatever the module has in flight.
 */
static void do_exec(struct thread_state *t)
{
	bool as_worker = one_in(3);
	unsigned int ms = 200 + rnd(600), threads = 1 + rnd(2);
	uint64_t cseed = rnd64();
	uint16_t bgid = (uint16_t)rnd(NRING);
	int dev = atomic_load(&W.ctx[rnd(NCTX)]), status = 0;
	double t0, arrived_at = 0;
	pid_t pid;

	pick_target(true, &dev, &bgid);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		struct io_uring ring;
		struct io_uring_sqe *sqe;
		int sv[2] = { -1, -1 }, p[2] = { -1, -1 }, cloexec = one_in(2) ? O_CLOEXEC : 0;
		unsigned int i;
		pthread_t th;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (io_uring_queue_init(16, &ring, IORING_SETUP_CQE32)) {
			exec_self(as_worker, cseed, ms, threads);
			_exit(127);
		}
		if (!cloexec) {	/* the ring and the contexts survive into the new image */
			fcntl(ring.ring_fd, F_SETFD, 0);
			for (i = 0; i < NCTX; i++)
				fcntl(atomic_load(&W.ctx[i]), F_SETFD, 0);
		}
		socketpair(AF_UNIX, SOCK_STREAM | cloexec, 0, sv);
		if (pipe2(p, cloexec))
			p[0] = p[1] = -1;
		for (i = 0; i < 6; i++) {
			union {
				struct iopbuf_cmd_recv r;
				struct iopbuf_cmd_send s;
				struct iopbuf_cmd_lend l;
			} u;
			struct iopbuf_lend *l;
			__u32 op;

			memset(&u, 0, sizeof(u));
			switch (i) {
			case 0:
				op = IOPBUF_CMD_RECV;
				u.r = (struct iopbuf_cmd_recv){ .fd = sv[0], .bgid = bgid,
								.flags = one_in(2) ? IOPBUF_RECV_BUNDLE : 0 };
				break;
			case 1:
				op = IOPBUF_CMD_READ;
				u.r = (struct iopbuf_cmd_recv){ .fd = one_in(2) ? p[0] :
								atomic_load(&W.pair[5 + rnd(2)].a),
								.bgid = bgid };
				break;
			case 2:	/* a chain that waits in its first secondary */
				op = IOPBUF_CMD_LEND;
				l = make_lend(bgid);
				if (!l)
					continue;
				l->src = IOPBUF_LEND_SRC_REGBUF;
				l->dir = IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT;
				l->bgid = 0;
				l->addr = iopbuf_regbuf_encode(rnd(8), 0);
				l->len = PAGE;
				l->nr_ops = 2;
				l->ops[0] = (struct iopbuf_lend_op){ .opcode = IOPBUF_LEND_OP_READ,
					.fd = p[0], .off = IOPBUF_LEND_POS };
				l->ops[1] = (struct iopbuf_lend_op){ .opcode = IOPBUF_LEND_OP_WRITE,
					.fd = pair_wr(&W.pair[rnd(NPAIR)]), .off = IOPBUF_LEND_POS };
				u.l.addr = (uintptr_t)l;
				u.l.len = sizeof(*l);
				break;
			case 3:
				op = IOPBUF_CMD_LEND;
				u.l.addr = (uintptr_t)make_lend(bgid);
				u.l.len = sizeof(struct iopbuf_lend);
				break;
			default:
				op = IOPBUF_CMD_SEND;
				u.s = (struct iopbuf_cmd_send){ .fd = atomic_load(&W.pair[rnd(NPAIR)].a),
								.bgid = bgid,
								.flags = one_in(2) ? IOPBUF_SEND_BUNDLE : 0 };
				break;
			}
			sqe = io_uring_get_sqe(&ring);
			if (!sqe)
				break;
			prep_cmd(sqe, dev, op, &u);
			sqe->flags &= (__u8)~IOSQE_IO_LINK;
		}
		io_uring_submit(&ring);
		if (one_in(3))
			pthread_create(&th, NULL, exec_child_thread, (void *)(uintptr_t)bgid);
		usleep(rnd(3000));
		exec_self(as_worker, cseed, ms, threads);
		_exit(127);
	}
	count(OP_EXEC);
	snprintf(t->detail, sizeof(t->detail), "exec child %d (%s)", pid,
		 as_worker ? "re-entering the worker loop" : "exiting at once");
	/* bounded: arrival within 4 s, then at most ms + 3 s more, then SIGKILL */
	t0 = now_s();
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		double el = now_s() - t0;

		if (w == pid)
			break;
		if (!arrived_at && atomic_load(&sh->exec_arrived[pid & 255]) == pid)
			arrived_at = el;
		if (!arrived_at && el > 4.0) {
			char wchan[64] = "?";

			thread_wchan(pid, pid, wchan, sizeof(wchan));
			fuzz_fail("execve() with commands in flight did not complete in 4 s "
				  "(child %d, wchan %s)", pid, wchan);
			kill(pid, SIGKILL);
			arrived_at = el;
		}
		/* a worker image runs a while, then dies mid-run */
		if (arrived_at && el > arrived_at + (ms % 500) / 1000.0) {
			kill(pid, SIGKILL);
			if (el > arrived_at + 5.5) {
				fuzz_fail("exec child %d not reaped 5 s after SIGKILL", pid);
				return;	/* leave it: PDEATHSIG ends it with us */
			}
		}
		usleep(2000);
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		fuzz_fail("exec child %d died of signal %d", pid, WTERMSIG(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		fuzz_fail("exec child %d: execve(/proc/self/exe) failed", pid);
}

/* Fail the Nth allocation of the next operation (debug kernel only). */
static void arm_fault(struct thread_state *t)
{
	char b[16];
	int l;

	if (t->nth_fd < 0)
		return;
	l = snprintf(b, sizeof(b), "%u", 1 + rnd(one_in(4) ? 100 : 10));
	if (pwrite(t->nth_fd, b, l, 0) != l)
		return;
	count(OP_FAULT);
}

static void disarm_fault(struct thread_state *t)
{
	if (t->nth_fd >= 0 && pwrite(t->nth_fd, "0", 1, 0) != 1)
		t->nth_fd = -1;
}

/* ------------------------------------------------------------------------
 * The operation threads
 */

static const struct {
	enum op_kind k;
	unsigned int weight;
} mix_table[] = {
	{ OP_OPEN, 2 }, { OP_CLOSE_CTX, 1 }, { OP_DUP_CTX, 1 }, { OP_PROBE, 2 },
	{ OP_STATS, 4 }, { OP_REG_BUFS, 8 }, { OP_REG_SPARSE, 2 },
	{ OP_UPDATE_BUFS, 8 }, { OP_UNREG_BUFS, 3 }, { OP_REG_RING, 10 },
	{ OP_UNREG_RING, 4 }, { OP_RING_STATUS, 3 }, { OP_CANCEL, 2 },
	{ OP_BAD_IOCTL, 3 }, { OP_MMAP, 3 }, { OP_MUNMAP, 1 }, { OP_FDINFO, 2 },
	{ OP_PROVIDE, 20 }, { OP_CMD_PROBE, 2 }, { OP_CMD_RECV, 14 },
	{ OP_CMD_READ, 6 }, { OP_CMD_SEND, 14 }, { OP_CMD_BAD, 2 },
	{ OP_REAP, 6 }, { OP_NEW_URING, 1 }, { OP_CLOSE_URING, 1 },
	{ OP_FORK, 1 }, { OP_SETUP_GOOD, 6 }, { OP_KBUF_ALLOC, 3 },
	{ OP_KBUF_FREE, 2 }, { OP_CMD_LEND, 10 }, { OP_EXEC, 1 },
	{ OP_LONG_SETUP, 1 },
};

static enum op_kind pick_op(void)
{
	static unsigned int total;
	unsigned int i, x;

	if (!total)
		for (i = 0; i < ARRAY_SIZE(mix_table); i++)
			total += mix_table[i].weight;
	x = rnd(total);
	for (i = 0; i < ARRAY_SIZE(mix_table); i++) {
		if (x < mix_table[i].weight)
			return mix_table[i].k;
		x -= mix_table[i].weight;
	}
	return OP_STATS;
}

static void run_op(struct thread_state *t, enum op_kind k)
{
	bool fault = W.have_fail_nth && one_in(25) && k != OP_FORK &&
		     k != OP_NEW_URING && k != OP_CLOSE_URING && k != OP_PROVIDE &&
		     k != OP_MMAP && k != OP_MUNMAP && k != OP_EXEC;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	t->detail[0] = 0;
	atomic_store(&t->op_kind, k);
	atomic_store(&t->op_start_ms, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1);
	if (fault)
		arm_fault(t);
	switch (k) {
	case OP_OPEN: do_open(); break;
	case OP_CLOSE_CTX: do_close_ctx(); break;
	case OP_DUP_CTX: do_dup_ctx(); break;
	case OP_PROBE: do_probe(); break;
	case OP_STATS: do_stats(); break;
	case OP_REG_BUFS: do_reg_bufs(false); break;
	case OP_REG_SPARSE: do_reg_bufs(true); break;
	case OP_UPDATE_BUFS: do_update_bufs(); break;
	case OP_UNREG_BUFS: do_unreg_bufs(); break;
	case OP_REG_RING: do_reg_ring(); break;
	case OP_UNREG_RING: do_unreg_ring(); break;
	case OP_RING_STATUS: do_ring_status(); break;
	case OP_CANCEL: do_cancel(); break;
	case OP_BAD_IOCTL: do_bad_ioctl(); break;
	case OP_MMAP: do_mmap(); break;
	case OP_MUNMAP: do_munmap(); break;
	case OP_FDINFO: do_fdinfo(); break;
	case OP_PROVIDE: do_provide(); break;
	case OP_CMD_PROBE:
	case OP_CMD_RECV:
	case OP_CMD_READ:
	case OP_CMD_SEND:
	case OP_CMD_BAD:
		do_cmd(t, k);
		break;
	case OP_REAP: reap(&t->u[rnd(NURING)], true); break;
	case OP_NEW_URING: {
		struct uring_slot *s = &t->u[rnd(NURING)];

		uring_close(s);
		if (!s->up)
			uring_open(s);
		break;
	}
	case OP_CLOSE_URING: uring_close(&t->u[rnd(NURING)]); break;
	case OP_FORK: do_fork(); break;
	case OP_SETUP_GOOD: do_setup_good(); break;
	case OP_KBUF_ALLOC: do_kbuf_alloc(); break;
	case OP_KBUF_FREE: do_kbuf_free(); break;
	case OP_CMD_LEND: do_cmd(t, k); break;
	case OP_EXEC: do_exec(t); break;
	case OP_LONG_SETUP: do_long_setup(); break;
	default: break;
	}
	if (fault)
		disarm_fault(t);
	atomic_store(&t->op_start_ms, 0);
	count(k);
}

static void *op_thread(void *arg)
{
	struct thread_state *t = arg;
	unsigned int i;

	rng = t->seed;
	cur_t = t;
	atomic_store(&t->tid, gettid());
	t->nth_fd = W.have_fail_nth ? open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC) : -1;
	/*
	 * Thread 0 of every worker first runs each kind of operation that no
	 * worker has run yet, once: the first worker to get through its list
	 * covers them all, so a run of any length either covers every kind
	 * or fails its coverage check (no "too short to tell"); the weights
	 * decide everything after.
	 */
	if (t->id == 0)
		for (i = 0; i < ARRAY_SIZE(mix_table) && !atomic_load(&W.stop); i++)
			if (!atomic_load(&sh->ops[mix_table[i].k]))
				run_op(t, mix_table[i].k);
	while (!atomic_load(&W.stop))
		run_op(t, pick_op());
	for (i = 0; i < NURING; i++)
		reap(&t->u[i], false);
	return NULL;
}

/* ------------------------------------------------------------------------
 * A worker process
 */

static unsigned int nr_threads = 3;

static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	struct rlimit rl = { 256 * PAGE, 256 * PAGE };

	if (syscall(SYS_capget, &hdr, data))
		return;
	data[0].effective &= ~(1U << CAP_IPC_LOCK);
	data[0].permitted &= ~(1U << CAP_IPC_LOCK);
	syscall(SYS_capset, &hdr, data);
	setrlimit(RLIMIT_MEMLOCK, &rl);
}

/*
 * uid/gid 65534, no supplementary groups, no capabilities (the uid change
 * clears them) and a small RLIMIT_MEMLOCK, set while still allowed to:
 * every pin is charged and most big ones fail. Dumpable again, so that
 * /proc/thread-self/fail-nth stays writable, and PDEATHSIG set again (a
 * credential change clears it).
 */
static void drop_to_nobody(void)
{
	static const rlim_t lim[] = { 0, 4 * PAGE, 16 * PAGE, 64 * PAGE, 256 * PAGE, 2048 * PAGE };
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = lim[rnd(ARRAY_SIZE(lim))];
	setrlimit(RLIMIT_MEMLOCK, &rl);
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		return;	/* not root to begin with: already unprivileged */
	prctl(PR_SET_DUMPABLE, 1);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	W.unpriv = true;
	count(OP_UNPRIV);
}

/* Is userfaultfd limited to user-mode faults for unprivileged users? */
static bool uffd_unprivileged_kernel_faults(void)
{
	char b[8] = "0";
	int fd = open("/proc/sys/vm/unprivileged_userfaultfd", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, b, sizeof(b) - 1) < 0)
			b[0] = '0';
		close(fd);
	}
	return b[0] == '1';
}

#define STUCK_MS	5000
#define STUCK_SETUP_MS	15000

/*
 * Data-path operations: io_uring submissions, which must never block on
 * the target fd. The others (setup ioctls) may wait behind a context's
 * setup lock held by another thread that waits for a userfaultfd page.
 */
static bool is_data_op(int k)
{
	return k == OP_CMD_PROBE || k == OP_CMD_RECV || k == OP_CMD_READ ||
	       k == OP_CMD_SEND || k == OP_CMD_BAD || k == OP_CMD_LEND;
}

/*
 * The watchdog: an operation thread that has been in one data-path
 * operation for STUCK_MS (another for STUCK_SETUP_MS) and sleeps in the
 * kernel anywhere but in a userfaultfd wait (which an epoch's end
 * releases) is reported once, with what it
 * submitted last and its kernel stack: the module must never block the
 * submitting thread (a pty or FIFO write nobody drains, a read with no
 * data). exec and fork bound their own waits.
 */
static void watchdog(struct thread_state *ts, unsigned int n, bool final)
{
	struct timespec now;
	long long ms;
	unsigned int i;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	for (i = 0; i < n; i++) {
		struct thread_state *t = &ts[i];
		long long start = atomic_load(&t->op_start_ms);
		int k = atomic_load(&t->op_kind);
		char wchan[64] = "", stack[1024];

		if (t->reported || !start ||
		    ms - start < (is_data_op(k) ? STUCK_MS : STUCK_SETUP_MS) ||
		    (!final && (k == OP_EXEC || k == OP_FORK)))
			continue;
		thread_wchan(getpid(), atomic_load(&t->tid), wchan, sizeof(wchan));
		if (!wchan[0] || !strcmp(wchan, "0") || strstr(wchan, "userfault"))
			continue;
		t->reported = true;
		thread_stack(getpid(), atomic_load(&t->tid), stack, sizeof(stack));
		if (strstr(wchan, "pipe_write")) {
			/*
			 * Two writers of one blocking pipe racing for its free
			 * slot: one of them waits, as write(2) would; the
			 * module documents it (pbuf_file_rwf()). Noted only.
			 */
			printf("# fuzz: worker %d thread %u: %.1f s in %s, in pipe_write "
			       "(racing writers of a blocking pipe); last: %s\n",
			       getpid(), t->id, (ms - start) / 1000.0, op_names[k],
			       t->detail[0] ? t->detail : "-");
			continue;
		}
		atomic_fetch_add(&sh->stuck, 1);
		printf("# fuzz: worker %d thread %u: %.1f s in %s, blocked in %s; last: %s; stack: %s\n",
		       getpid(), t->id, (ms - start) / 1000.0, op_names[k], wchan,
		       t->detail[0] ? t->detail : "-", stack[0] ? stack : "(unreadable)");
		fuzz_fail("worker thread blocked %.1f s in %s at %s (last: %.100s)",
			  (ms - start) / 1000.0, op_names[k], wchan, t->detail);
	}
}

static void __attribute__((noreturn)) worker(uint64_t seed, unsigned int ms)
{
	pthread_t th[8 + 3];
	static struct thread_state ts[8];
	struct timespec end;
	unsigned int i, n = nr_threads > 8 ? 8 : nr_threads, roll;
	uint64_t scribble_seed = mix(seed ^ 0x5c1b), peer_seed = mix(seed ^ 0xbee5);
	uint64_t uffd_seed = mix(seed ^ 0xfa17), exec_seed;
	double t0 = now_s(), exec_at = 0;
	bool exec_worker = false, uffd_up;

	rng = mix(seed);
	W.unpriv = getuid() != 0;
	/*
	 * Half the workers are charged against RLIMIT_MEMLOCK: a quarter
	 * drop CAP_IPC_LOCK, a quarter become uid/gid 65534.
	 */
	roll = rnd(4);
	if (roll == 0)
		drop_ipc_lock();
	else if (roll == 1)
		drop_to_nobody();
	/* userfaultfd for kernel faults needs privilege, or the sysctl */
	W.uffd.user_only = W.unpriv ? !uffd_unprivileged_kernel_faults() || one_in(2) : one_in(4);
	if (W.uffd.user_only)
		atomic_fetch_add(&sh->uffd_user_only, 1);
	/* a quarter of the workers execve() themselves mid-run */
	if (one_in(4)) {
		exec_at = t0 + rnd(ms) / 1000.0;
		exec_worker = one_in(2);
	}
	exec_seed = mix(seed ^ 0xe8ec);
	worker_setup();
	memset(ts, 0, sizeof(ts));
	for (i = 0; i < n; i++) {
		ts[i].id = i;
		ts[i].seed = mix(seed + i + 1);
		pthread_create(&th[i], NULL, op_thread, &ts[i]);
	}
	pthread_create(&th[n], NULL, scribbler, &scribble_seed);
	pthread_create(&th[n + 1], NULL, peers, &peer_seed);
	uffd_up = !pthread_create(&th[n + 2], NULL, uffd_handler, &uffd_seed);

	while (now_s() < t0 + ms / 1000.0) {
		usleep(20000);
		watchdog(ts, n, false);
		if (exec_at && now_s() >= exec_at) {
			/* every thread mid-operation, commands in flight */
			double left = t0 + ms / 1000.0 - now_s();

			count(OP_WORKER_EXEC);
			exec_self(exec_worker, exec_seed, left > 0.3 ? (unsigned int)(left * 1000) : 300,
				  n);
			exec_at = 0;	/* failed: go on */
		}
	}
	/*
	 * An orderly end (the supervisor kills most workers before this):
	 * the userfaultfd handler first, whose exit lets every fault through,
	 * then the others, each within 10 s or reported.
	 */
	atomic_store(&W.stop, true);
	if (uffd_up)
		pthread_join(th[n + 2], NULL);
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += 10;
	for (i = 0; i < n + 2; i++) {
		char wchan[64] = "", stack[1024];
		struct thread_state *t = &ts[i];
		long long start;

		if (!pthread_timedjoin_np(th[i], NULL, &end))
			continue;
		if (i >= n) {
			fuzz_fail("worker %d: %s thread did not stop within 10 s", getpid(),
				  i == n ? "scribbler" : "peer");
			continue;
		}
		/*
		 * Still in the kernel: sleeping there is a hang (reported);
		 * running (wchan 0: e.g. pinning a long buffer under TCG) is
		 * only slow (noted).
		 */
		start = atomic_load(&t->op_start_ms);
		thread_wchan(getpid(), atomic_load(&t->tid), wchan, sizeof(wchan));
		thread_stack(getpid(), atomic_load(&t->tid), stack, sizeof(stack));
		printf("# fuzz: worker %d thread %u: not stopped 10 s after the end, in %s "
		       "for %.1f s, wchan %s; last: %s; stack: %s\n", getpid(), i,
		       op_names[atomic_load(&t->op_kind)],
		       start ? (now_s() * 1000 - start) / 1000.0 : 0.0, wchan[0] ? wchan : "?",
		       t->detail[0] ? t->detail : "-", stack[0] ? stack : "(unreadable)");
		if (wchan[0] && strcmp(wchan, "0"))
			fuzz_fail("worker %d: thread %u blocked at %s in %s, 10 s after the end",
				  getpid(), i, wchan, op_names[atomic_load(&t->op_kind)]);
		break;
	}
	if (W.tmpdir[0])
		rmdir(W.tmpdir);
	_exit(0);
}

/* ------------------------------------------------------------------------
 * The supervisor
 */

static long sysfs_read(const char *attr)
{
	char path[128], buf[64] = "";
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", SYSFS_DIR, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1000000;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1000000;
}

static const char *const counters[] = {
	"pinned_pages", "charged_pages", "inflight", "notifs", "contexts",
};

/* The state and wait channel of @pid, for a report; "?" if gone. */
static void proc_state(pid_t pid, char *buf, size_t size)
{
	char path[64], stat[512], wchan[64] = "?";
	char *p, state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(stat, sizeof(stat), f)) {
			p = strrchr(stat, ')');
			if (p && p[1] == ' ')
				state = p[2];
		}
		fclose(f);
	}
	thread_wchan(pid, pid, wchan, sizeof(wchan));
	snprintf(buf, size, "state %c wchan %s", state, wchan);
}

/*
 * Processes running this program other than us: report each (@report)
 * with its state and wait channel, and SIGKILL it. Return: how many.
 */
static int kill_strays(bool report)
{
	char self[PATH_MAX], exe[PATH_MAX], path[64], st[128];
	struct dirent *e;
	ssize_t len;
	int n = 0;
	DIR *d;

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	d = opendir("/proc");
	if (len <= 0 || !d) {
		if (d)
			closedir(d);
		return 0;
	}
	self[len] = 0;
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		len = readlink(path, exe, sizeof(exe) - 1);
		if (len <= 0)
			continue;
		exe[len] = 0;
		if (strcmp(exe, self))
			continue;
		if (report) {
			proc_state(pid, st, sizeof(st));
			printf("# fuzz: stray process %d (%s) outlived its "
			       "worker: killed\n", (int)pid, st);
		}
		kill(pid, SIGKILL);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * Processes running this program that outlived the workers (an exec'd
 * image's own children, holders that pause(), or one stuck in the kernel)
 * hold files, hence contexts, rings and commands: the counters cannot
 * return to zero while they live. Report each with its state and wait
 * channel (a task asleep in the module would be a finding), SIGKILL it,
 * and give them 10 s to go.
 */
static void reap_strays(void)
{
	int n = kill_strays(true), tries;

	for (tries = 0; n && tries < 100 && kill_strays(false); tries++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(100000);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (n)
		printf("# fuzz: %d stray processes killed before the counters "
		       "check%s\n", n, kill_strays(false) ?
		       "; some survive SIGKILL" : "");
}

static bool counters_zero(char *desc, size_t size)
{
	size_t len = 0;
	bool zero = true;
	unsigned int i;

	desc[0] = 0;
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		long v = sysfs_read(counters[i]);

		zero &= v == 0;
		len += snprintf(desc + len, len < size ? size - len : 0, "%s%s %ld",
				i ? ", " : "", counters[i], v);
	}
	return zero;
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static void usage(void)
{
	fprintf(stderr, "usage: fuzz [--seconds N] [--seed N] [--workers N] [--threads N]\n"
		"            [--no-regressions]\n"
		"  (env: FUZZ_SECONDS, FUZZ_SEED, FUZZ_WORKERS, FUZZ_THREADS)\n");
	exit(2);
}

/* ------------------------------------------------------------------------
 * Regressions: what random runs found, replayed deterministically first.
 */

/* One uring_cmd on a fresh CQE32 ring; its cqe->res, or -ETIME. */
static int regress_cmd(int dev, __u32 cmd_op, const void *payload)
{
	struct __kernel_timespec ts = { .tv_sec = 10 };
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(4, &ring, IORING_SETUP_CQE32);
	if (ret)
		return ret;
	sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		io_uring_queue_exit(&ring);
		return -EBUSY;
	}
	prep_cmd(sqe, dev, cmd_op, payload);
	sqe->flags = 0;
	sqe->rw_flags = 0;
	ret = io_uring_submit(&ring);
	if (ret == 1)
		ret = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
	else
		ret = ret < 0 ? ret : -EIO;
	if (!ret) {
		ret = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	return ret;
}

/*
 * fd INT_MIN in RECV, READ and SEND: the module's pbuf_op_alloc() took it
 * for its internal "no file" value (PBUF_OP_NO_FILE), left op->file NULL
 * and dereferenced it (KASAN null-ptr-deref in sock_from_file() from
 * pbuf_cmd_recv(); found by this fuzzer, seed 6712941574044150210; fixed
 * by "module: a negative fd in RECV, READ or SEND is -EBADF"). Every fd
 * that is not open must fail with -EBADF.
 */
static bool regress_bad_fds(void)
{
	static const int fds[] = { INT_MIN, INT_MIN + 1, -1, INT_MAX };
	static const __u32 cmds[] = { IOPBUF_CMD_SEND, IOPBUF_CMD_RECV, IOPBUF_CMD_READ };
	struct iopbuf_ring_reg reg = {
		.ring_entries = 8, .bgid = 0, .flags = IOPBUF_RING_MMAP,
	};
	bool ok = true;
	unsigned int i, j;
	int dev;

	dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (dev < 0 || ioctl(dev, IOPBUF_IOC_REGISTER_RING, &reg)) {
		printf("FAIL: regress_bad_fds: setup: %s\n", strerror(errno));
		if (dev >= 0)
			close(dev);
		return false;
	}
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		for (j = 0; j < ARRAY_SIZE(fds); j++) {
			union {
				struct iopbuf_cmd_recv r;
				struct iopbuf_cmd_send s;
			} u;
			int res;

			memset(&u, 0, sizeof(u));
			if (cmds[i] == IOPBUF_CMD_SEND)
				u.s.fd = fds[j];
			else
				u.r.fd = fds[j];
			printf("# regress_bad_fds: cmd %#x fd %d\n", cmds[i], fds[j]);
			res = regress_cmd(dev, cmds[i], &u);
			if (res != -EBADF) {
				printf("FAIL: regress_bad_fds: cmd %#x with fd %d: res %d, want %d (-EBADF)\n",
				       cmds[i], fds[j], res, -EBADF);
				ok = false;
			}
		}
	}
	close(dev);
	if (ok)
		printf("PASS: regress_bad_fds\n");
	return ok;
}

/* Wait for one CQE on @ring; if none comes in 5 s, cancel @dev's commands. */
static int regress_wait(struct io_uring *ring, int dev)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	struct io_uring_cqe *cqe;
	int ret, tries;

	for (tries = 0; tries < 2; tries++) {
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (!ret) {
			ret = cqe->res;
			io_uring_cqe_seen(ring, cqe);
			return ret;
		}
		ioctl(dev, IOPBUF_IOC_CANCEL, 0);
	}
	return -ETIME;
}

/*
 * Ring entries (user addresses) longer than the kernel ever passes to a
 * socket: one of 0xffffffff bytes, or a bundle of two of 0x7fffffff, sent
 * on a unix stream socket. The module handed sock_sendmsg() an iterator of
 * more than MAX_RW_COUNT (INT_MAX & PAGE_MASK) bytes -- the syscalls and
 * io_uring's own buffer selection clamp to it (import_ubuf) --,
 * unix_stream_sendmsg() truncated the length to int (-1), and
 * skb_put(skb, -1) hit "kernel BUG at net/core/skbuff.c:209"
 * (skb_over_panic; found by this fuzzer, seed 15835342684176755463). Any
 * completion is fine here (bytes sent, -EFAULT, -ECANCELED): the kernel
 * must survive.
 */
static bool regress_huge_len(void)
{
	static const struct {
		__u32 len[2];
		__u16 flags;
	} cases[] = {
		{ { 0xffffffff, 0 }, 0 },
		{ { 0x7fffffff, 0x7fffffff }, IOPBUF_SEND_BUNDLE },
		{ { 0x80000000, 0 }, 0 },
	};
	struct iopbuf_ring_reg reg = { .ring_entries = 8, .bgid = 0 };
	struct iopbuf_cmd_send cmd = { .bgid = 0 };
	struct io_uring_sqe *sqe;
	struct iopbuf_buf *bufs;
	struct io_uring ring;
	char *mem;
	bool ok = true;
	unsigned int i, j;
	int dev, sv[2], res;

	mem = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED)
		return false;
	memset(mem + PAGE, 'h', 2 * PAGE);
	bufs = (struct iopbuf_buf *)mem;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		reg.ring_addr = (uintptr_t)mem;
		memset(bufs, 0, PAGE);
		if (dev < 0 || ioctl(dev, IOPBUF_IOC_REGISTER_RING, &reg) ||
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) ||
		    io_uring_queue_init(4, &ring, IORING_SETUP_CQE32)) {
			printf("FAIL: regress_huge_len: setup: %s\n", strerror(errno));
			munmap(mem, 3 * PAGE);
			return false;
		}
		for (j = 0; j < 2 && cases[i].len[j]; j++) {
			bufs[j].addr = (uintptr_t)mem + PAGE;
			bufs[j].len = cases[i].len[j];
			bufs[j].bid = (__u16)j;
		}
		__atomic_store_n(&bufs[0].resv, (__u16)j, __ATOMIC_RELEASE);
		cmd.fd = sv[0];
		cmd.flags = cases[i].flags;
		printf("# regress_huge_len: SEND of %u entries of %#x bytes on a unix socket\n",
		       j, cases[i].len[0]);
		sqe = io_uring_get_sqe(&ring);
		res = -EIO;
		if (sqe) {
			prep_cmd(sqe, dev, IOPBUF_CMD_SEND, &cmd);
			sqe->flags = 0;
			sqe->rw_flags = 0;
			if (io_uring_submit(&ring) == 1)
				res = regress_wait(&ring, dev);
		}
		if (res == -ETIME || res == -EIO) {
			printf("FAIL: regress_huge_len: case %u: no completion (%d)\n", i, res);
			ok = false;
		}
		io_uring_queue_exit(&ring);
		close(sv[0]);
		close(sv[1]);
		close(dev);
	}
	munmap(mem, 3 * PAGE);
	if (ok)
		printf("PASS: regress_huge_len\n");
	return ok;
}

static long saved_hugepages = -1;

static void hugepages(long want)
{
	char b[32];
	int fd = open("/proc/sys/vm/nr_hugepages", O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	if (want < 0) {
		n = read(fd, b, sizeof(b) - 1);
		if (n > 0) {
			b[n] = 0;
			saved_hugepages = strtol(b, NULL, 10);
		}
		if (saved_hugepages >= 0 && saved_hugepages < 16 &&
		    write(fd, "16", 2) < 0)
			saved_hugepages = -1;
	} else {
		n = snprintf(b, sizeof(b), "%ld", want);
		if (write(fd, b, n) < 0)
			perror("nr_hugepages");
	}
	close(fd);
}

int main(int argc, char **argv)
{
	unsigned long seconds = env_ul("FUZZ_SECONDS", 60);
	uint64_t seed = env_ul("FUZZ_SEED", 0);
	unsigned long workers = env_ul("FUZZ_WORKERS", 2);
	pid_t pids[16] = { 0 };
	bool regressions = true;
	unsigned long started = 0, killed = 0, i, waited;
	unsigned long long total = 0;
	double t0, t_end, elapsed;
	char desc[256];
	bool ok = true, zero = false;
	int a;

	nr_threads = (unsigned int)env_ul("FUZZ_THREADS", 3);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* an image exec'd by a worker or its child (see exec_self) */
	if (argc >= 3 && (!strcmp(argv[1], "--exec-exit") || !strcmp(argv[1], "--exec-worker"))) {
		sh_fd = atoi(argv[2]);
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, sh_fd, 0);
		if (sh == MAP_FAILED)
			_exit(126);
		atomic_store(&sh->exec_arrived[getpid() & 255], getpid());
		if (!strcmp(argv[1], "--exec-exit") || argc < 7)
			_exit(0);
		count(OP_EXEC_WORKER);
		nr_threads = (unsigned int)strtoul(argv[5], NULL, 0);
		if (strcmp(argv[6], "-"))
			snprintf(W.ramfs_dir, sizeof(W.ramfs_dir), "%s", argv[6]);
		W.have_fail_nth = !access("/proc/thread-self/fail-nth", W_OK);
		W.exec_image = true;
		worker(strtoull(argv[3], NULL, 0), (unsigned int)strtoul(argv[4], NULL, 0));
	}
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--no-regressions")) {
			regressions = false;
			continue;
		}
		if (a + 1 >= argc)
			usage();
		if (!strcmp(argv[a], "--seconds"))
			seconds = strtoul(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--seed"))
			seed = strtoull(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--workers"))
			workers = strtoul(argv[++a], NULL, 0);
		else if (!strcmp(argv[a], "--threads"))
			nr_threads = (unsigned int)strtoul(argv[++a], NULL, 0);
		else
			usage();
	}
	if (!workers || workers > ARRAY_SIZE(pids) || !nr_threads)
		usage();
	if (!seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = mix((uint64_t)ts.tv_sec * 1000000007ULL ^ (uint64_t)ts.tv_nsec ^
			   (uint64_t)getpid() << 32);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# fuzz: seed %" PRIu64 " (replay: FUZZ_SEED=%" PRIu64 "), %lu s, %lu workers x %u threads\n",
	       seed, seed, seconds, workers, nr_threads);
	if (access(IOPBUF_DEVICE_PATH, R_OK | W_OK)) {
		printf("FAIL: fuzz: %s: %s\n", IOPBUF_DEVICE_PATH, strerror(errno));
		return 1;
	}
	/* a memfd without FD_CLOEXEC: images exec'd by workers map it too */
	sh_fd = memfd_create("fuzz-shared", 0);
	if (sh_fd < 0 || ftruncate(sh_fd, sizeof(*sh)))
		sh = MAP_FAILED;
	else
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, sh_fd, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(sh, 0, sizeof(*sh));
	W.have_fail_nth = !access("/proc/thread-self/fail-nth", W_OK);
	if (W.have_fail_nth)
		printf("# fuzz: fault injection available: ~4%% of operations fail an allocation\n");
	/* a ramfs for page-cache memory the module must refuse to pin */
	snprintf(W.ramfs_dir, sizeof(W.ramfs_dir), "/tmp/fuzz-ramfs.%d", getpid());
	if (mkdir(W.ramfs_dir, 0700) || mount("fuzz", W.ramfs_dir, "ramfs", 0, NULL)) {
		rmdir(W.ramfs_dir);
		W.ramfs_dir[0] = 0;
	} else {
		chmod(W.ramfs_dir, 01777);	/* for the uid 65534 workers too */
	}
	if (!uffd_unprivileged_kernel_faults())
		printf("# fuzz: vm.unprivileged_userfaultfd=0: uid 65534 workers use "
		       "UFFD_USER_MODE_ONLY (the module's accesses to their userfaultfd "
		       "memory fail at once); root workers' waits reach the module\n");
	hugepages(-1);
	signal(SIGPIPE, SIG_IGN);
	/* what earlier runs found, deterministically, before random runs */
	rng = mix(seed ^ 0x7e57);
	if (regressions && !regress_bad_fds())
		ok = false;
	if (regressions && !regress_huge_len())
		ok = false;
	rng = mix(seed);

	t0 = now_s();
	t_end = t0 + (double)seconds;
	while (now_s() < t_end) {
		for (i = 0; i < workers; i++) {
			int status;

			if (pids[i] > 0) {
				if (waitpid(pids[i], &status, WNOHANG) != pids[i])
					continue;
				if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
					killed++;
				if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
					printf("FAIL: fuzz: worker %d died of signal %d\n",
					       pids[i], WTERMSIG(status));
					ok = false;
				}
				pids[i] = 0;
			}
			/* each worker's seed follows from the run's seed */
			{
				uint64_t wseed = mix(seed + 0x9e3779b97f4a7c15ULL * (started + 1));
				unsigned int life = 3000 + (unsigned int)(mix(wseed) % 9000);

				pids[i] = fork();
				if (pids[i] == 0)
					worker(wseed, life);
				if (pids[i] < 0) {
					pids[i] = 0;
					continue;
				}
				started++;
			}
		}
		/*
		 * Kill a random worker now and then: about half of them die by
		 * SIGKILL, mid-operation, the others reach their end.
		 */
		usleep(200000 + rnd(800000));
		if (one_in(6)) {
			i = rnd((uint32_t)workers);
			if (pids[i] > 0)
				kill(pids[i], SIGKILL);
		}
	}
	for (i = 0; i < workers; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
	elapsed = now_s() - t0;
	if (W.ramfs_dir[0]) {
		umount2(W.ramfs_dir, MNT_DETACH);
		rmdir(W.ramfs_dir);
	}

	/* images that outlived their worker: their files hold contexts */
	reap_strays();

	/* everything torn down: io_uring exit work, notifications, RCU */
	for (waited = 0; waited < 600; waited++) {
		zero = counters_zero(desc, sizeof(desc));
		if (zero)
			break;
		usleep(100000);
	}
	if (saved_hugepages >= 0)
		hugepages(saved_hugepages);

	/* operations that enter the module (not ring writes, reaping, peers) */
	for (i = 0; i < NR_OPS; i++)
		if (!is_meta((unsigned int)i))
			total += atomic_load(&sh->ops[i]);
	printf("# fuzz: operations by kind:");
	for (i = 0; i < NR_OPS; i++)
		printf(" %s=%llu", op_names[i], (unsigned long long)atomic_load(&sh->ops[i]));
	printf("\n# fuzz: %llu completions (%llu errors, %llu consumed buffers, %llu bytes moved); errors:",
	       (unsigned long long)atomic_load(&sh->completions),
	       (unsigned long long)atomic_load(&sh->cqe_errors),
	       (unsigned long long)atomic_load(&sh->cqe_buffers),
	       (unsigned long long)atomic_load(&sh->bytes));
	for (i = 1; i < ARRAY_SIZE(sh->cqe_errno); i++)
		if (atomic_load(&sh->cqe_errno[i]))
			printf(" %s=%llu", strerrorname_np((int)i) ?: "?",
			       (unsigned long long)atomic_load(&sh->cqe_errno[i]));
	printf("\n# fuzz: %llu operations on the module in %.1f s: %.0f ops/s "
	       "(plus %llu ring entry updates, %llu scribbles, %llu peer socket "
	       "operations); %lu workers, %lu killed mid-run\n",
	       total, elapsed, total / elapsed,
	       (unsigned long long)atomic_load(&sh->ops[OP_PROVIDE]),
	       (unsigned long long)atomic_load(&sh->ops[OP_SCRIBBLE]),
	       (unsigned long long)atomic_load(&sh->ops[OP_PEER_IO]),
	       started, killed);

	printf("# fuzz: exec: %llu children exec'd with commands in flight, %llu workers exec'd "
	       "themselves, %llu images re-entered the worker loop; %llu workers ran as uid 65534\n",
	       (unsigned long long)atomic_load(&sh->ops[OP_EXEC]),
	       (unsigned long long)atomic_load(&sh->ops[OP_WORKER_EXEC]),
	       (unsigned long long)atomic_load(&sh->ops[OP_EXEC_WORKER]),
	       (unsigned long long)atomic_load(&sh->ops[OP_UNPRIV]));
	printf("# fuzz: userfaultfd: %llu faults (%llu resolved late, %llu only at their "
	       "epoch's end) in %llu epochs; %u workers user-mode only, %u without userfaultfd\n",
	       (unsigned long long)atomic_load(&sh->ops[OP_UFFD_FAULT]),
	       (unsigned long long)atomic_load(&sh->ops[OP_UFFD_LATE]),
	       (unsigned long long)atomic_load(&sh->ops[OP_UFFD_NEVER]),
	       (unsigned long long)atomic_load(&sh->ops[OP_UFFD_EPOCH]),
	       atomic_load(&sh->uffd_user_only), atomic_load(&sh->uffd_unavail));
	printf("# fuzz: long buffers: up to %u pages in %u mappings, %u of %llu registrations "
	       "made, %llu lending chains on them; pty failures %u\n",
	       atomic_load(&sh->long_pages_max), atomic_load(&sh->long_maps_max),
	       atomic_load(&sh->long_registered),
	       (unsigned long long)atomic_load(&sh->ops[OP_LONG_SETUP]),
	       (unsigned long long)atomic_load(&sh->ops[OP_LONG_LEND]),
	       atomic_load(&sh->pty_unavail));
	printf("# fuzz: long registrations: slowest %u ms; failed: ENOMEM %u, E2BIG %u, "
	       "EFAULT %u, EINTR %u, ENXIO/EINVAL %u, other %u\n",
	       atomic_load(&sh->long_reg_ms_max), atomic_load(&sh->long_reg_errno[0]),
	       atomic_load(&sh->long_reg_errno[1]), atomic_load(&sh->long_reg_errno[2]),
	       atomic_load(&sh->long_reg_errno[3]), atomic_load(&sh->long_reg_errno[4]),
	       atomic_load(&sh->long_reg_errno[5]));
	if (atomic_load(&sh->failures)) {
		printf("FAIL: fuzz_invariants: %u violations, first: %s\n",
		       atomic_load(&sh->failures), sh->first_failure);
		ok = false;
	} else {
		printf("PASS: fuzz_invariants\n");
	}
	/*
	 * Every kind of operation ran: each worker's thread 0 starts with the
	 * kinds not yet seen (op_thread()), so a kind that never ran is a
	 * failure whatever the run's length.
	 */
	for (i = 0; i < ARRAY_SIZE(mix_table); i++)
		if (!atomic_load(&sh->ops[mix_table[i].k]))
			break;
	if (i == ARRAY_SIZE(mix_table)) {
		printf("PASS: fuzz_coverage\n");
	} else {
		printf("FAIL: fuzz_coverage: operation %s never ran in %llu\n",
		       op_names[mix_table[i].k], total);
		ok = false;
	}
	if (zero) {
		printf("PASS: fuzz_counters_zero (after %.1f s)\n", waited / 10.0);
	} else {
		printf("FAIL: fuzz_counters_zero: after 60 s: %s\n", desc);
		ok = false;
	}
	printf("# fuzz: seed %" PRIu64 ": %s\n", seed, ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
