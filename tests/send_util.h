/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the send tests (send.c, send_diff.c, send_stress.c):
 * IOPBUF_CMD_SEND submission and completion decoding, provided-buffer
 * rings in application memory, 4 KiB-page and hugetlb memory, TCP and UDP
 * sockets over IPv4 and IPv6 loopback, a UDP sink on a dummy interface,
 * a slice pattern whose bytes name their slice, and a receiver thread.
 *
 * Everything records failures through harness.h and returns false (or a
 * negative value) so that a case can stop and clean up.
 */
#ifndef IOPBUF_TESTS_SEND_UTIL_H
#define IOPBUF_TESTS_SEND_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include "harness.h"

/* How long a test waits for a completion that must come. */
#define SU_WAIT_MS	5000
/* How long a test waits to be sure a completion does not come. */
#define SU_QUIET_MS	300

/* ------------------------------------------------------------------------
 * io_uring and completions
 */

/* One completion, copied out of the CQ ring. */
struct su_cqe {
	int	res;
	__u32	flags;		/* cqe->flags (native operations) */
	__u64	user_data;
	__u64	res2;		/* big_cqe[0] on a CQE32 ring, else 0 */
};

static inline __u16 su_bid(const struct su_cqe *c)
{
	return iopbuf_cqe_bid(c->res2);
}

static inline __u16 su_nbufs(const struct su_cqe *c)
{
	return iopbuf_cqe_nbufs(c->res2);
}

static inline __u16 su_cflags(const struct su_cqe *c)
{
	return iopbuf_cqe_flags(c->res2);
}

/*
 * An io_uring of @entries SQEs with @flags. SKIP when io_uring (or the
 * flags) are unavailable on this kernel, FAIL on other errors.
 */
static inline bool su_uring_init(struct io_uring *ring, unsigned int entries,
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

static inline void su_cqe_copy(const struct io_uring *ring,
			       const struct io_uring_cqe *cqe,
			       struct su_cqe *c)
{
	c->res = cqe->res;
	c->flags = cqe->flags;
	c->user_data = cqe->user_data;
	c->res2 = ring->flags & IORING_SETUP_CQE32 ? cqe->big_cqe[0] : 0;
}

/* Wait up to @ms for a CQE; false (and a failure) if none came. */
static inline bool su_wait_ms(struct io_uring *ring, struct su_cqe *c, int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret) {
		FAILF("no completion within %d ms: %s", ms, h_res(ret));
		return false;
	}
	su_cqe_copy(ring, cqe, c);
	io_uring_cqe_seen(ring, cqe);
	return true;
}

static inline bool su_wait(struct io_uring *ring, struct su_cqe *c)
{
	return su_wait_ms(ring, c, SU_WAIT_MS);
}

/*
 * No completion for @ms. Waiting in io_uring_enter() runs task work, so a
 * command that would complete from task work does so here.
 */
static inline bool su_no_cqe(struct io_uring *ring, int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret == -ETIME)
		return true;
	if (ret)
		FAILF("waiting for no completion: %s", h_res(ret));
	else
		FAILF("unexpected completion: res %s res2 %#llx",
		      h_res(cqe->res), ring->flags & IORING_SETUP_CQE32 ?
		      (unsigned long long)cqe->big_cqe[0] : 0ULL);
	return false;
}

/* Queue (not submit) an IOPBUF_CMD_SEND on the device @dev. */
static inline bool su_queue_send(struct io_uring *ring, int dev,
				 const struct iopbuf_cmd_send *cmd,
				 __u64 user_data)
{
	if (!h_prep_cmd(ring, dev, IOPBUF_CMD_SEND, cmd, sizeof(*cmd),
			user_data)) {
		FAILF("no free SQE");
		return false;
	}
	return true;
}

/* Submit everything queued; exactly @n SQEs must be consumed. */
static inline bool su_submit(struct io_uring *ring, int n)
{
	int ret = io_uring_submit(ring);

	if (ret != n) {
		FAILF("io_uring_submit: %s, want %d", h_res(ret), n);
		return false;
	}
	return true;
}

