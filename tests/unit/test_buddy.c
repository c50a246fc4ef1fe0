/*
 * Unit tests for the buddy allocator (src/kernel/buddy.c): hand-built states
 * with known answers, bad input, boundary sizes, and a long random sequence
 * against a naive reference (a bitmap of frames searched first-fit).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <time.h>

#include "tap.h"

#include "base/compiler.h"
#include "base/host.h"
#include "base/rng.h"
#include "kernel/buddy.h"

/* Descriptors on the heap (so that ASan sees any access past the end), or
 * for huge memories in a host reservation, as a machine would. */
#define HEAP_LIMIT (UINT64_C(1) << 20)

struct mem {
	struct vm_host host;
	struct vm_page *pages;
	uint64_t nframes;
	struct vm_buddy b;
};

static int mem_init(struct mem *m, uint64_t nframes)
{
	memset(m, 0, sizeof(*m));
	m->nframes = nframes;
	if (nframes <= HEAP_LIMIT)
		m->pages = vm_host_calloc(&m->host, (size_t)nframes, sizeof(struct vm_page));
	else
		m->pages = vm_host_reserve(&m->host, (size_t)nframes * sizeof(struct vm_page));
	if (!m->pages)
		return -ENOMEM;
	vm_buddy_init(&m->b, m->pages, nframes);
	return 0;
}

static void mem_fini(struct mem *m)
{
	if (m->nframes <= HEAP_LIMIT)
		vm_host_free(&m->host, m->pages);
	else
		vm_host_release(&m->host, m->pages, (size_t)m->nframes * sizeof(struct vm_page));
}

/* vm_buddy_check passes; prints its message when it does not. */
static bool valid(const struct vm_buddy *b)
{
	char why[200];
	int err = vm_buddy_check(b, why, sizeof(why));

	if (err)
		diag("vm_buddy_check: %d: %s", err, why);
	return err == 0;
}

/* nfree[] equals want[] (orders not named in want are 0). */
static bool nfree_is(const struct vm_buddy *b, const uint64_t want[VM_MAX_ORDER + 1])
{
	for (unsigned o = 0; o <= VM_MAX_ORDER; o++)
		if (b->nfree[o] != want[o]) {
			diag("nfree[%u] = %" PRIu64 ", want %" PRIu64, o, b->nfree[o], want[o]);
			return false;
		}
	return true;
}

static bool free_head(const struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	const struct vm_page *pg = &b->pages[pfn];
	return vm_page_test(pg, VM_PG_BUDDY) && pg->order == order;
}

/* Free as a caller would: drop the reference first (buddy.h contract). */
static int put_block(struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	if (pfn < b->nframes)
		b->pages[pfn].refcount = 0;
	return vm_buddy_free(b, pfn, order);
}

static void test_init_sizes(void)
{
	struct mem m;

	mem_init(&m, 16);
	uint64_t w16[VM_MAX_ORDER + 1] = { [4] = 1 };
	ok(nfree_is(&m.b, w16) && free_head(&m.b, 0, 4), "64 KiB: one order-4 block");
	is_u64(m.b.free_frames, 16, "64 KiB: 16 free frames");
	ok(valid(&m.b), "64 KiB: valid");
	mem_fini(&m);

	mem_init(&m, 1);
	uint64_t w1[VM_MAX_ORDER + 1] = { [0] = 1 };
	ok(nfree_is(&m.b, w1) && valid(&m.b), "one frame: one order-0 block");
	mem_fini(&m);

	/* 1000 = 512 + 256 + 128 + 64 + 32 + 8 */
	mem_init(&m, 1000);
	uint64_t w1000[VM_MAX_ORDER + 1] = { [9] = 1, [8] = 1, [7] = 1, [6] = 1, [5] = 1, [3] = 1 };
	ok(nfree_is(&m.b, w1000) && free_head(&m.b, 0, 9) && free_head(&m.b, 512, 8) &&
	   free_head(&m.b, 768, 7) && free_head(&m.b, 896, 6) && free_head(&m.b, 960, 5) &&
	   free_head(&m.b, 992, 3), "1000 frames: largest aligned blocks, in pfn order");
	ok(valid(&m.b), "1000 frames: valid");
	mem_fini(&m);

	/* 1 GiB + 12 KiB: orders 18, 1, 0 */
	mem_init(&m, (UINT64_C(1) << 18) + 3);
	uint64_t wg[VM_MAX_ORDER + 1] = { [18] = 1, [1] = 1, [0] = 1 };
	ok(nfree_is(&m.b, wg) && free_head(&m.b, 0, 18) && free_head(&m.b, 262144, 1) &&
	   free_head(&m.b, 262146, 0), "1 GiB + 12 KiB: orders 18, 1, 0");
	ok(valid(&m.b), "1 GiB + 12 KiB: valid");
	uint64_t pfn = 0;
	is_i64(vm_buddy_alloc(&m.b, 18, &pfn), 0, "1 GiB + 12 KiB: the 1 GiB block allocates");
	is_i64(vm_buddy_alloc(&m.b, 2, &pfn), -ENOMEM, "but no order-2 block is left");
	mem_fini(&m);
}

