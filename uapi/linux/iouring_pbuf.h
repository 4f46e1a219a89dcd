/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * iouring-pbuf: provided-buffer rings over registered buffers for io_uring,
 * served by the misc device /dev/iouring-pbuf.
 *
 * This header is the whole ABI. It is shared by the kernel module and by
 * applications, includes nothing but <linux/types.h> and <linux/ioctl.h>,
 * and compiles as C99 with -pedantic.
 *
 * Two ways in:
 *  - ioctl(2) on the device file serves setup: probing, registering and
 *    unregistering buffers and rings, statistics (IOPBUF_IOC_*).
 *  - io_uring IORING_OP_URING_CMD on the device file serves the data path
 *    (IOPBUF_CMD_*). sqe->cmd_op holds the command; its 16-byte payload
 *    (sqe->cmd, 80 bytes with IORING_SETUP_SQE128) holds one of the
 *    struct iopbuf_cmd_* below. The payload is read exactly once, when the
 *    command is first issued. For a command issued at submission the
 *    application may reuse the SQE right after io_uring_submit() returns;
 *    a command that waits in a link chain (behind IOSQE_IO_LINK) is issued
 *    later, and 6.12 reads its payload from the SQ ring only then, so keep
 *    such an SQE unchanged until the command completes (or add
 *    IOSQE_ASYNC, which makes io_uring copy it at submission).
 *
 * Every open file description is an independent context: buffers and rings
 * registered through one fd are invisible through another, and closing the
 * last reference to the fd releases everything the context holds.
 *
 * Errors: unknown commands fail with -EOPNOTSUPP (ENOTTY for ioctl, as the
 * VFS expects); non-zero reserved fields and unknown flag bits fail with
 * -EINVAL. Each command documents its other errors.
 */
#ifndef _UAPI_LINUX_IOURING_PBUF_H
#define _UAPI_LINUX_IOURING_PBUF_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define IOPBUF_DEVICE_PATH	"/dev/iouring-pbuf"

/*
 * ABI version reported by the probe. It changes only when an existing
 * structure or command changes meaning; additions are announced through
 * feature bits instead.
 */
#define IOPBUF_ABI_VERSION	1

/* ioctl and uring_cmd type byte (unused in ioctl-number.rst) */
#define IOPBUF_IOC_MAGIC	0xB9

/*
 * Feature bits returned in iopbuf_probe.features. A bit is set only when
 * the running module implements the whole feature.
 */
#define IOPBUF_FEAT_PROBE_CMD	(1ULL << 0)	/* IOPBUF_CMD_PROBE via io_uring */
#define IOPBUF_FEAT_REGBUF	(1ULL << 1)	/* registered buffer table */
#define IOPBUF_FEAT_RING	(1ULL << 2)	/* provided-buffer rings */
#define IOPBUF_FEAT_RING_MMAP	(1ULL << 3)	/* kernel-allocated ring memory */
#define IOPBUF_FEAT_RING_INC	(1ULL << 4)	/* incremental consumption */
#define IOPBUF_FEAT_RING_REGBUF	(1ULL << 5)	/* entries hold regbuf encodings */
#define IOPBUF_FEAT_STATS	(1ULL << 6)	/* IOPBUF_IOC_STATS */
#define IOPBUF_FEAT_RECV	(1ULL << 7)	/* IOPBUF_CMD_RECV, _READ, _CANCEL */
#define IOPBUF_FEAT_SEND_ZC	(1ULL << 8)	/* IOPBUF_CMD_SEND */
#define IOPBUF_FEAT_LEND	(1ULL << 9)	/* IOPBUF_CMD_LEND, kernel buffers */

/* ------------------------------------------------------------------------
 * Registered-buffer encoding.
 *
 * In a ring registered with IOPBUF_RING_REGBUF, the 64-bit addr field of
 * every entry names a slice of a registered buffer instead of a user
 * address:
 *
 *   bit  0 .. 19: index of the registered buffer (0 .. 2^20 - 1)
 *   bit 20 .. 63: byte offset into that buffer   (0 .. 2^44 - 1)
 *
 * The entry's len field gives the slice length. The split is the one agreed
 * on the io-uring list for the "provided registered buffers" RFC (20/44).
 * The kernel validates the index against the table and offset + len against
 * the buffer's length on every use; any value may be written into a ring.
 */
