/*
 * The x86-64 entry format (pte.h) and the access-rights rules (access.h),
 * against values worked out by hand from the SDM (4.5 tables 4-14..4-20,
 * 4.6, 4.6.2, 4.7).
 */
#include <errno.h>

#include "tap.h"

#include "base/compiler.h"
#include "hw/access.h"
#include "hw/pte.h"

/* A value with every bit set but the one under test, and one with none:
 * a helper must change exactly its own bit. */
#define ALL UINT64_MAX

struct mk_case {
	const char *name;
	vm_pte (*mk)(vm_pte);
	uint64_t bit;
	bool sets;                 /* true: the helper sets bit; false: clears it */
};

static const struct mk_case mk_cases[] = {
	{ "pte_mkdirty",   pte_mkdirty,   VM_PTE_D,  true },
	{ "pte_mkclean",   pte_mkclean,   VM_PTE_D,  false },
	{ "pte_mkyoung",   pte_mkyoung,   VM_PTE_A,  true },
	{ "pte_mkold",     pte_mkold,     VM_PTE_A,  false },
	{ "pte_mkwrite",   pte_mkwrite,   VM_PTE_RW, true },
	{ "pte_wrprotect", pte_wrprotect, VM_PTE_RW, false },
	{ "pte_mkexec",    pte_mkexec,    VM_PTE_NX, false },
	{ "pte_mknoexec",  pte_mknoexec,  VM_PTE_NX, true },
	{ "pte_mkhuge",    pte_mkhuge,    VM_PTE_PS, true },
	{ "pte_mkglobal",  pte_mkglobal,  VM_PTE_G,  true },
	{ "pte_mkuser",    pte_mkuser,    VM_PTE_US, true },
	{ "pte_mkpresent", pte_mkpresent, VM_PTE_P,  true },
};

static void test_mk(void)
{
	for (unsigned i = 0; i < VM_ARRAY_SIZE(mk_cases); i++) {
		const struct mk_case *c = &mk_cases[i];
		vm_pte none = { 0 }, all = { ALL };
		uint64_t want_none = c->sets ? c->bit : 0;
		uint64_t want_all = c->sets ? ALL : ALL & ~c->bit;
		is_u64(c->mk(none).v, want_none, "%s on 0", c->name);
		is_u64(c->mk(all).v, want_all, "%s on all-ones", c->name);
	}
}

struct pred_case {
	const char *name;
	bool (*pred)(vm_pte);
	uint64_t bit;
	bool when_set;             /* the predicate's value when bit is set */
};

static const struct pred_case pred_cases[] = {
	{ "pte_present", pte_present, VM_PTE_P,  true },
	{ "pte_write",   pte_write,   VM_PTE_RW, true },
	{ "pte_user",    pte_user,    VM_PTE_US, true },
	{ "pte_young",   pte_young,   VM_PTE_A,  true },
	{ "pte_dirty",   pte_dirty,   VM_PTE_D,  true },
	{ "pte_huge",    pte_huge,    VM_PTE_PS, true },
	{ "pte_global",  pte_global,  VM_PTE_G,  true },
	{ "pte_exec",    pte_exec,    VM_PTE_NX, false },
};

static void test_predicates(void)
{
	for (unsigned i = 0; i < VM_ARRAY_SIZE(pred_cases); i++) {
		const struct pred_case *c = &pred_cases[i];
		vm_pte only = { c->bit }, but = { ALL & ~c->bit };
		ok(c->pred(only) == c->when_set, "%s with only its bit", c->name);
		ok(c->pred(but) == !c->when_set, "%s with every other bit", c->name);
	}
	ok(pte_none((vm_pte){ 0 }), "pte_none(0)");
	ok(!pte_none((vm_pte){ UINT64_C(1) << 40 }), "pte_none: any bit makes it not none");
	is_u64(pte_pkey((vm_pte){ UINT64_C(0xb) << 59 | VM_PTE_NX }), 0xb, "pte_pkey reads bits 59-62");
	is_u64(pte_pkey((vm_pte){ ~(UINT64_C(0xf) << 59) }), 0, "pte_pkey ignores the other bits");
}

