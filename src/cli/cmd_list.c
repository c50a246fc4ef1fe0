/*
 * vmlab list: the registries (TLB presets, page-table organisations,
 * counters), so that a new implementation shows up by itself.
 */
#include <string.h>

#include <vmlab/stats.h>

#include "base/json.h"
#include "cli/cli.h"
#include "hw/pt.h"
#include "hw/tlb.h"
#include "policy/evict.h"

static const char *const size_names[VM_PSIZE_COUNT] = { "4K", "2M", "1G" };
static const char *const repl_names[VM_REPL_COUNT] = { "lru", "plru", "random" };

static void sizes_text(uint8_t sizes, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (unsigned s = 0; s < VM_PSIZE_COUNT; s++)
		if (sizes & (1u << s))
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "+" : "", size_names[s]);
}

static void level_text(const char *name, const struct vm_tlb_level_cfg *l)
{
	printf("    %-4s", name);
	bool any = false;
	for (unsigned i = 0; i < VM_TLB_ARRAYS_MAX; i++) {
		const struct vm_tlb_array_cfg *a = &l->a[i];
		if (!a->entries)
			continue;
		char sz[16], ways[24];
		sizes_text(a->sizes, sz, sizeof(sz));
		if (a->ways == a->entries)
			snprintf(ways, sizeof(ways), "fully assoc");
		else
			snprintf(ways, sizeof(ways), "%u-way", a->ways);
		printf("%s %u entries %s %s %s", any ? ";" : "", a->entries, ways, sz, repl_names[a->repl]);
		any = true;
	}
	printf("%s\n", any ? "" : " none");
}

static void level_json(struct vm_json *j, const char *name, const struct vm_tlb_level_cfg *l)
{
	vm_json_begin_array(j, name);
	for (unsigned i = 0; i < VM_TLB_ARRAYS_MAX; i++) {
		const struct vm_tlb_array_cfg *a = &l->a[i];
		if (!a->entries)
			continue;
		char sz[16];
		sizes_text(a->sizes, sz, sizeof(sz));
		vm_json_begin_object(j, NULL);
		vm_json_u64(j, "entries", a->entries);
		vm_json_u64(j, "ways", a->ways);
		vm_json_str(j, "sizes", sz);
		vm_json_str(j, "replacement", repl_names[a->repl]);
		vm_json_end_object(j);
	}
	vm_json_end_array(j);
}

static void list_tlbs(bool json)
{
	struct vm_json j;
	const struct vm_tlb_preset *p;
	if (json) {
		vm_json_init(&j, stdout);
		vm_json_begin_array(&j, NULL);
	}
	for (unsigned i = 0; (p = vm_tlb_preset_at(i)) != NULL; i++) {
		if (json) {
			vm_json_begin_object(&j, NULL);
			vm_json_str(&j, "name", p->name);
			vm_json_str(&j, "description", p->desc);
			level_json(&j, "l1i", &p->l1i);
			level_json(&j, "l1d", &p->l1d);
			level_json(&j, "l2", &p->l2);
			vm_json_begin_object(&j, "pwc");
			vm_json_u64(&j, "pde", p->pwc[2]);
			vm_json_u64(&j, "pdpte", p->pwc[3]);
			vm_json_u64(&j, "pml4e", p->pwc[4]);
			vm_json_u64(&j, "pml5e", p->pwc[5]);
			vm_json_end_object(&j);
			vm_json_end_object(&j);
			continue;
		}
		printf("%-12s %s\n", p->name, p->desc);
		level_text("L1I", &p->l1i);
		level_text("L1D", &p->l1d);
		level_text("L2", &p->l2);
		printf("    PWC  PDE %u, PDPTE %u, PML4E %u, PML5E %u entries\n", p->pwc[2], p->pwc[3],
		       p->pwc[4], p->pwc[5]);
	}
	if (json) {
		vm_json_end_array(&j);
		vm_json_finish(&j);
	}
}

