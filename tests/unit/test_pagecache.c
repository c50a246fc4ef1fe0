/*
 * Files and the page cache: what stat says, one struct per inode, errors,
 * reference counts (get takes one, find does not), the bytes pread from
 * the host file, warm and cold, eviction, teardown, meta mode, and an
 * injected host allocation failure.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "kfixture.h"

#define PG VM_PAGE_SIZE

static void test_open(void)
{
	const char *const w[] = { "phys=16M", NULL };
	struct kfix f;
	struct vm_file *a, *b, *c;
	struct stat st;

	if (kfix_init(&f, w))
		return;
	const char *path = kfix_file(&f, 3 * PG + 17);
	stat(path, &st);
	is_i64(vm_file_open(f.k, path, &a), 0, "open a host file");
	is_u64(a->size, 3 * PG + 17, "size from stat");
	is_u64(a->ino, st.st_ino, "inode from stat");
	ok(a->dev_major == major(st.st_dev) && a->dev_minor == minor(st.st_dev),
	   "device %u:%u from st_dev", a->dev_major, a->dev_minor);
	ok(a->host_fd >= 0, "open on the host (data mode)");
	is_u64(vm_file_pages(a), 4, "4 pages, the last partial");
	is_u64(a->refs, 1, "one reference");
	is_i64(vm_file_open(f.k, path, &b), 0, "open it again");
	ok(a == b && a->refs == 2, "the same struct, two references");
	char lpath[80];
	snprintf(lpath, sizeof(lpath), "%s.link", path);
	unlink(lpath);
	if (link(path, lpath) == 0) {
		is_i64(vm_file_open(f.k, lpath, &c), 0, "open a hard link to it");
		ok(c == a && a->refs == 3, "one struct per inode (the page cache is the inode's)");
		vm_file_put(f.k, c);
		unlink(lpath);
	}
	vm_file_put(f.k, b);
	is_u64(a->refs, 1, "put drops a reference");

	struct vm_file *e = (struct vm_file *)&e;
	is_i64(vm_file_open(f.k, "/nonexistent/vmlab", &e), -ENOENT, "missing file: -ENOENT");
	ok(e == NULL, "no file returned");
	is_i64(vm_file_open(f.k, "/tmp", &e), -EISDIR, "directory: -EISDIR");
	is_i64(vm_file_open(f.k, "/dev/null", &e), -ENODEV, "character device: -ENODEV");
	is_i64(vm_file_open(f.k, "", &e), -ENOENT, "empty path: -ENOENT");
	vm_file_put(f.k, a);
	ok(vm_list_empty(&f.k->files), "the last put closes it");
	kfix_fini(&f);
}

static bool frame_matches_file(struct kfix *f, uint64_t pfn, uint64_t index, uint64_t size)
{
	unsigned char buf[PG];

	if (vm_phys_read(f->k->phys, (vm_paddr){ pfn << 12 }, buf, PG))
		return false;
	for (uint64_t i = 0; i < PG; i++) {
		uint64_t off = index * PG + i;
		unsigned char want = off < size ? kfix_file_byte(off) : 0;
		if (buf[i] != want) {
			diag("page %" PRIu64 " byte %" PRIu64 ": %#x, want %#x", index, i, buf[i], want);
			return false;
		}
	}
	return true;
}

static void test_get_find_refs(void)
{
	const char *const w[] = { "phys=16M", "pagecache=cold", NULL };
	struct kfix f;
	struct vm_file *file;
	uint64_t pfn, pfn2;
	bool major;

	if (kfix_init(&f, w))
		return;
	uint64_t size = 5 * PG + 300;
	vm_file_open(f.k, kfix_file(&f, size), &file);
	uint64_t free0 = f.k->buddy->free_frames;

	is_i64(vm_pagecache_find(f.k, file, 2, &pfn), -ENOENT, "find: not cached yet");
	is_i64(vm_pagecache_get_cached(f.k, file, 2, &pfn), -ENOENT, "get_cached on a cold file: -ENOENT");
	is_i64(vm_pagecache_get(f.k, file, 2, &pfn, &major), 0, "get page 2");
	ok(major, "cold: a major fault's read");
	is_u64(f.st->pagecache_reads, 1, "one read");
	is_u64(f.k->pages[pfn].refcount, 2, "refcount 2: the cache's and the caller's");
	is_u64(f.k->pages[pfn].owner_kind, VM_OWNER_FILE, "owned by the file");
	ok(f.k->pages[pfn].owner == file && f.k->pages[pfn].index == 2, "owner and index");
	is_u64(file->cached_pages, 1, "one page cached");
	is_u64(free0 - f.k->buddy->free_frames, 1, "one frame used");
	ok(frame_matches_file(&f, pfn, 2, size), "the frame holds the host file's page 2");

	is_i64(vm_pagecache_find(f.k, file, 2, &pfn2), 0, "find: cached");
	is_u64(pfn2, pfn, "the same frame");
	is_u64(f.k->pages[pfn].refcount, 2, "find takes no reference");
	is_i64(vm_pagecache_get(f.k, file, 2, &pfn2, &major), 0, "get it again");
	ok(pfn2 == pfn && !major, "the same frame, no read");
	is_u64(f.st->pagecache_reads, 1, "still one read");
	is_u64(f.k->pages[pfn].refcount, 3, "one more reference");
	vm_page_put(f.k, pfn);
	vm_page_put(f.k, pfn);
	is_u64(f.k->pages[pfn].refcount, 1, "back to the cache's reference");

	/* The last page is partial: zeroes after the end. */
	is_i64(vm_pagecache_get(f.k, file, 5, &pfn2, &major), 0, "get the last page");
	ok(frame_matches_file(&f, pfn2, 5, size), "300 bytes of file, then zeroes");
	vm_page_put(f.k, pfn2);
	is_i64(vm_pagecache_get(f.k, file, 6, &pfn2, &major), -ENXIO, "page 6 is past EOF: -ENXIO");
	is_i64(vm_pagecache_get(f.k, file, UINT64_MAX, &pfn2, &major), -ENXIO, "index UINT64_MAX: -ENXIO");
	is_i64(vm_pagecache_get_cached(f.k, file, 6, &pfn2), -ENXIO, "get_cached past EOF: -ENXIO");

	/* Eviction keeps pages someone holds, drops the rest, and makes the
	 * file cold. */
	is_i64(vm_pagecache_get(f.k, file, 0, &pfn2, &major), 0, "get page 0 and keep it");
	is_u64(vm_pagecache_evict(f.k, file), 2, "evict: pages 2 and 5 go");
	is_u64(file->cached_pages, 1, "page 0 stays (held)");
	is_i64(vm_pagecache_find(f.k, file, 2, &pfn), -ENOENT, "page 2 gone");
	is_i64(vm_pagecache_find(f.k, file, 0, &pfn), 0, "page 0 still cached");
	vm_page_put(f.k, pfn2);
	vm_file_put(f.k, file);
	is_u64(f.k->buddy->free_frames, free0, "closing the file frees the cache: every frame back");
	kfix_fini(&f);
}

