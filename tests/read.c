// SPDX-License-Identifier: GPL-2.0
/*
 * read: IOPBUF_CMD_READ from pipes, FIFOs, regular files in /tmp and
 * character devices into provided-buffer rings, plain and incrementally
 * consumed (INC).
 *
 * Upstream's rules (io_read with IOSQE_BUFFER_SELECT): a pipe is pollable,
 * so its buffer is committed after the read with the bytes read, and a
 * 0-byte read (EOF) still reports the buffer: a plain ring consumes it,
 * an INC ring keeps it (BUF_MORE). A regular file is not pollable: the
 * selected length is committed at selection, so on an INC ring the entry
 * advances by the command's len. Reads use and advance the file position.
 */
#include <sys/stat.h>
#include <termios.h>

#include "util.h"

#define BGID	2

/* t_run_fx() with a ring of @entries on BGID (none for 0), @flags. */
#define RUN_FX(fn, data_len, entries, flags) \
	t_run_fx(#fn, fn, data_len, entries, BGID, flags)

static bool fx_read(struct t_fx *f, int fd, unsigned int len, struct t_cqe *c)
{
	return t_read(&f->uring, f->dev, fd, BGID, len, c);
}

/*
 * A read of @len bytes (0: the entry's length) from @fd that must fill
 * one entry, @bid, with @res bytes, BUF_MORE set as @more. False only
 * when the read itself could not be run.
 */
static bool fx_read_buf(struct t_fx *f, int fd, unsigned int len, int res,
			unsigned int bid, bool more)
{
	struct t_cqe c;

	if (!fx_read(f, fd, len, &c))
		return false;
	EXPECT_BUF_CQE(&c, res, bid, 1, more);
	return true;
}

static bool fx_start_read(struct t_fx *f, int fd, unsigned int flags,
			  unsigned int len)
{
	struct t_cmd cmd = {
		.op = IOPBUF_CMD_READ, .fd = fd, .bgid = BGID,
		.flags = (__u16)flags, .len = len,
	};

	return t_start(&f->uring, f->dev, &cmd, 1);
}

static long file_pos(int fd)
{
	return (long)lseek(fd, 0, SEEK_CUR);
}

/* The fixture's fds[0]: @path opened for reading. */
static bool fx_open(struct t_fx *f, const char *path)
{
	f->fds[0] = open(path, O_RDONLY | O_CLOEXEC);
	return EXPECT(f->fds[0] >= 0);
}

/* ------------------------------------------------------------------------
 * Pipes
 */

/*
 * read-inc-buf-more, pipe part: one 256-byte INC buffer, reads of len
 * 32. 12 bytes -> res 12, BUFFER | BUF_MORE, the entry advanced by 12
 * in place and still at the head; after the writer closes, EOF -> res 0,
 * still BUFFER | BUF_MORE with bid 0 (the buffer is reported, not
 * consumed: 0 bytes consume nothing), the entry unchanged.
 */
static void pipe_inc_buf_more(struct t_fx *f)
{
	struct t_cqe c;

	if (!t_pipe(f->fds))
		return;
	t_ring_fill(&f->r, f->data, 1, 256, 0);
	if (!t_write_all(f->fds[1], "hello world!", 12) ||
	    !fx_read(f, f->fds[0], 32, &c))
		return;
	EXPECT_BUF_CQE(&c, 12, 0, 1, true);
	EXPECT(!memcmp(f->data, "hello world!", 12));
	EXPECT_EQ((unsigned char)f->data[12], 0xee);
	EXPECT_HEAD(&f->r, 0);
	EXPECT_ENTRY(&f->r, 0, (uintptr_t)f->data + 12, 256 - 12);

	h_close(&f->fds[1]);
	if (!fx_read(f, f->fds[0], 32, &c))
		return;
	EXPECT_BUF_CQE(&c, 0, 0, 1, true);
	EXPECT_HEAD(&f->r, 0);
	EXPECT_ENTRY(&f->r, 0, (uintptr_t)f->data + 12, 256 - 12);
	/* and again: EOF stays EOF and still consumes nothing */
	if (!fx_read(f, f->fds[0], 0, &c))
		return;
	EXPECT_BUF_CQE(&c, 0, 0, 1, true);
	EXPECT_ENTRY(&f->r, 0, (uintptr_t)f->data + 12, 256 - 12);
}

/*
 * On a plain ring a pipe read consumes its entry whatever it read
 * (io_kbuf_commit: head += 1), and so does EOF: res 0 with BUFFER and the
 * bid of the entry it consumed (__io_put_kbufs reports it for reads).
 * Entries are never rewritten.
 */
static void pipe_plain_eof(struct t_fx *f)
{
	struct t_cqe c;

	if (!t_pipe(f->fds))
		return;
	t_ring_fill(&f->r, f->data, 3, 256, 20);
	if (!t_write_pat(f->fds[1], 0, 12) || !fx_read(f, f->fds[0], 0, &c))
		return;
	EXPECT_BUF_CQE(&c, 12, 20, 1, false);
	EXPECT_PAT(f->data, 0, 12);
	EXPECT_HEAD(&f->r, 1);

	h_close(&f->fds[1]);
	if (!fx_read(f, f->fds[0], 0, &c))
		return;
	EXPECT_BUF_CQE(&c, 0, 21, 1, false);
	EXPECT_HEAD(&f->r, 2);
	EXPECT_ENTRY(&f->r, 1, (uintptr_t)f->data + 256, 256);
	EXPECT_EQ((unsigned char)f->data[256], 0xee);
	if (!fx_read(f, f->fds[0], 0, &c))
		return;
	EXPECT_BUF_CQE(&c, 0, 22, 1, false);
	EXPECT_HEAD(&f->r, 3);
	/* the ring is used up now: -ENOBUFS comes before the read */
	if (!fx_read(f, f->fds[0], 0, &c))
		return;
	EXPECT_NOBUF_CQE(&c, -ENOBUFS);
	EXPECT_HEAD(&f->r, 3);
}

/*
 * A read of an empty pipe (or FIFO) waits for data instead of returning
 * -EAGAIN (io_uring arms poll for pollable files): no completion, the
 * ring untouched; the write completes it with the data.
 */
static void read_waits(bool fifo, bool inc, bool nonblock)
{
	char path[64];
	int p[2] = { -1, -1 };
	struct t_cqe c;
	struct t_fx f;

	snprintf(path, sizeof(path), "/tmp/read-fifo.%d", (int)getpid());
	if (!t_fx_init(&f, 2 * 512, 0) ||
	    !t_ring_init(&f.r, f.dev, 2, BGID, inc ? IOPBUF_RING_INC : 0, 0))
		goto out;
	if (fifo) {
		if (!EXPECT(mkfifo(path, 0600) == 0))
			goto out;
		/* O_RDWR on a FIFO never blocks in open() */
		p[0] = open(path, O_RDWR | O_CLOEXEC);
		p[1] = open(path, O_WRONLY | O_CLOEXEC);
		unlink(path);
		if (!EXPECT(p[0] >= 0 && p[1] >= 0))
			goto out;
	} else if (!t_pipe(p)) {
		goto out;
	}
	if (nonblock && !EXPECT(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0))
		goto out;
	t_ring_fill(&f.r, f.data, 2, 512, 0);
	if (!fx_start_read(&f, p[0], 0, 0) || !t_no_cqe(&f.uring))
		goto out;
	EXPECT_EQ(t_ctx_inflight(f.dev), 1);
	EXPECT_HEAD(&f.r, 0);
	EXPECT_ENTRY(&f.r, 0, (uintptr_t)f.data, 512);
	if (!t_write_pat(p[1], 0, 50) || !t_wait(&f.uring, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 50, 0, 1, inc);
	EXPECT_PAT(f.data, 0, 50);
	EXPECT_HEAD(&f.r, inc ? 0 : 1);
	EXPECT_EQ(t_ctx_inflight(f.dev), 0);
out:
	t_close2(p);
	t_fx_fini(&f);
}

/* A case of read_waits() or pipe_bundle(): its name and its values. */
struct row {
	const char	*name;
	bool		fifo;		/* a FIFO, not a pipe */
	bool		inc;		/* an IOPBUF_RING_INC ring */
	bool		nonblock;	/* O_NONBLOCK on the read end */
};

static void waits_row(const void *arg)
{
	const struct row *r = arg;

	read_waits(r->fifo, r->inc, r->nonblock);
}

static const struct row waits_rows[] = {
	{ .name = "pipe_read_waits" },
	{ .name = "pipe_read_waits_inc",	.inc = true },
	{ .name = "fifo_read_waits",		.fifo = true },
	/* O_NONBLOCK on the pipe: the uAPI still promises no -EAGAIN */
	{ .name = "pipe_nonblock_waits",	.nonblock = true },
};

/*
 * IOPBUF_IOC_CANCEL ends a read waiting on an empty pipe with -ECANCELED
 * and no buffer, the ring untouched.
 */
static void pipe_read_cancel(struct t_fx *f)
{
	struct t_cqe c;

	if (!t_pipe(f->fds))
		return;
	t_ring_fill(&f->r, f->data, 1, 512, 0);
	if (!fx_start_read(f, f->fds[0], 0, 0) || !t_no_cqe(&f->uring))
		return;
	EXPECT_EQ(ioctl(f->dev, IOPBUF_IOC_CANCEL), 1);
	if (!t_wait(&f->uring, &c))
		return;
	EXPECT_NOBUF_CQE(&c, -ECANCELED);
	EXPECT_HEAD(&f->r, 0);
	EXPECT_EQ(t_ctx_inflight(f->dev), 0);
}

/*
 * A bundle read from a pipe fills consecutive entries: 300 bytes into
 * 128-byte entries -> bid 0, 3 buffers, head 3 on a plain ring; on an INC
 * ring the third entry keeps its last 84 bytes (BUF_MORE, head 2).
 */
static void pipe_bundle(bool inc)
{
	int p[2] = { -1, -1 };
	struct t_cqe c;
	struct t_fx f;

	if (!t_fx_init(&f, 8 * 128, 0) ||
	    !t_ring_init(&f.r, f.dev, 8, BGID, inc ? IOPBUF_RING_INC : 0, 0) ||
	    !t_pipe(p))
		goto out;
	t_ring_fill(&f.r, f.data, 8, 128, 0);
	if (!t_write_pat(p[1], 0, 300) ||
	    !fx_start_read(&f, p[0], IOPBUF_RECV_BUNDLE, 0) ||
	    !t_wait(&f.uring, &c))
		goto out;
	EXPECT_BUF_CQE(&c, 300, 0, 3, inc);
	EXPECT_PAT(f.data, 0, 300);
	EXPECT_HEAD(&f.r, inc ? 2 : 3);
	if (inc)
		EXPECT_ENTRY(&f.r, 2, (uintptr_t)f.data + 300, 84);
out:
	t_close2(p);
	t_fx_fini(&f);
}

static void bundle_row(const void *arg)
{
	pipe_bundle(((const struct row *)arg)->inc);
}

static const struct row bundle_rows[] = {
	{ .name = "pipe_bundle_plain" },
	{ .name = "pipe_bundle_inc",	.inc = true },
};

/* ------------------------------------------------------------------------
 * Regular files and character devices
 */

/*
 * read-inc-file: a 640-byte file in /tmp, one 64 KiB INC buffer (bid 8)
 * in a 32-entry ring, 4 reads of len 80: each returns 80 bytes in bid 8
 * with BUF_MORE, the data lands back to back (the start of the buffer is
 * not skipped), the ring entry itself advances by 80 each time, and the
 * file position advances with the reads.
 */
static void file_inc_back_to_back(struct t_fx *f)
{
	const unsigned int size = 65536;
	unsigned int i;
	struct t_cqe c;

	f->fds[0] = t_pat_file("read-inc-file", 8 * 80, O_RDONLY);
	if (f->fds[0] < 0)
		return;
	t_ring_fill(&f->r, f->data, 1, size, 8);
	for (i = 0; i < 4; i++) {
		if (!fx_read(f, f->fds[0], 80, &c))
			return;
		if (!EXPECT_BUF_CQE(&c, 80, 8, 1, true))
			return;
		EXPECT_PAT(f->data + 80 * i, 80 * i, 80);
		EXPECT_ENTRY(&f->r, 0, (uintptr_t)f->data + 80 * (i + 1),
			     size - 80 * (i + 1));
		EXPECT_HEAD(&f->r, 0);
		EXPECT_EQ(file_pos(f->fds[0]), 80 * (i + 1));
	}
	EXPECT_EQ((unsigned char)f->data[320], 0xee);
}

/*
 * read-inc-buf-more, file part: a 256-byte file read 4 x 32 bytes into
 * one 256-byte INC buffer: all four completions carry BUF_MORE (the fix
 * for non-pollable files losing it at the early commit) and the entry
 * ends 128 bytes in with 128 left.
 */
static void file_inc_buf_more(struct t_fx *f)
{
	unsigned int i;

	f->fds[0] = t_pat_file("read-inc-more", 256, O_RDONLY);
	if (f->fds[0] < 0)
		return;
	t_ring_fill(&f->r, f->data, 1, 256, 0);
	for (i = 0; i < 4; i++) {
		if (!fx_read_buf(f, f->fds[0], 32, 32, 0, true))
			return;
		EXPECT_PAT(f->data + 32 * i, 32 * i, 32);
	}
	EXPECT_ENTRY(&f->r, 0, (uintptr_t)f->data + 128, 128);
	EXPECT_HEAD(&f->r, 0);
	EXPECT_EQ(file_pos(f->fds[0]), 128);
}

/*
 * A regular file on a plain ring: every read consumes one entry, a short
 * read at the end of the file too, and a read at EOF reports res 0 with
 * the buffer it consumed (committed at selection, as io_uring does for
 * files that cannot be polled).
 */
static void file_plain(struct t_fx *f)
{
	f->fds[0] = t_pat_file("read-plain", 300, O_RDONLY);
	if (f->fds[0] < 0)
		return;
	t_ring_fill(&f->r, f->data, 4, 256, 0);
	if (!fx_read_buf(f, f->fds[0], 0, 256, 0, false))
		return;
	EXPECT_PAT(f->data, 0, 256);
	if (!fx_read_buf(f, f->fds[0], 0, 44, 1, false))
		return;
	EXPECT_PAT(f->data + 256, 256, 44);
	EXPECT_EQ((unsigned char)f->data[256 + 44], 0xee);
	if (!fx_read_buf(f, f->fds[0], 0, 0, 2, false))
		return;
	EXPECT_HEAD(&f->r, 3);
	EXPECT_EQ(file_pos(f->fds[0]), 300);
}

/*
 * Registered-buffer entries work for reads too: a file read into slices
 * of a registered buffer (index 0 at offsets 100 and 5000).
 */
static void file_regbuf(struct t_fx *f)
{
	struct iovec iov;

	iov = (struct iovec){ f->data, f->data_len };
	if (!EXPECT_OK(h_register_iov(f->dev, &iov, 1)) ||
	    !t_ring_init(&f->r, f->dev, 2, BGID, IOPBUF_RING_REGBUF, 0))
		return;
	f->fds[0] = t_pat_file("read-regbuf", 6000, O_RDONLY);
	if (f->fds[0] < 0)
		return;
	t_ring_add(&f->r, iopbuf_regbuf_encode(0, 100), 4000, 1);
	t_ring_add(&f->r, iopbuf_regbuf_encode(0, 5000), 4000, 2);
	t_ring_publish(&f->r);
	if (!fx_read_buf(f, f->fds[0], 0, 4000, 1, false))
		return;
	EXPECT_PAT(f->data + 100, 0, 4000);
	if (!fx_read_buf(f, f->fds[0], 0, 2000, 2, false))
		return;
	EXPECT_PAT(f->data + 5000, 4000, 2000);
	EXPECT_EQ((unsigned char)f->data[7000], 0xee);
	EXPECT_HEAD(&f->r, 2);
}

/*
 * A character device: /dev/zero fills the whole 100-byte entry (len 0)
 * or the command's len, with zeroes, one entry per read.
 */
static void chardev_zero(struct t_fx *f)
{
	if (!fx_open(f, "/dev/zero"))
		return;
	t_ring_add_ptr(&f->r, f->data, 100, 0);
	t_ring_add_ptr(&f->r, f->data + 128, 100, 1);
	t_ring_publish(&f->r);
	if (!fx_read_buf(f, f->fds[0], 0, 100, 0, false))
		return;
	EXPECT(f->data[0] == 0 && f->data[99] == 0);
	EXPECT_EQ((unsigned char)f->data[100], 0xee);
	if (!fx_read_buf(f, f->fds[0], 7, 7, 1, false))
		return;
	EXPECT(f->data[128] == 0 && f->data[134] == 0);
	EXPECT_EQ((unsigned char)f->data[135], 0xee);
	EXPECT_HEAD(&f->r, 2);
}

/*
 * Pollable character devices: /dev/urandom returns the command's len of
 * random bytes at once; a pseudo-terminal in raw mode waits for input
 * like a pipe and then returns what the master wrote.
 */
static void chardev_urandom(struct t_fx *f)
{
	if (!fx_open(f, "/dev/urandom"))
		return;
	t_ring_fill(&f->r, f->data, 1, 256, 0);
	if (!fx_read_buf(f, f->fds[0], 64, 64, 0, false))
		return;
	EXPECT_EQ((unsigned char)f->data[64], 0xee);
	EXPECT_HEAD(&f->r, 1);
}

static void chardev_pty(struct t_fx *f)
{
	struct termios tio;
	struct t_cqe c;

	f->fds[1] = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (!EXPECT(f->fds[1] >= 0) || !EXPECT(grantpt(f->fds[1]) == 0) ||
	    !EXPECT(unlockpt(f->fds[1]) == 0))
		return;
	f->fds[0] = open(ptsname(f->fds[1]), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (!EXPECT(f->fds[0] >= 0) || !EXPECT(tcgetattr(f->fds[0], &tio) == 0))
		return;
	cfmakeraw(&tio);
	if (!EXPECT(tcsetattr(f->fds[0], TCSANOW, &tio) == 0))
		return;
	t_ring_fill(&f->r, f->data, 1, 256, 0);
	if (!fx_start_read(f, f->fds[0], 0, 0) || !t_no_cqe(&f->uring))
		return;
	if (!t_write_pat(f->fds[1], 0, 40) || !t_wait(&f->uring, &c))
		return;
	/* the line discipline may hand over the 40 bytes in pieces */
	if (EXPECT(c.res > 0 && c.res <= 40)) {
		EXPECT_BUF_CQE(&c, c.res, 0, 1, false);
		EXPECT_PAT(f->data, 0, c.res);
	} else {
		h_note("res %s res2 %#llx", h_res(c.res),
		       (unsigned long long)c.res2);
	}
}

/*
 * A file descriptor not open for reading fails with -EBADF (as read(2)
 * and io_read do) and consumes nothing: a regular file opened O_WRONLY,
 * the write end of a pipe. A closed fd is -EBADF too.
 */
static void read_wronly_ebadf(void)
{
	struct t_cmd cmd = { .op = IOPBUF_CMD_READ, .bgid = BGID };
	int p[2] = { -1, -1 }, wr = -1, fds[3];
	char path[64];
	unsigned int i;
	struct t_cqe c;
	struct t_fx f;

	snprintf(path, sizeof(path), "/tmp/read-wronly.%d", (int)getpid());
	if (!t_fx_init(&f, 256, 0) || !t_ring_init(&f.r, f.dev, 1, BGID, 0, 0) ||
	    !t_pipe(p))
		goto out;
	t_ring_fill(&f.r, f.data, 1, 256, 0);
	wr = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	unlink(path);
	if (!EXPECT(wr >= 0) || !t_write_pat(wr, 0, 100) ||
	    !t_write_pat(p[1], 0, 10))
		goto out;
	fds[0] = wr;
	fds[1] = p[1];
	fds[2] = 999;
	for (i = 0; i < 3; i++) {
		cmd.fd = fds[i];
		if (!t_do(&f.uring, f.dev, &cmd, &c))
			goto out;
		if (!EXPECT_NOBUF_CQE(&c, -EBADF))
			h_note("fd %d", fds[i]);
	}
	EXPECT_HEAD(&f.r, 0);
	EXPECT_EQ((unsigned char)f.data[0], 0xee);
	/* the pipe's data is still there */
	EXPECT_EQ(t_sock_queued(p[0]), 10);
out:
	h_close(&wr);
	t_close2(p);
	t_fx_fini(&f);
}

int main(void)
{
	h_init("read");
	signal(SIGPIPE, SIG_IGN);

	RUN_FX(pipe_inc_buf_more, 256, 1, IOPBUF_RING_INC);
	RUN_FX(pipe_plain_eof, 3 * 256, 4, 0);
	RUN_ROWS(waits_row, waits_rows);
	RUN_FX(pipe_read_cancel, 512, 1, 0);
	RUN_ROWS(bundle_row, bundle_rows);

	RUN_FX(file_inc_back_to_back, 65536, 32, IOPBUF_RING_INC);
	RUN_FX(file_inc_buf_more, 256, 1, IOPBUF_RING_INC);
	RUN_FX(file_plain, 4 * 256, 4, 0);
	RUN_FX(file_regbuf, 3 * 4096, 0, 0);
	RUN_FX(chardev_zero, 2 * 128, 2, 0);
	RUN_FX(chardev_urandom, 256, 1, 0);
	RUN_FX(chardev_pty, 256, 1, 0);
	RUN(read_wronly_ebadf);

	RUN(h_case_counters_zero);
	return h_exit();
}
