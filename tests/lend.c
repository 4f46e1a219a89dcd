// SPDX-License-Identifier: GPL-2.0
/*
 * lend: buffer lending, IOPBUF_CMD_LEND (issue #7).
 *
 * One command lends a registered-buffer slice, a kernel buffer or a REGBUF
 * ring entry to a chain of secondaries. The cases here check what a chain
 * does, not just that it completes:
 *  - file -> socket proxy (READ then zero-copy SEND) of many sizes and
 *    offsets, and a file larger than the buffer in a loop of commands;
 *  - socket -> socket proxy through a kernel buffer and a ring entry;
 *  - O_DIRECT writes from a registered buffer to a ramdisk (brd) and to a
 *    file on an ext2 file system on one, read back from the device;
 *  - direction and range violations and malformed chains fail before any
 *    I/O, with the errno and the failed index the uAPI promises;
 *  - a secondary failing mid-chain stops it with the right bookkeeping;
 *  - a process killed with a chain in flight dies promptly, leaking nothing.
 *
 * Data follows t_pat() of the absolute stream or file offset, so a lost,
 * repeated or shifted byte run is named by its offset.
 */
#include <sys/sysmacros.h>
#include <linux/fs.h>

#include "util.h"

/* registered buffer 0 of every fixture */
#define BUF_LEN		(64 * 1024)
#define KBUF_LEN	(64 * 1024)
#define BGID		3
/* what the module must not write into results[] past nr_ops */
#define RES_SENTINEL	((__s64)0x5a5a5a5a5a5a5a5aLL)
#define NO_OP		IOPBUF_LEND_NONE

struct fx {
	int dev;
	bool have_uring;
	struct io_uring uring;
	unsigned char *mem;		/* registered buffer 0, BUF_LEN bytes */
	__s64 results[IOPBUF_LEND_MAX_OPS];
};

static bool fx_init_nobuf(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->dev = h_open();
	if (f->dev < 0)
		return false;
	f->have_uring = t_uring_init(&f->uring, IORING_SETUP_CQE32);
	return f->have_uring;
}

static bool fx_init(struct fx *f)
{
	struct iovec iov;

	if (!fx_init_nobuf(f))
		return false;
	f->mem = h_map(BUF_LEN);
	if (!f->mem)
		return false;
	memset(f->mem, 0xee, BUF_LEN);
	iov = (struct iovec){ f->mem, BUF_LEN };
	return EXPECT_OK(h_register_iov(f->dev, &iov, 1));
}

/* Cancel and reap what a failed case left waiting (6.1 needs it). */
static void fx_drain(struct fx *f)
{
	struct __kernel_timespec ts = { .tv_nsec = 10000000 };
	struct io_uring_cqe *cqe;
	int ms;

	if (f->dev < 0 || !f->have_uring || !t_ctx_inflight(f->dev))
		return;
	ioctl(f->dev, IOPBUF_IOC_CANCEL);
	for (ms = 0; ms < T_WAIT_MS && t_ctx_inflight(f->dev) > 0; ms += 10)
		if (!io_uring_wait_cqe_timeout(&f->uring, &cqe, &ts))
			io_uring_cqe_seen(&f->uring, cqe);
}

static void fx_fini(struct fx *f)
{
	fx_drain(f);
	if (f->have_uring)
		io_uring_queue_exit(&f->uring);
	f->have_uring = false;
	h_close(&f->dev);
	h_unmap(f->mem, BUF_LEN);
	f->mem = NULL;
}

static __u32 fx_kbuf(struct fx *f, __u64 len)
{
	struct iopbuf_kbuf kb = { .len = len };

	if (!EXPECT_OK(h_ioctl(f->dev, IOPBUF_IOC_KBUF_ALLOC, &kb)))
		return 0;
	return kb.id;
}

/* ------------------------------------------------------------------------
 * Chains
 */

/* sqe->flags of the commands lend_start() submits (IOSQE_ASYNC) */
static __u8 sqe_flags;

/* Submit IOPBUF_CMD_LEND with an explicit payload (for malformed ones). */
static bool lend_start_raw(struct fx *f, const void *chain, __u32 len,
			   __u32 resv)
{
	struct iopbuf_cmd_lend cmd = {
		.addr = (uintptr_t)chain, .len = len, .resv = resv,
	};
	struct io_uring_sqe *sqe;

	sqe = h_prep_cmd(&f->uring, f->dev, IOPBUF_CMD_LEND, &cmd, sizeof(cmd),
			 0x1e4d);
	if (!sqe) {
		FAILF("no free SQE");
		return false;
	}
	sqe->flags = sqe_flags;
	return t_submit(&f->uring, 1);
}

/* Submit @l with results[] pointing at f->results (all RES_SENTINEL). */
static bool lend_start(struct fx *f, struct iopbuf_lend *l)
{
	unsigned int i;

	for (i = 0; i < IOPBUF_LEND_MAX_OPS; i++)
		f->results[i] = RES_SENTINEL;
	l->results = (uintptr_t)f->results;
	return lend_start_raw(f, l, sizeof(*l), 0);
}

static bool lend_do(struct fx *f, struct iopbuf_lend *l, struct t_cqe *c)
{
	return lend_start(f, l) && t_wait(&f->uring, c);
}

static bool expect_res(const char *file, int line, int got, int want)
{
	return h_expect(got == want, file, line, "cqe res %s, want %s",
			h_res(got), h_res(want));
}

/*
 * A completion: res, secondaries done, index of the failed one, and the
 * reserved top 16 bits of res2 clear.
 */
#define EXPECT_LEND(c, want_res, want_done, want_failed) ({		\
	const struct t_cqe *_c = (c);					\
	bool _ok = expect_res(__FILE__, __LINE__, _c->res, (want_res));	\
	_ok &= EXPECT_EQ(iopbuf_lend_done(_c->res2), (want_done));	\
	_ok &= EXPECT_EQ(iopbuf_lend_failed(_c->res2), (want_failed));	\
	_ok &= EXPECT_EQ(_c->res2 >> 48, 0);				\
	_ok;								\
})

/* results[] after a chain that ran: one per secondary, nothing beyond. */
#define EXPECT_RESULTS(f, nr, ...) ({					\
	const __s64 _want[] = { __VA_ARGS__ };				\
	bool _ok = true;						\
	unsigned int _i;						\
	for (_i = 0; _i < IOPBUF_LEND_MAX_OPS; _i++) {			\
		__s64 _w = _i < (nr) ? _want[_i] : RES_SENTINEL;	\
		_ok &= h_expect((f)->results[_i] == _w, __FILE__,	\
				__LINE__, "results[%u] = %lld, want %lld", \
				_i, (long long)(f)->results[_i],	\
				(long long)_w);				\
	}								\
	_ok;								\
})

/* A setup failure: nothing ran, res2 names the secondary (or none). */
#define EXPECT_SETUP_ERR(f, c, err, bad) ({				\
	bool _ok = EXPECT_LEND((c), -(err), 0, (bad));			\
	_ok &= EXPECT_EQ(t_cflags(c), 0);				\
	_ok &= EXPECT_EQ((f)->results[0], RES_SENTINEL);		\
	_ok;								\
})

/* ------------------------------------------------------------------------
 * Peers
 */

/* Read exactly @len bytes from @fd within T_WAIT_MS. */
static bool read_exact(int fd, void *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		if (poll(&pfd, 1, T_WAIT_MS) != 1) {
			FAILF("peer: %zu of %zu bytes after %d ms", got, len,
			      T_WAIT_MS);
			return false;
		}
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0) {
			FAILF("peer: read: %s after %zu of %zu bytes",
			      n ? strerror(errno) : "EOF", got, len);
			return false;
		}
		got += (size_t)n;
	}
	return true;
}

