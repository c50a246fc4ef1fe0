/*
 * OSTEP compatibility: MT19937 as CPython's random module (known outputs,
 * and, when python3 is on the machine, thousands of outputs compared with
 * the real module), and paging-policy.py's policies on traces worked out
 * by hand from the script's rules and Python's random numbers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/mt19937.h"
#include "policy/ostep.h"
#include "tap.h"

/* Values printed by CPython 3.11: random.seed(s); random.random() ... */
static void known_values(void)
{
	struct vm_mt mt;
	vm_mt_seed_int(&mt, 0);
	ok(vm_mt_random(&mt) == 0.8444218515250481, "seed(0): random() = 0.8444218515250481");
	ok(vm_mt_random(&mt) == 0.7579544029403025, "seed(0): then 0.7579544029403025");
	ok(vm_mt_random(&mt) == 0.420571580830845, "seed(0): then 0.420571580830845");
	vm_mt_seed_int(&mt, 10);
	ok(vm_mt_random(&mt) == 0.5714025946899135, "seed(10): 0.5714025946899135");
	ok(vm_mt_random(&mt) == 0.4288890546751146, "seed(10): 0.4288890546751146");
	ok(vm_mt_random(&mt) == 0.5780913011344704, "seed(10): 0.5780913011344704");
	/* seed(10), int(10 * random()) three times: OSTEP's README example -s 10 -n 3 */
	vm_mt_seed_int(&mt, 10);
	int a = (int)(10 * vm_mt_random(&mt)), b = (int)(10 * vm_mt_random(&mt)),
	    c = (int)(10 * vm_mt_random(&mt));
	ok(a == 5 && b == 4 && c == 5, "OSTEP README: -s 10 -n 3 generates 5, 4, 5");
	vm_mt_seed_int(&mt, 5);
	int64_t want[] = { 80, 33, 95, 46, 89 };
	bool same = true;
	for (int i = 0; i < 5; i++)
		same &= vm_mt_randint(&mt, 1, 100) == want[i];
	ok(same, "seed(5): randint(1, 100) x5 = 80 33 95 46 89");
	vm_mt_seed_int(&mt, -7);
	is_u64(vm_mt_getrandbits(&mt, 50), UINT64_C(1067201979659320), "seed(-7): getrandbits(50)");
	is_i64(vm_mt_seed_decimal(&mt, "123456789012345678901234567890"), 0, "a 97-bit seed");
	ok(vm_mt_random(&mt) == 0.7275084571578186, "seed(123456789012345678901234567890): 0.7275084571578186");
	is_i64(vm_mt_seed_decimal(&mt, " +1_000 "), 0, "int() syntax: spaces, sign, underscore");
	struct vm_mt ref;
	vm_mt_seed_int(&ref, 1000);
	ok(vm_mt_random(&mt) == vm_mt_random(&ref), "seed(' +1_000 ') == seed(1000)");
	is_i64(vm_mt_seed_decimal(&mt, "1__0"), -EINVAL, "two underscores: not an int");
	is_i64(vm_mt_seed_decimal(&mt, "_1"), -EINVAL, "a leading underscore: not an int");
	is_i64(vm_mt_seed_decimal(&mt, ""), -EINVAL, "empty: not an int");
	is_i64(vm_mt_seed_decimal(&mt, "12a"), -EINVAL, "12a: not an int");
	is_u64(vm_mt_randbelow(&mt, 0), 0, "randbelow(0) draws nothing");
}

