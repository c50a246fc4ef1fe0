/*
 * x86-64 radix page tables (SDM 4.5): 4 levels (PML4, 48-bit addresses) or
 * 5 (PML5, LA57, 57-bit), one 4 KiB table of 512 entries per node, living in
 * frames of simulated memory taken from pt->src.  Leaves are 4 KiB PTEs,
 * 2 MiB PDEs and 1 GiB PDPTEs with PS set.  Both halves of the canonical
 * space can be mapped.
 *
 * Invariants (checked by radix_check):
 *   table_frames == tables reachable from root_pfn, each reached once;
 *   no table but the root is empty (unmap frees what it empties, as Linux's
 *   free_pgtables() does for the ranges it unmaps);
 *   a non-leaf entry is exactly TABLE_FLAGS | address (| A once walked);
 *   a not-present entry is 0, except a level-1 entry that set_pte wrote
 *   (software's: a swap entry, PS clear); nonpresent counts those, and a
 *   table holding one is not empty.
 *
 * Ranges are [start, end) with end 0 standing for 2^64, and are walked with
 * an inclusive last = end - 1 (xv6) so that the top page can be handled
 * without overflow.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "hw/pt_internal.h"
#include "hw/pwc.h"

/* Non-leaf entries allow everything and the leaf restricts, as Linux's
 * _PAGE_TABLE does; A is left for the CPU to set on first use (SDM 4.8). */
#define TABLE_FLAGS (VM_PTE_P | VM_PTE_RW | VM_PTE_US)
#define LEAF_FLAGS  (VM_PTE_PROT_MASK | VM_PTE_A | VM_PTE_D)
#define PT_ENTRIES  512u

static uint64_t *table(const struct vm_pt *pt, uint64_t pfn)
{
	return vm_phys_table(pt->phys, pfn);
}

/* The physical address of an entry, from where it lives in host memory. */
static vm_paddr entry_pa(const struct vm_pt *pt, const uint64_t *ep)
{
	vm_paddr pa = { (uint64_t)((const unsigned char *)ep - pt->phys->bytes) };
	return pa;
}

static vm_pte entry(const uint64_t *ep)
{
	vm_pte e = { *ep };
	return e;
}

/* PS makes a PDPTE or PDE a leaf; in a PML4E/PML5E it is reserved, and
 * software treats such an entry as a table (check() reports it). */
static bool is_leaf(vm_pte e, unsigned level)
{
	return level == VM_LEVEL_PTE || (level <= VM_LEVEL_PUD && pte_huge(e));
}

static uint64_t level_size(unsigned level)
{
	return UINT64_C(1) << vm_level_shift(level);
}

static vm_vaddr sign_extend(const struct vm_pt *pt, vm_vaddr va)
{
	unsigned s = 64 - pt->va_bits;
	return (vm_vaddr)((int64_t)(va << s) >> s);
}

/* A zeroed table frame from the frame source, counted.  0 or -ENOMEM
 * (also for a frame outside memory: it goes back to the source). */
static int table_alloc(struct vm_pt *pt, uint64_t *pfn)
{
	if (pt->src.alloc(pt->src.ctx, pfn))
		return -ENOMEM;
	if (*pfn >= pt->phys->nframes) {
		pt->src.free(pt->src.ctx, *pfn);
		return -ENOMEM;
	}
	memset(table(pt, *pfn), 0, VM_PAGE_SIZE);
	pt->table_frames++;
	return 0;
}

static void table_free(struct vm_pt *pt, uint64_t pfn)
{
	pt->src.free(pt->src.ctx, pfn);
	pt->table_frames--;
}

static int radix_create(struct vm_pt *pt)
{
	return table_alloc(pt, &pt->root_pfn);
}

/* Free the table at pfn (of `level`) and every table below it. */
static void free_tables(struct vm_pt *pt, uint64_t pfn, unsigned level)
{
	const uint64_t *t = table(pt, pfn);

	for (unsigned i = 0; level > VM_LEVEL_PTE && i < PT_ENTRIES; i++) {
		vm_pte e = entry(&t[i]);
		if (pte_present(e) && !is_leaf(e, level))
			free_tables(pt, pte_pfn(e), level - 1);
	}
	table_free(pt, pfn);
}

