/*
 * Reclaim, swap and the OOM killer (src/kernel/lru.c, vmscan.c, swap.c,
 * oom_kill.c).  Expected figures come from Linux's rules worked by hand:
 * the watermark formula of __setup_per_zone_wmarks with the table of
 * min_free_kbytes values in mm/page_alloc.c's comment, kswapd balancing
 * to high, FIFO evicting the page loaded first, the x86-64 swap PTE
 * layout of pgtable_64.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "kernel_fixture.h"
#include "kernel/fork.h"
#include "kernel/proc.h"
#include "kernel/procfs.h"

#include "kernel/reclaim.h"
#include "kernel/swap.h"

#define A     UINT64_C(0x300000000000)
#define ANON_FIXED (PRIV_ANON | VM_MAP_FIXED)

static int wr(struct kfx *f, struct vm_proc *p, vm_vaddr va, unsigned char v)
{
	return vm_user_access(f->k, p, va, 1, VM_ACC_WRITE, &v);
}

static int rd(struct kfx *f, struct vm_proc *p, vm_vaddr va)
{
	unsigned char v = 0xee;
	int r = vm_user_access(f->k, p, va, 1, VM_ACC_READ, &v);
	return r ? -r : v;
}

/* mm/page_alloc.c's comment: 16MB:512k, 1024MB:4096k, 16384MB:16384k,
 * and the clamp at 128k below 4 MB. */
static void test_watermarks(void)
{
	uint64_t kb, mn, lo, hi;

	vm_reclaim_watermarks(4096, 10, &kb, &mn, &lo, &hi);
	is_u64(kb, 512, "16 MB: min_free_kbytes 512");
	vm_reclaim_watermarks(262144, 10, &kb, &mn, &lo, &hi);
	is_u64(kb, 4096, "1 GB: min_free_kbytes 4096");
	vm_reclaim_watermarks(4194304, 10, &kb, &mn, &lo, &hi);
	is_u64(kb, 16384, "16 GB: min_free_kbytes 16384");
	is_u64(mn, 4096, "16 GB: min 4096 pages");
	/* delta = max(min / 4 = 1024, 4194304 * 10 / 10000 = 4194). */
	is_u64(lo, 4096 + 4194, "16 GB: low = min + managed * wsf / 10000");
	is_u64(hi, 4096 + 2 * 4194, "16 GB: high = min + 2 delta");
	vm_reclaim_watermarks(255, 10, &kb, &mn, &lo, &hi);
	is_u64(kb, 128, "1 MB: clamped to 128k");
	ok(mn == 32 && lo == 40 && hi == 48, "1 MB: min/low/high 32/40/48 (delta = min / 4)");
}

static void test_swp_pte(void)
{
	vm_pte e = vm_swp_pte(0, 1);

	is_u64(e.v & 0x1ff, 0, "P, PSE, PROTNONE and bits 1-8 clear");
	is_u64(vm_swp_pte_offset(e), 1, "offset round-trips");
	/* L1TF: the offset is stored inverted, so a small offset sets the
	 * high address bits: bit 58 is set for offset 1. */
	ok(e.v >> 58 & 1, "offset inverted (bit 58 set for offset 1)");
	e = vm_swp_pte(31, 0x123456789);
	is_u64(vm_swp_pte_type(e), 31, "type in bits 63:59");
	is_u64(vm_swp_pte_offset(e), 0x123456789, "a large offset round-trips");
}

/* phys=1M: 255 managed frames, min/low/high 32/40/48.  FIFO, swap on:
 * writing pages one by one, the allocation that finds free - 1 < low wakes
 * kswapd, which swaps out until free - 1 >= high + 1 = 49 and so frees
 * 50 - 40 = 10 pages; every 10 allocations later it runs again. */
