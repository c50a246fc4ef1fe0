/*
 * mmap and munmap (src/kernel/mmap.c, mm_layout.c, vma_ops.c) against
 * facts measured on Linux 6.18/x86-64: top-down placement with aslr=0 at
 * Linux's addresses (THP alignment included), hints, MAP_FIXED replacing
 * and merging, MAP_FIXED_NOREPLACE, every errno in Linux's order,
 * max_map_count, file and shared anonymous mappings, populate, and what
 * unmapping does to pages and counters.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tap.h"
#include "kernel_fixture.h"

#define TOP UINT64_C(0x7ffff7fff000)     /* mmap_base with aslr=0 */

static void test_new_process(void)
{
	struct kfx *f = kfx_new();
	is_str(kfx_maps(f),
	       "7ffffffdf000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n",
	       "a new process: only its 128 KiB stack below 0x7ffffffff000");
	is_u64(f->p->mm->mmap_base, TOP, "mmap_base 0x7ffff7fff000 with aslr=0 (128 MiB gap)");
	is_u64(f->p->mm->start_brk, 0x555555559000, "heap after the empty PIE's five pages");
	is_u64(f->p->mm->brk, f->p->mm->start_brk, "brk == start_brk");
	is_u64(f->p->mm->total_vm, 32, "VSZ 32 pages");
	is_u64(f->p->mm->stack_vm, 32, "all of it stack");
	kfx_free(f);
}

static void test_topdown(void)
{
	struct kfx *f = kfx_new();
	char l[128];

	is_i64(MMAP(f, 0, PG, RW, PRIV_ANON, -1, 0), TOP - PG, "first page right below mmap_base");
	is_i64(MMAP(f, 0, PG, RW, PRIV_ANON, -1, 0), TOP - 2 * PG, "second below it");
	is_str(kfx_maps_in(f, 0, 0x7ffffff00000), anon_line(l, TOP - 2 * PG, TOP, "rw-p"),
	       "adjacent private anonymous mappings merge (pgoff = addr >> 12)");
	is_i64(MMAP(f, 0, PG, VM_PROT_READ, PRIV_ANON, -1, 0), TOP - 3 * PG, "read-only below");
	is_u64(kfx_vmas(f), 3, "different flags: no merge");
	/* Linux 6.7+: anonymous lengths that are multiples of 2 MiB are THP
	 * aligned: search len + 2 MiB, round up to 2 MiB. */
	is_i64(MMAP(f, 0, MB(2), RW, PRIV_ANON, -1, 0), 0x7ffff7c00000, "2 MiB: 2 MiB aligned");
	is_i64(MMAP(f, 0, MB(4), RW, PRIV_ANON, -1, 0), 0x7ffff7800000,
	       "4 MiB: aligned and right below (already aligned: +2 MiB)");
	is_i64(MMAP(f, 0, MB(3), RW, PRIV_ANON, -1, 0), 0x7ffff7500000, "3 MiB: not aligned");
	is_str(kfx_maps_in(f, 0, 0x7ffff7e00000), anon_line(l, 0x7ffff7500000, 0x7ffff7e00000, "rw-p"),
	       "the three merge into one 9 MiB VMA");
	is_i64(MMAP(f, 0, PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS, -1, 0), 0x7ffff7ffb000,
	       "the top gap (between 9 MiB and the pages) is used first");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_hints(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, 0x10000000, PG, RW, PRIV_ANON, -1, 0), 0x10000000, "a free hint is taken");
	is_i64(MMAP(f, 0x10000000, PG, RW, PRIV_ANON, -1, 0), TOP - PG, "a taken hint: top-down");
	is_i64(MMAP(f, 0x10000800, PG, RW, PRIV_ANON, -1, 0), TOP - 2 * PG, "hint rounded down first");
	is_i64(MMAP(f, 0x2000, PG, RW, PRIV_ANON, -1, 0), 0x10000,
	       "below 64 KiB (LSM mmap_min_addr): rounded up to 0x10000");
	is_i64(MMAP(f, 0x200, PG, RW, PRIV_ANON, -1, 0), TOP - 3 * PG, "below a page: no hint");
	is_i64(MMAP(f, 0x7ffffffff000, PG, RW, PRIV_ANON, -1, 0), TOP - 4 * PG,
	       "the last page is no hint (TASK_SIZE - len < addr)");
	is_i64(MMAP(f, 0x800000000000, PG, RW, PRIV_ANON, -1, 0), TOP - 5 * PG,
	       "beyond 47 bits with 4 levels: no hint");
	is_i64(MMAP(f, 0x20000000, MB(2), RW, PRIV_ANON, -1, 0), 0x20000000,
	       "a hint turns THP alignment off (and fits)");
	is_i64(MMAP(f, 0x20100000, MB(2), RW, PRIV_ANON, -1, 0), 0x7ffff7dfa000,
	       "a taken hint falls back to the plain search (no THP alignment)");
	kfx_free(f);
}

