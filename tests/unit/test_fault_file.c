/*
 * Faults on file mappings, checked against Linux 6.18 on this machine (a
 * native program reading /proc/self/pagemap after each touch; see
 * docs/faults.md for the figures):
 *   fault-around maps 16 pages: the 64 KiB window aligned down, but
 *   starting no lower than the VMA and running 16 pages from there, clipped
 *   to the PMD and the VMA (and the end of the file);
 *   a write to an untouched private page: one fault, only that page mapped;
 *   read then write of a private page: two faults (COW);
 *   shared: read 1 fault, write after read 1 more, write untouched 1;
 *   an access past the last page of the file: SIGBUS/BUS_ADRERR, while the
 *   partial last page reads zeroes past the end.
 */
#include "kfixture.h"

#define PG       VM_PAGE_SIZE
#define PMD_BASE UINT64_C(0x200000000)        /* 8 GiB: 2 MiB aligned */
#define FILE_SIZE (100 * PG + 100)            /* 101 pages, the last partial */

/* The pages of [va, va + n pages) present in p, as a string of X and . */
static const char *presence(struct vm_proc *p, vm_vaddr va, unsigned n)
{
	static char s[520];
	struct vm_pt_leaf l;

	for (unsigned i = 0; i < n && i < sizeof(s) - 1; i++)
		s[i] = kfix_leaf(p, va + i * PG, &l) ? 'X' : '.';
	s[n < sizeof(s) - 1 ? n : sizeof(s) - 1] = '\0';
	return s;
}

/* A window string: n pages, X on [from, to). */
static const char *window(unsigned n, unsigned from, unsigned to)
{
	static char s[520];

	for (unsigned i = 0; i < n; i++)
		s[i] = i >= from && i < to ? 'X' : '.';
	s[n] = '\0';
	return s;
}

struct ffix {
	struct kfix f;
	struct vm_file *file;
};

static int ffix_init(struct ffix *x, const char *const *words, uint64_t size)
{
	if (kfix_init(&x->f, words))
		return -1;
	x->file = kfix_open(&x->f, kfix_file(&x->f, size));
	return x->file ? 0 : -1;
}

static void ffix_fini(struct ffix *x)
{
	kfix_fini(&x->f);
}

static const char *const warm[] = { "phys=64M", NULL };

