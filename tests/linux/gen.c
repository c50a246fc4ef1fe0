/*
 * Sequences: the seeded generator, and the one-line text form of a step
 * that case files use (docs/differential.md, "Case files").
 *
 * The generator knows nothing of either implementation: it draws
 * arguments around the reserved range and the initial break, mostly valid,
 * sometimes invalid on purpose (unaligned, zero, wrapping, unknown bits),
 * and lets both sides answer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "kernel/uapi.h"
#include "kdiff.h"

/* ------------------------------------------------------------ name tables */

struct kd_name {
	int64_t value;
	const char *name;
};

static const struct kd_name mmap_flag_names[] = {
	{ VM_MAP_SHARED_VALIDATE, "SHARED_VALIDATE" },   /* before its two bits */
	{ VM_MAP_SHARED, "SHARED" },
	{ VM_MAP_PRIVATE, "PRIVATE" },
	{ VM_MAP_FIXED, "FIXED" },
	{ VM_MAP_ANONYMOUS, "ANONYMOUS" },
	{ VM_MAP_GROWSDOWN, "GROWSDOWN" },
	{ VM_MAP_NORESERVE, "NORESERVE" },
	{ VM_MAP_POPULATE, "POPULATE" },
	{ VM_MAP_STACK, "STACK" },
	{ VM_MAP_SYNC, "SYNC" },
	{ VM_MAP_FIXED_NOREPLACE, "FIXED_NOREPLACE" },
	{ 0, NULL },
};

static const struct kd_name mremap_flag_names[] = {
	{ VM_MREMAP_MAYMOVE, "MAYMOVE" },
	{ VM_MREMAP_FIXED, "FIXED" },
	{ VM_MREMAP_DONTUNMAP, "DONTUNMAP" },
	{ 0, NULL },
};

static const struct kd_name msync_flag_names[] = {
	{ VM_MS_ASYNC, "ASYNC" },
	{ VM_MS_INVALIDATE, "INVALIDATE" },
	{ VM_MS_SYNC, "SYNC" },
	{ 0, NULL },
};

/* The advices the generator uses.  Left out, on purpose (documented):
 * MADV_PAGEOUT (drops the shared file's page cache: later faults would be
 * major and the next sequence would start cold), MADV_MERGEABLE (ksmd
 * merges pages in the background), MADV_HWPOISON / SOFT_OFFLINE (root,
 * destructive), MADV_COLLAPSE (THP), MADV_GUARD_INSTALL (not in the model's
 * ABI yet). */
static const struct kd_name advice_names[] = {
	{ VM_MADV_NORMAL, "NORMAL" },
	{ VM_MADV_RANDOM, "RANDOM" },
	{ VM_MADV_SEQUENTIAL, "SEQUENTIAL" },
	{ VM_MADV_WILLNEED, "WILLNEED" },
	{ VM_MADV_DONTNEED, "DONTNEED" },
	{ VM_MADV_FREE, "FREE" },
	{ VM_MADV_REMOVE, "REMOVE" },
	{ VM_MADV_DONTFORK, "DONTFORK" },
	{ VM_MADV_DOFORK, "DOFORK" },
	{ VM_MADV_HUGEPAGE, "HUGEPAGE" },
	{ VM_MADV_NOHUGEPAGE, "NOHUGEPAGE" },
	{ VM_MADV_DONTDUMP, "DONTDUMP" },
	{ VM_MADV_DODUMP, "DODUMP" },
	{ VM_MADV_WIPEONFORK, "WIPEONFORK" },
	{ VM_MADV_KEEPONFORK, "KEEPONFORK" },
	{ VM_MADV_COLD, "COLD" },
	{ VM_MADV_POPULATE_READ, "POPULATE_READ" },
	{ VM_MADV_POPULATE_WRITE, "POPULATE_WRITE" },
	{ 0, NULL },
};
#define N_ADVICE (sizeof advice_names / sizeof advice_names[0] - 1)

