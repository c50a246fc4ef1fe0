/*
 * vmlab pattern: a synthetic access stream through the MMU and TLBs, once
 * per page size, side by side — what huge pages do to TLB misses and walks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>
#include <vmlab/pattern.h>

#include "base/json.h"
#include "cli/cli.h"

#define MAX_RUNS VM_PSIZE_COUNT

static const char *const size_names[VM_PSIZE_COUNT] = { "4K", "2M", "1G" };

/* "4K,2M" -> sizes[], n.  0 or CLI_USAGE. */
static int parse_sizes(const char *list, enum vm_psize *sizes, unsigned *n)
{
	char buf[64];
	if (strlen(list) >= sizeof(buf)) {
		cli_fail("pattern", "--page-size: list too long");
		return CLI_USAGE;
	}
	strcpy(buf, list);
	*n = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t bytes;
		int s = -1;
		if (vmlab_parse_size(tok, &bytes) == 0)
			for (int i = 0; i < VM_PSIZE_COUNT; i++)
				if (bytes == UINT64_C(1) << vm_psize_shift((enum vm_psize)i))
					s = i;
		if (s < 0) {
			cli_fail("pattern", "--page-size: '%s' is not 4K, 2M or 1G", tok);
			return CLI_USAGE;
		}
		if (*n == MAX_RUNS) {
			cli_fail("pattern", "--page-size: at most %d sizes", MAX_RUNS);
			return CLI_USAGE;
		}
		sizes[(*n)++] = (enum vm_psize)s;
	}
	if (*n == 0) {
		cli_fail("pattern", "--page-size: empty list");
		return CLI_USAGE;
	}
	return 0;
}

struct row {
	const char *label;
	const char *unit;
	double (*value)(const struct vm_pattern_result *r);
	bool count;        /* a whole number: printed with digit grouping */
};

static double accesses(const struct vm_pattern_result *r)
{
	return (double)(r->delta.acc_read + r->delta.acc_write + r->delta.acc_exec);
}
static double pct(double part, const struct vm_pattern_result *r)
{
	double a = accesses(r);
	return a ? 100.0 * part / a : 0;
}
static double l1_hit_pct(const struct vm_pattern_result *r)
{
	const struct vm_stats *d = &r->delta;
	return pct((double)(d->tlb_l1d_hit_4k + d->tlb_l1d_hit_2m + d->tlb_l1d_hit_1g), r);
}
static double l2_hit_pct(const struct vm_pattern_result *r)
{
	const struct vm_stats *d = &r->delta;
	return pct((double)(d->tlb_l2_hit_4k + d->tlb_l2_hit_2m + d->tlb_l2_hit_1g), r);
}
static double walk_pct(const struct vm_pattern_result *r) { return pct((double)r->delta.walks, r); }
static double refs_per_walk(const struct vm_pattern_result *r)
{
	return r->delta.walks ? (double)r->delta.walk_refs / (double)r->delta.walks : 0;
}
static double refs_per_kacc(const struct vm_pattern_result *r)
{
	double a = accesses(r);
	return a ? 1000.0 * (double)r->delta.walk_refs / a : 0;
}
static double pwc_pct(const struct vm_pattern_result *r)
{
	const struct vm_stats *d = &r->delta;
	double hits = (double)(d->pwc_hit_pt + d->pwc_hit_pd + d->pwc_hit_pdpt + d->pwc_hit_pml4);
	return d->walks ? 100.0 * hits / (double)d->walks : 0;
}
static double pt_kib(const struct vm_pattern_result *r) { return (double)r->pt_bytes / 1024.0; }
static double pages(const struct vm_pattern_result *r) { return (double)r->pages; }

static const struct row rows[] = {
	{ "accesses", "", accesses, true },
	{ "L1 DTLB hits", "% of accesses", l1_hit_pct, false },
	{ "L2 TLB hits", "% of accesses", l2_hit_pct, false },
	{ "page walks", "% of accesses", walk_pct, false },
	{ "walks started from a PWC hit", "% of walks", pwc_pct, false },
	{ "memory refs per walk", "refs", refs_per_walk, false },
	{ "walk refs per 1000 accesses", "refs", refs_per_kacc, false },
	{ "pages mapped", "pages", pages, true },
	{ "page-table memory", "KiB", pt_kib, true },
};

static void print_text(const struct vm_pattern *p, const enum vm_psize *sizes, unsigned n,
		       const struct vm_pattern_result *res, const char *tlb)
{
	char fp[24];
	vmlab_format_size(p->footprint, fp, sizeof(fp));
	printf("pattern %s over %s, %" PRIu64 " accesses, %u%% writes, TLB preset %s\n\n",
	       vmlab_pattern_name(p->kind), fp, p->accesses, p->write_pct, tlb);
	printf("%-30s", "page size");
	for (unsigned i = 0; i < n; i++)
		printf(" %14s", size_names[sizes[i]]);
	printf("\n");
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		printf("%-30s", rows[r].label);
		for (unsigned i = 0; i < n; i++) {
			double v = rows[r].value(&res[i]);
			if (rows[r].count) {
				char g[32];
				printf(" %14s", cli_group((uint64_t)v, g, sizeof(g)));
			} else {
				printf(" %14.2f", v);
			}
		}
		printf("  %s\n", rows[r].unit);
	}
}

