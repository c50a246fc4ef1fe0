/*
 * TLB arrays: lookup, fill with a replacement policy, invalidation (tlb.h).
 *
 * An array is sets * ways entries, set-major: slot = set * ways + way.  An
 * entry of page size s lives in set (va >> shift(s)) mod sets and carries the
 * tag (va >> shift(s)) << 2 | s, so entries of different sizes share an
 * array without ever matching each other, and a 4 KiB entry's tag is the
 * vpn << 2 that the inline fast path (mmu.h) compares.  The low two bits of a
 * valid tag are a size (0..2), so no valid tag equals VM_TLB_TAG_INVALID.
 *
 * Entries are found through the array's index (struct vm_tlb_array in tlb.h),
 * never by scanning a set: every change of an entry's tag goes through
 * ix_insert / ix_remove, so the index names exactly the valid entries.  The
 * set is read only to choose a victim.
 *
 * Choosing a victim (choose_victim) is separate from writing over it
 * (fill_entry), as in libCacheSim's eviction interface.  Only init
 * allocates; everything else works in place.
 */
#include "hw/tlb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "base/error.h"

/* PCIDs are 12 bits (CR3[11:0], SDM 4.10.1). */
#define PCID_MASK 0xfffu

/* Index slots per entry, at least.  Linear probing at a load of 1/4 or less
 * expects about 1.4 slots per unsuccessful search (Knuth 6.4). */
#define IX_PER_ENTRY 4

/* PLRU keeps a set's tree (ways - 1 bits) in one uint64_t. */
#define PLRU_WAYS_MAX 64

/* LRU candidates kept per set (struct vm_tlb_lru), for LRU arrays of more
 * than LRU_SCAN_WAYS ways; smaller sets are scanned at each fill. */
#define LRU_CAND 8
#define LRU_SCAN_WAYS 16

/* What vm_tlb_fast_array() gives a level with no 4 KiB array: a two-slot
 * empty index (the smallest whose shift stays below 64), so every probe names
 * the sentinel, whose key no vpn equals.  The fast path writes an entry only
 * after its key matched, which never happens here, so the array is const: it
 * sits in read-only memory and every machine can read it without
 * synchronisation.  (The casts drop const only because the fast path's
 * pointers are not const; nothing ever writes through them.)  e is one entry
 * past the sentinel, itself empty, so that e[0] is readable too. */
static const struct vm_tlbe miss_entries[2] = {
	{ .key = VM_TLB_KEY_NONE, .tag = VM_TLB_TAG_INVALID },
	{ .key = VM_TLB_KEY_NONE, .tag = VM_TLB_TAG_INVALID },
};
static const uint32_t miss_ix[2];
static struct vm_tlbe *const miss_fx[2] = {
	(struct vm_tlbe *)&miss_entries[0],
	(struct vm_tlbe *)&miss_entries[0],
};
static const struct vm_tlb_array miss_array = {
	.fx = (struct vm_tlbe **)miss_fx,
	.e = (struct vm_tlbe *)&miss_entries[1],
	.ent = (struct vm_tlbe *)&miss_entries[0],
	.ix = (uint32_t *)miss_ix,
	.ix_mask = 1,
	.ix_shift = 63,
	.plru = NULL,
	.sets = 1,
	.ways = 1,
};

static inline uint64_t tag_of(vm_vaddr va, unsigned size)
{
	return (va >> vm_psize_shift(size)) << 2 | size;
}

static inline bool tlbe_valid(const struct vm_tlbe *e)
{
	return e->tag != VM_TLB_TAG_INVALID;
}

static inline bool tlbe_splinter(const struct vm_tlbe *e)
{
	return e->psize > e->size;
}

/* Does e belong to the page (of the size it was mapped with) holding va? */
static inline bool tlbe_maps_page_of(const struct vm_tlbe *e, vm_vaddr va)
{
	vm_vaddr eva = (e->tag >> 2) << vm_psize_shift(e->size);
	return (eva ^ va) >> vm_psize_shift(e->psize) == 0;
}

static inline bool tlbe_global(const struct vm_tlbe *e)
{
	return e->pcid_mask == 0;
}

/* SDM 4.10.2.4: a global entry may be used under any PCID. */
static inline bool tlbe_pcid_matches(const struct vm_tlbe *e, uint16_t pcid)
{
	return !((e->pcid ^ pcid) & e->pcid_mask);
}

static inline uint32_t array_entries(const struct vm_tlb_array *a)
{
	return a->sets * a->ways;
}

/* The key e has in array a while the CPU's PCID is pcid (struct vm_tlbe): the
 * fast path may use only a valid 4 KiB entry of a fast array that a lookup
 * under pcid would match. */
static inline uint64_t fast_key(const struct vm_tlb_array *a, const struct vm_tlbe *e,
				uint16_t pcid)
{
	if (!a->fx || !tlbe_valid(e) || e->size != VM_PSIZE_4K || !tlbe_pcid_matches(e, pcid))
		return VM_TLB_KEY_NONE;
	return e->tag >> 2;
}

