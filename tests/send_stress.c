// SPDX-License-Identifier: GPL-2.0
/*
 * send_stress: IOPBUF_CMD_SEND from several threads at once, for a
 * bounded time, to TCP loopback receivers that verify every byte and to a
 * UDP sink on a dummy interface (real zero copy).
 *
 * Each ring entry is one record: an 8-byte header (id, length) and a
 * pattern of (id, offset). The id holds the ring (writer) and the ring
 * position the entry was added at. A receiver parses its stream record by
 * record: a torn, shifted or foreign record fails, and so does a record
 * of a ring older than the previous one of that ring on the same socket
 * (commands on one socket must take the ring's entries in order). Every
 * completion names its entries (bid, nbufs); its res must be their bytes,
 * and they are rewritten with new records and put back into the ring at
 * once: the completion is the buffer release.
 *
 * Afterwards, every module-wide counter (pinned_pages, charged_pages,
 * contexts, inflight, notifs) is back to zero once all files are closed.
 */
#include "util.h"

#define RUN_MS		3000	/* how long the workers issue commands */
#define NSLOT		64	/* record slots per pool = ring entries */
#define SLOT_SIZE	20480
#define REC_MIN		8
#define REC_MAX		16384
#define QD		6	/* commands in flight per worker */
#define MAX_SOCKS	3
#define MAX_WORKERS	4
#define SHARED_WRITER	0xff

/* ------------------------------------------------------------------------
 * A pool: one ring, the registered buffer its entries name, and what the
 * application knows about the entries in it. Shared by the workers that
 * send from the ring, under @lock.
 */
struct pool {
	int dev;
	struct t_ring r;
	unsigned char *mem;		/* NSLOT slots of SLOT_SIZE bytes */
	unsigned int buf_index;		/* registered buffer index of mem */
	__u32 writer;			/* id of this ring in the records */
	pthread_mutex_t lock;
	/*
	 * bid added at each ring position. Not just the last NSLOT: entries
	 * consumed by a command whose completion is still to come may
	 * already have their ring slots rewritten by later refills.
	 */
	__u16 bid_at[1 << 16];
	__u16 pos_of[NSLOT];		/* ring position of a bid (= slot) */
	__u32 len_of[NSLOT];		/* record length in a slot */
};

static __u32 rec_len(__u32 seq)
{
	__u32 x = seq * 0x9E3779B1u;

	return REC_MIN + (x ^ x >> 13) % (REC_MAX - REC_MIN + 1);
}

/* Write the next record into @slot and append it to the ring (locked). */
static void pool_add_locked(struct pool *p, __u16 slot)
{
	__u16 pos = p->r.tail;
	__u32 id = p->writer << 24 | (pos & 0xffffffu);
	__u32 len = rec_len(id), off = slot * SLOT_SIZE + (pos * 37u) % 64;
	unsigned char *rec = p->mem + off;

	t_slice_fill(rec, len, id);
	memcpy(rec + 4, &len, 4);
	t_ring_add(&p->r, iopbuf_regbuf_encode(p->buf_index, off), len, slot);
	p->bid_at[pos] = slot;
	p->pos_of[slot] = pos;
	p->len_of[slot] = len;
}

/*
 * A completion released @nbufs entries from @bid on: put their slots back
 * with new records. Returns their bytes before the rewrite.
 */
static unsigned long long pool_release(struct pool *p, __u16 bid,
				       unsigned int nbufs)
{
	__u16 slots[NSLOT];
	unsigned long long bytes = 0;
	unsigned int i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < nbufs && i < NSLOT; i++) {
		slots[i] = p->bid_at[(__u16)(p->pos_of[bid] + i)];
		bytes += p->len_of[slots[i]];
	}
	for (i = 0; i < nbufs && i < NSLOT; i++)
		pool_add_locked(p, slots[i]);
	t_ring_publish(&p->r);
	pthread_mutex_unlock(&p->lock);
	return bytes;
}

/*
 * Buffer @buf_index (already registered on @dev) and a ring @bgid of
 * NSLOT entries, one record per slot. The records' first 16 bits of
 * position are the ring's tail, so a fresh ring starts at position 0.
 */
static bool pool_init(struct pool *p, int dev, unsigned char *mem,
		      unsigned int buf_index, unsigned int bgid, __u32 writer)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->dev = dev;
	p->mem = mem;
	p->buf_index = buf_index;
	p->writer = writer;
	pthread_mutex_init(&p->lock, NULL);
	if (!t_ring_init(&p->r, dev, NSLOT, bgid, IOPBUF_RING_REGBUF, 0))
		return false;
	for (i = 0; i < NSLOT; i++)
		pool_add_locked(p, (__u16)i);
	t_ring_publish(&p->r);
	return true;
}

