/*
 * The buddy frame allocator, modelled on Linux mm/page_alloc.c.  The contract
 * is in buddy.h; docs/buddy.md explains the model and the indexes.
 *
 * Descriptor states (what vm_buddy_check verifies):
 *   free block of order o at pfn    pages[pfn]: VM_PG_BUDDY, order o, on free[o],
 *                                   refcount 0; pfn % 2^o == 0.  The other
 *                                   descriptors of the block are never read, so
 *                                   that init touches block heads only.
 *   allocated block, order o > 0    head: VM_PG_HEAD, order o; others VM_PG_TAIL
 *   allocated block, order 0        none of BUDDY, HEAD, TAIL; order 0
 */
#include "kernel/buddy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"

#define PG_BLOCK_FLAGS ((1u << VM_PG_BUDDY) | (1u << VM_PG_HEAD) | (1u << VM_PG_TAIL))

static inline uint64_t order_frames(unsigned order)
{
	return UINT64_C(1) << order;
}

/* True when [pfn, pfn + 2^order) is aligned and inside memory. */
static bool block_fits(const struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	return order <= VM_MAX_ORDER && VM_IS_ALIGNED(pfn, order_frames(order)) &&
	       pfn < b->nframes && order_frames(order) <= b->nframes - pfn;
}

/* Linux: page_is_buddy() — pg heads a free block of exactly this order. */
static inline bool page_is_buddy(const struct vm_page *pg, unsigned order)
{
	return vm_page_test(pg, VM_PG_BUDDY) && pg->order == order;
}

/* Linux: __add_to_free_list().  Tail insertion is for init, as Linux frees
 * boot memory with FPI_TO_TAIL; everything else goes to the head, so the
 * most recently freed (cache-hot) block is reused first. */
static void add_to_free_list(struct vm_buddy *b, uint64_t pfn, unsigned order, bool tail)
{
	struct vm_page *pg = &b->pages[pfn];

	pg->flags = 1u << VM_PG_BUDDY;
	pg->order = (uint8_t)order;
	if (tail)
		vm_list_add_tail(&pg->lru, &b->free[order]);
	else
		vm_list_add(&pg->lru, &b->free[order]);
	b->nfree[order]++;
}

/* Linux: del_page_from_free_list(). */
static void del_from_free_list(struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	struct vm_page *pg = &b->pages[pfn];

	vm_list_del(&pg->lru);
	vm_page_clear(pg, VM_PG_BUDDY);
	pg->order = 0;
	b->nfree[order]--;
}

void vm_buddy_init(struct vm_buddy *b, struct vm_page *pages, uint64_t nframes)
{
	memset(b, 0, sizeof(*b));
	b->pages = pages;
	b->nframes = nframes;
	for (unsigned o = 0; o <= VM_MAX_ORDER; o++)
		vm_list_init(&b->free[o]);

	/* Linux: __free_pages_memory() — each block as large as the alignment
	 * of its first pfn and the frames left allow.  Starting from pfn 0 the
	 * alignment never binds: the blocks are 2^18 ones, then the binary
	 * digits of what is left, largest first, so every block starts at a
	 * multiple of its size.  No two are buddies, so nothing merges. */
	uint64_t pfn = 0;
	while (pfn < nframes) {
		unsigned order = VM_MIN(vm_ilog2(nframes - pfn), VM_MAX_ORDER);

		add_to_free_list(b, pfn, order, true);
		b->free_frames += order_frames(order);
		pfn += order_frames(order);
	}
}

/* Linux: expand() — the block at pfn of order high serves an allocation of
 * order low; its upper halves go back on the free lists, largest first. */
static void expand(struct vm_buddy *b, uint64_t pfn, unsigned low, unsigned high)
{
	while (high > low) {
		high--;
		add_to_free_list(b, pfn + order_frames(high), high, false);
		b->splits++;
	}
}

/* Linux: __rmqueue_smallest() — the first block of the smallest order that
 * fits.  Returns false when no free block of order >= order exists. */
static bool rmqueue_smallest(struct vm_buddy *b, unsigned order, uint64_t *pfn)
{
	for (unsigned o = order; o <= VM_MAX_ORDER; o++) {
		if (vm_list_empty(&b->free[o]))
			continue;
		struct vm_page *pg = VM_CONTAINER_OF(b->free[o].next, struct vm_page, lru);
		*pfn = (uint64_t)(pg - b->pages);
		del_from_free_list(b, *pfn, o);
		expand(b, *pfn, order, o);
		return true;
	}
	return false;
}

/* Linux: prep_new_page() / prep_compound_page() — one reference on the head;
 * in a block of order > 0 every other frame is marked a tail, so that none
 * of them passes for a block of its own (vm_buddy_free rejects it). */
