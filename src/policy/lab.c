/*
 * The policy laboratory (lab.h): sims, dense page ids, the future pass and
 * the chunked feed.
 */
#include "policy/lab.h"

#include <errno.h>
#include <string.h>

#include "base/error.h"

#define LAB_CHUNK 4096

/* Grow a zeroed array of *cap elements of size bytes to at least want. */
static int grow(struct vm_host *host, void **p, uint64_t *cap, uint64_t want, size_t size)
{
	if (want <= *cap)
		return 0;
	uint64_t ncap = *cap ? *cap : 64;
	while (ncap < want)
		ncap *= 2;
	void *n = vm_host_calloc(host, ncap, size);
	if (!n)
		return -ENOMEM;
	vm_host_hugepages(n, ncap * size);
	if (*p)
		memcpy(n, *p, *cap * size);
	vm_host_free(host, *p);
	*p = n;
	*cap = ncap;
	return 0;
}

void vm_lab_ids_init(struct vm_lab_ids *ids, struct vm_host *host)
{
	memset(ids, 0, sizeof(*ids));
	ids->host = host;
	vm_u64map_init(&ids->map, host);
}

void vm_lab_ids_fini(struct vm_lab_ids *ids)
{
	vm_u64map_fini(&ids->map);
	vm_host_free(ids->host, ids->page);
	memset(ids, 0, sizeof(*ids));
}

int vm_lab_ids_get(struct vm_lab_ids *ids, uint64_t page, uint32_t *id)
{
	uint64_t v, cap = ids->cap;
	if (vm_u64map_get(&ids->map, page, &v)) {
		*id = (uint32_t)v;
		return 0;
	}
	if (ids->n == UINT32_MAX - 1)
		return -E2BIG;
	int rc = grow(ids->host, (void **)&ids->page, &cap, (uint64_t)ids->n + 1, sizeof(*ids->page));
	if (rc)
		return rc;
	ids->cap = (uint32_t)(cap < UINT32_MAX ? cap : UINT32_MAX);
	rc = vm_u64map_put(&ids->map, page, ids->n);
	if (rc)
		return rc;
	ids->page[ids->n] = page;
	*id = ids->n++;
	return 0;
}