static void test_fixed(void)
{
	struct kfx *f = kfx_new();
	char l[512], l2[128], l3[128];
	vm_vaddr a = 0x40000000;

	is_i64(MMAP(f, a, 3 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), a, "MAP_FIXED at a free place");
	is_i64(kfx_touch(f, a, 3 * PG, VM_ACC_WRITE), 0, "three pages written");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 3, "RssAnon 3 pages");
	is_i64(MMAP(f, a + PG, PG, VM_PROT_READ, PRIV_ANON | VM_MAP_FIXED, -1, 0), a + PG,
	       "MAP_FIXED over the middle page");
	strcpy(l, anon_line(l2, a, a + PG, "rw-p"));
	strcat(l, anon_line(l2, a + PG, a + 2 * PG, "r--p"));
	strcat(l, anon_line(l3, a + 2 * PG, a + 3 * PG, "rw-p"));
	is_str(kfx_maps_in(f, a, a + 3 * PG), l, "split in three");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 2, "the replaced page was unmapped");
	is_i64(MMAP(f, a + PG, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), a + PG, "again, read-write");
	is_str(kfx_maps_in(f, a, a + 3 * PG), anon_line(l, a, a + 3 * PG, "rw-p"),
	       "merged back with both neighbours");
	is_i64(MMAP(f, a, PG, RW, PRIV_ANON | VM_MAP_FIXED_NOREPLACE, -1, 0), -EEXIST,
	       "FIXED_NOREPLACE over a mapping: EEXIST");
	is_i64(MMAP(f, a - PG, 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED_NOREPLACE, -1, 0), -EEXIST,
	       "FIXED_NOREPLACE overlapping by one page: EEXIST");
	is_i64(MMAP(f, a - PG, PG, RW, PRIV_ANON | VM_MAP_FIXED_NOREPLACE, -1, 0), a - PG,
	       "FIXED_NOREPLACE next to it: fine (and merges)");
	is_u64(kfx_vmas(f), 2, "stack + one VMA");
	is_i64(MMAP(f, a + 1, PG, RW, PRIV_ANON | VM_MAP_FIXED_NOREPLACE, -1, 0), -EINVAL,
	       "FIXED_NOREPLACE unaligned: EINVAL");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_errno(void)
{
	struct kfx *f = kfx_new();
	long fd = vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY);
	long dir = vm_sys_openat(f->k, f->p, "/tmp", VM_O_RDONLY);

	ok(fd >= 0 && dir >= 0, "opened a file and a directory");
	is_i64(MMAP(f, 0, 0, RW, PRIV_ANON, -1, 0), -EINVAL, "length 0: EINVAL");
	is_i64(MMAP(f, 0, PG, RW, PRIV_ANON, -1, 1), -EINVAL, "unaligned offset: EINVAL (first)");
	is_i64(MMAP(f, 0, 0, RW, VM_MAP_PRIVATE, 99, 1), -EINVAL, "offset before fd");
	is_i64(MMAP(f, 0, PG, RW, PRIV_ANON, -1, PG), TOP - PG, "an aligned offset is ignored (anon)");
	is_i64(MMAP(f, 0, -PG, RW, PRIV_ANON, -1, 0), -ENOMEM, "length -4096: ENOMEM");
	is_i64(MMAP(f, 0, UINT64_MAX, RW, PRIV_ANON, -1, 0), -ENOMEM, "length wraps: ENOMEM");
	is_i64(MMAP(f, 0, UINT64_C(1) << 47, RW, PRIV_ANON, -1, 0), -ENOMEM, "longer than TASK_SIZE");
	is_i64(MMAP(f, 0, PG, RW, VM_MAP_PRIVATE, 99, 0), -EBADF, "fd 99 not open: EBADF");
	is_i64(MMAP(f, 0, PG, RW, VM_MAP_PRIVATE, -1, 0), -EBADF, "no MAP_ANONYMOUS, fd -1: EBADF");
	is_i64(MMAP(f, 0, 0, RW, VM_MAP_PRIVATE, 99, 0), -EBADF, "EBADF before the length check");
	is_i64(MMAP(f, 0, PG, RW, VM_MAP_ANONYMOUS, -1, 0), -EINVAL, "no map type: EINVAL");
	is_i64(MMAP(f, 0, PG, RW, VM_MAP_SHARED_VALIDATE | VM_MAP_ANONYMOUS, -1, 0), -EINVAL,
	       "SHARED_VALIDATE anonymous: EINVAL");
	is_i64(MMAP(f, 0, -PG, RW, VM_MAP_ANONYMOUS, -1, 0), -ENOMEM,
	       "no type but too long: the search fails first (ENOMEM)");
	is_i64(MMAP(f, 0, PG, RW, 0, fd, 0), -EINVAL, "file without map type: EINVAL");
	is_i64(MMAP(f, 0, PG, RW, VM_MAP_SHARED, fd, 0), -EACCES,
	       "shared writable map of a read-only fd: EACCES");
	ok(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_SHARED, fd, 0) > 0, "shared read-only map: fine");
	ok(MMAP(f, 0, PG, RW, VM_MAP_PRIVATE, fd, 0) > 0, "private writable map: fine (COW)");
	is_i64(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_PRIVATE, dir, 0), -ENODEV, "a directory: ENODEV");
	is_i64(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_GROWSDOWN, fd, 0), -EINVAL,
	       "a growsdown file map: EINVAL");
	is_i64(MMAP(f, 0, PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS | VM_MAP_GROWSDOWN, -1, 0), -EINVAL,
	       "a growsdown shared anonymous map: EINVAL");
	is_i64(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_PRIVATE, fd, -PG), -EOVERFLOW,
	       "pgoff + pages wraps: EOVERFLOW");
	is_i64(MMAP(f, 0, 2 * PG, VM_PROT_READ, VM_MAP_PRIVATE, fd, 0x7ffffffffffff000), -EOVERFLOW,
	       "beyond MAX_LFS_FILESIZE: EOVERFLOW");
	ok(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_PRIVATE, fd, UINT64_C(1) << 44) > 0,
	   "an offset far beyond the end of the file: fine (SIGBUS on touch)");
	is_i64(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_SHARED_VALIDATE | 0x200, fd, 0), -EOPNOTSUPP,
	       "SHARED_VALIDATE with an unknown flag: EOPNOTSUPP");
	is_i64(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_SHARED_VALIDATE | VM_MAP_SYNC, fd, 0), -EOPNOTSUPP,
	       "MAP_SYNC on a non-DAX file: EOPNOTSUPP");
	ok(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_SHARED | 0x200, fd, 0) > 0,
	   "MAP_SHARED ignores unknown flags");
	ok(MMAP(f, 0, PG, VM_PROT_READ | 8, PRIV_ANON | 0x80000000, -1, 0) > 0,
	   "unknown prot and flag bits are ignored");
	is_i64(MMAP(f, 0, PG, RW, PRIV_ANON | VM_MAP_HUGETLB, -1, 0), -ENOMEM,
	       "MAP_HUGETLB without reserved huge pages: ENOMEM");
	is_i64(MMAP(f, 0, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_HUGETLB, fd, 0), -EINVAL,
	       "MAP_HUGETLB on a regular file: EINVAL");
	is_i64(MMAP(f, 0x1001, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), -EINVAL, "FIXED unaligned");
	is_i64(MMAP(f, 0, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), -EPERM,
	       "FIXED at 0, below mmap_min_addr, unprivileged: EPERM");
	is_i64(MMAP(f, 0x1000, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), 0x1000,
	       "FIXED at 4 KiB (mmap_min_addr=4K): fine");
	is_i64(MMAP(f, 0x7ffffffff000, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), -ENOMEM,
	       "FIXED on the last page (TASK_SIZE): ENOMEM");
	is_i64(MMAP(f, 0x7fffffffe000, 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), -ENOMEM,
	       "FIXED running into the last page: ENOMEM");
	is_i64(MMAP(f, 0x7ffffff00000, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), 0x7ffffff00000,
	       "FIXED just below: fine");
	is_i64(MMAP(f, UINT64_MAX - PG + 1, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), -ENOMEM,
	       "FIXED at the top of the 64-bit space: ENOMEM");
	is_i64(MMAP(f, 0, MB(9), RW, PRIV_ANON | VM_MAP_LOCKED, -1, 0), -EAGAIN,
	       "MAP_LOCKED beyond RLIMIT_MEMLOCK (8 MiB): EAGAIN");
	/* Overcommit heuristic: one request larger than memory (64 MiB here). */
	is_i64(MMAP(f, 0, MB(64) + PG, RW, PRIV_ANON, -1, 0), -ENOMEM, "private writable > RAM: ENOMEM");
	ok(MMAP(f, 0, MB(64), RW, PRIV_ANON, -1, 0) > 0, "exactly RAM: fine");
	ok(MMAP(f, 0, MB(64), RW, PRIV_ANON, -1, 0) > 0, "and again (no global commit limit)");
	ok(MMAP(f, 0, MB(128), VM_PROT_READ, PRIV_ANON, -1, 0) > 0, "read-only is not charged");
	ok(MMAP(f, 0, MB(128), RW, PRIV_ANON | VM_MAP_NORESERVE, -1, 0) > 0, "MAP_NORESERVE is not");
	is_i64(MMAP(f, 0, MB(128), RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS, -1, 0), -ENOMEM,
	       "shared anonymous memory is charged by shmem: ENOMEM");
	/* munmap */
	is_i64(MUNMAP(f, 0, 0), -EINVAL, "munmap length 0: EINVAL");
	is_i64(MUNMAP(f, 0x10001, PG), -EINVAL, "munmap unaligned: EINVAL");
	is_i64(MUNMAP(f, 0x30000000, PG), 0, "munmap of nothing: 0");
	is_i64(MUNMAP(f, 0x7ffffffff000, PG), -EINVAL, "munmap of the last page: EINVAL");
	is_i64(MUNMAP(f, 0x800000000000, PG), -EINVAL, "munmap beyond TASK_SIZE: EINVAL");
	is_i64(MUNMAP(f, 0x10000, -PG), -EINVAL, "munmap length wraps: EINVAL");
	is_i64(MUNMAP(f, 0x10000, (UINT64_C(1) << 47) - 0x10000), -EINVAL,
	       "munmap up to 2^47: beyond TASK_SIZE");
	is_i64(MUNMAP(f, 0x1000, 0x7ffffffff000 - 0x1000), 0, "munmap up to TASK_SIZE exactly: 0");
	is_str(kfx_maps_in(f, 0, 0x7ffffffff000), "", "and nothing is left");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_max_map_count(void)
{
	const char *const w[] = { "max_map_count=20", NULL };
	struct kfx *f = kfx_new_with(w);
	vm_vaddr a = 0x50000000;
	long r = 0;
	unsigned i;

	/* Alternate rights so that nothing merges. */
	for (i = 0; i < 40 && r >= 0; i++)
		r = MMAP(f, a + i * 2 * PG, PG, i & 1 ? VM_PROT_READ : RW,
			 PRIV_ANON | VM_MAP_FIXED_NOREPLACE, -1, 0);
	is_i64(r, -ENOMEM, "mmap fails with ENOMEM at the limit");
	is_u64(kfx_vmas(f), 21, "after max_map_count + 1 VMAs (do_mmap checks map_count > max)");
	is_i64(MUNMAP(f, a, PG), 0, "munmap of a whole VMA at the limit: fine");
	is_i64(MMAP(f, a, 3 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), a,
	       "a three-page VMA replacing one (count 20 = max)");
	is_u64(kfx_vmas(f), 20, "count at max");
	is_i64(MUNMAP(f, a + PG, PG), -ENOMEM, "munmap that splits one VMA in two at the limit");
	is_i64(MPROTECT(f, a + PG, PG, VM_PROT_READ), -ENOMEM, "mprotect of a middle page at the limit");
	is_i64(MPROTECT(f, a + 2 * PG, PG, VM_PROT_READ), -ENOMEM, "mprotect of the last page (a split)");
	is_i64(MUNMAP(f, a + 2 * PG, PG), 0, "munmap of its last page: no new VMA, fine");
	is_i64(MMAP(f, a + 2 * PG, 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), a + 2 * PG,
	       "mapping the gap merges with both neighbours");
	is_u64(kfx_vmas(f), 19, "count 19");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_unmap(void)
{
	struct kfx *f = kfx_new();
	struct vm_stats st0, st1;
	char l[256], l2[128];
	vm_vaddr a = 0x40000000;

	vmlab_machine_stats(f->m, &st0);
	is_i64(MMAP(f, a, 8 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), a, "eight pages");
	is_i64(kfx_touch(f, a, 8 * PG, VM_ACC_WRITE), 0, "all written");
	is_i64(MUNMAP(f, a + 2 * PG, 3 * PG), 0, "unmap three in the middle");
	strcpy(l, anon_line(l2, a, a + 2 * PG, "rw-p"));
	strcat(l, anon_line(l2, a + 5 * PG, a + 8 * PG, "rw-p"));
	is_str(kfx_maps_in(f, a, a + 8 * PG), l, "two VMAs left");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 5, "RSS down by 3");
	is_u64(f->p->mm->total_vm, 32 + 5, "VSZ down by 3");
	is_i64(MUNMAP(f, a + PG, 6 * PG), 0, "unmap across the hole");
	strcpy(l, anon_line(l2, a, a + PG, "rw-p"));
	strcat(l, anon_line(l2, a + 7 * PG, a + 8 * PG, "rw-p"));
	is_str(kfx_maps_in(f, a, a + 8 * PG), l, "a page at each end");
	is_i64(MUNMAP(f, a, 8 * PG), 0, "unmap the rest");
	vmlab_machine_stats(f->m, &st1);
	is_u64(st1.frames_free, st0.frames_free, "every frame and page table given back");
	is_u64(f->p->mm->hiwater_rss, 8, "VmHWM remembers 8 pages");
	is_u64(f->p->mm->hiwater_vm, 32 + 8, "VmPeak remembers 40 pages");
	ok(st1.pages_zapped - st0.pages_zapped == 8, "8 pages zapped");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

/* A temp file of `pages` pages; its path in buf. */
static int temp_file(char *buf, uint64_t bytes)
{
	strcpy(buf, "/tmp/vmlab_test_mmap_XXXXXX");
	int fd = mkstemp(buf);
	if (fd < 0 || ftruncate(fd, (off_t)bytes)) {
		diag("cannot create a temp file");
		return -1;
	}
	(void)!write(fd, "hello", 5);
	close(fd);
	return 0;
}

static void test_files(void)
{
	struct kfx *f = kfx_new();
	char path[64], want[512], *p;
	struct stat st;
	vm_vaddr a = 0x60000000;

	if (temp_file(path, 3 * PG) || stat(path, &st)) {
		ok(0, "temp file");
		return;
	}
	long fd = vm_sys_openat(f->k, f->p, path, VM_O_RDONLY);
	ok(fd >= 0, "openat");
	is_i64(MMAP(f, a, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, 0), a, "page 0 at a");
	is_i64(MMAP(f, a + PG, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, PG), a + PG,
	       "page 1 right after");
	p = want + sprintf(want, "%08" PRIx64 "-%08" PRIx64 " r--p 00000000 %02x:%02x %lu ", a,
			   a + 2 * PG, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
	while (p - want < 73)
		*p++ = ' ';
	sprintf(p, "%s\n", path);
	is_str(kfx_maps_in(f, a, a + 8 * PG), want, "same file, contiguous offsets: one VMA, "
	       "path at column 73");
	is_i64(MMAP(f, a + 2 * PG, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, 0), a + 2 * PG,
	       "page 0 again after page 1");
	is_u64(kfx_vmas(f), 3, "offsets not contiguous: no merge");
	is_i64(MMAP(f, a + 3 * PG, PG, VM_PROT_READ, VM_MAP_SHARED | VM_MAP_FIXED, fd, PG), a + 3 * PG,
	       "a shared map of page 1 next to it");
	is_u64(kfx_vmas(f), 4, "shared and private do not merge");
	is_i64(kfx_touch(f, a, 1, VM_ACC_READ), 0, "read the file through the mapping");
	ok(f->p->mm->rss[VM_RSS_FILE] >= 1 && f->p->mm->rss[VM_RSS_FILE] <= 2,
	   "RssFile: the page (fault-around stays inside the 2-page VMA)");
	is_i64(vm_sys_close(f->k, f->p, (int)fd), 0, "close: the mappings keep the file");
	is_i64(kfx_touch(f, a + 3 * PG, 1, VM_ACC_READ), 0, "still readable after close");
	unlink(path);

	/* A file of 4 MiB: an aligned 2 MiB fits, so the mapping is aligned. */
	if (temp_file(path, MB(4)))
		return;
	fd = vm_sys_openat(f->k, f->p, path, VM_O_RDONLY);
	long r = MMAP(f, 0, MB(4), VM_PROT_READ, VM_MAP_PRIVATE, fd, 0);
	ok(r > 0 && r % (long)MB(2) == 0, "a 4 MiB file mapping is 2 MiB aligned (thp_get_unmapped_area)");
	r = MMAP(f, 0, MB(1), VM_PROT_READ, VM_MAP_PRIVATE, fd, PG);
	ok(r > 0 && r % (long)MB(2) != 0, "1 MiB of it is not");
	unlink(path);
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

/* MAP_SYNC, measured on Linux 6.18.  It sets VM_SYNC whatever the map
 * type (calc_vm_flag_bits), so a private anonymous mapping with it does
 * not merge with its neighbours.  ext4 (0xef53) and xfs declare
 * FOP_MMAP_SYNC: MAP_SHARED_VALIDATE|MAP_SYNC passes do_mmap's flag check
 * (a PROT_WRITE map of a read-only fd is then EACCES), and ext4_file_mmap
 * refuses VM_SYNC on a file that is not DAX with EOPNOTSUPP, after
 * MAP_FIXED has unmapped the old range; plain MAP_SHARED and MAP_PRIVATE
 * fail the same way.  On tmpfs the flag check refuses MAP_SYNC first
 * (nothing unmapped) and MAP_SHARED / MAP_PRIVATE with it map. */
static void test_map_sync(void)
{
	struct kfx *f = kfx_new();
	vm_vaddr a = 0x60000000;
	struct statfs sf;
	char path[64];

	is_i64(MMAP(f, a, 3 * PG, VM_PROT_NONE, PRIV_ANON | VM_MAP_FIXED, -1, 0), a, "three pages");
	is_i64(MMAP(f, a + PG, PG, VM_PROT_NONE, PRIV_ANON | VM_MAP_FIXED | VM_MAP_SYNC, -1, 0),
	       a + PG, "the middle one again with MAP_SYNC");
	is_u64(kfx_vmas(f), 4, "VM_SYNC keeps it apart from both neighbours");
	ok(strstr(kfx_smaps(f), " sf ") != NULL, "smaps VmFlags: sf");
	if (temp_file(path, 3 * PG) || statfs(path, &sf)) {
		ok(0, "temp file");
		return;
	}
	bool ext4 = sf.f_type == 0xEF53 || sf.f_type == 0x58465342;
	long fd = vm_sys_openat(f->k, f->p, path, VM_O_RDONLY);
	is_i64(MMAP(f, a, PG, RW, VM_MAP_SHARED_VALIDATE | VM_MAP_SYNC | VM_MAP_FIXED, fd, 0),
	       ext4 ? -EACCES : -EOPNOTSUPP, ext4 ? "ext4: PROT_WRITE on a read-only fd, EACCES first"
						  : "tmpfs: MAP_SYNC refused first");
	is_u64(kfx_vmas(f), 4, "nothing unmapped");
	is_i64(MMAP(f, a, PG, VM_PROT_READ, VM_MAP_SHARED_VALIDATE | VM_MAP_SYNC | VM_MAP_FIXED, fd, 0),
	       -EOPNOTSUPP, "a read-only MAP_SHARED_VALIDATE|MAP_SYNC map: EOPNOTSUPP");
	is_u64(kfx_vmas(f), ext4 ? 3 : 4, ext4 ? "ext4: its range unmapped" : "tmpfs: nothing unmapped");
	long r = MMAP(f, a + 2 * PG, PG, VM_PROT_READ, VM_MAP_SHARED | VM_MAP_SYNC | VM_MAP_FIXED, fd, 0);
	is_i64(r, ext4 ? -EOPNOTSUPP : (long)(a + 2 * PG), "MAP_SHARED|MAP_SYNC");
	r = MMAP(f, a + PG, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_SYNC | VM_MAP_FIXED, fd, 0);
	is_i64(r, ext4 ? -EOPNOTSUPP : (long)(a + PG), "MAP_PRIVATE|MAP_SYNC");
	is_u64(kfx_vmas(f), ext4 ? 1 : 4, ext4 ? "ext4: all three pages unmapped" : "tmpfs: mapped");
	unlink(path);
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_shared_anon(void)
{
	struct kfx *f = kfx_new();
	char want[256];

	is_i64(MMAP(f, 0, PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS, -1, 0), TOP - PG, "shared anon");
	is_i64(MMAP(f, 0, PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS, -1, 0), TOP - 2 * PG, "another");
	sprintf(want, "7ffff7ffd000-7ffff7ffe000 rw-s 00000000 00:01 2%*s/dev/zero (deleted)\n"
		"7ffff7ffe000-7ffff7fff000 rw-s 00000000 00:01 1%*s/dev/zero (deleted)\n", 26, "", 26, "");
	is_str(kfx_maps_in(f, 0, 0x7ffffff00000), want,
	       "each its own shmem object (00:01, its inode), never merged");
	is_i64(kfx_touch(f, TOP - PG, 8, VM_ACC_WRITE), 0, "write");
	is_u64(f->p->mm->rss[VM_RSS_SHMEM], 1, "RssShmem 1 page");
	is_u64(f->p->mm->data_vm, 0, "shared memory is not data");
	kfx_free(f);
}

static void test_populate(void)
{
	struct kfx *f = kfx_new();

	ok(MMAP(f, 0, 16 * PG, RW, PRIV_ANON | VM_MAP_POPULATE, -1, 0) > 0, "MAP_POPULATE");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 16, "16 pages present (write-faulted: private writable)");
	ok(MMAP(f, 0, 4 * PG, VM_PROT_READ, PRIV_ANON | VM_MAP_POPULATE, -1, 0) > 0,
	   "MAP_POPULATE read-only");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 16, "read-only: zero pages, no RSS");
	ok(MMAP(f, 0, 4 * PG, RW, PRIV_ANON | VM_MAP_POPULATE | VM_MAP_NONBLOCK, -1, 0) > 0,
	   "MAP_POPULATE | MAP_NONBLOCK");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 16, "NONBLOCK cancels POPULATE");
	ok(MMAP(f, 0, 2 * PG, RW, PRIV_ANON | VM_MAP_LOCKED, -1, 0) > 0, "MAP_LOCKED");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 18, "locked: populated");
	is_u64(f->p->mm->locked_vm, 2, "VmLck 2 pages");
	ok(MMAP(f, 0, 2 * PG, RW, PRIV_ANON | VM_MAP_STACK, -1, 0) > 0, "MAP_STACK");
	ok(strstr(kfx_smaps(f), "VmFlags: rd wr mr mw me ac nh \n") != NULL,
	   "MAP_STACK implies VM_NOHUGEPAGE (Linux 6.7+)");
	kfx_free(f);
}