static void radix_destroy(struct vm_pt *pt)
{
	free_tables(pt, pt->root_pfn, pt->levels);
	pt->nonpresent = 0;
}

/* xv6 walk() without allocation: the entry for va at level `stop`, or the
 * entry above it where the descent ends (not present, or a leaf).  *level
 * is the level of the returned entry.  va is canonical. */
static uint64_t *descend(const struct vm_pt *pt, vm_vaddr va, unsigned stop, unsigned *level)
{
	uint64_t pfn = pt->root_pfn;

	for (unsigned l = pt->levels;; l--) {
		uint64_t *ep = &table(pt, pfn)[vm_pt_index(va, l)];
		vm_pte e = entry(ep);
		if (l == stop || !pte_present(e) || is_leaf(e, l)) {
			*level = l;
			return ep;
		}
		pfn = pte_pfn(e);
	}
}

/* n table frames, all or none. */
static int alloc_tables(struct vm_pt *pt, uint64_t *pfns, unsigned n)
{
	unsigned i;
	int err = 0;

	for (i = 0; i < n; i++) {
		err = table_alloc(pt, &pfns[i]);
		if (err)
			goto fail;
	}
	return 0;
fail:
	while (i--)
		table_free(pt, pfns[i]);
	return err;
}

/* Link the tables missing between the none entry *ep at `level` and
 * `target` for va; *ep becomes the entry at target.  All frames are taken
 * first, so that linking cannot fail half way.  0 or -ENOMEM. */
static int link_tables(struct vm_pt *pt, vm_vaddr va, unsigned target, uint64_t **ep,
		       unsigned level)
{
	uint64_t pfns[VM_LEVELS_MAX];
	unsigned need = level - target;
	int err = alloc_tables(pt, pfns, need);

	if (err)
		return err;
	for (unsigned i = 0; i < need; i++) {
		**ep = pfn_pte(pfns[i], TABLE_FLAGS).v;
		*ep = &table(pt, pfns[i])[vm_pt_index(va, level - 1 - i)];
	}
	return 0;
}

static bool map_args_ok(const struct vm_pt *pt, vm_vaddr va, uint64_t pfn, enum vm_psize size,
			uint64_t prot)
{
	if ((unsigned)size >= VM_PSIZE_COUNT || (prot & ~LEAF_FLAGS))
		return false;
	uint64_t pages = UINT64_C(1) << (9 * (unsigned)size);
	return vm_canonical(va, pt->va_bits) && VM_IS_ALIGNED(va, pages << VM_PAGE_SHIFT) &&
	       VM_IS_ALIGNED(pfn, pages) && pfn <= (VM_PTE_ADDR_MASK >> VM_PAGE_SHIFT);
}

static int radix_map(struct vm_pt *pt, vm_vaddr va, uint64_t pfn, enum vm_psize size,
		     uint64_t prot)
{
	unsigned target = (unsigned)size + 1, level;

	if (!map_args_ok(pt, va, pfn, size, prot))
		return -EINVAL;
	uint64_t *ep = descend(pt, va, target, &level);
	/* A leaf above, a leaf here or a table below (Linux: !pmd_none()). */
	if (!pte_none(entry(ep)))
		return -EEXIST;
	int err = link_tables(pt, va, target, &ep, level);
	if (err)
		return err;
	*ep = pfn_pte(pfn, prot | VM_PTE_P | (size != VM_PSIZE_4K ? VM_PTE_PS : 0)).v;
	return 0;
}

/* A non-present entry set_pte may write: not zero, P and PS clear (so
 * that no walk and no check takes it for a leaf). */
static bool nonpresent_ok(vm_pte e)
{
	return e.v && !pte_present(e) && !(e.v & VM_PTE_PS);
}

/* Count e going out of, or coming into, a PTE. */
static void count_nonpresent(struct vm_pt *pt, vm_pte e, int dir)
{
	if (e.v && !pte_present(e))
		pt->nonpresent += (uint64_t)(int64_t)dir;
}