/* The peer receives exactly the pattern [@off, @off + @len), nothing more. */
static bool expect_peer_pat(int fd, size_t off, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	bool ok;

	if (!buf) {
		FAILF("malloc %zu", len);
		return false;
	}
	ok = read_exact(fd, buf, len) && EXPECT_PAT(buf, off, len);
	free(buf);
	usleep(10000);
	return ok && EXPECT_EQ(t_sock_queued(fd), 0);
}

/* Bytes waiting in a pipe or socket. */
static long queued(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) ? -errno : n;
}

/* Wait up to T_WAIT_MS for @fd to hold @want bytes. */
static bool wait_queued(int fd, long want)
{
	int ms;

	for (ms = 0; ms < T_WAIT_MS && queued(fd) < want; ms += 10)
		usleep(10000);
	return EXPECT_EQ(queued(fd), want);
}

/* Wait (up to the hang guard) for the context's pinned_pages to read @want. */
static bool wait_ctx_pinned(int dev, __u64 want)
{
	struct iopbuf_stats st;
	int ms;

	for (ms = 0; ms < T_WAIT_MS; ms += 10) {
		if (!EXPECT_OK(h_stats(dev, &st)))
			return false;
		if (st.pinned_pages == want)
			return true;
		usleep(10000);
	}
	return EXPECT_EQ(st.pinned_pages, want);
}

static bool all_bytes(const unsigned char *p, int c, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)c)
			return false;
	return true;
}

/* ------------------------------------------------------------------------
 * 1. file -> socket: READ into a registered slice, SEND it on, one command
 */

#define FILE_LEN	(5 * BUF_LEN + 777)

/*
 * A zero-copy SEND ran: ZC requested (loopback may copy), no buffer from a
 * ring, not detached.
 */
static bool expect_zc_flags(const struct t_cqe *c)
{
	__u16 fl = t_cflags(c);

	return EXPECT(fl & IOPBUF_CQE_F_ZC) &&
	       EXPECT(!(fl & (IOPBUF_CQE_F_BUFFER | IOPBUF_CQE_F_DETACHED))) &&
	       EXPECT_EQ(t_bid(c), 0);
}

static void file_to_socket(void)
{
	static const struct {
		__u32 slice;	/* offset of the lent slice in buffer 0 */
		__u32 buf_off;	/* offset of both secondaries in the slice */
		__u32 len;
		__u64 foff;	/* file offset read */
	} cases[] = {
		{ 0, 0, 1, 0 },
		{ 0, 0, 100, 3 },
		{ 0, 0, 4096, 4096 },
		{ 100, 0, 4097, 5000 },
		{ 0, 7, 12345, 65537 },
		{ 4095, 1, BUF_LEN - 4096, 100000 },
		{ 0, 0, BUF_LEN, 2 * BUF_LEN + 1 },
		{ 1, 0, BUF_LEN - 1, FILE_LEN - (BUF_LEN - 1) },
	};
	int file = -1, fds[2] = { -1, -1 };
	struct iopbuf_lend l;
	struct t_cqe c;
	unsigned int i;
	struct fx f;

	if (!fx_init(&f) || !t_tcp_pair(fds))
		goto out;
	file = t_pat_file("lend-src", FILE_LEN, O_RDONLY);
	if (file < 0)
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(cases) && !h_case_failed(); i++) {
		__u32 n = cases[i].len, at = cases[i].slice + cases[i].buf_off;

		h_note("slice %u buf_off %u len %u file offset %llu",
		       cases[i].slice, cases[i].buf_off, n,
		       (unsigned long long)cases[i].foff);
		memset(f.mem, 0xee, BUF_LEN);
		iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
			  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
			  iopbuf_regbuf_encode(0, cases[i].slice),
			  BUF_LEN - cases[i].slice, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, file, cases[i].foff,
			 cases[i].buf_off, n);
		/* len 0: what the READ moved */
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, fds[1], 0, cases[i].buf_off, 0);
		if (!lend_do(&f, &l, &c))
			break;
		EXPECT_LEND(&c, 2 * n, 2, NO_OP);
		expect_zc_flags(&c);
		EXPECT_RESULTS(&f, 2, n, n);
		/* the data went through the lent slice, and nowhere else */
		EXPECT_PAT(f.mem + at, cases[i].foff, n);
		EXPECT(all_bytes(f.mem, 0xee, at));
		EXPECT(all_bytes(f.mem + at + n, 0xee, BUF_LEN - at - n));
		expect_peer_pat(fds[0], cases[i].foff, n);
	}
	/* explicit offsets leave the file position alone */
	EXPECT_EQ(lseek(file, 0, SEEK_CUR), 0);
out:
	h_close(&file);
	t_close2(fds);
	fx_fini(&f);
}

static void file_to_socket_sizes(void)
{
	file_to_socket();
}

/*
 * The same issued from io-wq (IOSQE_ASYNC): the chain is read there, and
 * 6.1 would lose a result returned rather than posted.
 */
static void file_to_socket_async(void)
{
	sqe_flags = IOSQE_ASYNC;
	file_to_socket();
	sqe_flags = 0;
}

/*
 * The fixture, a TCP pair, a pattern file named @name and a chain lending
 * @chunk bytes of registered buffer 0 from @buf_off: READ from the file at
 * @file_off (len 0: the lent length), then SEND to fds[1] (len 0: what was
 * read).
 */
static bool file_chain_setup(struct fx *f, int fds[2], int *file,
			     const char *name, struct iopbuf_lend *l,
			     __u64 buf_off, __u32 chunk, __u64 file_off)
{
	if (!fx_init(f) || !t_tcp_pair(fds))
		return false;
	*file = t_pat_file(name, FILE_LEN, O_RDONLY);
	if (*file < 0)
		return false;
	iopbuf_lend_init(l, IOPBUF_LEND_SRC_REGBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, buf_off), chunk, 0);
	iopbuf_lend_add(l, IOPBUF_LEND_OP_READ, *file, file_off, 0, 0);
	iopbuf_lend_add(l, IOPBUF_LEND_OP_SEND, fds[1], 0, 0, 0);
	return true;
}

/*
 * A file larger than the lent slice, one command per chunk at the file
 * position: READ (len 0: the lent length) and SEND (len 0: what was read).
 * The last command reads 0 bytes at EOF and sends nothing.
 */
