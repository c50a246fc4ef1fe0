/*
 * The swap areas a machine starts with: the `swap` setting's list
 * `size[:priority],...`, one item per swapon(8) call, in swapon order.
 *
 *   swap=0                 no swap
 *   swap=1G                one area, Linux's default priority (-2)
 *   swap=1G:5,512M         a 1 GiB area of priority 5, then 512 MiB at -2
 *
 * A priority is what `swapon -p` accepts, -1 to 32767; -1 is swapon(8)'s
 * "no preference" (it passes no SWAP_FLAG_PREFER), so such an area gets the
 * kernel's default as if no priority were given.  Defaults are given at
 * swapon (vm_swap_init), not here.
 */
#ifndef VM_KERNEL_SWAP_SPEC_H
#define VM_KERNEL_SWAP_SPEC_H

#include <stddef.h>
#include <stdint.h>

/* Linux include/linux/swap.h: MAX_SWAPFILES = (1 << MAX_SWAPFILES_SHIFT)
 * - SWP_DEVICE_NUM - SWP_MIGRATION_NUM - SWP_HWPOISON_NUM -
 * SWP_PTE_MARKER_NUM = 32 - 0 - 3 - 1 - 1 = 27 for x86-64 with
 * CONFIG_MIGRATION and CONFIG_MEMORY_FAILURE and without
 * CONFIG_DEVICE_PRIVATE (which takes 3 more types: 24).  The other 5 of
 * the 32 types of the 5-bit field are special entries, not areas. */
#define VM_MAX_SWAPFILES 27
#define VM_SWAP_PRIO_NONE (-1)      /* swapon(8): no priority given */
#define VM_SWAP_PRIO_MAX 32767      /* SWAP_FLAG_PRIO_MASK */
#define VM_SWAP_TOTAL_MAX (UINT64_C(1) << 36)   /* 64 GiB in all: host memory for the maps */

struct vm_swap_spec {
	unsigned n;                         /* areas; 0 = no swap */
	struct {
		uint64_t bytes;             /* a multiple of 4 KiB, at least 8 KiB */
		int prio;                   /* -1 (none) .. 32767 */
	} area[VM_MAX_SWAPFILES];
};

/* Parse text into spec.  0, or -EINVAL with why (len bytes) saying what is
 * wrong, without the setting's name. */
int vm_swap_spec_parse(const char *text, struct vm_swap_spec *spec, char *why, size_t len);

/* The one rule for an area (swapon needs a header page and a slot): 0 or
 * -EINVAL with why. */
int vm_swap_spec_check(const struct vm_swap_spec *spec, char *why, size_t len);

/* Canonical text ("0", "1G:5,512M") into buf.  0, or -ENOSPC if it does
 * not fit in len bytes. */
int vm_swap_spec_format(const struct vm_swap_spec *spec, char *buf, size_t len);

/* Total bytes of the areas. */
uint64_t vm_swap_spec_bytes(const struct vm_swap_spec *spec);

#endif