/* The bit of perm in the CPU's hit_ok[] tables (which cover perm < 32: the
 * VM_PERM_* bits); none for a perm no table covers, so that it never hits. */
static inline uint32_t perm_bit(unsigned perm)
{
	return perm < 32 ? UINT32_C(1) << perm : 0;
}

/* pbase minus the va of the entry's page: what the fast path adds to a va. */
static inline uint64_t entry_delta(const struct vm_tlbe *e)
{
	return e->pbase - ((e->tag >> 2) << vm_psize_shift(e->size));
}

/* Set of page number pn (va >> the shift of the size being looked for).  Real
 * geometries mostly give power-of-two set counts (Skylake's 1536-entry 12-way
 * STLB has 128), but nothing requires it (3072 entries at 8 ways would be 384
 * sets), so fall back to a modulo. */
static inline uint32_t set_of(const struct vm_tlb_array *a, uint64_t pn)
{
	if (vm_is_pow2(a->sets))
		return (uint32_t)(pn & (a->sets - 1));
	return (uint32_t)(pn % a->sets);
}

static inline struct vm_tlbe *set_base(const struct vm_tlb_array *a, uint32_t set)
{
	return &a->e[(size_t)set * a->ways];
}

/*
 * LRU over many ways without a scan per fill.  One pass collects the
 * LRU_CAND smallest keys (stamp, way) of the set in order; the following
 * fills take them in turn, skipping any whose stamp has changed.  That is the
 * exact LRU victim as long as every stamp written since the pass is above
 * `bound`, the largest stamp collected: then a changed entry, and one never
 * collected, has a larger key than any unchanged candidate.  tlb.c checks
 * each stamp it writes (vm_tlb_touch) and forgets the candidates when one is
 * not above bound, or when an entry is dropped (stamp 0); the fast path
 * writes only a new maximum of the CPU's clock (tlb.h), which is above every
 * stamp in the array, and so above bound.
 */
struct vm_tlb_lru {
	uint64_t bound;                 /* == stamp[n - 1] */
	uint64_t stamp[LRU_CAND];       /* ascending (stamp, way) */
	uint32_t way[LRU_CAND];
	uint32_t n, next;               /* candidates [next, n) are left; n == 0: none */
};

/* A stamp is about to be written into e (0 for a drop): forget the
 * candidates of e's set unless it is above their bound. */
static inline void lru_stamp_write(struct vm_tlb_array *a, const struct vm_tlbe *e, uint64_t stamp)
{
	if (a->lru) {
		struct vm_tlb_lru *c = &a->lru[(uint32_t)(e - a->e) / a->ways];
		if (stamp <= c->bound)
			c->n = 0;
	}
}

/* --- the index ------------------------------------------------------------- */

static inline uint32_t ix_next(const struct vm_tlb_array *a, uint32_t i)
{
	return (i + 1) & a->ix_mask;
}

/* Every write of an index slot: the pointer copy of a fast array follows. */
static inline void ix_set(struct vm_tlb_array *a, uint32_t i, uint32_t v)
{
	a->ix[i] = v;
	if (a->fx)
		a->fx[i] = &a->ent[v];
}

/* Record the valid entry x in the index: the first empty slot from its home.
 * The index has 4 slots per entry, so one is always empty.  Entries of one
 * tag (one page under several PCIDs, or global and not) keep their slots in
 * the chain in the order of their ways: x takes the place of the first of
 * them in a higher way, which moves on in turn (they share a home, so any
 * place in the chain is right for each).  Then the first of them, the only
 * one the fast path reads (from the home slot), is the one vm_tlb_lookup
 * picks among those that match, the lowest way.  Deletion keeps the order:
 * it moves entries back in chain order. */
static void ix_insert(struct vm_tlb_array *a, const struct vm_tlbe *x)
{
	uint32_t i = vm_tlb_home(a, x->tag), v = (uint32_t)(x - a->ent), w;
	for (; (w = a->ix[i]) != 0; i = ix_next(a, i)) {
		if (w > v && a->ent[w].tag == x->tag) {
			ix_set(a, i, v);
			v = w;
		}
	}
	ix_set(a, i, v);
}

/* Forget the valid entry x, whose tag is still the one it was recorded under.
 * Backward-shift deletion (Knuth 6.4, algorithm R): walk the chain after the
 * hole; an entry whose home is cyclically at or before the hole moves into it
 * and leaves a hole where it was.  The walk ends at an empty slot, so every
 * entry stays reachable from its home and no tombstones build up. */
static void ix_remove(struct vm_tlb_array *a, const struct vm_tlbe *x)
{
	uint32_t v = (uint32_t)(x - a->ent), hole = vm_tlb_home(a, x->tag);
	while (a->ix[hole] != v)
		hole = ix_next(a, hole);
	for (uint32_t j = ix_next(a, hole); a->ix[j]; j = ix_next(a, j)) {
		uint32_t home = vm_tlb_home(a, a->ent[a->ix[j]].tag);
		if (((j - home) & a->ix_mask) >= ((j - hole) & a->ix_mask)) {
			ix_set(a, hole, a->ix[j]);
			hole = j;
		}
	}
	ix_set(a, hole, 0);
}

