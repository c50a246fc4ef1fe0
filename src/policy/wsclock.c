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

struct wsclock {
	struct vm_ring r;          /* the circle and its hand */
	uint64_t *last_use;        /* per frame: virtual time of the last known use */
};

static int ws_init(struct vm_evict *e)
{
	struct wsclock *p = (struct wsclock *)e;
	int rc = vm_ring_init(e);
	p->last_use = vm_evict_alloc(e, e->frames, sizeof(*p->last_use));
	return rc == 0 && p->last_use ? 0 : -ENOMEM;
}

static void ws_fini(struct vm_evict *e)
{
	vm_ring_fini(e);
	vm_evict_free(e, ((struct wsclock *)e)->last_use);
}

static void ws_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	((struct wsclock *)e)->last_use[frame] = e->now;
	vm_ring_insert_at_hand(e, frame, r);
}

static uint32_t ws_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct wsclock *p = (struct wsclock *)e;
	uint64_t laps = 2 * (uint64_t)e->used;
	(void)r;

	for (uint64_t i = 0; i < laps; i++, p->r.hand = vm_ring_next(&p->r, p->r.hand)) {
		uint32_t f = p->r.hand;
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
	for (uint32_t i = 0; i < e->used; i++, p->r.hand = vm_ring_next(&p->r, p->r.hand))
		if (!vm_evict_dirty(e, p->r.hand))
			return p->r.hand;
	return p->r.hand;
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
	.remove = vm_ring_remove_at_hand,
	.order = vm_ring_order_from_hand,
	.note = ws_note,
	.state = ws_state,
	.check = vm_ring_check_hand,
};
