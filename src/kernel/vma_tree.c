/*
 * The VMA B-tree's mechanics (see vma_tree.h): node memory from slabs kept
 * by the tree, insertion with node splits, removal with borrowing from and
 * merging with a sibling, and the summaries (last key, largest gap) that
 * each internal node keeps of its children.  What the entries mean, and the
 * VMAs' prev/next links, are vma.c's business.
 *
 * Linux's maple tree allocates its nodes from a kmem_cache and preallocates
 * the worst case of a store before it starts (mas_preallocate); the free
 * list here plays both parts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "kernel/kernel.h"
#include "kernel/vma_tree.h"

/* Nodes per slab: one host allocation of ~28 KiB serves 64 nodes, about
 * 700 VMAs. */
#define SLAB_NODES 64u

struct vm_vma_slab {
	struct vm_vma_slab *next;
	/* SLAB_NODES nodes follow, 64-byte aligned. */
};

#define SLAB_BYTES (sizeof(struct vm_vma_bnode) * (SLAB_NODES + 1))

static struct vm_vma_bnode *slab_nodes(struct vm_vma_slab *s)
{
	uintptr_t p = (uintptr_t)(s + 1);

	return (struct vm_vma_bnode *)((p + 63) & ~(uintptr_t)63);
}

/* Unit tests build an mm without a kernel or host: plain heap memory then. */
static struct vm_host *host_of(const struct vm_mm *mm)
{
	return mm->k ? mm->k->host : NULL;
}

static void *host_alloc(struct vm_mm *mm, size_t bytes)
{
	return host_of(mm) ? vm_host_calloc(host_of(mm), 1, bytes) : calloc(1, bytes);
}

static void host_free(struct vm_mm *mm, void *p)
{
	if (host_of(mm))
		vm_host_free(host_of(mm), p);
	else
		free(p);
}

static int add_slab(struct vm_mm *mm)
{
	struct vm_vma_tree *t = &mm->vma_tree;
	struct vm_vma_slab *s = host_alloc(mm, SLAB_BYTES);

	if (!s)
		return -ENOMEM;
	s->next = t->slabs;
	t->slabs = s;
	struct vm_vma_bnode *n = slab_nodes(s);
	for (unsigned i = 0; i < SLAB_NODES; i++) {
		n[i].parent = t->free;
		t->free = &n[i];
	}
	t->nfree += SLAB_NODES;
	return 0;
}

/* A link splits at most every level and adds a root. */
int vm_vma_tree_prealloc(struct vm_mm *mm)
{
	if (!mm)
		return -EINVAL;

	struct vm_vma_tree *t = &mm->vma_tree;

	while (t->nfree < t->height + 1)
		if (add_slab(mm))
			return -ENOMEM;
	return 0;
}

/* An empty node; the caller made sure of the reserve. */
static struct vm_vma_bnode *node_get(struct vm_vma_tree *t, bool leaf)
{
	struct vm_vma_bnode *n = t->free;

	t->free = n->parent;
	t->nfree--;
	t->nodes++;
	memset(n, 0, sizeof(*n));
	for (unsigned j = 0; j < VMA_FANOUT; j++)
		n->key[j] = VMA_KEY_NONE;
	n->leaf = leaf;
	return n;
}

static void node_put(struct vm_vma_tree *t, struct vm_vma_bnode *n)
{
	n->nr = 0;
	n->parent = t->free;
	t->free = n;
	t->nfree++;
	t->nodes--;
}

/* The tree is empty: every slab goes back to the host. */
static void release_all(struct vm_mm *mm)
{
	struct vm_vma_tree *t = &mm->vma_tree;

	while (t->slabs) {
		struct vm_vma_slab *s = t->slabs;
		t->slabs = s->next;
		host_free(mm, s);
	}
	*t = (struct vm_vma_tree){ .refused = t->refused };
}

void vm_vma_tree_release(struct vm_mm *mm)
{
	if (mm && !mm->vma_tree.root)
		release_all(mm);
}

/* A mask of the matches and its lowest bit, not a loop that stops at the
 * match: where the match is is random, and the branch would mispredict. */
unsigned vm_vma_bnode_index(const struct vm_vma_bnode *n, const void *child)
{
	uint32_t match = 0;

#pragma GCC unroll 16
	for (unsigned j = 0; j < VMA_FANOUT; j++)
		match |= (uint32_t)((const void *)n->child[j] == child) << j;
	return match ? (unsigned)__builtin_ctz(match) : n->nr;
}

/* Entry c of internal node p describes child x. */
static void summarize(struct vm_vma_bnode *p, unsigned c, struct vm_vma_bnode *x)
{
	p->key[c] = x->sum_key = x->key[x->nr - 1];
	p->gap[c] = x->sum_gap = vm_vma_bnode_max_gap(x);
}

