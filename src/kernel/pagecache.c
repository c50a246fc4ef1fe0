/*
 * The page cache (Linux mm/filemap.c, mm/shmem.c): (file, page index) ->
 * frame, one reference held by the cache.  A page enters the cache when a
 * fault needs it (filemap_fault -> the read of filemap_read_folio); in
 * data mode its bytes come from the host file with pread, the part past
 * the end of the file reading as zeroes.  A page of an in-memory file is
 * a zeroed frame (shmem_get_folio: shmem_alloc_and_add_folio), SwapBacked,
 * never a major fault; it counts as cached only once it exists.  A shmem
 * page reclaim swapped out comes back from swap (shmem_swap.c): a major
 * fault unless the swap cache still holds it.
 *
 * Warm and cold: with pagecache=warm a file counts as entirely cached from
 * the start (as a file just read or written on a real system is), so a
 * page that has no frame yet is filled without I/O; no major fault, no
 * pagecache_reads.  With cold, or after vm_pagecache_evict, a page not in
 * the cache is read: a major fault and one pagecache_reads.  Readahead is
 * not modelled: each cold page is one read.
 */
#include "kernel/vfs.h"

#include <errno.h>
#include <unistd.h>

#include "base/compiler.h"
#include "kernel/fault.h"
#include "kernel/reclaim.h"
#include "kernel/shmem_swap.h"

/* Fill frame pfn with page index of f (data mode): the overlay's copy if
 * the page was written back, else pread into a buffer, short at the end of
 * the file (the frame is already zeroed). */
static int read_page(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t pfn)
{
	unsigned char buf[VM_PAGE_SIZE];
	size_t done = 0;
	uint64_t copy;

	if (!k->phys->data)
		return 0;
	if (vm_u64map_get(&f->written, index, &copy)) {
		if (copy && vm_phys_write(k->phys, (vm_paddr){ pfn << VM_PAGE_SHIFT },
					  (const void *)(uintptr_t)copy, VM_PAGE_SIZE))
			return -EIO;
		return 0;       /* 0: a hole, zeroes */
	}
	if (f->host_fd < 0)
		return 0;
	while (done < sizeof(buf)) {
		ssize_t n = pread(f->host_fd, buf + done, sizeof(buf) - done,
				  (off_t)((index << VM_PAGE_SHIFT) + done));
		if (n < 0)
			return -EIO;
		if (n == 0)
			break;      /* end of file (it may have shrunk on the host) */
		done += (size_t)n;
	}
	if (done && vm_phys_write(k->phys, (vm_paddr){ pfn << VM_PAGE_SHIFT }, buf, done))
		return -EIO;
	return 0;
}

/* Linux: filemap_add_folio() after the read — a new frame for page index,
 * holding the cache's reference.  io: a real read (cold), counted. */
static int add_page(struct vm_kernel *k, struct vm_file *f, uint64_t index, bool io,
		    uint64_t *pfn)
{
	int err = vm_page_alloc(k, 0, pfn);

	if (err)
		return err;
	err = read_page(k, f, index, *pfn);
	if (!err)
		err = vm_u64map_put(&f->cache, index, *pfn);
	if (err) {
		vm_page_put(k, *pfn);
		return err;
	}
	struct vm_page *pg = &k->pages[*pfn];
	pg->owner_kind = VM_OWNER_FILE;
	pg->owner = f;
	pg->index = index;
	if (f->shmem)
		vm_page_set(pg, VM_PG_SWAPBACKED);
	f->cached_pages++;
	vm_u64map_del(&f->uncached, index, NULL);
	if (io)
		k->stats->pagecache_reads++;
	vm_lru_add(k, *pfn);            /* shmem only with swap (vm_lru_belongs) */
	return 0;
}

int vm_pagecache_find(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t *pfn)
{
	(void)k;
	return vm_u64map_get(&f->cache, index, pfn) ? 0 : -ENOENT;
}

/* Linux: filemap_fault() -> filemap_get_folio / page_cache_sync_ra /
 * filemap_read_folio; VM_FAULT_MAJOR when the read was needed. */
