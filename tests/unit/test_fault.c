/*
 * Faults on anonymous memory, signals, stack growth and THP, checked
 * against what Linux 6.18 does on this machine (getrusage ru_minflt and
 * /proc/self/pagemap in a native program; see docs/faults.md):
 *   read of fresh anonymous memory: 1 minor fault, the shared zero page;
 *   a write after it: 1 more minor fault, a private frame;
 *   writes: exactly one fault per page;
 *   write to a read-only VMA: SIGSEGV/SEGV_ACCERR; no VMA: SEGV_MAPERR;
 *   exec of a non-exec page: SEGV_ACCERR;
 *   stack growth 200 KiB below: 1 fault; 9 MiB below (RLIMIT_STACK 8 MiB):
 *   SIGSEGV/SEGV_MAPERR;
 *   MADV_HUGEPAGE write: 1 fault for 512 pages.
 * The file side is test_fault_file.c.
 */
#include "kfixture.h"

#define A_BASE  UINT64_C(0x10000000)          /* 2 MiB aligned */
#define PG      VM_PAGE_SIZE
#define RW      (VM_READ | VM_WRITE)

static const char *const small[] = { "phys=64M", NULL };

static void test_anon_zero_page_then_write(void)
{
	struct kfix f;
	unsigned char b = 0xff;

	if (kfix_init(&f, small))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	kfix_vma(p, A_BASE, A_BASE + 64 * PG, RW, NULL, 0);

	is_i64(kfix_read8(&f, p, A_BASE + 5, &b), 0, "read of fresh anonymous memory");
	is_u64(b, 0, "reads zero");
	is_u64(p->min_flt, 1, "one minor fault");
	is_u64(f.st->flt_zero_page, 1, "answered by the zero page");
	is_u64(kfix_pfn(p, A_BASE), f.k->zero_pfn, "the PTE maps the shared zero page");
	struct vm_pt_leaf l;
	kfix_leaf(p, A_BASE, &l);
	ok(!(l.pte.v & VM_PTE_RW), "zero page mapped read-only");
	ok(l.pte.v & VM_PTE_SOFTW1, "special PTE (Linux _PAGE_SPECIAL, bit 9)");
	ok(l.pte.v & VM_PTE_A, "accessed set when mapped (PAGE_* include _PAGE_ACCESSED)");
	ok(l.pte.v & VM_PTE_NX, "NX: the VMA is not executable");
	is_u64(p->mm->rss[VM_RSS_ANON], 0, "the zero page is not RSS");
	is_u64(f.k->pages[f.k->zero_pfn].refcount, 1, "the zero page's count does not move");

	is_i64(kfix_write8(&f, p, A_BASE + 5, 0x5a), 0, "write to the zero-page mapping");
	is_u64(p->min_flt, 2, "one more minor fault (wp_page_copy from the zero page)");
	is_u64(f.st->flt_cow, 1, "counted as a copy");
	ok(kfix_pfn(p, A_BASE) != f.k->zero_pfn, "now a private frame");
	kfix_leaf(p, A_BASE, &l);
	ok((l.pte.v & VM_PTE_RW) && (l.pte.v & VM_PTE_D), "writable and dirty");
	ok(!(l.pte.v & VM_PTE_SOFTW1), "no longer special");
	is_u64(p->mm->rss[VM_RSS_ANON], 1, "RSS anon 1");
	is_i64(kfix_read8(&f, p, A_BASE + 5, &b), 0, "read back");
	is_u64(b, 0x5a, "the byte written");
	is_u64(kfix_read8(&f, p, A_BASE + 6, &b) == 0 && b == 0, 1, "the rest of the copy is zero");
	is_u64(p->min_flt, 2, "no fault for accesses to a mapped page");

	/* Exactly one fault per page for writes (Linux: 15 writes, 15 faults). */
	for (unsigned i = 1; i < 16; i++)
		kfix_write8(&f, p, A_BASE + i * PG + i, (unsigned char)i);
	is_u64(p->min_flt, 17, "15 writes to fresh pages: 15 faults");
	is_u64(f.st->flt_anon, 15, "15 pages from do_anonymous_page");
	for (unsigned i = 1; i < 16; i++)
		kfix_write8(&f, p, A_BASE + i * PG, 1);
	is_u64(p->min_flt, 17, "writing them again: no fault");
	is_u64(p->mm->rss[VM_RSS_ANON], 16, "RSS anon 16");
	is_u64(f.st->minflt, 17, "machine minflt follows");
	is_u64(f.st->pgfault, 17, "pgfault too");
	is_u64(p->maj_flt + f.st->majflt, 0, "no major faults");

	/* Reads of the zero page never raise RSS (Linux: 8 reads, 8 faults,
	 * one pfn). */
	for (unsigned i = 32; i < 40; i++)
		kfix_read8(&f, p, A_BASE + i * PG, &b);
	is_u64(p->min_flt, 25, "8 reads of fresh pages: 8 faults");
	bool all_zero = true;
	for (unsigned i = 32; i < 40; i++)
		all_zero &= kfix_pfn(p, A_BASE + i * PG) == f.k->zero_pfn;
	ok(all_zero, "all 8 map the one zero page");
	is_u64(p->mm->rss[VM_RSS_ANON], 16, "RSS unchanged");
	kfix_ok(&f, "anon");
	kfix_fini(&f);
}

