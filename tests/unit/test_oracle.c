/*
 * The data-mode oracle: random programs of memory calls, writes and reads on
 * a data-mode machine, checked against a shadow memory that knows only what
 * the calls mean to a program (POSIX and Linux semantics), nothing of
 * frames, page tables, TLBs or the page cache.  Every read must return the
 * bytes last written through that mapping's semantics:
 *
 *   private anonymous   zeros until written; each mapping its own bytes
 *   private file        the file's bytes until written, then its own copy
 *   shared anonymous    one object per mmap call, seen by every page of it
 *   shared file         the file's bytes (read-only descriptors here)
 *   mremap              the pages move with their bytes; grown anonymous
 *                       pages are zero, grown file pages continue the file
 *   MADV_DONTNEED       private pages lose their bytes (zeros, or the file
 *                       again); shared pages keep theirs
 *
 * Programs run on a 2 MiB window of pages (so that THP can apply) under
 * several TLB, page-table, THP and CPU settings, with vm_kernel_check after
 * every step.  A failure prints the seed and the step; VMLAB_SEED replays.
 */
#include "kfixture.h"

#define WIN      UINT64_C(0x300000000000)   /* 2 MiB aligned */
#define WPAGES   512u
#define NPROCS   3u
#define FPAGES   40u                         /* the file: 40 pages and 100 bytes */
#define FSIZE    (FPAGES * 4096u + 100u)
#define STEPS    120u

/* ---- the shadow ------------------------------------------------------------ */

enum sh_kind { SH_NONE, SH_PRIV, SH_SHARED };

struct sh_obj {                   /* a shared anonymous object or the file */
	unsigned char *bytes;
	uint64_t pages;
	unsigned refs;
	bool file;
};

struct sh_page {
	uint8_t kind;             /* enum sh_kind */
	uint8_t prot;             /* VM_PROT_* */
	bool bus;                 /* beyond the end of its object: SIGBUS, never touched */
	struct sh_obj *obj;       /* backing: the file or a shmem object; NULL = zeros */
	uint64_t idx;             /* page index in obj */
	unsigned char *priv;      /* SH_PRIV: the private copy once written, else NULL */
};

struct sh_proc {
	struct vm_proc *p;
	struct sh_page pg[WPAGES];
};

struct oracle {
	struct kfix f;
	struct vm_rng rng;
	struct sh_proc procs[NPROCS];
	struct sh_obj file;
	int fd[NPROCS];           /* the file, opened read-only in each process */
	uint64_t seed;
	unsigned step;
	bool failed;
	uint64_t reads, writes, bytes_checked;
};

static bool tracing;

#define TRACE(...) do { if (tracing) diag(__VA_ARGS__); } while (0)

static uint64_t rnd(struct oracle *o, uint64_t n)
{
	return vm_rng_below(&o->rng, n);
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
		uint64_t size = pg->obj->file ? FSIZE : pg->obj->pages * 4096;
		uint64_t n = size > off ? VM_MIN(size - off, 4096) : 0;
		memcpy(out, pg->obj->bytes + off, n);
		memset(out + n, 0, 4096 - n);
	} else
		memset(out, 0, 4096);
}

