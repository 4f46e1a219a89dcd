// SPDX-License-Identifier: GPL-2.0
/*
 * libiouring-pbuf (lib/) against the module: every function of the
 * library once, its -errno convention, and its prep helpers and CQE
 * accessors on real commands (PROBE, READ, RECV on an INC ring, SEND
 * bundles zero copy).
 *
 * The test links the library as built (lib/build/libiouring-pbuf.a,
 * tests/Makefile).
 */
#include "util.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#define QD	16
#define BGID	7

static unsigned char pat(size_t i)
{
	return (unsigned char)(i * 7 + (i >> 9) + 3);
}

/* Submit what is queued and wait up to 5 s for one completion. */
static bool wait_one(struct io_uring *ring, struct io_uring_cqe **cqe)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	int ret;

	io_uring_submit(ring);
	ret = io_uring_wait_cqe_timeout(ring, cqe, &ts);
	if (ret)
		FAILF("no completion: %s", h_res(ret));
	return !ret;
}

/* -------------------------------------------------------------------- */

static void open_probe_check(void)
{
	struct iopbuf_probe p, q;
	struct iopbuf_stats st;
	int dev = iopbuf_open(), null;

	if (!EXPECT(dev >= 0))
		return;
	EXPECT_OK(iopbuf_probe(dev, &p));
	EXPECT_OK(h_probe(dev, &q));
	EXPECT(!memcmp(&p, &q, sizeof(p)));
	EXPECT_EQ(p.abi_version, IOPBUF_ABI_VERSION);
	EXPECT_OK(iopbuf_check(dev, IOPBUF_FEAT_REGBUF | IOPBUF_FEAT_RING |
			       IOPBUF_FEAT_RING_MMAP | IOPBUF_FEAT_RING_INC |
			       IOPBUF_FEAT_RING_REGBUF | IOPBUF_FEAT_RECV |
			       IOPBUF_FEAT_SEND_ZC | IOPBUF_FEAT_PROBE_CMD |
			       IOPBUF_FEAT_STATS, NULL));
	memset(&q, 0, sizeof(q));
	EXPECT_ERR(iopbuf_check(dev, 1ULL << 63, &q), EOPNOTSUPP);
	EXPECT_EQ(q.abi_version, IOPBUF_ABI_VERSION);	/* filled anyway */
	EXPECT_OK(iopbuf_stats(dev, &st));
	EXPECT_EQ(st.bufs + st.rings + st.pinned_pages + st.inflight, 0);
	EXPECT_EQ(iopbuf_cancel(dev), 0);
	/* not the device: the ioctl's errno, negated */
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	EXPECT_ERR(iopbuf_probe(null, &p), ENOTTY);
	EXPECT_ERR(iopbuf_check(-1, 0, NULL), EBADF);
	close(null);
	close(dev);
}

static void buffers(int dev, char *mem)
{
	struct iovec iov[2];

	iov[0] = (struct iovec){ mem, H_PAGE };
	iov[1] = (struct iovec){ mem + 2 * H_PAGE, 2 * H_PAGE };
	EXPECT_ERR(iopbuf_update_buffers(dev, 0, iov, 1), ENXIO);
	EXPECT_ERR(iopbuf_unregister_buffers(dev), ENXIO);
	EXPECT_OK(iopbuf_register_buffers_sparse(dev, 4));
	EXPECT_ERR(iopbuf_register_buffers(dev, iov, 2), EBUSY);
	EXPECT_STATS(dev, 4, 0, 0, 0, 0);
	EXPECT_OK(iopbuf_update_buffers(dev, 2, iov, 2));
	EXPECT_ERR(iopbuf_update_buffers(dev, 3, iov, 2), EINVAL);
	EXPECT_OK(iopbuf_unregister_buffers(dev));
	EXPECT_OK(iopbuf_register_buffers(dev, iov, 2));
	EXPECT_OK(iopbuf_unregister_buffers(dev));
	EXPECT_STATS(dev, 0, 0, 0, 0, 0);
}

