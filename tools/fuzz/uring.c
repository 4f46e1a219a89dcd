// SPDX-License-Identifier: GPL-2.0
/* fuzz: io_uring: the operation threads' rings, buffer commands, lending chains. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * io_uring: each operation thread owns its rings.
 */

void uring_open(struct uring_slot *s)
{
	unsigned int flags = 0;

	switch (rnd(12)) {
	case 0:
		flags = 0;	/* no CQE32: buffer commands fail with EINVAL */
		break;
	case 1:
		flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
		break;
	default:
		flags = IORING_SETUP_CQE32;
		break;
	}
	if (one_in(4))
		flags |= IORING_SETUP_SUBMIT_ALL;
	if (io_uring_queue_init(32, &s->ring, flags) &&
	    io_uring_queue_init(32, &s->ring, flags & ~IORING_SETUP_SUBMIT_ALL))
		return;
	s->up = true;
	s->cqe32 = flags & IORING_SETUP_CQE32;
	s->inflight = 0;
}

static void check_cqe(const struct uring_slot *s, const struct io_uring_cqe *cqe)
{
	__u64 res2 = s->cqe32 ? cqe->big_cqe[0] : 0;
	__u16 flags = iopbuf_cqe_flags(res2);
	__u32 op = (__u32)(cqe->user_data >> 32);

	atomic_fetch_add_explicit(&sh->completions, 1, memory_order_relaxed);
	if (cqe->res < 0) {
		atomic_fetch_add_explicit(&sh->cqe_errors, 1, memory_order_relaxed);
		if (-cqe->res < (int)ARRAY_SIZE(sh->cqe_errno))
			atomic_fetch_add_explicit(&sh->cqe_errno[-cqe->res], 1,
						  memory_order_relaxed);
	} else if (op == IOPBUF_CMD_RECV || op == IOPBUF_CMD_READ ||
		   op == IOPBUF_CMD_SEND || op == IOPBUF_CMD_LEND) {
		atomic_fetch_add_explicit(&sh->bytes, (unsigned long long)cqe->res,
					  memory_order_relaxed);
	}
	if (res2 >> 48)
		fuzz_fail("cqe res2 %#llx: reserved bits set (cmd %#x res %d)",
			  (unsigned long long)res2, op, cqe->res);
	if (op == IOPBUF_CMD_LEND) {
		/* bits 16..31 are the chain's progress, not a buffer count */
		if (iopbuf_lend_done(res2) > IOPBUF_LEND_MAX_OPS ||
		    (iopbuf_lend_failed(res2) != IOPBUF_LEND_NONE &&
		     iopbuf_lend_failed(res2) >= IOPBUF_LEND_MAX_OPS))
			fuzz_fail("lend cqe res2 %#llx: done %u, failed %u (res %d)",
				  (unsigned long long)res2, iopbuf_lend_done(res2),
				  iopbuf_lend_failed(res2), cqe->res);
		return;
	}
	if (!(flags & IOPBUF_CQE_F_BUFFER) && (iopbuf_cqe_bid(res2) || iopbuf_cqe_nbufs(res2)))
		fuzz_fail("cqe res2 %#llx: bid/count without F_BUFFER (cmd %#x res %d)",
			  (unsigned long long)res2, op, cqe->res);
	if (flags & IOPBUF_CQE_F_BUFFER) {
		atomic_fetch_add_explicit(&sh->cqe_buffers, 1, memory_order_relaxed);
		if (!iopbuf_cqe_nbufs(res2))
			fuzz_fail("cqe res2 %#llx: F_BUFFER with no buffer (cmd %#x res %d)",
				  (unsigned long long)res2, op, cqe->res);
	}
	if (s->cqe32 && cqe->res > 0 &&
	    (op == IOPBUF_CMD_RECV || op == IOPBUF_CMD_SEND) &&
	    !(flags & IOPBUF_CQE_F_BUFFER))
		fuzz_fail("cqe: cmd %#x moved %d bytes without F_BUFFER", op, cqe->res);
}

