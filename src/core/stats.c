/*
 * Names, units and help of the counters, from the one X-macro list in
 * include/vmlab/stats.h.
 */
#include <vmlab/stats.h>

#include <string.h>

static const struct {
	const char *name, *unit, *help;
	size_t offset;
} counters[VM_CNT_COUNT] = {
#define VM_COUNTER_ROW(n, u, h) { #n, u, h, offsetof(struct vm_stats, n) },
	VM_COUNTERS(VM_COUNTER_ROW)
#undef VM_COUNTER_ROW
};

const char *vmlab_counter_name(unsigned i)
{
	return i < VM_CNT_COUNT ? counters[i].name : NULL;
}

const char *vmlab_counter_unit(unsigned i)
{
	return i < VM_CNT_COUNT ? counters[i].unit : NULL;
}

const char *vmlab_counter_help(unsigned i)
{
	return i < VM_CNT_COUNT ? counters[i].help : NULL;
}

uint64_t vmlab_counter_get(const struct vm_stats *s, unsigned i)
{
	uint64_t v = 0;
	if (i < VM_CNT_COUNT)
		memcpy(&v, (const char *)s + counters[i].offset, sizeof(v));
	return v;
}

int vmlab_counter_find(const char *name)
{
	for (unsigned i = 0; i < VM_CNT_COUNT; i++)
		if (strcmp(counters[i].name, name) == 0)
			return (int)i;
	return -1;
}
