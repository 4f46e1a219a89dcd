// SPDX-License-Identifier: MIT
/*
 * fileserver ROOT [PORT [N]]: a static file server whose file data never
 * passes through user space: one kernel copy from the page cache into the
 * registered buffers, none on the way out where the NIC supports zero copy.
 * HTTP/1.1 GET and HEAD, Content-Length, keep-alive.
 * Each connection slot owns a registered buffer (index = slot): CHUNKS
 * chunks and a header area, named by the entries of two REGBUF rings. The
 * read ring holds the free chunks, IOPBUF_CMD_READ (bundle) reads the file
 * into them; the send ring holds the header and the filled chunks,
 * IOPBUF_CMD_SEND (bundle) sends them zero copy. Its completion is also the
 * release notification: the chunks go straight back into the read ring.
 * One READ and one SEND per connection at a time, overlapping. With N, exit
 * after N connections and print the counters. Build with
 *   cc -O2 fileserver.c $(pkg-config --cflags --libs iouring-pbuf)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strcasestr */
#endif
#include <errno.h>
#include <error.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#ifndef IOPBUF_H	/* tests/examples_*.c include the library themselves */
#include <iopbuf.h>
#endif

#define MAX_CONN	64
#define CHUNK		(32 * 1024)
#define CHUNKS		8		/* read ring entries */
#define SEND_ENTRIES	16		/* send ring entries: >= CHUNKS + 1 */
#define HDR_BID		CHUNKS		/* bid of the header */
#define HDR_OFF		((__u64)CHUNKS * CHUNK)
#define SLOT_SIZE	(HDR_OFF + 4096)
#define REQ_MAX		4096

enum { OP_ACCEPT, OP_RECV, OP_READ, OP_SEND };

struct conn {
	int fd, file;				/* fd -1: slot unused */
	struct io_uring_buf_ring *rd, *sd;	/* read and send rings */
	unsigned short rd_head, sd_head;	/* next entry the kernel takes */
	unsigned int rd_avail, sd_queued;	/* entries in each ring */
	int recving, reading, sending, closing, keep_alive;
	long long to_read;			/* file bytes not read yet */
	size_t req_len;
	char req[REQ_MAX];
};

static struct io_uring ring;
static struct conn conns[MAX_CONN];
static char *mem;			/* the registered buffers */
static int dev, lsock, rootfd, accepting, active;
static long conns_left = -1;		/* N */
static unsigned long long requests, bytes, sends, bufs_sent, zc, copied, zc_bytes;

/* An SQE for @op of @slot (preps, ours too, leave user_data alone). */
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

/* Add @len bytes at @off of the slot's buffer to its send or read ring. */
static void ring_add(int slot, int send, __u64 off, unsigned int len,
		     unsigned short bid)
{
	struct conn *c = &conns[slot];
	struct io_uring_buf_ring *br = send ? c->sd : c->rd;

	iopbuf_ring_add_regbuf(br, slot, off, len, bid,
			       (send ? SEND_ENTRIES : CHUNKS) - 1, 0);
	io_uring_buf_ring_advance(br, 1);
	*(send ? &c->sd_queued : &c->rd_avail) += 1;
}

/* A free chunk goes (back) into the read ring. */
#define give_chunk(slot, chunk) \
	ring_add(slot, 0, (__u64)(chunk) * CHUNK, CHUNK, chunk)

static void next_request(int slot);

/* A new connection in a free slot (there is one: see main()). */
static void conn_open(int fd)
{
	struct conn *c = conns;
	int slot, err = 0, i;

	while (c->fd >= 0)
		c++;
	slot = c - conns;
	memset(c, 0, sizeof(*c));
	c->file = -1;
	/* fresh rings per connection, in kernel memory mapped from the device */
	c->rd = iopbuf_setup_ring(dev, CHUNKS, 2 * slot,
				  IOPBUF_RING_REGBUF | IOPBUF_RING_MMAP, 0, &err);
	c->sd = iopbuf_setup_ring(dev, SEND_ENTRIES, 2 * slot + 1,
				  IOPBUF_RING_REGBUF | IOPBUF_RING_MMAP, 0, &err);
	if (!c->rd || !c->sd)
		error(1, -err, "iopbuf_setup_ring");
	c->fd = fd;
	active++;
	for (i = 0; i < CHUNKS; i++)
		give_chunk(slot, i);
	next_request(slot);
}

