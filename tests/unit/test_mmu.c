/*
 * The MMU as a whole (mmu.h): vm_mmu_translate() on a machine, through its
 * TLBs, paging-structure caches and page tables in simulated memory.
 * Expected values come from the Intel SDM vol. 3A ch. 4 as REFERENCE.md 1
 * quotes it: 4.5 canonical addresses and reserved bits, 4.6 access rights,
 * 4.7 the #PF error code, 4.8 Accessed/Dirty, 4.10 TLBs, paging-structure
 * caches and their invalidation (table 1.5).  test_pte checks the rights
 * function alone; here the rights must come out of a real walk, whichever
 * level holds the restricting bit, and out of the TLB afterwards.
 */
#include <errno.h>

#include "base/compiler.h"
#include "mmu_fixture.h"

#define UR (VM_ACC_USER | VM_ACC_READ)
#define UW (VM_ACC_USER | VM_ACC_WRITE)
#define UX (VM_ACC_USER | VM_ACC_EXEC)
#define SR VM_ACC_READ
#define SW VM_ACC_WRITE
#define SX VM_ACC_EXEC
#define IR (VM_ACC_IMPLICIT | VM_ACC_READ)
#define IW (VM_ACC_IMPLICIT | VM_ACC_WRITE)

/* #PF error code bits, SDM 4.7 (spelled out rather than taken from access.h). */
#define PF_P    0x01u
#define PF_W    0x02u
#define PF_U    0x04u
#define PF_RSVD 0x08u
#define PF_I    0x10u
#define PF_PK   0x20u

#define KEY     5u
#define PKEY(k) ((uint64_t)(k) << 59)
#define AD(k)   (1u << (2 * (k)))
#define WD(k)   (2u << (2 * (k)))

static const char *const level_name[] = { "-", "PTE", "PDE", "PDPTE", "PML4E", "PML5E" };

/* Control state that decides rights (REFERENCE.md 1.4). */
struct ctl {
	const char *name;
	bool wp, smep, smap, nxe, ac, pke;
	uint32_t pkru;
};

enum {
	S_DEF, S_AC, S_WP0, S_OFF, S_NXE0, S_NXE0_NOSMEP, S_PK_AD, S_PK_WD, S_PK_WD_WP0,
	S_PK_OTHER, S_NOPKE_AD, S_COUNT
};

static const struct ctl states[S_COUNT] = {
	[S_DEF] = { "WP SMEP SMAP NXE, AC=0", true, true, true, true, false, false, 0 },
	[S_AC] = { "WP SMEP SMAP NXE, AC=1", true, true, true, true, true, false, 0 },
	[S_WP0] = { "WP=0, SMEP SMAP NXE, AC=1", false, true, true, true, true, false, 0 },
	[S_OFF] = { "WP=0 SMEP=0 SMAP=0, NXE", false, false, false, true, false, false, 0 },
	[S_NXE0] = { "NXE=0, WP SMEP SMAP", true, true, true, false, false, false, 0 },
	[S_NXE0_NOSMEP] = { "NXE=0 SMEP=0", true, false, true, false, false, false, 0 },
	[S_PK_AD] = { "PKE, PKRU.AD5, AC=1", true, true, true, true, true, true, AD(KEY) },
	[S_PK_WD] = { "PKE, PKRU.WD5, AC=1", true, true, true, true, true, true, WD(KEY) },
	[S_PK_WD_WP0] = { "PKE, PKRU.WD5, WP=0, AC=1", false, true, true, true, true, true, WD(KEY) },
	[S_PK_OTHER] = { "PKE, PKRU AD/WD of keys 4 and 6", true, true, true, true, true, true,
			 AD(4) | WD(4) | AD(6) | WD(6) },
	[S_NOPKE_AD] = { "PKE=0, PKRU.AD5", true, true, true, true, true, false, AD(KEY) },
};

/* Load a control state through the CPU's instructions (MOV to CR0/CR4,
 * WRMSR EFER, STAC/CLAC, WRPKRU), keeping CR4's other bits. */
static void set_ctl(struct vm_cpu *cpu, const struct ctl *c)
{
	uint64_t cr4 = cpu->cr4 & ~(VM_CR4_SMEP | VM_CR4_SMAP | VM_CR4_PKE);
	cr4 |= (c->smep ? VM_CR4_SMEP : 0) | (c->smap ? VM_CR4_SMAP : 0) | (c->pke ? VM_CR4_PKE : 0);
	if (vm_cpu_write_cr4(cpu, cr4))
		diag("write_cr4 refused 0x%" PRIx64, cr4);
	vm_cpu_write_cr0(cpu, c->wp ? VM_CR0_WP : 0);
	vm_cpu_write_efer(cpu, c->nxe ? VM_EFER_NXE : 0);
	vm_cpu_set_ac(cpu, c->ac);
	vm_cpu_write_pkru(cpu, c->pkru);
}

/* INVPCID type 2: every TLB and walk-cache entry of the CPU. */
static void flush_all(struct vm_cpu *cpu)
{
	if (vm_cpu_invpcid(cpu, 2, 0, 0))
		diag("invpcid 2 refused");
}

/* Walks made by one CPU so far, for "did it walk?" */
static uint64_t walks(const struct vm_cpu *cpu)
{
	return cpu->stats.walks;
}

/* ---- rights: the SDM's rules, written out from its text ---- */

/* Effective bits of a translation, from the entries in memory: R/W and
 * U/S ANDed over the levels, XD ORed (SDM 4.6, REFERENCE.md 1.2). */
struct eff {
	bool rw, us, xd;
	unsigned pkey;
};

/* SDM 4.5-4.7 for one access: 0 if allowed, else the #PF error code. */
static uint32_t sdm_error(struct eff e, unsigned acc, const struct ctl *c)
{
	unsigned kind = acc & VM_ACC_KIND;
	bool user = acc & VM_ACC_USER, implicit = acc & VM_ACC_IMPLICIT;
	bool write = kind == VM_ACC_WRITE, fetch = kind == VM_ACC_EXEC;
	uint32_t bits = (write ? PF_W : 0) | (user ? PF_U : 0) | (fetch && (c->nxe || c->smep) ? PF_I : 0);
	bool allowed;

	/* 4.5: with EFER.NXE = 0, bit 63 is reserved in every entry. */
	if (e.xd && !c->nxe)
		return PF_P | PF_RSVD | bits;
	if (user) {
		/* 4.6.1, user-mode access: user-mode addresses only; writes need
		 * R/W = 1 whatever CR0.WP; fetches need XD = 0. */
		allowed = e.us && (!write || e.rw) && (!fetch || !e.xd);
	} else if (fetch) {
		/* supervisor fetch: none from user addresses under SMEP; XD = 0 */
		allowed = !(e.us && c->smep) && !e.xd;
	} else if (e.us && c->smap && (implicit || !c->ac)) {
		/* SMAP: user addresses only for explicit accesses with AC = 1 */
		allowed = false;
	} else {
		/* supervisor data: writes need R/W = 1 only with CR0.WP = 1 */
		allowed = !write || e.rw || !c->wp;
	}
	/* 4.6.2: keys apply to data accesses to user-mode addresses; AD
	 * forbids them all, WD writes by user mode or with WP = 1.  4.7: PK
	 * is reported whenever the key forbids, whatever else does. */
	bool pk = false;
	if (c->pke && e.us && !fetch) {
		bool ad = (c->pkru >> (2 * e.pkey)) & 1, wd = (c->pkru >> (2 * e.pkey + 1)) & 1;
		pk = ad || (wd && write && (user || c->wp));
	}
	if (allowed && !pk)
		return 0;
	return PF_P | bits | (pk ? PF_PK : 0);
}

static const struct {
	unsigned acc;
	const char *name;
} accs[] = {
	{ UR, "user read" },       { UW, "user write" },       { UX, "user fetch" },
	{ SR, "supervisor read" }, { SW, "supervisor write" }, { SX, "supervisor fetch" },
	{ IR, "implicit read" },   { IW, "implicit write" },
};

/* One leaf of each size, user read/write, key 5, no XD; every upper entry
 * as the page-table code makes it (P, R/W, U/S). */
struct leaf {
	const char *name;
	vm_vaddr va;
	uint64_t off;            /* offset of the accesses in the page */
	uint64_t pfn;
	enum vm_psize size;
	unsigned level;
};

static const struct leaf leaves[] = {
	{ "4K", UINT64_C(0x00007f0000203000), 0x7f8, 0x1234, VM_PSIZE_4K, 1 },
	{ "2M", UINT64_C(0x00007f0000400000), 0x12345, 0x400, VM_PSIZE_2M, 2 },
	{ "1G", UINT64_C(0x00007f0040000000), 0x2345678, 0x40000, VM_PSIZE_1G, 3 },
};

#define LEAF_PROT (VM_PTE_RW | VM_PTE_US | PKEY(KEY))

static struct eff path_eff(struct mfx *f, const struct leaf *l)
{
	struct eff e = { true, true, false, 0 };
	for (unsigned lv = f->pt.levels; lv >= l->level; lv--) {
		uint64_t v = *mfx_entry(f, &f->pt, l->va, lv);
		e.rw = e.rw && (v & 2);
		e.us = e.us && (v & 4);
		e.xd = e.xd || (v >> 63);
		e.pkey = (unsigned)(v >> 59) & 15;
	}
	return e;
}

/* Run every access of accs[] on leaf l, each after a full flush (so from a
 * walk) or all in a row twice (so mostly from TLB entries the accesses
 * before filled, and from faults raised on cached rights).  Each result
 * must be what sdm_error() says, with CR2 and the physical address.
 * Returns the number of wrong results, each a TAP comment. */