static int radix_set_pte(struct vm_pt *pt, vm_vaddr va, vm_pte e)
{
	unsigned level;

	if (!vm_canonical(va, pt->va_bits) || !VM_IS_ALIGNED(va, VM_PAGE_SIZE))
		return -EINVAL;
	if (pte_present(e) ? (e.v & VM_PTE_PS) || (e.v & ~VM_PTE_ADDR_MASK & ~LEAF_FLAGS & ~VM_PTE_P)
			   : !nonpresent_ok(e))
		return -EINVAL;
	uint64_t *ep = descend(pt, va, VM_LEVEL_PTE, &level);
	if (level != VM_LEVEL_PTE && !pte_none(entry(ep)))
		return -EEXIST;      /* a large leaf maps va */
	int err = link_tables(pt, va, VM_LEVEL_PTE, &ep, level);
	if (err)
		return err;
	count_nonpresent(pt, entry(ep), -1);
	count_nonpresent(pt, e, +1);
	*ep = e.v;
	return 0;
}

static void leaf_fill(const struct vm_pt *pt, const uint64_t *ep, unsigned level, vm_vaddr va,
		      struct vm_pt_leaf *out)
{
	*out = (struct vm_pt_leaf){
		.va = va & ~(level_size(level) - 1),
		.size = (enum vm_psize)(level - 1),
		.level = level,
		.pte = entry(ep),
		.ptep = entry_pa(pt, ep),
	};
}

static int radix_lookup(struct vm_pt *pt, vm_vaddr va, struct vm_pt_leaf *out)
{
	unsigned level;

	if (!vm_canonical(va, pt->va_bits))
		return -EINVAL;
	const uint64_t *ep = descend(pt, va, VM_LEVEL_PTE, &level);
	if (!pte_present(entry(ep)))
		return -ENOENT;
	if (out)
		leaf_fill(pt, ep, level, va, out);
	return 0;
}

static int radix_lookup_entry(struct vm_pt *pt, vm_vaddr va, struct vm_pt_leaf *out)
{
	unsigned level;

	if (!vm_canonical(va, pt->va_bits))
		return -EINVAL;
	const uint64_t *ep = descend(pt, va, VM_LEVEL_PTE, &level);
	if (pte_none(entry(ep)) || (!pte_present(entry(ep)) && level != VM_LEVEL_PTE))
		return -ENOENT;
	if (out)
		leaf_fill(pt, ep, level, va, out);
	return 0;
}

/* Entry i of the 512 that replace the large leaf e of `level`: the same
 * flags over the i-th piece of its frames.  PAT is bit 12 in a large leaf
 * and bit 7 in a 4 KiB PTE (SDM tables 4-17..4-20). */
static uint64_t split_child(vm_pte e, unsigned level, unsigned i)
{
	uint64_t flags = e.v & ~VM_PTE_ADDR_MASK;
	uint64_t pat = e.v & VM_PTE_PAT_LARGE;

	if (level == VM_LEVEL_PMD) {
		flags &= ~VM_PTE_PS;
		pat = pat ? VM_PTE_PAT : 0;
	}
	return (pte_leaf_base(e, level) + ((uint64_t)i << vm_level_shift(level - 1))) | flags | pat;
}

/* Linux: __split_huge_pmd_locked() — A and D go to every piece. */
static int split_entry(struct vm_pt *pt, uint64_t *ep, unsigned level)
{
	uint64_t pfn;
	int err = table_alloc(pt, &pfn);

	if (err)
		return err;
	uint64_t *t = table(pt, pfn);
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		t[i] = split_child(entry(ep), level, i);
	*ep = pfn_pte(pfn, TABLE_FLAGS).v;
	return 0;
}

static int radix_split(struct vm_pt *pt, vm_vaddr va)
{
	unsigned level;

	if (!vm_canonical(va, pt->va_bits))
		return -EINVAL;
	uint64_t *ep = descend(pt, va, VM_LEVEL_PTE, &level);
	/* descend() stops above level 1 on a present entry only at a leaf */
	if (level == VM_LEVEL_PTE || !pte_present(entry(ep)))
		return -ENOENT;
	return split_entry(pt, ep, level);
}

/* Split the large leaves that straddle va until va is a leaf boundary
 * (Linux splits huge PMDs at a VMA boundary, vma_adjust_trans_huge()).
 * No leaf straddles a 1 GiB boundary, so such a va (also end = 0 or
 * 2^47, which are not canonical) needs nothing. */
