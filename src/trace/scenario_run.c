/*
 * Running a parsed scenario on a fresh machine: processes, the memory
 * system calls (vm_sys_*), user accesses (vm_user_access), shows and
 * expectations.  The public entry points of include/vmlab/scenario.h.
 */
#include <vmlab/scenario.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>
#include <vmlab/stats.h>

#include "base/compiler.h"
#include "base/error.h"
#include "core/machine.h"
#include "kernel/exec.h"
#include "kernel/fault.h"
#include "kernel/fork.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/procfs.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"
#include "trace/scenario.h"

static void record(struct scn_run *r, const struct vm_error *e)
{
	if (!r->first.msg[0])
		r->first = *e;
	if (r->opts->report)
		r->opts->report(r->opts->ctx, e);
	struct vm_error *f = scn_grow(r->failed, &r->failed_cap, r->nfailed, sizeof(*f));
	if (!f)
		return;     /* the JSON list loses it; the report has it */
	r->failed = f;
	f[r->nfailed++] = *e;
}

/* An error that stops the run. */
static void VM_PRINTF(3, 4) stop(struct scn_run *r, long line, const char *fmt, ...)
{
	struct vm_error e = { .file = r->prog->file, .line = line };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	r->stopped = true;
	record(r, &e);
}

/* Start a piece of output: "== line N: ..." and remember it for JSON. */
static void VM_PRINTF(3, 4) out_begin(struct scn_run *r, long line, const char *fmt, ...)
{
	va_list ap;
	if (r->capture) {
		struct scn_out *o = scn_grow(r->outs, &r->outs_cap, r->nouts, sizeof(*o));
		fflush(r->capture);
		if (o) {    /* else the JSON output loses this piece */
			r->outs = o;
			o[r->nouts++] = (struct scn_out){ line, r->cap_len, r->cap_len };
		}
	}
	fprintf(r->out, "== line %ld: ", line);
	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
	fputc('\n', r->out);
}

static void out_end(struct scn_run *r)
{
	if (r->capture && r->nouts) {
		fflush(r->capture);
		r->outs[r->nouts - 1].end = r->cap_len;
	}
}

static const char *proc_name(const struct scn_run *r, int proc)
{
	return r->prog->names[r->prog->procs[proc].name].id;
}

int64_t scn_figure(const struct scn_run *r, int proc, unsigned field)
{
	const struct vm_proc *p = r->procs[proc];
	if (!p)
		return 0;
	switch ((enum scn_field)field) {
	case SCN_F_PID: return p->pid;
	case SCN_F_PPID: return p->ppid;
	case SCN_F_CPU: return p->cpu;
	case SCN_F_ALIVE: return p->state == VM_PROC_RUNNING;
	case SCN_F_EXIT_CODE: return p->exit_code;
	case SCN_F_LAST: return r->last[proc];
	case SCN_F_SIGNAL: return p->sig.signo;
	case SCN_F_SIGCODE: return p->sig.code;
	case SCN_F_SIGADDR: return (int64_t)p->sig.addr;
	case SCN_F_MINOR_FAULTS: return (int64_t)p->min_flt;
	case SCN_F_MAJOR_FAULTS: return (int64_t)p->maj_flt;
	case SCN_F_VALUE: return r->value[proc];
	default: break;
	}
	const struct vm_mm *mm = p->mm;
	if (!mm)
		return 0;      /* exited or killed: the address space is gone */
	uint64_t rss = mm->rss[VM_RSS_FILE] + mm->rss[VM_RSS_ANON] + mm->rss[VM_RSS_SHMEM];
	uint64_t pages = 0;
	switch ((enum scn_field)field) {
	case SCN_F_RSS: pages = rss; break;
	case SCN_F_RSS_ANON: pages = mm->rss[VM_RSS_ANON]; break;
	case SCN_F_RSS_FILE: pages = mm->rss[VM_RSS_FILE]; break;
	case SCN_F_RSS_SHMEM: pages = mm->rss[VM_RSS_SHMEM]; break;
	case SCN_F_SWAP: pages = mm->rss[VM_RSS_SWAP]; break;
	case SCN_F_HWM: pages = VM_MAX(mm->hiwater_rss, rss); break;   /* Linux: get_mm_hiwater_rss */
	case SCN_F_VSZ: pages = mm->total_vm; break;
	case SCN_F_VM_PEAK: pages = VM_MAX(mm->hiwater_vm, mm->total_vm); break;
	case SCN_F_DATA: pages = mm->data_vm; break;
	case SCN_F_STACK: pages = mm->stack_vm; break;
	case SCN_F_EXEC: pages = mm->exec_vm; break;
	case SCN_F_LOCKED: pages = mm->locked_vm; break;
	case SCN_F_PT: pages = mm->pt.table_frames; break;
	case SCN_F_VMAS: return (int64_t)mm->map_count;
	case SCN_F_BRK: return (int64_t)mm->brk;
	case SCN_F_START_BRK: return (int64_t)mm->start_brk;
	case SCN_F_START_STACK: return (int64_t)mm->start_stack;
	case SCN_F_MMAP_BASE: return (int64_t)mm->mmap_base;
	default: break;
	}
	return (int64_t)(pages << VM_PAGE_SHIFT);
}