/* One process, one access that must kill it; checks the siginfo. */
static void expect_kill(struct kfix *f, struct vm_proc *p, vm_vaddr va, unsigned kind, int signo,
			int code, uint32_t pf_error, const char *what)
{
	unsigned char b = 0;
	int rc = kfix_access(f, p, va, 1, kind, &b);

	is_i64(rc, signo, "%s: the access returns the signal", what);
	is_i64(p->state, VM_PROC_KILLED, "%s: the process is dead", what);
	is_i64(p->sig.signo, signo, "%s: signal recorded", what);
	is_i64(p->sig.code, code, "%s: si_code", what);
	is_u64(p->sig.addr, va, "%s: the faulting address", what);
	is_u64(p->sig.pf_error, pf_error, "%s: #PF error code %#x", what, pf_error);
	ok(p->sig.reason && *p->sig.reason, "%s: reason '%s'", what, p->sig.reason ? p->sig.reason : "");
}

static void test_signals(void)
{
	struct kfix f;
	unsigned char b;

	if (kfix_init(&f, small))
		return;
	/* Write to a read-only VMA, page not present: W|U. */
	struct vm_proc *p1 = kfix_proc(&f, 0);
	kfix_vma(p1, A_BASE, A_BASE + 4 * PG, VM_READ, NULL, 0);
	uint64_t pgfault = f.st->pgfault;
	expect_kill(&f, p1, A_BASE + 8, VM_ACC_WRITE, VM_SIGSEGV, VM_SEGV_ACCERR, VM_PF_W | VM_PF_U,
		    "write to a read-only VMA");
	is_u64(f.st->pgfault, pgfault, "refused before handle_mm_fault: no pgfault");
	is_u64(p1->min_flt, 0, "nor min_flt");

	/* Read first, then write: P|W|U. */
	struct vm_proc *p2 = kfix_proc(&f, 0);
	kfix_vma(p2, A_BASE, A_BASE + 4 * PG, VM_READ, NULL, 0);
	is_i64(kfix_read8(&f, p2, A_BASE, &b), 0, "reading a read-only VMA works");
	expect_kill(&f, p2, A_BASE, VM_ACC_WRITE, VM_SIGSEGV, VM_SEGV_ACCERR,
		    VM_PF_P | VM_PF_W | VM_PF_U, "write to a present read-only page");

	/* No VMA. */
	struct vm_proc *p3 = kfix_proc(&f, 0);
	kfix_vma(p3, A_BASE, A_BASE + 4 * PG, RW, NULL, 0);
	expect_kill(&f, p3, A_BASE + 4 * PG, VM_ACC_READ, VM_SIGSEGV, VM_SEGV_MAPERR, VM_PF_U,
		    "read just past the VMA");

	/* PROT_NONE VMA: ACCERR (Linux: code 2). */
	struct vm_proc *p4 = kfix_proc(&f, 0);
	kfix_vma(p4, A_BASE, A_BASE + 4 * PG, VM_NONE, NULL, 0);
	expect_kill(&f, p4, A_BASE, VM_ACC_READ, VM_SIGSEGV, VM_SEGV_ACCERR, VM_PF_U,
		    "read of a PROT_NONE VMA");

	/* Exec of a non-exec page: the first fetch faults the page in (a
	 * read-like fault: the zero page, NX), the retry is a protection
	 * fault with I/D, refused: P|U|I. */
	struct vm_proc *p5 = kfix_proc(&f, 0);
	kfix_vma(p5, A_BASE, A_BASE + 4 * PG, RW, NULL, 0);
	expect_kill(&f, p5, A_BASE + 16, VM_ACC_EXEC, VM_SIGSEGV, VM_SEGV_ACCERR,
		    VM_PF_P | VM_PF_U | VM_PF_I, "exec of a non-exec page");
	is_u64(p5->min_flt, 1, "the fetch faulted the page in first (one minor fault)");

	/* An executable VMA runs. */
	struct vm_proc *p6 = kfix_proc(&f, 0);
	kfix_vma(p6, A_BASE, A_BASE + 4 * PG, VM_READ | VM_EXEC, NULL, 0);
	is_i64(kfix_access(&f, p6, A_BASE, 16, VM_ACC_EXEC, NULL), 0, "exec of an exec VMA");
	struct vm_pt_leaf l;
	ok(kfix_leaf(p6, A_BASE, &l) && !(l.pte.v & VM_PTE_NX), "its PTE has no NX");
	is_u64(f.st->sig_segv, 5, "five SIGSEGVs counted");

	/* Other processes continue after one is killed. */
	is_i64(kfix_write8(&f, p3, A_BASE, 1), -ESRCH, "a dead process makes no access");
	struct vm_proc *p7 = kfix_proc(&f, 0);
	kfix_vma(p7, A_BASE, A_BASE + 4 * PG, RW, NULL, 0);
	is_i64(kfix_write8(&f, p7, A_BASE, 7), 0, "another process on the same CPU still runs");
	is_i64(kfix_read8(&f, p7, A_BASE, &b), 0, "and reads");
	is_u64(b, 7, "its own data");
	is_i64(kfix_read8(&f, p6, A_BASE, &b), 0, "the earlier survivor still runs too");
	kfix_ok(&f, "signals");
	kfix_fini(&f);
}

