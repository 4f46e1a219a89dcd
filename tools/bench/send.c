// SPDX-License-Identifier: GPL-2.0
/*
 * bench: one run of one sender in one cell, the matrix of cells, the
 * summary table and the target cells (-o targets).
 */

#include "bench.h"

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

void b_prep(struct b_run *r, struct io_uring_sqe *sqe)
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

/* A copy or SEND_ZC request completed with @res: one request, one buffer. */
static void b_count_send(struct b_run *r, int res)
{
	if (res < 0) {
		r->err = -res;
		return;
	}
	r->bytes += res;
	r->reqs++;
	r->bufs++;
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
		b_count_send(r, cqe->res);
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
		b_count_send(r, cqe->res);
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

static void b_drain_cqe(void *arg, struct io_uring_cqe *cqe)
{
	(void)cqe;	/* b_reap() takes it and whatever else has come */
	b_reap(arg);
}

int b_drain_uring(struct b_run *r)
{
	int ret = b_drain_ring(&B.ring, &r->inflight, b_drain_cqe, r);

	if (ret)
		b_err("%s %s %u: %u requests never completed: %s",
		      b_mode_name[r->mode], b_path_name[r->path],
		      r->payload, r->inflight, strerror(-ret));
	return ret;
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

int b_socket(struct b_run *r)
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
void b_close(struct b_run *r)
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
	return b_new_elem(&B.res, &B.nres, &B.capres, sizeof(*B.res), 256);
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

/* Warm up, measure, drain: one row. */
int b_run_one(enum b_path path, enum b_temp temp, enum b_mode mode,
		     unsigned int payload, unsigned int rep)
{
	struct b_run r = { .path = path, .temp = temp, .mode = mode,
			   .payload = payload, .fd = -1 };
	struct b_window w;
	struct b_result *x;
	double probe;
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
	b_window_open(&w, true);
	b_arm(B.o.run_ms);
	if (!r.err)
		b_loop(&r);
	b_disarm();
	b_drain(&r);
	b_window_close(&w);
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
	x->wall = w.t1 - w.t0;
	x->cpu = w.c1 - w.c0;
	x->cpu_ru = w.u1 - w.u0;
	x->busy = w.busy1 - w.busy0;
	x->softirq = w.si1 - w.si0;
	x->busy_all = b_busy_all(x->wall, w.idle0, w.idle1);
	x->busy_tasks = w.tasks0 >= 0 && w.tasks1 >= 0 ?
			(w.tasks1 - w.tasks0) / 1e9 + x->cpu : NAN;
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
unsigned int b_path_payload(enum b_path path, unsigned int payload)
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
int b_matrix(unsigned int paths, const unsigned int *payloads,
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

double b_median(double *v, unsigned int n)
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
void b_table(void)
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
int b_targets(void)
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