static unsigned run_accesses(struct mfx *f, const struct leaf *l, const struct ctl *c,
			     bool walk_each, const char *what)
{
	struct eff e = path_eff(f, l);
	unsigned bad = 0, n = VM_ARRAY_SIZE(accs);
	vm_vaddr va = l->va + l->off;

	flush_all(f->cpu);
	for (unsigned k = 0; k < (walk_each ? n : 2 * n); k++) {
		unsigned acc = accs[k % n].acc;
		uint32_t want = sdm_error(e, acc, c);
		uint64_t pa;
		if (walk_each)
			flush_all(f->cpu);
		f->cpu->cr2 = 0;
		f->cpu->pf_error = 0xdead;
		int exc = mfx_tr(f->cpu, va, acc, &pa);
		bool right = want ? exc == VM_EXC_PF && f->cpu->pf_error == want && f->cpu->cr2 == va
				  : exc == VM_EXC_NONE && pa == (l->pfn << 12) + l->off;
		if (!right) {
			diag("%s, %s: got exc %d error 0x%x cr2 0x%" PRIx64 " pa 0x%" PRIx64
			     "; want %s 0x%x", what, accs[k % n].name, exc, f->cpu->pf_error,
			     f->cpu->cr2, pa, want ? "#PF" : "no fault", want);
			bad++;
		}
	}
	return bad;
}

static struct mfx *rights_machine(void)
{
	struct mfx *f = MFX_NEW("tlb=zen4", "pt=radix4");
	if (!f)
		return NULL;
	for (unsigned i = 0; i < VM_ARRAY_SIZE(leaves); i++)
		mfx_map(&f->pt, leaves[i].va, leaves[i].pfn, leaves[i].size, LEAF_PROT);
	return f;
}

static const struct {
	const char *name;
	uint64_t set, clear;
} mods[] = {
	{ "nothing", 0, 0 },
	{ "R/W=0", 0, VM_PTE_RW },
	{ "U/S=0", 0, VM_PTE_US },
	{ "XD=1", VM_PTE_NX, 0 },
};

/* Every leaf size x the restricting bit at every level of its walk x every
 * control state x every access kind: the walk and the TLB agree with the
 * SDM.  A model that only looked at the leaf, or forgot the AND/OR over
 * levels, or cached rights the TLB must not use, fails here. */
static void test_rights_along_the_walk(void)
{
	struct mfx *f = rights_machine();
	if (!ok(f != NULL, "machine for the rights sweep"))
		return;
	for (unsigned li = 0; li < VM_ARRAY_SIZE(leaves); li++) {
		const struct leaf *l = &leaves[li];
		for (unsigned lv = l->level; lv <= f->pt.levels; lv++) {
			for (unsigned mi = 0; mi < VM_ARRAY_SIZE(mods); mi++) {
				if (mi == 0 && lv != l->level)
					continue;
				uint64_t *ep = mfx_entry(f, &f->pt, l->va, lv), save = *ep;
				*ep = (save | mods[mi].set) & ~mods[mi].clear;
				for (unsigned s = 0; s < S_COUNT; s++) {
					char what[160];
					snprintf(what, sizeof(what), "%s leaf, %s in the %s, %s", l->name,
						 mods[mi].name, level_name[lv], states[s].name);
					set_ctl(f->cpu, &states[s]);
					unsigned bad = run_accesses(f, l, &states[s], true, what);
					bad += run_accesses(f, l, &states[s], false, what);
					ok(bad == 0, "%s: all 8 access kinds, from walks and from the TLB", what);
				}
				*ep = save;
				flush_all(f->cpu);
			}
		}
	}
	mfx_free(f);
}

/* Named cases with their error codes worked out by hand from SDM 4.6/4.7. */
struct rcase {
	const char *name;
	uint64_t leaf;         /* leaf flags besides P and the frame */
	unsigned level;        /* entry that gets set/clear (0: none) */
	uint64_t set, clear;
	unsigned state;
	unsigned acc;
	uint32_t err;          /* 0: no fault */
};

#define W_ VM_PTE_RW
#define U_ VM_PTE_US
#define NX_ VM_PTE_NX

static const struct rcase rcases[] = {
	{ "user read of a supervisor page", W_, 0, 0, 0, S_DEF, UR, PF_P | PF_U },
	{ "user read, U/S=0 in the PML4E only", W_ | U_, 4, 0, U_, S_DEF, UR, PF_P | PF_U },
	{ "user write, U/S=0 in the PDPTE only", W_ | U_, 3, 0, U_, S_DEF, UW, PF_P | PF_W | PF_U },
	{ "user fetch, U/S=0 in the PDE only", W_ | U_, 2, 0, U_, S_DEF, UX, PF_P | PF_U | PF_I },
	{ "user write to a read-only page", U_, 0, 0, 0, S_DEF, UW, PF_P | PF_W | PF_U },
	{ "user write, R/W=0 in the PDE only", W_ | U_, 2, 0, W_, S_DEF, UW, PF_P | PF_W | PF_U },
	{ "user read, R/W=0 in the PML4E", W_ | U_, 4, 0, W_, S_DEF, UR, 0 },
	{ "user write to read-only with WP=0 (WP binds supervisor only)", U_, 0, 0, 0, S_WP0, UW,
	  PF_P | PF_W | PF_U },
	{ "supervisor write to read-only, WP=1", 0, 0, 0, 0, S_DEF, SW, PF_P | PF_W },
	{ "supervisor write, R/W=0 in the PDPTE, WP=1", W_, 3, 0, W_, S_DEF, SW, PF_P | PF_W },
	{ "supervisor write to read-only, WP=0", 0, 0, 0, 0, S_WP0, SW, 0 },
	{ "supervisor write, R/W=0 in the PML4E, WP=0", W_, 4, 0, W_, S_WP0, SW, 0 },
	{ "SMEP: supervisor fetch from a user page", W_ | U_, 0, 0, 0, S_DEF, SX, PF_P | PF_I },
	{ "SMEP=0: supervisor fetch from a user page", W_ | U_, 0, 0, 0, S_OFF, SX, 0 },
	{ "SMEP: U/S=0 in the PDPTE makes a supervisor address", W_ | U_, 3, 0, U_, S_DEF, SX, 0 },
	{ "SMAP: supervisor read of a user page, AC=0", W_ | U_, 0, 0, 0, S_DEF, SR, PF_P },
	{ "SMAP: supervisor write to a user page, AC=0", W_ | U_, 0, 0, 0, S_DEF, SW, PF_P | PF_W },
	{ "SMAP: supervisor read of a user page, AC=1", W_ | U_, 0, 0, 0, S_AC, SR, 0 },
	{ "SMAP: supervisor write to a user page, AC=1", W_ | U_, 0, 0, 0, S_AC, SW, 0 },
	{ "SMAP, AC=1: supervisor write to a read-only user page, WP=1", U_, 0, 0, 0, S_AC, SW,
	  PF_P | PF_W },
	{ "SMAP: implicit read of a user page even with AC=1", W_ | U_, 0, 0, 0, S_AC, IR, PF_P },
	{ "SMAP: implicit write to a user page even with AC=1", W_ | U_, 0, 0, 0, S_AC, IW,
	  PF_P | PF_W },
	{ "SMAP=0: supervisor read of a user page, AC=0", W_ | U_, 0, 0, 0, S_OFF, SR, 0 },
	{ "SMAP: U/S=0 in the PML4E makes a supervisor address", W_ | U_, 4, 0, U_, S_DEF, SR, 0 },
	{ "NX: user fetch, XD in the PTE", W_ | U_ | NX_, 0, 0, 0, S_DEF, UX, PF_P | PF_U | PF_I },
	{ "NX: user fetch, XD in the PDPTE only", W_ | U_, 3, NX_, 0, S_DEF, UX, PF_P | PF_U | PF_I },
	{ "NX: supervisor fetch, XD in the PML4E only", W_, 4, NX_, 0, S_DEF, SX, PF_P | PF_I },
	{ "NX: user read of an XD page", W_ | U_ | NX_, 0, 0, 0, S_DEF, UR, 0 },
	{ "NXE=0: XD in the PDE is reserved, user read", W_ | U_, 2, NX_, 0, S_NXE0, UR,
	  PF_P | PF_U | PF_RSVD },
	{ "NXE=0: XD in the PML4E is reserved, user write", W_ | U_, 4, NX_, 0, S_NXE0, UW,
	  PF_P | PF_W | PF_U | PF_RSVD },
	{ "NXE=0: XD in the PTE is reserved, supervisor read", W_ | NX_, 0, 0, 0, S_NXE0, SR,
	  PF_P | PF_RSVD },
	{ "NXE=0, SMEP=1: reserved XD on a fetch reports I/D", W_ | U_, 3, NX_, 0, S_NXE0, UX,
	  PF_P | PF_U | PF_RSVD | PF_I },
	{ "NXE=0, SMEP=0: reserved XD on a fetch, no I/D", W_ | U_, 3, NX_, 0, S_NXE0_NOSMEP, UX,
	  PF_P | PF_U | PF_RSVD },
	{ "NXE=0: user fetch without XD is allowed", W_ | U_, 0, 0, 0, S_NXE0, UX, 0 },
	{ "NXE=0, SMEP=0: supervisor fetch from a supervisor page, allowed", W_, 0, 0, 0,
	  S_NXE0_NOSMEP, SX, 0 },
	{ "PK AD: user read", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_AD, UR, PF_P | PF_U | PF_PK },
	{ "PK AD: user write", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_AD, UW, PF_P | PF_W | PF_U | PF_PK },
	{ "PK AD: user fetch is not a data access", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_AD, UX, 0 },
	{ "PK AD: supervisor read of a user page, AC=1", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_AD, SR,
	  PF_P | PF_PK },
	{ "PK WD: user read allowed", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_WD, UR, 0 },
	{ "PK WD: user write", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_WD, UW, PF_P | PF_W | PF_U | PF_PK },
	{ "PK WD: supervisor write, WP=1", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_WD, SW,
	  PF_P | PF_W | PF_PK },
	{ "PK WD: supervisor write, WP=0", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_WD_WP0, SW, 0 },
	{ "PK WD: user write, WP=0 still faults", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_WD_WP0, UW,
	  PF_P | PF_W | PF_U | PF_PK },
	{ "PK AD, U/S=0 in the PDE: not a user address, no key check", W_ | U_ | PKEY(KEY), 2, 0, U_,
	  S_PK_AD, SR, 0 },
	{ "PK AD on a supervisor leaf: user read faults without PK", W_ | PKEY(KEY), 0, 0, 0, S_PK_AD,
	  UR, PF_P | PF_U },
	{ "PK with another violation: PK still reported", U_ | PKEY(KEY), 0, 0, 0, S_PK_AD, UW,
	  PF_P | PF_W | PF_U | PF_PK },
	{ "PKE=0: PKRU is ignored", W_ | U_ | PKEY(KEY), 0, 0, 0, S_NOPKE_AD, UW, 0 },
	{ "PK: bits of other keys do not apply", W_ | U_ | PKEY(KEY), 0, 0, 0, S_PK_OTHER, UW, 0 },
};

