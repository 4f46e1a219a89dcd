// SPDX-License-Identifier: GPL-2.0
/*
 * bvec import microbenchmark
 *
 * Two registered buffers of the same size: A with 4 KiB pages
 * (MADV_NOHUGEPAGE), H with 2 MiB huge pages (hugetlbfs via MAP_HUGETLB, or
 * THP with MADV_HUGEPAGE when no hugetlb pages can be reserved).
 *
 *  - registration: time of IOPBUF_IOC_REGISTER_BUFFERS for each (pinning
 *    and building the folio runs), and the runs ("segs") and pinned pages
 *    fdinfo reports for it;
 *  - segments per slice, observed: the module refuses a command whose
 *    bundle needs more than max_bundle_segs bio_vecs with -E2BIG before
 *    sending anything. A bundle of [b pages of A, page aligned] + [the
 *    slice] needs b + s segments (A's pages are separate folios, so every
 *    page is a segment, which fdinfo confirms; the two entries are in
 *    different buffers, so they never merge). The largest b that does not
 *    fail gives s = max_bundle_segs - b exactly (binary search);
 *  - time per import: the slice alone sent, with IOPBUF_CMD_SEND, on an
 *    unconnected UDP socket: the module selects the entry and imports it,
 *    then sock_sendmsg() fails at once (-EDESTADDRREQ, -EMSGSIZE above
 *    64 KiB) and nothing is consumed. Wall and CPU time per command over
 *    many commands, qd in flight; minus the same for a 1-byte slice, that
 *    is the import's share (segment building, bio_vec array growth). The
 *    same 64 KiB as 16 ring entries of 4 KiB (a bundle) shows the cost per
 *    entry;
 *  - reference rows on the same ring and thread: IORING_OP_NOP; a native
 *    SEND_ZC of one fixed-buffer byte failing the same way (what the
 *    module's failing command corresponds to in io_uring); IOPBUF_CMD_PROBE
 *    (a uring_cmd completed inline); IOPBUF_CMD_SEND naming no ring (the
 *    command allocated and freed, nothing else); getppid(), uname() and
 *    getcwd() (which allocates and frees a name buffer) as a scale.
 */

#include "bench.h"

static int b_fdinfo_buf(int dev, unsigned int index, unsigned long long *len,
			unsigned int *segs, unsigned long *pinned)
{
	char path[64], line[256];
	unsigned int i;
	unsigned long long addr;
	int found = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", dev);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " buf %u: 0x%llx len %llu segs %u pinned %lu",
			   &i, &addr, len, segs, pinned) == 5 && i == index) {
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

struct b_bv {
	int dev;
	struct io_uring ring;		/* CQE32 */
	struct iopbuf_buf *mring;	/* 4 entries */
	int sock;			/* unconnected UDP */
	unsigned int max_segs;
	void *fixed;			/* io_uring fixed buffer 0 */
};

static void b_bv_set(struct b_bv *v, unsigned int n, const __u64 *addr,
		     const __u32 *len)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		v->mring[i].addr = addr[i];
		v->mring[i].len = len[i];
		v->mring[i].bid = i;
	}
	/* the kernel head stays 0: failing commands consume nothing */
	__atomic_store_n(iopbuf_ring_tail(v->mring), (unsigned short)n,
			 __ATOMIC_RELEASE);
}

enum { B_BV_MODULE, B_BV_BUNDLE, B_BV_NOP, B_BV_SENDZC, B_BV_PROBE,
       B_BV_NORING, B_BV_GETPPID, B_BV_UNAME, B_BV_GETCWD };

/*
 * Plain system calls, as a scale for the rows above: getppid() does
 * nothing, uname() copies a struct out, getcwd() also allocates and frees
 * a page-sized name buffer (kmem_cache_alloc/free) around its copy.
 */
static int b_bv_syscalls(int kind, unsigned int n, double *wall, double *cpu)
{
	double t0 = b_now(), c0 = b_thread_cpu();
	struct utsname u;
	char buf[256];
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (kind == B_BV_GETPPID)
			syscall(SYS_getppid);
		else if (kind == B_BV_UNAME)
			uname(&u);
		else if (!getcwd(buf, sizeof(buf)))
			return -errno;
	}
	*wall = b_now() - t0;
	*cpu = b_thread_cpu() - c0;
	return 0;
}

