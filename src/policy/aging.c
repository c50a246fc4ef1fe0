/*
 * Aging (Tanenbaum, Modern Operating Systems §3.4.7): an 8-bit counter per
 * page, a software approximation of LRU.  Each clock tick shifts every
 * counter right and puts the page's Accessed bit into the top bit, then
 * clears the Accessed bit; the victim has the smallest counter.
 *
 * Between ticks the pending Accessed bit ranks above every counter bit (it
 * is the most recent information: it becomes the top bit at the next tick),
 * so a page loaded since the last tick is not the first victim; among equal
 * values the page loaded first goes.  A choice and a tick are O(n).
 */
#include "policy/policies.h"

#include <stdio.h>

struct aging {
	struct vm_ring r;          /* load order, newest at head->next */
	uint8_t *counter;          /* per frame: the shift register */
};

static int aging_init(struct vm_evict *e)
{
	struct aging *p = (struct aging *)e;
	int rc = vm_ring_init(e);
	p->counter = vm_evict_alloc(e, e->frames, sizeof(*p->counter));
	return rc == 0 && p->counter ? 0 : -ENOMEM;
}

static void aging_fini(struct vm_evict *e)
{
	vm_ring_fini(e);
	vm_evict_free(e, ((struct aging *)e)->counter);
}

static void aging_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	((struct aging *)e)->counter[frame] = 0;
	vm_ring_insert(e, frame, r);
}

static uint32_t aging_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct aging *p = (struct aging *)e;
	uint32_t best = VM_EVICT_NONE;
	unsigned best_v = ~0u;
	(void)r;

	vm_ring_for_each(&p->r, f) {
		unsigned v = (vm_evict_young(e, f, false) ? 0x100u : 0u) | p->counter[f];
		if (v < best_v) {
			best_v = v;
			best = f;
		}
	}
	return best;
}

static void aging_tick(struct vm_evict *e)
{
	struct aging *p = (struct aging *)e;
	vm_ring_for_each(&p->r, f)
		p->counter[f] = (uint8_t)((p->counter[f] >> 1) |
					  (vm_evict_young(e, f, true) ? 0x80u : 0u));
}

static void aging_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	const struct aging *p = (const struct aging *)e;
	char bits[9];
	for (int i = 0; i < 8; i++)
		bits[i] = (p->counter[frame] & (0x80u >> i)) ? '1' : '0';
	bits[8] = '\0';
	snprintf(buf, len, "%s%s", (vm_evict_peek(e, frame) & VM_EVICT_A) ? "A," : "", bits);
}

const struct vm_evict_ops vm_policy_aging = {
	.name = "aging",
	.desc = "aging: 8-bit shift registers fed by the Accessed bits at each tick; evict the smallest",
	.order_desc = "load order (A: Accessed bit set; then the counter, top bit = last tick)",
	.flags = VM_EVICT_USES_ABITS | VM_EVICT_TICKS,
	.size = sizeof(struct aging),
	.init = aging_init,
	.fini = aging_fini,
	.insert = aging_insert,
	.choose = aging_choose,
	.remove = vm_ring_remove,
	.tick = aging_tick,
	.order = vm_ring_order,
	.note = aging_note,
	.check = vm_ring_check,
};