/* Both kinds of ring memory; entries written through liburing's helpers. */
static void ring_setup(bool mmapped)
{
	unsigned int flags = IOPBUF_RING_REGBUF | (mmapped ? IOPBUF_RING_MMAP : 0);
	struct io_uring_buf_ring *br, *again;
	unsigned int head = 99;
	int dev = h_open(), err = 1;

	if (dev < 0)
		return;
	br = iopbuf_setup_ring(dev, 8, BGID, flags, 0, &err);
	if (!EXPECT(br) || !EXPECT_EQ(err, 0))
		goto out;
	EXPECT_EQ(br->tail, 0);
	EXPECT_ERR(iopbuf_register_ring(dev, NULL, 8, BGID, IOPBUF_RING_MMAP, 0),
		   EEXIST);
	iopbuf_ring_add_regbuf(br, 3, 4096, 512, 11, io_uring_buf_ring_mask(8), 0);
	io_uring_buf_ring_add(br, (void *)0x1000, 64, 12,
			      io_uring_buf_ring_mask(8), 1);
	io_uring_buf_ring_advance(br, 2);
	EXPECT_EQ(*iopbuf_ring_tail(iopbuf_ring_bufs(br)), 2);
	EXPECT_EQ(iopbuf_ring_bufs(br)[0].addr, iopbuf_regbuf_encode(3, 4096));
	EXPECT_EQ(iopbuf_ring_bufs(br)[0].bid, 11);
	EXPECT_EQ(iopbuf_ring_bufs(br)[1].len, 64);
	EXPECT_OK(iopbuf_ring_head(dev, BGID, &head));
	EXPECT_EQ(head, 0);
	EXPECT_FDINFO_LINE(dev, "  ring %u: entries 8 head 0 tail 2%s regbuf min_left 1",
			   BGID, mmapped ? " mmap" : "");
	if (mmapped) {
		/* a second mapping of the same kernel memory */
		again = iopbuf_map_ring(dev, 8, BGID, &err);
		if (EXPECT(again)) {
			EXPECT_EQ(again->tail, 2);
			munmap(again, iopbuf_ring_size(8));
		}
	} else {
		EXPECT(!iopbuf_map_ring(dev, 8, BGID, &err));
		EXPECT_EQ(err, -EINVAL);
	}
	EXPECT_OK(iopbuf_free_ring(dev, br, 8, BGID));
	EXPECT_ERR(iopbuf_ring_head(dev, BGID, &head), ENOENT);
	EXPECT_ERR(iopbuf_unregister_ring(dev, BGID), ENOENT);
	EXPECT(!iopbuf_map_ring(dev, 8, BGID, &err));
	EXPECT_EQ(err, -ENOENT);
	/* errors come back through *err */
	EXPECT(!iopbuf_setup_ring(dev, 3, BGID, flags, 0, &err));
	EXPECT_EQ(err, -EINVAL);
	EXPECT(!iopbuf_setup_ring(dev, 8, BGID, flags, 16, &err));	/* min_left w/o INC */
	EXPECT_EQ(err, -EINVAL);
	EXPECT(!iopbuf_setup_ring(dev, 8, 1 << 16, flags, 0, &err));
	EXPECT_EQ(err, -EINVAL);
	EXPECT_STATS(dev, 0, 0, 0, 0, 0);
out:
	h_close(&dev);
}

static void ring_user_memory(void)	{ ring_setup(false); }
static void ring_mmap(void)		{ ring_setup(true); }

