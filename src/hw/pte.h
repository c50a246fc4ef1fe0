/*
 * The x86-64 page-table entry (SDM 4.5, tables 4-15..4-20; Linux
 * arch/x86/include/asm/pgtable_types.h), with helpers named as Linux names
 * them: predicates pte_present()..., and pte_mk*() / pte_wrprotect() that
 * return a new value rather than changing one in place.
 *
 * One format serves every level: bits 0-8 and 63 mean the same in a PML5E,
 * PML4E, PDPTE, PDE and PTE; PS (bit 7) makes a PDPTE or PDE a leaf; in a
 * 4 KiB PTE bit 7 is PAT instead, and in a large leaf PAT moves to bit 12,
 * which is why a large leaf's frame address starts at bit 21 or 30.
 */
#ifndef VM_HW_PTE_H
#define VM_HW_PTE_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/types.h>

#define VM_PTE_P         (UINT64_C(1) << 0)    /* present */
#define VM_PTE_RW        (UINT64_C(1) << 1)    /* writable */
#define VM_PTE_US        (UINT64_C(1) << 2)    /* user accessible */
#define VM_PTE_PWT       (UINT64_C(1) << 3)    /* write-through */
#define VM_PTE_PCD       (UINT64_C(1) << 4)    /* cache disable */
#define VM_PTE_A         (UINT64_C(1) << 5)    /* accessed */
#define VM_PTE_D         (UINT64_C(1) << 6)    /* dirty (leaf only) */
#define VM_PTE_PS        (UINT64_C(1) << 7)    /* page size: leaf in PDPTE/PDE */
#define VM_PTE_PAT       (UINT64_C(1) << 7)    /* PAT in a 4 KiB PTE */
#define VM_PTE_G         (UINT64_C(1) << 8)    /* global */
#define VM_PTE_SOFTW1    (UINT64_C(1) << 9)    /* ignored by the CPU; Linux SPECIAL */
#define VM_PTE_SOFTW2    (UINT64_C(1) << 10)   /* ignored; Linux UFFD_WP */
#define VM_PTE_SOFTW3    (UINT64_C(1) << 11)   /* ignored; Linux SOFT_DIRTY */
#define VM_PTE_PAT_LARGE (UINT64_C(1) << 12)   /* PAT in a 2 MiB / 1 GiB leaf */
#define VM_PTE_PKEY_SHIFT 59
#define VM_PTE_PKEY      (UINT64_C(0xf) << VM_PTE_PKEY_SHIFT)   /* protection key, bits 59-62 */
#define VM_PTE_NX        (UINT64_C(1) << 63)   /* execute disable (with EFER.NXE) */

/* Frame address field: bits 12-51 (MAXPHYADDR at most 52). */
#define VM_PTE_ADDR_MASK   UINT64_C(0x000ffffffffff000)
/* Flags a caller may give to map() and protect(): everything but the
 * address, P, PS and A/D (A/D belong to the hardware, P and PS to the
 * page-table code). */
#define VM_PTE_PROT_MASK   (VM_PTE_RW | VM_PTE_US | VM_PTE_PWT | VM_PTE_PCD | VM_PTE_G | \
			    VM_PTE_SOFTW1 | VM_PTE_SOFTW2 | VM_PTE_SOFTW3 | VM_PTE_PKEY | VM_PTE_NX)

/* Number of radix levels and their names, leaf upward: 1 = PTE (PT),
 * 2 = PDE (PD), 3 = PDPTE (PDPT), 4 = PML4E, 5 = PML5E. */
#define VM_LEVEL_PTE   1
#define VM_LEVEL_PMD   2
#define VM_LEVEL_PUD   3
#define VM_LEVEL_P4D   4     /* PML4 with 5 levels; the top (PGD) with 4 */
#define VM_LEVEL_PGD5  5
#define VM_LEVELS_MAX  5

/* Bits of the virtual address that index the table at level l (1..5):
 * 9 bits starting at 12 + 9 (l - 1). */
static inline unsigned vm_level_shift(unsigned level)
{
	return 12 + 9 * (level - 1);
}

static inline unsigned vm_pt_index(vm_vaddr va, unsigned level)
{
	return (unsigned)(va >> vm_level_shift(level)) & 511u;
}

/* Canonical form (SDM 4.5): bits 63..(va_bits-1) all equal. */
static inline bool vm_canonical(vm_vaddr va, unsigned va_bits)
{
	unsigned s = 64 - va_bits;
	return (vm_vaddr)((int64_t)(va << s) >> s) == va;
}

