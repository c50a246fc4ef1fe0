/*
 * Swap (Linux mm/swapfile.c, mm/swap_state.c, do_swap_page in
 * mm/memory.c): swap areas with sizes and priorities (the `swap` setting,
 * swap_spec.h), a slot allocator, swap entries in Linux's x86-64
 * non-present PTE format, a swap cache, swap-in as a major fault with
 * readahead of 2^page_cluster slots.
 *
 * An entry's type is its area's index in swapon order.  Slots come from the
 * highest-priority area with a free slot; areas of equal priority take
 * turns, one allocation each (get_swap_pages over swap_avail_heads).
 *
 * Counting rules (vm_kernel_check), per area a:
 *   a->map[off]  swap entries (in every mm, and in shmem objects' indexes:
 *                see the end of this file) holding slot off; a slot is free
 *                when map[off] == 0 and the swap cache does not hold it
 *   a->inuse     slots not free; swap->inuse their sum
 *   swap cache   (type, offset) -> frame, a->cache per area; the cache holds
 *                one reference on the frame (an anonymous page: refcount =
 *                mapcount + 1)
 *   mm->rss[VM_RSS_SWAP] == the mm's swap entries
 *
 * Where the entries live: in the PTEs, as Linux's x86-64 swap PTE (type
 * in bits 63:59, the offset inverted in 58:9, P = 0), written with
 * pt->ops->set_pte and found by the page-table range walks that report
 * non-present entries (pt.h).
 */
#ifndef VM_KERNEL_SWAP_H
#define VM_KERNEL_SWAP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/u64map.h"
#include "kernel/kernel.h"
#include "kernel/swap_spec.h"

struct vm_fault;
struct vm_anon_vma;

/* Linux arch/x86/include/asm/pgtable_64.h. */
#define VM_SWP_TYPE_BITS 5
#define VM_SWP_OFFSET_FIRST_BIT 9          /* _PAGE_BIT_PROTNONE + 1 */
#define VM_SWP_OFFSET_SHIFT (VM_SWP_OFFSET_FIRST_BIT + VM_SWP_TYPE_BITS)

/* __swp_entry(type, offset) as a PTE: the offset inverted (L1TF: the
 * bits would point at no memory if the CPU used them). */
static inline vm_pte vm_swp_pte(unsigned type, uint64_t offset)
{
	return (vm_pte){ (~offset << VM_SWP_OFFSET_SHIFT >> VM_SWP_TYPE_BITS) |
			 ((uint64_t)type << (64 - VM_SWP_TYPE_BITS)) };
}

static inline unsigned vm_swp_pte_type(vm_pte e)
{
	return (unsigned)(e.v >> (64 - VM_SWP_TYPE_BITS));
}

static inline uint64_t vm_swp_pte_offset(vm_pte e)
{
	return ~e.v << VM_SWP_TYPE_BITS >> VM_SWP_OFFSET_SHIFT;
}

/* One area (Linux struct swap_info_struct). */
struct vm_swap_area {
	unsigned type;                /* index in swapon order: the entries' type field */
	int prio;                     /* given, or swapon's default -2, -3, ... */
	uint64_t nslots;              /* pages of the area; slot 0 is the header */
	uint64_t inuse;               /* slots in use (entries or the cache) */
	uint64_t cursor;              /* next slot to try (scan_swap_map_slots) */
	uint16_t *map;                /* [nslots]: swap entries holding each slot */
	struct vm_anon_vma **owner;   /* [nslots]: the page's anon_vma ... */
	uint64_t *index;              /* ... and index, restored at swap-in (the rmap) */
	struct vm_u64map data;        /* data mode: offset -> host copy of the page */
	struct vm_u64map cache;       /* offset -> pfn (the area's swapper_space) */
};

struct vm_swap {
	unsigned nareas;
	unsigned page_cluster;        /* readahead of 2^page_cluster slots */
	uint64_t pages;               /* total_swap_pages: the areas' slots but headers */
	uint64_t inuse;               /* sum of the areas' inuse */
	/* swap_avail_heads: area types by priority, highest first; within one
	 * priority the next to use first (rotated at each allocation). */
	unsigned avail[VM_MAX_SWAPFILES];
	struct vm_u64map cache_rev;   /* pfn -> its swap entry (vm_swp_pte value) */
	struct vm_swap_area area[VM_MAX_SWAPFILES];
};

/* swapon of each area of spec, in order (an area without a priority gets
 * Linux's least_priority: -2, then -3, ...).  With spec->n == 0, no swap
 * (k->swap stays NULL).  0, -EINVAL (vm_swap_spec_check), -ENOMEM. */
