/*
 * Unit tests for the TLB arrays and presets (src/hw/tlb.c, tlb_presets.c).
 *
 * Most tests build a one-level configuration by hand so that the expected
 * set, way and victim of every fill can be worked out on paper; the preset
 * tests check the documented geometries.  Presence is checked by scanning
 * the arrays (has_entry), not by vm_tlb_lookup, so that checking never
 * changes recency.
 */
#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "hw/tlb.h"
#include "tap.h"

#define S4K (1u << VM_PSIZE_4K)
#define S2M (1u << VM_PSIZE_2M)
#define S1G (1u << VM_PSIZE_1G)

#define ARR(n, w, sz, r) { .entries = (n), .ways = (w), .sizes = (sz), .repl = (r) }
#define CFG(n, w, sz, r) ((struct vm_tlb_array_cfg)ARR(n, w, sz, r))

/* Physical base the tests give the page of va (any function of va will do;
 * an offset makes a wrong pbase visible). */
#define PHYS_OFF (UINT64_C(1) << 40)

static uint64_t pbase_of(vm_vaddr va, unsigned size)
{
	return (va & ~((UINT64_C(1) << vm_psize_shift(size)) - 1)) + PHYS_OFF;
}

/* A TLB whose L1 DTLB is the arrays a[0..n); the other levels are empty. */
static int init_l1d(struct vm_tlb *t, struct vm_host *h, struct vm_rng *r,
		    const struct vm_tlb_array_cfg *a, unsigned n)
{
	struct vm_tlb_preset p = { .name = "test" };
	for (unsigned i = 0; i < n; i++)
		p.l1d.a[i] = a[i];
	return vm_tlb_init(t, &p, -1, h, r);
}

/* The same with one array and no RNG. */
static int init_one(struct vm_tlb *t, struct vm_host *h, struct vm_tlb_array_cfg a)
{
	return init_l1d(t, h, NULL, &a, 1);
}

static void fill(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va, unsigned size,
		 uint16_t pcid, bool global, uint64_t now)
{
	struct vm_tlb_fill f = {
		.pbase = pbase_of(va, size),
		.size = (uint8_t)size,
		.perm = 3,
		.pkey = 0,
		.global = global,
		.pcid = pcid,
	};
	vm_tlb_fill(t, lv, va, &f, now);
}

static void fill4k(struct vm_tlb *t, vm_vaddr va, uint64_t now)
{
	fill(t, &t->l1d, va, VM_PSIZE_4K, 1, false, now);
}

/* The entry of lv mapping va with this size, pcid and globalness, found
 * without touching it; NULL if none. */
static const struct vm_tlbe *has_entry(const struct vm_tlb_level *lv, vm_vaddr va,
				       unsigned size, uint16_t pcid, bool global)
{
	uint64_t tag = (va >> vm_psize_shift(size)) << 2 | size;
	for (unsigned i = 0; i < lv->n; i++) {
		const struct vm_tlb_array *a = &lv->a[i];
		for (uint32_t j = 0; j < a->sets * a->ways; j++) {
			const struct vm_tlbe *e = &a->e[j];
			if (e->tag == tag && e->pcid == pcid && (e->pcid_mask == 0) == global)
				return e;
		}
	}
	return NULL;
}

/* Slot of array a holding va's 4 KiB entry, or -1. */
static long slot_of(const struct vm_tlb_array *a, vm_vaddr va)
{
	for (uint32_t j = 0; j < a->sets * a->ways; j++)
		if (a->e[j].tag == (va >> 12) << 2)
			return (long)j;
	return -1;
}

/* What the inline fast path of mmu.h reads: one hint, one entry. */
static const struct vm_tlbe *fast_probe(const struct vm_tlb_array *a, vm_vaddr va, uint16_t pcid)
{
	uint64_t vpn = va >> 12;
	const struct vm_tlbe *e = &a->e[a->hint[vpn & a->hint_mask]];
	if (e->tag == vpn << 2 && !((e->pcid ^ pcid) & e->pcid_mask))
		return e;
	return NULL;
}

static void test_set_index(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;

	/* 16 entries, 4 ways: 4 sets, indexed by a mask. */
	is_i64(init_one(&t, &h, CFG(16, 4, S4K | S2M, VM_REPL_LRU)), 0, "init 16x4");
	fill4k(&t, 5 << 12, 1);
	is_u64(slot_of(&t.l1d.a[0], 5 << 12), 1 * 4 + 0, "vpn 5 -> set 1, way 0");
	fill4k(&t, 9 << 12, 2);
	is_u64(slot_of(&t.l1d.a[0], 9 << 12), 1 * 4 + 1, "vpn 9 -> set 1, way 1");
	/* A 2 MiB entry is indexed by its own page number: va 3 * 2M + 0x5000
	 * has vpn 1541 (set 1) but 2 MiB page 3 (set 3). */
	vm_vaddr va2m = 3 * VM_PMD_SIZE + 0x5000;
	fill(&t, &t.l1d, va2m, VM_PSIZE_2M, 1, false, 3);
	is_u64(t.l1d.a[0].e[3 * 4].tag, UINT64_C(3) << 2 | VM_PSIZE_2M,
	       "2 MiB entry: set 3, tag (va >> 21) << 2 | 1");
	vm_tlb_fini(&t, &h);

	/* 24 entries, 2 ways: 12 sets, indexed by a modulo (a mask would give
	 * 25 & 11 = 9). */
	is_i64(init_one(&t, &h, CFG(24, 2, S4K, VM_REPL_LRU)), 0, "init 24x2");
	is_u64(t.l1d.a[0].sets, 12, "12 sets");
	fill4k(&t, 25 << 12, 1);
	is_u64(slot_of(&t.l1d.a[0], 25 << 12), 1 * 2, "vpn 25 -> set 25 %% 12 = 1");
	ok(vm_tlb_lookup(&t, &t.l1d, (25 << 12) + 7, 1, 2) != NULL, "and a lookup finds it");
	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "set index: nothing leaked");
}

