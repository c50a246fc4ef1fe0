/*
 * What scenarios print: a page-table walk read straight from the tables
 * (no A/D bit changes, no TLB or PWC state touched), the counters, and the
 * JSON document of a run.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/scenario.h>
#include <vmlab/stats.h>

#include "base/json.h"
#include "hw/pt.h"
#include "hw/pte.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "trace/scenario.h"

static const char *level_name(unsigned level, unsigned levels)
{
	static const char *const names[] = { "", "PT   (pte)", "PD   (pmd)", "PDPT (pud)",
					     "PML4 (pgd)", "PML5 (pgd)" };
	if (level == 4 && levels == 5)
		return "PML4 (p4d)";
	return level <= 5 ? names[level] : "?";
}

/* The flags of an entry at level, in SDM order. */
static void entry_flags(vm_pte e, unsigned level, char *buf, size_t len)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} bits[] = {
		{ VM_PTE_P, "P" }, { VM_PTE_RW, "RW" }, { VM_PTE_US, "US" }, { VM_PTE_PWT, "PWT" },
		{ VM_PTE_PCD, "PCD" }, { VM_PTE_A, "A" }, { VM_PTE_D, "D" }, { VM_PTE_PS, "PS" },
		{ VM_PTE_G, "G" }, { VM_PTE_SOFTW1, "SPECIAL" }, { VM_PTE_SOFTW2, "UFFD_WP" },
		{ VM_PTE_SOFTW3, "SOFT_DIRTY" }, { VM_PTE_NX, "NX" },
	};
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]) && used < len; i++) {
		if (!(e.v & bits[i].bit))
			continue;
		const char *name = bits[i].bit == VM_PTE_PS && level == 1 ? "PAT" : bits[i].name;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", name);
	}
	if (pte_pkey(e) && used < len)
		snprintf(buf + used, len - used, " pkey=%u", pte_pkey(e));
}

static void leaf_line(struct scn_run *r, vm_pte e, unsigned level, uint64_t va)
{
	uint64_t base = pte_leaf_base(e, level), off = va & ((UINT64_C(1) << vm_level_shift(level)) - 1);
	static const char *const sizes[] = { "", "4K", "2M", "1G" };
	fprintf(r->out, "  frame 0x%" PRIx64 ": %s page at pa 0x%" PRIx64 ", the address is pa 0x%" PRIx64
		"%s\n", base >> VM_PAGE_SHIFT, level <= 3 ? sizes[level] : "?", base, base + off,
		level == 1 && (base >> VM_PAGE_SHIFT) == r->k->zero_pfn ? " (the shared zero page)" : "");
}

/* Radix tables: every level's entry from the frames themselves. */
static void radix_walk(struct scn_run *r, const struct vm_mm *mm, uint64_t va)
{
	const struct vm_pt *pt = &mm->pt;
	uint64_t table = pt->root_pfn;
	fprintf(r->out, "  CR3 -> root table at pa 0x%" PRIx64 " (pcid %u)\n", table << VM_PAGE_SHIFT,
		(unsigned)mm->pcid);
	for (unsigned level = pt->levels; level >= 1; level--) {
		unsigned idx = vm_pt_index(va, level);
		vm_pte e = { vm_phys_table(pt->phys, table)[idx] };
		char flags[96];
		entry_flags(e, level, flags, sizeof(flags));
		fprintf(r->out, "  %s index %3u  entry 0x%016" PRIx64 " at pa 0x%" PRIx64 "  %s\n",
			level_name(level, pt->levels), idx, e.v, (table << VM_PAGE_SHIFT) + 8u * idx,
			pte_present(e) ? flags : "not present");
		if (!pte_present(e))
			return;
		if (level == 1 || (level <= 3 && pte_huge(e))) {
			leaf_line(r, e, level, va);
			return;
		}
		table = pte_pfn(e);
		if (table >= pt->phys->nframes) {
			fprintf(r->out, "  (the entry points outside physical memory)\n");
			return;
		}
	}
}

