/*
 * Fixture for the kernel tests (fault, zap, uaccess, pagecache, kernel): a
 * machine built from settings words and its kernel, processes from
 * vm_proc_create with VMAs placed by hand (exact addresses and flags, no
 * mmap policy in the way), host files with known bytes, and an invariant
 * check: vm_kernel_check, then a second count of every present leaf
 * against RSS and frame counts that also knows THP blocks.
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
#include "kernel/mm_internal.h"
#include "kernel/proc.h"
#include "kernel/rmap.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"
#include "tap.h"

#define KF_MAX_PROCS 8

struct kfix {
	struct vm_machine *m;
	struct vm_kernel *k;                /* the machine's kernel */
	struct vm_stats *st;                /* its counters */
	struct vm_proc *procs[KF_MAX_PROCS];
	unsigned nprocs;
	struct vm_proc *holder;             /* holds the files kfix_open opens */
	unsigned accesses, bad_checks;      /* user accesses; vm_kernel_check failures after them */
	char files[4][64];                  /* host files made by kfix_file */
	unsigned nfiles;
};

/* Build a machine (aslr=0 unless the words say otherwise) from settings
 * words ("phys=64M", ...); its kernel is the one under test.  Returns 0 or
 * the error (the test fails). */
static VM_UNUSED int kfix_init(struct kfix *f, const char *const *words)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;
	int rc;

	memset(f, 0, sizeof(*f));
	vmlab_settings_parse(s, "aslr=0", &err);
	for (; words && *words; words++)
		if (vmlab_settings_parse(s, *words, &err))
			diag("bad setting %s: %s", *words, err.msg);
	rc = vmlab_machine_create(s, NULL, &f->m, &err);
	vmlab_settings_destroy(s);
	if (rc) {
		diag("machine: %s", err.msg);
		return rc;
	}
	f->k = vm_machine_kernel(f->m);
	f->st = &f->m->kstats;
	return 0;
}

/* A running process on CPU cpu (vm_proc_create: the standard stack VMA
 * near the top, nothing else mapped). */
static VM_UNUSED struct vm_proc *kfix_proc(struct kfix *f, unsigned cpu)
{
	struct vm_proc *p;

	if (f->nprocs == KF_MAX_PROCS || vm_proc_create(f->k, "kfix", &p))
		return NULL;
	p->cpu = cpu;
	f->procs[f->nprocs++] = p;
	return p;
}

/* A VMA [start, end) with vm_flags (VM_MAY* added), linked into p's tree
 * and accounted.  file may be NULL; pgoff in pages (anonymous: start >> 12). */
static VM_UNUSED struct vm_vma *kfix_vma(struct vm_proc *p, vm_vaddr start, vm_vaddr end,
					 uint64_t flags, struct vm_file *file, uint64_t pgoff)
{
	struct vm_vma *vma = vm_vma_new(p->mm->k);

	if (!vma)
		return NULL;
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_flags = flags | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC |
			(flags & VM_SHARED ? VM_MAYSHARE : 0);
	vma->vm_file = file;
	vma->vm_pgoff = file ? pgoff : start >> VM_PAGE_SHIFT;
	vma->mm = p->mm;
	if (file)
		vm_file_get(file);
	vm_vma_link(p->mm, vma);
	vm_stat_account(p->mm, vma->vm_flags, (int64_t)((end - start) >> VM_PAGE_SHIFT));
	return vma;
}

/* The process exits: its address space is unmapped and freed. */
static VM_UNUSED void kfix_exit(struct kfix *f, struct vm_proc *p)
{
	vm_sys_exit(f->k, p, 0);
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

/* Open path with a descriptor of a holder process (so that every file
 * reference is a descriptor's or a VMA's, as vm_kernel_check expects); the
 * file stays open until the machine goes.  NULL on failure. */
static VM_UNUSED struct vm_file *kfix_open(struct kfix *f, const char *path)
{
	if (!f->holder && vm_proc_create(f->k, "holder", &f->holder))
		return NULL;
	long fd = vm_sys_openat(f->k, f->holder, path, VM_O_RDONLY);
	return fd < 0 ? NULL : f->holder->fds[fd].file;
}

static VM_UNUSED unsigned char kfix_file_byte(uint64_t i)
{
	return (unsigned char)((i * 7 + i / 4096) & 0xff);
}

static VM_UNUSED void kfix_fini(struct kfix *f)
{
	is_u64(f->bad_checks, 0, "vm_kernel_check held after each of %u user accesses", f->accesses);
	vmlab_machine_destroy(f->m);      /* kills and reaps every process */
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
	struct vm_kernel *k = c->f->k;
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
	static char why[256];
	struct vm_kernel *k = f->k;
	uint64_t n = k->phys->nframes;
	uint32_t *maps = calloc(n, sizeof(*maps));
	const char *bad = NULL;

	if (vm_kernel_check(k, why, sizeof(why)))
		bad = why;
	for (unsigned i = 0; i < f->nprocs && !bad; i++) {
		struct vm_proc *p = f->procs[i];
		if (p->state != VM_PROC_RUNNING || !p->mm)
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
	char msg[256];
	int rc = vm_user_access(f->k, p, va, size, kind, buf);

	f->accesses++;
	if (vm_kernel_check(f->k, msg, sizeof(msg)) && f->bad_checks++ < 5)
		diag("vm_kernel_check after the access at %#" PRIx64 ": %s", va, msg);
	return rc;
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
