/*
 * The policy laboratory: a memory of N frames and no MMU, driven by a
 * reference string, for one policy (a sim) or several side by side (a lab).
 * It is the driver of evict.h: it owns the frames, decides when memory is
 * full, and plays the MMU for the policies that read Accessed and Dirty
 * bits (every reference sets A in its frame's bits, a write also D; on a
 * miss the bits are set before insert()).
 *
 * Pages are numbered densely (struct vm_lab_ids) so that a sim finds a
 * page's frame with one array load: frame_of[id].  An evicted page's
 * entry keeps the policy's shadow instead (evict.h, "Shadows"; Linux
 * keeps it in the page-cache slot), so a policy with ghosts finds the
 * page's ghost without a table of its own.  Nothing allocates per
 * reference except when a page is seen for the first time (the id tables
 * grow geometrically).
 */
#ifndef VM_POLICY_LAB_H
#define VM_POLICY_LAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/compiler.h"
#include "base/host.h"
#include "base/u64map.h"
#include "policy/evict.h"

/* Dense ids for page numbers, in order of first reference. */
struct vm_lab_ids {
	struct vm_host *host;
	struct vm_u64map map;      /* page -> id */
	uint64_t *page;            /* id -> page */
	uint32_t n, cap;
};

void vm_lab_ids_init(struct vm_lab_ids *ids, struct vm_host *host);
void vm_lab_ids_fini(struct vm_lab_ids *ids);
/* The id of page, made when new: 0, -ENOMEM or -E2BIG (2^32 - 1 pages). */
int vm_lab_ids_get(struct vm_lab_ids *ids, uint64_t page, uint32_t *id);
/* The ids of pages[0..n) into id[], as vm_lab_ids_get one by one but with
 * the lookups' cache misses overlapped: 0 or the first error. */
int vm_lab_ids_get_many(struct vm_lab_ids *ids, const uint64_t *pages, size_t n, uint32_t *id);

struct vm_lab_counts {
	uint64_t misses;           /* references = sim->time, hits = time - misses */
	uint64_t evictions;        /* pages evicted (misses once memory was full, or more) */
	uint64_t writebacks;       /* dirty pages written back: at eviction or by the policy */
};

/* One policy on one memory. */
struct vm_lab_sim {
	struct vm_host *host;
	struct vm_evict *e;
	const struct vm_evict_ops *ops;
	uint32_t frames;
	bool sees;                 /* ops->flags & VM_EVICT_SEES_ACCESSES */
	uint32_t *frame_of;        /* per page id: frame + 1 if resident, else VM_LAB_SHADOW |
	                              the policy's shadow (0: none); ids_cap entries */
	uint32_t ids_cap;
	uint32_t *id_of;           /* per frame: the page id in it */
	uint8_t *bits;             /* per frame: VM_EVICT_A | VM_EVICT_D */
	uint32_t *free;            /* frames freed by evictions, a stack */
	uint32_t nfree;
	uint32_t fresh;            /* frames [fresh, frames) were never used: nothing
	                            * per frame is touched before it is needed */
	uint32_t *victims;         /* the last reference's evicted page ids (frames entries) */
	uint32_t nvictims;
	uint64_t time;             /* references so far */
	uint64_t next_tick;        /* time of the next ops->tick, UINT64_MAX for none */
	struct vm_lab_counts n;
};

/* frame_of[id] with this bit: not resident, the rest is the shadow. */
#define VM_LAB_SHADOW 0x80000000u

/* Is the page whose frame_of entry is v resident? */
static inline bool vm_lab_resident(uint32_t v)
{
	return v - 1 < VM_LAB_SHADOW - 1;
}

/* A sim of policy ops on frames frames, fewer than 2^31 - 1 (params other
 * than frames, capacity, shadows, bits, hw and host taken from p, which may
 * be NULL).  0, -EINVAL, -ENOMEM. */
int vm_lab_sim_create(const struct vm_evict_ops *ops, uint32_t frames,
		      const struct vm_evict_params *p, struct vm_host *host, struct vm_lab_sim **out);
void vm_lab_sim_destroy(struct vm_lab_sim *s);

/* Make room for page ids below n.  0 or -ENOMEM. */
int vm_lab_sim_reserve(struct vm_lab_sim *s, uint32_t n);

