/*
 * mprotect (src/kernel/mprotect.c) against Linux 6.18: splits and merges,
 * the change applied up to a hole before -ENOMEM, VM_MAY* refusing with
 * -EACCES, PROT_GROWSDOWN, VM_ACCOUNT kept or dropped as Linux does, and
 * the page tables: rights narrowed at once (a stale TLB entry would let a
 * write through), write permission given back only to pages a write fault
 * would reuse (exclusive anonymous pages), never to the zero page or
 * page-cache pages of a private mapping.
 */
#include "tap.h"
#include "kernel_fixture.h"

#define A UINT64_C(0x40000000)

/* The maps lines of [A, A + 64 pages) as "start-offset perms" pairs,
 * e.g. "+0 rw-p +2 r--p", for compact comparisons. */
static const char *layout(struct kfx *f)
{
	static char out[1024];
	char *o = out;
	const char *s = kfx_maps_in(f, A, A + 64 * PG);

	out[0] = '\0';
	while (*s) {
		uint64_t start = strtoull(s, NULL, 16);
		const char *perm = strchr(s, ' ') + 1;
		o += sprintf(o, "%s+%" PRIu64 " %.4s", o == out ? "" : " ", (start - A) / PG, perm);
		s = strchr(s, '\n') + 1;
	}
	return out;
}

static void test_split_merge(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, A, 8 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "eight pages");
	is_i64(MPROTECT(f, A + 1, PG, VM_PROT_READ), -EINVAL, "unaligned: EINVAL");
	is_i64(MPROTECT(f, A, 0, VM_PROT_READ), 0, "length 0: 0");
	is_i64(MPROTECT(f, A, PG, 0x10), -EINVAL, "unknown prot bit: EINVAL");
	is_i64(MPROTECT(f, A, PG, VM_PROT_GROWSDOWN | VM_PROT_GROWSUP | 1), -EINVAL, "both grows: EINVAL");
	is_i64(MPROTECT(f, A, -PG, VM_PROT_READ), -ENOMEM, "end wraps: ENOMEM");
	is_i64(MPROTECT(f, A, PG, 8), 0, "PROT_SEM alone is accepted: no access");
	is_str(layout(f), "+0 ---p +1 rw-p", "first page PROT_NONE");
	is_i64(MPROTECT(f, A + 2 * PG, PG, VM_PROT_READ), 0, "a middle page read-only");
	is_str(layout(f), "+0 ---p +1 rw-p +2 r--p +3 rw-p", "split in three");
	is_i64(MPROTECT(f, A + 2 * PG, PG, RW), 0, "back to read-write");
	is_str(layout(f), "+0 ---p +1 rw-p", "merged with both neighbours");
	is_i64(MPROTECT(f, A, 2 * PG, VM_PROT_READ), 0, "two pages read-only");
	is_str(layout(f), "+0 r--p +2 rw-p", "merged into one read-only VMA");
	is_i64(MPROTECT(f, A + PG, 3 * PG, VM_PROT_READ), 0, "extend the read-only part");
	is_str(layout(f), "+0 r--p +4 rw-p", "moved the boundary (merge left)");
	is_i64(MPROTECT(f, A, 8 * PG, RW), 0, "everything back");
	is_str(layout(f), "+0 rw-p", "one VMA");
	is_i64(MUNMAP(f, A + 4 * PG, PG), 0, "a hole at +4");
	is_i64(MPROTECT(f, A + 2 * PG, 4 * PG, VM_PROT_READ), -ENOMEM, "across the hole: ENOMEM");
	is_str(layout(f), "+0 rw-p +2 r--p +5 rw-p", "but applied up to the hole (Linux)");
	is_i64(MPROTECT(f, A + 4 * PG, 2 * PG, RW), -ENOMEM, "starting in the hole: ENOMEM");
	is_str(layout(f), "+0 rw-p +2 r--p +5 rw-p", "and nothing applied");
	is_i64(MPROTECT(f, A + 3 * PG, 8 * PG, RW | VM_PROT_EXEC), -ENOMEM, "past the end: ENOMEM");
	is_str(layout(f), "+0 rw-p +2 r--p +3 rwxp +5 rw-p", "applied to what is mapped before the hole");
	is_i64(MPROTECT(f, A + 3 * PG, PG, VM_PROT_GROWSDOWN | 1), -EINVAL,
	       "PROT_GROWSDOWN on a VMA that does not grow: EINVAL");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_growsdown_and_may(void)
{
	struct kfx *f = kfx_new();
	long fd = vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY);

	is_i64(MMAP(f, A + MB(1), 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED | VM_MAP_GROWSDOWN, -1, 0),
	       A + MB(1), "a growsdown VMA");
	is_i64(MPROTECT(f, A + MB(1) + 2 * PG, PG, VM_PROT_GROWSDOWN | VM_PROT_READ), 0,
	       "PROT_GROWSDOWN on its third page");
	is_str(kfx_maps_in(f, A + MB(1), A + MB(1) + PG),
	       "40100000-40103000 r--p 00000000 00:00 0 \n", "applied from the VMA's start");
	is_i64(MMAP(f, A, PG, VM_PROT_READ, VM_MAP_SHARED | VM_MAP_FIXED, fd, 0), A,
	       "a shared map of a read-only file");
	is_i64(MPROTECT(f, A, PG, RW), -EACCES, "write: no VM_MAYWRITE, EACCES");
	is_i64(MPROTECT(f, A, PG, VM_PROT_READ | VM_PROT_EXEC), 0, "exec: fine");
	is_i64(MMAP(f, A + 2 * PG, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, 0), A + 2 * PG,
	       "a private map of it");
	is_i64(MPROTECT(f, A + 2 * PG, PG, RW), 0, "private: writable is fine (COW)");
	ok(strstr(kfx_smaps(f), "VmFlags: rd wr mr mw me ac \n") != NULL,
	   "and charged (VM_ACCOUNT set on becoming writable)");
	kfx_free(f);
}

