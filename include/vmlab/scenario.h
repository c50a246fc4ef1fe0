/*
 * vmlab — scenarios: small line-based programs that drive a machine's
 * kernel (processes, memory system calls, accesses), show what happened
 * (/proc views, page tables, counters) and check it with `expect` lines.
 * The language is documented in docs/scenarios.md.
 */
#ifndef VMLAB_SCENARIO_H
#define VMLAB_SCENARIO_H

#include <stdbool.h>
#include <stdio.h>

#include <vmlab/settings.h>
#include <vmlab/types.h>

/* Results of vmlab_scenario_run. */
enum {
	VM_SCENARIO_OK = 0,        /* ran to the end, every expect held */
	VM_SCENARIO_FAILED = 1,    /* an expect failed (err = FILE:LINE: the expression and both
				      values), or an error stopped the run */
	VM_SCENARIO_SYNTAX = 2,    /* the text is not a valid scenario: err = FILE:LINE: what */
};

/* Called for each failed expectation and for the error that stops a run:
 * err->file is the scenario's name, err->line its line, err->msg what is
 * wrong ("expect A.rss == 12K: A.rss is 16384 (16K), 12K is 12288 (12K)"). */
typedef void (*vmlab_scenario_report_fn)(void *ctx, const struct vm_error *err);

struct vmlab_scenario_opts {
	const struct vm_settings *base;    /* may be NULL; keys set explicitly in it (--set)
					      win over the scenario's own `set` lines */
	FILE *out;                         /* `show` output; NULL discards it */
	bool json;                         /* out gets one JSON document at the end instead
					      (show output inside it, under "output") */
	vmlab_scenario_report_fn report;   /* may be NULL */
	void *ctx;                         /* for report */
};

/* Run the scenario in text[0..len) named name (for messages).  The whole
 * text is parsed first: a syntax error returns VM_SCENARIO_SYNTAX before
 * anything runs.  Then every statement runs in order; a failed expect is
 * reported and the run goes on, so that one run reports every failure; an
 * error that makes going on meaningless (a statement on a process that a
 * signal killed, a bad length, a broken invariant under DEBUG=1) is
 * reported and stops the run.  err (may be NULL) receives the first of
 * these, or the syntax error.  Returns a VM_SCENARIO_* value, or -ENOMEM. */
int vmlab_scenario_run_opts(const char *name, const char *text, size_t len,
			    const struct vmlab_scenario_opts *opts, struct vm_error *err);

/* The same with base settings, an output stream and no report callback. */
int vmlab_scenario_run(const char *name, const char *text, size_t len,
		       const struct vm_settings *base, FILE *out, bool json, struct vm_error *err);

/* Parse only: VM_SCENARIO_OK, VM_SCENARIO_SYNTAX with err, or -ENOMEM. */
int vmlab_scenario_check(const char *name, const char *text, size_t len,
			 const struct vm_settings *base, struct vm_error *err);

#endif