static void test_fault_around_windows(void)
{
	struct ffix x;
	unsigned char b;

	if (ffix_init(&x, warm, FILE_SIZE))
		return;
	struct kfix *f = &x.f;

	/* VMA starting at PTE 14 of a table; touch its page 20 (PTE 34): the
	 * window is PTEs 32..47 = VMA pages 18..33 (Linux: same). */
	struct vm_proc *p = kfix_proc(f, 0);
	vm_vaddr m = PMD_BASE + 14 * PG;
	kfix_vma(p, m, m + 64 * PG, VM_READ, x.file, 0);
	is_i64(kfix_read8(f, p, m + 20 * PG, &b), 0, "read page 20");
	is_str(presence(p, m, 64), window(64, 18, 34), "pages 18..33 mapped");
	is_u64(p->min_flt, 1, "one minor fault");
	is_u64(f->st->fault_around, 15, "15 mapped around the faulting page");
	is_u64(f->st->flt_file, 1, "one file fault");
	is_u64(p->mm->rss[VM_RSS_FILE], 16, "RSS file 16");
	for (unsigned i = 18; i < 34; i++)
		kfix_read8(f, p, m + i * PG, &b);
	is_u64(p->min_flt, 1, "reading the 16 pages: no more faults");
	struct vm_pt_leaf l;
	kfix_leaf(p, m + 25 * PG, &l);
	ok((l.pte.v & VM_PTE_A) && !(l.pte.v & VM_PTE_RW),
	   "a faulted-around page is young (x86) and read-only");
	/* The next window skips the pages already mapped. */
	is_i64(kfix_read8(f, p, m + 34 * PG, &b), 0, "read page 34 (PTE 48)");
	is_str(presence(p, m, 64), window(64, 18, 50), "pages 34..49 added");
	is_u64(f->st->fault_around, 30, "15 more");
	kfix_ok(f, "window in the middle");

	/* VMA starting at PTE 5, touch PTE 7: the window starts at the VMA and
	 * runs 16 pages from there (Linux: VMA pages 0..15). */
	struct vm_proc *q = kfix_proc(f, 0);
	vm_vaddr m3 = PMD_BASE + 5 * PG;
	kfix_vma(q, m3, m3 + 40 * PG, VM_READ, x.file, 0);
	kfix_read8(f, q, m3 + 2 * PG, &b);
	is_str(presence(q, m3, 40), window(40, 0, 16), "VMA at PTE 5: VMA pages 0..15");

	/* VMA at PTE 502, touch PTE 510: clipped at the end of the table
	 * (Linux: VMA pages 0..9). */
	struct vm_proc *r = kfix_proc(f, 0);
	vm_vaddr m4 = PMD_BASE + 502 * PG;
	kfix_vma(r, m4, m4 + 40 * PG, VM_READ, x.file, 0);
	kfix_read8(f, r, m4 + 8 * PG, &b);
	is_str(presence(r, m4, 40), window(40, 0, 10), "VMA at PTE 502: pages 0..9, one table");

	/* The end of the VMA clips too. */
	struct vm_proc *s = kfix_proc(f, 0);
	kfix_vma(s, PMD_BASE, PMD_BASE + 6 * PG, VM_READ, x.file, 0);
	kfix_read8(f, s, PMD_BASE + PG, &b);
	is_str(presence(s, PMD_BASE, 8), window(8, 0, 6), "a 6-page VMA: 6 pages");

	/* And the end of the file: pages 96..100 of a 101-page file. */
	struct vm_proc *t = kfix_proc(f, 0);
	kfix_vma(t, PMD_BASE, PMD_BASE + 128 * PG, VM_READ, x.file, 0);
	kfix_read8(f, t, PMD_BASE + 99 * PG, &b);
	is_str(presence(t, PMD_BASE + 96 * PG, 16), window(16, 0, 5), "the end of the file: 96..100");
	kfix_ok(f, "windows");
	ffix_fini(&x);

	/* fault_around=4K turns it off; 16K maps 4 pages. */
	const char *const off[] = { "phys=64M", "fault_around=4K", NULL };
	if (ffix_init(&x, off, FILE_SIZE))
		return;
	struct vm_proc *u = kfix_proc(&x.f, 0);
	kfix_vma(u, PMD_BASE, PMD_BASE + 32 * PG, VM_READ, x.file, 0);
	kfix_read8(&x.f, u, PMD_BASE + 5 * PG, &b);
	is_str(presence(u, PMD_BASE, 32), window(32, 5, 6), "fault_around=4K: only the page");
	is_u64(x.f.st->fault_around, 0, "nothing around");
	ffix_fini(&x);
	const char *const k16[] = { "phys=64M", "fault_around=20K", NULL };
	if (ffix_init(&x, k16, FILE_SIZE))
		return;
	is_u64(x.f.k->cfg.fault_around_pages, 4, "20K rounds down to 4 pages (a power of two)");
	struct vm_proc *v = kfix_proc(&x.f, 0);
	kfix_vma(v, PMD_BASE, PMD_BASE + 32 * PG, VM_READ, x.file, 0);
	kfix_read8(&x.f, v, PMD_BASE + 5 * PG, &b);
	is_str(presence(v, PMD_BASE, 32), window(32, 4, 8), "fault_around=16K: pages 4..7");
	ffix_fini(&x);
}

