/*
 * The data-mode oracle: random programs of memory calls, writes and reads on
 * a data-mode machine, checked against a shadow memory that knows only what
 * the calls mean to a program (POSIX and Linux semantics), nothing of
 * frames, page tables, TLBs or the page cache.  Every read must return the
 * bytes last written through that mapping's semantics:
 *
 *   private anonymous   zeros until written; each mapping its own bytes
 *   private file        the file's bytes until written, then its own copy
 *                       (until then it sees every write to the file)
 *   shared anonymous    one object per mmap call, seen by every page of it
 *                       in every process that inherited it
 *   shared file         the file's bytes: a read-only host file; a host
 *                       file opened for writing (an overlay) and a tmpfs
 *                       file, whose writes every mapping in every process
 *                       sees
 *   mremap              the pages move with their bytes; grown anonymous
 *                       pages are zero, grown file pages continue the file
 *   MADV_DONTNEED       private pages lose their bytes (zeros, or the file
 *                       again); shared pages keep theirs
 *   msync(MS_SYNC)      changes no byte; after it (and a drop of the page
 *                       cache) the overlay's pages read what was written
 *   fork                the child gets a copy of the shadow: private pages
 *                       diverge from then on, shared ones (objects and
 *                       files) stay shared
 *   exit, wait          the exiting process's mappings go; its parent
 *                       reaps it (wait4 returns its pid and status), or
 *                       the test does for an orphan (as init would)
 *
 * Programs run on a 2 MiB window of pages (so that THP can apply) under
 * several TLB, page-table, THP and CPU settings, with vm_kernel_check after
 * every step.  A failure prints the seed and the step; VMLAB_SEED replays.
 */
#include "kfixture.h"
#include "kernel/exec.h"
#include "kernel/fork.h"

#define WIN      UINT64_C(0x300000000000)   /* 2 MiB aligned */
#define WPAGES   512u
#define NPROCS   3u                          /* processes at the start */
#define MAXPROCS 6u                          /* and with fork children, at most */
#define FPAGES   40u                         /* each file: 40 pages and 100 bytes */
#define FSIZE    (FPAGES * 4096u + 100u)
#define STEPS    120u
#define TMPFS_PATH "/oracle/tmpfs-file"

/* ---- the shadow ------------------------------------------------------------ */

enum sh_kind { SH_NONE, SH_PRIV, SH_SHARED };

/* The files every process opens: a host file read-only, another host file
 * read-write (so an overlay: written in memory only), a tmpfs file. */
enum sh_file { F_HOST, F_OVERLAY, F_TMPFS, NFILES };

struct sh_obj {                   /* a shared anonymous object or a file */
	unsigned char *bytes;
	uint64_t size;            /* bytes; reads past it within the last page are 0 */
	uint64_t pages;           /* pages at or beyond this: SIGBUS */
	unsigned refs;            /* shared anonymous objects: pages that map it */
	bool file;
	bool rw;                  /* a file opened read-write: shared writable mappings */
};

struct sh_page {
	uint8_t kind;             /* enum sh_kind */
	uint8_t prot;             /* VM_PROT_* */
	bool bus;                 /* beyond the end of its object: SIGBUS, never touched */
	struct sh_obj *obj;       /* backing: a file or a shmem object; NULL = zeros */
	uint64_t idx;             /* page index in obj */
	unsigned char *priv;      /* SH_PRIV: the private copy once written, else NULL */
};

enum sh_state { P_FREE, P_LIVE, P_ZOMBIE };

struct sh_proc {
	struct vm_proc *p;
	uint8_t state;            /* enum sh_state */
	int parent;               /* slot of the parent that will wait for it, or -1 */
	int code;                 /* P_ZOMBIE: its exit code */
	int fd[NFILES];           /* its descriptors of the files */
	struct sh_page pg[WPAGES];
};

struct oracle {
	struct kfix f;
	struct vm_rng rng;
	struct sh_proc procs[MAXPROCS];
	struct sh_obj files[NFILES];
	unsigned char *initial[NFILES];  /* each file's bytes as a machine starts */
	const char *paths[2];     /* the host files (F_HOST, F_OVERLAY) */
	uint64_t seed;
	unsigned step;
	bool failed;
	uint64_t reads, writes, bytes_checked, forks, exits, reaped, syncs, execs, swapouts, oom_kills;
	uint64_t shmem_swapouts, thp_splits;   /* shmem pages written to swap, THPs split by reclaim */
	bool pressure;            /* the setting has swap and little memory */
};

static bool tracing;

#define TRACE(...) do { if (tracing) diag(__VA_ARGS__); } while (0)

static uint64_t rnd(struct oracle *o, uint64_t n)
{
	return vm_rng_below(&o->rng, n);
}

/* Byte i of the overlay's host file: not the read-only file's pattern, so
 * that a page of one read for the other shows. */