static int64_t env_name(void *ctx, int name)
{
	const struct scn_run *r = ctx;
	return r->names[name];
}

static uint64_t env_counter(void *ctx, unsigned id)
{
	const struct scn_run *r = ctx;
	struct vm_stats s;
	vmlab_machine_stats(r->m, &s);
	return vmlab_counter_get(&s, id);
}

static int64_t env_field(void *ctx, int proc, unsigned field)
{
	return scn_figure(ctx, proc, field);
}

/* Every operand of st into v[] (absent ones: 0), before the statement
 * acts, so that a division by zero stops it before anything happens. */
static bool operands(struct scn_run *r, const struct scn_stmt *st, int64_t v[4])
{
	const struct scn_env env = { env_name, env_counter, env_field, r };
	for (int a = 0; a < 4; a++) {
		v[a] = 0;
		if (st->arg[a] != SCN_NONE && scn_eval(r->prog, st->arg[a], &env, &v[a]) != 0) {
			stop(r, st->line, "division by zero");
			return false;
		}
	}
	return true;
}

/* The process a call or access names, if it still runs; else stop. */
static struct vm_proc *live(struct scn_run *r, const struct scn_stmt *st)
{
	struct vm_proc *p = r->procs[st->proc];
	const char *name = proc_name(r, st->proc);
	if (p && p->state == VM_PROC_RUNNING && p->vfork_child) {
		struct vm_proc *c = vm_proc_find(r->k, p->vfork_child);
		stop(r, st->line, "%s waits for its vfork child %s (pid %d) until that exits or execs",
		     name, c ? c->name : "?", p->vfork_child);
		return NULL;
	}
	if (p && p->state == VM_PROC_RUNNING)
		return p;
	if (!p) {
		stop(r, st->line, "%s does not exist (the fork that was to create it failed)", name);
		return NULL;
	}
	if (p && p->state == VM_PROC_KILLED)
		stop(r, st->line, "%s was killed by %s at line %ld; only expect and show may name it now",
		     name, scn_signal_name(p->sig.signo) ? scn_signal_name(p->sig.signo) : "a signal",
		     r->killed_line[st->proc]);
	else
		stop(r, st->line, "%s is not running; only expect and show may name it now", name);
	return NULL;
}

