// SPDX-License-Identifier: GPL-2.0
/*
 * recv: IOPBUF_CMD_RECV over TCP and UDP on 127.0.0.1 and AF_UNIX stream
 * sockets, into provided-buffer rings holding user addresses or
 * registered-buffer encodings, plain and incrementally consumed (INC).
 *
 * The cases mirror upstream io_uring's provided-buffer rules
 * (io_kbuf_commit, io_kbuf_inc_commit, io_ring_buffers_peek, io_recv) and
 * the liburing tests named in each comment. Every case checks the data,
 * the completion's res and res2 (bid, nbufs, BUFFER / BUF_MORE) and the
 * ring afterwards: the kernel head (IOPBUF_IOC_RING_STATUS) and, on INC
 * rings, the entries the kernel rewrote in place.
 */
#include "util.h"

#define BGID	1

/*
 * A row of a table-driven case (RUN_ROWS): the case's name and the values
 * its function runs with.
 */
struct row {
	const char		*name;
	enum t_sock_kind	kind;
	bool			inc;		/* an IOPBUF_RING_INC ring */
	bool			regbuf;		/* registered-buffer entries */
	bool			nonblock;	/* O_NONBLOCK on fds[0] */
	unsigned int		n;		/* messages (bundles) */
};

/*
 * The fixture with @data_len bytes of data, ring BGID of @entries entries
 * (@flags, @min_left) and a @kind socket pair.
 */
static bool fx_pair(struct t_fx *f, enum t_sock_kind kind, size_t data_len,
		    unsigned int entries, unsigned int flags,
		    unsigned int min_left)
{
	return t_fx_init(f, data_len, 0) &&
	       t_ring_init(&f->r, f->dev, entries, BGID, flags, min_left) &&
	       t_sock_pair(kind, f->fds);
}

/* fx_pair() with @entries buffers of @size bytes, bids 0.., published. */
static bool fx_pair_filled(struct t_fx *f, enum t_sock_kind kind,
			   unsigned int entries, __u32 size, unsigned int flags,
			   unsigned int min_left)
{
	if (!fx_pair(f, kind, (size_t)entries * size, entries, flags, min_left))
		return false;
	t_ring_fill(&f->r, f->data, entries, size, 0);
	return true;
}

/* Register @data_len bytes of f->data as registered buffer 0. */
static bool fx_regbuf(struct t_fx *f)
{
	struct iovec iov = { f->data, f->data_len };

	return EXPECT_OK(h_register_iov(f->dev, &iov, 1));
}

static bool fx_recv(struct t_fx *f, unsigned int flags, unsigned int len,
		    struct t_cqe *c)
{
	return t_recv(&f->uring, f->dev, f->fds[0], BGID, flags, len, c);
}

/*
 * A receive of no fixed length that must end without a buffer: res
 * @want, res2 0. False only when the receive itself could not be run.
 */
static bool fx_recv_nobuf(struct t_fx *f, unsigned int flags, long want)
{
	struct t_cqe c;

	if (!fx_recv(f, flags, 0, &c))
		return false;
	EXPECT_NOBUF_CQE(&c, want);
	return true;
}

/* The next completion carries no buffer: res @want, res2 0. */
static bool fx_wait_nobuf(struct t_fx *f, long want)
{
	struct t_cqe c;

	if (!t_wait(&f->uring, &c))
		return false;
	EXPECT_NOBUF_CQE(&c, want);
	return true;
}

static bool fx_start_recv(struct t_fx *f, int fd, unsigned int flags,
			  unsigned int len, __u64 user_data)
{
	struct t_cmd cmd = {
		.op = IOPBUF_CMD_RECV, .fd = fd, .bgid = BGID,
		.flags = (__u16)flags, .len = len,
	};

	return t_start(&f->uring, f->dev, &cmd, user_data);
}

/* IOPBUF_IOC_CANCEL: how many commands it cancelled, or -errno. */
static int cancel_all(int dev)
{
	int n = ioctl(dev, IOPBUF_IOC_CANCEL);

	return n < 0 ? -errno : n;
}

/* ------------------------------------------------------------------------
 * Single-buffer receive
 */

/*
 * Single-buffer receive (io_recv with IOSQE_BUFFER_SELECT, liburing
 * send_recv / buf-ring): each receive takes the head entry, reports its
 * bid with one buffer and no BUF_MORE, writes nothing beyond the bytes it
 * reports, and a plain ring consumes exactly one entry per receive without
 * rewriting it. A message longer than the entry fills it; on a stream
 * socket the rest waits for the next receive, UDP truncates the datagram.
 * Entries hold user addresses or, with @regbuf, registered-buffer
 * encodings (index 0, offset 4096 * i + 16) naming the same memory.
 */
static void recv_single(enum t_sock_kind kind, bool regbuf)
{
	static const unsigned int msgs[] = { 1000, 2048, 3000 };
	const unsigned int ent_len = 2048, stride = 4096, skew = 16;
	unsigned int i, nrecv = 0;
	size_t sent = 0, got = 0;
	struct t_cqe c;
	struct t_fx f;

	if (!t_fx_init(&f, 8 * stride, 0) || (regbuf && !fx_regbuf(&f)) ||
	    !t_ring_init(&f.r, f.dev, 8, BGID, regbuf ? IOPBUF_RING_REGBUF : 0, 0) ||
	    !t_sock_pair(kind, f.fds))
		goto out;
	for (i = 0; i < 8; i++) {
		size_t off = (size_t)i * stride + skew;

		t_ring_add(&f.r, regbuf ? iopbuf_regbuf_encode(0, off) :
			   (uintptr_t)(f.data + off), ent_len, (__u16)(100 + i));
	}
	t_ring_publish(&f.r);

	for (i = 0; i < H_ARRAY_SIZE(msgs); i++) {
		size_t msg_end = sent + msgs[i];

		if (!t_write_pat(f.fds[1], sent, msgs[i]))
			goto out;
		sent = msg_end;
		/* stream sockets: drain the message; UDP: one datagram */
		do {
			unsigned int want = msg_end - got < ent_len ?
					    msg_end - got : ent_len;
			char *at = f.data + (size_t)nrecv * stride + skew;

			if (!fx_recv(&f, 0, 0, &c))
				goto out;
			if (!EXPECT_BUF_CQE(&c, want, 100 + nrecv, 1, false) ||
			    !EXPECT_PAT(at, got, want))
				goto out;
			/* nothing written past the reported bytes */
			EXPECT_EQ((unsigned char)at[want], 0xee);
			nrecv++;
			EXPECT_HEAD(&f.r, nrecv);
			got += want;
			if (kind == T_UDP)
				got = msg_end;
		} while (got < msg_end);
	}
	EXPECT_EQ(nrecv, kind == T_UDP ? 3 : 4);
	/* a plain ring never rewrites its entries */
	for (i = 0; i < nrecv; i++) {
		size_t off = (size_t)i * stride + skew;

		EXPECT_ENTRY(&f.r, i, regbuf ? iopbuf_regbuf_encode(0, off) :
			     (uintptr_t)(f.data + off), ent_len);
	}
	EXPECT_EQ(t_sock_queued(f.fds[0]), 0);
out:
	t_fx_fini(&f);
}

static void single_row(const void *arg)
{
	const struct row *r = arg;

	recv_single(r->kind, r->regbuf);
}

static const struct row single_rows[] = {
	{ .name = "tcp_single_user",	.kind = T_TCP },
	{ .name = "udp_single_user",	.kind = T_UDP },
	{ .name = "unix_single_user",	.kind = T_UNIX },
	{ .name = "tcp_single_regbuf",	.kind = T_TCP,	.regbuf = true },
	{ .name = "udp_single_regbuf",	.kind = T_UDP,	.regbuf = true },
	{ .name = "unix_single_regbuf",	.kind = T_UNIX,	.regbuf = true },
};

