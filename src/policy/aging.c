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

#include "base/error.h"

struct aging {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: load order, newest at head->next */
	uint8_t *counter;          /* per frame: the shift register */
};

#define HEAD(p) ((p)->e.frames)

static int aging_init(struct vm_evict *e)
{
	struct aging *p = (struct aging *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	p->counter = vm_evict_alloc(e, e->frames, sizeof(*p->counter));
	if (!p->link || !p->counter)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	return 0;
}

static void aging_fini(struct vm_evict *e)
{
	struct aging *p = (struct aging *)e;
	vm_evict_free(e, p->link);
	vm_evict_free(e, p->counter);
}

static void aging_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct aging *p = (struct aging *)e;
	(void)r;
	p->counter[frame] = 0;
	vm_ilist_add(p->link, frame, HEAD(p));
}

static uint32_t aging_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct aging *p = (struct aging *)e;
	uint32_t best = VM_EVICT_NONE;
	unsigned best_v = ~0u;
	(void)r;

	for (uint32_t f = vm_ilist_last(p->link, HEAD(p)); f != HEAD(p); f = p->link[f].prev) {
		unsigned v = (vm_evict_young(e, f, false) ? 0x100u : 0u) | p->counter[f];
		if (v < best_v) {
			best_v = v;
			best = f;
		}
	}
	return best;
}

static void aging_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_ilist_del(((struct aging *)e)->link, frame);
}

static void aging_tick(struct vm_evict *e)
{
	struct aging *p = (struct aging *)e;
	for (uint32_t f = vm_ilist_last(p->link, HEAD(p)); f != HEAD(p); f = p->link[f].prev)
		p->counter[f] = (uint8_t)((p->counter[f] >> 1) |
					  (vm_evict_young(e, f, true) ? 0x80u : 0u));
}

static uint32_t aging_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct aging *p = (const struct aging *)e;
	return vm_ilist_order(p->link, HEAD(p), frames);
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

static int aging_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct aging *p = (const struct aging *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc == 0 && n != e->used)
		rc = vm_check_fail(msg, len, "aging: %u listed, %u resident", n, e->used);
	return rc;
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
	.remove = aging_remove,
	.tick = aging_tick,
	.order = aging_order,
	.note = aging_note,
	.check = aging_check,
};