#define STACK_TOP UINT64_C(0x7ffff0000000)

static void test_stack_growth(void)
{
	struct kfix f;
	unsigned char b;

	if (kfix_init(&f, small))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	struct vm_vma *st = kfix_vma(p, STACK_TOP - (128 << 10), STACK_TOP, RW | VM_GROWSDOWN, NULL, 0);
	vm_vaddr at = STACK_TOP - (200 << 10) - 40;
	is_i64(kfix_read8(&f, p, at, &b), 0, "access 200 KiB below the stack top");
	is_u64(st->vm_start, at & ~(PG - 1), "the stack grew to the page of the access");
	is_u64(f.st->flt_stack_grow, 1, "counted");
	is_u64(p->min_flt, 1, "one minor fault (Linux: 1)");
	kfix_ok(&f, "stack grown");

	expect_kill(&f, p, STACK_TOP - (9 << 20), VM_ACC_READ, VM_SIGSEGV, VM_SEGV_MAPERR, VM_PF_U,
		    "9 MiB below the top, RLIMIT_STACK 8 MiB");
	is_u64(f.st->flt_stack_grow, 1, "no growth counted");

	/* The guard gap: growth must stay stack_guard_gap (1 MiB) above the
	 * mapping below. */
	struct vm_proc *q = kfix_proc(&f, 0);
	vm_vaddr below_end = STACK_TOP - (3 << 20);
	kfix_vma(q, below_end - 16 * PG, below_end, RW, NULL, 0);
	kfix_vma(q, STACK_TOP - (128 << 10), STACK_TOP, RW | VM_GROWSDOWN, NULL, 0);
	is_i64(kfix_read8(&f, q, below_end + (1 << 20) + PG, &b), 0,
	       "growth to just over 1 MiB above the mapping below");
	expect_kill(&f, q, below_end + (1 << 20) - PG, VM_ACC_WRITE, VM_SIGSEGV, VM_SEGV_MAPERR,
		    VM_PF_W | VM_PF_U, "growth into the guard gap");

	/* A VMA that does not grow: an access below it is MAPERR. */
	struct vm_proc *r = kfix_proc(&f, 0);
	kfix_vma(r, STACK_TOP - (128 << 10), STACK_TOP, RW, NULL, 0);
	expect_kill(&f, r, STACK_TOP - (128 << 10) - PG, VM_ACC_READ, VM_SIGSEGV, VM_SEGV_MAPERR,
		    VM_PF_U, "below a VMA without VM_GROWSDOWN");
	kfix_ok(&f, "stack");
	kfix_fini(&f);
}

#define THP_BASE UINT64_C(0x40000000)         /* 1 GiB: 2 MiB aligned */
#define PMD      VM_PMD_SIZE

/* One write at a 2 MiB-aligned VMA of flags under setting thp: whether it
 * got a 2 MiB page. */
