/*
 * fork, vfork, clone and wait (Linux kernel/fork.c kernel_clone,
 * copy_process, copy_mm, dup_mm, dup_mmap; mm/memory.c copy_page_range,
 * copy_pte_range / copy_present_pte, copy_huge_pmd; kernel/exit.c
 * wait_consider_task).  Contract in fork.h; docs/fork.md.
 *
 * Copy-on-write is set up here and completed by the fault path: a write to
 * a page the fork write-protected faults (do_wp_page), which copies the
 * frame while another process still maps it and reuses it once the writer
 * is its sole owner (wp_page_copy / wp_page_reuse in fault.c).
 */
#include "kernel/fork.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "base/host.h"
#include "kernel/anon_vma.h"
#include "kernel/mm_internal.h"
#include "kernel/rmap.h"
#include "kernel/swap.h"
#include "kernel/vfs.h"

/* Linux: is_cow_mapping() — private and may become writable: its pages
 * are shared copy-on-write after fork. */
static bool is_cow_mapping(uint64_t flags)
{
	return (flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE;
}

/* Linux: vma_needs_copy() — page tables are copied only where a fault
 * could not fill them again: VMAs with anonymous pages (an anon_vma).
 * File pages, shared anonymous memory's among them (a shmem file), come
 * back from the page cache on the child's first access. */
static bool vma_needs_copy(const struct vm_vma *src)
{
	return src->anon || (src->vm_flags & (VM_PFNMAP | VM_MIXEDMAP));
}

struct copy_ctx {
	struct vm_kernel *k;
	struct vm_vma *dst;
	bool cow;                 /* write-protect writable entries in both */
	vm_vaddr huge;            /* a 2 MiB leaf met here (0: none): split it first */
	int err;
};

/* Linux: copy_present_pte() for one 4 KiB leaf of the parent. */
static int copy_leaf(void *arg, const struct vm_pt_leaf *leaf)
{
	struct copy_ctx *c = arg;
	struct vm_kernel *k = c->k;
	struct vm_vma *dst = c->dst;

	if (leaf->size != VM_PSIZE_4K) {
		c->huge = leaf->va;
		return 1;
	}
	uint64_t pfn = pte_pfn(leaf->pte);
	/* pte_mkold: the child's entry starts unaccessed; the dirty bit
	 * stays (it is the page's, until writeback sees it) but in a shared
	 * mapping, where the parent's entry keeps it (pte_mkclean). */
	uint64_t prot = leaf->pte.v & (VM_PTE_PROT_MASK | VM_PTE_D);
	if (c->cow)
		prot &= ~VM_PTE_RW;
	if (dst->vm_flags & VM_SHARED)
		prot &= ~VM_PTE_D;
	struct vm_pt *pt = &dst->mm->pt;
	int err = pt->ops->map(pt, leaf->va, pfn, VM_PSIZE_4K, prot);
	if (err) {
		c->err = err;
		return 1;
	}
	k->stats->fork_ptes++;
	/* Linux: vm_normal_page() is NULL for the zero page: no count. */
	if (pfn == k->zero_pfn || pfn >= k->phys->nframes)
		return 0;
	struct vm_page *pg = &k->pages[pfn];
	vm_page_get(k, pfn);                 /* folio_get + folio_dup_*_rmap_pte */
	pg->mapcount++;
	dst->mm->rss[vm_rss_kind(dst, pg)]++;
	if (pg->owner_kind == VM_OWNER_ANON && !(dst->vm_flags & VM_SHARED)) {
		/* folio_try_dup_anon_rmap_pte(): shared now, neither side's. */
		vm_page_clear(pg, VM_PG_ANON_EXCLUSIVE);
		if (leaf->pte.v & VM_PTE_RW)
			k->stats->fork_cow++;
	}
	return 0;
}

/* Linux: copy_page_range() for one VMA: every leaf of src's range mapped
 * in dst's tables, then (a COW mapping) src's entries write-protected.
 * A transparent huge page is split into 4 KiB pages first (Linux shares
 * the PMD: docs/fork.md).  0, -ENOMEM. */
static int copy_page_range(struct vm_kernel *k, struct vm_vma *dst, struct vm_vma *src)
{
	struct vm_pt *spt = &src->mm->pt;
	struct copy_ctx c = { .k = k, .dst = dst, .cow = is_cow_mapping(src->vm_flags) };

	if (!vma_needs_copy(src))
		return 0;
	for (vm_vaddr va = src->vm_start; va < src->vm_end;) {
		c.huge = 0;
		if (spt->ops->for_each(spt, va, src->vm_end, copy_leaf, &c) == 0)
			break;
		if (c.err)
			return c.err;
		if (vm_split_huge_pmd(k, src, c.huge))
			return -ENOMEM;
		va = c.huge;
	}
	if (vm_swap_fork(k, dst->mm, src->mm, src->vm_start, src->vm_end))
		return -ENOMEM;
	/* ptep_set_wrprotect() on the parent's side: the TLBs are flushed
	 * once at the end of dup_mmap. */
	if (c.cow && spt->ops->protect(spt, src->vm_start, src->vm_end, 0, VM_PTE_RW))
		return -ENOMEM;
	return 0;
}

/* Linux: vm_area_dup() + anon_vma_fork() for the child's copy of pvma. */
static struct vm_vma *dup_vma(struct vm_kernel *k, struct vm_mm *mm, const struct vm_vma *pvma)
{
	struct vm_vma *v = vm_vma_new(k);

	if (!v)
		return NULL;
	*v = *pvma;
	memset(&v->node, 0, sizeof(v->node));
	v->mm = mm;
	v->vm_flags &= ~(VM_LOCKED | VM_LOCKONFAULT);     /* VM_LOCKED_MASK: locks are not inherited */
	if (v->vm_flags & VM_WIPEONFORK) {
		/* A clean slate: no anon_vma until the child's first fault. */
		v->anon = NULL;
		v->chain = NULL;
		v->nr_chain = 0;
	} else if (vm_anon_vma_fork(k, v, pvma)) {
		vm_host_free(k->host, v);
		return NULL;
	}
	if (v->vm_file)
		vm_file_get(v->vm_file);
	return v;
}

/* Linux: dup_mm() -> dup_mmap(): the child's address space, a copy of the
 * parent's layout and VMAs, VM_DONTCOPY ones left out.  Accounting starts
 * afresh (the peaks are the child's own: measured, a child's VmHWM and
 * VmPeak after fork are its VmRSS and VmSize). */
static int dup_mm(struct vm_kernel *k, struct vm_mm *old, struct vm_mm **out)
{
	struct vm_mm *mm;
	struct vm_vma *last = NULL;
	int err = vm_mm_alloc(k, &mm);

	if (err)
		return err;
	mm->task_size = old->task_size;
	mm->mmap_base = old->mmap_base;
	mm->mmap_legacy_base = old->mmap_legacy_base;
	mm->start_code = old->start_code;
	mm->end_code = old->end_code;
	mm->start_data = old->start_data;
	mm->end_data = old->end_data;
	mm->start_brk = old->start_brk;
	mm->brk = old->brk;
	mm->start_stack = old->start_stack;
	for (struct vm_vma *pvma = vm_vma_first(old); pvma; pvma = vm_vma_next(pvma)) {
		if (pvma->vm_flags & VM_DONTCOPY)
			continue;
		if ((pvma->vm_flags & VM_ACCOUNT) && vm_enough_memory(k, vma_pages(pvma))) {
			err = -ENOMEM;
			break;
		}
		struct vm_vma *v = vm_vma_tree_prealloc(mm) ? NULL : dup_vma(k, mm, pvma);
		if (!v) {
			err = -ENOMEM;
			break;
		}
		vm_vma_link_after(mm, v, last);
		last = v;
		vm_stat_account(mm, v->vm_flags, (int64_t)vma_pages(v));
		if (!(v->vm_flags & VM_WIPEONFORK)) {
			err = copy_page_range(k, v, pvma);
			if (err)
				break;
		}
	}
	/* The parent's entries lost RW: no CPU may keep a writable TLB entry
	 * for them (Linux: flush_tlb_mm(oldmm) at the end of dup_mmap). */
	vm_flush_tlb_mm(k, old, k->cur_cpu);
	if (err) {
		vm_mm_put(k, mm);
		return err;
	}
	*out = mm;
	return 0;
}

/* Linux: dup_fd() — the child's descriptors refer to the same files. */
static void dup_fds(struct vm_proc *child, const struct vm_proc *parent)
{
	for (int fd = 0; fd < VM_NOFILE; fd++) {
		child->fds[fd] = parent->fds[fd];
		if (child->fds[fd].file)
			vm_file_get(child->fds[fd].file);
	}
}

long vm_sys_clone(struct vm_kernel *k, struct vm_proc *parent, unsigned flags, const char *name,
		  struct vm_proc **out)
{
	struct vm_proc *child;
	struct vm_mm *mm = NULL;
	int saved;
	long ret = vm_sys_enter(k, parent, &saved);

	if (out)
		*out = NULL;
	if (ret)
		return ret;
	if ((flags & ~(VM_CLONE_VM | VM_CLONE_VFORK | VM_CLONE_THREAD)) ||
	    ((flags & VM_CLONE_THREAD) && !(flags & VM_CLONE_VM)))
		return vm_sys_leave(k, saved, -EINVAL, "clone");
	if (flags & VM_CLONE_VM) {
		mm = parent->mm;                     /* copy_mm(): mmget */
		mm->users++;
	} else {
		ret = dup_mm(k, parent->mm, &mm);
		if (ret)
			return vm_sys_leave(k, saved, ret, "clone");
	}
	ret = vm_proc_alloc(k, name, &child);
	if (ret) {
		vm_mm_put(k, mm);
		return vm_sys_leave(k, saved, ret, "clone");
	}
	child->mm = mm;
	child->ppid = parent->pid;
	if (flags & VM_CLONE_THREAD) {
		child->tgid = parent->tgid;
		child->ppid = parent->ppid;          /* CLONE_THREAD: the same real parent */
	}
	dup_fds(child, parent);
	if (flags & VM_CLONE_VFORK) {
		child->cpu = parent->cpu;            /* the parent sleeps: its CPU is free */
		parent->vfork_child = child->pid;
	}
	k->stats->forks++;
	if (out)
		*out = child;
	return vm_sys_leave(k, saved, child->pid, "clone");
}

/* wait(2)'s status word: WIFEXITED with the code, or WIFSIGNALED. */
static int wait_status(const struct vm_proc *c)
{
	return c->state == VM_PROC_KILLED ? c->sig.signo & 0x7f : (c->exit_code & 0xff) << 8;
}

long vm_sys_wait(struct vm_kernel *k, struct vm_proc *p, int pid, int *status)
{
	int saved;
	long ret = vm_sys_enter(k, p, &saved);
	bool any_child = false;

	if (ret)
		return ret;
	for (unsigned i = 0; i < k->procs_cap; i++) {
		struct vm_proc *c = k->procs[i];
		/* Threads are nobody's children (their parent is the group's). */
		if (!c || c == p || c->ppid != p->pid || c->tgid != c->pid ||
		    (pid > 0 && c->pid != pid))
			continue;
		any_child = true;
		if (c->state == VM_PROC_RUNNING)
			continue;
		if (status)
			*status = wait_status(c);
		ret = c->pid;
		vm_proc_reap(k, c);                  /* release_task() */
		return vm_sys_leave(k, saved, ret, "wait4");
	}
	return vm_sys_leave(k, saved, any_child ? 0 : -ECHILD, "wait4");
}
