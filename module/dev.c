// SPDX-License-Identifier: GPL-2.0
/*
 * File operations of /dev/iouring-pbuf: one context per open file, setup
 * through ioctl(2), the data path through io_uring uring_cmd (cmd.c).
 * This file knows every operation by name and implements none of them; what
 * it does itself is about the file: tearing its context down on release and
 * showing its counters (IOPBUF_IOC_STATS, fdinfo).
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "pbuf.h"

static int pbuf_open(struct inode *inode, struct file *file)
{
	struct pbuf_ctx *ctx = pbuf_ctx_create();

	if (!ctx)
		return -ENOMEM;
	file->private_data = ctx;
	return 0;
}

/*
 * The file is being released: drop everything registered. Objects still
 * referenced by in-flight operations live on and drop their context
 * reference when they go.
 */
static int pbuf_release(struct inode *inode, struct file *file)
{
	struct pbuf_ctx *ctx = file->private_data;

	pbuf_ring_unregister_all(ctx);
	pbuf_regbuf_release_all(ctx);
	pbuf_kbuf_free_all(ctx);
	pbuf_ctx_put(ctx);
	return 0;
}

static int pbuf_stats_ioctl(struct pbuf_ctx *ctx, void __user *arg)
{
	struct iopbuf_stats st = {
		.pinned_pages	= atomic_long_read(&ctx->pinned_pages),
		.charged_pages	= atomic_long_read(&ctx->charged_pages),
		.inflight	= atomic_read(&ctx->inflight),
	};
	unsigned long bgid;
	struct pbuf_ring *ring;

	xa_lock(&ctx->bufs);
	st.buf_slots = ctx->nr_bufs;
	st.bufs = ctx->nr_bufs_used;
	xa_unlock(&ctx->bufs);

	xa_lock(&ctx->rings);
	xa_for_each(&ctx->rings, bgid, ring)
		st.rings++;
	xa_unlock(&ctx->rings);

	return copy_to_user(arg, &st, sizeof(st)) ? -EFAULT : 0;
}

static long pbuf_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pbuf_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case IOPBUF_IOC_PROBE:
		return pbuf_probe_ioctl(argp);
	case IOPBUF_IOC_STATS:
		return pbuf_stats_ioctl(ctx, argp);
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
	struct pbuf_ctx *ctx = file->private_data;

	seq_printf(m, "pinned_pages:\t%ld\n",
		   atomic_long_read(&ctx->pinned_pages));
	seq_printf(m, "charged_pages:\t%ld\n",
		   atomic_long_read(&ctx->charged_pages));
	seq_printf(m, "inflight:\t%d\n", atomic_read(&ctx->inflight));
	pbuf_regbuf_show(m, ctx);
	pbuf_ring_show(m, ctx);
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
