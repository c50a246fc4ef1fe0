/*
 * User accesses: split at page boundaries, translated by the MMU of the
 * process's CPU, faults handled and retried, bytes through simulated
 * memory; the signal of a fatal fault comes back; address spaces switch
 * on a shared CPU.
 */
#include "kfixture.h"

#define PG   VM_PAGE_SIZE
#define BASE UINT64_C(0x7f0000000000)
#define RW   (VM_READ | VM_WRITE)

static const char *const small[] = { "phys=64M", NULL };

static void test_straddle_and_round_trip(void)
{
	struct kfix f;
	unsigned char out[10000], in[10000];

	if (kfix_init(&f, small))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	kfix_vma(p, BASE, BASE + 16 * PG, RW, NULL, 0);
	uint64_t word = UINT64_C(0x1122334455667788), back = 0;
	is_i64(kfix_access(&f, p, BASE + PG - 4, 8, VM_ACC_WRITE, &word), 0,
	       "an 8-byte write straddling two fresh pages");
	is_u64(p->min_flt, 2, "faults twice, once per page");
	is_u64(f.k->cpus[0].acc[VM_ACC_WRITE], 4, "two pieces, each translated twice (fault, retry)");
	is_i64(kfix_access(&f, p, BASE + PG - 4, 8, VM_ACC_READ, &back), 0, "read it back");
	is_u64(back, word, "the same 8 bytes");
	is_u64(p->min_flt, 2, "no fault for the read");

	for (unsigned i = 0; i < sizeof(out); i++)
		out[i] = (unsigned char)(i * 13 + 1);
	is_i64(kfix_access(&f, p, BASE + 3 * PG + 100, sizeof(out), VM_ACC_WRITE, out), 0,
	       "a 10000-byte write over four pages");
	memset(in, 0, sizeof(in));
	is_i64(kfix_access(&f, p, BASE + 3 * PG + 100, sizeof(in), VM_ACC_READ, in), 0, "read back");
	ok(memcmp(in, out, sizeof(in)) == 0, "round trip through simulated memory");
	is_u64(p->min_flt, 5, "pages 3, 4 and 5 faulted in");
	is_i64(kfix_access(&f, p, BASE, 16, VM_ACC_EXEC, NULL), VM_SIGSEGV,
	       "fetching from a non-exec VMA kills");
	kfix_ok(&f, "round trip");
	kfix_fini(&f);
}

static void test_bad_calls_and_kills(void)
{
	struct kfix f;
	unsigned char b[16];

	if (kfix_init(&f, small))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	kfix_vma(p, BASE, BASE + 2 * PG, RW, NULL, 0);
	is_i64(kfix_access(&f, p, BASE, 0, VM_ACC_READ, b), -EINVAL, "size 0: -EINVAL");
	is_i64(kfix_access(&f, p, UINT64_MAX - 1, 4, VM_ACC_READ, b), -EINVAL, "a wrapping range: -EINVAL");
	is_i64(kfix_access(&f, p, BASE, 1, 3, b), -EINVAL, "access kind 3: -EINVAL");
	is_i64(kfix_access(&f, p, BASE, 1, VM_ACC_READ | VM_ACC_USER, b), -EINVAL,
	       "flags beyond the kind: -EINVAL");
	is_u64(p->min_flt, 0, "nothing happened");

	/* The first page is fine, the second has no VMA: the access dies
	 * there, with the second page's address. */
	is_i64(kfix_access(&f, p, BASE + 2 * PG - 8, 16, VM_ACC_WRITE, b), VM_SIGSEGV,
	       "a write running off the end of the VMA");
	is_u64(p->sig.addr, BASE + 2 * PG, "the signal names the first unmapped byte");
	is_i64(p->sig.code, VM_SEGV_MAPERR, "SEGV_MAPERR");
	is_i64(kfix_access(&f, p, BASE, 1, VM_ACC_READ, b), -ESRCH, "the dead process: -ESRCH");

	struct vm_proc *q = kfix_proc(&f, 0);
	is_i64(kfix_access(&f, q, UINT64_C(0x0000800000000000), 1, VM_ACC_READ, b), VM_SIGSEGV,
	       "a non-canonical address (#GP) kills with SIGSEGV");
	is_i64(q->sig.code, 0x80, "si_code SI_KERNEL, as Linux's #GP handler sends");
	struct vm_proc *r = kfix_proc(&f, 0);
	is_i64(kfix_access(&f, r, UINT64_C(0xffff888000000000), 1, VM_ACC_READ, b), VM_SIGSEGV,
	       "a kernel address kills");
	is_i64(r->sig.code, VM_SEGV_MAPERR, "SEGV_MAPERR (no VMA)");
	kfix_ok(&f, "kills");
	kfix_fini(&f);
}

