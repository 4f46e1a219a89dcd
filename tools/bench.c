// SPDX-License-Identifier: GPL-2.0
/*
 * bench: sender CPU cost of zero-copy send, /dev/iouring-pbuf against the
 * stock ways of sending, measured side by side in one run.
 *
 * Senders (same socket type, payload and in-flight depth for all: qd
 * requests whose buffers are not yet released; send(2) one at a time):
 *   B0 send        send(2), copy
 *   B1 uring       io_uring IORING_OP_SEND, copy
 *   B2 msgzc       send(MSG_ZEROCOPY) + error-queue reaping (SO_ZEROCOPY)
 *   B3 sendzc      io_uring IORING_OP_SEND_ZC, registered (fixed) buffer,
 *                  IORING_SEND_ZC_REPORT_USAGE when the kernel has it
 *   M1 mod         IOPBUF_CMD_SEND, one ring entry per command
 *   M2 mod_b4      IOPBUF_CMD_SEND | IOPBUF_SEND_BUNDLE, the payload as a
 *      mod_b16     bundle of 4 or 16 ring entries (payload/4, payload/16)
 *
 * "Payload" is the bytes one request hands to the socket: one send(), one
 * SQE, one module command. A bundle carries the same bytes as N slices, so
 * that every mode moves the same bytes per request; bufs/s counts slices.
 *
 * Paths:
 *   udp  UDP to a dummy interface (mtu 65535): packets are dropped after the
 *        qdisc without their payload being touched, so notifications report
 *        real zero copy. Payloads above 65507 bytes do not fit a datagram:
 *        64 KiB becomes 60 KiB (61440), 256 KiB is skipped.
 *   tcp  TCP to a receiver thread in another network namespace over a veth
 *        pair (created with rtnetlink), or loopback if that fails. Either
 *        way the receive side copies zero-copy frags (skb_orphan_frags_rx),
 *        in softirq on the sender's CPU, so every notification is reported
 *        copied and the sender's CPU includes that copy. TCP_NODELAY for
 *        every sender (-d: off); io_uring sends use MSG_WAITALL, so that
 *        each request sends its whole payload as send(2) and the module do.
 * Buffers: hot (one payload-sized buffer reused by every request) or cold
 * (requests walk a region larger than the LLC, -C). All benchmark memory is
 * anonymous with MADV_NOHUGEPAGE (4 KiB pages) for every mode alike; -H
 * adds a pass over the cold walk on 2 MiB pages ("cold2m") for B3 and M.
 *
 * Per run: sender pinned to a CPU, the TCP receiver to a CPU (-c tx,rx;
 * scripts/bench.sh puts both on one vCPU under TCG); a warm-up, then
 * a timed interval (SIGALRM ends it), then the requests in flight are
 * drained. Metrics: bytes, wall time, requests, slices, notifications and
 * how many were reported copied, the sender thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID, i.e. getrusage(RUSAGE_THREAD) user+sys read
 * precisely, and as getrusage reports it), the sender CPU's busy and
 * softirq time from /proc/stat, and a getppid() probe around the run that
 * shows how much the host stretched guest time. Repetitions interleave the
 * modes (order rotated from one repetition to the next) so drift hits all.
 *
 * A second part measures bvec import: segments a slice of a registered
 * buffer becomes, and time per command, for a 4 KiB-page buffer and a
 * 2 MiB-huge-page buffer, with reference rows (io_uring NOP, a failing
 * native SEND_ZC, IOPBUF_CMD_PROBE, plain system calls); see
 * b_bvec_bench().
 *
 * A third part (-o lend) sends a file to a socket in chunks through a lent
 * buffer (IOPBUF_CMD_LEND: READ then zero-copy SEND), against read() +
 * send() and sendfile(); see l_bench().
 *
 * Output: "BENCHINFO,..." "BENCH,..." "BVEC,..." "BVECREG,..." "LENDINFO,..."
 * "LEND,..." CSV lines
 * (parsed by scripts/bench.sh from the guest console) and a table.
 * tests/bench_smoke.c builds this file with BENCH_NO_MAIN and runs it tiny.
 */
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
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE	(1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED	(1U << 31)
#endif
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
static bool b_stream(int path)
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

static struct b_state B;
static volatile sig_atomic_t b_stop;

/* ------------------------------------------------------------------------
 * Small helpers
 */

static double b_now(void);
static void b_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void b_log(const char *fmt, ...)
{
	va_list ap;

	if (B.o.quiet)
		return;
	printf("# bench: [%.3f] ", b_now());
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void b_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void b_err(const char *fmt, ...)
{
	va_list ap;

	fputs("BENCHERR,", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	B.errors++;
}

static double b_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The calling thread's CPU time, user + system, read precisely. */
static double b_thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The same as getrusage(RUSAGE_THREAD) reports it (tick-updated). */
static double b_thread_rusage(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Busy and softirq seconds of @cpu from /proc/stat (USER_HZ ticks). */
static void b_cpu_stat(int cpu, double *busy, double *softirq)
{
	unsigned long long v[10] = { 0 };
	static long hz;
	char line[512], want[16];
	FILE *f;

	*busy = *softirq = 0;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	f = fopen("/proc/stat", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		sscanf(line + strlen(want),
		       "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		       &v[8], &v[9]);
		/* user nice system irq softirq steal; not idle, iowait */
		*busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
		*softirq = (double)v[6] / hz;
		break;
	}
	fclose(f);
}

/*
 * Idle nanoseconds of all CPUs together, from /proc/timer_list: the
 * tick-sched idle_sleeptime and iowait_sleeptime, kept in nanoseconds
 * (/proc/stat rounds the same figures to USER_HZ ticks, 10 ms, too coarse
 * for a 60 ms window). Exact for the CPU that reads it, which is not
 * idle; another CPU's idle period still running is counted when it ends,
 * so with more than one CPU a run's figure can be off by one idle period.
 * -1 if the kernel does not print them.
 */
static double b_idle_ns(void)
{
	unsigned long long v, sum = 0;
	char line[256], name[32];
	bool found = false;
	FILE *f;

	f = fopen("/proc/timer_list", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " .%31[a-z_] : %llu nsecs", name, &v) != 2)
			continue;
		if (!strcmp(name, "idle_sleeptime") ||
		    !strcmp(name, "iowait_sleeptime")) {
			sum += v;
			found = true;
		}
	}
	fclose(f);
	return found ? (double)sum : -1;
}

/* Busy seconds of all CPUs over @wall seconds, from b_idle_ns() readings. */
static double b_busy_all(double wall, double idle0, double idle1)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (idle0 < 0 || idle1 < 0)
		return NAN;
	return ncpu * wall - (idle1 - idle0) / 1e9;
}

/*
 * CPU nanoseconds of every task but the calling thread so far
 * (/proc/<pid>/task/<tid>/schedstat, first field: sum_exec_runtime);
 * -1 if unreadable. The caller adds its own CPU time, read at the window's
 * edges, so that the scan's own cost stays out. The fallback for
 * b_idle_ns() on kernels whose /proc/timer_list no longer shows idle time
 * (sid's 7.2): it counts the same work except interrupts and softirqs
 * that arrive while the CPU is idle, which run on the idle task's time.
 */
static double b_tasks_ns(void)
{
	pid_t self = gettid();
	char path[600], line[128];
	struct dirent *p, *t;
	unsigned long long v;
	double sum = 0;
	DIR *dp, *dt;
	FILE *f;

	dp = opendir("/proc");
	if (!dp)
		return -1;
	while ((p = readdir(dp))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		dt = opendir(path);
		if (!dt)
			continue;	/* gone meanwhile */
		while ((t = readdir(dt))) {
			if (t->d_name[0] == '.' || atoi(t->d_name) == self)
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/schedstat",
				 p->d_name, t->d_name);
			f = fopen(path, "r");
			if (!f)
				continue;
			if (fgets(line, sizeof(line), f) &&
			    sscanf(line, "%llu", &v) == 1)
				sum += v;
			fclose(f);
		}
		closedir(dt);
	}
	closedir(dp);
	return sum;
}

static int b_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static void b_on_alarm(int sig)
{
	(void)sig;
	b_stop = 1;
}

/* Set b_stop after @ms milliseconds. */
static void b_arm(unsigned int ms)
{
	struct itimerval it = { 0 };

	b_stop = 0;
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	if (!ms)
		it.it_value.tv_usec = 1;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void b_disarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
}

static void *b_map(size_t len, bool huge_ok)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (!huge_ok)
		madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static unsigned int b_pow2(unsigned int v)
{
	unsigned int p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* ------------------------------------------------------------------------
 * Network setup: rtnetlink for links (no dependency on ip(8)), ioctls for
 * addresses.
 */

/* A link request: nlmsghdr + ifinfomsg + attributes, in one buffer. */
struct b_nlreq {
	char buf[1024] __attribute__((aligned(NLMSG_ALIGNTO)));
};

static struct nlmsghdr *b_nl_init(struct b_nlreq *req, unsigned short type,
				  unsigned short flags)
{
	struct nlmsghdr *n = (struct nlmsghdr *)req->buf;
	struct ifinfomsg *i = NLMSG_DATA(n);

	memset(req, 0, sizeof(*req));
	n->nlmsg_len = NLMSG_LENGTH(sizeof(*i));
	n->nlmsg_type = type;
	n->nlmsg_flags = flags;
	i->ifi_family = AF_UNSPEC;
	return n;
}

static struct rtattr *b_nla(struct nlmsghdr *n, unsigned short type,
			    const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
	return rta;
}

static void b_nla_end(struct nlmsghdr *n, struct rtattr *nest)
{
	nest->rta_len = (char *)n + NLMSG_ALIGN(n->nlmsg_len) - (char *)nest;
}

/* Send one request and return the kernel's answer (0 or -errno). */
static int b_nl_talk(struct nlmsghdr *n)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096];
	int fd, ret;
	ssize_t len;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	n->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	n->nlmsg_seq = 1;
	if (sendto(fd, n, n->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		ret = len < 0 ? -errno : -EIO;
		goto out;
	}
	ret = ((struct nlmsghdr *)buf)->nlmsg_type == NLMSG_ERROR ?
	      ((struct nlmsgerr *)NLMSG_DATA(buf))->error : -EIO;
out:
	close(fd);
	return ret;
}

/* ip link add @name type @kind [peer name @peer netns @peer_ns] */
static int b_link_add(const char *name, const char *kind, const char *peer,
		      int peer_ns)
{
	struct b_nlreq req;
	struct nlmsghdr *n = b_nl_init(&req, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct rtattr *li, *data, *pinfo;
	struct ifinfomsg pi = { .ifi_family = AF_UNSPEC };

	b_nla(n, IFLA_IFNAME, name, strlen(name) + 1);
	li = b_nla(n, IFLA_LINKINFO, NULL, 0);
	b_nla(n, IFLA_INFO_KIND, kind, strlen(kind));
	if (peer) {
		data = b_nla(n, IFLA_INFO_DATA, NULL, 0);
		pinfo = b_nla(n, VETH_INFO_PEER, &pi, sizeof(pi));
		b_nla(n, IFLA_IFNAME, peer, strlen(peer) + 1);
		if (peer_ns >= 0)
			b_nla(n, IFLA_NET_NS_FD, &peer_ns, sizeof(peer_ns));
		b_nla_end(n, pinfo);
		b_nla_end(n, data);
	}
	b_nla_end(n, li);
	return b_nl_talk(n);
}

static int b_link_del(const char *name)
{
	struct b_nlreq req;
	struct nlmsghdr *n = b_nl_init(&req, RTM_DELLINK, 0);

	b_nla(n, IFLA_IFNAME, name, strlen(name) + 1);
	return b_nl_talk(n);
}

/* Address @addr/24, mtu, up; in the calling thread's network namespace. */
static int b_if_config(const char *name, const char *addr, int mtu)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (mtu) {
		ifr.ifr_mtu = mtu;
		if (ioctl(fd, SIOCSIFMTU, &ifr))
			ret = -errno;
	}
	if (addr && !ret) {
		memset(&ifr.ifr_addr, 0, sizeof(ifr.ifr_addr));
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		if (ioctl(fd, SIOCSIFADDR, &ifr) && errno != EEXIST)
			ret = -errno;
		inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
		if (!ret && ioctl(fd, SIOCSIFNETMASK, &ifr))
			ret = -errno;
	}
	if (!ret && !ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr))
			ret = -errno;
	} else if (!ret) {
		ret = -errno;
	}
	close(fd);
	return ret;
}

/* The UDP sink: a dummy interface that drops what it is given. */
static int b_udp_setup(void)
{
	int ret = b_link_add(B_DUMMY_IF, "dummy", NULL, -1);

	if (ret && ret != -EEXIST)
		return ret;
	B.dummy_created = !ret;
	ret = b_if_config(B_DUMMY_IF, B_DUMMY_ADDR, 65535);
	if (ret)
		return ret;
	B.udp_dst.sin_family = AF_INET;
	B.udp_dst.sin_port = htons(9);
	inet_pton(AF_INET, B_DUMMY_DST, &B.udp_dst.sin_addr);
	B.udp_ok = true;
	return 0;
}

