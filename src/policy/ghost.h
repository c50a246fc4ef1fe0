/*
 * Ghosts: a bounded record of pages that were evicted, keyed by the page's
 * key, in up to VM_GHOST_LISTS ordered lists (ARC's B1 and B2, S3-FIFO's G,
 * Linux's shadow entries).  A ghost holds a key and one u64 value (Linux:
 * the eviction age) and no frame.
 *
 * Fixed capacity, allocated once: a node pool, index-linked lists through
 * it, and an open-addressing hash (linear probing, deletion by backward
 * shift) from keys to nodes, twice the pool's size.  Nothing allocates
 * after init.
 */
#ifndef VM_POLICY_GHOST_H
#define VM_POLICY_GHOST_H

#include <stddef.h>
#include <stdint.h>

#include "base/host.h"
#include "policy/ilist.h"

#define VM_GHOST_LISTS 2
#define VM_GHOST_NONE  UINT32_MAX

struct vm_ghost {
	uint32_t cap;              /* nodes in the pool, >= 1 */
	uint32_t used;             /* nodes on lists; == sum of len[] */
	uint32_t len[VM_GHOST_LISTS];
	uint64_t *key;             /* per node */
	uint64_t *val;             /* per node */
	uint8_t *list;             /* per node: the list it is on */
	struct vm_ilink *link;     /* cap nodes, then VM_GHOST_LISTS heads, then the free list */
	uint32_t *slot;            /* hash: node + 1, 0 = empty; hmask + 1 slots */
	uint32_t hmask;
};

/* 0 or -ENOMEM (nothing allocated); cap >= 1. */
int vm_ghost_init(struct vm_ghost *g, struct vm_host *host, uint32_t cap);
void vm_ghost_fini(struct vm_ghost *g, struct vm_host *host);

/* The node holding key, or VM_GHOST_NONE. */
uint32_t vm_ghost_find(const struct vm_ghost *g, uint64_t key);

/* Forget a node. */
void vm_ghost_del(struct vm_ghost *g, uint32_t node);

/* Remember key with val at the newest end of list.  When the pool is full
 * the oldest ghost of that list is forgotten first (of the other list if
 * that one is empty).  The key must not be present.  Returns the node. */
uint32_t vm_ghost_push(struct vm_ghost *g, unsigned list, uint64_t key, uint64_t val);

/* Oldest and newest node of list, or VM_GHOST_NONE. */
uint32_t vm_ghost_oldest(const struct vm_ghost *g, unsigned list);
uint32_t vm_ghost_newest(const struct vm_ghost *g, unsigned list);
/* The next older node after node on its list, or VM_GHOST_NONE. */
uint32_t vm_ghost_older(const struct vm_ghost *g, uint32_t node);

/* Keys of list, oldest first, as "[k1 k2 ...]" into buf (truncated with
 * "..." past len). */
void vm_ghost_format(const struct vm_ghost *g, unsigned list, char *buf, size_t len);

/* Validate lists, counts and the hash: 0 or -EUCLEAN with msg. */
int vm_ghost_check(const struct vm_ghost *g, char *msg, size_t len);

#endif
