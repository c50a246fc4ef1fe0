/*
 * Running a parsed scenario on a fresh machine: one statement after the
 * other, each with its operands evaluated first; processes, files, names,
 * shows and expectations here, what a running process does (accesses,
 * system calls, fork, exec, wait) in scenario_calls.c.  The public entry
 * points of include/vmlab/scenario.h.
 */
#include <vmlab/scenario.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>

#include <vmlab/machine.h>
#include <vmlab/stats.h>

#include "base/compiler.h"
#include "base/error.h"
#include "core/machine.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/procfs.h"
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
void scn_stop(struct scn_run *r, long line, const char *fmt, ...)
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
void scn_out_begin(struct scn_run *r, long line, const char *fmt, ...)
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

void scn_out_end(struct scn_run *r)
{
	if (r->capture && r->nouts) {
		fflush(r->capture);
		r->outs[r->nouts - 1].end = r->cap_len;
	}
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
			scn_stop(r, st->line, "division by zero");
			return false;
		}
	}
	return true;
}

/* The process a call or access names, if it still runs; else stop. */
static struct vm_proc *live(struct scn_run *r, const struct scn_stmt *st)
{
	struct vm_proc *p = r->procs[st->proc];
	const char *name = scn_proc_name(r, st->proc);
	if (p && p->state == VM_PROC_RUNNING && p->vfork_child) {
		struct vm_proc *c = vm_proc_find(r->k, p->vfork_child);
		scn_stop(r, st->line,
			 "%s waits for its vfork child %s (pid %d) until that exits or execs", name,
			 c ? c->name : "?", p->vfork_child);
		return NULL;
	}
	if (p && p->state == VM_PROC_RUNNING)
		return p;
	if (!p) {
		scn_stop(r, st->line, "%s does not exist (the fork that was to create it failed)", name);
		return NULL;
	}
	if (p && p->state == VM_PROC_KILLED)
		scn_stop(r, st->line,
			 "%s was killed by %s at line %ld; only expect and show may name it now", name,
			 scn_signal_name(p->sig.signo) ? scn_signal_name(p->sig.signo) : "a signal",
			 r->killed_line[st->proc]);
	else
		scn_stop(r, st->line, "%s is not running; only expect and show may name it now", name);
	return NULL;
}

static void run_expect(struct scn_run *r, const struct scn_stmt *st)
{
	const struct scn_expr *cmp = &r->prog->ex[st->arg[SCN_A_ADDR]];
	const struct scn_env env = { env_name, env_counter, env_field, r };
	int64_t a, b;
	/* Each side once: the message prints the values compared. */
	if (scn_eval(r->prog, cmp->a, &env, &a) || scn_eval(r->prog, cmp->b, &env, &b)) {
		scn_stop(r, st->line, "division by zero");
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
	const char *name = st->proc == SCN_NONE ? NULL : scn_proc_name(r, st->proc);
	static const char *const views[] = {
		[SCN_SHOW_MAPS] = "maps", [SCN_SHOW_SMAPS] = "smaps", [SCN_SHOW_STATUS] = "status",
		[SCN_SHOW_PT] = "pagetable",
	};
	if (st->verb == SCN_SHOW_EXPR) {
		char text[64];
		enum scn_hint hint = (enum scn_hint)r->prog->ex[st->arg[SCN_A_ADDR]].hint;
		scn_format_value(v[SCN_A_ADDR], hint, text, sizeof(text));
		scn_out_begin(r, st->line, "%s = %s", scn_str(r->prog, st->text), text);
	} else if (st->verb == SCN_SHOW_STATS) {
		scn_out_begin(r, st->line, "stats (counters that are not zero)");
		scn_show_stats(r);
	} else if (st->verb == SCN_SHOW_SWAPS) {
		scn_out_begin(r, st->line, "swaps");
		vm_procfs_swaps(r->k, r->out);
	} else if (!p || !p->mm) {
		scn_out_begin(r, st->line, "%s %s: no address space (the process %s)", name,
			      views[st->verb], p && p->state == VM_PROC_KILLED ? "was killed" : "exited");
	} else if (st->verb == SCN_SHOW_PT) {
		vm_vaddr va = (vm_vaddr)v[SCN_A_ADDR];
		scn_out_begin(r, st->line, "%s pagetable 0x%" PRIx64 " (pid %d)", name, va, p->pid);
		scn_show_pagetable(r, st->proc, va);
	} else {
		scn_out_begin(r, st->line, "%s %s (pid %d)", name, views[st->verb], p->pid);
		if (st->verb == SCN_SHOW_MAPS)
			vm_procfs_maps(r->k, p, r->out, 0, UINT64_MAX);
		else if (st->verb == SCN_SHOW_SMAPS)
			vm_procfs_smaps(r->k, p, r->out);
		else
			vm_procfs_status(r->k, p, r->out);
	}
	scn_out_end(r);
}

static void run_stmt(struct scn_run *r, const struct scn_stmt *st)
{
	struct vm_proc *p;
	int64_t v[4];
	if (st->verb != SCN_EXPECT && !operands(r, st, v))
		return;
	switch ((enum scn_verb)st->verb) {
	case SCN_PROCESS: {
		int rc = vm_proc_create(r->k, scn_proc_name(r, st->proc), &r->procs[st->proc]);
		if (rc)
			scn_stop(r, st->line, "process %s: cannot create it (%s)",
				 scn_proc_name(r, st->proc), rc == -ENOMEM ? "out of memory" : "error");
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
			scn_stop(r, st->line, "file %s: %s", scn_str(r->prog, st->path),
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
	default:        /* what a process does: an access or a system call */
		if ((p = live(r, st)) != NULL)
			scn_run_call(r, st, p, v);
		return;
	}
}

/* Debug builds check every invariant after every statement (vm_check). */
static void check(struct scn_run *r, const struct scn_stmt *st)
{
#if defined(VM_DEBUG) && VM_DEBUG
	char msg[160];
	if (vm_kernel_check(r->k, msg, sizeof(msg)))
		scn_stop(r, st->line, "invariant broken after this statement: %s", msg);
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
