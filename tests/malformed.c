// SPDX-License-Identifier: GPL-2.0
/*
 * malformed: a table of malformed inputs, one case per row, covering every
 * field of the setup structures (struct iopbuf_buf_reg and its iovecs,
 * iopbuf_ring_reg for register and unregister, iopbuf_ring_status), the
 * output pointers of PROBE and STATS, unknown commands, and the payloads
 * of IOPBUF_CMD_PROBE and IOPBUF_CMD_RECV/READ (the rows that fail before
 * any data could be waited for). Each row runs on a fresh context, after
 * an optional precondition (a buffer table or a ring), and must fail with
 * its errno and change nothing: the context's statistics and the
 * module-wide pinned and charged pages are the same afterwards, a
 * precondition ring is still registered, a failed buffer command names
 * no buffer.
 */
#include <sys/socket.h>

#include "harness.h"

#define KERNEL_ADDR	0xffff888000000000ULL
#define MAX_BUF_LEN	(1ULL << 36)	/* probe.max_buf_len (checked below) */

enum via { IOCTL, URING, URING32 };	/* URING32: IORING_SETUP_CQE32 */
enum pre {
	PRE_NONE,
	PRE_TABLE,	/* 4 slots, slot 0 holds one page */
	PRE_RING,	/* a 256-entry user ring, bgid 1 */
};

/* Memory every row may point into, set up once. */
static struct {
	char *buf;		/* 4 pages, read-write */
	char *ro;		/* a read-only page */
	char *none;		/* a PROT_NONE page */
	char *hole;		/* nothing mapped (H_HOLE_ADDR) */
	char *edge;		/* the mapped page just below the hole */
	char *ring;		/* a page for the PRE_RING ring */
	struct iopbuf_ring_status *ro_status;	/* {bgid 1}, read-only */
	int sock;		/* one end of a socketpair, nothing to read */
	int pipe_r, pipe_w;	/* an empty pipe */
	struct io_uring uring;
	struct io_uring uring32;
} E;

/* A row's argument: the structure, its iovecs, an output buffer. */
struct arg {
	union {
		struct iopbuf_buf_reg reg;
		struct iopbuf_ring_reg ring;
		struct iopbuf_ring_status st;
		struct iopbuf_cmd_probe cmd;
		struct iopbuf_cmd_recv recv;
		struct iopbuf_probe probe;
		struct iopbuf_stats stats;
	} u;
	struct iovec iov[4];
	unsigned char out[128];
};

struct row {
	const char *name;
	enum pre pre;
	enum via via;
	unsigned long req;		/* ioctl request or cmd_op */
	void *(*setup)(struct arg *a);	/* fills *a, returns the argument */
	int err;
};

/* ------------------------------------------------------------------------
 * Argument builders: a valid argument, then one field broken per row.
 */

/* A valid REGISTER/UPDATE argument: one page of E.buf in slot @offset. */
static struct iopbuf_buf_reg *reg_base(struct arg *a)
{
	a->iov[0] = (struct iovec){ E.buf + H_PAGE, H_PAGE };
	a->u.reg = (struct iopbuf_buf_reg){
		.iovs = (uintptr_t)a->iov,
		.nr = 1,
	};
	return &a->u.reg;
}

/* A valid REGISTER_RING argument: 8 entries in E.buf, bgid 2. */
static struct iopbuf_ring_reg *ring_base(struct arg *a)
{
	a->u.ring = (struct iopbuf_ring_reg){
		.ring_addr = (uintptr_t)E.buf,
		.ring_entries = 8,
		.bgid = 2,
	};
	return &a->u.ring;
}

/* A valid UNREGISTER_RING argument for the PRE_RING ring. */
static struct iopbuf_ring_reg *unring_base(struct arg *a)
{
	a->u.ring = (struct iopbuf_ring_reg){ .bgid = 1 };
	return &a->u.ring;
}

/* A valid RING_STATUS argument for the PRE_RING ring. */
static struct iopbuf_ring_status *status_base(struct arg *a)
{
	a->u.st = (struct iopbuf_ring_status){ .bgid = 1 };
	return &a->u.st;
}

/* A valid IOPBUF_CMD_PROBE payload writing to a->out. */
static struct iopbuf_cmd_probe *cmd_base(struct arg *a)
{
	a->u.cmd = (struct iopbuf_cmd_probe){
		.addr = (uintptr_t)a->out,
		.len = sizeof(struct iopbuf_probe),
	};
	return &a->u.cmd;
}

/* Shorthand for a builder that breaks one thing. */
#define SETUP(name)	static void *name(struct arg *a)

/* The argument pointer itself: NULL, unmapped, kernel (copy_from_user). */
SETUP(arg_null)		{ (void)a; return NULL; }
SETUP(arg_hole)		{ (void)a; return E.hole; }
SETUP(arg_kernel)	{ (void)a; return (void *)KERNEL_ADDR; }
/* output structures in read-only memory (copy_to_user) */
SETUP(arg_ro)		{ (void)a; return E.ro; }
/* ignored argument of argument-less commands */
SETUP(arg_any)		{ return a; }

/* --- struct iopbuf_buf_reg (REGISTER_BUFFERS and UPDATE_BUFFERS) ------- */

