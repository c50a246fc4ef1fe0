/*
 * The MMU's slow path: everything after an L1 miss on the fast path, or a
 * hit the fast path could not take (a large page, a write with Dirty clear,
 * rights that fail, a protection key).
 */
#include "hw/mmu.h"

#include <errno.h>

/* What a TLB entry found for an access means. */
enum entry_use {
	USE_HIT,        /* allowed: translate from the entry */
	USE_REWALK,     /* a write allowed but Dirty clear: walk to set D (SDM 4.8) */
	USE_FAULT,      /* rights refused: #PF from the cached rights */
};

static enum entry_use use_entry(struct vm_cpu *cpu, const struct vm_tlbe *e, unsigned acc,
				uint32_t *error)
{
	*error = vm_access_check(e->perm, e->pkey, acc, &cpu->ctl);
	if (*error)
		return USE_FAULT;
	if ((acc & VM_ACC_KIND) == VM_ACC_WRITE && !(e->perm & VM_PERM_D))
		return USE_REWALK;
	return USE_HIT;
}

static uint64_t entry_pa(const struct vm_tlbe *e, vm_vaddr va)
{
	return e->pbase | (va & ((UINT64_C(1) << vm_psize_shift(e->size)) - 1));
}

/* L1 hits on large pages; 4 KiB L1 hits are derived in vm_cpu_stats(). */
static void count_l1_hit(struct vm_stats *s, bool fetch, enum vm_psize size)
{
	if (size == VM_PSIZE_2M)
		*(fetch ? &s->tlb_l1i_hit_2m : &s->tlb_l1d_hit_2m) += 1;
	else if (size == VM_PSIZE_1G)
		*(fetch ? &s->tlb_l1i_hit_1g : &s->tlb_l1d_hit_1g) += 1;
}

static void count_l2_hit(struct vm_stats *s, enum vm_psize size)
{
	if (size == VM_PSIZE_4K)
		s->tlb_l2_hit_4k++;
	else if (size == VM_PSIZE_2M)
		s->tlb_l2_hit_2m++;
	else
		s->tlb_l2_hit_1g++;
}

static int raise_pf(struct vm_cpu *cpu, vm_vaddr va, uint32_t error)
{
	struct vm_stats *s = &cpu->stats;
	s->pf++;
	if (error & VM_PF_P)
		s->pf_protection++;
	else
		s->pf_not_present++;
	s->pf_write += !!(error & VM_PF_W);
	s->pf_user += !!(error & VM_PF_U);
	s->pf_rsvd += !!(error & VM_PF_RSVD);
	s->pf_instr += !!(error & VM_PF_I);
	s->pf_pk += !!(error & VM_PF_PK);
	/* SDM 4.10.4.1: a page fault invalidates the TLB entries for the
	 * faulting address and the paging-structure-cache entries that would
	 * be used for it, so the retry after the handler walks afresh from
	 * memory: a fault caused by stale cached rights happens once. */
	vm_tlb_flush(&cpu->tlb, VM_MATCH_PCID_OR_GLOBAL, cpu->pcid, true, va);
	vm_pwc_flush_va(&cpu->pwc, cpu->pcid, va);
	cpu->cr2 = va;
	cpu->pf_error = error;
	cpu->last_exc = VM_EXC_PF;
	return VM_EXC_PF;
}

/* Count a walk's references and where it started. */
static void count_walk(struct vm_cpu *cpu, const struct vm_walk *w, unsigned top)
{
	struct vm_stats *s = &cpu->stats;
	s->walks++;
	s->walk_refs += w->nrefs;
	if (w->start_level >= top)
		s->pwc_miss++;
	else if (w->start_level == 1)
		s->pwc_hit_pt++;
	else if (w->start_level == 2)
		s->pwc_hit_pd++;
	else if (w->start_level == 3)
		s->pwc_hit_pdpt++;
	else
		s->pwc_hit_pml4++;
}

/* Walk the tables for va, fill L2 and L1 on success.  missed: both levels
 * have just missed va under the current PCID, so neither holds an entry to
 * overwrite (vm_tlb_insert); else (a re-walk to set D) one does. */
