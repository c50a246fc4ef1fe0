/*
 * Unit tests for the TLB arrays and presets (src/hw/tlb*.c).
 *
 * Most tests build a one-level configuration by hand so that the expected
 * set, way and victim of every fill can be worked out on paper; the preset
 * tests check the documented geometries.  Presence is checked by scanning
 * the arrays (has_entry), not by vm_tlb_lookup, so that checking never
 * changes recency.  The index tests run random operations against a naive
 * reference with vm_tlb_check() after every step, build collisions on
 * purpose, and corrupt the index to see the validator catch it.
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

/* What the inline fast path of mmu.h reads: the entry vm_tlb_fast_probe
 * names, if its tag and PCID match. */
static const struct vm_tlbe *fast_probe(const struct vm_tlb_array *a, vm_vaddr va, uint16_t pcid)
{
	uint64_t vpn = va >> 12;
	const struct vm_tlbe *e = vm_tlb_fast_probe(a, vpn);
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

static void test_fast_path(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(init_one(&t, &h, CFG(64, 64, S4K | S2M, VM_REPL_LRU)), 0, "init 64 fully associative");
	struct vm_tlb_array *a = &t.l1d.a[0];
	is_u64((uint64_t)a->ix_mask + 1, 256, "index: power of two, 4x the entries");
	ok(vm_tlb_fast_array(&t.l1d) == a, "the fast array is the 4 KiB array");

	/* vpn 1 and 257 shared a slot of the old direct-mapped hint table (the
	 * later fill took it); Fibonacci hashing gives them different homes,
	 * and the exact index never lets one fill take another's slot. */
	vm_vaddr x = 1 << 12, y = 257 << 12;
	ok(vm_tlb_home(a, 1 << 2) != vm_tlb_home(a, 257 << 2), "vpn 1 and 257: different homes");
	fill4k(&t, x, 1);
	ok(fast_probe(a, x, 1) != NULL, "a fill makes the entry answer the fast path");
	fill4k(&t, y, 2);
	ok(fast_probe(a, x, 1) != NULL, "another fill leaves x on the fast path");
	ok(fast_probe(a, y, 1) != NULL, "y hits the fast path");
	const struct vm_tlbe *e = vm_tlb_lookup(&t, &t.l1d, x + 0x10, 1, 3);
	ok(e && e->pbase == pbase_of(x, 0), "full lookup finds x");
	ok(fast_probe(a, x, 1) != NULL, "and x still answers the fast path");
	ok(fast_probe(a, x, 2) == NULL, "the fast path checks the PCID");
	/* A 2 MiB entry never answers the fast path (its tag is not vpn << 2). */
	fill(&t, &t.l1d, 0x40000000, VM_PSIZE_2M, 1, false, 4);
	ok(fast_probe(a, 0x40000000, 1) == NULL, "2 MiB entry: no fast-path hit");
	e = vm_tlb_lookup(&t, &t.l1d, 0x40123456, 1, 5);
	ok(e && e->size == VM_PSIZE_2M, "2 MiB entry: full lookup hits");
	vm_tlb_fini(&t, &h);

	/* Random fills, lookups and flushes over a non-power-of-two array: the
	 * index stays exact, and the fast path agrees with the lookup. */
	struct vm_tlb_array_cfg odd[] = { ARR(24, 2, S4K | S2M, VM_REPL_LRU) };
	struct vm_rng rng;
	uint64_t seed = tap_seed(42);
	vm_rng_seed(&rng, seed);
	is_i64(init_l1d(&t, &h, NULL, odd, 1), 0, "init 24x2");
	a = &t.l1d.a[0];
	bool index_ok = true, agree = true;
	char msg[200] = "";
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
		if (index_ok && vm_tlb_check(&t, msg, sizeof(msg)) != 0) {
			index_ok = false;
			diag("step %" PRIu64 ": %s", now, msg);
		}
	}
	ok(index_ok, "vm_tlb_check passes after each of 20000 random operations");
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
	ok(m->ix_mask == 1 && m->plru == NULL && m->ix[0] == 0 && m->ix[1] == 0 &&
	   m->ent[0].tag == VM_TLB_TAG_INVALID && m->e[0].tag == VM_TLB_TAG_INVALID,
	   "an invalid sentinel and entry behind an empty two-slot index");
	ok(fast_probe(m, 0, 0) == NULL && fast_probe(m, UINT64_MAX, 0xfff) == NULL,
	   "it misses for vpn 0 and the top vpn");
	vm_tlb_fini(&t2, &h);
	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "fast path: nothing leaked");
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
	/* Every array allocates entries and an index; PLRU adds trees, LRU over
	 * many ways (zen4's L1s) victim candidates. */
	inject(vm_tlb_preset_find("skylake"), -1, "skylake");
	inject(vm_tlb_preset_find("tiny"), VM_REPL_PLRU, "tiny+PLRU");
	inject(vm_tlb_preset_find("zen4"), VM_REPL_RANDOM, "zen4+random");
	inject(vm_tlb_preset_find("zen4"), -1, "zen4 (LRU candidates)");
}

