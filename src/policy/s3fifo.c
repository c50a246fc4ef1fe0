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
 *
 * S and M are rings of frame numbers, as the paper's FIFOs are (its
 * reference implementation uses ring buffers too): taking the tail and
 * putting a page back at the head, the rotation evictM() repeats, reads and
 * writes the rings in order, and a hit touches only the page's 8-byte
 * record.  A page freed by the driver without being chosen (munmap) leaves
 * a hole in its ring (VM_EVICT_NONE), skipped when the tail reaches it; a
 * ring has room for twice the frames and is compacted when holes fill it.
 */
#include "policy/policies.h"

#include <stdio.h>

#include "base/error.h"
#include "policy/ghost.h"

enum { QS = 0, QM = 1, QDOOMED = 2, QNONE = 3 };

#define HOLE VM_EVICT_NONE

/* Per frame: what a hit and a pass over a queue touch, in 8 bytes. */
struct s3_frame {
	uint32_t pos;              /* position of its entry in its queue's ring */
	uint8_t freq;              /* 0..3 */
	uint8_t queue;             /* QS, QM, QDOOMED (chosen, not yet removed), QNONE */
	uint8_t to_ghost;          /* doomed: its key goes to G when removed */
	uint8_t pad;
};

/* A FIFO of frames: entries at positions [tail, head) (free-running
 * counters), in ring[pos & mask]; len of them are frames, the rest holes. */
struct s3_queue {
	uint32_t *ring;
	uint32_t head, tail;
	uint32_t len;
};

struct s3fifo {
	struct vm_evict e;
	struct s3_frame *fr;       /* per frame */
	uint64_t *key;             /* per frame: read when the page is evicted */
	struct s3_queue q[2];      /* S and M */
	uint32_t mask;             /* ring size - 1; size a power of two >= 2 * frames */
	struct vm_ghost ghost;     /* G: one list */
	uint32_t *victims;         /* the victims of the last evict(), not yet handed out */
	uint32_t nvictims, next_victim;
};

static int s3_init(struct vm_evict *e)
{
	struct s3fifo *s = (struct s3fifo *)e;
	uint64_t size = 2;
	while (size < 2 * (uint64_t)e->frames)
		size <<= 1;
	s->mask = (uint32_t)(size - 1);
	s->fr = vm_evict_alloc(e, e->frames, sizeof(*s->fr));
	s->key = vm_evict_alloc(e, e->frames, sizeof(*s->key));
	s->q[QS].ring = vm_evict_alloc(e, size, sizeof(uint32_t));
	s->q[QM].ring = vm_evict_alloc(e, size, sizeof(uint32_t));
	s->victims = vm_evict_alloc(e, e->frames, sizeof(*s->victims));
	if (!s->fr || !s->key || !s->q[QS].ring || !s->q[QM].ring || !s->victims)
		return -ENOMEM;
	uint32_t g = (uint32_t)((uint64_t)e->capacity * 9 / 10);
	if (vm_ghost_init(&s->ghost, e->host, g ? g : 1, !e->shadows) != 0)
		return -ENOMEM;
	for (uint32_t f = 0; f < e->frames; f++)
		s->fr[f].queue = QNONE;
	return 0;
}

static void s3_fini(struct vm_evict *e)
{
	struct s3fifo *s = (struct s3fifo *)e;
	vm_ghost_fini(&s->ghost, e->host);
	vm_evict_free(e, s->fr);
	vm_evict_free(e, s->key);
	vm_evict_free(e, s->q[QS].ring);
	vm_evict_free(e, s->q[QM].ring);
	vm_evict_free(e, s->victims);
}

/* Squeeze the holes out of a full ring, keeping the order. */
static VM_NOINLINE void compact(struct s3fifo *s, struct s3_queue *q)
{
	uint32_t w = q->tail;
	for (uint32_t p = q->tail; p != q->head; p++) {
		uint32_t f = q->ring[p & s->mask];
		if (f == HOLE)
			continue;
		q->ring[w & s->mask] = f;
		s->fr[f].pos = w++;
	}
	q->head = w;
}

