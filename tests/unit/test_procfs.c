/*
 * /proc views (src/kernel/procfs.c): the exact text of maps, smaps and the
 * memory lines of status for constructed address spaces, in Linux 6.x's
 * format (show_map_vma, show_smap, task_mem), checked against what the
 * host printed for the same constructions.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tap.h"
#include "kernel_fixture.h"

#define A UINT64_C(0x40000000)

/* The smaps block of the VMA starting at va, up to (not including) the
 * next VMA's header. */
static const char *smaps_block(struct kfx *f, vm_vaddr va)
{
	static char out[4096];
	char head[32];
	const char *s = kfx_smaps(f), *e;

	sprintf(head, "%08" PRIx64 "-", va);
	s = strstr(s, head);
	if (!s)
		return "";
	e = strstr(s, "VmFlags: ");
	e = e ? strchr(e, '\n') + 1 : s + strlen(s);
	snprintf(out, sizeof(out), "%.*s", (int)(e - s), s);
	return out;
}

static const char *rest_of_smaps =
	"KSM:                   0 kB\n"
	"LazyFree:              0 kB\n";

/* A maps line: the header (with its trailing space) padded so that the
 * name starts at column 73 (seq_setwidth 72, then seq_pad's space). */
static int named(char *out, const char *header, const char *name)
{
	int n = (int)strlen(header);
	return sprintf(out, "%s%*s%s\n", header, n < 73 ? 73 - n : 1, "", name) ;
}