static void test_rights_cases(void)
{
	struct mfx *f = MFX_NEW("tlb=zen4");
	const vm_vaddr va = UINT64_C(0x00007f0000205000);
	const uint64_t pfn = 0x777;
	if (!ok(f != NULL, "machine for the named rights cases"))
		return;
	mfx_map(&f->pt, va, pfn, VM_PSIZE_4K, W_ | U_);
	for (unsigned i = 0; i < VM_ARRAY_SIZE(rcases); i++) {
		const struct rcase *c = &rcases[i];
		uint64_t saved[5];
		for (unsigned lv = 1; lv <= 4; lv++)
			saved[lv] = *mfx_entry(f, &f->pt, va, lv);
		*mfx_entry(f, &f->pt, va, 1) = (pfn << 12) | VM_PTE_P | c->leaf;
		if (c->level) {
			uint64_t *ep = mfx_entry(f, &f->pt, va, c->level);
			*ep = (*ep | c->set) & ~c->clear;
		}
		set_ctl(f->cpu, &states[c->state]);
		flush_all(f->cpu);
		f->cpu->cr2 = 0;
		f->cpu->pf_error = 0xdead;
		uint64_t pa;
		int exc = mfx_tr(f->cpu, va + 0x321, c->acc, &pa);
		if (c->err) {
			ok(exc == VM_EXC_PF && f->cpu->pf_error == c->err && f->cpu->cr2 == va + 0x321,
			   "%s: #PF 0x%x, CR2 = the address (got exc %d, 0x%x, CR2 0x%" PRIx64 ")", c->name,
			   c->err, exc, f->cpu->pf_error, f->cpu->cr2);
		} else {
			ok(exc == VM_EXC_NONE && pa == (pfn << 12) + 0x321,
			   "%s: allowed (got exc %d, error 0x%x)", c->name, exc, f->cpu->pf_error);
		}
		for (unsigned lv = 1; lv <= 4; lv++)
			*mfx_entry(f, &f->pt, va, lv) = saved[lv];
	}
	mfx_free(f);
}

/* Protection keys are checked on TLB hits too: the TLB caches the key, not
 * the PKRU verdict, and WRPKRU needs no invalidation (SDM 4.6.2, 4.10.2.2). */
static void test_pkeys_and_the_tlb(void)
{
	const vm_vaddr va = UINT64_C(0x00007f0000205000);
	struct mfx *f = MFX_PAGE(va, 0x777, W_ | U_ | PKEY(KEY), "tlb=zen4", "pke=on");
	if (!ok(f != NULL, "machine with CR4.PKE"))
		return;
	is_i64(mfx_tr(f->cpu, va, UW, NULL), VM_EXC_NONE, "PKRU = 0: user write fills the TLB");
	uint64_t w0 = walks(f->cpu);
	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_NONE, "user read");
	is_u64(walks(f->cpu), w0, "... from the TLB");
	vm_cpu_write_pkru(f->cpu, AD(KEY));
	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_PF, "WRPKRU AD5, no invalidation: the cached read faults");
	is_u64(f->cpu->pf_error, PF_P | PF_U | PF_PK, "... with P|U|PK");
	is_u64(walks(f->cpu), w0 + 1, "... raised by a walk: an AMD MMU re-walks before it faults");
	vm_cpu_write_pkru(f->cpu, WD(KEY));
	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_NONE, "WD5: reads allowed again");
	is_i64(mfx_tr(f->cpu, va, UW, NULL), VM_EXC_PF, "WD5: the write through the refilled entry faults");
	is_u64(f->cpu->pf_error, PF_P | PF_W | PF_U | PF_PK, "... with P|W|U|PK");
	mfx_free(f);

	/* Entries filled while CR4.PKE = 0 must not let a key through once
	 * PKE is set: the fast path's table changes with the control state. */
	f = MFX_PAGE(va, 0x777, W_ | U_ | PKEY(KEY), "tlb=zen4", "pke=off");
	if (!ok(f != NULL, "machine without CR4.PKE"))
		return;
	vm_cpu_write_pkru(f->cpu, AD(KEY));
	is_i64(mfx_tr(f->cpu, va, UW, NULL), VM_EXC_NONE, "PKE=0: PKRU.AD5 ignored, the write fills the TLB");
	w0 = walks(f->cpu);
	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_NONE, "... and a read hits it");
	is_u64(walks(f->cpu), w0, "... without a walk");
	is_i64(vm_cpu_write_cr4(f->cpu, f->cpu->cr4 | VM_CR4_PKE), 0, "set CR4.PKE");
	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_PF, "now the same read faults");
	is_u64(f->cpu->pf_error, PF_P | PF_U | PF_PK, "... with PK");
	mfx_free(f);
}

/* ---- not present, reserved bits, canonical addresses ---- */

/* P = 0 at any level: #PF with P = 0 and the access's W/U/I bits, whatever
 * else the entry holds (REFERENCE.md 1.2: with P = 0 every other bit is
 * software's, so bits that would be reserved do not make it RSVD).
 * Not-present entries are never cached, so setting P again needs no
 * invalidation (SDM 4.10.4.3). */
static void test_not_present(void)
{
	static const struct {
		unsigned acc;
		uint32_t err;
	} want[] = {
		{ UR, PF_U }, { UW, PF_W | PF_U }, { UX, PF_U | PF_I },
		{ SR, 0 },    { SW, PF_W },        { SX, PF_I },
	};
	struct mfx *f = MFX_NEW("tlb=zen4", "phys_bits=40");
	const vm_vaddr va = UINT64_C(0x00007f0000205000), off = 0x9ab;
	const uint64_t rsvd45 = UINT64_C(1) << 45;     /* above MAXPHYADDR = 40 */
	if (!ok(f != NULL, "machine with MAXPHYADDR 40"))
		return;
	mfx_map(&f->pt, va, 0x555, VM_PSIZE_4K, W_ | U_);
	for (unsigned lv = 4; lv >= 1; lv--) {
		uint64_t *ep = mfx_entry(f, &f->pt, va, lv), save = *ep;
		*ep = (save & ~VM_PTE_P) | rsvd45;
		vm_cpu_invlpg(f->cpu, va);
		for (unsigned k = 0; k < VM_ARRAY_SIZE(want); k++) {
			f->cpu->cr2 = 0;
			int exc = mfx_tr(f->cpu, va + off, want[k].acc, NULL);
			ok(exc == VM_EXC_PF && f->cpu->pf_error == want[k].err && f->cpu->cr2 == va + off,
			   "P=0 in the %s, acc %u: #PF 0x%x, CR2 = the address (got %d, 0x%x)",
			   level_name[lv], want[k].acc, want[k].err, exc, f->cpu->pf_error);
		}
		*ep = save;
		is_i64(mfx_tr(f->cpu, va + off, UW, NULL), VM_EXC_NONE,
		       "P set again in the %s, no invalidation: the access succeeds", level_name[lv]);
	}

	uint64_t *pte = mfx_entry(f, &f->pt, va, 1), save = *pte;
	*pte |= rsvd45;
	vm_cpu_invlpg(f->cpu, va);
	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_PF, "present PTE with address bit 45 >= MAXPHYADDR");
	is_u64(f->cpu->pf_error, PF_P | PF_RSVD | PF_U, "... is a reserved-bit fault: P|RSVD|U");
	*pte = save;
	is_i64(mfx_tr(f->cpu, UINT64_C(0x0000100000000000), SW, NULL), VM_EXC_PF,
	       "an address no table covers: #PF");
	is_u64(f->cpu->pf_error, PF_W, "... P=0, W");
	vm_cpu_write_cr3(f->cpu, NULL, 1, false);
	is_i64(mfx_tr(f->cpu, va, SR, NULL), VM_EXC_PF, "no page table loaded: #PF");
	is_u64(f->cpu->pf_error, 0, "... P=0 for a supervisor read");
	mfx_free(f);
}

struct canon_case {
	vm_vaddr va;
	bool canonical;
};

static void check_canonical(struct mfx *f, const struct canon_case *c, size_t n, const char *pt)
{
	for (size_t i = 0; i < n; i++) {
		struct vm_stats before = mfx_stats(f->m);
		f->cpu->cr2 = 0x1234;
		f->cpu->pf_error = 0xdead;
		int exc = mfx_tr(f->cpu, c[i].va, SR, NULL);
		struct vm_stats after = mfx_stats(f->m);
		if (c[i].canonical) {
			ok(exc != VM_EXC_GP && after.gp_noncanonical == before.gp_noncanonical,
			   "%s: 0x%016" PRIx64 " is canonical: no #GP (got %d)", pt, c[i].va, exc);
			continue;
		}
		ok(exc == VM_EXC_GP && f->cpu->last_exc == VM_EXC_GP,
		   "%s: 0x%016" PRIx64 " is not canonical: #GP (got %d)", pt, c[i].va, exc);
		ok(f->cpu->cr2 == 0x1234 && f->cpu->pf_error == 0xdead && after.pf == before.pf,
		   "... not a #PF: CR2 and the error code untouched");
		is_u64(after.gp_noncanonical - before.gp_noncanonical, 1, "... counted in gp_noncanonical");
		is_u64(after.walks, before.walks, "... and nothing was walked");
	}
}

