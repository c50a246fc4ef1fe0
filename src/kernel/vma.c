/*
 * The VMA index of an address space (mm.h's tree operations) on the B-tree
 * of vma_tree.h: lookups, linking and unlinking with the prev/next thread
 * and the gaps kept right, and the validator.  The free-area search is in
 * vma_gap.c.
 *
 * Linux keeps its VMAs in the maple tree (mm->mm_mt, lib/maple_tree.c),
 * whose nodes hold 16 ranges (10 with gap tracking) side by side; find_vma
 * is mt_find() on it, vma_link is a mas_store of the VMA's range.  Before
 * v6.1 it was a red-black tree augmented with the largest gap of each
 * subtree (rb_subtree_gap), which this model used to follow: one cache miss
 * per level, seventeen levels at 100,000 VMAs.  Here as in the maple tree a
 * node of 16 keys is a few cache lines and a level costs about one miss
 * (docs/benchmarks.md has the figures).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "base/compiler.h"
#include "kernel/kernel.h"
#include "kernel/mm.h"
#include "kernel/vma_tree.h"

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

uint64_t vm_vma_own_gap(const struct vm_mm *mm, const struct vm_vma *vma)
{
	vm_vaddr end = vm_vma_start_gap(vma, vm_vma_guard_gap(mm));
	vm_vaddr start = vma->node.prev ? vm_vma_end_gap(vma->node.prev) : 0;

	return end > start ? end - start : 0;
}

/* Lookups. */

/* Linux: find_vma() / mt_find().  One node per level, reading its keys and
 * one child pointer; the VMA itself is not touched.  The child pointers'
 * lines are fetched together with the keys', not after the search of the
 * keys picks one: at 100,000 VMAs the lower levels are not in the host's
 * caches, and this halves the misses a level waits for. */
struct vm_vma *vm_find_vma(const struct vm_mm *mm, vm_vaddr addr)
{
	const struct vm_vma_bnode *n = mm->vma_tree.root;

	if (!n || addr >= n->key[n->nr - 1])
		return NULL;                    /* above every VMA */
	for (unsigned level = mm->vma_tree.height;; level--) {
		__builtin_prefetch(&n->child[0]);
		__builtin_prefetch(&n->child[VMA_FANOUT / 2]);
		unsigned i = vm_vma_bnode_rank(n, addr);
		if (level == 1)
			return n->vma[i];
		n = n->child[i];
	}
}

static struct vm_vma_bnode *edge_leaf(const struct vm_mm *mm, bool last)
{
	struct vm_vma_bnode *n = mm->vma_tree.root;

	while (n && !n->leaf)
		n = n->child[last ? n->nr - 1 : 0];
	return n;
}

struct vm_vma *vm_vma_first(const struct vm_mm *mm)
{
	struct vm_vma_bnode *n = edge_leaf(mm, false);

	return n ? n->vma[0] : NULL;
}

struct vm_vma *vm_vma_last(const struct vm_mm *mm)
{
	struct vm_vma_bnode *n = edge_leaf(mm, true);

	return n ? n->vma[n->nr - 1] : NULL;
}

struct vm_vma *vm_find_vma_prev(const struct vm_mm *mm, vm_vaddr addr, struct vm_vma **prev)
{
	struct vm_vma *vma = vm_find_vma(mm, addr);

	*prev = vma ? vma->node.prev : vm_vma_last(mm);
	return vma;
}