static void killed(struct scn_run *r, const struct scn_stmt *st, const struct vm_proc *p)
{
	const char *sig = scn_signal_name(p->sig.signo), *code = NULL;
	if (p->sig.signo == VM_SIGSEGV)
		code = p->sig.code == VM_SEGV_MAPERR ? "SEGV_MAPERR"
		       : p->sig.code == VM_SEGV_ACCERR ? "SEGV_ACCERR" : "SEGV_PKUERR";
	else if (p->sig.signo == VM_SIGBUS)
		code = p->sig.code == VM_BUS_ADRERR ? "BUS_ADRERR" : NULL;
	/* The other threads of the group died with it (do_group_exit). */
	for (size_t i = 0; i < r->prog->nprocs; i++)
		if (r->procs[i] && r->procs[i]->state == VM_PROC_KILLED && !r->killed_line[i])
			r->killed_line[i] = st->line;
	out_begin(r, st->line, "%s killed by %s%s%s%s at 0x%" PRIx64 "%s%s", proc_name(r, st->proc),
		  sig ? sig : "a signal", code ? " (" : "", code ? code : "", code ? ")" : "",
		  p->sig.addr, p->sig.reason ? ": " : "", p->sig.reason ? p->sig.reason : "");
	out_end(r);
}

/* len bytes at va, split at page boundaries; in data mode reads keep the
 * first 8 bytes in A.value and writes store `value` little endian,
 * repeated.  Returns vm_user_access's result. */
static int access_bytes(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
			vm_vaddr va, uint64_t len, uint64_t value)
{
	unsigned char buf[VM_PAGE_SIZE];
	unsigned kind = (unsigned)st->flags;
	bool bytes = r->data && kind != VM_ACC_EXEC;
	uint64_t got = 0;
	for (uint64_t done = 0; done < len;) {
		vm_vaddr a = va + done;
		uint64_t n = VM_MIN(len - done, VM_PAGE_SIZE - (a & (VM_PAGE_SIZE - 1)));
		if (bytes && kind == VM_ACC_WRITE)
			for (uint64_t i = 0; i < n; i++)
				buf[i] = (unsigned char)(value >> (8 * ((done + i) % 8)));
		int rc = vm_user_access(r->k, p, a, n, kind, bytes ? buf : NULL);
		if (rc)
			return rc;
		if (bytes && kind == VM_ACC_READ)
			for (uint64_t i = 0; i < n && done + i < 8; i++)
				got |= (uint64_t)buf[i] << (8 * (done + i));
		done += n;
	}
	if (kind == VM_ACC_READ)
		r->value[st->proc] = (int64_t)got;
	return 0;
}

/* One access per page of [va, va + len): at va in the first page, at the
 * start of each later one. */
static int touch_pages(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p, vm_vaddr va,
		       uint64_t len)
{
	vm_vaddr last = VM_ALIGN_DOWN(va + len - 1, VM_PAGE_SIZE);
	for (vm_vaddr pg = VM_ALIGN_DOWN(va, VM_PAGE_SIZE);; pg += VM_PAGE_SIZE) {
		int rc = vm_user_access(r->k, p, pg < va ? va : pg, 1, (unsigned)st->flags, NULL);
		if (rc || pg == last)
			return rc;
	}
}

static const char *const verb_names[] = {
	[SCN_READ] = "read", [SCN_WRITE] = "write", [SCN_EXEC] = "exec", [SCN_TOUCH] = "touch",
};

static void run_access(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		       const int64_t *v)
{
	vm_vaddr va = (vm_vaddr)v[SCN_A_ADDR];
	int64_t len = st->arg[SCN_A_LEN] == SCN_NONE ? 1 : v[SCN_A_LEN];
	const char *verb = verb_names[st->verb];
	if (len <= 0) {
		stop(r, st->line, "%s: length %" PRId64 " is not positive", verb, len);
		return;
	}
	if (va + (uint64_t)len - 1 < va) {
		stop(r, st->line, "%s: [0x%" PRIx64 ", +%" PRId64 ") wraps around the address space",
		     verb, va, len);
		return;
	}
	int rc = st->verb == SCN_TOUCH
		 ? touch_pages(r, st, p, va, (uint64_t)len)
		 : access_bytes(r, st, p, va, (uint64_t)len, (uint64_t)v[SCN_A_EXTRA]);
	if (rc > 0)
		killed(r, st, p);
	else if (rc < 0)
		stop(r, st->line, "%s: the access failed with %s%s", verb,
		     scn_errno_name(-rc) ? "-" : "", scn_errno_name(-rc) ? scn_errno_name(-rc) : "an error");
}