static void test_fifo_swapouts(void)
{
	const char *const w[] = { "phys=1M", "swap=64M", "policy=fifo", "thp=never", NULL };
	struct kfx *f = kfx_new_with(w);
	struct vm_stats s;
	unsigned bad = 0;

	MMAP(f, A, MB(1), RW, ANON_FIXED, -1, 0);
	wr(f, f->p, A, 0);
	uint64_t f0 = f->k->buddy->free_frames;
	ok(f0 > 41, "room after the first page (%" PRIu64 " frames free)", f0);
	uint64_t m = 255;
	for (uint64_t i = 1; i <= m; i++)
		wr(f, f->p, A + i * PG, (unsigned char)i);
	uint64_t first = f0 - 40 + 1;         /* the allocation that finds free = 40 */
	uint64_t runs = m >= first ? 1 + (m - first) / 10 : 0;
	vmlab_machine_stats(f->m, &s);
	is_u64(s.pageoutrun, runs, "kswapd woke %" PRIu64 " times", runs);
	is_u64(s.pswpout, 10 * runs, "10 pages swapped out each time");
	is_u64(s.pgsteal_kswapd, 10 * runs, "all by kswapd");
	is_u64(s.pgsteal_direct, 0, "no direct reclaim");
	/* FIFO: the pages written first are the ones in swap. */
	for (uint64_t i = 0; i < 10 * runs; i++) {
		vm_pte e;
		bad += !vm_swap_pte_at(f->p->mm, A + i * PG, &e);
	}
	is_u64(bad, 0, "the first %" PRIu64 " pages are swap entries", 10 * runs);
	is_u64(f->p->mm->rss[VM_RSS_SWAP], 10 * runs, "MM_SWAPENTS counts them");
	is_i64(kfx_check(f, "swap-out"), 0, "consistent");

	/* Every byte comes back. */
	bad = 0;
	for (uint64_t i = 0; i <= m; i++)
		bad += rd(f, f->p, A + i * PG) != (int)(unsigned char)i;
	vmlab_machine_stats(f->m, &s);
	is_u64(bad, 0, "every page reads what was written (data mode)");
	ok(s.pswpin > 0 && s.majflt > 0, "swap-ins are major faults (%" PRIu64 " in, %" PRIu64
	   " major)", s.pswpin, s.majflt);
	ok(s.swap_ra > 0, "readahead brought neighbours (%" PRIu64 ")", s.swap_ra);
	is_i64(kfx_check(f, "swap-in"), 0, "consistent after swap-in");
	MUNMAP(f, A, MB(1));
	is_u64(f->k->swap->inuse, 0, "munmap frees every slot");
	is_u64(f->p->mm->rss[VM_RSS_SWAP], 0, "and every swap entry");
	kfx_free(f);
}

/* fork copies swap entries (swap_duplicate): the child reads the parent's
 * bytes from swap; the slots go with the last reference. */
static void test_fork_swap(void)
{
	const char *const w[] = { "phys=1M", "swap=64M", "policy=fifo", "thp=never", NULL };
	struct kfx *f = kfx_new_with(w);
	unsigned bad = 0;

	MMAP(f, A, MB(1), RW, ANON_FIXED, -1, 0);
	for (uint64_t i = 0; i < 256; i++)
		wr(f, f->p, A + i * PG, (unsigned char)(i * 7));
	ok(f->p->mm->rss[VM_RSS_SWAP] > 0, "some pages in swap");
	kfx_smaps(f);
	is_i64(kfx_field(f, "SwapPss:"), kfx_field(f, "Swap:"), "before fork: SwapPss is Swap");
	long pid = vm_sys_clone(f->k, f->p, 0, "child", NULL);
	struct vm_proc *c = pid > 0 ? vm_proc_find(f->k, (int)pid) : NULL;
	ok(c != NULL, "fork");
	if (!c) {
		kfx_free(f);
		return;
	}
	is_u64(c->mm->rss[VM_RSS_SWAP], f->p->mm->rss[VM_RSS_SWAP], "the child has the entries");
	/* smaps_pte_entry(): a swap entry's page is divided among the
	 * references to its slot (swp_swapcount), here parent and child. */
	long swap_kb = (long)(f->p->mm->rss[VM_RSS_SWAP] * 4);
	kfx_smaps(f);
	is_i64(kfx_field(f, "Swap:"), swap_kb, "parent's smaps: Swap is every entry");
	is_i64(kfx_field(f, "SwapPss:"), swap_kb / 2, "parent's SwapPss: half of each, shared with the child");
	struct vm_proc *parent = f->p;
	f->p = c;
	kfx_smaps(f);
	f->p = parent;
	is_i64(kfx_field(f, "SwapPss:"), swap_kb / 2, "and the child's the other half");
	is_i64(kfx_check(f, "fork"), 0, "consistent after fork");
	for (uint64_t i = 0; i < 256; i++)
		bad += rd(f, c, A + i * PG) != (int)(unsigned char)(i * 7);
	is_u64(bad, 0, "the child reads every byte");
	bad = 0;
	for (uint64_t i = 0; i < 256; i++)
		bad += rd(f, f->p, A + i * PG) != (int)(unsigned char)(i * 7);
	is_u64(bad, 0, "so does the parent");
	is_i64(kfx_check(f, "reads"), 0, "consistent");
	vm_sys_exit(f->k, c, 0);
	vm_sys_exit(f->k, f->p, 0);
	is_u64(f->k->swap->inuse, 0, "no slot outlives the processes");
	is_i64(kfx_check(f, "exit"), 0, "consistent at the end");
	kfx_free(f);
}

