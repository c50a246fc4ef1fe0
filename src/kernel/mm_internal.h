/*
 * What the address-space files share (mmap.c, vma_ops.c, mprotect.c,
 * mremap.c, madvise.c, proc.c, procfs.c, check.c) and nobody else needs:
 * x86-64 layout constants, VMA life cycle, split and merge (Linux mm/vma.c),
 * the munmap core, accounting.
 */
#ifndef VM_KERNEL_MM_INTERNAL_H
#define VM_KERNEL_MM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kernel.h"
#include "kernel/mm.h"
#include "kernel/proc.h"
#include "kernel/uapi.h"

/* arch/x86/include/asm/elf.h, processor.h, page_64_types.h. */
#define VM_STACK_RND_MASK     UINT64_C(0x3fffff)       /* pages: 16 GiB of stack-top entropy */
#define VM_STACK_EXPAND       (UINT64_C(128) << 10)    /* setup_arg_pages: 128 KiB */
#define VM_MMAP_GAP_MIN       (UINT64_C(128) << 20)    /* mmap_base: at least 128 MiB below */
#define VM_BRK_RND_RANGE      (UINT64_C(1) << 30)      /* arch_randomize_brk: 1 GiB */
/* CONFIG_LSM_MMAP_MIN_ADDR (65536 on x86 kernels built with SELinux, as
 * distribution kernels are): hints below it are rounded up to it and the
 * free-area search never goes below it, even when vm.mmap_min_addr (the
 * DAC limit MAP_FIXED obeys) is lower.  security/min_addr.c. */
#define VM_LSM_MMAP_MIN_ADDR  UINT64_C(65536)

/* MLOCK_LIMIT: RLIMIT_MEMLOCK of an unprivileged task (8 MiB since 5.16). */
#define VM_MLOCK_LIMIT        (UINT64_C(8) << 20)

/* The data flags brk and the stack use (VM_DATA_DEFAULT_FLAGS on x86-64). */
#define VM_DATA_DEFAULT_FLAGS (VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
#define VM_ACCESS_FLAGS       (VM_READ | VM_WRITE | VM_EXEC)

static inline uint64_t vma_pages(const struct vm_vma *vma)
{
	return (vma->vm_end - vma->vm_start) >> VM_PAGE_SHIFT;
}

/* Linux linear_page_index(): a page's index in its VMA's object — the file
 * offset in pages for a file VMA (private COW copies included), the page
 * number the VMA had when made for an anonymous one (mremap keeps it).
 * The reverse map finds the page at vm_start + (index - vm_pgoff) pages. */
static inline uint64_t vm_linear_page_index(const struct vm_vma *vma, vm_vaddr va)
{
	return vma->vm_pgoff + ((va - vma->vm_start) >> VM_PAGE_SHIFT);
}

static inline bool vma_is_anonymous(const struct vm_vma *vma)
{
	return !vma->vm_file;
}

/* The effective mmap_min_addr of mm/mmap.c (max of the DAC and LSM limits). */
static inline uint64_t vm_mmap_min_addr(const struct vm_kernel *k)
{
	return k->cfg.mmap_min_addr > VM_LSM_MMAP_MIN_ADDR ? k->cfg.mmap_min_addr
							   : VM_LSM_MMAP_MIN_ADDR;
}

/* True while p can make system calls. */
static inline bool vm_proc_alive(const struct vm_proc *p)
{
	return p && p->state == VM_PROC_RUNNING && p->mm;
}

/* Linux calc_vm_prot_bits(): PROT_* to VM_READ / VM_WRITE / VM_EXEC. */
static inline uint64_t vm_calc_prot_bits(int prot)
{
	return ((prot & VM_PROT_READ) ? VM_READ : 0) | ((prot & VM_PROT_WRITE) ? VM_WRITE : 0) |
	       ((prot & VM_PROT_EXEC) ? VM_EXEC : 0);
}

/* CPUs run with EFER.NXE, so PTEs may carry NX. */
bool vm_kernel_nxe(const struct vm_kernel *k);

/* VMA life cycle (vma_ops.c).  new: zeroed, or NULL when the host is out
 * of memory.  dup: a copy not yet in any tree, taking a file reference
 * and linked to the same anon_vmas (vm_area_dup + anon_vma_clone, as
 * split and mremap's copy do; fork links its copies itself).  free: drop
 * the anon_vma links, the file reference and the struct (the VMA must be
 * unlinked; remove_vma). */
struct vm_vma *vm_vma_new(struct vm_kernel *k);
struct vm_vma *vm_vma_dup(struct vm_kernel *k, const struct vm_vma *src);
void vm_vma_free(struct vm_kernel *k, struct vm_vma *vma);

