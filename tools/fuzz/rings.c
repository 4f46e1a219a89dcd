// SPDX-License-Identifier: GPL-2.0
/* fuzz: providing buffers, scribbling on rings, the peers of sockets and pipes. */
#include "fuzz.h"

/* ------------------------------------------------------------------------
 * Providing buffers and scribbling on rings
 */

/*
 * A ring entry's length in the long buffer: mostly up to 1 MiB (256
 * segments), sometimes up to 8 MiB, always within the buffer.
 */
uint32_t long_entry_len(void)
{
	uint32_t len = one_in(16) ? 1 + rnd(8U << 20) : PAGE + rnd(1U << 20);

	return len > W.lng.len ? (uint32_t)W.lng.len : len;
}

static uint64_t entry_addr(bool regbuf, uint32_t *len)
{
	uint64_t a, l;

	if (regbuf) {
		uint32_t index = one_in(10) ? wild32() : rnd(8);
		uint64_t off = one_in(10) ? wild64() : rnd(8 * PAGE);

		*len = one_in(10) ? wild32() : 1 + rnd(2 * PAGE);
		if (W.lng.p && one_in(8)) {	/* a long slice of the long buffer */
			*len = long_entry_len();
			return iopbuf_regbuf_encode(LONG_IDX, rnd((uint32_t)(W.lng.len - *len + 1)));
		}
		return iopbuf_regbuf_encode(index, off);
	}
	pick_buf(&a, &l);
	*len = (uint32_t)(l > 65536 ? 1 + rnd(65536) : l);
	if (one_in(20))
		*len = wild32();
	return a;
}

static bool ring_snapshot(struct ring_slot *rs, struct ring_write *w)
{
	pthread_mutex_lock(&rs->lock);
	w->rs = rs;
	w->b = rs->bufs;
	w->entries = rs->entries;
	if (w->entries > rs->span / sizeof(struct iopbuf_buf))
		w->entries = (unsigned int)(rs->span / sizeof(struct iopbuf_buf));
	w->mask = rs->entries - 1;
	w->regbuf = rs->regbuf;
	w->tail = rs->tail;
	pthread_mutex_unlock(&rs->lock);
	return w->b && w->entries;
}

static void provide_fn(void *arg)
{
	struct ring_write *w = arg;
	unsigned int i, n = 1 + rnd(8);

	for (i = 0; i < n; i++) {
		unsigned int idx = w->tail & w->mask;
		struct iopbuf_buf *e;
		uint32_t len;

		if (idx >= w->entries)
			break;
		e = &w->b[idx];
		e->addr = entry_addr(w->regbuf, &len);
		e->len = len;
		e->bid = (uint16_t)rnd(65536);
		w->tail++;
	}
	__atomic_store_n(&w->b[0].resv, w->tail, __ATOMIC_RELEASE);
}

/* Add 1..8 entries to a ring fuzz registered, and publish the tail. */
void do_provide(void)
{
	struct ring_slot *rs = &W.ring[rnd(NRING)];
	struct ring_write w;

	if (!ring_snapshot(rs, &w))
		return;
	guarded(provide_fn, &w);
	pthread_mutex_lock(&rs->lock);
	if (rs->bufs == w.b)
		rs->tail = w.tail;
	pthread_mutex_unlock(&rs->lock);
}

static void scribble_fn(void *arg)
{
	struct ring_write *w = arg;
	unsigned int i, n = 1 + rnd(16);

	for (i = 0; i < n; i++) {
		struct iopbuf_buf *e = &w->b[rnd(w->entries)];

		switch (rnd(6)) {
		case 0:
			e->addr = wild64();
			break;
		case 1:
			e->len = wild32();
			break;
		case 2:
			e->bid = (uint16_t)rnd64();
			break;
		case 3:	/* the tail: anything */
			__atomic_store_n(&w->b[0].resv, (uint16_t)rnd64(),
					 __ATOMIC_RELEASE);
			break;
		case 4:	/* flip len back and forth */
			e->len ^= (uint32_t)rnd64();
			e->len ^= (uint32_t)rnd64();
			break;
		default:
			e->addr ^= 1ULL << rnd(64);
			break;
		}
	}
}

/* Garbage into a ring while the kernel may be reading it. */
static void scribble_once(void)
{
	struct ring_write w;

	if (ring_snapshot(&W.ring[rnd(NRING)], &w))
		guarded(scribble_fn, &w);
}

static __thread struct memset_args scribble_at;

