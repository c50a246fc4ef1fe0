/*
 * brk (src/kernel/mmap.c do_brk, do_brk_flags) with Linux's rules
 * (REFERENCE.md 3.4): grow and shrink at byte granularity, the new break
 * on success and the old one on failure, never below start_brk, the
 * next VMA (and its stack guard gap) as the limit, the heap VMA extended in
 * place and shown as [heap].
 */
#include "tap.h"
#include "kernel_fixture.h"

#define HEAP UINT64_C(0x555555559000)

static void test_grow_shrink(void)
{
	struct kfx *f = kfx_new();
	char want[256];

	is_i64(BRK(f, 0), HEAP, "brk(0) reports the break");
	is_i64(BRK(f, HEAP - 1), HEAP, "below start_brk: unchanged");
	is_str(kfx_maps_in(f, 0, 0x7f0000000000), "", "no heap VMA yet");
	is_i64(BRK(f, HEAP + 10000), HEAP + 10000, "grow by 10000 bytes: the new break");
	sprintf(want, "%08" PRIx64 "-%08" PRIx64 " rw-p 00000000 00:00 0%26s[heap]\n", HEAP,
		HEAP + 3 * PG, "");
	is_str(kfx_maps_in(f, 0, 0x7f0000000000), want, "[heap] of three pages");
	is_u64(f->p->mm->brk, HEAP + 10000, "brk keeps byte granularity");
	is_i64(BRK(f, HEAP + 12000), HEAP + 12000, "within the same page");
	is_u64(kfx_vmas(f), 2, "no new VMA");
	is_i64(BRK(f, HEAP + 5 * PG), HEAP + 5 * PG, "grow again");
	is_u64(kfx_vmas(f), 2, "the heap VMA grew in place");
	is_u64(f->p->mm->data_vm, 5, "VmData 5 pages");
	is_i64(kfx_touch(f, HEAP, 5 * PG, VM_ACC_WRITE), 0, "heap written");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 5, "5 pages resident");
	is_i64(BRK(f, HEAP + PG + 1), HEAP + PG + 1, "shrink");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 2, "the pages above the new break are gone");
	is_u64(f->p->mm->data_vm, 2, "VmData 2 pages");
	is_i64(BRK(f, HEAP), HEAP, "shrink to start_brk");
	is_u64(kfx_vmas(f), 1, "the heap VMA is gone");
	is_i64(BRK(f, HEAP + 2 * PG), HEAP + 2 * PG, "grow from nothing again");
	ok(strstr(kfx_smaps(f), "VmFlags: rd wr mr mw me ac \n") != NULL, "heap flags rd wr mr mw me ac");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_limits(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, HEAP + MB(1), PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), HEAP + MB(1),
	       "a mapping 1 MiB above the heap start");
	is_i64(BRK(f, HEAP + MB(1)), HEAP, "up to the mapping: fails, returns the old break");
	is_i64(BRK(f, HEAP + MB(1) - PG + 1), HEAP, "into the last page below it: fails (a page "
	       "must stay free)");
	is_i64(BRK(f, HEAP + MB(1) - PG), HEAP + MB(1) - PG, "up to that page: fine");
	is_i64(BRK(f, UINT64_MAX), HEAP + MB(1) - PG, "an absurd break: unchanged");
	is_i64(BRK(f, HEAP), HEAP, "shrink back");
	is_i64(MUNMAP(f, HEAP + MB(1), PG), 0, "remove the mapping");
	is_i64(MMAP(f, HEAP + MB(4), PG, RW, PRIV_ANON | VM_MAP_FIXED | VM_MAP_GROWSDOWN, -1, 0),
	       HEAP + MB(4), "a growsdown VMA 4 MiB above");
	is_i64(BRK(f, HEAP + MB(3)), HEAP, "its 1 MiB guard gap is off limits");
	is_i64(BRK(f, HEAP + MB(3) - PG), HEAP + MB(3) - PG, "below the gap and a page: fine");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_unmapped_heap(void)
{
	struct kfx *f = kfx_new();

	is_i64(BRK(f, HEAP + 4 * PG), HEAP + 4 * PG, "a four-page heap");
	is_i64(MUNMAP(f, HEAP, 4 * PG), 0, "munmap the whole heap behind brk's back");
	is_i64(BRK(f, HEAP + PG), HEAP + 4 * PG, "shrinking with no VMA there fails (old break)");
	is_i64(BRK(f, HEAP + 6 * PG), HEAP + 6 * PG, "growing makes a new VMA from the old break");
	char want[128];
	sprintf(want, "%08" PRIx64 "-%08" PRIx64 " rw-p 00000000 00:00 0%26s[heap]\n", HEAP + 4 * PG,
		HEAP + 6 * PG, "");
	is_str(kfx_maps_in(f, 0, 0x7f0000000000), want, "named [heap] (it overlaps start_brk..brk)");
	kfx_free(f);
}

static void test_aslr(void)
{
	uint64_t lo = UINT64_MAX, hi = 0, any = 0, all = UINT64_MAX;

	for (unsigned s = 1; s <= 200; s++) {
		char seed[32];
		sprintf(seed, "seed=%u", s);
		const char *const w[] = { "aslr=2", seed, NULL };
		struct kfx *f = kfx_new_with(w);
		struct vm_mm *mm = f->p->mm;
		uint64_t off = mm->start_brk - (mm->end_data + PG);
		lo = off < lo ? off : lo;
		hi = off > hi ? off : hi;
		any |= off;
		all &= off;
		kfx_free(f);
	}
	ok(hi < (UINT64_C(1) << 30), "aslr=2: the heap starts within 1 GiB above bss + a page");
	is_u64(any & 0xfff, 0, "page aligned");
	is_u64(any, 0x3ffff000, "over 200 seeds every one of the 18 page bits varies");
	ok(hi - lo > (UINT64_C(1) << 29), "spread over most of the GiB");

	const char *const w1[] = { "aslr=1", "seed=5", NULL };
	struct kfx *f = kfx_new_with(w1);
	is_u64(f->p->mm->start_brk, f->p->mm->end_data, "aslr=1: the heap right after bss");
	ok(f->p->mm->start_brk != HEAP, "but the PIE base moved it");
	kfx_free(f);
}

int main(void)
{
	test_grow_shrink();
	test_limits();
	test_unmapped_heap();
	test_aslr();
	return done_testing();
}