/*
 * The exact index against a naive reference: the TLB's rules (tlb.h, the
 * model before the index) on plain arrays, where every search scans the whole
 * array and every victim choice scans its set.  A random run applies the same
 * operations to both and compares every entry, the counters and every lookup
 * result after each step, with vm_tlb_check() on the real one.
 */
#define REF_ENTRIES 4096
#define REF_SETS 256

struct ref_array {
	uint32_t sets, ways;
	unsigned sizes, repl;
	struct vm_tlbe e[REF_ENTRIES];
	bool plru[REF_SETS][64];        /* tree node n's bit at [n] */
};

struct ref_tlb {
	unsigned n[3];
	struct ref_array a[3][VM_TLB_ARRAYS_MAX];
	struct vm_rng rng;
	uint64_t fills, evictions, invalidated;
};

static struct ref_tlb ref;

static uint64_t tag_of(vm_vaddr va, unsigned size)
{
	return (va >> vm_psize_shift(size)) << 2 | size;
}

static bool ref_matches(const struct vm_tlbe *e, uint16_t pcid)
{
	return e->tag != VM_TLB_TAG_INVALID && !((e->pcid ^ pcid) & e->pcid_mask);
}

/* Levels in the order of struct vm_tlb: 0 l1i, 1 l1d, 2 l2. */
static struct vm_tlb_level *real_level(struct vm_tlb *t, unsigned l)
{
	return l == 0 ? &t->l1i : l == 1 ? &t->l1d : &t->l2;
}

static void ref_init(const struct vm_tlb_preset *p, int repl, uint64_t seed)
{
	const struct vm_tlb_level_cfg *c[3] = { &p->l1i, &p->l1d, &p->l2 };
	memset(&ref, 0, sizeof(ref));
	vm_rng_seed(&ref.rng, seed);
	for (unsigned l = 0; l < 3; l++) {
		for (unsigned i = 0; i < VM_TLB_ARRAYS_MAX; i++) {
			const struct vm_tlb_array_cfg *ac = &c[l]->a[i];
			if (!ac->entries)
				continue;
			struct ref_array *a = &ref.a[l][ref.n[l]++];
			a->ways = ac->ways;
			a->sets = ac->entries / ac->ways;
			a->sizes = ac->sizes;
			a->repl = repl >= 0 ? (unsigned)repl : ac->repl;
			for (unsigned j = 0; j < REF_ENTRIES; j++)
				a->e[j].tag = VM_TLB_TAG_INVALID;
		}
	}
}

static void ref_touch(struct ref_array *a, uint32_t slot, uint64_t now)
{
	a->e[slot].stamp = now;
	if (a->repl != VM_REPL_PLRU)
		return;
	uint32_t n = slot % a->ways + a->ways - 1;
	while (n > 0) {
		uint32_t parent = (n - 1) / 2;
		a->plru[slot / a->ways][parent] = n == 2 * parent + 1;
		n = parent;
	}
}

/* Lowest slot of the whole array with this tag matching pcid, or -1. */
static long ref_find(const struct ref_array *a, uint64_t tag, uint16_t pcid)
{
	for (uint32_t j = 0; j < a->sets * a->ways; j++)
		if (a->e[j].tag == tag && ref_matches(&a->e[j], pcid))
			return j;
	return -1;
}

/* The old lookup: arrays in order, sizes ascending.  Returns the array index
 * and sets *slot, or -1. */
static int ref_lookup(unsigned l, vm_vaddr va, uint16_t pcid, uint64_t now, long *slot)
{
	for (unsigned i = 0; i < ref.n[l]; i++) {
		struct ref_array *a = &ref.a[l][i];
		for (unsigned s = 0; s < VM_PSIZE_COUNT; s++) {
			if (!(a->sizes & (1u << s)))
				continue;
			long j = ref_find(a, tag_of(va, s), pcid & 0xfff);
			if (j >= 0) {
				ref_touch(a, (uint32_t)j, now);
				*slot = j;
				return (int)i;
			}
		}
	}
	return -1;
}

