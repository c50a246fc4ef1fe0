/*
 * Frame descriptors: one struct vm_page per frame of physical memory,
 * allocated once when the machine is built (Linux's struct page and
 * mem_map).  Index = pfn.
 */
#ifndef VM_KERNEL_PAGE_H
#define VM_KERNEL_PAGE_H

#include <stdint.h>

#include "base/list.h"

/* Flags (bit numbers in vm_page.flags). */
enum vm_page_flag {
	VM_PG_DIRTY,        /* contents differ from the backing store */
	VM_PG_REFERENCED,   /* software referenced bit (Linux PG_referenced) */
	VM_PG_LOCKED,       /* under I/O or otherwise pinned against reclaim */
	VM_PG_SWAPBACKED,   /* backed by swap, not a file (anon, shmem) */
	VM_PG_LRU,          /* on one of the LRU lists (links in use) */
	VM_PG_RESERVED,     /* never given to the allocator (firmware, zero page) */
	VM_PG_PGTABLE,      /* holds a page table */
	VM_PG_BUDDY,        /* head of a free block in the buddy allocator */
	VM_PG_HEAD,         /* head of an allocated block of order > 0 */
	VM_PG_TAIL,         /* inside an allocated block of order > 0, not the head */
	VM_PG_ACTIVE,       /* on an active LRU list */
	VM_PG_ANON_EXCLUSIVE, /* anonymous page only this mapping may write without a fault
			       * (Linux PageAnonExclusive): set for a new page and on a
			       * reuse, cleared when fork shares it */
	VM_PG_COUNT
};

/* Who owns the frame's contents (the reverse map starts from here). */
enum vm_page_owner {
	VM_OWNER_NONE,      /* free, kernel-internal or a page table */
	VM_OWNER_ANON,      /* anonymous memory: owner = its anon_vma, index = linear_page_index (the VMA object's page) */
	VM_OWNER_FILE,      /* page cache: owner = file, index = page offset */
};

struct vm_page {
	struct vm_list lru;      /* buddy free list while free; LRU lists once in use */
	uint32_t refcount;       /* holders (mappings, caches, I/O); 0 = free */
	int32_t mapcount;        /* page-table entries mapping this frame */
	uint32_t flags;          /* 1u << enum vm_page_flag */
	uint8_t order;           /* block order when VM_PG_BUDDY or VM_PG_HEAD */
	uint8_t owner_kind;      /* enum vm_page_owner */
	uint16_t unused;
	void *owner;             /* file or anon_vma; meaning by owner_kind */
	uint64_t index;          /* file page offset or anon vpn */
};

static inline int vm_page_test(const struct vm_page *pg, enum vm_page_flag f)
{
	return (pg->flags >> f) & 1u;
}

static inline void vm_page_set(struct vm_page *pg, enum vm_page_flag f)
{
	pg->flags |= 1u << f;
}

static inline void vm_page_clear(struct vm_page *pg, enum vm_page_flag f)
{
	pg->flags &= ~(1u << f);
}

#endif
