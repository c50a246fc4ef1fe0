/*
 * The text trace format (docs/formats.md): one event per line, for traces
 * written by hand and for converted ones.
 *
 *   [PID:] R|W|X|M ADDR [SIZE] [xCOUNT] [kernel]   an access (hex ADDR, decimal SIZE)
 *   [PID:] mmap NAME LEN PROT FLAGS [file PATH [OFF]] [at ADDR] [= RET [fd N]]
 *   [PID:] munmap|mprotect|brk|mremap|madvise|msync ... [= RET]
 *   [PID:] read|write|exec ADDR [LEN], touch ADDR LEN KIND, exit [CODE]
 *   [PID:] syscall NR [ARG...] [file PATH] [= RET]  any other call
 *   [PID:] map START END PERMS OFFSET [PATH|[heap]|[stack]]   initial map
 *   [PID:] fork CHILD,  execve PATH,  let NAME EXPR
 *
 * The system-call and access verbs are the scenario language's
 * (docs/scenarios.md), parsed by its own code (scn_parse_verb) and
 * evaluated with its expressions: names bound by mmap, mremap ... as and
 * let hold the results the trace gives.  A line without PID: belongs to
 * the process of the line before (1 at the start).  `# comments`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/error.h"
#include "kernel/uapi.h"
#include "trace/text.h"
#include "trace/trace.h"

static bool text_detect(const unsigned char *head, size_t len)
{
	(void)head;
	(void)len;
	return true;     /* the last resort */
}

static int text_open(struct vm_trace *t)
{
	struct text_rd *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	t->priv = r;
	r->pid = 1;
	r->prog.file = t->name;
	return 0;
}

static void text_close(struct vm_trace *t)
{
	struct text_rd *r = t->priv;
	scn_prog_free(&r->prog);
	free(r->value);
	free(r->known);
	free(r);
	t->priv = NULL;
}

