/*
 * fork, vfork, threads and wait (src/kernel/fork.c) and the copy-on-write
 * they set up (do_wp_page in fault.c).  The facts asserted are POSIX's
 * (a child sees the parent's memory as it was at the fork; writes are
 * private to each afterwards; MAP_SHARED stays shared; vfork shares the
 * address space until the child exits) and Linux 6.18's, measured on the
 * host with small native programs (tests/linux/cases/fork-*.case replay
 * the same against the host on every run): a write to a page shared by
 * fork is one minor fault in each process, a read none; the pages of a
 * private file VMA without an anon_vma are not copied (vma_needs_copy),
 * so the child faults them in again; MADV_DONTFORK leaves the VMA out,
 * MADV_WIPEONFORK leaves it empty; locks are not inherited; a child's
 * peaks (VmHWM, VmPeak) start from its own size.
 */
#include "tap.h"
#include "kernel_fixture.h"
#include "kernel/anon_vma.h"
#include "kernel/fork.h"
#include "kernel/proc.h"
#include "kernel/reclaim.h"
#include "kernel/vfs.h"

#define A     UINT64_C(0x300000000000)
#define ANON_FIXED (PRIV_ANON | VM_MAP_FIXED)

/* A data-mode machine without THP (extra: one more setting, or NULL). */
static struct kfx *fixture(const char *extra)
{
	const char *const w[] = { "mode=data", "thp=never", extra, NULL };
	return kfx_new_with(w);
}

static uint64_t pfn_of(struct vm_proc *p, vm_vaddr va)
{
	struct vm_pt_leaf l;
	return p->mm->pt.ops->lookup(&p->mm->pt, va, &l) ? UINT64_MAX : pte_pfn(l.pte);
}

static int wr(struct kfx *f, struct vm_proc *p, vm_vaddr va, unsigned char v)
{
	int r = vm_user_access(f->k, p, va, 1, VM_ACC_WRITE, &v);
	kfx_check(f, "write");
	return r;
}

static int rd(struct kfx *f, struct vm_proc *p, vm_vaddr va)
{
	unsigned char v = 0xee;
	int r = vm_user_access(f->k, p, va, 1, VM_ACC_READ, &v);
	kfx_check(f, "read");
	return r ? -r : v;
}

static bool leaf(struct vm_proc *p, vm_vaddr va, struct vm_pt_leaf *l)
{
	return p->mm->pt.ops->lookup(&p->mm->pt, va, l) == 0;
}

static struct vm_proc *do_fork(struct kfx *f, struct vm_proc *p, unsigned flags)
{
	struct vm_proc *c = NULL;
	long r = vm_sys_clone(f->k, p, flags, "child", &c);
	kfx_check(f, "clone");
	return r > 0 ? c : NULL;
}

static void test_cow(void)
{
	struct kfx *f = fixture(NULL);
	struct vm_stats *st = &f->m->kstats;
	struct vm_pt_leaf lp, lc;

	is_i64(MMAP(f, A, 4 * PG, RW, ANON_FIXED, -1, 0), (long)A, "four private pages");
	for (int i = 0; i < 4; i++)
		wr(f, f->p, A + i * PG, (unsigned char)(10 + i));
	uint64_t pf0 = f->p->min_flt;
	struct vm_proc *c = do_fork(f, f->p, 0);
	ok(c != NULL, "fork");
	if (!c)
		return;
	is_i64(c->pid, 2, "the child is pid 2");
	is_i64(c->ppid, f->p->pid, "its parent is the caller");
	ok(c->mm != f->p->mm && c->mm->pcid != f->p->mm->pcid, "its own address space and PCID");
	is_u64(c->min_flt, 0, "its fault counters start at 0");
	is_u64(c->mm->rss[VM_RSS_ANON], 4, "RssAnon of the child: the four pages");
	ok(leaf(f->p, A, &lp) && leaf(c, A, &lc) && pte_pfn(lp.pte) == pte_pfn(lc.pte),
	   "both map the same frame");
	ok(!pte_write(lp.pte) && !pte_write(lc.pte), "write-protected in both");
	ok(!pte_young(lc.pte), "the child's entry starts old (pte_mkold)");
	struct vm_page *pg = &f->k->pages[pte_pfn(lp.pte)];
	is_u64(pg->refcount, 2, "two references");
	is_i64(pg->mapcount, 2, "two mappings");
	is_u64(st->fork_cow, 4, "four pages shared copy-on-write");

	is_i64(rd(f, c, A + 2 * PG), 12, "the child reads what the parent wrote");
	is_u64(c->min_flt, 0, "a read of a shared page takes no fault");
	uint64_t cow0 = st->flt_cow, reuse0 = st->flt_wp_reuse;
	wr(f, c, A, 99);
	is_u64(c->min_flt, 1, "the child's write: one minor fault");
	is_u64(st->flt_cow - cow0, 1, "a copy (the parent still maps the page)");
	is_i64(rd(f, f->p, A), 10, "the parent still reads its own byte");
	is_i64(rd(f, c, A), 99, "the child its own");
	is_u64(pg->refcount, 1, "the original has one user again");
	wr(f, f->p, A, 55);
	is_u64(f->p->min_flt - pf0, 1, "the parent's write: one fault");
	is_u64(st->flt_wp_reuse - reuse0, 1, "and a reuse: nobody else holds the page now");
	is_i64(rd(f, c, A), 99, "the child is unaffected");
	is_u64(c->mm->rss[VM_RSS_ANON] + f->p->mm->rss[VM_RSS_ANON], 8, "RSS: four pages each");
	kfx_free(f);
}

