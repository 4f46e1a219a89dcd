// SPDX-License-Identifier: GPL-2.0
/*
 * recv_diff: the module against the kernel's own io_uring. Every scenario
 * runs twice on fresh sockets, pipes or files with the same data and the
 * same buffer layout: once with IOPBUF_CMD_RECV / IOPBUF_CMD_READ on a
 * ring registered with the module, once with native IORING_OP_RECV /
 * IORING_OP_READ and IOSQE_BUFFER_SELECT on a ring registered with
 * IORING_REGISTER_PBUF_RING (IOU_PBUF_RING_INC for INC rings).
 *
 * Single-buffer steps must agree exactly: per step (res, buffer reported,
 * bid, BUF_MORE) and the kernel head afterwards, the bytes each step
 * delivered, and the final ring entries (addr relative to the buffer
 * area, len). Bundles (native IORING_RECVSEND_BUNDLE, 6.10+) size their
 * selections differently (upstream sizes by the socket's queued bytes),
 * so for them only what must hold whatever the sizing is checked, on
 * each side: the data arrives complete and in order, the reported bid is
 * the head entry's, and the head advances by exactly the entries used up
 * (every entry touched on a plain ring, the ones left with fewer than
 * min_left bytes on an INC ring).
 *
 * Only kernels with native INC rings (6.12+) run this; the newest kernel
 * is the reference. Debian's 6.12.117 (which carries the 2025-26 kbuf
 * backports: min_left, INC bundles, the zero-length and BUF_MORE fixes)
 * and sid's 7.2.13 behaved identically in every scenario below; where
 * the module's bundle sizing differs from native, the scenario says so.
 */
#include "util.h"
#include "uring_compat.h"

#define BGID		3
#define MAX_STEPS	32
#define MAX_ENTRIES	16

#define NAT_REGISTER_PBUF_RING		22
#define NAT_REGISTER_PBUF_STATUS	26

/* struct io_uring_buf_reg of 6.12+ (min_left where 6.1 has resv). */
struct nat_buf_reg {
	__u64	ring_addr;
	__u32	ring_entries;
	__u16	bgid;
	__u16	flags;
	__u32	min_left;
	__u32	resv[5];
};

struct nat_buf_status {
	__u32	buf_group;
	__u32	head;
	__u32	resv[8];
};

_Static_assert(sizeof(struct nat_buf_reg) == sizeof(struct io_uring_buf_reg),
	       "io_uring_buf_reg size");

static int nat_register(int ring_fd, unsigned int op, void *arg)
{
	int ret = (int)syscall(__NR_io_uring_register, ring_fd, op, arg, 1);

	return ret < 0 ? -errno : ret;
}

/* ------------------------------------------------------------------------
 * Sources of data: sockets, a pipe, a regular file
 */

/* K_TCP_READ: a TCP socket read with IOPBUF_CMD_READ / IORING_OP_READ. */
enum kind { K_TCP, K_UDP, K_UNIX, K_PIPE, K_FILE, K_TCP_READ };

static const char *const kind_name[] = {
	[K_TCP] = "tcp", [K_UDP] = "udp", [K_UNIX] = "unix",
	[K_PIPE] = "pipe", [K_FILE] = "file", [K_TCP_READ] = "tcp (read)",
};

struct chan {
	enum kind kind;
	int rfd;	/* the command's fd */
	int wfd;	/* where the data goes in (O_APPEND for files) */
};

static bool chan_is_read(const struct chan *ch)
{
	return ch->kind == K_PIPE || ch->kind == K_FILE ||
	       ch->kind == K_TCP_READ;
}

static bool chan_open(struct chan *ch, enum kind kind)
{
	int fds[2];

	ch->kind = kind;
	ch->rfd = ch->wfd = -1;
	switch (kind) {
	case K_TCP:
	case K_TCP_READ:
	case K_UDP:
	case K_UNIX:
		if (!t_sock_pair(kind == K_UDP ? T_UDP : kind == K_UNIX ?
				 T_UNIX : T_TCP, fds))
			return false;
		break;
	case K_PIPE:
		if (!t_pipe(fds))
			return false;
		break;
	case K_FILE: {
		char self[64];

		fds[0] = t_pat_file("recv-diff", 0, O_RDWR);
		if (fds[0] < 0)
			return false;
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fds[0]);
		fds[1] = open(self, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (!EXPECT(fds[1] >= 0)) {
			close(fds[0]);
			return false;
		}
		break;
	}
	}
	ch->rfd = fds[0];
	ch->wfd = fds[1];
	return true;
}

static void chan_close(struct chan *ch)
{
	h_close(&ch->rfd);
	h_close(&ch->wfd);
}

/*
 * The end of the data: a socket's peer shuts down, a pipe's writer
 * closes, UDP sends a zero-length datagram, a file just ends.
 */
