/*
 * Swap for shmem objects (src/kernel/shmem_swap.c).  The expected figures
 * are Linux 6.18's rules, read in mm/vmscan.c shrink_folio_list and
 * mm/shmem.c: a shmem folio is SwapBacked, on the anonymous LRU, which is
 * not scanned without swap; reclaim unmaps it from every mapping
 * (try_to_unmap_one for a file folio: the PTEs are cleared, RssShmem
 * drops, no swap entry goes into the page tables, so MM_SWAPENTS and
 * VmSwap do not change); a dirty one is written to swap (shmem_writeout:
 * pswpout +1) and its swap entry kept in the object's index, a clean one
 * (never written: zeroes) is dropped ("the mm can drop undirtied hole
 * pages behind our back", shmem_recalc_inode).  The next fault finds the
 * entry (shmem_get_folio_gfp -> shmem_swapin_folio): a major fault when
 * the page is not in the swap cache, the page back in the page cache,
 * dirty, its slot freed.  smaps counts the object's swapped pages in the
 * range of a shared mapping as Swap (shmem_swap_usage).  Every mapping of
 * the object, in every process, sees the page that came back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "kernel_fixture.h"

#include "kernel/fork.h"
#include "kernel/proc.h"
#include "kernel/reclaim.h"
#include "kernel/swap.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"

#define A      UINT64_C(0x300000000000)
#define NPAGES 64u
#define SHARED_ANON (VM_MAP_SHARED | VM_MAP_ANONYMOUS | VM_MAP_FIXED)

static unsigned char page_byte(uint64_t i, uint64_t at)
{
	return (unsigned char)(1 + (i * 11 + at * 3) % 253);
}

static int write_page(struct kfx *f, struct vm_proc *p, vm_vaddr base, uint64_t i)
{
	unsigned char buf[PG];

	for (uint64_t b = 0; b < PG; b++)
		buf[b] = page_byte(i, b);
	return vm_user_access(f->k, p, base + i * PG, PG, VM_ACC_WRITE, buf);
}

static bool page_ok(struct kfx *f, struct vm_proc *p, vm_vaddr base, uint64_t i)
{
	unsigned char buf[PG];

	if (vm_user_access(f->k, p, base + i * PG, PG, VM_ACC_READ, buf))
		return false;
	for (uint64_t b = 0; b < PG; b++)
		if (buf[b] != page_byte(i, b))
			return false;
	return true;
}

static struct vm_file *object_at(struct vm_proc *p, vm_vaddr va)
{
	struct vm_vma *v = vm_vma_lookup(p->mm, va);
	return v ? v->vm_file : NULL;
}

static struct kfx *machine(const char *swap)
{
	const char *const w[] = { "phys=1M", swap, "policy=fifo", "thp=never", NULL };
	return kfx_new_with(w);
}

/* Written shmem pages go to swap and come back with their bytes. */
static void test_swap_out_in(void)
{
	struct kfx *f = machine("swap=64M");
	struct vm_stats s;
	unsigned bad = 0;

	MMAP(f, A, NPAGES * PG, RW, SHARED_ANON, -1, 0);
	for (uint64_t i = 0; i < NPAGES; i++)
		bad += write_page(f, f->p, A, i) != 0;
	struct vm_file *obj = object_at(f->p, A);
	is_u64(bad, 0, "64 pages of shared anonymous memory written");
	is_u64(f->k->reclaim->lru_pages, NPAGES, "with swap they are on the LRU");
	is_u64(f->p->mm->rss[VM_RSS_SHMEM], NPAGES, "RssShmem 64 pages");

	uint64_t freed = vm_shrink_lru(f->k, 16, true);
	vmlab_machine_stats(f->m, &s);
	is_u64(freed, 16, "reclaim freed 16 pages");
	is_u64(s.pswpout, 16, "pswpout 16: dirty shmem pages are written");
	is_u64(s.shmem_swpout, 16, "all of them shmem's");
	is_u64(obj->swapped_pages, 16, "the object's index holds 16 swap entries");
	is_u64(obj->cached_pages, NPAGES - 16, "and 48 pages");
	is_u64(f->k->swap->inuse, 16, "16 slots in use");
	kfx_status(f);
	is_i64(kfx_field(f, "RssShmem:"), (NPAGES - 16) * 4, "status: RssShmem drops by 64 kB");
	is_i64(kfx_field(f, "VmSwap:"), 0, "VmSwap 0: no swap entry in the page tables");
	kfx_smaps(f);
	is_i64(kfx_field(f, "Swap:"), 64, "smaps: Swap 64 kB (shmem_swap_usage)");
	is_i64(kfx_field(f, "Rss:"), (NPAGES - 16) * 4, "smaps: Rss 192 kB");
	is_i64(kfx_check(f, "shmem swapped out"), 0, "consistent (slots counted from the index)");

	/* FIFO took the pages touched first: 0..15. */
	uint64_t maj = f->p->maj_flt, min = f->p->min_flt;
	ok(page_ok(f, f->p, A, 0), "page 0 reads back its bytes");
	is_u64(f->p->maj_flt - maj, 1, "with one major fault (shmem_swapin_folio)");
	is_u64(f->p->min_flt, min, "and no minor one");
	vmlab_machine_stats(f->m, &s);
	ok(s.swap_ra > 0, "swap readahead read the neighbours (%" PRIu64 ")", s.swap_ra);
	is_u64(obj->swapped_pages, 15, "15 entries left in the index");
	ok(page_ok(f, f->p, A, 1), "page 1 reads back too");
	is_u64(f->p->maj_flt - maj, 1, "from the swap cache: no second major fault");
	vmlab_machine_stats(f->m, &s);
	ok(s.swap_ra_hit >= 1, "a swap-cache hit (%" PRIu64 ")", s.swap_ra_hit);
	bad = 0;
	for (uint64_t i = 0; i < NPAGES; i++)
		bad += !page_ok(f, f->p, A, i);
	is_u64(bad, 0, "every page reads back its bytes");
	is_u64(obj->swapped_pages, 0, "the index holds no entry");
	is_u64(f->k->swap->inuse, 0, "and every slot is free again");
	is_i64(kfx_check(f, "swapped in"), 0, "consistent");

	/* Swapped in, the pages are dirty: reclaim writes them again. */
	vm_shrink_lru(f->k, 4, true);
	vmlab_machine_stats(f->m, &s);
	is_u64(obj->swapped_pages, 4, "pages swapped in are dirty: written again");
	MUNMAP(f, A, NPAGES * PG);
	is_u64(f->k->swap->inuse, 0, "the last unmap frees the object and its slots");
	kfx_free(f);
}

