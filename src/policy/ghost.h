/*
 * Ghosts: a bounded record of pages that were evicted, keyed by the page's
 * key, in up to VM_GHOST_LISTS ordered lists (ARC's B1 and B2, S3-FIFO's G,
 * Linux's shadow entries).  A ghost holds a key and one u64 value (Linux:
 * the eviction age) and no frame.
 *
 * Fixed capacity, allocated once: a pool of 32-byte nodes (key, value,
 * list links and the node's hash slot in one cache line's half) and an
 * open-addressing hash (linear probing, deletion by backward shift) from
 * keys to nodes, at least twice the pool's size.  A slot holds the top 32
 * bits of the key's hash beside the node, so that a lookup of an absent
 * key (most lookups: a miss on a page never seen or long forgotten) reads
 * one cache line of the table and no node, and a deletion needs no key.
 * Nothing allocates after init.
 *
 * Without the hash (init with hashed = false): the driver keeps shadows
 * (evict.h) and every lookup comes with the shadow the driver kept for the
 * key, vm_ghost_shadow() of the node made when the key was pushed.  The
 * node must still be on a list and hold the key (it may have been forgotten
 * and reused since).  Most shadows are of ghosts long forgotten, so that
 * answer comes from a 4-byte tag per node (the low half of its key, or of
 * the key + 1 when the node is free): an array a tenth the pool's size that
 * stays in the cache; only a matching tag leads to the node.  The driver
 * always holds the shadow of the key's latest push, so the answer is the
 * hash's.
 */
#ifndef VM_POLICY_GHOST_H
#define VM_POLICY_GHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/host.h"

#define VM_GHOST_LISTS 2
#define VM_GHOST_NONE  UINT32_MAX

struct vm_ghost_node {
	uint64_t key;
	uint64_t val;
	uint32_t next, prev;       /* towards older, towards newer; heads are nodes cap + list */
	uint32_t slot;             /* its index in slot[] */
	uint32_t list;             /* the list it is on; VM_GHOST_LISTS = free */
};

struct vm_ghost {
	uint32_t cap;              /* nodes in the pool, >= 1 */
	uint32_t used;             /* nodes on lists; == sum of len[] */
	uint32_t len[VM_GHOST_LISTS];
	struct vm_ghost_node *node;   /* cap nodes, then VM_GHOST_LISTS heads, then the free list */
	uint32_t *tag;             /* without the hash, per node: (uint32_t)key on a list,
	                              (uint32_t)(key + 1) free; else NULL */
	uint64_t *slot;            /* hash: top 32 bits of the hash << 32 | (node + 1), 0 = empty;
	                              NULL without the hash */
	uint32_t hmask;
	unsigned hshift;           /* 32 - log2(slots): home slot = top 32 bits >> hshift */
};

/* cap nodes, with the hash when hashed (the driver keeps no shadows).
 * 0, -EINVAL (cap 0 or, without the hash, 2^31 - 1 or more) or -ENOMEM
 * (nothing allocated). */
int vm_ghost_init(struct vm_ghost *g, struct vm_host *host, uint32_t cap, bool hashed);
void vm_ghost_fini(struct vm_ghost *g, struct vm_host *host);

/* What the driver keeps for the key of node (1..cap: below 2^31). */
static inline uint32_t vm_ghost_shadow(uint32_t node)
{
	return node + 1;
}

/* vm_ghost_find with the hash. */
uint32_t vm_ghost_find_hashed(const struct vm_ghost *g, uint64_t key);

/* The node holding key, or VM_GHOST_NONE.  shadow: the driver's shadow
 * for key (0: none), used without the hash and ignored with it. */
static inline uint32_t vm_ghost_find(const struct vm_ghost *g, uint64_t key, uint32_t shadow)
{
	if (g->slot)
		return vm_ghost_find_hashed(g, key);
	uint32_t n = shadow - 1;             /* 0 (none) wraps past cap */
	if (n < g->cap && g->tag[n] == (uint32_t)key && g->node[n].list < VM_GHOST_LISTS &&
	    g->node[n].key == key)
		return n;
	return VM_GHOST_NONE;
}

/* Start loading where key's lookup begins: its hash slot, or the node its
 * shadow names. */
static inline void vm_ghost_prefetch(const struct vm_ghost *g, uint64_t key, uint32_t shadow)
{
	if (g->slot) {
		uint64_t h = key * UINT64_C(0x9e3779b97f4a7c15);
		__builtin_prefetch(&g->slot[(uint32_t)(h >> 32) >> g->hshift]);
	} else if (shadow - 1 < g->cap) {
		/* the tag, and the node for a ghost hit (most tags do not match,
		 * but a hit waiting for its node would stall the whole miss) */
		__builtin_prefetch(&g->tag[shadow - 1]);
		__builtin_prefetch(&g->node[shadow - 1]);
	}
}

