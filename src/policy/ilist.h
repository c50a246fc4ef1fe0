/*
 * Index-linked circular lists: Linux's list_head with 32-bit indexes
 * instead of pointers, for per-frame policy state in flat arrays.  Nodes
 * 0..n-1 are frames; list heads are extra nodes n, n+1, ... in the same
 * array, so an empty list's head points at itself and no operation needs a
 * special case or allocates.
 *
 * Orientation used by every policy: head->next is the *newest* end
 * (vm_ilist_add pushes there), head->prev the *oldest* (vm_ilist_last).
 */
#ifndef VM_POLICY_ILIST_H
#define VM_POLICY_ILIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm_ilink {
	uint32_t next, prev;
};

static inline void vm_ilist_init(struct vm_ilink *l, uint32_t head)
{
	l[head].next = l[head].prev = head;
}

static inline bool vm_ilist_empty(const struct vm_ilink *l, uint32_t head)
{
	return l[head].next == head;
}

static inline void vm_ilist_link(struct vm_ilink *l, uint32_t n, uint32_t prev, uint32_t next)
{
	l[next].prev = n;
	l[n].next = next;
	l[n].prev = prev;
	l[prev].next = n;
}

/* Push n at the newest end (right after head). */
static inline void vm_ilist_add(struct vm_ilink *l, uint32_t n, uint32_t head)
{
	vm_ilist_link(l, n, head, l[head].next);
}

/* Push n at the oldest end (right before head). */
static inline void vm_ilist_add_tail(struct vm_ilink *l, uint32_t n, uint32_t head)
{
	vm_ilist_link(l, n, l[head].prev, head);
}

/* Insert n right before node pos (CLOCK: behind the hand). */
static inline void vm_ilist_add_before(struct vm_ilink *l, uint32_t n, uint32_t pos)
{
	vm_ilist_link(l, n, l[pos].prev, pos);
}

static inline void vm_ilist_del(struct vm_ilink *l, uint32_t n)
{
	l[l[n].prev].next = l[n].next;
	l[l[n].next].prev = l[n].prev;
	l[n].next = l[n].prev = n;
}

/* Move n to the newest end of head's list. */
static inline void vm_ilist_move(struct vm_ilink *l, uint32_t n, uint32_t head)
{
	vm_ilist_del(l, n);
	vm_ilist_add(l, n, head);
}

/* Oldest and newest node, or head itself when the list is empty. */
static inline uint32_t vm_ilist_last(const struct vm_ilink *l, uint32_t head)
{
	return l[head].prev;
}

static inline uint32_t vm_ilist_first(const struct vm_ilink *l, uint32_t head)
{
	return l[head].next;
}

/* Validate an index-linked list: every node < limit, links consistent,
 * at most limit nodes; its length in *count.  0 or -EUCLEAN with msg. */
int vm_ilist_check(const struct vm_ilink *l, uint32_t head, uint32_t limit, uint32_t *count,
		   char *msg, size_t len);

/* Default order(): the nodes of one list from oldest (head->prev) to newest. */
uint32_t vm_ilist_order(const struct vm_ilink *l, uint32_t head, uint32_t *frames);

#endif
