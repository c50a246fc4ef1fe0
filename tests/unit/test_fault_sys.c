/*
 * The fault half and the address-space half together, through the system
 * calls: mmap + faults + munmap give every frame back; THPs cut by
 * mprotect, munmap and MADV_DONTNEED; mremap moves data; files mapped
 * through a descriptor; the real stack grows; MAP_POPULATE; a killed
 * process frees its memory while another runs.  vm_kernel_check after
 * each step.  Figures from Linux 6.18 on this machine where they apply.
 */
#include "kfixture.h"

#define PG   VM_PAGE_SIZE
#define PMD  VM_PMD_SIZE
#define RWP  (VM_PROT_READ | VM_PROT_WRITE)
#define PRIV (VM_MAP_PRIVATE | VM_MAP_ANONYMOUS)
#define AT   UINT64_C(0x200000000)                /* 2 MiB aligned */

static long mmap_at(struct kfix *f, struct vm_proc *p, vm_vaddr at, uint64_t len, int prot,
		    int flags, int fd)
{
	return vm_sys_mmap(f->k, p, at, len, prot, flags | VM_MAP_FIXED, fd, 0);
}

static void test_anon_round_trip(void)
{
	const char *const w[] = { "phys=64M", NULL };
	struct kfix f;
	unsigned char b;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	uint64_t free0 = f.k->buddy->free_frames;
	is_i64(mmap_at(&f, p, AT, 256 * PG, RWP, PRIV, -1), (long)AT, "mmap 1 MiB");
	for (unsigned i = 0; i < 256; i++)
		kfix_write8(&f, p, AT + i * PG + i, (unsigned char)i);
	is_u64(p->min_flt, 256, "256 write faults");
	is_u64(p->mm->rss[VM_RSS_ANON], 256, "RSS 256");
	kfix_ok(&f, "after the writes");
	is_i64(vm_sys_munmap(f.k, p, AT + 64 * PG, 64 * PG), 0, "munmap a quarter from the middle");
	is_u64(p->mm->rss[VM_RSS_ANON], 192, "RSS 192");
	kfix_read8(&f, p, AT + 200 * PG + 200, &b);
	is_u64(b, 200, "the rest keeps its data");
	kfix_ok(&f, "after the partial munmap");
	is_i64(vm_sys_madvise(f.k, p, AT, 64 * PG, VM_MADV_DONTNEED), 0, "MADV_DONTNEED the first 64");
	is_u64(p->mm->rss[VM_RSS_ANON], 128, "RSS 128");
	kfix_read8(&f, p, AT + 5 * PG + 5, &b);
	is_u64(b, 0, "a dropped page reads zero again");
	is_i64(vm_sys_munmap(f.k, p, AT, 256 * PG), 0, "munmap all");
	is_u64(p->mm->rss[VM_RSS_ANON], 0, "RSS 0");
	is_u64(f.k->buddy->free_frames, free0, "every frame back (page tables too)");
	kfix_ok(&f, "after munmap");

	/* mprotect RO then RW: exclusive anonymous pages get write back
	 * without a fault (MM_CP_TRY_CHANGE_WRITABLE). */
	mmap_at(&f, p, AT, 4 * PG, RWP, PRIV, -1);
	kfix_write8(&f, p, AT, 1);
	vm_sys_mprotect(f.k, p, AT, 4 * PG, VM_PROT_READ);
	vm_sys_mprotect(f.k, p, AT, 4 * PG, RWP);
	uint64_t flt = p->min_flt;
	is_i64(kfix_write8(&f, p, AT, 2), 0, "write after mprotect RO, RW");
	is_u64(p->min_flt, flt, "no fault");

	/* mremap moves pages with their data. */
	for (unsigned i = 0; i < 4; i++)
		kfix_write8(&f, p, AT + i * PG, (unsigned char)(0x40 + i));
	long to = vm_sys_mremap(f.k, p, AT, 4 * PG, 8 * PG, VM_MREMAP_MAYMOVE | VM_MREMAP_FIXED,
				AT + 64 * PMD);
	is_i64(to, (long)(AT + 64 * PMD), "mremap to a new place");
	flt = p->min_flt;
	kfix_read8(&f, p, AT + 64 * PMD + 3 * PG, &b);
	is_u64(b, 0x43, "the data moved with the pages");
	is_u64(p->min_flt, flt, "without a fault");
	kfix_ok(&f, "after mremap");
	kfix_fini(&f);
}

