/*
 * vm_zap_range: every kind of leaf (anonymous, zero page, THP, page
 * cache), RSS and counts back to zero, frames back in the buddy, a THP cut
 * in the middle, TLB flushes counted and effective.
 */
#include "hw/mmu.h"
#include "kfixture.h"

#define PG   VM_PAGE_SIZE
#define BASE UINT64_C(0x40000000)          /* 2 MiB aligned */
#define RW   (VM_READ | VM_WRITE)

static void test_zap_everything(void)
{
	const char *const w[] = { "phys=64M", "thp=madvise", NULL };
	struct kfix f;
	struct vm_file *file;
	unsigned char b;

	if (kfix_init(&f, w))
		return;
	uint64_t free0 = f.k->buddy->free_frames;
	file = kfix_open(&f, kfix_file(&f, 64 * PG));
	struct vm_proc *p = kfix_proc(&f, 0);
	struct vm_vma *anon = kfix_vma(p, BASE, BASE + 64 * PG, RW, NULL, 0);
	struct vm_vma *thp = kfix_vma(p, BASE + VM_PMD_SIZE, BASE + 2 * VM_PMD_SIZE,
				      RW | VM_HUGEPAGE, NULL, 0);
	struct vm_vma *fv = kfix_vma(p, BASE + 4 * VM_PMD_SIZE, BASE + 4 * VM_PMD_SIZE + 64 * PG,
				     VM_READ, file, 0);
	for (unsigned i = 0; i < 16; i++)
		kfix_write8(&f, p, BASE + i * PG, 1);
	for (unsigned i = 16; i < 20; i++)
		kfix_read8(&f, p, BASE + i * PG, &b);
	kfix_write8(&f, p, BASE + VM_PMD_SIZE, 1);
	kfix_read8(&f, p, fv->vm_start, &b);
	is_u64(p->mm->rss[VM_RSS_ANON], 16 + 512, "RSS anon: 16 pages and a THP");
	is_u64(p->mm->rss[VM_RSS_FILE], 16, "RSS file: 16 faulted around");
	kfix_ok(&f, "before zap");

	uint64_t zapped = f.st->pages_zapped;
	vm_zap_range(f.k, anon, anon->vm_start, anon->vm_end);
	is_u64(f.st->pages_zapped - zapped, 20, "20 pages zapped (zero-page PTEs count)");
	is_u64(p->mm->rss[VM_RSS_ANON], 512, "anon RSS down by 16 (zero pages never counted)");
	is_u64(f.k->pages[f.k->zero_pfn].refcount, 1, "the zero page's count untouched");
	is_u64(p->mm->hiwater_rss, 16 + 512 + 16, "hiwater_rss kept the peak");
	vm_zap_range(f.k, thp, thp->vm_start, thp->vm_end);
	is_u64(p->mm->rss[VM_RSS_ANON], 0, "the THP: anon RSS 0");
	is_u64(f.st->pages_zapped - zapped, 20 + 512, "512 more zapped");
	uint64_t cached = file->cached_pages;
	vm_zap_range(f.k, fv, fv->vm_start, fv->vm_end);
	is_u64(p->mm->rss[VM_RSS_FILE], 0, "file RSS 0");
	is_u64(file->cached_pages, cached, "the pages stay in the page cache");
	uint64_t pfn;
	vm_pagecache_find(f.k, file, 0, &pfn);
	ok(f.k->pages[pfn].refcount == 1 && f.k->pages[pfn].mapcount == 0,
	   "a cache page is back to the cache's reference");
	kfix_ok(&f, "after zap");
	kfix_exit(&f, p);
	kfix_exit(&f, f.holder);          /* closes the file: its cache goes */
	is_u64(f.k->buddy->free_frames, free0, "every frame back in the buddy (tables included)");
	kfix_fini(&f);
}

