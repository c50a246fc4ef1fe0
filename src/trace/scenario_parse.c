/*
 * Scenario parsing: lines into statements (docs/scenarios.md).  The whole
 * text is parsed before anything runs, so that a syntax error anywhere
 * stops the scenario before its first statement.
 *
 * A line holds zero or more statements.  A statement starts with a keyword
 * (set, process, let, show, expect) or with a process name followed by a
 * verb; it ends where its last operand ends.  An optional operand is present
 * unless the next word starts a statement (a keyword or a process name) or
 * the line ends.  `#` starts a comment anywhere.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/scenario.h>
#include <vmlab/stats.h>

#include "base/compiler.h"
#include "base/error.h"
#include "trace/scenario.h"

#define BAD(cur, err, ...) vm_error_at(err, (cur)->file, (cur)->line, __VA_ARGS__)

static const char *const keywords[] = { "set", "process", "let", "show", "expect", "file", NULL };
/* Words with a meaning inside statements, reserved so that no name hides them
 * ("file" is both: a statement, and mmap's clause). */
static const char *const clause_words[] = { "stats", "at", "as", "cpu", NULL };

static bool in_list(const char *const *list, const char *w)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(list[i], w) == 0)
			return true;
	return false;
}

bool scn_reserved(const char *id)
{
	int64_t v;
	enum scn_hint h;
	return in_list(keywords, id) || in_list(clause_words, id) || scn_verb_find(id) >= 0 ||
	       vmlab_counter_find(id) >= 0 || scn_constant(id, &v, &h);
}

int scn_name_find(const struct scn_prog *prog, const char *id)
{
	for (size_t i = 0; i < prog->nnames; i++)
		if (strcmp(prog->names[i].id, id) == 0)
			return (int)i;
	return -1;
}

void *scn_grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *q = realloc(p, ncap * size);
	if (q)
		*cap = ncap;
	return q;
}

int scn_pool_add(struct scn_prog *prog, const char *s, size_t len, int *off)
{
	while (prog->pool_len + len + 1 > prog->pool_cap) {
		size_t cap = prog->pool_cap ? prog->pool_cap * 2 : 256;
		char *p = realloc(prog->pool, cap);
		if (!p)
			return -ENOMEM;
		prog->pool = p;
		prog->pool_cap = cap;
	}
	*off = (int)prog->pool_len;
	memcpy(prog->pool + prog->pool_len, s, len);
	prog->pool[prog->pool_len + len] = '\0';
	prog->pool_len += len + 1;
	return 0;
}

/* Words. */

void scn_skip_space(struct scn_cursor *cur)
{
	while (cur->s[cur->pos] == ' ' || cur->s[cur->pos] == '\t')
		cur->pos++;
}

static bool word_end(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '#';
}

/* The next whitespace-delimited word into buf (empty at the end of the
 * line or a comment), consuming it when take. */
void scn_peek_word(struct scn_cursor *cur, char *buf, size_t len, bool take)
{
	scn_skip_space(cur);
	size_t n = 0, p = cur->pos;
	while (!word_end(cur->s[p])) {
		if (n + 1 < len)
			buf[n++] = cur->s[p];
		p++;
	}
	buf[n] = '\0';
	if (take)
		cur->pos = p;
}

int scn_proc_find(const struct scn_prog *prog, const char *w)
{
	int i = scn_name_find(prog, w);
	return i >= 0 ? prog->names[i].proc : -1;
}

static bool is_proc(const struct scn_prog *prog, const char *w)
{
	return scn_proc_find(prog, w) >= 0;
}

/* Does the next word start a statement (or is the line over)? */
bool scn_at_stmt_start(struct scn_cursor *cur, const struct scn_prog *prog)
{
	char w[SCN_LINE_MAX + 1];
	scn_peek_word(cur, w, sizeof(w), false);
	return !*w || in_list(keywords, w) || is_proc(prog, w);
}