/* A stale writable TLB entry of the parent would let it write the shared
 * frame: fork flushes the parent's TLBs on every CPU running its mm. */
static void test_tlb(void)
{
	struct kfx *f = fixture("cpus=2");
	struct vm_stats *st = &f->m->kstats;

	MMAP(f, A, PG, RW, ANON_FIXED, -1, 0);
	f->p->cpu = 0;
	struct vm_proc *t = do_fork(f, f->p, VM_CLONE_VM | VM_CLONE_THREAD);
	t->cpu = 1;
	wr(f, f->p, A, 1);
	is_i64(rd(f, t, A), 1, "a thread on CPU 1 reads the page (its TLB caches it)");
	uint64_t flush0 = st->tlb_flush_mm, ipi0 = st->tlb_shootdowns;
	struct vm_proc *c = do_fork(f, f->p, 0);
	is_u64(st->tlb_flush_mm - flush0, 1, "fork flushes the parent's address space");
	is_u64(st->tlb_shootdowns - ipi0, 1, "with an IPI to CPU 1, which runs it too");
	uint64_t pf0 = f->p->min_flt;
	wr(f, f->p, A, 2);
	is_u64(f->p->min_flt - pf0, 1, "the parent's next write faults (no stale writable entry)");
	is_i64(rd(f, c, A), 1, "the child still reads the value of the fork");
	wr(f, t, A, 3);
	is_i64(rd(f, f->p, A), 3, "the thread writes the parent's page");
	is_i64(rd(f, c, A), 1, "not the child's");
	kfx_free(f);
}

static void test_shared(void)
{
	struct kfx *f = fixture(NULL);

	struct vm_pt_leaf l;

	MMAP(f, A, 2 * PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0);
	wr(f, f->p, A, 7);
	struct vm_file *shm = vm_find_vma(f->p->mm, A)->vm_file;
	struct vm_proc *c = do_fork(f, f->p, 0);
	/* Shared anonymous memory is a shmem file: vma_needs_copy is false,
	 * the child takes a reference on the file and faults its pages in. */
	ok(c && !leaf(c, A, &l), "the child's shared entries are not copied");
	is_u64(shm ? shm->refs : 0, 2, "one shmem file, a reference for each VMA");
	is_i64(rd(f, c, A), 7, "MAP_SHARED: the child reads the parent's byte");
	is_u64(c->min_flt, 1, "from the shmem object's page cache, with one fault");
	wr(f, c, A, 8);
	is_i64(rd(f, f->p, A), 8, "and the parent reads the child's");
	wr(f, f->p, A + PG, 9);
	is_i64(rd(f, c, A + PG), 9, "a page first touched after the fork is shared too");
	is_u64(pfn_of(c, A + PG), pfn_of(f->p, A + PG), "the same frame");
	is_u64(f->m->kstats.fork_cow, 0, "nothing copy-on-write");
	kfx_free(f);
}