static void prep_new_block(struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	struct vm_page *head = &b->pages[pfn];

	head->refcount = 1;
	head->order = (uint8_t)order;
	head->flags = order ? 1u << VM_PG_HEAD : 0;
	for (uint64_t i = 1; i < order_frames(order); i++)
		head[i].flags = 1u << VM_PG_TAIL;
}

int vm_buddy_alloc(struct vm_buddy *b, unsigned order, uint64_t *pfn)
{
	if (order > VM_MAX_ORDER)
		return -EINVAL;         /* Linux: WARN_ON_ONCE in __alloc_pages() */
	if (!rmqueue_smallest(b, order, pfn)) {
		b->alloc_fails++;
		return -ENOMEM;
	}
	prep_new_block(b, *pfn, order);
	b->free_frames -= order_frames(order);
	b->allocs++;
	return 0;
}

/* Linux: the search of is_free_buddy_page() and take_page_off_buddy() — a
 * free frame lies in exactly one free block, whose head is pfn rounded down
 * to that block's order.  Sets *head and *order and returns true if pfn is
 * free. */
static bool find_free_block(const struct vm_buddy *b, uint64_t pfn, uint64_t *head,
			    unsigned *order)
{
	for (unsigned o = 0; o <= VM_MAX_ORDER; o++) {
		uint64_t h = VM_ALIGN_DOWN(pfn, order_frames(o));
		const struct vm_page *pg = &b->pages[h];

		if (vm_page_test(pg, VM_PG_BUDDY) && pg->order >= o) {
			*head = h;
			*order = pg->order;
			return true;
		}
	}
	return false;
}

/* True when [pfn, pfn + 2^order) is exactly one block that alloc (or take,
 * for order 0) handed out and that has not been freed since. */
static bool block_is_allocated(const struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	if (!block_fits(b, pfn, order))
		return false;

	const struct vm_page *pg = &b->pages[pfn];
	uint64_t head;
	unsigned fo;

	if (order)
		return (pg->flags & PG_BLOCK_FLAGS) == 1u << VM_PG_HEAD && pg->order == order;
	/* An order-0 frame carries no block flag whether allocated or inside a
	 * free block, so only the search tells them apart. */
	return !(pg->flags & PG_BLOCK_FLAGS) && !find_free_block(b, pfn, &head, &fo);
}

/* Linux: __free_one_page() — merge with the buddy while it is a free block
 * of the same order, then list the result. */
static void free_one_block(struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	while (order < VM_MAX_ORDER) {
		uint64_t buddy = pfn ^ order_frames(order);

		if (buddy >= b->nframes || !page_is_buddy(&b->pages[buddy], order))
			break;
		del_from_free_list(b, buddy, order);
		b->merges++;
		pfn &= buddy;
		order++;
	}
	add_to_free_list(b, pfn, order, false);
}

int vm_buddy_free(struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	if (!block_is_allocated(b, pfn, order))
		return -EINVAL;
	/* Linux: free_pages_prepare() — a free frame keeps no owner, count or
	 * flag, so a later allocation starts from a clean descriptor. */
	memset(&b->pages[pfn], 0, (size_t)order_frames(order) * sizeof(struct vm_page));
	free_one_block(b, pfn, order);
	b->free_frames += order_frames(order);
	b->frees++;
	return 0;
}

/* Linux: break_down_buddy_pages() — split the free block [head, head + 2^high)
 * down to the single frame target, listing every half that does not hold it. */
static void break_down_block(struct vm_buddy *b, uint64_t head, uint64_t target, unsigned high)
{
	while (high > 0) {
		high--;
		uint64_t half = order_frames(high);
		uint64_t other = head;

		if (target >= head + half)
			head += half;
		else
			other = head + half;
		add_to_free_list(b, other, high, false);
		b->splits++;
	}
}

int vm_buddy_take(struct vm_buddy *b, uint64_t pfn)
{
	uint64_t head;
	unsigned order;

	if (pfn >= b->nframes)
		return -EINVAL;
	/* Linux: take_page_off_buddy() */
	if (!find_free_block(b, pfn, &head, &order))
		return -EBUSY;
	del_from_free_list(b, head, order);
	break_down_block(b, head, pfn, order);
	prep_new_block(b, pfn, 0);
	b->free_frames--;
	b->allocs++;
	return 0;
}

int vm_buddy_split(struct vm_buddy *b, uint64_t pfn)
{
	if (pfn >= b->nframes)
		return -EINVAL;
	struct vm_page *head = &b->pages[pfn];
	unsigned order = head->order;
	if (!order || !block_is_allocated(b, pfn, order))
		return -EINVAL;
	/* Linux: split_page() — every piece becomes a page of its own with a
	 * reference; the head keeps the references it had. */
	vm_page_clear(head, VM_PG_HEAD);
	head->order = 0;
	for (uint64_t i = 1; i < order_frames(order); i++) {
		vm_page_clear(&head[i], VM_PG_TAIL);
		head[i].refcount = 1;
	}
	b->allocs += order_frames(order) - 1;
	return 0;
}