void reap(struct uring_slot *s, bool wait)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_nsec = 100000 * (1 + rnd(20)) };

	if (!s->up)
		return;
	if (wait && s->inflight)
		io_uring_wait_cqe_timeout(&s->ring, &cqe, &ts);
	while (!io_uring_peek_cqe(&s->ring, &cqe)) {
		check_cqe(s, cqe);
		io_uring_cqe_seen(&s->ring, cqe);
		if (s->inflight)
			s->inflight--;
	}
}

void uring_close(struct uring_slot *s)
{
	if (!s->up)
		return;
	/*
	 * Kernels before 6.7 do not cancel uring_cmds at ring exit: cancel
	 * this worker's waiting commands first (or not, sometimes: then the
	 * commands wait until the worker dies, and its exit cancels them).
	 */
	if (s->inflight && !one_in(4)) {
		unsigned int i;

		for (i = 0; i < NCTX; i++)
			ioctl(atomic_load(&W.ctx[i]), IOPBUF_IOC_CANCEL, 0);
		reap(s, true);
	} else if (s->inflight) {
		return;	/* keep it: closing would hang on 6.1 */
	}
	io_uring_queue_exit(&s->ring);
	s->up = false;
}

/*
 * A chain lending a big slice of the long buffer (slot LONG_IDX): hundreds
 * of thousands of segments for the iterators of its secondaries, which are
 * chosen so that moving the whole slice stays cheap -- WRITE to /dev/null
 * or to a pipe, FIFO or pty (partial, or waiting for room), READ of the
 * 8 KiB regular file, SEND/RECV of at most 1 MiB on a socket.
 */
static void make_long_lend(struct iopbuf_lend *l)
{
	uint64_t off = rnd(W.lng.chunk_pages * 4) * PAGE / 4 + (one_in(4) ? rnd(PAGE) : 0);
	uint64_t max = W.lng.len - (off < W.lng.len ? off : 0);
	unsigned int i, nr = 1 + rnd(4);

	count(OP_LONG_LEND);
	if (off >= W.lng.len)
		off = 0, max = W.lng.len;
	l->src = IOPBUF_LEND_SRC_REGBUF;
	l->dir = IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT;
	l->addr = iopbuf_regbuf_encode(LONG_IDX, off);
	l->len = (uint32_t)(one_in(3) ? (max > 0xffffffffULL ? 0xffffffffULL : max) :
			    1 + rnd((uint32_t)(max < (64U << 20) ? max : 64U << 20)));
	if (one_in(20))
		l->len = (uint32_t)(max + 1 + rnd(PAGE));	/* past the end: -EFAULT */
	l->nr_ops = (uint16_t)nr;
	if (one_in(2))
		l->results = (uintptr_t)((char *)l + sizeof(*l));
	for (i = 0; i < nr; i++) {
		struct iopbuf_lend_op *o = &l->ops[i];
		struct pair *p = &W.pair[rnd(NPAIR)];

		o->off = IOPBUF_LEND_POS;
		switch (rnd(6)) {
		case 0:
		case 1:
			o->opcode = IOPBUF_LEND_OP_WRITE;
			o->fd = W.devnull;
			o->len = one_in(2) ? 0 : l->len;	/* the whole slice */
			break;
		case 2:
			o->opcode = IOPBUF_LEND_OP_WRITE;
			o->fd = pair_wr(p);
			o->len = 1 + rnd(one_in(4) ? l->len : 65536);
			if (p->kind <= P_UNIX_DGRAM && o->len > (1U << 20))
				o->len = 1U << 20;
			break;
		case 3:
			o->opcode = IOPBUF_LEND_OP_READ;
			o->fd = W.nmisc ? W.misc[0] : -1;	/* the regular file */
			o->off = rnd(8192);
			break;
		case 4:
			o->opcode = IOPBUF_LEND_OP_SEND;
			o->fd = atomic_load(&p->a);
			o->len = 1 + rnd(1U << 20);
			break;
		default:
			o->opcode = IOPBUF_LEND_OP_RECV;
			o->fd = atomic_load(&p->a);
			o->len = 1 + rnd(1U << 20);
			break;
		}
		o->buf_off = one_in(2) ? 0 : rnd(l->len);
		if (o->len && (uint64_t)o->buf_off + o->len > l->len)
			o->buf_off = 0;
		if (o->len > l->len)
			o->len = l->len;
	}
}

