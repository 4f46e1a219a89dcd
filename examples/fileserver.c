// SPDX-License-Identifier: MIT
/*
 * fileserver [-c CONNS] [-b BUFFERS] [-i IDLE] [-t HEADER] ROOT [PORT [N]]:
 * a static file server whose file data never passes through user space:
 * one kernel copy from the page cache into the registered buffers, none on
 * the way out where the NIC supports zero copy. HTTP/1.1 GET and HEAD,
 * Content-Length, keep-alive (HTTP/1.1 unless "Connection: close", HTTP/1.0
 * with "Connection: keep-alive") and pipelining.
 *
 * BUFFERS registered buffers (default 64), each with two REGBUF rings, are
 * lent to one response at a time, so an idle connection costs no pinned
 * memory: CHUNKS chunks and a header area. The read ring holds the free
 * chunks, IOPBUF_CMD_READ (bundle) reads the file into them; the send ring
 * holds the header and the filled chunks, IOPBUF_CMD_SEND (bundle) sends
 * them zero copy in one command, so the header leaves with the first 256
 * KiB of the body. Its completion is also the release notification: the
 * chunks go straight back into the read ring. One READ and one SEND per
 * response at a time, overlapping. Requests wait (FIFO) for a free buffer.
 *
 * Sockets have TCP_NODELAY: every SEND is a whole bundle, so nothing is
 * gained by Nagle's wait for an ACK, which costs a delayed ACK (40 ms) per
 * response whose tail is shorter than a segment. No MSG_MORE: a zero-copy
 * SEND completes only once its data is acknowledged, and a tail held back
 * by MSG_MORE would not be sent before the next SEND, which waits for it.
 *
 * Connections wait IDLE seconds (default 15) for a request and HEADER
 * seconds (default 10) for the rest of a started request header, then are
 * closed (a timeout linked to the receive). At most CONNS connections
 * (default 1024, less if RLIMIT_NOFILE is lower); at the limit the longest
 * idle keep-alive connection is closed to make room, so idle clients
 * cannot lock others out. With N, exit after N connections and print the
 * counters. Build with
 *   cc -O2 fileserver.c $(pkg-config --cflags --libs iouring-pbuf)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* accept4 flags, error() */
#endif
#include <errno.h>
#include <error.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#ifndef IOPBUF_H	/* tests/examples_*.c include the library themselves */
#include <iopbuf.h>
#endif

#define CHUNK		(32 * 1024)
#define CHUNKS		8		/* read ring entries */
#define SEND_ENTRIES	16		/* send ring entries: >= CHUNKS + 1 */
#define HDR_BID		CHUNKS		/* bid of the header */
#define HDR_OFF		((__u64)CHUNKS * CHUNK)
#define BUF_SIZE	(HDR_OFF + 4096)
#define REQ_MAX		4096

enum { OP_ACCEPT, OP_RECV, OP_READ, OP_SEND, OP_TIMEOUT };

/* A registered buffer and its rings (bgid 2 * index and 2 * index + 1). */
struct buf {
	struct io_uring_buf_ring *rd, *sd;	/* read and send rings */
	unsigned short rd_head, sd_head;	/* next entry the kernel takes */
	unsigned int rd_avail, sd_queued;	/* entries in each ring */
};

struct conn {
	int fd, file;				/* fd -1: unused */
	int buf;				/* -1: none lent */
	int next_wait;				/* in the queue for a buffer */
	int recving, reading, sending, closing, keep_alive, hdr_queued, evicted;
	long long to_read;			/* file bytes not read yet */
	long long since;			/* ms: idle since, or first byte */
	struct __kernel_timespec ts;		/* of the linked timeout */
	size_t req_len;
	char req[REQ_MAX];
};