/* nr: 1 .. IOPBUF_MAX_BUFS (io_uring: 1 .. IORING_MAX_REG_BUFFERS) */
SETUP(reg_nr_zero)	{ reg_base(a)->nr = 0; return &a->u.reg; }
SETUP(reg_nr_max1)	{ reg_base(a)->nr = IOPBUF_MAX_BUFS + 1; return &a->u.reg; }
SETUP(reg_nr_u32max)	{ reg_base(a)->nr = ~0U; return &a->u.reg; }
/* REGISTER: offset must be 0 */
SETUP(reg_offset)	{ reg_base(a)->offset = 1; return &a->u.reg; }
/* unknown flag bits */
SETUP(reg_flag_bit1)	{ reg_base(a)->flags = 1U << 1; return &a->u.reg; }
SETUP(reg_flag_bit31)	{ reg_base(a)->flags = 1U << 31; return &a->u.reg; }
/* reserved words */
SETUP(reg_resv)		{ reg_base(a)->resv = 1; return &a->u.reg; }
SETUP(reg_resv2_0)	{ reg_base(a)->resv2[0] = 1; return &a->u.reg; }
SETUP(reg_resv2_1)	{ reg_base(a)->resv2[1] = 1ULL << 63; return &a->u.reg; }
/* a valid argument: REGISTER with a table -> -EBUSY; UPDATE without -> -ENXIO */
SETUP(reg_valid)	{ return reg_base(a); }
/* SPARSE: iovs must be 0 */
SETUP(reg_sparse_iovs)	{ reg_base(a)->flags = IOPBUF_BUF_REG_SPARSE; return &a->u.reg; }
/* UPDATE: no flags at all, SPARSE included */
SETUP(upd_flag_sparse)	{ reg_base(a)->flags = IOPBUF_BUF_REG_SPARSE; return &a->u.reg; }
/* without SPARSE, the iovec array is required and must be readable */
SETUP(reg_iovs_null)	{ reg_base(a)->iovs = 0; return &a->u.reg; }
SETUP(reg_iovs_hole)	{ reg_base(a)->iovs = (uintptr_t)E.hole; return &a->u.reg; }
SETUP(reg_iovs_kernel)	{ reg_base(a)->iovs = KERNEL_ADDR; return &a->u.reg; }
SETUP(reg_iovs_none)	{ reg_base(a)->iovs = (uintptr_t)E.none; return &a->u.reg; }

/* An iovec array whose first entry is valid and second lies in the hole. */
SETUP(reg_iovs_straddle)
{
	struct iovec *iov = (struct iovec *)(E.hole - sizeof(struct iovec));

	*iov = (struct iovec){ E.buf, H_PAGE };
	reg_base(a)->iovs = (uintptr_t)iov;
	a->u.reg.nr = 2;
	return &a->u.reg;
}

/* UPDATE: offset + nr within the table (4 slots), without u32 overflow */
SETUP(upd_offset_wrap)	{ reg_base(a)->offset = ~0U; a->u.reg.nr = 2; return &a->u.reg; }
SETUP(upd_offset_past)	{ reg_base(a)->offset = 3; a->u.reg.nr = 2;
			  a->iov[1] = a->iov[0]; return &a->u.reg; }
SETUP(upd_offset_end)	{ reg_base(a)->offset = 4; return &a->u.reg; }
SETUP(upd_nr_past)	{ reg_base(a)->nr = 5; return &a->u.reg; }

/* --- struct iovec (each buffer) ---------------------------------------- */

static void *one_iov(struct arg *a, uint64_t base, uint64_t len)
{
	reg_base(a);
	a->iov[0].iov_base = (void *)(uintptr_t)base;
	a->iov[0].iov_len = len;
	return &a->u.reg;
}

/* io_uring_register_buffers rules: NULL base with a length -> -EFAULT */
SETUP(iov_base_null)	{ return one_iov(a, 0, H_PAGE); }
/* a non-NULL base with length 0 -> -EINVAL (only {NULL, 0} is "empty") */
SETUP(iov_len_zero)	{ return one_iov(a, (uintptr_t)E.buf, 0); }
/* base + len wraps the address space -> -EOVERFLOW */
SETUP(iov_wrap)		{ return one_iov(a, ~0ULL - H_PAGE + 1, 2 * H_PAGE); }
/* longer than probe.max_buf_len -> -E2BIG */
SETUP(iov_too_long)	{ return one_iov(a, (uintptr_t)E.buf, MAX_BUF_LEN + 1); }
/* not user memory, or nothing there -> -EFAULT */
SETUP(iov_kernel)	{ return one_iov(a, KERNEL_ADDR, H_PAGE); }
SETUP(iov_hole)		{ return one_iov(a, (uintptr_t)E.hole, H_PAGE); }
SETUP(iov_none)		{ return one_iov(a, (uintptr_t)E.none, H_PAGE); }
/* buffers are pinned writable: read-only memory -> -EFAULT */
SETUP(iov_ro)		{ return one_iov(a, (uintptr_t)E.ro, H_PAGE); }
/* mapped memory running into the hole -> -EFAULT */
SETUP(iov_into_hole)	{ return one_iov(a, (uintptr_t)E.edge, 2 * H_PAGE); }