static const char *const kind_names[KD_KIND_COUNT] = {
	"mmap", "munmap", "mprotect", "mremap", "madvise", "msync", "brk", "touch", "fork",
};

const char *kd_kind_name(unsigned kind)
{
	return kind < KD_KIND_COUNT ? kind_names[kind] : "?";
}

/* ------------------------------------------------------------ the generator */

static uint64_t below(struct vm_rng *r, uint64_t n)
{
	return vm_rng_below(r, n);
}

/* True with probability pct percent. */
static bool chance(struct vm_rng *r, unsigned pct)
{
	return below(r, 100) < pct;
}

/* A length in pages: mostly small, sometimes large. */
static uint64_t pick_pages(struct vm_rng *r)
{
	unsigned c = (unsigned)below(r, 100);
	if (c < 70)
		return 1 + below(r, 16);
	if (c < 95)
		return 17 + below(r, 48);
	return 1 + below(r, KD_PAGES);
}

/* A page-aligned place in the range for pages pages (kept inside). */
static struct kd_addr pick_range(struct vm_rng *r, uint64_t pages)
{
	uint64_t max = pages < KD_PAGES ? KD_PAGES - pages : 0;
	return (struct kd_addr){ KD_RANGE, (int64_t)(below(r, max + 1) << 12) };
}

/* addr, len of a range call; now and then broken on purpose. */
static void pick_extent(struct vm_rng *r, struct kd_op *op)
{
	uint64_t pages = pick_pages(r);
	op->addr = pick_range(r, pages);
	op->len = pages << 12;
	unsigned c = (unsigned)below(r, 100);
	if (c < 3)
		op->addr.off += (int64_t)(1 + below(r, 4095));    /* unaligned: EINVAL */
	else if (c < 6)
		op->len = 0;
	else if (c < 11)
		op->len -= below(r, 4095);                        /* rounded up */
	else if (c < 12)
		op->len = UINT64_MAX - below(r, 8192);            /* wraps */
}

static int64_t pick_prot(struct vm_rng *r)
{
	if (chance(r, 15))
		return VM_PROT_NONE;
	int64_t p = 0;
	if (chance(r, 85))
		p |= VM_PROT_READ;
	if (chance(r, 55))
		p |= VM_PROT_WRITE;
	if (chance(r, 12))
		p |= VM_PROT_EXEC;
	return p;
}

static void gen_mmap(struct vm_rng *r, struct kd_op *op)
{
	uint64_t pages = pick_pages(r);
	unsigned c;

	op->kind = KD_MMAP;
	op->addr = pick_range(r, pages);
	op->len = pages << 12;
	op->prot = pick_prot(r);
	op->flags = 0;

	c = (unsigned)below(r, 100);
	op->flags |= c < 60 ? VM_MAP_PRIVATE : c < 93 ? VM_MAP_SHARED : c < 97 ? VM_MAP_SHARED_VALIDATE : 0;
	c = (unsigned)below(r, 100);
	op->flags |= c < 55 ? VM_MAP_FIXED : c < 80 ? VM_MAP_FIXED_NOREPLACE : 0;
	if (chance(r, 55)) {
		op->flags |= VM_MAP_ANONYMOUS;
		op->fd = chance(r, 3) ? KD_FD_FILE : KD_FD_NONE;      /* fd ignored */
		op->off = 0;
	} else {
		op->fd = chance(r, 3) ? KD_FD_BAD : KD_FD_FILE;
		op->off = below(r, KD_FILE_PAGES + 4) << 12;
		if (chance(r, 3))
			op->off += 1 + below(r, 4095);                  /* EINVAL */
	}
	if (chance(r, 8))
		op->flags |= VM_MAP_POPULATE;
	if (chance(r, 8))
		op->flags |= VM_MAP_NORESERVE;
	if (chance(r, 3))
		op->flags |= VM_MAP_GROWSDOWN;
	if (chance(r, 4))
		op->flags |= VM_MAP_STACK;
	if ((op->flags & VM_MAP_TYPE) == VM_MAP_SHARED_VALIDATE && chance(r, 30))
		op->flags |= VM_MAP_SYNC;          /* EOPNOTSUPP on a non-DAX file */

	/* No MAP_FIXED at 0 (below mmap_min_addr): root may map there, so the
	 * answer depends on who runs the test. */
	c = (unsigned)below(r, 100);
	if (c < 2)
		op->addr.off += (int64_t)(1 + below(r, 4095));
	else if (c < 4)
		op->len = 0;
	else if (c < 7)
		op->len -= below(r, 4095);
	else if (c < 8)
		op->len = UINT64_C(1) << (47 + below(r, 17));      /* too long */
}