static inline bool pte_present(vm_pte e)  { return e.v & VM_PTE_P; }
static inline bool pte_write(vm_pte e)    { return e.v & VM_PTE_RW; }
static inline bool pte_user(vm_pte e)     { return e.v & VM_PTE_US; }
static inline bool pte_young(vm_pte e)    { return e.v & VM_PTE_A; }
static inline bool pte_dirty(vm_pte e)    { return e.v & VM_PTE_D; }
static inline bool pte_huge(vm_pte e)     { return e.v & VM_PTE_PS; }   /* only above level 1 */
static inline bool pte_global(vm_pte e)   { return e.v & VM_PTE_G; }
static inline bool pte_exec(vm_pte e)     { return !(e.v & VM_PTE_NX); }
static inline bool pte_none(vm_pte e)     { return e.v == 0; }
static inline unsigned pte_pkey(vm_pte e) { return (unsigned)((e.v & VM_PTE_PKEY) >> VM_PTE_PKEY_SHIFT); }

static inline vm_pte pte_mkdirty(vm_pte e)   { e.v |= VM_PTE_D; return e; }
static inline vm_pte pte_mkclean(vm_pte e)   { e.v &= ~VM_PTE_D; return e; }
static inline vm_pte pte_mkyoung(vm_pte e)   { e.v |= VM_PTE_A; return e; }
static inline vm_pte pte_mkold(vm_pte e)     { e.v &= ~VM_PTE_A; return e; }
static inline vm_pte pte_mkwrite(vm_pte e)   { e.v |= VM_PTE_RW; return e; }
static inline vm_pte pte_wrprotect(vm_pte e) { e.v &= ~VM_PTE_RW; return e; }
static inline vm_pte pte_mkexec(vm_pte e)    { e.v &= ~VM_PTE_NX; return e; }
static inline vm_pte pte_mknoexec(vm_pte e)  { e.v |= VM_PTE_NX; return e; }
static inline vm_pte pte_mkhuge(vm_pte e)    { e.v |= VM_PTE_PS; return e; }
static inline vm_pte pte_mkglobal(vm_pte e)  { e.v |= VM_PTE_G; return e; }
static inline vm_pte pte_mkuser(vm_pte e)    { e.v |= VM_PTE_US; return e; }
static inline vm_pte pte_mkpresent(vm_pte e) { e.v |= VM_PTE_P; return e; }

/* The physical address a non-leaf entry or a 4 KiB leaf points to. */
static inline uint64_t pte_addr(vm_pte e)
{
	return e.v & VM_PTE_ADDR_MASK;
}

/* The page-aligned physical base of the page a leaf at `level` maps: for a
 * large leaf the low address bits hold PAT (bit 12) and reserved bits. */
static inline uint64_t pte_leaf_base(vm_pte e, unsigned level)
{
	return e.v & VM_PTE_ADDR_MASK & ~((UINT64_C(1) << vm_level_shift(level)) - 1);
}

static inline uint64_t pte_pfn(vm_pte e)
{
	return pte_addr(e) >> 12;
}

/* An entry pointing at frame pfn with flags (P is the caller's to give). */
static inline vm_pte pfn_pte(uint64_t pfn, uint64_t flags)
{
	vm_pte e = { ((pfn << 12) & VM_PTE_ADDR_MASK) | flags };
	return e;
}

/* Reserved bits of an entry at `level` for a CPU with maxphyaddr bits of
 * physical address (SDM 4.5, tables 4-14..4-20): address bits at or above
 * maxphyaddr (below 52); XD when EFER.NXE is 0; PS in a PML4E/PML5E; in a
 * large leaf the address bits below its alignment except PAT (bit 12). */
static inline uint64_t vm_pte_reserved_mask(vm_pte e, unsigned level, unsigned maxphyaddr,
					    bool nxe)
{
	uint64_t m = VM_PTE_ADDR_MASK & ~((UINT64_C(1) << maxphyaddr) - 1);
	if (!nxe)
		m |= VM_PTE_NX;
	if (level >= 4)
		m |= VM_PTE_PS;
	else if (level >= 2 && (e.v & VM_PTE_PS))
		m |= ((UINT64_C(1) << vm_level_shift(level)) - 1) & ~UINT64_C(0x1fff);
	return m;
}

#endif