#define IOPBUF_REGBUF_INDEX_BITS	20
#define IOPBUF_REGBUF_OFFSET_BITS	44
#define IOPBUF_REGBUF_INDEX_MASK	((1ULL << IOPBUF_REGBUF_INDEX_BITS) - 1)
#define IOPBUF_REGBUF_MAX_INDEX		IOPBUF_REGBUF_INDEX_MASK
#define IOPBUF_REGBUF_MAX_OFFSET	((1ULL << IOPBUF_REGBUF_OFFSET_BITS) - 1)
/* slots in one context's registered buffer table: one per encodable index */
#define IOPBUF_MAX_BUFS			(1U << IOPBUF_REGBUF_INDEX_BITS)

/* Is (index, offset) representable? Encoding silently truncates otherwise. */
static inline int iopbuf_regbuf_encodable(__u32 index, __u64 offset)
{
	return index <= IOPBUF_REGBUF_MAX_INDEX &&
	       offset <= IOPBUF_REGBUF_MAX_OFFSET;
}

/* Pack a registered buffer index and offset into a ring entry's addr. */
static inline __u64 iopbuf_regbuf_encode(__u32 index, __u64 offset)
{
	return (offset << IOPBUF_REGBUF_INDEX_BITS) |
	       ((__u64)index & IOPBUF_REGBUF_INDEX_MASK);
}

static inline __u32 iopbuf_regbuf_index(__u64 addr)
{
	return (__u32)(addr & IOPBUF_REGBUF_INDEX_MASK);
}

static inline __u64 iopbuf_regbuf_offset(__u64 addr)
{
	return addr >> IOPBUF_REGBUF_INDEX_BITS;
}

/* ------------------------------------------------------------------------
 * Provided-buffer ring layout: byte for byte io_uring's struct
 * io_uring_buf_ring, so liburing's io_uring_buf_ring_add(),
 * io_uring_buf_ring_advance() and io_uring_buf_ring_mask() work on it.
 */
struct iopbuf_buf {
	__u64	addr;	/* user address, or a regbuf encoding (see above) */
	__u32	len;	/* bytes available at addr */
	__u16	bid;	/* buffer id reported back in completions */
	__u16	resv;	/* entry 0: the ring tail; others: unused */
};

/*
 * A ring is an array of ring_entries struct iopbuf_buf. It has no header:
 * the tail, written by the application with release semantics
 * (io_uring_buf_ring_advance), overlays bufs[0].resv, exactly as in
 * io_uring's struct io_uring_buf_ring. The kernel reads the tail with
 * acquire semantics and each entry's fields once per use.
 */
static inline __u16 *iopbuf_ring_tail(struct iopbuf_buf *bufs)
{
	return &bufs[0].resv;
}

/* Most entries one ring may have (65536 would make full and empty alike). */
#define IOPBUF_MAX_RING_ENTRIES		32768

/*
 * mmap(2) offset of the ring memory of an IOPBUF_RING_MMAP ring: bit 32
 * set, the 16-bit bgid in bits 16..31 (a 64-bit off_t is needed).
 */
#define IOPBUF_OFF_RING_BASE		(1ULL << 32)
#define IOPBUF_OFF_RING_SHIFT		16
#define IOPBUF_OFF_RING(bgid)		\
	(IOPBUF_OFF_RING_BASE | ((__u64)((bgid) & 0xffff) << IOPBUF_OFF_RING_SHIFT))

/* ------------------------------------------------------------------------
 * Setup: ioctl(2) commands
 */

/*
 * IOPBUF_IOC_PROBE (and IOPBUF_CMD_PROBE): what this module offers.
 * Output only; the kernel fills every field, reserved ones with zero.
 */
