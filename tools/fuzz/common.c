// SPDX-License-Identifier: GPL-2.0
/* fuzz: random numbers, the statistics shared with the supervisor, the SIGSEGV guard, time and thread state. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * Random numbers: one xorshift64* state per thread, derived from the seed.
 */

__thread uint64_t rng;

uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x ?: 1;	/* xorshift never leaves 0 */
}

uint64_t rnd64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)(rnd64() % n) : 0;
}

bool one_in(uint32_t n)
{
	return rnd(n) == 0;
}

uint64_t pick_u64(const uint64_t *v, size_t n)
{
	return v[rnd((uint32_t)n)];
}

/* A "boundary-ish" 32-bit value: limits, limits +- 1, or random. */
uint32_t wild32(void)
{
	static const uint64_t v[] = {
		0, 1, 2, 3, 7, 8, 15, 16, 63, 64, 255, 256, 4095, 4096, 4097,
		32767, 32768, 32769, 65535, 65536, 65537, (1 << 20) - 1, 1 << 20,
		(1 << 20) + 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	};

	return one_in(4) ? (uint32_t)rnd64() : (uint32_t)pick_u64(v, ARRAY_SIZE(v));
}

uint64_t wild64(void)
{
	static const uint64_t v[] = {
		0, 1, 4095, 4096, 1ULL << 32, (1ULL << 40) - 1, 1ULL << 40,
		(1ULL << 44) - 1, 1ULL << 44, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, 0xffffffffffff0000ULL, ~0ULL,
		0xffff888000000000ULL, 0xffffffff81000000ULL,
	};

	return one_in(3) ? rnd64() : pick_u64(v, ARRAY_SIZE(v));
}

/*
 * Now and then (one time in @n) a wild value into a field the caller set
 * right: reserved fields, ids, offsets, lengths. The _in forms write one
 * of the @nr elements of @a, drawing the index only when they write.
 */
void sometimes_wild32(__u32 *f, uint32_t n)
{
	if (one_in(n))
		*f = wild32();
}

void sometimes_wild64(__u64 *f, uint32_t n)
{
	if (one_in(n))
		*f = wild64();
}

void sometimes_wild32_in(__u32 *a, unsigned int nr, uint32_t n)
{
	if (one_in(n))
		a[rnd(nr)] = wild32();
}

void sometimes_wild64_in(__u64 *a, unsigned int nr, uint32_t n)
{
	if (one_in(n))
		a[rnd(nr)] = wild64();
}

/* ------------------------------------------------------------------------
 * Shared with the supervisor (MAP_SHARED): statistics and failures.
 */

const char *const op_names[NR_OPS] = {
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
bool is_meta(unsigned int k)
{
	return k == OP_SCRIBBLE || k == OP_PEER_IO || k == OP_REMAP ||
	       k == OP_SOCK_SWAP || k == OP_PROVIDE || k == OP_REAP ||
	       k == OP_FAULT || k >= OP_WORKER_EXEC;
}

struct shared *sh;

void __attribute__((format(printf, 1, 2))) fuzz_fail(const char *fmt, ...)
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

void count(enum op_kind k)
{
	atomic_fetch_add_explicit(&sh->ops[k], 1, memory_order_relaxed);
}

/* ------------------------------------------------------------------------
 * SIGSEGV guard for writes into memory that may be unmapped meanwhile.
 */

__thread sigjmp_buf *guard;

void on_segv(int sig, siginfo_t *si, void *uc)
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
void __attribute__((noinline)) guarded(void (*fn)(void *), void *arg)
{
	sigjmp_buf jb;

	if (!sigsetjmp(jb, 1)) {
		guard = &jb;
		fn(arg);
	}
	guard = NULL;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * /proc/@pid/task/@tid/@file into @buf, NUL-terminated: its length, or -1
 * with @buf untouched when it cannot be opened or read.
 */
static ssize_t read_task_file(pid_t pid, pid_t tid, const char *file,
			      char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", pid, tid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

/* Where thread @tid of process @pid sleeps in the kernel ("0": running). */
void thread_wchan(pid_t pid, pid_t tid, char *buf, size_t size)
{
	read_task_file(pid, tid, "wchan", buf, size);
}

/* Its kernel stack, when readable (root), on one line. */
void thread_stack(pid_t pid, pid_t tid, char *buf, size_t size)
{
	ssize_t n, i;

	buf[0] = 0;
	n = read_task_file(pid, tid, "stack", buf, size);
	for (i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
}