/* A page only read holds zeroes and is clean: reclaim drops it. */
static void test_clean_dropped(void)
{
	struct kfx *f = machine("swap=64M");
	struct vm_stats s;
	unsigned char v = 1;

	MMAP(f, A, NPAGES * PG, RW, SHARED_ANON, -1, 0);
	vm_user_access(f->k, f->p, A, 1, VM_ACC_READ, &v);
	struct vm_file *obj = object_at(f->p, A);
	is_u64(obj->cached_pages, 1, "a read made the page");
	uint64_t freed = vm_shrink_lru(f->k, 1, true);
	vmlab_machine_stats(f->m, &s);
	is_u64(freed, 1, "reclaim freed it");
	is_u64(s.pswpout, 0, "without writing it");
	is_u64(obj->cached_pages + obj->swapped_pages, 0, "a hole again");
	uint64_t maj = f->p->maj_flt;
	v = 1;
	vm_user_access(f->k, f->p, A, 1, VM_ACC_READ, &v);
	is_u64(v, 0, "it reads zeroes");
	is_u64(f->p->maj_flt, maj, "with a minor fault");
	is_i64(kfx_check(f, "clean"), 0, "consistent");
	kfx_free(f);
}

/* Parent and child map the object after fork; a swapped page comes back
 * once, with a major fault, and the other process finds it in the cache. */