/* frame to the head of queue qi. */
static inline void push(struct s3fifo *s, unsigned qi, uint32_t frame)
{
	struct s3_queue *q = &s->q[qi];
	if (VM_UNLIKELY(q->head - q->tail > s->mask))
		compact(s, q);
	q->ring[q->head & s->mask] = frame;
	s->fr[frame].pos = q->head++;
	s->fr[frame].queue = (uint8_t)qi;
	q->len++;
}

/* The frame at the tail of queue qi (not empty), skipping holes. */
static inline uint32_t tail_of(struct s3fifo *s, unsigned qi)
{
	struct s3_queue *q = &s->q[qi];
	uint32_t f;
	while ((f = q->ring[q->tail & s->mask]) == HOLE)
		q->tail++;
	return f;
}

/* Take the tail (just returned by tail_of) off queue qi. */
static inline void pop(struct s3fifo *s, unsigned qi)
{
	s->q[qi].tail++;
	s->q[qi].len--;
}

static void s3_insert(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct s3fifo *s = (struct s3fifo *)e;
	uint32_t g = vm_ghost_find(&s->ghost, r->key, r->shadow);

	s->key[frame] = r->key;
	s->fr[frame].freq = 0;
	if (g != VM_GHOST_NONE) {
		vm_ghost_del(&s->ghost, g);
		push(s, QM, frame);
	} else {
		push(s, QS, frame);
	}
}

static void s3_access(struct vm_evict *e, uint32_t frame, const struct vm_evict_ref *r)
{
	struct s3fifo *s = (struct s3fifo *)e;
	(void)r;
	if (s->fr[frame].freq < 3)
		s->fr[frame].freq++;
}

/* frame, just popped, is a victim of this evict(). */
static inline void doom(struct s3fifo *s, uint32_t frame, bool ghost)
{
	s->fr[frame].queue = QDOOMED;
	s->fr[frame].to_ghost = ghost;
	s->victims[s->nvictims++] = frame;
}

static void evict_m(struct s3fifo *s)
{
	while (s->q[QM].len) {
		uint32_t t = tail_of(s, QM);
		pop(s, QM);
		if (s->fr[t].freq == 0) {
			doom(s, t, false);
			return;
		}
		s->fr[t].freq--;
		push(s, QM, t);
	}
}

static void evict_s(struct s3fifo *s)
{
	while (s->q[QS].len) {
		uint32_t t = tail_of(s, QS);
		pop(s, QS);
		if (s->fr[t].freq <= 1) {
			doom(s, t, true);
			return;
		}
		push(s, QM, t);
		if ((uint64_t)s->q[QM].len * 10 > (uint64_t)s->e.capacity * 9)
			evict_m(s);
	}
}

static uint32_t s3_choose(struct vm_evict *e, const struct vm_evict_ref *r)
{
	struct s3fifo *s = (struct s3fifo *)e;
	(void)r;
	if (s->next_victim == s->nvictims) {
		s->nvictims = s->next_victim = 0;
		if ((uint64_t)s->q[QS].len * 10 >= e->capacity)
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
	struct s3_frame *f = &s->fr[frame];
	if (f->queue == QDOOMED) {
		if (evicted && f->to_ghost)
			e->shadow = vm_ghost_shadow(vm_ghost_push(&s->ghost, 0, s->key[frame], 0));
	} else {
		/* Freed by the driver without being chosen: a hole. */
		s->q[f->queue].ring[f->pos & s->mask] = HOLE;
		s->q[f->queue].len--;
	}
	f->queue = QNONE;
}

/* Queue qi's frames from tail to head into frames[]; returns how many. */
static uint32_t queue_order(const struct s3fifo *s, unsigned qi, uint32_t *frames)
{
	const struct s3_queue *q = &s->q[qi];
	uint32_t n = 0;
	for (uint32_t p = q->tail; p != q->head; p++)
		if (q->ring[p & s->mask] != HOLE)
			frames[n++] = q->ring[p & s->mask];
	return n;
}

static uint32_t s3_order(const struct vm_evict *e, uint32_t *frames)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	uint32_t n = queue_order(s, QS, frames);
	return n + queue_order(s, QM, frames + n);
}

