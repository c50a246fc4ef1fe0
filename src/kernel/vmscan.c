/*
 * Reclaim (Linux mm/vmscan.c shrink_folio_list, kswapd's balance_pgdat,
 * try_to_free_pages) and the watermarks that start it (mm/page_alloc.c
 * __setup_per_zone_wmarks, __alloc_pages_slowpath).  The policy chooses
 * the victims (lru.c); here each one is unmapped through the reverse map
 * and freed: a clean file page is dropped, a dirty one written back first,
 * an anonymous page goes to swap (swap.c), a THP is split first
 * (thp_reclaim.c), a dirty shmem page goes to swap (shmem_swap.c).
 */
#include "kernel/reclaim.h"

#include <errno.h>

#include "base/compiler.h"
#include "kernel/fault.h"
#include "kernel/rmap.h"
#include "kernel/shmem_swap.h"
#include "kernel/swap.h"
#include "kernel/vfs.h"

/* ---- watermarks ------------------------------------------------------------- */

static uint64_t int_sqrt(uint64_t x)
{
	uint64_t r = 0;

	for (uint64_t bit = UINT64_C(1) << 62; bit; bit >>= 2) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
	}
	return r;
}

void vm_reclaim_watermarks(uint64_t managed, uint64_t wsf, uint64_t *min_free_kbytes,
			   uint64_t *min, uint64_t *low, uint64_t *high)
{
	/* Linux: calculate_min_free_kbytes(), lowmem_kbytes from
	 * nr_free_buffer_pages() (the managed pages: no watermark yet). */
	uint64_t kb = int_sqrt(managed * 4 * 16);

	kb = VM_MAX(kb, UINT64_C(128));
	kb = VM_MIN(kb, UINT64_C(262144));
	*min_free_kbytes = kb;
	*min = kb >> 2;          /* pages_min = min_free_kbytes >> (PAGE_SHIFT - 10) */
	uint64_t delta = VM_MAX(*min / 4, managed * wsf / 10000);
	*low = *min + delta;
	*high = *min + 2 * delta;
}

/* ---- one page --------------------------------------------------------------- */

static void unmap_file_one(struct vm_kernel *k, void *ctx, struct vm_vma *vma,
			   const struct vm_pt_leaf *leaf)
{
	struct vm_pt *pt = &vma->mm->pt;

	(void)ctx;
	/* Linux: try_to_unmap_one() — ptep_clear_flush, the Dirty bit moved
	 * into the folio, the map count and RSS dropped. */
	vm_rmap_zap_leaf(k, vma, leaf);
	pt->ops->unmap(pt, leaf->va, leaf->va + VM_PAGE_SIZE, NULL, NULL);
	vm_flush_tlb_range(k, vma->mm, leaf->va, leaf->va + VM_PAGE_SIZE, k->cur_cpu);
}

/* Linux: shrink_folio_list() for a page-cache page: unmap it everywhere,
 * write it back if dirty (pageout), then __remove_mapping().  A shmem
 * page has no file to go to: dirty, it goes to swap (shmem_writeout);
 * clean, it was never written and holds zeroes, so it is dropped, a hole
 * again ("the mm can drop undirtied hole pages behind our back":
 * shmem_recalc_inode). */
static bool reclaim_file(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_page *pg = &k->pages[pfn];
	struct vm_file *f = pg->owner;
	uint64_t index = pg->index;

	if (!f || (f->shmem && !k->swap))
		return false;
	if (vm_rmap_walk(k, pfn, NULL, NULL) != (unsigned)pg->mapcount ||
	    pg->refcount != 1 + (uint32_t)pg->mapcount)
		return false;       /* a mapping out of reach, or pinned */
	vm_rmap_walk(k, pfn, unmap_file_one, NULL);
	if (f->shmem && vm_page_test(pg, VM_PG_DIRTY))
		return vm_shmem_writeout(k, pfn) == 0;
	if (vm_page_test(pg, VM_PG_DIRTY)) {
		vm_file_writeback(k, f, index, index);
		if (vm_page_test(pg, VM_PG_DIRTY))
			return false;      /* nowhere to write it: stays cached */
	}
	vm_u64map_del(&f->cache, index, NULL);
	f->cached_pages--;
	/* The page must be read again: warm files remember it is gone. */
	if (f->warm && !f->shmem && vm_u64map_put(&f->uncached, index, 1)) {
		vm_u64map_put(&f->cache, index, pfn);
		f->cached_pages++;
		return false;
	}
	vm_page_put(k, pfn);
	return true;
}

