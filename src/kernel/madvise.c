/*
 * madvise and msync (Linux mm/madvise.c do_madvise, madvise_walk_vmas,
 * madvise_vma_behavior, madvise_update_vma, madvise_dontneed_free,
 * madvise_willneed, madvise_populate; mm/msync.c).
 *
 * The advice goes to each VMA of the range in turn; holes are skipped and
 * reported as -ENOMEM at the end (advice still applied around them); a range
 * that runs past the last VMA stops there with -ENOMEM.  Advice that changes
 * flags splits and merges VMAs through vm_vma_modify, like mprotect.
 *
 * What the model does not do (see docs/kernel.md): MADV_FREE marks pages
 * lazyfree but nothing reclaims them yet; COLD, PAGEOUT, COLLAPSE,
 * GUARD_* and the KSM and fork flags are accepted as Linux accepts them,
 * with no effect beyond the VMA flags.
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/fault.h"
#include "kernel/mm_internal.h"
#include "kernel/rmap.h"
#include "kernel/shmem_swap.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"

/* Advice values uapi.h does not name (include/uapi/asm-generic/mman-common.h). */
#define MADV_DONTNEED_LOCKED 24
#define MADV_COLLAPSE        25
#define MADV_GUARD_INSTALL   102
#define MADV_GUARD_REMOVE    103

/* Linux: madvise_behavior_valid() on a kernel with KSM and THP but
 * without CONFIG_MEMORY_FAILURE (MADV_HWPOISON, MADV_SOFT_OFFLINE). */
static bool behavior_valid(int advice)
{
	switch (advice) {
	case VM_MADV_DOFORK: case VM_MADV_DONTFORK: case VM_MADV_NORMAL:
	case VM_MADV_SEQUENTIAL: case VM_MADV_RANDOM: case VM_MADV_REMOVE:
	case VM_MADV_WILLNEED: case VM_MADV_DONTNEED: case MADV_DONTNEED_LOCKED:
	case VM_MADV_FREE: case VM_MADV_COLD: case VM_MADV_PAGEOUT:
	case VM_MADV_POPULATE_READ: case VM_MADV_POPULATE_WRITE:
	case VM_MADV_MERGEABLE: case VM_MADV_UNMERGEABLE:
	case VM_MADV_HUGEPAGE: case VM_MADV_NOHUGEPAGE: case MADV_COLLAPSE:
	case VM_MADV_DONTDUMP: case VM_MADV_DODUMP: case VM_MADV_WIPEONFORK:
	case VM_MADV_KEEPONFORK: case MADV_GUARD_INSTALL: case MADV_GUARD_REMOVE:
		return true;
	default:
		return false;
	}
}

struct madv {
	struct vm_kernel *k;
	struct vm_proc *p;
	int advice;
};

/* Pages of one page table, collected before their entries change (the
 * page-table walk must not see its own edits). */
struct lazyfree {
	struct vm_kernel *k;
	unsigned n;
	struct { vm_vaddr va; uint64_t size; } leaf[512];
};

/* Linux: madvise_free_pte_range() / madvise_free_huge_pmd() for one leaf:
 * a normal anonymous page this mapping alone holds loses its dirty flag
 * (folio_clear_dirty) and becomes lazyfree (folio_mark_lazyfree clears
 * SwapBacked: reclaim may drop it while it stays clean); its entry is
 * queued for pte_mkold + pte_mkclean if A or D is set.  The zero page and
 * pages shared with another mapping are left alone. */
static int lazyfree_leaf(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct lazyfree *l = ctx;
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;

	if (pfn == l->k->zero_pfn || pfn >= l->k->phys->nframes)
		return 0;
	struct vm_page *pg = &l->k->pages[pfn];
	if (pg->owner_kind != VM_OWNER_ANON || pg->mapcount != 1)
		return 0;
	vm_page_clear(pg, VM_PG_DIRTY);
	vm_page_clear(pg, VM_PG_SWAPBACKED);
	if (leaf->pte.v & (VM_PTE_A | VM_PTE_D)) {
		l->leaf[l->n].va = leaf->va;
		l->leaf[l->n].size = UINT64_C(1) << vm_psize_shift(leaf->size);
		l->n++;
	}
	return 0;
}

/* Linux: madvise_free_single_vma().  The pages stay mapped and keep their
 * bytes: a write before reclaim dirties the entry again and the page is
 * kept; only reclaim (not modelled yet) would drop a page still clean.
 * The entries made old and clean are flushed (tlb_remove_tlb_entry), so
 * the next access sets A (and D) again through a walk, without a fault. */