static void test_thp_cut(void)
{
	const char *const w[] = { "phys=64M", "thp=madvise", NULL };
	struct kfix f;
	unsigned char b;
	struct vm_pt_leaf l;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	uint64_t free0 = f.k->buddy->free_frames;
	mmap_at(&f, p, AT, 2 * PMD, RWP, PRIV, -1);
	is_i64(vm_sys_madvise(f.k, p, AT, 2 * PMD, VM_MADV_HUGEPAGE), 0, "MADV_HUGEPAGE");
	for (unsigned i = 0; i < 1024; i++)
		kfix_write8(&f, p, AT + i * PG, (unsigned char)i);
	is_u64(p->min_flt, 2, "two faults for 4 MiB (Linux: 1 per 2 MiB)");
	is_u64(f.st->flt_thp, 2, "two THPs");
	kfix_ok(&f, "THPs");

	is_i64(vm_sys_mprotect(f.k, p, AT + 100 * PG, PG, VM_PROT_READ), 0, "mprotect one page inside");
	ok(kfix_leaf(p, AT, &l) && l.size == VM_PSIZE_4K, "the first THP is 4 KiB pages now");
	ok(kfix_leaf(p, AT + PMD, &l) && l.size == VM_PSIZE_2M, "the second is untouched");
	kfix_ok(&f, "after mprotect split it");
	kfix_read8(&f, p, AT + 300 * PG, &b);
	is_u64(b, (unsigned char)300, "data intact");
	uint64_t flt = p->min_flt;
	is_i64(kfix_write8(&f, p, AT + 101 * PG, 9), 0, "write next to the read-only page");
	is_u64(p->min_flt, flt, "still writable: no fault");

	is_i64(vm_sys_munmap(f.k, p, AT + PMD + 10 * PG, 10 * PG), 0, "munmap 10 pages of the second");
	is_u64(p->mm->rss[VM_RSS_ANON], 1024 - 10, "RSS 1014");
	kfix_ok(&f, "after munmap split it");
	is_i64(vm_sys_madvise(f.k, p, AT + PMD + 100 * PG, 2 * PG, VM_MADV_DONTNEED), 0,
	       "MADV_DONTNEED two more");
	is_u64(p->mm->rss[VM_RSS_ANON], 1024 - 12, "RSS 1012");
	kfix_ok(&f, "after DONTNEED");
	vm_sys_munmap(f.k, p, AT, 2 * PMD);
	is_u64(f.k->buddy->free_frames, free0, "every frame back");
	is_i64(vm_buddy_frag_index(f.k->buddy, 9), -1000, "order-9 blocks free again");
	kfix_fini(&f);
}

