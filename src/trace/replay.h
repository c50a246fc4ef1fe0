/*
 * Replay: a trace's events through a machine (docs/replay.md).
 *
 * The engine consumes the events a reader hands out (trace.h) and drives
 * the kernel as the traced program drove Linux:
 *
 *   ACCESS   vm_user_access on the process's CPU (a modify runs as a write,
 *            a kernel write as vm_copy_to_user); a repeat count replays
 *            every repetition;
 *   SYSCALL  vm_sys_* with the address the trace returned (Valgrind places
 *            every mapping itself: mmap is replayed MAP_FIXED there, a moved
 *            mremap MREMAP_FIXED); calls that failed in the trace and could
 *            map something elsewhere are not replayed;
 *   MAP      the initial address space as VMAs (the stack populated, the
 *            break page left for brk to map);
 *   FORK     vm_sys_clone (Valgrind runs vfork as a fork, so does replay);
 *   EXEC     the address space is rebuilt from the MAP events that follow,
 *            or, without them, the host's file is exec'd (vm_sys_execve);
 *   EXIT     vm_sys_exit after the process's figures are taken.
 *
 * It counts what the machine's counters do not know: accesses by kind,
 * by region of the address space (text, data, bss, heap, anonymous and
 * file mmaps, stack, other) and by file; faults by region; per-process
 * figures (VSZ, RSS and their peaks); and whatever the model could not
 * replay.  The library never prints; errors name the event.
 */
#ifndef VM_TRACE_REPLAY_H
#define VM_TRACE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <vmlab/machine.h>
#include <vmlab/stats.h>
#include <vmlab/types.h>

#include "trace/trace.h"

/* Regions of an address space, by VMA (docs/replay.md has the rules). */
enum vm_rgn {
	VM_RGN_TEXT,      /* file-backed and executable: program and library code */
	VM_RGN_DATA,      /* file-backed, not executable, of a file that has code mapped */
	VM_RGN_BSS,       /* anonymous, private, right after a data VMA */
	VM_RGN_HEAP,      /* the brk area */
	VM_RGN_ANON,      /* other anonymous mappings (mmap, malloc's large chunks, thread stacks) */
	VM_RGN_FILE,      /* other file mappings (each file also listed by name) */
	VM_RGN_STACK,     /* the stack (VM_GROWSDOWN, or holding start_stack) */
	VM_RGN_OTHER,     /* special mappings ([vdso]) and addresses in no VMA */
	VM_RGN_COUNT
};

const char *vm_rgn_name(unsigned rgn);    /* "text", "data", ..., NULL past the end */

/* Accesses by kind as the trace gave them. */
enum vm_rkind {
	VM_RK_READ, VM_RK_WRITE, VM_RK_EXEC,
	VM_RK_MODIFY,     /* lackey's M: one read and one write, run as a write */
	VM_RK_KERNEL,     /* kernel writes into user buffers (read(2), fstat(2), ...) */
	VM_RK_COUNT
};

/* What happened in one region, file or process. */
struct vm_replay_use {
	uint64_t accesses;        /* counting repetitions */
	uint64_t minflt, majflt;  /* faults its accesses took */
};

enum vm_rproc_state { VM_RPROC_RUNNING, VM_RPROC_EXITED, VM_RPROC_KILLED };

/* One process of the trace, as it ended (exit, kill) or as the trace left
 * it.  Sizes in pages. */
struct vm_replay_proc {
	int32_t pid;              /* the trace's pid */
	int32_t parent;           /* the trace pid that forked it, 0 for a root */
	char name[32];            /* program (basename of the exec'd or first mapped file) */
	uint8_t state;            /* enum vm_rproc_state */
	int32_t exit_code;
	int32_t signo;            /* VM_SIGSEGV, VM_SIGBUS when killed */
	uint64_t kill_event;      /* the event that killed it */
	uint64_t kill_addr;
	struct vm_replay_use use;
	uint64_t vsz, vsz_peak;
	uint64_t rss_anon, rss_file, rss_shmem, rss_peak;
	uint64_t pt, pt_peak;     /* page-table frames (all levels below the root) */
};

struct vm_replay_file {
	char *path;               /* owned by the result */
	struct vm_replay_use use;
};

/* The cost model (settings cost_*, cpu_mhz; docs/replay.md justifies the
 * defaults). */
struct vm_replay_costs {
	uint64_t access;          /* cycles per translated access (an L1 TLB hit: free) */
	uint64_t tlb_hit;         /* cycles an L2 TLB hit adds */
	uint64_t walk_ref;        /* cycles per memory reference of a page walk */
	uint64_t minor_fault;     /* cycles per minor fault */
	uint64_t major_fault_ns;  /* nanoseconds per major fault (device time) */
	uint64_t writeback_ns;    /* nanoseconds per page written back */
	uint64_t cpu_mhz;
};

