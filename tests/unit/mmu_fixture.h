/*
 * Fixture for the tests that drive the whole translation hardware
 * (test_mmu, test_cpu, test_pattern): a machine built from settings words,
 * page tables in its memory loaded into CPU 0, raw access to their entries
 * (index arithmetic written out here, not the page-table code's), and
 * counter deltas checked counter by counter.
 *
 * Leaf frames are plain numbers: neither the page-table code nor the MMU
 * touches the frames a leaf maps, so tests need not allocate them.
 */
#ifndef VMLAB_MMU_FIXTURE_H
#define VMLAB_MMU_FIXTURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>
#include <vmlab/stats.h>

#include "core/machine.h"
#include "hw/mmu.h"
#include "tap.h"

/* A machine built from "key=value" words (NULL-terminated); NULL, with a
 * TAP comment saying why, when a word or the machine is refused. */
static struct vm_machine *mfx_machine(const char *const *words) __attribute__((unused));
static struct vm_machine *mfx_machine(const char *const *words)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err = { 0 };
	struct vm_machine *m = NULL;

	if (!s)
		return NULL;
	for (; *words; words++) {
		if (vmlab_settings_parse(s, *words, &err)) {
			diag("setting %s refused: %s", *words, err.msg);
			vmlab_settings_destroy(s);
			return NULL;
		}
	}
	if (vmlab_machine_create(s, NULL, &m, &err))
		diag("machine refused: %s", err.msg);
	vmlab_settings_destroy(s);
	return m;
}

#define MFX_MACHINE(...) mfx_machine((const char *const[]){ __VA_ARGS__, NULL })

/* A machine, CPU 0, and one page table loaded into CPU 0 under PCID 1. */
struct mfx {
	struct vm_machine *m;
	struct vm_cpu *cpu;
	struct vm_pt pt;
};

static void mfx_free(struct mfx *f) __attribute__((unused));
static void mfx_free(struct mfx *f)
{
	if (!f)
		return;
	if (f->cpu)
		vm_cpu_write_cr3(f->cpu, NULL, 0, false);
	vm_pt_destroy(&f->pt);
	vmlab_machine_destroy(f->m);
	free(f);
}

static struct mfx *mfx_new(const char *const *words) __attribute__((unused));
static struct mfx *mfx_new(const char *const *words)
{
	struct mfx *f = calloc(1, sizeof(*f));

	if (!f || !(f->m = mfx_machine(words)) || vm_machine_pt_create(f->m, &f->pt)) {
		mfx_free(f);
		return NULL;
	}
	f->cpu = vm_machine_cpu(f->m, 0);
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, false);
	return f;
}

#define MFX_NEW(...) mfx_new((const char *const[]){ __VA_ARGS__, NULL })

/* Map with the page-table code, saying so when it refuses. */
static int mfx_map(struct vm_pt *pt, vm_vaddr va, uint64_t pfn, enum vm_psize size,
		   uint64_t prot) __attribute__((unused));
static int mfx_map(struct vm_pt *pt, vm_vaddr va, uint64_t pfn, enum vm_psize size,
		   uint64_t prot)
{
	int rc = pt->ops->map(pt, va, pfn, size, prot);
	if (rc)
		diag("map 0x%" PRIx64 " refused: %d", va, rc);
	return rc;
}

/* mfx_new() with one 4 KiB page mapped at va -> pfn with prot; NULL on
 * failure. */
static struct mfx *mfx_new_page(vm_vaddr va, uint64_t pfn, uint64_t prot, const char *const *words)
	__attribute__((unused));
static struct mfx *mfx_new_page(vm_vaddr va, uint64_t pfn, uint64_t prot, const char *const *words)
{
	struct mfx *f = mfx_new(words);
	if (f && mfx_map(&f->pt, va, pfn, VM_PSIZE_4K, prot)) {
		mfx_free(f);
		return NULL;
	}
	return f;
}

#define MFX_PAGE(va, pfn, prot, ...) \
	mfx_new_page(va, pfn, prot, (const char *const[]){ __VA_ARGS__, NULL })