static __thread struct iopbuf_lend *last_lend;

__thread struct thread_state *cur_t;	/* the operation thread's own */

struct iopbuf_lend *make_lend(uint16_t bgid)
{
	static __thread char *slab;
	static __thread unsigned int next;
	struct iopbuf_lend *l;
	unsigned int i, nr;
	bool ring;

	if (!slab) {
		slab = reserve(LEND_SLOTS * LEND_SLOT_SIZE + PAGE);
		if (slab && mprotect(slab, LEND_SLOTS * LEND_SLOT_SIZE, PROT_READ | PROT_WRITE))
			slab = NULL;
		if (!slab)
			return arg_ptr(NULL);
	}
	l = (struct iopbuf_lend *)(slab + (next++ % LEND_SLOTS) * LEND_SLOT_SIZE);
	memset(l, 0, sizeof(*l));
	last_lend = l;
	if (W.lng.p && one_in(6)) {
		make_long_lend(l);
		return l;
	}
	l->src = one_in(10) ? (uint16_t)rnd64() : 1 + rnd(3);
	l->dir = one_in(10) ? (uint16_t)rnd64() : rnd(4);
	nr = one_in(10) ? rnd(256) : 1 + rnd(one_in(3) ? IOPBUF_LEND_MAX_OPS : 2);
	l->nr_ops = (uint16_t)nr;
	/* fields the source does not use must be 0 (-EINVAL): mostly they are */
	ring = l->src == IOPBUF_LEND_SRC_RING;
	if (ring || one_in(20))
		l->bgid = one_in(4) ? pick_bgid() : bgid;
	if (!ring || one_in(20))
		l->len = one_in(8) ? wild32() : 1 + rnd(one_in(4) ? 65536 : 4096);
	switch (l->src) {
	case IOPBUF_LEND_SRC_REGBUF:
		l->addr = one_in(8) ? wild64() : iopbuf_regbuf_encode(rnd(8), rnd(8 * PAGE));
		break;
	case IOPBUF_LEND_SRC_KBUF:
		l->addr = one_in(8) ? wild64() : 1 + rnd(8);
		break;
	default:
		l->addr = one_in(4) ? wild64() : 0;
		break;
	}
	if (one_in(2))	/* results right after the chain, in the slot */
		l->results = (uintptr_t)arg_ptr((char *)l + sizeof(*l));
	sometimes_wild64_in(l->resv, 2, 40);
	sometimes_wild32(&l->resv0, 40);
	for (i = 0; i < IOPBUF_LEND_MAX_OPS && i < nr; i++) {
		struct iopbuf_lend_op *o = &l->ops[i];
		unsigned int p = rnd(NPAIR);

		o->opcode = one_in(10) ? (uint8_t)rnd(256) : 1 + rnd(4);
		/* mostly a sensible fd for the opcode, sometimes anything */
		if (one_in(6))
			o->fd = pick_any_fd();
		else if (o->opcode == IOPBUF_LEND_OP_READ || o->opcode == IOPBUF_LEND_OP_RECV)
			o->fd = atomic_load(&W.pair[p].a);
		else if (o->opcode == IOPBUF_LEND_OP_WRITE && one_in(2))
			o->fd = pair_wr(&W.pair[p]);	/* pipes, FIFOs, ptys nobody drains */
		else if (one_in(2))
			o->fd = atomic_load(&W.pair[p].b);
		else
			o->fd = W.nmisc ? W.misc[0] : -1;	/* the regular file */
		o->off = one_in(2) ? IOPBUF_LEND_POS : (one_in(4) ? wild64() : rnd(8192));
		o->buf_off = one_in(6) ? wild32() : rnd(4096);
		o->len = one_in(3) ? 0 : (one_in(6) ? wild32() : 1 + rnd(4096));
		if (one_in(40))
			o->resv0 = (uint8_t)rnd(256);
		if (one_in(40))
			o->resv1 = (uint16_t)rnd64();
	}
	return l;
}