/* One frame the policy chose: true when it is dealt with (freed, or a
 * THP split and its pieces reclaimed or put back), false to put it back. */
static bool reclaim_page(struct vm_kernel *k, uint64_t pfn, struct vm_scan_control *sc)
{
	struct vm_page *pg = &k->pages[pfn];
	bool freed = false;

	if (pg->refcount == 0 || vm_page_test(pg, VM_PG_TAIL))
		return false;
	if (vm_page_test(pg, VM_PG_HEAD)) {
		/* isolate_lru_folios() counts a folio's pages as scanned. */
		sc->scanned += UINT64_C(1) << pg->order;
		return pg->owner_kind == VM_OWNER_ANON && vm_reclaim_thp(k, pfn, sc);
	}
	sc->scanned++;
	if (pg->owner_kind == VM_OWNER_FILE)
		freed = reclaim_file(k, pfn);
	else if (pg->owner_kind == VM_OWNER_ANON && k->swap)
		freed = vm_swap_out(k, pfn) == 0;
	sc->reclaimed += freed;
	sc->freed += freed;
	return freed;
}

/* ---- the scan -------------------------------------------------------------- */

uint64_t vm_shrink_lru(struct vm_kernel *k, uint64_t nr, bool kswapd)
{
	struct vm_reclaim *r = k->reclaim;
	struct vm_scan_control sc = { 0 };

	if (!r || r->busy || !r->policy)
		return 0;
	r->busy = true;
	/* Each page may be chosen twice (a second chance) before the scan
	 * gives up: what cannot go is put back at the end of the queue. */
	uint64_t budget = 2 * r->lru_pages + 2;
	while ((sc.freed < nr || r->policy->more) && r->policy->used && budget--) {
		r->policy->now = r->clock;
		uint32_t frame = vm_evict_choose(r->policy, NULL);
		if (frame == VM_EVICT_NONE || frame >= k->phys->nframes)
			break;
		vm_evict_remove(r->policy, frame, true);
		vm_page_clear(&k->pages[frame], VM_PG_LRU);
		r->lru_pages--;
		if (!reclaim_page(k, frame, &sc)) {
			/* Linux: folio_putback_lru(). */
			k->stats->lru_putback++;
			vm_lru_add(k, frame);
		}
	}
	r->busy = false;
	if (kswapd) {
		k->stats->pgscan_kswapd += sc.scanned;
		k->stats->pgsteal_kswapd += sc.reclaimed;
	} else {
		k->stats->pgscan_direct += sc.scanned;
		k->stats->pgsteal_direct += sc.reclaimed;
	}
	return sc.freed;
}

/* ---- the allocation slow path ----------------------------------------------- */

/* Linux: __zone_watermark_ok() without reserves: after taking 2^order
 * frames at least `mark` stay free. */
static bool watermark_ok(const struct vm_kernel *k, uint64_t n, uint64_t mark)
{
	uint64_t free = k->buddy->free_frames;

	return free >= n && free - n >= mark;
}

int vm_reclaim_before_alloc(struct vm_kernel *k, unsigned order)
{
	struct vm_reclaim *r = k->reclaim;
	uint64_t n = UINT64_C(1) << order;

	if (order > VM_MAX_ORDER)
		return -EINVAL;
	if (!r || r->busy || watermark_ok(k, n, r->wmark_low))
		return 0;
	/* Linux: wake_all_kswapds() — kswapd balances the zone to the high
	 * watermark (balance_pgdat: free - (2^order - 1) > high, after this
	 * allocation).  Modelled synchronously, before the allocation, so
	 * that it leaves high + 1 free once the 2^order frames are taken. */
	k->stats->pageoutrun++;
	if (!watermark_ok(k, n, r->wmark_high + 1)) {
		uint64_t free = k->buddy->free_frames;
		vm_shrink_lru(k, r->wmark_high + 1 + n - free, true);
	}
	/* Linux: get_page_from_freelist(ALLOC_WMARK_MIN), else
	 * __alloc_pages_direct_reclaim (SWAP_CLUSTER_MAX a pass) while it
	 * makes progress; failing that, the OOM killer (the fault path). */
	while (!watermark_ok(k, n, r->wmark_min)) {
		k->stats->allocstall++;
		uint64_t free = k->buddy->free_frames;
		uint64_t want = r->wmark_min + n > free ? r->wmark_min + n - free : 1;
		if (!vm_shrink_lru(k, VM_MAX(want, (uint64_t)VM_SWAP_CLUSTER_MAX), false))
			return -ENOMEM;
	}
	return 0;
}
