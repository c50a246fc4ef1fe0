/*
 * The kernel core: init digests the settings and reserves the zero page;
 * fini gives every frame back; data frames and their counts; switch_mm
 * with PCIDs; flushes and shootdowns on two CPUs; a CPU that ran an mm
 * before never uses entries invalidated while it ran another.
 */
#include "hw/mmu.h"
#include "kfixture.h"

#define PG   VM_PAGE_SIZE
#define BASE UINT64_C(0x10000000)
#define RW   (VM_READ | VM_WRITE)

static void test_init_fini(void)
{
	const char *const w[] = { "phys=16M", "thp=always", "fault_around=32K", "pagecache=cold",
				  "stack_limit=4M", "pt=radix5", NULL };
	struct kfix f;

	is_i64(kfix_init(&f, w), 0, "init");
	struct vm_kconfig *c = &f.k->cfg;
	is_u64(c->thp, VM_THP_ALWAYS, "thp=always");
	is_u64(c->fault_around_pages, 8, "fault_around=32K: 8 pages");
	ok(!c->pagecache_warm, "pagecache=cold");
	is_u64(c->stack_rlimit, 4 << 20, "stack_limit");
	is_u64(c->stack_guard_gap, 1 << 20, "stack_guard_gap default 1M");
	is_u64(c->max_map_count, 65530, "max_map_count default");
	is_u64(c->va_bits, 57, "radix5: 57-bit addresses");
	is_u64(c->task_size_max, (UINT64_C(1) << 56) - PG, "TASK_SIZE_MAX with LA57");
	is_u64(c->map_window, (UINT64_C(1) << 47) - PG, "DEFAULT_MAP_WINDOW");
	struct vm_page *zp = &f.k->pages[f.k->zero_pfn];
	ok(vm_page_test(zp, VM_PG_RESERVED) && zp->refcount == 1, "the zero page is reserved");
	is_u64(f.k->buddy->free_frames, f.k->phys->nframes - 1, "it is the only frame in use");
	vm_page_get(f.k, f.k->zero_pfn);
	vm_page_put(f.k, f.k->zero_pfn);
	vm_page_put(f.k, f.k->zero_pfn);
	is_u64(zp->refcount, 1, "get/put never move the zero page's count");
	vm_kernel_fini(f.k);
	is_u64(f.k->buddy->free_frames, f.k->phys->nframes, "fini: every frame free");
	vm_kernel_fini(f.k);
	ok(1, "a second fini does nothing");
	vmlab_machine_destroy(f.m);

	/* Defaults; the CPU's va_bits with radix4. */
	is_i64(kfix_init(&f, NULL), 0, "defaults");
	is_u64(f.k->cfg.thp, VM_THP_MADVISE, "thp=madvise");
	is_u64(f.k->cfg.fault_around_pages, 16, "64K: 16 pages");
	ok(f.k->cfg.pagecache_warm, "warm");
	is_u64(f.k->cfg.task_size_max, (UINT64_C(1) << 47) - PG, "TASK_SIZE_MAX 4-level");
	kfix_fini(&f);

	/* Missing parts and host failures. */
	struct vm_kernel k = { 0 };
	struct vm_settings *s = vmlab_settings_create();
	is_i64(vm_kernel_init(&k, s), -EINVAL, "no machine parts: -EINVAL");
	kfix_init(&f, NULL);
	vm_kernel_fini(f.k);
	uint64_t free0 = f.k->buddy->free_frames, allocs = f.m->host.allocs - f.m->host.frees;
	for (unsigned n = 1; n <= 2; n++) {
		f.m->host.fail_at = f.m->host.attempts + n;
		is_i64(vm_kernel_init(f.k, s), -ENOMEM, "host allocation %u fails: -ENOMEM", n);
		ok(f.k->buddy->free_frames == free0 && f.m->host.allocs - f.m->host.frees == allocs,
		   "nothing held");
	}
	f.m->host.fail_at = 0;
	is_i64(vm_kernel_init(f.k, s), 0, "then init works");
	vmlab_settings_destroy(s);
	kfix_fini(&f);
}

static void test_frames(void)
{
	struct kfix f;
	uint64_t pfn, pfn2;
	unsigned char b = 0x77;

	kfix_init(&f, NULL);
	is_i64(vm_page_alloc(f.k, 9, &pfn), 0, "an order-9 block");
	is_u64(f.k->pages[pfn].refcount, 1, "refcount 1");
	vm_phys_write(f.k->phys, (vm_paddr){ (pfn + 100) << 12 }, &b, 1);
	vm_page_get(f.k, pfn);
	vm_page_put(f.k, pfn);
	is_u64(f.k->pages[pfn].refcount, 1, "get + put: back to 1");
	uint64_t free = f.k->buddy->free_frames;
	vm_page_put(f.k, pfn);
	is_u64(f.k->buddy->free_frames, free + 512, "the last put frees all 512 frames");
	is_i64(vm_page_alloc(f.k, 9, &pfn2), 0, "allocate again");
	is_u64(pfn2, pfn, "the same block (hot reuse)");
	vm_phys_read(f.k->phys, (vm_paddr){ (pfn + 100) << 12 }, &b, 1);
	is_u64(b, 0, "handed out zeroed");
	is_i64(vm_page_alloc(f.k, VM_MAX_ORDER + 1, &pfn2), -EINVAL, "order too large: -EINVAL");
	vm_page_put(f.k, pfn);
	kfix_fini(&f);
}