/* Submit one send and wait for its completion. */
static inline bool su_send(struct io_uring *ring, int dev,
			   const struct iopbuf_cmd_send *cmd, struct su_cqe *c)
{
	return su_queue_send(ring, dev, cmd, 0x5e4d) && su_submit(ring, 1) &&
	       su_wait(ring, c);
}

/* A completion that consumed nothing: -@err and res2 == 0. */
#define EXPECT_SEND_ERR(c, err) ({					\
	const struct su_cqe *_c = (c);					\
	bool _ok = EXPECT_ERR(_c->res, (err));				\
	_ok &= EXPECT_EQ(_c->res2, 0);					\
	_ok;								\
})

/* ------------------------------------------------------------------------
 * Provided-buffer rings in application memory
 */

struct su_ring {
	int			dev;
	struct iopbuf_buf	*bufs;
	size_t			map_len;
	unsigned int		entries;
	unsigned int		bgid;
	__u16			tail;	/* entries added so far */
	bool			registered;
};

/* Register ring @bgid of @entries entries with @flags on @dev. */
static inline bool su_ring_init(struct su_ring *r, int dev,
				unsigned int entries, unsigned int bgid,
				unsigned int flags)
{
	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->entries = entries;
	r->bgid = bgid;
	r->map_len = (entries * sizeof(struct iopbuf_buf) + H_PAGE - 1) &
		     ~(H_PAGE - 1);
	r->bufs = h_map(r->map_len);
	if (!r->bufs)
		return false;
	if (!EXPECT_OK(h_register_ring(dev, r->bufs, entries, bgid, flags, 0)))
		return false;
	r->registered = true;
	return true;
}

static inline void su_ring_fini(struct su_ring *r)
{
	if (r->registered && r->dev >= 0)
		h_unregister_ring(r->dev, r->bgid);
	r->registered = false;
	h_unmap(r->bufs, r->map_len);
	r->bufs = NULL;
}

/* Fill the next entry (invisible to the kernel until published). */
static inline void su_ring_add(struct su_ring *r, __u64 addr, __u32 len,
			       __u16 bid)
{
	struct iopbuf_buf *b = &r->bufs[r->tail & (r->entries - 1)];

	b->addr = addr;
	b->len = len;
	b->bid = bid;
	r->tail++;
}

/* Publish the entries added so far (release store of the tail). */
static inline void su_ring_publish(struct su_ring *r)
{
	__atomic_store_n(iopbuf_ring_tail(r->bufs), r->tail, __ATOMIC_RELEASE);
}

/* The kernel head of the ring, or -1 (and a failure). */
static inline long su_ring_head(const struct su_ring *r)
{
	unsigned int head = 0;

	if (!EXPECT_OK(h_ring_status(r->dev, r->bgid, &head)))
		return -1;
	return head;
}

#define EXPECT_HEAD(r, want)	EXPECT_EQ(su_ring_head(r), (want))

/* ------------------------------------------------------------------------
 * Memory
 */

/*
 * Anonymous memory backed by 4 KiB pages: transparent huge pages are
 * refused before the first touch, then every page is faulted in.
 */
static inline unsigned char *su_map_4k(size_t len)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		FAILF("mmap %zu bytes: %s", len, strerror(errno));
		return NULL;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	memset(p, 0xee, len);
	return p;
}