/* The order and layout of blocks handed out, and the descriptor flags. */
static void test_alloc_layout(void)
{
	struct mem m;
	uint64_t p[5];
	static const unsigned order[5] = { 0, 0, 1, 2, 3 };
	static const uint64_t want[5] = { 0, 1, 2, 4, 8 };
	bool all = true;

	mem_init(&m, 16);
	for (int i = 0; i < 5; i++)
		all &= vm_buddy_alloc(&m.b, order[i], &p[i]) == 0 && p[i] == want[i];
	ok(all, "smallest-first from a fresh memory: pfns 0, 1, 2, 4, 8");
	is_u64(m.b.free_frames, 0, "memory is full");
	const struct vm_page *pg = m.pages;
	ok(pg[4].refcount == 1 && pg[4].flags == 1u << VM_PG_HEAD && pg[4].order == 2,
	   "order-2 head: refcount 1, VM_PG_HEAD, order 2");
	ok(pg[5].flags == 1u << VM_PG_TAIL && pg[6].flags == 1u << VM_PG_TAIL &&
	   pg[7].flags == 1u << VM_PG_TAIL, "its other frames are VM_PG_TAIL");
	ok(pg[1].refcount == 1 && pg[1].flags == 0 && pg[1].order == 0,
	   "order-0 frame: refcount 1, no block flag");
	ok(valid(&m.b), "valid when full");
	mem_fini(&m);

	/* counters: one order-0 allocation splits 4 times, its free merges 4 times */
	mem_init(&m, 16);
	vm_buddy_alloc(&m.b, 0, &p[0]);
	ok(m.b.allocs == 1 && m.b.splits == 4, "alloc: allocs 1, splits 4");
	put_block(&m.b, p[0], 0);
	ok(m.b.frees == 1 && m.b.merges == 4 && free_head(&m.b, 0, 4), "free: merges 4 back to order 4");
	mem_fini(&m);
}

static void test_exhaustion(void)
{
	struct mem m;
	uint64_t pfn, seen = 0;
	bool all = true;

	mem_init(&m, 16);
	for (int i = 0; i < 16; i++) {
		all &= vm_buddy_alloc(&m.b, 0, &pfn) == 0;
		seen |= UINT64_C(1) << pfn;
	}
	ok(all && seen == 0xffff, "16 order-0 allocations get the 16 distinct frames");
	is_i64(vm_buddy_alloc(&m.b, 0, &pfn), -ENOMEM, "the 17th is -ENOMEM");
	is_u64(m.b.alloc_fails, 1, "and counts a failure");
	is_i64(vm_buddy_alloc(&m.b, VM_MAX_ORDER + 1, &pfn), -EINVAL, "order 19 is -EINVAL");
	is_i64(vm_buddy_alloc(&m.b, UINT_MAX, &pfn), -EINVAL, "order UINT_MAX is -EINVAL");
	is_u64(m.b.alloc_fails, 1, "a bad order is not counted as a failure");
	ok(valid(&m.b), "valid after exhaustion");
	mem_fini(&m);

	mem_init(&m, 16);
	is_i64(vm_buddy_alloc(&m.b, 5, &pfn), -ENOMEM, "order 5 on 16 frames is -ENOMEM");
	is_i64(vm_buddy_alloc(&m.b, VM_MAX_ORDER, &pfn), -ENOMEM, "order 18 on 16 frames is -ENOMEM");
	is_u64(m.b.free_frames, 16, "failed allocations change nothing");
	mem_fini(&m);
}

