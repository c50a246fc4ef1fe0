/*
 * The VMA tree of an address space: a red-black tree keyed by vm_start,
 * augmented with the largest free gap of each subtree, threaded with
 * prev/next links in address order.  This is Linux's mm_rb with
 * rb_subtree_gap and vm_prev/vm_next as it was before the maple tree
 * (mm/mmap.c of v3.8 to v6.0: vma_compute_subtree_gap, vma_gap_update,
 * unmapped_area, unmapped_area_topdown); the placement it gives is the
 * maple tree's (mm/vma.c unmapped_area*), which searches the same gaps.
 *
 * The gap of a VMA is the free space below it: vm_start_gap(vma) minus
 * vm_end_gap(prev) (0 below the first VMA), never negative.  A node's
 * subtree_gap is the largest gap of any VMA in its subtree, so a search for
 * a free range of length len can skip every subtree whose subtree_gap is
 * smaller: find, link, unlink and the search are all O(log n).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "base/compiler.h"
#include "kernel/kernel.h"
#include "kernel/mm.h"

#define N(v) ((v)->node)

static uint64_t guard_gap(const struct vm_mm *mm)
{
	return mm->k ? mm->k->cfg.stack_guard_gap : 0;
}

/* Linux: vm_start_gap() — a stack's guard gap belongs to it. */
vm_vaddr vm_vma_start_gap(const struct vm_vma *vma, uint64_t guard)
{
	vm_vaddr start = vma->vm_start;

	if (!(vma->vm_flags & VM_GROWSDOWN))
		return start;
	return start >= guard ? start - guard : 0;
}

/* Linux: vm_end_gap() — only VM_GROWSUP stacks (not on x86) have one. */
vm_vaddr vm_vma_end_gap(const struct vm_vma *vma)
{
	return vma->vm_end;
}

/* The free space below vma. */
static uint64_t own_gap(const struct vm_mm *mm, const struct vm_vma *vma)
{
	vm_vaddr end = vm_vma_start_gap(vma, guard_gap(mm));
	vm_vaddr start = N(vma).prev ? vm_vma_end_gap(N(vma).prev) : 0;

	return end > start ? end - start : 0;
}

/* Linux: vma_compute_subtree_gap(). */
static uint64_t compute_gap(const struct vm_mm *mm, const struct vm_vma *vma)
{
	uint64_t g = own_gap(mm, vma);

	if (N(vma).left && N(N(vma).left).subtree_gap > g)
		g = N(N(vma).left).subtree_gap;
	if (N(vma).right && N(N(vma).right).subtree_gap > g)
		g = N(N(vma).right).subtree_gap;
	return g;
}

/* Recompute subtree_gap from vma upwards (Linux:
 * vma_gap_callbacks_propagate): stop at the first node whose value holds,
 * but not before `upto` (after a splice, the nodes up to the spliced one
 * may hold values for their old places whatever their children say). */
static void propagate_upto(const struct vm_mm *mm, struct vm_vma *vma, const struct vm_vma *upto)
{
	bool full = upto != NULL;

	for (; vma; vma = N(vma).parent) {
		uint64_t g = compute_gap(mm, vma);
		if (g == N(vma).subtree_gap && !full)
			break;
		N(vma).subtree_gap = g;
		if (vma == upto)
			full = false;
	}
}

static void propagate(const struct vm_mm *mm, struct vm_vma *vma)
{
	propagate_upto(mm, vma, NULL);
}

/* Lookups. */

/* The descent is written so that the compiler can pick the child with a
 * conditional move: which way a random address goes is unpredictable, and
 * a mispredicted branch per level would cost more than the loads. */
struct vm_vma *vm_find_vma(const struct vm_mm *mm, vm_vaddr addr)
{
	struct vm_vma *n = mm->root, *found = NULL;

	while (n) {
		bool above = n->vm_end > addr;
		if (above && n->vm_start <= addr)
			return n;
		found = above ? n : found;
		n = above ? N(n).left : N(n).right;
	}
	return found;
}

static struct vm_vma *rightmost(struct vm_vma *n)
{
	while (n && N(n).right)
		n = N(n).right;
	return n;
}

static struct vm_vma *leftmost(struct vm_vma *n)
{
	while (n && N(n).left)
		n = N(n).left;
	return n;
}