/*
 * Bids come back in ring order, not bid order (buf-ring.c: each bid used
 * once, in the order the ring offers them), across a wrap of the ring: 8
 * entries with shuffled bids, consumed one per receive, refilled in
 * another order and consumed again (head 8 .. 15 reuses slots 0 .. 7).
 */
static void bid_order(void)
{
	static const __u16 order[2][8] = {
		{ 7, 3, 5, 0, 6, 1, 4, 2 },
		{ 2, 6, 0, 4, 1, 7, 3, 5 },
	};
	const unsigned int size = 512, msg = 300;
	unsigned int round, i, n = 0;
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, 8 * size, 8, 0, 0))
		goto out;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 8; i++)
			t_ring_add_ptr(&f.r, f.data + order[round][i] * size,
				       size, order[round][i]);
		t_ring_publish(&f.r);
		for (i = 0; i < 8; i++, n++) {
			__u16 bid = order[round][i];

			if (!t_write_pat(f.fds[1], (size_t)n * msg, msg) ||
			    !fx_recv(&f, 0, 0, &c))
				goto out;
			if (!EXPECT_BUF_CQE(&c, msg, bid, 1, false) ||
			    !EXPECT_PAT(f.data + bid * size, (size_t)n * msg, msg))
				goto out;
			EXPECT_HEAD(&f.r, n + 1);
		}
		/* ring drained: the next receive has no buffer */
		if (!t_write_pat(f.fds[1], 0, 1) || !fx_recv(&f, 0, 0, &c))
			goto out;
		EXPECT_NOBUF_CQE(&c, -ENOBUFS);
		EXPECT_HEAD(&f.r, n);
		/* the byte stays queued; drain it to keep offsets simple */
		if (!EXPECT(recv(f.fds[0], f.data, 1, 0) == 1))
			goto out;
	}
out:
	t_fx_fini(&f);
}

/*
 * The command's len limits one receive. A plain ring consumes the whole
 * entry anyway (io_kbuf_commit: head += 1 whatever the byte count) and the
 * rest of the data waits in the socket for the next entry; an INC ring
 * advances the entry by the bytes received and keeps it (BUF_MORE).
 */
static void len_limit(bool inc)
{
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, T_TCP, 4, 1024, inc ? IOPBUF_RING_INC : 0, 0))
		goto out;
	if (!t_write_pat(f.fds[1], 0, 100) || !fx_recv(&f, 0, 10, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 10, 0, 1, inc);
	EXPECT_PAT(f.data, 0, 10);
	EXPECT_EQ((unsigned char)f.data[10], 0xee);
	EXPECT_EQ(t_sock_queued(f.fds[0]), 90);
	if (inc) {
		EXPECT_HEAD(&f.r, 0);
		EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data + 10, 1024 - 10);
	} else {
		EXPECT_HEAD(&f.r, 1);
		EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data, 1024);
	}
	/* the rest: into what is left of bid 0 (INC) or into bid 1 */
	if (!fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 90, inc ? 0 : 1, 1, inc);
	EXPECT_PAT(f.data + (inc ? 10 : 1024), 10, 90);
	EXPECT_HEAD(&f.r, inc ? 0 : 2);
out:
	t_fx_fini(&f);
}

static void len_limit_plain(void)	{ len_limit(false); }
static void len_limit_inc(void)		{ len_limit(true); }

/* ------------------------------------------------------------------------
 * Bundles
 */

#define BMSG	128

/* Message @seq: the stream pattern with the sequence number in front. */
static bool send_bundle_msg(int fd, unsigned int seq)
{
	unsigned char m[BMSG];

	t_pat_fill(m, (size_t)seq * BMSG, BMSG);
	memcpy(m, &seq, sizeof(seq));
	return t_write_all(fd, m, BMSG);
}

/* Message bytes [@from, @from + @len) of the stream land at @p. */
static bool check_bundle_data(const unsigned char *p, size_t from, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		size_t o = from + i;
		unsigned int seq = (unsigned int)(o / BMSG);
		unsigned char want = o % BMSG < sizeof(seq) ?
			((const unsigned char *)&seq)[o % BMSG] : t_pat(o);

		if (p[i] != want)
			return h_expect(false, __FILE__, __LINE__,
					"bundle data at stream offset %zu (msg %u): got %#x, want %#x",
					o, seq, p[i], want);
	}
	return true;
}

/*
 * recvsend_bundle.c, receive side: @nmsgs messages of 128 bytes into a
 * plain ring of 128-byte buffers with IOPBUF_RECV_BUNDLE. Each
 * completion reports the first bid it used and nbufs = ceil(res / 128),
 * the next completion starts at bid + nbufs (next_bid in the liburing
 * test), the head advances by exactly nbufs, and the data is the message
 * sequence in order. UDP delivers one datagram per receive (nbufs 1).
 */
static void recv_bundle(enum t_sock_kind kind, unsigned int nmsgs)
{
	const unsigned int entries = 64;
	size_t total = (size_t)nmsgs * BMSG, got = 0;
	unsigned int i, next_bid = 0, completions = 0;
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair(&f, kind, entries * BMSG, entries, 0, 0))
		goto out;
	t_ring_fill(&f.r, f.data, entries, BMSG, 0);
	for (i = 0; i < nmsgs; i++)
		if (!send_bundle_msg(f.fds[1], i))
			goto out;

	while (got < total && completions < nmsgs) {
		unsigned int nbufs;

		if (!fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c))
			goto out;
		completions++;
		if (!EXPECT(c.res > 0)) {
			h_note("res %s res2 %#llx", h_res(c.res),
			       (unsigned long long)c.res2);
			goto out;
		}
		nbufs = (c.res + BMSG - 1) / BMSG;
		if (!EXPECT_BUF_CQE(&c, c.res, next_bid, nbufs, false) ||
		    !check_bundle_data((unsigned char *)f.data + next_bid * BMSG,
				       got, c.res))
			goto out;
		if (kind == T_UDP)
			EXPECT_EQ(c.res, BMSG);
		next_bid += nbufs;
		got += c.res;
		EXPECT_HEAD(&f.r, next_bid);
	}
	EXPECT_EQ(got, total);
	h_note("%u messages in %u completions", nmsgs, completions);
out:
	t_fx_fini(&f);
}

static void bundle_row(const void *arg)
{
	const struct row *r = arg;

	recv_bundle(r->kind, r->n);
}

static const struct row bundle_rows[] = {
	{ .name = "tcp_bundle_4",	.kind = T_TCP,	.n = 4 },
	{ .name = "tcp_bundle_32",	.kind = T_TCP,	.n = 32 },
	{ .name = "udp_bundle_4",	.kind = T_UDP,	.n = 4 },
	{ .name = "udp_bundle_32",	.kind = T_UDP,	.n = 32 },
	{ .name = "unix_bundle_32",	.kind = T_UNIX,	.n = 32 },
};

/*
 * A bundle's byte limit (io_ring_buffers_peek): 300 bytes over 128-byte
 * entries. A plain ring cuts an entry short only when it is the first one,
 * so it takes 2 entries (256 bytes); an INC ring takes 44 bytes of the
 * third and leaves it at the head with BUF_MORE. Never more than len.
 */
static void bundle_len(bool inc)
{
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, T_TCP, 8, BMSG, inc ? IOPBUF_RING_INC : 0, 0))
		goto out;
	if (!t_write_pat(f.fds[1], 0, 1000) ||
	    !fx_recv(&f, IOPBUF_RECV_BUNDLE, 300, &c))
		goto out;
	if (inc) {
		EXPECT_BUF_CQE(&c, 300, 0, 3, true);
		EXPECT_HEAD(&f.r, 2);
		EXPECT_ENTRY(&f.r, 2, (uintptr_t)f.data + 300, BMSG - 44);
	} else {
		EXPECT_BUF_CQE(&c, 256, 0, 2, false);
		EXPECT_HEAD(&f.r, 2);
		EXPECT_ENTRY(&f.r, 2, (uintptr_t)f.data + 256, BMSG);
	}
	EXPECT_PAT(f.data, 0, c.res);
	EXPECT_EQ(t_sock_queued(f.fds[0]), 1000 - c.res);