static unsigned char overlay_byte(uint64_t i)
{
	return (unsigned char)((i * 13 + 5 + i / 4096) & 0xff);
}

static void obj_put(struct sh_obj *obj)
{
	if (obj && !obj->file && --obj->refs == 0) {
		free(obj->bytes);
		free(obj);
	}
}

static void page_clear(struct sh_page *pg)
{
	free(pg->priv);
	obj_put(pg->obj);
	memset(pg, 0, sizeof(*pg));
}

/* The bytes a read of page pg sees now. */
static void page_bytes(const struct sh_page *pg, unsigned char out[4096])
{
	if (pg->priv)
		memcpy(out, pg->priv, 4096);
	else if (pg->obj) {
		uint64_t off = pg->idx * 4096;
		uint64_t n = pg->obj->size > off ? VM_MIN(pg->obj->size - off, 4096) : 0;
		memcpy(out, pg->obj->bytes + off, n);
		memset(out + n, 0, 4096 - n);
	} else
		memset(out, 0, 4096);
}

/* The byte a write at offset at of page pg goes to (a private page gets
 * its copy first). */
static unsigned char *page_target(struct sh_page *pg, uint64_t at)
{
	if (pg->kind == SH_SHARED)
		return pg->obj->bytes + pg->idx * 4096 + at;
	if (!pg->priv) {
		unsigned char *copy = malloc(4096);
		page_bytes(pg, copy);
		pg->priv = copy;
	}
	return pg->priv + at;
}

/* Would a write at offset at of page pg land past the end of a shared
 * file?  Those bytes of its last page are left alone: Linux zeroes them
 * when it writes the page back (block_write_full_folio) and shmem keeps
 * them, neither of which the shadow models. */
static bool past_eof(const struct sh_page *pg, uint64_t at)
{
	return pg->kind == SH_SHARED && pg->obj->file && pg->idx * 4096 + at >= pg->obj->size;
}

static bool readable(const struct sh_page *pg)
{
	return pg->kind != SH_NONE && !pg->bus && (pg->prot & VM_PROT_READ);
}

static bool writable(const struct sh_page *pg)
{
	return pg->kind != SH_NONE && !pg->bus && (pg->prot & VM_PROT_WRITE);
}
/* ---- checking ------------------------------------------------------------- */

static void fail(struct oracle *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct oracle *o, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!o->failed)
		diag("seed %" PRIu64 ", step %u: %s", o->seed, o->step, msg);
	o->failed = true;
}

static void check_kernel(struct oracle *o)
{
	char msg[200];

	if (vm_kernel_check(o->f.k, msg, sizeof(msg)))
		fail(o, "vm_kernel_check: %s", msg);
}

static void expect_rc(struct oracle *o, long rc, long want, const char *what)
{
	if (rc != want)
		fail(o, "%s returned %ld, the shadow expects %ld", what, rc, want);
}

/* Under memory pressure the OOM killer may kill any process (SIGKILL,
 * "out of memory"): a death the programs cannot foresee, but a legal one.
 * Its access (if it was the victim's own) fails; it is then gone as if it
 * had exited, with the signal as its wait status. */
static bool oom_killed(const struct vm_proc *p)
{
	return p->state == VM_PROC_KILLED && p->sig.signo == VM_SIGKILL && p->sig.reason &&
	       strncmp(p->sig.reason, "out of memory", 13) == 0;
}

/* Read n pages from page i of process s and compare every byte. */
static void check_read(struct oracle *o, struct sh_proc *s, unsigned i, unsigned n)
{
	static unsigned char got[8 * 4096], want[4096];
	int rc = vm_user_access(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096,
				VM_ACC_READ, got);

	o->reads++;
	TRACE("pid %d read %u +%u", s->p->pid, i, n);
	if (rc && oom_killed(s->p))
		return;
	if (rc) {
		fail(o, "pid %d: read of %u pages at page %u failed: %d", s->p->pid, n, i, rc);
		return;
	}
	for (unsigned j = 0; j < n; j++) {
		const unsigned char *page = got + j * 4096;
		page_bytes(&s->pg[i + j], want);
		if (memcmp(page, want, 4096) != 0) {
			unsigned b = 0;
			while (page[b] == want[b])
				b++;
			fail(o, "pid %d page %u byte %u: read %#x, last written %#x", s->p->pid,
			     i + j, b, page[b], want[b]);
			return;
		}
		o->bytes_checked += 4096;
	}
}

/* ---- the steps ----------------------------------------------------------- */

/* A run [i, i + n) of pages of s that all satisfy pred, or false. */
static bool pick_run(struct oracle *o, struct sh_proc *s, bool (*pred)(const struct sh_page *),
		     unsigned max, unsigned *i, unsigned *n)
{
	for (int tries = 0; tries < 16; tries++) {
		unsigned at = (unsigned)rnd(o, WPAGES);
		if (!pred(&s->pg[at]))
			continue;
		unsigned len = 1, want = 1 + (unsigned)rnd(o, max);
		while (len < want && at + len < WPAGES && pred(&s->pg[at + len]))
			len++;
		*i = at;
		*n = len;
		return true;
	}
	return false;
}

