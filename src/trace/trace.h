/*
 * Traces: event sources behind one interface (DESIGN.md "Interfaces with
 * many implementations"; docs/formats.md).  A reader turns a file into a
 * stream of events; it never touches the machine.  Replay consumes the
 * events and feeds the kernel (vm_sys_* in kernel/syscalls.h, the MMU
 * through vm_user_access), so an event carries what those calls need:
 *
 *   ACCESS   pid, kind (read, write, fetch, modify), address, size and a
 *            repeat count.  Every access the stream hands out lies inside
 *            one 4 KiB page: readers may produce longer ones (lackey's
 *            straddling instructions, a kernel write of a read(2) buffer)
 *            and vm_trace_next splits them at page boundaries.
 *   SYSCALL  the amd64 number, the arguments as the trace printed them, the
 *            return value (a value or -errno) and, for a file mmap, the path
 *            of the file the descriptor named (the reader tracks openat,
 *            close, dup*).  Memory calls (mmap 9, mprotect 10, munmap 11,
 *            brk 12, mremap 25, msync 26, madvise 28, and the mlock family)
 *            are the ones readers keep.  Replay uses the returned addresses:
 *            under Valgrind the address space manager placed every mapping.
 *   MAP      one segment of the initial address space (the ELF loader's
 *            work, which no system call shows): [start, end), protection,
 *            private/shared/anonymous, file offset and path, and whether it
 *            is the initial break page or the stack.
 *   FORK     pid creates child (fork, vfork or clone without CLONE_VM: under
 *            Valgrind all are real forks).
 *   EXEC     pid's image is replaced by path; MAP events of the new image
 *            follow when the trace knows them.
 *   EXIT     pid exits with a code (exit_group, or exit of its last thread).
 *
 * Readers (one table in trace.c): lackey (Valgrind's lackey tool with
 * syscall tracing: lackey_tree.c reads a capture's logs as a process tree,
 * lackey.c one log, lackey_sys.c its SYSCALL lines, lackey_maps.c the -d
 * map), text (one access per line plus the scenario language's
 * system-call lines: text.c, text_calls.c), pages (page-number lists:
 * pages.c) and vmt (vmlab's binary format: vmt.c).  Any of them reads a file, "-" (standard input)
 * or a gzip file; the format is detected from the content unless named.
 *
 * Errors: vm_trace_next returns -EINVAL and fills t->err as FILE:LINE (text
 * formats) or FILE with "event N: ..." (vmt).  The library never prints.
 */
#ifndef VM_TRACE_TRACE_H
#define VM_TRACE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vmlab/types.h>

enum vm_tev_kind {
	VM_TEV_ACCESS = 0,
	VM_TEV_SYSCALL,
	VM_TEV_MAP,
	VM_TEV_FORK,
	VM_TEV_EXEC,
	VM_TEV_EXIT,
	VM_TEV_KINDS
};

/* Access kinds: VM_ACC_READ, VM_ACC_WRITE, VM_ACC_EXEC (types.h) and a
 * modify, lackey's M: a load and a store of the same bytes by one
 * instruction (add %eax,(%rbx); lock cmpxchg).  On x86 such an
 * instruction faults once, as a write (SDM 4.7: W/R is set for the
 * read-modify-write), so replay runs it as a write and counts both. */
#define VM_TACC_MODIFY 3

/* Event flags. */
enum {
	/* ACCESS: a write the kernel made into a user buffer (read(2),
	 * fstat(2), ...), synthesised from the call's arguments and result:
	 * natively it faults like a user write, and the trace shows no S line
	 * for it (LACKEY.md 3.2). */
	VM_TEV_F_KERNEL = 1,
	/* SYSCALL: the trace gave no return value (a hand-written text line):
	 * replay takes the kernel's own. */
	VM_TEV_F_NORET = 2,
	/* MAP: the initial break page (brk grows from its end) / the stack. */
	VM_TEV_F_HEAP = 4,
	VM_TEV_F_STACK = 8,
};

#define VM_TEV_ARGS 6
#define VM_TRACE_PATH_MAX 4095    /* bytes in a path (PATH_MAX - 1) */