static uint32_t ref_victim(struct ref_array *a, uint32_t set)
{
	struct vm_tlbe *s = &a->e[set * a->ways];
	uint32_t w, v = 0;
	for (w = 0; w < a->ways; w++)
		if (s[w].tag == VM_TLB_TAG_INVALID)
			return w;
	if (a->repl == VM_REPL_RANDOM)
		return (uint32_t)vm_rng_below(&ref.rng, a->ways);
	if (a->repl == VM_REPL_PLRU) {
		uint32_t n = 0;
		while (n < a->ways - 1)
			n = 2 * n + 1 + a->plru[set][n];
		return n - (a->ways - 1);
	}
	for (w = 1; w < a->ways; w++)
		if (s[w].stamp < s[v].stamp)
			v = w;
	return v;
}

static void ref_fill(unsigned l, vm_vaddr va, const struct vm_tlb_fill *f, uint64_t now)
{
	struct ref_array *a = NULL;
	unsigned size = f->size;
	for (int s = (int)size; s >= 0 && !a; s--) {
		for (unsigned i = 0; i < ref.n[l] && !a; i++) {
			if (ref.a[l][i].sizes & (1u << s)) {
				a = &ref.a[l][i];
				size = (unsigned)s;
			}
		}
	}
	if (!a)
		return;
	uint64_t pn = va >> vm_psize_shift(size);
	uint16_t pcid = f->pcid & 0xfff;
	long j = ref_find(a, pn << 2 | size, pcid);
	if (j < 0) {
		uint32_t set = (uint32_t)(pn % a->sets);
		j = set * a->ways + ref_victim(a, set);
		if (a->e[j].tag != VM_TLB_TAG_INVALID)
			ref.evictions++;
	}
	uint64_t big = UINT64_C(1) << vm_psize_shift(f->size);
	uint64_t small = UINT64_C(1) << vm_psize_shift(size);
	a->e[j] = (struct vm_tlbe){
		.tag = pn << 2 | size,
		.pbase = f->pbase + (va & (big - 1) & ~(small - 1)),
		.pcid = pcid,
		.pcid_mask = f->global ? 0 : 0xfff,
		.size = (uint8_t)size,
		.perm = f->perm,
		.pkey = f->pkey,
		.psize = (uint8_t)(f->psize > f->size ? f->psize : f->size),
	};
	ref.fills++;
	ref_touch(a, (uint32_t)j, now);
}

static void ref_drop(struct vm_tlbe *e)
{
	if (e->tag != VM_TLB_TAG_INVALID) {
		e->tag = VM_TLB_TAG_INVALID;
		ref.invalidated++;
	}
}

static void ref_flush(enum vm_tlb_match m, uint16_t pcid, bool one_va, vm_vaddr va)
{
	pcid &= 0xfff;
	for (unsigned l = 0; l < 3; l++) {
		for (unsigned i = 0; i < ref.n[l]; i++) {
			struct ref_array *a = &ref.a[l][i];
			for (uint32_t j = 0; j < a->sets * a->ways; j++) {
				struct vm_tlbe *e = &a->e[j];
				bool g = e->pcid_mask == 0;
				bool hit = m == VM_MATCH_ALL || (m == VM_MATCH_NONGLOBAL && !g) ||
					   (m == VM_MATCH_PCID_NONGLOBAL && !g && e->pcid == pcid) ||
					   (m == VM_MATCH_PCID_OR_GLOBAL && (g || e->pcid == pcid));
				/* One address: every entry of the page it came from
				 * (a splinter of a larger page goes with all of it). */
				vm_vaddr eva = (e->tag >> 2) << vm_psize_shift(e->size);
				if (e->tag != VM_TLB_TAG_INVALID && hit &&
				    (!one_va || ((eva ^ va) >> vm_psize_shift(e->psize)) == 0))
					ref_drop(e);
			}
		}
	}
}

/* Array index and slot of a real entry pointer, or -1. */
static int real_pos(const struct vm_tlb_level *lv, const struct vm_tlbe *e, long *slot)
{
	for (unsigned i = 0; i < lv->n; i++) {
		uintptr_t lo = (uintptr_t)lv->a[i].e, p = (uintptr_t)e;
		if (e && p >= lo && p < lo + lv->a[i].sets * lv->a[i].ways * sizeof(*e)) {
			*slot = (long)((p - lo) / sizeof(*e));
			return (int)i;
		}
	}
	return -1;
}

/* Both empty, or both valid with every field equal. */
static bool same_entry(const struct vm_tlbe *x, const struct vm_tlbe *y)
{
	bool vx = x->tag != VM_TLB_TAG_INVALID, vy = y->tag != VM_TLB_TAG_INVALID;
	if (!vx || !vy)
		return vx == vy;
	return x->tag == y->tag && x->pbase == y->pbase && x->stamp == y->stamp &&
	       x->pcid == y->pcid && x->pcid_mask == y->pcid_mask && x->size == y->size &&
	       x->perm == y->perm && x->pkey == y->pkey;
}

