#include "hw/phys.h"

#include <errno.h>

#include "base/compiler.h"

int vm_phys_init(struct vm_phys *p, struct vm_host *host, uint64_t size, bool data)
{
	/* Empty first, so that a caller's one error path may fini whatever
	 * init returned (the caller's struct may hold stack garbage). */
	memset(p, 0, sizeof(*p));
	if (size < VM_PHYS_MIN || size > VM_PHYS_MAX || !VM_IS_ALIGNED(size, VM_PAGE_SIZE))
		return -EINVAL;
	/* One reservation in both modes: in meta mode only page-table frames
	 * are ever touched, so the host pays for those alone. */
	p->bytes = vm_host_reserve(host, (size_t)size);
	if (!p->bytes)
		return -ENOMEM;
	p->nframes = size >> VM_PAGE_SHIFT;
	p->data = data;
	p->host = host;
	return 0;
}

void vm_phys_fini(struct vm_phys *p)
{
	if (p->bytes)
		vm_host_release(p->host, p->bytes, (size_t)(p->nframes << VM_PAGE_SHIFT));
	p->bytes = NULL;
	p->nframes = 0;
}

/* A byte range is usable when it lies inside memory without wrapping. */
static int range_ok(const struct vm_phys *p, uint64_t pa, size_t len)
{
	uint64_t size = p->nframes << VM_PAGE_SHIFT;
	return pa <= size && len <= size - pa;
}

int vm_phys_read(const struct vm_phys *p, vm_paddr pa, void *buf, size_t len)
{
	if (!range_ok(p, pa.v, len))
		return -EINVAL;
	if (!p->data)
		return -ENODATA;
	if (len)                /* buf may be NULL then, and memcpy forbids it */
		memcpy(buf, p->bytes + pa.v, len);
	return 0;
}

int vm_phys_write(struct vm_phys *p, vm_paddr pa, const void *buf, size_t len)
{
	if (!range_ok(p, pa.v, len))
		return -EINVAL;
	if (!p->data)
		return -ENODATA;
	if (len)
		memcpy(p->bytes + pa.v, buf, len);
	return 0;
}

int vm_phys_zero_frame(struct vm_phys *p, uint64_t pfn)
{
	if (pfn >= p->nframes)
		return -EINVAL;
	if (!p->data)
		return -ENODATA;
	memset(p->bytes + (pfn << VM_PAGE_SHIFT), 0, VM_PAGE_SIZE);
	return 0;
}

int vm_phys_copy_frame(struct vm_phys *p, uint64_t dst_pfn, uint64_t src_pfn)
{
	if (dst_pfn >= p->nframes || src_pfn >= p->nframes)
		return -EINVAL;
	if (!p->data)
		return -ENODATA;
	if (dst_pfn != src_pfn)
		memcpy(p->bytes + (dst_pfn << VM_PAGE_SHIFT), p->bytes + (src_pfn << VM_PAGE_SHIFT),
		       VM_PAGE_SIZE);
	return 0;
}

void vm_phys_discard(struct vm_phys *p, uint64_t pfn, uint64_t nframes)
{
	if (pfn >= p->nframes || nframes > p->nframes - pfn || nframes == 0)
		return;
	vm_host_discard(p->bytes + (pfn << VM_PAGE_SHIFT), (size_t)(nframes << VM_PAGE_SHIFT));
}