/* A 2 MiB page needs 512 contiguous aligned frames, not 512 free frames. */
static void test_fragmented_2m(void)
{
	struct mem m;
	uint64_t pfn;
	bool all = true;

	mem_init(&m, 16384);                    /* 64 MiB: 32 blocks of 2 MiB */
	for (uint64_t i = 0; i < 32; i++)
		all &= vm_buddy_take(&m.b, i * 512 + 7) == 0;
	ok(all, "pin frame 7 of every 2 MiB block");
	is_u64(m.b.free_frames, 16352, "16352 frames (32 times 511) stay free");
	is_i64(vm_buddy_alloc(&m.b, 9, &pfn), -ENOMEM, "yet an order-9 (2 MiB) allocation fails");
	uint64_t w[VM_MAX_ORDER + 1] = { 32, 32, 32, 32, 32, 32, 32, 32, 32 };
	ok(nfree_is(&m.b, w), "each 2 MiB block is split into one free block of each order 0..8");
	/* 1000 - (1000 + 16352 * 1000 / 512) / 288 = 1000 - 32937 / 288 = 886 */
	is_i64(vm_buddy_frag_index(&m.b, 9), 886, "extfrag index for order 9: 886, fragmentation");
	is_i64(vm_buddy_unusable_index(&m.b, 9), 1000, "unusable index for order 9: all of it");
	/* (16352 - 32 * 256) * 1000 / 16352 = 499 */
	is_i64(vm_buddy_unusable_index(&m.b, 8), 499, "unusable index for order 8: 499");
	ok(valid(&m.b), "valid when fragmented");

	uint64_t merges = m.b.merges;
	is_i64(put_block(&m.b, 7, 0), 0, "unpin the first block's frame");
	is_u64(m.b.merges - merges, 9, "it merges 9 times, back to order 9");
	is_i64(vm_buddy_alloc(&m.b, 9, &pfn), 0, "now the 2 MiB allocation succeeds");
	is_u64(pfn, 0, "with the block that was unpinned");
	ok(valid(&m.b), "valid afterwards");
	mem_fini(&m);
}

static void test_frag_indexes(void)
{
	struct mem m;
	uint64_t pfn;

	mem_init(&m, 16);
	for (int i = 0; i < 16; i++)
		vm_buddy_alloc(&m.b, 0, &pfn);
	is_i64(vm_buddy_frag_index(&m.b, 0), 0, "no free memory: extfrag index 0");
	is_i64(vm_buddy_frag_index(&m.b, 4), 0, "no free memory: extfrag index 0 at order 4 too");
	is_i64(vm_buddy_unusable_index(&m.b, 0), 1000, "no free memory: unusable index 1000");

	/* every other frame free: 8 free order-0 blocks, none mergeable */
	for (uint64_t p = 0; p < 16; p += 2)
		put_block(&m.b, p, 0);
	ok(m.b.nfree[0] == 8 && m.b.free_frames == 8, "8 isolated free frames");
	is_i64(vm_buddy_frag_index(&m.b, 0), -1000, "order 0: a suitable block exists, -1000");
	/* 1000 - (1000 + 8 * 1000 / 2) / 8 = 1000 - 625 */
	is_i64(vm_buddy_frag_index(&m.b, 1), 375, "order 1: 375");
	/* 1000 - (1000 + 8000 / 16) / 8 = 1000 - 187 */
	is_i64(vm_buddy_frag_index(&m.b, 4), 813, "order 4: 813");
	is_i64(vm_buddy_unusable_index(&m.b, 0), 0, "unusable index order 0: 0");
	is_i64(vm_buddy_unusable_index(&m.b, 1), 1000, "unusable index order 1: 1000");
	ok(valid(&m.b), "valid");
	mem_fini(&m);

	/* free blocks of orders 0, 1, 2 at pfns 0, 4, 8: 7 frames in 3 blocks */
	mem_init(&m, 16);
	for (int i = 0; i < 16; i++)
		vm_buddy_alloc(&m.b, 0, &pfn);
	static const uint64_t give[7] = { 0, 4, 5, 8, 9, 10, 11 };
	for (int i = 0; i < 7; i++)
		put_block(&m.b, give[i], 0);
	ok(free_head(&m.b, 0, 0) && free_head(&m.b, 4, 1) && free_head(&m.b, 8, 2),
	   "free blocks of order 0, 1, 2");
	is_i64(vm_buddy_frag_index(&m.b, 2), -1000, "order 2: suitable, -1000");
	/* 1000 - (1000 + 7000 / 8) / 3 = 1000 - 1875 / 3 = 375 */
	is_i64(vm_buddy_frag_index(&m.b, 3), 375, "order 3: 375");
	/* 1000 - (1000 + 7000 / 16) / 3 = 1000 - 1437 / 3 = 521 */
	is_i64(vm_buddy_frag_index(&m.b, 4), 521, "order 4: 521");
	/* suitable for order 1: 1 + 2 blocks, 6 frames: (7 - 6) * 1000 / 7 */
	is_i64(vm_buddy_unusable_index(&m.b, 1), 142, "unusable order 1: 142");
	is_i64(vm_buddy_unusable_index(&m.b, 2), 428, "unusable order 2: (7 - 4) * 1000 / 7 = 428");
	is_i64(vm_buddy_unusable_index(&m.b, 3), 1000, "unusable order 3: 1000");
	is_i64(vm_buddy_frag_index(&m.b, VM_MAX_ORDER + 1), 0, "order 19: 0 (Linux's WARN path)");
	is_i64(vm_buddy_unusable_index(&m.b, VM_MAX_ORDER + 1), 1000, "order 19: unusable 1000");
	mem_fini(&m);

	/* one free 32 KiB block against a 64 KiB request: Linux's formula goes
	 * below zero, 1000 - (1000 + 8000 / 16) / 1 */
	mem_init(&m, 16);
	vm_buddy_alloc(&m.b, 3, &pfn);
	is_i64(vm_buddy_frag_index(&m.b, 4), -500, "one order-3 block, order 4: -500");
	is_i64(vm_buddy_unusable_index(&m.b, 4), 1000, "unusable order 4: 1000");
	is_i64(vm_buddy_unusable_index(&m.b, 3), 0, "unusable order 3: 0");
	mem_fini(&m);
}