static int split_at(struct vm_pt *pt, vm_vaddr va)
{
	while (!VM_IS_ALIGNED(va, VM_PUD_SIZE)) {
		unsigned level;
		uint64_t *ep = descend(pt, va, VM_LEVEL_PTE, &level);
		if (!pte_present(entry(ep)) || VM_IS_ALIGNED(va, level_size(level)))
			return 0;
		int err = split_entry(pt, ep, level);
		if (err)
			return err;
	}
	return 0;
}

/* One pass over the leaves of [start, last]. */
struct range_op {
	struct vm_pt *pt;
	vm_vaddr start, last;        /* inclusive; canonical, in one half */
	int (*leaf)(struct range_op *op, uint64_t *ep, unsigned level, vm_vaddr va);
	/* For the non-present PTEs, or NULL to pass them by. */
	int (*nonpresent)(struct range_op *op, uint64_t *ep, unsigned level, vm_vaddr va);
	bool free_empty;             /* unmap: free the tables it empties */
	vm_pt_leaf_fn fn;            /* the caller's callback, may be NULL for unmap */
	void *ctx;
	uint64_t set, clear;         /* protect */
};

static bool table_empty(const struct vm_pt *pt, uint64_t pfn)
{
	const uint64_t *t = table(pt, pfn);

	for (unsigned i = 0; i < PT_ENTRIES; i++)
		if (t[i])
			return false;
	return true;
}

/* The leaves of the table at pfn (of `level`, first entry mapping base)
 * that overlap the range, in address order; stops at the first non-zero
 * return of op->leaf. */
static int range_table(struct range_op *op, uint64_t pfn, unsigned level, vm_vaddr base)
{
	unsigned shift = vm_level_shift(level);
	/* For the root (base 0) this is 2^64 - 1: it spans both halves. */
	vm_vaddr tlast = sign_extend(op->pt, base + (((uint64_t)PT_ENTRIES << shift) - 1));
	unsigned i = op->start <= base ? 0 : vm_pt_index(op->start, level);
	unsigned last = op->last >= tlast ? PT_ENTRIES - 1 : vm_pt_index(op->last, level);
	uint64_t *t = table(op->pt, pfn);
	int err = 0;

	for (; i <= last && !err; i++) {
		vm_vaddr va = sign_extend(op->pt, base + ((uint64_t)i << shift));
		vm_pte e = entry(&t[i]);
		if (!pte_present(e)) {
			if (op->nonpresent && e.v && level == VM_LEVEL_PTE)
				err = op->nonpresent(op, &t[i], level, va);
			continue;
		}
		if (is_leaf(e, level)) {
			err = op->leaf(op, &t[i], level, va);
			continue;
		}
		err = range_table(op, pte_pfn(e), level - 1, va);
		if (op->free_empty && table_empty(op->pt, pte_pfn(e))) {
			t[i] = 0;
			table_free(op->pt, pte_pfn(e));
		}
	}
	return err;
}

/* [start, end) page aligned, not empty, canonical and inside one half. */
static bool range_ok(const struct vm_pt *pt, vm_vaddr start, vm_vaddr end)
{
	vm_vaddr last = end - 1;

	return VM_IS_ALIGNED(start | end, VM_PAGE_SIZE) && start <= last &&
	       vm_canonical(start, pt->va_bits) && vm_canonical(last, pt->va_bits) &&
	       !((start ^ last) >> 63);
}

static int range_run(struct range_op *op, vm_vaddr start, vm_vaddr end)
{
	op->start = start;
	op->last = end - 1;
	return range_table(op, op->pt->root_pfn, op->pt->levels, 0);
}

/* unmap and protect: split at both ends first, so that an -ENOMEM comes
 * before any translation has changed, then change whole leaves only. */
static int range_change(struct range_op *op, vm_vaddr start, vm_vaddr end)
{
	if (!range_ok(op->pt, start, end))
		return -EINVAL;
	int err = split_at(op->pt, start);
	if (!err)
		err = split_at(op->pt, end);
	return err ? err : range_run(op, start, end);
}

static int each_leaf(struct range_op *op, uint64_t *ep, unsigned level, vm_vaddr va)
{
	struct vm_pt_leaf leaf;

	leaf_fill(op->pt, ep, level, va, &leaf);
	return op->fn(op->ctx, &leaf);
}

