/*
 * Paging-structure caches (pwc.c, SDM 4.10.3) on their own and under the
 * radix walk: deepest hit, PCID tags, LRU, flushes, and walks that start
 * lower, read less and give the same result.
 */
#include <errno.h>

#include "tap.h"

#include "base/compiler.h"
#include "hw/pwc.h"
#include "pt_fixture.h"

#define GIB   (UINT64_C(1) << 30)
#define MIB2  (UINT64_C(1) << 21)
#define PERMS (VM_PERM_W | VM_PERM_U | VM_PERM_X)

static const uint32_t sizes_all4[6] = { 0, 0, 4, 4, 4, 4 };

static unsigned lookup(struct vm_pwc *c, uint16_t pcid, vm_vaddr va, unsigned top,
		       uint64_t *pfn, unsigned *perm)
{
	*pfn = UINT64_MAX;
	*perm = 0xff;
	return vm_pwc_lookup(c, pcid, va, top, pfn, perm);
}

static void test_init(void)
{
	struct vm_host host = { 0 };
	struct vm_pwc c;
	static const uint32_t sizes[6] = { 9, 9, 4, 2, 0, 1 };
	uint64_t pfn;
	unsigned perm;

	is_i64(vm_pwc_init(&c, sizes, &host), 0, "init");
	ok(c.lvl[2].n == 4 && c.lvl[3].n == 2 && c.lvl[4].n == 0 && c.lvl[5].n == 1,
	   "entries per level as asked, levels 0-1 ignored");
	is_u64(host.allocs, 3, "one array per cached level, nothing for level 4");
	is_u64(lookup(&c, 0, 0, 5, &pfn, &perm), 0, "empty: miss, even for va 0 and PCID 0");
	vm_pwc_fill(&c, 0, 0, 4, 7, PERMS);
	is_u64(lookup(&c, 0, 0, 5, &pfn, &perm), 0, "a level with no entries caches nothing");
	vm_pwc_fini(&c, &host);
	is_u64(host.frees, host.allocs, "fini frees every array");

	for (uint64_t n = 1; n <= 3; n++) {
		struct vm_host h = { .fail_at = n };
		is_i64(vm_pwc_init(&c, sizes, &h), -ENOMEM, "allocation %" PRIu64 " fails: -ENOMEM", n);
		ok(h.frees == h.allocs && c.lvl[2].n == 0 && c.lvl[5].n == 0,
		   "nothing leaked, nothing left half built");
	}
}

static void test_deepest(void)
{
	struct vm_host host = { 0 };
	struct vm_pwc c;
	uint64_t pfn;
	unsigned perm;
	vm_vaddr va = UINT64_C(0x7f8040201000);

	vm_pwc_init(&c, sizes_all4, &host);
	vm_pwc_fill(&c, 1, va, 4, 40, VM_PERM_U | VM_PERM_W | VM_PERM_X);
	vm_pwc_fill(&c, 1, va, 3, 30, VM_PERM_U | VM_PERM_X);
	vm_pwc_fill(&c, 1, va, 2, 20, VM_PERM_U);
	ok(lookup(&c, 1, va + 0xfff, 4, &pfn, &perm) == 1 && pfn == 20 && perm == VM_PERM_U,
	   "PDE-cache hit: read the page table next, with the PDE's rights");
	ok(lookup(&c, 1, va + MIB2, 4, &pfn, &perm) == 2 && pfn == 30 &&
	   perm == (VM_PERM_U | VM_PERM_X), "next 2 MiB: PDPTE-cache hit");
	ok(lookup(&c, 1, va + GIB, 4, &pfn, &perm) == 3 && pfn == 40 && perm == PERMS,
	   "next 1 GiB: PML4E-cache hit");
	is_u64(lookup(&c, 1, va + 512 * GIB, 4, &pfn, &perm), 0, "next 512 GiB: miss");
	ok(pfn == UINT64_MAX && perm == 0xff, "a miss writes nothing");

	vm_vaddr kva = UINT64_C(0xff00000000000000);
	vm_pwc_fill(&c, 1, kva, 5, 50, VM_PERM_X);
	is_u64(lookup(&c, 1, kva, 4, &pfn, &perm), 0, "PML5E entry unused by a 4-level walk");
	ok(lookup(&c, 1, kva, 5, &pfn, &perm) == 4 && pfn == 50, "used by a 5-level walk");
	ok(lookup(&c, 1, kva + (UINT64_C(1) << 47), 5, &pfn, &perm) == 4,
	   "the PML5E covers bits 56:48 only");
	vm_pwc_fini(&c, &host);
}