static void test_lru(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(init_one(&t, &h, CFG(8, 4, S4K, VM_REPL_LRU)), 0, "init 8x4 LRU (2 sets)");

	/* vpns 0, 2, 4, ... all map to set 0.  Fill A B C D, then use A and C:
	 * from least to most recent the set is B D A C. */
	vm_vaddr A = 0 << 12, B = 2 << 12, C = 4 << 12, D = 6 << 12, E = 8 << 12, F = 10 << 12;
	fill4k(&t, A, 1);
	fill4k(&t, B, 2);
	fill4k(&t, C, 3);
	fill4k(&t, D, 4);
	ok(vm_tlb_lookup(&t, &t.l1d, A, 1, 5) != NULL, "hit A");
	ok(vm_tlb_lookup(&t, &t.l1d, C, 1, 6) != NULL, "hit C");
	is_u64(t.evictions, 0, "no eviction while the set had room");
	fill4k(&t, E, 7);
	ok(!has_entry(&t.l1d, B, 0, 1, false), "E evicts B, the least recently used");
	ok(has_entry(&t.l1d, A, 0, 1, false) && has_entry(&t.l1d, C, 0, 1, false) &&
	   has_entry(&t.l1d, D, 0, 1, false), "A, C, D stay");
	fill4k(&t, F, 8);
	ok(!has_entry(&t.l1d, D, 0, 1, false), "F evicts D, next in LRU order");
	ok(has_entry(&t.l1d, A, 0, 1, false) && has_entry(&t.l1d, E, 0, 1, false),
	   "A and E stay");
	is_u64(t.evictions, 2, "two evictions");
	is_u64(vm_tlb_count(&t.l1d), 4, "set 0 full, set 1 empty");
	/* An emptied way is used before any valid one is evicted. */
	long c_slot = slot_of(&t.l1d.a[0], C);
	vm_tlb_drop(&t, vm_tlb_lookup(&t, &t.l1d, C, 1, 9));
	fill4k(&t, 12 << 12, 10);
	ok(c_slot >= 0 && slot_of(&t.l1d.a[0], 12 << 12) == c_slot && has_entry(&t.l1d, A, 0, 1, false),
	   "a fill takes the dropped way, A (the LRU) stays");
	is_u64(t.evictions, 2, "no eviction for it");
	vm_tlb_fini(&t, &h);
}

static void test_plru(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(init_one(&t, &h, CFG(4, 4, S4K, VM_REPL_PLRU)), 0, "init 4x4 PLRU (one set)");
	struct vm_tlb_array *a = &t.l1d.a[0];

	/*
	 * Tree bits b0 (root), b1 (ways 0-1), b2 (ways 2-3); a bit names the
	 * older half, 0 left, 1 right.  Using way w points its path away from w.
	 *   fill ways 0 1 2 3 in order:   b0 b1 b2 = 0 0 0
	 *   hit way 0:                    1 1 0      (tree = 0b011)
	 *   victim: b0=1 right, b2=0 left -> way 2; use it: 0 1 1
	 *   victim: b0=0 left, b1=1 right -> way 1; use it: 1 0 1
	 *   victim: b0=1 right, b2=1 right -> way 3; use it: 0 0 0
	 *   victim: b0=0 left, b1=0 left  -> way 0
	 * True LRU would start with way 1 (order 1 2 3 0).
	 */
	for (uint64_t v = 0; v < 4; v++)
		fill4k(&t, v << 12, v + 1);
	is_u64(a->plru[0], 0, "after filling ways 0..3 the tree is 000");
	ok(vm_tlb_lookup(&t, &t.l1d, 0, 1, 5) != NULL, "hit way 0");
	is_u64(a->plru[0], 3, "hit on way 0 sets b0 and b1");

	const long want[] = { 2, 1, 3, 0 };
	for (unsigned i = 0; i < 4; i++) {
		vm_vaddr va = (uint64_t)(100 + i) << 12;
		fill4k(&t, va, 6 + i);
		is_i64(slot_of(a, va), want[i], "PLRU victim %u is way %ld", i, want[i]);
	}
	vm_tlb_fini(&t, &h);
}

/* The ways that 24 fills into a full 4-way random set land in. */
static void random_victims(uint64_t seed, long out[24])
{
	struct vm_host h = { 0 };
	struct vm_rng rng;
	struct vm_tlb t;
	struct vm_tlb_array_cfg c[] = { ARR(4, 4, S4K, VM_REPL_RANDOM) };

	vm_rng_seed(&rng, seed);
	if (init_l1d(&t, &h, &rng, c, 1) != 0) {
		memset(out, 0xff, 24 * sizeof(long));
		return;
	}
	for (uint64_t v = 0; v < 4; v++)
		fill4k(&t, v << 12, v + 1);
	for (unsigned i = 0; i < 24; i++) {
		vm_vaddr va = (uint64_t)(1000 + i) << 12;
		fill4k(&t, va, 10 + i);
		out[i] = slot_of(&t.l1d.a[0], va);
	}
	vm_tlb_fini(&t, &h);
}

static void test_random(void)
{
	long a[24], b[24], c[24], want[24];
	struct vm_rng rng;

	random_victims(7, a);
	random_victims(7, b);
	random_victims(8, c);
	ok(memcmp(a, b, sizeof(a)) == 0, "same seed, same victims");
	ok(memcmp(a, c, sizeof(a)) != 0, "another seed, other victims");
	/* Empty ways are taken without a draw, then one vm_rng_below(4) each. */
	vm_rng_seed(&rng, 7);
	for (unsigned i = 0; i < 24; i++)
		want[i] = (long)vm_rng_below(&rng, 4);
	ok(memcmp(a, want, sizeof(a)) == 0, "victims are the machine RNG's draws");
}