static void test_cold_and_warm(void)
{
	const char *const cold[] = { "phys=64M", "pagecache=cold", NULL };
	struct ffix x;
	unsigned char b;

	if (ffix_init(&x, cold, FILE_SIZE))
		return;
	struct kfix *f = &x.f;
	struct vm_proc *p = kfix_proc(f, 0);
	kfix_vma(p, PMD_BASE, PMD_BASE + 64 * PG, VM_READ, x.file, 0);
	is_i64(kfix_read8(f, p, PMD_BASE + 5 * PG + 3, &b), 0, "cold file: read page 5");
	is_u64(b, kfix_file_byte(5 * PG + 3), "the byte of the host file");
	is_u64(p->maj_flt, 1, "a major fault");
	is_u64(p->min_flt, 0, "no minor one");
	is_u64(f->st->majflt, 1, "machine majflt");
	is_u64(f->st->pagecache_reads, 1, "one page read");
	is_str(presence(p, PMD_BASE, 16), window(16, 5, 6), "nothing else cached: nothing around");
	kfix_read8(f, p, PMD_BASE + 6 * PG, &b);
	is_u64(p->maj_flt, 2, "the next page is major too (readahead is not modelled)");

	/* A second process: the cached pages are minor and fault around. */
	struct vm_proc *q = kfix_proc(f, 0);
	kfix_vma(q, PMD_BASE, PMD_BASE + 64 * PG, VM_READ, x.file, 0);
	kfix_read8(f, q, PMD_BASE + 5 * PG, &b);
	is_u64(q->maj_flt, 0, "page 5 is cached now: no major fault");
	is_u64(q->min_flt, 1, "a minor one");
	is_str(presence(q, PMD_BASE, 16), window(16, 5, 7), "pages 5 and 6 (the cached ones) mapped");
	is_u64(x.file->cached_pages, 2, "two pages in the cache");
	kfix_ok(f, "cold");
	ffix_fini(&x);

	if (ffix_init(&x, warm, FILE_SIZE))
		return;
	f = &x.f;
	p = kfix_proc(f, 0);
	kfix_vma(p, PMD_BASE, PMD_BASE + 64 * PG, VM_READ, x.file, 0);
	kfix_read8(f, p, PMD_BASE + 5 * PG + 3, &b);
	is_u64(b, kfix_file_byte(5 * PG + 3), "warm file: the host file's byte");
	is_u64(p->min_flt, 1, "minor: the page counts as cached");
	is_u64(p->maj_flt + f->st->pagecache_reads, 0, "no major fault, no read counted");
	is_str(presence(p, PMD_BASE, 16), window(16, 0, 16), "16 pages around");
	/* Eviction makes the file cold: unmapped pages go, the next is major. */
	kfix_exit(f, p);
	is_u64(vm_pagecache_evict(f->k, x.file), 16, "the 16 unmapped pages evicted");
	struct vm_proc *r = kfix_proc(f, 0);
	kfix_vma(r, PMD_BASE, PMD_BASE + 64 * PG, VM_READ, x.file, 0);
	kfix_read8(f, r, PMD_BASE + 40 * PG, &b);
	is_u64(r->maj_flt, 1, "after eviction: a major fault");
	is_u64(f->st->pagecache_reads, 1, "and a read");
	kfix_ok(f, "warm");
	ffix_fini(&x);
}

static void test_private_cow(void)
{
	struct ffix x;
	unsigned char b;

	if (ffix_init(&x, warm, FILE_SIZE))
		return;
	struct kfix *f = &x.f;
	struct vm_proc *p = kfix_proc(f, 0);
	struct vm_proc *other = kfix_proc(f, 0);
	kfix_vma(p, PMD_BASE, PMD_BASE + 64 * PG, VM_READ | VM_WRITE, x.file, 0);
	kfix_vma(other, PMD_BASE, PMD_BASE + 64 * PG, VM_READ, x.file, 0);

	/* Write to an untouched private page: do_cow_fault, one fault, no
	 * fault-around (Linux: only page 20 present). */
	is_i64(kfix_write8(f, p, PMD_BASE + 20 * PG + 1, 0xee), 0, "write to an untouched private page");
	is_u64(p->min_flt, 1, "one fault");
	is_str(presence(p, PMD_BASE + 16 * PG, 8), window(8, 4, 5), "only that page mapped");
	is_u64(f->st->flt_cow, 1, "a copy");
	is_u64(p->mm->rss[VM_RSS_ANON], 1, "RSS anon 1");
	is_u64(p->mm->rss[VM_RSS_FILE], 0, "RSS file 0");
	is_i64(kfix_read8(f, p, PMD_BASE + 20 * PG + 2, &b), 0, "read the copy");
	is_u64(b, kfix_file_byte(20 * PG + 2), "holds the file's bytes");
	kfix_read8(f, p, PMD_BASE + 20 * PG + 1, &b);
	is_u64(b, 0xee, "and the write");
	kfix_read8(f, other, PMD_BASE + 20 * PG + 1, &b);
	is_u64(b, kfix_file_byte(20 * PG + 1), "another mapping of the file sees the file unchanged");

	/* Read then write: two faults, the second copies the cached page. */
	kfix_read8(f, p, PMD_BASE + 3 * PG, &b);
	uint64_t cache_pfn = kfix_pfn(p, PMD_BASE + 3 * PG);
	is_u64(p->min_flt, 2, "read page 3: one fault");
	is_u64(f->k->pages[cache_pfn].owner_kind, VM_OWNER_FILE, "maps the page-cache page");
	struct vm_pt_leaf l;
	kfix_leaf(p, PMD_BASE + 3 * PG, &l);
	ok(!(l.pte.v & VM_PTE_RW), "read-only in a private mapping");
	kfix_read8(f, p, PMD_BASE + 5 * PG, &b);
	is_u64(p->min_flt, 2, "page 5 was faulted around: no fault");
	is_i64(kfix_write8(f, p, PMD_BASE + 3 * PG, 0x11), 0, "write page 3");
	is_u64(p->min_flt, 3, "one more fault (Linux: read 1, write 1)");
	ok(kfix_pfn(p, PMD_BASE + 3 * PG) != cache_pfn, "a private copy replaced the cache page");
	is_u64(f->k->pages[cache_pfn].mapcount, 0, "the cache page lost its only mapping");
	is_u64(f->k->pages[cache_pfn].refcount, 1, "and keeps the cache's reference");
	is_u64(f->st->flt_cow, 2, "two copies");
	kfix_read8(f, p, PMD_BASE + 3 * PG + 7, &b);
	is_u64(b, kfix_file_byte(3 * PG + 7), "the copy holds the file's bytes");
	kfix_ok(f, "private file");
	ffix_fini(&x);
}

