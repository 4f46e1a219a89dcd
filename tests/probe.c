// SPDX-License-Identifier: GPL-2.0
/*
 * probe: the device node, contexts, the probe (ioctl and uring_cmd), the
 * statistics ioctl, fdinfo and command dispatch errors.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "harness.h"

/*
 * The features issues #2 and #3 deliver (probe, registered buffers, rings);
 * later features add bits of their own.
 */
#define BASE_FEATURES	(IOPBUF_FEAT_PROBE_CMD | IOPBUF_FEAT_REGBUF |	\
			 IOPBUF_FEAT_RING | IOPBUF_FEAT_RING_MMAP |	\
			 IOPBUF_FEAT_RING_INC | IOPBUF_FEAT_RING_REGBUF |	\
			 IOPBUF_FEAT_STATS)

/* The limits module/ compiles in (include/pbuf.h, include/pbuf_logic.h). */
#define MODULE_MAX_BUNDLE_BUFS	256
#define MODULE_MAX_BUNDLE_SEGS	1024
#define MODULE_MAX_BUF_LEN	(1ULL << 36)

#define PROBE_SIZE	sizeof(struct iopbuf_probe)

/* A user-space pointer that is certainly a kernel address. */
#define KERNEL_ADDR	0xffff888000000000ULL

static bool probe_ioctl_ok(int fd, struct iopbuf_probe *p)
{
	return EXPECT_OK(h_probe(fd, p));
}

/* Is @len bytes at @p all @byte? */
static bool all_bytes(const void *p, size_t len, unsigned char byte)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i] != byte)
			return false;
	return true;
}

/* ------------------------------------------------------------------------
 * The device and its contexts
 */

/*
 * main.c registers a misc device "iouring-pbuf" with mode 0666 by default
 * (like /dev/net/tun): the node is a character device with that mode.
 */
static void device_node(void)
{
	struct stat st;

	if (!EXPECT(stat(IOPBUF_DEVICE_PATH, &st) == 0))
		return;
	EXPECT(S_ISCHR(st.st_mode));
	EXPECT_EQ(st.st_mode & 07777, 0666);
	EXPECT_EQ(major(st.st_rdev), 10);	/* MISC_MAJOR */
}

/* Each open() creates one context (sysfs "contexts"); close() frees it. */
static void open_counts_contexts(void)
{
	long base = h_sysfs_read("contexts");
	int fd1 = h_open(), fd2 = h_open();

	if (fd1 < 0 || fd2 < 0)
		goto out;
	EXPECT_EQ(h_sysfs_read("contexts"), base + 2);
	h_close(&fd1);
	EXPECT_EQ(h_sysfs_read("contexts"), base + 1);
	h_close(&fd2);
	EXPECT_EQ(h_sysfs_read("contexts"), base);
out:
	h_close(&fd1);
	h_close(&fd2);
}

/*
 * "Every open file description is an independent context": a table and a
 * ring registered through one fd are invisible through another.
 */
static void contexts_independent(void)
{
	char *mem = h_map(2 * H_PAGE);
	struct iovec iov = { mem, 100 };
	int a = h_open(), b = h_open();

	if (a < 0 || b < 0 || !mem)
		goto out;
	if (!EXPECT_OK(h_register_iov(a, &iov, 1)) ||
	    !EXPECT_OK(h_register_ring(a, mem + H_PAGE, 8, 1, 0, 0)))
		goto out;
	EXPECT_STATS(a, 1, 1, 1, 2, 0);
	EXPECT_STATS(b, 0, 0, 0, 0, 0);
	EXPECT_FDINFO_LINE(b, "buf_slots:\t0");
	EXPECT_FDINFO_LINE(b, "pinned_pages:\t0");
	/* b has no table and no ring of its own */
	EXPECT_ERR(h_unregister_bufs(b), ENXIO);
	EXPECT_ERR(h_update_iov(b, 0, &iov, 1), ENXIO);
	EXPECT_ERR(h_ring_status(b, 1, NULL), ENOENT);
	EXPECT_ERR(h_unregister_ring(b, 1), ENOENT);
	/* b may register the same memory and bgid independently */
	EXPECT_OK(h_register_iov(b, &iov, 1));
	EXPECT_OK(h_register_ring(b, mem + H_PAGE, 8, 1, 0, 0));
	/* closing a leaves b intact */
	h_close(&a);
	EXPECT_STATS(b, 1, 1, 1, 2, 0);
	EXPECT_OK(h_ring_status(b, 1, NULL));
out:
	h_close(&a);
	h_close(&b);
	h_unmap(mem, 2 * H_PAGE);
}

