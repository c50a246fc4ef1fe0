/*
 * FIFO: evict the page that entered memory first, whatever its use.  The
 * classic victim of Belady's anomaly (more frames, more faults).
 */
#include "policy/policies.h"

#include "base/error.h"

struct fifo {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: the queue, newest at head->next */
};

#define HEAD(p) ((p)->e.frames)

static int fifo_init(struct vm_evict *e)
{
	struct fifo *p = (struct fifo *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	if (!p->link)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	return 0;
}

static void fifo_fini(struct vm_evict *e)
{
	vm_evict_free(e, ((struct fifo *)e)->link);
}

static void fifo_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct fifo *p = (struct fifo *)e;
	(void)r;
	vm_ilist_add(p->link, frame, HEAD(p));
}

static uint32_t fifo_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct fifo *p = (struct fifo *)e;
	(void)r;
	return vm_ilist_last(p->link, HEAD(p));
}

static void fifo_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	(void)evicted;
	vm_ilist_del(((struct fifo *)e)->link, frame);
}

static uint32_t fifo_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct fifo *p = (const struct fifo *)e;
	return vm_ilist_order(p->link, HEAD(p), frames);
}

static int fifo_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct fifo *p = (const struct fifo *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc == 0 && n != e->used)
		rc = vm_check_fail(msg, len, "fifo: %u queued, %u resident", n, e->used);
	return rc;
}

const struct vm_evict_ops vm_policy_fifo = {
	.name = "fifo",
	.desc = "first in, first out: evict the page loaded longest ago",
	.order_desc = "first in -> last in",
	.flags = 0,
	.size = sizeof(struct fifo),
	.init = fifo_init,
	.fini = fifo_fini,
	.insert = fifo_insert,
	.choose = fifo_choose,
	.remove = fifo_remove,
	.order = fifo_order,
	.check = fifo_check,
};