static void test_hint(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(init_one(&t, &h, CFG(64, 64, S4K | S2M, VM_REPL_LRU)), 0, "init 64 fully associative");
	struct vm_tlb_array *a = &t.l1d.a[0];
	is_u64(a->hint_mask + 1, 256, "hint table: power of two, 4x the entries");
	ok(vm_tlb_fast_array(&t.l1d) == a, "the fast array is the 4 KiB array");

	/* vpn 1 and 257 share hint slot 1: the later fill takes it. */
	vm_vaddr x = 1 << 12, y = 257 << 12;
	fill4k(&t, x, 1);
	ok(fast_probe(a, x, 1) != NULL, "fill sets the hint");
	fill4k(&t, y, 2);
	ok(fast_probe(a, x, 1) == NULL, "colliding fill takes the hint: x misses the fast path");
	ok(fast_probe(a, y, 1) != NULL, "y hits the fast path");
	const struct vm_tlbe *e = vm_tlb_lookup(&t, &t.l1d, x + 0x10, 1, 3);
	ok(e && e->pbase == pbase_of(x, 0), "full lookup still finds x");
	ok(fast_probe(a, x, 1) != NULL, "a full-lookup hit takes the hint back");
	ok(fast_probe(a, x, 2) == NULL, "the fast path checks the PCID");
	/* A 2 MiB entry never answers the fast path (its tag is not vpn << 2). */
	fill(&t, &t.l1d, 0x40000000, VM_PSIZE_2M, 1, false, 4);
	ok(fast_probe(a, 0x40000000, 1) == NULL, "2 MiB entry: no fast-path hit");
	e = vm_tlb_lookup(&t, &t.l1d, 0x40123456, 1, 5);
	ok(e && e->size == VM_PSIZE_2M, "2 MiB entry: full lookup hits");
	vm_tlb_fini(&t, &h);

	/* Random fills, lookups and flushes over a non-power-of-two array: every
	 * hint stays a valid slot, and the fast path agrees with the lookup. */
	struct vm_tlb_array_cfg odd[] = { ARR(24, 2, S4K | S2M, VM_REPL_LRU) };
	struct vm_rng rng;
	uint64_t seed = tap_seed(42);
	vm_rng_seed(&rng, seed);
	is_i64(init_l1d(&t, &h, NULL, odd, 1), 0, "init 24x2");
	a = &t.l1d.a[0];
	bool hints_ok = true, agree = true;
	for (uint64_t now = 1; now <= 20000; now++) {
		vm_vaddr va = vm_rng_below(&rng, 512) << 12;
		uint16_t pcid = (uint16_t)vm_rng_below(&rng, 3);
		switch (vm_rng_below(&rng, 8)) {
		case 0:
			fill(&t, &t.l1d, va, VM_PSIZE_2M, pcid, false, now);
			break;
		case 1:
			vm_tlb_flush(&t, VM_MATCH_PCID_OR_GLOBAL, pcid, true, va);
			break;
		case 2: case 3: case 4:
			fill(&t, &t.l1d, va, VM_PSIZE_4K, pcid, vm_rng_below(&rng, 4) == 0, now);
			break;
		default:
			if (fast_probe(a, va, pcid) && !vm_tlb_lookup(&t, &t.l1d, va, pcid, now))
				agree = false;
			break;
		}
		for (uint64_t i = 0; i <= a->hint_mask; i++)
			hints_ok &= a->hint[i] < a->sets * a->ways;
	}
	ok(hints_ok, "every hint is a valid slot after 20000 random operations");
	ok(agree, "every fast-path hit is also a full-lookup hit");
	vm_tlb_fini(&t, &h);

	/* A level with no 4 KiB array gets the shared always-missing array. */
	struct vm_tlb t2;
	is_i64(init_one(&t, &h, CFG(8, 8, S2M, VM_REPL_PLRU)), 0, "init 2 MiB-only L1D");
	is_i64(init_one(&t2, &h, CFG(8, 8, S2M, VM_REPL_PLRU)), 0, "and a second TLB");
	struct vm_tlb_array *m = vm_tlb_fast_array(&t.l1d);
	ok(m != &t.l1d.a[0], "no 4 KiB array: not the 2 MiB array");
	ok(m == vm_tlb_fast_array(&t2.l1d) && m == vm_tlb_fast_array(&t.l2),
	   "the missing array is shared by levels and machines");
	ok(m->hint_mask == 0 && m->plru == NULL && m->hint[0] == 0 &&
	   m->e[0].tag == VM_TLB_TAG_INVALID, "one invalid entry behind a one-slot hint");
	ok(fast_probe(m, 0, 0) == NULL && fast_probe(m, UINT64_MAX, 0xfff) == NULL,
	   "it misses for vpn 0 and the top vpn");
	vm_tlb_fini(&t2, &h);
	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "hint: nothing leaked");
	/* The fast array of a level whose 4 KiB array is not the first. */
	struct vm_tlb_array_cfg second[] = { ARR(8, 8, S2M, VM_REPL_LRU), ARR(16, 4, S4K, VM_REPL_LRU) };
	is_i64(init_l1d(&t, &h, NULL, second, 2), 0, "init 2M + 4K arrays");
	ok(vm_tlb_fast_array(&t.l1d) == &t.l1d.a[1], "fast array is a[1]");
	vm_tlb_fini(&t, &h);
}