static void *b_rx_main(void *arg)
{
	static unsigned char buf[1 << 20];
	struct b_rx *rx = arg;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1;

	b_pin(B.o.rx_cpu);
	if (rx->ns >= 0 && setns(rx->ns, CLONE_NEWNET)) {
		rx->lfd = -errno;
		sem_post(&rx->ready);
		return NULL;
	}
	rx->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa = rx->dst;
	sa.sin_port = 0;
	setsockopt(rx->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rx->lfd < 0 || bind(rx->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(rx->lfd, 4) ||
	    getsockname(rx->lfd, (struct sockaddr *)&sa, &len)) {
		if (rx->lfd >= 0)
			close(rx->lfd);
		rx->lfd = -errno;
		sem_post(&rx->ready);
		return NULL;
	}
	rx->dst.sin_port = sa.sin_port;
	sem_post(&rx->ready);
	for (;;) {
		int c = accept(rx->lfd, NULL, NULL);
		ssize_t n;

		if (c < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* MSG_TRUNC: TCP discards the data, no copy to user space */
		while ((n = recv(c, buf, sizeof(buf), MSG_TRUNC)) != 0) {
			if (n < 0 && errno != EINTR)
				break;
		}
		close(c);
		sem_post(&rx->done);
	}
	return NULL;
}

/* A new network namespace with its loopback up; its fd, or -errno. */
static int b_netns_new(void)
{
	int fd, ret;

	if (unshare(CLONE_NEWNET))
		return -errno;
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ret = fd < 0 ? -errno : b_if_config("lo", NULL, 0);
	if (setns(B.ns_main, CLONE_NEWNET)) {
		b_err("setns back to the main namespace: %s", strerror(errno));
		exit(2);
	}
	if (ret && fd >= 0)
		close(fd);
	return ret ?: fd;
}

/* b_if_config() in namespace @ns. */
static int b_if_config_ns(int ns, const char *name, const char *addr, int mtu)
{
	int ret;

	if (setns(ns, CLONE_NEWNET))
		return -errno;
	ret = b_if_config(name, addr, mtu);
	if (setns(B.ns_main, CLONE_NEWNET)) {
		b_err("setns back to the main namespace: %s", strerror(errno));
		exit(2);
	}
	return ret;
}

/* Start @rx's thread, listening on @addr in @rx->ns. */
static int b_rx_start(struct b_rx *rx, in_addr_t addr)
{
	sigset_t all, old;
	int ret;

	rx->dst.sin_family = AF_INET;
	rx->dst.sin_addr.s_addr = addr;
	sem_init(&rx->ready, 0, 0);
	sem_init(&rx->done, 0, 0);
	/* the receiver never takes the sender's SIGALRM */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&rx->th, NULL, b_rx_main, rx);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	rx->started = true;
	while (sem_wait(&rx->ready) && errno == EINTR)
		;
	if (rx->lfd < 0)
		return rx->lfd;
	rx->ok = true;
	return 0;
}

/*
 * TCP receiver in its own network namespace behind a veth pair; loopback
 * when the namespace or the veth cannot be had. Either way the receive
 * side copies zero-copy frags (skb_orphan_frags_rx).
 */
static int b_tcp_setup(void)
{
	struct b_rx *rx = &B.rx[B_TCP];
	struct in_addr a;
	int ret;

	B.tcp_kind = "veth-netns";
	rx->ns = B.o.tcp_loopback ? -EPERM : b_netns_new();
	ret = rx->ns < 0 ? rx->ns : 0;
	if (!ret) {
		b_link_del(B_VETH_A);	/* left over from a killed run */
		ret = b_link_add(B_VETH_A, "veth", B_VETH_B, rx->ns);
	}
	if (!ret)
		ret = b_if_config(B_VETH_A, B_VETH_ADDR_A, 65535);
	if (!ret)
		ret = b_if_config_ns(rx->ns, B_VETH_B, B_VETH_ADDR_B, 65535);
	if (ret) {
		b_log("no veth/netns receiver (%s): TCP over loopback",
		      strerror(-ret));
		if (rx->ns >= 0)
			close(rx->ns);
		rx->ns = -1;
		B.tcp_kind = "loopback";
		a.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		inet_pton(AF_INET, B_VETH_ADDR_B, &a);
	}
	return b_rx_start(rx, a.s_addr);
}

/* The first two network interfaces driven by e1000, by name. */
static int b_find_nics(void)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *drv;
	unsigned int n = 0;
	struct dirent *d;
	ssize_t len;
	DIR *dir;

	dir = opendir("/sys/class/net");
	if (!dir)
		return -errno;
	while ((d = readdir(dir)) && n < 2) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver",
			 d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = 0;
		drv = strrchr(target, '/');
		if (drv && !strcmp(drv + 1, "e1000") &&
		    strlen(d->d_name) < IFNAMSIZ)
			memcpy(B.nic[n++], d->d_name, strlen(d->d_name) + 1);
	}
	closedir(dir);
	/* readdir order is arbitrary: the lower name sends */
	if (n == 2 && strcmp(B.nic[0], B.nic[1]) > 0) {
		char t[IFNAMSIZ];

		memcpy(t, B.nic[0], IFNAMSIZ);
		memcpy(B.nic[0], B.nic[1], IFNAMSIZ);
		memcpy(B.nic[1], t, IFNAMSIZ);
	}
	return n == 2 ? 0 : -ENODEV;
}

/* ip link set @name netns @ns */
static int b_link_setns(const char *name, int ns)
{
	struct b_nlreq req;
	struct nlmsghdr *n = b_nl_init(&req, RTM_SETLINK, 0);

	b_nla(n, IFLA_IFNAME, name, strlen(name) + 1);
	b_nla(n, IFLA_NET_NS_FD, &ns, sizeof(ns));
	return b_nl_talk(n);
}

/* Wait until @name reports carrier (e1000 negotiates after `up`). */
static int b_wait_carrier(const char *name)
{
	char path[96];
	int i, c = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", name);
	for (i = 0; i < 1000 && c != 1; i++) {
		FILE *f = fopen(path, "r");

		if (f) {
			if (fscanf(f, "%d", &c) != 1)
				c = 0;
			fclose(f);
		}
		if (c != 1)
			usleep(20000);
	}
	return c == 1 ? 0 : -ENOLINK;
}

/*
 * The NIC path: two e1000 NICs on one QEMU hub (tools/bench.vm), the
 * sender's in our namespace, the receiver's in a namespace of its own, so
 * that every segment leaves through one emulated NIC and arrives through
 * the other. e1000 does scatter-gather and checksum offload, so TCP sends
 * go zero copy and the receive side gets new memory: nothing is copied
 * on the sender's behalf.
 */
static int b_nic_setup(void)
{
	struct b_rx *rx = &B.rx[B_NIC];
	struct in_addr a;
	int ret;

	rx->ns = -1;
	ret = b_find_nics();
	if (!ret) {
		rx->ns = b_netns_new();
		ret = rx->ns < 0 ? rx->ns : 0;
	}
	if (!ret)
		ret = b_link_setns(B.nic[1], rx->ns);
	if (!ret)
		ret = b_if_config(B.nic[0], B_NIC_ADDR_A, 0);
	if (!ret)
		ret = b_if_config_ns(rx->ns, B.nic[1], B_NIC_ADDR_B, 0);
	if (!ret)
		ret = b_wait_carrier(B.nic[0]);
	if (ret)
		return ret;
	inet_pton(AF_INET, B_NIC_ADDR_B, &a);
	ret = b_rx_start(rx, a.s_addr);
	B.nic_ok = !ret;
	return ret;
}

/* Whether @path's setup worked. */
static bool b_path_ok(int path)
{
	return path == B_UDP ? B.udp_ok : B.rx[path].ok;
}

static void b_net_teardown(void)
{
	int p;

	for (p = B_TCP; p < B_NR_PATHS; p++) {
		struct b_rx *rx = &B.rx[p];

		if (rx->started) {
			shutdown(rx->lfd, SHUT_RDWR);
			pthread_join(rx->th, NULL);
			close(rx->lfd);
			rx->started = false;
		}
		if (rx->ns >= 0) {
			/* the peer ends go with their namespace */
			if (p == B_TCP)
				b_link_del(B_VETH_A);
			close(rx->ns);
			rx->ns = -1;
		}
		/* rx->ok stays: whether the path ran, for the results */
	}
	if (B.ns_main >= 0) {
		close(B.ns_main);
		B.ns_main = -1;
	}
	if (B.dummy_created)
		b_link_del(B_DUMMY_IF);
	B.dummy_created = false;
}

/* ------------------------------------------------------------------------
 * One run
 */

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

/* The next request's buffer (B modes). */
static unsigned char *b_req_buf(struct b_run *r, unsigned int *index)
{
	unsigned char *p;

	*index = r->temp;
	if (r->temp == B_HOT)
		return B.region[B_HOT];
	if (r->cold_off + r->payload > B.region_len[r->temp])
		r->cold_off = 0;
	p = B.region[r->temp] + r->cold_off;
	r->cold_off += r->payload;
	return p;
}

/* Append ring entry for tail position @t (module modes). */
static void b_mring_add(struct b_run *r)
{
	unsigned short t = r->mtail;
	struct iopbuf_buf *e = &r->mring[t & (r->mentries - 1)];
	unsigned int k = t % r->nbufs;
	__u64 addr;

	if (r->temp == B_HOT) {
		addr = iopbuf_regbuf_encode(0, (__u64)k * r->slice);
	} else {
		/* a request's slices stay contiguous, as the B modes' payload */
		if (k == 0 && r->slot_off + r->payload > B.region_len[r->temp])
			r->slot_off = 0;
		addr = iopbuf_regbuf_encode(r->temp, r->slot_off);
		r->slot_off += r->slice;
	}
	e->addr = addr;
	e->len = r->slice;
	e->bid = t & (r->mentries - 1);
	r->mtail = t + 1;
}

static void b_mring_publish(struct b_run *r)
{
	__atomic_store_n(iopbuf_ring_tail(r->mring), r->mtail, __ATOMIC_RELEASE);
}

static int b_mring_setup(struct b_run *r)
{
	struct iopbuf_ring_reg reg = { .bgid = B_BGID,
				       .flags = IOPBUF_RING_REGBUF };
	unsigned int i;

	r->mentries = b_pow2(B.o.qd * r->nbufs * 2);
	if (r->mentries < 64)
		r->mentries = 64;
	r->mring = mmap(NULL, r->mentries * sizeof(struct iopbuf_buf),
			PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->mring == MAP_FAILED) {
		r->mring = NULL;
		return -ENOMEM;
	}
	reg.ring_addr = (uintptr_t)r->mring;
	reg.ring_entries = r->mentries;
	if (ioctl(B.dev, IOPBUF_IOC_REGISTER_RING, &reg)) {
		munmap(r->mring, r->mentries * sizeof(struct iopbuf_buf));
		r->mring = NULL;
		return -errno;
	}
	r->mtail = 0;
	r->slot_off = 0;
	for (i = 0; i < r->mentries; i++)
		b_mring_add(r);
	b_mring_publish(r);
	return 0;
}

static void b_mring_teardown(struct b_run *r)
{
	struct iopbuf_ring_reg reg = { .bgid = B_BGID };

	if (!r->mring)
		return;
	ioctl(B.dev, IOPBUF_IOC_UNREGISTER_RING, &reg);
	munmap(r->mring, r->mentries * sizeof(struct iopbuf_buf));
	r->mring = NULL;
}

static void b_prep_module(struct b_run *r, struct io_uring_sqe *sqe)
{
	struct iopbuf_cmd_send cmd = { .fd = r->fd, .bgid = B_BGID };

	if (r->nbufs > 1) {
		cmd.flags = IOPBUF_SEND_BUNDLE;
		cmd.len = r->payload;
	}
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = B.dev;
	sqe->cmd_op = IOPBUF_CMD_SEND;
	memcpy(sqe->cmd, &cmd, sizeof(cmd));
}

static void b_prep(struct b_run *r, struct io_uring_sqe *sqe)
{
	/* a stream socket sends it all, as send(2) and the module do */
	int flags = b_stream(r->path) ? MSG_WAITALL : 0;
	unsigned int index;
	unsigned char *buf;

	switch (r->mode) {
	case B_URING:
		buf = b_req_buf(r, &index);
		io_uring_prep_send(sqe, r->fd, buf, r->payload, flags);
		break;
	case B_SENDZC:
		buf = b_req_buf(r, &index);
		io_uring_prep_send_zc_fixed(sqe, r->fd, buf, r->payload, flags,
					    B.report_usage ?
					    IORING_SEND_ZC_REPORT_USAGE : 0,
					    index);
		break;
	default:
		b_prep_module(r, sqe);
		break;
	}
	sqe->user_data = r->tag;
}

