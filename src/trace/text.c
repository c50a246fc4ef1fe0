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
#include "trace/scenario.h"
#include "trace/text.h"
#include "trace/trace.h"

#define TEXT_LINE_MAX 8192        /* a map or execve line holds a path of 4095 bytes */
#define ACCESS_MAX (UINT64_C(1) << 30)
#define FD_NONE UINT64_C(0xffffffff)    /* fd -1 as Valgrind prints it */

struct text_rd {
	struct scn_prog prog;     /* the names; expressions and strings of one line */
	int64_t *value;           /* by name index */
	bool *known;
	size_t vcap;
	int32_t pid;
	long line;
	bool eval_failed;
	int bad_name;
	char s[TEXT_LINE_MAX + 1];
	char path[VM_TRACE_PATH_MAX + 1];
};

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

static int64_t env_name(void *ctx, int name)
{
	struct text_rd *r = ctx;
	if ((size_t)name < r->vcap && r->known[name])
		return r->value[name];
	r->eval_failed = true;
	r->bad_name = name;
	return 0;
}

static uint64_t env_counter(void *ctx, unsigned id)
{
	(void)ctx;
	(void)id;
	return 0;     /* refused before evaluation */
}

static int64_t env_field(void *ctx, int proc, unsigned field)
{
	(void)ctx;
	(void)proc;
	(void)field;
	return 0;
}

/* The value of expression root; -EINVAL for a name without a value. */
static int eval(struct vm_trace *t, struct text_rd *r, int root, int64_t *v)
{
	const struct scn_env env = { env_name, env_counter, env_field, r };
	r->eval_failed = false;
	if (scn_eval(&r->prog, root, &env, v) != 0)
		return vm_trace_fail(t, r->line, "division by zero");
	if (r->eval_failed)
		return vm_trace_fail(t, r->line, "'%s' has no value (its mmap or mremap line gave "
				     "no result: add = ADDR)", r->prog.names[r->bad_name].id);
	return 0;
}

/* Counters and process figures belong to a running scenario, not a trace. */
static int only_numbers(struct vm_trace *t, struct text_rd *r)
{
	for (size_t i = 0; i < r->prog.nex; i++)
		if (r->prog.ex[i].kind == SCN_E_COUNTER || r->prog.ex[i].kind == SCN_E_FIELD)
			return vm_trace_fail(t, r->line, "counters and process figures have no value "
					     "in a trace");
	return 0;
}

/* Bind name index i to v (known) after a scenario parse added it. */
static int bind(struct text_rd *r, int i, int64_t v, bool known)
{
	if ((size_t)i >= r->vcap) {
		size_t cap = r->vcap ? r->vcap * 2 : 64;
		while (cap <= (size_t)i)
			cap *= 2;
		int64_t *nv = realloc(r->value, cap * sizeof(*nv));
		if (nv)
			r->value = nv;
		bool *nk = realloc(r->known, cap * sizeof(*nk));
		if (nk)
			r->known = nk;
		if (!nv || !nk)
			return -ENOMEM;
		memset(r->known + r->vcap, 0, (cap - r->vcap) * sizeof(*nk));
		r->vcap = cap;
	}
	r->value[i] = v;
	r->known[i] = known;
	return 0;
}