/* VM_ACCOUNT: dropped when an anonymous VMA that never had a page loses
 * write (measured on Linux 6.18), kept otherwise; merges see the flag. */
static void test_account(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, A, 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "four pages rw");
	is_i64(MPROTECT(f, A, PG, VM_PROT_READ), 0, "page 0 read-only before any touch");
	is_i64(kfx_touch(f, A + 3 * PG, 1, VM_ACC_WRITE), 0, "write page 3");
	is_i64(MPROTECT(f, A + 2 * PG, 2 * PG, VM_PROT_READ), 0, "pages 2-3 read-only after it");
	is_i64(MMAP(f, A + 4 * PG, PG, VM_PROT_READ, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + 4 * PG,
	       "a fresh read-only page after page 3");
	is_i64(MMAP(f, A - PG, PG, VM_PROT_READ, PRIV_ANON | VM_MAP_FIXED, -1, 0), A - PG,
	       "and one before page 0");
	is_str(kfx_maps_in(f, A - PG, A + 8 * PG),
	       "3ffff000-40001000 r--p 00000000 00:00 0 \n"
	       "40001000-40002000 rw-p 00000000 00:00 0 \n"
	       "40002000-40004000 r--p 00000000 00:00 0 \n"
	       "40004000-40005000 r--p 00000000 00:00 0 \n",
	       "page 0 lost VM_ACCOUNT and merged down; pages 2-3 kept it (they had a page)");
	is_i64(MPROTECT(f, A, 4 * PG, RW), 0, "all four read-write again");
	is_str(kfx_maps_in(f, A - PG, A + 8 * PG),
	       "3ffff000-40000000 r--p 00000000 00:00 0 \n"
	       "40000000-40004000 rw-p 00000000 00:00 0 \n"
	       "40004000-40005000 r--p 00000000 00:00 0 \n",
	       "charged again and merged into one");
	kfx_free(f);
}