static void b_handle_cqe(struct b_run *r, struct io_uring_cqe *cqe)
{
	__u64 res2;
	unsigned int i, n, f;

	if (cqe->user_data != r->tag)
		return;		/* not ours (cannot happen after a clean drain) */
	switch (r->mode) {
	case B_URING:
		r->inflight--;
		if (cqe->res < 0) {
			r->err = -cqe->res;
			return;
		}
		r->bytes += cqe->res;
		r->reqs++;
		r->bufs++;
		return;
	case B_SENDZC:
		if (cqe->flags & IORING_CQE_F_NOTIF) {
			r->inflight--;
			r->notifs++;
			if (B.report_usage &&
			    (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED))
				r->copied++;
			return;
		}
		if (!(cqe->flags & IORING_CQE_F_MORE))
			r->inflight--;
		if (cqe->res < 0) {
			r->err = -cqe->res;
			return;
		}
		r->bytes += cqe->res;
		r->reqs++;
		r->bufs++;
		return;
	default:
		r->inflight--;
		if (cqe->res < 0) {
			r->err = -cqe->res;
			return;
		}
		res2 = cqe->big_cqe[0];
		f = iopbuf_cqe_flags(res2);
		n = iopbuf_cqe_nbufs(res2);
		r->bytes += cqe->res;
		r->reqs++;
		r->bufs += n;
		if (f & IOPBUF_CQE_F_ZC) {
			r->notifs++;
			if (f & IOPBUF_CQE_F_ZC_COPIED)
				r->copied++;
		}
		for (i = 0; i < n; i++)
			b_mring_add(r);
		b_mring_publish(r);
		return;
	}
}

static int b_reap(struct b_run *r)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&B.ring, head, cqe) {
		b_handle_cqe(r, cqe);
		n++;
	}
	io_uring_cq_advance(&B.ring, n);
	return n;
}

/* io_uring modes: keep qd requests (buffers) in flight until b_stop. */
static void b_loop_uring(struct b_run *r)
{
	while (!b_stop && !r->err) {
		struct io_uring_sqe *sqe;
		int ret;

		while (r->inflight < B.o.qd && (sqe = io_uring_get_sqe(&B.ring))) {
			b_prep(r, sqe);
			r->inflight++;
		}
		ret = io_uring_submit_and_wait(&B.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			r->err = -ret;
			break;
		}
		b_reap(r);
	}
}

static int b_drain_uring(struct b_run *r)
{
	while (r->inflight) {
		struct __kernel_timespec ts = { .tv_sec = 10 };
		struct io_uring_cqe *cqe;
		int ret;

		io_uring_submit(&B.ring);
		ret = io_uring_wait_cqe_timeout(&B.ring, &cqe, &ts);
		if (ret == -EINTR)
			continue;
		if (ret) {
			b_err("%s %s %u: %u requests never completed: %s",
			      b_mode_name[r->mode], b_path_name[r->path],
			      r->payload, r->inflight, strerror(-ret));
			return ret;
		}
		b_reap(r);
	}
	return 0;
}

/* MSG_ZEROCOPY: read the error queue; @wait blocks until something came. */
static void b_reap_errqueue(struct b_run *r, bool wait)
{
	for (;;) {
		char control[256];
		struct msghdr msg = { .msg_control = control,
				      .msg_controllen = sizeof(control) };
		struct cmsghdr *cm;
		ssize_t ret;

		ret = recvmsg(r->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (ret < 0) {
			struct pollfd pfd = { .fd = r->fd, .events = 0 };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || !wait)
				return;
			if (poll(&pfd, 1, 10000) == 0) {
				r->err = ETIME;
				return;
			}
			wait = false;
			continue;
		}
		wait = false;
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct sock_extended_err *ee = (void *)CMSG_DATA(cm);
			unsigned int n;

			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			n = ee->ee_data - ee->ee_info + 1;
			r->outstanding -= n < r->outstanding ? n : r->outstanding;
			r->notifs += n;
			if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				r->copied += n;
		}
	}
}

/* send() and send(MSG_ZEROCOPY) until b_stop. */
static void b_loop_sync(struct b_run *r)
{
	bool zc = r->mode == B_MSGZC;

	while (!b_stop && !r->err) {
		unsigned int index;
		unsigned char *buf;
		ssize_t n;

		if (zc && r->outstanding >= B.o.qd) {
			b_reap_errqueue(r, false);
			if (r->outstanding >= B.o.qd)
				b_reap_errqueue(r, true);
			continue;
		}
		buf = b_req_buf(r, &index);
		n = send(r->fd, buf, r->payload, zc ? MSG_ZEROCOPY : 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (zc && errno == ENOBUFS) {
				/* optmem full of notifications: reap first */
				b_reap_errqueue(r, true);
				continue;
			}
			r->err = errno;
			break;
		}
		r->bytes += n;
		r->reqs++;
		r->bufs++;
		if (zc)
			r->outstanding++;
	}
}

static void b_drain_sync(struct b_run *r)
{
	while (r->mode == B_MSGZC && r->outstanding && !r->err)
		b_reap_errqueue(r, true);
}

static int b_socket(struct b_run *r)
{
	int one = 1, fd;
	const struct sockaddr_in *dst = r->path == B_UDP ? &B.udp_dst :
					&B.rx[r->path].dst;

	fd = socket(AF_INET, (b_stream(r->path) ? SOCK_STREAM : SOCK_DGRAM) |
		    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (b_stream(r->path) && !B.o.nagle)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (r->mode == B_MSGZC &&
	    setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one))) {
		close(fd);
		return -errno;
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst))) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* Close @r's socket; TCP: wait until the receiver has read everything. */
static void b_close(struct b_run *r)
{
	if (r->fd < 0)
		return;
	if (b_stream(r->path)) {
		struct timespec ts;

		shutdown(r->fd, SHUT_WR);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		while (sem_timedwait(&B.rx[r->path].done, &ts)) {
			if (errno != EINTR) {
				b_err("tcp receiver did not finish");
				break;
			}
		}
	}
	close(r->fd);
	r->fd = -1;
}

/*
 * A stream socket: wait until the peer acknowledged everything sent
 * (SIOCOUTQ: bytes not yet acknowledged), so that no sender leaves its
 * transmission work to the next window.
 */
static void b_drain_socket(struct b_run *r)
{
	int i, outq = 0;

	if (!b_stream(r->path))
		return;
	for (i = 0; i < 100000; i++) {
		if (ioctl(r->fd, SIOCOUTQ, &outq) || !outq)
			return;
		usleep(100);
	}
	b_err("%s %s %u: %d bytes never acknowledged", b_mode_name[r->mode],
	      b_path_name[r->path], r->payload, outq);
	r->err = r->err ?: ETIME;
}

/* Wait for everything @r has in flight: completions, notifications, ACKs. */
static void b_drain(struct b_run *r)
{
	if (r->mode == B_SEND || r->mode == B_MSGZC)
		b_drain_sync(r);
	else if (b_drain_uring(r))
		r->err = r->err ?: ETIME;
	b_drain_socket(r);
}

static void b_loop(struct b_run *r)
{
	if (r->mode == B_SEND || r->mode == B_MSGZC)
		b_loop_sync(r);
	else
		b_loop_uring(r);
}

static void b_reset_counters(struct b_run *r)
{
	r->bytes = r->reqs = r->bufs = r->notifs = r->copied = 0;
}

static struct b_result *b_new_result(void)
{
	if (B.nres == B.capres) {
		size_t cap = B.capres ? 2 * B.capres : 256;
		struct b_result *n = realloc(B.res, cap * sizeof(*n));

		if (!n)
			return NULL;
		B.res = n;
		B.capres = cap;
	}
	memset(&B.res[B.nres], 0, sizeof(B.res[0]));
	return &B.res[B.nres++];
}

static void b_print_result(const struct b_result *x)
{
	printf("BENCH,%s,%s,%u,%s,%s,%u,%llu,%.6f,%llu,%llu,%.6f,%.6f,%.4f,%.4f,%llu,%llu,%d,%.0f,%s,%.6f,%.6f\n",
	       B.kernel, b_path_name[x->path], x->payload, b_temp_name[x->temp],
	       b_mode_name[x->mode], x->rep, x->bytes, x->wall, x->reqs,
	       x->bufs, x->cpu, x->cpu_ru, x->busy, x->softirq, x->notifs,
	       x->copied, x->err, x->probe_ns, x->phase, x->busy_all,
	       x->busy_tasks);
}

/*
 * A reference: thread CPU ns per getppid(2), over 200 calls. Under TCG a
 * vCPU is a host thread that the host may deschedule while the guest
 * thinks it runs, so guest CPU time stretches with the host's load; runs
 * are bracketed by this probe, which shows how much (it varies far too
 * much, from one millisecond to the next, to correct the runs with).
 */
static double b_probe(void)
{
	double c0 = b_thread_cpu();
	int i;

	for (i = 0; i < 200; i++)
		syscall(SYS_getppid);
	return (b_thread_cpu() - c0) * 1e9 / 200;
}

/* Warm up, measure, drain: one row. */
static int b_run_one(enum b_path path, enum b_temp temp, enum b_mode mode,
		     unsigned int payload, unsigned int rep)
{
	struct b_run r = { .path = path, .temp = temp, .mode = mode,
			   .payload = payload, .fd = -1 };
	double t0, t1, c0, c1, u0, u1, busy0, busy1, si0, si1, probe;
	double idle0, idle1, tasks0, tasks1;
	struct b_result *x;
	int ret;

	r.nbufs = b_mode_nbufs[mode];
	r.slice = payload / r.nbufs;
	r.tag = ++B.gen;
	if (mode == B_SENDZC && !B.ring_ok)
		return -EOPNOTSUPP;
	ret = b_socket(&r);
	if (ret < 0) {
		b_err("%s %s: socket: %s", b_mode_name[mode], b_path_name[path],
		      strerror(-ret));
		return ret;
	}
	r.fd = ret;
	if (mode >= B_MOD1) {
		ret = b_mring_setup(&r);
		if (ret) {
			b_err("module ring: %s", strerror(-ret));
			b_close(&r);
			return ret;
		}
	}

	probe = b_probe();
	b_arm(B.o.warm_ms);
	b_loop(&r);
	b_disarm();
	/*
	 * The window starts with nothing in flight and ends when everything
	 * it sent is complete, released and (TCP) acknowledged: every sender
	 * is credited with exactly the requests it issued inside, whether it
	 * counts them at send time (send(2)) or at completion (io_uring, the
	 * module), and pays for all their work.
	 */
	b_drain(&r);
	b_reset_counters(&r);
	idle0 = b_idle_ns();
	b_cpu_stat(B.o.tx_cpu, &busy0, &si0);
	tasks0 = b_tasks_ns();
	u0 = b_thread_rusage();
	c0 = b_thread_cpu();
	t0 = b_now();
	b_arm(B.o.run_ms);
	if (!r.err)
		b_loop(&r);
	b_disarm();
	b_drain(&r);
	t1 = b_now();
	c1 = b_thread_cpu();
	u1 = b_thread_rusage();
	tasks1 = b_tasks_ns();
	b_cpu_stat(B.o.tx_cpu, &busy1, &si1);
	idle1 = b_idle_ns();
	probe = (probe + b_probe()) / 2;

	b_mring_teardown(&r);
	b_close(&r);

	x = b_new_result();
	if (!x)
		return -ENOMEM;
	x->path = path;
	x->temp = temp;
	x->mode = mode;
	x->payload = payload;
	x->rep = rep;
	x->bytes = r.bytes;
	x->reqs = r.reqs;
	x->bufs = r.bufs;
	x->notifs = r.notifs;
	x->copied = r.copied;
	x->wall = t1 - t0;
	x->cpu = c1 - c0;
	x->cpu_ru = u1 - u0;
	x->busy = busy1 - busy0;
	x->softirq = si1 - si0;
	x->busy_all = b_busy_all(x->wall, idle0, idle1);
	x->busy_tasks = tasks0 >= 0 && tasks1 >= 0 ?
			(tasks1 - tasks0) / 1e9 + x->cpu : NAN;
	x->probe_ns = probe;
	x->phase = B.phase;
	x->err = r.err;
	b_print_result(x);
	if (r.err) {
		b_err("%s %s %u %s: %s", b_mode_name[mode], b_path_name[path],
		      payload, b_temp_name[temp], strerror(r.err));
		/* requests may be left in the ring: nothing after is valid */
		if (r.inflight)
			return -EIO;
	}
	return 0;
}

/* The payload a path actually uses for a requested one (0: skip). */
static unsigned int b_path_payload(enum b_path path, unsigned int payload)
{
	if (path != B_UDP || payload <= B_UDP_MAX)
		return payload;
	if (payload == 64 * B_KiB)
		return B_UDP_BIG;
	return 0;
}

/*
 * Repetitions of paths x payloads x temperatures x modes; within a cell
 * the modes run back to back in an order rotated from one repetition to
 * the next, so that slow drift of the host hits every mode alike.
 */