static void test_file(void)
{
	struct kfx *f = fixture(NULL);
	long fd = vm_sys_openat(f->k, f->p, "tests/scenarios/data/6000-bytes.txt", VM_O_RDONLY);
	struct vm_pt_leaf l;

	ok(fd >= 0, "open a file");
	MMAP(f, A, 2 * PG, RW, VM_MAP_PRIVATE | VM_MAP_FIXED, (int)fd, 0);
	MMAP(f, A + 4 * PG, 2 * PG, RW, VM_MAP_PRIVATE | VM_MAP_FIXED, (int)fd, 0);
	int b0 = rd(f, f->p, A);
	rd(f, f->p, A + 4 * PG);
	wr(f, f->p, A + 5 * PG, 1);
	struct vm_proc *c = do_fork(f, f->p, 0);
	ok(!leaf(c, A, &l), "a private file VMA without an anon_vma: nothing copied");
	ok(leaf(c, A + 4 * PG, &l) && leaf(c, A + 5 * PG, &l), "one with a COW page: all copied");
	is_i64(rd(f, c, A), b0, "the child reads the file's byte");
	is_u64(c->min_flt, 1, "after one fault of its own");
	rd(f, c, A + 4 * PG);
	is_u64(c->min_flt, 1, "a copied page-cache page: no fault");
	is_i64(rd(f, c, A + 5 * PG), 1, "the COW copy is shared with the parent");
	is_u64(c->fds[fd].file == f->p->fds[fd].file, 1, "the descriptor refers to the same file");
	kfx_free(f);
}

static void test_zero_dontfork_wipe_locked(void)
{
	struct kfx *f = fixture(NULL);
	struct vm_pt_leaf l;

	MMAP(f, A, PG, RW, ANON_FIXED, -1, 0);
	is_i64(rd(f, f->p, A), 0, "the parent reads the zero page");
	MMAP(f, A + 2 * PG, 2 * PG, RW, ANON_FIXED, -1, 0);
	wr(f, f->p, A + 2 * PG, 5);
	MADVISE(f, A + 2 * PG, PG, VM_MADV_DONTFORK);
	MADVISE(f, A + 3 * PG, PG, VM_MADV_WIPEONFORK);
	wr(f, f->p, A + 3 * PG, 6);
	MMAP(f, A + 5 * PG, PG, RW, ANON_FIXED | VM_MAP_LOCKED, -1, 0);
	struct vm_proc *c = do_fork(f, f->p, 0);
	ok(!leaf(c, A, &l), "only zero pages (no anon_vma): nothing copied");
	wr(f, c, A, 1);
	is_u64(c->min_flt, 1, "the child's write: one fault");
	is_i64(rd(f, f->p, A), 0, "the parent still reads zero");
	ok(!vm_vma_lookup(c->mm, A + 2 * PG), "MADV_DONTFORK: no VMA in the child");
	struct vm_vma *w = vm_vma_lookup(c->mm, A + 3 * PG);
	ok(w && !w->anon && !leaf(c, A + 3 * PG, &l), "MADV_WIPEONFORK: an empty VMA");
	is_i64(rd(f, c, A + 3 * PG), 0, "which reads zero");
	is_i64(rd(f, f->p, A + 3 * PG), 6, "the parent keeps its byte");
	struct vm_vma *lk = vm_vma_lookup(c->mm, A + 5 * PG);
	ok(lk && !(lk->vm_flags & VM_LOCKED) && c->mm->locked_vm == 0, "locks are not inherited");
	is_u64(c->mm->total_vm, f->p->mm->total_vm - 1, "VmSize: all but the DONTFORK page");
	is_u64(c->mm->hiwater_vm, c->mm->total_vm, "VmPeak starts at the child's size");
	is_u64(c->mm->hiwater_rss, 0, "VmHWM is the child's own RSS");
	kfx_free(f);
}

