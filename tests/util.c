// SPDX-License-Identifier: GPL-2.0
/* The tests' helper library: see util.h. */
#include <limits.h>
#include <sys/utsname.h>
#include <linux/sockios.h>

#include "util.h"

bool t_kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
		return false;
	return ma > major || (ma == major && mi >= minor);
}

ssize_t t_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n = readlink(path, buf, size - 1);

	buf[n > 0 ? n : 0] = 0;
	return n;
}

/* ------------------------------------------------------------------------
 * io_uring and completions
 */

static struct __kernel_timespec t_ts(int ms)
{
	return (struct __kernel_timespec){
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};
}

void t_cqe_copy(const struct io_uring *ring,
			      const struct io_uring_cqe *cqe, struct t_cqe *c)
{
	c->res = cqe->res;
	c->flags = cqe->flags;
	c->user_data = cqe->user_data;
	c->res2 = ring->flags & IORING_SETUP_CQE32 ? cqe->big_cqe[0] : 0;
}

bool t_wait_ms(struct io_uring *ring, struct t_cqe *c, int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret) {
		FAILF("no completion within %d ms: %s", ms, h_res(ret));
		return false;
	}
	t_cqe_copy(ring, cqe, c);
	io_uring_cqe_seen(ring, cqe);
	return true;
}

bool t_wait(struct io_uring *ring, struct t_cqe *c)
{
	return t_wait_ms(ring, c, T_WAIT_MS);
}

bool t_no_cqe_ms(struct io_uring *ring, int ms)
{
	struct __kernel_timespec ts = t_ts(ms);
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret == -ETIME)
		return true;
	if (ret)
		FAILF("waiting for no completion: %s", h_res(ret));
	else
		FAILF("unexpected completion: res %s res2 %#llx",
		      h_res(cqe->res), ring->flags & IORING_SETUP_CQE32 ?
		      (unsigned long long)cqe->big_cqe[0] : 0ULL);
	return false;
}

