/*
 * The x86-64 radix page tables (pt_radix.c) through struct pt_ops:
 * boundaries of the address space, errors, large leaves and their splits,
 * the hardware walk (references, A/D, faults, RSVD), freeing of empty
 * tables, iteration order, the validator itself, injected allocation
 * failures, and a randomized differential test against a per-page model.
 */
#include <errno.h>

#include "tap.h"

#include "base/compiler.h"
#include "base/rng.h"
#include "pt_fixture.h"

#define UR      (VM_PTE_RW | VM_PTE_US)
#define USER_TOP (UINT64_C(1) << 47)          /* end of the 4-level user half */
#define KERNEL_BASE UINT64_C(0xffff800000000000)

static int map(struct fx *f, vm_vaddr va, uint64_t pfn, enum vm_psize size, uint64_t prot)
{
	return f->pt.ops->map(&f->pt, va, pfn, size, prot);
}

static int unmap(struct fx *f, vm_vaddr start, vm_vaddr end)
{
	return f->pt.ops->unmap(&f->pt, start, end, NULL, NULL);
}

static int protect(struct fx *f, vm_vaddr start, vm_vaddr end, uint64_t set, uint64_t clear)
{
	return f->pt.ops->protect(&f->pt, start, end, set, clear);
}

static int lookup(struct fx *f, vm_vaddr va, struct vm_pt_leaf *leaf)
{
	return f->pt.ops->lookup(&f->pt, va, leaf);
}

static int walk(struct fx *f, vm_vaddr va, unsigned acc, struct vm_walk *w)
{
	return f->pt.ops->walk(&f->pt, va, acc, &f->ctl, NULL, 0, w);
}

/* Physical address of the entry at `level` on va's path (from raw memory). */
static uint64_t path_pa(struct fx *f, vm_vaddr va, unsigned level)
{
	uint64_t pas[VM_LEVELS_MAX];
	unsigned n = fx_path(f, va, pas);
	unsigned k = f->pt.levels - level;
	return k < n ? pas[k] : UINT64_MAX;
}

/* A leaf's flags in 4 KiB PTE form: no PS, PAT at bit 7 (the reference
 * model's spelling; worked out here independently of split_child()). */
static uint64_t norm_flags(vm_pte e, unsigned level)
{
	uint64_t f = e.v & ~VM_PTE_ADDR_MASK;
	if (level > 1) {
		f &= ~VM_PTE_PS;
		if (e.v & VM_PTE_PAT_LARGE)
			f |= VM_PTE_PAT;
	}
	return f;
}

static void test_registry(void)
{
	const struct vm_pt_type *r4 = vm_pt_type_at(0), *r5 = vm_pt_type_at(1);

	ok(r4 && strcmp(r4->name, "radix4") == 0 && r4->levels == 4, "registry 0: radix4, 4 levels");
	ok(r5 && strcmp(r5->name, "radix5") == 0 && r5->levels == 5, "registry 1: radix5, 5 levels");
	ok(vm_pt_type_at(2) == NULL, "registry ends after radix5");
	ok(r4 && r4->desc && r4->desc[0] && r5 && r5->desc && r5->desc[0], "each has a description");
	ok(vm_pt_type_find("radix5") == r5, "find radix5");
	ok(vm_pt_type_find("radix") == NULL && vm_pt_type_find(NULL) == NULL, "find: unknown, NULL");

	struct fx *f = fx_new(NULL);
	is_i64(vm_pt_create(&f->pt, "flat9", &f->phys, &f->fs), -EINVAL, "create: unknown type");
	f->src.fail_at = 1;
	is_i64(vm_pt_create(&f->pt, "radix4", &f->phys, &f->fs), -ENOMEM, "create: no root frame");
	is_u64(f->src.live, 0, "create: nothing held after -ENOMEM");
	f->src.fail_at = 0;
	is_i64(vm_pt_create(&f->pt, "radix4", &f->phys, &f->fs), 0, "create radix4");
	is_u64(f->pt.table_frames, 1, "a new table holds its root");
	is_u64(f->pt.va_bits, 48, "radix4: 48-bit addresses");
	ok(fx_sound(f), "the root was zeroed (frames come poisoned)");
	vm_pt_destroy(&f->pt);
	is_u64(f->src.live, 0, "destroy frees the root");
	vm_pt_destroy(&f->pt);
	vm_pt_destroy(NULL);
	is_u64(f->src.bad_frees, 0, "destroy twice and destroy(NULL) free nothing");
	is_i64(vm_pt_create(&f->pt, "radix5", &f->phys, &f->fs), 0, "create radix5");
	is_u64(f->pt.va_bits, 57, "radix5: 57-bit addresses");
	fx_delete(f);
}

/* map/lookup/unmap at the edges of both halves. */
static void test_boundaries(void)
{
	static const vm_vaddr vas[] = {
		0, UINT64_C(0x7fffffffe000), UINT64_C(0x7ffffffff000), KERNEL_BASE,
		UINT64_C(0xfffffffffffff000),
	};
	struct fx *f = fx_new("radix4");
	uint64_t prot = UR | VM_PTE_NX;

	for (unsigned i = 0; i < VM_ARRAY_SIZE(vas); i++) {
		struct vm_pt_leaf leaf = { 0 };
		is_i64(map(f, vas[i], 0x1230 + i, VM_PSIZE_4K, prot), 0, "map 0x%" PRIx64, vas[i]);
		is_i64(lookup(f, vas[i] + 0xfff, &leaf), 0, "lookup its last byte");
		ok(leaf.va == vas[i] && leaf.level == 1 && leaf.size == VM_PSIZE_4K, "leaf va, level, size");
		is_u64(leaf.pte.v, ((0x1230 + i) << 12) | prot | VM_PTE_P, "leaf pte: frame and flags + P");
		is_u64(leaf.ptep.v, path_pa(f, vas[i], 1), "leaf ptep where the walk finds it");
	}
	ok(fx_sound(f), "valid with both halves mapped");
	is_u64(f->pt.table_frames, 1 + 4 * 3, "root + 3 tables for each of 4 PML4 entries");
	for (unsigned i = 0; i < VM_ARRAY_SIZE(vas); i++) {
		/* end = va + 4 KiB wraps to 0 for the top page: 2^64 */
		is_i64(unmap(f, vas[i], vas[i] + VM_PAGE_SIZE), 0, "unmap 0x%" PRIx64, vas[i]);
		is_i64(lookup(f, vas[i], NULL), -ENOENT, "gone");
	}
	is_u64(f->pt.table_frames, 1, "all tables freed");
	is_u64(f->src.live, 1, "source holds only the root");
	fx_delete(f);
}