static int b_matrix(unsigned int paths, const unsigned int *payloads,
		    unsigned int nr_payloads, unsigned int temps,
		    unsigned int modemask, const char *what)
{
	unsigned int rep, pi, m, k, nmodes = 0;
	enum b_mode modes[B_NR_MODES];
	int p, t;

	for (m = 0; m < B_NR_MODES; m++)
		if (modemask & (1U << m))
			modes[nmodes++] = m;
	B.phase = what;
	for (rep = 0; rep < B.o.reps; rep++) {
		b_log("%s: repetition %u of %u", what, rep + 1, B.o.reps);
		for (p = 0; p < B_NR_PATHS; p++) {
			if (!(paths & (1U << p)))
				continue;
			if (!b_path_ok(p))
				continue;
			for (pi = 0; pi < nr_payloads; pi++) {
				unsigned int payload = b_path_payload(p, payloads[pi]);

				if (!payload)
					continue;
				for (t = 0; t < B_NR_TEMPS; t++) {
					if (!(temps & (1U << t)) || !B.region[t])
						continue;
					for (k = 0; k < nmodes; k++) {
						m = modes[(k + rep + pi) % nmodes];
						if (b_run_one(p, t, m, payload, rep) == -EIO)
							return -EIO;
					}
				}
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Summary table: medians over repetitions
 */

static int b_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double b_median(double *v, unsigned int n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), b_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Whether results @a and @b belong to the same cell. */
static bool b_same_cell(const struct b_result *a, const struct b_result *b)
{
	return a->path == b->path && a->temp == b->temp && a->mode == b->mode &&
	       a->payload == b->payload && !strcmp(a->phase, b->phase);
}

/* One line per cell, in the order the cells first ran. */
static void b_table(void)
{
	double cpg[64], mbs[64], rps[64], bps[64];
	size_t i, j;

	printf("\n%-6s %-4s %-7s %-4s %-17s %14s %17s %9s %10s %10s %8s\n",
	       "phase", "path", "payload", "temp", "mode", "busy s/GiB",
	       "(min..max)", "MiB/s", "req/s", "slices/s", "copied");
	for (i = 0; i < B.nres; i++) {
		unsigned long long nt = 0, cp = 0;
		double lo = INFINITY, hi = 0;
		unsigned int n = 0;
		char share[16];

		for (j = 0; j < i && !b_same_cell(&B.res[j], &B.res[i]); j++)
			;
		if (j < i)
			continue;	/* printed with its first row */
		for (j = i; j < B.nres && n < 64; j++) {
			const struct b_result *x = &B.res[j];
			double cpu = isnan(x->busy_all) ? x->cpu : x->busy_all;

			if (!b_same_cell(x, &B.res[i]) || x->err || !x->bytes)
				continue;
			cpg[n] = cpu / (x->bytes / B_GiB);
			mbs[n] = x->bytes / B_MiB / x->wall;
			rps[n] = x->reqs / x->wall;
			bps[n] = x->bufs / x->wall;
			lo = cpg[n] < lo ? cpg[n] : lo;
			hi = cpg[n] > hi ? cpg[n] : hi;
			nt += x->notifs;
			cp += x->copied;
			n++;
		}
		if (!n)
			continue;
		if (nt)
			snprintf(share, sizeof(share), "%.0f%%", 100.0 * cp / nt);
		else
			snprintf(share, sizeof(share), "-");
		printf("%-6s %-4s %-7u %-4s %-17s %14.3f %8.3f..%-8.3f %9.0f %10.0f %10.0f %8s\n",
		       B.res[i].phase, b_path_name[B.res[i].path], B.res[i].payload,
		       b_temp_name[B.res[i].temp], b_mode_label[B.res[i].mode],
		       b_median(cpg, n), lo, hi, b_median(mbs, n),
		       b_median(rps, n), b_median(bps, n), share);
	}
}

/* ------------------------------------------------------------------------
 * bvec import microbenchmark
 *
 * Two registered buffers of the same size: A with 4 KiB pages
 * (MADV_NOHUGEPAGE), H with 2 MiB huge pages (hugetlbfs via MAP_HUGETLB, or
 * THP with MADV_HUGEPAGE when no hugetlb pages can be reserved).
 *
 *  - registration: time of IOPBUF_IOC_REGISTER_BUFFERS for each (pinning
 *    and building the folio runs), and the runs ("segs") and pinned pages
 *    fdinfo reports for it;
 *  - segments per slice, observed: the module refuses a command whose
 *    bundle needs more than max_bundle_segs bio_vecs with -E2BIG before
 *    sending anything. A bundle of [b pages of A, page aligned] + [the
 *    slice] needs b + s segments (A's pages are separate folios, so every
 *    page is a segment, which fdinfo confirms; the two entries are in
 *    different buffers, so they never merge). The largest b that does not
 *    fail gives s = max_bundle_segs - b exactly (binary search);
 *  - time per import: the slice alone sent, with IOPBUF_CMD_SEND, on an
 *    unconnected UDP socket: the module selects the entry and imports it,
 *    then sock_sendmsg() fails at once (-EDESTADDRREQ, -EMSGSIZE above
 *    64 KiB) and nothing is consumed. Wall and CPU time per command over
 *    many commands, qd in flight; minus the same for a 1-byte slice, that
 *    is the import's share (segment building, bio_vec array growth). The
 *    same 64 KiB as 16 ring entries of 4 KiB (a bundle) shows the cost per
 *    entry;
 *  - reference rows on the same ring and thread: IORING_OP_NOP; a native
 *    SEND_ZC of one fixed-buffer byte failing the same way (what the
 *    module's failing command corresponds to in io_uring); IOPBUF_CMD_PROBE
 *    (a uring_cmd completed inline); IOPBUF_CMD_SEND naming no ring (the
 *    command allocated and freed, nothing else); getppid(), uname() and
 *    getcwd() (which allocates and frees a name buffer) as a scale.
 */

static int b_fdinfo_buf(int dev, unsigned int index, unsigned long long *len,
			unsigned int *segs, unsigned long *pinned)
{
	char path[64], line[256];
	unsigned int i;
	unsigned long long addr;
	int found = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", dev);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " buf %u: 0x%llx len %llu segs %u pinned %lu",
			   &i, &addr, len, segs, pinned) == 5 && i == index) {
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

struct b_bv {
	int dev;
	struct io_uring ring;		/* CQE32 */
	struct iopbuf_buf *mring;	/* 4 entries */
	int sock;			/* unconnected UDP */
	unsigned int max_segs;
	void *fixed;			/* io_uring fixed buffer 0 */
};

static void b_bv_set(struct b_bv *v, unsigned int n, const __u64 *addr,
		     const __u32 *len)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		v->mring[i].addr = addr[i];
		v->mring[i].len = len[i];
		v->mring[i].bid = i;
	}
	/* the kernel head stays 0: failing commands consume nothing */
	__atomic_store_n(iopbuf_ring_tail(v->mring), (unsigned short)n,
			 __ATOMIC_RELEASE);
}

enum { B_BV_MODULE, B_BV_BUNDLE, B_BV_NOP, B_BV_SENDZC, B_BV_PROBE,
       B_BV_NORING, B_BV_GETPPID, B_BV_UNAME, B_BV_GETCWD };

/*
 * Plain system calls, as a scale for the rows above: getppid() does
 * nothing, uname() copies a struct out, getcwd() also allocates and frees
 * a page-sized name buffer (kmem_cache_alloc/free) around its copy.
 */
static int b_bv_syscalls(int kind, unsigned int n, double *wall, double *cpu)
{
	double t0 = b_now(), c0 = b_thread_cpu();
	struct utsname u;
	char buf[256];
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (kind == B_BV_GETPPID)
			syscall(SYS_getppid);
		else if (kind == B_BV_UNAME)
			uname(&u);
		else if (!getcwd(buf, sizeof(buf)))
			return -errno;
	}
	*wall = b_now() - t0;
	*cpu = b_thread_cpu() - c0;
	return 0;
}

/*
 * Issue @n requests of @kind (qd in flight); return the first result.
 * B_BV_MODULE/B_BV_BUNDLE: IOPBUF_CMD_SEND of the ring head (1 entry / a
 * bundle); B_BV_NOP: IORING_OP_NOP; B_BV_SENDZC: IORING_OP_SEND_ZC of one
 * byte of fixed buffer 0 (done when its notification arrives); B_BV_PROBE:
 * IOPBUF_CMD_PROBE (completes inline); B_BV_NORING: IOPBUF_CMD_SEND naming
 * a ring that does not exist (fails after allocating the command).
 */
static int b_bv_cmds(struct b_bv *v, unsigned int n, int kind, double *wall,
		     double *cpu)
{
	struct iopbuf_cmd_send cmd = { .fd = v->sock, .bgid = 1 };
	struct iopbuf_probe pr;
	struct iopbuf_cmd_probe pcmd = { .addr = (uintptr_t)&pr, .len = sizeof(pr) };
	unsigned int sent = 0, done = 0, inflight = 0;
	double t0 = b_now(), c0 = b_thread_cpu();
	int first = INT_MIN;

	if (kind >= B_BV_GETPPID)
		return b_bv_syscalls(kind, n, wall, cpu);
	if (kind == B_BV_BUNDLE)
		cmd.flags = IOPBUF_SEND_BUNDLE;
	if (kind == B_BV_NORING)
		cmd.bgid = 2;
	while (done < n) {
		struct io_uring_cqe *cqe;
		unsigned int head, k = 0, fin = 0;
		int ret;

		while (sent < n && inflight < B.o.qd) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&v->ring);

			if (!sqe)
				break;
			memset(sqe, 0, sizeof(*sqe));
			if (kind == B_BV_NOP) {
				io_uring_prep_nop(sqe);
			} else if (kind == B_BV_SENDZC) {
				io_uring_prep_send_zc_fixed(sqe, v->sock, v->fixed, 1,
							    0, 0, 0);
			} else if (kind == B_BV_PROBE) {
				sqe->opcode = IORING_OP_URING_CMD;
				sqe->fd = v->dev;
				sqe->cmd_op = IOPBUF_CMD_PROBE;
				memcpy(sqe->cmd, &pcmd, sizeof(pcmd));
			} else {
				sqe->opcode = IORING_OP_URING_CMD;
				sqe->fd = v->dev;
				sqe->cmd_op = IOPBUF_CMD_SEND;
				memcpy(sqe->cmd, &cmd, sizeof(cmd));
			}
			sent++;
			inflight++;
		}
		ret = io_uring_submit_and_wait(&v->ring, 1);
		if (ret < 0 && ret != -EINTR)
			return ret;
		io_uring_for_each_cqe(&v->ring, head, cqe) {
			k++;
			if (cqe->flags & IORING_CQE_F_NOTIF) {
				fin++;
				continue;
			}
			if (first == INT_MIN)
				first = cqe->res;
			if (!(cqe->flags & IORING_CQE_F_MORE))
				fin++;
		}
		io_uring_cq_advance(&v->ring, k);
		done += fin;
		inflight -= fin;
	}
	if (wall)
		*wall = b_now() - t0;
	if (cpu)
		*cpu = b_thread_cpu() - c0;
	return first;
}

/* Ring entries: [@ballast pages of buffer 0] + the slice as @nent entries. */
static void b_bv_slice(struct b_bv *v, unsigned int ballast, unsigned int index,
		       __u64 off, __u32 len, unsigned int nent)
{
	__u64 addr[33];
	__u32 lens[33];
	unsigned int n = 0, j;

	if (ballast) {
		addr[n] = iopbuf_regbuf_encode(0, 0);
		lens[n++] = ballast * 4096;
	}
	for (j = 0; j < nent && n < 33; j++) {
		addr[n] = iopbuf_regbuf_encode(index, off + (__u64)j * (len / nent));
		lens[n++] = len / nent;
	}
	b_bv_set(v, n, addr, lens);
}

/* Segments the slice becomes (as @nent entries); -1 if it exceeds max. */
static int b_bv_segs(struct b_bv *v, unsigned int index, __u64 off, __u32 len,
		     unsigned int nent)
{
	unsigned int lo = 0, hi = v->max_segs;	/* lo passes, hi unknown */
	int ret;

	b_bv_slice(v, 0, index, off, len, nent);
	ret = b_bv_cmds(v, 1, B_BV_BUNDLE, NULL, NULL);
	if (ret == -E2BIG)
		return -1;
	/* largest ballast b (pages of buffer 0) that still imports */
	while (lo < hi) {
		unsigned int mid = (lo + hi + 1) / 2;

		b_bv_slice(v, mid, index, off, len, nent);
		ret = b_bv_cmds(v, 1, B_BV_BUNDLE, NULL, NULL);
		if (ret == -E2BIG)
			hi = mid - 1;
		else
			lo = mid;
	}
	return v->max_segs - lo;
}

/* Expected segments of a slice from a buffer's geometry. */
static int b_bv_expect(unsigned long long off, unsigned long long len,
		       unsigned long long unit)
{
	return (int)((off + len - 1) / unit - off / unit + 1);
}

/* Free 2 MiB hugetlb pages; raise nr_hugepages so that @want are free. */
static void b_hugepages_reserve(unsigned long want)
{
	const char *dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
	unsigned long nr = 0, nfree = 0;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/free_hugepages", dir);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%lu", &nfree) != 1)
		nfree = 0;
	fclose(f);
	if (nfree >= want)
		return;
	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	f = fopen(path, "r+");
	if (!f)
		return;
	if (fscanf(f, "%lu", &nr) == 1) {
		if (B.hugepages_orig < 0)
			B.hugepages_orig = nr;
		rewind(f);
		fprintf(f, "%lu\n", nr + want - nfree);
	}
	fclose(f);
}

static void b_hugepages_restore(void)
{
	FILE *f;

	if (B.hugepages_orig < 0)
		return;
	f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "w");
	if (f) {
		fprintf(f, "%ld\n", B.hugepages_orig);
		fclose(f);
	}
	B.hugepages_orig = -1;
}

/*
 * @len bytes on 2 MiB pages: hugetlbfs (MAP_HUGETLB) if pages can be
 * reserved, else THP (MADV_HUGEPAGE on an aligned range), touched.
 * *map and *map_len receive what to munmap.
 */
