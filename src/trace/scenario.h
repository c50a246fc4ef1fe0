/*
 * The scenario language (docs/scenarios.md), private to src/trace/:
 * the parsed program (statements and expression trees in flat arrays,
 * indexes rather than pointers), the parser, the expression evaluator and
 * the runner.  The public entry points are in include/vmlab/scenario.h.
 *
 * The parser knows no kernel: parsing and evaluating expressions work on
 * their own (tests/unit/test_scenario.c, tests/fuzz/fuzz_scenario.c).
 */
#ifndef VM_TRACE_SCENARIO_H
#define VM_TRACE_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vmlab/settings.h>
#include <vmlab/types.h>

#include "base/compiler.h"

#define SCN_LINE_MAX  1024     /* bytes in a line, newline excluded */
#define SCN_IDENT_MAX 31       /* characters in a name (a process name fits VM_PROC_NAME) */
#define SCN_PROCS_MAX 256      /* processes in one scenario */
#define SCN_NAMES_MAX 4096     /* names bound by mmap, mremap ... as, let */
#define SCN_DEPTH_MAX 64       /* nesting of parentheses and unary minus */

/* Expression nodes.  Values are 64-bit two's complement integers; + - *
 * wrap (computed unsigned), / and % truncate as C does (INT64_MIN / -1
 * wraps).  A comparison is 1 or 0. */
enum scn_ekind {
	SCN_E_NUM,         /* v: a literal or a named constant (hint says which) */
	SCN_E_NAME,        /* a: index of a bound name */
	SCN_E_COUNTER,     /* a: machine counter (enum vm_counter_id) */
	SCN_E_FIELD,       /* a: process index, b: enum scn_field */
	SCN_E_NEG,         /* -a */
	SCN_E_ADD,         /* a + b */
	SCN_E_SUB,         /* a - b */
	SCN_E_MUL,         /* a * b */
	SCN_E_DIV,         /* a / b, truncated toward 0 */
	SCN_E_MOD,         /* a % b, the sign of a */
	SCN_E_CMP,         /* a OP b, op: enum scn_cmp */
};

enum scn_cmp { SCN_EQ, SCN_NE, SCN_LT, SCN_LE, SCN_GT, SCN_GE };

/* How to print a value in a failed expect. */
enum scn_hint { SCN_H_PLAIN, SCN_H_ERRNO, SCN_H_SIGNAL, SCN_H_SIGCODE };

struct scn_expr {
	uint8_t kind;      /* enum scn_ekind */
	uint8_t op;        /* enum scn_cmp for SCN_E_CMP */
	uint8_t hint;      /* enum scn_hint */
	int32_t a, b;      /* operands: node indexes, or as the kind says */
	int64_t v;         /* SCN_E_NUM */
};