/* Whether vma has an anon_vma (Linux: vma->anon_vma != NULL): it ever
 * held an anonymous page (or a neighbour's merge gave it one). */
static inline bool vm_vma_has_anon(const struct vm_vma *vma)
{
	return vma->anon != NULL;
}

/* Linux vm_stat_account(): total_vm and the exec/stack/data split, and the
 * VSZ peak; npages may be negative.  locked_vm follows VM_LOCKED. */
void vm_stat_account(struct vm_mm *mm, uint64_t flags, int64_t npages);

/* Split vma at addr (page aligned, strictly inside): a new VMA takes the
 * part below addr (new_below) or from addr up; vma keeps the other part.
 * A large leaf straddling addr is split (vma_adjust_trans_huge).
 * __split_vma does not check max_map_count; vm_split_vma does (ENOMEM at
 * the limit).  0, -ENOMEM. */
int __vm_split_vma(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr, bool new_below);
int vm_split_vma(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr, bool new_below);

/* A proposed range and its attributes (Linux struct vma_merge_struct). */
struct vm_merge {
	struct vm_mm *mm;
	struct vm_vma *prev, *middle, *next;  /* neighbours; middle: the VMA being changed */
	vm_vaddr start, end;
	uint64_t flags, pgoff;
	struct vm_file *file;
	struct vm_anon_vma *anon;             /* the range's anon_vma: middle's, or copied_from's */
	struct vm_vma *copied_from;           /* mremap's copy_vma: the VMA being moved */
	bool just_expand;                     /* brk: only prev may grow */
};

/* vma_merge_new_range(): merge the free range [start, end) into prev
 * and/or next.  Returns the VMA now covering it, or NULL (no merge). */
struct vm_vma *vm_merge_new_range(struct vm_kernel *k, struct vm_merge *m);

/* vma_modify(): give [start, end) of vma (inside it) the attributes
 * flags: merge with a neighbour when Linux would, else split it off.
 * Returns the VMA that now covers [start, end) (a merge may make it
 * larger), or NULL with *err (-ENOMEM: max_map_count or host memory;
 * splits already made stay, as in Linux).  The caller sets vm_flags. */
struct vm_vma *vm_vma_modify(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr start,
			     vm_vaddr end, uint64_t flags, long *err);

/* do_vmi_munmap() on a page-aligned, checked range [start, end): split the
 * VMAs at the ends, zap, unaccount and free those inside.  0, -ENOMEM
 * (a split at max_map_count; nothing unmapped). */
int vm_do_munmap(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start, vm_vaddr end);

/* Linux IS_ERR_VALUE(): -4095..-1 are errors; any other value is an
 * address, even one above 2^63 (a MAP_FIXED address the checks refuse). */
static inline bool vm_is_err(long v)
{
	return (unsigned long)v >= (unsigned long)-4095;
}

/* get_unmapped_area() for mmap and mremap (mmap.c): an address for len
 * bytes, or -ENOMEM / -EINVAL / -EPERM (vm_is_err). */
long vm_get_unmapped_area(struct vm_kernel *k, struct vm_mm *mm, struct vm_file *file,
			  vm_vaddr addr, uint64_t len, uint64_t pgoff, int flags);

/* vm_mmap() (mmap.c): mmap from inside the kernel with a file (NULL:
 * anonymous), as exec maps segments: the address or -errno (do_mmap's,
 * and -EINVAL for an unaligned or wrapping offset). */
long vm_mmap_kernel(struct vm_kernel *k, struct vm_proc *p, struct vm_file *file, vm_vaddr addr,
		    uint64_t len, int prot, int flags, uint64_t off);

/* System-call entry and exit (mmap.c): -ESRCH for a dead process; count
 * the call; run as if on p's CPU (k->cur_cpu, restored on leave); in debug
 * builds check every invariant on the way out.  leave returns ret. */
int vm_sys_enter(struct vm_kernel *k, struct vm_proc *p, int *saved);
long vm_sys_leave(struct vm_kernel *k, int saved, long ret, const char *what);

/* Linux __vm_enough_memory() under vm.overcommit_memory = 0: -ENOMEM for a
 * single request of more pages than memory (and swap) holds, else 0. */
int vm_enough_memory(const struct vm_kernel *k, uint64_t pages);

/* Debug builds: run vm_kernel_check after a system call and stop on the
 * first broken invariant (a bug, never bad input). */
void vm_debug_check(struct vm_kernel *k, const char *where);

#if defined(VM_DEBUG) && VM_DEBUG
#define VM_DEBUG_CHECK(k, where) vm_debug_check((k), (where))
#else
#define VM_DEBUG_CHECK(k, where) ((void)0)
#endif

#endif
