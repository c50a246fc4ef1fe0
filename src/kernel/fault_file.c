/*
 * Faults on file mappings (Linux mm/memory.c do_fault -> do_read_fault with
 * do_fault_around / filemap_map_pages, do_cow_fault, do_shared_fault; the
 * page comes from the page cache, filemap_fault or shmem_fault).
 *
 * Shared mappings of host files are modelled as on a filesystem that
 * tracks dirty pages (ext4 and most others: vma_wants_writenotify): a read
 * fault maps the page read-only, and the first write faults again
 * (do_wp_page -> wp_page_shared) to make it writable and dirty.  shmem
 * (shared anonymous memory, tmpfs) does not: its shared writable mappings
 * map pages writable from the first fault, fault-around included.
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/fault_internal.h"
#include "kernel/rmap.h"
#include "kernel/vfs.h"

#define PTRS_PER_PTE 512u

static unsigned cache_error(int err)
{
	return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
}

/* Linux: vma->vm_page_prot of a file VMA allows writing only in a shared
 * writable mapping that needs no write notification (shmem); private
 * mappings copy on write, tracked ones fault to dirty the page. */
static bool maps_writable(const struct vm_vma *vma)
{
	return (vma->vm_flags & VM_SHARED) && !vm_vma_tracks_dirty(vma);
}

/* Which pages of the window already have a present leaf. */
struct present_map {
	vm_vaddr base;                   /* first page of the window */
	uint64_t bits[PTRS_PER_PTE / 64];
};

static int mark_present(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct present_map *pm = ctx;
	uint64_t i = (leaf->va - pm->base) >> VM_PAGE_SHIFT;

	if (leaf->va >= pm->base && i < PTRS_PER_PTE)
		pm->bits[i / 64] |= UINT64_C(1) << (i % 64);
	return 0;
}

/* Linux: filemap_map_pages() — map the pages of [start_pgoff, end_pgoff]
 * that are cached and not mapped yet, read-only and young (x86 does not
 * want old prefaulted PTEs).  Returns true when the faulting page itself
 * was mapped (VM_FAULT_NOPAGE: no ->fault needed). */
static bool filemap_map_pages(struct vm_fault *vmf, uint64_t start_pgoff, uint64_t end_pgoff)
{
	struct vm_kernel *k = vmf->k;
	struct vm_vma *vma = vmf->vma;
	struct vm_file *f = vma->vm_file;
	struct vm_pt *pt = &vmf->mm->pt;
	uint64_t last = vm_file_pages(f);

	if (!last)
		return false;
	end_pgoff = VM_MIN(end_pgoff, last - 1);    /* nothing past the end of the file */
	if (start_pgoff > end_pgoff)
		return false;
	vm_vaddr base = vma->vm_start + ((start_pgoff - vma->vm_pgoff) << VM_PAGE_SHIFT);
	struct present_map pm = { .base = base };
	uint64_t n = end_pgoff - start_pgoff + 1;
	pt->ops->for_each(pt, base, base + (n << VM_PAGE_SHIFT), mark_present, &pm);

	uint64_t prot = vm_fault_prot(vmf, maps_writable(vma), false);
	bool mapped_fault_page = false, first = true;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t pfn;
		vm_vaddr va = base + (i << VM_PAGE_SHIFT);
		if (pm.bits[i / 64] >> (i % 64) & 1)
			continue;
		int err = vm_pagecache_get_cached(k, f, start_pgoff + i, &pfn);
		if (err == -ENOENT)
			continue;
		if (err)
			break;
		/* Linux 6.18 ("do not populate page table entries beyond
		 * i_size"): when the first folio found reaches the end of the
		 * file, filemap_map_pmd() is not called (no PMD mapping across
		 * i_size), so an empty PMD gets no page table, and the PTE
		 * lookup that follows finds none: nothing is mapped.  shmem is
		 * exempt.  Measured: a fault or populate past the end of the
		 * file maps nothing when the window's first cached page is the
		 * last one and no page table is there yet, and maps it when a
		 * table is (tests/linux/cases/populate-eof.case). */
		if (first && start_pgoff + i == last - 1 && !f->shmem && vm_fault_pmd_none(vmf)) {
			vm_page_put(k, pfn);
			break;
		}
		first = false;
		if (pt->ops->map(pt, va, pfn, VM_PSIZE_4K, prot)) {
			vm_page_put(k, pfn);
			break;
		}
		vm_rmap_add_file(k, vma, pfn);
		if (va == vmf->address)
			mapped_fault_page = true;
		else
			k->stats->fault_around++;
	}
	return mapped_fault_page;
}