static void gen_mprotect(struct vm_rng *r, struct kd_op *op)
{
	op->kind = KD_MPROTECT;
	pick_extent(r, op);
	op->prot = pick_prot(r);
	if (chance(r, 2))
		op->prot |= VM_PROT_GROWSDOWN;
	else if (chance(r, 2))
		op->prot |= 0x10;                                  /* unknown bit */
}

static void gen_mremap(struct vm_rng *r, struct kd_op *op)
{
	uint64_t old = pick_pages(r), nw = pick_pages(r);
	unsigned c = (unsigned)below(r, 100);

	op->kind = KD_MREMAP;
	op->addr = pick_range(r, old > nw ? old : nw);
	op->len = old << 12;
	op->len2 = nw << 12;
	op->flags = c < 30 ? 0 : c < 70 ? VM_MREMAP_MAYMOVE
		    : c < 88 ? VM_MREMAP_MAYMOVE | VM_MREMAP_FIXED
		    : c < 94 ? VM_MREMAP_MAYMOVE | VM_MREMAP_DONTUNMAP
		    : c < 96 ? VM_MREMAP_FIXED : 8;
	if (op->flags & VM_MREMAP_DONTUNMAP && chance(r, 70))
		op->len2 = op->len;                                /* else EINVAL */
	if (op->flags & VM_MREMAP_FIXED)
		op->addr2 = pick_range(r, nw);
	else
		op->addr2 = (struct kd_addr){ KD_ABS, 0 };
	c = (unsigned)below(r, 100);
	if (c < 3)
		op->len = 0;          /* duplicate a shared mapping; EINVAL for a private one */
	else if (c < 5)
		op->len2 = 0;
	else if (c < 7)
		op->addr.off += (int64_t)(1 + below(r, 4095));
	else if (c < 10)
		op->len2 -= below(r, 4095);
}

static void gen_madvise(struct vm_rng *r, struct kd_op *op)
{
	op->kind = KD_MADVISE;
	pick_extent(r, op);
	op->flags = chance(r, 2) ? 99 : advice_names[below(r, N_ADVICE)].value;
}

static void gen_msync(struct vm_rng *r, struct kd_op *op)
{
	static const int64_t choices[] = {
		VM_MS_ASYNC, VM_MS_SYNC, VM_MS_INVALIDATE, VM_MS_ASYNC | VM_MS_INVALIDATE,
		VM_MS_SYNC | VM_MS_INVALIDATE, 0, VM_MS_ASYNC | VM_MS_SYNC, 8,
	};
	op->kind = KD_MSYNC;
	pick_extent(r, op);
	op->flags = choices[below(r, sizeof choices / sizeof choices[0])];
}

static void gen_brk(struct vm_rng *r, struct kd_op *op)
{
	unsigned c = (unsigned)below(r, 100);
	op->kind = KD_BRK;
	if (c < 15) {
		op->addr = (struct kd_addr){ KD_ABS, 0 };           /* query */
	} else if (c < 25) {
		op->addr = (struct kd_addr){ KD_HEAP, -(int64_t)(1 + below(r, 0x10000)) };
	} else {
		int64_t off = (int64_t)(below(r, 96) << 12);
		if (chance(r, 50))
			off += (int64_t)below(r, 4096);
		op->addr = (struct kd_addr){ KD_HEAP, off };
	}
}

