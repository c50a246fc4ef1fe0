/*
 * Page tables behind one interface (DESIGN.md "Interfaces with many
 * implementations"): struct pt_ops, one file per organisation, one registry.
 *
 * Table memory is frames of simulated physical memory obtained from a frame
 * source (the kernel's buddy allocator in a full machine): page-table memory
 * is counted, a walk's references carry real physical addresses, and the
 * entries live in those frames (vm_phys_table), in data and meta mode alike.
 * The hardware layer never allocates frames itself.
 *
 * Entries use the x86-64 format of pte.h whatever the organisation, so the
 * kernel, the MMU and the TLB share one vocabulary.
 */
#ifndef VM_HW_PT_H
#define VM_HW_PT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmlab/types.h>

#include "hw/access.h"
#include "hw/phys.h"
#include "hw/pte.h"

struct vm_pwc;

/* Where table frames come from.  alloc returns 0 and a frame (contents
 * undefined: the page-table code zeroes it) or -ENOMEM. */
struct vm_frame_source {
	int (*alloc)(void *ctx, uint64_t *pfn);
	void (*free)(void *ctx, uint64_t pfn);
	void *ctx;
};

struct vm_pt {
	const struct pt_ops *ops;
	struct vm_phys *phys;
	struct vm_frame_source src;
	unsigned levels;          /* radix: 4 or 5 */
	unsigned va_bits;         /* 48 or 57: canonical width of virtual addresses */
	uint64_t root_pfn;        /* the frame CR3 points to */
	uint64_t table_frames;    /* frames holding tables now, the root included */
	uint64_t nonpresent;      /* non-present non-zero PTEs (swap entries) in the tables */
	void *priv;               /* organisation-specific */
};

/* One leaf as reported by lookup, unmap and for_each; the *_entry and
 * *_nonpresent operations also report non-present PTEs (P = 0, not zero:
 * a swap entry, in software's format) as level-1 leaves. */
struct vm_pt_leaf {
	vm_vaddr va;              /* base of the page (aligned to its size) */
	enum vm_psize size;
	unsigned level;           /* 1 = PTE, 2 = PMD (2 MiB), 3 = PUD (1 GiB) */
	vm_pte pte;               /* the entry's value; P = 0 for a non-present entry */
	vm_paddr ptep;            /* where the entry lives */
};

/* Called for each leaf; a non-zero return stops the iteration and is
 * returned by the operation. */
typedef int (*vm_pt_leaf_fn)(void *ctx, const struct vm_pt_leaf *leaf);

#define VM_WALK_MAX_REFS 16

/* One hardware walk, as the MMU sees it. */
struct vm_walk {
	uint64_t pbase;           /* physical base of the page (success) */
	enum vm_psize size;       /* page size of the leaf (success) */
	uint8_t perm;             /* VM_PERM_* effective rights, D as after the access */
	uint8_t pkey;             /* the leaf's protection key */
	uint32_t error;           /* #PF error code when the walk faults */
	unsigned start_level;     /* level of the first table read: top, or lower after a PWC hit */
	vm_paddr leaf_pa;         /* where the leaf entry lives */
	unsigned nrefs;           /* memory references, in order */
	struct {
		vm_paddr pa;      /* physical address of the entry read */
		uint8_t level;
	} ref[VM_WALK_MAX_REFS];
};

struct pt_ops {
	const char *name;
	const char *desc;          /* one line for `vmlab list pts` */

	/* Allocate the root; pt->phys, src, levels, va_bits are set.
	 * 0 or -ENOMEM. */
	int (*create)(struct vm_pt *pt);
	/* Free every table frame (not the frames the leaves map). */
	void (*destroy)(struct vm_pt *pt);

	/* Map the page of `size` at va to the frame block at pfn with flags prot
	 * (VM_PTE_PROT_MASK | VM_PTE_A | VM_PTE_D; P and PS are added).
	 * -EINVAL: va or pfn not aligned to size, va not canonical or beyond the
	 * user/kernel halves the tables cover, prot outside the mask, size not
	 * supported; -EEXIST: a present entry or a lower table is in the way;
	 * -ENOMEM: no frame for a table (nothing changed). */
	int (*map)(struct vm_pt *pt, vm_vaddr va, uint64_t pfn, enum vm_psize size, uint64_t prot);

	/* Remove every present leaf overlapping [start, end) (4 KiB aligned,
	 * start < end, canonical).  A large leaf only partly inside is first
	 * split (as Linux's split_huge_pmd) so that only the range goes.  fn (may
	 * be NULL) sees each removed leaf before it goes.  Tables left empty are
	 * freed.  -EINVAL, -ENOMEM (a split needed a frame; leaves before it are
	 * already removed). */
	int (*unmap)(struct vm_pt *pt, vm_vaddr start, vm_vaddr end, vm_pt_leaf_fn fn, void *ctx);