static void test_pcid(void)
{
	struct vm_host host = { 0 };
	struct vm_pwc c;
	uint64_t pfn;
	unsigned perm;

	vm_pwc_init(&c, sizes_all4, &host);
	vm_pwc_fill(&c, 1, 0x200000, 2, 11, PERMS);
	is_u64(lookup(&c, 2, 0x200000, 4, &pfn, &perm), 0, "another PCID misses");
	vm_pwc_fill(&c, 2, 0x200000, 2, 22, PERMS);
	ok(lookup(&c, 1, 0x200000, 4, &pfn, &perm) == 1 && pfn == 11, "PCID 1 keeps its entry");
	ok(lookup(&c, 2, 0x200000, 4, &pfn, &perm) == 1 && pfn == 22, "PCID 2 has its own");

	vm_pwc_fill(&c, 1, GIB, 3, 33, PERMS);
	vm_pwc_flush_pcid(&c, 1);
	ok(lookup(&c, 1, 0x200000, 4, &pfn, &perm) == 0 && lookup(&c, 1, GIB, 4, &pfn, &perm) == 0,
	   "flush PCID 1: its entries gone at every level");
	ok(lookup(&c, 2, 0x200000, 4, &pfn, &perm) == 1 && pfn == 22, "PCID 2 untouched");
	vm_pwc_flush_all(&c);
	is_u64(lookup(&c, 2, 0x200000, 4, &pfn, &perm), 0, "flush all: PCID 2 gone too");
	vm_pwc_fini(&c, &host);
}

static void test_lru(void)
{
	struct vm_host host = { 0 };
	struct vm_pwc c;
	uint64_t pfn;
	unsigned perm, hits = 0;

	vm_pwc_init(&c, sizes_all4, &host);
	for (unsigned i = 0; i < 4; i++)
		vm_pwc_fill(&c, 0, i * MIB2, 2, 100 + i, PERMS);
	lookup(&c, 0, 0, 4, &pfn, &perm);                    /* key 0 becomes the newest */
	vm_pwc_fill(&c, 0, 2 * MIB2, 2, 99, PERMS);         /* refill: key 2 newer still */
	vm_pwc_fill(&c, 0, 4 * MIB2, 2, 104, PERMS);        /* evicts key 1, the oldest */
	is_u64(lookup(&c, 0, 1 * MIB2, 4, &pfn, &perm), 0, "the least recently used entry went");
	static const uint64_t want[] = { 100, UINT64_MAX, 99, 103, 104 };
	for (unsigned i = 0; i < 5; i++)
		hits += i != 1 && lookup(&c, 0, i * MIB2, 4, &pfn, &perm) == 1 && pfn == want[i];
	is_u64(hits, 4, "the others stay; a refill replaced its key's entry in place");
	vm_pwc_fill(&c, 0, 5 * MIB2, 2, 105, PERMS);         /* now key 0 is the oldest... */
	vm_pwc_fill(&c, 0, 6 * MIB2, 2, 106, PERMS);         /* ...then key 2 */
	ok(lookup(&c, 0, 0, 4, &pfn, &perm) == 0 && lookup(&c, 0, 2 * MIB2, 4, &pfn, &perm) == 0,
	   "eviction follows the lookups' order");
	ok(lookup(&c, 0, 3 * MIB2, 4, &pfn, &perm) == 1 && pfn == 103, "key 3, used later, stays");

	/* with a free slot left, a refill must still replace, not add: a
	 * second entry for the key would leave the first one answering */
	vm_pwc_flush_all(&c);
	vm_pwc_fill(&c, 0, 0, 2, 1, PERMS);
	vm_pwc_fill(&c, 0, MIB2, 2, 2, PERMS);
	vm_pwc_fill(&c, 0, 0, 2, 3, PERMS);
	ok(lookup(&c, 0, 0, 4, &pfn, &perm) == 1 && pfn == 3, "a refill replaces the key's entry");
	vm_pwc_fini(&c, &host);
}

