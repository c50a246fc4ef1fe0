/*
 * What the TLB files of src/hw share and nobody else needs.  tlb.c (lookup,
 * fill, flush: the translation path), tlb_check.c (vm_tlb_check) and
 * tlb_init.c (vm_tlb_init, vm_tlb_fini) each read the entry and index layout
 * described at the top of tlb.c; the helpers that read it are here, static
 * inline so that tlb.c's lookups and fills still inline them as when they
 * were local.
 */
#ifndef VM_HW_TLB_INTERNAL_H
#define VM_HW_TLB_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/compiler.h"
#include "hw/tlb.h"

/* PCIDs are 12 bits (CR3[11:0], SDM 4.10.1). */
#define PCID_MASK 0xfffu

/* Index slots per entry, at least.  Linear probing at a load of 1/4 or less
 * expects about 1.4 slots per unsuccessful search (Knuth 6.4). */
#define IX_PER_ENTRY 4

/* LRU candidates kept per set (struct vm_tlb_lru), for LRU arrays of more
 * than LRU_SCAN_WAYS ways; smaller sets are scanned at each fill. */
#define LRU_CAND 8
#define LRU_SCAN_WAYS 16

/*
 * LRU over many ways without a scan per fill.  One pass collects the
 * LRU_CAND smallest keys (stamp, way) of the set in order; the following
 * fills take them in turn, skipping any whose stamp has changed.  That is the
 * exact LRU victim as long as every stamp written since the pass is above
 * `bound`, the largest stamp collected: then a changed entry, and one never
 * collected, has a larger key than any unchanged candidate.  tlb.c checks
 * each stamp it writes (vm_tlb_touch) and forgets the candidates when one is
 * not above bound, or when an entry is dropped (stamp 0); the fast path
 * writes only a new maximum of the CPU's clock (tlb.h), which is above every
 * stamp in the array, and so above bound.
 */
struct vm_tlb_lru {
	uint64_t bound;                 /* == stamp[n - 1] */
	uint64_t stamp[LRU_CAND];       /* ascending (stamp, way) */
	uint32_t way[LRU_CAND];
	uint32_t n, next;               /* candidates [next, n) are left; n == 0: none */
};

static inline bool tlbe_valid(const struct vm_tlbe *e)
{
	return e->tag != VM_TLB_TAG_INVALID;
}

/* SDM 4.10.2.4: a global entry may be used under any PCID. */
static inline bool tlbe_pcid_matches(const struct vm_tlbe *e, uint16_t pcid)
{
	return !((e->pcid ^ pcid) & e->pcid_mask);
}

static inline uint32_t array_entries(const struct vm_tlb_array *a)
{
	return a->sets * a->ways;
}

/* The key e has in array a while the CPU's PCID is pcid (struct vm_tlbe): the
 * fast path may use only a valid 4 KiB entry of a fast array that a lookup
 * under pcid would match. */
static inline uint64_t fast_key(const struct vm_tlb_array *a, const struct vm_tlbe *e,
				uint16_t pcid)
{
	if (!a->fx || !tlbe_valid(e) || e->size != VM_PSIZE_4K || !tlbe_pcid_matches(e, pcid))
		return VM_TLB_KEY_NONE;
	return e->tag >> 2;
}

/* The bit of perm in the CPU's hit_ok[] tables (which cover perm < 32: the
 * VM_PERM_* bits); none for a perm no table covers, so that it never hits. */
static inline uint32_t perm_bit(unsigned perm)
{
	return perm < 32 ? UINT32_C(1) << perm : 0;
}

/* pbase minus the va of the entry's page: what the fast path adds to a va. */
static inline uint64_t entry_delta(const struct vm_tlbe *e)
{
	return e->pbase - ((e->tag >> 2) << vm_psize_shift(e->size));
}

/* Set of page number pn (va >> the shift of the size being looked for).  Real
 * geometries mostly give power-of-two set counts (Skylake's 1536-entry 12-way
 * STLB has 128), but nothing requires it (3072 entries at 8 ways would be 384
 * sets), so fall back to a modulo. */
static inline uint32_t set_of(const struct vm_tlb_array *a, uint64_t pn)
{
	if (vm_is_pow2(a->sets))
		return (uint32_t)(pn & (a->sets - 1));
	return (uint32_t)(pn % a->sets);
}

static inline uint32_t ix_next(const struct vm_tlb_array *a, uint32_t i)
{
	return (i + 1) & a->ix_mask;
}

#endif