/* The lowest free descriptor: an fd a library call leaked would take it. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void open_check_setup_buffers(void)
{
	struct iopbuf_probe p = { 0 };
	struct iopbuf_stats st;
	int dev, err = 1, free_fd = lowest_free_fd();
	unsigned char *mem;

	/* a feature the module lacks: -EOPNOTSUPP, and no fd left open */
	EXPECT_ERR(iopbuf_open_check(1ULL << 63, &p), EOPNOTSUPP);
	EXPECT_EQ(p.abi_version, IOPBUF_ABI_VERSION);
	EXPECT_EQ(lowest_free_fd(), free_fd);
	dev = iopbuf_open_check(IOPBUF_FEAT_REGBUF, NULL);
	if (!EXPECT(dev >= 0))
		return;

	/* sizes the library refuses before the module sees them */
	EXPECT(!iopbuf_setup_buffers(dev, 0, H_PAGE, &err));
	EXPECT_EQ(err, -EINVAL);
	EXPECT(!iopbuf_setup_buffers(dev, 2, SIZE_MAX / 2 + 1, &err));
	EXPECT_EQ(err, -EINVAL);

	mem = iopbuf_setup_buffers(dev, 3, 2 * H_PAGE, &err);
	if (!EXPECT(mem))
		goto out;
	EXPECT_EQ(err, 0);
	memset(mem, 0x5a, 6 * H_PAGE);	/* the whole region is mapped */
	EXPECT_OK(iopbuf_stats(dev, &st));
	EXPECT_EQ(st.bufs, 3);
	EXPECT_EQ(st.pinned_pages, 6);
	/* a second table: the module's errno, and the first one stays */
	EXPECT(!iopbuf_setup_buffers(dev, 1, H_PAGE, &err));
	EXPECT_EQ(err, -EBUSY);
	EXPECT_OK(iopbuf_stats(dev, &st));
	EXPECT_EQ(st.bufs, 3);
	EXPECT_OK(iopbuf_free_buffers(dev, mem, 3, 2 * H_PAGE));
	EXPECT_OK(iopbuf_stats(dev, &st));
	EXPECT_EQ(st.bufs + st.pinned_pages, 0);
	/* nothing registered any more: unregistering again fails */
	EXPECT_ERR(iopbuf_free_buffers(dev, NULL, 0, 0), ENXIO);
out:
	close(dev);
}

static void ring_consume(void)
{
	static const unsigned int len[4] = { 100, 200, 300, 400 };
	struct io_uring_buf_ring *br = calloc(4, sizeof(struct iopbuf_buf));
	unsigned short head = 3, bids[3] = { 0 };
	unsigned int i;

	if (!EXPECT(br))
		return;
	for (i = 0; i < 4; i++) {
		iopbuf_ring_bufs(br)[i].len = len[i];
		iopbuf_ring_bufs(br)[i].bid = 10 + i;
	}
	/* from entry 3 across the end of a 4-entry ring to entry 1 */
	EXPECT_EQ(iopbuf_ring_consume(br, 4, &head, 3, bids), 400 + 100 + 200);
	EXPECT_EQ(head, 6);
	EXPECT_EQ(bids[0], 13);
	EXPECT_EQ(bids[1], 10);
	EXPECT_EQ(bids[2], 11);
	/* without bids; the head copy wraps with the 16-bit kernel head */
	head = 0xffff;
	EXPECT_EQ(iopbuf_ring_consume(br, 4, &head, 2, NULL), 400 + 100);
	EXPECT_EQ(head, 1);
	EXPECT_EQ(iopbuf_ring_consume(br, 4, &head, 0, bids), 0);
	EXPECT_EQ(head, 1);
	free(br);
}

static void prep_probe(void)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct iopbuf_probe p, q;
	struct io_uring ring;
	int dev = h_open();

	if (dev < 0 || !EXPECT_OK(io_uring_queue_init(QD, &ring, 0)))
		goto out;
	memset(&p, 0xa5, sizeof(p));
	sqe = io_uring_get_sqe(&ring);
	/* user_data set before the prep survives it, as with liburing */
	io_uring_sqe_set_data64(sqe, 42);
	iopbuf_prep_probe(sqe, dev, &p);
	EXPECT_EQ(sqe->opcode, IORING_OP_URING_CMD);
	EXPECT_EQ(sqe->cmd_op, IOPBUF_CMD_PROBE);
	if (wait_one(&ring, &cqe)) {
		EXPECT_EQ(cqe->user_data, 42);
		EXPECT_EQ(cqe->res, sizeof(p));
		io_uring_cqe_seen(&ring, cqe);
		EXPECT_OK(iopbuf_probe(dev, &q));
		EXPECT(!memcmp(&p, &q, sizeof(p)));
	}
	io_uring_queue_exit(&ring);
