/*
 * SIEVE (Zhang, Yang, Yue, Vigfusson, Rashmi; NSDI 2024): a FIFO queue,
 * new pages at the head, and a hand that moves from the tail towards the
 * head.  A hit sets the page's visited bit; on a miss the hand passes
 * visited pages, clearing the bit, and evicts the first unvisited one,
 * staying where it was (pages it passed are not moved); at the head it
 * wraps to the tail.
 *
 * The visited bit is the Accessed bit, so SIEVE needs nothing an MMU does
 * not give.  The paper inserts new objects unvisited: insert() clears the
 * Accessed bit the faulting access set (as a kernel that maps prefaulted
 * pages old would).
 */
#include "policy/policies.h"

#include <stdio.h>

#include "base/error.h"

struct sieve {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: head->next newest, head->prev oldest (tail) */
	uint32_t hand;             /* where the next sweep starts, or VM_EVICT_NONE: the tail */
};

#define HEAD(p) ((p)->e.frames)

static int sieve_init(struct vm_evict *e)
{
	struct sieve *p = (struct sieve *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	p->hand = VM_EVICT_NONE;
	return 0;
}

static void sieve_fini(struct vm_evict *e)
{
	vm_evict_free(e, ((struct sieve *)e)->link);
}

static void sieve_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct sieve *p = (struct sieve *)e;
	(void)r;
	vm_ilist_add(p->link, frame, HEAD(p));
	vm_evict_young(e, frame, true);
}

/* One step towards the head, wrapping to the tail. */
static inline uint32_t sieve_newer(const struct sieve *p, uint32_t f)
{
	uint32_t n = p->link[f].prev;
	return n == HEAD(p) ? p->link[n].prev : n;
}

static uint32_t sieve_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct sieve *p = (struct sieve *)e;
	uint32_t f = p->hand != VM_EVICT_NONE ? p->hand : vm_ilist_last(p->link, HEAD(p));
	(void)r;
	while (vm_evict_young(e, f, true))
		f = sieve_newer(p, f);
	p->hand = f;
	return f;
}

static void sieve_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct sieve *p = (struct sieve *)e;
	(void)evicted;
	if (p->hand == frame) {
		/* The paper: hand = obj.prev, NULL (restart at the tail) at the head. */
		uint32_t n = p->link[frame].prev;
		p->hand = n == HEAD(p) ? VM_EVICT_NONE : n;
	}
	vm_ilist_del(p->link, frame);
}

static uint32_t sieve_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct sieve *p = (const struct sieve *)e;
	return vm_ilist_order(p->link, HEAD(p), frames);
}

static void sieve_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	const struct sieve *p = (const struct sieve *)e;
	snprintf(buf, len, "%s%s", (vm_evict_peek(e, frame) & VM_EVICT_A) ? "v" : "",
		 p->hand == frame ? "<hand" : "");
}

static int sieve_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct sieve *p = (const struct sieve *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc)
		return rc;
	if (n != e->used)
		return vm_check_fail(msg, len, "sieve: %u queued, %u resident", n, e->used);
	if (p->hand != VM_EVICT_NONE && (p->hand >= e->frames || p->link[p->hand].next == p->hand))
		return vm_check_fail(msg, len, "sieve: hand %u is not queued", p->hand);
	return 0;
}

const struct vm_evict_ops vm_policy_sieve = {
	.name = "sieve",
	.desc = "SIEVE (NSDI'24): FIFO queue, a hand from the tail passes visited pages",
	.order_desc = "tail (oldest) -> head (newest) (v: visited)",
	.flags = VM_EVICT_USES_ABITS,
	.size = sizeof(struct sieve),
	.init = sieve_init,
	.fini = sieve_fini,
	.insert = sieve_insert,
	.choose = sieve_choose,
	.remove = sieve_remove,
	.order = sieve_order,
	.note = sieve_note,
	.check = sieve_check,
};
