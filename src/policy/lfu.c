/*
 * LFU: evict the page used least often while resident (its count starts at
 * 1 when it is loaded and is forgotten when it leaves); among equal counts
 * the least recently used.  Needs every access.  A min-heap on (count, last
 * use): O(log n) per reference.
 */
#include "policy/policies.h"

#include <inttypes.h>
#include <stdio.h>

#include "base/error.h"
#include "policy/heap.h"

struct lfu {
	struct vm_evict e;
	struct vm_heap heap;       /* k1 = uses, k2 = time of the last use */
};

static int lfu_init(struct vm_evict *e)
{
	return vm_heap_init(&((struct lfu *)e)->heap, e->host, e->frames);
}

static void lfu_fini(struct vm_evict *e)
{
	vm_heap_fini(&((struct lfu *)e)->heap, e->host);
}

static void lfu_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	(void)r;
	vm_heap_push(&((struct lfu *)e)->heap, frame, 1, e->now);
}

static void lfu_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct lfu *p = (struct lfu *)e;
	(void)r;
	vm_heap_update(&p->heap, frame, p->heap.k1[frame] + 1, e->now);
}

static uint32_t lfu_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	(void)r;
	return vm_heap_top(&((struct lfu *)e)->heap);
}

static void lfu_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_heap_del(&((struct lfu *)e)->heap, frame);
}

static uint32_t lfu_order(const struct vm_evict *e, uint32_t *frames)
{
	return vm_heap_sorted(&((const struct lfu *)e)->heap, frames);
}

static void lfu_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	snprintf(buf, len, "n=%" PRIu64, ((const struct lfu *)e)->heap.k1[frame]);
}

static int lfu_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct lfu *p = (const struct lfu *)e;
	int rc = vm_heap_check(&p->heap, e->frames, msg, len);
	if (rc == 0 && p->heap.n != e->used)
		rc = vm_check_fail(msg, len, "lfu: %u in the heap, %u resident", p->heap.n, e->used);
	return rc;
}

const struct vm_evict_ops vm_policy_lfu = {
	.name = "lfu",
	.desc = "least frequently used while resident, ties by LRU",
	.order_desc = "next victim first (n = uses since loaded)",
	.flags = VM_EVICT_SEES_ACCESSES,
	.size = sizeof(struct lfu),
	.init = lfu_init,
	.fini = lfu_fini,
	.insert = lfu_insert,
	.access = lfu_access,
	.choose = lfu_choose,
	.remove = lfu_remove,
	.order = lfu_order,
	.note = lfu_note,
	.check = lfu_check,
};
