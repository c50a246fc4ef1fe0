/*
 * ARC, adaptive replacement cache (Megiddo and Modha, FAST 2003, Fig. 4).
 * Resident pages are on T1 (seen once recently) or T2 (seen at least twice);
 * ghosts of pages evicted from them are on B1 and B2.  The target size p of
 * T1 adapts: a miss that finds its page in B1 says T1 was too small
 * (p += max(|B2|/|B1|, 1), at most c), one in B2 that T2 was
 * (p -= max(|B1|/|B2|, 1), at least 0).  With c the capacity:
 *
 *   hit in T1 or T2   move to the MRU end of T2
 *   miss, in B1/B2    adapt p; REPLACE; move the page to the MRU end of T2
 *   miss, new page    if |T1| + |B1| = c: if |T1| < c drop the LRU ghost of
 *                     B1 and REPLACE, else evict the LRU page of T1 (no
 *                     ghost); else if the directory holds >= c pages: if it
 *                     holds 2c drop the LRU ghost of B2; REPLACE.  Then put
 *                     the page at the MRU end of T1.
 *   REPLACE           if |T1| >= 1 and (|T1| > p or (the page is in B2 and
 *                     |T1| = p)): the LRU page of T1 goes to B1, else the
 *                     LRU page of T2 goes to B2.
 *
 * The ratios are integer divisions (the paper does not say; implementations
 * differ).  Here the steps of one miss are split between choose() (adapt,
 * pick the victim), remove() (the victim becomes a ghost) and insert().  A
 * miss while memory is not full (only after the kernel freed pages) adapts p
 * and trims ghosts but evicts nothing.  Needs every access.
 */
#include "policy/policies.h"

#include <inttypes.h>
#include <stdio.h>

#include "base/error.h"
#include "policy/ghost.h"

enum { T1 = 1, T2 = 2 };                  /* arc->in[] */
enum { B1 = 0, B2 = 1 };                  /* ghost lists */
enum { CASE_NEW, CASE_B1, CASE_B2 };
enum { TO_B1, TO_B2, TO_NOWHERE };

struct arc {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 2: T1 and T2, MRU at head->next */
	uint8_t *in;               /* per frame: T1 or T2 (a hit reads it: 1 byte a frame, so
	                              the array stays in the cache) */
	uint64_t *key;             /* per frame: read when the page is evicted */
	struct vm_ghost ghost;     /* B1 and B2, capacity c + 1 */
	uint32_t t1, t2;           /* |T1|, |T2| */
	uint32_t p;                /* target |T1|, 0..c */
	bool prepared;             /* the miss of prepared_key was classified */
	uint64_t prepared_key;
	int prepared_case;
	bool drop_t1;              /* this miss evicts T1's LRU page without a ghost */
	uint32_t victim;           /* the frame choose() returned, or VM_EVICT_NONE */
	int victim_to;
};

#define HT1(a) ((a)->e.frames)
#define HT2(a) ((a)->e.frames + 1)

static int arc_init(struct vm_evict *e)
{
	struct arc *a = (struct arc *)e;
	a->link = vm_evict_alloc(e, (size_t)e->frames + 2, sizeof(*a->link));
	a->in = vm_evict_alloc(e, e->frames, sizeof(*a->in));
	a->key = vm_evict_alloc(e, e->frames, sizeof(*a->key));
	if (!a->link || !a->in || !a->key)
		return -ENOMEM;
	/* |B1| + |B2| <= c while memory is full, c + 1 for a moment during a
	 * ghost hit (REPLACE before the page leaves its ghost list) */
	if (vm_ghost_init(&a->ghost, e->host, e->capacity + 1, !e->shadows) != 0)
		return -ENOMEM;
	vm_ilist_init(a->link, HT1(a));
	vm_ilist_init(a->link, HT2(a));
	a->victim = VM_EVICT_NONE;
	return 0;
}

static void arc_fini(struct vm_evict *e)
{
	struct arc *a = (struct arc *)e;
	vm_ghost_fini(&a->ghost, e->host);
	vm_evict_free(e, a->link);
	vm_evict_free(e, a->in);
	vm_evict_free(e, a->key);
}

