/*
 * The page-fault path (REFERENCE.md 3.1): arch/x86/mm/fault.c
 * do_user_addr_fault and access_error, then mm/memory.c handle_mm_fault ->
 * __handle_mm_fault (create_huge_pmd, wp_huge_pmd) -> handle_pte_fault
 * (do_anonymous_page, do_fault in fault_file.c, do_wp_page, spurious
 * faults), with mm_account_fault's minor/major accounting.
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/anon_vma.h"
#include "kernel/fault_internal.h"
#include "kernel/proc.h"
#include "kernel/reclaim.h"
#include "kernel/rmap.h"
#include "kernel/swap.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"

#define THP_ORDER 9

uint64_t vm_fault_prot(const struct vm_fault *vmf, bool writable, bool dirty)
{
	uint64_t flags = vmf->vma->vm_flags;
	uint64_t prot = VM_PTE_US | VM_PTE_A;

	/* Linux drops _PAGE_NX from __supported_pte_mask without NX: the bit
	 * would be reserved. */
	if (!(flags & VM_EXEC) && (vmf->k->cpus[0].efer & VM_EFER_NXE))
		prot |= VM_PTE_NX;
	if (writable && (flags & VM_WRITE))
		prot |= VM_PTE_RW;
	if (dirty)
		prot |= VM_PTE_D;
	return prot;
}

static unsigned map_error(int err)
{
	return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGSEGV;
}

unsigned vm_fault_map(struct vm_fault *vmf, uint64_t pfn, uint64_t prot)
{
	struct vm_pt *pt = &vmf->mm->pt;
	int err = pt->ops->map(pt, vmf->address, pfn, VM_PSIZE_4K, prot);

	return err ? map_error(err) : 0;
}

/* The CPU this fault runs on, if it has the faulting mm loaded. */
static struct vm_cpu *local_cpu(const struct vm_fault *vmf)
{
	int c = vmf->k->cur_cpu;

	if (c < 0 || (unsigned)c >= vmf->k->ncpus || vmf->k->cpu_mm[c] != vmf->mm)
		return NULL;
	return &vmf->k->cpus[c];
}

/* ---- anonymous memory ------------------------------------------------------ */

/* Linux: vmf_anon_prepare() — the VMA's anon_vma before its first
 * anonymous page.  Only private mappings get here (a private mapping of a
 * tmpfs file too, for its copies on write): shared anonymous memory is a
 * shmem file, whose pages come from its page cache. */
static unsigned anon_prepare(struct vm_fault *vmf)
{
	return vm_anon_vma_prepare(vmf->k, vmf->vma) ? VM_FAULT_OOM : 0;
}

unsigned vm_fault_map_anon(struct vm_fault *vmf, uint64_t pfn, uint64_t prot)
{
	unsigned ret = anon_prepare(vmf);

	if (!ret)
		ret = vm_fault_map(vmf, pfn, prot);
	if (ret) {
		vm_page_put(vmf->k, pfn);
		return ret;
	}
	vm_rmap_new_anon(vmf->k, vmf->vma, vmf->address, pfn, 0);
	return 0;
}

/* Linux: do_anonymous_page(). */
static unsigned do_anonymous_page(struct vm_fault *vmf)
{
	struct vm_kernel *k = vmf->k;
	uint64_t pfn;
	unsigned ret;

	if (!fault_write(vmf)) {
		/* The shared zero page, read-only, marked special (bit 9, Linux's
		 * _PAGE_SPECIAL): no reference, no map count, no RSS. */
		uint64_t prot = vm_fault_prot(vmf, false, false) | VM_PTE_SOFTW1;
		ret = vm_fault_map(vmf, k->zero_pfn, prot);
		if (!ret)
			k->stats->flt_zero_page++;
		return ret;
	}
	ret = anon_prepare(vmf);
	if (ret)
		return ret;
	if (vm_page_alloc(k, 0, &pfn))
		return VM_FAULT_OOM;
	ret = vm_fault_map_anon(vmf, pfn, vm_fault_prot(vmf, true, true));
	if (!ret)
		k->stats->flt_anon++;
	return ret;
}

/* ---- transparent huge pages ------------------------------------------------- */

/* Linux: thp_vma_allowable_order() + thp_vma_suitable_order() for an
 * anonymous PMD fault. */