/*
 * Issue @n requests of @kind (qd in flight); return the first result.
 * B_BV_MODULE/B_BV_BUNDLE: IOPBUF_CMD_SEND of the ring head (1 entry / a
 * bundle); B_BV_NOP: IORING_OP_NOP; B_BV_SENDZC: IORING_OP_SEND_ZC of one
 * byte of fixed buffer 0 (done when its notification arrives); B_BV_PROBE:
 * IOPBUF_CMD_PROBE (completes inline); B_BV_NORING: IOPBUF_CMD_SEND naming
 * a ring that does not exist (fails after allocating the command).
 */
static int b_bv_cmds(struct b_bv *v, unsigned int n, int kind, double *wall,
		     double *cpu)
{
	struct iopbuf_cmd_send cmd = { .fd = v->sock, .bgid = 1 };
	struct iopbuf_probe pr;
	struct iopbuf_cmd_probe pcmd = { .addr = (uintptr_t)&pr, .len = sizeof(pr) };
	unsigned int sent = 0, done = 0, inflight = 0;
	double t0 = b_now(), c0 = b_thread_cpu();
	int first = INT_MIN;

	if (kind >= B_BV_GETPPID)
		return b_bv_syscalls(kind, n, wall, cpu);
	if (kind == B_BV_BUNDLE)
		cmd.flags = IOPBUF_SEND_BUNDLE;
	if (kind == B_BV_NORING)
		cmd.bgid = 2;
	while (done < n) {
		struct io_uring_cqe *cqe;
		unsigned int head, k = 0, fin = 0;
		int ret;

		while (sent < n && inflight < B.o.qd) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&v->ring);

			if (!sqe)
				break;
			memset(sqe, 0, sizeof(*sqe));
			if (kind == B_BV_NOP) {
				io_uring_prep_nop(sqe);
			} else if (kind == B_BV_SENDZC) {
				io_uring_prep_send_zc_fixed(sqe, v->sock, v->fixed, 1,
							    0, 0, 0);
			} else if (kind == B_BV_PROBE) {
				sqe->opcode = IORING_OP_URING_CMD;
				sqe->fd = v->dev;
				sqe->cmd_op = IOPBUF_CMD_PROBE;
				memcpy(sqe->cmd, &pcmd, sizeof(pcmd));
			} else {
				sqe->opcode = IORING_OP_URING_CMD;
				sqe->fd = v->dev;
				sqe->cmd_op = IOPBUF_CMD_SEND;
				memcpy(sqe->cmd, &cmd, sizeof(cmd));
			}
			sent++;
			inflight++;
		}
		ret = io_uring_submit_and_wait(&v->ring, 1);
		if (ret < 0 && ret != -EINTR)
			return ret;
		io_uring_for_each_cqe(&v->ring, head, cqe) {
			k++;
			if (cqe->flags & IORING_CQE_F_NOTIF) {
				fin++;
				continue;
			}
			if (first == INT_MIN)
				first = cqe->res;
			if (!(cqe->flags & IORING_CQE_F_MORE))
				fin++;
		}
		io_uring_cq_advance(&v->ring, k);
		done += fin;
		inflight -= fin;
	}
	if (wall)
		*wall = b_now() - t0;
	if (cpu)
		*cpu = b_thread_cpu() - c0;
	return first;
}

/* Ring entries: [@ballast pages of buffer 0] + the slice as @nent entries. */
static void b_bv_slice(struct b_bv *v, unsigned int ballast, unsigned int index,
		       __u64 off, __u32 len, unsigned int nent)
{
	__u64 addr[33];
	__u32 lens[33];
	unsigned int n = 0, j;

	if (ballast) {
		addr[n] = iopbuf_regbuf_encode(0, 0);
		lens[n++] = ballast * 4096;
	}
	for (j = 0; j < nent && n < 33; j++) {
		addr[n] = iopbuf_regbuf_encode(index, off + (__u64)j * (len / nent));
		lens[n++] = len / nent;
	}
	b_bv_set(v, n, addr, lens);
}