int vm_lab_ids_get_many(struct vm_lab_ids *ids, const uint64_t *pages, size_t n, uint32_t *id)
{
	/* Far enough ahead to cover a miss to memory at a few ns a lookup. */
	enum { AHEAD = 16 };

	for (size_t i = 0; i < n; i++) {
		if (i + AHEAD < n)
			vm_u64map_prefetch(&ids->map, pages[i + AHEAD]);
		int rc = vm_lab_ids_get(ids, pages[i], &id[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int vm_lab_sim_create(const struct vm_evict_ops *ops, uint32_t frames,
		      const struct vm_evict_params *p, struct vm_host *host, struct vm_lab_sim **out)
{
	struct vm_evict_params params = { 0 };
	struct vm_lab_sim *s;
	int rc;

	*out = NULL;
	if (!ops || !host || frames == 0 || frames >= VM_LAB_SHADOW - 1)
		return -EINVAL;
	s = vm_host_calloc(host, 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->ops = ops;
	s->frames = frames;
	s->sees = ops->flags & VM_EVICT_SEES_ACCESSES;
	s->id_of = vm_host_calloc(host, frames, sizeof(*s->id_of));
	s->bits = vm_host_calloc(host, frames, sizeof(*s->bits));
	s->free = vm_host_calloc(host, frames, sizeof(*s->free));
	s->victims = vm_host_calloc(host, frames, sizeof(*s->victims));
	vm_host_hugepages(s->id_of, (size_t)frames * sizeof(*s->id_of));
	if (!s->id_of || !s->bits || !s->free || !s->victims) {
		vm_lab_sim_destroy(s);
		return -ENOMEM;
	}
	if (p)
		params = *p;
	params.frames = frames;
	params.capacity = 0;
	params.shadows = true;
	params.bits = s->bits;
	params.hw = NULL;
	params.host = host;
	rc = vm_evict_create(ops, &params, &s->e);
	if (rc) {
		vm_lab_sim_destroy(s);
		return rc;
	}
	s->next_tick = (ops->flags & VM_EVICT_TICKS) ? s->e->tick : UINT64_MAX;
	*out = s;
	return 0;
}

void vm_lab_sim_destroy(struct vm_lab_sim *s)
{
	if (!s)
		return;
	vm_evict_destroy(s->e);
	vm_host_free(s->host, s->frame_of);
	vm_host_free(s->host, s->id_of);
	vm_host_free(s->host, s->bits);
	vm_host_free(s->host, s->free);
	vm_host_free(s->host, s->victims);
	vm_host_free(s->host, s);
}

int vm_lab_sim_reserve(struct vm_lab_sim *s, uint32_t n)
{
	uint64_t cap = s->ids_cap;
	int rc = grow(s->host, (void **)&s->frame_of, &cap, n, sizeof(*s->frame_of));
	if (rc == 0)
		s->ids_cap = (uint32_t)(cap < UINT32_MAX ? cap : UINT32_MAX);
	return rc;
}

VM_NOINLINE void vm_lab_sim_miss(struct vm_lab_sim *s, uint32_t id, const struct vm_evict_ref *r,
				 bool write)
{
	struct vm_evict *e = s->e;

	s->n.misses++;
	s->nvictims = 0;
	e->now = s->time;
	while ((s->nfree == 0 && s->fresh == s->frames) || e->more) {
		uint32_t v = vm_evict_choose(e, r);
		if (s->bits[v] & VM_EVICT_D)
			s->n.writebacks++;      /* written back on its way out */
		s->victims[s->nvictims++] = s->id_of[v];
		vm_evict_remove(e, v, true);
		s->frame_of[s->id_of[v]] = VM_LAB_SHADOW | e->shadow;
		s->free[s->nfree++] = v;
		s->n.evictions++;
	}
	uint32_t f = s->nfree ? s->free[--s->nfree] : s->fresh++;
	s->frame_of[id] = f + 1;
	s->id_of[f] = id;
	/* The faulting access, retried, sets A (and D for a write). */
	s->bits[f] = (uint8_t)(VM_EVICT_A | (write ? VM_EVICT_D : 0u));
	vm_evict_insert(e, f, r);
}

/* Software pipelining: the frame of the reference FRAME_AHEAD places on
 * is loaded into the cache, and the policy told of the one POLICY_AHEAD on
 * (its frame is in the cache by then), so that their cache misses overlap
 * with the work on this one.  Results do not change, only the speed. */
#define FRAME_AHEAD  16
#define POLICY_AHEAD 8

/* One read of id, hit or miss: vm_lab_sim_ref with the time in a register. */
static inline void run_one(struct vm_lab_sim *s, uint32_t id, uint64_t *t)
{
	uint32_t f = s->frame_of[id];
	if (VM_LIKELY(vm_lab_resident(f))) {
		s->bits[f - 1] |= VM_EVICT_A;
		if (s->sees) {
			struct vm_evict_ref r = { id, VM_EVICT_NEVER, 0, 0 };
			s->e->now = *t;
			vm_evict_access(s->e, f - 1, &r);
		}
	} else {
		struct vm_evict_ref r = { id, VM_EVICT_NEVER, 0, f & ~VM_LAB_SHADOW };
		s->time = *t;
		vm_lab_sim_miss(s, id, &r, false);
	}
	if (VM_UNLIKELY(++*t == s->next_tick)) {
		s->e->now = *t;
		s->e->ops->tick(s->e);
		s->next_tick += s->e->tick;
	}
}

void vm_lab_sim_run_ids(struct vm_lab_sim *s, const uint32_t *ids, size_t n)
{
	void (*prefetch)(const struct vm_evict *, uint32_t, uint64_t, uint32_t) = s->ops->prefetch;
	uint64_t t = s->time;
	size_t i = 0;

	if (n > FRAME_AHEAD) {
		for (; i < n - FRAME_AHEAD; i++) {
			__builtin_prefetch(&s->frame_of[ids[i + FRAME_AHEAD]]);
			if (prefetch) {
				uint32_t id = ids[i + POLICY_AHEAD], f = s->frame_of[id];
				if (vm_lab_resident(f))
					prefetch(s->e, f - 1, id, 0);
				else
					prefetch(s->e, VM_EVICT_NONE, id, f & ~VM_LAB_SHADOW);
			}
			run_one(s, ids[i], &t);
		}
	}
	for (; i < n; i++)
		run_one(s, ids[i], &t);
	s->time = t;
}

uint32_t vm_lab_sim_contents(const struct vm_lab_sim *s, uint32_t *out)
{
	uint32_t n = s->e->ops->order(s->e, out);
	for (uint32_t i = 0; i < n; i++)
		out[i] = s->id_of[out[i]];
	return n;
}

int vm_lab_sim_check(const struct vm_lab_sim *s, char *msg, size_t len)
{
	uint32_t resident = 0;
	for (uint32_t id = 0; id < s->ids_cap; id++) {
		uint32_t f = s->frame_of[id];
		if (!vm_lab_resident(f))
			continue;
		resident++;
		if (f > s->frames || s->id_of[f - 1] != id)
			return vm_check_fail(msg, len, "lab: page %u says frame %u, which holds %u", id,
					     f - 1, f <= s->frames ? s->id_of[f - 1] : 0);
	}
	if (resident != s->e->used || resident + s->nfree + (s->frames - s->fresh) != s->frames)
		return vm_check_fail(msg, len, "lab: %u resident, policy %u, %u free of %u", resident,
				     s->e->used, s->nfree, s->frames);
	return s->e->ops->check ? s->e->ops->check(s->e, msg, len) : 0;
}

void vm_lab_init(struct vm_lab *lab, struct vm_host *host)
{
	memset(lab, 0, sizeof(*lab));
	lab->host = host;
	vm_lab_ids_init(&lab->ids, host);
}

void vm_lab_fini(struct vm_lab *lab)
{
	for (unsigned i = 0; i < lab->nsims; i++)
		vm_lab_sim_destroy(lab->sims[i]);
	vm_host_free(lab->host, lab->sims);
	vm_host_free(lab->host, lab->next);
	vm_host_free(lab->host, lab->last);
	vm_host_free(lab->host, lab->cid);
	vm_host_free(lab->host, lab->ckey);
	vm_host_free(lab->host, lab->cnext);
	vm_lab_ids_fini(&lab->ids);
	memset(lab, 0, sizeof(*lab));
}

int vm_lab_add(struct vm_lab *lab, struct vm_lab_sim *s)
{
	struct vm_lab_sim **n = vm_host_calloc(lab->host, lab->nsims + 1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (lab->sims)
		memcpy(n, lab->sims, lab->nsims * sizeof(*n));
	vm_host_free(lab->host, lab->sims);
	lab->sims = n;
	lab->sims[lab->nsims++] = s;
	return vm_lab_sim_reserve(s, lab->ids.n);
}

int vm_lab_future_add(struct vm_lab *lab, uint64_t page)
{
	uint32_t id;
	int rc = vm_lab_ids_get(&lab->ids, page, &id);
	if (!rc)
		rc = grow(lab->host, (void **)&lab->last, &lab->last_cap, (uint64_t)id + 1,
			  sizeof(*lab->last));
	if (!rc)
		rc = grow(lab->host, (void **)&lab->next, &lab->next_cap, lab->nrefs + 1,
			  sizeof(*lab->next));
	if (rc)
		return rc;
	if (lab->last[id])
		lab->next[lab->last[id] - 1] = lab->nrefs;
	lab->next[lab->nrefs] = VM_EVICT_NEVER;
	lab->last[id] = ++lab->nrefs;
	return 0;
}

void vm_lab_future_done(struct vm_lab *lab)
{
	vm_host_free(lab->host, lab->last);
	lab->last = NULL;
	lab->last_cap = 0;
	lab->future = true;
}

int vm_lab_feed(struct vm_lab *lab, const uint64_t *pages, const bool *writes, size_t n)
{
	int rc;
	if (lab->ccap < LAB_CHUNK) {
		lab->cid = vm_host_calloc(lab->host, LAB_CHUNK, sizeof(*lab->cid));
		lab->ckey = vm_host_calloc(lab->host, LAB_CHUNK, sizeof(*lab->ckey));
		lab->cnext = vm_host_calloc(lab->host, LAB_CHUNK, sizeof(*lab->cnext));
		if (!lab->cid || !lab->ckey || !lab->cnext)
			return -ENOMEM;
		lab->ccap = LAB_CHUNK;
	}
	while (n) {
		size_t m = n < LAB_CHUNK ? n : LAB_CHUNK;
		if (lab->future && lab->time + m > lab->nrefs)
			return -ERANGE;
		if ((rc = vm_lab_ids_get_many(&lab->ids, pages, m, lab->cid)) != 0)
			return rc;
		for (size_t i = 0; i < m; i++) {
			lab->ckey[i] = pages[i];
			lab->cnext[i] = lab->future ? lab->next[lab->time + i] : VM_EVICT_NEVER;
		}
		for (unsigned k = 0; k < lab->nsims; k++) {
			struct vm_lab_sim *s = lab->sims[k];
			if (s->ids_cap < lab->ids.n && (rc = vm_lab_sim_reserve(s, lab->ids.n)) != 0)
				return rc;
			for (size_t i = 0; i < m; i++)
				vm_lab_sim_ref(s, lab->cid[i], lab->ckey[i], writes && writes[i],
					       lab->cnext[i]);
		}
		lab->time += m;
		pages += m;
		if (writes)
			writes += m;
		n -= m;
	}
	return 0;
}

int vm_lab_step(struct vm_lab *lab, unsigned k, uint64_t time, uint64_t page, bool write)
{
	struct vm_lab_sim *s = lab->sims[k];
	uint32_t id;
	int rc = vm_lab_ids_get(&lab->ids, page, &id);

	if (rc)
		return rc;
	if (lab->future && time >= lab->nrefs)
		return -ERANGE;
	if (s->ids_cap <= id && (rc = vm_lab_sim_reserve(s, lab->ids.n)) != 0)
		return rc;
	vm_lab_sim_ref(s, id, page, write, lab->future ? lab->next[time] : VM_EVICT_NEVER);
	return 0;
}