out:
	h_close(&dev);
}

/* The accessors on a hand-made CQE32. */
static void cqe_accessors(void)
{
	__u64 raw[4] = { 0 };
	struct io_uring_cqe *cqe = (struct io_uring_cqe *)raw;

	cqe->res = 1234;
	raw[2] = iopbuf_cqe_res2(65535, 7, IOPBUF_CQE_F_BUFFER |
				 IOPBUF_CQE_F_BUF_MORE | IOPBUF_CQE_F_ZC);
	EXPECT_EQ(iopbuf_cqe_bytes(cqe), 1234);
	EXPECT_EQ(iopbuf_cqe_get_res2(cqe), raw[2]);
	EXPECT_EQ(iopbuf_cqe_get_bid(cqe), 65535);
	EXPECT_EQ(iopbuf_cqe_get_nbufs(cqe), 7);
	EXPECT_EQ(iopbuf_cqe_get_flags(cqe), IOPBUF_CQE_F_BUFFER |
		  IOPBUF_CQE_F_BUF_MORE | IOPBUF_CQE_F_ZC);
	EXPECT(iopbuf_cqe_has_buffer(cqe) && iopbuf_cqe_buf_more(cqe));
	EXPECT(iopbuf_cqe_zc(cqe) && iopbuf_cqe_zero_copied(cqe));
	EXPECT(!iopbuf_cqe_zc_copied(cqe) && !iopbuf_cqe_detached(cqe));
	raw[2] |= (__u64)(IOPBUF_CQE_F_ZC_COPIED | IOPBUF_CQE_F_DETACHED) << 32;
	EXPECT(iopbuf_cqe_zc_copied(cqe) && !iopbuf_cqe_zero_copied(cqe));
	EXPECT(iopbuf_cqe_detached(cqe));
	raw[2] = 0;
	EXPECT(!iopbuf_cqe_has_buffer(cqe) && !iopbuf_cqe_zc(cqe));
}

/* IOPBUF_CMD_READ of a file into a bundle of registered-buffer slices. */
static void prep_read_bundle(void)
{
	size_t size = 4 * H_PAGE, i;
	char *mem = h_map(size), *src = h_map(2 * H_PAGE);
	struct iovec iov = { mem, size };
	struct io_uring_buf_ring *br = NULL;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int dev = h_open(), file = -1, err;

	if (dev < 0 || !mem || !src ||
	    !EXPECT_OK(iopbuf_queue_init(QD, &ring, 0)))
		goto out;
	EXPECT(ring.flags & IORING_SETUP_CQE32);
	file = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (!EXPECT(file >= 0))
		goto out_ring;
	for (i = 0; i < 2 * H_PAGE; i++)
		src[i] = pat(i);
	EXPECT_EQ(pwrite(file, src, 2 * H_PAGE, 0), 2 * H_PAGE);
	EXPECT_OK(iopbuf_register_buffers(dev, &iov, 1));
	br = iopbuf_setup_ring(dev, 4, BGID, IOPBUF_RING_REGBUF, 0, &err);
	if (!EXPECT(br))
		goto out_ring;
	/* slices in reverse order: bids 3, 2, 1, 0 */
	for (i = 0; i < 4; i++)
		iopbuf_ring_add_regbuf(br, 0, (3 - i) * H_PAGE, H_PAGE, 3 - i,
				       io_uring_buf_ring_mask(4), i);
	io_uring_buf_ring_advance(br, 4);
	iopbuf_prep_read(io_uring_get_sqe(&ring), dev, file, BGID,
			 IOPBUF_RECV_BUNDLE, 2 * H_PAGE);
	if (wait_one(&ring, &cqe)) {
		EXPECT_EQ(iopbuf_cqe_bytes(cqe), 2 * H_PAGE);
		EXPECT(iopbuf_cqe_has_buffer(cqe) && !iopbuf_cqe_buf_more(cqe));
		EXPECT_EQ(iopbuf_cqe_get_bid(cqe), 3);
		EXPECT_EQ(iopbuf_cqe_get_nbufs(cqe), 2);
		io_uring_cqe_seen(&ring, cqe);
		EXPECT(!memcmp(mem + 3 * H_PAGE, src, H_PAGE));
		EXPECT(!memcmp(mem + 2 * H_PAGE, src + H_PAGE, H_PAGE));
	}
	iopbuf_free_ring(dev, br, 4, BGID);
out_ring:
	io_uring_queue_exit(&ring);
out:
	h_close(&file);
	h_close(&dev);
	h_unmap(mem, size);
	h_unmap(src, 2 * H_PAGE);
}