/* Every entry and counter of t equal to the reference; else say where. */
static bool same_as_ref(const struct vm_tlb *t, char *why, size_t len)
{
	for (unsigned l = 0; l < 3; l++) {
		const struct vm_tlb_level *lv = real_level((struct vm_tlb *)t, l);
		if (lv->n != ref.n[l]) {
			snprintf(why, len, "level %u: %u arrays, reference %u", l, lv->n, ref.n[l]);
			return false;
		}
		for (unsigned i = 0; i < lv->n; i++) {
			const struct vm_tlb_array *a = &lv->a[i];
			for (uint32_t j = 0; j < a->sets * a->ways; j++) {
				const struct vm_tlbe *x = &a->e[j], *y = &ref.a[l][i].e[j];
				if (!same_entry(x, y)) {
					snprintf(why, len, "level %u array %u slot %" PRIu32 ": tag %#"
						 PRIx64 " stamp %" PRIu64 ", reference tag %#" PRIx64
						 " stamp %" PRIu64, l, i, j, x->tag, x->stamp, y->tag,
						 y->stamp);
					return false;
				}
			}
		}
	}
	if (t->fills != ref.fills || t->evictions != ref.evictions ||
	    t->invalidated != ref.invalidated) {
		snprintf(why, len, "counters %" PRIu64 "/%" PRIu64 "/%" PRIu64 ", reference %" PRIu64
			 "/%" PRIu64 "/%" PRIu64, t->fills, t->evictions, t->invalidated, ref.fills,
			 ref.evictions, ref.invalidated);
		return false;
	}
	return true;
}

/* A small pool of addresses, so that fills meet, overwrite and evict each
 * other: 4 regions (the bottom, 1 GiB, the top of user space, the kernel's
 * top 2 GiB) x 3 large pages x 40 small ones, any offset. */
static vm_vaddr pick_va(struct vm_rng *r)
{
	static const vm_vaddr region[] = { 0, 0x40000000, UINT64_C(0x7fffc0000000),
					   UINT64_C(0xffffffff80000000) };
	return region[vm_rng_below(r, 4)] + (vm_rng_below(r, 3) << 21) +
	       (vm_rng_below(r, 40) << 12) + vm_rng_below(r, 4096);
}

struct diff_state {
	struct vm_tlb *t;
	struct vm_rng *r;
	uint64_t clock;      /* every stamp written so far is <= clock */
};

/* now for an operation: mostly the next clock tick; one in eight an earlier
 * time, so that stamps tie and go backwards. */
static uint64_t pick_now(struct diff_state *d)
{
	if (vm_rng_below(d->r, 8) == 0)
		return 1 + vm_rng_below(d->r, d->clock);
	return ++d->clock;
}

/* The fast path of mmu.h on one L1 level: a hit must be one the reference
 * has, and writes the stamp directly with the next clock tick. */
static bool diff_fast_path(struct diff_state *d, unsigned l, vm_vaddr va, uint16_t pcid,
			   char *why, size_t len)
{
	struct vm_tlb_level *lv = real_level(d->t, l);
	struct vm_tlb_array *a = vm_tlb_fast_array(lv);
	uint64_t vpn = va >> 12;
	struct vm_tlbe *e = vm_tlb_fast_probe(a, vpn);
	long slot;
	if ((uintptr_t)e < (uintptr_t)a->ent ||
	    (uintptr_t)e > (uintptr_t)(a->e + a->sets * a->ways - 1)) {
		snprintf(why, len, "fast probe of vpn %#" PRIx64 " outside its array", vpn);
		return false;
	}
	if (e->tag != vpn << 2 || ((e->pcid ^ pcid) & e->pcid_mask))
		return true;
	int i = real_pos(lv, e, &slot);
	if (i < 0 || ref_find(&ref.a[l][i], vpn << 2, pcid) < 0) {
		snprintf(why, len, "fast-path hit on vpn %#" PRIx64 " that the reference lacks", vpn);
		return false;
	}
	e->stamp = ++d->clock;
	if (a->plru)
		vm_tlb_touch(a, e, d->clock);
	ref_touch(&ref.a[l][i], (uint32_t)slot, d->clock);
	return true;
}

