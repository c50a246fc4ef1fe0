/*
 * Regions of an address space: each VMA of a process classified as text,
 * data, bss, heap, anonymous mmap, file mmap, stack or other (the rules
 * are in docs/replay.md), kept as a sorted array that the access path
 * searches, and rebuilt only after something changed the VMAs (a system
 * call, a map, a fork or exec, a stack that grew).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/mm.h"
#include "kernel/vfs.h"
#include "trace/replay_internal.h"

const char *vm_rgn_name(unsigned rgn)
{
	static const char *const names[VM_RGN_COUNT] = {
		"text", "data", "bss", "heap", "mmap-anon", "mmap-file", "stack", "other",
	};
	return rgn < VM_RGN_COUNT ? names[rgn] : NULL;
}

static void use_add(struct vm_replay_use *to, const struct vm_replay_use *u)
{
	to->accesses += u->accesses;
	to->minflt += u->minflt;
	to->majflt += u->majflt;
}

void rp_region_flush(struct vm_replay *r, struct rp_proc *pp)
{
	for (unsigned i = 0; i < pp->nrg; i++) {
		struct rp_region *g = &pp->rg[i];
		use_add(&r->res.rgn[g->cls], &g->use);
		if (g->file != RP_NOFILE)
			use_add(&r->files[g->file].use, &g->use);
		memset(&g->use, 0, sizeof(g->use));
	}
	use_add(&r->res.rgn[VM_RGN_OTHER], &pp->outside.use);
	memset(&pp->outside.use, 0, sizeof(pp->outside.use));
}

void rp_region_free(struct rp_proc *pp)
{
	free(pp->rg);
	pp->rg = NULL;
	pp->nrg = pp->cap = 0;
	rp_region_forget(pp);
}

/* The index of path in r->files, added if new; RP_NOFILE when out of memory
 * (its counts then go to the region class only). */
static uint32_t file_index(struct vm_replay *r, const char *path)
{
	for (unsigned i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i].path, path) == 0)
			return i;
	if (r->nfiles == r->files_cap) {
		unsigned cap = r->files_cap ? 2 * r->files_cap : 16;
		struct rp_file *f = realloc(r->files, cap * sizeof(*f));
		if (!f)
			return RP_NOFILE;
		r->files = f;
		r->files_cap = cap;
	}
	char *copy = strdup(path);
	if (!copy)
		return RP_NOFILE;
	r->files[r->nfiles] = (struct rp_file){ .path = copy };
	return r->nfiles++;
}

static uint32_t allowed(uint64_t vm_flags)
{
	uint32_t a = 0;
	/* Linux access_error(): a read needs any of R/W/X (x86 cannot map
	 * write- or execute-only), a write VM_WRITE, a fetch VM_EXEC. */
	if (vm_flags & (VM_READ | VM_WRITE | VM_EXEC))
		a |= 1u << VM_ACC_READ;
	if (vm_flags & VM_WRITE)
		a |= 1u << VM_ACC_WRITE;
	if (vm_flags & VM_EXEC)
		a |= 1u << VM_ACC_EXEC;
	return a;
}

/* The files mapped executable somewhere in the address space: loaded
 * objects (programs, libraries), whose other mappings are their data. */
struct code_files {
	const struct vm_file *f[64];
	unsigned n;
	bool overflow;            /* more than 64: files not listed are looked up */
};

static void collect_code(const struct vm_mm *mm, struct code_files *c)
{
	c->n = 0;
	c->overflow = false;
	for (struct vm_vma *v = vm_vma_first(mm); v; v = vm_vma_next(v)) {
		if (!v->vm_file || !(v->vm_flags & VM_EXEC))
			continue;
		bool seen = false;
		for (unsigned i = 0; i < c->n && !seen; i++)
			seen = c->f[i] == v->vm_file;
		if (seen)
			continue;
		if (c->n == 64)
			c->overflow = true;
		else
			c->f[c->n++] = v->vm_file;
	}
}

static bool has_code(const struct vm_mm *mm, const struct code_files *c, const struct vm_file *f)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->f[i] == f)
			return true;
	for (struct vm_vma *v = c->overflow ? vm_vma_first(mm) : NULL; v; v = vm_vma_next(v))
		if (v->vm_file == f && (v->vm_flags & VM_EXEC))
			return true;
	return false;
}

static uint32_t classify(const struct vm_mm *mm, const struct code_files *code,
			 const struct vm_vma *v, const struct rp_region *prev)
{
	if ((v->vm_flags & VM_GROWSDOWN) ||
	    (mm->start_stack && v->vm_start <= mm->start_stack && v->vm_end >= mm->start_stack))
		return VM_RGN_STACK;
	/* Linux's [heap]: a VMA overlapping the break area (procfs.c). */
	if (!v->vm_file && mm->brk > mm->start_brk && v->vm_start < mm->brk &&
	    v->vm_end > mm->start_brk)
		return VM_RGN_HEAP;
	if (v->vm_name)
		return VM_RGN_OTHER;
	if (v->vm_file) {
		if (v->vm_flags & VM_EXEC)
			return VM_RGN_TEXT;
		return has_code(mm, code, v->vm_file) ? VM_RGN_DATA : VM_RGN_FILE;
	}
	/* The bss: the anonymous tail the ELF loader maps right after a
	 * loaded object's data (load_elf_binary's set_brk, ld.so's
	 * _dl_map_segments). */
	if (prev && prev->cls == VM_RGN_DATA && prev->start + prev->len == v->vm_start &&
	    !(v->vm_flags & VM_SHARED))
		return VM_RGN_BSS;
	return VM_RGN_ANON;
}

/* Rebuild pp's regions from its VMAs.  0, -ENOMEM. */
static int rebuild(struct vm_replay *r, struct rp_proc *pp)
{
	const struct vm_mm *mm = pp->p ? pp->p->mm : NULL;
	unsigned n = mm ? (unsigned)mm->map_count : 0;
	struct code_files code = { .n = 0 };

	rp_region_flush(r, pp);
	pp->nrg = 0;
	rp_region_forget(pp);
	pp->stale = false;
	if (n > pp->cap) {
		struct rp_region *rg = realloc(pp->rg, n * sizeof(*rg));
		if (!rg)
			return -ENOMEM;
		pp->rg = rg;
		pp->cap = n;
	}
	if (mm)
		collect_code(mm, &code);
	for (struct vm_vma *v = mm ? vm_vma_first(mm) : NULL; v; v = vm_vma_next(v)) {
		struct rp_region *g = &pp->rg[pp->nrg];
		*g = (struct rp_region){
			.start = v->vm_start, .len = v->vm_end - v->vm_start,
			.cls = classify(mm, &code, v, pp->nrg ? g - 1 : NULL),
			.file = v->vm_file ? file_index(r, v->vm_file->path) : RP_NOFILE,
			.allow = allowed(v->vm_flags),
		};
		pp->nrg++;
	}
	return 0;
}

struct rp_region *rp_region_find(struct vm_replay *r, struct rp_proc *pp, vm_vaddr addr)
{
	if (pp->stale && rebuild(r, pp)) {
		pp->stale = true;     /* try again next time; count as outside now */
		return &pp->outside;
	}
	unsigned lo = 0, hi = pp->nrg;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct rp_region *g = &pp->rg[mid];
		if (addr < g->start)
			hi = mid;
		else if (addr - g->start >= g->len)
			lo = mid + 1;
		else
			return &pp->rg[mid];
	}
	return &pp->outside;
}
