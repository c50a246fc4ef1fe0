/*
 * User accesses as the CPU makes them: each page-sized piece translated by
 * the MMU of the process's CPU, a #PF handed to the fault handler and the
 * access retried (the instruction restarts), the bytes copied to or from
 * simulated memory in data mode.
 */
#include <errno.h>

#include "base/compiler.h"
#include "hw/mmu.h"
#include "kernel/fault.h"
#include "kernel/reclaim.h"
#include "kernel/uapi.h"

/* Linux: SI_KERNEL, the si_code of a #GP turned into SIGSEGV. */
#define VM_SI_KERNEL 0x80

/* A fault handled this often on one piece without the access going
 * through means the handler made no progress: a bug, reported, never an
 * endless loop.  Legitimate sequences need at most two (a write to an
 * unmapped page of a non-executable VMA fetched as code: map, then NX). */
#define MAX_FAULTS_PER_PIECE 4

static int kill_proc(struct vm_kernel *k, struct vm_proc *p, const struct vm_siginfo *sig)
{
	vm_proc_kill(k, p, sig);
	return sig->signo;
}

/* Translate one piece (inside one page), faulting as needed.  0 and *pa,
 * a signal (p killed), or -EFAULT. */
static int translate_piece(struct vm_kernel *k, struct vm_proc *p, struct vm_cpu *cpu,
			   vm_vaddr va, unsigned acc, vm_paddr *pa)
{
	for (int faults = 0; faults <= MAX_FAULTS_PER_PIECE; faults++) {
		int exc = vm_mmu_translate(cpu, va, acc, pa);
		if (exc == VM_EXC_NONE)
			return 0;
		struct vm_siginfo sig;
		if (exc == VM_EXC_GP) {
			sig = (struct vm_siginfo){ VM_SIGSEGV, VM_SI_KERNEL, 0, 0,
						   "non-canonical address (#GP)" };
			k->stats->sig_segv++;
			return kill_proc(k, p, &sig);
		}
		if (exc != VM_EXC_PF)
			return -EFAULT;
		int rc = vm_do_user_fault(k, p, cpu->cr2, cpu->pf_error, &sig);
		if (rc > 0)
			return kill_proc(k, p, &sig);
		if (rc < 0)
			return rc;
	}
	return -EFAULT;
}

int vm_user_access(struct vm_kernel *k, struct vm_proc *p, vm_vaddr va, uint64_t size,
		   unsigned kind, void *buf)
{
	if (!p || p->state != VM_PROC_RUNNING || !p->mm)
		return -ESRCH;
	if (size == 0 || va + size < va || (kind & ~VM_ACC_KIND) || kind == VM_ACC_KIND ||
	    p->cpu >= k->ncpus)
		return -EINVAL;
	if (k->cpu_mm[p->cpu] != p->mm)
		vm_switch_mm(k, p->cpu, p->mm);
	struct vm_cpu *cpu = &k->cpus[p->cpu];
	unsigned char *bytes = k->phys->data ? buf : NULL;
	int saved = k->cur_cpu;
	int rc = 0;

	k->cur_cpu = (int)p->cpu;
	for (uint64_t done = 0; done < size && rc == 0;) {
		vm_vaddr at = va + done;
		uint64_t piece = VM_MIN(size - done, VM_PAGE_SIZE - (at & (VM_PAGE_SIZE - 1)));
		vm_paddr pa;
		rc = translate_piece(k, p, cpu, at, kind | VM_ACC_USER, &pa);
		if (rc == 0 && k->reclaim)
			vm_lru_access(k, pa.v >> VM_PAGE_SHIFT, kind == VM_ACC_WRITE);
		if (rc == 0 && bytes) {
			if (kind == VM_ACC_WRITE)
				rc = vm_phys_write(k->phys, pa, bytes + done, (size_t)piece);
			else
				rc = vm_phys_read(k->phys, pa, bytes + done, (size_t)piece);
		}
		done += piece;
	}
	k->cur_cpu = saved;
	return rc;
}

/* ---- the kernel writing user memory ---------------------------------------- */

/* Linux: a kernel-mode #PF on a user address with an exception fixup
 * (do_user_addr_fault for copy_to_user / clear_user): the VMA, stack
 * growth and access checks of a user fault, then handle_mm_fault; what
 * would be a signal for a user access is -EFAULT, and nothing is killed
 * or counted as a signal. */
static int kernel_fault(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, bool write)
{
	struct vm_vma *vma = vm_find_vma(p->mm, addr);

	if (!vma)
		return -EFAULT;
	if (vma->vm_start > addr &&
	    (!(vma->vm_flags & VM_GROWSDOWN) || vm_expand_stack(k, vma, addr)))
		return -EFAULT;
	if (write ? !(vma->vm_flags & VM_WRITE) : !(vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC)))
		return -EFAULT;
	unsigned ret = vm_handle_mm_fault(k, p, vma, addr, write ? VM_FAULT_FLAG_WRITE : 0);
	return (ret & VM_FAULT_ERROR) ? -EFAULT : 0;
}

int vm_copy_to_user(struct vm_kernel *k, struct vm_proc *p, vm_vaddr va, const void *buf,
		    uint64_t size)
{
	static const unsigned char zeroes[VM_PAGE_SIZE];

	if (!p || p->state != VM_PROC_RUNNING || !p->mm)
		return -ESRCH;
	if (va + size < va || p->cpu >= k->ncpus)
		return -EFAULT;
	if (k->cpu_mm[p->cpu] != p->mm)
		vm_switch_mm(k, p->cpu, p->mm);
	struct vm_cpu *cpu = &k->cpus[p->cpu];
	const unsigned char *bytes = buf;
	int saved = k->cur_cpu;
	int rc = 0;

	k->cur_cpu = (int)p->cpu;
	for (uint64_t done = 0; done < size && rc == 0;) {
		vm_vaddr at = va + done;
		uint64_t piece = VM_MIN(size - done, VM_PAGE_SIZE - (at & (VM_PAGE_SIZE - 1)));
		vm_paddr pa;
		int faults = 0;
		while (vm_mmu_translate(cpu, at, VM_ACC_WRITE | VM_ACC_USER, &pa) != VM_EXC_NONE) {
			rc = faults++ > MAX_FAULTS_PER_PIECE ? -EFAULT : kernel_fault(k, p, at, true);
			if (rc)
				break;
		}
		if (rc == 0 && k->phys->data)
			rc = vm_phys_write(k->phys, pa, bytes ? bytes + done : zeroes, (size_t)piece)
				     ? -EFAULT : 0;
		done += piece;
	}
	k->cur_cpu = saved;
	return rc;
}
