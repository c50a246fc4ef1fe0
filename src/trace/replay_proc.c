/*
 * Replay's processes (replay.h): the first process of a trace, the
 * initial address map, fork, exec (from map events or the host's file),
 * exit, and what becomes of a process the model killed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "kernel/exec.h"
#include "kernel/fault.h"
#include "kernel/fork.h"
#include "kernel/mm.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "trace/replay_internal.h"

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

static void set_name(struct rp_proc *pp, const char *path)
{
	snprintf(pp->figs.name, sizeof(pp->figs.name), "%s", base_name(path));
	pp->named = true;
}

static struct rp_proc *proc_add(struct vm_replay *r, int32_t pid, int32_t parent)
{
	if (r->nprocs == r->procs_cap) {
		unsigned cap = r->procs_cap ? 2 * r->procs_cap : 8;
		struct rp_proc **n = realloc(r->procs, cap * sizeof(*n));
		if (!n)
			return NULL;
		r->procs = n;
		r->procs_cap = cap;
	}
	struct rp_proc *pp = calloc(1, sizeof(*pp));
	if (!pp)
		return NULL;
	pp->outside.cls = VM_RGN_OTHER;
	pp->outside.file = RP_NOFILE;
	rp_region_forget(pp);
	pp->stale = true;
	pp->figs.pid = pid;
	pp->figs.parent = parent;
	snprintf(pp->figs.name, sizeof(pp->figs.name), "pid %" PRId32, pid);
	r->procs[r->nprocs++] = pp;
	return pp;
}

/* The newest process with the trace's pid, or NULL. */
struct rp_proc *rp_proc_find(struct vm_replay *r, int32_t pid)
{
	for (unsigned i = r->nprocs; i-- > 0;)
		if (r->procs[i]->figs.pid == pid)
			return r->procs[i];
	return NULL;
}

/* A process the trace starts without a fork: an empty address space (its
 * MAP events build it), no stack, no program. */
int rp_proc_root(struct vm_replay *r, int32_t pid, struct rp_proc **out, struct vm_error *err)
{
	struct vm_mm *mm;
	struct vm_proc *p;
	struct rp_proc *pp = proc_add(r, pid, 0);
	if (!pp || vm_mm_create(r->k, &mm))
		return rp_fail(r, err, "out of memory"), -ENOMEM;
	if (vm_proc_alloc(r->k, pp->figs.name, &p)) {
		vm_mm_put(r->k, mm);
		return rp_fail(r, err, "out of memory"), -ENOMEM;
	}
	p->mm = mm;
	pp->p = p;
	*out = pp;
	return 0;
}

/* A process ends (exit or kill): its figures, its regions' counts, its
 * RSS out of the sum; the model's process is reaped. */
void rp_proc_gone(struct vm_replay *r, struct rp_proc *pp)
{
	rp_region_flush(r, pp);
	rp_region_free(pp);
	r->rss_sum -= pp->rss_counted;
	pp->rss_counted = 0;
	if (pp->p) {
		pp->figs.use.minflt = pp->p->min_flt;
		pp->figs.use.majflt = pp->p->maj_flt;
		vm_proc_reap(r->k, pp->p);
		pp->p = NULL;
	}
}

/* An event for a process that is no more. */
int rp_proc_dead(struct vm_replay *r, struct rp_proc *pp, struct vm_error *err)
{
	const struct vm_replay_proc *f = &pp->figs;
	if (r->o.lenient) {
		r->res.note[VM_RNOTE_DEAD_SKIPPED]++;
		return 0;
	}
	if (f->state == VM_RPROC_KILLED)
		return rp_fail(r, err, "pid %" PRId32 " (%s) was killed by %s at event %" PRIu64
			       " (at 0x%" PRIx64 "), yet the trace goes on with it: the model and the "
			       "traced run disagree (--lenient skips such events)", f->pid, f->name,
			       f->signo == VM_SIGBUS ? "SIGBUS" : "SIGSEGV", f->kill_event, f->kill_addr);
	return rp_fail(r, err, "pid %" PRId32 " (%s) has exited; an event after its exit", f->pid,
		       f->name);
}

/* exec with MAP events to follow: a new, empty address space (Linux
 * begin_new_exec, as kernel/exec.c does it). */
static int exec_empty(struct vm_replay *r, struct rp_proc *pp, struct vm_error *err)
{
	struct vm_proc *p = pp->p;
	struct vm_mm *mm, *old = p->mm;
	pp->exec_pending = false;
	if (vm_mm_create(r->k, &mm))
		return rp_fail(r, err, "out of memory"), -ENOMEM;
	p->mm = mm;
	vm_proc_vfork_done(r->k, p);
	vm_mm_put(r->k, old);
	snprintf(p->name, sizeof(p->name), "%s", pp->figs.name);
	rp_mark_stale(pp);
	rp_update(r, pp);
	return 0;
}