/* Per-process figures: `A.name`.  X(id, name, help). */
#define SCN_FIELDS(X) \
	X(PID,          "pid",          "process id") \
	X(PPID,         "ppid",         "parent's pid (0: none, as for an orphan or a scenario process)") \
	X(CPU,          "cpu",          "the CPU it runs on") \
	X(ALIVE,        "alive",        "1 while the process runs, 0 once it exited or was killed") \
	X(EXIT_CODE,    "exit_code",    "the code given to exit") \
	X(LAST,         "last",         "return value of the last system call (a value or -errno)") \
	X(SIGNAL,       "signal",       "signal that killed the process (SIGSEGV, SIGBUS), 0 if none") \
	X(SIGCODE,      "sigcode",      "si_code of that signal (SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR)") \
	X(SIGADDR,      "sigaddr",      "faulting address of that signal (si_addr)") \
	X(MINOR_FAULTS, "minor_faults", "minor faults (ru_minflt)") \
	X(MAJOR_FAULTS, "major_faults", "major faults (ru_majflt)") \
	X(RSS,          "rss",          "resident set, bytes (VmRSS: anon + file + shmem)") \
	X(RSS_ANON,     "rss_anon",     "resident anonymous memory, bytes (RssAnon)") \
	X(RSS_FILE,     "rss_file",     "resident file pages, bytes (RssFile)") \
	X(RSS_SHMEM,    "rss_shmem",    "resident shared memory, bytes (RssShmem)") \
	X(SWAP,         "swap",         "swapped-out anonymous memory, bytes (VmSwap)") \
	X(HWM,          "hwm",          "peak resident set, bytes (VmHWM)") \
	X(VSZ,          "vsz",          "virtual size: bytes in all VMAs (VmSize)") \
	X(VM_PEAK,      "vm_peak",      "peak virtual size, bytes (VmPeak)") \
	X(DATA,         "data",         "private writable non-stack memory, bytes (VmData)") \
	X(STACK,        "stack",        "stack VMAs, bytes (VmStk)") \
	X(EXEC,         "exec",         "executable non-stack mappings, bytes (VmExe + VmLib)") \
	X(LOCKED,       "locked",       "locked memory, bytes (VmLck)") \
	X(PT,           "pt",           "page-table memory, bytes (VmPTE, the root included)") \
	X(VMAS,         "vmas",         "VMAs in the address space (map_count)") \
	X(BRK,          "brk",          "current program break") \
	X(START_BRK,    "start_brk",    "start of the heap") \
	X(START_STACK,  "start_stack",  "top of the initial stack") \
	X(MMAP_BASE,    "mmap_base",    "where top-down mmap allocations start") \
	X(VALUE,        "value",        "first 8 bytes (little endian) of the last read (data mode)")

enum scn_field {
#define SCN_FIELD_ID(id, name, help) SCN_F_##id,
	SCN_FIELDS(SCN_FIELD_ID)
#undef SCN_FIELD_ID
	SCN_F_COUNT
};

const char *scn_field_name(unsigned f);    /* NULL past the end */
const char *scn_field_help(unsigned f);

/* Statements. */
enum scn_verb {
	SCN_PROCESS,       /* process NAME */
	SCN_MMAP,          /* P mmap NAME LEN PROT FLAGS [file PATH [OFF]] [at ADDR] */
	SCN_MUNMAP,        /* P munmap ADDR LEN */
	SCN_MPROTECT,      /* P mprotect ADDR LEN PROT */
	SCN_BRK,           /* P brk +N | -N | ADDR */
	SCN_MREMAP,        /* P mremap ADDR OLD NEW [FLAGS] [at ADDR] [as NAME] */
	SCN_MADVISE,       /* P madvise ADDR LEN ADVICE */
	SCN_MSYNC,         /* P msync ADDR LEN FLAGS */
	SCN_READ,          /* P read ADDR [LEN] */
	SCN_WRITE,         /* P write ADDR [LEN [VALUE]] */
	SCN_EXEC,          /* P exec ADDR [LEN] */
	SCN_TOUCH,         /* P touch ADDR LEN read|write|exec */
	SCN_EXIT,          /* P exit [CODE] */
	SCN_EXECVE,        /* P exec PATH [ARG...]: path = PATH, then the args, flags = their count */
	SCN_FORK,          /* P fork CHILD [cpu N] */
	SCN_VFORK,         /* P vfork CHILD */
	SCN_THREAD,        /* P thread CHILD [cpu N] */
	SCN_WAIT,          /* P wait CHILD */
	SCN_LET,           /* let NAME EXPR */
	SCN_SHOW_MAPS,     /* show P maps */
	SCN_SHOW_SMAPS,    /* show P smaps */
	SCN_SHOW_STATUS,   /* show P status */
	SCN_SHOW_PT,       /* show P pagetable ADDR */
	SCN_SHOW_STATS,    /* show stats */
	SCN_SHOW_SWAPS,    /* show swaps: /proc/swaps */
	SCN_SHOW_EXPR,     /* show EXPR */
	SCN_EXPECT,        /* expect EXPR OP EXPR */
	SCN_FILE,          /* file PATH SIZE: an in-memory (tmpfs) file */
};

