/*
 * Memory pressure: the LRU (a replacement policy behind struct evict_ops
 * driven by the kernel), the zone watermarks, background (kswapd) and
 * direct reclaim, and the OOM killer.  docs/reclaim.md tells the story.
 *
 * Which frames are on the LRU (VM_PG_LRU, each inserted once into the
 * policy; vm_kernel_check recounts them):
 *   - every order-0 page-cache page (a file's, shmem's too);
 *   - every order-0 anonymous page, and every page in the swap cache, when
 *     the machine has swap (without swap Linux does not scan anonymous
 *     lists at all: get_scan_count's SCAN_FILE; the model keeps them off).
 * Transparent huge pages stay off until they are split.
 */
#ifndef VM_KERNEL_RECLAIM_H
#define VM_KERNEL_RECLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kernel.h"
#include "policy/evict.h"

/* Linux: SWAP_CLUSTER_MAX, the batch of one direct reclaim pass. */
#define VM_SWAP_CLUSTER_MAX 32u

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

/* Linux folio_add_lru(): pfn (order 0, a user page just made) enters the
 * LRU if it belongs there (see above).  Nothing for others. */
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

/* Reclaim up to nr pages (kswapd true: counted as kswapd's).  Returns the
 * frames freed.  The policy chooses; a page that cannot go (anonymous
 * without swap space, pinned, a mapping the reverse map cannot reach) is
 * put back.  Used by the allocation path and by tests. */
uint64_t vm_shrink_lru(struct vm_kernel *k, uint64_t nr, bool kswapd);

/* Linux rmap_walk() for a 4 KiB page: fn for every PTE mapping pfn
 * (anonymous: VMAs whose anon_vma chain holds the page's anon_vma, at
 * Linux's vma_address(); file: the file's VMAs).  fn may change or remove
 * the entry.  Returns the number of mappings visited. */
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
