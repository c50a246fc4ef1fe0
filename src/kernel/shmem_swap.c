/*
 * Swap for shmem objects (Linux mm/shmem.c): reclaim writes a dirty shmem
 * page to swap and keeps the swap entry in the object's index where the
 * page was (shmem_writeout: shmem_delete_from_page_cache with the entry as
 * a value); a fault or read of that page swaps it back in
 * (shmem_swapin_folio, from shmem_get_folio_gfp); punching a hole or
 * freeing the object frees the entries (shmem_free_swap).  The mappings'
 * PTEs are cleared when reclaim unmaps the page (try_to_unmap_one for a
 * file page), never made swap entries: a swapped shmem page is found
 * through the object, from every mapping of it.  Contract in
 * shmem_swap.h; slots and the swap cache are swap.c's.
 */
#include "kernel/shmem_swap.h"

#include <errno.h>

#include "kernel/reclaim.h"
#include "kernel/swap.h"
#include "kernel/vfs.h"

bool vm_shmem_swapped(const struct vm_file *f, uint64_t index)
{
	return f->swapped_pages && vm_u64map_get(&f->swap, index, NULL);
}

int vm_shmem_writeout(struct vm_kernel *k, uint64_t pfn)
{
	struct vm_page *pg = &k->pages[pfn];
	struct vm_file *f = pg->owner;
	uint64_t index = pg->index, cached;
	vm_pte entry;

	if (pg->owner_kind != VM_OWNER_FILE || !f || !f->shmem || vm_page_test(pg, VM_PG_HEAD))
		return -EINVAL;
	if (pg->mapcount || pg->refcount != 1 || !vm_u64map_get(&f->cache, index, &cached) ||
	    cached != pfn)
		return -EBUSY;
	/* The index's room first: once the slot is written nothing fails. */
	if (vm_u64map_put(&f->swap, index, 0))
		return -ENOMEM;
	int err = vm_swap_shmem_write(k, pfn, &entry);
	if (err) {
		vm_u64map_del(&f->swap, index, NULL);
		return err;          /* -ENOSPC: Linux redirties it, it stays cached */
	}
	(void)vm_u64map_put(&f->swap, index, entry.v);   /* the key exists: cannot fail */
	f->swapped_pages++;
	k->stats->shmem_swpout++;
	/* shmem_delete_from_page_cache(folio, entry), then __remove_mapping
	 * once written: the frame is free. */
	vm_u64map_del(&f->cache, index, NULL);
	f->cached_pages--;
	vm_page_clear(pg, VM_PG_DIRTY);
	vm_page_put(k, pfn);
	return 0;
}

int vm_shmem_swapin(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t *pfn,
		    bool *major)
{
	uint64_t v;

	*major = false;
	if (!vm_u64map_get(&f->swap, index, &v))
		return -ENOENT;
	int err = vm_swap_shmem_read(k, (vm_pte){ v }, true, pfn, major);
	if (err)
		return err;
	/* shmem_add_to_page_cache(): our reference becomes the cache's. */
	if (vm_u64map_put(&f->cache, index, *pfn)) {
		vm_page_put(k, *pfn);
		return -ENOMEM;
	}
	f->cached_pages++;
	struct vm_page *pg = &k->pages[*pfn];
	/* From the swap cache's anonymous page to the object's: off the LRU
	 * and on again, so that the policy knows it by its new name. */
	vm_lru_del(k, *pfn);
	pg->owner_kind = VM_OWNER_FILE;
	pg->owner = f;
	pg->index = index;
	vm_page_set(pg, VM_PG_SWAPBACKED);
	vm_page_clear(pg, VM_PG_ANON_EXCLUSIVE);
	/* delete_from_swap_cache(), folio_mark_dirty(), swap_free(): the
	 * slot goes, so the page must be written again to be reclaimed. */
	vm_page_set(pg, VM_PG_DIRTY);
	vm_u64map_del(&f->swap, index, NULL);
	f->swapped_pages--;
	vm_swap_shmem_free(k, (vm_pte){ v });
	vm_lru_add(k, *pfn);
	return 0;
}

void vm_shmem_swap_free_range(struct vm_kernel *k, struct vm_file *f, uint64_t first,
			      uint64_t last)
{
	uint64_t pos = 0, index, v;

	while (f->swapped_pages && vm_u64map_next(&f->swap, &pos, &index, &v)) {
		if (index < first || index > last)
			continue;
		vm_u64map_del(&f->swap, index, NULL);
		vm_u64map_next_after_del(&pos);
		f->swapped_pages--;
		vm_swap_shmem_free(k, (vm_pte){ v });
	}
}

void vm_shmem_swapin_range(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t n)
{
	uint64_t count = vm_shmem_swap_count(f, first, n), pos = 0, index, v, i = 0, pfn;
	bool major;

	if (!count)
		return;
	/* The entries first: reading allocates, and reclaim may swap other
	 * pages of f out meanwhile (the index changes under an iteration). */
	uint64_t *entries = vm_host_calloc(k->host, count, sizeof(*entries));
	if (!entries)
		return;                      /* best effort, as Linux's */
	while (i < count && vm_u64map_next(&f->swap, &pos, &index, &v))
		if (index >= first && index - first < n)
			entries[i++] = v;
	for (uint64_t j = 0; j < i; j++) {
		if (vm_swap_shmem_read(k, (vm_pte){ entries[j] }, false, &pfn, &major))
			break;
		vm_page_put(k, pfn);         /* the swap cache keeps it */
	}
	vm_host_free(k->host, entries);
}

uint64_t vm_shmem_swap_count(const struct vm_file *f, uint64_t first, uint64_t n)
{
	uint64_t pos = 0, index, v, count = 0;

	while (f->swapped_pages && vm_u64map_next(&f->swap, &pos, &index, &v))
		count += index >= first && index - first < n;
	return count;
}
