/*
 * Linux's active/inactive LRU lists (mm/vmscan.c, mm/workingset.c, without
 * MGLRU), at the level of lists, page flags and Accessed bits.  The default
 * policy (DESIGN.md: policy = linux).
 *
 * Four lists, as lruvec->lists[]: inactive and active for anonymous and for
 * file pages; new pages go to the head of the inactive list (folio_add_lru;
 * anonymous pages too since 5.9), reclaim takes from the tail.
 *
 *   shrink_inactive_list / folio_check_references, per page at the tail:
 *     referenced_ptes = folio_referenced() (Accessed bits, cleared),
 *     referenced_folio = PG_referenced (cleared);
 *     young: set PG_referenced; activate if it was already set, if more
 *       than one PTE was young, or if it is a file page one of whose young
 *       mappings is executable (VM_EXEC);
 *       otherwise keep it (back to the inactive head): the second look
 *       decides;
 *     not young: reclaim it.
 *   shrink_active_list, while inactive_is_low() (inactive * ratio < active,
 *     ratio = int_sqrt(10 * GiB of the two lists), 1 below a GiB): the
 *     tail page's Accessed bits are cleared; a young executable file page
 *     goes round the active list again, any other page is deactivated to
 *     the inactive head with PG_workingset set.
 *   workingset (refault distance): nonresident_age counts evictions and
 *     activations; an evicted page leaves a shadow entry with the age and
 *     its PG_workingset; when it faults back, refault distance = age now -
 *     age then, and if that is <= the workingset size (active file pages,
 *     plus inactive file for anon, plus the anon lists: swap is assumed
 *     present) the page starts on the active list (and regains
 *     PG_workingset if it had it).
 *
 * Simplified: reclaim works one page at a time where Linux isolates batches
 * of SWAP_CLUSTER_MAX (32); anon versus file is balanced by swappiness and
 * list sizes alone (get_scan_count also weighs the cost of refaults and
 * I/O); dirty pages are reclaimed and written back at once (Linux defers
 * them to the flusher and rotates them); shadow entries live in a table of
 * capacity + 1 (an older shadow's distance exceeds any possible workingset
 * size, so it could not activate anything) rather than in the page cache;
 * one memory cgroup and node; folio_mark_accessed() (read()/write() access
 * to unmapped page cache) is not modelled, every access goes through PTEs.
 */
#include "policy/policies.h"

#include <inttypes.h>
#include <stdio.h>

#include "base/error.h"
#include "policy/ghost.h"

enum { ANON = 0, FILE_LRU = 1 };
/* lruvec->lists[] order: LRU_INACTIVE_ANON, LRU_ACTIVE_ANON, LRU_INACTIVE_FILE, LRU_ACTIVE_FILE */
#define LRU(type, active) ((unsigned)(type) * 2u + (active))

#define PG_ACTIVE     0x01u
#define PG_REFERENCED 0x02u
#define PG_WORKINGSET 0x04u
#define PG_ANON       0x08u

struct lx_page {
	uint64_t key;
	uint8_t flags;             /* PG_* */
};

struct linux_lru {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 4 heads (LRU()), newest at head->next */
	struct lx_page *page;      /* per frame */
	uint32_t nr[4];            /* pages per list */
	uint64_t nonresident_age;  /* lruvec->nonresident_age */
	struct vm_ghost shadow;    /* value: age << 1 | PG_workingset */
	int64_t credit[2];         /* anon/file scan balance: signed, the chosen type goes below 0 */
	uint64_t activations, deactivations, rotations, refaults, refault_activations;
};

#define HEAD(l, lru) ((l)->e.frames + (lru))

static inline unsigned page_type(const struct linux_lru *l, uint32_t f)
{
	return (l->page[f].flags & PG_ANON) ? ANON : FILE_LRU;
}

static inline unsigned page_lru(const struct linux_lru *l, uint32_t f)
{
	return LRU(page_type(l, f), (l->page[f].flags & PG_ACTIVE) ? 1u : 0u);
}

static int lx_init(struct vm_evict *e)
{
	struct linux_lru *l = (struct linux_lru *)e;
	l->link = vm_evict_alloc(e, (size_t)e->frames + 4, sizeof(*l->link));
	l->page = vm_evict_alloc(e, e->frames, sizeof(*l->page));
	if (!l->link || !l->page)
		return -ENOMEM;
	if (vm_ghost_init(&l->shadow, e->host, e->capacity + 1, !e->shadows) != 0)
		return -ENOMEM;
	for (unsigned i = 0; i < 4; i++)
		vm_ilist_init(l->link, HEAD(l, i));
	return 0;
}

static void lx_fini(struct vm_evict *e)
{
	struct linux_lru *l = (struct linux_lru *)e;
	vm_ghost_fini(&l->shadow, e->host);
	vm_evict_free(e, l->link);
	vm_evict_free(e, l->page);
}

