/*
 * The B-tree that indexes an mm's VMAs, shared by vma_tree.c (nodes and
 * their memory, insertion, removal), vma.c (the API of mm.h) and vma_gap.c
 * (the free-area search), and by the unit test that corrupts it on purpose.
 *
 * In the spirit of Linux's maple tree (lib/maple_tree.c, maple_arange_64):
 * wide nodes whose keys sit side by side, so that a lookup reads a few
 * cache lines per level and five levels hold 100,000 VMAs, where a binary
 * tree needs seventeen levels of one cache miss each.  Unlike the maple
 * tree it stores only VMAs (no NULL entries for the holes): the hole below
 * a VMA is that VMA's gap.
 *
 * Keys are vm_end.  A leaf's entry i is a VMA, its key[i] is its vm_end and
 * its gap[i] is the free space below it (gap of a VMA: vm_start_gap(vma)
 * minus the previous VMA's vm_end_gap, 0 if negative, 0 below the first VMA
 * counting from address 0).  An internal node's entry i is a child, its
 * key[i] the largest key under the child (its last) and its gap[i] the
 * largest gap under it.  All leaves are at depth height - 1.
 */
#ifndef VM_KERNEL_VMA_TREE_H
#define VM_KERNEL_VMA_TREE_H

#include <assert.h>
#include <stdint.h>

#include "kernel/kernel.h"
#include "kernel/mm.h"

#define VMA_FANOUT   16u                  /* entries per node */
#define VMA_MIN_FILL 5u                   /* entries in every node but the root */
#define VMA_KEY_NONE UINT64_MAX           /* key of an unused entry */

struct vm_vma_bnode {
	/* Ascending; unused entries VMA_KEY_NONE, so that a search counts
	 * keys without reading nr.  Two cache lines, read by every lookup. */
	_Alignas(64) uint64_t key[VMA_FANOUT];
	union {                               /* unused entries NULL */
		struct vm_vma *vma[VMA_FANOUT];           /* leaf */
		struct vm_vma_bnode *child[VMA_FANOUT];   /* internal node */
	};
	uint64_t gap[VMA_FANOUT];             /* unused entries 0 */
	struct vm_vma_bnode *parent;          /* NULL at the root; free list link when free */
	/* == the parent's entry for this node (not at the root): a walk up
	 * that finds the summary unchanged stops without looking for the
	 * entry in the parent. */
	uint64_t sum_key, sum_gap;
	uint8_t nr;                           /* entries in use: 1..VMA_FANOUT */
	uint8_t leaf;                         /* 1 for a leaf */
};

static_assert(sizeof(struct vm_vma_bnode) == 448, "a node is seven cache lines");

/* The number of keys <= addr: the entry a lookup for addr takes (the first
 * whose key is above addr).  No branch on the keys: which way a random
 * address goes is unpredictable, and the loads are independent. */
static inline unsigned vm_vma_bnode_rank(const struct vm_vma_bnode *n, uint64_t addr)
{
	unsigned r = 0;

#pragma GCC unroll 16
	for (unsigned j = 0; j < VMA_FANOUT; j++)
		r += n->key[j] <= addr;
	return r;
}

/* The largest gap under node n (what its parent's entry holds).  Four
 * running maxima, so that the compares do not wait on each other. */
static inline uint64_t vm_vma_bnode_max_gap(const struct vm_vma_bnode *n)
{
	uint64_t a = 0, b = 0, c = 0, d = 0;

#pragma GCC unroll 4
	for (unsigned j = 0; j < VMA_FANOUT; j += 4) {
		a = n->gap[j] > a ? n->gap[j] : a;
		b = n->gap[j + 1] > b ? n->gap[j + 1] : b;
		c = n->gap[j + 2] > c ? n->gap[j + 2] : c;
		d = n->gap[j + 3] > d ? n->gap[j + 3] : d;
	}
	a = b > a ? b : a;
	c = d > c ? d : c;
	return c > a ? c : a;
}

/* The stack guard gap of mm's kernel (none without one: unit tests). */
static inline uint64_t vm_vma_guard_gap(const struct vm_mm *mm)
{
	return mm->k ? mm->k->cfg.stack_guard_gap : 0;
}

/* The gap below vma in mm (the leaf's gap entry for it), from its prev
 * link. */
uint64_t vm_vma_own_gap(const struct vm_mm *mm, const struct vm_vma *vma);

/* The index of child (a node or a VMA) in n. */
unsigned vm_vma_bnode_index(const struct vm_vma_bnode *n, const void *child);

/* Put vma into leaf at index i (0..nr), or into a new root leaf when leaf
 * is NULL (the tree is empty), splitting full nodes on the way up.  Needs
 * height + 1 spare nodes (vm_vma_tree_prealloc).  Sets vma->node.leaf and
 * returns vma's index in it; the entry's key is vm_end and its gap 0: the
 * caller sets the gap and calls vm_vma_bnode_fix_up on the leaf. */
unsigned vm_vma_tree_insert(struct vm_mm *mm, struct vm_vma_bnode *leaf, unsigned i,
			    struct vm_vma *vma);

/* Remove entry i of leaf, borrowing from or merging with a sibling when the
 * leaf gets too empty, and so on upwards; summaries above are fixed.  The
 * last entry's removal gives all node memory back to the host. */
void vm_vma_tree_erase(struct vm_mm *mm, struct vm_vma_bnode *leaf, unsigned i);

/* n's summary (last key, largest gap) changed: fix the entries above it,
 * stopping where one already holds. */
void vm_vma_bnode_fix_up(struct vm_vma_bnode *n);

/* Spare nodes, host memory handed back: node accounting for the validator.
 * 0 or -EUCLEAN with msg. */
int vm_vma_tree_check_pool(const struct vm_mm *mm, char *msg, size_t len);

#endif