/* Start loading what forgetting list's oldest ghost will touch: the node
 * and its hash slot (the node is usually in the cache already: the same
 * ghost stays oldest for many references). */
static inline void vm_ghost_prefetch_oldest(const struct vm_ghost *g, unsigned list)
{
	if (g->len[list]) {
		const struct vm_ghost_node *n = &g->node[g->node[g->cap + list].prev];
		__builtin_prefetch(n);
		if (g->slot)
			__builtin_prefetch(&g->slot[n->slot]);
	}
}

/* A node's key, value and list. */
static inline uint64_t vm_ghost_key(const struct vm_ghost *g, uint32_t node)
{
	return g->node[node].key;
}
static inline uint64_t vm_ghost_val(const struct vm_ghost *g, uint32_t node)
{
	return g->node[node].val;
}
static inline unsigned vm_ghost_list(const struct vm_ghost *g, uint32_t node)
{
	return g->node[node].list;
}

/* The hash's part of vm_ghost_del and vm_ghost_push (ghost.c). */
void vm_ghost_hash_del(struct vm_ghost *g, uint32_t slot);
void vm_ghost_hash_add(struct vm_ghost *g, uint64_t key, uint32_t node);

/* List links through the nodes (heads are nodes cap + list, the free
 * list's head cap + VM_GHOST_LISTS). */
static inline void vm_ghost_link_after(struct vm_ghost *g, uint32_t n, uint32_t prev)
{
	struct vm_ghost_node *v = g->node;
	uint32_t next = v[prev].next;
	v[n].prev = prev;
	v[n].next = next;
	v[next].prev = n;
	v[prev].next = n;
}

static inline void vm_ghost_unlink(struct vm_ghost *g, uint32_t n)
{
	struct vm_ghost_node *v = g->node;
	v[v[n].prev].next = v[n].next;
	v[v[n].next].prev = v[n].prev;
}

/* Forget a node.  (Inline, as push: one call of each per eviction.) */
static inline void vm_ghost_del(struct vm_ghost *g, uint32_t node)
{
	struct vm_ghost_node *n = &g->node[node];
	if (g->slot)
		vm_ghost_hash_del(g, n->slot);
	else
		g->tag[node] = (uint32_t)(n->key + 1);
	g->len[n->list]--;
	g->used--;
	vm_ghost_unlink(g, node);
	n->list = VM_GHOST_LISTS;
	vm_ghost_link_after(g, node, g->cap + VM_GHOST_LISTS);
}

/* Remember key with val at the newest end of list.  When the pool is full
 * the oldest ghost of that list is forgotten first (of the other list if
 * that one is empty).  The key must not be present.  Returns the node. */
static inline uint32_t vm_ghost_push(struct vm_ghost *g, unsigned list, uint64_t key, uint64_t val)
{
	uint32_t free_head = g->cap + VM_GHOST_LISTS;
	if (g->node[free_head].next == free_head) {
		unsigned from = g->len[list] ? list : (unsigned)(list ^ 1);
		vm_ghost_del(g, g->node[g->cap + from].prev);
	}
	uint32_t n = g->node[free_head].next;
	vm_ghost_unlink(g, n);
	struct vm_ghost_node *v = &g->node[n];
	v->key = key;
	v->val = val;
	v->list = list;
	vm_ghost_link_after(g, n, g->cap + list);
	g->len[list]++;
	g->used++;
	if (g->slot)
		vm_ghost_hash_add(g, key, n);
	else
		g->tag[n] = (uint32_t)key;
	return n;
}

/* Oldest and newest node of list, or VM_GHOST_NONE. */
static inline uint32_t vm_ghost_oldest(const struct vm_ghost *g, unsigned list)
{
	return g->len[list] ? g->node[g->cap + list].prev : VM_GHOST_NONE;
}

static inline uint32_t vm_ghost_newest(const struct vm_ghost *g, unsigned list)
{
	return g->len[list] ? g->node[g->cap + list].next : VM_GHOST_NONE;
}

/* Keys of list, oldest first, as "[k1 k2 ...]" into buf (truncated with
 * "..." past len). */
void vm_ghost_format(const struct vm_ghost *g, unsigned list, char *buf, size_t len);

/* Validate lists, counts and the hash: 0 or -EUCLEAN with msg. */
int vm_ghost_check(const struct vm_ghost *g, char *msg, size_t len);

#endif
