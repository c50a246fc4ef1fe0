/*
 * Scenario expressions: lexing and parsing into flat nodes, evaluation, the
 * named constants (errno values, signals, si_codes) and how a failed
 * `expect` prints a value.
 *
 *   cmp     := sum CMPOP sum             (expect only)
 *   sum     := term (('+' | '-') term)*
 *   term    := unary (('*' | '/' | '%') unary)*     (division truncates; by 0 is an error)
 *   unary   := '-' unary | '+' unary | primary
 *   primary := NUMBER | SIZE | NAME | COUNTER | CONSTANT | PROC '.' FIGURE | '(' sum ')'
 *
 * An expression ends at the first token that cannot continue it, so that
 * operands need no separators (`A read p+4K 8`).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/stats.h>

#include "base/compiler.h"
#include "base/error.h"
#include "kernel/uapi.h"
#include "trace/scenario.h"

static const struct {
	const char *name, *help;
} fields[SCN_F_COUNT] = {
#define SCN_FIELD_ROW(id, name, help) { name, help },
	SCN_FIELDS(SCN_FIELD_ROW)
#undef SCN_FIELD_ROW
};

const char *scn_field_name(unsigned f)
{
	return f < SCN_F_COUNT ? fields[f].name : NULL;
}

const char *scn_field_help(unsigned f)
{
	return f < SCN_F_COUNT ? fields[f].help : NULL;
}

int scn_field_find(const char *name)
{
	for (unsigned f = 0; f < SCN_F_COUNT; f++)
		if (strcmp(fields[f].name, name) == 0)
			return (int)f;
	return -1;
}

/* The errno values the memory calls return; values from the host's
 * <errno.h>, which the model's calls use too. */
static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "ESRCH", ESRCH }, { "EINTR", EINTR },
	{ "EIO", EIO }, { "ENXIO", ENXIO }, { "E2BIG", E2BIG }, { "ENOEXEC", ENOEXEC },
	{ "EBADF", EBADF }, { "ECHILD", ECHILD }, { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM }, { "EACCES", EACCES },
	{ "EFAULT", EFAULT }, { "EBUSY", EBUSY }, { "EEXIST", EEXIST }, { "ENODEV", ENODEV },
	{ "ENOTDIR", ENOTDIR }, { "EISDIR", EISDIR }, { "EINVAL", EINVAL }, { "ENFILE", ENFILE },
	{ "EMFILE", EMFILE }, { "ETXTBSY", ETXTBSY }, { "EFBIG", EFBIG }, { "ENOSPC", ENOSPC },
	{ "EROFS", EROFS }, { "ERANGE", ERANGE }, { "ENOSYS", ENOSYS }, { "EOVERFLOW", EOVERFLOW },
	{ "EOPNOTSUPP", EOPNOTSUPP }, { "EHWPOISON", EHWPOISON }, { "ELOOP", ELOOP },
	{ "ENAMETOOLONG", ENAMETOOLONG }, { "ELIBBAD", ELIBBAD },
};

static const struct {
	const char *name;
	int value;
	enum scn_hint hint;
} others[] = {
	{ "SIGBUS", VM_SIGBUS, SCN_H_SIGNAL },
	{ "SIGKILL", VM_SIGKILL, SCN_H_SIGNAL },
	{ "SIGSEGV", VM_SIGSEGV, SCN_H_SIGNAL },
	{ "SEGV_MAPERR", VM_SEGV_MAPERR, SCN_H_SIGCODE },
	{ "SEGV_ACCERR", VM_SEGV_ACCERR, SCN_H_SIGCODE },
	{ "SEGV_PKUERR", VM_SEGV_PKUERR, SCN_H_SIGCODE },
	{ "BUS_ADRERR", VM_BUS_ADRERR, SCN_H_SIGCODE },
};

bool scn_constant(const char *id, int64_t *v, enum scn_hint *hint)
{
	for (size_t i = 0; i < VM_ARRAY_SIZE(errnos); i++)
		if (strcmp(errnos[i].name, id) == 0) {
			*v = errnos[i].value;
			*hint = SCN_H_ERRNO;
			return true;
		}
	for (size_t i = 0; i < VM_ARRAY_SIZE(others); i++)
		if (strcmp(others[i].name, id) == 0) {
			*v = others[i].value;
			*hint = others[i].hint;
			return true;
		}
	return false;
}