static void test_splinter(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	const struct vm_tlbe *e;

	/* No 1 GiB array: a 1 GiB page becomes a 2 MiB entry for va's sub-page. */
	struct vm_tlb_array_cfg c[] = { ARR(16, 4, S4K, VM_REPL_LRU), ARR(8, 4, S2M, VM_REPL_LRU) };
	is_i64(init_l1d(&t, &h, NULL, c, 2), 0, "init 4K + 2M arrays");
	vm_vaddr g = UINT64_C(0x7fc0000000), va = g + 0x12345678;
	struct vm_tlb_fill f = { .pbase = 0x40000000, .size = VM_PSIZE_1G, .perm = 7, .pcid = 1 };
	vm_tlb_fill(&t, &t.l1d, va, &f, 1);
	is_u64(vm_tlb_count(&t.l1d), 1, "one entry");
	e = vm_tlb_lookup(&t, &t.l1d, va, 1, 2);
	ok(e != NULL, "1G -> 2M: hit at va");
	if (e) {
		is_u64(e->size, VM_PSIZE_2M, "entry size is 2 MiB");
		is_u64(e->pbase, 0x40000000 + 0x12200000, "pbase is the 2 MiB sub-page's");
		is_u64(e->perm, 7, "rights kept");
		ok(e >= t.l1d.a[1].e && e < t.l1d.a[1].e + 8, "in the 2 MiB array");
	}
	ok(vm_tlb_lookup(&t, &t.l1d, g + 0x12200000, 1, 3) != NULL &&
	   vm_tlb_lookup(&t, &t.l1d, g + 0x123fffff, 1, 4) != NULL, "covers its 2 MiB");
	ok(!vm_tlb_lookup(&t, &t.l1d, g + 0x121fffff, 1, 5) &&
	   !vm_tlb_lookup(&t, &t.l1d, g + 0x12400000, 1, 6) && !vm_tlb_lookup(&t, &t.l1d, g, 1, 7),
	   "but no more of the 1 GiB page");
	vm_tlb_fini(&t, &h);

	/* Only 4 KiB: a 2 MiB page becomes a 4 KiB entry. */
	is_i64(init_one(&t, &h, CFG(16, 4, S4K, VM_REPL_LRU)), 0, "init 4K-only");
	va = 0x40000000 + 0x3123;
	f = (struct vm_tlb_fill){ .pbase = 5 * VM_PMD_SIZE, .size = VM_PSIZE_2M, .perm = 3, .pcid = 1 };
	vm_tlb_fill(&t, &t.l1d, va, &f, 1);
	e = vm_tlb_lookup(&t, &t.l1d, 0x40003fff, 1, 2);
	ok(e && e->size == VM_PSIZE_4K && e->pbase == 5 * VM_PMD_SIZE + 0x3000,
	   "2M -> 4K: size 4 KiB, pbase of the 4 KiB sub-page");
	ok(!vm_tlb_lookup(&t, &t.l1d, 0x40004000, 1, 3) && !vm_tlb_lookup(&t, &t.l1d, 0x40002fff, 1, 4),
	   "2M -> 4K covers only its 4 KiB");
	ok(fast_probe(&t.l1d.a[0], va, 1) != NULL, "a splintered 4 KiB entry answers the fast path");
	/* 1 GiB with only 4 KiB held: the largest smaller size is 4 KiB. */
	f = (struct vm_tlb_fill){ .pbase = 0x80000000, .size = VM_PSIZE_1G, .perm = 3, .pcid = 1 };
	vm_tlb_fill(&t, &t.l1d, UINT64_C(0x80000000) + 0x2badc0de, &f, 5);
	e = vm_tlb_lookup(&t, &t.l1d, UINT64_C(0x80000000) + 0x2badc000, 1, 6);
	ok(e && e->size == VM_PSIZE_4K && e->pbase == 0x80000000 + 0x2badc000, "1G -> 4K");
	vm_tlb_fini(&t, &h);

	/* Only 2 MiB: a 4 KiB page cannot be held; the fill does nothing. */
	is_i64(init_one(&t, &h, CFG(8, 4, S2M, VM_REPL_LRU)), 0, "init 2M-only");
	fill4k(&t, 0x1000, 1);
	is_u64(vm_tlb_count(&t.l1d), 0, "4 KiB into a 2 MiB-only level: nothing");
	is_u64(t.fills, 0, "and no fill counted");
	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "splinter: nothing leaked");
}

static void test_global_pcid(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(init_one(&t, &h, CFG(16, 4, S4K, VM_REPL_LRU)), 0, "init");
	vm_vaddr x = 0x1000, y = 0x2000;
	fill(&t, &t.l1d, x, VM_PSIZE_4K, 1, false, 1);
	fill(&t, &t.l1d, y, VM_PSIZE_4K, 1, true, 2);
	ok(vm_tlb_lookup(&t, &t.l1d, x, 1, 3) != NULL, "non-global hits under its PCID");
	ok(!vm_tlb_lookup(&t, &t.l1d, x, 2, 4) && !vm_tlb_lookup(&t, &t.l1d, x, 0, 5),
	   "non-global misses under PCIDs 2 and 0");
	ok(vm_tlb_lookup(&t, &t.l1d, y, 1, 6) && vm_tlb_lookup(&t, &t.l1d, y, 2, 7) &&
	   vm_tlb_lookup(&t, &t.l1d, y, 0, 8) && vm_tlb_lookup(&t, &t.l1d, y, 0xfff, 9),
	   "global hits under PCIDs 1, 2, 0, 4095");
	const struct vm_tlbe *e = has_entry(&t.l1d, y, 0, 1, true);
	ok(e && e->pcid_mask == 0, "global entry: pcid_mask 0");
	e = has_entry(&t.l1d, x, 0, 1, false);
	ok(e && e->pcid_mask == 0xfff, "non-global entry: pcid_mask 0xfff");
	vm_tlb_fini(&t, &h);
}

/*
 * The flush table: entries {pcid, global, va} in all three levels, and for
 * each instruction the survivors (bit i = entry i), SDM 4.10.4.1 as in
 * REFERENCE.md 1.5.
 */
#define VA_A UINT64_C(0x1000)
#define VA_B UINT64_C(0x5000)
#define VA_C UINT64_C(0x7fff0000)
#define VA_D UINT64_C(0xffffffff81000000)

static const struct {
	uint16_t pcid;
	bool global;
	vm_vaddr va;
} flush_entries[] = {
	{ 1, false, VA_A },     /* 0 */
	{ 1, false, VA_B },     /* 1 */
	{ 2, false, VA_A },     /* 2 */
	{ 2, true, VA_C },      /* 3 */
	{ 1, true, VA_D },      /* 4 */
	{ 3, false, VA_A },     /* 5 */
	{ 4, true, VA_A },      /* 6: filled last, else it would absorb 0, 2, 5 */
};