static void test_addr(void)
{
	vm_pte e = pfn_pte(UINT64_C(0xfffffffffe), VM_PTE_P | VM_PTE_NX);
	is_u64(e.v, UINT64_C(0x800fffffffffe001), "pfn_pte: bits 12-51 and flags");
	is_u64(pte_pfn(e), UINT64_C(0xfffffffffe), "pte_pfn: the largest 40-bit pfn back");
	is_u64(pte_addr((vm_pte){ ALL }), UINT64_C(0x000ffffffffff000), "pte_addr: bits 12-51 only");
	is_u64(pfn_pte(UINT64_C(1) << 40, 0).v, 0, "pfn_pte: a pfn past 52 bits does not leak into flags");
	is_u64(pte_pfn((vm_pte){ 0xfff | VM_PTE_NX | VM_PTE_PKEY }), 0, "pte_pfn: flags are not address");

	/* PAT of a large leaf is bit 12, inside the address field */
	vm_pte pmd = { UINT64_C(0x40200000) | VM_PTE_PAT_LARGE | VM_PTE_PS | VM_PTE_P };
	is_u64(pte_leaf_base(pmd, 2), UINT64_C(0x40200000), "2 MiB leaf base without PAT");
	vm_pte pud = { UINT64_C(0x1c0000000) | VM_PTE_PAT_LARGE | VM_PTE_PS | VM_PTE_P | VM_PTE_NX };
	is_u64(pte_leaf_base(pud, 3), UINT64_C(0x1c0000000), "1 GiB leaf base without PAT");
	vm_pte pte = { UINT64_C(0x1c0001000) | VM_PTE_PAT | VM_PTE_P };
	is_u64(pte_leaf_base(pte, 1), UINT64_C(0x1c0001000), "4 KiB leaf keeps bit 12 (address)");
}

static void test_index(void)
{
	static const unsigned shifts[] = { 0, 12, 21, 30, 39, 48 };
	for (unsigned l = 1; l <= 5; l++) {
		is_u64(vm_level_shift(l), shifts[l], "vm_level_shift(%u)", l);
		vm_vaddr ones = UINT64_C(511) << shifts[l];
		for (unsigned k = 1; k <= 5; k++)
			is_u64(vm_pt_index(ones, k), k == l ? 511 : 0,
			       "index bits of level %u all ones: index at level %u", l, k);
		is_u64(vm_pt_index(~ones, l), 0, "every other bit set: level %u index 0", l);
	}
	for (unsigned l = 1; l <= 5; l++)
		is_u64(vm_pt_index(UINT64_MAX, l), 511, "UINT64_MAX: level %u index 511", l);

	/* distinct patterns per level, with offset bits set */
	static const unsigned idx[] = { 0, 0x001, 0x155, 0x0aa, 0x1fe, 0x100 };
	vm_vaddr va = 0xabc;
	for (unsigned l = 1; l <= 5; l++)
		va |= (vm_vaddr)idx[l] << shifts[l];
	for (unsigned l = 1; l <= 5; l++)
		is_u64(vm_pt_index(va, l), idx[l], "pattern: level %u index 0x%x", l, idx[l]);
}

static void test_canonical(void)
{
	static const struct {
		vm_vaddr va;
		unsigned bits;
		bool want;
	} cases[] = {
		{ 0, 48, true },
		{ UINT64_C(0x00007fffffffffff), 48, true },
		{ UINT64_C(0x0000800000000000), 48, false },
		{ UINT64_C(0xffff7fffffffffff), 48, false },
		{ UINT64_C(0xffff800000000000), 48, true },
		{ UINT64_MAX, 48, true },
		{ UINT64_C(0x8000000000000000), 48, false },
		{ UINT64_C(0x0000800000000000), 57, true },
		{ UINT64_C(0x00ffffffffffffff), 57, true },
		{ UINT64_C(0x0100000000000000), 57, false },
		{ UINT64_C(0xfeffffffffffffff), 57, false },
		{ UINT64_C(0xff00000000000000), 57, true },
		{ UINT64_MAX, 57, true },
	};
	for (unsigned i = 0; i < VM_ARRAY_SIZE(cases); i++)
		ok(vm_canonical(cases[i].va, cases[i].bits) == cases[i].want,
		   "0x%016" PRIx64 " %s canonical with %u bits", cases[i].va,
		   cases[i].want ? "is" : "is not", cases[i].bits);
}

static void test_reserved(void)
{
	vm_pte leaf = { VM_PTE_P };
	vm_pte pmd = { VM_PTE_P | VM_PTE_PS };

	is_u64(vm_pte_reserved_mask(leaf, 1, 52, true), 0, "PTE, MAXPHYADDR 52, NXE: nothing reserved");
	is_u64(vm_pte_reserved_mask(leaf, 1, 46, true), UINT64_C(0x000fc00000000000),
	       "PTE, MAXPHYADDR 46: bits 46-51");
	is_u64(vm_pte_reserved_mask(leaf, 1, 52, false), VM_PTE_NX, "NXE = 0: XD reserved");
	is_u64(vm_pte_reserved_mask(leaf, 2, 52, true), 0, "PDE pointing to a table: nothing");
	is_u64(vm_pte_reserved_mask(pmd, 2, 52, true), UINT64_C(0x1fe000),
	       "2 MiB leaf: bits 13-20 (12 is PAT)");
	is_u64(vm_pte_reserved_mask(pmd, 3, 52, true), UINT64_C(0x3fffe000),
	       "1 GiB leaf: bits 13-29");
	is_u64(vm_pte_reserved_mask(leaf, 4, 52, true), VM_PTE_PS, "PML4E: PS reserved");
	is_u64(vm_pte_reserved_mask(leaf, 5, 52, true), VM_PTE_PS, "PML5E: PS reserved");
	is_u64(vm_pte_reserved_mask(pmd, 1, 52, true), 0, "PTE: bit 7 is PAT, not reserved");
	is_u64(vm_pte_reserved_mask(pmd, 2, 40, false),
	       UINT64_C(0x000fff0000000000) | VM_PTE_NX | UINT64_C(0x1fe000),
	       "2 MiB leaf, MAXPHYADDR 40, NXE = 0: all three kinds");
}