static void test_maps(void)
{
	struct kfx *f = kfx_new();
	char want[2048], path[64] = "/tmp/vmlab_procfs_\nXXXXXX", *p;
	struct stat st;
	int hfd = mkstemp(path);

	ok(hfd >= 0 && !ftruncate(hfd, 2 * PG) && !fstat(hfd, &st), "a file whose name has a newline");
	close(hfd);
	long fd = vm_sys_openat(f->k, f->p, path, VM_O_RDONLY);
	is_i64(BRK(f, 0x555555559000 + 3 * PG), 0x555555559000 + 3 * PG, "a heap");
	is_i64(MMAP(f, A, 2 * PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, PG), A, "file page 1");
	is_i64(MMAP(f, A + 2 * PG, PG, RW | VM_PROT_EXEC, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + 2 * PG,
	       "anonymous rwx");
	is_i64(MMAP(f, A + 3 * PG, 2 * PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0),
	       A + 3 * PG, "shared anonymous");
	is_i64(MPROTECT(f, A + 4 * PG, PG, VM_PROT_READ), 0, "its second page read-only");
	p = want;
	char hdr[128];
	sprintf(hdr, "40000000-40002000 r--p 00001000 %02x:%02x %lu ", major(st.st_dev),
		minor(st.st_dev), (unsigned long)st.st_ino);
	p += named(p, hdr, "/tmp/vmlab_procfs_\\012");
	p += sprintf(p - 1, "%s\n", path + 19) - 1;
	p += sprintf(p, "40002000-40003000 rwxp 00000000 00:00 0 \n");
	p += named(p, "40003000-40004000 rw-s 00000000 00:01 1 ", "/dev/zero (deleted)");
	p += named(p, "40004000-40005000 r--s 00001000 00:01 1 ", "/dev/zero (deleted)");
	p += named(p, "555555559000-55555555c000 rw-p 00000000 00:00 0 ", "[heap]");
	p += named(p, "7ffffffdf000-7ffffffff000 rw-p 00000000 00:00 0 ", "[stack]");
	is_str(kfx_maps(f), want, "maps: heap, a file (offset, dev, inode, escaped name at column 73), "
	       "anonymous, a split shared object (offset 1 page), stack");
	is_str(kfx_maps_in(f, A + 2 * PG, A + 3 * PG), "40002000-40003000 rwxp 00000000 00:00 0 \n",
	       "a range of maps");
	unlink(path);
	kfx_free(f);
}

static void test_smaps(void)
{
	struct kfx *f = kfx_new();
	char want[2048];

	is_i64(MMAP(f, A, 3 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "three pages");
	is_i64(kfx_touch(f, A, 1, VM_ACC_WRITE), 0, "write page 0");
	is_i64(kfx_touch(f, A + PG, 1, VM_ACC_READ), 0, "read page 1 (zero page: not counted)");
	sprintf(want,
		"40000000-40003000 rw-p 00000000 00:00 0 \n"
		"Size:                 12 kB\n"
		"KernelPageSize:        4 kB\n"
		"MMUPageSize:           4 kB\n"
		"Rss:                   4 kB\n"
		"Pss:                   4 kB\n"
		"Pss_Dirty:             4 kB\n"
		"Shared_Clean:          0 kB\n"
		"Shared_Dirty:          0 kB\n"
		"Private_Clean:         0 kB\n"
		"Private_Dirty:         4 kB\n"
		"Referenced:            4 kB\n"
		"Anonymous:             4 kB\n"
		"%s"
		"AnonHugePages:         0 kB\n"
		"ShmemPmdMapped:        0 kB\n"
		"FilePmdMapped:         0 kB\n"
		"Shared_Hugetlb:        0 kB\n"
		"Private_Hugetlb:       0 kB\n"
		"Swap:                  0 kB\n"
		"SwapPss:               0 kB\n"
		"Locked:                0 kB\n"
		"THPeligible:           0\n"
		"VmFlags: rd wr mr mw me ac \n", rest_of_smaps);
	is_str(smaps_block(f, A), want, "smaps of an anonymous VMA with one dirty page");

	is_i64(MMAP(f, A + MB(1), 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED | VM_MAP_LOCKED, -1, 0),
	       A + MB(1), "two locked pages (populated)");
	const char *b = smaps_block(f, A + MB(1));
	ok(strstr(b, "Locked:                8 kB\n") && strstr(b, "VmFlags: rd wr mr mw me lo ac \n"),
	   "Locked 8 kB, VmFlags lo");

	/* A page-cache page mapped by two processes: Pss halved, shared. */
	struct vm_proc *p2;
	ok(vm_proc_create(f->k, "two", &p2) == 0, "a second process");
	long fd1 = vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY);
	long fd2 = vm_sys_openat(f->k, p2, "/etc/passwd", VM_O_RDONLY);
	is_i64(MMAP(f, A + MB(2), PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd1, 0), A + MB(2),
	       "mapped in the first");
	is_i64(vm_sys_mmap(f->k, p2, A + MB(2), PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd2, 0),
	       A + MB(2), "and in the second");
	is_i64(kfx_touch(f, A + MB(2), 1, VM_ACC_READ), 0, "read by the first");
	is_i64(vm_user_access(f->k, p2, A + MB(2), 1, VM_ACC_READ, NULL), 0, "read by the second");
	b = smaps_block(f, A + MB(2));
	ok(strstr(b, "Rss:                   4 kB\nPss:                   2 kB\n") &&
	   strstr(b, "Shared_Clean:          4 kB\n") && strstr(b, "Anonymous:             0 kB\n"),
	   "Rss 4, Pss 2, Shared_Clean 4, not anonymous");
	is_i64(kfx_check(f, "two processes"), 0, "counts consistent across processes");
	kfx_free(f);
}

static void test_thp_eligible(void)
{
	const char *const always[] = { "thp=always", NULL };
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, A, MB(4), RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "4 MiB, thp=madvise");
	ok(strstr(smaps_block(f, A), "THPeligible:           0\n") != NULL, "not eligible without madvise");
	is_i64(MADVISE(f, A, MB(4), VM_MADV_HUGEPAGE), 0, "MADV_HUGEPAGE");
	ok(strstr(smaps_block(f, A), "THPeligible:           1\n") != NULL, "eligible");
	is_i64(MMAP(f, A + MB(5), MB(2) + 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + MB(5),
	       "2 MiB + 8 KiB at an odd place");
	is_i64(MADVISE(f, A + MB(5) + PG, MB(2), VM_MADV_HUGEPAGE), 0, "MADV_HUGEPAGE on 2 MiB of it");
	ok(strstr(smaps_block(f, A + MB(5) + PG), "THPeligible:           0\n") != NULL,
	   "2 MiB not holding an aligned 2 MiB: not eligible");
	kfx_free(f);

	f = kfx_new_with(always);
	is_i64(MMAP(f, A, MB(4), RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "4 MiB, thp=always");
	ok(strstr(smaps_block(f, A), "THPeligible:           1\n") != NULL, "eligible");
	is_i64(kfx_touch(f, A, 1, VM_ACC_WRITE), 0, "a write fault in it");
	const char *b = smaps_block(f, A);
	ok(strstr(b, "AnonHugePages:      2048 kB\n") && strstr(b, "Rss:                2048 kB\n"),
	   "mapped by a THP: AnonHugePages 2048 kB");
	is_i64(MADVISE(f, A, MB(4), VM_MADV_NOHUGEPAGE), 0, "NOHUGEPAGE");
	ok(strstr(smaps_block(f, A), "THPeligible:           0\n") != NULL, "not eligible any more");
	kfx_free(f);
}

static void test_status(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, A, 8 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "eight pages");
	is_i64(kfx_touch(f, A, 8 * PG, VM_ACC_WRITE), 0, "written");
	is_i64(MUNMAP(f, A + 4 * PG, 4 * PG), 0, "half unmapped");
	is_i64(MMAP(f, A + MB(1), PG, RW, PRIV_ANON | VM_MAP_FIXED | VM_MAP_LOCKED, -1, 0), A + MB(1),
	       "a locked page");
	is_str(kfx_status(f),
	       "VmPeak:\t     160 kB\n"
	       "VmSize:\t     148 kB\n"
	       "VmLck:\t       4 kB\n"
	       "VmPin:\t       0 kB\n"
	       "VmHWM:\t      32 kB\n"
	       "VmRSS:\t      20 kB\n"
	       "RssAnon:\t      20 kB\n"
	       "RssFile:\t       0 kB\n"
	       "RssShmem:\t       0 kB\n"
	       "VmData:\t      20 kB\n"
	       "VmStk:\t     128 kB\n"
	       "VmExe:\t       0 kB\n"
	       "VmLib:\t       0 kB\n"
	       "VmPTE:\t      12 kB\n"
	       "VmSwap:\t       0 kB\n",
	       "status memory lines");
	vm_sys_exit(f->k, f->p, 0);
	is_str(kfx_status(f), "error -3", "a dead process has no status: ESRCH");
	kfx_free(f);
}

int main(void)
{
	test_maps();
	test_smaps();
	test_thp_eligible();
	test_status();
	return done_testing();
}
