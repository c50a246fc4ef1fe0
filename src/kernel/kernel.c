/*
 * The kernel's core: settings, the zero page, data frames with their
 * reference counts, and TLB maintenance (switch_mm, flush_tlb_mm_range,
 * shootdowns) as arch/x86/mm/tlb.c does it with PCIDs.
 */
#include "kernel/kernel.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "core/settings_table.h"
#include "kernel/proc.h"
#include "kernel/reclaim.h"
#include "kernel/swap.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"

#define NPCID 4096u

/* Linux: tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c) — up to 33
 * pages are flushed one INVLPG at a time, beyond that the whole PCID. */
#define FLUSH_CEILING 33u

/* Linux: fault_around_bytes_set() keeps a power of two, at least 1 page. */
static uint64_t fault_around_pages(uint64_t bytes)
{
	uint64_t pages = bytes >> VM_PAGE_SHIFT;

	return pages ? UINT64_C(1) << vm_ilog2(pages) : 1;
}

static void digest(struct vm_kconfig *c, const struct vm_settings *s, const struct vm_pt_type *pt)
{
	c->thp = (enum vm_thp)vm_settings_u64(s, VM_SET_THP);
	c->aslr = (unsigned)vm_settings_u64(s, VM_SET_ASLR);
	c->fault_around_pages = fault_around_pages(vm_settings_u64(s, VM_SET_FAULT_AROUND));
	c->pagecache_warm = vm_settings_u64(s, VM_SET_PAGECACHE) == 0;
	c->max_map_count = vm_settings_u64(s, VM_SET_MAX_MAP_COUNT);
	c->stack_rlimit = vm_settings_u64(s, VM_SET_STACK_LIMIT);
	c->stack_guard_gap = vm_settings_u64(s, VM_SET_STACK_GUARD_GAP);
	c->mmap_min_addr = vm_settings_u64(s, VM_SET_MMAP_MIN_ADDR);
	c->mmap_rnd_bits = (unsigned)vm_settings_u64(s, VM_SET_MMAP_RND_BITS);
	c->va_bits = pt->levels == 5 ? 57 : 48;
	c->task_size_max = (UINT64_C(1) << (c->va_bits - 1)) - VM_PAGE_SIZE;
	c->map_window = (UINT64_C(1) << 47) - VM_PAGE_SIZE;
}

/* Linux: the zero page is a reserved page of zeroes (empty_zero_page). */
static int reserve_zero_page(struct vm_kernel *k)
{
	int err = vm_buddy_alloc(k->buddy, 0, &k->zero_pfn);

	if (err)
		return err;
	vm_page_set(&k->pages[k->zero_pfn], VM_PG_RESERVED);
	if (k->phys->data)
		vm_phys_zero_frame(k->phys, k->zero_pfn);
	return 0;
}

static void release_zero_page(struct vm_kernel *k)
{
	struct vm_page *pg = &k->pages[k->zero_pfn];

	vm_page_clear(pg, VM_PG_RESERVED);
	pg->refcount = 0;
	vm_buddy_free(k->buddy, k->zero_pfn, 0);
}

int vm_kernel_init(struct vm_kernel *k, const struct vm_settings *s)
{
	if (!k->host || !k->phys || !k->pages || !k->buddy || !k->cpus || !k->ncpus ||
	    !k->pt_type || !k->stats || !s)
		return -EINVAL;
	digest(&k->cfg, s, k->pt_type);
	k->cpu_mm = NULL;
	k->cpu_pcid_mm = NULL;
	k->procs = NULL;
	k->nprocs = k->procs_cap = 0;
	k->next_pid = 1;
	k->next_pcid = 1;
	k->cur_cpu = -1;
	vm_list_init(&k->files);
	k->last_ino = 0;
	k->anon_vmas = k->anon_vma_serial = 0;

	k->cpu_mm = vm_host_calloc(k->host, k->ncpus, sizeof(*k->cpu_mm));
	k->cpu_pcid_mm = vm_host_calloc(k->host, (size_t)k->ncpus * NPCID, sizeof(*k->cpu_pcid_mm));
	if (!k->cpu_mm || !k->cpu_pcid_mm)
		goto fail;
	if (reserve_zero_page(k))
		goto fail;
	k->reclaim = NULL;
	k->swap = NULL;
	struct vm_swap_spec swap;
	/* The canonical text of a setting that parsed: it parses again. */
	if (vm_swap_spec_parse(vm_settings_text(s, VM_SET_SWAP), &swap, NULL, 0) ||
	    vm_swap_init(k, &swap, (unsigned)vm_settings_u64(s, VM_SET_PAGE_CLUSTER)))
		goto fail_zero;
	if (vm_reclaim_init(k, s))
		goto fail_zero;
	return 0;
fail_zero:
	vm_swap_fini(k);
	release_zero_page(k);
fail:
	vm_host_free(k->host, k->cpu_mm);
	vm_host_free(k->host, k->cpu_pcid_mm);
	k->cpu_mm = NULL;
	k->cpu_pcid_mm = NULL;
	return -ENOMEM;
}

