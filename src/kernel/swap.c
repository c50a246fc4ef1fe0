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
#include "kernel/mm_internal.h"
#include "kernel/reclaim.h"
#include "kernel/rmap.h"
#include "kernel/swap_internal.h"

/* ---- the areas and their slots ----------------------------------------------- */

static void area_fini(struct vm_kernel *k, struct vm_swap_area *a)
{
	uint64_t pos = 0, off, buf;

	while (vm_u64map_next(&a->data, &pos, &off, &buf))
		vm_host_free(k->host, (void *)(uintptr_t)buf);
	vm_u64map_fini(&a->data);
	vm_u64map_fini(&a->cache);
	vm_host_free(k->host, a->map);
	vm_host_free(k->host, a->owner);
	vm_host_free(k->host, a->index);
}

/* Linux: plist_add() on swap_avail_heads — after the areas of the same
 * priority, so equal ones are used in swapon order first. */
static void avail_add(struct vm_swap *s, unsigned n, unsigned type)
{
	unsigned i = n;

	while (i > 0 && s->area[s->avail[i - 1]].prio < s->area[type].prio) {
		s->avail[i] = s->avail[i - 1];
		i--;
	}
	s->avail[i] = type;
}

/* Linux: plist_requeue() — the area at avail[pos] goes after the last of
 * its priority (round-robin among equals). */
static void avail_requeue(struct vm_swap *s, unsigned pos)
{
	unsigned type = s->avail[pos];

	while (pos + 1 < s->nareas && s->area[s->avail[pos + 1]].prio == s->area[type].prio) {
		s->avail[pos] = s->avail[pos + 1];
		pos++;
	}
	s->avail[pos] = type;
}

/* Linux: swapon() -> setup_swap_info() for area `type` of spec. */
static int area_init(struct vm_kernel *k, const struct vm_swap_spec *spec, unsigned type,
		     int *least_priority)
{
	struct vm_swap *s = k->swap;
	struct vm_swap_area *a = &s->area[type];
	uint64_t n = spec->area[type].bytes >> VM_PAGE_SHIFT;

	a->type = type;
	a->prio = spec->area[type].prio >= 0 ? spec->area[type].prio : --*least_priority;
	a->nslots = n;
	a->cursor = 1;
	vm_u64map_init(&a->data, k->host);
	vm_u64map_init(&a->cache, k->host);
	a->map = vm_host_calloc(k->host, n, sizeof(*a->map));
	a->owner = vm_host_calloc(k->host, n, sizeof(*a->owner));
	a->index = vm_host_calloc(k->host, n, sizeof(*a->index));
	s->nareas++;
	if (!a->map || !a->owner || !a->index)
		return -ENOMEM;
	avail_add(s, type, type);
	s->pages += n - 1;
	return 0;
}