static bool thp_write(const char *thp, uint64_t flags, vm_vaddr start, vm_vaddr end,
		      vm_vaddr at, struct vm_stats *out_stats)
{
	const char *const w[] = { "phys=64M", thp, NULL };
	struct kfix f;
	struct vm_pt_leaf l;

	if (kfix_init(&f, w))
		return false;
	struct vm_proc *p = kfix_proc(&f, 0);
	kfix_vma(p, start, end, flags, NULL, 0);
	kfix_write8(&f, p, at, 1);
	bool huge = kfix_leaf(p, at, &l) && l.size == VM_PSIZE_2M;
	if (out_stats)
		*out_stats = *f.st;
	kfix_ok(&f, thp);
	kfix_fini(&f);
	return huge;
}

static void test_thp_policies(void)
{
	struct vm_stats s;
	vm_vaddr lo = THP_BASE, hi = THP_BASE + 2 * PMD;

	ok(thp_write("thp=always", RW, lo, hi, lo + 5 * PG, &s), "thp=always: a 2 MiB page");
	is_u64(s.flt_thp, 1, "flt_thp counted");
	ok(!thp_write("thp=always", RW | VM_NOHUGEPAGE, lo, hi, lo, NULL),
	   "thp=always but MADV_NOHUGEPAGE: 4 KiB");
	ok(!thp_write("thp=madvise", RW, lo, hi, lo, &s), "thp=madvise without MADV_HUGEPAGE: 4 KiB");
	is_u64(s.flt_thp + s.flt_thp_fallback, 0, "not even attempted");
	ok(thp_write("thp=madvise", RW | VM_HUGEPAGE, lo, hi, lo, NULL),
	   "thp=madvise with MADV_HUGEPAGE: 2 MiB");
	ok(!thp_write("thp=madvise", RW | VM_HUGEPAGE | VM_NOHUGEPAGE, lo, hi, lo, NULL),
	   "VM_NOHUGEPAGE wins");
	ok(!thp_write("thp=never", RW | VM_HUGEPAGE, lo, hi, lo, NULL), "thp=never: 4 KiB");
	/* thp_vma_suitable_order: the aligned 2 MiB must lie inside the VMA. */
	ok(!thp_write("thp=always", RW, lo + PG, hi, lo + 2 * PG, NULL),
	   "VMA starting one page after the 2 MiB boundary: 4 KiB");
	ok(thp_write("thp=always", RW, lo + PG, hi, lo + PMD + PG, NULL),
	   "but the next aligned 2 MiB inside it: 2 MiB");
	ok(!thp_write("thp=always", RW, lo, lo + PMD - PG, lo, NULL),
	   "VMA ending one page short of 2 MiB: 4 KiB");
}

static void test_thp_fault(void)
{
	const char *const w[] = { "phys=64M", "thp=madvise", NULL };
	struct kfix f;
	struct vm_pt_leaf l;
	unsigned char b;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	kfix_vma(p, THP_BASE, THP_BASE + 2 * PMD, RW | VM_HUGEPAGE, NULL, 0);
	uint64_t free_before = f.k->buddy->free_frames, pt_before = f.m->frames_pt;
	is_i64(kfix_write8(&f, p, THP_BASE + 3 * PG + 9, 0x33), 0, "write into a MADV_HUGEPAGE VMA");
	ok(kfix_leaf(p, THP_BASE, &l) && l.size == VM_PSIZE_2M && l.va == THP_BASE,
	   "a 2 MiB leaf at the aligned base");
	ok((l.pte.v & (VM_PTE_RW | VM_PTE_D | VM_PTE_A | VM_PTE_US)) ==
	   (VM_PTE_RW | VM_PTE_D | VM_PTE_A | VM_PTE_US), "writable, dirty, accessed, user");
	is_u64(p->min_flt, 1, "one fault");
	is_u64(p->mm->rss[VM_RSS_ANON], 512, "RSS anon 512");
	is_u64(free_before - f.k->buddy->free_frames - (f.m->frames_pt - pt_before), 512,
	       "512 data frames taken");
	is_u64(f.m->frames_pt - pt_before, 2, "and two tables (PDPT, PD): the PMD leaf needs no PT");
	for (unsigned i = 0; i < 512; i++)
		kfix_write8(&f, p, THP_BASE + i * PG, (unsigned char)i);
	is_u64(p->min_flt, 1, "the other 511 pages: no fault (Linux: 0)");
	is_i64(kfix_read8(&f, p, THP_BASE + 3 * PG + 9, &b), 0, "read back");
	is_u64(b, 0x33, "the byte");
	is_i64(kfix_read8(&f, p, THP_BASE + 7 * PG + 1, &b), 0, "an untouched byte");
	is_u64(b, 0, "reads zero: the huge page was cleared");

	/* A read fault in the second 2 MiB: Linux maps the huge zero page; the
	 * model maps the 4 KiB zero page (docs/faults.md). */
	is_i64(kfix_read8(&f, p, THP_BASE + PMD, &b), 0, "read in the second 2 MiB");
	is_u64(kfix_pfn(p, THP_BASE + PMD), f.k->zero_pfn, "zero page");
	is_i64(kfix_write8(&f, p, THP_BASE + PMD, 1), 0, "then a write there");
	ok(kfix_leaf(p, THP_BASE + PMD, &l) && l.size == VM_PSIZE_4K,
	   "a 4 KiB copy (Linux: huge zero PMD split, then wp_page_copy)");
	is_u64(f.st->flt_thp, 1, "one THP in all");
	kfix_ok(&f, "thp");
	kfix_fini(&f);
}

