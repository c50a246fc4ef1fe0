/*
 * Reclaim of an anonymous THP (Linux mm/vmscan.c shrink_folio_list for a
 * large anonymous folio, with mm/huge_memory.c split_folio_to_list and
 * mm/migrate.c try_to_map_unused_to_zeropage).
 *
 * The model is a kernel without CONFIG_THP_SWAP: folio_alloc_swap()
 * refuses a large folio (-EAGAIN, "the caller should split the folio and
 * try again"), so shrink_folio_list splits it with split_folio_to_list()
 * and counts thp_swpout_fallback (counted under CONFIG_TRANSPARENT_HUGEPAGE
 * whatever THP_SWAP is, for a PMD-sized folio), then swaps the pages out
 * one by one in the same pass: the tails join the list being shrunk.
 * Whole-THP swap-out (thp_swpout, a 2 MiB swap cluster) is not modelled.
 *
 * The split unmaps the folio (its PMD becomes 512 migration entries:
 * __split_huge_pmd_locked counts thp_split_pmd) and maps the pieces back
 * with PTEs (remap_page with RMP_USE_SHARED_ZEROPAGE, Linux 6.12 and
 * later): a piece whose bytes are all zero is mapped to the shared zero
 * page instead and freed at once, never written to swap.  In meta mode
 * frames hold no bytes, so every piece counts as used.
 */
#include <string.h>

#include "base/compiler.h"
#include "kernel/mm_internal.h"
#include "kernel/reclaim.h"
#include "kernel/rmap.h"
#include "kernel/swap.h"

#define THP_PAGES (UINT64_C(1) << VM_THP_ORDER)

struct thp_map {
	struct vm_vma *vma;     /* the VMA whose PMD maps the THP */
	vm_vaddr va;            /* 2 MiB aligned */
	unsigned pmds;
};

static void find_pmd(struct vm_kernel *k, void *ctx, struct vm_vma *vma,
		     const struct vm_pt_leaf *leaf)
{
	struct thp_map *m = ctx;

	(void)k;
	if (leaf->size != VM_PSIZE_2M || m->pmds++)
		return;
	m->vma = vma;
	m->va = leaf->va;
}

static bool frame_is_zero(const struct vm_kernel *k, uint64_t pfn)
{
	static const unsigned char zero[VM_PAGE_SIZE];
	unsigned char buf[VM_PAGE_SIZE];

	if (!k->phys->data ||
	    vm_phys_read(k->phys, (vm_paddr){ pfn << VM_PAGE_SHIFT }, buf, sizeof(buf)))
		return false;
	return memcmp(buf, zero, sizeof(buf)) == 0;
}

/* Linux: try_to_map_unused_to_zeropage() — the piece at va (a PTE now)
 * holds only zeroes: the special zero-page PTE replaces it (read-only, as
 * do_anonymous_page maps it), MM_ANONPAGES drops, and the piece, mapped
 * nowhere, is freed.  Not for mlocked memory (VM_LOCKED).  Returns true
 * when the piece went. */
static bool map_unused_to_zeropage(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr va,
				   uint64_t pfn)
{
	struct vm_pt *pt = &vma->mm->pt;
	struct vm_page *pg = &k->pages[pfn];
	uint64_t prot = VM_PTE_US | VM_PTE_A | VM_PTE_SOFTW1;

	if ((vma->vm_flags & VM_LOCKED) || !(vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) ||
	    pg->mapcount != 1 || pg->refcount != 1 || !frame_is_zero(k, pfn))
		return false;
	if (!(vma->vm_flags & VM_EXEC) && vm_kernel_nxe(k))
		prot |= VM_PTE_NX;
	pt->ops->unmap(pt, va, va + VM_PAGE_SIZE, NULL, NULL);
	vm_flush_tlb_range(k, vma->mm, va, va + VM_PAGE_SIZE, k->cur_cpu);
	if (pt->ops->map(pt, va, k->zero_pfn, VM_PSIZE_4K, prot))
		return false;   /* the table is there: cannot fail; then the piece is unmapped */
	pg->mapcount = 0;
	vma->mm->rss[VM_RSS_ANON]--;
	vm_page_put(k, pfn);
	return true;
}

bool vm_reclaim_thp(struct vm_kernel *k, uint64_t head, struct vm_scan_control *sc)
{
	struct vm_page *pg = &k->pages[head];
	struct thp_map m = { 0 };

	if (!k->swap || !vm_page_test(pg, VM_PG_HEAD) || pg->order != VM_THP_ORDER)
		return false;
	/* can_split_folio(): nothing but its mappings holds it (the model
	 * maps a THP with one PMD: fork splits it). */
	if (vm_rmap_walk(k, head, find_pmd, &m) != (unsigned)pg->mapcount || m.pmds != 1 ||
	    pg->refcount != (uint32_t)pg->mapcount)
		return false;
	if (vm_split_huge_pmd(k, m.vma, m.va) || vm_page_test(pg, VM_PG_HEAD)) {
		k->stats->thp_split_page_failed++;
		return false;
	}
	k->stats->thp_split_page++;
	k->stats->thp_swpout_fallback++;
	/* remap_page(RMP_USE_SHARED_ZEROPAGE), for the tails.  The head is
	 * the folio shrink_folio_list goes on with: it allocates its slot
	 * and writes it whatever its bytes (Linux maps a zero head to the
	 * zero page too and still writes it; the model keeps it mapped and
	 * swaps it out as any other page). */
	for (uint64_t i = 1; i < THP_PAGES; i++)
		if (map_unused_to_zeropage(k, m.vma, m.va + (i << VM_PAGE_SHIFT), head + i))
			sc->freed++;
	/* The pieces, head first, through shrink_folio_list as order-0
	 * anonymous pages: a slot each, unmapped, written (pswpout). */
	for (uint64_t i = 0; i < THP_PAGES; i++) {
		uint64_t pfn = head + i;
		if (!k->pages[pfn].refcount)
			continue;             /* the zero page maps it now */
		vm_lru_del(k, pfn);
		if (vm_swap_out(k, pfn) == 0) {
			sc->reclaimed++;
			sc->freed++;
		} else {
			k->stats->lru_putback++;     /* activate_locked_split */
			vm_lru_add(k, pfn);
		}
	}
	return true;
}