static void test_vfork(void)
{
	struct kfx *f = fixture("cpus=2");

	MMAP(f, A, PG, RW, ANON_FIXED, -1, 0);
	wr(f, f->p, A, 1);
	struct vm_proc *c = do_fork(f, f->p, VM_CLONE_VM | VM_CLONE_VFORK);
	ok(c && c->mm == f->p->mm && f->p->mm->users == 2, "vfork: the child borrows the mm");
	is_i64(f->p->vfork_child, c->pid, "the parent waits for it");
	is_u64(c->cpu, f->p->cpu, "on the parent's CPU");
	is_u64(f->m->kstats.fork_ptes, 0, "nothing copied");
	wr(f, c, A, 2);
	is_i64(rd(f, f->p, A), 2, "the child's write is the parent's");
	vm_sys_exit(f->k, c, 0);
	kfx_check(f, "exit");
	is_i64(f->p->vfork_child, 0, "the child's exit lets the parent run");
	is_u64(f->p->mm->users, 1, "the mm is the parent's alone again");
	is_i64(rd(f, f->p, A), 2, "and intact");
	kfx_free(f);
}

static void test_threads(void)
{
	struct kfx *f = fixture("cpus=2");
	struct vm_stats *st = &f->m->kstats;

	f->p->cpu = 0;
	MMAP(f, A, 2 * PG, RW, ANON_FIXED, -1, 0);
	struct vm_proc *t = do_fork(f, f->p, VM_CLONE_VM | VM_CLONE_THREAD);
	ok(t && t->mm == f->p->mm && t->tgid == f->p->pid, "a thread shares the mm and the group");
	is_i64(vm_sys_clone(f->k, f->p, VM_CLONE_THREAD, "x", NULL), -EINVAL,
	       "CLONE_THREAD without CLONE_VM: EINVAL");
	t->cpu = 1;
	wr(f, t, A, 4);
	is_i64(rd(f, f->p, A), 4, "one address space");
	uint64_t ipi0 = st->tlb_shootdowns;
	MUNMAP(f, A, PG);
	is_u64(st->tlb_shootdowns - ipi0, 1, "munmap on CPU 0: a shootdown IPI to CPU 1");
	is_i64(vm_sys_wait(f->k, f->p, t->pid, NULL), -ECHILD, "a thread is nobody's child");
	ok(vm_user_access(f->k, t, A, 1, VM_ACC_READ, NULL) == VM_SIGSEGV, "the thread faults");
	is_u64(f->p->state, VM_PROC_KILLED, "and the whole group dies (do_group_exit)");
	is_i64(kfx_check(f, "group exit"), 0, "consistent");
	kfx_free(f);
}

static void test_wait(void)
{
	struct kfx *f = fixture(NULL);
	int status = -1;

	struct vm_proc *c = do_fork(f, f->p, 0), *d = do_fork(f, f->p, 0);
	int cpid = c->pid, dpid = d->pid;
	is_i64(vm_sys_wait(f->k, f->p, cpid, &status), 0, "a child still running: 0 (WNOHANG)");
	is_i64(vm_sys_wait(f->k, c, dpid, &status), -ECHILD, "not its child: ECHILD");
	vm_sys_exit(f->k, c, 3);
	is_i64(vm_sys_wait(f->k, f->p, cpid, &status), cpid, "reaped: its pid");
	is_i64(status, 3 << 8, "status: WIFEXITED, code 3");
	ok(vm_proc_find(f->k, cpid) == NULL, "gone");
	is_i64(vm_sys_wait(f->k, f->p, cpid, &status), -ECHILD, "twice: ECHILD");
	struct vm_siginfo sig = { .signo = VM_SIGSEGV };
	vm_proc_kill(f->k, d, &sig);
	is_i64(vm_sys_wait(f->k, f->p, -1, &status), dpid, "any child: the killed one");
	is_i64(status, VM_SIGSEGV, "status: WIFSIGNALED, SIGSEGV");
	is_i64(vm_sys_wait(f->k, f->p, -1, &status), -ECHILD, "no children left");
	kfx_free(f);
}

/* Every frame back in the buddy allocator, every anon_vma freed, when the
 * last process of a fork tree exits, in any order. */