static void test_la57(void)
{
	const char *const w[] = { "pt=radix5", NULL };
	struct kfx *f = kfx_new_with(w);
	vm_vaddr hi = UINT64_C(1) << 52;

	is_u64(f->p->mm->mmap_base, TOP, "LA57: mmap_base still below the 47-bit window");
	is_i64(MMAP(f, 0, PG, RW, PRIV_ANON, -1, 0), TOP - PG, "no hint: below 47 bits");
	is_i64(MMAP(f, hi, PG, RW, PRIV_ANON, -1, 0), hi, "a hint above 47 bits is taken");
	long r = MMAP(f, hi, PG, RW, PRIV_ANON, -1, 0);
	ok(r > (long)(UINT64_C(1) << 47) && r < (long)(UINT64_C(1) << 56),
	   "a taken high hint searches the whole 56-bit space (got %#lx)", r);
	is_i64(MMAP(f, UINT64_C(0xff00000000000), PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0),
	       0xff00000000000, "MAP_FIXED above 47 bits");
	is_i64(kfx_touch(f, hi, 8, VM_ACC_WRITE), 0, "and the page works");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_dead(void)
{
	struct kfx *f = kfx_new();

	vm_sys_exit(f->k, f->p, 3);
	is_i64(vm_sys_mmap(f->k, f->p, 0, PG, RW, PRIV_ANON, -1, 0), -ESRCH, "mmap after exit: ESRCH");
	is_i64(vm_sys_munmap(f->k, f->p, 0, PG), -ESRCH, "munmap after exit: ESRCH");
	is_u64(f->p->exit_code, 3, "exit code kept");
	ok(f->p->mm == NULL, "address space gone");
	is_i64(kfx_check(f, "exit"), 0, "every frame back");
	kfx_free(f);
}

int main(void)
{
	test_new_process();
	test_topdown();
	test_hints();
	test_fixed();
	test_errno();
	test_max_map_count();
	test_unmap();
	test_files();
	test_map_sync();
	test_shared_anon();
	test_populate();
	test_la57();
	test_dead();
	return done_testing();
}
