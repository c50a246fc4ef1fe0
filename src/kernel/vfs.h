/*
 * Files and the page cache (read side).
 *
 * A file is named by path.  Host files are read, never written: their size,
 * device and inode come from the host (stat), and in data mode their bytes
 * are read on demand (pread) when a page enters the cache.  The page cache
 * maps (file, page index) to a frame that holds one reference for the
 * cache; with pagecache=warm a host file counts as cached already (the
 * first fault on a page is minor), with cold the first fault is major.
 */
#ifndef VM_KERNEL_VFS_H
#define VM_KERNEL_VFS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/list.h"
#include "base/u64map.h"
#include "kernel/kernel.h"

struct vm_file {
	struct vm_list link;          /* in k->files */
	char *path;                   /* as first opened */
	uint64_t size;                /* bytes */
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	int host_fd;                  /* open read-only on the host; -1 in meta mode */
	bool mmap_sync;               /* its file system declares FOP_MMAP_SYNC (ext4, xfs):
				       * do_mmap lets MAP_SYNC through, and its ->mmap then
				       * refuses VM_SYNC, as the file is not DAX */
	uint32_t refs;                /* open descriptors + VMAs */
	bool warm;                    /* every page counts as cached (pagecache=warm), until
				       * the cache is evicted: a page not yet in cache[] is
				       * brought in without I/O (no major fault) */
	struct vm_u64map cache;       /* page index -> pfn of the cached frame (pagecache.c);
				       * each frame holds one reference for the cache */
	uint64_t cached_pages;        /* == keys in cache */
};

/* Find or open the host file at path.  One struct per host inode (st_dev,
 * st_ino), as the page cache belongs to the inode: a second path to the
 * same file shares it.  Takes a reference.  0, -ENOENT, -EACCES, -EISDIR
 * (directories cannot be mapped: mmap returns -ENODEV for them), -ENODEV
 * (not a regular file), -ENOMEM. */
int vm_file_open(struct vm_kernel *k, const char *path, struct vm_file **out);
void vm_file_get(struct vm_file *f);
/* Drop a reference; at 0 the file's cached pages are freed and it closes. */
void vm_file_put(struct vm_kernel *k, struct vm_file *f);
/* Kernel teardown: free every file and its cached pages whatever the
 * references (their holders are gone). */
void vm_files_release(struct vm_kernel *k);

/* The frame holding page `index` of f, reading it into the cache if it is
 * not there (then *major is true unless the file is warm).  The caller gets
 * its own reference.  0, -ENOMEM, -EIO; -ENXIO for an index at or beyond
 * the end of the file (the fault becomes SIGBUS). */
int vm_pagecache_get(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t *pfn,
		     bool *major);

/* The cached frame of page index, without reading or taking a reference:
 * 0 and *pfn, or -ENOENT when no frame holds it (filemap's find_get_page
 * without the reference). */
int vm_pagecache_find(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t *pfn);

/* What fault-around maps (filemap_map_pages): page index with a reference
 * for the caller if it counts as cached, i.e. a frame holds it or the file
 * is warm (then a frame is filled now, without I/O).  -ENOENT when it is
 * not cached, -ENXIO at or beyond the end of the file, -ENOMEM, -EIO. */
int vm_pagecache_get_cached(struct vm_kernel *k, struct vm_file *f, uint64_t index,
			    uint64_t *pfn);

/* Drop every cached page of f that no one maps (drop_caches for one file);
 * the file is cold afterwards: a page not in the cache is read with I/O.
 * Returns the number of pages dropped. */
uint64_t vm_pagecache_evict(struct vm_kernel *k, struct vm_file *f);

/* File teardown: drop the cache's reference on every cached page of f and
 * empty the cache (pages still mapped stay allocated to their mappers). */
void vm_pagecache_release(struct vm_kernel *k, struct vm_file *f);

/* Pages of a file: the page index just past the end (DIV_ROUND_UP). */
static inline uint64_t vm_file_pages(const struct vm_file *f)
{
	return (f->size + VM_PAGE_SIZE - 1) >> VM_PAGE_SHIFT;
}

#endif