static void file_to_socket_loop(void)
{
	const __u32 chunk = 40000;	/* not a page multiple */
	int file = -1, fds[2] = { -1, -1 };
	size_t total = 0, cmds = 0;
	struct iopbuf_lend l;
	struct t_cqe c;
	struct fx f;

	if (!file_chain_setup(&f, fds, &file, "lend-loop", &l, 333, chunk,
			      IOPBUF_LEND_POS))
		goto out;
	for (;;) {
		size_t want = FILE_LEN - total < chunk ? FILE_LEN - total : chunk;

		if (!lend_do(&f, &l, &c))
			goto out;
		cmds++;
		if (!EXPECT_LEND(&c, 2 * (int)want, 2, NO_OP) ||
		    !EXPECT_RESULTS(&f, 2, want, want))
			goto out;
		if (!want)
			break;
		if (!expect_peer_pat(fds[0], total, want))
			goto out;
		total += want;
		EXPECT_EQ(lseek(file, 0, SEEK_CUR), total);
	}
	EXPECT_EQ(total, FILE_LEN);
	EXPECT_EQ(cmds, (FILE_LEN + chunk - 1) / chunk + 1);
	/* the last SEND sent nothing: no zero-copy report */
	EXPECT_EQ(t_cflags(&c), 0);
out:
	h_close(&file);
	t_close2(fds);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * 2. socket -> socket through a kernel buffer or a ring entry
 */

/* Chain: RECV on @in, SEND what it got on @out. */
static void chain_recv_send(struct iopbuf_lend *l, int in, int out)
{
	iopbuf_lend_add(l, IOPBUF_LEND_OP_RECV, in, 0, 0, 0);
	iopbuf_lend_add(l, IOPBUF_LEND_OP_SEND, out, 0, 0, 0);
}

static void socket_proxy_kbuf(void)
{
	static const __u32 sizes[] = { 1, 1000, 4096, 4097, KBUF_LEN };
	int a[2] = { -1, -1 }, b[2] = { -1, -1 };
	struct iopbuf_lend l;
	size_t off = 0;
	struct t_cqe c;
	unsigned int i;
	struct fx f;
	__u32 id;

	if (!fx_init_nobuf(&f) || !t_tcp_pair(a) || !t_tcp_pair(b))
		goto out;
	id = fx_kbuf(&f, KBUF_LEN);
	if (!id)
		goto out;
	/* len 0: the whole kernel buffer */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_KBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT, id, 0, 0);
	chain_recv_send(&l, a[0], b[1]);
	for (i = 0; i < H_ARRAY_SIZE(sizes) && !h_case_failed(); i++) {
		__u32 n = sizes[i];

		if (!t_write_pat(a[1], off, n) || !wait_queued(a[0], n) ||
		    !lend_do(&f, &l, &c))
			goto out;
		EXPECT_LEND(&c, 2 * n, 2, NO_OP);
		expect_zc_flags(&c);
		EXPECT_RESULTS(&f, 2, n, n);
		expect_peer_pat(b[0], off, n);
		EXPECT_EQ(queued(a[0]), 0);
		off += n;
	}

	/* a chain waits for data: RECV parks, then completes */
	if (!lend_start(&f, &l) || !t_no_cqe(&f.uring) ||
	    !t_write_pat(a[1], off, 3000) || !t_wait(&f.uring, &c))
		goto out;
	EXPECT_LEND(&c, 6000, 2, NO_OP);
	EXPECT_RESULTS(&f, 2, 3000, 3000);
	expect_peer_pat(b[0], off, 3000);
	off += 3000;

	/* lend part of the kernel buffer: RECV takes no more than that */
	l.len = 5000;
	if (!t_write_pat(a[1], off, 8000) || !wait_queued(a[0], 8000) ||
	    !lend_do(&f, &l, &c))
		goto out;
	EXPECT_LEND(&c, 10000, 2, NO_OP);
	EXPECT_RESULTS(&f, 2, 5000, 5000);
	expect_peer_pat(b[0], off, 5000);
	EXPECT_EQ(queued(a[0]), 3000);
out:
	t_close2(a);
	t_close2(b);
	fx_fini(&f);
}

/*
 * More data than the kernel buffer holds, pumped by a writer that never
 * blocks: each command moves what one RECV got, in order.
 */
static void socket_proxy_kbuf_stream(void)
{
	const size_t total_len = 700000;
	int a[2] = { -1, -1 }, b[2] = { -1, -1 };
	static unsigned char chunk[32768];
	size_t written = 0, moved = 0, cmds = 0;
	struct iopbuf_lend l;
	struct t_cqe c;
	struct fx f;
	__u32 id;

	if (!fx_init_nobuf(&f) || !t_tcp_pair(a) || !t_tcp_pair(b))
		goto out;
	id = fx_kbuf(&f, KBUF_LEN);
	if (!id || !EXPECT(!fcntl(a[1], F_SETFL, O_NONBLOCK)))
		goto out;
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_KBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT, id, KBUF_LEN, 0);
	chain_recv_send(&l, a[0], b[1]);
	while (moved < total_len) {
		size_t n = total_len - written;
		ssize_t w;

		if (n > sizeof(chunk))
			n = sizeof(chunk);
		if (n) {
			t_pat_fill(chunk, written, n);
			w = write(a[1], chunk, n);
			if (w > 0)
				written += (size_t)w;
			else if (!EXPECT(errno == EAGAIN))
				goto out;
		}
		if (!lend_do(&f, &l, &c))
			goto out;
		cmds++;
		if (!EXPECT(c.res > 0 && c.res % 2 == 0) ||
		    !EXPECT(c.res / 2 <= KBUF_LEN) ||
		    !EXPECT_LEND(&c, c.res, 2, NO_OP) ||
		    !EXPECT_RESULTS(&f, 2, c.res / 2, c.res / 2) ||
		    !expect_peer_pat(b[0], moved, (size_t)c.res / 2))
			goto out;
		moved += (size_t)c.res / 2;
	}
	h_note("%zu bytes in %zu commands", moved, cmds);
	EXPECT_EQ(moved, total_len);
	EXPECT_EQ(queued(a[0]), 0);
out:
	t_close2(a);
	t_close2(b);
	fx_fini(&f);
}

/* The lent buffer is the next entry of a REGBUF ring; each is consumed. */
static void socket_proxy_ring(void)
{
	const __u32 entry = 8192;
	int a[2] = { -1, -1 }, b[2] = { -1, -1 };
	struct iopbuf_lend l;
	struct t_ring r = { .dev = -1 };
	size_t off = 0;
	struct t_cqe c;
	unsigned int i;
	struct fx f;

	if (!fx_init(&f) || !t_tcp_pair(a) || !t_tcp_pair(b) ||
	    !t_ring_init(&r, f.dev, 8, BGID, IOPBUF_RING_REGBUF, 0))
		goto out;
	for (i = 0; i < 4; i++)
		t_ring_add(&r, iopbuf_regbuf_encode(0, 100 + (__u64)i * entry),
			   entry - i, (__u16)(40 + i));
	t_ring_publish(&r);
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_RING,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT, 0, 0, 0);
	l.bgid = BGID;
	chain_recv_send(&l, a[0], b[1]);
	for (i = 0; i < 4 && !h_case_failed(); i++) {
		/* more than the entry holds: RECV stops at its length */
		__u32 n = entry - i;

		if (!t_write_pat(a[1], off, n + 10) ||
		    !wait_queued(a[0], n + 10) || !lend_do(&f, &l, &c))
			goto out;
		EXPECT_LEND(&c, 2 * n, 2, NO_OP);
		EXPECT_RESULTS(&f, 2, n, n);
		EXPECT(t_cflags(&c) & IOPBUF_CQE_F_BUFFER);
		EXPECT(t_cflags(&c) & IOPBUF_CQE_F_ZC);
		EXPECT_EQ(t_bid(&c), 40 + i);
		EXPECT_HEAD(&r, i + 1);
		EXPECT_PAT(f.mem + 100 + (size_t)i * entry, off, n);
		expect_peer_pat(b[0], off, n);
		/* the 10 bytes left over go first next time */
		EXPECT_EQ(queued(a[0]), 10);
		{
			char skip[10];

			EXPECT_EQ(read(a[0], skip, 10), 10);
		}
		off += n + 10;
	}
	/* the ring is empty now: nothing is received */
	if (!t_write_pat(a[1], off, 10) || !wait_queued(a[0], 10) ||
	    !lend_do(&f, &l, &c))
		goto out;
	EXPECT_SETUP_ERR(&f, &c, ENOBUFS, NO_OP);
	EXPECT_EQ(queued(a[0]), 10);
	EXPECT_HEAD(&r, 4);