struct iopbuf_probe {
	__u32	abi_version;		/* IOPBUF_ABI_VERSION */
	__u32	flags;			/* reserved, 0 */
	__u64	features;		/* IOPBUF_FEAT_* */
	__u32	max_bufs;		/* registered buffer slots per context */
	__u32	max_ring_entries;	/* entries per ring */
	__u32	max_bundle_bufs;	/* ring entries one command may use */
	__u32	max_bundle_segs;	/* bio_vec segments one command may use */
	__u64	max_buf_len;		/* bytes in one registered buffer */
	__u64	resv[3];
};

/*
 * IOPBUF_IOC_REGISTER_BUFFERS: create the context's registered buffer
 * table with @nr slots (1 .. IOPBUF_MAX_BUFS) and fill it from the iovec
 * array at @iovs. An iovec with iov_base == NULL and iov_len == 0 leaves its
 * slot empty. With IOPBUF_BUF_REG_SPARSE, @iovs must be 0 and all @nr slots
 * start empty. @offset must be 0.
 *
 * IOPBUF_IOC_UPDATE_BUFFERS: replace slots [@offset, @offset + @nr) of the
 * existing table with the iovecs at @iovs (an empty iovec clears a slot).
 * All or nothing: on error no slot changes.
 *
 * Each buffer is pinned (FOLL_LONGTERM) and charged to RLIMIT_MEMLOCK of
 * the calling user, unless the caller has CAP_IPC_LOCK; either way its
 * pages count in the calling process's VmPin (/proc/PID/status), as
 * io_uring's registered buffers do. Anonymous, shmem (memfd, tmpfs, SysV
 * shm) and hugetlb memory are accepted. The table itself costs kernel
 * memory only for the slots filled: a sparse table of 2^20 slots is free.
 * Both ioctls wait for faults in user memory killably (-EINTR).
 *
 * Errors: -EBUSY a table exists (REGISTER); -ENXIO no table (UPDATE);
 * -EINVAL bad nr/offset/flags/reserved field, zero-length buffer with a
 * non-NULL base; -EFAULT unreadable iovec array or unmapped buffer memory;
 * -EOVERFLOW base + len wraps; -E2BIG a buffer longer than max_buf_len;
 * -EOPNOTSUPP file-backed memory other than shmem/hugetlb; -ENOMEM out of
 * memory or over RLIMIT_MEMLOCK (nothing stays pinned or charged).
 */
struct iopbuf_buf_reg {
	__u64	iovs;		/* user pointer to struct iovec[nr] */
	__u32	nr;		/* number of slots / iovecs */
	__u32	offset;		/* UPDATE: first slot; REGISTER: 0 */
	__u32	flags;		/* IOPBUF_BUF_REG_* */
	__u32	resv;
	__u64	resv2[2];
};

#define IOPBUF_BUF_REG_SPARSE	(1U << 0)	/* REGISTER: all slots empty */

/*
 * IOPBUF_IOC_REGISTER_RING: register a provided-buffer ring for buffer
 * group @bgid with @ring_entries entries (a power of two, 1 ..
 * IOPBUF_MAX_RING_ENTRIES).
 *
 * Without IOPBUF_RING_MMAP, @ring_addr points to page-aligned application
 * memory of ring_entries * 16 bytes (anonymous or shmem), which is pinned,
 * charged to RLIMIT_MEMLOCK and mapped into the kernel. With it, @ring_addr
 * must be 0 and the kernel allocates the ring; map it with mmap(2) at
 * IOPBUF_OFF_RING(bgid), MAP_SHARED. The mapping stays valid after the ring
 * is unregistered, and the memory stays charged to RLIMIT_MEMLOCK (and
 * counted in pinned_pages) until its last mapping goes.
 *
 * IOPBUF_RING_REGBUF: every entry's addr is a registered-buffer encoding.
 * IOPBUF_RING_INC: incremental consumption. A command that uses only part
 * of an entry advances its addr and shrinks its len in place and leaves the
 * head on it (IOPBUF_CQE_F_BUF_MORE); the entry is retired (len set to 0,
 * head advanced) once fewer than @min_left bytes (at least 1) remain.
 *
 * Errors: -EINVAL bad entries/flags/reserved/min_left without INC,
 * misaligned ring_addr, ring_addr with MMAP; -EFAULT ring_addr 0 without
 * MMAP or unmapped memory; -EEXIST @bgid already has a ring; -ENOMEM.
 */