/* IOPBUF_CMD_RECV on an INC ring of user addresses: BUF_MORE, in place. */
static void prep_recv_inc(void)
{
	char *mem = h_map(H_PAGE), data[300];
	struct io_uring_buf_ring *br = NULL;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int dev = h_open(), fds[2] = { -1, -1 }, err, i;

	if (dev < 0 || !mem || !EXPECT_OK(iopbuf_queue_init(QD, &ring, 0)))
		goto out;
	br = iopbuf_setup_ring(dev, 1, BGID, IOPBUF_RING_INC | IOPBUF_RING_MMAP,
			       0, &err);
	if (!EXPECT(br) || !t_tcp_pair(fds))
		goto out_ring;
	io_uring_buf_ring_add(br, mem, H_PAGE, 5, io_uring_buf_ring_mask(1), 0);
	io_uring_buf_ring_advance(br, 1);
	for (i = 0; i < 300; i++)
		data[i] = pat(i);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(write(fds[1], data + 100 * i, 100 + 100 * i), 100 + 100 * i);
		iopbuf_prep_recv(io_uring_get_sqe(&ring), dev, fds[0], BGID, 0, 0);
		if (!wait_one(&ring, &cqe))
			break;
		EXPECT_EQ(iopbuf_cqe_bytes(cqe), 100 + 100 * i);
		EXPECT_EQ(iopbuf_cqe_get_bid(cqe), 5);
		EXPECT_EQ(iopbuf_cqe_get_nbufs(cqe), 1);
		EXPECT(iopbuf_cqe_has_buffer(cqe) && iopbuf_cqe_buf_more(cqe));
		io_uring_cqe_seen(&ring, cqe);
	}
	/* the second receive landed right after the first */
	EXPECT(!memcmp(mem, data, 300));
	EXPECT_EQ(iopbuf_ring_bufs(br)[0].addr, (uintptr_t)mem + 300);
	EXPECT_EQ(iopbuf_ring_bufs(br)[0].len, H_PAGE - 300);
	iopbuf_free_ring(dev, br, 1, BGID);
out_ring:
	io_uring_queue_exit(&ring);
out:
	t_close2(fds);
	h_close(&dev);
	h_unmap(mem, H_PAGE);
}

/*
 * IOPBUF_CMD_SEND bundles from a REGBUF ring over TCP: zero copy requested
 * (loopback copies on receive, so the stack reports ZC_COPIED), every
 * buffer named, and the completion means they may be rewritten.
 */
