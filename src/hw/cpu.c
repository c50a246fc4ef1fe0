/*
 * CPU state and the instructions that change what the TLBs may hold.
 * Flush rules: SDM 4.10.4.1 (REFERENCE.md 1.5).
 */
#include "hw/cpu.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"

/* Digest the registers into the access-check state and the table of rights
 * a TLB hit may use without a walk: an entry answers the fast path only if
 * the access is allowed (access.h), a write finds Dirty already set (else it
 * must re-walk, SDM 4.8), and, with protection keys on, the page is not a
 * user page (its key is checked in the slow path). */
void vm_cpu_update_ctl(struct vm_cpu *cpu)
{
	struct vm_paging_ctl *c = &cpu->ctl;
	c->wp = cpu->cr0 & VM_CR0_WP;
	c->smep = cpu->cr4 & VM_CR4_SMEP;
	c->smap = cpu->cr4 & VM_CR4_SMAP;
	c->pke = cpu->cr4 & VM_CR4_PKE;
	c->nxe = cpu->efer & VM_EFER_NXE;
	c->ac = cpu->ac;
	c->pkru = cpu->pkru;
	c->va_bits = (cpu->cr4 & VM_CR4_LA57) ? 57 : 48;

	for (unsigned acc = 0; acc < 16; acc++) {
		unsigned kind = acc & VM_ACC_KIND;
		uint32_t mask = 0;
		for (unsigned perm = 0; perm < 32 && kind != 3; perm++) {
			bool ok = vm_access_check(perm, 0, acc, c) == 0;
			if (kind == VM_ACC_WRITE && !(perm & VM_PERM_D))
				ok = false;
			if (c->pke && kind != VM_ACC_EXEC && (perm & VM_PERM_U))
				ok = false;
			if (ok)
				mask |= UINT32_C(1) << perm;
		}
		cpu->hit_ok[acc] = mask;
	}
}

int vm_cpu_init(struct vm_cpu *cpu, unsigned id, const struct vm_cpu_config *cfg,
		struct vm_host *host, struct vm_rng *rng)
{
	if (!cfg->tlb || cfg->maxphyaddr < 36 || cfg->maxphyaddr > 52 ||
	    (cfg->va_bits != 48 && cfg->va_bits != 57))
		return -EINVAL;
	memset(cpu, 0, sizeof(*cpu));
	cpu->id = id;
	int rc = vm_tlb_init(&cpu->tlb, cfg->tlb, cfg->tlb_repl, host, rng);
	if (rc)
		return rc;
	rc = vm_pwc_init(&cpu->pwc, cfg->tlb->pwc, host);
	if (rc) {
		vm_tlb_fini(&cpu->tlb, host);
		return rc;
	}
	cpu->cr0 = cfg->wp ? VM_CR0_WP : 0;
	cpu->cr4 = (cfg->pge ? VM_CR4_PGE : 0) | (cfg->pcid ? VM_CR4_PCIDE : 0) |
		   (cfg->smep ? VM_CR4_SMEP : 0) | (cfg->smap ? VM_CR4_SMAP : 0) |
		   (cfg->pke ? VM_CR4_PKE : 0) | (cfg->va_bits == 57 ? VM_CR4_LA57 : 0);
	cpu->efer = cfg->nx ? VM_EFER_NXE : 0;
	cpu->ctl.maxphyaddr = cfg->maxphyaddr;
	cpu->fast[VM_ACC_READ] = vm_tlb_fast_array(&cpu->tlb.l1d);
	cpu->fast[VM_ACC_WRITE] = cpu->fast[VM_ACC_READ];
	cpu->fast[VM_ACC_EXEC] = vm_tlb_fast_array(&cpu->tlb.l1i);
	struct vm_tlb_level none = { 0 };
	cpu->fast[3] = vm_tlb_fast_array(&none);     /* kind 3 is invalid: always miss */
	vm_cpu_update_ctl(cpu);
	return 0;
}

void vm_cpu_fini(struct vm_cpu *cpu, struct vm_host *host)
{
	vm_pwc_fini(&cpu->pwc, host);
	vm_tlb_fini(&cpu->tlb, host);
}

static bool pcide(const struct vm_cpu *cpu)
{
	return cpu->cr4 & VM_CR4_PCIDE;
}

void vm_cpu_write_cr3(struct vm_cpu *cpu, struct vm_pt *pt, uint16_t pcid, bool noflush)
{
	cpu->stats.cr3_writes++;
	if (!pcide(cpu)) {
		pcid = 0;
		noflush = false;     /* bit 63 is reserved without PCIDE */
	}
	pcid &= VM_CR3_PCID_MASK;
	cpu->pt = pt;
	cpu->pcid = pcid;
	vm_tlb_set_pcid(&cpu->tlb, pcid);
	cpu->cr3 = (pt ? pt->root_pfn << 12 : 0) | pcid;
	if (noflush) {
		cpu->stats.cr3_noflush++;
		return;
	}
	vm_tlb_flush(&cpu->tlb, VM_MATCH_PCID_NONGLOBAL, pcid, false, 0);
	if (pcide(cpu))
		vm_pwc_flush_pcid(&cpu->pwc, pcid);
	else
		vm_pwc_flush_all(&cpu->pwc);
}