static void pool_fini(struct pool *p)
{
	t_ring_fini(&p->r);
	pthread_mutex_destroy(&p->lock);
}

/* ------------------------------------------------------------------------
 * Receivers: parse and verify records until EOF.
 */

struct receiver {
	int fd;
	pthread_t thr;
	bool running;
	unsigned long long bytes, records;
	__u32 last_pos[256];		/* per writer, +1 (0: none yet) */
	char err[300];
};

/* Receive exactly @len bytes; 0 at a clean EOF before any, -1 otherwise. */
static int recv_exact(int fd, unsigned char *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, p + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 && got == 0 ? 0 : -1;
		got += (size_t)n;
	}
	return 1;
}

/* Check one record (header already in @rec); false with r->err set. */
static bool check_record(struct receiver *r, const unsigned char *rec,
			 __u32 id, __u32 len)
{
	__u32 writer = id >> 24, pos = id & 0xffffffu, off;

	for (off = 8; off < len; off++)
		if (rec[off] != t_slice_pat(id, off)) {
			snprintf(r->err, sizeof(r->err),
				 "record %#x (%u bytes) at stream byte %llu: byte %u is %#x, want %#x",
				 id, len, r->bytes, off, rec[off],
				 t_slice_pat(id, off));
			return false;
		}
	/* the 16-bit ring position wraps: compare modulo 2^16 */
	if (r->last_pos[writer] &&
	    (__s16)(pos - (r->last_pos[writer] - 1)) <= 0) {
		snprintf(r->err, sizeof(r->err),
			 "record %#x at stream byte %llu: ring %u position %u after position %u (out of ring order)",
			 id, r->bytes, writer, pos & 0xffff,
			 (r->last_pos[writer] - 1) & 0xffff);
		return false;
	}
	r->last_pos[writer] = pos + 1;
	return true;
}

static void *receiver_fn(void *arg)
{
	static __thread unsigned char rec[REC_MAX];
	struct receiver *r = arg;

	for (;;) {
		__u32 id, len;
		int ret = recv_exact(r->fd, rec, 8);

		if (ret == 0)
			break;
		if (ret < 0) {
			snprintf(r->err, sizeof(r->err),
				 "torn record header at stream byte %llu (%s)",
				 r->bytes, strerror(errno));
			break;
		}
		memcpy(&id, rec, 4);
		memcpy(&len, rec + 4, 4);
		if (len < REC_MIN || len > REC_MAX) {
			snprintf(r->err, sizeof(r->err),
				 "bad record header at stream byte %llu: id %#x length %u",
				 r->bytes, id, len);
			break;
		}
		if (recv_exact(r->fd, rec + 8, len - 8) != 1) {
			snprintf(r->err, sizeof(r->err),
				 "record %#x torn at stream byte %llu",
				 id, r->bytes);
			break;
		}
		if (!check_record(r, rec, id, len))
			break;
		r->bytes += len;
		r->records++;
	}
	return NULL;
}

static bool receiver_start(struct receiver *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	if (pthread_create(&r->thr, NULL, receiver_fn, r)) {
		FAILF("pthread_create failed");
		return false;
	}
	r->running = true;
	return true;
}

static void receiver_join(struct receiver *r)
{
	if (r->running)
		pthread_join(r->thr, NULL);
	r->running = false;
}

/* ------------------------------------------------------------------------
 * Workers: one io_uring each, sending from a pool to their sockets.
 */

