// SPDX-License-Identifier: GPL-2.0
/*
 * send_demo [MiB]: /dev/iouring-pbuf from an application's point of view
 * (the second part of `make demo`; `make demo DEMO=send` runs it alone).
 *
 *  1. probe the device through ioctl and io_uring (IOPBUF_CMD_PROBE);
 *  2. register a buffer and a ring whose entries name slices of it
 *     (registered-buffer encodings);
 *  3. send from that ring, zero copy, to a UDP sink: a dummy interface in
 *     the guest that drops what it gets after the stack let go of nothing
 *     but its own references, so every notification reports zero copy;
 *  4. the same over TCP on loopback to a receiver that checks every byte:
 *     loopback copies on receive, and the completions say so.
 *
 * Each send's completion arrives once the network stack has released the
 * pages, so its buffers go straight back into the ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <liburing.h>
#include <linux/iouring_pbuf.h>

#include "../tests/sock.h"

#define SLICE		(32 * 1024)	/* one UDP datagram */
#define NR_SLICES	64		/* ring entries, one per slice */
#define QD		16		/* sends in flight */
#define BGID		1

struct sender {
	struct io_uring ring;
	int dev;
	struct iopbuf_buf *bufs;	/* the provided-buffer ring */
	unsigned short tail;
	unsigned char *mem;		/* registered buffer 0 */
	/* results */
	unsigned long long bytes, sends, zc, copied;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "send_demo: %s: %s\n", what, strerror(err));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * Byte @off of slice @k. The receiver cannot know which slice comes next
 * (buffers return to the ring in completion order), so every slice is
 * recognisable from its first byte.
 */
static unsigned char pattern(size_t k, size_t off)
{
	return (k * 7 + off) % 251;
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		die("io_uring_get_sqe", EBUSY);
	memset(sqe, 0, 2 * sizeof(*sqe));
	return sqe;
}

static void probe(int dev)
{
	struct iopbuf_probe p1, p2;
	struct iopbuf_cmd_probe cmd = { .addr = (__u64)(uintptr_t)&p2,
					.len = sizeof(p2) };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int ret;

	if (ioctl(dev, IOPBUF_IOC_PROBE, &p1))
		die("IOPBUF_IOC_PROBE", errno);
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		die("io_uring_queue_init", -ret);
	sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		die("io_uring_get_sqe", EBUSY);
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = dev;
	sqe->cmd_op = IOPBUF_CMD_PROBE;
	memcpy(sqe->cmd, &cmd, sizeof(cmd));
	io_uring_submit(&ring);
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret || cqe->res < 0)
		die("IOPBUF_CMD_PROBE", ret ? -ret : -cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	if (memcmp(&p1, &p2, sizeof(p1)))
		die("probe results differ", EPROTO);
	printf("probe: ABI %u, features %#llx, %u buffer slots, rings of up to %u entries, bundles of up to %u buffers\n",
	       p1.abi_version, (unsigned long long)p1.features, p1.max_bufs,
	       p1.max_ring_entries, p1.max_bundle_bufs);
}

static void ring_add(struct sender *s, unsigned short bid)
{
	struct iopbuf_buf *b = &s->bufs[s->tail & (NR_SLICES - 1)];

	b->addr = iopbuf_regbuf_encode(0, (__u64)bid * SLICE);
	b->len = SLICE;
	b->bid = bid;
	s->tail++;
	__atomic_store_n(iopbuf_ring_tail(s->bufs), s->tail, __ATOMIC_RELEASE);
}

static void sender_setup(struct sender *s)
{
	struct iopbuf_ring_reg rreg = { .ring_entries = NR_SLICES,
					.bgid = BGID,
					.flags = IOPBUF_RING_REGBUF };
	struct iovec iov = { .iov_len = (size_t)SLICE * NR_SLICES };
	struct iopbuf_buf_reg breg = { .iovs = (__u64)(uintptr_t)&iov,
				       .nr = 1 };
	size_t i;
	int ret;

	memset(s, 0, sizeof(*s));
	s->dev = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (s->dev < 0)
		die(IOPBUF_DEVICE_PATH, errno);
	s->mem = mmap(NULL, iov.iov_len, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->mem == MAP_FAILED)
		die("mmap", errno);
	for (i = 0; i < iov.iov_len; i++)
		s->mem[i] = pattern(i / SLICE, i % SLICE);
	iov.iov_base = s->mem;
	if (ioctl(s->dev, IOPBUF_IOC_REGISTER_BUFFERS, &breg))
		die("IOPBUF_IOC_REGISTER_BUFFERS", errno);

	s->bufs = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->bufs == MAP_FAILED)
		die("mmap", errno);
	rreg.ring_addr = (__u64)(uintptr_t)s->bufs;
	if (ioctl(s->dev, IOPBUF_IOC_REGISTER_RING, &rreg))
		die("IOPBUF_IOC_REGISTER_RING", errno);
	for (i = 0; i < NR_SLICES; i++)
		ring_add(s, i);

	/* big CQEs: res2 says which buffers a send used and how it went */
	ret = io_uring_queue_init(2 * QD, &s->ring, IORING_SETUP_CQE32);
	if (ret)
		die("io_uring_queue_init(CQE32)", -ret);
}

static void sender_teardown(struct sender *s)
{
	io_uring_queue_exit(&s->ring);
	close(s->dev);
	munmap(s->bufs, 4096);
	munmap(s->mem, (size_t)SLICE * NR_SLICES);
}

