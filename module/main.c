// SPDX-License-Identifier: GPL-2.0
/*
 * iouring-pbuf: module entry, the misc device and its module-wide counters.
 */
#include <linux/build_bug.h>
#include <linux/device.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "pbuf.h"

struct pbuf_global pbuf_global;
DEFINE_PER_CPU(struct pbuf_pcpu_stats, pbuf_pcpu_stats);
struct workqueue_struct *pbuf_wq;

/*
 * 0666 by default, like /dev/net/tun: every operation acts on the caller's
 * own memory and file descriptors, and pinned memory is charged to the
 * caller's RLIMIT_MEMLOCK. Sites that want to restrict it load the module
 * with mode=0660 and give the device a group with a udev rule.
 */
static ushort mode = 0666;
module_param(mode, ushort, 0444);
MODULE_PARM_DESC(mode, "Device node permissions: 0600, 0660 or 0666 (default)");

static ssize_t pinned_pages_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(&pbuf_global.pinned_pages));
}
static DEVICE_ATTR_RO(pinned_pages);

static ssize_t charged_pages_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n",
			  atomic_long_read(&pbuf_global.charged_pages));
}
static DEVICE_ATTR_RO(charged_pages);

static ssize_t contexts_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&pbuf_global.contexts));
}
static DEVICE_ATTR_RO(contexts);

static ssize_t inflight_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	/* a sum racing with updates may dip below zero for a moment */
	return sysfs_emit(buf, "%ld\n", max(pbuf_stat_sum(inflight), 0L));
}
static DEVICE_ATTR_RO(inflight);

static ssize_t notifs_show(struct device *dev,
			   struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", max(pbuf_stat_sum(notifs), 0L));
}
static DEVICE_ATTR_RO(notifs);

/* Command objects allocated because a context's cache had none to reuse. */
static ssize_t cache_misses_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", pbuf_stat_sum(cache_misses));
}
static DEVICE_ATTR_RO(cache_misses);

static struct attribute *pbuf_attrs[] = {
	&dev_attr_pinned_pages.attr,
	&dev_attr_charged_pages.attr,
	&dev_attr_contexts.attr,
	&dev_attr_inflight.attr,
	&dev_attr_notifs.attr,
	&dev_attr_cache_misses.attr,
	NULL,
};
ATTRIBUTE_GROUPS(pbuf);

static struct miscdevice pbuf_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "iouring-pbuf",
	.fops	= &pbuf_fops,
	.groups	= pbuf_groups,
};

/* The ABI must not change size or layout by accident. */
static void __init pbuf_check_abi(void)
{
	BUILD_BUG_ON(sizeof(struct iopbuf_buf) != 16);
	BUILD_BUG_ON(sizeof(struct iopbuf_buf) != sizeof(struct io_uring_buf));
	BUILD_BUG_ON(offsetof(struct iopbuf_buf, resv) !=
		     offsetof(struct io_uring_buf_ring, tail));
	BUILD_BUG_ON(sizeof(struct iopbuf_probe) != 64);
	BUILD_BUG_ON(sizeof(struct iopbuf_buf_reg) != 40);
	BUILD_BUG_ON(sizeof(struct iopbuf_ring_reg) != 40);
	BUILD_BUG_ON(sizeof(struct iopbuf_ring_status) != 24);
	BUILD_BUG_ON(sizeof(struct iopbuf_stats) != 64);
	/* uring_cmd payloads must fit a normal SQE's 16-byte cmd area */
	BUILD_BUG_ON(sizeof(struct iopbuf_cmd_probe) != 16);
	BUILD_BUG_ON(sizeof(struct iopbuf_cmd_recv) != 16);
	BUILD_BUG_ON(sizeof(struct iopbuf_cmd_send) != 16);
	BUILD_BUG_ON(sizeof(struct iopbuf_cmd_lend) != 16);
	BUILD_BUG_ON(sizeof(struct iopbuf_lend_op) != 24);
	BUILD_BUG_ON(sizeof(struct iopbuf_lend) !=
		     48 + IOPBUF_LEND_MAX_OPS * sizeof(struct iopbuf_lend_op));
	BUILD_BUG_ON(sizeof(struct iopbuf_kbuf) != 32);
	BUILD_BUG_ON(IOPBUF_MAX_BUFS - 1 != IOPBUF_REGBUF_MAX_INDEX);
	BUILD_BUG_ON(PBUF_MAX_BUF_LEN > IOPBUF_REGBUF_MAX_OFFSET);
}

static int __init pbuf_init(void)
{
	int ret;

	pbuf_check_abi();

	if (mode != 0600 && mode != 0660 && mode != 0666) {
		pr_err("mode=%#o not allowed, use 0600, 0660 or 0666\n", mode);
		return -EINVAL;
	}
	pbuf_misc.mode = mode;

	pbuf_wq = alloc_workqueue("iouring_pbuf", WQ_UNBOUND, 0);
	if (!pbuf_wq)
		return -ENOMEM;
	ret = misc_register(&pbuf_misc);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", pbuf_misc.name, ret);
		goto out_wq;
	}
	pr_info("version %s loaded, ABI %d\n", PBUF_VERSION, IOPBUF_ABI_VERSION);
	return 0;
out_wq:
	destroy_workqueue(pbuf_wq);
	return ret;
}

static void __exit pbuf_exit(void)
{
	misc_deregister(&pbuf_misc);
	pbuf_op_exit();
	/*
	 * Zero-copy skbs may outlive every file: their pages are ours until
	 * the stack calls back, and the callback is our code.
	 */
	pbuf_notif_wait_all();
	destroy_workqueue(pbuf_wq);
	/*
	 * Every open file pins the module, so nothing of a context remains
	 * here; a leak would show in the counters.
	 */
	WARN_ON(atomic_long_read(&pbuf_global.pinned_pages));
	WARN_ON(atomic_long_read(&pbuf_global.charged_pages));
}

module_init(pbuf_init);
module_exit(pbuf_exit);

MODULE_AUTHOR("iouring-pbuf developers");
MODULE_DESCRIPTION("io_uring provided-buffer rings over registered buffers");
MODULE_LICENSE("GPL");
MODULE_VERSION(PBUF_VERSION);
