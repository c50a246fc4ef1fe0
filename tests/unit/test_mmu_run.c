/*
 * vm_mmu_translate_run against vm_mmu_translate: two identical machines fed
 * the same random stream, one access at a time and as runs of one kind;
 * every result, every stop on an exception and every counter must agree.
 */
#include <errno.h>

#include "mmu_fixture.h"

#define BASE UINT64_C(0x7f0000000000)
#define PAGES 256

/* Map PAGES pages at BASE: most user read/write, some read-only, some
 * supervisor, some absent, so that runs meet faults of every kind. */
static struct mfx *setup(const char *tlb)
{
	char word[32];
	snprintf(word, sizeof(word), "tlb=%s", tlb);
	struct mfx *f = MFX_NEW(word, "mode=meta", "phys=64M");
	if (!f)
		return NULL;
	for (unsigned i = 0; i < PAGES; i++) {
		uint64_t prot = VM_PTE_US | VM_PTE_RW;
		if (i % 17 == 5)
			continue;                 /* not present */
		if (i % 13 == 3)
			prot &= ~VM_PTE_RW;       /* read only */
		if (i % 29 == 7)
			prot &= ~VM_PTE_US;       /* supervisor */
		if (mfx_map(&f->pt, BASE + ((uint64_t)i << 12), 1000 + i, VM_PSIZE_4K, prot)) {
			mfx_free(f);
			return NULL;
		}
	}
	return f;
}

static void compare(const char *tlb, uint64_t seed)
{
	struct mfx *one = setup(tlb), *run = setup(tlb);
	if (!ok(one && run, "%s: two machines", tlb)) {
		mfx_free(one);
		mfx_free(run);
		return;
	}
	struct vm_rng rng;
	vm_rng_seed(&rng, seed);
	enum { N = 64 };
	vm_vaddr va[N];
	vm_paddr pa[N];
	unsigned mismatches = 0, faults = 0, runs = 0;
	for (int round = 0; round < 3000; round++) {
		size_t n = 1 + (size_t)vm_rng_below(&rng, N);
		unsigned acc = (unsigned)vm_rng_below(&rng, 3) | (vm_rng_below(&rng, 4) ? VM_ACC_USER : 0);
		for (size_t i = 0; i < n; i++) {
			/* mostly a hot set of 40 pages, sometimes anywhere */
			uint64_t page = vm_rng_below(&rng, 8) ? vm_rng_below(&rng, 40) : vm_rng_below(&rng, PAGES);
			va[i] = BASE + (page << 12) + vm_rng_below(&rng, 4096);
		}
		size_t done = 0;
		int rc = vm_mmu_translate_run(run->cpu, va, n, acc, pa, &done);
		size_t i;
		int rc1 = VM_EXC_NONE;
		for (i = 0; i < n; i++) {
			vm_paddr p1;
			rc1 = vm_mmu_translate(one->cpu, va[i], acc, &p1);
			if (rc1 != VM_EXC_NONE)
				break;
			if (i < done && p1.v != pa[i].v)
				mismatches++;
		}
		runs++;
		if (rc != rc1 || done != i || (rc1 == VM_EXC_PF && (run->cpu->cr2 != one->cpu->cr2 ||
								   run->cpu->pf_error != one->cpu->pf_error)))
			mismatches++;
		faults += rc1 != VM_EXC_NONE;
	}
	is_u64(mismatches, 0, "%s: %u runs: same addresses, same stop, same #PF", tlb, runs);
	ok(faults > 100, "%s: the runs met %u faults", tlb, faults);
	struct vm_stats a = mfx_stats(one->m), b = mfx_stats(run->m);
	unsigned differ = 0;
	for (unsigned c = 0; vmlab_counter_name(c); c++) {
		if (vmlab_counter_get(&a, c) != vmlab_counter_get(&b, c)) {
			diag("%s differs: %" PRIu64 " one at a time, %" PRIu64 " as runs", vmlab_counter_name(c),
			     vmlab_counter_get(&a, c), vmlab_counter_get(&b, c));
			differ++;
		}
	}
	is_u64(differ, 0, "%s: every counter agrees", tlb);
	ok(a.acc_read && a.acc_write && a.acc_exec && a.tlb_l1d_miss && a.walks,
	   "%s: the stream exercised reads, writes, fetches, misses and walks", tlb);
	mfx_free(one);
	mfx_free(run);
}

int main(void)
{
	uint64_t seed = tap_seed(20261124);
	compare("zen4", seed);
	compare("skylake", seed);
	compare("tiny", seed);
	compare("none", seed);

	struct mfx *f = setup("zen4");
	size_t done = 99;
	vm_paddr pa;
	vm_vaddr va = BASE;
	is_i64(vm_mmu_translate_run(f->cpu, &va, 1, 3, &pa, &done), -EINVAL, "a kind of 3 is refused");
	is_u64(done, 0, "and nothing is translated");
	is_i64(vm_mmu_translate_run(f->cpu, &va, 0, VM_ACC_READ, &pa, &done), VM_EXC_NONE, "an empty run");
	vm_vaddr bad = UINT64_C(0x0000800000000000);
	is_i64(vm_mmu_translate_run(f->cpu, &bad, 1, VM_ACC_READ, NULL, &done), VM_EXC_GP,
	       "a non-canonical address stops the run with #GP");
	mfx_free(f);
	return done_testing();
}