/* Segments the slice becomes (as @nent entries); -1 if it exceeds max. */
static int b_bv_segs(struct b_bv *v, unsigned int index, __u64 off, __u32 len,
		     unsigned int nent)
{
	unsigned int lo = 0, hi = v->max_segs;	/* lo passes, hi unknown */
	int ret;

	b_bv_slice(v, 0, index, off, len, nent);
	ret = b_bv_cmds(v, 1, B_BV_BUNDLE, NULL, NULL);
	if (ret == -E2BIG)
		return -1;
	/* largest ballast b (pages of buffer 0) that still imports */
	while (lo < hi) {
		unsigned int mid = (lo + hi + 1) / 2;

		b_bv_slice(v, mid, index, off, len, nent);
		ret = b_bv_cmds(v, 1, B_BV_BUNDLE, NULL, NULL);
		if (ret == -E2BIG)
			hi = mid - 1;
		else
			lo = mid;
	}
	return v->max_segs - lo;
}

/* Expected segments of a slice from a buffer's geometry. */
static int b_bv_expect(unsigned long long off, unsigned long long len,
		       unsigned long long unit)
{
	return (int)((off + len - 1) / unit - off / unit + 1);
}

/* Free 2 MiB hugetlb pages; raise nr_hugepages so that @want are free. */
static void b_hugepages_reserve(unsigned long want)
{
	const char *dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
	unsigned long nr = 0, nfree = 0;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/free_hugepages", dir);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fscanf(f, "%lu", &nfree) != 1)
		nfree = 0;
	fclose(f);
	if (nfree >= want)
		return;
	snprintf(path, sizeof(path), "%s/nr_hugepages", dir);
	f = fopen(path, "r+");
	if (!f)
		return;
	if (fscanf(f, "%lu", &nr) == 1) {
		if (B.hugepages_orig < 0)
			B.hugepages_orig = nr;
		rewind(f);
		fprintf(f, "%lu\n", nr + want - nfree);
	}
	fclose(f);
}

void b_hugepages_restore(void)
{
	FILE *f;

	if (B.hugepages_orig < 0)
		return;
	f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "w");
	if (f) {
		fprintf(f, "%ld\n", B.hugepages_orig);
		fclose(f);
	}
	B.hugepages_orig = -1;
}

/*
 * @len bytes on 2 MiB pages: hugetlbfs (MAP_HUGETLB) if pages can be
 * reserved, else THP (MADV_HUGEPAGE on an aligned range), touched.
 * *map and *map_len receive what to munmap.
 */
