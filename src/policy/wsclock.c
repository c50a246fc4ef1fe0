/*
 * WSClock (Carr and Hennessy, SOSP 1981; Tanenbaum §3.4.9): the working-set
 * policy run by a clock hand.  Each page remembers the virtual time (the
 * number of references so far) of its last known use.  On a fault the hand
 * sweeps the circle:
 *   - Accessed bit set: clear it, note the time as the last use, pass;
 *   - clear, and older than the window tau (now - last use > tau: outside
 *     the working set): if clean, this is the victim; if dirty, schedule a
 *     write-back (the model completes it at once and counts it) and pass;
 * After one lap without a victim: if writes were scheduled, sweep on, the
 * first of those pages is now clean and old; if none were (every page is
 * in the working set), take the first clean page from the hand, else the
 * page at the hand (written back when evicted).
 */
#include "policy/policies.h"

#include <inttypes.h>
#include <stdio.h>

#include "base/error.h"

struct wsclock {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 1: the circle */
	uint64_t *last_use;        /* per frame: virtual time of the last known use */
	uint32_t hand;             /* a resident frame, or VM_EVICT_NONE */
};

#define HEAD(p) ((p)->e.frames)

static inline uint32_t ws_next(const struct wsclock *p, uint32_t f)
{
	uint32_t n = p->link[f].prev;
	return n == HEAD(p) ? p->link[n].prev : n;
}

static int ws_init(struct vm_evict *e)
{
	struct wsclock *p = (struct wsclock *)e;
	p->link = vm_evict_alloc(e, (size_t)e->frames + 1, sizeof(*p->link));
	p->last_use = vm_evict_alloc(e, e->frames, sizeof(*p->last_use));
	if (!p->link || !p->last_use)
		return -ENOMEM;
	vm_ilist_init(p->link, HEAD(p));
	p->hand = VM_EVICT_NONE;
	return 0;
}

static void ws_fini(struct vm_evict *e)
{
	struct wsclock *p = (struct wsclock *)e;
	vm_evict_free(e, p->link);
	vm_evict_free(e, p->last_use);
}

static void ws_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct wsclock *p = (struct wsclock *)e;
	(void)r;
	p->last_use[frame] = e->now;
	if (p->hand == VM_EVICT_NONE) {
		vm_ilist_add(p->link, frame, HEAD(p));
		p->hand = frame;
	} else {
		vm_ilist_link(p->link, frame, p->hand, p->link[p->hand].next);   /* behind the hand */
	}
}

static uint32_t ws_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct wsclock *p = (struct wsclock *)e;
	uint64_t laps = 2 * (uint64_t)e->used;
	(void)r;

	for (uint64_t i = 0; i < laps; i++, p->hand = ws_next(p, p->hand)) {
		uint32_t f = p->hand;
		if (vm_evict_young(e, f, true)) {
			p->last_use[f] = e->now;
			continue;
		}
		if (e->now - p->last_use[f] <= e->tau)
			continue;
		if (!vm_evict_dirty(e, f))
			return f;
		if (i < e->used)
			vm_evict_writeback(e, f);
	}
	/* Every page is in the working set. */
	for (uint32_t i = 0; i < e->used; i++, p->hand = ws_next(p, p->hand))
		if (!vm_evict_dirty(e, p->hand))
			return p->hand;
	return p->hand;
}

static void ws_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct wsclock *p = (struct wsclock *)e;
	(void)evicted;
	if (p->hand == frame) {
		uint32_t n = ws_next(p, frame);
		p->hand = n == frame ? VM_EVICT_NONE : n;
	}
	vm_ilist_del(p->link, frame);
}

static uint32_t ws_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct wsclock *p = (const struct wsclock *)e;
	uint32_t n = 0;
	if (p->hand == VM_EVICT_NONE)
		return 0;
	uint32_t f = p->hand;
	do {
		frames[n++] = f;
		f = ws_next(p, f);
	} while (f != p->hand);
	return n;
}

static void ws_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	const struct wsclock *p = (const struct wsclock *)e;
	unsigned b = vm_evict_peek(e, frame);
	snprintf(buf, len, "%s%st=%" PRIu64, (b & VM_EVICT_A) ? "A," : "",
		 (b & VM_EVICT_D) ? "D," : "", p->last_use[frame]);
}

static void ws_state(const struct vm_evict *e, char *buf, size_t len)
{
	snprintf(buf, len, "now=%" PRIu64 " tau=%" PRIu64, e->now, e->tau);
}

static int ws_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct wsclock *p = (const struct wsclock *)e;
	uint32_t n;
	int rc = vm_ilist_check(p->link, HEAD(p), e->frames, &n, msg, len);
	if (rc)
		return rc;
	if (n != e->used || (n == 0) != (p->hand == VM_EVICT_NONE))
		return vm_check_fail(msg, len, "wsclock: %u in the circle, %u resident, hand %u", n,
				     e->used, p->hand);
	return 0;
}

const struct vm_evict_ops vm_policy_wsclock = {
	.name = "wsclock",
	.desc = "working set by a clock hand: evict a clean page unused for longer than tau",
	.order_desc = "from the hand around the circle (A, D bits; t = last known use)",
	.flags = VM_EVICT_USES_ABITS,
	.size = sizeof(struct wsclock),
	.init = ws_init,
	.fini = ws_fini,
	.insert = ws_insert,
	.choose = ws_choose,
	.remove = ws_remove,
	.order = ws_order,
	.note = ws_note,
	.state = ws_state,
	.check = ws_check,
};