struct vm_trace_event {
	uint8_t kind;             /* enum vm_tev_kind */
	uint8_t access;           /* ACCESS: VM_ACC_READ/WRITE/EXEC or VM_TACC_MODIFY */
	uint16_t flags;           /* VM_TEV_F_* */
	int32_t pid;              /* > 0 */
	const char *path;         /* SYSCALL (file mmap), MAP (file segment), EXEC; NULL
				   * if none or unknown.  Owned by the reader: valid
				   * until the next call on the trace */
	union {
		struct {
			uint64_t addr;
			uint32_t size;    /* bytes, >= 1; [addr, addr + size) in one page */
			uint64_t count;   /* repetitions, >= 1 (vmt collapses runs) */
		} acc;
		struct {
			int32_t nr;       /* amd64 system-call number */
			uint32_t nargs;   /* arguments the trace gave, <= VM_TEV_ARGS */
			uint64_t arg[VM_TEV_ARGS];
			int64_t ret;      /* value or -errno (unless VM_TEV_F_NORET) */
		} sys;
		struct {
			uint64_t start, end;  /* [start, end), page aligned, start < end */
			uint64_t offset;      /* file offset of start (0 for anonymous) */
			uint32_t prot;        /* VM_PROT_* */
			uint32_t flags;       /* VM_MAP_PRIVATE or VM_MAP_SHARED, | VM_MAP_ANONYMOUS
					       * exactly when path is NULL */
		} map;
		struct {
			int32_t child;    /* > 0 */
		} fork;
		struct {
			int32_t code;
		} exit;
	};
};

/* amd64 numbers of the calls readers keep and replay runs. */
enum {
	VM_NR_MMAP = 9, VM_NR_MPROTECT = 10, VM_NR_MUNMAP = 11, VM_NR_BRK = 12,
	VM_NR_MREMAP = 25, VM_NR_MSYNC = 26, VM_NR_MADVISE = 28,
};

/* Reader counters, X(id, name, help): `vmlab convert --stats` prints them. */
#define VM_TRACE_STATS(X) \
	X(LINES,        "lines",          "input lines read (text formats)") \
	X(LOGS,         "logs",           "lackey logs read (one per process image of a capture)") \
	X(EVENTS,       "events",         "events handed out (after page splits)") \
	X(ACCESSES,     "accesses",       "accesses, counting repetitions") \
	X(INSTR_LINES,  "instr_lines",    "lackey I lines (= Valgrind's 'guest instrs')") \
	X(DATA_LINES,   "data_lines",     "lackey L, S and M lines") \
	X(SPLITS,       "page_splits",    "accesses split because they crossed a page") \
	X(SYSCALLS,     "syscalls",       "system calls seen") \
	X(SYS_KEPT,     "syscalls_kept",  "system calls kept as events (memory calls)") \
	X(SYS_REFUSED,  "syscalls_enosys", "calls Valgrind or the kernel refused with ENOSYS") \
	X(KWRITES,      "kernel_writes",  "kernel writes into user buffers synthesised") \
	X(FD_UNKNOWN,   "fd_unknown",     "file mmaps of a descriptor whose path is unknown") \
	X(ASYNC_LOST,   "async_lost",     "blocking calls whose completion never came") \
	X(IGNORED,      "ignored_lines",  "lines that carry no event (banner, messages)")

enum vm_trace_stat {
#define VM_TRACE_STAT_ID(id, name, help) VM_TSTAT_##id,
	VM_TRACE_STATS(VM_TRACE_STAT_ID)
#undef VM_TRACE_STAT_ID
	VM_TSTAT_COUNT
};

const char *vm_trace_stat_name(unsigned i);   /* NULL past the end */
const char *vm_trace_stat_help(unsigned i);

/* The byte source under every reader: a file descriptor or a memory
 * buffer, gunzipped on the fly when it starts with gzip's magic (several
 * members in a row are read as one stream, as gzip -d does). */
struct vm_tin {
	int fd;                   /* -1 for a memory source */
	bool own_fd;
	const unsigned char *mem; /* memory source: remaining bytes */
	size_t mem_len;
	bool gz;                  /* inflating */
	void *z;                  /* z_stream when gz */
	unsigned char *raw;       /* compressed bytes read, when gz */
	size_t raw_cap;
	unsigned char *buf;       /* decoded bytes: [pos, len) not consumed yet */
	size_t pos, len, cap;
	bool eof;                 /* no byte after buf[len] */
	int error;                /* sticky: -EIO, -EBADMSG (corrupt gzip), -ENOMEM */
};

struct vm_trace;