int vm_swap_init(struct vm_kernel *k, const struct vm_swap_spec *spec, unsigned page_cluster);
void vm_swap_fini(struct vm_kernel *k);

/* Linux: try_to_unmap() into swap entries + pageout() to the slot: the
 * anonymous page pfn leaves every mapping; 0 when it is free now, else
 * -ENOSPC (no slot), -EBUSY (pinned, a mapping out of reach), -ENOMEM. */
int vm_swap_out(struct vm_kernel *k, uint64_t pfn);

/* The swap PTE at va in mm, if there is one. */
bool vm_swap_pte_at(const struct vm_mm *mm, vm_vaddr va, vm_pte *out);
/* Any swap entry in [start, end)? */
bool vm_swap_any(const struct vm_mm *mm, vm_vaddr start, vm_vaddr end);
/* Swap entries in [start, end). */
uint64_t vm_swap_count(const struct vm_mm *mm, vm_vaddr start, vm_vaddr end);
/* Linux smaps_pte_entry()'s swap_pss: each swap entry of [start, end)
 * counts a page divided by the references to its slot (swp_swapcount:
 * the mms and shmem indexes holding it, not the swap cache), in bytes
 * << shift. */
uint64_t vm_swap_pss(const struct vm_kernel *k, const struct vm_mm *mm, vm_vaddr start,
		     vm_vaddr end, unsigned shift);

/* Linux: do_swap_page() for the swap entry at vmf->address. */
unsigned vm_do_swap_page(struct vm_fault *vmf, vm_pte entry);

/* Linux: zap_nonpresent_ptes() -> free_swap_and_cache(): the entries of
 * [start, end) in mm go, their slots with the last reference. */
void vm_swap_zap(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start, vm_vaddr end);
/* Linux: copy_nonpresent_pte() -> swap_duplicate(): fork copies the
 * entries of [start, end).  0, -ENOMEM. */
int vm_swap_fork(struct vm_kernel *k, struct vm_mm *dst, struct vm_mm *src, vm_vaddr start,
		 vm_vaddr end);
/* Linux: move_ptes() for the swap entry at old: it moves to new (page
 * aligned, none there).  0, -ENOENT (no swap entry at old), -ENOMEM
 * (nothing moved). */
int vm_swap_move_entry(struct vm_mm *mm, vm_vaddr old, vm_vaddr new);
/* A page in the swap cache was freed by reclaim or its last put. */
void vm_swap_cache_forget(struct vm_kernel *k, uint64_t pfn);
/* Is pfn in the swap cache? */
bool vm_swap_cached(const struct vm_kernel *k, uint64_t pfn);
/* The area an entry names, or NULL (no such area, offset 0 or beyond it). */
struct vm_swap_area *vm_swap_area_of(const struct vm_kernel *k, vm_pte entry);

/* ---- shmem (shmem_swap.c): entries held by a shmem object's index ---------
 * Such an entry holds one reference on its slot (a->map[off] == 1, Linux's
 * swap_duplicate in shmem_writeout), and no anon_vma (owner NULL). */

/* Linux folio_alloc_swap() + swap_writeout() for shmem_writeout(): shmem
 * page pfn, out of every mapping, gets a slot that the object's index will
 * hold, and its bytes are written there (pswpout).  It is not left in the
 * swap cache (the write completes at once).  0 and *entry, -ENOSPC (no
 * slot, or no swap), -ENOMEM. */
int vm_swap_shmem_write(struct vm_kernel *k, uint64_t pfn, vm_pte *entry);

/* Linux swap_cache_get_folio() (a hit: swap_ra_hit for a fault), or a
 * read (pswpin, *major): shmem_swapin_cluster() with readahead for a
 * fault (shmem_swapin_folio), read_swap_cache_async() alone otherwise
 * (shmem_swapin_range).  The page of entry, with a reference for the
 * caller, still in the swap cache (as an anonymous page without owner).
 * 0, -EINVAL (a bad entry), -ENOMEM. */
int vm_swap_shmem_read(struct vm_kernel *k, vm_pte entry, bool fault, uint64_t *pfn,
		       bool *major);

/* Linux swap_free_nr() / free_swap_and_cache(): the index lets go of
 * entry; the slot is free and its cached page leaves the swap cache.
 * Nothing for a bad entry. */
void vm_swap_shmem_free(struct vm_kernel *k, vm_pte entry);

#endif