/* The same numbers from CPython itself, when python3 is installed. */
static void against_python(void)
{
	static const char *const seeds[] = { "0", "1", "3", "10", "4294967295", "4294967296",
					     "-7", "123456789012345678901234567890" };
	char cmd[1024];
	int compared = 0, bad = 0;

	for (unsigned s = 0; s < VM_ARRAY_SIZE(seeds); s++) {
		snprintf(cmd, sizeof(cmd),
			 "python3 -c 'import random\n"
			 "random.seed(%s)\n"
			 "for i in range(200): print(random.random().hex())\n"
			 "for k in range(1, 65): print(random.getrandbits(k))\n"
			 "for n in (1, 2, 3, 7, 10, 1000, 2**31 + 11, 2**63 - 25): print(random.randrange(n))\n"
			 "for i in range(50): print(random.randint(-5, 5))\n"
			 "' 2>/dev/null",
			 seeds[s]);
		FILE *p = popen(cmd, "r");
		if (!p)
			break;
		struct vm_mt mt;
		vm_mt_seed_decimal(&mt, seeds[s]);
		char line[128];
		int n = 0;
		static const uint64_t below[] = { 1, 2, 3, 7, 10, 1000, (UINT64_C(1) << 31) + 11,
						  (UINT64_C(1) << 63) - 25 };
		while (fgets(line, sizeof(line), p)) {
			bool same;
			if (n < 200)
				same = vm_mt_random(&mt) == strtod(line, NULL);
			else if (n < 264)
				same = vm_mt_getrandbits(&mt, (unsigned)(n - 199)) == strtoull(line, NULL, 10);
			else if (n < 272)
				same = vm_mt_randbelow(&mt, below[n - 264]) == strtoull(line, NULL, 10);
			else
				same = vm_mt_randint(&mt, -5, 5) == strtoll(line, NULL, 10);
			if (!same && bad++ == 0)
				diag("seed %s, output %d: python says %s", seeds[s], n, line);
			n++;
		}
		if (pclose(p) != 0 || n != 322) {
			compared = -1;
			break;
		}
		compared += n;
	}
	if (compared <= 0) {
		printf("ok %d - # SKIP python3 is not available\n", ++tap_count);
		return;
	}
	ok(bad == 0, "%d outputs of random(), getrandbits(), randrange() and randint() equal CPython's",
	   compared);
}

/* Run paging-policy.py's policy over addrs; victims (-1: none) into v. */
static int run(enum vm_ostep_policy p, int64_t cache, int64_t bits, const int64_t *addrs,
	       size_t n, struct vm_mt *mt, int64_t *v, uint64_t *hits)
{
	struct vm_host host = { 0 };
	struct vm_ostep o;
	int rc = vm_ostep_init(&o, &host, p, cache, bits, addrs, n, mt);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		bool hit;
		rc = vm_ostep_step(&o, &hit, &v[i]);
	}
	*hits = o.hits;
	vm_ostep_fini(&o);
	return rc;
}

static bool same(const int64_t *a, const int64_t *b, size_t n)
{
	return memcmp(a, b, n * sizeof(*a)) == 0;
}

/*
 * Traces worked out from the script's rules.
 *
 * CLOCK, seed 3, -n 12 -m 6 -C 3 -b 2.  Python: random.seed(3); the first 12
 * int(6 * random()) are 1 3 2 3 3 0 0 5 1 1 5 2; the next int(3 * random())
 * are 2 1 1 0 1 2 1 2 2 0 2 1.
 *   1 3 2 miss (counters 1), 3 3 hit (3 -> 2, capped at 2).
 *   0: picks [1 3 2][2] = 2 (1 -> 0), [1] = 3 (2 -> 1), [1] = 3 (1 -> 0), [0] = 1
 *      (1 -> 0), [1] = 3: 0, evicted.  [1 2 0]
 *   0 hit (-> 2).  5: [2] = 0 (2 -> 1), [1] = 2: 0, evicted.  [1 0 5]
 *   1 1 5 hit (1: 0 -> 2, 5: 1 -> 2).  2: [2] = 5 (2 -> 1), [2] = 5 (1 -> 0),
 *   [0] = 1 (2 -> 1), [2] = 5: evicted.  [1 0 2]
 * Victims 3 2 5; 6 hits.
 */