/* One trace format. */
struct trace_ops {
	const char *name;         /* "lackey", "text", "pages", "vmt" */
	const char *desc;         /* one line for --help */
	/* Does head[0..len) (the first bytes, decompressed) look like this format? */
	bool (*detect)(const unsigned char *head, size_t len);
	/* Set up t->priv; may read a header.  0, -EINVAL (t->err), -ENOMEM. */
	int (*open)(struct vm_trace *t);
	/* The next event into ev: 1, 0 at the end, -EINVAL (t->err filled),
	 * -EIO, -ENOMEM.  An access may be longer than a page (vm_trace_next
	 * splits it); a reader with more than one event to give pushes the
	 * rest with vm_trace_push. */
	int (*next)(struct vm_trace *t, struct vm_trace_event *ev);
	void (*close)(struct vm_trace *t);
};

extern const struct trace_ops vm_trace_lackey_ops;
extern const struct trace_ops vm_trace_text_ops;
extern const struct trace_ops vm_trace_pages_ops;
extern const struct trace_ops vm_trace_vmt_ops;

/* The registry, in detection order. */
const struct trace_ops *vm_trace_format_at(unsigned i);
const struct trace_ops *vm_trace_format_find(const char *name);

struct vm_trace_opts {
	const char *format;       /* NULL: detect from the content */
	const char *maps;         /* lackey: the `valgrind -d` stderr holding the initial
				   * address map (LACKEY.md 4); NULL: none */
	bool one_log;             /* lackey: do not follow a capture's fork and exec logs */
};

#define VM_TRACE_QUEUE 8

struct vm_trace {
	const struct trace_ops *ops;
	char *name;               /* for messages: the path, or "<stdin>" */
	struct vm_trace_opts opts;
	struct vm_tin in;
	struct vm_error err;
	void *priv;               /* the reader's state */
	uint64_t stat[VM_TSTAT_COUNT];
	/* Events a reader produced ahead (vm_trace_push), in order. */
	struct vm_trace_event queue[VM_TRACE_QUEUE];
	unsigned qhead, qlen;
	/* The rest of an access being cut at page boundaries: the next piece
	 * starts at span.acc.addr and covers span_left bytes; with span_touch
	 * each piece is one byte at the start of the next page (a scenario
	 * `touch`), span_left counting pages. */
	struct vm_trace_event span;
	uint64_t span_left;
	bool span_touch;
	bool failed;              /* an error was returned: next keeps returning it */
	int last_rc;
};

/* Open path ("-" = standard input) with opts (may be NULL).  0 and *out, or
 * -ENOENT/-EACCES/... (cannot open: err names the file), -EINVAL (unknown
 * format, bad header, err filled), -ENOMEM. */
int vm_trace_open(const char *path, const struct vm_trace_opts *opts, struct vm_trace **out,
		  struct vm_error *err);
/* The same over an open descriptor (a pipe: vmlab trace replays while it
 * is written), which the trace owns from now on (closed also on failure);
 * name is for messages. */
int vm_trace_open_fd(int fd, const char *name, const struct vm_trace_opts *opts,
		     struct vm_trace **out, struct vm_error *err);
/* The same over data[0..len) (not copied: it must outlive the trace);
 * name is for messages. */
int vm_trace_open_mem(const char *name, const void *data, size_t len,
		      const struct vm_trace_opts *opts, struct vm_trace **out, struct vm_error *err);
void vm_trace_close(struct vm_trace *t);

/* The next event: 1, 0 at the end of the trace, or a negative errno with
 * t->err filled (then every later call returns the same).  ev is the
 * caller's record, reused from call to call; its path points into the
 * trace.  An ACCESS never crosses a page. */
int vm_trace_next(struct vm_trace *t, struct vm_trace_event *ev);

/* For readers. */

/* Queue an event to hand out after the one the reader returns now (at most
 * VM_TRACE_QUEUE - 1 at a time); paths must stay valid until then.
 * 0, -ENOSPC. */
int vm_trace_push(struct vm_trace *t, const struct vm_trace_event *ev);
/* A one-byte access per page of [addr, addr + len) as a scenario `touch`
 * does (at addr, then at the start of each later page): the first into ev,
 * the rest from vm_trace_next.  len > 0. */
void vm_trace_touch(struct vm_trace *t, struct vm_trace_event *ev, int32_t pid, unsigned acc,
		    uint64_t addr, uint64_t len);