static void *b_huge_map(size_t len, char *backing, size_t blen, void **map,
			size_t *map_len)
{
	unsigned char *p;

	b_hugepages_reserve(len / (2 * B_MiB));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
	if (p != MAP_FAILED) {
		memset(p, 0x5a, len);
		snprintf(backing, blen, "hugetlb");
		*map = p;
		*map_len = len;
		return p;
	}
	p = mmap(NULL, len + 2 * B_MiB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*map = p;
	*map_len = len + 2 * B_MiB;
	p = (unsigned char *)(((uintptr_t)p + 2 * B_MiB - 1) & ~(2 * B_MiB - 1));
	madvise(p, len, MADV_HUGEPAGE);
	memset(p, 0x5a, len);
	snprintf(backing, blen, "thp");
	return p;
}

static void b_bvec_row(struct b_bv *v, const char *backing, unsigned int index,
		       unsigned long long unit, const char *what,
		       unsigned long long off, unsigned long long len,
		       unsigned int nent, int kind)
{
	struct b_bvec_result *x;

	if (B.nbv >= sizeof(B.bv) / sizeof(B.bv[0]))
		return;
	x = &B.bv[B.nbv++];
	memset(x, 0, sizeof(*x));
	snprintf(x->backing, sizeof(x->backing), "%s", backing);
	snprintf(x->what, sizeof(x->what), "%s", what);
	x->index = index;
	x->off = off;
	x->len = len;
	x->nent = nent;
	x->kind = kind;
	x->expect = x->segs = -1;
	if (kind != B_BV_MODULE)
		return;
	/* consecutive entries merge where they are physically contiguous */
	x->expect = b_bv_expect(off, len, unit);
	x->segs = b_bv_segs(v, index, off, len, nent);
}

/* One timed sample of every row, @rep-th time. */
static void b_bvec_time(struct b_bv *v, unsigned int rep)
{
	unsigned int k, j;

	for (j = 0; j < B.nbv; j++) {
		struct b_bvec_result *x = &B.bv[(j + rep) % B.nbv];
		double wall = 0, cpu = 0;

		b_bv_slice(v, 0, x->index, x->off, x->len, x->nent);
		x->res = b_bv_cmds(v, B.o.bvec_cmds,
				   x->kind == B_BV_MODULE && x->nent > 1 ?
				   B_BV_BUNDLE : x->kind, &wall, &cpu);
		k = rep < 8 ? rep : 7;
		x->wall_s[k] = wall * 1e9 / B.o.bvec_cmds;
		x->cpu_s[k] = cpu * 1e9 / B.o.bvec_cmds;
	}
}

static int b_bvec_bench(void)
{
	size_t len = B.o.bvec_bytes;
	struct iopbuf_ring_reg rreg = { .bgid = 1, .ring_entries = 64,
					.flags = IOPBUF_RING_REGBUF };
	struct iovec iov[2];
	struct iopbuf_buf_reg breg = { .iovs = (uintptr_t)iov };
	struct iopbuf_probe pr;
	struct b_bv v = { .dev = -1, .sock = -1 };
	unsigned char *a, *h;
	void *hmap = NULL;
	size_t hmap_len = 0;
	char backing[16];
	const char *names[2] = { "4k", backing };
	unsigned long long unit[2] = { 4096, 2 * B_MiB };
	double base = 0;
	unsigned int k;
	int ret = 0, i, r;

	if (len < 8 * B_MiB)
		len = 8 * B_MiB;
	len &= ~(2 * B_MiB - 1);
	a = b_map(len, false);
	h = b_huge_map(len, backing, sizeof(backing), &hmap, &hmap_len);
	if (!a || !h) {
		b_err("bvec: no memory for two %zu-byte buffers", len);
		return -ENOMEM;
	}
	memset(a, 0x5a, len);
	snprintf(B.bvec_backing, sizeof(B.bvec_backing), "%s", backing);
	iov[0] = (struct iovec){ a, len };
	iov[1] = (struct iovec){ h, len };

	v.dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (v.dev < 0 || ioctl(v.dev, IOPBUF_IOC_PROBE, &pr)) {
		b_err("bvec: %s: %s", IOPBUF_DEVICE_PATH, strerror(errno));
		return -errno;
	}
	v.max_segs = pr.max_bundle_segs;

	/* registration of each buffer alone, a few times */
	printf("BVECREGHDR,kernel,backing,len,segs,pinned,us_per_register\n");
	for (i = 0; i < 2; i++) {
		double t[5];
		unsigned long long blen = 0;
		unsigned int segs = 0;
		unsigned long pinned = 0;

		for (r = 0; r < 5; r++) {
			double t0 = b_now();

			breg.iovs = (uintptr_t)&iov[i];
			breg.nr = 1;
			if (ioctl(v.dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg)) {
				b_err("bvec: register %s: %s", names[i], strerror(errno));
				ret = -errno;
				goto out;
			}
			t[r] = b_now() - t0;
			b_fdinfo_buf(v.dev, 0, &blen, &segs, &pinned);
			ioctl(v.dev, IOPBUF_IOC_UNREGISTER_BUFFERS);
		}
		printf("BVECREG,%s,%s,%llu,%u,%lu,%.0f\n", B.kernel, names[i],
		       blen, segs, pinned, b_median(t, 5) * 1e6);
		if (i == 0 && segs != len / 4096)
			b_log("4k buffer has %u runs for %zu pages: ballast counts are off",
			      segs, len / 4096);
	}

	breg.iovs = (uintptr_t)iov;
	breg.nr = 2;
	if (ioctl(v.dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg)) {
		ret = -errno;
		b_err("bvec: register both: %s", strerror(errno));
		goto out;
	}
	v.mring = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rreg.ring_addr = (uintptr_t)v.mring;
	if (v.mring == MAP_FAILED || ioctl(v.dev, IOPBUF_IOC_REGISTER_RING, &rreg)) {
		ret = -errno;
		b_err("bvec: ring: %s", strerror(errno));
		goto out;
	}
	ret = io_uring_queue_init(64, &v.ring, IORING_SETUP_CQE32);
	if (ret) {
		b_err("bvec: io_uring: %s", strerror(-ret));
		goto out;
	}
	v.sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	v.fixed = a;
	B.ring_ok_bv = !io_uring_register_buffers(&v.ring, &iov[0], 1);

	for (i = 0; i < 2; i++) {
		struct {
			const char *what;
			unsigned long long off, len;
			unsigned int nent;
		} s[] = {
			{ "1B", 0, 1, 1 },
			{ "4K", 0, 4096, 1 },
			{ "64K", 0, 64 * B_KiB, 1 },
			{ "64K+2K", 2048, 64 * B_KiB, 1 },
			{ "1M", 0, B_MiB, 1 },
			{ "2M", 0, 2 * B_MiB, 1 },
			{ "1M@1.5M", 3 * B_MiB / 2, B_MiB, 1 },
			{ "4M", 0, 4 * B_MiB, 1 },
			/* the same 64 KiB as 16 ring entries of 4 KiB */
			{ "16x4K", 0, 64 * B_KiB, 16 },
		};
		unsigned int k;

		for (k = 0; k < sizeof(s) / sizeof(s[0]); k++) {
			if (s[k].off + s[k].len > len)
				continue;
			b_bvec_row(&v, names[i], i, unit[i], s[k].what, s[k].off,
				   s[k].len, s[k].nent, B_BV_MODULE);
			if (i == 1 && !strcmp(s[k].what, "2M")) {
				B.huge_checked = true;
				B.huge_one_seg_ok = B.bv[B.nbv - 1].segs == 1;
			}
		}
	}
	/* fixed costs: an io_uring NOP, a native SEND_ZC failing the same way */
	b_bvec_row(&v, "native", 0, 4096, "NOP", 0, 1, 1, B_BV_NOP);
	b_bvec_row(&v, "module", 0, 4096, "PROBE", 0, 1, 1, B_BV_PROBE);
	b_bvec_row(&v, "module", 0, 4096, "SEND-no-ring", 0, 1, 1, B_BV_NORING);
	b_bvec_row(&v, "syscall", 0, 4096, "getppid", 0, 1, 1, B_BV_GETPPID);
	b_bvec_row(&v, "syscall", 0, 4096, "uname", 0, 1, 1, B_BV_UNAME);
	b_bvec_row(&v, "syscall", 0, 4096, "getcwd", 0, 1, 1, B_BV_GETCWD);
	if (B.ring_ok_bv)
		b_bvec_row(&v, "native", 0, 4096, "SEND_ZC-1B", 0, 1, 1,
			   B_BV_SENDZC);
	/* warm-up, then interleaved samples of all rows */
	b_bvec_time(&v, 0);
	for (r = 0; r < 5; r++)
		b_bvec_time(&v, r);
	printf("BVECHDR,kernel,backing,slice,offset,len,entries,segs,expect,ns_per_cmd,cpu_ns_per_cmd,cpu_ns_vs_1byte,res\n");
	for (k = 0; k < B.nbv; k++) {
		B.bv[k].ns_cmd = b_median(B.bv[k].wall_s, 5);
		B.bv[k].cpu_ns_cmd = b_median(B.bv[k].cpu_s, 5);
	}
	for (k = 0; k < B.nbv; k++) {
		struct b_bvec_result *x = &B.bv[k];
		unsigned int j;

		/* against the 1-byte slice of the same buffer (native: 4k) */
		for (j = 0; j < B.nbv; j++)
			if (!strcmp(B.bv[j].what, "1B") &&
			    (!strcmp(B.bv[j].backing, x->backing) ||
			     (x->kind != B_BV_MODULE && !strcmp(B.bv[j].backing, "4k"))))
				base = B.bv[j].cpu_ns_cmd;
		printf("BVEC,%s,%s,%s,%llu,%llu,%u,%d,%d,%.0f,%.0f,%.0f,%d\n",
		       B.kernel, x->backing, x->what, x->off, x->len, x->nent,
		       x->segs, x->expect, x->ns_cmd, x->cpu_ns_cmd,
		       x->cpu_ns_cmd - base, x->res);
	}
	ret = 0;
out:
	if (v.sock >= 0)
		close(v.sock);
	if (v.ring.ring_fd > 0)
		io_uring_queue_exit(&v.ring);
	if (v.dev >= 0)
		close(v.dev);
	if (v.mring && v.mring != MAP_FAILED)
		munmap(v.mring, 4096);
	munmap(a, len);
	if (hmap)
		munmap(hmap, hmap_len);
	return ret;
}

/* ------------------------------------------------------------------------
 * Lending: a file sent to a socket in chunks (-o lend)
 *
 * The same page-cache file (tmpfs: the guest has no disk, and a static
 * file server's files are in the page cache anyway) goes to the same
 * socket in chunks of the same size, three ways:
 *
 *   chain     one IOPBUF_CMD_LEND per chunk: a slice of a registered buffer
 *             lent to [READ file -> slice, SEND slice -> socket, zero copy];
 *             qd chunks in flight, each on its own slice (the completion
 *             comes once the stack released the pages, so the slice is
 *             free again then)
 *   readsend  pread() into a user buffer, then send() it: two copies
 *   sendfile  sendfile(): the page-cache pages go to the socket by
 *             reference, no copy on the sender
 *
 * and, to show where the chain's CPU goes, its two halves and theirs:
 *
 *   lendsend  IOPBUF_CMD_LEND [SEND] of a slice that is already filled
 *   send      send() of a user buffer that is already filled
 *   lendread  IOPBUF_CMD_LEND [READ] into a slice, no socket (path "file")
 *   pread     pread() into a user buffer, no socket (path "file")
 *
 * Paths as the send matrix: the UDP sink (64 KiB becomes 60 KiB, larger
 * chunks do not fit a datagram; a chunk is one datagram for every method,
 * sendfile too) and TCP to the receiver in the other namespace. Sender CPU
 * as in b_run_one(); besides, the packets the interface transmitted, which
 * shows one datagram per chunk on UDP. Repetitions rotate the methods
 * within a cell as b_matrix() does.
 */

enum l_method { L_CHAIN, L_READSEND, L_SENDFILE, L_LENDSEND, L_SEND,
		L_LENDREAD, L_PREAD, L_NR_METHODS };
static const char *const l_method_name[L_NR_METHODS] = {
	"chain", "readsend", "sendfile", "lendsend", "send", "lendread", "pread",
};
#define L_SOCK_METHODS	5		/* the first five need a socket */
#define L_FILE_PATH	B_NR_PATHS	/* no socket: the read halves */

static bool l_uses_module(enum l_method m)
{
	return m == L_CHAIN || m == L_LENDSEND || m == L_LENDREAD;
}

/* One timed run of one method. */
struct l_result {
	int path;			/* enum b_path, or L_FILE_PATH */
	enum l_method method;
	unsigned int chunk;
	unsigned int rep;
	unsigned long long bytes, chunks, notifs, copied, pkts;
	double wall, cpu, busy, softirq, probe_ns;
	int err;
};

static struct {
	int dev;
	struct io_uring ring;		/* CQE32, as B.ring */
	unsigned int ring_flags;
	bool ring_ok;
	int file;
	size_t file_len;
	unsigned char *slots;		/* registered buffer 0: qd slots */
	size_t slot_len, slots_len;
	unsigned char *ubuf;		/* the user buffer of read()/send() */
	struct iopbuf_lend chain[B_MAX_QD];
	__s64 results[B_MAX_QD][2];
	struct l_result *res;
	size_t nres, capres;
} L = { .dev = -1, .file = -1 };

struct l_run {
	int path;
	enum l_method method;
	unsigned int chunk;
	int sock;
	size_t off;			/* next file offset */
	unsigned int inflight;
	bool slot_busy[B_MAX_QD];
	unsigned long long bytes, chunks, notifs, copied;
	int err;
	__u64 tag;
};

static const char *l_path_name(int path)
{
	return path == L_FILE_PATH ? "file" : b_path_name[path];
}

/* The next chunk's file offset; the walk wraps at the end of the file. */
static size_t l_next_off(struct l_run *r)
{
	size_t off;

	if (r->off + r->chunk > L.file_len)
		r->off = 0;
	off = r->off;
	r->off += r->chunk;
	return off;
}

/* The chain of @r's method on slot @s; the next file chunk for READs. */
static void l_prep(struct l_run *r, struct io_uring_sqe *sqe, unsigned int s)
{
	struct iopbuf_lend *lend = &L.chain[s];
	unsigned int dir = 0;

	if (r->method != L_LENDSEND)
		dir |= IOPBUF_LEND_DIR_IN;
	if (r->method != L_LENDREAD)
		dir |= IOPBUF_LEND_DIR_OUT;
	iopbuf_lend_init(lend, IOPBUF_LEND_SRC_REGBUF, dir,
			 iopbuf_regbuf_encode(0, (__u64)s * L.slot_len),
			 r->chunk, 0);
	if (r->method != L_LENDSEND)
		iopbuf_lend_add(lend, IOPBUF_LEND_OP_READ, L.file, l_next_off(r),
				0, r->chunk);
	/* len 0: what the READ moved, or the whole slice without one */
	if (r->method != L_LENDREAD)
		iopbuf_lend_add(lend, IOPBUF_LEND_OP_SEND, r->sock, 0, 0, 0);
	lend->results = (__u64)(uintptr_t)L.results[s];
	iopbuf_prep_lend(sqe, L.dev, lend);
	io_uring_sqe_set_data64(sqe, r->tag << 8 | s);
	r->slot_busy[s] = true;
}

static void l_handle_cqe(struct l_run *r, struct io_uring_cqe *cqe)
{
	unsigned int s = cqe->user_data & 0xff;
	const struct iopbuf_lend *lend;

	if (cqe->user_data >> 8 != r->tag || s >= B_MAX_QD)
		return;		/* not ours (cannot happen after a clean drain) */
	lend = &L.chain[s];
	r->slot_busy[s] = false;
	r->inflight--;
	if (cqe->res < 0) {
		r->err = -cqe->res;
		return;
	}
	/* the last secondary's bytes: what reached the socket (or the slice) */
	r->bytes += L.results[s][lend->nr_ops - 1];
	r->chunks++;
	if (iopbuf_cqe_zc(cqe)) {
		r->notifs++;
		r->copied += iopbuf_cqe_zc_copied(cqe);
	}
}

/* Module methods: keep qd chains in flight until b_stop. */
static void l_loop_uring(struct l_run *r)
{
	while (!b_stop && !r->err) {
		struct io_uring_cqe *cqe;
		unsigned int s, head, n = 0;
		int ret;

		for (s = 0; s < B.o.qd && r->inflight < B.o.qd; s++) {
			struct io_uring_sqe *sqe;

			if (r->slot_busy[s])
				continue;
			sqe = io_uring_get_sqe(&L.ring);
			if (!sqe)
				break;
			l_prep(r, sqe, s);
			r->inflight++;
		}
		ret = io_uring_submit_and_wait(&L.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			r->err = -ret;
			break;
		}
		io_uring_for_each_cqe(&L.ring, head, cqe) {
			l_handle_cqe(r, cqe);
			n++;
		}
		io_uring_cq_advance(&L.ring, n);
	}
}

static int l_drain_uring(struct l_run *r)
{
	while (r->inflight) {
		struct __kernel_timespec ts = { .tv_sec = 10 };
		struct io_uring_cqe *cqe;
		int ret;

		io_uring_submit(&L.ring);
		ret = io_uring_wait_cqe_timeout(&L.ring, &cqe, &ts);
		if (ret == -EINTR)
			continue;
		if (ret) {
			b_err("lend %s %s %u: %u chains never completed: %s",
			      l_method_name[r->method], l_path_name(r->path),
			      r->chunk, r->inflight, strerror(-ret));
			return ret;
		}
		l_handle_cqe(r, cqe);
		io_uring_cqe_seen(&L.ring, cqe);
	}
	return 0;
}

/* All of @len bytes of @buf to the socket; the timer may cut a send short. */
static int l_send_all(struct l_run *r, const unsigned char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(r->sock, buf + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += n;
	}
	r->bytes += done;
	return 0;
}

static int l_pread_all(struct l_run *r, unsigned char *buf)
{
	size_t off = l_next_off(r), done = 0;

	while (done < r->chunk) {
		ssize_t n = pread(L.file, buf + done, r->chunk - done, off + done);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return n ? -errno : -ENODATA;
		}
		done += n;
	}
	return 0;
}

