/*
 * Writable and shared files (docs/files.md): host files opened for writing
 * become overlays (writes never reach the host), tmpfs files made in
 * memory, dirty tracking through write faults, msync writeback, and smaps'
 * view of shared and dirty pages.  The Linux facts asserted were measured
 * on 6.18 (ext4, a file written a page at a time so that its folios are
 * order 0; a native program reading getrusage and /proc/self/smaps):
 *   shared file mapping: a read 1 fault, a write to the same page 1 more,
 *   a write to a page faulted around 1; MS_ASYNC changes nothing (the next
 *   write takes no fault); after MS_SYNC smaps shows the pages clean and
 *   the next write faults again; MS_INVALIDATE adds nothing;
 *   smaps: 4 pages read, 1 written: Private_Clean 12 kB, Private_Dirty 4 kB;
 *   a second mapping of them: Pss halved, Shared_Clean 12, Shared_Dirty 4
 *   in both; after munmap of one, Private again;
 *   shmem: read: Private_Clean; written: Private_Dirty; a duplicate read
 *   after the write: Shared_Dirty in the writer (its dirty PTE), Shared_Clean
 *   in the reader; after DONTNEED in the writer, the reader's page is dirty
 *   (the PTE's dirty bit went into the page).
 */
#include <fcntl.h>
#include <unistd.h>

#include "tap.h"
#include "kernel_fixture.h"
#include "kernel/vfs.h"

#define A UINT64_C(0x40000000)
#define B UINT64_C(0x50000000)

/* The value of an smaps line of the VMA starting at va, or -1. */
static long smaps_of(struct kfx *f, vm_vaddr va, const char *key)
{
	char head[32];
	const char *s = kfx_smaps(f);

	sprintf(head, "%08" PRIx64 "-", va);
	s = strstr(s, head);
	s = s ? strstr(s, key) : NULL;
	return s ? strtol(s + strlen(key), NULL, 10) : -1;
}

/* A host file of `pages` pages, each full of its page number. */
static int host_file(char *path, unsigned pages)
{
	unsigned char buf[4096];

	strcpy(path, "/tmp/vmlab_test_wb_XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	for (unsigned i = 0; i < pages; i++) {
		memset(buf, (int)i, sizeof(buf));
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return -1;
	}
	close(fd);
	return 0;
}

static unsigned char host_byte(const char *path, uint64_t off)
{
	unsigned char b = 0xff;
	int fd = open(path, O_RDONLY);

	if (fd >= 0 && pread(fd, &b, 1, (off_t)off) != 1)
		b = 0xff;
	close(fd);
	return b;
}