static void test_einval(void)
{
	struct fx *f = fx_new("radix4");
	struct vm_walk w;
	const struct pt_ops *o = f->pt.ops;

	is_i64(map(f, USER_TOP, 1, VM_PSIZE_4K, UR), -EINVAL, "map 2^47: not canonical");
	is_i64(map(f, KERNEL_BASE - VM_PAGE_SIZE, 1, VM_PSIZE_4K, UR), -EINVAL, "map below the kernel half");
	is_i64(map(f, UINT64_C(0x00fffffffffff000), 1, VM_PSIZE_4K, UR), -EINVAL, "57-bit address in radix4");
	is_i64(lookup(f, USER_TOP, NULL), -EINVAL, "lookup: not canonical");
	is_i64(o->split(&f->pt, USER_TOP), -EINVAL, "split: not canonical");
	is_i64(walk(f, USER_TOP, VM_ACC_READ, &w), -EINVAL, "walk: not canonical");
	is_i64(unmap(f, USER_TOP, USER_TOP + VM_PAGE_SIZE), -EINVAL, "unmap: not canonical");
	is_i64(unmap(f, USER_TOP - VM_PAGE_SIZE, KERNEL_BASE + VM_PAGE_SIZE), -EINVAL,
	       "unmap across the hole");
	is_i64(unmap(f, 0x1000, 0x1000), -EINVAL, "unmap: empty range");
	is_i64(unmap(f, 0x2000, 0x1000), -EINVAL, "unmap: end before start");
	is_i64(unmap(f, 0, 0), -EINVAL, "unmap [0, 2^64): both halves and the hole");
	is_i64(unmap(f, 0x1800, 0x3000), -EINVAL, "unmap: unaligned start");
	is_i64(protect(f, 0x1000, 0x2800, 0, 0), -EINVAL, "protect: unaligned end");
	is_i64(protect(f, 0x1000, 0x2000, VM_PTE_P, 0), -EINVAL, "protect: P is not the caller's");
	is_i64(protect(f, 0x1000, 0x2000, 0, VM_PTE_PS), -EINVAL, "protect: nor PS");
	is_i64(o->for_each(&f->pt, USER_TOP, USER_TOP + 0x1000, NULL, NULL), -EINVAL, "for_each: bad");

	is_i64(map(f, 0x1800, 1, VM_PSIZE_4K, UR), -EINVAL, "map: va not page aligned");
	is_i64(map(f, 0x1000, 512, VM_PSIZE_2M, UR), -EINVAL, "map 2 MiB: va not 2 MiB aligned");
	is_i64(map(f, 0x200000, 1, VM_PSIZE_2M, UR), -EINVAL, "map 2 MiB: pfn not aligned");
	is_i64(map(f, 0x40000000, 512, VM_PSIZE_1G, UR), -EINVAL, "map 1 GiB: pfn only 2 MiB aligned");
	is_i64(map(f, 0x200000, 512, VM_PSIZE_1G, UR), -EINVAL, "map 1 GiB: va only 2 MiB aligned");
	is_i64(map(f, 0x1000, 1, VM_PSIZE_COUNT, UR), -EINVAL, "map: no such size");
	is_i64(map(f, 0x1000, 1, VM_PSIZE_4K, UR | VM_PTE_P), -EINVAL, "map: prot with P");
	is_i64(map(f, 0x1000, 1, VM_PSIZE_4K, UR | VM_PTE_PS), -EINVAL, "map: prot with PS");
	is_i64(map(f, 0x1000, 1, VM_PSIZE_4K, UR | 0x5000), -EINVAL, "map: prot with address bits");
	is_i64(map(f, 0x1000, UINT64_C(1) << 40, VM_PSIZE_4K, UR), -EINVAL, "map: pfn past 52 bits");
	is_u64(f->pt.table_frames, 1, "no failed call allocated a table");
	is_i64(map(f, 0x1000, (UINT64_C(1) << 40) - 1, VM_PSIZE_4K, UR), 0, "map: largest pfn");
	ok(fx_sound(f), "valid");
	fx_delete(f);
}

static void test_eexist(void)
{
	struct fx *f = fx_new("radix4");

	is_i64(map(f, 0x200000, 7, VM_PSIZE_4K, UR), 0, "map 4 KiB at 2 MiB");
	uint64_t frames = f->pt.table_frames;
	is_i64(map(f, 0x200000, 8, VM_PSIZE_4K, UR), -EEXIST, "same page again");
	is_i64(map(f, 0x200000, 512, VM_PSIZE_2M, UR), -EEXIST, "2 MiB over a page table");
	is_i64(map(f, 0, 0, VM_PSIZE_1G, UR), -EEXIST, "1 GiB over a page directory");
	is_u64(f->pt.table_frames, frames, "no table allocated or freed by -EEXIST");
	is_i64(map(f, 0x400000, 1024, VM_PSIZE_2M, UR), 0, "map 2 MiB");
	is_i64(map(f, 0x401000, 9, VM_PSIZE_4K, UR), -EEXIST, "4 KiB under a 2 MiB leaf");
	is_i64(map(f, 0x400000, 2048, VM_PSIZE_2M, UR), -EEXIST, "2 MiB over a 2 MiB leaf");
	is_i64(map(f, 0x40000000, 0x40000, VM_PSIZE_1G, UR), 0, "map 1 GiB");
	is_i64(map(f, 0x40200000, 512, VM_PSIZE_2M, UR), -EEXIST, "2 MiB under a 1 GiB leaf");
	is_i64(map(f, 0x7ffff000, 9, VM_PSIZE_4K, UR), -EEXIST, "4 KiB under a 1 GiB leaf");
	ok(fx_sound(f), "valid");
	fx_delete(f);
}

static void test_large(void)
{
	struct fx *f = fx_new("radix4");
	struct vm_pt_leaf leaf;
	struct vm_walk w;
	vm_vaddr va2m = UINT64_C(0x7fffffe00000), va1g = UINT64_C(0xffffffffc0000000);

	is_i64(map(f, va2m, 0x200, VM_PSIZE_2M, UR), 0, "2 MiB leaf at the top of the user half");
	is_i64(lookup(f, va2m + 0x12345, &leaf), 0, "lookup inside it");
	ok(leaf.va == va2m && leaf.level == 2 && leaf.size == VM_PSIZE_2M && pte_huge(leaf.pte),
	   "a level-2 leaf with PS, based at its start");
	is_u64(leaf.ptep.v, path_pa(f, va2m, 2), "its ptep is the PDE");
	is_i64(walk(f, va2m + 0x1ff000, VM_ACC_READ | VM_ACC_USER, &w), 0, "walk its last page");
	ok(w.pbase == UINT64_C(0x200000) && w.size == VM_PSIZE_2M, "pbase and size of the 2 MiB page");

	is_i64(map(f, va1g, 0x40000, VM_PSIZE_1G, UR), 0, "1 GiB leaf at the top of the kernel half");
	is_i64(lookup(f, UINT64_MAX, &leaf), 0, "lookup the last byte of the address space");
	ok(leaf.va == va1g && leaf.level == 3 && leaf.size == VM_PSIZE_1G, "a level-3 leaf");
	is_i64(walk(f, va1g + 0x3ffff000, VM_ACC_WRITE, &w), 0, "walk its last page");
	ok(w.pbase == UINT64_C(0x40000000) && w.size == VM_PSIZE_1G, "pbase and size of the 1 GiB page");
	is_u64(f->pt.table_frames, 1 + 2 + 1, "2 MiB needs 2 tables, 1 GiB 1");
	ok(fx_sound(f), "valid");
	fx_delete(f);
}

/* One walk per page size: as many references as levels above the leaf,
 * each at the address worked out from raw memory. */
static void check_refs(struct fx *f, vm_vaddr va, unsigned want, const char *what)
{
	struct vm_walk w;
	uint64_t pas[VM_LEVELS_MAX];
	unsigned n = fx_path(f, va, pas), match = 0;

	is_i64(walk(f, va, VM_ACC_READ | VM_ACC_USER, &w), 0, "%s: walk", what);
	is_u64(w.nrefs, want, "%s: %u references", what, want);
	is_u64(n, want, "%s: the raw path has as many entries", what);
	for (unsigned i = 0; i < w.nrefs && i < n; i++)
		match += w.ref[i].pa.v == pas[i] && w.ref[i].level == f->pt.levels - i;
	is_u64(match, want, "%s: each reference at its entry's address and level", what);
	ok(w.start_level == f->pt.levels && w.leaf_pa.v == pas[n - 1], "%s: start and leaf_pa", what);
}