static void madvise_free(struct madv *a, struct vm_vma *vma, vm_vaddr start, vm_vaddr end)
{
	struct vm_pt *pt = &vma->mm->pt;
	struct lazyfree batch, *l = &batch;
	bool flush = false;

	/* A THP cut by the range is split first (split_folio), so that only
	 * the range becomes lazyfree. */
	if (start & (VM_PMD_SIZE - 1))
		vm_split_huge_pmd(a->k, vma, start);
	if (end & (VM_PMD_SIZE - 1))
		vm_split_huge_pmd(a->k, vma, end - 1);
	l->k = a->k;
	for (vm_vaddr lo = start; lo < end;) {
		vm_vaddr hi = VM_MIN(VM_ALIGN_DOWN(lo, VM_PMD_SIZE) + VM_PMD_SIZE, end);
		l->n = 0;
		pt->ops->for_each(pt, lo, hi, lazyfree_leaf, l);
		for (unsigned i = 0; i < l->n; i++)
			pt->ops->protect(pt, l->leaf[i].va, l->leaf[i].va + l->leaf[i].size, 0,
					 VM_PTE_A | VM_PTE_D);
		flush |= l->n > 0;
		lo = hi;
	}
	if (flush)
		vm_flush_tlb_range(a->k, vma->mm, start, end, a->k->cur_cpu);
}

/* Linux: madvise_dontneed_free(): DONTNEED zaps the pages (the VMA
 * stays), FREE makes them lazyfree. */
static long dontneed_free(struct madv *a, struct vm_vma *vma, vm_vaddr start, vm_vaddr end)
{
	uint64_t forbidden = VM_PFNMAP | (a->advice == MADV_DONTNEED_LOCKED ? 0 : VM_LOCKED);

	if (vma->vm_flags & forbidden)
		return -EINVAL;
	if (a->advice == VM_MADV_FREE && !vma_is_anonymous(vma))
		return -EINVAL;
	if (a->advice == VM_MADV_FREE)
		madvise_free(a, vma, start, end);
	else
		vm_zap_range(a->k, vma, start, end);
	return 0;
}

/* Linux: madvise_willneed() -> vfs_fadvise(POSIX_FADV_WILLNEED): read the
 * file's pages of the range into the page cache (up to the end of the
 * file).  shmem: its swapped pages read into the swap cache
 * (shmem_swapin_range), no new page; anonymous memory: swap-in too in
 * Linux (swapin_walk_pmd_entry), not modelled; nothing without swap. */
static long willneed(struct madv *a, struct vm_vma *vma, vm_vaddr start, vm_vaddr end)
{
	struct vm_file *f = vm_vma_is_shmem(vma) ? NULL : vma->vm_file;
	uint64_t first = vma->vm_pgoff + ((start - vma->vm_start) >> VM_PAGE_SHIFT);
	uint64_t last = first + ((end - start) >> VM_PAGE_SHIFT);
	uint64_t eof = f ? VM_ALIGN_UP(f->size, VM_PAGE_SIZE) >> VM_PAGE_SHIFT : 0;

	if (vm_vma_is_shmem(vma))
		vm_shmem_swapin_range(a->k, vma->vm_file, first, last - first);

	for (uint64_t idx = first; f && idx < last && idx < eof; idx++) {
		uint64_t pfn;
		bool major;
		if (vm_pagecache_get(a->k, f, idx, &pfn, &major))
			break;                     /* readahead is best effort */
		vm_page_put(a->k, pfn);
	}
	return 0;
}

/* Linux: madvise_remove() -> vfs_fallocate(PUNCH_HOLE): free the file's
 * pages behind a shared writable mapping (shmem_fallocate, ext4_punch_hole:
 * unmapped from every mapping, dropped from the cache; they read as
 * zeroes again). */
static long remove_range(struct madv *a, struct vm_vma *vma, vm_vaddr start, vm_vaddr end)
{
	if (vma->vm_flags & VM_LOCKED)
		return -EINVAL;
	if (!vma->vm_file)
		return -EINVAL;
	if ((vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) != (VM_SHARED | VM_MAYWRITE))
		return -EACCES;
	uint64_t first = vma->vm_pgoff + ((start - vma->vm_start) >> VM_PAGE_SHIFT);
	uint64_t last = first + ((end - start) >> VM_PAGE_SHIFT) - 1;
	vm_file_punch_hole(a->k, vma->vm_file, first, last);
	return 0;
}

/* Linux: thp_vma_allowable_order(..., TVA_FORCED_COLLAPSE, PMD_ORDER). */
static bool collapse_ok(const struct vm_vma *vma)
{
	vm_vaddr haddr;

	if (!vma_is_anonymous(vma) || vma->vm_end - vma->vm_start < VM_PMD_SIZE)
		return false;
	haddr = VM_ALIGN_DOWN(vma->vm_end - VM_PMD_SIZE, VM_PMD_SIZE);
	return haddr >= vma->vm_start;
}