out:
	t_close2(a);
	t_close2(b);
	t_ring_fini(&r);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * 3. O_DIRECT writes from a registered buffer
 *
 * The guest loads brd (scripts/vm-test.sh): /dev/ram0 is written raw,
 * /dev/ram1 carries an ext2 file system (ext4's driver; busybox mke2fs).
 */

#define RAMDISK0	"/dev/ram0"
#define RAMDISK1	"/dev/ram1"
#define EXT2_DIR	"/tmp/lend-ext2"
#define DIO_ALIGN	4096

/* An O_DIRECT fd of a ramdisk, or -1 with the case skipped and why. */
static int open_ramdisk(const char *path)
{
	int fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT && access("/sys/module/brd", F_OK))
		h_skip("no ramdisk, cannot test O_DIRECT: %s missing, brd not "
		       "loaded (scripts/vm-test.sh loads it where the kernel "
		       "has it as a module, the debug kernel has it built in; "
		       "elsewhere: modprobe brd)", path);
	else
		FAILF("open %s O_DIRECT: %s", path, strerror(errno));
	return -1;
}

/* Page-aligned memory for O_DIRECT reads that do not go through the module. */
static unsigned char *dio_mem(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, DIO_ALIGN, len)) {
		FAILF("posix_memalign %zu", len);
		return NULL;
	}
	return p;
}

/* O_DIRECT pread of [@off, @off + @len) of @fd holds the pattern from @pat. */
static bool expect_dio_pat(int fd, off_t off, size_t len, size_t pat)
{
	unsigned char *p = dio_mem(len);
	bool ok;

	if (!p)
		return false;
	ok = EXPECT_EQ(pread(fd, p, len, off), len) && EXPECT_PAT(p, pat, len);
	free(p);
	return ok;
}

/* O_DIRECT pwrite of @len bytes of value @c (clears what a run left). */
static bool dio_fill(int fd, off_t off, size_t len, int c)
{
	unsigned char *p = dio_mem(len);
	bool ok;

	if (!p)
		return false;
	memset(p, c, len);
	ok = EXPECT_EQ(pwrite(fd, p, len, off), len);
	free(p);
	return ok;
}

/*
 * WRITE secondaries to O_DIRECT @fd from registered buffer 0: a page-
 * aligned and a sector-aligned one in one chain; then a misaligned one,
 * which O_DIRECT refuses (-EINVAL) where a buffered write would not: the
 * writes did go the direct way.
 */
static void dio_chain(struct fx *f, int fd, off_t base, const char *what)
{
	struct iopbuf_lend l;
	struct t_cqe c;

	t_pat_fill(f->mem, 0, BUF_LEN);
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), BUF_LEN, 0);
	/* [0, 32K) of the buffer to base + 64K; [32K + 512, +3 * 512) to base */
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, fd, base + 65536, 0, 32768);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, fd, base, 32768 + 512, 3 * 512);
	if (!lend_do(f, &l, &c))
		return;
	if (!EXPECT_LEND(&c, 32768 + 3 * 512, 2, NO_OP)) {
		h_note("%s: results %lld %lld", what, (long long)f->results[0],
		       (long long)f->results[1]);
		return;
	}
	EXPECT_EQ(t_cflags(&c), 0);
	EXPECT_RESULTS(f, 2, 32768, 3 * 512);
	/* the position of the file did not move: explicit offsets */
	EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);
	expect_dio_pat(fd, base + 65536, 32768, 0);
	expect_dio_pat(fd, base, 3 * 512, 32768 + 512);

	/* 100 bytes at a sector boundary: not a multiple of the block size */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), BUF_LEN, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, fd, base + 8192, 0, 100);
	if (!lend_do(f, &l, &c))
		return;
	EXPECT_LEND(&c, -EINVAL, 0, 0);
	EXPECT_RESULTS(f, 1, -EINVAL);
}

static void odirect_blockdev(void)
{
	const off_t base = 1 << 20;
	struct stat st;
	struct fx f;
	int fd;

	if (!fx_init(&f))
		goto out;
	fd = open_ramdisk(RAMDISK0);
	if (fd < 0)
		goto out;
	if (EXPECT(!fstat(fd, &st) && S_ISBLK(st.st_mode)) &&
	    dio_fill(fd, base, 128 * 1024, 0))
		dio_chain(&f, fd, base, RAMDISK0);
	close(fd);
out:
	fx_fini(&f);
}

/* Run a shell command; its output goes to '#' lines. */
static bool run_cmd(const char *cmd)
{
	char line[256];
	FILE *p = popen(cmd, "r");
	int status;

	if (!p) {
		FAILF("popen %s: %s", cmd, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof(line), p))
		h_note("%s: %s", cmd, strtok(line, "\n") ?: "");
	status = pclose(p);
	return h_expect(status == 0, __FILE__, __LINE__, "%s: status %#x", cmd,
			status);
}

/* Does /proc/filesystems list @name? */
static bool have_fs(const char *name)
{
	char line[128], *t;
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		t = strrchr(line, '\t');
		t = t ? t + 1 : line;
		found = !strncmp(t, name, strlen(name)) &&
			(t[strlen(name)] == '\n' || !t[strlen(name)]);
	}
	fclose(f);
	return found;
}

/* Map file block @blk of @fd to a device block (FIBMAP). */
static long fibmap(int fd, long blk)
{
	int b = (int)blk;

	return ioctl(fd, FIBMAP, &b) ? -errno : b;
}

/*
 * The same on a file of an ext2 file system on a ramdisk. The file's
 * blocks are allocated first (O_DIRECT overwrites then need no allocation
 * and never fall back to buffered I/O), and the data is read back twice
 * with O_DIRECT: through the file, and from the device at the blocks
 * FIBMAP names, so it cannot be a page-cache copy.
 */
