/*
 * Fixture for the kernel tests (fault, zap, uaccess, pagecache, kernel): a
 * machine built from settings words, a kernel on its parts, address spaces
 * and VMAs made by hand (exact addresses and flags, no mmap policy in the
 * way), host files with known bytes, and an invariant checker that counts
 * every present leaf against RSS and frame counts.
 */
#ifndef VMLAB_KFIXTURE_H
#define VMLAB_KFIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "base/compiler.h"
#include "core/machine.h"
#include "kernel/fault.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/rmap.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"
#include "tap.h"

#define KF_MAX_PROCS 8

struct kfix {
	struct vm_machine *m;
	struct vm_kernel k;
	struct vm_stats st;                 /* the kernel's counters */
	struct vm_proc *procs[KF_MAX_PROCS];
	unsigned nprocs;
	char files[4][64];                  /* host files made by kfix_file */
	unsigned nfiles;
};

/* Build a machine from settings words ("phys=64M", ...) and a kernel on
 * it.  Returns 0 or the error (the test fails). */
static VM_UNUSED int kfix_init(struct kfix *f, const char *const *words)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;
	int rc;

	memset(f, 0, sizeof(*f));
	for (; words && *words; words++)
		if (vmlab_settings_parse(s, *words, &err))
			diag("bad setting %s: %s", *words, err.msg);
	rc = vmlab_machine_create(s, NULL, &f->m, &err);
	if (rc) {
		diag("machine: %s", err.msg);
		vmlab_settings_destroy(s);
		return rc;
	}
	struct vm_kernel *k = &f->k;
	k->host = &f->m->host;
	k->rng = &f->m->rng;
	k->phys = &f->m->phys;
	k->pages = f->m->pages;
	k->buddy = &f->m->buddy;
	k->cpus = f->m->cpus;
	k->ncpus = f->m->ncpus;
	k->pt_type = f->m->pt_type;
	k->table_src = f->m->table_src;
	k->stats = &f->st;
	rc = vm_kernel_init(k, s);
	vmlab_settings_destroy(s);
	return rc;
}

/* An empty address space: page tables from the machine, the next PCID. */
static VM_UNUSED struct vm_mm *kfix_mm(struct kfix *f)
{
	struct vm_mm *mm = calloc(1, sizeof(*mm));

	if (!mm || vm_machine_pt_create(f->m, &mm->pt)) {
		free(mm);
		return NULL;
	}
	mm->k = &f->k;
	mm->pcid = f->k.next_pcid++;
	mm->users = 1;
	mm->task_size = f->k.cfg.task_size_max;
	return mm;
}

/* A running process on CPU cpu with an empty address space. */
static VM_UNUSED struct vm_proc *kfix_proc(struct kfix *f, unsigned cpu)
{
	struct vm_proc *p = calloc(1, sizeof(*p));

	if (!p || f->nprocs == KF_MAX_PROCS)
		return free(p), NULL;
	p->mm = kfix_mm(f);
	if (!p->mm)
		return free(p), NULL;
	p->pid = (int)f->nprocs + 100;
	p->cpu = cpu;
	p->state = VM_PROC_RUNNING;
	f->procs[f->nprocs++] = p;
	return p;
}

/* A VMA [start, end) with vm_flags (VM_MAY* added), linked into p's tree.
 * file may be NULL; pgoff in pages (anonymous: start >> 12). */
static VM_UNUSED struct vm_vma *kfix_vma(struct vm_proc *p, vm_vaddr start, vm_vaddr end, uint64_t flags,
			       struct vm_file *file, uint64_t pgoff)
{
	struct vm_vma *vma = calloc(1, sizeof(*vma));

	if (!vma)
		return NULL;
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = flags | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | (flags & VM_SHARED ? VM_MAYSHARE : 0);
	vma->vm_file = file;
	vma->vm_pgoff = file ? pgoff : start >> VM_PAGE_SHIFT;
	vma->mm = p->mm;
	if (file)
		vm_file_get(file);
	vm_vma_link(p->mm, vma);
	p->mm->total_vm += (end - start) >> VM_PAGE_SHIFT;
	return vma;
}

/* Unmap everything and free the address space (what exit does). */
static VM_UNUSED void kfix_mm_free(struct kfix *f, struct vm_mm *mm)
{
	struct vm_vma *vma;

	while ((vma = vm_vma_first(mm)) != NULL) {
		vm_zap_range(&f->k, vma, vma->vm_start, vma->vm_end);
		vm_vma_unlink(mm, vma);
		if (vma->vm_file)
			vm_file_put(&f->k, vma->vm_file);
		free(vma);
	}
	vm_leave_mm(&f->k, mm);
	vm_pt_destroy(&mm->pt);
	free(mm);
}