static const struct {
	const char *what;
	enum vm_tlb_match m;
	uint16_t pcid;
	bool one_va;
	vm_vaddr va;
	unsigned survivors;
} flush_cases[] = {
	{ "INVLPG A under PCID 1", VM_MATCH_PCID_OR_GLOBAL, 1, true, VA_A, 0x3e },
	{ "INVLPG C under PCID 1 (global of PCID 2)", VM_MATCH_PCID_OR_GLOBAL, 1, true, VA_C, 0x77 },
	{ "INVLPG B under PCID 2 (other PCID's page)", VM_MATCH_PCID_OR_GLOBAL, 2, true, VA_B, 0x7f },
	{ "INVPCID 0: PCID 2, address A", VM_MATCH_PCID_NONGLOBAL, 2, true, VA_A, 0x7b },
	{ "INVPCID 0: PCID 1, address D (global kept)", VM_MATCH_PCID_NONGLOBAL, 1, true, VA_D, 0x7f },
	{ "INVPCID 1: PCID 1", VM_MATCH_PCID_NONGLOBAL, 1, false, 0, 0x7c },
	{ "INVPCID 2: all with globals", VM_MATCH_ALL, 0, false, 0, 0x00 },
	{ "INVPCID 3: all but globals", VM_MATCH_NONGLOBAL, 0, false, 0, 0x58 },
	{ "CR3 write, PCIDE=1, to PCID 2", VM_MATCH_PCID_NONGLOBAL, 2, false, 0, 0x7b },
	{ "CR3 write, PCIDE=0 (PCID 0)", VM_MATCH_PCID_NONGLOBAL, 0, false, 0, 0x7f },
};

static unsigned survivors(const struct vm_tlb_level *lv)
{
	unsigned s = 0;
	for (unsigned i = 0; i < VM_ARRAY_SIZE(flush_entries); i++)
		if (has_entry(lv, flush_entries[i].va, 0, flush_entries[i].pcid, flush_entries[i].global))
			s |= 1u << i;
	return s;
}

static void test_flush_modes(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	/* A fully associative L1I, a 2-set L1D, an 8-set L2: all roomy. */
	struct vm_tlb_preset p = {
		.name = "flush",
		.l1i = { { ARR(16, 16, S4K, VM_REPL_LRU) } },
		.l1d = { { ARR(16, 8, S4K, VM_REPL_LRU) } },
		.l2 = { { ARR(64, 8, S4K | S2M, VM_REPL_LRU) } },
	};
	for (unsigned k = 0; k < VM_ARRAY_SIZE(flush_cases); k++) {
		if (vm_tlb_init(&t, &p, -1, &h, NULL) != 0) {
			ok(0, "init for %s", flush_cases[k].what);
			continue;
		}
		struct vm_tlb_level *lv[] = { &t.l1i, &t.l1d, &t.l2 };
		for (unsigned l = 0; l < 3; l++)
			for (unsigned i = 0; i < VM_ARRAY_SIZE(flush_entries); i++)
				fill(&t, lv[l], flush_entries[i].va, VM_PSIZE_4K, flush_entries[i].pcid,
				     flush_entries[i].global, i + 1);
		bool setup = true;
		for (unsigned l = 0; l < 3; l++)
			setup &= survivors(lv[l]) == 0x7f;
		vm_tlb_flush(&t, flush_cases[k].m, flush_cases[k].pcid, flush_cases[k].one_va,
			     flush_cases[k].va);
		unsigned want = flush_cases[k].survivors;
		ok(setup && survivors(&t.l1i) == want && survivors(&t.l1d) == want &&
		   survivors(&t.l2) == want, "%s: survivors 0x%02x in L1I, L1D, L2",
		   flush_cases[k].what, want);
		unsigned dropped = 7 - (unsigned)__builtin_popcount(want);
		is_u64(t.invalidated, 3 * dropped, "%s: invalidated counts %u per level",
		       flush_cases[k].what, dropped);
		vm_tlb_fini(&t, &h);
	}
	is_u64(h.allocs, h.frees, "flush modes: nothing leaked");
}

static void test_flush_2m(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	/* Set-associative: 4 sets.  Inside the 2 MiB page at 0x40000000 the
	 * address 0x40001000 has vpn set 1 but 2 MiB set 0: a flush that probed
	 * only the 4 KiB set would miss the entry.  L1D is fully associative. */
	struct vm_tlb_preset p = {
		.name = "flush2m",
		.l1d = { { ARR(16, 16, S4K | S2M, VM_REPL_LRU) } },
		.l2 = { { ARR(16, 4, S4K | S2M, VM_REPL_LRU) } },
	};
	is_i64(vm_tlb_init(&t, &p, -1, &h, NULL), 0, "init");
	vm_vaddr big = 0x40000000, next = big + VM_PMD_SIZE;
	for (unsigned l = 0; l < 2; l++) {
		struct vm_tlb_level *lv = l ? &t.l2 : &t.l1d;
		fill(&t, lv, big, VM_PSIZE_2M, 1, false, 1);
		fill(&t, lv, next, VM_PSIZE_2M, 1, false, 2);
		fill(&t, lv, big + 0x1000, VM_PSIZE_4K, 2, false, 3);
	}
	vm_tlb_flush(&t, VM_MATCH_PCID_OR_GLOBAL, 1, true, big + 0x1000 + 0x123);
	for (unsigned l = 0; l < 2; l++) {
		struct vm_tlb_level *lv = l ? &t.l2 : &t.l1d;
		const char *name = l ? "L2 (4 sets)" : "L1D (fully assoc)";
		ok(!has_entry(lv, big, VM_PSIZE_2M, 1, false), "%s: 2 MiB entry flushed by an inner address", name);
		ok(has_entry(lv, next, VM_PSIZE_2M, 1, false), "%s: the next 2 MiB page stays", name);
		ok(has_entry(lv, big + 0x1000, VM_PSIZE_4K, 2, false), "%s: PCID 2's 4 KiB entry stays", name);
	}
	/* The last byte of the page belongs to it; the first of the next does not. */
	vm_tlb_flush(&t, VM_MATCH_PCID_OR_GLOBAL, 1, true, next - 1);
	ok(has_entry(&t.l2, next, VM_PSIZE_2M, 1, false), "flush at next - 1 keeps next");
	vm_tlb_flush(&t, VM_MATCH_PCID_OR_GLOBAL, 1, true, next + VM_PMD_SIZE - 1);
	ok(!has_entry(&t.l2, next, VM_PSIZE_2M, 1, false) && !has_entry(&t.l1d, next, VM_PSIZE_2M, 1, false),
	   "flush at its last byte drops next");
	vm_tlb_fini(&t, &h);
}

