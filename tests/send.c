// SPDX-License-Identifier: GPL-2.0
/*
 * send: IOPBUF_CMD_SEND (issue #4).
 *
 * Data integrity over TCP and UDP, IPv4 and IPv6 loopback, single buffers
 * and bundles, entries holding user addresses or registered-buffer
 * encodings (several buffers in one bundle, 4 KiB pages and hugetlb, odd
 * offsets and lengths, application and kernel-allocated rings, INC
 * rings); ring order with several sends in flight; the completion (bid,
 * nbufs, ZC flags) and the ring head; zero copy to a dummy-interface
 * sink; the buffer-release protocol (the completion comes only once the
 * stack let go of the pages); msg_flags and errors; and the lifetime
 * rules: peer reset, socket closed, buffers and ring unregistered,
 * cancelation (DETACHED), sends issued from io-wq, process killed with
 * sends in flight, module unload while busy.
 *
 * Every slice sent carries its id in its first bytes and a pattern of
 * (id, offset) after, so a receiver names the slice and offset of the
 * first wrong byte. Unless said otherwise, a ring entry's bid is its ring
 * position, so a completion's bid says where in the ring it started.
 */
#include <dirent.h>

#include "util.h"

#define BGID		7
#define RING_ENTRIES	64
#define MAX_MEM		4
/* SO_SNDBUF / SO_RCVBUF that make a sender wait after a few dozen KiB */
#define SMALL_BUF	16384
/* what a registered-buffer send reports on loopback (copied on receive) */
#define ZC_LOOPBACK	(IOPBUF_CQE_F_ZC | IOPBUF_CQE_F_ZC_COPIED)

enum proto { TCP, UDP };

/* A device context, a CQE32 io_uring, one ring, its memory and sockets. */
struct fx {
	struct t_fx t;			/* context, io_uring, ring, sockets */
	bool regbuf;			/* entries are registered-buffer encodings */
	unsigned char *mem[MAX_MEM];	/* buffer i of the table */
	size_t mem_len[MAX_MEM];
	bool mem_owned[MAX_MEM];	/* mapped by fx_mem_4k() */
	unsigned int nmem;
	struct t_rx rx;
	struct t_expect exp;		/* slices in ring order */
};

static bool fx_init_flags(struct fx *f, unsigned int uring_flags)
{
	memset(f, 0, sizeof(*f));
	return t_fx_init2(&f->t, 0, RING_ENTRIES, uring_flags);
}

static bool fx_init(struct fx *f)
{
	return fx_init_flags(f, 0);
}

/* The fixture's sending socket: a UDP socket of @family to the dummy sink. */
static bool fx_sink(struct fx *f, int family)
{
	f->t.fds[1] = t_sink_socket(family);
	return f->t.fds[1] >= 0;
}

/*
 * Cancel and reap whatever a failed case left in flight, so that the ring
 * can go at once and the next case starts with nothing in flight.
 */
static void fx_drain(struct fx *f)
{
	struct __kernel_timespec ts = { .tv_nsec = 10000000 };
	struct io_uring_cqe *cqe;
	struct iopbuf_stats st;
	int ms;

	if (f->t.dev < 0 || !f->t.have_uring)
		return;
	if (h_stats(f->t.dev, &st) || !st.inflight)
		return;
	ioctl(f->t.dev, IOPBUF_IOC_CANCEL);
	for (ms = 0; ms < T_WAIT_MS; ms += 10) {
		if (!io_uring_wait_cqe_timeout(&f->t.uring, &cqe, &ts))
			io_uring_cqe_seen(&f->t.uring, cqe);
		if (h_stats(f->t.dev, &st) || !st.inflight)
			break;
	}
}

static void fx_fini(struct fx *f)
{
	unsigned int i;

	fx_drain(f);
	t_rx_free(&f->rx);
	t_fx_fini(&f->t);
	for (i = 0; i < f->nmem; i++)
		if (f->mem_owned[i])
			munmap(f->mem[i], f->mem_len[i]);
	f->nmem = 0;
	t_expect_free(&f->exp);
}

/* Add memory as the next buffer (index f->nmem); fx_register() registers. */
static bool fx_mem_add(struct fx *f, unsigned char *p, size_t len, bool owned)
{
	if (!p)
		return false;
	f->mem[f->nmem] = p;
	f->mem_len[f->nmem] = len;
	f->mem_owned[f->nmem] = owned;
	f->nmem++;
	return true;
}

static bool fx_mem_4k(struct fx *f, size_t len)
{
	return fx_mem_add(f, t_map_4k(len), len, true);
}

static bool fx_register(struct fx *f)
{
	struct iovec iov[MAX_MEM];
	unsigned int i;

	for (i = 0; i < f->nmem; i++) {
		iov[i].iov_base = f->mem[i];
		iov[i].iov_len = f->mem_len[i];
	}
	return EXPECT_OK(h_register_iov(f->t.dev, iov, f->nmem));
}

static bool fx_ring_flags(struct fx *f, unsigned int flags)
{
	f->regbuf = flags & IOPBUF_RING_REGBUF;
	return t_ring_init(&f->t.r, f->t.dev, RING_ENTRIES, BGID, flags, 0);
}

static bool fx_ring(struct fx *f, bool regbuf)
{
	return fx_ring_flags(f, regbuf ? IOPBUF_RING_REGBUF : 0);
}

/* Register every buffer added so far and a registered-buffer ring. */
static bool fx_regbuf_ring(struct fx *f)
{
	return fx_register(f) && fx_ring(f, true);
}

/* The address an entry naming @len bytes at @off of buffer @buf holds. */
static __u64 fx_addr(const struct fx *f, unsigned int buf, __u64 off)
{
	return f->regbuf ? iopbuf_regbuf_encode(buf, off) :
			   (__u64)(uintptr_t)(f->mem[buf] + off);
}

/*
 * Next entry: the slice [@off, @off + @len) of buffer @buf, filled with
 * the pattern of a fresh slice id, bid = its ring position. The expected
 * stream gets its first @exp_len bytes (normally all of it).
 */
static bool fx_add_part(struct fx *f, unsigned int buf, __u64 off, __u32 len,
			__u32 exp_len)
{
	__u32 id = 0x51000 + (__u32)f->exp.n;

	t_slice_fill(f->mem[buf] + off, len, id);
	t_ring_add(&f->t.r, fx_addr(f, buf, off), len, (__u16)f->exp.n);
	return t_expect_add(&f->exp, id, exp_len);
}

static bool fx_add(struct fx *f, unsigned int buf, __u64 off, __u32 len)
{
	return fx_add_part(f, buf, off, len, len);
}

static void fx_publish(struct fx *f)
{
	t_ring_publish(&f->t.r);
}

/* Start a receiver thread on fds[0] for everything expected. */
static bool fx_rx_start(struct fx *f)
{
	return t_rx_start(&f->rx, f->t.fds[0], f->exp.total);
}

/* Close the stream, wait for the receiver's EOF, compare with @e. */
static bool fx_rx_check(struct fx *f, const char *what)
{
	if (f->t.fds[1] >= 0)
		shutdown(f->t.fds[1], SHUT_WR);
	if (!t_rx_join(&f->rx))
		return false;
	return t_expect_check(&f->exp, 0, f->exp.n, f->rx.buf, f->rx.len,
			       what);
}

static bool fx_send(struct fx *f, int fd, __u16 flags, __u32 len,
		    __u32 msg_flags, struct t_cqe *c)
{
	struct iopbuf_cmd_send cmd = {
		.fd = fd, .bgid = BGID, .flags = flags, .len = len,
		.msg_flags = msg_flags,
	};

	return t_send(&f->t.uring, f->t.dev, &cmd, c);
}

/*
 * The fixture with @mem_len bytes of registered memory, one published
 * entry of @len bytes at offset 41 and a TCP pair with small buffers.
 */
static bool fx_tcp_one_entry(struct fx *f, size_t mem_len, __u32 len)
{
	if (!fx_init(f) || !fx_mem_4k(f, mem_len) || !fx_regbuf_ring(f) ||
	    !t_tcp_pair_buf(AF_INET, f->t.fds, SMALL_BUF))
		return false;
	fx_add(f, 0, 41, len);
	fx_publish(f);
	return true;
}

static bool fx_queue(struct fx *f, int fd, __u16 flags, __u32 len,
		     __u64 user_data)
{
	struct iopbuf_cmd_send cmd = {
		.fd = fd, .bgid = BGID, .flags = flags, .len = len,
	};

	return t_queue_send(&f->t.uring, f->t.dev, &cmd, user_data);
}

static long fx_inflight(const struct fx *f)
{
	struct iopbuf_stats st;

	if (!EXPECT_OK(h_stats(f->t.dev, &st)))
		return -1;
	return st.inflight;
}

/* Wait (up to the hang guard) for the context to have @want in flight. */
static bool wait_inflight(const struct fx *f, long want)
{
	long v;
	int ms;

	for (ms = 0; (v = fx_inflight(f)) != want && v >= 0 && ms < T_WAIT_MS; ms += 5)
		usleep(5000);
	return h_expect(v == want, __FILE__, __LINE__,
			"%ld commands in flight, want %ld", v, want);
}

/* Wait (up to the hang guard) for the receiver thread to hold @len bytes. */
static bool wait_rx_len(struct fx *f, size_t len)
{
	size_t v;
	int ms;

	for (ms = 0; (v = __atomic_load_n(&f->rx.len, __ATOMIC_ACQUIRE)) < len &&
	     ms < T_WAIT_MS; ms += 5)
		usleep(5000);
	return h_expect(v >= len, __FILE__, __LINE__,
			"the receiver has %zu bytes, want %zu", v, len);
}

/*
 * A successful send of the entries from ring position @k: BUFFER plus
 * @zc flags, bid k, nbufs entries (1 without a bundle), res the bytes of
 * exactly those entries (no entry sent in part) and at most @limit.
 * Return: entries consumed, 0 on a failure.
 */