/* Without swap anonymous memory cannot be reclaimed: the OOM killer picks
 * the process with the most pages (oom_badness) and the faulting one goes
 * on. */
static void test_oom(void)
{
	const char *const w[] = { "phys=1M", "thp=never", NULL };
	struct kfx *f = kfx_new_with(w);
	struct vm_proc *small;
	struct vm_stats s;

	MMAP(f, A, MB(1), RW, ANON_FIXED, -1, 0);
	for (uint64_t i = 0; i < 150; i++)
		wr(f, f->p, A + i * PG, 1);
	ok(f->p->state == VM_PROC_RUNNING, "150 pages fit");
	vm_proc_create(f->k, "small", &small);
	vm_sys_mmap(f->k, small, A, MB(1), RW, ANON_FIXED, -1, 0);
	int rc = 0;
	for (uint64_t i = 0; i < 100 && rc == 0; i++)
		rc = wr(f, small, A + i * PG, 2);
	vmlab_machine_stats(f->m, &s);
	is_i64(rc, 0, "the small process kept running");
	is_u64(s.oom_kill, 1, "one OOM kill");
	ok(f->p->state == VM_PROC_KILLED && f->p->sig.signo == VM_SIGKILL,
	   "the big process was killed with SIGKILL");
	ok(f->p->sig.reason && strstr(f->p->sig.reason, "OOM killer"), "its reason says why (%s)",
	   f->p->sig.reason ? f->p->sig.reason : "none");
	is_i64(kfx_check(f, "oom"), 0, "consistent");
	kfx_free(f);
}

/* The swap setting: swapon's rules, each error naming the setting. */
static void test_bad_swap_setting(void)
{
	static const char *const bad[] = {
		"swap=4K",              /* a header page and no slot */
		"swap=10000",           /* not whole pages */
		"swap=1G:",             /* a colon and no priority */
		"swap=1G:abc",
		"swap=1G:32768",        /* swapon -p: -1 .. 32767 */
		"swap=1G:-2",
		"swap=1G,,2G",
		"swap=1G,",
		"swap=0,1G",            /* an area of nothing */
		"swap=1G:1:2",
		"swap=48G,32G",         /* 64G in all at most */
	};
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		int rc = vmlab_settings_parse(s, bad[i], &err);
		ok(rc == -EINVAL && strncmp(err.msg, bad[i], strlen(bad[i])) == 0,
		   "%s is refused, naming the setting: %s", bad[i], err.msg);
	}
	/* MAX_SWAPFILES = 27 (swap_spec.h): 27 areas are fine, 28 are not. */
	char list[512] = "swap=";
	for (int i = 0; i < 27; i++)
		strcat(list, i ? ",8K" : "8K");
	is_i64(vmlab_settings_parse(s, list, &err), 0, "27 areas are allowed");
	strcat(list, ",8K");
	ok(vmlab_settings_parse(s, list, &err) == -EINVAL && strstr(err.msg, "MAX_SWAPFILES"),
	   "28 are refused: %s", err.msg);
	is_i64(vmlab_settings_parse(s, "swap=1G:5,512M:-1,2048K:32767", &err), 0, "a good list");
	is_str(vmlab_settings_get(s, "swap"), "1G:5,512M,2M:32767",
	       "canonical text (-1 is swapon's \"no priority\")");
	is_u64(vmlab_settings_value(s, "swap", NULL), (UINT64_C(1) << 30) + MB(512) + MB(2), "the value is the total");
	vmlab_settings_destroy(s);
}

/* Allocation across areas (Linux get_swap_pages): the highest priority
 * first, equal priorities in turn, full areas skipped; an area without a
 * priority gets -2, -3, ... in swapon order.  Areas: type 0 prio 1 with 4
 * slots, types 1 and 2 prio 5 with 15 slots each, type 3 default (-2).
 * FIFO swaps pages out in the order they were written. */