/* The entry of a with this tag that a lookup under pcid uses, or NULL.  All
 * entries with one tag share a set, and where several match (a global entry
 * and a non-global one of this PCID) the lowest way is the one a scan of the
 * set would meet first, so the whole chain is read. */
static struct vm_tlbe *ix_find(const struct vm_tlb_array *a, uint64_t tag, uint16_t pcid)
{
	struct vm_tlbe *found = NULL;
	uint32_t v, best = UINT32_MAX;
	for (uint32_t i = vm_tlb_home(a, tag); (v = a->ix[i]) != 0; i = ix_next(a, i)) {
		struct vm_tlbe *e = &a->ent[v];
		if (e->tag == tag && tlbe_pcid_matches(e, pcid) && v < best) {
			found = e;
			best = v;
		}
	}
	return found;
}

/* Empty the valid entry e of a (index first: it is found by its tag). */
static void drop_entry(struct vm_tlb *t, struct vm_tlb_array *a, struct vm_tlbe *e)
{
	a->splinters -= tlbe_splinter(e);
	ix_remove(a, e);
	lru_stamp_write(a, e, 0);
	e->tag = VM_TLB_TAG_INVALID;
	e->key = VM_TLB_KEY_NONE;
	e->stamp = 0;
	t->invalidated++;
}

/*
 * Tree pseudo-LRU over the ways of one set (ways a power of two): ways - 1
 * bits, node n has children 2n + 1 and 2n + 2, the leaves are the ways in
 * order.  A node's bit names the child whose half was used less recently:
 * 0 left, 1 right.  The victim is found by following the bits from the root;
 * a use flips every bit on its path to point at the other half.
 */
static uint32_t plru_victim(uint64_t tree, uint32_t ways)
{
	uint32_t n = 0;
	while (n < ways - 1)
		n = 2 * n + 1 + (uint32_t)((tree >> n) & 1);
	return n - (ways - 1);
}

static uint64_t plru_use(uint64_t tree, uint32_t ways, uint32_t way)
{
	uint32_t n = way + ways - 1;
	while (n > 0) {
		uint32_t p = (n - 1) / 2;
		if (n == 2 * p + 1)
			tree |= UINT64_C(1) << p;
		else
			tree &= ~(UINT64_C(1) << p);
		n = p;
	}
	return tree;
}

/* The bits of the tree a use of each way changes, and their new values
 * (vm_tlb_touch_plru): plru_use on an all-zero and an all-one tree tell
 * which bits it clears and which it sets. */
static void plru_paths(uint64_t *path, uint32_t ways)
{
	for (uint32_t w = 0; w < ways; w++) {
		uint64_t set = plru_use(0, ways, w), kept = plru_use(~UINT64_C(0), ways, w);
		path[2 * w] = set | ~kept;
		path[2 * w + 1] = set;
	}
}

void vm_tlb_touch(struct vm_tlb_array *a, struct vm_tlbe *e, uint64_t now)
{
	lru_stamp_write(a, e, now);
	e->stamp = now;
	if (a->plru)
		vm_tlb_touch_plru(a, e);
}

/* The lowest way of a set with the smallest stamp.  Empty ways have stamp 0
 * and valid ones at least 1 (every now is), so this is the lowest empty way
 * if there is one, else exact LRU with a tie going to the lowest way. */
static uint32_t lru_victim(const struct vm_tlbe *s, uint32_t ways)
{
	uint32_t victim = 0;
	uint64_t oldest = s[0].stamp;
	for (uint32_t w = 1; w < ways; w++) {
		if (s[w].stamp < oldest) {
			oldest = s[w].stamp;
			victim = w;
		}
	}
	return victim;
}

/* Collect the LRU_CAND smallest keys of the set s, by insertion: a key equal
 * in stamp goes after the keys already in, whose ways are lower. */
static void lru_collect(struct vm_tlb_lru *c, const struct vm_tlbe *s, uint32_t ways)
{
	uint32_t n = 0;
	for (uint32_t w = 0; w < ways; w++) {
		uint64_t st = s[w].stamp;
		if (n == LRU_CAND && st >= c->stamp[n - 1])
			continue;
		uint32_t i = n < LRU_CAND ? n++ : n - 1;
		for (; i > 0 && c->stamp[i - 1] > st; i--) {
			c->stamp[i] = c->stamp[i - 1];
			c->way[i] = c->way[i - 1];
		}
		c->stamp[i] = st;
		c->way[i] = w;
	}
	c->n = n;
	c->next = 0;
	c->bound = c->stamp[n - 1];
}

/* lru_victim, through the candidates.  The victim is used up: the caller
 * writes over it. */
static uint32_t lru_victim_cached(struct vm_tlb_lru *c, const struct vm_tlbe *s, uint32_t ways)
{
	for (;;) {
		while (c->next < c->n) {
			uint32_t k = c->next++;
			if (s[c->way[k]].stamp == c->stamp[k])
				return c->way[k];
		}
		lru_collect(c, s, ways);
	}
}

