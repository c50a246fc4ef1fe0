/*
 * mremap (src/kernel/mremap.c) against Linux 6.18: errno cases, shrink,
 * growth in place (merging with the next VMA), moves that carry the page
 * frames and bytes along, the pgoff rule that decides later merges (an
 * anonymous VMA that had pages keeps its pgoff, one that had none takes the
 * new address's), MREMAP_FIXED, MREMAP_DONTUNMAP, and FIXED moves of
 * several VMAs at once.
 */
#include "tap.h"
#include "kernel_fixture.h"

#define A UINT64_C(0x40000000)
#define MAYMOVE VM_MREMAP_MAYMOVE
#define FIXED   VM_MREMAP_FIXED

static void test_errno(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, A, 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "four pages");
	is_i64(MREMAP(f, A + 1, PG, PG, 0, 0), -EINVAL, "unaligned: EINVAL");
	is_i64(MREMAP(f, A, PG, 0, 0, 0), -EINVAL, "new length 0: EINVAL");
	is_i64(MREMAP(f, A, PG, PG, 8, 0), -EINVAL, "unknown flag: EINVAL");
	is_i64(MREMAP(f, A, PG, PG, FIXED, A + MB(1)), -EINVAL, "FIXED without MAYMOVE: EINVAL");
	is_i64(MREMAP(f, A, PG, 2 * PG, VM_MREMAP_DONTUNMAP | MAYMOVE, 0), -EINVAL,
	       "DONTUNMAP resizing: EINVAL");
	is_i64(MREMAP(f, A, PG, PG, FIXED | MAYMOVE, A + MB(1) + 1), -EINVAL, "FIXED unaligned: EINVAL");
	is_i64(MREMAP(f, A, 2 * PG, 2 * PG, FIXED | MAYMOVE, A + PG), -EINVAL,
	       "FIXED overlapping the source: EINVAL");
	is_i64(MREMAP(f, A + MB(8), PG, 2 * PG, 0, 0), -EFAULT, "nothing mapped there: EFAULT");
	is_i64(MREMAP(f, A, PG, -PG, 0, 0), -EINVAL, "new length beyond TASK_SIZE: EINVAL");
	is_i64(MREMAP(f, A, 0, PG, MAYMOVE, 0), -EINVAL, "old length 0 of a private mapping: EINVAL");
	is_i64(MREMAP(f, A, 8 * PG, 8 * PG, 0, 0), A, "same length, beyond the VMA: no check, A");
	is_i64(MREMAP(f, A, 8 * PG, 9 * PG, MAYMOVE, 0), -EFAULT, "growing a range past the VMA: EFAULT");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_resize(void)
{
	struct kfx *f = kfx_new();
	char l[128];

	is_i64(MMAP(f, A, 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "four pages");
	is_i64(kfx_touch(f, A, 4 * PG, VM_ACC_WRITE), 0, "all written");
	is_i64(MREMAP(f, A, 4 * PG, 2 * PG, 0, 0), A, "shrink to two");
	is_str(kfx_maps_in(f, A, A + MB(1)), anon_line(l, A, A + 2 * PG, "rw-p"), "two pages left");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 2, "the others unmapped");
	is_i64(MREMAP(f, A, 2 * PG, 6 * PG, 0, 0), A, "grow in place to six");
	is_str(kfx_maps_in(f, A, A + MB(1)), anon_line(l, A, A + 6 * PG, "rw-p"), "six pages");
	is_i64(MMAP(f, A + 7 * PG, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + 7 * PG,
	       "a page after a one-page gap");
	is_i64(MREMAP(f, A, 6 * PG, 7 * PG, 0, 0), A, "grow into the gap");
	is_str(kfx_maps_in(f, A, A + MB(1)), anon_line(l, A, A + 8 * PG, "rw-p"),
	       "merged with the next VMA");
	is_i64(MMAP(f, A + 9 * PG, PG, VM_PROT_READ, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + 9 * PG,
	       "a read-only page after another gap");
	is_i64(MREMAP(f, A, 8 * PG, 10 * PG, 0, 0), -ENOMEM, "no room and no MAYMOVE: ENOMEM");
	is_i64(MREMAP(f, A, 8 * PG, 9 * PG, 0, 0), A, "one page fits");
	is_u64(kfx_vmas(f), 3, "not merged with the read-only page");
	is_u64(f->p->mm->total_vm, 32 + 10, "VSZ follows");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static int leaf_pfn(struct kfx *f, vm_vaddr va, uint64_t *pfn)
{
	struct vm_pt_leaf leaf;
	int err = f->p->mm->pt.ops->lookup(&f->p->mm->pt, va, &leaf);
	*pfn = err ? 0 : pte_leaf_base(leaf.pte, leaf.level) >> VM_PAGE_SHIFT;
	return err;
}

static void test_move(void)
{
	struct kfx *f = kfx_new();
	char buf[16], l[256], l2[128];
	uint64_t pfn0, pfn1;
	vm_vaddr t = A + MB(2), dst = A + MB(3);

	is_i64(MMAP(f, t, 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), t, "four pages");
	is_i64(vm_user_access(f->k, f->p, t, 6, VM_ACC_WRITE, "first"), 0, "write page 0");
	is_i64(vm_user_access(f->k, f->p, t + PG, 7, VM_ACC_WRITE, "second"), 0, "write page 1");
	is_i64(leaf_pfn(f, t + PG, &pfn1), 0, "page 1's frame");
	is_i64(MREMAP(f, t + PG, PG, PG, FIXED | MAYMOVE, dst), dst, "move page 1 to dst");
	is_i64(leaf_pfn(f, dst, &pfn0), 0, "mapped at dst");
	is_u64(pfn0, pfn1, "with the same frame");
	ok(leaf_pfn(f, t + PG, &pfn0) != 0, "and no longer at the old place");
	memset(buf, 0, sizeof(buf));
	is_i64(vm_user_access(f->k, f->p, dst, 7, VM_ACC_READ, buf), 0, "read at dst");
	is_str(buf, "second", "the bytes moved with it");
	strcpy(l, anon_line(l2, t, t + PG, "rw-p"));
	strcat(l, anon_line(l2, t + 2 * PG, t + 4 * PG, "rw-p"));
	is_str(kfx_maps_in(f, t, t + MB(1)), l, "the source split around the hole");
	is_u64(f->p->mm->rss[VM_RSS_ANON], 2, "RSS unchanged by the move");
	is_i64(MREMAP(f, t, PG, PG, FIXED | MAYMOVE, dst + PG), dst + PG, "page 0 right after it");
	is_u64(kfx_vmas(f), 4, "touched pages keep their pgoff: no merge at dst (Linux)");
	is_i64(MMAP(f, dst + 2 * PG, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), dst + 2 * PG,
	       "a fresh page after them");
	is_u64(kfx_vmas(f), 5, "pgoff = addr >> 12 does not continue a moved one: no merge");

	/* An untouched VMA takes the new address as pgoff and merges. */
	vm_vaddr u = A + MB(4), d2 = A + MB(5);
	is_i64(MMAP(f, u, 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), u, "two untouched pages");
	is_i64(MREMAP(f, u, PG, PG, FIXED | MAYMOVE, d2 + PG), d2 + PG, "move one");
	is_i64(MMAP(f, d2, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), d2, "a page before it");
	is_str(kfx_maps_in(f, d2, d2 + MB(1)), anon_line(l, d2, d2 + 2 * PG, "rw-p"),
	       "they merge (the moved VMA's pgoff is its new address)");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

static void test_maymove(void)
{
	struct kfx *f = kfx_new();
	char buf[8];

	is_i64(MMAP(f, A, 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "two pages");
	is_i64(vm_user_access(f->k, f->p, A + PG, 4, VM_ACC_WRITE, "abc"), 0, "write page 1");
	is_i64(MMAP(f, A + 2 * PG, PG, VM_PROT_READ, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + 2 * PG,
	       "a wall after them");
	long r = MREMAP(f, A, 2 * PG, 4 * PG, MAYMOVE, 0);
	is_i64(r, 0x7ffff7ffb000, "MAYMOVE: moved top-down below mmap_base");
	is_i64(vm_user_access(f->k, f->p, r + PG, 4, VM_ACC_READ, buf), 0, "read");
	is_str(buf, "abc", "bytes kept");
	is_i64(kfx_touch(f, A, 1, VM_ACC_READ), VM_SIGSEGV, "the old place is gone");
	kfx_free(f);

	f = kfx_new();
	is_i64(MMAP(f, A, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), A, "one page");
	is_i64(MMAP(f, A + PG, PG, VM_PROT_READ, PRIV_ANON | VM_MAP_FIXED, -1, 0), A + PG, "a wall");
	is_i64(MREMAP(f, A, PG, MB(2), MAYMOVE, 0), 0x7ffff7c00000,
	       "grown to 2 MiB by a move: THP aligned like mmap");
	kfx_free(f);
}

static void test_dontunmap_and_multi(void)
{
	struct kfx *f = kfx_new();
	char buf[8];
	vm_vaddr d = A + MB(6);

	is_i64(MMAP(f, d, 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), d, "two pages");
	is_i64(vm_user_access(f->k, f->p, d, 4, VM_ACC_WRITE, "xyz"), 0, "write page 0");
	long r = MREMAP(f, d, PG, PG, VM_MREMAP_DONTUNMAP | MAYMOVE, 0);
	ok(r > 0 && (vm_vaddr)r != d, "DONTUNMAP moved page 0 elsewhere");
	is_i64(vm_user_access(f->k, f->p, (vm_vaddr)r, 4, VM_ACC_READ, buf), 0, "read the new place");
	is_str(buf, "xyz", "with its bytes");
	is_i64(kfx_touch(f, d, 1, VM_ACC_READ), 0, "the old place is still mapped");
	memset(buf, 1, sizeof(buf));
	is_i64(vm_user_access(f->k, f->p, d, 4, VM_ACC_READ, buf), 0, "and reads");
	ok(buf[0] == 0 && buf[1] == 0, "zeroes (its page went away)");

	/* FIXED with equal lengths moves every VMA of the range (Linux 6.17+). */
	vm_vaddr w = A + MB(7), to = A + MB(8);
	is_i64(MMAP(f, w, 2 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), w, "two pages");
	is_i64(MPROTECT(f, w + PG, PG, VM_PROT_READ), 0, "second read-only: two VMAs");
	is_i64(MREMAP(f, w, 2 * PG, 2 * PG, FIXED | MAYMOVE, to), to, "move both at once");
	is_str(kfx_maps_in(f, to, to + MB(1)),
	       "40800000-40801000 rw-p 00000000 00:00 0 \n40801000-40802000 r--p 00000000 00:00 0 \n",
	       "both arrived, in order");
	vm_vaddr h = A + MB(9), to2 = A + MB(10);
	is_i64(MMAP(f, h + PG, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), h + PG, "a page after a hole");
	is_i64(MREMAP(f, h, 2 * PG, 2 * PG, FIXED | MAYMOVE, to2), -EFAULT,
	       "a hole at the start of the range: EFAULT");
	is_i64(MMAP(f, h, PG, RW, VM_MAP_SHARED | VM_MAP_ANONYMOUS | VM_MAP_FIXED, -1, 0), h,
	       "fill it with something else");
	is_i64(MREMAP(f, h, 3 * PG, 3 * PG, FIXED | MAYMOVE, to2), to2, "a hole at the end is fine");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

int main(void)
{
	test_errno();
	test_resize();
	test_move();
	test_maymove();
	test_dontunmap_and_multi();
	return done_testing();
}