	/* For every present leaf in [start, end): pte = (pte & ~clear) | set,
	 * with set/clear within VM_PTE_PROT_MASK | VM_PTE_A | VM_PTE_D.  Large
	 * leaves partly inside are split first.  -EINVAL, -ENOMEM. */
	int (*protect)(struct vm_pt *pt, vm_vaddr start, vm_vaddr end, uint64_t set, uint64_t clear);

	/* Split the large leaf that maps va into 512 leaves of the next size
	 * down, same frames and flags.  -ENOENT if va is not mapped by a large
	 * leaf, -ENOMEM. */
	int (*split)(struct vm_pt *pt, vm_vaddr va);

	/* The leaf that maps va (present), or -ENOENT; -EINVAL non-canonical. */
	int (*lookup)(struct vm_pt *pt, vm_vaddr va, struct vm_pt_leaf *out);

	/* The hardware walk for an access acc (VM_ACC_*) under control state
	 * ctl: reads entries through physical memory (each read a reference in
	 * w), checks P and reserved bits, accumulates rights, sets A in every
	 * entry it uses and, when the access is allowed, A in the leaf and D on
	 * a write (SDM 4.8).  Uses and fills pwc (tagged pcid) when not NULL.
	 * Returns 0, or 1 with w->error for a page fault.  va is canonical. */
	int (*walk)(struct vm_pt *pt, vm_vaddr va, unsigned acc, const struct vm_paging_ctl *ctl,
		    struct vm_pwc *pwc, uint16_t pcid, struct vm_walk *w);

	/* Each present leaf overlapping [start, end), in address order. */
	int (*for_each)(struct vm_pt *pt, vm_vaddr start, vm_vaddr end, vm_pt_leaf_fn fn, void *ctx);

	/* Non-present entries.  The operations above see present leaves only
	 * (a PTE holding a swap entry is not a mapping); a table holding only
	 * non-present entries is not empty and is not freed. */

	/* Linux: set_pte_at() on a 4 KiB PTE: write e into the level-1 entry
	 * for va, allocating the tables above it.  e is a non-present entry
	 * (P = 0, not zero, PS clear) or a present 4 KiB leaf (P set, PS clear,
	 * flags within VM_PTE_PROT_MASK | A | D).  Whatever was there (none, a
	 * non-present entry, a present 4 KiB leaf) is replaced: its accounting
	 * and its TLB entries are the caller's.  -EINVAL (va not canonical or
	 * not 4 KiB aligned, e malformed), -EEXIST (a large leaf maps va),
	 * -ENOMEM (no frame for a table; nothing changed). */
	int (*set_pte)(struct vm_pt *pt, vm_vaddr va, vm_pte e);

	/* The entry for va whether present or not: a present leaf of any level
	 * or a non-present PTE.  0 and *out, -ENOENT (none), -EINVAL. */
	int (*lookup_entry)(struct vm_pt *pt, vm_vaddr va, struct vm_pt_leaf *out);

	/* Each present leaf and each non-present PTE overlapping [start, end),
	 * in address order (Linux's PTE range walks see both). */
	int (*for_each_entry)(struct vm_pt *pt, vm_vaddr start, vm_vaddr end, vm_pt_leaf_fn fn,
			      void *ctx);

	/* Linux: zap_nonpresent_ptes()'s pte_clear: remove every non-present
	 * PTE in [start, end); fn (may be NULL) sees each before it goes (a
	 * non-zero return stops, leaving that one).  Tables left empty are
	 * freed.  -EINVAL. */
	int (*clear_nonpresent)(struct vm_pt *pt, vm_vaddr start, vm_vaddr end, vm_pt_leaf_fn fn,
				void *ctx);

	/* Validate the structure: every table frame counted once, no table
	 * empty but the root, entries well formed, nonpresent equal to the
	 * non-present PTEs found.  0 or -EUCLEAN with msg. */
	int (*check)(struct vm_pt *pt, char *msg, size_t len);
};

/* The registry: organisations by name ("radix4", "radix5"). */
struct vm_pt_type {
	const char *name;
	const char *desc;
	const struct pt_ops *ops;
	unsigned levels;
};
const struct vm_pt_type *vm_pt_type_at(unsigned i);
const struct vm_pt_type *vm_pt_type_find(const char *name);

/* Create a page table of the named organisation.  0, -EINVAL (unknown
 * name), -ENOMEM. */
int vm_pt_create(struct vm_pt *pt, const char *type, struct vm_phys *phys,
		 const struct vm_frame_source *src);
void vm_pt_destroy(struct vm_pt *pt);

/* Page-table memory in bytes. */
static inline uint64_t vm_pt_bytes(const struct vm_pt *pt)
{
	return pt->table_frames << 12;
}

#endif
