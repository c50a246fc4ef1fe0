/*
 * Scenario statements after `P verb`: the operands of each verb, and the
 * words they take (protections, mmap and mremap flags, madvise advice, msync
 * flags, access kinds, views), with Linux's x86-64 values from uapi.h.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "kernel/uapi.h"
#include "trace/scenario.h"

#define BAD(cur, err, ...) vm_error_at(err, (cur)->file, (cur)->line, __VA_ARGS__)

struct scn_word {
	const char *name;
	int value;
};

static const struct scn_word mmap_flags[] = {
	{ "private", VM_MAP_PRIVATE }, { "shared", VM_MAP_SHARED },
	{ "shared_validate", VM_MAP_SHARED_VALIDATE }, { "anon", VM_MAP_ANONYMOUS },
	{ "anonymous", VM_MAP_ANONYMOUS }, { "fixed", VM_MAP_FIXED },
	{ "noreplace", VM_MAP_FIXED_NOREPLACE }, { "fixed_noreplace", VM_MAP_FIXED_NOREPLACE },
	{ "populate", VM_MAP_POPULATE }, { "growsdown", VM_MAP_GROWSDOWN },
	{ "noreserve", VM_MAP_NORESERVE }, { "locked", VM_MAP_LOCKED }, { "stack", VM_MAP_STACK },
	{ "nonblock", VM_MAP_NONBLOCK }, { "hugetlb", VM_MAP_HUGETLB }, { "sync", VM_MAP_SYNC },
	{ "denywrite", VM_MAP_DENYWRITE }, { "executable", VM_MAP_EXECUTABLE },
	{ "uninitialized", VM_MAP_UNINITIALIZED },
	{ NULL, 0 },
};

static const struct scn_word mremap_flags[] = {
	{ "maymove", VM_MREMAP_MAYMOVE }, { "fixed", VM_MREMAP_FIXED },
	{ "dontunmap", VM_MREMAP_DONTUNMAP }, { NULL, 0 },
};

static const struct scn_word msync_flags[] = {
	{ "async", VM_MS_ASYNC }, { "sync", VM_MS_SYNC }, { "invalidate", VM_MS_INVALIDATE },
	{ NULL, 0 },
};

static const struct scn_word advice[] = {
	{ "normal", VM_MADV_NORMAL }, { "random", VM_MADV_RANDOM },
	{ "sequential", VM_MADV_SEQUENTIAL }, { "willneed", VM_MADV_WILLNEED },
	{ "dontneed", VM_MADV_DONTNEED }, { "free", VM_MADV_FREE }, { "remove", VM_MADV_REMOVE },
	{ "dontfork", VM_MADV_DONTFORK }, { "dofork", VM_MADV_DOFORK },
	{ "mergeable", VM_MADV_MERGEABLE }, { "unmergeable", VM_MADV_UNMERGEABLE },
	{ "hugepage", VM_MADV_HUGEPAGE }, { "nohugepage", VM_MADV_NOHUGEPAGE },
	{ "dontdump", VM_MADV_DONTDUMP }, { "dodump", VM_MADV_DODUMP },
	{ "wipeonfork", VM_MADV_WIPEONFORK }, { "keeponfork", VM_MADV_KEEPONFORK },
	{ "cold", VM_MADV_COLD }, { "pageout", VM_MADV_PAGEOUT },
	{ "populate_read", VM_MADV_POPULATE_READ }, { "populate_write", VM_MADV_POPULATE_WRITE },
	{ NULL, 0 },
};

static const struct scn_word access_kinds[] = {
	{ "read", VM_ACC_READ }, { "write", VM_ACC_WRITE }, { "exec", VM_ACC_EXEC }, { NULL, 0 },
};

/* Verbs after a process name. */
static const struct scn_word verbs[] = {
	{ "mmap", SCN_MMAP }, { "munmap", SCN_MUNMAP }, { "mprotect", SCN_MPROTECT },
	{ "brk", SCN_BRK }, { "mremap", SCN_MREMAP }, { "madvise", SCN_MADVISE },
	{ "msync", SCN_MSYNC }, { "read", SCN_READ }, { "write", SCN_WRITE }, { "exec", SCN_EXEC },
	{ "touch", SCN_TOUCH }, { "exit", SCN_EXIT }, { "fork", SCN_FORK }, { "vfork", SCN_VFORK },
	{ "thread", SCN_THREAD }, { "wait", SCN_WAIT }, { NULL, 0 },
};

