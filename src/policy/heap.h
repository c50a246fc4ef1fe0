/*
 * An indexed binary min-heap of frames ordered by two u64 keys per frame
 * (primary, then secondary), with each frame's position kept so that a
 * frame's keys can change and the frame can leave from anywhere in
 * O(log n).  OPT orders by the next use (largest first, stored negated);
 * LFU by use count, then by the time of the last use.
 */
#ifndef VM_POLICY_HEAP_H
#define VM_POLICY_HEAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/host.h"

#define VM_HEAP_NONE UINT32_MAX

struct vm_heap {
	uint32_t n;                /* frames in the heap */
	uint32_t *item;            /* item[0..n): frames; item[0] is the least */
	uint32_t *pos;             /* per frame: its index in item[], or VM_HEAP_NONE */
	uint64_t *k1, *k2;         /* per frame: the keys */
};

/* Room for frames 0..frames-1.  0 or -ENOMEM. */
int vm_heap_init(struct vm_heap *h, struct vm_host *host, uint32_t frames);
void vm_heap_fini(struct vm_heap *h, struct vm_host *host);

/* Add frame (not in the heap) with keys (k1, k2). */
void vm_heap_push(struct vm_heap *h, uint32_t frame, uint64_t k1, uint64_t k2);
/* Give frame (in the heap) new keys. */
void vm_heap_update(struct vm_heap *h, uint32_t frame, uint64_t k1, uint64_t k2);
/* Remove frame (in the heap). */
void vm_heap_del(struct vm_heap *h, uint32_t frame);

/* The least frame, or VM_HEAP_NONE when empty. */
static inline uint32_t vm_heap_top(const struct vm_heap *h)
{
	return h->n ? h->item[0] : VM_HEAP_NONE;
}

/* The frames in key order, least first, into out (room for h->n);
 * returns h->n.  The heap is unchanged. */
uint32_t vm_heap_sorted(const struct vm_heap *h, uint32_t *out);

/* Validate the heap order and positions: 0 or -EUCLEAN with msg. */
int vm_heap_check(const struct vm_heap *h, uint32_t frames, char *msg, size_t len);

#endif