/* ---- under the walk ---- */

static int walk(struct fx *f, struct vm_pwc *c, uint16_t pcid, vm_vaddr va, unsigned acc,
		struct vm_walk *w)
{
	return f->pt.ops->walk(&f->pt, va, acc, &f->ctl, c, pcid, w);
}

/* A table of `type` with one user page (read/write) at va, caches of 4
 * entries a level, and the physical addresses of va's entries in pas. */
static struct fx *walk_fixture(const char *type, vm_vaddr va, struct vm_pwc *c,
			       uint64_t pas[VM_LEVELS_MAX])
{
	struct fx *f = fx_new(type);

	vm_pwc_init(c, sizes_all4, &f->host);
	f->pt.ops->map(&f->pt, va, 5, VM_PSIZE_4K, VM_PTE_RW | VM_PTE_US);
	fx_path(f, va, pas);
	return f;
}

static void walk_fixture_free(struct fx *f, struct vm_pwc *c)
{
	vm_pwc_fini(c, &f->host);
	fx_delete(f);
}

static bool same_result(const struct vm_walk *a, const struct vm_walk *b)
{
	return a->pbase == b->pbase && a->size == b->size && a->perm == b->perm &&
	       a->pkey == b->pkey && a->leaf_pa.v == b->leaf_pa.v && a->error == b->error;
}

static void test_walk(void)
{
	struct vm_pwc c;
	struct vm_walk cold, warm, w;
	vm_vaddr va = UINT64_C(0x7f8040201000), va2m = UINT64_C(0x7f8040400000);
	uint64_t pas[VM_LEVELS_MAX], pfn;
	unsigned perm, ur = VM_ACC_READ | VM_ACC_USER;
	struct fx *f = walk_fixture("radix4", va, &c, pas);

	f->pt.ops->map(&f->pt, va2m, 512, VM_PSIZE_2M, VM_PTE_US);

	is_i64(walk(f, &c, 3, va, ur, &cold), 0, "first walk");
	ok(cold.nrefs == 4 && cold.start_level == 4, "misses: 4 references from the top");
	ok(lookup(&c, 3, va, 4, &pfn, &perm) == 1 && pfn == pas[3] >> 12 && perm == PERMS,
	   "it filled the PDE cache with the page table's frame");
	is_i64(walk(f, &c, 3, va, VM_ACC_READ | VM_ACC_USER, &warm), 0, "second walk");
	ok(warm.nrefs == 1 && warm.start_level == 1 && warm.ref[0].pa.v == pas[3],
	   "PDE-cache hit: one reference, the PTE");
	ok(same_result(&cold, &warm), "same translation and rights");

	is_i64(walk(f, &c, 3, va2m + 0x5000, ur, &w), 0, "the 2 MiB page next door");
	ok(w.nrefs == 1 && w.start_level == 2 && w.size == VM_PSIZE_2M && w.ref[0].level == 2,
	   "PDPTE-cache hit: one reference, the PDE leaf");
	ok(w.perm == (VM_PERM_U | VM_PERM_X), "rights of the 2 MiB leaf");
	is_i64(walk(f, &c, 4, va, ur, &w), 0, "another PCID");
	is_u64(w.nrefs, 4, "walks from the top");
	is_i64(walk(f, &c, 3, va + 0x1000, ur, &w), 1, "a not-present PTE under a cached PDE");
	ok(w.nrefs == 1 && w.error == VM_PF_U, "one reference, P = 0 fault");
	walk_fixture_free(f, &c);
}

