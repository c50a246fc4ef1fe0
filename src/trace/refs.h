/*
 * Reference strings: the input of the policy laboratory (vmlab policy).
 *
 * Format (the same for `--refs 1,2,3` and for a file):
 *   - references separated by commas and/or white space, any number per line;
 *   - a reference is a number, decimal or 0x-hex, optionally followed by
 *     `w` (a write: the MMU sets the Dirty bit) or `r` (a read, the default):
 *     `7`, `0x7f001000w`, `12r`;
 *   - `#` starts a comment that runs to the end of the line.
 * Numbers are page numbers, or byte addresses when a page size is given
 * (the page is the address divided by the page size).
 *
 * A reader streams: it holds one line at a time, so a reference string of
 * any length from a pipe costs no memory.  Files and in-memory text can be
 * rewound (OPT reads its input twice); pipes cannot.
 */
#ifndef VM_TRACE_REFS_H
#define VM_TRACE_REFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vmlab/types.h>

struct vm_ref_reader {
	const char *name;         /* for messages: the file name, "-" or "--refs" */
	uint64_t page_size;       /* 0: numbers are page numbers; else addresses */
	FILE *f;                  /* file source, or NULL */
	bool own_file;            /* f was opened here (not stdin) */
	bool seekable;            /* f is a regular file */
	const char *text;         /* in-memory source when f is NULL */
	size_t text_len, text_pos;
	char *line;               /* the current line (file source: getline's buffer) */
	size_t line_cap;
	const char *cur, *end;    /* unread part of the current line */
	long lineno;              /* 1-based number of the current line; 0 before the first */
	uint64_t count;           /* references returned since open or rewind */
};

/* One reference. */
struct vm_ref {
	uint64_t page;
	bool write;
};

/* Open path ("-" is standard input) for reading.  0, or -errno with err
 * naming the file. */
int vm_refs_open_file(struct vm_ref_reader *r, const char *path, uint64_t page_size,
		      struct vm_error *err);

/* Read references from len bytes of text (need not be NUL-terminated; the
 * reader keeps a pointer to it).  name appears in messages. */
void vm_refs_open_text(struct vm_ref_reader *r, const char *name, const char *text, size_t len,
		       uint64_t page_size);

/* The next reference: 1 with *out filled, 0 at the end, or -EINVAL (a bad
 * token: err says `FILE:LINE: what`) or -EIO (a read error). */
int vm_refs_next(struct vm_ref_reader *r, struct vm_ref *out, struct vm_error *err);

/* True when the reader can start again from the beginning (a regular file
 * or text; not a pipe or terminal). */
bool vm_refs_rewindable(const struct vm_ref_reader *r);

/* Start again from the first reference: 0, -ESPIPE (a pipe) or -EIO. */
int vm_refs_rewind(struct vm_ref_reader *r, struct vm_error *err);

/* Close the file (not standard input) and free the line buffer. */
void vm_refs_close(struct vm_ref_reader *r);

#endif
