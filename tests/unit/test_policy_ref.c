/*
 * ARC and S3-FIFO against straightforward reference implementations
 * written here from the papers, on random and Zipf reference strings of
 * several sizes: the same hit or miss at every reference and the same
 * victims in the same order.  The policies' own code is built for speed
 * (flat arrays, index-linked lists, rings, shadows kept by the driver); the
 * references are arrays searched linearly, O(c) per reference.
 *
 * Each policy runs two ways: in the lab (vm_lab_sim_ref: the driver keeps
 * shadows, evict.h) and under a minimal driver here that keeps none (the
 * policy's own hash table, as the kernel uses it).
 */
#include <errno.h>
#include <math.h>

#include "base/compiler.h"
#include "base/rng.h"
#include "policy/evict.h"
#include "policy/lab.h"
#include "tap.h"

#define MAXC 256                 /* the largest cache the references handle */
#define MAXN 20000               /* the longest string */

/* A list of keys, index 0 the LRU (oldest) end, len - 1 the MRU (newest). */
struct klist {
	uint64_t k[2 * MAXC + 2];
	uint32_t len;
};

static int kfind(const struct klist *l, uint64_t key)
{
	for (uint32_t i = 0; i < l->len; i++)
		if (l->k[i] == key)
			return (int)i;
	return -1;
}

static uint64_t kdel(struct klist *l, uint32_t i)
{
	uint64_t key = l->k[i];
	memmove(&l->k[i], &l->k[i + 1], (l->len - i - 1) * sizeof(l->k[0]));
	l->len--;
	return key;
}

static void kpush(struct klist *l, uint64_t key)
{
	l->k[l->len++] = key;
}

/* What a run gives: per reference 1 for a hit, and the victims in order. */
struct outcome {
	uint8_t hit[MAXN];
	uint64_t victim[MAXN + MAXC];
	uint32_t nvictims;
};

/*
 * ARC as Megiddo and Modha print it (FAST 2003, Fig. 4), with c the cache
 * size and the ratios |B2|/|B1|, |B1|/|B2| as integer divisions (what
 * src/policy/arc.c documents).
 */
struct ref_arc {
	uint32_t c, p;
	struct klist t1, t2, b1, b2;
};

static void arc_replace(struct ref_arc *a, bool in_b2, struct outcome *o)
{
	if (a->t1.len >= 1 && (a->t1.len > a->p || (in_b2 && a->t1.len == a->p))) {
		uint64_t k = kdel(&a->t1, 0);           /* LRU of T1 -> MRU of B1 */
		kpush(&a->b1, k);
		o->victim[o->nvictims++] = k;
	} else {
		uint64_t k = kdel(&a->t2, 0);           /* LRU of T2 -> MRU of B2 */
		kpush(&a->b2, k);
		o->victim[o->nvictims++] = k;
	}
}

static bool ref_arc_step(struct ref_arc *a, uint64_t x, struct outcome *o)
{
	int i;
	uint32_t c = a->c;

	/* Case I: a hit moves x to the MRU position in T2. */
	if ((i = kfind(&a->t1, x)) >= 0) {
		kdel(&a->t1, (uint32_t)i);
		kpush(&a->t2, x);
		return true;
	}
	if ((i = kfind(&a->t2, x)) >= 0) {
		kdel(&a->t2, (uint32_t)i);
		kpush(&a->t2, x);
		return true;
	}
	if ((i = kfind(&a->b1, x)) >= 0) {
		/* Case II: adapt p = min(c, p + max(|B2|/|B1|, 1)); REPLACE; x to T2. */
		uint32_t d = a->b2.len / a->b1.len;
		a->p = a->p + (d > 1 ? d : 1) > c ? c : a->p + (d > 1 ? d : 1);
		arc_replace(a, false, o);
		kdel(&a->b1, (uint32_t)kfind(&a->b1, x));
		kpush(&a->t2, x);
		return false;
	}
	if ((i = kfind(&a->b2, x)) >= 0) {
		/* Case III: p = max(0, p - max(|B1|/|B2|, 1)); REPLACE; x to T2. */
		uint32_t d = a->b1.len / a->b2.len;
		d = d > 1 ? d : 1;
		a->p = a->p > d ? a->p - d : 0;
		arc_replace(a, true, o);
		kdel(&a->b2, (uint32_t)kfind(&a->b2, x));
		kpush(&a->t2, x);
		return false;
	}
	/* Case IV: x is nowhere. */
	if (a->t1.len + a->b1.len == c) {
		if (a->t1.len < c) {
			kdel(&a->b1, 0);
			arc_replace(a, false, o);
		} else {
			o->victim[o->nvictims++] = kdel(&a->t1, 0);
		}
	} else {
		uint32_t dir = a->t1.len + a->t2.len + a->b1.len + a->b2.len;
		if (dir >= c) {
			if (dir == 2 * c)
				kdel(&a->b2, 0);
			arc_replace(a, false, o);
		}
	}
	kpush(&a->t1, x);
	return false;
}