const char *scn_errno_name(int64_t e)
{
	for (size_t i = 0; i < VM_ARRAY_SIZE(errnos); i++)
		if (errnos[i].value == e)
			return errnos[i].name;
	return NULL;
}

const char *scn_signal_name(int64_t s)
{
	for (size_t i = 0; i < VM_ARRAY_SIZE(others); i++)
		if (others[i].hint == SCN_H_SIGNAL && others[i].value == s)
			return others[i].name;
	return NULL;
}

const char *scn_sigcode_name(int64_t code)
{
	/* SEGV_ACCERR and BUS_ADRERR share the value 2. */
	switch (code) {
	case VM_SEGV_MAPERR: return "SEGV_MAPERR";
	case VM_SEGV_ACCERR: return "SEGV_ACCERR or BUS_ADRERR";
	case VM_SEGV_PKUERR: return "SEGV_PKUERR";
	}
	return NULL;
}

void scn_format_value(int64_t v, enum scn_hint hint, char *buf, size_t len)
{
	const char *name = NULL;
	bool neg = false;
	if (v < 0 && v > -4096 && (name = scn_errno_name(-v)) != NULL)
		neg = true;
	else if (hint == SCN_H_SIGNAL)
		name = scn_signal_name(v);
	else if (hint == SCN_H_SIGCODE)
		name = scn_sigcode_name(v);
	if (name) {
		snprintf(buf, len, "%" PRId64 " (%s%s)", v, neg ? "-" : "", name);
		return;
	}
	uint64_t u = (uint64_t)v;
	char size[24] = "";
	/* A size form only where it reads better: "12K", not "133167270M". */
	if (v >= 1024 && (u & 1023) == 0) {
		vmlab_format_size(u, size, sizeof(size));
		if (strlen(size) > 5)
			size[0] = '\0';
	}
	if (v < 0 || u < 0x10000)
		snprintf(buf, len, "%" PRId64 "%s%s%s", v, *size ? " (" : "", size, *size ? ")" : "");
	else
		snprintf(buf, len, "%" PRId64 " (%s%s0x%" PRIx64 ")", v, size, *size ? ", " : "", u);
}

/* Lexing. */

enum tok { T_END, T_NUM, T_IDENT, T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_LPAREN, T_RPAREN, T_CMP, T_ASSIGN,
	   T_OTHER };

struct token {
	enum tok t;
	size_t start, end;     /* [start, end) in the line */
	int cmp;               /* T_CMP: enum scn_cmp */
};

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* The token at pos, without consuming it. */
static struct token peek(const struct scn_cursor *cur)
{
	const char *s = cur->s;
	size_t p = cur->pos;
	while (s[p] == ' ' || s[p] == '\t')
		p++;
	struct token t = { T_OTHER, p, p + 1, 0 };
	char c = s[p];
	if (c == '\0' || c == '#') {
		t.t = T_END;
		t.end = p;
	} else if (isdigit((unsigned char)c)) {
		t.t = T_NUM;
		while (ident_char(s[t.end]))
			t.end++;
	} else if (isalpha((unsigned char)c) || c == '_') {
		t.t = T_IDENT;
		while (ident_char(s[t.end]))
			t.end++;
		if (s[t.end] == '.' && (isalpha((unsigned char)s[t.end + 1]) || s[t.end + 1] == '_'))
			for (t.end++; ident_char(s[t.end]); t.end++)
				;
	} else if (c == '+') {
		t.t = T_PLUS;
	} else if (c == '-') {
		t.t = T_MINUS;
	} else if (c == '*') {
		t.t = T_STAR;
	} else if (c == '/') {
		t.t = T_SLASH;
	} else if (c == '%') {
		t.t = T_PERCENT;
	} else if (c == '(') {
		t.t = T_LPAREN;
	} else if (c == ')') {
		t.t = T_RPAREN;
	} else if (c == '=' || c == '!' || c == '<' || c == '>') {
		bool eq = s[p + 1] == '=';
		t.t = T_CMP;
		t.end = p + 1 + eq;
		if (c == '=')
			t.cmp = SCN_EQ, t.t = eq ? T_CMP : T_ASSIGN;
		else if (c == '!')
			t.cmp = SCN_NE, t.t = eq ? T_CMP : T_OTHER;
		else if (c == '<')
			t.cmp = eq ? SCN_LE : SCN_LT;
		else
			t.cmp = eq ? SCN_GE : SCN_GT;
	}
	return t;
}

