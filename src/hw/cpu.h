/*
 * A CPU: the registers that govern paging (CR0, CR2, CR3, CR4, EFER,
 * EFLAGS.AC, PKRU, CPL), its TLBs and paging-structure caches, and the
 * instructions that invalidate them (INVLPG, INVPCID, MOV to CR3/CR4) with
 * the semantics of SDM 4.10.4.1 (REFERENCE.md 1.5).
 */
#ifndef VM_HW_CPU_H
#define VM_HW_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/stats.h>
#include <vmlab/types.h>

#include "hw/access.h"
#include "hw/pt.h"
#include "hw/pwc.h"
#include "hw/tlb.h"

/* Architectural bits used here (Linux processor-flags.h, msr-index.h). */
#define VM_CR0_WP        (UINT64_C(1) << 16)
#define VM_CR3_PCID_MASK UINT64_C(0xfff)
#define VM_CR3_NOFLUSH   (UINT64_C(1) << 63)
#define VM_CR4_PGE       (UINT64_C(1) << 7)
#define VM_CR4_LA57      (UINT64_C(1) << 12)
#define VM_CR4_PCIDE     (UINT64_C(1) << 17)
#define VM_CR4_SMEP      (UINT64_C(1) << 20)
#define VM_CR4_SMAP      (UINT64_C(1) << 21)
#define VM_CR4_PKE       (UINT64_C(1) << 22)
#define VM_EFER_NXE      (UINT64_C(1) << 11)

/* Exceptions translate() can raise. */
enum {
	VM_EXC_NONE = 0,
	VM_EXC_GP = 13,      /* non-canonical address */
	VM_EXC_PF = 14,      /* page fault: cr2 and pf_error say which and why */
};

struct vm_cpu {
	/* Read by every access: kept together at the top.  clock and acc[] are
	 * not neighbours on purpose: GCC merges the fast path's two adjacent
	 * increments into one 16-byte load-add-store, which chains the calls of
	 * a loop through store forwarding of the wider access. */
	uint64_t clock;                 /* accesses translated so far; TLB recency */
	struct vm_tlb_array *fast[4];   /* L1 array with 4 KiB pages, by access kind (3: none) */
	uint32_t hit_ok[16];            /* bit p set: a TLB entry with perm p satisfies access acc */
	uint64_t acc[4];                /* accesses by kind (read, write, exec) */
	uint16_t pcid;                  /* current PCID (0 unless CR4.PCIDE) */
	struct vm_stats stats;          /* hardware counters of this CPU (VM_COUNTERS_HW) */

	/* Architectural state; change it through the functions below. */
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint32_t pf_error;              /* error code of the last #PF */
	uint8_t last_exc;               /* VM_EXC_* of the last exception raised */
	bool ac;                        /* EFLAGS.AC */
	uint32_t pkru;
	struct vm_paging_ctl ctl;       /* the above, digested for access checks */

	struct vm_pt *pt;               /* the tables CR3 points to (NULL: none yet) */
	struct vm_tlb tlb;
	struct vm_pwc pwc;
	unsigned id;
};

/* Power-on state for a 64-bit kernel: CR0.WP, EFER.NXE, CR4.PGE, and
 * PCIDE/SMEP/SMAP as the flags say; LA57 when va_bits is 57; no page table
 * (translate faults until write_cr3).  0, -EINVAL, -ENOMEM. */
struct vm_cpu_config {
	const struct vm_tlb_preset *tlb;
	int tlb_repl;                  /* enum vm_tlb_repl, or -1 for the preset's */
	bool pcid, smep, smap, nx, wp, pge, pke;
	unsigned maxphyaddr;           /* 36..52 */
	unsigned va_bits;              /* 48 or 57 */
};
int vm_cpu_init(struct vm_cpu *cpu, unsigned id, const struct vm_cpu_config *cfg,
		struct vm_host *host, struct vm_rng *rng);
void vm_cpu_fini(struct vm_cpu *cpu, struct vm_host *host);

/* MOV to CR3: switch to page table pt (its root frame), with pcid (ignored
 * unless CR4.PCIDE) and the no-flush bit (bit 63; only with PCIDE).
 * PCIDE = 0: flushes every non-global entry and the paging-structure caches;
 * PCIDE = 1: the new PCID's non-global entries and caches, unless noflush. */
void vm_cpu_write_cr3(struct vm_cpu *cpu, struct vm_pt *pt, uint16_t pcid, bool noflush);

/* MOV to CR4 with the SDM's flush rules (toggling PGE, or clearing PCIDE:
 * everything; setting SMEP: the current PCID).  -EINVAL for a change the
 * hardware refuses: LA57 cannot change in long mode, PCIDE cannot be set
 * while CR3's PCID is not 0. */
int vm_cpu_write_cr4(struct vm_cpu *cpu, uint64_t cr4);

void vm_cpu_write_cr0(struct vm_cpu *cpu, uint64_t cr0);
void vm_cpu_write_efer(struct vm_cpu *cpu, uint64_t efer);
void vm_cpu_set_ac(struct vm_cpu *cpu, bool ac);          /* STAC / CLAC */
void vm_cpu_write_pkru(struct vm_cpu *cpu, uint32_t pkru);  /* WRPKRU */

/* INVLPG: the current PCID's entries for va's page, global entries for it
 * under any PCID, and every paging-structure-cache entry of the PCID. */
void vm_cpu_invlpg(struct vm_cpu *cpu, vm_vaddr va);

/* INVPCID of type 0 (one address of one PCID), 1 (one PCID), 2 (all, with
 * globals), 3 (all but globals).  -EINVAL for another type, a PCID above
 * 4095, or type 0 with a non-canonical address (the CPU raises #GP). */
int vm_cpu_invpcid(struct vm_cpu *cpu, unsigned type, uint16_t pcid, vm_vaddr va);

/* This CPU's counters, with the derived ones (L1 4 KiB hits) filled in. */
void vm_cpu_stats(const struct vm_cpu *cpu, struct vm_stats *out);

/* Recompute the TLB-hit permission table after a control-state change
 * (called by the functions above). */
void vm_cpu_update_ctl(struct vm_cpu *cpu);

#endif