/* One random operation on both; false (with why) when they disagree. */
static bool diff_step(struct diff_state *d, char *why, size_t len)
{
	struct vm_rng *r = d->r;
	unsigned l = (unsigned)vm_rng_below(r, 3);
	struct vm_tlb_level *lv = real_level(d->t, l);
	vm_vaddr va = pick_va(r);
	uint16_t pcid = (uint16_t)vm_rng_below(r, 4);
	static const uint8_t sizes[8] = { 0, 0, 0, 0, 0, 1, 1, 2 };
	struct vm_tlb_fill f = {
		.size = sizes[vm_rng_below(r, 8)],
		.perm = (uint8_t)vm_rng_below(r, 32),
		.pkey = (uint8_t)vm_rng_below(r, 16),
		.global = vm_rng_below(r, 8) == 0,
		.pcid = pcid,
	};
	f.pbase = pbase_of(va, f.size) + (vm_rng_below(r, 2) << 44);
	long rslot = -1, slot = -1;
	int ri, i;
	struct vm_tlbe *e;
	uint64_t now;

	/* Out of 32: 8 lookups, 8 fills, 8 inserts, 4 fast-path probes, 2 drops,
	 * 2 flushes (one in 64 of every address, so that the levels fill up). */
	switch (vm_rng_below(r, 32) / 2) {
	case 0: case 1: case 2: case 3:
		now = pick_now(d);
		e = vm_tlb_lookup(d->t, lv, va, pcid, now);
		i = real_pos(lv, e, &slot);
		ri = ref_lookup(l, va, pcid, now, &rslot);
		if (i != ri || slot != rslot) {
			snprintf(why, len, "lookup %#" PRIx64 " pcid %u in level %u: array %d slot %ld,"
				 " reference array %d slot %ld", va, pcid, l, i, slot, ri, rslot);
			return false;
		}
		return true;
	case 4: case 5: case 6: case 7:
		now = pick_now(d);
		vm_tlb_fill(d->t, lv, va, &f, now);
		ref_fill(l, va, &f, now);
		return true;
	case 8: case 9: case 10: case 11:
		/* As the MMU does: insert right after a miss. */
		now = pick_now(d);
		e = vm_tlb_lookup(d->t, lv, va, pcid, now);
		ri = ref_lookup(l, va, pcid, now, &rslot);
		if ((e != NULL) != (ri >= 0)) {
			snprintf(why, len, "lookup before insert disagrees at %#" PRIx64, va);
			return false;
		}
		if (!e) {
			vm_tlb_insert(d->t, lv, va, &f, now);
			ref_fill(l, va, &f, now);
		}
		return true;
	case 12: case 13:
		return diff_fast_path(d, vm_rng_below(r, 2), va, pcid, why, len);
	case 14:
		/* Drop any slot, valid or not; now and then NULL. */
		if (lv->n == 0 || vm_rng_below(r, 16) == 0) {
			vm_tlb_drop(d->t, NULL);
			return true;
		}
		i = (int)vm_rng_below(r, lv->n);
		slot = (long)vm_rng_below(r, lv->a[i].sets * lv->a[i].ways);
		vm_tlb_drop(d->t, &lv->a[i].e[slot]);
		ref_drop(&ref.a[l][i].e[slot]);
		return true;
	default: {
		enum vm_tlb_match m = (enum vm_tlb_match)vm_rng_below(r, 4);
		bool one_va = vm_rng_below(r, 64) != 0;
		vm_tlb_flush(d->t, m, pcid, one_va, va);
		ref_flush(m, pcid, one_va, va);
		return true;
	}
	}
}

/* Run steps random operations on preset p; report the first disagreement. */
static void differential(const struct vm_tlb_preset *p, int repl, unsigned steps, const char *what)
{
	struct vm_host h = { 0 };
	struct vm_rng mrng, r;
	struct vm_tlb t;
	uint64_t seed = tap_seed(1234);
	char why[240] = "", msg[200] = "";

	vm_rng_seed(&mrng, seed + 1);
	vm_rng_seed(&r, seed);
	if (vm_tlb_init(&t, p, repl, &h, &mrng) != 0) {
		ok(0, "%s: init", what);
		return;
	}
	ref_init(p, repl, seed + 1);
	for (unsigned l = 0; l < 3; l++) {
		for (unsigned i = 0; i < ref.n[l]; i++) {
			const struct ref_array *ra = &ref.a[l][i];
			if (ra->sets * ra->ways > REF_ENTRIES || ra->sets > REF_SETS) {
				ok(0, "%s: too large for the reference", what);
				vm_tlb_fini(&t, &h);
				return;
			}
		}
	}
	struct diff_state d = { .t = &t, .r = &r, .clock = 1 };
	unsigned step;
	bool good = true;
	for (step = 0; step < steps && good; step++) {
		good = diff_step(&d, why, sizeof(why));
		if (good && vm_tlb_check(&t, msg, sizeof(msg)) != 0) {
			snprintf(why, sizeof(why), "vm_tlb_check: %s", msg);
			good = false;
		}
		if (good)
			good = same_as_ref(&t, why, sizeof(why));
	}
	if (!good)
		diag("%s: step %u (seed %" PRIu64 "): %s", what, step - 1, seed, why);
	ok(good, "%s: %u random operations agree with the reference, index exact after each", what,
	   steps);
	ok(t.evictions > steps / 50 && t.invalidated > steps / 50,
	   "%s: the run evicted (%" PRIu64 ") and invalidated (%" PRIu64 ")", what, t.evictions,
	   t.invalidated);
	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "%s: nothing leaked", what);
}