static void test_switch_and_flush(void)
{
	const char *const w[] = { "phys=64M", "cpus=2", NULL };
	struct kfix f;
	vm_paddr pa;
	const unsigned acc = VM_ACC_READ | VM_ACC_USER;

	kfix_init(&f, w);
	struct vm_proc *a = kfix_proc(&f, 0), *b = kfix_proc(&f, 1);
	struct vm_vma *va = kfix_vma(a, BASE, BASE + 64 * PG, RW, NULL, 0);
	kfix_vma(b, BASE, BASE + 64 * PG, RW, NULL, 0);
	for (unsigned i = 0; i < 40; i++)
		kfix_write8(&f, a, BASE + i * PG, 1);
	kfix_write8(&f, b, BASE, 2);
	struct vm_cpu *c0 = &f.k->cpus[0], *c1 = &f.k->cpus[1];
	ok(f.k->cpu_mm[0] == a->mm && f.k->cpu_mm[1] == b->mm, "each CPU runs its process");

	/* Flush counters: a on both CPUs. */
	vm_switch_mm(f.k, 1, a->mm);
	vm_mmu_translate(c1, BASE, acc, &pa);
	struct vm_stats s0 = *f.st;
	vm_flush_tlb_range(f.k, a->mm, BASE, BASE + 3 * PG, 0);
	is_u64(f.st->tlb_flush_range - s0.tlb_flush_range, 1, "one range flush");
	is_u64(f.st->tlb_shootdowns - s0.tlb_shootdowns, 1, "one IPI: CPU 1");
	vm_flush_tlb_range(f.k, a->mm, BASE, BASE + 3 * PG, -1);
	is_u64(f.st->tlb_shootdowns - s0.tlb_shootdowns, 3, "no current CPU: both count");
	vm_flush_tlb_range(f.k, a->mm, BASE, BASE + 33 * PG, 1);
	is_u64(f.st->tlb_flush_range - s0.tlb_flush_range, 3, "33 pages: still INVLPG each");
	uint64_t cr3 = c0->stats.cr3_writes;
	vm_flush_tlb_range(f.k, a->mm, BASE, BASE + 34 * PG, 1);
	is_u64(f.st->tlb_flush_mm - s0.tlb_flush_mm, 1, "34 pages: a PCID flush (tlb_single_page_flush_ceiling)");
	is_u64(c0->stats.cr3_writes - cr3, 1, "done with a CR3 reload");
	vm_flush_tlb_mm(f.k, a->mm, 0);
	is_u64(f.st->tlb_flush_mm - s0.tlb_flush_mm, 2, "flush_tlb_mm");
	is_u64(f.st->tlb_shootdowns - s0.tlb_shootdowns, 3 + 1 + 1 + 1, "each with one IPI");
	is_u64(f.k->cpus[0].stats.invlpg + f.k->cpus[1].stats.invlpg >= 2 * (3 + 3 + 33), 1,
	       "INVLPGs on both CPUs");

	/* CPU 1 caches a's page 0, switches to b, a's page 0 changes (zap
	 * from CPU 0), CPU 1 switches back: it must not use the old entry. */
	is_i64(vm_mmu_translate(c1, BASE, acc, &pa), VM_EXC_NONE, "CPU 1 caches a's page");
	vm_switch_mm(f.k, 1, b->mm);
	uint64_t noflush = c1->stats.cr3_noflush;
	f.k->cur_cpu = 0;
	vm_zap_range(f.k, va, BASE, BASE + PG);
	f.k->cur_cpu = -1;
	vm_switch_mm(f.k, 1, a->mm);
	is_u64(c1->stats.cr3_noflush, noflush, "switching back flushes a's PCID (it went stale)");
	is_i64(vm_mmu_translate(c1, BASE, acc, &pa), VM_EXC_PF, "so the zapped page faults on CPU 1");
	is_i64(vm_mmu_translate(c1, BASE + PG, acc, &pa), VM_EXC_NONE, "other pages translate");
	vm_switch_mm(f.k, 1, b->mm);
	vm_switch_mm(f.k, 1, a->mm);
	is_u64(c1->stats.cr3_noflush, noflush + 2, "with nothing changed, switches both ways keep the PCIDs");

	/* leave_mm: the CPU loads no tables and forgets the PCID. */
	vm_leave_mm(f.k, a->mm);
	ok(f.k->cpu_mm[0] == NULL && f.k->cpu_mm[1] == NULL && c0->pt == NULL && c1->pt == NULL,
	   "both CPUs leave a's tables");
	is_i64(vm_mmu_translate(c0, BASE + PG, acc, &pa), VM_EXC_PF, "nothing translates");
	vm_switch_mm(f.k, 0, a->mm);
	is_i64(vm_mmu_translate(c0, BASE + PG, acc, &pa), VM_EXC_NONE, "until a is loaded again");

	/* pcid=off: every switch flushes. */
	kfix_ok(&f, "switch");
	kfix_fini(&f);
	const char *const np[] = { "phys=64M", "pcid=off", NULL };
	kfix_init(&f, np);
	a = kfix_proc(&f, 0);
	b = kfix_proc(&f, 0);
	kfix_vma(a, BASE, BASE + PG, RW, NULL, 0);
	kfix_vma(b, BASE, BASE + PG, RW, NULL, 0);
	kfix_write8(&f, a, BASE, 1);
	kfix_write8(&f, b, BASE, 1);
	uint64_t walks = f.k->cpus[0].stats.walks;
	kfix_write8(&f, a, BASE, 1);
	is_u64(f.k->cpus[0].stats.walks, walks + 1, "pcid=off: the switch back flushed, a walk");
	is_u64(f.k->cpus[0].stats.cr3_noflush, 0, "never a no-flush CR3 write");
	kfix_fini(&f);
}

int main(void)
{
	test_init_fini();
	test_frames();
	test_switch_and_flush();
	return done_testing();
}