static bool mapped(const struct sh_page *pg)
{
	return pg->kind != SH_NONE;
}

static bool unmapped(const struct sh_page *pg)
{
	return pg->kind == SH_NONE;
}

static void step_mmap(struct oracle *o, struct sh_proc *s)
{
	unsigned i = (unsigned)rnd(o, WPAGES), n = 1 + (unsigned)rnd(o, rnd(o, 4) ? 16 : 200);
	unsigned what = (unsigned)rnd(o, 4), which = (unsigned)rnd(o, NFILES);
	int prot = rnd(o, 5) ? VM_PROT_READ | VM_PROT_WRITE : VM_PROT_READ;
	int flags = VM_MAP_FIXED;
	int fd = -1;
	uint64_t pgoff = 0;
	struct sh_obj *obj = NULL;

	if (i + n > WPAGES)
		n = WPAGES - i;
	switch (what) {
	case 0: flags |= VM_MAP_PRIVATE | VM_MAP_ANONYMOUS; break;
	case 1: flags |= VM_MAP_SHARED | VM_MAP_ANONYMOUS; break;
	case 2: flags |= VM_MAP_PRIVATE; break;
	default: flags |= VM_MAP_SHARED; break;
	}
	if (what >= 2) {
		fd = s->fd[which];
		pgoff = rnd(o, FPAGES + 2);
		obj = &o->files[which];
		if (what == 3 && !obj->rw)
			prot = VM_PROT_READ;   /* a read-only descriptor: EACCES, not made here */
	}
	long rc = vm_sys_mmap(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096, prot,
			      flags, fd, pgoff * 4096);
	TRACE("pid %d mmap %u +%u what %u file %u prot %d pgoff %" PRIu64, s->p->pid, i, n, what,
	      which, prot, pgoff);
	expect_rc(o, rc, (long)(WIN + (uint64_t)i * 4096), "mmap");
	if (what == 1) {
		obj = calloc(1, sizeof(*obj));
		obj->bytes = calloc(n, 4096);
		obj->pages = n;
		obj->size = (uint64_t)n * 4096;
	}
	for (unsigned j = 0; j < n; j++) {
		struct sh_page *pg = &s->pg[i + j];
		page_clear(pg);
		pg->kind = what == 1 || what == 3 ? SH_SHARED : SH_PRIV;
		pg->prot = (uint8_t)prot;
		pg->obj = obj;
		pg->idx = what == 1 ? j : what >= 2 ? pgoff + j : 0;
		pg->bus = obj && pg->idx >= obj->pages;
		if (obj && !obj->file)
			obj->refs++;
	}
}

static void step_munmap(struct oracle *o, struct sh_proc *s)
{
	unsigned i = (unsigned)rnd(o, WPAGES), n = 1 + (unsigned)rnd(o, 64);

	if (i + n > WPAGES)
		n = WPAGES - i;
	long rc = vm_sys_munmap(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096);
	TRACE("pid %d munmap %u +%u", s->p->pid, i, n);
	expect_rc(o, rc, 0, "munmap");
	for (unsigned j = 0; j < n; j++)
		page_clear(&s->pg[i + j]);
}

static void step_mprotect(struct oracle *o, struct sh_proc *s)
{
	unsigned i, n;
	static const int prots[] = { VM_PROT_READ, VM_PROT_READ | VM_PROT_WRITE, VM_PROT_NONE };

	if (!pick_run(o, s, mapped, 32, &i, &n))
		return;
	int prot = prots[rnd(o, 3)];
	bool ro_shared = false;
	for (unsigned j = 0; j < n; j++) {
		const struct sh_page *pg = &s->pg[i + j];
		ro_shared |= pg->kind == SH_SHARED && pg->obj->file && !pg->obj->rw;
	}
	if (ro_shared && (prot & VM_PROT_WRITE))
		prot = VM_PROT_READ;      /* a read-only descriptor: EACCES, not made here */
	long rc = vm_sys_mprotect(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096, prot);
	TRACE("pid %d mprotect %u +%u %d", s->p->pid, i, n, prot);
	expect_rc(o, rc, 0, "mprotect");
	for (unsigned j = 0; j < n; j++)
		s->pg[i + j].prot = (uint8_t)prot;
}