static void memset_fn(void *arg)
{
	struct memset_args *a = arg;

	memset(a->p, a->c, a->len);
}

/* Garbage into the buffers themselves (data being sent / received). */
static void scribble_region(void)
{
	struct region *r = pick_region();
	size_t off = rnd((uint32_t)r->len);
	size_t len = 1 + rnd((uint32_t)(r->len - off) % 4096);
	int c = (int)rnd(256);

	if (r->kind == R_RDONLY || r->kind == R_NONE)
		return;
	scribble_at.p = r->p + off;
	scribble_at.len = len;
	scribble_at.c = c;
	guarded(memset_fn, &scribble_at);
}

void *scribbler(void *arg)
{
	rng = *(uint64_t *)arg;
	while (!atomic_load(&W.stop)) {
		unsigned int i;

		/* a burst of writes, then a pause: racing, not starving */
		for (i = 0; i < 16; i++) {
			if (one_in(4))
				scribble_region();
			else
				scribble_once();
			count(OP_SCRIBBLE);
		}
		if (one_in(20)) {
			/* unmap a kernel ring under everyone, then map it again */
			do_munmap();
			do_mmap();
			count(OP_REMAP);
		}
		usleep(rnd(1000));
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * The peers: feed, drain, close and replace sockets and pipes.
 */

static void swap_pair(struct pair *p)
{
	int fds[3], a, b, wr;

	if (!make_pair(p, fds))
		return;
	/*
	 * dup2 over the old numbers: a command submitted with the old fd may
	 * meet the new socket, one in flight holds the old file.
	 */
	a = atomic_load(&p->a);
	b = atomic_load(&p->b);
	wr = atomic_exchange(&p->wr, fds[2]);
	if (wr >= 0)
		close(wr);
	if (one_in(2) && a >= 0 && b >= 0) {
		dup2(fds[0], a);
		dup2(fds[1], b);
		close(fds[0]);
		close(fds[1]);
		return;
	}
	atomic_store(&p->a, fds[0]);
	atomic_store(&p->b, fds[1]);
	if (a >= 0)
		close(a);
	if (b >= 0)
		close(b);
}

void peer_io(void)
{
	struct pair *p = &W.pair[rnd(NPAIR)];
	char buf[8192];
	int b = atomic_load(&p->b), a;
	unsigned int roll = rnd(100);
	ssize_t n;

	/* 2% close, 3% replace, 5% shutdown, 50% write, 40% drain */
	switch (roll < 2 ? 0 : roll < 5 ? 1 : roll < 10 ? 2 : roll < 60 ? 3 : 6) {
	case 0:	/* close one side under in-flight commands */
		if (one_in(2)) {
			a = atomic_exchange(&p->a, -1);
			if (a >= 0)
				close(a);
		} else {
			b = atomic_exchange(&p->b, -1);
			if (b >= 0)
				close(b);
		}
		break;
	case 1:
		swap_pair(p);
		count(OP_SOCK_SWAP);
		break;
	case 2:
		if (is_sock(p->kind))
			shutdown(b, (int)rnd(3));
		else if (W.nmisc && one_in(2)) {
			/* keep the regular file small: lending chains WRITE at its position */
			if (ftruncate(W.misc[0], 8192) == 0)
				lseek(W.misc[0], 0, SEEK_SET);
		}
		break;
	case 3:
	case 4:
	case 5:
		if (atomic_load(&p->a) < 0 || b < 0)
			swap_pair(p);
		/*
		 * A pipe or FIFO the module writes through a blocking file:
		 * the module's own WRITEs feed it. A peer racing them for
		 * the free slot could make such a write wait, as write(2)
		 * would (documented in pbuf_file_rwf()).
		 */
		if ((p->kind == P_PIPE || p->kind == P_FIFO) && p->wr_blocking)
			break;
		memset(buf, (int)rnd(256), sizeof(buf));
		n = 1 + rnd(one_in(4) ? sizeof(buf) : 512);
		if (!is_sock(p->kind))
			n = write(b, buf, n);
		else
			n = send(b, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	default:	/* drain what sends (and pty writes) delivered */
		if (p->kind == P_PTY && p->drain) {
			while (read(b, buf, sizeof(buf)) > 0)
				;
			break;
		}
		if (!is_sock(p->kind))
			break;
		while (recv(b, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
		break;
	}
	count(OP_PEER_IO);
}

void *peers(void *arg)
{
	rng = *(uint64_t *)arg;
	while (!atomic_load(&W.stop)) {
		peer_io();
		usleep(rnd(2000));
	}
	return NULL;
}