static int add_node(struct scn_prog *prog, struct scn_expr e, int *out)
{
	struct scn_expr *n = scn_grow(prog->ex, &prog->ex_cap, prog->nex, sizeof(*n));
	if (!n)
		return -ENOMEM;
	prog->ex = n;
	*out = (int)prog->nex;
	prog->ex[prog->nex++] = e;
	return 0;
}

#define BAD(cur, err, ...) vm_error_at(err, (cur)->file, (cur)->line, __VA_ARGS__)

/* "the word at t" for messages, cut to fit. */
static const char *tok_text(const struct scn_cursor *cur, const struct token *t, char *buf,
			    size_t len)
{
	if (t->t == T_END)
		return "end of line";
	size_t n = VM_MIN(t->end - t->start, len - 1);
	memcpy(buf, cur->s + t->start, n);
	buf[n] = '\0';
	return buf;
}

static int parse_sum(struct scn_prog *prog, struct scn_cursor *cur, int *root, struct vm_error *err);

static int parse_number(struct scn_prog *prog, struct scn_cursor *cur, const struct token *t,
			int *root, struct vm_error *err)
{
	char text[64];
	uint64_t v;
	tok_text(cur, t, text, sizeof(text));
	int rc = t->end - t->start < sizeof(text) ? vmlab_parse_size(text, &v) : -ERANGE;
	if (rc == -ERANGE)
		return BAD(cur, err, "'%s' does not fit in 64 bits", text);
	if (rc)
		return BAD(cur, err, "'%s' is not a number (decimal, 0x hex, or a size such as 64K)",
			   text);
	cur->pos = t->end;
	return add_node(prog, (struct scn_expr){ .kind = SCN_E_NUM, .v = (int64_t)v }, root);
}

static int parse_field(struct scn_prog *prog, struct scn_cursor *cur, const char *id, int *root,
		       struct vm_error *err)
{
	const char *dot = strchr(id, '.');
	char proc[SCN_IDENT_MAX + 1];
	size_t n = (size_t)(dot - id);
	if (n > SCN_IDENT_MAX)
		return BAD(cur, err, "'%.*s...': name too long", SCN_IDENT_MAX, id);
	memcpy(proc, id, n);
	proc[n] = '\0';
	int ni = scn_name_find(prog, proc);
	if (ni < 0 || prog->names[ni].proc == SCN_NONE)
		return BAD(cur, err, "'%s': no such process (declare it with `process NAME`)", proc);
	int f = scn_field_find(dot + 1);
	if (f < 0)
		return BAD(cur, err, "'%s': no such process figure (rss, vsz, last, signal, "
			   "minor_faults, ... docs/scenarios.md lists them)", id);
	struct scn_expr e = { .kind = SCN_E_FIELD, .a = prog->names[ni].proc, .b = f };
	e.hint = f == SCN_F_LAST ? SCN_H_ERRNO : f == SCN_F_SIGNAL ? SCN_H_SIGNAL
		 : f == SCN_F_SIGCODE ? SCN_H_SIGCODE : SCN_H_PLAIN;
	return add_node(prog, e, root);
}

