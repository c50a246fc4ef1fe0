/*
 * Swap: the area and its slots (Linux mm/swapfile.c), the swap cache and
 * swap-in with readahead (mm/swap_state.c, do_swap_page in mm/memory.c),
 * swap-out of an anonymous page through the reverse map (try_to_unmap +
 * pageout).  Contract and counting rules in swap.h.
 */
#include "kernel/swap.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "kernel/anon_vma.h"
#include "kernel/fault_internal.h"
#include "kernel/reclaim.h"
#include "kernel/rmap.h"

/* ---- the area and its slots ------------------------------------------------- */

int vm_swap_init(struct vm_kernel *k, uint64_t bytes, unsigned page_cluster)
{
	uint64_t n = bytes >> VM_PAGE_SHIFT;
	struct vm_swap *s;

	if (n < 2)
		return -EINVAL;
	s = vm_host_calloc(k->host, 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->nslots = n;
	s->prio = -2;             /* swapon without a priority: -2, -3, ... */
	s->page_cluster = page_cluster;
	s->cursor = 1;
	s->map = vm_host_calloc(k->host, n, sizeof(*s->map));
	s->owner = vm_host_calloc(k->host, n, sizeof(*s->owner));
	s->index = vm_host_calloc(k->host, n, sizeof(*s->index));
	vm_u64map_init(&s->data, k->host);
	vm_u64map_init(&s->cache, k->host);
	vm_u64map_init(&s->cache_rev, k->host);
	k->swap = s;
	if (!s->map || !s->owner || !s->index) {
		vm_swap_fini(k);
		return -ENOMEM;
	}
	return 0;
}

void vm_swap_fini(struct vm_kernel *k)
{
	struct vm_swap *s = k->swap;
	uint64_t pos = 0, off, buf;

	if (!s)
		return;
	while (vm_u64map_next(&s->data, &pos, &off, &buf))
		vm_host_free(k->host, (void *)(uintptr_t)buf);
	vm_u64map_fini(&s->data);
	vm_u64map_fini(&s->cache);
	vm_u64map_fini(&s->cache_rev);
	vm_host_free(k->host, s->map);
	vm_host_free(k->host, s->owner);
	vm_host_free(k->host, s->index);
	vm_host_free(k->host, s);
	k->swap = NULL;
}

/* Linux: scan_swap_map_slots() — the next free slot after the last one
 * given (next fit; the cluster allocator's placement is not modelled).
 * 0 = none (slot 0 is the header). */
static uint64_t get_swap_page(struct vm_swap *s)
{
	for (uint64_t i = 0; i < s->nslots - 1; i++) {
		uint64_t off = s->cursor;
		s->cursor = off + 1 < s->nslots ? off + 1 : 1;
		if (!s->map[off] && !vm_u64map_get(&s->cache, off, NULL)) {
			s->inuse++;
			return off;
		}
	}
	return 0;
}

static void slot_release(struct vm_kernel *k, uint64_t off)
{
	struct vm_swap *s = k->swap;
	uint64_t buf;

	if (vm_u64map_del(&s->data, off, &buf))
		vm_host_free(k->host, (void *)(uintptr_t)buf);
	s->owner[off] = NULL;
	s->inuse--;
}

/* The swap cache lets go of pfn (its reference put). */
static void cache_del(struct vm_kernel *k, uint64_t off, uint64_t pfn)
{
	vm_u64map_del(&k->swap->cache, off, NULL);
	vm_u64map_del(&k->swap->cache_rev, pfn, NULL);
	vm_page_put(k, pfn);
}

/* Linux: swap_free() / free_swap_and_cache(): one entry less; with the
 * last one the slot is free, and the cached page leaves the cache. */
static void swap_put(struct vm_kernel *k, uint64_t off)
{
	struct vm_swap *s = k->swap;
	uint64_t pfn;

	if (!s->map[off] || --s->map[off])
		return;
	if (vm_u64map_get(&s->cache, off, &pfn))
		cache_del(k, off, pfn);
	slot_release(k, off);
}

bool vm_swap_cached(const struct vm_kernel *k, uint64_t pfn)
{
	return k->swap && vm_u64map_get(&k->swap->cache_rev, pfn, NULL);
}

void vm_swap_cache_forget(struct vm_kernel *k, uint64_t pfn)
{
	uint64_t off;

	if (k->swap && vm_u64map_get(&k->swap->cache_rev, pfn, &off))
		cache_del(k, off, pfn);
}

/* ---- entries in address spaces --------------------------------------------- */

bool vm_swap_pte_at(const struct vm_mm *mm, vm_vaddr va, vm_pte *out)
{
	return vm_u64map_count(&mm->swap_ptes) && vm_u64map_get(&mm->swap_ptes, va >> VM_PAGE_SHIFT, &out->v);
}

uint64_t vm_swap_count(const struct vm_mm *mm, vm_vaddr start, vm_vaddr end)
{
	uint64_t pos = 0, vpn, v, n = 0;

	while (vm_u64map_count(&mm->swap_ptes) && vm_u64map_next(&mm->swap_ptes, &pos, &vpn, &v))
		n += vpn >= start >> VM_PAGE_SHIFT && vpn < end >> VM_PAGE_SHIFT;
	return n;
}

bool vm_swap_any(const struct vm_mm *mm, vm_vaddr start, vm_vaddr end)
{
	uint64_t pos = 0, vpn, v;

	/* The THP fault path asks this: stop at the first entry found. */
	while (vm_u64map_count(&mm->swap_ptes) && vm_u64map_next(&mm->swap_ptes, &pos, &vpn, &v))
		if (vpn >= start >> VM_PAGE_SHIFT && vpn < end >> VM_PAGE_SHIFT)
			return true;
	return false;
}

void vm_swap_zap(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start, vm_vaddr end)
{
	uint64_t pos = 0, vpn, v;

	while (vm_u64map_count(&mm->swap_ptes) && vm_u64map_next(&mm->swap_ptes, &pos, &vpn, &v)) {
		if (vpn < start >> VM_PAGE_SHIFT || vpn >= end >> VM_PAGE_SHIFT)
			continue;
		vm_u64map_del(&mm->swap_ptes, vpn, NULL);
		vm_u64map_next_after_del(&pos);
		mm->rss[VM_RSS_SWAP]--;
		if (k->swap)
			swap_put(k, vm_swp_pte_offset((vm_pte){ v }));
	}
}

int vm_swap_fork(struct vm_kernel *k, struct vm_mm *dst, struct vm_mm *src, vm_vaddr start,
		 vm_vaddr end)
{
	uint64_t pos = 0, vpn, v;

	while (vm_u64map_count(&src->swap_ptes) && vm_u64map_next(&src->swap_ptes, &pos, &vpn, &v)) {
		if (vpn < start >> VM_PAGE_SHIFT || vpn >= end >> VM_PAGE_SHIFT)
			continue;
		uint64_t off = vm_swp_pte_offset((vm_pte){ v });
		if (!k->swap || k->swap->map[off] == UINT16_MAX)
			return -ENOMEM;     /* swap_count_continuation is not modelled */
		if (vm_u64map_put(&dst->swap_ptes, vpn, v))
			return -ENOMEM;
		k->swap->map[off]++;        /* swap_duplicate() */
		dst->rss[VM_RSS_SWAP]++;
	}
	return 0;
}

int vm_swap_move(struct vm_mm *mm, vm_vaddr old, vm_vaddr new, uint64_t len)
{
	uint64_t pos = 0, vpn, v, first = old >> VM_PAGE_SHIFT, n = len >> VM_PAGE_SHIFT;
	struct vm_host *host = mm->k->host;
	uint64_t cnt = vm_swap_count(mm, old, old + len), i = 0;

	if (!cnt)
		return 0;
	/* Everything that can fail comes first, so that a failure moves
	 * nothing: the buffer, and room for the new keys beside the old. */
	uint64_t *moved = vm_host_calloc(host, cnt, 2 * sizeof(uint64_t));
	if (!moved || vm_u64map_reserve(&mm->swap_ptes, vm_u64map_count(&mm->swap_ptes) + cnt)) {
		vm_host_free(host, moved);
		return -ENOMEM;
	}
	while (vm_u64map_next(&mm->swap_ptes, &pos, &vpn, &v)) {
		if (vpn < first || vpn - first >= n)
			continue;
		vm_u64map_del(&mm->swap_ptes, vpn, NULL);
		vm_u64map_next_after_del(&pos);
		moved[2 * i] = vpn - first + (new >> VM_PAGE_SHIFT);
		moved[2 * i + 1] = v;
		i++;
	}
	for (uint64_t j = 0; j < i; j++)
		(void)vm_u64map_put(&mm->swap_ptes, moved[2 * j], moved[2 * j + 1]); /* reserved */
	vm_host_free(host, moved);
	return 0;
}

/* ---- swap-out --------------------------------------------------------------- */

struct swapout {
	uint64_t off;
	int err;
};

/* Linux: try_to_unmap_one() for an anonymous page: the PTE becomes the
 * swap entry (swap_duplicate for each), the TLB entry goes. */
static void unmap_anon_one(struct vm_kernel *k, void *ctx, struct vm_vma *vma,
			   const struct vm_pt_leaf *leaf)
{
	struct swapout *so = ctx;
	struct vm_mm *mm = vma->mm;
	struct vm_pt *pt = &mm->pt;
	uint64_t pfn = pte_pfn(leaf->pte);
	struct vm_page *pg = &k->pages[pfn];

	if (k->swap->map[so->off] == UINT16_MAX ||
	    vm_u64map_put(&mm->swap_ptes, leaf->va >> VM_PAGE_SHIFT, vm_swp_pte(0, so->off).v)) {
		so->err = -ENOMEM;
		return;
	}
	k->swap->map[so->off]++;
	pt->ops->unmap(pt, leaf->va, leaf->va + VM_PAGE_SIZE, NULL, NULL);
	vm_flush_tlb_range(k, mm, leaf->va, leaf->va + VM_PAGE_SIZE, k->cur_cpu);
	pg->mapcount--;
	mm->rss[VM_RSS_ANON]--;
	mm->rss[VM_RSS_SWAP]++;
	vm_page_put(k, pfn);
}

/* Linux: swap_writepage(): the page's bytes into the slot. */
static int write_slot(struct vm_kernel *k, uint64_t off, uint64_t pfn)
{
	struct vm_swap *s = k->swap;
	uint64_t buf = 0;

	if (k->phys->data) {
		if (!vm_u64map_get(&s->data, off, &buf)) {
			void *p = vm_host_calloc(k->host, 1, VM_PAGE_SIZE);
			if (!p)
				return -ENOMEM;
			buf = (uint64_t)(uintptr_t)p;
			if (vm_u64map_put(&s->data, off, buf)) {
				vm_host_free(k->host, p);
				return -ENOMEM;
			}
		}
		vm_phys_read(k->phys, (vm_paddr){ pfn << VM_PAGE_SHIFT }, (void *)(uintptr_t)buf,
			     VM_PAGE_SIZE);
	}
	k->stats->pswpout++;
	return 0;
}

int vm_swap_out(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_swap *s = k->swap;
	struct vm_page *pg = &k->pages[pfn];
	uint64_t off = 0;
	bool cached = s && vm_u64map_get(&s->cache_rev, pfn, &off);

	if (!s)
		return -ENOSPC;
	if (vm_rmap_walk(k, pfn, NULL, NULL) != (unsigned)pg->mapcount ||
	    pg->refcount != (uint32_t)pg->mapcount + cached)
		return -EBUSY;
	if (!cached) {
		/* Linux: folio_alloc_swap() + add_to_swap_cache(). */
		off = get_swap_page(s);
		if (!off)
			return -ENOSPC;
		s->owner[off] = pg->owner;
		s->index[off] = pg->index;
		if (vm_u64map_put(&s->cache, off, pfn) || vm_u64map_put(&s->cache_rev, pfn, off)) {
			vm_u64map_del(&s->cache, off, NULL);
			slot_release(k, off);
			return -ENOMEM;
		}
		vm_page_get(k, pfn);
	}
	/* A page in the swap cache was never written since it came in (it is
	 * mapped read-only while cached), so its slot still holds it. */
	if (!cached && write_slot(k, off, pfn)) {
		cache_del(k, off, pfn);
		slot_release(k, off);
		return -ENOMEM;
	}
	struct swapout so = { .off = off };
	vm_page_get(k, pfn);            /* hold it while the mappings go */
	vm_rmap_walk(k, pfn, unmap_anon_one, &so);
	vm_page_put(k, pfn);
	if (pg->mapcount > 0)
		return -EBUSY;           /* stays in the swap cache, partly mapped */
	/* Linux: __remove_mapping() — out of the swap cache, freed. */
	cache_del(k, off, pfn);
	if (!s->map[off])
		slot_release(k, off);
	return 0;
}

/* ---- swap-in ----------------------------------------------------------------- */

/* Read slot off into a new frame in the swap cache (Linux
 * __read_swap_cache_async + swap_read_folio).  0 and *pfn, or -ENOMEM. */
static int read_slot(struct vm_kernel *k, uint64_t off, uint64_t *pfn)
{
	struct vm_swap *s = k->swap;
	uint64_t buf;
	int err = vm_page_alloc(k, 0, pfn);

	if (err)
		return err;
	if (vm_u64map_put(&s->cache, off, *pfn) || vm_u64map_put(&s->cache_rev, *pfn, off)) {
		vm_u64map_del(&s->cache, off, NULL);
		vm_page_put(k, *pfn);
		return -ENOMEM;
	}
	if (k->phys->data && vm_u64map_get(&s->data, off, &buf))
		vm_phys_write(k->phys, (vm_paddr){ *pfn << VM_PAGE_SHIFT },
			      (const void *)(uintptr_t)buf, VM_PAGE_SIZE);
	struct vm_page *pg = &k->pages[*pfn];
	pg->owner_kind = VM_OWNER_ANON;
	pg->owner = s->owner[off];
	pg->index = s->index[off];
	vm_page_set(pg, VM_PG_SWAPBACKED);
	k->stats->pswpin++;
	vm_lru_add(k, *pfn);
	return 0;
}

/* Linux: swap_cluster_readahead() — the aligned cluster of 2^page_cluster
 * slots around off, each slot in use and not cached read too. */
static void swap_readahead(struct vm_kernel *k, uint64_t off)
{
	struct vm_swap *s = k->swap;
	uint64_t n = UINT64_C(1) << s->page_cluster, start = off & ~(n - 1), pfn;

	if (n <= 1)
		return;
	for (uint64_t o = start; o < start + n && o < s->nslots; o++) {
		if (o == off || o == 0 || !s->map[o] || vm_u64map_get(&s->cache, o, NULL))
			continue;
		if (read_slot(k, o, &pfn))
			break;
		k->stats->swap_ra++;
	}
}

unsigned vm_do_swap_page(struct vm_fault *vmf, vm_pte entry)
{
	struct vm_kernel *k = vmf->k;
	struct vm_swap *s = k->swap;
	struct vm_mm *mm = vmf->mm;
	uint64_t off = vm_swp_pte_offset(entry), pfn;
	bool major = false;

	if (!s || vm_swp_pte_type(entry) != 0 || off == 0 || off >= s->nslots || !s->map[off])
		return VM_FAULT_SIGBUS;      /* Linux: a bad swap entry */
	if (!vm_u64map_get(&s->cache, off, &pfn)) {
		if (read_slot(k, off, &pfn))
			return VM_FAULT_OOM;
		major = true;
		vm_page_get(k, pfn);         /* readahead's allocations must not reclaim it */
		swap_readahead(k, off);
		vm_page_put(k, pfn);
	} else {
		k->stats->swap_ra_hit++;
	}
	struct vm_page *pg = &k->pages[pfn];
	/* Linux: exclusive when this entry is the last user of the slot and
	 * nobody maps the page: writable at once (dirty on a write). */
	bool exclusive = s->map[off] == 1 && pg->mapcount == 0;
	uint64_t prot = vm_fault_prot(vmf, exclusive, exclusive && fault_write(vmf));
	vm_u64map_del(&mm->swap_ptes, vmf->address >> VM_PAGE_SHIFT, NULL);
	unsigned ret = vm_fault_map(vmf, pfn, prot);
	if (ret) {
		vm_u64map_put(&mm->swap_ptes, vmf->address >> VM_PAGE_SHIFT, entry.v);
		return ret;
	}
	if (!pg->owner || (!pg->mapcount && !vm_anon_vma_in_chain(vmf->vma, pg->owner))) {
		pg->owner = vmf->vma->anon;
		pg->index = vmf->address >> VM_PAGE_SHIFT;
	}
	vm_page_get(k, pfn);
	pg->mapcount++;
	mm->rss[VM_RSS_ANON]++;
	mm->rss[VM_RSS_SWAP]--;
	if (exclusive)
		vm_page_set(pg, VM_PG_ANON_EXCLUSIVE);
	else
		vm_page_clear(pg, VM_PG_ANON_EXCLUSIVE);
	swap_put(k, off);
	return major ? VM_FAULT_MAJOR : 0;
}

/* ---- shmem (shmem_swap.c) ------------------------------------------------------ */

int vm_swap_shmem_write(struct vm_kernel *k, uint64_t pfn, vm_pte *entry)
{
	struct vm_swap *s = k->swap;

	if (!s)
		return -ENOSPC;
	/* Linux: folio_alloc_swap(), then swap_duplicate for the shmem
	 * index's entry (shmem_writeout), then swap_writeout(). */
	uint64_t off = get_swap_page(s);
	if (!off)
		return -ENOSPC;
	s->owner[off] = NULL;         /* no anon_vma: the object holds the entry */
	s->index[off] = 0;
	if (write_slot(k, off, pfn)) {
		slot_release(k, off);
		return -ENOMEM;
	}
	s->map[off] = 1;
	*entry = vm_swp_pte(0, off);
	return 0;
}

/* The slot of a swap entry a shmem index holds, or 0 when it is bad. */
static uint64_t shmem_slot(const struct vm_kernel *k, vm_pte entry)
{
	uint64_t off = vm_swp_pte_offset(entry);

	if (!k->swap || vm_swp_pte_type(entry) != 0 || off == 0 || off >= k->swap->nslots ||
	    !k->swap->map[off])
		return 0;
	return off;
}

int vm_swap_shmem_read(struct vm_kernel *k, vm_pte entry, bool fault, uint64_t *pfn,
		       bool *major)
{
	uint64_t off = shmem_slot(k, entry);

	*major = false;
	if (!off)
		return -EINVAL;
	if (vm_u64map_get(&k->swap->cache, off, pfn)) {
		k->stats->swap_ra_hit += fault;
	} else {
		/* Linux: shmem_swapin_cluster() -> swap_cluster_readahead() for
		 * a fault, read_swap_cache_async() alone for WILLNEED. */
		int err = read_slot(k, off, pfn);
		if (err)
			return err;
		*major = true;
		vm_page_get(k, *pfn);
		if (fault)
			swap_readahead(k, off);
		vm_page_put(k, *pfn);
	}
	vm_page_get(k, *pfn);
	return 0;
}

void vm_swap_shmem_free(struct vm_kernel *k, vm_pte entry)
{
	uint64_t off = shmem_slot(k, entry);

	if (off)
		swap_put(k, off);
}
