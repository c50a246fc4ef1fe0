/*
 * CLOCK: the pages stand in a circle in the order they were loaded; a hand
 * points at the oldest.  On a fault the hand sweeps: a page with its
 * Accessed bit set has the bit cleared and is passed; the first page with
 * the bit clear is the victim, the new page takes its place in the circle
 * and the hand moves one past it (Corbató 1968; the BSD and SVR4 page
 * daemons' one-handed clock).
 *
 * The circle is an index-linked list in load order (the list head is not
 * part of the circle, the hand skips it); a new page goes right behind the
 * hand, i.e. into the victim's place.
 */
#include "policy/policies.h"

#include <stdio.h>

#include "base/error.h"

struct clock {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: the circle in load order */
	uint32_t hand;             /* a resident frame, or VM_EVICT_NONE when empty */
};

#define HEAD(p) ((p)->e.frames)

/* The frame after f around the circle (skipping the list head). */
static inline uint32_t clock_next(const struct clock *p, uint32_t f)
{
	uint32_t n = p->link[f].prev;       /* prev runs oldest -> newest */
	return n == HEAD(p) ? p->link[n].prev : n;
}

static int clock_init(struct vm_evict *e)
{
	struct clock *p = (struct clock *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	p->hand = VM_EVICT_NONE;
	return 0;
}

static void clock_fini(struct vm_evict *e)
{
	vm_evict_free(e, ((struct clock *)e)->link);
}

static void clock_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct clock *p = (struct clock *)e;
	(void)r;
	if (p->hand == VM_EVICT_NONE) {
		vm_ilist_add(p->link, frame, HEAD(p));
		p->hand = frame;
		return;
	}
	/* Behind the hand: frame's prev link (towards newer) is the hand, so
	 * the sweep from the hand reaches frame last; after an eviction this
	 * is the victim's place in the circle. */
	vm_ilist_link(p->link, frame, p->hand, p->link[p->hand].next);
}

static uint32_t clock_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct clock *p = (struct clock *)e;
	(void)r;
	while (vm_evict_young(e, p->hand, true))
		p->hand = clock_next(p, p->hand);
	return p->hand;
}

static void clock_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct clock *p = (struct clock *)e;
	(void)evicted;
	if (p->hand == frame) {
		uint32_t n = clock_next(p, frame);
		p->hand = n == frame ? VM_EVICT_NONE : n;
	}
	vm_ilist_del(p->link, frame);
}

static uint32_t clock_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct clock *p = (const struct clock *)e;
	uint32_t n = 0;
	if (p->hand == VM_EVICT_NONE)
		return 0;
	uint32_t f = p->hand;
	do {
		frames[n++] = f;
		f = clock_next(p, f);
	} while (f != p->hand);
	return n;
}

static void clock_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	snprintf(buf, len, "%s", (vm_evict_peek(e, frame) & VM_EVICT_A) ? "A" : "");
}

static int clock_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct clock *p = (const struct clock *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc)
		return rc;
	if (n != e->used)
		return vm_check_fail(msg, len, "clock: %u in the circle, %u resident", n, e->used);
	if ((n == 0) != (p->hand == VM_EVICT_NONE))
		return vm_check_fail(msg, len, "clock: hand %u with %u pages", p->hand, n);
	if (n && (p->hand >= e->frames || p->link[p->hand].next == p->hand))
		return vm_check_fail(msg, len, "clock: hand %u is not in the circle", p->hand);
	return 0;
}

const struct vm_evict_ops vm_policy_clock = {
	.name = "clock",
	.desc = "one-handed clock over the Accessed bits (second chance without moving pages)",
	.order_desc = "from the hand around the circle (A: Accessed bit set)",
	.flags = VM_EVICT_USES_ABITS,
	.size = sizeof(struct clock),
	.init = clock_init,
	.fini = clock_fini,
	.insert = clock_insert,
	.choose = clock_choose,
	.remove = clock_remove,
	.order = clock_order,
	.note = clock_note,
	.check = clock_check,
};
