/*
 * The text trace format's parts (private to src/trace/): the reader's
 * state and word helpers (text.c), its lines in the scenario language's
 * words (text_calls.c), and path escapes shared with the writer
 * (text_write.c).
 */
#ifndef VM_TRACE_TEXT_H
#define VM_TRACE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/scenario.h"
#include "trace/trace.h"

#define TEXT_LINE_MAX 8192        /* a map or execve line holds a path of 4095 bytes */
#define ACCESS_MAX (UINT64_C(1) << 30)
#define FD_NONE UINT64_C(0xffffffff)    /* fd -1 as Valgrind prints it */

struct text_rd {
	struct scn_prog prog;     /* the names; expressions and strings of one line */
	int64_t *value;           /* by name index: what each name holds */
	bool *known;              /* by name index: the value is known */
	size_t vcap;
	int32_t pid;              /* of the line before (1 at the start) */
	long line;
	bool eval_failed;         /* the last evaluation met a name without a value */
	int bad_name;
	char s[TEXT_LINE_MAX + 1];            /* the line being read */
	char path[VM_TRACE_PATH_MAX + 1];     /* the path of the event handed out */
};

static inline bool vm_text_word_end(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '#';
}

/* The next blank-separated word at *p into w (cut at len - 1; empty at the
 * end or at a comment); *p moves past it. */
void vm_text_word(const char **p, char *w, size_t len);
/* A decimal number that fits in 64 bits. */
bool vm_text_dec(const char *w, uint64_t *v);
/* A path word (escapes undone) into r->path: 0, or -EINVAL with t->err. */
int vm_text_path(struct vm_trace *t, struct text_rd *r, const char *w);
/* A line whose first word w is a scenario verb, syscall or let (s: the
 * line after the PID: prefix, cut in place at its result): 1 with ev, 0, or
 * an error. */
int vm_text_call_line(struct vm_trace *t, struct text_rd *r, char *s, const char *w,
		      struct vm_trace_event *ev);

/* A hex digit's value, or -1 (inline: the lackey and page-list parsers
 * call it for every digit). */
static inline int vm_text_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
/* A path word as written (bytes outside 0x21..0x7e, '#', '\' and a
 * leading '[' as \xHH) back to the path: 0, -EINVAL (a bad or \x00
 * escape), -E2BIG (longer than cap - 1). */
int vm_text_unescape(const char *s, char *out, size_t cap);
/* The reverse, into out (cap >= 4 * strlen(path) + 1). */
void vm_text_escape(const char *path, char *out, size_t cap);

#endif