struct iopbuf_ring_reg {
	__u64	ring_addr;
	__u32	ring_entries;
	__u16	bgid;
	__u16	flags;		/* IOPBUF_RING_* */
	__u32	min_left;	/* INC only; 0 means 1 */
	__u32	resv[5];
};

#define IOPBUF_RING_MMAP	(1U << 0)
#define IOPBUF_RING_REGBUF	(1U << 1)
#define IOPBUF_RING_INC		(1U << 2)

/*
 * IOPBUF_IOC_RING_STATUS: read the kernel's head of ring @bgid, the index
 * of the next entry it will consume (compare with the tail to see how many
 * entries are still available). -ENOENT: no such ring.
 */
struct iopbuf_ring_status {
	__u16	bgid;		/* in */
	__u16	resv0;
	__u32	head;		/* out: kernel head, 0 .. 65535 */
	__u64	resv[2];
};

/*
 * IOPBUF_IOC_STATS: the context's resource counters. Output only.
 * Module-wide totals are in /sys/class/misc/iouring-pbuf/ (pinned_pages,
 * charged_pages, contexts, inflight, notifs); they return to zero once every
 * context is closed and every in-flight operation has ended.
 */
struct iopbuf_stats {
	__u64	pinned_pages;	/* pages pinned for buffers and rings */
	__u64	charged_pages;	/* of those, charged to RLIMIT_MEMLOCK */
	__u32	buf_slots;	/* slots in the registered buffer table */
	__u32	bufs;		/* occupied slots */
	__u32	rings;		/* registered rings */
	__u32	inflight;	/* uring_cmds still in flight after their submission */
	__u64	resv[4];
};

#define IOPBUF_IOC_PROBE		_IOR(IOPBUF_IOC_MAGIC, 0x00, struct iopbuf_probe)
#define IOPBUF_IOC_STATS		_IOR(IOPBUF_IOC_MAGIC, 0x01, struct iopbuf_stats)
#define IOPBUF_IOC_REGISTER_BUFFERS	_IOW(IOPBUF_IOC_MAGIC, 0x02, struct iopbuf_buf_reg)
#define IOPBUF_IOC_UPDATE_BUFFERS	_IOW(IOPBUF_IOC_MAGIC, 0x03, struct iopbuf_buf_reg)
#define IOPBUF_IOC_UNREGISTER_BUFFERS	_IO(IOPBUF_IOC_MAGIC, 0x04)
#define IOPBUF_IOC_REGISTER_RING	_IOW(IOPBUF_IOC_MAGIC, 0x05, struct iopbuf_ring_reg)
#define IOPBUF_IOC_UNREGISTER_RING	_IOW(IOPBUF_IOC_MAGIC, 0x06, struct iopbuf_ring_reg)
#define IOPBUF_IOC_RING_STATUS		_IOWR(IOPBUF_IOC_MAGIC, 0x07, struct iopbuf_ring_status)
/*
 * IOPBUF_IOC_CANCEL: complete every command of this context that is waiting
 * (for data, for socket space) with -ECANCELED. Returns how many it
 * cancelled. Process exit and closing the io_uring instance cancel them
 * by themselves (on kernels older than 6.7, which cannot ask the module,
 * within about 50 ms); this is for an application that wants them back
 * now.
 */
#define IOPBUF_IOC_CANCEL		_IO(IOPBUF_IOC_MAGIC, 0x08)

/*
 * IOPBUF_IOC_KBUF_ALLOC: allocate a kernel-owned buffer of @len bytes
 * (page-rounded; at most max_buf_len), never mapped to user space and
 * usable only as a lent buffer (IOPBUF_LEND_SRC_KBUF), so that data can go
 * from one socket to another without entering the process. Charged to
 * RLIMIT_MEMLOCK like pinned memory. Returns its id in @id (1 .. 1024).
 * IOPBUF_IOC_KBUF_FREE: free buffer @id (@len must be 0); a chain still
 * using it keeps it alive until it completes.
 * Errors: -EINVAL zero length or reserved fields; -E2BIG too long;
 * -ENOMEM (memory or RLIMIT_MEMLOCK; at once for more than the memory
 * available, and never by invoking the OOM killer); -ENOSPC all ids in
 * use; -ENOENT.
 */