static bool thp_allowed(const struct vm_fault *vmf)
{
	const struct vm_vma *vma = vmf->vma;
	vm_vaddr haddr = VM_ALIGN_DOWN(vmf->address, VM_PMD_SIZE);

	if (vma->vm_file || (vma->vm_flags & (VM_SHARED | VM_NOHUGEPAGE)))
		return false;
	if (vmf->k->cfg.thp != VM_THP_ALWAYS &&
	    !(vmf->k->cfg.thp == VM_THP_MADVISE && (vma->vm_flags & VM_HUGEPAGE)))
		return false;
	return haddr >= vma->vm_start && vma->vm_end - haddr >= VM_PMD_SIZE;
}

static int any_leaf(void *ctx, const struct vm_pt_leaf *leaf)
{
	(void)ctx;
	(void)leaf;
	return 1;
}

bool vm_fault_pmd_none(const struct vm_fault *vmf)
{
	struct vm_pt *pt = &vmf->mm->pt;
	vm_vaddr haddr = VM_ALIGN_DOWN(vmf->address, VM_PMD_SIZE);

	/* A swap entry in a PTE counts: its table is there. */
	return pt->ops->for_each_entry(pt, haddr, haddr + VM_PMD_SIZE, any_leaf, NULL) == 0;
}

/* Linux: do_huge_pmd_anonymous_page().  Both a read and a write prepare
 * the anon_vma first; a read then maps the huge zero page in Linux, the
 * 4 KiB zero page in the model (docs/faults.md): the fallback. */
static unsigned do_huge_pmd_anonymous_page(struct vm_fault *vmf)
{
	struct vm_kernel *k = vmf->k;
	struct vm_pt *pt = &vmf->mm->pt;
	vm_vaddr haddr = VM_ALIGN_DOWN(vmf->address, VM_PMD_SIZE);
	uint64_t pfn;
	unsigned ret = anon_prepare(vmf);

	if (ret)
		return ret;
	if (!fault_write(vmf))
		return VM_FAULT_FALLBACK;       /* the huge zero page: see above */
	if (vm_page_alloc(k, THP_ORDER, &pfn)) {
		k->stats->flt_thp_fallback++;      /* Linux: THP_FAULT_FALLBACK */
		return VM_FAULT_FALLBACK;
	}
	int err = pt->ops->map(pt, haddr, pfn, VM_PSIZE_2M, vm_fault_prot(vmf, true, true));
	if (err) {
		vm_page_put(k, pfn);
		if (err == -ENOMEM)
			return VM_FAULT_OOM;
		k->stats->flt_thp_fallback++;
		return VM_FAULT_FALLBACK;
	}
	vm_rmap_new_anon(k, vmf->vma, haddr, pfn, THP_ORDER);
	k->stats->flt_thp++;
	return 0;
}

/* ---- present entries: write protection and spurious faults ------------------- */

/* Linux: the end of handle_pte_fault() (and huge_pmd_set_accessed) — the
 * entry already allows the access: set A (and D for a write) if missing,
 * and drop the stale TLB entry here (flush_tlb_fix_spurious_fault). */
static unsigned spurious_fault(struct vm_fault *vmf, const struct vm_pt_leaf *leaf)
{
	struct vm_pt *pt = &vmf->mm->pt;
	uint64_t want = VM_PTE_A | (fault_write(vmf) ? VM_PTE_D : 0);
	uint64_t size = UINT64_C(1) << vm_psize_shift(leaf->size);

	if ((leaf->pte.v & want) != want)
		pt->ops->protect(pt, leaf->va, leaf->va + size, want, 0);
	struct vm_cpu *cpu = local_cpu(vmf);
	if (cpu)
		vm_cpu_invlpg(cpu, vmf->address);
	vmf->k->stats->flt_spurious++;
	return 0;
}

/* Linux: wp_page_reuse() — make the entry writable and dirty in place.  A
 * permission upgrade needs no flush (a stale entry elsewhere only causes a
 * spurious fault). */
static unsigned wp_page_reuse(struct vm_fault *vmf, const struct vm_pt_leaf *leaf)
{
	struct vm_pt *pt = &vmf->mm->pt;
	uint64_t size = UINT64_C(1) << vm_psize_shift(leaf->size);

	pt->ops->protect(pt, leaf->va, leaf->va + size, VM_PTE_RW | VM_PTE_D | VM_PTE_A, 0);
	vmf->k->stats->flt_wp_reuse++;
	return 0;
}