static void test_swap_priorities(void)
{
	const char *const w[] = { "phys=1M", "swap=20K:1,64K:5,64K:5,8M", "policy=fifo",
				  "thp=never", NULL };
	struct kfx *f = kfx_new_with(w);
	unsigned bad = 0, n = 0;

	MMAP(f, A, MB(1), RW, ANON_FIXED, -1, 0);
	for (uint64_t i = 0; i < 256; i++)
		wr(f, f->p, A + i * PG, (unsigned char)(i + 3));
	for (uint64_t i = 0; i < 256; i++) {
		vm_pte e;
		if (!vm_swap_pte_at(f->p->mm, A + i * PG, &e))
			break;
		unsigned want = i < 30 ? 1 + (unsigned)(i & 1) : i < 34 ? 0 : 3;
		if (vm_swp_pte_type(e) != want && bad++ < 3)
			diag("page %" PRIu64 ": type %u, want %u", i, vm_swp_pte_type(e), want);
		n++;
	}
	ok(n > 40, "%u pages swapped out in order", n);
	is_u64(bad, 0, "types: 1 and 2 in turn (priority 5), then 0 (priority 1), then 3 (-2)");
	is_i64(f->k->swap->area[3].prio, -2, "the area without a priority gets -2");
	is_u64(f->k->swap->pages, 4 + 15 + 15 + 2047, "total_swap_pages: all slots but headers");
	is_i64(kfx_check(f, "swap-out"), 0, "consistent");

	/* /proc/swaps (mm/swapfile.c swap_show): sizes in KiB without the
	 * header page; full areas show Used == Size. */
	char buf[2048];
	FILE *mem = fmemopen(buf, sizeof(buf), "w");
	vm_procfs_swaps(f->k, mem);
	fputc('\0', mem);
	fclose(mem);
	char want[512];
	snprintf(want, sizeof(want),
		 "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
		 "/swap0%34sfile\t\t16\t\t16\t\t1\n"
		 "/swap1%34sfile\t\t60\t\t60\t\t5\n"
		 "/swap2%34sfile\t\t60\t\t60\t\t5\n"
		 "/swap3%34sfile\t\t8188\t\t%u\t\t-2\n", "", "", "", "", (n - 34) * 4);
	is_str(buf, want, "/proc/swaps");

	/* Every byte comes back, from whichever area. */
	bad = 0;
	for (uint64_t i = 0; i < 256; i++)
		bad += rd(f, f->p, A + i * PG) != (int)(unsigned char)(i + 3);
	is_u64(bad, 0, "every page reads what was written");
	is_i64(kfx_check(f, "swap-in"), 0, "consistent after swap-in");
	MUNMAP(f, A, MB(1));
	is_u64(f->k->swap->inuse, 0, "munmap frees every slot of every area");
	kfx_free(f);
}

/* Areas without a priority get decreasing defaults (least_priority), so
 * they are never equal: the first is used until it is full. */
static void test_swap_default_priorities(void)
{
	const char *const w[] = { "phys=1M", "swap=4M,4M", "thp=never", NULL };
	struct kfx *f = kfx_new_with(w);

	is_i64(f->k->swap->area[0].prio, -2, "first default priority -2");
	is_i64(f->k->swap->area[1].prio, -3, "second -3: not equal, so no round-robin");
	MMAP(f, A, MB(1), RW, ANON_FIXED, -1, 0);
	for (uint64_t i = 0; i < 256; i++)
		wr(f, f->p, A + i * PG, 1);
	ok(f->k->swap->area[0].inuse > 0 && f->k->swap->area[1].inuse == 0,
	   "everything goes to the higher one (%" PRIu64 " slots)", f->k->swap->area[0].inuse);
	kfx_free(f);
}

/* The swap entries are PTEs (Linux: the swap PTE replaces the page's
 * PTE in its table): the tables count them, a table holding only swap
 * entries stays, mremap moves them with the present pages (move_ptes),
 * and munmap frees the tables once the entries are gone. */
