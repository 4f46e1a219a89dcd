/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench: what its files share (main.c says what the program does).
 */
#ifndef BENCH_H
#define BENCH_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/errqueue.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <liburing.h>
#include <linux/iouring_pbuf.h>
/* the library's LEND prep helpers (header-only; tools/ links no lib) */
#include "../lib/include/iopbuf.h"
/* IORING_SEND_ZC_REPORT_USAGE, IORING_NOTIF_USAGE_ZC_COPIED (liburing 2.3) */
#include "../../tests/uring_compat.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY		60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY		0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY	5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif
/* liburing 2.3 predates these (kernel 6.1 stable has them) */
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER	(1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN	(1U << 13)
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB		(21 << 26)
#endif

#define B_KiB		1024UL
#define B_MiB		(1024UL * 1024)
#define B_GiB		(1024.0 * 1024 * 1024)
#define B_UDP_MAX	65507U		/* IPv4 UDP payload limit */
#define B_UDP_BIG	(60 * 1024U)	/* what a 64 KiB payload becomes on UDP */
#define B_HOT_LEN	(256 * 1024UL)	/* largest payload */
#define B_MAX_PAYLOADS	8
#define B_MAX_QD	32
#define B_BGID		7

/* names shared with scripts/bench.sh */
#define B_DUMMY_IF	"pbufbench0"
#define B_DUMMY_ADDR	"198.51.100.1"
#define B_DUMMY_DST	"198.51.100.2"
#define B_VETH_A	"pbufbv0"
#define B_VETH_B	"pbufbv1"
#define B_VETH_ADDR_A	"203.0.113.1"
#define B_VETH_ADDR_B	"203.0.113.2"
#define B_NIC_ADDR_A	"192.0.2.1"
#define B_NIC_ADDR_B	"192.0.2.2"

enum b_mode { B_SEND, B_URING, B_MSGZC, B_SENDZC, B_MOD1, B_MOD4, B_MOD16,
	      B_NR_MODES };
static const char *const b_mode_name[B_NR_MODES] = {
	"send", "uring", "msgzc", "sendzc", "mod", "mod_b4", "mod_b16",
};
static const char *const b_mode_label[B_NR_MODES] = {
	"B0 send()", "B1 uring SEND", "B2 MSG_ZEROCOPY", "B3 SEND_ZC fixed",
	"M1 module", "M2 module x4", "M2 module x16",
};
static const unsigned int b_mode_nbufs[B_NR_MODES] = { 1, 1, 1, 1, 1, 4, 16 };

enum b_path { B_UDP, B_TCP, B_NIC, B_NR_PATHS };
static const char *const b_path_name[B_NR_PATHS] = { "udp", "tcp", "nic" };

/* TCP paths: a receiver thread in a network namespace of its own. */
static inline bool b_stream(int path)
{
	return path == B_TCP || path == B_NIC;
}
/* cold2m: the cold walk over 2 MiB pages (diagnostic pass, -H) */
enum b_temp { B_HOT, B_COLD, B_COLD2M, B_NR_TEMPS };
static const char *const b_temp_name[B_NR_TEMPS] = { "hot", "cold", "cold2m" };

struct b_opts {
	unsigned int payloads[B_MAX_PAYLOADS];
	unsigned int nr_payloads;
	unsigned int modes;		/* bit per enum b_mode */
	unsigned int paths;
	unsigned int temps;
	unsigned int reps;
	unsigned int qd;
	unsigned int warm_ms;
	unsigned int run_ms;
	size_t cold_bytes;
	int tx_cpu, rx_cpu;
	bool matrix;			/* run the send matrix */
	bool bvec;			/* run the bvec import benchmark */
	size_t bvec_bytes;		/* size of each bvec test buffer */
	unsigned int bvec_cmds;		/* commands per timed bvec sample */
	bool table;			/* print the summary table */
	bool quiet;			/* no progress lines */
	bool tcp_loopback;		/* TCP over loopback, no namespace */
	bool nagle;			/* leave TCP_NODELAY off */
	bool diag;			/* the 4 KiB vs 2 MiB page pass */
	bool lend;			/* run the lending benchmark (-o lend) */
	bool targets;			/* run the target cells (-o targets) */
	bool settle;			/* -S: wait for a steady clock first */
	unsigned int chunks[B_MAX_PAYLOADS];	/* its chunk sizes */
	unsigned int nr_chunks;
	size_t file_bytes;		/* its file */
};

/* One timed run of one mode in one cell. */
struct b_result {
	enum b_path path;
	enum b_temp temp;
	enum b_mode mode;
	unsigned int payload;
	unsigned int rep;
	unsigned long long bytes, reqs, bufs, notifs, copied;
	double wall, cpu, cpu_ru, busy, softirq;
	double busy_all;		/* all CPUs: wall x CPUs - idle */
	double busy_tasks;		/* CPU time of every task */
	double probe_ns;		/* reference syscall, around the run */
	const char *phase;		/* "matrix", or "pages" (-H) */
	int err;			/* 0, or the errno that ended the run */
};

/* One bvec import measurement. */
struct b_bvec_result {
	char backing[16];		/* "4k" or "hugetlb" / "thp" */
	char what[24];
	unsigned long long off, len;
	int segs;			/* observed, -1 unknown */
	int expect;			/* from the buffer's runs */
	unsigned int index;		/* registered buffer */
	unsigned int nent;		/* ring entries the slice is split into */
	int kind;			/* B_BV_*: how it is sent */
	double ns_cmd;			/* per failing command (import + fixed) */
	double cpu_ns_cmd;
	double wall_s[8], cpu_s[8];	/* samples */
	int res;
};

/* A TCP receiver thread and the namespace it listens in. */
struct b_rx {
	bool ok, started;
	int ns;				/* its network namespace, -1: ours */
	int lfd;
	struct sockaddr_in dst;
	pthread_t th;
	sem_t ready, done;
};

struct b_state {
	struct b_opts o;
	char kernel[65];
	/* buffer regions by temperature: registered index == enum b_temp */
	unsigned char *region[B_NR_TEMPS];
	size_t region_len[B_NR_TEMPS];
	void *region_map[B_NR_TEMPS];
	size_t region_map_len[B_NR_TEMPS];
	char cold2m_backing[16];
	long hugepages_orig;		/* nr_hugepages before we raised it */
	struct io_uring ring;
	bool ring_ok;
	unsigned int ring_flags;
	bool report_usage;
	int dev;
	struct iopbuf_probe probe;
	/* UDP sink */
	bool udp_ok, dummy_created;
	struct sockaddr_in udp_dst;
	/* TCP receivers: [B_TCP] behind a veth pair, [B_NIC] behind e1000s */
	int ns_main;
	struct b_rx rx[B_NR_PATHS];
	const char *tcp_kind;		/* "veth-netns" or "loopback" */
	char nic[2][IFNAMSIZ];		/* sender's and receiver's e1000 */
	bool nic_ok;
	/* results */
	struct b_result *res;
	size_t nres, capres;
	struct b_bvec_result bv[64];
	unsigned int nbv;
	char bvec_backing[16];
	bool huge_one_seg_ok;		/* a slice within one huge page: 1 segment */
	bool huge_checked;
	bool ring_ok_bv;
	int errors;
	unsigned long long gen;
	const char *phase;
};

/* One run of one sender in one cell. */
struct b_run {
	enum b_path path;
	enum b_temp temp;
	enum b_mode mode;
	unsigned int payload;
	unsigned int nbufs;		/* slices per request */
	unsigned int slice;		/* payload / nbufs */
	int fd;
	size_t cold_off;
	unsigned int inflight;
	unsigned int outstanding;	/* msgzc: sends not yet notified */
	/* module ring */
	struct iopbuf_buf *mring;
	unsigned int mentries;
	unsigned short mtail;
	size_t slot_off;		/* cold cursor for ring entries */
	/* counters of the current phase */
	unsigned long long bytes, reqs, bufs, notifs, copied;
	int err;
	__u64 tag;
};

extern struct b_state B;
extern volatile sig_atomic_t b_stop;

/* util.c */
void b_arm(unsigned int ms);
double b_busy_all(double wall, double idle0, double idle1);
void b_cpu_stat(int cpu, double *busy, double *softirq);
void b_disarm(void);
void b_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double b_idle_ns(void);
void b_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *b_map(size_t len, bool huge_ok);
double b_now(void);
void b_on_alarm(int sig);
int b_pin(int cpu);
unsigned int b_pow2(unsigned int v);
void b_settle(void);
double b_tasks_ns(void);
double b_thread_cpu(void);
double b_thread_rusage(void);
int b_ring_init(struct io_uring *ring, unsigned int *flags);
double b_probe(void);
void *b_new_elem(void *arrp, size_t *n, size_t *cap, size_t size,
		 size_t first);

/*
 * The readings that bracket a measured window: b_window_open() just before
 * it, b_window_close() just after, in mirror order: the system-wide
 * readings outside, the thread's CPU time inside them, the wall clock
 * innermost. @all adds idle time, every task's CPU time and getrusage(2)
 * (the send matrix); without, only the TX CPU's busy and softirq time
 * (lending). Inline, so the window holds no more than when each run had
 * its own copy of these lines.
 */
struct b_window {
	bool all;
	double t0, t1, c0, c1, busy0, busy1, si0, si1;
	double idle0, idle1, tasks0, tasks1, u0, u1;	/* @all only */
};

static inline void b_window_open(struct b_window *w, bool all)
{
	w->all = all;
	if (all)
		w->idle0 = b_idle_ns();
	b_cpu_stat(B.o.tx_cpu, &w->busy0, &w->si0);
	if (all) {
		w->tasks0 = b_tasks_ns();
		w->u0 = b_thread_rusage();
	}
	w->c0 = b_thread_cpu();
	w->t0 = b_now();
}

static inline void b_window_close(struct b_window *w)
{
	w->t1 = b_now();
	w->c1 = b_thread_cpu();
	if (w->all) {
		w->u1 = b_thread_rusage();
		w->tasks1 = b_tasks_ns();
	}
	b_cpu_stat(B.o.tx_cpu, &w->busy1, &w->si1);
	if (w->all)
		w->idle1 = b_idle_ns();
}

/*
 * Wait until *@inflight requests on @ring are complete, 10 s at most for
 * each completion: @handle(@arg, cqe) consumes what has come (marks it
 * seen, decrements *@inflight). 0, or the wait's -errno. Inline, so the
 * callers' loops stay what they were.
 */
static inline int b_drain_ring(struct io_uring *ring,
			       const unsigned int *inflight,
			       void (*handle)(void *arg,
					      struct io_uring_cqe *cqe),
			       void *arg)
{
	while (*inflight) {
		struct __kernel_timespec ts = { .tv_sec = 10 };
		struct io_uring_cqe *cqe;
		int ret;

		io_uring_submit(ring);
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
		if (ret == -EINTR)
			continue;
		if (ret)
			return ret;
		handle(arg, cqe);
	}
	return 0;
}

/* net.c */
void b_net_teardown(void);
int b_nic_setup(void);
bool b_path_ok(int path);
int b_tcp_setup(void);
int b_udp_setup(void);

/* send.c */
void b_close(struct b_run *r);
int b_drain_uring(struct b_run *r);
int b_matrix(unsigned int paths, const unsigned int *payloads,
		    unsigned int nr_payloads, unsigned int temps,
		    unsigned int modemask, const char *what);
double b_median(double *v, unsigned int n);
unsigned int b_path_payload(enum b_path path, unsigned int payload);
void b_prep(struct b_run *r, struct io_uring_sqe *sqe);
int b_run_one(enum b_path path, enum b_temp temp, enum b_mode mode,
		     unsigned int payload, unsigned int rep);
int b_socket(struct b_run *r);
void b_table(void);
int b_targets(void);

/* bvec.c */
int b_bvec_bench(void);
void *b_huge_map(size_t len, char *backing, size_t blen, void **map,
			size_t *map_len);
void b_hugepages_restore(void);

/* lend.c */
int l_bench(void);

/* main.c */
int bench_run(const struct b_opts *o);

/* lend.c */
void l_reset(void);

#endif /* BENCH_H */