/* A touch phase; half of those in the range start where the last mmap or
 * mremap asked for its mapping (the generator's own argument, not a
 * result), so that touches find mapped pages more often than the
 * PROT_NONE reservation. */
static void gen_touch(struct vm_rng *r, const struct kd_op *last_map, struct kd_op *op)
{
	static const int64_t modes[] = { KD_T_R, KD_T_W, KD_T_RW };
	uint64_t pages = 1 + below(r, chance(r, 80) ? 16 : KD_MAX_ACCESS / 2);
	unsigned c = (unsigned)below(r, 100);

	op->kind = KD_TOUCH;
	op->len = pages;
	if (c < 55 && last_map) {
		uint64_t len = last_map->kind == KD_MREMAP ? last_map->len2 : last_map->len;
		op->addr = last_map->kind == KD_MREMAP && last_map->flags & VM_MREMAP_FIXED
			   ? last_map->addr2 : last_map->addr;
		op->addr.off &= ~(int64_t)0xfff;
		if (len >> 12 && len >> 12 < KD_MAX_ACCESS / 2)
			op->len = pages = 1 + below(r, len >> 12);
	} else if (c < 88) {
		op->addr = pick_range(r, pages);
	} else {
		op->addr = (struct kd_addr){ KD_HEAP, (int64_t)(below(r, 64) << 12) };
	}
	op->flags = modes[below(r, 3)] | (chance(r, 25) ? KD_T_DOWN : 0);
}

bool kd_seq_uses_rwfile(const struct kd_seq *seq)
{
	for (unsigned i = 0; i < seq->n; i++)
		if (seq->op[i].kind == KD_MMAP && seq->op[i].fd == KD_FD_RWFILE)
			return true;
	return false;
}

/* A fork step: the touch phases of parent and child write (or read then
 * write) where a touch would go; the parent exits at once 40 % of the
 * time (so that the child's anon_vmas lose their parent's VMAs), else
 * waits. */
static void gen_fork(struct vm_rng *r, const struct kd_op *last_map, struct kd_op *op)
{
	gen_touch(r, last_map, op);
	op->kind = KD_FORK;
	op->flags = (chance(r, 70) ? KD_T_W : KD_T_RW) | (op->flags & KD_T_DOWN) |
		    (chance(r, 40) ? KD_F_EXIT : 0);
}

void kd_generate(uint64_t seed, unsigned calls, bool fork, struct kd_seq *seq)
{
	const struct kd_op *last_map = NULL;
	struct vm_rng r, rw;

	vm_rng_seed(&r, seed);
	/* Which file mmaps use the writable file comes from a stream of its
	 * own, so that every other draw stays what it was before the
	 * writable file existed. */
	vm_rng_seed(&rw, seed ^ UINT64_C(0x7277666696c65));
	memset(seq, 0, sizeof *seq);
	seq->seed = seed;
	for (unsigned i = 0; i < calls && seq->n + 3 <= KD_MAX_STEPS; i++) {
		struct kd_op *op = &seq->op[seq->n++];
		unsigned c = (unsigned)below(&r, 100);
		if (c < 30)
			gen_mmap(&r, op);
		else if (c < 42) {
			op->kind = KD_MUNMAP;
			pick_extent(&r, op);
		} else if (c < 57)
			gen_mprotect(&r, op);
		else if (c < 69)
			gen_mremap(&r, op);
		else if (c < 85)
			gen_madvise(&r, op);
		else if (c < 90)
			gen_msync(&r, op);
		else
			gen_brk(&r, op);
		if (op->kind == KD_MMAP && op->fd == KD_FD_FILE && chance(&rw, 35))
			op->fd = KD_FD_RWFILE;
		if ((op->kind == KD_MMAP || op->kind == KD_MREMAP) && op->addr.anchor == KD_RANGE)
			last_map = op;
		if (chance(&r, 50))
			gen_touch(&r, last_map, &seq->op[seq->n++]);
		/* Fork mode draws more numbers: its sequences are its own. */
		if (fork && seq->n < KD_MAX_STEPS && chance(&r, 8))
			gen_fork(&r, last_map, &seq->op[seq->n++]);
	}
}