/*
 * A context belongs to the open file description, not the fd: a dup()
 * shares it, and it is released only with the last reference.
 */
static void dup_shares_context(void)
{
	long base = h_sysfs_read("contexts");
	char *mem = h_map(H_PAGE);
	struct iovec iov = { mem, H_PAGE };
	int fd = h_open(), fd2 = -1;

	if (fd < 0 || !mem)
		goto out;
	fd2 = dup(fd);
	if (!EXPECT(fd2 >= 0))
		goto out;
	EXPECT_OK(h_register_iov(fd, &iov, 1));
	EXPECT_STATS(fd2, 1, 1, 0, 1, 0);
	EXPECT_EQ(h_sysfs_read("contexts"), base + 1);
	h_close(&fd);
	/* still alive through fd2 */
	EXPECT_EQ(h_sysfs_read("contexts"), base + 1);
	EXPECT_STATS(fd2, 1, 1, 0, 1, 0);
	EXPECT_OK(h_unregister_bufs(fd2));
	h_close(&fd2);
	EXPECT_EQ(h_sysfs_read("contexts"), base);
out:
	h_close(&fd);
	h_close(&fd2);
	h_unmap(mem, H_PAGE);
}

/* ------------------------------------------------------------------------
 * IOPBUF_IOC_PROBE
 */

/*
 * The probe fills every field: ABI 1, the feature bits of registered
 * buffers and rings (and no bit beyond the 16 the header has room to
 * define soon), the module's limits, zero reserved fields.
 */
static void ioctl_probe_fields(void)
{
	struct iopbuf_probe p;
	int fd = h_open();

	if (fd < 0 || !probe_ioctl_ok(fd, &p))
		goto out;
	EXPECT_EQ(p.abi_version, IOPBUF_ABI_VERSION);
	EXPECT_EQ(p.flags, 0);
	EXPECT_EQ(p.features & BASE_FEATURES, BASE_FEATURES);
	EXPECT_EQ(p.features >> 16, 0);
	h_note("features %#llx", (unsigned long long)p.features);
	EXPECT_EQ(p.max_bufs, 1U << 20);
	EXPECT_EQ(p.max_bufs, IOPBUF_MAX_BUFS);
	EXPECT_EQ(p.max_ring_entries, 32768);
	EXPECT_EQ(p.max_ring_entries, IOPBUF_MAX_RING_ENTRIES);
	EXPECT_EQ(p.max_bundle_bufs, MODULE_MAX_BUNDLE_BUFS);
	EXPECT_EQ(p.max_bundle_segs, MODULE_MAX_BUNDLE_SEGS);
	EXPECT_EQ(p.max_buf_len, MODULE_MAX_BUF_LEN);
	/* every buffer length must be encodable as a regbuf offset */
	EXPECT(p.max_buf_len <= IOPBUF_REGBUF_MAX_OFFSET);
	EXPECT_EQ(p.resv[0], 0);
	EXPECT_EQ(p.resv[1], 0);
	EXPECT_EQ(p.resv[2], 0);
out:
	h_close(&fd);
}