static void test_index_differential(void)
{
	/* Fully associative (72 ways: LRU candidates), 12 sets (a modulo),
	 * a 1 GiB array beside a 4K+2M one, 3 sets of 32 ways. */
	struct vm_tlb_preset lru = {
		.name = "diff-lru",
		.l1i = { { ARR(72, 72, S4K | S2M, VM_REPL_LRU) } },
		.l1d = { { ARR(24, 2, S4K | S2M, VM_REPL_LRU), ARR(4, 4, S1G, VM_REPL_LRU) } },
		.l2 = { { ARR(96, 32, S4K | S2M, VM_REPL_LRU), ARR(8, 8, S1G, VM_REPL_LRU) } },
	};
	struct vm_tlb_preset plru = {
		.name = "diff-plru",
		.l1i = { { ARR(64, 64, S4K | S2M | S1G, VM_REPL_PLRU) } },
		.l1d = { { ARR(24, 2, S4K | S2M, VM_REPL_PLRU), ARR(4, 4, S1G, VM_REPL_PLRU) } },
		.l2 = { { ARR(96, 32, S4K | S2M | S1G, VM_REPL_PLRU) } },
	};
	differential(&lru, -1, 20000, "LRU: fully assoc, 12 sets, 3x32, split sizes");
	differential(&plru, -1, 20000, "PLRU: fully assoc, 12 sets, 3x32");
	differential(&lru, VM_REPL_RANDOM, 20000, "random: the LRU geometry");
	/* The presets' large L2s make each step's comparison long: fewer steps. */
	differential(vm_tlb_preset_find("zen4"), -1, 4000, "zen4");
	differential(vm_tlb_preset_find("skylake"), -1, 4000, "skylake");
	differential(vm_tlb_preset_find("tiny"), -1, 20000, "tiny");
}

/* The first n vpns from `from` up whose 4 KiB tag has home h in a. */
static void vpns_with_home(const struct vm_tlb_array *a, uint32_t h, uint64_t from, uint64_t *out,
			   unsigned n)
{
	for (uint64_t vpn = from; n > 0; vpn++) {
		if (vm_tlb_home(a, vpn << 2) == h) {
			*out++ = vpn;
			n--;
		}
	}
}

/* Index slot value naming the 4 KiB entry of vpn under pcid, or 0. */
static uint32_t ix_of(const struct vm_tlb_array *a, uint64_t vpn, uint16_t pcid)
{
	for (uint32_t j = 0; j < a->sets * a->ways; j++)
		if (a->e[j].tag == vpn << 2 && a->e[j].pcid == pcid)
			return j + 1;
	return 0;
}

static bool check_ok(const struct vm_tlb *t)
{
	char msg[200];
	if (vm_tlb_check(t, msg, sizeof(msg)) == 0)
		return true;
	diag("vm_tlb_check: %s", msg);
	return false;
}

