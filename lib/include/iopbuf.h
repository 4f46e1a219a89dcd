/* SPDX-License-Identifier: MIT OR LGPL-2.1-or-later */
/*
 * libiouring-pbuf: a small library for applications of /dev/iouring-pbuf.
 *
 *   #include <iopbuf.h>
 *   cc app.c $(pkg-config --cflags --libs iouring-pbuf)
 *
 * It pulls in <liburing.h> (2.3 or newer) and the module's ABI header
 * <linux/iouring_pbuf.h>, which the library installs in a directory of its
 * own, $(includedir)/iouring-pbuf/linux/, out of the kernel's uAPI
 * headers' way; pkg-config's Cflags add -I$(includedir)/iouring-pbuf.
 *
 * Conventions, as liburing's:
 *  - functions returning int return 0 (or a count) on success and -errno
 *    on failure; errno is not part of the interface;
 *  - functions returning a pointer return NULL on failure and store -errno
 *    in *err;
 *  - iopbuf_prep_*() fill every field of an SQE from io_uring_get_sqe()
 *    but user_data, as liburing's io_uring_prep_*() do; set SQE flags
 *    (io_uring_sqe_set_flags()) afterwards;
 *  - the buffer commands (RECV, READ, SEND, LEND) need an io_uring
 *    created with IORING_SETUP_CQE32 (iopbuf_queue_init() adds it), and
 *    their CQEs are decoded with the iopbuf_cqe_*() accessors.
 *
 * Provided-buffer rings have the layout of io_uring's struct
 * io_uring_buf_ring, so the ring functions hand out that type and
 * liburing's io_uring_buf_ring_add(), io_uring_buf_ring_advance() and
 * io_uring_buf_ring_mask() fill and publish them. iopbuf_ring_add_regbuf()
 * adds an entry naming a slice of a registered buffer.
 *
 * Man pages: iouring_pbuf(7) for the device; libiouring-pbuf(3),
 * iopbuf_open(3), iopbuf_register_buffers(3), iopbuf_setup_ring(3),
 * iopbuf_ring_consume(3), iopbuf_prep_send(3) and iopbuf_cqe_get_res2(3)
 * for the library.
 */
#ifndef IOPBUF_H
#define IOPBUF_H

/*
 * <liburing.h> first: it selects the feature macros (_XOPEN_SOURCE) that
 * expose sigset_t, which only works before any libc header pulled in
 * <features.h>; so <iopbuf.h> works first under -std=c99 or -std=c11 too.
 */
#include <liburing.h>
#include <linux/iouring_pbuf.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOPBUF_LIB_VERSION_MAJOR	0
#define IOPBUF_LIB_VERSION_MINOR	1

/* ------------------------------------------------------------------------
 * The device: iopbuf_open(3)
 */

/* A new context: open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC), fd or -errno */
int iopbuf_open(void);

/* IOPBUF_IOC_PROBE into *p. */
int iopbuf_probe(int devfd, struct iopbuf_probe *p);

/*
 * Probe and require ABI version IOPBUF_ABI_VERSION (-EPROTO otherwise) and
 * every IOPBUF_FEAT_* bit of @features (-EOPNOTSUPP otherwise). @p may be
 * NULL; when given it receives the probe in any case where the ioctl
 * worked.
 */
int iopbuf_check(int devfd, __u64 features, struct iopbuf_probe *p);

/*
 * iopbuf_open() and iopbuf_check() in one: the new context's fd, or -errno
 * (the device closed again when the check failed).
 */
int iopbuf_open_check(__u64 features, struct iopbuf_probe *p);

/* IOPBUF_IOC_STATS into *st. */
int iopbuf_stats(int devfd, struct iopbuf_stats *st);

/* IOPBUF_IOC_CANCEL: how many waiting commands were cancelled, or -errno. */
int iopbuf_cancel(int devfd);

/* ------------------------------------------------------------------------
 * Registered buffers: iopbuf_register_buffers(3)
 */

