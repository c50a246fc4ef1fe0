/*
 * The LRU: the kernel driving a replacement policy (policy/evict.h) with
 * real frames (Linux mm/swap.c folio_add_lru, mm/rmap.c rmap_walk and
 * folio_referenced, mm/vmscan.c's view of the Accessed bits).
 *
 * The policy's frames are pfns.  The Accessed-bit policies see the bits
 * the MMU set in the page tables through the hw ops below: `referenced`
 * walks the reverse map and test-and-clears A in every PTE mapping the
 * frame (ptep_test_and_clear_young), flushing that page from the TLBs of
 * the mm so that the next access sets A again (counted in
 * pte_young_cleared).  x86 Linux actually skips that flush
 * (ptep_clear_flush_young in arch/x86/mm/pgtable.c: a missed A bit only
 * makes reclaim less accurate); the model flushes, as the textbook kernel
 * and docs/policies.md describe, and counts it.
 */
#include "kernel/reclaim.h"

#include <errno.h>

#include "base/compiler.h"
#include "core/settings_table.h"
#include "kernel/anon_vma.h"
#include "kernel/fault.h"
#include "kernel/proc.h"
#include "kernel/swap.h"
#include "kernel/vfs.h"

/* ---- the reverse map ------------------------------------------------------- */

/* procs[i] is the first process using its mm (threads share one). */
static struct vm_mm *first_mm(const struct vm_kernel *k, unsigned i)
{
	const struct vm_mm *mm = k->procs[i] ? k->procs[i]->mm : NULL;

	if (!mm)
		return NULL;
	for (unsigned j = 0; j < i; j++)
		if (k->procs[j] && k->procs[j]->mm == mm)
			return NULL;
	return k->procs[i]->mm;
}

/* The leaf at va in vma that maps pfn, if there is one: a 4 KiB PTE, or
 * the PMD of a THP whose head pfn is (Linux page_vma_mapped_walk). */
static bool leaf_maps(struct vm_vma *vma, vm_vaddr va, uint64_t pfn, struct vm_pt_leaf *leaf)
{
	struct vm_pt *pt = &vma->mm->pt;

	if (pt->ops->lookup(pt, va, leaf))
		return false;
	if (leaf->size == VM_PSIZE_4K)
		return pte_pfn(leaf->pte) == pfn;
	return leaf->size == VM_PSIZE_2M && leaf->va == va &&
	       pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT == pfn;
}

/* Linux: rmap_walk_anon() — the VMAs of the page's anon_vma (here: those
 * whose chain holds it), each at vma_address().  pass 1 also visits VMAs
 * outside the chain, for a page whose mappings the chain cannot reach
 * (mapcount says how many there are). */
static unsigned walk_anon(struct vm_kernel *k, uint64_t pfn, vm_rmap_fn fn, void *ctx, int pass)
{
	struct vm_page *pg = &k->pages[pfn];
	unsigned n = 0;

	for (unsigned i = 0; i < k->procs_cap; i++) {
		struct vm_mm *mm = first_mm(k, i);
		if (!mm)
			continue;
		for (struct vm_vma *v = vm_vma_first(mm); v; v = vm_vma_next(v)) {
			if (!v->anon || (v->vm_flags & VM_SHARED))
				continue;
			if (vm_anon_vma_in_chain(v, pg->owner) != (pass == 0))
				continue;
			uint64_t pages = (v->vm_end - v->vm_start) >> VM_PAGE_SHIFT;
			if (pg->index < v->vm_pgoff || pg->index - v->vm_pgoff >= pages)
				continue;
			vm_vaddr va = v->vm_start + ((pg->index - v->vm_pgoff) << VM_PAGE_SHIFT);
			struct vm_pt_leaf leaf;
			if (!leaf_maps(v, va, pfn, &leaf))
				continue;
			n++;
			if (fn)
				fn(k, ctx, v, &leaf);
		}
	}
	return n;
}

struct file_walk {
	uint64_t pfn;
	vm_rmap_fn fn;
	void *ctx;
	unsigned n;
};

static void file_vma(void *arg, struct vm_vma *vma, vm_vaddr start, vm_vaddr end)
{
	struct file_walk *w = arg;
	struct vm_pt_leaf leaf;

	(void)end;
	if (!leaf_maps(vma, start, w->pfn, &leaf))
		return;        /* a private copy, or not faulted in */
	w->n++;
	if (w->fn)
		w->fn(vma->mm->k, w->ctx, vma, &leaf);
}

