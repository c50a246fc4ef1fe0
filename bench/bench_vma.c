/*
 * VMA-tree scaling (issue 3, benchmark).
 *
 * An address space of n VMAs (n = 1,000, 10,000, 100,000: one-page
 * mappings two pages apart, alternating rights so that none merge) and, on
 * it, the operations whose cost the tree must keep at O(log n):
 *
 *   find       vm_find_vma at a random address of the populated range
 *   mmap+munmap  vm_sys_mmap(MAP_FIXED_NOREPLACE) of a page into a random
 *              hole (rights that merge with neither neighbour: a VMA is
 *              linked) and vm_sys_munmap of it (unlinked): the full
 *              system-call path with its checks, split/merge attempts and
 *              gap updates
 *   mmap(NULL)+munmap  the same through the top-down free-area search
 *
 * each twice: over the whole address space (random: at 100,000 VMAs every
 * level of the tree below the top few is a cache miss, so this measures
 * the memory hierarchy as much as the algorithm) and within a hot window
 * of 512 neighbouring VMAs (the path from the root and the window stay in
 * cache, so the time follows the number of levels: log n).
 *
 * The floor, measured in the same run on the same addresses: a binary
 * search over a sorted array of the VMA starts (the best any ordered
 * structure can do, and it pays the same cache misses).  Reported: ns per
 * operation for each n, and the ratio of the 100,000 figure to the 1,000
 * one (log2 ratio 1.67; target <= 2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>

#include "bench.h"
#include "base/rng.h"
#include "core/machine.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/syscalls.h"

#define BASE   UINT64_C(0x100000000)
#define PG     UINT64_C(4096)
#define OPS    200000u
#define NSIZES 3
#define WINDOW 512u           /* VMAs in the hot window */
#define ROUNDS 15            /* rounds over all sizes; the best of each kept */

static const unsigned sizes[NSIZES] = { 1000, 10000, 100000 };

struct bench {
	struct vm_machine *m;
	struct vm_kernel *k;
	struct vm_proc *p;
	uint64_t *starts;          /* sorted VMA starts (the floor's array) */
	unsigned n;
	uint64_t *addr;            /* OPS random addresses in the range */
	unsigned *slot;            /* OPS random VMA indexes */
	uint64_t *haddr;           /* the same within the hot window */
	unsigned *hslot;
};

static int setup(struct bench *b, unsigned n, struct vm_rng *rng)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;
	const char *words[] = { "phys=64M", "mode=meta", "max_map_count=1000000", "aslr=0" };

	for (unsigned i = 0; i < 4; i++)
		vmlab_settings_parse(s, words[i], &err);
	int rc = vmlab_machine_create(s, NULL, &b->m, &err);
	vmlab_settings_destroy(s);
	if (rc || vm_proc_create(b->k = vm_machine_kernel(b->m), "bench", &b->p)) {
		fprintf(stderr, "bench: cannot build a machine: %s\n", err.msg);
		return -1;
	}
	b->n = n;
	b->starts = calloc(n, sizeof(*b->starts));
	b->addr = calloc(OPS, sizeof(*b->addr));
	b->slot = calloc(OPS, sizeof(*b->slot));
	b->haddr = calloc(OPS, sizeof(*b->haddr));
	b->hslot = calloc(OPS, sizeof(*b->hslot));
	if (!b->starts || !b->addr || !b->slot || !b->haddr || !b->hslot)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		b->starts[i] = BASE + (uint64_t)i * 2 * PG;
		long r = vm_sys_mmap(b->k, b->p, b->starts[i], PG, i & 1 ? VM_PROT_READ : 3,
				     VM_MAP_PRIVATE | VM_MAP_ANONYMOUS | VM_MAP_FIXED_NOREPLACE, -1, 0);
		if (r != (long)b->starts[i]) {
			fprintf(stderr, "bench: mmap %u: %ld\n", i, r);
			return -1;
		}
	}
	unsigned w0 = (unsigned)vm_rng_below(rng, n - WINDOW);
	for (unsigned i = 0; i < OPS; i++) {
		b->addr[i] = BASE + vm_rng_below(rng, (uint64_t)n * 2 * PG);
		b->slot[i] = (unsigned)vm_rng_below(rng, n - 1);
		b->hslot[i] = w0 + (unsigned)vm_rng_below(rng, WINDOW - 1);
		b->haddr[i] = b->starts[b->hslot[i]] + vm_rng_below(rng, 2 * PG);
	}
	return 0;
}

static void teardown(struct bench *b)
{
	vmlab_machine_destroy(b->m);
	free(b->starts);
	free(b->addr);
	free(b->slot);
	free(b->haddr);
	free(b->hslot);
}

