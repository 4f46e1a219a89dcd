// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * libiouring-pbuf: the device, the probe, statistics, cancelation and the
 * registered buffer table. Thin wrappers over ioctl(2) that return -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../include/iopbuf.h"

/* ioctl(2) in the -errno convention; the device never returns > 0 but CANCEL */
static int iopbuf_ioctl(int devfd, unsigned long req, void *arg)
{
	int ret = ioctl(devfd, req, arg);

	return ret < 0 ? -errno : ret;
}

int iopbuf_open(void)
{
	int fd = open(IOPBUF_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int iopbuf_probe(int devfd, struct iopbuf_probe *p)
{
	return iopbuf_ioctl(devfd, IOPBUF_IOC_PROBE, p);
}

int iopbuf_check(int devfd, __u64 features, struct iopbuf_probe *p)
{
	struct iopbuf_probe local;
	int ret;

	if (!p)
		p = &local;
	ret = iopbuf_probe(devfd, p);
	if (ret)
		return ret;
	if (p->abi_version != IOPBUF_ABI_VERSION)
		return -EPROTO;
	if ((p->features & features) != features)
		return -EOPNOTSUPP;
	return 0;
}

int iopbuf_open_check(__u64 features, struct iopbuf_probe *p)
{
	int fd = iopbuf_open(), ret;

	if (fd < 0)
		return fd;
	ret = iopbuf_check(fd, features, p);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int iopbuf_stats(int devfd, struct iopbuf_stats *st)
{
	return iopbuf_ioctl(devfd, IOPBUF_IOC_STATS, st);
}

int iopbuf_cancel(int devfd)
{
	return iopbuf_ioctl(devfd, IOPBUF_IOC_CANCEL, NULL);
}

static int iopbuf_buf_reg(int devfd, unsigned long req,
			  const struct iovec *iovs, unsigned int nr,
			  unsigned int off, unsigned int flags)
{
	struct iopbuf_buf_reg reg;

	memset(&reg, 0, sizeof(reg));
	reg.iovs = (__u64)(uintptr_t)iovs;
	reg.nr = nr;
	reg.offset = off;
	reg.flags = flags;
	return iopbuf_ioctl(devfd, req, &reg);
}

int iopbuf_register_buffers(int devfd, const struct iovec *iovs,
			    unsigned int nr)
{
	return iopbuf_buf_reg(devfd, IOPBUF_IOC_REGISTER_BUFFERS, iovs, nr, 0, 0);
}

void *iopbuf_setup_buffers(int devfd, unsigned int nr, size_t size, int *err)
{
	struct iovec *iovs;
	unsigned char *mem;
	unsigned int i;
	int ret;

	if (!nr || !size || size > SIZE_MAX / nr) {
		*err = -EINVAL;
		return NULL;
	}
	iovs = calloc(nr, sizeof(*iovs));
	if (!iovs) {
		*err = -ENOMEM;
		return NULL;
	}
	mem = mmap(NULL, (size_t)nr * size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		*err = -errno;
		free(iovs);
		return NULL;
	}
	for (i = 0; i < nr; i++) {
		iovs[i].iov_base = mem + (size_t)i * size;
		iovs[i].iov_len = size;
	}
	ret = iopbuf_register_buffers(devfd, iovs, nr);
	free(iovs);
	if (ret) {
		munmap(mem, (size_t)nr * size);
		*err = ret;
		return NULL;
	}
	*err = 0;
	return mem;
}

int iopbuf_free_buffers(int devfd, void *mem, unsigned int nr, size_t size)
{
	int ret = iopbuf_unregister_buffers(devfd);

	/* the module keeps buffers a send still holds pinned by itself */
	if (mem && nr && size)
		munmap(mem, (size_t)nr * size);
	return ret;
}

int iopbuf_register_buffers_sparse(int devfd, unsigned int nr)
{
	return iopbuf_buf_reg(devfd, IOPBUF_IOC_REGISTER_BUFFERS, NULL, nr, 0,
			      IOPBUF_BUF_REG_SPARSE);
}

int iopbuf_update_buffers(int devfd, unsigned int off, const struct iovec *iovs,
			  unsigned int nr)
{
	return iopbuf_buf_reg(devfd, IOPBUF_IOC_UPDATE_BUFFERS, iovs, nr, off, 0);
}

int iopbuf_unregister_buffers(int devfd)
{
	return iopbuf_ioctl(devfd, IOPBUF_IOC_UNREGISTER_BUFFERS, NULL);
}

int iopbuf_kbuf_alloc(int devfd, __u64 len)
{
	struct iopbuf_kbuf kb;
	int ret;

	memset(&kb, 0, sizeof(kb));
	kb.len = len;
	ret = iopbuf_ioctl(devfd, IOPBUF_IOC_KBUF_ALLOC, &kb);
	return ret < 0 ? ret : (int)kb.id;
}

int iopbuf_kbuf_free(int devfd, unsigned int id)
{
	struct iopbuf_kbuf kb;

	memset(&kb, 0, sizeof(kb));
	kb.id = id;
	return iopbuf_ioctl(devfd, IOPBUF_IOC_KBUF_FREE, &kb);
}
