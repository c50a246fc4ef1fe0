/*
 * Access rights of a translation and the x86 page-fault error code
 * (SDM 4.6 "Access rights", 4.6.2 "Protection keys", 4.7 "Page-fault
 * exceptions"; Linux arch/x86/include/asm/trap_pf.h).
 *
 * A walk reduces the entries it crosses to effective rights: writable and
 * user are the AND of R/W and U/S over every level, executable is the
 * negation of the OR of XD (SDM 4.6, 4.10.3).  Every page-table organisation
 * and the TLB keep rights in this one form, and one function decides whether
 * an access is allowed, so the TLB hit path and the walk can never disagree.
 */
#ifndef VM_HW_ACCESS_H
#define VM_HW_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/types.h>

/* Effective rights of a translation (and of a TLB entry). */
enum {
	VM_PERM_W = 1,     /* AND of R/W over the walk */
	VM_PERM_U = 2,     /* AND of U/S over the walk */
	VM_PERM_X = 4,     /* no XD on any level (or EFER.NXE = 0) */
	VM_PERM_D = 8,     /* the leaf's Dirty bit is set */
	VM_PERM_G = 16,    /* the leaf is global */
};

/* #PF error code bits (SDM 4.7). */
enum {
	VM_PF_P    = 1u << 0,    /* 0: not present; 1: protection violation */
	VM_PF_W    = 1u << 1,    /* the access was a write */
	VM_PF_U    = 1u << 2,    /* the access was made in user mode */
	VM_PF_RSVD = 1u << 3,    /* a reserved bit was set in an entry */
	VM_PF_I    = 1u << 4,    /* instruction fetch (reported with NXE or SMEP) */
	VM_PF_PK   = 1u << 5,    /* protection-key violation */
};

/* The control state that decides access rights: CR0.WP, CR4.SMEP/SMAP/PKE,
 * EFER.NXE, EFLAGS.AC, PKRU, and the address widths. */
struct vm_paging_ctl {
	bool wp, smep, smap, pke, nxe, ac;
	uint32_t pkru;            /* 2 bits per key: AD = bit 2i, WD = bit 2i+1 */
	unsigned maxphyaddr;      /* physical address bits, 36..52 */
	unsigned va_bits;         /* 48 (4-level) or 57 (LA57) */
};

/* The bits of the error code that describe the access itself (W/R, U/S,
 * I/D), whatever the reason for the fault. */
static inline uint32_t vm_pf_access_bits(unsigned acc, const struct vm_paging_ctl *c)
{
	uint32_t e = 0;
	if ((acc & VM_ACC_KIND) == VM_ACC_WRITE)
		e |= VM_PF_W;
	if (acc & VM_ACC_USER)
		e |= VM_PF_U;
	if ((acc & VM_ACC_KIND) == VM_ACC_EXEC && (c->nxe || c->smep))
		e |= VM_PF_I;
	return e;
}

/* Does protection key pkey forbid this data access to a user page?
 * (SDM 4.6.2: AD forbids every data access; WD forbids writes made in user
 * mode or with CR0.WP = 1.) */
static inline bool vm_pk_denies(unsigned perm, unsigned pkey, unsigned acc,
				const struct vm_paging_ctl *c)
{
	unsigned kind = acc & VM_ACC_KIND;
	if (!c->pke || kind == VM_ACC_EXEC || !(perm & VM_PERM_U))
		return false;
	uint32_t bits = c->pkru >> (2 * pkey);
	if (bits & 1)
		return true;
	return kind == VM_ACC_WRITE && (bits & 2) && ((acc & VM_ACC_USER) || c->wp);
}

/* Are the rights `perm` (VM_PERM_*) enough for the access `acc` (VM_ACC_*)?
 * SDM 4.6.1, user mode: reads need U, writes U and W, fetches U and X.
 * Supervisor mode: a user page is off limits to data accesses under SMAP
 * unless the access is explicit and EFLAGS.AC = 1, and to fetches under
 * SMEP; writes need W when CR0.WP = 1; fetches need X.
 * Returns 0 when allowed, else the full #PF error code (P = 1). */
static inline uint32_t vm_access_check(unsigned perm, unsigned pkey, unsigned acc,
				       const struct vm_paging_ctl *c)
{
	unsigned kind = acc & VM_ACC_KIND;
	bool user_page = perm & VM_PERM_U;
	bool ok;

	if (acc & VM_ACC_USER) {
		ok = user_page && (kind != VM_ACC_WRITE || (perm & VM_PERM_W)) &&
		     (kind != VM_ACC_EXEC || (perm & VM_PERM_X));
	} else if (kind == VM_ACC_EXEC) {
		ok = (perm & VM_PERM_X) && !(user_page && c->smep);
	} else {
		bool smap_denies = user_page && c->smap && ((acc & VM_ACC_IMPLICIT) || !c->ac);
		ok = !smap_denies && (kind != VM_ACC_WRITE || !c->wp || (perm & VM_PERM_W));
	}
	bool pk = vm_pk_denies(perm, pkey, acc, c);
	if (ok && !pk)
		return 0;
	return VM_PF_P | vm_pf_access_bits(acc, c) | (pk ? VM_PF_PK : 0);
}

#endif