struct worker {
	unsigned int idx;
	struct pool *pool;
	int dev;
	struct io_uring uring;
	bool have_uring;
	int socks[MAX_SOCKS];
	bool udp[MAX_SOCKS];
	unsigned int nsocks;
	unsigned int per_sock;		/* commands in flight per socket */
	unsigned int busy[MAX_SOCKS];
	unsigned long long sent[MAX_SOCKS];
	unsigned long long cmds, enobufs;
	unsigned int seed;
	pthread_t thr;
	char err[300];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A socket with room for another command, or -1. */
static int pick_sock(struct worker *w)
{
	unsigned int i, start = rand_r(&w->seed) % w->nsocks;

	for (i = 0; i < w->nsocks; i++) {
		unsigned int s = (start + i) % w->nsocks;

		if (w->busy[s] < w->per_sock)
			return (int)s;
	}
	return -1;
}

/*
 * Queue a command on socket @s: single or bundle at random. Bundle limits
 * never cut a record (each is at most REC_MAX bytes); UDP bundles stay
 * within 32 KiB, a datagram the sink takes zero copy.
 */
static bool queue_one(struct worker *w, unsigned int s)
{
	static const __u32 tcp_limits[] = { 0, REC_MAX, 40000 };
	bool bundle = rand_r(&w->seed) % 2;
	struct iopbuf_cmd_send cmd = {
		.fd = w->socks[s], .bgid = (__u16)w->pool->r.bgid,
		.flags = bundle ? IOPBUF_SEND_BUNDLE : 0,
	};

	if (bundle)
		cmd.len = w->udp[s] ? 32768 :
			  tcp_limits[rand_r(&w->seed) % H_ARRAY_SIZE(tcp_limits)];
	if (!h_prep_cmd(&w->uring, w->dev, IOPBUF_CMD_SEND, &cmd, sizeof(cmd),
			s)) {
		snprintf(w->err, sizeof(w->err), "no free SQE");
		return false;
	}
	w->busy[s]++;
	return true;
}

/* Check one completion and recycle its entries; false with w->err set. */
static bool handle_cqe(struct worker *w, const struct t_cqe *c)
{
	unsigned int s = (unsigned int)c->user_data;
	__u16 want = IOPBUF_CQE_F_BUFFER | IOPBUF_CQE_F_ZC |
		     (w->udp[s] ? 0 : IOPBUF_CQE_F_ZC_COPIED);
	unsigned long long bytes;

	w->busy[s]--;
	if (c->res == -ENOBUFS && !c->res2) {
		w->enobufs++;		/* other commands hold every entry */
		return true;
	}
	if (c->res <= 0 || t_nbufs(c) < 1 || t_nbufs(c) > NSLOT ||
	    t_cflags(c) != want) {
		snprintf(w->err, sizeof(w->err),
			 "%s send: res %s, bid %u, nbufs %u, flags %#x (want %#x)",
			 w->udp[s] ? "UDP" : "TCP", h_res(c->res), t_bid(c),
			 t_nbufs(c), t_cflags(c), want);
		return false;
	}
	bytes = pool_release(w->pool, t_bid(c), t_nbufs(c));
	if (bytes != (unsigned int)c->res) {
		snprintf(w->err, sizeof(w->err),
			 "send of %u entries from bid %u: res %d, but they hold %llu bytes",
			 t_nbufs(c), t_bid(c), c->res, bytes);
		return false;
	}
	w->sent[s] += bytes;
	w->cmds++;
	return true;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	double deadline = now_ms() + RUN_MS;
	unsigned int inflight = 0;

	while (now_ms() < deadline || inflight) {
		struct t_cqe c;
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_sec = 10 };
		unsigned int queued = 0;
		int s;

		while (now_ms() < deadline && inflight + queued < QD &&
		       (s = pick_sock(w)) >= 0) {
			if (!queue_one(w, (unsigned int)s))
				return NULL;
			queued++;
		}
		if (queued && io_uring_submit(&w->uring) != (int)queued) {
			snprintf(w->err, sizeof(w->err), "io_uring_submit failed");
			return NULL;
		}
		inflight += queued;
		if (!inflight)
			break;
		if (io_uring_wait_cqe_timeout(&w->uring, &cqe, &ts)) {
			snprintf(w->err, sizeof(w->err),
				 "no completion within 10 s (%u in flight)",
				 inflight);
			return NULL;
		}
		t_cqe_copy(&w->uring, cqe, &c);
		io_uring_cqe_seen(&w->uring, cqe);
		inflight--;
		if (!handle_cqe(w, &c))
			return NULL;
		if (c.res == -ENOBUFS)
			usleep(500);
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * A run: pools, workers, sockets, receivers
 */

struct run {
	struct pool pools[MAX_WORKERS];
	unsigned int npools;
	struct worker workers[MAX_WORKERS];
	unsigned int nworkers;
	int devs[MAX_WORKERS];
	unsigned char *mems[MAX_WORKERS];
	struct receiver rx[MAX_WORKERS * MAX_SOCKS];
	int rx_fd[MAX_WORKERS * MAX_SOCKS];
	unsigned long long *rx_sent[MAX_WORKERS * MAX_SOCKS];
	unsigned int nrx;
};

static void run_init(struct run *r)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < MAX_WORKERS; i++)
		r->devs[i] = -1;
	for (i = 0; i < MAX_WORKERS * MAX_SOCKS; i++)
		r->rx_fd[i] = -1;
	for (i = 0; i < MAX_WORKERS; i++) {
		unsigned int s;

		for (s = 0; s < MAX_SOCKS; s++)
			r->workers[i].socks[s] = -1;
		r->workers[i].dev = -1;
	}
}

