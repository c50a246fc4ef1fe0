/*
 * Capturing a program with vmlab's own Valgrind tool (src/vgtool/,
 * docs/vgtool.md): run it under `valgrind --tool=vmlab` and, while it runs,
 * join the tool's per-process files into one vmt trace, a process tree as
 * the lackey reader reads a capture's logs (depth first: at a fork, the
 * child whole with the processes it starts, then the parent goes on; after
 * an exec, the new image).
 *
 *   struct vm_vgtool_opts o = { .compress = true, .level = 1 };
 *   struct vm_vgtool_result r;
 *   struct vm_error err;
 *   FILE *f = fopen("ls.vmt", "wb");
 *   char *argv[] = { "ls", "-l", "/usr/bin", NULL };
 *   if (vm_vgtool_capture(argv, &o, f, &r, &err) < 0)
 *           fprintf(stderr, "vmlab: %s\n", err.msg);
 *   else if (r.truncated)
 *           fprintf(stderr, "vmlab: warning: %s\n", r.note);
 *
 * Then vm_trace_open("ls.vmt", ...) replays it.  The library prints
 * nothing; Valgrind's own fatal messages go to the standard error the
 * caller gave the program.
 */
#ifndef VM_TRACE_CAPTURE_VGTOOL_H
#define VM_TRACE_CAPTURE_VGTOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vmlab/types.h>

struct vm_vgtool_opts {
	const char *tool_dir;     /* VALGRIND_LIB holding vmlab-amd64-linux; NULL: vm_vgtool_find */
	const char *valgrind;     /* the valgrind launcher; NULL: "valgrind" from $PATH */
	const char *work_dir;     /* an existing directory for the per-process files; NULL: a
				   * new one under $TMPDIR (or /tmp), removed afterwards */
	bool keep;                /* keep the per-process files (and a work_dir made here) */
	int grace_ms;             /* after the first process ended, how long to wait for
				   * others still running (background jobs, daemons)
				   * before their traces are cut; 0: 10 s */
	bool no_children;         /* --trace-children=no: exec'd programs run untraced */
	bool exact;               /* every access its own record (--vmt-exact=yes) */
	bool compress;            /* the joined trace's body is zlib */
	int level;                /* deflate level 1..9, or -1 (zlib's default); 1 is the
				   * one that keeps up with the tool (docs/vgtool.md) */
	uint64_t max_disk;        /* most bytes the per-process files may hold on disk at
				   * once (their blocks are freed as joined, unless
				   * keep); beyond it the program is killed and the
				   * capture fails with -EFBIG; 0: no limit */
};

struct vm_vgtool_result {
	int32_t pid;              /* the first process (Valgrind runs in it) */
	bool exited;              /* the program exited: exit_code; else killed by term_signal */
	int exit_code;
	int term_signal;
	bool truncated;           /* a stream ended before its end record (a process killed
				   * with SIGKILL, Valgrind killed, a full disk): the joined
				   * trace ends without its END record, so replay reports it */
	char note[300];           /* truncated: which stream and where */
	unsigned streams;         /* per-process files joined */
	uint64_t events;          /* event records in the joined trace */
	uint64_t accesses;        /* accesses in it, counting each run's repetitions */
	uint64_t stream_bytes;    /* bytes of the per-process files */
	char work_dir[4096];      /* where the files were (kept with opts.keep) */
};

/* The directory that holds the tool, into buf (len bytes): $VMLAB_VGTOOL_DIR
 * if set, else beside the running program: DIR/vgtool (the build tree,
 * build/release/vmlab), DIR/../libexec/vmlab (make install).  0, or
 * -ENOENT with err naming where it looked. */
int vm_vgtool_find(char *buf, size_t len, struct vm_error *err);

/* Run argv (argv[0] found in $PATH as execvp does) under the tool and write
 * the joined trace as vmt to out (left open).  0 with *res filled, also
 * when the program failed or crashed (res says how it ended); or
 * -ENOENT (no valgrind, no tool, no such program), -EACCES (the program is
 * not executable), -EINVAL (bad arguments, Valgrind wrote no trace), -EIO,
 * -ENOMEM, each with err->msg. */
int vm_vgtool_capture(char *const argv[], const struct vm_vgtool_opts *opts, FILE *out,
		      struct vm_vgtool_result *res, struct vm_error *err);

/* The same in two steps, so that the join can run on another thread:
 * vm_vgtool_start checks what vm_vgtool_capture checks, starts Valgrind
 * and returns once the tool has started writing (its first file exists),
 * with the same errors (-EINVAL when Valgrind could not start the tool);
 * SIGINT and SIGQUIT are ignored from then until vm_vgtool_finish, which
 * joins onto out, waits for the program, fills res, cleans up and frees
 * run (also when it fails). */
struct vm_vgtool_run;
int vm_vgtool_start(char *const argv[], const struct vm_vgtool_opts *opts,
		    struct vm_vgtool_run **run, struct vm_error *err);
int vm_vgtool_finish(struct vm_vgtool_run *run, FILE *out, struct vm_vgtool_result *res,
		     struct vm_error *err);

/* Join the files PREFIX.PID.SEQ.vmt of a finished capture whose first
 * process is root (its file PREFIX.root.1.vmt) into one vmt on out, with
 * opts' compress and level (capture_join.c).  Fills res's truncated, note,
 * streams, events, accesses and stream_bytes.  0, or -ENOENT (no root
 * file), -EIO, -ENOMEM. */
int vm_vgtool_join(const char *prefix, int32_t root, const struct vm_vgtool_opts *opts, FILE *out,
		   struct vm_vgtool_result *res, struct vm_error *err);
/* The same while the capture runs: alive(ctx, pid) says whether process
 * pid may still write (its files are then read as they grow). */
int vm_vgtool_join_live(const char *prefix, int32_t root, const struct vm_vgtool_opts *opts,
			FILE *out, bool (*alive)(void *ctx, int32_t pid), void *ctx,
			struct vm_vgtool_result *res, struct vm_error *err);

#endif