static void test_fill_overwrites(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(init_one(&t, &h, CFG(16, 4, S4K, VM_REPL_LRU)), 0, "init");
	vm_vaddr x = 0x1000;
	struct vm_tlb_fill f = { .pbase = 0x111000, .size = VM_PSIZE_4K, .perm = 1, .pcid = 1 };
	vm_tlb_fill(&t, &t.l1d, x, &f, 1);
	f.pbase = 0x222000;
	f.perm = 9;
	vm_tlb_fill(&t, &t.l1d, x, &f, 2);
	is_u64(vm_tlb_count(&t.l1d), 1, "refill of the same va and PCID: one entry");
	const struct vm_tlbe *e = vm_tlb_lookup(&t, &t.l1d, x, 1, 3);
	ok(e && e->pbase == 0x222000 && e->perm == 9, "the refill's translation wins");
	is_u64(t.fills, 2, "both fills counted");
	is_u64(t.evictions, 0, "an overwrite is not an eviction");

	/* A global entry that a lookup under PCID 1 would use is replaced too. */
	fill(&t, &t.l1d, 0x2000, VM_PSIZE_4K, 5, true, 4);
	fill(&t, &t.l1d, 0x2000, VM_PSIZE_4K, 1, false, 5);
	is_u64(vm_tlb_count(&t.l1d), 2, "global then non-global of the same page: one entry");
	ok(has_entry(&t.l1d, 0x2000, 0, 1, false) && !has_entry(&t.l1d, 0x2000, 0, 5, true),
	   "the non-global one");
	/* Another PCID is another translation. */
	fill(&t, &t.l1d, x, VM_PSIZE_4K, 2, false, 6);
	is_u64(vm_tlb_count(&t.l1d), 3, "same va under PCID 2: a second entry");
	vm_tlb_fini(&t, &h);
}

static void test_counters(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(init_one(&t, &h, CFG(2, 2, S4K, VM_REPL_LRU)), 0, "init 2x2");
	vm_vaddr A = 0x1000, B = 0x2000, C = 0x3000;
	fill4k(&t, A, 1);
	fill4k(&t, B, 2);
	ok(t.fills == 2 && t.evictions == 0 && t.invalidated == 0, "two fills into empty ways");
	fill4k(&t, C, 3);
	ok(t.fills == 3 && t.evictions == 1, "third fill evicts one");
	fill4k(&t, C, 4);
	ok(t.fills == 4 && t.evictions == 1, "refill: a fill, no eviction");
	struct vm_tlbe *e = vm_tlb_lookup(&t, &t.l1d, C, 1, 5);
	vm_tlb_drop(&t, e);
	is_u64(t.invalidated, 1, "drop counts one");
	ok(!vm_tlb_lookup(&t, &t.l1d, C, 1, 6), "dropped entry misses");
	vm_tlb_drop(&t, e);
	vm_tlb_drop(&t, NULL);
	is_u64(t.invalidated, 1, "dropping an empty entry or NULL counts nothing");
	vm_tlb_flush(&t, VM_MATCH_ALL, 0, false, 0);
	is_u64(t.invalidated, 2, "flush counts the one entry left");
	vm_tlb_flush(&t, VM_MATCH_ALL, 0, false, 0);
	is_u64(t.invalidated, 2, "a flush of nothing counts nothing");
	fill4k(&t, A, 7);
	ok(t.fills == 5 && t.evictions == 1, "fill after the flush: an empty way, no eviction");
	vm_tlb_fini(&t, &h);
}

static void test_count(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(vm_tlb_init(&t, vm_tlb_preset_find("skylake"), -1, &h, NULL), 0, "init skylake");
	ok(vm_tlb_count(&t.l1d) == 0 && vm_tlb_count(&t.l1i) == 0 && vm_tlb_count(&t.l2) == 0,
	   "empty after init");
	for (uint64_t v = 0; v < 10; v++)
		fill4k(&t, v << 12, v + 1);
	fill(&t, &t.l1d, 0x40000000, VM_PSIZE_2M, 1, false, 20);
	fill(&t, &t.l1d, 0x80000000, VM_PSIZE_1G, 1, false, 21);
	is_u64(vm_tlb_count(&t.l1d), 12, "L1D: 10 + 1 + 1 over its three arrays");
	is_u64(vm_tlb_count(&t.l2), 0, "L2 untouched");
	/* 64 entries in the 4 KiB array: 200 fills leave it full. */
	for (uint64_t v = 0; v < 200; v++)
		fill4k(&t, (1000 + v) << 12, 100 + v);
	is_u64(vm_tlb_count(&t.l1d), 66, "L1D: 64 + 1 + 1 once the 4 KiB array is full");
	vm_tlb_fini(&t, &h);
}

static void check_array(const struct vm_tlb_level *lv, unsigned i, uint32_t sets, uint32_t ways,
			unsigned sizes, const char *what)
{
	ok(i < lv->n && lv->a[i].sets == sets && lv->a[i].ways == ways && lv->a[i].sizes == sizes &&
	   lv->a[i].repl == VM_REPL_LRU,
	   "%s: %u sets x %u ways, sizes %#x, LRU", what, sets, ways, sizes);
}