static void queue_send(struct sender *s, int sock)
{
	struct iopbuf_cmd_send cmd = { .fd = sock, .bgid = BGID };
	struct io_uring_sqe *sqe = get_sqe(&s->ring);

	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = s->dev;
	sqe->cmd_op = IOPBUF_CMD_SEND;
	memcpy(sqe->cmd, &cmd, sizeof(cmd));
}

/* Send @total bytes on @sock, QD commands in flight, recycling buffers. */
static void run_sends(struct sender *s, int sock, unsigned long long total)
{
	unsigned long long queued = 0;
	unsigned int inflight = 0;

	while (s->bytes < total) {
		struct io_uring_cqe *cqe;
		__u64 res2;
		unsigned int i;
		int ret;

		while (inflight < QD && queued < total) {
			queue_send(s, sock);
			inflight++;
			queued += SLICE;
		}
		io_uring_submit(&s->ring);
		ret = io_uring_wait_cqe(&s->ring, &cqe);
		if (ret)
			die("io_uring_wait_cqe", -ret);
		if (cqe->res < 0)
			die("IOPBUF_CMD_SEND", -cqe->res);
		res2 = cqe->big_cqe[0];
		s->bytes += cqe->res;
		s->sends++;
		if (iopbuf_cqe_flags(res2) & IOPBUF_CQE_F_ZC) {
			if (iopbuf_cqe_flags(res2) & IOPBUF_CQE_F_ZC_COPIED)
				s->copied++;
			else
				s->zc++;
		}
		/* released: the buffers go back into the ring */
		for (i = 0; i < iopbuf_cqe_nbufs(res2); i++)
			ring_add(s, (iopbuf_cqe_bid(res2) + i) % NR_SLICES);
		io_uring_cqe_seen(&s->ring, cqe);
		inflight--;
	}
	while (inflight--) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&s->ring, &cqe))
			break;
		io_uring_cqe_seen(&s->ring, cqe);
	}
}

static void report(const char *what, struct sender *s, double secs,
		   double cpu)
{
	double mib = s->bytes / 1048576.0;

	printf("%s: %.0f MiB in %.2f s = %.0f MiB/s, %llu sends, zero copy %llu, copied %llu (%.0f%% zero copy), sender CPU %.2f s/GiB\n",
	       what, mib, secs, mib / secs, s->sends, s->zc, s->copied,
	       s->sends ? 100.0 * s->zc / s->sends : 0.0,
	       s->bytes ? cpu / (s->bytes / 1073741824.0) : 0.0);
}

/*
 * A UDP sink: a dummy interface (NOARP, so no neighbour to resolve) drops
 * every packet it is given. The address exists only inside the guest.
 */
static int udp_sink_socket(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9) };
	int sock;

	if (system("ip link add pbuf0 type dummy 2>/dev/null; "
		   "ip link set pbuf0 mtu 65535 up && "
		   "{ ip addr add 192.0.2.1/24 dev pbuf0 2>/dev/null; true; }"))
		die("setting up the dummy sink (ip)", EIO);
	inet_pton(AF_INET, "192.0.2.2", &sa.sin_addr);
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
		die("udp socket", errno);
	return sock;
}

struct receiver {
	int sock;
	unsigned long long bytes, bad;
};

/* Check a whole slice: the pattern of the slice its first byte names. */
static unsigned long long check_slice(const unsigned char *p)
{
	unsigned long long bad = 0;
	size_t k, off;

	for (k = 0; k < NR_SLICES; k++)
		if (p[0] == pattern(k, 0))
			break;
	for (off = 0; off < SLICE; off++)
		bad += p[off] != pattern(k, off);
	return bad;
}

static void *receive(void *arg)
{
	static unsigned char slice[SLICE];
	struct receiver *r = arg;
	size_t fill = 0;
	ssize_t n;

	while ((n = recv(r->sock, slice + fill, SLICE - fill, 0)) > 0) {
		r->bytes += n;
		fill += n;
		if (fill == SLICE) {
			r->bad += check_slice(slice);
			fill = 0;
		}
	}
	r->bad += fill;	/* a torn last slice */
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long long mib = argc > 1 ? strtoull(argv[1], NULL, 0) : 256;
	struct receiver r = { 0 };
	struct sender s;
	pthread_t thr;
	double t, c;
	int sock, fds[2];

	setvbuf(stdout, NULL, _IOLBF, 0);
	sender_setup(&s);
	probe(s.dev);

	sock = udp_sink_socket();
	t = now();
	c = cpu_seconds();
	run_sends(&s, sock, mib << 20);
	report("UDP to a dummy sink", &s, now() - t, cpu_seconds() - c);
	close(sock);
	if (s.zc != s.sends)
		die("UDP sink: not every send went zero copy", EPROTO);
	sender_teardown(&s);

	sender_setup(&s);
	if (sock_tcp_pair(AF_INET, fds, 0, 0))
		die("tcp pair over loopback", errno);
	sock = fds[1];
	r.sock = fds[0];
	if (pthread_create(&thr, NULL, receive, &r))
		die("pthread_create", EAGAIN);
	t = now();
	c = cpu_seconds();
	run_sends(&s, sock, (mib / 4) << 20);
	shutdown(sock, SHUT_WR);
	pthread_join(thr, NULL);
	report("TCP over loopback", &s, now() - t, cpu_seconds() - c);
	printf("TCP receiver: %llu bytes, %llu wrong (loopback copies on receive, so zero copy is reported as copied)\n",
	       r.bytes, r.bad);
	if (r.bad || r.bytes != s.bytes)
		die("TCP data check", EPROTO);
	sender_teardown(&s);
	printf("send_demo: OK\n");
	return 0;
}