static void prep_send_bundle(void)
{
	size_t size = 8 * H_PAGE, i, got = 0;
	char *mem = h_map(size), *rx = h_map(size);
	struct iovec iov = { mem, size };
	struct io_uring_buf_ring *br = NULL;
	struct iopbuf_cmd_send cmd;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int dev = h_open(), fds[2] = { -1, -1 }, err;
	ssize_t n;

	if (dev < 0 || !mem || !rx || !EXPECT_OK(iopbuf_queue_init(QD, &ring, 0)))
		goto out;
	for (i = 0; i < size; i++)
		mem[i] = pat(i);
	EXPECT_OK(iopbuf_register_buffers(dev, &iov, 1));
	br = iopbuf_setup_ring(dev, 8, BGID, IOPBUF_RING_REGBUF, 0, &err);
	if (!EXPECT(br) || !t_tcp_pair(fds))
		goto out_ring;
	/* three slices of different lengths, one after the other */
	iopbuf_ring_add_regbuf(br, 0, 0, 1000, 0, 7, 0);
	iopbuf_ring_add_regbuf(br, 0, 1000, 3 * H_PAGE, 1, 7, 1);
	iopbuf_ring_add_regbuf(br, 0, 1000 + 3 * H_PAGE, 96, 2, 7, 2);
	io_uring_buf_ring_advance(br, 3);
	/* the payload as the module reads it */
	sqe = io_uring_get_sqe(&ring);
	iopbuf_prep_send_msg_flags(sqe, dev, fds[1], BGID, IOPBUF_SEND_BUNDLE,
				   1 << 20, MSG_MORE);
	memcpy(&cmd, sqe->cmd, sizeof(cmd));
	EXPECT(cmd.fd == fds[1] && cmd.bgid == BGID && cmd.len == 1 << 20 &&
	       cmd.flags == IOPBUF_SEND_BUNDLE && cmd.msg_flags == MSG_MORE);
	EXPECT(sqe->cmd_op == IOPBUF_CMD_SEND && sqe->fd == dev);
	/* (MSG_MORE would hold the data back, and the release with it) */
	iopbuf_prep_send(sqe, dev, fds[1], BGID, IOPBUF_SEND_BUNDLE, 0);
	if (wait_one(&ring, &cqe)) {
		EXPECT_EQ(iopbuf_cqe_bytes(cqe), 1096 + 3 * H_PAGE);
		EXPECT(iopbuf_cqe_has_buffer(cqe) && !iopbuf_cqe_buf_more(cqe));
		EXPECT_EQ(iopbuf_cqe_get_bid(cqe), 0);
		EXPECT_EQ(iopbuf_cqe_get_nbufs(cqe), 3);
		EXPECT(iopbuf_cqe_zc(cqe) && !iopbuf_cqe_detached(cqe));
		h_note("zero copy %s", iopbuf_cqe_zc_copied(cqe) ?
		       "requested, stack copied" : "done");
		io_uring_cqe_seen(&ring, cqe);
	}
	/* released: rewriting the memory cannot change what was sent */
	memset(mem, 0, size);
	shutdown(fds[1], SHUT_WR);
	while ((n = read(fds[0], rx + got, size - got)) > 0)
		got += n;
	EXPECT_EQ(got, 1096 + 3 * H_PAGE);
	for (i = 0; i < got && rx[i] == (char)pat(i); i++)
		;
	EXPECT_EQ(i, got);
	iopbuf_free_ring(dev, br, 8, BGID);
out_ring:
	io_uring_queue_exit(&ring);
out:
	t_close2(fds);
	h_close(&dev);
	h_unmap(mem, size);
	h_unmap(rx, size);
}

/*
 * IOPBUF_CMD_LEND through the chain helpers: read a file into a slice of a
 * registered buffer and send it on, all in one command; and a kernel
 * buffer's life cycle.
 */
