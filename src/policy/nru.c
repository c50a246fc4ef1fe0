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

#include "base/error.h"

struct nru {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: load order, newest at head->next */
};

#define HEAD(p) ((p)->e.frames)

static int nru_init(struct vm_evict *e)
{
	struct nru *p = (struct nru *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	return 0;
}

static void nru_fini(struct vm_evict *e)
{
	vm_evict_free(e, ((struct nru *)e)->link);
}

static void nru_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct nru *p = (struct nru *)e;
	(void)r;
	vm_ilist_add(p->link, frame, HEAD(p));
}

static unsigned nru_class(struct vm_evict *e, uint32_t f)
{
	return (vm_evict_young(e, f, false) ? 2u : 0u) | (vm_evict_dirty(e, f) ? 1u : 0u);
}

static uint32_t nru_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct nru *p = (struct nru *)e;
	uint64_t count[4] = { 0 };
	unsigned lowest;
	(void)r;

	for (uint32_t f = vm_ilist_last(p->link, HEAD(p)); f != HEAD(p); f = p->link[f].prev)
		count[nru_class(e, f)]++;
	for (lowest = 0; lowest < 3 && count[lowest] == 0; lowest++)
		;
	uint64_t k = vm_rng_below(&e->rng, count[lowest]);
	for (uint32_t f = vm_ilist_last(p->link, HEAD(p)); f != HEAD(p); f = p->link[f].prev)
		if (nru_class(e, f) == lowest && k-- == 0)
			return f;
	return vm_ilist_last(p->link, HEAD(p));     /* not reached */
}

static void nru_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_ilist_del(((struct nru *)e)->link, frame);
}

/* The clock interrupt: clear every Accessed bit. */
static void nru_tick(struct vm_evict *e)
{
	struct nru *p = (struct nru *)e;
	for (uint32_t f = vm_ilist_last(p->link, HEAD(p)); f != HEAD(p); f = p->link[f].prev)
		vm_evict_young(e, f, true);
}

static uint32_t nru_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct nru *p = (const struct nru *)e;
	return vm_ilist_order(p->link, HEAD(p), frames);
}

static void nru_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	unsigned b = vm_evict_peek(e, frame);
	snprintf(buf, len, "c%u", ((b & VM_EVICT_A) ? 2u : 0u) | ((b & VM_EVICT_D) ? 1u : 0u));
}

static int nru_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct nru *p = (const struct nru *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc == 0 && n != e->used)
		rc = vm_check_fail(msg, len, "nru: %u listed, %u resident", n, e->used);
	return rc;
}

const struct vm_evict_ops vm_policy_nru = {
	.name = "nru",
	.desc = "not recently used: a random page of the lowest (Accessed, Dirty) class; ticks clear A",
	.order_desc = "load order (cN: class N = 2*A + D)",
	.flags = VM_EVICT_USES_ABITS | VM_EVICT_TICKS,
	.size = sizeof(struct nru),
	.init = nru_init,
	.fini = nru_fini,
	.insert = nru_insert,
	.choose = nru_choose,
	.remove = nru_remove,
	.tick = nru_tick,
	.order = nru_order,
	.note = nru_note,
	.check = nru_check,
};