static void odirect_ext2_file(void)
{
	const size_t flen = 256 * 1024;
	int fd = -1, bd = -1, wfd;
	bool mounted = false;
	struct statfs sfs;
	struct fx f;
	long blk;

	if (!fx_init(&f))
		goto out;
	bd = open_ramdisk(RAMDISK1);
	if (bd < 0)
		goto out;
	if (!have_fs("ext2")) {
		h_skip("no ext2 in /proc/filesystems, cannot test O_DIRECT on "
		       "a file: ext4 (CONFIG_EXT4_USE_FOR_EXT2) not loaded");
		goto out;
	}
	/*
	 * No writer may hold the device while it is mounted on kernels
	 * without BLK_DEV_WRITE_MOUNTED (the debug kernel): mount first,
	 * then open it read-only for the read-back.
	 */
	close(bd);
	bd = -1;
	if (!run_cmd("mke2fs -F -b 4096 " RAMDISK1 " 2>&1"))
		goto out;
	mkdir(EXT2_DIR, 0700);
	if (mount(RAMDISK1, EXT2_DIR, "ext2", 0, NULL)) {
		FAILF("mount -t ext2 %s: %s (the guest loads ext4, which "
		      "serves ext2)", RAMDISK1, strerror(errno));
		goto out;
	}
	mounted = true;
	bd = open(RAMDISK1, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (!h_expect(bd >= 0, __FILE__, __LINE__, "open %s read-only: %s",
		      RAMDISK1, strerror(errno)))
		goto out;
	if (!EXPECT(!statfs(EXT2_DIR, &sfs)) ||
	    !EXPECT_EQ(sfs.f_type, EXT2_SUPER_MAGIC))
		goto out;
	wfd = open(EXT2_DIR "/data", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		   0600);
	if (!EXPECT(wfd >= 0))
		goto out;
	{
		unsigned char *z = calloc(1, flen);

		EXPECT(z && pwrite(wfd, z, flen, 0) == (ssize_t)flen);
		free(z);
	}
	EXPECT(!fsync(wfd));
	close(wfd);
	fd = open(EXT2_DIR "/data", O_RDWR | O_DIRECT | O_CLOEXEC);
	if (!EXPECT(fd >= 0) || h_case_failed())
		goto out;
	dio_chain(&f, fd, 0, "ext2 file");
	/* file block 16 (offset 64K) on the device: the first WRITE's data */
	blk = fibmap(fd, 65536 / 4096);
	if (h_expect(blk > 0, __FILE__, __LINE__, "FIBMAP: %s", h_res(blk)))
		expect_dio_pat(bd, (off_t)blk * 4096, 4096, 0);
out:
	h_close(&fd);
	if (mounted && umount(EXT2_DIR))
		FAILF("umount %s: %s", EXT2_DIR, strerror(errno));
	rmdir(EXT2_DIR);
	h_close(&bd);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * 4. directions: what the lender did not grant fails before any I/O
 */

static void direction_violations(void)
{
	int p[2] = { -1, -1 }, s[2] = { -1, -1 }, file = -1;
	struct iopbuf_lend l;
	struct t_cqe c;
	struct fx f;
	__u32 id;

	if (!fx_init(&f) || !t_pipe(p) || !t_tcp_pair(s))
		goto out;
	id = fx_kbuf(&f, KBUF_LEN);
	file = t_pat_file("lend-dir", 8192, O_RDWR);
	if (!id || file < 0 || !t_write_pat(p[1], 0, 1000) ||
	    !t_write_pat(s[1], 0, 2000) || !wait_queued(s[0], 2000))
		goto out;

	/* READ into a buffer lent for OUT only */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), 4096, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
	if (lend_do(&f, &l, &c))
		EXPECT_SETUP_ERR(&f, &c, EACCES, 0);
	/* RECV into a kernel buffer lent for OUT only */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_KBUF, IOPBUF_LEND_DIR_OUT, id, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_RECV, s[0], 0, 0, 0);
	if (lend_do(&f, &l, &c))
		EXPECT_SETUP_ERR(&f, &c, EACCES, 0);
	/* WRITE from a buffer lent for IN only (a regular file) */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_IN,
		  iopbuf_regbuf_encode(0, 0), 4096, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, file, 0, 0, 4096);
	if (lend_do(&f, &l, &c))
		EXPECT_SETUP_ERR(&f, &c, EACCES, 0);
	/* SEND from a buffer lent for IN only */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_IN,
		  iopbuf_regbuf_encode(0, 0), 4096, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, s[1], 0, 0, 100);
	if (lend_do(&f, &l, &c))
		EXPECT_SETUP_ERR(&f, &c, EACCES, 0);
	/*
	 * A valid READ followed by a SEND the buffer is not lent for: the
	 * chain is checked whole, so the READ does not run either.
	 */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_IN,
		  iopbuf_regbuf_encode(0, 0), 4096, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_RECV, s[0], 0, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, s[1], 0, 0, 0);
	if (lend_do(&f, &l, &c))
		EXPECT_SETUP_ERR(&f, &c, EACCES, 2);

	/* nothing moved anywhere */
	EXPECT_EQ(queued(p[0]), 1000);
	EXPECT_EQ(queued(s[0]), 2000);
	usleep(20000);
	EXPECT_EQ(queued(s[0]), 2000);	/* and the SEND sent nothing */
	EXPECT(all_bytes(f.mem, 0xee, BUF_LEN));
	{
		unsigned char buf[8192];

		EXPECT_EQ(pread(file, buf, sizeof(buf), 0), sizeof(buf));
		EXPECT_PAT(buf, 0, sizeof(buf));
	}
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
out:
	h_close(&file);
	t_close2(p);
	t_close2(s);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * 5. ranges past the lent length fail before any I/O
 */

static void range_overruns(void)
{
	static const struct {
		__u32 buf_off, len;
	} bad[] = {
		{ 0, 4097 },			/* one byte too long */
		{ 4096, 1 },			/* starts at the end */
		{ 4097, 0 },			/* starts past the end */
		{ 1, 0xffffffff },		/* u32 wrap: 1 + len == 0 */
		{ 0xffffffff, 2 },		/* u32 wrap: off + len == 1 */
		{ 0xfffff000, 0x2000 },		/* u32 wrap: 0x1000 */
		{ 0xffffffff, 0xffffffff },
	};
	int p[2] = { -1, -1 }, s[2] = { -1, -1 };
	struct iopbuf_lend l;
	struct t_cqe c;
	unsigned int i;
	struct fx f;
	__u32 id;

	if (!fx_init(&f) || !t_pipe(p) || !t_tcp_pair(s) ||
	    !t_write_pat(p[1], 0, 1000))
		goto out;
	id = fx_kbuf(&f, 8192);
	if (!id)
		goto out;
	for (i = 0; i < H_ARRAY_SIZE(bad) && !h_case_failed(); i++) {
		/* as the first secondary, and behind a READ that would work */
		iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
			  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
			  iopbuf_regbuf_encode(0, 8192), 4096, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, bad[i].buf_off,
			 bad[i].len);
		if (lend_do(&f, &l, &c) &&
		    !EXPECT_SETUP_ERR(&f, &c, EFAULT, 0))
			h_note("buf_off %#x len %#x", bad[i].buf_off,
			       bad[i].len);
		l.ops[0].buf_off = 0;
		l.ops[0].len = 0;
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, s[1], 0, bad[i].buf_off,
			 bad[i].len);
		if (lend_do(&f, &l, &c) &&
		    !EXPECT_SETUP_ERR(&f, &c, EFAULT, 1))
			h_note("2nd: buf_off %#x len %#x", bad[i].buf_off,
			       bad[i].len);
		/* the same on 4096 bytes of an 8192-byte kernel buffer */
		iopbuf_lend_init(&l, IOPBUF_LEND_SRC_KBUF,
			  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT, id, 4096, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, s[1], 0, bad[i].buf_off,
			 bad[i].len);
		if (lend_do(&f, &l, &c) &&
		    !EXPECT_SETUP_ERR(&f, &c, EFAULT, 1))
			h_note("kbuf: buf_off %#x len %#x", bad[i].buf_off,
			       bad[i].len);
		if (!EXPECT_EQ(queued(p[0]), 1000))
			break;
	}
	/* a lent range past the buffer itself: no secondary is to blame */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, BUF_LEN - 4096), 4097, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 1);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, s[1], 0, 0, 1);
	if (lend_do(&f, &l, &c))
		EXPECT_SETUP_ERR(&f, &c, EFAULT, NO_OP);
	l.src = IOPBUF_LEND_SRC_KBUF;
	l.addr = id;
	l.len = 8193;
	if (lend_do(&f, &l, &c))
		EXPECT_SETUP_ERR(&f, &c, EFAULT, NO_OP);

	/* nothing was read, sent or written into the buffer */
	EXPECT_EQ(queued(p[0]), 1000);
	usleep(20000);
	EXPECT_EQ(queued(s[0]), 0);
	EXPECT(all_bytes(f.mem, 0xee, BUF_LEN));
out:
	t_close2(p);
	t_close2(s);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * 6. a secondary failing mid-chain
 */