static void step_dontneed(struct oracle *o, struct sh_proc *s)
{
	unsigned i, n;

	if (!pick_run(o, s, mapped, 32, &i, &n))
		return;
	long rc = vm_sys_madvise(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096,
				 VM_MADV_DONTNEED);
	TRACE("pid %d dontneed %u +%u", s->p->pid, i, n);
	expect_rc(o, rc, 0, "madvise(DONTNEED)");
	for (unsigned j = 0; j < n; j++) {
		free(s->pg[i + j].priv);
		s->pg[i + j].priv = NULL;
	}
}

/* msync(MS_SYNC) over mapped pages: the dirty pages of shared file
 * mappings in the range are written back (the overlay keeps them) and
 * every shared mapping of them, in every process, is write-protected
 * again.  No byte changes. */
static void step_msync(struct oracle *o, struct sh_proc *s)
{
	unsigned i, n;

	if (!pick_run(o, s, mapped, 64, &i, &n))
		return;
	long rc = vm_sys_msync(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096,
			       VM_MS_SYNC);
	TRACE("pid %d msync %u +%u", s->p->pid, i, n);
	expect_rc(o, rc, 0, "msync(MS_SYNC)");
	o->syncs++;
}

/* drop_caches for the host files: every clean page no one maps leaves the
 * page cache, so the next fault reads it again — from the overlay for a
 * page written back, from the host file for the rest.  No byte changes. */
static void step_drop_caches(struct oracle *o, struct sh_proc *s)
{
	for (unsigned f = F_HOST; f <= F_OVERLAY; f++)
		vm_pagecache_evict(o->f.k, s->p->fds[s->fd[f]].file);
	TRACE("drop caches");
}

/* Move part of one VMA (chosen through the kernel, checked against the
 * shadow) to a free run of the window, growing or shrinking it. */
static void step_mremap(struct oracle *o, struct sh_proc *s)
{
	unsigned i, n, to, room;

	if (!pick_run(o, s, mapped, 16, &i, &n))
		return;
	struct vm_vma *vma = vm_vma_lookup(s->p->mm, WIN + (uint64_t)i * 4096);
	if (!vma) {
		fail(o, "page %u is mapped in the shadow but in no VMA", i);
		return;
	}
	unsigned end = (unsigned)((VM_MIN(vma->vm_end, WIN + WPAGES * 4096) - WIN) >> 12);
	n = VM_MIN(n, end - i);
	unsigned n2 = 1 + (unsigned)rnd(o, 24);
	if (!pick_run(o, s, unmapped, n2, &to, &room) || room < n2)
		return;
	/* the new range may not overlap the old one (EINVAL) */
	if (to < i + n && i < to + n2)
		return;
	long rc = vm_sys_mremap(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096,
				(uint64_t)n2 * 4096, VM_MREMAP_MAYMOVE | VM_MREMAP_FIXED,
				WIN + (uint64_t)to * 4096);
	TRACE("pid %d mremap %u +%u -> %u +%u", s->p->pid, i, n, to, n2);
	expect_rc(o, rc, (long)(WIN + (uint64_t)to * 4096), "mremap");
	if (o->failed)
		return;
	struct sh_page first = s->pg[i];
	for (unsigned j = 0; j < n2; j++) {
		struct sh_page *dst = &s->pg[to + j];
		if (j < n) {
			*dst = s->pg[i + j];
			memset(&s->pg[i + j], 0, sizeof(*dst));
			continue;
		}
		/* grown: the VMA continues, as the first page's backing does */
		*dst = (struct sh_page){ .kind = first.kind, .prot = first.prot, .obj = first.obj,
					 .idx = first.idx + j };
		if (first.obj && !first.obj->file)
			first.obj->refs++;
		if (first.obj)
			dst->bus = dst->idx >= first.obj->pages;
	}
	for (unsigned j = n2; j < n; j++)
		page_clear(&s->pg[i + j]);     /* shrunk: the tail is unmapped */
}

static void step_write(struct oracle *o, struct sh_proc *s)
{
	unsigned i, n;
	static unsigned char buf[2 * 4096];

	if (!pick_run(o, s, writable, 2, &i, &n))
		return;
	uint64_t off = rnd(o, 4096), len = 1 + rnd(o, n * 4096 - off);
	if (rnd(o, 4) == 0)
		len = VM_MIN(len, 8);
	for (uint64_t b = 0; b < len; b++) {
		uint64_t at = off + b;
		if (past_eof(&s->pg[i + at / 4096], at % 4096)) {
			len = b;
			break;
		}
		buf[b] = (unsigned char)rnd(o, 256);
	}
	if (!len)
		return;
	int rc = vm_user_access(o->f.k, s->p, WIN + (uint64_t)i * 4096 + off, len, VM_ACC_WRITE, buf);
	o->writes++;
	TRACE("pid %d write page %u +%" PRIu64 " len %" PRIu64 " first %#x", s->p->pid, i, off, len, buf[0]);
	if (rc && oom_killed(s->p))
		return;
	if (rc) {
		fail(o, "pid %d: write of %" PRIu64 " bytes at page %u + %" PRIu64 " failed: %d",
		     s->p->pid, len, i, off, rc);
		return;
	}
	for (uint64_t b = 0; b < len; b++) {
		uint64_t at = off + b;
		*page_target(&s->pg[i + at / 4096], at % 4096) = buf[b];
	}
}

