// SPDX-License-Identifier: GPL-2.0
/*
 * Lending: a file sent to a socket in chunks (-o lend)
 *
 * The same page-cache file (tmpfs: the guest has no disk, and a static
 * file server's files are in the page cache anyway) goes to the same
 * socket in chunks of the same size, three ways:
 *
 *   chain     one IOPBUF_CMD_LEND per chunk: a slice of a registered buffer
 *             lent to [READ file -> slice, SEND slice -> socket, zero copy];
 *             qd chunks in flight, each on its own slice (the completion
 *             comes once the stack released the pages, so the slice is
 *             free again then)
 *   readsend  pread() into a user buffer, then send() it: two copies
 *   sendfile  sendfile(): the page-cache pages go to the socket by
 *             reference, no copy on the sender
 *
 * and, to show where the chain's CPU goes, its two halves and theirs:
 *
 *   lendsend  IOPBUF_CMD_LEND [SEND] of a slice that is already filled
 *   send      send() of a user buffer that is already filled
 *   lendread  IOPBUF_CMD_LEND [READ] into a slice, no socket (path "file")
 *   pread     pread() into a user buffer, no socket (path "file")
 *
 * Paths as the send matrix: the UDP sink (64 KiB becomes 60 KiB, larger
 * chunks do not fit a datagram; a chunk is one datagram for every method,
 * sendfile too) and TCP to the receiver in the other namespace. Sender CPU
 * as in b_run_one(); besides, the packets the interface transmitted, which
 * shows one datagram per chunk on UDP. Repetitions rotate the methods
 * within a cell as b_matrix() does.
 */

#include "bench.h"

enum l_method { L_CHAIN, L_READSEND, L_SENDFILE, L_LENDSEND, L_SEND,
		L_LENDREAD, L_PREAD, L_NR_METHODS };
static const char *const l_method_name[L_NR_METHODS] = {
	"chain", "readsend", "sendfile", "lendsend", "send", "lendread", "pread",
};
#define L_SOCK_METHODS	5		/* the first five need a socket */
#define L_FILE_PATH	B_NR_PATHS	/* no socket: the read halves */

static bool l_uses_module(enum l_method m)
{
	return m == L_CHAIN || m == L_LENDSEND || m == L_LENDREAD;
}

/* One timed run of one method. */
struct l_result {
	int path;			/* enum b_path, or L_FILE_PATH */
	enum l_method method;
	unsigned int chunk;
	unsigned int rep;
	unsigned long long bytes, chunks, notifs, copied, pkts;
	double wall, cpu, busy, softirq, probe_ns;
	int err;
};

static struct {
	int dev;
	struct io_uring ring;		/* CQE32, as B.ring */
	unsigned int ring_flags;
	bool ring_ok;
	int file;
	size_t file_len;
	unsigned char *slots;		/* registered buffer 0: qd slots */
	size_t slot_len, slots_len;
	unsigned char *ubuf;		/* the user buffer of read()/send() */
	struct iopbuf_lend chain[B_MAX_QD];
	__s64 results[B_MAX_QD][2];
	struct l_result *res;
	size_t nres, capres;
} L = { .dev = -1, .file = -1 };

struct l_run {
	int path;
	enum l_method method;
	unsigned int chunk;
	int sock;
	size_t off;			/* next file offset */
	unsigned int inflight;
	bool slot_busy[B_MAX_QD];
	unsigned long long bytes, chunks, notifs, copied;
	int err;
	__u64 tag;
};

static const char *l_path_name(int path)
{
	return path == L_FILE_PATH ? "file" : b_path_name[path];
}

/* The next chunk's file offset; the walk wraps at the end of the file. */
static size_t l_next_off(struct l_run *r)
{
	size_t off;

	if (r->off + r->chunk > L.file_len)
		r->off = 0;
	off = r->off;
	r->off += r->chunk;
	return off;
}

/* The chain of @r's method on slot @s; the next file chunk for READs. */
static void l_prep(struct l_run *r, struct io_uring_sqe *sqe, unsigned int s)
{
	struct iopbuf_lend *lend = &L.chain[s];
	unsigned int dir = 0;

	if (r->method != L_LENDSEND)
		dir |= IOPBUF_LEND_DIR_IN;
	if (r->method != L_LENDREAD)
		dir |= IOPBUF_LEND_DIR_OUT;
	iopbuf_lend_init(lend, IOPBUF_LEND_SRC_REGBUF, dir,
			 iopbuf_regbuf_encode(0, (__u64)s * L.slot_len),
			 r->chunk, 0);
	if (r->method != L_LENDSEND)
		iopbuf_lend_add(lend, IOPBUF_LEND_OP_READ, L.file, l_next_off(r),
				0, r->chunk);
	/* len 0: what the READ moved, or the whole slice without one */
	if (r->method != L_LENDREAD)
		iopbuf_lend_add(lend, IOPBUF_LEND_OP_SEND, r->sock, 0, 0, 0);
	lend->results = (__u64)(uintptr_t)L.results[s];
	iopbuf_prep_lend(sqe, L.dev, lend);
	io_uring_sqe_set_data64(sqe, r->tag << 8 | s);
	r->slot_busy[s] = true;
}

