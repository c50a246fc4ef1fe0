/*
 * The lackey reader's parts (private to src/trace/): the SYSCALL line
 * grammar and what each call means for memory (lackey_sys.c), the initial
 * address map from `valgrind -d` (lackey_maps.c), the reader (lackey.c).
 * The shapes are those of ../shared/LACKEY.md (Valgrind 3.19, amd64).
 */
#ifndef VM_TRACE_LACKEY_H
#define VM_TRACE_LACKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/trace.h"

#define LK_ARGS_MAX 8
#define LK_LINE_MAX (64 * 1024)   /* a SYSCALL line holds at most a few paths */

enum lk_status {
	LK_ST_NONE,       /* not on this line: a continuation line brings it */
	LK_ST_SUCCESS,    /* Success(0x..): result is the return value */
	LK_ST_FAILURE,    /* Failure(0x..): result is the errno */
	LK_ST_NOWRITE,    /* [pre-success] NoWriteResult (rt_sigreturn) */
	LK_ST_ASYNC,      /* --> [async] ...: the result comes on a completion line */
};

/* One system call as a SYSCALL line (and its continuation or completion)
 * describes it. */
struct lk_call {
	int32_t pid, tid, nr;
	bool args_ok;                 /* NAME ( ARGS ) parsed */
	unsigned nargs;
	uint64_t arg[LK_ARGS_MAX];    /* as printed: 0x hex, decimal (-1 as 4294967295) */
	int path_arg;                 /* the first `0xADDR(path)` argument, or -1 */
	char path[VM_TRACE_PATH_MAX + 1];
	int32_t child;                /* "... created child N" (fork-like calls), else 0 */
	enum lk_status status;
	uint64_t result;
};

/* Line shapes (LACKEY.md 2). */

/* "SYSCALL[pid,tid](nr) " at s: fill those three, *rest = what follows.
 * false if the head is malformed. */
bool lk_parse_head(const char *s, size_t n, struct lk_call *c, size_t *rest);
/* A completion line's body "... [async] --> Success(0x..) "? */
bool lk_is_completion(const char *s, size_t n);
/* Find and parse the status in s[0..n) (the part after the head, a
 * continuation line, or a completion's body): c->status, c->result.
 * LK_ST_NONE when the line has none; -1 for a status that does not parse. */
int lk_parse_status(const char *s, size_t n, struct lk_call *c);
/* The wrapper text "NAME ( ARGS )" at the start of s[0..n): c->args_ok,
 * nargs, arg, path_arg, path, and a "created child N" message after it. */
void lk_parse_wrapper(const char *s, size_t n, struct lk_call *c);

/* What calls mean (tables in lackey_sys.c). */

/* Is nr a call whose events readers keep (memory calls)?  Its expected
 * argument count range into *min and *max. */
bool lk_sys_kept(int32_t nr, unsigned *min, unsigned *max);
/* The short name of a call ("mmap"), or NULL. */
const char *lk_sys_name(int32_t nr);

/* Kernel writes into user buffers a finished call c made: up to two
 * (address, length) pairs; returns how many (0 for calls that write none,
 * or on failure). */
unsigned lk_sys_user_writes(const struct lk_call *c, uint64_t addr[2], uint64_t len[2]);

/* Descriptor -> path table of one process (openat, close, dup*). */
struct lk_fdtab {
	char **path;                  /* by fd; NULL = closed or unknown */
	unsigned cap;
};

#define LK_FD_MAX 65536u

void lk_fd_free(struct lk_fdtab *t);
/* The path fd names, or NULL. */
const char *lk_fd_path(const struct lk_fdtab *t, uint64_t fd);
/* Apply a finished call (openat, open, creat, memfd_create, dup, dup2,
 * dup3, fcntl F_DUPFD*, close, close_range).  0 or -ENOMEM. */
int lk_fd_apply(struct lk_fdtab *t, const struct lk_call *c);

/* The initial address map from `valgrind -d` stderr (LACKEY.md 4). */
struct lk_segment {
	uint64_t start, end;          /* [start, end) */
	uint64_t offset;
	uint32_t prot;                /* VM_PROT_* */
	uint16_t flags;               /* VM_TEV_F_HEAP / VM_TEV_F_STACK */
	char *path;                   /* NULL for anonymous */
};

struct lk_map {
	int32_t pid;                  /* the pid that printed the table */
	long line;                    /* where the table starts in the file */
	const char *program;          /* the lowest file segment's path (the executable) */
	struct lk_segment *seg;       /* client segments, ascending */
	size_t nseg;
	bool used;
};

struct lk_maps {
	struct lk_map *map;           /* every "Memory layout at client startup" table */
	size_t nmap;
	uint64_t tramp_start;         /* Valgrind's trampoline in the logs (the first table's) */
	uint64_t tramp_len;           /* 0: no table has one */
};

/* Where the traces put Valgrind's trampoline, whichever Valgrind tool made
 * them (lackey's is at 0x5807d000, vmlab's at 0x5807e000: inside each
 * tool's text): the address every amd64 Valgrind tool is linked at, which
 * no client mapping can take in either capture.  src/vgtool/vgt.h has the
 * same value (VGT_TRAMPOLINE); docs/vgtool.md "Differences from lackey". */
#define VM_VG_TRAMPOLINE 0x58000000ull

/* Read every startup table of the -d stderr at path (plain or gzip).
 * 0, or -EINVAL with err (FILE:LINE), -ENOENT..., -ENOMEM. */
int lk_maps_load(struct lk_maps *m, const char *path, struct vm_error *err);
/* The same from an open byte source; name is for messages. */
int lk_maps_read(struct lk_maps *m, struct vm_tin *in, const char *name, struct vm_error *err);
void lk_maps_free(struct lk_maps *m);
/* The table for the log of process pid running command (the banner's
 * Command line, or NULL): the table of that pid; else the first unused
 * one whose program (its lowest file segment) has the basename of the
 * command or of the file the command resolves to through $PATH and
 * symbolic links (sh runs /usr/bin/dash); else the first unused one (the
 * -d run starts its processes in the traced run's order).  NULL if all
 * are used. */
struct lk_map *lk_maps_pick(struct lk_maps *m, int32_t pid, const char *command);

/* One log (lackey.c): the reader of one process image. */
struct lk_log;

/* Does the head of a file look like a lackey log? */
bool lk_detect(const unsigned char *head, size_t len);
/* A reader of one log named name over in (closed and freed with the log
 * when own_in), of the log's sequence number seq (N of NAME.PID.N.log, 0 if
 * unknown), of process pid (0: learn it from the log; else its lines must
 * be that process's); maps (NULL: none) gives the initial map of a log that
 * starts a process image (seq <= 1).  0, -ENOMEM. */
int lk_log_open(struct lk_log **out, const char *name, struct vm_tin *in, bool own_in, int seq,
		int32_t pid, struct lk_maps *maps);
void lk_log_free(struct lk_log *lk);
/* The next event of the log: 1, 0 at its end, or an error with t->err
 * naming the log's file and line. */
int lk_log_next(struct vm_trace *t, struct lk_log *lk, struct vm_trace_event *ev);
struct lk_fdtab *lk_log_fds(struct lk_log *lk);
int32_t lk_log_pid(const struct lk_log *lk);
int lk_log_seq(const struct lk_log *lk);
/* Copy src's descriptors into dst (a fork child inherits them). 0, -ENOMEM. */
int lk_fd_copy(struct lk_fdtab *dst, const struct lk_fdtab *src);

#endif