void vm_vma_bnode_fix_up(struct vm_vma_bnode *n)
{
	struct vm_vma_bnode *p;

	for (; (p = n->parent) != NULL; n = p) {
		uint64_t key = n->key[n->nr - 1], gap = vm_vma_bnode_max_gap(n);

		if (n->sum_key == key && n->sum_gap == gap)
			return;
		unsigned c = vm_vma_bnode_index(p, n);
		p->key[c] = n->sum_key = key;
		p->gap[c] = n->sum_gap = gap;
	}
}

/* Entries [from, from + count) of n now live in n: point their back links
 * (a VMA's leaf, a child's parent) at it. */
static void adopt(struct vm_vma_bnode *n, unsigned from, unsigned count)
{
	for (unsigned j = from; j < from + count; j++) {
		if (n->leaf)
			n->vma[j]->node.leaf = n;
		else
			n->child[j]->parent = n;
	}
}

/* Open a hole at entry i of n (nr < VMA_FANOUT). */
static void open_slot(struct vm_vma_bnode *n, unsigned i)
{
	unsigned tail = n->nr - i;

	memmove(&n->key[i + 1], &n->key[i], tail * sizeof(n->key[0]));
	memmove(&n->child[i + 1], &n->child[i], tail * sizeof(n->child[0]));
	memmove(&n->gap[i + 1], &n->gap[i], tail * sizeof(n->gap[0]));
	n->nr++;
}

/* Close entry i of n, leaving the last entry unused. */
static void close_slot(struct vm_vma_bnode *n, unsigned i)
{
	unsigned tail = n->nr - i - 1;

	memmove(&n->key[i], &n->key[i + 1], tail * sizeof(n->key[0]));
	memmove(&n->child[i], &n->child[i + 1], tail * sizeof(n->child[0]));
	memmove(&n->gap[i], &n->gap[i + 1], tail * sizeof(n->gap[0]));
	n->nr--;
	n->key[n->nr] = VMA_KEY_NONE;
	n->child[n->nr] = NULL;
	n->gap[n->nr] = 0;
}

/* Forget entries [from, n->nr) of n. */
static void truncate_entries(struct vm_vma_bnode *n, unsigned from)
{
	for (unsigned j = from; j < n->nr; j++) {
		n->key[j] = VMA_KEY_NONE;
		n->child[j] = NULL;
		n->gap[j] = 0;
	}
	n->nr = (uint8_t)from;
}

/* Move r's first count entries to the end of l (l precedes r: the order
 * holds). */
static void shift_left(struct vm_vma_bnode *l, struct vm_vma_bnode *r, unsigned count)
{
	unsigned at = l->nr, rest = r->nr - count;

	memcpy(&l->key[at], &r->key[0], count * sizeof(r->key[0]));
	memcpy(&l->child[at], &r->child[0], count * sizeof(r->child[0]));
	memcpy(&l->gap[at], &r->gap[0], count * sizeof(r->gap[0]));
	l->nr += count;
	adopt(l, at, count);
	memmove(&r->key[0], &r->key[count], rest * sizeof(r->key[0]));
	memmove(&r->child[0], &r->child[count], rest * sizeof(r->child[0]));
	memmove(&r->gap[0], &r->gap[count], rest * sizeof(r->gap[0]));
	truncate_entries(r, rest);
}

/* Move l's last count entries to the front of r (l precedes r). */
static void shift_right(struct vm_vma_bnode *l, struct vm_vma_bnode *r, unsigned count)
{
	unsigned from = l->nr - count;

	memmove(&r->key[count], &r->key[0], r->nr * sizeof(r->key[0]));
	memmove(&r->child[count], &r->child[0], r->nr * sizeof(r->child[0]));
	memmove(&r->gap[count], &r->gap[0], r->nr * sizeof(r->gap[0]));
	memcpy(&r->key[0], &l->key[from], count * sizeof(l->key[0]));
	memcpy(&r->child[0], &l->child[from], count * sizeof(l->child[0]));
	memcpy(&r->gap[0], &l->gap[from], count * sizeof(l->gap[0]));
	r->nr += count;
	adopt(r, 0, count);
	truncate_entries(l, from);
}

static void insert_child(struct vm_mm *mm, struct vm_vma_bnode *p, unsigned c,
			 struct vm_vma_bnode *y);

/* Where a full node splits when entry i is about to go in: in halves,
 * except next to an end, where it splits at the new entry (as far as the
 * minimum fill allows), so that VMAs created in address order, or in
 * reverse (top-down mmap), leave full nodes behind them.  "Next to" and not
 * "at", because the stack is usually the last VMA: address-order mmaps
 * go in just before it. */
static unsigned split_point(const struct vm_vma_bnode *x, unsigned i)
{
	if (i + 1 >= x->nr)
		return VMA_FANOUT - VMA_MIN_FILL;
	if (i <= 1)
		return VMA_MIN_FILL;
	return VMA_FANOUT / 2;
}

/* x is full: move its entries from keep on into a new right sibling y,
 * put y next to x in their parent (a new root if x was the root) and
 * return it.  Both summaries in the parent are exact afterwards. */
static struct vm_vma_bnode *split(struct vm_mm *mm, struct vm_vma_bnode *x, unsigned keep)
{
	struct vm_vma_tree *t = &mm->vma_tree;
	struct vm_vma_bnode *y = node_get(t, x->leaf), *p = x->parent;