static void midchain_failure(void)
{
	int p[2] = { -1, -1 }, s[2] = { -1, -1 }, q[2] = { -1, -1 };
	int file = -1;
	struct iopbuf_lend l;
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !t_pipe(p) || !t_pipe(q) || !t_tcp_pair(s))
		goto out;
	file = t_pat_file("lend-mid", 10000, O_RDONLY);
	if (file < 0)
		goto out;

	/* READ works, WRITE to a pipe without reader: -EPIPE, SEND not run */
	h_close(&p[0]);
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), BUF_LEN, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, file, 0, 0, 5000);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, p[1], IOPBUF_LEND_POS, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, s[1], 0, 0, 0);
	if (lend_do(&f, &l, &c)) {
		EXPECT_LEND(&c, -EPIPE, 1, 1);
		EXPECT_RESULTS(&f, 3, 5000, -EPIPE, 0);
		EXPECT_EQ(t_cflags(&c), 0);
		EXPECT_PAT(f.mem, 0, 5000);
	}
	usleep(20000);
	EXPECT_EQ(queued(s[0]), 0);

	/*
	 * RECV and WRITE work, SEND on a socket shut down for writing fails
	 * (-EPIPE, no signal: MSG_NOSIGNAL), the last WRITE does not run.
	 */
	if (!t_write_pat(s[1], 0, 3000) || !wait_queued(s[0], 3000))
		goto out;
	EXPECT(!shutdown(s[1], SHUT_WR));
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 4096), 8192, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_RECV, s[0], 0, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, q[1], IOPBUF_LEND_POS, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, s[1], 0, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, q[1], IOPBUF_LEND_POS, 0, 0);
	if (lend_do(&f, &l, &c)) {
		EXPECT_LEND(&c, -EPIPE, 2, 2);
		EXPECT_RESULTS(&f, 4, 3000, 3000, -EPIPE, 0);
		EXPECT_EQ(t_cflags(&c), 0);
	}
	EXPECT_EQ(queued(q[0]), 3000);
	{
		unsigned char buf[3000];

		EXPECT_EQ(read(q[0], buf, sizeof(buf)), sizeof(buf));
		EXPECT_PAT(buf, 0, sizeof(buf));
	}

	/*
	 * A length taken from the previous secondary is checked when it
	 * runs: READ 3000 bytes, then SEND them from buf_off 2000 of a
	 * 4096-byte loan: -EFAULT after the READ.
	 */
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), 4096, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, file, 100, 0, 3000);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, q[1], 0, 2000, 0);
	if (lend_do(&f, &l, &c)) {
		EXPECT_LEND(&c, -EFAULT, 1, 1);
		EXPECT_RESULTS(&f, 2, 3000, -EFAULT);
	}
	EXPECT_EQ(queued(q[0]), 0);

	/* a bad fd is found at setup: nothing runs */
	if (!t_write_pat(q[1], 0, 700))
		goto out;
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), 4096, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, q[0], 0, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, 9999, 0, 0, 0);
	if (lend_do(&f, &l, &c))
		EXPECT_SETUP_ERR(&f, &c, EBADF, 1);
	EXPECT_EQ(queued(q[0]), 700);
out:
	h_close(&file);
	t_close2(p);
	t_close2(q);
	t_close2(s);
	fx_fini(&f);
}

/* ------------------------------------------------------------------------
 * 7. a process killed with a chain in flight
 */

enum kill_mode { KILL_RECV, KILL_SEND };

/*
 * The child: a chain that waits -- RECV into a kernel buffer on a socket
 * nobody writes to, or READ a file then SEND it zero copy to a peer that
 * does not read -- then it waits to be killed.
 */
struct kill_arg {
	enum kill_mode	mode;
	int		sock;	/* the chain's */
	int		peer;	/* the parent's end: closed in the child */
};

static bool chain_child(void *arg)
{
	const struct kill_arg *a = arg;
	enum kill_mode mode = a->mode;
	int file = -1, sock = a->sock;
	struct iopbuf_lend l;
	struct fx f;
	__u32 id;

	close(a->peer);
	if (!fx_init(&f))
		return false;
	if (mode == KILL_RECV) {
		id = fx_kbuf(&f, KBUF_LEN);
		if (!id)
			return false;
		iopbuf_lend_init(&l, IOPBUF_LEND_SRC_KBUF, IOPBUF_LEND_DIR_IN, id, 0, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_RECV, sock, 0, 0, 0);
	} else {
		file = t_pat_file("lend-kill", BUF_LEN, O_RDONLY);
		if (file < 0)
			return false;
		iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
			  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
			  iopbuf_regbuf_encode(0, 0), BUF_LEN, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, file, 0, 0, 0);
		/* four times: more than the socket buffers take */
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, sock, 0, 0, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, sock, 0, 0, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, sock, 0, 0, 0);
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_SEND, sock, 0, 0, 0);
	}
	return lend_start(&f, &l) && t_no_cqe(&f.uring);
}

static void killed_inflight(enum kill_mode mode)
{
	int fds[2] = { -1, -1 };
	long base = h_sysfs_read("inflight");
	long notifs = h_sysfs_read("notifs");
	struct kill_arg a = { .mode = mode };
	int small = 4096;
	pid_t pid;

	if (!t_tcp_pair(fds))
		goto out;
	/* fds[1] is the child's; the receiver fds[0] stays here, unread */
	setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	a.sock = fds[1];
	a.peer = fds[0];
	pid = t_fork_ready(chain_child, &a);
	if (pid < 0)
		goto out;
	h_note("before the kill: inflight %ld notifs %ld pinned_pages %ld",
	       h_sysfs_read("inflight") - base, h_sysfs_read("notifs"),
	       h_sysfs_read("pinned_pages"));
	EXPECT_EQ(h_sysfs_read("inflight"), base + 1);
	/* the RECV chain waits on the child's copy of fds[1]: close ours */
	h_close(&fds[1]);
	/* the chain must not keep the dying task: its exit is the event */
	if (!t_kill_reap(pid, "a child with a chain in flight"))
		goto out;
	t_global_inflight_is(base);
	/* the receiver goes: the stack drops what it still held */
	h_close(&fds[0]);
	t_global_is("notifs", notifs);
	EXPECT_GLOBAL_IDLE();
out:
	t_close2(fds);
}

static void sigkill_recv_waiting(void)	{ killed_inflight(KILL_RECV); }
static void sigkill_send_waiting(void)	{ killed_inflight(KILL_SEND); }

/* ------------------------------------------------------------------------
 * 8. malformed chains and commands
 */

/* Submit @l as is (its results pointer included) and expect -@err. */
static void expect_bad(struct fx *f, struct iopbuf_lend *l, int err,
		       unsigned int bad, const char *what)
{
	struct t_cqe c;

	if (!lend_do(f, l, &c))
		return;
	if (!EXPECT_SETUP_ERR(f, &c, err, bad))
		h_note("%s", what);
}

/* A valid chain: READ a pipe into regbuf 0, 4096 bytes lent. */
static void good_chain(struct iopbuf_lend *l, int fd)
{
	iopbuf_lend_init(l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_IN,
		  iopbuf_regbuf_encode(0, 0), 4096, 0);
	iopbuf_lend_add(l, IOPBUF_LEND_OP_READ, fd, 0, 0, 0);
}

