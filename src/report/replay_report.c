/*
 * The replay summary as text and JSON (the side-by-side table of --compare
 * is replay_compare.c).  Figures come from struct vm_replay_result only;
 * sizes are printed in KiB, times in ms, ns or cycles, counts with digit
 * grouping, each with its unit.
 */
#include "report/replay_report.h"
#include "report/replay_report_internal.h"

#include <inttypes.h>
#include <string.h>

#include "core/settings_table.h"
#include "kernel/uapi.h"

const char *vm_report_group(uint64_t n, char *buf, size_t len)
{
	char digits[32];
	int nd = snprintf(digits, sizeof(digits), "%" PRIu64, n);
	size_t o = 0;
	for (int i = 0; i < nd && o + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static uint64_t pwc_hits(const struct vm_stats *s)
{
	return s->pwc_hit_pml4 + s->pwc_hit_pdpt + s->pwc_hit_pd + s->pwc_hit_pt;
}

static const char *state_text(const struct vm_replay_proc *p, char *buf, size_t len)
{
	if (p->state == VM_RPROC_EXITED)
		snprintf(buf, len, "exited %" PRId32, p->exit_code);
	else if (p->state == VM_RPROC_KILLED)
		snprintf(buf, len, "killed by %s at event %" PRIu64,
			 p->signo == VM_SIGBUS ? "SIGBUS" : "SIGSEGV", p->kill_event);
	else
		snprintf(buf, len, "running at the end of the trace");
	return buf;
}

/* ---- text ---------------------------------------------------------------- */

static void line(FILE *f, const char *label, uint64_t n, const char *unit, const char *extra)
{
	char g[32];
	if (extra)
		fprintf(f, "  %-34s %16s %-8s %s\n", label, vm_report_group(n, g, sizeof(g)), unit,
			extra);
	else
		fprintf(f, "  %-34s %16s %s\n", label, vm_report_group(n, g, sizeof(g)), unit);
}

static void line_pct(FILE *f, const char *label, uint64_t n, const char *unit, uint64_t of,
		     const char *of_what)
{
	char extra[64];
	snprintf(extra, sizeof(extra), "%6.2f %% of %s", pct(n, of), of_what);
	line(f, label, n, unit, extra);
}

void vm_report_settings_line(FILE *f, const struct vm_settings *s)
{
	static const enum vm_setting_id shown[] = {
		VM_SET_MODE, VM_SET_PHYS, VM_SET_CPUS, VM_SET_TLB, VM_SET_PT, VM_SET_THP,
		VM_SET_PAGECACHE, VM_SET_FAULT_AROUND, VM_SET_POLICY, VM_SET_SWAP, VM_SET_SEED,
	};
	fprintf(f, "settings:");
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		fprintf(f, " %s=%s", vmlab_setting_info(shown[i])->key, vm_settings_text(s, shown[i]));
	fprintf(f, "  (vmlab config lists them all)\n");
}

static void text_accesses(FILE *f, const struct vm_replay_result *r)
{
	static const char *const labels[VM_RK_COUNT] = {
		"reads (R)", "writes (W)", "instruction fetches (X)", "modifies (M: read+write)",
		"kernel writes (read(2), fstat(2))",
	};
	static const unsigned order[VM_RK_COUNT] = {
		VM_RK_EXEC, VM_RK_READ, VM_RK_WRITE, VM_RK_MODIFY, VM_RK_KERNEL,
	};
	uint64_t total = vm_report_all_accesses(r);
	fprintf(f, "\naccesses\n");
	for (unsigned i = 0; i < VM_RK_COUNT; i++)
		line_pct(f, labels[order[i]], r->acc[order[i]], "accesses", total, "accesses");
	line(f, "total", total, "accesses", NULL);
}

static void text_tlb(FILE *f, const struct vm_replay_result *r)
{
	const struct vm_stats *s = &r->stats;
	uint64_t data = s->acc_read + s->acc_write, l1m = vm_report_l1_misses(s);
	char extra[64];
	fprintf(f, "\nTLB and page walks\n");
	line_pct(f, "L1 ITLB misses", s->tlb_l1i_miss, "accesses", s->acc_exec, "fetches");
	line_pct(f, "L1 DTLB misses", s->tlb_l1d_miss, "accesses", data, "data accesses");
	line_pct(f, "L2 TLB hits", vm_report_l2_hits(s), "accesses", l1m, "L1 misses");
	line_pct(f, "L2 TLB misses", s->tlb_l2_miss, "accesses", l1m, "L1 misses");
	snprintf(extra, sizeof(extra), "%6.2f per 1,000 accesses",
		 vm_replay_accesses(r) ? 1000.0 * (double)s->walks / (double)vm_replay_accesses(r) : 0);
	line(f, "page walks", s->walks, "walks", extra);
	line_pct(f, "walks started from a PWC hit", pwc_hits(s), "walks", s->walks, "walks");
	snprintf(extra, sizeof(extra), "%6.2f per walk",
		 s->walks ? (double)s->walk_refs / (double)s->walks : 0);
	line(f, "walk memory references", s->walk_refs, "refs", extra);
}

static void text_faults(FILE *f, const struct vm_replay_result *r)
{
	const struct vm_stats *s = &r->stats;
	fprintf(f, "\npage faults\n");
	line(f, "minor", s->minflt, "faults", NULL);
	line(f, "major", s->majflt, "faults", NULL);
	line(f, "copy-on-write (private copies)", s->flt_cow, "faults", NULL);
	line(f, "zero page mapped", s->flt_zero_page, "faults", NULL);
	line(f, "anonymous pages allocated", s->flt_anon, "faults", NULL);
	line(f, "protection (#PF with P=1)", s->pf_protection, "faults", NULL);
	line(f, "SIGSEGV", s->sig_segv, "signals", r->first_signal[0] ? r->first_signal : NULL);
	line(f, "SIGBUS", s->sig_bus, "signals", NULL);
	line(f, "pages mapped by fault-around", s->fault_around, "pages", NULL);
	line(f, "pages written back", r->writeback, "pages",
	     r->writeback_modelled ? NULL : "(writeback is not modelled by this build)");
}

/* Memory pressure: reclaim and swap traffic (Linux /proc/vmstat names in
 * the JSON).  Printed only when something was reclaimed or swapped, so a
 * replay with enough memory keeps its short summary. */
#define VM_REPLAY_RECLAIM(X) \
	X(pgscan_kswapd, "pages scanned by kswapd", "pages") \
	X(pgsteal_kswapd, "pages freed by kswapd", "pages") \
	X(pgscan_direct, "pages scanned by direct reclaim", "pages") \
	X(pgsteal_direct, "pages freed by direct reclaim", "pages") \
	X(allocstall, "direct reclaim passes (allocstall)", "passes") \
	X(lru_putback, "chosen but could not go (put back)", "pages") \
	X(pswpout, "pages written to swap (pswpout)", "pages") \
	X(pswpin, "pages read from swap (pswpin)", "pages") \
	X(swap_ra, "pages read ahead from swap", "pages") \
	X(swap_ra_hit, "swap faults found in the swap cache", "faults") \
	X(oom_kill, "processes killed by the OOM killer", "kills")

static bool under_pressure(const struct vm_stats *s)
{
	return s->pgscan_kswapd || s->pgscan_direct || s->pswpin || s->oom_kill;
}

static void text_reclaim(FILE *f, const struct vm_replay_result *r)
{
	const struct vm_stats *s = &r->stats;
	if (!under_pressure(s))
		return;
	fprintf(f, "\nmemory pressure (docs/reclaim.md)\n");
#define RECLAIM_LINE(name, label, unit) line(f, label, s->name, unit, NULL);
	VM_REPLAY_RECLAIM(RECLAIM_LINE)
#undef RECLAIM_LINE
}

static void kib_line(FILE *f, const char *label, uint64_t now, uint64_t peak, const char *extra)
{
	char a[32], b[32];
	fprintf(f, "  %-34s %12s KiB   peak %12s KiB%s%s\n", label,
		vm_report_group(KIB(now), a, sizeof(a)), vm_report_group(KIB(peak), b, sizeof(b)),
		extra ? "  " : "", extra ? extra : "");
}

static void text_memory(FILE *f, const struct vm_replay_result *r)
{
	char st[80], extra[120], a[32], b[32], c[32];
	if (!r->nprocs)
		return;
	const struct vm_replay_proc *p = &r->procs[0];
	fprintf(f, "\nmemory of pid %" PRId32 " (%s), %s\n", p->pid, p->name,
		state_text(p, st, sizeof(st)));
	kib_line(f, "VSZ", p->vsz, p->vsz_peak, NULL);
	snprintf(extra, sizeof(extra), "(anon %s KiB, file %s KiB, shmem %s KiB)",
		 vm_report_group(KIB(p->rss_anon), a, sizeof(a)),
		 vm_report_group(KIB(p->rss_file), b, sizeof(b)),
		 vm_report_group(KIB(p->rss_shmem), c, sizeof(c)));
	kib_line(f, "RSS", p->rss_anon + p->rss_file + p->rss_shmem, p->rss_peak, extra);
	kib_line(f, "page tables", p->pt, p->pt_peak, NULL);
	fprintf(f, "  the whole machine (%u process%s):\n", r->nprocs, r->nprocs == 1 ? "" : "es");
	fprintf(f, "  %-34s %12s KiB\n", "peak of RSS summed over processes",
		vm_report_group(KIB(r->rss_sum_peak), a, sizeof(a)));
	fprintf(f, "  %-34s %12s KiB  (page cache and page tables included)\n",
		"peak of physical memory in use",
		vm_report_group(KIB(r->frames_peak), a, sizeof(a)));
	fprintf(f, "  %-34s %12s KiB\n", "peak of page-table memory",
		vm_report_group(KIB(r->pt_peak), a, sizeof(a)));
}

static void cost_term(FILE *f, const char *label, uint64_t n, const char *unit, uint64_t cost,
		      const char *cunit)
{
	char a[32], b[32], c[32];
	fprintf(f, "  %-22s %16s %-6s x %8s %-6s = %18s %s\n", label,
		vm_report_group(n, a, sizeof(a)), unit, vm_report_group(cost, b, sizeof(b)), cunit,
		vm_report_group(n * cost, c, sizeof(c)), cunit);
}

static void text_estimate(FILE *f, const struct vm_replay_result *r)
{
	const struct vm_stats *s = &r->stats;
	const struct vm_replay_costs *c = &r->costs;
	struct vm_replay_estimate e;
	char a[32], b[32], d[32];
	vm_replay_estimate(r, &e);
	fprintf(f, "\nestimated time (cost model: settings cost_*, cpu_mhz; docs/replay.md)\n");
	cost_term(f, "translated accesses", vm_replay_accesses(r), "", c->access, "cycles");
	cost_term(f, "L2 TLB hits", vm_report_l2_hits(s), "", c->tlb_hit, "cycles");
	cost_term(f, "walk references", s->walk_refs, "refs", c->walk_ref, "cycles");
	cost_term(f, "minor faults", s->minflt, "", c->minor_fault, "cycles");
	cost_term(f, "major faults", s->majflt, "", c->major_fault_ns, "ns");
	cost_term(f, "pages written back", r->writeback, "pages", c->writeback_ns, "ns");
	fprintf(f, "  %-22s %16.3f ms  (%s cycles at %s MHz + %s ns of device time)\n", "total",
		e.total_ns / 1e6, vm_report_group((uint64_t)e.cycles, b, sizeof(b)),
		vm_report_group(c->cpu_mhz, a, sizeof(a)),
		vm_report_group((uint64_t)e.device_ns, d, sizeof(d)));
	fprintf(f, "  %-22s %16.3f ns  = %.2f cycles per translated access\n",
		"effective access time", e.eat_ns, e.eat_cycles);
}

static void use_row(FILE *f, const char *label, const struct vm_replay_use *u, uint64_t total)
{
	char a[40], b[32], c[32], d[32];
	size_t n = strlen(label);
	if (n > 34) {               /* a long path keeps its end: the file's name */
		snprintf(a, sizeof(a), "...%s", label + n - 31);
		label = a;
	}
	fprintf(f, "  %-34s %16s %7.2f %% %12s %12s\n", label,
		vm_report_group(u->accesses, c, sizeof(c)), pct(u->accesses, total),
		vm_report_group(u->minflt, b, sizeof(b)), vm_report_group(u->majflt, d, sizeof(d)));
}

static void text_regions(FILE *f, const struct vm_replay_result *r)
{
	uint64_t total = vm_report_all_accesses(r);
	fprintf(f, "\nby region (docs/replay.md: how VMAs are classified)\n");
	fprintf(f, "  %-34s %16s %9s %12s %12s\n", "region", "accesses", "share", "minor flt",
		"major flt");
	for (unsigned i = 0; i < VM_RGN_COUNT; i++)
		use_row(f, vm_rgn_name(i), &r->rgn[i], total);
	if (!r->nfiles)
		return;
	fprintf(f, "\nby file mapped\n");
	fprintf(f, "  %-34s %16s %9s %12s %12s\n", "file", "accesses", "share", "minor flt",
		"major flt");
	for (unsigned i = 0; i < r->nfiles; i++)
		use_row(f, r->files[i].path, &r->files[i].use, total);
}

static void text_procs(FILE *f, const struct vm_replay_result *r)
{
	char st[80], a[32], b[32], c[32], d[32];
	if (r->nprocs < 2)
		return;
	fprintf(f, "\nprocesses\n  %7s %7s %-16s %16s %10s %8s %12s %12s  %s\n", "pid", "parent",
		"name", "accesses", "minor flt", "major", "VSZ peak", "RSS peak", "end");
	for (unsigned i = 0; i < r->nprocs; i++) {
		const struct vm_replay_proc *p = &r->procs[i];
		fprintf(f, "  %7" PRId32 " %7" PRId32 " %-16s %16s %10s %8" PRIu64 " %8s KiB %8s KiB  %s\n",
			p->pid, p->parent, p->name, vm_report_group(p->use.accesses, a, sizeof(a)),
			vm_report_group(p->use.minflt, b, sizeof(b)), p->use.majflt,
			vm_report_group(KIB(p->vsz_peak), c, sizeof(c)),
			vm_report_group(KIB(p->rss_peak), d, sizeof(d)),
			state_text(p, st, sizeof(st)));
	}
}

static void text_notes(FILE *f, const struct vm_replay_result *r)
{
	fprintf(f, "\nreplay notes\n");
	for (unsigned i = 0; i < VM_RNOTE_COUNT; i++)
		if (r->note[i] || i == VM_RNOTE_SYS_REPLAYED)
			line(f, vm_replay_note_name(i), r->note[i], "", vm_replay_note_help(i));
	if (r->first_mismatch[0])
		fprintf(f, "  first mismatch: %s\n", r->first_mismatch);
}

void vm_report_replay_text(FILE *f, const struct vm_replay_info *info,
			   const struct vm_replay_result *r)
{
	char a[32];
	char b[32];
	fprintf(f, "replay of %s (%s): %s events (%s access events, %" PRIu64 " system calls, %"
		PRIu64 " maps, %" PRIu64 " forks, %" PRIu64 " execs, %" PRIu64 " exits)\n", info->trace,
		info->format, vm_report_group(r->events, a, sizeof(a)),
		vm_report_group(r->ev[VM_TEV_ACCESS], b, sizeof(b)),
		r->ev[VM_TEV_SYSCALL], r->ev[VM_TEV_MAP], r->ev[VM_TEV_FORK], r->ev[VM_TEV_EXEC],
		r->ev[VM_TEV_EXIT]);
	vm_report_settings_line(f, info->settings);
	text_accesses(f, r);
	text_tlb(f, r);
	text_faults(f, r);
	text_reclaim(f, r);
	text_memory(f, r);
	text_estimate(f, r);
	text_regions(f, r);
	text_procs(f, r);
	text_notes(f, r);
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_use(struct vm_json *j, const char *key, const struct vm_replay_use *u)
{
	vm_json_begin_object(j, key);
	vm_json_u64(j, "accesses", u->accesses);
	vm_json_u64(j, "minor_faults", u->minflt);
	vm_json_u64(j, "major_faults", u->majflt);
	vm_json_end_object(j);
}

static void json_proc(struct vm_json *j, const struct vm_replay_proc *p)
{
	static const char *const states[] = { "running", "exited", "killed" };
	vm_json_begin_object(j, NULL);
	vm_json_i64(j, "pid", p->pid);
	vm_json_i64(j, "parent", p->parent);
	vm_json_str(j, "name", p->name);
	vm_json_str(j, "state", states[p->state < 3 ? p->state : 0]);
	if (p->state == VM_RPROC_EXITED)
		vm_json_i64(j, "exit_code", p->exit_code);
	if (p->state == VM_RPROC_KILLED) {
		vm_json_str(j, "signal", p->signo == VM_SIGBUS ? "SIGBUS" : "SIGSEGV");
		vm_json_u64(j, "kill_event", p->kill_event);
		vm_json_u64(j, "kill_address", p->kill_addr);
	}
	vm_json_u64(j, "accesses", p->use.accesses);
	vm_json_u64(j, "minor_faults", p->use.minflt);
	vm_json_u64(j, "major_faults", p->use.majflt);
	vm_json_u64(j, "vsz_bytes", p->vsz << 12);
	vm_json_u64(j, "vsz_peak_bytes", p->vsz_peak << 12);
	vm_json_u64(j, "rss_bytes", (p->rss_anon + p->rss_file + p->rss_shmem) << 12);
	vm_json_u64(j, "rss_anon_bytes", p->rss_anon << 12);
	vm_json_u64(j, "rss_file_bytes", p->rss_file << 12);
	vm_json_u64(j, "rss_shmem_bytes", p->rss_shmem << 12);
	vm_json_u64(j, "rss_peak_bytes", p->rss_peak << 12);
	vm_json_u64(j, "page_table_bytes", p->pt << 12);
	vm_json_u64(j, "page_table_peak_bytes", p->pt_peak << 12);
	vm_json_end_object(j);
}

void vm_report_replay_json(struct vm_json *j, const char *key, const struct vm_replay_info *info,
			   const struct vm_replay_result *r)
{
	static const char *const kinds[VM_RK_COUNT] = { "read", "write", "exec", "modify",
							 "kernel_write" };
	const struct vm_stats *s = &r->stats;
	const struct vm_replay_costs *c = &r->costs;
	struct vm_replay_estimate e;
	vm_replay_estimate(r, &e);

	vm_json_begin_object(j, key);
	vm_json_str(j, "trace", info->trace);
	vm_json_str(j, "format", info->format);
	vm_json_begin_object(j, "settings");
	for (size_t i = 0; i < vmlab_settings_count(); i++)
		vm_json_str(j, vmlab_setting_info(i)->key, vm_settings_text(info->settings, i));
	vm_json_end_object(j);
	vm_json_begin_object(j, "events");
	vm_json_u64(j, "total", r->events);
	for (unsigned i = 0; i < VM_TEV_KINDS; i++)
		vm_json_u64(j, vm_trace_kind_name(i), r->ev[i]);
	vm_json_end_object(j);
	vm_json_begin_object(j, "accesses");
	for (unsigned i = 0; i < VM_RK_COUNT; i++)
		vm_json_u64(j, kinds[i], r->acc[i]);
	vm_json_u64(j, "total", vm_report_all_accesses(r));
	vm_json_u64(j, "translated", vm_replay_accesses(r));
	vm_json_end_object(j);
	vm_json_begin_object(j, "tlb");
	vm_json_u64(j, "l1i_misses", s->tlb_l1i_miss);
	vm_json_u64(j, "l1d_misses", s->tlb_l1d_miss);
	vm_json_u64(j, "l1i_hits", s->tlb_l1i_hit_4k + s->tlb_l1i_hit_2m + s->tlb_l1i_hit_1g);
	vm_json_u64(j, "l1d_hits", s->tlb_l1d_hit_4k + s->tlb_l1d_hit_2m + s->tlb_l1d_hit_1g);
	vm_json_u64(j, "l2_hits", vm_report_l2_hits(s));
	vm_json_u64(j, "l2_misses", s->tlb_l2_miss);
	vm_json_u64(j, "walks", s->walks);
	vm_json_u64(j, "walk_refs", s->walk_refs);
	vm_json_u64(j, "walks_from_pwc_hit", pwc_hits(s));
	vm_json_end_object(j);
	vm_json_begin_object(j, "faults");
	vm_json_u64(j, "minor", s->minflt);
	vm_json_u64(j, "major", s->majflt);
	vm_json_u64(j, "cow", s->flt_cow);
	vm_json_u64(j, "zero_page", s->flt_zero_page);
	vm_json_u64(j, "anon", s->flt_anon);
	vm_json_u64(j, "protection", s->pf_protection);
	vm_json_u64(j, "segv", s->sig_segv);
	vm_json_u64(j, "sigbus", s->sig_bus);
	vm_json_u64(j, "fault_around_pages", s->fault_around);
	vm_json_end_object(j);
	vm_json_begin_object(j, "reclaim");
#define RECLAIM_JSON(name, label, unit) vm_json_u64(j, #name, s->name);
	VM_REPLAY_RECLAIM(RECLAIM_JSON)
#undef RECLAIM_JSON
	vm_json_end_object(j);
	vm_json_bool(j, "writeback_modelled", r->writeback_modelled);
	vm_json_u64(j, "writeback_pages", r->writeback);
	vm_json_begin_object(j, "memory");
	vm_json_u64(j, "rss_sum_peak_bytes", r->rss_sum_peak << 12);
	vm_json_u64(j, "frames_peak_bytes", r->frames_peak << 12);
	vm_json_u64(j, "page_table_peak_bytes", r->pt_peak << 12);
	vm_json_end_object(j);
	vm_json_begin_object(j, "cost_model");
	vm_json_u64(j, "access_cycles", c->access);
	vm_json_u64(j, "tlb_hit_cycles", c->tlb_hit);
	vm_json_u64(j, "walk_ref_cycles", c->walk_ref);
	vm_json_u64(j, "minor_fault_cycles", c->minor_fault);
	vm_json_u64(j, "major_fault_ns", c->major_fault_ns);
	vm_json_u64(j, "writeback_ns", c->writeback_ns);
	vm_json_u64(j, "cpu_mhz", c->cpu_mhz);
	vm_json_end_object(j);
	vm_json_begin_object(j, "estimate");
	vm_json_double(j, "cycles", e.cycles);
	vm_json_double(j, "device_ns", e.device_ns);
	vm_json_double(j, "total_ns", e.total_ns);
	vm_json_double(j, "effective_access_ns", e.eat_ns);
	vm_json_double(j, "effective_access_cycles", e.eat_cycles);
	vm_json_end_object(j);
	vm_json_begin_object(j, "regions");
	for (unsigned i = 0; i < VM_RGN_COUNT; i++)
		json_use(j, vm_rgn_name(i), &r->rgn[i]);
	vm_json_end_object(j);
	vm_json_begin_array(j, "files");
	for (unsigned i = 0; i < r->nfiles; i++) {
		vm_json_begin_object(j, NULL);
		vm_json_str(j, "path", r->files[i].path);
		vm_json_u64(j, "accesses", r->files[i].use.accesses);
		vm_json_u64(j, "minor_faults", r->files[i].use.minflt);
		vm_json_u64(j, "major_faults", r->files[i].use.majflt);
		vm_json_end_object(j);
	}
	vm_json_end_array(j);
	vm_json_begin_array(j, "processes");
	for (unsigned i = 0; i < r->nprocs; i++)
		json_proc(j, &r->procs[i]);
	vm_json_end_array(j);
	vm_json_begin_object(j, "notes");
	for (unsigned i = 0; i < VM_RNOTE_COUNT; i++)
		vm_json_u64(j, vm_replay_note_name(i), r->note[i]);
	vm_json_str(j, "first_mismatch", r->first_mismatch);
	vm_json_str(j, "first_signal", r->first_signal);
	vm_json_end_object(j);
	if (info->maps_text) {
		vm_json_begin_object(j, "maps_at");
		vm_json_u64(j, "event", info->maps_at);
		vm_json_str(j, "maps", info->maps_text);
		vm_json_end_object(j);
	}
	vm_json_end_object(j);
}
