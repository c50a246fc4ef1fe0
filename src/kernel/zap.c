/*
 * Unmapping the pages of a range (Linux mm/memory.c zap_page_range_single,
 * unmap_page_range -> zap_pte_range / zap_huge_pmd, then tlb_finish_mmu).
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/fault.h"
#include "kernel/rmap.h"

struct zap_ctx {
	struct vm_kernel *k;
	struct vm_vma *vma;
	uint64_t pages;          /* 4 KiB pages unmapped */
	bool small, huge;        /* 4 KiB / 2 MiB leaves seen: the flush stride */
};

static int zap_leaf(void *arg, const struct vm_pt_leaf *leaf)
{
	struct zap_ctx *z = arg;

	z->pages += vm_rmap_zap_leaf(z->k, z->vma, leaf);
	if (leaf->size == VM_PSIZE_4K)
		z->small = true;
	else
		z->huge = true;
	return 0;
}

/* Linux: update_hiwater_rss() before an unmap lowers RSS. */
static void update_hiwater_rss(struct vm_mm *mm)
{
	uint64_t rss = mm->rss[VM_RSS_FILE] + mm->rss[VM_RSS_ANON] + mm->rss[VM_RSS_SHMEM];

	if (rss > mm->hiwater_rss)
		mm->hiwater_rss = rss;
}

void vm_zap_range(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr start, vm_vaddr end)
{
	struct vm_mm *mm = vma->mm;
	struct vm_pt *pt = &mm->pt;

	start = VM_MAX(VM_ALIGN_DOWN(start, VM_PAGE_SIZE), vma->vm_start);
	end = VM_MIN(VM_ALIGN_UP(end, VM_PAGE_SIZE), vma->vm_end);
	if (start >= end)
		return;
	update_hiwater_rss(mm);

	struct zap_ctx z = { .k = k, .vma = vma };
	int err = pt->ops->unmap(pt, start, end, zap_leaf, &z);
	if (err == -ENOMEM) {
		/* A THP cut by the range needs a frame for its page table (Linux
		 * deposits one with every THP and never fails here).  Zap the
		 * whole 2 MiB inside first, which frees frames, then retry. */
		vm_vaddr lo = VM_ALIGN_UP(start, VM_PMD_SIZE), hi = VM_ALIGN_DOWN(end, VM_PMD_SIZE);
		if (lo < hi)
			pt->ops->unmap(pt, lo, hi, zap_leaf, &z);
		pt->ops->unmap(pt, start, end, zap_leaf, &z);
	}
	k->stats->pages_zapped += z.pages;
	/* Linux: tlb_finish_mmu() flushes only what was cleared, with the
	 * stride of the entries cleared (tlb_get_unmap_shift). */
	if (z.small)
		vm_flush_tlb_range(k, mm, start, end, k->cur_cpu);
	else if (z.huge)
		vm_flush_tlb_range_stride(k, mm, start, end, VM_PMD_SHIFT, k->cur_cpu);
}