static void test_host_overlay(void)
{
	struct kfx *f = kfx_new();
	struct vm_stats *st = f->k->stats;
	char path[64];
	unsigned char b;

	if (host_file(path, 4)) {
		ok(0, "host file");
		return;
	}
	long ro = vm_sys_openat(f->k, f->p, path, VM_O_RDONLY);
	is_i64(MMAP(f, A, 4 * PG, RW, VM_MAP_SHARED, ro, 0), -EACCES,
	       "shared writable map of a read-only descriptor: EACCES");
	long fd = vm_sys_openat(f->k, f->p, path, VM_O_RDWR);
	ok(fd >= 0, "open for writing");
	struct vm_file *file = f->p->fds[fd].file;
	ok(file == f->p->fds[ro].file && file->overlay && file->pinned, "the same file, an overlay now");
	is_i64(MMAP(f, A, 4 * PG, RW, VM_MAP_SHARED | VM_MAP_FIXED, fd, 0), A, "shared writable map");

	uint64_t flt = f->p->min_flt;
	is_i64(kfx_touch(f, A, 1, VM_ACC_READ), 0, "read page 0");
	is_u64(f->p->min_flt - flt, 1, "one fault (fault-around maps the 4 pages)");
	is_i64(vm_user_access(f->k, f->p, A, 2, VM_ACC_WRITE, "W"), 0, "write page 0");
	is_u64(f->p->min_flt - flt, 2, "one more: the page was read-only (dirty tracking)");
	is_i64(kfx_touch(f, A + PG, 1, VM_ACC_WRITE), 0, "write page 1, faulted around");
	is_u64(f->p->min_flt - flt, 3, "one more");
	is_u64(st->nr_dirtied, 2, "two pages dirtied");
	is_i64(kfx_touch(f, A, 1, VM_ACC_WRITE), 0, "write page 0 again");
	is_u64(f->p->min_flt - flt, 3, "no fault: writable and dirty now");
	is_u64(host_byte(path, 0), 0, "the host file is not written");

	is_i64(MMAP(f, B, 4 * PG, VM_PROT_READ, VM_MAP_SHARED | VM_MAP_FIXED, fd, 0), B,
	       "a second mapping of the file");
	vm_user_access(f->k, f->p, B, 1, VM_ACC_READ, &b);
	is_u64(b, 'W', "sees the write");
	is_u64(smaps_of(f, A, "Pss:"), 8, "Pss: 4 pages each mapped twice, 8 kB");
	is_u64(smaps_of(f, A, "Shared_Dirty:"), 8, "Shared_Dirty: the two written pages");
	is_u64(smaps_of(f, A, "Shared_Clean:"), 8, "Shared_Clean: the other two");
	is_u64(smaps_of(f, A, "Private_Dirty:"), 0, "nothing private");
	is_u64(smaps_of(f, B, "Shared_Dirty:"), 8, "the reader sees them dirty too (the pages are)");

	is_i64(MSYNC(f, A, 4 * PG, VM_MS_ASYNC), 0, "MS_ASYNC");
	is_u64(st->nr_written, 0, "writes nothing (a no-op since 2.6.19)");
	is_i64(MSYNC(f, A, 4 * PG, VM_MS_SYNC), 0, "MS_SYNC");
	is_u64(st->nr_written, 2, "writes back the two dirty pages");
	is_u64(host_byte(path, 0), 0, "into the overlay: the host file is untouched");
	is_u64(smaps_of(f, A, "Shared_Dirty:"), 0, "clean now");
	flt = f->p->min_flt;
	is_i64(kfx_touch(f, A, 1, VM_ACC_WRITE), 0, "write page 0");
	is_u64(f->p->min_flt - flt, 1, "faults again: write-protected by writeback");
	is_u64(st->nr_dirtied, 3, "and dirties it again");
	is_i64(MSYNC(f, A, 4 * PG, VM_MS_SYNC | VM_MS_INVALIDATE), 0, "MS_SYNC|MS_INVALIDATE");
	is_u64(st->nr_written, 3, "one more page written");

	/* Unmapped and closed, the file keeps what was written: evicted from
	 * the cache, its pages come back from the overlay. */
	is_i64(MUNMAP(f, A, 4 * PG), 0, "munmap");
	is_i64(MUNMAP(f, B, 4 * PG), 0, "munmap the other");
	vm_sys_close(f->k, f->p, (int)fd);
	vm_sys_close(f->k, f->p, (int)ro);
	is_u64(file->refs, 1, "only the kernel's pin holds it");
	is_u64(vm_pagecache_evict(f->k, file), 4, "all four pages evicted");
	fd = vm_sys_openat(f->k, f->p, path, VM_O_RDONLY);
	is_i64(MMAP(f, A, 4 * PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, 0), A, "map it again");
	char buf[2] = { 0 };
	vm_user_access(f->k, f->p, A, 2, VM_ACC_READ, buf);
	is_str(buf, "W", "page 0 as written back");
	vm_user_access(f->k, f->p, A + 2 * PG, 1, VM_ACC_READ, &b);
	is_u64(b, 2, "page 2 from the host");

	/* A hole: MADV_REMOVE on a shared writable mapping (ext4_punch_hole). */
	long w = vm_sys_openat(f->k, f->p, path, VM_O_RDWR);
	is_i64(MMAP(f, B, 4 * PG, RW, VM_MAP_SHARED | VM_MAP_FIXED, w, 0), B, "shared writable again");
	is_i64(MADVISE(f, B, 2 * PG, VM_MADV_REMOVE), 0, "MADV_REMOVE of pages 0 and 1");
	uint64_t maj = f->p->maj_flt;
	vm_user_access(f->k, f->p, A, 1, VM_ACC_READ, &b);
	is_u64(b, 0, "the private mapping's page 0 reads the hole: zero");
	is_u64(f->p->maj_flt - maj, 1, "a major fault: the page left the cache");
	is_u64(host_byte(path, 0), 0, "the host file still untouched");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	unlink(path);
	kfx_free(f);
}