static int zap_one(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct vm_fault *vmf = ctx;

	vm_rmap_zap_leaf(vmf->k, vmf->vma, leaf);
	return 0;
}

/* Linux: wp_page_copy() — a private copy of the page (zeroed when the
 * source is the zero page), the old entry cleared and flushed everywhere
 * (ptep_clear_flush), the copy mapped writable and dirty. */
static unsigned wp_page_copy(struct vm_fault *vmf, uint64_t old_pfn)
{
	struct vm_kernel *k = vmf->k;
	struct vm_pt *pt = &vmf->mm->pt;
	uint64_t pfn;
	unsigned ret = anon_prepare(vmf);

	if (ret)
		return ret;
	if (vm_page_alloc(k, 0, &pfn))
		return VM_FAULT_OOM;
	if (old_pfn != k->zero_pfn && k->phys->data)
		vm_phys_copy_frame(k->phys, pfn, old_pfn);
	pt->ops->unmap(pt, vmf->address, vmf->address + VM_PAGE_SIZE, zap_one, vmf);
	vm_flush_tlb_range(k, vmf->mm, vmf->address, vmf->address + VM_PAGE_SIZE, k->cur_cpu);
	ret = vm_fault_map_anon(vmf, pfn, vm_fault_prot(vmf, true, true));
	if (!ret)
		k->stats->flt_cow++;
	return ret;
}

/* Linux: do_wp_page() — a write to a present, write-protected 4 KiB PTE. */
static unsigned do_wp_page(struct vm_fault *vmf, const struct vm_pt_leaf *leaf)
{
	struct vm_kernel *k = vmf->k;
	uint64_t pfn = pte_pfn(leaf->pte);

	if (pfn == k->zero_pfn)
		return wp_page_copy(vmf, pfn);
	vm_rmap_split_thp(k, pfn);
	struct vm_page *pg = &k->pages[pfn];
	if (vmf->vma->vm_flags & VM_SHARED) {
		/* Linux: wp_page_shared() — page_mkwrite, then reuse; the page
		 * is dirty from now on (fault_dirty_shared_page). */
		if (pg->owner_kind == VM_OWNER_FILE)
			vm_page_mark_dirty(k, pfn);
		return wp_page_reuse(vmf, leaf);
	}
	/* Linux: PageAnonExclusive, or wp_can_reuse_anon_folio() — an
	 * anonymous page nobody else holds is reused (and exclusive again); a
	 * page-cache page in a private mapping is copied. */
	if (pg->owner_kind == VM_OWNER_ANON &&
	    (vm_page_test(pg, VM_PG_ANON_EXCLUSIVE) || pg->refcount == 1)) {
		vm_page_set(pg, VM_PG_ANON_EXCLUSIVE);
		return wp_page_reuse(vmf, leaf);
	}
	return wp_page_copy(vmf, pfn);
}

unsigned vm_do_wp_page(struct vm_fault *vmf)
{
	struct vm_pt *pt = &vmf->mm->pt;
	struct vm_pt_leaf leaf;

	if (pt->ops->lookup(pt, vmf->address, &leaf) || leaf.size != VM_PSIZE_4K)
		return VM_FAULT_SIGSEGV;
	return do_wp_page(vmf, &leaf);
}

static unsigned handle_pte_fault(struct vm_fault *vmf);

/* Linux: wp_huge_pmd() / do_huge_pmd_wp_page() and huge_pmd_set_accessed()
 * for a fault on a 2 MiB leaf. */
static unsigned huge_pmd_fault(struct vm_fault *vmf, const struct vm_pt_leaf *leaf)
{
	struct vm_kernel *k = vmf->k;

	if (!fault_write(vmf) || pte_write(leaf->pte))
		return spurious_fault(vmf, leaf);
	struct vm_page *head = &k->pages[pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT];
	if (head->owner_kind == VM_OWNER_ANON && head->refcount == 1 &&
	    !(vmf->vma->vm_flags & VM_SHARED)) {
		vm_page_set(head, VM_PG_ANON_EXCLUSIVE);
		return wp_page_reuse(vmf, leaf);
	}
	/* Not exclusive: split and copy 4 KiB (Linux: __split_huge_pmd and
	 * VM_FAULT_FALLBACK to the PTE path). */
	if (vm_split_huge_pmd(k, vmf->vma, vmf->address))
		return VM_FAULT_OOM;
	return handle_pte_fault(vmf);
}