void prep_cmd(struct io_uring_sqe *sqe, int fd, __u32 cmd_op,
	      const void *payload)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	memcpy(sqe->cmd, payload, 16);
	sqe->user_data = (__u64)cmd_op << 32 | rnd(1 << 16);
	if (one_in(8))
		sqe->flags |= IOSQE_ASYNC;
	if (one_in(30))
		sqe->flags |= IOSQE_IO_LINK;
	if (one_in(40))
		sqe->rw_flags = (__u32)rnd64();	/* uring_cmd_flags: unknown bits */
}

/* A ring this worker registered (set up right if @want_good) and its context. */
void pick_target(bool want_good, int *dev, uint16_t *bgid)
{
	unsigned int j, start = rnd(NRING);

	for (j = 0; j < NRING; j++) {
		struct ring_slot *rs = &W.ring[(start + j) % NRING];
		bool found = false;

		pthread_mutex_lock(&rs->lock);
		if (rs->entries && (!want_good || rs->good)) {
			*dev = atomic_load(&W.ctx[rs->ctx]);
			*bgid = rs->bgid;
			found = true;
		}
		pthread_mutex_unlock(&rs->lock);
		if (found)
			break;
	}
}

/* Append "cmd on <fd>" (or a chain's secondaries) to the thread's detail. */
static void note_cmd(struct thread_state *t, __u32 cmd_op, const void *payload)
{
	size_t len = strlen(t->detail);
	char d[64];

	if (len >= sizeof(t->detail) - 40)
		return;
	if (cmd_op == IOPBUF_CMD_RECV || cmd_op == IOPBUF_CMD_READ) {
		const struct iopbuf_cmd_recv *r = payload;

		snprintf(t->detail + len, sizeof(t->detail) - len, "%s%s on %s",
			 len ? "; " : "", cmd_op == IOPBUF_CMD_RECV ? "RECV" : "READ",
			 describe_fd(r->fd, d, sizeof(d)));
	} else if (cmd_op == IOPBUF_CMD_SEND) {
		const struct iopbuf_cmd_send *c = payload;

		snprintf(t->detail + len, sizeof(t->detail) - len, "%sSEND on %s",
			 len ? "; " : "", describe_fd(c->fd, d, sizeof(d)));
	} else if (cmd_op == IOPBUF_CMD_LEND) {
		const struct iopbuf_cmd_lend *c = payload;
		const struct iopbuf_lend *l = (const void *)(uintptr_t)c->addr;
		static const char *const names[] = { "?", "READ", "WRITE", "SEND", "RECV" };
		unsigned int i;

		/* only a chain make_lend() just wrote (not a bad pointer) */
		if (!l || l != last_lend)
			return;
		len += snprintf(t->detail + len, sizeof(t->detail) - len, "%sLEND src %u len %u:",
				len ? "; " : "", l->src, l->len);
		for (i = 0; i < l->nr_ops && i < IOPBUF_LEND_MAX_OPS && len < sizeof(t->detail) - 30; i++)
			len += snprintf(t->detail + len, sizeof(t->detail) - len, " %s %s",
					names[l->ops[i].opcode <= 4 ? l->ops[i].opcode : 0],
					describe_fd(l->ops[i].fd, d, sizeof(d)));
	}
}

/*
 * The fields RECV, READ and SEND share (struct iopbuf_cmd_send is
 * struct iopbuf_cmd_recv with msg_flags in resv's place): mostly a socket
 * of a pair, else any descriptor; mostly ring @bgid; @bundle half of the
 * time, now and then junk flags; no byte limit, a wild one, or up to
 * @max_len.
 */
