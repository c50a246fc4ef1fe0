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

#include <stddef.h>
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
	/* statistics: allocs counts successful allocs and takes, so that
	 * allocs - frees == blocks in use; alloc_fails counts -ENOMEM only;
	 * splits and merges count halvings and buddy merges. */
	uint64_t allocs, alloc_fails, frees, splits, merges;
};

/* Manage frames [0, nframes) with descriptors pages[0 .. nframes-1], all of
 * them free: carved into the largest aligned blocks that fit (Linux's
 * __free_pages_memory), e.g. 1 GiB + 12 KiB = orders 18, 1, 0.  Descriptors
 * must be zeroed.  Only block heads are written, so a descriptor array in a
 * host reservation (vm_host_reserve) costs the host one page per block. */
void vm_buddy_init(struct vm_buddy *b, struct vm_page *pages, uint64_t nframes);

/* Allocate a block of 2^order frames, aligned to its size.  Returns 0 and the
 * first pfn, -EINVAL for order > VM_MAX_ORDER, -ENOMEM when no free block is
 * large enough (even if enough smaller ones are free).  The head descriptor
 * gets refcount 1 and, for order > 0, VM_PG_HEAD with its order; the others
 * VM_PG_TAIL.  Frame contents are not touched. */
int vm_buddy_alloc(struct vm_buddy *b, unsigned order, uint64_t *pfn);

/* Free the block of 2^order frames at pfn (as returned by alloc, refcount and
 * mapcount already dropped to 0).  Returns 0, or -EINVAL if the block is not
 * an allocated block of that order (order > VM_MAX_ORDER, misaligned, out of
 * range, already free, or the head is not a block of that order); then
 * nothing changes.  The counts are not checked: every descriptor of the
 * block is reset to zero (flags, counts, owner) before it merges. */
int vm_buddy_free(struct vm_buddy *b, uint64_t pfn, unsigned order);

/* Reserve one specific free frame (e.g. the zero page, firmware): splits the
 * free block that holds it (Linux's take_page_off_buddy).  The frame becomes
 * an allocated order-0 block with refcount 1, which vm_buddy_free(pfn, 0)
 * gives back.  Returns 0, -EBUSY if pfn is not free, -EINVAL if
 * pfn >= nframes. */
int vm_buddy_take(struct vm_buddy *b, uint64_t pfn);

/* Split the allocated block of order > 0 at pfn into 2^order allocated
 * order-0 blocks (Linux's split_page(), used when a THP stops being mapped
 * as one 2 MiB page).  The head keeps its descriptor but for VM_PG_HEAD and
 * its order; every other frame loses VM_PG_TAIL and gets refcount 1, as
 * split_page's set_page_refcounted does; their other fields are the
 * caller's to set.  Each piece is then freed with vm_buddy_free(pfn, 0).
 * allocs grows by 2^order - 1, so that allocs - frees stays the number of
 * blocks in use.  0, or -EINVAL if pfn is not the head of an allocated
 * block of order > 0 (nothing changes). */
int vm_buddy_split(struct vm_buddy *b, uint64_t pfn);

/* Linux's extfrag index for an allocation of 2^order frames
 * (mm/vmstat.c __fragmentation_index), times 1000: -1000 when a free block
 * of that order exists (the allocation would succeed); 0 when there is no
 * free memory at all; otherwise towards 0 a failure is lack of memory and
 * towards 1000 it is fragmentation.  Linux's integer formula, so a few large
 * free blocks can give a value between -1000 and 0 (one free 32 KiB block
 * against a 64 KiB request: -500).  order > VM_MAX_ORDER gives 0, as Linux's
 * WARN_ON_ONCE path does. */
int vm_buddy_frag_index(const struct vm_buddy *b, unsigned order);

/* Linux's unusable free space index (mm/vmstat.c unusable_free_index), times
 * 1000: the fraction of free memory in blocks too small for the order; 1000
 * when nothing is free or order > VM_MAX_ORDER. */
int vm_buddy_unusable_index(const struct vm_buddy *b, unsigned order);

/* Validate every invariant: free lists, counts, alignment, no two free
 * buddies of the same order left unmerged, descriptor flags, blocks tiling
 * [0, nframes).  Returns 0 (msg set to "") or -EUCLEAN with the first problem
 * in msg (msg may be NULL, len bytes).  Costs O(free blocks + frames in
 * allocated blocks): the inside of a free block is never read. */
int vm_buddy_check(const struct vm_buddy *b, char *msg, size_t len);

#endif