static unsigned int check_send_cqe(const struct fx *f, const struct t_cqe *c,
				   size_t k, bool bundle, __u32 limit,
				   __u16 zc)
{
	unsigned int n = t_nbufs(c);
	bool ok;

	if (!h_expect(c->res > 0, __FILE__, __LINE__,
		      "send from ring position %zu: res %s res2 %#llx", k,
		      h_res(c->res), (unsigned long long)c->res2))
		return 0;
	ok = EXPECT_EQ(t_cflags(c), IOPBUF_CQE_F_BUFFER | zc);
	ok &= EXPECT_EQ(t_bid(c), (__u16)k);
	ok &= EXPECT(n >= 1 && k + n <= f->exp.n);
	if (!bundle)
		ok &= EXPECT_EQ(n, 1);
	if (ok)
		ok &= EXPECT_EQ(c->res, t_expect_bytes(&f->exp, k, n));
	if (limit)
		ok &= EXPECT((__u32)c->res <= limit);
	ok &= EXPECT_EQ(c->res2 >> 48, 0);
	return ok ? n : 0;
}

/*
 * Send every published entry from ring position @k on, on @sock, one
 * command at a time, bundles limited to limits[i % nlimits] bytes (0:
 * none). Each completion is checked (check_send_cqe), the head must
 * advance by its nbufs and, when @dgram_fd >= 0, the datagram it sent
 * must arrive there intact.
 */
static bool send_entries(struct fx *f, int sock, size_t k, bool bundle,
			 const __u32 *limits, unsigned int nlimits, __u16 zc,
			 int dgram_fd)
{
	static unsigned char dgram[65536];
	unsigned int cmds = 0;

	while (k < f->exp.n) {
		__u32 limit = bundle ? limits[cmds++ % nlimits] : 0;
		struct t_cqe c;
		unsigned int n;

		if (!fx_send(f, sock, bundle ? IOPBUF_SEND_BUNDLE : 0, limit,
			     0, &c))
			return false;
		n = check_send_cqe(f, &c, k, bundle, limit, zc);
		if (!n || !EXPECT_HEAD(&f->t.r, k + n))
			return false;
		if (dgram_fd >= 0) {
			ssize_t got = recv(dgram_fd, dgram, sizeof(dgram), 0);

			if (!h_expect(got >= 0, __FILE__, __LINE__,
				      "recv datagram: %s", strerror(errno)) ||
			    !t_expect_check(&f->exp, k, n, dgram, (size_t)got,
					     "datagram"))
				return false;
		}
		k += n;
	}
	return true;
}

/* The notification objects of finished sends are gone with their CQEs. */
static bool expect_notifs_idle(void)
{
	return t_global_is("notifs", t_counter_at_start("notifs"));
}

/* ------------------------------------------------------------------------
 * Data integrity
 */

/*
 * Slices at odd offsets and lengths in a 4 KiB-page buffer: not page
 * aligned, page aligned, across a page boundary, at the last and first
 * byte of a page (an offset equal to a segment's end must start the next
 * segment, not add an empty one: d6fef34ee4d1), continuing the previous
 * slice in memory (merged segments), inside one page. The longest is
 * below 32 KiB so that UDP bundles of up to 32 KiB take whole entries.
 */
static const struct { __u32 off, len; } odd_slices[] = {
	{ 41, 3 * 4096 + 33 },			/* +41, 3 pages + 33 */
	{ 4 * 4096, 4096 },			/* one whole page */
	{ 6 * 4096 - 1, 2 },			/* across a boundary */
	{ 7 * 4096 + 4095, 1 },			/* last byte of a page */
	{ 8 * 4096, 1 },			/* first byte of a page */
	{ 8 * 4096 + 1, 5 * 4096 - 2 },		/* continues the previous */
	{ 14 * 4096 + 100, 1000 },		/* inside one page */
	{ 16 * 4096 + 2047, 7 * 4096 + 41 },
	{ 25 * 4096 + 7, 33 },
	{ 26 * 4096 + 3, 7 * 4096 + 5 },
	{ 40 * 4096 - 41, 41 },			/* ends at a page boundary */
	{ 60 * 4096 + 41, 3 * 4096 + 33 },
};

#define ODD_MEM	(64 * 4096)

/*
 * Data integrity: every byte of every entry arrives, in ring order, once.
 * TCP: the receiver's stream is the concatenation of the entries. UDP:
 * each command is one datagram holding exactly the entries its
 * completion names. Bundles are cut by byte limits (UDP: 32 KiB, TCP:
 * none or 64 KiB) and never exceed them. Registered-buffer entries go
 * zero copy and report ZC | ZC_COPIED (loopback copies on receive);
 * user-address entries are copied and report neither.
 */
static void integrity(enum proto proto, int family, bool bundle, bool regbuf)
{
	static const __u32 tcp_limits[] = { 0, 65536, 30000 };
	static const __u32 udp_limits[] = { 32768, 30000 };
	const __u32 *limits = proto == TCP ? tcp_limits : udp_limits;
	unsigned int nlimits = proto == TCP ? H_ARRAY_SIZE(tcp_limits) :
					      H_ARRAY_SIZE(udp_limits);
	unsigned int i;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, ODD_MEM) ||
	    (regbuf && !fx_register(&f)) || !fx_ring(&f, regbuf))
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(odd_slices); i++)
		if (!fx_add(&f, 0, odd_slices[i].off, odd_slices[i].len))
			goto out;
	fx_publish(&f);

	if (proto == TCP) {
		if (!t_tcp_pair_buf(family, f.t.fds, 0) || !fx_rx_start(&f))
			goto out;
	} else if (!t_udp_pair2(family, f.t.fds)) {
		goto out;
	}
	if (!send_entries(&f, f.t.fds[1], 0, bundle, limits, nlimits,
			  regbuf ? ZC_LOOPBACK : 0,
			  proto == UDP ? f.t.fds[0] : -1))
		goto out;
	if (proto == TCP)
		fx_rx_check(&f, "TCP stream");
	else
		EXPECT_EQ(t_sock_queued(f.t.fds[0]), 0);
	expect_notifs_idle();
out:
	fx_fini(&f);
}

#define INTEGRITY(name, proto, family, bundle, regbuf)			\
	static void name(void) { integrity(proto, family, bundle, regbuf); }

INTEGRITY(tcp4_single_regbuf, TCP, AF_INET, false, true)
INTEGRITY(tcp6_single_regbuf, TCP, AF_INET6, false, true)
INTEGRITY(udp4_single_regbuf, UDP, AF_INET, false, true)
INTEGRITY(udp6_single_regbuf, UDP, AF_INET6, false, true)
INTEGRITY(tcp4_bundle_regbuf, TCP, AF_INET, true, true)
INTEGRITY(tcp6_bundle_regbuf, TCP, AF_INET6, true, true)
INTEGRITY(udp4_bundle_regbuf, UDP, AF_INET, true, true)
INTEGRITY(udp6_bundle_regbuf, UDP, AF_INET6, true, true)
INTEGRITY(tcp4_single_user, TCP, AF_INET, false, false)
INTEGRITY(tcp6_single_user, TCP, AF_INET6, false, false)
INTEGRITY(udp4_single_user, UDP, AF_INET, false, false)
INTEGRITY(udp6_single_user, UDP, AF_INET6, false, false)
INTEGRITY(tcp4_bundle_user, TCP, AF_INET, true, false)
INTEGRITY(tcp6_bundle_user, TCP, AF_INET6, true, false)
INTEGRITY(udp4_bundle_user, UDP, AF_INET, true, false)
INTEGRITY(udp6_bundle_user, UDP, AF_INET6, true, false)

/*
 * Several registered buffers in one bundle: entries alternate between
 * three buffers, two of them continue each other in one buffer (one
 * merged segment), one goes backwards in a buffer, one ends exactly at
 * its buffer's end. One bundle without a limit sends all ten in ring
 * order: bid 0, nbufs 10, head 10, the stream their concatenation.
 */
static void multi_regbuf_bundle(void)
{
	static const struct { unsigned int buf; __u32 off, len; } ents[] = {
		{ 0, 41, 5000 },
		{ 1, 4096, 100 },
		{ 2, 7, 3 * 4096 + 33 },
		{ 0, 5041, 3000 },		/* continues entry 0 */
		{ 1, 0, 1 },
		{ 2, 40000, 20000 },
		{ 0, 100000, 4096 },
		{ 0, 50000, 777 },		/* backwards in buffer 0 */
		{ 1, 65536 - 33, 33 },		/* up to the end of buffer 1 */
		{ 2, 0, 7 },
	};
	unsigned int i;
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 128 * 1024) ||
	    !fx_mem_4k(&f, 64 * 1024) || !fx_mem_4k(&f, 128 * 1024) ||
	    !fx_regbuf_ring(&f))
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(ents); i++)
		fx_add(&f, ents[i].buf, ents[i].off, ents[i].len);
	fx_publish(&f);
	if (!t_tcp_pair_buf(AF_INET, f.t.fds, 0) || !fx_rx_start(&f) ||
	    !fx_send(&f, f.t.fds[1], IOPBUF_SEND_BUNDLE, 0, 0, &c))
		goto out;
	if (!EXPECT_EQ(check_send_cqe(&f, &c, 0, true, 0, ZC_LOOPBACK),
		       H_ARRAY_SIZE(ents)))
		goto out;
	EXPECT_HEAD(&f.t.r, H_ARRAY_SIZE(ents));
	fx_rx_check(&f, "TCP stream");
	expect_notifs_idle();
out:
	fx_fini(&f);
}

/*
 * Over a TCP pair to a receiver thread: the first @singles entries as
 * single sends, then the rest as one bundle; the ring is consumed and the
 * receiver got every slice in order.
 */
static bool singles_then_bundle(struct fx *f, unsigned int singles)
{
	struct t_cqe c;
	unsigned int i;

	if (!t_tcp_pair_buf(AF_INET, f->t.fds, 0) || !fx_rx_start(f))
		return false;
	for (i = 0; i < singles; i++)
		if (!fx_send(f, f->t.fds[1], 0, 0, 0, &c) ||
		    !check_send_cqe(f, &c, i, false, 0, ZC_LOOPBACK))
			return false;
	if (!fx_send(f, f->t.fds[1], IOPBUF_SEND_BUNDLE, 0, 0, &c) ||
	    !EXPECT_EQ(check_send_cqe(f, &c, singles, true, 0, ZC_LOOPBACK),
		       f->exp.n - singles))
		return false;
	return EXPECT_HEAD(&f->t.r, f->exp.n) && fx_rx_check(f, "TCP stream");
}

/*
 * A kernel-allocated ring (IOPBUF_RING_MMAP, mapped at
 * IOPBUF_OFF_RING(bgid)) works like one in application memory: single
 * sends and a bundle over TCP, in ring order.
 */