static void test_warm(void)
{
	const char *const w[] = { "phys=16M", NULL };
	struct kfix f;
	struct vm_file *file;
	uint64_t pfn;
	bool major = true;

	if (kfix_init(&f, w))
		return;
	vm_file_open(f.k, kfix_file(&f, 8 * PG), &file);
	ok(file->warm, "pagecache=warm (default): the file counts as cached");
	is_i64(vm_pagecache_get(f.k, file, 3, &pfn, &major), 0, "get page 3");
	ok(!major, "no major fault");
	is_u64(f.st->pagecache_reads, 0, "no read counted");
	ok(frame_matches_file(&f, pfn, 3, 8 * PG), "the bytes are the file's all the same");
	vm_page_put(f.k, pfn);
	is_i64(vm_pagecache_get_cached(f.k, file, 6, &pfn), 0, "get_cached brings a warm page in");
	is_u64(f.k->pages[pfn].refcount, 2, "with the caller's reference");
	vm_page_put(f.k, pfn);
	vm_pagecache_evict(f.k, file);
	ok(!file->warm, "evicted: cold");
	is_i64(vm_pagecache_get(f.k, file, 3, &pfn, &major), 0, "get page 3 again");
	ok(major, "now a major fault");
	vm_page_put(f.k, pfn);
	vm_file_put(f.k, file);
	kfix_fini(&f);

	/* Meta mode: no host descriptor, no bytes, same counts. */
	const char *const m[] = { "phys=16M", "mode=meta", NULL };
	if (kfix_init(&f, m))
		return;
	vm_file_open(f.k, kfix_file(&f, 8 * PG), &file);
	is_i64(file->host_fd, -1, "meta mode: the host file is not kept open");
	is_i64(vm_pagecache_get(f.k, file, 7, &pfn, &major), 0, "get works");
	is_u64(f.k->pages[pfn].refcount, 2, "with the same counts");
	vm_page_put(f.k, pfn);
	vm_file_put(f.k, file);
	kfix_fini(&f);
}

static void test_alloc_failure(void)
{
	const char *const w[] = { "phys=16M", NULL };
	struct kfix f;
	struct vm_file *file;
	uint64_t pfn;
	bool major;

	if (kfix_init(&f, w))
		return;
	vm_file_open(f.k, kfix_file(&f, 4 * PG), &file);
	uint64_t free0 = f.k->buddy->free_frames;
	f.m->host.fail_at = f.m->host.attempts + 1;     /* the cache index's first table */
	is_i64(vm_pagecache_get(f.k, file, 1, &pfn, &major), -ENOMEM, "host out of memory: -ENOMEM");
	is_u64(f.k->buddy->free_frames, free0, "the frame went back");
	is_u64(file->cached_pages, 0, "nothing cached");
	f.m->host.fail_at = 0;
	is_i64(vm_pagecache_get(f.k, file, 1, &pfn, &major), 0, "then it works");
	vm_page_put(f.k, pfn);
	vm_file_put(f.k, file);
	is_u64(f.k->buddy->free_frames, free0, "and everything is freed");
	kfix_fini(&f);
}

int main(void)
{
	test_open();
	test_get_find_refs();
	test_warm();
	test_alloc_failure();
	return done_testing();
}