unsigned vm_rmap_walk(struct vm_kernel *k, uint64_t pfn, vm_rmap_fn fn, void *ctx)
{
	struct vm_page *pg = &k->pages[pfn];

	if (pg->mapcount <= 0)
		return 0;
	if (pg->owner_kind == VM_OWNER_ANON) {
		unsigned n = walk_anon(k, pfn, fn, ctx, 0);
		if (n < (unsigned)pg->mapcount)
			n += walk_anon(k, pfn, fn, ctx, 1);
		return n;
	}
	if (pg->owner_kind == VM_OWNER_FILE) {
		struct file_walk w = { .pfn = pfn, .fn = fn, .ctx = ctx };
		vm_file_for_each_vma(k, pg->owner, pg->index, pg->index, file_vma, &w);
		return w.n;
	}
	return 0;
}

/* ---- Accessed and Dirty bits for the policy --------------------------------- */

struct young {
	bool clear;
	int young;
	bool dirty;
	bool exec;         /* a young mapping is VM_EXEC */
};

static void young_one(struct vm_kernel *k, void *ctx, struct vm_vma *vma,
		      const struct vm_pt_leaf *leaf)
{
	struct young *y = ctx;

	y->dirty |= pte_dirty(leaf->pte);
	if (!pte_young(leaf->pte))
		return;
	y->young++;
	y->exec |= (vma->vm_flags & VM_EXEC) != 0;
	if (!y->clear)
		return;
	/* Linux: ptep_test_and_clear_young() + the flush of that page
	 * (pmdp_clear_flush_young for a THP's PMD). */
	struct vm_pt *pt = &vma->mm->pt;
	uint64_t size = UINT64_C(1) << vm_psize_shift(leaf->size);
	pt->ops->protect(pt, leaf->va, leaf->va + size, 0, VM_PTE_A);
	vm_flush_tlb_range_stride(k, vma->mm, leaf->va, leaf->va + size, vm_psize_shift(leaf->size),
				  k->cur_cpu);
	k->stats->pte_young_cleared++;
}

static int hw_referenced(void *ctx, uint32_t frame, bool clear, bool *exec)
{
	struct vm_kernel *k = ctx;
	struct young y = { .clear = clear };

	vm_rmap_walk(k, frame, young_one, &y);
	if (exec)
		*exec = y.exec;
	return y.young;
}

static bool hw_dirty(void *ctx, uint32_t frame)
{
	struct vm_kernel *k = ctx;
	struct young y = { .clear = false };

	if (vm_page_test(&k->pages[frame], VM_PG_DIRTY))
		return true;
	vm_rmap_walk(k, frame, young_one, &y);
	return y.dirty;
}

/* WSClock schedules writes while it scans: a file page is written back
 * (page_mkclean + writepage); an anonymous page has nothing to write to
 * before it has a swap slot, so it stays as it is. */
static void hw_writeback(void *ctx, uint32_t frame)
{
	struct vm_kernel *k = ctx;
	struct vm_page *pg = &k->pages[frame];

	if (pg->owner_kind == VM_OWNER_FILE)
		vm_file_writeback(k, pg->owner, pg->index, pg->index);
}

static const struct vm_evict_hw_ops kernel_hw = {
	.referenced = hw_referenced,
	.dirty = hw_dirty,
	.writeback = hw_writeback,
};

/* ---- LRU membership ---------------------------------------------------------- */

/* The page's identity for the policy's history (ghosts, shadow entries):
 * stable across runs (serial numbers, inode numbers, never pointers). */
static uint64_t page_key(const struct vm_page *pg)
{
	uint64_t id = 0;

	if (pg->owner_kind == VM_OWNER_ANON && pg->owner)
		id = ((const struct vm_anon_vma *)pg->owner)->serial << 1;
	else if (pg->owner_kind == VM_OWNER_FILE && pg->owner)
		id = ((const struct vm_file *)pg->owner)->ino << 1 | 1;
	return id * UINT64_C(0x9E3779B97F4A7C15) ^ pg->index;
}

static void ref_of(const struct vm_page *pg, struct vm_evict_ref *r)
{
	*r = (struct vm_evict_ref){ .key = page_key(pg), .next = VM_EVICT_NEVER };
	if (vm_page_test(pg, VM_PG_SWAPBACKED))
		r->flags |= VM_EVICT_REF_ANON;
}

bool vm_lru_belongs(const struct vm_kernel *k, const struct vm_page *pg)
{
	if (vm_page_test(pg, VM_PG_TAIL) || vm_page_test(pg, VM_PG_RESERVED) ||
	    vm_page_test(pg, VM_PG_PGTABLE) || vm_page_test(pg, VM_PG_BUDDY) || !pg->refcount)
		return false;
	/* A THP is one folio on the LRU, its head standing for it. */
	if (vm_page_test(pg, VM_PG_HEAD))
		return pg->order == VM_THP_ORDER && pg->owner_kind == VM_OWNER_ANON && k->swap;
	/* Linux: shmem folios are SwapBacked, on the anon lists
	 * (folio_is_file_lru() is false), which are not scanned without
	 * swap; the model keeps them off then, as anonymous pages. */
	if (pg->owner_kind == VM_OWNER_FILE)
		return pg->owner && (!((const struct vm_file *)pg->owner)->shmem || k->swap);
	return pg->owner_kind == VM_OWNER_ANON && k->swap;
}