/* All or nothing: a bad third iovec after a good one and an empty one. */
SETUP(iov_third_bad)
{
	reg_base(a)->nr = 3;
	a->iov[1] = (struct iovec){ NULL, 0 };
	a->iov[2] = (struct iovec){ E.hole, 1 };
	return &a->u.reg;
}

/* ... and after two good ones, a zero-length one */
SETUP(iov_third_len0)
{
	reg_base(a)->nr = 3;
	a->iov[1] = (struct iovec){ E.buf + 2 * H_PAGE, 2 * H_PAGE };
	a->iov[2] = (struct iovec){ E.buf, 0 };
	return &a->u.reg;
}

/* --- struct iopbuf_ring_reg (REGISTER_RING) ----------------------------- */

/* ring_entries: a power of two, 1 .. 32768 */
SETUP(ring_entries_0)	{ ring_base(a)->ring_entries = 0; return &a->u.ring; }
SETUP(ring_entries_3)	{ ring_base(a)->ring_entries = 3; return &a->u.ring; }
SETUP(ring_entries_64k)	{ ring_base(a)->ring_entries = 65536; return &a->u.ring; }
SETUP(ring_entries_2g)	{ ring_base(a)->ring_entries = 1U << 31; return &a->u.ring; }
/* ring_addr: page-aligned; required without MMAP, forbidden with it */
SETUP(ring_addr_odd)	{ ring_base(a)->ring_addr += 16; return &a->u.ring; }
SETUP(ring_addr_null)	{ ring_base(a)->ring_addr = 0; return &a->u.ring; }
SETUP(ring_mmap_addr)	{ ring_base(a)->flags = IOPBUF_RING_MMAP; return &a->u.ring; }
/* ring memory must exist, be user memory and be writable */
SETUP(ring_addr_hole)	{ ring_base(a)->ring_addr = (uintptr_t)E.hole; return &a->u.ring; }
SETUP(ring_addr_none)	{ ring_base(a)->ring_addr = (uintptr_t)E.none; return &a->u.ring; }
SETUP(ring_addr_kernel)	{ ring_base(a)->ring_addr = KERNEL_ADDR; return &a->u.ring; }
SETUP(ring_addr_ro)	{ ring_base(a)->ring_addr = (uintptr_t)E.ro; return &a->u.ring; }
/* a 2-page ring on the last mapped page before the hole */
SETUP(ring_into_hole)	{ ring_base(a)->ring_addr = (uintptr_t)E.edge;
			  a->u.ring.ring_entries = 512; return &a->u.ring; }
/* ring reaching past the top of the user address space */
SETUP(ring_addr_top)	{ ring_base(a)->ring_addr = 0x7fffffffe000ULL;
			  a->u.ring.ring_entries = 32768; return &a->u.ring; }
/* flags: MMAP | REGBUF | INC only; min_left only with INC */
SETUP(ring_flag_bit3)	{ ring_base(a)->flags = 1U << 3; return &a->u.ring; }
SETUP(ring_flag_bit15)	{ ring_base(a)->flags = 1U << 15; return &a->u.ring; }
SETUP(ring_min_left)	{ ring_base(a)->min_left = 16; return &a->u.ring; }
SETUP(ring_min_left_rb)	{ ring_base(a)->min_left = 1;
			  a->u.ring.flags = IOPBUF_RING_REGBUF; return &a->u.ring; }
/* each reserved word */
SETUP(ring_resv0)	{ ring_base(a)->resv[0] = 1; return &a->u.ring; }
SETUP(ring_resv1)	{ ring_base(a)->resv[1] = 1; return &a->u.ring; }
SETUP(ring_resv2)	{ ring_base(a)->resv[2] = 1; return &a->u.ring; }
SETUP(ring_resv3)	{ ring_base(a)->resv[3] = 1; return &a->u.ring; }
SETUP(ring_resv4)	{ ring_base(a)->resv[4] = 1U << 31; return &a->u.ring; }
/* bgid already registered (PRE_RING) -> -EEXIST */
SETUP(ring_bgid_busy)	{ ring_base(a)->bgid = 1; return &a->u.ring; }

/* --- struct iopbuf_ring_reg (UNREGISTER_RING): only bgid may be set ---- */

SETUP(unring_unknown)	{ unring_base(a)->bgid = 2; return &a->u.ring; }
SETUP(unring_addr)	{ unring_base(a)->ring_addr = (uintptr_t)E.ring; return &a->u.ring; }
SETUP(unring_entries)	{ unring_base(a)->ring_entries = 256; return &a->u.ring; }
SETUP(unring_flags)	{ unring_base(a)->flags = IOPBUF_RING_MMAP; return &a->u.ring; }
SETUP(unring_min_left)	{ unring_base(a)->min_left = 1; return &a->u.ring; }
SETUP(unring_resv0)	{ unring_base(a)->resv[0] = 1; return &a->u.ring; }
SETUP(unring_resv4)	{ unring_base(a)->resv[4] = 1; return &a->u.ring; }

/* --- struct iopbuf_ring_status ------------------------------------------ */