struct vm_vma *vm_vma_lookup(const struct vm_mm *mm, vm_vaddr addr)
{
	struct vm_vma *vma = vm_find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

struct vm_vma *vm_vma_next(const struct vm_vma *vma)
{
	return vma->node.next;
}

struct vm_vma *vm_vma_prev(const struct vm_vma *vma)
{
	return vma->node.prev;
}

/* Changes. */

/* Where an entry is: vma == leaf->vma[i]. */
struct slot {
	struct vm_vma_bnode *leaf;
	unsigned i;
};

/* The slot of the VMA after the one in s (next): the following entry, or
 * the first of the next leaf.  No search. */
static struct slot slot_after(struct slot s, struct vm_vma *next)
{
	if (s.i + 1 < s.leaf->nr)
		return (struct slot){ s.leaf, s.i + 1 };
	return (struct slot){ next->node.leaf, 0 };
}

/* The entry of vma after its vm_start, vm_end or predecessor changed. */
static void set_entry(const struct vm_mm *mm, struct slot s)
{
	const struct vm_vma *vma = s.leaf->vma[s.i];

	s.leaf->key[s.i] = vma->vm_end;
	s.leaf->gap[s.i] = vm_vma_own_gap(mm, vma);
}

/* The entries of the VMA in s and of the one after it (whose gap starts
 * at its end) changed: one walk up per leaf.  Two walks that meet are
 * right in either order: each recomputes from the children and stops only
 * where the entry above already holds. */
static void set_pair(const struct vm_mm *mm, struct slot s)
{
	struct vm_vma *next = s.leaf->vma[s.i]->node.next;
	struct slot n = { NULL, 0 };

	set_entry(mm, s);
	if (next) {
		n = slot_after(s, next);
		set_entry(mm, n);
	}
	vm_vma_bnode_fix_up(s.leaf);
	if (n.leaf && n.leaf != s.leaf)
		vm_vma_bnode_fix_up(n.leaf);
}

/* Put vma at entry i of leaf (NULL: the tree is empty), between prev and
 * next in address order. */
static void link_at(struct vm_mm *mm, struct vm_vma *vma, struct vm_vma_bnode *leaf, unsigned i,
		    struct vm_vma *prev, struct vm_vma *next)
{
	if (vm_vma_tree_prealloc(mm)) {
		mm->vma_tree.refused++;
		vma->node = (struct vm_vma_node){ 0 };
		return;
	}
	i = vm_vma_tree_insert(mm, leaf, i, vma);
	vma->node.prev = prev;
	vma->node.next = next;
	if (prev)
		prev->node.next = vma;
	if (next)
		next->node.prev = vma;
	vma->mm = mm;
	mm->map_count++;
	set_pair(mm, (struct slot){ vma->node.leaf, i });   /* next's gap below shrank */
	/* Refill now, so that a host failure here is not the next link's. */
	(void)vm_vma_tree_prealloc(mm);
}

/* Linux: vma_link() — a descent to the first VMA ending above vm_start:
 * vma goes just before it (or last). */
void vm_vma_link(struct vm_mm *mm, struct vm_vma *vma)
{
	struct vm_vma_bnode *n = mm->vma_tree.root;
	struct vm_vma *prev, *next;
	unsigned i = 0;

	while (n) {
		i = VM_MIN(vm_vma_bnode_rank(n, vma->vm_start), (unsigned)n->nr);
		if (n->leaf)
			break;
		n = n->child[i < n->nr ? i : n->nr - 1u];
	}
	if (n && i < n->nr) {
		next = n->vma[i];
		prev = i ? n->vma[i - 1] : next->node.prev;
	} else {
		next = NULL;                /* i == nr happens only in the last leaf */
		prev = n ? n->vma[n->nr - 1] : NULL;
	}
	link_at(mm, vma, n, i, prev, next);
}

/* The neighbour decides the place: right after prev in prev's leaf, or
 * first in the first leaf. */
void vm_vma_link_after(struct vm_mm *mm, struct vm_vma *vma, struct vm_vma *prev)
{
	struct vm_vma_bnode *leaf;
	unsigned i;

	if (prev) {
		leaf = prev->node.leaf;
		i = vm_vma_bnode_index(leaf, prev) + 1;
	} else {
		leaf = edge_leaf(mm, false);
		i = 0;
	}
	link_at(mm, vma, leaf, i, prev, prev ? prev->node.next : vm_vma_first(mm));
}

/* Linux: vma_iter_clear() / remove from the maple tree, plus the thread. */
void vm_vma_unlink(struct vm_mm *mm, struct vm_vma *vma)
{
	struct vm_vma_bnode *leaf = vma->node.leaf;
	struct vm_vma *prev = vma->node.prev, *next = vma->node.next;

	if (!leaf)
		return;                     /* a refused link: never in the tree */

	struct slot s = { leaf, vm_vma_bnode_index(leaf, vma) };

	if (prev)
		prev->node.next = next;
	if (next) {
		next->node.prev = prev;
		set_entry(mm, slot_after(s, next));   /* its gap below grew over vma's place */
	}
	vm_vma_tree_erase(mm, leaf, s.i);
	mm->map_count--;
	if (next)
		vm_vma_bnode_fix_up(next->node.leaf);   /* at once, if erase's walk went by */
	vma->node = (struct vm_vma_node){ 0 };
}

/* Linux: vma_gap_update() on vma and its successor after vm_start or
 * vm_end moved in place (the maple tree stores the new range). */
void vm_vma_update_gaps(struct vm_mm *mm, struct vm_vma *vma)
{
	if (!vma->node.leaf)
		return;
	set_pair(mm, (struct slot){ vma->node.leaf, vm_vma_bnode_index(vma->node.leaf, vma) });
}

/* Validation. */

struct tree_walk {
	const struct vm_mm *mm;
	const struct vm_vma *last;    /* previous VMA in order */
	uint64_t count, nodes;
	char *msg;
	size_t len;
};

static int check_vma(struct tree_walk *w, const struct vm_vma_bnode *leaf, unsigned i)
{
	const struct vm_vma *v = leaf->vma[i];

	if (!v) {
		snprintf(w->msg, w->len, "leaf entry %u of %u is NULL", i, leaf->nr);
		return -1;
	}
	if (v->vm_start >= v->vm_end || !VM_IS_ALIGNED(v->vm_start | v->vm_end, VM_PAGE_SIZE)) {
		snprintf(w->msg, w->len, "VMA [%#" PRIx64 ", %#" PRIx64 ") empty or unaligned",
			 v->vm_start, v->vm_end);
		return -1;
	}
	if (w->last && w->last->vm_end > v->vm_start) {
		snprintf(w->msg, w->len, "VMA [%#" PRIx64 ", %#" PRIx64 ") overlaps or precedes [%#"
			 PRIx64 ", %#" PRIx64 ")", v->vm_start, v->vm_end, w->last->vm_start,
			 w->last->vm_end);
		return -1;
	}
	if (v->node.prev != w->last || (w->last && w->last->node.next != v)) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": prev/next links broken", v->vm_start);
		return -1;
	}
	if (v->mm != w->mm || v->node.leaf != leaf) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": %s", v->vm_start,
			 v->mm != w->mm ? "belongs to another mm" : "wrong leaf link");
		return -1;
	}
	if (leaf->key[i] != v->vm_end || leaf->gap[i] != vm_vma_own_gap(w->mm, v)) {
		snprintf(w->msg, w->len, "VMA %#" PRIx64 ": key %#" PRIx64 " gap %#" PRIx64
			 ", want %#" PRIx64 " and %#" PRIx64, v->vm_start, leaf->key[i], leaf->gap[i],
			 v->vm_end, vm_vma_own_gap(w->mm, v));
		return -1;
	}
	w->last = v;
	w->count++;
	return 0;
}

