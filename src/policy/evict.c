/*
 * The policy registry and what every policy shares (evict.h).
 */
#include "policy/evict.h"

#include <errno.h>
#include <stdint.h>
#include <strings.h>
#include <sys/mman.h>

#include "base/error.h"
#include "policy/policies.h"

/* The table `vmlab list policies` prints, in this order; linux is the
 * default of the `policy` setting (DESIGN.md). */
static const struct vm_evict_ops *const policies[] = {
	&vm_policy_linux,
	&vm_policy_fifo,
	&vm_policy_second_chance,
	&vm_policy_clock,
	&vm_policy_nru,
	&vm_policy_lru,
	&vm_policy_lfu,
	&vm_policy_mru,
	&vm_policy_random,
	&vm_policy_opt,
	&vm_policy_wsclock,
	&vm_policy_aging,
	&vm_policy_arc,
	&vm_policy_sieve,
	&vm_policy_s3fifo,
};

const struct vm_evict_ops *vm_evict_at(unsigned i)
{
	return i < sizeof(policies) / sizeof(policies[0]) ? policies[i] : NULL;
}

const struct vm_evict_ops *vm_evict_find(const char *name)
{
	for (unsigned i = 0; name && i < sizeof(policies) / sizeof(policies[0]); i++)
		if (strcasecmp(policies[i]->name, name) == 0)
			return policies[i];
	return NULL;
}

void *vm_evict_alloc(struct vm_evict *e, size_t count, size_t size)
{
	void *p = vm_host_calloc(e->host, count, size);
	vm_host_hugepages(p, count * size);
	return p;
}

void vm_evict_free(struct vm_evict *e, void *p)
{
	vm_host_free(e->host, p);
}

int vm_evict_create(const struct vm_evict_ops *ops, const struct vm_evict_params *p,
		    struct vm_evict **out)
{
	struct vm_host scratch = { 0 };
	struct vm_host *host;
	struct vm_evict *e;

	*out = NULL;
	if (!ops || !p || p->frames == 0 || p->capacity > p->frames || p->swappiness > 200)
		return -EINVAL;
	if ((ops->flags & VM_EVICT_USES_ABITS) && !p->bits == !p->hw)
		return -EINVAL;
	if (p->hw && (!p->hw->referenced || !p->hw->dirty || !p->hw->writeback))
		return -EINVAL;
	host = p->host ? p->host : &scratch;
	e = vm_host_calloc(host, 1, ops->size);
	if (!e)
		return -ENOMEM;
	e->ops = ops;
	e->frames = p->frames;
	e->capacity = p->capacity ? p->capacity : p->frames;
	e->tau = p->tau ? p->tau : p->frames;
	e->tick = p->tick ? p->tick : p->frames;
	e->swappiness = p->swappiness_set ? p->swappiness : 60;
	e->shadows = p->shadows;
	e->bits = p->bits;
	e->hw = p->hw;
	e->hw_ctx = p->hw_ctx;
	if (p->host) {
		e->host = p->host;
	} else {
		e->own_host = scratch;
		e->host = &e->own_host;
	}
	vm_rng_seed(&e->rng, p->seed);
	int rc = ops->init ? ops->init(e) : 0;
	if (rc) {
		if (ops->fini)
			ops->fini(e);     /* undoes a partial init: frees what was allocated */
		vm_host_free(e->host, e);
		return rc;
	}
	*out = e;
	return 0;
}

void vm_evict_destroy(struct vm_evict *e)
{
	if (!e)
		return;
	if (e->ops->fini)
		e->ops->fini(e);
	vm_host_free(e->host, e);
}
