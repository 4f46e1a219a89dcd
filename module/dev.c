// SPDX-License-Identifier: GPL-2.0
/*
 * File operations of /dev/iouring-pbuf: one context per open file, setup
 * through ioctl(2), the data path through io_uring uring_cmd (cmd.c).
 * This file knows every operation by name and implements none of them.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#include "pbuf.h"

static int pbuf_open(struct inode *inode, struct file *file)
{
	struct pbuf_ctx *ctx = pbuf_ctx_create();

	if (!ctx)
		return -ENOMEM;
	file->private_data = ctx;
	return 0;
}

static int pbuf_release(struct inode *inode, struct file *file)
{
	struct pbuf_ctx *ctx = file->private_data;

	pbuf_ctx_teardown(ctx);
	pbuf_ctx_put(ctx);
	return 0;
}

static long pbuf_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pbuf_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case IOPBUF_IOC_PROBE:
		return pbuf_probe_ioctl(argp);
	case IOPBUF_IOC_STATS:
		return pbuf_ctx_stats(ctx, argp);
	case IOPBUF_IOC_REGISTER_BUFFERS:
		return pbuf_regbuf_register(ctx, argp);
	case IOPBUF_IOC_UPDATE_BUFFERS:
		return pbuf_regbuf_update(ctx, argp);
	case IOPBUF_IOC_UNREGISTER_BUFFERS:
		return pbuf_regbuf_unregister_all(ctx);
	case IOPBUF_IOC_REGISTER_RING:
		return pbuf_ring_register(ctx, argp);
	case IOPBUF_IOC_UNREGISTER_RING:
		return pbuf_ring_unregister(ctx, argp);
	case IOPBUF_IOC_RING_STATUS:
		return pbuf_ring_status(ctx, argp);
	case IOPBUF_IOC_CANCEL:
		return pbuf_op_cancel_all(ctx);
	case IOPBUF_IOC_KBUF_ALLOC:
		return pbuf_kbuf_alloc_ioctl(ctx, argp);
	case IOPBUF_IOC_KBUF_FREE:
		return pbuf_kbuf_free_ioctl(ctx, argp);
	}
	return -ENOTTY;
}

static int pbuf_mmap(struct file *file, struct vm_area_struct *vma)
{
	return pbuf_ring_mmap(file->private_data, vma);
}

static void pbuf_show_fdinfo(struct seq_file *m, struct file *file)
{
	pbuf_ctx_show(m, file->private_data);
}

const struct file_operations pbuf_fops = {
	.owner		= THIS_MODULE,
	.open		= pbuf_open,
	.release	= pbuf_release,
	.unlocked_ioctl	= pbuf_ioctl,
	/* every argument is a pointer to a layout-identical struct */
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= pbuf_mmap,
	.uring_cmd	= pbuf_uring_cmd,
	.show_fdinfo	= pbuf_show_fdinfo,
	.llseek		= noop_llseek,
};