static void test_walk_refs(const char *type, vm_vaddr base)
{
	struct fx *f = fx_new(type);
	unsigned L = f->pt.levels;
	char what[64];

	ok(map(f, base + 0x5000, 3, VM_PSIZE_4K, UR) == 0 &&
	   map(f, base + 0x80600000, 0x800, VM_PSIZE_2M, UR) == 0 &&
	   map(f, base + 0x1c0000000, 0xc0000, VM_PSIZE_1G, UR) == 0, "%s: map 4K, 2M, 1G", type);
	snprintf(what, sizeof(what), "%s 4 KiB", type);
	check_refs(f, base + 0x5abc, L, what);
	snprintf(what, sizeof(what), "%s 2 MiB", type);
	check_refs(f, base + 0x806abcde, L - 1, what);
	snprintf(what, sizeof(what), "%s 1 GiB", type);
	check_refs(f, base + 0x1c1234567, L - 2, what);
	fx_delete(f);
}

/* Every entry on va's path, and whether each has A / D set. */
static unsigned path_bits(struct fx *f, vm_vaddr va, uint64_t bit)
{
	uint64_t pas[VM_LEVELS_MAX];
	unsigned n = fx_path(f, va, pas), set = 0;
	for (unsigned i = 0; i < n; i++)
		set += (fx_word(f, pas[i]) & bit) != 0;
	return set;
}

static void test_accessed_dirty(void)
{
	struct fx *f = fx_new("radix4");
	struct vm_walk w;
	vm_vaddr va = UINT64_C(0x7f0012345000);
	uint64_t leaf_pa;

	map(f, va, 77, VM_PSIZE_4K, UR);
	map(f, va + 0x1000, 78, VM_PSIZE_4K, UR | VM_PTE_G);
	leaf_pa = path_pa(f, va, 1);
	is_u64(path_bits(f, va, VM_PTE_A), 0, "after map: no A anywhere");
	is_i64(walk(f, va, VM_ACC_READ | VM_ACC_USER, &w), 0, "user read");
	is_u64(path_bits(f, va, VM_PTE_A), 4, "A set on all 4 levels");
	ok(!(fx_word(f, leaf_pa) & VM_PTE_D) && !(w.perm & VM_PERM_D), "a read leaves D clear");
	is_u64(w.perm, VM_PERM_W | VM_PERM_U | VM_PERM_X, "rights: W, U, X; not global");
	is_i64(walk(f, va, VM_ACC_WRITE | VM_ACC_USER, &w), 0, "user write");
	ok((fx_word(f, leaf_pa) & VM_PTE_D) && (w.perm & VM_PERM_D), "a write sets D");
	is_u64(path_bits(f, va, VM_PTE_D), 1, "D only in the leaf");
	is_i64(walk(f, va, VM_ACC_READ, &w), 0, "read again");
	ok(w.perm & VM_PERM_D, "a read reports D once the leaf is dirty");
	is_i64(walk(f, va + 0x1000, VM_ACC_EXEC, &w), 0, "fetch from the global page");
	ok(w.perm & VM_PERM_G, "global leaf reported");

	map(f, 0x600000, 512, VM_PSIZE_2M, UR);
	is_i64(walk(f, 0x7ff000, VM_ACC_WRITE | VM_ACC_USER, &w), 0, "write to a 2 MiB page");
	is_u64(path_bits(f, 0x600000, VM_PTE_A), 3, "A on 3 levels");
	is_u64(fx_word(f, path_pa(f, 0x600000, 2)) & (VM_PTE_D | VM_PTE_PS), VM_PTE_D | VM_PTE_PS,
	       "D set in the PDE leaf");
	ok(fx_sound(f), "A in table entries is allowed by check");
	fx_delete(f);
}

static void test_faults(void)
{
	struct fx *f = fx_new("radix4");
	struct vm_walk w;
	vm_vaddr va = 0x1000;
	uint64_t leaf_pa;

	is_i64(walk(f, va, VM_ACC_WRITE | VM_ACC_USER, &w), 1, "empty table: fault");
	ok(w.error == (VM_PF_W | VM_PF_U) && w.nrefs == 1, "P = 0, W/U bits, one reference");
	is_i64(walk(f, va, VM_ACC_EXEC | VM_ACC_USER, &w), 1, "fetch: fault");
	is_u64(w.error, VM_PF_U | VM_PF_I, "not-present fetch carries I/D with NXE");

	map(f, va, 5, VM_PSIZE_4K, VM_PTE_US);
	leaf_pa = path_pa(f, va, 1);
	is_i64(walk(f, va + 0x1000, VM_ACC_READ, &w), 1, "neighbour page not present");
	ok(w.error == 0 && w.nrefs == 4, "supervisor read: error 0 after 4 references");
	is_i64(walk(f, va, VM_ACC_WRITE | VM_ACC_USER, &w), 1, "user write to read-only page");
	is_u64(w.error, VM_PF_P | VM_PF_W | VM_PF_U, "protection fault 0x7");
	is_u64(fx_word(f, leaf_pa) & (VM_PTE_A | VM_PTE_D), 0, "denied: leaf A and D untouched");
	f->ctl.smap = true;
	is_i64(walk(f, va, VM_ACC_READ, &w), 1, "supervisor read of a user page under SMAP");
	is_u64(fx_word(f, leaf_pa) & VM_PTE_A, 0, "denied: still no A");
	f->ctl.smap = false;
	is_i64(walk(f, va, VM_ACC_READ | VM_ACC_USER, &w), 0, "user read allowed");
	is_u64(fx_word(f, leaf_pa) & (VM_PTE_A | VM_PTE_D), VM_PTE_A, "A now, no D");
	fx_delete(f);
}