/* A table of @nr slots filled from @iovs (an empty iovec leaves a hole). */
int iopbuf_register_buffers(int devfd, const struct iovec *iovs,
			    unsigned int nr);
/*
 * Map @nr buffers of @size bytes each, one anonymous region, and register
 * them as slots 0 .. @nr - 1: the region (buffer i at i * @size), or NULL
 * with -errno in *err.
 */
void *iopbuf_setup_buffers(int devfd, unsigned int nr, size_t size, int *err);
/* Unregister the table and unmap a region from iopbuf_setup_buffers(). */
int iopbuf_free_buffers(int devfd, void *mem, unsigned int nr, size_t size);
/* A table of @nr empty slots, to be filled with iopbuf_update_buffers(). */
int iopbuf_register_buffers_sparse(int devfd, unsigned int nr);
/* Replace slots [@off, @off + @nr) (an empty iovec clears one). */
int iopbuf_update_buffers(int devfd, unsigned int off,
			  const struct iovec *iovs, unsigned int nr);
int iopbuf_unregister_buffers(int devfd);

/*
 * Kernel-owned buffers for buffer lending (IOPBUF_LEND_SRC_KBUF):
 * allocate @len bytes; the id (1 .. IOPBUF_MAX_KBUFS) or -errno.
 */
int iopbuf_kbuf_alloc(int devfd, __u64 len);
int iopbuf_kbuf_free(int devfd, unsigned int id);

/* ------------------------------------------------------------------------
 * Provided-buffer rings: iopbuf_setup_ring(3)
 */

/* Bytes of memory a ring of @entries entries occupies (page-rounded). */
size_t iopbuf_ring_size(unsigned int entries);

/*
 * Allocate, register and map a ring of @entries entries (a power of two)
 * for buffer group @bgid, with IOPBUF_RING_* @flags and, for
 * IOPBUF_RING_INC, @min_left. With IOPBUF_RING_MMAP the kernel allocates
 * the memory and the library maps it (IOPBUF_OFF_RING(bgid)); otherwise
 * the library allocates page-aligned anonymous memory. The ring starts
 * empty (tail 0). Returns NULL and stores -errno in *err on failure.
 */
struct io_uring_buf_ring *iopbuf_setup_ring(int devfd, unsigned int entries,
					    unsigned int bgid,
					    unsigned int flags,
					    unsigned int min_left, int *err);

/* Unregister a ring set up by iopbuf_setup_ring() and unmap its memory. */
int iopbuf_free_ring(int devfd, struct io_uring_buf_ring *br,
		     unsigned int entries, unsigned int bgid);

/* The raw steps: IOPBUF_IOC_REGISTER_RING (@ring_mem NULL with MMAP)... */
int iopbuf_register_ring(int devfd, void *ring_mem, unsigned int entries,
			 unsigned int bgid, unsigned int flags,
			 unsigned int min_left);
/* ... mmap(2) of an IOPBUF_RING_MMAP ring (munmap iopbuf_ring_size()) ... */
struct io_uring_buf_ring *iopbuf_map_ring(int devfd, unsigned int entries,
					  unsigned int bgid, int *err);
/* ... and IOPBUF_IOC_UNREGISTER_RING. */
int iopbuf_unregister_ring(int devfd, unsigned int bgid);

/* IOPBUF_IOC_RING_STATUS: the kernel's head of ring @bgid into *head. */
int iopbuf_ring_head(int devfd, unsigned int bgid, unsigned int *head);

/* The ring as the module's ABI sees it. */
static inline struct iopbuf_buf *iopbuf_ring_bufs(struct io_uring_buf_ring *br)
{
	return (struct iopbuf_buf *)(void *)br;
}

/*
 * Like io_uring_buf_ring_add(), for rings registered with
 * IOPBUF_RING_REGBUF: the entry names @len bytes at @offset of registered
 * buffer @index. Publish with io_uring_buf_ring_advance().
 */