/* Device @d with @n pool buffers registered (indexes 0 .. n-1). */
static bool run_dev(struct run *r, unsigned int d, unsigned int n,
		    unsigned int first_mem)
{
	struct iovec iov[MAX_WORKERS];
	unsigned int i;

	r->devs[d] = h_open();
	if (r->devs[d] < 0)
		return false;
	for (i = 0; i < n; i++) {
		r->mems[first_mem + i] = t_map_4k(NSLOT * SLOT_SIZE);
		if (!r->mems[first_mem + i])
			return false;
		iov[i] = (struct iovec){ r->mems[first_mem + i],
					 NSLOT * SLOT_SIZE };
	}
	return EXPECT_OK(h_register_iov(r->devs[d], iov, n));
}

/* Give worker @w a TCP connection with a verifying receiver. */
static bool add_tcp(struct run *r, struct worker *w, int family)
{
	int fds[2];

	if (!t_tcp_pair_buf(family, fds, 0))
		return false;
	r->rx_fd[r->nrx] = fds[0];
	w->socks[w->nsocks] = fds[1];
	w->udp[w->nsocks] = false;
	r->rx_sent[r->nrx] = &w->sent[w->nsocks];
	w->nsocks++;
	return receiver_start(&r->rx[r->nrx++], fds[0]);
}

static bool add_sink(struct worker *w, int family)
{
	int fd = t_sink_socket(family);

	if (fd < 0)
		return false;
	w->socks[w->nsocks] = fd;
	w->udp[w->nsocks++] = true;
	return true;
}

static bool worker_setup(struct worker *w, unsigned int idx, struct pool *p,
			 unsigned int per_sock)
{
	w->idx = idx;
	w->pool = p;
	w->dev = p->dev;
	w->per_sock = per_sock;
	w->seed = 0x5eed + idx;
	w->have_uring = h_uring_init2(&w->uring, 2 * QD, IORING_SETUP_CQE32);
	return w->have_uring;
}

/*
 * Run the workers, then close the streams and check: no worker or
 * receiver error, each receiver got exactly the bytes its socket's
 * completions reported.
 */
static void run_go(struct run *r)
{
	unsigned long long total = 0, cmds = 0, enobufs = 0, records = 0;
	unsigned int i, s;

	for (i = 0; i < r->nworkers; i++)
		if (pthread_create(&r->workers[i].thr, NULL, worker_fn,
				   &r->workers[i])) {
			FAILF("pthread_create failed");
			r->nworkers = i;
			break;
		}
	for (i = 0; i < r->nworkers; i++)
		pthread_join(r->workers[i].thr, NULL);
	for (i = 0; i < r->nworkers; i++) {
		struct worker *w = &r->workers[i];

		for (s = 0; s < w->nsocks; s++)
			if (!w->udp[s])
				shutdown(w->socks[s], SHUT_WR);
		if (w->err[0])
			FAILF("worker %u: %s", i, w->err);
		cmds += w->cmds;
		enobufs += w->enobufs;
		for (s = 0; s < w->nsocks; s++)
			total += w->sent[s];
	}
	for (i = 0; i < r->nrx; i++) {
		receiver_join(&r->rx[i]);
		if (r->rx[i].err[0])
			FAILF("receiver %u: %s", i, r->rx[i].err);
		else
			EXPECT_EQ(r->rx[i].bytes, *r->rx_sent[i]);
		records += r->rx[i].records;
	}
	h_note("%llu commands (%llu found the ring empty), %.1f MiB sent, %llu TCP records verified",
	       cmds, enobufs, total / 1048576.0, records);
	EXPECT(cmds > 0);
}

static void run_fini(struct run *r)
{
	unsigned int i, s;

	for (i = 0; i < MAX_WORKERS * MAX_SOCKS; i++) {
		if (i < r->nrx && r->rx[i].running) {
			shutdown(r->rx_fd[i], SHUT_RDWR);
			receiver_join(&r->rx[i]);
		}
		h_close(&r->rx_fd[i]);
	}
	for (i = 0; i < MAX_WORKERS; i++) {
		struct worker *w = &r->workers[i];

		if (w->have_uring)
			io_uring_queue_exit(&w->uring);
		for (s = 0; s < MAX_SOCKS; s++)
			h_close(&w->socks[s]);
	}
	for (i = 0; i < r->npools; i++)
		pool_fini(&r->pools[i]);
	for (i = 0; i < MAX_WORKERS; i++) {
		h_close(&r->devs[i]);
		h_unmap(r->mems[i], NSLOT * SLOT_SIZE);
	}
}