/* Counters of what replay could not do as the trace did. */
#define VM_REPLAY_NOTES(X) \
	X(SYS_REPLAYED,   "syscalls_replayed",    "memory system calls replayed") \
	X(SYS_SKIPPED,    "syscalls_not_replayed", "calls that failed in the trace (mmap, mremap, brk) and were not replayed") \
	X(SYS_MISMATCH,   "syscall_mismatches",   "calls whose result in the model differs from the trace's") \
	X(SYS_UNMODELLED, "syscalls_unmodelled",  "memory calls the model does not have (mlock, shmat, ...): skipped") \
	X(SYS_UNKNOWN,    "syscalls_unknown",     "calls that are not memory calls (--lenient): skipped") \
	X(FILE_MISSING,   "files_missing",        "file mappings whose file is not on this host: mapped anonymous") \
	X(FILE_UNKNOWN,   "files_unknown",        "file mappings of a descriptor the trace never named: mapped anonymous") \
	X(SHARED_PRIVATE, "shared_as_private",    "shared writable file mappings the model could not open writable: mapped private") \
	X(KWRITE_FAULT,   "kernel_write_efault",  "kernel writes that met no writable mapping in the model (-EFAULT)") \
	X(SEGV_SKIPPED,   "segv_skipped",         "accesses that would have raised SIGSEGV, skipped (--lenient)") \
	X(DEAD_SKIPPED,   "dead_events_skipped",  "events of a process the model had killed, skipped (--lenient)") \
	X(EXEC_HOST,      "execs_from_host",      "execs without map events, run from the host's file") \
	X(SYS_FAULTS,     "faults_in_syscalls",   "faults taken inside system calls (MAP_POPULATE, MADV_POPULATE)")

enum vm_replay_note {
#define VM_REPLAY_NOTE_ID(id, name, help) VM_RNOTE_##id,
	VM_REPLAY_NOTES(VM_REPLAY_NOTE_ID)
#undef VM_REPLAY_NOTE_ID
	VM_RNOTE_COUNT
};

const char *vm_replay_note_name(unsigned i);
const char *vm_replay_note_help(unsigned i);

/* Everything a report prints.  Pages unless a name says otherwise. */
struct vm_replay_result {
	uint64_t events;
	uint64_t ev[VM_TEV_KINDS];        /* events by kind */
	uint64_t acc[VM_RK_COUNT];        /* accesses by kind (repetitions counted) */
	struct vm_stats stats;            /* the machine's counters at the end */
	bool writeback_modelled;          /* the model counts written-back pages */
	uint64_t writeback;               /* pages written back (nr_written) */
	uint64_t rss_sum_peak;            /* peak of the RSS summed over live processes */
	uint64_t frames_peak;             /* peak of frames in use (page cache, tables included) */
	uint64_t pt_peak;                 /* peak of page-table frames, all processes */
	struct vm_replay_use rgn[VM_RGN_COUNT];
	uint64_t note[VM_RNOTE_COUNT];
	char first_mismatch[160];         /* "" or the first call the model answered otherwise */
	char first_signal[160];           /* "" or the first access that killed a process */
	struct vm_replay_costs costs;
	unsigned nprocs, nfiles;
	struct vm_replay_proc *procs;     /* in order of appearance; procs[0] the first */
	struct vm_replay_file *files;     /* sorted by path */
};

/* The estimate of the cost model: total cycles of the CPU's work (accesses,
 * TLB, walks, minor faults), device nanoseconds (major faults,
 * writeback), the total in nanoseconds and the effective access time
 * (total / accesses) in nanoseconds. */
struct vm_replay_estimate {
	double cycles, device_ns, total_ns, eat_ns, eat_cycles;
};
void vm_replay_estimate(const struct vm_replay_result *res, struct vm_replay_estimate *e);

/* Accesses translated by the MMU (reads, writes, fetches, kernel writes). */
uint64_t vm_replay_accesses(const struct vm_replay_result *res);

struct vm_trace_writer;

struct vm_replay_opts {
	bool lenient;             /* skip (and count) what cannot be replayed instead of failing */
	FILE *timeline;           /* CSV samples every `every` accesses, or NULL */
	uint64_t every;
	uint64_t maps_at;         /* after this event (1-based) print every live process's maps; 0: never */
	FILE *maps_out;
	/* Called every 2^16 events (may be NULL). */
	void (*progress)(void *ctx, uint64_t events, uint64_t accesses);
	void *ctx;
	struct vm_trace_writer *tee;   /* each event is also written here (vmlab trace --save) */
};

struct vm_replay;

/* A replay on machine m (not owned; its settings give the cost model).
 * 0, -ENOMEM, -EINVAL (a NULL argument, every without a timeline). */
int vm_replay_create(struct vm_machine *m, const struct vm_replay_opts *o, struct vm_replay **out);
void vm_replay_destroy(struct vm_replay *r);

/* One event.  0, or -EINVAL with err filled ("event N: ..."): an event the
 * model cannot replay (an unknown system call, an event of a process it
 * killed, an exec with neither maps nor a host file, ...), -ENOMEM. */
int vm_replay_event(struct vm_replay *r, const struct vm_trace_event *ev, struct vm_error *err);

/* Every event of t.  0 at the end of the trace, or the first error (the
 * reader's FILE:LINE, or the replay's "event N" with err->file the trace's
 * name), -EIO when the tee cannot be written. */
int vm_replay_run(struct vm_replay *r, struct vm_trace *t, struct vm_error *err);

/* The result so far (processes still alive are taken as they are; the last
 * timeline sample is written).  The caller frees it.  0, -ENOMEM. */
int vm_replay_result(struct vm_replay *r, struct vm_replay_result *res);
void vm_replay_result_free(struct vm_replay_result *res);

/* The CSV header the timeline gets. */
extern const char vm_replay_timeline_header[];

#endif