out:
	t_fx_fini(&f);
}

static void bundle_len_plain(void)	{ bundle_len(false); }
static void bundle_len_inc(void)	{ bundle_len(true); }

/*
 * A bundle without len takes at most max_bundle_bufs (256) entries: 8 KiB
 * queued over 16-byte entries of a 512-entry ring -> 4096 bytes in 256
 * buffers, then the rest from bid 256.
 */
static void bundle_max_bufs(void)
{
	const unsigned int n = 512, size = 16;
	struct iopbuf_probe p;
	struct t_cqe c;
	struct t_fx f;

	if (!t_fx_init(&f, n * size, 0) || !EXPECT_OK(h_probe(f.dev, &p)) ||
	    !EXPECT_EQ(p.max_bundle_bufs, 256) ||
	    !t_ring_init(&f.r, f.dev, n, BGID, 0, 0) || !t_tcp_pair(f.fds))
		goto out;
	t_ring_fill(&f.r, f.data, n, size, 0);
	if (!t_write_pat(f.fds[1], 0, 8192) ||
	    !fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 256 * size, 0, 256, false);
	EXPECT_PAT(f.data, 0, 256 * size);
	EXPECT_HEAD(&f.r, 256);
	if (!fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 256 * size, 256, 256, false);
	EXPECT_PAT(f.data + 256 * size, 256 * size, 256 * size);
	EXPECT_HEAD(&f.r, 512);
out:
	t_fx_fini(&f);
}

/*
 * A bundle over registered-buffer entries from two registered buffers,
 * alternating, with slices that cross page boundaries and start at odd
 * offsets: the bio_vec import (merging physically contiguous pages, one
 * reference per buffer run) must deliver the stream in entry order.
 */
static void bundle_regbuf_pages(void)
{
	static const struct { __u32 index; __u64 off; __u32 len; } ent[] = {
		{ 0, 4096 - 64, 128 }, { 1, 2 * 4096 - 1, 2 }, { 0, 4096 + 64, 200 },
		{ 1, 0, 100 }, { 1, 100, 8000 }, { 0, 8000, 500 },
		{ 0, 3 * 4096 + 1, 4095 }, { 1, 4 * 4096 - 7, 7 },
	};
	const size_t blen = 4 * 4096;
	struct iovec iov[2];
	size_t total = 0, got = 0;
	unsigned int i;
	struct t_cqe c;
	struct t_fx f;

	if (!t_fx_init(&f, 2 * blen, 0))
		goto out;
	iov[0] = (struct iovec){ f.data, blen };
	iov[1] = (struct iovec){ f.data + blen, blen };
	if (!EXPECT_OK(h_register_iov(f.dev, iov, 2)) ||
	    !t_ring_init(&f.r, f.dev, 8, BGID, IOPBUF_RING_REGBUF, 0) ||
	    !t_tcp_pair(f.fds))
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(ent); i++) {
		t_ring_add(&f.r, iopbuf_regbuf_encode(ent[i].index, ent[i].off),
			   ent[i].len, (__u16)i);
		total += ent[i].len;
	}
	t_ring_publish(&f.r);
	if (!t_write_pat(f.fds[1], 0, total))
		goto out;
	while (got < total) {
		unsigned int first = (unsigned int)t_ring_head(&f.r), k;
		size_t at = got;

		if (!fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c) ||
		    !EXPECT(c.res > 0) || !EXPECT_EQ(t_bid(&c), first))
			goto out;
		/* walk the entries the completion covers */
		for (k = first; at < got + c.res; k++) {
			size_t take = got + c.res - at < ent[k].len ?
				      got + c.res - at : ent[k].len;

			EXPECT_PAT(f.data + ent[k].index * blen + ent[k].off,
				   at, take);
			at += take;
		}
		EXPECT_EQ(t_nbufs(&c), k - first);
		got += c.res;
	}
	EXPECT_EQ(got, total);
	EXPECT_HEAD(&f.r, H_ARRAY_SIZE(ent));
out:
	t_fx_fini(&f);
}

/*
 * recvsend_bundle-inc: one 1 MiB INC buffer, bundle receives of chunks of
 * assorted sizes. Every completion reports bid 0, one buffer and BUF_MORE
 * (the buffer is never used up), the data lands back to back, and the
 * entry itself advances: addr = base + bytes so far, len = the rest.
 */
static void bundle_inc_1mib(void)
{
	static const unsigned int chunks[] = {
		4096, 1, 32768, 333, 12345, 30000, 777, 8192, 1, 2, 3,
		16384, 29999, 4095, 128, 32768,
	};
	const unsigned int size = 1 << 20;
	size_t got = 0, sent = 0;
	unsigned int i, completions = 0;
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, size, 1, IOPBUF_RING_INC, 0))
		goto out;
	t_ring_fill(&f.r, f.data, 1, size, 0);
	for (i = 0; i < H_ARRAY_SIZE(chunks); i++) {
		if (!t_write_pat(f.fds[1], sent, chunks[i]))
			goto out;
		sent += chunks[i];
		while (got < sent) {
			if (!fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c))
				goto out;
			completions++;
			if (!EXPECT(c.res > 0) ||
			    !EXPECT_BUF_CQE(&c, c.res, 0, 1, true) ||
			    !EXPECT_PAT(f.data + got, got, c.res))
				goto out;
			got += c.res;
			EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data + got, size - got);
		}
	}
	EXPECT_EQ(got, sent);
	EXPECT_HEAD(&f.r, 0);
	EXPECT_EQ((unsigned char)f.data[got], 0xee);
	h_note("%zu bytes in %u completions", got, completions);
out:
	t_fx_fini(&f);
}

/*
 * recv-inc-ooo (#1432) and recv-bundle-short-ooo (#1409): 2 KiB sent in
 * chunks of 512, 333, 777 and 426 bytes into 4 x 1 KiB buffers, with two
 * bundle receives always waiting on the socket. However completions are
 * ordered, the buffers hold the stream in ring order: with INC the 4 KiB
 * area holds the stream back to back; without it each completion fills
 * whole buffers from its bid, and concatenating the completions in bid
 * order gives the stream.
 */
static void recv_ooo(bool inc)
{
	static const unsigned int chunks[] = { 512, 333, 777, 426 };
	struct { int res; __u16 bid, nbufs; } done[16];
	unsigned int i, ndone = 0, waiting = 0;
	size_t sent = 0, got = 0;
	__u64 ud = 1;
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, T_TCP, 4, 1024, inc ? IOPBUF_RING_INC : 0, 0))
		goto out;

	for (i = 0; i < H_ARRAY_SIZE(chunks); i++) {
		while (waiting < 2) {
			if (!fx_start_recv(&f, f.fds[0], IOPBUF_RECV_BUNDLE, 0, ud++))
				goto out;
			waiting++;
		}
		if (!t_write_pat(f.fds[1], sent, chunks[i]))
			goto out;
		sent += chunks[i];
		while (got < sent) {
			if (!t_wait(&f.uring, &c))
				goto out;
			waiting--;
			/*
			 * Both receives wake for a chunk; without INC the one
			 * that runs second may find the 4 buffers used up.
			 */
			if (c.res == -ENOBUFS && !inc &&
			    t_ring_head(&f.r) == 4) {
				EXPECT_NOBUF_CQE(&c, -ENOBUFS);
				continue;
			}
			if (!EXPECT(c.res > 0) || !EXPECT(t_has_buffer(&c)) ||
			    !EXPECT(ndone < H_ARRAY_SIZE(done))) {
				h_note("res %s res2 %#llx", h_res(c.res),
				       (unsigned long long)c.res2);
				goto out;
			}
			done[ndone].res = c.res;
			done[ndone].bid = t_bid(&c);
			done[ndone].nbufs = t_nbufs(&c);
			ndone++;
			got += c.res;
			/* each chunk fits what is left: never more than one chunk */
			EXPECT(got <= sent);
		}
	}
	if (inc) {
		/* in ring order the entries are contiguous memory */
		EXPECT_PAT(f.data, 0, sent);
	} else {
		size_t off = 0;
		unsigned int bid;

		/* completions sorted by bid; each chunk went to one buffer */
		for (bid = 0; bid < 4; bid++) {
			for (i = 0; i < ndone && done[i].bid != bid; i++)
				;
			if (!h_expect(i < ndone, __FILE__, __LINE__,
				      "no completion used bid %u", bid))
				break;
			EXPECT_EQ(done[i].nbufs, 1);
			EXPECT_PAT(f.data + bid * 1024, off, done[i].res);
			off += done[i].res;
		}
		EXPECT_EQ(off, sent);
		EXPECT_HEAD(&f.r, 4);
	}
	/*
	 * The receives still waiting end at EOF without a buffer, or, once
	 * a plain ring is used up, with -ENOBUFS (buffer selection comes
	 * before the receive, as in io_recv).
	 */
	shutdown(f.fds[1], SHUT_WR);
	while (waiting) {
		if (!t_wait(&f.uring, &c))
			goto out;
		waiting--;
		EXPECT_NOBUF_CQE(&c, inc ? 0 : -ENOBUFS);
	}
