/*
 * What the fault handlers share (fault.c, fault_file.c): Linux's struct
 * vm_fault and the helpers that build and install PTEs.
 */
#ifndef VM_KERNEL_FAULT_INTERNAL_H
#define VM_KERNEL_FAULT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/fault.h"

/* Linux: struct vm_fault — one fault being handled. */
struct vm_fault {
	struct vm_kernel *k;
	struct vm_proc *p;
	struct vm_vma *vma;
	struct vm_mm *mm;
	vm_vaddr address;      /* the faulting page (aligned) */
	unsigned flags;        /* VM_FAULT_FLAG_* */
	uint64_t pgoff;        /* page index in the file (file VMAs) */
};

static inline bool fault_write(const struct vm_fault *vmf)
{
	return vmf->flags & VM_FAULT_FLAG_WRITE;
}

/* The leaf flags for a page of vmf's VMA (Linux: vma->vm_page_prot with
 * maybe_mkwrite and pte_mkdirty): user, accessed (Linux's PAGE_* include
 * _PAGE_ACCESSED), NX unless VM_EXEC (when the CPUs have NX), writable
 * only if `writable` and the VMA has VM_WRITE, dirty if `dirty`. */
uint64_t vm_fault_prot(const struct vm_fault *vmf, bool writable, bool dirty);

/* Install a 4 KiB leaf for vmf->address.  0, or a VM_FAULT_* error. */
unsigned vm_fault_map(struct vm_fault *vmf, uint64_t pfn, uint64_t prot);

/* Install a 4 KiB leaf for vmf->address on pfn, a frame fresh from
 * vm_page_alloc, as a new anonymous page (folio_add_new_anon_rmap).  On
 * failure the frame is put.  0, or a VM_FAULT_* error. */
unsigned vm_fault_map_anon(struct vm_fault *vmf, uint64_t pfn, uint64_t prot);

/* Linux: pmd_none() — no page table under the PMD of vmf->address: no
 * leaf maps the 2 MiB around it and no PTE there holds a swap entry (the
 * radix tables free a page table once it is empty, so no entry means no
 * table either). */
bool vm_fault_pmd_none(const struct vm_fault *vmf);

/* Linux: do_wp_page() for the present 4 KiB PTE at vmf->address: reuse
 * the page if nobody else holds it, else copy it.  do_swap_page calls it
 * within a write fault when it had to map the page read-only.  0, or a
 * VM_FAULT_* error. */
unsigned vm_do_wp_page(struct vm_fault *vmf);

/* do_fault() for file VMAs: do_read_fault (with do_fault_around),
 * do_cow_fault, do_shared_fault.  fault_file.c. */
unsigned vm_do_fault(struct vm_fault *vmf);

#endif
