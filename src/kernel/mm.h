/*
 * Address spaces: struct vm_mm (Linux's mm_struct) and its VMAs
 * (vm_area_struct), indexed by a B-tree keyed by vm_end with the largest
 * free gap of each subtree (in the spirit of Linux's maple tree, mm_mt), so
 * that find, insert, remove and the search for a free range
 * (unmapped_area / unmapped_area_topdown) are all O(log n).
 */
#ifndef VM_KERNEL_MM_H
#define VM_KERNEL_MM_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/types.h>

#include "base/u64map.h"

#include "hw/pt.h"

struct vm_kernel;
struct vm_file;
struct vm_anon_vma;
struct vm_vma_bnode;
struct vm_vma_slab;

/* vm_flags: Linux's bit values (include/linux/mm.h), so that smaps'
 * VmFlags and the merge rules read the same. */
#define VM_NONE          UINT64_C(0x00000000)
#define VM_READ          UINT64_C(0x00000001)
#define VM_WRITE         UINT64_C(0x00000002)
#define VM_EXEC          UINT64_C(0x00000004)
#define VM_SHARED        UINT64_C(0x00000008)
#define VM_MAYREAD       UINT64_C(0x00000010)
#define VM_MAYWRITE      UINT64_C(0x00000020)
#define VM_MAYEXEC       UINT64_C(0x00000040)
#define VM_MAYSHARE      UINT64_C(0x00000080)
#define VM_GROWSDOWN     UINT64_C(0x00000100)
#define VM_PFNMAP        UINT64_C(0x00000400)
#define VM_LOCKED        UINT64_C(0x00002000)
#define VM_IO            UINT64_C(0x00004000)
#define VM_SEQ_READ      UINT64_C(0x00008000)
#define VM_RAND_READ     UINT64_C(0x00010000)
#define VM_DONTCOPY      UINT64_C(0x00020000)
#define VM_DONTEXPAND    UINT64_C(0x00040000)
#define VM_LOCKONFAULT   UINT64_C(0x00080000)
#define VM_ACCOUNT       UINT64_C(0x00100000)
#define VM_NORESERVE     UINT64_C(0x00200000)
#define VM_HUGETLB       UINT64_C(0x00400000)
#define VM_SYNC          UINT64_C(0x00800000)
#define VM_WIPEONFORK    UINT64_C(0x02000000)
#define VM_DONTDUMP      UINT64_C(0x04000000)
#define VM_SOFTDIRTY     UINT64_C(0x08000000)
#define VM_MIXEDMAP      UINT64_C(0x10000000)
#define VM_HUGEPAGE      UINT64_C(0x20000000)
#define VM_NOHUGEPAGE    UINT64_C(0x40000000)
#define VM_MERGEABLE     UINT64_C(0x80000000)

#define VM_SPECIAL       (VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP)
#define VM_STACK_FLAGS   (VM_GROWSDOWN | VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | \
			  VM_MAYEXEC | VM_ACCOUNT)

/* A VMA's links, private to the vma*.c files.  prev/next thread the VMAs
 * in address order (Linux's old vm_prev/vm_next) so that neighbours and the
 * gap below a VMA cost O(1); leaf is the B-tree leaf that holds the VMA, so
 * that unlink and a gap update find its slot without a descent (which a
 * vm_end moved in place would mislead). */
struct vm_vma_node {
	struct vm_vma *prev, *next;     /* in-order neighbours; NULL at the ends */
	struct vm_vma_bnode *leaf;      /* NULL while the VMA is in no tree */
};

/* The fields the tree and the system calls read first (vm_start, vm_end,
 * vm_flags, the links) come first, in one cache line when the VMA is 64-byte
 * aligned.  A lookup itself reads only the tree's nodes (vma_tree.h): the
 * VMA is touched when the caller reads it. */
