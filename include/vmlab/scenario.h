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
	VM_SCENARIO_FAILED = 1,    /* an expect failed: err = FILE:LINE, expression, both values */
	VM_SCENARIO_SYNTAX = 2,    /* the text is not a valid scenario: err = FILE:LINE: what */
};

/* Run the scenario in text[0..len) named name (for messages).  base (may be
 * NULL) supplies settings that the scenario's own `set` lines override;
 * `show` output goes to out (text, or JSON objects when json).  With json,
 * the final counters and per-process figures are printed as one JSON
 * document at the end.  Returns a VM_SCENARIO_* value, or -errno (-ENOMEM). */
int vmlab_scenario_run(const char *name, const char *text, size_t len,
		       const struct vm_settings *base, FILE *out, bool json, struct vm_error *err);

#endif
