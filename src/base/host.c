#include "base/host.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* One place decides whether an attempt fails, so that injected failures hit
 * heap and reservations alike. */
static int attempt_fails(struct vm_host *h)
{
	h->attempts++;
	return h->fail_at && h->attempts == h->fail_at;
}

void *vm_host_calloc(struct vm_host *h, size_t count, size_t size)
{
	if (attempt_fails(h))
		return NULL;
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (p)
		h->allocs++;
	return p;
}

void vm_host_free(struct vm_host *h, void *p)
{
	if (!p)
		return;
	h->frees++;
	free(p);
}

char *vm_host_strdup(struct vm_host *h, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = vm_host_calloc(h, 1, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

void vm_host_hugepages(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
	uintptr_t start = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
	uintptr_t end = ((uintptr_t)p + bytes) & ~(uintptr_t)((2u << 20) - 1);
	if (p && end > start)
		(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

void *vm_host_reserve(struct vm_host *h, size_t bytes)
{
	if (attempt_fails(h))
		return NULL;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	h->allocs++;
	return p;
}

void vm_host_release(struct vm_host *h, void *p, size_t bytes)
{
	if (!p)
		return;
	h->frees++;
	munmap(p, bytes);
}

void vm_host_discard(void *p, size_t bytes)
{
	madvise(p, bytes, MADV_DONTNEED);
}
