/*
 * shmem: the in-memory file behind shared anonymous memory (and tmpfs),
 * whose page cache holds the pages for every mapping of it.  The Linux facts
 * asserted (6.18, measured by tests/linux/cases/shmem-fault-around.case and
 * mremap-dup.case, and the semantics of MAP_SHARED): every mapping of the
 * object sees the same bytes; a read fault allocates a page in the object
 * and maps it writable in a shared writable mapping (shmem has no dirty
 * tracking), and fault-around maps the object's other pages; MADV_DONTNEED
 * unmaps but the object keeps its pages; MADV_REMOVE punches a hole in
 * every mapping; pages past the object's size are SIGBUS; mremap with
 * old_len 0 duplicates a shared mapping without splitting it.
 */
#include "kfixture.h"

#define PG       VM_PAGE_SIZE
#define PMD_BASE UINT64_C(0x200000000)

static const char *presence(struct vm_proc *p, vm_vaddr va, unsigned n)
{
	static char s[64];
	struct vm_pt_leaf l;

	for (unsigned i = 0; i < n && i < sizeof(s) - 1; i++)
		s[i] = kfix_leaf(p, va + i * PG, &l) ? 'X' : '.';
	s[n < sizeof(s) - 1 ? n : sizeof(s) - 1] = '\0';
	return s;
}

/* One object of 8 pages mapped shared and writable, 16 pages long, in two
 * processes (as a fork will leave it). */
static void test_two_mappers(void)
{
	const char *const words[] = { "phys=64M", NULL };
	struct kfix f;
	struct vm_file *obj;
	char buf[8];
	struct vm_pt_leaf l;

	if (kfix_init(&f, words))
		return;
	struct vm_proc *p = kfix_proc(&f, 0), *q = kfix_proc(&f, 0);
	is_i64(vm_shmem_file_create(f.k, "/dev/zero (deleted)", VM_SHM_DEV_MINOR, 8 * PG, &obj), 0,
	       "a shmem object of 8 pages");
	ok(obj->shmem && obj->dev_minor == 1 && obj->ino == 1, "in memory, on 00:01, inode 1");
	uint64_t flags = VM_READ | VM_WRITE | VM_SHARED;
	kfix_vma(p, PMD_BASE, PMD_BASE + 16 * PG, flags, obj, 0);
	kfix_vma(q, PMD_BASE, PMD_BASE + 16 * PG, flags, obj, 0);
	vm_file_put(f.k, obj);              /* the VMAs hold it now */

	is_i64(kfix_access(&f, p, PMD_BASE + 3 * PG, 6, VM_ACC_WRITE, "hello"), 0, "p writes page 3");
	is_u64(p->min_flt, 1, "one fault");
	is_u64(obj->cached_pages, 1, "the object holds the page");
	is_u64(p->mm->rss[VM_RSS_SHMEM], 1, "RssShmem 1");
	is_u64(p->mm->rss[VM_RSS_ANON], 0, "no anonymous page");
	is_i64(kfix_access(&f, q, PMD_BASE + 3 * PG, 6, VM_ACC_READ, buf), 0, "q reads page 3");
	is_str(buf, "hello", "and sees p's bytes");
	is_u64(kfix_pfn(q, PMD_BASE + 3 * PG), kfix_pfn(p, PMD_BASE + 3 * PG), "the same frame");
	uint64_t pfn = kfix_pfn(p, PMD_BASE + 3 * PG);
	is_u64(f.k->pages[pfn].mapcount, 2, "mapped twice");
	is_u64(f.k->pages[pfn].refcount, 3, "two mappings and the object");
	kfix_leaf(q, PMD_BASE + 3 * PG, &l);
	ok((l.pte.v & VM_PTE_RW) && !(l.pte.v & VM_PTE_D), "a read maps it writable, clean");
	is_i64(kfix_access(&f, q, PMD_BASE + 3 * PG, 3, VM_ACC_WRITE, "HEL"), 0, "q writes it");
	is_u64(q->min_flt, 1, "without a fault");
	kfix_access(&f, p, PMD_BASE + 3 * PG, 6, VM_ACC_READ, buf);
	is_str(buf, "HELlo", "p sees q's write");

	/* Fault-around maps the object's existing pages, and makes none. */
	is_i64(kfix_access(&f, p, PMD_BASE + 6 * PG, 1, VM_ACC_WRITE, "x"), 0, "p writes page 6");
	is_i64(kfix_access(&f, q, PMD_BASE + 0 * PG, 1, VM_ACC_READ, buf), 0, "q reads page 0");
	is_str(presence(q, PMD_BASE, 16), "X..X..X.........", "pages 3 and 6 mapped around it");
	is_u64(obj->cached_pages, 3, "the object: pages 0, 3 and 6");
	is_u64(q->min_flt, 2, "one fault for the three");

	/* DONTNEED unmaps; the object keeps the page. */
	vm_zap_range(f.k, vm_vma_lookup(p->mm, PMD_BASE), PMD_BASE + 3 * PG, PMD_BASE + 4 * PG);
	is_str(presence(p, PMD_BASE + 3 * PG, 1), ".", "p no longer maps page 3");
	is_u64(obj->cached_pages, 3, "the object still holds it");
	kfix_access(&f, p, PMD_BASE + 3 * PG, 6, VM_ACC_READ, buf);
	is_str(buf, "HELlo", "read again: the same bytes");

	/* A hole: every mapping loses the pages, the object too. */
	vm_file_punch_hole(f.k, obj, 2, 6);
	is_str(presence(p, PMD_BASE, 8), "X.......", "p: pages 2..6 unmapped");
	is_str(presence(q, PMD_BASE, 8), "X.......", "q: the same");
	is_u64(obj->cached_pages, 1, "the object keeps page 0 only");
	is_u64(q->mm->rss[VM_RSS_SHMEM], 1, "q's RssShmem follows");
	memset(buf, 1, sizeof(buf));
	kfix_access(&f, q, PMD_BASE + 3 * PG, 6, VM_ACC_READ, buf);
	ok(!buf[0] && !buf[5], "page 3 reads zeroes");
	kfix_ok(&f, "two mappers");

	/* Past the object's size: SIGBUS (shmem_fault beyond i_size). */
	is_i64(kfix_access(&f, q, PMD_BASE + 8 * PG, 1, VM_ACC_READ, buf), VM_SIGBUS,
	       "page 8 of an 8-page object: SIGBUS");
	is_u64(obj->refs, 1, "q is dead: only p's VMA holds the object");
	kfix_exit(&f, p);
	kfix_ok(&f, "after both went: every frame back");
	kfix_fini(&f);
}