/* Which way of `set` the next fill overwrites: the lowest empty way, else the
 * array's policy's choice; one pass over the set.  Chooses only; the caller
 * evicts. */
static uint32_t choose_victim(struct vm_tlb *t, const struct vm_tlb_array *a, uint32_t set)
{
	const struct vm_tlbe *s = set_base(a, set);

	if (a->lru)
		return lru_victim_cached(&a->lru[set], s, a->ways);
	if (a->repl == VM_REPL_LRU)
		return lru_victim(s, a->ways);
	for (uint32_t w = 0; w < a->ways; w++)
		if (!tlbe_valid(&s[w]))
			return w;
	if (a->repl == VM_REPL_PLRU)
		return plru_victim(a->plru[set], a->ways);
	return (uint32_t)vm_rng_below(t->rng, a->ways);
}

/* The first array of lv that holds page size `size` or, splintering, the
 * largest held size below it; *size is updated to the size chosen.  NULL if
 * the level holds neither (the translation is then not cached). */
static struct vm_tlb_array *fill_array(struct vm_tlb_level *lv, unsigned *size)
{
	if (*size >= VM_PSIZE_COUNT)
		return NULL;
	for (int s = (int)*size; s >= 0; s--) {
		for (unsigned i = 0; i < lv->n; i++) {
			if (lv->a[i].sizes & (1u << s)) {
				*size = (unsigned)s;
				return &lv->a[i];
			}
		}
	}
	return NULL;
}

/* vm_tlb_fill (replace: look for the entry to overwrite first) and
 * vm_tlb_insert (the caller knows there is none). */
static void fill_entry(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
		       const struct vm_tlb_fill *f, uint64_t now, bool replace)
{
	unsigned size = f->size;
	struct vm_tlb_array *a = fill_array(lv, &size);
	if (!a)
		return;
	VM_ASSERT(now >= 1);

	uint64_t pn = va >> vm_psize_shift(size);
	uint64_t tag = pn << 2 | size;
	uint16_t pcid = f->pcid & PCID_MASK;
	/* A refill of a translation the level already holds (a re-walk to set D,
	 * a changed mapping) replaces it: one entry per translation.  Its tag
	 * stays, and so does its index slot. */
	struct vm_tlbe *e = replace ? ix_find(a, tag, pcid) : NULL;
	bool fresh = e == NULL;
	VM_ASSERT(replace || !ix_find(a, tag, pcid));
	if (fresh) {
		uint32_t set = set_of(a, pn);
		e = set_base(a, set) + choose_victim(t, a, set);
		if (tlbe_valid(e)) {
			ix_remove(a, e);
			t->evictions++;
		}
	}
	if (tlbe_valid(e) && tlbe_splinter(e))
		a->splinters--;

	/* Splintered: the entry maps the small page of the large one that holds
	 * va, so add the bits of va between the two page sizes. */
	uint64_t big = UINT64_C(1) << vm_psize_shift(f->size);
	uint64_t small = UINT64_C(1) << vm_psize_shift(size);
	*e = (struct vm_tlbe){
		.tag = tag,
		.pbase = f->pbase + (va & (big - 1) & ~(small - 1)),
		.pcid = pcid,
		.pcid_mask = f->global ? 0 : PCID_MASK,
		.size = (uint8_t)size,
		.perm = f->perm,
		.pkey = f->pkey,
		.psize = VM_MAX(f->psize, f->size),
	};
	e->key = fast_key(a, e, t->pcid);
	e->delta = entry_delta(e);
	e->pbit = perm_bit(f->perm);
	a->splinters += tlbe_splinter(e);
	if (fresh)
		ix_insert(a, e);
	t->fills++;
	vm_tlb_touch(a, e, now);
}

void vm_tlb_fill(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
		 const struct vm_tlb_fill *f, uint64_t now)
{
	fill_entry(t, lv, va, f, now, true);
}

void vm_tlb_insert(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
		   const struct vm_tlb_fill *f, uint64_t now)
{
	fill_entry(t, lv, va, f, now, false);
}

/* The entry of one array translating va under pcid, or NULL: one probe chain
 * per page size held, the smallest size first. */
static struct vm_tlbe *array_find(const struct vm_tlb_array *a, vm_vaddr va, uint16_t pcid)
{
	for (unsigned s = 0; s < VM_PSIZE_COUNT; s++) {
		if (!(a->sizes & (1u << s)))
			continue;
		struct vm_tlbe *e = ix_find(a, tag_of(va, s), pcid);
		if (e)
			return e;
	}
	return NULL;
}

struct vm_tlbe *vm_tlb_lookup(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
			      uint16_t pcid, uint64_t now)
{
	(void)t;
	VM_ASSERT(now >= 1);
	pcid &= PCID_MASK;
	for (unsigned i = 0; i < lv->n; i++) {
		struct vm_tlb_array *a = &lv->a[i];
		struct vm_tlbe *e = array_find(a, va, pcid);
		if (e) {
			vm_tlb_touch(a, e, now);
			return e;
		}
	}
	return NULL;
}