static int unmap_leaf(struct range_op *op, uint64_t *ep, unsigned level, vm_vaddr va)
{
	int err = op->fn ? each_leaf(op, ep, level, va) : 0;

	if (!err)
		*ep = 0;
	return err;
}

static int protect_leaf(struct range_op *op, uint64_t *ep, unsigned level, vm_vaddr va)
{
	(void)level;
	(void)va;
	*ep = (*ep & ~op->clear) | op->set;
	return 0;
}

static int radix_unmap(struct vm_pt *pt, vm_vaddr start, vm_vaddr end, vm_pt_leaf_fn fn,
		       void *ctx)
{
	struct range_op op = { .pt = pt, .leaf = unmap_leaf, .free_empty = true, .fn = fn,
			       .ctx = ctx };
	return range_change(&op, start, end);
}

static int radix_protect(struct vm_pt *pt, vm_vaddr start, vm_vaddr end, uint64_t set,
			 uint64_t clear)
{
	struct range_op op = { .pt = pt, .leaf = protect_leaf, .set = set, .clear = clear };

	if ((set | clear) & ~LEAF_FLAGS)
		return -EINVAL;
	return range_change(&op, start, end);
}

static int radix_for_each(struct vm_pt *pt, vm_vaddr start, vm_vaddr end, vm_pt_leaf_fn fn,
			  void *ctx)
{
	struct range_op op = { .pt = pt, .leaf = each_leaf, .fn = fn, .ctx = ctx };

	if (!fn || !range_ok(pt, start, end))
		return -EINVAL;
	return range_run(&op, start, end);
}

static int radix_for_each_entry(struct vm_pt *pt, vm_vaddr start, vm_vaddr end,
				vm_pt_leaf_fn fn, void *ctx)
{
	struct range_op op = { .pt = pt, .leaf = each_leaf, .nonpresent = each_leaf, .fn = fn,
			       .ctx = ctx };

	if (!fn || !range_ok(pt, start, end))
		return -EINVAL;
	/* Nothing but present leaves: the walk of for_each. */
	if (!pt->nonpresent)
		op.nonpresent = NULL;
	return range_run(&op, start, end);
}

static int skip_leaf(struct range_op *op, uint64_t *ep, unsigned level, vm_vaddr va)
{
	(void)op;
	(void)ep;
	(void)level;
	(void)va;
	return 0;
}

static int clear_nonpresent_leaf(struct range_op *op, uint64_t *ep, unsigned level, vm_vaddr va)
{
	int err = op->fn ? each_leaf(op, ep, level, va) : 0;

	if (!err) {
		*ep = 0;
		op->pt->nonpresent--;
	}
	return err;
}

static int radix_clear_nonpresent(struct vm_pt *pt, vm_vaddr start, vm_vaddr end,
				  vm_pt_leaf_fn fn, void *ctx)
{
	struct range_op op = { .pt = pt, .leaf = skip_leaf, .nonpresent = clear_nonpresent_leaf,
			       .free_empty = true, .fn = fn, .ctx = ctx };

	if (!range_ok(pt, start, end))
		return -EINVAL;
	return pt->nonpresent ? range_run(&op, start, end) : 0;
}

/* ---- the hardware walk ---- */

static int walk_fault(struct vm_walk *w, uint32_t error)
{
	w->error = error;
	return 1;
}

static void walk_ref(const struct vm_pt *pt, struct vm_walk *w, const uint64_t *ep,
		     unsigned level)
{
	w->ref[w->nrefs].pa = entry_pa(pt, ep);
	w->ref[w->nrefs].level = (uint8_t)level;
	w->nrefs++;
}

/* SDM 4.6: R/W and U/S are ANDed over the levels, XD is ORed (and means
 * nothing without EFER.NXE, where it is a reserved bit instead). */
static unsigned walk_rights(unsigned perm, vm_pte e, bool nxe)
{
	if (!pte_write(e))
		perm &= ~(unsigned)VM_PERM_W;
	if (!pte_user(e))
		perm &= ~(unsigned)VM_PERM_U;
	if (nxe && !pte_exec(e))
		perm &= ~(unsigned)VM_PERM_X;
	return perm;
}

/* A reserved bit (SDM 4.5) — or, a model choice, a table pointer beyond
 * simulated memory, which has nothing to read. */
