/*
 * Mapping and unmapping frames: reference and map counts, RSS, and the
 * owner fields the reverse map will start from (Linux mm/rmap.c
 * folio_add_*_rmap*, folio_remove_rmap*, and split_huge_page for THPs).
 * The counting rules are those at the top of kernel.h.
 *
 * An anonymous page's owner is the anon_vma of the VMA it was first mapped
 * in (anon_vma.h) and its index the vpn it was first mapped at.  Shared
 * anonymous memory has no anonymous pages: it is a shmem file, its pages
 * page-cache pages.
 */
#ifndef VM_KERNEL_RMAP_H
#define VM_KERNEL_RMAP_H

#include <stdint.h>

#include "kernel/kernel.h"

/* The RSS counter a page mapped in vma counts in (Linux mm_counter):
 * anonymous pages ANON, page-cache pages FILE, or SHMEM when SwapBacked
 * (in-memory files: mm_counter_file). */
enum vm_rss vm_rss_kind(const struct vm_vma *vma, const struct vm_page *pg);

/* Linux folio_add_new_anon_rmap(): the block at pfn (2^order frames, fresh
 * from vm_page_alloc with its one reference) is now mapped once in vma at
 * va (order 0, or 9 for a THP); vma, a private mapping, has its anon_vma
 * already (vm_anon_vma_prepare).  Sets the owner, mapcount 1, RSS. */
void vm_rmap_new_anon(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr va, uint64_t pfn,
		      unsigned order);

/* Linux folio_add_file_rmap_ptes(): page-cache page pfn, whose reference
 * the caller took (vm_pagecache_get), is mapped once more in vma. */
void vm_rmap_add_file(struct vm_kernel *k, struct vm_vma *vma, uint64_t pfn);

/* Linux zap_present_ptes() for one leaf that has just been (or is being)
 * removed from vma's tables: a dirty PTE marks a page-cache page dirty,
 * the map count and RSS drop, and the mapping's reference is put (an
 * anonymous page is freed at 0, a page-cache page goes back to the
 * cache's reference).  The zero page changes no count.  A 4 KiB leaf on a
 * frame of a THP block splits the block first.  Returns the 4 KiB pages
 * the leaf mapped (1 or 512). */
uint64_t vm_rmap_zap_leaf(struct vm_kernel *k, struct vm_vma *vma, const struct vm_pt_leaf *leaf);

/* Linux split_huge_page(): pfn is a frame of a THP block that is mapped by
 * 4 KiB PTEs now (the page tables split its PMD): make each of the 512
 * frames a page of its own with the head's counts, owner and flags (index
 * advancing by one per frame).  Nothing happens for a frame that is not
 * in a block. */
void vm_rmap_split_thp(struct vm_kernel *k, uint64_t pfn);

/* Linux split_huge_pmd() + split_huge_page(): if a 2 MiB leaf maps va in
 * vma's tables, split it into 512 PTEs and its block into order-0 pages
 * (mprotect, munmap, mremap and madvise call this at range ends that cut
 * a THP; the page-table ops would split the PMD by themselves, but the
 * frames would stay one block).  Counts thp_split_pmd.  0, or -ENOMEM (a
 * frame for the table). */
int vm_split_huge_pmd(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr va);

#endif
