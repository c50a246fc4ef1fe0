/*
 * Several replays of one trace side by side (vmlab replay --compare
 * KEY=V1,V2,...): one row a figure, one column a value of the setting
 * compared, as text (a table) or JSON (each run's whole report).  The
 * figures are read from struct vm_replay_result, like the single summary
 * (replay_report.c).
 */
#include "report/replay_report.h"
#include "report/replay_report_internal.h"

struct row {
	const char *label;
	const char *unit;
	double (*value)(const struct vm_replay_result *r, int arg);
	int arg;
	int decimals;
};

static const struct vm_replay_proc *root(const struct vm_replay_result *r)
{
	static const struct vm_replay_proc none;
	return r->nprocs ? &r->procs[0] : &none;
}

static double v_acc(const struct vm_replay_result *r, int a)
{
	(void)a;
	return (double)vm_report_all_accesses(r);
}
static double v_l1m(const struct vm_replay_result *r, int a)
{
	(void)a;
	return (double)vm_report_l1_misses(&r->stats);
}
static double v_l2h(const struct vm_replay_result *r, int a)
{
	(void)a;
	return (double)vm_report_l2_hits(&r->stats);
}
static double v_counter(const struct vm_replay_result *r, int a)
{
	return (double)vmlab_counter_get(&r->stats, (unsigned)a);
}
static double v_miss_pk(const struct vm_replay_result *r, int a)
{
	(void)a;
	uint64_t n = vm_replay_accesses(r);
	return n ? 1000.0 * (double)r->stats.tlb_l2_miss / (double)n : 0;
}
static double v_wb(const struct vm_replay_result *r, int a) { (void)a; return (double)r->writeback; }
static double v_vsz_peak(const struct vm_replay_result *r, int a) { (void)a; return KIB((double)root(r)->vsz_peak); }
static double v_rss_peak(const struct vm_replay_result *r, int a) { (void)a; return KIB((double)root(r)->rss_peak); }
static double v_rss_anon(const struct vm_replay_result *r, int a) { (void)a; return KIB((double)root(r)->rss_anon); }
static double v_rss_file(const struct vm_replay_result *r, int a) { (void)a; return KIB((double)root(r)->rss_file); }
static double v_pt_peak(const struct vm_replay_result *r, int a) { (void)a; return KIB((double)r->pt_peak); }
static double v_frames_peak(const struct vm_replay_result *r, int a) { (void)a; return KIB((double)r->frames_peak); }
static double v_rss_sum(const struct vm_replay_result *r, int a) { (void)a; return KIB((double)r->rss_sum_peak); }
static double v_time_ms(const struct vm_replay_result *r, int a)
{
	struct vm_replay_estimate e;
	(void)a;
	vm_replay_estimate(r, &e);
	return e.total_ns / 1e6;
}
static double v_eat(const struct vm_replay_result *r, int a)
{
	struct vm_replay_estimate e;
	(void)a;
	vm_replay_estimate(r, &e);
	return e.eat_ns;
}
static double v_scanned(const struct vm_replay_result *r, int a)
{
	(void)a;
	return (double)(r->stats.pgscan_kswapd + r->stats.pgscan_direct);
}
static double v_rgn_flt(const struct vm_replay_result *r, int a)
{
	return (double)(r->rgn[a].minflt + r->rgn[a].majflt);
}

