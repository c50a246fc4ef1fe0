/*
 * Unit tests for the VMA index (src/kernel/vma.c, vma_tree.c, vma_gap.c):
 * hand-built layouts with known answers, random insert/remove/find/update
 * sequences against a sorted-array reference at sizes up to 100,000 (and
 * back to empty), the free-area search against a brute-force scan of the
 * reference's gaps, the validator catching corruption of every field, the
 * node memory (slabs, not one host allocation per link; all of it back when
 * the tree empties) and injected host failures.
 */
#include <errno.h>
#include <stdbool.h>

#include "tap.h"

#include "base/compiler.h"
#include "base/rng.h"
#include "kernel/kernel.h"
#include "kernel/mm.h"
#include "kernel/vma_tree.h"

#define PG 4096u
#define MAXV 100000u

struct ref {
	struct vm_vma *v[MAXV];   /* sorted by vm_start */
	unsigned n;
};

static struct vm_vma pool[MAXV];
static struct ref ref;

static bool sound(const struct vm_mm *mm)
{
	char msg[200];
	int err = vm_vma_tree_check(mm, msg, sizeof(msg));
	if (err)
		diag("vm_vma_tree_check: %s", msg);
	return err == 0;
}

/* Unlink every VMA (the tree gives its memory back when it empties). */
static void clear(struct vm_mm *mm)
{
	struct vm_vma *v = vm_vma_first(mm), *next;

	for (; v; v = next) {
		next = vm_vma_next(v);
		vm_vma_unlink(mm, v);
	}
}

static struct vm_vma *mk(unsigned i, vm_vaddr start, vm_vaddr end, uint64_t flags)
{
	struct vm_vma *v = &pool[i];
	memset(v, 0, sizeof(*v));
	v->vm_start = start;
	v->vm_end = end;
	v->vm_flags = flags;
	return v;
}

