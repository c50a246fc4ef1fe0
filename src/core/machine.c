/*
 * Building and tearing down a machine from its settings.
 */
#include "core/machine.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/error.h"
#include "kernel/reclaim.h"

static int table_alloc(void *ctx, uint64_t *pfn)
{
	struct vm_machine *m = ctx;
	/* Linux: GFP_PGTABLE_USER allocations stop at the min watermark too;
	 * they do not reclaim here, in the middle of a page-table change.
	 * Reclaim itself runs with PF_MEMALLOC and may go below min
	 * (ALLOC_NO_WATERMARKS): the table a THP split needs (Linux
	 * deposited it at the THP fault; the model takes it then). */
	if (m->kernel.reclaim && !m->kernel.reclaim->busy &&
	    m->buddy.free_frames <= m->kernel.reclaim->wmark_min)
		return -ENOMEM;
	int rc = vm_buddy_alloc(&m->buddy, 0, pfn);
	if (rc)
		return rc;
	vm_page_set(&m->pages[*pfn], VM_PG_PGTABLE);
	m->frames_pt++;
	return 0;
}

static void table_free(void *ctx, uint64_t pfn)
{
	struct vm_machine *m = ctx;
	struct vm_page *pg = &m->pages[pfn];
	vm_page_clear(pg, VM_PG_PGTABLE);
	pg->refcount = 0;
	m->frames_pt--;
	vm_buddy_free(&m->buddy, pfn, 0);
}

int vm_machine_pt_create(struct vm_machine *m, struct vm_pt *pt)
{
	return vm_pt_create(pt, m->pt_type->name, &m->phys, &m->table_src);
}

int vm_machine_frames_alloc(struct vm_machine *m, unsigned order, uint64_t *pfn)
{
	return vm_buddy_alloc(&m->buddy, order, pfn);
}

int vm_machine_frames_free(struct vm_machine *m, uint64_t pfn, unsigned order)
{
	if (pfn >= m->phys.nframes)
		return -EINVAL;
	m->pages[pfn].refcount = 0;
	return vm_buddy_free(&m->buddy, pfn, order);
}

static void cpu_config(const struct vm_settings *s, const struct vm_pt_type *pt,
		       struct vm_cpu_config *c)
{
	uint64_t repl = vm_settings_u64(s, VM_SET_TLB_REPL);
	c->tlb = vm_tlb_preset_at((unsigned)vm_settings_u64(s, VM_SET_TLB));
	c->tlb_repl = repl == 0 ? -1 : (int)repl - 1;
	c->pcid = vm_settings_u64(s, VM_SET_PCID);
	c->pge = vm_settings_u64(s, VM_SET_PGE);
	c->nx = vm_settings_u64(s, VM_SET_NX);
	c->smep = vm_settings_u64(s, VM_SET_SMEP);
	c->smap = vm_settings_u64(s, VM_SET_SMAP);
	c->wp = vm_settings_u64(s, VM_SET_WP);
	c->pke = vm_settings_u64(s, VM_SET_PKE);
	c->maxphyaddr = (unsigned)vm_settings_u64(s, VM_SET_PHYS_BITS);
	c->va_bits = pt->levels == 5 ? 57 : 48;
}

/* The kernel runs on the parts built before it (vm_kernel_init's contract). */
static int build_kernel(struct vm_machine *m, struct vm_error *err)
{
	struct vm_kernel *k = &m->kernel;
	int rc;

	*k = (struct vm_kernel){
		.host = &m->host, .rng = &m->rng, .phys = &m->phys, .pages = m->pages,
		.buddy = &m->buddy, .cpus = m->cpus, .ncpus = m->ncpus, .pt_type = m->pt_type,
		.table_src = m->table_src, .stats = &m->kstats,
	};
	rc = vm_kernel_init(k, &m->settings);
	if (rc) {
		vm_error_set(err, "kernel: %s", rc == -ENOMEM ? "out of memory" : "cannot start");
		return rc;
	}
	return 0;
}

/* Everything after the machine struct itself; on failure the caller tears
 * down whatever was built (destroy copes with a half-built machine). */
