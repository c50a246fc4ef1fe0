/*
 * Replay's state, shared by replay.c (events, processes, the access path),
 * replay_sys.c (system calls) and replay_region.c (regions of an address
 * space).  Private to src/trace/replay*.c.
 */
#ifndef VM_TRACE_REPLAY_INTERNAL_H
#define VM_TRACE_REPLAY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/machine.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "trace/replay.h"

#define RP_NOFILE UINT32_MAX

/* One VMA as replay sees it: its region, its file, the kinds of access
 * it allows, and what its accesses did since the map was built.  [start,
 * start + len). */
struct rp_region {
	uint64_t start, len;
	uint32_t cls;             /* enum vm_rgn */
	uint32_t file;            /* index in r->files, or RP_NOFILE */
	uint32_t allow;           /* bit (1 << VM_ACC_READ/WRITE/EXEC): the VMA permits it */
	struct vm_replay_use use;
};

/* A process of the trace. */
struct rp_proc {
	struct vm_proc *p;        /* the model's process; NULL once dead */
	struct rp_region *rg;     /* the VMAs in address order (host memory) */
	unsigned nrg, cap;
	bool stale;               /* the VMAs changed: rebuild before the next lookup */
	struct rp_region outside; /* accesses in no VMA (len 0: never matches) */
	struct rp_region *last[3];/* regions of the last data access, the last fetch, and the
				   * data access before (a loop's stack and heap) */
	bool exec_pending;        /* an EXEC came: MAP events may follow */
	char *exec_path;
	bool named;               /* figs.name came from an exec or a program map */
	uint64_t rss_counted;     /* its RSS as summed in r->rss_sum */
	struct vm_replay_proc figs;
};

struct rp_file {
	char *path;
	struct vm_replay_use use;
};

struct vm_replay {
	struct vm_machine *m;
	struct vm_kernel *k;
	struct vm_replay_opts o;
	struct vm_replay_result res;      /* counters filled as events come */

	struct rp_proc **procs;           /* every process the trace named, in order */
	unsigned nprocs, procs_cap;
	struct rp_proc *cur;              /* the process of the last event */

	struct rp_file *files;
	unsigned nfiles, files_cap;

	uint64_t accesses;                /* all kinds, repetitions counted */
	uint64_t seen_pgfault;            /* k->stats->pgfault when last looked */
	uint64_t seen_minflt, seen_majflt, seen_grow;
	uint64_t rss_sum;                 /* RSS summed over live processes (pages) */
	uint64_t next_sample;             /* accesses at which the timeline samples next */
	int nr_written;                   /* counter index of nr_written, or -1 */
};

/* replay.c */
int rp_fail(struct vm_replay *r, struct vm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Take the process's figures (sizes now and their peaks) and the machine's
 * peaks after something changed its address space. */
void rp_update(struct vm_replay *r, struct rp_proc *pp);
/* Faults since last looked: their deltas, and the stack-growth check. */
void rp_fault_deltas(struct vm_replay *r, struct rp_proc *pp, uint64_t *dmin, uint64_t *dmaj);
/* Faults taken outside an access (a populating call, the initial stack):
 * into region class rgn, or (rgn < 0) the faults_in_syscalls note. */
void rp_absorb_faults(struct vm_replay *r, struct rp_proc *pp, int rgn);

/* replay_proc.c: processes and the events that make and end them. */
struct rp_proc *rp_proc_find(struct vm_replay *r, int32_t pid);
/* A process the trace starts without a fork: an empty address space. */
int rp_proc_root(struct vm_replay *r, int32_t pid, struct rp_proc **out, struct vm_error *err);
/* It exited or was killed: figures kept, counts folded, the model reaps it. */
void rp_proc_gone(struct vm_replay *r, struct rp_proc *pp);
/* An event for a process that is no more: an error, or skipped (--lenient). */
int rp_proc_dead(struct vm_replay *r, struct rp_proc *pp, struct vm_error *err);
/* An exec with no map events after it: the host's program. */
int rp_exec_host(struct vm_replay *r, struct rp_proc *pp, struct vm_error *err);
int rp_fork(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
	    struct vm_error *err);
int rp_exec(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
	    struct vm_error *err);
void rp_exit(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev);
int rp_map(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
	   struct vm_error *err);

/* replay_sys.c: a SYSCALL event of a live process. */
int rp_syscall(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
	       struct vm_error *err);
/* Open path in the model and map it (MAP events and file mmaps), falling
 * back to an anonymous mapping (counted) when the host has no such file. */
long rp_mmap_file(struct vm_replay *r, struct rp_proc *pp, const char *path, vm_vaddr addr,
		  uint64_t len, int prot, int flags, uint64_t off);

/* replay_region.c */
struct rp_region *rp_region_find(struct vm_replay *r, struct rp_proc *pp, vm_vaddr addr);
/* Fold each region's counts into the totals (by class and file) and
 * empty the counts. */
void rp_region_flush(struct vm_replay *r, struct rp_proc *pp);
void rp_region_free(struct rp_proc *pp);

/* Forget the cached regions (their array changes or goes). */
static inline void rp_region_forget(struct rp_proc *pp)
{
	pp->last[0] = pp->last[1] = pp->last[2] = &pp->outside;
}

/* The VMAs changed: rebuild the regions before the next lookup. */
static inline void rp_mark_stale(struct rp_proc *pp)
{
	pp->stale = true;
	rp_region_forget(pp);
}

/* The region of addr for a data access (fetch = 0) or a fetch (1): one of
 * the last ones if it holds addr, else a lookup. */
static inline struct rp_region *rp_region_of(struct vm_replay *r, struct rp_proc *pp,
					     vm_vaddr addr, unsigned fetch)
{
	struct rp_region *g = pp->last[fetch];
	if (__builtin_expect(addr - g->start < g->len, 1))
		return g;
	if (!fetch) {
		g = pp->last[2];
		if (addr - g->start < g->len) {
			pp->last[2] = pp->last[0];
			pp->last[0] = g;
			return g;
		}
		pp->last[2] = pp->last[0];
	}
	g = rp_region_find(r, pp, addr);
	pp->last[fetch] = g;
	return g;
}

#endif
