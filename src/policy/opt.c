/*
 * OPT, Belady's MIN (1966): evict the page whose next use lies furthest in
 * the future (pages never used again first; among those, the least recently
 * used).  No policy has fewer faults on any reference string, which makes it
 * the bound the tests hold every other policy to.  It needs the future:
 * the driver passes, with each reference, the time of the next reference to
 * the same page (the lab computes it in a first pass over a file).
 *
 * A max-heap on the next use (stored as UINT64_MAX - next in a min-heap):
 * O(log n) per reference.
 */
#include "policy/policies.h"

#include <inttypes.h>
#include <stdio.h>

#include "base/error.h"
#include "policy/heap.h"

struct opt {
	struct vm_evict e;
	struct vm_heap heap;       /* k1 = UINT64_MAX - next use, k2 = last use */
};

static int opt_init(struct vm_evict *e)
{
	return vm_heap_init(&((struct opt *)e)->heap, e->host, e->frames);
}

static void opt_fini(struct vm_evict *e)
{
	vm_heap_fini(&((struct opt *)e)->heap, e->host);
}

static void opt_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	vm_heap_push(&((struct opt *)e)->heap, frame, UINT64_MAX - r->next, e->now);
}

static void opt_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	vm_heap_update(&((struct opt *)e)->heap, frame, UINT64_MAX - r->next, e->now);
}

static uint32_t opt_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	(void)r;
	return vm_heap_top(&((struct opt *)e)->heap);
}

static void opt_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_heap_del(&((struct opt *)e)->heap, frame);
}

static uint32_t opt_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct opt *p = (const struct opt *)e;
	return vm_heap_sorted(&p->heap, frames);
}

static void opt_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	const struct opt *p = (const struct opt *)e;
	uint64_t next = UINT64_MAX - p->heap.k1[frame];
	if (next == VM_EVICT_NEVER)
		snprintf(buf, len, "next=never");
	else
		snprintf(buf, len, "next=%" PRIu64, next + 1);
}

static int opt_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct opt *p = (const struct opt *)e;
	int rc = vm_heap_check(&p->heap, e->frames, msg, len);
	if (rc == 0 && p->heap.n != e->used)
		rc = vm_check_fail(msg, len, "opt: %u in the heap, %u resident", p->heap.n, e->used);
	return rc;
}

const struct vm_evict_ops vm_policy_opt = {
	.name = "opt",
	.desc = "Belady's optimal: evict the page used furthest in the future",
	.order_desc = "next victim first (next = reference number of the next use)",
	.flags = VM_EVICT_SEES_ACCESSES | VM_EVICT_NEEDS_FUTURE,
	.size = sizeof(struct opt),
	.init = opt_init,
	.fini = opt_fini,
	.insert = opt_insert,
	.access = opt_access,
	.choose = opt_choose,
	.remove = opt_remove,
	.order = opt_order,
	.note = opt_note,
	.check = opt_check,
};
