/*
 * CLOCK: the pages stand in a circle in the order they were loaded; a hand
 * points at the oldest.  On a fault the hand sweeps: a page with its
 * Accessed bit set has the bit cleared and is passed; the first page with
 * the bit clear is the victim, the new page takes its place in the circle
 * and the hand moves one past it (Corbató 1968; the BSD and SVR4 page
 * daemons' one-handed clock).
 *
 * The circle and its hand are the shared list read as a circle (ring.h):
 * load order, a new page right behind the hand, i.e. into the victim's
 * place.
 */
#include "policy/policies.h"

#include <stdio.h>

static uint32_t clock_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	while (vm_evict_young(e, p->hand, true))
		p->hand = vm_ring_next(p, p->hand);
	return p->hand;
}

static void clock_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	snprintf(buf, len, "%s", (vm_evict_peek(e, frame) & VM_EVICT_A) ? "A" : "");
}

const struct vm_evict_ops vm_policy_clock = {
	.name = "clock",
	.desc = "one-handed clock over the Accessed bits (second chance without moving pages)",
	.order_desc = "from the hand around the circle (A: Accessed bit set)",
	.flags = VM_EVICT_USES_ABITS,
	.size = sizeof(struct vm_ring),
	.init = vm_ring_init,
	.fini = vm_ring_fini,
	.insert = vm_ring_insert_at_hand,
	.choose = clock_choose,
	.remove = vm_ring_remove_at_hand,
	.order = vm_ring_order_from_hand,
	.note = clock_note,
	.check = vm_ring_check_hand,
};