static void test_exit_frees(void)
{
	for (int order = 0; order < 3; order++) {
		struct kfx *f = fixture(NULL);
		struct vm_stats s0;

		vm_sys_exit(f->k, f->p, 0);
		vmlab_machine_stats(f->m, &s0);
		struct vm_proc *a;
		vm_proc_create(f->k, "a", &a);
		vm_sys_mmap(f->k, a, A, 64 * PG, RW, ANON_FIXED, -1, 0);
		for (int i = 0; i < 64; i += 2)
			wr(f, a, A + i * PG, 1);
		struct vm_proc *b = do_fork(f, a, 0);
		for (int i = 0; i < 64; i += 3)
			wr(f, b, A + i * PG, 2);
		struct vm_proc *c = do_fork(f, b, 0);
		for (int i = 0; i < 64; i += 5)
			wr(f, c, A + i * PG, 3);
		struct vm_proc *v = do_fork(f, c, VM_CLONE_VM | VM_CLONE_VFORK);
		wr(f, v, A, 4);
		is_u64(f->k->anon_vmas, 6, "three processes with a stack and a mapping each: six "
		       "anon_vmas (the vfork child shares its parent's)");
		struct vm_proc *all[] = { a, b, c, v };
		static const int orders[3][4] = { { 0, 1, 3, 2 }, { 3, 2, 1, 0 }, { 1, 3, 0, 2 } };
		for (int i = 0; i < 4; i++) {
			vm_sys_exit(f->k, all[orders[order][i]], 0);
			kfx_check(f, "exit");
		}
		struct vm_stats s1;
		vmlab_machine_stats(f->m, &s1);
		is_u64(s1.frames_free, s0.frames_free, "order %d: every frame is free again", order);
		is_u64(f->k->anon_vmas, 0, "order %d: every anon_vma is freed", order);
		is_u64(f->bad_checks, 0, "order %d: vm_kernel_check held at every step", order);
		kfx_free(f);
	}
}

/* anon_vma_fork: a child's chain holds its ancestors' anon_vmas and one
 * of its own; anon_vma_clone reuses an anon_vma whose process is gone
 * and that has one child (Linux's reuse since 3.19). */
static void test_anon_vma(void)
{
	struct kfx *f = fixture(NULL);

	MMAP(f, A, PG, RW, ANON_FIXED, -1, 0);
	wr(f, f->p, A, 1);
	struct vm_vma *va = vm_vma_lookup(f->p->mm, A);
	is_u64(va->nr_chain, 1, "a process that never forked: one anon_vma");
	struct vm_proc *b = do_fork(f, f->p, 0);
	struct vm_vma *vb = vm_vma_lookup(b->mm, A);
	ok(vb->nr_chain == 2 && vb->chain[0] == va->anon && vb->anon != va->anon &&
	   vb->anon->parent == va->anon, "the child: the parent's anon_vma, then its own");
	ok(vm_vma_is_fork_child(vb) && !vm_vma_is_fork_child(va), "vma_is_fork_child");
	wr(f, b, A, 2);
	is_u64(f->k->pages[pfn_of(b, A)].owner == vb->anon, 1,
	       "its COW copy belongs to its own anon_vma");
	struct vm_proc *c = do_fork(f, b, 0);
	struct vm_anon_vma *b_av = vb->anon;
	uint64_t b_serial = b_av->serial;
	vm_sys_exit(f->k, b, 0);
	kfx_check(f, "exit");
	is_u64(b_av->num_active_vmas, 0, "B's anon_vma: no VMA of its own now");
	is_u64(b_av->num_children, 1, "one child (C's)");
	struct vm_proc *d = do_fork(f, c, 0);
	struct vm_vma *vd = vm_vma_lookup(d->mm, A);
	ok(vd->anon && vd->anon->serial == b_serial, "D reuses B's anon_vma instead of a new one");
	is_u64(vd->nr_chain, 3, "its chain: A's, B's, C's");
	kfx_free(f);
}

/* Fork as the host allocator fails the N-th allocation, N = 1, 2, ...:
 * each failure is -ENOMEM with nothing left behind, until one succeeds. */