static void list_pts(bool json)
{
	struct vm_json j;
	const struct vm_pt_type *t;
	if (json) {
		vm_json_init(&j, stdout);
		vm_json_begin_array(&j, NULL);
	}
	for (unsigned i = 0; (t = vm_pt_type_at(i)) != NULL; i++) {
		if (json) {
			vm_json_begin_object(&j, NULL);
			vm_json_str(&j, "name", t->name);
			vm_json_str(&j, "description", t->desc);
			vm_json_end_object(&j);
		} else {
			printf("%-12s %s\n", t->name, t->desc);
		}
	}
	if (json) {
		vm_json_end_array(&j);
		vm_json_finish(&j);
	}
}

/* One line each: name, what it sees, description. */
static void list_policies(bool json)
{
	struct vm_json j;
	const struct vm_evict_ops *p;
	if (json) {
		vm_json_init(&j, stdout);
		vm_json_begin_array(&j, NULL);
	}
	for (unsigned i = 0; (p = vm_evict_at(i)) != NULL; i++) {
		const char *sees = (p->flags & VM_EVICT_NEEDS_FUTURE) ? "future" :
				   (p->flags & VM_EVICT_SEES_ACCESSES) ? "every access" :
				   (p->flags & VM_EVICT_USES_ABITS) ? "A/D bits" : "faults only";
		if (json) {
			vm_json_begin_object(&j, NULL);
			vm_json_str(&j, "name", p->name);
			vm_json_str(&j, "sees", sees);
			vm_json_str(&j, "description", p->desc);
			vm_json_end_object(&j);
		} else {
			printf("%-14s %-13s %s\n", p->name, sees, p->desc);
		}
	}
	if (json) {
		vm_json_end_array(&j);
		vm_json_finish(&j);
	}
}

void cli_list_counters(bool json)
{
	struct vm_json j;
	if (json) {
		vm_json_init(&j, stdout);
		vm_json_begin_array(&j, NULL);
	}
	for (unsigned i = 0; vmlab_counter_name(i); i++) {
		if (json) {
			vm_json_begin_object(&j, NULL);
			vm_json_str(&j, "name", vmlab_counter_name(i));
			vm_json_str(&j, "unit", vmlab_counter_unit(i));
			vm_json_str(&j, "help", vmlab_counter_help(i));
			vm_json_end_object(&j);
		} else {
			printf("%-18s %-9s %s\n", vmlab_counter_name(i), vmlab_counter_unit(i),
			       vmlab_counter_help(i));
		}
	}
	if (json) {
		vm_json_end_array(&j);
		vm_json_finish(&j);
	}
}

int cmd_list(int argc, char **argv)
{
	bool json = false;
	const struct cli_opt opts[] = {
		{ "json", CLI_FLAG, &json, NULL, "print JSON" },
		{ 0 },
	};
	int first, rc = cli_parse("list", argc, argv, opts, &first, "tlbs|pts|policies|counters [--json]",
				  "List what vmlab can be configured with:\n"
				  "  tlbs      TLB presets of documented CPUs (--set tlb=NAME)\n"
				  "  pts       page-table organisations (--set pt=NAME)\n"
				  "  policies  page replacement policies (vmlab policy --policy NAME)\n"
				  "  counters  every counter vmlab reports, with its unit and meaning");
	if (rc)
		return rc;
	if (first + 1 != argc) {
		cli_fail("list", first < argc ? "one thing to list, not several" :
			 "what to list? tlbs, pts, policies or counters");
		return CLI_USAGE;
	}
	const char *what = argv[first];
	if (strcmp(what, "tlbs") == 0)
		list_tlbs(json);
	else if (strcmp(what, "pts") == 0)
		list_pts(json);
	else if (strcmp(what, "policies") == 0)
		list_policies(json);
	else if (strcmp(what, "counters") == 0)
		cli_list_counters(json);
	else {
		cli_fail("list", "%s: unknown list (tlbs, pts, policies or counters)", what);
		return CLI_USAGE;
	}
	return 0;
}
