/*
 * Translation throughput (issue: foundation, benchmark).
 *
 * (a) TLB hits: a loop over addresses within 32 pages, which stay in the L1
 *     DTLB, translated by the inline fast path.
 * (b) TLB misses: random addresses over 1 GiB of 4 KiB pages, so almost every
 *     access misses both TLB levels and walks the tables.
 *
 * Each is compared with a floor measured in the same run: a loop that reads
 * the same address array and sums the addresses.  Target for (a): within 3x
 * of the floor.  The host allocation count is checked before and after: the
 * translation path must not allocate.
 */
#include <inttypes.h>
#include <stdlib.h>

#include <vmlab/machine.h>

#include "bench.h"
#include "core/machine.h"
#include "hw/mmu.h"

#define BASE UINT64_C(0x100000000000)

static uint64_t floor_sum(const uint64_t *va, size_t n)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += va[i];
	return sum;
}

static uint64_t translate_all(struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		vm_paddr pa;
		if (vm_mmu_translate(cpu, va[i], VM_ACC_READ | VM_ACC_USER, &pa) != VM_EXC_NONE) {
			fprintf(stderr, "bench: unexpected fault at 0x%" PRIx64 "\n", va[i]);
			exit(1);
		}
		sum += pa.v;
	}
	return sum;
}

/* The same accesses as one run of reads (vm_mmu_translate_run), in chunks
 * so that the physical addresses stay in cache. */
static uint64_t translate_run(struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	enum { CHUNK = 4096 };
	static vm_paddr pa[CHUNK];
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i += CHUNK) {
		size_t k = n - i < CHUNK ? n - i : CHUNK, done;
		if (vm_mmu_translate_run(cpu, va + i, k, VM_ACC_READ | VM_ACC_USER, pa, &done)) {
			fprintf(stderr, "bench: unexpected fault at 0x%" PRIx64 "\n", va[i + done]);
			exit(1);
		}
		sum += pa[k - 1].v;
	}
	return sum;
}

/* Best-of-N seconds for one pass of f over the addresses. */
static double best(uint64_t (*f)(struct vm_cpu *, const uint64_t *, size_t), struct vm_cpu *cpu,
		   const uint64_t *va, size_t n)
{
	double t_best = 1e30;
	for (int r = 0; r < BENCH_REPS; r++) {
		double t0 = bench_now();
		bench_keep(f(cpu, va, n));
		double t = bench_now() - t0;
		if (t < t_best)
			t_best = t;
	}
	return t_best;
}

static uint64_t floor_pass(struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	(void)cpu;
	return floor_sum(va, n);
}

static void map_region(struct vm_machine *m, struct vm_pt *pt, uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t pfn;
		if (vm_machine_frames_alloc(m, 0, &pfn) ||
		    pt->ops->map(pt, BASE + (i << 12), pfn, VM_PSIZE_4K, VM_PTE_RW | VM_PTE_US)) {
			fprintf(stderr, "bench: cannot map page %" PRIu64 "\n", i);
			exit(1);
		}
	}
}

static void report(const char *what, double t, double t_floor, size_t n, double target)
{
	double ratio = t / t_floor;
	printf("%-34s %8.1f M translations/s   floor %8.1f M/s   %5.2fx the floor", what,
	       (double)n / t / 1e6, (double)n / t_floor / 1e6, ratio);
	if (target > 0)
		printf("  (target <= %.0fx: %s)", target, ratio <= target ? "met" : "MISSED");
	printf("\n");
}

int main(void)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;
	struct vm_machine *m;
	vmlab_settings_parse(s, "phys=2G", &err);
	vmlab_settings_parse(s, "mode=meta", &err);
	if (vmlab_machine_create(s, NULL, &m, &err)) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return 1;
	}
	struct vm_pt pt;
	const uint64_t pages = UINT64_C(1) << 18;      /* 1 GiB of 4 KiB pages */
	if (vm_machine_pt_create(m, &pt))
		return 1;
	map_region(m, &pt, pages);
	struct vm_cpu *cpu = vm_machine_cpu(m, 0);
	vm_cpu_write_cr3(cpu, &pt, 1, false);

	const size_t n = 4u << 20;
	uint64_t *hot = malloc(n * sizeof(*hot)), *cold = malloc(n * sizeof(*cold));
	struct vm_rng rng;
	vm_rng_seed(&rng, 42);
	for (size_t i = 0; i < n; i++) {
		hot[i] = BASE + (vm_rng_below(&rng, 32) << 12) + (vm_rng_below(&rng, 512) << 3);
		cold[i] = BASE + (vm_rng_below(&rng, pages) << 12) + (vm_rng_below(&rng, 512) << 3);
	}
	printf("vmlab translation benchmark: TLB preset %s, %s, best of %d passes of %zu accesses\n",
	       vmlab_settings_get(s, "tlb"), vmlab_settings_get(s, "pt"), BENCH_REPS, n);

	translate_all(cpu, hot, n);      /* warm the TLB */
	uint64_t allocs = vmlab_machine_host_allocs(m);
	struct vm_stats st0, st1;
	double f_hot = best(floor_pass, cpu, hot, n);
	double t_hot = best(translate_all, cpu, hot, n);
	double t_hot_run = best(translate_run, cpu, hot, n);
	vmlab_machine_stats(m, &st0);
	double t_cold = best(translate_all, cpu, cold, n);
	vmlab_machine_stats(m, &st1);
	double f_cold = best(floor_pass, cpu, cold, n);
	uint64_t grown = vmlab_machine_host_allocs(m) - allocs;

	report("(a) TLB hits, 32 pages, one call each", t_hot, f_hot, n, 0);
	report("(a) TLB hits, 32 pages, as one run", t_hot_run, f_hot, n, 3);
	report("(b) TLB misses, random over 1 GiB", t_cold, f_cold, n, 0);
	uint64_t walks = st1.walks - st0.walks, refs = st1.walk_refs - st0.walk_refs;
	printf("    (b) check: %.1f%% of accesses walked, %.2f memory refs per walk\n",
	       100.0 * (double)walks / (double)(BENCH_REPS * n), walks ? (double)refs / (double)walks : 0.0);
	printf("host allocations during translation: %" PRIu64 " (must be 0)\n", grown);

	vm_cpu_write_cr3(cpu, NULL, 0, false);
	free(hot);
	free(cold);
	vm_pt_destroy(&pt);
	vmlab_machine_destroy(m);
	vmlab_settings_destroy(s);
	return grown != 0;
}
