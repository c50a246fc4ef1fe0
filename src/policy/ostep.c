/*
 * OSTEP paging-policy.py semantics (ostep.h).
 */
#include "policy/ostep.h"

#include <errno.h>
#include <string.h>

int vm_ostep_policy_find(const char *name)
{
	static const char *const names[] = {
		[VM_OSTEP_FIFO] = "FIFO", [VM_OSTEP_LRU] = "LRU",   [VM_OSTEP_MRU] = "MRU",
		[VM_OSTEP_OPT] = "OPT",   [VM_OSTEP_UNOPT] = "UNOPT", [VM_OSTEP_RAND] = "RAND",
		[VM_OSTEP_CLOCK] = "CLOCK",
	};
	for (int i = 0; name && i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int vm_ostep_init(struct vm_ostep *o, struct vm_host *host, enum vm_ostep_policy policy,
		  int64_t cachesize, int64_t clockbits, const int64_t *addrs, size_t n,
		  struct vm_mt *mt)
{
	memset(o, 0, sizeof(*o));
	o->host = host;
	o->policy = policy;
	o->cachesize = cachesize;
	o->clockbits = clockbits;
	o->addrs = addrs;
	o->naddrs = n;
	o->mt = mt;
	vm_u64map_init(&o->ref, host);
	o->memory = vm_host_calloc(host, n + 1, sizeof(*o->memory));
	return o->memory ? 0 : -ENOMEM;
}

void vm_ostep_fini(struct vm_ostep *o)
{
	vm_u64map_fini(&o->ref);
	vm_host_free(o->host, o->memory);
	memset(o, 0, sizeof(*o));
}

/* list.index(): the position of page, or -1. */
static ptrdiff_t find(const struct vm_ostep *o, int64_t page)
{
	for (size_t i = 0; i < o->count; i++)
		if (o->memory[i] == page)
			return (ptrdiff_t)i;
	return -1;
}

/* list.pop(i) */
static int64_t pop(struct vm_ostep *o, size_t i)
{
	int64_t v = o->memory[i];
	memmove(o->memory + i, o->memory + i + 1, (o->count - i - 1) * sizeof(*o->memory));
	o->count--;
	return v;
}

/* The index of the next reference to page after the current one, or the
 * length of the string when there is none. */
static size_t when_referenced(const struct vm_ostep *o, int64_t page)
{
	for (size_t j = o->index + 1; j < o->naddrs; j++)
		if (o->addrs[j] == page)
			return j;
	return o->naddrs;
}

static size_t choose_opt(const struct vm_ostep *o, bool pessimal)
{
	size_t pick = 0, best = 0;
	/* OPT: furthest, ties to the last (>=); UNOPT: soonest, ties to the first (<). */
	for (size_t i = 0; i < o->count; i++) {
		size_t when = when_referenced(o, o->memory[i]);
		if (i == 0 || (pessimal ? when < best : when >= best)) {
			pick = i;
			best = when;
		}
	}
	return pick;
}

static int64_t ref_get(const struct vm_ostep *o, int64_t page)
{
	uint64_t v = 0;
	vm_u64map_get(&o->ref, (uint64_t)page, &v);
	return (int64_t)v;
}

static int choose_clock(struct vm_ostep *o, int64_t *victim)
{
	for (;;) {
		size_t i = (size_t)(vm_mt_random(o->mt) * (double)o->count);
		int64_t page = o->memory[i];
		int64_t bits = ref_get(o, page);
		if (bits >= 1) {
			int rc = vm_u64map_put(&o->ref, (uint64_t)page, (uint64_t)(bits - 1));
			if (rc)
				return rc;
			continue;
		}
		*victim = pop(o, i);
		vm_u64map_del(&o->ref, (uint64_t)page, NULL);
		return 0;
	}
}

int vm_ostep_step(struct vm_ostep *o, bool *hit, int64_t *victim)
{
	if (o->index >= o->naddrs)
		return -EINVAL;
	int64_t n = o->addrs[o->index];
	ptrdiff_t idx = find(o, n);
	int rc;

	*victim = -1;
	*hit = idx >= 0;
	if (*hit) {
		o->hits++;
		if (o->policy == VM_OSTEP_LRU || o->policy == VM_OSTEP_MRU) {
			pop(o, (size_t)idx);
			o->memory[o->count++] = n;
		}
	} else {
		o->misses++;
		if (o->cachesize >= 0 && o->count == (uint64_t)o->cachesize) {
			if (o->count == 0)
				return -ERANGE;
			switch (o->policy) {
			case VM_OSTEP_FIFO:
			case VM_OSTEP_LRU:
				*victim = pop(o, 0);
				break;
			case VM_OSTEP_MRU:
				*victim = pop(o, o->count - 1);
				break;
			case VM_OSTEP_RAND:
				*victim = pop(o, (size_t)(vm_mt_random(o->mt) * (double)o->count));
				break;
			case VM_OSTEP_CLOCK:
				if ((rc = choose_clock(o, victim)) != 0)
					return rc;
				break;
			case VM_OSTEP_OPT:
			case VM_OSTEP_UNOPT:
				*victim = pop(o, choose_opt(o, o->policy == VM_OSTEP_UNOPT));
				break;
			}
		}
		o->memory[o->count++] = n;
	}
	/* "after miss processing, update reference bit", for every policy */
	int64_t bits = 1;
	uint64_t old;
	if (vm_u64map_get(&o->ref, (uint64_t)n, &old)) {
		bits = (int64_t)old + 1;
		if (bits > o->clockbits)
			bits = o->clockbits;
	}
	if ((rc = vm_u64map_put(&o->ref, (uint64_t)n, (uint64_t)bits)) != 0)
		return rc;
	o->index++;
	return 0;
}