static void test_shared_file(const char *tlb)
{
	const char *const two[] = { "phys=64M", "cpus=2", tlb, NULL };
	struct ffix x;
	unsigned char b;

	diag("shared file mapping, %s", tlb);
	if (ffix_init(&x, two, FILE_SIZE))
		return;
	struct kfix *f = &x.f;
	struct vm_proc *p = kfix_proc(f, 0);
	struct vm_proc *q = kfix_proc(f, 0);
	kfix_vma(p, PMD_BASE, PMD_BASE + 64 * PG, VM_READ | VM_WRITE | VM_SHARED, x.file, 0);
	kfix_vma(q, PMD_BASE, PMD_BASE + 64 * PG, VM_READ | VM_SHARED, x.file, 0);

	kfix_read8(f, p, PMD_BASE + 20 * PG, &b);
	is_u64(p->min_flt, 1, "shared: read, one fault");
	struct vm_pt_leaf l;
	kfix_leaf(p, PMD_BASE + 20 * PG, &l);
	ok(!(l.pte.v & VM_PTE_RW), "read-only at first (dirty tracking, as on ext4)");
	is_i64(kfix_write8(f, p, PMD_BASE + 20 * PG, 0x99), 0, "write the same page");
	is_u64(p->min_flt, 2, "one more fault (Linux: 1)");
	kfix_leaf(p, PMD_BASE + 20 * PG, &l);
	ok((l.pte.v & VM_PTE_RW) && (l.pte.v & VM_PTE_D), "writable and dirty");
	uint64_t pfn = kfix_pfn(p, PMD_BASE + 20 * PG);
	ok(vm_page_test(&f->k->pages[pfn], VM_PG_DIRTY), "the cache page is dirty");
	is_u64(f->k->pages[pfn].owner_kind, VM_OWNER_FILE, "still the page-cache page, no copy");
	is_u64(f->st->flt_wp_reuse, 1, "made writable in place");
	kfix_write8(f, p, PMD_BASE + 21 * PG, 1);
	is_u64(p->min_flt, 3, "write to a faulted-around neighbour: one fault (Linux: 1)");
	kfix_write8(f, p, PMD_BASE + 40 * PG, 1);
	is_u64(p->min_flt, 4, "write to an untouched page: one fault (Linux: 1)");
	is_str(presence(p, PMD_BASE + 40 * PG, 2), "X.", "do_shared_fault maps only that page");
	kfix_read8(f, q, PMD_BASE + 20 * PG, &b);
	is_u64(b, 0x99, "another process sharing the file sees the write");
	is_u64(p->mm->rss[VM_RSS_FILE], 17, "RSS file: 16 around + 1");
	is_u64(p->mm->rss[VM_RSS_ANON], 0, "no anonymous pages");
	kfix_ok(f, "shared file");

	/* A spurious fault: a second CPU running the same mm (a thread) caches
	 * a page read-only; the first CPU's write makes it writable in place
	 * (wp_page_shared, no flush: an upgrade); the second CPU's write
	 * faults on its stale entry and finds the fault already resolved — on
	 * an Intel CPU; an AMD one (the default preset, zen4) re-walks and
	 * takes no fault (docs/tlb.md). */
	vm_vaddr page = PMD_BASE + 25 * PG;
	p->cpu = 1;
	kfix_read8(f, p, page, &b);
	p->cpu = 0;
	uint64_t shootdowns = f->st->tlb_shootdowns;
	is_i64(kfix_write8(f, p, page, 0x42), 0, "CPU 0 writes the page");
	is_u64(f->st->tlb_shootdowns, shootdowns, "made writable without a shootdown");
	p->cpu = 1;
	uint64_t flt = p->min_flt, spurious = f->st->flt_spurious;
	is_i64(kfix_write8(f, p, page + 1, 0x43), 0, "CPU 1 writes it through its stale entry");
	bool amd = f->k->cpus[1].tlb.refresh_stale;
	is_u64(f->st->flt_spurious - spurious, !amd, "%s", amd ? "no fault: the AMD MMU re-walks" :
	       "a spurious fault");
	is_u64(p->min_flt, flt + !amd, "%s", amd ? "no minor fault" :
	       "counted as a minor fault, as Linux does");
	kfix_read8(f, p, page, &b);
	is_u64(b, 0x42, "CPU 1 sees CPU 0's byte");
	is_i64(kfix_write8(f, p, page + 2, 0x44), 0, "and writes again");
	is_u64(p->min_flt, flt + !amd, "without a fault now");
	p->cpu = 0;
	kfix_ok(f, "spurious");
	ffix_fini(&x);
}

