/*
 * Memory pressure: the LRU (a replacement policy behind struct evict_ops
 * driven by the kernel), the zone watermarks, background (kswapd) and
 * direct reclaim, and the OOM killer.  docs/reclaim.md tells the story.
 *
 * Which frames are on the LRU (VM_PG_LRU, each inserted once into the
 * policy; vm_kernel_check recounts them, vm_lru_belongs says):
 *   - every order-0 page-cache page of a file with a backing store;
 *   - when the machine has swap, every order-0 anonymous page, every page
 *     in the swap cache, every shmem page (Linux: SwapBacked, on the anon
 *     lists), and every anonymous THP as one unit, its head frame standing
 *     for the 2 MiB folio.  Without swap Linux does not scan the anonymous
 *     lists at all (get_scan_count's SCAN_FILE); the model keeps them off.
 */
#ifndef VM_KERNEL_RECLAIM_H
#define VM_KERNEL_RECLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kernel.h"
#include "policy/evict.h"

/* Linux: SWAP_CLUSTER_MAX, the batch of one direct reclaim pass. */
#define VM_SWAP_CLUSTER_MAX 32u
/* Linux: HPAGE_PMD_ORDER, the order of a THP's block. */
#define VM_THP_ORDER 9u

struct vm_reclaim {
	const struct vm_evict_ops *ops; /* the `policy` setting */
	struct vm_evict_params params;
	struct vm_evict *policy;        /* frames = pfns; made with the first LRU page */
	bool sees_accesses;             /* the policy needs access() on every user access */
	uint64_t clock;                 /* virtual time: user accesses and faults so far */
	uint64_t next_tick;             /* clock of the next tick() (VM_EVICT_TICKS) */
	/* Zone watermarks in pages (Linux __setup_per_zone_wmarks). */
	uint64_t managed;               /* frames the allocator manages, reserved ones out */
	uint64_t min_free_kbytes;
	uint64_t wmark_min, wmark_low, wmark_high;
	bool busy;                      /* reclaim runs: its own frees do not recurse */
	uint64_t lru_pages;             /* frames with VM_PG_LRU; == policy->used */
	uint64_t lru_refused;           /* pages kept off because the host refused the policy */
};

/* Linux: init_per_zone_wmark_min() + __setup_per_zone_wmarks() for one
 * zone of `managed` pages: min_free_kbytes = int_sqrt(managed KiB * 16)
 * clamped to [128, 262144]; min = that in pages; delta = max(min / 4,
 * managed * wsf / 10000); low = min + delta, high = min + 2 delta. */
void vm_reclaim_watermarks(uint64_t managed, uint64_t watermark_scale_factor,
			   uint64_t *min_free_kbytes, uint64_t *min, uint64_t *low, uint64_t *high);

/* Set up the policy named by the `policy` setting and the watermarks;
 * 0, -ENOMEM.  fini frees it (NULL reclaim is fine). */
int vm_reclaim_init(struct vm_kernel *k, const struct vm_settings *s);
void vm_reclaim_fini(struct vm_kernel *k);

/* Does the in-use frame pg belong on the LRU (see above)? */
bool vm_lru_belongs(const struct vm_kernel *k, const struct vm_page *pg);
/* Linux folio_add_lru(): pfn (a user page just made: order 0, or the head
 * of a THP) enters the LRU if it belongs there (see above).  Nothing for
 * others. */
void vm_lru_add(struct vm_kernel *k, uint64_t pfn);
/* The page leaves the LRU (it is being freed): remove(frame, false). */
void vm_lru_del(struct vm_kernel *k, uint64_t pfn);
/* A user access hit pfn (for policies that see every access). */
void vm_lru_access(struct vm_kernel *k, uint64_t pfn, bool write);
/* A fault was handled: the clock advances (NRU and aging tick on it). */
void vm_lru_fault_tick(struct vm_kernel *k);

/* Linux's allocation slow path before a buddy allocation of 2^order frames
 * (__alloc_pages_slowpath): above the low watermark nothing happens; below
 * it kswapd runs (synchronously here) until free frames reach high; still
 * below min, the allocating task reclaims directly.  0 when the
 * allocation may go ahead (free - 2^order >= min), else -ENOMEM.  With
 * reclaim off (no vm_reclaim) always 0. */
int vm_reclaim_before_alloc(struct vm_kernel *k, unsigned order);

/* What one reclaim pass did (Linux struct scan_control's counts). */
struct vm_scan_control {
	uint64_t scanned;       /* pages taken off the LRU, a THP's 512 (pgscan) */
	uint64_t reclaimed;     /* pages reclaim freed (pgsteal) */
	uint64_t freed;         /* frames freed, reclaimed or not (a split's zero pages) */
};

/* Linux shrink_folio_list() for an anonymous THP (thp_reclaim.c): split
 * it (thp_split_page, thp_swpout_fallback, thp_split_pmd), map its zero
 * tails to the zero page, and swap every other piece out as an order-0
 * page; the pieces that cannot go are put back on the LRU.  false when
 * the THP could not be split (no swap, pinned, a mapping out of reach, no
 * frame for the page table): the caller puts it back whole. */
bool vm_reclaim_thp(struct vm_kernel *k, uint64_t head, struct vm_scan_control *sc);

/* Reclaim up to nr pages (kswapd true: counted as kswapd's).  Returns the
 * frames freed.  The policy chooses; a page that cannot go (anonymous
 * without swap space, pinned, a mapping the reverse map cannot reach) is
 * put back.  A THP chosen is split first and its 512 pages reclaimed in
 * the same pass (shrink_folio_list without THP_SWAP).  Used by the
 * allocation path and by tests. */
uint64_t vm_shrink_lru(struct vm_kernel *k, uint64_t nr, bool kswapd);

/* Linux rmap_walk() for a 4 KiB page or a THP's head: fn for every leaf
 * mapping pfn, a PTE or the THP's PMD (anonymous: VMAs whose anon_vma
 * chain holds the page's anon_vma, at Linux's vma_address(); file: the
 * file's VMAs).  fn may change or remove the entry.  Returns the number of
 * mappings visited. */
typedef void (*vm_rmap_fn)(struct vm_kernel *k, void *ctx, struct vm_vma *vma,
			   const struct vm_pt_leaf *leaf);
unsigned vm_rmap_walk(struct vm_kernel *k, uint64_t pfn, vm_rmap_fn fn, void *ctx);

/* Linux oom_badness(): rss + swap entries + page-table pages, plus
 * oom_score_adj * totalpages / 1000; LONG_MIN-like (-1) for an
 * unkillable process (oom_score_adj == -1000, no mm). */
int64_t vm_oom_badness(struct vm_kernel *k, const struct vm_proc *p, uint64_t totalpages);

/* Linux out_of_memory(): choose the process with the highest badness
 * (the first in the process table on a tie).  A victim with another mm
 * than cur's is killed with SIGKILL here, its reason recorded; cur's own
 * death is the caller's to carry out (it is in the middle of a fault).
 * Returns the victim, or NULL when there is none.  Counted in oom_kill. */
struct vm_proc *vm_out_of_memory(struct vm_kernel *k, struct vm_proc *cur);

#endif