#define SCN_NONE (-1)

struct scn_stmt {
	long line;
	uint8_t verb;          /* enum scn_verb */
	char brk_sign;         /* brk: '+', '-' or 0 (absolute) */
	int proc;              /* process index, or SCN_NONE */
	int name;              /* name bound by mmap / mremap as / let, or SCN_NONE */
	int arg[4];            /* expression roots, SCN_NONE when absent (see each verb) */
	int prot;              /* mmap, mprotect: VM_PROT_* */
	int flags;             /* mmap: VM_MAP_*; mremap: VM_MREMAP_*; msync: VM_MS_*;
				  madvise: VM_MADV_*; touch: VM_ACC_* */
	int path;              /* mmap file, file: offset of the path in the string pool, or SCN_NONE */
	int text;              /* expect, show EXPR: offset of the source text in the pool */
	int left, right;       /* expect: offsets of both sides' source text */
	int child;             /* fork, vfork, thread: the new process; wait: the one
				  waited for (process indexes), else SCN_NONE */
};

/* Operand slots of arg[]. */
enum { SCN_A_ADDR = 0, SCN_A_LEN = 1, SCN_A_LEN2 = 2, SCN_A_EXTRA = 3 };
/*   mmap:   LEN=len, EXTRA=at, LEN2=file offset (ADDR unused)
 *   mremap: ADDR, LEN=old, LEN2=new, EXTRA=at
 *   brk:    ADDR = the amount or the address
 *   write:  ADDR, LEN, EXTRA=value;  read/exec/touch: ADDR, LEN
 *   exit:   ADDR = code;  let, show EXPR, expect: ADDR = the root
 *   file:   LEN = the size (path in `path`)
 *   fork, thread: ADDR = the CPU (SCN_NONE: the kernel's choice) */

struct scn_name {
	char id[SCN_IDENT_MAX + 1];
	int proc;              /* process index if the name is a process, else SCN_NONE */
};

struct scn_proc {
	int name;              /* its entry in names */
	long exit_line;        /* line of its `exit` statement, 0 if none */
};

struct scn_prog {
	const char *file;              /* for messages (not owned) */
	struct scn_stmt *stmts;
	size_t nstmts, stmts_cap;
	struct scn_expr *ex;
	size_t nex, ex_cap;
	struct scn_name *names;        /* processes and bound names: one namespace */
	size_t nnames, names_cap;
	struct scn_proc *procs;        /* by process index */
	size_t nprocs, procs_cap;
	char *pool;                    /* NUL-terminated strings (paths, expect text) */
	size_t pool_len, pool_cap;
	struct vm_settings *settings;  /* base + the scenario's set lines (owned) */
	size_t nexpects;
};

/* Parse text[0..len) (name for messages) into prog.  base (may be NULL)
 * supplies the settings; `set` lines change those that base did not set
 * explicitly (--set wins over the file).  Returns 0, -EINVAL with err =
 * FILE:LINE: what is wrong (nothing runs), or -ENOMEM.  On any return the
 * caller frees prog with scn_prog_free. */
int scn_parse(struct scn_prog *prog, const char *name, const char *text, size_t len,
	      const struct vm_settings *base, struct vm_error *err);
void scn_prog_free(struct scn_prog *prog);

static inline const char *scn_str(const struct scn_prog *prog, int off)
{
	return off == SCN_NONE ? NULL : prog->pool + off;
}

/* Room for element n of an array of *cap elements of size bytes: p itself,
 * or p moved to a doubled array (*cap updated), or NULL (p unchanged). */
void *scn_grow(void *p, size_t *cap, size_t n, size_t size);

struct scn_cursor;

/* Declare the process called w (a `process` statement, or the child of
 * fork, vfork, thread): checked and bound; its index in *proc.
 * 0, -EINVAL with err, -ENOMEM. */
int scn_add_process(struct scn_prog *prog, struct scn_cursor *cur, const char *w, int *proc,
		    struct vm_error *err);