static void test_take(void)
{
	struct mem m;
	uint64_t pfn;

	mem_init(&m, 16);
	is_i64(vm_buddy_take(&m.b, 5), 0, "take frame 5 of a free order-4 block");
	uint64_t w[VM_MAX_ORDER + 1] = { 1, 1, 1, 1 };
	ok(nfree_is(&m.b, w) && free_head(&m.b, 8, 3) && free_head(&m.b, 0, 2) &&
	   free_head(&m.b, 6, 1) && free_head(&m.b, 4, 0),
	   "split into [8,16) order 3, [0,4) order 2, [6,8) order 1, [4] order 0");
	ok(m.b.free_frames == 15 && m.b.splits == 4, "15 frames free, 4 splits");
	ok(m.pages[5].refcount == 1 && m.pages[5].flags == 0, "the taken frame is an allocated frame");
	ok(valid(&m.b), "valid after take");
	is_i64(vm_buddy_take(&m.b, 5), -EBUSY, "taking it again: -EBUSY");
	is_i64(vm_buddy_take(&m.b, 16), -EINVAL, "pfn == nframes: -EINVAL");
	is_i64(vm_buddy_take(&m.b, UINT64_MAX), -EINVAL, "pfn UINT64_MAX: -EINVAL");
	vm_buddy_alloc(&m.b, 0, &pfn);
	is_u64(pfn, 4, "an order-0 allocation gets the order-0 block");
	is_i64(vm_buddy_take(&m.b, 4), -EBUSY, "an allocated frame cannot be taken");
	is_i64(vm_buddy_take(&m.b, 15), 0, "take the last frame");
	ok(free_head(&m.b, 8, 2) && free_head(&m.b, 12, 1) && free_head(&m.b, 14, 0),
	   "split into [8,12) order 2, [12,14) order 1, [14] order 0");
	ok(put_block(&m.b, 5, 0) == 0 && put_block(&m.b, 4, 0) == 0 && put_block(&m.b, 15, 0) == 0,
	   "taken frames are freed like order-0 blocks");
	uint64_t w16[VM_MAX_ORDER + 1] = { [4] = 1 };
	ok(nfree_is(&m.b, w16) && valid(&m.b), "back to one order-4 block");
	mem_fini(&m);
}

