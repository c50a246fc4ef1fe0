/*
 * Paging-structure caches ("page-walk caches", SDM 4.10.3): small fully
 * associative caches of non-leaf entries that let a walk skip the upper
 * levels.  A PDE-cache entry is keyed by VA bits 47:21 (56:21 with LA57)
 * and gives the page table's frame, so a hit leaves one memory reference
 * (the PTE); a PDPTE-cache entry is keyed by bits 47:30, a PML4E-cache entry
 * by 47:39, a PML5E-cache entry by 56:48.
 *
 * An entry holds the next table's frame and the rights accumulated down to
 * it (AND of R/W and U/S, OR of XD: SDM 4.10.3.1), is tagged with a PCID
 * and is only filled from an entry with P = 1 and A = 1.  Global does not
 * apply.  INVLPG drops every entry of the current PCID, a page fault the
 * entries that would be used for the faulting address (4.10.4.1).
 */
#ifndef VM_HW_PWC_H
#define VM_HW_PWC_H

#include <stdint.h>

#include <vmlab/types.h>

#include "base/host.h"

struct vm_pwce {
	uint64_t key;         /* va >> vm_level_shift(level); UINT64_MAX when empty */
	uint64_t next_pfn;    /* frame of the table the cached entry points to */
	uint64_t stamp;       /* LRU recency */
	uint16_t pcid;
	uint8_t perm;         /* VM_PERM_W/U/X accumulated from the top down to this entry */
	uint8_t pad[5];
};

struct vm_pwc_level {
	struct vm_pwce *e;
	uint32_t n;           /* entries; 0 = this level is not cached */
};

struct vm_pwc {
	struct vm_pwc_level lvl[6];    /* index: level of the cached entry, 2..5 */
	uint64_t clock;
};

/* sizes[l] entries for level l (2..5); the others are ignored.
 * Returns 0 or -ENOMEM. */
int vm_pwc_init(struct vm_pwc *c, const uint32_t sizes[6], struct vm_host *host);
void vm_pwc_fini(struct vm_pwc *c, struct vm_host *host);

/* Deepest cached entry for va under pcid among levels below top_level
 * (top_level is where a walk from CR3 starts: 4 or 5).  On a hit returns the
 * level of the table to read next (1..top_level-1) with its frame and the
 * rights accumulated above it; returns 0 on a miss. */
unsigned vm_pwc_lookup(struct vm_pwc *c, uint16_t pcid, vm_vaddr va, unsigned top_level,
		       uint64_t *table_pfn, unsigned *perm);

/* Cache the non-leaf entry of `level` (2..5) that translates va and points to
 * the table at next_pfn; perm is accumulated down to and including it. */
void vm_pwc_fill(struct vm_pwc *c, uint16_t pcid, vm_vaddr va, unsigned level,
		 uint64_t next_pfn, unsigned perm);

/* Drop the entries a walk of va under pcid could use, at every level (what
 * a page fault invalidates, SDM 4.10.4.1). */
void vm_pwc_flush_va(struct vm_pwc *c, uint16_t pcid, vm_vaddr va);

/* Drop the entries of one PCID / of every PCID. */
void vm_pwc_flush_pcid(struct vm_pwc *c, uint16_t pcid);
void vm_pwc_flush_all(struct vm_pwc *c);

#endif
