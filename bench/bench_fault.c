/*
 * Demand-fault throughput (issue 3, benchmark).
 *
 * (a) Anonymous write faults: one user write to each page of a fresh
 *     256 MiB private anonymous region (65536 pages, thp=never), each a
 *     #PF -> do_user_addr_fault -> do_anonymous_page -> retry, through
 *     vm_user_access as a replayed trace would make them.  Between passes
 *     the region is zapped (not timed).
 * (b) The floor, measured in the same run: translations of an
 *     already-mapped page, which hit the L1 DTLB (the inline fast path).
 *
 * Reported: faults/s, translations/s, and how many TLB hits one fault
 * costs.  Meta mode (frames hold no bytes) measures the model's own cost;
 * data mode adds clearing each 4 KiB frame, as Linux does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>

#include "bench.h"
#include "core/machine.h"
#include "hw/mmu.h"
#include "kernel/fault.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/syscalls.h"

#define BASE  UINT64_C(0x100000000000)
#define PAGES (UINT64_C(1) << 16)          /* 256 MiB */
#define HITS  (UINT64_C(1) << 24)

struct bench {
	struct vm_machine *m;
	struct vm_kernel *k;
	struct vm_proc *p;
};

static void map_region(struct bench *b)
{
	long r = vm_sys_mmap(b->k, b->p, BASE, PAGES << 12, VM_PROT_READ | VM_PROT_WRITE,
			     VM_MAP_PRIVATE | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0);
	if (r != (long)BASE) {
		fprintf(stderr, "bench: mmap: %ld\n", r);
		exit(1);
	}
}

static int setup(struct bench *b, const char *mode)
{
	const char *words[] = { "phys=1G", "thp=never", mode };
	int rc = bench_machine(words, 3, &b->m);
	if (rc)
		return rc;
	b->k = vm_machine_kernel(b->m);
	rc = vm_proc_create(b->k, "bench", &b->p);
	if (rc)
		return rc;
	map_region(b);
	return 0;
}

/* One pass of write faults over the region; seconds. */
static double fault_pass(struct bench *b, uint64_t *allocs)
{
	uint64_t a0 = vmlab_machine_host_allocs(b->m);
	double t0 = bench_now();
	for (uint64_t i = 0; i < PAGES; i++) {
		uint64_t v = i;
		if (vm_user_access(b->k, b->p, BASE + (i << 12), 8, VM_ACC_WRITE, &v)) {
			fprintf(stderr, "bench: fault at page %" PRIu64 " failed\n", i);
			exit(1);
		}
	}
	double t = bench_now() - t0;
	*allocs += vmlab_machine_host_allocs(b->m) - a0;
	vm_sys_munmap(b->k, b->p, BASE, PAGES << 12);      /* not timed */
	map_region(b);
	return t;
}

static double hit_pass(struct bench *b)
{
	struct vm_cpu *cpu = &b->k->cpus[b->p->cpu];
	uint64_t sum = 0;
	double t0 = bench_now();
	for (uint64_t i = 0; i < HITS; i++) {
		vm_paddr pa;
		vm_mmu_translate(cpu, BASE + ((i & 7) << 3), VM_ACC_WRITE | VM_ACC_USER, &pa);
		sum += pa.v;
	}
	bench_keep(sum);
	return bench_now() - t0;
}

static int run(const char *mode)
{
	struct bench b;
	memset(&b, 0, sizeof(b));
	if (setup(&b, mode))
		return 1;
	double t_fault = 1e30, t_hit = 1e30;
	uint64_t faults0 = b.p->min_flt, grown = 0;
	for (int r = 0; r < BENCH_REPS; r++) {
		double t = fault_pass(&b, &grown);
		t_fault = t < t_fault ? t : t_fault;
	}
	uint64_t faults = b.p->min_flt - faults0;
	vm_user_access(b.k, b.p, BASE, 8, VM_ACC_WRITE, NULL);     /* map the hit page */
	for (int r = 0; r < BENCH_REPS; r++) {
		double t = hit_pass(&b);
		t_hit = t < t_hit ? t : t_hit;
	}
	double fps = (double)PAGES / t_fault, hps = (double)HITS / t_hit;
	printf("%-10s (a) %8.2f M write faults/s  (b) floor %8.1f M TLB-hit translations/s"
	       "   a fault costs %6.0f hits\n", mode, fps / 1e6, hps / 1e6, hps / fps);
	printf("%-10s     %" PRIu64 " faults in %d passes (%s), host allocations while faulting: %"
	       PRIu64 "\n", "", faults, BENCH_REPS, faults == (uint64_t)BENCH_REPS * PAGES ? "one per page" : "WRONG",
	       grown);
	vmlab_machine_destroy(b.m);
	return faults != (uint64_t)BENCH_REPS * PAGES;
}

int main(void)
{
	printf("vmlab fault benchmark: anonymous write faults over 256 MiB (65536 pages, thp=never), "
	       "best of %d passes,\nagainst TLB hits on a mapped page in the same run\n", BENCH_REPS);
	int rc = run("mode=meta");
	rc |= run("mode=data");
	return rc;
}