/* Linux: split_page() — a THP's block becomes 512 order-0 pages. */
static void test_split(void)
{
	struct mem m;
	uint64_t pfn, other;

	mem_init(&m, 1024);
	is_i64(vm_buddy_alloc(&m.b, 9, &pfn), 0, "allocate an order-9 block");
	m.pages[pfn].mapcount = 1;
	uint64_t allocs = m.b.allocs;
	is_i64(vm_buddy_split(&m.b, pfn + 1), -EINVAL, "a tail cannot be split");
	is_i64(vm_buddy_split(&m.b, 1024), -EINVAL, "pfn == nframes: -EINVAL");
	is_i64(vm_buddy_split(&m.b, UINT64_MAX), -EINVAL, "pfn UINT64_MAX: -EINVAL");
	is_i64(vm_buddy_split(&m.b, pfn), 0, "split the block");
	is_u64(m.b.allocs - allocs, 511, "allocs - frees counts 511 more blocks in use");
	bool pieces = true;
	for (uint64_t i = 0; i < 512; i++) {
		const struct vm_page *pg = &m.pages[pfn + i];
		pieces &= pg->order == 0 && pg->refcount == 1 && !vm_page_test(pg, VM_PG_HEAD) &&
			  !vm_page_test(pg, VM_PG_TAIL);
	}
	ok(pieces, "512 order-0 pages, each with one reference");
	is_i64(m.pages[pfn].mapcount, 1, "the head keeps its map count");
	ok(valid(&m.b), "valid after split");
	is_i64(vm_buddy_split(&m.b, pfn), -EINVAL, "an order-0 page cannot be split again");
	is_i64(put_block(&m.b, pfn, 9), -EINVAL, "the old block can no longer be freed whole");
	m.pages[pfn].mapcount = 0;
	/* Free the pieces in a scattered order: they merge back to one block. */
	bool freed = true;
	for (uint64_t i = 0; i < 512; i++)
		freed &= put_block(&m.b, pfn + ((i * 37) & 511), 0) == 0;
	ok(freed, "each piece frees as an order-0 block");
	is_u64(m.b.allocs - m.b.frees, 0, "no block in use");
	uint64_t w[VM_MAX_ORDER + 1] = { [10] = 1 };
	ok(nfree_is(&m.b, w) && valid(&m.b), "the pieces merged back into one order-10 block");
	is_i64(vm_buddy_alloc(&m.b, 0, &other), 0, "an order-0 allocation");
	is_i64(vm_buddy_split(&m.b, other), -EINVAL, "an order-0 block cannot be split");
	mem_fini(&m);
}

static void test_bad_free(void)
{
	struct mem m;
	uint64_t a, c;

	/* 24 frames: [0,16) order 4 and [16,24) order 3.  Allocate [0,4) order
	 * 2 and frame 4; free are 5 (order 0), [6,8) (1), [8,16) and [16,24) (3).
	 * The order-3 block is held meanwhile, else order 2 would split it. */
	mem_init(&m, 24);
	uint64_t hold;
	vm_buddy_alloc(&m.b, 3, &hold);
	vm_buddy_alloc(&m.b, 2, &a);
	vm_buddy_alloc(&m.b, 0, &c);
	put_block(&m.b, hold, 3);
	ok(hold == 16 && a == 0 && c == 4 && free_head(&m.b, 5, 0) && free_head(&m.b, 6, 1) &&
	   free_head(&m.b, 8, 3) && free_head(&m.b, 16, 3), "set-up as planned");

	static const struct {
		uint64_t pfn;
		unsigned order;
		const char *what;
	} bad[] = {
		{ 24, 0, "pfn == nframes" },
		{ UINT64_MAX, 0, "pfn UINT64_MAX" },
		{ UINT64_MAX - 7, 3, "aligned pfn near UINT64_MAX" },
		{ 16, 4, "aligned block running past the end" },
		{ 1, 2, "misaligned for the order" },
		{ 2, 1, "aligned, but a tail of the order-2 block" },
		{ 0, 1, "head of the order-2 block, order 1" },
		{ 0, 3, "head of the order-2 block, order 3" },
		{ 0, 0, "head of the order-2 block, order 0" },
		{ 1, 0, "tail of the order-2 block, order 0" },
		{ 0, VM_MAX_ORDER + 1, "order 19" },
		{ 0, 64, "order 64" },
		{ 0, UINT_MAX, "order UINT_MAX" },
		{ 5, 0, "free order-0 block" },
		{ 6, 1, "free order-1 block" },
		{ 7, 0, "frame inside a free order-1 block" },
		{ 10, 0, "frame inside a free order-3 block" },
		{ 8, 3, "free order-3 block" },
		{ 8, 2, "first half of a free order-3 block" },
		{ 16, 3, "free block at the end" },
	};
	for (size_t i = 0; i < VM_ARRAY_SIZE(bad); i++) {
		struct vm_buddy before = m.b;
		int err = vm_buddy_free(&m.b, bad[i].pfn, bad[i].order);

		ok(err == -EINVAL && m.b.free_frames == before.free_frames &&
		   m.b.frees == before.frees && valid(&m.b),
		   "free(%#" PRIx64 ", %u), %s: -EINVAL, nothing changes", bad[i].pfn, bad[i].order,
		   bad[i].what);
	}

	is_i64(put_block(&m.b, 4, 0), 0, "free frame 4");
	ok(free_head(&m.b, 4, 2), "it merges with 5 and [6,8) into order 2 at 4");
	is_i64(put_block(&m.b, 4, 0), -EINVAL, "double free of frame 4: -EINVAL");
	is_i64(put_block(&m.b, 0, 2), 0, "free the order-2 block");
	is_i64(put_block(&m.b, 0, 2), -EINVAL, "double free of the order-2 block: -EINVAL");
	uint64_t w[VM_MAX_ORDER + 1] = { [4] = 1, [3] = 1 };
	ok(nfree_is(&m.b, w) && m.b.free_frames == 24 && valid(&m.b), "back to the initial blocks");
	mem_fini(&m);
}