static int leaf_of(struct kfx *f, vm_vaddr va, struct vm_pt_leaf *leaf)
{
	struct vm_pt *pt = &f->p->mm->pt;
	return pt->ops->lookup(pt, va, leaf);
}

static void test_page_tables(void)
{
	struct kfx *f = kfx_new();
	struct vm_pt_leaf leaf;
	uint64_t pfn;
	char buf[8] = "abcdefg";

	is_i64(MMAP(f, A, 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "four pages");
	is_i64(vm_user_access(f->k, f->p, A, 8, VM_ACC_WRITE, buf), 0, "write page 0 (TLB filled)");
	is_i64(kfx_touch(f, A + PG, 1, VM_ACC_READ), 0, "read page 1: the zero page");
	is_i64(leaf_of(f, A, &leaf), 0, "page 0 mapped");
	pfn = pte_pfn(leaf.pte);
	ok(pte_write(leaf.pte), "page 0 writable");
	is_i64(MPROTECT(f, A, 4 * PG, VM_PROT_READ), 0, "everything read-only");
	is_i64(leaf_of(f, A, &leaf), 0, "page 0 still mapped");
	ok(!pte_write(leaf.pte) && pte_pfn(leaf.pte) == pfn, "read-only, same frame");
	is_i64(kfx_touch(f, A, 1, VM_ACC_WRITE), VM_SIGSEGV, "a write now faults (the TLB was flushed)");
	is_i64(f->p->sig.code, VM_SEGV_ACCERR, "SEGV_ACCERR");
	kfx_free(f);

	f = kfx_new();
	is_i64(MMAP(f, A, 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "four pages (new process)");
	is_i64(kfx_touch(f, A, 1, VM_ACC_WRITE), 0, "write page 0");
	is_i64(kfx_touch(f, A + PG, 1, VM_ACC_READ), 0, "read page 1 (zero page)");
	is_i64(MPROTECT(f, A, 4 * PG, VM_PROT_READ), 0, "read-only");
	is_i64(MPROTECT(f, A, 4 * PG, RW), 0, "read-write again");
	is_i64(leaf_of(f, A, &leaf), 0, "page 0");
	ok(pte_write(leaf.pte), "page 0 writable at once: an exclusive anonymous page");
	is_i64(leaf_of(f, A + PG, &leaf), 0, "page 1");
	ok(!pte_write(leaf.pte) && pte_pfn(leaf.pte) == f->k->zero_pfn,
	   "page 1 stays the read-only zero page");
	uint64_t anon = f->p->mm->rss[VM_RSS_ANON];
	is_i64(kfx_touch(f, A + PG, 1, VM_ACC_WRITE), 0, "a write to page 1 faults and copies");
	is_u64(f->p->mm->rss[VM_RSS_ANON], anon + 1, "a new anonymous page");
	is_i64(MPROTECT(f, A, 4 * PG, VM_PROT_NONE), 0, "PROT_NONE");
	is_i64(leaf_of(f, A, &leaf), 0, "the page stays present (its frame kept)");
	ok(!pte_user(leaf.pte), "but not user-accessible");
	is_i64(kfx_touch(f, A, 1, VM_ACC_READ), VM_SIGSEGV, "a read faults");
	kfx_free(f);

	f = kfx_new();
	long fd = vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY);
	is_i64(MMAP(f, A, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, 0), A, "private file page");
	is_i64(kfx_touch(f, A, 1, VM_ACC_READ), 0, "read it (page-cache page mapped)");
	is_i64(MPROTECT(f, A, PG, RW), 0, "make it writable");
	is_i64(leaf_of(f, A, &leaf), 0, "mapped");
	ok(!pte_write(leaf.pte), "the page-cache page stays read-only (a write must COW)");
	is_i64(kfx_touch(f, A, 1, VM_ACC_WRITE), 0, "a write copies it");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 1, "now an anonymous page");
	is_u64(f->p->mm->rss[VM_RSS_FILE], 0, "no file page mapped any more");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

int main(void)
{
	test_split_merge();
	test_growsdown_and_may();
	test_account();
	test_page_tables();
	return done_testing();
}