static void mmap_ring_tcp(void)
{
	size_t map_len = RING_ENTRIES * sizeof(struct iopbuf_buf);
	unsigned int i;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, ODD_MEM) || !fx_register(&f) ||
	    !EXPECT_OK(h_register_ring(f.t.dev, NULL, RING_ENTRIES, BGID,
				       IOPBUF_RING_MMAP | IOPBUF_RING_REGBUF,
				       0)))
		goto out;
	f.regbuf = true;
	f.t.r.dev = f.t.dev;
	f.t.r.entries = RING_ENTRIES;
	f.t.r.bgid = BGID;
	f.t.r.registered = true;
	f.t.r.bufs = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			f.t.dev, IOPBUF_OFF_RING(BGID));
	if (!h_expect(f.t.r.bufs != MAP_FAILED, __FILE__, __LINE__,
		      "mmap of the ring: %s", strerror(errno))) {
		f.t.r.bufs = NULL;
		goto out;
	}
	f.t.r.map_len = map_len;
	for (i = 0; i < H_ARRAY_SIZE(odd_slices); i++)
		fx_add(&f, 0, odd_slices[i].off, odd_slices[i].len);
	fx_publish(&f);
	if (!singles_then_bundle(&f, 4))
		goto out;
out:
	fx_fini(&f);
}

/*
 * Huge pages: a registered buffer of two 2 MiB hugetlb pages, slices
 * across the boundary between them (different folios: never one
 * segment), up to its end and far longer than a 4 KiB page, sent as
 * single buffers and as one bundle over TCP.
 */
static void hugetlb_tcp(void)
{
	struct t_huge h = { .old_nr = -1 };
	struct fx f;
	size_t hp;

	if (!fx_init(&f) || !t_huge_map(&h, 2))
		goto out;
	hp = h.page;
	if (!fx_mem_add(&f, h.p, h.len, false) || !fx_regbuf_ring(&f))
		goto out;
	fx_add(&f, 0, 41, 3 * 4096 + 33);
	fx_add(&f, 0, hp - 20000, 15000);
	fx_add(&f, 0, hp - 5000, 10000);		/* across the boundary */
	fx_add(&f, 0, hp + 5000, 1);
	fx_add(&f, 0, 1000003, 300001);
	fx_add(&f, 0, hp + 100000, hp - 100007);
	fx_add(&f, 0, 2 * hp - 7, 7);			/* up to the end */
	fx_add(&f, 0, hp + 5001, 90000);		/* continues entry 3 */
	fx_publish(&f);
	if (!singles_then_bundle(&f, 3))
		goto out;
	expect_notifs_idle();
out:
	fx_fini(&f);
	t_huge_unmap(&h);
}

/* ------------------------------------------------------------------------
 * Bundles and the completion
 */

/* One bundle send limited to @limit bytes; entries consumed, 0 on error. */
static unsigned int bundle_step(struct fx *f, size_t k, __u32 limit)
{
	struct t_cqe c;
	unsigned int n;

	if (!fx_send(f, f->t.fds[1], IOPBUF_SEND_BUNDLE, limit, 0, &c))
		return 0;
	n = check_send_cqe(f, &c, k, true, limit, ZC_LOOPBACK);
	if (n)
		EXPECT_HEAD(&f->t.r, k + n);
	return n;
}

/*
 * A bundle's completion: bid = its first entry, nbufs = entries consumed,
 * res = their bytes, head advanced by nbufs. A byte limit on entry
 * boundaries takes exactly those entries (8 KiB of 4 KiB entries: 2); no
 * limit takes everything published; a limit inside an entry never sends
 * a later entry in part (it stays in the ring); a first entry longer than
 * the limit is cut to it and consumed, like a single-buffer send with
 * len (upstream io_uring's rule for the buffer that crosses max_len).
 */
static void bundle_completion(void)
{
	static const __u32 mid[] = { 1000, 2000, 3000 };
	unsigned int i, n;
	size_t k = 0;
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 256 * 1024) ||
	    !fx_regbuf_ring(&f) || !t_tcp_pair_buf(AF_INET, f.t.fds, 0))
		goto out;
	for (i = 0; i < 8; i++)
		fx_add(&f, 0, 4096 * i, 4096);
	fx_publish(&f);
	if (!EXPECT_EQ(n = bundle_step(&f, k, 8192), 2))
		goto out;
	k += n;
	/* no limit: the six left, nothing more */
	if (!EXPECT_EQ(n = bundle_step(&f, k, 0), 6))
		goto out;
	k += n;

	for (i = 0; i < H_ARRAY_SIZE(mid); i++)
		fx_add(&f, 0, 65536 + 4096 * i, mid[i]);
	fx_publish(&f);
	/* 2500 ends inside the second entry: it is not sent in part */
	n = bundle_step(&f, k, 2500);
	if (!n)
		goto out;
	h_note("limit 2500 over 1000, 2000, 3000: %u entries", n);
	k += n;
	/* the rest, on entry boundaries */
	n = bundle_step(&f, k, (__u32)t_expect_bytes(&f.exp, k, f.exp.n - k));
	if (!EXPECT_EQ(k + n, f.exp.n))
		goto out;
	k += n;

	/* a first entry longer than the limit: cut and consumed */
	fx_add_part(&f, 0, 131072 + 41, 5000, 3000);
	fx_publish(&f);
	if (!fx_send(&f, f.t.fds[1], IOPBUF_SEND_BUNDLE, 3000, 0, &c) ||
	    !EXPECT_EQ(check_send_cqe(&f, &c, k, true, 3000, ZC_LOOPBACK), 1))
		goto out;
	k++;
	EXPECT_HEAD(&f.t.r, k);

	if (!fx_rx_start(&f))
		goto out;
	fx_rx_check(&f, "TCP stream");
out:
	fx_fini(&f);
}

/*
 * Empty entries in a bundle on a plain ring: one inside the data goes
 * with it, one after the last byte stays (the commit retires the entries
 * through the last that received a byte). A bundle over 3000, 0, 2000
 * and 0 bytes sends 5000, reports three entries and leaves the fourth at
 * the head.
 */
static void bundle_empty_entries(void)
{
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 65536) || !fx_regbuf_ring(&f) ||
	    !t_tcp_pair_buf(AF_INET, f.t.fds, 0))
		goto out;
	fx_add(&f, 0, 41, 3000);
	fx_add(&f, 0, 3041, 0);
	fx_add(&f, 0, 3041, 2000);
	fx_add(&f, 0, 5041, 0);
	fx_publish(&f);
	if (!fx_send(&f, f.t.fds[1], IOPBUF_SEND_BUNDLE, 0, 0, &c) ||
	    !EXPECT_EQ(check_send_cqe(&f, &c, 0, true, 0, ZC_LOOPBACK), 3))
		goto out;
	EXPECT_HEAD(&f.t.r, 3);
	if (fx_rx_start(&f))
		fx_rx_check(&f, "TCP stream");
out:
	fx_fini(&f);
}

/*
 * IOPBUF_RING_INC: a send limited to part of an entry advances that entry
 * in place by the bytes sent and leaves it at the head (BUF_MORE); the
 * next send continues where the last one stopped, and the send that
 * finishes the entry retires it (head + 1, no BUF_MORE). With registered-
 * buffer encodings, "advanced" means the encoding's offset grows and its
 * index stays: the entry reads iopbuf_regbuf_encode(0, 41 + sent).
 */
static void inc_partial(bool regbuf)
{
	const __u32 len = 10000, step = 3000, off = 41;
	__u32 done = 0;
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 64 * 1024) ||
	    (regbuf && !fx_register(&f)) ||
	    !fx_ring_flags(&f, IOPBUF_RING_INC |
			   (regbuf ? IOPBUF_RING_REGBUF : 0)))
		goto out;
	fx_add(&f, 0, off, len);
	fx_publish(&f);
	if (!t_tcp_pair_buf(AF_INET, f.t.fds, 0) || !fx_rx_start(&f))
		goto out;
	while (done < len) {
		__u32 want = len - done < step ? len - done : step;
		bool last = done + want == len;

		if (!fx_send(&f, f.t.fds[1], 0, step, 0, &c))
			goto out;
		if (!h_expect(c.res == (int)want, __FILE__, __LINE__,
			      "send after %u of %u bytes: res %s, want %u",
			      done, len, h_res(c.res), want))
			goto out;
		EXPECT_EQ(t_bid(&c), 0);
		EXPECT_EQ(t_nbufs(&c), 1);
		EXPECT_EQ(t_cflags(&c), IOPBUF_CQE_F_BUFFER |
			  (last ? 0 : IOPBUF_CQE_F_BUF_MORE) |
			  (regbuf ? ZC_LOOPBACK : 0));
		done += want;
		EXPECT_HEAD(&f.t.r, last ? 1 : 0);
		if (!last && !EXPECT_EQ(f.t.r.bufs[0].addr,
					fx_addr(&f, 0, off + done))) {
			h_note("entry 0 now names index %u offset %llu",
			       iopbuf_regbuf_index(f.t.r.bufs[0].addr),
			       (unsigned long long)
			       iopbuf_regbuf_offset(f.t.r.bufs[0].addr));
			goto out;
		}
		if (!last)
			EXPECT_EQ(f.t.r.bufs[0].len, len - done);
	}
	fx_rx_check(&f, "TCP stream");
out:
	fx_fini(&f);
}

static void inc_partial_user(void)	{ inc_partial(false); }
static void inc_partial_regbuf(void)	{ inc_partial(true); }

/* ------------------------------------------------------------------------
 * Ring order
 */

/*
 * Several sends in flight on one ring leave in ring order: 48 entries of
 * 1 .. 16000 bytes, all commands submitted at once to one TCP socket
 * with a reader running, many of them waiting for socket space. Each
 * takes the entries at the head when it runs, so the completions' (bid,
 * nbufs) ranges tile the ring exactly once and the stream is the entries
 * in ring order. Bundles are limited to 16 KiB; a bundle command that
 * finds the ring already empty fails with -ENOBUFS.
 */