static bool chan_eof(struct chan *ch)
{
	switch (ch->kind) {
	case K_TCP:
	case K_TCP_READ:
	case K_UNIX:
		return EXPECT(shutdown(ch->wfd, SHUT_WR) == 0);
	case K_UDP:
		return EXPECT(send(ch->wfd, "", 0, 0) == 0);
	case K_PIPE:
		h_close(&ch->wfd);
		return true;
	case K_FILE:
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------------
 * The two implementations behind one interface
 */

struct ring_cfg {
	bool inc;
	unsigned int min_left;
	unsigned int entries;	/* ring size, a power of two */
	unsigned int nbufs;	/* buffers added, bids 0 .. nbufs - 1 */
	unsigned int buf_size;
	bool zero_first;	/* entry 0 has len 0 */
};

struct be {
	bool native;
	const char *name;
	bool have_uring;
	struct io_uring uring;
	int dev;
	struct iopbuf_buf *ring;
	size_t ring_len;
	char *data;
	size_t data_len;
	struct ring_cfg cfg;
};

/* What one command reported, in the terms both sides share. */
struct out {
	int res;
	bool buffer;
	__u16 bid;
	bool more;
	__u16 nbufs;	/* module only */
	long head;	/* kernel head after the step */
};

static bool be_init(struct be *b, bool native, const struct ring_cfg *cfg)
{
	unsigned int i;
	int ret;

	memset(b, 0, sizeof(*b));
	b->native = native;
	b->name = native ? "native" : "module";
	b->dev = -1;
	b->cfg = *cfg;
	if (!t_uring_init(&b->uring, IORING_SETUP_CQE32))
		return false;
	b->have_uring = true;
	b->ring_len = (cfg->entries * sizeof(struct iopbuf_buf) + H_PAGE - 1) &
		      ~(H_PAGE - 1);
	b->ring = h_map(b->ring_len);
	b->data_len = (size_t)cfg->nbufs * cfg->buf_size;
	b->data = h_map(b->data_len);
	if (!b->ring || !b->data)
		return false;
	memset(b->data, 0xee, b->data_len);

	if (native) {
		struct nat_buf_reg reg = {
			.ring_addr = (uintptr_t)b->ring,
			.ring_entries = cfg->entries,
			.bgid = BGID,
			.flags = cfg->inc ? IOU_PBUF_RING_INC : 0,
			.min_left = cfg->min_left,
		};

		ret = nat_register(b->uring.ring_fd, NAT_REGISTER_PBUF_RING, &reg);
		if (ret == -EINVAL && cfg->min_left) {
			h_skip("native ring with min_left %u: -EINVAL (no min_left)",
			       cfg->min_left);
			return false;
		}
		if (!h_expect(ret == 0, __FILE__, __LINE__,
			      "IORING_REGISTER_PBUF_RING: %s", h_res(ret)))
			return false;
	} else {
		b->dev = h_open();
		if (b->dev < 0 ||
		    !EXPECT_OK(h_register_ring(b->dev, b->ring, cfg->entries, BGID,
					       cfg->inc ? IOPBUF_RING_INC : 0,
					       cfg->min_left)))
			return false;
	}
	for (i = 0; i < cfg->nbufs; i++) {
		struct iopbuf_buf *e = &b->ring[i & (cfg->entries - 1)];

		e->addr = (uintptr_t)(b->data + (size_t)i * cfg->buf_size);
		e->len = i == 0 && cfg->zero_first ? 0 : cfg->buf_size;
		e->bid = (__u16)i;
	}
	__atomic_store_n(iopbuf_ring_tail(b->ring), (__u16)cfg->nbufs,
			 __ATOMIC_RELEASE);
	return true;
}

static void be_fini(struct be *b)
{
	if (b->have_uring)
		io_uring_queue_exit(&b->uring);
	b->have_uring = false;
	h_close(&b->dev);
	h_unmap(b->ring, b->ring_len);
	h_unmap(b->data, b->data_len);
	b->ring = NULL;
	b->data = NULL;
}

static long be_head(struct be *b)
{
	if (b->native) {
		struct nat_buf_status st = { .buf_group = BGID };
		int ret = nat_register(b->uring.ring_fd,
				       NAT_REGISTER_PBUF_STATUS, &st);

		if (!h_expect(ret == 0, __FILE__, __LINE__,
			      "IORING_REGISTER_PBUF_STATUS: %s", h_res(ret)))
			return -1;
		return st.head;
	} else {
		unsigned int head = 0;

		if (!EXPECT_OK(h_ring_status(b->dev, BGID, &head)))
			return -1;
		return head;
	}
}

static struct iopbuf_buf *be_entry(const struct be *b, unsigned long idx)
{
	return &b->ring[idx & (b->cfg.entries - 1)];
}

/* One receive or read of up to @len bytes, single buffer or bundle. */
static bool be_cmd(struct be *b, const struct chan *ch, unsigned int len,
		   bool bundle, struct out *o)
{
	struct t_cqe c;

	if (b->native) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&b->uring);

		if (!EXPECT(sqe))
			return false;
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = chan_is_read(ch) ? IORING_OP_READ : IORING_OP_RECV;
		sqe->fd = ch->rfd;
		sqe->len = len;
		sqe->off = chan_is_read(ch) ? (__u64)-1 : 0;
		sqe->flags = IOSQE_BUFFER_SELECT;
		sqe->buf_group = BGID;
		sqe->ioprio = bundle ? IORING_RECVSEND_BUNDLE : 0;
		sqe->user_data = 1;
		if (!t_submit(&b->uring, 1) || !t_wait(&b->uring, &c))
			return false;
		o->buffer = c.flags & IORING_CQE_F_BUFFER;
		o->bid = o->buffer ? c.flags >> IORING_CQE_BUFFER_SHIFT : 0;
		o->more = c.flags & IORING_CQE_F_BUF_MORE;
		o->nbufs = 0;
	} else {
		struct t_cmd cmd = {
			.op = chan_is_read(ch) ? IOPBUF_CMD_READ : IOPBUF_CMD_RECV,
			.fd = ch->rfd, .bgid = BGID, .len = len,
			.flags = bundle ? IOPBUF_RECV_BUNDLE : 0,
		};

		if (!t_do(&b->uring, b->dev, &cmd, &c))
			return false;
		o->buffer = t_has_buffer(&c);
		o->bid = t_bid(&c);
		o->more = t_buf_more(&c);
		o->nbufs = t_nbufs(&c);
		EXPECT_EQ(c.res2 >> 48, 0);
		EXPECT_EQ(t_cflags(&c) & ~(IOPBUF_CQE_F_BUFFER |
					   IOPBUF_CQE_F_BUF_MORE), 0);
	}
	o->res = c.res;
	o->head = be_head(b);
	return o->head >= 0;
}

