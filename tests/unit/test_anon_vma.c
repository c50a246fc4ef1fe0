/*
 * anon_vma (src/kernel/anon_vma.c) in one process: which anon_vma a
 * faulting VMA gets (Linux __anon_vma_prepare -> find_mergeable_anon_vma:
 * the next VMA's first, then the previous one's, when anon_vma_compatible:
 * adjacent, flags equal but for VM_READ/WRITE/EXEC, pgoff continuing), what
 * a split and a merge do with it (anon_vma_clone, dup_anon_vma,
 * is_mergeable_anon_vma), and when it is freed (unlink_anon_vmas).  The
 * merges that follow from these rules are checked against the host kernel
 * by tests/linux/cases/anon-vma-*.case.
 */
#include "tap.h"
#include "kernel_fixture.h"
#include "kernel/anon_vma.h"

#define A UINT64_C(0x300000000000)
#define R VM_PROT_READ
#define FIXED (PRIV_ANON | VM_MAP_FIXED)

static struct vm_vma *at(struct kfx *f, vm_vaddr va)
{
	return vm_vma_lookup(f->p->mm, va);
}

static void wr(struct kfx *f, vm_vaddr va)
{
	kfx_touch(f, va, 1, VM_ACC_WRITE);
}

static void test_prepare(void)
{
	struct kfx *f = kfx_new();
	uint64_t n0 = f->k->anon_vmas;

	MMAP(f, A, 4 * PG, RW, FIXED, -1, 0);
	ok(at(f, A)->anon == NULL, "a new VMA has no anon_vma");
	kfx_touch(f, A, 1, VM_ACC_READ);
	ok(at(f, A)->anon == NULL, "nor after a read (the zero page)");
	wr(f, A);
	struct vm_anon_vma *av = at(f, A)->anon;
	ok(av && av->root == av && av->num_children == 1, "a write: a new root (its own child)");
	is_u64(f->k->anon_vmas - n0, 1, "one anon_vma allocated");

	/* Compatible neighbour: differs only in VM_WRITE. */
	MPROTECT(f, A + 2 * PG, 2 * PG, R);
	ok(at(f, A + 2 * PG)->anon == av, "a split keeps the anon_vma on both pieces");
	is_u64(av->nr_vmas, 2, "linked by two VMAs");
	is_u64(av->num_active_vmas, 2, "both of them its own");

	/* Incompatible neighbour: differs in VM_RAND_READ. */
	MMAP(f, A + 4 * PG, 2 * PG, RW, FIXED, -1, 0);
	MADVISE(f, A + 4 * PG, 2 * PG, VM_MADV_RANDOM);
	MMAP(f, A + 6 * PG, 2 * PG, RW, FIXED, -1, 0);
	wr(f, A + 4 * PG);
	struct vm_anon_vma *b = at(f, A + 4 * PG)->anon;
	ok(b && b != av, "a VMA whose flags differ beyond the access bits gets its own");

	/* A VMA between a compatible previous and next VMA takes next's. */
	wr(f, A + 7 * PG);
	struct vm_anon_vma *c = at(f, A + 6 * PG)->anon;
	ok(c && c != b, "the VMA after the RANDOM one gets another");
	MUNMAP(f, A + 8 * PG, 4 * PG);
	MMAP(f, A + 10 * PG, 2 * PG, RW, FIXED, -1, 0);
	MADVISE(f, A + 10 * PG, PG, VM_MADV_SEQUENTIAL);
	is_i64(MMAP(f, A + 9 * PG, PG, RW, FIXED | VM_MAP_NORESERVE, -1, 0), (long)(A + 9 * PG),
	       "a NORESERVE page between them");
	wr(f, A + 10 * PG);
	wr(f, A + 9 * PG);
	struct vm_anon_vma *mid = at(f, A + 9 * PG)->anon;
	ok(mid && mid != at(f, A + 10 * PG)->anon && mid != c,
	   "flags differing in VM_NORESERVE: incompatible on both sides, a new one");
	kfx_free(f);
}

static void test_next_first(void)
{
	struct kfx *f = kfx_new();

	/* [A, A+2) rw and [A+3, A+5) rw with anon_vmas X and Y; the hole at
	 * A+2 mapped read-only then faulted: both neighbours are compatible,
	 * next is tried first (find_mergeable_anon_vma). */
	MMAP(f, A, 2 * PG, RW, FIXED, -1, 0);
	MMAP(f, A + 3 * PG, 2 * PG, RW, FIXED, -1, 0);
	MPROTECT(f, A + 3 * PG, 2 * PG, R);
	MPROTECT(f, A + 3 * PG, 2 * PG, RW);
	wr(f, A);
	wr(f, A + 3 * PG);
	struct vm_anon_vma *x = at(f, A)->anon, *y = at(f, A + 3 * PG)->anon;
	ok(x && y && x != y, "two VMAs apart: two anon_vmas");
	MMAP(f, A + 2 * PG, PG, R, FIXED, -1, 0);
	struct vm_vma *m = at(f, A + 2 * PG);
	ok(m->vm_start == A + 2 * PG && m->vm_end == A + 3 * PG,
	   "a read-only page between them stays a VMA of its own");
	MPROTECT(f, A + 2 * PG, PG, RW);
	ok(at(f, A + 2 * PG)->vm_start == A, "made writable, it merges with prev (no anon_vma of "
	   "its own; both neighbours' differ, so only one side)");
	is_u64(at(f, A + 3 * PG)->vm_start, A + 3 * PG, "next stays apart (is_mergeable_anon_vma)");
	kfx_free(f);
}

static void test_lifetime(void)
{
	struct kfx *f = kfx_new();
	uint64_t n0 = f->k->anon_vmas;

	MMAP(f, A, 4 * PG, RW, FIXED, -1, 0);
	wr(f, A);
	MPROTECT(f, A + 2 * PG, 2 * PG, R);
	struct vm_anon_vma *av = at(f, A)->anon;
	MUNMAP(f, A, 2 * PG);
	is_u64(av->nr_vmas, 1, "one piece gone: the other still links it");
	is_u64(f->k->anon_vmas - n0, 1, "alive");
	MUNMAP(f, A + 2 * PG, 2 * PG);
	is_u64(f->k->anon_vmas - n0, 0, "the last piece gone: freed");
	MMAP(f, A, 2 * PG, RW, FIXED, -1, 0);
	MMAP(f, A + 2 * PG, 2 * PG, R, FIXED, -1, 0);
	wr(f, A);
	MPROTECT(f, A + 2 * PG, 2 * PG, RW);
	ok(at(f, A + 2 * PG)->vm_start == A && at(f, A)->anon,
	   "a VMA without one merges into one with one (dup_anon_vma)");
	is_u64(f->k->anon_vmas - n0, 1, "still one");
	is_u64(f->bad_checks, 0, "vm_kernel_check held after every step");
	kfx_free(f);
}

int main(void)
{
	test_prepare();
	test_next_first();
	test_lifetime();
	return done_testing();
}