SETUP(status_unknown)	{ status_base(a)->bgid = 2; return &a->u.st; }
SETUP(status_resv0)	{ status_base(a)->resv0 = 1; return &a->u.st; }
SETUP(status_resv_0)	{ status_base(a)->resv[0] = 1; return &a->u.st; }
SETUP(status_resv_1)	{ status_base(a)->resv[1] = 1; return &a->u.st; }
/* readable but not writable: the result cannot be stored -> -EFAULT */
SETUP(status_ro)	{ (void)a; return E.ro_status; }

/* --- struct iopbuf_cmd_probe (IOPBUF_CMD_PROBE payload) ---------------- */

SETUP(cmd_len_0)	{ cmd_base(a)->len = 0; return &a->u.cmd; }
SETUP(cmd_len_short)	{ cmd_base(a)->len = sizeof(struct iopbuf_probe) - 1; return &a->u.cmd; }
SETUP(cmd_resv)		{ cmd_base(a)->resv = 1; return &a->u.cmd; }
SETUP(cmd_addr_null)	{ cmd_base(a)->addr = 0; return &a->u.cmd; }
SETUP(cmd_addr_ro)	{ cmd_base(a)->addr = (uintptr_t)E.ro; return &a->u.cmd; }
SETUP(cmd_addr_hole)	{ cmd_base(a)->addr = (uintptr_t)E.hole; return &a->u.cmd; }
SETUP(cmd_addr_kernel)	{ cmd_base(a)->addr = KERNEL_ADDR; return &a->u.cmd; }
/* the whole struct must be writable: it straddles into the hole */
SETUP(cmd_addr_edge)	{ cmd_base(a)->addr = (uintptr_t)(E.hole - 8); return &a->u.cmd; }
/* a valid payload, for unknown cmd_op rows */
SETUP(cmd_valid)	{ return cmd_base(a); }

/* --- struct iopbuf_cmd_recv (IOPBUF_CMD_RECV, IOPBUF_CMD_READ) ---------
 * Only rows that fail before any data could be waited for.
 */

/* A valid RECV payload: the socket, the PRE_RING ring (empty). */
static struct iopbuf_cmd_recv *recv_base(struct arg *a)
{
	a->u.recv = (struct iopbuf_cmd_recv){ .fd = E.sock, .bgid = 1 };
	return &a->u.recv;
}

/* valid, for the no-CQE32 and empty-ring rows */
SETUP(recv_valid)	{ return recv_base(a); }
SETUP(recv_resv)	{ recv_base(a)->resv = 1; return &a->u.recv; }
SETUP(recv_flag_bit1)	{ recv_base(a)->flags = 1U << 1; return &a->u.recv; }
SETUP(recv_flag_bit15)	{ recv_base(a)->flags = 1U << 15; return &a->u.recv; }
SETUP(recv_fd_neg)	{ recv_base(a)->fd = -1; return &a->u.recv; }
SETUP(recv_fd_closed)	{ recv_base(a)->fd = 1000; return &a->u.recv; }
SETUP(recv_bgid)	{ recv_base(a)->bgid = 2; return &a->u.recv; }
/* RECV needs a socket; READ a readable file */
SETUP(recv_pipe)	{ recv_base(a)->fd = E.pipe_r; return &a->u.recv; }
SETUP(read_wronly)	{ recv_base(a)->fd = E.pipe_w; return &a->u.recv; }
/* an empty ring: -ENOBUFS, consuming nothing */
SETUP(read_valid)	{ recv_base(a)->fd = E.pipe_r; return &a->u.recv; }

#define REGB	IOPBUF_IOC_REGISTER_BUFFERS
#define UPDB	IOPBUF_IOC_UPDATE_BUFFERS
#define REGR	IOPBUF_IOC_REGISTER_RING
#define UNRR	IOPBUF_IOC_UNREGISTER_RING
#define STAT	IOPBUF_IOC_RING_STATUS

