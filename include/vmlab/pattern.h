/*
 * vmlab — synthetic access patterns on bare hardware.
 *
 * Maps a region of `footprint` bytes with pages of one size straight into a
 * fresh page table (no kernel: every page present, user read/write), loads
 * it into CPU 0 and runs a generated stream of user-mode accesses through
 * the MMU.  What it measures is the translation hardware alone: TLB hits
 * per level, walks, walk references, paging-structure-cache hits, and the
 * page-table memory the mapping needs — so that page sizes, TLB presets and
 * page-table organisations can be compared on the same stream.
 */
#ifndef VMLAB_PATTERN_H
#define VMLAB_PATTERN_H

#include <vmlab/stats.h>
#include <vmlab/types.h>

enum vm_pattern_kind {
	VM_PATTERN_SEQ,      /* base, base + stride, ... wrapping at the footprint */
	VM_PATTERN_RANDOM,   /* uniform over the footprint, 64-byte aligned */
	VM_PATTERN_HOT,      /* 90% of accesses to the first 10% of the footprint */
	VM_PATTERN_COUNT
};

struct vm_pattern {
	enum vm_pattern_kind kind;
	uint64_t footprint;     /* bytes; rounded up to whole pages */
	uint64_t stride;        /* VM_PATTERN_SEQ: bytes between accesses (> 0) */
	uint64_t accesses;      /* how many to run */
	unsigned write_pct;     /* 0..100: share of accesses that are writes */
	enum vm_psize page;     /* page size the region is mapped with */
};

/* What a run measured. */
struct vm_pattern_result {
	struct vm_stats delta;  /* counters during the access stream only */
	uint64_t pt_bytes;      /* page-table memory for the mapping */
	uint64_t pages;         /* pages mapped */
};

/* Name of a kind ("seq", "random", "hot"), NULL past the end; and back. */
const char *vmlab_pattern_name(unsigned kind);
int vmlab_pattern_find(const char *name);

/* Run pattern p on machine m (its frames, CPU 0, its RNG).  Everything the
 * run maps is unmapped and freed afterwards.  Returns 0, -EINVAL (bad
 * pattern: err says which field), -ENOMEM (physical memory too small for
 * the footprint and its tables: err says how much is needed). */
int vmlab_pattern_run(struct vm_machine *m, const struct vm_pattern *p,
		      struct vm_pattern_result *out, struct vm_error *err);

#endif