static struct io_uring ring;
static struct conn *conns;
static struct buf *bufs;
static int *free_bufs, nfree, wait_head = -1, wait_tail = -1;
static char *mem;			/* the registered buffers */
static int dev, lsock, rootfd, accepting, active;
static int max_conns = 1024, nbufs = 64, idle_ms = 15000, header_ms = 10000;
static long conns_left = -1;		/* N */
static unsigned long long requests, bytes, sends, bufs_sent, zc, copied, zc_bytes;
static unsigned long long accepted, idle_timeouts, header_timeouts, evicted;

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* An SQE for @op of connection @ci; @n free entries first (for links). */
static struct io_uring_sqe *get_sqe(int ci, int op, unsigned int n)
{
	struct io_uring_sqe *sqe;

	if (io_uring_sq_space_left(&ring) < n)
		io_uring_submit(&ring);
	sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		error(1, EBUSY, "io_uring_get_sqe");
	io_uring_sqe_set_data64(sqe, (__u64)ci << 8 | op);
	return sqe;
}

/* Add @len bytes at @off of buffer @b to its send or read ring. */
static void ring_add(int b, int send, __u64 off, unsigned int len,
		     unsigned short bid)
{
	struct buf *s = &bufs[b];

	iopbuf_ring_add_regbuf(send ? s->sd : s->rd, b, off, len, bid,
			       (send ? SEND_ENTRIES : CHUNKS) - 1, 0);
	io_uring_buf_ring_advance(send ? s->sd : s->rd, 1);
	*(send ? &s->sd_queued : &s->rd_avail) += 1;
}

/* A free chunk goes (back) into the read ring. */
#define give_chunk(b, chunk) ring_add(b, 0, (__u64)(chunk) * CHUNK, CHUNK, chunk)

/* Fresh rings for buffer @b, every chunk in its read ring. */
static void buf_init(int b)
{
	struct buf *s = &bufs[b];
	int err = 0, i;

	memset(s, 0, sizeof(*s));
	/* rings in kernel memory mapped from the device */
	s->rd = iopbuf_setup_ring(dev, CHUNKS, 2 * b,
				  IOPBUF_RING_REGBUF | IOPBUF_RING_MMAP, 0, &err);
	s->sd = iopbuf_setup_ring(dev, SEND_ENTRIES, 2 * b + 1,
				  IOPBUF_RING_REGBUF | IOPBUF_RING_MMAP, 0, &err);
	if (!s->rd || !s->sd)
		error(1, -err, "iopbuf_setup_ring");
	for (i = 0; i < CHUNKS; i++)
		give_chunk(b, i);
}

static void next_request(int ci);

/* The response is over: the buffer goes to the next waiting request. */
static void buf_put(struct conn *c)
{
	struct buf *s = &bufs[c->buf];
	int ci = wait_head;

	if (s->rd_avail != CHUNKS || s->sd_queued) {	/* cut short */
		iopbuf_free_ring(dev, s->rd, CHUNKS, 2 * c->buf);
		iopbuf_free_ring(dev, s->sd, SEND_ENTRIES, 2 * c->buf + 1);
		buf_init(c->buf);
	}
	free_bufs[nfree++] = c->buf;
	c->buf = -1;
	if (ci >= 0) {
		wait_head = conns[ci].next_wait;
		wait_tail = wait_head < 0 ? -1 : wait_tail;
		next_request(ci);
	}
}

/* Close; the connection is freed once nothing of it is in flight. */
static void conn_close(int ci)
{
	struct conn *c = &conns[ci];

	c->closing = 1;
	if (c->recving || c->reading || c->sending)
		return;
	if (c->buf >= 0)
		buf_put(c);
	if (c->file >= 0)
		close(c->file);
	close(c->fd);
	c->fd = -1;
	active--;
	conns_left -= conns_left > 0;
}

/* At the limit: close the longest idle connection waiting for a request. */
static void evict_idle(void)
{
	struct conn *c, *old = NULL;

	for (c = conns; c < conns + max_conns; c++)
		if (c->fd >= 0 && c->recving && !c->req_len && !c->evicted &&
		    (!old || c->since < old->since))
			old = c;
	if (old) {
		old->evicted = 1;
		evicted++;
		shutdown(old->fd, SHUT_RDWR);	/* its RECV ends with 0 */
	}
}

