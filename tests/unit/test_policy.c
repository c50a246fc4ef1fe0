/*
 * Replacement policies: textbook results (Belady's anomaly; Silberschatz's
 * reference string), OPT never worse than any policy on random strings,
 * exact LRU, FIFO, MRU, CLOCK and OPT against naive reference
 * implementations, every policy's invariants after every step, the
 * registry, bad parameters.  Hand-checked traces of the newer policies are
 * in test_policy_papers.c.
 */
#include <errno.h>

#include "base/compiler.h"
#include "base/rng.h"
#include "policy_fixture.h"

static const uint64_t belady[] = { 1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5 };
/* Silberschatz, Galvin, Gagne, Operating System Concepts, §10.4 (9th ed. §9.4). */
static const uint64_t silberschatz[] = { 7, 0, 1, 2, 0, 3, 0, 4, 2, 3,
					 0, 3, 2, 1, 2, 0, 1, 7, 0, 1 };

static uint64_t misses(const char *policy, uint32_t frames, const uint64_t *refs, size_t n)
{
	struct pf_run r;
	int rc = pf_run(policy, frames, refs, NULL, n, NULL, &r);
	if (rc)
		diag("%s: run failed: %d", policy, rc);
	if (r.check_failures)
		diag("%s: %s", policy, r.first_failure);
	return rc ? UINT64_MAX : r.misses;
}

static void textbook(void)
{
	/* Belady, Nelson, Shedler (CACM 1969): FIFO faults more with more frames. */
	is_u64(misses("fifo", 3, belady, VM_ARRAY_SIZE(belady)), 9, "Belady: FIFO, 3 frames, 9 faults");
	is_u64(misses("fifo", 4, belady, VM_ARRAY_SIZE(belady)), 10, "Belady: FIFO, 4 frames, 10 faults");
	/* LRU and OPT are stack algorithms: no anomaly. */
	is_u64(misses("lru", 3, belady, VM_ARRAY_SIZE(belady)), 10, "Belady string: LRU, 3 frames, 10 faults");
	is_u64(misses("lru", 4, belady, VM_ARRAY_SIZE(belady)), 8, "Belady string: LRU, 4 frames, 8 faults");
	is_u64(misses("opt", 3, belady, VM_ARRAY_SIZE(belady)), 7, "Belady string: OPT, 3 frames, 7 faults");
	is_u64(misses("opt", 4, belady, VM_ARRAY_SIZE(belady)), 6, "Belady string: OPT, 4 frames, 6 faults");

	is_u64(misses("fifo", 3, silberschatz, VM_ARRAY_SIZE(silberschatz)), 15,
	       "Silberschatz: FIFO, 3 frames, 15 faults");
	is_u64(misses("lru", 3, silberschatz, VM_ARRAY_SIZE(silberschatz)), 12,
	       "Silberschatz: LRU, 3 frames, 12 faults");
	is_u64(misses("opt", 3, silberschatz, VM_ARRAY_SIZE(silberschatz)), 9,
	       "Silberschatz: OPT, 3 frames, 9 faults");

	/* The stream 3,4,2,5,0,5,3,0,0,1 with a 3-page cache (OSTEP
	 * vm-beyondphys-policy, question 3): FIFO and LRU 3 hits, OPT 4. */
	static const uint64_t ostep[] = { 3, 4, 2, 5, 0, 5, 3, 0, 0, 1 };
	is_u64(misses("fifo", 3, ostep, 10), 7, "OSTEP stream: FIFO 7 misses");
	is_u64(misses("lru", 3, ostep, 10), 7, "OSTEP stream: LRU 7 misses");
	is_u64(misses("opt", 3, ostep, 10), 6, "OSTEP stream: OPT 6 misses");
}

/* Naive references: memory as an array, O(frames) per reference. */
enum naive { N_LRU, N_FIFO, N_MRU, N_OPT, N_CLOCK };

static uint64_t naive(enum naive kind, uint32_t frames, const uint64_t *refs, size_t n,
		      uint64_t *victims, uint64_t *nvictims)
{
	uint64_t page[64], stamp[64];
	bool use[64];
	uint32_t used = 0, hand = 0;
	uint64_t faults = 0, nv = 0;

	for (size_t t = 0; t < n; t++) {
		uint32_t i;
		for (i = 0; i < used && page[i] != refs[t]; i++)
			;
		if (i < used) {
			if (kind == N_LRU || kind == N_MRU)
				stamp[i] = t;
			use[i] = true;
			continue;
		}
		faults++;
		if (used < frames) {
			page[used] = refs[t];
			stamp[used] = t;
			use[used] = true;
			used++;
			continue;
		}
		uint32_t v = 0;
		if (kind == N_CLOCK) {
			while (use[hand]) {
				use[hand] = false;
				hand = (hand + 1) % frames;
			}
			v = hand;
			hand = (hand + 1) % frames;
		} else {
			for (uint32_t j = 1; j < used; j++) {
				if (kind == N_MRU ? stamp[j] > stamp[v] : kind != N_OPT && stamp[j] < stamp[v])
					v = j;
				if (kind == N_OPT) {
					size_t nj, nvv;
					for (nj = t + 1; nj < n && refs[nj] != page[j]; nj++)
						;
					for (nvv = t + 1; nvv < n && refs[nvv] != page[v]; nvv++)
						;
					if (nj > nvv)
						v = j;
				}
			}
		}
		if (victims)
			victims[nv++] = page[v];
		page[v] = refs[t];
		stamp[v] = t;
		use[v] = true;
	}
	*nvictims = nv;
	return faults;
}