/* Reserved bits, written by hand, and rights accumulated over the levels. */
static void test_rsvd_rights(void)
{
	struct fx *f = fx_new("radix4");
	struct vm_walk w;
	vm_vaddr va = UINT64_C(0x7f0000001000);
	unsigned ur = VM_ACC_READ | VM_ACC_USER;

	map(f, va, 5, VM_PSIZE_4K, UR);
	uint64_t pte = path_pa(f, va, 1), pdpte = path_pa(f, va, 3), pml4e = path_pa(f, va, 4);
	uint64_t leaf = fx_word(f, pte);

	fx_set_word(f, pte, leaf | (UINT64_C(1) << 51));
	f->ctl.maxphyaddr = 46;
	is_i64(walk(f, va, ur, &w), 1, "bit 51 with MAXPHYADDR 46");
	is_u64(w.error, VM_PF_P | VM_PF_RSVD | VM_PF_U, "RSVD fault: P | RSVD | U");
	is_u64(fx_word(f, pte) & VM_PTE_A, 0, "the faulting leaf gets no A");
	f->ctl.maxphyaddr = 52;
	is_i64(walk(f, va, ur, &w), 0, "the same bit is address with MAXPHYADDR 52");
	fx_set_word(f, pte, leaf | VM_PTE_NX);
	f->ctl.nxe = false;
	is_i64(walk(f, va, VM_ACC_WRITE | VM_ACC_USER, &w), 1, "XD with EFER.NXE = 0");
	is_u64(w.error, VM_PF_P | VM_PF_RSVD | VM_PF_W | VM_PF_U, "RSVD on a write: 0xf");
	f->ctl.nxe = true;
	fx_set_word(f, pte, leaf);

	uint64_t e4 = fx_word(f, pml4e);
	fx_set_word(f, pml4e, e4 | VM_PTE_PS);
	is_i64(walk(f, va, ur, &w), 1, "PS in a PML4E");
	ok(w.error == (VM_PF_P | VM_PF_RSVD | VM_PF_U) && w.nrefs == 1, "RSVD at the first reference");
	is_i64(fx_check(f) == -EUCLEAN, 1, "check reports PS in a PML4E");
	struct vm_pt_leaf found;
	ok(lookup(f, va, &found) == 0 && found.level == 1, "software still reads that PML4E as a table");
	fx_set_word(f, pml4e, e4 & ~VM_PTE_A);
	is_i64(walk(f, va, ur, &w), 0, "restored");

	uint64_t e3 = fx_word(f, pdpte);
	fx_set_word(f, pdpte, e3 & ~VM_PTE_RW);
	is_i64(walk(f, va, ur, &w), 0, "read with R/W = 0 in the PDPTE");
	ok(!(w.perm & VM_PERM_W) && (w.perm & VM_PERM_U), "W is the AND over the levels");
	is_i64(walk(f, va, VM_ACC_WRITE | VM_ACC_USER, &w), 1, "so a user write faults");
	fx_set_word(f, pdpte, e3 | VM_PTE_NX);
	walk(f, va, ur, &w);
	ok(!(w.perm & VM_PERM_X) && (w.perm & VM_PERM_W), "XD in the PDPTE removes X");
	f->ctl.nxe = false;
	is_i64(walk(f, va, ur, &w), 1, "XD in a PDPTE without NXE is reserved");
	ok((w.error & VM_PF_RSVD) && w.nrefs == 2, "RSVD at the second reference");
	f->ctl.nxe = true;
	fx_set_word(f, pdpte, e3 & ~VM_PTE_US);
	is_i64(walk(f, va, ur, &w), 1, "U/S = 0 in the PDPTE: user read faults");
	is_u64(w.error, VM_PF_P | VM_PF_U, "protection fault 0x5");
	fx_set_word(f, pdpte, e3);

	map(f, 0x200000, 512, VM_PSIZE_2M, UR);
	uint64_t pde = path_pa(f, 0x200000, 2), e2 = fx_word(f, pde);
	fx_set_word(f, pde, e2 | (UINT64_C(1) << 13));
	is_i64(walk(f, 0x200000, ur, &w), 1, "2 MiB leaf with bit 13");
	ok((w.error & VM_PF_RSVD) && w.nrefs == 3, "RSVD at the PDE");
	is_i64(fx_check(f), -EUCLEAN, "check reports the reserved bit");
	fx_set_word(f, pde, (e2 & ~VM_PTE_ADDR_MASK & ~VM_PTE_PS) | FX_PHYS);
	is_i64(walk(f, 0x200000, ur, &w), 1, "a PDE pointing beyond simulated memory");
	ok((w.error & VM_PF_RSVD) && w.nrefs == 3, "is treated as reserved, not read");
	fx_set_word(f, pde, e2 | VM_PTE_PAT_LARGE);
	is_i64(walk(f, 0x200000, ur, &w), 0, "bit 12 of a 2 MiB leaf is PAT, not reserved");
	ok(fx_sound(f), "and check accepts it");
	fx_delete(f);
}

/* All 512 pieces of the large leaf at base (bar `hole`) translate to the
 * same frames with the same flags (4 KiB spelling) as before; returns the
 * number that do. */
static unsigned same_pieces(struct fx *f, vm_vaddr base, unsigned level, uint64_t pfn,
			    uint64_t flags, vm_vaddr hole)
{
	uint64_t step = UINT64_C(1) << (12 + 9 * (level - 2));
	unsigned good = 0;
	for (unsigned i = 0; i < 512; i++) {
		struct vm_pt_leaf leaf;
		vm_vaddr va = base + i * step;
		if (va <= hole && hole < va + step)
			continue;
		good += lookup(f, va, &leaf) == 0 && leaf.level == level - 1 &&
			pte_leaf_base(leaf.pte, leaf.level) == (pfn << 12) + i * step &&
			norm_flags(leaf.pte, leaf.level) == flags;
	}
	return good;
}

static void test_split_2m(void)
{
	struct fx *f = fx_new("radix4");
	uint64_t prot = UR | VM_PTE_G | VM_PTE_PCD | VM_PTE_A | VM_PTE_D | VM_PTE_NX |
			(UINT64_C(5) << VM_PTE_PKEY_SHIFT) | VM_PTE_SOFTW2;
	struct vm_pt_leaf leaf;

	map(f, 0x600000, 0x1000, VM_PSIZE_2M, prot);
	uint64_t pde = path_pa(f, 0x600000, 2);
	fx_set_word(f, pde, fx_word(f, pde) | VM_PTE_PAT_LARGE);
	uint64_t frames = f->pt.table_frames, want = prot | VM_PTE_P | VM_PTE_PAT;

	is_i64(unmap(f, 0x605000, 0x606000), 0, "unmap one page inside a 2 MiB leaf");
	is_i64(lookup(f, 0x605000, NULL), -ENOENT, "that page is gone");
	is_u64(same_pieces(f, 0x600000, 2, 0x1000, want, 0x605000), 511,
	       "the other 511 keep frames and flags, PAT moved to bit 7");
	is_u64(f->pt.table_frames, frames + 1, "one page table added");

	map(f, 0xa00000, 0x2000, VM_PSIZE_2M, UR);
	frames = f->pt.table_frames;
	is_i64(protect(f, 0xa00000, 0xc00000, VM_PTE_NX, 0), 0, "protect a whole 2 MiB leaf");
	is_u64(f->pt.table_frames, frames, "no split when the leaf is covered");
	ok(lookup(f, 0xa00000, &leaf) == 0 && leaf.level == 2 && (leaf.pte.v & VM_PTE_NX), "still 2 MiB, XD");
	is_i64(protect(f, 0xa03000, 0xa04000, 0, VM_PTE_RW), 0, "protect one page of it");
	ok(lookup(f, 0xa03000, &leaf) == 0 && leaf.level == 1 && !pte_write(leaf.pte), "that page is read-only");
	is_u64(same_pieces(f, 0xa00000, 2, 0x2000, UR | VM_PTE_NX | VM_PTE_P, 0xa03000), 511,
	       "the other 511 still writable");
	is_u64(f->pt.table_frames, frames + 1, "one page table added");
	is_i64(f->pt.ops->split(&f->pt, 0xa03000), -ENOENT, "split a 4 KiB leaf: -ENOENT");
	is_i64(f->pt.ops->split(&f->pt, 0x40000000), -ENOENT, "split a hole: -ENOENT");
	ok(fx_sound(f), "valid");
	fx_delete(f);
}

static void test_split_1g(void)
{
	struct fx *f = fx_new("radix4");
	uint64_t prot = UR | VM_PTE_A | (UINT64_C(3) << VM_PTE_PKEY_SHIFT);
	struct vm_pt_leaf leaf;

	map(f, 0x40000000, 0x40000, VM_PSIZE_1G, prot);
	uint64_t pdpte = path_pa(f, 0x40000000, 3);
	fx_set_word(f, pdpte, fx_word(f, pdpte) | VM_PTE_PAT_LARGE);
	uint64_t frames = f->pt.table_frames;

	is_i64(unmap(f, 0x40201000, 0x40202000), 0, "unmap one page inside a 1 GiB leaf");
	is_u64(f->pt.table_frames, frames + 2, "a page directory and a page table added");
	ok(lookup(f, 0x40000000, &leaf) == 0 && leaf.level == 2 && pte_huge(leaf.pte) &&
	   (leaf.pte.v & VM_PTE_PAT_LARGE) && pte_pfn(leaf.pte) == 0x40001,
	   "2 MiB pieces keep PS and PAT at bit 12");
	is_u64(same_pieces(f, 0x40000000, 3, 0x40000, prot | VM_PTE_P | VM_PTE_PAT, 0x40201000), 511,
	       "the other 511 2 MiB pieces translate as before");
	is_u64(same_pieces(f, 0x40200000, 2, 0x40200, prot | VM_PTE_P | VM_PTE_PAT, 0x40201000), 511,
	       "the other 511 pages of the split piece too");

	map(f, 0x80000000, 0x80000, VM_PSIZE_1G, UR);
	frames = f->pt.table_frames;
	is_i64(f->pt.ops->split(&f->pt, 0x9abcd000), 0, "split op on a 1 GiB leaf");
	ok(lookup(f, 0x9abcd000, &leaf) == 0 && leaf.level == 2 && leaf.va == 0x9aa00000,
	   "now 2 MiB leaves");
	is_u64(f->pt.table_frames, frames + 1, "one table");
	ok(fx_sound(f), "valid");
	fx_delete(f);
}