static inline void iopbuf_ring_add_regbuf(struct io_uring_buf_ring *br,
					  unsigned int index, __u64 offset,
					  unsigned int len, unsigned short bid,
					  int mask, int buf_offset)
{
	struct io_uring_buf *buf = &br->bufs[(br->tail + buf_offset) & mask];

	buf->addr = iopbuf_regbuf_encode(index, offset);
	buf->len = len;
	buf->bid = bid;
}

/*
 * The @n entries a completion used (iopbuf_cqe_get_nbufs()), in ring order
 * from *@head, the application's copy of the kernel's head of ring @br
 * (@entries entries): stores their bids in @bids (room for @n, or NULL),
 * moves *@head past them and returns the sum of their lengths, which is
 * cqe->res for a SEND that sent them all.
 */
static inline unsigned long long
iopbuf_ring_consume(struct io_uring_buf_ring *br, unsigned int entries,
		    unsigned short *head, unsigned int n, unsigned short *bids)
{
	const struct iopbuf_buf *bufs = iopbuf_ring_bufs(br);
	unsigned long long bytes = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct iopbuf_buf *b = &bufs[*head & (entries - 1)];

		(*head)++;
		bytes += b->len;
		if (bids)
			bids[i] = b->bid;
	}
	return bytes;
}

/* ------------------------------------------------------------------------
 * Submission: iopbuf_prep_send(3)
 */

/* io_uring_queue_init() with IORING_SETUP_CQE32 added to @flags. */
static inline int iopbuf_queue_init(unsigned int entries, struct io_uring *ring,
				    unsigned int flags)
{
	return io_uring_queue_init(entries, ring, flags | IORING_SETUP_CQE32);
}

/*
 * Any uring_cmd of the device: IORING_OP_URING_CMD on @devfd with
 * command @cmd_op and a payload of @len (at most 16) bytes. Like
 * liburing's own prep functions it sets every field but user_data, so
 * io_uring_sqe_set_data() may come before or after it; SQE flags
 * (io_uring_sqe_set_flags()) come after.
 */
static inline void iopbuf_prep_cmd(struct io_uring_sqe *sqe, int devfd,
				   __u32 cmd_op, const void *payload,
				   size_t len)
{
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->flags = 0;
	sqe->ioprio = 0;
	sqe->fd = devfd;
	sqe->cmd_op = cmd_op;
	sqe->__pad1 = 0;
	sqe->addr = 0;
	sqe->len = 0;
	sqe->uring_cmd_flags = 0;
	sqe->buf_index = 0;
	sqe->personality = 0;
	sqe->file_index = 0;
	/* the 16-byte command area of a 64-byte SQE */
	memset(sqe->cmd, 0, 16);
	memcpy(sqe->cmd, payload, len < 16 ? len : 16);
}

/* IOPBUF_CMD_PROBE: the probe into *p; cqe->res = sizeof(*p) or -errno. */
static inline void iopbuf_prep_probe(struct io_uring_sqe *sqe, int devfd,
				     struct iopbuf_probe *p)
{
	struct iopbuf_cmd_probe cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.addr = (__u64)(uintptr_t)p;
	cmd.len = sizeof(*p);
	iopbuf_prep_cmd(sqe, devfd, IOPBUF_CMD_PROBE, &cmd, sizeof(cmd));
}

/*
 * RECV, READ and SEND share one payload: struct iopbuf_cmd_send is
 * struct iopbuf_cmd_recv with msg_flags where RECV and READ have resv,
 * which must be 0 (@msg_flags 0 for them).
 */
static inline void iopbuf_prep_xfer_cmd(struct io_uring_sqe *sqe, int devfd,
					__u32 cmd_op, int fd,
					unsigned int bgid, unsigned int flags,
					unsigned int len,
					unsigned int msg_flags)
{
	struct iopbuf_cmd_send cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.fd = fd;
	cmd.bgid = (__u16)bgid;
	cmd.flags = (__u16)flags;
	cmd.len = len;
	cmd.msg_flags = msg_flags;
	iopbuf_prep_cmd(sqe, devfd, cmd_op, &cmd, sizeof(cmd));
}