static void against_naive(uint64_t seed)
{
	static const struct {
		const char *name;
		enum naive kind;
		bool same_victims;      /* OPT's ties among never-used pages may differ */
	} cases[] = {
		{ "lru", N_LRU, true },  { "fifo", N_FIFO, true }, { "mru", N_MRU, true },
		{ "opt", N_OPT, false }, { "clock", N_CLOCK, true },
	};
	struct vm_rng rng;
	static uint64_t refs[400];
	static uint64_t want_v[400];
	static struct pf_run r;
	int bad[VM_ARRAY_SIZE(cases)] = { 0 };

	vm_rng_seed(&rng, seed);
	for (unsigned trial = 0; trial < 200; trial++) {
		uint32_t frames = 1 + (uint32_t)vm_rng_below(&rng, 12);
		uint64_t pages = 1 + vm_rng_below(&rng, 24);
		size_t n = 1 + vm_rng_below(&rng, 400);
		for (size_t i = 0; i < n; i++)
			refs[i] = vm_rng_below(&rng, pages) * 7919;      /* sparse page numbers */
		for (unsigned c = 0; c < VM_ARRAY_SIZE(cases); c++) {
			uint64_t want_n;
			uint64_t want = naive(cases[c].kind, frames, refs, n, want_v, &want_n);
			if (pf_run(cases[c].name, frames, refs, NULL, n, NULL, &r) != 0 ||
			    r.misses != want || r.check_failures) {
				if (bad[c]++ == 0)
					diag("%s trial %u: %" PRIu64 " misses, naive %" PRIu64 " %s",
					     cases[c].name, trial, r.misses, want, r.first_failure);
				continue;
			}
			if (cases[c].same_victims &&
			    (r.nvictims != want_n ||
			     memcmp(r.victims, want_v, r.nvictims * sizeof(uint64_t)) != 0)) {
				if (bad[c]++ == 0)
					diag("%s trial %u: victims differ", cases[c].name, trial);
			}
		}
	}
	for (unsigned c = 0; c < VM_ARRAY_SIZE(cases); c++)
		ok(bad[c] == 0, "%s equals a naive reference on 200 random strings (faults%s)",
		   cases[c].name, cases[c].same_victims ? " and victims" : "");
}

/* No policy beats OPT; every policy keeps its invariants at every step. */
static void opt_is_a_bound(uint64_t seed)
{
	struct vm_rng rng;
	static uint64_t refs[2000];
	static bool writes[2000];
	static struct pf_run r;
	const struct vm_evict_ops *ops;
	int beaten = 0, broken = 0, runs = 0;

	vm_rng_seed(&rng, seed);
	for (unsigned trial = 0; trial < 60; trial++) {
		uint32_t frames = 1 + (uint32_t)vm_rng_below(&rng, 40);
		uint64_t pages = 1 + vm_rng_below(&rng, 100);
		size_t n = 1 + vm_rng_below(&rng, 2000);
		/* Half the strings with locality: a random walk over pages. */
		bool walk = trial & 1;
		uint64_t at = 0;
		for (size_t i = 0; i < n; i++) {
			if (walk)
				at = (at + pages + vm_rng_below(&rng, 5) - 2) % pages;
			refs[i] = walk ? at : vm_rng_below(&rng, pages);
			writes[i] = vm_rng_below(&rng, 4) == 0;
		}
		struct vm_evict_params p = { .seed = trial, .tick = 1 + vm_rng_below(&rng, 50),
					     .tau = 1 + vm_rng_below(&rng, 60) };
		uint64_t best = UINT64_MAX;
		if (pf_run("opt", frames, refs, writes, n, &p, &r) == 0)
			best = r.misses;
		for (unsigned i = 0; (ops = vm_evict_at(i)) != NULL; i++) {
			runs++;
			if (pf_run(ops->name, frames, refs, writes, n, &p, &r) != 0 || r.check_failures) {
				if (broken++ == 0)
					diag("%s trial %u: %s", ops->name, trial, r.first_failure);
				continue;
			}
			if (r.misses < best && beaten++ == 0)
				diag("%s beat OPT: %" PRIu64 " < %" PRIu64 " (trial %u)", ops->name, r.misses,
				     best, trial);
			if (r.hits + r.misses != n && broken++ == 0)
				diag("%s: hits + misses != references", ops->name);
		}
	}
	ok(beaten == 0, "OPT has the fewest faults of all policies on 60 random strings");
	ok(broken == 0, "every policy passes its invariant check after each of %d runs' steps", runs);
}

