/*
 * CPU state (cpu.h): what MOV to CR0/CR3/CR4, WRMSR EFER, STAC/CLAC, INVLPG
 * and INVPCID leave in the registers and counters (SDM 4.5, 4.10.1,
 * 4.10.4.1; REFERENCE.md 1.4-1.5), and the table of rights a TLB hit may
 * use without a walk (hit_ok), which must agree with vm_access_check() for
 * every access and every cached rights value.
 */
#include <errno.h>

#include "base/compiler.h"
#include "mmu_fixture.h"

#define UVA UINT64_C(0x00007f0000205000)

static void test_power_on(void)
{
	struct mfx *f = MFX_NEW("tlb=zen4", "pcid=on", "pge=on", "smep=on", "smap=on", "wp=on", "nx=on",
				"pke=off");
	if (!ok(f != NULL, "machine"))
		return;
	struct vm_cpu *cpu = f->cpu;
	is_u64(cpu->cr0 & VM_CR0_WP, VM_CR0_WP, "CR0.WP (bit 16) set");
	is_u64(cpu->cr4 & (VM_CR4_PGE | VM_CR4_PCIDE | VM_CR4_SMEP | VM_CR4_SMAP | VM_CR4_PKE | VM_CR4_LA57),
	       (UINT64_C(1) << 7) | (UINT64_C(1) << 17) | (UINT64_C(1) << 20) | (UINT64_C(1) << 21),
	       "CR4: PGE (7), PCIDE (17), SMEP (20), SMAP (21); not PKE, not LA57");
	is_u64(cpu->efer, UINT64_C(1) << 11, "EFER.NXE (bit 11)");
	ok(cpu->ctl.wp && cpu->ctl.smep && cpu->ctl.smap && cpu->ctl.nxe && !cpu->ctl.pke && !cpu->ctl.ac,
	   "the digested control state matches the registers");
	is_u64(cpu->ctl.va_bits, 48, "48-bit addresses without LA57");
	mfx_free(f);

	f = MFX_NEW("tlb=zen4", "pt=radix5", "pcid=off", "pge=off", "smep=off", "smap=off", "wp=off",
		    "nx=off", "pke=on");
	if (!ok(f != NULL, "machine with every flag flipped"))
		return;
	cpu = f->cpu;
	is_u64(cpu->cr0 & VM_CR0_WP, 0, "CR0.WP clear");
	is_u64(cpu->cr4 & (VM_CR4_PGE | VM_CR4_PCIDE | VM_CR4_SMEP | VM_CR4_SMAP | VM_CR4_PKE | VM_CR4_LA57),
	       (UINT64_C(1) << 12) | (UINT64_C(1) << 22), "CR4: LA57 (12) and PKE (22) only");
	is_u64(cpu->efer, 0, "EFER.NXE clear");
	is_u64(cpu->ctl.va_bits, 57, "57-bit addresses with LA57");
	mfx_free(f);
}

/* MOV to CR3 (SDM 4.10.1, 4.10.4.1): CR3 = root | PCID with PCIDE; PCID 0
 * without; bit 63 kept out of the register and honoured only with PCIDE. */
