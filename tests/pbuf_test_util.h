/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the receive and read tests (recv.c, read.c,
 * recv_diff.c): CQE32 io_uring setup, IOPBUF_CMD_RECV / IOPBUF_CMD_READ
 * submission and decoding, provided-buffer rings in application memory,
 * socket pairs over loopback and a position-dependent data pattern.
 *
 * Everything records failures through harness.h and returns false (or a
 * negative value) so that a case can stop and clean up.
 */
#ifndef IOPBUF_TESTS_PBUF_TEST_UTIL_H
#define IOPBUF_TESTS_PBUF_TEST_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include "harness.h"

/* SQ/CQ depth of the rings these tests create. */
#define T_QD		64
/* How long a test waits for a completion that must come. */
#define T_WAIT_MS	5000
/* How long a test waits to be sure a completion does not come. */
#define T_QUIET_MS	200

/* ------------------------------------------------------------------------
 * Kernel version (for features of io_uring itself, never of the module)
 */

/* Is the running kernel at least @major.@minor? */
static inline bool t_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

/* ------------------------------------------------------------------------
 * io_uring with big CQEs
 */

/*
 * A ring of T_QD entries with @flags (IORING_SETUP_CQE32 for the buffer
 * commands). SKIP when io_uring is unavailable, FAIL on other errors.
 */
static inline bool t_uring_init(struct io_uring *ring, unsigned int flags)
{
	int ret = io_uring_queue_init(T_QD, ring, flags);

	if (!ret)
		return true;
	if (ret == -ENOSYS || ret == -EPERM)
		h_skip("io_uring unavailable: %s", h_res(ret));
	else
		FAILF("io_uring_queue_init(flags %#x): %s", flags, h_res(ret));
	return false;
}

/* One completion, copied out of the CQ ring. */
struct t_cqe {
	int	res;
	__u32	flags;		/* cqe->flags (native operations) */
	__u64	user_data;
	__u64	res2;		/* big_cqe[0] on a CQE32 ring, else 0 */
};

static inline __u16 t_bid(const struct t_cqe *c)
{
	return iopbuf_cqe_bid(c->res2);
}

static inline __u16 t_nbufs(const struct t_cqe *c)
{
	return iopbuf_cqe_nbufs(c->res2);
}

static inline __u16 t_cflags(const struct t_cqe *c)
{
	return iopbuf_cqe_flags(c->res2);
}

static inline bool t_has_buffer(const struct t_cqe *c)
{
	return t_cflags(c) & IOPBUF_CQE_F_BUFFER;
}

static inline bool t_buf_more(const struct t_cqe *c)
{
	return t_cflags(c) & IOPBUF_CQE_F_BUF_MORE;
}

static inline void t_cqe_copy(const struct io_uring *ring,
			      const struct io_uring_cqe *cqe, struct t_cqe *c)
{
	c->res = cqe->res;
	c->flags = cqe->flags;
	c->user_data = cqe->user_data;
	c->res2 = ring->flags & IORING_SETUP_CQE32 ? cqe->big_cqe[0] : 0;
}

/* Wait up to @ms for a CQE; false (and a failure) if none came. */
static inline bool t_wait_ms(struct io_uring *ring, struct t_cqe *c, int ms)
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
	t_cqe_copy(ring, cqe, c);
	io_uring_cqe_seen(ring, cqe);
	return true;
}

static inline bool t_wait(struct io_uring *ring, struct t_cqe *c)
{
	return t_wait_ms(ring, c, T_WAIT_MS);
}

/*
 * No completion arrives for T_QUIET_MS: the command is waiting. Waiting
 * inside io_uring_enter() also runs task work, so a command that would
 * complete from task work does so here.
 */