static void test_fork(void)
{
	struct kfx *f = machine("swap=64M");

	MMAP(f, A, NPAGES * PG, RW, SHARED_ANON, -1, 0);
	for (uint64_t i = 0; i < NPAGES; i++)
		write_page(f, f->p, A, i);
	long pid = vm_sys_clone(f->k, f->p, 0, "child", NULL);
	struct vm_proc *c = pid > 0 ? vm_proc_find(f->k, (int)pid) : NULL;
	ok(c != NULL, "fork");
	if (!c) {
		kfx_free(f);
		return;
	}
	ok(page_ok(f, c, A, 0), "the child maps page 0");
	uint64_t crss = c->mm->rss[VM_RSS_SHMEM], prss = f->p->mm->rss[VM_RSS_SHMEM];
	ok(crss >= 4, "(and fault-around pages 1-3: RssShmem %" PRIu64 " pages)", crss);
	vm_shrink_lru(f->k, 4, true);
	struct vm_file *obj = object_at(f->p, A);
	is_u64(obj->swapped_pages, 4, "pages 0-3 swapped out");
	is_u64(c->mm->rss[VM_RSS_SHMEM], crss - 4, "the child's RssShmem drops by 4 pages");
	is_u64(f->p->mm->rss[VM_RSS_SHMEM], prss - 4, "so does the parent's");
	is_i64(kfx_check(f, "fork"), 0, "consistent");

	uint64_t pmaj = f->p->maj_flt, pmin = f->p->min_flt, cmaj = c->maj_flt, cmin = c->min_flt;
	ok(page_ok(f, f->p, A, 0), "the parent reads page 0");
	is_u64(f->p->maj_flt - pmaj, 1, "with one major fault");
	ok(page_ok(f, c, A, 0), "the child reads the same bytes");
	is_u64(c->maj_flt - cmaj, 0, "without a major fault");
	is_u64(c->min_flt - cmin, 1, "with a minor one: the page is in the object's cache");
	is_u64(f->p->min_flt, pmin, "(the parent took no minor fault)");
	is_u64(kfx_check(f, "both"), 0, "consistent");
	unsigned char v = 0x77, r = 0;
	vm_user_access(f->k, c, A + 5, 1, VM_ACC_WRITE, &v);
	vm_user_access(f->k, f->p, A + 5, 1, VM_ACC_READ, &r);
	is_u64(r, 0x77, "a write by the child is the parent's: one page");
	vm_sys_exit(f->k, c, 0);
	vm_sys_exit(f->k, f->p, 0);
	is_u64(f->k->swap->inuse, 0, "no slot outlives the processes");
	is_i64(kfx_check(f, "exit"), 0, "consistent at the end");
	kfx_free(f);
}

/* Without swap, shmem pages are not on the LRU: nothing to reclaim. */
static void test_no_swap(void)
{
	struct kfx *f = machine("swap=0");
	struct vm_stats s;

	MMAP(f, A, NPAGES * PG, RW, SHARED_ANON, -1, 0);
	for (uint64_t i = 0; i < NPAGES; i++)
		write_page(f, f->p, A, i);
	uint64_t lru = f->k->reclaim->lru_pages;
	is_u64(lru, 0, "no page on the LRU");
	is_u64(vm_shrink_lru(f->k, 16, true), 0, "reclaim frees nothing");
	vmlab_machine_stats(f->m, &s);
	is_u64(s.pswpout, 0, "nothing written");
	is_u64(object_at(f->p, A)->cached_pages, NPAGES, "the object keeps its 64 pages");
	is_i64(kfx_check(f, "no swap"), 0, "consistent");
	kfx_free(f);
}

/* MADV_REMOVE punches a hole: the entries in it go with their slots.  The
 * checker notices a slot count that disagrees with the index. */