/* Control-state shorthands for the access table. */
enum {
	C_WP = 1, C_SMEP = 2, C_SMAP = 4, C_AC = 8, C_NXE = 16, C_PKE = 32,
};

#define R   VM_ACC_READ
#define W   VM_ACC_WRITE
#define X   VM_ACC_EXEC
#define U   VM_ACC_USER
#define IMP VM_ACC_IMPLICIT
#define PW  VM_PERM_W
#define PU  VM_PERM_U
#define PX  VM_PERM_X

struct acc_case {
	const char *what;
	unsigned perm, pkey, acc, ctl;
	uint32_t pkru;
	uint32_t want;             /* #PF error code, 0 = allowed */
};

static const struct acc_case acc_cases[] = {
	/* SDM 4.6.1, user-mode accesses */
	{ "user read, user page", PU, 0, U | R, C_WP | C_NXE, 0, 0 },
	{ "user read, supervisor page", PW | PX, 0, U | R, C_WP | C_NXE, 0, 0x5 },
	{ "user write, user writable", PU | PW, 0, U | W, C_WP | C_NXE, 0, 0 },
	{ "user write, read-only", PU | PX, 0, U | W, C_WP | C_NXE, 0, 0x7 },
	{ "user write, read-only, WP = 0 changes nothing", PU, 0, U | W, C_NXE, 0, 0x7 },
	{ "user fetch, executable", PU | PX, 0, U | X, C_WP | C_NXE, 0, 0 },
	{ "user fetch, XD", PU | PW, 0, U | X, C_WP | C_NXE, 0, 0x15 },
	{ "user fetch, supervisor page", PX, 0, U | X, C_WP | C_NXE, 0, 0x15 },
	{ "user fetch, user page, SMEP does not apply", PU | PX, 0, U | X, C_WP | C_NXE | C_SMEP, 0, 0 },
	{ "user fetch, supervisor page, NXE = SMEP = 0: no I/D", PX, 0, U | X, C_WP, 0, 0x5 },
	{ "user read, SMAP does not apply", PU, 0, U | R, C_WP | C_NXE | C_SMAP, 0, 0 },
	/* supervisor-mode accesses */
	{ "sup read, supervisor read-only page", 0, 0, R, C_WP | C_NXE, 0, 0 },
	{ "sup write, read-only, WP = 1", PX, 0, W, C_WP | C_NXE, 0, 0x3 },
	{ "sup write, read-only, WP = 0", PX, 0, W, C_NXE, 0, 0 },
	{ "sup write, read-only user page, WP = 0, no SMAP", PU, 0, W, C_NXE, 0, 0 },
	{ "sup read, user page, SMAP, AC = 0", PU | PW, 0, R, C_WP | C_NXE | C_SMAP, 0, 0x1 },
	{ "sup read, user page, SMAP, AC = 1", PU | PW, 0, R, C_WP | C_NXE | C_SMAP | C_AC, 0, 0 },
	{ "sup implicit read, user page, SMAP, AC = 1", PU, 0, IMP | R,
	  C_WP | C_NXE | C_SMAP | C_AC, 0, 0x1 },
	{ "sup implicit read, user page, no SMAP", PU, 0, IMP | R, C_WP | C_NXE, 0, 0 },
	{ "sup implicit write, user page, SMAP", PU | PW, 0, IMP | W, C_WP | C_SMAP | C_AC, 0, 0x3 },
	{ "sup write, user writable, SMAP, AC = 1", PU | PW, 0, W, C_WP | C_NXE | C_SMAP | C_AC, 0, 0 },
	{ "sup write, user read-only, SMAP, AC = 1, WP", PU, 0, W, C_WP | C_NXE | C_SMAP | C_AC, 0, 0x3 },
	{ "sup fetch, user page, SMEP", PU | PX, 0, X, C_WP | C_NXE | C_SMEP, 0, 0x11 },
	{ "sup fetch, user page, no SMEP", PU | PX, 0, X, C_WP | C_NXE, 0, 0 },
	{ "sup fetch, supervisor XD page", PW, 0, X, C_WP | C_NXE, 0, 0x11 },
	{ "sup fetch, supervisor page, SMEP", PX, 0, X, C_WP | C_NXE | C_SMEP, 0, 0 },
	{ "sup fetch, user page, SMEP, NXE = 0: I/D from SMEP", PU | PX, 0, X, C_WP | C_SMEP, 0, 0x11 },
	{ "sup fetch, user page, SMAP does not apply", PU | PX, 0, X, C_WP | C_NXE | C_SMAP, 0, 0 },
	/* SDM 4.6.2, protection keys: PKRU bit 2i = AD, 2i + 1 = WD */
	{ "pkey AD: user read", PU | PW, 3, U | R, C_WP | C_NXE | C_PKE, 1u << 6, 0x25 },
	{ "pkey WD: user write", PU | PW, 3, U | W, C_WP | C_NXE | C_PKE, 2u << 6, 0x27 },
	{ "pkey WD: user write, WP = 0 (WP matters only to supervisor)", PU | PW, 3, U | W,
	  C_NXE | C_PKE, 2u << 6, 0x27 },
	{ "pkey WD: user read allowed", PU | PW, 3, U | R, C_WP | C_NXE | C_PKE, 2u << 6, 0 },
	{ "pkey AD: fetch not checked", PU | PX, 3, U | X, C_WP | C_NXE | C_PKE, 3u << 6, 0 },
	{ "pkey AD: sup read of user page", PU, 3, R, C_WP | C_NXE | C_PKE, 1u << 6, 0x21 },
	{ "pkey WD: sup write, WP = 0", PU | PW, 3, W, C_NXE | C_PKE, 2u << 6, 0 },
	{ "pkey WD: sup write, WP = 1", PU | PW, 3, W, C_WP | C_NXE | C_PKE, 2u << 6, 0x23 },
	{ "pkey AD: supervisor page not keyed", PW, 3, R, C_WP | C_NXE | C_PKE, 1u << 6, 0 },
	{ "pkey AD with CR4.PKE = 0", PU, 3, U | R, C_WP | C_NXE, 1u << 6, 0 },
	{ "pkey AD of another key", PU, 3, U | R, C_WP | C_NXE | C_PKE, 1u << 4, 0 },
	{ "pkey WD and read-only: both reported", PU, 3, U | W, C_WP | C_NXE | C_PKE, 2u << 6, 0x27 },
	{ "pkey 15 AD (PKRU bit 30)", PU, 15, U | R, C_WP | C_NXE | C_PKE, 1u << 30, 0x25 },
	{ "pkey 15 WD (PKRU bit 31)", PU | PW, 15, U | W, C_WP | C_NXE | C_PKE, 1u << 31, 0x27 },
};