static void print_json(const struct vm_pattern *p, const enum vm_psize *sizes, unsigned n,
		       const struct vm_pattern_result *res, const struct vm_settings *s)
{
	struct vm_json j;
	vm_json_init(&j, stdout);
	vm_json_begin_object(&j, NULL);
	vm_json_str(&j, "pattern", vmlab_pattern_name(p->kind));
	vm_json_u64(&j, "footprint_bytes", p->footprint);
	vm_json_u64(&j, "accesses", p->accesses);
	vm_json_u64(&j, "write_pct", p->write_pct);
	vm_json_begin_object(&j, "settings");
	for (size_t i = 0; i < vmlab_settings_count(); i++) {
		const char *k = vmlab_setting_info(i)->key;
		vm_json_str(&j, k, vmlab_settings_get(s, k));
	}
	vm_json_end_object(&j);
	vm_json_begin_array(&j, "runs");
	for (unsigned i = 0; i < n; i++) {
		vm_json_begin_object(&j, NULL);
		vm_json_str(&j, "page_size", size_names[sizes[i]]);
		vm_json_u64(&j, "pages", res[i].pages);
		vm_json_u64(&j, "pt_bytes", res[i].pt_bytes);
		vm_json_begin_object(&j, "counters");
		for (unsigned c = 0; vmlab_counter_name(c); c++)
			vm_json_u64(&j, vmlab_counter_name(c), vmlab_counter_get(&res[i].delta, c));
		vm_json_end_object(&j);
		vm_json_end_object(&j);
	}
	vm_json_end_array(&j);
	vm_json_end_object(&j);
	vm_json_finish(&j);
}

static int run_all(const struct vm_settings *s, struct vm_pattern *p, const enum vm_psize *sizes,
		   unsigned n, struct vm_pattern_result *res)
{
	for (unsigned i = 0; i < n; i++) {
		struct vm_machine *m;
		struct vm_error err;
		/* A fresh machine per run: same seed, same stream, independent TLBs. */
		if (vmlab_machine_create(s, NULL, &m, &err)) {
			cli_error(&err);
			return CLI_BADINPUT;
		}
		p->page = sizes[i];
		int rc = vmlab_pattern_run(m, p, &res[i], &err);
		vmlab_machine_destroy(m);
		if (rc) {
			cli_error(&err);
			return rc == -EINVAL ? CLI_USAGE : CLI_BADINPUT;
		}
	}
	return 0;
}

int cmd_pattern(int argc, char **argv)
{
	struct vm_settings *s = vmlab_settings_create();
	const char *kind = "random", *page_sizes = "4K,2M";
	uint64_t footprint = UINT64_C(256) << 20, accesses = 1000000, stride = 64, writes = 0;
	bool json = false;
	if (!s) {
		cli_fail("pattern", "out of memory");
		return CLI_BADINPUT;
	}
	/* A bare-metal run needs no bytes in frames. */
	vmlab_settings_set(s, "mode", "meta", NULL);
	const struct cli_opt opts[] = {
		{ "pattern", CLI_STR, &kind, "KIND", "seq, random (default) or hot (90% to 10% of the region)" },
		{ "footprint", CLI_SIZE, &footprint, "SIZE", "bytes the stream covers (default 256M)" },
		{ "accesses", CLI_U64, &accesses, "N", "accesses to run (default 1000000)" },
		{ "stride", CLI_SIZE, &stride, "SIZE", "seq: bytes between accesses (default 64)" },
		{ "writes", CLI_U64, &writes, "PCT", "percentage of accesses that are writes (default 0)" },
		{ "page-size", CLI_STR, &page_sizes, "LIST", "page sizes to compare: 4K,2M,1G (default 4K,2M)" },
		{ "set", CLI_SET, s, "KEY=VALUE", "change a setting (vmlab config lists them)" },
		{ "config", CLI_CONFIG, s, "FILE", "read settings from a file" },
		{ "json", CLI_FLAG, &json, NULL, "print JSON" },
		{ 0 },
	};
	int first, rc = cli_parse("pattern", argc, argv, opts, &first, "[OPTIONS]",
				  "Map a region with pages of each size straight into a page table (no\n"
				  "kernel), run one synthetic stream of user-mode accesses through the MMU,\n"
				  "and compare TLB hits, page walks and page-table memory side by side.\n\n"
				  "example: vmlab pattern --pattern random --footprint 1G --page-size 4K,2M,1G");
	enum vm_psize sizes[MAX_RUNS];
	unsigned n = 0;
	int k = vmlab_pattern_find(kind);
	if (rc == 0 && first < argc) {
		cli_fail("pattern", "%s: unexpected argument", argv[first]);
		rc = CLI_USAGE;
	}
	if (rc == 0 && k < 0) {
		cli_fail("pattern", "--pattern: '%s' is not seq, random or hot", kind);
		rc = CLI_USAGE;
	}
	if (rc == 0 && writes > 100) {
		cli_fail("pattern", "--writes: %" PRIu64 " is not a percentage", writes);
		rc = CLI_USAGE;
	}
	if (rc == 0)
		rc = parse_sizes(page_sizes, sizes, &n);
	struct vm_pattern p = {
		.kind = (enum vm_pattern_kind)k, .footprint = footprint, .stride = stride,
		.accesses = accesses, .write_pct = (unsigned)writes,
	};
	struct vm_pattern_result res[MAX_RUNS];
	if (rc == 0)
		rc = run_all(s, &p, sizes, n, res);
	if (rc == 0) {
		if (json)
			print_json(&p, sizes, n, res, s);
		else
			print_text(&p, sizes, n, res, vmlab_settings_get(s, "tlb"));
	}
	vmlab_settings_destroy(s);
	return rc;
}
