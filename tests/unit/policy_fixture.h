/*
 * Helpers for the policy tests: run a policy on a reference string in the
 * lab, one reference at a time, checking the sim and the policy after
 * every step, and record the victims.
 */
#ifndef VMLAB_POLICY_FIXTURE_H
#define VMLAB_POLICY_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "policy/evict.h"
#include "policy/lab.h"
#include "tap.h"

#define PF_MAX_VICTIMS 4096

/* Check the sim after every pf_check_every-th step (and at the end); 0 =
 * only at the end.  The check is O(pages), so long runs thin it out. */
static unsigned pf_check_every __attribute__((unused)) = 1;

struct pf_run {
	uint64_t hits, misses, writebacks;
	uint64_t victims[PF_MAX_VICTIMS];     /* pages, in eviction order */
	unsigned nvictims;
	int check_failures;
	char first_failure[256];
	char state[400];                       /* ops->state at the end, if any */
	uint64_t contents[PF_MAX_VICTIMS];     /* pages in the policy's order at the end */
	unsigned ncontents;
	char notes[PF_MAX_VICTIMS][24];
};

/* Run policy name with frames frames on refs[0..n) (writes[] may be NULL),
 * parameters from p (NULL for defaults).  Returns 0 or the error of
 * creation.  Every step is followed by vm_lab_sim_check. */
static int pf_run(const char *name, uint32_t frames, const uint64_t *refs, const bool *writes,
		  size_t n, const struct vm_evict_params *p, struct pf_run *out)
	__attribute__((unused));
static int pf_run(const char *name, uint32_t frames, const uint64_t *refs, const bool *writes,
		  size_t n, const struct vm_evict_params *p, struct pf_run *out)
{
	const struct vm_evict_ops *ops = vm_evict_find(name);
	struct vm_host host = { 0 };
	struct vm_lab lab;
	struct vm_lab_sim *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!ops)
		return -ENOENT;
	vm_lab_init(&lab, &host);
	if (ops->flags & VM_EVICT_NEEDS_FUTURE) {
		for (size_t i = 0; i < n; i++)
			if ((rc = vm_lab_future_add(&lab, refs[i])) != 0)
				goto out;
		vm_lab_future_done(&lab);
	}
	rc = vm_lab_sim_create(ops, frames, p, &host, &s);
	if (rc)
		goto out;
	rc = vm_lab_add(&lab, s);
	if (rc) {
		vm_lab_sim_destroy(s);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char msg[200];
		bool w = writes && writes[i];
		uint64_t misses = s->n.misses;
		rc = vm_lab_feed(&lab, &refs[i], &w, 1);
		if (rc)
			goto out;
		if (s->n.misses != misses)
			for (uint32_t v = 0; v < s->nvictims && out->nvictims < PF_MAX_VICTIMS; v++)
				out->victims[out->nvictims++] = lab.ids.page[s->victims[v]];
		bool last = i + 1 == n;
		if ((last || (pf_check_every && (i + 1) % pf_check_every == 0)) &&
		    vm_lab_sim_check(s, msg, sizeof(msg)) != 0 && out->check_failures++ == 0)
			snprintf(out->first_failure, sizeof(out->first_failure), "step %zu: %s", i + 1,
				 msg);
	}
out:
	if (rc == 0) {
		s = lab.sims[0];
		out->hits = vm_lab_sim_hits(s);
		out->misses = s->n.misses;
		out->writebacks = s->n.writebacks + s->e->stats.writebacks;
		if (s->e->ops->state)
			s->e->ops->state(s->e, out->state, sizeof(out->state));
		uint32_t ids[PF_MAX_VICTIMS];
		out->ncontents = frames <= PF_MAX_VICTIMS ? vm_lab_sim_contents(s, ids) : 0;
		for (unsigned i = 0; i < out->ncontents; i++) {
			uint32_t f = s->frame_of[ids[i]] - 1;
			out->contents[i] = lab.ids.page[ids[i]];
			out->notes[i][0] = '\0';
			if (s->e->ops->note)
				s->e->ops->note(s->e, f, out->notes[i], sizeof(out->notes[i]));
		}
	}
	vm_lab_fini(&lab);
	if (host.allocs != host.frees && rc == 0)
		rc = -EFAULT;
	return rc;
}

#endif
