/*
 * Reclaim of anonymous THPs (src/kernel/thp_reclaim.c).  The expected
 * figures are Linux 6.18's rules for a kernel without CONFIG_THP_SWAP,
 * read in mm/vmscan.c shrink_folio_list, mm/huge_memory.c and
 * mm/migrate.c: a THP is one folio on the LRU; when reclaim takes it,
 * isolate_lru_folios counts its 512 pages as scanned, folio_alloc_swap
 * refuses the large folio, split_folio_to_list splits it (thp_split_page
 * +1, its PMD split: thp_split_pmd +1) and thp_swpout_fallback counts +1;
 * the pieces are then swapped out as 4 KiB pages (pswpout +1 each,
 * pgsteal +1 each); a piece holding only zeroes is mapped to the shared
 * zero page instead (try_to_map_unused_to_zeropage, since 6.12) and
 * freed.  smaps then shows no AnonHugePages, and the pages that went are
 * Swap, not Rss.  Without swap the anonymous LRU is not scanned
 * (get_scan_count's SCAN_FILE): nothing is split.
 */
#include <inttypes.h>
#include <string.h>

#include "tap.h"
#include "kernel_fixture.h"

#include "kernel/reclaim.h"
#include "kernel/swap.h"
#include "kernel/uapi.h"

#define A        UINT64_C(0x300000000000)     /* 2 MiB aligned */
#define B        UINT64_C(0x300000400000)
#define THP      MB(2)
#define NPAGES   512u

static unsigned char page_byte(uint64_t i, uint64_t at)
{
	return (unsigned char)(1 + (i * 7 + at * 13) % 251);
}

static int write_page(struct kfx *f, vm_vaddr base, uint64_t i)
{
	unsigned char buf[PG];

	for (uint64_t b = 0; b < PG; b++)
		buf[b] = page_byte(i, b);
	return vm_user_access(f->k, f->p, base + i * PG, PG, VM_ACC_WRITE, buf);
}

/* Write every page of the 2 MiB at base; the accesses that failed. */
static unsigned write_region(struct kfx *f, vm_vaddr base)
{
	unsigned bad = 0;

	for (uint64_t i = 0; i < NPAGES; i++)
		bad += write_page(f, base, i) != 0;
	return bad;
}

/* Pages of [base, base + n pages) whose bytes differ from page_byte's. */
static unsigned bad_pages(struct kfx *f, vm_vaddr base, uint64_t n)
{
	unsigned char buf[PG];
	unsigned bad = 0;

	for (uint64_t i = 0; i < n; i++) {
		int r = vm_user_access(f->k, f->p, base + i * PG, PG, VM_ACC_READ, buf);
		for (uint64_t b = 0; !r && b < PG; b++)
			if (buf[b] != page_byte(i, b)) {
				r = 1;
				break;
			}
		bad += r != 0;
	}
	return bad;
}

static struct kfx *thp_machine(const char *phys, const char *swap)
{
	const char *const w[] = { phys, swap, "policy=fifo", "thp=madvise", NULL };
	struct kfx *f = kfx_new_with(w);

	MMAP(f, A, THP, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0);
	MADVISE(f, A, THP, VM_MADV_HUGEPAGE);
	return f;
}

/* A THP whose every page holds data: reclaim splits it and swaps all 512
 * pages out; they all come back. */