static const struct row rows[] = {
	{ "accesses", "accesses", v_acc, 0, 0 },
	{ "L1 TLB misses", "accesses", v_l1m, 0, 0 },
	{ "L2 TLB hits", "accesses", v_l2h, 0, 0 },
	{ "page walks", "walks", v_counter, VM_CNT_walks, 0 },
	{ "walks per 1,000 accesses", "walks", v_miss_pk, 0, 3 },
	{ "walk memory references", "refs", v_counter, VM_CNT_walk_refs, 0 },
	{ "minor faults", "faults", v_counter, VM_CNT_minflt, 0 },
	{ "major faults", "faults", v_counter, VM_CNT_majflt, 0 },
	{ "copy-on-write faults", "faults", v_counter, VM_CNT_flt_cow, 0 },
	{ "zero-page faults", "faults", v_counter, VM_CNT_flt_zero_page, 0 },
	{ "THP faults (2 MiB)", "faults", v_counter, VM_CNT_flt_thp, 0 },
	{ "protection faults", "faults", v_counter, VM_CNT_pf_protection, 0 },
	{ "SIGSEGV", "signals", v_counter, VM_CNT_sig_segv, 0 },
	{ "pages written back", "pages", v_wb, 0, 0 },
	{ "pages scanned by reclaim", "pages", v_scanned, 0, 0 },
	{ "pages written to swap", "pages", v_counter, VM_CNT_pswpout, 0 },
	{ "pages read from swap", "pages", v_counter, VM_CNT_pswpin, 0 },
	{ "OOM kills", "kills", v_counter, VM_CNT_oom_kill, 0 },
	{ "first process: VSZ peak", "KiB", v_vsz_peak, 0, 0 },
	{ "first process: RSS peak", "KiB", v_rss_peak, 0, 0 },
	{ "first process: RSS anon at end", "KiB", v_rss_anon, 0, 0 },
	{ "first process: RSS file at end", "KiB", v_rss_file, 0, 0 },
	{ "peak RSS summed over processes", "KiB", v_rss_sum, 0, 0 },
	{ "peak physical memory in use", "KiB", v_frames_peak, 0, 0 },
	{ "peak page-table memory", "KiB", v_pt_peak, 0, 0 },
	{ "estimated time", "ms", v_time_ms, 0, 3 },
	{ "effective access time", "ns", v_eat, 0, 3 },
};

void vm_report_compare_text(FILE *f, const struct vm_replay_info *infos, const char *key,
			    const char *const *values, const struct vm_replay_result *res, unsigned n)
{
	const struct vm_replay_info *info = &infos[0];
	char g[40];
	fprintf(f, "replay of %s (%s), %s events, compared by %s\n", info->trace, info->format,
		vm_report_group(res[0].events, g, sizeof(g)), key);
	vm_report_settings_line(f, info->settings);
	fprintf(f, "\n%-34s", key);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, " %16s", values[i]);
	fprintf(f, "  unit\n");
	for (size_t k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		fprintf(f, "%-34s", rows[k].label);
		for (unsigned i = 0; i < n; i++) {
			double v = rows[k].value(&res[i], rows[k].arg);
			if (rows[k].decimals)
				fprintf(f, " %16.*f", rows[k].decimals, v);
			else
				fprintf(f, " %16s", vm_report_group((uint64_t)(v + 0.5), g, sizeof(g)));
		}
		fprintf(f, "  %s\n", rows[k].unit);
	}
	for (unsigned rg = 0; rg < VM_RGN_COUNT; rg++) {
		char label[64];
		snprintf(label, sizeof(label), "%s: accesses / faults", vm_rgn_name(rg));
		fprintf(f, "%-34s", label);
		for (unsigned i = 0; i < n; i++) {
			char a[32], b[32], both[72];
			snprintf(both, sizeof(both), "%s / %s",
				 vm_report_group(res[i].rgn[rg].accesses, a, sizeof(a)),
				 vm_report_group((uint64_t)v_rgn_flt(&res[i], (int)rg), b, sizeof(b)));
			fprintf(f, " %16s", both);
		}
		fprintf(f, "  accesses / faults\n");
	}
}

void vm_report_compare_json(FILE *f, const struct vm_replay_info *infos, const char *key,
			    const char *const *values, const struct vm_replay_result *res, unsigned n)
{
	struct vm_json j;
	vm_json_init(&j, f);
	vm_json_begin_object(&j, NULL);
	vm_json_str(&j, "compare", key);
	vm_json_begin_array(&j, "values");
	for (unsigned i = 0; i < n; i++)
		vm_json_str(&j, NULL, values[i]);
	vm_json_end_array(&j);
	vm_json_begin_array(&j, "results");
	for (unsigned i = 0; i < n; i++) {
		vm_json_begin_object(&j, NULL);
		vm_json_str(&j, "value", values[i]);
		vm_report_replay_json(&j, "result", &infos[i], &res[i]);
		vm_json_end_object(&j);
	}
	vm_json_end_array(&j);
	vm_json_end_object(&j);
	vm_json_finish(&j);
}
