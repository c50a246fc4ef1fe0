/*
 * Indexed binary heap (heap.h).
 */
#include "policy/heap.h"

#include <errno.h>
#include <string.h>

#include "base/error.h"

int vm_heap_init(struct vm_heap *h, struct vm_host *host, uint32_t frames)
{
	memset(h, 0, sizeof(*h));
	h->item = vm_host_calloc(host, frames, sizeof(*h->item));
	h->pos = vm_host_calloc(host, frames, sizeof(*h->pos));
	h->k1 = vm_host_calloc(host, frames, sizeof(*h->k1));
	h->k2 = vm_host_calloc(host, frames, sizeof(*h->k2));
	if (!h->item || !h->pos || !h->k1 || !h->k2) {
		vm_heap_fini(h, host);
		return -ENOMEM;
	}
	memset(h->pos, 0xff, (size_t)frames * sizeof(*h->pos));
	return 0;
}

void vm_heap_fini(struct vm_heap *h, struct vm_host *host)
{
	vm_host_free(host, h->item);
	vm_host_free(host, h->pos);
	vm_host_free(host, h->k1);
	vm_host_free(host, h->k2);
	memset(h, 0, sizeof(*h));
}

static inline int less(const struct vm_heap *h, uint32_t a, uint32_t b)
{
	return h->k1[a] < h->k1[b] || (h->k1[a] == h->k1[b] && h->k2[a] < h->k2[b]);
}

static inline void place(struct vm_heap *h, uint32_t i, uint32_t frame)
{
	h->item[i] = frame;
	h->pos[frame] = i;
}

static void sift_up(struct vm_heap *h, uint32_t i)
{
	uint32_t f = h->item[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!less(h, f, h->item[parent]))
			break;
		place(h, i, h->item[parent]);
		i = parent;
	}
	place(h, i, f);
}

static void sift_down(struct vm_heap *h, uint32_t i)
{
	uint32_t f = h->item[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && less(h, h->item[c + 1], h->item[c]))
			c++;
		if (!less(h, h->item[c], f))
			break;
		place(h, i, h->item[c]);
		i = c;
	}
	place(h, i, f);
}

void vm_heap_push(struct vm_heap *h, uint32_t frame, uint64_t k1, uint64_t k2)
{
	h->k1[frame] = k1;
	h->k2[frame] = k2;
	place(h, h->n++, frame);
	sift_up(h, h->n - 1);
}

void vm_heap_update(struct vm_heap *h, uint32_t frame, uint64_t k1, uint64_t k2)
{
	h->k1[frame] = k1;
	h->k2[frame] = k2;
	sift_up(h, h->pos[frame]);
	sift_down(h, h->pos[frame]);
}

void vm_heap_del(struct vm_heap *h, uint32_t frame)
{
	uint32_t i = h->pos[frame];
	uint32_t last = h->item[--h->n];
	h->pos[frame] = VM_HEAP_NONE;
	if (last == frame)
		return;
	place(h, i, last);
	sift_up(h, i);
	sift_down(h, h->pos[last]);
}

int vm_heap_check(const struct vm_heap *h, uint32_t frames, char *msg, size_t len)
{
	uint32_t in = 0;
	for (uint32_t f = 0; f < frames; f++)
		if (h->pos[f] != VM_HEAP_NONE) {
			in++;
			if (h->pos[f] >= h->n || h->item[h->pos[f]] != f)
				return vm_check_fail(msg, len, "heap: frame %u has a wrong position", f);
		}
	if (in != h->n)
		return vm_check_fail(msg, len, "heap: %u frames placed, n = %u", in, h->n);
	for (uint32_t i = 1; i < h->n; i++)
		if (less(h, h->item[i], h->item[(i - 1) / 2]))
			return vm_check_fail(msg, len, "heap: order broken at %u", i);
	return 0;
}

/* Heap-sort the frames of h into out[0..n) by their keys, least first,
 * without touching h: a sift-down heap of the copies, largest at the root. */
static void sorted_sift(const struct vm_heap *h, uint32_t *a, uint32_t n, uint32_t i)
{
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && less(h, a[c], a[c + 1]))
			c++;
		if (!less(h, a[i], a[c]))
			return;
		uint32_t t = a[i];
		a[i] = a[c];
		a[c] = t;
		i = c;
	}
}

uint32_t vm_heap_sorted(const struct vm_heap *h, uint32_t *out)
{
	uint32_t n = h->n;
	for (uint32_t i = 0; i < n; i++)
		out[i] = h->item[i];
	for (uint32_t i = n / 2; i-- > 0;)
		sorted_sift(h, out, n, i);
	for (uint32_t end = n; end > 1; end--) {
		uint32_t t = out[0];
		out[0] = out[end - 1];
		out[end - 1] = t;
		sorted_sift(h, out, end - 1, 0);
	}
	return n;
}