/* ---- the dispatcher -------------------------------------------------------- */

/* Linux: handle_pte_fault() with do_pte_missing(). */
static unsigned handle_pte_fault(struct vm_fault *vmf)
{
	struct vm_pt *pt = &vmf->mm->pt;
	struct vm_pt_leaf leaf;
	int err = pt->ops->lookup(pt, vmf->address, &leaf);

	vm_pte swp;
	if (err == -ENOENT && vm_swap_pte_at(vmf->mm, vmf->address, &swp))
		return vm_do_swap_page(vmf, swp);
	if (err == -ENOENT)     /* shared anonymous memory is a shmem file: do_fault */
		return vmf->vma->vm_file ? vm_do_fault(vmf) : do_anonymous_page(vmf);
	if (err)
		return VM_FAULT_SIGSEGV;
	if (leaf.size != VM_PSIZE_4K)
		return huge_pmd_fault(vmf, &leaf);
	if (fault_write(vmf) && !pte_write(leaf.pte))
		return do_wp_page(vmf, &leaf);
	return spurious_fault(vmf, &leaf);
}

/* Linux: __handle_mm_fault() — a THP where the PMD is empty, else PTEs. */
static unsigned handle_fault(struct vm_fault *vmf)
{
	struct vm_pt *pt = &vmf->mm->pt;

	if (pt->ops->lookup(pt, vmf->address, NULL) == -ENOENT && thp_allowed(vmf) &&
	    vm_fault_pmd_none(vmf)) {
		unsigned ret = do_huge_pmd_anonymous_page(vmf);
		if (!(ret & VM_FAULT_FALLBACK))
			return ret;
	}
	return handle_pte_fault(vmf);
}

/* Linux: mm_account_fault() — pgfault for every completed fault, then
 * min_flt or maj_flt unless it failed. */
static void mm_account_fault(struct vm_kernel *k, struct vm_proc *p, unsigned ret)
{
	if (ret & VM_FAULT_RETRY)
		return;
	k->stats->pgfault++;
	vm_lru_fault_tick(k);
	if (ret & VM_FAULT_ERROR)
		return;
	if (ret & VM_FAULT_MAJOR) {
		k->stats->majflt++;
		if (p)
			p->maj_flt++;
	} else {
		k->stats->minflt++;
		if (p)
			p->min_flt++;
	}
}

unsigned vm_handle_mm_fault(struct vm_kernel *k, struct vm_proc *p, struct vm_vma *vma,
			    vm_vaddr addr, unsigned flags)
{
	struct vm_fault vmf = {
		.k = k, .p = p, .vma = vma, .mm = vma->mm, .flags = flags,
		.address = VM_ALIGN_DOWN(addr, VM_PAGE_SIZE),
	};
	unsigned ret;

	if (addr < vma->vm_start || addr >= vma->vm_end) {
		ret = VM_FAULT_SIGSEGV;
	} else {
		vmf.pgoff = vma->vm_pgoff + ((vmf.address - vma->vm_start) >> VM_PAGE_SHIFT);
		ret = handle_fault(&vmf);
	}
	mm_account_fault(k, p, ret);
	return ret;
}

/* ---- the #PF handler ------------------------------------------------------- */

/* Linux: vma_is_accessible(). */
static bool vma_accessible(const struct vm_vma *vma)
{
	return vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC);
}

/* Linux: access_error() (arch/x86/mm/fault.c): why the VMA refuses the
 * access, or NULL.  Execute permission is not checked here: NX in the PTE
 * does it (an instruction fetch from a present NX page is a "read, present"
 * fault, refused). */
static const char *access_error(uint32_t error, const struct vm_vma *vma)
{
	if (error & VM_PF_PK)
		return "protection key forbids the access";
	if (error & VM_PF_W)
		return (vma->vm_flags & VM_WRITE) ? NULL : "write to a VMA without write permission";
	if (error & VM_PF_P)
		return (error & VM_PF_I) ? "instruction fetch from a non-executable page"
					 : "read of a present page the VMA refuses";
	return vma_accessible(vma) ? NULL : "access to a PROT_NONE VMA";
}

