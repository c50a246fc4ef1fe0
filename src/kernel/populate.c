/*
 * Faulting a range in ahead of use (Linux mm/gup.c populate_vma_page_range
 * and faultin_page_range via __get_user_pages: MAP_POPULATE, mlock,
 * MADV_POPULATE_READ/WRITE).  Each page that is not yet mapped as the
 * access needs goes through handle_mm_fault, so the faults are counted on
 * the process as Linux counts them for GUP (current->min_flt), fault-around
 * and THP included.
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/fault.h"

/* Linux: check_vma_flags() for a populate: writes need VM_WRITE, reads a
 * VMA that allows some access (populate_vma_page_range uses FOLL_FORCE). */
static bool populate_allowed(const struct vm_vma *vma, bool write)
{
	if (vma->vm_flags & (VM_IO | VM_PFNMAP))
		return false;
	if (write)
		return vma->vm_flags & VM_WRITE;
	return vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC);
}

/* One page at va in vma: faulted in if its entry does not allow the
 * access yet.  Returns the address of the next page to look at (past a
 * 2 MiB leaf at once), or 0 with *err set. */
static vm_vaddr populate_page(struct vm_kernel *k, struct vm_proc *p, struct vm_vma *vma,
			      vm_vaddr va, bool write, int *err)
{
	struct vm_pt *pt = &p->mm->pt;
	struct vm_pt_leaf leaf;

	for (int tries = 0; tries < 3; tries++) {
		if (pt->ops->lookup(pt, va, &leaf) == 0 && (!write || pte_write(leaf.pte)))
			return leaf.va + (UINT64_C(1) << vm_psize_shift(leaf.size));
		unsigned ret = vm_handle_mm_fault(k, p, vma, va, write ? VM_FAULT_FLAG_WRITE : 0);
		if (ret & VM_FAULT_OOM) {
			*err = -ENOMEM;
			return 0;
		}
		if (ret & VM_FAULT_ERROR) {
			*err = -EFAULT;
			return 0;
		}
	}
	*err = -EFAULT;     /* no progress: a bug, never an endless loop */
	return 0;
}

int vm_populate(struct vm_kernel *k, struct vm_proc *p, vm_vaddr start, vm_vaddr end, bool write)
{
	if (!p || !p->mm || p->state != VM_PROC_RUNNING)
		return -ESRCH;
	start = VM_ALIGN_DOWN(start, VM_PAGE_SIZE);
	if (end <= start)
		return 0;
	int saved = k->cur_cpu, err = 0;
	k->cur_cpu = (int)p->cpu;
	vm_vaddr va = start;
	while (va < end && !err) {
		struct vm_vma *vma = vm_vma_lookup(p->mm, va);
		if (!vma) {
			err = -ENOMEM;
			break;
		}
		if (!populate_allowed(vma, write)) {
			err = -EFAULT;
			break;
		}
		vm_vaddr stop = VM_MIN(end, vma->vm_end);
		while (va < stop && !err) {
			vm_vaddr next = populate_page(k, p, vma, va, write, &err);
			if (next > va)
				va = next;
		}
	}
	k->cur_cpu = saved;
	return err;
}
