/*
 * Swap for shmem objects (shared anonymous memory and tmpfs files): Linux
 * mm/shmem.c shmem_writeout, shmem_swapin_folio, shmem_free_swap,
 * shmem_partial_swap_usage.  A page reclaim swaps out leaves every
 * mapping (the PTEs are cleared, not made swap entries) and the page
 * cache; its swap entry goes into the object's index in its place
 * (vm_file.swap, Linux's xarray value entry), which holds the slot.  The
 * next fault or read of that page finds the entry and swaps it in.
 * docs/files.md and docs/reclaim.md.
 */
#ifndef VM_KERNEL_SHMEM_SWAP_H
#define VM_KERNEL_SHMEM_SWAP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kernel.h"

struct vm_file;

/* Linux shmem_writeout(): shmem page pfn, dirty, in its object's page
 * cache and mapped nowhere (reclaim unmapped it), holding only the
 * cache's reference: a slot, its bytes written (pswpout, shmem_swpout),
 * the entry in the object's index, the page out of the cache and freed.
 * 0, -ENOSPC (no slot: the page stays cached, Linux's redirty), -EBUSY
 * (still mapped or held), -ENOMEM. */
int vm_shmem_writeout(struct vm_kernel *k, uint64_t pfn);

/* Does f's index hold a swap entry at page index? */
bool vm_shmem_swapped(const struct vm_file *f, uint64_t index);

/* Linux shmem_swapin_folio(): page index of f, swapped out, comes back
 * into the page cache (the cache's reference), dirty (its slot is freed:
 * a page cannot live in both); *major when it was read from swap, not
 * found in the swap cache.  0 and *pfn, -ENOENT (no entry), -EINVAL (a
 * bad entry), -ENOMEM (the entry stays). */
int vm_shmem_swapin(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t *pfn,
		    bool *major);

/* Linux shmem_undo_range() -> shmem_free_swap(): the entries of pages
 * [first, last] of f go, with their slots (a hole punched, the object
 * freed). */
void vm_shmem_swap_free_range(struct vm_kernel *k, struct vm_file *f, uint64_t first,
			      uint64_t last);

/* Linux shmem_swapin_range() for MADV_WILLNEED: every swapped page of f
 * in pages [first, first + n) is read into the swap cache (pswpin, no
 * fault), where the next fault on it finds it (a minor fault); best
 * effort, it stops at the first failure. */
void vm_shmem_swapin_range(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t n);

/* Linux shmem_partial_swap_usage(): entries of f in pages [first, first +
 * n); n may run past the end of the file. */
uint64_t vm_shmem_swap_count(const struct vm_file *f, uint64_t first, uint64_t n);

#endif
