/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Native io_uring bits the oldest liburing of the matrix (2.3, Debian
 * bookworm) lacks in its headers, although the kernels have them: one
 * place for the tests (recv_diff.c, send_diff.c) and tools/bench. Each is
 * the kernel's uAPI value; a newer liburing's own definition wins.
 */
#ifndef IOPBUF_TESTS_URING_COMPAT_H
#define IOPBUF_TESTS_URING_COMPAT_H

#include <liburing.h>

/* buffer rings with incremental consumption (6.12) */
#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC		2
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE		(1U << 4)
#endif
/* receive bundles (6.10) */
#ifndef IORING_RECVSEND_BUNDLE
#define IORING_RECVSEND_BUNDLE		(1U << 4)
#endif
#ifndef IORING_FEAT_RECVSEND_BUNDLE
#define IORING_FEAT_RECVSEND_BUNDLE	(1U << 14)
#endif
/* SEND_ZC's copy report (6.1 stable has it, liburing 2.3 does not) */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE	(1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED	(1U << 31)
#endif

#endif /* IOPBUF_TESTS_URING_COMPAT_H */