static struct vm_paging_ctl ctl_of(unsigned f, uint32_t pkru)
{
	return (struct vm_paging_ctl){
		.wp = f & C_WP, .smep = f & C_SMEP, .smap = f & C_SMAP, .ac = f & C_AC,
		.nxe = f & C_NXE, .pke = f & C_PKE, .pkru = pkru, .maxphyaddr = 52, .va_bits = 48,
	};
}

static void test_access(void)
{
	for (unsigned i = 0; i < VM_ARRAY_SIZE(acc_cases); i++) {
		const struct acc_case *c = &acc_cases[i];
		struct vm_paging_ctl ctl = ctl_of(c->ctl, c->pkru);
		is_u64(vm_access_check(c->perm, c->pkey, c->acc, &ctl), c->want, "%s", c->what);
	}

	/* The access bits alone, as a not-present fault reports them. */
	struct vm_paging_ctl plain = ctl_of(0, 0), nxe = ctl_of(C_NXE, 0), smep = ctl_of(C_SMEP, 0);
	is_u64(vm_pf_access_bits(U | W, &plain), VM_PF_U | VM_PF_W, "access bits: user write");
	is_u64(vm_pf_access_bits(R, &nxe), 0, "access bits: supervisor read");
	is_u64(vm_pf_access_bits(X, &plain), 0, "access bits: fetch without NXE or SMEP has no I/D");
	is_u64(vm_pf_access_bits(X, &nxe), VM_PF_I, "access bits: fetch with NXE");
	is_u64(vm_pf_access_bits(U | X, &smep), VM_PF_U | VM_PF_I, "access bits: user fetch with SMEP");
}

int main(void)
{
	test_mk();
	test_predicates();
	test_addr();
	test_index();
	test_canonical();
	test_reserved();
	test_access();
	return done_testing();
}
