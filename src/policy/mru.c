/*
 * MRU: evict the most recently used page.  Good only for a loop larger than
 * memory, where the page just used is the one needed last; it sees every
 * access, as exact LRU does, and keeps the same list (ring.h): MRU at
 * head->next, LRU at head->prev.
 */
#include "policy/policies.h"

static uint32_t mru_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	return vm_ilist_first(p->link, VM_RING_HEAD(p));
}

const struct vm_evict_ops vm_policy_mru = {
	.name = "mru",
	.desc = "most recently used: evict the page used last",
	.order_desc = "LRU -> MRU",
	.flags = VM_EVICT_SEES_ACCESSES,
	.size = sizeof(struct vm_ring),
	.init = vm_ring_init,
	.fini = vm_ring_fini,
	.insert = vm_ring_insert,
	.access = vm_ring_access,
	.choose = mru_choose,
	.remove = vm_ring_remove,
	.order = vm_ring_order,
	.check = vm_ring_check,
};