static void test_free_tables(const char *type)
{
	struct fx *f = fx_new(type);
	unsigned L = f->pt.levels;

	map(f, UINT64_C(0x7fffffffe000), 1, VM_PSIZE_4K, UR);
	is_u64(f->pt.table_frames, L, "%s: a page needs levels - 1 tables and the root", type);
	map(f, KERNEL_BASE, 2, VM_PSIZE_4K, UR);
	map(f, 0x200000, 512, VM_PSIZE_2M, UR);
	map(f, 0x1000, 3, VM_PSIZE_4K, UR);
	ok(fx_sound(f), "%s: valid", type);
	is_i64(unmap(f, 0x200000, 0x400000), 0, "%s: unmap the 2 MiB leaf", type);
	is_i64(unmap(f, 0x1000, 0x2000), 0, "%s: unmap page 1", type);
	is_u64(f->pt.table_frames, 2 * L - 1, "%s: their tables went, the others stay", type);
	is_i64(unmap(f, 0, USER_TOP), 0, "%s: unmap the whole 47-bit user half", type);
	is_i64(unmap(f, KERNEL_BASE, 0), 0, "%s: unmap up to 2^64 (end = 0)", type);
	is_u64(f->pt.table_frames, 1, "%s: back to the root", type);
	ok(f->src.live == 1 && f->src.bad_frees == 0, "%s: source holds the root alone", type);
	fx_delete(f);
}

struct collect {
	unsigned n, stop_at;
	struct vm_pt_leaf leaf[16];
};

