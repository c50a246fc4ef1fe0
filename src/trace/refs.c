/*
 * Reference-string reader (refs.h): one line at a time, tokens split on
 * commas and white space, `#` comments.
 */
#include "trace/refs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"

int vm_refs_open_file(struct vm_ref_reader *r, const char *path, uint64_t page_size,
		      struct vm_error *err)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->name = path;
	r->page_size = page_size;
	if (strcmp(path, "-") == 0) {
		r->f = stdin;
	} else {
		r->f = fopen(path, "r");
		if (!r->f) {
			int e = errno;
			vm_error_at(err, path, 0, "cannot open: %s", strerror(e));
			return -e;
		}
		r->own_file = true;
	}
	r->seekable = fstat(fileno(r->f), &st) == 0 && S_ISREG(st.st_mode);
	return 0;
}

void vm_refs_open_text(struct vm_ref_reader *r, const char *name, const char *text, size_t len,
		       uint64_t page_size)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->page_size = page_size;
	r->text = text;
	r->text_len = len;
}

bool vm_refs_rewindable(const struct vm_ref_reader *r)
{
	return !r->f || r->seekable;
}

int vm_refs_rewind(struct vm_ref_reader *r, struct vm_error *err)
{
	if (!vm_refs_rewindable(r)) {
		vm_error_at(err, r->name, 0, "cannot read a pipe twice");
		return -ESPIPE;
	}
	if (r->f) {
		clearerr(r->f);
		if (fseek(r->f, 0, SEEK_SET) != 0) {
			vm_error_at(err, r->name, 0, "cannot rewind: %s", strerror(errno));
			return -EIO;
		}
	}
	r->text_pos = 0;
	r->cur = r->end = NULL;
	r->lineno = 0;
	r->count = 0;
	return 0;
}

void vm_refs_close(struct vm_ref_reader *r)
{
	if (r->own_file && r->f)
		fclose(r->f);
	free(r->line);
	r->f = NULL;
	r->line = NULL;
	r->own_file = false;
}

/* Load the next line into [cur, end): 1, 0 at the end, -EIO. */
static int next_line(struct vm_ref_reader *r, struct vm_error *err)
{
	if (r->f) {
		ssize_t n = getline(&r->line, &r->line_cap, r->f);
		if (n < 0) {
			if (ferror(r->f)) {
				vm_error_at(err, r->name, r->lineno + 1, "read error");
				return -EIO;
			}
			return 0;
		}
		r->cur = r->line;
		r->end = r->line + n;
	} else {
		if (r->text_pos >= r->text_len)
			return 0;
		const char *s = r->text + r->text_pos;
		const char *nl = memchr(s, '\n', r->text_len - r->text_pos);
		size_t n = nl ? (size_t)(nl - s) + 1 : r->text_len - r->text_pos;
		r->cur = s;
		r->end = s + n;
		r->text_pos += n;
	}
	r->lineno++;
	/* A comment runs to the end of the line. */
	const char *hash = memchr(r->cur, '#', (size_t)(r->end - r->cur));
	if (hash)
		r->end = hash;
	return 1;
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static int digit_value(char c, unsigned base)
{
	int v = -1;
	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	return v >= 0 && (unsigned)v < base ? v : -1;
}

/* Show a bad token in a message: at most 24 bytes, non-printing bytes as '?'. */
static void token_text(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < n && i < 24 && o + 1 < len; i++)
		buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (n > 24 && o + 4 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* Parse the token [s, s + n) into out: 0 or -EINVAL with err. */
static int parse_token(struct vm_ref_reader *r, const char *s, size_t n, struct vm_ref *out,
		       struct vm_error *err)
{
	unsigned base = 10;
	size_t i = 0, full = n;
	uint64_t v = 0;
	char shown[32];

	out->write = false;
	if (n > 0 && (s[n - 1] == 'w' || s[n - 1] == 'W' || s[n - 1] == 'r' || s[n - 1] == 'R')) {
		out->write = s[n - 1] == 'w' || s[n - 1] == 'W';
		n--;
	}
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == n)
		goto bad;
	for (; i < n; i++) {
		int d = digit_value(s[i], base);
		if (d < 0)
			goto bad;
		if (v > (UINT64_MAX - (uint64_t)d) / base) {
			token_text(s, full, shown, sizeof(shown));
			return vm_error_at(err, r->name, r->lineno, "'%s' is too large for 64 bits",
					   shown);
		}
		v = v * base + (uint64_t)d;
	}
	out->page = r->page_size ? v / r->page_size : v;
	return 0;
bad:
	token_text(s, full, shown, sizeof(shown));
	return vm_error_at(err, r->name, r->lineno,
			   "'%s' is not a %s (decimal or 0x-hex, optionally followed by w or r)",
			   shown, r->page_size ? "byte address" : "page number");
}

int vm_refs_next(struct vm_ref_reader *r, struct vm_ref *out, struct vm_error *err)
{
	for (;;) {
		while (r->cur < r->end && is_sep(*r->cur))
			r->cur++;
		if (r->cur < r->end)
			break;
		int rc = next_line(r, err);
		if (rc <= 0)
			return rc;
	}
	const char *s = r->cur;
	while (r->cur < r->end && !is_sep(*r->cur))
		r->cur++;
	int rc = parse_token(r, s, (size_t)(r->cur - s), out, err);
	if (rc)
		return rc;
	r->count++;
	return 1;
}