static void s3_note(const struct vm_evict *e, uint32_t frame, char *buf, size_t len)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	snprintf(buf, len, "%s,f=%u", s->fr[frame].queue == QS ? "S" : "M", s->fr[frame].freq);
}

static void s3_state(const struct vm_evict *e, char *buf, size_t len)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	char g[200];
	vm_ghost_format(&s->ghost, 0, g, sizeof(g));
	snprintf(buf, len, "S=%u M=%u G=%s", s->q[QS].len, s->q[QM].len, g);
}

/* A queue's ring: its frames say they are there, their count is len. */
static int queue_check(const struct s3fifo *s, unsigned qi, char *msg, size_t len)
{
	const struct s3_queue *q = &s->q[qi];
	uint32_t n = 0;
	if (q->head - q->tail > s->mask + 1)
		return vm_check_fail(msg, len, "s3fifo: queue %u holds %u entries, room for %u", qi,
				     q->head - q->tail, s->mask + 1);
	for (uint32_t p = q->tail; p != q->head; p++) {
		uint32_t f = q->ring[p & s->mask];
		if (f == HOLE)
			continue;
		if (f >= s->e.frames || s->fr[f].queue != qi || s->fr[f].pos != p)
			return vm_check_fail(msg, len, "s3fifo: queue %u, position %u: frame %u", qi, p,
					     f);
		n++;
	}
	if (n != q->len)
		return vm_check_fail(msg, len, "s3fifo: queue %u has %u frames, len %u", qi, n, q->len);
	return 0;
}

static int s3_check(const struct vm_evict *e, char *msg, size_t len)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	int rc = queue_check(s, QS, msg, len);
	if (!rc)
		rc = queue_check(s, QM, msg, len);
	if (!rc)
		rc = vm_ghost_check(&s->ghost, msg, len);
	if (rc)
		return rc;
	if (s->q[QS].len + s->q[QM].len + (s->nvictims - s->next_victim) != e->used)
		return vm_check_fail(msg, len, "s3fifo: S %u, M %u, resident %u", s->q[QS].len,
				     s->q[QM].len, e->used);
	if (s->ghost.used > s->ghost.cap)
		return vm_check_fail(msg, len, "s3fifo: %u ghosts, room for %u", s->ghost.used,
				     s->ghost.cap);
	return 0;
}

static void s3_prefetch(const struct vm_evict *e, uint32_t frame, uint64_t key, uint32_t shadow)
{
	const struct s3fifo *s = (const struct s3fifo *)e;
	if (frame != VM_EVICT_NONE) {
		__builtin_prefetch(&s->fr[frame]);
		return;
	}
	/* A miss: its ghost, and the pages at the tails evict() will look at
	 * (holes are rare: a hole's index is past the frames). */
	vm_ghost_prefetch(&s->ghost, key, shadow);
	uint32_t t = s->q[QS].ring[s->q[QS].tail & s->mask];
	if (t < e->frames) {
		__builtin_prefetch(&s->fr[t]);
		__builtin_prefetch(&s->key[t]);
	}
	t = s->q[QM].ring[s->q[QM].tail & s->mask];
	if (t < e->frames)
		__builtin_prefetch(&s->fr[t]);
	t = s->q[QM].ring[(s->q[QM].tail + 1) & s->mask];
	if (t < e->frames)
		__builtin_prefetch(&s->fr[t]);
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