out:
	t_fx_fini(&f);
}

static void ooo_plain(void)	{ recv_ooo(false); }
static void ooo_inc(void)	{ recv_ooo(true); }

/* ------------------------------------------------------------------------
 * Incremental consumption
 */

/*
 * recvmsg-inc-tail (#1433): min_left = 32, 4 x 1 KiB INC buffers. The
 * liburing test sends 2 x 480 then 7 x 305 bytes through recvmsg, whose
 * 32-byte header (io_uring_recvmsg_out + sockaddr_in) shares the buffer:
 * 512 and 337 bytes per message. This module's receive has no header, so
 * the messages carry those 512 and 337 bytes themselves. Two messages use
 * up bid 0 exactly (head++ the normal way); three 337-byte messages leave
 * a 13-byte tail, fewer than min_left, so the third retires the entry
 * (len 0, no BUF_MORE) and the next message goes to the next one: bids
 * { 0, 0, 1, 1, 1, 2, 2, 2, 3 }, never -EFAULT.
 */
static void inc_tail_min_left(void)
{
	static const unsigned int sizes[9] = {
		512, 512, 337, 337, 337, 337, 337, 337, 337,
	};
	static const __u16 bids[9] = { 0, 0, 1, 1, 1, 2, 2, 2, 3 };
	static const bool more[9] = { 1, 0, 1, 1, 0, 1, 1, 0, 1 };
	size_t used[4] = { 0 }, sent = 0;
	unsigned int i, head = 0;
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, T_TCP, 4, 1024, IOPBUF_RING_INC, 32))
		goto out;
	for (i = 0; i < 9; i++) {
		__u16 bid = bids[i];

		if (!t_write_pat(f.fds[1], sent, sizes[i]) ||
		    !fx_recv(&f, 0, 0, &c))
			goto out;
		if (!EXPECT_BUF_CQE(&c, sizes[i], bid, 1, more[i]) ||
		    !EXPECT_PAT(f.data + bid * 1024 + used[bid], sent, sizes[i]))
			goto out;
		used[bid] += sizes[i];
		sent += sizes[i];
		head += !more[i];
		EXPECT_HEAD(&f.r, head);
		/* a partly used entry advances; a retired one has len 0 */
		EXPECT_ENTRY(&f.r, bid, (uintptr_t)f.data + bid * 1024 +
			     (more[i] ? used[bid] : used[bid] - sizes[i]),
			     more[i] ? 1024 - used[bid] : 0);
	}
out:
	t_fx_fini(&f);
}

/*
 * io_kbuf_inc_commit: an entry stays while at least min_left bytes remain
 * ("blen > min_left - 1"). With min_left 1 a remainder of exactly one
 * byte stays (BUF_MORE) and the next receive gets exactly that byte and
 * retires the entry; with min_left 2 the same one-byte tail is retired at
 * once, and the next receive starts in the next entry.
 */
static void inc_remainder(unsigned int min_left)
{
	bool keep = min_left <= 1;
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, T_TCP, 2, 1024, IOPBUF_RING_INC, min_left))
		goto out;
	if (!t_write_pat(f.fds[1], 0, 1023) || !fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 1023, 0, 1, keep);
	EXPECT_HEAD(&f.r, keep ? 0 : 1);
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data + (keep ? 1023 : 0),
		     keep ? 1 : 0);
	if (!t_write_pat(f.fds[1], 1023, 10) || !fx_recv(&f, 0, 0, &c))
		goto out;
	if (keep) {
		/* exactly the one byte left; the entry retires */
		EXPECT_BUF_CQE(&c, 1, 0, 1, false);
		EXPECT_PAT(f.data + 1023, 1023, 1);
		EXPECT_HEAD(&f.r, 1);
		EXPECT_EQ(t_ring_entry(&f.r, 0)->len, 0);
		if (!fx_recv(&f, 0, 0, &c))
			goto out;
		EXPECT_BUF_CQE(&c, 9, 1, 1, true);
		EXPECT_PAT(f.data + 1024, 1024, 9);
	} else {
		EXPECT_BUF_CQE(&c, 10, 1, 1, true);
		EXPECT_PAT(f.data + 1024, 1023, 10);
		/* the retired tail was never written */
		EXPECT_EQ((unsigned char)f.data[1023], 0xee);
	}
	EXPECT_HEAD(&f.r, 1);
out:
	t_fx_fini(&f);
}

static void inc_one_byte_remainder(void)	{ inc_remainder(1); }
static void inc_min_left_2_retires(void)	{ inc_remainder(2); }

/*
 * INC on a ring of registered-buffer encodings: a partial receive must
 * leave an entry that still names the rest of the slice, i.e. the
 * encoding's offset advances by the bytes received and its index stays
 * (iopbuf_regbuf_encode(0, off + n)), and the next receive lands right
 * after the first one in the registered buffer.
 */
static void regbuf_inc(void)
{
	const size_t off = 4096;
	struct t_cqe c;
	struct t_fx f;

	if (!t_fx_init(&f, 4 * 4096, 0) || !fx_regbuf(&f) ||
	    !t_ring_init(&f.r, f.dev, 2, BGID,
			 IOPBUF_RING_REGBUF | IOPBUF_RING_INC, 0) ||
	    !t_tcp_pair(f.fds))
		goto out;
	t_ring_add(&f.r, iopbuf_regbuf_encode(0, off), 8192, 3);
	t_ring_publish(&f.r);
	if (!t_write_pat(f.fds[1], 0, 100) || !fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 100, 3, 1, true);
	EXPECT_PAT(f.data + off, 0, 100);
	EXPECT_HEAD(&f.r, 0);
	if (!EXPECT_ENTRY(&f.r, 0, iopbuf_regbuf_encode(0, off + 100), 8192 - 100)) {
		__u64 a = t_ring_entry(&f.r, 0)->addr;

		h_note("entry 0 now names index %u offset %llu",
		       iopbuf_regbuf_index(a),
		       (unsigned long long)iopbuf_regbuf_offset(a));
	}
	if (!t_write_pat(f.fds[1], 100, 50) || !fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 50, 3, 1, true);
	EXPECT_PAT(f.data + off + 100, 100, 50);
out:
	t_fx_fini(&f);
}

