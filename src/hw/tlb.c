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
 * Choosing a victim (choose_victim) is separate from writing over it
 * (vm_tlb_fill), as in libCacheSim's eviction interface.  Only init
 * allocates; everything else works in place.
 */
#include "hw/tlb.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"

/* PCIDs are 12 bits (CR3[11:0], SDM 4.10.1). */
#define PCID_MASK 0xfffu

/* Hint slots per entry.  The hint table is direct mapped by vpn; with a few
 * times more slots than entries, vpns resident together rarely collide, and
 * a collision only costs the fast path a miss into the full lookup. */
#define HINT_PER_ENTRY 4

/* PLRU keeps a set's tree (ways - 1 bits) in one uint64_t. */
#define PLRU_WAYS_MAX 64

/* What vm_tlb_fast_array() gives a level with no 4 KiB array: one entry whose
 * tag no vpn << 2 equals, behind a one-slot hint.  The fast path writes an
 * entry only after its tag matched, which never happens here, so the array is
 * const: it sits in read-only memory and every machine can read it without
 * synchronisation.  (The casts drop const only because the fast path's
 * pointers are not const; nothing ever writes through them.) */
static const struct vm_tlbe miss_entry = { .tag = VM_TLB_TAG_INVALID };
static const uint32_t miss_hint[1];
static const struct vm_tlb_array miss_array = {
	.e = (struct vm_tlbe *)&miss_entry,
	.hint = (uint32_t *)miss_hint,
	.hint_mask = 0,
	.plru = NULL,
	.sets = 1,
	.ways = 1,
};

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

/* The entry of one set with this tag that a lookup under pcid would use, or
 * NULL. */
