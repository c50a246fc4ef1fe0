/*
 * Unmapping the pages of a range (Linux mm/memory.c zap_page_range_single,
 * unmap_page_range -> zap_pte_range / zap_huge_pmd, then tlb_finish_mmu),
 * and the pages of a file wherever they are mapped (unmap_mapping_range).
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/fault.h"
#include "kernel/rmap.h"
#include "kernel/swap.h"
#include "kernel/vfs.h"

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
	vm_swap_zap(k, mm, start, end);      /* zap_nonpresent_ptes */
	/* Linux: tlb_finish_mmu() flushes only what was cleared, with the
	 * stride of the entries cleared (tlb_get_unmap_shift). */
	if (z.small)
		vm_flush_tlb_range(k, mm, start, end, k->cur_cpu);
	else if (z.huge)
		vm_flush_tlb_range_stride(k, mm, start, end, VM_PMD_SHIFT, k->cur_cpu);
}

/* The leaves of one page table that map page-cache pages of a file. */
struct file_leaves {
	struct vm_kernel *k;
	const struct vm_file *f;
	unsigned n;
	vm_vaddr va[512];
};

static int file_leaf(void *arg, const struct vm_pt_leaf *leaf)
{
	struct file_leaves *fl = arg;
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;

	if (leaf->size == VM_PSIZE_4K && pfn < fl->k->phys->nframes &&
	    fl->k->pages[pfn].owner_kind == VM_OWNER_FILE && fl->k->pages[pfn].owner == fl->f)
		fl->va[fl->n++] = leaf->va;
	return 0;
}

/* Linux: zap_page_range_single() with zap_details.even_cows false — only
 * the entries that map f's cached pages go; a private copy stays. */
static void zap_file_pages(void *arg, struct vm_vma *vma, vm_vaddr start, vm_vaddr end)
{
	struct vm_kernel *k = arg;
	struct vm_pt *pt = &vma->mm->pt;
	struct file_leaves fl = { .k = k, .f = vma->vm_file };
	struct zap_ctx z = { .k = k, .vma = vma };

	update_hiwater_rss(vma->mm);
	for (vm_vaddr lo = start; lo < end;) {
		vm_vaddr hi = VM_MIN(VM_ALIGN_DOWN(lo, VM_PMD_SIZE) + VM_PMD_SIZE, end);
		fl.n = 0;
		pt->ops->for_each(pt, lo, hi, file_leaf, &fl);
		for (unsigned i = 0; i < fl.n; i++)
			pt->ops->unmap(pt, fl.va[i], fl.va[i] + VM_PAGE_SIZE, zap_leaf, &z);
		lo = hi;
	}
	k->stats->pages_zapped += z.pages;
	if (z.pages)
		vm_flush_tlb_range(k, vma->mm, start, end, k->cur_cpu);
}

/* procs[i] is the first process using its mm (threads share one). */
static bool first_user(const struct vm_kernel *k, unsigned i)
{
	const struct vm_mm *mm = k->procs[i] ? k->procs[i]->mm : NULL;

	if (!mm)
		return false;
	for (unsigned j = 0; j < i; j++)
		if (k->procs[j] && k->procs[j]->mm == mm)
			return false;
	return true;
}

void vm_file_for_each_vma(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last,
			  void (*fn)(void *ctx, struct vm_vma *vma, vm_vaddr start, vm_vaddr end),
			  void *ctx)
{
	if (first > last)
		return;
	/* Linux walks the file's i_mmap tree; the model visits every VMA. */
	for (unsigned i = 0; i < k->procs_cap; i++) {
		if (!first_user(k, i))
			continue;
		for (struct vm_vma *v = vm_vma_first(k->procs[i]->mm); v; v = vm_vma_next(v)) {
			uint64_t lo = v->vm_pgoff, hi = v->vm_pgoff + ((v->vm_end - v->vm_start) >> VM_PAGE_SHIFT);
			if (v->vm_file != f || last < lo || first >= hi)
				continue;
			vm_vaddr start = v->vm_start + ((VM_MAX(first, lo) - lo) << VM_PAGE_SHIFT);
			uint64_t stop = last < hi - 1 ? last + 1 : hi;
			fn(ctx, v, start, v->vm_start + ((stop - lo) << VM_PAGE_SHIFT));
		}
	}
}

void vm_file_unmap_range(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last)
{
	vm_file_for_each_vma(k, f, first, last, zap_file_pages, k);
}