/*
 * Issue 13 item 6: a zero-length entry inside the range an INC bundle
 * consumed. Entries { bid 0: 100 bytes, bid 1: 0 bytes, bid 2: 100,
 * bid 3: 100 }, 1 KiB apart; 150 bytes queued; a bundle without limit.
 * The data goes to entry 0 (100 bytes) and entry 2 (50); the ring ends as
 * upstream's io_kbuf_inc_commit() leaves it: entry 0 retired (len 0), the
 * head stopped on the empty entry 1, entries 2 and 3 untouched. The
 * completion counts the entries the data went into: bid 0, 3 entries,
 * BUF_MORE (entry 2 holds data but stays in the ring).
 * Then, with the head on the empty entry: a bundle with a byte limit fails
 * with -ENOBUFS (upstream's zero-length check); one without takes the
 * empty entry first and puts 60 new bytes into entry 2 again (upstream
 * left it in the ring): bid 1, 2 entries, BUF_MORE, nothing retired.
 */
static void inc_zero_len_inside(void)
{
	char *d;
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, 4 * 1024, 4, IOPBUF_RING_INC, 0))
		goto out;
	d = f.data;
	t_ring_add(&f.r, (uintptr_t)d, 100, 0);
	t_ring_add(&f.r, (uintptr_t)d + 1024, 0, 1);
	t_ring_add(&f.r, (uintptr_t)d + 2048, 100, 2);
	t_ring_add(&f.r, (uintptr_t)d + 3072, 100, 3);
	t_ring_publish(&f.r);
	if (!t_write_pat(f.fds[1], 0, 150) ||
	    !fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 150, 0, 3, true);
	EXPECT_PAT(d, 0, 100);
	EXPECT_PAT(d + 2048, 100, 50);
	EXPECT_EQ((unsigned char)d[1024], 0xee);
	EXPECT_EQ((unsigned char)d[2048 + 50], 0xee);
	EXPECT_HEAD(&f.r, 1);
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)d, 0);
	EXPECT_ENTRY(&f.r, 1, (uintptr_t)d + 1024, 0);
	EXPECT_ENTRY(&f.r, 2, (uintptr_t)d + 2048, 100);
	EXPECT_ENTRY(&f.r, 3, (uintptr_t)d + 3072, 100);

	if (!t_write_pat(f.fds[1], 150, 60) ||
	    !fx_recv(&f, IOPBUF_RECV_BUNDLE, 1000, &c))
		goto out;
	EXPECT_NOBUF_CQE(&c, -ENOBUFS);
	EXPECT_EQ(t_sock_queued(f.fds[0]), 60);
	if (!fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 60, 1, 2, true);
	EXPECT_PAT(d + 2048, 150, 60);
	EXPECT_EQ((unsigned char)d[1024], 0xee);
	EXPECT_EQ((unsigned char)d[3072], 0xee);
	EXPECT_HEAD(&f.r, 1);
	EXPECT_ENTRY(&f.r, 1, (uintptr_t)d + 1024, 0);
	EXPECT_ENTRY(&f.r, 2, (uintptr_t)d + 2048, 100);
	EXPECT_ENTRY(&f.r, 3, (uintptr_t)d + 3072, 100);
out:
	t_fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * Waiting, empty rings, EOF, sharing
 */

/*
 * -EAGAIN never reaches the application (io_uring's poll-driven retry): a
 * receive submitted before any data waits, with the ring untouched (head
 * and entry unchanged, no BUF_MORE rewrite), and completes once the data
 * is sent. On an INC ring the entry is advanced only then.
 */
static void waits_for_data(enum t_sock_kind kind, bool inc, bool nonblock)
{
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair(&f, kind, 2 * 1024, 2, inc ? IOPBUF_RING_INC : 0, 0))
		goto out;
	if (nonblock &&
	    !EXPECT(fcntl(f.fds[0], F_SETFL, O_NONBLOCK) == 0))
		goto out;
	t_ring_fill(&f.r, f.data, 2, 1024, 5);
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 7) || !t_no_cqe(&f.uring))
		goto out;
	EXPECT_EQ(t_ctx_inflight(f.dev), 1);
	EXPECT_HEAD(&f.r, 0);
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data, 1024);
	EXPECT_EQ((unsigned char)f.data[0], 0xee);
	if (!t_write_pat(f.fds[1], 0, 300) || !t_wait(&f.uring, &c))
		goto out;
	EXPECT_EQ(c.user_data, 7);
	EXPECT_BUF_CQE(&c, 300, 5, 1, inc);
	EXPECT_PAT(f.data, 0, 300);
	EXPECT_HEAD(&f.r, inc ? 0 : 1);
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
out:
	t_fx_fini(&f);
}

static void waits_row(const void *arg)
{
	const struct row *r = arg;

	waits_for_data(r->kind, r->inc, r->nonblock);
}

static const struct row waits_rows[] = {
	{ .name = "tcp_waits",		.kind = T_TCP },
	{ .name = "tcp_waits_inc",	.kind = T_TCP,	.inc = true },
	{ .name = "udp_waits",		.kind = T_UDP },
	{ .name = "unix_waits_inc",	.kind = T_UNIX,	.inc = true },
	/* O_NONBLOCK on the socket changes nothing: still no -EAGAIN */
	{ .name = "tcp_nonblock_waits",	.kind = T_TCP,	.nonblock = true },
};

/*
 * recv-bundle-buf-len: a bundle receive that has to wait must not shrink
 * bufs[0].len in the ring (the truncated length is never written back),
 * and with len = 32 on a 4 KiB buffer it returns 32 bytes in bid 0; the
 * rest of the data stays in the socket.
 */
static void bundle_waits_buf_len(void)
{
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, T_TCP, 2, 4096, 0, 0))
		goto out;
	if (!fx_start_recv(&f, f.fds[0], IOPBUF_RECV_BUNDLE, 32, 1) ||
	    !t_no_cqe(&f.uring))
		goto out;
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data, 4096);
	EXPECT_HEAD(&f.r, 0);
	if (!t_write_pat(f.fds[1], 0, 4096) || !t_wait(&f.uring, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 32, 0, 1, false);
	EXPECT_PAT(f.data, 0, 32);
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data, 4096);
	EXPECT_HEAD(&f.r, 1);
	EXPECT_EQ(t_sock_queued(f.fds[0]), 4096 - 32);
out:
	t_fx_fini(&f);
}

/*
 * An empty ring fails the receive with -ENOBUFS at once (io_recv's
 * buffer select fails before any receive), with or without data queued,
 * single or bundle, and consumes neither ring entries nor socket data.
 * The same holds once a ring has been used up (head == tail).
 */
static void empty_ring_enobufs(void)
{
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, 4096, 4, 0, 0))
		goto out;
	/* nothing queued: no waiting either */
	if (!fx_recv_nobuf(&f, 0, -ENOBUFS))
		goto out;
	if (!t_write_pat(f.fds[1], 0, 200))
		goto out;
	if (!fx_recv_nobuf(&f, 0, -ENOBUFS) ||
	    !fx_recv_nobuf(&f, IOPBUF_RECV_BUNDLE, -ENOBUFS))
		goto out;
	EXPECT_HEAD(&f.r, 0);
	EXPECT_EQ(t_sock_queued(f.fds[0]), 200);
	/* one entry: used, then the ring is empty again */
	t_ring_fill(&f.r, f.data, 1, 100, 9);
	if (!fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 100, 9, 1, false);
	if (!fx_recv_nobuf(&f, 0, -ENOBUFS))
		goto out;
	EXPECT_HEAD(&f.r, 1);
	EXPECT_EQ(t_sock_queued(f.fds[0]), 100);
out:
	t_fx_fini(&f);
}

/*
 * Socket EOF (peer shutdown): io_recv returning 0 recycles the buffer, so
 * the completion has res 0, no IOPBUF_CQE_F_BUFFER and res2 0, and the
 * ring is untouched (plain: head stays; INC: the entry keeps its addr and
 * len). A receive already waiting when the peer shuts down ends the same.
 */