/* A number from /proc/meminfo ("HugePages_Free", "Hugepagesize"), or -1. */
static inline long su_meminfo(const char *key)
{
	char line[128];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static inline long su_read_long(const char *path)
{
	char buf[64];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static inline bool su_write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fputs(s, f) >= 0;
	return fclose(f) == 0 && ok;
}

#define SU_NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

/* hugetlb memory and the nr_hugepages setting to restore afterwards. */
struct su_huge {
	unsigned char	*p;
	size_t		len;
	size_t		page;		/* huge page size */
	long		old_nr;		/* -1: nr_hugepages untouched */
};

/*
 * @n default-size huge pages, mapped MAP_HUGETLB and faulted in. Raises
 * /proc/sys/vm/nr_hugepages by @n first. NULL and a SKIP when the kernel
 * cannot provide them.
 */
static inline unsigned char *su_huge_map(struct su_huge *h, unsigned int n)
{
	long kb = su_meminfo("Hugepagesize");
	char val[32];

	memset(h, 0, sizeof(*h));
	h->old_nr = -1;
	if (kb <= 0) {
		h_skip("no hugetlb support (no Hugepagesize in /proc/meminfo)");
		return NULL;
	}
	h->page = (size_t)kb << 10;
	h->len = n * h->page;
	h->old_nr = su_read_long(SU_NR_HUGEPAGES);
	if (h->old_nr < 0) {
		h_skip("cannot read %s", SU_NR_HUGEPAGES);
		return NULL;
	}
	snprintf(val, sizeof(val), "%ld", h->old_nr + n);
	if (su_write_str(SU_NR_HUGEPAGES, val) &&
	    su_meminfo("HugePages_Free") < (long)n) {
		/* fragmented memory: compact it and ask again */
		su_write_str("/proc/sys/vm/compact_memory", "1");
		su_write_str(SU_NR_HUGEPAGES, val);
	}
	if (su_meminfo("HugePages_Free") < (long)n) {
		h_skip("cannot reserve %u huge pages of %ld KiB (nr_hugepages %ld -> %ld, HugePages_Free %ld, MemFree %ld kB)",
		       n, kb, h->old_nr, su_read_long(SU_NR_HUGEPAGES),
		       su_meminfo("HugePages_Free"), su_meminfo("MemFree"));
		return NULL;
	}
	h->p = mmap(NULL, h->len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h->p == MAP_FAILED) {
		h->p = NULL;
		h_skip("mmap(MAP_HUGETLB, %zu bytes): %s", h->len,
		       strerror(errno));
		return NULL;
	}
	memset(h->p, 0xee, h->len);
	return h->p;
}

static inline void su_huge_unmap(struct su_huge *h)
{
	char val[32];

	if (h->p)
		munmap(h->p, h->len);
	h->p = NULL;
	if (h->old_nr >= 0) {
		snprintf(val, sizeof(val), "%ld", h->old_nr);
		su_write_str(SU_NR_HUGEPAGES, val);
	}
	h->old_nr = -1;
}

/* ------------------------------------------------------------------------
 * Slice pattern: byte @off of slice @id. The first four bytes are the id
 * (little endian), so a misplaced run of bytes names the slice it came
 * from; the rest is a hash of (id, off).
 */

static inline unsigned char su_pat(__u32 id, __u32 off)
{
	__u32 x;

	if (off < 4)
		return (unsigned char)(id >> (8 * off));
	x = id * 0x9E3779B1u ^ off * 0x85EBCA6Bu;
	x ^= x >> 15;
	x *= 0x2C1B3C6Du;
	x ^= x >> 12;
	return (unsigned char)x;
}

static inline void su_fill(void *p, __u32 len, __u32 id)
{
	unsigned char *c = p;
	__u32 i;

	for (i = 0; i < len; i++)
		c[i] = su_pat(id, i);
}

/* The expected byte stream: slices (id, len) in the order they must leave. */
struct su_slice {
	__u32	id;
	__u32	len;
};

struct su_expect {
	struct su_slice	*s;
	size_t		n;
	size_t		cap;
	size_t		total;
};

static inline bool su_expect_add(struct su_expect *e, __u32 id, __u32 len)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;
		struct su_slice *s = realloc(e->s, cap * sizeof(*s));

		if (!s) {
			FAILF("out of memory");
			return false;
		}
		e->s = s;
		e->cap = cap;
	}
	e->s[e->n].id = id;
	e->s[e->n].len = len;
	e->n++;
	e->total += len;
	return true;
}

static inline void su_expect_free(struct su_expect *e)
{
	free(e->s);
	memset(e, 0, sizeof(*e));
}

