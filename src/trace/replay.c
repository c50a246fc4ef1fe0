/*
 * Replay: events into the machine (replay.h; docs/replay.md).  This file
 * has the event loop, the access path, the timeline and the result;
 * processes are in replay_proc.c, system calls in replay_sys.c, the
 * regions of an address space in replay_region.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/error.h"
#include "core/settings_table.h"
#include "kernel/fault.h"
#include "kernel/mm.h"
#include "kernel/procfs.h"
#include "kernel/uaccess_fast.h"
#include "kernel/uapi.h"
#include "trace/replay_internal.h"

const char vm_replay_timeline_header[] =
	"accesses,events,rss_bytes,rss_anon_bytes,rss_file_bytes,vsz_bytes,page_table_bytes,"
	"minor_faults,major_faults,l1_tlb_misses,l2_tlb_misses,walks\n";

static const char *const note_names[] = {
#define VM_REPLAY_NOTE_NAME(id, name, help) name,
	VM_REPLAY_NOTES(VM_REPLAY_NOTE_NAME)
#undef VM_REPLAY_NOTE_NAME
};
static const char *const note_helps[] = {
#define VM_REPLAY_NOTE_HELP(id, name, help) help,
	VM_REPLAY_NOTES(VM_REPLAY_NOTE_HELP)
#undef VM_REPLAY_NOTE_HELP
};

const char *vm_replay_note_name(unsigned i)
{
	return i < VM_RNOTE_COUNT ? note_names[i] : NULL;
}

const char *vm_replay_note_help(unsigned i)
{
	return i < VM_RNOTE_COUNT ? note_helps[i] : NULL;
}

int rp_fail(struct vm_replay *r, struct vm_error *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vm_error_set(err, "event %" PRIu64 ": %s", r->res.events, msg);
	return -EINVAL;
}

/* ---- figures ------------------------------------------------------------- */

static uint64_t rss_of(const struct vm_mm *mm)
{
	return mm->rss[VM_RSS_FILE] + mm->rss[VM_RSS_ANON] + mm->rss[VM_RSS_SHMEM];
}

void rp_update(struct vm_replay *r, struct rp_proc *pp)
{
	struct vm_replay_proc *f = &pp->figs;
	const struct vm_proc *p = pp->p;
	const struct vm_machine *m = r->m;

	if (p && p->mm) {
		const struct vm_mm *mm = p->mm;
		uint64_t rss = rss_of(mm);
		f->vsz = mm->total_vm;
		f->vsz_peak = VM_MAX(VM_MAX(f->vsz_peak, mm->total_vm), mm->hiwater_vm);
		f->rss_anon = mm->rss[VM_RSS_ANON];
		f->rss_file = mm->rss[VM_RSS_FILE];
		f->rss_shmem = mm->rss[VM_RSS_SHMEM];
		/* Linux get_mm_hiwater_rss(): hiwater is kept at unmap time. */
		f->rss_peak = VM_MAX(VM_MAX(f->rss_peak, rss), mm->hiwater_rss);
		f->pt = mm->pt.table_frames;
		f->pt_peak = VM_MAX(f->pt_peak, f->pt);
		r->rss_sum = r->rss_sum - pp->rss_counted + rss;
		pp->rss_counted = rss;
		r->res.rss_sum_peak = VM_MAX(r->res.rss_sum_peak, r->rss_sum);
	}
	if (p) {
		f->use.minflt = p->min_flt;
		f->use.majflt = p->maj_flt;
	}
	uint64_t used = m->phys.nframes - m->buddy.free_frames;
	r->res.frames_peak = VM_MAX(r->res.frames_peak, used);
	r->res.pt_peak = VM_MAX(r->res.pt_peak, m->frames_pt);
}

void rp_fault_deltas(struct vm_replay *r, struct rp_proc *pp, uint64_t *dmin, uint64_t *dmaj)
{
	const struct vm_stats *s = r->k->stats;
	*dmin = s->minflt - r->seen_minflt;
	*dmaj = s->majflt - r->seen_majflt;
	r->seen_pgfault = s->pgfault;
	r->seen_minflt = s->minflt;
	r->seen_majflt = s->majflt;
	if (s->flt_stack_grow != r->seen_grow) {
		r->seen_grow = s->flt_stack_grow;
		rp_mark_stale(pp);
	}
	rp_update(r, pp);
}

/* Faults taken outside an access (a populating system call, the initial
 * stack): into class rgn, or the faults_in_syscalls note. */
void rp_absorb_faults(struct vm_replay *r, struct rp_proc *pp, int rgn)
{
	uint64_t dmin, dmaj;
	if (r->k->stats->pgfault == r->seen_pgfault)
		return;
	rp_fault_deltas(r, pp, &dmin, &dmaj);
	if (rgn >= 0) {
		r->res.rgn[rgn].minflt += dmin;
		r->res.rgn[rgn].majflt += dmaj;
	} else {
		r->res.note[VM_RNOTE_SYS_FAULTS] += dmin + dmaj;
	}
}

