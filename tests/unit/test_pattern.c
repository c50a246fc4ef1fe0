/*
 * Synthetic access patterns (pattern.h): figures that follow from the
 * hardware and can be worked out by hand — references per walk for each
 * organisation and page size, the L1 DTLB's reach under LRU, page-table
 * memory for a mapping, TLB reach against a random footprint — plus the
 * run's own contract: everything freed, deterministic for a seed, bad
 * patterns refused with a message.
 */
#include <errno.h>

#include <vmlab/pattern.h>

#include "base/compiler.h"
#include "mmu_fixture.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

/* Run p on m; checks the run succeeded and gave every frame back. */
static int run(struct vm_machine *m, const struct vm_pattern *p, struct vm_pattern_result *r,
	       const char *what)
{
	struct vm_error err = { 0 };
	uint64_t free0 = mfx_stats(m).frames_free;
	memset(r, 0xa5, sizeof(*r));
	int rc = vmlab_pattern_run(m, p, r, &err);
	if (rc)
		diag("%s: %s", what, err.msg);
	is_i64(rc, 0, "%s: runs", what);
	is_u64(mfx_stats(m).frames_free, free0, "%s: every frame it took is free again", what);
	return rc;
}

static struct vm_pattern seq(uint64_t footprint, uint64_t stride, uint64_t accesses, enum vm_psize page)
{
	return (struct vm_pattern){ .kind = VM_PATTERN_SEQ, .footprint = footprint, .stride = stride,
				    .accesses = accesses, .page = page };
}

/* With no TLB and no walk caches every access walks from CR3: 4 entries
 * (5 with LA57), one fewer per level a large leaf cuts off. */
static void test_walk_refs_without_tlb(void)
{
	static const struct {
		const char *pt;
		enum vm_psize page;
		uint64_t footprint, stride;
		unsigned refs;
	} cases[] = {
		{ "pt=radix4", VM_PSIZE_4K, 64 * 4096, 4096, 4 },
		{ "pt=radix5", VM_PSIZE_4K, 64 * 4096, 4096, 5 },
		{ "pt=radix4", VM_PSIZE_2M, 8 * 2 * MIB, 2 * MIB + 64, 3 },
		{ "pt=radix5", VM_PSIZE_2M, 8 * 2 * MIB, 2 * MIB + 64, 4 },
		{ "pt=radix4", VM_PSIZE_1G, 2 * GIB, 4096, 2 },
	};
	for (unsigned i = 0; i < VM_ARRAY_SIZE(cases); i++) {
		struct vm_machine *m = MFX_MACHINE("tlb=none", cases[i].pt, "phys=4G", "mode=meta");
		struct vm_pattern_result r;
		struct vm_pattern p = seq(cases[i].footprint, cases[i].stride, 1000, cases[i].page);
		char what[80];
		snprintf(what, sizeof(what), "tlb=none %s, %s pages", cases[i].pt,
			 cases[i].page == VM_PSIZE_4K ? "4K" : cases[i].page == VM_PSIZE_2M ? "2M" : "1G");
		if (!ok(m != NULL, "%s: machine", what) || run(m, &p, &r, what)) {
			vmlab_machine_destroy(m);
			continue;
		}
		is_u64(r.delta.acc_read, 1000, "%s: 1000 reads", what);
		is_u64(r.delta.walks, 1000, "%s: every access walks", what);
		is_u64(r.delta.walk_refs, 1000 * cases[i].refs, "%s: %u references each", what, cases[i].refs);
		is_u64(r.delta.pwc_miss, 1000, "%s: all from the root", what);
		vmlab_machine_destroy(m);
	}
}

/* Zen 4's L1 DTLB: 72 entries, fully associative, LRU.  A cyclic sweep of N
 * pages misses N times if N <= 72 and on every access if N = 73 (LRU evicts
 * exactly the page needed next), while the 3072-entry L2 holds them all. */
