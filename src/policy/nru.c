/*
 * NRU, not recently used (Tanenbaum, Modern Operating Systems §3.4.2): each
 * clock tick clears every Accessed bit; on a fault the pages fall into four
 * classes by their bits, 0 = not referenced and clean, 1 = not referenced
 * and dirty, 2 = referenced and clean, 3 = referenced and dirty, and the
 * victim is a random page of the lowest non-empty class (drawn from the
 * policy's seeded RNG).
 *
 * Cost: a tick and a choice each look at every resident page (O(n)), as a
 * page daemon scanning the core map would.
 */
#include "policy/policies.h"

#include <stdio.h>

/* The state is the shared list (ring.h) in load order, newest at head->next. */

static unsigned nru_class(struct vm_evict *e, uint32_t f)
{
	return (vm_evict_young(e, f, false) ? 2u : 0u) | (vm_evict_dirty(e, f) ? 1u : 0u);
}

static uint32_t nru_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	uint64_t count[4] = { 0 };
	unsigned lowest;
	(void)r;

	vm_ring_for_each(p, f)
		count[nru_class(e, f)]++;
	for (lowest = 0; lowest < 3 && count[lowest] == 0; lowest++)
		;
	uint64_t k = vm_rng_below(&e->rng, count[lowest]);
	vm_ring_for_each(p, f)
		if (nru_class(e, f) == lowest && k-- == 0)
			return f;
	return vm_ilist_last(p->link, VM_RING_HEAD(p));     /* not reached */
}

/* The clock interrupt: clear every Accessed bit. */
static void nru_tick(struct vm_evict *e)
{
	struct vm_ring *p = (struct vm_ring *)e;
	vm_ring_for_each(p, f)
		vm_evict_young(e, f, true);
}

static void nru_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	unsigned b = vm_evict_peek(e, frame);
	snprintf(buf, len, "c%u", ((b & VM_EVICT_A) ? 2u : 0u) | ((b & VM_EVICT_D) ? 1u : 0u));
}

const struct vm_evict_ops vm_policy_nru = {
	.name = "nru",
	.desc = "not recently used: a random page of the lowest (Accessed, Dirty) class; ticks clear A",
	.order_desc = "load order (cN: class N = 2*A + D)",
	.flags = VM_EVICT_USES_ABITS | VM_EVICT_TICKS,
	.size = sizeof(struct vm_ring),
	.init = vm_ring_init,
	.fini = vm_ring_fini,
	.insert = vm_ring_insert,
	.choose = nru_choose,
	.remove = vm_ring_remove,
	.tick = nru_tick,
	.order = vm_ring_order,
	.note = nru_note,
	.check = vm_ring_check,
};