static void socket_eof(enum t_sock_kind kind, bool inc)
{
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, kind, 2, 1024, inc ? IOPBUF_RING_INC : 0, 0))
		goto out;
	/* a waiting receive woken by the shutdown */
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 1) || !t_no_cqe(&f.uring))
		goto out;
	if (!EXPECT(shutdown(f.fds[1], SHUT_WR) == 0) || !t_wait(&f.uring, &c))
		goto out;
	EXPECT_NOBUF_CQE(&c, 0);
	EXPECT_HEAD(&f.r, 0);
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data, 1024);
	/* and again, now that EOF is already there; bundles too */
	if (!fx_recv_nobuf(&f, 0, 0) ||
	    !fx_recv_nobuf(&f, IOPBUF_RECV_BUNDLE, 0))
		goto out;
	EXPECT_HEAD(&f.r, 0);
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data, 1024);
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
out:
	t_fx_fini(&f);
}

static void eof_row(const void *arg)
{
	const struct row *r = arg;

	socket_eof(r->kind, r->inc);
}

static const struct row eof_rows[] = {
	{ .name = "tcp_eof",		.kind = T_TCP },
	{ .name = "tcp_eof_inc",	.kind = T_TCP,	.inc = true },
	{ .name = "unix_eof",		.kind = T_UNIX },
};

/*
 * A connection reset (the peer closes with SO_LINGER 0) wakes a waiting
 * receive, which fails with -ECONNRESET and consumes nothing.
 */
static void tcp_reset(void)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, 1024, 1, 0, 0))
		goto out;
	t_ring_fill(&f.r, f.data, 1, 1024, 0);
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 1) || !t_no_cqe(&f.uring))
		goto out;
	if (!EXPECT(setsockopt(f.fds[1], SOL_SOCKET, SO_LINGER, &lg,
			       sizeof(lg)) == 0))
		goto out;
	h_close(&f.fds[1]);
	if (!fx_wait_nobuf(&f, -ECONNRESET))
		goto out;
	EXPECT_HEAD(&f.r, 0);
	EXPECT_EQ((unsigned char)f.data[0], 0xee);
out:
	t_fx_fini(&f);
}

/*
 * Data received before EOF still arrives in full, then EOF: 100 bytes and
 * a shutdown give (100, bid 0) then (0, no buffer).
 */
static void tcp_data_then_eof(void)
{
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, T_TCP, 2, 1024, 0, 0))
		goto out;
	if (!t_write_pat(f.fds[1], 0, 100) ||
	    !EXPECT(shutdown(f.fds[1], SHUT_WR) == 0) || !fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 100, 0, 1, false);
	EXPECT_PAT(f.data, 0, 100);
	if (!fx_recv_nobuf(&f, 0, 0))
		goto out;
	EXPECT_HEAD(&f.r, 1);
out:
	t_fx_fini(&f);
}

/*
 * Two sockets sharing one buffer group never see each other's data
 * (41b70df5b38b "commit partial buffers on retry"): with a receive
 * waiting on each, both peers send; each completion's buffer holds its
 * own socket's bytes, the two use different bids, and the head advances
 * by one per receive. Four rounds.
 */
static void shared_group(void)
{
	const size_t base_b = 1 << 20;	/* stream offset of socket B's data */
	int b[2] = { -1, -1 };
	unsigned int round;
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, 8 * 1024, 8, 0, 0) || !t_tcp_pair(b))
		goto out;
	t_ring_fill(&f.r, f.data, 8, 1024, 0);
	for (round = 0; round < 4; round++) {
		size_t len_a = 700 + round, len_b = 900 - round;
		int seen = 0, k;
		__u16 bids[2];

		if (!fx_start_recv(&f, f.fds[0], 0, 0, 0xa) ||
		    !fx_start_recv(&f, b[0], 0, 0, 0xb) || !t_no_cqe(&f.uring))
			goto out;
		if (!t_write_pat(f.fds[1], round * 1000, len_a) ||
		    !t_write_pat(b[1], base_b + round * 1000, len_b))
			goto out;
		for (k = 0; k < 2; k++) {
			bool is_a;

			if (!t_wait(&f.uring, &c))
				goto out;
			is_a = c.user_data == 0xa;
			seen |= is_a ? 1 : 2;
			if (!EXPECT_BUF_CQE(&c, is_a ? len_a : len_b, t_bid(&c), 1,
					    false) ||
			    !EXPECT(t_bid(&c) < 8))
				goto out;
			bids[k] = t_bid(&c);
			EXPECT_PAT(f.data + bids[k] * 1024,
				   (is_a ? 0 : base_b) + round * 1000,
				   is_a ? len_a : len_b);
		}
		EXPECT_EQ(seen, 3);
		EXPECT(bids[0] != bids[1]);
		EXPECT_HEAD(&f.r, 2 * (round + 1));
	}
out:
	t_close2(b);
	t_fx_fini(&f);
}

/*
 * recv-inc-ooo runs under DEFER_TASKRUN, SQPOLL and COOP_TASKRUN: issue,
 * waiting, retry from task work and completion must work however
 * io_uring issues SQEs and runs task work. With each: a receive waiting
 * for data, then one finding data queued, both landing back to back in
 * one INC buffer; then a waiting receive cancelled.
 */
static void setup_flags(unsigned int flags)
{
	struct t_cqe c;
	struct t_fx f;

	if (!t_fx_init(&f, 4 * 1024, flags) ||
	    !t_ring_init(&f.r, f.dev, 4, BGID, IOPBUF_RING_INC, 0) ||
	    !t_tcp_pair(f.fds))
		goto out;
	t_ring_fill(&f.r, f.data, 4, 1024, 0);
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 1) || !t_no_cqe(&f.uring) ||
	    !t_write_pat(f.fds[1], 0, 512) || !t_wait(&f.uring, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 512, 0, 1, true);
	EXPECT_PAT(f.data, 0, 512);
	if (!t_write_pat(f.fds[1], 512, 333) ||
	    !fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 333, 0, 1, true);
	EXPECT_PAT(f.data + 512, 512, 333);
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data + 845, 1024 - 845);
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 2) || !t_no_cqe(&f.uring))
		goto out;
	EXPECT_EQ(cancel_all(f.dev), 1);
	if (!fx_wait_nobuf(&f, -ECANCELED))
		goto out;
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
out:
	t_fx_fini(&f);
}

static void setup_defer_taskrun(void)
{
	setup_flags(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
}

static void setup_sqpoll(void)		{ setup_flags(IORING_SETUP_SQPOLL); }
static void setup_coop_taskrun(void)	{ setup_flags(IORING_SETUP_COOP_TASKRUN); }

/* ------------------------------------------------------------------------
 * Cancelation and exit
 */

/*
 * IOPBUF_IOC_CANCEL completes a waiting receive with -ECANCELED and no
 * buffer; it reports how many it cancelled, the context's and the
 * module's inflight counters return to 0 and the ring is untouched, so
 * data sent afterwards goes to the same entry. With nothing waiting it
 * cancels nothing.
 */
static void cancel_waiting(void)
{
	long base = h_sysfs_read("inflight");
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair_filled(&f, T_TCP, 2, 1024, 0, 0))
		goto out;
	EXPECT_EQ(cancel_all(f.dev), 0);
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 1) || !t_no_cqe(&f.uring))
		goto out;
	EXPECT_EQ(t_ctx_inflight(f.dev), 1);
	EXPECT_EQ(h_sysfs_read("inflight"), base + 1);
	EXPECT_EQ(cancel_all(f.dev), 1);
	if (!fx_wait_nobuf(&f, -ECANCELED))
		goto out;
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
	t_global_inflight_is(base);
	EXPECT_HEAD(&f.r, 0);
	EXPECT_EQ(cancel_all(f.dev), 0);
	/* nothing was consumed: the next receive uses bid 0 */
	if (!t_write_pat(f.fds[1], 0, 64) || !fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 64, 0, 1, false);
	EXPECT_PAT(f.data, 0, 64);
	/* two waiting (one a bundle): both cancelled, counted */
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 2) ||
	    !fx_start_recv(&f, f.fds[0], IOPBUF_RECV_BUNDLE, 0, 3) ||
	    !t_no_cqe(&f.uring))
		goto out;
	EXPECT_EQ(t_ctx_inflight(f.dev), 2);
	EXPECT_EQ(cancel_all(f.dev), 2);
	if (!fx_wait_nobuf(&f, -ECANCELED) || !fx_wait_nobuf(&f, -ECANCELED))
		goto out;
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
	EXPECT_HEAD(&f.r, 1);
