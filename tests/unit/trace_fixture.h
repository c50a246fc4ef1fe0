/*
 * Helpers for the trace tests: read a whole trace (from memory or a file)
 * into an array of events with their own copies of the paths, and the
 * error as "FILE:LINE: msg".
 */
#ifndef VMLAB_TRACE_FIXTURE_H
#define VMLAB_TRACE_FIXTURE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"

struct evlist {
	struct vm_trace_event *ev;
	size_t n, cap;
	int rc;                   /* 0 when the whole trace read, else the error */
	char err[320];            /* "FILE:LINE: msg" or "FILE: msg" */
	uint64_t stat[VM_TSTAT_COUNT];
	const char *format;       /* the format detected */
};

static void evlist_free(struct evlist *l) __attribute__((unused));
static void evlist_free(struct evlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->ev[i].path);
	free(l->ev);
	memset(l, 0, sizeof(*l));
}

static void format_err(char *buf, size_t len, const struct vm_error *e)
{
	if (e->line)
		snprintf(buf, len, "%s:%ld: %s", e->file ? e->file : "?", e->line, e->msg);
	else
		snprintf(buf, len, "%s: %s", e->file ? e->file : "?", e->msg);
}

/* Read every event of t into l (t is closed). */
static void evlist_take(struct evlist *l, struct vm_trace *t)
{
	struct vm_trace_event ev;
	int rc;
	l->format = t->ops->name;
	while ((rc = vm_trace_next(t, &ev)) == 1) {
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 256;
			l->ev = realloc(l->ev, l->cap * sizeof(*l->ev));
			if (!l->ev)
				abort();
		}
		if (ev.path)
			ev.path = strdup(ev.path);
		l->ev[l->n++] = ev;
	}
	l->rc = rc;
	if (rc)
		format_err(l->err, sizeof(l->err), &t->err);
	memcpy(l->stat, t->stat, sizeof(l->stat));
	vm_trace_close(t);
}

/* Read text[0..len) as trace name (format NULL: detect). */
static struct evlist read_mem(const char *name, const char *text, size_t len, const char *format,
			      const char *maps) __attribute__((unused));
static struct evlist read_mem(const char *name, const char *text, size_t len, const char *format,
			      const char *maps)
{
	struct evlist l = { 0 };
	struct vm_trace *t;
	struct vm_error err = { 0 };
	const struct vm_trace_opts o = { .format = format, .maps = maps };
	l.rc = vm_trace_open_mem(name, text, len, &o, &t, &err);
	if (l.rc) {
		format_err(l.err, sizeof(l.err), &err);
		return l;
	}
	evlist_take(&l, t);
	return l;
}

static struct evlist read_str(const char *name, const char *text, const char *format)
	__attribute__((unused));
static struct evlist read_str(const char *name, const char *text, const char *format)
{
	return read_mem(name, text, strlen(text), format, NULL);
}

static struct evlist read_file(const char *path, const char *format, const char *maps)
	__attribute__((unused));
static struct evlist read_file(const char *path, const char *format, const char *maps)
{
	struct evlist l = { 0 };
	struct vm_trace *t;
	struct vm_error err = { 0 };
	const struct vm_trace_opts o = { .format = format, .maps = maps };
	l.rc = vm_trace_open(path, &o, &t, &err);
	if (l.rc) {
		format_err(l.err, sizeof(l.err), &err);
		return l;
	}
	evlist_take(&l, t);
	return l;
}

/* Write events with a writer of format into a memory buffer (*buf, *len;
 * free it).  0 or the writer's error. */
static int write_mem(const char *format, bool compress, const struct vm_trace_event *ev, size_t n,
		     char **buf, size_t *len) __attribute__((unused));
static int write_mem(const char *format, bool compress, const struct vm_trace_event *ev, size_t n,
		     char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	struct vm_trace_writer *w = NULL;
	int rc = f ? vm_trace_writer_create(format, f, compress, -1, &w) : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = vm_trace_writer_put(w, &ev[i]);
	if (rc == 0)
		rc = vm_trace_writer_end(w);
	if (f) {
		vm_trace_writer_destroy(w);
		fclose(f);
	}
	return rc;
}

/* Are two lists the same events? */
static bool same_events(const struct evlist *a, const struct evlist *b, size_t *where)
	__attribute__((unused));
static bool same_events(const struct evlist *a, const struct evlist *b, size_t *where)
{
	size_t n = a->n < b->n ? a->n : b->n;
	for (size_t i = 0; i < n; i++)
		if (!vm_trace_event_equal(&a->ev[i], &b->ev[i])) {
			*where = i;
			return false;
		}
	*where = n;
	return a->n == b->n;
}

/* Where the test data lives (tests run from the top of the tree). */
#define TRACE_DATA "tests/trace/data/"

#endif
