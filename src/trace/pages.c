/*
 * Page-number lists, for replacement-policy work: the reference strings of
 * the textbooks ("7 0 1 2 0 3 0 4 2 3 0 3 2"), one or many per line,
 * separated by blanks or commas.  A number is decimal or 0x hex; a `w`
 * after it makes the reference a write (`3w`), an `r` a read (the
 * default).  Each reference is a one-byte access at the start of the page
 * (page * 4096) by process 1.  `#` starts a comment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace/text.h"
#include "trace/trace.h"

#define PAGES_LINE_MAX 65536
#define PAGE_MAX (UINT64_C(1) << 52)    /* page << 12 must fit in 64 bits */

struct pages_rd {
	long line;
	const char *s;            /* the rest of the current line */
	size_t n;
	bool have_line;
};

static bool sep(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '\r';
}

/* A token at s[*i]: the page and whether it is a write; false if malformed
 * (*i then at the bad token's start). */
static bool take_page(const char *s, size_t n, size_t *i, uint64_t *page, bool *write)
{
	size_t j = *i;
	int base = 10;
	uint64_t x = 0;
	if (n - j > 2 && s[j] == '0' && (s[j + 1] == 'x' || s[j + 1] == 'X')) {
		base = 16;
		j += 2;
	}
	size_t start = j;
	for (; j < n; j++) {
		int d = base == 16 ? vm_text_hexval(s[j]) : (s[j] >= '0' && s[j] <= '9' ? s[j] - '0' : -1);
		if (d < 0)
			break;
		x = x * (uint64_t)base + (uint64_t)d;
		if (x >= PAGE_MAX)
			return false;
	}
	if (j == start)
		return false;
	*write = false;
	if (j < n && (s[j] == 'w' || s[j] == 'W' || s[j] == 'r' || s[j] == 'R')) {
		*write = s[j] == 'w' || s[j] == 'W';
		j++;
	}
	if (j < n && !sep(s[j]) && s[j] != '#')
		return false;
	*page = x;
	*i = j;
	return true;
}

static bool pages_detect(const unsigned char *head, size_t len)
{
	const char *s = (const char *)head;
	size_t i = 0;
	/* The first line with a token decides; comments and blank lines are skipped. */
	while (i < len) {
		size_t e = i;
		while (e < len && s[e] != '\n')
			e++;
		if (e == len && len >= 4096)
			return false;     /* a first line longer than the head: not a list */
		size_t j = i, tokens = 0;
		for (;;) {
			while (j < e && sep(s[j]))
				j++;
			if (j == e || s[j] == '#')
				break;
			uint64_t page;
			bool w;
			if (!take_page(s, e, &j, &page, &w))
				return false;
			tokens++;
		}
		if (tokens)
			return true;
		i = e + 1;
	}
	return false;
}

static int pages_open(struct vm_trace *t)
{
	t->priv = calloc(1, sizeof(struct pages_rd));
	return t->priv ? 0 : -ENOMEM;
}

static void pages_close(struct vm_trace *t)
{
	free(t->priv);
	t->priv = NULL;
}

static int pages_next(struct vm_trace *t, struct vm_trace_event *ev)
{
	struct pages_rd *r = t->priv;
	for (;;) {
		if (!r->have_line) {
			bool partial;
			int rc = vm_tin_line(&t->in, PAGES_LINE_MAX, &r->s, &r->n, &partial);
			if (rc <= 0)
				return rc == -E2BIG ? vm_trace_fail(t, r->line + 1, "line longer than %d "
								    "bytes", PAGES_LINE_MAX) : rc;
			r->line++;
			t->stat[VM_TSTAT_LINES]++;
			r->have_line = true;
		}
		size_t i = 0;
		while (i < r->n && sep(r->s[i]))
			i++;
		if (i == r->n || r->s[i] == '#') {
			r->have_line = false;
			continue;
		}
		uint64_t page;
		bool write;
		if (!take_page(r->s, r->n, &i, &page, &write)) {
			size_t e = i;
			while (e < r->n && !sep(r->s[e]))
				e++;
			return vm_trace_fail(t, r->line, "'%.*s': expected a page number (decimal or 0x "
					     "hex, below 2^52), optionally with r or w", (int)(e - i > 40 ? 40 : e - i),
					     r->s + i);
		}
		r->s += i;
		r->n -= i;
		*ev = (struct vm_trace_event){ .kind = VM_TEV_ACCESS, .pid = 1,
					       .access = write ? VM_ACC_WRITE : VM_ACC_READ };
		ev->acc.addr = page << 12;
		ev->acc.size = 1;
		ev->acc.count = 1;
		return 1;
	}
}

const struct trace_ops vm_trace_pages_ops = {
	.name = "pages",
	.desc = "page-number lists (reference strings): 7 0 1 2 0 3w ..., one access per number",
	.detect = pages_detect,
	.open = pages_open,
	.next = pages_next,
	.close = pages_close,
};