struct iopbuf_kbuf {
	__u64	len;
	__u32	id;
	__u32	resv;
	__u64	resv2[2];
};

#define IOPBUF_MAX_KBUFS		1024
#define IOPBUF_IOC_KBUF_ALLOC		_IOWR(IOPBUF_IOC_MAGIC, 0x09, struct iopbuf_kbuf)
#define IOPBUF_IOC_KBUF_FREE		_IOW(IOPBUF_IOC_MAGIC, 0x0a, struct iopbuf_kbuf)

/* ------------------------------------------------------------------------
 * Data path: io_uring uring_cmd commands (sqe->cmd_op). Numbers 0x40 and up.
 */

/*
 * IOPBUF_CMD_PROBE: copy struct iopbuf_probe to @addr. @len must be at
 * least sizeof(struct iopbuf_probe). cqe->res: bytes written, or -EFAULT,
 * -EINVAL.
 */
struct iopbuf_cmd_probe {
	__u64	addr;
	__u32	len;
	__u32	resv;
};

#define IOPBUF_CMD_PROBE	_IOWR(IOPBUF_IOC_MAGIC, 0x40, struct iopbuf_cmd_probe)

/*
 * Completions of buffer commands (RECV, READ, SEND).
 *
 * These commands need a ring created with IORING_SETUP_CQE32 (-EINVAL
 * otherwise): cqe->res holds the bytes moved or -errno, and the first extra
 * 64-bit word of the big CQE (cqe->big_cqe[0], "res2") says which buffers
 * they went to:
 *
 *   bit  0 .. 15: bid of the first buffer used (the ring head's entry
 *                 when the command's buffers were selected)
 *   bit 16 .. 31: number of ring entries the data went into, in ring order
 *                 from that bid: through the last entry that received a
 *                 byte, zero-length entries before it included, none
 *                 after it
 *   bit 32 .. 47: IOPBUF_CQE_F_* flags
 *   bit 48 .. 63: reserved, 0
 *
 * BUF_MORE (INC rings only): the last of the counted entries is still in
 * the ring; the application must not recycle it. Usually it is partly
 * consumed and at the head (addr advanced, len reduced). A zero-length
 * entry inside the counted range stops the commit there, as upstream's
 * io_kbuf_inc_commit() does: the entries before it are retired, the head
 * stays on the empty entry, and the entries after it, data included, are
 * left untouched in the ring and will be selected again (their data
 * overwritten) once the empty entry gets a length. Example: entries
 * { bid 0: 100 bytes, bid 1: 0, bid 2: 100 } receiving 150 bytes complete
 * with bid 0, count 3, BUF_MORE (100 bytes in bid 0, 50 at the start of
 * bid 2), head on bid 1. Without BUF_MORE every counted entry was
 * consumed. A command that moved 0 bytes but kept its entry (a 0-byte
 * READ, a SEND of an empty entry, on an INC ring) reports that entry:
 * count 1, BUF_MORE.
 *
 * Without IOPBUF_CQE_F_BUFFER no buffer was consumed and bid and count are
 * 0 (an error, a 0-byte receive at EOF, a cancelled command).
 */
#define IOPBUF_CQE_F_BUFFER	(1U << 0)	/* bid and count are valid */
#define IOPBUF_CQE_F_BUF_MORE	(1U << 1)	/* INC: last buffer stays */
/* SEND: zero copy was requested (registered buffers, a socket that can) */
#define IOPBUF_CQE_F_ZC		(1U << 2)
/* SEND with ZC: the stack copied at least part of the data (loopback...) */
#define IOPBUF_CQE_F_ZC_COPIED	(1U << 3)
/*
 * SEND with ZC, cancelled (exit, ring teardown, IOPBUF_IOC_CANCEL) while
 * the network stack still held the pages: no buffer-release information
 * follows. The module keeps the registered buffers pinned until the stack
 * lets go (IOPBUF_IOC_STATS, sysfs pinned_pages show when).
 */