void vm_kernel_fini(struct vm_kernel *k)
{
	if (!k->cpu_mm)
		return;     /* never initialised, or init failed */
	static const struct vm_siginfo sigkill = {
		.signo = VM_SIGKILL, .reason = "the machine was shut down",
	};
	for (unsigned i = 0; i < k->procs_cap; i++) {
		struct vm_proc *p = k->procs ? k->procs[i] : NULL;
		if (!p)
			continue;
		if (p->state == VM_PROC_RUNNING)
			vm_proc_kill(k, p, &sigkill);
		vm_proc_reap(k, p);
	}
	vm_host_free(k->host, k->procs);
	k->procs = NULL;
	k->nprocs = k->procs_cap = 0;
	vm_files_release(k);
	vm_reclaim_fini(k);
	vm_swap_fini(k);
	for (unsigned c = 0; c < k->ncpus; c++)
		if (k->cpus[c].pt)
			vm_cpu_write_cr3(&k->cpus[c], NULL, 0, false);
	release_zero_page(k);
	vm_host_free(k->host, k->cpu_mm);
	vm_host_free(k->host, k->cpu_pcid_mm);
	k->cpu_mm = NULL;
	k->cpu_pcid_mm = NULL;
}

/* ---- frames ------------------------------------------------------------ */

int vm_page_alloc(struct vm_kernel *k, unsigned order, uint64_t *pfn)
{
	int err = vm_reclaim_before_alloc(k, order);

	if (!err)
		err = vm_buddy_alloc(k->buddy, order, pfn);

	if (err)
		return err;
	/* Linux: __GFP_ZERO / clear_user_highpage. */
	if (k->phys->data)
		for (uint64_t i = 0; i < UINT64_C(1) << order; i++)
			vm_phys_zero_frame(k->phys, *pfn + i);
	return 0;
}

void vm_page_get(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_page *pg = &k->pages[pfn];

	if (!vm_page_test(pg, VM_PG_RESERVED))
		pg->refcount++;
}

void vm_page_put(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_page *pg = &k->pages[pfn];

	if (vm_page_test(pg, VM_PG_RESERVED))
		return;
	VM_ASSERT(pg->refcount > 0 && !vm_page_test(pg, VM_PG_TAIL));
	if (pg->refcount == 0 || --pg->refcount)
		return;
	/* Linux: __folio_put() -> free_unref_page(): back to the allocator. */
	unsigned order = vm_page_test(pg, VM_PG_HEAD) ? pg->order : 0;
	vm_lru_del(k, pfn);
	pg->mapcount = 0;
	vm_buddy_free(k->buddy, pfn, order);
}

/* ---- TLB maintenance ------------------------------------------------------ */

static struct vm_mm **pcid_slot(struct vm_kernel *k, unsigned cpu, uint16_t pcid)
{
	return &k->cpu_pcid_mm[((size_t)cpu << 12) | (pcid & (NPCID - 1))];
}

/* Linux: switch_mm_irqs_off() — with PCIDs, a CPU that still holds valid
 * entries of the mm's PCID loads CR3 with the no-flush bit; otherwise the
 * load flushes that PCID (the stale generation of choose_new_asid). */