/* ---- the timeline -------------------------------------------------------- */

static void sample(struct vm_replay *r)
{
	uint64_t rss = 0, anon = 0, file = 0, vsz = 0, pt = 0;
	struct vm_stats s;
	for (unsigned i = 0; i < r->nprocs; i++) {
		const struct vm_proc *p = r->procs[i]->p;
		if (!p || !p->mm)
			continue;
		rss += rss_of(p->mm);
		anon += p->mm->rss[VM_RSS_ANON];
		file += p->mm->rss[VM_RSS_FILE];
		vsz += p->mm->total_vm;
		pt += p->mm->pt.table_frames;
	}
	vmlab_machine_stats(r->m, &s);
	fprintf(r->o.timeline, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
		r->accesses, r->res.events, rss << VM_PAGE_SHIFT, anon << VM_PAGE_SHIFT,
		file << VM_PAGE_SHIFT, vsz << VM_PAGE_SHIFT, pt << VM_PAGE_SHIFT, s.minflt, s.majflt,
		s.tlb_l1i_miss + s.tlb_l1d_miss, s.tlb_l2_miss, s.walks);
	r->next_sample = (r->accesses / r->o.every + 1) * r->o.every;
}

/* ---- accesses ------------------------------------------------------------ */

/* --lenient: an access the VMAs forbid (or in no VMA) would raise SIGSEGV;
 * skip it, unless it is below a stack that may grow to it. */
static bool skip_segv(struct vm_replay *r, struct rp_proc *pp, const struct rp_region *g,
		      vm_vaddr addr)
{
	if (g == &pp->outside) {
		const struct vm_vma *v = vm_find_vma(pp->p->mm, addr);
		if (v && (v->vm_flags & VM_GROWSDOWN) && addr < v->vm_start)
			return false;
	}
	r->res.note[VM_RNOTE_SEGV_SKIPPED]++;
	return true;
}

static int kernel_write(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev)
{
	for (uint64_t i = 0; i < ev->acc.count; i++) {
		if (vm_copy_to_user(r->k, pp->p, ev->acc.addr, NULL, ev->acc.size) == -EFAULT) {
			r->res.note[VM_RNOTE_KWRITE_FAULT]++;
			break;
		}
	}
	return 0;
}

static void killed(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev)
{
	const struct vm_siginfo *sig = &pp->p->sig;
	struct vm_replay_proc *f = &pp->figs;
	f->state = VM_RPROC_KILLED;
	f->signo = sig->signo;
	f->kill_event = r->res.events;
	f->kill_addr = sig->addr;
	if (!r->res.first_signal[0])
		snprintf(r->res.first_signal, sizeof(r->res.first_signal),
			 "event %" PRIu64 ": pid %" PRId32 " (%s): %c at 0x%" PRIx64 ": %s%s%s", r->res.events,
			 f->pid, f->name, vm_trace_acc_letter(ev->access), ev->acc.addr,
			 sig->signo == VM_SIGBUS ? "SIGBUS" : "SIGSEGV", sig->reason ? ": " : "",
			 sig->reason ? sig->reason : "");
	rp_proc_gone(r, pp);
}

static int do_access(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
		     struct vm_error *err)
{
	struct vm_kernel *k = r->k;
	const unsigned kind = ev->access, fetch = kind == VM_ACC_EXEC;
	const unsigned acc = kind == VM_TACC_MODIFY ? VM_ACC_WRITE : kind;
	const bool kernel = ev->flags & VM_TEV_F_KERNEL;
	const uint64_t count = ev->acc.count, addr = ev->acc.addr;
	struct rp_region *g = rp_region_of(r, pp, addr, fetch);
	int rc = 0;