/* The entry of `level` (1 = PTE .. pt->levels) that translates va, found
 * by reading the tables in simulated memory: 9 index bits per level above
 * the 12 offset bits, the next table's frame in bits 12-51.  NULL when the
 * path ends above that level (an entry not present, or a leaf). */
static uint64_t *mfx_entry(struct mfx *f, const struct vm_pt *pt, vm_vaddr va, unsigned level)
	__attribute__((unused));
static uint64_t *mfx_entry(struct mfx *f, const struct vm_pt *pt, vm_vaddr va, unsigned level)
{
	uint64_t tpfn = pt->root_pfn;

	for (unsigned l = pt->levels;; l--) {
		uint64_t *ep = vm_phys_table(&f->m->phys, tpfn) + ((va >> (3 + 9 * l)) & 511);
		if (l == level)
			return ep;
		if (!(*ep & 1) || l == 1 || (l <= 3 && (*ep & 0x80)))
			return NULL;
		tpfn = (*ep & UINT64_C(0x000ffffffffff000)) >> 12;
	}
}

/* Physical address of an entry (as a walk reports it in ref[]). */
static uint64_t mfx_entry_pa(struct mfx *f, const uint64_t *ep) __attribute__((unused));
static uint64_t mfx_entry_pa(struct mfx *f, const uint64_t *ep)
{
	return (uint64_t)((const unsigned char *)ep - f->m->phys.bytes);
}

/* Translate; *pa (may be NULL) is the physical address, UINT64_MAX unless
 * the result is VM_EXC_NONE. */
static int mfx_tr(struct vm_cpu *cpu, vm_vaddr va, unsigned acc, uint64_t *pa)
	__attribute__((unused));
static int mfx_tr(struct vm_cpu *cpu, vm_vaddr va, unsigned acc, uint64_t *pa)
{
	vm_paddr p = { UINT64_MAX };
	int exc = vm_mmu_translate(cpu, va, acc, &p);
	if (pa)
		*pa = exc == VM_EXC_NONE ? p.v : UINT64_MAX;
	return exc;
}

static struct vm_stats mfx_stats(const struct vm_machine *m) __attribute__((unused));
static struct vm_stats mfx_stats(const struct vm_machine *m)
{
	struct vm_stats s;
	vmlab_machine_stats(m, &s);
	return s;
}

/* One expected change of a counter, by its public name. */
struct mfx_want {
	const char *name;
	uint64_t delta;
};

/* One assertion: every hardware counter changed from *before to *after by
 * exactly the delta listed in want (terminated by a NULL name), and the
 * unlisted ones not at all.  Each difference is a TAP comment. */
static int mfx_deltas(const struct vm_stats *before, const struct vm_stats *after,
		      const struct mfx_want *want, const char *fmt, ...)
	__attribute__((unused, format(printf, 4, 5)));
static int mfx_deltas(const struct vm_stats *before, const struct vm_stats *after,
		      const struct mfx_want *want, const char *fmt, ...)
{
	unsigned bad = 0, listed = 0;
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	for (const struct mfx_want *w = want; w->name; w++, listed++) {
		int i = vmlab_counter_find(w->name);
		if (i < 0 || i >= VM_CNT_frames_total) {
			diag("%s: no hardware counter called %s", what, w->name);
			bad++;
		}
	}
	for (unsigned i = 0; i < VM_CNT_frames_total; i++) {
		const char *name = vmlab_counter_name(i);
		uint64_t d = vmlab_counter_get(after, i) - vmlab_counter_get(before, i), exp = 0;
		for (unsigned k = 0; k < listed; k++)
			if (strcmp(want[k].name, name) == 0)
				exp = want[k].delta;
		if (d != exp) {
			diag("%s: %s changed by %" PRId64 ", expected %" PRIu64, what, name, (int64_t)d, exp);
			bad++;
		}
	}
	return ok(bad == 0, "%s: every hardware counter changed by exactly what is expected", what);
}

#endif