static bool valid_ident(const char *w)
{
	if (!isalpha((unsigned char)w[0]) && w[0] != '_')
		return false;
	for (const char *c = w; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return false;
	return true;
}

/* A new name (for a process when proc != SCN_NONE): checked and added. */
int scn_bind_name(struct scn_prog *prog, struct scn_cursor *cur, const char *w, int proc,
		     struct vm_error *err, int *out)
{
	if (!*w)
		return BAD(cur, err, "missing name");
	if (!valid_ident(w))
		return BAD(cur, err, "'%.40s' is not a name (a letter or _, then letters, digits, _)", w);
	if (strlen(w) > SCN_IDENT_MAX)
		return BAD(cur, err, "'%.40s': name longer than %d characters", w, SCN_IDENT_MAX);
	if (scn_reserved(w))
		return BAD(cur, err, "'%s' is a reserved word (keyword, verb, counter or constant)", w);
	int old = scn_name_find(prog, w);
	if (old >= 0)
		return BAD(cur, err, "'%s' is already defined (as a %s)", w,
			   prog->names[old].proc != SCN_NONE ? "process" : "name");
	if (prog->nnames >= SCN_NAMES_MAX)
		return BAD(cur, err, "more than %d names", SCN_NAMES_MAX);
	struct scn_name *n = scn_grow(prog->names, &prog->names_cap, prog->nnames, sizeof(*n));
	if (!n)
		return -ENOMEM;
	prog->names = n;
	*out = (int)prog->nnames;
	memset(&n[*out], 0, sizeof(n[*out]));
	strcpy(n[*out].id, w);
	n[*out].proc = proc;
	prog->nnames++;
	return 0;
}

/* A required expression operand. */
int scn_operand(struct scn_prog *prog, struct scn_cursor *cur, const char *what, int *slot,
		   struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	scn_peek_word(cur, w, sizeof(w), false);
	if (!*w)
		return BAD(cur, err, "missing %s", what);
	return scn_parse_expr(prog, cur, false, slot, err);
}

/* An optional one: present unless a statement starts next. */
int scn_opt_operand(struct scn_prog *prog, struct scn_cursor *cur, int *slot,
		       struct vm_error *err)
{
	if (scn_at_stmt_start(cur, prog))
		return 0;
	return scn_parse_expr(prog, cur, false, slot, err);
}

/* The source text of [from, to) trimmed, into the pool. */
static int keep_text(struct scn_prog *prog, const struct scn_cursor *cur, size_t from, size_t to,
		     int *off)
{
	while (from < to && (cur->s[from] == ' ' || cur->s[from] == '\t'))
		from++;
	while (to > from && (cur->s[to - 1] == ' ' || cur->s[to - 1] == '\t'))
		to--;
	return scn_pool_add(prog, cur->s + from, to - from, off);
}

static int parse_expect(struct scn_prog *prog, struct scn_cursor *cur, struct scn_stmt *st,
			struct vm_error *err)
{
	scn_skip_space(cur);
	size_t start = cur->pos;
	if (!*cur->s || cur->s[start] == '#' || cur->s[start] == '\0')
		return BAD(cur, err, "expect what? (expect EXPR == EXPR)");
	int rc = scn_parse_expr(prog, cur, true, &st->arg[SCN_A_ADDR], err);
	if (rc == 0)
		rc = keep_text(prog, cur, start, cur->pos, &st->text);
	if (rc == 0)
		rc = keep_text(prog, cur, start, cur->cmp_start, &st->left);
	if (rc == 0)
		rc = keep_text(prog, cur, cur->cmp_end, cur->pos, &st->right);
	prog->nexpects++;
	return rc;
}

static int parse_show(struct scn_prog *prog, struct scn_cursor *cur, struct scn_stmt *st,
		      struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	scn_peek_word(cur, w, sizeof(w), false);
	if (!*w)
		return BAD(cur, err, "show what? (stats, swaps, P maps, P smaps, P status, P pagetable ADDR, "
			   "or an expression)");
	if (strcmp(w, "stats") == 0) {
		scn_peek_word(cur, w, sizeof(w), true);
		st->verb = SCN_SHOW_STATS;
		return 0;
	}
	if (strcmp(w, "swaps") == 0) {
		scn_peek_word(cur, w, sizeof(w), true);
		st->verb = SCN_SHOW_SWAPS;
		return 0;
	}
	int ni = scn_name_find(prog, w);
	if (ni >= 0 && prog->names[ni].proc != SCN_NONE) {
		scn_peek_word(cur, w, sizeof(w), true);
		st->proc = prog->names[ni].proc;
		int view;
		int rc = scn_parse_view(cur, &view, err);
		if (rc)
			return rc;
		st->verb = (uint8_t)view;
		if (view == SCN_SHOW_PT)
			rc = scn_operand(prog, cur, "the address", &st->arg[SCN_A_ADDR], err);
		return rc;
	}
	scn_skip_space(cur);
	size_t start = cur->pos;
	st->verb = SCN_SHOW_EXPR;
	int rc = scn_parse_expr(prog, cur, false, &st->arg[SCN_A_ADDR], err);
	return rc ? rc : keep_text(prog, cur, start, cur->pos, &st->text);
}

/* `set key=value ...`: every word with '=' until a statement starts. */
static int parse_set(struct scn_prog *prog, struct scn_cursor *cur, struct vm_settings *scratch,
		     const struct vm_settings *base, struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	int n = 0;
	while (!scn_at_stmt_start(cur, prog)) {
		scn_peek_word(cur, w, sizeof(w), true);
		char *eq = strchr(w, '=');
		if (!eq || eq == w)
			return BAD(cur, err, "'%.40s': expected key=value", w);
		*eq = '\0';
		struct vm_error e;
		/* Validate every line; --set (explicit in base) wins over the file. */
		if (vmlab_settings_set(scratch, w, eq + 1, &e))
			return BAD(cur, err, "%s", e.msg);
		if (!base || !vmlab_settings_is_set(base, w))
			vmlab_settings_set(prog->settings, w, eq + 1, NULL);
		n++;
	}
	if (n == 0)
		return BAD(cur, err, "set needs key=value (vmlab config lists the keys)");
	return 0;
}

int scn_add_process(struct scn_prog *prog, struct scn_cursor *cur, const char *w, int *proc,
		    struct vm_error *err)
{
	if (prog->nprocs >= SCN_PROCS_MAX)
		return BAD(cur, err, "more than %d processes", SCN_PROCS_MAX);
	struct scn_proc *p = scn_grow(prog->procs, &prog->procs_cap, prog->nprocs, sizeof(*p));
	if (!p)
		return -ENOMEM;
	prog->procs = p;
	*proc = (int)prog->nprocs;
	int rc = scn_bind_name(prog, cur, w, *proc, err, &p[*proc].name);
	if (rc == 0) {
		p[*proc].exit_line = 0;
		prog->nprocs++;
	}
	return rc;
}

static int add_process(struct scn_prog *prog, struct scn_cursor *cur, struct scn_stmt *st,
		       struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	scn_peek_word(cur, w, sizeof(w), true);
	return scn_add_process(prog, cur, w, &st->proc, err);
}

/* `P verb ...` with P a process name (already taken). */
static int parse_proc_stmt(struct scn_prog *prog, struct scn_cursor *cur, const char *pname,
			   struct scn_stmt *st, struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	st->proc = prog->names[scn_name_find(prog, pname)].proc;
	scn_peek_word(cur, w, sizeof(w), true);
	int v = scn_verb_find(w);
	if (v < 0)
		return BAD(cur, err, "%s: '%.40s' is not a verb (mmap, munmap, mprotect, brk, mremap, "
			   "madvise, msync, read, write, exec, touch, exit, fork, vfork, thread, wait)",
			   pname, w);
	struct scn_proc *p = &prog->procs[st->proc];
	if (p->exit_line)
		return BAD(cur, err, "%s exited at line %ld; only expect and show may name it now",
			   pname, p->exit_line);
	st->verb = (uint8_t)v;
	if (st->verb == SCN_EXIT)
		p->exit_line = cur->line;
	return scn_parse_verb(prog, cur, st, err);
}

static int parse_stmt(struct scn_prog *prog, struct scn_cursor *cur, struct vm_settings *scratch,
		      const struct vm_settings *base, struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	struct scn_stmt st = { .line = cur->line, .proc = SCN_NONE, .name = SCN_NONE,
			       .arg = { SCN_NONE, SCN_NONE, SCN_NONE, SCN_NONE }, .path = SCN_NONE,
			       .text = SCN_NONE, .left = SCN_NONE, .right = SCN_NONE,
			       .child = SCN_NONE };
	int rc;
	scn_peek_word(cur, w, sizeof(w), true);
	if (strcmp(w, "set") == 0) {
		if (prog->nstmts)
			return BAD(cur, err, "set must come before the first statement (settings "
				   "build the machine)");
		return parse_set(prog, cur, scratch, base, err);
	}
	if (strcmp(w, "process") == 0) {
		st.verb = SCN_PROCESS;
		rc = add_process(prog, cur, &st, err);
	} else if (strcmp(w, "let") == 0) {
		st.verb = SCN_LET;
		scn_peek_word(cur, w, sizeof(w), true);
		if (!*w)
			return BAD(cur, err, "let needs a name and a value (let NAME EXPR)");
		rc = scn_operand(prog, cur, "the value after the name", &st.arg[SCN_A_ADDR], err);
		if (rc == 0)
			rc = scn_bind_name(prog, cur, w, SCN_NONE, err, &st.name);
	} else if (strcmp(w, "show") == 0) {
		rc = parse_show(prog, cur, &st, err);
	} else if (strcmp(w, "expect") == 0) {
		st.verb = SCN_EXPECT;
		rc = parse_expect(prog, cur, &st, err);
	} else if (strcmp(w, "file") == 0) {
		/* file PATH SIZE: the path is one word, as in mmap's clause. */
		st.verb = SCN_FILE;
		scn_peek_word(cur, w, sizeof(w), true);
		if (!*w || in_list(keywords, w) || is_proc(prog, w))
			return BAD(cur, err, "file needs a path and a size (file PATH SIZE)");
		rc = scn_pool_add(prog, w, strlen(w), &st.path);
		if (rc == 0)
			rc = scn_operand(prog, cur, "the size after the path", &st.arg[SCN_A_LEN], err);
	} else if (is_proc(prog, w)) {
		rc = parse_proc_stmt(prog, cur, w, &st, err);
	} else if (scn_verb_find(w) >= 0) {
		return BAD(cur, err, "'%s' needs a process first (process A, then A %s ...)", w, w);
	} else if (valid_ident(w) && strlen(w) <= SCN_IDENT_MAX) {
		char v[SCN_LINE_MAX + 1];
		scn_peek_word(cur, v, sizeof(v), false);
		if (scn_verb_find(v) >= 0)
			return BAD(cur, err, "'%s': no such process (declare it with `process %s`)", w, w);
		return BAD(cur, err, "'%s': expected a statement (set, process, let, show, expect, "
			   "file, or a process name and a verb)", w);
	} else {
		return BAD(cur, err, "'%.40s': expected a statement (set, process, let, show, expect, "
			   "file, or a process name and a verb)", w);
	}
	if (rc)
		return rc;
	struct scn_stmt *s = scn_grow(prog->stmts, &prog->stmts_cap, prog->nstmts, sizeof(*s));
	if (!s)
		return -ENOMEM;
	prog->stmts = s;
	s[prog->nstmts++] = st;
	return 0;
}

static int parse_line(struct scn_prog *prog, struct scn_cursor *cur, struct vm_settings *scratch,
		      const struct vm_settings *base, struct vm_error *err)
{
	for (;;) {
		scn_skip_space(cur);
		if (cur->s[cur->pos] == '\0' || cur->s[cur->pos] == '#')
			return 0;
		int rc = parse_stmt(prog, cur, scratch, base, err);
		if (rc)
			return rc;
		scn_skip_space(cur);
		char c = cur->s[cur->pos];
		if (c != '\0' && c != '#' && !scn_at_stmt_start(cur, prog)) {
			char w[48];
			scn_peek_word(cur, w, sizeof(w), false);
			return BAD(cur, err, "unexpected '%s' after the statement (a statement starts "
				   "with a keyword or a process name)", w);
		}
	}
}

void scn_prog_free(struct scn_prog *prog)
{
	free(prog->stmts);
	free(prog->ex);
	free(prog->names);
	free(prog->procs);
	free(prog->pool);
	vmlab_settings_destroy(prog->settings);
	memset(prog, 0, sizeof(*prog));
}

/* The bytes of one line into buf: NUL bytes, control characters and
 * overlong lines are errors; a CR before the newline is dropped. */
static int take_line(const char *text, size_t len, size_t *i, char *buf, struct scn_cursor *cur,
		     struct vm_error *err)
{
	size_t n = 0;
	for (; *i < len && text[*i] != '\n'; (*i)++) {
		unsigned char c = (unsigned char)text[*i];
		if (c == '\0')
			return BAD(cur, err, "NUL byte (a scenario is text)");
		if (c == '\r' && (*i + 1 == len || text[*i + 1] == '\n'))
			continue;
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return BAD(cur, err, "control character 0x%02x (a scenario is text)", c);
		if (n == SCN_LINE_MAX)
			return BAD(cur, err, "line longer than %d bytes", SCN_LINE_MAX);
		buf[n++] = (char)c;
	}
	(*i)++;     /* the newline */
	buf[n] = '\0';
	return 0;
}

int scn_parse(struct scn_prog *prog, const char *name, const char *text, size_t len,
	      const struct vm_settings *base, struct vm_error *err)
{
	char line[SCN_LINE_MAX + 1];
	struct scn_cursor cur = { .file = name, .s = line };
	memset(prog, 0, sizeof(*prog));
	prog->file = name;
	prog->settings = base ? vmlab_settings_clone(base) : vmlab_settings_create();
	struct vm_settings *scratch = vmlab_settings_create();
	int rc = prog->settings && scratch ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < len;) {
		cur.line++;
		cur.pos = 0;
		cur.depth = 0;
		rc = take_line(text, len, &i, line, &cur, err);
		if (rc == 0)
			rc = parse_line(prog, &cur, scratch, base, err);
	}
	vmlab_settings_destroy(scratch);
	if (rc == -ENOMEM)
		vm_error_at(err, name, cur.line, "out of memory");
	return rc;
}

int vmlab_scenario_check(const char *name, const char *text, size_t len,
			 const struct vm_settings *base, struct vm_error *err)
{
	struct scn_prog prog;
	int rc = scn_parse(&prog, name, text, len, base, err);
	scn_prog_free(&prog);
	return rc == -EINVAL ? VM_SCENARIO_SYNTAX : rc;
}
