// SPDX-License-Identifier: MIT
/*
 * echo [-r] [PORT [N]]: a TCP echo server that receives into one large
 * registered buffer per connection, incrementally, and sends what arrived
 * back zero copy, in bundles.
 *
 * Each connection slot owns registered buffer number slot (BUF bytes),
 * provided in PARTS parts by an IOPBUF_RING_INC receive ring (bgid 2*slot):
 * every IOPBUF_CMD_RECV lands right after the previous one in the same part
 * (the completion says IOPBUF_CQE_F_BUF_MORE) until fewer than MIN_LEFT
 * bytes are left; then the kernel moves on to the next part. Each receive
 * becomes one entry of the send ring (bgid 2*slot+1, REGBUF) naming exactly
 * the bytes that arrived, and IOPBUF_CMD_SEND with IOPBUF_SEND_BUNDLE sends
 * all queued entries at once. Its completion means the stack has released
 * those bytes: once a full part has no unsent or unreleased bytes left, it
 * goes back into the receive ring.
 *
 * The receive ring's entries hold the buffer's addresses, or with -r
 * registered-buffer encodings of it (IOPBUF_RING_REGBUF | IOPBUF_RING_INC).
 * With N, exit after N connections and print the counters. Build with
 *   cc -O2 echo.c $(pkg-config --cflags --libs iouring-pbuf)
 */
#include <errno.h>
#include <error.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#ifndef IOPBUF_H	/* tests/examples_*.c include the library themselves */
#include <iopbuf.h>
#endif

#define MAX_CONN	32
#define PARTS		2			/* receive ring entries */
#define PART		(256 * 1024)
#define BUF		((size_t)PARTS * PART)	/* per connection */
#define MIN_LEFT	4096			/* retire a part below this */
#define SEND_ENTRIES	64

enum { OP_ACCEPT, OP_RECV, OP_SEND };

struct conn {
	int fd;					/* -1: slot unused */
	struct io_uring_buf_ring *rr, *sr;	/* receive and send rings */
	unsigned int fill[PARTS];		/* bytes received into a part */
	unsigned int pending[PARTS];		/* its entries not yet released */
	int retired[PARTS];			/* the kernel moved past it */
	unsigned short sr_head;			/* next send entry the kernel takes */
	unsigned int queued;			/* entries on the send ring */
	int recving, sending, starved, eof, closing;
};

static struct io_uring ring;
static struct conn conns[MAX_CONN];
static char *mem;			/* the registered buffers */
static int dev, lsock, accepting, active, regbuf_recv;
static long conns_left = -1;		/* N */
static unsigned long long bytes, recvs, buf_more, sends, bufs_sent, zc, copied;

static struct io_uring_sqe *get_sqe(int slot, int op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe && io_uring_submit(&ring) >= 0)
		sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		error(1, EBUSY, "io_uring_get_sqe");
	io_uring_sqe_set_data64(sqe, (__u64)slot << 8 | op);
	return sqe;
}

/* Hand part @p (all of it) to the receive ring. */
static void give_part(int slot, int p)
{
	struct conn *c = &conns[slot];
	size_t off = (size_t)slot * BUF + (size_t)p * PART;

	if (regbuf_recv)
		iopbuf_ring_add_regbuf(c->rr, slot, (__u64)p * PART, PART, p,
				       PARTS - 1, 0);
	else
		io_uring_buf_ring_add(c->rr, mem + off, PART, p, PARTS - 1, 0);
	io_uring_buf_ring_advance(c->rr, 1);
	c->fill[p] = 0;
	c->retired[p] = 0;
}

static void conn_close(int slot)
{
	struct conn *c = &conns[slot];

	c->closing = 1;
	if (c->recving || c->sending)
		return;		/* again when they complete */
	iopbuf_free_ring(dev, c->rr, PARTS, 2 * slot);
	iopbuf_free_ring(dev, c->sr, SEND_ENTRIES, 2 * slot + 1);
	close(c->fd);
	c->fd = -1;
	active--;
	conns_left -= conns_left > 0;
}

/* Keep a receive and a send in flight while they have something to do. */
static void pump(int slot)
{
	struct conn *c = &conns[slot];

	if (c->closing || (c->eof && !c->queued && !c->sending)) {
		conn_close(slot);
		return;
	}
	/* a receive adds one send entry: only with room for it */
	if (!c->recving && !c->starved && !c->eof && c->queued < SEND_ENTRIES) {
		iopbuf_prep_recv(get_sqe(slot, OP_RECV), dev, c->fd, 2 * slot,
				 0, 0);
		c->recving = 1;
	}
	if (!c->sending && c->queued) {
		iopbuf_prep_send(get_sqe(slot, OP_SEND), dev, c->fd,
				 2 * slot + 1, IOPBUF_SEND_BUNDLE, 0);
		c->sending = 1;
	}
}

static void conn_open(int fd)
{
	int slot = 0, err = 0, p;
	struct conn *c;

	while (conns[slot].fd >= 0)
		slot++;
	c = &conns[slot];
	memset(c, 0, sizeof(*c));
	c->rr = iopbuf_setup_ring(dev, PARTS, 2 * slot, IOPBUF_RING_INC |
				  (regbuf_recv ? IOPBUF_RING_REGBUF : 0),
				  MIN_LEFT, &err);
	c->sr = iopbuf_setup_ring(dev, SEND_ENTRIES, 2 * slot + 1,
				  IOPBUF_RING_REGBUF, 0, &err);
	if (!c->rr || !c->sr)
		error(1, -err, "iopbuf_setup_ring");
	c->fd = fd;
	active++;
	for (p = 0; p < PARTS; p++)
		give_part(slot, p);
	pump(slot);
}

