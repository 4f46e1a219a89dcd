// SPDX-License-Identifier: MIT OR LGPL-2.1-or-later
/*
 * libiouring-pbuf: the device, the probe, statistics, cancelation and the
 * registered buffer table. Thin wrappers over ioctl(2) that return -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

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