static void test_file_and_stack(void)
{
	const char *const w[] = { "phys=64M", NULL };
	struct kfix f;
	unsigned char b;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	const char *path = kfix_file(&f, 40 * PG);
	uint64_t free0 = f.k->buddy->free_frames;
	long fd = vm_sys_openat(f.k, p, path, VM_O_RDONLY);
	ok(fd >= 0, "openat");
	long at = vm_sys_mmap(f.k, p, 0, 40 * PG, VM_PROT_READ, VM_MAP_PRIVATE, (int)fd, 0);
	ok(at > 0, "mmap the file");
	is_i64(kfix_read8(&f, p, (vm_vaddr)at + 7 * PG + 3, &b), 0, "read page 7");
	is_u64(b, kfix_file_byte(7 * PG + 3), "the file's byte");
	ok(p->mm->rss[VM_RSS_FILE] >= 8, "fault-around mapped its neighbours (%" PRIu64 " pages)",
	   p->mm->rss[VM_RSS_FILE]);
	kfix_ok(&f, "file mapped");
	vm_sys_munmap(f.k, p, (vm_vaddr)at, 40 * PG);
	vm_sys_close(f.k, p, (int)fd);
	ok(vm_list_empty(&f.k->files), "munmap and close: the file is gone");
	is_u64(f.k->buddy->free_frames, free0, "and its cached pages with it");

	/* The stack vm_proc_create made: 200 KiB below its top grows it; 9 MiB
	 * below is past RLIMIT_STACK (Linux: 1 fault; SIGSEGV, SEGV_MAPERR). */
	vm_vaddr top = vm_find_vma(p->mm, p->mm->start_stack)->vm_end;
	uint64_t flt = p->min_flt;
	is_i64(kfix_write8(&f, p, top - (200 << 10), 1), 0, "write 200 KiB below the stack top");
	is_u64(p->min_flt, flt + 1, "one fault");
	is_u64(f.st->flt_stack_grow, 1, "the stack grew");
	kfix_ok(&f, "stack grown");
	is_i64(kfix_write8(&f, p, top - (9 << 20), 1), VM_SIGSEGV, "9 MiB below: SIGSEGV");
	is_i64(p->sig.code, VM_SEGV_MAPERR, "SEGV_MAPERR");
	kfix_fini(&f);
}

static void test_populate_and_kill(void)
{
	const char *const w[] = { "phys=64M", NULL };
	struct kfix f;
	unsigned char b;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0), *q = kfix_proc(&f, 0);
	is_i64(mmap_at(&f, p, AT, 64 * PG, RWP, PRIV | VM_MAP_POPULATE, -1), (long)AT,
	       "MAP_POPULATE 64 pages");
	is_u64(p->min_flt, 64, "64 minor faults (Linux: 64)");
	is_u64(p->mm->rss[VM_RSS_ANON], 64, "written in: RSS 64");
	mmap_at(&f, q, AT, 64 * PG, RWP, PRIV, -1);
	kfix_write8(&f, q, AT, 5);
	kfix_ok(&f, "populated");
	uint64_t free_before = f.k->buddy->free_frames;
	mmap_at(&f, p, AT + PMD, PG, VM_PROT_READ, PRIV, -1);
	is_i64(kfix_write8(&f, p, AT + PMD, 1), VM_SIGSEGV, "p writes to a read-only mapping");
	ok(f.k->buddy->free_frames > free_before + 64, "its memory went back with it");
	is_i64(kfix_read8(&f, q, AT, &b), 0, "q still runs");
	is_u64(b, 5, "with its data");
	kfix_ok(&f, "after the kill");

	/* Shared anonymous memory (Linux: a read and a write of two pages, 2
	 * faults; a write after the read, none: shmem maps writable). */
	long sh = vm_sys_mmap(f.k, q, 0, 4 * PG, RWP, VM_MAP_SHARED | VM_MAP_ANONYMOUS, -1, 0);
	ok(sh > 0, "mmap MAP_SHARED|MAP_ANONYMOUS");
	uint64_t flt = q->min_flt;
	kfix_read8(&f, q, (vm_vaddr)sh, &b);
	kfix_write8(&f, q, (vm_vaddr)sh + PG, 1);
	is_u64(q->min_flt - flt, 2, "a read and a write: 2 faults");
	kfix_write8(&f, q, (vm_vaddr)sh, 1);
	is_u64(q->min_flt - flt, 2, "the write after the read: no fault");
	is_u64(q->mm->rss[VM_RSS_SHMEM], 2, "RSS shmem 2");
	ok(kfix_pfn(q, (vm_vaddr)sh) != f.k->zero_pfn, "no zero page for shared memory");
	kfix_ok(&f, "shared anonymous");
	kfix_fini(&f);
}

int main(void)
{
	test_anon_round_trip();
	test_thp_cut();
	test_file_and_stack();
	test_populate_and_kill();
	return done_testing();
}