/* A new connection. */
static void conn_open(int fd)
{
	struct conn *c = conns;
	int one = 1;

	while (c->fd >= 0)
		c++;
	memset(c, 0, offsetof(struct conn, req));
	c->req[0] = 0;
	c->fd = fd;
	c->file = c->buf = c->next_wait = -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	active++;
	accepted++;
	next_request(c - conns);
	if (active >= max_conns)
		evict_idle();
}

/* Keep one READ and one SEND going while there is work for them. */
static void pump(int ci)
{
	struct conn *c = &conns[ci];
	struct buf *s = &bufs[c->buf];
	long long want = (long long)s->rd_avail * CHUNK;

	if (c->closing) {
		conn_close(ci);
		return;
	}
	if (!c->reading && c->to_read > 0 && s->rd_avail) {
		iopbuf_prep_read(get_sqe(ci, OP_READ, 1), dev, c->file,
				 2 * c->buf, IOPBUF_RECV_BUNDLE,
				 c->to_read < want ? c->to_read : want);
		c->reading = 1;
	}
	/* the header waits for the first chunks of the body: one send */
	if (!c->sending && s->sd_queued &&
	    !(c->reading && c->hdr_queued && s->sd_queued == 1)) {
		iopbuf_prep_send(get_sqe(ci, OP_SEND, 1), dev, c->fd,
				 2 * c->buf + 1, IOPBUF_SEND_BUNDLE, 0);
		c->sending = 1;
	}
	if (c->reading || c->sending || c->to_read)
		return;
	close(c->file);		/* the response is complete */
	c->file = -1;
	buf_put(c);
	if (c->keep_alive)
		next_request(ci);
	else
		conn_close(ci);
}

/* Write the response header (and a short body) and queue it. */
static void respond(int ci, int status, long long len, const char *body)
{
	struct conn *c = &conns[ci];
	int n = snprintf(mem + c->buf * BUF_SIZE + HDR_OFF, BUF_SIZE - HDR_OFF,
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %lld\r\nConnection: %s\r\n\r\n%s",
			 status, body ? body : "OK",
			 body ? "text/plain" : "application/octet-stream",
			 body ? (long long)strlen(body) : len,
			 c->keep_alive ? "keep-alive" : "close", body ? body : "");

	ring_add(c->buf, 1, HDR_OFF, n, HDR_BID);
	c->hdr_queued = 1;
}

/* Does a Connection header of @req list @token? */
static int conn_token(const char *req, const char *token)
{
	const char *p = req;
	size_t n = strlen(token);

	while ((p = strchr(p, '\n')) && *++p)
		if (!strncasecmp(p, "Connection:", 11))
			for (p += 11; *p && *p != '\r' && *p != '\n'; p++)
				if (strchr(":, \t", p[-1]) &&
				    !strncasecmp(p, token, n) &&
				    strchr(", \t\r\n", p[n]))	/* or NUL */
					return 1;
	return 0;
}

/* c->req holds one request header, NUL-terminated; c->buf is ours. */
static void handle_request(int ci)
{
	struct conn *c = &conns[ci];
	char method[8], path[1024] = "", version[16];
	struct stat st = { 0 };
	int ok = sscanf(c->req, "%7s %1023s %15s", method, path, version) == 3 &&
		 (!strcmp(method, "GET") || !strcmp(method, "HEAD"));

	requests++;
	/* HTTP/1.1 keeps the connection unless asked not to, 1.0 if asked */
	c->keep_alive = ok && !conn_token(c->req, "close") &&
			(strcmp(version, "HTTP/1.0") ||
			 conn_token(c->req, "keep-alive"));
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
		respond(ci, 400, 0, "Bad Request");
	else if (c->file < 0)
		respond(ci, 404, 0, "Not Found");
	else
		respond(ci, 200, st.st_size, NULL);
	c->to_read = c->file >= 0 && strcmp(method, "HEAD") ? st.st_size : 0;
}