static void registry(void)
{
	const struct vm_evict_ops *ops;
	unsigned n = 0;
	static const char *const want[] = { "fifo",  "second-chance", "clock",  "nru", "lru",
					    "lfu",   "mru",           "random", "opt", "wsclock",
					    "aging", "linux",         "arc",    "sieve", "s3fifo" };
	for (unsigned i = 0; (ops = vm_evict_at(i)) != NULL; i++) {
		n++;
		ok(ops->name && ops->desc && ops->order_desc && ops->insert && ops->choose &&
			   ops->remove && ops->order && ops->check,
		   "%s: has a name, a description and the operations", ops->name);
		ok(!(ops->flags & VM_EVICT_SEES_ACCESSES) == !ops->access,
		   "%s: access() exactly when it sees every access", ops->name);
		ok(!(ops->flags & VM_EVICT_TICKS) == !ops->tick, "%s: tick() exactly when it ticks",
		   ops->name);
		ok(!((ops->flags & VM_EVICT_SEES_ACCESSES) && (ops->flags & VM_EVICT_USES_ABITS)),
		   "%s: sees every access or reads Accessed bits, not both", ops->name);
	}
	is_u64(n, VM_ARRAY_SIZE(want), "fifteen policies registered");
	for (unsigned i = 0; i < VM_ARRAY_SIZE(want); i++)
		ok(vm_evict_find(want[i]) != NULL, "policy %s is registered", want[i]);
	ok(vm_evict_find("LRU") == vm_evict_find("lru"), "names match without case");
	ok(vm_evict_find("lruu") == NULL && vm_evict_find(NULL) == NULL, "unknown names are NULL");
	ok(strcmp(vm_evict_at(0)->name, "linux") == 0, "linux (the default) is listed first");
	ok(vm_evict_find("lru")->flags & VM_EVICT_SEES_ACCESSES, "exact LRU sees every access");
	ok(vm_evict_find("opt")->flags & VM_EVICT_NEEDS_FUTURE, "OPT needs the future");
	ok(vm_evict_find("clock")->flags & VM_EVICT_USES_ABITS, "CLOCK reads Accessed bits");
	ok(vm_evict_find("linux")->flags & VM_EVICT_USES_ABITS, "linux reads Accessed bits");
}

static void bad_params(void)
{
	struct vm_evict *e;
	uint8_t bits[4];
	struct vm_evict_params p = { .frames = 0, .bits = bits };
	const struct vm_evict_ops *clock = vm_evict_find("clock"), *lru = vm_evict_find("lru");

	is_i64(vm_evict_create(lru, &p, &e), -EINVAL, "zero frames: -EINVAL");
	ok(e == NULL, "and no policy");
	p.frames = 4;
	p.capacity = 5;
	is_i64(vm_evict_create(lru, &p, &e), -EINVAL, "capacity above frames: -EINVAL");
	p.capacity = 0;
	p.swappiness = 201;
	is_i64(vm_evict_create(lru, &p, &e), -EINVAL, "swappiness 201: -EINVAL");
	p.swappiness = 0;
	p.bits = NULL;
	is_i64(vm_evict_create(clock, &p, &e), -EINVAL, "CLOCK without Accessed bits: -EINVAL");
	is_i64(vm_evict_create(NULL, &p, &e), -EINVAL, "no ops: -EINVAL");
	p.bits = bits;
	is_i64(vm_evict_create(clock, &p, &e), 0, "CLOCK with 4 frames");
	vm_evict_destroy(e);
	vm_evict_destroy(NULL);

	struct vm_lab_sim *s;
	struct vm_host host = { 0 };
	is_i64(vm_lab_sim_create(lru, 0, NULL, &host, &s), -EINVAL, "a sim of zero frames: -EINVAL");
	/* Allocation failures: the N-th host allocation fails, for every N. */
	int leaks = 0, unexpected = 0;
	for (uint64_t fail = 1; fail < 40; fail++) {
		for (unsigned i = 0; vm_evict_at(i); i++) {
			struct vm_host h = { .fail_at = fail };
			int rc = vm_lab_sim_create(vm_evict_at(i), 8, NULL, &h, &s);
			if (rc == 0)
				vm_lab_sim_destroy(s);
			else if (rc != -ENOMEM)
				unexpected++;
			if (h.allocs != h.frees)
				leaks++;
		}
	}
	ok(unexpected == 0, "a failed allocation is reported as -ENOMEM");
	ok(leaks == 0, "and leaks nothing, for every policy and every allocation");
}

int main(void)
{
	uint64_t seed = tap_seed(20240521);
	textbook();
	against_naive(seed);
	opt_is_a_bound(seed);
	registry();
	bad_params();
	return done_testing();
}