/*
 * sendfile(). On UDP a chunk stays one datagram without UDP_CORK: splice
 * marks every page but the last MSG_MORE (6.1: MSG_SENDPAGE_NOTLAST, which
 * udp_sendpage() turns into MSG_MORE; later kernels pass the pipe's pages
 * in one sendmsg). The packet count of each run checks it.
 */
static int l_sendfile(struct l_run *r)
{
	off_t off = l_next_off(r);
	size_t done = 0;

	while (done < r->chunk) {
		ssize_t n = sendfile(r->sock, L.file, &off, r->chunk - done);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return n ? -errno : -ENODATA;
		}
		done += n;
	}
	r->bytes += done;
	return 0;
}

/* The methods without the module, one chunk at a time, until b_stop. */
static void l_loop_sync(struct l_run *r)
{
	while (!b_stop && !r->err) {
		int ret = 0;

		switch (r->method) {
		case L_READSEND:
			ret = l_pread_all(r, L.ubuf);
			if (!ret)
				ret = l_send_all(r, L.ubuf, r->chunk);
			break;
		case L_SEND:
			ret = l_send_all(r, L.ubuf, r->chunk);
			break;
		case L_SENDFILE:
			ret = l_sendfile(r);
			break;
		default:	/* L_PREAD */
			ret = l_pread_all(r, L.ubuf);
			if (!ret)
				r->bytes += r->chunk;
			break;
		}
		if (ret) {
			r->err = -ret;
			break;
		}
		r->chunks++;
	}
}

static void l_loop(struct l_run *r)
{
	if (l_uses_module(r->method))
		l_loop_uring(r);
	else
		l_loop_sync(r);
}

