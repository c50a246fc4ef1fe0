/*
 * Files and the page cache.
 *
 * A file is named by path.  Host files are read, never written: their size,
 * device and inode come from the host (stat), and in data mode their bytes
 * are read on demand (pread) when a page enters the cache.  The page cache
 * maps (file, page index) to a frame that holds one reference for the
 * cache; with pagecache=warm a host file counts as cached already (the
 * first fault on a page is minor), with cold the first fault is major.
 *
 * In-memory files (Linux shmem: the object behind MAP_SHARED|MAP_ANONYMOUS,
 * and tmpfs files) have no backing but swap: a page is a zeroed frame made
 * when first touched, it lives in the page cache until the file goes or a
 * hole is punched, or until reclaim swaps it out (shmem_swap.c), and every
 * mapping of the file, in any process, maps that one frame.  A tmpfs file is made by vm_tmpfs_create (a scenario's `file`
 * statement) and found by its path before the host's files.
 *
 * Writing: a host file opened for writing becomes an overlay.  Its pages
 * are written in the page cache (dirtied by write faults), and written
 * back (writeback.c: msync MS_SYNC) into the overlay, which later reads of
 * those pages come from; the host file is never written.  docs/files.md.
 */
#ifndef VM_KERNEL_VFS_H
#define VM_KERNEL_VFS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/list.h"
#include "base/u64map.h"
#include "kernel/kernel.h"

/* include/linux/fs.h MAX_LFS_FILESIZE on 64-bit: the largest file size
 * (file_mmap_ok's limit for regular files). */
#define MAX_LFS_FILESIZE UINT64_C(0x7fffffffffffffff)

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
	bool shmem;                   /* in memory (shmem, tmpfs): no host file, pages are
				       * zeroed frames made on first use, SwapBacked,
				       * RssShmem; no dirty tracking through write faults
				       * (shared writable mappings map writable at once) */
	bool overlay;                 /* a host file opened for writing: written-back pages
				       * go to `written`, never to the host */
	bool pinned;                  /* the kernel holds one of refs: a tmpfs file stays
				       * in its directory, an overlay keeps what was
				       * written, until the machine goes */
	struct vm_u64map written;     /* overlay: page index -> the page's bytes as last
				       * written back (a host buffer of 4 KiB, data mode),
				       * or 0 for a page of zeroes (a punched hole, or
				       * meta mode) */
	struct vm_u64map uncached;    /* page indexes dropped from the cache of a warm file
				       * (a hole punched): no longer cached, so the next
				       * fault reads them (major) */
	bool warm;                    /* every page counts as cached (pagecache=warm), until
				       * the cache is evicted: a page not yet in cache[] is
				       * brought in without I/O (no major fault) */
	struct vm_u64map cache;       /* page index -> pfn of the cached frame (pagecache.c);
				       * each frame holds one reference for the cache */
	uint64_t cached_pages;        /* == keys in cache */
	struct vm_u64map swap;        /* shmem: page index -> the swap entry (a swap PTE
				       * value) of a page reclaim swapped out, as Linux's
				       * xarray holds it in place of the folio; never an
				       * index that is in cache (shmem_swap.c) */
	uint64_t swapped_pages;       /* == keys in swap (Linux shmem_inode_info.swapped) */
};

/* Find or open the host file at path.  One struct per host inode (st_dev,
 * st_ino), as the page cache belongs to the inode: a second path to the
 * same file shares it.  Takes a reference.  0, -ENOENT, -EACCES, -EISDIR
 * (directories cannot be mapped: mmap returns -ENODEV for them), -ENODEV
 * (not a regular file), -ENOMEM. */
int vm_file_open(struct vm_kernel *k, const char *path, struct vm_file **out);
void vm_file_get(struct vm_file *f);

/* A new in-memory file of size bytes (Linux shmem_kernel_file_setup, as
 * shmem_zero_setup calls it for MAP_SHARED|MAP_ANONYMOUS): path is what
 * /proc/PID/maps shows ("/dev/zero (deleted)" for shared anonymous memory),
 * on device 00:dev_minor, with the next inode number (get_next_ino).  The
 * caller holds the one reference.  0, -ENOMEM. */