/* The floor: first start > a, minus one (the VMA at or below a). */
static uint64_t floor_search(const struct bench *b, uint64_t a)
{
	unsigned lo = 0, hi = b->n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (b->starts[mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? b->starts[lo - 1] : 0;
}

/* Best of BENCH_REPS; ns per operation. */
static double time_floor(const struct bench *b, const uint64_t *addr)
{
	uint64_t acc = 0;
	double t0 = bench_now();
	for (unsigned i = 0; i < OPS; i++)
		acc += floor_search(b, addr[i]);
	bench_keep(acc);
	return (bench_now() - t0) * 1e9 / OPS;
}

static double time_find(const struct bench *b, const uint64_t *addr)
{
	uint64_t acc = 0;
	double t0 = bench_now();
	for (unsigned i = 0; i < OPS; i++) {
		const struct vm_vma *v = vm_find_vma(b->p->mm, addr[i]);
		acc += v ? v->vm_start : 0;
	}
	bench_keep(acc);
	return (bench_now() - t0) * 1e9 / OPS;
}

/* mmap + munmap pairs: into the hole after VMA slot[i], or (slot NULL)
 * wherever the top-down search puts it. */
static double time_map_unmap(struct bench *b, const unsigned *slot)
{
	bool fixed = slot != NULL;
	unsigned ops = OPS / 4;
	double t0 = bench_now();
	for (unsigned i = 0; i < ops; i++) {
		uint64_t hole = fixed ? b->starts[slot[i]] + PG : 0;
		long a = vm_sys_mmap(b->k, b->p, hole, PG, VM_PROT_READ | VM_PROT_EXEC,
				     VM_MAP_PRIVATE | VM_MAP_ANONYMOUS | (fixed ? VM_MAP_FIXED_NOREPLACE : 0),
				     -1, 0);
		if (a < 0 || vm_sys_munmap(b->k, b->p, (uint64_t)a, PG)) {
			fprintf(stderr, "bench: mmap/munmap failed: %ld\n", a);
			exit(1);
		}
	}
	return (bench_now() - t0) * 1e9 / ops;
}

int main(void)
{
	enum { FLOOR, FLOOR_HOT, FIND, FIND_HOT, MAP, MAP_HOT, MAP_NULL, NCOLS };
	static const char *const name[NCOLS] = {
		"floor", "floor(hot)", "find", "find(hot)", "mmap+munmap", "(hot)", "mmap(NULL)+munmap",
	};
	double t[NSIZES][NCOLS];
	struct vm_rng rng;

	struct bench b[NSIZES] = { { 0 } };

	vm_rng_seed(&rng, 1);
	for (unsigned s = 0; s < NSIZES; s++) {
		if (setup(&b[s], sizes[s], &rng)) {
			teardown(&b[s]);
			return 1;
		}
		for (unsigned c = 0; c < NCOLS; c++)
			t[s][c] = 1e12;
	}
	/* Rounds over every size and operation, the best of each kept: a
	 * burst of load from other processes hits one round, not one size. */
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (unsigned s = 0; s < NSIZES; s++) {
			double v[NCOLS] = {
				time_floor(&b[s], b[s].addr), time_floor(&b[s], b[s].haddr),
				time_find(&b[s], b[s].addr), time_find(&b[s], b[s].haddr),
				time_map_unmap(&b[s], b[s].slot), time_map_unmap(&b[s], b[s].hslot),
				time_map_unmap(&b[s], NULL),
			};
			for (unsigned c = 0; c < NCOLS; c++)
				t[s][c] = v[c] < t[s][c] ? v[c] : t[s][c];
		}
	}
	printf("VMA tree: ns per operation (best of %d rounds of %u finds / %u mmap+munmap pairs;\n"
	       "hot: within a window of %u neighbouring VMAs)\n", ROUNDS, OPS, OPS / 4, WINDOW);
	printf("%8s", "VMAs");
	for (unsigned c = 0; c < NCOLS; c++)
		printf(" %*s", c == MAP_NULL ? 18 : 12, name[c]);
	printf("\n");
	for (unsigned s = 0; s < NSIZES; s++) {
		if (b[s].p->mm->map_count != sizes[s] + 1) {
			fprintf(stderr, "bench: %" PRIu64 " VMAs left, want %u\n", b[s].p->mm->map_count,
				sizes[s] + 1);
			return 1;
		}
		printf("%8u", sizes[s]);
		for (unsigned c = 0; c < NCOLS; c++)
			printf(" %*.1f", c == MAP_NULL ? 18 : 12, t[s][c]);
		printf("\n");
		teardown(&b[s]);
	}
	printf("%8s", "100k/1k");
	for (unsigned c = 0; c < NCOLS; c++)
		printf(" %*.2fx", c == MAP_NULL ? 17 : 11, t[2][c] / t[0][c]);
	printf("\n(log2 100000 / log2 1000 = 1.67; target <= 2x)\n");
	printf("find / floor at 100k: %.2fx random, %.2fx hot\n", t[2][FIND] / t[2][FLOOR],
	       t[2][FIND_HOT] / t[2][FLOOR_HOT]);
	return 0;
}