/* exec with no MAP events after it: the host's program, as Linux loads it. */
int rp_exec_host(struct vm_replay *r, struct rp_proc *pp, struct vm_error *err)
{
	const char *argv[] = { pp->exec_path, NULL };
	struct vm_error e = { 0 };
	pp->exec_pending = false;
	int rc = vm_sys_execve(r->k, pp->p, pp->exec_path, argv, NULL, NULL, &e);
	rp_mark_stale(pp);
	rp_absorb_faults(r, pp, VM_RGN_STACK);
	if (rc == 0) {
		r->res.note[VM_RNOTE_EXEC_HOST]++;
		rp_update(r, pp);
		return 0;
	}
	rp_fail(r, err, "exec %s: no map events follow it and the host's file cannot be run: %s",
		pp->exec_path, e.msg[0] ? e.msg : strerror(-rc));
	if (pp->p->state != VM_PROC_RUNNING) {     /* killed after the point of no return */
		pp->figs.state = VM_RPROC_KILLED;
		pp->figs.signo = VM_SIGSEGV;
		pp->figs.kill_event = r->res.events;
		rp_proc_gone(r, pp);
	}
	return -EINVAL;
}

int rp_fork(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
		   struct vm_error *err)
{
	struct rp_proc *old = rp_proc_find(r, ev->fork.child);
	struct vm_proc *child;
	if (old && old->p)
		return rp_fail(r, err, "fork: child pid %" PRId32 " is still alive in the trace",
			       ev->fork.child);
	/* Valgrind runs vfork and CLONE_VFORK as real forks (LACKEY.md 2.5). */
	long ret = vm_sys_clone(r->k, pp->p, 0, pp->figs.name, &child);
	if (ret < 0)
		return rp_fail(r, err, "fork of pid %" PRId32 ": the model refused it (%s)",
			       ev->fork.child, strerror((int)-ret));
	struct rp_proc *cp = proc_add(r, ev->fork.child, pp->figs.pid);
	if (!cp) {
		vm_sys_exit(r->k, child, 0);
		vm_proc_reap(r->k, child);
		return rp_fail(r, err, "out of memory"), -ENOMEM;
	}
	cp->p = child;
	memcpy(cp->figs.name, pp->figs.name, sizeof(cp->figs.name));
	cp->named = pp->named;
	rp_mark_stale(pp);          /* fork may have prepared anon_vmas, nothing visible; cheap */
	rp_update(r, cp);
	rp_update(r, pp);
	return 0;
}

int rp_exec(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
		   struct vm_error *err)
{
	if (!ev->path)
		return rp_fail(r, err, "exec without a path");
	char *path = strdup(ev->path);
	if (!path)
		return rp_fail(r, err, "out of memory"), -ENOMEM;
	free(pp->exec_path);
	pp->exec_path = path;
	pp->exec_pending = true;
	set_name(pp, path);
	return 0;
}

void rp_exit(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev)
{
	rp_update(r, pp);
	pp->figs.state = VM_RPROC_EXITED;
	pp->figs.exit_code = ev->exit.code;
	vm_sys_exit(r->k, pp->p, ev->exit.code);
	rp_absorb_faults(r, pp, -1);
	rp_proc_gone(r, pp);
}

/* One segment of the initial address space. */
int rp_map(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
		  struct vm_error *err)
{
	struct vm_proc *p = pp->p;
	uint64_t start = ev->map.start, len = ev->map.end - ev->map.start;
	int flags = VM_MAP_FIXED | (int)(ev->map.flags & (VM_MAP_PRIVATE | VM_MAP_SHARED));
	long ret;

	if (pp->exec_pending && exec_empty(r, pp, err))
		return -ENOMEM;
	rp_mark_stale(pp);
	if (ev->flags & VM_TEV_F_HEAP) {
		/* Valgrind pre-maps the first break page rwx; Linux maps nothing
		 * until brk grows, and then rw-: the break starts at the page. */
		p->mm->start_brk = p->mm->brk = start;
		return 0;
	}
	if (ev->flags & VM_TEV_F_STACK)
		flags |= VM_MAP_GROWSDOWN;
	if (ev->path) {
		if (!pp->named)
			set_name(pp, ev->path);
		ret = rp_mmap_file(r, pp, ev->path, start, len, (int)ev->map.prot, flags,
				   ev->map.offset);
	} else {
		ret = vm_sys_mmap(r->k, p, start, len, (int)ev->map.prot, flags | VM_MAP_ANONYMOUS,
				  -1, 0);
	}
	if (ret != (long)start) {
		if (!r->o.lenient)
			return rp_fail(r, err, "map 0x%" PRIx64 "-0x%" PRIx64 "%s%s: the model refused "
				       "it (%s)", start, ev->map.end, ev->path ? " " : "",
				       ev->path ? ev->path : "", ret < 0 ? strerror((int)-ret) : "moved");
		r->res.note[VM_RNOTE_SYS_MISMATCH]++;
		return 0;
	}
	if (ev->flags & VM_TEV_F_STACK) {
		/* Valgrind wrote argv, envp and auxv there before the first
		 * traced instruction, as exec's copy_strings does natively. */
		p->mm->start_stack = ev->map.end - 8;
		vm_copy_to_user(r->k, p, start, NULL, len);
		rp_absorb_faults(r, pp, VM_RGN_STACK);
	}
	rp_update(r, pp);
	return 0;
}