/* SDM 4.5: bits 63..47 (63..56 with LA57) must equal bit 47 (56). */
static void test_canonical(void)
{
	static const struct canon_case c4[] = {
		{ UINT64_C(0x00007fffffffffff), true },  { UINT64_C(0x0000800000000000), false },
		{ UINT64_C(0xffff7fffffffffff), false }, { UINT64_C(0xffff800000000000), true },
		{ UINT64_MAX, true },                    { UINT64_C(0x8000000000000000), false },
		{ 0, true },
	};
	static const struct canon_case c5[] = {
		{ UINT64_C(0x0000800000000000), true },  { UINT64_C(0x00ffffffffffffff), true },
		{ UINT64_C(0x0100000000000000), false }, { UINT64_C(0xfeffffffffffffff), false },
		{ UINT64_C(0xff00000000000000), true },  { UINT64_C(0x7fffffffffffffff), false },
	};
	struct mfx *f = MFX_NEW("tlb=zen4", "pt=radix4");
	if (!ok(f != NULL, "radix4 machine"))
		return;
	mfx_map(&f->pt, UINT64_C(0x00007ffffffff000), 0x99, VM_PSIZE_4K, W_ | U_);
	uint64_t pa;
	is_i64(mfx_tr(f->cpu, UINT64_C(0x00007fffffffffff), UR, &pa), VM_EXC_NONE,
	       "radix4: the last byte below 2^47 translates");
	is_u64(pa, 0x99fff, "... to its frame");
	check_canonical(f, c4, VM_ARRAY_SIZE(c4), "radix4");
	mfx_free(f);

	f = MFX_NEW("tlb=zen4", "pt=radix5");
	if (!ok(f != NULL, "radix5 machine (LA57)"))
		return;
	mfx_map(&f->pt, UINT64_C(0x0000800000000000), 0x98, VM_PSIZE_4K, W_ | U_);
	struct vm_stats before = mfx_stats(f->m);
	is_i64(mfx_tr(f->cpu, UINT64_C(0x0000800000000123), UR, &pa), VM_EXC_NONE,
	       "radix5: 2^47, beyond 4-level reach, translates");
	is_u64(pa, 0x98123, "... to its frame");
	is_u64(mfx_stats(f->m).walk_refs - before.walk_refs, 5, "... with a 5-reference walk");
	check_canonical(f, c5, VM_ARRAY_SIZE(c5), "radix5");
	mfx_free(f);
}

/* ---- Accessed and Dirty (SDM 4.8, REFERENCE.md 1.6) ---- */

static unsigned upper_with_a(struct mfx *f, vm_vaddr va, unsigned leaf_level)
{
	unsigned n = 0;
	for (unsigned lv = leaf_level + 1; lv <= f->pt.levels; lv++)
		n += !!(*mfx_entry(f, &f->pt, va, lv) & VM_PTE_A);
	return n;
}

static void clear_ad(struct mfx *f, vm_vaddr va, unsigned leaf_level)
{
	for (unsigned lv = leaf_level; lv <= f->pt.levels; lv++)
		*mfx_entry(f, &f->pt, va, lv) &= ~(VM_PTE_A | (lv == leaf_level ? VM_PTE_D : 0));
}

static void test_accessed_dirty(void)
{
	struct mfx *f = MFX_NEW("tlb=zen4");
	const vm_vaddr va = UINT64_C(0x00007f0000205000), ro = va + 0x1000;
	const vm_vaddr big = UINT64_C(0x00007f0000400000);
	if (!ok(f != NULL, "machine for A/D"))
		return;
	mfx_map(&f->pt, va, 0x555, VM_PSIZE_4K, W_ | U_);
	mfx_map(&f->pt, ro, 0x556, VM_PSIZE_4K, U_);
	mfx_map(&f->pt, big, 0x600, VM_PSIZE_2M, W_ | U_);
	clear_ad(f, va, 1);
	uint64_t *pte = mfx_entry(f, &f->pt, va, 1);

	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_NONE, "read");
	ok((*pte & VM_PTE_A) && !(*pte & VM_PTE_D), "after a read the PTE has A=1, D=0");
	is_u64(upper_with_a(f, va, 1), 3, "... and the PML4E, PDPTE and PDE all have A=1");

	struct vm_stats s0 = mfx_stats(f->m);
	is_i64(mfx_tr(f->cpu, va, UW, NULL), VM_EXC_NONE, "write after the read");
	struct vm_stats s1 = mfx_stats(f->m);
	ok(*pte & VM_PTE_D, "after the write D=1");
	is_u64(s1.tlb_dirty_rewalk - s0.tlb_dirty_rewalk, 1, "the TLB entry had D clear: one re-walk");
	is_u64(s1.walks - s0.walks, 1, "... which is a walk");

	/* Software clears A/D without invalidating: the CPU keeps using its
	 * TLB entry (which has D set) and sets neither bit again. */
	clear_ad(f, va, 1);
	s0 = mfx_stats(f->m);
	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_NONE, "read with A/D cleared in memory");
	is_i64(mfx_tr(f->cpu, va, UW, NULL), VM_EXC_NONE, "write with A/D cleared in memory");
	s1 = mfx_stats(f->m);
	is_u64(s1.walks - s0.walks, 0, "both from the still-valid TLB entry");
	is_u64(*pte & (VM_PTE_A | VM_PTE_D), 0, "... so A and D stay clear in the PTE");
	is_u64(upper_with_a(f, va, 1), 0, "... and A stays clear above it");

	vm_cpu_invlpg(f->cpu, va);
	is_i64(mfx_tr(f->cpu, va, UR, NULL), VM_EXC_NONE, "after INVLPG, read");
	ok((*pte & VM_PTE_A) && !(*pte & VM_PTE_D), "A set again, D still clear");
	is_u64(upper_with_a(f, va, 1), 3, "A set again in every upper entry");
	s0 = mfx_stats(f->m);
	is_i64(mfx_tr(f->cpu, va, UW, NULL), VM_EXC_NONE, "write");
	ok(*pte & VM_PTE_D, "D set again");
	is_u64(mfx_stats(f->m).tlb_dirty_rewalk - s0.tlb_dirty_rewalk, 1, "... by a re-walk");

	uint64_t *ro_pte = mfx_entry(f, &f->pt, ro, 1);
	is_i64(mfx_tr(f->cpu, ro, UW, NULL), VM_EXC_PF, "user write to a read-only page faults");
	ok(!(*ro_pte & VM_PTE_D), "... and leaves D clear: the write did not happen");

	uint64_t *pde = mfx_entry(f, &f->pt, big, 2);
	is_i64(mfx_tr(f->cpu, big + 0x1ff000, UR, NULL), VM_EXC_NONE, "read in a 2 MiB page");
	ok((*pde & VM_PTE_A) && !(*pde & VM_PTE_D), "the PDE leaf has A=1, D=0");
	is_i64(mfx_tr(f->cpu, big + 0x10, UW, NULL), VM_EXC_NONE, "write in the 2 MiB page");
	ok(*pde & VM_PTE_D, "D is set in the PDE leaf");

	/* The walk's references are the entries found in memory, in order. */
	const vm_vaddr other = UINT64_C(0x00007f0000207000);
	mfx_map(&f->pt, other, 0x557, VM_PSIZE_4K, W_ | U_);
	struct vm_walk w;
	is_i64(f->pt.ops->walk(&f->pt, other, UR, &f->cpu->ctl, NULL, 0, &w), 0, "a walk without caches");
	is_u64(w.nrefs, 4, "... reads 4 entries");
	unsigned same = 0;
	for (unsigned i = 0; i < w.nrefs && i < 4; i++)
		same += w.ref[i].pa.v == mfx_entry_pa(f, mfx_entry(f, &f->pt, other, 4 - i)) &&
			w.ref[i].level == 4 - i;
	is_u64(same, 4, "... the PML4E, PDPTE, PDE and PTE of the address, top down");
	mfx_free(f);
}

/* ---- TLB: fills, hits, invalidation (SDM 4.10.2, 4.10.4; REFERENCE.md 1.5) ---- */

/* Translate and say whether it needed a walk; the result must be pa. */
static bool walked(struct vm_cpu *cpu, vm_vaddr va, unsigned acc, uint64_t want_pa, const char *what)
{
	uint64_t w0 = walks(cpu), pa;
	int exc = mfx_tr(cpu, va, acc, &pa);
	if (exc != VM_EXC_NONE || pa != want_pa)
		diag("%s: exc %d pa 0x%" PRIx64 ", want pa 0x%" PRIx64, what, exc, pa, want_pa);
	ok(exc == VM_EXC_NONE && pa == want_pa, "%s: translates to 0x%" PRIx64, what, want_pa);
	return walks(cpu) != w0;
}

static void test_tlb_basics(void)
{
	const vm_vaddr va = UINT64_C(0x00007f0000205000);
	struct mfx *f = MFX_PAGE(va, 0x111, W_ | U_, "tlb=zen4");
	if (!ok(f != NULL, "machine"))
		return;
	mfx_map(&f->pt, va + 0x1000, 0x112, VM_PSIZE_4K, W_ | U_);
	ok(walked(f->cpu, va + 0x10, UR, 0x111010, "first read"), "... walks (the TLB is empty)");
	is_u64(vm_tlb_count(&f->cpu->tlb.l1d), 1, "... and fills one L1 DTLB entry");
	is_u64(vm_tlb_count(&f->cpu->tlb.l2), 1, "... and one L2 entry");
	ok(!walked(f->cpu, va + 0xff8, UR, 0x111ff8, "second read, same page"), "... hits: no walk");
	ok(walked(f->cpu, va + 0x1000, UR, 0x112000, "the next page"), "... is another translation");
	vm_cpu_invlpg(f->cpu, va + 0x1000);
	ok(!walked(f->cpu, va, UR, 0x111000, "after INVLPG of the next page"), "... this one still hits");
	vm_cpu_invlpg(f->cpu, va + 0x7ff);
	is_u64(vm_tlb_count(&f->cpu->tlb.l1d) + vm_tlb_count(&f->cpu->tlb.l2), 0,
	       "INVLPG of an address inside the page empties both levels");
	ok(walked(f->cpu, va, UR, 0x111000, "read after INVLPG"), "... misses and walks");

	/* A changed PTE is not seen until it is invalidated (SDM 4.10.4.3). */
	uint64_t *pte = mfx_entry(f, &f->pt, va, 1);
	*pte = (*pte & ~UINT64_C(0x000ffffffffff000)) | (UINT64_C(0x222) << 12);
	ok(!walked(f->cpu, va + 0x44, UR, 0x111044, "frame changed in memory, no invalidation"),
	   "... the stale translation is used, as on real hardware");
	vm_cpu_invlpg(f->cpu, va);
	ok(walked(f->cpu, va + 0x44, UR, 0x222044, "after INVLPG"), "... the new frame, from a walk");
	mfx_free(f);
}

/* Global entries (SDM 4.10.2.4, 4.10.4.1): with CR4.PGE a leaf with G
 * survives MOV to CR3 and is used under any PCID, even where the new
 * tables map the address elsewhere; without PGE, G means nothing. */