/* vm_buddy_check itself must see corruption, or every valid() above proves
 * nothing. */
static void test_check_detects(void)
{
	struct mem m;
	uint64_t p;
	char why[200] = "unchanged";

	mem_init(&m, 16);
	ok(vm_buddy_check(&m.b, why, sizeof(why)) == 0 && why[0] == '\0', "valid: 0 and empty message");
	m.b.nfree[4]++;
	ok(vm_buddy_check(&m.b, why, sizeof(why)) == -EUCLEAN && why[0], "nfree off by one: %s", why);
	m.b.nfree[4]--;
	m.b.free_frames--;
	ok(vm_buddy_check(&m.b, NULL, 0) == -EUCLEAN, "free_frames off by one (msg NULL)");
	m.b.free_frames++;
	vm_buddy_alloc(&m.b, 0, &p);
	vm_buddy_alloc(&m.b, 0, &p);
	vm_page_set(&m.pages[1], VM_PG_TAIL);
	ok(vm_buddy_check(&m.b, why, sizeof(why)) == -EUCLEAN, "stray tail flag: %s", why);
	vm_page_clear(&m.pages[1], VM_PG_TAIL);
	vm_page_clear(&m.pages[8], VM_PG_BUDDY);
	ok(vm_buddy_check(&m.b, why, sizeof(why)) == -EUCLEAN, "listed block lost its flag: %s", why);
	vm_page_set(&m.pages[8], VM_PG_BUDDY);
	m.pages[8].order = 2;
	ok(vm_buddy_check(&m.b, why, sizeof(why)) == -EUCLEAN, "head with the wrong order: %s", why);
	m.pages[8].order = 3;
	vm_page_set(&m.pages[1], VM_PG_BUDDY);
	ok(vm_buddy_check(&m.b, why, sizeof(why)) == -EUCLEAN, "unlisted free head: %s", why);
	vm_page_clear(&m.pages[1], VM_PG_BUDDY);
	ok(valid(&m.b), "restored: valid again");

	/* frames 0 and 1 freed without merging */
	for (uint64_t pfn = 0; pfn < 2; pfn++) {
		m.pages[pfn] = (struct vm_page){ .flags = 1u << VM_PG_BUDDY };
		vm_list_add(&m.pages[pfn].lru, &m.b.free[0]);
		m.b.nfree[0]++;
		m.b.free_frames++;
	}
	ok(vm_buddy_check(&m.b, why, sizeof(why)) == -EUCLEAN && strstr(why, "not merged"),
	   "two free buddies of order 0: %s", why);
	mem_fini(&m);
}

/* --- random sequences against a reference ---------------------------------- */

struct live {
	uint64_t pfn;
	unsigned order;
};

/* The reference: an aligned run of 2^order free frames exists (first fit).
 * With full merging this holds iff a free block of order >= order exists. */
static bool ref_can_alloc(const uint8_t *used, uint64_t n, unsigned order)
{
	uint64_t size = UINT64_C(1) << order;

	for (uint64_t p = 0; p + size <= n; p += size) {
		uint64_t i = 0;
		while (i < size && !used[p + i])
			i++;
		if (i == size)
			return true;
	}
	return false;
}

/* The free lists cover exactly the frames the reference has free, no block
 * overlaps another, and frames inside free blocks carry no flag. */
static bool lists_match(const struct vm_buddy *b, const uint8_t *used, uint8_t *seen)
{
	uint64_t nfree = 0;

	memset(seen, 0, (size_t)b->nframes);
	for (unsigned o = 0; o <= VM_MAX_ORDER; o++)
		for (struct vm_list *e = b->free[o].next; e != &b->free[o]; e = e->next) {
			uint64_t pfn = (uint64_t)(VM_CONTAINER_OF(e, struct vm_page, lru) - b->pages);
			for (uint64_t i = 0; i < (UINT64_C(1) << o); i++) {
				if (seen[pfn + i]++ || used[pfn + i] || (i && b->pages[pfn + i].flags))
					return false;
				nfree++;
			}
		}
	for (uint64_t p = 0; p < b->nframes; p++)
		if (!used[p] && !seen[p])
			return false;
	return nfree == b->free_frames;
}