/* Linux: do_fault_around() — the window of fault_around_pages PTEs
 * aligned down to its size, but starting no lower than the VMA, running
 * fault_around_pages from there, and clipped to the VMA and to the one
 * page table (PMD) holding the faulting PTE. */
static bool do_fault_around(struct vm_fault *vmf)
{
	uint64_t nr = vmf->k->cfg.fault_around_pages;
	uint64_t pte_off = (vmf->address >> VM_PAGE_SHIFT) & (PTRS_PER_PTE - 1);
	uint64_t vma_off = vmf->pgoff - vmf->vma->vm_pgoff;
	uint64_t vma_pages = (vmf->vma->vm_end - vmf->vma->vm_start) >> VM_PAGE_SHIFT;

	uint64_t from_pte = VM_MAX(VM_ALIGN_DOWN(pte_off, nr), pte_off - VM_MIN(pte_off, vma_off));
	uint64_t to_pte = VM_MIN(VM_MIN(from_pte + nr, (uint64_t)PTRS_PER_PTE),
				 pte_off + vma_pages - vma_off) - 1;
	return filemap_map_pages(vmf, vmf->pgoff + from_pte - pte_off, vmf->pgoff + to_pte - pte_off);
}

/* Linux: do_read_fault() — fault-around first; the faulting page from the
 * page cache (filemap_fault: a read and VM_FAULT_MAJOR if not cached)
 * when fault-around did not map it. */
static unsigned do_read_fault(struct vm_fault *vmf)
{
	struct vm_kernel *k = vmf->k;
	uint64_t pfn;
	bool major;

	if (k->cfg.fault_around_pages > 1 && do_fault_around(vmf)) {
		k->stats->flt_file++;
		return 0;
	}
	int err = vm_pagecache_get(k, vmf->vma->vm_file, vmf->pgoff, &pfn, &major);
	if (err)
		return cache_error(err);
	unsigned ret = vm_fault_map(vmf, pfn, vm_fault_prot(vmf, maps_writable(vmf->vma), false));
	if (ret) {
		vm_page_put(k, pfn);
		return ret;
	}
	vm_rmap_add_file(k, vmf->vma, pfn);
	k->stats->flt_file++;
	return major ? VM_FAULT_MAJOR : 0;
}

/* Linux: do_cow_fault() — a write to a private file mapping: a new
 * anonymous page with a copy of the cached one, mapped writable and dirty;
 * the page-cache page is not mapped. */
static unsigned do_cow_fault(struct vm_fault *vmf)
{
	struct vm_kernel *k = vmf->k;
	uint64_t pfn, src;
	bool major;

	if (vm_page_alloc(k, 0, &pfn))
		return VM_FAULT_OOM;
	int err = vm_pagecache_get(k, vmf->vma->vm_file, vmf->pgoff, &src, &major);
	if (err) {
		vm_page_put(k, pfn);
		return cache_error(err);
	}
	if (k->phys->data)
		vm_phys_copy_frame(k->phys, pfn, src);
	vm_page_put(k, src);
	unsigned ret = vm_fault_map_anon(vmf, pfn, vm_fault_prot(vmf, true, true));
	if (ret)
		return ret;
	k->stats->flt_cow++;
	return major ? VM_FAULT_MAJOR : 0;
}

/* Linux: do_shared_fault() — the cached page itself, mapped writable and
 * dirty (page_mkwrite has nothing to wait for: writeback completes at
 * once), the page marked dirty (fault_dirty_shared_page). */
static unsigned do_shared_fault(struct vm_fault *vmf)
{
	struct vm_kernel *k = vmf->k;
	uint64_t pfn;
	bool major;

	int err = vm_pagecache_get(k, vmf->vma->vm_file, vmf->pgoff, &pfn, &major);
	if (err)
		return cache_error(err);
	unsigned ret = vm_fault_map(vmf, pfn, vm_fault_prot(vmf, true, true));
	if (ret) {
		vm_page_put(k, pfn);
		return ret;
	}
	vm_rmap_add_file(k, vmf->vma, pfn);
	vm_page_mark_dirty(k, pfn);
	k->stats->flt_file++;
	return major ? VM_FAULT_MAJOR : 0;
}

unsigned vm_do_fault(struct vm_fault *vmf)
{
	if (!fault_write(vmf))
		return do_read_fault(vmf);
	if (vmf->pgoff >= vm_file_pages(vmf->vma->vm_file))
		return VM_FAULT_SIGBUS;     /* filemap_fault: beyond i_size */
	if (!(vmf->vma->vm_flags & VM_SHARED))
		return do_cow_fault(vmf);
	return do_shared_fault(vmf);
}