/* The process index of the process name w, or -1. */
int scn_proc_find(const struct scn_prog *prog, const char *w);

/* The name (process or bound) called id, or -1. */
int scn_name_find(const struct scn_prog *prog, const char *id);

/* Expressions (scenario_expr.c). */

/* Where the evaluator gets what the program does not hold. */
struct scn_env {
	int64_t (*name)(void *ctx, int name);
	uint64_t (*counter)(void *ctx, unsigned id);
	int64_t (*field)(void *ctx, int proc, unsigned field);
	void *ctx;
};

/* The value of the expression at root into *out: 0, or -EDOM when it
 * divides by zero (*out is then meaningless). */
int scn_eval(const struct scn_prog *prog, int root, const struct scn_env *env, int64_t *out);
bool scn_compare(enum scn_cmp op, int64_t x, int64_t y);

/* The lexer state of one line while it is parsed. */
struct scn_cursor {
	const char *file;      /* for messages */
	const char *s;         /* the line, NUL terminated */
	size_t pos;
	long line;
	int depth;
	size_t cmp_start, cmp_end;   /* set by a comparison: where its operator is */
};

/* Parse an arithmetic expression (cmp true: `a OP b` with a comparison)
 * at cur into prog; *root is its node.  Ends where the next token cannot
 * continue it.  0, -EINVAL (err filled), -ENOMEM. */
int scn_parse_expr(struct scn_prog *prog, struct scn_cursor *cur, bool cmp, int *root,
		   struct vm_error *err);

/* Parsing helpers shared by scenario_parse.c and scenario_verbs.c. */

/* Skip blanks at cur. */
void scn_skip_space(struct scn_cursor *cur);
/* The next whitespace-delimited word into buf (cut to len - 1; empty at the
 * end of the line or at a comment), consumed when take. */
void scn_peek_word(struct scn_cursor *cur, char *buf, size_t len, bool take);
/* Does the next word start a statement (a keyword or a process name), or
 * is the line over?  Optional operands are present only when it does not. */
bool scn_at_stmt_start(struct scn_cursor *cur, const struct scn_prog *prog);
/* Define the name w (a process's when proc != SCN_NONE): checked (syntax,
 * length, reserved, defined before) and added; its index in *out.
 * 0, -EINVAL with err, -ENOMEM. */
int scn_bind_name(struct scn_prog *prog, struct scn_cursor *cur, const char *w, int proc,
		  struct vm_error *err, int *out);
/* s[0..len) and a NUL into the string pool; its offset in *off.  0, -ENOMEM. */
int scn_pool_add(struct scn_prog *prog, const char *s, size_t len, int *off);
/* An expression operand: required ("missing WHAT" at the end of the line),
 * or optional (left SCN_NONE when a statement starts next). */
int scn_operand(struct scn_prog *prog, struct scn_cursor *cur, const char *what, int *slot,
		struct vm_error *err);
int scn_opt_operand(struct scn_prog *prog, struct scn_cursor *cur, int *slot, struct vm_error *err);

/* Verbs (scenario_verbs.c). */

/* The enum scn_verb of a verb word (mmap, read, ...), or -1. */
int scn_verb_find(const char *w);
/* The operands of `P verb ...` (st->verb and st->proc set). */
int scn_parse_verb(struct scn_prog *prog, struct scn_cursor *cur, struct scn_stmt *st,
		   struct vm_error *err);
/* The words a value takes in a statement, for writers of scenario lines
 * (the text trace format): mmap, mremap and msync flags as a comma list,
 * madvise advice as one word.  true and buf filled when the words say
 * exactly value; false when a bit or value has no word (or value is 0 for
 * a list, which needs one word). */
enum scn_wordset { SCN_WORDS_MMAP, SCN_WORDS_MREMAP, SCN_WORDS_MSYNC, SCN_WORDS_ADVICE };
bool scn_format_words(enum scn_wordset set, int value, char *buf, size_t len);
/* A view after `show P`: SCN_SHOW_MAPS, _SMAPS, _STATUS or _PT in *view. */
int scn_parse_view(struct scn_cursor *cur, int *view, struct vm_error *err);

