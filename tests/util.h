/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The helper library of the tests (util.c, built once into
 * tests/build/libtestutil.a with harness.c and sock.c, and linked into
 * every test): CQE32 io_uring setup, the module's buffer commands
 * (RECV, READ, SEND) submitted and decoded, provided-buffer rings in
 * application memory, 4 KiB-page and hugetlb memory, sockets over IPv4
 * and IPv6 loopback, a UDP sink on a dummy interface, two data patterns
 * (by stream offset, by slice), a receiver thread, the module-wide
 * counters and child processes. Lending chains are lib/'s
 * iopbuf_lend_init() and iopbuf_lend_add().
 *
 * Everything records failures through harness.h and returns false (or a
 * negative value) so that a case can stop and clean up. Every wait for
 * something that must happen is bounded by the harness's one hang guard,
 * h_hang_ms() (T_WAIT_MS).
 */
#ifndef IOPBUF_TESTS_UTIL_H
#define IOPBUF_TESTS_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include "harness.h"
#include "sock.h"
#include "../lib/include/iopbuf.h"

/* SQ/CQ depth of the rings these tests create. */
#define T_QD		64
/* How long a test waits for something that must happen: the hang guard. */
#define T_WAIT_MS	h_hang_ms()
/* How long a test waits to be sure a completion does not come. */
#define T_QUIET_MS	200

/* Is the running kernel at least @major.@minor? (io_uring's own features) */
bool t_kernel_at_least(int major, int minor);

/*
 * readlink(2) of @path into @buf (@size bytes), NUL-terminated (empty on
 * failure): the target's length, or 0 or -1 as readlink() returns.
 */
ssize_t t_readlink(const char *path, char *buf, size_t size);

/* ------------------------------------------------------------------------
 * io_uring and completions
 */

/* A ring of T_QD entries with @flags; SKIP or FAIL as h_uring_init2(). */
static inline bool t_uring_init(struct io_uring *ring, unsigned int flags)
{
	return h_uring_init2(ring, T_QD, flags);
}

/* One completion, copied out of the CQ ring. */
struct t_cqe {
	int	res;
	__u32	flags;		/* cqe->flags (native operations) */
	__u64	user_data;
	__u64	res2;		/* big_cqe[0] on a CQE32 ring, else 0 */
};

static inline __u16 t_bid(const struct t_cqe *c)
{
	return iopbuf_cqe_bid(c->res2);
}

static inline __u16 t_nbufs(const struct t_cqe *c)
{
	return iopbuf_cqe_nbufs(c->res2);
}

static inline __u16 t_cflags(const struct t_cqe *c)
{
	return iopbuf_cqe_flags(c->res2);
}

static inline bool t_has_buffer(const struct t_cqe *c)
{
	return t_cflags(c) & IOPBUF_CQE_F_BUFFER;
}

static inline bool t_buf_more(const struct t_cqe *c)
{
	return t_cflags(c) & IOPBUF_CQE_F_BUF_MORE;
}

void t_cqe_copy(const struct io_uring *ring, const struct io_uring_cqe *cqe,
		struct t_cqe *c);
/* Wait up to @ms for a CQE; false (and a failure) if none came. */
bool t_wait_ms(struct io_uring *ring, struct t_cqe *c, int ms);
/* ... up to the hang guard. */
bool t_wait(struct io_uring *ring, struct t_cqe *c);
/*
 * No completion arrives for @ms (T_QUIET_MS for t_no_cqe): the command is
 * waiting. Waiting inside io_uring_enter() also runs task work, so a
 * command that would complete from task work does so here.
 */
bool t_no_cqe_ms(struct io_uring *ring, int ms);

static inline bool t_no_cqe(struct io_uring *ring)
{
	return t_no_cqe_ms(ring, T_QUIET_MS);
}

/*
 * Submit everything queued; exactly @n SQEs must be consumed. With SQPOLL,
 * liburing counts what the poller has not taken yet, earlier SQEs
 * included (a slow poller, as on the debug kernel): at least @n then.
 */
bool t_submit(struct io_uring *ring, int n);

/* ------------------------------------------------------------------------
 * IOPBUF_CMD_RECV and IOPBUF_CMD_READ
 */

/* The full command, including fields a valid command leaves at zero. */
struct t_cmd {
	__u32	op;		/* IOPBUF_CMD_RECV or IOPBUF_CMD_READ */
	int	fd;
	__u16	bgid;
	__u16	flags;		/* IOPBUF_RECV_* */
	__u32	len;
	__u32	resv;
};

/* Queue (not submit) a buffer command on @dev. */
bool t_queue_cmd(struct io_uring *ring, int dev, const struct t_cmd *cmd,
		 __u64 user_data);