/* Fill t->err with FILE:LINE: fmt and return -EINVAL. */
int vm_trace_fail(struct vm_trace *t, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Byte sources (trace_io.c). */
int vm_tin_open_fd(struct vm_tin *in, int fd, bool own);
int vm_tin_open_mem(struct vm_tin *in, const void *data, size_t len);
void vm_tin_close(struct vm_tin *in);
/* Make at least want bytes available in in->buf[pos..len) unless the input
 * ends first.  0 (check len - pos), or in->error. */
int vm_tin_fill(struct vm_tin *in, size_t want);
/* The next line without its '\n' (a '\r' before it is kept): 1 and
 * *line and *len (valid until the next call), 0 at the end, -E2BIG for a line
 * longer than max bytes, or in->error.  A last line without a newline is
 * returned as a line (*partial set). */
int vm_tin_line(struct vm_tin *in, size_t max, const char **line, size_t *len, bool *partial);

/* Writing traces. */

/* Where a writer's bytes go: a FILE, through deflate when compressed
 * (gzip wrapper for text .gz, zlib wrapper inside a vmt). */
struct vm_tout {
	FILE *f;
	void *z;                  /* z_stream while compressing, else NULL */
	unsigned char *zbuf;
	unsigned char buf[1 << 16];
	size_t len;
	int error;                /* sticky: -EIO, -ENOMEM */
};

enum vm_tout_z { VM_TOUT_PLAIN, VM_TOUT_GZIP, VM_TOUT_ZLIB };

void vm_tout_init(struct vm_tout *o, FILE *f);
/* From now on compress what is written (level 0-9, -1 default). 0, -ENOMEM. */
int vm_tout_compress(struct vm_tout *o, enum vm_tout_z how, int level);
int vm_tout_write(struct vm_tout *o, const void *p, size_t n);
int vm_tout_printf(struct vm_tout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Flush everything (ending the compressed stream) and fflush the FILE.
 * 0 or the first error.  The FILE stays open. */
int vm_tout_finish(struct vm_tout *o);

/* A writer turns events into one format. */
struct vm_trace_writer;
struct trace_writer_ops {
	const char *name;         /* "vmt", "text" */
	int (*begin)(struct vm_trace_writer *w);
	int (*put)(struct vm_trace_writer *w, const struct vm_trace_event *ev);
	int (*end)(struct vm_trace_writer *w);
	void (*free)(struct vm_trace_writer *w);
};

struct vm_trace_writer {
	const struct trace_writer_ops *ops;
	struct vm_tout out;
	bool compress;            /* vmt: zlib body; text: gzip */
	int level;                /* deflate level, -1 = zlib's default */
	uint64_t events;          /* events put */
	void *priv;
};

extern const struct trace_writer_ops vm_trace_vmt_writer;
extern const struct trace_writer_ops vm_trace_text_writer;

/* Create a writer of format name ("vmt" or "text") onto f (not closed by
 * the writer).  0, -EINVAL (unknown format), -ENOMEM. */
int vm_trace_writer_create(const char *format, FILE *f, bool compress, int level,
			   struct vm_trace_writer **out);
/* Put one event (an ACCESS inside one page, as vm_trace_next gives them).
 * 0, -EINVAL (an event the format cannot hold), -EIO. */
int vm_trace_writer_put(struct vm_trace_writer *w, const struct vm_trace_event *ev);
/* Write the end and flush.  0, -EIO. */
int vm_trace_writer_end(struct vm_trace_writer *w);
void vm_trace_writer_destroy(struct vm_trace_writer *w);

/* Does ev satisfy the event invariants above (kind, pid > 0, an access
 * inside one page with count >= 1, nargs <= 6, a map with start < end page
 * aligned and anonymous exactly when pathless, a path no longer than
 * VM_TRACE_PATH_MAX)?  NULL, or what is wrong. */
const char *vm_trace_event_invalid(const struct vm_trace_event *ev);

/* Are two events equal (paths compared as strings, unused fields ignored)? */
bool vm_trace_event_equal(const struct vm_trace_event *a, const struct vm_trace_event *b);

/* Names shared by the text formats. */
const char *vm_trace_kind_name(unsigned kind);   /* "access", "syscall", ... */
char vm_trace_acc_letter(unsigned acc);          /* 'R', 'W', 'X', 'M' */

#endif