static int walk_and_fill(struct vm_cpu *cpu, struct vm_tlb_level *l1, vm_vaddr va,
			 unsigned acc, bool missed, vm_paddr *pa)
{
	struct vm_walk w;
	if (!cpu->pt)     /* no tables loaded: nothing is present */
		return raise_pf(cpu, va, vm_pf_access_bits(acc, &cpu->ctl));
	int rc = cpu->pt->ops->walk(cpu->pt, va, acc, &cpu->ctl, &cpu->pwc, cpu->pcid, &w);
	count_walk(cpu, &w, cpu->pt->levels);
	if (rc)
		return raise_pf(cpu, va, w.error);

	struct vm_tlb_fill f = {
		.pbase = w.pbase,
		.size = (uint8_t)w.size,
		.perm = w.perm,
		.pkey = w.pkey,
		.global = (w.perm & VM_PERM_G) && (cpu->cr4 & VM_CR4_PGE),
		.pcid = cpu->pcid,
	};
	if (!f.global)
		f.perm &= (uint8_t)~VM_PERM_G;
	if (missed) {
		vm_tlb_insert(&cpu->tlb, &cpu->tlb.l2, va, &f, cpu->clock);
		vm_tlb_insert(&cpu->tlb, l1, va, &f, cpu->clock);
	} else {
		vm_tlb_fill(&cpu->tlb, &cpu->tlb.l2, va, &f, cpu->clock);
		vm_tlb_fill(&cpu->tlb, l1, va, &f, cpu->clock);
	}
	pa->v = w.pbase | (va & ((UINT64_C(1) << vm_psize_shift(w.size)) - 1));
	return VM_EXC_NONE;
}

/* Refill L1, which has just missed va, from an L2 entry: the same piece,
 * still knowing the page it is part of (for invalidation). */
static void fill_from(struct vm_cpu *cpu, struct vm_tlb_level *l1, vm_vaddr va,
		      const struct vm_tlbe *e)
{
	struct vm_tlb_fill f = {
		.pbase = e->pbase,
		.size = e->size,
		.psize = e->psize,
		.perm = e->perm,
		.pkey = e->pkey,
		.global = e->pcid_mask == 0,
		.pcid = cpu->pcid,
	};
	vm_tlb_insert(&cpu->tlb, l1, va, &f, cpu->clock);
}

int vm_mmu_translate_slow(struct vm_cpu *cpu, vm_vaddr va, unsigned acc, vm_paddr *pa)
{
	unsigned kind = acc & VM_ACC_KIND;
	acc &= 15;
	if (kind == 3)
		return -EINVAL;
	if (!vm_canonical(va, cpu->ctl.va_bits)) {
		cpu->stats.gp_noncanonical++;
		cpu->last_exc = VM_EXC_GP;
		return VM_EXC_GP;
	}
	cpu->acc[kind]++;
	uint64_t now = ++cpu->clock;
	bool fetch = kind == VM_ACC_EXEC;
	struct vm_tlb_level *l1 = fetch ? &cpu->tlb.l1i : &cpu->tlb.l1d;
	struct vm_stats *s = &cpu->stats;
	uint32_t error;

	bool from_l2 = false;
	struct vm_tlbe *e = vm_tlb_lookup(&cpu->tlb, l1, va, cpu->pcid, now);
	if (e) {
		count_l1_hit(s, fetch, e->size);
	} else {
		if (fetch)
			s->tlb_l1i_miss++;
		else
			s->tlb_l1d_miss++;
		e = vm_tlb_lookup(&cpu->tlb, &cpu->tlb.l2, va, cpu->pcid, now);
		if (e)
			count_l2_hit(s, e->size);
		else
			s->tlb_l2_miss++;
		from_l2 = e != NULL;
	}
	if (!e)
		return walk_and_fill(cpu, l1, va, acc, true, pa);

	switch (use_entry(cpu, e, acc, &error)) {
	case USE_FAULT:
		if (!cpu->tlb.refresh_stale)
			return raise_pf(cpu, va, error);
		/* AMD: the fault is decided by a walk, not by the entry; the
		 * walk refills the entry when the PTE allows the access now. */
		s->tlb_rights_rewalk++;
		return walk_and_fill(cpu, l1, va, acc, false, pa);
	case USE_REWALK:
		s->tlb_dirty_rewalk++;
		return walk_and_fill(cpu, l1, va, acc, false, pa);
	case USE_HIT:
		break;
	}
	if (from_l2)
		fill_from(cpu, l1, va, e);
	pa->v = entry_pa(e, va);
	return VM_EXC_NONE;
}

/* Whether e answers the fast path for an access to v allowed by the rights
 * in ok (cpu->hit_ok[acc]): as vm_mmu_translate's test.  Each half is
 * expected true, so that the hits run straight through. */
static inline __attribute__((always_inline)) bool run_hit(const struct vm_tlbe *e, vm_vaddr v,
							  uint32_t ok)
{
	return VM_LIKELY(e->key == v >> 12) && VM_LIKELY(e->pbit & ok);
}