struct vm_tlb_array *vm_tlb_fast_array(struct vm_tlb_level *lv)
{
	for (unsigned i = 0; i < lv->n; i++)
		if (lv->a[i].sizes & (1u << VM_PSIZE_4K))
			return &lv->a[i];
	return (struct vm_tlb_array *)&miss_array;
}

void vm_tlb_set_pcid(struct vm_tlb *t, uint16_t pcid)
{
	struct vm_tlb_level *levels[] = { &t->l1i, &t->l1d };

	pcid &= PCID_MASK;
	if (pcid == t->pcid)
		return;
	t->pcid = pcid;
	for (size_t l = 0; l < VM_ARRAY_SIZE(levels); l++) {
		for (unsigned i = 0; i < levels[l]->n; i++) {
			struct vm_tlb_array *a = &levels[l]->a[i];
			if (!a->fx)
				continue;
			for (uint32_t j = 0; j < array_entries(a); j++)
				a->e[j].key = fast_key(a, &a->e[j], pcid);
		}
	}
}

/* The array of t that e points into, or NULL.  The addresses are compared as
 * integers: comparing pointers into different objects is undefined. */
static struct vm_tlb_array *array_of(struct vm_tlb *t, const struct vm_tlbe *e)
{
	struct vm_tlb_level *levels[] = { &t->l1i, &t->l1d, &t->l2 };
	uintptr_t p = (uintptr_t)e;

	for (size_t l = 0; l < VM_ARRAY_SIZE(levels); l++) {
		for (unsigned i = 0; i < levels[l]->n; i++) {
			struct vm_tlb_array *a = &levels[l]->a[i];
			uintptr_t lo = (uintptr_t)a->e;
			if (p >= lo && p - lo < (uintptr_t)array_entries(a) * sizeof(*e))
				return a;
		}
	}
	return NULL;
}

void vm_tlb_drop(struct vm_tlb *t, struct vm_tlbe *e)
{
	if (!e || !tlbe_valid(e))
		return;
	struct vm_tlb_array *a = array_of(t, e);
	if (a)
		drop_entry(t, a, e);
}

/* SDM 4.10.4.1, the table in REFERENCE.md 1.5. */
static bool flush_matches(const struct vm_tlbe *e, enum vm_tlb_match m, uint16_t pcid)
{
	switch (m) {
	case VM_MATCH_PCID_NONGLOBAL:
		return !tlbe_global(e) && e->pcid == pcid;
	case VM_MATCH_PCID_OR_GLOBAL:
		return tlbe_global(e) || e->pcid == pcid;
	case VM_MATCH_NONGLOBAL:
		return !tlbe_global(e);
	case VM_MATCH_ALL:
		return true;
	}
	return false;
}

/* Drop every matching entry of a: a pass over the entries, each drop taking
 * its own index slot out. */
static void flush_all(struct vm_tlb *t, struct vm_tlb_array *a, enum vm_tlb_match m,
		      uint16_t pcid)
{
	for (uint32_t j = 0; j < array_entries(a); j++)
		if (tlbe_valid(&a->e[j]) && flush_matches(&a->e[j], m, pcid))
			drop_entry(t, a, &a->e[j]);
}

/* Drop the matching entries of a whose page (of the entry's own size)
 * contains va: one probe chain per size held.  A drop shifts a later slot of
 * the chain back into slot i and never moves one before it, so i is read
 * again and nothing is skipped. */
static void flush_va(struct vm_tlb *t, struct vm_tlb_array *a, enum vm_tlb_match m,
		     uint16_t pcid, vm_vaddr va)
{
	/* A large page held as splinters has entries with other tags than va's
	 * (SDM 4.10.4.1: every entry of the page must go): scan the array. */
	if (a->splinters) {
		for (uint32_t j = 0; j < array_entries(a); j++) {
			struct vm_tlbe *e = &a->e[j];
			if (tlbe_valid(e) && flush_matches(e, m, pcid) && tlbe_maps_page_of(e, va))
				drop_entry(t, a, e);
		}
		return;
	}
	for (unsigned s = 0; s < VM_PSIZE_COUNT; s++) {
		if (!(a->sizes & (1u << s)))
			continue;
		uint64_t tag = tag_of(va, s);
		uint32_t i = vm_tlb_home(a, tag), v;
		while ((v = a->ix[i]) != 0) {
			struct vm_tlbe *e = &a->ent[v];
			if (e->tag == tag && flush_matches(e, m, pcid))
				drop_entry(t, a, e);
			else
				i = ix_next(a, i);
		}
	}
}

void vm_tlb_flush(struct vm_tlb *t, enum vm_tlb_match m, uint16_t pcid, bool one_va,
		  vm_vaddr va)
{
	struct vm_tlb_level *levels[] = { &t->l1i, &t->l1d, &t->l2 };

	pcid &= PCID_MASK;
	for (size_t l = 0; l < VM_ARRAY_SIZE(levels); l++) {
		for (unsigned i = 0; i < levels[l]->n; i++) {
			if (one_va)
				flush_va(t, &levels[l]->a[i], m, pcid, va);
			else
				flush_all(t, &levels[l]->a[i], m, pcid);
		}
	}
}