static void test_index_collisions(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	is_i64(init_one(&t, &h, CFG(16, 16, S4K | S2M, VM_REPL_LRU)), 0, "init 16 fully associative");
	struct vm_tlb_array *a = &t.l1d.a[0];
	uint32_t last = a->ix_mask;
	is_u64(last, 63, "index of 64 slots");

	/* A and B share the last slot as home, so B wraps to slot 0, and C,
	 * whose home is slot 0, goes on to slot 1. */
	uint64_t ab[2], c;
	vpns_with_home(a, last, 1, ab, 2);
	vpns_with_home(a, 0, 1, &c, 1);
	vm_vaddr A = ab[0] << 12, B = ab[1] << 12, C = c << 12;
	fill4k(&t, A, 1);
	fill4k(&t, B, 2);
	fill4k(&t, C, 3);
	ok(a->ix[last] == ix_of(a, ab[0], 1) && a->ix[0] == ix_of(a, ab[1], 1) &&
	   a->ix[1] == ix_of(a, c, 1) && a->ix[1] != 0, "chain: A home, B wrapped to 0, C pushed to 1");
	ok(check_ok(&t), "the index checks");
	ok(fast_probe(a, A, 1) && !fast_probe(a, B, 1) && !fast_probe(a, C, 1),
	   "fast path: A hits; B and C, off their homes, miss");
	const struct vm_tlbe *e = vm_tlb_lookup(&t, &t.l1d, B + 5, 1, 4);
	ok(e && e->pbase == pbase_of(B, 0), "lookup follows the chain past the wrap to B");
	e = vm_tlb_lookup(&t, &t.l1d, C, 1, 5);
	ok(e && e->pbase == pbase_of(C, 0), "and to C");
	ok(!fast_probe(a, B, 1) && !fast_probe(a, C, 1), "a lookup does not move entries");
	ok(!vm_tlb_lookup(&t, &t.l1d, A, 2, 6), "PCID still checked along the chain");

	/* Dropping A shifts B back to its home across the wrap, then C. */
	vm_tlb_drop(&t, vm_tlb_lookup(&t, &t.l1d, A, 1, 7));
	ok(a->ix[last] == ix_of(a, ab[1], 1) && a->ix[0] == ix_of(a, c, 1) && a->ix[1] == 0,
	   "drop: B shifted back to the last slot, C to slot 0");
	ok(fast_probe(a, B, 1) && fast_probe(a, C, 1) && !fast_probe(a, A, 1),
	   "B and C now hit the fast path, A is gone");
	ok(check_ok(&t), "the index checks after the shift");

	/* One tag under three PCIDs: three index slots in fill order. */
	uint64_t dv;
	vpns_with_home(a, 10, 1, &dv, 1);
	vm_vaddr D = dv << 12;
	for (uint16_t p = 1; p <= 3; p++)
		fill(&t, &t.l1d, D, VM_PSIZE_4K, p, false, 10 + p);
	ok(a->ix[10] == ix_of(a, dv, 1) && a->ix[11] == ix_of(a, dv, 2) && a->ix[12] == ix_of(a, dv, 3),
	   "same tag, PCIDs 1 2 3: slots 10 11 12");
	bool own = true;
	for (uint16_t p = 1; p <= 3; p++) {
		e = vm_tlb_lookup(&t, &t.l1d, D, p, 20 + p);
		own &= e && e->pcid == p;
	}
	ok(own, "each PCID finds its own entry");
	ok(fast_probe(a, D, 1) && !fast_probe(a, D, 2), "fast path: PCID 1 at home, PCID 2 behind it");
	vm_tlb_flush(&t, VM_MATCH_PCID_NONGLOBAL, 1, true, D);
	ok(fast_probe(a, D, 2) && !fast_probe(a, D, 1) && vm_tlb_lookup(&t, &t.l1d, D, 3, 30),
	   "INVPCID 0 of PCID 1: PCID 2 moves home, PCID 3 still found");
	ok(check_ok(&t), "the index checks after the flush");
	vm_tlb_fini(&t, &h);

	/* A global entry in a lower way than a non-global one of the same page:
	 * a lookup under the non-global's PCID takes the lower way, as a scan of
	 * the set would, though the index holds the non-global first. */
	is_i64(init_one(&t, &h, CFG(4, 4, S4K, VM_REPL_LRU)), 0, "init 4 fully associative");
	a = &t.l1d.a[0];
	fill4k(&t, 0x5000, 1);                                      /* way 0 */
	fill(&t, &t.l1d, 0x9000, VM_PSIZE_4K, 1, false, 2);         /* way 1 */
	vm_tlb_drop(&t, &a->e[0]);
	fill(&t, &t.l1d, 0x9000, VM_PSIZE_4K, 2, true, 3);          /* way 0, global */
	ok(a->e[0].pcid_mask == 0 && a->e[1].pcid_mask == 0xfff, "global in way 0, PCID 1's in way 1");
	e = vm_tlb_lookup(&t, &t.l1d, 0x9000, 1, 4);
	ok(e == &a->e[0], "PCID 1 lookup: the lowest way, the global entry");
	e = vm_tlb_lookup(&t, &t.l1d, 0x9000, 3, 5);
	ok(e == &a->e[0], "PCID 3 lookup: the global entry");
	ok(check_ok(&t), "the index checks");
	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "collisions: nothing leaked");
}

