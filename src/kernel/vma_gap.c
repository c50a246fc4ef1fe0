/*
 * The free-area search over the VMA B-tree: Linux's vm_unmapped_area()
 * (mm/vma.c unmapped_area / unmapped_area_topdown, which walk the maple
 * tree's gaps with mas_empty_area / mas_empty_area_rev).
 *
 * A request for length bytes aligned to align_mask + 1 (at align_offset)
 * inside [low_limit, high_limit) needs a hole of need = length + align_mask
 * bytes within the limits.  For a hole [start, end) between two VMAs that
 * is: end - start >= need, start <= high_limit - need and end >= low_limit
 * + need.  Top-down takes the highest such hole (the one above the last VMA
 * first), bottom-up the lowest.
 *
 * Each internal entry holds the largest gap under its child, so a search
 * skips every child too small; and since holes big enough are disjoint and
 * in address order, the keys tell which children lie wholly inside the
 * limits.  A child wholly inside whose largest gap is big enough holds an
 * answer for sure; at most one child per level (the one a limit falls in)
 * is a maybe, tried first and left if it fails.  So a search reads
 * O(height) nodes: O(log n).
 *
 * Unlike Linux, the guard gap below a VM_GROWSDOWN VMA is part of that
 * VMA's gap value, so the search never finds a hole and then retries below
 * a stack (Linux re-runs the search when vm_start_gap() eats the hole);
 * the address found is the same.
 */
#include <errno.h>
#include <stdbool.h>

#include "base/compiler.h"
#include "kernel/mm.h"
#include "kernel/vma_tree.h"

struct gap_query {
	uint64_t need;       /* bytes the hole must hold; >= 1 */
	uint64_t high;       /* the hole starts at or below */
	uint64_t low;        /* the hole ends at or above */
};

struct gap_hit {
	vm_vaddr start, end; /* the hole: previous VMA's end, vm_start_gap() */
};

/* The highest entry under n (level 1: a leaf) whose gap holds q->need and
 * starts at or below q->high; from is where the gap of n's first entry
 * starts (the end of the VMA before it, 0 for the first). */
static bool highest_fit(const struct vm_vma_bnode *n, unsigned level, vm_vaddr from,
			const struct gap_query *q, struct gap_hit *hit)
{
	/* Entry c's gap starts at key[c - 1]: the entries after the first
	 * whose gap starts above q->high are skipped without a look. */
	unsigned last = VM_MIN(vm_vma_bnode_rank(n, q->high), n->nr - 1u);

	for (unsigned c = last + 1; c-- > 0;) {
		vm_vaddr start = c ? n->key[c - 1] : from;

		if (n->gap[c] < q->need)
			continue;
		if (level == 1) {
			hit->start = start;
			hit->end = start + n->gap[c];
			return true;
		}
		if (highest_fit(n->child[c], level - 1, start, q, hit))
			return true;
	}
	return false;
}

/* The lowest entry under n whose gap holds q->need and ends at or above
 * q->low.  A child whose keys are all <= q->low ends every gap below them:
 * the search starts at the first key above q->low. */
static bool lowest_fit(const struct vm_vma_bnode *n, unsigned level, vm_vaddr from,
		       const struct gap_query *q, struct gap_hit *hit)
{
	for (unsigned c = vm_vma_bnode_rank(n, q->low); c < n->nr; c++) {
		vm_vaddr start = c ? n->key[c - 1] : from;

		if (n->gap[c] < q->need)
			continue;
		if (level == 1) {
			if (start + n->gap[c] < q->low)
				continue;
			hit->start = start;
			hit->end = start + n->gap[c];
			return true;
		}
		if (lowest_fit(n->child[c], level - 1, start, q, hit))
			return true;
	}
	return false;
}

/* The end of the last VMA: where the hole above every VMA starts. */
static vm_vaddr highest_end(const struct vm_mm *mm)
{
	const struct vm_vma_bnode *r = mm->vma_tree.root;

	return r ? r->key[r->nr - 1] : 0;
}

/* The limits of info as a query; false when no hole can satisfy them. */
static bool make_query(const struct vm_unmapped_area_info *info, struct gap_query *q)
{
	uint64_t length = info->length + info->align_mask;

	if (length < info->length || info->high_limit < length)
		return false;
	q->high = info->high_limit - length;
	if (info->low_limit > q->high)
		return false;
	q->low = info->low_limit + length;
	q->need = length ? length : 1;       /* a hole has at least a byte */
	return true;
}

/* Linux: unmapped_area(). */
static long unmapped_area(const struct vm_mm *mm, const struct vm_unmapped_area_info *info)
{
	const struct vm_vma_tree *t = &mm->vma_tree;
	struct gap_query q;
	struct gap_hit hit;
	vm_vaddr start;

	if (!make_query(info, &q))
		return -ENOMEM;
	if (t->root && lowest_fit(t->root, t->height, 0, &q, &hit))
		start = hit.start;
	else
		start = highest_end(mm);
	/* Holes big enough are in address order: if the lowest one starts
	 * too high, so do the others. */
	if (start > q.high)
		return -ENOMEM;
	if (start < info->low_limit)
		start = info->low_limit;
	start += (info->align_offset - start) & info->align_mask;
	return (long)start;
}

/* Linux: unmapped_area_topdown(). */
static long unmapped_area_topdown(const struct vm_mm *mm,
				  const struct vm_unmapped_area_info *info)
{
	const struct vm_vma_tree *t = &mm->vma_tree;
	struct gap_query q;
	struct gap_hit hit;
	vm_vaddr end = info->high_limit;

	if (!make_query(info, &q))
		return -ENOMEM;
	if (highest_end(mm) > q.high) {
		/* As above: if the highest hole ends too low, so do the others. */
		if (!t->root || !highest_fit(t->root, t->height, 0, &q, &hit) || hit.end < q.low)
			return -ENOMEM;
		end = VM_MIN(hit.end, info->high_limit);
	}
	end -= info->length;
	end -= (end - info->align_offset) & info->align_mask;
	return (long)end;
}

/* Linux: vm_unmapped_area(). */
long vm_unmapped_area(const struct vm_mm *mm, const struct vm_unmapped_area_info *info)
{
	if (!mm || !info)
		return -EINVAL;
	return info->topdown ? unmapped_area_topdown(mm, info) : unmapped_area(mm, info);
}
