/*
 * Exact LRU: every hit moves the page to the most-recently-used end; evict
 * the least recently used.  Needs every access (no MMU reports hits), so
 * no operating system can run it; it is the yardstick the realistic
 * policies approximate, and a stack algorithm (no Belady anomaly, one-pass
 * miss-ratio curves: mrc.c).
 */
#include "policy/policies.h"

#include "base/error.h"

struct lru {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: MRU at head->next, LRU at head->prev */
};

#define HEAD(p) ((p)->e.frames)

static int lru_init(struct vm_evict *e)
{
	struct lru *p = (struct lru *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	return 0;
}

static void lru_fini(struct vm_evict *e)
{
	vm_evict_free(e, ((struct lru *)e)->link);
}

static void lru_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct lru *p = (struct lru *)e;
	(void)r;
	vm_ilist_add(p->link, frame, HEAD(p));
}

static void lru_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct lru *p = (struct lru *)e;
	(void)r;
	vm_ilist_move(p->link, frame, HEAD(p));
}

static uint32_t lru_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct lru *p = (struct lru *)e;
	(void)r;
	return vm_ilist_last(p->link, HEAD(p));
}

static void lru_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_ilist_del(((struct lru *)e)->link, frame);
}

static uint32_t lru_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct lru *p = (const struct lru *)e;
	return vm_ilist_order(p->link, HEAD(p), frames);
}

static int lru_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct lru *p = (const struct lru *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc == 0 && n != e->used)
		rc = vm_check_fail(msg, len, "%s: %u listed, %u resident", e->ops->name, n, e->used);
	return rc;
}

static void lru_prefetch(const struct vm_evict *e, uint32_t frame, uint64_t key)
{
	(void)key;
	if (frame != VM_EVICT_NONE)
		__builtin_prefetch(&((const struct lru *)e)->link[frame]);
}

const struct vm_evict_ops vm_policy_lru = {
	.name = "lru",
	.desc = "exact least recently used (no MMU reports every access: a yardstick)",
	.order_desc = "LRU -> MRU",
	.flags = VM_EVICT_SEES_ACCESSES,
	.size = sizeof(struct lru),
	.init = lru_init,
	.fini = lru_fini,
	.insert = lru_insert,
	.access = lru_access,
	.choose = lru_choose,
	.remove = lru_remove,
	.order = lru_order,
	.check = lru_check,
	.prefetch = lru_prefetch,
};