static void malformed_chain(void)
{
	int p[2] = { -1, -1 }, s[2] = { -1, -1 };
	struct iopbuf_lend l;
	struct t_ring plain = { .dev = -1 }, empty = { .dev = -1 };
	struct t_cqe c;
	unsigned int i;
	struct fx f;
	__u32 id;

	if (!fx_init(&f) || !t_pipe(p) || !t_tcp_pair(s) ||
	    !t_write_pat(p[1], 0, 100))
		goto out;
	id = fx_kbuf(&f, 8192);
	if (!id || !t_ring_init(&plain, f.dev, 4, BGID, 0, 0) ||
	    !t_ring_init(&empty, f.dev, 4, BGID + 1, IOPBUF_RING_REGBUF, 0))
		goto out;
	t_ring_add(&plain, iopbuf_regbuf_encode(0, 0), 4096, 1);
	t_ring_publish(&plain);

	good_chain(&l, p[0]);
	l.nr_ops = 0;
	expect_bad(&f, &l, EINVAL, NO_OP, "nr_ops 0");
	for (i = 1; i < IOPBUF_LEND_MAX_OPS; i++)
		iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
	l.nr_ops = IOPBUF_LEND_MAX_OPS + 1;
	expect_bad(&f, &l, EINVAL, NO_OP, "nr_ops MAX + 1");
	l.nr_ops = 0xffff;
	expect_bad(&f, &l, EINVAL, NO_OP, "nr_ops 0xffff");

	good_chain(&l, p[0]);
	l.ops[0].opcode = 0;
	expect_bad(&f, &l, EINVAL, NO_OP, "opcode 0");
	l.ops[0].opcode = IOPBUF_LEND_OP_RECV + 1;
	expect_bad(&f, &l, EINVAL, NO_OP, "opcode RECV + 1");
	l.ops[0].opcode = 0xff;
	expect_bad(&f, &l, EINVAL, NO_OP, "opcode 0xff");
	good_chain(&l, p[0]);
	iopbuf_lend_add(&l, 9, p[0], 0, 0, 0);
	expect_bad(&f, &l, EINVAL, NO_OP, "second opcode 9");

	good_chain(&l, p[0]);
	l.ops[0].resv0 = 1;
	expect_bad(&f, &l, EINVAL, NO_OP, "op resv0");
	good_chain(&l, p[0]);
	l.ops[0].resv1 = 0x8000;
	expect_bad(&f, &l, EINVAL, NO_OP, "op resv1");
	good_chain(&l, p[0]);
	l.resv0 = 1;
	expect_bad(&f, &l, EINVAL, NO_OP, "resv0");
	good_chain(&l, p[0]);
	l.resv[0] = 1;
	expect_bad(&f, &l, EINVAL, NO_OP, "resv[0]");
	good_chain(&l, p[0]);
	l.resv[1] = 1ULL << 63;
	expect_bad(&f, &l, EINVAL, NO_OP, "resv[1]");

	good_chain(&l, p[0]);
	l.src = 0;
	expect_bad(&f, &l, EINVAL, NO_OP, "src 0");
	l.src = IOPBUF_LEND_SRC_RING + 1;
	expect_bad(&f, &l, EINVAL, NO_OP, "src RING + 1");
	good_chain(&l, p[0]);
	l.dir = 0;
	expect_bad(&f, &l, EINVAL, NO_OP, "dir 0");
	l.dir = IOPBUF_LEND_DIR_IN | 4;
	expect_bad(&f, &l, EINVAL, NO_OP, "dir bit 2");

	/* fields the source does not use, and a slice of no length */
	good_chain(&l, p[0]);
	l.len = 0;
	expect_bad(&f, &l, EINVAL, NO_OP, "REGBUF len 0");
	good_chain(&l, p[0]);
	l.bgid = BGID;
	expect_bad(&f, &l, EINVAL, NO_OP, "REGBUF with bgid");
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_KBUF, IOPBUF_LEND_DIR_IN, id, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
	l.bgid = 1;
	expect_bad(&f, &l, EINVAL, NO_OP, "KBUF with bgid");
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_RING, IOPBUF_LEND_DIR_IN, 0, 4096, 0);
	l.bgid = BGID + 1;
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
	expect_bad(&f, &l, EINVAL, NO_OP, "RING with len");
	l.len = 0;
	l.addr = iopbuf_regbuf_encode(0, 0) | 1;
	expect_bad(&f, &l, EINVAL, NO_OP, "RING with addr");

	/* the lent buffer */
	good_chain(&l, p[0]);
	l.addr = iopbuf_regbuf_encode(1, 0);
	expect_bad(&f, &l, EFAULT, NO_OP, "unregistered index");
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_KBUF, IOPBUF_LEND_DIR_IN, id + 1, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
	expect_bad(&f, &l, ENOENT, NO_OP, "unknown kbuf");
	l.addr = 0;
	expect_bad(&f, &l, ENOENT, NO_OP, "kbuf id 0");
	l.addr = (1ULL << 32) | id;
	expect_bad(&f, &l, ENOENT, NO_OP, "kbuf id above 32 bits");
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_RING, IOPBUF_LEND_DIR_IN, 0, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
	l.bgid = 77;
	expect_bad(&f, &l, ENOENT, NO_OP, "unknown bgid");
	l.bgid = BGID;
	expect_bad(&f, &l, EINVAL, NO_OP, "ring without REGBUF");
	EXPECT_HEAD(&plain, 0);
	l.bgid = BGID + 1;
	expect_bad(&f, &l, ENOBUFS, NO_OP, "empty ring");

	/* the secondaries' files */
	good_chain(&l, -1);
	expect_bad(&f, &l, EBADF, 0, "fd -1");
	good_chain(&l, p[1]);
	expect_bad(&f, &l, EBADF, 0, "READ from a pipe's write end");
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF, IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), 4096, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, s[1], 0, 0, 1);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, p[0], 0, 0, 1);
	expect_bad(&f, &l, EBADF, 1, "WRITE to a pipe's read end");
	l.ops[1].opcode = IOPBUF_LEND_OP_SEND;
	expect_bad(&f, &l, ENOTSOCK, 1, "SEND to a pipe");
	good_chain(&l, p[0]);
	l.ops[0].opcode = IOPBUF_LEND_OP_RECV;
	expect_bad(&f, &l, ENOTSOCK, 0, "RECV from a pipe");

	/* the command */
	good_chain(&l, p[0]);
	l.results = (uintptr_t)f.results;
	{
		static const __u32 lens[] = {
			0, sizeof(l) - 1, sizeof(l) + 1, sizeof(l) - 16,
			0xffffffff,
		};

		for (i = 0; i < H_ARRAY_SIZE(lens); i++) {
			if (lend_start_raw(&f, &l, lens[i], 0) &&
			    t_wait(&f.uring, &c))
				h_expect(c.res == -EINVAL, __FILE__, __LINE__,
					 "cmd len %u: res %s, want -EINVAL",
					 lens[i], h_res(c.res));
		}
	}
	if (lend_start_raw(&f, &l, sizeof(l), 1) && t_wait(&f.uring, &c))
		expect_res(__FILE__, __LINE__, c.res, -EINVAL);
	if (lend_start_raw(&f, NULL, sizeof(l), 0) && t_wait(&f.uring, &c))
		expect_res(__FILE__, __LINE__, c.res, -EFAULT);
	{
		/* a chain running from mapped into unmapped memory */
		char *edge = h_edge();

		if (edge && lend_start_raw(&f, edge + H_PAGE - 32, sizeof(l), 0) &&
		    t_wait(&f.uring, &c))
			expect_res(__FILE__, __LINE__, c.res, -EFAULT);
	}
	/* a ring without big CQEs cannot carry res2 */
	{
		struct io_uring small;
		struct iopbuf_cmd_lend cmd = {
			.addr = (uintptr_t)&l, .len = sizeof(l),
		};

		if (t_uring_init(&small, 0)) {
			expect_res(__FILE__, __LINE__,
				   h_uring_cmd(&small, f.dev, IOPBUF_CMD_LEND,
					       &cmd, sizeof(cmd)), -EINVAL);
			io_uring_queue_exit(&small);
		}
	}

	/* nothing happened; the valid chain still works afterwards */
	EXPECT_EQ(queued(p[0]), 100);
	EXPECT(all_bytes(f.mem, 0xee, BUF_LEN));
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
	good_chain(&l, p[0]);
	if (lend_do(&f, &l, &c)) {
		EXPECT_LEND(&c, 100, 1, NO_OP);
		EXPECT_RESULTS(&f, 1, 100);
		EXPECT_PAT(f.mem, 0, 100);
	}