	if (VM_UNLIKELY(!(g->allow & (1u << acc))) && r->o.lenient && !kernel &&
	    skip_segv(r, pp, g, addr))
		return 0;
	if (VM_UNLIKELY(kernel)) {
		rc = kernel_write(r, pp, ev);
	} else {
		/* The repetitions of a run find the page as the first left it:
		 * L1 hits, all of them, unless the entry is not in its fast slot
		 * (then one at a time, as the CPU would). */
		if (!vm_user_access_hit_n(k, pp->p, addr, acc, count)) {
			rc = vm_user_access(k, pp->p, addr, ev->acc.size, acc, NULL);
			if (rc == 0 && count > 1 && !vm_user_access_hit_n(k, pp->p, addr, acc, count - 1))
				for (uint64_t i = 1; i < count && rc == 0; i++)
					rc = vm_user_access(k, pp->p, addr, ev->acc.size, acc, NULL);
		}
	}
	r->res.acc[kernel ? VM_RK_KERNEL : kind] += count;
	r->accesses += count;
	pp->figs.use.accesses += count;
	if (VM_UNLIKELY(k->stats->pgfault != r->seen_pgfault)) {
		uint64_t dmin, dmaj;
		rp_fault_deltas(r, pp, &dmin, &dmaj);
		if (pp->stale && rc == 0)
			g = rp_region_of(r, pp, addr, fetch);
		g->use.minflt += dmin;
		g->use.majflt += dmaj;
	}
	g->use.accesses += count;
	if (VM_UNLIKELY(rc != 0)) {
		if (rc < 0)
			return rp_fail(r, err, "pid %" PRId32 ": %c at 0x%" PRIx64 ": the model failed "
				       "(%s)", pp->figs.pid, vm_trace_acc_letter(kind), addr,
				       strerror(-rc));
		killed(r, pp, ev);
	}
	if (VM_UNLIKELY(r->accesses >= r->next_sample))
		sample(r);
	return 0;
}

/* ---- events -------------------------------------------------------------- */

static void print_maps(struct vm_replay *r)
{
	FILE *out = r->o.maps_out;
	fprintf(out, "maps after event %" PRIu64 ":\n", r->res.events);
	for (unsigned i = 0; i < r->nprocs; i++) {
		struct rp_proc *pp = r->procs[i];
		if (!pp->p || !pp->p->mm)
			continue;
		fprintf(out, "pid %" PRId32 " (%s):\n", pp->figs.pid, pp->figs.name);
		vm_procfs_maps(r->k, pp->p, out, 0, UINT64_MAX);
	}
}

static int dispatch(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
		    struct vm_error *err)
{
	if (!pp->p)
		return rp_proc_dead(r, pp, err);
	if (VM_UNLIKELY(pp->exec_pending) && ev->kind != VM_TEV_MAP) {
		int rc = rp_exec_host(r, pp, err);
		if (rc)
			return rc;
	}
	switch (ev->kind) {
	case VM_TEV_ACCESS:
		return do_access(r, pp, ev, err);
	case VM_TEV_SYSCALL: {
		int rc = rp_syscall(r, pp, ev, err);
		rp_mark_stale(pp);
		rp_absorb_faults(r, pp, -1);
		if (pp->p)
			rp_update(r, pp);
		return rc;
	}
	case VM_TEV_MAP:
		return rp_map(r, pp, ev, err);
	case VM_TEV_FORK:
		return rp_fork(r, pp, ev, err);
	case VM_TEV_EXEC:
		return rp_exec(r, pp, ev, err);
	case VM_TEV_EXIT:
		rp_exit(r, pp, ev);
		return 0;
	default:
		return rp_fail(r, err, "an event of unknown kind %u", ev->kind);
	}
}

int vm_replay_event(struct vm_replay *r, const struct vm_trace_event *ev, struct vm_error *err)
{
	struct rp_proc *pp = r->cur;
	int rc;

	r->res.events++;
	if (ev->kind < VM_TEV_KINDS)
		r->res.ev[ev->kind]++;
	if (VM_UNLIKELY(!pp || pp->figs.pid != ev->pid)) {
		pp = rp_proc_find(r, ev->pid);
		if (!pp && (rc = rp_proc_root(r, ev->pid, &pp, err)) != 0)
			return rc;
		r->cur = pp;
	}
	rc = dispatch(r, pp, ev, err);
	if (VM_UNLIKELY(r->res.events == r->o.maps_at) && r->o.maps_out)
		print_maps(r);
	return rc;
}

int vm_replay_run(struct vm_replay *r, struct vm_trace *t, struct vm_error *err)
{
	struct vm_trace_event ev;
	int rc;
	while ((rc = vm_trace_next(t, &ev)) == 1) {
		if (r->o.tee && vm_trace_writer_put(r->o.tee, &ev)) {
			vm_error_set(err, "cannot write the trace being saved");
			return -EIO;
		}
		rc = vm_replay_event(r, &ev, err);
		if (rc) {
			err->file = t->name;
			err->line = 0;
			return rc;
		}
		if (VM_UNLIKELY((r->res.events & 0xffff) == 0) && r->o.progress)
			r->o.progress(r->o.ctx, r->res.events, r->accesses);
	}
	if (rc < 0) {
		*err = t->err;
		return rc;
	}
	return 0;
}

/* ---- creation and the result ----------------------------------------------- */