/* ------------------------------------------------------------------------
 * Where the data must land: a stream position, or UDP's datagrams
 */

struct feed {
	size_t sent;		/* stream bytes written so far */
	size_t pos;		/* stream bytes delivered so far */
	size_t msg_off[MAX_STEPS], msg_len[MAX_STEPS];
	unsigned int nmsg, next_msg;
};

static bool feed_send(struct feed *fd, const struct chan *ch, unsigned int len)
{
	if (!t_write_pat(ch->wfd, fd->sent, len))
		return false;
	if (ch->kind == K_UDP && fd->nmsg < MAX_STEPS) {
		fd->msg_off[fd->nmsg] = fd->sent;
		fd->msg_len[fd->nmsg++] = len;
	}
	fd->sent += len;
	return true;
}

static void feed_eof(struct feed *fd, const struct chan *ch)
{
	if (ch->kind == K_UDP && fd->nmsg < MAX_STEPS) {
		fd->msg_off[fd->nmsg] = fd->sent;
		fd->msg_len[fd->nmsg++] = 0;
	}
}

/*
 * @res bytes delivered at @p: the next bytes of the stream, or the start
 * of the next datagram (the rest of a truncated datagram is dropped).
 */
static bool feed_check(struct feed *fd, const struct chan *ch, const char *p,
		       int res)
{
	bool ok;

	if (ch->kind == K_UDP) {
		unsigned int m = fd->next_msg++;

		if (!h_expect(m < fd->nmsg, __FILE__, __LINE__,
			      "a receive with no datagram sent"))
			return false;
		ok = EXPECT(res >= 0 && (size_t)res <= fd->msg_len[m]);
		return ok && EXPECT_PAT(p, fd->msg_off[m], res);
	}
	ok = EXPECT_PAT(p, fd->pos, res);
	fd->pos += res;
	return ok;
}

/* ------------------------------------------------------------------------
 * Single-buffer scenarios: exact agreement
 */

/*
 * SEND len bytes (0: the end of the data, see chan_eof), RECV with the
 * command's len, DRAIN: RECV with len 0 while FIONREAD reports data (how
 * many receives that takes may differ: the outcome lists then differ).
 */
enum op { SEND, RECV, DRAIN, END };

struct step {
	enum op op;
	unsigned int len;
};

struct scenario {
	enum kind kind;
	struct ring_cfg cfg;
	struct step steps[MAX_STEPS];
};

struct run {
	struct out out[MAX_STEPS];
	unsigned int nout;
	struct iopbuf_buf entries[MAX_ENTRIES];
	long head;
	char *data;		/* copy of the buffer area */
};

static void note_out(const char *who, unsigned int i, const struct out *o)
{
	h_note("%s step %u: res %s%s bid %u%s head %ld nbufs %u", who, i,
	       h_res(o->res), o->buffer ? " BUFFER" : "", o->bid,
	       o->more ? " BUF_MORE" : "", o->head, o->nbufs);
}

/* One RECV step on one side: its outcome into @o, its data checked. */
static bool run_recv(struct be *b, const struct chan *ch, struct feed *fd,
		     unsigned int len, struct out *o, unsigned int idx)
{
	long head = be_head(b);
	__u64 at;

	if (head < 0)
		return false;
	at = be_entry(b, head)->addr;	/* where a single buffer lands */
	if (!be_cmd(b, ch, len, false, o))
		return false;
	if (!b->native && o->buffer)
		EXPECT_EQ(o->nbufs, 1);
	if (o->res > 0 && o->buffer &&
	    !feed_check(fd, ch, (const char *)(uintptr_t)at, o->res))
		note_out(b->name, idx, o);
	if (o->res == 0 && ch->kind == K_UDP)
		fd->next_msg++;		/* the zero-length datagram */
	return true;
}