static long run_mmap(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		     const int64_t *v)
{
	uint64_t len = (uint64_t)v[SCN_A_LEN], off = (uint64_t)v[SCN_A_LEN2];
	vm_vaddr addr = (vm_vaddr)v[SCN_A_EXTRA];
	if (st->path == SCN_NONE)
		return vm_sys_mmap(r->k, p, addr, len, st->prot, st->flags, -1, off);
	/* As a program does: open, mmap, close (the mapping keeps the file);
	 * for writing too when the mapping is shared and writable. */
	bool shared_write = (st->flags & VM_MAP_TYPE) != VM_MAP_PRIVATE && (st->prot & VM_PROT_WRITE);
	long fd = vm_sys_openat(r->k, p, scn_str(r->prog, st->path),
				shared_write ? VM_O_RDWR : VM_O_RDONLY);
	if (fd < 0)
		return fd;
	long ret = vm_sys_mmap(r->k, p, addr, len, st->prot, st->flags, (int)fd, off);
	vm_sys_close(r->k, p, (int)fd);
	return ret;
}

/* `P exec PATH [ARG...]`: execve(PATH, {PATH, ARG..., NULL}, {NULL}).
 * A.last is 0 or -errno; a failure says why in the output; one after the
 * point of no return kills P (SIGSEGV), as in Linux. */
static void run_execve(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p)
{
	const char *path = scn_str(r->prog, st->path);
	const char *argv[SCN_LINE_MAX / 2 + 2];
	const char *at = path;
	struct vm_error err;
	for (int i = 0; i <= st->flags; i++) {
		argv[i] = at;
		at += strlen(at) + 1;
	}
	argv[st->flags + 1] = NULL;
	int rc = vm_sys_execve(r->k, p, path, argv, NULL, NULL, &err);
	r->last[st->proc] = rc;
	if (rc && p->state == VM_PROC_RUNNING) {
		const char *name = scn_errno_name(-rc);
		out_begin(r, st->line, "%s exec %s: -%s: %s", proc_name(r, st->proc), path,
			  name ? name : "?", err.msg);
		out_end(r);
	} else if (rc) {
		killed(r, st, p);
	}
}

/* A system call; its return value becomes A.last. */
static void run_call(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		     const int64_t *v)
{
	struct vm_kernel *k = r->k;
	vm_vaddr addr = (vm_vaddr)v[SCN_A_ADDR];
	uint64_t len = (uint64_t)v[SCN_A_LEN];
	long ret = 0;
	switch ((enum scn_verb)st->verb) {
	case SCN_MMAP:
		ret = run_mmap(r, st, p, v);
		r->names[st->name] = ret;
		break;
	case SCN_MUNMAP:
		ret = vm_sys_munmap(k, p, addr, len);
		break;
	case SCN_MPROTECT:
		ret = vm_sys_mprotect(k, p, addr, len, st->prot);
		break;
	case SCN_MADVISE:
		ret = vm_sys_madvise(k, p, addr, len, st->flags);
		break;
	case SCN_MSYNC:
		ret = vm_sys_msync(k, p, addr, len, st->flags);
		break;
	case SCN_BRK:
		if (st->brk_sign == '+')
			addr = p->mm->brk + addr;
		else if (st->brk_sign == '-')
			addr = p->mm->brk - addr;
		ret = vm_sys_brk(k, p, addr);
		break;
	case SCN_MREMAP:
		ret = vm_sys_mremap(k, p, addr, len, (uint64_t)v[SCN_A_LEN2], st->flags,
				    (vm_vaddr)v[SCN_A_EXTRA]);
		if (st->name != SCN_NONE)
			r->names[st->name] = ret;
		break;
	case SCN_EXIT:
		vm_sys_exit(k, p, (int)addr);
		return;
	default:
		return;
	}
	r->last[st->proc] = ret;
}

static const unsigned clone_flags[] = {
	[SCN_FORK] = 0, [SCN_VFORK] = VM_CLONE_VM | VM_CLONE_VFORK,
	[SCN_THREAD] = VM_CLONE_VM | VM_CLONE_THREAD,
};

