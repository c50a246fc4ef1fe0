/*
 * The state most list policies share: every resident frame on one
 * index-linked list (ilist.h), and for the clock family a hand.
 *
 * A policy whose state is only the list (FIFO, second chance, LRU, MRU,
 * NRU) uses struct vm_ring as its struct; one that keeps more (aging,
 * WSClock) begins its struct with it.  Where a policy does just what one
 * of the vm_ring_* operations below does, its ops table names that
 * function, so the list code is written once.
 *
 * Two ways to use the list:
 *   queue   new frames at the newest end (head->next), oldest at
 *           head->prev; vm_ring_order lists oldest -> newest.
 *   circle  (CLOCK, WSClock) the list read as a circle that skips the
 *           head; a new frame goes right behind the hand, i.e. into the
 *           place of the victim just removed, and the hand moves on when
 *           the frame it points at is removed.
 */
#ifndef VM_POLICY_RING_H
#define VM_POLICY_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/evict.h"
#include "policy/ilist.h"

struct vm_ring {
	struct vm_evict e;
	struct vm_ilink *link;     /* e.frames + 1 nodes: frames, then the list head */
	uint32_t hand;             /* a listed frame or VM_EVICT_NONE, as the policy uses it;
				      circle: VM_EVICT_NONE iff none is listed */
};

#define VM_RING_HEAD(r) ((r)->e.frames)

/* The frame one step from f towards the newest end, wrapping from the
 * newest to the oldest (past the head): the clock hand's step. */
static inline uint32_t vm_ring_next(const struct vm_ring *r, uint32_t f)
{
	uint32_t n = r->link[f].prev;       /* prev runs oldest -> newest */
	return n == VM_RING_HEAD(r) ? r->link[n].prev : n;
}

/* For each listed frame f, oldest to newest (list_for_each_prev). */
#define vm_ring_for_each(r, f)                                                   \
	for (uint32_t f = vm_ilist_last((r)->link, VM_RING_HEAD(r)); f != VM_RING_HEAD(r); \
	     f = (r)->link[f].prev)

/* Whether frame f is on the list (a removed frame links to itself). */
static inline bool vm_ring_listed(const struct vm_ring *r, uint32_t f)
{
	return f < r->e.frames && r->link[f].next != f;
}

/* Ops for a queue (the signatures of struct vm_evict_ops). */
int vm_ring_init(struct vm_evict *e);        /* empty list, no hand; 0 or -ENOMEM */
void vm_ring_fini(struct vm_evict *e);
void vm_ring_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r);
void vm_ring_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r);
void vm_ring_remove(struct vm_evict *e, uint32_t frame, bool evicted);
uint32_t vm_ring_order(const struct vm_evict *e, uint32_t *frames);
int vm_ring_check(const struct vm_evict *e, char *msg, size_t len);

/* Ops for a circle with a hand. */
void vm_ring_insert_at_hand(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r);
void vm_ring_remove_at_hand(struct vm_evict *e, uint32_t frame, bool evicted);
uint32_t vm_ring_order_from_hand(const struct vm_evict *e, uint32_t *frames);
int vm_ring_check_hand(const struct vm_evict *e, char *msg, size_t len);

#endif
