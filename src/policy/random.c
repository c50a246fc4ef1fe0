/*
 * Random: evict a resident page chosen uniformly at random, from the
 * policy's RNG (seeded by params.seed: the lab's --seed, the machine's RNG
 * for the kernel).  Knows nothing, needs nothing; a floor for the others.
 */
#include "policy/policies.h"

#include "base/error.h"

struct random_policy {
	struct vm_evict e;
	uint32_t *resident;        /* resident[0..used): the frames, in no particular order */
	uint32_t *pos;             /* per frame: its index in resident[] */
};

static int rnd_init(struct vm_evict *e)
{
	struct random_policy *p = (struct random_policy *)e;
	p->resident = vm_evict_alloc(e, e->frames, sizeof(*p->resident));
	p->pos = vm_evict_alloc(e, e->frames, sizeof(*p->pos));
	return p->resident && p->pos ? 0 : -ENOMEM;
}

static void rnd_fini(struct vm_evict *e)
{
	struct random_policy *p = (struct random_policy *)e;
	vm_evict_free(e, p->resident);
	vm_evict_free(e, p->pos);
}

static void rnd_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct random_policy *p = (struct random_policy *)e;
	(void)r;
	/* vm_evict_insert counted the page already: it goes in the last place. */
	p->pos[frame] = e->used - 1;
	p->resident[e->used - 1] = frame;
}

static uint32_t rnd_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct random_policy *p = (struct random_policy *)e;
	(void)r;
	return p->resident[vm_rng_below(&e->rng, e->used)];
}

static void rnd_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct random_policy *p = (struct random_policy *)e;
	uint32_t last = p->resident[e->used - 1];
	(void)evicted;
	p->resident[p->pos[frame]] = last;
	p->pos[last] = p->pos[frame];
}

static uint32_t rnd_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct random_policy *p = (const struct random_policy *)e;
	for (uint32_t i = 0; i < e->used; i++)
		frames[i] = p->resident[i];
	return e->used;
}

static int rnd_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct random_policy *p = (const struct random_policy *)e;
	for (uint32_t i = 0; i < e->used; i++)
		if (p->resident[i] >= e->frames || p->pos[p->resident[i]] != i)
			return vm_check_fail(msg, len, "random: slot %u holds frame %u", i,
					     p->resident[i]);
	return 0;
}

const struct vm_evict_ops vm_policy_random = {
	.name = "random",
	.desc = "evict a resident page chosen at random (seeded)",
	.order_desc = "no order (the policy's slot table)",
	.flags = 0,
	.size = sizeof(struct random_policy),
	.init = rnd_init,
	.fini = rnd_fini,
	.insert = rnd_insert,
	.choose = rnd_choose,
	.remove = rnd_remove,
	.order = rnd_order,
	.check = rnd_check,
};