static void step_read(struct oracle *o, struct sh_proc *s)
{
	unsigned i, n;

	if (pick_run(o, s, readable, 8, &i, &n))
		check_read(o, s, i, n);
}

/* ---- processes ------------------------------------------------------------- */

static unsigned live_count(const struct oracle *o)
{
	unsigned n = 0;

	for (unsigned pi = 0; pi < MAXPROCS; pi++)
		n += o->procs[pi].state == P_LIVE;
	return n;
}

/* A random live process (there is always one). */
static struct sh_proc *pick_live(struct oracle *o)
{
	unsigned k = (unsigned)rnd(o, live_count(o));

	for (unsigned pi = 0;; pi++)
		if (o->procs[pi].state == P_LIVE && k-- == 0)
			return &o->procs[pi];
}

/* The slot's process leaves the process table (vm_proc_reap: what wait4
 * does for a parent, and init for an orphan). */
static void slot_free(struct oracle *o, struct sh_proc *s)
{
	if (s->state == P_ZOMBIE && s->parent < 0)
		vm_proc_reap(o->f.k, s->p);
	s->state = P_FREE;
	s->p = NULL;
}

/* fork: the child's shadow is a copy of the parent's, its private pages
 * copies that diverge from now on, its shared pages the same objects. */
static void step_fork(struct oracle *o, struct sh_proc *s)
{
	struct sh_proc *c = NULL;
	struct vm_proc *child = NULL;

	for (unsigned pi = 0; pi < MAXPROCS && !c; pi++)
		if (o->procs[pi].state == P_FREE)
			c = &o->procs[pi];
	if (!c)
		return;
	long rc = vm_sys_clone(o->f.k, s->p, 0, "child", &child);
	TRACE("pid %d fork: %ld", s->p->pid, rc);
	if (rc <= 0 || !child) {
		fail(o, "pid %d: fork returned %ld", s->p->pid, rc);
		return;
	}
	o->forks++;
	c->p = child;
	c->state = P_LIVE;
	c->parent = (int)(s - o->procs);
	memcpy(c->fd, s->fd, sizeof(c->fd));
	for (unsigned i = 0; i < WPAGES; i++) {
		struct sh_page *pg = &c->pg[i];
		*pg = s->pg[i];
		if (pg->obj && !pg->obj->file)
			pg->obj->refs++;
		if (pg->priv) {
			pg->priv = malloc(4096);
			memcpy(pg->priv, s->pg[i].priv, 4096);
		}
	}
}

/* exec of a real program: the old address space goes, with every mapping
 * of the window (private copies dropped, shared objects kept by their
 * other mappers); descriptors stay open (no close-on-exec here), so the
 * program goes on mapping the same files. */
static void step_exec(struct oracle *o, struct sh_proc *s)
{
	struct vm_error err;
	long rc = vm_sys_execve(o->f.k, s->p, "/bin/true", NULL, NULL, NULL, &err);

	TRACE("pid %d exec /bin/true: %ld", s->p->pid, rc);
	if (rc) {
		fail(o, "pid %d: exec of /bin/true returned %ld (%s)", s->p->pid, rc, err.msg);
		return;
	}
	o->execs++;
	for (unsigned i = 0; i < WPAGES; i++)
		page_clear(&s->pg[i]);
	struct vm_vma *v = vm_find_vma(s->p->mm, WIN);
	if (v && v->vm_start < WIN + (uint64_t)WPAGES * 4096)
		fail(o, "pid %d: a VMA at %#" PRIx64 " in the window survived exec", s->p->pid,
		     v->vm_start);
}

/* exit: the process's mappings go (its shadow with them); its children
 * lose their parent (an orphan is reaped at its exit, as init would), its
 * zombies are reaped now.  A process without a parent to wait for it is
 * reaped at once.  One process always stays. */
static void proc_gone(struct oracle *o, struct sh_proc *s);

static void step_exit(struct oracle *o, struct sh_proc *s)
{
	if (live_count(o) < 2)
		return;
	s->code = (int)rnd(o, 256);
	TRACE("pid %d exit %d", s->p->pid, s->code);
	vm_sys_exit(o->f.k, s->p, s->code);
	o->exits++;
	proc_gone(o, s);
}

static void reap_oom_victims(struct oracle *o)
{
	for (unsigned pi = 0; pi < MAXPROCS; pi++) {
		struct sh_proc *s = &o->procs[pi];
		if (s->state == P_LIVE && oom_killed(s->p)) {
			TRACE("pid %d killed by the OOM killer", s->p->pid);
			o->oom_kills++;
			s->code = -VM_SIGKILL;
			proc_gone(o, s);
		}
	}
}