static void test_hole_and_check(void)
{
	struct kfx *f = machine("swap=64M");
	char msg[256];

	MMAP(f, A, NPAGES * PG, RW, SHARED_ANON, -1, 0);
	for (uint64_t i = 0; i < NPAGES; i++)
		write_page(f, f->p, A, i);
	vm_shrink_lru(f->k, 8, true);
	struct vm_file *obj = object_at(f->p, A);
	is_u64(obj->swapped_pages, 8, "8 pages in swap");
	uint64_t pos = 0, index, e;
	vm_u64map_next(&obj->swap, &pos, &index, &e);
	uint64_t off = vm_swp_pte_offset((vm_pte){ e });
	struct vm_swap_area *area = vm_swap_area_of(f->k, (vm_pte){ e });
	ok(area && area->map[off] == 1, "the index holds the slot's one reference");
	if (!area) {
		kfx_free(f);
		return;
	}
	area->map[off]++;
	ok(vm_kernel_check(f->k, msg, sizeof(msg)) != 0 && strstr(msg, "swap slot"),
	   "a slot count one too high is caught: %s", msg);
	area->map[off]--;
	obj->swapped_pages++;
	ok(vm_kernel_check(f->k, msg, sizeof(msg)) != 0, "so is a wrong swapped count: %s", msg);
	obj->swapped_pages--;
	is_i64(kfx_check(f, "restored"), 0, "consistent again");

	is_i64(MADVISE(f, A, 4 * PG, VM_MADV_REMOVE), 0, "MADV_REMOVE pages 0-3");
	is_u64(obj->swapped_pages, 4, "their entries are gone");
	is_u64(f->k->swap->inuse, 4, "with their slots");
	unsigned char r = 1;
	vm_user_access(f->k, f->p, A + 2 * PG, 1, VM_ACC_READ, &r);
	is_u64(r, 0, "the hole reads zeroes");
	is_i64(kfx_check(f, "hole"), 0, "consistent");
	kfx_free(f);
}

/* MADV_WILLNEED reads a shmem range's swapped pages into the swap cache
 * (shmem_swapin_range: read_swap_cache_async, no fault, no readahead);
 * the faults that follow are minor. */
static void test_willneed(void)
{
	struct kfx *f = machine("swap=64M");
	struct vm_stats s0, s;

	MMAP(f, A, NPAGES * PG, RW, SHARED_ANON, -1, 0);
	for (uint64_t i = 0; i < NPAGES; i++)
		write_page(f, f->p, A, i);
	vm_shrink_lru(f->k, 16, true);
	vmlab_machine_stats(f->m, &s0);
	uint64_t maj = f->p->maj_flt, min = f->p->min_flt;
	is_i64(MADVISE(f, A + 2 * PG, 4 * PG, VM_MADV_WILLNEED), 0, "MADV_WILLNEED pages 2-5");
	vmlab_machine_stats(f->m, &s);
	is_u64(s.pswpin - s0.pswpin, 4, "pswpin 4: those pages only, no readahead");
	is_u64(f->p->maj_flt + f->p->min_flt, maj + min, "no fault");
	is_u64(object_at(f->p, A)->swapped_pages, 16, "still swapped: in the swap cache only");
	is_i64(kfx_check(f, "willneed"), 0, "consistent");
	for (uint64_t i = 2; i < 6; i++)
		ok(page_ok(f, f->p, A, i), "page %" PRIu64 " reads back", i);
	is_u64(f->p->maj_flt, maj, "without a major fault");
	vmlab_machine_stats(f->m, &s);
	is_u64(s.swap_ra_hit - s0.swap_ra_hit, 4, "4 swap-cache hits");
	is_i64(kfx_check(f, "after"), 0, "consistent");
	kfx_free(f);
}

/* Two areas, the first of higher priority and small: shmem pages take its
 * slots first, then the other's (get_swap_pages); the entries name their
 * area and the pages come back from both. */