out:
	t_ring_fini(&plain);
	t_ring_fini(&empty);
	t_close2(p);
	t_close2(s);
	fx_fini(&f);
}

/*
 * Free a kernel buffer while a chain waits on it: the chain keeps it and
 * still moves the data; the id is gone at once.
 */
static void kbuf_freed_inflight(void)
{
	int a[2] = { -1, -1 }, b[2] = { -1, -1 };
	struct iopbuf_kbuf kb = { 0 };
	struct iopbuf_lend l;
	struct t_cqe c;
	struct fx f;

	if (!fx_init_nobuf(&f) || !t_tcp_pair(a) || !t_tcp_pair(b))
		goto out;
	kb.id = fx_kbuf(&f, KBUF_LEN);
	if (!kb.id)
		goto out;
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_KBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT, kb.id, 0, 0);
	chain_recv_send(&l, a[0], b[1]);
	if (!lend_start(&f, &l) || !t_no_cqe(&f.uring))
		goto out;
	EXPECT_OK(h_ioctl(f.dev, IOPBUF_IOC_KBUF_FREE, &kb));
	EXPECT_ERR(h_ioctl(f.dev, IOPBUF_IOC_KBUF_FREE, &kb), ENOENT);
	if (!t_write_pat(a[1], 0, 2500) || !t_wait(&f.uring, &c))
		goto out;
	EXPECT_LEND(&c, 5000, 2, NO_OP);
	expect_peer_pat(b[0], 0, 2500);
	/* the chain's reference was the last one */
	wait_ctx_pinned(f.dev, 0);
	EXPECT_STATS(f.dev, 0, 0, 0, 0, 0);
out:
	t_close2(a);
	t_close2(b);
	fx_fini(&f);
}

/*
 * IOPBUF_IOC_CANCEL while a chain waits in its second secondary: the first
 * one's bytes are reported, the waiting one -ECANCELED, the third did not
 * run; the data the first one read stays in the buffer.
 */
static void cancel_waiting_chain(void)
{
	int p[2] = { -1, -1 }, q[2] = { -1, -1 }, s[2] = { -1, -1 };
	struct iopbuf_lend l;
	struct t_cqe c;
	struct fx f;

	if (!fx_init(&f) || !t_pipe(p) || !t_pipe(q) || !t_tcp_pair(s) ||
	    !t_write_pat(p[1], 0, 1500))
		goto out;
	iopbuf_lend_init(&l, IOPBUF_LEND_SRC_REGBUF,
		  IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
		  iopbuf_regbuf_encode(0, 0), 8192, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_READ, p[0], 0, 0, 0);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_RECV, s[0], 0, 4096, 4096);
	iopbuf_lend_add(&l, IOPBUF_LEND_OP_WRITE, q[1], 0, 0, 1500);
	if (!lend_start(&f, &l) || !t_no_cqe(&f.uring))
		goto out;
	EXPECT_EQ(t_ctx_inflight(f.dev), 1);
	EXPECT_EQ(ioctl(f.dev, IOPBUF_IOC_CANCEL), 1);
	if (!t_wait(&f.uring, &c))
		goto out;
	EXPECT_LEND(&c, -ECANCELED, 1, 1);
	EXPECT_RESULTS(&f, 3, 1500, -ECANCELED, 0);
	EXPECT_PAT(f.mem, 0, 1500);
	EXPECT_EQ(queued(p[0]), 0);
	EXPECT_EQ(queued(q[0]), 0);
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
	/* the socket is untouched: data sent now is all still there */
	if (t_write_pat(s[1], 0, 10))
		EXPECT(wait_queued(s[0], 10));
out:
	t_close2(p);
	t_close2(q);
	t_close2(s);
	fx_fini(&f);
}

/*
 * A kernel buffer larger than the guest's memory, asked for by root (no
 * memlock limit: CAP_IPC_LOCK): -ENOMEM at once, nothing charged, and no
 * OOM kill on the way (the test process, and this guest, live on).
 */
static void kbuf_beyond_memory(void)
{
	struct iopbuf_kbuf kb = { .len = 0 };
	long pages = sysconf(_SC_PHYS_PAGES);
	struct fx f;

	if (!fx_init_nobuf(&f))
		goto out;
	if (!EXPECT(pages > 0))
		goto out;
	kb.len = (__u64)pages * 4096 * 2;
	EXPECT_ERR(h_ioctl(f.dev, IOPBUF_IOC_KBUF_ALLOC, &kb), ENOMEM);
	EXPECT_STATS(f.dev, 0, 0, 0, 0, 0);
	/* a modest one still works afterwards */
	fx_kbuf(&f, KBUF_LEN);
out:
	fx_fini(&f);
}

/*
 * Steady state allocates nothing: once a few chains have run, the command
 * object keeps its chain state and zero-copy notification, and many more
 * file-to-socket chains must not move the module's cache_misses counter.
 */
static void cache_steady(void)
{
	const __u32 chunk = 8192;
	int file = -1, fds[2] = { -1, -1 };
	long before = -1, after;
	struct iopbuf_lend l;
	struct t_cqe c;
	unsigned int i;
	struct fx f;

	if (!file_chain_setup(&f, fds, &file, "lend-cache", &l, 0, chunk, 0))
		goto out;
	for (i = 0; i < 36; i++) {
		if (i == 4) {
			before = h_sysfs_read("cache_misses");
			if (!h_expect(before >= 0, __FILE__, __LINE__,
				      "sysfs cache_misses unreadable"))
				goto out;
		}
		if (!lend_do(&f, &l, &c) ||
		    !EXPECT_LEND(&c, 2 * (int)chunk, 2, NO_OP) ||
		    !expect_peer_pat(fds[0], 0, chunk))
			goto out;
	}
	after = h_sysfs_read("cache_misses");
	if (!EXPECT_EQ(after, before))
		h_note("%ld cache misses in 32 steady-state chains",
		       after - before);
out:
	h_close(&file);
	t_close2(fds);
	fx_fini(&f);
}

static void counters_zero(void)
{
	h_case_counters_zero();
}

int main(void)
{
	h_init("lend");
	signal(SIGPIPE, SIG_IGN);
	RUN(file_to_socket_sizes);
	RUN(file_to_socket_async);
	RUN(file_to_socket_loop);
	RUN(socket_proxy_kbuf);
	RUN(socket_proxy_kbuf_stream);
	RUN(socket_proxy_ring);
	RUN(odirect_blockdev);
	RUN(odirect_ext2_file);
	RUN(direction_violations);
	RUN(range_overruns);
	RUN(midchain_failure);
	RUN(sigkill_recv_waiting);
	RUN(sigkill_send_waiting);
	RUN(malformed_chain);
	RUN(kbuf_freed_inflight);
	RUN(cancel_waiting_chain);
	RUN(kbuf_beyond_memory);
	RUN(cache_steady);
	RUN(counters_zero);
	return h_exit();
}