/* Submit one buffer command without waiting for it. */
static inline bool t_start(struct io_uring *ring, int dev,
			   const struct t_cmd *cmd, __u64 user_data)
{
	return t_queue_cmd(ring, dev, cmd, user_data) && t_submit(ring, 1);
}

/* Submit one buffer command and wait for its completion. */
static inline bool t_do(struct io_uring *ring, int dev,
			const struct t_cmd *cmd, struct t_cqe *c)
{
	return t_start(ring, dev, cmd, 0x5eed) && t_wait(ring, c);
}

/* Shorthands: single-buffer or bundle receive / read of up to @len. */
bool t_recv(struct io_uring *ring, int dev, int fd, unsigned int bgid,
	    unsigned int flags, unsigned int len, struct t_cqe *c);
bool t_read(struct io_uring *ring, int dev, int fd, unsigned int bgid,
	    unsigned int len, struct t_cqe *c);

/*
 * A completion that moved @res bytes into @nbufs entries starting at bid
 * @bid, with BUF_MORE as @more. Reserved res2 bits must be zero.
 */
#define EXPECT_BUF_CQE(c, want_res, want_bid, want_nbufs, want_more) ({	\
	const struct t_cqe *_c = (c);					\
	bool _ok = EXPECT_EQ(_c->res, (want_res));			\
	_ok &= EXPECT_EQ(t_cflags(_c), IOPBUF_CQE_F_BUFFER |		\
			 ((want_more) ? IOPBUF_CQE_F_BUF_MORE : 0));	\
	_ok &= EXPECT_EQ(t_bid(_c), (want_bid));			\
	_ok &= EXPECT_EQ(t_nbufs(_c), (want_nbufs));			\
	_ok &= EXPECT_EQ(_c->res2 >> 48, 0);				\
	_ok;								\
})

/* A completion that consumed no buffer: res2 must be 0. */
#define EXPECT_NOBUF_CQE(c, want_res) ({				\
	const struct t_cqe *_c = (c);					\
	bool _ok = EXPECT_EQ((long)_c->res, (long)(want_res));		\
	_ok &= EXPECT_EQ(_c->res2, 0);					\
	if (!_ok)							\
		h_note("res %s res2 %#llx", h_res(_c->res),		\
		       (unsigned long long)_c->res2);			\
	_ok;								\
})

/* ------------------------------------------------------------------------
 * IOPBUF_CMD_SEND
 */

/* Queue (not submit) an IOPBUF_CMD_SEND on the device @dev. */
bool t_queue_send(struct io_uring *ring, int dev,
		  const struct iopbuf_cmd_send *cmd, __u64 user_data);

/* Submit one send and wait for its completion. */
static inline bool t_send(struct io_uring *ring, int dev,
			  const struct iopbuf_cmd_send *cmd, struct t_cqe *c)
{
	return t_queue_send(ring, dev, cmd, 0x5e4d) && t_submit(ring, 1) &&
	       t_wait(ring, c);
}

/* A completion that consumed nothing: -@err and res2 == 0. */
#define EXPECT_SEND_ERR(c, err) ({					\
	const struct t_cqe *_c = (c);					\
	bool _ok = EXPECT_ERR(_c->res, (err));				\
	_ok &= EXPECT_EQ(_c->res2, 0);					\
	_ok;								\
})

/* ------------------------------------------------------------------------
 * Provided-buffer rings in application memory
 */

struct t_ring {
	int			dev;
	struct iopbuf_buf	*bufs;
	size_t			map_len;
	unsigned int		entries;
	unsigned int		bgid;
	__u16			tail;	/* entries added so far */
	bool			registered;
};

/*
 * Register ring @bgid of @entries entries on @dev with @flags and
 * @min_left, in fresh page-aligned anonymous memory.
 */
bool t_ring_init(struct t_ring *r, int dev, unsigned int entries,
		 unsigned int bgid, unsigned int flags, unsigned int min_left);
void t_ring_fini(struct t_ring *r);

static inline struct iopbuf_buf *t_ring_entry(const struct t_ring *r,
					      unsigned int idx)
{
	return &r->bufs[idx & (r->entries - 1)];
}

/* Fill the next entry (not yet visible to the kernel). */
static inline void t_ring_add(struct t_ring *r, __u64 addr, __u32 len,
			      __u16 bid)
{
	struct iopbuf_buf *b = t_ring_entry(r, r->tail);

	b->addr = addr;
	b->len = len;
	b->bid = bid;
	r->tail++;
}