#define IOPBUF_CQE_F_DETACHED	(1U << 4)

static inline __u16 iopbuf_cqe_bid(__u64 res2)
{
	return (__u16)res2;
}

static inline __u16 iopbuf_cqe_nbufs(__u64 res2)
{
	return (__u16)(res2 >> 16);
}

static inline __u16 iopbuf_cqe_flags(__u64 res2)
{
	return (__u16)(res2 >> 32);
}

static inline __u64 iopbuf_cqe_res2(__u16 bid, __u16 nbufs, __u16 flags)
{
	return (__u64)bid | (__u64)nbufs << 16 | (__u64)flags << 32;
}

/*
 * IOPBUF_CMD_RECV: receive from socket @fd into buffers selected from ring
 * @bgid at execution time.
 * IOPBUF_CMD_READ: the same from a file or pipe @fd, at its file position
 * (like read(2)); regular files, pipes, FIFOs, character devices.
 *
 * One buffer by default: @len (0: the whole entry) bytes of the head entry.
 * With IOPBUF_RECV_BUNDLE, consecutive entries up to @len bytes (0: no
 * limit but max_bundle_bufs entries), picked as upstream's
 * io_ring_buffers_peek() picks them for that byte limit (a zero-length
 * first entry fails with -ENOBUFS when @len is set; without @len it is
 * taken, 0 bytes long, and the data goes to the entries after it).
 * The commit is upstream's: a ring without IOPBUF_RING_INC consumes every
 * entry the data went into; an INC ring advances the partly used entry in
 * place and stops at a zero-length entry (see BUF_MORE above).
 *
 * A bundle RECV is one selection and one receive. Upstream's IORING_OP_RECV
 * bundle (io_recv_buf_select(), io_recv_finish()) is not: its first pass is
 * limited by @len if set, else by the bytes the socket reported queued at an
 * earlier receive of the same request (msg_inq, filled by TCP and, on recent
 * kernels, AF_UNIX stream sockets), and a fresh request has no such report,
 * so without @len the first pass takes a single entry (more only when the
 * request reuses a cached iovec array); when a pass filled all it selected
 * and the socket reports more than 1 byte still queued, upstream runs one
 * more pass of that many bytes and reports both passes in one CQE (res the
 * sum, the first pass's bid). So where an application on upstream sees, for
 * a bundle without @len, one entry, or one entry plus a second pass sized by
 * the queue, this command fills as many entries as the data queued at the
 * receive needs, at most max_bundle_bufs; where upstream may return more
 * than @len (@len plus the queued bytes), this command returns at most @len.
 * Example, a plain ring of 16 128-byte entries, 1000 bytes queued on TCP, no
 * @len: upstream takes entry 0, then 872 bytes' worth of entries, of which
 * it skips the one that would be cut short: res 896 in 7 entries, 104 bytes
 * left queued; this command: res 1000 in 8 entries, the last one consumed
 * with 104 bytes in it. No IORING_CQE_F_SOCK_NONEMPTY either. See
 * docs/design.md.
 *
 * A command finding no data waits for it (poll-driven, no thread blocked);
 * -EAGAIN never reaches the application. An empty ring fails with
 * -ENOBUFS and consumes nothing.
 *
 * Errors: -EBADF bad @fd; -ENOTSOCK (RECV) @fd is not a socket; -ENOENT
 * unknown @bgid; -ENOBUFS empty ring; -EFAULT an entry naming memory that
 * is not there (bad user address, unregistered index, slice beyond its
 * buffer); -E2BIG a bundle needing more than max_bundle_segs segments;
 * -ECANCELED cancelled (IOPBUF_IOC_CANCEL, ring or process exit); -EINVAL
 * bad flags, reserved fields, or a ring without CQE32.
 */
struct iopbuf_cmd_recv {
	__s32	fd;
	__u16	bgid;
	__u16	flags;		/* IOPBUF_RECV_* */
	__u32	len;		/* byte limit, 0 for none */
	__u32	resv;
};

#define IOPBUF_RECV_BUNDLE	(1U << 0)

