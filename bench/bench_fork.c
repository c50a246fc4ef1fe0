/*
 * fork and copy-on-write (issue 4, benchmark).
 *
 * A process with 1 MiB, 64 MiB and 1 GiB of private anonymous memory
 * written (4 KiB pages, thp=never, meta mode: frames hold no bytes, so the
 * model's own cost is measured), forked again and again:
 *
 * (a) fork: vm_sys_clone, best of BENCH_REPS (the child exits and is reaped
 *     between, not timed); reported per fork and per mapped page, which must
 *     stay flat across sizes (fork is O(mapped pages): dup_mmap copies VMAs,
 *     copy_page_range every entry, and write-protects the parent's).
 *     Floors, measured in the same run on the same tables:
 *       (f1) a loop over the parent's page-table entries through the same
 *            interface (pt_ops for_each, counting the present leaves): the
 *            walk any copy must make;
 *       (f2) a memcpy of as many bytes as the parent's page tables hold
 *            (8 bytes per entry): what copying the tables wholesale costs.
 * (b) COW fault: the child writes every page once (wp_page_copy: a new
 *     frame, the old entry cleared and flushed, the copy mapped), per fault.
 *     Floor (f3): a first-touch anonymous write fault (do_anonymous_page)
 *     in the same run, the cheapest fault that also allocates a frame.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>

#include "bench.h"
#include "core/machine.h"
#include "kernel/fault.h"
#include "kernel/fork.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/syscalls.h"

#define BASE UINT64_C(0x100000000000)

struct bench {
	struct vm_machine *m;
	struct vm_kernel *k;
	struct vm_proc *p;
};

static void die(const char *what, long rc)
{
	fprintf(stderr, "bench_fork: %s: %ld\n", what, rc);
	exit(1);
}

static void setup(struct bench *b)
{
	const char *words[] = { "phys=4G", "thp=never", "mode=meta", "aslr=0" };
	int rc = bench_machine(words, 4, &b->m);
	if (rc)
		die("vmlab_machine_create", rc);
	b->k = vm_machine_kernel(b->m);
	rc = vm_proc_create(b->k, "parent", &b->p);
	if (rc)
		die("vm_proc_create", rc);
}

/* Write every page of [BASE, BASE + pages): first-touch faults; seconds. */
static double touch(struct bench *b, struct vm_proc *p, uint64_t pages)
{
	double t0 = bench_now();
	for (uint64_t i = 0; i < pages; i++)
		if (vm_user_access(b->k, p, BASE + (i << 12), 1, VM_ACC_WRITE, NULL))
			die("write", (long)i);
	return bench_now() - t0;
}

static int count_leaf(void *arg, const struct vm_pt_leaf *leaf)
{
	(void)leaf;
	++*(uint64_t *)arg;
	return 0;
}

static void reap(struct bench *b, struct vm_proc *c)
{
	vm_sys_exit(b->k, c, 0);
	if (vm_sys_wait(b->k, b->p, c->pid, NULL) <= 0)
		die("wait", 0);
}

static int run(struct bench *b, uint64_t bytes, const char *label)
{
	uint64_t pages = bytes >> 12;
	double t_first = 1e30;
	long r;

	for (int rep = 0; rep < BENCH_REPS; rep++) {        /* (f3): first-touch faults */
		vm_sys_munmap(b->k, b->p, BASE, bytes);
		r = vm_sys_mmap(b->k, b->p, BASE, bytes, VM_PROT_READ | VM_PROT_WRITE,
				VM_MAP_PRIVATE | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0);
		if (r != (long)BASE)
			die("mmap", r);
		double t = touch(b, b->p, pages);
		t_first = t < t_first ? t : t_first;
	}
	struct vm_pt *pt = &b->p->mm->pt;

	double t_fork = 1e30, t_walk = 1e30, t_copy = 1e30, t_cow = 1e30;
	uint64_t leaves = 0, ptes = 0, cows = 0;
	uint8_t *src = malloc(pages * 8), *dst = malloc(pages * 8);
	if (!src || !dst)
		die("malloc", -ENOMEM);
	memset(src, 1, pages * 8);
	memset(dst, 2, pages * 8);
	for (int rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = bench_now();
		leaves = 0;
		pt->ops->for_each(pt, BASE, BASE + bytes, count_leaf, &leaves);
		double t = bench_now() - t0;
		t_walk = t < t_walk ? t : t_walk;

		t0 = bench_now();
		memcpy(dst, src, pages * 8);
		bench_keep(dst[pages * 8 - 1]);
		t = bench_now() - t0;
		t_copy = t < t_copy ? t : t_copy;

		struct vm_proc *c;
		uint64_t e0 = b->m->kstats.fork_ptes;
		t0 = bench_now();
		r = vm_sys_clone(b->k, b->p, 0, "child", &c);
		t = bench_now() - t0;
		if (r <= 0)
			die("fork", r);
		ptes = b->m->kstats.fork_ptes - e0;
		t_fork = t < t_fork ? t : t_fork;

		/* (b) on the largest size only the first repetition: 1 GiB of
		 * copies is 1 GiB of frames. */
		if (bytes <= (UINT64_C(64) << 20) || rep == 0) {
			uint64_t c0 = b->m->kstats.flt_cow;
			t = touch(b, c, pages);
			cows = b->m->kstats.flt_cow - c0;
			t_cow = t < t_cow ? t : t_cow;
		}
		reap(b, c);
		/* The parent's pages are write-protected now: give them back
		 * their write permission (reuse faults), not timed. */
		touch(b, b->p, pages);
	}
	free(src);
	free(dst);
	double ns_fork = t_fork * 1e9, per_page = ns_fork / (double)pages;
	double ns_walk = t_walk * 1e9 / (double)pages, ns_copy = t_copy * 1e9 / (double)pages;
	double ns_cow = t_cow * 1e9 / (double)pages, ns_first = t_first * 1e9 / (double)pages;
	printf("%-8s (a) fork %10.0f us  %6.1f ns/page  | (f1) PTE walk %5.1f ns/page (x%4.1f)"
	       "  (f2) memcpy %5.2f ns/page (x%5.1f)\n", label, ns_fork / 1e3, per_page, ns_walk,
	       per_page / ns_walk, ns_copy, per_page / ns_copy);
	printf("%-8s (b) COW fault %6.0f ns              | (f3) first-touch fault %5.0f ns (x%4.2f)"
	       "   %" PRIu64 " entries copied, %" PRIu64 " COW copies\n", "", ns_cow, ns_first,
	       ns_cow / ns_first, ptes, cows);
	vm_sys_munmap(b->k, b->p, BASE, bytes);
	return ptes == pages && leaves == pages && cows == pages ? 0 : 1;
}

int main(void)
{
	struct bench b;

	printf("vmlab fork benchmark: private anonymous memory written, forked (best of %d); "
	       "meta mode, thp=never.\nEach figure next to its floor in the same run "
	       "(xN: how many times the floor)\n", BENCH_REPS);
	memset(&b, 0, sizeof(b));
	setup(&b);
	int rc = run(&b, UINT64_C(1) << 20, "1 MiB");
	rc |= run(&b, UINT64_C(64) << 20, "64 MiB");
	rc |= run(&b, UINT64_C(1) << 30, "1 GiB");
	vmlab_machine_destroy(b.m);
	if (rc)
		fprintf(stderr, "bench_fork: counts wrong (entries, leaves or COW copies)\n");
	return rc;
}