static void l_handle_cqe(struct l_run *r, struct io_uring_cqe *cqe)
{
	unsigned int s = cqe->user_data & 0xff;
	const struct iopbuf_lend *lend;

	if (cqe->user_data >> 8 != r->tag || s >= B_MAX_QD)
		return;		/* not ours (cannot happen after a clean drain) */
	lend = &L.chain[s];
	r->slot_busy[s] = false;
	r->inflight--;
	if (cqe->res < 0) {
		r->err = -cqe->res;
		return;
	}
	/* the last secondary's bytes: what reached the socket (or the slice) */
	r->bytes += L.results[s][lend->nr_ops - 1];
	r->chunks++;
	if (iopbuf_cqe_zc(cqe)) {
		r->notifs++;
		r->copied += iopbuf_cqe_zc_copied(cqe);
	}
}

/* Module methods: keep qd chains in flight until b_stop. */
static void l_loop_uring(struct l_run *r)
{
	while (!b_stop && !r->err) {
		struct io_uring_cqe *cqe;
		unsigned int s, head, n = 0;
		int ret;

		for (s = 0; s < B.o.qd && r->inflight < B.o.qd; s++) {
			struct io_uring_sqe *sqe;

			if (r->slot_busy[s])
				continue;
			sqe = io_uring_get_sqe(&L.ring);
			if (!sqe)
				break;
			l_prep(r, sqe, s);
			r->inflight++;
		}
		ret = io_uring_submit_and_wait(&L.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			r->err = -ret;
			break;
		}
		io_uring_for_each_cqe(&L.ring, head, cqe) {
			l_handle_cqe(r, cqe);
			n++;
		}
		io_uring_cq_advance(&L.ring, n);
	}
}

static void l_drain_cqe(void *arg, struct io_uring_cqe *cqe)
{
	l_handle_cqe(arg, cqe);
	io_uring_cqe_seen(&L.ring, cqe);
}

static int l_drain_uring(struct l_run *r)
{
	int ret = b_drain_ring(&L.ring, &r->inflight, l_drain_cqe, r);

	if (ret)
		b_err("lend %s %s %u: %u chains never completed: %s",
		      l_method_name[r->method], l_path_name(r->path),
		      r->chunk, r->inflight, strerror(-ret));
	return ret;
}

/* All of @len bytes of @buf to the socket; the timer may cut a send short. */
static int l_send_all(struct l_run *r, const unsigned char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(r->sock, buf + done, len - done, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += n;
	}
	r->bytes += done;
	return 0;
}

static int l_pread_all(struct l_run *r, unsigned char *buf)
{
	size_t off = l_next_off(r), done = 0;

	while (done < r->chunk) {
		ssize_t n = pread(L.file, buf + done, r->chunk - done, off + done);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return n ? -errno : -ENODATA;
		}
		done += n;
	}
	return 0;
}

/*
 * sendfile(). On UDP a chunk stays one datagram without UDP_CORK: splice
 * marks every page but the last MSG_MORE (6.1: MSG_SENDPAGE_NOTLAST, which
 * udp_sendpage() turns into MSG_MORE; later kernels pass the pipe's pages
 * in one sendmsg). The packet count of each run checks it.
 */
static int l_sendfile(struct l_run *r)
{
	off_t off = l_next_off(r);
	size_t done = 0;

	while (done < r->chunk) {
		ssize_t n = sendfile(r->sock, L.file, &off, r->chunk - done);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return n ? -errno : -ENODATA;
		}
		done += n;
	}
	r->bytes += done;
	return 0;
}

/* The methods without the module, one chunk at a time, until b_stop. */
static void l_loop_sync(struct l_run *r)
{
	while (!b_stop && !r->err) {
		int ret = 0;

		switch (r->method) {
		case L_READSEND:
			ret = l_pread_all(r, L.ubuf);
			if (!ret)
				ret = l_send_all(r, L.ubuf, r->chunk);
			break;
		case L_SEND:
			ret = l_send_all(r, L.ubuf, r->chunk);
			break;
		case L_SENDFILE:
			ret = l_sendfile(r);
			break;
		default:	/* L_PREAD */
			ret = l_pread_all(r, L.ubuf);
			if (!ret)
				r->bytes += r->chunk;
			break;
		}
		if (ret) {
			r->err = -ret;
			break;
		}
		r->chunks++;
	}
}