static void test_cr3(void)
{
	struct mfx *f = MFX_PAGE(UVA, 0x100, VM_PTE_RW | VM_PTE_US, "tlb=zen4", "pcid=on");
	if (!ok(f != NULL, "PCID machine"))
		return;
	struct vm_cpu *cpu = f->cpu;
	const uint64_t root = f->pt.root_pfn << 12;
	is_u64(cpu->cr3, root | 1, "after the fixture's MOV CR3: root | PCID 1");
	struct vm_stats s0 = mfx_stats(f->m);

	vm_cpu_write_cr3(cpu, &f->pt, 5, false);
	is_u64(cpu->cr3, root | 5, "PCID 5: CR3 = root | 5");
	is_u64(cpu->pcid, 5, "... current PCID 5");
	vm_cpu_write_cr3(cpu, &f->pt, 0xfff, false);
	is_u64(cpu->cr3, root | 0xfff, "PCID 4095, the largest: CR3 = root | 0xfff");
	ok(!(cpu->cr3 >> 63), "... bit 63 is never stored");
	mfx_tr(cpu, UVA, VM_ACC_USER, NULL);
	vm_cpu_write_cr3(cpu, &f->pt, 0xfff, true);
	is_u64(vm_tlb_count(&cpu->tlb.l1d), 1, "no-flush write to the same PCID keeps its entry");
	ok(!(cpu->cr3 >> 63), "... and bit 63 is not stored");
	vm_cpu_write_cr3(cpu, &f->pt, 0xfff, false);
	is_u64(vm_tlb_count(&cpu->tlb.l1d), 0, "a write without no-flush drops it");
	struct vm_stats s1 = mfx_stats(f->m);
	is_u64(s1.cr3_writes - s0.cr3_writes, 4, "cr3_writes counts every MOV to CR3");
	is_u64(s1.cr3_noflush - s0.cr3_noflush, 1, "cr3_noflush counts the one with bit 63");

	vm_cpu_write_cr3(cpu, NULL, 3, false);
	is_u64(cpu->cr3, 3, "no table: CR3 holds the PCID alone");
	ok(cpu->pt == NULL, "... and the CPU has no page table");
	mfx_free(f);

	f = MFX_PAGE(UVA, 0x100, VM_PTE_RW | VM_PTE_US, "tlb=zen4", "pcid=off");
	if (!ok(f != NULL, "machine without PCIDs"))
		return;
	cpu = f->cpu;
	is_u64(cpu->cr3, f->pt.root_pfn << 12, "PCIDE=0: the PCID asked for (1) is not in CR3");
	is_u64(cpu->pcid, 0, "... the current PCID is 0");
	mfx_tr(cpu, UVA, VM_ACC_USER, NULL);
	s0 = mfx_stats(f->m);
	vm_cpu_write_cr3(cpu, &f->pt, 7, true);
	s1 = mfx_stats(f->m);
	is_u64(cpu->cr3, f->pt.root_pfn << 12, "PCIDE=0, PCID 7 with no-flush: CR3 = root");
	is_u64(vm_tlb_count(&cpu->tlb.l1d), 0, "... no-flush ignored: the TLB was flushed");
	is_u64(s1.cr3_writes - s0.cr3_writes, 1, "... counted as a CR3 write");
	is_u64(s1.cr3_noflush - s0.cr3_noflush, 0, "... not as a no-flush one");
	mfx_free(f);
}

/* MOV to CR4, CR0, EFER; STAC/CLAC; WRPKRU. */
static void test_control_writes(void)
{
	struct mfx *f = MFX_NEW("tlb=zen4", "pcid=on");
	if (!ok(f != NULL, "machine"))
		return;
	struct vm_cpu *cpu = f->cpu;
	uint64_t cr4 = cpu->cr4;
	is_i64(vm_cpu_write_cr4(cpu, cr4 | VM_CR4_LA57), -EINVAL, "set LA57 in long mode: -EINVAL");
	is_i64(vm_cpu_write_cr4(cpu, cr4 & ~VM_CR4_SMAP), 0, "clear SMAP");
	ok(!cpu->ctl.smap && !(cpu->cr4 & VM_CR4_SMAP), "... CR4 and the control state follow");
	is_i64(vm_cpu_write_cr4(cpu, cr4 | VM_CR4_PKE), 0, "set PKE");
	ok(cpu->ctl.pke && cpu->ctl.smap, "... both follow");

	/* PCIDE 1 -> 0 makes the PCID 0; setting PCIDE needs CR3[11:0] = 0. */
	is_u64(cpu->pcid, 1, "PCID 1 from the fixture");
	is_i64(vm_cpu_write_cr4(cpu, cpu->cr4 & ~VM_CR4_PCIDE), 0, "clear PCIDE");
	is_u64(cpu->pcid, 0, "... the current PCID is 0");
	is_i64(vm_cpu_write_cr4(cpu, cpu->cr4 | VM_CR4_PCIDE), -EINVAL,
	       "set PCIDE while CR3[11:0] = 1: -EINVAL");
	ok(!(cpu->cr4 & VM_CR4_PCIDE), "... CR4 unchanged");
	vm_cpu_write_cr3(cpu, &f->pt, 0, false);
	is_i64(vm_cpu_write_cr4(cpu, cpu->cr4 | VM_CR4_PCIDE), 0, "with CR3[11:0] = 0 it is allowed");

	vm_cpu_write_cr0(cpu, 0);
	ok(!cpu->ctl.wp && cpu->cr0 == 0, "MOV CR0 clears WP");
	vm_cpu_write_cr0(cpu, VM_CR0_WP);
	ok(cpu->ctl.wp, "... and sets it");
	vm_cpu_write_efer(cpu, 0);
	ok(!cpu->ctl.nxe && cpu->efer == 0, "EFER.NXE cleared");
	vm_cpu_write_efer(cpu, VM_EFER_NXE);
	ok(cpu->ctl.nxe, "... and set");
	vm_cpu_set_ac(cpu, true);
	ok(cpu->ac && cpu->ctl.ac, "STAC sets AC");
	vm_cpu_set_ac(cpu, false);
	ok(!cpu->ac && !cpu->ctl.ac, "CLAC clears it");
	vm_cpu_write_pkru(cpu, 0x55555554);
	is_u64(cpu->ctl.pkru, 0x55555554, "WRPKRU reaches the control state");
	mfx_free(f);
}