static void fill_xfer(struct iopbuf_cmd_recv *c, uint16_t bgid, __u16 bundle,
		      uint32_t max_len)
{
	c->fd = one_in(10) ? pick_any_fd() : atomic_load(&W.pair[rnd(NPAIR)].a);
	c->bgid = one_in(8) ? pick_bgid() : bgid;
	c->flags = one_in(2) ? bundle : 0;
	if (one_in(20))
		c->flags = (__u16)rnd64();
	c->len = one_in(3) ? 0 : (one_in(4) ? wild32() : 1 + rnd(max_len));
}

void do_cmd(struct thread_state *t, enum op_kind k)
{
	struct uring_slot *s = &t->u[rnd(NURING)];
	union {
		struct iopbuf_cmd_probe p;
		struct iopbuf_cmd_recv r;
		struct iopbuf_cmd_send s;
		struct iopbuf_cmd_lend l;
		unsigned char raw[16];
	} u;
	struct io_uring_sqe *sqe;
	unsigned int i, n = one_in(4) ? 1 + rnd(4) : 1;
	__u32 cmd_op = 0;
	int dev = pick_ctx_fd();
	uint16_t bgid = pick_bgid();

	/*
	 * Mostly a ring this worker registered, on its context; half of the
	 * time one set up right (do_setup_good), so that transfers happen.
	 */
	if (!one_in(4))
		pick_target(one_in(2), &dev, &bgid);
	t->detail[0] = 0;

	if (!s->up)
		uring_open(s);
	if (!s->up)
		return;
	for (i = 0; i < n; i++) {
		memset(&u, 0, sizeof(u));
		switch (k) {
		case OP_CMD_PROBE:
			cmd_op = IOPBUF_CMD_PROBE;
			u.p.addr = (uintptr_t)arg_ptr(W.reg[0].p);
			u.p.len = one_in(4) ? wild32() : sizeof(struct iopbuf_probe);
			sometimes_wild32(&u.p.resv, 20);
			break;
		case OP_CMD_RECV:
		case OP_CMD_READ:
			cmd_op = k == OP_CMD_RECV ? IOPBUF_CMD_RECV : IOPBUF_CMD_READ;
			fill_xfer(&u.r, bgid, IOPBUF_RECV_BUNDLE, 8192);
			sometimes_wild32(&u.r.resv, 30);
			break;
		case OP_CMD_LEND:
			cmd_op = IOPBUF_CMD_LEND;
			u.l.addr = (uintptr_t)make_lend(bgid);
			u.l.len = one_in(20) ? wild32() : sizeof(struct iopbuf_lend);
			sometimes_wild32(&u.l.resv, 30);
			break;
		case OP_CMD_SEND:
			cmd_op = IOPBUF_CMD_SEND;
			/* u.s's fd, bgid, flags and len are u.r's */
			fill_xfer(&u.r, bgid, IOPBUF_SEND_BUNDLE, 16384);
			u.s.msg_flags = one_in(4) ? MSG_MORE : 0;
			if (one_in(20))
				u.s.msg_flags = (__u32)rnd64();
			break;
		default:	/* unknown or mangled command numbers, junk payload */
			cmd_op = one_in(2) ? _IOC(rnd(4), IOPBUF_IOC_MAGIC, rnd(256), rnd(64)) :
					     (__u32)rnd64();
			for (unsigned int j = 0; j < sizeof(u.raw); j++)
				u.raw[j] = (unsigned char)rnd(256);
			break;
		}
		sqe = io_uring_get_sqe(&s->ring);
		if (!sqe)
			break;
		prep_cmd(sqe, one_in(30) ? pick_any_fd() : dev, cmd_op, &u);
		note_cmd(t, cmd_op, &u);
	}
	if (io_uring_submit(&s->ring) > 0)
		s->inflight += n;
	reap(s, one_in(4));
}