static void test_presets(void)
{
	struct vm_host h = { 0 };
	struct vm_rng rng;
	struct vm_tlb t;
	unsigned n = 0;

	vm_rng_seed(&rng, 1);
	for (const struct vm_tlb_preset *p; (p = vm_tlb_preset_at(n)); n++) {
		ok(p->name && p->desc && *p->desc && vm_tlb_preset_find(p->name) == p,
		   "preset %u (%s): named, described, found by name", n, p->name);
		is_i64(vm_tlb_init(&t, p, -1, &h, &rng), 0, "%s initialises", p->name);
		vm_tlb_fini(&t, &h);
	}
	ok(n >= 7, "at least 7 presets (%u)", n);
	is_u64(h.allocs, h.frees, "presets: nothing leaked");
	const char *names[] = { "skylake", "golden-cove", "zen4", "zen3", "zen2", "none", "tiny" };
	for (unsigned i = 0; i < VM_ARRAY_SIZE(names); i++)
		ok(vm_tlb_preset_find(names[i]) != NULL, "preset %s exists", names[i]);
	ok(!vm_tlb_preset_find("pentium") && !vm_tlb_preset_find("") && !vm_tlb_preset_find(NULL),
	   "unknown names: NULL");

	const struct vm_tlb_preset *p = vm_tlb_preset_find("skylake");
	is_i64(vm_tlb_init(&t, p, -1, &h, &rng), 0, "skylake");
	check_array(&t.l1i, 0, 16, 8, S4K, "skylake L1I 4K 128 8-way");
	check_array(&t.l1i, 1, 1, 8, S2M, "skylake L1I 2M 8 fully");
	check_array(&t.l1d, 0, 16, 4, S4K, "skylake L1D 4K 64 4-way");
	check_array(&t.l1d, 1, 8, 4, S2M, "skylake L1D 2M 32 4-way");
	check_array(&t.l1d, 2, 1, 4, S1G, "skylake L1D 1G 4 4-way");
	check_array(&t.l2, 0, 128, 12, S4K | S2M, "skylake STLB 1536 12-way");
	check_array(&t.l2, 1, 4, 4, S1G, "skylake STLB 1G 16 4-way");
	ok(t.l1i.n == 2 && t.l1d.n == 3 && t.l2.n == 2, "skylake: 2, 3, 2 arrays");
	ok(p->pwc[2] == 32 && p->pwc[3] == 4 && p->pwc[4] == 4, "skylake walk caches 32/4/4");
	vm_tlb_fini(&t, &h);

	p = vm_tlb_preset_find("golden-cove");
	is_i64(vm_tlb_init(&t, p, -1, &h, &rng), 0, "golden-cove");
	check_array(&t.l1i, 0, 32, 8, S4K, "golden-cove L1I 4K 256 8-way");
	check_array(&t.l1d, 0, 16, 6, S4K, "golden-cove L1D 4K 96 6-way");
	check_array(&t.l1d, 1, 8, 4, S2M, "golden-cove L1D 2M 32 4-way");
	check_array(&t.l1d, 2, 1, 8, S1G, "golden-cove L1D 1G 8 8-way");
	check_array(&t.l2, 0, 128, 16, S4K | S2M | S1G, "golden-cove STLB 2048 16-way");
	vm_tlb_fini(&t, &h);

	p = vm_tlb_preset_find("zen4");
	is_i64(vm_tlb_init(&t, p, -1, &h, &rng), 0, "zen4");
	check_array(&t.l1i, 0, 1, 64, S4K | S2M | S1G, "zen4 L1I 64 fully");
	check_array(&t.l1d, 0, 1, 72, S4K | S2M, "zen4 L1D 72 fully, 4K+2M");
	check_array(&t.l2, 0, 256, 12, S4K | S2M, "zen4 L2 3072 12-way, 4K+2M");
	ok(p->pwc[2] == 32 && p->pwc[3] == 4 && p->pwc[4] == 4, "zen4 walk caches 32/4/4");
	/* 1 GiB is smashed: it lands as a 2 MiB entry in L1D and L2. */
	fill(&t, &t.l1d, 0x40000000 + 0x345678, VM_PSIZE_1G, 1, false, 1);
	fill(&t, &t.l2, 0x40000000 + 0x345678, VM_PSIZE_1G, 1, false, 1);
	ok(has_entry(&t.l1d, 0x40200000, VM_PSIZE_2M, 1, false) &&
	   has_entry(&t.l2, 0x40200000, VM_PSIZE_2M, 1, false), "zen4: 1 GiB splinters into 2 MiB");
	vm_tlb_fini(&t, &h);
	is_i64(vm_tlb_init(&t, p, VM_REPL_PLRU, &h, &rng), -EINVAL, "zen4 with PLRU: 72 ways refused");

	p = vm_tlb_preset_find("tiny");
	is_i64(vm_tlb_init(&t, p, -1, &h, &rng), 0, "tiny");
	check_array(&t.l1d, 0, 4, 2, S4K, "tiny L1D 8 2-way");
	check_array(&t.l1i, 0, 1, 4, S4K, "tiny L1I 4");
	check_array(&t.l2, 0, 8, 4, S4K | S2M, "tiny L2 32 4-way, 4K+2M");
	vm_tlb_fini(&t, &h);
	is_i64(vm_tlb_init(&t, p, VM_REPL_PLRU, &h, &rng), 0, "tiny with PLRU override");
	ok(t.l1d.a[0].repl == VM_REPL_PLRU && t.l1d.a[0].plru && t.l2.a[0].plru,
	   "override applies to every array");
	vm_tlb_fini(&t, &h);

	p = vm_tlb_preset_find("none");
	is_i64(vm_tlb_init(&t, p, -1, &h, &rng), 0, "none");
	ok(t.l1i.n == 0 && t.l1d.n == 0 && t.l2.n == 0, "none: no arrays");
	unsigned pwc = 0;
	for (unsigned l = 0; l < 6; l++)
		pwc += p->pwc[l];
	is_u64(pwc, 0, "none: no paging-structure caches");
	fill4k(&t, 0x1000, 1);
	ok(!vm_tlb_lookup(&t, &t.l1d, 0x1000, 1, 2) && t.fills == 0, "none: fills do nothing");
	struct vm_tlb_array *m = vm_tlb_fast_array(&t.l1d);
	ok(fast_probe(m, 0x1000, 1) == NULL && vm_tlb_fast_array(&t.l1i) == m, "none: fast path misses");
	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "preset geometry: nothing leaked");
}