static void ostep_policies(void)
{
	struct vm_mt mt;
	int64_t v[16];
	uint64_t hits;

	vm_mt_seed_int(&mt, 3);
	int64_t addrs[12];
	for (int i = 0; i < 12; i++)
		addrs[i] = (int64_t)(6 * vm_mt_random(&mt));
	static const int64_t want_addrs[] = { 1, 3, 2, 3, 3, 0, 0, 5, 1, 1, 5, 2 };
	ok(same(addrs, want_addrs, 12), "seed 3: -n 12 -m 6 generates 1 3 2 3 3 0 0 5 1 1 5 2");
	run(VM_OSTEP_CLOCK, 3, 2, addrs, 12, &mt, v, &hits);
	static const int64_t clock_v[] = { -1, -1, -1, -1, -1, 3, -1, 2, -1, -1, -1, 5 };
	ok(same(v, clock_v, 12) && hits == 6, "CLOCK, seed 3: victims 3 2 5 and 6 hits, by hand");

	/* RAND, seed 0, -a 1,2,3,4,5 -C 2: random() = 0.844 0.758 0.421 ->
	 * positions 1 1 0: victims 2, 3, 1. */
	static const int64_t five[] = { 1, 2, 3, 4, 5 };
	vm_mt_seed_int(&mt, 0);
	run(VM_OSTEP_RAND, 2, 2, five, 5, &mt, v, &hits);
	static const int64_t rand_v[] = { -1, -1, 2, 3, 1 };
	ok(same(v, rand_v, 5), "RAND, seed 0: victims 2 3 1");

	/* OPT and UNOPT on 1 2 3 4 with 2 pages: every page is never used again,
	 * a tie: OPT takes the last in the list, UNOPT the first. */
	static const int64_t four[] = { 1, 2, 3, 4 };
	run(VM_OSTEP_OPT, 2, 2, four, 4, &mt, v, &hits);
	static const int64_t opt_v[] = { -1, -1, 2, 3 };
	ok(same(v, opt_v, 4), "OPT: ties go to the last page in the list (2, then 3)");
	run(VM_OSTEP_UNOPT, 2, 2, four, 4, &mt, v, &hits);
	static const int64_t unopt_v[] = { -1, -1, 1, 2 };
	ok(same(v, unopt_v, 4), "UNOPT: ties go to the first (1, then 2)");

	/* Belady's string, FIFO: 3 hits with 3 pages, 2 with 4 (README's "fun"). */
	static const int64_t belady[] = { 1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5 };
	run(VM_OSTEP_FIFO, 3, 2, belady, 12, &mt, v, &hits);
	is_u64(hits, 3, "FIFO -C 3 on Belady's string: 3 hits");
	run(VM_OSTEP_FIFO, 4, 2, belady, 12, &mt, v, &hits);
	is_u64(hits, 2, "FIFO -C 4: 2 hits (Belady's anomaly)");

	/* README: LRU, -C 3, 0,1,2,0,1,3,0,3,1,2,1: 6 hits; victims 2 then 0. */
	static const int64_t readme[] = { 0, 1, 2, 0, 1, 3, 0, 3, 1, 2, 1 };
	run(VM_OSTEP_LRU, 3, 2, readme, 11, &mt, v, &hits);
	ok(hits == 6 && v[5] == 2 && v[9] == 0, "README's LRU example: 6 hits, evicts 2 then 0");

	/* A cache of 0 pages: the script pops from an empty list. */
	is_i64(run(VM_OSTEP_FIFO, 0, 2, five, 5, &mt, v, &hits), -ERANGE, "cache size 0: -ERANGE");
	/* A negative cache size never fills. */
	run(VM_OSTEP_FIFO, -1, 2, five, 5, &mt, v, &hits);
	ok(v[4] == -1, "a negative cache size never evicts");

	ok(vm_ostep_policy_find("CLOCK") == VM_OSTEP_CLOCK && vm_ostep_policy_find("clock") == -1 &&
		   vm_ostep_policy_find("LFU") == -1,
	   "policy names as the script spells them, case and all; no LFU");
}

int main(void)
{
	known_values();
	against_python();
	ostep_policies();
	return done_testing();
}