/*
 * IOPBUF_CMD_RECV: receive from socket @sockfd into ring @bgid; @flags 0
 * or IOPBUF_RECV_BUNDLE; @len byte limit (0: the whole entry, or for a
 * bundle no limit but max_bundle_bufs entries).
 */
static inline void iopbuf_prep_recv(struct io_uring_sqe *sqe, int devfd,
				    int sockfd, unsigned int bgid,
				    unsigned int flags, unsigned int len)
{
	iopbuf_prep_xfer_cmd(sqe, devfd, IOPBUF_CMD_RECV, sockfd, bgid, flags,
			     len, 0);
}

/* IOPBUF_CMD_READ: the same from a file or pipe @fd, at its file position. */
static inline void iopbuf_prep_read(struct io_uring_sqe *sqe, int devfd,
				    int fd, unsigned int bgid,
				    unsigned int flags, unsigned int len)
{
	iopbuf_prep_xfer_cmd(sqe, devfd, IOPBUF_CMD_READ, fd, bgid, flags, len,
			     0);
}

/*
 * IOPBUF_CMD_SEND: send on @sockfd from ring @bgid; @flags 0 or
 * IOPBUF_SEND_BUNDLE; @len byte limit (0: none). @msg_flags: 0 or MSG_MORE.
 * The completion doubles as the release of the buffers it names.
 */
static inline void iopbuf_prep_send_msg_flags(struct io_uring_sqe *sqe,
					      int devfd, int sockfd,
					      unsigned int bgid,
					      unsigned int flags,
					      unsigned int len,
					      unsigned int msg_flags)
{
	iopbuf_prep_xfer_cmd(sqe, devfd, IOPBUF_CMD_SEND, sockfd, bgid, flags,
			     len, msg_flags);
}

static inline void iopbuf_prep_send(struct io_uring_sqe *sqe, int devfd,
				    int sockfd, unsigned int bgid,
				    unsigned int flags, unsigned int len)
{
	iopbuf_prep_send_msg_flags(sqe, devfd, sockfd, bgid, flags, len, 0);
}

/*
 * Buffer lending, IOPBUF_CMD_LEND: start a chain (src IOPBUF_LEND_SRC_*,
 * dir IOPBUF_LEND_DIR_*, @addr and @len as the source needs them, or @bgid
 * for SRC_RING), append secondaries, then prep the command. The chain is
 * read when the command is issued, so it may be reused after
 * io_uring_submit(); the results array, if set, must stay until the CQE.
 */
static inline void iopbuf_lend_init(struct iopbuf_lend *lend, unsigned int src,
				    unsigned int dir, __u64 addr,
				    unsigned int len, unsigned int bgid)
{
	memset(lend, 0, sizeof(*lend));
	lend->src = (__u16)src;
	lend->dir = (__u16)dir;
	lend->addr = addr;
	lend->len = len;
	lend->bgid = (__u16)bgid;
}

/* Append a secondary; its index, or -E2BIG when the chain is full. */
static inline int iopbuf_lend_add(struct iopbuf_lend *lend, unsigned int opcode,
				  int fd, __u64 off, unsigned int buf_off,
				  unsigned int len)
{
	struct iopbuf_lend_op *op;

	if (lend->nr_ops >= IOPBUF_LEND_MAX_OPS)
		return -E2BIG;
	op = &lend->ops[lend->nr_ops];
	memset(op, 0, sizeof(*op));
	op->opcode = (__u8)opcode;
	op->fd = fd;
	op->off = off;
	op->buf_off = buf_off;
	op->len = len;
	return lend->nr_ops++;
}