static void test_l1_reach(void)
{
	static const uint64_t ns[] = { 1, 16, 72, 73 };
	struct vm_machine *m = MFX_MACHINE("tlb=zen4");
	if (!ok(m != NULL, "zen4 machine"))
		return;
	for (unsigned i = 0; i < VM_ARRAY_SIZE(ns); i++) {
		uint64_t n = ns[i];
		struct vm_pattern_result r;
		char what[80];
		snprintf(what, sizeof(what), "zen4, seq over %" PRIu64 " pages", n);
		struct vm_pattern p = seq(n * 4096, 4096, n, VM_PSIZE_4K);
		if (run(m, &p, &r, what))
			continue;
		is_u64(r.delta.tlb_l1d_miss, n, "%s, one pass: %" PRIu64 " L1 misses", what, n);
		is_u64(r.delta.walks, n, "%s, one pass: %" PRIu64 " walks", what, n);
		p.accesses = 5 * n;
		if (run(m, &p, &r, what))
			continue;
		is_u64(r.delta.tlb_l1d_miss, n <= 72 ? n : 5 * n, "%s, five passes: %s", what,
		       n <= 72 ? "misses in the first pass only" : "LRU misses on every access");
		is_u64(r.delta.walks, n, "%s, five passes: walks in the first pass only", what);
		is_u64(r.delta.tlb_l2_hit_4k, n <= 72 ? 0 : 4 * n, "%s, five passes: %s", what,
		       n <= 72 ? "the L2 is never asked" : "the L2 answers every later access");
	}
	vmlab_machine_destroy(m);
}

/* Random accesses over 1 GiB: with 4 KiB pages the TLBs reach 72 + 3072
 * pages of 262144, so nearly every access walks; with 2 MiB pages the 512
 * pages all fit in the L2, so each page walks once and never again. */
static void test_random_reach(void)
{
	struct vm_machine *m = MFX_MACHINE("tlb=zen4", "phys=2G", "seed=3");
	const uint64_t n = 100000;
	if (!ok(m != NULL, "zen4 machine with 2 GiB"))
		return;
	struct vm_pattern p = { .kind = VM_PATTERN_RANDOM, .footprint = GIB, .accesses = n,
				.page = VM_PSIZE_4K };
	struct vm_pattern_result r;
	if (!run(m, &p, &r, "random over 1 GiB of 4K pages")) {
		ok(r.delta.walks > n * 95 / 100, "4K: %" PRIu64 " of %" PRIu64 " accesses walk (> 95%%)",
		   r.delta.walks, n);
		is_u64(r.pages, 262144, "4K: 262144 pages");
	}
	p.page = VM_PSIZE_2M;
	if (!run(m, &p, &r, "random over 1 GiB of 2M pages")) {
		is_u64(r.pages, 512, "2M: 512 pages");
		is_u64(r.delta.walks, 512, "2M: one walk per page, then only TLB hits");
		is_u64(r.delta.tlb_l1d_miss, r.delta.tlb_l2_hit_2m + 512, "2M: every other L1 miss hits the L2");
	}
	vmlab_machine_destroy(m);
}

/* Page-table memory: 256 MiB of 4 KiB pages at a 1 GiB-aligned base needs
 * 65536 PTEs = 128 page tables, one PD, one PDPT and the PML4. */
static void test_table_memory(void)
{
	static const struct {
		enum vm_psize page;
		uint64_t pages, frames;
		const char *what;
	} cases[] = {
		{ VM_PSIZE_4K, 65536, 131, "4K: 128 PTs + PD + PDPT + PML4" },
		{ VM_PSIZE_2M, 128, 3, "2M: PD + PDPT + PML4" },
		{ VM_PSIZE_1G, 1, 2, "1G: PDPT + PML4" },
	};
	struct vm_machine *m = MFX_MACHINE("tlb=zen4", "phys=2G", "mode=meta");
	if (!ok(m != NULL, "machine"))
		return;
	for (unsigned i = 0; i < VM_ARRAY_SIZE(cases); i++) {
		uint64_t size = cases[i].page == VM_PSIZE_1G ? GIB : 256 * MIB;
		struct vm_pattern p = seq(size, 4096, 10, cases[i].page);
		struct vm_pattern_result r;
		if (run(m, &p, &r, cases[i].what))
			continue;
		is_u64(r.pages, cases[i].pages, "%s: %" PRIu64 " pages", cases[i].what, cases[i].pages);
		is_u64(r.pt_bytes, cases[i].frames * 4096, "%s: %" PRIu64 " table frames", cases[i].what,
		       cases[i].frames);
	}
	vmlab_machine_destroy(m);
}