static bool walk_reserved(const struct vm_pt *pt, vm_pte e, unsigned level,
			  const struct vm_paging_ctl *ctl)
{
	if (e.v & vm_pte_reserved_mask(e, level, ctl->maxphyaddr, ctl->nxe))
		return true;
	return !is_leaf(e, level) && pte_pfn(e) >= pt->phys->nframes;
}

static uint8_t leaf_perm(unsigned perm, vm_pte e)
{
	return (uint8_t)(perm | (pte_dirty(e) ? VM_PERM_D : 0) | (pte_global(e) ? VM_PERM_G : 0));
}

static int walk_leaf(const struct vm_pt *pt, uint64_t *ep, unsigned level, unsigned acc,
		     const struct vm_paging_ctl *ctl, unsigned perm, struct vm_walk *w)
{
	vm_pte e = entry(ep);

	w->size = (enum vm_psize)(level - 1);
	w->pbase = pte_leaf_base(e, level);
	w->pkey = (uint8_t)pte_pkey(e);
	w->leaf_pa = entry_pa(pt, ep);
	w->error = vm_access_check(perm, w->pkey, acc, ctl);
	if (w->error) {
		/* the access does not happen: no A, no D (SDM 4.8) */
		w->perm = leaf_perm(perm, e);
		return 1;
	}
	e = pte_mkyoung(e);
	if ((acc & VM_ACC_KIND) == VM_ACC_WRITE)
		e = pte_mkdirty(e);
	*ep = e.v;
	w->perm = leaf_perm(perm, e);
	return 0;
}

static int radix_walk(struct vm_pt *pt, vm_vaddr va, unsigned acc,
		      const struct vm_paging_ctl *ctl, struct vm_pwc *pwc, uint16_t pcid,
		      struct vm_walk *w)
{
	unsigned level = pt->levels, perm = VM_PERM_W | VM_PERM_U | VM_PERM_X;
	uint64_t pfn = pt->root_pfn;
	uint32_t acc_bits = vm_pf_access_bits(acc, ctl);

	if (!vm_canonical(va, pt->va_bits))
		return -EINVAL;     /* the MMU raises #GP before walking */
	w->nrefs = 0;
	w->error = 0;
	if (pwc) {
		uint64_t hit_pfn;
		unsigned hit_perm, hit = vm_pwc_lookup(pwc, pcid, va, level, &hit_pfn, &hit_perm);
		if (hit) {
			level = hit;
			pfn = hit_pfn;
			perm = hit_perm;
		}
	}
	w->start_level = level;
	for (;; level--) {
		uint64_t *ep = &table(pt, pfn)[vm_pt_index(va, level)];
		vm_pte e = entry(ep);
		walk_ref(pt, w, ep, level);
		if (!pte_present(e))
			return walk_fault(w, acc_bits);
		if (walk_reserved(pt, e, level, ctl))
			return walk_fault(w, VM_PF_P | VM_PF_RSVD | acc_bits);
		perm = walk_rights(perm, e, ctl->nxe);
		if (is_leaf(e, level))
			return walk_leaf(pt, ep, level, acc, ctl, perm, w);
		/* SDM 4.8: A in every entry used; 4.10.3.1: cached only with A = 1 */
		*ep = pte_mkyoung(e).v;
		pfn = pte_pfn(e);
		if (pwc)
			vm_pwc_fill(pwc, pcid, va, level, pfn, perm);
	}
}

/* ---- the validator ---- */

struct check_state {
	const struct vm_pt *pt;
	uint64_t *seen;       /* table frames reached; at most pt->table_frames */
	uint64_t nseen;
	uint64_t nonpresent;  /* non-present PTEs found */
	char *msg;
	size_t len;
};

