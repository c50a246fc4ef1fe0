/*
 * Translation throughput (issue: foundation, benchmark).
 *
 * (a) TLB hits: a loop over addresses within 32 pages, which stay in the L1
 *     DTLB, translated by the inline fast path one call at a time, and as
 *     runs (vm_mmu_translate_run) with and without the physical addresses.
 * (b) TLB misses: random addresses over 1 GiB of 4 KiB pages, so almost every
 *     access misses both TLB levels and walks the tables.
 *
 * Each is compared with a floor measured in the same run: a loop that reads
 * the same address array and sums the addresses.  The passes of a figure and
 * of its floor alternate, and each takes its best of REPS, so that a change
 * in the load of the (shared) machine moves both.  Target for (a): within 3x
 * of the floor.  The host allocation count is checked before and after: the
 * translation path must not allocate.
 *
 * For (a) a lower bound is printed too: the same loop doing only the part of
 * a hit that no hashed lookup can skip (hash the page number, load the entry
 * the index names, add its delta), without the key and rights checks, the LRU
 * stamp and the counters.  It shows how much of the distance to the floor
 * the lookup alone costs (docs/benchmarks.md).
 */
#include <inttypes.h>
#include <stdlib.h>

#include <vmlab/machine.h>

#include "bench.h"
#include "core/machine.h"
#include "hw/mmu.h"

#define BASE UINT64_C(0x100000000000)

/* Passes per figure; more than BENCH_REPS because the figures here are
 * ratios of two best times, and a shared 2-vCPU machine needs more tries to
 * give both a quiet moment. */
#define REPS 31

/* Accesses per pass: 2 MiB of addresses, which the host's caches hold, so
 * that the floor runs at its compute bound (one address per cycle) rather
 * than at the speed of memory, which another tenant's load would move: the
 * strictest floor, and a steadier one. */
#define ACCESSES (UINT64_C(1) << 18)

/* Accesses per vm_mmu_translate_run call: 4 KiB of physical addresses, which
 * stay in the L1 data cache while the address array streams through it. */
#define CHUNK 512

/* The floor (issue 2, section 6).  GCC 12 at -O2 compiles it to one
 * `add (%rsi),%rax` per address, a loop-carried add: one address per cycle,
 * not vectorised. */
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

/* The same accesses as runs of reads (vm_mmu_translate_run) of CHUNK; pa NULL
 * asks for the side effects only (counters, replacement state), as the
 * pattern generator does. */
static uint64_t run_chunks(struct vm_cpu *cpu, const uint64_t *va, size_t n, vm_paddr *pa)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i += CHUNK) {
		size_t k = n - i < CHUNK ? n - i : CHUNK, done;
		if (vm_mmu_translate_run(cpu, va + i, k, VM_ACC_READ | VM_ACC_USER, pa, &done)) {
			fprintf(stderr, "bench: unexpected fault at 0x%" PRIx64 "\n", va[i + done]);
			exit(1);
		}
		sum += pa ? pa[k - 1].v : done;
	}
	return sum;
}

static uint64_t translate_run(struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	static vm_paddr pa[CHUNK];
	return run_chunks(cpu, va, n, pa);
}

static uint64_t translate_run_nopa(struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	return run_chunks(cpu, va, n, NULL);
}

/* The lower bound described at the top: what every hit must do whatever
 * else it checks.  Reads the TLB only. */
static uint64_t lookup_only(struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	const struct vm_tlb_array *a = cpu->fast[VM_ACC_READ];
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += va[i] + vm_tlb_fast_entry(a, va[i] >> 12)->delta;
	return sum;
}

static uint64_t floor_pass(struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	(void)cpu;
	return floor_sum(va, n);
}

typedef uint64_t pass_fn(struct vm_cpu *cpu, const uint64_t *va, size_t n);

struct figure {
	double t, t_floor;     /* best seconds per pass of the figure and of its floor */
};

static double seconds(pass_fn *f, struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	double t0 = bench_now();
	bench_keep(f(cpu, va, n));
	return bench_now() - t0;
}

/* Best of REPS passes of f and of the floor, alternating. */
static struct figure measure(pass_fn *f, struct vm_cpu *cpu, const uint64_t *va, size_t n)
{
	struct figure fig = { 1e30, 1e30 };
	for (int r = 0; r < REPS; r++) {
		double t = seconds(floor_pass, cpu, va, n);
		if (t < fig.t_floor)
			fig.t_floor = t;
		t = seconds(f, cpu, va, n);
		if (t < fig.t)
			fig.t = t;
	}
	return fig;
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

static void report(const char *what, struct figure fig, size_t n, double target)
{
	double ratio = fig.t / fig.t_floor;
	printf("%-44s %7.1f M/s   floor %7.1f M/s   %5.2fx the floor", what, (double)n / fig.t / 1e6,
	       (double)n / fig.t_floor / 1e6, ratio);
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

	const size_t n = ACCESSES;
	uint64_t *hot = malloc(n * sizeof(*hot)), *cold = malloc(n * sizeof(*cold));
	struct vm_rng rng;
	vm_rng_seed(&rng, 42);
	for (size_t i = 0; i < n; i++) {
		hot[i] = BASE + (vm_rng_below(&rng, 32) << 12) + (vm_rng_below(&rng, 512) << 3);
		cold[i] = BASE + (vm_rng_below(&rng, pages) << 12) + (vm_rng_below(&rng, 512) << 3);
	}
	printf("vmlab translation benchmark: TLB preset %s, %s, best of %d passes of %zu accesses\n",
	       vmlab_settings_get(s, "tlb"), vmlab_settings_get(s, "pt"), REPS, n);

	translate_all(cpu, hot, n);      /* warm the TLB */
	uint64_t allocs = vmlab_machine_host_allocs(m);
	struct vm_stats st0, st1;
	struct figure hot_call = measure(translate_all, cpu, hot, n);
	struct figure hot_run = measure(translate_run, cpu, hot, n);
	struct figure hot_nopa = measure(translate_run_nopa, cpu, hot, n);
	struct figure hot_bound = measure(lookup_only, cpu, hot, n);
	vmlab_machine_stats(m, &st0);
	struct figure cold_call = measure(translate_all, cpu, cold, n);
	vmlab_machine_stats(m, &st1);
	uint64_t grown = vmlab_machine_host_allocs(m) - allocs;

	report("(a) TLB hits, 32 pages, one call each", hot_call, n, 0);
	report("(a) TLB hits, 32 pages, as one run", hot_run, n, 3);
	report("(a) ... as one run, no physical addresses", hot_nopa, n, 0);
	report("(a) lower bound: hash, entry load, add only", hot_bound, n, 0);
	report("(b) TLB misses, random over 1 GiB", cold_call, n, 0);
	uint64_t walks = st1.walks - st0.walks, refs = st1.walk_refs - st0.walk_refs;
	printf("    (b) check: %.1f%% of accesses walked, %.2f memory refs per walk\n",
	       100.0 * (double)walks / (double)(REPS * n), walks ? (double)refs / (double)walks : 0.0);
	printf("host allocations during translation: %" PRIu64 " (must be 0)\n", grown);

	vm_cpu_write_cr3(cpu, NULL, 0, false);
	free(hot);
	free(cold);
	vm_pt_destroy(&pt);
	vmlab_machine_destroy(m);
	vmlab_settings_destroy(s);
	return grown != 0;
}