int vm_replay_create(struct vm_machine *m, const struct vm_replay_opts *o, struct vm_replay **out)
{
	if (!m || !o || !out || (o->every && !o->timeline) || (o->timeline && !o->every))
		return -EINVAL;
	struct vm_replay *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	const struct vm_settings *s = &m->settings;
	r->m = m;
	r->k = vm_machine_kernel(m);
	r->o = *o;
	r->res.costs = (struct vm_replay_costs){
		.access = vm_settings_u64(s, VM_SET_COST_ACCESS),
		.tlb_hit = vm_settings_u64(s, VM_SET_COST_TLB_HIT),
		.walk_ref = vm_settings_u64(s, VM_SET_COST_WALK_REF),
		.minor_fault = vm_settings_u64(s, VM_SET_COST_MINOR_FAULT),
		.major_fault_ns = vm_settings_u64(s, VM_SET_COST_MAJOR_FAULT),
		.writeback_ns = vm_settings_u64(s, VM_SET_COST_WRITEBACK),
		.cpu_mhz = vm_settings_u64(s, VM_SET_CPU_MHZ),
	};
	r->nr_written = vmlab_counter_find("nr_written");
	r->seen_pgfault = r->k->stats->pgfault;
	r->seen_minflt = r->k->stats->minflt;
	r->seen_majflt = r->k->stats->majflt;
	r->seen_grow = r->k->stats->flt_stack_grow;
	r->next_sample = UINT64_MAX;
	if (o->timeline) {
		fputs(vm_replay_timeline_header, o->timeline);
		r->next_sample = o->every;
	}
	*out = r;
	return 0;
}

void vm_replay_destroy(struct vm_replay *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < r->nprocs; i++) {
		free(r->procs[i]->rg);
		free(r->procs[i]->exec_path);
		free(r->procs[i]);
	}
	free(r->procs);
	for (unsigned i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	free(r);
}

static int file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vm_replay_file *)a)->path,
		      ((const struct vm_replay_file *)b)->path);
}

int vm_replay_result(struct vm_replay *r, struct vm_replay_result *res)
{
	for (unsigned i = 0; i < r->nprocs; i++) {
		struct rp_proc *pp = r->procs[i];
		if (pp->p)
			rp_update(r, pp);
		rp_region_flush(r, pp);
	}
	if (r->o.timeline && r->accesses && r->accesses % r->o.every)
		sample(r);
	*res = r->res;
	vmlab_machine_stats(r->m, &res->stats);
	if (r->nr_written >= 0) {
		res->writeback_modelled = true;
		res->writeback = vmlab_counter_get(&res->stats, (unsigned)r->nr_written);
	}
	res->procs = calloc(r->nprocs ? r->nprocs : 1, sizeof(*res->procs));
	res->files = calloc(r->nfiles ? r->nfiles : 1, sizeof(*res->files));
	if (!res->procs || !res->files) {
		vm_replay_result_free(res);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < r->nprocs; i++)
		res->procs[i] = r->procs[i]->figs;
	res->nprocs = r->nprocs;
	for (unsigned i = 0; i < r->nfiles; i++) {
		res->files[i].path = strdup(r->files[i].path);
		res->files[i].use = r->files[i].use;
		res->nfiles = i + 1;
		if (!res->files[i].path) {
			vm_replay_result_free(res);
			return -ENOMEM;
		}
	}
	qsort(res->files, res->nfiles, sizeof(*res->files), file_cmp);
	return 0;
}

void vm_replay_result_free(struct vm_replay_result *res)
{
	if (!res)
		return;
	for (unsigned i = 0; res->files && i < res->nfiles; i++)
		free(res->files[i].path);
	free(res->files);
	free(res->procs);
	res->files = NULL;
	res->procs = NULL;
	res->nfiles = res->nprocs = 0;
}

uint64_t vm_replay_accesses(const struct vm_replay_result *res)
{
	return res->stats.acc_read + res->stats.acc_write + res->stats.acc_exec;
}

void vm_replay_estimate(const struct vm_replay_result *res, struct vm_replay_estimate *e)
{
	const struct vm_stats *s = &res->stats;
	const struct vm_replay_costs *c = &res->costs;
	double acc = (double)vm_replay_accesses(res);
	double l2_hits = (double)(s->tlb_l2_hit_4k + s->tlb_l2_hit_2m + s->tlb_l2_hit_1g);
	double ghz = (double)c->cpu_mhz / 1000.0;

	e->cycles = acc * (double)c->access + l2_hits * (double)c->tlb_hit +
		    (double)s->walk_refs * (double)c->walk_ref +
		    (double)s->minflt * (double)c->minor_fault;
	e->device_ns = (double)s->majflt * (double)c->major_fault_ns +
		       (double)res->writeback * (double)c->writeback_ns;
	e->total_ns = (ghz > 0 ? e->cycles / ghz : 0) + e->device_ns;
	e->eat_ns = acc > 0 ? e->total_ns / acc : 0;
	e->eat_cycles = e->eat_ns * ghz;
}