static void test_bad_configs(void)
{
	static const struct {
		const char *what;
		struct vm_tlb_array_cfg a;
		int override;
		bool rng;
	} bad[] = {
		{ "ways 0", ARR(16, 0, S4K, VM_REPL_LRU), -1, true },
		{ "ways do not divide entries", ARR(10, 4, S4K, VM_REPL_LRU), -1, true },
		{ "ways above entries", ARR(4, 8, S4K, VM_REPL_LRU), -1, true },
		{ "no page size", ARR(16, 4, 0, VM_REPL_LRU), -1, true },
		{ "unknown page size", ARR(16, 4, 8, VM_REPL_LRU), -1, true },
		{ "PLRU over 6 ways", ARR(12, 6, S4K, VM_REPL_PLRU), -1, true },
		{ "PLRU over 128 ways", ARR(128, 128, S4K, VM_REPL_PLRU), -1, true },
		{ "override PLRU over 12 ways", ARR(24, 12, S4K, VM_REPL_LRU), VM_REPL_PLRU, true },
		{ "unknown policy", ARR(16, 4, S4K, VM_REPL_COUNT), -1, true },
		{ "unknown override", ARR(16, 4, S4K, VM_REPL_LRU), VM_REPL_COUNT, true },
		{ "random without an RNG", ARR(16, 4, S4K, VM_REPL_RANDOM), -1, false },
	};
	struct vm_host h = { 0 };
	struct vm_rng rng;
	struct vm_tlb t;
	vm_rng_seed(&rng, 1);

	for (unsigned i = 0; i < VM_ARRAY_SIZE(bad); i++) {
		/* The bad array is the L2's second; the good ones before it must
		 * not be left allocated. */
		struct vm_tlb_preset p = {
			.name = "bad",
			.l1d = { { ARR(16, 4, S4K, VM_REPL_LRU) } },
			.l2 = { { ARR(16, 4, S4K, VM_REPL_LRU), bad[i].a } },
		};
		is_i64(vm_tlb_init(&t, &p, bad[i].override, &h, bad[i].rng ? &rng : NULL), -EINVAL,
		       "%s: -EINVAL", bad[i].what);
	}
	is_u64(h.attempts, 0, "bad configs allocate nothing");
	is_i64(vm_tlb_init(&t, NULL, -1, &h, &rng), -EINVAL, "no preset: -EINVAL");

	/* Edge cases that are fine. */
	struct vm_tlb_preset p = {
		.name = "edge",
		.l1d = { { ARR(0, 0, 0, VM_REPL_COUNT), ARR(1, 1, S4K, VM_REPL_PLRU) } },
		.l2 = { { ARR(64, 64, S4K, VM_REPL_PLRU) } },
	};
	is_i64(vm_tlb_init(&t, &p, -1, &h, NULL), 0,
	       "empty array ignored, 1 entry PLRU, 64-way PLRU: fine");
	ok(t.l1d.n == 1 && t.l1d.a[0].sets == 1, "the empty array takes no slot");
	fill4k(&t, 0x1000, 1);
	fill4k(&t, 0x2000, 2);
	ok(has_entry(&t.l1d, 0x2000, 0, 1, false) && vm_tlb_count(&t.l1d) == 1, "1-entry array holds the last fill");
	for (uint64_t v = 0; v < 65; v++)
		fill(&t, &t.l2, v << 12, VM_PSIZE_4K, 1, false, v + 1);
	/* 64-way PLRU filled in ways 0..63 in order: under every node the last
	 * use was in its right half, so every bit points left and the victim is
	 * way 0, which held vpn 0 (a 32-bit tree would get this wrong). */
	ok(!has_entry(&t.l2, 0, 0, 1, false) && has_entry(&t.l2, UINT64_C(64) << 12, 0, 1, false),
	   "64-way PLRU evicts the first filled way");
	vm_tlb_fini(&t, &h);
	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "bad configs: nothing leaked (and fini twice is harmless)");
}

/* Fail the k-th allocation of init for k = 1, 2, ... until init succeeds:
 * each failure must be -ENOMEM with everything freed. */
static void inject(const struct vm_tlb_preset *p, int repl, const char *what)
{
	struct vm_rng rng;
	struct vm_host ref = { 0 };
	struct vm_tlb t;
	vm_rng_seed(&rng, 1);

	if (vm_tlb_init(&t, p, repl, &ref, &rng) != 0) {
		ok(0, "%s: init", what);
		return;
	}
	vm_tlb_fini(&t, &ref);

	uint64_t failures = 0;
	bool all_enomem = true, no_leak = true, zeroed = true;
	for (uint64_t k = 1; k <= ref.allocs + 1; k++) {
		struct vm_host h = { .fail_at = k };
		int rc = vm_tlb_init(&t, p, repl, &h, &rng);
		if (rc == 0) {
			vm_tlb_fini(&t, &h);
			no_leak &= h.allocs == h.frees;
			break;
		}
		failures++;
		all_enomem &= rc == -ENOMEM;
		no_leak &= h.allocs == h.frees;
		zeroed &= t.l1i.n == 0 && t.l1d.n == 0 && t.l2.n == 0;
		vm_tlb_fini(&t, &h);     /* harmless after a failed init */
	}
	is_u64(failures, ref.allocs, "%s: each of the %" PRIu64 " allocations can fail", what,
	       ref.allocs);
	ok(all_enomem, "%s: every failure is -ENOMEM", what);
	ok(no_leak, "%s: nothing leaked", what);
	ok(zeroed, "%s: a failed init leaves no arrays", what);
}

static void test_fault_injection(void)
{
	/* Every array allocates entries and hints; PLRU adds trees. */
	inject(vm_tlb_preset_find("skylake"), -1, "skylake");
	inject(vm_tlb_preset_find("tiny"), VM_REPL_PLRU, "tiny+PLRU");
	inject(vm_tlb_preset_find("zen4"), VM_REPL_RANDOM, "zen4+random");
}

int main(void)
{
	test_set_index();
	test_lru();
	test_plru();
	test_random();
	test_hint();
	test_splinter();
	test_global_pcid();
	test_flush_modes();
	test_flush_2m();
	test_fill_overwrites();
	test_counters();
	test_count();
	test_presets();
	test_bad_configs();
	test_fault_injection();
	return done_testing();
}
