/*
 * Mapping counts, RSS and THP splitting.  Contract in rmap.h; the counting
 * rules are those at the top of kernel.h.
 */
#include "kernel/rmap.h"

#include <errno.h>

#include "base/compiler.h"
#include "kernel/mm_internal.h"
#include "kernel/reclaim.h"

#define THP_ORDER 9
#define THP_PAGES (UINT64_C(1) << THP_ORDER)

enum vm_rss vm_rss_kind(const struct vm_vma *vma, const struct vm_page *pg)
{
	/* VM_OWNER_NONE in a file VMA: a cache page whose file is gone. */
	if (pg->owner_kind == VM_OWNER_FILE || (pg->owner_kind == VM_OWNER_NONE && vma->vm_file))
		return vm_page_test(pg, VM_PG_SWAPBACKED) ? VM_RSS_SHMEM : VM_RSS_FILE;
	return VM_RSS_ANON;
}

void vm_rmap_new_anon(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr va, uint64_t pfn,
		      unsigned order)
{
	struct vm_page *pg = &k->pages[pfn];

	/* Linux: folio->mapping is the VMA's anon_vma (the fault path ran
	 * anon_vma_prepare).  Shared anonymous memory never gets here: its
	 * pages are the shmem file's page cache. */
	VM_ASSERT(vma->anon && !(vma->vm_flags & VM_SHARED));
	pg->owner_kind = VM_OWNER_ANON;
	pg->owner = vma->anon;
	pg->index = vm_linear_page_index(vma, va);
	pg->mapcount = 1;
	vm_page_set(pg, VM_PG_SWAPBACKED);
	vm_page_set(pg, VM_PG_ANON_EXCLUSIVE);
	vma->mm->rss[vm_rss_kind(vma, pg)] += UINT64_C(1) << order;
	/* Linux: folio_add_lru_vma() — a THP goes on as one folio. */
	vm_lru_add(k, pfn);
}

void vm_rmap_add_file(struct vm_kernel *k, struct vm_vma *vma, uint64_t pfn)
{
	struct vm_page *pg = &k->pages[pfn];

	pg->mapcount++;
	vma->mm->rss[vm_rss_kind(vma, pg)]++;
}

void vm_rmap_split_thp(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_page *pg = &k->pages[pfn];

	if (!vm_page_test(pg, VM_PG_HEAD) && !vm_page_test(pg, VM_PG_TAIL))
		return;
	/* The kernel maps only order-9 blocks with PMDs, so the head is the
	 * frame at the 2 MiB boundary below. */
	uint64_t head_pfn = VM_ALIGN_DOWN(pfn, THP_PAGES);
	struct vm_page *head = &k->pages[head_pfn];
	if (!vm_page_test(head, VM_PG_HEAD) || head->order != THP_ORDER)
		return;
	uint32_t keep = head->flags & ((1u << VM_PG_SWAPBACKED) | (1u << VM_PG_DIRTY) |
				       (1u << VM_PG_ANON_EXCLUSIVE));
	if (vm_buddy_split(k->buddy, head_pfn))
		return;
	/* Linux __split_huge_page_tail(): every tail takes the head's state;
	 * each is mapped by one of the 512 PTEs the PMD became. */
	for (uint64_t i = 1; i < THP_PAGES; i++) {
		struct vm_page *t = &head[i];
		t->refcount = head->refcount;
		t->mapcount = head->mapcount;
		t->flags |= keep;
		t->owner_kind = head->owner_kind;
		t->owner = head->owner;
		t->index = head->index + i;
	}
	/* Linux: lru_add_split_folio() — the pieces go on the LRU. */
	for (uint64_t i = 0; i < THP_PAGES; i++)
		vm_lru_add(k, head_pfn + i);
}

int vm_split_huge_pmd(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr va)
{
	struct vm_pt *pt = &vma->mm->pt;
	struct vm_pt_leaf leaf;

	if (pt->ops->lookup(pt, va, &leaf) || leaf.size != VM_PSIZE_2M)
		return 0;
	int err = pt->ops->split(pt, va);
	if (err)
		return err;
	k->stats->thp_split_pmd++;       /* Linux: __split_huge_pmd_locked() */
	vm_rmap_split_thp(k, pte_leaf_base(leaf.pte, leaf.level) >> VM_PAGE_SHIFT);
	return 0;
}

uint64_t vm_rmap_zap_leaf(struct vm_kernel *k, struct vm_vma *vma, const struct vm_pt_leaf *leaf)
{
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;
	uint64_t nr = UINT64_C(1) << (9 * (unsigned)leaf->size);

	/* Linux: vm_normal_page() is NULL for the special zero-page PTE. */
	if (pfn == k->zero_pfn || pfn >= k->phys->nframes)
		return nr;
	if (leaf->size == VM_PSIZE_4K)
		vm_rmap_split_thp(k, pfn);
	struct vm_page *pg = &k->pages[pfn];
	enum vm_rss kind = vm_rss_kind(vma, pg);

	/* Linux zap_present_folio_ptes(): a dirty PTE dirties a file folio. */
	if (pg->owner_kind == VM_OWNER_FILE && pte_dirty(leaf->pte))
		vm_page_set(pg, VM_PG_DIRTY);
	if (pg->mapcount > 0)
		pg->mapcount--;
	uint64_t *rss = &vma->mm->rss[kind];
	*rss = *rss >= nr ? *rss - nr : 0;
	vm_page_put(k, pfn);
	return nr;
}