static const struct row rows[] = {
	/* IOPBUF_IOC_PROBE / IOPBUF_IOC_STATS: output pointers */
	{ "probe.arg_null",		PRE_NONE, IOCTL, IOPBUF_IOC_PROBE, arg_null, EFAULT },
	{ "probe.arg_ro",		PRE_NONE, IOCTL, IOPBUF_IOC_PROBE, arg_ro, EFAULT },
	{ "stats.arg_null",		PRE_TABLE, IOCTL, IOPBUF_IOC_STATS, arg_null, EFAULT },
	{ "stats.arg_ro",		PRE_TABLE, IOCTL, IOPBUF_IOC_STATS, arg_ro, EFAULT },
	{ "stats.arg_kernel",		PRE_TABLE, IOCTL, IOPBUF_IOC_STATS, arg_kernel, EFAULT },
	/* unknown ioctls: -ENOTTY */
	{ "ioctl.unknown_nr",		PRE_TABLE, IOCTL, _IO(IOPBUF_IOC_MAGIC, 0x3f), arg_any, ENOTTY },
	{ "ioctl.wrong_size",		PRE_TABLE, IOCTL,
	  _IOW(IOPBUF_IOC_MAGIC, 0x02, struct iopbuf_ring_reg[2]), arg_any, ENOTTY },
	{ "ioctl.unregister_bufs_as_w",	PRE_TABLE, IOCTL,
	  _IOW(IOPBUF_IOC_MAGIC, 0x04, struct iopbuf_buf_reg), arg_any, ENOTTY },

	/* IOPBUF_IOC_REGISTER_BUFFERS */
	{ "register.arg_null",		PRE_NONE, IOCTL, REGB, arg_null, EFAULT },
	{ "register.arg_hole",		PRE_NONE, IOCTL, REGB, arg_hole, EFAULT },
	{ "register.nr_0",		PRE_NONE, IOCTL, REGB, reg_nr_zero, EINVAL },
	{ "register.nr_max_plus_1",	PRE_NONE, IOCTL, REGB, reg_nr_max1, EINVAL },
	{ "register.nr_u32_max",	PRE_NONE, IOCTL, REGB, reg_nr_u32max, EINVAL },
	{ "register.offset",		PRE_NONE, IOCTL, REGB, reg_offset, EINVAL },
	{ "register.flag_bit1",		PRE_NONE, IOCTL, REGB, reg_flag_bit1, EINVAL },
	{ "register.flag_bit31",	PRE_NONE, IOCTL, REGB, reg_flag_bit31, EINVAL },
	{ "register.resv",		PRE_NONE, IOCTL, REGB, reg_resv, EINVAL },
	{ "register.resv2_0",		PRE_NONE, IOCTL, REGB, reg_resv2_0, EINVAL },
	{ "register.resv2_1",		PRE_NONE, IOCTL, REGB, reg_resv2_1, EINVAL },
	{ "register.sparse_with_iovs",	PRE_NONE, IOCTL, REGB, reg_sparse_iovs, EINVAL },
	{ "register.iovs_null",		PRE_NONE, IOCTL, REGB, reg_iovs_null, EFAULT },
	{ "register.iovs_hole",		PRE_NONE, IOCTL, REGB, reg_iovs_hole, EFAULT },
	{ "register.iovs_kernel",	PRE_NONE, IOCTL, REGB, reg_iovs_kernel, EFAULT },
	{ "register.iovs_prot_none",	PRE_NONE, IOCTL, REGB, reg_iovs_none, EFAULT },
	{ "register.iovs_straddle",	PRE_NONE, IOCTL, REGB, reg_iovs_straddle, EFAULT },
	{ "register.iov_base_null",	PRE_NONE, IOCTL, REGB, iov_base_null, EFAULT },
	{ "register.iov_len_0",		PRE_NONE, IOCTL, REGB, iov_len_zero, EINVAL },
	{ "register.iov_wrap",		PRE_NONE, IOCTL, REGB, iov_wrap, EOVERFLOW },
	{ "register.iov_too_long",	PRE_NONE, IOCTL, REGB, iov_too_long, E2BIG },
	{ "register.iov_kernel",	PRE_NONE, IOCTL, REGB, iov_kernel, EFAULT },
	{ "register.iov_hole",		PRE_NONE, IOCTL, REGB, iov_hole, EFAULT },
	{ "register.iov_prot_none",	PRE_NONE, IOCTL, REGB, iov_none, EFAULT },
	{ "register.iov_read_only",	PRE_NONE, IOCTL, REGB, iov_ro, EFAULT },
	{ "register.iov_into_hole",	PRE_NONE, IOCTL, REGB, iov_into_hole, EFAULT },
	{ "register.iov_third_bad",	PRE_NONE, IOCTL, REGB, iov_third_bad, EFAULT },
	{ "register.iov_third_len_0",	PRE_NONE, IOCTL, REGB, iov_third_len0, EINVAL },
	{ "register.table_exists",	PRE_TABLE, IOCTL, REGB, reg_valid, EBUSY },

	/* IOPBUF_IOC_UPDATE_BUFFERS */
	{ "update.no_table",		PRE_NONE, IOCTL, UPDB, reg_valid, ENXIO },
	{ "update.arg_null",		PRE_TABLE, IOCTL, UPDB, arg_null, EFAULT },
	{ "update.nr_0",		PRE_TABLE, IOCTL, UPDB, reg_nr_zero, EINVAL },
	{ "update.nr_max_plus_1",	PRE_TABLE, IOCTL, UPDB, reg_nr_max1, EINVAL },
	{ "update.nr_past_end",		PRE_TABLE, IOCTL, UPDB, upd_nr_past, EINVAL },
	{ "update.offset_nr_wrap",	PRE_TABLE, IOCTL, UPDB, upd_offset_wrap, EINVAL },
	{ "update.offset_nr_past_end",	PRE_TABLE, IOCTL, UPDB, upd_offset_past, EINVAL },
	{ "update.offset_at_end",	PRE_TABLE, IOCTL, UPDB, upd_offset_end, EINVAL },
	{ "update.flag_sparse",		PRE_TABLE, IOCTL, UPDB, upd_flag_sparse, EINVAL },
	{ "update.flag_bit31",		PRE_TABLE, IOCTL, UPDB, reg_flag_bit31, EINVAL },
	{ "update.resv",		PRE_TABLE, IOCTL, UPDB, reg_resv, EINVAL },
	{ "update.resv2_0",		PRE_TABLE, IOCTL, UPDB, reg_resv2_0, EINVAL },
	{ "update.resv2_1",		PRE_TABLE, IOCTL, UPDB, reg_resv2_1, EINVAL },
	{ "update.iovs_null",		PRE_TABLE, IOCTL, UPDB, reg_iovs_null, EFAULT },
	{ "update.iovs_hole",		PRE_TABLE, IOCTL, UPDB, reg_iovs_hole, EFAULT },
	{ "update.iovs_straddle",	PRE_TABLE, IOCTL, UPDB, reg_iovs_straddle, EFAULT },
	{ "update.iov_base_null",	PRE_TABLE, IOCTL, UPDB, iov_base_null, EFAULT },
	{ "update.iov_len_0",		PRE_TABLE, IOCTL, UPDB, iov_len_zero, EINVAL },
	{ "update.iov_wrap",		PRE_TABLE, IOCTL, UPDB, iov_wrap, EOVERFLOW },
	{ "update.iov_too_long",	PRE_TABLE, IOCTL, UPDB, iov_too_long, E2BIG },
	{ "update.iov_hole",		PRE_TABLE, IOCTL, UPDB, iov_hole, EFAULT },
	{ "update.iov_read_only",	PRE_TABLE, IOCTL, UPDB, iov_ro, EFAULT },
	{ "update.iov_third_bad",	PRE_TABLE, IOCTL, UPDB, iov_third_bad, EFAULT },

	/* IOPBUF_IOC_UNREGISTER_BUFFERS */
	{ "unregister.no_table",	PRE_NONE, IOCTL, IOPBUF_IOC_UNREGISTER_BUFFERS, arg_any, ENXIO },

	/* IOPBUF_IOC_REGISTER_RING */
	{ "ring.arg_null",		PRE_NONE, IOCTL, REGR, arg_null, EFAULT },
	{ "ring.arg_kernel",		PRE_NONE, IOCTL, REGR, arg_kernel, EFAULT },
	{ "ring.entries_0",		PRE_NONE, IOCTL, REGR, ring_entries_0, EINVAL },
	{ "ring.entries_3",		PRE_NONE, IOCTL, REGR, ring_entries_3, EINVAL },
	{ "ring.entries_65536",		PRE_NONE, IOCTL, REGR, ring_entries_64k, EINVAL },
	{ "ring.entries_2g",		PRE_NONE, IOCTL, REGR, ring_entries_2g, EINVAL },
	{ "ring.addr_misaligned",	PRE_NONE, IOCTL, REGR, ring_addr_odd, EINVAL },
	{ "ring.addr_null",		PRE_NONE, IOCTL, REGR, ring_addr_null, EFAULT },
	{ "ring.mmap_with_addr",	PRE_NONE, IOCTL, REGR, ring_mmap_addr, EINVAL },
	{ "ring.addr_hole",		PRE_NONE, IOCTL, REGR, ring_addr_hole, EFAULT },
	{ "ring.addr_prot_none",	PRE_NONE, IOCTL, REGR, ring_addr_none, EFAULT },
	{ "ring.addr_kernel",		PRE_NONE, IOCTL, REGR, ring_addr_kernel, EFAULT },
	{ "ring.addr_read_only",	PRE_NONE, IOCTL, REGR, ring_addr_ro, EFAULT },
	{ "ring.into_hole",		PRE_NONE, IOCTL, REGR, ring_into_hole, EFAULT },
	{ "ring.past_task_size",	PRE_NONE, IOCTL, REGR, ring_addr_top, EFAULT },
	{ "ring.flag_bit3",		PRE_NONE, IOCTL, REGR, ring_flag_bit3, EINVAL },
	{ "ring.flag_bit15",		PRE_NONE, IOCTL, REGR, ring_flag_bit15, EINVAL },
	{ "ring.min_left_without_inc",	PRE_NONE, IOCTL, REGR, ring_min_left, EINVAL },
	{ "ring.min_left_regbuf",	PRE_NONE, IOCTL, REGR, ring_min_left_rb, EINVAL },
	{ "ring.resv0",			PRE_NONE, IOCTL, REGR, ring_resv0, EINVAL },
	{ "ring.resv1",			PRE_NONE, IOCTL, REGR, ring_resv1, EINVAL },
	{ "ring.resv2",			PRE_NONE, IOCTL, REGR, ring_resv2, EINVAL },
	{ "ring.resv3",			PRE_NONE, IOCTL, REGR, ring_resv3, EINVAL },
	{ "ring.resv4",			PRE_NONE, IOCTL, REGR, ring_resv4, EINVAL },
	{ "ring.bgid_busy",		PRE_RING, IOCTL, REGR, ring_bgid_busy, EEXIST },

	/* IOPBUF_IOC_UNREGISTER_RING */
	{ "unring.arg_null",		PRE_RING, IOCTL, UNRR, arg_null, EFAULT },
	{ "unring.unknown_bgid",	PRE_RING, IOCTL, UNRR, unring_unknown, ENOENT },
	{ "unring.ring_addr",		PRE_RING, IOCTL, UNRR, unring_addr, EINVAL },
	{ "unring.ring_entries",	PRE_RING, IOCTL, UNRR, unring_entries, EINVAL },
	{ "unring.flags",		PRE_RING, IOCTL, UNRR, unring_flags, EINVAL },
	{ "unring.min_left",		PRE_RING, IOCTL, UNRR, unring_min_left, EINVAL },
	{ "unring.resv0",		PRE_RING, IOCTL, UNRR, unring_resv0, EINVAL },
	{ "unring.resv4",		PRE_RING, IOCTL, UNRR, unring_resv4, EINVAL },

	/* IOPBUF_IOC_RING_STATUS */
	{ "status.arg_null",		PRE_RING, IOCTL, STAT, arg_null, EFAULT },
	{ "status.unknown_bgid",	PRE_RING, IOCTL, STAT, status_unknown, ENOENT },
	{ "status.resv0",		PRE_RING, IOCTL, STAT, status_resv0, EINVAL },
	{ "status.resv_0",		PRE_RING, IOCTL, STAT, status_resv_0, EINVAL },
	{ "status.resv_1",		PRE_RING, IOCTL, STAT, status_resv_1, EINVAL },
	{ "status.arg_read_only",	PRE_RING, IOCTL, STAT, status_ro, EFAULT },

	/* IOPBUF_CMD_PROBE through io_uring */
	{ "cmd.len_0",			PRE_TABLE, URING, IOPBUF_CMD_PROBE, cmd_len_0, EINVAL },
	{ "cmd.len_short",		PRE_TABLE, URING, IOPBUF_CMD_PROBE, cmd_len_short, EINVAL },
	{ "cmd.resv",			PRE_TABLE, URING, IOPBUF_CMD_PROBE, cmd_resv, EINVAL },
	{ "cmd.addr_null",		PRE_TABLE, URING, IOPBUF_CMD_PROBE, cmd_addr_null, EFAULT },
	{ "cmd.addr_read_only",		PRE_TABLE, URING, IOPBUF_CMD_PROBE, cmd_addr_ro, EFAULT },
	{ "cmd.addr_hole",		PRE_TABLE, URING, IOPBUF_CMD_PROBE, cmd_addr_hole, EFAULT },
	{ "cmd.addr_kernel",		PRE_TABLE, URING, IOPBUF_CMD_PROBE, cmd_addr_kernel, EFAULT },
	{ "cmd.addr_straddle",		PRE_TABLE, URING, IOPBUF_CMD_PROBE, cmd_addr_edge, EFAULT },
	{ "cmd.op_other_type",		PRE_TABLE, URING,
	  _IOWR('Z', 0x40, struct iopbuf_cmd_probe), cmd_valid, EOPNOTSUPP },
	{ "cmd.op_unknown_nr",		PRE_TABLE, URING,
	  _IOWR(IOPBUF_IOC_MAGIC, 0x7e, struct iopbuf_cmd_probe), cmd_valid, EOPNOTSUPP },
	{ "cmd.op_is_ioctl",		PRE_TABLE, URING, IOPBUF_IOC_STATS, cmd_valid, EOPNOTSUPP },

	/* IOPBUF_CMD_RECV / IOPBUF_CMD_READ payload */
	{ "recv.no_cqe32",		PRE_RING, URING, IOPBUF_CMD_RECV, recv_valid, EINVAL },
	{ "read.no_cqe32",		PRE_RING, URING, IOPBUF_CMD_READ, read_valid, EINVAL },
	{ "recv.resv",			PRE_RING, URING32, IOPBUF_CMD_RECV, recv_resv, EINVAL },
	{ "recv.flag_bit1",		PRE_RING, URING32, IOPBUF_CMD_RECV, recv_flag_bit1, EINVAL },
	{ "recv.flag_bit15",		PRE_RING, URING32, IOPBUF_CMD_RECV, recv_flag_bit15, EINVAL },
	{ "recv.fd_negative",		PRE_RING, URING32, IOPBUF_CMD_RECV, recv_fd_neg, EBADF },
	{ "recv.fd_not_open",		PRE_RING, URING32, IOPBUF_CMD_RECV, recv_fd_closed, EBADF },
	{ "recv.unknown_bgid",		PRE_RING, URING32, IOPBUF_CMD_RECV, recv_bgid, ENOENT },
	{ "recv.not_socket",		PRE_RING, URING32, IOPBUF_CMD_RECV, recv_pipe, ENOTSOCK },
	{ "recv.empty_ring",		PRE_RING, URING32, IOPBUF_CMD_RECV, recv_valid, ENOBUFS },
	{ "read.resv",			PRE_RING, URING32, IOPBUF_CMD_READ, recv_resv, EINVAL },
	{ "read.write_only_fd",		PRE_RING, URING32, IOPBUF_CMD_READ, read_wronly, EBADF },
	{ "read.unknown_bgid",		PRE_RING, URING32, IOPBUF_CMD_READ, recv_bgid, ENOENT },
	{ "read.empty_ring",		PRE_RING, URING32, IOPBUF_CMD_READ, read_valid, ENOBUFS },
};