	shift_right(x, y, x->nr - keep);
	if (!p) {
		p = node_get(t, false);
		p->nr = 1;
		p->child[0] = x;
		x->parent = p;
		t->root = p;
		t->height++;
	}
	unsigned c = vm_vma_bnode_index(p, x);
	summarize(p, c, x);
	insert_child(mm, p, c + 1, y);
	return y;
}

/* Put node y at entry c of internal node p, splitting p first when full. */
static void insert_child(struct vm_mm *mm, struct vm_vma_bnode *p, unsigned c,
			 struct vm_vma_bnode *y)
{
	if (p->nr == VMA_FANOUT) {
		unsigned keep = split_point(p, c);
		struct vm_vma_bnode *q = split(mm, p, keep);
		if (c > keep) {
			c -= keep;
			p = q;
		}
	}
	open_slot(p, c);
	p->child[c] = y;
	y->parent = p;
	summarize(p, c, y);
	vm_vma_bnode_fix_up(p);
}

unsigned vm_vma_tree_insert(struct vm_mm *mm, struct vm_vma_bnode *leaf, unsigned i,
			    struct vm_vma *vma)
{
	struct vm_vma_tree *t = &mm->vma_tree;

	if (!leaf) {
		leaf = node_get(t, true);
		t->root = leaf;
		t->height = 1;
		i = 0;
	} else if (leaf->nr == VMA_FANOUT) {
		unsigned keep = split_point(leaf, i);
		struct vm_vma_bnode *y = split(mm, leaf, keep);
		if (i > keep) {
			i -= keep;
			leaf = y;
		}
	}
	open_slot(leaf, i);
	leaf->key[i] = vma->vm_end;
	leaf->vma[i] = vma;
	leaf->gap[i] = 0;
	vma->node.leaf = leaf;
	return i;
}

/* x (not the root) has fewer than VMA_MIN_FILL entries: take from a
 * sibling, or merge with it when both fit in one node.  Returns the parent
 * if it lost an entry (the caller goes on with it), else NULL. */
static struct vm_vma_bnode *rebalance(struct vm_mm *mm, struct vm_vma_bnode *x)
{
	struct vm_vma_bnode *p = x->parent;
	unsigned c = vm_vma_bnode_index(p, x);
	unsigned lc = c > 0 ? c - 1 : c;            /* the pair (l, r) = entries lc, lc + 1 */
	struct vm_vma_bnode *l = p->child[lc], *r = p->child[lc + 1];

	if (l->nr + r->nr <= VMA_FANOUT) {
		shift_left(l, r, r->nr);
		close_slot(p, lc + 1);
		node_put(&mm->vma_tree, r);
		summarize(p, lc, l);
		return p;
	}
	unsigned half = (l->nr + r->nr) / 2;
	if (l->nr < half)
		shift_left(l, r, half - l->nr);
	else
		shift_right(l, r, l->nr - half);
	summarize(p, lc, l);
	summarize(p, lc + 1, r);
	vm_vma_bnode_fix_up(p);
	return NULL;
}

/* x lost an entry: restore the fill rules from x up, then the summaries. */
static void settle(struct vm_mm *mm, struct vm_vma_bnode *x)
{
	struct vm_vma_tree *t = &mm->vma_tree;

	while (x) {
		if (x->parent && x->nr >= VMA_MIN_FILL) {
			vm_vma_bnode_fix_up(x);
			return;
		}
		if (x->parent) {
			x = rebalance(mm, x);
			continue;
		}
		/* The root: an internal root with one child hands over to it. */
		if (!x->leaf && x->nr == 1) {
			t->root = x->child[0];
			t->root->parent = NULL;
			t->height--;
			node_put(t, x);
		}
		return;
	}
}

void vm_vma_tree_erase(struct vm_mm *mm, struct vm_vma_bnode *leaf, unsigned i)
{
	struct vm_vma_tree *t = &mm->vma_tree;

	leaf->vma[i]->node.leaf = NULL;
	close_slot(leaf, i);
	if (leaf == t->root && leaf->nr == 0) {
		release_all(mm);
		return;
	}
	settle(mm, leaf);
}

int vm_vma_tree_check_pool(const struct vm_mm *mm, char *msg, size_t len)
{
	const struct vm_vma_tree *t = &mm->vma_tree;
	uint64_t slabs = 0, free = 0;

	for (const struct vm_vma_slab *s = t->slabs; s; s = s->next)
		slabs++;
	for (const struct vm_vma_bnode *n = t->free; n && free <= t->nfree; n = n->parent)
		free++;
	if (free != t->nfree || t->nodes + t->nfree != slabs * SLAB_NODES) {
		snprintf(msg, len, "node pool: %" PRIu64 " in use + %u free (%" PRIu64
			 " on the list) in %" PRIu64 " slabs of %u", t->nodes, t->nfree, free, slabs,
			 SLAB_NODES);
		return -EUCLEAN;
	}
	return 0;
}