struct vm_vma *vm_find_vma_prev(const struct vm_mm *mm, vm_vaddr addr, struct vm_vma **prev)
{
	struct vm_vma *vma = vm_find_vma(mm, addr);

	*prev = vma ? N(vma).prev : rightmost(mm->root);
	return vma;
}

struct vm_vma *vm_vma_lookup(const struct vm_mm *mm, vm_vaddr addr)
{
	struct vm_vma *vma = vm_find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

struct vm_vma *vm_vma_next(const struct vm_vma *vma)
{
	return N(vma).next;
}

struct vm_vma *vm_vma_prev(const struct vm_vma *vma)
{
	return N(vma).prev;
}

struct vm_vma *vm_vma_first(const struct vm_mm *mm)
{
	return leftmost(mm->root);
}

struct vm_vma *vm_vma_last(const struct vm_mm *mm)
{
	return rightmost(mm->root);
}

/* Red-black tree with parent pointers (CLRS ch. 13), rotations keeping the
 * augmented value as Linux's RB_DECLARE_CALLBACKS rotate callback does. */

static void replace_child(struct vm_mm *mm, struct vm_vma *parent, struct vm_vma *old,
			  struct vm_vma *new)
{
	if (!parent)
		mm->root = new;
	else if (N(parent).left == old)
		N(parent).left = new;
	else
		N(parent).right = new;
}

/* The child of n on one side. */
static struct vm_vma **child(struct vm_vma *n, bool left)
{
	return left ? &N(n).left : &N(n).right;
}

/* Rotate x down to one side: its child on the other side, y, takes its
 * place; y's value is x's (same subtree), x's is recomputed. */
static void rotate(struct vm_mm *mm, struct vm_vma *x, bool left)
{
	struct vm_vma *y = *child(x, !left), *inner = *child(y, left);

	*child(x, !left) = inner;
	if (inner)
		N(inner).parent = x;
	N(y).parent = N(x).parent;
	replace_child(mm, N(x).parent, x, y);
	*child(y, left) = x;
	N(x).parent = y;
	N(y).subtree_gap = N(x).subtree_gap;
	N(x).subtree_gap = compute_gap(mm, x);
}

static void rotate_left(struct vm_mm *mm, struct vm_vma *x)
{
	rotate(mm, x, true);
}

static void rotate_right(struct vm_mm *mm, struct vm_vma *x)
{
	rotate(mm, x, false);
}

static bool is_red(const struct vm_vma *n)
{
	return n && N(n).red;
}

static void insert_fixup(struct vm_mm *mm, struct vm_vma *z)
{
	while (is_red(N(z).parent)) {
		struct vm_vma *p = N(z).parent, *g = N(p).parent;
		bool left = p == N(g).left;
		struct vm_vma *u = left ? N(g).right : N(g).left;

		if (is_red(u)) {
			N(p).red = N(u).red = 0;
			N(g).red = 1;
			z = g;
			continue;
		}
		if (z == (left ? N(p).right : N(p).left)) {
			z = p;
			if (left)
				rotate_left(mm, z);
			else
				rotate_right(mm, z);
			p = N(z).parent;
		}
		N(p).red = 0;
		N(g).red = 1;
		if (left)
			rotate_right(mm, g);
		else
			rotate_left(mm, g);
	}
	N(mm->root).red = 0;
}

/* Put vma into the tree as the child `left` or right of parent (NULL:
 * the root), between prev and next in address order, and rebalance. */
static void link_at(struct vm_mm *mm, struct vm_vma *vma, struct vm_vma *parent, bool left,
		    struct vm_vma *prev, struct vm_vma *next)
{
	N(vma).left = N(vma).right = NULL;
	N(vma).parent = parent;
	N(vma).red = 1;
	N(vma).prev = prev;
	N(vma).next = next;
	if (prev)
		N(prev).next = vma;
	if (next)
		N(next).prev = vma;
	if (!parent)
		mm->root = vma;
	else if (left)
		N(parent).left = vma;
	else
		N(parent).right = vma;
	vma->mm = mm;
	mm->map_count++;

