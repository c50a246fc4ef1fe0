/*
 * Miss-ratio curves.
 *
 * Exact LRU in one pass (Mattson, Gecsei, Slutz, Traiger, IBM Systems
 * Journal 1970): LRU is a stack algorithm, so a reference hits in every
 * memory of at least its *stack distance* frames (the number of distinct
 * pages referenced since the previous reference to the same page, plus
 * one) and misses in every smaller one.  A histogram of distances gives
 * the misses of every size at once:
 *   misses(c) = cold misses + sum over d > c of hist[d].
 * Distances come from a Fenwick tree over time: a 1 marks the last
 * reference of each page; the distance of a reference at time t to a page
 * last seen at t0 is 1 + (the number of 1s in (t0, t)).  O(log n) per
 * reference; the tree is compacted (the live marks renumbered in time
 * order) whenever time reaches its end, so its size follows the number of
 * distinct pages, not the length of the string.
 *
 * Other policies are not stack algorithms (FIFO's anomaly): their curves
 * come from one sim per size run side by side (vm_lab).
 */
#ifndef VM_POLICY_MRC_H
#define VM_POLICY_MRC_H

#include <stddef.h>
#include <stdint.h>

#include "base/host.h"

struct vm_mrc_lru {
	struct vm_host *host;
	uint64_t *last;            /* per page id: its mark's position + 1, 0 = never seen */
	uint32_t ids_cap;
	uint32_t *tree;            /* Fenwick tree over positions 1..cap */
	uint32_t *id_at;           /* per position: the page id marked there */
	uint64_t cap;              /* positions */
	uint64_t pos;              /* positions used */
	uint64_t *hist;            /* hist[d - 1]: references at stack distance d */
	uint64_t hist_cap;
	uint64_t refs, cold;       /* references; first references (infinite distance) */
	uint64_t distinct;         /* pages seen: the footprint */
};

void vm_mrc_lru_init(struct vm_mrc_lru *m, struct vm_host *host);
void vm_mrc_lru_fini(struct vm_mrc_lru *m);

/* One reference to page id (dense: ids are 0, 1, 2, ... in order of first
 * reference, as struct vm_lab_ids makes them).  0 or -ENOMEM. */
int vm_mrc_lru_add(struct vm_mrc_lru *m, uint32_t id);

/* The LRU misses of a memory of c frames (c >= 1). */
uint64_t vm_mrc_lru_misses(const struct vm_mrc_lru *m, uint64_t c);

/* misses[c - 1] for every c in 1..max: one pass over the histogram. */
void vm_mrc_lru_curve(const struct vm_mrc_lru *m, uint64_t *misses, uint64_t max);

#endif