/* Stand-ins for kmm's process functions until they are merged: weak, so
 * the real ones win when proc.c and mmap.c are in the library. */
__attribute__((weak)) void vm_proc_kill(struct vm_kernel *k, struct vm_proc *p,
					const struct vm_siginfo *sig)
{
	struct kfix *f = VM_CONTAINER_OF(k, struct kfix, k);

	p->sig = *sig;
	p->state = VM_PROC_KILLED;
	kfix_mm_free(f, p->mm);
	p->mm = NULL;
}

__attribute__((weak)) void vm_proc_reap(struct vm_kernel *k, struct vm_proc *p)
{
	(void)k;
	(void)p;
}

/* Linux expand_downwards(): the size limit and the guard gap below. */
__attribute__((weak)) int vm_expand_stack(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr)
{
	vm_vaddr start = addr & ~(VM_PAGE_SIZE - 1);
	struct vm_vma *prev = vm_vma_prev(vma);

	if (vma->vm_end - start > k->cfg.stack_rlimit)
		return -ENOMEM;
	if (prev && (prev->vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) &&
	    start - prev->vm_end < k->cfg.stack_guard_gap)
		return -ENOMEM;
	vma->vm_pgoff -= (vma->vm_start - start) >> VM_PAGE_SHIFT;
	vma->vm_start = start;
	vm_vma_update_gaps(vma->mm, vma);
	return 0;
}

/* A host file of size bytes whose byte i is (i * 7 + i / 4096) & 0xff. */
static VM_UNUSED const char *kfix_file(struct kfix *f, uint64_t size)
{
	char *path = f->files[f->nfiles++];
	snprintf(path, 64, "/tmp/vmlab-kf-XXXXXX");
	int fd = mkstemp(path);
	unsigned char buf[4096];

	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = (size_t)(size - off < sizeof(buf) ? size - off : sizeof(buf));
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)(((off + i) * 7 + (off + i) / 4096) & 0xff);
		if (write(fd, buf, n) != (ssize_t)n)
			diag("short write to %s", path);
	}
	close(fd);
	return path;
}

static VM_UNUSED unsigned char kfix_file_byte(uint64_t i)
{
	return (unsigned char)((i * 7 + i / 4096) & 0xff);
}

static VM_UNUSED void kfix_fini(struct kfix *f)
{
	for (unsigned i = 0; i < f->nprocs; i++) {
		struct vm_proc *p = f->procs[i];
		if (p->mm)
			kfix_mm_free(f, p->mm);
		free(p);
	}
	vm_kernel_fini(&f->k);
	vmlab_machine_destroy(f->m);
	for (unsigned i = 0; i < f->nfiles; i++)
		unlink(f->files[i]);
}

/* ---- the leaf under an address ---------------------------------------------- */

static VM_UNUSED bool kfix_leaf(struct vm_proc *p, vm_vaddr va, struct vm_pt_leaf *leaf)
{
	return p->mm->pt.ops->lookup(&p->mm->pt, va, leaf) == 0;
}

static VM_UNUSED uint64_t kfix_pfn(struct vm_proc *p, vm_vaddr va)
{
	struct vm_pt_leaf l;

	if (!kfix_leaf(p, va, &l))
		return UINT64_MAX;
	return (pte_leaf_base(l.pte, l.level) + (va & ((UINT64_C(1) << vm_psize_shift(l.size)) - 1)))
	       >> VM_PAGE_SHIFT;
}

/* ---- invariants ------------------------------------------------------------ */

struct kfix_count {
	struct kfix *f;
	struct vm_mm *mm;
	uint64_t rss[VM_RSS_COUNT];
	uint32_t *maps;          /* per frame: leaves mapping it (4 KiB frames of a THP: head) */
	const char *bad;
};