/* Linux: struct contig_page_info and fill_contig_page_info() (mm/vmstat.c). */
struct contig_info {
	uint64_t free_pages;            /* free frames */
	uint64_t free_blocks_total;     /* free blocks of any order */
	uint64_t free_blocks_suitable;  /* order-`order` blocks the free blocks hold */
};

static struct contig_info fill_contig_info(const struct vm_buddy *b, unsigned order)
{
	struct contig_info info = { 0, 0, 0 };

	for (unsigned o = 0; o <= VM_MAX_ORDER; o++) {
		info.free_blocks_total += b->nfree[o];
		info.free_pages += b->nfree[o] << o;
		if (o >= order)
			info.free_blocks_suitable += b->nfree[o] << (o - order);
	}
	return info;
}

int vm_buddy_frag_index(const struct vm_buddy *b, unsigned order)
{
	/* Linux: __fragmentation_index() */
	if (order > VM_MAX_ORDER)
		return 0;
	struct contig_info info = fill_contig_info(b, order);

	if (!info.free_blocks_total)
		return 0;
	if (info.free_blocks_suitable)
		return -1000;
	/* Same integer arithmetic as Linux, truncations included, so the values
	 * match what /sys/kernel/debug/extfrag/extfrag_index would print. */
	uint64_t ideal = info.free_pages * 1000 / order_frames(order);
	return 1000 - (int)((1000 + ideal) / info.free_blocks_total);
}

int vm_buddy_unusable_index(const struct vm_buddy *b, unsigned order)
{
	/* Linux: unusable_free_index().  No block serves an order above the
	 * largest, so clamping it keeps the shifts below 64. */
	struct contig_info info = fill_contig_info(b, VM_MIN(order, VM_MAX_ORDER + 1));

	if (!info.free_pages)
		return 1000;    /* no free memory: all of it is unusable */
	uint64_t usable = order > VM_MAX_ORDER ? 0 : info.free_blocks_suitable << order;
	return (int)((info.free_pages - usable) * 1000 / info.free_pages);
}

/* --- validation ------------------------------------------------------------ */

#define PFN "pfn %#" PRIx64     /* how a message names a frame */
#define U64 "%" PRIu64

