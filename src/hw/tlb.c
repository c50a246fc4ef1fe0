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
 * (fill_entry), as in libCacheSim's eviction interface.  Nothing here
 * allocates: construction and teardown are in tlb_init.c, the consistency
 * checker (vm_tlb_check) in tlb_check.c, and the helpers all three share in
 * tlb_internal.h.
 */
#include "hw/tlb.h"

#include "base/compiler.h"
#include "hw/tlb_internal.h"

static inline uint64_t tag_of(vm_vaddr va, unsigned size)
{
	return (va >> vm_psize_shift(size)) << 2 | size;
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

static inline struct vm_tlbe *set_base(const struct vm_tlb_array *a, uint32_t set)
{
	return &a->e[(size_t)set * a->ways];
}

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
 * a use flips every bit on its path to point at the other half
 * (vm_tlb_touch_plru, through the per-way paths tlb_init.c builds).
 */
static uint32_t plru_victim(uint64_t tree, uint32_t ways)
{
	uint32_t n = 0;
	while (n < ways - 1)
		n = 2 * n + 1 + (uint32_t)((tree >> n) & 1);
	return n - (ways - 1);
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