	/* Every value right before the rotations, which then keep them right
	 * (a rotation can refresh a node whose ancestors are stale, which would
	 * stop a later early-stopping propagation too soon). */
	N(vma).subtree_gap = own_gap(mm, vma);
	propagate(mm, parent);
	if (next)
		propagate(mm, next);     /* its gap below shrank */
	insert_fixup(mm, vma);
}

/* Linux: vma_link() / __vma_link_rb(). */
void vm_vma_link(struct vm_mm *mm, struct vm_vma *vma)
{
	struct vm_vma *parent = NULL, *n = mm->root, *prev = NULL, *next = NULL;
	bool left = false;

	while (n) {
		parent = n;
		left = vma->vm_start < n->vm_start;
		if (left) {
			next = n;
			n = N(n).left;
		} else {
			prev = n;
			n = N(n).right;
		}
	}
	link_at(mm, vma, parent, left, prev, next);
}

/* The in-order neighbour decides the place without a descent: vma goes
 * right under prev if prev has no right child, else left under prev's
 * successor (the leftmost of that right subtree has no left child). */
void vm_vma_link_after(struct vm_mm *mm, struct vm_vma *vma, struct vm_vma *prev)
{
	struct vm_vma *next = prev ? N(prev).next : leftmost(mm->root);

	if (prev && !N(prev).right)
		link_at(mm, vma, prev, false, prev, next);
	else if (next)
		link_at(mm, vma, next, true, prev, next);
	else
		link_at(mm, vma, NULL, false, prev, next);
}

static void transplant(struct vm_mm *mm, struct vm_vma *u, struct vm_vma *v)
{
	replace_child(mm, N(u).parent, u, v);
	if (v)
		N(v).parent = N(u).parent;
}

/* CLRS RB-DELETE-FIXUP with NULL leaves: x may be NULL, so its parent is
 * carried along. */
static void erase_fixup(struct vm_mm *mm, struct vm_vma *x, struct vm_vma *parent)
{
	while (x != mm->root && !is_red(x)) {
		bool left = x == N(parent).left;
		struct vm_vma *w = left ? N(parent).right : N(parent).left;

		if (is_red(w)) {
			N(w).red = 0;
			N(parent).red = 1;
			if (left)
				rotate_left(mm, parent);
			else
				rotate_right(mm, parent);
			w = left ? N(parent).right : N(parent).left;
		}
		if (!is_red(N(w).left) && !is_red(N(w).right)) {
			N(w).red = 1;
			x = parent;
			parent = N(x).parent;
			continue;
		}
		if (left && !is_red(N(w).right)) {
			N(N(w).left).red = 0;
			N(w).red = 1;
			rotate_right(mm, w);
			w = N(parent).right;
		} else if (!left && !is_red(N(w).left)) {
			N(N(w).right).red = 0;
			N(w).red = 1;
			rotate_left(mm, w);
			w = N(parent).left;
		}
		N(w).red = N(parent).red;
		N(parent).red = 0;
		if (left) {
			N(N(w).right).red = 0;
			rotate_left(mm, parent);
		} else {
			N(N(w).left).red = 0;
			rotate_right(mm, parent);
		}
		x = mm->root;
		parent = NULL;
	}
	if (x)
		N(x).red = 0;
}

/* Linux: vma_rb_erase() plus unlinking from the vm_prev/vm_next list. */
void vm_vma_unlink(struct vm_mm *mm, struct vm_vma *vma)
{
	struct vm_vma *prev = N(vma).prev, *next = N(vma).next;
	struct vm_vma *x, *xparent, *fix, *spliced = NULL;
	bool black_removed;

	if (prev)
		N(prev).next = next;
	if (next)
		N(next).prev = prev;

	if (!N(vma).left || !N(vma).right) {
		x = N(vma).left ? N(vma).left : N(vma).right;
		xparent = N(vma).parent;
		black_removed = !N(vma).red;
		transplant(mm, vma, x);
		fix = xparent;
	} else {
		struct vm_vma *y = leftmost(N(vma).right);   /* == next */
		black_removed = !N(y).red;
		x = N(y).right;
		if (N(y).parent == vma) {
			xparent = y;
		} else {
			xparent = N(y).parent;
			transplant(mm, y, x);
			N(y).right = N(vma).right;
			N(N(y).right).parent = y;
		}
		transplant(mm, vma, y);
		N(y).left = N(vma).left;
		N(N(y).left).parent = y;
		N(y).red = N(vma).red;
		fix = xparent;
		spliced = y;
	}
	/* next's gap grew to cover vma's place; recompute everything above the
	 * spliced node before the rotations rely on it. */
	propagate_upto(mm, fix, spliced);
	if (next)
		propagate(mm, next);
	if (black_removed)
		erase_fixup(mm, x, xparent);
	mm->map_count--;
	N(vma).left = N(vma).right = N(vma).parent = N(vma).prev = N(vma).next = NULL;
}

/* Linux: vma_gap_update() on vma and its successor after vm_start or
 * vm_end moved in place. */
void vm_vma_update_gaps(struct vm_mm *mm, struct vm_vma *vma)
{
	propagate(mm, vma);
	if (N(vma).next)
		propagate(mm, N(vma).next);
}

/* The free-area search. */

static vm_vaddr highest_end(const struct vm_mm *mm)
{
	struct vm_vma *last = rightmost(mm->root);
	return last ? vm_vma_end_gap(last) : 0;
}

/* The first ancestor of vma reached from its left (from_left) or right
 * subtree, or NULL: where an in-order search resumes. */
static struct vm_vma *climb(struct vm_vma *vma, bool from_left)
{
	for (;;) {
		struct vm_vma *c = vma;
		vma = N(vma).parent;
		if (!vma || c == (from_left ? N(vma).left : N(vma).right))
			return vma;
	}
}

static long unmapped_area(const struct vm_mm *mm, const struct vm_unmapped_area_info *info)
{
	uint64_t guard = guard_gap(mm);
	uint64_t length = info->length + info->align_mask;
	vm_vaddr gap_start, gap_end, low_limit, high_limit;
	struct vm_vma *vma;

	if (length < info->length || info->high_limit < length)
		return -ENOMEM;
	high_limit = info->high_limit - length;
	if (info->low_limit > high_limit)
		return -ENOMEM;
	low_limit = info->low_limit + length;

	vma = mm->root;
	if (!vma || N(vma).subtree_gap < length)
		goto check_highest;
	for (;;) {
		/* Descend left while the left subtree may hold a fit. */
		gap_end = vm_vma_start_gap(vma, guard);
		if (gap_end >= low_limit && N(vma).left &&
		    N(N(vma).left).subtree_gap >= length) {
			vma = N(vma).left;
			continue;
		}
		gap_start = N(vma).prev ? vm_vma_end_gap(N(vma).prev) : 0;
check_current:
		if (gap_start > high_limit)
			return -ENOMEM;
		if (gap_end >= low_limit && gap_end > gap_start && gap_end - gap_start >= length)
			goto found;
		if (N(vma).right && N(N(vma).right).subtree_gap >= length) {
			vma = N(vma).right;
			continue;
		}
		vma = climb(vma, true);
		if (!vma)
			goto check_highest;
		gap_start = vm_vma_end_gap(N(vma).prev);
		gap_end = vm_vma_start_gap(vma, guard);
		goto check_current;
	}
check_highest:
	gap_start = highest_end(mm);
	if (gap_start > high_limit)
		return -ENOMEM;
found:
	if (gap_start < info->low_limit)
		gap_start = info->low_limit;
	gap_start += (info->align_offset - gap_start) & info->align_mask;
	return (long)gap_start;
}

static long unmapped_area_topdown(const struct vm_mm *mm,
				  const struct vm_unmapped_area_info *info)
{
	uint64_t guard = guard_gap(mm);
	uint64_t length = info->length + info->align_mask;
	vm_vaddr gap_start, gap_end, low_limit, high_limit;
	struct vm_vma *vma;

	if (length < info->length)
		return -ENOMEM;
	gap_end = info->high_limit;
	if (gap_end < length)
		return -ENOMEM;
	high_limit = gap_end - length;
	if (info->low_limit > high_limit)
		return -ENOMEM;
	low_limit = info->low_limit + length;

	gap_start = highest_end(mm);
	if (gap_start <= high_limit)
		goto found_highest;

	vma = mm->root;
	if (!vma || N(vma).subtree_gap < length)
		return -ENOMEM;
	for (;;) {
		/* Descend right while the right subtree may hold a fit. */
		gap_start = N(vma).prev ? vm_vma_end_gap(N(vma).prev) : 0;
		if (gap_start <= high_limit && N(vma).right &&
		    N(N(vma).right).subtree_gap >= length) {
			vma = N(vma).right;
			continue;
		}
check_current:
		gap_end = vm_vma_start_gap(vma, guard);
		if (gap_end < low_limit)
			return -ENOMEM;
		if (gap_start <= high_limit && gap_end > gap_start && gap_end - gap_start >= length)
			goto found;
		if (N(vma).left && N(N(vma).left).subtree_gap >= length) {
			vma = N(vma).left;
			continue;
		}
		vma = climb(vma, false);
		if (!vma)
			return -ENOMEM;
		gap_start = N(vma).prev ? vm_vma_end_gap(N(vma).prev) : 0;
		goto check_current;
	}
found:
	if (gap_end > info->high_limit)
		gap_end = info->high_limit;
found_highest:
	gap_end -= info->length;
	gap_end -= (gap_end - info->align_offset) & info->align_mask;
	return (long)gap_end;
}

/* Linux: vm_unmapped_area(). */
long vm_unmapped_area(const struct vm_mm *mm, const struct vm_unmapped_area_info *info)
{
	return info->topdown ? unmapped_area_topdown(mm, info) : unmapped_area(mm, info);
}

/* Validation. */

struct tree_walk {
	const struct vm_mm *mm;
	const struct vm_vma *last;    /* previous VMA in order */
	uint64_t count;
	char *msg;
	size_t len;
};

/* Check the subtree at n; returns its black height, or -1 on a problem. */
static int check_node(struct tree_walk *w, const struct vm_vma *n, const struct vm_vma *parent)
{
	if (!n)
		return 1;
	if (N(n).parent != parent) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": wrong parent link", n->vm_start);
		return -1;
	}
	if (N(n).red && is_red(parent)) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": red child of a red node", n->vm_start);
		return -1;
	}
	int lh = check_node(w, N(n).left, n);
	if (lh < 0)
		return -1;
	if (n->vm_start >= n->vm_end || !VM_IS_ALIGNED(n->vm_start | n->vm_end, VM_PAGE_SIZE)) {
		snprintf(w->msg, w->len, "VMA [%#" PRIx64 ", %#" PRIx64 ") empty or unaligned",
			 n->vm_start, n->vm_end);
		return -1;
	}
	if (w->last && w->last->vm_end > n->vm_start) {
		snprintf(w->msg, w->len, "VMA [%#" PRIx64 ", %#" PRIx64 ") overlaps or precedes [%#"
			 PRIx64 ", %#" PRIx64 ")", n->vm_start, n->vm_end, w->last->vm_start,
			 w->last->vm_end);
		return -1;
	}
	if (N(n).prev != w->last || (w->last && N(w->last).next != n)) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": prev/next links broken", n->vm_start);
		return -1;
	}
	if (n->mm != w->mm) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": belongs to another mm", n->vm_start);
		return -1;
	}
	w->last = n;
	w->count++;
	int rh = check_node(w, N(n).right, n);
	if (rh < 0)
		return -1;
	if (lh != rh) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": black heights %d and %d", n->vm_start, lh, rh);
		return -1;
	}
	uint64_t g = compute_gap(w->mm, n);
	if (g != N(n).subtree_gap) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": subtree_gap %#" PRIx64 ", want %#" PRIx64,
			 n->vm_start, N(n).subtree_gap, g);
		return -1;
	}
	return lh + !N(n).red;
}

int vm_vma_tree_check(const struct vm_mm *mm, char *msg, size_t len)
{
	char dummy[8];
	struct tree_walk w = { .mm = mm, .msg = msg ? msg : dummy, .len = msg ? len : sizeof(dummy) };

	if (msg && len)
		msg[0] = '\0';
	if (is_red(mm->root)) {
		snprintf(w.msg, w.len, "red root");
		return -EUCLEAN;
	}
	if (check_node(&w, mm->root, NULL) < 0)
		return -EUCLEAN;
	if (w.last && N(w.last).next) {
		snprintf(w.msg, w.len, "last VMA has a next link");
		return -EUCLEAN;
	}
	if (w.count != mm->map_count) {
		snprintf(w.msg, w.len, "map_count %" PRIu64 " but %" PRIu64 " VMAs in the tree",
			 mm->map_count, w.count);
		return -EUCLEAN;
	}
	return 0;
}
