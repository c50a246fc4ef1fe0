/*
 * Intrusive circular doubly-linked lists (Linux's list_head): the links live
 * inside the object (a frame descriptor, a VMA), so adding and removing never
 * allocate.  An empty list's head points at itself.
 */
#ifndef VM_BASE_LIST_H
#define VM_BASE_LIST_H

#include <stddef.h>

struct vm_list {
	struct vm_list *next, *prev;
};

#define VM_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void vm_list_init(struct vm_list *h)
{
	h->next = h->prev = h;
}

static inline int vm_list_empty(const struct vm_list *h)
{
	return h->next == h;
}

static inline void vm_list_insert(struct vm_list *n, struct vm_list *prev, struct vm_list *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

/* Add n right after head (LIFO order when taking head->next). */
static inline void vm_list_add(struct vm_list *n, struct vm_list *head)
{
	vm_list_insert(n, head, head->next);
}

/* Add n right before head, i.e. at the tail (FIFO order). */
static inline void vm_list_add_tail(struct vm_list *n, struct vm_list *head)
{
	vm_list_insert(n, head->prev, head);
}

/* Unlink n and leave it pointing at itself (so a second del is harmless). */
static inline void vm_list_del(struct vm_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#endif
