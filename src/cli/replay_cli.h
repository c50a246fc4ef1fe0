/*
 * Replaying a trace from the command line: shared by `vmlab replay` and
 * `vmlab trace` (which replays what it captured).
 */
#ifndef VM_CLI_REPLAY_CLI_H
#define VM_CLI_REPLAY_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/settings.h>

#include "trace/replay.h"
#include "trace/trace.h"

struct vm_capture;

struct cli_replay {
	const char *cmd;              /* "replay" or "trace", for messages */
	const char *path;             /* the trace ("-" = standard input) */
	struct vm_capture *capture;   /* vmlab trace: open this capture instead of path */
	const char *title;            /* the summary names this, not path (may be NULL) */
	struct vm_trace_opts topts;
	const struct vm_settings *settings;   /* mode=meta already applied unless set */
	bool lenient;
	bool json;
	const char *timeline;         /* CSV path or NULL */
	uint64_t every;
	uint64_t maps_at;
	struct vm_trace_writer *tee;  /* vmlab trace --save */
	bool progress;                /* a progress line on stderr (when it is a terminal) */
	/* vmlab trace: called once the replay has read the trace (or stopped),
	 * before anything is printed: waits for the capture's end and says how
	 * it went.  Nonzero: the capture failed (its message printed). */
	int (*capture_end)(const struct cli_replay *c);
};

/* Settings for replay: a copy of base with mode=meta unless base set mode. */
struct vm_settings *cli_replay_settings(const struct vm_settings *base);

/* Replay c->path, print the summary (text or JSON) on stdout.  Returns the
 * exit status: 0, CLI_BADINPUT (bad trace: the message is printed),
 * CLI_USAGE (a machine that cannot be built, a file that cannot be opened). */
int cli_replay_print(const struct cli_replay *c);

#endif