/* @res bytes arrived in part bid, right after what it already holds. */
static void on_recv(int slot, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[slot];
	int res = iopbuf_cqe_bytes(cqe), p = iopbuf_cqe_get_bid(cqe);

	c->recving = 0;
	if (res == -ENOBUFS) {
		/*
		 * Every part was still being sent when the data came. Parts
		 * come back only as sends complete, so wait for one; with no
		 * entry queued every part is back already (a send completed
		 * between this receive's issue and its failure): try again.
		 */
		c->starved = c->queued > 0;
	} else if (res == 0) {
		c->eof = 1;
	} else if (res < 0 || p >= PARTS || c->fill[p] + res > PART) {
		fprintf(stderr, "echo: receive: %s\n", strerror(res < 0 ? -res : EIO));
		c->closing = 1;
	} else {
		/* queue exactly these bytes to be sent back */
		iopbuf_ring_add_regbuf(c->sr, slot,
				       (__u64)p * PART + c->fill[p], res, p,
				       SEND_ENTRIES - 1, 0);
		io_uring_buf_ring_advance(c->sr, 1);
		c->queued++;
		c->fill[p] += res;
		c->pending[p]++;
		recvs++;
		if (iopbuf_cqe_buf_more(cqe))
			buf_more++;	/* the part stays at the ring head */
		else
			c->retired[p] = 1;
	}
	pump(slot);
}

/* Sent and released: parts with nothing left in flight go back. */
static void on_send(int slot, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[slot];
	unsigned int i, n = iopbuf_cqe_get_nbufs(cqe);
	unsigned short part[SEND_ENTRIES];
	long long want;

	/* the entries it names, in send ring order, and their bytes */
	want = iopbuf_ring_consume(c->sr, SEND_ENTRIES, &c->sr_head, n, part);
	for (i = 0; i < n; i++)
		if (!--c->pending[part[i]] && c->retired[part[i]])
			give_part(slot, part[i]);
	/* a receive that found no part may find one now */
	c->starved = 0;
	c->sending = 0;
	c->queued -= n;
	sends++;
	bufs_sent += n;
	bytes += want;
	if (iopbuf_cqe_zc(cqe))
		iopbuf_cqe_zc_copied(cqe) ? copied++ : zc++;
	if (!n || iopbuf_cqe_bytes(cqe) != want) {
		fprintf(stderr, "echo: send: %d of %lld bytes (%u buffers): %s\n",
			iopbuf_cqe_bytes(cqe), want, n,
			strerror(iopbuf_cqe_bytes(cqe) < 0 ? -iopbuf_cqe_bytes(cqe) : 0));
		c->closing = 1;
	}
	pump(slot);
}

static void on_accept(int slot, struct io_uring_cqe *cqe)
{
	(void)slot;
	accepting = 0;
	if (cqe->res >= 0)
		conn_open(cqe->res);
}

/* Where each completion goes: user_data is slot << 8 | op. */
static void (*const on_cqe[])(int slot, struct io_uring_cqe *cqe) = {
	[OP_ACCEPT] = on_accept, [OP_RECV] = on_recv, [OP_SEND] = on_send,
};

static void setup(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t len = sizeof(sa);
	int i, one = 1, ret;

	for (i = 0; i < MAX_CONN; i++)
		conns[i].fd = -1;
	dev = iopbuf_open_check(IOPBUF_FEAT_RING_INC | IOPBUF_FEAT_RING_REGBUF |
				IOPBUF_FEAT_RECV | IOPBUF_FEAT_SEND_ZC, NULL);
	if (dev < 0)
		error(1, -dev, "%s", IOPBUF_DEVICE_PATH);
	/* registered buffer i is connection slot i's, at mem + i * BUF */
	mem = iopbuf_setup_buffers(dev, MAX_CONN, BUF, &ret);
	if (!mem)
		error(1, -ret, "iopbuf_setup_buffers");
	ret = iopbuf_queue_init(4 * MAX_CONN, &ring, 0);
	if (ret)
		error(1, -ret, "iopbuf_queue_init");
	lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0 ||
	    setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lsock, 128) || getsockname(lsock, (struct sockaddr *)&sa, &len))
		error(1, errno, "listen");
	printf("echo: listening on port %d, receive ring entries hold %s\n",
	       ntohs(sa.sin_port),
	       regbuf_recv ? "registered-buffer encodings" : "user addresses");
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "r")) != -1) {
		if (opt != 'r') {
			fprintf(stderr, "usage: %s [-r] [PORT [CONNECTIONS]]\n",
				argv[0]);
			return 2;
		}
		regbuf_recv = 1;
	}
	if (argc > optind + 1)
		conns_left = atol(argv[optind + 1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	setup(argc > optind ? atoi(argv[optind]) : 7777);

	while (conns_left) {
		struct io_uring_cqe *cqe;
		int ret;

		if (!accepting && active < MAX_CONN) {
			io_uring_prep_accept(get_sqe(0, OP_ACCEPT), lsock, NULL,
					     NULL, SOCK_CLOEXEC);
			accepting = 1;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			error(1, -ret, "io_uring_submit_and_wait");
		while (!io_uring_peek_cqe(&ring, &cqe)) {
			on_cqe[cqe->user_data & 0xff](cqe->user_data >> 8, cqe);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	printf("echo: %llu bytes, %llu receives (%llu with BUF_MORE), %llu sends of %.1f buffers on average, zero copy %llu, copied %llu\n",
	       bytes, recvs, buf_more, sends,
	       sends ? (double)bufs_sent / sends : 0.0, zc, copied);
	return 0;
}