static int build(struct vm_machine *m, struct vm_error *err)
{
	const struct vm_settings *s = &m->settings;
	uint64_t size = vm_settings_u64(s, VM_SET_PHYS);
	bool data = vm_settings_u64(s, VM_SET_MODE) == 0;
	int rc;

	vm_rng_seed(&m->rng, vm_settings_u64(s, VM_SET_SEED));
	m->pt_type = vm_pt_type_at((unsigned)vm_settings_u64(s, VM_SET_PT));
	if (size >> VM_PAGE_SHIFT > ((uint64_t)1 << vm_settings_u64(s, VM_SET_PHYS_BITS)) >> 12) {
		vm_error_set(err, "phys=%s does not fit in phys_bits=%s", vm_settings_text(s, VM_SET_PHYS),
			     vm_settings_text(s, VM_SET_PHYS_BITS));
		return -EINVAL;
	}
	rc = vm_phys_init(&m->phys, &m->host, size, data);
	if (rc) {
		vm_error_set(err, "phys=%s: cannot reserve host memory", vm_settings_text(s, VM_SET_PHYS));
		return rc;
	}
	m->pages = vm_host_reserve(&m->host, (size_t)(m->phys.nframes * sizeof(struct vm_page)));
	if (!m->pages) {
		vm_error_set(err, "out of host memory for %" PRIu64 " frame descriptors", m->phys.nframes);
		return -ENOMEM;
	}
	vm_buddy_init(&m->buddy, m->pages, m->phys.nframes);
	m->table_src = (struct vm_frame_source){ table_alloc, table_free, m };

	struct vm_cpu_config cfg;
	cpu_config(s, m->pt_type, &cfg);
	m->ncpus = (unsigned)vm_settings_u64(s, VM_SET_CPUS);
	m->cpus = vm_host_calloc(&m->host, m->ncpus, sizeof(struct vm_cpu));
	if (!m->cpus) {
		m->ncpus = 0;
		vm_error_set(err, "out of host memory for %u CPUs", (unsigned)vm_settings_u64(s, VM_SET_CPUS));
		return -ENOMEM;
	}
	for (unsigned i = 0; i < m->ncpus; i++) {
		rc = vm_cpu_init(&m->cpus[i], i, &cfg, &m->host, &m->rng);
		if (rc) {
			m->ncpus = i;     /* destroy finalises only those built */
			if (rc == -ENOMEM)
				vm_error_set(err, "CPU %u: out of host memory for its TLBs", i);
			else if (cfg.tlb_repl == VM_REPL_PLRU)
				vm_error_set(err, "tlb_repl=plru: preset %s has arrays whose ways are not a "
					     "power of two (tree PLRU needs one); try tlb=tiny or "
					     "tlb_repl=lru", cfg.tlb->name);
			else
				vm_error_set(err, "tlb=%s: the preset's geometry is inconsistent",
					     cfg.tlb->name);
			return rc;
		}
	}
	return build_kernel(m, err);
}

int vmlab_machine_create(const struct vm_settings *s, const struct vm_host_hooks *hooks,
			 struct vm_machine **out, struct vm_error *err)
{
	struct vm_host host = { .fail_at = hooks ? hooks->fail_at : 0 };
	struct vm_machine *m = vm_host_calloc(&host, 1, sizeof(*m));
	*out = NULL;
	if (!m) {
		vm_error_set(err, "out of host memory");
		return -ENOMEM;
	}
	m->host = host;
	if (s) {
		m->settings = *s;
	} else {
		struct vm_settings *def = vmlab_settings_create();
		if (!def) {
			vmlab_machine_destroy(m);
			vm_error_set(err, "out of host memory");
			return -ENOMEM;
		}
		m->settings = *def;
		vmlab_settings_destroy(def);
	}
	int rc = build(m, err);
	if (rc) {
		vmlab_machine_destroy(m);
		return rc;
	}
	*out = m;
	return 0;
}

void vmlab_machine_destroy(struct vm_machine *m)
{
	if (!m)
		return;
	vm_kernel_fini(&m->kernel);
	for (unsigned i = 0; i < m->ncpus; i++)
		vm_cpu_fini(&m->cpus[i], &m->host);
	vm_host_free(&m->host, m->cpus);
	if (m->pages)
		vm_host_release(&m->host, m->pages, (size_t)(m->phys.nframes * sizeof(struct vm_page)));
	vm_phys_fini(&m->phys);
	struct vm_host host = m->host;
	vm_host_free(&host, m);
}

const struct vm_settings *vmlab_machine_settings(const struct vm_machine *m)
{
	return &m->settings;
}

uint64_t vmlab_machine_host_allocs(const struct vm_machine *m)
{
	return m->host.allocs;
}

int vmlab_machine_check(struct vm_machine *m, struct vm_error *err)
{
	char msg[256];
	if (vm_buddy_check(&m->buddy, msg, sizeof(msg))) {
		vm_error_set(err, "buddy: %s", msg);
		return -EUCLEAN;
	}
	for (unsigned i = 0; i < m->ncpus; i++) {
		if (vm_tlb_check(&m->cpus[i].tlb, msg, sizeof(msg))) {
			vm_error_set(err, "cpu %u tlb: %s", i, msg);
			return -EUCLEAN;
		}
	}
	uint64_t used = m->phys.nframes - m->buddy.free_frames;
	if (m->frames_pt > used) {
		vm_error_set(err, "%" PRIu64 " page-table frames but only %" PRIu64 " frames in use",
			     m->frames_pt, used);
		return -EUCLEAN;
	}
	if (m->kernel.cpu_mm && vm_kernel_check(&m->kernel, msg, sizeof(msg))) {
		vm_error_set(err, "kernel: %s", msg);
		return -EUCLEAN;
	}
	return 0;
}

void vmlab_machine_stats(const struct vm_machine *m, struct vm_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < m->ncpus; i++) {
		struct vm_stats c;
		vm_cpu_stats(&m->cpus[i], &c);
#define VM_SUM_HW(name, unit, help) out->name += c.name;
		VM_COUNTERS_HW(VM_SUM_HW)
#undef VM_SUM_HW
	}
	out->frames_total = m->phys.nframes;
	out->frames_free = m->buddy.free_frames;
	out->frames_pt = m->frames_pt;
	out->buddy_allocs = m->buddy.allocs;
	out->buddy_alloc_fails = m->buddy.alloc_fails;
	out->buddy_frees = m->buddy.frees;
	out->buddy_splits = m->buddy.splits;
	out->buddy_merges = m->buddy.merges;
#define VM_COPY_KERNEL(name, unit, help) out->name = m->kstats.name;
	VM_COUNTERS_KERNEL(VM_COPY_KERNEL)
#undef VM_COPY_KERNEL
}
