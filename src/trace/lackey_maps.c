/*
 * The initial address space of a traced program, from the debug log of a
 * second, untraced `valgrind -d --tool=lackey ... 2> NAME.stderr` run of the
 * same command (LACKEY.md 4; with -d in the traced run, Valgrind would own
 * fd 2).  Valgrind's address-space manager prints, just before the client's
 * first instruction,
 *
 *   --PID:1: aspacem <<< SHOW_SEGMENTS: Memory layout at client startup (N segments)
 *   --PID:1: aspacem (IDX,OFF,REFS) NAME                    segment names
 *   --PID:1: aspacem   IDX: KIND START-END SIZE PERMS [d=.. i=.. o=OFF (IDX,OFF)]
 *   --PID:1: aspacem >>>
 *
 * KIND `file`/`anon` in lower case are the client's segments (upper case are
 * Valgrind's own, RSVN reservations, blank free space).  The anonymous
 * segment below the `SmLower` reservation is the initial break page; the
 * one above the `SmUpper` reservation is the stack.  END is inclusive.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/error.h"
#include "kernel/uapi.h"
#include "trace/lackey.h"

#define MAX_NAMES 4096

struct names {
	char *name[MAX_NAMES];
	bool valgrind[MAX_NAMES];     /* a Valgrind-owned segment (FILE) maps this name */
};

static size_t skip_sp(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] == ' ')
		i++;
	return i;
}