/* fork, vfork, thread: A.last is the child's pid (or -errno), the
 * child's own last value 0, as each sees fork return. */
static void run_clone(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		      const int64_t *v)
{
	struct vm_proc *child;
	if (st->arg[SCN_A_ADDR] != SCN_NONE && (v[SCN_A_ADDR] < 0 ||
						 (uint64_t)v[SCN_A_ADDR] >= r->k->ncpus)) {
		stop(r, st->line, "cpu %" PRId64 ": the machine has CPUs 0 to %u (set cpus=N)",
		     v[SCN_A_ADDR], r->k->ncpus - 1);
		return;
	}
	long ret = vm_sys_clone(r->k, p, clone_flags[st->verb], proc_name(r, st->child), &child);
	r->last[st->proc] = ret;
	if (ret < 0)
		return;
	if (st->arg[SCN_A_ADDR] != SCN_NONE)
		child->cpu = (unsigned)v[SCN_A_ADDR];
	r->procs[st->child] = child;
	r->last[st->child] = 0;
}

/* wait: the kernel frees what it reaps; the scenario keeps a copy so that
 * expect and show may still name the child. */
static void run_wait(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p)
{
	struct vm_proc *c = r->procs[st->child];
	const char *name = proc_name(r, st->child);
	if (!c || r->reaped[st->child] == c) {
		r->last[st->proc] = -ECHILD;     /* never created, or reaped already */
		return;
	}
	if (c->state == VM_PROC_RUNNING && c->ppid == p->pid && c->tgid == c->pid) {
		stop(r, st->line, "%s still runs: %s would wait forever (a scenario runs one "
		     "statement at a time; let %s exit first)", name, proc_name(r, st->proc), name);
		return;
	}
	struct vm_proc *copy = malloc(sizeof(*copy));
	if (!copy) {
		stop(r, st->line, "out of memory");
		return;
	}
	*copy = *c;
	copy->fds = NULL;
	copy->mm = NULL;
	long ret = vm_sys_wait(r->k, p, c->pid, NULL);
	r->last[st->proc] = ret;
	if (ret == copy->pid) {
		r->reaped[st->child] = copy;
		r->procs[st->child] = copy;
	} else {
		free(copy);
	}
}

static void run_expect(struct scn_run *r, const struct scn_stmt *st)
{
	const struct scn_expr *cmp = &r->prog->ex[st->arg[SCN_A_ADDR]];
	const struct scn_env env = { env_name, env_counter, env_field, r };
	int64_t a, b;
	/* Each side once: the message prints the values compared. */
	if (scn_eval(r->prog, cmp->a, &env, &a) || scn_eval(r->prog, cmp->b, &env, &b)) {
		stop(r, st->line, "division by zero");
		return;
	}
	if (scn_compare((enum scn_cmp)cmp->op, a, b))
		return;
	char va[64], vb[64];
	scn_format_value(a, (enum scn_hint)r->prog->ex[cmp->a].hint, va, sizeof(va));
	scn_format_value(b, (enum scn_hint)r->prog->ex[cmp->b].hint, vb, sizeof(vb));
	struct vm_error e = { .file = r->prog->file, .line = st->line };
	snprintf(e.msg, sizeof(e.msg), "expect %s: %s is %s, %s is %s", scn_str(r->prog, st->text),
		 scn_str(r->prog, st->left), va, scn_str(r->prog, st->right), vb);
	r->failures++;
	record(r, &e);
}