static int parse_ident(struct scn_prog *prog, struct scn_cursor *cur, const struct token *t,
		       int *root, struct vm_error *err)
{
	char id[2 * SCN_IDENT_MAX + 2];
	if (t->end - t->start >= sizeof(id)) {
		char shown[40];
		tok_text(cur, t, shown, sizeof(shown));
		return BAD(cur, err, "'%s...': name too long", shown);
	}
	tok_text(cur, t, id, sizeof(id));
	cur->pos = t->end;
	if (strchr(id, '.'))
		return parse_field(prog, cur, id, root, err);
	int ni = scn_name_find(prog, id);
	if (ni >= 0 && prog->names[ni].proc != SCN_NONE)
		return BAD(cur, err, "'%s' is a process, not a value (%s.last, %s.rss, ...)", id, id, id);
	if (ni >= 0)
		return add_node(prog, (struct scn_expr){ .kind = SCN_E_NAME, .a = ni }, root);
	int c = vmlab_counter_find(id);
	if (c >= 0)
		return add_node(prog, (struct scn_expr){ .kind = SCN_E_COUNTER, .a = c }, root);
	int64_t v;
	enum scn_hint hint;
	if (scn_constant(id, &v, &hint))
		return add_node(prog, (struct scn_expr){ .kind = SCN_E_NUM, .v = v, .hint = (uint8_t)hint },
				root);
	return BAD(cur, err, "unknown name '%s' (not bound by mmap or let, not a counter)", id);
}

static int parse_unary(struct scn_prog *prog, struct scn_cursor *cur, int *root,
		       struct vm_error *err)
{
	struct token t = peek(cur);
	char buf[40];
	int rc, sub;
	if (cur->depth >= SCN_DEPTH_MAX)
		return BAD(cur, err, "expression nested deeper than %d levels", SCN_DEPTH_MAX);
	switch (t.t) {
	case T_NUM:
		return parse_number(prog, cur, &t, root, err);
	case T_IDENT:
		return parse_ident(prog, cur, &t, root, err);
	case T_PLUS:
	case T_MINUS:
		cur->pos = t.end;
		cur->depth++;
		rc = parse_unary(prog, cur, &sub, err);
		cur->depth--;
		if (rc || t.t == T_PLUS) {
			*root = sub;
			return rc;
		}
		return add_node(prog, (struct scn_expr){ .kind = SCN_E_NEG, .a = sub,
							 .hint = prog->ex[sub].hint }, root);
	case T_LPAREN:
		cur->pos = t.end;
		cur->depth++;
		rc = parse_sum(prog, cur, root, err);
		cur->depth--;
		if (rc)
			return rc;
		t = peek(cur);
		if (t.t != T_RPAREN)
			return BAD(cur, err, "expected ')' before %s", tok_text(cur, &t, buf, sizeof(buf)));
		cur->pos = t.end;
		return 0;
	default:
		return BAD(cur, err, "expected a value, found %s", tok_text(cur, &t, buf, sizeof(buf)));
	}
}

static int parse_binary(struct scn_prog *prog, struct scn_cursor *cur, int *root,
			struct vm_error *err, bool sum)
{
	int rc = sum ? parse_binary(prog, cur, root, err, false) : parse_unary(prog, cur, root, err);
	while (rc == 0) {
		struct token t = peek(cur);
		enum scn_ekind k;
		if (sum && t.t == T_PLUS)
			k = SCN_E_ADD;
		else if (sum && t.t == T_MINUS)
			k = SCN_E_SUB;
		else if (!sum && t.t == T_STAR)
			k = SCN_E_MUL;
		else if (!sum && t.t == T_SLASH)
			k = SCN_E_DIV;
		else if (!sum && t.t == T_PERCENT)
			k = SCN_E_MOD;
		else
			break;
		int rhs;
		cur->pos = t.end;
		rc = sum ? parse_binary(prog, cur, &rhs, err, false) : parse_unary(prog, cur, &rhs, err);
		if (rc == 0)
			rc = add_node(prog, (struct scn_expr){ .kind = (uint8_t)k, .a = *root, .b = rhs },
				      root);
	}
	return rc;
}

static int parse_sum(struct scn_prog *prog, struct scn_cursor *cur, int *root, struct vm_error *err)
{
	return parse_binary(prog, cur, root, err, true);
}

/* An expression ends at a space, a comment or the end of the line:
 * `p(8)` is an error rather than two operands. */
