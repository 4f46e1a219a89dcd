// SPDX-License-Identifier: GPL-2.0
/*
 * The probe: ABI version, features and limits, for ioctl and uring_cmd.
 */
#include <linux/string.h>
#include <linux/uaccess.h>

#include "pbuf.h"

#define PBUF_FEATURES	(IOPBUF_FEAT_PROBE_CMD | IOPBUF_FEAT_REGBUF |	\
			 IOPBUF_FEAT_RING | IOPBUF_FEAT_RING_MMAP |	\
			 IOPBUF_FEAT_RING_INC | IOPBUF_FEAT_RING_REGBUF |	\
			 IOPBUF_FEAT_STATS | IOPBUF_FEAT_RECV |		\
			 IOPBUF_FEAT_SEND_ZC | IOPBUF_FEAT_LEND)

void pbuf_probe_fill(struct iopbuf_probe *p)
{
	memset(p, 0, sizeof(*p));
	p->abi_version = IOPBUF_ABI_VERSION;
	p->features = PBUF_FEATURES;
	p->max_bufs = IOPBUF_MAX_BUFS;
	p->max_ring_entries = IOPBUF_MAX_RING_ENTRIES;
	p->max_bundle_bufs = PBUF_MAX_BUNDLE_BUFS;
	p->max_bundle_segs = PBUF_MAX_BUNDLE_SEGS;
	p->max_buf_len = PBUF_MAX_BUF_LEN;
}

int pbuf_probe_ioctl(void __user *arg)
{
	struct iopbuf_probe p;

	pbuf_probe_fill(&p);
	return copy_to_user(arg, &p, sizeof(p)) ? -EFAULT : 0;
}
