/*
 * The common case of vm_user_access, inline: a user access inside one page
 * that the L1 TLB of the process's CPU translates (vm_mmu_hit), with the
 * process's tables loaded.  Nothing can fault there, so nothing of the
 * kernel runs; the counters are those vm_user_access would have counted.
 * Replay calls it for every access and falls back to vm_user_access when it
 * says no (a miss, a fault to take, another mm loaded).  No bytes move: it
 * is vm_user_access with buf NULL, in either mode.
 */
#ifndef VM_KERNEL_UACCESS_FAST_H
#define VM_KERNEL_UACCESS_FAST_H

#include <stdbool.h>

#include "hw/mmu.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"

/* True when the access was translated by an L1 hit (and counted); false
 * with nothing done.  p must be running; [va, va + size) inside one page;
 * kind VM_ACC_READ, VM_ACC_WRITE or VM_ACC_EXEC. */
static inline bool vm_user_access_hit(struct vm_kernel *k, struct vm_proc *p, vm_vaddr va,
				      unsigned kind)
{
	vm_paddr pa;
	if (__builtin_expect(k->cpu_mm[p->cpu] != p->mm, 0))
		return false;
	return vm_mmu_hit(&k->cpus[p->cpu], va, kind | VM_ACC_USER, &pa);
}

/* The same access n times (n >= 1): all hits, or false with nothing done. */
static inline bool vm_user_access_hit_n(struct vm_kernel *k, struct vm_proc *p, vm_vaddr va,
					unsigned kind, uint64_t n)
{
	vm_paddr pa;
	if (__builtin_expect(k->cpu_mm[p->cpu] != p->mm, 0))
		return false;
	return vm_mmu_hit_n(&k->cpus[p->cpu], va, kind | VM_ACC_USER, n, &pa);
}

#endif
