/*
 * The MMU: translate a virtual address for an access, as the hardware does.
 *
 *   canonical?  no -> #GP
 *   L1 TLB (I or D by kind) -> L2 STLB -> page walk (paging-structure caches)
 *   rights checked on the entry that answers (access.h); a write through an
 *   entry whose Dirty is clear re-walks to set D (SDM 4.8); a page fault
 *   drops the TLB and paging-structure-cache entries for the faulting
 *   address (SDM 4.10.4.1); a TLB entry is filled
 *   only after a successful walk.
 *
 * The fast path (an L1 hit on a 4 KiB page whose entry sits in its home
 * index slot) is inline and allocation-free: a multiply, one load of the
 * entry's address, then one cache line of the entry: a key compare (the key
 * holds the PCID check, tlb.h), a rights bit against a table, the LRU stamp,
 * the physical address as va + delta.  Everything else is
 * vm_mmu_translate_slow().
 */
#ifndef VM_HW_MMU_H
#define VM_HW_MMU_H

#include "base/compiler.h"
#include "hw/cpu.h"

/* Translate a run of n accesses of one kind acc at va[0..n) (pa may be
 * NULL): the same results and counters as n calls of vm_mmu_translate, with
 * everything the hit path reads held in registers for the whole run.  Stops
 * at the first access that raises an exception and returns it (cr2 and
 * pf_error set), else VM_EXC_NONE; *done = accesses translated before it.
 * -EINVAL for a kind of 3. */
int vm_mmu_translate_run(struct vm_cpu *cpu, const vm_vaddr *va, size_t n, unsigned acc,
			 vm_paddr *pa, size_t *done);

/* Everything but an L1 4 KiB hit.  Same contract as vm_mmu_translate. */
int vm_mmu_translate_slow(struct vm_cpu *cpu, vm_vaddr va, unsigned acc, vm_paddr *pa);

/* n (>= 1) accesses of one kind to one page that all hit the same entry:
 * the state and counters of n vm_mmu_hit calls (the entry's stamp ends
 * above every other, the PLRU path points away from it either way).  True
 * and counted, or false with nothing touched. */
static inline bool vm_mmu_hit_n(struct vm_cpu *cpu, vm_vaddr va, unsigned acc, uint64_t n,
				vm_paddr *pa)
{
	struct vm_tlb_array *a = cpu->fast[acc & VM_ACC_KIND];
	uint64_t vpn = va >> 12;
	struct vm_tlbe *e = vm_tlb_fast_entry(a, vpn);
	if (VM_LIKELY(e->key == vpn) && VM_LIKELY(e->pbit & cpu->hit_ok[acc & 15])) {
		cpu->acc[acc & VM_ACC_KIND] += n;
		cpu->clock += n;
		e->stamp = cpu->clock;           /* above every stamp: see vm_tlb_touch */
		if (VM_UNLIKELY(a->plru != NULL))
			vm_tlb_touch_plru(a, e);
		pa->v = va + e->delta;
		return true;
	}
	return false;
}

/* The fast path alone: an L1 hit on a 4 KiB page whose entry sits in its
 * home slot.  True with *pa set and the hit counted, exactly as
 * vm_mmu_translate counts it; false with nothing touched (the caller
 * then translates in full).  acc as for vm_mmu_translate, kind 0..2. */
static inline bool vm_mmu_hit(struct vm_cpu *cpu, vm_vaddr va, unsigned acc, vm_paddr *pa)
{
	return vm_mmu_hit_n(cpu, va, acc, 1, pa);
}

/* Translate va for acc (VM_ACC_READ/WRITE/EXEC, | VM_ACC_USER for a CPL 3
 * access, | VM_ACC_IMPLICIT for an implicit supervisor access; other bits
 * are ignored).  Returns
 * VM_EXC_NONE with *pa set, VM_EXC_PF (cpu->cr2 = va, cpu->pf_error = the
 * error code) or VM_EXC_GP (non-canonical va); -EINVAL for a kind of 3. */
static inline int vm_mmu_translate(struct vm_cpu *cpu, vm_vaddr va, unsigned acc, vm_paddr *pa)
{
	if (VM_LIKELY(vm_mmu_hit(cpu, va, acc, pa)))
		return VM_EXC_NONE;
	return vm_mmu_translate_slow(cpu, va, acc, pa);
}

#endif