/* "_" may be bound on every line: it names nothing afterwards. */
static void forget_underscore(struct text_rd *r)
{
	if (r->prog.nnames && strcmp(r->prog.names[r->prog.nnames - 1].id, "_") == 0)
		r->prog.nnames--;
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

int vm_text_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A path word into r->path. */
static int take_path(struct vm_trace *t, struct text_rd *r, const char *w)
{
	int rc = vm_text_unescape(w, r->path, sizeof(r->path));
	if (rc == -E2BIG)
		return vm_trace_fail(t, r->line, "path longer than %d bytes", VM_TRACE_PATH_MAX);
	if (rc || !*w)
		return vm_trace_fail(t, r->line, "'%.40s': bad path (escapes are \\xHH, not \\x00)", w);
	return 0;
}

/* Words of the line's own (non-scenario) forms. */

static bool word_end(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '#';
}

/* The next word at *p into w (cut at len - 1); *p moves past it. */
static void next_word(const char **p, char *w, size_t len)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = 0;
	while (!word_end(*s)) {
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

static bool parse_dec(const char *w, uint64_t *v)
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
	next_word(&p, w, sizeof(w));
	if (!parse_hex(w, &addr))
		return vm_trace_fail(t, r->line, "'%.40s': expected a hex address", w);
	next_word(&p, w, sizeof(w));
	if (*w && *w != 'x' && strcmp(w, "kernel") != 0) {
		if (!parse_dec(w, &size) || size == 0 || size > ACCESS_MAX)
			return vm_trace_fail(t, r->line, "'%.40s': expected a size in bytes, 1 to 1G", w);
		next_word(&p, w, sizeof(w));
	}
	if (*w == 'x') {
		if (!parse_dec(w + 1, &count) || count == 0)
			return vm_trace_fail(t, r->line, "'%.40s': expected xCOUNT, a count >= 1", w);
		next_word(&p, w, sizeof(w));
	}
	if (strcmp(w, "kernel") == 0) {
		if (acc != VM_ACC_WRITE)
			return vm_trace_fail(t, r->line, "only writes are made by the kernel");
		kernel = true;
		next_word(&p, w, sizeof(w));
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
	next_word(&p, w, sizeof(w));
	if (!parse_hex(w, &start))
		return vm_trace_fail(t, r->line, "map: '%.40s': expected the start (hex)", w);
	next_word(&p, w, sizeof(w));
	if (!parse_hex(w, &end))
		return vm_trace_fail(t, r->line, "map: '%.40s': expected the end (hex)", w);
	next_word(&p, w, sizeof(w));
	if (strlen(w) != 4 || (w[0] != 'r' && w[0] != '-') || (w[1] != 'w' && w[1] != '-') ||
	    (w[2] != 'x' && w[2] != '-') || (w[3] != 'p' && w[3] != 's'))
		return vm_trace_fail(t, r->line, "map: '%.40s': expected permissions as in "
				     "/proc/PID/maps (r-xp)", w);
	*ev = (struct vm_trace_event){ .kind = VM_TEV_MAP, .pid = r->pid };
	ev->map.prot = (w[0] == 'r' ? VM_PROT_READ : 0) | (w[1] == 'w' ? VM_PROT_WRITE : 0) |
		       (w[2] == 'x' ? VM_PROT_EXEC : 0);
	ev->map.flags = w[3] == 'p' ? VM_MAP_PRIVATE : VM_MAP_SHARED;
	next_word(&p, w, sizeof(w));
	if (!parse_hex(w, &off))
		return vm_trace_fail(t, r->line, "map: '%.40s': expected the file offset (hex)", w);
	next_word(&p, w, sizeof(w));
	if (strcmp(w, "[heap]") == 0 || strcmp(w, "[stack]") == 0 || !*w) {
		ev->flags = !*w ? 0 : w[1] == 'h' ? VM_TEV_F_HEAP : VM_TEV_F_STACK;
		ev->map.flags |= VM_MAP_ANONYMOUS;
	} else {
		int rc = take_path(t, r, w);
		if (rc)
			return rc;
		ev->path = r->path;
	}
	ev->map.start = start;
	ev->map.end = end;
	ev->map.offset = off;
	next_word(&p, w, sizeof(w));
	if (*w)
		return vm_trace_fail(t, r->line, "unexpected '%.40s' after the map line", w);
	const char *bad = vm_trace_event_invalid(ev);
	if (bad)
		return vm_trace_fail(t, r->line, "map: %s", bad);
	return 1;
}


/* "= RET [fd N]" after a system call: the text after the '=' word. */
struct result {
	bool given;
	int64_t ret;
	bool has_fd;
	uint64_t fd;
};

static int parse_result(struct vm_trace *t, struct text_rd *r, const char *p, struct result *res)
{
	char w[64];
	const char *q = p;
	next_word(&q, w, sizeof(w));
	if (strcmp(w, "?") == 0) {
		/* "= ? fd N": no result, but a descriptor */
		p = q;
	} else {
		res->given = true;
		struct scn_cursor cur = { .file = t->name, .s = p, .line = r->line };
		scn_skip_space(&cur);
		if (!cur.s[cur.pos] || cur.s[cur.pos] == '#')
			return vm_trace_fail(t, r->line, "missing the result after '='");
		int root, rc = scn_parse_expr(&r->prog, &cur, false, &root, &t->err);
		if (rc || (rc = only_numbers(t, r)) || (rc = eval(t, r, root, &res->ret)))
			return rc;
		p += cur.pos;
	}
	next_word(&p, w, sizeof(w));
	if (strcmp(w, "fd") == 0) {
		next_word(&p, w, sizeof(w));
		if (!parse_dec(w, &res->fd) || res->fd > FD_NONE)
			return vm_trace_fail(t, r->line, "'%.40s': expected a descriptor number", w);
		res->has_fd = true;
		next_word(&p, w, sizeof(w));
	}
	if (*w)
		return vm_trace_fail(t, r->line, "unexpected '%.40s' after the result", w);
	return 0;
}

/* Cut the line at a word that is exactly "=" (outside a comment): what
 * follows is the result.  NULL if there is none. */
static char *cut_result(char *s)
{
	for (char *p = s; *p && *p != '#'; p++)
		if (*p == '=' && (p == s || p[-1] == ' ' || p[-1] == '\t') && word_end(p[1]) && p[1] != '#') {
			*p = '\0';
			return p + 1;
		}
	return NULL;
}

static void sys_event(struct text_rd *r, struct vm_trace_event *ev, int32_t nr, unsigned nargs,
		      const struct result *res)
{
	*ev = (struct vm_trace_event){ .kind = VM_TEV_SYSCALL, .pid = r->pid };
	ev->sys.nr = nr;
	ev->sys.nargs = nargs;
	if (res->given)
		ev->sys.ret = res->ret;
	else
		ev->flags = VM_TEV_F_NORET;
}

static int arg_value(struct vm_trace *t, struct text_rd *r, int slot, int64_t def, uint64_t *out)
{
	int64_t v = def;
	int rc = slot == SCN_NONE ? 0 : eval(t, r, slot, &v);
	*out = (uint64_t)v;
	return rc;
}

/* A memory call in the scenario's words, as an event. */
static int scenario_call(struct vm_trace *t, struct text_rd *r, const struct scn_stmt *st,
			 const struct result *res, struct vm_trace_event *ev)
{
	static const int32_t nr[] = {
		[SCN_MMAP] = VM_NR_MMAP, [SCN_MUNMAP] = VM_NR_MUNMAP, [SCN_MPROTECT] = VM_NR_MPROTECT,
		[SCN_BRK] = VM_NR_BRK, [SCN_MREMAP] = VM_NR_MREMAP, [SCN_MADVISE] = VM_NR_MADVISE,
		[SCN_MSYNC] = VM_NR_MSYNC,
	};
	const int *a = st->arg;
	uint64_t *v = ev->sys.arg;
	int rc = 0;
	sys_event(r, ev, nr[st->verb], 0, res);
	switch (st->verb) {
	case SCN_MMAP:
		ev->sys.nargs = 6;
		if ((rc = arg_value(t, r, a[SCN_A_EXTRA], 0, &v[0])) ||
		    (rc = arg_value(t, r, a[SCN_A_LEN], 0, &v[1])) ||
		    (rc = arg_value(t, r, a[SCN_A_LEN2], 0, &v[5])))
			return rc;
		v[2] = (uint64_t)st->prot;
		v[3] = (uint64_t)st->flags;
		v[4] = res->has_fd ? res->fd : FD_NONE;
		if (st->path != SCN_NONE) {
			if ((rc = take_path(t, r, scn_str(&r->prog, st->path))))
				return rc;
			ev->path = r->path;
		}
		break;
	case SCN_BRK:
		if (st->brk_sign)
			return vm_trace_fail(t, r->line, "brk %c N needs the current break: a trace "
					     "writes brk ADDR", st->brk_sign);
		ev->sys.nargs = 1;
		rc = arg_value(t, r, a[SCN_A_ADDR], 0, &v[0]);
		break;
	case SCN_MREMAP:
		ev->sys.nargs = a[SCN_A_EXTRA] == SCN_NONE ? 4 : 5;
		if ((rc = arg_value(t, r, a[SCN_A_ADDR], 0, &v[0])) ||
		    (rc = arg_value(t, r, a[SCN_A_LEN], 0, &v[1])) ||
		    (rc = arg_value(t, r, a[SCN_A_LEN2], 0, &v[2])) ||
		    (rc = arg_value(t, r, a[SCN_A_EXTRA], 0, &v[4])))
			return rc;
		v[3] = (uint64_t)st->flags;
		break;
	default:      /* munmap ADDR LEN, mprotect/madvise/msync ADDR LEN WORD */
		ev->sys.nargs = st->verb == SCN_MUNMAP ? 2 : 3;
		if ((rc = arg_value(t, r, a[SCN_A_ADDR], 0, &v[0])) ||
		    (rc = arg_value(t, r, a[SCN_A_LEN], 0, &v[1])))
			return rc;
		v[2] = (uint64_t)(st->verb == SCN_MPROTECT ? st->prot : st->flags);
	}
	if (rc)
		return rc;
	if (res->has_fd && st->verb != SCN_MMAP)
		return vm_trace_fail(t, r->line, "only mmap takes 'fd N' after its result");
	/* mmap NAME and mremap ... as NAME hold the result. */
	if (st->name != SCN_NONE && (rc = bind(r, st->name, res->ret, res->given)))
		return rc;
	return 1;
}

/* read|write|exec ADDR [LEN], touch ADDR LEN KIND, exit [CODE]. */
static int scenario_access(struct vm_trace *t, struct text_rd *r, const struct scn_stmt *st,
			   struct vm_trace_event *ev)
{
	int64_t addr = 0, len = 1;
	int rc;
	if (st->verb == SCN_EXIT) {
		uint64_t code;
		if ((rc = arg_value(t, r, st->arg[SCN_A_ADDR], 0, &code)))
			return rc;
		*ev = (struct vm_trace_event){ .kind = VM_TEV_EXIT, .pid = r->pid };
		ev->exit.code = (int32_t)code;
		return 1;
	}
	if (st->verb == SCN_WRITE && st->arg[SCN_A_EXTRA] != SCN_NONE)
		return vm_trace_fail(t, r->line, "a trace carries no data: write ADDR [LEN]");
	if ((rc = eval(t, r, st->arg[SCN_A_ADDR], &addr)) ||
	    (st->arg[SCN_A_LEN] != SCN_NONE && (rc = eval(t, r, st->arg[SCN_A_LEN], &len))))
		return rc;
	if (len <= 0 || (uint64_t)len > ACCESS_MAX)
		return vm_trace_fail(t, r->line, "length %" PRId64 ": must be 1 to 1G", len);
	if ((uint64_t)addr + (uint64_t)len - 1 < (uint64_t)addr)
		return vm_trace_fail(t, r->line, "the access wraps around the address space");
	if (st->verb == SCN_TOUCH) {
		vm_trace_touch(t, ev, r->pid, (unsigned)st->flags, (uint64_t)addr, (uint64_t)len);
		return 1;
	}
	*ev = (struct vm_trace_event){ .kind = VM_TEV_ACCESS, .access = (uint8_t)st->flags,
				       .pid = r->pid };
	ev->acc.addr = (uint64_t)addr;
	ev->acc.size = (uint32_t)len;
	ev->acc.count = 1;
	return 1;
}

/* A line whose first word is a scenario verb, from cur (at the verb). */
static int scenario_line(struct vm_trace *t, struct text_rd *r, struct scn_cursor *cur, int verb,
			 const struct result *res, struct vm_trace_event *ev)
{
	char w[SCN_LINE_MAX + 1];
	struct scn_stmt st = { .line = r->line, .verb = (uint8_t)verb, .proc = 0, .name = SCN_NONE,
			       .arg = { SCN_NONE, SCN_NONE, SCN_NONE, SCN_NONE }, .path = SCN_NONE,
			       .text = SCN_NONE, .left = SCN_NONE, .right = SCN_NONE };
	if (strlen(cur->s) > SCN_LINE_MAX)
		return vm_trace_fail(t, r->line, "a system-call line holds at most %d bytes",
				     SCN_LINE_MAX);
	scn_peek_word(cur, w, sizeof(w), true);
	int rc = scn_parse_verb(&r->prog, cur, &st, &t->err);
	if (rc)
		return rc;
	scn_skip_space(cur);
	if (cur->s[cur->pos] && cur->s[cur->pos] != '#') {
		scn_peek_word(cur, w, 48, false);
		return vm_trace_fail(t, r->line, "unexpected '%s' after the statement", w);
	}
	if ((rc = only_numbers(t, r)))
		return rc;
	bool call = verb != SCN_READ && verb != SCN_WRITE && verb != SCN_EXEC && verb != SCN_TOUCH &&
		    verb != SCN_EXIT;
	if (!call && res->given)
		return vm_trace_fail(t, r->line, "only system calls have a result (= RET)");
	rc = call ? scenario_call(t, r, &st, res, ev) : scenario_access(t, r, &st, ev);
	forget_underscore(r);
	return rc;
}

/* syscall NR [ARG...] [file PATH]: any call, in numbers. */
static int generic_line(struct vm_trace *t, struct text_rd *r, struct scn_cursor *cur,
			const struct result *res, struct vm_trace_event *ev)
{
	char w[SCN_LINE_MAX + 1];
	uint64_t nr;
	scn_peek_word(cur, w, sizeof(w), true);
	scn_peek_word(cur, w, sizeof(w), true);
	if (!parse_dec(w, &nr) || nr > INT32_MAX)
		return vm_trace_fail(t, r->line, "syscall: '%.40s': expected the call's number", w);
	sys_event(r, ev, (int32_t)nr, 0, res);
	for (;;) {
		scn_peek_word(cur, w, sizeof(w), false);
		if (!*w)
			break;
		if (strcmp(w, "file") == 0) {
			scn_peek_word(cur, w, sizeof(w), true);
			scn_peek_word(cur, w, sizeof(w), true);
			int rc = take_path(t, r, w);
			if (rc)
				return rc;
			ev->path = r->path;
			scn_peek_word(cur, w, sizeof(w), false);
			if (*w)
				return vm_trace_fail(t, r->line, "unexpected '%.40s' after the path", w);
			break;
		}
		if (ev->sys.nargs == VM_TEV_ARGS)
			return vm_trace_fail(t, r->line, "syscall: more than %d arguments", VM_TEV_ARGS);
		int root;
		int64_t v;
		int rc = scn_parse_expr(&r->prog, cur, false, &root, &t->err);
		if (rc || (rc = only_numbers(t, r)) || (rc = eval(t, r, root, &v)))
			return rc;
		ev->sys.arg[ev->sys.nargs++] = (uint64_t)v;
	}
	return res->has_fd ? vm_trace_fail(t, r->line, "syscall lines give the descriptor as an "
					   "argument, not with fd N") : 1;
}

/* let NAME EXPR */
static int let_line(struct vm_trace *t, struct text_rd *r, struct scn_cursor *cur)
{
	char w[SCN_LINE_MAX + 1];
	int root, name;
	int64_t v;
	scn_peek_word(cur, w, sizeof(w), true);
	scn_peek_word(cur, w, sizeof(w), true);
	int rc = scn_operand(&r->prog, cur, "the value after the name", &root, &t->err);
	if (rc || (rc = only_numbers(t, r)) || (rc = eval(t, r, root, &v)) ||
	    (rc = scn_bind_name(&r->prog, cur, w, SCN_NONE, &t->err, &name)))
		return rc;
	forget_underscore(r);
	return bind(r, name, v, true);
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
	next_word(&p, w, sizeof(w));
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
		next_word(&p, arg, sizeof(arg));
		next_word(&p, w, sizeof(w));
		if (*w)
			return vm_trace_fail(t, r->line, "unexpected '%.40s'", w);
		*ev = (struct vm_trace_event){ .kind = fork ? VM_TEV_FORK : VM_TEV_EXEC, .pid = r->pid };
		if (!fork) {
			int rc = take_path(t, r, arg);
			ev->path = r->path;
			return rc ? rc : 1;
		}
		if (!parse_dec(arg, &child) || child == 0 || child > INT32_MAX)
			return vm_trace_fail(t, r->line, "fork: '%.40s': expected the child's pid", arg);
		ev->fork.child = (int32_t)child;
		return 1;
	}
	/* The rest is parsed by the scenario's code. */
	struct result res = { 0 };
	char *right = cut_result(s);
	r->prog.nex = 0;
	r->prog.pool_len = 0;
	struct scn_cursor cur = { .file = t->name, .s = s, .line = r->line };
	if (right) {
		int rc = parse_result(t, r, right, &res);
		if (rc)
			return rc;
	}
	if (strcmp(w, "syscall") == 0)
		return generic_line(t, r, &cur, &res, ev);
	if (strcmp(w, "let") == 0)
		return res.given ? vm_trace_fail(t, r->line, "let takes no result") : let_line(t, r, &cur);
	int verb = scn_verb_find(w);
	if (verb >= 0)
		return scenario_line(t, r, &cur, verb, &res, ev);
	return vm_trace_fail(t, r->line, "'%.40s': expected R, W, X, M, a system call (mmap, munmap, "
			     "...), syscall, map, fork, execve, exit or let", w);
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