void vm_lru_add(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_reclaim *r = k->reclaim;
	struct vm_page *pg = &k->pages[pfn];
	struct vm_evict_ref ref;

	if (!r || vm_page_test(pg, VM_PG_LRU) || !vm_lru_belongs(k, pg))
		return;
	/* The policy's per-frame tables are made when the first page comes:
	 * a large machine that never runs anything costs the host nothing. */
	if (!r->policy && vm_evict_create(r->ops, &r->params, &r->policy)) {
		r->lru_refused++;       /* no host memory: the page stays unreclaimable */
		return;
	}
	if (!r->next_tick)
		r->next_tick = r->policy->tick;
	ref_of(pg, &ref);
	vm_page_set(pg, VM_PG_LRU);
	r->lru_pages++;
	r->policy->now = r->clock;
	vm_evict_insert(r->policy, (uint32_t)pfn, &ref);
}

void vm_lru_del(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_reclaim *r = k->reclaim;
	struct vm_page *pg = &k->pages[pfn];

	if (!r || !r->policy || !vm_page_test(pg, VM_PG_LRU))
		return;
	vm_page_clear(pg, VM_PG_LRU);
	r->lru_pages--;
	r->policy->now = r->clock;
	vm_evict_remove(r->policy, (uint32_t)pfn, false);
}

static void maybe_tick(struct vm_reclaim *r)
{
	if (!r->policy || !(r->policy->ops->flags & VM_EVICT_TICKS) || r->clock < r->next_tick)
		return;
	r->next_tick = r->clock + r->policy->tick;
	r->policy->now = r->clock;
	r->policy->ops->tick(r->policy);
}

/* The frame the LRU knows pfn by: a THP's head for any of its pages. */
static uint64_t lru_frame(const struct vm_kernel *k, uint64_t pfn)
{
	uint64_t head = VM_ALIGN_DOWN(pfn, UINT64_C(1) << VM_THP_ORDER);

	if (!vm_page_test(&k->pages[pfn], VM_PG_TAIL) || !vm_page_test(&k->pages[head], VM_PG_HEAD))
		return pfn;
	return head;
}

void vm_lru_access(struct vm_kernel *k, uint64_t pfn, bool write)
{
	struct vm_reclaim *r = k->reclaim;

	if (!r)
		return;
	r->clock++;
	if (r->sees_accesses && r->policy && pfn < k->phys->nframes &&
	    vm_page_test(&k->pages[pfn = lru_frame(k, pfn)], VM_PG_LRU)) {
		struct vm_evict_ref ref;
		ref_of(&k->pages[pfn], &ref);
		if (write)
			ref.flags |= VM_EVICT_REF_WRITE;
		r->policy->now = r->clock;
		vm_evict_access(r->policy, (uint32_t)pfn, &ref);
	}
	maybe_tick(r);
}

void vm_lru_fault_tick(struct vm_kernel *k)
{
	if (k->reclaim)
		maybe_tick(k->reclaim);
}

/* ---- setup ------------------------------------------------------------------- */

int vm_reclaim_init(struct vm_kernel *k, const struct vm_settings *s)
{
	struct vm_reclaim *r = vm_host_calloc(k->host, 1, sizeof(*r));
	const struct vm_evict_ops *ops = vm_evict_at((unsigned)vm_settings_u64(s, VM_SET_POLICY));

	if (!r)
		return -ENOMEM;
	r->params = (struct vm_evict_params){
		.frames = (uint32_t)k->phys->nframes,
		.seed = vm_settings_u64(s, VM_SET_SEED),
		.swappiness = (unsigned)vm_settings_u64(s, VM_SET_SWAPPINESS),
		.swappiness_set = true,
		.host = k->host,
	};
	if (ops->flags & VM_EVICT_USES_ABITS) {
		r->params.hw = &kernel_hw;
		r->params.hw_ctx = k;
	}
	r->ops = ops;
	r->sees_accesses = ops->flags & VM_EVICT_SEES_ACCESSES;
	r->managed = k->buddy->free_frames;
	vm_reclaim_watermarks(r->managed, vm_settings_u64(s, VM_SET_WATERMARK_SCALE_FACTOR),
			      &r->min_free_kbytes, &r->wmark_min, &r->wmark_low, &r->wmark_high);
	k->reclaim = r;
	return 0;
}

void vm_reclaim_fini(struct vm_kernel *k)
{
	if (!k->reclaim)
		return;
	vm_evict_destroy(k->reclaim->policy);
	vm_host_free(k->host, k->reclaim);
	k->reclaim = NULL;
}