static void test_split_and_swap(void)
{
	struct kfx *f = thp_machine("phys=8M", "swap=64M");
	struct vm_stats s;
	unsigned bad = write_region(f, A);

	vmlab_machine_stats(f->m, &s);
	is_u64(bad, 0, "512 pages written");
	is_u64(s.flt_thp, 1, "by one THP fault");
	kfx_smaps(f);
	is_i64(kfx_field(f, "AnonHugePages:"), 2048, "smaps: AnonHugePages 2048 kB");
	is_u64(f->k->reclaim->lru_pages, 1, "the THP is one unit on the LRU");
	is_i64(kfx_check(f, "THP made"), 0, "consistent");

	uint64_t freed = vm_shrink_lru(f->k, 1, true);
	vmlab_machine_stats(f->m, &s);
	is_u64(freed, NPAGES, "reclaim asked for 1 page freed the THP's 512");
	is_u64(s.thp_split_page, 1, "thp_split_page 1");
	is_u64(s.thp_split_pmd, 1, "thp_split_pmd 1 (its one PMD mapping)");
	is_u64(s.thp_swpout_fallback, 1, "thp_swpout_fallback 1 (no THP_SWAP)");
	is_u64(s.thp_split_page_failed, 0, "no failed split");
	is_u64(s.pswpout, NPAGES, "pswpout 512: every piece written");
	is_u64(s.pgscan_kswapd, NPAGES, "pgscan counts the folio's 512 pages");
	is_u64(s.pgsteal_kswapd, NPAGES, "pgsteal 512");
	kfx_smaps(f);
	is_i64(kfx_field(f, "AnonHugePages:"), 0, "smaps: AnonHugePages 0");
	is_i64(kfx_field(f, "Rss:"), 0, "smaps: Rss 0");
	is_i64(kfx_field(f, "Swap:"), 2048, "smaps: Swap 2048 kB");
	kfx_status(f);
	is_i64(kfx_field(f, "RssAnon:"), 0, "status: RssAnon 0 kB");
	is_i64(kfx_field(f, "VmSwap:"), 2048, "status: VmSwap 2048 kB");
	is_i64(kfx_check(f, "THP reclaimed"), 0, "consistent after the split and swap-out");

	is_u64(bad_pages(f, A, NPAGES), 0, "every page reads back its bytes (data mode)");
	vmlab_machine_stats(f->m, &s);
	ok(s.majflt > 0 && s.pswpin == NPAGES, "swapped in: %" PRIu64 " major faults, pswpin %"
	   PRIu64, s.majflt, s.pswpin);
	kfx_smaps(f);
	is_i64(kfx_field(f, "AnonHugePages:"), 0, "no THP again: 4 KiB pages came back");
	is_i64(kfx_check(f, "swapped in"), 0, "consistent after swap-in");
	MUNMAP(f, A, THP);
	is_u64(f->k->swap->inuse, 0, "no slot left after munmap");
	kfx_free(f);
}

/* A THP with one page written: the 511 untouched pieces hold zeroes, so
 * the split maps them to the zero page and frees them; only the written
 * page goes to swap. */
static void test_zero_tails(void)
{
	struct kfx *f = thp_machine("phys=8M", "swap=64M");
	struct vm_stats s;
	unsigned char v = 0x5a, r = 1;

	vm_user_access(f->k, f->p, A, 1, VM_ACC_WRITE, &v);
	vmlab_machine_stats(f->m, &s);
	is_u64(s.flt_thp, 1, "one THP fault");
	uint64_t free0 = f->k->buddy->free_frames;
	uint64_t freed = vm_shrink_lru(f->k, 1, true);
	vmlab_machine_stats(f->m, &s);
	is_u64(freed, NPAGES, "512 frames freed");
	/* The model takes the frame for the 512 PTEs when it splits (Linux
	 * deposited that table at the THP fault already). */
	is_u64(f->k->buddy->free_frames - free0, NPAGES - 1,
	       "the buddy has them, but for the new page table");
	is_u64(s.thp_split_page, 1, "split once");
	is_u64(s.pswpout, 1, "one page written to swap: the zero pieces were not");
	is_u64(s.pgsteal_kswapd, 1, "pgsteal 1 (the zero pieces are freed by the split)");
	kfx_status(f);
	is_i64(kfx_field(f, "RssAnon:"), 0, "RssAnon 0: the zero page is no one's RSS");
	is_i64(kfx_field(f, "VmSwap:"), 4, "VmSwap 4 kB");
	is_i64(kfx_check(f, "zero tails"), 0, "consistent");
	uint64_t minflt = f->p->min_flt;
	vm_user_access(f->k, f->p, A + 100 * PG, 1, VM_ACC_READ, &r);
	is_u64(r, 0, "a zero piece reads 0");
	is_u64(f->p->min_flt, minflt, "without a fault: the zero page is mapped");
	vm_user_access(f->k, f->p, A, 1, VM_ACC_READ, &r);
	is_u64(r, 0x5a, "the written page comes back from swap");
	v = 7;
	is_i64(vm_user_access(f->k, f->p, A + 100 * PG, 1, VM_ACC_WRITE, &v), 0,
	       "a write to a zero piece copies on write");
	is_i64(kfx_check(f, "after"), 0, "consistent");
	kfx_free(f);
}