/* Reference: index of the first VMA with vm_end > addr (n if none). */
static unsigned ref_find(vm_vaddr addr)
{
	unsigned lo = 0, hi = ref.n;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (ref.v[mid]->vm_end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void ref_insert(struct vm_vma *v)
{
	unsigned i = ref_find(v->vm_start);
	memmove(&ref.v[i + 1], &ref.v[i], (ref.n - i) * sizeof(ref.v[0]));
	ref.v[i] = v;
	ref.n++;
}

static void ref_remove(unsigned i)
{
	memmove(&ref.v[i], &ref.v[i + 1], (ref.n - i - 1) * sizeof(ref.v[0]));
	ref.n--;
}

/* Brute force over the reference's gaps with Linux's rule: the highest (or
 * lowest) gap whose part inside [low, high) holds length + align_mask. */
static long brute(const struct vm_unmapped_area_info *in, uint64_t guard)
{
	uint64_t need = in->length + in->align_mask;
	if (need < in->length)
		return -ENOMEM;
	for (unsigned k = 0; k <= ref.n; k++) {
		unsigned i = in->topdown ? ref.n - k : k;
		uint64_t gs = i ? ref.v[i - 1]->vm_end : 0;
		uint64_t ge = UINT64_MAX;
		if (i < ref.n)
			ge = vm_vma_start_gap(ref.v[i], guard);
		uint64_t cs = VM_MAX(gs, in->low_limit), ce = VM_MIN(ge, in->high_limit);
		if (ce <= cs || ce - cs < need)
			continue;
		if (in->topdown) {
			uint64_t a = ce - in->length;
			return (long)(a - ((a - in->align_offset) & in->align_mask));
		}
		return (long)(cs + ((in->align_offset - cs) & in->align_mask));
	}
	return -ENOMEM;
}

static void test_empty(void)
{
	struct vm_mm mm = { 0 };
	struct vm_vma *prev = (struct vm_vma *)1;

	ok(vm_find_vma(&mm, 0) == NULL, "empty: find_vma(0) is NULL");
	ok(vm_find_vma_prev(&mm, 12345, &prev) == NULL && prev == NULL, "empty: find_vma_prev");
	ok(vm_vma_first(&mm) == NULL, "empty: no first VMA");
	ok(sound(&mm), "empty tree is valid");
	struct vm_unmapped_area_info td = { .topdown = true, .length = 2 * PG, .low_limit = PG,
					    .high_limit = 0x7ffff7fff000 };
	is_i64(vm_unmapped_area(&mm, &td), 0x7ffff7ffd000, "empty: top-down ends at high_limit");
	td.topdown = false;
	is_i64(vm_unmapped_area(&mm, &td), PG, "empty: bottom-up starts at low_limit");
	td.length = 0x7ffff7fff000;
	is_i64(vm_unmapped_area(&mm, &td), -ENOMEM, "empty: longer than the window");
	td.length = UINT64_MAX - 100;
	td.align_mask = 0x1ff000;
	is_i64(vm_unmapped_area(&mm, &td), -ENOMEM, "length + align_mask wraps");
}

static void test_known(void)
{
	struct vm_kernel k = { 0 };
	struct vm_mm mm = { .k = &k };
	struct vm_vma *a = mk(0, 0x10000, 0x20000, VM_READ);
	struct vm_vma *b = mk(1, 0x40000, 0x50000, VM_READ);
	struct vm_vma *c = mk(2, 0x30000, 0x38000, VM_READ);
	struct vm_vma *prev;

	k.cfg.stack_guard_gap = 0x8000;
	vm_vma_link(&mm, a);
	vm_vma_link(&mm, b);
	vm_vma_link(&mm, c);
	ok(sound(&mm), "three VMAs: valid");
	is_u64(mm.map_count, 3, "map_count 3");
	ok(vm_vma_first(&mm) == a && vm_vma_next(a) == c && vm_vma_next(c) == b &&
	   vm_vma_next(b) == NULL && vm_vma_prev(b) == c && vm_vma_prev(a) == NULL,
	   "threaded in address order");
	ok(vm_find_vma(&mm, 0) == a, "find_vma below the first: the first");
	ok(vm_find_vma(&mm, 0x1ffff) == a, "find_vma last byte of a");
	ok(vm_find_vma(&mm, 0x20000) == c, "find_vma at a's end: next VMA (hole)");
	ok(vm_vma_lookup(&mm, 0x20000) == NULL, "vma_lookup in a hole: NULL");
	ok(vm_vma_lookup(&mm, 0x30000) == c, "vma_lookup at c's start");
	ok(vm_find_vma(&mm, 0x50000) == NULL, "find_vma past the last: NULL");
	ok(vm_find_vma_prev(&mm, 0x50000, &prev) == NULL && prev == b, "find_vma_prev past the end");
	ok(vm_find_vma_prev(&mm, 0x38000, &prev) == b && prev == c, "find_vma_prev in a hole");

	struct vm_unmapped_area_info in = { .topdown = true, .length = 0x8000, .low_limit = PG,
					    .high_limit = 0x50000 };
	is_i64(vm_unmapped_area(&mm, &in), 0x38000, "top-down: the 0x8000 hole between c and b");
	in.length = 0x9000;
	is_i64(vm_unmapped_area(&mm, &in), 0x20000 + 0x10000 - 0x9000,
	       "top-down: 0x9000 only fits between a and c");
	in.length = 0x11000;
	is_i64(vm_unmapped_area(&mm, &in), -ENOMEM, "top-down: 0x11000 fits nowhere below 0x50000");
	in.high_limit = 0x100000;
	is_i64(vm_unmapped_area(&mm, &in), 0x100000 - 0x11000, "top-down: above the last VMA");
	in.topdown = false;
	in.length = 0x8000;
	is_i64(vm_unmapped_area(&mm, &in), PG, "bottom-up: below a");
	in.low_limit = 0x10000;
	is_i64(vm_unmapped_area(&mm, &in), 0x20000, "bottom-up: above a");
	in.align_mask = 0xf000;
	in.length = 0x1000;
	in.low_limit = 0x11000;
	is_i64(vm_unmapped_area(&mm, &in), 0x20000,
	       "bottom-up, 64 KiB aligned: the 0x10000 hole holds length + mask exactly");
	in.align_mask = 0x1f000;
	is_i64(vm_unmapped_area(&mm, &in), 0x60000,
	       "bottom-up, 128 KiB aligned: no hole holds length + mask, the top one is aligned up");

	/* A stack: its guard gap belongs to it. */
	b->vm_flags |= VM_GROWSDOWN;
	vm_vma_update_gaps(&mm, b);
	ok(sound(&mm), "flag change + update_gaps: valid");
	in = (struct vm_unmapped_area_info){ .topdown = true, .length = 0x8000, .low_limit = PG,
					     .high_limit = 0x50000 };
	is_i64(vm_unmapped_area(&mm, &in), 0x20000 + 0x8000,
	       "top-down: the hole below the stack is eaten by its guard gap");

	/* Grow a VMA in place. */
	c->vm_start = 0x28000;
	vm_vma_update_gaps(&mm, c);
	ok(sound(&mm), "vm_start moved + update_gaps: valid");
	c->vm_start = 0x36000;
	ok(!sound(&mm), "vm_start moved without update_gaps: the checker sees stale gaps");
	c->vm_start = 0x30000;
	vm_vma_update_gaps(&mm, c);

	vm_vma_unlink(&mm, c);
	ok(sound(&mm) && mm.map_count == 2 && vm_vma_next(a) == b, "unlink the middle");
	vm_vma_unlink(&mm, a);
	vm_vma_unlink(&mm, b);
	ok(sound(&mm) && mm.vma_tree.root == NULL && mm.map_count == 0, "unlink all");
	ok(mm.vma_tree.slabs == NULL && mm.vma_tree.nfree == 0, "unlink all: node memory given back");
}

/* The VMA at entry i of the leftmost leaf, and that leaf. */
static struct vm_vma_bnode *first_leaf(const struct vm_mm *mm)
{
	struct vm_vma_bnode *n = mm->vma_tree.root;
	while (!n->leaf)
		n = n->child[0];
	return n;
}

static void test_corruption(void)
{
	struct vm_mm mm = { 0 };
	for (unsigned i = 0; i < 300; i++)
		vm_vma_link(&mm, mk(i, (uint64_t)(i + 1) * 0x10000, (uint64_t)(i + 1) * 0x10000 + PG, 0));
	ok(sound(&mm), "300 VMAs valid");
	ok(mm.vma_tree.height >= 3, "300 VMAs: at least three levels (%u)", mm.vma_tree.height);

	struct vm_vma_bnode *root = mm.vma_tree.root, *leaf = first_leaf(&mm);
	leaf->gap[1]++;
	ok(!sound(&mm), "a wrong gap in a leaf is caught");
	leaf->gap[1]--;
	leaf->key[2]++;
	ok(!sound(&mm), "a leaf key that is not vm_end is caught");
	leaf->key[2]--;
	root->gap[0]++;
	ok(!sound(&mm), "a wrong largest-gap summary is caught");
	root->gap[0]--;
	root->key[0] += PG;
	ok(!sound(&mm), "a wrong largest-key summary is caught");
	root->key[0] -= PG;
	leaf->sum_gap++;
	ok(!sound(&mm), "a stale copy of the summary above a node is caught");
	leaf->sum_gap--;
	mm.map_count++;
	ok(!sound(&mm), "a wrong map_count is caught");
	mm.map_count--;
	struct vm_vma_bnode *c1 = root->child[1];
	c1->parent = root->child[0];
	ok(!sound(&mm), "a wrong parent link is caught");
	c1->parent = root;
	struct vm_vma *v = leaf->vma[3];
	v->node.leaf = root;
	ok(!sound(&mm), "a wrong leaf link in a VMA is caught");
	v->node.leaf = leaf;
	v->node.prev = NULL;
	ok(!sound(&mm), "a broken prev link is caught");
	v->node.prev = leaf->vma[2];
	struct vm_vma *t = leaf->vma[4];
	leaf->vma[4] = leaf->vma[5];
	leaf->vma[5] = t;
	ok(!sound(&mm), "two VMAs swapped in a leaf are caught");
	leaf->vma[5] = leaf->vma[4];
	leaf->vma[4] = t;
	uint8_t nr = leaf->nr;
	leaf->nr = VMA_MIN_FILL - 1;
	ok(!sound(&mm), "a leaf below the minimum fill is caught");
	leaf->nr = nr;
	leaf->key[nr] = 0;
	ok(!sound(&mm), "an unused entry not clear is caught");
	leaf->key[nr] = VMA_KEY_NONE;
	mm.vma_tree.nfree++;
	ok(!sound(&mm), "a wrong free-node count is caught");
	mm.vma_tree.nfree--;
	pool[5].vm_end = pool[6].vm_start + PG;
	ok(!sound(&mm), "an overlap is caught");
	pool[5].vm_end = pool[5].vm_start + PG;
	pool[7].vm_end = pool[7].vm_start + 100;
	ok(!sound(&mm), "an unaligned end is caught");
	pool[7].vm_end = pool[7].vm_start + PG;
	ok(sound(&mm), "restored: valid again");
	clear(&mm);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Random page counts 1..16 (stacks: VM_GROWSDOWN one time in 8) at random
 * places of a 2^30-page space, n of them, linked in random order; the
 * reference gets them sorted. */
static void prefill(struct vm_mm *mm, struct vm_rng *rng, unsigned n)
{
	static uint64_t page[MAXV + 1];
	static unsigned order[MAXV];
	unsigned m = 0;

	for (unsigned i = 0; i < n; i++)
		page[i] = vm_rng_below(rng, UINT64_C(1) << 30);
	qsort(page, n, sizeof(page[0]), cmp_u64);
	for (unsigned i = 0; i < n; i++)
		if (!m || page[i] != page[m - 1])
			page[m++] = page[i];
	page[m] = UINT64_C(1) << 30;
	for (unsigned i = 0; i < m; i++) {
		uint64_t len = 1 + vm_rng_below(rng, 16);
		len = VM_MIN(len, page[i + 1] - page[i]);
		ref.v[i] = mk(i, page[i] * PG, (page[i] + len) * PG,
			      vm_rng_below(rng, 8) == 0 ? VM_GROWSDOWN : 0);
		order[i] = i;
	}
	ref.n = m;
	for (unsigned i = m; i > 1; i--) {
		unsigned j = (unsigned)vm_rng_below(rng, i), t = order[i - 1];
		order[i - 1] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < m; i++)
		vm_vma_link(mm, &pool[order[i]]);
}

/* Random operations against the reference, starting from `fill` VMAs:
 * links (by descent or next to the known predecessor), unlinks, ends moved
 * in place, each followed by a find at a random address and at a VMA's
 * edges and (often) a free-area search against brute force; the tree is
 * validated every `every` steps.  Then every VMA is unlinked in random
 * order (validated every `every` unlinks) down to the empty tree. */
static void random_run(uint64_t seed, unsigned nmax, unsigned fill, unsigned steps, unsigned every)
{
	struct vm_kernel k = { 0 };
	struct vm_mm mm = { .k = &k };
	struct vm_rng rng;
	unsigned used, bad_find = 0, bad_area = 0, areas = 0;
	bool valid = true;
	static struct vm_vma *freelist[MAXV];
	unsigned nfree = 0, height = 0;

	k.cfg.stack_guard_gap = 256 * PG;
	vm_rng_seed(&rng, seed);
	ref.n = 0;
	prefill(&mm, &rng, fill);
	used = ref.n;
	valid = sound(&mm);
	for (unsigned s = 0; s < steps; s++) {
		uint64_t r = vm_rng_below(&rng, 100);
		if ((r < 60 && ref.n < nmax) || ref.n == 0) {
			/* Insert a random free range of 1..16 pages in a 2^30-page space. */
			uint64_t start = vm_rng_below(&rng, UINT64_C(1) << 30) * PG;
			uint64_t len = (1 + vm_rng_below(&rng, 16)) * PG;
			unsigned i = ref_find(start);
			if (i < ref.n && ref.v[i]->vm_start < start + len)
				continue;
			struct vm_vma *v = nfree ? freelist[--nfree] : &pool[used++];
			memset(v, 0, sizeof(*v));
			v->vm_start = start;
			v->vm_end = start + len;
			v->vm_flags = vm_rng_below(&rng, 8) == 0 ? VM_GROWSDOWN : 0;
			if (vm_rng_below(&rng, 2))
				vm_vma_link(&mm, v);
			else
				vm_vma_link_after(&mm, v, i ? ref.v[i - 1] : NULL);
			ref_insert(v);
		} else if (r < 90) {
			unsigned i = (unsigned)vm_rng_below(&rng, ref.n);
			struct vm_vma *v = ref.v[i];
			vm_vma_unlink(&mm, v);
			ref_remove(i);
			freelist[nfree++] = v;
		} else {
			/* Move an end in place, staying clear of the neighbours. */
			unsigned i = (unsigned)vm_rng_below(&rng, ref.n);
			struct vm_vma *v = ref.v[i];
			uint64_t lim = i + 1 < ref.n ? ref.v[i + 1]->vm_start : v->vm_end + 8 * PG;
			if (vm_rng_below(&rng, 2)) {
				v->vm_end = v->vm_start + PG + vm_rng_below(&rng, (lim - v->vm_start) / PG) * PG;
			} else {
				uint64_t base = i ? ref.v[i - 1]->vm_end : 0;
				v->vm_start = v->vm_end - PG - vm_rng_below(&rng, VM_MIN((v->vm_end - base) / PG, 64)) * PG;
			}
			vm_vma_update_gaps(&mm, v);
		}
		if (mm.vma_tree.height > height)
			height = mm.vma_tree.height;
		if (mm.map_count != ref.n)
			valid = false;
		if (every && s % every == 0 && !sound(&mm))
			valid = false;
		/* find_vma at a random address and at a VMA's edges. */
		uint64_t a = vm_rng_below(&rng, UINT64_C(1) << 30) * PG + vm_rng_below(&rng, PG);
		unsigned i = ref_find(a);
		if (vm_find_vma(&mm, a) != (i < ref.n ? ref.v[i] : NULL))
			bad_find++;
		if (ref.n) {
			unsigned j = (unsigned)vm_rng_below(&rng, ref.n);
			struct vm_vma *v = ref.v[j], *prev;
			if (vm_vma_lookup(&mm, v->vm_end - 1) != v || vm_vma_lookup(&mm, v->vm_start) != v ||
			    vm_find_vma_prev(&mm, v->vm_start, &prev) != v || prev != (j ? ref.v[j - 1] : NULL))
				bad_find++;
			if (vm_vma_first(&mm) != ref.v[0] || vm_vma_last(&mm) != ref.v[ref.n - 1])
				bad_find++;
		}
		/* The free-area search against brute force (cheap enough for small n;
		 * at the end of the run, 2,000 in a row whatever n). */
		for (unsigned q = 0; q < (s + 1 == steps ? 2000u : 1u); q++) {
			if (ref.n > 2000 && s % 64 && s + 1 != steps)
				break;
			struct vm_unmapped_area_info in = {
				.topdown = vm_rng_below(&rng, 2),
				.length = (1 + vm_rng_below(&rng, 1 << vm_rng_below(&rng, 14))) * PG,
				.low_limit = vm_rng_below(&rng, UINT64_C(1) << 29) * PG,
				.align_mask = vm_rng_below(&rng, 3) ? 0 : 0x1ff000,
				.align_offset = vm_rng_below(&rng, 4) ? 0 : vm_rng_below(&rng, 512) * PG,
			};
			in.high_limit = in.low_limit + vm_rng_below(&rng, UINT64_C(1) << 30) * PG;
			long got = vm_unmapped_area(&mm, &in), want = brute(&in, k.cfg.stack_guard_gap);
			areas++;
			if (got != want) {
				if (bad_area++ < 3)
					diag("unmapped_area(%s len %#" PRIx64 " [%#" PRIx64 ", %#" PRIx64
					     ") mask %#" PRIx64 "): got %#lx want %#lx",
					     in.topdown ? "top-down" : "bottom-up", in.length, in.low_limit,
					     in.high_limit, in.align_mask, (unsigned long)got,
					     (unsigned long)want);
			}
		}
	}
	ok(valid && sound(&mm), "seed %" PRIu64 ": %u VMAs, %u steps up to %u VMAs (height %u): "
	   "tree valid throughout", seed, fill, steps, nmax, height);
	is_u64(bad_find, 0, "seed %" PRIu64 ": find_vma / vma_lookup / find_vma_prev / first / last "
	       "agree with the sorted array", seed);
	is_u64(bad_area, 0, "seed %" PRIu64 ": %u free-area searches agree with brute force", seed,
	       areas);
	/* In-order walk equals the reference. */
	unsigned j = 0;
	bool same = true;
	for (struct vm_vma *v = vm_vma_first(&mm); v; v = vm_vma_next(v), j++)
		if (j >= ref.n || ref.v[j] != v)
			same = false;
	ok(same && j == ref.n, "seed %" PRIu64 ": in-order walk equals the sorted array", seed);

	/* Drain in random order: every merge and root collapse on the way. */
	for (unsigned i = ref.n; i > 1; i--) {
		unsigned x = (unsigned)vm_rng_below(&rng, i);
		struct vm_vma *t = ref.v[i - 1];
		ref.v[i - 1] = ref.v[x];
		ref.v[x] = t;
	}
	valid = true;
	for (unsigned i = 0; i < ref.n; i++) {
		vm_vma_unlink(&mm, ref.v[i]);
		if (every && i % every == 0 && !sound(&mm))
			valid = false;
	}
	ok(valid && sound(&mm) && mm.map_count == 0 && !mm.vma_tree.root && !mm.vma_tree.slabs,
	   "seed %" PRIu64 ": unlinked in random order: valid throughout, empty, memory back", seed);
	ref.n = 0;
}

static void test_large(void)
{
	struct vm_mm mm = { 0 };
	struct vm_rng rng;
	vm_rng_seed(&rng, tap_seed(7));

	/* 100,000 single-page VMAs with one-page holes, linked in random order. */
	static unsigned order[MAXV];
	for (unsigned i = 0; i < MAXV; i++)
		order[i] = i;
	for (unsigned i = MAXV - 1; i > 0; i--) {
		unsigned j = (unsigned)vm_rng_below(&rng, i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < MAXV; i++) {
		uint64_t s = 0x100000000 + (uint64_t)order[i] * 2 * PG;
		vm_vma_link(&mm, mk(order[i], s, s + PG, 0));
	}
	ok(sound(&mm), "100,000 VMAs: valid");
	unsigned bad = 0;
	for (unsigned i = 0; i < MAXV; i++) {
		uint64_t s = 0x100000000 + (uint64_t)i * 2 * PG;
		if (vm_vma_lookup(&mm, s) != &pool[i] || vm_vma_lookup(&mm, s + PG) != NULL ||
		    vm_find_vma(&mm, s + PG) != (i + 1 < MAXV ? &pool[i + 1] : NULL))
			bad++;
	}
	is_u64(bad, 0, "100,000 VMAs: every lookup right");

	/* Only one-page holes: a two-page request goes below or above them all. */
	struct vm_unmapped_area_info in = { .topdown = true, .length = 2 * PG, .low_limit = PG,
					    .high_limit = 0x100000000 + 2 * PG * MAXV - PG };
	is_i64(vm_unmapped_area(&mm, &in), 0x100000000 - 2 * PG, "top-down: below the whole run");
	in.topdown = false;
	in.low_limit = 0x100000000;
	in.high_limit = UINT64_C(1) << 47;
	is_i64(vm_unmapped_area(&mm, &in), 0x100000000 + 2 * PG * MAXV - PG,
	       "bottom-up: after the whole run");
	/* Free one neighbour deep inside: a three-page hole appears there. */
	vm_vma_unlink(&mm, &pool[54321]);
	in.length = 3 * PG;
	is_i64(vm_unmapped_area(&mm, &in), 0x100000000 + 54320 * 2 * PG + PG,
	       "bottom-up: finds the one hole that fits, deep in the tree");
	in.topdown = true;
	in.low_limit = PG;
	in.high_limit = 0x100000000 + 2 * PG * MAXV - PG;
	is_i64(vm_unmapped_area(&mm, &in), 0x100000000 + 54320 * 2 * PG + PG,
	       "top-down: the same hole from above");
	for (unsigned i = 0; i < MAXV; i += 2)
		if (i != 54321)
			vm_vma_unlink(&mm, &pool[i]);
	ok(sound(&mm), "half removed: valid");
	is_u64(mm.map_count, MAXV / 2 - 1, "map_count follows");
	clear(&mm);
}

/* Node memory: a slab now and then, never one host allocation per link;
 * all of it back when the tree empties; injected host failures. */
static void test_memory(void)
{
	struct vm_host host = { 0 };
	struct vm_kernel k = { .host = &host };
	struct vm_mm mm = { .k = &k };

	for (unsigned i = 0; i < MAXV; i++)
		vm_vma_link(&mm, mk(i, 0x100000000 + (uint64_t)i * 2 * PG, 0x100000000 + (uint64_t)i * 2 * PG + PG, 0));
	ok(sound(&mm), "100,000 VMAs linked in address order: valid");
	diag("%" PRIu64 " nodes, height %u, %" PRIu64 " host allocations", mm.vma_tree.nodes,
	     mm.vma_tree.height, host.allocs);
	ok(host.allocs > 0 && host.allocs * 100 < MAXV,
	   "100,000 links: fewer than one host allocation per 100 links (%" PRIu64 ")", host.allocs);
	uint64_t before = host.attempts;
	for (unsigned i = 0; i < MAXV; i += 2)
		vm_vma_unlink(&mm, &pool[i]);
	for (unsigned i = 0; i < MAXV; i += 2)
		vm_vma_link(&mm, &pool[i]);
	ok(sound(&mm) && host.attempts - before < 10,
	   "50,000 unlinks and links again: valid, %" PRIu64 " host allocations", host.attempts - before);
	clear(&mm);
	ok(mm.vma_tree.root == NULL && host.allocs > 0 && host.allocs == host.frees,
	   "emptied: every host allocation freed (%" PRIu64 " / %" PRIu64 ")", host.allocs, host.frees);

	/* The first link of an empty tree needs a slab: fail it. */
	host.fail_at = host.attempts + 1;
	vm_vma_link(&mm, mk(0, 0x10000, 0x20000, 0));
	ok(mm.map_count == 0 && mm.vma_tree.refused == 1 && pool[0].node.leaf == NULL,
	   "link with no node and the host refusing: refused, VMA not in the tree");
	ok(!sound(&mm), "the validator reports the refused link");
	vm_vma_unlink(&mm, &pool[0]);
	vm_vma_update_gaps(&mm, &pool[0]);
	ok(mm.map_count == 0, "unlink and update_gaps of a refused VMA: nothing happens");
	mm.vma_tree.refused = 0;
	host.fail_at = host.attempts + 1;
	is_i64(vm_vma_tree_prealloc(&mm), -ENOMEM, "prealloc, host refuses: -ENOMEM");
	is_i64(vm_vma_tree_prealloc(&mm), 0, "prealloc again: 0");
	host.fail_at = host.attempts + 1;
	vm_vma_link(&mm, mk(0, 0x10000, 0x20000, 0));
	ok(mm.map_count == 1 && sound(&mm), "after prealloc a link needs no host memory");
	host.fail_at = 0;
	clear(&mm);

	/* Any single failure later is absorbed: the reserve refilled after
	 * each link covers the next one, which retries the refill.  Fail each
	 * slab allocation that 2,000 links make after the first, in turn. */
	unsigned slabs = 0;
	bool all = true;
	for (unsigned n = 0; n <= slabs; n++) {
		uint64_t first = 0;
		for (unsigned i = 0; i < 2000; i++) {
			if (i == 1) {
				first = host.attempts;
				host.fail_at = n ? host.attempts + n : 0;
			}
			vm_vma_link(&mm, mk(i, 0x100000 + (uint64_t)i * 2 * PG, 0x100000 + (uint64_t)i * 2 * PG + PG, 0));
		}
		if (n == 0)
			slabs = (unsigned)(host.attempts - first);
		if (!sound(&mm) || mm.map_count != 2000 || (n && host.attempts - first != slabs + 1))
			all = false;
		host.fail_at = 0;
		clear(&mm);
	}
	ok(slabs >= 2 && all, "2,000 links with the host refusing each of their %u slab allocations "
	   "in turn: each failure retried, no link refused", slabs);
	ok(host.allocs == host.frees, "and every host allocation freed");
}

int main(void)
{
	uint64_t seed = tap_seed(1);

	test_empty();
	test_known();
	test_corruption();
	random_run(seed, 50, 0, 20000, 1);
	random_run(seed + 1, 3000, 0, 30000, 97);
	random_run(seed + 2, 40000, 0, tap_long() ? 400000 : 100000, 9973);
	random_run(seed + 3, MAXV, MAXV - 5000, tap_long() ? 100000 : 20000, 4999);
	test_large();
	test_memory();
	return done_testing();
}
