/*
 * MRU: evict the most recently used page.  Good only for a loop larger than
 * memory, where the page just used is the one needed last; it sees every
 * access, as exact LRU does.
 */
#include "policy/policies.h"

#include "base/error.h"

struct mru {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: MRU at head->next, LRU at head->prev */
};

#define HEAD(p) ((p)->e.frames)

static int mru_init(struct vm_evict *e)
{
	struct mru *p = (struct mru *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	return 0;
}

static void mru_fini(struct vm_evict *e)
{
	vm_evict_free(e, ((struct mru *)e)->link);
}

static void mru_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct mru *p = (struct mru *)e;
	(void)r;
	vm_ilist_add(p->link, frame, HEAD(p));
}

static void mru_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct mru *p = (struct mru *)e;
	(void)r;
	vm_ilist_move(p->link, frame, HEAD(p));
}

static uint32_t mru_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct mru *p = (struct mru *)e;
	(void)r;
	return vm_ilist_first(p->link, HEAD(p));
}

static void mru_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_ilist_del(((struct mru *)e)->link, frame);
}

static uint32_t mru_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct mru *p = (const struct mru *)e;
	return vm_ilist_order(p->link, HEAD(p), frames);
}

static int mru_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct mru *p = (const struct mru *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc == 0 && n != e->used)
		rc = vm_check_fail(msg, len, "mru: %u listed, %u resident", n, e->used);
	return rc;
}

const struct vm_evict_ops vm_policy_mru = {
	.name = "mru",
	.desc = "most recently used: evict the page used last",
	.order_desc = "LRU -> MRU",
	.flags = VM_EVICT_SEES_ACCESSES,
	.size = sizeof(struct mru),
	.init = mru_init,
	.fini = mru_fini,
	.insert = mru_insert,
	.access = mru_access,
	.choose = mru_choose,
	.remove = mru_remove,
	.order = mru_order,
	.check = mru_check,
};