static int VM_PRINTF(3, 4) check_fail(char *msg, size_t len, const char *fmt, ...)
{
	if (msg && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

/* The pfn whose descriptor's lru link is e, or UINT64_MAX when e is not the
 * link of one of b's descriptors (a corrupt list).  Integer arithmetic, as
 * comparing unrelated pointers is undefined. */
static uint64_t link_pfn(const struct vm_buddy *b, const struct vm_list *e)
{
	uintptr_t base = (uintptr_t)b->pages;
	uintptr_t p = (uintptr_t)e - offsetof(struct vm_page, lru);

	if (p < base || (p - base) % sizeof(struct vm_page))
		return UINT64_MAX;
	uint64_t pfn = (uint64_t)((p - base) / sizeof(struct vm_page));
	return pfn < b->nframes ? pfn : UINT64_MAX;
}

/* True when a larger free or allocated block covers pfn, i.e. a block head
 * sits inside another block instead of starting one. */
static bool covered_by_larger(const struct vm_buddy *b, uint64_t pfn, unsigned order)
{
	const uint32_t heads = (1u << VM_PG_BUDDY) | (1u << VM_PG_HEAD);

	for (unsigned o = order + 1; o <= VM_MAX_ORDER; o++) {
		uint64_t h = VM_ALIGN_DOWN(pfn, order_frames(o));
		const struct vm_page *pg = &b->pages[h];

		if (h != pfn && (pg->flags & heads) && pg->order >= o)
			return true;
	}
	return false;
}

/* One free list: well linked, nfree long, only free heads of its order that
 * start a block of the tiling.  Adds its frames to *frames. */
static int check_free_list(const struct vm_buddy *b, unsigned o, uint64_t *frames,
			   char *msg, size_t len)
{
	const struct vm_list *head = &b->free[o], *e;
	uint64_t n = 0;

	for (e = head->next; e != head; e = e->next) {
		uint64_t pfn = link_pfn(b, e);

		if (pfn == UINT64_MAX)
			return check_fail(msg, len, "free[%u]: entry " U64 " is no descriptor",
					  o, n);
		if (++n > b->nfree[o])
			return check_fail(msg, len, "free[%u]: longer than nfree " U64,
					  o, b->nfree[o]);
		if (e->prev->next != e)
			return check_fail(msg, len, "free[%u]: broken link at " PFN, o, pfn);
		if (!page_is_buddy(&b->pages[pfn], o) || !block_fits(b, pfn, o))
			return check_fail(msg, len, "free[%u]: " PFN " is no aligned free head of "
					  "order %u", o, pfn, o);
		if (covered_by_larger(b, pfn, o))
			return check_fail(msg, len, "free[%u]: " PFN " is inside a larger block",
					  o, pfn);
	}
	if (head->prev->next != head)
		return check_fail(msg, len, "free[%u]: broken link at the list head", o);
	if (n != b->nfree[o])
		return check_fail(msg, len, "free[%u]: " U64 " entries, nfree " U64,
				  o, n, b->nfree[o]);
	*frames += n << o;
	return 0;
}

/* A free block met by the walk: clean head, on a list, not mergeable. */
static int check_free_block(const struct vm_buddy *b, uint64_t pfn, char *msg, size_t len)
{
	const struct vm_page *pg = &b->pages[pfn];
	unsigned o = pg->order;
	uint64_t buddy = pfn ^ order_frames(VM_MIN(o, VM_MAX_ORDER));

	if (!block_fits(b, pfn, o))
		return check_fail(msg, len, PFN ": free block of order %u misaligned or too large",
				  pfn, o);
	if ((pg->flags & PG_BLOCK_FLAGS) != 1u << VM_PG_BUDDY || pg->refcount || pg->mapcount)
		return check_fail(msg, len, PFN ": free head with flags %#x refcount %u "
				  "mapcount %d", pfn, pg->flags, pg->refcount, pg->mapcount);
	if (!pg->lru.next || pg->lru.next == &pg->lru)
		return check_fail(msg, len, PFN ": free head on no list", pfn);
	if (o < VM_MAX_ORDER && buddy < b->nframes && page_is_buddy(&b->pages[buddy], o))
		return check_fail(msg, len, PFN " and %#" PRIx64 ": free buddies of order %u "
				  "not merged", pfn, buddy, o);
	return 0;
}

/* An allocated block of order > 0 met by the walk: every other frame a tail. */
static int check_alloc_block(const struct vm_buddy *b, uint64_t pfn, char *msg, size_t len)
{
	const struct vm_page *pg = &b->pages[pfn];
	unsigned o = pg->order;

	if (o == 0 || !block_fits(b, pfn, o))
		return check_fail(msg, len, PFN ": allocated head of bad order %u", pfn, o);
	for (uint64_t i = 1; i < order_frames(o); i++)
		if ((pg[i].flags & PG_BLOCK_FLAGS) != 1u << VM_PG_TAIL)
			return check_fail(msg, len, PFN ": not a tail of the block at %#" PRIx64,
					  pfn + i, pfn);
	return 0;
}

/* Walk the blocks in pfn order: they must tile [0, nframes), and the free
 * ones must be those on the lists (same count per order; check_free_list
 * showed every listed head starts a block, so the sets are equal). */
static int check_blocks(const struct vm_buddy *b, char *msg, size_t len)
{
	uint64_t nfree[VM_MAX_ORDER + 1] = { 0 };
	uint64_t free_frames = 0, pfn = 0;
	int err;

	while (pfn < b->nframes) {
		const struct vm_page *pg = &b->pages[pfn];
		uint32_t kind = pg->flags & PG_BLOCK_FLAGS;

		if (kind & (1u << VM_PG_BUDDY)) {
			if ((err = check_free_block(b, pfn, msg, len)))
				return err;
			nfree[pg->order]++;
			free_frames += order_frames(pg->order);
		} else if (kind == 1u << VM_PG_HEAD) {
			if ((err = check_alloc_block(b, pfn, msg, len)))
				return err;
		} else if (kind || pg->order) {
			return check_fail(msg, len, PFN ": flags %#x order %u outside any block",
					  pfn, pg->flags, pg->order);
		}
		pfn += order_frames(pg->order);
	}
	for (unsigned o = 0; o <= VM_MAX_ORDER; o++)
		if (nfree[o] != b->nfree[o])
			return check_fail(msg, len, "order %u: " U64 " free blocks, nfree " U64,
					  o, nfree[o], b->nfree[o]);
	if (free_frames != b->free_frames)
		return check_fail(msg, len, U64 " free frames in memory, free_frames " U64,
				  free_frames, b->free_frames);
	return 0;
}

int vm_buddy_check(const struct vm_buddy *b, char *msg, size_t len)
{
	uint64_t frames = 0;
	int err = 0;

	for (unsigned o = 0; o <= VM_MAX_ORDER && !err; o++)
		err = check_free_list(b, o, &frames, msg, len);
	if (!err && frames != b->free_frames)
		err = check_fail(msg, len, "free lists hold " U64 " frames, free_frames " U64,
				 frames, b->free_frames);
	if (!err)
		err = check_blocks(b, msg, len);
	if (!err && msg && len)
		msg[0] = '\0';
	return err;
}
