/*
 * The names a CHOICE setting accepts, each list owned by the layer that
 * defines it (presets, page-table organisations) and read through its
 * registry, so a new preset is one table line and no settings change.
 */
#include <stddef.h>

#include "base/compiler.h"
#include "core/settings_table.h"
#include "hw/pt.h"
#include "hw/tlb.h"
#include "policy/evict.h"

const char *vm_choice_mode(unsigned i)
{
	static const char *const names[] = { "data", "meta" };
	return i < VM_ARRAY_SIZE(names) ? names[i] : NULL;
}

/* Index 0 keeps each array's own policy; i > 0 is enum vm_tlb_repl i - 1. */
const char *vm_choice_tlb_repl(unsigned i)
{
	static const char *const names[] = { "preset", "lru", "plru", "random" };
	return i < VM_ARRAY_SIZE(names) ? names[i] : NULL;
}

const char *vm_choice_tlb(unsigned i)
{
	const struct vm_tlb_preset *p = vm_tlb_preset_at(i);
	return p ? p->name : NULL;
}

const char *vm_choice_pt(unsigned i)
{
	const struct vm_pt_type *t = vm_pt_type_at(i);
	return t ? t->name : NULL;
}

const char *vm_choice_thp(unsigned i)
{
	static const char *const names[] = { "never", "madvise", "always" };
	return i < VM_ARRAY_SIZE(names) ? names[i] : NULL;
}

const char *vm_choice_pagecache(unsigned i)
{
	static const char *const names[] = { "warm", "cold" };
	return i < VM_ARRAY_SIZE(names) ? names[i] : NULL;
}

const char *vm_choice_policy(unsigned i)
{
	const struct vm_evict_ops *ops = vm_evict_at(i);
	return ops ? ops->name : NULL;
}
