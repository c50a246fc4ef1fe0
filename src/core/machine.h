/*
 * The machine: the one object everything hangs off (DESIGN.md rule 1).
 * Internal layout; the public API is include/vmlab/machine.h.
 */
#ifndef VM_CORE_MACHINE_H
#define VM_CORE_MACHINE_H

#include <vmlab/machine.h>
#include <vmlab/stats.h>

#include "base/host.h"
#include "base/rng.h"
#include "core/settings_table.h"
#include "hw/cpu.h"
#include "hw/phys.h"
#include "hw/pt.h"
#include "kernel/buddy.h"
#include "kernel/kernel.h"
#include "kernel/page.h"

struct vm_machine {
	struct vm_host host;              /* every host allocation goes through here */
	struct vm_settings settings;      /* what the machine was built from */
	struct vm_rng rng;                /* the only source of randomness */
	struct vm_phys phys;
	struct vm_page *pages;            /* phys.nframes descriptors (host reservation) */
	struct vm_buddy buddy;
	unsigned ncpus;
	struct vm_cpu *cpus;              /* ncpus */
	const struct vm_pt_type *pt_type; /* organisation of new page tables */
	struct vm_frame_source table_src; /* buddy frames flagged VM_PG_PGTABLE */
	uint64_t frames_pt;               /* frames holding page tables now */
	struct vm_stats kstats;           /* the kernel's counters (VM_COUNTERS_KERNEL only) */
	struct vm_kernel kernel;          /* processes and address spaces on the CPUs above;
					   * built last, torn down first */
};

/* The machine's kernel (processes, address spaces, files). */
static inline struct vm_kernel *vm_machine_kernel(struct vm_machine *m)
{
	return &m->kernel;
}

/* Create an (empty) page table of the machine's organisation, its frames
 * from the buddy allocator.  0, -ENOMEM. */
int vm_machine_pt_create(struct vm_machine *m, struct vm_pt *pt);

/* Frames for data: a block of 2^order from the buddy allocator (refcount 1).
 * 0, -ENOMEM, -EINVAL. */
int vm_machine_frames_alloc(struct vm_machine *m, unsigned order, uint64_t *pfn);
int vm_machine_frames_free(struct vm_machine *m, uint64_t pfn, unsigned order);

static inline struct vm_cpu *vm_machine_cpu(struct vm_machine *m, unsigned i)
{
	return i < m->ncpus ? &m->cpus[i] : NULL;
}

#endif