static void ring_order_inflight(bool bundle)
{
	const unsigned int nent = 48, ncmd = 48;
	bool seen[48] = { false };
	unsigned int i, covered = 0;
	size_t off = 0;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 1 << 20) || !fx_regbuf_ring(&f))
		goto out;
	for (i = 0; i < nent; i++) {
		__u32 len = (i * 7919) % 16000 + 1;

		off += i % 64;
		fx_add(&f, 0, off, len);
		off += len;
	}
	fx_publish(&f);
	if (!t_tcp_pair_buf(AF_INET, f.t.fds, 0) || !fx_rx_start(&f))
		goto out;
	for (i = 0; i < ncmd; i++)
		if (!fx_queue(&f, f.t.fds[1], bundle ? IOPBUF_SEND_BUNDLE : 0,
			      bundle ? 16384 : 0, i))
			goto out;
	if (!t_submit(&f.t.uring, ncmd))
		goto out;
	for (i = 0; i < ncmd; i++) {
		struct t_cqe c;
		unsigned int n, j;

		if (!t_wait(&f.t.uring, &c))
			goto out;
		if (bundle && c.res == -ENOBUFS) {
			EXPECT_EQ(c.res2, 0);
			continue;
		}
		n = check_send_cqe(&f, &c, t_bid(&c), bundle,
				   bundle ? 16384 : 0, ZC_LOOPBACK);
		if (!n)
			goto out;
		for (j = t_bid(&c); j < t_bid(&c) + n; j++) {
			if (!h_expect(!seen[j], __FILE__, __LINE__,
				      "entry %u reported by two completions", j))
				goto out;
			seen[j] = true;
			covered++;
		}
	}
	EXPECT_EQ(covered, nent);
	EXPECT_HEAD(&f.t.r, nent);
	fx_rx_check(&f, "TCP stream");
out:
	fx_fini(&f);
}

static void ring_order_single(void)	{ ring_order_inflight(false); }
static void ring_order_bundle(void)	{ ring_order_inflight(true); }

/*
 * Read whatever @fd has without waiting, into @buf (room for @cap) at
 * *@len, until the sender @snd has nothing left in its queue or @ms pass.
 */
static bool drain_until_outq_empty(int fd, int snd, unsigned char *buf,
				   size_t cap, size_t *len, int ms)
{
	for (; ms > 0; ms -= 2) {
		ssize_t n;

		while (*len < cap &&
		       (n = recv(fd, buf + *len, cap - *len, MSG_DONTWAIT)) > 0)
			*len += (size_t)n;
		if (t_outq(snd) == 0)
			return true;
		usleep(2000);
	}
	return false;
}

/*
 * Ring order across a partial send: command A (a 256 KiB bundle) finds
 * room for only part of its selection and keeps the rest ("the data stays
 * contiguous"); the reader then empties the socket, and command B (the
 * next entry) is submitted before A gets to run again: with
 * IORING_SETUP_DEFER_TASKRUN, A's retry waits until the application
 * waits for completions. B must not overtake A's remainder: the stream is
 * still A's entries, then B's. Without DEFER_TASKRUN, A's retry runs when
 * the reader's recv() returns, before B is submitted.
 */
static void ring_order_partial(bool defer)
{
	const unsigned int na = 32, alen = 8192;
	unsigned char *pre = NULL;
	size_t npre = 0, total;
	bool a_done = false, b_done = false;
	unsigned int i;
	struct fx f;

	if (!fx_init_flags(&f, defer ? IORING_SETUP_SINGLE_ISSUER |
			   IORING_SETUP_DEFER_TASKRUN : 0))
		goto out;
	if (!fx_mem_4k(&f, 1 << 20) || !fx_regbuf_ring(&f) ||
	    !t_tcp_pair_buf(AF_INET, f.t.fds, SMALL_BUF))
		goto out;
	for (i = 0; i < na; i++)
		fx_add(&f, 0, (size_t)i * alen + 41, alen);
	fx_publish(&f);
	if (!fx_queue(&f, f.t.fds[1], IOPBUF_SEND_BUNDLE, 0, 'A') ||
	    !t_submit(&f.t.uring, 1))
		goto out;
	/* A took all 32 entries and waits for room for the rest */
	if (!t_no_cqe_ms(&f.t.uring, T_QUIET_MS) || !EXPECT_HEAD(&f.t.r, na))
		goto out;
	fx_add(&f, 0, (size_t)na * alen + 41, 4096);
	fx_publish(&f);

	total = f.exp.total;
	pre = malloc(total);
	if (!EXPECT(pre))
		goto out;
	if (!drain_until_outq_empty(f.t.fds[0], f.t.fds[1], pre, total, &npre,
				    1000))
		h_note("the sender's queue did not empty (A kept refilling it)");
	h_note("read %zu of %zu bytes before submitting B", npre, total);
	if (!fx_queue(&f, f.t.fds[1], 0, 0, 'B') || !t_submit(&f.t.uring, 1))
		goto out;

	if (!t_rx_start(&f.rx, f.t.fds[0], total - npre))
		goto out;
	while (!a_done || !b_done) {
		struct t_cqe c;

		if (!t_wait(&f.t.uring, &c))
			goto out;
		if (c.user_data == 'A') {
			a_done = true;
			check_send_cqe(&f, &c, 0, true, 0, ZC_LOOPBACK);
		} else {
			b_done = true;
			check_send_cqe(&f, &c, na, false, 0, ZC_LOOPBACK);
		}
	}
	shutdown(f.t.fds[1], SHUT_WR);
	if (!t_rx_join(&f.rx))
		goto out;
	if (npre + f.rx.len == total) {
		memcpy(pre + npre, f.rx.buf, f.rx.len);
		t_expect_check(&f.exp, 0, f.exp.n, pre, total,
				"TCP stream (A's 32 entries, then B)");
	} else {
		FAILF("received %zu bytes, want %zu", npre + f.rx.len, total);
	}
out:
	free(pre);
	fx_fini(&f);
}

static void ring_order_partial_defer(void)	{ ring_order_partial(true); }
static void ring_order_partial_plain(void)	{ ring_order_partial(false); }

/* ------------------------------------------------------------------------
 * Zero copy and buffer release
 */

/*
 * Registered-buffer entries on a UDP socket routed to a dummy interface
 * (mtu 65535, drops everything): the stack transmits the pages and lets
 * go without copying, so every completion reports ZC without ZC_COPIED,
 * single buffers and bundles of up to 32 KiB alike. User-address entries
 * on the same socket are copied: no ZC flag.
 */
static void sink_zc(int family, bool regbuf)
{
	static const __u32 limits[] = { 32768 };
	__u16 zc = regbuf ? IOPBUF_CQE_F_ZC : 0;
	unsigned int i;
	size_t k;
	struct fx f;

	if (!fx_init(&f) || !fx_sink(&f, family))
		goto out;
	if (!fx_mem_4k(&f, ODD_MEM) || (regbuf && !fx_register(&f)) ||
	    !fx_ring(&f, regbuf))
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(odd_slices); i++)
		fx_add(&f, 0, odd_slices[i].off, odd_slices[i].len);
	fx_publish(&f);
	if (!send_entries(&f, f.t.fds[1], 0, false, NULL, 0, zc, -1))
		goto out;
	/* the same slices again, as bundles */
	k = f.exp.n;
	for (i = 0; i < H_ARRAY_SIZE(odd_slices); i++)
		fx_add(&f, 0, odd_slices[i].off, odd_slices[i].len);
	fx_publish(&f);
	if (!send_entries(&f, f.t.fds[1], k, true, limits, 1, zc, -1))
		goto out;
	EXPECT_HEAD(&f.t.r, f.exp.n);
	expect_notifs_idle();
out:
	fx_fini(&f);
}

static void sink4_zc_regbuf(void)	{ sink_zc(AF_INET, true); }
static void sink6_zc_regbuf(void)	{ sink_zc(AF_INET6, true); }
static void sink4_copy_user(void)	{ sink_zc(AF_INET, false); }

/*
 * Steady state allocates nothing: once a few single sends and bundles have
 * filled the context's object cache (command objects, notifications and
 * the arrays they keep), many more of both to the sink must not move the
 * module's cache_misses counter.
 */
#define CACHE_SLICE	4096
#define CACHE_BATCH	16

static bool cache_round(struct fx *f, bool bundle)
{
	static const __u32 limits[] = { 4 * CACHE_SLICE };
	size_t k = f->exp.n;
	unsigned int i;

	for (i = 0; i < CACHE_BATCH; i++)
		fx_add(f, 0, (__u64)i * CACHE_SLICE, CACHE_SLICE);
	fx_publish(f);
	return send_entries(f, f->t.fds[1], k, bundle, limits, 1,
			    IOPBUF_CQE_F_ZC, -1);
}

static void cache_steady(void)
{
	long before, after;
	unsigned int i;
	struct fx f;

	if (!fx_init(&f) || !fx_sink(&f, AF_INET))
		goto out;
	if (!fx_mem_4k(&f, CACHE_BATCH * CACHE_SLICE) || !fx_regbuf_ring(&f))
		goto out;
	for (i = 0; i < 2; i++)
		if (!cache_round(&f, false) || !cache_round(&f, true))
			goto out;
	before = h_sysfs_read("cache_misses");
	if (!h_expect(before >= 0, __FILE__, __LINE__,
		      "sysfs cache_misses unreadable"))
		goto out;
	for (i = 0; i < 16; i++)
		if (!cache_round(&f, false) || !cache_round(&f, true))
			goto out;
	after = h_sysfs_read("cache_misses");
	if (!EXPECT_EQ(after, before))
		h_note("%ld cache misses in %u steady-state sends", after - before,
		       16 * (CACHE_BATCH + CACHE_BATCH / 4));
	expect_notifs_idle();
out:
	fx_fini(&f);
}

/*
 * Several registered buffers and hugetlb memory in one zero-copy bundle
 * to the sink: ZC without ZC_COPIED.
 */
static void sink_multi_regbuf_hugetlb(void)
{
	struct t_huge h = { .old_nr = -1 };
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !t_huge_map(&h, 1) || !fx_mem_4k(&f, 65536) ||
	    !fx_mem_add(&f, h.p, h.len, false) || !fx_regbuf_ring(&f) ||
	    !fx_sink(&f, AF_INET))
		goto out;
	fx_add(&f, 0, 41, 5000);
	fx_add(&f, 1, h.page / 2 + 3, 9000);
	fx_add(&f, 0, 20000, 33);
	fx_add(&f, 1, h.page - 7000, 7000);
	fx_publish(&f);
	if (fx_send(&f, f.t.fds[1], IOPBUF_SEND_BUNDLE, 0, 0, &c))
		EXPECT_EQ(check_send_cqe(&f, &c, 0, true, 0, IOPBUF_CQE_F_ZC),
			  4);
	expect_notifs_idle();
