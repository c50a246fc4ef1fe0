/*
 * The buddy frame allocator (Linux mm/page_alloc.c): free blocks of 2^order
 * frames, order 0 (4 KiB) to VM_MAX_ORDER (18 = 1 GiB), each block aligned to
 * its size.  Allocation takes the smallest free block at least as large and
 * splits it (__rmqueue_smallest / expand); freeing merges a block with its
 * buddy (pfn ^ (1 << order)) while the buddy is free and of the same order
 * (__free_one_page).  So 2 MiB and 1 GiB pages need real contiguity and
 * fragmentation is visible.
 */
#ifndef VM_KERNEL_BUDDY_H
#define VM_KERNEL_BUDDY_H

#include <stdint.h>

#include "base/list.h"
#include "kernel/page.h"

#define VM_MAX_ORDER 18

struct vm_buddy {
	struct vm_page *pages;                  /* descriptors, index = pfn; not owned */
	uint64_t nframes;                       /* frames managed: pfn < nframes */
	struct vm_list free[VM_MAX_ORDER + 1];  /* free block heads, by order */
	uint64_t nfree[VM_MAX_ORDER + 1];       /* blocks on free[order] */
	uint64_t free_frames;                   /* == sum of nfree[o] << o */
	/* statistics */
	uint64_t allocs, alloc_fails, frees, splits, merges;
};

/* Manage frames [0, nframes) with descriptors pages[0 .. nframes-1], all of
 * them free: carved into the largest aligned blocks that fit.  Descriptors
 * must be zeroed. */
void vm_buddy_init(struct vm_buddy *b, struct vm_page *pages, uint64_t nframes);

/* Allocate a block of 2^order frames, aligned to its size.  Returns 0 and the
 * first pfn, -EINVAL for order > VM_MAX_ORDER, -ENOMEM when no free block is
 * large enough (even if enough smaller ones are free).  The head descriptor
 * gets refcount 1 and, for order > 0, VM_PG_HEAD with its order; the others
 * VM_PG_TAIL.  Frame contents are not touched. */
int vm_buddy_alloc(struct vm_buddy *b, unsigned order, uint64_t *pfn);

/* Free the block of 2^order frames at pfn (as returned by alloc, refcount and
 * mapcount already dropped to 0).  Returns 0, or -EINVAL if the block is not
 * an allocated block of that order (misaligned, out of range, already free). */
int vm_buddy_free(struct vm_buddy *b, uint64_t pfn, unsigned order);

/* Reserve one specific free frame (e.g. the zero page, firmware): splits the
 * free block that holds it.  Returns 0 or -EBUSY if pfn is not free. */
int vm_buddy_take(struct vm_buddy *b, uint64_t pfn);

/* Linux's extfrag index for an allocation of 2^order frames
 * (mm/vmstat.c __fragmentation_index), times 1000: -1000 when a free block
 * of that order exists (the allocation would succeed); 0 when there is no
 * free memory at all; otherwise towards 0 a failure is lack of memory and
 * towards 1000 it is fragmentation. */
int vm_buddy_frag_index(const struct vm_buddy *b, unsigned order);

/* Linux's unusable free space index (mm/vmstat.c unusable_free_index), times
 * 1000: the fraction of free memory in blocks too small for the order. */
int vm_buddy_unusable_index(const struct vm_buddy *b, unsigned order);

/* Validate every invariant: free lists, counts, alignment, no two free
 * buddies of the same order left unmerged, descriptor flags.  Returns 0 or
 * -EUCLEAN with a description in msg (msg may be NULL). */
int vm_buddy_check(const struct vm_buddy *b, char *msg, size_t len);

#endif
