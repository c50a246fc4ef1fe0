/*
 * Maps lines: parsing (with Linux's exact padding), the windows the test
 * shows, normalisation, and the accessibility rules of touch phases.  Both
 * sides run this same code on their own maps text, so a difference in what
 * they touch can only come from a difference in the lines, which the
 * comparison reports first.
 *
 * The native child runs this between measurements: nothing here allocates.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kdiff.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A hex field of at least min digits ending at stop: advances *p. */
static int get_hex(const char **p, const char *end, unsigned min, char stop, uint64_t *v)
{
	const char *s = *p;
	unsigned n = 0;
	*v = 0;
	while (s < end && hexval(*s) >= 0 && n < 17) {
		*v = *v << 4 | (uint64_t)hexval(*s++);
		n++;
	}
	if (n < min || n > 16 || s >= end || *s != stop)
		return -1;
	*p = s + 1;
	return 0;
}

static int get_dec(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	*v = 0;
	if (s >= end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9')
		*v = *v * 10 + (uint64_t)(*s++ - '0');
	if (s >= end || *s != ' ')
		return -1;
	*p = s + 1;
	return 0;
}

/* Linux show_vma_header_prefix + show_map_vma: the prefix ends with a
 * space; a name is padded to column 73 (seq_setwidth 72, then seq_pad puts
 * one more space). */
static size_t render(const struct kd_vma *v, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64 " %02x:%02x %" PRIu64 " ",
			 v->start, v->end, v->perms, v->offset, v->dev_major, v->dev_minor, v->inode);
	if (n < 0 || (size_t)n >= len)
		return len;
	if (v->name_len) {
		while (n < 72 && (size_t)n + 1 < len)
			buf[n++] = ' ';
		n += snprintf(buf + n, len - (size_t)n, " %.*s", (int)v->name_len, v->name);
	}
	return (size_t)n;
}

int kd_maps_parse_line(const char *line, size_t len, struct kd_vma *v)
{
	const char *p = line, *end = line + len;
	uint64_t maj, min;
	char again[512];

	memset(v, 0, sizeof *v);
	if (get_hex(&p, end, 8, '-', &v->start) || get_hex(&p, end, 8, ' ', &v->end))
		return -1;
	if (end - p < 5 || p[4] != ' ')
		return -1;
	memcpy(v->perms, p, 4);
	p += 5;
	if (get_hex(&p, end, 8, ' ', &v->offset) || get_hex(&p, end, 2, ':', &maj) ||
	    get_hex(&p, end, 2, ' ', &min) || get_dec(&p, end, &v->inode))
		return -1;
	v->dev_major = (unsigned)maj;
	v->dev_minor = (unsigned)min;
	while (p < end && *p == ' ')
		p++;
	v->name = p;
	v->name_len = (size_t)(end - p);
	if (render(v, again, sizeof again) != len || memcmp(again, line, len) != 0)
		return -2;
	return 0;
}

static bool overlaps(const struct kd_vma *v, uint64_t lo, uint64_t hi)
{
	return v->start < hi && v->end > lo;
}

bool kd_vma_shown(const struct kd_env *env, const struct kd_vma *v)
{
	return overlaps(v, KD_BASE - KD_GUARD, KD_BASE + KD_SIZE + KD_GUARD) ||
	       overlaps(v, env->start_brk, env->start_brk + KD_HEAP_SPAN);
}