out:
	fx_fini(&f);
	t_huge_unmap(&h);
}

/*
 * A zero-copy completion is the buffer release. One 1 MiB entry to a TCP
 * receiver that does not read: the data cannot fit its window and the
 * sender's queue, so the socket still holds pages and no completion
 * comes. The receiver reads all but the last 32 KiB, which then fit its
 * window: the completion arrives with them unread. The application
 * overwrites the buffer at once; what the receiver reads after that must
 * still be the original data (the stack no longer sends from the pages).
 * notifs is back to zero with the CQE.
 */
static void zc_release_tcp(void)
{
	const __u32 len = (1 << 20) + 33, tail = 32768;
	unsigned char *got = NULL;
	size_t n = 0;
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 2 << 20) || !fx_regbuf_ring(&f) ||
	    !t_tcp_pair2(AF_INET, f.t.fds, SMALL_BUF, 65536))
		goto out;
	fx_add(&f, 0, 41, len);
	fx_publish(&f);
	got = malloc(len);
	if (!EXPECT(got) || !fx_queue(&f, f.t.fds[1], 0, 0, 1) ||
	    !t_submit(&f.t.uring, 1))
		goto out;
	if (!t_no_cqe_ms(&f.t.uring, 500) || !EXPECT_HEAD(&f.t.r, 1))
		goto out;
	while (n < len - tail) {
		ssize_t r = recv(f.t.fds[0], got + n, len - tail - n, 0);

		if (!h_expect(r > 0, __FILE__, __LINE__, "recv: %zd (%s)", r,
			      strerror(errno)))
			goto out;
		n += (size_t)r;
	}
	if (!t_wait(&f.t.uring, &c)) {
		h_note("read %zu, %d bytes queued at the receiver, %d unsent",
		       n, t_sock_queued(f.t.fds[0]), t_outq_unsent(f.t.fds[1]));
		goto out;
	}
	/* released: the application may write its buffer */
	memset(f.mem[0], 0, f.mem_len[0]);
	h_note("%zu of %u bytes not yet read when the completion came",
	       len - n, len);
	if (!check_send_cqe(&f, &c, 0, false, 0, ZC_LOOPBACK))
		goto out;
	expect_notifs_idle();
	while (n < len) {
		ssize_t r = recv(f.t.fds[0], got + n, len - n, 0);

		if (!h_expect(r > 0, __FILE__, __LINE__, "recv: %zd (%s)", r,
			      strerror(errno)))
			goto out;
		n += (size_t)r;
	}
	t_expect_check(&f.exp, 0, 1, got, n, "TCP stream");
out:
	free(got);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * msg_flags
 */

/*
 * MSG_MORE is the one msg_flag a send takes. On UDP it corks: a send
 * with MSG_MORE and the next one without leave as a single datagram
 * holding both entries; each command still completes with its own bytes.
 * On TCP the stream is both entries in order.
 */
static void msg_more(enum proto proto)
{
	static unsigned char dgram[65536];
	struct t_cqe c[2];
	unsigned int i;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 65536) || !fx_regbuf_ring(&f))
		goto out;
	fx_add(&f, 0, 41, 3000);
	fx_add(&f, 0, 8192 + 7, 5000);
	fx_publish(&f);
	if (proto == TCP ? !t_tcp_pair_buf(AF_INET, f.t.fds, 0) || !fx_rx_start(&f) :
			   !t_udp_pair2(AF_INET, f.t.fds))
		goto out;
	if (!fx_send(&f, f.t.fds[1], 0, 0, MSG_MORE, &c[0]) ||
	    !fx_send(&f, f.t.fds[1], 0, 0, 0, &c[1]))
		goto out;
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(c[i].res, f.exp.s[i].len);
		EXPECT_EQ(t_bid(&c[i]), i);
		EXPECT(t_cflags(&c[i]) & IOPBUF_CQE_F_BUFFER);
	}
	if (proto == TCP) {
		fx_rx_check(&f, "TCP stream");
	} else {
		ssize_t n = recv(f.t.fds[0], dgram, sizeof(dgram), 0);

		if (EXPECT(n >= 0))
			t_expect_check(&f.exp, 0, 2, dgram, (size_t)n,
					"corked datagram");
		EXPECT_EQ(t_sock_queued(f.t.fds[0]), 0);
	}
out:
	fx_fini(&f);
}

static void msg_more_tcp(void)	{ msg_more(TCP); }
static void msg_more_udp(void)	{ msg_more(UDP); }

/* ------------------------------------------------------------------------
 * Errors: each fails the command with the errno the ABI names, consumes
 * no entry (head unchanged, res2 == 0) and sends nothing.
 */

/* A fixture with a TCP pair and one good 4000-byte entry at the head. */
static bool err_fx(struct fx *f, bool regbuf, unsigned int uring_flags)
{
	if (!fx_init_flags(f, uring_flags) || !fx_mem_4k(f, 65536) ||
	    (regbuf && !fx_register(f)) || !fx_ring(f, regbuf) ||
	    !t_tcp_pair_buf(AF_INET, f->t.fds, 0))
		return false;
	fx_add(f, 0, 41, 4000);
	fx_publish(f);
	return true;
}

/* Send @cmd and expect -@err with nothing consumed or sent. */
static void expect_send_err(struct fx *f, struct iopbuf_cmd_send cmd,
			    int err, const char *what)
{
	long head = t_ring_head(&f->t.r);
	struct t_cqe c;

	if (!t_send(&f->t.uring, f->t.dev, &cmd, &c))
		return;
	if (!EXPECT_SEND_ERR(&c, err))
		h_note("%s: res %s res2 %#llx", what, h_res(c.res),
		       (unsigned long long)c.res2);
	EXPECT_HEAD(&f->t.r, head);
	EXPECT_EQ(t_sock_queued(f->t.fds[0]), 0);
}

#define SEND_CMD(fd_, bgid_, flags_, len_, msg_flags_)			\
	((struct iopbuf_cmd_send){ .fd = (fd_), .bgid = (bgid_),		\
				   .flags = (flags_), .len = (len_),	\
				   .msg_flags = (msg_flags_) })

/* @fd is not a socket (a pipe, /dev/null, the device itself): -ENOTSOCK. */
static void err_not_socket(void)
{
	int p[2] = { -1, -1 }, null = -1;
	struct fx f;

	if (!err_fx(&f, true, 0) || !EXPECT(!pipe2(p, O_CLOEXEC)))
		goto out;
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	expect_send_err(&f, SEND_CMD(p[1], BGID, 0, 0, 0), ENOTSOCK, "pipe");
	expect_send_err(&f, SEND_CMD(null, BGID, IOPBUF_SEND_BUNDLE, 0, 0),
			ENOTSOCK, "/dev/null");
	expect_send_err(&f, SEND_CMD(f.t.dev, BGID, 0, 0, 0), ENOTSOCK,
			"the device");
out:
	t_close2(p);
	h_close(&null);
	fx_fini(&f);
}

/* A bad file descriptor (-1, a closed one, a huge one): -EBADF. */
static void err_bad_fd(void)
{
	int closed;
	struct fx f;

	if (!err_fx(&f, true, 0))
		goto out;
	closed = dup(f.t.fds[1]);
	close(closed);
	expect_send_err(&f, SEND_CMD(-1, BGID, 0, 0, 0), EBADF, "fd -1");
	expect_send_err(&f, SEND_CMD(closed, BGID, 0, 0, 0), EBADF,
			"closed fd");
	expect_send_err(&f, SEND_CMD(1 << 30, BGID, IOPBUF_SEND_BUNDLE, 0, 0),
			EBADF, "fd 2^30");
out:
	fx_fini(&f);
}

/*
 * An empty ring: -ENOBUFS, single or bundle, before any entry was added
 * and after all were consumed; the head stays.
 */
static void err_empty_ring(void)
{
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 65536) || !fx_regbuf_ring(&f) ||
	    !t_tcp_pair_buf(AF_INET, f.t.fds, 0))
		goto out;
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, 0), ENOBUFS,
			"never filled");
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, IOPBUF_SEND_BUNDLE, 0, 0),
			ENOBUFS, "never filled, bundle");
	fx_add(&f, 0, 0, 100);
	fx_publish(&f);
	if (!fx_send(&f, f.t.fds[1], 0, 0, 0, &c) ||
	    !check_send_cqe(&f, &c, 0, false, 0, ZC_LOOPBACK))
		goto out;
	if (!fx_rx_start(&f))
		goto out;
	/* the receiver drains the 100 bytes; the ring is empty again */
	if (!wait_rx_len(&f, 100))
		goto out;
	if (!fx_send(&f, f.t.fds[1], IOPBUF_SEND_BUNDLE, 0, 0, &c))
		goto out;
	EXPECT_SEND_ERR(&c, ENOBUFS);
	EXPECT_HEAD(&f.t.r, 1);
	fx_rx_check(&f, "TCP stream");
out:
	fx_fini(&f);
}

/* A bgid with no ring: -ENOENT. */
static void err_unknown_bgid(void)
{
	struct fx f;

	if (!err_fx(&f, true, 0))
		goto out;
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID + 1, 0, 0, 0), ENOENT,
			"bgid + 1");
	expect_send_err(&f, SEND_CMD(f.t.fds[1], 0xffff, IOPBUF_SEND_BUNDLE, 0,
				     0), ENOENT, "bgid 65535");
out:
	fx_fini(&f);
}

/* Rewrite the head entry (not consumed by the failed sends) in place. */
static void set_head_entry(struct fx *f, __u64 addr, __u32 len)
{
	struct iopbuf_buf *b = &f->t.r.bufs[(f->t.r.tail - 1) & (f->t.r.entries - 1)];

	b->addr = addr;
	b->len = len;
}

/*
 * An entry naming memory that is not there: a registered index with no
 * buffer (beyond the table, an empty slot), a slice past the buffer's
 * end, an offset at the encoding's maximum, and in a bundle a bad second
 * entry after a good first one: -EFAULT, nothing consumed, nothing sent.
 */
