/*
 * vmlab — vocabulary and the basic types every layer shares.
 *
 * Vocabulary (Linux's, see DESIGN.md rule 2):
 *   page      a virtual page; its number is a vpn (va >> 12)
 *   frame     a physical page; its number is a pfn (pa >> 12)
 *   pte       one page-table entry, x86-64 format, at any level
 *   ptep      where a pte lives (its physical address)
 *   pgd/p4d/pud/pmd/pte   the radix levels 5..1 (p4d exists only with LA57)
 *   leaf      the entry that maps a page: a pte, or a pmd/pud with PS set
 *   order     log2 of a number of frames (order 9 = 2 MiB, 18 = 1 GiB)
 *   range     always half open, [start, end)
 *   size      always bytes, unless the name says pages or order
 *
 * Simulated addresses are 64-bit whatever the host is.  Kinds that must never
 * mix are one-member structs, as Linux does with pgd_t: a physical address
 * cannot be passed where a virtual one is expected.
 */
#ifndef VMLAB_TYPES_H
#define VMLAB_TYPES_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t vm_vaddr;                  /* virtual: plain, arithmetic-heavy */
typedef struct { uint64_t v; } vm_paddr;    /* physical */
typedef struct { uint64_t v; } vm_pte;      /* one page-table entry, x86-64 format */
typedef struct { uint64_t v; } vm_swp;      /* swap type + offset */

static_assert(sizeof(vm_paddr) == 8 && sizeof(vm_pte) == 8, "wrappers must cost nothing");

#define VM_PAGE_SHIFT   12
#define VM_PAGE_SIZE    (UINT64_C(1) << VM_PAGE_SHIFT)      /* 4 KiB */
#define VM_PMD_SHIFT    21
#define VM_PMD_SIZE     (UINT64_C(1) << VM_PMD_SHIFT)       /* 2 MiB */
#define VM_PUD_SHIFT    30
#define VM_PUD_SIZE     (UINT64_C(1) << VM_PUD_SHIFT)       /* 1 GiB */

/* The page sizes x86-64 maps, as an index (also a TLB entry's size). */
enum vm_psize {
	VM_PSIZE_4K = 0,
	VM_PSIZE_2M = 1,
	VM_PSIZE_1G = 2,
	VM_PSIZE_COUNT
};

static inline unsigned vm_psize_shift(enum vm_psize s)
{
	return 12 + 9 * (unsigned)s;
}

/* Kind of memory access.  A user-mode access or one with VM_ACC_IMPLICIT
 * (a supervisor access the CPU makes by itself, e.g. reading the GDT) is
 * or'ed in; the value indexes small tables, so it stays below 16.  Implicit
 * accesses are supervisor accesses by definition: with VM_ACC_USER also
 * set, VM_ACC_USER wins and VM_ACC_IMPLICIT is ignored. */
enum {
	VM_ACC_READ     = 0,
	VM_ACC_WRITE    = 1,
	VM_ACC_EXEC     = 2,
	VM_ACC_KIND     = 3,       /* mask of the kind */
	VM_ACC_USER     = 4,       /* CPL 3 */
	VM_ACC_IMPLICIT = 8,       /* implicit supervisor access (SMAP ignores AC) */
};

/* Where a parser or a setting went wrong: `vmlab: FILE:LINE: msg`.
 * file may be NULL (then the location is a setting or option name in msg);
 * line is 0 when there is no line. */
struct vm_error {
	const char *file;
	long line;
	char msg[200];
};

struct vm_machine;         /* opaque: everything hangs off one of these */
struct vm_settings;        /* key=value configuration, see settings.h */

#endif