/* The descriptors of a block alloc just returned. */
static bool fresh_block(const struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	const struct vm_page *pg = &b->pages[pfn];

	if (pg->refcount != 1 || pg->order != order || pg->flags != (order ? 1u << VM_PG_HEAD : 0))
		return false;
	for (uint64_t i = 1; i < (UINT64_C(1) << order); i++)
		if (pg[i].flags != 1u << VM_PG_TAIL)
			return false;
	return true;
}

/* Mostly orders 0..10, sometimes larger ones up to 19 (-EINVAL). */
static unsigned pick_order(struct vm_rng *r)
{
	if (vm_rng_below(r, 10))
		return (unsigned)vm_rng_below(r, 11);
	return 11 + (unsigned)vm_rng_below(r, VM_MAX_ORDER + 2 - 11);
}

struct tally {
	long first_bad[4];      /* step of the first failure of each kind, or -1 */
	uint64_t ok_allocs, failed_allocs, takes;
	uint64_t frag_fails;    /* -ENOMEM although enough frames were free */
};

static void note(struct tally *t, int kind, long step)
{
	if (t->first_bad[kind] < 0)
		t->first_bad[kind] = step;
}

enum { BAD_RESULT, BAD_CHECK, BAD_MODEL, BAD_BLOCK };

static void random_alloc(struct vm_buddy *b, uint8_t *used, struct live *live, size_t *nlive,
			 struct vm_rng *r, struct tally *t, long step)
{
	unsigned order = pick_order(r);
	bool can = order <= VM_MAX_ORDER && ref_can_alloc(used, b->nframes, order);
	uint64_t pfn = UINT64_MAX;
	int err = vm_buddy_alloc(b, order, &pfn);

	if (err != (order > VM_MAX_ORDER ? -EINVAL : can ? 0 : -ENOMEM))
		note(t, BAD_RESULT, step);
	if (err) {
		t->failed_allocs += err == -ENOMEM;
		t->frag_fails += err == -ENOMEM && b->free_frames >> order;
		return;
	}
	t->ok_allocs++;
	uint64_t size = UINT64_C(1) << order;
	if (pfn % size || pfn >= b->nframes || size > b->nframes - pfn || !fresh_block(b, pfn, order)) {
		note(t, BAD_BLOCK, step);
		return;
	}
	for (uint64_t i = 0; i < size; i++)
		if (used[pfn + i]++)
			note(t, BAD_BLOCK, step);       /* overlaps a live block */
	live[(*nlive)++] = (struct live){ pfn, order };
}

static void random_take(struct vm_buddy *b, uint8_t *used, struct live *live, size_t *nlive,
			struct vm_rng *r, struct tally *t, long step)
{
	uint64_t pfn = vm_rng_below(r, b->nframes);
	int err = vm_buddy_take(b, pfn);

	if (err != (used[pfn] ? -EBUSY : 0))
		note(t, BAD_RESULT, step);
	if (err)
		return;
	t->takes++;
	used[pfn] = 1;
	live[(*nlive)++] = (struct live){ pfn, 0 };
}

static void random_free(struct vm_buddy *b, uint8_t *used, struct live *live, size_t *nlive,
			struct vm_rng *r, struct tally *t, long step)
{
	size_t i = (size_t)vm_rng_below(r, *nlive);
	struct live l = live[i];

	live[i] = live[--*nlive];
	if (put_block(b, l.pfn, l.order))
		note(t, BAD_RESULT, step);
	memset(used + l.pfn, 0, (size_t)1 << l.order);
}