/* The miss path: evict while memory is full (or the policy wants more
 * freed), then load the page.  The victims' ids in s->victims. */
void vm_lab_sim_miss(struct vm_lab_sim *s, uint32_t id, const struct vm_evict_ref *r, bool write);

/* One reference to page id (reserved) with the key the policy sees; next
 * is the time of the next reference to the page (VM_EVICT_NEVER if none or
 * unknown).  Returns true on a hit; on a miss the evicted pages' ids are in
 * s->victims[0..s->nvictims). */
static inline bool vm_lab_sim_ref(struct vm_lab_sim *s, uint32_t id, uint64_t key, bool write,
				  uint64_t next)
{
	uint32_t f = s->frame_of[id];
	struct vm_evict_ref r = { key, next, write ? VM_EVICT_REF_WRITE : 0u, f & ~VM_LAB_SHADOW };
	bool hit = vm_lab_resident(f);

	if (VM_LIKELY(hit)) {
		s->bits[f - 1] |= (uint8_t)(VM_EVICT_A | (write ? VM_EVICT_D : 0u));
		if (s->sees) {
			s->e->now = s->time;
			vm_evict_access(s->e, f - 1, &r);
		}
	} else {
		vm_lab_sim_miss(s, id, &r, write);
	}
	if (VM_UNLIKELY(++s->time == s->next_tick)) {
		s->e->now = s->time;
		s->e->ops->tick(s->e);
		s->next_tick += s->e->tick;
	}
	return hit;
}

static inline uint64_t vm_lab_sim_refs(const struct vm_lab_sim *s)
{
	return s->time;
}

static inline uint64_t vm_lab_sim_hits(const struct vm_lab_sim *s)
{
	return s->time - s->n.misses;
}

/* n reads of ids[] (reserved), the key being the id: the benchmark's loop. */
void vm_lab_sim_run_ids(struct vm_lab_sim *s, const uint32_t *ids, size_t n);

/* Resident pages in the policy's order as page ids into out (room for
 * frames); returns how many. */
uint32_t vm_lab_sim_contents(const struct vm_lab_sim *s, uint32_t *out);

/* Cross-check the sim and its policy: frame_of and id_of agree, the
 * policy's check passes.  0 or -EUCLEAN with msg. */
int vm_lab_sim_check(const struct vm_lab_sim *s, char *msg, size_t len);

/* Several policies (or sizes) over the same references, fed in chunks:
 * the references are read once, whatever the number of sims. */
struct vm_lab {
	struct vm_host *host;
	struct vm_lab_ids ids;
	struct vm_lab_sim **sims;
	unsigned nsims;
	bool future;               /* next[] was computed (vm_lab_future_*) */
	uint64_t *next;            /* per reference time: time of the next use of its page */
	uint64_t *last;            /* per page id, during the future pass: last time + 1 */
	uint64_t nrefs, next_cap, last_cap;
	uint64_t time;             /* references fed */
	uint32_t *cid;             /* chunk buffers */
	uint64_t *ckey, *cnext;
	size_t ccap;
};

void vm_lab_init(struct vm_lab *lab, struct vm_host *host);
void vm_lab_fini(struct vm_lab *lab);      /* destroys the sims too */
/* Add a sim (the lab owns it from then).  0 or -ENOMEM. */
int vm_lab_add(struct vm_lab *lab, struct vm_lab_sim *s);

/* The future pass (OPT): feed every reference's page, in order, then
 * call done; afterwards vm_lab_feed passes each reference's next use.
 * 0 or -ENOMEM. */
int vm_lab_future_add(struct vm_lab *lab, uint64_t page);
void vm_lab_future_done(struct vm_lab *lab);

/* Run n references (pages[], writes[] may be NULL) through every sim.
 * 0, -ENOMEM, -E2BIG, or -ERANGE (more references than the future pass saw). */
int vm_lab_feed(struct vm_lab *lab, const uint64_t *pages, const bool *writes, size_t n);

/* One reference, at reference number time, for sim k alone (steps: each
 * sim is run to the end before the next).  0, -ENOMEM, -E2BIG, -ERANGE. */
int vm_lab_step(struct vm_lab *lab, unsigned k, uint64_t time, uint64_t page, bool write);

#endif