static void test_global(void)
{
	static const struct {
		const char *pcid, *pge;
		bool global;
	} cfg[] = {
		{ "pcid=on", "pge=on", true },
		{ "pcid=off", "pge=on", true },
		{ "pcid=on", "pge=off", false },
		{ "pcid=off", "pge=off", false },
	};
	const vm_vaddr kva = UINT64_C(0xffffffff81000000), uva = UINT64_C(0x00007f0000205000);
	for (unsigned i = 0; i < VM_ARRAY_SIZE(cfg); i++) {
		struct mfx *f = MFX_NEW("tlb=zen4", cfg[i].pcid, cfg[i].pge);
		struct vm_pt pt2;
		if (!ok(f && vm_machine_pt_create(f->m, &pt2) == 0, "%s %s: machine, two tables",
			cfg[i].pcid, cfg[i].pge)) {
			mfx_free(f);
			continue;
		}
		mfx_map(&f->pt, kva, 0x100, VM_PSIZE_4K, W_ | VM_PTE_G);
		mfx_map(&f->pt, uva, 0x300, VM_PSIZE_4K, W_ | U_);
		mfx_map(&pt2, kva, 0x200, VM_PSIZE_4K, W_ | VM_PTE_G);
		mfx_map(&pt2, uva, 0x400, VM_PSIZE_4K, W_ | U_);
		walked(f->cpu, kva, SR, 0x100000, "kernel page, first table");
		walked(f->cpu, uva, UR, 0x300000, "user page, first table");
		vm_cpu_write_cr3(f->cpu, &pt2, 2, false);
		bool kw = walked(f->cpu, kva, SR, cfg[i].global ? 0x100000 : 0x200000,
				 "kernel page after MOV CR3 to the second table");
		ok(kw == !cfg[i].global, "%s %s: the G entry %s", cfg[i].pcid, cfg[i].pge,
		   cfg[i].global ? "survived (no walk; the old frame)" : "was flushed like any other");
		ok(walked(f->cpu, uva, UR, 0x400000, "user page after MOV CR3"),
		   "%s %s: the non-global entry was flushed", cfg[i].pcid, cfg[i].pge);
		if (cfg[i].global) {
			vm_cpu_invlpg(f->cpu, kva);
			ok(walked(f->cpu, kva, SR, 0x200000, "after INVLPG of the global page"),
			   "INVLPG drops a global entry whatever PCID filled it");
		}
		vm_cpu_write_cr3(f->cpu, &f->pt, 1, false);
		vm_pt_destroy(&pt2);
		mfx_free(f);
	}
}

/* PCIDs (SDM 4.10.1, 4.10.4.1): entries are tagged; MOV CR3 with bit 63
 * keeps the new PCID's entries, without it drops them; other PCIDs' are
 * never touched. */
static void test_pcid(void)
{
	struct mfx *f = MFX_NEW("tlb=zen4", "pcid=on");
	struct vm_pt pt2;
	const vm_vaddr va = UINT64_C(0x00007f0000205000);
	if (!ok(f && vm_machine_pt_create(f->m, &pt2) == 0, "PCID machine, two tables")) {
		mfx_free(f);
		return;
	}
	mfx_map(&f->pt, va, 0x100, VM_PSIZE_4K, W_ | U_);
	mfx_map(&pt2, va, 0x200, VM_PSIZE_4K, W_ | U_);
	ok(walked(f->cpu, va, UR, 0x100000, "PCID 1"), "PCID 1 walks");
	vm_cpu_write_cr3(f->cpu, &pt2, 2, false);
	ok(walked(f->cpu, va, UR, 0x200000, "PCID 2, same address"), "PCID 2 walks its own table");
	is_u64(vm_tlb_count(&f->cpu->tlb.l2), 2, "the L2 holds both translations of the address");
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, true);
	ok(!walked(f->cpu, va, UR, 0x100000, "back to PCID 1 with no-flush"), "... no walk");
	vm_cpu_write_cr3(f->cpu, &pt2, 2, true);
	ok(!walked(f->cpu, va, UR, 0x200000, "back to PCID 2 with no-flush"), "... no walk");
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, false);
	ok(walked(f->cpu, va, UR, 0x100000, "PCID 1 without no-flush"), "... its entries were dropped");
	vm_cpu_write_cr3(f->cpu, &pt2, 2, true);
	ok(!walked(f->cpu, va, UR, 0x200000, "PCID 2 with no-flush"), "... PCID 2's entry survived that");
	vm_cpu_invlpg(f->cpu, va);
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, true);
	ok(!walked(f->cpu, va, UR, 0x100000, "PCID 1 after INVLPG under PCID 2"),
	   "... INVLPG dropped only the current PCID's entry");
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, false);
	vm_pt_destroy(&pt2);
	mfx_free(f);

	/* PCIDE = 0: every MOV to CR3 flushes the non-global entries, even
	 * to the same table, and bit 63 means nothing. */
	f = MFX_PAGE(va, 0x100, W_ | U_, "tlb=zen4", "pcid=off");
	if (!ok(f != NULL, "machine without PCIDs"))
		return;
	walked(f->cpu, va, UR, 0x100000, "fill");
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, false);
	ok(walked(f->cpu, va, UR, 0x100000, "PCIDE=0, MOV CR3 to the same table"), "... flushed");
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, true);
	ok(walked(f->cpu, va, UR, 0x100000, "PCIDE=0, MOV CR3 with bit 63"), "... flushed all the same");
	mfx_free(f);
}

/* INVPCID (REFERENCE.md 1.5, SDM 4.10.4.1): what each type drops, seen from
 * which translations still need a walk and which walks still start from a
 * paging-structure cache.  The instruction names PCID 1 while PCID 2 is
 * current, so nothing depends on the current PCID. */
struct inv_want {
	bool a1, b1, a2, b2, g;     /* dropped: (PCID 1, A), (1, B), (2, A), (2, B), global G */
	bool pwc1, pwc2;            /* walk caches of PCID 1 / PCID 2 dropped */
};

static void test_invpcid_type(unsigned type, const struct inv_want *want)
{
	const vm_vaddr a = UINT64_C(0x00007f0000201000), b = a + 0x1000, c = a + 0x2000;
	const vm_vaddr g = UINT64_C(0xffffffff81000000);
	struct mfx *f = MFX_NEW("tlb=zen4", "pcid=on", "pge=on");
	struct vm_pt pt2;
	if (!ok(f && vm_machine_pt_create(f->m, &pt2) == 0, "INVPCID %u: machine, two tables", type)) {
		mfx_free(f);
		return;
	}
	struct vm_pt *pts[3] = { NULL, &f->pt, &pt2 };
	for (unsigned p = 1; p <= 2; p++) {
		mfx_map(pts[p], a, 0x10 * p + 1, VM_PSIZE_4K, W_ | U_);
		mfx_map(pts[p], b, 0x10 * p + 2, VM_PSIZE_4K, W_ | U_);
		mfx_map(pts[p], c, 0x10 * p + 3, VM_PSIZE_4K, W_ | U_);
		mfx_map(pts[p], g, 0x1f, VM_PSIZE_4K, W_ | VM_PTE_G);
	}
	walked(f->cpu, a, UR, 0x11000, "fill (1, A)");
	walked(f->cpu, b, UR, 0x12000, "fill (1, B)");
	walked(f->cpu, g, SR, 0x1f000, "fill G");
	vm_cpu_write_cr3(f->cpu, &pt2, 2, false);
	walked(f->cpu, a, UR, 0x21000, "fill (2, A)");
	walked(f->cpu, b, UR, 0x22000, "fill (2, B)");

	is_i64(vm_cpu_invpcid(f->cpu, type, 1, a), 0, "INVPCID type %u, PCID 1, address A", type);

	/* C was never used: its walk starts from the PDE cache unless the
	 * caches of its PCID were dropped. */
	uint64_t r0 = f->cpu->stats.walk_refs;
	walked(f->cpu, c, UR, 0x23000, "(2, C)");
	is_u64(f->cpu->stats.walk_refs - r0, want->pwc2 ? 4 : 1, "INVPCID %u: PCID 2's walk caches %s", type,
	       want->pwc2 ? "dropped" : "kept");
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, true);
	r0 = f->cpu->stats.walk_refs;
	walked(f->cpu, c, UR, 0x13000, "(1, C)");
	is_u64(f->cpu->stats.walk_refs - r0, want->pwc1 ? 4 : 1, "INVPCID %u: PCID 1's walk caches %s", type,
	       want->pwc1 ? "dropped" : "kept");

	ok(walked(f->cpu, a, UR, 0x11000, "(1, A)") == want->a1, "INVPCID %u: (1, A) %s", type,
	   want->a1 ? "dropped" : "kept");
	ok(walked(f->cpu, b, UR, 0x12000, "(1, B)") == want->b1, "INVPCID %u: (1, B) %s", type,
	   want->b1 ? "dropped" : "kept");
	ok(walked(f->cpu, g, SR, 0x1f000, "G") == want->g, "INVPCID %u: the global entry %s", type,
	   want->g ? "dropped" : "kept");
	vm_cpu_write_cr3(f->cpu, &pt2, 2, true);
	ok(walked(f->cpu, a, UR, 0x21000, "(2, A)") == want->a2, "INVPCID %u: (2, A) %s", type,
	   want->a2 ? "dropped" : "kept");
	ok(walked(f->cpu, b, UR, 0x22000, "(2, B)") == want->b2, "INVPCID %u: (2, B) %s", type,
	   want->b2 ? "dropped" : "kept");
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, false);
	vm_pt_destroy(&pt2);
	mfx_free(f);
}