static int fault_signal(struct vm_kernel *k, struct vm_siginfo *sig, int signo, int code,
			vm_vaddr addr, uint32_t error, const char *reason)
{
	*sig = (struct vm_siginfo){ signo, code, addr, error, reason };
	if (signo == VM_SIGSEGV)
		k->stats->sig_segv++;
	else if (signo == VM_SIGBUS)
		k->stats->sig_bus++;
	return signo;
}

/* Linux: pagefault_out_of_memory() -> out_of_memory(): the OOM killer
 * chooses a victim by oom_badness.  Another process dies and the fault is
 * retried (-EAGAIN to the caller); when the faulting process is the
 * victim (or nothing can be chosen) it dies with SIGKILL. */
static int oom(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint32_t error,
	       struct vm_siginfo *sig)
{
	struct vm_proc *victim = k->reclaim ? vm_out_of_memory(k, p) : NULL;

	if (victim && victim->mm != p->mm)
		return -EAGAIN;
	fault_signal(k, sig, VM_SIGKILL, 0, addr, error, "out of memory");
	return VM_SIGKILL;
}

/* Linux: do_user_addr_fault() with lock_mm_and_find_vma() (stack growth),
 * bad_area (SEGV_MAPERR), bad_area_access_error (SEGV_ACCERR), do_sigbus
 * (BUS_ADRERR) and the OOM path. */
static int user_fault(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint32_t error,
		      struct vm_siginfo *sig)
{
	struct vm_mm *mm = p->mm;

	if (error & VM_PF_RSVD)      /* Linux: pgtable_bad() — a corrupt table */
		return fault_signal(k, sig, VM_SIGKILL, 0, addr, error,
				    "reserved bit set in a page-table entry");
	struct vm_vma *vma = vm_find_vma(mm, addr);
	if (!vma)
		return fault_signal(k, sig, VM_SIGSEGV, VM_SEGV_MAPERR, addr, error,
				    "no VMA at the address");
	if (vma->vm_start > addr) {
		if (!(vma->vm_flags & VM_GROWSDOWN))
			return fault_signal(k, sig, VM_SIGSEGV, VM_SEGV_MAPERR, addr, error,
					    "no VMA at the address");
		if (vm_expand_stack(k, vma, addr))
			return fault_signal(k, sig, VM_SIGSEGV, VM_SEGV_MAPERR, addr, error,
					    "the stack cannot grow there (RLIMIT_STACK or the guard gap)");
		k->stats->flt_stack_grow++;
	}
	const char *why = access_error(error, vma);
	if (why)    /* bad_area_access_error: SEGV_PKUERR for a protection key */
		return fault_signal(k, sig, VM_SIGSEGV,
				    (error & VM_PF_PK) ? VM_SEGV_PKUERR : VM_SEGV_ACCERR, addr, error, why);

	unsigned flags = VM_FAULT_FLAG_USER;
	if (error & VM_PF_W)
		flags |= VM_FAULT_FLAG_WRITE;
	if (error & VM_PF_I)
		flags |= VM_FAULT_FLAG_INSTRUCTION;
	unsigned ret = vm_handle_mm_fault(k, p, vma, addr, flags);
	if (ret & VM_FAULT_OOM)      /* pagefault_out_of_memory: the OOM killer */
		return oom(k, p, addr, error, sig);
	if (ret & VM_FAULT_SIGBUS)
		return fault_signal(k, sig, VM_SIGBUS, VM_BUS_ADRERR, addr, error,
				    "access beyond the end of the file");
	if (ret & VM_FAULT_SIGSEGV)
		return fault_signal(k, sig, VM_SIGSEGV, VM_SEGV_MAPERR, addr, error,
				    "the fault could not be resolved");
	return 0;
}

int vm_do_user_fault(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint32_t error,
		     struct vm_siginfo *sig)
{
	*sig = (struct vm_siginfo){ 0 };
	if (!p || !p->mm || p->state != VM_PROC_RUNNING)
		return -ESRCH;
	int saved = k->cur_cpu;
	k->cur_cpu = (int)p->cpu;
	int rc;
	/* Each OOM kill of another process frees memory: retry. */
	for (unsigned tries = 0; (rc = user_fault(k, p, addr, error, sig)) == -EAGAIN; tries++)
		if (tries > k->procs_cap)
			break;
	if (rc == -EAGAIN)
		rc = fault_signal(k, sig, VM_SIGKILL, 0, addr, error, "out of memory");
	k->cur_cpu = saved;
	return rc;
}
