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

/*
 * The queue is the shared list (ring.h): head->next newest, head->prev
 * oldest (the tail).  Its hand is where the next sweep starts, or
 * VM_EVICT_NONE: at the tail.
 */

static void sieve_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	vm_ilist_add(p->link, frame, VM_RING_HEAD(p));
	vm_evict_young(e, frame, true);
}

static uint32_t sieve_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	uint32_t f = p->hand != VM_EVICT_NONE ? p->hand : vm_ilist_last(p->link, VM_RING_HEAD(p));
	(void)r;
	while (vm_evict_young(e, f, true))
		f = vm_ring_next(p, f);      /* towards the head, wrapping to the tail */
	p->hand = f;
	return f;
}

static void sieve_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)evicted;
	if (p->hand == frame) {
		/* The paper: hand = obj.prev, NULL (restart at the tail) at the head. */
		uint32_t n = p->link[frame].prev;
		p->hand = n == VM_RING_HEAD(p) ? VM_EVICT_NONE : n;
	}
	vm_ilist_del(p->link, frame);
}

static void sieve_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	const struct vm_ring *p = (const struct vm_ring *)e;
	snprintf(buf, len, "%s%s", (vm_evict_peek(e, frame) & VM_EVICT_A) ? "v" : "",
		 p->hand == frame ? "<hand" : "");
}

static int sieve_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct vm_ring *p = (const struct vm_ring *)e;
	int rc = vm_ring_check(e, msg, len);
	if (rc)
		return rc;
	if (p->hand != VM_EVICT_NONE && !vm_ring_listed(p, p->hand))
		return vm_check_fail(msg, len, "sieve: hand %u is not queued", p->hand);
	return 0;
}

const struct vm_evict_ops vm_policy_sieve = {
	.name = "sieve",
	.desc = "SIEVE (NSDI'24): FIFO queue, a hand from the tail passes visited pages",
	.order_desc = "tail (oldest) -> head (newest) (v: visited)",
	.flags = VM_EVICT_USES_ABITS,
	.size = sizeof(struct vm_ring),
	.init = vm_ring_init,
	.fini = vm_ring_fini,
	.insert = sieve_insert,
	.choose = sieve_choose,
	.remove = sieve_remove,
	.order = vm_ring_order,
	.note = sieve_note,
	.check = sieve_check,
};