static void test_tmpfs(void)
{
	struct kfx *f = kfx_new();
	struct vm_file *file;
	char buf[8] = { 0 };

	is_i64(vm_tmpfs_create(f->k, "/dev/shm/data", 3 * PG, &file), 0, "a tmpfs file of 3 pages");
	is_i64(vm_tmpfs_create(f->k, "/dev/shm/data", PG, NULL), -EEXIST, "twice: EEXIST");
	is_i64(vm_tmpfs_create(f->k, "", PG, NULL), -EINVAL, "an empty path: EINVAL");
	long fd = vm_sys_openat(f->k, f->p, "/dev/shm/data", VM_O_RDWR);
	ok(fd >= 0 && f->p->fds[fd].file == file, "openat finds it before the host");
	is_i64(MMAP(f, A, 4 * PG, RW, VM_MAP_SHARED | VM_MAP_FIXED, fd, 0), A, "shared writable");
	is_i64(MMAP(f, B, 3 * PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, 0), B, "and private");
	vm_sys_close(f->k, f->p, (int)fd);
	char want[128];
	int n = sprintf(want, "40000000-40004000 rw-s 00000000 00:1b 1 ");
	sprintf(want + n, "%*s/dev/shm/data\n", 73 - n, "");
	is_str(kfx_maps_in(f, A, A + 1), want, "maps: its path on the tmpfs device, at column 73");
	uint64_t flt = f->p->min_flt;
	is_i64(vm_user_access(f->k, f->p, A + PG, 6, VM_ACC_WRITE, "tmpfs"), 0, "write page 1");
	is_u64(f->p->min_flt - flt, 1, "one fault");
	is_i64(kfx_touch(f, A + PG, 1, VM_ACC_READ), 0, "read it");
	vm_user_access(f->k, f->p, B + PG, 6, VM_ACC_READ, buf);
	is_str(buf, "tmpfs", "the private mapping reads the shared bytes");
	is_u64(f->p->mm->rss[VM_RSS_SHMEM], 2, "RssShmem: the page, twice mapped");
	is_i64(MSYNC(f, A, 4 * PG, VM_MS_SYNC), 0, "MS_SYNC on tmpfs: 0");
	is_u64(f->k->stats->nr_written, 0, "nothing to write back (shmem)");
	is_u64(f->k->stats->nr_dirtied, 0, "and nothing counted dirtied (no writeback)");
	is_i64(kfx_touch(f, A + 3 * PG, 1, VM_ACC_READ), VM_SIGBUS, "page 3 of a 3-page file: SIGBUS");
	kfx_free(f);

	/* The file outlives its users. */
	f = kfx_new();
	vm_tmpfs_create(f->k, "/tmp/t", PG, &file);
	fd = vm_sys_openat(f->k, f->p, "/tmp/t", VM_O_RDWR);
	MMAP(f, A, PG, RW, VM_MAP_SHARED | VM_MAP_FIXED, fd, 0);
	vm_user_access(f->k, f->p, A, 4, VM_ACC_WRITE, "kept");
	vm_sys_close(f->k, f->p, (int)fd);
	MUNMAP(f, A, PG);
	is_u64(file->refs, 1, "unmapped and closed: the directory holds it");
	fd = vm_sys_openat(f->k, f->p, "/tmp/t", VM_O_RDONLY);
	MMAP(f, A, PG, VM_PROT_READ, VM_MAP_SHARED | VM_MAP_FIXED, fd, 0);
	memset(buf, 0, sizeof(buf));
	vm_user_access(f->k, f->p, A, 4, VM_ACC_READ, buf);
	is_str(buf, "kept", "the bytes are still there");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_shmem_smaps(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, A, PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0), A, "shared anon");
	kfx_touch(f, A, 1, VM_ACC_READ);
	is_u64(smaps_of(f, A, "Private_Clean:"), 4, "read: Private_Clean");
	kfx_touch(f, A, 1, VM_ACC_WRITE);
	is_u64(smaps_of(f, A, "Private_Dirty:"), 4, "written: Private_Dirty");
	is_i64(MREMAP(f, A, 0, PG, VM_MREMAP_MAYMOVE | VM_MREMAP_FIXED, B), B, "a duplicate");
	kfx_touch(f, B, 1, VM_ACC_READ);
	is_u64(smaps_of(f, A, "Shared_Dirty:"), 4, "the writer: Shared_Dirty (its PTE is dirty)");
	is_u64(smaps_of(f, A, "Pss:"), 2, "Pss 2 kB");
	is_u64(smaps_of(f, B, "Shared_Clean:"), 4, "the reader: Shared_Clean");
	is_u64(smaps_of(f, B, "Pss:"), 2, "Pss 2 kB");
	is_i64(MADVISE(f, A, PG, VM_MADV_DONTNEED), 0, "DONTNEED in the writer");
	is_u64(smaps_of(f, B, "Private_Dirty:"), 4, "the reader's page is dirty now, and private");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

int main(void)
{
	test_host_overlay();
	test_tmpfs();
	test_shmem_smaps();
	return done_testing();
}