static bool take_num(const char *s, size_t n, size_t *i, int base, uint64_t *v)
{
	size_t start = *i;
	uint64_t x = 0;
	for (; *i < n; (*i)++) {
		char c = s[*i];
		int d = c >= '0' && c <= '9' ? c - '0' : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			break;
		if (x > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false;
		x = x * (uint64_t)base + (uint64_t)d;
	}
	*v = x;
	return *i > start;
}

/* "--PID:1: aspacem " at the start: the pid and where the rest begins. */
static bool aspacem_line(const char *s, size_t n, int32_t *pid, size_t *rest)
{
	size_t i = 2;
	uint64_t p;
	if (n < 2 || s[0] != '-' || s[1] != '-' || !take_num(s, n, &i, 10, &p) || p == 0 ||
	    p > INT32_MAX)
		return false;
	while (i < n && s[i] != ' ')
		i++;
	i = skip_sp(s, n, i);
	if (n - i < 8 || memcmp(s + i, "aspacem ", 8) != 0)
		return false;
	*pid = (int32_t)p;
	*rest = i + 8;
	return true;
}

/* Where w occurs in s[from..n), or n. */
static size_t find_from(const char *s, size_t n, size_t from, const char *w)
{
	size_t k = strlen(w);
	for (size_t i = from; i + k <= n; i++)
		if (memcmp(s + i, w, k) == 0)
			return i;
	return n;
}

static int add_segment(struct lk_map *m, const struct lk_segment *seg)
{
	struct lk_segment *p = realloc(m->seg, (m->nseg + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	m->seg = p;
	p[m->nseg++] = *seg;
	return 0;
}

/* One segment line of a table; kind "file"/"anon" kept.  prev_upper: the
 * segment before was the SmUpper reservation.  0, -EINVAL, -ENOMEM. */
static int segment_line(struct lk_map *m, struct names *nm, const char *s, size_t n,
			bool *prev_upper)
{
	size_t i = skip_sp(s, n, 0);
	uint64_t idx, start, end, off = 0, nameidx = MAX_NAMES;
	if (!take_num(s, n, &i, 10, &idx) || i >= n || s[i] != ':')
		return -EINVAL;
	i++;
	/* KIND is four characters after one blank ("file", "RSVN", or blanks). */
	if (n - i < 6)
		return -EINVAL;
	char kind[5];
	memcpy(kind, s + i + 1, 4);
	kind[4] = '\0';
	i = skip_sp(s, n, i + 5);
	if (!take_num(s, n, &i, 16, &start) || i >= n || s[i] != '-')
		return -EINVAL;
	i++;
	if (!take_num(s, n, &i, 16, &end) || end < start)
		return -EINVAL;
	bool rsvn = strcmp(kind, "RSVN") == 0;
	bool upper = rsvn && find_from(s, n, i, "SmUpper") < n;
	if (rsvn && find_from(s, n, i, "SmLower") < n && m->nseg &&
	    m->seg[m->nseg - 1].end == start && !m->seg[m->nseg - 1].path)
		m->seg[m->nseg - 1].flags = VM_TEV_F_HEAP;
	bool client = strcmp(kind, "file") == 0 || strcmp(kind, "anon") == 0;
	bool was_upper = *prev_upper;
	*prev_upper = upper;
	if (strcmp(kind, "FILE") == 0) {
		/* Valgrind's own file (its tool): remember the name. */
		size_t p = find_from(s, n, i, " (");
		if (p < n && (p += 2, take_num(s, n, &p, 10, &nameidx)) && nameidx < MAX_NAMES)
			nm->valgrind[nameidx] = true;
		return 0;
	}
	if (!client)
		return 0;
	if (end == UINT64_MAX)
		return -EINVAL;     /* no client segment reaches the top of the address space */
	/* SIZE then PERMS (r, w, x, T, H). */
	i = skip_sp(s, n, i);
	while (i < n && s[i] != ' ')
		i++;
	i = skip_sp(s, n, i);
	if (n - i < 3)
		return -EINVAL;
	struct lk_segment seg = { .start = start, .end = end + 1 };
	seg.prot = (s[i] == 'r' ? VM_PROT_READ : 0) | (s[i + 1] == 'w' ? VM_PROT_WRITE : 0) |
		   (s[i + 2] == 'x' ? VM_PROT_EXEC : 0);
	if ((seg.start | seg.end) & 4095)
		return -EINVAL;
	if (kind[0] == 'f') {
		size_t o = find_from(s, n, i, " o=");
		size_t p = find_from(s, n, i, " (");
		if (o == n || p == n)
			return -EINVAL;
		o += 3;
		p += 2;
		if (!take_num(s, n, &o, 10, &off) || !take_num(s, n, &p, 10, &nameidx) ||
		    nameidx >= MAX_NAMES || !nm->name[nameidx] || (off & 4095))
			return -EINVAL;
		seg.offset = off;
		seg.path = strdup(nm->name[nameidx]);
		if (!seg.path)
			return -ENOMEM;
	} else if (was_upper) {
		seg.flags = VM_TEV_F_STACK;
	}
	int rc = add_segment(m, &seg);
	if (rc)
		free(seg.path);
	return rc;
}

/* "(IDX,OFF,REFS) NAME": remember NAME by IDX. */
static int name_line(struct names *nm, const char *s, size_t n)
{
	size_t i = 1;
	uint64_t idx;
	if (n < 2 || s[0] != '(' || !take_num(s, n, &i, 10, &idx) || idx >= MAX_NAMES)
		return -EINVAL;
	size_t close = find_from(s, n, i, ") ");
	if (close == n || n - close - 2 > VM_TRACE_PATH_MAX)
		return -EINVAL;
	char *name = strndup(s + close + 2, n - close - 2);
	if (!name)
		return -ENOMEM;
	free(nm->name[idx]);
	nm->name[idx] = name;
	return 0;
}

static void names_clear(struct names *nm)
{
	for (size_t i = 0; i < MAX_NAMES; i++) {
		free(nm->name[i]);
		nm->name[i] = NULL;
		nm->valgrind[i] = false;
	}
}

static int new_table(struct lk_maps *m, int32_t pid, long line)
{
	struct lk_map *p = realloc(m->map, (m->nmap + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	m->map = p;
	p[m->nmap++] = (struct lk_map){ .pid = pid, .line = line };
	return 0;
}

/* The executable: the file segment at the lowest address. */
static void set_program(struct lk_map *map)
{
	for (size_t i = 0; i < map->nseg && !map->program; i++)
		map->program = map->seg[i].path;
}

/* Valgrind's trampoline (LACKEY.md 4): the one client segment of a file
 * that Valgrind itself maps (its tool, linked at 0x58000000), the page of
 * the tool's text that m_main.c gives the client (VG_(trampoline_stuff_start)
 * rounded to pages).  Its address is the tool's, not the program's: it
 * becomes an anonymous segment at VM_VG_TRAMPOLINE (lackey.h), where vmlab's
 * Valgrind tool puts it too, and m->tramp_* say where accesses to it are
 * moved from. */
static void place_trampoline(struct lk_maps *m, struct lk_map *map, const struct names *nm)
{
	const char *own[4];       /* Valgrind's files: its tool, in practice alone */
	size_t nown = 0;
	for (size_t k = 0; k < MAX_NAMES && nown < VM_ARRAY_SIZE(own); k++)
		if (nm->valgrind[k] && nm->name[k])
			own[nown++] = nm->name[k];
	for (size_t i = 0; i < map->nseg && nown; i++) {
		struct lk_segment *sg = &map->seg[i];
		bool tool = false;
		for (size_t k = 0; sg->path && k < nown && !tool; k++)
			tool = strcmp(own[k], sg->path) == 0;
		if (!tool)
			continue;
		if (!m->tramp_len) {
			m->tramp_start = sg->start;
			m->tramp_len = sg->end - sg->start;
		}
		sg->end = VM_VG_TRAMPOLINE + (sg->end - sg->start);
		sg->start = VM_VG_TRAMPOLINE;
		sg->offset = 0;
		free(sg->path);
		sg->path = NULL;
		return;
	}
}

/* Read the lines of in into m.  0, -EINVAL (err), -ENOMEM, -EIO. */
static int load_lines(struct lk_maps *m, struct vm_tin *in, struct names *nm, const char *path,
		      struct vm_error *err)
{
	const char *s;
	size_t n;
	bool partial, prev_upper = false;
	long line = 0;
	int32_t in_table = 0;       /* pid of the table being read, 0 = none */
	int rc;
	while ((rc = vm_tin_line(in, 1 << 16, &s, &n, &partial)) == 1) {
		line++;
		int32_t pid;
		size_t i;
		if (!aspacem_line(s, n, &pid, &i))
			continue;
		s += i;
		n -= i;
		if (!in_table) {
			static const char start[] = "<<< SHOW_SEGMENTS: Memory layout at client startup";
			if (n >= sizeof(start) - 1 && memcmp(s, start, sizeof(start) - 1) == 0) {
				if ((rc = new_table(m, pid, line)))
					return rc;
				in_table = pid;
				prev_upper = false;
				names_clear(nm);
			}
			continue;
		}
		if (pid != in_table)
			continue;     /* another process's lines in between */
		if (n >= 3 && memcmp(s, ">>>", 3) == 0) {
			place_trampoline(m, &m->map[m->nmap - 1], nm);
			set_program(&m->map[m->nmap - 1]);
			in_table = 0;
			continue;
		}
		size_t k = skip_sp(s, n, 0), d = k;
		while (d < n && s[d] >= '0' && s[d] <= '9')
			d++;
		if (k < n && s[k] == '(')
			rc = name_line(nm, s + k, n - k);
		else if (d > k && d < n && s[d] == ':')
			rc = segment_line(&m->map[m->nmap - 1], nm, s, n, &prev_upper);
		else
			rc = 0;   /* "3 segment names in 3 slots", "freelist is empty" */
		if (rc == -EINVAL)
			return vm_error_at(err, path, line, "cannot read this segment-table line "
					   "(valgrind -d output, LACKEY.md 4)");
		if (rc)
			return rc;
	}
	if (rc < 0)
		return rc == -E2BIG ? vm_error_at(err, path, line + 1, "line longer than 64 KiB") : rc;
	if (in_table)
		return vm_error_at(err, path, line, "the segment table of process %d has no end (>>>): "
				   "truncated?", in_table);
	if (m->nmap == 0)
		return vm_error_at(err, path, 0, "no 'Memory layout at client startup' table: "
				   "not the stderr of valgrind -d?");
	return 0;
}

int lk_maps_read(struct lk_maps *m, struct vm_tin *in, const char *name, struct vm_error *err)
{
	memset(m, 0, sizeof(*m));
	struct names *nm = calloc(1, sizeof(*nm));
	int rc = nm ? load_lines(m, in, nm, name, err) : -ENOMEM;
	if (nm) {
		names_clear(nm);
		free(nm);
	}
	if (rc && rc != -EINVAL)
		vm_error_at(err, name, 0, "%s", rc == -ENOMEM ? "out of memory" : rc == -EBADMSG ?
			    "corrupt gzip data" : "read error");
	if (rc) {
		lk_maps_free(m);
		if (rc == -EBADMSG)
			rc = -EINVAL;
	}
	return rc;
}

int lk_maps_load(struct lk_maps *m, const char *path, struct vm_error *err)
{
	memset(m, 0, sizeof(*m));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		vm_error_at(err, path, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	struct vm_tin in;
	int rc = vm_tin_open_fd(&in, fd, true);
	if (rc == 0)
		rc = lk_maps_read(m, &in, path, err);
	else
		vm_error_at(err, path, 0, "%s", rc == -ENOMEM ? "out of memory" : "read error");
	vm_tin_close(&in);
	return rc;
}

void lk_maps_free(struct lk_maps *m)
{
	for (size_t i = 0; i < m->nmap; i++) {
		for (size_t j = 0; j < m->map[i].nseg; j++)
			free(m->map[i].seg[j].path);
		free(m->map[i].seg);
	}
	free(m->map);
	memset(m, 0, sizeof(*m));
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* The file command runs, links resolved (sh -> /usr/bin/dash), into buf;
 * false if it cannot be found.  A word without '/' is looked up in $PATH
 * as execvp does. */
static bool resolve(const char *command, char *buf)
{
	if (strchr(command, '/'))
		return realpath(command, buf) != NULL;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);
		char cand[PATH_MAX];
		if (n && n + strlen(command) + 2 < sizeof(cand)) {
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, path, command);
			if (access(cand, X_OK) == 0 && realpath(cand, buf))
				return true;
		}
		path += n + (colon ? 1 : 0);
	}
	return false;
}

static bool same_program(const struct lk_map *map, const char *command, const char *resolved)
{
	const char *prog = base_name(map->program);
	return strcmp(prog, base_name(command)) == 0 ||
	       (resolved && strcmp(prog, base_name(resolved)) == 0);
}

struct lk_map *lk_maps_pick(struct lk_maps *m, int32_t pid, const char *command)
{
	char buf[PATH_MAX];
	const char *resolved = command && resolve(command, buf) ? buf : NULL;
	for (size_t i = 0; i < m->nmap; i++)
		if (m->map[i].pid == pid)
			return &m->map[i];
	for (size_t i = 0; command && i < m->nmap; i++)
		if (!m->map[i].used && m->map[i].program && same_program(&m->map[i], command, resolved))
			return &m->map[i];
	/* The -d run started its processes in the traced run's order. */
	for (size_t i = 0; i < m->nmap; i++)
		if (!m->map[i].used)
			return &m->map[i];
	return NULL;
}