/*
 * S3-FIFO (Yang et al., SOSP 2023, Algorithm 1) as src/policy/s3fifo.c
 * documents it: S holds new pages, its size 10% of c; M the rest; G
 * remembers max(1, floor(0.9c)) evicted keys in FIFO order; 2-bit counters.
 */
struct ref_s3 {
	uint32_t c, gcap;
	struct klist s, m, g;            /* index 0 the tail (oldest) */
	uint8_t fs[2 * MAXC + 2], fm[2 * MAXC + 2];   /* counters beside s.k[], m.k[] */
};

static void s3_evict_m(struct ref_s3 *r, struct outcome *o)
{
	while (r->m.len) {
		uint8_t f = r->fm[0];
		uint64_t k = kdel(&r->m, 0);
		memmove(&r->fm[0], &r->fm[1], r->m.len);
		if (f == 0) {
			o->victim[o->nvictims++] = k;
			return;
		}
		r->fm[r->m.len] = (uint8_t)(f - 1);     /* back to the head, one less */
		kpush(&r->m, k);
	}
}

static void s3_evict_s(struct ref_s3 *r, struct outcome *o)
{
	while (r->s.len) {
		uint8_t f = r->fs[0];
		uint64_t k = kdel(&r->s, 0);
		memmove(&r->fs[0], &r->fs[1], r->s.len);
		if (f <= 1) {
			if (r->g.len == r->gcap)
				kdel(&r->g, 0);
			kpush(&r->g, k);
			o->victim[o->nvictims++] = k;
			return;
		}
		r->fm[r->m.len] = f;                    /* to M's head */
		kpush(&r->m, k);
		if ((uint64_t)r->m.len * 10 > (uint64_t)r->c * 9)
			s3_evict_m(r, o);
	}
}

static bool ref_s3_step(struct ref_s3 *r, uint64_t x, struct outcome *o)
{
	int i;
	if ((i = kfind(&r->s, x)) >= 0) {
		r->fs[i] = (uint8_t)(r->fs[i] < 3 ? r->fs[i] + 1 : 3);
		return true;
	}
	if ((i = kfind(&r->m, x)) >= 0) {
		r->fm[i] = (uint8_t)(r->fm[i] < 3 ? r->fm[i] + 1 : 3);
		return true;
	}
	if (r->s.len + r->m.len == r->c) {
		uint32_t before = o->nvictims;
		if ((uint64_t)r->s.len * 10 >= r->c)
			s3_evict_s(r, o);
		else
			s3_evict_m(r, o);
		if (o->nvictims == before)              /* S emptied by promotions */
			s3_evict_m(r, o);
	}
	if ((i = kfind(&r->g, x)) >= 0) {
		kdel(&r->g, (uint32_t)i);
		r->fm[r->m.len] = 0;
		kpush(&r->m, x);
	} else {
		r->fs[r->s.len] = 0;
		kpush(&r->s, x);
	}
	return false;
}

/* Before reference t, every FREE_EVERY-th, the driver frees the page of
 * reference t - 1 without evicting it (munmap): S3-FIFO forgets it, no ghost. */
#define FREE_EVERY 7

static bool freed_before(bool frees, size_t t)
{
	return frees && t > 0 && t % FREE_EVERY == 0;
}

static void ref_s3_free(struct ref_s3 *r, uint64_t x)
{
	int i;
	if ((i = kfind(&r->s, x)) >= 0) {
		kdel(&r->s, (uint32_t)i);
		memmove(&r->fs[i], &r->fs[i + 1], r->s.len - (uint32_t)i);
	} else if ((i = kfind(&r->m, x)) >= 0) {
		kdel(&r->m, (uint32_t)i);
		memmove(&r->fm[i], &r->fm[i + 1], r->m.len - (uint32_t)i);
	}
}