static void test_invpcid(void)
{
	static const struct inv_want want[4] = {
		/* 0: that (PCID, address), non-global, and the PCID's walk caches for it */
		{ .a1 = true, .pwc1 = true },
		/* 1: every non-global entry and walk cache of the PCID */
		{ .a1 = true, .b1 = true, .pwc1 = true },
		/* 2: everything, globals included */
		{ true, true, true, true, true, true, true },
		/* 3: everything but globals */
		{ true, true, true, true, false, true, true },
	};
	for (unsigned t = 0; t < 4; t++)
		test_invpcid_type(t, &want[t]);

	/* Arguments the CPU refuses with #GP: nothing is dropped. */
	const vm_vaddr va = UINT64_C(0x00007f0000205000);
	struct mfx *f = MFX_PAGE(va, 0x100, W_ | U_, "tlb=zen4", "pcid=on");
	if (!ok(f != NULL, "machine for bad INVPCIDs"))
		return;
	walked(f->cpu, va, UR, 0x100000, "fill");
	is_i64(vm_cpu_invpcid(f->cpu, 4, 1, va), -EINVAL, "type 4: -EINVAL");
	is_i64(vm_cpu_invpcid(f->cpu, UINT32_MAX, 1, va), -EINVAL, "type 2^32-1: -EINVAL");
	is_i64(vm_cpu_invpcid(f->cpu, 1, 4096, va), -EINVAL, "PCID 4096 (13 bits): -EINVAL");
	is_i64(vm_cpu_invpcid(f->cpu, 0, 1, UINT64_C(0x0000800000000000)), -EINVAL,
	       "type 0 with a non-canonical address: -EINVAL");
	ok(!walked(f->cpu, va, UR, 0x100000, "after the refused INVPCIDs"), "... nothing was dropped");
	mfx_free(f);

	f = MFX_PAGE(va, 0x100, W_ | U_, "tlb=zen4", "pcid=off");
	if (!ok(f != NULL, "machine without PCIDs"))
		return;
	walked(f->cpu, va, UR, 0x100000, "fill");
	is_i64(vm_cpu_invpcid(f->cpu, 0, 1, va), -EINVAL, "PCIDE=0: type 0 naming PCID 1: -EINVAL");
	is_i64(vm_cpu_invpcid(f->cpu, 1, 1, va), -EINVAL, "PCIDE=0: type 1 naming PCID 1: -EINVAL");
	ok(!walked(f->cpu, va, UR, 0x100000, "after them"), "... nothing was dropped");
	is_i64(vm_cpu_invpcid(f->cpu, 0, 0, va), 0, "PCIDE=0: type 0 naming PCID 0 is fine");
	ok(walked(f->cpu, va, UR, 0x100000, "after it"), "... and drops the entry");
	mfx_free(f);
}

/* MOV to CR4 (REFERENCE.md 1.5): toggling PGE flushes everything, globals
 * included, either way; SMEP 0 -> 1 flushes the current PCID; LA57 cannot
 * change in long mode (#GP). */
static void test_cr4(void)
{
	struct mfx *f = MFX_NEW("tlb=zen4", "pge=on", "smep=on");
	const vm_vaddr kva = UINT64_C(0xffffffff81000000), uva = UINT64_C(0x00007f0000205000);
	if (!ok(f != NULL, "machine"))
		return;
	mfx_map(&f->pt, kva, 0x100, VM_PSIZE_4K, W_ | VM_PTE_G);
	mfx_map(&f->pt, uva, 0x300, VM_PSIZE_4K, W_ | U_);
	walked(f->cpu, kva, SR, 0x100000, "fill global");
	walked(f->cpu, uva, UR, 0x300000, "fill non-global");
	uint64_t cr4 = f->cpu->cr4;
	is_i64(vm_cpu_write_cr4(f->cpu, cr4 ^ VM_CR4_LA57), -EINVAL, "changing LA57: -EINVAL");
	is_u64(f->cpu->cr4, cr4, "... CR4 unchanged");
	ok(!walked(f->cpu, uva, UR, 0x300000, "after the refused write"), "... and nothing flushed");
	is_i64(vm_cpu_write_cr4(f->cpu, cr4 & ~VM_CR4_PGE), 0, "clear PGE");
	ok(walked(f->cpu, kva, SR, 0x100000, "global page after PGE 1 -> 0"), "... the global entry is gone");
	ok(walked(f->cpu, uva, UR, 0x300000, "user page after PGE 1 -> 0"), "... so is the other");
	is_i64(vm_cpu_write_cr4(f->cpu, cr4), 0, "set PGE");
	ok(walked(f->cpu, uva, UR, 0x300000, "after PGE 0 -> 1"), "... flushed again");
	is_i64(vm_cpu_write_cr4(f->cpu, cr4 & ~VM_CR4_SMEP), 0, "clear SMEP");
	walked(f->cpu, uva, UR, 0x300000, "fill");
	is_i64(vm_cpu_write_cr4(f->cpu, cr4), 0, "set SMEP");
	ok(walked(f->cpu, uva, UR, 0x300000, "after SMEP 0 -> 1"), "... the current PCID was flushed");
	mfx_free(f);
}

/* ---- large pages ---- */

#define V2M UINT64_C(0x00007f0000400000)
#define V1G UINT64_C(0x00007f0040000000)
#define P2M UINT64_C(0x400000)           /* frame 0x400 */
#define P1G UINT64_C(0x40000000)         /* frame 0x40000 */

static void check_offsets(struct mfx *f, vm_vaddr base, uint64_t pbase, uint64_t size, const char *what)
{
	const uint64_t offs[] = { 0, size - 1, size / 2 + 0x123, 0x1000, size - 0x1000 };
	for (unsigned i = 0; i < VM_ARRAY_SIZE(offs); i++) {
		uint64_t pa;
		int exc = mfx_tr(f->cpu, base + offs[i], UR, &pa);
		ok(exc == VM_EXC_NONE && pa == pbase + offs[i], "%s: offset 0x%" PRIx64 " -> base + offset",
		   what, offs[i]);
	}
}

static struct vm_stats step(struct mfx *f, vm_vaddr va, unsigned acc, struct vm_stats *before)
{
	*before = mfx_stats(f->m);
	mfx_tr(f->cpu, va, acc, NULL);
	return mfx_stats(f->m);
}

/* One data access and what it must do: refs > 0, miss L1 and L2 and walk
 * refs entries, starting as the counter `hit` (pwc_*) says, then fill both
 * levels; refs = 0, hit in L1 as the counter `hit` (tlb_l1d_hit_*) says. */
struct expect {
	vm_vaddr va;
	unsigned acc;
	unsigned refs;
	const char *hit;
	const char *what;
};

static void expect(struct mfx *f, const struct expect *e)
{
	struct vm_stats b, a = step(f, e->va, e->acc, &b);
	const char *acc = (e->acc & VM_ACC_KIND) == VM_ACC_WRITE ? "acc_write" : "acc_read";
	if (e->refs)
		mfx_deltas(&b, &a, (const struct mfx_want[]){ { acc, 1 }, { "tlb_l1d_miss", 1 },
			   { "tlb_l2_miss", 1 }, { "walks", 1 }, { "walk_refs", e->refs }, { e->hit, 1 },
			   { "tlb_fills", 2 }, { NULL, 0 } }, "%s", e->what);
	else
		mfx_deltas(&b, &a, (const struct mfx_want[]){ { acc, 1 }, { e->hit, 1 }, { NULL, 0 } }, "%s",
			   e->what);
}

static void test_large_pages(void)
{
	static const struct expect zen4[] = {
		{ V2M, UR, 3, "pwc_miss", "zen4, first read of a 2 MiB page: a 3-reference walk" },
		{ V2M + 0x1fffff, UR, 0, "tlb_l1d_hit_2m",
		  "zen4, its last byte: an L1 hit on a 2 MiB entry" },
		{ V1G + 0x123, UR, 1, "pwc_hit_pdpt",
		  "zen4, first read of a 1 GiB page: PML4E cached, 1 reference" },
		{ V1G + 0x1fffff, UR, 0, "tlb_l1d_hit_2m",
		  "zen4, same 2 MiB of the 1 GiB page: L1 hit on a splinter" },
		{ V1G + 0x200000, UR, 1, "pwc_hit_pdpt",
		  "zen4, the next 2 MiB of it: another splinter, both levels miss" },
	};
	static const struct expect skylake[] = {
		{ V1G, UR, 2, "pwc_miss", "skylake, first read of a 1 GiB page: 2 references" },
		{ V1G + 0x3fffffff, UR, 0, "tlb_l1d_hit_1g",
		  "skylake, its last byte: L1 hit on the 1 GiB entry" },
		{ V2M + 0x1000, UW, 2, "pwc_hit_pdpt", "skylake, write to a 2 MiB page: PDPTE and PDE read" },
		{ V2M + 0x1fffff, UW, 0, "tlb_l1d_hit_2m", "skylake, second write: L1 hit, D already set" },
	};
	static const struct {
		const char *tlb;
		const struct expect *seq;
		size_t n;
	} cpus[] = {
		{ "tlb=zen4", zen4, VM_ARRAY_SIZE(zen4) },
		{ "tlb=skylake", skylake, VM_ARRAY_SIZE(skylake) },
	};

	for (unsigned c = 0; c < VM_ARRAY_SIZE(cpus); c++) {
		struct mfx *f = MFX_NEW(cpus[c].tlb);
		if (!ok(f != NULL, "%s machine", cpus[c].tlb))
			return;
		mfx_map(&f->pt, V2M, P2M >> 12, VM_PSIZE_2M, W_ | U_);
		mfx_map(&f->pt, V1G, P1G >> 12, VM_PSIZE_1G, W_ | U_);
		for (size_t i = 0; i < cpus[c].n; i++)
			expect(f, &cpus[c].seq[i]);
		check_offsets(f, V2M, P2M, VM_PMD_SIZE, "2 MiB page");
		check_offsets(f, V1G, P1G, VM_PUD_SIZE, "1 GiB page");
		mfx_free(f);
	}
}

/* A large page held as several smaller TLB entries is still one page:
 * INVLPG, INVPCID type 0 and a page fault invalidate all of its entries
 * (SDM 4.10.2.3 and 4.10.4.1; the INVLPG and INVPCID footnote "the
 * instruction invalidates all of them"). */