/* Receive into c->req, for at most the idle or header timeout. */
static void recv_request(int ci)
{
	struct conn *c = &conns[ci];
	long long left, now = now_ms();
	struct io_uring_sqe *sqe;

	if (!c->req_len)
		c->since = now;
	left = c->since + (c->req_len ? header_ms : idle_ms) - now;
	left = left > 0 ? left : 1;
	c->ts.tv_sec = left / 1000;
	c->ts.tv_nsec = left % 1000 * 1000000;
	sqe = get_sqe(ci, OP_RECV, 2);
	io_uring_prep_recv(sqe, c->fd, c->req + c->req_len,
			   REQ_MAX - 1 - c->req_len, 0);
	sqe->flags |= IOSQE_IO_LINK;
	io_uring_prep_link_timeout(get_sqe(ci, OP_TIMEOUT, 1), &c->ts, 0);
	c->recving = 1;
}

/* Serve the next request in c->req, or receive (the rest of) it. */
static void next_request(int ci)
{
	struct conn *c = &conns[ci];
	char *end = strstr(c->req, "\r\n\r\n");

	if (!end) {
		if (c->req_len < REQ_MAX - 1)
			recv_request(ci);
		else
			conn_close(ci);		/* header too large */
		return;
	}
	if (c->buf < 0 && !nfree) {		/* wait for a buffer */
		*(wait_tail < 0 ? &wait_head : &conns[wait_tail].next_wait) = ci;
		wait_tail = ci;
		c->next_wait = -1;
		return;
	}
	if (c->buf < 0)
		c->buf = free_bufs[--nfree];
	*end = 0;
	handle_request(ci);
	/* keep what a pipelining client sent after this request */
	end += 4;
	c->req_len -= end - c->req;
	memmove(c->req, end, c->req_len + 1);
	c->since = now_ms();		/* its header timeout starts now */
	pump(ci);
}

static void on_recv(int ci, int res)
{
	struct conn *c = &conns[ci];

	c->recving = 0;
	if (res == -ECANCELED || res == -EINTR)	/* the timeout */
		c->req_len ? header_timeouts++ : idle_timeouts++;
	if (res <= 0) {
		conn_close(ci);
		return;
	}
	if (!c->req_len)
		c->since = now_ms();
	c->req_len += res;
	c->req[c->req_len] = 0;
	next_request(ci);
}

/* The file data went into nbufs chunks, in read-ring order from rd_head. */
static void on_read(int ci, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[ci];
	struct buf *s = &bufs[c->buf];
	int res = iopbuf_cqe_bytes(cqe), left = res;
	unsigned int i, n = iopbuf_cqe_get_nbufs(cqe);
	unsigned short chunk[CHUNKS];

	c->reading = 0;
	if (!iopbuf_cqe_has_buffer(cqe)) {	/* an error: nothing taken */
		conn_close(ci);
		return;
	}
	iopbuf_ring_consume(s->rd, CHUNKS, &s->rd_head, n, chunk);
	s->rd_avail -= n;
	for (i = 0; i < n; i++, left -= CHUNK) {
		if (left > 0)
			ring_add(c->buf, 1, (__u64)chunk[i] * CHUNK,
				 left > CHUNK ? CHUNK : left, chunk[i]);
		else
			give_chunk(c->buf, chunk[i]);	/* a short read */
	}
	c->to_read -= res;
	if (res <= 0)
		conn_close(ci);	/* the file shrank */
	else
		pump(ci);
}

/* Sent and released: the chunks it names go back into the read ring. */
static void on_send(int ci, struct io_uring_cqe *cqe)
{
	struct conn *c = &conns[ci];
	struct buf *s = &bufs[c->buf];
	unsigned short bid[SEND_ENTRIES];
	unsigned int i, n = iopbuf_cqe_get_nbufs(cqe);
	long long want = iopbuf_ring_consume(s->sd, SEND_ENTRIES, &s->sd_head,
					     n, bid);

	c->sending = 0;
	s->sd_queued -= n;
	for (i = 0; i < n; i++) {
		if (bid[i] == HDR_BID)
			c->hdr_queued = 0;
		else
			give_chunk(c->buf, bid[i]);
	}
	sends++;
	bufs_sent += n;
	if (iopbuf_cqe_zc(cqe))
		iopbuf_cqe_zc_copied(cqe) ? copied++ : zc++;
	if (iopbuf_cqe_zc(cqe) && !iopbuf_cqe_zc_copied(cqe))
		zc_bytes += want;	/* no CPU copy of these on the way out */
	bytes += want;
	if (!n || iopbuf_cqe_bytes(cqe) != want)
		conn_close(ci);	/* the peer is gone */
	else
		pump(ci);
}