/* Run @sc on one side; its outcomes, final entries and data into @r. */
static bool run_side(const struct scenario *sc, bool native, struct run *r)
{
	struct feed fd = { 0 };
	struct chan ch = { .rfd = -1, .wfd = -1 };
	const struct step *s;
	struct be b;
	bool ok = false;
	unsigned int i;

	memset(r, 0, sizeof(*r));
	if (!be_init(&b, native, &sc->cfg) || !chan_open(&ch, sc->kind))
		goto out;
	for (s = sc->steps; s->op != END; s++) {
		switch (s->op) {
		case SEND:
			if (!(s->len ? feed_send(&fd, &ch, s->len) : chan_eof(&ch)))
				goto out;
			if (!s->len)
				feed_eof(&fd, &ch);
			break;
		case DRAIN:
			while (t_sock_queued(ch.rfd) > 0) {
				if (!EXPECT(r->nout < MAX_STEPS) ||
				    !run_recv(&b, &ch, &fd, 0, &r->out[r->nout],
					      r->nout))
					goto out;
				r->nout++;
			}
			break;
		default:
			if (!EXPECT(r->nout < MAX_STEPS) ||
			    !run_recv(&b, &ch, &fd, s->len, &r->out[r->nout],
				      r->nout))
				goto out;
			r->nout++;
			break;
		}
	}
	for (i = 0; i < sc->cfg.entries && i < MAX_ENTRIES; i++) {
		r->entries[i] = b.ring[i];
		r->entries[i].addr -= (uintptr_t)b.data;
	}
	r->head = be_head(&b);
	r->data = malloc(b.data_len);
	if (EXPECT(r->data))
		memcpy(r->data, b.data, b.data_len);
	ok = r->data != NULL;
out:
	chan_close(&ch);
	be_fini(&b);
	return ok;
}

static bool out_equal(const struct out *a, const struct out *b)
{
	return a->res == b->res && a->buffer == b->buffer &&
	       a->bid == b->bid && a->more == b->more && a->head == b->head;
}

/*
 * Native INC rings exist (6.12+)? Decided from the exact answer of a kernel
 * without them: before 6.12 struct io_uring_buf_reg has a u16 pad where
 * flags are, and io_register_pbuf_ring() rejects a non-zero pad with
 * -EINVAL. So: a plain ring registers (0) and the same ring with
 * IOU_PBUF_RING_INC gets -EINVAL => the case is skipped; INC registers =>
 * supported; anything else (io_uring or mmap failing, a plain ring
 * refused, another errno) is a failure of every case that needs it, never
 * a skip. The answer is cached; an error is reported again by each case.
 */
static bool native_inc_supported(void)
{
	static int supported = -1;	/* -1 unknown, 0 missing, 1 present, 2 error */
	static char why[160];

	if (supported < 0) {
		struct io_uring uring;
		void *mem = h_map(2 * H_PAGE);
		struct nat_buf_reg plain = { .ring_entries = 1, .bgid = 2 };
		struct nat_buf_reg inc = {
			.ring_entries = 1, .bgid = 1, .flags = IOU_PBUF_RING_INC,
		};
		int ret;

		supported = 2;
		if (!mem) {
			snprintf(why, sizeof(why), "mmap of the probe rings failed");
			goto out;
		}
		ret = io_uring_queue_init(4, &uring, 0);
		if (ret) {
			snprintf(why, sizeof(why), "io_uring_queue_init: %s",
				 h_res(ret));
			goto out;
		}
		plain.ring_addr = (uintptr_t)mem;
		inc.ring_addr = (uintptr_t)mem + H_PAGE;
		ret = nat_register(uring.ring_fd, NAT_REGISTER_PBUF_RING, &plain);
		if (ret) {
			snprintf(why, sizeof(why),
				 "probe: a plain native ring: %s, want 0", h_res(ret));
		} else {
			ret = nat_register(uring.ring_fd, NAT_REGISTER_PBUF_RING,
					   &inc);
			if (ret == 0)
				supported = 1;
			else if (ret == -EINVAL)
				supported = 0;
			else
				snprintf(why, sizeof(why),
					 "probe: a native IOU_PBUF_RING_INC ring: %s, want 0 or -EINVAL (no INC rings)",
					 h_res(ret));
		}
		io_uring_queue_exit(&uring);
out:
		if (mem)
			h_unmap(mem, 2 * H_PAGE);
	}
	if (supported == 0)
		h_skip("native IOU_PBUF_RING_INC needs 6.12+");
	else if (supported == 2)
		FAILF("%s", why);
	return supported == 1;
}