static void test_splinter_invalidation(void)
{
	for (unsigned how = 0; how < 3; how++) {
		static const char *const name[] = { "INVLPG", "INVPCID type 0", "a page fault" };
		struct mfx *f = MFX_NEW("tlb=zen4");
		if (!ok(f != NULL, "zen4 machine"))
			return;
		mfx_map(&f->pt, V1G, P1G >> 12, VM_PSIZE_1G, how == 2 ? U_ : W_ | U_);
		const vm_vaddr far = V1G + 0x3fffffff;
		walked(f->cpu, V1G, UR, P1G, "first 2 MiB of the 1 GiB page");
		walked(f->cpu, far, UR, P1G + 0x3fffffff, "last 2 MiB of it");
		uint64_t *leaf = mfx_entry(f, &f->pt, V1G, 3);
		if (how == 2) {
			/* Write permission granted in memory without invalidation:
			 * a write may fault once on the stale entry; that fault
			 * must take every entry of the page with it. */
			*leaf |= VM_PTE_RW;
			int first = mfx_tr(f->cpu, V1G, UW, NULL);
			ok(first == VM_EXC_NONE || first == VM_EXC_PF, "write on the stale entry: at most a #PF");
			ok(walked(f->cpu, far, UW, P1G + 0x3fffffff, "write to the other splinter"),
			   "after %s, the page's other splinter is gone: its write walks", name[how]);
		} else {
			*leaf = (*leaf & ~UINT64_C(0x000ffffffffff000)) | (UINT64_C(0x80000) << 12);
			if (how == 0)
				vm_cpu_invlpg(f->cpu, V1G + 0x5000);
			else
				vm_cpu_invpcid(f->cpu, 0, 1, V1G + 0x5000);
			ok(walked(f->cpu, far, UR, UINT64_C(0x80000000) + 0x3fffffff,
				  "after the frame moved and an invalidation of the page's first 4 KiB"),
			   "%s of one address drops every splinter of the 1 GiB page", name[how]);
		}
		mfx_free(f);
	}

	/* An L1 ITLB entry refilled from an L2 splinter is a splinter too. */
	struct mfx *f = MFX_NEW("tlb=zen4");
	if (!ok(f != NULL, "zen4 machine"))
		return;
	mfx_map(&f->pt, V1G, P1G >> 12, VM_PSIZE_1G, W_ | U_);
	walked(f->cpu, V1G + 0x10, UR, P1G + 0x10, "read fills L1 DTLB and L2 with a 2 MiB splinter");
	ok(!walked(f->cpu, V1G + 0x20, UX, P1G + 0x20, "fetch from the same 2 MiB"),
	   "the fetch is answered by the L2 splinter, which refills the L1 ITLB");
	uint64_t *leaf = mfx_entry(f, &f->pt, V1G, 3);
	*leaf = (*leaf & ~UINT64_C(0x000ffffffffff000)) | (UINT64_C(0x80000) << 12);
	vm_cpu_invlpg(f->cpu, V1G + 0x3ff00000);
	ok(walked(f->cpu, V1G + 0x20, UX, UINT64_C(0x80000020), "fetch after INVLPG in the page's last 2 MiB"),
	   "INVLPG anywhere in the 1 GiB page drops the L1 ITLB entry refilled from L2");
	mfx_free(f);
}

/* ---- paging-structure caches (SDM 4.10.3, REFERENCE.md 1.7) ---- */

static void test_walk_caches(void)
{
	const vm_vaddr a = UINT64_C(0x00007f0000201000), b = a + 0x1000, e = a + 0x2000;
	const vm_vaddr c = UINT64_C(0x00007f0000601000);   /* another PDE, same PD */
	const vm_vaddr d = UINT64_C(0x00007f0040001000);   /* another PDPTE, same PDPT */
	const struct expect seq[] = {
		{ a, UR, 4, "pwc_miss", "first walk: PML4E, PDPTE, PDE, PTE" },
		{ b, UR, 1, "pwc_hit_pt", "a new page under the same PDE: the PTE alone" },
		{ c, UR, 2, "pwc_hit_pd", "a new PDE under the same PDPTE: PDE and PTE" },
		{ d, UR, 3, "pwc_hit_pdpt", "a new PDPTE under the same PML4E: three references" },
	};
	struct mfx *f = MFX_NEW("tlb=zen4");
	struct vm_stats s0, s1;
	if (!ok(f != NULL, "zen4 machine"))
		return;
	for (unsigned i = 0; i < VM_ARRAY_SIZE(seq); i++)
		mfx_map(&f->pt, seq[i].va, 0x100 + i, VM_PSIZE_4K, W_ | U_);
	mfx_map(&f->pt, e, 0x104, VM_PSIZE_4K, W_ | U_);
	for (unsigned i = 0; i < VM_ARRAY_SIZE(seq); i++)
		expect(f, &seq[i]);
	vm_cpu_invlpg(f->cpu, a);
	s1 = step(f, e, UR, &s0);
	is_u64(s1.walk_refs - s0.walk_refs, 4, "INVLPG dropped every walk cache of the PCID: 4 references");
	is_u64(s1.pwc_miss - s0.pwc_miss, 1, "... counted as pwc_miss");
	mfx_free(f);

	static const struct {
		const char *pt;
		unsigned refs;
	} none[] = { { "pt=radix4", 4 }, { "pt=radix5", 5 } };
	for (unsigned i = 0; i < VM_ARRAY_SIZE(none); i++) {
		f = MFX_NEW("tlb=none", none[i].pt);
		if (!ok(f != NULL, "tlb=none %s", none[i].pt))
			return;
		mfx_map(&f->pt, a, 0x100, VM_PSIZE_4K, W_ | U_);
		mfx_map(&f->pt, b, 0x101, VM_PSIZE_4K, W_ | U_);
		for (unsigned k = 0; k < 3; k++) {
			s1 = step(f, k == 1 ? b : a, UR, &s0);
			mfx_deltas(&s0, &s1, (const struct mfx_want[]){ { "acc_read", 1 },
				   { "tlb_l1d_miss", 1 }, { "tlb_l2_miss", 1 }, { "walks", 1 },
				   { "walk_refs", none[i].refs }, { "pwc_miss", 1 }, { NULL, 0 } },
				   "tlb=none %s, access %u: no TLB, no walk cache, %u references", none[i].pt,
				   k, none[i].refs);
		}
		mfx_free(f);
	}
}

/* A page fault invalidates the TLB entries for the faulting address and
 * the paging-structure-cache entries that would be used for it (SDM
 * 4.10.4.1, "page faults invalidate ..."), so that a fault caused only by
 * stale cached information happens at most once: software that grants a
 * right without invalidating (Linux's spurious-fault path, REFERENCE.md
 * 1.5) relies on it. */
static void test_fault_drops_stale_caches(void)
{
	const vm_vaddr a = UINT64_C(0x00007f0000201000), b = a + 0x1000;
	struct mfx *f = MFX_NEW("tlb=zen4");
	if (!ok(f != NULL, "zen4 machine"))
		return;
	mfx_map(&f->pt, a, 0x100, VM_PSIZE_4K, W_ | U_);
	mfx_map(&f->pt, b, 0x101, VM_PSIZE_4K, W_ | U_);
	uint64_t *pde = mfx_entry(f, &f->pt, a, 2);
	*pde &= ~VM_PTE_RW;
	is_i64(mfx_tr(f->cpu, a, UR, NULL), VM_EXC_NONE, "read under a read-only PDE (caches it)");
	is_i64(mfx_tr(f->cpu, a, UW, NULL), VM_EXC_PF, "write under the read-only PDE: #PF");
	*pde |= VM_PTE_RW;     /* the right is granted, nothing invalidated */

	int first = mfx_tr(f->cpu, b, UW, NULL);
	ok(first == VM_EXC_NONE || first == VM_EXC_PF, "write to a new page under the PDE: at most a #PF");
	is_i64(mfx_tr(f->cpu, b, UW, NULL), VM_EXC_NONE, "... and the retry succeeds");
	first = mfx_tr(f->cpu, a, UW, NULL);
	ok(first == VM_EXC_NONE || first == VM_EXC_PF, "write to the first page: at most a #PF");
	is_i64(mfx_tr(f->cpu, a, UW, NULL), VM_EXC_NONE, "... and the retry succeeds");
	mfx_free(f);
}

/* Rights added to a PTE without an invalidation (Linux's wp_page_reuse,
 * MADV_POPULATE_WRITE on a page the TLB holds read-only): Intel's MMUs may
 * fault once from the stale entry (SDM 4.10.4.3; skylake faults), AMD's
 * re-walk and refresh it without a fault (zen presets; the differential
 * test's tlb-stale-upgrade case measured it on a Zen 4 host). */
static void test_stale_rights_upgrade(void)
{
	const vm_vaddr a = UINT64_C(0x00007f0000401000);
	static const char *const presets[] = { "tlb=skylake", "tlb=zen4", "tlb=zen2" };

	for (unsigned i = 0; i < 3; i++) {
		struct mfx *f = mfx_new((const char *const[]){ presets[i], NULL });
		if (!ok(f != NULL, "%s machine", presets[i]))
			continue;
		bool amd = i > 0;
		mfx_map(&f->pt, a, 0x100, VM_PSIZE_4K, U_);
		is_i64(mfx_tr(f->cpu, a, UR, NULL), VM_EXC_NONE, "%s: read of a read-only page", presets[i]);
		*mfx_entry(f, &f->pt, a, 1) |= VM_PTE_RW;     /* upgraded, no INVLPG */
		struct vm_stats before = mfx_stats(f->m);
		is_i64(mfx_tr(f->cpu, a, UW, NULL), amd ? VM_EXC_NONE : VM_EXC_PF,
		       "%s: the first write after the upgrade %s", presets[i],
		       amd ? "refreshes the entry" : "faults from the stale entry");
		struct vm_stats after = mfx_stats(f->m);
		is_u64(after.tlb_rights_rewalk - before.tlb_rights_rewalk, amd, "%s: a re-walk of refused rights",
		       presets[i]);
		is_u64(after.walks - before.walks, amd, "%s: walks", presets[i]);
		is_u64(after.pf - before.pf, !amd, "%s: page faults", presets[i]);
		is_i64(mfx_tr(f->cpu, a, UW, NULL), VM_EXC_NONE, "%s: the next write hits", presets[i]);
		*mfx_entry(f, &f->pt, a, 1) &= ~VM_PTE_RW;    /* downgraded, no INVLPG */
		before = mfx_stats(f->m);
		is_i64(mfx_tr(f->cpu, a, UW, NULL), VM_EXC_NONE,
		       "%s: a write through the stale writable entry still succeeds", presets[i]);
		after = mfx_stats(f->m);
		is_u64(after.walks - before.walks, 0, "%s: ... from the entry, without a walk", presets[i]);
		mfx_free(f);
	}
}

/* ---- counters ---- */

