// SPDX-License-Identifier: GPL-2.0
/*
 * send_diff: differential check of IOPBUF_CMD_SEND against native
 * io_uring zero-copy send (IORING_OP_SEND_ZC with a fixed buffer:
 * io_uring_register_buffers + IORING_RECVSEND_FIXED_BUF, in every kernel
 * of the matrix).
 *
 * The same chunks of the same memory go out once natively and once
 * through the module (registered in both, single-buffer commands or
 * bundles), over TCP and UDP loopback and to a dummy-interface sink. The
 * receivers must get identical bytes (and datagrams), equal to the
 * chunks in order. Notifications: a native send posts its result CQE with
 * IORING_CQE_F_MORE and one IORING_CQE_F_NOTIF CQE later; a module send
 * posts one completion that is also its buffer release. So both must show
 * exactly one notification per command and the same total bytes. Where
 * the kernel has IORING_SEND_ZC_REPORT_USAGE, whether the stack copied
 * (loopback) or not (sink) must agree too: the module's ZC_COPIED flag
 * against IORING_NOTIF_USAGE_ZC_COPIED.
 */
#include "util.h"
#include "uring_compat.h"

#define BGID		3
#define MEM_LEN		(2 << 20)
#define MAX_CHUNKS	64
#define RING_ENTRIES	64

/* The chunks both paths send: slices of one buffer, in order. */
struct plan {
	unsigned char	*mem;
	__u32		off[MAX_CHUNKS];
	struct t_expect exp;		/* ids and lengths, in order */
	unsigned int	n;
};

/* What one path's completions said. */
struct tally {
	unsigned long long bytes;
	unsigned int	cmds;		/* send commands completed */
	unsigned int	notifs;		/* buffer-release notifications */
	unsigned int	copied;		/* ... saying the stack copied */
	bool		usage;		/* copied is known */
};

static bool plan_init(struct plan *p, bool udp)
{
	static const __u32 tcp_lens[] = {
		1, 41, 4096, 3 * 4096 + 33, 65536 + 7, 1000, 8192, 200000, 17,
	};
	static const __u32 udp_lens[] = {
		1, 41, 4096, 3 * 4096 + 33, 32000, 1000, 8192, 20000, 17,
	};
	const __u32 *lens = udp ? udp_lens : tcp_lens;
	size_t off = 0;
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->mem = t_map_4k(MEM_LEN);
	if (!p->mem)
		return false;
	for (i = 0; i < 36; i++) {
		__u32 len = lens[i % H_ARRAY_SIZE(tcp_lens)];

		off += (i * 13) % 64;
		if (off + len > MEM_LEN)
			break;
		p->off[i] = (__u32)off;
		t_slice_fill(p->mem + off, len, 0xd1f0000 + i);
		if (!t_expect_add(&p->exp, 0xd1f0000 + i, len))
			return false;
		off += len;
	}
	p->n = i;
	return true;
}

static void plan_fini(struct plan *p)
{
	h_unmap(p->mem, MEM_LEN);
	t_expect_free(&p->exp);
}

/* ------------------------------------------------------------------------
 * Native: IORING_OP_SEND_ZC from a fixed buffer
 */

/* Does this kernel take IORING_SEND_ZC_REPORT_USAGE? (-EINVAL if not) */
static bool native_has_usage(void)
{
	static int known = -1;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct t_cqe c;
	int fds[2];
	char byte = 1;

	if (known >= 0)
		return known;
	known = 0;
	if (!h_uring_init2(&ring, 8, 0))
		return false;
	if (t_udp_pair2(AF_INET, fds)) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_send_zc(sqe, fds[1], &byte, 1, 0,
				      IORING_SEND_ZC_REPORT_USAGE);
		if (t_submit(&ring, 1) && t_wait(&ring, &c)) {
			known = c.res == 1;
			if (c.flags & IORING_CQE_F_MORE)
				t_wait(&ring, &c);
		}
		t_close2(fds);
	}
	io_uring_queue_exit(&ring);
	return known;
}

