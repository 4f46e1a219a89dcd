// SPDX-License-Identifier: GPL-2.0
/*
 * Per-open contexts: the object, its release and its cache of command
 * objects. Taking and dropping a reference are inlines in pbuf.h, so the
 * objects a context owns need nothing of this file; what the file does with
 * its context (teardown, statistics, fdinfo) is in dev.c.
 */
#include <linux/slab.h>

#include "pbuf.h"

struct pbuf_ctx *pbuf_ctx_create(void)
{
	struct pbuf_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL_ACCOUNT);

	if (!ctx)
		return NULL;
	kref_init(&ctx->ref);
	mutex_init(&ctx->setup_lock);
	xa_init(&ctx->bufs);
	xa_init(&ctx->rings);
	xa_init_flags(&ctx->kbufs, XA_FLAGS_ALLOC1);
	spin_lock_init(&ctx->op_lock);
	INIT_LIST_HEAD(&ctx->ops);
	spin_lock_init(&ctx->cache_lock);
	atomic_inc(&pbuf_global.contexts);
	return ctx;
}

/* After a grace period: a callback may still be unlocking n->lock. */
static void pbuf_notif_cache_free(struct pbuf_notif *n)
{
	kfree(n->refs);
	kfree_rcu(n, rcu);
}

static void pbuf_op_cache_free(struct pbuf_op *op)
{
	if (op->spare_notif)
		pbuf_notif_cache_free(op->spare_notif);
	pbuf_bufsel_free(&op->bs);
	kfree(op->lend);
	kfree(op);
}

/* Take an object off @l, or NULL when it is empty. */
static struct pbuf_free_node *pbuf_cache_pop(struct pbuf_ctx *ctx,
					     struct pbuf_free_list *l)
{
	struct pbuf_free_node *node;

	spin_lock(&ctx->cache_lock);
	node = l->head;
	if (node) {
		l->head = node->next;
		l->nr--;
	}
	spin_unlock(&ctx->cache_lock);
	return node;
}

/* Put an object on @l. Return: false when @l is full (free it instead). */
static bool pbuf_cache_push(struct pbuf_ctx *ctx, struct pbuf_free_list *l,
			    struct pbuf_free_node *node)
{
	bool kept = false;

	spin_lock(&ctx->cache_lock);
	if (l->nr < PBUF_CACHE_MAX) {
		node->next = l->head;
		l->head = node;
		l->nr++;
		kept = true;
	}
	spin_unlock(&ctx->cache_lock);
	return kept;
}

/* The last reference went (pbuf_ctx_put()). */
void pbuf_ctx_release(struct kref *ref)
{
	struct pbuf_ctx *ctx = container_of(ref, struct pbuf_ctx, ref);
	struct pbuf_free_node *node;

	/*
	 * Every op ended before its command's file was released, and every
	 * notification is freed by its op or holds a reference itself
	 * (detached): all are cached by now.
	 */
	if (ctx->hot_op)
		pbuf_op_cache_free(ctx->hot_op);
	while ((node = pbuf_cache_pop(ctx, &ctx->op_cache)))
		pbuf_op_cache_free(container_of(node, struct pbuf_op,
						cache_node));
	while ((node = pbuf_cache_pop(ctx, &ctx->notif_cache)))
		pbuf_notif_cache_free(container_of(node, struct pbuf_notif,
						   cache_node));
	WARN_ON_ONCE(atomic_long_read(&ctx->pinned_pages));
	WARN_ON_ONCE(atomic_long_read(&ctx->charged_pages));
	xa_destroy(&ctx->bufs);
	xa_destroy(&ctx->rings);
	xa_destroy(&ctx->kbufs);
	mutex_destroy(&ctx->setup_lock);
	kfree(ctx);
	atomic_dec(&pbuf_global.contexts);
}

/*
 * The per-context object cache. A command takes its op (and a zero-copy
 * send its notification) from here and gives it back when it ends, so in
 * steady state no command allocates: only a miss (an empty cache, or arrays
 * too small for a bigger bundle) does, and counts in cache_misses. An op
 * lives within its command, whose file keeps the context alive; its
 * notification is freed by it or, once detached, holds a context reference
 * itself: so the cache outlives every object taken from it.
 *
 * pbuf_ctx_op_get() (include/pbuf.h) found no hot op: one from the cache,
 * or a new one.
 */
struct pbuf_op *pbuf_ctx_op_get_cached(struct pbuf_ctx *ctx)
{
	struct pbuf_free_node *node;
	struct pbuf_op *op;

	node = pbuf_cache_pop(ctx, &ctx->op_cache);
	if (node) {
		op = container_of(node, struct pbuf_op, cache_node);
		/* up to cache_node: see struct pbuf_op */
		memset(op, 0, offsetof(struct pbuf_op, cache_node));
		return op;
	}
	pbuf_stat_add(cache_misses, 1);
	op = kzalloc(sizeof(*op), GFP_KERNEL_ACCOUNT);
	if (op)
		pbuf_bufsel_setup(&op->bs);
	return op;
}

/* pbuf_ctx_op_put() found a hot op already there: cache or free @op. */
void pbuf_ctx_op_put_cached(struct pbuf_ctx *ctx, struct pbuf_op *op)
{
	if (!pbuf_cache_push(ctx, &ctx->op_cache, &op->cache_node))
		pbuf_op_cache_free(op);
}

/* A notification object: lock and work initialized, fields not reset. */
struct pbuf_notif *pbuf_ctx_notif_get(struct pbuf_ctx *ctx)
{
	struct pbuf_free_node *node = pbuf_cache_pop(ctx, &ctx->notif_cache);

	return node ? container_of(node, struct pbuf_notif, cache_node) : NULL;
}

void pbuf_ctx_notif_put(struct pbuf_ctx *ctx, struct pbuf_notif *n)
{
	if (!pbuf_cache_push(ctx, &ctx->notif_cache, &n->cache_node))
		pbuf_notif_cache_free(n);
}