static VM_UNUSED int kfix_count_leaf(void *ctx, const struct vm_pt_leaf *leaf)
{
	struct kfix_count *c = ctx;
	struct vm_kernel *k = &c->f->k;
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;
	uint64_t nr = UINT64_C(1) << (9 * (unsigned)leaf->size);
	struct vm_vma *vma = vm_vma_lookup(c->mm, leaf->va);

	if (!vma)
		c->bad = "a leaf outside every VMA";
	if (!(leaf->pte.v & VM_PTE_US) && vma && (vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC)))
		c->bad = "a leaf without U/S";
	if ((leaf->pte.v & VM_PTE_RW) && vma && !(vma->vm_flags & VM_WRITE))
		c->bad = "a writable leaf in a VMA without VM_WRITE";
	if (pfn == k->zero_pfn) {
		if (leaf->pte.v & VM_PTE_RW)
			c->bad = "the zero page mapped writable";
		return 0;
	}
	struct vm_page *pg = &k->pages[pfn];
	if (vma)
		c->rss[vm_rss_kind(vma, pg)] += nr;
	if (leaf->size == VM_PSIZE_2M && (!vm_page_test(pg, VM_PG_HEAD) || pg->order != 9))
		c->bad = "a 2 MiB leaf on a frame that is not an order-9 head";
	if (leaf->size == VM_PSIZE_4K && vm_page_test(pg, VM_PG_TAIL))
		c->bad = "a 4 KiB leaf on a tail frame";
	if (pg->owner_kind == VM_OWNER_FILE && (leaf->pte.v & VM_PTE_RW) && vma &&
	    !(vma->vm_flags & VM_SHARED))
		c->bad = "a page-cache page writable in a private mapping";
	c->maps[pfn]++;
	return 0;
}

/* Every process's leaves against its RSS; every frame's map count and
 * reference count against the leaves and the page cache; the buddy
 * allocator and the page tables valid.  Returns NULL or what is wrong. */
static VM_UNUSED const char *kfix_check(struct kfix *f)
{
	static char why[200];
	struct vm_kernel *k = &f->k;
	uint64_t n = k->phys->nframes;
	uint32_t *maps = calloc(n, sizeof(*maps));
	const char *bad = NULL;

	for (unsigned i = 0; i < f->nprocs && !bad; i++) {
		struct vm_proc *p = f->procs[i];
		if (!p->mm)
			continue;
		struct kfix_count c = { .f = f, .mm = p->mm, .maps = maps };
		vm_vaddr top = (UINT64_C(1) << (k->cfg.va_bits - 1));
		p->mm->pt.ops->for_each(&p->mm->pt, 0, top, kfix_count_leaf, &c);
		bad = c.bad;
		for (int r = 0; r < VM_RSS_COUNT && !bad; r++)
			if (c.rss[r] != p->mm->rss[r]) {
				snprintf(why, sizeof(why), "pid %d: rss[%d] %" PRIu64 " but %" PRIu64
					 " pages mapped", p->pid, r, p->mm->rss[r], c.rss[r]);
				bad = why;
			}
		if (!bad && p->mm->pt.ops->check(&p->mm->pt, why, sizeof(why)))
			bad = why;
	}
	for (uint64_t pfn = 0; pfn < n && !bad; pfn++) {
		struct vm_page *pg = &k->pages[pfn];
		if (pfn == k->zero_pfn || vm_page_test(pg, VM_PG_PGTABLE) ||
		    vm_page_test(pg, VM_PG_BUDDY) || vm_page_test(pg, VM_PG_TAIL))
			continue;
		uint32_t cached = pg->owner_kind == VM_OWNER_FILE ? 1 : 0;
		if ((uint32_t)pg->mapcount != maps[pfn] || (pg->refcount && pg->refcount != maps[pfn] + cached)) {
			snprintf(why, sizeof(why), "pfn %#" PRIx64 ": refcount %u mapcount %d, %u leaves%s",
				 pfn, pg->refcount, pg->mapcount, maps[pfn], cached ? " + cache" : "");
			bad = why;
		}
	}
	if (!bad && vm_buddy_check(k->buddy, why, sizeof(why)))
		bad = why;
	free(maps);
	return bad;
}

#define kfix_ok(f, what) \
	do { \
		const char *kfix_bad_ = kfix_check(f); \
		ok(kfix_bad_ == NULL, "%s: invariants hold%s%s", (what), kfix_bad_ ? ": " : "", \
		   kfix_bad_ ? kfix_bad_ : ""); \
	} while (0)

/* One user access of size bytes (buf may be NULL). */
static VM_UNUSED int kfix_access(struct kfix *f, struct vm_proc *p, vm_vaddr va, uint64_t size, unsigned kind,
		       void *buf)
{
	return vm_user_access(&f->k, p, va, size, kind, buf);
}

static VM_UNUSED int kfix_read8(struct kfix *f, struct vm_proc *p, vm_vaddr va, unsigned char *b)
{
	return kfix_access(f, p, va, 1, VM_ACC_READ, b);
}

static VM_UNUSED int kfix_write8(struct kfix *f, struct vm_proc *p, vm_vaddr va, unsigned char b)
{
	return kfix_access(f, p, va, 1, VM_ACC_WRITE, &b);
}

#endif