/* One line per side: "res/bid[+M] ..." ('-' for no buffer), final head. */
static void note_run(const char *who, const struct run *r)
{
	char line[512];
	size_t n = 0;
	unsigned int i;

	line[0] = 0;
	for (i = 0; i < r->nout && n < sizeof(line) - 32; i++) {
		const struct out *o = &r->out[i];

		if (o->buffer)
			n += snprintf(line + n, sizeof(line) - n, " %s/b%u%s",
				      h_res(o->res), o->bid, o->more ? "+M" : "");
		else
			n += snprintf(line + n, sizeof(line) - n, " %s/-",
				      h_res(o->res));
	}
	h_note("%s:%s; head %ld", who, line, r->head);
}

/* Both sides, then every step, the final head, entries and data equal. */
static void diff_single(const struct scenario *sc)
{
	struct run mod, nat;
	unsigned int i;
	bool same = true;

	if (!native_inc_supported())
		return;
	memset(&mod, 0, sizeof(mod));
	memset(&nat, 0, sizeof(nat));
	if (!run_side(sc, false, &mod) || !run_side(sc, true, &nat))
		goto out;
	note_run("module", &mod);
	note_run("native", &nat);
	same &= EXPECT_EQ(mod.nout, nat.nout);
	for (i = 0; i < mod.nout && i < nat.nout; i++) {
		if (out_equal(&mod.out[i], &nat.out[i]))
			continue;
		same = h_expect(false, __FILE__, __LINE__,
				"step %u differs: module res %s bid %u%s%s head %ld, native res %s bid %u%s%s head %ld",
				i, h_res(mod.out[i].res), mod.out[i].bid,
				mod.out[i].buffer ? " BUFFER" : "",
				mod.out[i].more ? " BUF_MORE" : "",
				mod.out[i].head,
				h_res(nat.out[i].res), nat.out[i].bid,
				nat.out[i].buffer ? " BUFFER" : "",
				nat.out[i].more ? " BUF_MORE" : "",
				nat.out[i].head);
	}
	same &= EXPECT_EQ(mod.head, nat.head);
	for (i = 0; i < sc->cfg.entries && i < MAX_ENTRIES; i++) {
		const struct iopbuf_buf *m = &mod.entries[i], *n = &nat.entries[i];

		if (m->addr == n->addr && m->len == n->len)
			continue;
		same = h_expect(false, __FILE__, __LINE__,
				"entry %u differs: module (+%lld, %u), native (+%lld, %u)",
				i, (long long)m->addr, m->len,
				(long long)n->addr, n->len);
	}
	same &= EXPECT(!memcmp(mod.data, nat.data,
			       (size_t)sc->cfg.nbufs * sc->cfg.buf_size));
	if (!same) {
		h_note("%s, %s ring, min_left %u", kind_name[sc->kind],
		       sc->cfg.inc ? "INC" : "plain", sc->cfg.min_left);
		for (i = 0; i < mod.nout; i++)
			note_out("module", i, &mod.out[i]);
		for (i = 0; i < nat.nout; i++)
			note_out("native", i, &nat.out[i]);
	}
out:
	free(mod.data);
	free(nat.data);
}

#define INC4	{ .inc = true, .entries = 4, .nbufs = 4, .buf_size = 1024 }
#define PLAIN8	{ .inc = false, .entries = 8, .nbufs = 8, .buf_size = 1024 }

/*
 * A stream socket on an INC ring: partial use (BUF_MORE, entry advanced),
 * a remainder of exactly one byte kept with min_left 1, then taken alone
 * (res 1, entry retired, no BUF_MORE), len limiting a receive, and EOF:
 * res 0 with no buffer, the entry untouched (io_recv recycles on 0).
 */
static const struct step stream_steps[] = {
	{ SEND, 100 }, { RECV, 0 },
	{ SEND, 923 }, { RECV, 0 },
	{ SEND, 10 }, { RECV, 0 }, { DRAIN, 0 },
	{ SEND, 50 }, { RECV, 20 }, { DRAIN, 0 },
	{ SEND, 0 }, { RECV, 0 }, { RECV, 0 },
	{ END, 0 },
};

static void run_steps(enum kind kind, struct ring_cfg cfg,
		      const struct step *steps)
{
	struct scenario sc = { .kind = kind, .cfg = cfg };
	unsigned int i;

	for (i = 0; i < MAX_STEPS - 1 && steps[i].op != END; i++)
		sc.steps[i] = steps[i];
	sc.steps[i].op = END;
	diff_single(&sc);
}

static void tcp_inc(void)	{ run_steps(K_TCP, (struct ring_cfg)INC4, stream_steps); }
static void tcp_plain(void)	{ run_steps(K_TCP, (struct ring_cfg)PLAIN8, stream_steps); }
static void unix_inc(void)	{ run_steps(K_UNIX, (struct ring_cfg)INC4, stream_steps); }

/*
 * UDP: each receive takes one datagram; a datagram longer than what is
 * left of the entry is truncated (10 bytes into a 1-byte remainder give
 * res 1 and retire the entry), len truncates too, and a zero-length
 * datagram gives res 0 with no buffer and nothing consumed.
 */
