/*
 * Policies on short reference strings, each traced by hand from the rules
 * of its paper or book (the trace is in the comment above each test), so
 * that the expected victims come from the source and not from the code.
 */
#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "policy_fixture.h"

static struct pf_run r;

static void expect(const char *policy, uint32_t frames, const uint64_t *refs, const bool *writes,
		   size_t n, const struct vm_evict_params *p, uint64_t want_misses,
		   const uint64_t *want_victims, unsigned nwant, const char *what)
{
	int rc = pf_run(policy, frames, refs, writes, n, p, &r);
	ok(rc == 0 && r.check_failures == 0, "%s: %s runs clean %s", policy, what, r.first_failure);
	is_u64(r.misses, want_misses, "%s: %s: %" PRIu64 " misses", policy, what, want_misses);
	bool same = r.nvictims == nwant && memcmp(r.victims, want_victims, nwant * sizeof(uint64_t)) == 0;
	ok(same, "%s: %s: victims as traced by hand", policy, what);
	if (!same) {
		char buf[400];
		size_t o = 0;
		for (unsigned i = 0; i < r.nvictims && o + 24 < sizeof(buf); i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %" PRIu64, r.victims[i]);
		diag("got victims:%s", buf);
	}
}

static void expect_contents(const uint64_t *want, unsigned n, const char *what)
{
	bool same = r.ncontents == n && memcmp(r.contents, want, n * sizeof(uint64_t)) == 0;
	ok(same, "%s", what);
	if (!same) {
		char buf[400];
		size_t o = 0;
		for (unsigned i = 0; i < r.ncontents && o + 40 < sizeof(buf); i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %" PRIu64 "(%s)", r.contents[i],
					      r.notes[i]);
		diag("got:%s", buf);
	}
}

/*
 * ARC (Megiddo & Modha 2003, Fig. 4), c = 2.
 *   1: new, T1=[1]          2: new, T1=[1 2]       1: hit, T1=[2] T2=[1]
 *   3: new; |T1|+|B1| = 1 < 2, directory 2 >= c: REPLACE(p=0): |T1| = 1 > p:
 *      2 -> B1; T1=[3]
 *   2: in B1: p = min(2, 0 + max(|B2|/|B1|, 1)) = 1; REPLACE: |T1| = 1 = p and 2 is
 *      not in B2: T2's LRU 1 -> B2; 2 -> T2. T1=[3] T2=[2] B1=[] B2=[1]
 *   4: new; |T1|+|B1| = 1, directory 3 >= 2 (not 2c): REPLACE(p=1): |T1| = 1 not > p:
 *      2 -> B2 = [1 2]; T1=[3 4]
 *   1: in B2: p = max(0, 1 - max(|B1|/|B2|, 1)) = 0; REPLACE: |T1| = 2 > 0: 3 -> B1;
 *      1 -> T2. T1=[4] T2=[1] B1=[3] B2=[2]
 * Victims 2 1 2 3; 6 misses.
 */
static void arc(void)
{
	static const uint64_t refs[] = { 1, 2, 1, 3, 2, 4, 1 };
	static const uint64_t victims[] = { 2, 1, 2, 3 };
	static const uint64_t contents[] = { 4, 1 };
	expect("arc", 2, refs, NULL, VM_ARRAY_SIZE(refs), NULL, 6, victims, 4, "ghost hits move p");
	is_str(r.state, "p=0 B1=[3] B2=[2]", "arc: p and the ghost lists at the end");
	expect_contents(contents, 2, "arc: T1 = [4], T2 = [1]");

	/* Case IV.A with |T1| = c: the LRU page of T1 is deleted, not ghosted.
	 * 1 2 fill T1; 3 deletes 1, 1 (no ghost, new) deletes 2, 4 deletes 3. */
	static const uint64_t refs2[] = { 1, 2, 3, 1, 4 };
	static const uint64_t victims2[] = { 1, 2, 3 };
	expect("arc", 2, refs2, NULL, VM_ARRAY_SIZE(refs2), NULL, 5, victims2, 3,
	       "a scan through T1 leaves no ghosts");
	is_str(r.state, "p=0 B1=[] B2=[]", "arc: B1 stays empty when T1 holds all c pages");
}

/*
 * SIEVE (Zhang et al. 2024, Algorithm 1), 3 frames; queue head (newest) ... tail.
 *   1 2 3 miss: [3 2 1]; 1 hit: 1 visited
 *   4: hand = tail 1: visited, clear, move towards the head: 2 unvisited: evict 2,
 *      hand = 3 (2's newer neighbour); [4 3 1]
 *   5: hand 3 unvisited: evict, hand = 4; [5 4 1]      1: hit, visited
 *   2: hand 4: evict, hand = 5; [2 5 1]                3: hand 5: evict, hand = 2; [3 2 1]
 *   4: hand 2: evict; hand = its newer neighbour 3; [4 3 1]
 * Victims 2 3 4 5 2; 8 misses; 1 stays, visited.
 */
static void sieve(void)
{
	static const uint64_t refs[] = { 1, 2, 3, 1, 4, 5, 1, 2, 3, 4 };
	static const uint64_t victims[] = { 2, 3, 4, 5, 2 };
	static const uint64_t contents[] = { 1, 3, 4 };
	expect("sieve", 3, refs, NULL, VM_ARRAY_SIZE(refs), NULL, 8, victims, 5,
	       "the hand keeps its place");
	expect_contents(contents, 3, "sieve: tail -> head is 1 3 4");
	is_str(r.notes[0], "v", "sieve: page 1 is visited");
	is_str(r.notes[2], "", "sieve: the newest page is not (new pages enter unvisited)");

	/* The hand wraps: 2 frames, 1 2 1 2 3 4: at 3 both are visited, the hand
	 * clears 1 and 2, wraps to the tail and evicts 1; at 4 it evicts 2. */
	static const uint64_t refs2[] = { 1, 2, 1, 2, 3, 4 };
	static const uint64_t victims2[] = { 1, 2 };
	expect("sieve", 2, refs2, NULL, VM_ARRAY_SIZE(refs2), NULL, 4, victims2, 2,
	       "the hand wraps from the head to the tail");
}

/*
 * S3-FIFO (Yang et al. 2023, Algorithm 1), c = 10: S may hold 10% (evictS when
 * |S| >= 1), M is over its size above 9, G remembers 9 keys.
 *   1..10 miss into S (G empty); 1 1 2 hit: freq(1) = 2, freq(2) = 1
 *   11: evictS: tail 1 has freq 2 > 1: to M; tail 2 has freq 1: evicted, G = [2]
 *   12: evictS: tail 3 (freq 0) evicted, G = [2 3]
 *   2: a miss found in G: evictS evicts 4 (G = [2 3 4]); 2 goes to M and leaves G
 *   1: hit (freq 3)
 * Victims 2 3 4; 13 misses; S = 5..12, M = 1 2, G = [3 4].
 */
static void s3fifo(void)
{
	static const uint64_t refs[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 1, 2, 11, 12, 2, 1 };
	static const uint64_t victims[] = { 2, 3, 4 };
	static const uint64_t contents[] = { 5, 6, 7, 8, 9, 10, 11, 12, 1, 2 };
	expect("s3fifo", 10, refs, NULL, VM_ARRAY_SIZE(refs), NULL, 13, victims, 3,
	       "small queue filters, ghost readmits to main");
	is_str(r.state, "S=8 M=2 G=[3 4]", "s3fifo: queues and ghost at the end");
	expect_contents(contents, 10, "s3fifo: S tail->head 5..12, then M tail->head 1 2");
	is_str(r.notes[8], "M,f=3", "s3fifo: page 1 in M with its counter capped at 3");
	is_str(r.notes[9], "M,f=0", "s3fifo: page 2 readmitted from G with freq 0");

	/*
	 * Two victims for one miss, c = 20 (evictS when |S| >= 2, M over at 19):
	 *   1..20 fill S; 1..18 hit twice (freq 2)
	 *   21: evictS moves 1..18 to M (M = 18, not over), evicts 19 (freq 0) to G
	 *   20 20: freq(20) = 2
	 *   22: |S| = 2: evictS: 20 moves to M, M = 19 is over its size: evictM
	 *       reinserts 1..18 and 20 with freq 2 -> 1 -> 0 and evicts 1; evictS goes
	 *       on and evicts 21 (freq 0) to G.  Two victims: 1 and 21.
	 *   23: memory has a free frame: no victim.
	 */
	static uint64_t refs2[80];
	size_t n = 0;
	for (uint64_t p = 1; p <= 20; p++)
		refs2[n++] = p;
	for (int k = 0; k < 2; k++)
		for (uint64_t p = 1; p <= 18; p++)
			refs2[n++] = p;
	refs2[n++] = 21;
	refs2[n++] = 20;
	refs2[n++] = 20;
	refs2[n++] = 22;
	refs2[n++] = 23;
	static const uint64_t victims2[] = { 19, 1, 21 };
	expect("s3fifo", 20, refs2, NULL, n, NULL, 23, victims2, 3,
	       "an evictM inside evictS frees two frames");
}

/*
 * Linux (mm/vmscan.c, mm/workingset.c), 4 frames, file pages (A set by each
 * fault).  Lists written head ... tail.
 *   1 2 3 4: inactive [4 3 2 1]
 *   5: shrink_inactive: 1, 2, 3, 4 are young: PG_referenced set, kept (rotated to
 *      the head), A cleared; 1 again: not young: reclaimed.  shadow(1) = 0, age 1
 *   2 3 hit (A)
 *   6: 2 young and PG_referenced: activated (age 2); 3 likewise (age 3); inactive
 *      [5 4] is not low against active [3 2]; 4 not young: reclaimed, shadow(4) = 3,
 *      age 4
 *   4 (refault): 5 and 6 young (their faults): kept; 5 again: reclaimed, shadow = 4,
 *      age 5; refault distance of 4 = 5 - 3 = 2 <= workingset (2 active pages):
 *      4 starts active (age 6)
 *   1 (refault): inactive [6] is low against active [4 3 2]: 2 (not young) is
 *      deactivated with PG_workingset; 6 not young: reclaimed (age 7); distance
 *      of 1 = 7 - 0 > 2: 1 starts inactive
 * Victims 1 4 5 6; 8 misses.  End: inactive [1 2], active [4 3].
 */
static void linux_lists(void)
{
	static const uint64_t refs[] = { 1, 2, 3, 4, 5, 2, 3, 6, 4, 1 };
	static const uint64_t victims[] = { 1, 4, 5, 6 };
	static const uint64_t contents[] = { 2, 1, 3, 4 };
	expect("linux", 4, refs, NULL, VM_ARRAY_SIZE(refs), NULL, 8, victims, 4,
	       "second reference activates, refault distance activates");
	expect_contents(contents, 4, "linux: inactive tail->head 2 1, active tail->head 3 4");
	is_str(r.notes[0], "inact,ref,ws", "linux: 2 deactivated, PG_referenced and PG_workingset");
	is_str(r.notes[1], "inact,A", "linux: 1 just faulted, young");
	ok(strstr(r.state, "activations=2 deactivations=1 refaults=2 refault_activations=1") != NULL,
	   "linux: 2 activations, 1 deactivation, 2 refaults, 1 refault activation (%s)", r.state);
}

/*
 * CLOCK (one hand), 3 frames.  1 2 3 fill the circle, A set, hand at 1.
 *   4: the hand clears 1, 2, 3 and comes back to 1: evicted; 4 takes its place,
 *      hand at 2
 *   2: hit, A            5: hand at 2: A, cleared; 3: evicted, hand at 4
 * Victims 1 3; contents from the hand: 4 (A), 2, 5 (A).
 */
static void clock_hand(void)
{
	static const uint64_t refs[] = { 1, 2, 3, 4, 2, 5 };
	static const uint64_t victims[] = { 1, 3 };
	static const uint64_t contents[] = { 4, 2, 5 };
	expect("clock", 3, refs, NULL, VM_ARRAY_SIZE(refs), NULL, 5, victims, 2, "the hand sweeps");
	expect_contents(contents, 3, "clock: from the hand 4 2 5");
	ok(strcmp(r.notes[0], "A") == 0 && strcmp(r.notes[1], "") == 0 && strcmp(r.notes[2], "A") == 0,
	   "clock: 4 and 5 referenced, 2's bit cleared by the hand");
	expect("second-chance", 3, refs, NULL, VM_ARRAY_SIZE(refs), NULL, 5, victims, 2,
	       "the same victims as CLOCK");
}

/*
 * WSClock (Carr & Hennessy 1981), 3 frames, tau = 3; page 1 written.
 *   t0 1w, t1 2, t2 3 fill; hand at 1
 *   t3 4: first lap: A of 1 2 3 cleared, last use = 3; second lap: nothing older
 *      than tau; no write scheduled: the first clean page from the hand: 1 is
 *      dirty, 2 is clean: evicted.  4 in its place, hand at 3.
 *   t4..t7 3 4 3 4 hit
 *   t8 5: hand at 3: A, cleared (last use 8); 1: not young, age 8 - 3 = 5 > tau,
 *      dirty: written back, passed; 4: A, cleared; 3: age 0; 1: old and clean now:
 *      evicted.
 * Victims 2 1; one write-back, by the hand.
 */
static void wsclock(void)
{
	static const uint64_t refs[] = { 1, 2, 3, 4, 3, 4, 3, 4, 5 };
	static const bool writes[] = { true, false, false, false, false, false, false, false, false };
	static const uint64_t victims[] = { 2, 1 };
	struct vm_evict_params p = { .tau = 3 };
	expect("wsclock", 3, refs, writes, VM_ARRAY_SIZE(refs), &p, 5, victims, 2,
	       "old clean pages go; dirty ones are cleaned first");
	is_u64(r.writebacks, 1, "wsclock: one write-back");
}

/*
 * Aging (Tanenbaum §3.4.7), 2 frames, a tick every 2 references.
 *   t0 1, t1 2; tick: counters 1 = 2 = 10000000, A cleared
 *   t2 1 (A)
 *   t3 3: 1 has A (ranks above any counter): 2 (10000000, no A) is evicted
 *   tick after t3: 1 = 11000000, 3 = 10000000
 *   t4 4: 3 has the smaller counter: evicted (LRU would evict 1)
 */
static void aging(void)
{
	static const uint64_t refs[] = { 1, 2, 1, 3, 4 };
	static const uint64_t victims[] = { 2, 3 };
	struct vm_evict_params p = { .tick = 2 };
	expect("aging", 2, refs, NULL, VM_ARRAY_SIZE(refs), &p, 4, victims, 2,
	       "shift registers lose the order within a tick");
	static const uint64_t lru_victims[] = { 2, 1 };
	expect("lru", 2, refs, NULL, VM_ARRAY_SIZE(refs), NULL, 4, lru_victims, 2,
	       "where exact LRU evicts the other page");
}

/*
 * NRU (Tanenbaum §3.4.2), 2 frames.  Without ticks: 1w 2 then 3: classes 3
 * (A, D) and 2 (A): 2 goes.  With a tick every 2 references: after 1w 2 the
 * tick clears A: classes 1 (D) and 0: 2 goes again, then with 3 4: 1 (class 1)
 * against 3 (class 2): 1.
 */
static void nru(void)
{
	static const uint64_t refs[] = { 1, 2, 3 };
	static const bool writes[] = { true, false, false, false };
	static const uint64_t victims[] = { 2 };
	struct vm_evict_params no_tick = { .tick = 1000 };
	expect("nru", 2, refs, writes, 3, &no_tick, 3, victims, 1, "lowest class without ticks");
	static const uint64_t refs2[] = { 1, 2, 3, 4 };
	static const uint64_t victims2[] = { 2, 1 };
	struct vm_evict_params tick = { .tick = 2 };
	expect("nru", 2, refs2, writes, 4, &tick, 4, victims2, 2, "ticks clear the Accessed bits");
}

/* LFU: 1 1 2 3 2, 2 frames: 3 evicts 2 (1 use against 2); 2 evicts 3 (1 use,
 * against 1's 2).  MRU: 1 2 3 1 4, 3 frames: 4 evicts 1, used last. */
static void lfu_mru(void)
{
	static const uint64_t refs[] = { 1, 1, 2, 3, 2 };
	static const uint64_t victims[] = { 2, 3 };
	expect("lfu", 2, refs, NULL, 5, NULL, 4, victims, 2, "the page used least goes");
	static const uint64_t refs2[] = { 1, 2, 3, 1, 4 };
	static const uint64_t victims2[] = { 1 };
	expect("mru", 3, refs2, NULL, 5, NULL, 4, victims2, 1, "the page used last goes");
}

static void random_policy(void)
{
	static uint64_t refs[500];
	struct vm_evict_params p = { .seed = 7 };
	static struct pf_run a;
	for (unsigned i = 0; i < 500; i++)
		refs[i] = (i * 7919u) % 37;
	pf_run("random", 8, refs, NULL, 500, &p, &a);
	pf_run("random", 8, refs, NULL, 500, &p, &r);
	ok(a.misses == r.misses && memcmp(a.victims, r.victims, sizeof(a.victims)) == 0,
	   "random: the same seed, the same victims");
	p.seed = 8;
	pf_run("random", 8, refs, NULL, 500, &p, &r);
	ok(memcmp(a.victims, r.victims, sizeof(a.victims)) != 0, "random: another seed, other victims");
}

int main(void)
{
	arc();
	sieve();
	s3fifo();
	linux_lists();
	clock_hand();
	wsclock();
	aging();
	nru();
	lfu_mru();
	random_policy();
	return done_testing();
}