/* Look up a named constant (ENOMEM, SIGSEGV, SEGV_ACCERR, ...). */
bool scn_constant(const char *id, int64_t *v, enum scn_hint *hint);
/* The name of an errno value (12 -> "ENOMEM"), a signal or a si_code; NULL if unknown. */
const char *scn_errno_name(int64_t e);
const char *scn_signal_name(int64_t s);
const char *scn_sigcode_name(int64_t code);

/* A value as a failed expect prints it: "12288 (12K)", "-12 (-ENOMEM)". */
void scn_format_value(int64_t v, enum scn_hint hint, char *buf, size_t len);

/* Index of a process figure by name, or -1. */
int scn_field_find(const char *name);

/* Words reserved for the language: keywords, verbs, counters, constants. */
bool scn_reserved(const char *id);

/* Running (scenario_run.c, scenario_calls.c, scenario_show.c). */

struct vm_machine;
struct vm_kernel;
struct vm_proc;
struct vmlab_scenario_opts;

/* One piece of output (a show, a notice) kept for the JSON document. */
struct scn_out {
	long line;
	size_t start, end;     /* [start, end) of the capture buffer */
};

struct scn_run {
	const struct scn_prog *prog;
	const struct vmlab_scenario_opts *opts;
	struct vm_machine *m;
	struct vm_kernel *k;
	bool data;                     /* frames hold bytes: reads return them */
	struct vm_proc **procs;        /* by process index; NULL before its `process` */
	int64_t *last;                 /* by process: A.last */
	int64_t *value;                /* by process: A.value */
	struct vm_proc **reaped;       /* by process: what was left of it when a wait reaped it
					* (procs[] then points here; owned) */
	long *killed_line;             /* by process: where a signal killed it, 0 = not */
	int64_t *names;                /* values of bound names */
	FILE *out;                     /* where shows print: opts->out, or the capture */
	FILE *capture;                 /* memstream for JSON (and for out == NULL) */
	char *cap_buf;
	size_t cap_len;
	struct scn_out *outs;
	size_t nouts, outs_cap;
	unsigned failures;             /* failed expects */
	bool stopped;                  /* a runtime error ended the run */
	struct vm_error first;         /* the first failure or error */
	struct vm_error *failed;       /* every failure, for JSON */
	size_t nfailed, failed_cap;
};

/* A process figure (SCN_F_*) of process index proc, now. */
int64_t scn_figure(const struct scn_run *r, int proc, unsigned field);

/* The name process index proc has in the scenario. */
static inline const char *scn_proc_name(const struct scn_run *r, int proc)
{
	return r->prog->names[r->prog->procs[proc].name].id;
}

/* An error that stops the run at line: recorded (the first one becomes
 * the run's error), reported, kept for JSON. */
void VM_PRINTF(3, 4) scn_stop(struct scn_run *r, long line, const char *fmt, ...);
/* Start a piece of output, "== line N: ..." and a newline on r->out, and
 * remember where it starts for JSON; scn_out_end marks where it ends. */
void VM_PRINTF(3, 4) scn_out_begin(struct scn_run *r, long line, const char *fmt, ...);
void scn_out_end(struct scn_run *r);

/* Statements a process runs (scenario_calls.c): an access, a memory
 * system call, exit, exec, fork, vfork, thread or wait by p, the running
 * process st names; v holds st's operands, evaluated.  Errors stop the
 * run (scn_stop); a signal that kills p is a notice in the output. */
void scn_run_call(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		  const int64_t *v);

/* Shows (scenario_show.c): each writes to r->out. */
void scn_show_pagetable(struct scn_run *r, int proc, uint64_t va);
void scn_show_stats(struct scn_run *r);
/* The JSON document of a finished run to f. */
void scn_write_json(struct scn_run *r, FILE *f, int result);

#endif
