/*
 * madvise and msync (src/kernel/madvise.c) against Linux 6.18: argument
 * checks in Linux's order, MADV_DONTNEED and MADV_FREE dropping pages,
 * flag advice splitting and merging VMAs, holes (ENOMEM with the advice
 * applied around them), what each advice refuses (EINVAL, EACCES),
 * WILLNEED reading a file into the page cache, POPULATE_*, and msync.
 */
#include "tap.h"
#include "kernel_fixture.h"
#include "kernel/vfs.h"

#define A UINT64_C(0x40000000)

static const char *flags_of(struct kfx *f, vm_vaddr va)
{
	static char out[128];
	const char *s = kfx_smaps(f);
	char head[32];

	sprintf(head, "%08" PRIx64 "-", va);
	s = strstr(s, head);
	s = s ? strstr(s, "VmFlags: ") : NULL;
	if (!s)
		return "";
	snprintf(out, sizeof(out), "%.*s", (int)(strchr(s, '\n') - s - 9), s + 9);
	return out;
}

static void test_args(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, A, 8 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "eight pages");
	is_i64(MADVISE(f, A + 1, PG, VM_MADV_DONTNEED), -EINVAL, "unaligned: EINVAL");
	is_i64(MADVISE(f, A, PG, 999), -EINVAL, "unknown advice: EINVAL");
	is_i64(MADVISE(f, A, 0, 999), -EINVAL, "unknown advice even with length 0");
	is_i64(MADVISE(f, A, 0, VM_MADV_DONTNEED), 0, "length 0: 0");
	is_i64(MADVISE(f, A, -1, VM_MADV_DONTNEED), -EINVAL, "length rounds to 0 from -1: EINVAL");
	is_i64(MADVISE(f, A, -2 * PG, VM_MADV_DONTNEED), -EINVAL, "range wraps: EINVAL");
	is_i64(MADVISE(f, A, PG, 100), -EINVAL, "MADV_HWPOISON without CONFIG_MEMORY_FAILURE: EINVAL");
	is_i64(MADVISE(f, A, PG, 26), -EINVAL, "26: EINVAL");
	is_i64(MADVISE(f, A, PG, 24), 0, "MADV_DONTNEED_LOCKED: fine");
	is_i64(MADVISE(f, A, PG, 102), 0, "MADV_GUARD_INSTALL: accepted");
	is_i64(MADVISE(f, A, PG, 25), -EINVAL, "MADV_COLLAPSE on a VMA without an aligned 2 MiB: EINVAL");
	is_i64(MADVISE(f, A + MB(1), PG, VM_MADV_DONTNEED), -ENOMEM, "nothing mapped: ENOMEM");
	is_i64(MADVISE(f, A + 6 * PG, 8 * PG, VM_MADV_DONTNEED), -ENOMEM, "running past the end: ENOMEM");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_dontneed(void)
{
	struct kfx *f = kfx_new();
	char buf[8];

	is_i64(MMAP(f, A, 8 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "eight pages");
	is_i64(vm_user_access(f->k, f->p, A + 2 * PG, 4, VM_ACC_WRITE, "old"), 0, "write page 2");
	is_i64(kfx_touch(f, A, 8 * PG, VM_ACC_WRITE), 0, "write all");
	is_i64(MADVISE(f, A + 2 * PG, 3 * PG, VM_MADV_DONTNEED), 0, "DONTNEED three");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 5, "RSS down by three");
	is_u64(kfx_vmas(f), 2, "the VMA stays whole");
	memset(buf, 1, sizeof(buf));
	is_i64(vm_user_access(f->k, f->p, A + 2 * PG, 4, VM_ACC_READ, buf), 0, "read page 2 again");
	ok(!buf[0] && !buf[3], "zero-filled on demand");
	kfx_free(f);
	/* MADV_FREE, measured on Linux 6.18: 31 pages written and one read
	 * (the zero page), then FREE; the pages stay mapped until reclaim
	 * wants them, and the next read or write takes no fault and sees the
	 * old bytes.  smaps shows 124 kB LazyFree (31 pages: Linux clears
	 * SwapBacked when its per-CPU batch of 31 drains; fewer pages show
	 * later there, at once in the model), 120 kB after one is written. */
	f = kfx_new();
	is_i64(MMAP(f, A, 40 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "forty pages");
	is_i64(kfx_touch(f, A, 31 * PG, VM_ACC_WRITE), 0, "write 31");
	is_i64(vm_user_access(f->k, f->p, A + 2 * PG, 4, VM_ACC_WRITE, "old"), 0, "write page 2");
	is_i64(kfx_touch(f, A + 35 * PG, PG, VM_ACC_READ), 0, "read page 35: the zero page");
	is_i64(MADVISE(f, A, 40 * PG, VM_MADV_FREE), 0, "MADV_FREE on private anonymous memory");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 31, "RSS unchanged: the pages stay mapped");
	ok(strstr(kfx_smaps(f), "LazyFree:            124 kB") != NULL, "smaps: 124 kB LazyFree");
	uint64_t flt = f->p->min_flt;
	memset(buf, 0, sizeof(buf));
	is_i64(vm_user_access(f->k, f->p, A + 2 * PG, 4, VM_ACC_READ, buf), 0, "read page 2");
	ok(!memcmp(buf, "old", 4), "its bytes are still there");
	is_i64(vm_user_access(f->k, f->p, A + 2 * PG, 4, VM_ACC_WRITE, "new"), 0, "write page 2");
	is_i64(kfx_touch(f, A + 35 * PG, PG, VM_ACC_READ), 0, "read page 35");
	is_u64(f->p->min_flt, flt, "no fault for any of them");
	ok(strstr(kfx_smaps(f), "LazyFree:            120 kB") != NULL,
	   "smaps: 120 kB, page 2 is dirty again");
	is_i64(kfx_touch(f, A + 35 * PG, PG, VM_ACC_WRITE), 0, "write page 35");
	is_u64(f->p->min_flt, flt + 1, "the zero page is still copied on write");
	is_i64(MMAP(f, A + MB(1), PG, RW, PRIV_ANON | VM_MAP_FIXED | VM_MAP_LOCKED, -1, 0), A + MB(1),
	       "a locked page");
	is_i64(MADVISE(f, A + MB(1), PG, VM_MADV_DONTNEED), -EINVAL, "DONTNEED on locked: EINVAL");
	is_i64(MADVISE(f, A + MB(1), PG, 24), 0, "DONTNEED_LOCKED: fine");
	is_i64(MADVISE(f, A + MB(1), PG, VM_MADV_COLD), -EINVAL, "COLD on locked: EINVAL");
	is_i64(MADVISE(f, A, PG, VM_MADV_COLD), 0, "COLD elsewhere: 0");
	is_i64(MADVISE(f, A, PG, VM_MADV_PAGEOUT), 0, "PAGEOUT: 0");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_flags(void)
{
	struct kfx *f = kfx_new();
	char l[512], l2[128];

	is_i64(MMAP(f, A, 8 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "eight pages");
	is_i64(MADVISE(f, A, PG, VM_MADV_HUGEPAGE), 0, "HUGEPAGE on the first page");
	is_str(flags_of(f, A), "rd wr mr mw me ac hg ", "VM_HUGEPAGE");
	is_u64(kfx_vmas(f), 3, "split off");
	is_i64(MADVISE(f, A, PG, VM_MADV_NOHUGEPAGE), 0, "NOHUGEPAGE");
	is_str(flags_of(f, A), "rd wr mr mw me ac nh ", "VM_NOHUGEPAGE replaces it");
	is_i64(MADVISE(f, A, PG, VM_MADV_NORMAL), 0, "NORMAL does not touch THP flags");
	is_u64(kfx_vmas(f), 3, "still split");
	is_i64(MADVISE(f, A + PG, PG, VM_MADV_RANDOM), 0, "RANDOM on page 1");
	is_i64(MADVISE(f, A + 2 * PG, PG, VM_MADV_SEQUENTIAL), 0, "SEQUENTIAL on page 2");
	is_str(flags_of(f, A + PG), "rd wr mr mw me rr ac ", "rr");
	is_str(flags_of(f, A + 2 * PG), "rd wr mr mw me sr ac ", "sr");
	is_i64(MADVISE(f, A + PG, 2 * PG, VM_MADV_NORMAL), 0, "NORMAL on both");
	strcpy(l, anon_line(l2, A, A + PG, "rw-p"));
	strcat(l, anon_line(l2, A + PG, A + 8 * PG, "rw-p"));
	is_str(kfx_maps_in(f, A, A + MB(1)), l, "they merge back with the rest");
	is_i64(MUNMAP(f, A + 6 * PG, PG), 0, "a hole at +6");
	is_i64(MADVISE(f, A + 5 * PG, 3 * PG, VM_MADV_DONTFORK), -ENOMEM, "DONTFORK across it: ENOMEM");
	is_str(flags_of(f, A + 5 * PG), "rd wr mr mw me dc ac ", "applied before the hole");
	is_str(flags_of(f, A + 7 * PG), "rd wr mr mw me dc ac ", "and after it");
	is_i64(MADVISE(f, A, PG, VM_MADV_WIPEONFORK), 0, "WIPEONFORK on private anonymous");
	is_i64(MADVISE(f, A, PG, VM_MADV_DONTDUMP), 0, "DONTDUMP");
	is_i64(MADVISE(f, A, PG, VM_MADV_MERGEABLE), 0, "MERGEABLE");
	is_str(flags_of(f, A), "rd wr mr mw me ac wf dd nh mg ", "wf dd mg, in bit order");
	is_i64(MMAP(f, A + MB(1), PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0),
	       A + MB(1), "shared anonymous");
	is_i64(MADVISE(f, A + MB(1), PG, VM_MADV_WIPEONFORK), -EINVAL, "WIPEONFORK on shared: EINVAL");
	is_i64(MADVISE(f, A + MB(1), PG, VM_MADV_MERGEABLE), 0, "MERGEABLE on shared: ignored, 0");
	is_str(flags_of(f, A + MB(1)), "rd wr sh mr mw me ms ", "no mg");
	is_i64(MADVISE(f, A + MB(1), PG, VM_MADV_FREE), -EINVAL, "FREE on shared: EINVAL");
	is_i64(kfx_touch(f, A + MB(1), 1, VM_ACC_WRITE), 0, "write it");
	is_i64(MADVISE(f, A + MB(1), PG, VM_MADV_REMOVE), 0, "REMOVE on shared writable: 0");
	is_u64(f->p->mm->rss[VM_RSS_SHMEM], 0, "the page went");
	is_i64(MADVISE(f, A, PG, VM_MADV_REMOVE), -EINVAL, "REMOVE on private anonymous: EINVAL");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_maxmap(void)
{
	const char *const w[] = { "max_map_count=3", NULL };
	struct kfx *f = kfx_new_with(w);

	is_i64(MMAP(f, A, 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "two VMAs");
	is_i64(MMAP(f, A + MB(1), PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + MB(1), "three");
	is_i64(MADVISE(f, A + PG, PG, VM_MADV_HUGEPAGE), -EAGAIN,
	       "a split at max_map_count: ENOMEM becomes EAGAIN");
	kfx_free(f);
}

static void test_files(void)
{
	const char *const w[] = { "pagecache=cold", NULL };
	struct kfx *f = kfx_new_with(w);
	long fd = vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY);
	struct vm_file *file = f->p->fds[fd].file;

	is_i64(MMAP(f, A, PG, VM_PROT_READ, VM_MAP_SHARED | VM_MAP_FIXED, fd, 0), A, "a shared file page");
	is_u64(file->cached_pages, 0, "cold cache: nothing cached");
	is_i64(MADVISE(f, A, PG, VM_MADV_WILLNEED), 0, "WILLNEED");
	is_u64(file->cached_pages, 1, "the page was read into the cache");
	is_u64(f->p->mm->rss[VM_RSS_FILE], 0, "but not mapped");
	is_i64(MADVISE(f, A, PG, VM_MADV_FREE), -EINVAL, "FREE on a file: EINVAL");
	is_i64(MADVISE(f, A, PG, VM_MADV_REMOVE), -EACCES, "REMOVE on a read-only file: EACCES");
	is_i64(MADVISE(f, A, PG, VM_MADV_POPULATE_WRITE), -EINVAL, "POPULATE_WRITE read-only: EINVAL");
	is_i64(MADVISE(f, A, PG, VM_MADV_POPULATE_READ), 0, "POPULATE_READ");
	is_u64(f->p->mm->rss[VM_RSS_FILE], 1, "mapped now");
	is_i64(MMAP(f, A + MB(1), 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + MB(1), "anon");
	is_i64(MADVISE(f, A + MB(1), PG, VM_MADV_WILLNEED), 0, "WILLNEED on anonymous (CONFIG_SWAP): 0");
	is_i64(MADVISE(f, A + MB(1), 2 * PG, VM_MADV_POPULATE_WRITE), 0, "POPULATE_WRITE");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 2, "two anonymous pages");
	is_i64(MADVISE(f, A + MB(1), 3 * PG, VM_MADV_POPULATE_READ), -ENOMEM, "into a hole: ENOMEM");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_msync(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, A, 8 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "eight pages");
	is_i64(MUNMAP(f, A + 6 * PG, PG), 0, "a hole at +6");
	is_i64(MSYNC(f, A, PG, 8), -EINVAL, "unknown flag: EINVAL");
	is_i64(MSYNC(f, A + 1, PG, VM_MS_SYNC), -EINVAL, "unaligned: EINVAL");
	is_i64(MSYNC(f, A, PG, VM_MS_SYNC | VM_MS_ASYNC), -EINVAL, "SYNC and ASYNC: EINVAL");
	is_i64(MSYNC(f, A, 0, VM_MS_SYNC), 0, "length 0: 0");
	is_i64(MSYNC(f, A, -1, VM_MS_SYNC), 0, "length rounds to 0: 0");
	is_i64(MSYNC(f, A, -2 * PG, VM_MS_SYNC), -ENOMEM, "range wraps: ENOMEM");
	is_i64(MSYNC(f, A + 6 * PG, PG, VM_MS_SYNC), -ENOMEM, "a hole: ENOMEM");
	is_i64(MSYNC(f, A + 5 * PG, 3 * PG, VM_MS_ASYNC), -ENOMEM, "across a hole, ASYNC: ENOMEM");
	is_i64(MSYNC(f, A + 5 * PG, 3 * PG, 0), -ENOMEM, "across a hole, no flags: ENOMEM");
	is_i64(MSYNC(f, A, 4 * PG, VM_MS_SYNC), 0, "mapped: 0");
	is_i64(MSYNC(f, A, PG, 0), 0, "no flags: 0");
	is_i64(MMAP(f, A + MB(1), PG, RW, PRIV_ANON | VM_MAP_FIXED | VM_MAP_LOCKED, -1, 0), A + MB(1),
	       "a locked page");
	is_i64(MSYNC(f, A + MB(1), PG, VM_MS_INVALIDATE), -EBUSY, "INVALIDATE of locked memory: EBUSY");
	kfx_free(f);
}

int main(void)
{
	test_args();
	test_dontneed();
	test_flags();
	test_maxmap();
	test_files();
	test_msync();
	return done_testing();
}
