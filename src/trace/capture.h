/*
 * Capturing a live program's trace (vmlab trace; docs/replay.md): a
 * backend runs the program under a tracer and leaves a trace that a
 * reader (trace.h) opens.  Backends sit behind struct capture_ops:
 * vmlab's own Valgrind tool (capture_tool.c, docs/vgtool.md) and
 * Valgrind's lackey tool (capture_lackey.c).
 *
 * The traced program inherits the caller's standard input, output and
 * error.  Whatever a backend writes goes to a private temporary directory
 * that destroy removes; it stops the capture (and says so) before its
 * files exceed a budget, so a long-running program never fills the disk
 * unasked.
 */
#ifndef VM_TRACE_CAPTURE_H
#define VM_TRACE_CAPTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <vmlab/types.h>

#include "trace/trace.h"

struct vm_capture;

struct vm_capture_opts {
	char *const *argv;            /* PROGRAM ARGS, NULL-terminated; argv[0] searched in $PATH */
	const char *tmpdir;           /* where the temporary directory goes; NULL: $TMPDIR or /tmp */
	uint64_t max_bytes;           /* most bytes the capture may write; 0: the default
				       * (4 GiB, and never more than half the free space) */
	bool keep;                    /* leave the temporary directory (its path in c->dir) */
	const char *stdout_path;      /* the program's standard output goes to this file
				       * (created or truncated); NULL: the caller's */
	/* Called about 4 times a second while the program runs (may be NULL). */
	void (*progress)(void *ctx, uint64_t bytes, double seconds);
	void *ctx;
	/* Set by a signal handler to stop the capture (may be NULL). */
	volatile int *stop;
};

struct capture_ops {
	const char *name;             /* "vgtool", "lackey" */
	const char *desc;
	/* Run the program under the tracer to its end, then whatever else the
	 * trace needs.  0 (the program ran, whatever its exit status), or
	 * -ENOENT (no tracer, or no such program), -EACCES, -EFBIG (the budget
	 * was reached: the capture is stopped), -EINTR (stopped), -EIO, with
	 * err filled. */
	int (*run)(struct vm_capture *c, struct vm_error *err);
	/* Open what run captured as a trace. */
	int (*open)(struct vm_capture *c, struct vm_trace **t, struct vm_error *err);
	/* A backend that streams: run returns once the program has started and
	 * open's trace is fed while it runs; wait (once the reader is done
	 * with the trace, or gave up on it) discards what the reader left,
	 * waits for the program's end and fills wait_status, pid, bytes and
	 * note.  0, or run's errors.  NULL: run waited. */
	int (*wait)(struct vm_capture *c, struct vm_error *err);
};

extern const struct capture_ops vm_capture_lackey_ops;
extern const struct capture_ops vm_capture_vgtool_ops;

struct vm_capture {
	const struct capture_ops *ops;
	struct vm_capture_opts o;
	char dir[PATH_MAX];           /* the temporary directory */
	char program[PATH_MAX];       /* argv[0] as found in $PATH */
	uint64_t budget;              /* bytes the capture may write */
	uint64_t bytes;               /* bytes it wrote */
	int wait_status;              /* the traced program's (the tracer's) wait status */
	pid_t pid;                    /* the tracer's process, the traced program's first pid */
	char note[320];               /* a warning about the trace (a stream was cut), or "" */
	bool waited;                  /* vm_capture_wait ran: wait_rc, wait_err */
	int wait_rc;
	struct vm_error wait_err;
	void *priv;
};

/* A capture with backend name ("vgtool", "lackey"; NULL: lackey).  0, -EINVAL (unknown
 * backend, no program), -ENOENT (the program or the tracer is missing:
 * err says which), -ENOSPC (no room for the directory), -ENOMEM. */
int vm_capture_create(const char *backend, const struct vm_capture_opts *o,
		      struct vm_capture **out, struct vm_error *err);
int vm_capture_run(struct vm_capture *c, struct vm_error *err);
int vm_capture_open(struct vm_capture *c, struct vm_trace **t, struct vm_error *err);
/* Wait for the program's end (see capture_ops.wait; at once for a backend
 * whose run waited).  The same result at every call: 0, or the capture's
 * negative errno with err filled. */
int vm_capture_wait(struct vm_capture *c, struct vm_error *err);
/* Does c replay while the program runs (run returns at its start)? */
bool vm_capture_streams(const struct vm_capture *c);
/* Wait (as vm_capture_wait), remove the temporary directory (unless keep)
 * and free c. */
void vm_capture_destroy(struct vm_capture *c);

/* For backends (capture.c). */

/* The executable file name names: itself when it has a '/', else the
 * first in $PATH.  0, -ENOENT, -EACCES (found but not executable). */
int vm_capture_which(const char *name, char *out, size_t len);
/* Bytes of disk the regular files in dir take (their blocks: a file
 * whose joined part was freed counts what is left). */
uint64_t vm_capture_dir_bytes(const char *dir);

#endif