uint64_t vm_tlb_count(const struct vm_tlb_level *lv)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < lv->n; i++) {
		const struct vm_tlb_array *a = &lv->a[i];
		for (uint32_t j = 0; j < array_entries(a); j++)
			n += tlbe_valid(&a->e[j]);
	}
	return n;
}

/* --- validation ------------------------------------------------------------ */

/* Whether index slot i is reachable from slot home: no empty slot in the
 * cyclic range [home, i]. */
static bool ix_reachable(const struct vm_tlb_array *a, uint32_t home, uint32_t i)
{
	for (uint32_t j = home;; j = ix_next(a, j)) {
		if (!a->ix[j])
			return false;
		if (j == i)
			return true;
	}
}

#define ENTRY "%s entry %" PRIu32     /* how a message names an entry: array, slot */
#define SLOT "%s index slot %" PRIu32
#define TAG "tag %#" PRIx64

/* A valid entry: a size the array holds, in the set of its page, a 12-bit
 * PCID, a stamp, and its index slot on its home's chain.  (Two entries may
 * hold one translation: a fill under PCID p overwrites the lowest way that
 * matches, which may be another PCID's global entry while p's own non-global
 * one sits in a higher way.  The index keeps a slot for each.) */
static int check_entry(const struct vm_tlb_array *a, const char *name, uint32_t slot,
		       char *msg, size_t len)
{
	const struct vm_tlbe *x = &a->e[slot];
	unsigned size = (unsigned)(x->tag & 3);
	uint32_t home = vm_tlb_home(a, x->tag), v;

	if (size >= VM_PSIZE_COUNT || !(a->sizes & (1u << size)) || x->size != size)
		return vm_check_fail(msg, len, ENTRY ": " TAG ", size %u not held", name, slot,
				     x->tag, x->size);
	if (set_of(a, x->tag >> 2) != slot / a->ways)
		return vm_check_fail(msg, len, ENTRY ": " TAG " outside its set", name, slot,
				     x->tag);
	if (x->pcid > PCID_MASK || (x->pcid_mask != 0 && x->pcid_mask != PCID_MASK) || !x->stamp)
		return vm_check_fail(msg, len, ENTRY ": pcid %#x, mask %#x, stamp %" PRIu64, name,
				     slot, x->pcid, x->pcid_mask, x->stamp);
	for (uint32_t i = home; (v = a->ix[i]) != 0; i = ix_next(a, i))
		if (v == slot + 1)
			return 0;
	return vm_check_fail(msg, len, ENTRY " (" TAG "): not reachable from its home slot "
			     "%" PRIu32, name, slot, x->tag, home);
}

/* Entries of one tag in way order along their chain (ix_insert): no entry of
 * x's tag in a lower way sits after x's slot i. */
static bool ix_ordered(const struct vm_tlb_array *a, uint32_t i)
{
	uint32_t v = a->ix[i], w;
	for (uint32_t j = ix_next(a, i); (w = a->ix[j]) != 0; j = ix_next(a, j))
		if (w < v && a->ent[w].tag == a->ent[v].tag)
			return false;
	return true;
}

/* Every used index slot names a valid entry on its home's chain.  With every
 * valid entry reachable (check_entry) and as many used slots as valid
 * entries, the index is then a bijection. */
static int check_index(const struct vm_tlb_array *a, const char *name, uint32_t valid,
		       char *msg, size_t len)
{
	uint32_t n = array_entries(a), used = 0;

	for (uint32_t i = 0; i <= a->ix_mask; i++) {
		uint32_t v = a->ix[i];
		if (!v)
			continue;
		used++;
		if (v > n || !tlbe_valid(&a->ent[v]))
			return vm_check_fail(msg, len, SLOT ": names %s entry %" PRIu32, name, i,
					     v > n ? "no" : "the empty", v - 1);
		if (!ix_reachable(a, vm_tlb_home(a, a->ent[v].tag), i))
			return vm_check_fail(msg, len, SLOT ": entry %" PRIu32 " (" TAG
					     ") is not on its home's chain", name, i, v - 1,
					     a->ent[v].tag);
		if (!ix_ordered(a, i))
			return vm_check_fail(msg, len, SLOT ": entry %" PRIu32 " (" TAG
					     ") before one of its tag in a lower way", name, i,
					     v - 1, a->ent[v].tag);
	}
	if (used != valid)
		return vm_check_fail(msg, len, "%s: %" PRIu32 " index slots for %" PRIu32
				     " entries", name, used, valid);
	return 0;
}

/* The fast path's copies (struct vm_tlbe, struct vm_tlb_array fx): every
 * entry's key, and a valid one's delta and pbit, as its other fields and the
 * TLB's PCID make them; every pointer slot naming what its index slot names. */