static void run_show(struct scn_run *r, const struct scn_stmt *st, const int64_t *v)
{
	struct vm_proc *p = st->proc == SCN_NONE ? NULL : r->procs[st->proc];
	const char *name = st->proc == SCN_NONE ? NULL : proc_name(r, st->proc);
	static const char *const views[] = {
		[SCN_SHOW_MAPS] = "maps", [SCN_SHOW_SMAPS] = "smaps", [SCN_SHOW_STATUS] = "status",
		[SCN_SHOW_PT] = "pagetable",
	};
	if (st->verb == SCN_SHOW_EXPR) {
		char text[64];
		enum scn_hint hint = (enum scn_hint)r->prog->ex[st->arg[SCN_A_ADDR]].hint;
		scn_format_value(v[SCN_A_ADDR], hint, text, sizeof(text));
		out_begin(r, st->line, "%s = %s", scn_str(r->prog, st->text), text);
	} else if (st->verb == SCN_SHOW_STATS) {
		out_begin(r, st->line, "stats (counters that are not zero)");
		scn_show_stats(r);
	} else if (st->verb == SCN_SHOW_SWAPS) {
		out_begin(r, st->line, "swaps");
		vm_procfs_swaps(r->k, r->out);
	} else if (!p || !p->mm) {
		out_begin(r, st->line, "%s %s: no address space (the process %s)", name, views[st->verb],
			  p && p->state == VM_PROC_KILLED ? "was killed" : "exited");
	} else if (st->verb == SCN_SHOW_PT) {
		vm_vaddr va = (vm_vaddr)v[SCN_A_ADDR];
		out_begin(r, st->line, "%s pagetable 0x%" PRIx64 " (pid %d)", name, va, p->pid);
		scn_show_pagetable(r, st->proc, va);
	} else {
		out_begin(r, st->line, "%s %s (pid %d)", name, views[st->verb], p->pid);
		if (st->verb == SCN_SHOW_MAPS)
			vm_procfs_maps(r->k, p, r->out, 0, UINT64_MAX);
		else if (st->verb == SCN_SHOW_SMAPS)
			vm_procfs_smaps(r->k, p, r->out);
		else
			vm_procfs_status(r->k, p, r->out);
	}
	out_end(r);
}

static void run_stmt(struct scn_run *r, const struct scn_stmt *st)
{
	struct vm_proc *p;
	int64_t v[4];
	if (st->verb != SCN_EXPECT && !operands(r, st, v))
		return;
	switch ((enum scn_verb)st->verb) {
	case SCN_PROCESS: {
		int rc = vm_proc_create(r->k, proc_name(r, st->proc), &r->procs[st->proc]);
		if (rc)
			stop(r, st->line, "process %s: cannot create it (%s)", proc_name(r, st->proc),
			     rc == -ENOMEM ? "out of memory" : "error");
		return;
	}
	case SCN_LET:
		r->names[st->name] = v[SCN_A_ADDR];
		return;
	case SCN_FILE: {
		int rc = v[SCN_A_LEN] < 0 ? -EINVAL
					  : vm_tmpfs_create(r->k, scn_str(r->prog, st->path),
							    (uint64_t)v[SCN_A_LEN], NULL);
		if (rc)
			stop(r, st->line, "file %s: %s", scn_str(r->prog, st->path),
			     rc == -EEXIST ? "an in-memory file has that path already (-EEXIST)"
			     : rc == -EINVAL ? "bad path or size (-EINVAL)" : "out of memory");
		return;
	}
	case SCN_EXPECT:
		run_expect(r, st);
		return;
	case SCN_SHOW_MAPS:
	case SCN_SHOW_SMAPS:
	case SCN_SHOW_STATUS:
	case SCN_SHOW_PT:
	case SCN_SHOW_STATS:
	case SCN_SHOW_SWAPS:
	case SCN_SHOW_EXPR:
		run_show(r, st, v);
		return;
	case SCN_READ:
	case SCN_WRITE:
	case SCN_EXEC:
	case SCN_TOUCH:
		if ((p = live(r, st)) != NULL)
			run_access(r, st, p, v);
		return;
	case SCN_EXECVE:
		if ((p = live(r, st)) != NULL)
			run_execve(r, st, p);
		return;
	case SCN_FORK:
	case SCN_VFORK:
	case SCN_THREAD:
		if ((p = live(r, st)) != NULL)
			run_clone(r, st, p, v);
		return;
	case SCN_WAIT:
		if ((p = live(r, st)) != NULL)
			run_wait(r, st, p);
		return;
	default:
		if ((p = live(r, st)) != NULL)
			run_call(r, st, p, v);
		return;
	}
}