/* The flags an advice gives a VMA, or a negative errno.  Linux: the flag
 * cases of madvise_vma_behavior(), hugepage_madvise(), ksm_madvise(). */
static long new_flags(const struct vm_vma *vma, int advice, uint64_t *flags)
{
	uint64_t f = vma->vm_flags;

	switch (advice) {
	case VM_MADV_NORMAL:
		f &= ~(VM_RAND_READ | VM_SEQ_READ);
		break;
	case VM_MADV_SEQUENTIAL:
		f = (f & ~VM_RAND_READ) | VM_SEQ_READ;
		break;
	case VM_MADV_RANDOM:
		f = (f & ~VM_SEQ_READ) | VM_RAND_READ;
		break;
	case VM_MADV_DONTFORK:
		f |= VM_DONTCOPY;
		break;
	case VM_MADV_DOFORK:
		if (f & VM_IO)
			return -EINVAL;
		f &= ~VM_DONTCOPY;
		break;
	case VM_MADV_WIPEONFORK:
		if (vma->vm_file || (f & VM_SHARED))
			return -EINVAL;
		f |= VM_WIPEONFORK;
		break;
	case VM_MADV_KEEPONFORK:
		f &= ~VM_WIPEONFORK;
		break;
	case VM_MADV_DONTDUMP:
		f |= VM_DONTDUMP;
		break;
	case VM_MADV_DODUMP:
		if (f & VM_SPECIAL)
			return -EINVAL;
		f &= ~VM_DONTDUMP;
		break;
	case VM_MADV_MERGEABLE:
		/* vma_ksm_compatible(): shared and special mappings ignore it. */
		if (!(f & (VM_SHARED | VM_MAYSHARE | VM_SPECIAL | VM_HUGETLB)))
			f |= VM_MERGEABLE;
		break;
	case VM_MADV_UNMERGEABLE:
		f &= ~VM_MERGEABLE;
		break;
	case VM_MADV_HUGEPAGE:
		f = (f & ~VM_NOHUGEPAGE) | VM_HUGEPAGE;
		break;
	case VM_MADV_NOHUGEPAGE:
		f = (f & ~VM_HUGEPAGE) | VM_NOHUGEPAGE;
		break;
	}
	*flags = f;
	return 0;
}

/* Linux: madvise_vma_behavior() for [start, end) inside vma; *prev is
 * the VMA covering the range afterwards (the walk continues from its end). */
static long vma_behavior(struct madv *a, struct vm_vma *vma, struct vm_vma **prev,
			 vm_vaddr start, vm_vaddr end)
{
	uint64_t flags;
	long err;

	*prev = vma;
	switch (a->advice) {
	case VM_MADV_REMOVE:
		return remove_range(a, vma, start, end);
	case VM_MADV_WILLNEED:
		return willneed(a, vma, start, end);
	case VM_MADV_COLD:
	case VM_MADV_PAGEOUT:
		/* can_madv_lru_vma(); no LRU lists to move pages on yet. */
		return (vma->vm_flags & (VM_LOCKED | VM_PFNMAP | VM_HUGETLB)) ? -EINVAL : 0;
	case VM_MADV_FREE:
	case VM_MADV_DONTNEED:
	case MADV_DONTNEED_LOCKED:
		return dontneed_free(a, vma, start, end);
	case MADV_COLLAPSE:
		return collapse_ok(vma) ? 0 : -EINVAL;
	case MADV_GUARD_INSTALL:
		if (vma->vm_flags & (VM_SPECIAL | VM_HUGETLB | VM_LOCKED))
			return -EINVAL;
		vm_zap_range(a->k, vma, start, end);   /* guard markers are not modelled */
		return 0;
	case MADV_GUARD_REMOVE:
		return (vma->vm_flags & (VM_SPECIAL | VM_HUGETLB)) ? -EINVAL : 0;
	}
	err = new_flags(vma, a->advice, &flags);
	if (!err && flags != vma->vm_flags) {
		/* madvise_update_vma() */
		struct vm_vma *v = vm_vma_modify(a->k, vma, start, end, flags, &err);
		if (v) {
			v->vm_flags = flags;
			*prev = v;
		}
	}
	return err == -ENOMEM ? -EAGAIN : err;   /* kernel resources: try again */
}

/* Linux: madvise_populate() over the whole range, VMA by VMA. */
static long populate(struct madv *a, vm_vaddr start, vm_vaddr end)
{
	bool write = a->advice == VM_MADV_POPULATE_WRITE;

	while (start < end) {
		struct vm_vma *vma = vm_vma_lookup(a->p->mm, start);
		if (!vma)
			return -ENOMEM;
		if (!(vma->vm_flags & (write ? VM_WRITE : VM_READ)) || (vma->vm_flags & (VM_IO | VM_PFNMAP)))
			return -EINVAL;
		vm_vaddr stop = VM_MIN(end, vma->vm_end);
		int err = vm_populate(a->k, a->p, start, stop, write);
		if (err)
			return err == -ENOMEM ? -ENOMEM : -EFAULT;
		start = stop;
	}
	return 0;
}