static void test_walk_stale(void)
{
	struct vm_pwc c;
	struct vm_walk w;
	vm_vaddr va = UINT64_C(0x7f8040201000);
	uint64_t pas[VM_LEVELS_MAX], pfn;
	unsigned perm, uw = VM_ACC_WRITE | VM_ACC_USER;
	struct fx *f = walk_fixture("radix4", va, &c, pas);

	walk(f, &c, 3, va, uw, &w);
	fx_set_word(f, pas[1], fx_word(f, pas[1]) & ~VM_PTE_RW);
	is_i64(walk(f, &c, 3, va, uw, &w), 0, "PDPTE made read-only, but cached rights allow");
	ok(w.nrefs == 1 && (w.perm & VM_PERM_W), "a hit uses the rights cached with the entry");
	vm_pwc_flush_pcid(&c, 3);
	is_i64(walk(f, &c, 3, va, uw, &w), 1, "after the flush the walk sees R/W = 0");
	ok(w.nrefs == 4 && w.error == (VM_PF_P | VM_PF_W | VM_PF_U), "from the top, protection fault");
	ok(lookup(&c, 3, va, 4, &pfn, &perm) == 1 && !(perm & VM_PERM_W),
	   "the refilled entry carries the reduced rights");
	fx_set_word(f, pas[1], fx_word(f, pas[1]) | VM_PTE_RW);
	is_i64(walk(f, &c, 3, va, uw, &w), 1, "PDPTE writable again, but a hit keeps cached rights");
	ok(w.nrefs == 1 && !(w.perm & VM_PERM_W), "one reference, no W");

	/* a reserved bit in the PDE: the walk faults there and does not cache it */
	vm_pwc_flush_all(&c);
	f->ctl.maxphyaddr = 46;
	fx_set_word(f, pas[2], fx_word(f, pas[2]) | (UINT64_C(1) << 50));
	is_i64(walk(f, &c, 3, va, uw, &w), 1, "RSVD in the PDE");
	ok((w.error & VM_PF_RSVD) && w.nrefs == 3, "fault at the third reference");
	ok(lookup(&c, 3, va, 4, &pfn, &perm) == 2 && pfn == pas[2] >> 12,
	   "the PDPTE above it is cached, the faulty PDE is not");
	walk_fixture_free(f, &c);
}

/* Entries are filled only once A = 1: after a cold walk, every non-leaf
 * entry the cache now stands for has A set in memory. */
static void test_walk_accessed(void)
{
	struct vm_pwc c;
	struct vm_walk w;
	vm_vaddr va = UINT64_C(0x00ab800000003000);
	uint64_t pas[VM_LEVELS_MAX];
	unsigned young = 0;
	struct fx *f = walk_fixture("radix5", va, &c, pas);

	is_i64(walk(f, &c, 0, va, VM_ACC_READ, &w), 0, "radix5 cold walk");
	is_u64(w.nrefs, 5, "5 references");
	for (unsigned i = 0; i + 1 < VM_LEVELS_MAX; i++)
		young += (fx_word(f, pas[i]) & VM_PTE_A) != 0;
	is_u64(young, 4, "A in the 4 non-leaf entries the cache now holds");
	is_i64(walk(f, &c, 0, va, VM_ACC_READ, &w), 0, "warm walk");
	ok(w.nrefs == 1 && w.ref[0].pa.v == pas[4], "one reference in 5-level mode too");
	walk_fixture_free(f, &c);
}

int main(void)
{
	test_init();
	test_deepest();
	test_pcid();
	test_lru();
	test_walk();
	test_walk_stale();
	test_walk_accessed();
	return done_testing();
}
