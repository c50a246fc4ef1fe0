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
#include "kernel/kernel.h"

struct vm_file {
	struct vm_list link;          /* in k->files */
	char *path;
	uint64_t size;                /* bytes */
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	int host_fd;                  /* open read-only on the host; -1 in meta mode */
	uint32_t refs;                /* open descriptors + VMAs */
	struct vm_pcache *cache;      /* page index -> frame; private to pagecache.c */
	uint64_t cached_pages;        /* pages in the cache */
};

/* Find or open the host file at path (one struct per path).  Takes a
 * reference.  0, -ENOENT, -EACCES, -EISDIR (directories cannot be mapped:
 * mmap returns -ENODEV for them), -ENOMEM. */
int vm_file_open(struct vm_kernel *k, const char *path, struct vm_file **out);
void vm_file_get(struct vm_file *f);
/* Drop a reference; at 0 the file's cached pages are freed and it closes. */
void vm_file_put(struct vm_kernel *k, struct vm_file *f);

/* The frame holding page `index` of f, reading it into the cache if it is
 * not there (then *major is true unless the file is warm).  The caller gets
 * its own reference.  0, -ENOMEM, -EIO; -ENXIO for an index at or beyond
 * the end of the file (the fault becomes SIGBUS). */
int vm_pagecache_get(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t *pfn,
		     bool *major);

/* The cached frame of page index, without reading or taking a reference:
 * 0 and *pfn, or -ENOENT (what fault-around maps: only pages already cached). */
int vm_pagecache_find(struct vm_kernel *k, struct vm_file *f, uint64_t index, uint64_t *pfn);

/* Drop every cached page of f that no one maps (drop_caches for one file). */
void vm_pagecache_evict(struct vm_kernel *k, struct vm_file *f);

#endif