/* Translate va[i..n) on the fast path until an access it cannot take;
 * returns the index of that access, or n.  The accesses go two at a time, the
 * entry address of the second found before the first is checked, so that the
 * hash and the index load of one access overlap the tests of the other: 10 %
 * faster than one at a time (docs/benchmarks.md).  Nothing here changes what
 * an entry pointer names (only the slow path fills or evicts), so a pointer
 * found ahead stays right.  i < n; *clock is the CPU's clock, advanced for
 * every hit. */
static inline __attribute__((always_inline)) size_t
run_hits(const struct vm_tlb_array *a, const vm_vaddr *va, size_t i, size_t n, uint32_t ok,
	 uint64_t *clock, vm_paddr *pa, const bool with_pa, const bool plru)
{
	const size_t first = i;
	const uint64_t c0 = *clock;
	uint64_t c = c0;
	vm_vaddr x0 = va[i];
	struct vm_tlbe *e0 = vm_tlb_fast_entry(a, x0 >> 12);

	for (; i + 2 < n; i += 2) {
		vm_vaddr x1 = va[i + 1];
		struct vm_tlbe *e1 = vm_tlb_fast_entry(a, x1 >> 12);
		if (!run_hit(e0, x0, ok))
			break;
		e0->stamp = ++c;        /* above every stamp: see vm_tlb_touch */
		if (plru)
			vm_tlb_touch_plru(a, e0);
		if (with_pa)
			pa[i].v = x0 + e0->delta;
		x0 = va[i + 2];
		e0 = vm_tlb_fast_entry(a, x0 >> 12);
		if (!run_hit(e1, x1, ok))
			break;
		e1->stamp = ++c;
		if (plru)
			vm_tlb_touch_plru(a, e1);
		if (with_pa)
			pa[i + 1].v = x1 + e1->delta;
	}
	/* Every hit advanced the clock by one, so this is the access that
	 * stopped the pairs, or the first of the last one or two, which go one
	 * at a time. */
	for (i = first + (size_t)(c - c0); i < n; i++) {
		vm_vaddr x = va[i];
		struct vm_tlbe *e = vm_tlb_fast_entry(a, x >> 12);
		if (!run_hit(e, x, ok))
			break;
		e->stamp = ++c;
		if (plru)
			vm_tlb_touch_plru(a, e);
		if (with_pa)
			pa[i].v = x + e->delta;
	}
	*clock = c;
	return i;
}

/* The loop of vm_mmu_translate_run; inlined three times so that `with_pa`
 * and `plru` are constants and the hit path carries no test for them.
 * Returns the exception that stopped it; *slow counts the accesses the slow
 * path took. */
static inline __attribute__((always_inline)) int
run_loop(struct vm_cpu *cpu, struct vm_tlb_array *real, const vm_vaddr *va, size_t n,
	 unsigned acc, vm_paddr *pa, size_t *done, uint64_t *slow, const bool with_pa,
	 const bool plru)
{
	/* An array's geometry never changes after init and the slow path does
	 * not touch the control registers: local copies are exact for the run
	 * and stay in registers although the loop stores through e->stamp. */
	const struct vm_tlb_array a = *real;
	const uint32_t ok = cpu->hit_ok[acc];
	uint64_t clock = cpu->clock;
	int rc = VM_EXC_NONE;
	size_t i = 0;

	while (i < n) {
		i = run_hits(&a, va, i, n, ok, &clock, pa, with_pa, plru);
		if (i == n)
			break;
		cpu->clock = clock;     /* the slow path reads and advances it */
		vm_paddr one;
		(*slow)++;
		rc = vm_mmu_translate_slow(cpu, va[i], acc, &one);
		clock = cpu->clock;
		if (rc != VM_EXC_NONE)
			break;
		if (with_pa)
			pa[i] = one;
		i++;
	}
	cpu->clock = clock;
	*done = i;
	return rc;
}

int vm_mmu_translate_run(struct vm_cpu *cpu, const vm_vaddr *va, size_t n, unsigned acc,
			 vm_paddr *pa, size_t *done)
{
	unsigned kind = acc & VM_ACC_KIND;
	*done = 0;
	if (kind == 3)
		return -EINVAL;
	acc &= 15;
	struct vm_tlb_array *a = cpu->fast[kind];
	uint64_t slow = 0;
	int rc;
	if (a->plru)
		rc = run_loop(cpu, a, va, n, acc, pa, done, &slow, pa != NULL, true);
	else if (pa)
		rc = run_loop(cpu, a, va, n, acc, pa, done, &slow, true, false);
	else
		rc = run_loop(cpu, a, va, n, acc, pa, done, &slow, false, false);
	/* The slow path counted its own accesses, the one that stopped the run
	 * included; the fast path's are the rest. */
	cpu->acc[kind] += *done + (rc != VM_EXC_NONE) - slow;
	return rc;
}