/* Packets the path's interface transmitted so far (0 if unknown). */
static unsigned long long l_tx_packets(int path)
{
	const char *ifname = path == B_UDP ? B_DUMMY_IF :
			     strcmp(B.tcp_kind, "loopback") ? B_VETH_A : "lo";
	unsigned long long v = 0;
	char p[96];
	FILE *f;

	if (path == L_FILE_PATH)
		return 0;
	snprintf(p, sizeof(p), "/sys/class/net/%s/statistics/tx_packets", ifname);
	f = fopen(p, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static struct l_result *l_new_result(void)
{
	if (L.nres == L.capres) {
		size_t cap = L.capres ? 2 * L.capres : 64;
		struct l_result *n = realloc(L.res, cap * sizeof(*n));

		if (!n)
			return NULL;
		L.res = n;
		L.capres = cap;
	}
	memset(&L.res[L.nres], 0, sizeof(L.res[0]));
	return &L.res[L.nres++];
}

static void l_print_result(const struct l_result *x)
{
	printf("LEND,%s,%s,%u,%s,%u,%llu,%.6f,%llu,%.6f,%.4f,%.4f,%llu,%llu,%llu,%d,%.0f\n",
	       B.kernel, l_path_name(x->path), x->chunk,
	       l_method_name[x->method], x->rep, x->bytes, x->wall, x->chunks,
	       x->cpu, x->busy, x->softirq, x->notifs, x->copied, x->pkts,
	       x->err, x->probe_ns);
}

/* Warm up, measure, drain: one row, as b_run_one(). */
static int l_run_one(int path, enum l_method method, unsigned int chunk,
		     unsigned int rep)
{
	struct l_run r = { .path = path, .method = method, .chunk = chunk,
			   .sock = -1 };
	/* b_socket() and b_close() for the socket: a plain one */
	struct b_run br = { .path = path, .mode = B_SEND, .fd = -1 };
	double t0, t1, c0, c1, busy0, busy1, si0, si1, probe;
	unsigned long long p0, p1;
	struct l_result *x;
	int ret;

	r.tag = ++B.gen & 0xffffffffffffffULL;
	if (path != L_FILE_PATH) {
		ret = b_socket(&br);
		if (ret < 0) {
			b_err("lend %s %s: socket: %s", l_method_name[method],
			      l_path_name(path), strerror(-ret));
			return ret;
		}
		br.fd = r.sock = ret;
	}

	probe = b_probe();
	b_arm(B.o.warm_ms);
	l_loop(&r);
	r.bytes = r.chunks = r.notifs = r.copied = 0;
	p0 = l_tx_packets(path);
	b_cpu_stat(B.o.tx_cpu, &busy0, &si0);
	c0 = b_thread_cpu();
	t0 = b_now();
	b_arm(B.o.run_ms);
	if (!r.err)
		l_loop(&r);
	b_disarm();
	if (l_uses_module(method) && l_drain_uring(&r))
		r.err = r.err ?: ETIME;
	t1 = b_now();
	c1 = b_thread_cpu();
	b_cpu_stat(B.o.tx_cpu, &busy1, &si1);
	p1 = l_tx_packets(path);
	probe = (probe + b_probe()) / 2;
	b_close(&br);

	x = l_new_result();
	if (!x)
		return -ENOMEM;
	x->path = path;
	x->method = method;
	x->chunk = chunk;
	x->rep = rep;
	x->bytes = r.bytes;
	x->chunks = r.chunks;
	x->notifs = r.notifs;
	x->copied = r.copied;
	x->pkts = p1 - p0;
	x->wall = t1 - t0;
	x->cpu = c1 - c0;
	x->busy = busy1 - busy0;
	x->softirq = si1 - si0;
	x->probe_ns = probe;
	x->err = r.err;
	l_print_result(x);
	if (r.err) {
		b_err("lend %s %s %u: %s", l_method_name[method],
		      l_path_name(path), chunk, strerror(r.err));
		/* chains may be left in the ring: nothing after is valid */
		if (r.inflight)
			return -EIO;
	}
	return 0;
}

/* Registered slots, the user buffer, the file, a ring of our own. */
static int l_setup(void)
{
	struct iovec iov;
	struct iopbuf_buf_reg breg = { .iovs = (uintptr_t)&iov, .nr = 1 };
	char path[] = "/tmp/iopbuf-bench-lend-XXXXXX";
	unsigned int i;
	size_t done;
	int ret;

	for (i = 0; i < B.o.nr_chunks; i++)
		if (B.o.chunks[i] > L.slot_len)
			L.slot_len = B.o.chunks[i];
	L.slot_len = (L.slot_len + 4095) & ~4095UL;
	L.slots_len = L.slot_len * B.o.qd;
	L.slots = b_map(L.slots_len, false);
	L.ubuf = b_map(L.slot_len, false);
	L.file_len = B.o.file_bytes & ~(B_MiB - 1);
	if (L.file_len < L.slot_len)
		L.file_len = L.slot_len;
	if (!L.slots || !L.ubuf)
		return -ENOMEM;
	memset(L.slots, 0x5a, L.slots_len);
	memset(L.ubuf, 0xa5, L.slot_len);

	/* the file, in the page cache (tmpfs) and unlinked at once */
	L.file = mkostemp(path, O_CLOEXEC);
	if (L.file < 0)
		return -errno;
	unlink(path);
	for (done = 0; done < L.file_len; done += L.slot_len)
		if (pwrite(L.file, L.ubuf, L.slot_len, done) != (ssize_t)L.slot_len)
			return -EIO;

	L.dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (L.dev < 0)
		return -errno;
	iov = (struct iovec){ L.slots, L.slots_len };
	if (ioctl(L.dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg))
		return -errno;
	/* as B.ring: CQE32 for the module, DEFER_TASKRUN where there is one */
	L.ring_flags = IORING_SETUP_CQE32 | IORING_SETUP_SINGLE_ISSUER |
		       IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init(64, &L.ring, L.ring_flags);
	if (ret == -EINVAL) {
		L.ring_flags = IORING_SETUP_CQE32 | IORING_SETUP_COOP_TASKRUN;
		ret = io_uring_queue_init(64, &L.ring, L.ring_flags);
	}
	if (ret)
		return ret;
	L.ring_ok = true;
	return 0;
}

static void l_teardown(void)
{
	if (L.ring_ok)
		io_uring_queue_exit(&L.ring);
	L.ring_ok = false;
	if (L.dev >= 0)
		close(L.dev);
	if (L.file >= 0)
		close(L.file);
	L.dev = L.file = -1;
	if (L.slots)
		munmap(L.slots, L.slots_len);
	if (L.ubuf)
		munmap(L.ubuf, L.slot_len);
	L.slots = L.ubuf = NULL;
}

/* Median and range over the repetitions of num / den, paired by repetition. */
static bool l_ratio(int path, unsigned int chunk, enum l_method num,
		    enum l_method den, double *med, double *lo, double *hi)
{
	double v[64];
	unsigned int n = 0;
	size_t i, j;

	for (i = 0; i < L.nres; i++) {
		const struct l_result *a = &L.res[i];

		if (a->path != path || a->chunk != chunk || a->method != num ||
		    a->err || !a->bytes)
			continue;
		for (j = 0; j < L.nres && n < 64; j++) {
			const struct l_result *b = &L.res[j];

			if (b->path != path || b->chunk != chunk ||
			    b->method != den || b->rep != a->rep || b->err ||
			    !b->bytes || !b->cpu)
				continue;
			v[n++] = (a->cpu / a->bytes) / (b->cpu / b->bytes);
		}
	}
	if (!n)
		return false;
	*lo = INFINITY;
	*hi = 0;
	for (i = 0; i < n; i++) {
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
	*med = b_median(v, n);
	return true;
}

/* Whether @path runs: its setup worked and -P selected it. */
static bool l_path_ok(int path)
{
	if (path == L_FILE_PATH)
		return true;
	if (!b_path_ok(path))
		return false;
	return B.o.paths & (1U << path);
}

/*
 * The chunk sizes @path runs into @v (at most 2 * B_MAX_PAYLOADS): UDP's
 * as b_path_payload() makes them; the file path (the read halves) every
 * size a socket path uses, so that each half has its whole to compare to.
 */
static unsigned int l_chunks(int path, unsigned int *v)
{
	unsigned int ci, j, n = 0;
	int p;

	for (p = 0; p < B_NR_PATHS; p++) {
		if (path != L_FILE_PATH && p != path)
			continue;
		if (path == L_FILE_PATH && !l_path_ok(p))
			continue;
		for (ci = 0; ci < B.o.nr_chunks; ci++) {
			unsigned int c = b_path_payload(p, B.o.chunks[ci]);

			for (j = 0; j < n && v[j] != c; j++)
				;
			if (c && j == n)
				v[n++] = c;
		}
	}
	return n;
}

static void l_table(void)
{
	double cpg[64], mbs[64], med, lo, hi;
	unsigned int chunks[2 * B_MAX_PAYLOADS], nc, ci, n;
	int p, m;
	size_t i;

	printf("\n%-4s %-7s %-9s %14s %17s %9s %8s %8s\n", "path", "chunk",
	       "method", "cpu s/GiB", "(min..max)", "MiB/s", "copied", "pkt/chk");
	for (p = 0; p <= L_FILE_PATH; p++) {
		nc = l_path_ok(p) ? l_chunks(p, chunks) : 0;
		for (ci = 0; ci < nc; ci++) {
			unsigned int chunk = chunks[ci];

			for (m = 0; m < L_NR_METHODS; m++) {
				unsigned long long nt = 0, cp = 0, pk = 0, ch = 0;
				char share[16], ppc[16];

				lo = INFINITY;
				hi = 0;
				n = 0;
				for (i = 0; i < L.nres && n < 64; i++) {
					const struct l_result *x = &L.res[i];

					if (x->path != p || x->chunk != chunk ||
					    x->method != (enum l_method)m ||
					    x->err || !x->bytes)
						continue;
					cpg[n] = x->cpu / (x->bytes / B_GiB);
					mbs[n] = x->bytes / B_MiB / x->wall;
					lo = cpg[n] < lo ? cpg[n] : lo;
					hi = cpg[n] > hi ? cpg[n] : hi;
					nt += x->notifs;
					cp += x->copied;
					pk += x->pkts;
					ch += x->chunks;
					n++;
				}
				if (!n)
					continue;
				snprintf(share, sizeof(share), "-");
				if (nt)
					snprintf(share, sizeof(share), "%.0f%%",
						 100.0 * cp / nt);
				snprintf(ppc, sizeof(ppc), "-");
				if (p != L_FILE_PATH && ch)
					snprintf(ppc, sizeof(ppc), "%.2f",
						 (double)pk / ch);
				printf("%-4s %-7u %-9s %14.3f %8.3f..%-8.3f %9.0f %8s %8s\n",
				       l_path_name(p), chunk, l_method_name[m],
				       b_median(cpg, n), lo, hi, b_median(mbs, n),
				       share, ppc);
			}
			if (p == L_FILE_PATH)
				continue;
			if (l_ratio(p, chunk, L_CHAIN, L_READSEND, &med, &lo, &hi))
				printf("%-4s %-7u chain/readsend CPU per GiB %.2f (%.2f..%.2f)\n",
				       l_path_name(p), chunk, med, lo, hi);
			if (l_ratio(p, chunk, L_CHAIN, L_SENDFILE, &med, &lo, &hi))
				printf("%-4s %-7u chain/sendfile CPU per GiB %.2f (%.2f..%.2f)\n",
				       l_path_name(p), chunk, med, lo, hi);
		}
	}
}

/*
 * Repetitions of paths x chunks; within a cell the methods run back to
 * back in an order rotated from one repetition to the next (b_matrix()).
 */
static int l_bench(void)
{
	unsigned int chunks[2 * B_MAX_PAYLOADS], nc, rep, ci, k, nm;
	int p, ret;

	ret = l_setup();
	if (ret) {
		b_err("lend: setup: %s", strerror(-ret));
		l_teardown();
		return ret;
	}
	printf("LENDINFO,%s,qd=%u,run_ms=%u,warm_ms=%u,reps=%u,file_bytes=%zu,slot_bytes=%zu,ring_flags=0x%x,tcp=%s\n",
	       B.kernel, B.o.qd, B.o.run_ms, B.o.warm_ms, B.o.reps, L.file_len,
	       L.slot_len, L.ring_flags, B.tcp_kind ? B.tcp_kind : "none");
	printf("LENDHDR,kernel,path,chunk,method,rep,bytes,wall_s,chunks,cpu_s,cpu_busy_s,softirq_s,notifs,copied,tx_packets,err,probe_ns\n");
	for (rep = 0; rep < B.o.reps && !ret; rep++) {
		b_log("lend: repetition %u of %u", rep + 1, B.o.reps);
		for (p = 0; p <= L_FILE_PATH && !ret; p++) {
			if (!l_path_ok(p))
				continue;
			nm = p == L_FILE_PATH ? L_NR_METHODS - L_SOCK_METHODS :
						L_SOCK_METHODS;
			nc = l_chunks(p, chunks);
			for (ci = 0; ci < nc && !ret; ci++) {
				for (k = 0; k < nm; k++) {
					enum l_method m = (k + rep + ci) % nm;

					if (p == L_FILE_PATH)
						m += L_SOCK_METHODS;
					if (l_run_one(p, m, chunks[ci], rep) == -EIO) {
						ret = -EIO;
						break;
					}
				}
			}
		}
	}
	if (B.o.table)
		l_table();
	l_teardown();
	return ret;
}

/* ------------------------------------------------------------------------
 * Setup and options
 */

/* The send matrix's buffers, registered with the module and io_uring. */
static int b_setup_matrix(void)
{
	struct iovec iov[B_NR_TEMPS];
	struct iopbuf_buf_reg breg = { .iovs = (uintptr_t)iov, .nr = B_NR_TEMPS };
	size_t cold_len;
	int t, ret;

	/*
	 * hot: one payload-sized buffer; cold: a walk over more than the
	 * LLC (the host's, under TCG); both on 4 KiB pages. cold2m: the cold
	 * walk again on 2 MiB pages, only for the diagnostic pass.
	 */
	cold_len = B.o.cold_bytes & ~(2 * B_MiB - 1);
	if (cold_len < 2 * B_MiB)
		cold_len = 2 * B_MiB;
	B.region_len[B_HOT] = B_HOT_LEN;
	B.region_len[B_COLD] = cold_len;
	for (t = B_HOT; t <= B_COLD; t++) {
		B.region_map_len[t] = B.region_len[t];
		B.region_map[t] = b_map(B.region_len[t], false);
		B.region[t] = B.region_map[t];
		if (!B.region[t]) {
			b_err("no memory for a %zu-byte region", B.region_len[t]);
			return -ENOMEM;
		}
		memset(B.region[t], 0x5a, B.region_len[t]);
	}
	if (B.o.diag || (B.o.temps & (1U << B_COLD2M))) {
		B.region[B_COLD2M] = b_huge_map(cold_len, B.cold2m_backing,
						sizeof(B.cold2m_backing),
						&B.region_map[B_COLD2M],
						&B.region_map_len[B_COLD2M]);
		if (B.region[B_COLD2M])
			B.region_len[B_COLD2M] = cold_len;
		else
			b_log("no memory on 2 MiB pages: no cold2m runs");
	}
	for (t = 0; t < B_NR_TEMPS; t++)
		iov[t] = (struct iovec){ B.region[t], B.region_len[t] };
	if (ioctl(B.dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg)) {
		b_err("IOPBUF_IOC_REGISTER_BUFFERS: %s", strerror(errno));
		return -errno;
	}

	/* one ring for every io_uring mode, big CQEs for the module */
	B.ring_flags = IORING_SETUP_CQE32 | IORING_SETUP_SINGLE_ISSUER |
		       IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init(64, &B.ring, B.ring_flags);
	if (ret == -EINVAL) {
		B.ring_flags = IORING_SETUP_CQE32 | IORING_SETUP_COOP_TASKRUN;
		ret = io_uring_queue_init(64, &B.ring, B.ring_flags);
	}
	if (ret) {
		b_err("io_uring_queue_init: %s", strerror(-ret));
		return ret;
	}
	ret = io_uring_register_buffers(&B.ring, iov, B_NR_TEMPS);
	if (ret) {
		b_err("io_uring_register_buffers: %s", strerror(-ret));
		return ret;
	}
	B.ring_ok = true;
	return 0;
}

static int b_setup(void)
{
	struct utsname u;
	struct sigaction sa = { .sa_handler = b_on_alarm };
	int ret;

	uname(&u);
	snprintf(B.kernel, sizeof(B.kernel), "%s", u.release);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: wake blocked calls */
	B.dev = B.ns_main = -1;
	for (int p = 0; p < B_NR_PATHS; p++)
		B.rx[p].ns = B.rx[p].lfd = -1;
	B.hugepages_orig = -1;

	B.dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (B.dev < 0 || ioctl(B.dev, IOPBUF_IOC_PROBE, &B.probe)) {
		b_err("%s: %s", IOPBUF_DEVICE_PATH, strerror(errno));
		return -errno;
	}
	if (B.o.matrix || B.o.targets) {
		ret = b_setup_matrix();
		if (ret)
			return ret;
	}
	if (!B.o.matrix && !B.o.lend && !B.o.targets)
		return 0;

	B.ns_main = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (B.ns_main < 0)
		return -errno;
	ret = b_udp_setup();
	if (ret)
		b_err("UDP sink (%s): %s; UDP path skipped", B_DUMMY_IF, strerror(-ret));
	if (B.o.paths & (1U << B_TCP)) {
		ret = b_tcp_setup();
		if (ret)
			b_err("TCP receiver: %s; TCP path skipped", strerror(-ret));
	}
	if (B.o.paths & (1U << B_NIC)) {
		ret = b_nic_setup();
		if (ret)
			b_err("NIC path (two e1000 NICs, tools/bench.vm): %s; NIC path skipped",
			      strerror(-ret));
	}

	/* SEND_ZC with REPORT_USAGE: a probe send to the sink */
	if (B.udp_ok && B.ring_ok) {
		struct b_run r = { .path = B_UDP, .temp = B_HOT, .mode = B_SENDZC,
				   .payload = 64, .nbufs = 1, .slice = 64 };

		B.report_usage = true;
		r.tag = ++B.gen;
		r.fd = b_socket(&r);
		if (r.fd >= 0) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&B.ring);

			b_prep(&r, sqe);
			r.inflight = 1;
			b_drain_uring(&r);
			if (r.err == EINVAL) {
				B.report_usage = false;
				b_log("SEND_ZC has no IORING_SEND_ZC_REPORT_USAGE: copied share unknown for B3");
			}
			close(r.fd);
		}
	}
	return 0;
}

static void b_teardown(void)
{
	b_net_teardown();
	if (B.ring_ok)
		io_uring_queue_exit(&B.ring);
	B.ring_ok = false;
	if (B.dev >= 0)
		close(B.dev);
	B.dev = -1;
	for (int t = 0; t < B_NR_TEMPS; t++) {
		if (B.region_map[t])
			munmap(B.region_map[t], B.region_map_len[t]);
		B.region_map[t] = NULL;
		B.region[t] = NULL;
	}
	b_hugepages_restore();
}

static unsigned long long b_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; break;
	case 'm': case 'M': v <<= 20; break;
	case 'g': case 'G': v <<= 30; break;
	}
	return v;
}

static unsigned int b_names(const char *list, const char *const *names,
			    unsigned int n)
{
	char buf[256], *tok, *save = NULL;
	unsigned int mask = 0, i;

	if (!strcmp(list, "all"))
		return (1U << n) - 1;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < n; i++)
			if (!strcmp(tok, names[i]))
				mask |= 1U << i;
		if (!strcmp(tok, "mod_bundle"))
			mask |= 1U << B_MOD4 | 1U << B_MOD16;
	}
	return mask;
}