out:
	t_fx_fini(&f);
}

/*
 * Closing the io_uring instance with a waiting receive, after
 * IOPBUF_IOC_CANCEL (allowed on any kernel): the ring exits,
 * the counters return to 0, the provided-buffer ring is untouched and
 * the socket data sent afterwards is still there.
 */
static void ring_close_after_cancel(void)
{
	long base = h_sysfs_read("inflight");
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, 1024, 1, 0, 0))
		goto out;
	t_ring_fill(&f.r, f.data, 1, 1024, 0);
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 1) || !t_no_cqe(&f.uring))
		goto out;
	EXPECT_EQ(cancel_all(f.dev), 1);
	io_uring_queue_exit(&f.uring);
	f.have_uring = false;
	t_global_inflight_is(base);
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
	EXPECT_HEAD(&f.r, 0);
	if (!t_write_pat(f.fds[1], 0, 10))
		goto out;
	EXPECT_EQ(t_sock_queued(f.fds[0]), 10);
	EXPECT_EQ((unsigned char)f.data[0], 0xee);
out:
	t_fx_fini(&f);
}

/*
 * Closing the ring with a waiting receive and no IOPBUF_IOC_CANCEL must not
 * leave it in flight: from 6.7 io_uring asks cancelable uring_cmds to
 * cancel (io_uring_try_cancel_uring_cmd); before, the module's exit
 * monitor sees the ring's references dying. Both with io_uring's task work
 * and with DEFER_TASKRUN, whose work only the (now absent) submitter runs.
 */
static void ring_close_cancels_flags(unsigned int flags)
{
	long base = h_sysfs_read("inflight");
	struct t_fx f;

	if (!t_fx_init(&f, 1024, flags) ||
	    !t_ring_init(&f.r, f.dev, 1, BGID, 0, 0) || !t_tcp_pair(f.fds))
		goto out;
	t_ring_fill(&f.r, f.data, 1, 1024, 0);
	if (!fx_start_recv(&f, f.fds[0], 0, 0, 1) || !t_no_cqe(&f.uring))
		goto out;
	io_uring_queue_exit(&f.uring);
	f.have_uring = false;
	t_global_inflight_is(base);
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
	EXPECT_HEAD(&f.r, 0);
	/* the receive is gone: data sent now stays in the socket */
	if (!t_write_pat(f.fds[1], 0, 10))
		goto out;
	EXPECT_EQ(t_sock_queued(f.fds[0]), 10);
out:
	t_fx_fini(&f);
}

static void ring_close_cancels(void)
{
	ring_close_cancels_flags(0);
}

static void ring_close_cancels_defer(void)
{
	ring_close_cancels_flags(IORING_SETUP_SINGLE_ISSUER |
				 IORING_SETUP_DEFER_TASKRUN);
}

/* The child of sigkill_child: a receive that waits forever. */
static bool waiting_child(void *arg)
{
	struct t_cmd cmd = {
		.op = IOPBUF_CMD_RECV, .fd = *(const int *)arg, .bgid = BGID,
	};
	struct t_fx f;

	if (!t_fx_init(&f, 4096, 0) || !t_ring_init(&f.r, f.dev, 1, BGID, 0, 0))
		return false;
	t_ring_fill(&f.r, f.data, 1, 4096, 0);
	return t_start(&f.uring, f.dev, &cmd, 1);
}

/*
 * A waiting receive in a process killed with SIGKILL: the process exits
 * (within the hang guard; io_uring cancels on task exit from 6.7, the
 * module's exit monitor on 6.1) and the module-wide inflight counter
 * returns to where it was.
 */
static void sigkill_child(void)
{
	long base = h_sysfs_read("inflight");
	int fds[2] = { -1, -1 };
	pid_t pid;

	if (!t_tcp_pair(fds))
		goto out;
	pid = t_fork_ready(waiting_child, &fds[0]);
	if (pid < 0)
		goto out;
	EXPECT_EQ(h_sysfs_read("inflight"), base + 1);
	if (!t_kill_reap(pid, "a child with a waiting receive"))
		goto out;
	t_global_inflight_is(base);
	/* the socket is intact: nothing was read from it */
	if (t_write_pat(fds[1], 0, 10))
		EXPECT_EQ(t_sock_queued(fds[0]), 10);
out:
	t_close2(fds);
}

/* ------------------------------------------------------------------------
 * Errors
 */

/* Submit a receive described by @cmd and expect -@err, nothing consumed. */
static void expect_cmd_err(struct t_fx *f, const struct t_cmd *cmd, int err)
{
	struct t_cqe c;

	if (!t_do(&f->uring, f->dev, cmd, &c))
		return;
	if (!EXPECT_NOBUF_CQE(&c, -err))
		h_note("cmd op %#x fd %d bgid %u flags %#x len %u resv %u",
		       cmd->op, cmd->fd, cmd->bgid, cmd->flags, cmd->len,
		       cmd->resv);
}

/*
 * Argument errors, each with the ring untouched and the socket's data
 * still queued: a file that is not a socket -> -ENOTSOCK; a closed or
 * negative fd -> -EBADF; an unknown bgid -> -ENOENT; unknown flags or a
 * non-zero reserved field -> -EINVAL.
 */
static void err_args(void)
{
	struct t_cmd cmd = { .op = IOPBUF_CMD_RECV, .bgid = BGID };
	int p[2] = { -1, -1 }, file = -1;
	static const __u16 bad_flags[] = { 1 << 1, 1 << 7, 1 << 15 };
	unsigned int i;
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, 1024, 2, 0, 0) || !t_pipe(p))
		goto out;
	t_ring_fill(&f.r, f.data, 2, 512, 0);
	file = t_pat_file("recv-enotsock", 100, O_RDWR);
	if (file < 0 || !t_write_pat(f.fds[1], 0, 50) || !t_write_pat(p[1], 0, 50))
		goto out;

	cmd.fd = p[0];
	expect_cmd_err(&f, &cmd, ENOTSOCK);
	cmd.fd = file;
	expect_cmd_err(&f, &cmd, ENOTSOCK);
	cmd.fd = f.dev;
	expect_cmd_err(&f, &cmd, ENOTSOCK);
	cmd.fd = -1;
	expect_cmd_err(&f, &cmd, EBADF);
	cmd.fd = 1000;		/* not open */
	expect_cmd_err(&f, &cmd, EBADF);
	cmd.fd = f.fds[0];
	cmd.bgid = BGID + 1;
	expect_cmd_err(&f, &cmd, ENOENT);
	cmd.bgid = 0xffff;
	expect_cmd_err(&f, &cmd, ENOENT);
	cmd.bgid = BGID;
	for (i = 0; i < H_ARRAY_SIZE(bad_flags); i++) {
		cmd.flags = bad_flags[i];
		expect_cmd_err(&f, &cmd, EINVAL);
		cmd.flags = bad_flags[i] | IOPBUF_RECV_BUNDLE;
		expect_cmd_err(&f, &cmd, EINVAL);
	}
	cmd.flags = 0;
	cmd.resv = 1;
	expect_cmd_err(&f, &cmd, EINVAL);
	cmd.resv = 0x80000000u;
	expect_cmd_err(&f, &cmd, EINVAL);

	EXPECT_HEAD(&f.r, 0);
	EXPECT_EQ(t_sock_queued(f.fds[0]), 50);
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
out:
	h_close(&file);
	t_close2(p);
	t_fx_fini(&f);
}