static void setup(int port, const char *root)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	socklen_t len = sizeof(sa);
	struct rlimit rl;
	int i, one = 1, ret;

	/* a descriptor per connection, and some to spare */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)max_conns + 32)
			max_conns = rl.rlim_cur > 64 ? rl.rlim_cur - 32 : 32;
	}
	conns = calloc(max_conns, sizeof(*conns));
	bufs = calloc(nbufs, sizeof(*bufs));
	free_bufs = calloc(nbufs, sizeof(*free_bufs));
	if (!conns || !bufs || !free_bufs)
		error(1, ENOMEM, "calloc");
	for (i = 0; i < max_conns; i++)
		conns[i].fd = -1;
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		error(1, errno, "%s", root);
	dev = iopbuf_open_check(IOPBUF_FEAT_RING_REGBUF | IOPBUF_FEAT_RING_MMAP |
				IOPBUF_FEAT_RECV | IOPBUF_FEAT_SEND_ZC, NULL);
	if (dev < 0)
		error(1, -dev, "%s", IOPBUF_DEVICE_PATH);
	mem = iopbuf_setup_buffers(dev, nbufs, BUF_SIZE, &ret);
	if (!mem)
		error(1, -ret, "iopbuf_setup_buffers");
	for (i = nbufs - 1; i >= 0; i--) {
		buf_init(i);
		free_bufs[nfree++] = i;
	}
	ret = iopbuf_queue_init(512, &ring, 0);
	if (ret)
		error(1, -ret, "iopbuf_queue_init");
	lsock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsock < 0 ||
	    setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lsock, SOMAXCONN) || getsockname(lsock, (struct sockaddr *)&sa, &len))
		error(1, errno, "listen");
	printf("fileserver: listening on port %d\n", ntohs(sa.sin_port));
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "+c:b:i:t:")) != -1) {
		if (opt == 'c')
			max_conns = atoi(optarg);
		else if (opt == 'b')
			nbufs = atoi(optarg);
		else if (opt == 'i')
			idle_ms = atoi(optarg) * 1000;
		else if (opt == 't')
			header_ms = atoi(optarg) * 1000;
		else
			argc = 0;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 2 || argc > 4 || max_conns < 2 || nbufs < 1 || nbufs > 4096 ||
	    idle_ms <= 0 || header_ms <= 0) {
		fprintf(stderr, "usage: fileserver [-c CONNS] [-b BUFFERS] [-i IDLE_S] [-t HEADER_S] ROOT [PORT [CONNECTIONS]]\n");
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

		if (!accepting && active < max_conns) {
			io_uring_prep_accept(get_sqe(0, OP_ACCEPT, 1), lsock, NULL,
					     NULL, SOCK_CLOEXEC);
			accepting = 1;
		}
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			error(1, -ret, "io_uring_submit_and_wait");
		while (!io_uring_peek_cqe(&ring, &cqe)) {
			int ci = cqe->user_data >> 8, op = cqe->user_data & 0xff;

			if (op == OP_ACCEPT && (accepting = 0, cqe->res >= 0))
				conn_open(cqe->res);
			else if (op == OP_RECV)
				on_recv(ci, cqe->res);
			else if (op == OP_READ)
				on_read(ci, cqe);
			else if (op == OP_SEND)
				on_send(ci, cqe);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	printf("fileserver: %llu connections, idle timeouts %llu, header timeouts %llu, closed at the limit %llu\n",
	       accepted, idle_timeouts, header_timeouts, evicted);
	printf("fileserver: %llu requests, %llu bytes in %llu sends of %.1f buffers on average, zero copy %llu, copied %llu, zero-copy bytes %llu\n",
	       requests, bytes, sends, sends ? (double)bufs_sent / sends : 0.0,
	       zc, copied, zc_bytes);
	return 0;
}