struct vm_vma {
	vm_vaddr vm_start;        /* first byte; page aligned */
	vm_vaddr vm_end;          /* first byte after; page aligned; vm_start < vm_end */
	uint64_t vm_flags;        /* VM_* */
	struct vm_vma_node node;
	uint64_t vm_pgoff;        /* file offset in pages; private anon: vm_start >> 12 when created */
	struct vm_file *vm_file;  /* holds one file reference; NULL = anonymous; shared
				   * anonymous memory maps its shmem file (shmem_zero_setup) */
	/* Linux vma->anon_vma and anon_vma_chain (anon_vma.h): the anon_vma
	 * its new anonymous pages belong to, NULL until the first one
	 * (private VMAs only: shared anonymous memory is shmem); the chain,
	 * oldest first, holds every anon_vma whose pages it may map (its own
	 * and, after fork, its ancestors'); anon is one of them. */
	struct vm_anon_vma *anon;
	struct vm_anon_vma **chain;   /* nr_chain entries, host memory; NULL when empty */
	uint32_t nr_chain;
	const char *vm_name;      /* a special mapping's name in maps ([vdso], [vvar]; Linux's
				   * vm_special_mapping.name): a constant string, or NULL */
	struct vm_mm *mm;
};

/* The VMA index of an mm (vma_tree.c): a B-tree whose nodes come from slabs
 * of host memory kept by the tree, so that linking and unlinking a VMA
 * allocate nothing but, now and then, a slab.  All zero = empty. */
struct vm_vma_tree {
	struct vm_vma_bnode *root;    /* NULL when the mm has no VMA */
	unsigned height;              /* levels, the leaves included; 0 when empty */
	unsigned nfree;               /* nodes on the free list */
	struct vm_vma_bnode *free;    /* spare nodes, chained through parent */
	struct vm_vma_slab *slabs;    /* the host memory all nodes live in */
	uint64_t nodes;               /* nodes in the tree (not free) */
	uint64_t refused;             /* links refused because the host had no memory
				       * for a node (vm_vma_tree_check reports them) */
};

/* RSS counters, Linux's order (include/linux/mm_types_task.h). */
enum vm_rss {
	VM_RSS_FILE,      /* file pages mapped (MM_FILEPAGES) */
	VM_RSS_ANON,      /* anonymous pages (MM_ANONPAGES) */
	VM_RSS_SWAP,      /* swap entries (MM_SWAPENTS) */
	VM_RSS_SHMEM,     /* shared memory pages (MM_SHMEMPAGES) */
	VM_RSS_COUNT
};

struct vm_mm {
	struct vm_kernel *k;
	struct vm_vma_tree vma_tree;  /* the VMAs (vma_tree.c) */
	uint64_t map_count;           /* VMAs in the tree; <= max_map_count */
	struct vm_pt pt;              /* the page tables (pgd = pt.root_pfn) */
	uint16_t pcid;                /* PCID its translations carry (1..4095) */
	int users;                    /* processes and threads sharing it */

	/* Layout (arch_pick_mmap_layout, load_elf_binary), bytes. */
	vm_vaddr task_size;           /* highest user address + 1 */
	vm_vaddr mmap_base;           /* top-down allocations start below it */
	vm_vaddr mmap_legacy_base;    /* bottom-up fallback start */
	vm_vaddr start_code, end_code, start_data, end_data;
	vm_vaddr start_brk, brk;      /* heap: [start_brk, brk); brk keeps byte granularity */
	vm_vaddr start_stack;         /* top of the initial stack */

	/* Accounting in pages (Linux's names). */
	uint64_t total_vm;            /* pages in all VMAs: VSZ */
	uint64_t locked_vm, data_vm, exec_vm, stack_vm;
	uint64_t rss[VM_RSS_COUNT];   /* == present pages counted by kind; see vm_check */
	uint64_t hiwater_rss;         /* peak of rss[FILE] + rss[ANON] + rss[SHMEM] */
	uint64_t hiwater_vm;          /* peak of total_vm */
};

/* Linux's vm_get_page_prot() for x86-64 (protection_map): the PTE flags
 * (VM_PTE_PROT_MASK) a page of a VMA with vm_flags gets when first mapped.
 * Private writable mappings get no RW (PAGE_COPY: the first write faults and
 * copies); PROT_NONE keeps the entry present without U/S, so that user
 * accesses fault while the frame stays mapped (Linux uses a not-present
 * PROTNONE entry); NX only when the CPUs run with EFER.NXE (nxe). */