static inline bool t_no_cqe(struct io_uring *ring)
{
	struct __kernel_timespec ts = { .tv_nsec = T_QUIET_MS * 1000000L };
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

/* ------------------------------------------------------------------------
 * IOPBUF_CMD_RECV and IOPBUF_CMD_READ
 */

/* The full command, including fields a valid command leaves at zero. */
struct t_cmd {
	__u32	op;		/* IOPBUF_CMD_RECV or IOPBUF_CMD_READ */
	int	fd;
	__u16	bgid;
	__u16	flags;		/* IOPBUF_RECV_* */
	__u32	len;
	__u32	resv;
};

/* Queue (not submit) a buffer command on @dev. */
static inline bool t_queue_cmd(struct io_uring *ring, int dev,
			       const struct t_cmd *cmd, __u64 user_data)
{
	struct iopbuf_cmd_recv payload = {
		.fd = cmd->fd,
		.bgid = cmd->bgid,
		.flags = cmd->flags,
		.len = cmd->len,
		.resv = cmd->resv,
	};

	if (!h_prep_cmd(ring, dev, cmd->op, &payload, sizeof(payload),
			user_data)) {
		FAILF("no free SQE");
		return false;
	}
	return true;
}

/*
 * Submit everything queued; exactly @n SQEs must be consumed. With SQPOLL,
 * liburing counts what the poller has not taken yet, earlier SQEs
 * included (a slow poller, as on the debug kernel): at least @n then.
 */
static inline bool t_submit(struct io_uring *ring, int n)
{
	int ret = io_uring_submit(ring);

	if (ring->flags & IORING_SETUP_SQPOLL ? ret < n : ret != n) {
		FAILF("io_uring_submit: %s, want %d", h_res(ret), n);
		return false;
	}
	return true;
}

/* Submit one buffer command without waiting for it. */
static inline bool t_start(struct io_uring *ring, int dev,
			   const struct t_cmd *cmd, __u64 user_data)
{
	return t_queue_cmd(ring, dev, cmd, user_data) && t_submit(ring, 1);
}

/* Submit one buffer command and wait for its completion. */
static inline bool t_do(struct io_uring *ring, int dev,
			const struct t_cmd *cmd, struct t_cqe *c)
{
	return t_start(ring, dev, cmd, 0x5eed) && t_wait(ring, c);
}

/* Shorthands: single-buffer or bundle receive / read of up to @len. */
static inline bool t_recv(struct io_uring *ring, int dev, int fd,
			  unsigned int bgid, unsigned int flags,
			  unsigned int len, struct t_cqe *c)
{
	struct t_cmd cmd = {
		.op = IOPBUF_CMD_RECV, .fd = fd, .bgid = (__u16)bgid,
		.flags = (__u16)flags, .len = len,
	};

	return t_do(ring, dev, &cmd, c);
}

static inline bool t_read(struct io_uring *ring, int dev, int fd,
			  unsigned int bgid, unsigned int len, struct t_cqe *c)
{
	struct t_cmd cmd = {
		.op = IOPBUF_CMD_READ, .fd = fd, .bgid = (__u16)bgid,
		.len = len,
	};

	return t_do(ring, dev, &cmd, c);
}

/*
 * A completion that moved @res bytes into @nbufs entries starting at bid
 * @bid, with BUF_MORE as @more. Reserved res2 bits must be zero.
 */
#define EXPECT_BUF_CQE(c, want_res, want_bid, want_nbufs, want_more) ({	\
	const struct t_cqe *_c = (c);					\
	bool _ok = EXPECT_EQ(_c->res, (want_res));			\
	_ok &= EXPECT_EQ(t_cflags(_c), IOPBUF_CQE_F_BUFFER |		\
			 ((want_more) ? IOPBUF_CQE_F_BUF_MORE : 0));	\
	_ok &= EXPECT_EQ(t_bid(_c), (want_bid));			\
	_ok &= EXPECT_EQ(t_nbufs(_c), (want_nbufs));			\
	_ok &= EXPECT_EQ(_c->res2 >> 48, 0);				\
	_ok;								\
})

/* A completion that consumed no buffer: res2 must be 0. */
#define EXPECT_NOBUF_CQE(c, want_res) ({				\
	const struct t_cqe *_c = (c);					\
	bool _ok = EXPECT_EQ((long)_c->res, (long)(want_res));		\
	_ok &= EXPECT_EQ(_c->res2, 0);					\
	if (!_ok)							\
		h_note("res %s res2 %#llx", h_res(_c->res),		\
		       (unsigned long long)_c->res2);			\
	_ok;								\
})

/* ------------------------------------------------------------------------
 * IOPBUF_CMD_LEND chains
 */

/* A chain lending @len bytes at @addr from source @src, no secondaries yet. */
static inline void lend_init(struct iopbuf_lend *l, unsigned int src,
			     unsigned int dir, __u64 addr, __u32 len)
{
	memset(l, 0, sizeof(*l));
	l->src = (__u16)src;
	l->dir = (__u16)dir;
	l->addr = addr;
	l->len = len;
}

/* Append a secondary; the caller keeps nr_ops within IOPBUF_LEND_MAX_OPS. */
static inline void lend_add(struct iopbuf_lend *l, unsigned int opcode, int fd,
			    __u64 off, __u32 buf_off, __u32 len)
{
	struct iopbuf_lend_op *o = &l->ops[l->nr_ops++];

	o->opcode = (__u8)opcode;
	o->fd = fd;
	o->off = off;
	o->buf_off = buf_off;
	o->len = len;
}

/* ------------------------------------------------------------------------
 * Provided-buffer rings in application memory
 */

struct t_ring {
	int			dev;
	struct iopbuf_buf	*bufs;
	size_t			map_len;
	unsigned int		entries;
	unsigned int		bgid;
	__u16			tail;	/* entries added so far */
	bool			registered;
};