static void test_sigbus(void)
{
	struct ffix x;
	unsigned char b = 0xff;

	if (ffix_init(&x, warm, FILE_SIZE))
		return;
	struct kfix *f = &x.f;
	struct vm_proc *p = kfix_proc(f, 0);
	kfix_vma(p, PMD_BASE, PMD_BASE + 200 * PG, VM_READ, x.file, 0);
	is_i64(kfix_read8(f, p, PMD_BASE + 100 * PG + 99, &b), 0, "the last byte of the file");
	is_u64(b, kfix_file_byte(100 * PG + 99), "its value");
	is_i64(kfix_read8(f, p, PMD_BASE + 100 * PG + 4000, &b), 0, "past EOF in the last page");
	is_u64(b, 0, "reads zero");
	uint64_t pgfault = f->st->pgfault, minflt = p->min_flt;
	is_i64(kfix_read8(f, p, PMD_BASE + 101 * PG + 8, &b), VM_SIGBUS, "a whole page past EOF");
	is_i64(p->sig.signo, VM_SIGBUS, "SIGBUS");
	is_i64(p->sig.code, VM_BUS_ADRERR, "BUS_ADRERR");
	is_u64(p->sig.addr, PMD_BASE + 101 * PG + 8, "at the address");
	is_u64(f->st->sig_bus, 1, "sig_bus counted");
	is_u64(f->st->pgfault, pgfault + 1, "pgfault counts the failed fault");
	is_u64(p->min_flt, minflt, "min_flt does not");

	/* A write fault past EOF in a private mapping: SIGBUS too. */
	struct vm_proc *q = kfix_proc(f, 0);
	kfix_vma(q, PMD_BASE, PMD_BASE + 200 * PG, VM_READ | VM_WRITE, x.file, 0);
	is_i64(kfix_write8(f, q, PMD_BASE + 150 * PG, 1), VM_SIGBUS, "private write past EOF: SIGBUS");

	/* Fault-around before a fault past EOF maps the window's pages up
	 * to the end of the file, unless the first of them is the file's
	 * last page and the PMD has no page table yet (measured on Linux
	 * 6.18 for files of 17, 41, 64, 65 and 100 pages: then nothing is
	 * mapped, by a read or by a populate; with a page table there, the
	 * last page is mapped). */
	struct vm_proc *s = kfix_proc(f, 0);
	kfix_vma(s, PMD_BASE, PMD_BASE + 8 * PG, VM_READ, x.file, 100);
	is_i64(vm_populate(f->k, s, PMD_BASE + 3 * PG, PMD_BASE + 4 * PG, false), -EFAULT,
	       "VMA from the last page: populate of page 103, -EFAULT");
	is_str(presence(s, PMD_BASE, 8), "........", "nothing mapped");
	struct vm_proc *t = kfix_proc(f, 0);
	kfix_vma(t, PMD_BASE, PMD_BASE + 8 * PG, VM_READ, x.file, 99);
	is_i64(vm_populate(f->k, t, PMD_BASE + 3 * PG, PMD_BASE + 4 * PG, false), -EFAULT,
	       "VMA from page 99: populate of page 102, -EFAULT");
	is_str(presence(t, PMD_BASE, 8), "XX......", "pages 99 and 100 mapped around it");
	struct vm_proc *u = kfix_proc(f, 0);
	kfix_vma(u, PMD_BASE + 16 * PG, PMD_BASE + 17 * PG, VM_READ | VM_WRITE, NULL, 0);
	is_i64(kfix_read8(f, u, PMD_BASE + 16 * PG, &b), 0, "another VMA's page: a page table");
	kfix_vma(u, PMD_BASE, PMD_BASE + 8 * PG, VM_READ, x.file, 100);
	is_i64(vm_populate(f->k, u, PMD_BASE + 3 * PG, PMD_BASE + 4 * PG, false), -EFAULT,
	       "with a page table there: populate of page 103, -EFAULT");
	is_str(presence(u, PMD_BASE, 8), "X.......", "the last page mapped around it");
	kfix_ok(f, "sigbus");
	ffix_fini(&x);
}

