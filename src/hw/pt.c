/*
 * The registry of page-table organisations, and creating one by name.
 */
#include "hw/pt.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "hw/pt_internal.h"

static const struct vm_pt_type pt_types[] = {
	{ "radix4", "x86-64 4-level radix tables (PML4), 48-bit virtual addresses",
	  &vm_pt_radix_ops, 4 },
	{ "radix5", "x86-64 5-level radix tables (PML5, LA57), 57-bit virtual addresses",
	  &vm_pt_radix_ops, 5 },
};

const struct vm_pt_type *vm_pt_type_at(unsigned i)
{
	return i < VM_ARRAY_SIZE(pt_types) ? &pt_types[i] : NULL;
}

const struct vm_pt_type *vm_pt_type_find(const char *name)
{
	for (unsigned i = 0; name && i < VM_ARRAY_SIZE(pt_types); i++)
		if (strcmp(pt_types[i].name, name) == 0)
			return &pt_types[i];
	return NULL;
}

int vm_pt_create(struct vm_pt *pt, const char *type, struct vm_phys *phys,
		 const struct vm_frame_source *src)
{
	const struct vm_pt_type *t = vm_pt_type_find(type);

	if (!t || !phys || !src || !src->alloc || !src->free)
		return -EINVAL;
	*pt = (struct vm_pt){
		.phys = phys,
		.src = *src,
		.levels = t->levels,
		/* 9 index bits per level above the 12-bit page offset */
		.va_bits = 12 + 9 * t->levels,
	};
	int err = t->ops->create(pt);
	if (err)
		return err;
	pt->ops = t->ops;
	return 0;
}

void vm_pt_destroy(struct vm_pt *pt)
{
	if (!pt || !pt->ops)
		return;
	pt->ops->destroy(pt);
	pt->ops = NULL;
}