/* The bookkeeping of a process that exited or was killed. */
static void proc_gone(struct oracle *o, struct sh_proc *s)
{
	int me = (int)(s - o->procs);

	for (unsigned i = 0; i < WPAGES; i++)
		page_clear(&s->pg[i]);
	s->state = P_ZOMBIE;
	for (unsigned pi = 0; pi < MAXPROCS; pi++) {
		struct sh_proc *c = &o->procs[pi];
		if (c->state == P_FREE || c->parent != me)
			continue;
		c->parent = -1;
		if (c->state == P_ZOMBIE)
			slot_free(o, c);
	}
	if (s->parent < 0)
		slot_free(o, s);
}

/* wait4(pid, WNOHANG) for one of s's children: a zombie is reaped with its
 * pid and status, a live child gives 0; without children, -ECHILD.  Most
 * of the time s is the parent of a zombie, if there is one. */
static void step_wait(struct oracle *o, struct sh_proc *s)
{
	struct sh_proc *c = NULL;
	unsigned n = 0;

	for (unsigned pi = 0; pi < MAXPROCS; pi++)
		if (o->procs[pi].state == P_ZOMBIE && o->procs[pi].parent >= 0 && rnd(o, 4))
			s = &o->procs[o->procs[pi].parent];
	int me = (int)(s - o->procs), status = -1;

	for (unsigned pi = 0; pi < MAXPROCS; pi++)
		if (o->procs[pi].state != P_FREE && o->procs[pi].parent == me && rnd(o, ++n) == 0)
			c = &o->procs[pi];
	int pid = c ? c->p->pid : -1;         /* a reaped child's struct is gone */
	long rc = vm_sys_wait(o->f.k, s->p, pid, &status);
	TRACE("pid %d wait %d: %ld", s->p->pid, pid, rc);
	if (!c) {
		expect_rc(o, rc, -ECHILD, "wait4 without children");
	} else if (c->state == P_LIVE) {
		expect_rc(o, rc, 0, "wait4 for a running child");
	} else {
		expect_rc(o, rc, pid, "wait4 for an exited child");
		expect_rc(o, status, c->code < 0 ? -c->code : c->code << 8, "wait4's status");
		o->reaped++;
		slot_free(o, c);     /* wait4 reaped it */
	}
}

static void check_all(struct oracle *o)
{
	for (unsigned pi = 0; pi < MAXPROCS; pi++)
		for (unsigned i = 0; i < WPAGES && !o->failed; i++)
			if (o->procs[pi].state == P_LIVE && readable(&o->procs[pi].pg[i]))
				check_read(o, &o->procs[pi], i, 1);
}

/* The end of a program: a new process maps each writable file whole and
 * syncs it (msync MS_SYNC of the whole file: every dirty page written
 * back, whoever dirtied it), every process exits, the page cache is
 * dropped (nothing maps the files now, nothing is dirty: the overlay's
 * cache must empty), and the new process reads every file through a
 * fresh shared mapping: the overlay's pages come back from what was
 * written back, the tmpfs file's are the ones it kept. */
static void check_files_again(struct oracle *o)
{
	static const int modes[NFILES] = { VM_O_RDONLY, VM_O_RDWR, VM_O_RDWR };
	const char *paths[NFILES] = { o->paths[0], o->paths[1], TMPFS_PATH };
	const vm_vaddr at = WIN + 2 * VM_PMD_SIZE;
	const uint64_t len = (uint64_t)(FPAGES + 1) * 4096;
	struct sh_proc q = { .p = kfix_proc(&o->f, 0), .state = P_LIVE, .parent = -1 };
	struct vm_file *file[NFILES];

	if (!q.p && o->pressure)
		return;             /* memory too short for one more process: legal */
	if (!q.p) {
		fail(o, "no process for the final check");
		return;
	}
	for (unsigned f = 0; f < NFILES; f++) {
		q.fd[f] = (int)vm_sys_openat(o->f.k, q.p, paths[f], modes[f]);
		expect_rc(o, q.fd[f] < 0 ? q.fd[f] : 0, 0, "open for the final check");
		if (o->failed)
			return;
		file[f] = q.p->fds[q.fd[f]].file;
		if (f == F_HOST)
			continue;
		int prot = VM_PROT_READ | VM_PROT_WRITE, flags = VM_MAP_SHARED | VM_MAP_FIXED;
		expect_rc(o, vm_sys_mmap(o->f.k, q.p, at, len, prot, flags, q.fd[f], 0), (long)at,
			  "mmap of a whole file");
		expect_rc(o, vm_sys_msync(o->f.k, q.p, at, len, VM_MS_SYNC), 0, "msync of a whole file");
		expect_rc(o, vm_sys_munmap(o->f.k, q.p, at, len), 0, "munmap of a whole file");
	}
	for (unsigned pi = 0; pi < MAXPROCS; pi++)
		if (o->procs[pi].state == P_LIVE)
			vm_sys_exit(o->f.k, o->procs[pi].p, 0);
	vm_pagecache_evict(o->f.k, file[F_HOST]);
	vm_pagecache_evict(o->f.k, file[F_OVERLAY]);
	if (file[F_OVERLAY]->cached_pages)
		fail(o, "the overlay keeps %" PRIu64 " cached pages with no mapper and nothing dirty",
		     file[F_OVERLAY]->cached_pages);
	check_kernel(o);
	for (unsigned f = 0; f < NFILES && !o->failed; f++) {
		expect_rc(o, vm_sys_mmap(o->f.k, q.p, WIN, len, VM_PROT_READ, VM_MAP_SHARED | VM_MAP_FIXED,
					 q.fd[f], 0), (long)WIN, "mmap to read a file again");
		for (unsigned i = 0; i <= FPAGES; i++)
			q.pg[i] = (struct sh_page){ .kind = SH_SHARED, .prot = VM_PROT_READ,
						    .obj = &o->files[f], .idx = i };
		for (unsigned i = 0; i <= FPAGES && !o->failed; i += 8)
			check_read(o, &q, i, VM_MIN(8, FPAGES + 1 - i));
	}
	check_kernel(o);
}