static inline void iopbuf_prep_lend(struct io_uring_sqe *sqe, int devfd,
				    const struct iopbuf_lend *lend)
{
	struct iopbuf_cmd_lend cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.addr = (__u64)(uintptr_t)lend;
	cmd.len = sizeof(*lend);
	iopbuf_prep_cmd(sqe, devfd, IOPBUF_CMD_LEND, &cmd, sizeof(cmd));
}

/* ------------------------------------------------------------------------
 * Completions: iopbuf_cqe_get_res2(3). @cqe must come from a CQE32 ring.
 */

/* big_cqe[0]: bid (bits 0..15), entries (16..31), IOPBUF_CQE_F_* (32..47) */
static inline __u64 iopbuf_cqe_get_res2(const struct io_uring_cqe *cqe)
{
	return cqe->big_cqe[0];
}

/* cqe->res: bytes moved, or -errno */
static inline int iopbuf_cqe_bytes(const struct io_uring_cqe *cqe)
{
	return cqe->res;
}

/* bid of the first buffer used (valid with iopbuf_cqe_has_buffer()) */
static inline unsigned short iopbuf_cqe_get_bid(const struct io_uring_cqe *cqe)
{
	return iopbuf_cqe_bid(iopbuf_cqe_get_res2(cqe));
}

/* ring entries used, in ring order from that bid */
static inline unsigned int iopbuf_cqe_get_nbufs(const struct io_uring_cqe *cqe)
{
	return iopbuf_cqe_nbufs(iopbuf_cqe_get_res2(cqe));
}

/* IOPBUF_CQE_F_* */
static inline unsigned int iopbuf_cqe_get_flags(const struct io_uring_cqe *cqe)
{
	return iopbuf_cqe_flags(iopbuf_cqe_get_res2(cqe));
}

static inline int iopbuf_cqe_has_buffer(const struct io_uring_cqe *cqe)
{
	return !!(iopbuf_cqe_get_flags(cqe) & IOPBUF_CQE_F_BUFFER);
}

/* INC ring: the last entry used stays at the head, partly consumed */
static inline int iopbuf_cqe_buf_more(const struct io_uring_cqe *cqe)
{
	return !!(iopbuf_cqe_get_flags(cqe) & IOPBUF_CQE_F_BUF_MORE);
}

/* SEND: zero copy was requested */
static inline int iopbuf_cqe_zc(const struct io_uring_cqe *cqe)
{
	return !!(iopbuf_cqe_get_flags(cqe) & IOPBUF_CQE_F_ZC);
}

/* SEND: zero copy was requested but the stack copied (part of) the data */
static inline int iopbuf_cqe_zc_copied(const struct io_uring_cqe *cqe)
{
	return !!(iopbuf_cqe_get_flags(cqe) & IOPBUF_CQE_F_ZC_COPIED);
}

/* SEND: the data went out without being copied */
static inline int iopbuf_cqe_zero_copied(const struct io_uring_cqe *cqe)
{
	return (iopbuf_cqe_get_flags(cqe) &
		(IOPBUF_CQE_F_ZC | IOPBUF_CQE_F_ZC_COPIED)) == IOPBUF_CQE_F_ZC;
}

/*
 * SEND: cancelled while the stack still held the pages; the buffers it
 * names are NOT released yet (watch iopbuf_stats() pinned_pages).
 */
static inline int iopbuf_cqe_detached(const struct io_uring_cqe *cqe)
{
	return !!(iopbuf_cqe_get_flags(cqe) & IOPBUF_CQE_F_DETACHED);
}

/* LEND: secondaries that succeeded, and the index of the one that failed */
static inline unsigned int iopbuf_cqe_lend_done(const struct io_uring_cqe *cqe)
{
	return iopbuf_lend_done(iopbuf_cqe_get_res2(cqe));
}

/* (IOPBUF_LEND_NONE when none did) */
static inline unsigned int
iopbuf_cqe_lend_failed(const struct io_uring_cqe *cqe)
{
	return iopbuf_lend_failed(iopbuf_cqe_get_res2(cqe));
}

#ifdef __cplusplus
}
#endif

#endif /* IOPBUF_H */
