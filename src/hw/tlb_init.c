/*
 * Building and freeing a TLB (vm_tlb_init, vm_tlb_fini in tlb.h): validate a
 * preset, allocate each array's entries, index and policy state, and give the
 * L1 4 KiB arrays the fast path's pointer copy of their index.  Also which
 * array the fast path probes (vm_tlb_fast_array), set up once per CPU.  The
 * only code of the TLB that allocates; the layout it builds is described in
 * tlb.c.
 */
#include "hw/tlb.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "hw/tlb_internal.h"

/* PLRU keeps a set's tree (ways - 1 bits) in one uint64_t. */
#define PLRU_WAYS_MAX 64

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

/* The tree after a use of `way`: every bit on the way's path points at the
 * other half (the tree is described at plru_victim, tlb.c). */
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

struct vm_tlb_array *vm_tlb_fast_array(struct vm_tlb_level *lv)
{
	for (unsigned i = 0; i < lv->n; i++)
		if (lv->a[i].sizes & (1u << VM_PSIZE_4K))
			return &lv->a[i];
	return (struct vm_tlb_array *)&miss_array;
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