void scn_show_pagetable(struct scn_run *r, int proc, uint64_t va)
{
	struct vm_mm *mm = r->procs[proc]->mm;
	struct vm_pt *pt = &mm->pt;
	if (!vm_canonical(va, pt->va_bits)) {
		fprintf(r->out, "  0x%" PRIx64 " is not canonical (%u-bit addresses): no walk, #GP\n", va,
			pt->va_bits);
		return;
	}
	if (strncmp(pt->ops->name, "radix", 5) == 0) {
		radix_walk(r, mm, va);
		return;
	}
	/* Other organisations: the leaf only. */
	struct vm_pt_leaf leaf;
	if (pt->ops->lookup(pt, va, &leaf) != 0) {
		fprintf(r->out, "  not mapped\n");
		return;
	}
	char flags[96];
	entry_flags(leaf.pte, leaf.level, flags, sizeof(flags));
	fprintf(r->out, "  leaf entry 0x%016" PRIx64 " at pa 0x%" PRIx64 "  %s\n", leaf.pte.v, leaf.ptep.v,
		flags);
	leaf_line(r, leaf.pte, leaf.level, va);
}

void scn_show_stats(struct scn_run *r)
{
	struct vm_stats s;
	vmlab_machine_stats(r->m, &s);
	for (unsigned i = 0; vmlab_counter_name(i); i++) {
		uint64_t v = vmlab_counter_get(&s, i);
		if (v)
			fprintf(r->out, "  %-18s %14" PRIu64 " %s\n", vmlab_counter_name(i), v,
				vmlab_counter_unit(i));
	}
}

static const char *state_name(const struct vm_proc *p)
{
	if (!p)
		return "not started";
	return p->state == VM_PROC_RUNNING ? "running" : p->state == VM_PROC_EXITED ? "exited" : "killed";
}

static void json_process(struct vm_json *j, struct scn_run *r, int i)
{
	const struct vm_proc *p = r->procs[i];
	vm_json_begin_object(j, NULL);
	vm_json_str(j, "name", r->prog->names[r->prog->procs[i].name].id);
	vm_json_str(j, "state", state_name(p));
	if (p && p->sig.signo) {
		const char *sig = scn_signal_name(p->sig.signo);
		vm_json_str(j, "signal", sig ? sig : "?");
		vm_json_u64(j, "killed_at_line", (uint64_t)r->killed_line[i]);
		if (p->sig.reason)
			vm_json_str(j, "reason", p->sig.reason);
	}
	vm_json_begin_object(j, "figures");
	for (unsigned f = 0; f < SCN_F_COUNT; f++)
		vm_json_i64(j, scn_field_name(f), scn_figure(r, i, f));
	vm_json_end_object(j);
	vm_json_end_object(j);
}

void scn_write_json(struct scn_run *r, FILE *f, int result)
{
	const struct scn_prog *prog = r->prog;
	struct vm_json j;
	vm_json_init(&j, f);
	vm_json_begin_object(&j, NULL);
	vm_json_str(&j, "scenario", prog->file);
	vm_json_str(&j, "result", result == VM_SCENARIO_OK ? "ok" : r->stopped ? "error" : "failed");
	vm_json_u64(&j, "expectations", prog->nexpects);
	vm_json_u64(&j, "failed", r->failures);
	vm_json_begin_object(&j, "settings");
	for (size_t i = 0; i < vmlab_settings_count(); i++) {
		const char *k = vmlab_setting_info(i)->key;
		vm_json_str(&j, k, vmlab_settings_get(prog->settings, k));
	}
	vm_json_end_object(&j);
	struct vm_stats s;
	vmlab_machine_stats(r->m, &s);
	vm_json_begin_object(&j, "counters");
	for (unsigned i = 0; vmlab_counter_name(i); i++)
		vm_json_u64(&j, vmlab_counter_name(i), vmlab_counter_get(&s, i));
	vm_json_end_object(&j);
	vm_json_begin_array(&j, "processes");
	for (size_t i = 0; i < prog->nprocs; i++)
		json_process(&j, r, (int)i);
	vm_json_end_array(&j);
	vm_json_begin_array(&j, "output");
	for (size_t i = 0; i < r->nouts; i++) {
		const struct scn_out *o = &r->outs[i];
		char *text = r->cap_buf ? strndup(r->cap_buf + o->start, o->end - o->start) : NULL;
		vm_json_begin_object(&j, NULL);
		vm_json_u64(&j, "line", (uint64_t)o->line);
		vm_json_str(&j, "text", text ? text : "");
		vm_json_end_object(&j);
		free(text);
	}
	vm_json_end_array(&j);
	vm_json_begin_array(&j, "failures");
	for (size_t i = 0; i < r->nfailed; i++) {
		vm_json_begin_object(&j, NULL);
		vm_json_u64(&j, "line", (uint64_t)r->failed[i].line);
		vm_json_str(&j, "message", r->failed[i].msg);
		vm_json_end_object(&j);
	}
	vm_json_end_array(&j);
	vm_json_end_object(&j);
	vm_json_finish(&j);
}
