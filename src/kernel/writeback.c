/*
 * Dirty page-cache pages and their way back to the file (Linux
 * mm/page-writeback.c folio_mark_dirty, folio_clear_dirty_for_io,
 * write_cache_pages; mm/rmap.c page_mkclean).
 *
 * A shared mapping of a file with writeback maps its pages read-only
 * (vma_wants_writenotify), so the first write to each faults and dirties
 * the page (vm_page_mark_dirty).  Writing back makes the mappings' entries
 * clean and read-only again, so that the next write faults and dirties the
 * page anew, then copies each dirty page into the file's overlay: the host
 * file is never written.  shmem has no writeback.
 */
#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "kernel/fault.h"
#include "kernel/vfs.h"

void vm_page_mark_dirty(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_page *pg = &k->pages[pfn];

	if (vm_page_test(pg, VM_PG_DIRTY))
		return;
	vm_page_set(pg, VM_PG_DIRTY);
	/* folio_account_dirtied(): only mappings that write back count. */
	if (pg->owner_kind == VM_OWNER_FILE && !((struct vm_file *)pg->owner)->shmem)
		k->stats->nr_dirtied++;
}

/* The entries of one VMA over pages of f, collected per page table before
 * they change. */
struct mkclean {
	struct vm_kernel *k;
	const struct vm_file *f;
	unsigned n;
	vm_vaddr va[512];
};

static int mkclean_leaf(void *arg, const struct vm_pt_leaf *leaf)
{
	struct mkclean *mc = arg;
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;

	if (leaf->size != VM_PSIZE_4K || pfn >= mc->k->phys->nframes)
		return 0;
	struct vm_page *pg = &mc->k->pages[pfn];
	if (pg->owner_kind != VM_OWNER_FILE || pg->owner != mc->f)
		return 0;
	if (pte_dirty(leaf->pte))
		vm_page_mark_dirty(mc->k, pfn);     /* the hardware's D, into the page */
	if (leaf->pte.v & (VM_PTE_RW | VM_PTE_D))
		mc->va[mc->n++] = leaf->va;
	return 0;
}

/* Linux: page_mkclean_one() over [start, end) of a shared VMA of f:
 * write-protect and clean, then flush what changed. */
static void mkclean_vma(void *arg, struct vm_vma *vma, vm_vaddr start, vm_vaddr end)
{
	struct vm_kernel *k = arg;
	struct vm_pt *pt = &vma->mm->pt;
	struct mkclean mc = { .k = k, .f = vma->vm_file };
	bool flush = false;

	if (!(vma->vm_flags & VM_SHARED))
		return;                 /* invalid_mkclean_vma(): private mappings never write */
	for (vm_vaddr lo = start; lo < end;) {
		vm_vaddr hi = VM_MIN(VM_ALIGN_DOWN(lo, VM_PMD_SIZE) + VM_PMD_SIZE, end);
		mc.n = 0;
		pt->ops->for_each(pt, lo, hi, mkclean_leaf, &mc);
		for (unsigned i = 0; i < mc.n; i++)
			pt->ops->protect(pt, mc.va[i], mc.va[i] + VM_PAGE_SIZE, 0, VM_PTE_RW | VM_PTE_D);
		flush |= mc.n > 0;
		lo = hi;
	}
	if (flush)
		vm_flush_tlb_range(k, vma->mm, start, end, k->cur_cpu);
}

/* The page's bytes into the overlay (writepage): a host buffer of its own
 * in data mode, 0 (no bytes) in meta mode.  -ENOMEM leaves the page dirty. */
static int write_page(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t pfn)
{
	uint64_t old = 0;
	void *buf = NULL;

	if (k->phys->data) {
		if (!vm_u64map_get(&f->written, index, &old) || !old)
			old = (uint64_t)(uintptr_t)(buf = vm_host_calloc(k->host, 1, VM_PAGE_SIZE));
		if (!old)
			return -ENOMEM;
		vm_phys_read(k->phys, (vm_paddr){ pfn << VM_PAGE_SHIFT }, (void *)(uintptr_t)old,
			     VM_PAGE_SIZE);
	}
	if (vm_u64map_put(&f->written, index, old)) {
		vm_host_free(k->host, buf);
		return -ENOMEM;
	}
	return 0;
}

uint64_t vm_file_writeback(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last)
{
	uint64_t pos = 0, index, pfn, written = 0;

	if (!f || f->shmem || first > last)
		return 0;
	vm_file_for_each_vma(k, f, first, last, mkclean_vma, k);
	while (vm_u64map_next(&f->cache, &pos, &index, &pfn)) {
		struct vm_page *pg = &k->pages[pfn];
		if (index < first || index > last || !vm_page_test(pg, VM_PG_DIRTY))
			continue;
		if (!f->overlay || write_page(k, f, index, pfn))
			continue;       /* nothing to write to, or no memory: stays dirty */
		vm_page_clear(pg, VM_PG_DIRTY);
		written++;
	}
	k->stats->nr_written += written;
	return written;
}
