/*
 * Synthetic access patterns on bare hardware (include/vmlab/pattern.h).
 */
#include <vmlab/pattern.h>

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/compiler.h"
#include "base/error.h"
#include "core/machine.h"
#include "hw/mmu.h"

/* Where the region goes: 1 GiB aligned, in the user half, below the
 * 47-bit limit so that every page-table organisation can map it. */
#define PATTERN_BASE UINT64_C(0x100000000000)

static const char *const kind_names[VM_PATTERN_COUNT] = { "seq", "random", "hot" };

const char *vmlab_pattern_name(unsigned kind)
{
	return kind < VM_PATTERN_COUNT ? kind_names[kind] : NULL;
}

int vmlab_pattern_find(const char *name)
{
	for (unsigned i = 0; i < VM_PATTERN_COUNT; i++)
		if (strcmp(kind_names[i], name) == 0)
			return (int)i;
	return -1;
}

struct region {
	struct vm_machine *m;
	struct vm_pt pt;
	uint64_t pages;         /* mapped so far */
	unsigned order;         /* frames per page: 2^order */
	unsigned shift;         /* page shift */
};

static int free_leaf(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct region *r = ctx;
	vm_machine_frames_free(r->m, pte_pfn(leaf->pte) & ~((UINT64_C(1) << r->order) - 1), r->order);
	return 0;
}

static void region_unmap(struct region *r)
{
	if (r->pages)
		r->pt.ops->unmap(&r->pt, PATTERN_BASE, PATTERN_BASE + (r->pages << r->shift), free_leaf, r);
	vm_pt_destroy(&r->pt);
}

static int region_map(struct region *r, uint64_t npages)
{
	for (; r->pages < npages; r->pages++) {
		uint64_t pfn;
		int rc = vm_machine_frames_alloc(r->m, r->order, &pfn);
		if (rc)
			return rc;
		vm_vaddr va = PATTERN_BASE + (r->pages << r->shift);
		rc = r->pt.ops->map(&r->pt, va, pfn, (enum vm_psize)(r->order / 9),
				    VM_PTE_RW | VM_PTE_US | VM_PTE_NX);
		if (rc) {
			vm_machine_frames_free(r->m, pfn, r->order);
			return rc;
		}
	}
	return 0;
}

/* The next address of the stream. */
static vm_vaddr next_addr(const struct vm_pattern *p, struct vm_rng *rng, uint64_t *seq_off,
			  uint64_t size)
{
	uint64_t lines = size >> 6;
	switch (p->kind) {
	case VM_PATTERN_SEQ: {
		vm_vaddr va = PATTERN_BASE + *seq_off;
		*seq_off = (*seq_off + p->stride % size) % size;   /* no overflow: both < size */
		return va;
	}
	case VM_PATTERN_RANDOM:
		return PATTERN_BASE + (vm_rng_below(rng, lines) << 6);
	default: {
		uint64_t hot = VM_MAX(lines / 10, 1);
		if (vm_rng_below(rng, 10) < 9)
			return PATTERN_BASE + (vm_rng_below(rng, hot) << 6);
		return PATTERN_BASE + (vm_rng_below(rng, lines) << 6);
	}
	}
}

/* Generate the stream in chunks and translate each run of accesses of one
 * kind with vm_mmu_translate_run.  The stream has its own RNG, seeded from
 * the machine's, so that it is the same whatever the TLB draws (random
 * replacement) and whatever the page size. */
static int run_stream(struct vm_machine *m, struct vm_cpu *cpu, const struct vm_pattern *p,
		      uint64_t size, struct vm_error *err)
{
	enum { CHUNK = 1024 };
	vm_vaddr va[CHUNK];
	uint8_t acc[CHUNK];
	struct vm_rng gen;
	uint64_t seq_off = 0;
	vm_rng_seed(&gen, vm_rng_next(&m->rng));
	for (uint64_t done = 0; done < p->accesses;) {
		size_t n = (size_t)VM_MIN(p->accesses - done, (uint64_t)CHUNK);
		for (size_t i = 0; i < n; i++) {
			va[i] = next_addr(p, &gen, &seq_off, size);
			acc[i] = VM_ACC_USER;
			if (p->write_pct && vm_rng_below(&gen, 100) < p->write_pct)
				acc[i] |= VM_ACC_WRITE;
		}
		for (size_t i = 0; i < n;) {
			size_t j = i + 1, ok;
			while (j < n && acc[j] == acc[i])
				j++;
			if (vm_mmu_translate_run(cpu, va + i, j - i, acc[i], NULL, &ok) != VM_EXC_NONE)
				return vm_error_set(err, "unexpected fault at 0x%" PRIx64 " (error code 0x%x)",
						    va[i + ok], cpu->pf_error);
			i = j;
		}
		done += n;
	}
	return 0;
}

static int check_pattern(const struct vm_pattern *p, struct vm_error *err)
{
	if ((unsigned)p->kind >= VM_PATTERN_COUNT)
		return vm_error_set(err, "--pattern: unknown kind");
	if ((unsigned)p->page >= VM_PSIZE_COUNT)
		return vm_error_set(err, "--page-size: must be 4K, 2M or 1G");
	if (p->footprint < 64 || p->footprint > (UINT64_C(1) << 40))
		return vm_error_set(err, "--footprint: must be 64 bytes to 1T");
	if (p->kind == VM_PATTERN_SEQ && p->stride == 0)
		return vm_error_set(err, "--stride: must be at least 1 byte");
	if (p->write_pct > 100)
		return vm_error_set(err, "--writes: a percentage, 0 to 100");
	return 0;
}

static void stats_delta(struct vm_stats *d, const struct vm_stats *after, const struct vm_stats *before)
{
#define VM_DELTA(name, unit, help) d->name = after->name - before->name;
	VM_COUNTERS(VM_DELTA)
#undef VM_DELTA
}

int vmlab_pattern_run(struct vm_machine *m, const struct vm_pattern *p,
		      struct vm_pattern_result *out, struct vm_error *err)
{
	int rc = check_pattern(p, err);
	if (rc)
		return rc;
	struct region r = { .m = m, .order = 9 * (unsigned)p->page, .shift = vm_psize_shift(p->page) };
	uint64_t npages = VM_ALIGN_UP(p->footprint, UINT64_C(1) << r.shift) >> r.shift;
	uint64_t size = npages << r.shift;
	rc = vm_machine_pt_create(m, &r.pt);
	if (rc)
		return vm_error_set(err, "no frame for the root page table");
	rc = region_map(&r, npages);
	if (rc) {
		uint64_t mapped = r.pages;
		region_unmap(&r);
		vm_error_set(err, "phys=%s is too small: mapped %" PRIu64 " of %" PRIu64 " pages of %" PRIu64
			     " KiB before memory (or a block that large) ran out",
			     vm_settings_text(&m->settings, VM_SET_PHYS), mapped, npages,
			     (UINT64_C(1) << r.shift) >> 10);
		return -ENOMEM;
	}

	struct vm_cpu *cpu = &m->cpus[0];
	vm_cpu_write_cr3(cpu, &r.pt, 1, false);
	struct vm_stats before, after;
	vmlab_machine_stats(m, &before);
	rc = run_stream(m, cpu, p, size, err);
	vmlab_machine_stats(m, &after);
	stats_delta(&out->delta, &after, &before);
	out->pt_bytes = vm_pt_bytes(&r.pt);
	out->pages = npages;
	vm_cpu_write_cr3(cpu, NULL, 0, false);
	region_unmap(&r);
	return rc;
}