static void test_failures(void)
{
	struct kfx *f = fixture(NULL);
	struct vm_stats s0, s1;
	int fails = 0;
	long r = -ENOMEM;

	MMAP(f, A, 16 * PG, RW, ANON_FIXED, -1, 0);
	for (int i = 0; i < 16; i++)
		wr(f, f->p, A + i * PG, (unsigned char)i);
	MMAP(f, A + 32 * PG, 16 * PG, RW, ANON_FIXED, -1, 0);
	wr(f, f->p, A + 32 * PG, 1);
	for (uint64_t n = 1; r < 0 && n < 200; n++) {
		vmlab_machine_stats(f->m, &s0);
		uint64_t live = f->m->host.allocs - f->m->host.frees, avs = f->k->anon_vmas;
		f->m->host.fail_at = f->m->host.attempts + n;
		r = vm_sys_clone(f->k, f->p, 0, "c", NULL);
		f->m->host.fail_at = 0;
		if (r >= 0)
			break;
		fails++;
		vmlab_machine_stats(f->m, &s1);
		if (r != -ENOMEM || s1.frames_free != s0.frames_free || f->k->anon_vmas != avs ||
		    f->m->host.allocs - f->m->host.frees != live || kfx_check(f, "failed fork")) {
			diag("injected failure %" PRIu64 ": fork returned %ld, frames %+" PRId64
			     ", anon_vmas %+" PRId64 ", host blocks %+" PRId64, n, r,
			     (int64_t)(s1.frames_free - s0.frames_free), (int64_t)(f->k->anon_vmas - avs),
			     (int64_t)(f->m->host.allocs - f->m->host.frees - live));
			break;
		}
	}
	ok(r > 0 && fails > 3, "fork succeeded after %d injected failures, each -ENOMEM leaving "
	   "nothing behind", fails);
	for (int i = 0; i < 16; i++)
		if (rd(f, f->p, A + i * PG) != i)
			break;
	is_i64(rd(f, f->p, A + 15 * PG), 15, "the parent's memory is intact");
	is_u64(f->bad_checks, 0, "consistent throughout");
	kfx_free(f);
}

/* Out of frames for the child's page tables: -ENOMEM, nothing leaked. */
static void test_no_frames(void)
{
	const char *const w[] = { "mode=meta", "thp=never", "phys=1M", NULL };
	struct kfx *f = kfx_new_with(w);
	struct vm_stats s0, s1;
	long r;
	int n = 0;

	r = vm_sys_mmap(f->k, f->p, A, MB(1), RW, ANON_FIXED | VM_MAP_NORESERVE, -1, 0);
	/* Stop short of the min watermark (the OOM killer would come). */
	for (vm_vaddr va = A; va < A + MB(1) &&
	     f->k->buddy->free_frames > f->k->reclaim->wmark_min + 2; va += PG)
		if (vm_user_access(f->k, f->p, va, 1, VM_ACC_WRITE, NULL) == 0)
			n++;
	vmlab_machine_stats(f->m, &s0);
	r = vm_sys_clone(f->k, f->p, 0, "c", NULL);
	vmlab_machine_stats(f->m, &s1);
	ok(n > 100, "a nearly full memory (%d pages written)", n);
	is_i64(r, -ENOMEM, "fork: no frames for the child's page tables");
	is_u64(s1.frames_free, s0.frames_free, "the failed fork gave back every table frame");
	is_i64(kfx_check(f, "fork with no frames"), 0, "consistent");
	kfx_free(f);
}

/* A THP is split into 4 KiB pages at fork (Linux keeps the PMD: see
 * docs/fork.md); copy-on-write then works page by page. */
static void test_thp(void)
{
	struct kfx *f = fixture("thp=always");
	vm_vaddr h = A;

	MMAP(f, h, MB(2), RW, ANON_FIXED, -1, 0);
	wr(f, f->p, h, 1);
	is_u64(f->m->kstats.flt_thp, 1, "a THP");
	struct vm_proc *c = do_fork(f, f->p, 0);
	struct vm_pt_leaf l;
	ok(leaf(c, h + PG, &l) && l.size == VM_PSIZE_4K, "the child maps 4 KiB pages");
	is_u64(c->mm->rss[VM_RSS_ANON], 512, "all 512 of them");
	wr(f, c, h + 5 * PG, 2);
	is_u64(c->min_flt, 1, "a write: one fault");
	is_i64(rd(f, f->p, h + 5 * PG), 0, "the parent's page unchanged");
	kfx_free(f);
}

int main(void)
{
	test_cow();
	test_tlb();
	test_shared();
	test_file();
	test_zero_dontfork_wipe_locked();
	test_vfork();
	test_threads();
	test_wait();
	test_exit_frees();
	test_anon_vma();
	test_failures();
	test_no_frames();
	test_thp();
	return done_testing();
}