int vm_cpu_write_cr4(struct vm_cpu *cpu, uint64_t cr4)
{
	uint64_t old = cpu->cr4, changed = old ^ cr4;
	if (changed & VM_CR4_LA57)
		return -EINVAL;          /* #GP: LA57 is fixed while in long mode */
	if ((changed & cr4 & VM_CR4_PCIDE) && (cpu->cr3 & VM_CR3_PCID_MASK))
		return -EINVAL;          /* #GP: PCIDE needs CR3[11:0] = 0 */
	cpu->cr4 = cr4;
	if ((changed & VM_CR4_PGE) || (changed & old & VM_CR4_PCIDE)) {
		vm_tlb_flush(&cpu->tlb, VM_MATCH_ALL, 0, false, 0);
		vm_pwc_flush_all(&cpu->pwc);
	} else if (changed & cr4 & VM_CR4_SMEP) {
		/* The current PCID's entries; globals of other PCIDs go too, which
		 * the SDM allows ("may invalidate more"). */
		vm_tlb_flush(&cpu->tlb, VM_MATCH_PCID_OR_GLOBAL, cpu->pcid, false, 0);
		vm_pwc_flush_pcid(&cpu->pwc, cpu->pcid);
	}
	if (!(cr4 & VM_CR4_PCIDE)) {
		cpu->pcid = 0;
		vm_tlb_set_pcid(&cpu->tlb, 0);
	}
	vm_cpu_update_ctl(cpu);
	return 0;
}

void vm_cpu_write_cr0(struct vm_cpu *cpu, uint64_t cr0)
{
	cpu->cr0 = cr0;
	vm_cpu_update_ctl(cpu);     /* WP is checked at use: no flush needed */
}

void vm_cpu_write_efer(struct vm_cpu *cpu, uint64_t efer)
{
	bool nxe_changed = (cpu->efer ^ efer) & VM_EFER_NXE;
	cpu->efer = efer;
	/* TLB entries hold X as computed under the old NXE; an OS flushes after
	 * such a change, and so does the model, to keep cached rights exact. */
	if (nxe_changed) {
		vm_tlb_flush(&cpu->tlb, VM_MATCH_ALL, 0, false, 0);
		vm_pwc_flush_all(&cpu->pwc);
	}
	vm_cpu_update_ctl(cpu);
}

void vm_cpu_set_ac(struct vm_cpu *cpu, bool ac)
{
	cpu->ac = ac;
	vm_cpu_update_ctl(cpu);
}

void vm_cpu_write_pkru(struct vm_cpu *cpu, uint32_t pkru)
{
	cpu->pkru = pkru;
	vm_cpu_update_ctl(cpu);
}

void vm_cpu_invlpg(struct vm_cpu *cpu, vm_vaddr va)
{
	cpu->stats.invlpg++;
	/* A non-canonical operand is a no-op on real hardware. */
	if (!vm_canonical(va, cpu->ctl.va_bits))
		return;
	vm_tlb_flush(&cpu->tlb, VM_MATCH_PCID_OR_GLOBAL, cpu->pcid, true, va);
	vm_pwc_flush_pcid(&cpu->pwc, cpu->pcid);
}

int vm_cpu_invpcid(struct vm_cpu *cpu, unsigned type, uint16_t pcid, vm_vaddr va)
{
	if (type > 3 || pcid > VM_CR3_PCID_MASK)
		return -EINVAL;
	if (type == 0 && !vm_canonical(va, cpu->ctl.va_bits))
		return -EINVAL;
	/* #GP when PCIDE = 0 and a type 0/1 descriptor names a PCID other than 0. */
	if (type <= 1 && !pcide(cpu) && pcid != 0)
		return -EINVAL;
	cpu->stats.invpcid++;
	switch (type) {
	case 0:
		vm_tlb_flush(&cpu->tlb, VM_MATCH_PCID_NONGLOBAL, pcid, true, va);
		vm_pwc_flush_pcid(&cpu->pwc, pcid);
		break;
	case 1:
		vm_tlb_flush(&cpu->tlb, VM_MATCH_PCID_NONGLOBAL, pcid, false, 0);
		vm_pwc_flush_pcid(&cpu->pwc, pcid);
		break;
	case 2:
		vm_tlb_flush(&cpu->tlb, VM_MATCH_ALL, 0, false, 0);
		vm_pwc_flush_all(&cpu->pwc);
		break;
	case 3:
		vm_tlb_flush(&cpu->tlb, VM_MATCH_NONGLOBAL, 0, false, 0);
		vm_pwc_flush_all(&cpu->pwc);
		break;
	}
	return 0;
}

void vm_cpu_stats(const struct vm_cpu *cpu, struct vm_stats *out)
{
	const struct vm_stats *s = &cpu->stats;
	*out = *s;
	out->acc_read = cpu->acc[VM_ACC_READ];
	out->acc_write = cpu->acc[VM_ACC_WRITE];
	out->acc_exec = cpu->acc[VM_ACC_EXEC];
	/* Every translated access makes exactly one L1 lookup: what is neither a
	 * miss nor a counted large-page hit is a 4 KiB hit. */
	out->tlb_l1d_hit_4k = out->acc_read + out->acc_write - s->tlb_l1d_miss -
			      s->tlb_l1d_hit_2m - s->tlb_l1d_hit_1g;
	out->tlb_l1i_hit_4k = out->acc_exec - s->tlb_l1i_miss - s->tlb_l1i_hit_2m -
			      s->tlb_l1i_hit_1g;
	out->tlb_fills = cpu->tlb.fills;
	out->tlb_evictions = cpu->tlb.evictions;
	out->tlb_invalidated = cpu->tlb.invalidated;
}