static void test_two_areas(void)
{
	struct kfx *f = machine("swap=32K:5,64M");
	unsigned bad = 0, type1 = 0;

	MMAP(f, A, NPAGES * PG, RW, SHARED_ANON, -1, 0);
	for (uint64_t i = 0; i < NPAGES; i++)
		write_page(f, f->p, A, i);
	vm_shrink_lru(f->k, 16, true);
	struct vm_file *obj = object_at(f->p, A);
	uint64_t pos = 0, index, e;
	while (vm_u64map_next(&obj->swap, &pos, &index, &e))
		type1 += vm_swp_pte_type((vm_pte){ e }) == 1;
	is_u64(obj->swapped_pages, 16, "16 pages swapped");
	is_u64(type1, 16 - 7, "7 in the first area (8 pages, a header), 9 in the second");
	is_i64(kfx_check(f, "two areas"), 0, "consistent");
	for (uint64_t i = 0; i < NPAGES; i++)
		bad += !page_ok(f, f->p, A, i);
	is_u64(bad, 0, "every page reads back");
	is_u64(f->k->swap->inuse, 0, "no slot in use");
	kfx_free(f);
}

/* The value of field key in the smaps entry of the VMA starting at va. */
static long vma_field(struct kfx *f, vm_vaddr va, const char *key)
{
	char head[32];

	snprintf(head, sizeof(head), "%08" PRIx64 "-", va);
	kfx_smaps(f);
	const char *v = strstr(f->text, head), *k = v ? strstr(v, key) : NULL;
	return k ? strtol(k + strlen(key), NULL, 10) : -1;
}

/* A tmpfs file's swapped pages: smaps counts them in every mapping of the
 * file's range but where a private writable mapping has a copy of its own
 * (smaps_pte_hole_lookup); a private mapping's read swaps one in through
 * the page cache (do_read_fault -> shmem_fault). */
static void test_tmpfs(void)
{
	struct kfx *f = machine("swap=64M");
	struct vm_file *tf;
	const vm_vaddr b = A + MB(1);
	unsigned char v = 9;

	is_i64(vm_tmpfs_create(f->k, "/dev/shm/t", NPAGES * PG, &tf), 0, "a tmpfs file");
	long fd = vm_sys_openat(f->k, f->p, "/dev/shm/t", VM_O_RDWR);
	ok(fd >= 0, "opened read-write");
	MMAP(f, A, NPAGES * PG, RW, VM_MAP_SHARED | VM_MAP_FIXED, (int)fd, 0);
	for (uint64_t i = 0; i < 8; i++)
		write_page(f, f->p, A, i);
	MUNMAP(f, A, NPAGES * PG);
	MMAP(f, b, NPAGES * PG, RW, VM_MAP_PRIVATE | VM_MAP_FIXED, (int)fd, 0);
	vm_user_access(f->k, f->p, b + 5 * PG, 1, VM_ACC_WRITE, &v);
	is_u64(f->p->mm->rss[VM_RSS_ANON], 1, "a private writable mapping copied page 5");
	vm_shrink_lru(f->k, 8, true);
	is_u64(tf->swapped_pages, 8, "the file's 8 pages are in swap");
	is_i64(vma_field(f, b, "Swap:"), 28, "smaps of the private writable mapping: Swap 28 kB "
	       "(not page 5, its own copy)");
	MMAP(f, A, NPAGES * PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, (int)fd, 0);
	is_i64(vma_field(f, A, "Swap:"), 32, "of a read-only one: Swap 32 kB");
	uint64_t maj = f->p->maj_flt;
	ok(page_ok(f, f->p, A, 3), "a private mapping reads page 3's bytes");
	is_u64(f->p->maj_flt - maj, 1, "swapped in: a major fault");
	is_u64(tf->swapped_pages, 7, "into the file's page cache");
	is_i64(vma_field(f, A, "Swap:"), 28, "Swap 28 kB now");
	is_i64(kfx_check(f, "tmpfs"), 0, "consistent");
	kfx_free(f);
}

int main(void)
{
	test_swap_out_in();
	test_clean_dropped();
	test_fork();
	test_no_swap();
	test_hole_and_check();
	test_willneed();
	test_two_areas();
	test_tmpfs();
	return done_testing();
}