int vm_text_unescape(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		if (c == '\\') {
			int hi, lo;
			if (s[i + 1] != 'x' || (hi = vm_text_hexval(s[i + 2])) < 0 ||
			    (lo = vm_text_hexval(s[i + 3])) < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 3;
		}
		if (o + 1 >= cap)
			return -E2BIG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* A path word into r->path. */
int vm_text_path(struct vm_trace *t, struct text_rd *r, const char *w)
{
	int rc = vm_text_unescape(w, r->path, sizeof(r->path));
	if (rc == -E2BIG)
		return vm_trace_fail(t, r->line, "path longer than %d bytes", VM_TRACE_PATH_MAX);
	if (rc || !*w)
		return vm_trace_fail(t, r->line, "'%.40s': bad path (escapes are \\xHH, not \\x00)", w);
	return 0;
}

/* Words of the line's own (non-scenario) forms. */

/* The next word at *p into w (cut at len - 1); *p moves past it. */
void vm_text_word(const char **p, char *w, size_t len)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = 0;
	while (!vm_text_word_end(*s)) {
		if (n + 1 < len)
			w[n++] = *s;
		s++;
	}
	w[n] = '\0';
	*p = s;
}

/* Hex (0x optional): ADDR, map bounds and offsets. */
static bool parse_hex(const char *w, uint64_t *v)
{
	if (w[0] == '0' && (w[1] == 'x' || w[1] == 'X'))
		w += 2;
	uint64_t x = 0;
	size_t n = 0;
	for (; w[n]; n++) {
		int d = vm_text_hexval(w[n]);
		if (d < 0 || (x >> 60))
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*v = x;
	return n > 0;
}

bool vm_text_dec(const char *w, uint64_t *v)
{
	uint64_t x = 0;
	size_t n = 0;
	for (; w[n]; n++) {
		uint64_t d = (uint64_t)(w[n] - '0');
		if (w[n] < '0' || w[n] > '9' || x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return n > 0;
}

static int access_line(struct vm_trace *t, struct text_rd *r, const char *p, unsigned acc,
		       struct vm_trace_event *ev)
{
	char w[64];
	uint64_t addr, size = 1, count = 1;
	bool kernel = false;
	vm_text_word(&p, w, sizeof(w));
	if (!parse_hex(w, &addr))
		return vm_trace_fail(t, r->line, "'%.40s': expected a hex address", w);
	vm_text_word(&p, w, sizeof(w));
	if (*w && *w != 'x' && strcmp(w, "kernel") != 0) {
		if (!vm_text_dec(w, &size) || size == 0 || size > ACCESS_MAX)
			return vm_trace_fail(t, r->line, "'%.40s': expected a size in bytes, 1 to 1G", w);
		vm_text_word(&p, w, sizeof(w));
	}
	if (*w == 'x') {
		if (!vm_text_dec(w + 1, &count) || count == 0)
			return vm_trace_fail(t, r->line, "'%.40s': expected xCOUNT, a count >= 1", w);
		vm_text_word(&p, w, sizeof(w));
	}
	if (strcmp(w, "kernel") == 0) {
		if (acc != VM_ACC_WRITE)
			return vm_trace_fail(t, r->line, "only writes are made by the kernel");
		kernel = true;
		vm_text_word(&p, w, sizeof(w));
	}
	if (*w)
		return vm_trace_fail(t, r->line, "unexpected '%.40s' after the access", w);
	if (addr + size - 1 < addr)
		return vm_trace_fail(t, r->line, "the access wraps around the address space");
	if (count > 1 && (addr & (VM_PAGE_SIZE - 1)) + size > VM_PAGE_SIZE)
		return vm_trace_fail(t, r->line, "a repeated access must stay inside one page");
	*ev = (struct vm_trace_event){ .kind = VM_TEV_ACCESS, .access = (uint8_t)acc,
				       .flags = kernel ? VM_TEV_F_KERNEL : 0, .pid = r->pid };
	ev->acc.addr = addr;
	ev->acc.size = (uint32_t)size;
	ev->acc.count = count;
	return 1;
}

static int map_line(struct vm_trace *t, struct text_rd *r, const char *p, struct vm_trace_event *ev)
{
	char w[TEXT_LINE_MAX + 1];
	uint64_t start, end, off;
	vm_text_word(&p, w, sizeof(w));
	if (!parse_hex(w, &start))
		return vm_trace_fail(t, r->line, "map: '%.40s': expected the start (hex)", w);
	vm_text_word(&p, w, sizeof(w));
	if (!parse_hex(w, &end))
		return vm_trace_fail(t, r->line, "map: '%.40s': expected the end (hex)", w);
	vm_text_word(&p, w, sizeof(w));
	if (strlen(w) != 4 || (w[0] != 'r' && w[0] != '-') || (w[1] != 'w' && w[1] != '-') ||
	    (w[2] != 'x' && w[2] != '-') || (w[3] != 'p' && w[3] != 's'))
		return vm_trace_fail(t, r->line, "map: '%.40s': expected permissions as in "
				     "/proc/PID/maps (r-xp)", w);
	*ev = (struct vm_trace_event){ .kind = VM_TEV_MAP, .pid = r->pid };
	ev->map.prot = (w[0] == 'r' ? VM_PROT_READ : 0) | (w[1] == 'w' ? VM_PROT_WRITE : 0) |
		       (w[2] == 'x' ? VM_PROT_EXEC : 0);
	ev->map.flags = w[3] == 'p' ? VM_MAP_PRIVATE : VM_MAP_SHARED;
	vm_text_word(&p, w, sizeof(w));
	if (!parse_hex(w, &off))
		return vm_trace_fail(t, r->line, "map: '%.40s': expected the file offset (hex)", w);
	vm_text_word(&p, w, sizeof(w));
	if (strcmp(w, "[heap]") == 0 || strcmp(w, "[stack]") == 0 || !*w) {
		ev->flags = !*w ? 0 : w[1] == 'h' ? VM_TEV_F_HEAP : VM_TEV_F_STACK;
		ev->map.flags |= VM_MAP_ANONYMOUS;
	} else {
		int rc = vm_text_path(t, r, w);
		if (rc)
			return rc;
		ev->path = r->path;
	}
	ev->map.start = start;
	ev->map.end = end;
	ev->map.offset = off;
	vm_text_word(&p, w, sizeof(w));
	if (*w)
		return vm_trace_fail(t, r->line, "unexpected '%.40s' after the map line", w);
	const char *bad = vm_trace_event_invalid(ev);
	if (bad)
		return vm_trace_fail(t, r->line, "map: %s", bad);
	return 1;
}


/* One line (NUL terminated in r->s): 1 with an event, 0 for none. */
static int parse_line(struct vm_trace *t, struct text_rd *r, struct vm_trace_event *ev)
{
	char w[SCN_LINE_MAX + 1];
	char *s = r->s;
	while (*s == ' ' || *s == '\t')
		s++;
	/* PID: */
	if (*s >= '0' && *s <= '9') {
		char *e = s;
		uint64_t pid = 0;
		while (*e >= '0' && *e <= '9' && pid <= INT32_MAX)
			pid = pid * 10 + (uint64_t)(*e++ - '0');
		if (*e != ':' || pid == 0 || pid > INT32_MAX)
			return vm_trace_fail(t, r->line, "'%.20s': a line starts with PID: (1 to "
					     "2147483647) or a word", s);
		r->pid = (int32_t)pid;
		s = e + 1;
	}
	const char *p = s;
	vm_text_word(&p, w, sizeof(w));
	if (!*w)
		return 0;
	if (w[1] == '\0' && strchr("RWXM", w[0])) {
		unsigned acc = w[0] == 'R' ? VM_ACC_READ : w[0] == 'W' ? VM_ACC_WRITE
				: w[0] == 'X' ? VM_ACC_EXEC : VM_TACC_MODIFY;
		return access_line(t, r, p, acc, ev);
	}
	if (strcmp(w, "map") == 0)
		return map_line(t, r, p, ev);
	if (strcmp(w, "fork") == 0 || strcmp(w, "execve") == 0) {
		char arg[TEXT_LINE_MAX + 1];
		bool fork = w[0] == 'f';
		uint64_t child;
		vm_text_word(&p, arg, sizeof(arg));
		vm_text_word(&p, w, sizeof(w));
		if (*w)
			return vm_trace_fail(t, r->line, "unexpected '%.40s'", w);
		*ev = (struct vm_trace_event){ .kind = fork ? VM_TEV_FORK : VM_TEV_EXEC, .pid = r->pid };
		if (!fork) {
			int rc = vm_text_path(t, r, arg);
			ev->path = r->path;
			return rc ? rc : 1;
		}
		if (!vm_text_dec(arg, &child) || child == 0 || child > INT32_MAX)
			return vm_trace_fail(t, r->line, "fork: '%.40s': expected the child's pid", arg);
		ev->fork.child = (int32_t)child;
		return 1;
	}
	/* The rest is parsed by the scenario's code (text_calls.c). */
	return vm_text_call_line(t, r, s, w, ev);
}

/* The next line into r->s: 1, 0 at the end, or an error. */
static int take_line(struct vm_trace *t, struct text_rd *r)
{
	const char *s;
	size_t n;
	bool partial;
	int rc = vm_tin_line(&t->in, TEXT_LINE_MAX, &s, &n, &partial);
	if (rc <= 0)
		return rc == -E2BIG ? vm_trace_fail(t, r->line + 1, "line longer than %d bytes",
						    TEXT_LINE_MAX) : rc;
	r->line++;
	t->stat[VM_TSTAT_LINES]++;
	if (n && s[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return vm_trace_fail(t, r->line, "control character 0x%02x (a text trace is "
					     "text)", c);
	}
	memcpy(r->s, s, n);
	r->s[n] = '\0';
	return 1;
}

static int text_next(struct vm_trace *t, struct vm_trace_event *ev)
{
	struct text_rd *r = t->priv;
	for (;;) {
		int rc = take_line(t, r);
		if (rc <= 0)
			return rc;
		rc = parse_line(t, r, ev);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) {
			t->err.file = t->name;
			t->err.line = r->line;
			return rc;
		}
		if (rc == 1)
			return 1;
	}
}

const struct trace_ops vm_trace_text_ops = {
	.name = "text",
	.desc = "one event per line: R|W|X|M ADDR [SIZE], scenario system-call lines, map, fork",
	.detect = text_detect,
	.open = text_open,
	.next = text_next,
	.close = text_close,
};