static int check_fast_copies(const struct vm_tlb_array *a, const char *name, uint16_t pcid,
			     char *msg, size_t len)
{
	for (uint32_t j = 0; j <= array_entries(a); j++) {
		const struct vm_tlbe *x = &a->ent[j];
		if (x->key != fast_key(a, x, pcid))
			return vm_check_fail(msg, len, "%s: key %#" PRIx64 " of entry %" PRId64 " ("
					     TAG ", pcid %#x), TLB pcid %#x", name, x->key,
					     (int64_t)j - 1, x->tag, x->pcid, pcid);
		if (tlbe_valid(x) && (x->delta != entry_delta(x) || x->pbit != perm_bit(x->perm)))
			return vm_check_fail(msg, len, ENTRY ": delta %#" PRIx64 ", pbit %#" PRIx32
					     " not those of pbase %#" PRIx64 ", perm %#x", name,
					     j - 1, x->delta, x->pbit, x->pbase, x->perm);
	}
	for (uint32_t i = 0; a->fx && i <= a->ix_mask; i++)
		if (a->fx[i] != &a->ent[a->ix[i]])
			return vm_check_fail(msg, len, SLOT ": the pointer copy names entry %" PRId64,
					     name, i, (int64_t)(a->fx[i] - a->ent) - 1);
	return 0;
}

static int check_array_state(const struct vm_tlb_array *a, const char *name, uint16_t pcid,
			     char *msg, size_t len)
{
	uint64_t nix = (uint64_t)a->ix_mask + 1;
	uint32_t valid = 0;
	int err;

	if (a->ent != a->e - 1 || tlbe_valid(&a->ent[0]) || a->ent[0].stamp != 0 ||
	    a->ent[0].key != VM_TLB_KEY_NONE)
		return vm_check_fail(msg, len, "%s: sentinel entry not empty", name);
	if (nix < IX_PER_ENTRY * (uint64_t)array_entries(a) || !vm_is_pow2(nix) ||
	    a->ix_shift != 64 - vm_ilog2(nix))
		return vm_check_fail(msg, len, "%s: index of %" PRIu64 " slots, shift %" PRIu32,
				     name, nix, a->ix_shift);
	for (uint32_t j = 0; j < array_entries(a); j++) {
		if (tlbe_valid(&a->e[j])) {
			valid++;
			if ((err = check_entry(a, name, j, msg, len)))
				return err;
		} else if (a->e[j].stamp != 0) {
			return vm_check_fail(msg, len, ENTRY ": empty with stamp %" PRIu64, name, j,
					     a->e[j].stamp);
		}
	}
	if ((err = check_index(a, name, valid, msg, len)))
		return err;
	return check_fast_copies(a, name, pcid, msg, len);
}

int vm_tlb_check(const struct vm_tlb *t, char *msg, size_t len)
{
	const struct vm_tlb_level *levels[] = { &t->l1i, &t->l1d, &t->l2 };
	static const char *const names[] = { "l1i", "l1d", "l2" };
	char name[16];

	for (size_t l = 0; l < VM_ARRAY_SIZE(levels); l++) {
		for (unsigned i = 0; i < levels[l]->n; i++) {
			snprintf(name, sizeof(name), "%s[%u]", names[l], i);
			int err = check_array_state(&levels[l]->a[i], name, t->pcid, msg, len);
			if (err)
				return err;
		}
	}
	if (msg && len)
		msg[0] = '\0';
	return 0;
}

/* -EINVAL unless the array can be built with policy repl (see vm_tlb_init). */
static int check_array(const struct vm_tlb_array_cfg *c, int repl, const struct vm_rng *rng)
{
	if (c->entries == 0)
		return 0;
	if (c->ways == 0 || c->entries % c->ways != 0 || c->entries > VM_TLB_ENTRIES_MAX)
		return -EINVAL;
	if (c->sizes == 0 || c->sizes >> VM_PSIZE_COUNT)
		return -EINVAL;
	if (repl < 0 || repl >= VM_REPL_COUNT)
		return -EINVAL;
	if (repl == VM_REPL_PLRU && (!vm_is_pow2(c->ways) || c->ways > PLRU_WAYS_MAX))
		return -EINVAL;
	if (repl == VM_REPL_RANDOM && !rng)
		return -EINVAL;
	return 0;
}

static int array_init(struct vm_tlb_array *a, const struct vm_tlb_array_cfg *c, unsigned repl,
		      struct vm_host *host)
{
	/* At most 2^26 slots (VM_TLB_ENTRIES_MAX), so ix_mask fits and the
	 * shift, at least 2 bits, stays below 64. */
	uint64_t nix = (uint64_t)c->entries * IX_PER_ENTRY;
	if (!vm_is_pow2(nix))
		nix = UINT64_C(1) << (vm_ilog2(nix) + 1);