/*
 * The buffer commands need big CQEs for res2: on a ring set up without
 * IORING_SETUP_CQE32 they fail with -EINVAL and consume nothing.
 */
static void err_no_cqe32(void)
{
	struct io_uring plain;
	struct t_cmd cmd = { .bgid = BGID };
	struct t_cqe c;
	struct t_fx f;

	if (!fx_pair(&f, T_TCP, 1024, 2, 0, 0))
		goto out;
	t_ring_fill(&f.r, f.data, 2, 512, 0);
	if (!t_uring_init(&plain, 0))
		goto out;
	if (t_write_pat(f.fds[1], 0, 50)) {
		cmd.op = IOPBUF_CMD_RECV;
		cmd.fd = f.fds[0];
		if (t_do(&plain, f.dev, &cmd, &c))
			EXPECT_EQ((long)c.res, -EINVAL);
		cmd.flags = IOPBUF_RECV_BUNDLE;
		if (t_do(&plain, f.dev, &cmd, &c))
			EXPECT_EQ((long)c.res, -EINVAL);
		cmd.op = IOPBUF_CMD_READ;
		cmd.flags = 0;
		if (t_do(&plain, f.dev, &cmd, &c))
			EXPECT_EQ((long)c.res, -EINVAL);
	}
	io_uring_queue_exit(&plain);
	EXPECT_HEAD(&f.r, 0);
	EXPECT_EQ(t_sock_queued(f.fds[0]), 50);
	EXPECT_EQ((unsigned char)f.data[0], 0xee);
out:
	t_fx_fini(&f);
}

/*
 * Registered-buffer entries are validated on every use (io_import_fixed
 * answers -EFAULT): an entry naming an empty slot, an index beyond the
 * table or a slice that does not fit its buffer fails with -EFAULT and
 * consumes nothing; after the application rewrites the head entry, the
 * same entry (same bid) is used. A slice ending exactly at the end of the
 * buffer is fine.
 */
static void err_regbuf_entries(void)
{
	const size_t len = 8192;
	struct iovec iov[2];
	struct {
		__u64 addr;
		__u32 len;
	} bad[] = {
		{ iopbuf_regbuf_encode(1, 0), 100 },		/* empty slot */
		{ iopbuf_regbuf_encode(2, 0), 100 },		/* beyond table */
		{ iopbuf_regbuf_encode(IOPBUF_REGBUF_MAX_INDEX, 0), 100 },
		{ iopbuf_regbuf_encode(0, len - 99), 100 },	/* 1 byte over */
		{ iopbuf_regbuf_encode(0, len), 1 },		/* at the end */
		{ iopbuf_regbuf_encode(0, IOPBUF_REGBUF_MAX_OFFSET), 100 },
		{ iopbuf_regbuf_encode(0, 0), (__u32)len + 1 },	/* too long */
	};
	struct iopbuf_buf *head;
	unsigned int i;
	struct t_cqe c;
	struct t_fx f;

	if (!t_fx_init(&f, len, 0))
		goto out;
	iov[0] = (struct iovec){ f.data, len };
	iov[1] = (struct iovec){ NULL, 0 };
	if (!EXPECT_OK(h_register_iov(f.dev, iov, 2)) ||
	    !t_ring_init(&f.r, f.dev, 2, BGID, IOPBUF_RING_REGBUF, 0) ||
	    !t_tcp_pair(f.fds))
		goto out;
	t_ring_add(&f.r, 0, 0, 42);
	t_ring_publish(&f.r);
	head = t_ring_entry(&f.r, 0);
	if (!t_write_pat(f.fds[1], 0, 100))
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(bad); i++) {
		head->addr = bad[i].addr;
		head->len = bad[i].len;
		if (!fx_recv(&f, 0, 0, &c))
			goto out;
		if (!EXPECT_NOBUF_CQE(&c, -EFAULT))
			h_note("entry %u: index %u offset %llu len %u", i,
			       iopbuf_regbuf_index(bad[i].addr),
			       (unsigned long long)iopbuf_regbuf_offset(bad[i].addr),
			       bad[i].len);
		if (!fx_recv(&f, IOPBUF_RECV_BUNDLE, 0, &c))
			goto out;
		EXPECT_NOBUF_CQE(&c, -EFAULT);
		EXPECT_HEAD(&f.r, 0);
		EXPECT_EQ(t_sock_queued(f.fds[0]), 100);
	}
	/* the last 100 bytes of the buffer: valid */
	head->addr = iopbuf_regbuf_encode(0, len - 100);
	head->len = 100;
	if (!fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 100, 42, 1, false);
	EXPECT_PAT(f.data + len - 100, 0, 100);
	EXPECT_HEAD(&f.r, 1);
out:
	t_fx_fini(&f);
}

/*
 * User-address entries the kernel cannot write to fail with -EFAULT, the
 * data stays queued on the stream socket and the ring is untouched:
 * nothing mapped there, a read-only page, a kernel address.
 */
static void err_user_unmapped(void)
{
	char *ro = mmap(NULL, H_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	const __u64 addrs[] = {
		(uintptr_t)h_hole(H_PAGE), (uintptr_t)ro,
		0xffff888000000000ULL,
	};
	struct iopbuf_buf *head;
	unsigned int i;
	struct t_cqe c;
	struct t_fx f;

	if (!EXPECT(ro != MAP_FAILED) || !addrs[0] || !fx_pair(&f, T_TCP, 4096, 2, 0, 0))
		goto out;
	t_ring_add(&f.r, 0, 0, 5);
	t_ring_publish(&f.r);
	head = t_ring_entry(&f.r, 0);
	if (!t_write_pat(f.fds[1], 0, 100))
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(addrs); i++) {
		head->addr = addrs[i];
		head->len = 1024;
		if (!fx_recv(&f, 0, 0, &c))
			goto out;
		if (!EXPECT_NOBUF_CQE(&c, -EFAULT))
			h_note("entry addr %#llx", (unsigned long long)addrs[i]);
		EXPECT_HEAD(&f.r, 0);
		EXPECT_EQ(t_sock_queued(f.fds[0]), 100);
	}
	head->addr = (uintptr_t)f.data;
	if (!fx_recv(&f, 0, 0, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 100, 5, 1, false);
	EXPECT_PAT(f.data, 0, 100);
out:
	t_fx_fini(&f);
	h_munmap(ro, H_PAGE);
}

int main(void)
{
	h_init("recv");
	signal(SIGPIPE, SIG_IGN);

	RUN_ROWS(single_row, single_rows);
	RUN(bid_order);
	RUN(len_limit_plain);
	RUN(len_limit_inc);

	RUN_ROWS(bundle_row, bundle_rows);
	RUN(bundle_inc_1mib);
	RUN(bundle_len_plain);
	RUN(bundle_len_inc);
	RUN(bundle_max_bufs);
	RUN(bundle_regbuf_pages);
	RUN(ooo_plain);
	RUN(ooo_inc);

	RUN(inc_tail_min_left);
	RUN(inc_one_byte_remainder);
	RUN(inc_min_left_2_retires);
	RUN(regbuf_inc);
	RUN(inc_zero_len_inside);

	RUN_ROWS(waits_row, waits_rows);
	RUN(bundle_waits_buf_len);
	RUN(empty_ring_enobufs);
	RUN_ROWS(eof_row, eof_rows);
	RUN(tcp_data_then_eof);
	RUN(tcp_reset);
	RUN(shared_group);

	RUN(setup_defer_taskrun);
	RUN(setup_sqpoll);
	RUN(setup_coop_taskrun);

	RUN(cancel_waiting);
	RUN(ring_close_after_cancel);
	RUN(ring_close_cancels);
	RUN(ring_close_cancels_defer);
	RUN(sigkill_child);

	RUN(err_args);
	RUN(err_no_cqe32);
	RUN(err_regbuf_entries);
	RUN(err_user_unmapped);

	RUN(h_case_counters_zero);
	return h_exit();
}