/* ---- a program ------------------------------------------------------------- */

/* The files' shadows as a new machine starts: the host files' bytes, an
 * empty tmpfs file of the same size. */
static void files_reset(struct oracle *o)
{
	for (unsigned f = 0; f < NFILES; f++) {
		struct sh_obj *obj = &o->files[f];
		obj->size = FSIZE;
		obj->pages = FPAGES + 1;
		obj->file = true;
		obj->rw = f != F_HOST;
		memcpy(obj->bytes, o->initial[f], FSIZE);
	}
}

static int open_files(struct oracle *o, struct sh_proc *s)
{
	static const int modes[NFILES] = { VM_O_RDONLY, VM_O_RDWR, VM_O_RDWR };
	const char *paths[NFILES] = { o->paths[0], o->paths[1], TMPFS_PATH };

	for (unsigned f = 0; f < NFILES; f++) {
		s->fd[f] = (int)vm_sys_openat(o->f.k, s->p, paths[f], modes[f]);
		if (s->fd[f] < 0) {
			diag("open %s: %d", paths[f], s->fd[f]);
			return -1;
		}
	}
	return 0;
}

static int run_program(struct oracle *o, const char *const *settings)
{
	if (kfix_init(&o->f, settings))
		return -1;
	vm_rng_seed(&o->rng, o->seed);
	files_reset(o);
	if (vm_tmpfs_create(o->f.k, TMPFS_PATH, FSIZE, NULL))
		return -1;
	memset(o->procs, 0, sizeof(o->procs));
	for (unsigned pi = 0; pi < NPROCS; pi++) {
		struct sh_proc *s = &o->procs[pi];
		s->p = kfix_proc(&o->f, pi % o->f.k->ncpus);
		s->state = P_LIVE;
		s->parent = -1;
		if (!s->p || open_files(o, s))
			return -1;
	}
	for (o->step = 0; o->step < STEPS && !o->failed && live_count(o); o->step++) {
		struct sh_proc *s = pick_live(o);
		unsigned what = (unsigned)rnd(o, 100);
		if (what < 14)
			step_mmap(o, s);
		else if (what < 20)
			step_munmap(o, s);
		else if (what < 27)
			step_mprotect(o, s);
		else if (what < 31)
			step_dontneed(o, s);
		else if (what < 36)
			step_mremap(o, s);
		else if (what < 39)
			step_msync(o, s);
		else if (what < 40)
			step_drop_caches(o, s);
		else if (what < 43)
			step_fork(o, s);
		else if (what < 44)
			step_exit(o, s);
		else if (what < 46)
			step_wait(o, s);
		else if (what < 47)
			step_exec(o, s);
		else if (what < 72)
			step_write(o, s);
		else
			step_read(o, s);
		check_kernel(o);
		reap_oom_victims(o);
	}
	if (!o->failed)
		check_all(o);
	if (!o->failed)
		check_files_again(o);
	for (unsigned pi = 0; pi < MAXPROCS; pi++)
		for (unsigned i = 0; i < WPAGES; i++)
			page_clear(&o->procs[pi].pg[i]);
	o->swapouts += o->f.st->pswpout;
	o->shmem_swapouts += o->f.st->shmem_swpout;
	o->thp_splits += o->f.st->thp_split_page;
	vmlab_machine_destroy(o->f.m);
	return o->failed ? 1 : 0;
}