static const struct step udp_steps[] = {
	{ SEND, 100 }, { RECV, 0 },
	{ SEND, 923 }, { RECV, 0 },
	{ SEND, 10 }, { RECV, 0 },
	{ SEND, 9 }, { RECV, 0 },
	{ SEND, 0 }, { RECV, 0 },
	{ SEND, 50 }, { RECV, 20 },
	{ SEND, 1000 }, { RECV, 0 },
	{ END, 0 },
};

static void udp_inc(void)	{ run_steps(K_UDP, (struct ring_cfg)INC4, udp_steps); }
static void udp_plain(void)	{ run_steps(K_UDP, (struct ring_cfg)PLAIN8, udp_steps); }

/*
 * Pipes (read-inc-buf-more): 12 bytes with len 32, a one-byte remainder
 * kept and then read alone, and EOF after the writer closes: res 0 WITH
 * the buffer, BUF_MORE on an INC ring (kept), consumed on a plain ring.
 * Compare with the socket EOF above, which reports no buffer.
 */
static const struct step pipe_steps[] = {
	{ SEND, 12 }, { RECV, 32 },
	{ SEND, 1011 }, { RECV, 0 },
	{ SEND, 5 }, { RECV, 0 }, { DRAIN, 0 },
	{ SEND, 0 }, { RECV, 0 }, { RECV, 16 },
	{ END, 0 },
};

static void pipe_inc(void)	{ run_steps(K_PIPE, (struct ring_cfg)INC4, pipe_steps); }
static void pipe_plain(void)	{ run_steps(K_PIPE, (struct ring_cfg)PLAIN8, pipe_steps); }

/*
 * A socket read with the read command (io_read, not io_recv): EOF follows
 * the read rule, res 0 with the buffer (kept on INC, consumed on plain),
 * unlike the receive command's EOF.
 */
static void tcp_read_inc(void)	{ run_steps(K_TCP_READ, (struct ring_cfg)INC4, pipe_steps); }
static void tcp_read_plain(void) { run_steps(K_TCP_READ, (struct ring_cfg)PLAIN8, pipe_steps); }

/*
 * Regular files (read-inc-file, read-inc-buf-more): the selected length
 * is committed when the buffer is selected, so reads of len 80 advance
 * the INC entry by 80; a read of len 0 selects (and uses up) the whole
 * rest of the entry even when the file is shorter; reads at EOF (len 32
 * and 0) report res 0 with the buffer; data appended later is read on.
 */
static const struct step file_steps[] = {
	{ SEND, 300 },
	{ RECV, 80 }, { RECV, 80 }, { RECV, 80 }, { RECV, 0 },
	{ RECV, 32 }, { RECV, 0 },
	{ SEND, 100 }, { RECV, 50 }, { RECV, 0 },
	{ END, 0 },
};

static void file_inc(void)	{ run_steps(K_FILE, (struct ring_cfg)INC4, file_steps); }
static void file_plain(void)	{ run_steps(K_FILE, (struct ring_cfg)PLAIN8, file_steps); }

/*
 * A len beyond the entry: a single buffer is never more than the entry
 * (io_ring_buffer_select: len = min(len, buf->len)); regular files
 * commit that much at selection.
 */
static const struct step big_steps[] = {
	{ SEND, 3000 }, { RECV, 5000 }, { RECV, 100 }, { DRAIN, 0 },
	{ END, 0 },
};

static void tcp_big_inc(void)	{ run_steps(K_TCP, (struct ring_cfg)INC4, big_steps); }
static void tcp_big_plain(void)	{ run_steps(K_TCP, (struct ring_cfg)PLAIN8, big_steps); }
static void file_big_inc(void)	{ run_steps(K_FILE, (struct ring_cfg)INC4, big_steps); }

/*
 * A zero-length entry at the head (io_kbuf_inc_commit's "!this" case):
 * with data queued, a socket receives 0 bytes and reports no buffer, the
 * entry stays; a pipe or file read of 0 bytes reports the buffer, a plain
 * ring consumes the entry and the next read goes on, an INC ring keeps
 * it (BUF_MORE) and stays stuck on it.
 */
static const struct step zero_steps[] = {
	{ SEND, 10 }, { RECV, 0 }, { SEND, 20 }, { RECV, 0 },
	{ END, 0 },
};

/* A zero_entry() case: its name, the kind of fd and an INC ring or not. */
struct zero_row {
	const char	*name;
	enum kind	kind;
	bool		inc;
};

static void zero_entry(const void *arg)
{
	const struct zero_row *row = arg;
	struct ring_cfg cfg = INC4;

	cfg.inc = row->inc;
	cfg.zero_first = true;
	run_steps(row->kind, cfg, zero_steps);
}