static inline void t_ring_add_ptr(struct t_ring *r, const void *p, __u32 len,
				  __u16 bid)
{
	t_ring_add(r, (uintptr_t)p, len, bid);
}

/* Publish the entries added so far (release store of the tail). */
static inline void t_ring_publish(struct t_ring *r)
{
	__atomic_store_n(iopbuf_ring_tail(r->bufs), r->tail, __ATOMIC_RELEASE);
}

/* @n buffers of @size bytes each from @base, bids @bid0.., published. */
void t_ring_fill(struct t_ring *r, char *base, unsigned int n, __u32 size,
		 __u16 bid0);

/* The kernel head of the ring, or -1 (and a failure). */
long t_ring_head(const struct t_ring *r);

#define EXPECT_HEAD(r, want)	EXPECT_EQ(t_ring_head(r), (want))

/* Entry @idx still holds (@addr, @len): the kernel did not rewrite it. */
#define EXPECT_ENTRY(r, idx, want_addr, want_len) ({			\
	const struct iopbuf_buf *_b = t_ring_entry((r), (idx));		\
	bool _ok = EXPECT_EQ(_b->addr, (__u64)(want_addr));		\
	_ok &= EXPECT_EQ(_b->len, (want_len));				\
	_ok;								\
})

/*
 * A fixture: a context, a CQE32 io_uring, one provided-buffer ring and a
 * data area, and a socket pair or pipe where a test makes one.
 */
struct t_fx {
	int			dev;
	bool			have_uring;
	struct io_uring		uring;
	struct t_ring		r;
	char			*data;
	size_t			data_len;
	int			fds[2];		/* [0] receives, [1] sends */
};

/*
 * The context, the io_uring of @entries (CQE32 | @flags) and @data_len
 * bytes of 0xee (none for 0); t_fx_init(): T_QD entries.
 */
bool t_fx_init2(struct t_fx *f, size_t data_len, unsigned int entries,
		unsigned int flags);
bool t_fx_init(struct t_fx *f, size_t data_len, unsigned int flags);

/*
 * A case on a fixture its runner makes: t_fx_init(@data_len) and, for
 * @entries > 0, a ring (t_ring_init(@entries, @bgid, @ring_flags)).
 * fn(f) runs only when all of it was made, and t_fx_fini() follows it:
 * a case keeps the fds it reads from and writes to in f->fds.
 */
void t_run_fx(const char *name, void (*fn)(struct t_fx *f), size_t data_len,
	      unsigned int entries, unsigned int bgid, unsigned int ring_flags);
/* Everything t_fx_init() and the test made: fds, ring, io_uring, context. */
void t_fx_fini(struct t_fx *f);

/* ------------------------------------------------------------------------
 * Memory
 */

/*
 * Anonymous memory backed by 4 KiB pages: transparent huge pages are
 * refused before the first touch, then every page is faulted in.
 */
unsigned char *t_map_4k(size_t len);
/* The number after "@key:" in @path ("/proc/self/status", "VmPin"), or -1. */
long t_proc_field(const char *path, const char *key);

/* A number from /proc/meminfo ("HugePages_Free", "Hugepagesize"), or -1. */
static inline long t_meminfo(const char *key)
{
	return t_proc_field("/proc/meminfo", key);
}
/* The number a file starts with, or -1. */
long t_read_long(const char *path);
bool t_write_str(const char *path, const char *s);

/* hugetlb memory and the nr_hugepages setting to restore afterwards. */
struct t_huge {
	unsigned char	*p;
	size_t		len;
	size_t		page;		/* huge page size */
	long		old_nr;		/* -1: nr_hugepages untouched */
};

/*
 * @n default-size huge pages, mapped MAP_HUGETLB and faulted in. Raises
 * /proc/sys/vm/nr_hugepages by @n first. NULL and a SKIP when the kernel
 * cannot provide them.
 */
unsigned char *t_huge_map(struct t_huge *h, unsigned int n);
void t_huge_unmap(struct t_huge *h);

/* ------------------------------------------------------------------------
 * Data: a byte pattern that depends on the absolute stream offset, so a
 * misplaced, repeated or reordered byte run is detected.
 */

static inline unsigned char t_pat(size_t off)
{
	return (unsigned char)(((__u32)off * 0x9E3779B1u) >> 24) ^
	       (unsigned char)(off >> 8);
}

void t_pat_fill(void *p, size_t off, size_t len);

