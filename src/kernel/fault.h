/*
 * Page faults, as Linux handles them (REFERENCE.md 3.1):
 *
 *   vm_do_user_fault       arch/x86/mm/fault.c do_user_addr_fault: find the
 *                          VMA (expanding a stack), access_error, then
 *   vm_handle_mm_fault     mm/memory.c handle_mm_fault: THP (create_huge_pmd),
 *                          handle_pte_fault -> do_anonymous_page (zero page on
 *                          a read), do_fault (do_read_fault with
 *                          do_fault_around, do_cow_fault, do_shared_fault),
 *                          do_wp_page, spurious faults.
 *
 * A fault is a result, not an error: a vm_fault_t bitmask.
 */
#ifndef VM_KERNEL_FAULT_H
#define VM_KERNEL_FAULT_H

#include <stdint.h>

#include <vmlab/types.h>

#include "kernel/kernel.h"
#include "kernel/proc.h"

/* vm_fault_t (include/linux/mm_types.h). */
#define VM_FAULT_OOM      0x000001u
#define VM_FAULT_SIGBUS   0x000002u
#define VM_FAULT_MAJOR    0x000004u
#define VM_FAULT_SIGSEGV  0x000040u
#define VM_FAULT_NOPAGE   0x000100u
#define VM_FAULT_RETRY    0x000400u
#define VM_FAULT_FALLBACK 0x000800u
#define VM_FAULT_ERROR    (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)

/* enum fault_flag. */
#define VM_FAULT_FLAG_WRITE       0x01u
#define VM_FAULT_FLAG_USER        0x40u
#define VM_FAULT_FLAG_REMOTE      0x80u    /* the kernel touching user memory (populate) */
#define VM_FAULT_FLAG_INSTRUCTION 0x100u

/* Resolve a fault at addr in vma (addr inside it, access allowed by it).
 * Accounts min_flt/maj_flt on p as mm_account_fault does. */
unsigned vm_handle_mm_fault(struct vm_kernel *k, struct vm_proc *p, struct vm_vma *vma,
			    vm_vaddr addr, unsigned flags);

/* The #PF handler for a user access by p: error is the x86 error code.
 * Returns 0 when the access can be retried, else the signal (VM_SIGSEGV,
 * VM_SIGBUS; VM_SIGKILL when memory ran out or a table is corrupt) with
 * *sig filled; the caller kills p.  -ESRCH for a dead process.  Runs as
 * if on p's CPU (k->cur_cpu). */
int vm_do_user_fault(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint32_t error,
		     struct vm_siginfo *sig);

/* Grow the stack VMA vma down to the page of addr (expand_downwards):
 * 0, or -ENOMEM (RLIMIT_STACK, the guard gap, max size). */
int vm_expand_stack(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr);

/* Fault in [start, end) of p's address space as populate does
 * (MAP_POPULATE, MADV_POPULATE_*, mlock): each page not yet mapped as the
 * access needs takes one handle_mm_fault (fault-around and THP included),
 * counted on p like a GUP fault in Linux.  write: fault for writing
 * (Linux's FOLL_WRITE: MAP_POPULATE of a private writable mapping,
 * MADV_POPULATE_WRITE); else for reading.  0; -ENOMEM for a hole or no
 * memory; -EFAULT when a VMA refuses the access (writes need VM_WRITE,
 * reads any access; VM_IO/VM_PFNMAP never) or a fault fails (SIGBUS);
 * -ESRCH for a dead process.  MAP_POPULATE ignores the errors. */
int vm_populate(struct vm_kernel *k, struct vm_proc *p, vm_vaddr start, vm_vaddr end, bool write);

/* Unmap the pages of [start, end) inside vma (zap_page_range_single;
 * the range is clipped to vma and rounded out to pages): drop each frame's
 * mapping and reference (rmap.h), update hiwater_rss then RSS, count
 * pages_zapped, and flush the TLBs of every CPU running vma->mm (the
 * caller's CPU is k->cur_cpu; the others count shootdowns).  A THP cut by
 * the range is split; the part outside stays mapped. */
void vm_zap_range(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr start, vm_vaddr end);

/* Unmap the page-cache pages of file f with indexes [first, last] from
 * every mapping of it in every address space (Linux unmap_mapping_range
 * with even_cows false: private copies in private mappings stay), with
 * TLB flushes as vm_zap_range. */
void vm_file_unmap_range(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last);

/* Call fn for every VMA, in every address space, that maps some of pages
 * [first, last] of file f, with the range [start, end) of the VMA that
 * holds them (Linux: vma_interval_tree_foreach over f's i_mmap).  fn may
 * change page-table entries, not VMAs. */
void vm_file_for_each_vma(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last,
			  void (*fn)(void *ctx, struct vm_vma *vma, vm_vaddr start, vm_vaddr end),
			  void *ctx);

/* A user access of size bytes at va by p, as the CPU makes it: split at
 * page boundaries (and by the caller's access size), each piece translated
 * by the MMU on p's CPU, faults handled and retried.  kind is VM_ACC_READ,
 * VM_ACC_WRITE or VM_ACC_EXEC.  In data mode buf (may be NULL) receives or
 * supplies the bytes.  Returns 0, or the signal that killed p (the fault is
 * recorded in p->sig), or -ESRCH for a dead process, -EINVAL for size 0 or
 * a range that wraps. */
int vm_user_access(struct vm_kernel *k, struct vm_proc *p, vm_vaddr va, uint64_t size,
		   unsigned kind, void *buf);

/* The kernel writing size bytes at va in p's memory (Linux copy_to_user;
 * clear_user when buf is NULL: zeroes), through the MMU of p's CPU with
 * user rights: faults are handled (stack growth, COW, zero fill) and one
 * that cannot be resolved, or a VMA without write permission, ends the
 * copy with -EFAULT (the exception fixup), without a signal.  Bytes are
 * stored in data mode only.  0, -EFAULT, -ESRCH for a dead process. */
int vm_copy_to_user(struct vm_kernel *k, struct vm_proc *p, vm_vaddr va, const void *buf,
		    uint64_t size);

#endif