/* Debug builds check every invariant after every statement (vm_check). */
static void check(struct scn_run *r, const struct scn_stmt *st)
{
#if defined(VM_DEBUG) && VM_DEBUG
	char msg[160];
	if (vm_kernel_check(r->k, msg, sizeof(msg)))
		stop(r, st->line, "invariant broken after this statement: %s", msg);
#else
	(void)r;
	(void)st;
#endif
}

static int run_init(struct scn_run *r, const struct scn_prog *prog,
		    const struct vmlab_scenario_opts *o)
{
	r->prog = prog;
	r->opts = o;
	size_t np = VM_MAX(prog->nprocs, 1), nn = VM_MAX(prog->nnames, 1);
	r->procs = calloc(np, sizeof(*r->procs));
	r->last = calloc(np, sizeof(*r->last));
	r->value = calloc(np, sizeof(*r->value));
	r->killed_line = calloc(np, sizeof(*r->killed_line));
	r->reaped = calloc(np, sizeof(*r->reaped));
	r->names = calloc(nn, sizeof(*r->names));
	r->out = o->out;
	if (o->json || !o->out) {
		r->capture = open_memstream(&r->cap_buf, &r->cap_len);
		r->out = r->capture;
	}
	if (!r->procs || !r->last || !r->value || !r->killed_line || !r->reaped || !r->names ||
	    !r->out)
		return -ENOMEM;
	return 0;
}

static void run_fini(struct scn_run *r)
{
	if (r->capture)
		fclose(r->capture);
	free(r->cap_buf);
	free(r->outs);
	free(r->failed);
	free(r->procs);
	free(r->last);
	free(r->value);
	free(r->killed_line);
	for (size_t i = 0; r->reaped && i < VM_MAX(r->prog->nprocs, 1); i++)
		free(r->reaped[i]);
	free(r->reaped);
	free(r->names);
	vmlab_machine_destroy(r->m);
}

static int run_prog(const struct scn_prog *prog, const struct vmlab_scenario_opts *o,
		    struct vm_error *err)
{
	struct scn_run r = { 0 };
	int rc = run_init(&r, prog, o);
	if (rc) {
		vm_error_at(err, prog->file, 0, "out of memory");
		run_fini(&r);
		return rc;
	}
	struct vm_error e;
	rc = vmlab_machine_create(prog->settings, NULL, &r.m, &e);
	if (rc) {
		vm_error_at(err, prog->file, 0, "cannot build the machine: %s", e.msg);
		run_fini(&r);
		return rc == -ENOMEM ? rc : VM_SCENARIO_SYNTAX;
	}
	r.k = vm_machine_kernel(r.m);
	r.data = vm_settings_u64(prog->settings, VM_SET_MODE) == 0;
	for (size_t i = 0; i < prog->nstmts && !r.stopped; i++) {
		run_stmt(&r, &prog->stmts[i]);
		if (!r.stopped)
			check(&r, &prog->stmts[i]);
	}
	int result = r.failures || r.stopped ? VM_SCENARIO_FAILED : VM_SCENARIO_OK;
	if (o->json && o->out) {
		fflush(r.capture);
		scn_write_json(&r, o->out, result);
	}
	if (err) {
		if (r.first.msg[0])
			*err = r.first;
		else
			vm_error_clear(err);
	}
	run_fini(&r);
	return result;
}

int vmlab_scenario_run_opts(const char *name, const char *text, size_t len,
			    const struct vmlab_scenario_opts *opts, struct vm_error *err)
{
	struct scn_prog prog;
	int rc = scn_parse(&prog, name, text, len, opts->base, err);
	if (rc == 0)
		rc = run_prog(&prog, opts, err);
	else if (rc == -EINVAL)
		rc = VM_SCENARIO_SYNTAX;
	scn_prog_free(&prog);
	return rc;
}

int vmlab_scenario_run(const char *name, const char *text, size_t len,
		       const struct vm_settings *base, FILE *out, bool json, struct vm_error *err)
{
	const struct vmlab_scenario_opts o = { .base = base, .out = out, .json = json };
	return vmlab_scenario_run_opts(name, text, len, &o, err);
}
