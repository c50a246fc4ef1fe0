/*
 * Between the swap files (swap.c, swap_entries.c): what one needs of the
 * other's slots.
 */
#ifndef VM_KERNEL_SWAP_INTERNAL_H
#define VM_KERNEL_SWAP_INTERNAL_H

#include <stdint.h>

#include "kernel/swap.h"

/* Linux: swap_free() / free_swap_and_cache(): one entry less on slot off
 * of a; with the last one the slot is free, and a cached page leaves the
 * swap cache. */
void vm_swap_put(struct vm_kernel *k, struct vm_swap_area *a, uint64_t off);

#endif
