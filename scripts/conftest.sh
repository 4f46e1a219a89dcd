#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Compile-test probes: find out which kernel APIs the target tree offers.
#
#   scripts/conftest.sh KDIR OUTPUT_HEADER
#
# Each probe is a small C snippet compiled against the target kernel's
# build tree with -Werror (so a prototype mismatch fails, not warns). A
# probe that compiles yields "#define HAVE_<NAME> 1" in OUTPUT_HEADER, which
# include/compat.h turns into wrappers. Version numbers cannot select these
# APIs: distribution kernels carry backports (Debian's 6.1 has 6.3-era
# uring_cmd signatures), so only the compiler can tell.
set -euo pipefail

kdir=${1:?usage: conftest.sh KDIR OUTPUT_HEADER}
out=${2:?usage: conftest.sh KDIR OUTPUT_HEADER}

probes=()
declare -A probe_src probe_doc

# probe NAME "why" <<'C' ... C
probe() {
	probes+=("$1")
	probe_doc[$1]=$2
	probe_src[$1]=$(cat)
}

probe IOU_CMD_H "uring_cmd API in <linux/io_uring/cmd.h> (b66509b8497f, 6.8)" <<'C'
#include <linux/io_uring/cmd.h>
void pbuf_probe(struct io_uring_cmd *cmd);
void pbuf_probe(struct io_uring_cmd *cmd) { (void)cmd; }
C

probe IOU_CMD_SQE "io_uring_cmd.sqe replaced the .cmd payload pointer (fd9b8547bc5c, 6.4)" <<'C'
#include <linux/io_uring.h>
#if __has_include(<linux/io_uring/cmd.h>)
#include <linux/io_uring/cmd.h>
#endif
const void *pbuf_probe(struct io_uring_cmd *cmd);
const void *pbuf_probe(struct io_uring_cmd *cmd) { return cmd->sqe->cmd; }
C

probe IOU_CMD_DONE32 "io_uring_cmd_done32() posts res2; done() lost it (6.18)" <<'C'
#include <linux/io_uring/cmd.h>
void pbuf_probe(struct io_uring_cmd *cmd);
void pbuf_probe(struct io_uring_cmd *cmd) { io_uring_cmd_done32(cmd, 0, 0, 0); }
C

probe IOU_TW_REQ "task-work callbacks take struct io_tw_req (c33e779aba68, 6.19)" <<'C'
#include <linux/io_uring/cmd.h>
void pbuf_probe_cb(struct io_tw_req tw_req, io_tw_token_t tw);
void pbuf_probe_cb(struct io_tw_req tw_req, io_tw_token_t tw)
{
	(void)io_uring_cmd_from_tw(tw_req);
	(void)tw.cancel;
}
void pbuf_probe(struct io_uring_cmd *cmd);
void pbuf_probe(struct io_uring_cmd *cmd) { io_uring_cmd_complete_in_task(cmd, pbuf_probe_cb); }
C

probe IOU_CMD_GET_TASK "io_uring_cmd_get_task(): the task a command belongs to (6.8)" <<'C'
#include <linux/io_uring/cmd.h>
struct task_struct *pbuf_probe(struct io_uring_cmd *cmd);
struct task_struct *pbuf_probe(struct io_uring_cmd *cmd) { return io_uring_cmd_get_task(cmd); }
C

probe IOU_RING_REFS "the io_uring instance of a request (io_ring_ctx.refs) in <linux/io_uring_types.h> (6.1)" <<'C'
#include <linux/io_uring_types.h>
#include <linux/percpu-refcount.h>
bool pbuf_probe(struct io_uring_cmd *cmd);
bool pbuf_probe(struct io_uring_cmd *cmd)
{
	return percpu_ref_is_dying(&cmd_to_io_kiocb(cmd)->ctx->refs);
}
C

probe IOU_TCTX_IN_IDLE "a request's task and its io_uring_task.in_idle, raised while io_uring cancels the task's requests at exit and exec (6.1; in_cancel from 6.6)" <<'C'
#include <linux/io_uring_types.h>
bool pbuf_probe(struct io_uring_cmd *cmd);
bool pbuf_probe(struct io_uring_cmd *cmd)
{
	struct io_uring_task *tctx = cmd_to_io_kiocb(cmd)->task->io_uring;

	return tctx && atomic_read(&tctx->in_idle);
}
C

probe IOU_CANCEL "cancelable uring_cmds, IO_URING_F_CANCEL (528ce6781726, 6.7)" <<'C'
#include <linux/io_uring.h>
#if __has_include(<linux/io_uring/cmd.h>)
#include <linux/io_uring/cmd.h>
#endif
unsigned int pbuf_probe(struct io_uring_cmd *cmd, unsigned int flags);
unsigned int pbuf_probe(struct io_uring_cmd *cmd, unsigned int flags)
{
	io_uring_cmd_mark_cancelable(cmd, flags);
	return IO_URING_F_CANCEL;
}
C