static void err_bad_regbuf_entry(void)
{
	struct iovec iov[2];
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 65536) || !fx_ring(&f, true) ||
	    !t_tcp_pair_buf(AF_INET, f.t.fds, 0))
		goto out;
	/* slot 1 registered empty */
	iov[0] = (struct iovec){ f.mem[0], f.mem_len[0] };
	iov[1] = (struct iovec){ NULL, 0 };
	if (!EXPECT_OK(h_register_iov(f.t.dev, iov, 2)))
		goto out;
	fx_add(&f, 0, 0, 100);
	fx_publish(&f);

	set_head_entry(&f, iopbuf_regbuf_encode(5, 0), 100);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, 0), EFAULT,
			"index beyond the table");
	set_head_entry(&f, iopbuf_regbuf_encode(1, 0), 100);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, 0), EFAULT,
			"empty slot");
	set_head_entry(&f, iopbuf_regbuf_encode(0, 65536 - 10), 11);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, 0), EFAULT,
			"slice past the end");
	set_head_entry(&f, iopbuf_regbuf_encode(0, 65536), 1);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, 0), EFAULT,
			"slice starting at the end");
	set_head_entry(&f, iopbuf_regbuf_encode(0, IOPBUF_REGBUF_MAX_OFFSET),
		       2);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, 0), EFAULT,
			"maximal offset");

	/* a good entry, then a bad one: the bundle fails as a whole */
	set_head_entry(&f, iopbuf_regbuf_encode(0, 0), 100);
	t_ring_add(&f.t.r, iopbuf_regbuf_encode(0, 65000), 1000, 1);
	t_ring_publish(&f.t.r);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, IOPBUF_SEND_BUNDLE, 0, 0),
			EFAULT, "bundle with a bad second entry");
out:
	fx_fini(&f);
}

/*
 * A user-address entry naming unmapped memory or a kernel address:
 * -EFAULT, nothing consumed, nothing sent.
 */
static void err_bad_user_entry(void)
{
	void *hole = h_hole(H_PAGE);
	struct fx f;

	if (!hole || !err_fx(&f, false, 0))
		goto out;
	set_head_entry(&f, (uintptr_t)hole, 100);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, 0), EFAULT,
			"unmapped");
	set_head_entry(&f, 0xffff888000000000ULL, 100);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, 0), EFAULT,
			"kernel address");
out:
	fx_fini(&f);
}

/* An io_uring without IORING_SETUP_CQE32 has no room for res2: -EINVAL. */
static void err_no_cqe32(void)
{
	struct io_uring plain;
	bool have = false;
	struct fx f;
	int res;

	if (!err_fx(&f, true, 0) || !(have = h_uring_init2(&plain, 8, 0)))
		goto out;
	res = h_uring_cmd(&plain, f.t.dev, IOPBUF_CMD_SEND,
			  &SEND_CMD(f.t.fds[1], BGID, 0, 0, 0),
			  sizeof(struct iopbuf_cmd_send));
	EXPECT_ERR(res, EINVAL);
	EXPECT_HEAD(&f.t.r, 0);
	EXPECT_EQ(t_sock_queued(f.t.fds[0]), 0);
out:
	if (have)
		io_uring_queue_exit(&plain);
	fx_fini(&f);
}

/* msg_flags other than MSG_MORE, or unknown flags: -EINVAL. */
static void err_flags(void)
{
	static const unsigned int bad_msg[] = {
		MSG_DONTWAIT, MSG_OOB, MSG_NOSIGNAL, MSG_WAITALL, MSG_EOR,
		MSG_ZEROCOPY, MSG_MORE | MSG_CONFIRM, 1U << 31,
	};
	unsigned int i;
	char what[64];
	struct fx f;

	if (!err_fx(&f, true, 0))
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(bad_msg); i++) {
		snprintf(what, sizeof(what), "msg_flags %#x", bad_msg[i]);
		expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 0, 0, bad_msg[i]),
				EINVAL, what);
	}
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 1U << 1, 0, 0), EINVAL,
			"flags bit 1");
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, 1U << 15, 0, 0), EINVAL,
			"flags bit 15");
out:
	fx_fini(&f);
}

/*
 * Errors from the socket itself consume nothing either: a UDP bundle
 * larger than a datagram can be (-EMSGSIZE), a UDP socket without a
 * destination (-EDESTADDRREQ), a TCP socket never connected (-EPIPE).
 */
static void err_socket_state(void)
{
	int udp = -1, tcp = -1;
	unsigned int i;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 256 * 1024) || !fx_regbuf_ring(&f) ||
	    !t_udp_pair2(AF_INET, f.t.fds))
		goto out;
	for (i = 0; i < 3; i++)
		fx_add(&f, 0, (size_t)i * 32768, 30000);
	fx_publish(&f);
	expect_send_err(&f, SEND_CMD(f.t.fds[1], BGID, IOPBUF_SEND_BUNDLE, 0, 0),
			EMSGSIZE, "90000-byte datagram");
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tcp = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!EXPECT(udp >= 0 && tcp >= 0))
		goto out;
	expect_send_err(&f, SEND_CMD(udp, BGID, 0, 0, 0), EDESTADDRREQ,
			"unconnected UDP");
	expect_send_err(&f, SEND_CMD(tcp, BGID, 0, 0, 0), EPIPE,
			"unconnected TCP");
out:
	h_close(&udp);
	h_close(&tcp);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * Lifetime: peer reset, close, unregister, kill, unload
 */