/* The reference on refs[0..n) (frees: S3-FIFO only). */
static void run_reference(bool arc, uint32_t c, const uint64_t *refs, size_t n, bool frees,
			  struct outcome *o)
{
	static struct ref_arc a;
	static struct ref_s3 s;
	memset(o, 0, sizeof(*o));
	memset(&a, 0, sizeof(a));
	memset(&s, 0, sizeof(s));
	a.c = c;
	s.c = c;
	s.gcap = c * 9 / 10 ? c * 9 / 10 : 1;
	for (size_t t = 0; t < n; t++) {
		if (!arc && freed_before(frees, t))
			ref_s3_free(&s, refs[t - 1]);
		o->hit[t] = arc ? ref_arc_step(&a, refs[t], o) : ref_s3_step(&s, refs[t], o);
	}
}

/* The policy in the lab (shadows kept by the driver). */
static int run_lab(const char *name, uint32_t c, const uint64_t *refs, size_t n, struct outcome *o)
{
	struct vm_host host = { 0 };
	struct vm_lab lab;
	struct vm_lab_sim *s;
	int rc;

	memset(o, 0, sizeof(*o));
	vm_lab_init(&lab, &host);
	rc = vm_lab_sim_create(vm_evict_find(name), c, NULL, &host, &s);
	if (rc == 0 && (rc = vm_lab_add(&lab, s)) != 0)
		vm_lab_sim_destroy(s);
	for (size_t t = 0; rc == 0 && t < n; t++) {
		uint64_t misses = s->n.misses;
		if ((rc = vm_lab_feed(&lab, &refs[t], NULL, 1)) != 0)
			break;
		o->hit[t] = s->n.misses == misses;
		for (uint32_t v = 0; !o->hit[t] && v < s->nvictims; v++)
			o->victim[o->nvictims++] = lab.ids.page[s->victims[v]];
	}
	if (rc == 0) {
		char msg[200];
		rc = vm_lab_sim_check(s, msg, sizeof(msg));
		if (rc)
			diag("%s: %s", name, msg);
	}
	vm_lab_fini(&lab);
	return rc;
}

/* The policy under a driver that keeps no shadows: frames found by a
 * linear search, evictions through choose/remove while memory is full or
 * the policy wants more; with frees, pages freed as run_reference does. */
static int run_plain(const char *name, uint32_t c, const uint64_t *refs, size_t n, bool frees,
		     struct outcome *o)
{
	struct vm_evict_params p = { .frames = c };
	static uint64_t page[MAXC];
	static bool used[MAXC];
	struct vm_evict *e;
	int rc = vm_evict_create(vm_evict_find(name), &p, &e);

	memset(o, 0, sizeof(*o));
	memset(used, 0, sizeof(used));
	if (rc)
		return rc;
	for (size_t t = 0; t < n; t++) {
		struct vm_evict_ref r = { .key = refs[t], .next = VM_EVICT_NEVER };
		uint32_t f = VM_EVICT_NONE;
		e->now = t;
		for (uint32_t i = 0; freed_before(frees, t) && i < c; i++)
			if (used[i] && page[i] == refs[t - 1]) {
				vm_evict_remove(e, i, false);
				used[i] = false;
			}
		for (uint32_t i = 0; i < c; i++)
			if (used[i] && page[i] == refs[t])
				f = i;
		o->hit[t] = f != VM_EVICT_NONE;
		if (o->hit[t]) {
			vm_evict_access(e, f, &r);
			continue;
		}
		while (e->used == c || e->more) {
			uint32_t v = vm_evict_choose(e, &r);
			o->victim[o->nvictims++] = page[v];
			vm_evict_remove(e, v, true);
			used[v] = false;
		}
		for (f = 0; used[f]; f++)
			;
		used[f] = true;
		page[f] = refs[t];
		vm_evict_insert(e, f, &r);
	}
	char msg[200];
	rc = e->ops->check(e, msg, sizeof(msg));
	if (rc)
		diag("%s: %s", name, msg);
	vm_evict_destroy(e);
	return rc;
}