static const char *const configs[][6] = {
	{ "phys=64M", "tlb=zen4", "pt=radix4", "thp=never", "cpus=1", NULL },
	{ "phys=64M", "tlb=skylake", "pt=radix5", "thp=always", "cpus=2", NULL },
	{ "phys=64M", "tlb=tiny", "pt=radix4", "thp=always", "cpus=2", NULL },
	{ "phys=64M", "tlb=none", "pt=radix5", "thp=madvise", "cpus=1", NULL },
	{ "phys=64M", "tlb=golden-cove", "pt=radix4", "fault_around=4K", "cpus=3", NULL },
	{ "phys=64M", "tlb=tiny", "tlb_repl=random", "pagecache=cold", "cpus=2", NULL },
	/* memory pressure: reclaim drops and writes back file pages and swaps
	 * anonymous and shmem ones out and in again (docs/reclaim.md) */
	{ "phys=1M", "swap=64M", "policy=clock", "thp=never", "cpus=2", NULL },
	{ "phys=1M", "swap=64M", "policy=linux", "pagecache=cold", "cpus=1", NULL },
};

/* A host file for the overlay, its bytes overlay_byte's. */
static const char *overlay_file(struct kfix *f)
{
	char *path = f->files[f->nfiles++];
	static unsigned char buf[FSIZE];

	snprintf(path, 64, "/tmp/vmlab-kf-XXXXXX");
	int fd = mkstemp(path);
	for (uint64_t b = 0; b < FSIZE; b++)
		buf[b] = overlay_byte(b);
	if (fd < 0 || write(fd, buf, FSIZE) != (ssize_t)FSIZE)
		diag("cannot write %s", path);
	if (fd >= 0)
		close(fd);
	return path;
}

int main(void)
{
	static struct oracle o;
	uint64_t base = tap_seed(1);
	unsigned programs = tap_long() ? 2000 : 260;
	uint64_t forks = 0, exits = 0, reaped = 0, syncs = 0, execs = 0;

	tracing = getenv("ORACLE_TRACE") != NULL;
	if (tracing)
		programs = 1;
	struct kfix tmp;

	memset(&tmp, 0, sizeof(tmp));
	o.paths[F_HOST] = kfix_file(&tmp, FSIZE);
	o.paths[F_OVERLAY] = overlay_file(&tmp);
	for (unsigned f = 0; f < NFILES; f++) {
		o.files[f].bytes = malloc(FSIZE);
		o.initial[f] = calloc(1, FSIZE);
		for (uint64_t b = 0; f != F_TMPFS && b < FSIZE; b++)
			o.initial[f][b] = f == F_HOST ? kfix_file_byte(b) : overlay_byte(b);
	}

	for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
		unsigned bad = 0;
		uint64_t reads = 0, bytes = 0;
		o.swapouts = o.oom_kills = o.shmem_swapouts = o.thp_splits = 0;
		o.pressure = strstr(configs[c][1], "swap=") != NULL;
		for (unsigned n = 0; n < programs; n++) {
			o.seed = base + c * 1000003u + n;
			o.failed = false;
			o.reads = o.bytes_checked = o.forks = o.exits = o.reaped = o.syncs = o.execs = 0;
			if (run_program(&o, configs[c]))
				bad++;
			reads += o.reads;
			bytes += o.bytes_checked;
			forks += o.forks;
			exits += o.exits;
			reaped += o.reaped;
			syncs += o.syncs;
			execs += o.execs;
		}
		is_u64(bad, 0, "%u programs of %u steps under %s %s %s %s: every read returns the last "
			       "byte written (%" PRIu64 " reads, %" PRIu64 " KiB compared)",
		       programs, STEPS, configs[c][1], configs[c][2], configs[c][3], configs[c][4],
		       reads, bytes >> 10);
		ok(bytes > (uint64_t)programs * 4096, "the programs compared bytes at all");
		if (o.pressure)
			ok(o.swapouts > programs / 4 && o.shmem_swapouts > programs / 16,
			   "under pressure: %" PRIu64 " pages swapped out (%" PRIu64 " of them shmem), "
			   "%" PRIu64 " THPs split, %" PRIu64 " processes killed by the OOM killer",
			   o.swapouts, o.shmem_swapouts, o.thp_splits, o.oom_kills);
	}
	ok(forks > programs && exits > programs / 2 && reaped > programs / 8 && syncs > programs &&
	   execs > programs / 2,
	   "the programs forked (%" PRIu64 "), exited (%" PRIu64 "), were reaped by wait4 (%" PRIu64
	   "), synced (%" PRIu64 ") and exec'd /bin/true (%" PRIu64 ")", forks, exits, reaped, syncs,
	   execs);
	for (unsigned f = 0; f < 2; f++)
		unlink(o.paths[f]);
	for (unsigned f = 0; f < NFILES; f++) {
		free(o.files[f].bytes);
		free(o.initial[f]);
	}
	return done_testing();
}
