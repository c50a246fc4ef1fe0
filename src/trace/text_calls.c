/*
 * Text-trace lines in the scenario language's words (docs/formats.md):
 * the memory calls and accesses parsed by scenario_verbs.c itself
 * (scn_parse_verb), `syscall NR ARG...`, `let`, and the `= RESULT [fd N]`
 * that follows a call.  Expressions are the scenario's, evaluated at once:
 * names bound by mmap and mremap ... as hold the results the trace gives.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/uapi.h"
#include "trace/scenario.h"
#include "trace/text.h"
#include "trace/trace.h"

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
	vm_text_word(&q, w, sizeof(w));
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
	vm_text_word(&p, w, sizeof(w));
	if (strcmp(w, "fd") == 0) {
		vm_text_word(&p, w, sizeof(w));
		if (!vm_text_dec(w, &res->fd) || res->fd > FD_NONE)
			return vm_trace_fail(t, r->line, "'%.40s': expected a descriptor number", w);
		res->has_fd = true;
		vm_text_word(&p, w, sizeof(w));
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
		if (*p == '=' && (p == s || p[-1] == ' ' || p[-1] == '\t') && vm_text_word_end(p[1]) &&
		    p[1] != '#') {
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
			if ((rc = vm_text_path(t, r, scn_str(&r->prog, st->path))))
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
	if (!vm_text_dec(w, &nr) || nr > INT32_MAX)
		return vm_trace_fail(t, r->line, "syscall: '%.40s': expected the call's number", w);
	sys_event(r, ev, (int32_t)nr, 0, res);
	for (;;) {
		scn_peek_word(cur, w, sizeof(w), false);
		if (!*w)
			break;
		if (strcmp(w, "file") == 0) {
			scn_peek_word(cur, w, sizeof(w), true);
			scn_peek_word(cur, w, sizeof(w), true);
			int rc = vm_text_path(t, r, w);
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

int vm_text_call_line(struct vm_trace *t, struct text_rd *r, char *s, const char *w,
		      struct vm_trace_event *ev)
{
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