int vm_swap_init(struct vm_kernel *k, const struct vm_swap_spec *spec, unsigned page_cluster)
{
	struct vm_swap *s;
	int least_priority = -1;       /* Linux: the first default is --least_priority = -2 */

	if (!spec || vm_swap_spec_check(spec, NULL, 0))
		return -EINVAL;
	if (!spec->n)
		return 0;
	s = vm_host_calloc(k->host, 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->page_cluster = page_cluster;
	vm_u64map_init(&s->cache_rev, k->host);
	k->swap = s;
	for (unsigned i = 0; i < spec->n; i++) {
		if (area_init(k, spec, i, &least_priority)) {
			vm_swap_fini(k);
			return -ENOMEM;
		}
	}
	return 0;
}

void vm_swap_fini(struct vm_kernel *k)
{
	struct vm_swap *s = k->swap;

	if (!s)
		return;
	for (unsigned i = 0; i < s->nareas; i++)
		area_fini(k, &s->area[i]);
	vm_u64map_fini(&s->cache_rev);
	vm_host_free(k->host, s);
	k->swap = NULL;
}

struct vm_swap_area *vm_swap_area_of(const struct vm_kernel *k, vm_pte entry)
{
	unsigned type = vm_swp_pte_type(entry);
	uint64_t off = vm_swp_pte_offset(entry);

	if (!k->swap || type >= k->swap->nareas || off == 0 || off >= k->swap->area[type].nslots)
		return NULL;
	return &k->swap->area[type];
}

static bool area_full(const struct vm_swap_area *a)
{
	return a->inuse == a->nslots - 1;
}

static bool slot_cached(const struct vm_swap_area *a, uint64_t off, uint64_t *pfn)
{
	return vm_u64map_get(&a->cache, off, pfn);
}

/* Linux: scan_swap_map_slots() — the next free slot after the last one
 * given (next fit; the cluster allocator's placement is not modelled).
 * The area is not full. */
static uint64_t scan_swap_map(struct vm_swap *s, struct vm_swap_area *a)
{
	for (;;) {
		uint64_t off = a->cursor;
		a->cursor = off + 1 < a->nslots ? off + 1 : 1;
		if (!a->map[off] && !slot_cached(a, off, NULL)) {
			a->inuse++;
			s->inuse++;
			return off;
		}
	}
}

/* Linux: get_swap_pages() — the first area on swap_avail_heads with a free
 * slot (full areas are off that list), requeued behind its equals.  NULL
 * when every area is full. */
static struct vm_swap_area *get_swap_page(struct vm_swap *s, uint64_t *off)
{
	for (unsigned i = 0; i < s->nareas; i++) {
		struct vm_swap_area *a = &s->area[s->avail[i]];
		if (area_full(a))
			continue;
		avail_requeue(s, i);
		*off = scan_swap_map(s, a);
		return a;
	}
	return NULL;
}

static void slot_release(struct vm_kernel *k, struct vm_swap_area *a, uint64_t off)
{
	struct vm_swap *s = k->swap;
	uint64_t buf;

	if (vm_u64map_del(&a->data, off, &buf))
		vm_host_free(k->host, (void *)(uintptr_t)buf);
	a->owner[off] = NULL;
	/* Linux: swap_range_free() -> add_to_avail_list(): a full area comes
	 * back on the list behind the others of its priority. */
	if (area_full(a)) {
		unsigned i = 0;
		while (s->avail[i] != a->type)
			i++;
		avail_requeue(s, i);
	}
	a->inuse--;
	s->inuse--;
}

/* The swap cache lets go of pfn (its reference put). */
static void cache_del(struct vm_kernel *k, struct vm_swap_area *a, uint64_t off, uint64_t pfn)
{
	vm_u64map_del(&a->cache, off, NULL);
	vm_u64map_del(&k->swap->cache_rev, pfn, NULL);
	vm_page_put(k, pfn);
}

/* Linux: add_to_swap_cache(): pfn holds slot off; the cache's reference is
 * the caller's to take.  0 or -ENOMEM (nothing added). */
static int cache_add(struct vm_kernel *k, struct vm_swap_area *a, uint64_t off, uint64_t pfn)
{
	if (vm_u64map_put(&a->cache, off, pfn) ||
	    vm_u64map_put(&k->swap->cache_rev, pfn, vm_swp_pte(a->type, off).v)) {
		vm_u64map_del(&a->cache, off, NULL);
		return -ENOMEM;
	}
	return 0;
}

/* Linux: swap_free() / free_swap_and_cache(): one entry less; with the
 * last one the slot is free, and the cached page leaves the cache. */
void vm_swap_put(struct vm_kernel *k, struct vm_swap_area *a, uint64_t off)
{
	uint64_t pfn;

	if (!a->map[off] || --a->map[off])
		return;
	if (slot_cached(a, off, &pfn))
		cache_del(k, a, off, pfn);
	slot_release(k, a, off);
}

bool vm_swap_cached(const struct vm_kernel *k, uint64_t pfn)
{
	return k->swap && vm_u64map_get(&k->swap->cache_rev, pfn, NULL);
}

void vm_swap_cache_forget(struct vm_kernel *k, uint64_t pfn)
{
	uint64_t v;

	if (k->swap && vm_u64map_get(&k->swap->cache_rev, pfn, &v)) {
		vm_pte e = { v };
		cache_del(k, &k->swap->area[vm_swp_pte_type(e)], vm_swp_pte_offset(e), pfn);
	}
}

/* ---- swap-out --------------------------------------------------------------- */

struct swapout {
	struct vm_swap_area *a;
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

	/* The PTE's table is there: the entry replaces the leaf in place. */
	if (so->a->map[so->off] == UINT16_MAX ||
	    pt->ops->set_pte(pt, leaf->va, vm_swp_pte(so->a->type, so->off))) {
		so->err = -ENOMEM;
		return;
	}
	so->a->map[so->off]++;
	vm_flush_tlb_range(k, mm, leaf->va, leaf->va + VM_PAGE_SIZE, k->cur_cpu);
	pg->mapcount--;
	mm->rss[VM_RSS_ANON]--;
	mm->rss[VM_RSS_SWAP]++;
	vm_page_put(k, pfn);
}

/* Linux: swap_writepage(): the page's bytes into the slot. */
static int write_slot(struct vm_kernel *k, struct vm_swap_area *a, uint64_t off, uint64_t pfn)
{
	uint64_t buf = 0;

	if (k->phys->data) {
		if (!vm_u64map_get(&a->data, off, &buf)) {
			void *p = vm_host_calloc(k->host, 1, VM_PAGE_SIZE);
			if (!p)
				return -ENOMEM;
			buf = (uint64_t)(uintptr_t)p;
			if (vm_u64map_put(&a->data, off, buf)) {
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
	struct vm_swap_area *a = NULL;
	uint64_t off = 0, v;
	bool cached = s && vm_u64map_get(&s->cache_rev, pfn, &v);

	if (!s)
		return -ENOSPC;
	if (vm_rmap_walk(k, pfn, NULL, NULL) != (unsigned)pg->mapcount ||
	    pg->refcount != (uint32_t)pg->mapcount + cached)
		return -EBUSY;
	if (cached) {
		a = &s->area[vm_swp_pte_type((vm_pte){ v })];
		off = vm_swp_pte_offset((vm_pte){ v });
	} else {
		/* Linux: folio_alloc_swap() + add_to_swap_cache(). */
		a = get_swap_page(s, &off);
		if (!a)
			return -ENOSPC;
		a->owner[off] = pg->owner;
		a->index[off] = pg->index;
		if (cache_add(k, a, off, pfn)) {
			slot_release(k, a, off);
			return -ENOMEM;
		}
		vm_page_get(k, pfn);
	}
	/* A page in the swap cache was never written since it came in (it is
	 * mapped read-only while cached), so its slot still holds it. */
	if (!cached && write_slot(k, a, off, pfn)) {
		cache_del(k, a, off, pfn);
		slot_release(k, a, off);
		return -ENOMEM;
	}
	struct swapout so = { .a = a, .off = off };
	vm_page_get(k, pfn);            /* hold it while the mappings go */
	vm_rmap_walk(k, pfn, unmap_anon_one, &so);
	vm_page_put(k, pfn);
	if (pg->mapcount > 0)
		return -EBUSY;           /* stays in the swap cache, partly mapped */
	/* Linux: __remove_mapping() — out of the swap cache, freed. */
	cache_del(k, a, off, pfn);
	if (!a->map[off])
		slot_release(k, a, off);
	return 0;
}

/* ---- swap-in ----------------------------------------------------------------- */

/* Read slot off into a new frame in the swap cache (Linux
 * __read_swap_cache_async + swap_read_folio), on the LRU when lru.  The
 * page a fault reads joins the LRU only after its readahead: Linux adds
 * it through the per-CPU batch (folio_add_lru), out of reclaim's sight
 * while the readahead's allocations may reclaim; here it would be chosen
 * again and again and put back, since the fault holds it.  0 and *pfn, or
 * -ENOMEM. */
static int read_slot(struct vm_kernel *k, struct vm_swap_area *a, uint64_t off, uint64_t *pfn,
		     bool lru)
{
	uint64_t buf;
	int err = vm_page_alloc(k, 0, pfn);

	if (err)
		return err;
	if (cache_add(k, a, off, *pfn)) {
		vm_page_put(k, *pfn);
		return -ENOMEM;
	}
	if (k->phys->data && vm_u64map_get(&a->data, off, &buf))
		vm_phys_write(k->phys, (vm_paddr){ *pfn << VM_PAGE_SHIFT },
			      (const void *)(uintptr_t)buf, VM_PAGE_SIZE);
	struct vm_page *pg = &k->pages[*pfn];
	pg->owner_kind = VM_OWNER_ANON;
	pg->owner = a->owner[off];
	pg->index = a->index[off];
	vm_page_set(pg, VM_PG_SWAPBACKED);
	k->stats->pswpin++;
	if (lru)
		vm_lru_add(k, *pfn);
	return 0;
}

/* Linux: swap_cluster_readahead() — the aligned cluster of 2^page_cluster
 * slots around off in the same area, each slot in use and not cached read
 * too. */
static void swap_readahead(struct vm_kernel *k, struct vm_swap_area *a, uint64_t off)
{
	uint64_t n = UINT64_C(1) << k->swap->page_cluster, start = off & ~(n - 1), pfn;

	if (n <= 1)
		return;
	for (uint64_t o = start; o < start + n && o < a->nslots; o++) {
		if (o == off || o == 0 || !a->map[o] || slot_cached(a, o, NULL))
			continue;
		if (read_slot(k, a, o, &pfn, true))
			break;
		k->stats->swap_ra++;
	}
}

unsigned vm_do_swap_page(struct vm_fault *vmf, vm_pte entry)
{
	struct vm_kernel *k = vmf->k;
	struct vm_swap_area *a = vm_swap_area_of(k, entry);
	struct vm_mm *mm = vmf->mm;
	uint64_t off = vm_swp_pte_offset(entry), pfn;
	bool major = false;

	if (!a || !a->map[off])
		return VM_FAULT_SIGBUS;      /* Linux: a bad swap entry */
	if (!slot_cached(a, off, &pfn)) {
		if (read_slot(k, a, off, &pfn, false))
			return VM_FAULT_OOM;
		major = true;
		vm_page_get(k, pfn);         /* readahead's allocations must not reclaim it */
		swap_readahead(k, a, off);
		vm_page_put(k, pfn);
		vm_lru_add(k, pfn);
	} else {
		k->stats->swap_ra_hit++;
	}
	struct vm_page *pg = &k->pages[pfn];
	/* Linux: exclusive when this entry is the last user of the slot and
	 * nobody maps the page: writable at once (dirty on a write). */
	bool exclusive = a->map[off] == 1 && pg->mapcount == 0;
	uint64_t prot = vm_fault_prot(vmf, exclusive, exclusive && fault_write(vmf));
	/* Linux: set_pte_at() over the swap entry, in its table. */
	int err = mm->pt.ops->set_pte(&mm->pt, vmf->address, pfn_pte(pfn, prot | VM_PTE_P));
	if (err)
		return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGSEGV;
	if (!pg->owner || (!pg->mapcount && !vm_anon_vma_in_chain(vmf->vma, pg->owner))) {
		pg->owner = vmf->vma->anon;
		pg->index = vm_linear_page_index(vmf->vma, vmf->address);
	}
	vm_page_get(k, pfn);
	pg->mapcount++;
	mm->rss[VM_RSS_ANON]++;
	mm->rss[VM_RSS_SWAP]--;
	if (exclusive)
		vm_page_set(pg, VM_PG_ANON_EXCLUSIVE);
	else
		vm_page_clear(pg, VM_PG_ANON_EXCLUSIVE);
	vm_swap_put(k, a, off);
	unsigned ret = major ? VM_FAULT_MAJOR : 0;
	/* Linux: a write that could not map the page writable (it is still
	 * shared: another entry holds the slot, or another PTE maps the page)
	 * goes on to do_wp_page() in the same fault, which copies it unless it
	 * has become the only holder. */
	if (fault_write(vmf) && !(prot & VM_PTE_RW)) {
		unsigned wp = vm_do_wp_page(vmf);
		ret = wp & VM_FAULT_ERROR ? wp & VM_FAULT_ERROR : ret | wp;
	}
	return ret;
}

/* ---- shmem (shmem_swap.c) ------------------------------------------------------ */

int vm_swap_shmem_write(struct vm_kernel *k, uint64_t pfn, vm_pte *entry)
{
	struct vm_swap *s = k->swap;
	struct vm_swap_area *a;
	uint64_t off;

	if (!s)
		return -ENOSPC;
	/* Linux: folio_alloc_swap(), then swap_duplicate for the shmem
	 * index's entry (shmem_writeout), then swap_writeout(). */
	a = get_swap_page(s, &off);
	if (!a)
		return -ENOSPC;
	a->owner[off] = NULL;         /* no anon_vma: the object holds the entry */
	a->index[off] = 0;
	if (write_slot(k, a, off, pfn)) {
		slot_release(k, a, off);
		return -ENOMEM;
	}
	a->map[off] = 1;
	*entry = vm_swp_pte(a->type, off);
	return 0;
}

/* The area of a swap entry a shmem index holds, or NULL when it is bad. */
static struct vm_swap_area *shmem_area(const struct vm_kernel *k, vm_pte entry)
{
	struct vm_swap_area *a = vm_swap_area_of(k, entry);

	return a && a->map[vm_swp_pte_offset(entry)] ? a : NULL;
}

int vm_swap_shmem_read(struct vm_kernel *k, vm_pte entry, bool fault, uint64_t *pfn,
		       bool *major)
{
	struct vm_swap_area *a = shmem_area(k, entry);
	uint64_t off = vm_swp_pte_offset(entry);

	*major = false;
	if (!a)
		return -EINVAL;
	if (slot_cached(a, off, pfn)) {
		k->stats->swap_ra_hit += fault;
	} else {
		/* Linux: shmem_swapin_cluster() -> swap_cluster_readahead() for
		 * a fault, read_swap_cache_async() alone for WILLNEED. */
		int err = read_slot(k, a, off, pfn, false);
		if (err)
			return err;
		*major = true;
		vm_page_get(k, *pfn);
		if (fault)
			swap_readahead(k, a, off);
		vm_page_put(k, *pfn);
		vm_lru_add(k, *pfn);
	}
	vm_page_get(k, *pfn);
	return 0;
}

void vm_swap_shmem_free(struct vm_kernel *k, vm_pte entry)
{
	struct vm_swap_area *a = shmem_area(k, entry);

	if (a)
		vm_swap_put(k, a, vm_swp_pte_offset(entry));
}
