// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * libiouring-pbuf: provided-buffer rings. The memory is either the
 * application's (anonymous, page-aligned, pinned by the module) or the
 * kernel's (IOPBUF_RING_MMAP, mapped from the device). Either way it is
 * handed out as liburing's struct io_uring_buf_ring, whose layout the
 * module's ring shares byte for byte.
 */
#include <errno.h>
#include <stddef.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../include/iopbuf.h"

_Static_assert(sizeof(struct iopbuf_buf) == sizeof(struct io_uring_buf),
	       "ring entry layout");
_Static_assert(offsetof(struct iopbuf_buf, resv) ==
	       offsetof(struct io_uring_buf_ring, tail), "ring tail layout");

static int iopbuf_ring_ioctl(int devfd, unsigned long req, void *arg)
{
	return ioctl(devfd, req, arg) < 0 ? -errno : 0;
}

size_t iopbuf_ring_size(unsigned int entries)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = (size_t)entries * sizeof(struct iopbuf_buf);

	return (size + page - 1) & ~(page - 1);
}

int iopbuf_register_ring(int devfd, void *ring_mem, unsigned int entries,
			 unsigned int bgid, unsigned int flags,
			 unsigned int min_left)
{
	struct iopbuf_ring_reg reg;

	if (bgid > 0xffff || flags > 0xffff)
		return -EINVAL;
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (__u64)(uintptr_t)ring_mem;
	reg.ring_entries = entries;
	reg.bgid = (__u16)bgid;
	reg.flags = (__u16)flags;
	reg.min_left = min_left;
	return iopbuf_ring_ioctl(devfd, IOPBUF_IOC_REGISTER_RING, &reg);
}

int iopbuf_unregister_ring(int devfd, unsigned int bgid)
{
	struct iopbuf_ring_reg reg;

	if (bgid > 0xffff)
		return -EINVAL;
	memset(&reg, 0, sizeof(reg));
	reg.bgid = (__u16)bgid;
	return iopbuf_ring_ioctl(devfd, IOPBUF_IOC_UNREGISTER_RING, &reg);
}

int iopbuf_ring_head(int devfd, unsigned int bgid, unsigned int *head)
{
	struct iopbuf_ring_status st;
	int ret;

	if (bgid > 0xffff)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	st.bgid = (__u16)bgid;
	ret = iopbuf_ring_ioctl(devfd, IOPBUF_IOC_RING_STATUS, &st);
	if (!ret && head)
		*head = st.head;
	return ret;
}

struct io_uring_buf_ring *iopbuf_map_ring(int devfd, unsigned int entries,
					  unsigned int bgid, int *err)
{
	void *p;

	if (!entries || bgid > 0xffff) {
		*err = -EINVAL;
		return NULL;
	}
	p = mmap(NULL, iopbuf_ring_size(entries), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_POPULATE, devfd, (off_t)IOPBUF_OFF_RING(bgid));
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	*err = 0;
	return p;
}

struct io_uring_buf_ring *iopbuf_setup_ring(int devfd, unsigned int entries,
					    unsigned int bgid,
					    unsigned int flags,
					    unsigned int min_left, int *err)
{
	struct io_uring_buf_ring *br;
	size_t size;
	void *mem;
	int ret;

	/* the kernel checks everything else; these would make bad sizes */
	if (!entries || entries > IOPBUF_MAX_RING_ENTRIES) {
		*err = -EINVAL;
		return NULL;
	}
	size = iopbuf_ring_size(entries);
	if (flags & IOPBUF_RING_MMAP) {
		ret = iopbuf_register_ring(devfd, NULL, entries, bgid, flags,
					   min_left);
		if (ret) {
			*err = ret;
			return NULL;
		}
		br = iopbuf_map_ring(devfd, entries, bgid, &ret);
		if (!br) {
			iopbuf_unregister_ring(devfd, bgid);
			*err = ret;
			return NULL;
		}
	} else {
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (mem == MAP_FAILED) {
			*err = -errno;
			return NULL;
		}
		ret = iopbuf_register_ring(devfd, mem, entries, bgid, flags,
					   min_left);
		if (ret) {
			munmap(mem, size);
			*err = ret;
			return NULL;
		}
		br = mem;
	}
	io_uring_buf_ring_init(br);
	*err = 0;
	return br;
}

int iopbuf_free_ring(int devfd, struct io_uring_buf_ring *br,
		     unsigned int entries, unsigned int bgid)
{
	int ret = iopbuf_unregister_ring(devfd, bgid);

	/*
	 * Unmap even if unregistering failed: the module keeps its own
	 * reference to the memory for as long as the ring exists.
	 */
	if (br && entries)
		munmap(br, iopbuf_ring_size(entries));
	return ret;
}