/* -------------------------------------------------------------- text form */

static void put_addr(char *buf, size_t len, struct kd_addr a)
{
	static const char anchors[] = { 0, 'R', 'B' };
	if (a.anchor == KD_ABS)
		snprintf(buf, len, "0x%" PRIx64, (uint64_t)a.off);
	else
		snprintf(buf, len, "%c%c0x%" PRIx64, anchors[a.anchor], a.off < 0 ? '-' : '+',
			 a.off < 0 ? -(uint64_t)a.off : (uint64_t)a.off);
}

static void put_flags(char *buf, size_t len, const struct kd_name *t, int64_t v)
{
	size_t n = 0;
	buf[0] = 0;
	for (; t->name; t++) {
		if (t->value && (v & t->value) == t->value) {
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "|" : "", t->name);
			v &= ~t->value;
		}
	}
	if (v || !n)
		snprintf(buf + n, len - n, "%s0x%" PRIx64, n ? "|" : "", (uint64_t)v);
}

static void put_prot(char *buf, size_t len, int64_t p)
{
	int64_t rest = p & ~(int64_t)7;
	int n = snprintf(buf, len, "%c%c%c", p & VM_PROT_READ ? 'r' : '-', p & VM_PROT_WRITE ? 'w' : '-',
			 p & VM_PROT_EXEC ? 'x' : '-');
	if (rest)
		snprintf(buf + n, len - (size_t)n, "+0x%" PRIx64, (uint64_t)rest);
}

static const char *advice_name(int64_t a)
{
	for (const struct kd_name *t = advice_names; t->name; t++)
		if (t->value == a)
			return t->name;
	return NULL;
}

void kd_op_format(const struct kd_op *op, char *buf, size_t len)
{
	static const char *const fds[] = { "none", "file", "bad", "rwfile" };
	static const char *const modes[] = { "?", "r", "w", "rw" };
	char a[40], b[40], f[120], p[40];

	put_addr(a, sizeof a, op->addr);
	switch (op->kind) {
	case KD_MMAP:
		put_prot(p, sizeof p, op->prot);
		put_flags(f, sizeof f, mmap_flag_names, op->flags);
		snprintf(buf, len, "mmap %s 0x%" PRIx64 " prot=%s flags=%s fd=%s off=0x%" PRIx64, a,
			 op->len, p, f, fds[op->fd % 4], op->off);
		break;
	case KD_MUNMAP:
		snprintf(buf, len, "munmap %s 0x%" PRIx64, a, op->len);
		break;
	case KD_MPROTECT:
		put_prot(p, sizeof p, op->prot);
		snprintf(buf, len, "mprotect %s 0x%" PRIx64 " prot=%s", a, op->len, p);
		break;
	case KD_MREMAP:
		put_addr(b, sizeof b, op->addr2);
		put_flags(f, sizeof f, mremap_flag_names, op->flags);
		snprintf(buf, len, "mremap %s 0x%" PRIx64 " 0x%" PRIx64 " flags=%s new=%s", a, op->len,
			 op->len2, f, b);
		break;
	case KD_MADVISE: {
		const char *n = advice_name(op->flags);
		if (n)
			snprintf(buf, len, "madvise %s 0x%" PRIx64 " advice=%s", a, op->len, n);
		else
			snprintf(buf, len, "madvise %s 0x%" PRIx64 " advice=%" PRId64, a, op->len, op->flags);
		break;
	}
	case KD_MSYNC:
		put_flags(f, sizeof f, msync_flag_names, op->flags);
		snprintf(buf, len, "msync %s 0x%" PRIx64 " flags=%s", a, op->len, f);
		break;
	case KD_BRK:
		snprintf(buf, len, "brk %s", a);
		break;
	case KD_TOUCH:
		snprintf(buf, len, "touch %s %" PRIu64 " %s %s", a, op->len, modes[op->flags & KD_T_MODE],
			 op->flags & KD_T_DOWN ? "down" : "up");
		break;
	case KD_FORK:
		snprintf(buf, len, "fork %s %" PRIu64 " %s %s %s", a, op->len, modes[op->flags & KD_T_MODE],
			 op->flags & KD_T_DOWN ? "down" : "up", op->flags & KD_F_EXIT ? "exit" : "wait");
		break;
	default:
		snprintf(buf, len, "?");
	}
}