static const struct scn_word views[] = {
	{ "maps", SCN_SHOW_MAPS }, { "smaps", SCN_SHOW_SMAPS }, { "status", SCN_SHOW_STATUS },
	{ "pagetable", SCN_SHOW_PT }, { NULL, 0 },
};

static int word_find(const struct scn_word *t, const char *w)
{
	for (int i = 0; t[i].name; i++)
		if (strcmp(t[i].name, w) == 0)
			return i;
	return -1;
}

int scn_verb_find(const char *w)
{
	int i = word_find(verbs, w);
	return i < 0 ? -1 : verbs[i].value;
}

/* A comma-separated list of table words, or'ed. */
static int parse_list(struct scn_cursor *cur, const struct scn_word *t, const char *what,
		      int *value, struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	scn_peek_word(cur, w, sizeof(w), true);
	if (!*w)
		return BAD(cur, err, "missing %s", what);
	*value = 0;
	for (char *save, *tok = strtok_r(w, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i = word_find(t, tok);
		if (i < 0)
			return BAD(cur, err, "'%.40s': unknown %s (%s, %s, ... docs/scenarios.md)", tok,
				   what, t[0].name, t[1].name);
		*value |= t[i].value;
	}
	return 0;
}

static int parse_one(struct scn_cursor *cur, const struct scn_word *t, const char *what, int *value,
		     struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	scn_peek_word(cur, w, sizeof(w), true);
	int i = word_find(t, w);
	if (!*w)
		return BAD(cur, err, "missing %s", what);
	if (i < 0)
		return BAD(cur, err, "'%.40s': unknown %s (%s, %s, ... docs/scenarios.md)", w, what,
			   t[0].name, t[1].name);
	*value = t[i].value;
	return 0;
}

/* r, w, x in any order (each at most once; '-' ignored), or none. */
static int parse_prot(struct scn_cursor *cur, int *prot, struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	scn_peek_word(cur, w, sizeof(w), true);
	*prot = 0;
	if (!*w)
		return BAD(cur, err, "missing protection (r, w, x combined, or none)");
	if (strcmp(w, "none") == 0)
		return 0;
	for (const char *c = w; *c; c++) {
		int bit = *c == 'r' ? VM_PROT_READ : *c == 'w' ? VM_PROT_WRITE : *c == 'x' ? VM_PROT_EXEC : 0;
		if ((*c != '-' && !bit) || (*prot & bit))
			return BAD(cur, err, "'%.40s' is not a protection (r, w, x combined, or none)", w);
		*prot |= bit;
	}
	return 0;
}

/* mmap's clauses after FLAGS: `file PATH [OFF]` and `at ADDR`, each at
 * most once, in any order. */
static int mmap_clauses(struct scn_prog *prog, struct scn_cursor *cur, struct scn_stmt *st,
			struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	for (;;) {
		scn_peek_word(cur, w, sizeof(w), false);
		if (strcmp(w, "file") == 0 && st->path == SCN_NONE) {
			scn_peek_word(cur, w, sizeof(w), true);
			scn_peek_word(cur, w, sizeof(w), true);
			if (!*w)
				return BAD(cur, err, "missing the path after 'file'");
			int rc = scn_pool_add(prog, w, strlen(w), &st->path);
			if (rc == 0 && !scn_at_stmt_start(cur, prog)) {
				scn_peek_word(cur, w, sizeof(w), false);
				if (strcmp(w, "at") != 0)
					rc = scn_parse_expr(prog, cur, false, &st->arg[SCN_A_LEN2], err);
			}
			if (rc)
				return rc;
		} else if (strcmp(w, "at") == 0 && st->arg[SCN_A_EXTRA] == SCN_NONE) {
			scn_peek_word(cur, w, sizeof(w), true);
			int rc = scn_operand(prog, cur, "the address after 'at'", &st->arg[SCN_A_EXTRA], err);
			if (rc)
				return rc;
		} else {
			return 0;
		}
	}
}

/* mremap's optional FLAGS, `at ADDR`, `as NAME` (any order). */
static int mremap_clauses(struct scn_prog *prog, struct scn_cursor *cur, struct scn_stmt *st,
			  struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	bool flags = false;
	int rc = 0;
	while (rc == 0 && !scn_at_stmt_start(cur, prog)) {
		scn_peek_word(cur, w, sizeof(w), false);
		if (strcmp(w, "at") == 0 && st->arg[SCN_A_EXTRA] == SCN_NONE) {
			scn_peek_word(cur, w, sizeof(w), true);
			rc = scn_operand(prog, cur, "the address after 'at'", &st->arg[SCN_A_EXTRA], err);
		} else if (strcmp(w, "as") == 0 && st->name == SCN_NONE) {
			scn_peek_word(cur, w, sizeof(w), true);
			scn_peek_word(cur, w, sizeof(w), true);
			rc = scn_bind_name(prog, cur, w, SCN_NONE, err, &st->name);
		} else if (!flags && isalpha((unsigned char)w[0])) {
			flags = true;
			rc = parse_list(cur, mremap_flags, "mremap flag", &st->flags, err);
		} else {
			break;
		}
	}
	return rc;
}

/* `P exec PATH [ARG...]` (execve): PATH and each ARG are words, stored one
 * after the other in the pool from st->path; st->flags counts the ARGs.
 * The ARGs end where a statement starts or the line ends. */
static int parse_execve(struct scn_prog *prog, struct scn_cursor *cur, struct scn_stmt *st,
			struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	int off, rc;
	st->verb = SCN_EXECVE;
	scn_peek_word(cur, w, sizeof(w), true);
	if ((rc = scn_pool_add(prog, w, strlen(w), &st->path)))
		return rc;
	for (st->flags = 0; !scn_at_stmt_start(cur, prog); st->flags++) {
		scn_peek_word(cur, w, sizeof(w), true);
		if ((rc = scn_pool_add(prog, w, strlen(w), &off)))
			return rc;
	}
	(void)err;
	return 0;
}

/* The operands of `P verb ...`. */
int scn_parse_verb(struct scn_prog *prog, struct scn_cursor *cur, struct scn_stmt *st,
		      struct vm_error *err)
{
	char w[SCN_LINE_MAX + 1];
	int rc = 0;
	int *a = st->arg;
	switch ((enum scn_verb)st->verb) {
	case SCN_MMAP:
		scn_peek_word(cur, w, sizeof(w), true);
		if (!*w)
			return BAD(cur, err, "mmap: missing the name to bind");
		if ((rc = scn_operand(prog, cur, "the length", &a[SCN_A_LEN], err)) ||
		    (rc = parse_prot(cur, &st->prot, err)) ||
		    (rc = parse_list(cur, mmap_flags, "mmap flag", &st->flags, err)) ||
		    (rc = mmap_clauses(prog, cur, st, err)))
			return rc;
		/* Bound after the operands, which cannot use it. */
		return scn_bind_name(prog, cur, w, SCN_NONE, err, &st->name);
	case SCN_MUNMAP:
		if ((rc = scn_operand(prog, cur, "the address", &a[SCN_A_ADDR], err)) == 0)
			rc = scn_operand(prog, cur, "the length", &a[SCN_A_LEN], err);
		return rc;
	case SCN_MPROTECT:
	case SCN_MADVISE:
	case SCN_MSYNC:
	case SCN_TOUCH:
		if ((rc = scn_operand(prog, cur, "the address", &a[SCN_A_ADDR], err)) ||
		    (rc = scn_operand(prog, cur, "the length", &a[SCN_A_LEN], err)))
			return rc;
		if (st->verb == SCN_MPROTECT)
			return parse_prot(cur, &st->prot, err);
		if (st->verb == SCN_MADVISE)
			return parse_one(cur, advice, "madvise advice", &st->flags, err);
		if (st->verb == SCN_MSYNC)
			return parse_list(cur, msync_flags, "msync flag", &st->flags, err);
		return parse_one(cur, access_kinds, "access kind (read, write or exec)", &st->flags, err);
	case SCN_BRK:
		scn_skip_space(cur);
		if (cur->s[cur->pos] == '+' || cur->s[cur->pos] == '-')
			st->brk_sign = cur->s[cur->pos++];
		return scn_operand(prog, cur, "the new break (+N, -N or an address)", &a[SCN_A_ADDR], err);
	case SCN_MREMAP:
		if ((rc = scn_operand(prog, cur, "the address", &a[SCN_A_ADDR], err)) ||
		    (rc = scn_operand(prog, cur, "the old length", &a[SCN_A_LEN], err)) ||
		    (rc = scn_operand(prog, cur, "the new length", &a[SCN_A_LEN2], err)))
			return rc;
		return mremap_clauses(prog, cur, st, err);
	case SCN_EXEC:
		/* A path (it starts with / or .) makes it execve; else an
		 * instruction fetch at an address. */
		scn_skip_space(cur);
		if (cur->s[cur->pos] == '/' || cur->s[cur->pos] == '.')
			return parse_execve(prog, cur, st, err);
		/* fall through */
	case SCN_READ:
	case SCN_WRITE:
		st->flags = st->verb == SCN_READ ? VM_ACC_READ : st->verb == SCN_WRITE ? VM_ACC_WRITE
										     : VM_ACC_EXEC;
		if ((rc = scn_operand(prog, cur, "the address", &a[SCN_A_ADDR], err)) ||
		    (rc = scn_opt_operand(prog, cur, &a[SCN_A_LEN], err)))
			return rc;
		if (st->verb == SCN_WRITE && a[SCN_A_LEN] != SCN_NONE)
			rc = scn_opt_operand(prog, cur, &a[SCN_A_EXTRA], err);
		return rc;
	case SCN_EXIT:
		return scn_opt_operand(prog, cur, &a[SCN_A_ADDR], err);
	case SCN_FORK:
	case SCN_VFORK:
	case SCN_THREAD:
		scn_peek_word(cur, w, sizeof(w), true);
		if (!*w)
			return BAD(cur, err, "missing the name of the new process");
		if ((rc = scn_add_process(prog, cur, w, &st->child, err)))
			return rc;
		scn_peek_word(cur, w, sizeof(w), false);
		if (st->verb != SCN_VFORK && strcmp(w, "cpu") == 0) {
			scn_peek_word(cur, w, sizeof(w), true);
			rc = scn_operand(prog, cur, "the CPU after 'cpu'", &a[SCN_A_ADDR], err);
		}
		return rc;
	case SCN_WAIT:
		scn_peek_word(cur, w, sizeof(w), true);
		if (!*w)
			return BAD(cur, err, "wait: missing the process to wait for");
		st->child = scn_proc_find(prog, w);
		if (st->child < 0)
			return BAD(cur, err, "wait: '%.40s' is not a process", w);
		if (st->child == st->proc)
			return BAD(cur, err, "wait: a process cannot wait for itself");
		return 0;
	default:
		return 0;
	}
}


int scn_parse_view(struct scn_cursor *cur, int *view, struct vm_error *err)
{
	return parse_one(cur, views, "view (maps, smaps, status or pagetable)", view, err);
}