/* The node's own shape: fill, ascending keys, unused entries clear. */
static int check_shape(struct tree_walk *w, const struct vm_vma_bnode *n,
		       const struct vm_vma_bnode *parent, unsigned level)
{
	unsigned min = parent ? VMA_MIN_FILL : 1;

	if (n->parent != parent || n->leaf != (level == 1)) {
		snprintf(w->msg, w->len, "node at level %u: wrong %s", level,
			 n->parent != parent ? "parent link" : "leaf flag");
		return -1;
	}
	if (n->nr < min || n->nr > VMA_FANOUT) {
		snprintf(w->msg, w->len, "node at level %u holds %u entries (%u..%u)", level, n->nr,
			 min, VMA_FANOUT);
		return -1;
	}
	for (unsigned j = 0; j < VMA_FANOUT; j++) {
		if (j < n->nr && j && n->key[j] <= n->key[j - 1]) {
			snprintf(w->msg, w->len, "node at level %u: keys %u and %u out of order", level,
				 j - 1, j);
			return -1;
		}
		if (j >= n->nr && (n->key[j] != VMA_KEY_NONE || n->child[j] || n->gap[j])) {
			snprintf(w->msg, w->len, "node at level %u: unused entry %u not clear", level, j);
			return -1;
		}
	}
	return 0;
}

static int check_node(struct tree_walk *w, const struct vm_vma_bnode *n,
		      const struct vm_vma_bnode *parent, unsigned level)
{
	if (check_shape(w, n, parent, level))
		return -1;
	w->nodes++;
	for (unsigned j = 0; j < n->nr; j++) {
		if (level == 1) {
			if (check_vma(w, n, j))
				return -1;
			continue;
		}
		const struct vm_vma_bnode *c = n->child[j];
		if (!c) {
			snprintf(w->msg, w->len, "node at level %u: child %u is NULL", level, j);
			return -1;
		}
		if (check_node(w, c, n, level - 1))
			return -1;
		if (n->key[j] != c->key[c->nr - 1] || n->gap[j] != vm_vma_bnode_max_gap(c)) {
			snprintf(w->msg, w->len, "node at level %u: entry %u summary (key %#" PRIx64
				 ", gap %#" PRIx64 ") wrong, want %#" PRIx64 ", %#" PRIx64, level, j,
				 n->key[j], n->gap[j], c->key[c->nr - 1], vm_vma_bnode_max_gap(c));
			return -1;
		}
		if (c->sum_key != n->key[j] || c->sum_gap != n->gap[j]) {
			snprintf(w->msg, w->len, "node at level %u: its copy of the summary above is stale",
				 level - 1);
			return -1;
		}
	}
	return 0;
}

int vm_vma_tree_check(const struct vm_mm *mm, char *msg, size_t len)
{
	char dummy[8];
	struct tree_walk w = { .mm = mm, .msg = msg ? msg : dummy, .len = msg ? len : sizeof(dummy) };
	const struct vm_vma_tree *t = &mm->vma_tree;

	if (msg && len)
		msg[0] = '\0';
	if (t->refused) {
		snprintf(w.msg, w.len, "%" PRIu64 " VMA links refused: no host memory for a node",
			 t->refused);
		return -EUCLEAN;
	}
	if (!t->root != !t->height || (t->root && t->height > 64)) {
		snprintf(w.msg, w.len, "height %u with %s root", t->height, t->root ? "a" : "no");
		return -EUCLEAN;
	}
	if (t->root && check_node(&w, t->root, NULL, t->height) < 0)
		return -EUCLEAN;
	if (w.last && w.last->node.next) {
		snprintf(w.msg, w.len, "last VMA has a next link");
		return -EUCLEAN;
	}
	if (w.count != mm->map_count || w.nodes != t->nodes) {
		snprintf(w.msg, w.len, "map_count %" PRIu64 ", %" PRIu64 " nodes; the tree has %"
			 PRIu64 " VMAs in %" PRIu64 " nodes", mm->map_count, t->nodes, w.count, w.nodes);
		return -EUCLEAN;
	}
	return vm_vma_tree_check_pool(mm, w.msg, w.len);
}
