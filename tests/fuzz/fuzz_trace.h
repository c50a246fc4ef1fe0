/*
 * Shared by the trace readers' fuzz targets: read every event of a trace
 * in memory, check each against the event invariants, and check that
 * writing them as text and reading that back gives the same events (text
 * keeps every event exactly).  A failure aborts, so libFuzzer and the
 * replay driver both see it.
 */
#ifndef VMLAB_FUZZ_TRACE_H
#define VMLAB_FUZZ_TRACE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"

#define FUZZ_EVENTS_MAX 200000    /* a touch of 1G is 262,144 events: stop earlier */

/* Read data as format; 0 if it read to the end, else the error.  Events
 * go to the text writer w (may be NULL). */
static int fuzz_read(const uint8_t *data, size_t size, const char *format,
		     struct vm_trace_writer *w, uint64_t *nev)
{
	struct vm_trace *t;
	struct vm_error err = { 0 };
	const struct vm_trace_opts o = { .format = format };
	int rc = vm_trace_open_mem("fuzz", data, size, &o, &t, &err);
	if (rc) {
		if (rc != -EINVAL && rc != -ENOMEM)
			abort();
		if (!err.msg[0] || !err.file)
			abort();
		return rc;
	}
	struct vm_trace_event ev;
	*nev = 0;
	while (*nev < FUZZ_EVENTS_MAX && (rc = vm_trace_next(t, &ev)) == 1) {
		const char *bad = vm_trace_event_invalid(&ev);
		if (bad) {
			fprintf(stderr, "event %llu invalid: %s\n", (unsigned long long)*nev, bad);
			abort();
		}
		if (w && vm_trace_writer_put(w, &ev) != 0)
			abort();
		(*nev)++;
	}
	if (rc < 0 && (!t->err.msg[0] || !t->err.file))
		abort();
	if (rc < 0 && rc != -EINVAL && rc != -ENOMEM)
		abort();
	if (rc == 1)
		rc = 0;     /* stopped at the limit */
	vm_trace_close(t);
	return rc;
}

/* The whole check for one input. */
static void fuzz_trace(const uint8_t *data, size_t size, const char *format)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct vm_trace_writer *w = NULL;
	if (!f || vm_trace_writer_create("text", f, false, -1, &w) != 0)
		abort();
	uint64_t n = 0, n2 = 0;
	int rc = fuzz_read(data, size, format, w, &n);
	if (vm_trace_writer_end(w) != 0)
		abort();
	vm_trace_writer_destroy(w);
	fclose(f);
	if (rc == 0 && n < FUZZ_EVENTS_MAX) {
		/* What read fully reads back from text: the same number of events
		 * (text_write.c writes each as one line that reads back to it). */
		if (fuzz_read((const uint8_t *)text, len, "text", NULL, &n2) != 0 || n2 != n) {
			fprintf(stderr, "text round trip: %llu events, then %llu\n%s",
				(unsigned long long)n, (unsigned long long)n2, text);
			abort();
		}
	}
	free(text);
}

#endif