static void native_queue(struct io_uring *ring, const struct plan *p,
			 unsigned int i, int sock, bool usage)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_send_zc_fixed(sqe, sock, p->mem + p->off[i],
				    p->exp.s[i].len, MSG_WAITALL,
				    usage ? IORING_SEND_ZC_REPORT_USAGE : 0, 0);
	sqe->user_data = i;
}

/*
 * Send every chunk with IORING_OP_SEND_ZC + IORING_RECVSEND_FIXED_BUF,
 * @qd in flight. Every result CQE must carry F_MORE and be followed by
 * exactly one F_NOTIF CQE.
 */
static bool native_send(const struct plan *p, int sock, unsigned int qd,
			struct tally *t)
{
	struct iovec iov = { p->mem, MEM_LEN };
	unsigned int next = 0, inflight = 0, pending = 0;
	struct io_uring ring;
	bool ok = false;
	int ret;

	memset(t, 0, sizeof(*t));
	t->usage = native_has_usage();
	if (!h_uring_init2(&ring, 64, 0))
		return false;
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (!h_expect(!ret, __FILE__, __LINE__,
		      "io_uring_register_buffers: %s", h_res(ret)))
		goto out;
	while (next < p->n || inflight || pending) {
		struct t_cqe c;

		while (inflight < qd && next < p->n) {
			native_queue(&ring, p, next++, sock, t->usage);
			inflight++;
		}
		if (io_uring_submit(&ring) < 0 || !t_wait(&ring, &c))
			goto out;
		if (c.flags & IORING_CQE_F_NOTIF) {
			if (!EXPECT(pending > 0))
				goto out;
			pending--;
			t->notifs++;
			if (t->usage && c.res & IORING_NOTIF_USAGE_ZC_COPIED)
				t->copied++;
			continue;
		}
		inflight--;
		if (!h_expect(c.res == (int)p->exp.s[c.user_data].len,
			      __FILE__, __LINE__,
			      "native send of chunk %llu: res %s, want %u",
			      (unsigned long long)c.user_data, h_res(c.res),
			      p->exp.s[c.user_data].len))
			goto out;
		t->cmds++;
		t->bytes += (unsigned int)c.res;
		if (!EXPECT(c.flags & IORING_CQE_F_MORE))
			goto out;
		pending++;
	}
	ok = t_no_cqe_ms(&ring, 100);
out:
	io_uring_queue_exit(&ring);
	return ok;
}

/* ------------------------------------------------------------------------
 * The module: IOPBUF_CMD_SEND from a ring of registered-buffer slices
 */

/*
 * Send every chunk through the module: single-buffer commands (@qd in
 * flight) or bundles of at most @bundle_len bytes (one at a time). Each
 * completion must report zero copy and release the buffers it names.
 */
static bool module_send(const struct plan *p, int sock, unsigned int qd,
			__u32 bundle_len, struct tally *t)
{
	struct iovec iov = { p->mem, MEM_LEN };
	unsigned int i, next = 0, inflight = 0, consumed = 0;
	struct io_uring ring;
	struct t_ring r = { .dev = -1 };
	bool have_ring = false, ok = false;
	int dev;

	memset(t, 0, sizeof(*t));
	t->usage = true;
	dev = h_open();
	if (dev < 0)
		return false;
	if (!(have_ring = h_uring_init2(&ring, 64, IORING_SETUP_CQE32)) ||
	    !EXPECT_OK(h_register_iov(dev, &iov, 1)) ||
	    !t_ring_init(&r, dev, RING_ENTRIES, BGID, IOPBUF_RING_REGBUF, 0))
		goto out;
	for (i = 0; i < p->n; i++)
		t_ring_add(&r, iopbuf_regbuf_encode(0, p->off[i]),
			    p->exp.s[i].len, (__u16)i);
	t_ring_publish(&r);
	if (bundle_len)
		qd = 1;
	while (consumed < p->n) {
		struct iopbuf_cmd_send cmd = {
			.fd = sock, .bgid = BGID,
			.flags = bundle_len ? IOPBUF_SEND_BUNDLE : 0,
			.len = bundle_len,
		};
		struct t_cqe c;

		while (inflight < qd && (bundle_len || next < p->n)) {
			if (!t_queue_send(&ring, dev, &cmd, next++))
				goto out;
			inflight++;
		}
		if (io_uring_submit(&ring) < 0 || !t_wait(&ring, &c))
			goto out;
		inflight--;
		if (!h_expect(c.res > 0 && t_nbufs(&c) >= 1 &&
			      c.res == (int)t_expect_bytes(&p->exp, t_bid(&c),
							    t_nbufs(&c)),
			      __FILE__, __LINE__,
			      "module send: res %s, bid %u, nbufs %u",
			      h_res(c.res), t_bid(&c), t_nbufs(&c)) ||
		    !EXPECT(t_cflags(&c) & IOPBUF_CQE_F_ZC))
			goto out;
		t->cmds++;
		t->notifs++;	/* the completion is the release */
		t->bytes += (unsigned int)c.res;
		if (t_cflags(&c) & IOPBUF_CQE_F_ZC_COPIED)
			t->copied++;
		consumed += t_nbufs(&c);
	}
	/* nothing more: one completion per command */
	ok = t_no_cqe_ms(&ring, 100) && EXPECT_EQ(inflight, 0);
out:
	if (have_ring)
		io_uring_queue_exit(&ring);
	t_ring_fini(&r);
	h_close(&dev);
	return ok;
}

