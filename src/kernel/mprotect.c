/*
 * mprotect (Linux mm/mprotect.c do_mprotect_pkey, mprotect_fixup,
 * change_protection with MM_CP_TRY_CHANGE_WRITABLE).  The change is applied
 * VMA by VMA from the start, each split off or merged as Linux does, and
 * stops at the first hole (-ENOMEM, with the VMAs before it changed) or the
 * first VMA whose VM_MAY* bits refuse the new rights (-EACCES).
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/fault.h"
#include "kernel/mm_internal.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"

#define PROT_SEM 0x8          /* accepted and ignored (arch_validate_prot) */
#define PTE_RIGHTS (VM_PTE_US | VM_PTE_RW | VM_PTE_NX)

/* Linux: can_change_pte_writable() — may this present leaf become
 * writable without a write fault?  Private: only an anonymous page marked
 * exclusive (PageAnonExclusive: not since a fork shared it, even if the
 * other process is gone now: only a write fault finds that out); shared:
 * only a dirty one (the filesystem already saw the write; shmem has no
 * write notification). */
static bool can_change_writable(const struct vm_kernel *k, const struct vm_vma *vma,
				const struct vm_pt_leaf *leaf)
{
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;
	const struct vm_page *pg;

	if (!pte_user(leaf->pte))
		return false;                  /* not even readable: leave it */
	if (vma->vm_flags & VM_SHARED)
		return pte_dirty(leaf->pte);
	if (pfn == k->zero_pfn || pfn >= k->phys->nframes)
		return false;
	pg = &k->pages[pfn];
	return pg->owner_kind == VM_OWNER_ANON && vm_page_test(pg, VM_PG_ANON_EXCLUSIVE);
}

struct upgrade {
	const struct vm_kernel *k;
	const struct vm_vma *vma;
	vm_vaddr found;               /* the first leaf to make writable */
	uint64_t size;
	uint64_t present;             /* present leaves seen */
};

static int find_upgrade(void *arg, const struct vm_pt_leaf *leaf)
{
	struct upgrade *u = arg;

	u->present++;
	if (pte_write(leaf->pte) || !can_change_writable(u->k, u->vma, leaf))
		return 0;
	u->found = leaf->va;
	u->size = UINT64_C(1) << vm_psize_shift(leaf->size);
	return 1;
}

static int count_leaf(void *arg, const struct vm_pt_leaf *leaf)
{
	(void)leaf;
	++*(uint64_t *)arg;
	return 0;
}

/* Linux: change_protection() on [start, end) of vma, whose vm_flags are
 * already the new ones: every present leaf gets the VMA's rights
 * (vm_get_page_prot), then, where a write fault would not be needed
 * anyway, write permission back (MM_CP_TRY_CHANGE_WRITABLE). */
static void change_protection(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr start,
			      vm_vaddr end)
{
	struct vm_pt *pt = &vma->mm->pt;
	uint64_t f = vma->vm_flags, prot = vm_get_page_prot(f, vm_kernel_nxe(k)), present = 0;
	bool upgrade;

	if (vm_vma_tracks_dirty(vma))
		prot &= ~VM_PTE_RW;            /* writenotify: the first write faults */
	pt->ops->for_each(pt, start, end, count_leaf, &present);
	if (!present)
		return;
	pt->ops->protect(pt, start, end, prot & PTE_RIGHTS, PTE_RIGHTS & ~prot);
	/* vma_wants_manual_pte_write_upgrade(): private writable, or shared
	 * with write notification. */
	upgrade = (f & VM_WRITE) && (!(f & VM_SHARED) || vm_vma_tracks_dirty(vma));
	for (vm_vaddr va = start; upgrade && va < end;) {
		struct upgrade u = { .k = k, .vma = vma };
		if (pt->ops->for_each(pt, va, end, find_upgrade, &u) <= 0)
			break;
		vm_vaddr lo = VM_MAX(u.found, start), hi = VM_MIN(u.found + u.size, end);
		pt->ops->protect(pt, lo, hi, VM_PTE_RW, 0);
		va = hi;
	}
	vm_flush_tlb_range(k, vma->mm, start, end, k->cur_cpu);
}