static int at_boundary(const struct scn_cursor *cur, struct vm_error *err)
{
	char c = cur->s[cur->pos];
	if (c == '\0' || c == ' ' || c == '\t' || c == '#')
		return 0;
	if (isprint((unsigned char)c))
		return BAD(cur, err, "unexpected '%c' after an operand (operands are separated by "
			   "spaces)", c);
	return BAD(cur, err, "unexpected byte 0x%02x after an operand", (unsigned char)c);
}

int scn_parse_expr(struct scn_prog *prog, struct scn_cursor *cur, bool cmp, int *root,
		   struct vm_error *err)
{
	int rc = parse_sum(prog, cur, root, err);
	if (rc)
		return rc;
	struct token t = peek(cur);
	if (t.t == T_ASSIGN)
		return BAD(cur, err, "'=' is not a comparison: write '=='");
	if (!cmp) {
		if (t.t == T_CMP)
			return BAD(cur, err, "a comparison belongs in an expect line");
		return at_boundary(cur, err);
	}
	if (t.t != T_CMP) {
		char buf[40];
		return BAD(cur, err, "expect needs a comparison (==, !=, <, <=, >, >=) before %s",
			   tok_text(cur, &t, buf, sizeof(buf)));
	}
	cur->pos = t.end;
	cur->cmp_start = t.start;
	cur->cmp_end = t.end;
	int rhs;
	rc = parse_sum(prog, cur, &rhs, err);
	if (rc)
		return rc;
	if (peek(cur).t == T_CMP)
		return BAD(cur, err, "one comparison per expect");
	if ((rc = at_boundary(cur, err)) != 0)
		return rc;
	return add_node(prog, (struct scn_expr){ .kind = SCN_E_CMP, .op = (uint8_t)t.cmp, .a = *root,
						 .b = rhs }, root);
}

static int64_t eval(const struct scn_prog *prog, int root, const struct scn_env *env, bool *div0)
{
	const struct scn_expr *e = &prog->ex[root];
	switch ((enum scn_ekind)e->kind) {
	case SCN_E_NUM:
		return e->v;
	case SCN_E_NAME:
		return env->name(env->ctx, e->a);
	case SCN_E_COUNTER:
		return (int64_t)env->counter(env->ctx, (unsigned)e->a);
	case SCN_E_FIELD:
		return env->field(env->ctx, e->a, (unsigned)e->b);
	case SCN_E_NEG:
		return (int64_t)(0 - (uint64_t)eval(prog, e->a, env, div0));
	default:
		break;
	}
	int64_t x = eval(prog, e->a, env, div0), y = eval(prog, e->b, env, div0);
	uint64_t a = (uint64_t)x, b = (uint64_t)y;
	switch ((enum scn_ekind)e->kind) {
	case SCN_E_ADD: return (int64_t)(a + b);
	case SCN_E_SUB: return (int64_t)(a - b);
	case SCN_E_MUL: return (int64_t)(a * b);
	case SCN_E_DIV:
	case SCN_E_MOD:
		if (y == 0) {
			*div0 = true;
			return 0;
		}
		if (y == -1)      /* INT64_MIN / -1 overflows in C: wrap instead */
			return e->kind == SCN_E_DIV ? (int64_t)(0 - a) : 0;
		return e->kind == SCN_E_DIV ? x / y : x % y;
	case SCN_E_CMP: return scn_compare((enum scn_cmp)e->op, x, y);
	default: return 0;
	}
}

bool scn_compare(enum scn_cmp op, int64_t x, int64_t y)
{
	switch (op) {
	case SCN_EQ: return x == y;
	case SCN_NE: return x != y;
	case SCN_LT: return x < y;
	case SCN_LE: return x <= y;
	case SCN_GT: return x > y;
	case SCN_GE: return x >= y;
	}
	return false;
}

int scn_eval(const struct scn_prog *prog, int root, const struct scn_env *env, int64_t *out)
{
	bool div0 = false;
	*out = eval(prog, root, env, &div0);
	return div0 ? -EDOM : 0;
}