#define IOPBUF_CMD_RECV		_IOWR(IOPBUF_IOC_MAGIC, 0x41, struct iopbuf_cmd_recv)
#define IOPBUF_CMD_READ		_IOWR(IOPBUF_IOC_MAGIC, 0x42, struct iopbuf_cmd_recv)

/*
 * IOPBUF_CMD_SEND: send on socket @fd from buffers selected from ring @bgid
 * at execution time, in ring order: one entry, or with IOPBUF_SEND_BUNDLE
 * consecutive entries up to @len bytes (0: no limit but max_bundle_bufs).
 * @msg_flags: 0 or MSG_MORE.
 *
 * Entries of an IOPBUF_RING_REGBUF ring go zero copy when the socket
 * supports it (TCP, UDP; IPv4 and IPv6): the pages are handed to the
 * network stack, with one notification object per command however many
 * buffers it sends. Entries holding user addresses are copied, as by
 * send(2).
 *
 * Buffer release: the completion of a zero-copy send is posted only once
 * the network stack has dropped every reference to the pages it sent
 * (after the data is acknowledged for TCP, transmitted for UDP, or copied
 * when the stack had to copy). When the CQE arrives, the buffers it names
 * may be reused: there is no second notification to wait for, miss or
 * count twice. IOPBUF_CQE_F_ZC says zero copy was requested, and
 * IOPBUF_CQE_F_ZC_COPIED that the stack copied anyway. Only a cancelled
 * command completes earlier, with IOPBUF_CQE_F_DETACHED.
 *
 * Consumption: the ring entries are consumed when the data is handed to
 * the socket, not when the completion is posted. A stream socket that
 * takes only part of the selection keeps the rest and sends it when there
 * is room (the data stays contiguous); on an IOPBUF_RING_INC ring the
 * entry is advanced by the bytes sent instead and the command completes.
 * cqe->res: bytes sent, or -errno if none were.
 *
 * Errors: as IOPBUF_CMD_RECV, plus -EPIPE, -ECONNRESET... from the socket.
 */
struct iopbuf_cmd_send {
	__s32	fd;
	__u16	bgid;
	__u16	flags;		/* IOPBUF_SEND_* */
	__u32	len;		/* byte limit, 0 for none */
	__u32	msg_flags;	/* 0 or MSG_MORE */
};

#define IOPBUF_SEND_BUNDLE	(1U << 0)

#define IOPBUF_CMD_SEND		_IOWR(IOPBUF_IOC_MAGIC, 0x43, struct iopbuf_cmd_send)

/* ------------------------------------------------------------------------
 * Buffer lending (the "fused command" idea): one command lends a buffer to
 * a short chain of secondary operations the module runs in order, and
 * completes only after the last of them (and after the network stack has
 * released the pages of any zero-copy send). The buffer's lifetime never
 * crosses commands and the data never passes through user space: read a
 * file into a registered buffer and send it zero copy, receive on one
 * socket and send on another from a kernel-owned buffer, write registered
 * pages to an O_DIRECT file.
 *
 * The chain lives in application memory (struct iopbuf_lend), read once
 * when the command is issued; the SQE carries only its address
 * (struct iopbuf_cmd_lend), so normal 64-byte SQEs suffice.
 */

/* Secondary operations */
#define IOPBUF_LEND_OP_READ	1	/* file, pipe or socket -> buffer */
#define IOPBUF_LEND_OP_WRITE	2	/* buffer -> file, pipe or socket */
#define IOPBUF_LEND_OP_SEND	3	/* buffer -> socket, zero copy */
#define IOPBUF_LEND_OP_RECV	4	/* socket -> buffer */

#define IOPBUF_LEND_MAX_OPS	8

/*
 * One secondary. It uses bytes [@buf_off, @buf_off + @len) of the lent
 * buffer; @len 0 means "as many bytes as the previous secondary moved" (the
 * lent length for the first). A range past the lent length fails with
 * -EFAULT before any I/O. READ and RECV move what is available (at least
 * one byte, waiting if need be; 0 at end of file); WRITE and SEND move all
 * @len bytes. @off: file offset for READ/WRITE on seekable files, or
 * IOPBUF_LEND_POS (-1) for the file position.
 */
