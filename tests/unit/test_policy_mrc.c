/*
 * Miss-ratio curves: the one-pass LRU curve (Mattson's stack distances)
 * equals an LRU simulation at every size, on random strings long enough to
 * compact the Fenwick tree many times; textbook distances; sweeps of other
 * policies through the lab agree with single runs.
 */
#include <errno.h>

#include "base/compiler.h"
#include "base/rng.h"
#include "policy/mrc.h"
#include "policy_fixture.h"

/* Stack distances by hand for 1 2 3 1 2 4 1: 1 2 3 cold, 1 at distance 3,
 * 2 at 3, 4 cold, 1 at 3 (2 and 4 since): misses(c) = 4 + 3 for c < 3, 4
 * for c >= 3. */
static void by_hand(void)
{
	static const uint32_t ids[] = { 0, 1, 2, 0, 1, 3, 0 };
	struct vm_host host = { 0 };
	struct vm_mrc_lru m;
	uint64_t curve[6];

	vm_mrc_lru_init(&m, &host);
	for (unsigned i = 0; i < VM_ARRAY_SIZE(ids); i++)
		vm_mrc_lru_add(&m, ids[i]);
	is_u64(m.cold, 4, "four cold misses");
	is_u64(m.distinct, 4, "footprint 4");
	is_u64(m.hist[2], 3, "three references at stack distance 3");
	vm_mrc_lru_curve(&m, curve, 6);
	ok(curve[0] == 7 && curve[1] == 7 && curve[2] == 4 && curve[3] == 4 && curve[5] == 4,
	   "curve 7 7 4 4 4 4");
	is_u64(vm_mrc_lru_misses(&m, 2), 7, "misses(2) = 7");
	vm_mrc_lru_fini(&m);
	is_u64(host.allocs, host.frees, "fini frees everything");
}

static void against_simulation(uint64_t seed, unsigned trials, size_t maxn)
{
	struct vm_rng rng;
	static uint64_t refs[200000];
	static uint64_t curve[300];
	static struct pf_run r;
	int bad = 0, compactions = 0;

	vm_rng_seed(&rng, seed);
	for (unsigned trial = 0; trial < trials; trial++) {
		uint64_t pages = 1 + vm_rng_below(&rng, 250);
		size_t n = 1 + vm_rng_below(&rng, maxn);
		struct vm_host host = { 0 };
		struct vm_lab_ids ids;
		struct vm_mrc_lru m;
		vm_lab_ids_init(&ids, &host);
		vm_mrc_lru_init(&m, &host);
		for (size_t i = 0; i < n; i++) {
			/* skewed: a square makes low pages hot */
			uint64_t x = vm_rng_below(&rng, pages);
			refs[i] = (x * x / pages) * 4096 + 17;
			uint32_t id;
			vm_lab_ids_get(&ids, refs[i], &id);
			vm_mrc_lru_add(&m, id);
		}
		compactions += m.refs > 2048;
		uint64_t max = m.distinct + 2;
		vm_mrc_lru_curve(&m, curve, max);
		for (uint64_t c = 1; c <= max && !bad; c += 1 + c / 8) {
			pf_run("lru", (uint32_t)c, refs, NULL, n, NULL, &r);
			if (r.misses != curve[c - 1] || vm_mrc_lru_misses(&m, c) != r.misses) {
				diag("trial %u: size %" PRIu64 ": curve %" PRIu64 ", simulation %" PRIu64,
				     trial, c, curve[c - 1], r.misses);
				bad++;
			}
		}
		vm_mrc_lru_fini(&m);
		vm_lab_ids_fini(&ids);
	}
	ok(bad == 0, "the one-pass LRU curve equals LRU simulation at every size (%u strings, %d long enough to compact)",
	   trials, compactions);
}

/* A sweep: one sim per size in one lab, fed once, against single runs. */
static void sweep(void)
{
	static uint64_t refs[3000];
	static struct pf_run r;
	struct vm_host host = { 0 };
	struct vm_lab lab;
	const char *names[] = { "fifo", "clock", "arc", "s3fifo", "opt" };
	int bad = 0;

	for (unsigned i = 0; i < 3000; i++)
		refs[i] = (i * 2654435761u) % 61 % (1 + i % 50);
	for (unsigned k = 0; k < VM_ARRAY_SIZE(names); k++) {
		const struct vm_evict_ops *ops = vm_evict_find(names[k]);
		vm_lab_init(&lab, &host);
		if (ops->flags & VM_EVICT_NEEDS_FUTURE) {
			for (unsigned i = 0; i < 3000; i++)
				vm_lab_future_add(&lab, refs[i]);
			vm_lab_future_done(&lab);
		}
		for (uint32_t c = 1; c <= 60; c++) {
			struct vm_lab_sim *s;
			vm_lab_sim_create(ops, c, NULL, &host, &s);
			vm_lab_add(&lab, s);
		}
		vm_lab_feed(&lab, refs, NULL, 3000);
		for (uint32_t c = 1; c <= 60; c++) {
			pf_run(names[k], c, refs, NULL, 3000, NULL, &r);
			if (r.misses != lab.sims[c - 1]->n.misses && bad++ == 0)
				diag("%s size %u: sweep %" PRIu64 ", alone %" PRIu64, names[k], c,
				     lab.sims[c - 1]->n.misses, r.misses);
		}
		vm_lab_fini(&lab);
	}
	ok(bad == 0, "sweeps of fifo, clock, arc, s3fifo and opt over 60 sizes equal single runs");
	is_u64(host.allocs, host.frees, "the labs free everything");
}

int main(void)
{
	uint64_t seed = tap_seed(7);
	pf_check_every = 0;
	by_hand();
	against_simulation(seed, tap_long() ? 200 : 40, tap_long() ? 200000 : 20000);
	sweep();
	return done_testing();
}
