// SPDX-License-Identifier: GPL-2.0
/*
 * demo: what /dev/iouring-pbuf offers, asked the way an application would.
 *
 * Probes the device through ioctl and through io_uring (IOPBUF_CMD_PROBE),
 * registers a buffer and a provided-buffer ring whose entries name slices
 * of it (registered-buffer encodings), and prints the context's fdinfo.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <liburing.h>
#include <linux/iouring_pbuf.h>

#define BUF_SIZE	(256 * 1024)
#define RING_ENTRIES	16

static int die(const char *what, int err)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(err));
	exit(1);
}

static void print_probe(const char *how, const struct iopbuf_probe *p)
{
	printf("%s: ABI %u, features %#llx, max_bufs %u, max_ring_entries %u, max_bundle %u bufs / %u segs, max_buf_len %llu\n",
	       how, p->abi_version, (unsigned long long)p->features,
	       p->max_bufs, p->max_ring_entries, p->max_bundle_bufs,
	       p->max_bundle_segs, (unsigned long long)p->max_buf_len);
}

/* IOPBUF_CMD_PROBE through io_uring: the data-path entry of the device. */
static void probe_uring(int fd, struct iopbuf_probe *p)
{
	struct iopbuf_cmd_probe cmd = { .addr = (__u64)(uintptr_t)p,
					.len = sizeof(*p) };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		die("io_uring_queue_init", -ret);
	sqe = io_uring_get_sqe(&ring);
	if (!sqe)
		die("io_uring_get_sqe", EBUSY);
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = IOPBUF_CMD_PROBE;
	memcpy(sqe->cmd, &cmd, sizeof(cmd));
	io_uring_submit(&ring);
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret)
		die("io_uring_wait_cqe", -ret);
	if (cqe->res < 0)
		die("IOPBUF_CMD_PROBE", -cqe->res);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
}

static void show_fdinfo(int fd)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		die(path, errno);
	while (fgets(line, sizeof(line), f))
		printf("  %s", line);
	fclose(f);
}

int main(void)
{
	struct iopbuf_ring_reg rreg = { .ring_entries = RING_ENTRIES, .bgid = 1,
					.flags = IOPBUF_RING_REGBUF };
	struct iopbuf_probe p1, p2;
	struct iopbuf_buf_reg breg;
	struct iopbuf_buf *bufs;
	struct iovec iov;
	int fd, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(IOPBUF_DEVICE_PATH, errno);

	if (ioctl(fd, IOPBUF_IOC_PROBE, &p1))
		die("IOPBUF_IOC_PROBE", errno);
	print_probe("ioctl probe", &p1);
	probe_uring(fd, &p2);
	print_probe("io_uring probe", &p2);
	if (memcmp(&p1, &p2, sizeof(p1)))
		die("probe results differ", EPROTO);

	iov.iov_len = BUF_SIZE;
	iov.iov_base = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (iov.iov_base == MAP_FAILED)
		die("mmap buffer", errno);
	breg = (struct iopbuf_buf_reg){ .iovs = (__u64)(uintptr_t)&iov,
					.nr = 1 };
	if (ioctl(fd, IOPBUF_IOC_REGISTER_BUFFERS, &breg))
		die("IOPBUF_IOC_REGISTER_BUFFERS", errno);

	bufs = mmap(NULL, RING_ENTRIES * sizeof(*bufs), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bufs == MAP_FAILED)
		die("mmap ring", errno);
	rreg.ring_addr = (__u64)(uintptr_t)bufs;
	if (ioctl(fd, IOPBUF_IOC_REGISTER_RING, &rreg))
		die("IOPBUF_IOC_REGISTER_RING", errno);

	/* each entry: a 16 KiB slice of registered buffer 0 */
	for (i = 0; i < RING_ENTRIES; i++) {
		bufs[i].addr = iopbuf_regbuf_encode(0, (__u64)i * 16384);
		bufs[i].len = 16384;
		bufs[i].bid = i;
	}
	__atomic_store_n(iopbuf_ring_tail(bufs), RING_ENTRIES,
			 __ATOMIC_RELEASE);

	printf("registered a %d KiB buffer and a %d-entry ring of slices of it:\n",
	       BUF_SIZE / 1024, RING_ENTRIES);
	show_fdinfo(fd);
	close(fd);
	printf("demo: OK\n");
	return 0;
}