/* Bytes in slices [@first, @first + @n). */
static inline size_t su_expect_bytes(const struct su_expect *e, size_t first,
				     size_t n)
{
	size_t i, sum = 0;

	for (i = first; i < first + n && i < e->n; i++)
		sum += e->s[i].len;
	return sum;
}

/*
 * @got (@len bytes) must be exactly slices [@first, @first + @n) of @e,
 * concatenated. On a mismatch the failure names the slice and offset, and
 * the slice id the wrong bytes look like (their first four bytes).
 */
static inline bool su_expect_check(const struct su_expect *e, size_t first,
				   size_t n, const unsigned char *got,
				   size_t len, const char *what)
{
	size_t want = su_expect_bytes(e, first, n), pos = 0, i;

	for (i = first; i < first + n && i < e->n; i++) {
		const struct su_slice *s = &e->s[i];
		__u32 off;

		for (off = 0; off < s->len && pos < len; off++, pos++) {
			__u32 seen;

			if (got[pos] == su_pat(s->id, off))
				continue;
			seen = pos + 4 <= len ? (__u32)got[pos] |
			       (__u32)got[pos + 1] << 8 |
			       (__u32)got[pos + 2] << 16 |
			       (__u32)got[pos + 3] << 24 : 0;
			FAILF("%s: byte %zu of %zu (slice #%zu id %u, offset %u of %u): got %#x, want %#x (bytes there start like id %u)",
			      what, pos, want, i, s->id, off, s->len, got[pos],
			      su_pat(s->id, off), seen);
			return false;
		}
	}
	return h_expect(len == want, __FILE__, __LINE__,
			"%s: %zu bytes, want %zu", what, len, want);
}

/* ------------------------------------------------------------------------
 * Sockets
 */

static inline void su_close2(int fds[2])
{
	h_close(&fds[0]);
	h_close(&fds[1]);
}

static inline const char *su_family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* The loopback address of @family with port @port. */
static inline socklen_t su_loopback(int family, struct sockaddr_storage *ss,
				    unsigned short port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
	((struct sockaddr_in *)ss)->sin_family = AF_INET;
	((struct sockaddr_in *)ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	((struct sockaddr_in *)ss)->sin_port = htons(port);
	return sizeof(struct sockaddr_in);
}

static inline void su_set_int(int fd, int level, int opt, int val)
{
	setsockopt(fd, level, opt, &val, sizeof(val));
}

/* Blocking receives on @fd give up after @ms (EAGAIN). */
static inline void su_set_rcvtimeo(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/*
 * A connected TCP pair over the loopback address of @family: fds[0]
 * receives, fds[1] sends (TCP_NODELAY). A non-zero @sndbuf / @rcvbuf sets
 * the sender's SO_SNDBUF / the receiver's SO_RCVBUF (before the
 * connection, so the window is small from the start): a receiver that
 * does not read then blocks the sender after a few dozen KiB.
 */
static inline bool su_tcp_pair2(int family, int fds[2], int sndbuf,
				int rcvbuf)
{
	struct sockaddr_storage ss;
	socklen_t sl = su_loopback(family, &ss, 0);
	int lfd;

	fds[0] = fds[1] = -1;
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		goto fail;
	if (rcvbuf)
		su_set_int(lfd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
	if (bind(lfd, (struct sockaddr *)&ss, sl) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sl))
		goto fail;
	fds[1] = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[1] < 0)
		goto fail;
	if (sndbuf)
		su_set_int(fds[1], SOL_SOCKET, SO_SNDBUF, sndbuf);
	if (connect(fds[1], (struct sockaddr *)&ss, sl))
		goto fail;
	fds[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fds[0] < 0)
		goto fail;
	su_set_int(fds[1], IPPROTO_TCP, TCP_NODELAY, 1);
	su_set_rcvtimeo(fds[0], 10000);
	close(lfd);
	return true;
fail:
	FAILF("tcp pair over %s loopback: %s", su_family_name(family),
	      strerror(errno));
	if (lfd >= 0)
		close(lfd);
	su_close2(fds);
	return false;
}

/* su_tcp_pair2() with both buffers @bufsize (0: the defaults). */
static inline bool su_tcp_pair(int family, int fds[2], int bufsize)
{
	return su_tcp_pair2(family, fds, bufsize, bufsize);
}

/* Two UDP sockets on the loopback address of @family, connected. */
static inline bool su_udp_pair(int family, int fds[2])
{
	struct sockaddr_storage ss[2];
	socklen_t sl[2];
	int i;

	fds[0] = fds[1] = -1;
	for (i = 0; i < 2; i++) {
		sl[i] = su_loopback(family, &ss[i], 0);
		fds[i] = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 ||
		    bind(fds[i], (struct sockaddr *)&ss[i], sl[i]) ||
		    getsockname(fds[i], (struct sockaddr *)&ss[i], &sl[i]))
			goto fail;
	}
	if (connect(fds[0], (struct sockaddr *)&ss[1], sl[1]) ||
	    connect(fds[1], (struct sockaddr *)&ss[0], sl[0]))
		goto fail;
	/* room for every datagram a test sends before reading (root) */
	if (setsockopt(fds[0], SOL_SOCKET, SO_RCVBUFFORCE, &(int){ 4 << 20 },
		       sizeof(int)))
		su_set_int(fds[0], SOL_SOCKET, SO_RCVBUF, 4 << 20);
	su_set_rcvtimeo(fds[0], SU_WAIT_MS);
	return true;
fail:
	FAILF("udp pair over %s loopback: %s", su_family_name(family),
	      strerror(errno));
	su_close2(fds);
	return false;
}

