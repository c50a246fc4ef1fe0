/*
 * Swap entries in address spaces (Linux: the swap PTEs of mm/memory.c's
 * zap_nonpresent_ptes, copy_nonpresent_pte, move_ptes, and smaps'
 * counting): the entries live in the PTEs themselves, and each holds one
 * reference on its slot (swap.c).  Contract in swap.h.
 */
#include "kernel/swap.h"

#include <errno.h>

#include "kernel/mm_internal.h"
#include "kernel/swap_internal.h"

/* The entries live in the PTEs themselves (pt->ops->set_pte); a page
 * table without any (pt->nonpresent == 0) answers every question here at
 * once, without a walk. */

bool vm_swap_pte_at(const struct vm_mm *mm, vm_vaddr va, vm_pte *out)
{
	struct vm_pt *pt = (struct vm_pt *)&mm->pt;
	struct vm_pt_leaf leaf;

	if (!pt->nonpresent || pt->ops->lookup_entry(pt, va, &leaf) || pte_present(leaf.pte))
		return false;
	*out = leaf.pte;
	return true;
}

static int count_entry(void *ctx, const struct vm_pt_leaf *leaf)
{
	*(uint64_t *)ctx += !pte_present(leaf->pte);
	return 0;
}

uint64_t vm_swap_count(const struct vm_mm *mm, vm_vaddr start, vm_vaddr end)
{
	struct vm_pt *pt = (struct vm_pt *)&mm->pt;
	uint64_t n = 0;

	if (pt->nonpresent && start < end)
		pt->ops->for_each_entry(pt, start, end, count_entry, &n);
	return n;
}

static int stop_at_entry(void *ctx, const struct vm_pt_leaf *leaf)
{
	(void)ctx;
	return !pte_present(leaf->pte);
}

struct swap_pss {
	const struct vm_kernel *k;
	unsigned shift;
	uint64_t pss;
};

static int pss_entry(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct swap_pss *p = ctx;

	if (pte_present(leaf->pte))
		return 0;
	const struct vm_swap_area *a = vm_swap_area_of(p->k, leaf->pte);
	unsigned refs = a ? a->map[vm_swp_pte_offset(leaf->pte)] : 1;
	p->pss += (VM_PAGE_SIZE << p->shift) / (refs > 1 ? refs : 1);
	return 0;
}

uint64_t vm_swap_pss(const struct vm_kernel *k, const struct vm_mm *mm, vm_vaddr start,
		     vm_vaddr end, unsigned shift)
{
	struct vm_pt *pt = (struct vm_pt *)&mm->pt;
	struct swap_pss p = { .k = k, .shift = shift };

	if (pt->nonpresent && start < end)
		pt->ops->for_each_entry(pt, start, end, pss_entry, &p);
	return p.pss;
}

bool vm_swap_any(const struct vm_mm *mm, vm_vaddr start, vm_vaddr end)
{
	struct vm_pt *pt = (struct vm_pt *)&mm->pt;

	/* The THP fault path asks this: stop at the first entry found. */
	return pt->nonpresent && start < end &&
	       pt->ops->for_each_entry(pt, start, end, stop_at_entry, NULL) == 1;
}

/* The context of a walk over one mm's entries. */
struct swap_walk {
	struct vm_kernel *k;
	struct vm_mm *mm;            /* zap: the mm walked; fork: the child */
};

/* Linux: free_swap_and_cache() for each entry zap_nonpresent_ptes clears. */
static int zap_entry(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct swap_walk *z = ctx;
	struct vm_swap_area *a = vm_swap_area_of(z->k, leaf->pte);

	z->mm->rss[VM_RSS_SWAP]--;
	if (a)
		vm_swap_put(z->k, a, vm_swp_pte_offset(leaf->pte));
	return 0;
}

void vm_swap_zap(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start, vm_vaddr end)
{
	struct swap_walk z = { .k = k, .mm = mm };

	if (start < end)
		mm->pt.ops->clear_nonpresent(&mm->pt, start, end, zap_entry, &z);
}

/* Linux: copy_nonpresent_pte() -> swap_duplicate(). */
static int fork_entry(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct swap_walk *f = ctx;
	struct vm_swap_area *a = vm_swap_area_of(f->k, leaf->pte);
	uint64_t off = vm_swp_pte_offset(leaf->pte);

	if (pte_present(leaf->pte))
		return 0;
	if (!a || a->map[off] == UINT16_MAX)
		return -ENOMEM;     /* swap_count_continuation is not modelled */
	int err = f->mm->pt.ops->set_pte(&f->mm->pt, leaf->va, leaf->pte);
	if (err)
		return err;
	a->map[off]++;
	f->mm->rss[VM_RSS_SWAP]++;
	return 0;
}

int vm_swap_fork(struct vm_kernel *k, struct vm_mm *dst, struct vm_mm *src, vm_vaddr start,
		 vm_vaddr end)
{
	struct swap_walk f = { .k = k, .mm = dst };

	if (!src->pt.nonpresent || start >= end)
		return 0;
	return src->pt.ops->for_each_entry(&src->pt, start, end, fork_entry, &f) ? -ENOMEM : 0;
}

int vm_swap_move_entry(struct vm_mm *mm, vm_vaddr old, vm_vaddr new)
{
	struct vm_pt *pt = &mm->pt;
	struct vm_pt_leaf leaf;

	if (pt->ops->lookup_entry(pt, old, &leaf) || pte_present(leaf.pte))
		return -ENOENT;
	int err = pt->ops->set_pte(pt, new, leaf.pte);
	if (err)
		return err;
	return pt->ops->clear_nonpresent(pt, old, old + VM_PAGE_SIZE, NULL, NULL);
}