int kd_maps_collect(const char *text, size_t len, const struct kd_env *env, struct kd_vma *vmas,
		    int max, char *msg, size_t msglen)
{
	const char *p = text, *end = text + len;
	int n = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		struct kd_vma v;
		int rc;
		if (!eol)
			eol = end;
		rc = kd_maps_parse_line(p, (size_t)(eol - p), &v);
		if (rc == 0 && kd_vma_shown(env, &v)) {
			if (n == max) {
				snprintf(msg, msglen, "more than %d maps lines in the windows", max);
				return -1;
			}
			vmas[n++] = v;
		} else if (rc == -2 && kd_vma_shown(env, &v)) {
			snprintf(msg, msglen, "maps line not padded as Linux pads it: '%.*s'",
				 (int)(eol - p), p);
			return -1;
		} else if (rc == -1) {
			snprintf(msg, msglen, "malformed maps line: '%.*s'", (int)(eol - p), p);
			return -1;
		}
		p = eol + 1;
	}
	return n;
}

static bool named(const struct kd_vma *v, const char *path)
{
	size_t n = path ? strlen(path) : 0;
	return n && v->name_len == n && memcmp(v->name, path, n) == 0;
}

/* The writable file: each side maps its own copy. */
static bool is_rwfile(const struct kd_env *env, const struct kd_vma *v)
{
	return named(v, env->rw_path);
}

/* Either file (of KD_FILE_PAGES pages). */
static bool is_file(const struct kd_env *env, const struct kd_vma *v)
{
	return named(v, env->file_path) || is_rwfile(env, v);
}

/* Index of a shmem inode in env, or -1. */
static int shm_find(const struct kd_env *env, uint64_t ino)
{
	for (unsigned i = 0; i < env->nshm; i++)
		if (env->shm_ino[i] == ino)
			return (int)i;
	return -1;
}

static int shm_id(struct kd_env *env, uint64_t ino)
{
	int i = shm_find(env, ino);
	if (i >= 0 || env->nshm == KD_MAX_STEPS)
		return i;
	env->shm_ino[env->nshm] = ino;
	env->shm_pages[env->nshm] = 0;      /* unknown until kd_note_shm */
	return (int)env->nshm++;
}

static int put_anchored(char *buf, size_t len, char anchor, uint64_t base, uint64_t a)
{
	if (a >= base)
		return snprintf(buf, len, "%c+%" PRIx64, anchor, a - base);
	return snprintf(buf, len, "%c-%" PRIx64, anchor, base - a);
}

void kd_maps_normalise(struct kd_env *env, const struct kd_vma *vmas, int n, char *out)
{
	size_t used = 0;
	out[0] = 0;
	for (int i = 0; i < n && used + 200 < KD_MAPS_TEXT; i++) {
		const struct kd_vma *v = &vmas[i];
		bool heap = !overlaps(v, KD_BASE - KD_GUARD, KD_BASE + KD_SIZE + KD_GUARD);
		char anchor = heap ? 'B' : 'R';
		uint64_t base = heap ? env->start_brk : KD_BASE;
		char ino[32], dev[16];
		const char *name = v->name;
		int name_len = (int)(v->name_len > 100 ? 100 : v->name_len);

		snprintf(dev, sizeof dev, "%02x:%02x", v->dev_major, v->dev_minor);
		if (is_rwfile(env, v)) {
			/* Two copies, one per side: neither device, inode nor path
			 * compare, only that it is the writable file. */
			snprintf(dev, sizeof dev, "rw");
			snprintf(ino, sizeof ino, "rw");
			name = "rwfile";
			name_len = 6;
		} else if (v->inode && !is_file(env, v)) {
			snprintf(ino, sizeof ino, "shm#%d", shm_id(env, v->inode));
		} else {
			snprintf(ino, sizeof ino, "%" PRIu64, v->inode);
		}
		used += (size_t)put_anchored(out + used, KD_MAPS_TEXT - used, anchor, base, v->start);
		out[used++] = '-';
		used += (size_t)put_anchored(out + used, KD_MAPS_TEXT - used, anchor, base, v->end);
		used += (size_t)snprintf(out + used, KD_MAPS_TEXT - used, " %s %08" PRIx64 " %s %s %.*s\n",
					 v->perms, v->offset, dev, ino, name_len, name);
	}
}

