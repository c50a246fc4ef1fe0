/*
 * The list (and hand) that FIFO, second chance, LRU, MRU, NRU, aging,
 * CLOCK, WSClock and SIEVE share (ring.h).
 */
#include "policy/ring.h"

#include <errno.h>

#include "base/error.h"

int vm_ring_init(struct vm_evict *e)
{
	struct vm_ring *p = (struct vm_ring *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	vm_ilist_init(p->link, VM_RING_HEAD(p));
	p->hand = VM_EVICT_NONE;
	return 0;
}

void vm_ring_fini(struct vm_evict *e)
{
	vm_evict_free(e, ((struct vm_ring *)e)->link);
}

/* At the newest end. */
void vm_ring_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	vm_ilist_add(p->link, frame, VM_RING_HEAD(p));
}

/* A hit moves the frame to the newest end (LRU, MRU: the MRU end). */
void vm_ring_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	vm_ilist_move(p->link, frame, VM_RING_HEAD(p));
}

void vm_ring_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_ilist_del(((struct vm_ring *)e)->link, frame);
}

/* Oldest -> newest. */
uint32_t vm_ring_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct vm_ring *p = (const struct vm_ring *)e;
	return vm_ilist_order(p->link, VM_RING_HEAD(p), frames);
}

/* The list is sound and holds every resident frame. */
int vm_ring_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct vm_ring *p = (const struct vm_ring *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, VM_RING_HEAD(p), e->frames, &n, msg, len);
	if (rc == 0 && n != e->used)
		rc = vm_check_fail(msg, len, "%s: %u listed, %u resident", e->ops->name, n, e->used);
	return rc;
}

void vm_ring_insert_at_hand(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)r;
	if (p->hand == VM_EVICT_NONE) {
		vm_ilist_add(p->link, frame, VM_RING_HEAD(p));
		p->hand = frame;
		return;
	}
	/* Behind the hand: frame's prev link (towards newer) is the hand, so
	 * the sweep from the hand reaches frame last; after an eviction this
	 * is the victim's place in the circle. */
	vm_ilist_link(p->link, frame, p->hand, p->link[p->hand].next);
}

/* The hand passes on to the next frame, or to none with the last one. */
void vm_ring_remove_at_hand(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct vm_ring *p = (struct vm_ring *)e;
	(void)evicted;
	if (p->hand == frame) {
		uint32_t n = vm_ring_next(p, frame);
		p->hand = n == frame ? VM_EVICT_NONE : n;
	}
	vm_ilist_del(p->link, frame);
}

/* From the hand once around the circle. */
uint32_t vm_ring_order_from_hand(const struct vm_evict *e, uint32_t *frames)
{
	const struct vm_ring *p = (const struct vm_ring *)e;
	uint32_t n = 0;
	if (p->hand == VM_EVICT_NONE)
		return 0;
	uint32_t f = p->hand;
	do {
		frames[n++] = f;
		f = vm_ring_next(p, f);
	} while (f != p->hand);
	return n;
}

/* vm_ring_check, and the hand is on the circle exactly when it is not empty. */
int vm_ring_check_hand(const struct vm_evict *e, char *msg, size_t len)
{
	const struct vm_ring *p = (const struct vm_ring *)e;
	int rc = vm_ring_check(e, msg, len);
	if (rc)
		return rc;
	if ((e->used == 0) != (p->hand == VM_EVICT_NONE))
		return vm_check_fail(msg, len, "%s: hand %u with %u pages", e->ops->name, p->hand,
				     e->used);
	if (e->used && !vm_ring_listed(p, p->hand))
		return vm_check_fail(msg, len, "%s: hand %u is not in the circle", e->ops->name,
				     p->hand);
	return 0;
}