static void drop_oldest_ghost(struct arc *a, unsigned list)
{
	uint32_t g = vm_ghost_oldest(&a->ghost, list);
	if (g != VM_GHOST_NONE)
		vm_ghost_del(&a->ghost, g);
}

/* Cases II-IV up to REPLACE for a miss on key (r NULL: background reclaim,
 * no page in view). */
static void arc_prepare(struct arc *a, const struct vm_evict_ref *r)
{
	uint32_t c = a->e.capacity;
	uint32_t b1 = a->ghost.len[B1], b2 = a->ghost.len[B2];
	uint32_t g = r ? vm_ghost_find(&a->ghost, r->key, r->shadow) : VM_GHOST_NONE;

	a->prepared = r != NULL;
	a->prepared_key = r ? r->key : 0;
	a->drop_t1 = false;
	if (g != VM_GHOST_NONE && vm_ghost_list(&a->ghost, g) == B1) {
		uint32_t delta = b1 >= b2 ? 1 : b2 / b1;
		a->p = a->p + delta > c ? c : a->p + delta;
		a->prepared_case = CASE_B1;
	} else if (g != VM_GHOST_NONE) {
		uint32_t delta = b2 >= b1 ? 1 : b1 / b2;
		a->p = a->p > delta ? a->p - delta : 0;
		a->prepared_case = CASE_B2;
	} else {
		a->prepared_case = CASE_NEW;
		if (!r)
			return;
		if (a->t1 + b1 >= c) {
			if (a->t1 < c)
				drop_oldest_ghost(a, B1);
			else
				a->drop_t1 = true;
		} else if (a->t1 + a->t2 + b1 + b2 >= c) {
			if (a->t1 + a->t2 + b1 + b2 >= 2 * c)
				drop_oldest_ghost(a, B2);
		}
	}
}

static uint32_t arc_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct arc *a = (struct arc *)e;
	bool t1_goes;

	if (!r || !a->prepared || a->prepared_key != r->key)
		arc_prepare(a, r);
	if (a->drop_t1) {
		a->victim = vm_ilist_last(a->link, HT1(a));
		a->victim_to = TO_NOWHERE;
		return a->victim;
	}
	/* REPLACE(x, p) */
	t1_goes = a->t1 >= 1 && (a->t1 > a->p || (a->prepared_case == CASE_B2 && a->t1 == a->p));
	if (a->t2 == 0)
		t1_goes = true;
	a->victim = vm_ilist_last(a->link, t1_goes ? HT1(a) : HT2(a));
	a->victim_to = t1_goes ? TO_B1 : TO_B2;
	return a->victim;
}

static void arc_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct arc *a = (struct arc *)e;
	if (a->in[frame] == T1)
		a->t1--;
	else
		a->t2--;
	vm_ilist_del(a->link, frame);
	if (evicted && frame == a->victim && a->victim_to != TO_NOWHERE)
		e->shadow = vm_ghost_shadow(vm_ghost_push(&a->ghost, a->victim_to == TO_B1 ? B1 : B2,
							  a->key[frame], 0));
	else if (evicted && frame != a->victim)
		e->shadow = vm_ghost_shadow(vm_ghost_push(&a->ghost, a->in[frame] == T1 ? B1 : B2,
							  a->key[frame], 0));
	a->victim = VM_EVICT_NONE;
	a->in[frame] = 0;
}

static void arc_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct arc *a = (struct arc *)e;
	if (!a->prepared || a->prepared_key != r->key)
		arc_prepare(a, r);
	a->key[frame] = r->key;
	if (a->prepared_case == CASE_NEW) {
		a->in[frame] = T1;
		a->t1++;
		vm_ilist_add(a->link, frame, HT1(a));
	} else {
		uint32_t g = vm_ghost_find(&a->ghost, r->key, r->shadow);
		if (g != VM_GHOST_NONE)
			vm_ghost_del(&a->ghost, g);
		a->in[frame] = T2;
		a->t2++;
		vm_ilist_add(a->link, frame, HT2(a));
	}
	a->prepared = false;
}

