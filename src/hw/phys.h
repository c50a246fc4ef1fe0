/*
 * Simulated physical memory: nframes frames of 4 KiB.
 *
 * The bytes of every frame live in one host reservation (MAP_NORESERVE), so
 * a 64 GiB simulated memory costs the host only the frames that are touched.
 * In data mode every frame's bytes are readable and writable through this
 * API.  In meta mode frames carry no bytes: vm_phys_read/write/zero/copy
 * return -ENODATA.  Page-table frames hold their entries in both modes
 * (the hardware must be able to walk them), through vm_phys_entry().
 */
#ifndef VM_HW_PHYS_H
#define VM_HW_PHYS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <vmlab/types.h>

#include "base/host.h"

#define VM_PHYS_MIN  (UINT64_C(64) << 10)     /* 64 KiB */
#define VM_PHYS_MAX  (UINT64_C(1) << 40)      /* 1 TiB */

struct vm_phys {
	uint64_t nframes;         /* size >> 12; VM_PHYS_MIN..VM_PHYS_MAX bytes */
	unsigned char *bytes;     /* nframes << 12 bytes reserved; touched lazily */
	bool data;                /* data mode: frame bytes are the model's data */
	struct vm_host *host;
};

/* Reserve size bytes (a multiple of 4 KiB within [VM_PHYS_MIN, VM_PHYS_MAX]).
 * Returns 0, -EINVAL for a bad size, -ENOMEM if the host refuses; on failure
 * p is left empty, and vm_phys_fini on it does nothing. */
int vm_phys_init(struct vm_phys *p, struct vm_host *host, uint64_t size, bool data);
void vm_phys_fini(struct vm_phys *p);

/* Copy len bytes at physical address pa out of / into simulated memory.
 * The range must lie inside memory (it may cross frames).
 * Returns 0, -EINVAL (out of range or wrapping), -ENODATA (meta mode). */
int vm_phys_read(const struct vm_phys *p, vm_paddr pa, void *buf, size_t len);
int vm_phys_write(struct vm_phys *p, vm_paddr pa, const void *buf, size_t len);

/* Whole-frame helpers: same errors as above. */
int vm_phys_zero_frame(struct vm_phys *p, uint64_t pfn);
int vm_phys_copy_frame(struct vm_phys *p, uint64_t dst_pfn, uint64_t src_pfn);

/* Return a freed frame range's host memory (both modes; no error). */
void vm_phys_discard(struct vm_phys *p, uint64_t pfn, uint64_t nframes);

/* The 512 entries of a page-table frame, valid in both modes.  pfn must be
 * < nframes (callers own table frames they allocated). */
static inline uint64_t *vm_phys_table(const struct vm_phys *p, uint64_t pfn)
{
	return (uint64_t *)(void *)(p->bytes + (pfn << 12));
}

static inline bool vm_phys_valid(const struct vm_phys *p, vm_paddr pa)
{
	return (pa.v >> 12) < p->nframes;
}

#endif