static inline uint64_t vm_get_page_prot(uint64_t vm_flags, bool nxe)
{
	uint64_t prot = 0;

	if (vm_flags & (VM_READ | VM_WRITE | VM_EXEC))
		prot |= VM_PTE_US;
	if ((vm_flags & (VM_WRITE | VM_SHARED)) == (VM_WRITE | VM_SHARED))
		prot |= VM_PTE_RW;
	if (!(vm_flags & VM_EXEC) && nxe)
		prot |= VM_PTE_NX;
	return prot;
}

/* Linux's vm_start_gap / vm_end_gap: a VMA's extent including the stack
 * guard gap below a VM_GROWSDOWN VMA. */
vm_vaddr vm_vma_start_gap(const struct vm_vma *vma, uint64_t guard_gap);
vm_vaddr vm_vma_end_gap(const struct vm_vma *vma);

/* Tree operations (vma.c), all O(log n). */

/* The first VMA with vm_end > addr, or NULL (Linux find_vma: addr may be
 * below it, in a hole).  Reads only the tree's nodes. */
struct vm_vma *vm_find_vma(const struct vm_mm *mm, vm_vaddr addr);
/* find_vma and its predecessor (find_vma_prev); *prev may be NULL. */
struct vm_vma *vm_find_vma_prev(const struct vm_mm *mm, vm_vaddr addr, struct vm_vma **prev);
/* The VMA containing addr, or NULL (vma_lookup). */
struct vm_vma *vm_vma_lookup(const struct vm_mm *mm, vm_vaddr addr);
/* In-order neighbours; NULL at the ends.  O(1). */
struct vm_vma *vm_vma_next(const struct vm_vma *vma);
struct vm_vma *vm_vma_prev(const struct vm_vma *vma);
struct vm_vma *vm_vma_first(const struct vm_mm *mm);
struct vm_vma *vm_vma_last(const struct vm_mm *mm);

/* Make sure that the next vm_vma_link / vm_vma_link_after needs no host
 * memory (Linux: vma_iter_prealloc): 0, or -ENOMEM when the host refuses
 * a slab.  Link tries it itself, and again after each link; a link that
 * still finds no node is refused (the VMA stays out of the tree, counted in
 * vma_tree.refused, reported by vm_vma_tree_check), so a caller that must
 * survive host exhaustion calls this first. */
int vm_vma_tree_prealloc(struct vm_mm *mm);
/* An mm whose tree is empty gives back the reserve a prealloc left (an mm
 * that preallocated and then linked nothing, as a failed fork's). */
void vm_vma_tree_release(struct vm_mm *mm);

/* Link a VMA (its range free in the tree) / unlink it.  Keeps map_count and
 * the gaps; not the accounting (total_vm etc. are the syscalls' business).
 * Unlinking the last VMA gives the tree's memory back to the host. */
void vm_vma_link(struct vm_mm *mm, struct vm_vma *vma);
/* The same when the VMA that will precede vma is known (NULL: vma comes
 * first): no descent. */
void vm_vma_link_after(struct vm_mm *mm, struct vm_vma *vma, struct vm_vma *prev);
void vm_vma_unlink(struct vm_mm *mm, struct vm_vma *vma);
/* A VMA's vm_start or vm_end changed in place (expand, shrink): fix gaps. */
void vm_vma_update_gaps(struct vm_mm *mm, struct vm_vma *vma);

/* Search a free range of len bytes (page aligned) in [low, high) with
 * alignment align (a power of two >= 4K) and offset align_offset, keeping
 * the guard gap below VM_GROWSDOWN VMAs (Linux unmapped_area /
 * unmapped_area_topdown, struct vm_unmapped_area_info; vma_gap.c), in
 * O(log n).  Returns the address, or -ENOMEM (-EINVAL for NULL arguments). */
struct vm_unmapped_area_info {
	bool topdown;
	uint64_t length, low_limit, high_limit, align_mask, align_offset;
};
long vm_unmapped_area(const struct vm_mm *mm, const struct vm_unmapped_area_info *info);

/* Validate the tree: order, no overlap, node fill and links, every key and
 * gap summary, prev/next links, map_count, no refused link.  0 or -EUCLEAN
 * with msg. */
int vm_vma_tree_check(const struct vm_mm *mm, char *msg, size_t len);

#endif