/* The probe's output pointer is checked: -EFAULT, nothing else happens. */
static void ioctl_probe_efault(void)
{
	char *ro = mmap(NULL, H_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	char *edge = h_edge();
	int fd = h_open();

	if (fd < 0 || ro == MAP_FAILED || !edge)
		goto out;
	EXPECT_ERR(h_ioctl(fd, IOPBUF_IOC_PROBE, NULL), EFAULT);
	EXPECT_ERR(h_ioctl(fd, IOPBUF_IOC_PROBE, ro), EFAULT);
	EXPECT_ERR(h_ioctl(fd, IOPBUF_IOC_PROBE, (void *)KERNEL_ADDR), EFAULT);
	/* the struct straddles into an unmapped page */
	EXPECT_ERR(h_ioctl(fd, IOPBUF_IOC_PROBE, edge + H_PAGE - 8), EFAULT);
	EXPECT_OK(h_ioctl(fd, IOPBUF_IOC_PROBE, edge + H_PAGE - PROBE_SIZE));
out:
	h_close(&fd);
	h_munmap(ro, H_PAGE);
}

/*
 * ioctl numbers must match exactly (type, nr, direction and size): the
 * VFS convention for unknown commands is -ENOTTY.
 */
static void ioctl_unknown_enotty(void)
{
	struct { char b[128]; } big;
	struct iopbuf_probe p;
	int fd = h_open();

	if (fd < 0)
		return;
	memset(&big, 0, sizeof(big));
	/* our type byte, unused nr */
	EXPECT_ERR(h_ioctl(fd, _IO(IOPBUF_IOC_MAGIC, 0x3f), NULL), ENOTTY);
	EXPECT_ERR(h_ioctl(fd, _IOR(IOPBUF_IOC_MAGIC, 0x3e, struct iopbuf_probe), &p),
		   ENOTTY);
	/* the probe's nr with another size or direction */
	EXPECT_ERR(h_ioctl(fd, _IOR(IOPBUF_IOC_MAGIC, 0x00, big), &big), ENOTTY);
	EXPECT_ERR(h_ioctl(fd, _IOW(IOPBUF_IOC_MAGIC, 0x00, struct iopbuf_probe), &p),
		   ENOTTY);
	/* another type byte with the probe's nr and size */
	EXPECT_ERR(h_ioctl(fd, _IOR(IOPBUF_IOC_MAGIC - 1, 0x00, struct iopbuf_probe), &p),
		   ENOTTY);
	/* a uring_cmd number is not an ioctl */
	EXPECT_ERR(h_ioctl(fd, IOPBUF_CMD_PROBE, &p), ENOTTY);
	h_close(&fd);
}

/* ------------------------------------------------------------------------
 * IOPBUF_IOC_STATS and fdinfo
 */

/* A fresh context has all-zero statistics; reserved fields are written. */
static void stats_fresh(void)
{
	int fd = h_open();

	if (fd < 0)
		return;
	EXPECT_STATS(fd, 0, 0, 0, 0, 0);
	EXPECT_ERR(h_ioctl(fd, IOPBUF_IOC_STATS, NULL), EFAULT);
	EXPECT_ERR(h_ioctl(fd, IOPBUF_IOC_STATS, (void *)KERNEL_ADDR), EFAULT);
	h_close(&fd);
}

/*
 * /proc/self/fdinfo/N of the device shows the context's counters, one
 * "name:\tvalue" line each, and follows registrations.
 */
static void fdinfo_counters(void)
{
	char *mem = h_map(3 * H_PAGE);
	struct iovec iov[2] = { { mem, 10 }, { mem + 100, 2 * H_PAGE } };
	int fd = h_open();

	if (fd < 0 || !mem)
		goto out;
	EXPECT_FDINFO_LINE(fd, "pinned_pages:\t0");
	EXPECT_FDINFO_LINE(fd, "charged_pages:\t0");
	EXPECT_FDINFO_LINE(fd, "inflight:\t0");
	EXPECT_FDINFO_LINE(fd, "buf_slots:\t0");
	EXPECT_FDINFO_LINE(fd, "bufs:\t0");
	if (!EXPECT_OK(h_register_iov(fd, iov, 2)))
		goto out;
	/* 1 page + 3 pages (100 + 8192 bytes cross two page boundaries) */
	EXPECT_FDINFO_LINE(fd, "pinned_pages:\t4");
	EXPECT_FDINFO_LINE(fd, "charged_pages:\t0");
	EXPECT_FDINFO_LINE(fd, "buf_slots:\t2");
	EXPECT_FDINFO_LINE(fd, "bufs:\t2");
out:
	h_close(&fd);
	h_unmap(mem, 3 * H_PAGE);
}

/* ------------------------------------------------------------------------
 * IOPBUF_CMD_PROBE through io_uring
 */

/* Issue IOPBUF_CMD_PROBE writing to @addr with @len; returns cqe->res. */
static int cmd_probe(struct io_uring *ring, int fd, void *addr, __u32 len,
		     __u32 resv)
{
	struct iopbuf_cmd_probe cmd = {
		.addr = (uintptr_t)addr,
		.len = len,
		.resv = resv,
	};

	return h_uring_cmd(ring, fd, IOPBUF_CMD_PROBE, &cmd, sizeof(cmd));
}

/*
 * IORING_OP_URING_CMD with cmd_op IOPBUF_CMD_PROBE and the 16-byte
 * payload in sqe->cmd: cqe->res is the size written and the content is
 * the ioctl's, byte for byte. A longer buffer is written only up to
 * sizeof(struct iopbuf_probe).
 */
static void uring_probe_matches_ioctl(void)
{
	unsigned char out[2 * PROBE_SIZE];
	struct iopbuf_probe ref;
	struct io_uring ring;
	int fd = h_open(), res;

	if (fd < 0 || !probe_ioctl_ok(fd, &ref) || !h_uring_init(&ring, 0))
		goto out;
	memset(out, 0xa5, sizeof(out));
	res = cmd_probe(&ring, fd, out, PROBE_SIZE, 0);
	EXPECT_EQ(res, PROBE_SIZE);
	EXPECT(!memcmp(out, &ref, PROBE_SIZE));
	EXPECT(all_bytes(out + PROBE_SIZE, PROBE_SIZE, 0xa5));

	memset(out, 0xa5, sizeof(out));
	res = cmd_probe(&ring, fd, out, sizeof(out), 0);
	EXPECT_EQ(res, PROBE_SIZE);
	EXPECT(!memcmp(out, &ref, PROBE_SIZE));
	EXPECT(all_bytes(out + PROBE_SIZE, PROBE_SIZE, 0xa5));
	io_uring_queue_exit(&ring);
out:
	h_close(&fd);
}

/* Each PROBE command of @bad (len, resv) -> -EINVAL, nothing written. */
static void expect_probes_rejected(const unsigned int (*bad)[2], size_t n)
{
	unsigned char out[PROBE_SIZE];
	struct io_uring ring;
	int fd = h_open();
	size_t i;

	if (fd < 0 || !h_uring_init(&ring, 0))
		goto out;
	memset(out, 0xa5, sizeof(out));
	for (i = 0; i < n; i++)
		EXPECT_ERR(cmd_probe(&ring, fd, out, bad[i][0], bad[i][1]), EINVAL);
	EXPECT(all_bytes(out, sizeof(out), 0xa5));
	io_uring_queue_exit(&ring);
out:
	h_close(&fd);
}

/* @len below sizeof(struct iopbuf_probe) -> -EINVAL, nothing written. */
static void uring_probe_short_len(void)
{
	static const unsigned int bad[][2] = {
		{ PROBE_SIZE - 1, 0 }, { 1, 0 }, { 0, 0 },
	};

	expect_probes_rejected(bad, H_ARRAY_SIZE(bad));
}

/* A non-zero reserved field -> -EINVAL, nothing written. */
static void uring_probe_resv(void)
{
	static const unsigned int bad[][2] = {
		{ PROBE_SIZE, 1 }, { PROBE_SIZE, 0x80000000u },
	};

	expect_probes_rejected(bad, H_ARRAY_SIZE(bad));
}

/* An unwritable @addr -> -EFAULT (NULL, unmapped, read-only, kernel). */
static void uring_probe_efault(void)
{
	char *ro = mmap(NULL, H_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	void *hole = h_hole(H_PAGE);
	struct io_uring ring;
	int fd = h_open();

	if (fd < 0 || ro == MAP_FAILED || !hole || !h_uring_init(&ring, 0))
		goto out;
	EXPECT_ERR(cmd_probe(&ring, fd, NULL, PROBE_SIZE, 0), EFAULT);
	EXPECT_ERR(cmd_probe(&ring, fd, hole, PROBE_SIZE, 0), EFAULT);
	EXPECT_ERR(cmd_probe(&ring, fd, ro, PROBE_SIZE, 0), EFAULT);
	EXPECT_ERR(cmd_probe(&ring, fd, (void *)KERNEL_ADDR, PROBE_SIZE, 0),
		   EFAULT);
	io_uring_queue_exit(&ring);
out:
	h_close(&fd);
	h_munmap(ro, H_PAGE);
}

/*
 * Unknown commands fail with -EOPNOTSUPP: another type byte, our type
 * with unused nrs, the probe's nr with another size or direction, an
 * ioctl number, 0 and ~0.
 */
static void uring_unknown_cmd_op(void)
{
	static const __u32 ops[] = {
		_IOWR('X', 0x40, struct iopbuf_cmd_probe),
		_IOWR(IOPBUF_IOC_MAGIC, 0x7f, struct iopbuf_cmd_probe),
		_IOWR(IOPBUF_IOC_MAGIC, 0x3f, struct iopbuf_cmd_probe),
		_IOWR(IOPBUF_IOC_MAGIC, 0x00, struct iopbuf_cmd_probe),
		_IOWR(IOPBUF_IOC_MAGIC, 0x40, struct iopbuf_probe),
		_IOR(IOPBUF_IOC_MAGIC, 0x40, struct iopbuf_cmd_probe),
		IOPBUF_IOC_PROBE,
		0,
		~0U,
	};
	unsigned char out[PROBE_SIZE];
	struct iopbuf_cmd_probe cmd = {
		.addr = (uintptr_t)out,
		.len = sizeof(out),
	};
	struct io_uring ring;
	int fd = h_open();
	unsigned int i;

	if (fd < 0 || !h_uring_init(&ring, 0))
		goto out;
	memset(out, 0xa5, sizeof(out));
	for (i = 0; i < H_ARRAY_SIZE(ops); i++) {
		int res = h_uring_cmd(&ring, fd, ops[i], &cmd, sizeof(cmd));

		if (!EXPECT_ERR(res, EOPNOTSUPP))
			h_note("cmd_op %#x", ops[i]);
	}
	EXPECT(all_bytes(out, sizeof(out), 0xa5));
	io_uring_queue_exit(&ring);
out:
	h_close(&fd);
}

/* With IORING_SETUP_SQE128 (80-byte sqe->cmd) the same payload works. */
static void uring_sqe128(void)
{
	unsigned char out[PROBE_SIZE];
	struct iopbuf_probe ref;
	struct io_uring ring;
	int fd = h_open();

	if (fd < 0 || !probe_ioctl_ok(fd, &ref) ||
	    !h_uring_init(&ring, IORING_SETUP_SQE128))
		goto out;
	memset(out, 0xa5, sizeof(out));
	EXPECT_EQ(cmd_probe(&ring, fd, out, PROBE_SIZE, 0), PROBE_SIZE);
	EXPECT(!memcmp(out, &ref, PROBE_SIZE));
	EXPECT_ERR(cmd_probe(&ring, fd, out, PROBE_SIZE, 7), EINVAL);
	io_uring_queue_exit(&ring);
out:
	h_close(&fd);
}

/*
 * Submit a probe writing to @out, queued behind @first (already prepared,
 * user_data 1), then rewrite the consumed SQ slot with a bad payload
 * pointing at @other before the command is issued. Returns the
 * command's cqe->res.
 */
static int probe_then_rewrite(struct io_uring *ring, int fd, void *out,
			      void *other, unsigned int sqe_flags)
{
	struct iopbuf_cmd_probe cmd = {
		.addr = (uintptr_t)out,
		.len = PROBE_SIZE,
	};
	struct iopbuf_cmd_probe bad = {
		.addr = (uintptr_t)other,
		.len = 1,
		.resv = 1,
	};
	struct io_uring_sqe *sqe;
	int i, ret, res = -ETIME;

	sqe = h_prep_cmd(ring, fd, IOPBUF_CMD_PROBE, &cmd, sizeof(cmd), 2);
	sqe->flags |= sqe_flags;
	ret = io_uring_submit(ring);
	if (!EXPECT(ret >= 1))
		return -EIO;
	/* the application reuses the SQE memory right after submit */
	memcpy((unsigned char *)sqe + offsetof(struct io_uring_sqe, cmd),
	       &bad, sizeof(bad));
	sqe->cmd_op = IOPBUF_IOC_PROBE;

	for (i = 0; i < ret; i++) {
		__u64 ud = 0;
		int r = h_wait_cqe(ring, &ud);

		if (ud == 1)
			EXPECT_ERR(r, ETIME);
		else if (EXPECT_EQ(ud, 2))
			res = r;
	}
	return res;
}

/*
 * "a command that waits in a link chain ... keep such an SQE unchanged
 * until the command completes (or add IOSQE_ASYNC, which makes io_uring
 * copy it at submission)". Here (@behind_timeout) the command is
 * hard-linked behind a 100 ms timeout, so it is issued long after submit
 * returned, with IOSQE_ASYNC as the header says, and the SQ slot is
 * rewritten meanwhile with a bad payload pointing elsewhere: the command
 * must see the original payload. (Without IOSQE_ASYNC, 6.12 reads the SQ
 * ring at issue time and the rewrite wins: the header documents it.)
 */
static void payload_stable(bool behind_timeout)
{
	struct __kernel_timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
	unsigned char out[PROBE_SIZE], other[PROBE_SIZE];
	struct io_uring_sqe *sqe;
	struct iopbuf_probe ref;
	struct io_uring ring;
	int fd = h_open();

	if (fd < 0 || !probe_ioctl_ok(fd, &ref) || !h_uring_init(&ring, 0))
		goto out;
	memset(out, 0xa5, sizeof(out));
	memset(other, 0xa5, sizeof(other));
	if (behind_timeout) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_timeout(sqe, &ts, 0, 0);
		sqe->flags |= IOSQE_IO_HARDLINK;
		sqe->user_data = 1;
	}
	EXPECT_EQ(probe_then_rewrite(&ring, fd, out, other, IOSQE_ASYNC),
		  PROBE_SIZE);
	EXPECT(!memcmp(out, &ref, PROBE_SIZE));
	EXPECT(all_bytes(other, sizeof(other), 0xa5));
	io_uring_queue_exit(&ring);
out:
	h_close(&fd);
}

static void uring_payload_stable_linked(void)
{
	payload_stable(true);
}

/* IOSQE_ASYNC alone: the command is issued from io-wq. */
static void uring_payload_stable_async(void)
{
	payload_stable(false);
}

/*
 * A successful probe is a success for io_uring: the request linked behind
 * it (IOSQE_IO_LINK) runs instead of being cancelled. (The command's
 * positive result must reach io_uring as a completion, not as an error.)
 */
static void uring_probe_link_chain(void)
{
	unsigned char out[PROBE_SIZE];
	struct iopbuf_cmd_probe cmd = {
		.addr = (uintptr_t)out,
		.len = PROBE_SIZE,
	};
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int fd = h_open(), i;

	if (fd < 0 || !h_uring_init(&ring, 0))
		goto out;
	sqe = h_prep_cmd(&ring, fd, IOPBUF_CMD_PROBE, &cmd, sizeof(cmd), 1);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->user_data = 2;
	if (!EXPECT_EQ(io_uring_submit(&ring), 2))
		goto exit;
	for (i = 0; i < 2; i++) {
		__u64 ud = 0;
		int res = h_wait_cqe(&ring, &ud);

		if (ud == 1)
			EXPECT_EQ(res, PROBE_SIZE);
		else if (EXPECT_EQ(ud, 2))
			EXPECT_ERR(res, 0);
	}
exit:
	io_uring_queue_exit(&ring);
out:
	h_close(&fd);
}

/* Several probes in one submission complete independently. */
static void uring_batch(void)
{
	unsigned char out[8][PROBE_SIZE];
	struct iopbuf_probe ref;
	struct io_uring ring;
	unsigned int seen = 0;
	int fd = h_open(), i;

	if (fd < 0 || !probe_ioctl_ok(fd, &ref) || !h_uring_init(&ring, 0))
		goto out;
	memset(out, 0xa5, sizeof(out));
	for (i = 0; i < 8; i++) {
		struct iopbuf_cmd_probe cmd = {
			.addr = (uintptr_t)out[i],
			.len = PROBE_SIZE,
			.resv = i == 5,		/* one bad command */
		};

		h_prep_cmd(&ring, fd, IOPBUF_CMD_PROBE, &cmd, sizeof(cmd), i);
	}
	if (!EXPECT_EQ(io_uring_submit(&ring), 8))
		goto exit;
	for (i = 0; i < 8; i++) {
		__u64 ud = 99;
		int res = h_wait_cqe(&ring, &ud);

		if (!EXPECT(ud < 8))
			continue;
		seen |= 1U << ud;
		if (ud == 5)
			EXPECT_ERR(res, EINVAL);
		else
			EXPECT_EQ(res, PROBE_SIZE);
	}
	EXPECT_EQ(seen, 0xff);
	for (i = 0; i < 8; i++) {
		if (i == 5)
			EXPECT(all_bytes(out[i], PROBE_SIZE, 0xa5));
		else
			EXPECT(!memcmp(out[i], &ref, PROBE_SIZE));
	}
exit:
	io_uring_queue_exit(&ring);
out:
	h_close(&fd);
}

/* ------------------------------------------------------------------------
 * 32-bit (compat) ioctl
 */

static sigjmp_buf ia32_jmp;

static void ia32_sigsegv(int sig)
{
	(void)sig;
	siglongjmp(ia32_jmp, 1);
}

/* ioctl(2) through the ia32 entry (int $0x80, __NR_ioctl = 54). */
static long ia32_ioctl_raw(int fd, unsigned int cmd, uint32_t arg)
{
	long ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "0"(54L), "b"((long)fd), "c"((long)cmd),
			   "d"((long)arg)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

/*
 * ioctl(2) as a 32-bit process issues it: through int $0x80, which takes
 * the kernel's ia32 syscall path (in_compat_syscall() is true), with a
 * pointer below 4 GiB. Returns false, with the case skipped, when this
 * kernel has no ia32 entry.
 */
static bool ia32_ioctl(int fd, unsigned int cmd, const void *arg, long *ret)
{
	struct sigaction sa = { .sa_handler = ia32_sigsegv }, old;
	bool ok = true;

	if (!EXPECT((uintptr_t)arg < (1ULL << 32)))
		return false;
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(ia32_jmp, 1)) {
		h_skip("int $0x80 faulted: ia32 emulation disabled");
		ok = false;
	} else {
		*ret = ia32_ioctl_raw(fd, cmd, (uint32_t)(uintptr_t)arg);
		if (*ret == -ENOSYS) {
			h_skip("no ia32 syscall entry (ENOSYS)");
			ok = false;
		}
	}
	sigaction(SIGSEGV, &old, NULL);
	return ok;
}

/* Memory a 32-bit process could address (below 2 GiB). */
static void *map_32bit(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (p == MAP_FAILED) {
		FAILF("mmap(MAP_32BIT): %s", strerror(errno));
		return NULL;
	}
	memset(p, 0, len);
	return p;
}

/*
 * The structures are laid out for 32-bit userspace too (__u64 for
 * pointers, explicit padding, the header builds as C99), so a 32-bit
 * process must be able to probe: compat_ioctl must be wired up.
 */
static void compat_ioctl_probe(void)
{
	struct iopbuf_probe ref, *p = map_32bit(H_PAGE);
	int fd = h_open();
	long ret;

	if (fd < 0 || !p || !probe_ioctl_ok(fd, &ref))
		goto out;
	memset(p, 0xa5, sizeof(*p));
	if (ia32_ioctl(fd, IOPBUF_IOC_PROBE, p, &ret) && EXPECT_OK(ret))
		EXPECT(!memcmp(p, &ref, sizeof(ref)));
out:
	h_unmap(p, H_PAGE);
	h_close(&fd);
}

/*
 * A 32-bit process registers buffers with its own struct iovec (two
 * 32-bit words): the module must read that layout in a compat syscall.
 */
static void compat_register_buffers(void)
{
	struct compat_iovec { uint32_t base, len; } *iov;
	struct iopbuf_buf_reg *reg;
	char *mem = map_32bit(4 * H_PAGE), *buf;
	struct iopbuf_stats st;
	int fd = h_open();
	long ret;

	if (fd < 0 || !mem)
		goto out;
	reg = (struct iopbuf_buf_reg *)mem;
	iov = (struct compat_iovec *)(mem + 256);
	buf = mem + 2 * H_PAGE;
	iov[0] = (struct compat_iovec){ (uint32_t)(uintptr_t)(buf + 100), 200 };
	iov[1] = (struct compat_iovec){ 0, 0 };
	iov[2] = (struct compat_iovec){ (uint32_t)(uintptr_t)(buf + H_PAGE), H_PAGE };
	*reg = (struct iopbuf_buf_reg){ .iovs = (uintptr_t)iov, .nr = 3 };
	if (!ia32_ioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS, reg, &ret) ||
	    !EXPECT_OK(ret))
		goto out;
	EXPECT_STATS(fd, 3, 2, 0, 2, 0);
	EXPECT_FDINFO_LINE(fd, "  buf 0: 0x%llx len 200 segs 1 pinned 1",
			   (unsigned long long)(uintptr_t)(buf + 100));
	EXPECT_FDINFO_LINE(fd, "  buf 2: 0x%llx len 4096 segs 1 pinned 1",
			   (unsigned long long)(uintptr_t)(buf + H_PAGE));
	/* and the statistics read back through the compat path */
	memset(mem + H_PAGE, 0xa5, sizeof(st));
	if (ia32_ioctl(fd, IOPBUF_IOC_STATS, mem + H_PAGE, &ret) &&
	    EXPECT_OK(ret) && EXPECT_OK(h_stats(fd, &st)))
		EXPECT(!memcmp(mem + H_PAGE, &st, sizeof(st)));
out:
	h_unmap(mem, 4 * H_PAGE);
	h_close(&fd);
}

int main(void)
{
	h_init("probe");
	RUN(device_node);
	RUN(open_counts_contexts);
	RUN(contexts_independent);
	RUN(dup_shares_context);
	RUN(ioctl_probe_fields);
	RUN(ioctl_probe_efault);
	RUN(ioctl_unknown_enotty);
	RUN(stats_fresh);
	RUN(fdinfo_counters);
	RUN(uring_probe_matches_ioctl);
	RUN(uring_probe_short_len);
	RUN(uring_probe_resv);
	RUN(uring_probe_efault);
	RUN(uring_unknown_cmd_op);
	RUN(uring_sqe128);
	RUN(uring_batch);
	RUN(uring_probe_link_chain);
	RUN(uring_payload_stable_linked);
	RUN(compat_ioctl_probe);
	RUN(compat_register_buffers);
	/* last: on a kernel where it leaks the request, the context leaks too */
	RUN(uring_payload_stable_async);
	h_run("counters_zero", h_case_counters_zero);
	return h_exit();
}