/* Zipf(alpha) over pages ranks by inversion of the cumulative sum. */
static void zipf_string(struct vm_rng *rng, uint64_t *refs, size_t n, uint32_t pages, double alpha)
{
	static double cdf[4096];
	double sum = 0;
	for (uint32_t i = 0; i < pages; i++)
		cdf[i] = sum += 1.0 / pow(i + 1.0, alpha);
	for (size_t t = 0; t < n; t++) {
		double u = (double)(vm_rng_next(rng) >> 11) / 9007199254740992.0 * sum;
		uint32_t lo = 0, hi = pages - 1;
		while (lo < hi) {
			uint32_t mid = (lo + hi) / 2;
			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		refs[t] = (uint64_t)lo * 7919 + 13;      /* sparse page numbers */
	}
}

static bool same(const struct outcome *a, const struct outcome *b, size_t n, size_t *at)
{
	for (size_t t = 0; t < n; t++)
		if (a->hit[t] != b->hit[t]) {
			*at = t;
			return false;
		}
	*at = n;
	return a->nvictims == b->nvictims &&
	       memcmp(a->victim, b->victim, a->nvictims * sizeof(a->victim[0])) == 0;
}

static void against_reference(const char *name, uint64_t seed)
{
	static const uint32_t sizes[] = { 1, 2, 3, 4, 7, 10, 16, 33, 64, 100, 256 };
	static uint64_t refs[MAXN];
	static struct outcome want, lab, plain, want_freed;
	struct vm_rng rng;
	unsigned runs = 0, bad_lab = 0, bad_plain = 0, bad_freed = 0;
	uint64_t hits = 0, total = 0;
	bool arc = strcmp(name, "arc") == 0;

	vm_rng_seed(&rng, seed);
	for (unsigned k = 0; k < VM_ARRAY_SIZE(sizes); k++) {
		uint32_t c = sizes[k];
		for (unsigned kind = 0; kind < 3; kind++) {
			/* uniform over 2c pages; Zipf 0.8 and 1.2 over 8c (at least 16) */
			uint32_t pages = kind == 0 ? 2 * c + 1 : (8 * c < 16 ? 16 : 8 * c);
			size_t n = c < 64 ? 4000 : MAXN;
			if (pages > 4096)
				pages = 4096;
			if (kind == 0)
				for (size_t t = 0; t < n; t++)
					refs[t] = vm_rng_below(&rng, pages) * 7919 + 13;
			else
				zipf_string(&rng, refs, n, pages, kind == 1 ? 0.8 : 1.2);
			run_reference(arc, c, refs, n, false, &want);
			size_t at = 0;
			runs++;
			if (run_lab(name, c, refs, n, &lab) != 0 || !same(&want, &lab, n, &at)) {
				if (bad_lab++ == 0)
					diag("%s in the lab, c %u, string %u: differs at reference %zu", name,
					     c, kind, at);
			}
			if (run_plain(name, c, refs, n, false, &plain) != 0 ||
			    !same(&want, &plain, n, &at)) {
				if (bad_plain++ == 0)
					diag("%s without shadows, c %u, string %u: differs at reference %zu",
					     name, c, kind, at);
			}
			if (!arc) {
				run_reference(arc, c, refs, n, true, &want_freed);
				if (run_plain(name, c, refs, n, true, &plain) != 0 ||
				    !same(&want_freed, &plain, n, &at)) {
					if (bad_freed++ == 0)
						diag("%s with frees, c %u, string %u: differs at reference %zu",
						     name, c, kind, at);
				}
			}
			for (size_t t = 0; t < n; t++)
				hits += want.hit[t];
			total += n;
		}
	}
	ok(bad_lab == 0, "%s in the lab = the reference on %u strings (every hit, every victim)", name,
	   runs);
	ok(bad_plain == 0, "%s without driver shadows = the reference on %u strings", name, runs);
	if (!arc)
		ok(bad_freed == 0, "%s = the reference when the driver frees every %dth page", name,
		   FREE_EVERY);
	/* The strings must exercise both hits and misses. */
	ok(hits > total / 10 && hits < total * 9 / 10, "%s: the strings hit %" PRIu64 " of %" PRIu64,
	   name, hits, total);
}

int main(void)
{
	uint64_t seed = tap_seed(20261124);
	against_reference("arc", seed);
	against_reference("s3fifo", seed + 1);
	return done_testing();
}