static void arc_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct arc *a = (struct arc *)e;
	(void)r;
	if (a->in[frame] == T1) {
		a->t1--;
		a->t2++;
		a->in[frame] = T2;
	}
	vm_ilist_move(a->link, frame, HT2(a));
}

static uint32_t arc_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct arc *a = (const struct arc *)e;
	uint32_t n = vm_ilist_order(a->link, HT1(a), frames);
	return n + vm_ilist_order(a->link, HT2(a), frames + n);
}

static void arc_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	snprintf(buf, len, "%s", ((const struct arc *)e)->in[frame] == T1 ? "T1" : "T2");
}

static void arc_state(const struct vm_evict *e, char *buf, size_t len)
{
	const struct arc *a = (const struct arc *)e;
	char b1[160], b2[160];
	vm_ghost_format(&a->ghost, B1, b1, sizeof(b1));
	vm_ghost_format(&a->ghost, B2, b2, sizeof(b2));
	snprintf(buf, len, "p=%u B1=%s B2=%s", a->p, b1, b2);
}

static int arc_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct arc *a = (const struct arc *)e;
	uint32_t n1, n2, c = e->capacity;
	int rc = vm_ilist_check(a->link, HT1(a), e->frames, &n1, msg, len);
	if (!rc)
		rc = vm_ilist_check(a->link, HT2(a), e->frames, &n2, msg, len);
	if (!rc)
		rc = vm_ghost_check(&a->ghost, msg, len);
	if (rc)
		return rc;
	if (n1 != a->t1 || n2 != a->t2 || n1 + n2 != e->used)
		return vm_check_fail(msg, len, "arc: T1 %u/%u, T2 %u/%u, resident %u", n1, a->t1, n2,
				     a->t2, e->used);
	if (a->p > c || a->t1 + a->ghost.len[B1] > c ||
	    a->t1 + a->t2 + a->ghost.len[B1] + a->ghost.len[B2] > 2 * c)
		return vm_check_fail(msg, len, "arc: p %u, |T1|+|B1| %u, directory %u, c %u", a->p,
				     a->t1 + a->ghost.len[B1],
				     a->t1 + a->t2 + a->ghost.len[B1] + a->ghost.len[B2], c);
	return 0;
}

static void arc_prefetch(const struct vm_evict *e, uint32_t frame, uint64_t key, uint32_t shadow)
{
	const struct arc *a = (const struct arc *)e;
	if (frame != VM_EVICT_NONE) {
		__builtin_prefetch(&a->link[frame]);
		__builtin_prefetch(&a->in[frame]);
		return;
	}
	/* A miss: its ghost lookup, the LRU ends REPLACE takes from, and the
	 * oldest ghosts a new page may push out. */
	vm_ghost_prefetch(&a->ghost, key, shadow);
	for (uint32_t h = HT1(a); h <= HT2(a); h++) {
		uint32_t t = vm_ilist_last(a->link, h);
		if (t < e->frames) {
			__builtin_prefetch(&a->in[t]);
			__builtin_prefetch(&a->key[t]);
			__builtin_prefetch(&a->link[a->link[t].prev]);
		}
	}
	vm_ghost_prefetch_oldest(&a->ghost, B1);
	vm_ghost_prefetch_oldest(&a->ghost, B2);
}

const struct vm_evict_ops vm_policy_arc = {
	.name = "arc",
	.desc = "ARC (FAST'03): recency list T1 and frequency list T2 sized by ghost hits",
	.order_desc = "T1 LRU -> MRU, then T2 LRU -> MRU",
	.flags = VM_EVICT_SEES_ACCESSES,
	.size = sizeof(struct arc),
	.init = arc_init,
	.fini = arc_fini,
	.insert = arc_insert,
	.access = arc_access,
	.choose = arc_choose,
	.remove = arc_remove,
	.order = arc_order,
	.note = arc_note,
	.state = arc_state,
	.check = arc_check,
	.prefetch = arc_prefetch,
};