/* Linux: mprotect_fixup(). */
static int mprotect_fixup(struct vm_kernel *k, struct vm_proc *p, struct vm_vma *vma,
			  struct vm_vma **pprev, vm_vaddr start, vm_vaddr end, uint64_t newflags)
{
	struct vm_mm *mm = vma->mm;
	uint64_t oldflags = vma->vm_flags;
	int64_t nrpages = (int64_t)((end - start) >> VM_PAGE_SHIFT);
	long err;

	if (newflags == oldflags) {
		*pprev = vma;
		return 0;
	}
	/* A private mapping turning writable is charged (commit accounting);
	 * one turning read-only is uncharged only if it never had an
	 * anonymous page. */
	if (newflags & VM_WRITE) {
		if (!(oldflags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE))) {
			if (vm_enough_memory(k, (uint64_t)nrpages))
				return -ENOMEM;
			newflags |= VM_ACCOUNT;
		}
	} else if ((oldflags & VM_ACCOUNT) && vma_is_anonymous(vma) && !vm_vma_has_anon(vma)) {
		newflags &= ~VM_ACCOUNT;
	}
	vma = vm_vma_modify(k, vma, start, end, newflags, &err);
	if (!vma)
		return (int)err;
	*pprev = vma;
	vma->vm_flags = newflags;
	change_protection(k, vma, start, end);

	/* A private locked mapping turning writable breaks COW now. */
	if ((oldflags & (VM_WRITE | VM_SHARED | VM_LOCKED)) == VM_LOCKED && (newflags & VM_WRITE))
		vm_populate(k, p, start, end, true);
	vm_stat_account(mm, oldflags, -nrpages);
	vm_stat_account(mm, newflags, nrpages);
	return 0;
}

/* Linux: do_mprotect_pkey() with pkey -1. */
static long do_mprotect(struct vm_kernel *k, struct vm_proc *p, vm_vaddr start, uint64_t len,
			int prot)
{
	struct vm_mm *mm = p->mm;
	int grows = prot & (VM_PROT_GROWSDOWN | VM_PROT_GROWSUP);
	vm_vaddr end, nstart, tmp;
	struct vm_vma *vma, *prev;
	int err = 0;

	prot &= ~(VM_PROT_GROWSDOWN | VM_PROT_GROWSUP);
	if (grows == (VM_PROT_GROWSDOWN | VM_PROT_GROWSUP))
		return -EINVAL;
	if (start & (VM_PAGE_SIZE - 1))
		return -EINVAL;
	if (!len)
		return 0;
	len = VM_ALIGN_UP(len, VM_PAGE_SIZE);
	end = start + len;
	if (end <= start)
		return -ENOMEM;
	if (prot & ~(VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC | PROT_SEM))
		return -EINVAL;

	vma = vm_find_vma(mm, start);
	if (!vma || vma->vm_start >= end)
		return -ENOMEM;
	if (grows & VM_PROT_GROWSDOWN) {
		start = vma->vm_start;
		if (!(vma->vm_flags & VM_GROWSDOWN))
			return -EINVAL;
	} else {
		if (vma->vm_start > start)
			return -ENOMEM;
		if (grows & VM_PROT_GROWSUP)
			return -EINVAL;        /* no VM_GROWSUP on x86 */
	}
	prev = start > vma->vm_start ? vma : vm_vma_prev(vma);

	nstart = start;
	tmp = vma->vm_start;
	while (vma && vma->vm_start < end) {
		uint64_t newflags;
		if (vma->vm_start != tmp) {
			err = -ENOMEM;
			break;
		}
		newflags = (vma->vm_flags & ~VM_ACCESS_FLAGS) | vm_calc_prot_bits(prot);
		/* newflags >> 4 puts VM_MAY* in place of VM_* */
		if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) {
			err = -EACCES;
			break;
		}
		tmp = VM_MIN(vma->vm_end, end);
		err = mprotect_fixup(k, p, vma, &prev, nstart, tmp, newflags);
		if (err)
			break;
		tmp = nstart = prev->vm_end;       /* a merge may reach further */
		vma = vm_vma_next(prev);
	}
	if (!err && tmp < end)
		err = -ENOMEM;
	return err;
}

long vm_sys_mprotect(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len, int prot)
{
	int saved;
	long ret = vm_sys_enter(k, p, &saved);

	if (ret)
		return ret;
	ret = do_mprotect(k, p, addr, len, prot);
	return vm_sys_leave(k, saved, ret, "mprotect");
}