/* The bytes a write to page pg goes to (a private page gets its copy). */
static unsigned char *page_target(struct sh_page *pg)
{
	if (pg->kind == SH_SHARED)
		return pg->obj->bytes + pg->idx * 4096;
	if (!pg->priv) {
		unsigned char *copy = malloc(4096);
		page_bytes(pg, copy);
		pg->priv = copy;
	}
	return pg->priv;
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

/* Read n pages from page i of process s and compare every byte. */
static void check_read(struct oracle *o, struct sh_proc *s, unsigned i, unsigned n)
{
	static unsigned char got[8 * 4096], want[4096];
	int rc = vm_user_access(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096,
				VM_ACC_READ, got);

	o->reads++;
	TRACE("pid %d read %u +%u", s->p->pid, i, n);
	if (rc) {
		fail(o, "read of %u pages at page %u failed: %d", n, i, rc);
		return;
	}
	for (unsigned j = 0; j < n; j++) {
		page_bytes(&s->pg[i + j], want);
		for (unsigned b = 0; b < 4096; b++)
			if (got[j * 4096 + b] != want[b]) {
				fail(o, "pid %d page %u byte %u: read %#x, last written %#x",
				     s->p->pid, i + j, b, got[j * 4096 + b], want[b]);
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

static void step_mmap(struct oracle *o, struct sh_proc *s, unsigned pi)
{
	unsigned i = (unsigned)rnd(o, WPAGES), n = 1 + (unsigned)rnd(o, rnd(o, 4) ? 16 : 200);
	unsigned what = (unsigned)rnd(o, 4);
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
	default: flags |= VM_MAP_SHARED; prot = VM_PROT_READ; break;
	}
	if (what >= 2) {
		fd = o->fd[pi];
		pgoff = rnd(o, FPAGES + 2);
		obj = &o->file;
	}
	long rc = vm_sys_mmap(o->f.k, s->p, WIN + (uint64_t)i * 4096, (uint64_t)n * 4096, prot,
			      flags, fd, pgoff * 4096);
	TRACE("pid %d mmap %u +%u what %u prot %d pgoff %" PRIu64, s->p->pid, i, n, what, prot, pgoff);
	expect_rc(o, rc, (long)(WIN + (uint64_t)i * 4096), "mmap");
	if (what == 1) {
		obj = calloc(1, sizeof(*obj));
		obj->bytes = calloc(n, 4096);
		obj->pages = n;
	}
	for (unsigned j = 0; j < n; j++) {
		struct sh_page *pg = &s->pg[i + j];
		page_clear(pg);
		pg->kind = what == 1 || what == 3 ? SH_SHARED : SH_PRIV;
		pg->prot = (uint8_t)prot;
		pg->obj = obj;
		pg->idx = what == 1 ? j : what >= 2 ? pgoff + j : 0;
		pg->bus = obj && obj->file && pg->idx >= FPAGES + 1;
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
	bool shared_file = false;
	for (unsigned j = 0; j < n; j++)
		shared_file |= s->pg[i + j].kind == SH_SHARED && s->pg[i + j].obj->file;
	if (shared_file && (prot & VM_PROT_WRITE))
		prot = VM_PROT_READ;      /* a read-only descriptor: EACCES, not modelled here */
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
			dst->bus = dst->idx >= (first.obj->file ? FPAGES + 1 : first.obj->pages);
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
	for (uint64_t b = 0; b < len; b++)
		buf[b] = (unsigned char)rnd(o, 256);
	int rc = vm_user_access(o->f.k, s->p, WIN + (uint64_t)i * 4096 + off, len, VM_ACC_WRITE, buf);
	o->writes++;
	TRACE("pid %d write page %u +%" PRIu64 " len %" PRIu64 " first %#x", s->p->pid, i, off, len, buf[0]);
	if (rc) {
		fail(o, "write of %" PRIu64 " bytes at page %u + %" PRIu64 " failed: %d", len, i, off,
		     rc);
		return;
	}
	for (uint64_t b = 0; b < len; b++) {
		uint64_t at = off + b;
		page_target(&s->pg[i + at / 4096])[at % 4096] = buf[b];
	}
}

static void step_read(struct oracle *o, struct sh_proc *s)
{
	unsigned i, n;

	if (pick_run(o, s, readable, 8, &i, &n))
		check_read(o, s, i, n);
}

static void check_all(struct oracle *o)
{
	for (unsigned pi = 0; pi < NPROCS; pi++)
		for (unsigned i = 0; i < WPAGES && !o->failed; i++)
			if (readable(&o->procs[pi].pg[i]))
				check_read(o, &o->procs[pi], i, 1);
}

/* ---- a program ------------------------------------------------------------- */

static int run_program(struct oracle *o, const char *const *settings, const char *path)
{
	if (kfix_init(&o->f, settings))
		return -1;
	vm_rng_seed(&o->rng, o->seed);
	for (unsigned pi = 0; pi < NPROCS; pi++) {
		struct sh_proc *s = &o->procs[pi];
		memset(s, 0, sizeof(*s));
		s->p = kfix_proc(&o->f, pi % o->f.k->ncpus);
		if (!s->p)
			return -1;
		o->fd[pi] = (int)vm_sys_openat(o->f.k, s->p, path, VM_O_RDONLY);
		if (o->fd[pi] < 0)
			return -1;
	}
	for (o->step = 0; o->step < STEPS && !o->failed; o->step++) {
		unsigned pi = (unsigned)rnd(o, NPROCS);
		struct sh_proc *s = &o->procs[pi];
		unsigned what = (unsigned)rnd(o, 100);
		if (what < 14)
			step_mmap(o, s, pi);
		else if (what < 20)
			step_munmap(o, s);
		else if (what < 27)
			step_mprotect(o, s);
		else if (what < 32)
			step_dontneed(o, s);
		else if (what < 38)
			step_mremap(o, s);
		else if (what < 70)
			step_write(o, s);
		else
			step_read(o, s);
		check_kernel(o);
	}
	if (!o->failed)
		check_all(o);
	for (unsigned pi = 0; pi < NPROCS; pi++)
		for (unsigned i = 0; i < WPAGES; i++)
			page_clear(&o->procs[pi].pg[i]);
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
};

int main(void)
{
	static struct oracle o;
	uint64_t base = tap_seed(1);
	unsigned programs = tap_long() ? 2000 : 300;

	tracing = getenv("ORACLE_TRACE") != NULL;
	if (tracing)
		programs = 1;
	struct kfix tmp;

	memset(&tmp, 0, sizeof(tmp));
	const char *path = kfix_file(&tmp, FSIZE);
	o.file = (struct sh_obj){ .bytes = malloc(FSIZE), .pages = FPAGES + 1, .file = true };
	for (uint64_t b = 0; b < FSIZE; b++)
		o.file.bytes[b] = kfix_file_byte(b);

	for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
		unsigned bad = 0;
		uint64_t reads = 0, bytes = 0;
		for (unsigned n = 0; n < programs; n++) {
			o.seed = base + c * 1000003u + n;
			o.failed = false;
			o.reads = o.bytes_checked = 0;
			if (run_program(&o, configs[c], path))
				bad++;
			reads += o.reads;
			bytes += o.bytes_checked;
		}
		is_u64(bad, 0, "%u programs of %u steps under %s %s %s %s: every read returns the last "
			       "byte written (%" PRIu64 " reads, %" PRIu64 " KiB compared)",
		       programs, STEPS, configs[c][1], configs[c][2], configs[c][3], configs[c][4],
		       reads, bytes >> 10);
		ok(bytes > (uint64_t)programs * 4096, "the programs compared bytes at all");
	}
	unlink(path);
	free(o.file.bytes);
	return done_testing();
}