/* Without swap a THP is not on the LRU and stays whole. */
static void test_no_swap(void)
{
	struct kfx *f = thp_machine("phys=8M", "swap=0");
	struct vm_stats s;

	is_u64(write_region(f, A), 0, "2 MiB written");
	uint64_t freed = vm_shrink_lru(f->k, 1, true);
	vmlab_machine_stats(f->m, &s);
	is_u64(freed, 0, "nothing reclaimed");
	is_u64(s.thp_split_page, 0, "no split");
	kfx_smaps(f);
	is_i64(kfx_field(f, "AnonHugePages:"), 2048, "AnonHugePages 2048 kB still");
	is_i64(kfx_check(f, "no swap"), 0, "consistent");
	kfx_free(f);
}

/* Memory runs out with the THP the oldest page (FIFO): kswapd, woken by
 * the allocations, splits it and swaps its pages out; every byte of both
 * regions reads back. */
static void test_pressure(void)
{
	struct kfx *f = thp_machine("phys=4M", "swap=64M");
	struct vm_stats s;
	unsigned bad = write_region(f, A);

	MMAP(f, B, MB(2), RW, PRIV_ANON | VM_MAP_FIXED, -1, 0);
	bad += write_region(f, B);
	vmlab_machine_stats(f->m, &s);
	is_u64(bad, 0, "4 MiB written on a 4 MiB machine");
	is_u64(s.flt_thp, 1, "the first region is a THP");
	is_u64(s.thp_split_page, 1, "kswapd split it");
	ok(s.pswpout >= NPAGES, "and swapped its pages out (pswpout %" PRIu64 ")", s.pswpout);
	is_i64(kfx_check(f, "pressure"), 0, "consistent");
	is_u64(bad_pages(f, A, NPAGES) + bad_pages(f, B, NPAGES), 0, "every byte reads back");
	is_i64(kfx_check(f, "read back"), 0, "consistent after reading back");
	kfx_free(f);
}

/* Direct reclaim runs below the min watermark, where page-table
 * allocations stop; the table the split needs comes from the reserve
 * (reclaim's PF_MEMALLOC; Linux deposited it at the THP fault). */
static void test_split_below_min(void)
{
	struct kfx *f = thp_machine("phys=8M", "swap=64M");
	struct vm_stats s;
	uint64_t taken[2048], n = 0, pfn;

	is_u64(write_region(f, A), 0, "a THP written");
	while (n < 2048 && f->k->buddy->free_frames > f->k->reclaim->wmark_min / 2 &&
	       vm_buddy_alloc(f->k->buddy, 0, &pfn) == 0)
		taken[n++] = pfn;
	ok(f->k->buddy->free_frames < f->k->reclaim->wmark_min, "free frames below min (%" PRIu64
	   " < %" PRIu64 ")", f->k->buddy->free_frames, f->k->reclaim->wmark_min);
	uint64_t freed = vm_shrink_lru(f->k, 32, false);
	vmlab_machine_stats(f->m, &s);
	is_u64(freed, NPAGES, "direct reclaim freed the THP's 512 pages");
	is_u64(s.thp_split_page_failed, 0, "the split got its table");
	while (n)
		vm_buddy_free(f->k->buddy, taken[--n], 0);
	is_i64(kfx_check(f, "below min"), 0, "consistent");
	kfx_free(f);
}

/* A policy that sees every access (exact LRU) sees an access to any page
 * of a THP as one to the THP: used last, it is not the victim. */
static void test_lru_sees_thp(void)
{
	const char *const w[] = { "phys=8M", "swap=64M", "policy=lru", "thp=madvise", NULL };
	struct kfx *f = kfx_new_with(w);
	struct vm_stats s;
	unsigned char v = 1;

	MMAP(f, A, THP, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0);
	MADVISE(f, A, THP, VM_MADV_HUGEPAGE);
	is_u64(write_region(f, A), 0, "a THP written");
	MMAP(f, B, 8 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0);
	for (uint64_t i = 0; i < 8; i++)
		vm_user_access(f->k, f->p, B + i * PG, 1, VM_ACC_WRITE, &v);
	vm_user_access(f->k, f->p, A + 300 * PG, 1, VM_ACC_READ, &v);
	is_u64(vm_shrink_lru(f->k, 1, true), 1, "reclaim frees one page");
	vmlab_machine_stats(f->m, &s);
	is_u64(s.thp_split_page, 0, "not the THP, read last (through its page 300)");
	is_i64(kfx_check(f, "lru"), 0, "consistent");
	kfx_free(f);
}

int main(void)
{
	test_split_and_swap();
	test_zero_tails();
	test_no_swap();
	test_pressure();
	test_lru_sees_thp();
	test_split_below_min();
	return done_testing();
}
