/*
 * Second chance: FIFO that spares a page whose Accessed bit is set, clearing
 * the bit and moving the page to the back of the queue.  Victims are the
 * same as CLOCK's; the queue moves instead of a hand.
 *
 * The queue is the shared list (ring.h): newest at head->next, oldest at
 * head->prev.
 */
#include "policy/policies.h"

#include <stdio.h>

static uint32_t sc_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	/* Ends within one lap: every spared page has its bit cleared. */
	for (;;) {
		uint32_t f = vm_ilist_last(p->link, VM_RING_HEAD(p));
		if (!vm_evict_young(e, f, true))
			return f;
		vm_ilist_move(p->link, f, VM_RING_HEAD(p));
	}
}

static void sc_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	snprintf(buf, len, "%s", (vm_evict_peek(e, frame) & VM_EVICT_A) ? "A" : "");
}

const struct vm_evict_ops vm_policy_second_chance = {
	.name = "second-chance",
	.desc = "FIFO that requeues a page whose Accessed bit is set (clearing it)",
	.order_desc = "oldest -> newest (A: Accessed bit set)",
	.flags = VM_EVICT_USES_ABITS,
	.size = sizeof(struct vm_ring),
	.init = vm_ring_init,
	.fini = vm_ring_fini,
	.insert = vm_ring_insert,
	.choose = sc_choose,
	.remove = vm_ring_remove,
	.order = vm_ring_order,
	.note = sc_note,
	.check = vm_ring_check,
};