/* ------------------------------------------------------------------------
 * Comparison
 */

/*
 * Both paths: all the plan's bytes, one notification per command, and,
 * when both know it, the same verdict on copying: all copied or none.
 */
static void compare_tallies(const struct plan *p, const struct tally *nat,
			    const struct tally *mod)
{
	h_note("native: %u sends, %u notifications, %u copied; module: %u commands, %u completions, %u copied",
	       nat->cmds, nat->notifs, nat->copied, mod->cmds, mod->notifs,
	       mod->copied);
	EXPECT_EQ(nat->bytes, p->exp.total);
	EXPECT_EQ(mod->bytes, p->exp.total);
	EXPECT_EQ(nat->notifs, nat->cmds);
	EXPECT_EQ(mod->notifs, mod->cmds);
	if (!nat->usage) {
		h_note("no IORING_SEND_ZC_REPORT_USAGE: copy reports not compared");
		return;
	}
	EXPECT_EQ(nat->copied == 0, mod->copied == 0);
	EXPECT_EQ(nat->copied == nat->cmds, mod->copied == mod->cmds);
}

/*
 * TCP: the native stream and the module's stream are identical and equal
 * to the chunks in order.
 */
static void diff_tcp(int family, __u32 bundle_len)
{
	struct t_rx rx[2] = { { .fd = -1 }, { .fd = -1 } };
	int fds[2][2] = { { -1, -1 }, { -1, -1 } };
	struct tally nat, mod;
	struct plan p;
	bool sent;
	int i;

	if (!plan_init(&p, false))
		goto out;
	for (i = 0; i < 2; i++)
		if (!t_tcp_pair_buf(family, fds[i], 0) ||
		    !t_rx_start(&rx[i], fds[i][0], p.exp.total))
			goto out;
	sent = native_send(&p, fds[0][1], 1, &nat);
	shutdown(fds[0][1], SHUT_WR);
	sent &= module_send(&p, fds[1][1], 1, bundle_len, &mod);
	shutdown(fds[1][1], SHUT_WR);
	if (!t_rx_join(&rx[0]) || !t_rx_join(&rx[1]) || !sent)
		goto out;
	compare_tallies(&p, &nat, &mod);
	t_expect_check(&p.exp, 0, p.n, rx[0].buf, rx[0].len, "native stream");
	t_expect_check(&p.exp, 0, p.n, rx[1].buf, rx[1].len, "module stream");
	EXPECT(rx[0].len == rx[1].len && !memcmp(rx[0].buf, rx[1].buf,
						  rx[0].len));
out:
	for (i = 0; i < 2; i++) {
		t_rx_free(&rx[i]);
		t_close2(fds[i]);
	}
	plan_fini(&p);
}

/*
 * Read every queued datagram of @fd: their lengths into @lens, their
 * bytes into @buf. Returns the number read, -1 on a failure.
 */
