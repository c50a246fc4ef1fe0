/*
 * Second chance: FIFO that spares a page whose Accessed bit is set, clearing
 * the bit and moving the page to the back of the queue.  Victims are the
 * same as CLOCK's; the queue moves instead of a hand.
 */
#include "policy/policies.h"

#include <stdio.h>

#include "base/error.h"

struct second_chance {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: newest at head->next, oldest at head->prev */
};

#define HEAD(p) ((p)->e.frames)

static int sc_init(struct vm_evict *e)
{
	struct second_chance *p = (struct second_chance *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	return 0;
}

static void sc_fini(struct vm_evict *e)
{
	vm_evict_free(e, ((struct second_chance *)e)->link);
}

static void sc_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct second_chance *p = (struct second_chance *)e;
	(void)r;
	vm_ilist_add(p->link, frame, HEAD(p));
}

static uint32_t sc_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct second_chance *p = (struct second_chance *)e;
	(void)r;
	/* Ends within one lap: every spared page has its bit cleared. */
	for (;;) {
		uint32_t f = vm_ilist_last(p->link, HEAD(p));
		if (!vm_evict_young(e, f, true))
			return f;
		vm_ilist_move(p->link, f, HEAD(p));
	}
}

static void sc_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_ilist_del(((struct second_chance *)e)->link, frame);
}

static uint32_t sc_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct second_chance *p = (const struct second_chance *)e;
	return vm_ilist_order(p->link, HEAD(p), frames);
}

static void sc_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	snprintf(buf, len, "%s", (vm_evict_peek(e, frame) & VM_EVICT_A) ? "A" : "");
}

static int sc_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct second_chance *p = (const struct second_chance *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc == 0 && n != e->used)
		rc = vm_check_fail(msg, len, "second-chance: %u queued, %u resident", n, e->used);
	return rc;
}

const struct vm_evict_ops vm_policy_second_chance = {
	.name = "second-chance",
	.desc = "FIFO that requeues a page whose Accessed bit is set (clearing it)",
	.order_desc = "oldest -> newest (A: Accessed bit set)",
	.flags = VM_EVICT_USES_ABITS,
	.size = sizeof(struct second_chance),
	.init = sc_init,
	.fini = sc_fini,
	.insert = sc_insert,
	.choose = sc_choose,
	.remove = sc_remove,
	.order = sc_order,
	.note = sc_note,
	.check = sc_check,
};