int vm_pagecache_get(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t *pfn,
		     bool *major)
{
	*major = false;
	if (index >= vm_file_pages(f))
		return -ENXIO;
	if (!vm_u64map_get(&f->cache, index, pfn) && f->shmem && vm_shmem_swapped(f, index)) {
		/* shmem_get_folio_gfp(): a value entry, swapped out. */
		int err = vm_shmem_swapin(k, f, index, pfn, major);
		if (err)
			return err;
	} else if (!vm_u64map_get(&f->cache, index, pfn)) {
		bool io = !f->shmem && (!f->warm || vm_u64map_get(&f->uncached, index, NULL));
		int err = add_page(k, f, index, io, pfn);
		if (err)
			return err;
		*major = io;
	}
	vm_page_get(k, *pfn);
	return 0;
}

int vm_pagecache_get_cached(struct vm_kernel *k, struct vm_file *f, uint64_t index,
			    uint64_t *pfn)
{
	if (index >= vm_file_pages(f))
		return -ENXIO;
	if (!vm_u64map_get(&f->cache, index, pfn)) {
		if (!f->warm || vm_u64map_get(&f->uncached, index, NULL))
			return -ENOENT;
		int err = add_page(k, f, index, false, pfn);
		if (err)
			return err;
	}
	vm_page_get(k, *pfn);
	return 0;
}

/* Linux: invalidate_mapping_pages() as drop_caches runs it — only clean
 * pages nobody else holds (the cache's reference is the only one) go. */
uint64_t vm_pagecache_evict(struct vm_kernel *k, struct vm_file *f)
{
	uint64_t pos = 0, index, pfn, dropped = 0;

	if (f->shmem)
		return 0;           /* no backing store to read it back from (only swap) */
	while (vm_u64map_next(&f->cache, &pos, &index, &pfn)) {
		if (k->pages[pfn].refcount != 1 || vm_page_test(&k->pages[pfn], VM_PG_DIRTY))
			continue;
		vm_u64map_del(&f->cache, index, NULL);
		vm_u64map_next_after_del(&pos);
		f->cached_pages--;
		vm_page_put(k, pfn);
		dropped++;
	}
	f->warm = false;
	return dropped;
}

/* An overlay remembers a hole as pages of zeroes, replacing what was
 * written back there; the pages are cold from now on. */
static int record_hole(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last)
{
	uint64_t end = VM_MIN(last, vm_file_pages(f) - 1), buf;

	for (uint64_t index = first; index <= end && vm_file_pages(f); index++) {
		if (vm_u64map_get(&f->written, index, &buf))
			vm_host_free(k->host, (void *)(uintptr_t)buf);
		if (vm_u64map_put(&f->written, index, 0) || vm_u64map_put(&f->uncached, index, 1))
			return -ENOMEM;
	}
	return 0;
}

void vm_file_punch_hole(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last)
{
	uint64_t pos = 0, index, pfn;

	if ((!f->shmem && !f->overlay) || first > last)
		return;
	vm_file_unmap_range(k, f, first, last);
	/* truncate_inode_pages_range() / shmem_undo_range(): the pages leave
	 * the cache, which held the only reference left. */
	while (vm_u64map_next(&f->cache, &pos, &index, &pfn)) {
		if (index < first || index > last)
			continue;
		vm_u64map_del(&f->cache, index, NULL);
		vm_u64map_next_after_del(&pos);
		f->cached_pages--;
		vm_page_put(k, pfn);
	}
	if (f->shmem)
		vm_shmem_swap_free_range(k, f, first, last);   /* shmem_free_swap() */
	else
		record_hole(k, f, first, last);
}

void vm_pagecache_release(struct vm_kernel *k, struct vm_file *f)
{
	uint64_t pos = 0, index, pfn;

	while (vm_u64map_next(&f->cache, &pos, &index, &pfn)) {
		struct vm_page *pg = &k->pages[pfn];
		/* Still mapped (a teardown with live mappings): the mappers'
		 * references keep the frame, which no longer belongs to f. */
		if (pg->refcount > 1) {
			pg->owner_kind = VM_OWNER_NONE;
			pg->owner = NULL;
		}
		vm_page_put(k, pfn);
	}
	vm_u64map_fini(&f->cache);
	f->cached_pages = 0;
}