/* Close; the slot is freed once nothing of it is in flight. */
static void conn_close(int slot)
{
	struct conn *c = &conns[slot];

	c->closing = 1;
	if (c->recving || c->reading || c->sending)
		return;
	iopbuf_free_ring(dev, c->rd, CHUNKS, 2 * slot);
	iopbuf_free_ring(dev, c->sd, SEND_ENTRIES, 2 * slot + 1);
	close(c->file);
	close(c->fd);
	c->fd = -1;
	active--;
	conns_left -= conns_left > 0;
}

/* Keep one READ and one SEND going while there is work for them. */
static void pump(int slot)
{
	struct conn *c = &conns[slot];
	long long want = (long long)c->rd_avail * CHUNK;

	if (c->closing) {
		conn_close(slot);
		return;
	}
	if (!c->reading && c->to_read > 0 && c->rd_avail) {
		iopbuf_prep_read(get_sqe(slot, OP_READ), dev, c->file, 2 * slot,
				 IOPBUF_RECV_BUNDLE,
				 c->to_read < want ? c->to_read : want);
		c->reading = 1;
	}
	if (!c->sending && c->sd_queued) {
		iopbuf_prep_send(get_sqe(slot, OP_SEND), dev, c->fd,
				 2 * slot + 1, IOPBUF_SEND_BUNDLE, 0);
		c->sending = 1;
	}
	if (c->reading || c->sending || c->to_read)
		return;
	close(c->file);		/* the response is complete */
	c->file = -1;
	if (c->keep_alive)
		next_request(slot);
	else
		conn_close(slot);
}

/* Write the response header (and a short body) and queue it. */
static void respond(int slot, int status, long long len, const char *body)
{
	int n = snprintf(mem + slot * SLOT_SIZE + HDR_OFF, SLOT_SIZE - HDR_OFF,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %lld\r\nConnection: %s\r\n\r\n%s",
			 status, body ? body : "OK",
			 body ? "text/plain" : "application/octet-stream",
			 body ? (long long)strlen(body) : len,
			 conns[slot].keep_alive ? "keep-alive" : "close",
			 body ? body : "");

	ring_add(slot, 1, HDR_OFF, n, HDR_BID);
}

/* c->req holds one request header, NUL-terminated. */
static void handle_request(int slot)
{
	struct conn *c = &conns[slot];
	char method[8], path[1024] = "", version[16];
	struct stat st = { 0 };
	int ok = sscanf(c->req, "%7s %1023s %15s", method, path, version) == 3 &&
		 (!strcmp(method, "GET") || !strcmp(method, "HEAD"));

	requests++;
	/* HTTP/1.1 keeps the connection unless asked not to; 1.0 does not */
	c->keep_alive = ok && strcmp(version, "HTTP/1.0") &&
			!strcasestr(c->req, "\nConnection: close");
	path[strcspn(path, "?")] = 0;
	if (ok && path[0] == '/' && !strstr(path, "..")) {
		c->file = openat(rootfd, path[1] ? path + 1 : ".",
				 O_RDONLY | O_CLOEXEC);
		if (c->file >= 0 && (fstat(c->file, &st) || !S_ISREG(st.st_mode))) {
			close(c->file);
			c->file = -1;
		}
	}
	if (!ok)
		respond(slot, 400, 0, "Bad Request");
	else if (c->file < 0)
		respond(slot, 404, 0, "Not Found");
	else
		respond(slot, 200, st.st_size, NULL);
	c->to_read = c->file >= 0 && strcmp(method, "HEAD") ? st.st_size : 0;
}

/* Serve the next request in c->req, or receive (the rest of) it. */
static void next_request(int slot)
{
	struct conn *c = &conns[slot];
	char *end = strstr(c->req, "\r\n\r\n");

	if (!end && c->req_len < REQ_MAX - 1) {	/* receive (more of) it */
		io_uring_prep_recv(get_sqe(slot, OP_RECV), c->fd,
				   c->req + c->req_len, REQ_MAX - 1 - c->req_len, 0);
		c->recving = 1;
	}
	if (!end) {
		if (!c->recving)
			conn_close(slot);	/* header too large */
		return;
	}
	*end = 0;
	handle_request(slot);
	/* keep what a pipelining client sent after this request */
	end += 4;
	c->req_len -= end - c->req;
	memmove(c->req, end, c->req_len + 1);
	pump(slot);
}

static void on_recv(int slot, int res)
{
	struct conn *c = &conns[slot];

	c->recving = 0;
	if (res <= 0) {
		conn_close(slot);
		return;
	}
	c->req_len += res;
	c->req[c->req_len] = 0;
	next_request(slot);
}