void vm_switch_mm(struct vm_kernel *k, unsigned cpu, struct vm_mm *mm)
{
	if (cpu >= k->ncpus)
		return;
	struct vm_cpu *c = &k->cpus[cpu];
	if (k->cpu_mm[cpu] == mm && (!mm || c->pt == &mm->pt))
		return;
	if (!mm) {
		vm_cpu_write_cr3(c, NULL, 0, false);
		k->cpu_mm[cpu] = NULL;
		return;
	}
	struct vm_mm **slot = pcid_slot(k, cpu, mm->pcid);
	k->stats->ctx_switches++;
	vm_cpu_write_cr3(c, &mm->pt, mm->pcid, *slot == mm);
	*slot = mm;
	k->cpu_mm[cpu] = mm;
}

/* Drop the whole PCID of the mm a CPU has loaded (Linux flush_tlb_local:
 * a CR3 reload without the no-flush bit). */
static void flush_loaded_pcid(struct vm_cpu *c)
{
	vm_cpu_write_cr3(c, c->pt, c->pcid, false);
}

/* What one CPU running the mm invalidates: n entries of 2^shift bytes from
 * first, or (full) its whole PCID. */
struct flush_info {
	vm_vaddr first;
	uint64_t n;
	unsigned shift;
	bool full;
};

/* Linux: flush_tlb_func() on every CPU in mm_cpumask — the CPUs running
 * mm flush (an IPI for those other than self); a CPU not running it
 * catches up at its next switch (tlb_gen): here it forgets that its
 * entries of the PCID are valid. */
static void flush_mm_cpus(struct vm_kernel *k, struct vm_mm *mm, const struct flush_info *fi,
			  int self)
{
	for (unsigned c = 0; c < k->ncpus; c++) {
		struct vm_mm **slot = pcid_slot(k, c, mm->pcid);
		if (k->cpu_mm[c] != mm) {
			if (*slot == mm)
				*slot = NULL;
			continue;
		}
		if ((int)c != self)
			k->stats->tlb_shootdowns++;
		struct vm_cpu *cpu = &k->cpus[c];
		if (fi->full) {
			flush_loaded_pcid(cpu);
			continue;
		}
		for (uint64_t i = 0; i < fi->n; i++)
			vm_cpu_invlpg(cpu, fi->first + (i << fi->shift));
	}
}

void vm_flush_tlb_range_stride(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start,
			       vm_vaddr end, unsigned shift, int self)
{
	if (!mm || end <= start)
		return;
	/* Linux: flush_tlb_mm_range() — a full flush when the range has more
	 * entries than the ceiling. */
	uint64_t stride = UINT64_C(1) << shift;
	struct flush_info fi = { .first = VM_ALIGN_DOWN(start, stride), .shift = shift };
	fi.n = ((end - fi.first) + stride - 1) >> shift;
	fi.full = fi.n > FLUSH_CEILING;
	if (fi.full)
		k->stats->tlb_flush_mm++;
	else
		k->stats->tlb_flush_range++;
	flush_mm_cpus(k, mm, &fi, self);
}

void vm_flush_tlb_range(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start, vm_vaddr end,
			int self)
{
	vm_flush_tlb_range_stride(k, mm, start, end, VM_PAGE_SHIFT, self);
}

void vm_flush_tlb_mm(struct vm_kernel *k, struct vm_mm *mm, int self)
{
	struct flush_info fi = { .full = true };

	if (!mm)
		return;
	k->stats->tlb_flush_mm++;
	flush_mm_cpus(k, mm, &fi, self);
}

void vm_leave_mm(struct vm_kernel *k, struct vm_mm *mm)
{
	if (!mm || !k->cpu_mm)
		return;
	for (unsigned c = 0; c < k->ncpus; c++) {
		struct vm_mm **slot = pcid_slot(k, c, mm->pcid);
		if (*slot == mm)
			*slot = NULL;
		if (k->cpu_mm[c] == mm || k->cpus[c].pt == &mm->pt) {
			/* Linux: leave_mm() — switch to init_mm; here, to no
			 * tables.  The PCID's entries stay in the TLB but can
			 * never be used: the slot is cleared, so the next load
			 * of that PCID flushes it. */
			vm_cpu_write_cr3(&k->cpus[c], NULL, 0, false);
			k->cpu_mm[c] = NULL;
		}
	}
}
