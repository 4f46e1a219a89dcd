// SPDX-License-Identifier: GPL-2.0
/* The tracepoints' definitions (include/pbuf_trace.h). */
#include "pbuf.h"

#define CREATE_TRACE_POINTS
#include "pbuf_trace.h"