/*
 * Register ring @bgid of @entries entries on @dev with @flags and
 * @min_left, in fresh page-aligned anonymous memory.
 */
static inline bool t_ring_init(struct t_ring *r, int dev, unsigned int entries,
			       unsigned int bgid, unsigned int flags,
			       unsigned int min_left)
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
	if (!EXPECT_OK(h_register_ring(dev, r->bufs, entries, bgid, flags,
				       min_left)))
		return false;
	r->registered = true;
	return true;
}

static inline void t_ring_fini(struct t_ring *r)
{
	if (r->registered && r->dev >= 0)
		h_unregister_ring(r->dev, r->bgid);
	r->registered = false;
	h_unmap(r->bufs, r->map_len);
	r->bufs = NULL;
}

static inline struct iopbuf_buf *t_ring_entry(const struct t_ring *r,
					      unsigned int idx)
{
	return &r->bufs[idx & (r->entries - 1)];
}

/* Fill the next entry (not yet visible to the kernel). */
static inline void t_ring_add(struct t_ring *r, __u64 addr, __u32 len,
			      __u16 bid)
{
	struct iopbuf_buf *b = t_ring_entry(r, r->tail);

	b->addr = addr;
	b->len = len;
	b->bid = bid;
	r->tail++;
}

static inline void t_ring_add_ptr(struct t_ring *r, const void *p, __u32 len,
				  __u16 bid)
{
	t_ring_add(r, (uintptr_t)p, len, bid);
}

/* Publish the entries added so far (release store of the tail). */
static inline void t_ring_publish(struct t_ring *r)
{
	__atomic_store_n(iopbuf_ring_tail(r->bufs), r->tail, __ATOMIC_RELEASE);
}

/* @n buffers of @size bytes each from @base, bids @bid0.., published. */
static inline void t_ring_fill(struct t_ring *r, char *base, unsigned int n,
			       __u32 size, __u16 bid0)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		t_ring_add_ptr(r, base + (size_t)i * size, size,
			       (__u16)(bid0 + i));
	t_ring_publish(r);
}

/* The kernel head of the ring, or -1 (and a failure). */
static inline long t_ring_head(const struct t_ring *r)
{
	unsigned int head = 0;

	if (!EXPECT_OK(h_ring_status(r->dev, r->bgid, &head)))
		return -1;
	return head;
}

#define EXPECT_HEAD(r, want)	EXPECT_EQ(t_ring_head(r), (want))

/* Entry @idx still holds (@addr, @len): the kernel did not rewrite it. */
#define EXPECT_ENTRY(r, idx, want_addr, want_len) ({			\
	const struct iopbuf_buf *_b = t_ring_entry((r), (idx));		\
	bool _ok = EXPECT_EQ(_b->addr, (__u64)(want_addr));		\
	_ok &= EXPECT_EQ(_b->len, (want_len));				\
	_ok;								\
})

/* ------------------------------------------------------------------------
 * The context's in-flight counter
 */

static inline long t_ctx_inflight(int dev)
{
	struct iopbuf_stats st;

	if (!EXPECT_OK(h_stats(dev, &st)))
		return -1;
	return st.inflight;
}

/* Wait up to @ms for the module-wide inflight counter to read @want. */
static inline bool t_global_inflight_is(long want, int ms)
{
	long v;

	for (;;) {
		v = h_sysfs_read("inflight");
		if (v == want || ms <= 0)
			break;
		usleep(10000);
		ms -= 10;
	}
	return h_expect(v == want, __FILE__, __LINE__,
			"global inflight is %ld, want %ld", v, want);
}

/* ------------------------------------------------------------------------
 * Data: a byte pattern that depends on the absolute stream offset, so a
 * misplaced, repeated or reordered byte run is detected.
 */

static inline unsigned char t_pat(size_t off)
{
	return (unsigned char)(((__u32)off * 0x9E3779B1u) >> 24) ^
	       (unsigned char)(off >> 8);
}

static inline void t_pat_fill(void *p, size_t off, size_t len)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		c[i] = t_pat(off + i);
}

/* @len bytes at @p are the pattern from stream offset @off. */
#define EXPECT_PAT(p, off, len) ({					\
	const unsigned char *_p = (const void *)(p);			\
	size_t _o = (off), _n = (len), _i;				\
	for (_i = 0; _i < _n && _p[_i] == t_pat(_o + _i); _i++)		\
		;							\
	h_expect(_i == _n, __FILE__, __LINE__,				\
		 "data at stream offset %zu (+%zu of %zu): got %#x, want %#x", \
		 _o + _i, _i, _n, _i < _n ? _p[_i] : 0,		\
		 _i < _n ? t_pat(_o + _i) : 0);				\
})