static void test_invlpg_invpcid_counters(void)
{
	struct mfx *f = MFX_PAGE(UVA, 0x100, VM_PTE_RW | VM_PTE_US, "tlb=zen4", "pcid=on");
	if (!ok(f != NULL, "machine"))
		return;
	struct vm_cpu *cpu = f->cpu;
	mfx_tr(cpu, UVA, VM_ACC_USER, NULL);
	struct vm_stats s0 = mfx_stats(f->m);
	vm_cpu_invlpg(cpu, UINT64_C(0x0000800000000000) | (UVA & 0xfff));
	is_u64(vm_tlb_count(&cpu->tlb.l1d), 1, "INVLPG of a non-canonical address is a no-op");
	vm_cpu_invlpg(cpu, UVA);
	is_u64(vm_tlb_count(&cpu->tlb.l1d), 0, "INVLPG of the page drops it");
	struct vm_stats s1 = mfx_stats(f->m);
	is_u64(s1.invlpg - s0.invlpg, 2, "invlpg counts both (the no-op executes too)");

	s0 = s1;
	for (unsigned t = 0; t < 4; t++)
		is_i64(vm_cpu_invpcid(cpu, t, 1, UVA), 0, "INVPCID type %u", t);
	is_i64(vm_cpu_invpcid(cpu, 4, 1, UVA), -EINVAL, "type 4 refused");
	is_i64(vm_cpu_invpcid(cpu, 0, 0x1000, UVA), -EINVAL, "PCID 4096 refused");
	s1 = mfx_stats(f->m);
	is_u64(s1.invpcid - s0.invpcid, 4, "invpcid counts the 4 executed, not the refused (#GP) ones");
	mfx_free(f);
}

/* hit_ok[acc] bit p: a TLB entry with rights p answers access acc without a
 * walk.  It must hold exactly when vm_access_check() allows the access, a
 * write finds D set (else SDM 4.8 wants a walk to set it), the kind is
 * valid, and, with protection keys on, the page is not a user page (its
 * key is checked on the slow path). */
static uint32_t want_mask(unsigned acc, const struct vm_paging_ctl *c)
{
	unsigned kind = acc & VM_ACC_KIND;
	uint32_t m = 0;
	for (unsigned p = 0; p < 32 && kind != 3; p++) {
		bool hit = vm_access_check(p, 0, acc, c) == 0;
		hit = hit && (kind != VM_ACC_WRITE || (p & VM_PERM_D));
		hit = hit && !(c->pke && kind != VM_ACC_EXEC && (p & VM_PERM_U));
		m |= (uint32_t)hit << p;
	}
	return m;
}

struct ctl_state {
	const char *name;
	uint64_t cr0, cr4_clear, cr4_set, efer;
	bool ac;
	uint32_t pkru;
};