bool t_submit(struct io_uring *ring, int n)
{
	int ret = io_uring_submit(ring);

	if (ring->flags & IORING_SETUP_SQPOLL ? ret < n : ret != n) {
		FAILF("io_uring_submit: %s, want %d", h_res(ret), n);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * The buffer commands
 */

bool t_queue_cmd(struct io_uring *ring, int dev,
			       const struct t_cmd *cmd, __u64 user_data)
{
	struct iopbuf_cmd_recv payload = {
		.fd = cmd->fd,
		.bgid = cmd->bgid,
		.flags = cmd->flags,
		.len = cmd->len,
		.resv = cmd->resv,
	};

	if (!h_prep_cmd(ring, dev, cmd->op, &payload, sizeof(payload),
			user_data)) {
		FAILF("no free SQE");
		return false;
	}
	return true;
}

bool t_recv(struct io_uring *ring, int dev, int fd,
			  unsigned int bgid, unsigned int flags,
			  unsigned int len, struct t_cqe *c)
{
	struct t_cmd cmd = {
		.op = IOPBUF_CMD_RECV, .fd = fd, .bgid = (__u16)bgid,
		.flags = (__u16)flags, .len = len,
	};

	return t_do(ring, dev, &cmd, c);
}

bool t_read(struct io_uring *ring, int dev, int fd,
			  unsigned int bgid, unsigned int len, struct t_cqe *c)
{
	struct t_cmd cmd = {
		.op = IOPBUF_CMD_READ, .fd = fd, .bgid = (__u16)bgid,
		.len = len,
	};

	return t_do(ring, dev, &cmd, c);
}

bool t_queue_send(struct io_uring *ring, int dev,
				 const struct iopbuf_cmd_send *cmd,
				 __u64 user_data)
{
	if (!h_prep_cmd(ring, dev, IOPBUF_CMD_SEND, cmd, sizeof(*cmd),
			user_data)) {
		FAILF("no free SQE");
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Provided-buffer rings
 */

bool t_ring_init(struct t_ring *r, int dev, unsigned int entries,
			       unsigned int bgid, unsigned int flags,
			       unsigned int min_left)
{
	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->entries = entries;
	r->bgid = bgid;
	r->map_len = (entries * sizeof(struct iopbuf_buf) + H_PAGE - 1) &
		     ~(H_PAGE - 1);
	r->bufs = h_map(r->map_len);
	if (!r->bufs)
		return false;
	if (!EXPECT_OK(h_register_ring(dev, r->bufs, entries, bgid, flags,
				       min_left)))
		return false;
	r->registered = true;
	return true;
}

void t_ring_fini(struct t_ring *r)
{
	if (r->registered && r->dev >= 0)
		h_unregister_ring(r->dev, r->bgid);
	r->registered = false;
	h_unmap(r->bufs, r->map_len);
	r->bufs = NULL;
}

void t_ring_fill(struct t_ring *r, char *base, unsigned int n,
			       __u32 size, __u16 bid0)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		t_ring_add_ptr(r, base + (size_t)i * size, size,
			       (__u16)(bid0 + i));
	t_ring_publish(r);
}

long t_ring_head(const struct t_ring *r)
{
	unsigned int head = 0;

	if (!EXPECT_OK(h_ring_status(r->dev, r->bgid, &head)))
		return -1;
	return head;
}

bool t_fx_init2(struct t_fx *f, size_t data_len, unsigned int entries,
		unsigned int flags)
{
	memset(f, 0, sizeof(*f));
	f->fds[0] = f->fds[1] = -1;
	f->r.dev = -1;
	f->dev = h_open();
	if (f->dev < 0)
		return false;
	if (data_len) {
		f->data_len = data_len;
		f->data = h_map(data_len);
		if (!f->data)
			return false;
		memset(f->data, 0xee, data_len);
	}
	f->have_uring = h_uring_init2(&f->uring, entries,
				      IORING_SETUP_CQE32 | flags);
	return f->have_uring;
}

bool t_fx_init(struct t_fx *f, size_t data_len, unsigned int flags)
{
	return t_fx_init2(f, data_len, T_QD, flags);
}

void t_fx_fini(struct t_fx *f)
{
	t_close2(f->fds);
	if (f->have_uring)
		io_uring_queue_exit(&f->uring);
	f->have_uring = false;
	t_ring_fini(&f->r);
	h_close(&f->dev);
	h_unmap(f->data, f->data_len);
	f->data = NULL;
}

struct t_fx_case {
	void		(*fn)(struct t_fx *f);
	size_t		data_len;
	unsigned int	entries;
	unsigned int	bgid;
	unsigned int	ring_flags;
};

static void t_fx_case_run(const void *arg)
{
	const struct t_fx_case *c = arg;
	struct t_fx f;

	if (t_fx_init(&f, c->data_len, 0) &&
	    (!c->entries || t_ring_init(&f.r, f.dev, c->entries,
					c->bgid, c->ring_flags, 0)))
		c->fn(&f);
	t_fx_fini(&f);
}

void t_run_fx(const char *name, void (*fn)(struct t_fx *f), size_t data_len,
	      unsigned int entries, unsigned int bgid, unsigned int ring_flags)
{
	struct t_fx_case c = { fn, data_len, entries, bgid, ring_flags };

	h_run_arg(name, t_fx_case_run, &c);
}

/* ------------------------------------------------------------------------
 * Memory
 */

unsigned char *t_map_4k(size_t len)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		FAILF("mmap %zu bytes: %s", len, strerror(errno));
		return NULL;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	memset(p, 0xee, len);
	return p;
}

long t_proc_field(const char *path, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

long t_read_long(const char *path)
{
	char buf[64];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

bool t_write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	bool ok;

	if (!f)
		return false;
	ok = fputs(s, f) >= 0;
	return fclose(f) == 0 && ok;
}

#define T_NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

unsigned char *t_huge_map(struct t_huge *h, unsigned int n)
{
	long kb = t_meminfo("Hugepagesize");
	char val[32];

	memset(h, 0, sizeof(*h));
	h->old_nr = -1;
	if (kb <= 0) {
		h_skip("no hugetlb support (no Hugepagesize in /proc/meminfo)");
		return NULL;
	}
	h->page = (size_t)kb << 10;
	h->len = n * h->page;
	h->old_nr = t_read_long(T_NR_HUGEPAGES);
	if (h->old_nr < 0) {
		h_skip("cannot read %s", T_NR_HUGEPAGES);
		return NULL;
	}
	snprintf(val, sizeof(val), "%ld", h->old_nr + n);
	if (t_write_str(T_NR_HUGEPAGES, val) &&
	    t_meminfo("HugePages_Free") < (long)n) {
		/* fragmented memory: compact it and ask again */
		t_write_str("/proc/sys/vm/compact_memory", "1");
		t_write_str(T_NR_HUGEPAGES, val);
	}
	if (t_meminfo("HugePages_Free") < (long)n) {
		h_skip("cannot reserve %u huge pages of %ld KiB (nr_hugepages %ld -> %ld, HugePages_Free %ld, MemFree %ld kB)",
		       n, kb, h->old_nr, t_read_long(T_NR_HUGEPAGES),
		       t_meminfo("HugePages_Free"), t_meminfo("MemFree"));
		return NULL;
	}
	h->p = mmap(NULL, h->len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h->p == MAP_FAILED) {
		h->p = NULL;
		h_skip("mmap(MAP_HUGETLB, %zu bytes): %s", h->len,
		       strerror(errno));
		return NULL;
	}
	memset(h->p, 0xee, h->len);
	return h->p;
}

void t_huge_unmap(struct t_huge *h)
{
	char val[32];

	if (h->p)
		munmap(h->p, h->len);
	h->p = NULL;
	if (h->old_nr >= 0) {
		snprintf(val, sizeof(val), "%ld", h->old_nr);
		t_write_str(T_NR_HUGEPAGES, val);
	}
	h->old_nr = -1;
}

/* ------------------------------------------------------------------------
 * Data patterns
 */

void t_pat_fill(void *p, size_t off, size_t len)
{
	unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		c[i] = t_pat(off + i);
}

unsigned char t_slice_pat(__u32 id, __u32 off)
{
	__u32 x;

	if (off < 4)
		return (unsigned char)(id >> (8 * off));
	x = id * 0x9E3779B1u ^ off * 0x85EBCA6Bu;
	x ^= x >> 15;
	x *= 0x2C1B3C6Du;
	x ^= x >> 12;
	return (unsigned char)x;
}

void t_slice_fill(void *p, __u32 len, __u32 id)
{
	unsigned char *c = p;
	__u32 i;

	for (i = 0; i < len; i++)
		c[i] = t_slice_pat(id, i);
}

bool t_expect_add(struct t_expect *e, __u32 id, __u32 len)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 64;
		struct t_slice *s = realloc(e->s, cap * sizeof(*s));

		if (!s) {
			FAILF("out of memory");
			return false;
		}
		e->s = s;
		e->cap = cap;
	}
	e->s[e->n].id = id;
	e->s[e->n].len = len;
	e->n++;
	e->total += len;
	return true;
}

void t_expect_free(struct t_expect *e)
{
	free(e->s);
	memset(e, 0, sizeof(*e));
}

size_t t_expect_bytes(const struct t_expect *e, size_t first,
				     size_t n)
{
	size_t i, sum = 0;

	for (i = first; i < first + n && i < e->n; i++)
		sum += e->s[i].len;
	return sum;
}

bool t_expect_check(const struct t_expect *e, size_t first,
				   size_t n, const unsigned char *got,
				   size_t len, const char *what)
{
	size_t want = t_expect_bytes(e, first, n), pos = 0, i;

	for (i = first; i < first + n && i < e->n; i++) {
		const struct t_slice *s = &e->s[i];
		__u32 off;

		for (off = 0; off < s->len && pos < len; off++, pos++) {
			__u32 seen;

			if (got[pos] == t_slice_pat(s->id, off))
				continue;
			seen = pos + 4 <= len ? (__u32)got[pos] |
			       (__u32)got[pos + 1] << 8 |
			       (__u32)got[pos + 2] << 16 |
			       (__u32)got[pos + 3] << 24 : 0;
			FAILF("%s: byte %zu of %zu (slice #%zu id %u, offset %u of %u): got %#x, want %#x (bytes there start like id %u)",
			      what, pos, want, i, s->id, off, s->len, got[pos],
			      t_slice_pat(s->id, off), seen);
			return false;
		}
	}
	return h_expect(len == want, __FILE__, __LINE__,
			"%s: %zu bytes, want %zu", what, len, want);
}

/* ------------------------------------------------------------------------
 * Sockets, pipes and files
 */

void t_set_rcvtimeo(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

bool t_tcp_pair(int fds[2])
{
	if (!sock_tcp_pair(AF_INET, fds, 0, 0))
		return true;
	FAILF("tcp pair over 127.0.0.1: %s", strerror(errno));
	return false;
}

bool t_tcp_pair2(int family, int fds[2], int sndbuf, int rcvbuf)
{
	if (sock_tcp_pair(family, fds, sndbuf, rcvbuf)) {
		FAILF("tcp pair over %s loopback: %s", t_family_name(family),
		      strerror(errno));
		return false;
	}
	t_set_rcvtimeo(fds[0], T_WAIT_MS);
	return true;
}

bool t_udp_pair(int fds[2])
{
	if (!sock_udp_pair(AF_INET, fds))
		return true;
	FAILF("udp pair over 127.0.0.1: %s", strerror(errno));
	return false;
}

bool t_udp_pair2(int family, int fds[2])
{
	if (sock_udp_pair(family, fds)) {
		FAILF("udp pair over %s loopback: %s", t_family_name(family),
		      strerror(errno));
		return false;
	}
	/* room for every datagram a test sends before reading (root) */
	if (setsockopt(fds[0], SOL_SOCKET, SO_RCVBUFFORCE, &(int){ 4 << 20 },
		       sizeof(int)))
		t_set_int(fds[0], SOL_SOCKET, SO_RCVBUF, 4 << 20);
	t_set_rcvtimeo(fds[0], T_WAIT_MS);
	return true;
}

bool t_unix_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)) {
		FAILF("socketpair(AF_UNIX): %s", strerror(errno));
		fds[0] = fds[1] = -1;
		return false;
	}
	return true;
}

