// SPDX-License-Identifier: GPL-2.0
/*
 * huge_len: ring entries whose len is as large as the field allows.
 *
 * Entry lengths are the application's. A transfer must be capped at the
 * kernel's MAX_RW_COUNT, as read(2) is: socket code takes an int, and a
 * 4 GiB entry once reached unix_stream_sendmsg() as length -1 and hit
 * skb_over_panic() (found by tools/fuzz, seed 15835342684176755463).
 * Each case must complete (with bytes or an error), leave the kernel log
 * clean (the guest checks it) and leave no counter behind.
 */
#include <sys/socket.h>

#include "harness.h"

#define PAGE	4096

struct huge_case {
	const char *name;
	__u32 op;
	__u32 len[2];
	__u16 flags;
};

static const struct huge_case cases[] = {
	{ "send_4g", IOPBUF_CMD_SEND, { 0xffffffff, 0 }, 0 },
	{ "send_2g", IOPBUF_CMD_SEND, { 0x80000000, 0 }, 0 },
	{ "send_bundle_2x2g", IOPBUF_CMD_SEND, { 0x7fffffff, 0x7fffffff },
	  IOPBUF_SEND_BUNDLE },
	{ "recv_4g", IOPBUF_CMD_RECV, { 0xffffffff, 0 }, 0 },
	{ "recv_bundle_2x2g", IOPBUF_CMD_RECV, { 0x7fffffff, 0x7fffffff },
	  IOPBUF_RECV_BUNDLE },
};

/* Wait for the completion; cancel a command still waiting after 2 s. */
static int wait_or_cancel(struct io_uring *ring, int dev)
{
	struct __kernel_timespec ts = { .tv_sec = 2 };
	struct io_uring_cqe *cqe;
	int ret, res;

	ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	if (ret == -ETIME) {
		ioctl(dev, IOPBUF_IOC_CANCEL);
		ts.tv_sec = h_hang_ms() / 1000;
		ret = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
	}
	if (ret)
		return ret;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static void run_case(const struct huge_case *c)
{
	struct iopbuf_ring_reg reg = { .ring_entries = 8, .bgid = 0 };
	union {
		struct iopbuf_cmd_send send;
		struct iopbuf_cmd_recv recv;
	} cmd = { { 0 } };
	struct iopbuf_buf *bufs;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int dev = -1, sv[2] = { -1, -1 }, res;
	unsigned int n;
	char *mem;

	mem = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (!EXPECT(mem != MAP_FAILED))
		return;
	memset(mem + PAGE, 'h', 2 * PAGE);
	bufs = (struct iopbuf_buf *)mem;
	reg.ring_addr = (uintptr_t)mem;
	dev = h_open();
	if (dev < 0 || !EXPECT_OK(ioctl(dev, IOPBUF_IOC_REGISTER_RING, &reg) ?
				  -errno : 0) ||
	    !EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) ? -errno : 0) ||
	    !h_uring_init(&ring, IORING_SETUP_CQE32))
		goto out;

	for (n = 0; n < 2 && c->len[n]; n++) {
		bufs[n].addr = (uintptr_t)mem + PAGE;
		bufs[n].len = c->len[n];
		bufs[n].bid = n;
	}
	__atomic_store_n(iopbuf_ring_tail(bufs), n, __ATOMIC_RELEASE);
	if (c->op == IOPBUF_CMD_RECV) {
		cmd.recv.fd = sv[0];
		cmd.recv.flags = c->flags;
		EXPECT_EQ(write(sv[1], "0123456789", 10), 10);
	} else {
		cmd.send.fd = sv[0];
		cmd.send.flags = c->flags;
	}
	sqe = h_prep_cmd(&ring, dev, c->op, &cmd, sizeof(cmd), 1);
	if (EXPECT(sqe) && EXPECT_EQ(io_uring_submit(&ring), 1)) {
		res = wait_or_cancel(&ring, dev);
		h_note("res %d", res);
		/* a completion, not a hang; a receive gets the 10 bytes */
		EXPECT(res != -ETIME);
		if (c->op == IOPBUF_CMD_RECV)
			EXPECT_EQ(res, 10);
	}
	io_uring_queue_exit(&ring);
out:
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	h_close(&dev);
	munmap(mem, 3 * PAGE);
}

static const struct huge_case *cur;

static void case_fn(void)
{
	run_case(cur);
}

int main(void)
{
	unsigned int i;

	h_init("huge_len");
	for (i = 0; i < H_ARRAY_SIZE(cases); i++) {
		cur = &cases[i];
		h_run(cases[i].name, case_fn);
	}
	h_run("counters_zero", h_case_counters_zero);
	return h_exit();
}
