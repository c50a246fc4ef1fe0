/*
 * S3-FIFO (Yang, Zhang, Qiu, Yue, Vinayak; SOSP 2023, Algorithm 1): a small
 * FIFO S (10% of the capacity c), a main FIFO M (90%) and a ghost FIFO G
 * remembering as many evicted keys as M holds pages (0.9c, at least 1).
 * Each resident page has a 2-bit use counter.
 *
 *   hit        freq = min(freq + 1, 3)
 *   miss       while memory is full: evict(); then the page goes to the
 *              head of M if its key is in G (and leaves G), else to the
 *              head of S; freq = 0
 *   evict()    evictS() if |S| >= 0.1c, else evictM()
 *   evictS()   until one page is evicted or S is empty: take S's tail; if
 *              freq > 1 move it to M's head (and evictM() if M is now over
 *              its size), else evict it and remember its key in G
 *   evictM()   until one page is evicted: take M's tail; if freq > 0 put
 *              it back at M's head with freq - 1, else evict it
 *
 * The sizes compare as real numbers, as in the paper (|S| >= 0.1c is
 * 10|S| >= c).  "M is full" is read as "M holds more than 0.9c"; the pages
 * moved are
 * not counted as evictions.  One evict() can evict more than one page (an
 * evictM() inside evictS(), then the evictS() victim): choose() runs
 * evict() to the end, queues its victims and hands them out one by one,
 * setting e->more while some are left (the driver's contract, evict.h).
 * Needs every access (the counter counts hits).
 */
#include "policy/policies.h"

#include <stdio.h>

#include "base/error.h"
#include "policy/ghost.h"

enum { QS = 0, QM = 1, QDOOMED = 2 };

struct s3_page {
	uint64_t key;
	uint8_t freq;              /* 0..3 */
	uint8_t queue;             /* QS, QM, or QDOOMED (chosen, not yet removed) */
	uint8_t to_ghost;          /* doomed: its key goes to G when removed */
};

struct s3fifo {
	struct vm_evict e;
	struct vm_ilink *link;     /* frames + 2: S and M, head->next newest, head->prev the tail */
	struct s3_page *pg;        /* per frame: one 16-byte record, one cache miss */
	struct vm_ghost ghost;     /* G: one list */
	uint32_t s_len, m_len;
	uint32_t *victims;         /* the victims of the last evict(), not yet handed out */
	uint32_t nvictims, next_victim;
};

#define HS(s) ((s)->e.frames)
#define HM(s) ((s)->e.frames + 1)

static int s3_init(struct vm_evict *e)
{
	struct s3fifo *s = (struct s3fifo *)e;
	s->link = vm_evict_alloc(e, (size_t)e->frames + 2, sizeof(*s->link));
	s->pg = vm_evict_alloc(e, e->frames, sizeof(*s->pg));
	s->victims = vm_evict_alloc(e, e->frames, sizeof(*s->victims));
	if (!s->link || !s->pg || !s->victims)
		return -ENOMEM;
	uint32_t g = (uint32_t)((uint64_t)e->capacity * 9 / 10);
	if (vm_ghost_init(&s->ghost, e->host, g ? g : 1, !e->shadows) != 0)
		return -ENOMEM;
	vm_ilist_init(s->link, HS(s));
	vm_ilist_init(s->link, HM(s));
	return 0;
}

static void s3_fini(struct vm_evict *e)
{
	struct s3fifo *s = (struct s3fifo *)e;
	vm_ghost_fini(&s->ghost, e->host);
	vm_evict_free(e, s->link);
	vm_evict_free(e, s->pg);
	vm_evict_free(e, s->victims);
}

static void s3_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct s3fifo *s = (struct s3fifo *)e;
	uint32_t g = vm_ghost_find(&s->ghost, r->key, r->shadow);

	s->pg[frame].key = r->key;
	s->pg[frame].freq = 0;
	if (g != VM_GHOST_NONE) {
		vm_ghost_del(&s->ghost, g);
		s->pg[frame].queue = QM;
		s->m_len++;
		vm_ilist_add(s->link, frame, HM(s));
	} else {
		s->pg[frame].queue = QS;
		s->s_len++;
		vm_ilist_add(s->link, frame, HS(s));
	}
}

static void s3_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct s3fifo *s = (struct s3fifo *)e;
	(void)r;
	if (s->pg[frame].freq < 3)
		s->pg[frame].freq++;
}

/* Take frame off its queue as a victim of this evict(). */
static void doom(struct s3fifo *s, uint32_t frame, bool ghost)
{
	if (s->pg[frame].queue == QS)
		s->s_len--;
	else
		s->m_len--;
	vm_ilist_del(s->link, frame);
	s->pg[frame].queue = QDOOMED;
	s->pg[frame].to_ghost = ghost;
	s->victims[s->nvictims++] = frame;
}