static void test_zap_splits_thp(void)
{
	const char *const w[] = { "phys=64M", "thp=always", NULL };
	struct kfix f;
	unsigned char b;
	struct vm_pt_leaf l;

	if (kfix_init(&f, w))
		return;
	uint64_t free0 = f.k->buddy->free_frames;
	struct vm_proc *p = kfix_proc(&f, 0);
	struct vm_vma *v = kfix_vma(p, BASE, BASE + VM_PMD_SIZE, RW, NULL, 0);
	for (unsigned i = 0; i < 512; i++)
		kfix_write8(&f, p, BASE + i * PG, (unsigned char)i);
	is_u64(f.st->flt_thp, 1, "one THP");
	uint64_t free1 = f.k->buddy->free_frames;
	vm_zap_range(f.k, v, BASE + 10 * PG, BASE + 20 * PG);
	ok(kfix_leaf(p, BASE, &l) && l.size == VM_PSIZE_4K, "the PMD became PTEs");
	ok(!kfix_leaf(p, BASE + 10 * PG, &l) && !kfix_leaf(p, BASE + 19 * PG, &l), "10..19 gone");
	ok(kfix_leaf(p, BASE + 20 * PG, &l), "20 stays");
	is_u64(p->mm->rss[VM_RSS_ANON], 502, "RSS 502");
	is_u64(f.k->buddy->free_frames - free1, 10 - 1, "10 frames freed, one taken for the page table");
	kfix_ok(&f, "after the partial zap");
	kfix_read8(&f, p, BASE + 300 * PG, &b);
	is_u64(b, (unsigned char)300, "the rest of the data survives");
	kfix_read8(&f, p, BASE + 15 * PG, &b);
	is_u64(b, 0, "a zapped page reads zero again (the zero page)");
	vm_zap_range(f.k, v, v->vm_start, v->vm_end);
	is_u64(p->mm->rss[VM_RSS_ANON], 0, "RSS 0");
	kfix_exit(&f, p);
	is_u64(f.k->buddy->free_frames, free0, "every frame back; the pieces merged");
	is_i64(vm_buddy_frag_index(f.k->buddy, 9), -1000, "an order-9 block is free again");
	kfix_fini(&f);
}

static void test_zap_flushes(void)
{
	const char *const w[] = { "phys=64M", "cpus=2", "thp=always", NULL };
	struct kfix f;
	vm_paddr pa;

	if (kfix_init(&f, w))
		return;
	struct vm_proc *p = kfix_proc(&f, 0);
	struct vm_vma *v = kfix_vma(p, BASE, BASE + 2 * VM_PMD_SIZE, RW, NULL, 0);
	struct vm_vma *s = kfix_vma(p, BASE + 4 * VM_PMD_SIZE, BASE + 4 * VM_PMD_SIZE + 64 * PG,
				    RW | VM_NOHUGEPAGE, NULL, 0);
	for (unsigned i = 0; i < 64; i++)
		kfix_write8(&f, p, s->vm_start + i * PG, 1);
	kfix_write8(&f, p, BASE, 1);
	/* CPU 1 runs the same mm (a thread) and caches a translation. */
	vm_switch_mm(f.k, 1, p->mm);
	is_i64(vm_mmu_translate(&f.k->cpus[1], s->vm_start, VM_ACC_READ | VM_ACC_USER, &pa), VM_EXC_NONE,
	       "CPU 1 translates a page");
	struct vm_stats before = *f.st;
	uint64_t invlpg0 = f.k->cpus[0].stats.invlpg, invlpg1 = f.k->cpus[1].stats.invlpg;
	f.k->cur_cpu = 0;
	vm_zap_range(f.k, s, s->vm_start, s->vm_start + 4 * PG);
	is_u64(f.st->tlb_flush_range - before.tlb_flush_range, 1, "a 4-page zap: one range flush");
	is_u64(f.st->tlb_shootdowns - before.tlb_shootdowns, 1, "one shootdown (CPU 1)");
	is_u64(f.k->cpus[0].stats.invlpg - invlpg0, 4, "CPU 0: 4 INVLPG");
	is_u64(f.k->cpus[1].stats.invlpg - invlpg1, 4, "CPU 1: 4 INVLPG");
	is_i64(vm_mmu_translate(&f.k->cpus[1], s->vm_start, VM_ACC_READ | VM_ACC_USER, &pa), VM_EXC_PF,
	       "CPU 1's cached translation is gone: it faults");

	before = *f.st;
	vm_zap_range(f.k, s, s->vm_start, s->vm_end);
	is_u64(f.st->tlb_flush_mm - before.tlb_flush_mm, 1, "64 pages (> 33): a flush of the PCID");
	is_u64(f.st->tlb_flush_range - before.tlb_flush_range, 0, "not a range flush");

	before = *f.st;
	invlpg0 = f.k->cpus[0].stats.invlpg;
	vm_zap_range(f.k, v, v->vm_start, v->vm_end);
	is_u64(f.st->tlb_flush_range - before.tlb_flush_range, 1,
	       "zapping a THP: a range flush with a 2 MiB stride");
	is_u64(f.k->cpus[0].stats.invlpg - invlpg0, 2, "one INVLPG per 2 MiB");

	before = *f.st;
	vm_zap_range(f.k, v, v->vm_start, v->vm_end);
	is_u64(f.st->tlb_flush_range + f.st->tlb_flush_mm + f.st->tlb_shootdowns,
	       before.tlb_flush_range + before.tlb_flush_mm + before.tlb_shootdowns,
	       "nothing mapped: no flush");
	f.k->cur_cpu = -1;
	kfix_ok(&f, "flushes");
	kfix_fini(&f);
}

int main(void)
{
	test_zap_everything();
	test_zap_splits_thp();
	test_zap_flushes();
	return done_testing();
}