/* ------------------------------------------------------------------------
 * Running a row
 */

/* Bring a fresh context into the row's precondition. */
static bool precondition(int fd, enum pre pre)
{
	struct iovec iov = { E.buf, H_PAGE };

	switch (pre) {
	case PRE_NONE:
		return true;
	case PRE_TABLE:
		return EXPECT_OK(h_register_sparse(fd, 4)) &&
		       EXPECT_OK(h_update_iov(fd, 0, &iov, 1));
	case PRE_RING:
		return EXPECT_OK(h_register_ring(fd, E.ring, 256, 1, 0, 0));
	}
	return false;
}

static bool stats_equal(const struct iopbuf_stats *a,
			const struct iopbuf_stats *b)
{
	return a->pinned_pages == b->pinned_pages &&
	       a->charged_pages == b->charged_pages &&
	       a->buf_slots == b->buf_slots && a->bufs == b->bufs &&
	       a->rings == b->rings && a->inflight == b->inflight;
}

static const struct row *cur;

static void run_row(void)
{
	struct iopbuf_stats before, after;
	struct h_global g0;
	__u64 res2 = 0;
	struct arg a;
	void *arg;
	long res;
	int fd = h_open();

	if (fd < 0 || !precondition(fd, cur->pre))
		goto out;
	if (!EXPECT_OK(h_stats(fd, &before)))
		goto out;
	h_global_read(&g0);

	memset(&a, 0, sizeof(a));
	memset(a.out, 0xa5, sizeof(a.out));
	arg = cur->setup(&a);
	if (cur->via == IOCTL)
		res = h_ioctl(fd, cur->req, arg);
	else
		res = h_uring_cmd2(cur->via == URING32 ? &E.uring32 : &E.uring,
				   fd, (__u32)cur->req, arg, 16, &res2);
	EXPECT_ERR(res, cur->err);
	/* a failed buffer command names no buffer */
	EXPECT_EQ(res2, 0);

	/* nothing changed */
	if (EXPECT_OK(h_stats(fd, &after)) && !EXPECT(stats_equal(&before, &after)))
		h_note("stats before: slots %u bufs %u rings %u pinned %llu charged %llu; "
		       "after: slots %u bufs %u rings %u pinned %llu charged %llu",
		       before.buf_slots, before.bufs, before.rings,
		       (unsigned long long)before.pinned_pages,
		       (unsigned long long)before.charged_pages,
		       after.buf_slots, after.bufs, after.rings,
		       (unsigned long long)after.pinned_pages,
		       (unsigned long long)after.charged_pages);
	EXPECT_PAGES_AS(g0);
	if (cur->pre == PRE_RING)
		EXPECT_OK(h_ring_status(fd, 1, NULL));
	if (cur->via != IOCTL)
		EXPECT(a.out[0] == 0xa5 && a.out[sizeof(a.out) - 1] == 0xa5);
out:
	h_close(&fd);
}