/* A scripted sequence on zen4 with every hardware counter checked after
 * each step: U a read/write page, R read-only, N unmapped (all three under
 * one PDE), L a 2 MiB page. */
static void test_counters(void)
{
	const vm_vaddr u = UINT64_C(0x00007f0000201000), r = u + 0x1000, n = u + 0x2000;
	const vm_vaddr l = UINT64_C(0x00007f0000400000);
	struct mfx *f = MFX_NEW("tlb=zen4", "pcid=on");
	struct vm_stats start, s0, s1;
	if (!ok(f != NULL, "zen4 machine"))
		return;
	mfx_map(&f->pt, u, 0x101, VM_PSIZE_4K, W_ | U_);
	mfx_map(&f->pt, r, 0x102, VM_PSIZE_4K, U_);
	mfx_map(&f->pt, l, 0x200, VM_PSIZE_2M, W_ | U_);
	start = mfx_stats(f->m);

#define WANT(...) ((const struct mfx_want[]){ __VA_ARGS__, { NULL, 0 } })
	expect(f, &(struct expect){ u, UR, 4, "pwc_miss", "1. read U: misses both levels, walks from the root" });
	s0 = mfx_stats(f->m);
	for (unsigned i = 0; i < 3; i++)
		mfx_tr(f->cpu, u + 8 * i, UR, NULL);
	s1 = mfx_stats(f->m);
	mfx_deltas(&s0, &s1, WANT({ "acc_read", 3 }, { "tlb_l1d_hit_4k", 3 }), "2. read U three times: L1 hits");
	s1 = step(f, u, UW, &s0);
	mfx_deltas(&s0, &s1, WANT({ "acc_write", 1 }, { "tlb_l1d_hit_4k", 1 }, { "tlb_dirty_rewalk", 1 },
		   { "walks", 1 }, { "walk_refs", 1 }, { "pwc_hit_pt", 1 }, { "tlb_fills", 2 }),
		   "3. write U: found in L1 with D clear, re-walked from the PDE cache");
	expect(f, &(struct expect){ u, UW, 0, "tlb_l1d_hit_4k", "4. write U again: an L1 hit" });
	expect(f, &(struct expect){ r, UR, 1, "pwc_hit_pt", "5. read R: a walk of one reference" });
	s1 = step(f, r, UW, &s0);
	mfx_deltas(&s0, &s1, WANT({ "acc_write", 1 }, { "tlb_l1d_hit_4k", 1 }, { "tlb_rights_rewalk", 1 },
		   { "walks", 1 }, { "walk_refs", 1 }, { "pwc_hit_pt", 1 }, { "pf", 1 },
		   { "pf_protection", 1 }, { "pf_write", 1 }, { "pf_user", 1 }, { "tlb_invalidated", 2 }),
		   "6. write R: the cached rights refuse, the re-walk (AMD) too: #PF, which drops R "
		   "from L1 and L2");
	s1 = step(f, r, UW, &s0);
	mfx_deltas(&s0, &s1, WANT({ "acc_write", 1 }, { "tlb_l1d_miss", 1 }, { "tlb_l2_miss", 1 },
		   { "walks", 1 }, { "walk_refs", 4 }, { "pwc_miss", 1 }, { "pf", 1 },
		   { "pf_protection", 1 }, { "pf_write", 1 }, { "pf_user", 1 }),
		   "7. write R again: the #PF of step 6 emptied the walk caches for R; #PF from a walk");
	s1 = step(f, n, UR, &s0);
	mfx_deltas(&s0, &s1, WANT({ "acc_read", 1 }, { "tlb_l1d_miss", 1 }, { "tlb_l2_miss", 1 },
		   { "walks", 1 }, { "walk_refs", 4 }, { "pwc_miss", 1 }, { "pf", 1 },
		   { "pf_not_present", 1 }, { "pf_user", 1 }),
		   "8. read N: not present, walked from the root (N's PDE was R's)");
	s1 = step(f, u, UX, &s0);
	mfx_deltas(&s0, &s1, WANT({ "acc_exec", 1 }, { "tlb_l1i_miss", 1 }, { "tlb_l2_hit_4k", 1 },
		   { "tlb_fills", 1 }), "9. fetch from U: L1 ITLB miss, L2 hit, L1 ITLB filled");
	s1 = step(f, u, UX, &s0);
	mfx_deltas(&s0, &s1, WANT({ "acc_exec", 1 }, { "tlb_l1i_hit_4k", 1 }), "10. fetch again: L1 ITLB hit");
	expect(f, &(struct expect){ l + 0x1234, UR, 3, "pwc_miss",
		   "11. read L: the fault on N dropped the PML4E and PDPTE cached for it; 3 references" });
	s1 = step(f, l + 0x200000 - 0x40, UW, &s0);
	mfx_deltas(&s0, &s1, WANT({ "acc_write", 1 }, { "tlb_l1d_hit_2m", 1 }, { "tlb_dirty_rewalk", 1 },
		   { "walks", 1 }, { "walk_refs", 1 }, { "pwc_hit_pd", 1 }, { "tlb_fills", 2 }),
		   "11b. write L: D clear, re-walk from the PDPTE cache (its PDE is a leaf)");
	expect(f, &(struct expect){ l + 0x1ff000, UR, 0, "tlb_l1d_hit_2m", "12. read L elsewhere: 2 MiB L1 hit" });
	s1 = step(f, UINT64_C(0x0000800000000000), UR, &s0);
	mfx_deltas(&s0, &s1, WANT({ "gp_noncanonical", 1 }), "13. non-canonical read: #GP only");
	s0 = mfx_stats(f->m);
	vm_cpu_invlpg(f->cpu, u);
	s1 = mfx_stats(f->m);
	mfx_deltas(&s0, &s1, WANT({ "invlpg", 1 }, { "tlb_invalidated", 3 }),
		   "14. INVLPG U: drops it from the L1 DTLB, L1 ITLB and L2");
	expect(f, &(struct expect){ u, UR, 4, "pwc_miss", "15. read U: INVLPG also emptied the walk caches" });
	s0 = mfx_stats(f->m);
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, true);
	s1 = mfx_stats(f->m);
	mfx_deltas(&s0, &s1, WANT({ "cr3_writes", 1 }, { "cr3_noflush", 1 }), "16. MOV CR3 with no-flush");
	s0 = s1;
	vm_cpu_write_cr3(f->cpu, &f->pt, 1, false);
	s1 = mfx_stats(f->m);
	mfx_deltas(&s0, &s1, WANT({ "cr3_writes", 1 }, { "tlb_invalidated", 4 }),
		   "17. MOV CR3: U and L dropped from L1 and L2");
	s0 = s1;
	vm_cpu_invpcid(f->cpu, 2, 0, 0);
	s1 = mfx_stats(f->m);
	mfx_deltas(&s0, &s1, WANT({ "invpcid", 1 }), "18. INVPCID type 2 with nothing cached");
#undef WANT

	struct vm_stats t = mfx_stats(f->m);
	is_u64(t.tlb_l1d_hit_4k, t.acc_read + t.acc_write - t.tlb_l1d_miss - t.tlb_l1d_hit_2m - t.tlb_l1d_hit_1g,
	       "L1 4K hits = data accesses - L1 misses - large-page hits");
	is_u64(t.tlb_l1d_hit_4k - start.tlb_l1d_hit_4k, 6, "... 6 over the sequence (steps 2, 3, 4, 6)");
	is_u64(t.walks - start.walks,
	       (t.tlb_l2_miss - start.tlb_l2_miss) + (t.tlb_dirty_rewalk - start.tlb_dirty_rewalk) +
	       (t.tlb_rights_rewalk - start.tlb_rights_rewalk),
	       "every walk followed an L2 miss, a dirty re-walk or a re-walk of refused rights");
	is_u64(t.pf, t.pf_not_present + t.pf_protection, "#PF = not present + protection");
	mfx_free(f);
}

/* Each CPU has its own TLBs; the machine's counters are the sum. */
static void test_two_cpus(void)
{
	const vm_vaddr va = UINT64_C(0x00007f0000205000);
	struct mfx *f = MFX_PAGE(va, 0x100, W_ | U_, "tlb=zen4", "cpus=2");
	if (!ok(f != NULL, "two-CPU machine"))
		return;
	struct vm_cpu *c0 = f->cpu, *c1 = vm_machine_cpu(f->m, 1);
	ok(c1 != NULL && c1 != c0 && vm_machine_cpu(f->m, 2) == NULL, "CPUs 0 and 1, no CPU 2");
	vm_cpu_write_cr3(c1, &f->pt, 1, false);
	ok(walked(c1, va, UR, 0x100000, "CPU 1 reads"), "... and walks");
	ok(!walked(c1, va, UR, 0x100000, "CPU 1 again"), "... hits its own TLB");
	is_u64(vm_tlb_count(&c0->tlb.l1d) + vm_tlb_count(&c0->tlb.l2), 0, "CPU 0's TLBs are still empty");
	is_u64(c0->stats.walks, 0, "... and CPU 0 counted nothing");
	ok(walked(c0, va, UR, 0x100000, "CPU 0 reads the same address"), "... and walks for itself");
	vm_cpu_invlpg(c0, va);
	ok(!walked(c1, va, UR, 0x100000, "CPU 1 after INVLPG on CPU 0"), "... INVLPG is local to its CPU");
	struct vm_stats t = mfx_stats(f->m);
	is_u64(t.acc_read, 4, "machine: 4 reads over both CPUs");
	is_u64(t.walks, 2, "machine: 2 walks, one per CPU");
	is_u64(t.tlb_l1d_hit_4k, 2, "machine: 2 L1 hits");
	is_u64(t.invlpg, 1, "machine: 1 INVLPG");
	is_u64(t.cr3_writes, 2, "machine: 2 CR3 writes");
	mfx_free(f);
}

int main(void)
{
	test_rights_cases();
	test_rights_along_the_walk();
	test_pkeys_and_the_tlb();
	test_not_present();
	test_canonical();
	test_accessed_dirty();
	test_tlb_basics();
	test_global();
	test_pcid();
	test_invpcid();
	test_cr4();
	test_large_pages();
	test_splinter_invalidation();
	test_walk_caches();
	test_fault_drops_stale_caches();
	test_stale_rights_upgrade();
	test_counters();
	test_two_cpus();
	return done_testing();
}