bool t_sock_pair(enum t_sock_kind k, int fds[2])
{
	switch (k) {
	case T_TCP:
		return t_tcp_pair(fds);
	case T_UDP:
		return t_udp_pair(fds);
	default:
		return t_unix_pair(fds);
	}
}

bool t_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC)) {
		FAILF("pipe: %s", strerror(errno));
		fds[0] = fds[1] = -1;
		return false;
	}
	return true;
}

bool t_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	do {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			FAILF("write %zu bytes: %s", len, strerror(errno));
			return false;
		}
		p += n;
		len -= (size_t)n;
	} while (len);
	return true;
}

bool t_write_pat(int fd, size_t off, size_t len)
{
	static unsigned char buf[1 << 16];
	size_t chunk;

	do {
		chunk = len < sizeof(buf) ? len : sizeof(buf);
		t_pat_fill(buf, off, chunk);
		if (!t_write_all(fd, buf, chunk))
			return false;
		off += chunk;
		len -= chunk;
	} while (len);
	return true;
}

int t_pat_file(const char *name, size_t len, int oflags)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/tmp/%s.%d", name, (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		FAILF("open %s: %s", path, strerror(errno));
		return -1;
	}
	unlink(path);
	if (len && !t_write_pat(fd, 0, len)) {
		close(fd);
		return -1;
	}
	if (oflags == O_RDONLY) {
		/* reopen read-only through /proc: same file, fresh position */
		char self[64];
		int rfd;

		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		rfd = open(self, O_RDONLY | O_CLOEXEC);
		close(fd);
		if (rfd < 0)
			FAILF("reopen %s: %s", self, strerror(errno));
		return rfd;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

int t_sock_queued(int fd)
{
	int n = -1;

	if (ioctl(fd, FIONREAD, &n))
		return -1;
	return n;
}

int t_outq(int fd)
{
	int n = -1;

	return ioctl(fd, SIOCOUTQ, &n) ? -1 : n;
}

int t_outq_unsent(int fd)
{
	int n = -1;

	return ioctl(fd, SIOCOUTQNSD, &n) ? -1 : n;
}

ssize_t t_fill_sndbuf(int fd)
{
	static unsigned char junk[4096];
	ssize_t total = 0, round, n;
	int quiet = 0;

	memset(junk, 0x5a, sizeof(junk));
	while (quiet < 3) {
		round = 0;
		while ((n = send(fd, junk, sizeof(junk),
				 MSG_DONTWAIT | MSG_NOSIGNAL)) > 0)
			round += n;
		if (errno != EAGAIN) {
			FAILF("filling the send queue: %s", strerror(errno));
			return -1;
		}
		total += round;
		quiet = round ? 0 : quiet + 1;
		usleep(20000);
	}
	return total;
}

/* ------------------------------------------------------------------------
 * The UDP sink
 */

int t_run_cmd(const char *cmd, char *out, size_t outlen)
{
	char full[512];
	size_t n = 0;
	FILE *f;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	out[0] = 0;
	f = popen(full, "r");
	if (!f)
		return -1;
	while (n + 1 < outlen && fgets(out + n, (int)(outlen - n), f))
		n += strlen(out + n);
	while (n && out[n - 1] == '\n')
		out[--n] = 0;
	st = pclose(f);
	return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

bool t_sink_up(void)
{
	char out[512];
	int rc;

	if (access("/sys/class/net/" T_SINK_DEV, F_OK) == 0)
		return true;
	rc = t_run_cmd("ip link add " T_SINK_DEV " type dummy", out,
			sizeof(out));
	if (rc) {
		if (rc > 0 && strstr(out, strerror(EOPNOTSUPP)))
			h_skip("no dummy interfaces in this kernel: ip link add "
			       T_SINK_DEV " type dummy: %s", out);
		else
			FAILF("ip link add " T_SINK_DEV " type dummy: exit %d: %s",
			      rc, out);
		return false;
	}
	rc = t_run_cmd("ip link set " T_SINK_DEV " mtu 65535 up && "
			"ip addr add " T_SINK_V4 " dev " T_SINK_DEV, out,
			sizeof(out));
	if (rc) {
		FAILF("setting up the sink " T_SINK_DEV ": exit %d: %s", rc, out);
		return false;
	}
	/* a kernel without IPv6: the IPv6 sink sockets skip (t_sink_socket) */
	if (access("/proc/sys/net/ipv6", F_OK))
		return true;
	/* no duplicate address detection: the address is usable at once */
	if (!t_write_str("/proc/sys/net/ipv6/conf/" T_SINK_DEV "/accept_dad",
			  "0")) {
		FAILF("writing 0 to /proc/sys/net/ipv6/conf/" T_SINK_DEV
		      "/accept_dad failed");
		return false;
	}
	rc = t_run_cmd("ip -6 addr add " T_SINK_V6 " dev " T_SINK_DEV, out,
			sizeof(out));
	if (rc) {
		FAILF("ip -6 addr add " T_SINK_V6 ": exit %d: %s", rc, out);
		return false;
	}
	return true;
}

void t_sink_down(void)
{
	if (access("/sys/class/net/" T_SINK_DEV, F_OK) == 0)
		if (system("ip link del " T_SINK_DEV " 2>/dev/null"))
			printf("# send: cannot delete " T_SINK_DEV "\n");
}

int t_sink_socket(int family)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	if (!t_sink_up())
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(9);
		inet_pton(AF_INET6, T_SINK_PEER6, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(9);
		inet_pton(AF_INET, T_SINK_PEER4, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		/* the one answer of a kernel without IPv6 */
		if (family == AF_INET6 && errno == EAFNOSUPPORT)
			h_skip("no IPv6 in this kernel: socket(AF_INET6): %s",
			       strerror(errno));
		else
			FAILF("%s udp socket: %s", t_family_name(family),
			      strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, sl)) {
		FAILF("connect to the %s sink: %s", t_family_name(family),
		      strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------------------------
 * The receiver thread
 */

static void *t_rx_fn(void *arg)
{
	static __thread unsigned char scratch[65536];
	struct t_rx *rx = arg;

	for (;;) {
		bool full = rx->len == rx->cap;
		ssize_t n = recv(rx->fd, full ? scratch : rx->buf + rx->len,
				 full ? sizeof(scratch) : rx->cap - rx->len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rx->err = errno;
			break;
		}
		if (n == 0)
			break;
		if (full)
			rx->extra += (size_t)n;
		else
			rx->len += (size_t)n;
	}
	return NULL;
}

bool t_rx_start(struct t_rx *rx, int fd, size_t cap)
{
	int ret;

	memset(rx, 0, sizeof(*rx));
	rx->fd = fd;
	rx->cap = cap;
	rx->buf = malloc(cap ? cap : 1);
	if (!rx->buf) {
		FAILF("out of memory");
		return false;
	}
	ret = pthread_create(&rx->thr, NULL, t_rx_fn, rx);
	if (ret) {
		FAILF("pthread_create: %s", strerror(ret));
		return false;
	}
	rx->running = true;
	return true;
}

bool t_rx_join(struct t_rx *rx)
{
	if (rx->running)
		pthread_join(rx->thr, NULL);
	rx->running = false;
	if (rx->err)
		return h_expect(false, __FILE__, __LINE__,
				"receiver: recv after %zu bytes: %s", rx->len,
				strerror(rx->err));
	return h_expect(!rx->extra, __FILE__, __LINE__,
			"receiver: %zu bytes more than the %zu expected",
			rx->extra, rx->cap);
}

void t_rx_free(struct t_rx *rx)
{
	if (rx->running) {
		shutdown(rx->fd, SHUT_RDWR);
		pthread_join(rx->thr, NULL);
		rx->running = false;
	}
	free(rx->buf);
	rx->buf = NULL;
}

/* ------------------------------------------------------------------------
 * The module's counters
 */

long t_ctx_inflight(int dev)
{
	struct iopbuf_stats st;

	if (!EXPECT_OK(h_stats(dev, &st)))
		return -1;
	return st.inflight;
}

bool t_global_is(const char *attr, long want)
{
	long v;
	int ms;

	for (ms = T_WAIT_MS;; ms -= 10) {
		v = h_sysfs_read(attr);
		if (v == want || ms <= 0)
			break;
		usleep(10000);
	}
	return h_expect(v == want, __FILE__, __LINE__,
			"global %s is %ld, want %ld", attr, v, want);
}

static const char *const t_counter_names[] = {
	"pinned_pages", "charged_pages", "contexts", "inflight", "notifs",
};
#define T_NR_COUNTERS	H_ARRAY_SIZE(t_counter_names)

/* The counters when the test binary started (see t_counters_init). */
static long t_counters_start[T_NR_COUNTERS];

void t_counters_init(void)
{
	unsigned int i;

	for (i = 0; i < T_NR_COUNTERS; i++) {
		t_counters_start[i] = h_sysfs_read(t_counter_names[i]);
		if (t_counters_start[i])
			printf("# %s: %s is %ld at start\n", h_test_name,
			       t_counter_names[i], t_counters_start[i]);
	}
}

bool t_counters_idle(void)
{
	bool ok = true;
	unsigned int i;

	for (i = 0; i < T_NR_COUNTERS; i++)
		ok &= t_global_is(t_counter_names[i], t_counters_start[i]);
	return ok;
}

long t_counter_at_start(const char *attr)
{
	unsigned int i;

	for (i = 0; i < T_NR_COUNTERS; i++)
		if (!strcmp(attr, t_counter_names[i]))
			return t_counters_start[i];
	FAILF("no counter %s", attr);
	return H_UNREADABLE;
}

/* ------------------------------------------------------------------------
 * Processes
 */

bool t_waitpid_ms(pid_t pid, int *status, int ms)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 || ms <= 0)
			return false;
		usleep(10000);
		ms -= 10;
	}
}

const char *t_prog(const char *name)
{
	static char path[PATH_MAX];
	const char *env = getenv("IOPBUF_PROGS");
	char self[PATH_MAX / 2], *slash;
	ssize_t n;
	int i;

	for (i = 0; i < 4; i++) {
		switch (i) {
		case 0:
			if (!env)
				continue;
			snprintf(path, sizeof(path), "%s/%s", env, name);
			break;
		case 1:
			snprintf(path, sizeof(path), "/progs/%s", name);
			break;
		default:
			/* tests/build/<test> -> examples/..., tools/... */
			n = t_readlink("/proc/self/exe", self, sizeof(self));
			if (n <= 0)
				continue;
			slash = strrchr(self, '/');
			if (slash)
				*slash = 0;
			snprintf(path, sizeof(path), "%s/../../%s/%s", self,
				 i == 2 ? "examples/build/static" : "tools/build", name);
			break;
		}
		if (!access(path, X_OK))
			return path;
	}
	FAILF("program %s not found in $IOPBUF_PROGS, /progs, examples/build/static "
	      "or tools/build", name);
	return NULL;
}

pid_t t_spawn(const char *name, char *const argv[], FILE **out)
{
	const char *prog = t_prog(name);
	int pfd[2];
	pid_t pid;

	*out = NULL;
	if (!prog || !EXPECT_OK(pipe2(pfd, O_CLOEXEC)))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		execv(prog, argv);
		printf("exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	if (!EXPECT(pid > 0)) {
		close(pfd[0]);
		return -1;
	}
	*out = fdopen(pfd[0], "r");
	if (!EXPECT(*out)) {
		close(pfd[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* In a t_fork_ready() child: say it is ready, then wait to be killed. */
static void __attribute__((noreturn)) t_ready_wait(int sync_fd)
{
	if (write(sync_fd, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

pid_t t_fork_ready(bool (*fn)(void *arg), void *arg)
{
	struct pollfd pfd;
	int sync[2], status;
	pid_t pid;
	char ch;

	if (!t_pipe(sync))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(sync[0]);
		if (fn(arg))
			t_ready_wait(sync[1]);
		_exit(1);
	}
	close(sync[1]);
	if (!EXPECT(pid >= 0)) {
		close(sync[0]);
		return -1;
	}
	pfd = (struct pollfd){ .fd = sync[0], .events = POLLIN };
	if (!EXPECT(poll(&pfd, 1, T_WAIT_MS) == 1) ||
	    !EXPECT(read(sync[0], &ch, 1) == 1)) {
		close(sync[0]);
		kill(pid, SIGKILL);
		t_waitpid(pid, &status);
		return -1;
	}
	close(sync[0]);
	return pid;
}

bool t_kill_reap(pid_t pid, const char *what)
{
	struct timespec t0, t1;
	int status = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(pid, SIGKILL);
	if (!h_expect(t_waitpid(pid, &status), __FILE__, __LINE__,
		      "%s still alive %d ms after SIGKILL", what, T_WAIT_MS))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	h_note("%s reaped %ld ms after SIGKILL", what,
	       (long)((t1.tv_sec - t0.tv_sec) * 1000 +
		      (t1.tv_nsec - t0.tv_nsec) / 1000000));
	return EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