/* Move f (on no list) to the head of its list per its flags. */
static void add_to_lru(struct linux_lru *l, uint32_t f)
{
	unsigned lru = page_lru(l, f);
	vm_ilist_add(l->link, f, HEAD(l, lru));
	l->nr[lru]++;
}

static void del_from_lru(struct linux_lru *l, uint32_t f)
{
	l->nr[page_lru(l, f)]--;
	vm_ilist_del(l->link, f);
}

/* workingset_test_recent(): may a refault with this shadow activate? */
static bool workingset_recent(const struct linux_lru *l, uint64_t shadow, bool file)
{
	uint64_t distance = l->nonresident_age - (shadow >> 1);
	uint64_t size = l->nr[LRU(FILE_LRU, 1)];
	if (!file)
		size += l->nr[LRU(FILE_LRU, 0)];
	size += l->nr[LRU(ANON, 1)];
	if (file)
		size += l->nr[LRU(ANON, 0)];
	return distance <= size;
}

static void lx_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct linux_lru *l = (struct linux_lru *)e;
	bool anon = r->flags & VM_EVICT_REF_ANON;
	uint32_t g = vm_ghost_find(&l->shadow, r->key, r->shadow);

	l->page[frame].key = r->key;
	l->page[frame].flags = anon ? PG_ANON : 0;
	if (g != VM_GHOST_NONE) {
		/* workingset_refault() */
		uint64_t shadow = vm_ghost_val(&l->shadow, g);
		vm_ghost_del(&l->shadow, g);
		l->refaults++;
		if (workingset_recent(l, shadow, !anon)) {
			l->page[frame].flags |= PG_ACTIVE;
			l->nonresident_age++;
			l->refault_activations++;
			if (shadow & 1)
				l->page[frame].flags |= PG_WORKINGSET;
		}
	}
	add_to_lru(l, frame);
}

/* inactive_is_low() */
static bool inactive_is_low(const struct linux_lru *l, unsigned type)
{
	uint64_t inactive = l->nr[LRU(type, 0)], active = l->nr[LRU(type, 1)];
	uint64_t gb = (inactive + active) >> (30 - 12), ratio = 1;
	if (gb)
		while ((ratio + 1) * (ratio + 1) <= 10 * gb)     /* int_sqrt(10 * gb) */
			ratio++;
	return inactive * ratio < active;
}

/* shrink_active_list() for the tail page of type's active list. */
static void shrink_active_one(struct linux_lru *l, unsigned type)
{
	uint32_t f = vm_ilist_last(l->link, HEAD(l, LRU(type, 1)));
	bool exec;
	bool young = vm_evict_referenced_exec(&l->e, f, &exec) > 0;

	if (young && exec && type == FILE_LRU) {
		vm_ilist_move(l->link, f, HEAD(l, LRU(type, 1)));
		l->nonresident_age++;      /* move_folios_to_lru() ages active folios */
		l->rotations++;
		return;
	}
	del_from_lru(l, f);
	l->page[f].flags = (uint8_t)((l->page[f].flags & ~PG_ACTIVE) | PG_WORKINGSET);
	add_to_lru(l, f);
	l->deactivations++;
}

/* Which type to reclaim from: by swappiness and list sizes (get_scan_count,
 * simplified to a deterministic proportional share). */
static unsigned scan_type(struct linux_lru *l)
{
	uint64_t anon = l->nr[0] + l->nr[1], file = l->nr[2] + l->nr[3];
	if (!anon)
		return FILE_LRU;
	if (!file || l->e.swappiness == 200)
		return ANON;
	if (l->e.swappiness == 0)
		return FILE_LRU;
	int64_t wa = (int64_t)(l->e.swappiness * anon), wf = (int64_t)((200 - l->e.swappiness) * file);
	l->credit[ANON] += wa;
	l->credit[FILE_LRU] += wf;
	unsigned t = l->credit[ANON] > l->credit[FILE_LRU] ? ANON : FILE_LRU;
	l->credit[t] -= wa + wf;
	return t;
}

static uint32_t lx_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct linux_lru *l = (struct linux_lru *)e;
	unsigned type = scan_type(l);
	(void)r;

	for (;;) {
		unsigned ina = LRU(type, 0), act = LRU(type, 1);
		if (l->nr[ina] + l->nr[act] == 0) {
			type ^= 1;       /* nothing of this type: the other has pages */
			continue;
		}
		if (inactive_is_low(l, type)) {
			shrink_active_one(l, type);
			continue;
		}
		/* shrink_inactive_list(): folio_check_references() */
		uint32_t f = vm_ilist_last(l->link, HEAD(l, ina));
		bool exec;
		int referenced_ptes = vm_evict_referenced_exec(e, f, &exec);
		bool referenced_folio = l->page[f].flags & PG_REFERENCED;
		l->page[f].flags &= (uint8_t)~PG_REFERENCED;
		if (!referenced_ptes)
			return f;
		l->page[f].flags |= PG_REFERENCED;
		if (referenced_folio || referenced_ptes > 1 || (exec && type == FILE_LRU)) {
			del_from_lru(l, f);
			l->page[f].flags |= PG_ACTIVE;
			add_to_lru(l, f);
			l->nonresident_age++;
			l->activations++;
		} else {
			vm_ilist_move(l->link, f, HEAD(l, ina));     /* FOLIOREF_KEEP */
		}
	}
}

