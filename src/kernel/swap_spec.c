/*
 * The `swap` setting's list of areas (swap_spec.h): parse, check, format.
 */
#include "kernel/swap_spec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <vmlab/settings.h>

#include "base/compiler.h"
#include "base/error.h"
#include "hw/pte.h"

/* Say why in why (len bytes; may be NULL) and return -EINVAL. */
#define why_set(why, len, ...) (vm_check_fail((why), (len), __VA_ARGS__), -EINVAL)

/* swapon -p: -1 .. 32767, decimal, nothing after it. */
static int parse_prio(const char *p, size_t n, int *prio)
{
	bool neg = n && *p == '-';
	long v = 0;

	if (neg) {
		p++;
		n--;
	}
	if (!n || n > 6)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -EINVAL;
		v = v * 10 + (p[i] - '0');
	}
	v = neg ? -v : v;
	if (v < VM_SWAP_PRIO_NONE || v > VM_SWAP_PRIO_MAX)
		return -ERANGE;
	*prio = (int)v;
	return 0;
}

/* One item `size[:priority]` of n bytes at p. */
static int parse_item(const char *p, size_t n, unsigned i, struct vm_swap_spec *spec, char *why,
		      size_t len)
{
	const char *colon = memchr(p, ':', n);
	size_t sn = colon ? (size_t)(colon - p) : n;
	char size[32];

	if (!n)
		return why_set(why, len, "area %u is empty", i + 1);
	if (sn >= sizeof(size) || !sn)
		return why_set(why, len, "area %u: '%.*s' is not a size", i + 1, (int)VM_MIN(n, 40), p);
	memcpy(size, p, sn);
	size[sn] = '\0';
	if (vmlab_parse_size(size, &spec->area[i].bytes))
		return why_set(why, len, "area %u: '%s' is not a size (a number with K, M, G or T)",
			       i + 1, size);
	spec->area[i].prio = VM_SWAP_PRIO_NONE;
	if (!colon)
		return 0;
	int rc = parse_prio(colon + 1, n - sn - 1, &spec->area[i].prio);
	if (rc == -ERANGE)
		return why_set(why, len, "area %u: priority %.*s out of range (-1 to %d, as swapon -p)",
			       i + 1, (int)VM_MIN(n - sn - 1, 20), colon + 1, VM_SWAP_PRIO_MAX);
	if (rc)
		return why_set(why, len, "area %u: '%.*s' is not a priority (a whole number, -1 to %d)",
			       i + 1, (int)VM_MIN(n - sn - 1, 20), colon + 1, VM_SWAP_PRIO_MAX);
	return 0;
}

int vm_swap_spec_parse(const char *text, struct vm_swap_spec *spec, char *why, size_t len)
{
	const char *p = text;

	memset(spec, 0, sizeof(*spec));
	if (!text)
		return why_set(why, len, "no value");
	if (strcmp(text, "0") == 0)
		return 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (spec->n == VM_MAX_SWAPFILES)
			return why_set(why, len, "more than %d areas (Linux's MAX_SWAPFILES)",
				       VM_MAX_SWAPFILES);
		int rc = parse_item(p, n, spec->n, spec, why, len);
		if (rc)
			return rc;
		spec->n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	return vm_swap_spec_check(spec, why, len);
}

int vm_swap_spec_check(const struct vm_swap_spec *spec, char *why, size_t len)
{
	uint64_t total = 0;

	if (spec->n > VM_MAX_SWAPFILES)
		return why_set(why, len, "more than %d areas (Linux's MAX_SWAPFILES)", VM_MAX_SWAPFILES);
	for (unsigned i = 0; i < spec->n; i++) {
		uint64_t b = spec->area[i].bytes;
		int prio = spec->area[i].prio;
		if (b < 2 * VM_PAGE_SIZE || !VM_IS_ALIGNED(b, VM_PAGE_SIZE)) {
			char size[24];
			vmlab_format_size(b, size, sizeof(size));
			return why_set(why, len, "area %u: %s is not a multiple of 4K of at least 8K "
				       "(a header page and a slot)", i + 1, size);
		}
		if (prio < VM_SWAP_PRIO_NONE || prio > VM_SWAP_PRIO_MAX)
			return why_set(why, len, "area %u: priority %d out of range (-1 to %d)", i + 1,
				       prio, VM_SWAP_PRIO_MAX);
		if (b > VM_SWAP_TOTAL_MAX - total)
			return why_set(why, len, "more than 64G of swap in all");
		total += b;
	}
	return 0;
}

int vm_swap_spec_format(const struct vm_swap_spec *spec, char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	if (!spec->n)
		return snprintf(buf, len, "0") < (int)len ? 0 : -ENOSPC;
	for (unsigned i = 0; i < spec->n; i++) {
		char size[24], prio[16] = "";
		vmlab_format_size(spec->area[i].bytes, size, sizeof(size));
		if (spec->area[i].prio != VM_SWAP_PRIO_NONE)
			snprintf(prio, sizeof(prio), ":%d", spec->area[i].prio);
		int n = snprintf(buf + used, len - used, "%s%s%s", i ? "," : "", size, prio);
		if (n < 0 || (size_t)n >= len - used)
			return -ENOSPC;
		used += (size_t)n;
	}
	return 0;
}

uint64_t vm_swap_spec_bytes(const struct vm_swap_spec *spec)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < spec->n; i++)
		total += spec->area[i].bytes;
	return total;
}