/* No free 2 MiB block: the fault falls back to 4 KiB pages. */
static void test_thp_fallback(void)
{
	const char *const w[] = { "phys=16M", "thp=always", NULL };
	struct kfix f;
	struct vm_pt_leaf l;
	static uint64_t held[4096];
	unsigned n = 0;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	kfix_vma(p, THP_BASE, THP_BASE + 2 * PMD, RW, NULL, 0);
	/* Fragment memory: take every frame, give back every other one. */
	while (n < 4096 && vm_page_alloc(f.k, 0, &held[n]) == 0)
		n++;
	for (unsigned i = 0; i < n; i += 2)
		vm_page_put(f.k, held[i]);
	ok(vm_buddy_frag_index(f.k->buddy, 9) > 0, "no order-9 block free (extfrag index %d)",
	   vm_buddy_frag_index(f.k->buddy, 9));
	ok(f.k->buddy->free_frames > 1000, "yet %" PRIu64 " frames free", f.k->buddy->free_frames);

	/* The test holds frames of its own here, which vm_kernel_check would
	 * report as held by nothing: access without the fixture's check. */
	unsigned char one = 1;
	is_i64(vm_user_access(f.k, p, THP_BASE, 1, VM_ACC_WRITE, &one), 0,
	       "write into a THP-eligible VMA");
	ok(kfix_leaf(p, THP_BASE, &l) && l.size == VM_PSIZE_4K, "falls back to a 4 KiB page");
	is_u64(f.st->flt_thp_fallback, 1, "flt_thp_fallback counted");
	is_u64(f.st->flt_thp, 0, "no THP");
	is_u64(p->min_flt, 1, "still one fault");
	is_u64(p->mm->rss[VM_RSS_ANON], 1, "RSS 1");
	/* The page table now present: the next write does not try again. */
	vm_user_access(f.k, p, THP_BASE + PG, 1, VM_ACC_WRITE, &one);
	is_u64(f.st->flt_thp_fallback, 1, "no second attempt under a page table (pmd not none)");

	for (unsigned i = 1; i < n; i += 2)
		vm_page_put(f.k, held[i]);
	is_i64(kfix_write8(&f, p, THP_BASE + PMD, 1), 0, "memory free again: write to the next 2 MiB");
	ok(kfix_leaf(p, THP_BASE + PMD, &l) && l.size == VM_PSIZE_2M, "a THP this time");
	kfix_ok(&f, "thp fallback");
	kfix_fini(&f);
}

/* Memory runs out: the fault returns VM_FAULT_OOM and the process is
 * killed (Linux: pagefault_out_of_memory, the OOM killer's SIGKILL); its
 * frames come back and everything else stays consistent. */
static void test_oom(void)
{
	const char *const w[] = { "phys=1M", NULL };
	struct kfix f;
	int rc = 0;
	unsigned i;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	uint64_t free0 = f.k->buddy->free_frames;
	kfix_vma(p, A_BASE, A_BASE + 1024 * PG, RW, NULL, 0);
	for (i = 0; i < 1024 && rc == 0; i++)
		rc = kfix_write8(&f, p, A_BASE + i * PG, 1);
	is_i64(rc, VM_SIGKILL, "writing 4 MiB into 1 MiB: killed");
	ok(i > 200 && i < 256, "after %u pages", i);
	is_i64(p->sig.signo, VM_SIGKILL, "SIGKILL");
	is_str(p->sig.reason, "out of memory", "the reason");
	is_u64(f.k->buddy->free_frames, free0 + 1, "every frame back, and its page directory too");
	kfix_fini(&f);
}

int main(void)
{
	test_anon_zero_page_then_write();
	test_signals();
	test_stack_growth();
	test_thp_policies();
	test_thp_fault();
	test_thp_fallback();
	test_oom();
	return done_testing();
}