/* ------------------------------------------------------------------------
 * Setup
 */

static void *map_prot(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* E's memory: valid, read-only, PROT_NONE, a hole with a page below it. */
static bool env_memory(void)
{
	E.hole = h_hole(H_PAGE);
	E.edge = h_edge();
	E.buf = map_prot(4 * H_PAGE, PROT_READ | PROT_WRITE);
	E.ring = map_prot(H_PAGE, PROT_READ | PROT_WRITE);
	E.ro = map_prot(H_PAGE, PROT_READ);
	E.none = map_prot(H_PAGE, PROT_NONE);
	E.ro_status = map_prot(H_PAGE, PROT_READ | PROT_WRITE);
	if (!E.hole || !E.edge ||
	    !EXPECT(E.buf && E.ring && E.ro && E.none && E.ro_status))
		return false;
	memset(E.buf, 1, 4 * H_PAGE);
	E.ro_status->bgid = 1;
	return EXPECT(!mprotect(E.ro_status, H_PAGE, PROT_READ));
}

/* A socket and a pipe with nothing to read, for RECV and READ rows. */
static bool env_fds(void)
{
	int sv[2], pfd[2];

	if (!EXPECT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) ||
	    !EXPECT(!pipe2(pfd, O_CLOEXEC)))
		return false;
	E.sock = sv[0];
	E.pipe_r = pfd[0];
	E.pipe_w = pfd[1];
	return true;
}

/* The rows assume the module's max_buf_len. */
static bool env_probe(void)
{
	struct iopbuf_probe p;
	bool ok;
	int fd = h_open();

	if (fd < 0)
		return false;
	ok = EXPECT_OK(h_probe(fd, &p)) && EXPECT_EQ(p.max_buf_len, MAX_BUF_LEN);
	close(fd);
	return ok;
}

static void env_setup(void)
{
	if (env_memory() && env_fds() && env_probe() &&
	    h_uring_init(&E.uring, 0))
		h_uring_init(&E.uring32, IORING_SETUP_CQE32);
}

int main(void)
{
	unsigned int i;

	h_init("malformed");
	h_run("setup", env_setup);
	if (h_nfail || h_nskip)
		return h_exit();
	printf("# malformed: %zu rows\n", H_ARRAY_SIZE(rows));
	for (i = 0; i < H_ARRAY_SIZE(rows); i++) {
		cur = &rows[i];
		h_run(rows[i].name, run_row);
	}
	io_uring_queue_exit(&E.uring);
	io_uring_queue_exit(&E.uring32);
	h_run("counters_zero", h_case_counters_zero);
	return h_exit();
}
