/*
 * FIFO: evict the page that entered memory first, whatever its use.  The
 * classic victim of Belady's anomaly (more frames, more faults).
 *
 * The queue is the shared list (ring.h): newest at head->next.
 */
#include "policy/policies.h"

static uint32_t fifo_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	return vm_ilist_last(p->link, VM_RING_HEAD(p));
}

const struct vm_evict_ops vm_policy_fifo = {
	.name = "fifo",
	.desc = "first in, first out: evict the page loaded longest ago",
	.order_desc = "first in -> last in",
	.flags = 0,
	.size = sizeof(struct vm_ring),
	.init = vm_ring_init,
	.fini = vm_ring_fini,
	.insert = vm_ring_insert,
	.choose = fifo_choose,
	.remove = vm_ring_remove,
	.order = vm_ring_order,
	.check = vm_ring_check,
};