static void test_random(void)
{
	const uint64_t n = 3 * 4096 + 7;        /* not a power of two */
	const long steps = tap_long() ? 200000 : 12000;
	struct tally t = { { -1, -1, -1, -1 }, 0, 0, 0, 0 };
	struct vm_rng r;
	struct mem m;
	size_t nlive = 0;

	vm_rng_seed(&r, tap_seed(20240601));
	mem_init(&m, n);
	uint64_t initial[VM_MAX_ORDER + 1];
	memcpy(initial, m.b.nfree, sizeof(initial));
	uint8_t *used = calloc((size_t)n, 1), *seen = calloc((size_t)n, 1);
	struct live *live = calloc((size_t)n, sizeof(*live));

	for (long step = 0; step < steps; step++) {
		/* phases that fill memory until allocations fail, then drain it */
		uint64_t pct = vm_rng_below(&r, 100);
		uint64_t alloc_pct = (step / 1500) % 2 ? 30 : 65;
		if (nlive == 0 || pct < alloc_pct)
			random_alloc(&m.b, used, live, &nlive, &r, &t, step);
		else if (pct < 95)
			random_free(&m.b, used, live, &nlive, &r, &t, step);
		else
			random_take(&m.b, used, live, &nlive, &r, &t, step);
		if (vm_buddy_check(&m.b, NULL, 0))
			note(&t, BAD_CHECK, step);
		if (!lists_match(&m.b, used, seen))
			note(&t, BAD_MODEL, step);
	}
	diag("%ld steps: %" PRIu64 " allocations, %" PRIu64 " -ENOMEM (%" PRIu64 " of them with "
	     "enough frames free), %" PRIu64 " takes", steps, t.ok_allocs, t.failed_allocs,
	     t.frag_fails, t.takes);
	ok(t.first_bad[BAD_RESULT] < 0, "every result agrees with the reference (first bad step %ld)",
	   t.first_bad[BAD_RESULT]);
	ok(t.first_bad[BAD_BLOCK] < 0, "blocks aligned, fresh, never overlapping (first bad step %ld)",
	   t.first_bad[BAD_BLOCK]);
	ok(t.first_bad[BAD_CHECK] < 0, "vm_buddy_check after every step (first bad step %ld)",
	   t.first_bad[BAD_CHECK]);
	ok(t.first_bad[BAD_MODEL] < 0, "free lists equal the reference's free frames (first bad %ld)",
	   t.first_bad[BAD_MODEL]);
	ok(t.ok_allocs > (uint64_t)steps / 10 && t.frag_fails > (uint64_t)steps / 100 && t.takes,
	   "the sequence exercised success, -ENOMEM on fragmented memory, and take");

	while (nlive)
		random_free(&m.b, used, live, &nlive, &r, &t, steps);
	ok(t.first_bad[BAD_RESULT] < 0, "freeing every live block succeeds");
	ok(nfree_is(&m.b, initial) && m.b.free_frames == n && valid(&m.b),
	   "after freeing everything: the initial blocks again");
	is_u64(m.b.allocs - m.b.frees, 0, "allocs - frees == 0");
	free(used);
	free(seen);
	free(live);
	mem_fini(&m);
}

/* 1 TiB of frames: init touches one descriptor per 1 GiB block. */
static void test_one_tib(void)
{
	const uint64_t n = UINT64_C(1) << 28;
	struct timespec t0, t1;
	struct mem m;
	uint64_t pfn;

	long long rss0 = tap_rss_bytes();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int err = mem_init(&m, n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long grown = tap_rss_bytes() - rss0;
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	if (!ok(err == 0, "reserve descriptors for 2^28 frames (12 GiB of host address space)"))
		return;
	diag("init of 2^28 frames: %.4f s, RSS grew %lld KiB", secs, grown / 1024);
	ok(secs < 1.0, "init is quick (%.4f s)", secs);
	ok(rss0 >= 0 && grown < (32 << 20), "init touched only block heads (RSS +%lld KiB)", grown / 1024);
	uint64_t w[VM_MAX_ORDER + 1] = { [18] = 1024 };
	ok(nfree_is(&m.b, w) && m.b.free_frames == n, "1024 free blocks of order 18");
	ok(valid(&m.b), "valid");
	ok(vm_buddy_alloc(&m.b, 18, &pfn) == 0 && pfn == 0, "a 1 GiB block at pfn 0");
	ok(vm_buddy_alloc(&m.b, 0, &pfn) == 0 && pfn == UINT64_C(1) << 18,
	   "an order-0 frame from the next 1 GiB block");
	ok(valid(&m.b), "valid with a 1 GiB block allocated");
	ok(put_block(&m.b, 0, 18) == 0 && put_block(&m.b, UINT64_C(1) << 18, 0) == 0 &&
	   nfree_is(&m.b, w) && valid(&m.b), "both freed: 1024 blocks of order 18 again");
	mem_fini(&m);
}

int main(void)
{
	test_init_sizes();
	test_alloc_layout();
	test_exhaustion();
	test_fragmented_2m();
	test_frag_indexes();
	test_take();
	test_split();
	test_bad_free();
	test_check_detects();
	test_random();
	test_one_tib();
	return done_testing();
}