static void test_switch_on_shared_cpu(void)
{
	struct kfix f;
	uint64_t v;

	if (kfix_init(&f, small))
		return;
	struct vm_proc *p = kfix_proc(&f, 0), *q = kfix_proc(&f, 0);
	kfix_vma(p, BASE, BASE + PG, RW, NULL, 0);
	kfix_vma(q, BASE, BASE + PG, RW, NULL, 0);
	v = 1;
	kfix_access(&f, p, BASE, 8, VM_ACC_WRITE, &v);
	v = 2;
	kfix_access(&f, q, BASE, 8, VM_ACC_WRITE, &v);
	uint64_t noflush = f.k->cpus[0].stats.cr3_noflush;
	kfix_access(&f, p, BASE, 8, VM_ACC_READ, &v);
	is_u64(v, 1, "p reads its own data at the shared address");
	is_u64(f.k->cpus[0].stats.cr3_noflush, noflush + 1,
	       "switching back to p keeps its PCID's entries (no-flush CR3 write)");
	uint64_t walks = f.k->cpus[0].stats.walks;
	kfix_access(&f, q, BASE, 8, VM_ACC_READ, &v);
	is_u64(v, 2, "q reads its own");
	is_u64(f.k->cpus[0].stats.walks, walks, "from the TLB: no walk after the switch");
	is_u64(f.k->cpu_mm[0] == q->mm, 1, "CPU 0 runs q's address space");

	/* Meta mode: no bytes, the same faults. */
	kfix_fini(&f);
	const char *const meta[] = { "phys=64M", "mode=meta", NULL };
	if (kfix_init(&f, meta))
		return;
	p = kfix_proc(&f, 0);
	kfix_vma(p, BASE, BASE + PG, RW, NULL, 0);
	v = 77;
	is_i64(kfix_access(&f, p, BASE, 8, VM_ACC_WRITE, &v), 0, "meta mode: a write");
	is_i64(kfix_access(&f, p, BASE, 8, VM_ACC_READ, &v), 0, "and a read");
	is_u64(v, 77, "the buffer is left alone");
	is_u64(p->min_flt, 1, "one fault");
	kfix_fini(&f);
}

/* A fault that makes no progress: the CPU walks tables other than the
 * mm's (a corrupt CR3), so every retry faults again although the handler
 * mapped the page.  The access gives up with -EFAULT after a few faults
 * instead of looping, and the process lives on. */
static void test_no_progress(void)
{
	struct kfix f;
	struct vm_pt stray;
	unsigned char b;

	if (kfix_init(&f, small))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	kfix_vma(p, BASE, BASE + PG, RW, NULL, 0);
	vm_switch_mm(f.k, 0, p->mm);
	vm_machine_pt_create(f.m, &stray);
	vm_cpu_write_cr3(&f.k->cpus[0], &stray, p->mm->pcid, false);
	/* (vm_user_access itself: the stray table is held by nothing the
	 * kernel check knows.) */
	is_i64(vm_user_access(f.k, p, BASE, 1, VM_ACC_READ, &b), -EFAULT,
	       "a fault that never resolves: -EFAULT");
	is_u64(p->min_flt, 5, "after five faults: the first mapped the page, four found it mapped");
	is_u64(f.st->flt_spurious, 4, "(counted spurious)");
	is_i64(p->state, VM_PROC_RUNNING, "the process is not killed");
	vm_cpu_write_cr3(&f.k->cpus[0], &p->mm->pt, p->mm->pcid, false);
	vm_pt_destroy(&stray);
	is_i64(kfix_read8(&f, p, BASE, &b), 0, "with the right tables loaded it works");
	kfix_fini(&f);
}

/* A protection-key fault: SIGSEGV with SEGV_PKUERR (Linux
 * bad_area_access_error with bad_area_access_from_pkeys). */
static void test_pkey(void)
{
	const char *const w[] = { "phys=64M", "pke=on", NULL };
	struct kfix f;
	unsigned char b;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	kfix_vma(p, BASE, BASE + PG, RW, NULL, 0);
	is_i64(kfix_read8(&f, p, BASE, &b), 0, "key 0 allows access");
	vm_cpu_write_pkru(&f.k->cpus[0], 1);       /* AD for key 0 */
	is_i64(kfix_read8(&f, p, BASE, &b), VM_SIGSEGV, "PKRU denies key 0: SIGSEGV");
	is_i64(p->sig.code, VM_SEGV_PKUERR, "SEGV_PKUERR");
	ok(p->sig.pf_error & VM_PF_PK, "the error code has PK");
	vm_cpu_write_pkru(&f.k->cpus[0], 0);
	kfix_fini(&f);
}

int main(void)
{
	test_straddle_and_round_trip();
	test_bad_calls_and_kills();
	test_switch_on_shared_cpu();
	test_no_progress();
	test_pkey();
	return done_testing();
}
