/*
 * The TLB's consistency checker (vm_tlb_check in tlb.h): every valid entry in
 * its set and reachable through the index, the index naming exactly the valid
 * entries in the order ix_insert keeps, and the fast path's copies (key,
 * delta, pbit, the pointer index) matching what they copy.  Called through
 * vmlab_machine_check and by the tests; the layout it checks is described in
 * tlb.c.  Never on the access path, so nothing here needs to be fast.
 */
#include "hw/tlb.h"

#include <inttypes.h>
#include <stdio.h>

#include "base/compiler.h"
#include "base/error.h"
#include "hw/tlb_internal.h"

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