/* Close the receiving end with SO_LINGER 0: the sender gets an RST. */
static void reset_peer(struct fx *f)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(f->t.fds[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	h_close(&f->t.fds[0]);
}

static bool is_reset_err(int res)
{
	return res == -ECONNRESET || res == -EPIPE;
}

/*
 * Peer reset: the peer closes with SO_LINGER 0 (RST). A send issued
 * after the reset, and one waiting for socket space when the reset comes
 * (nothing of it taken yet), complete with -ECONNRESET or -EPIPE within
 * a few seconds, consume nothing and leave nothing in flight.
 */
static void peer_reset_waiting(void)
{
	struct t_cqe c;
	struct fx f;

	if (!fx_tcp_one_entry(&f, 65536, 8192))
		goto out;
	if (t_fill_sndbuf(f.t.fds[1]) < 0 || !fx_queue(&f, f.t.fds[1], 0, 0, 1) ||
	    !t_submit(&f.t.uring, 1))
		goto out;
	if (!t_no_cqe_ms(&f.t.uring, T_QUIET_MS) || !EXPECT_HEAD(&f.t.r, 0) ||
	    !EXPECT_EQ(fx_inflight(&f), 1))
		goto out;
	reset_peer(&f);
	if (!t_wait(&f.t.uring, &c))
		goto out;
	if (!h_expect(is_reset_err(c.res), __FILE__, __LINE__,
		      "waiting send after a reset: res %s, want -ECONNRESET or -EPIPE",
		      h_res(c.res)))
		goto out;
	EXPECT_EQ(c.res2, 0);
	EXPECT_HEAD(&f.t.r, 0);
	EXPECT_EQ(fx_inflight(&f), 0);

	/* and a send issued after the reset */
	if (!fx_send(&f, f.t.fds[1], IOPBUF_SEND_BUNDLE, 0, 0, &c))
		goto out;
	h_expect(is_reset_err(c.res), __FILE__, __LINE__,
		 "send after a reset: res %s, want -ECONNRESET or -EPIPE",
		 h_res(c.res));
	EXPECT_HEAD(&f.t.r, 0);
	expect_notifs_idle();
out:
	fx_fini(&f);
}

/*
 * Peer reset while a send is part way through its selection (it took its
 * 256 KiB entry and waits for room for the rest): the command completes
 * within a few seconds with an error, or with the bytes it sent before
 * the reset ("the error is lost to the bytes already sent"), and the
 * reset socket's dropped skbs release the pages (notifs back to 0).
 */
static void peer_reset_partial(void)
{
	const __u32 len = 256 * 1024;
	struct t_cqe c;
	struct fx f;

	if (!fx_tcp_one_entry(&f, 512 * 1024, len))
		goto out;
	if (!fx_queue(&f, f.t.fds[1], 0, 0, 1) || !t_submit(&f.t.uring, 1) ||
	    !t_no_cqe_ms(&f.t.uring, T_QUIET_MS) || !EXPECT_HEAD(&f.t.r, 1))
		goto out;
	reset_peer(&f);
	if (!t_wait(&f.t.uring, &c))
		goto out;
	if (c.res > 0) {
		h_note("completed with %d of %u bytes sent before the reset",
		       c.res, len);
		EXPECT((__u32)c.res < len);
		EXPECT_EQ(t_bid(&c), 0);
		EXPECT_EQ(t_nbufs(&c), 1);
		EXPECT(t_cflags(&c) & IOPBUF_CQE_F_ZC);
	} else {
		h_expect(is_reset_err(c.res), __FILE__, __LINE__,
			 "res %s, want bytes sent, -ECONNRESET or -EPIPE",
			 h_res(c.res));
	}
	EXPECT_EQ(fx_inflight(&f), 0);
	expect_notifs_idle();
out:
	fx_fini(&f);
}

/*
 * The application closes its socket while a send waits for space: the
 * command holds its own reference to the socket, so once the receiver
 * reads, all of it is sent, it completes with every byte, and only then
 * (the command's reference gone) does the receiver see EOF.
 */
static void close_socket_midsend(void)
{
	const __u32 len = 256 * 1024 + 33;
	ssize_t junk;
	size_t i;
	struct t_cqe c;
	struct fx f;

	if (!fx_tcp_one_entry(&f, 512 * 1024, len))
		goto out;
	junk = t_fill_sndbuf(f.t.fds[1]);
	if (junk < 0 || !fx_queue(&f, f.t.fds[1], 0, 0, 1) ||
	    !t_submit(&f.t.uring, 1) || !t_no_cqe_ms(&f.t.uring, T_QUIET_MS))
		goto out;
	h_close(&f.t.fds[1]);
	if (!t_no_cqe_ms(&f.t.uring, 100) ||
	    !t_rx_start(&f.rx, f.t.fds[0], (size_t)junk + len))
		goto out;
	if (!t_wait(&f.t.uring, &c) ||
	    !check_send_cqe(&f, &c, 0, false, 0, ZC_LOOPBACK))
		goto out;
	/* EOF: the command dropped the last reference to the socket */
	if (!t_rx_join(&f.rx))
		goto out;
	for (i = 0; i < (size_t)junk && i < f.rx.len; i++)
		if (f.rx.buf[i] != 0x5a)
			break;
	if (!EXPECT_EQ(i, junk))
		goto out;
	t_expect_check(&f.exp, 0, 1, f.rx.buf + junk, f.rx.len - junk,
			"TCP stream after the prefill");
out:
	fx_fini(&f);
}

/*
 * 512 KiB of 4 KiB pages registered behind a ring of registered-buffer
 * entries, and a TCP pair with small buffers (a send of more than a few
 * dozen KiB waits); *@ring_pages: the pages the ring alone pins.
 */
static bool fx_small_tcp(struct fx *f, __u64 *ring_pages)
{
	struct iopbuf_stats st;

	if (!fx_init(f) || !fx_mem_4k(f, 512 * 1024) || !fx_ring(f, true) ||
	    !EXPECT_OK(h_stats(f->t.dev, &st)))
		return false;
	*ring_pages = st.pinned_pages;
	return fx_register(f) && t_tcp_pair_buf(AF_INET, f->t.fds, SMALL_BUF);
}

/*
 * Buffers unregistered (IOPBUF_IOC_UNREGISTER_BUFFERS) and even unmapped
 * while a send from them is in flight: unregistering succeeds at once,
 * the table is empty, but the pages stay pinned (the command holds the
 * buffer); the send completes with every byte intact, and the context's
 * pinned_pages drops only with that completion: to the ring's own pages,
 * or, with @ring_too (the ring unregistered as well, which the command
 * also holds), to zero.
 */
static void unregister_inflight(bool ring_too)
{
	const __u32 len = 384 * 1024 + 33;
	struct iopbuf_stats st;
	__u64 ring_pages;
	struct t_cqe c;
	struct fx f;

	if (!fx_small_tcp(&f, &ring_pages))
		goto out;
	fx_add(&f, 0, 41, len);
	fx_publish(&f);
	if (!fx_queue(&f, f.t.fds[1], 0, 0, 1) || !t_submit(&f.t.uring, 1) ||
	    !t_no_cqe_ms(&f.t.uring, T_QUIET_MS) || !EXPECT_HEAD(&f.t.r, 1))
		goto out;

	if (!EXPECT_OK(h_unregister_bufs(f.t.dev)))
		goto out;
	if (ring_too) {
		if (!EXPECT_OK(h_unregister_ring(f.t.dev, BGID)))
			goto out;
		f.t.r.registered = false;
	}
	if (!EXPECT_OK(h_stats(f.t.dev, &st)))
		goto out;
	EXPECT_EQ(st.bufs, 0);
	EXPECT_EQ(st.buf_slots, 0);
	EXPECT_EQ(st.rings, ring_too ? 0 : 1);
	EXPECT_EQ(st.inflight, 1);
	EXPECT_EQ(st.pinned_pages, ring_pages + f.mem_len[0] / H_PAGE);
	munmap(f.mem[0], f.mem_len[0]);
	f.mem_owned[0] = false;

	if (!t_no_cqe_ms(&f.t.uring, 100) || !fx_rx_start(&f) ||
	    !t_wait(&f.t.uring, &c) ||
	    !check_send_cqe(&f, &c, 0, false, 0, ZC_LOOPBACK))
		goto out;
	if (EXPECT_OK(h_stats(f.t.dev, &st)))
		EXPECT_EQ(st.pinned_pages, ring_too ? 0 : ring_pages);
	fx_rx_check(&f, "TCP stream from unregistered, unmapped memory");
out:
	fx_fini(&f);
}

static void unregister_bufs_inflight(void)	{ unregister_inflight(false); }
static void unregister_all_inflight(void)	{ unregister_inflight(true); }

/* The module's reference count, as rmmod sees it; -1 if unreadable. */
static long module_refcnt(void)
{
	long v = -1;
	FILE *f = fopen("/sys/module/iouring_pbuf/refcnt", "r");

	if (!f || fscanf(f, "%ld", &v) != 1)
		FAILF("/sys/module/iouring_pbuf/refcnt: %s", strerror(errno));
	if (f)
		fclose(f);
	return v;
}

/*
 * IOPBUF_IOC_CANCEL with two sends waiting: A took its 256 KiB entry and
 * waits for room for the rest, B (next entry) waits with nothing taken.
 * Both are cancelled (the ioctl returns 2). A completes with the bytes it
 * handed to the socket, ZC | DETACHED (the stack still holds pages: no
 * release information follows) and its entry consumed; B with -ECANCELED,
 * nothing consumed. The buffer, now unregistered, stays pinned for the
 * detached notification (pinned_pages, notifs) until the receiver drains
 * the socket; then both drop. The receiver gets exactly A's first res
 * bytes. While it waits, the detached notification holds the module
 * (/sys/module/iouring_pbuf/refcnt is one higher): rmmod fails with
 * -EBUSY rather than waiting in D state for the network.
 */
static void cancel_detached(void)
{
	const __u32 len = 256 * 1024;
	struct iopbuf_stats st;
	struct t_cqe c[2], *a, *b;
	__u64 ring_pages;
	long refs;
	struct fx f;

	if (!fx_small_tcp(&f, &ring_pages))
		goto out;
	fx_add(&f, 0, 41, len);
	fx_add(&f, 0, len + 4096, 8192);
	fx_publish(&f);
	if (!fx_queue(&f, f.t.fds[1], 0, 0, 'A') || !fx_queue(&f, f.t.fds[1], 0, 0, 'B') ||
	    !t_submit(&f.t.uring, 2) || !t_no_cqe_ms(&f.t.uring, T_QUIET_MS) ||
	    !EXPECT_HEAD(&f.t.r, 1))
		goto out;
	if (!EXPECT_EQ(ioctl(f.t.dev, IOPBUF_IOC_CANCEL), 2) ||
	    !t_wait(&f.t.uring, &c[0]) || !t_wait(&f.t.uring, &c[1]))
		goto out;
	a = c[0].user_data == 'A' ? &c[0] : &c[1];
	b = a == &c[0] ? &c[1] : &c[0];
	EXPECT_SEND_ERR(b, ECANCELED);
	if (!h_expect(a->res > 0 && (__u32)a->res < len, __FILE__, __LINE__,
		      "cancelled partial send: res %s, want 0 < res < %u",
		      h_res(a->res), len))
		goto out;
	EXPECT_EQ(t_cflags(a), IOPBUF_CQE_F_BUFFER | IOPBUF_CQE_F_ZC |
		  IOPBUF_CQE_F_DETACHED);
	EXPECT_EQ(t_bid(a), 0);
	EXPECT_EQ(t_nbufs(a), 1);
	EXPECT_HEAD(&f.t.r, 1);
	if (EXPECT_OK(h_unregister_bufs(f.t.dev)) &&
	    EXPECT_OK(h_stats(f.t.dev, &st))) {
		EXPECT_EQ(st.inflight, 0);
		EXPECT_EQ(st.pinned_pages, ring_pages + f.mem_len[0] / H_PAGE);
	}
	EXPECT(h_sysfs_read("notifs") > t_counter_at_start("notifs"));
	refs = module_refcnt();

	/* the receiver drains: the stack lets go, the detached notif goes */
	f.exp.s[0].len = (__u32)a->res;
	f.exp.n = 1;
	f.exp.total = (size_t)a->res;
	if (!fx_rx_start(&f))
		goto out;
	t_global_is("notifs", t_counter_at_start("notifs"));
	/* the same files are open: only the notification's reference went */
	EXPECT_EQ(refs - module_refcnt(), 1);
	if (EXPECT_OK(h_stats(f.t.dev, &st)))
		EXPECT_EQ(st.pinned_pages, ring_pages);
	fx_rx_check(&f, "TCP stream: the bytes the cancelled send reported");
out:
	fx_fini(&f);
}

/* Threads of this process named iou-wrk-* (io_uring's io-wq workers). */
static int count_iowq_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[300], comm[32];
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, "iou-wrk-", 8))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * Keep an io-wq worker busy: IORING_OP_OPENAT (forced async) of a FIFO
 * for reading blocks in open() until a writer comes. Returns the FIFO's
 * path in @path, or false.
 */
static bool block_a_worker(struct io_uring *ring, char *path, size_t size)
{
	struct io_uring_sqe *sqe;

	snprintf(path, size, "/tmp/send-fifo.%d", (int)getpid());
	unlink(path);
	if (!EXPECT(!mkfifo(path, 0600)))
		return false;
	sqe = io_uring_get_sqe(ring);
	if (!EXPECT(sqe))
		return false;
	memset(sqe, 0, 2 * sizeof(*sqe));
	io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	sqe->flags |= IOSQE_ASYNC;
	sqe->user_data = 'O';
	return t_submit(ring, 1);
}

/* A writer opens the FIFO: the worker's openat completes. */
static bool unblock_the_worker(struct io_uring *ring, const char *path)
{
	int w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	struct t_cqe c;
	bool ok;

	ok = EXPECT(w >= 0) && t_wait(ring, &c) && EXPECT_EQ(c.user_data, 'O') &&
	     EXPECT(c.res >= 0);
	if (ok)
		close(c.res);
	h_close(&w);
	unlink(path);
	return ok;
}

/*
 * No completion for @ms: the sends are still waiting. A completion that
 * does come is reported with the time it took since @t0 (ms).
 */
static bool still_waiting(struct fx *f, int ms, double t0)
{
	struct __kernel_timespec ts = { .tv_sec = ms / 1000,
					.tv_nsec = (ms % 1000) * 1000000L };
	struct io_uring_cqe *cqe;
	struct t_cqe c;
	struct timespec now;

	if (io_uring_wait_cqe_timeout(&f->t.uring, &cqe, &ts) == -ETIME)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	t_cqe_copy(&f->t.uring, cqe, &c);
	io_uring_cqe_seen(&f->t.uring, cqe);
	FAILF("a waiting send completed %.0f ms after its submission: res %s, flags %#x (socket still full, nothing cancelled it)",
	      now.tv_sec * 1e3 + now.tv_nsec / 1e6 - t0, h_res(c.res),
	      t_cflags(&c));
	return false;
}

/*
 * Sends wait for socket space as long as it takes, however they were
 * issued. Four sends wait on a full socket for 6.5 s, longer than io-wq's
 * idle timeout (5 s). With @async (IOSQE_ASYNC) they are issued from
 * io-wq while another io-wq worker is blocked (an openat of a FIFO), so
 * they get workers of their own; once both are idle, io-wq lets all but
 * one exit. A waiting command belongs to the application's task, not to
 * the worker that happened to issue it: it must not be cancelled when
 * that worker exits. Once the receiver reads, all four complete with
 * every byte.
 */