static const struct kd_vma *find(const struct kd_vma *vmas, int n, uint64_t va)
{
	for (int i = 0; i < n; i++)
		if (va >= vmas[i].start && va < vmas[i].end)
			return &vmas[i];
	return NULL;
}

void kd_note_shm(struct kd_env *env, const struct kd_vma *vmas, int n, uint64_t addr, uint64_t len)
{
	const struct kd_vma *v = find(vmas, n, addr);
	int i;
	if (!v || !v->inode || is_file(env, v))
		return;
	i = shm_id(env, v->inode);
	if (i >= 0 && env->shm_pages[i] == 0)
		env->shm_pages[i] = (len + 4095) >> 12;
}

bool kd_accessible(const struct kd_env *env, const struct kd_vma *vmas, int n, uint64_t va,
		   bool write)
{
	const struct kd_vma *v = find(vmas, n, va);
	uint64_t page;
	if (!v || v->perms[write ? 1 : 0] != (write ? 'w' : 'r'))
		return false;
	page = (v->offset >> 12) + ((va - v->start) >> 12);
	if (is_file(env, v))
		return page < KD_FILE_PAGES;            /* else SIGBUS */
	if (v->inode) {
		int i = shm_find(env, v->inode);
		return i >= 0 && page < env->shm_pages[i];   /* beyond i_size: SIGBUS */
	}
	return true;
}

uint64_t kd_resolve(const struct kd_env *env, struct kd_addr a)
{
	switch (a.anchor) {
	case KD_RANGE:
		return KD_BASE + (uint64_t)a.off;
	case KD_HEAP:
		return env->start_brk + (uint64_t)a.off;
	default:
		return (uint64_t)a.off;
	}
}

void kd_maps_append_child(char *maps, const char *child)
{
	size_t used = strlen(maps);

	snprintf(maps + used, KD_MAPS_TEXT - used, "%s%s", KD_CHILD_MAPS, child);
}

unsigned kd_touch_plan(const struct kd_env *env, const struct kd_op *op, uint64_t *va, bool *write)
{
	uint64_t first = kd_resolve(env, op->addr) & ~UINT64_C(0xfff);
	uint64_t pages = op->len > KD_MAX_ACCESS / 2 ? KD_MAX_ACCESS / 2 : op->len;
	unsigned mode = (unsigned)op->flags & KD_T_MODE, n = 0;

	for (uint64_t i = 0; i < pages; i++) {
		uint64_t page = op->flags & KD_T_DOWN ? pages - 1 - i : i;
		uint64_t a = first + (page << 12) + 8 * (page & 7);
		if (mode & KD_T_R) {
			va[n] = a;
			write[n++] = false;
		}
		if (mode & KD_T_W) {
			va[n] = a;
			write[n++] = true;
		}
	}
	return n;
}

void kd_ret_normalise(const struct kd_env *env, const struct kd_op *op, int64_t ret,
		      struct kd_rec *rec)
{
	uint64_t a = (uint64_t)ret;
	rec->ret_kind = KD_RET_VALUE;
	rec->ret = ret;
	if (op->kind == KD_BRK) {
		rec->ret_kind = KD_RET_HEAP;
		rec->ret = (int64_t)(a - env->start_brk);
	} else if ((op->kind == KD_MMAP || op->kind == KD_MREMAP) && (ret >= 0 || ret < -4095)) {
		if (a >= KD_BASE - KD_GUARD && a < KD_BASE + KD_SIZE + KD_GUARD) {
			rec->ret_kind = KD_RET_RANGE;
			rec->ret = (int64_t)(a - KD_BASE);
		} else {
			/* Placed top-down from mmap_base, which is random on the host:
			 * neither the address nor the faults of MAP_POPULATE compare
			 * (fault-around windows are aligned in the address space). */
			rec->ret_kind = KD_RET_OUTSIDE;
			rec->ret = 0;
			rec->minflt = rec->majflt = 0;
		}
	}
}