static void test_entries_in_tables(void)
{
	const char *const w[] = { "phys=1M", "swap=64M", "policy=fifo", "thp=never", NULL };
	struct kfx *f = kfx_new_with(w);
	struct vm_pt *pt = &f->p->mm->pt;
	const vm_vaddr B = A + MB(512);
	uint64_t tables0 = pt->table_frames;
	unsigned bad = 0;
	vm_pte e;

	MMAP(f, A, MB(1), RW, ANON_FIXED, -1, 0);
	for (uint64_t i = 0; i < 256; i++)
		wr(f, f->p, A + i * PG, (unsigned char)(i ^ 0x5a));
	uint64_t nswap = f->p->mm->rss[VM_RSS_SWAP];
	ok(nswap > 10, "%" PRIu64 " pages in swap", nswap);
	is_u64(pt->nonpresent, nswap, "each one a non-present PTE");
	ok(!vm_swap_pte_at(f->p->mm, A + 255 * PG, &e), "the last page written is present");
	is_u64(vm_swap_count(f->p->mm, A, A + MB(1)), nswap, "counted by a walk of the range");
	ok(vm_swap_any(f->p->mm, A, A + PG) && !vm_swap_any(f->p->mm, A + MB(1), A + MB(2)),
	   "found in its range, not outside");
	/* Move the whole mapping: present pages and swap entries together. */
	long r = MREMAP(f, A, MB(1), MB(1), VM_MREMAP_MAYMOVE | VM_MREMAP_FIXED, B);
	is_i64(r, (long)B, "mremap to a new place");
	is_u64(vm_swap_count(f->p->mm, A, A + MB(1)), 0, "no entry left behind");
	is_u64(vm_swap_count(f->p->mm, B, B + MB(1)), nswap, "every entry moved");
	is_u64(f->p->mm->rss[VM_RSS_SWAP], nswap, "MM_SWAPENTS unchanged");
	is_i64(kfx_check(f, "mremap"), 0, "consistent after the move");
	for (uint64_t i = 0; i < 256; i++)
		bad += rd(f, f->p, B + i * PG) != (int)(unsigned char)(i ^ 0x5a);
	is_u64(bad, 0, "every page reads back at its new place");
	MUNMAP(f, B, MB(1));
	is_u64(pt->nonpresent, 0, "munmap removes the entries");
	is_u64(pt->table_frames, tables0, "and frees their tables");
	is_u64(f->k->swap->inuse, 0, "and their slots");
	kfx_free(f);
}

/* A write to a swapped-out page whose slot fork shares (Linux
 * do_swap_page: the page is not exclusive, so it is mapped read-only and
 * the write goes on to do_wp_page in the same fault, which copies it):
 * one fault, major, one COW copy; the writer sees its byte, the other
 * process the old one, and a second write faults no more. */
static void test_swap_write_shared(void)
{
	const char *const w[] = { "phys=1M", "swap=64M", "policy=fifo", "thp=never", NULL };
	struct kfx *f = kfx_new_with(w);
	struct vm_stats s0, s1;
	vm_pte e;

	MMAP(f, A, MB(1), RW, ANON_FIXED, -1, 0);
	for (uint64_t i = 0; i < 256; i++)
		wr(f, f->p, A + i * PG, 0x11);
	long pid = vm_sys_clone(f->k, f->p, 0, "child", NULL);
	struct vm_proc *c = pid > 0 ? vm_proc_find(f->k, (int)pid) : NULL;
	ok(c && vm_swap_pte_at(f->p->mm, A, &e) && vm_swap_pte_at(c->mm, A, &e),
	   "after fork the first page is a swap entry in both");
	if (!c) {
		kfx_free(f);
		return;
	}
	struct vm_swap_area *a = vm_swap_area_of(f->k, e);
	ok(a && a->map[vm_swp_pte_offset(e)] == 2, "its slot has two references");
	uint64_t cmin = c->min_flt, cmaj = c->maj_flt;
	vmlab_machine_stats(f->m, &s0);
	is_i64(wr(f, c, A, 0x22), 0, "the child writes it");
	vmlab_machine_stats(f->m, &s1);
	is_u64(s1.pgfault - s0.pgfault, 1, "exactly one fault");
	ok(c->maj_flt == cmaj + 1 && c->min_flt == cmin, "a major one (maj_flt %" PRIu64
	   " -> %" PRIu64 ", min_flt %" PRIu64 " -> %" PRIu64 ")", cmaj, c->maj_flt, cmin,
	   c->min_flt);
	is_u64(s1.flt_cow - s0.flt_cow, 1, "with a COW copy in it");
	is_i64(wr(f, c, A + 1, 0x33), 0, "a second write");
	vmlab_machine_stats(f->m, &s0);
	is_u64(s0.pgfault - s1.pgfault, 0, "takes no fault: the copy is writable");
	is_i64(rd(f, c, A), 0x22, "the child reads its byte");
	is_i64(rd(f, f->p, A), 0x11, "the parent still reads the old one");
	is_i64(kfx_check(f, "COW after swap-in"), 0, "consistent");
	vm_sys_exit(f->k, c, 0);
	vm_sys_exit(f->k, f->p, 0);
	is_u64(f->k->swap->inuse, 0, "no slot outlives the processes");
	kfx_free(f);
}

int main(void)
{
	test_watermarks();
	test_swp_pte();
	test_fifo_swapouts();
	test_fork_swap();
	test_oom();
	test_bad_swap_setting();
	test_swap_priorities();
	test_entries_in_tables();
	test_swap_write_shared();
	test_swap_default_priorities();
	return done_testing();
}