static int collect_fn(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct collect *c = ctx;
	if (c->n < VM_ARRAY_SIZE(c->leaf))
		c->leaf[c->n] = *leaf;
	c->n++;
	return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

static unsigned collect(struct fx *f, vm_vaddr start, vm_vaddr end, const vm_vaddr *want,
			unsigned nwant)
{
	struct collect c = { 0 };
	unsigned good = 0;
	if (f->pt.ops->for_each(&f->pt, start, end, collect_fn, &c) != 0 || c.n != nwant)
		return 0;
	for (unsigned i = 0; i < nwant; i++)
		good += c.leaf[i].va == want[i] &&
			c.leaf[i].ptep.v == path_pa(f, want[i], c.leaf[i].level);
	return good;
}

static void test_for_each(void)
{
	struct fx *f = fx_new("radix4");
	static const vm_vaddr user[] = { 0x1000, 0x3000, 0x400000, 0x40000000,
					 UINT64_C(0x7ffffffff000) };
	/* kern[1]'s indexes below the top are those of kern[0]'s range */
	static const vm_vaddr kern[] = { UINT64_C(0xffff800000200000), UINT64_C(0xffffff8000201000),
					 UINT64_C(0xfffffffffffff000) };
	static const vm_vaddr mid[] = { 0x3000, 0x400000 };

	map(f, kern[0], 512, VM_PSIZE_2M, UR);
	map(f, user[4], 1, VM_PSIZE_4K, UR);
	map(f, user[2], 1024, VM_PSIZE_2M, UR);
	map(f, user[0], 2, VM_PSIZE_4K, UR);
	map(f, user[3], 0x40000, VM_PSIZE_1G, UR);
	map(f, kern[1], 3, VM_PSIZE_4K, UR);
	map(f, kern[2], 6, VM_PSIZE_4K, UR);
	map(f, user[1], 4, VM_PSIZE_4K, UR);
	uint64_t frames = f->pt.table_frames;

	is_u64(collect(f, 0, USER_TOP, user, 5), 5, "user half in address order");
	is_u64(collect(f, KERNEL_BASE, 0, kern, 3), 3, "kernel half in order, up to 2^64");
	is_u64(collect(f, KERNEL_BASE, KERNEL_BASE + 0x400000, kern, 1), 1,
	       "kernel range below the top: the root's bound is sign-extended");
	is_u64(collect(f, 0x2000, 0x401000, mid, 2), 2, "bounds: a 2 MiB leaf that starts inside");
	is_u64(collect(f, 0x401000, 0x402000, &mid[1], 1), 1, "bounds: a 2 MiB leaf around the range");
	struct collect none = { 0 };
	is_i64(f->pt.ops->for_each(&f->pt, 0x2000, 0x3000, collect_fn, &none), 0, "empty range: 0");
	is_u64(none.n, 0, "and no call");
	is_u64(f->pt.table_frames, frames, "for_each splits nothing");

	struct collect stop = { .stop_at = 2 };
	is_i64(f->pt.ops->for_each(&f->pt, 0, USER_TOP, collect_fn, &stop), 7, "non-zero return stops");
	is_u64(stop.n, 2, "after the second leaf");

	struct collect gone = { .stop_at = 2 };
	is_i64(f->pt.ops->unmap(&f->pt, 0, USER_TOP, collect_fn, &gone), 7, "unmap stops too");
	ok(gone.leaf[0].va == 0x1000 && pte_pfn(gone.leaf[0].pte) == 2, "unmap showed page 1 first");
	ok(lookup(f, 0x1000, NULL) == -ENOENT && lookup(f, 0x3000, NULL) == 0,
	   "the leaf it stopped at stays");
	ok(fx_sound(f), "valid after a stopped unmap");
	fx_delete(f);
}

static void test_radix5(void)
{
	struct fx *f = fx_new("radix5");
	struct vm_pt_leaf leaf;
	struct vm_walk w;
	vm_vaddr top = UINT64_C(0x00fffffffffff000), kern = UINT64_C(0xff00000000000000);

	is_i64(map(f, top, 9, VM_PSIZE_4K, UR), 0, "map the last 57-bit user page");
	is_i64(map(f, kern, 10, VM_PSIZE_4K, UR), 0, "map the first LA57 kernel page");
	is_i64(map(f, UINT64_C(0x0100000000000000), 11, VM_PSIZE_4K, UR), -EINVAL, "bit 56 + 1: not canonical");
	is_i64(map(f, UINT64_C(0xfeff800000000000), 11, VM_PSIZE_4K, UR), -EINVAL, "below the LA57 kernel half");
	ok(lookup(f, top, &leaf) == 0 && pte_pfn(leaf.pte) == 9, "lookup the 57-bit page");
	is_i64(walk(f, kern + 0x123, VM_ACC_READ, &w), 0, "walk the kernel page");
	ok(w.nrefs == 5 && w.pbase == 10 << 12, "5 references");
	is_u64(w.ref[0].pa.v, (f->pt.root_pfn << 12) + 256 * 8, "PML5 index 256 for 0xff00...");
	is_u64(f->pt.table_frames, 1 + 4 + 4, "4 tables per page below the PML5");
	ok(fx_sound(f), "valid");
	fx_delete(f);
}

/* The validator must see what it is there to see. */
static void test_check(void)
{
	struct fx *f = fx_new("radix4");

	map(f, 0x1000, 1, VM_PSIZE_4K, UR);
	uint64_t pte = path_pa(f, 0x1000, 1), pde = path_pa(f, 0x1000, 2);
	uint64_t e1 = fx_word(f, pte), e2 = fx_word(f, pde);
	ok(fx_sound(f), "valid to begin with");
	f->pt.table_frames++;
	is_i64(fx_check(f), -EUCLEAN, "table_frames one too many");
	f->pt.table_frames -= 2;
	is_i64(fx_check(f), -EUCLEAN, "table_frames one too few");
	f->pt.table_frames++;
	fx_set_word(f, pte + 8, 0x400);
	is_i64(fx_check(f), -EUCLEAN, "a not-present entry with bits set");
	fx_set_word(f, pte + 8, 0);
	fx_set_word(f, pte, 0);
	is_i64(fx_check(f), -EUCLEAN, "an empty page table");
	fx_set_word(f, pte, e1);
	fx_set_word(f, pde + 8, e2);
	f->pt.table_frames++;
	is_i64(fx_check(f), -EUCLEAN, "one page table reachable twice");
	f->pt.table_frames--;
	fx_set_word(f, pde + 8, 0);
	fx_set_word(f, pde, e2 | VM_PTE_NX);
	is_i64(fx_check(f), -EUCLEAN, "a table entry with XD (we never make one)");
	fx_set_word(f, pde, (e2 & ~VM_PTE_ADDR_MASK) | ((FX_PHYS >> 12) << 12));
	is_i64(fx_check(f), -EUCLEAN, "a table beyond memory");
	fx_set_word(f, pde, e2);
	ok(fx_sound(f), "valid again");
	fx_delete(f);
}

/* ---- fault injection ---- */

/* What the tables translate, as maximal runs of pages whose va and pa
 * advance together with the same flags: a split leaves it unchanged. */
struct run {
	vm_vaddr va, end;
	uint64_t pa, flags;
};

struct runs {
	unsigned n;
	struct run r[64];
};

static int runs_fn(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct runs *s = ctx;
	uint64_t size = UINT64_C(1) << vm_psize_shift(leaf->size);
	uint64_t pa = pte_leaf_base(leaf->pte, leaf->level), flags = norm_flags(leaf->pte, leaf->level);
	struct run *last = s->n ? &s->r[s->n - 1] : NULL;

	if (last && last->end == leaf->va && last->pa + (last->end - last->va) == pa &&
	    last->flags == flags) {
		last->end += size;
		return 0;
	}
	if (s->n == VM_ARRAY_SIZE(s->r))
		return -ENOSPC;
	s->r[s->n++] = (struct run){ leaf->va, leaf->va + size, pa, flags };
	return 0;
}

static void snapshot(struct fx *f, struct runs *s)
{
	vm_vaddr half = UINT64_C(1) << (f->pt.va_bits - 1);
	memset(s, 0, sizeof(*s));
	f->pt.ops->for_each(&f->pt, 0, half, runs_fn, s);
	f->pt.ops->for_each(&f->pt, (vm_vaddr)0 - half, 0, runs_fn, s);
}

struct inject_case {
	const char *name, *type;
	void (*setup)(struct fx *f);
	int (*op)(struct fx *f);
	int (*done)(struct fx *f);     /* the op's effect, once it succeeds */
	unsigned allocs;               /* table frames the op needs */
};

static void setup_none(struct fx *f)
{
	(void)f;
}

static void setup_neighbour(struct fx *f)
{
	map(f, 0x7f8040000000, 1, VM_PSIZE_4K, UR);     /* same PML4E, other PDPTE */
}

static void setup_gigs(struct fx *f)
{
	map(f, 0x40000000, 0x40000, VM_PSIZE_1G, UR | VM_PTE_A);
	map(f, 0x80000000, 0x80000, VM_PSIZE_1G, UR | VM_PTE_D);
	map(f, 0x1000, 5, VM_PSIZE_4K, UR);
}

static int op_map_far(struct fx *f)
{
	return map(f, 0x7f8000401000, 9, VM_PSIZE_4K, UR);
}

static int done_map_far(struct fx *f)
{
	struct vm_pt_leaf leaf;
	return lookup(f, 0x7f8000401000, &leaf) == 0 && pte_pfn(leaf.pte) == 9;
}

static int op_unmap_in_gig(struct fx *f)
{
	return unmap(f, 0x40201000, 0x40202000);
}

static int done_unmap_in_gig(struct fx *f)
{
	return lookup(f, 0x40201000, NULL) == -ENOENT && lookup(f, 0x40202000, NULL) == 0;
}

static int op_protect_across(struct fx *f)
{
	return protect(f, 0x40001000, 0xbffff000, VM_PTE_NX, VM_PTE_RW);
}

static int done_protect_across(struct fx *f)
{
	struct vm_pt_leaf a, b, c;
	return lookup(f, 0x40000000, &a) == 0 && pte_write(a.pte) && lookup(f, 0x40001000, &b) == 0 &&
	       !pte_write(b.pte) && lookup(f, 0xbffff000, &c) == 0 && pte_write(c.pte);
}

static int op_split(struct fx *f)
{
	return f->pt.ops->split(&f->pt, 0x80000000);
}

static int done_split(struct fx *f)
{
	struct vm_pt_leaf leaf;
	return lookup(f, 0x80000000, &leaf) == 0 && leaf.level == 2;
}

static const struct inject_case inject_cases[] = {
	{ "map into an empty radix4", "radix4", setup_none, op_map_far, done_map_far, 3 },
	{ "map into an empty radix5", "radix5", setup_none, op_map_far, done_map_far, 4 },
	{ "map next to a PML4 neighbour", "radix4", setup_neighbour, op_map_far, done_map_far, 2 },
	{ "unmap a page inside 1 GiB", "radix4", setup_gigs, op_unmap_in_gig, done_unmap_in_gig, 2 },
	{ "protect across two 1 GiB leaves", "radix4", setup_gigs, op_protect_across,
	  done_protect_across, 4 },
	{ "split 1 GiB", "radix4", setup_gigs, op_split, done_split, 1 },
};

/* Fail the N-th allocation of the op for N = 1, 2, ... until it succeeds:
 * each failure is -ENOMEM with the tables valid and translating as before. */
static void test_inject(const struct inject_case *c)
{
	unsigned failures = 0, sound = 0, same = 0, n;
	int rc = -ENOMEM;
	static struct runs before, after;

	for (n = 1; rc == -ENOMEM && n <= 10; n++) {
		struct fx *f = fx_new(c->type);
		c->setup(f);
		snapshot(f, &before);
		f->src.fail_at = f->src.attempts + n;
		rc = c->op(f);
		if (rc == -ENOMEM) {
			failures++;
			sound += fx_sound(f);
			snapshot(f, &after);
			same += before.n == after.n &&
				memcmp(before.r, after.r, before.n * sizeof(before.r[0])) == 0;
		} else {
			is_i64(rc, 0, "%s: succeeds once allocation %u is past", c->name, n);
			ok(c->done(f) && fx_sound(f), "%s: done, valid", c->name);
		}
		fx_delete(f);
	}
	is_u64(failures, c->allocs, "%s: each of %u allocations failed once", c->name, c->allocs);
	ok(sound == failures && same == failures, "%s: after -ENOMEM valid, nothing leaked, same translations",
	   c->name);
}

/* ---- differential test against a per-page reference ---- */

#define WIN_BASE  ((UINT64_C(1) << 39) - (UINT64_C(4) << 20))  /* straddles two PML4 entries */
#define WIN_PAGES 2048u                                         /* 8 MiB: four 2 MiB regions */

struct ref_page {
	bool present;
	bool big;               /* part of a 2 MiB leaf (its region's pages all are) */
	uint64_t pfn;
	uint64_t flags;         /* 4 KiB PTE form, P included */
};

struct diff {
	struct fx *f;
	struct vm_rng rng;
	struct ref_page ref[WIN_PAGES];
	unsigned op, mismatches;
	/* what the random ops reached, so the test cannot quietly go trivial */
	unsigned maps_2m, eexist, splits, walks_ok, walks_fault;
};

static void diff_fail(struct diff *d, const char *what, unsigned page)
{
	if (!d->mismatches++)
		diag("op %u: %s (page %u, va 0x%" PRIx64 ")", d->op, what, page,
		     WIN_BASE + ((uint64_t)page << 12));
}

static vm_vaddr page_va(unsigned p)
{
	return WIN_BASE + ((uint64_t)p << 12);
}

/* A large leaf partly covered by [s, e) is split: its pages turn small. */
static void ref_split_edges(struct diff *d, unsigned s, unsigned e)
{
	for (unsigned r = s / 512 * 512; r < e; r += 512)
		if (d->ref[r].big && d->ref[r].present && (r < s || r + 512 > e)) {
			for (unsigned i = r; i < r + 512; i++)
				d->ref[i].big = false;
			d->splits++;
		}
}

/* A random page, moved forward to the first one whose presence (and size,
 * when big is asked for) is as wanted, if there is one: random choices
 * alone leave most accesses and splits on holes. */
static unsigned pick_page(struct diff *d, bool present, bool big)
{
	unsigned p = (unsigned)vm_rng_below(&d->rng, WIN_PAGES);
	for (unsigned k = 0; k < WIN_PAGES; k++) {
		unsigned q = (p + k) % WIN_PAGES;
		if (d->ref[q].present == present && (!big || d->ref[q].big))
			return q;
	}
	return p;
}

/* A region with no page present, if there is one. */
static unsigned pick_region(struct diff *d)
{
	unsigned r = (unsigned)vm_rng_below(&d->rng, WIN_PAGES / 512);
	for (unsigned k = 0; k < WIN_PAGES / 512; k++) {
		unsigned q = (r + k) % (WIN_PAGES / 512), used = 0;
		for (unsigned i = q * 512; i < q * 512 + 512; i++)
			used += d->ref[i].present;
		if (!used)
			return q * 512;
	}
	return r * 512;
}

static uint64_t rand_prot(struct diff *d)
{
	return vm_rng_next(&d->rng) & (VM_PTE_PROT_MASK | VM_PTE_A | VM_PTE_D);
}

static void diff_map(struct diff *d, bool big)
{
	unsigned p = big ? pick_region(d) : (unsigned)vm_rng_below(&d->rng, WIN_PAGES);
	unsigned n = big ? 512 : 1, want = 0;
	uint64_t pfn = vm_rng_below(&d->rng, 1u << 20) / n * n, prot = rand_prot(d);

	for (unsigned i = p; i < p + n; i++)
		want |= d->ref[i].present;
	int rc = map(d->f, page_va(p), pfn, big ? VM_PSIZE_2M : VM_PSIZE_4K, prot);
	if (rc != (want ? -EEXIST : 0))
		diff_fail(d, "map result", p);
	d->eexist += rc == -EEXIST;
	d->maps_2m += big && rc == 0;
	for (unsigned i = p; !rc && i < p + n; i++)
		d->ref[i] = (struct ref_page){ true, big, pfn + (i - p), prot | VM_PTE_P };
}

static void diff_range(struct diff *d, bool unmapping)
{
	/* short, long, or one whole 2 MiB region (which makes room for 2 MiB maps) */
	static const unsigned spans[] = { 16, 700, 0 };
	unsigned s = (unsigned)vm_rng_below(&d->rng, WIN_PAGES);
	unsigned span = spans[vm_rng_below(&d->rng, 3)];
	uint64_t set = rand_prot(d), clear = rand_prot(d);

	if (!span)
		s = s / 512 * 512;
	unsigned e = span ? s + 1 + (unsigned)vm_rng_below(&d->rng, span) : s + 512;
	e = VM_MIN(e, WIN_PAGES);
	int rc = unmapping ? unmap(d->f, page_va(s), page_va(e))
			   : protect(d->f, page_va(s), page_va(e), set, clear);
	if (rc)
		diff_fail(d, unmapping ? "unmap result" : "protect result", s);
	ref_split_edges(d, s, e);
	for (unsigned i = s; i < e; i++) {
		if (unmapping)
			d->ref[i].present = false;
		else if (d->ref[i].present)
			d->ref[i].flags = (d->ref[i].flags & ~clear) | set;
	}
}

static void diff_split(struct diff *d)
{
	unsigned p = pick_page(d, true, vm_rng_below(&d->rng, 4) != 0);
	bool big = d->ref[p].present && d->ref[p].big;

	if (d->f->pt.ops->split(&d->f->pt, page_va(p)) != (big ? 0 : -ENOENT))
		diff_fail(d, "split result", p);
	if (big)
		ref_split_edges(d, p, p + 1);
}

/* An access through the hardware walk: fault or A/D as the reference
 * says (table entries allow everything; the leaf's flags decide). */
static void diff_walk(struct diff *d)
{
	unsigned p = pick_page(d, vm_rng_below(&d->rng, 4) != 0, false);
	unsigned acc = (unsigned)vm_rng_below(&d->rng, 3) | (vm_rng_below(&d->rng, 2) ? VM_ACC_USER : 0);
	struct ref_page *r = &d->ref[p];
	struct vm_walk w;
	uint32_t want = vm_pf_access_bits(acc, &d->f->ctl);

	if (r->present) {
		unsigned perm = (r->flags & VM_PTE_RW ? VM_PERM_W : 0) |
				(r->flags & VM_PTE_US ? VM_PERM_U : 0) |
				(r->flags & VM_PTE_NX ? 0 : VM_PERM_X);
		want = vm_access_check(perm, pte_pkey((vm_pte){ r->flags }), acc, &d->f->ctl);
	}
	int rc = walk(d->f, page_va(p), acc, &w);
	if (rc != (r->present && !want ? 0 : 1) || (rc == 1 && w.error != want))
		diff_fail(d, "walk result", p);
	d->walks_ok += rc == 0;
	d->walks_fault += rc == 1;
	if (rc != 0 || !r->present || want)
		return;
	if (w.pbase + (r->big ? (uint64_t)(p % 512) << 12 : 0) != r->pfn << 12)
		diff_fail(d, "walk pbase", p);
	unsigned first = r->big ? p / 512 * 512 : p, n = r->big ? 512 : 1;
	uint64_t ad = VM_PTE_A | ((acc & VM_ACC_KIND) == VM_ACC_WRITE ? VM_PTE_D : 0);
	for (unsigned i = first; i < first + n; i++)
		d->ref[i].flags |= ad;
}

static void diff_compare(struct diff *d)
{
	for (unsigned p = 0; p < WIN_PAGES; p++) {
		struct vm_pt_leaf leaf;
		const struct ref_page *r = &d->ref[p];
		int rc = lookup(d->f, page_va(p), &leaf);
		if (rc != (r->present ? 0 : -ENOENT)) {
			diff_fail(d, "present", p);
			return;
		}
		if (rc)
			continue;
		uint64_t pa = pte_leaf_base(leaf.pte, leaf.level) + (page_va(p) - leaf.va);
		if (pa != r->pfn << 12 || norm_flags(leaf.pte, leaf.level) != r->flags ||
		    (leaf.level == 2) != r->big) {
			diff_fail(d, "frame, flags or leaf size", p);
			return;
		}
	}
	if (!fx_sound(d->f))
		diff_fail(d, "check or frame count", 0);
}

static void test_differential(void)
{
	static struct diff d;
	uint64_t seed = tap_seed(20240601);
	unsigned ops = tap_long() ? 200000 : 6000;

	memset(&d, 0, sizeof(d));
	d.f = fx_new("radix4");
	vm_rng_seed(&d.rng, seed);
	for (d.op = 0; d.op < ops && !d.mismatches; d.op++) {
		unsigned dice = (unsigned)vm_rng_below(&d.rng, 100);
		if (dice < 30)
			diff_map(&d, false);
		else if (dice < 40)
			diff_map(&d, true);
		else if (dice < 55)
			diff_range(&d, true);
		else if (dice < 70)
			diff_range(&d, false);
		else if (dice < 75)
			diff_split(&d);
		else
			diff_walk(&d);
		diff_compare(&d);
	}
	is_u64(d.mismatches, 0, "differential: %u random ops agree with the per-page model (seed %" PRIu64 ")",
	       d.op, seed);
	diag("differential: %u 2 MiB maps, %u -EEXIST, %u splits, %u walks allowed, %u faulted",
	     d.maps_2m, d.eexist, d.splits, d.walks_ok, d.walks_fault);
	ok(d.maps_2m >= ops / 100 && d.eexist >= ops / 100 && d.splits >= ops / 100 &&
	   d.walks_ok >= ops / 100 && d.walks_fault >= ops / 100,
	   "differential: each kind of event happened at least once per 100 ops");
	is_i64(unmap(d.f, WIN_BASE, page_va(WIN_PAGES)), 0, "differential: unmap the window");
	ok(d.f->pt.table_frames == 1 && d.f->src.live == 1, "differential: back to the root alone");
	fx_delete(d.f);
}

/* Non-present PTEs (a swap entry in Linux's x86-64 format: P = 0, PS
 * clear, type in 63:59, offset inverted in 58:9): the hardware walk faults
 * on them with P = 0 in the error code (SDM 4.7); they keep their table
 * alive, and only the *_entry / *_nonpresent operations see them. */
static int count_all(void *ctx, const struct vm_pt_leaf *leaf)
{
	unsigned *n = ctx;
	n[pte_present(leaf->pte) ? 0 : 1]++;
	return 0;
}

static void test_nonpresent(void)
{
	struct fx *f = fx_new("radix4");
	const struct pt_ops *o = f->pt.ops;
	struct vm_pt_leaf leaf;
	struct vm_walk w;
	vm_vaddr va = 0x7f0000201000;
	vm_pte swp = { (~UINT64_C(5) << 14 >> 5) | (UINT64_C(2) << 59) };   /* type 2, offset 5 */
	unsigned n[2] = { 0, 0 };

	is_i64(o->set_pte(&f->pt, va, (vm_pte){ 0 }), -EINVAL, "zero is not an entry to set");
	is_i64(o->set_pte(&f->pt, va, (vm_pte){ swp.v | VM_PTE_PS }), -EINVAL, "PS set: refused");
	is_i64(o->set_pte(&f->pt, va + 1, swp), -EINVAL, "unaligned va");
	is_i64(o->set_pte(&f->pt, va, swp), 0, "a swap entry in an empty table");
	is_u64(f->pt.table_frames, 4, "PDPT, PD and PT allocated for it");
	is_u64(f->pt.nonpresent, 1, "counted");
	is_i64(fx_check(f), 0, "the check accepts it");
	is_i64(o->lookup(&f->pt, va, &leaf), -ENOENT, "lookup: not a mapping");
	ok(o->lookup_entry(&f->pt, va, &leaf) == 0 && leaf.pte.v == swp.v && leaf.level == 1 &&
	   leaf.va == va, "lookup_entry finds it");
	is_i64(walk(f, va, VM_ACC_READ | VM_ACC_USER, &w), 1, "the walk faults");
	is_u64(w.error, VM_PF_U, "not-present fault (P = 0 in the error code)");
	is_i64(o->map(&f->pt, va, 7, VM_PSIZE_4K, VM_PTE_RW), -EEXIST, "map does not overwrite it");
	map(f, va + 0x1000, 9, VM_PSIZE_4K, VM_PTE_RW | VM_PTE_US);
	o->for_each(&f->pt, 0, UINT64_C(1) << 47, count_all, n);
	ok(n[0] == 1 && n[1] == 0, "for_each sees the present leaf only");
	n[0] = n[1] = 0;
	o->for_each_entry(&f->pt, 0, UINT64_C(1) << 47, count_all, n);
	ok(n[0] == 1 && n[1] == 1, "for_each_entry sees both");
	is_i64(o->unmap(&f->pt, va, va + 0x2000, NULL, NULL), 0, "unmap the range");
	is_u64(f->pt.table_frames, 4, "the table holding the entry stays");
	ok(o->lookup_entry(&f->pt, va, &leaf) == 0 && leaf.pte.v == swp.v, "and so does the entry");
	is_i64(fx_check(f), 0, "consistent");
	/* Replaced in place by a present leaf (swap-in), and back (swap-out). */
	is_i64(o->set_pte(&f->pt, va, pfn_pte(11, VM_PTE_P | VM_PTE_RW | VM_PTE_US)), 0,
	       "a present leaf over it");
	ok(f->pt.nonpresent == 0 && o->lookup(&f->pt, va, &leaf) == 0 && pte_pfn(leaf.pte) == 11,
	   "mapped, no longer counted");
	is_i64(walk(f, va, VM_ACC_WRITE | VM_ACC_USER, &w), 0, "the walk translates it");
	is_i64(o->set_pte(&f->pt, va, swp), 0, "a swap entry over the leaf");
	is_u64(f->pt.nonpresent, 1, "counted again");
	/* Under a 2 MiB leaf there is no PTE to write. */
	map(f, 0x40000000, 0x200, VM_PSIZE_2M, VM_PTE_RW);
	is_i64(o->set_pte(&f->pt, 0x40001000, swp), -EEXIST, "a large leaf in the way");
	/* clear_nonpresent frees what it empties. */
	n[0] = n[1] = 0;
	is_i64(o->clear_nonpresent(&f->pt, va - 0x1000, va + 0x1000, count_all, n), 0, "clear");
	ok(n[1] == 1 && f->pt.nonpresent == 0, "it saw the entry and removed it");
	is_i64(o->lookup_entry(&f->pt, va, &leaf), -ENOENT, "gone");
	is_u64(f->pt.table_frames, 3, "its tables too (the 2 MiB leaf keeps PDPT and PD)");
	is_i64(fx_check(f), 0, "consistent at the end");
	/* Fault injection: no frame for a table, nothing changes. */
	f->src.fail_at = f->src.attempts + 1;
	is_i64(o->set_pte(&f->pt, 0x7f8000000000, swp), -ENOMEM, "no frame: -ENOMEM");
	ok(f->pt.nonpresent == 0 && f->pt.table_frames == 3, "nothing changed");
	f->src.fail_at = 0;
	is_i64(fx_check(f), 0, "consistent after the failure");
	fx_delete(f);
}

int main(void)
{
	test_registry();
	test_boundaries();
	test_einval();
	test_eexist();
	test_large();
	test_walk_refs("radix4", UINT64_C(0x7f8040000000));
	test_walk_refs("radix4", UINT64_C(0xffff900000000000));
	test_walk_refs("radix5", UINT64_C(0x00ab800000000000));
	test_accessed_dirty();
	test_faults();
	test_rsvd_rights();
	test_split_2m();
	test_split_1g();
	test_free_tables("radix4");
	test_free_tables("radix5");
	test_for_each();
	test_nonpresent();
	test_radix5();
	test_check();
	for (unsigned i = 0; i < VM_ARRAY_SIZE(inject_cases); i++)
		test_inject(&inject_cases[i]);
	test_differential();
	return done_testing();
}
