/*
 * Host memory for a machine.  Every host allocation a machine makes goes
 * through one struct vm_host so that it can be counted (the access fast path
 * must make none: the benchmark checks the count) and failed on purpose (the
 * fault-injection tests fail the N-th allocation for N = 1, 2, ...).
 */
#ifndef VM_BASE_HOST_H
#define VM_BASE_HOST_H

#include <stddef.h>
#include <stdint.h>

struct vm_host {
	uint64_t allocs;     /* successful allocations and reservations so far */
	uint64_t frees;      /* frees and releases so far; allocs - frees = live */
	uint64_t attempts;   /* allocation attempts, successful or not */
	uint64_t fail_at;    /* fail attempt number fail_at (1-based); 0 = never */
};

/* Zeroed heap memory of n bytes (n > 0), or NULL (out of memory or injected
 * failure).  Overflow-checked count * size. */
void *vm_host_calloc(struct vm_host *h, size_t count, size_t size);
void vm_host_free(struct vm_host *h, void *p);

/* Strdup through the hooks. */
char *vm_host_strdup(struct vm_host *h, const char *s);

/* Ask the host for 2 MiB pages under the array [p, p + bytes) (what of it
 * is aligned), where it has them (Linux: madvise MADV_HUGEPAGE), before
 * the array is first touched: arrays read at random (a policy's, a large
 * hash map) take a page-table walk per read otherwise, many more on a
 * virtual machine.  Only speed changes. */
void vm_host_hugepages(void *p, size_t bytes);

/* A large zero-filled reservation that costs the host only the pages that are
 * touched (mmap with MAP_NORESERVE).  NULL on failure. */
void *vm_host_reserve(struct vm_host *h, size_t bytes);
void vm_host_release(struct vm_host *h, void *p, size_t bytes);

/* Give the host back the pages of [p, p + bytes) (page aligned); they read as
 * zero afterwards. */
void vm_host_discard(void *p, size_t bytes);

#endif