static void l_loop(struct l_run *r)
{
	if (l_uses_module(r->method))
		l_loop_uring(r);
	else
		l_loop_sync(r);
}

/* Packets the path's interface transmitted so far (0 if unknown). */
static unsigned long long l_tx_packets(int path)
{
	const char *ifname = path == B_UDP ? B_DUMMY_IF :
			     strcmp(B.tcp_kind, "loopback") ? B_VETH_A : "lo";
	unsigned long long v = 0;
	char p[96];
	FILE *f;

	if (path == L_FILE_PATH)
		return 0;
	snprintf(p, sizeof(p), "/sys/class/net/%s/statistics/tx_packets", ifname);
	f = fopen(p, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

static struct l_result *l_new_result(void)
{
	return b_new_elem(&L.res, &L.nres, &L.capres, sizeof(*L.res), 64);
}

static void l_print_result(const struct l_result *x)
{
	printf("LEND,%s,%s,%u,%s,%u,%llu,%.6f,%llu,%.6f,%.4f,%.4f,%llu,%llu,%llu,%d,%.0f\n",
	       B.kernel, l_path_name(x->path), x->chunk,
	       l_method_name[x->method], x->rep, x->bytes, x->wall, x->chunks,
	       x->cpu, x->busy, x->softirq, x->notifs, x->copied, x->pkts,
	       x->err, x->probe_ns);
}

/* Warm up, measure, drain: one row, as b_run_one(). */
static int l_run_one(int path, enum l_method method, unsigned int chunk,
		     unsigned int rep)
{
	struct l_run r = { .path = path, .method = method, .chunk = chunk,
			   .sock = -1 };
	/* b_socket() and b_close() for the socket: a plain one */
	struct b_run br = { .path = path, .mode = B_SEND, .fd = -1 };
	unsigned long long p0, p1;
	struct b_window w;
	double probe;
	struct l_result *x;
	int ret;

	r.tag = ++B.gen & 0xffffffffffffffULL;
	if (path != L_FILE_PATH) {
		ret = b_socket(&br);
		if (ret < 0) {
			b_err("lend %s %s: socket: %s", l_method_name[method],
			      l_path_name(path), strerror(-ret));
			return ret;
		}
		br.fd = r.sock = ret;
	}

	probe = b_probe();
	b_arm(B.o.warm_ms);
	l_loop(&r);
	r.bytes = r.chunks = r.notifs = r.copied = 0;
	p0 = l_tx_packets(path);
	b_window_open(&w, false);
	b_arm(B.o.run_ms);
	if (!r.err)
		l_loop(&r);
	b_disarm();
	if (l_uses_module(method) && l_drain_uring(&r))
		r.err = r.err ?: ETIME;
	b_window_close(&w);
	p1 = l_tx_packets(path);
	probe = (probe + b_probe()) / 2;
	b_close(&br);

	x = l_new_result();
	if (!x)
		return -ENOMEM;
	*x = (struct l_result){
		.path = path, .method = method, .chunk = chunk, .rep = rep,
		.bytes = r.bytes, .chunks = r.chunks, .notifs = r.notifs,
		.copied = r.copied, .pkts = p1 - p0,
		.wall = w.t1 - w.t0, .cpu = w.c1 - w.c0,
		.busy = w.busy1 - w.busy0, .softirq = w.si1 - w.si0,
		.probe_ns = probe, .err = r.err,
	};
	l_print_result(x);
	if (r.err) {
		b_err("lend %s %s %u: %s", l_method_name[method],
		      l_path_name(path), chunk, strerror(r.err));
		/* chains may be left in the ring: nothing after is valid */
		if (r.inflight)
			return -EIO;
	}
	return 0;
}

/* Registered slots, the user buffer, the file, a ring of our own. */
static int l_setup(void)
{
	struct iovec iov;
	struct iopbuf_buf_reg breg = { .iovs = (uintptr_t)&iov, .nr = 1 };
	char path[] = "/tmp/iopbuf-bench-lend-XXXXXX";
	unsigned int i;
	size_t done;
	int ret;

	for (i = 0; i < B.o.nr_chunks; i++)
		if (B.o.chunks[i] > L.slot_len)
			L.slot_len = B.o.chunks[i];
	L.slot_len = (L.slot_len + 4095) & ~4095UL;
	L.slots_len = L.slot_len * B.o.qd;
	L.slots = b_map(L.slots_len, false);
	L.ubuf = b_map(L.slot_len, false);
	L.file_len = B.o.file_bytes & ~(B_MiB - 1);
	if (L.file_len < L.slot_len)
		L.file_len = L.slot_len;
	if (!L.slots || !L.ubuf)
		return -ENOMEM;
	memset(L.slots, 0x5a, L.slots_len);
	memset(L.ubuf, 0xa5, L.slot_len);

	/* the file, in the page cache (tmpfs) and unlinked at once */
	L.file = mkostemp(path, O_CLOEXEC);
	if (L.file < 0)
		return -errno;
	unlink(path);
	for (done = 0; done < L.file_len; done += L.slot_len)
		if (pwrite(L.file, L.ubuf, L.slot_len, done) != (ssize_t)L.slot_len)
			return -EIO;

	L.dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (L.dev < 0)
		return -errno;
	iov = (struct iovec){ L.slots, L.slots_len };
	if (ioctl(L.dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg))
		return -errno;
	ret = b_ring_init(&L.ring, &L.ring_flags);
	if (ret)
		return ret;
	L.ring_ok = true;
	return 0;
}

static void l_teardown(void)
{
	if (L.ring_ok)
		io_uring_queue_exit(&L.ring);
	L.ring_ok = false;
	if (L.dev >= 0)
		close(L.dev);
	if (L.file >= 0)
		close(L.file);
	L.dev = L.file = -1;
	if (L.slots)
		munmap(L.slots, L.slots_len);
	if (L.ubuf)
		munmap(L.ubuf, L.slot_len);
	L.slots = L.ubuf = NULL;
}

/* Median and range over the repetitions of num / den, paired by repetition. */
static bool l_ratio(int path, unsigned int chunk, enum l_method num,
		    enum l_method den, double *med, double *lo, double *hi)
{
	double v[64];
	unsigned int n = 0;
	size_t i, j;

	for (i = 0; i < L.nres; i++) {
		const struct l_result *a = &L.res[i];

		if (a->path != path || a->chunk != chunk || a->method != num ||
		    a->err || !a->bytes)
			continue;
		for (j = 0; j < L.nres && n < 64; j++) {
			const struct l_result *b = &L.res[j];

			if (b->path != path || b->chunk != chunk ||
			    b->method != den || b->rep != a->rep || b->err ||
			    !b->bytes || !b->cpu)
				continue;
			v[n++] = (a->cpu / a->bytes) / (b->cpu / b->bytes);
		}
	}
	if (!n)
		return false;
	*lo = INFINITY;
	*hi = 0;
	for (i = 0; i < n; i++) {
		*lo = v[i] < *lo ? v[i] : *lo;
		*hi = v[i] > *hi ? v[i] : *hi;
	}
	*med = b_median(v, n);
	return true;
}

/* Whether @path runs: its setup worked and -P selected it. */
static bool l_path_ok(int path)
{
	if (path == L_FILE_PATH)
		return true;
	if (!b_path_ok(path))
		return false;
	return B.o.paths & (1U << path);
}

/*
 * The chunk sizes @path runs into @v (at most 2 * B_MAX_PAYLOADS): UDP's
 * as b_path_payload() makes them; the file path (the read halves) every
 * size a socket path uses, so that each half has its whole to compare to.
 */
static unsigned int l_chunks(int path, unsigned int *v)
{
	unsigned int ci, j, n = 0;
	int p;

	for (p = 0; p < B_NR_PATHS; p++) {
		if (path != L_FILE_PATH && p != path)
			continue;
		if (path == L_FILE_PATH && !l_path_ok(p))
			continue;
		for (ci = 0; ci < B.o.nr_chunks; ci++) {
			unsigned int c = b_path_payload(p, B.o.chunks[ci]);

			for (j = 0; j < n && v[j] != c; j++)
				;
			if (c && j == n)
				v[n++] = c;
		}
	}
	return n;
}

static void l_table(void)
{
	double cpg[64], mbs[64], med, lo, hi;
	unsigned int chunks[2 * B_MAX_PAYLOADS], nc, ci, n;
	int p, m;
	size_t i;

	printf("\n%-4s %-7s %-9s %14s %17s %9s %8s %8s\n", "path", "chunk",
	       "method", "cpu s/GiB", "(min..max)", "MiB/s", "copied", "pkt/chk");
	for (p = 0; p <= L_FILE_PATH; p++) {
		nc = l_path_ok(p) ? l_chunks(p, chunks) : 0;
		for (ci = 0; ci < nc; ci++) {
			unsigned int chunk = chunks[ci];

			for (m = 0; m < L_NR_METHODS; m++) {
				unsigned long long nt = 0, cp = 0, pk = 0, ch = 0;
				char share[16], ppc[16];

				lo = INFINITY;
				hi = 0;
				n = 0;
				for (i = 0; i < L.nres && n < 64; i++) {
					const struct l_result *x = &L.res[i];

					if (x->path != p || x->chunk != chunk ||
					    x->method != (enum l_method)m ||
					    x->err || !x->bytes)
						continue;
					cpg[n] = x->cpu / (x->bytes / B_GiB);
					mbs[n] = x->bytes / B_MiB / x->wall;
					lo = cpg[n] < lo ? cpg[n] : lo;
					hi = cpg[n] > hi ? cpg[n] : hi;
					nt += x->notifs;
					cp += x->copied;
					pk += x->pkts;
					ch += x->chunks;
					n++;
				}
				if (!n)
					continue;
				snprintf(share, sizeof(share), "-");
				if (nt)
					snprintf(share, sizeof(share), "%.0f%%",
						 100.0 * cp / nt);
				snprintf(ppc, sizeof(ppc), "-");
				if (p != L_FILE_PATH && ch)
					snprintf(ppc, sizeof(ppc), "%.2f",
						 (double)pk / ch);
				printf("%-4s %-7u %-9s %14.3f %8.3f..%-8.3f %9.0f %8s %8s\n",
				       l_path_name(p), chunk, l_method_name[m],
				       b_median(cpg, n), lo, hi, b_median(mbs, n),
				       share, ppc);
			}
			if (p == L_FILE_PATH)
				continue;
			if (l_ratio(p, chunk, L_CHAIN, L_READSEND, &med, &lo, &hi))
				printf("%-4s %-7u chain/readsend CPU per GiB %.2f (%.2f..%.2f)\n",
				       l_path_name(p), chunk, med, lo, hi);
			if (l_ratio(p, chunk, L_CHAIN, L_SENDFILE, &med, &lo, &hi))
				printf("%-4s %-7u chain/sendfile CPU per GiB %.2f (%.2f..%.2f)\n",
				       l_path_name(p), chunk, med, lo, hi);
		}
	}
}

/*
 * Repetitions of paths x chunks; within a cell the methods run back to
 * back in an order rotated from one repetition to the next (b_matrix()).
 */
int l_bench(void)
{
	unsigned int chunks[2 * B_MAX_PAYLOADS], nc, rep, ci, k, nm;
	int p, ret;

	ret = l_setup();
	if (ret) {
		b_err("lend: setup: %s", strerror(-ret));
		l_teardown();
		return ret;
	}
	printf("LENDINFO,%s,qd=%u,run_ms=%u,warm_ms=%u,reps=%u,file_bytes=%zu,slot_bytes=%zu,ring_flags=0x%x,tcp=%s\n",
	       B.kernel, B.o.qd, B.o.run_ms, B.o.warm_ms, B.o.reps, L.file_len,
	       L.slot_len, L.ring_flags, B.tcp_kind ? B.tcp_kind : "none");
	printf("LENDHDR,kernel,path,chunk,method,rep,bytes,wall_s,chunks,cpu_s,cpu_busy_s,softirq_s,notifs,copied,tx_packets,err,probe_ns\n");
	for (rep = 0; rep < B.o.reps && !ret; rep++) {
		b_log("lend: repetition %u of %u", rep + 1, B.o.reps);
		for (p = 0; p <= L_FILE_PATH && !ret; p++) {
			if (!l_path_ok(p))
				continue;
			nm = p == L_FILE_PATH ? L_NR_METHODS - L_SOCK_METHODS :
						L_SOCK_METHODS;
			nc = l_chunks(p, chunks);
			for (ci = 0; ci < nc && !ret; ci++) {
				for (k = 0; k < nm; k++) {
					enum l_method m = (k + rep + ci) % nm;

					if (p == L_FILE_PATH)
						m += L_SOCK_METHODS;
					if (l_run_one(p, m, chunks[ci], rep) == -EIO) {
						ret = -EIO;
						break;
					}
				}
			}
		}
	}
	if (B.o.table)
		l_table();
	l_teardown();
	return ret;
}


/* Forget the previous run's results (bench_run()). */
void l_reset(void)
{
	free(L.res);
	memset(&L, 0, sizeof(L));
	L.dev = L.file = -1;
}