static const struct zero_row zero_rows[] = {
	{ .name = "tcp_zero_entry",		.kind = K_TCP },
	{ .name = "tcp_zero_entry_inc",		.kind = K_TCP,	.inc = true },
	{ .name = "udp_zero_entry",		.kind = K_UDP },
	{ .name = "pipe_zero_entry",		.kind = K_PIPE },
	{ .name = "pipe_zero_entry_inc",	.kind = K_PIPE,	.inc = true },
	{ .name = "file_zero_entry",		.kind = K_FILE },
	{ .name = "file_zero_entry_inc",	.kind = K_FILE,	.inc = true },
};

/*
 * recvmsg-inc-tail's arithmetic (see recv.c): min_left 32, messages of
 * 512 and 337 bytes; a 13-byte tail is retired. Skipped where the native
 * ring has no min_left.
 */
static const struct step tail_steps[] = {
	{ SEND, 512 }, { RECV, 0 }, { SEND, 512 }, { RECV, 0 },
	{ SEND, 337 }, { RECV, 0 }, { SEND, 337 }, { RECV, 0 },
	{ SEND, 337 }, { RECV, 0 }, { SEND, 337 }, { RECV, 0 },
	{ SEND, 337 }, { RECV, 0 }, { SEND, 337 }, { RECV, 0 },
	{ SEND, 337 }, { RECV, 0 },
	{ END, 0 },
};

static void tcp_min_left(void)
{
	struct ring_cfg cfg = INC4;

	cfg.min_left = 32;
	run_steps(K_TCP, cfg, tail_steps);
}

/* The same one-byte remainder with min_left 2: retired at once. */
static void tcp_min_left_2(void)
{
	struct ring_cfg cfg = INC4;

	cfg.min_left = 2;
	run_steps(K_TCP, cfg, stream_steps);
}

/* ------------------------------------------------------------------------
 * Bundles: invariants on each side
 */

/*
 * Entries a receive of @res bytes from @head must use up, from the
 * entries as they were before it: on a plain ring every entry it touched
 * (io_bundle_nbufs), on an INC ring those left with fewer than min_left
 * bytes (io_kbuf_inc_commit).
 */
static unsigned int used_up(const struct ring_cfg *cfg,
			    const struct iopbuf_buf *before, long head, int res)
{
	unsigned int min_left = cfg->min_left ? cfg->min_left : 1;
	unsigned int n = 0;
	size_t left = res;

	while (left) {
		const struct iopbuf_buf *e = &before[(head + n) & (cfg->entries - 1)];
		size_t take = left < e->len ? left : e->len;

		if (cfg->inc && e->len - take >= min_left)
			break;
		left -= take;
		n++;
		if (n > cfg->entries)
			break;
	}
	return n;
}

/*
 * Send @chunks one at a time and receive each with bundle receives until
 * it is all in. Every completion: res > 0 with a buffer, bid = the head
 * entry's bid, data = the next bytes of the stream (UDP: the datagram),
 * laid out across consecutive entries from the head entry's address,
 * head advanced by exactly used_up(). Returns the completions it took.
 */
static int bundle_side(bool native, enum kind kind, const struct ring_cfg *cfg,
		       const unsigned int *chunks, unsigned int nchunks,
		       unsigned int len)
{
	struct iopbuf_buf before[64];
	struct chan ch = { .rfd = -1, .wfd = -1 };
	struct feed fd = { 0 };
	int completions = -1, n = 0;
	unsigned int i;
	struct be b;

	if (!be_init(&b, native, cfg) || !chan_open(&ch, kind))
		goto out;
	if (native && !(b.uring.features & IORING_FEAT_RECVSEND_BUNDLE)) {
		h_skip("native IORING_RECVSEND_BUNDLE needs 6.10+");
		goto out;
	}
	for (i = 0; i < nchunks; i++) {
		size_t want = fd.sent + chunks[i];

		if (!feed_send(&fd, &ch, chunks[i]))
			goto out;
		while (fd.pos < want && n < 64) {
			long head = be_head(&b);
			const struct iopbuf_buf *e;
			char *flat;
			size_t got = 0;
			unsigned int k, used;
			struct out o;

			if (head < 0)
				goto out;
			memcpy(before, b.ring, cfg->entries * sizeof(before[0]));
			e = &before[head & (cfg->entries - 1)];
			if (!be_cmd(&b, &ch, len, true, &o))
				goto out;
			n++;
			if (!h_expect(o.res > 0 && o.buffer, __FILE__, __LINE__,
				      "%s: bundle res %s%s", b.name, h_res(o.res),
				      o.buffer ? "" : " without a buffer"))
				goto out;
			EXPECT_EQ(o.bid, e->bid);
			used = used_up(cfg, before, head, o.res);
			if (!h_expect(o.head == head + used, __FILE__, __LINE__,
				      "%s: %d bytes from head %ld (bid %u): head %ld, want %ld",
				      b.name, o.res, head, o.bid, o.head, head + used))
				note_out(b.name, n - 1, &o);
			if (!native)
				EXPECT_EQ(o.nbufs, used + o.more);
			h_note("%s: res %d bid %u%s head %ld -> %ld", b.name,
			       o.res, o.bid, o.more ? " BUF_MORE" : "", head,
			       o.head);
			/* gather the bytes from the entries, in ring order */
			flat = malloc(o.res);
			if (!EXPECT(flat))
				goto out;
			for (k = 0; got < (size_t)o.res; k++) {
				const struct iopbuf_buf *x =
					&before[(head + k) & (cfg->entries - 1)];
				size_t take = o.res - got < x->len ?
					      o.res - got : x->len;

				memcpy(flat + got, (void *)(uintptr_t)x->addr, take);
				got += take;
			}
			feed_check(&fd, &ch, flat, o.res);
			free(flat);
			if (kind == K_UDP)
				fd.pos = want;
		}
	}
	completions = n;
out:
	chan_close(&ch);
	be_fini(&b);
	return completions;
}