static void evict_m(struct s3fifo *s)
{
	while (s->m_len) {
		uint32_t t = vm_ilist_last(s->link, HM(s));
		if (s->pg[t].freq == 0) {
			doom(s, t, false);
			return;
		}
		s->pg[t].freq--;
		vm_ilist_move(s->link, t, HM(s));
	}
}

static void evict_s(struct s3fifo *s)
{
	while (s->s_len) {
		uint32_t t = vm_ilist_last(s->link, HS(s));
		if (s->pg[t].freq <= 1) {
			doom(s, t, true);
			return;
		}
		vm_ilist_del(s->link, t);
		s->s_len--;
		s->pg[t].queue = QM;
		s->m_len++;
		vm_ilist_add(s->link, t, HM(s));
		if ((uint64_t)s->m_len * 10 > (uint64_t)s->e.capacity * 9)
			evict_m(s);
	}
}

static uint32_t s3_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct s3fifo *s = (struct s3fifo *)e;
	(void)r;
	if (s->next_victim == s->nvictims) {
		s->nvictims = s->next_victim = 0;
		if ((uint64_t)s->s_len * 10 >= e->capacity)
			evict_s(s);
		else
			evict_m(s);
		if (s->nvictims == 0)       /* S emptied by promotions: M has pages */
			evict_m(s);
	}
	uint32_t v = s->victims[s->next_victim++];
	e->more = s->nvictims - s->next_victim;
	return v;
}

static void s3_remove(struct vm_evict *e, uint32_t frame, bool evicted)
{
	struct s3fifo *s = (struct s3fifo *)e;
	if (s->pg[frame].queue == QDOOMED) {
		if (evicted && s->pg[frame].to_ghost)
			e->shadow = vm_ghost_shadow(vm_ghost_push(&s->ghost, 0, s->pg[frame].key, 0));
		return;
	}
	/* Freed by the driver without being chosen. */
	if (s->pg[frame].queue == QS)
		s->s_len--;
	else
		s->m_len--;
	vm_ilist_del(s->link, frame);
}

static uint32_t s3_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	uint32_t n = vm_ilist_order(s->link, HS(s), frames);
	return n + vm_ilist_order(s->link, HM(s), frames + n);
}

static void s3_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	snprintf(buf, len, "%s,f=%u", s->pg[frame].queue == QS ? "S" : "M", s->pg[frame].freq);
}

static void s3_state(const struct vm_evict *e, char *buf, size_t len)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	char g[200];
	vm_ghost_format(&s->ghost, 0, g, sizeof(g));
	snprintf(buf, len, "S=%u M=%u G=%s", s->s_len, s->m_len, g);
}

static int s3_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	uint32_t ns, nm;
	int rc = vm_ilist_check(s->link, HS(s), e->frames, &ns, msg, len);
	if (!rc)
		rc = vm_ilist_check(s->link, HM(s), e->frames, &nm, msg, len);
	if (!rc)
		rc = vm_ghost_check(&s->ghost, msg, len);
	if (rc)
		return rc;
	if (ns != s->s_len || nm != s->m_len ||
	    ns + nm + (s->nvictims - s->next_victim) != e->used)
		return vm_check_fail(msg, len, "s3fifo: S %u/%u, M %u/%u, resident %u", ns, s->s_len,
				     nm, s->m_len, e->used);
	if (s->ghost.used > s->ghost.cap)
		return vm_check_fail(msg, len, "s3fifo: %u ghosts, room for %u", s->ghost.used,
				     s->ghost.cap);
	return 0;
}

static void s3_prefetch(const struct vm_evict *e, uint32_t frame, uint64_t key, uint32_t shadow)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	if (frame != VM_EVICT_NONE) {
		__builtin_prefetch(&s->pg[frame]);
		return;
	}
	/* A miss: its lookup in G, and the tails evict() will look at. */
	vm_ghost_prefetch(&s->ghost, key, shadow);
	uint32_t t = vm_ilist_last(s->link, HS(s));
	if (t < e->frames)
		__builtin_prefetch(&s->pg[t]);
	t = vm_ilist_last(s->link, HM(s));
	if (t < e->frames) {
		__builtin_prefetch(&s->pg[t]);
		__builtin_prefetch(&s->link[s->link[t].prev]);
	}
	vm_ghost_prefetch_oldest(&s->ghost, 0);
}

const struct vm_evict_ops vm_policy_s3fifo = {
	.name = "s3fifo",
	.desc = "S3-FIFO (SOSP'23): small, main and ghost FIFO queues with 2-bit counters",
	.order_desc = "S tail -> head, then M tail -> head (f = use counter)",
	.flags = VM_EVICT_SEES_ACCESSES,
	.size = sizeof(struct s3fifo),
	.init = s3_init,
	.fini = s3_fini,
	.insert = s3_insert,
	.access = s3_access,
	.choose = s3_choose,
	.remove = s3_remove,
	.order = s3_order,
	.note = s3_note,
	.state = s3_state,
	.check = s3_check,
	.prefetch = s3_prefetch,
};