/* The file data went into nbufs chunks, in read-ring order from rd_head. */
static void on_read(int slot, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[slot];
	struct iopbuf_buf *bufs = iopbuf_ring_bufs(c->rd);
	int res = iopbuf_cqe_bytes(cqe), left = res;
	unsigned int i;

	c->reading = 0;
	if (!iopbuf_cqe_has_buffer(cqe)) {	/* an error: nothing taken */
		conn_close(slot);
		return;
	}
	for (i = 0; i < iopbuf_cqe_get_nbufs(cqe); i++) {
		unsigned short chunk = bufs[c->rd_head++ % CHUNKS].bid;
		int len = left > CHUNK ? CHUNK : left;

		c->rd_avail--;
		if (len > 0)
			ring_add(slot, 1, (__u64)chunk * CHUNK, len, chunk);
		else
			give_chunk(slot, chunk);	/* a short read */
		left -= len;
	}
	c->to_read -= res;
	if (res <= 0)
		conn_close(slot);	/* the file shrank */
	else
		pump(slot);
}

/* Sent and released: the chunks it names go back into the read ring. */
static void on_send(int slot, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[slot];
	struct iopbuf_buf *bufs = iopbuf_ring_bufs(c->sd);
	unsigned int i, n = iopbuf_cqe_get_nbufs(cqe);
	long long want = 0;

	c->sending = 0;
	for (i = 0; i < n; i++) {
		struct iopbuf_buf *b = &bufs[c->sd_head++ % SEND_ENTRIES];

		want += b->len;
		if (b->bid != HDR_BID)
			give_chunk(slot, b->bid);
	}
	c->sd_queued -= n;
	sends++;
	bufs_sent += n;
	if (iopbuf_cqe_zc(cqe))
		iopbuf_cqe_zc_copied(cqe) ? copied++ : zc++;
	if (iopbuf_cqe_zc(cqe) && !iopbuf_cqe_zc_copied(cqe))
		zc_bytes += want;	/* no CPU copy of these on the way out */
	bytes += want;
	if (!n || iopbuf_cqe_bytes(cqe) != want)
		conn_close(slot);	/* the peer is gone */
	else
		pump(slot);
}

static void setup(int port, const char *root)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t len = sizeof(sa);
	struct iovec iov[MAX_CONN];
	int i, one = 1, ret;

	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		error(1, errno, "%s", root);
	dev = iopbuf_open();
	if (dev < 0)
		error(1, -dev, "%s", IOPBUF_DEVICE_PATH);
	ret = iopbuf_check(dev, IOPBUF_FEAT_RING_REGBUF | IOPBUF_FEAT_RING_MMAP |
			   IOPBUF_FEAT_RECV | IOPBUF_FEAT_SEND_ZC, NULL);
	if (ret)
		error(1, -ret, "iopbuf_check");
	mem = mmap(NULL, MAX_CONN * SLOT_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		error(1, errno, "mmap");
	for (i = 0; i < MAX_CONN; i++) {
		iov[i].iov_base = mem + i * SLOT_SIZE;
		iov[i].iov_len = SLOT_SIZE;
		conns[i].fd = -1;
	}
	ret = iopbuf_register_buffers(dev, iov, MAX_CONN);
	if (ret)
		error(1, -ret, "iopbuf_register_buffers");
	ret = iopbuf_queue_init(4 * MAX_CONN, &ring, 0);
	if (ret)
		error(1, -ret, "iopbuf_queue_init");
	lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0 ||
	    setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lsock, 128) || getsockname(lsock, (struct sockaddr *)&sa, &len))
		error(1, errno, "listen");
	printf("fileserver: listening on port %d\n", ntohs(sa.sin_port));
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s ROOT [PORT [CONNECTIONS]]\n", argv[0]);
		return 2;
	}
	if (argc > 3)
		conns_left = atol(argv[3]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	setup(argc > 2 ? atoi(argv[2]) : 8080, argv[1]);

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
			int slot = cqe->user_data >> 8, op = cqe->user_data & 0xff;

			if (op == OP_ACCEPT && (accepting = 0, cqe->res >= 0))
				conn_open(cqe->res);
			else if (op == OP_RECV)
				on_recv(slot, cqe->res);
			else if (op == OP_READ)
				on_read(slot, cqe);
			else if (op == OP_SEND)
				on_send(slot, cqe);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	printf("fileserver: %llu requests, %llu bytes in %llu sends of %.1f buffers on average, zero copy %llu, copied %llu, zero-copy bytes %llu\n",
	       requests, bytes, sends, sends ? (double)bufs_sent / sends : 0.0,
	       zc, copied, zc_bytes);
	return 0;
}