/* Pool @i: buffer @buf_index of @dev, memory r->mems[i], ring @bgid. */
static bool run_pool(struct run *r, unsigned int i, int dev,
		     unsigned int buf_index, unsigned int bgid, __u32 writer)
{
	if (!pool_init(&r->pools[i], dev, r->mems[i], buf_index, bgid, writer))
		return false;
	r->npools++;
	return true;
}

/* Worker @i on pool @p, @per_sock commands in flight per TCP socket. */
static struct worker *run_worker(struct run *r, unsigned int i,
				 struct pool *p, unsigned int per_sock)
{
	if (!worker_setup(&r->workers[i], i, p, per_sock))
		return NULL;
	r->nworkers++;
	return &r->workers[i];
}

/* Run and check what was set up (only if all of it was), then clean up. */
static void run_end(struct run *r, bool ok)
{
	if (ok)
		run_go(r);
	run_fini(r);
}

/* ------------------------------------------------------------------------
 * Cases
 */

/*
 * Four workers, each with its own io_uring and ring, sending to two TCP
 * receivers (IPv4 and IPv6) and the UDP sink, one command in flight per
 * TCP socket and up to QD overall. Workers 0 and 1 have a device context
 * each; 2 and 3 share one (two rings, two buffers in one table).
 */
static void own_rings(void)
{
	struct run r;
	unsigned int i;
	bool ok;

	run_init(&r);
	ok = run_dev(&r, 0, 1, 0) && run_dev(&r, 1, 1, 1) &&
	     run_dev(&r, 2, 2, 2);
	for (i = 0; ok && i < 4; i++) {
		struct worker *w;

		ok = run_pool(&r, i, r.devs[i < 2 ? i : 2], i < 2 ? 0 : i - 2,
			      10 + i, i) &&
		     (w = run_worker(&r, i, &r.pools[i], 1)) &&
		     add_tcp(&r, w, AF_INET) && add_tcp(&r, w, AF_INET6) &&
		     add_sink(w, AF_INET);
	}
	run_end(&r, ok);
	t_counters_idle();
}

/*
 * The shared-ring run, in a child without CAP_IPC_LOCK (so its pinned
 * memory is charged to RLIMIT_MEMLOCK and charged_pages moves too): one
 * device, one ring, four workers with their own io_urings taking entries
 * from it, each sending to one TCP receiver and the UDP sink. Commands
 * from different workers interleave on the ring; per socket, records still
 * come in ring order.
 */
static void shared_ring_child(void *arg)
{
	struct run r;
	unsigned int i;
	bool ok;

	(void)arg;
	run_init(&r);
	ok = EXPECT_OK(h_set_memlock(64 << 20)) && h_drop_ipc_lock() &&
	     run_dev(&r, 0, 1, 0) &&
	     run_pool(&r, 0, r.devs[0], 0, 20, SHARED_WRITER);
	if (ok)
		EXPECT(h_sysfs_read("charged_pages") > 0);
	for (i = 0; ok && i < 4; i++) {
		int af = i % 2 ? AF_INET6 : AF_INET;
		struct worker *w;

		ok = (w = run_worker(&r, i, &r.pools[0], 1)) &&
		     add_tcp(&r, w, af) && add_sink(w, af);
	}
	run_end(&r, ok);
}

static void shared_ring(void)
{
	h_in_child(shared_ring_child, NULL);
	t_counters_idle();
}

/*
 * Several commands in flight on one TCP socket under load: two workers,
 * each with its own ring and one TCP receiver, four commands in flight on
 * it. Ring order must hold (the receiver checks positions): a command's
 * data must not be overtaken by a later command's.
 */
static void tcp_multi_inflight(void)
{
	struct run r;
	unsigned int i;
	bool ok;

	run_init(&r);
	ok = run_dev(&r, 0, 2, 0);
	for (i = 0; ok && i < 2; i++) {
		struct worker *w;

		ok = run_pool(&r, i, r.devs[0], i, 30 + i, i) &&
		     (w = run_worker(&r, i, &r.pools[i], 4)) &&
		     add_tcp(&r, w, AF_INET);
	}
	run_end(&r, ok);
	t_counters_idle();
}

static void counters_zero(void)
{
	t_counters_idle();
}

int main(void)
{
	h_init("send_stress");
	t_counters_init();

	RUN(own_rings);
	RUN(shared_ring);
	RUN(tcp_multi_inflight);

	t_sink_down();
	RUN(counters_zero);
	return h_exit();
}