/* MAP_POPULATE and MADV_POPULATE_*: Linux counts GUP faults on the task
 * (measured: MAP_POPULATE of 64 anonymous pages, 64 minor faults; of 64
 * file pages in a 64 KiB-aligned VMA, 4, as touching them does). */
static void test_populate(void)
{
	const char *const w[] = { "phys=64M", "thp=always", NULL };
	struct ffix x;

	if (ffix_init(&x, w, FILE_SIZE))
		return;
	struct kfix *f = &x.f;
	struct vm_proc *p = kfix_proc(f, 0);
	vm_vaddr anon = PMD_BASE + 16 * PG;
	kfix_vma(p, anon, anon + 64 * PG, VM_READ | VM_WRITE, NULL, 0);
	is_i64(vm_populate(f->k, p, anon, anon + 64 * PG, true), 0, "populate 64 anonymous pages for writing");
	is_u64(p->min_flt, 64, "64 minor faults on the process");
	struct vm_pt_leaf l;
	bool all = true;
	for (unsigned i = 0; i < 64; i++)
		all &= kfix_leaf(p, anon + i * PG, &l) && (l.pte.v & VM_PTE_RW);
	ok(all, "every page present and writable");
	is_i64(vm_populate(f->k, p, anon, anon + 64 * PG, true), 0, "again");
	is_u64(p->min_flt, 64, "nothing left to fault");

	struct vm_proc *q = kfix_proc(f, 0);
	kfix_vma(q, anon, anon + 64 * PG, VM_READ | VM_WRITE, NULL, 0);
	is_i64(vm_populate(f->k, q, anon, anon + 64 * PG, false), 0, "populate for reading");
	is_u64(q->min_flt, 64, "64 faults");
	is_u64(kfix_pfn(q, anon + 9 * PG), f->k->zero_pfn, "zero pages");
	is_u64(q->mm->rss[VM_RSS_ANON], 0, "no RSS");

	struct vm_proc *r = kfix_proc(f, 0);
	kfix_vma(r, PMD_BASE, PMD_BASE + 64 * PG, VM_READ, x.file, 0);
	is_i64(vm_populate(f->k, r, PMD_BASE, PMD_BASE + 64 * PG, false), 0, "populate a file mapping");
	is_u64(r->min_flt, 4, "4 faults: fault-around maps 16 pages each");
	is_u64(r->mm->rss[VM_RSS_FILE], 64, "64 pages mapped");
	is_i64(vm_populate(f->k, r, PMD_BASE, PMD_BASE + 64 * PG, true), -EFAULT,
	       "populate for writing a read-only VMA: -EFAULT");
	is_i64(vm_populate(f->k, r, PMD_BASE, PMD_BASE + 65 * PG, false), -ENOMEM,
	       "a range running into a hole: -ENOMEM");

	struct vm_proc *t = kfix_proc(f, 0);
	kfix_vma(t, PMD_BASE, PMD_BASE + VM_PMD_SIZE, VM_READ | VM_WRITE, NULL, 0);
	is_i64(vm_populate(f->k, t, PMD_BASE, PMD_BASE + VM_PMD_SIZE, true), 0, "populate 2 MiB, thp=always");
	is_u64(t->min_flt, 1, "one THP fault");
	kfix_ok(f, "populate");
	ffix_fini(&x);
}

int main(void)
{
	test_fault_around_windows();
	test_cold_and_warm();
	test_private_cow();
	test_shared_file("tlb=zen4");       /* AMD: a stale entry is refreshed */
	test_shared_file("tlb=skylake");    /* Intel: it faults (spuriously) */
	test_sigbus();
	test_populate();
	return done_testing();
}