/* @len bytes at @p are the pattern from stream offset @off. */
#define EXPECT_PAT(p, off, len) ({					\
	const unsigned char *_p = (const void *)(p);			\
	size_t _o = (off), _n = (len), _i;				\
	for (_i = 0; _i < _n && _p[_i] == t_pat(_o + _i); _i++)		\
		;							\
	h_expect(_i == _n, __FILE__, __LINE__,				\
		 "data at stream offset %zu (+%zu of %zu): got %#x, want %#x", \
		 _o + _i, _i, _n, _i < _n ? _p[_i] : 0,		\
		 _i < _n ? t_pat(_o + _i) : 0);				\
})

/*
 * Slice pattern: byte @off of slice @id. The first four bytes are the id
 * (little endian), so a misplaced run of bytes names the slice it came
 * from; the rest is a hash of (id, off).
 */
unsigned char t_slice_pat(__u32 id, __u32 off);
void t_slice_fill(void *p, __u32 len, __u32 id);

/* The expected byte stream: slices (id, len) in the order they must leave. */
struct t_slice {
	__u32	id;
	__u32	len;
};

struct t_expect {
	struct t_slice	*s;
	size_t		n;
	size_t		cap;
	size_t		total;
};

bool t_expect_add(struct t_expect *e, __u32 id, __u32 len);
void t_expect_free(struct t_expect *e);
/* Bytes in slices [@first, @first + @n). */
size_t t_expect_bytes(const struct t_expect *e, size_t first, size_t n);
/*
 * @got (@len bytes) must be exactly slices [@first, @first + @n) of @e,
 * concatenated. On a mismatch the failure names the slice and offset, and
 * the slice id the wrong bytes look like (their first four bytes).
 */
bool t_expect_check(const struct t_expect *e, size_t first, size_t n,
		    const unsigned char *got, size_t len, const char *what);

/* ------------------------------------------------------------------------
 * Sockets over loopback, pipes and files (the connections themselves are
 * sock.c's, shared with tools/)
 */

enum t_sock_kind { T_TCP, T_UDP, T_UNIX };

static inline const char *t_sock_name(enum t_sock_kind k)
{
	return k == T_TCP ? "tcp" : k == T_UDP ? "udp" : "unix";
}

static inline const char *t_family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

static inline void t_close2(int fds[2])
{
	h_close(&fds[0]);
	h_close(&fds[1]);
}

static inline void t_set_int(int fd, int level, int opt, int val)
{
	setsockopt(fd, level, opt, &val, sizeof(val));
}

/* Blocking receives on @fd give up after @ms (EAGAIN). */
void t_set_rcvtimeo(int fd, int ms);

/*
 * A connected TCP pair over 127.0.0.1: fds[0] receives, fds[1] sends
 * (TCP_NODELAY, so every send leaves at once).
 */
bool t_tcp_pair(int fds[2]);
/*
 * The same over the loopback address of @family, for the send tests: a
 * non-zero @sndbuf / @rcvbuf sets the sender's SO_SNDBUF / the receiver's
 * SO_RCVBUF (before the connection, so the window is small from the
 * start: a receiver that does not read then blocks the sender after a few
 * dozen KiB), and the receiver's blocking reads give up at the hang guard.
 */
bool t_tcp_pair2(int family, int fds[2], int sndbuf, int rcvbuf);

/* t_tcp_pair2() with both buffers @bufsize (0: the defaults). */
static inline bool t_tcp_pair_buf(int family, int fds[2], int bufsize)
{
	return t_tcp_pair2(family, fds, bufsize, bufsize);
}

/* Two UDP sockets on 127.0.0.1 connected to each other. */
bool t_udp_pair(int fds[2]);
/*
 * ... on the loopback address of @family, the receiver with room for
 * every datagram a test sends before reading and blocking reads bounded
 * by the hang guard.
 */
bool t_udp_pair2(int family, int fds[2]);
bool t_unix_pair(int fds[2]);
bool t_sock_pair(enum t_sock_kind k, int fds[2]);
bool t_pipe(int fds[2]);

/* Write all @len bytes (send() on sockets: one datagram on UDP). */
bool t_write_all(int fd, const void *buf, size_t len);
/* Write the pattern for stream offsets [@off, @off + @len). */
bool t_write_pat(int fd, size_t off, size_t len);
/* A regular file in /tmp (tmpfs) holding the pattern [0, @len). */
int t_pat_file(const char *name, size_t len, int oflags);

/* Bytes a socket has queued for reading (FIONREAD), or -1. */
int t_sock_queued(int fd);
/* Bytes the sender still holds (unsent or unacknowledged), or -1. */
int t_outq(int fd);
/* Bytes the sender holds that it has not sent yet, or -1. */
int t_outq_unsent(int fd);
/*
 * Fill @fd's send queue with plain send(MSG_DONTWAIT) until it stays full:
 * EAGAIN, and still EAGAIN after the acknowledgements in flight had time
 * to free space (the receiver's window is full too). Returns the bytes
 * queued, or -1.
 */