/* Linux: madvise_walk_vmas(). */
static long walk_vmas(struct madv *a, vm_vaddr start, vm_vaddr end)
{
	struct vm_mm *mm = a->p->mm;
	struct vm_vma *prev, *vma = vm_find_vma(mm, start);
	long unmapped_error = 0;

	for (;;) {
		if (!vma)
			return -ENOMEM;
		if (start < vma->vm_start) {
			unmapped_error = -ENOMEM;
			start = vma->vm_start;
			if (start >= end)
				break;
		}
		vm_vaddr tmp = VM_MIN(vma->vm_end, end);
		long err = vma_behavior(a, vma, &prev, start, tmp);
		if (err)
			return err;
		start = VM_MAX(tmp, prev->vm_end);
		if (start >= end)
			break;
		vma = vm_find_vma(mm, prev->vm_end);
	}
	return unmapped_error;
}

long vm_sys_madvise(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len, int advice)
{
	struct madv a = { .k = k, .p = p, .advice = advice };
	uint64_t alen = VM_ALIGN_UP(len, VM_PAGE_SIZE);
	int saved;
	long ret = vm_sys_enter(k, p, &saved);

	if (ret)
		return ret;
	/* is_valid_madvise(), then an empty range does nothing. */
	if (!behavior_valid(advice) || (addr & (VM_PAGE_SIZE - 1)) || (len && !alen) ||
	    addr + alen < addr)
		ret = -EINVAL;
	else if (!alen)
		ret = 0;
	else if (advice == VM_MADV_POPULATE_READ || advice == VM_MADV_POPULATE_WRITE)
		ret = populate(&a, addr, addr + alen);
	else
		ret = walk_vmas(&a, addr, addr + alen);
	return vm_sys_leave(k, saved, ret, "madvise");
}

/* Linux: SYSCALL_DEFINE3(msync).  MS_SYNC writes back the dirty pages of
 * each shared file mapping's part of the range (vfs_fsync_range over its
 * file offsets: writeback.c); MS_ASYNC does nothing since Linux 2.6.19
 * (dirty pages are tracked and written back by the kernel anyway), and
 * MS_INVALIDATE only refuses locked memory. */
long vm_sys_msync(struct vm_kernel *k, struct vm_proc *p, vm_vaddr start, uint64_t len, int flags)
{
	int saved;
	long ret = vm_sys_enter(k, p, &saved), unmapped_error = 0;
	vm_vaddr end;
	struct vm_vma *vma;

	if (ret)
		return ret;
	if ((flags & ~(VM_MS_ASYNC | VM_MS_INVALIDATE | VM_MS_SYNC)) ||
	    (start & (VM_PAGE_SIZE - 1)) || ((flags & VM_MS_ASYNC) && (flags & VM_MS_SYNC)))
		return vm_sys_leave(k, saved, -EINVAL, "msync");
	len = (len + VM_PAGE_SIZE - 1) & ~(VM_PAGE_SIZE - 1);
	end = start + len;
	if (end < start)
		return vm_sys_leave(k, saved, -ENOMEM, "msync");
	if (end == start)
		return vm_sys_leave(k, saved, 0, "msync");
	vma = vm_find_vma(p->mm, start);
	for (;;) {
		ret = -ENOMEM;
		if (!vma)
			break;
		if (start < vma->vm_start) {
			if (flags == VM_MS_ASYNC)
				break;
			start = vma->vm_start;
			if (start >= end)
				break;
			unmapped_error = -ENOMEM;
		}
		if ((flags & VM_MS_INVALIDATE) && (vma->vm_flags & VM_LOCKED)) {
			ret = -EBUSY;
			break;
		}
		if ((flags & VM_MS_SYNC) && vma->vm_file && (vma->vm_flags & VM_SHARED)) {
			uint64_t first = vma->vm_pgoff + ((start - vma->vm_start) >> VM_PAGE_SHIFT);
			uint64_t pages = (VM_MIN(end, vma->vm_end) - start) >> VM_PAGE_SHIFT;
			vm_file_writeback(k, vma->vm_file, first, first + pages - 1);
		}
		start = vma->vm_end;
		if (start >= end) {
			ret = 0;
			break;
		}
		vma = vm_vma_next(vma);
	}
	return vm_sys_leave(k, saved, ret ? ret : unmapped_error, "msync");
}