static __attribute__((unused)) void b_usage(void)
{
	printf("usage: bench [-t run_ms] [-w warm_ms] [-r reps] [-q qd] [-p 4k,16k,64k,256k]\n"
	       "             [-m all|send,uring,msgzc,sendzc,mod,mod_b4,mod_b16] [-P udp,tcp,nic]\n"
	       "             [-T hot,cold] [-C cold_bytes] [-c tx_cpu,rx_cpu]\n"
	       "             [-b bvec_bytes] [-n bvec_cmds] [-B (bvec only)] [-N (no bvec)] [-Q]\n"
	       "             [-l (TCP over loopback)] [-d (TCP without TCP_NODELAY)]\n"
	       "             [-H (4 KiB vs 2 MiB page pass)]\n"
	       "             [-o matrix,bvec,lend,targets (parts to run; default all but targets)]\n"
	       "             [-S (wait for a steady clock, print BENCHCAL)]\n"
	       "             [-k 64k,1m (lend chunks)] [-F file_bytes (lend file)]\n");
}

static void b_defaults(struct b_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->payloads[0] = 4 * B_KiB;
	o->payloads[1] = 16 * B_KiB;
	o->payloads[2] = 64 * B_KiB;
	o->payloads[3] = 256 * B_KiB;
	o->nr_payloads = 4;
	o->modes = (1U << B_NR_MODES) - 1;
	o->paths = 1U << B_UDP | 1U << B_TCP;	/* -P nic: tools/bench.vm's NICs */
	o->temps = 1U << B_HOT | 1U << B_COLD;
	o->reps = 3;
	o->qd = 8;
	o->warm_ms = 40;
	o->run_ms = 250;
	o->cold_bytes = 128 * B_MiB;
	o->tx_cpu = 0;
	o->rx_cpu = 1;
	o->matrix = true;
	o->bvec = true;
	o->bvec_bytes = 8 * B_MiB;
	o->bvec_cmds = 1000;
	o->table = true;
	o->lend = true;
	o->chunks[0] = 64 * B_KiB;
	o->chunks[1] = B_MiB;
	o->nr_chunks = 2;
	o->file_bytes = 64 * B_MiB;
}

/* A comma-separated list of sizes into @v; their number. */
static unsigned int b_sizes(const char *list, unsigned int *v)
{
	char buf[256], *tok, *save = NULL;
	unsigned int n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok && n < B_MAX_PAYLOADS;
	     tok = strtok_r(NULL, ",", &save))
		v[n++] = b_size(tok);
	return n;
}

/* -o: which parts run; -B and -N are older spellings of two choices. */
static int b_parts(struct b_opts *o, const char *list)
{
	static const char *const parts[] = { "matrix", "bvec", "lend", "targets" };
	unsigned int mask = strcmp(list, "all") ? b_names(list, parts, 4) : 7;

	if (!mask)
		return -EINVAL;
	o->matrix = mask & 1;
	o->bvec = mask & 2;
	o->lend = mask & 4;
	o->targets = mask & 8;
	return 0;
}

static int b_parse(struct b_opts *o, int argc, char **argv)
{
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "t:w:r:q:p:m:P:T:C:c:b:n:BNQldHho:k:F:S")) != -1) {
		switch (c) {
		case 't': o->run_ms = atoi(optarg); break;
		case 'w': o->warm_ms = atoi(optarg); break;
		case 'r': o->reps = atoi(optarg); break;
		case 'q': o->qd = atoi(optarg); break;
		case 'p': o->nr_payloads = b_sizes(optarg, o->payloads); break;
		case 'k': o->nr_chunks = b_sizes(optarg, o->chunks); break;
		case 'F': o->file_bytes = b_size(optarg); break;
		case 'o':
			if (b_parts(o, optarg))
				return -EINVAL;
			break;
		case 'm': o->modes = b_names(optarg, b_mode_name, B_NR_MODES); break;
		case 'P': o->paths = b_names(optarg, b_path_name, B_NR_PATHS); break;
		case 'T': o->temps = b_names(optarg, b_temp_name, B_NR_TEMPS); break;
		case 'C': o->cold_bytes = b_size(optarg); break;
		case 'c':
			if (sscanf(optarg, "%d,%d", &o->tx_cpu, &o->rx_cpu) < 1)
				return -EINVAL;
			break;
		case 'b': o->bvec_bytes = b_size(optarg); break;
		case 'n': o->bvec_cmds = atoi(optarg); break;
		case 'B': o->matrix = o->lend = false; break;
		case 'N': o->bvec = false; break;
		case 'Q': o->quiet = true; o->table = false; break;
		case 'l': o->tcp_loopback = true; break;
		case 'd': o->nagle = true; break;
		case 'H': o->diag = true; break;
		case 'S': o->settle = true; break;
		default: return -EINVAL;
		}
	}
	if (!o->qd || o->qd > B_MAX_QD || !o->reps || !o->nr_payloads ||
	    !o->nr_chunks)
		return -EINVAL;
	for (c = 0; c < (int)o->nr_chunks; c++)
		if (o->chunks[c] < 16 || o->chunks[c] > 16 * B_MiB)
			return -EINVAL;
	for (c = 0; c < (int)o->nr_payloads; c++)
		if (o->payloads[c] < 16 || o->payloads[c] > B_HOT_LEN ||
		    o->payloads[c] % 16)
			return -EINVAL;
	return 0;
}

/* Thread CPU milliseconds of @iters turns of a fixed loop. */
static double b_spin_ms(unsigned long iters)
{
	volatile unsigned long x = 0;
	double c0 = b_thread_cpu();
	unsigned long i;

	for (i = 0; i < iters; i++)
		x += i;
	return (b_thread_cpu() - c0) * 1e3;
}

/*
 * -S: wait until the guest's clock is steady, and say what a few
 * reference operations cost. Right after boot, timing a fixed loop gives
 * twice its later figure (clocksource switch, boot work on the CPU); the
 * loop is timed until two readings in a row agree within 0.1% (at most
 * 30 times). Under QEMU -icount that settles at the loop's instruction
 * count, the same from one boot to the next; under plain TCG it need not
 * settle at all, which BENCHCAL's "steady=0" then says.
 */
static void b_settle(void)
{
	static unsigned char src[64 * 1024], dst[64 * 1024];
	double prev = -1, cur = 0, c0, cpy;
	char cs[64] = "unknown";
	int tries, i;
	FILE *f;

	for (tries = 1; tries <= 30; tries++) {
		cur = b_spin_ms(20000000UL);
		if (prev > 0 && fabs(cur - prev) <= prev * 1e-3)
			break;
		prev = cur;
	}
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
	if (f) {
		if (fscanf(f, "%63s", cs) != 1)
			snprintf(cs, sizeof(cs), "unknown");
		fclose(f);
	}
	memset(src, 1, sizeof(src));
	c0 = b_thread_cpu();
	for (i = 0; i < 1000; i++) {
		memcpy(dst, src, sizeof(dst));
		__asm__ __volatile__("" : : "r"(dst) : "memory");
	}
	cpy = (b_thread_cpu() - c0) * 1e9 / 1000;
	printf("BENCHCAL,%s,steady=%d,tries=%d,loop_ms=%.3f,prev_ms=%.3f,clocksource=%s,memcpy64k_ns=%.0f,getppid_ns=%.0f,idle_ns=%s\n",
	       B.kernel, tries <= 30, tries > 30 ? 30 : tries, cur, prev, cs,
	       cpy, b_probe(), b_idle_ns() >= 0 ? "timer_list" :
	       b_tasks_ns() >= 0 ? "task_schedstat" : "none");
}

/*
 * -o targets: the cells the targets are decided from, each repetition
 * running every mode of a cell back to back:
 *   sweep  UDP sink, hot buffer, 4-60 KiB (R1, R2, R3, the a + b x pages
 *          fit, R5's UDP half);
 *   nic    TCP through the e1000 pair at 64 KiB, windows twice as long
 *          (R4, R5);
 *   veth   TCP over a veth pair at 64 KiB, zero-copy modes (R5: all
 *          reported copied).
 */
static int b_targets(void)
{
	static const unsigned int sweep[] = { 4 * B_KiB, 8 * B_KiB, 16 * B_KiB,
					      32 * B_KiB, B_UDP_BIG };
	static const unsigned int big[] = { 64 * B_KiB };
	const unsigned int zc = 1U << B_MSGZC | 1U << B_SENDZC | 1U << B_MOD1 |
				1U << B_MOD16;
	int ret;

	if (!B.udp_ok || !B.nic_ok || !B.rx[B_TCP].ok)
		b_err("targets: a path is missing (udp %d, nic %d, veth %d)",
		      B.udp_ok, B.nic_ok, B.rx[B_TCP].ok);
	ret = b_matrix(1U << B_UDP, sweep, 5, 1U << B_HOT, B.o.modes, "sweep");
	if (!ret) {
		/* a 64 KiB request takes ~20 times longer there: longer windows */
		B.o.run_ms *= 2;
		ret = b_matrix(1U << B_NIC, big, 1, 1U << B_HOT, B.o.modes, "nic");
		B.o.run_ms /= 2;
	}
	if (!ret)
		ret = b_matrix(1U << B_TCP, big, 1, 1U << B_HOT, zc & B.o.modes,
			       "veth");
	return ret;
}

/* Run everything @o asks for; results stay in B for the caller. */
static int bench_run(const struct b_opts *o)
{
	int ret;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(&B, 0, sizeof(B));
	B.o = *o;
	free(L.res);
	memset(&L, 0, sizeof(L));
	L.dev = L.file = -1;
	if (B.o.rx_cpu >= ncpu)
		B.o.rx_cpu = -1;
	if (B.o.tx_cpu >= ncpu)
		B.o.tx_cpu = 0;
	if (B.o.targets)
		B.o.paths = (1U << B_NR_PATHS) - 1;
	ret = b_setup();
	if (ret)
		goto out;
	b_pin(B.o.tx_cpu);
	if (B.o.settle)
		b_settle();
	printf("BENCHINFO,%s,qd=%u,run_ms=%u,warm_ms=%u,reps=%u,cold_bytes=%zu,tx_cpu=%d,rx_cpu=%d,ring_flags=0x%x,report_usage=%d,tcp=%s,cpus=%ld,max_bundle_segs=%u,cold2m=%s,nodelay=%d,nic=%s\n",
	       B.kernel, B.o.qd, B.o.run_ms, B.o.warm_ms, B.o.reps,
	       B.region_len[B_COLD], B.o.tx_cpu, B.o.rx_cpu, B.ring_flags,
	       B.report_usage, B.tcp_kind ? B.tcp_kind : "none", ncpu,
	       B.probe.max_bundle_segs,
	       B.region[B_COLD2M] ? B.cold2m_backing : "none", !B.o.nagle,
	       B.nic_ok ? B.nic[0] : "none");
	if (B.o.targets) {
		printf("BENCHHDR,kernel,path,payload,temp,mode,rep,bytes,wall_s,reqs,bufs,cpu_s,cpu_rusage_s,cpu_busy_s,softirq_s,notifs,copied,err,probe_ns,phase,busy_all_s,busy_tasks_s\n");
		ret = b_targets();
		if (B.o.table)
			b_table();
	}
	if (!ret && B.o.matrix) {
		printf("BENCHHDR,kernel,path,payload,temp,mode,rep,bytes,wall_s,reqs,bufs,cpu_s,cpu_rusage_s,cpu_busy_s,softirq_s,notifs,copied,err,probe_ns,phase,busy_all_s,busy_tasks_s\n");
		ret = b_matrix(B.o.paths, B.o.payloads, B.o.nr_payloads,
			       B.o.temps, B.o.modes, "matrix");
		if (!ret && B.o.diag) {
			/*
			 * Where does the module's per-page cost come from?
			 * The same cold walk on 4 KiB and on 2 MiB pages: a
			 * slice then is one bio_vec segment instead of one
			 * per page, while the pages the stack references stay
			 * the same.
			 */
			static const unsigned int pl[] = { 16 * B_KiB, 64 * B_KiB };

			ret = b_matrix(1U << B_UDP, pl, 2,
				       1U << B_COLD | 1U << B_COLD2M,
				       (1U << B_SENDZC | 1U << B_MOD1 |
					1U << B_MOD16) & B.o.modes, "pages");
		}
		if (B.o.table)
			b_table();
	}
	if (!ret && B.o.bvec)
		ret = b_bvec_bench();
	if (!ret && B.o.lend)
		ret = l_bench();
	printf("BENCHDONE,%s,errors=%d\n", B.kernel, B.errors);
out:
	b_teardown();
	return ret;
}

/* The program: options as b_usage() shows; exit 0, 1 on errors, 2 usage. */
static __attribute__((unused)) int bench_main(int argc, char **argv)
{
	struct b_opts o;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	b_defaults(&o);
	if (b_parse(&o, argc, argv)) {
		b_usage();
		return 2;
	}
	ret = bench_run(&o);
	return ret || B.errors ? 1 : 0;
}

#ifndef BENCH_NO_MAIN
int main(int argc, char **argv)
{
	return bench_main(argc, argv);
}
#endif
