/*
 * vmlab policy: what its three files share (cmd_policy.c: the laboratory,
 * policy_mrc.c: miss-ratio curves, policy_ostep.c: OSTEP compatibility).
 */
#ifndef VM_CLI_POLICY_H
#define VM_CLI_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/evict.h"
#include "policy/lab.h"
#include "trace/refs.h"

#define POLICY_MAX_POLICIES 32
#define POLICY_MAX_FRAMES   16
#define POLICY_FRAMES_LIMIT (UINT32_C(1) << 28)
#define POLICY_CHUNK        4096

struct policy_opts {
	const char *refs;          /* --refs text, or NULL */
	const char *file;          /* the file operand ("-": standard input), or NULL */
	uint64_t page_size;        /* --page-size: numbers are addresses; 0: page numbers */
	bool steps, json, mrc;
	const char *csv, *svg;     /* --csv, --svg files (--mrc) */
	uint64_t mrc_max, mrc_step;
	struct vm_evict_params params;     /* --seed, --tau, --tick, --swappiness */
	uint32_t frames[POLICY_MAX_FRAMES];
	unsigned nframes;
	const struct vm_evict_ops *policies[POLICY_MAX_POLICIES];
	unsigned npolicies;
	bool need_future;          /* some policy is OPT */
};

/* Open the input the options name.  0 or CLI_BADINPUT / CLI_USAGE after
 * printing why. */
int policy_open(const struct policy_opts *o, struct vm_ref_reader *r);

/* Up to max references into pages[] and writes[]: *n (0 at the end).  0 or
 * CLI_BADINPUT after printing `vmlab: FILE:LINE: what`. */
int policy_read(struct vm_ref_reader *r, uint64_t *pages, bool *writes, size_t max, size_t *n);

/* The future pass over the whole input (OPT; also counts the footprint
 * into lab->ids), then rewind.  0 or CLI_BADINPUT. */
int policy_future(struct vm_ref_reader *r, struct vm_lab *lab);

/* vmlab policy --mrc */
int policy_mrc(const struct policy_opts *o);

/* vmlab policy --ostep ARGS: argv[0] is "policy"; the OSTEP arguments follow. */
int policy_ostep(int argc, char **argv);

#endif