/* -------------------------------------------------------------- parsing */

static int get_u64(const char *s, uint64_t *v)
{
	char *end;
	if (!*s)
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

static int get_addr(const char *s, struct kd_addr *a)
{
	uint64_t v;
	if ((s[0] == 'R' || s[0] == 'B') && (s[1] == '+' || s[1] == '-')) {
		if (get_u64(s + 2, &v))
			return -1;
		a->anchor = s[0] == 'R' ? KD_RANGE : KD_HEAP;
		a->off = s[1] == '-' ? -(int64_t)v : (int64_t)v;
		return 0;
	}
	if (get_u64(s, &v))
		return -1;
	*a = (struct kd_addr){ KD_ABS, (int64_t)v };
	return 0;
}

static int get_flags(const char *s, const struct kd_name *t, int64_t *v)
{
	char word[64];
	*v = 0;
	while (*s) {
		size_t n = strcspn(s, "|");
		uint64_t x;
		const struct kd_name *e;
		if (n == 0 || n >= sizeof word)
			return -1;
		memcpy(word, s, n);
		word[n] = 0;
		for (e = t; e->name && strcmp(e->name, word) != 0; e++)
			;
		if (e->name)
			*v |= e->value;
		else if (get_u64(word, &x) == 0)
			*v |= (int64_t)x;
		else
			return -1;
		s += n + (s[n] == '|');
	}
	return 0;
}

static int get_prot(const char *s, int64_t *p)
{
	static const char want[] = "rwx";
	uint64_t rest = 0;
	*p = 0;
	for (int i = 0; i < 3; i++) {
		if (s[i] == want[i])
			*p |= 1 << i;
		else if (s[i] != '-')
			return -1;
	}
	if (s[3] == '+' && get_u64(s + 4, &rest))
		return -1;
	if (s[3] && s[3] != '+')
		return -1;
	*p |= (int64_t)rest;
	return 0;
}

/* "key=value": the value if word starts with key=, else NULL. */
static const char *kv(const char *word, const char *key)
{
	size_t n = strlen(key);
	return strncmp(word, key, n) == 0 && word[n] == '=' ? word + n + 1 : NULL;
}

static int parse_kv(struct kd_op *op, const char *w)
{
	const char *v;
	uint64_t x = 0;
	if ((v = kv(w, "prot")))
		return get_prot(v, &op->prot);
	if ((v = kv(w, "flags"))) {
		const struct kd_name *t = op->kind == KD_MMAP ? mmap_flag_names
					  : op->kind == KD_MREMAP ? mremap_flag_names : msync_flag_names;
		return get_flags(v, t, &op->flags);
	}
	if ((v = kv(w, "fd"))) {
		op->fd = strcmp(v, "file") == 0 ? KD_FD_FILE : strcmp(v, "bad") == 0 ? KD_FD_BAD
		       : strcmp(v, "rwfile") == 0 ? KD_FD_RWFILE : KD_FD_NONE;
		return strcmp(v, "file") && strcmp(v, "bad") && strcmp(v, "none") && strcmp(v, "rwfile")
		       ? -1 : 0;
	}
	if ((v = kv(w, "off"))) {
		int rc = get_u64(v, &x);
		op->off = x;
		return rc;
	}
	if ((v = kv(w, "new")))
		return get_addr(v, &op->addr2);
	if ((v = kv(w, "advice"))) {
		for (const struct kd_name *t = advice_names; t->name; t++)
			if (strcmp(t->name, v) == 0) {
				op->flags = t->value;
				return 0;
			}
		int rc = get_u64(v, &x);
		op->flags = (int64_t)x;
		return rc;
	}
	return -1;
}

/* Positional words after the kind: address, then numbers (touch: pages,
 * mode, direction; fork: the same, then what the parent does). */
static int parse_pos(struct kd_op *op, unsigned i, const char *w)
{
	uint64_t x;
	if (i == 0)
		return get_addr(w, &op->addr);
	if (op->kind == KD_TOUCH || op->kind == KD_FORK) {
		if (i == 4 && op->kind == KD_FORK) {
			if (strcmp(w, "exit") == 0)
				op->flags |= KD_F_EXIT;
			return strcmp(w, "exit") && strcmp(w, "wait") ? -1 : 0;
		}
		if (i == 1)
			return get_u64(w, &op->len);
		if (i == 2) {
			op->flags |= strcmp(w, "r") == 0 ? KD_T_R : strcmp(w, "w") == 0 ? KD_T_W
				     : strcmp(w, "rw") == 0 ? KD_T_RW : 0;
			return op->flags & KD_T_MODE ? 0 : -1;
		}
		if (i == 3) {
			if (strcmp(w, "down") == 0)
				op->flags |= KD_T_DOWN;
			return strcmp(w, "down") && strcmp(w, "up") ? -1 : 0;
		}
		return -1;
	}
	if (get_u64(w, &x))
		return -1;
	if (i == 1)
		op->len = x;
	else if (i == 2 && op->kind == KD_MREMAP)
		op->len2 = x;
	else
		return -1;
	return 0;
}

int kd_op_parse(const char *line, struct kd_op *op, char *msg, size_t msglen)
{
	char copy[512], *save = NULL, *w;
	unsigned pos = 0;

	memset(op, 0, sizeof *op);
	snprintf(copy, sizeof copy, "%s", line);
	w = strtok_r(copy, " \t\r\n", &save);
	if (!w) {
		snprintf(msg, msglen, "empty step");
		return -1;
	}
	for (op->kind = 0; op->kind < KD_KIND_COUNT && strcmp(kind_names[op->kind], w); op->kind++)
		;
	if (op->kind == KD_KIND_COUNT) {
		snprintf(msg, msglen, "unknown call '%s'", w);
		return -1;
	}
	while ((w = strtok_r(NULL, " \t\r\n", &save))) {
		int rc = strchr(w, '=') ? parse_kv(op, w) : parse_pos(op, pos++, w);
		if (rc) {
			snprintf(msg, msglen, "cannot read '%s'", w);
			return -1;
		}
	}
	if (pos < (op->kind == KD_BRK ? 1u
		   : op->kind == KD_MREMAP || op->kind == KD_TOUCH || op->kind == KD_FORK ? 3u : 2u)) {
		snprintf(msg, msglen, "too few arguments");
		return -1;
	}
	return 0;
}

int kd_case_read(const char *path, struct kd_seq *seq, char *msg, size_t msglen)
{
	char line[512], m[160];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	memset(seq, 0, sizeof *seq);
	if (!f) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char *s = line + strspn(line, " \t");
		lineno++;
		if (*s == '#' || *s == '\n' || !*s)
			continue;
		if (seq->n == KD_MAX_STEPS || kd_op_parse(s, &seq->op[seq->n], m, sizeof m)) {
			snprintf(msg, msglen, "%s:%u: %s", path, lineno,
				 seq->n == KD_MAX_STEPS ? "too many steps" : m);
			fclose(f);
			return -1;
		}
		seq->n++;
	}
	fclose(f);
	return 0;
}