static void diff_bundle(enum kind kind, struct ring_cfg cfg,
			const unsigned int *chunks, unsigned int nchunks,
			unsigned int len)
{
	int m, n;

	if (!native_inc_supported())
		return;
	m = bundle_side(false, kind, &cfg, chunks, nchunks, len);
	n = bundle_side(true, kind, &cfg, chunks, nchunks, len);
	if (m >= 0 && n >= 0)
		h_note("%s: completions: module %d, native %d",
		       kind_name[kind], m, n);
}

/* recvsend_bundle: 4 and then 32 messages of 128 bytes, 128-byte buffers. */
static const unsigned int msgs_4_32[] = {
	128, 128, 128, 128, 32 * 128,
};

#define B128	{ .inc = false, .entries = 64, .nbufs = 64, .buf_size = 128 }

static void tcp_bundle(void)
{
	diff_bundle(K_TCP, (struct ring_cfg)B128, msgs_4_32,
		    H_ARRAY_SIZE(msgs_4_32), 0);
}

/*
 * UDP bundles: one datagram per receive. Sizing differs: without len,
 * native io_uring maps a single buffer when it cannot know the datagram's
 * size (a speculative peek; UDP reports no msg_inq), so a 300-byte
 * datagram arrives truncated to one 128-byte buffer, the rest dropped;
 * the module maps the available entries and receives all 300 bytes in 3.
 * Both keep the invariants.
 */
static void udp_bundle(void)
{
	static const unsigned int dgrams[] = { 128, 128, 128, 128, 100, 300 };

	diff_bundle(K_UDP, (struct ring_cfg)B128, dgrams, H_ARRAY_SIZE(dgrams), 0);
}

/*
 * recv-inc-ooo: 512, 333, 777 and 426 bytes into 4 x 1 KiB INC buffers
 * (native INC bundles: 6.15, backported to 6.12.y); and the same into a
 * plain ring of 1 KiB buffers.
 */
static const unsigned int ooo_chunks[] = { 512, 333, 777, 426 };

static void tcp_bundle_inc(void)
{
	diff_bundle(K_TCP, (struct ring_cfg)INC4, ooo_chunks,
		    H_ARRAY_SIZE(ooo_chunks), 0);
}

static void tcp_bundle_plain(void)
{
	diff_bundle(K_TCP, (struct ring_cfg)PLAIN8, ooo_chunks,
		    H_ARRAY_SIZE(ooo_chunks), 0);
}

/*
 * A bundle's len: 300 bytes of 128-byte entries. A plain ring takes a
 * truncated entry only as the first one (2 entries, 256 bytes at most);
 * an INC ring takes the third entry's first 44 bytes. Sizing differs on
 * INC: native io_uring retries a bundle that filled its mapping while
 * the socket has more queued and appends to the same completion, so its
 * first completion holds all 1000 bytes (len bounds each mapping only);
 * the module's completions hold at most len (300, 300, 300, 100).
 */
static const unsigned int chunk_1000[] = { 1000 };

static void tcp_bundle_len(void)
{
	diff_bundle(K_TCP, (struct ring_cfg)B128, chunk_1000, 1, 300);
}

static void tcp_bundle_len_inc(void)
{
	struct ring_cfg cfg = B128;

	cfg.inc = true;
	diff_bundle(K_TCP, cfg, chunk_1000, 1, 300);
}

int main(void)
{
	h_init("recv_diff");
	signal(SIGPIPE, SIG_IGN);

	RUN(tcp_inc);
	RUN(tcp_plain);
	RUN(unix_inc);
	RUN(udp_inc);
	RUN(udp_plain);
	RUN(pipe_inc);
	RUN(pipe_plain);
	RUN(tcp_read_inc);
	RUN(tcp_read_plain);
	RUN(file_inc);
	RUN(file_plain);
	RUN(tcp_min_left);
	RUN(tcp_min_left_2);
	RUN(tcp_big_inc);
	RUN(tcp_big_plain);
	RUN(file_big_inc);
	RUN_ROWS(zero_entry, zero_rows);

	RUN(tcp_bundle);
	RUN(udp_bundle);
	RUN(tcp_bundle_inc);
	RUN(tcp_bundle_plain);
	RUN(tcp_bundle_len);
	RUN(tcp_bundle_len_inc);

	RUN(h_case_counters_zero);
	return h_exit();
}