/* Through the system calls: MAP_SHARED|MAP_ANONYMOUS, mremap duplicates. */
static void test_syscalls(void)
{
	const char *const words[] = { "phys=64M", NULL };
	struct kfix f;
	char buf[4];
	vm_vaddr a = UINT64_C(0x60000000), b = UINT64_C(0x70000000);

	if (kfix_init(&f, words))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	is_i64(vm_sys_mmap(f.k, p, a, 4 * PG, VM_PROT_READ | VM_PROT_WRITE,
			   VM_MAP_SHARED | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0), (long)a, "shared anon");
	struct vm_vma *src = vm_vma_lookup(p->mm, a);
	ok(src && vm_vma_is_shmem(src) && src->vm_file->size == 4 * PG, "a shmem object of 4 pages");
	kfix_access(&f, p, a + 2 * PG, 3, VM_ACC_WRITE, "ab");
	is_i64(vm_sys_mremap(f.k, p, a + 2 * PG, 0, 2 * PG, VM_MREMAP_MAYMOVE | VM_MREMAP_FIXED, b),
	       (long)b, "mremap(old_len 0): a duplicate");
	struct vm_vma *dup = vm_vma_lookup(p->mm, b);
	ok(vm_vma_lookup(p->mm, a) == src && src->vm_end == a + 4 * PG, "the source stays whole");
	ok(dup && dup->vm_file == src->vm_file && dup->vm_pgoff == 2, "the copy: same object, pgoff 2");
	is_u64(src->vm_file->refs, 2, "two VMAs hold the object");
	kfix_access(&f, p, b, 3, VM_ACC_READ, buf);
	is_str(buf, "ab", "the duplicate sees the bytes");
	is_i64(vm_sys_munmap(f.k, p, a, 4 * PG), 0, "unmap the source");
	kfix_access(&f, p, b, 3, VM_ACC_READ, buf);
	is_str(buf, "ab", "the object lives on in the duplicate");
	is_i64(vm_sys_madvise(f.k, p, b, PG, VM_MADV_REMOVE), 0, "MADV_REMOVE");
	kfix_access(&f, p, b, 3, VM_ACC_READ, buf);
	ok(!buf[0], "a hole: zeroes");
	is_i64(vm_sys_mmap(f.k, p, a, PG, VM_PROT_READ | VM_PROT_WRITE,
			   VM_MAP_PRIVATE | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0), (long)a, "private anon");
	is_i64(vm_sys_mremap(f.k, p, a, 0, PG, VM_MREMAP_MAYMOVE | VM_MREMAP_FIXED, a + 0x100000), -EINVAL,
	       "duplicating a private mapping: EINVAL");
	kfix_ok(&f, "syscalls");
	kfix_fini(&f);
}

int main(void)
{
	test_two_mappers();
	test_syscalls();
	return done_testing();
}