ssize_t t_fill_sndbuf(int fd);

/* ------------------------------------------------------------------------
 * The UDP sink: a dummy interface that drops whatever it is given, so the
 * network stack lets go of the pages without copying (zero copy that
 * really is). Addresses exist only inside the test guest.
 */

#define T_SINK_DEV	"psend0"
#define T_SINK_V4	"198.51.100.1/24"
#define T_SINK_PEER4	"198.51.100.2"
#define T_SINK_V6	"2001:db8:5e::1/64"
#define T_SINK_PEER6	"2001:db8:5e::2"

/*
 * Run the shell command @cmd, its output (stdout and stderr) into @out;
 * its exit status, or -1 if it could not run.
 */
int t_run_cmd(const char *cmd, char *out, size_t outlen);
/*
 * Create the sink (idempotent); false when it cannot be. It is a SKIP only
 * when the kernel has no dummy interfaces (rtnetlink's EOPNOTSUPP for a
 * link kind it does not know); any other failure is a FAIL.
 */
bool t_sink_up(void);
void t_sink_down(void);
/* A UDP socket of @family connected to the far side of the sink. */
int t_sink_socket(int family);

/* ------------------------------------------------------------------------
 * A receiver thread: reads a stream socket into a buffer until EOF.
 */

struct t_rx {
	int		fd;
	unsigned char	*buf;
	size_t		cap;
	size_t		len;		/* bytes stored in buf */
	size_t		extra;		/* bytes beyond cap (dropped) */
	int		err;		/* errno of the failed recv, or 0 */
	pthread_t	thr;
	bool		running;
};

/* Start receiving from @fd into a fresh buffer of @cap bytes. */
bool t_rx_start(struct t_rx *rx, int fd, size_t cap);
/* Wait for the receiver to see EOF (or give up); true if it saw EOF. */
bool t_rx_join(struct t_rx *rx);
void t_rx_free(struct t_rx *rx);

/* ------------------------------------------------------------------------
 * The module's counters
 */

/* The context's in-flight counter (IOPBUF_IOC_STATS), or -1. */
long t_ctx_inflight(int dev);
/* Wait (up to the hang guard) for /sys/class/misc/iouring-pbuf/@attr to read @want. */
bool t_global_is(const char *attr, long want);

static inline bool t_global_inflight_is(long want)
{
	return t_global_is("inflight", want);
}

/* Snapshot the five counters; an earlier test's leak is then not blamed here. */
void t_counters_init(void);
/*
 * Every module-wide counter (the harness's four and notifs) back at its
 * start value (0): nothing pinned, charged, open, in flight or waiting
 * for the network stack.
 */
bool t_counters_idle(void);
/* @attr's value when t_counters_init() ran. */
long t_counter_at_start(const char *attr);

/* ------------------------------------------------------------------------
 * Processes
 */

/*
 * The built program @name of another tree, which tests run rather than
 * compile in: examples/build/static/@name (make -C examples STATIC=1
 * OUT=build/static) or tools/build/@name. Looked for in $IOPBUF_PROGS,
 * then /progs (the guest's, scripts/vm-test.sh stages them there), then
 * next to this test's own build directory. NULL and a failure when it is
 * not there.
 */
const char *t_prog(const char *name);

/*
 * Run the built program @name (t_prog()) with @argv, its stdout into
 * *@out (a pipe to read). Its pid, or -1 and a failure.
 */
pid_t t_spawn(const char *name, char *const argv[], FILE **out);

/*
 * Fork a child that runs @fn(@arg): true once what the case needs is in
 * flight, and the child says so and waits to be killed; false, and it
 * exits 1. Waits (up to the hang guard) for the child to be ready; its
 * pid, or -1 (the child killed and reaped) and a failure.
 */
pid_t t_fork_ready(bool (*fn)(void *arg), void *arg);

/*
 * SIGKILL @pid and reap it: its exit is the event, bounded by the hang
 * guard (a failure naming @what), and how long it took is noted. True
 * when it died of the SIGKILL.
 */
bool t_kill_reap(pid_t pid, const char *what);

/* waitpid() for at most @ms; true when @pid exited (status in *status). */
bool t_waitpid_ms(pid_t pid, int *status, int ms);

/* ... at most the hang guard. */
static inline bool t_waitpid(pid_t pid, int *status)
{
	return t_waitpid_ms(pid, status, T_WAIT_MS);
}

#endif /* IOPBUF_TESTS_UTIL_H */