static void issue_waits(bool async)
{
	struct timespec t0;
	char fifo[64];
	ssize_t junk;
	unsigned int i;
	struct fx f;

	if (!fx_init(&f) || !fx_mem_4k(&f, 65536) || !fx_regbuf_ring(&f) ||
	    !t_tcp_pair_buf(AF_INET, f.t.fds, SMALL_BUF))
		goto out;
	for (i = 0; i < 4; i++)
		fx_add(&f, 0, i * 8192 + 41, 8192);
	fx_publish(&f);
	junk = t_fill_sndbuf(f.t.fds[1]);
	if (junk < 0 || !block_a_worker(&f.t.uring, fifo, sizeof(fifo)))
		goto out;
	/* the openat has its io-wq worker: the sends need workers of their own */
	for (i = 0; count_iowq_workers() < 1 && i < (unsigned int)T_WAIT_MS; i += 5)
		usleep(5000);
	if (!h_expect(count_iowq_workers() >= 1, __FILE__, __LINE__,
		      "no io-wq worker for the blocking openat"))
		goto out;
	for (i = 0; i < 4; i++) {
		struct iopbuf_cmd_send cmd = { .fd = f.t.fds[1], .bgid = BGID };
		struct io_uring_sqe *sqe = h_prep_cmd(&f.t.uring, f.t.dev,
						      IOPBUF_CMD_SEND, &cmd,
						      sizeof(cmd), i);

		if (!EXPECT(sqe))
			goto out;
		if (async)
			sqe->flags |= IOSQE_ASYNC;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!t_submit(&f.t.uring, 4) || !wait_inflight(&f, 4))
		goto out;
	h_note("io-wq workers after the submission: %d", count_iowq_workers());
	if (!unblock_the_worker(&f.t.uring, fifo) ||
	    !still_waiting(&f, 6500, t0.tv_sec * 1e3 + t0.tv_nsec / 1e6))
		goto out;
	h_note("io-wq workers 6.5 s later: %d", count_iowq_workers());
	if (!EXPECT_EQ(fx_inflight(&f), 4))
		goto out;
	if (!t_rx_start(&f.rx, f.t.fds[0], (size_t)junk + f.exp.total))
		goto out;
	for (i = 0; i < 4; i++) {
		struct t_cqe c;

		if (!t_wait(&f.t.uring, &c) ||
		    !check_send_cqe(&f, &c, t_bid(&c), false, 0, ZC_LOOPBACK))
			goto out;
	}
	shutdown(f.t.fds[1], SHUT_WR);
	if (t_rx_join(&f.rx) && EXPECT(f.rx.len >= (size_t)junk))
		t_expect_check(&f.exp, 0, 4, f.rx.buf + junk,
				f.rx.len - (size_t)junk,
				"TCP stream after the prefill");
out:
	fx_fini(&f);
}

static void inline_issue_waits(void)	{ issue_waits(false); }
static void async_issue_waits(void)	{ issue_waits(true); }

/*
 * The child of sigkill_inflight: eight 64 KiB sends to a receiver that
 * never reads, most of them waiting (for socket space or for the stack to
 * let go of their pages), then it waits to be killed.
 */
static bool sending_child(void *arg)
{
	const int *fds = arg;	/* [1] the child's, [0] the parent's */
	int sock = fds[1];
	unsigned int i;
	struct fx f;

	close(fds[0]);

	if (!fx_init(&f) || !fx_mem_4k(&f, 1 << 20) || !fx_regbuf_ring(&f))
		return false;
	for (i = 0; i < 8; i++)
		fx_add(&f, 0, (size_t)i * 65536 + 41, 65536);
	fx_publish(&f);
	for (i = 0; i < 8; i++)
		if (!fx_queue(&f, sock, 0, 0, i))
			return false;
	if (!t_submit(&f.t.uring, 8))
		return false;
	/* the sends are in the module (waiting for socket space) */
	for (i = 0; fx_inflight(&f) < 1 && i < (unsigned int)T_WAIT_MS; i += 5)
		usleep(5000);
	return fx_inflight(&f) >= 1;
}

/*
 * A process killed (SIGKILL) with sends in flight: it exits (within the
 * hang guard; io_uring cancels on exit from 6.7, the module's exit
 * monitor on 6.1), the module-wide inflight counter returns to where it
 * was; once the receiver goes (its RST makes the orphaned socket drop the skbs still
 * holding pages), notifs, pinned_pages and contexts do too.
 */
static void sigkill_inflight(void)
{
	long base = h_sysfs_read("inflight");
	int fds[2] = { -1, -1 };
	pid_t pid;

	if (!t_tcp_pair_buf(AF_INET, fds, SMALL_BUF))
		goto out;
	pid = t_fork_ready(sending_child, fds);
	if (pid < 0)
		goto out;
	h_close(&fds[1]);
	h_note("before the kill: inflight %ld notifs %ld pinned_pages %ld",
	       h_sysfs_read("inflight") - base, h_sysfs_read("notifs"),
	       h_sysfs_read("pinned_pages"));
	EXPECT(h_sysfs_read("inflight") > base);
	if (!t_kill_reap(pid, "a child with sends in flight"))
		goto out;
	t_global_is("inflight", base);
	h_note("after the exit: notifs %ld pinned_pages %ld contexts %ld",
	       h_sysfs_read("notifs"), h_sysfs_read("pinned_pages"),
	       h_sysfs_read("contexts"));
	/* the receiver resets the orphaned connection */
	h_close(&fds[0]);
	t_counters_idle();
out:
	t_close2(fds);
}

static long try_rmmod(void)
{
	return syscall(SYS_delete_module, "iouring_pbuf", O_NONBLOCK) ? -errno : 0;
}

/* delete_module() refused: the module is busy (EWOULDBLOCK, or EBUSY). */
static bool expect_rmmod_refused(const char *what)
{
	long r = try_rmmod();

	if (r == -EPERM) {
		h_skip("no CAP_SYS_MODULE");
		return false;
	}
	if (!h_expect(r == -EWOULDBLOCK || r == -EBUSY, __FILE__, __LINE__,
		      "%s: delete_module: %s, want -EWOULDBLOCK or -EBUSY",
		      what, h_res(r)))
		return false;
	h_note("%s: delete_module: %s", what, h_res(r));
	return EXPECT(access("/sys/module/iouring_pbuf", F_OK) == 0);
}

/*
 * Module unload while busy: delete_module("iouring_pbuf", O_NONBLOCK)
 * fails while a device fd is open, and while only an in-flight send
 * holds the device (its fd already closed); the device keeps working and
 * the send completes.
 */
static void rmmod_busy(void)
{
	struct iopbuf_stats st;
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !expect_rmmod_refused("device fd open") ||
	    !EXPECT_OK(h_stats(f.t.dev, &st)))
		goto out;
	if (!fx_mem_4k(&f, 65536) || !fx_regbuf_ring(&f) ||
	    !t_tcp_pair_buf(AF_INET, f.t.fds, SMALL_BUF))
		goto out;
	fx_add(&f, 0, 41, 8192);
	fx_publish(&f);
	if (t_fill_sndbuf(f.t.fds[1]) < 0 || !fx_queue(&f, f.t.fds[1], 0, 0, 1) ||
	    !t_submit(&f.t.uring, 1) || !t_no_cqe_ms(&f.t.uring, T_QUIET_MS))
		goto out;
	/* only the in-flight command holds the device file now */
	h_close(&f.t.dev);
	if (!expect_rmmod_refused("device fd closed, a send in flight"))
		goto out;
	t_rx_start(&f.rx, f.t.fds[0], 1 << 20);
	if (t_wait(&f.t.uring, &c))
		EXPECT_EQ(c.res, 8192);
out:
	fx_fini(&f);
}

/* Last case: every module-wide counter, notifs included, back to zero. */
static void counters_zero(void)
{
	t_counters_idle();
}

int main(void)
{
	h_init("send");
	t_counters_init();

	RUN(tcp4_single_regbuf);
	RUN(tcp6_single_regbuf);
	RUN(udp4_single_regbuf);
	RUN(udp6_single_regbuf);
	RUN(tcp4_bundle_regbuf);
	RUN(tcp6_bundle_regbuf);
	RUN(udp4_bundle_regbuf);
	RUN(udp6_bundle_regbuf);
	RUN(tcp4_single_user);
	RUN(tcp6_single_user);
	RUN(udp4_single_user);
	RUN(udp6_single_user);
	RUN(tcp4_bundle_user);
	RUN(tcp6_bundle_user);
	RUN(udp4_bundle_user);
	RUN(udp6_bundle_user);
	RUN(multi_regbuf_bundle);
	RUN(mmap_ring_tcp);
	RUN(hugetlb_tcp);

	RUN(bundle_completion);
	RUN(bundle_empty_entries);
	RUN(inc_partial_user);
	RUN(inc_partial_regbuf);

	RUN(ring_order_single);
	RUN(ring_order_bundle);
	RUN(ring_order_partial_plain);
	RUN(ring_order_partial_defer);

	RUN(sink4_zc_regbuf);
	RUN(sink6_zc_regbuf);
	RUN(sink4_copy_user);
	RUN(sink_multi_regbuf_hugetlb);
	RUN(cache_steady);
	RUN(zc_release_tcp);

	RUN(msg_more_tcp);
	RUN(msg_more_udp);

	RUN(err_not_socket);
	RUN(err_bad_fd);
	RUN(err_empty_ring);
	RUN(err_unknown_bgid);
	RUN(err_bad_regbuf_entry);
	RUN(err_bad_user_entry);
	RUN(err_no_cqe32);
	RUN(err_flags);
	RUN(err_socket_state);

	RUN(peer_reset_waiting);
	RUN(peer_reset_partial);
	RUN(close_socket_midsend);
	RUN(unregister_bufs_inflight);
	RUN(unregister_all_inflight);
	RUN(cancel_detached);
	RUN(inline_issue_waits);
	RUN(async_issue_waits);
	RUN(sigkill_inflight);
	RUN(rmmod_busy);

	t_sink_down();
	RUN(counters_zero);
	return h_exit();
}