static void apply(struct vm_cpu *cpu, const struct ctl_state *s, uint64_t cr4)
{
	vm_cpu_write_cr0(cpu, s->cr0);
	if (vm_cpu_write_cr4(cpu, (cr4 & ~s->cr4_clear) | s->cr4_set))
		diag("%s: CR4 refused", s->name);
	vm_cpu_write_efer(cpu, s->efer);
	vm_cpu_set_ac(cpu, s->ac);
	vm_cpu_write_pkru(cpu, s->pkru);
}

static void test_hit_table(void)
{
	static const struct ctl_state states[] = {
		{ "defaults", VM_CR0_WP, 0, 0, VM_EFER_NXE, false, 0 },
		{ "AC=1", VM_CR0_WP, 0, 0, VM_EFER_NXE, true, 0 },
		{ "WP=0", 0, 0, 0, VM_EFER_NXE, false, 0 },
		{ "no SMEP, no SMAP", VM_CR0_WP, VM_CR4_SMEP | VM_CR4_SMAP, 0, VM_EFER_NXE, false, 0 },
		{ "NXE=0", VM_CR0_WP, 0, 0, 0, false, 0 },
		{ "NXE=0, no SMEP, WP=0, AC=1", 0, VM_CR4_SMEP, 0, 0, true, 0 },
		{ "PKE, PKRU=0", VM_CR0_WP, 0, VM_CR4_PKE, VM_EFER_NXE, true, 0 },
		{ "PKE, PKRU all AD", VM_CR0_WP, 0, VM_CR4_PKE, VM_EFER_NXE, false, 0x55555555 },
	};
	struct mfx *f = MFX_NEW("tlb=zen4");
	if (!ok(f != NULL, "machine"))
		return;
	struct vm_cpu *cpu = f->cpu;
	const uint64_t cr4 = cpu->cr4;
	for (unsigned s = 0; s < VM_ARRAY_SIZE(states); s++) {
		apply(cpu, &states[s], cr4);
		for (unsigned acc = 0; acc < 16; acc++)
			is_u64(cpu->hit_ok[acc], want_mask(acc, &cpu->ctl), "%s: hit_ok[%u] for all 32 rights",
			       states[s].name, acc);
	}

	/* Masks worked out by hand (bit p set when rights p may hit; W=1 U=2
	 * X=4 D=8 G=16) under the defaults: WP, SMEP, SMAP, NXE, AC=0. */
	apply(cpu, &states[0], cr4);
	is_u64(cpu->hit_ok[VM_ACC_USER | VM_ACC_READ], 0xcccccccc, "user read: every p with U");
	is_u64(cpu->hit_ok[VM_ACC_USER | VM_ACC_WRITE], 0x88008800, "user write: U, W and D (11 15 27 31)");
	is_u64(cpu->hit_ok[VM_ACC_USER | VM_ACC_EXEC], 0xc0c0c0c0, "user fetch: U and X");
	is_u64(cpu->hit_ok[VM_ACC_READ], 0x33333333, "supervisor read, SMAP, AC=0: every p without U");
	is_u64(cpu->hit_ok[VM_ACC_WRITE], 0x22002200, "supervisor write, WP, SMAP: W, D, not U (9 13 25 29)");
	is_u64(cpu->hit_ok[VM_ACC_EXEC], 0x30303030, "supervisor fetch, SMEP: X, not U");
	for (unsigned acc = 3; acc < 16; acc += 4)
		is_u64(cpu->hit_ok[acc], 0, "kind 3 (acc %u) never hits", acc);
	vm_cpu_set_ac(cpu, true);
	is_u64(cpu->hit_ok[VM_ACC_READ], 0xffffffff, "supervisor read with AC=1: any rights");
	is_u64(cpu->hit_ok[VM_ACC_IMPLICIT | VM_ACC_READ], 0x33333333, "implicit read: AC does not help");
	vm_cpu_write_cr0(cpu, 0);
	is_u64(cpu->hit_ok[VM_ACC_WRITE], 0xff00ff00, "supervisor write, WP=0, AC=1: D alone");
	mfx_free(f);
}

int main(void)
{
	test_power_on();
	test_cr3();
	test_control_writes();
	test_invlpg_invpcid_counters();
	test_hit_table();
	return done_testing();
}