/*
 * Fill @fd's send queue with plain send(MSG_DONTWAIT) until it stays full:
 * EAGAIN, and still EAGAIN after the acknowledgements in flight had time
 * to free space (the receiver's window is full too). Returns the bytes
 * queued, or -1.
 */
static inline ssize_t su_fill_sndbuf(int fd)
{
	static unsigned char junk[4096];
	ssize_t total = 0, round, n;
	int quiet = 0;

	memset(junk, 0x5a, sizeof(junk));
	while (quiet < 3) {
		round = 0;
		while ((n = send(fd, junk, sizeof(junk),
				 MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
			round += n;
		if (errno != EAGAIN) {
			FAILF("filling the send queue: %s", strerror(errno));
			return -1;
		}
		total += round;
		quiet = round ? 0 : quiet + 1;
		usleep(20000);
	}
	return total;
}

/* Bytes the sender still holds (unsent or unacknowledged), or -1. */
static inline int su_outq(int fd)
{
	int n = -1;

	return ioctl(fd, SIOCOUTQ, &n) ? -1 : n;
}

/* Bytes the sender holds that it has not sent yet, or -1. */
static inline int su_outq_unsent(int fd)
{
	int n = -1;

	return ioctl(fd, SIOCOUTQNSD, &n) ? -1 : n;
}

/* Bytes a socket has queued for reading, or -1. */
static inline int su_inq(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) ? -1 : n;
}

/* ------------------------------------------------------------------------
 * The UDP sink: a dummy interface that drops whatever it is given, so the
 * network stack lets go of the pages without copying (zero copy that
 * really is). Addresses exist only inside the test guest.
 */

#define SU_SINK_DEV	"psend0"
#define SU_SINK_V4	"198.51.100.1/24"
#define SU_SINK_PEER4	"198.51.100.2"
#define SU_SINK_V6	"2001:db8:5e::1/64"
#define SU_SINK_PEER6	"2001:db8:5e::2"

/*
 * Run the shell command @cmd, its output (stdout and stderr) into @out;
 * its exit status, or -1 if it could not run.
 */
static inline int su_run_cmd(const char *cmd, char *out, size_t outlen)
{
	char full[512];
	size_t n = 0;
	FILE *f;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	out[0] = 0;
	f = popen(full, "r");
	if (!f)
		return -1;
	while (n + 1 < outlen && fgets(out + n, (int)(outlen - n), f))
		n += strlen(out + n);
	while (n && out[n - 1] == '\n')
		out[--n] = 0;
	st = pclose(f);
	return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * Create the sink (idempotent); false when it cannot be. It is a SKIP only
 * when the kernel has no dummy interfaces: rtnetlink answers a link kind
 * it does not know with EOPNOTSUPP ("RTNETLINK answers: Operation not
 * supported"). Any other failure, the IPv6 address on a kernel with IPv6
 * included, is a FAIL.
 */
static inline bool su_sink_up(void)
{
	char out[512];
	int rc;

	if (access("/sys/class/net/" SU_SINK_DEV, F_OK) == 0)
		return true;
	rc = su_run_cmd("ip link add " SU_SINK_DEV " type dummy", out,
			sizeof(out));
	if (rc) {
		if (rc > 0 && strstr(out, strerror(EOPNOTSUPP)))
			h_skip("no dummy interfaces in this kernel: ip link add "
			       SU_SINK_DEV " type dummy: %s", out);
		else
			FAILF("ip link add " SU_SINK_DEV " type dummy: exit %d: %s",
			      rc, out);
		return false;
	}
	rc = su_run_cmd("ip link set " SU_SINK_DEV " mtu 65535 up && "
			"ip addr add " SU_SINK_V4 " dev " SU_SINK_DEV, out,
			sizeof(out));
	if (rc) {
		FAILF("setting up the sink " SU_SINK_DEV ": exit %d: %s", rc, out);
		return false;
	}
	/* a kernel without IPv6: the IPv6 sink sockets skip (su_sink_socket) */
	if (access("/proc/sys/net/ipv6", F_OK))
		return true;
	/* no duplicate address detection: the address is usable at once */
	if (!su_write_str("/proc/sys/net/ipv6/conf/" SU_SINK_DEV "/accept_dad",
			  "0")) {
		FAILF("writing 0 to /proc/sys/net/ipv6/conf/" SU_SINK_DEV
		      "/accept_dad failed");
		return false;
	}
	rc = su_run_cmd("ip -6 addr add " SU_SINK_V6 " dev " SU_SINK_DEV, out,
			sizeof(out));
	if (rc) {
		FAILF("ip -6 addr add " SU_SINK_V6 ": exit %d: %s", rc, out);
		return false;
	}
	return true;
}

static inline void su_sink_down(void)
{
	if (access("/sys/class/net/" SU_SINK_DEV, F_OK) == 0)
		if (system("ip link del " SU_SINK_DEV " 2>/dev/null"))
			printf("# send: cannot delete " SU_SINK_DEV "\n");
}

/* A UDP socket of @family connected to the far side of the sink. */
static inline int su_sink_socket(int family)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	if (!su_sink_up())
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		inet_pton(AF_INET6, SU_SINK_PEER6, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		inet_pton(AF_INET, SU_SINK_PEER4, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		/* the one answer of a kernel without IPv6 */
		if (family == AF_INET6 && errno == EAFNOSUPPORT)
			h_skip("no IPv6 in this kernel: socket(AF_INET6): %s",
			       strerror(errno));
		else
			FAILF("%s udp socket: %s", su_family_name(family),
			      strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl)) {
		FAILF("connect to the %s sink: %s", su_family_name(family),
		      strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------------------
 * A receiver thread: reads a stream socket into a buffer until EOF.
 */

struct su_rx {
	int		fd;
	unsigned char	*buf;
	size_t		cap;
	size_t		len;		/* bytes stored in buf */
	size_t		extra;		/* bytes beyond cap (dropped) */
	int		err;		/* errno of the failed recv, or 0 */
	pthread_t	thr;
	bool		running;
};

static void *su_rx_fn(void *arg)
{
	static __thread unsigned char scratch[65536];
	struct su_rx *rx = arg;

	for (;;) {
		bool full = rx->len == rx->cap;
		ssize_t n = recv(rx->fd, full ? scratch : rx->buf + rx->len,
				 full ? sizeof(scratch) : rx->cap - rx->len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rx->err = errno;
			break;
		}
		if (n == 0)
			break;
		if (full)
			rx->extra += (size_t)n;
		else
			rx->len += (size_t)n;
	}
	return NULL;
}

/* Start receiving from @fd into a fresh buffer of @cap bytes. */
static inline bool su_rx_start(struct su_rx *rx, int fd, size_t cap)
{
	int ret;

	memset(rx, 0, sizeof(*rx));
	rx->fd = fd;
	rx->cap = cap;
	rx->buf = malloc(cap ? cap : 1);
	if (!rx->buf) {
		FAILF("out of memory");
		return false;
	}
	ret = pthread_create(&rx->thr, NULL, su_rx_fn, rx);
	if (ret) {
		FAILF("pthread_create: %s", strerror(ret));
		return false;
	}
	rx->running = true;
	return true;
}

/* Wait for the receiver to see EOF (or give up); true if it saw EOF. */
static inline bool su_rx_join(struct su_rx *rx)
{
	if (rx->running)
		pthread_join(rx->thr, NULL);
	rx->running = false;
	if (rx->err)
		return h_expect(false, __FILE__, __LINE__,
				"receiver: recv after %zu bytes: %s", rx->len,
				strerror(rx->err));
	return h_expect(!rx->extra, __FILE__, __LINE__,
			"receiver: %zu bytes more than the %zu expected",
			rx->extra, rx->cap);
}

static inline void su_rx_free(struct su_rx *rx)
{
	if (rx->running) {
		shutdown(rx->fd, SHUT_RDWR);
		pthread_join(rx->thr, NULL);
		rx->running = false;
	}
	free(rx->buf);
	rx->buf = NULL;
}

/* ------------------------------------------------------------------------
 * Module-wide counters
 */

/* Wait up to @ms for /sys/class/misc/iouring-pbuf/@attr to read @want. */
static inline bool su_global_is(const char *attr, long want, int ms)
{
	long v;

	for (;;) {
		v = h_sysfs_read(attr);
		if (v == want || ms <= 0)
			break;
		usleep(10000);
		ms -= 10;
	}
	return h_expect(v == want, __FILE__, __LINE__,
			"global %s is %ld, want %ld", attr, v, want);
}

static const char *const su_counter_names[] = {
	"pinned_pages", "charged_pages", "contexts", "inflight", "notifs",
};
#define SU_NOTIFS	4	/* su_counter_names[SU_NOTIFS] */
#define SU_NR_COUNTERS	H_ARRAY_SIZE(su_counter_names)

/* The counters when the test binary started (see su_counters_init). */
static long su_counters_start[SU_NR_COUNTERS];

/* Snapshot the counters; an earlier test's leak is then not blamed here. */
static inline void su_counters_init(void)
{
	unsigned int i;

	for (i = 0; i < SU_NR_COUNTERS; i++) {
		su_counters_start[i] = h_sysfs_read(su_counter_names[i]);
		if (su_counters_start[i])
			printf("# %s: %s is %ld at start\n", h_test_name,
			       su_counter_names[i], su_counters_start[i]);
	}
}

/*
 * Every module-wide counter (the harness's four and notifs) back at its
 * start value (0) within 3 s: nothing pinned, charged, open, in flight or
 * waiting for the network stack.
 */
static inline bool su_counters_idle(void)
{
	bool ok = true;
	unsigned int i;

	for (i = 0; i < SU_NR_COUNTERS; i++)
		ok &= su_global_is(su_counter_names[i], su_counters_start[i],
				   i ? 500 : 3000);
	return ok;
}

/* ------------------------------------------------------------------------
 * Processes
 */

/* waitpid() for at most @ms; true when @pid exited (status in *status). */
static inline bool su_waitpid_ms(pid_t pid, int *status, int ms)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 || ms <= 0)
			return false;
		usleep(10000);
		ms -= 10;
	}
}

#endif /* IOPBUF_TESTS_SEND_UTIL_H */