static int check_fail(struct check_state *s, const char *fmt, ...) VM_PRINTF(2, 3);
static int check_fail(struct check_state *s, const char *fmt, ...)
{
	if (s->msg && s->len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->msg, s->len, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

static int check_table(struct check_state *s, uint64_t pfn, unsigned level, vm_vaddr base);

static int check_entry(struct check_state *s, vm_pte e, unsigned level, vm_vaddr va)
{
	if (!pte_present(e) && level == VM_LEVEL_PTE && nonpresent_ok(e)) {
		s->nonpresent++;
		return 0;
	}
	if (!pte_present(e))
		return check_fail(s, "level %u entry for 0x%" PRIx64 " not present but 0x%" PRIx64,
				  level, va, e.v);
	if (is_leaf(e, level)) {
		uint64_t r = e.v & vm_pte_reserved_mask(e, level, 52, true);
		if (r)
			return check_fail(s, "level %u leaf for 0x%" PRIx64 " has reserved bits 0x%" PRIx64,
					  level, va, r);
		return 0;
	}
	if ((e.v & ~VM_PTE_ADDR_MASK & ~VM_PTE_A) != TABLE_FLAGS)
		return check_fail(s, "level %u table entry for 0x%" PRIx64 " has flags 0x%" PRIx64,
				  level, va, e.v & ~VM_PTE_ADDR_MASK);
	return check_table(s, pte_pfn(e), level - 1, va);
}

static int check_table(struct check_state *s, uint64_t pfn, unsigned level, vm_vaddr base)
{
	if (pfn >= s->pt->phys->nframes)
		return check_fail(s, "level %u table for 0x%" PRIx64 " at pfn 0x%" PRIx64
				  " is beyond memory", level, base, pfn);
	if (s->nseen == s->pt->table_frames)
		return check_fail(s, "more tables reachable than table_frames = %" PRIu64,
				  s->pt->table_frames);
	s->seen[s->nseen++] = pfn;

	const uint64_t *t = table(s->pt, pfn);
	unsigned used = 0;
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		if (!t[i])
			continue;
		used++;
		vm_vaddr va = sign_extend(s->pt, base + ((uint64_t)i << vm_level_shift(level)));
		int err = check_entry(s, entry(&t[i]), level, va);
		if (err)
			return err;
	}
	if (!used && level != s->pt->levels)
		return check_fail(s, "level %u table for 0x%" PRIx64 " (pfn 0x%" PRIx64 ") is empty",
				  level, base, pfn);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Every table frame counted once: reached tables, sorted, are distinct. */
static int check_unique(struct check_state *s)
{
	if (s->nseen != s->pt->table_frames)
		return check_fail(s, "table_frames = %" PRIu64 " but %" PRIu64 " tables reachable",
				  s->pt->table_frames, s->nseen);
	qsort(s->seen, s->nseen, sizeof(*s->seen), cmp_u64);
	for (uint64_t i = 1; i < s->nseen; i++)
		if (s->seen[i] == s->seen[i - 1])
			return check_fail(s, "table frame 0x%" PRIx64 " reachable twice", s->seen[i]);
	return 0;
}

/* Needs host memory for the list of reached tables: -ENOMEM without it. */
static int radix_check(struct vm_pt *pt, char *msg, size_t len)
{
	struct check_state s = { .pt = pt, .msg = msg, .len = len };

	if (!pt->table_frames)
		return check_fail(&s, "table_frames = 0: no root");
	s.seen = vm_host_calloc(pt->phys->host, pt->table_frames, sizeof(*s.seen));
	if (!s.seen) {
		check_fail(&s, "no memory to check the tables");
		return -ENOMEM;
	}
	int err = check_table(&s, pt->root_pfn, pt->levels, 0);
	if (!err)
		err = check_unique(&s);
	if (!err && s.nonpresent != pt->nonpresent)
		err = check_fail(&s, "nonpresent = %" PRIu64 " but %" PRIu64 " non-present entries",
				 pt->nonpresent, s.nonpresent);
	vm_host_free(pt->phys->host, s.seen);
	if (!err && msg && len)
		msg[0] = '\0';
	return err;
}

const struct pt_ops vm_pt_radix_ops = {
	.name = "radix",
	.desc = "x86-64 radix tables of 4 or 5 levels",
	.create = radix_create,
	.destroy = radix_destroy,
	.map = radix_map,
	.unmap = radix_unmap,
	.protect = radix_protect,
	.split = radix_split,
	.lookup = radix_lookup,
	.walk = radix_walk,
	.for_each = radix_for_each,
	.set_pte = radix_set_pte,
	.lookup_entry = radix_lookup_entry,
	.for_each_entry = radix_for_each_entry,
	.clear_nonpresent = radix_clear_nonpresent,
	.check = radix_check,
};
