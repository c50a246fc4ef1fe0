/*
 * Exact LRU: every hit moves the page to the most-recently-used end; evict
 * the least recently used.  Needs every access (no MMU reports hits), so
 * no operating system can run it; it is the yardstick the realistic
 * policies approximate, and a stack algorithm (no Belady anomaly, one-pass
 * miss-ratio curves: mrc.c).
 *
 * The stack is the shared list (ring.h): MRU at head->next, LRU at
 * head->prev.
 */
#include "policy/policies.h"

static uint32_t lru_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	return vm_ilist_last(p->link, VM_RING_HEAD(p));
}

static void lru_prefetch(const struct vm_evict *e, uint32_t frame, uint64_t key, uint32_t shadow)
{
	(void)key;
	(void)shadow;
	if (frame != VM_EVICT_NONE)
		__builtin_prefetch(&((const struct vm_ring *)e)->link[frame]);
}

const struct vm_evict_ops vm_policy_lru = {
	.name = "lru",
	.desc = "exact least recently used (no MMU reports every access: a yardstick)",
	.order_desc = "LRU -> MRU",
	.flags = VM_EVICT_SEES_ACCESSES,
	.size = sizeof(struct vm_ring),
	.init = vm_ring_init,
	.fini = vm_ring_fini,
	.insert = vm_ring_insert,
	.access = vm_ring_access,
	.choose = lru_choose,
	.remove = vm_ring_remove,
	.order = vm_ring_order,
	.check = vm_ring_check,
	.prefetch = lru_prefetch,
};