int vm_shmem_file_create(struct vm_kernel *k, const char *path, uint32_t dev_minor, uint64_t size,
			 struct vm_file **out);

/* The device of the shm_mnt superblock, where shared anonymous memory
 * lives: maps shows 00:01. */
#define VM_SHM_DEV_MINOR 1
/* The device of the model's tmpfs, where vm_tmpfs_create makes files: an
 * anonymous device number, 00:1b as /dev/shm has on the reference host. */
#define VM_TMPFS_DEV_MINOR 0x1b

/* Make an in-memory file of size bytes at path (a tmpfs file, zeroed),
 * which vm_file_open then finds before any host file of that path.  The
 * file stays (the kernel holds a reference) until the machine goes.  *out
 * (may be NULL) gets it without a reference of its own.  0, -EINVAL (an
 * empty or too long path, a size beyond MAX_LFS_FILESIZE), -EEXIST (an
 * in-memory file has that path already), -ENOMEM. */
int vm_tmpfs_create(struct vm_kernel *k, const char *path, uint64_t size, struct vm_file **out);

/* f, just opened at path, is opened for writing too (an O_WRONLY or O_RDWR
 * descriptor): an in-memory file needs nothing; a host file the host lets
 * the user write becomes an overlay, pinned.  0, or -EACCES / -EROFS as
 * the host answers access(path, W_OK). */
int vm_file_open_write(struct vm_kernel *k, struct vm_file *f, const char *path);
/* Drop a reference; at 0 the file's cached pages are freed and it closes. */
void vm_file_put(struct vm_kernel *k, struct vm_file *f);
/* Kernel teardown: free every file and its cached pages whatever the
 * references (their holders are gone). */
void vm_files_release(struct vm_kernel *k);

/* The frame holding page `index` of f, reading it into the cache if it is
 * not there (then *major is true unless the file is warm; a shmem page
 * comes back from swap, major unless the swap cache has it).  The caller gets
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

/* Linux vma_is_shmem(): the VMA maps an in-memory file. */
static inline bool vm_vma_is_shmem(const struct vm_vma *vma)
{
	return vma->vm_file && vma->vm_file->shmem;
}

/* Linux vma_wants_writenotify() for the model's files: a shared mapping of
 * a file whose dirty pages are written back (not shmem) maps its pages
 * read-only, so that the first write to each faults and dirties it. */
static inline bool vm_vma_tracks_dirty(const struct vm_vma *vma)
{
	return vma->vm_file && !vma->vm_file->shmem && (vma->vm_flags & VM_SHARED);
}

/* Punch a hole in pages [first, last] of f (Linux vfs_fallocate with
 * FALLOC_FL_PUNCH_HOLE, as MADV_REMOVE calls it: shmem_fallocate,
 * ext4_punch_hole): the pages are unmapped from every mapping and dropped
 * from the cache, and read as zeroes from now on (an overlay records the
 * hole; a host file is not touched).  f must be in memory or an overlay. */
void vm_file_punch_hole(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last);

/* Linux folio_mark_dirty() for page-cache page pfn: set its dirty flag;
 * a page of a file with writeback (not shmem) that was clean counts in
 * nr_dirtied (folio_account_dirtied).  writeback.c. */
void vm_page_mark_dirty(struct vm_kernel *k, uint64_t pfn);

/* Linux vfs_fsync_range() -> filemap_write_and_wait_range() over pages
 * [first, last] of f, as msync(MS_SYNC) and fsync call it: the entries of
 * every shared mapping of those pages are made clean and read-only
 * (page_mkclean: a dirty entry dirties its page first, and the next write
 * faults again), then every dirty page is written back — into the overlay
 * of a host file (its bytes kept in data mode) — and made clean, counting
 * nr_written.  shmem has nothing to write back (noop_fsync).  Returns the
 * pages written.  writeback.c. */
uint64_t vm_file_writeback(struct vm_kernel *k, struct vm_file *f, uint64_t first, uint64_t last);

/* Pages of a file: the page index just past the end (DIV_ROUND_UP). */
static inline uint64_t vm_file_pages(const struct vm_file *f)
{
	return (f->size + VM_PAGE_SIZE - 1) >> VM_PAGE_SHIFT;
}

#endif