static int read_datagrams(int fd, unsigned char *buf, size_t cap,
			  __u32 *lens, int max)
{
	size_t used = 0;
	int n = 0;

	while (n < max) {
		ssize_t r = recv(fd, buf + used, cap - used, MSG_DONTWAIT);

		if (r < 0)
			return errno == EAGAIN ? n : -1;
		lens[n++] = (__u32)r;
		used += (size_t)r;
	}
	return n;
}

/*
 * UDP loopback: the same datagrams (count, lengths, bytes) arrive from
 * both paths, each one chunk. Four sends in flight on each path.
 */
static void diff_udp(int family)
{
	static unsigned char buf[2][MEM_LEN];
	static __u32 lens[2][MAX_CHUNKS];
	int fds[2][2] = { { -1, -1 }, { -1, -1 } }, got[2];
	struct tally nat, mod;
	struct plan p;
	size_t pos = 0;
	int i;

	if (!plan_init(&p, true) || !t_udp_pair2(family, fds[0]) ||
	    !t_udp_pair2(family, fds[1]))
		goto out;
	if (!native_send(&p, fds[0][1], 4, &nat) ||
	    !module_send(&p, fds[1][1], 4, 0, &mod))
		goto out;
	compare_tallies(&p, &nat, &mod);
	for (i = 0; i < 2; i++)
		got[i] = read_datagrams(fds[i][0], buf[i], MEM_LEN, lens[i],
					MAX_CHUNKS);
	if (!EXPECT_EQ(got[0], p.n) || !EXPECT_EQ(got[1], p.n))
		goto out;
	for (i = 0; i < got[0]; i++) {
		if (!EXPECT_EQ(lens[0][i], lens[1][i]) ||
		    !t_expect_check(&p.exp, i, 1, buf[1] + pos, lens[1][i],
				     "module datagram"))
			goto out;
		pos += lens[0][i];
	}
	EXPECT(!memcmp(buf[0], buf[1], pos));
	t_expect_check(&p.exp, 0, p.n, buf[0], pos, "native datagrams");
out:
	t_close2(fds[0]);
	t_close2(fds[1]);
	plan_fini(&p);
}

/*
 * UDP to the dummy sink: real zero copy. Both paths send every byte,
 * with one notification per command, and neither reports a copy.
 */
static void diff_sink(int family)
{
	int sock[2] = { -1, -1 };
	struct tally nat, mod;
	struct plan p;

	if (!plan_init(&p, true))
		goto out;
	sock[0] = t_sink_socket(family);
	if (sock[0] < 0)
		goto out;
	sock[1] = t_sink_socket(family);
	if (sock[1] < 0)
		goto out;
	if (!native_send(&p, sock[0], 4, &nat) ||
	    !module_send(&p, sock[1], 4, 0, &mod))
		goto out;
	compare_tallies(&p, &nat, &mod);
	EXPECT_EQ(mod.copied, 0);
out:
	t_close2(sock);
	plan_fini(&p);
}

/* A case: its name, the path compared, the family and diff_tcp()'s bundles. */
struct diff_row {
	const char	*name;
	enum { TCP, UDP, SINK } path;
	int		family;
	__u32		bundle_len;
};

static void diff_case(const void *arg)
{
	const struct diff_row *r = arg;

	switch (r->path) {
	case TCP:
		diff_tcp(r->family, r->bundle_len);
		break;
	case UDP:
		diff_udp(r->family);
		break;
	case SINK:
		diff_sink(r->family);
		break;
	}
}

static const struct diff_row diff_rows[] = {
	{ "tcp4_single",	TCP,	AF_INET,	0 },
	{ "tcp6_single",	TCP,	AF_INET6,	0 },
	{ "tcp4_bundle",	TCP,	AF_INET,	250000 },
	{ "tcp6_bundle",	TCP,	AF_INET6,	250000 },
	{ "udp4_loopback",	UDP,	AF_INET,	0 },
	{ "udp6_loopback",	UDP,	AF_INET6,	0 },
	{ "sink4",		SINK,	AF_INET,	0 },
	{ "sink6",		SINK,	AF_INET6,	0 },
};

static void counters_zero(void)
{
	t_counters_idle();
}

int main(void)
{
	h_init("send_diff");
	t_counters_init();

	RUN_ROWS(diff_case, diff_rows);

	t_sink_down();
	RUN(counters_zero);
	return h_exit();
}