static void lx_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct linux_lru *l = (struct linux_lru *)e;
	del_from_lru(l, frame);
	if (evicted) {
		/* workingset_eviction(): the age before this eviction ages it */
		uint32_t g = vm_ghost_push(&l->shadow, 0, l->page[frame].key,
					   l->nonresident_age << 1 |
						   ((l->page[frame].flags & PG_WORKINGSET) ? 1 : 0));
		e->shadow = vm_ghost_shadow(g);
		l->nonresident_age++;
	}
	l->page[frame].flags = 0;
}

static uint32_t lx_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct linux_lru *l = (const struct linux_lru *)e;
	static const unsigned lists[4] = { LRU(FILE_LRU, 0), LRU(FILE_LRU, 1), LRU(ANON, 0),
					   LRU(ANON, 1) };
	uint32_t n = 0;
	for (unsigned i = 0; i < 4; i++)
		n += vm_ilist_order(l->link, HEAD(l, lists[i]), frames + n);
	return n;
}

static void lx_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	const struct linux_lru *l = (const struct linux_lru *)e;
	uint8_t pg = l->page[frame].flags;
	snprintf(buf, len, "%s%s%s%s%s", (pg & PG_ANON) ? "anon," : "",
		 (pg & PG_ACTIVE) ? "act" : "inact", (pg & PG_REFERENCED) ? ",ref" : "",
		 (pg & PG_WORKINGSET) ? ",ws" : "",
		 (vm_evict_peek(e, frame) & VM_EVICT_A) ? ",A" : "");
}

static void lx_state(const struct vm_evict *e, char *buf, size_t len)
{
	const struct linux_lru *l = (const struct linux_lru *)e;
	snprintf(buf, len,
		 "file inactive=%u active=%u anon inactive=%u active=%u age=%" PRIu64
		 " shadows=%u activations=%" PRIu64 " deactivations=%" PRIu64 " refaults=%" PRIu64
		 " refault_activations=%" PRIu64,
		 l->nr[LRU(FILE_LRU, 0)], l->nr[LRU(FILE_LRU, 1)], l->nr[LRU(ANON, 0)],
		 l->nr[LRU(ANON, 1)], l->nonresident_age, l->shadow.used, l->activations,
		 l->deactivations, l->refaults, l->refault_activations);
}

static int lx_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct linux_lru *l = (const struct linux_lru *)e;
	uint32_t total = 0;
	for (unsigned i = 0; i < 4; i++) {
		uint32_t n;
		int rc = vm_ilist_check(l->link, HEAD(l, i), e->frames, &n, msg, len);
		if (rc)
			return rc;
		if (n != l->nr[i])
			return vm_check_fail(msg, len, "linux: list %u has %u pages, nr %u", i, n,
					     l->nr[i]);
		for (uint32_t f = l->link[HEAD(l, i)].next; f != HEAD(l, i); f = l->link[f].next)
			if (page_lru(l, f) != i)
				return vm_check_fail(msg, len, "linux: frame %u on list %u, flags %#x",
						     f, i, l->page[f].flags);
		total += n;
	}
	if (total != e->used)
		return vm_check_fail(msg, len, "linux: %u on lists, %u resident", total, e->used);
	return vm_ghost_check(&l->shadow, msg, len);
}

static void lx_prefetch(const struct vm_evict *e, uint32_t frame, uint64_t key, uint32_t shadow)
{
	const struct linux_lru *l = (const struct linux_lru *)e;
	if (frame == VM_EVICT_NONE) {
		vm_ghost_prefetch(&l->shadow, key, shadow);
		vm_ghost_prefetch_oldest(&l->shadow, 0);
	}
}

const struct vm_evict_ops vm_policy_linux = {
	.name = "linux",
	.desc = "Linux's active/inactive lists with refault distance (vmscan.c, workingset.c; default)",
	.order_desc = "file inactive, file active, anon inactive, anon active; each tail -> head",
	.flags = VM_EVICT_USES_ABITS,
	.size = sizeof(struct linux_lru),
	.init = lx_init,
	.fini = lx_fini,
	.insert = lx_insert,
	.choose = lx_choose,
	.remove = lx_remove,
	.order = lx_order,
	.note = lx_note,
	.state = lx_state,
	.check = lx_check,
	.prefetch = lx_prefetch,
};