static bool check_fails(const struct vm_tlb *t, const char *want, const char *what)
{
	char msg[200] = "";
	int rc = vm_tlb_check(t, msg, sizeof(msg));
	bool good = rc == -EUCLEAN && strstr(msg, want) != NULL;
	if (!good)
		diag("%s: rc %d, msg \"%s\"", what, rc, msg);
	return good;
}

static void test_index_check(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t;
	char msg[200] = "x";
	is_i64(init_one(&t, &h, CFG(16, 4, S4K | S2M, VM_REPL_LRU)), 0, "init 16x4");
	struct vm_tlb_array *a = &t.l1d.a[0];
	for (uint64_t v = 0; v < 10; v++)
		fill4k(&t, v << 12, v + 1);
	is_i64(vm_tlb_check(&t, msg, sizeof(msg)), 0, "a filled TLB checks");
	is_str(msg, "", "and msg is empty");
	is_i64(vm_tlb_check(&t, NULL, 0), 0, "msg may be NULL");

	uint32_t home = vm_tlb_home(a, 3 << 2), i = home;
	while (a->ix[i] != ix_of(a, 3, 1))
		i = (i + 1) & a->ix_mask;
	uint32_t saved = a->ix[i];
	a->ix[i] = 0;
	ok(check_fails(&t, "not reachable", "lost slot"), "an index slot lost: not reachable");
	a->ix[i] = saved;

	uint32_t empty = 0;
	while (a->ix[empty])
		empty++;
	a->ix[empty] = 16;      /* entry 15: empty */
	ok(check_fails(&t, "names the empty entry", "stray slot"), "a slot naming an empty entry");
	a->ix[empty] = 17;
	ok(check_fails(&t, "names no entry", "out of range"), "a slot past the entries");
	a->ix[empty] = 0;

	uint64_t tag = a->e[0].tag;
	a->e[0].tag = (UINT64_C(1000) * 4) << 2;      /* same set (0), other tag */
	ok(check_fails(&t, "", "retagged") , "an entry retagged behind the index's back");
	a->e[0].tag = tag;
	a->e[15].stamp = 9;
	ok(check_fails(&t, "empty with stamp", "stamp"), "an empty entry with a stamp");
	a->e[15].stamp = 0;
	a->ent[0].tag = 0;
	ok(check_fails(&t, "sentinel", "sentinel"), "a sentinel that looks valid");
	a->ent[0].tag = VM_TLB_TAG_INVALID;
	ok(check_ok(&t), "restored: checks again");

	vm_tlb_fini(&t, &h);
	is_u64(h.allocs, h.frees, "check: nothing leaked");
}

static void test_insert(void)
{
	struct vm_host h = { 0 };
	struct vm_tlb t, u;
	/* The same fills through insert and through fill: same entries, same
	 * victims, same counters. */
	is_i64(vm_tlb_init(&t, vm_tlb_preset_find("zen4"), -1, &h, NULL), 0, "init zen4");
	is_i64(vm_tlb_init(&u, vm_tlb_preset_find("zen4"), -1, &h, NULL), 0, "and another");
	bool same = true;
	for (uint64_t v = 0; v < 500; v++) {
		/* 300 small pages, and one in seven a large page of 11 elsewhere. */
		bool big = v % 7 == 0;
		struct vm_tlb_fill f = { .pbase = v << 21, .size = big, .perm = 3, .pcid = 1 };
		vm_vaddr va = big ? 0x40000000 + ((v % 11) << 21) : (v * 7919 % 300) << 12;
		if (vm_tlb_lookup(&t, &t.l1d, va, 1, v + 1) == NULL)
			vm_tlb_insert(&t, &t.l1d, va, &f, v + 1);
		if (vm_tlb_lookup(&u, &u.l1d, va, 1, v + 1) == NULL)
			vm_tlb_fill(&u, &u.l1d, va, &f, v + 1);
		for (uint32_t j = 0; j < 72; j++)
			same &= same_entry(&t.l1d.a[0].e[j], &u.l1d.a[0].e[j]);
	}
	ok(same && t.fills == u.fills && t.evictions == u.evictions && t.evictions > 0,
	   "insert after a miss == fill after a miss (%" PRIu64 " fills, %" PRIu64 " evictions)",
	   t.fills, t.evictions);
	ok(check_ok(&t) && check_ok(&u), "both check");
	vm_tlb_fini(&t, &h);
	vm_tlb_fini(&u, &h);
	is_u64(h.allocs, h.frees, "insert: nothing leaked");
}

int main(void)
{
	test_set_index();
	test_lru();
	test_plru();
	test_random();
	test_fast_path();
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
	test_index_differential();
	test_index_collisions();
	test_index_check();
	test_insert();
	return done_testing();
}
