/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tools/fuzz: what the fuzzer's files share -- its types, the worker's
 * objects (struct world W), the statistics shared with the supervisor,
 * and the functions one file offers the others. main.c says what the
 * fuzzer does.
 */
#ifndef IOPBUF_FUZZ_H
#define IOPBUF_FUZZ_H

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

struct world {
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
};

#define LONG_IDX	8	/* registered-buffer slot of the long buffer */

/* A consistent view of a ring slot: write only within b[0 .. entries). */
struct ring_write {
	struct ring_slot *rs;
	struct iopbuf_buf *b;
	unsigned int entries;	/* the ring's, or fewer when span is short */
	unsigned int mask;	/* the ring's */
	bool regbuf;
	uint16_t tail;
};

struct memset_args {
	char *p;
	size_t len;
	int c;
};

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

/*
 * A lending chain in memory that stays mapped (the module reads it when the
 * command is issued, which IOSQE_ASYNC defers; it writes the results array
 * at the end): per thread, 32 slots used round robin, so that a slot may be
 * rewritten while a command that points at it waits to be issued.
 */
#define LEND_SLOTS	32

#define LEND_SLOT_SIZE	512

#ifndef UFFD_USER_MODE_ONLY

#define UFFD_USER_MODE_ONLY 1

#endif

struct uffd_pending {
	uint64_t addr;
	double due;	/* 0: never (until the epoch ends) */
};

/* The operations workers pick from, and their weights (worker.c). */
struct mix_entry {
	enum op_kind k;
	unsigned int weight;
};

#define STUCK_MS	5000
#define STUCK_SETUP_MS	15000

/* common.c */
extern __thread uint64_t rng;
extern const char *const op_names[NR_OPS];
extern struct shared *sh;
extern __thread sigjmp_buf *guard;
uint64_t mix(uint64_t x);
uint64_t rnd64(void);
uint32_t rnd(uint32_t n);
bool one_in(uint32_t n);
uint64_t pick_u64(const uint64_t *v, size_t n);
uint32_t wild32(void);
uint64_t wild64(void);
void sometimes_wild32(__u32 *f, uint32_t n);
void sometimes_wild64(__u64 *f, uint32_t n);
void sometimes_wild32_in(__u32 *a, unsigned int nr, uint32_t n);
void sometimes_wild64_in(__u64 *a, unsigned int nr, uint32_t n);
bool is_meta(unsigned int k);
void __attribute__((format(printf, 1, 2))) fuzz_fail(const char *fmt, ...);
void count(enum op_kind k);
void on_segv(int sig, siginfo_t *si, void *uc);
void __attribute__((noinline)) guarded(void (*fn)(void *), void *arg);
double now_s(void);
void thread_wchan(pid_t pid, pid_t tid, char *buf, size_t size);
void thread_stack(pid_t pid, pid_t tid, char *buf, size_t size);

/* world.c */
extern struct world W;
bool is_sock(enum pair_kind k);
uint16_t pick_bgid(void);
int pick_ctx_fd(void);
int pick_any_fd(void);
struct region *pick_region(void);
void pick_buf(uint64_t *addr, uint64_t *len);
char *reserve(size_t len);
bool make_pair(struct pair *pr, int fds[3]);
int pair_wr(struct pair *p);
const char *describe_fd(int fd, char *buf, size_t size);
void worker_setup(void);

/* ioctl.c */
long xioctl(int fd, unsigned long req, void *arg);
void *arg_ptr(void *good);
void do_probe(void);
void do_stats(void);
void do_reg_bufs(bool sparse);
void do_update_bufs(void);
void do_unreg_bufs(void);
void do_reg_ring(void);
void do_unreg_ring(void);
void do_ring_status(void);
void do_cancel(void);
void do_bad_ioctl(void);
struct ring_slot *ring_register_good(int fd, int ci, bool regbuf,
				     bool uffd);
void ring_publish_good(struct ring_slot *rs);
void do_setup_good(void);
void do_kbuf_alloc(void);
void do_kbuf_free(void);
void do_mmap(void);
void do_munmap(void);
void do_fdinfo(void);

/* rings.c */
uint32_t long_entry_len(void);
void do_provide(void);
void *scribbler(void *arg);
void peer_io(void);
void *peers(void *arg);

/* uring.c */
extern __thread struct thread_state *cur_t;	/* the operation thread's own */
void uring_open(struct uring_slot *s);
void reap(struct uring_slot *s, bool wait);
void uring_close(struct uring_slot *s);
struct iopbuf_lend *make_lend(uint16_t bgid);
void prep_cmd(struct io_uring_sqe *sqe, int fd, __u32 cmd_op,
	      const void *payload);
void pick_target(bool want_good, int *dev, uint16_t *bgid);
void do_cmd(struct thread_state *t, enum op_kind k);

/* proc.c */
extern int sh_fd;
void do_open(void);
void do_close_ctx(void);
void do_dup_ctx(void);
void do_fork(void);
void do_long_setup(void);
void exec_self(bool as_worker, uint64_t seed, unsigned int ms, unsigned int threads);
void do_exec(struct thread_state *t);
void arm_fault(struct thread_state *t);
void disarm_fault(struct thread_state *t);

/* uffd.c */
void *uffd_handler(void *arg);

/* worker.c */
extern const struct mix_entry mix_table[];
extern const unsigned int mix_table_len;
extern unsigned int nr_threads;
void *op_thread(void *arg);
bool uffd_unprivileged_kernel_faults(void);
void __attribute__((noreturn)) worker(uint64_t seed, unsigned int ms);

/* supervisor.c */
extern long saved_hugepages;
void reap_strays(void);
bool counters_zero(char *desc, size_t size);
unsigned long env_ul(const char *name, unsigned long def);
void usage(void);
bool regress_bad_fds(void);
bool regress_huge_len(void);
void hugepages(long want);
unsigned long long report_stats(double elapsed, unsigned long started,
				unsigned long killed);

#endif /* IOPBUF_FUZZ_H */