/* The machine's seed decides everything: same seed, same counters. */
static void test_determinism(void)
{
	struct vm_pattern p = { .kind = VM_PATTERN_RANDOM, .footprint = 64 * MIB, .accesses = 20000,
				.write_pct = 50, .page = VM_PSIZE_4K };
	struct vm_pattern_result r[3];
	const char *const seeds[3] = { "seed=7", "seed=7", "seed=8" };
	for (unsigned i = 0; i < 3; i++) {
		struct vm_machine *m = MFX_MACHINE("tlb=zen4", seeds[i]);
		memset(&r[i], 0, sizeof(r[i]));
		if (m)
			run(m, &p, &r[i], seeds[i]);
		vmlab_machine_destroy(m);
	}
	ok(memcmp(&r[0].delta, &r[1].delta, sizeof(r[0].delta)) == 0, "seed 7 twice: identical counters");
	ok(memcmp(&r[0].delta, &r[2].delta, sizeof(r[0].delta)) != 0, "seed 8: different counters");
	is_u64(r[0].delta.acc_read + r[0].delta.acc_write, 20000, "reads + writes = accesses");
	ok(r[0].delta.acc_write > 9000 && r[0].delta.acc_write < 11000, "about half are writes (%" PRIu64 ")",
	   r[0].delta.acc_write);

	struct vm_machine *m = MFX_MACHINE("tlb=zen4");
	struct vm_pattern w = seq(16 * 4096, 64, 1000, VM_PSIZE_4K);
	w.write_pct = 100;
	if (m && !run(m, &w, &r[0], "write_pct=100")) {
		is_u64(r[0].delta.acc_write, 1000, "write_pct=100: every access is a write");
		is_u64(r[0].delta.acc_read, 0, "... none a read");
	}
	vmlab_machine_destroy(m);
}

static void refused(struct vm_machine *m, const struct vm_pattern *p, int want, const char *needle,
		    const char *what)
{
	struct vm_error err = { 0 };
	struct vm_pattern_result r;
	uint64_t free0 = mfx_stats(m).frames_free;
	is_i64(vmlab_pattern_run(m, p, &r, &err), want, "%s: refused", what);
	ok(strstr(err.msg, needle) != NULL, "%s: the message says '%s': %s", what, needle, err.msg);
	is_u64(mfx_stats(m).frames_free, free0, "%s: nothing kept", what);
}

static void test_refusals(void)
{
	struct vm_machine *m = MFX_MACHINE("tlb=zen4", "phys=64M");
	if (!ok(m != NULL, "machine with 64 MiB"))
		return;
	struct vm_pattern p = seq(MIB, 0, 10, VM_PSIZE_4K);
	refused(m, &p, -EINVAL, "--stride", "seq with stride 0");
	p = seq(MIB, 64, 10, VM_PSIZE_4K);
	p.write_pct = 101;
	refused(m, &p, -EINVAL, "--writes", "write_pct 101");
	p = seq(0, 64, 10, VM_PSIZE_4K);
	refused(m, &p, -EINVAL, "--footprint", "footprint 0");
	p = seq(MIB, 64, 10, VM_PSIZE_COUNT);
	refused(m, &p, -EINVAL, "--page-size", "page size 3");
	p = seq(MIB, 64, 10, VM_PSIZE_4K);
	p.kind = VM_PATTERN_COUNT;
	refused(m, &p, -EINVAL, "--pattern", "kind 3");
	p = seq(128 * MIB, 4096, 10, VM_PSIZE_4K);
	refused(m, &p, -ENOMEM, "too small", "128 MiB footprint in 64 MiB");
	p = seq(2 * GIB, 4096, 10, VM_PSIZE_1G);
	refused(m, &p, -ENOMEM, "too small", "1 GiB pages in 64 MiB");
	vmlab_machine_destroy(m);
}

int main(void)
{
	test_walk_refs_without_tlb();
	test_l1_reach();
	test_random_reach();
	test_table_memory();
	test_determinism();
	test_refusals();
	return done_testing();
}