	a->sets = c->entries / c->ways;
	a->ways = c->ways;
	a->sizes = c->sizes;
	a->repl = (uint8_t)repl;
	a->ix_mask = (uint32_t)(nix - 1);
	a->ix_shift = 64 - vm_ilog2(nix);
	/* Entry 0 is the sentinel (tlb.h): zeroed, so its stamp is 0, and its
	 * tag and key are set invalid below with the others.  One entry more
	 * than needed, so that ent can start on a cache line: then every entry
	 * is one line. */
	a->ent_mem = vm_host_calloc(host, (size_t)c->entries + 2, sizeof(*a->ent));
	if (!a->ent_mem)
		return -ENOMEM;
	a->ent = (struct vm_tlbe *)VM_ALIGN_UP((uintptr_t)a->ent_mem, sizeof(*a->ent));
	a->e = a->ent + 1;
	/* Zeroed: every slot empty, naming the sentinel. */
	a->ix = vm_host_calloc(host, (size_t)nix, sizeof(*a->ix));
	if (!a->ix)
		return -ENOMEM;
	if (repl == VM_REPL_PLRU) {
		a->plru = vm_host_calloc(host, a->sets, sizeof(*a->plru));
		a->plru_path = vm_host_calloc(host, 2 * (size_t)a->ways, sizeof(*a->plru_path));
		if (!a->plru || !a->plru_path)
			return -ENOMEM;
		a->ways_shift = vm_ilog2(a->ways);
		plru_paths(a->plru_path, a->ways);
	}
	/* Zeroed: no candidates yet. */
	if (repl == VM_REPL_LRU && a->ways > LRU_SCAN_WAYS) {
		a->lru = vm_host_calloc(host, a->sets, sizeof(*a->lru));
		if (!a->lru)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i <= c->entries; i++) {
		a->ent[i].tag = VM_TLB_TAG_INVALID;
		a->ent[i].key = VM_TLB_KEY_NONE;
	}
	return 0;
}

/* Make the 4 KiB array of an L1 level, if any, a fast array: give it the
 * pointer copy of its (empty) index. */
static int fast_init(struct vm_tlb_level *lv, struct vm_host *host)
{
	struct vm_tlb_array *a = vm_tlb_fast_array(lv);
	if (a == &miss_array)
		return 0;
	a->fx = vm_host_calloc(host, (size_t)a->ix_mask + 1, sizeof(*a->fx));
	if (!a->fx)
		return -ENOMEM;
	for (uint32_t i = 0; i <= a->ix_mask; i++)
		a->fx[i] = &a->ent[0];
	return 0;
}

/* Validate a level's arrays before anything is allocated, so that -EINVAL
 * never has partial work to undo. */
static int level_check(const struct vm_tlb_level_cfg *c, int repl_override,
		       const struct vm_rng *rng)
{
	for (unsigned i = 0; i < VM_TLB_ARRAYS_MAX; i++) {
		int repl = repl_override >= 0 ? repl_override : c->a[i].repl;
		int err = check_array(&c->a[i], repl, rng);
		if (err)
			return err;
	}
	return 0;
}

/* Arrays with no entries are skipped, so a level's arrays are a[0..n). */
static int level_init(struct vm_tlb_level *lv, const struct vm_tlb_level_cfg *c,
		      int repl_override, struct vm_host *host)
{
	for (unsigned i = 0; i < VM_TLB_ARRAYS_MAX; i++) {
		if (c->a[i].entries == 0)
			continue;
		unsigned repl = repl_override >= 0 ? (unsigned)repl_override : c->a[i].repl;
		/* Counted before the allocations so that fini frees a half-built array. */
		int err = array_init(&lv->a[lv->n++], &c->a[i], repl, host);
		if (err)
			return err;
	}
	return 0;
}

int vm_tlb_init(struct vm_tlb *t, const struct vm_tlb_preset *p, int repl_override,
		struct vm_host *host, struct vm_rng *rng)
{
	int err;

	memset(t, 0, sizeof(*t));
	if (!p || repl_override >= VM_REPL_COUNT)
		return -EINVAL;
	if ((err = level_check(&p->l1i, repl_override, rng)) ||
	    (err = level_check(&p->l1d, repl_override, rng)) ||
	    (err = level_check(&p->l2, repl_override, rng)))
		return err;

	t->rng = rng;
	t->refresh_stale = p->refresh_stale;
	if ((err = level_init(&t->l1i, &p->l1i, repl_override, host)) ||
	    (err = level_init(&t->l1d, &p->l1d, repl_override, host)) ||
	    (err = level_init(&t->l2, &p->l2, repl_override, host)) ||
	    (err = fast_init(&t->l1i, host)) || (err = fast_init(&t->l1d, host)))
		goto fail;
	return 0;
fail:
	vm_tlb_fini(t, host);
	return err;
}

static void level_fini(struct vm_tlb_level *lv, struct vm_host *host)
{
	for (unsigned i = 0; i < lv->n; i++) {
		vm_host_free(host, lv->a[i].ent_mem);
		vm_host_free(host, lv->a[i].ix);
		vm_host_free(host, lv->a[i].fx);
		vm_host_free(host, lv->a[i].plru);
		vm_host_free(host, lv->a[i].plru_path);
		vm_host_free(host, lv->a[i].lru);
	}
}

void vm_tlb_fini(struct vm_tlb *t, struct vm_host *host)
{
	level_fini(&t->l1i, host);
	level_fini(&t->l1d, host);
	level_fini(&t->l2, host);
	memset(t, 0, sizeof(*t));
}