/* ------------------------------------------------------------------------
 * Sockets over loopback, pipes and files
 */

enum t_sock_kind { T_TCP, T_UDP, T_UNIX };

static inline const char *t_sock_name(enum t_sock_kind k)
{
	return k == T_TCP ? "tcp" : k == T_UDP ? "udp" : "unix";
}

static inline void t_close2(int fds[2])
{
	h_close(&fds[0]);
	h_close(&fds[1]);
}

/*
 * A connected TCP pair over 127.0.0.1 made with socket, bind, listen,
 * connect and accept: fds[0] receives, fds[1] sends (TCP_NODELAY, so
 * every send leaves at once).
 */
static inline bool t_tcp_pair(int fds[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int lfd, one = 1;

	fds[0] = fds[1] = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&sa, &sl))
		goto fail;
	fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[1] < 0 ||
	    connect(fds[1], (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	fds[0] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fds[0] < 0)
		goto fail;
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(lfd);
	return true;
fail:
	FAILF("tcp pair over 127.0.0.1: %s", strerror(errno));
	if (lfd >= 0)
		close(lfd);
	t_close2(fds);
	return false;
}

/* Two UDP sockets on 127.0.0.1 connected to each other. */
static inline bool t_udp_pair(int fds[2])
{
	struct sockaddr_in sa[2];
	socklen_t sl;
	int i;

	fds[0] = fds[1] = -1;
	for (i = 0; i < 2; i++) {
		memset(&sa[i], 0, sizeof(sa[i]));
		sa[i].sin_family = AF_INET;
		sa[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(sa[i]);
		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 ||
		    bind(fds[i], (struct sockaddr *)&sa[i], sizeof(sa[i])) ||
		    getsockname(fds[i], (struct sockaddr *)&sa[i], &sl))
			goto fail;
	}
	if (connect(fds[0], (struct sockaddr *)&sa[1], sizeof(sa[1])) ||
	    connect(fds[1], (struct sockaddr *)&sa[0], sizeof(sa[0])))
		goto fail;
	return true;
fail:
	FAILF("udp pair over 127.0.0.1: %s", strerror(errno));
	t_close2(fds);
	return false;
}

static inline bool t_unix_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) {
		FAILF("socketpair(AF_UNIX): %s", strerror(errno));
		fds[0] = fds[1] = -1;
		return false;
	}
	return true;
}

static inline bool t_sock_pair(enum t_sock_kind k, int fds[2])
{
	switch (k) {
	case T_TCP:
		return t_tcp_pair(fds);
	case T_UDP:
		return t_udp_pair(fds);
	default:
		return t_unix_pair(fds);
	}
}

static inline bool t_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC)) {
		FAILF("pipe: %s", strerror(errno));
		fds[0] = fds[1] = -1;
		return false;
	}
	return true;
}

/* Write all @len bytes (send() on sockets: one datagram on UDP). */
static inline bool t_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	do {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			FAILF("write %zu bytes: %s", len, strerror(errno));
			return false;
		}
		p += n;
		len -= (size_t)n;
	} while (len);
	return true;
}

/* Write the pattern for stream offsets [@off, @off + @len). */
static inline bool t_write_pat(int fd, size_t off, size_t len)
{
	static unsigned char buf[1 << 16];
	size_t chunk;

	do {
		chunk = len < sizeof(buf) ? len : sizeof(buf);
		t_pat_fill(buf, off, chunk);
		if (!t_write_all(fd, buf, chunk))
			return false;
		off += chunk;
		len -= chunk;
	} while (len);
	return true;
}

/* A regular file in /tmp (tmpfs) holding the pattern [0, @len). */
static inline int t_pat_file(const char *name, size_t len, int oflags)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/tmp/%s.%d", name, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		FAILF("open %s: %s", path, strerror(errno));
		return -1;
	}
	unlink(path);
	if (len && !t_write_pat(fd, 0, len)) {
		close(fd);
		return -1;
	}
	if (oflags == O_RDONLY) {
		/* reopen read-only through /proc: same file, fresh position */
		char self[64];
		int rfd;

		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		rfd = open(self, O_RDONLY | O_CLOEXEC);
		close(fd);
		if (rfd < 0)
			FAILF("reopen %s: %s", self, strerror(errno));
		return rfd;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Bytes a socket has queued for reading (FIONREAD), or -1. */
static inline int t_sock_queued(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n))
		return -1;
	return n;
}

/* ------------------------------------------------------------------------
 * Processes
 */

/* waitpid() for at most @ms; true when @pid exited (status in *status). */
static inline bool t_waitpid_ms(pid_t pid, int *status, int ms)
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

#endif /* IOPBUF_TESTS_PBUF_TEST_UTIL_H */