struct iopbuf_lend_op {
	__u8	opcode;		/* IOPBUF_LEND_OP_* */
	__u8	resv0;
	__u16	resv1;
	__s32	fd;
	__u64	off;
	__u32	buf_off;
	__u32	len;
};

#define IOPBUF_LEND_POS		(~0ULL)

/*
 * Where the lent buffer comes from. Fields a source does not use must be 0
 * (-EINVAL): @bgid for REGBUF and KBUF, @addr and @len for RING.
 */
#define IOPBUF_LEND_SRC_REGBUF	1	/* @addr: iopbuf_regbuf_encode(), @len (> 0) bytes */
#define IOPBUF_LEND_SRC_KBUF	2	/* @addr: kernel buffer id, @len bytes (0: all) */
#define IOPBUF_LEND_SRC_RING	3	/* next entry of REGBUF ring @bgid */

/*
 * What the secondaries may do with the buffer, as the RFC's buf_dir: READ
 * and RECV fill it (need IN), WRITE and SEND read it (need OUT). A chain
 * needing a direction the lender did not grant fails with -EACCES.
 */
#define IOPBUF_LEND_DIR_IN	(1U << 0)
#define IOPBUF_LEND_DIR_OUT	(1U << 1)

struct iopbuf_lend {
	__u16	src;		/* IOPBUF_LEND_SRC_* */
	__u16	dir;		/* IOPBUF_LEND_DIR_* */
	__u16	nr_ops;		/* 1 .. IOPBUF_LEND_MAX_OPS */
	__u16	bgid;		/* SRC_RING */
	__u32	len;		/* SRC_REGBUF, SRC_KBUF: bytes lent */
	__u32	resv0;
	__u64	addr;		/* see IOPBUF_LEND_SRC_* */
	__u64	results;	/* 0, or user pointer to __s64[nr_ops] */
	__u64	resv[2];
	struct iopbuf_lend_op ops[IOPBUF_LEND_MAX_OPS];
};

/*
 * IOPBUF_CMD_LEND: run the chain at @addr (@len == sizeof(struct
 * iopbuf_lend)). Needs a CQE32 ring.
 *
 * cqe->res: total bytes the secondaries moved, or -errno: of the setup, or
 * of the first secondary that failed (the chain stops there).
 * res2: bit 0..15 bid (SRC_RING, with IOPBUF_CQE_F_BUFFER), bit 16..23 how
 * many secondaries succeeded, bit 24..31 index of the one that failed
 * (0xff: none; also for a setup error not of one secondary, e.g. the lent
 * buffer), bit 32..47 IOPBUF_CQE_F_* (ZC, ZC_COPIED for SENDs).
 * If @results is set, each secondary's result (bytes or -errno; 0 for one
 * that did not run) is written there before the completion is posted;
 * after a setup error, when none ran, it is left alone.
 *
 * No secondary blocks the submitting thread (or an SQPOLL thread): one
 * that would wait parks the command on its file's poll queues. Files that
 * cannot be polled (regular files, block devices, /dev/null) are read and
 * written inline, as pread(2) and pwrite(2) are. A WRITE to a pipe or FIFO
 * moves at most one page per attempt where the kernel cannot write to it
 * without waiting (FIFOs, and pipes before 6.3), and the command waits for
 * room between attempts. A WRITE to any other pollable file that cannot
 * write without waiting (a tty or pty) fails with -EOPNOTSUPP unless the
 * file was opened O_NONBLOCK.
 * The lent range is walked in the buffer's own segment table: any number
 * of segments, no allocation.
 */
struct iopbuf_cmd_lend {
	__u64	addr;
	__u32	len;
	__u32	resv;
};

#define IOPBUF_LEND_NONE	0xff

static inline __u8 iopbuf_lend_done(__u64 res2)
{
	return (__u8)(res2 >> 16);
}

static inline __u8 iopbuf_lend_failed(__u64 res2)
{
	return (__u8)(res2 >> 24);
}

#define IOPBUF_CMD_LEND		_IOWR(IOPBUF_IOC_MAGIC, 0x44, struct iopbuf_cmd_lend)

#endif /* _UAPI_LINUX_IOURING_PBUF_H */