probe IOU_F_TASK_DEAD "IO_URING_F_TASK_DEAD marks task work run for a dead task (6.14, backported)" <<'C'
#include <linux/io_uring_types.h>
unsigned int pbuf_probe(void);
unsigned int pbuf_probe(void) { return IO_URING_F_TASK_DEAD; }
C

probe UBUF_INFO_OPS "struct ubuf_info carries ops, not a callback (7ab4f16f9e24, 6.10)" <<'C'
#include <linux/skbuff.h>
const struct ubuf_info_ops *pbuf_probe(struct ubuf_info *u);
const struct ubuf_info_ops *pbuf_probe(struct ubuf_info *u) { return u->ops; }
C

probe IOV_ITER_BVEC_FIELDS "iov_iter.bvec, nr_segs, iov_offset and count writable in place: managed frags move a bvec iterator on in one pass (6.1)" <<'C'
#include <linux/bvec.h>
#include <linux/uio.h>
void pbuf_probe(struct iov_iter *i, const struct bio_vec *bv, size_t skip,
		size_t done);
void pbuf_probe(struct iov_iter *i, const struct bio_vec *bv, size_t skip,
		size_t done)
{
	i->nr_segs -= bv - i->bvec;
	i->bvec = bv;
	i->iov_offset = skip;
	i->count -= done;
}
C

# probe_sg_from_iter NAME "why" "PARAMETERS": msghdr.sg_from_iter takes a
# filler with these parameters (the three kernels' forms differ only there)
probe_sg_from_iter() {
	local params=$3
	probe "$1" "$2" <<C
#include <linux/skbuff.h>
#include <linux/socket.h>
int pbuf_probe_fill($params);
int pbuf_probe_fill($params)
{
	return 0;
}
void pbuf_probe(struct msghdr *msg);
void pbuf_probe(struct msghdr *msg) { msg->sg_from_iter = pbuf_probe_fill; }
C
}

probe_sg_from_iter SG_FROM_ITER_SK "msghdr.sg_from_iter(sk, skb, from, length): the filler charges the socket itself (managed frags, 6.0)" \
	"struct sock *sk, struct sk_buff *skb, struct iov_iter *from, size_t length"

probe_sg_from_iter SG_FROM_ITER_SKB "msghdr.sg_from_iter(skb, from, length): __zerocopy_sg_from_iter() charges the socket (6.4)" \
	"struct sk_buff *skb, struct iov_iter *from, size_t length"

probe_sg_from_iter SG_FROM_ITER_UBUF "msghdr.sg_from_iter(skb, ubuf, from, length): the notification passed along (proposed 2026)" \
	"struct sk_buff *skb, struct ubuf_info *ubuf, struct iov_iter *from, size_t length"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

{
	echo 'ccflags-y := -Werror'
	for p in "${probes[@]}"; do
		echo "obj-m += probe_${p}.o"
		printf '%s\n' "${probe_src[$p]}" >"$tmp/probe_${p}.c"
	done
} >"$tmp/Kbuild"

# Kbuild runs this script from inside the kernel's own make, whose
# exported state (MAKEFLAGS with M=, KBUILD_EXTMOD, sub_make_done, ...)
# would point the nested make back at the module: start it from a clean
# environment, keeping only the toolchain choice.
args=()
for v in ARCH CROSS_COMPILE LLVM CC; do
	if [ -n "${!v:-}" ]; then args+=("$v=${!v}"); fi
done
# -k: a failing probe must not stop the others; modpost is not needed.
env -i PATH="$PATH" HOME="${HOME:-/}" ${TMPDIR:+TMPDIR="$TMPDIR"} \
	make -C "$kdir" M="$tmp" "${args[@]}" -k -j"$(nproc)" modules \
	>"$tmp/build.log" 2>&1 || true

mkdir -p "$(dirname "$out")"
{
	echo "/* Generated by scripts/conftest.sh for $kdir; do not edit. */"
	echo "#ifndef _PBUF_COMPAT_AUTOCONF_H"
	echo "#define _PBUF_COMPAT_AUTOCONF_H"
	for p in "${probes[@]}"; do
		echo "/* ${probe_doc[$p]} */"
		if [ -s "$tmp/probe_${p}.o" ]; then
			echo "#define HAVE_${p} 1"
		else
			echo "/* #undef HAVE_${p} */"
		fi
	done
	echo "#endif"
} >"$out.tmp"

# Keep the timestamp when nothing changed, so make does not rebuild.
if cmp -s "$out.tmp" "$out"; then
	rm -f "$out.tmp"
else
	mv "$out.tmp" "$out"
fi

if [ -n "${V:-}" ]; then
	cat "$tmp/build.log" >&2
fi