static void prep_lend(void)
{
	size_t size = 4 * H_PAGE, i, got = 0;
	char *mem = h_map(size), *src = h_map(2 * H_PAGE), *rx = h_map(size);
	struct iovec iov = { mem, size };
	struct io_uring_cqe *cqe;
	struct iopbuf_lend lend;
	struct io_uring ring;
	__s64 results[2] = { -1, -1 };
	int dev = h_open(), file = -1, fds[2] = { -1, -1 }, id;
	ssize_t n;

	if (dev < 0 || !mem || !src || !rx ||
	    !EXPECT_OK(iopbuf_queue_init(QD, &ring, 0)))
		goto out;
	file = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (!EXPECT(file >= 0) || !t_tcp_pair(fds))
		goto out_ring;
	for (i = 0; i < 2 * H_PAGE; i++)
		src[i] = pat(i + 5);
	EXPECT_EQ(pwrite(file, src, 2 * H_PAGE, 0), 2 * H_PAGE);
	EXPECT_OK(iopbuf_register_buffers(dev, &iov, 1));
	iopbuf_lend_init(&lend, IOPBUF_LEND_SRC_REGBUF,
			 IOPBUF_LEND_DIR_IN | IOPBUF_LEND_DIR_OUT,
			 iopbuf_regbuf_encode(0, H_PAGE), 2 * H_PAGE, 0);
	lend.results = (uintptr_t)results;
	EXPECT_EQ(iopbuf_lend_add(&lend, IOPBUF_LEND_OP_READ, file, 0, 0, 0), 0);
	EXPECT_EQ(iopbuf_lend_add(&lend, IOPBUF_LEND_OP_SEND, fds[1], 0, 0, 0), 1);
	iopbuf_prep_lend(io_uring_get_sqe(&ring), dev, &lend);
	if (wait_one(&ring, &cqe)) {
		h_note("LEND: res %d, results %lld %lld", iopbuf_cqe_bytes(cqe),
		       (long long)results[0], (long long)results[1]);
		EXPECT_EQ(iopbuf_cqe_bytes(cqe), 4 * H_PAGE);
		EXPECT_EQ(iopbuf_cqe_lend_done(cqe), 2);
		EXPECT_EQ(iopbuf_cqe_lend_failed(cqe), IOPBUF_LEND_NONE);
		EXPECT(iopbuf_cqe_zc(cqe));
		io_uring_cqe_seen(&ring, cqe);
		EXPECT_EQ(results[0], 2 * H_PAGE);
		EXPECT_EQ(results[1], 2 * H_PAGE);
	}
	shutdown(fds[1], SHUT_WR);
	while ((n = read(fds[0], rx + got, size - got)) > 0)
		got += n;
	EXPECT_EQ(got, 2 * H_PAGE);
	EXPECT(!memcmp(rx, src, 2 * H_PAGE));
	EXPECT(!memcmp(mem + H_PAGE, src, 2 * H_PAGE));
	/* a full chain */
	for (i = 2; i < IOPBUF_LEND_MAX_OPS; i++)
		iopbuf_lend_add(&lend, IOPBUF_LEND_OP_SEND, fds[1], 0, 0, 0);
	EXPECT_EQ(iopbuf_lend_add(&lend, IOPBUF_LEND_OP_SEND, fds[1], 0, 0, 0),
		  -E2BIG);
	/* kernel buffers */
	id = iopbuf_kbuf_alloc(dev, 10000);
	EXPECT(id >= 1 && id <= IOPBUF_MAX_KBUFS);
	EXPECT_OK(iopbuf_kbuf_free(dev, id));
	EXPECT_ERR(iopbuf_kbuf_free(dev, id), ENOENT);
	EXPECT_ERR(iopbuf_kbuf_alloc(dev, 0), EINVAL);
out_ring:
	io_uring_queue_exit(&ring);
out:
	h_close(&file);
	t_close2(fds);
	h_close(&dev);
	h_unmap(mem, size);
	h_unmap(src, 2 * H_PAGE);
	h_unmap(rx, size);
}

int main(void)
{
	h_init("lib_api");
	RUN(open_probe_check);
	RUN_DEV(buffers, 4);
	RUN(ring_user_memory);
	RUN(ring_mmap);
	RUN(open_check_setup_buffers);
	RUN(ring_consume);
	RUN(prep_probe);
	RUN(cqe_accessors);
	RUN(prep_read_bundle);
	RUN(prep_recv_inc);
	RUN(prep_send_bundle);
	RUN(prep_lend);
	RUN(h_case_counters_zero);
	return h_exit();
}