void *b_huge_map(size_t len, char *backing, size_t blen, void **map,
			size_t *map_len)
{
	unsigned char *p;

	b_hugepages_reserve(len / (2 * B_MiB));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
	if (p != MAP_FAILED) {
		memset(p, 0x5a, len);
		snprintf(backing, blen, "hugetlb");
		*map = p;
		*map_len = len;
		return p;
	}
	p = mmap(NULL, len + 2 * B_MiB, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*map = p;
	*map_len = len + 2 * B_MiB;
	p = (unsigned char *)(((uintptr_t)p + 2 * B_MiB - 1) & ~(2 * B_MiB - 1));
	madvise(p, len, MADV_HUGEPAGE);
	memset(p, 0x5a, len);
	snprintf(backing, blen, "thp");
	return p;
}

static void b_bvec_row(struct b_bv *v, const char *backing, unsigned int index,
		       unsigned long long unit, const char *what,
		       unsigned long long off, unsigned long long len,
		       unsigned int nent, int kind)
{
	struct b_bvec_result *x;

	if (B.nbv >= sizeof(B.bv) / sizeof(B.bv[0]))
		return;
	x = &B.bv[B.nbv++];
	memset(x, 0, sizeof(*x));
	snprintf(x->backing, sizeof(x->backing), "%s", backing);
	snprintf(x->what, sizeof(x->what), "%s", what);
	x->index = index;
	x->off = off;
	x->len = len;
	x->nent = nent;
	x->kind = kind;
	x->expect = x->segs = -1;
	if (kind != B_BV_MODULE)
		return;
	/* consecutive entries merge where they are physically contiguous */
	x->expect = b_bv_expect(off, len, unit);
	x->segs = b_bv_segs(v, index, off, len, nent);
}

/* One timed sample of every row, @rep-th time. */
static void b_bvec_time(struct b_bv *v, unsigned int rep)
{
	unsigned int k, j;

	for (j = 0; j < B.nbv; j++) {
		struct b_bvec_result *x = &B.bv[(j + rep) % B.nbv];
		double wall = 0, cpu = 0;

		b_bv_slice(v, 0, x->index, x->off, x->len, x->nent);
		x->res = b_bv_cmds(v, B.o.bvec_cmds,
				   x->kind == B_BV_MODULE && x->nent > 1 ?
				   B_BV_BUNDLE : x->kind, &wall, &cpu);
		k = rep < 8 ? rep : 7;
		x->wall_s[k] = wall * 1e9 / B.o.bvec_cmds;
		x->cpu_s[k] = cpu * 1e9 / B.o.bvec_cmds;
	}
}

int b_bvec_bench(void)
{
	size_t len = B.o.bvec_bytes;
	struct iopbuf_ring_reg rreg = { .bgid = 1, .ring_entries = 64,
					.flags = IOPBUF_RING_REGBUF };
	struct iovec iov[2];
	struct iopbuf_buf_reg breg = { .iovs = (uintptr_t)iov };
	struct iopbuf_probe pr;
	struct b_bv v = { .dev = -1, .sock = -1 };
	unsigned char *a, *h;
	void *hmap = NULL;
	size_t hmap_len = 0;
	char backing[16];
	const char *names[2] = { "4k", backing };
	unsigned long long unit[2] = { 4096, 2 * B_MiB };
	double base = 0;
	unsigned int k;
	int ret = 0, i, r;

	if (len < 8 * B_MiB)
		len = 8 * B_MiB;
	len &= ~(2 * B_MiB - 1);
	a = b_map(len, false);
	h = b_huge_map(len, backing, sizeof(backing), &hmap, &hmap_len);
	if (!a || !h) {
		b_err("bvec: no memory for two %zu-byte buffers", len);
		return -ENOMEM;
	}
	memset(a, 0x5a, len);
	snprintf(B.bvec_backing, sizeof(B.bvec_backing), "%s", backing);
	iov[0] = (struct iovec){ a, len };
	iov[1] = (struct iovec){ h, len };

	v.dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (v.dev < 0 || ioctl(v.dev, IOPBUF_IOC_PROBE, &pr)) {
		b_err("bvec: %s: %s", IOPBUF_DEVICE_PATH, strerror(errno));
		return -errno;
	}
	v.max_segs = pr.max_bundle_segs;

	/* registration of each buffer alone, a few times */
	printf("BVECREGHDR,kernel,backing,len,segs,pinned,us_per_register\n");
	for (i = 0; i < 2; i++) {
		double t[5];
		unsigned long long blen = 0;
		unsigned int segs = 0;
		unsigned long pinned = 0;

		for (r = 0; r < 5; r++) {
			double t0 = b_now();

			breg.iovs = (uintptr_t)&iov[i];
			breg.nr = 1;
			if (ioctl(v.dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg)) {
				b_err("bvec: register %s: %s", names[i], strerror(errno));
				ret = -errno;
				goto out;
			}
			t[r] = b_now() - t0;
			b_fdinfo_buf(v.dev, 0, &blen, &segs, &pinned);
			ioctl(v.dev, IOPBUF_IOC_UNREGISTER_BUFFERS);
		}
		printf("BVECREG,%s,%s,%llu,%u,%lu,%.0f\n", B.kernel, names[i],
		       blen, segs, pinned, b_median(t, 5) * 1e6);
		if (i == 0 && segs != len / 4096)
			b_log("4k buffer has %u runs for %zu pages: ballast counts are off",
			      segs, len / 4096);
	}

	breg.iovs = (uintptr_t)iov;
	breg.nr = 2;
	if (ioctl(v.dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg)) {
		ret = -errno;
		b_err("bvec: register both: %s", strerror(errno));
		goto out;
	}
	v.mring = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rreg.ring_addr = (uintptr_t)v.mring;
	if (v.mring == MAP_FAILED || ioctl(v.dev, IOPBUF_IOC_REGISTER_RING, &rreg)) {
		ret = -errno;
		b_err("bvec: ring: %s", strerror(errno));
		goto out;
	}
	ret = io_uring_queue_init(64, &v.ring, IORING_SETUP_CQE32);
	if (ret) {
		b_err("bvec: io_uring: %s", strerror(-ret));
		goto out;
	}
	v.sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	v.fixed = a;
	B.ring_ok_bv = !io_uring_register_buffers(&v.ring, &iov[0], 1);

	for (i = 0; i < 2; i++) {
		struct {
			const char *what;
			unsigned long long off, len;
			unsigned int nent;
		} s[] = {
			{ "1B", 0, 1, 1 },
			{ "4K", 0, 4096, 1 },
			{ "64K", 0, 64 * B_KiB, 1 },
			{ "64K+2K", 2048, 64 * B_KiB, 1 },
			{ "1M", 0, B_MiB, 1 },
			{ "2M", 0, 2 * B_MiB, 1 },
			{ "1M@1.5M", 3 * B_MiB / 2, B_MiB, 1 },
			{ "4M", 0, 4 * B_MiB, 1 },
			/* the same 64 KiB as 16 ring entries of 4 KiB */
			{ "16x4K", 0, 64 * B_KiB, 16 },
		};
		unsigned int k;

		for (k = 0; k < sizeof(s) / sizeof(s[0]); k++) {
			if (s[k].off + s[k].len > len)
				continue;
			b_bvec_row(&v, names[i], i, unit[i], s[k].what, s[k].off,
				   s[k].len, s[k].nent, B_BV_MODULE);
			if (i == 1 && !strcmp(s[k].what, "2M")) {
				B.huge_checked = true;
				B.huge_one_seg_ok = B.bv[B.nbv - 1].segs == 1;
			}
		}
	}
	/* fixed costs: an io_uring NOP, a native SEND_ZC failing the same way */
	b_bvec_row(&v, "native", 0, 4096, "NOP", 0, 1, 1, B_BV_NOP);
	b_bvec_row(&v, "module", 0, 4096, "PROBE", 0, 1, 1, B_BV_PROBE);
	b_bvec_row(&v, "module", 0, 4096, "SEND-no-ring", 0, 1, 1, B_BV_NORING);
	b_bvec_row(&v, "syscall", 0, 4096, "getppid", 0, 1, 1, B_BV_GETPPID);
	b_bvec_row(&v, "syscall", 0, 4096, "uname", 0, 1, 1, B_BV_UNAME);
	b_bvec_row(&v, "syscall", 0, 4096, "getcwd", 0, 1, 1, B_BV_GETCWD);
	if (B.ring_ok_bv)
		b_bvec_row(&v, "native", 0, 4096, "SEND_ZC-1B", 0, 1, 1,
			   B_BV_SENDZC);
	/* warm-up, then interleaved samples of all rows */
	b_bvec_time(&v, 0);
	for (r = 0; r < 5; r++)
		b_bvec_time(&v, r);
	printf("BVECHDR,kernel,backing,slice,offset,len,entries,segs,expect,ns_per_cmd,cpu_ns_per_cmd,cpu_ns_vs_1byte,res\n");
	for (k = 0; k < B.nbv; k++) {
		B.bv[k].ns_cmd = b_median(B.bv[k].wall_s, 5);
		B.bv[k].cpu_ns_cmd = b_median(B.bv[k].cpu_s, 5);
	}
	for (k = 0; k < B.nbv; k++) {
		struct b_bvec_result *x = &B.bv[k];
		unsigned int j;

		/* against the 1-byte slice of the same buffer (native: 4k) */
		for (j = 0; j < B.nbv; j++)
			if (!strcmp(B.bv[j].what, "1B") &&
			    (!strcmp(B.bv[j].backing, x->backing) ||
			     (x->kind != B_BV_MODULE && !strcmp(B.bv[j].backing, "4k"))))
				base = B.bv[j].cpu_ns_cmd;
		printf("BVEC,%s,%s,%s,%llu,%llu,%u,%d,%d,%.0f,%.0f,%.0f,%d\n",
		       B.kernel, x->backing, x->what, x->off, x->len, x->nent,
		       x->segs, x->expect, x->ns_cmd, x->cpu_ns_cmd,
		       x->cpu_ns_cmd - base, x->res);
	}
	ret = 0;
out:
	if (v.sock >= 0)
		close(v.sock);
	if (v.ring.ring_fd > 0)
		io_uring_queue_exit(&v.ring);
	if (v.dev >= 0)
		close(v.dev);
	if (v.mring && v.mring != MAP_FAILED)
		munmap(v.mring, 4096);
	munmap(a, len);
	if (hmap)
		munmap(hmap, hmap_len);
	return ret;
}