static struct vm_tlbe *set_find(const struct vm_tlb_array *a, uint32_t set, uint64_t tag,
				uint16_t pcid)
{
	struct vm_tlbe *s = set_base(a, set);
	for (uint32_t w = 0; w < a->ways; w++)
		if (s[w].tag == tag && tlbe_pcid_matches(&s[w], pcid))
			return &s[w];
	return NULL;
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

void vm_tlb_touch(struct vm_tlb_array *a, struct vm_tlbe *e, uint64_t now)
{
	e->stamp = now;
	if (a->plru) {
		uint32_t slot = (uint32_t)(e - a->e);
		uint32_t set = slot / a->ways;
		a->plru[set] = plru_use(a->plru[set], a->ways, slot % a->ways);
	}
}

/* Which way of `set` the next fill overwrites: the lowest empty way, else the
 * array's policy's choice.  Chooses only; the caller evicts. */
static uint32_t choose_victim(struct vm_tlb *t, const struct vm_tlb_array *a, uint32_t set)
{
	const struct vm_tlbe *s = set_base(a, set);
	uint32_t w, victim = 0;

	for (w = 0; w < a->ways; w++)
		if (!tlbe_valid(&s[w]))
			return w;
	switch (a->repl) {
	case VM_REPL_PLRU:
		return plru_victim(a->plru[set], a->ways);
	case VM_REPL_RANDOM:
		return (uint32_t)vm_rng_below(t->rng, a->ways);
	default:
		/* Exact LRU; a tie goes to the lowest way. */
		for (w = 1; w < a->ways; w++)
			if (s[w].stamp < s[victim].stamp)
				victim = w;
		return victim;
	}
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

void vm_tlb_fill(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
		 const struct vm_tlb_fill *f, uint64_t now)
{
	unsigned size = f->size;
	struct vm_tlb_array *a = fill_array(lv, &size);
	if (!a)
		return;

	uint64_t pn = va >> vm_psize_shift(size);
	uint64_t tag = pn << 2 | size;
	uint16_t pcid = f->pcid & PCID_MASK;
	uint32_t set = set_of(a, pn);
	/* A refill of a translation the level already holds (a re-walk to set D,
	 * a changed mapping) replaces it: one entry per translation. */
	struct vm_tlbe *e = set_find(a, set, tag, pcid);
	if (!e) {
		e = set_base(a, set) + choose_victim(t, a, set);
		if (tlbe_valid(e))
			t->evictions++;
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
	a->splinters += tlbe_splinter(e);
	t->fills++;
	vm_tlb_touch(a, e, now);
	if (size == VM_PSIZE_4K)
		a->hint[pn & a->hint_mask] = (uint32_t)(e - a->e);
}

/* The entry of one array translating va under pcid, or NULL. */
static struct vm_tlbe *array_find(const struct vm_tlb_array *a, vm_vaddr va, uint16_t pcid)
{
	uint64_t vpn = va >> VM_PAGE_SHIFT;

	/* The hint first: it is one probe where a fully associative set is a
	 * scan.  Any entry tagged vpn << 2 is in vpn's set, so it is the entry
	 * the scan would find. */
	if (a->sizes & (1u << VM_PSIZE_4K)) {
		struct vm_tlbe *e = &a->e[a->hint[vpn & a->hint_mask]];
		if (e->tag == vpn << 2 && tlbe_pcid_matches(e, pcid))
			return e;
	}
	for (unsigned s = 0; s < VM_PSIZE_COUNT; s++) {
		if (!(a->sizes & (1u << s)))
			continue;
		uint64_t pn = va >> vm_psize_shift(s);
		struct vm_tlbe *e = set_find(a, set_of(a, pn), pn << 2 | s, pcid);
		if (e)
			return e;
	}
	return NULL;
}

struct vm_tlbe *vm_tlb_lookup(struct vm_tlb *t, struct vm_tlb_level *lv, vm_vaddr va,
			      uint16_t pcid, uint64_t now)
{
	(void)t;
	pcid &= PCID_MASK;
	for (unsigned i = 0; i < lv->n; i++) {
		struct vm_tlb_array *a = &lv->a[i];
		struct vm_tlbe *e = array_find(a, va, pcid);
		if (!e)
			continue;
		vm_tlb_touch(a, e, now);
		if (e->size == VM_PSIZE_4K)
			a->hint[(va >> VM_PAGE_SHIFT) & a->hint_mask] = (uint32_t)(e - a->e);
		return e;
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

static void drop_entry(struct vm_tlb *t, struct vm_tlb_array *a, struct vm_tlbe *e)
{
	if (tlbe_valid(e)) {
		a->splinters -= tlbe_splinter(e);
		e->tag = VM_TLB_TAG_INVALID;
		t->invalidated++;
	}
}

/* The array of t that holds entry e, or NULL. */
static struct vm_tlb_array *array_of(struct vm_tlb *t, const struct vm_tlbe *e)
{
	struct vm_tlb_level *levels[] = { &t->l1i, &t->l1d, &t->l2 };

	for (size_t l = 0; l < VM_ARRAY_SIZE(levels); l++) {
		for (unsigned i = 0; i < levels[l]->n; i++) {
			struct vm_tlb_array *a = &levels[l]->a[i];
			if (e >= a->e && e < a->e + (size_t)a->sets * a->ways)
				return a;
		}
	}
	return NULL;
}

void vm_tlb_drop(struct vm_tlb *t, struct vm_tlbe *e)
{
	struct vm_tlb_array *a = e ? array_of(t, e) : NULL;
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

/* Drop the matching entries among n consecutive slots of a; with one_va,
 * only those that belong to the page containing va. */
static void flush_slots(struct vm_tlb *t, struct vm_tlb_array *a, struct vm_tlbe *e, size_t n,
			enum vm_tlb_match m, uint16_t pcid, bool one_va, vm_vaddr va)
{
	for (size_t i = 0; i < n; i++) {
		if (!tlbe_valid(&e[i]) || !flush_matches(&e[i], m, pcid))
			continue;
		if (one_va && !tlbe_maps_page_of(&e[i], va))
			continue;
		drop_entry(t, a, &e[i]);
	}
}

static void flush_array(struct vm_tlb *t, struct vm_tlb_array *a, enum vm_tlb_match m,
			uint16_t pcid, bool one_va, vm_vaddr va)
{
	if (!one_va || a->sets == 1 || a->splinters) {
		flush_slots(t, a, a->e, (size_t)a->sets * a->ways, m, pcid, one_va, va);
		return;
	}
	/* No splinters: only the sets that can hold a page containing va, one
	 * per size held. */
	for (unsigned s = 0; s < VM_PSIZE_COUNT; s++) {
		if (a->sizes & (1u << s)) {
			uint32_t set = set_of(a, va >> vm_psize_shift(s));
			flush_slots(t, a, set_base(a, set), a->ways, m, pcid, true, va);
		}
	}
}

void vm_tlb_flush(struct vm_tlb *t, enum vm_tlb_match m, uint16_t pcid, bool one_va,
		  vm_vaddr va)
{
	struct vm_tlb_level *levels[] = { &t->l1i, &t->l1d, &t->l2 };

	pcid &= PCID_MASK;
	for (size_t l = 0; l < VM_ARRAY_SIZE(levels); l++)
		for (unsigned i = 0; i < levels[l]->n; i++)
			flush_array(t, &levels[l]->a[i], m, pcid, one_va, va);
}

uint64_t vm_tlb_count(const struct vm_tlb_level *lv)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < lv->n; i++) {
		const struct vm_tlb_array *a = &lv->a[i];
		for (size_t j = 0; j < (size_t)a->sets * a->ways; j++)
			n += tlbe_valid(&a->e[j]);
	}
	return n;
}

/* -EINVAL unless the array can be built with policy repl (see vm_tlb_init). */
static int check_array(const struct vm_tlb_array_cfg *c, int repl, const struct vm_rng *rng)
{
	if (c->entries == 0)
		return 0;
	if (c->ways == 0 || c->entries % c->ways != 0)
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
	uint64_t nhint = (uint64_t)c->entries * HINT_PER_ENTRY;
	if (!vm_is_pow2(nhint))
		nhint = UINT64_C(1) << (vm_ilog2(nhint) + 1);
	if (nhint > SIZE_MAX / sizeof(*a->hint))
		return -ENOMEM;

	a->sets = c->entries / c->ways;
	a->ways = c->ways;
	a->sizes = c->sizes;
	a->repl = (uint8_t)repl;
	a->hint_mask = nhint - 1;
	a->e = vm_host_calloc(host, c->entries, sizeof(*a->e));
	if (!a->e)
		return -ENOMEM;
	/* Zeroed, so every hint names slot 0: a valid slot, as mmu.h needs. */
	a->hint = vm_host_calloc(host, (size_t)nhint, sizeof(*a->hint));
	if (!a->hint)
		return -ENOMEM;
	if (repl == VM_REPL_PLRU) {
		a->plru = vm_host_calloc(host, a->sets, sizeof(*a->plru));
		if (!a->plru)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < c->entries; i++)
		a->e[i].tag = VM_TLB_TAG_INVALID;
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
	if ((err = level_init(&t->l1i, &p->l1i, repl_override, host)) ||
	    (err = level_init(&t->l1d, &p->l1d, repl_override, host)) ||
	    (err = level_init(&t->l2, &p->l2, repl_override, host)))
		goto fail;
	return 0;
fail:
	vm_tlb_fini(t, host);
	return err;
}

static void level_fini(struct vm_tlb_level *lv, struct vm_host *host)
{
	for (unsigned i = 0; i < lv->n; i++) {
		vm_host_free(host, lv->a[i].e);
		vm_host_free(host, lv->a[i].hint);
		vm_host_free(host, lv->a[i].plru);
	}
}

void vm_tlb_fini(struct vm_tlb *t, struct vm_host *host)
{
	level_fini(&t->l1i, host);
	level_fini(&t->l1d, host);
	level_fini(&t->l2, host);
	memset(t, 0, sizeof(*t));
}
