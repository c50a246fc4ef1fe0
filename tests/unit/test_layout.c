/*
 * The x86-64 layout and ASLR (src/kernel/mm_layout.c, proc.c): Linux's
 * numbers with randomize_va_space 0, and with 1 and 2 the entropy of each
 * region measured over many draws of the machine's RNG: the mmap base
 * varies in exactly mmap_rnd_bits page bits (28), the stack top in 22 page
 * bits (STACK_RND_MASK), the PIE base in 28, the heap in 18 (1 GiB) and
 * only with aslr=2.  The same seed gives the same layout.
 */
#include "tap.h"
#include "kernel_fixture.h"

#define WINDOW UINT64_C(0x7ffffffff000)
#define BASE0  UINT64_C(0x7ffff7fff000)      /* aslr=0 */
#define BASE1  UINT64_C(0x7ffbff700000)      /* aslr>0, rnd = 0: gap 8M + 16G - 4K + 1M */
#define PIE    UINT64_C(0x555555554000)
#define DRAWS  3000u

static void test_aslr0(void)
{
	const char *const w5[] = { "pt=radix5", NULL };
	struct kfx *f = kfx_new();
	struct vm_mm *mm = f->p->mm;

	is_u64(mm->mmap_base, BASE0, "mmap_base 0x7ffff7fff000 (gdb's familiar addresses)");
	is_u64(mm->mmap_legacy_base, 0x2aaaaaaab000, "legacy base PAGE_ALIGN(TASK_SIZE / 3)");
	is_u64(mm->task_size, WINDOW, "TASK_SIZE 0x7ffffffff000");
	is_u64(vm_vma_last(mm)->vm_end, WINDOW, "stack ends at STACK_TOP");
	is_u64(mm->start_brk, 0x555555559000, "heap at the end of the empty PIE at ELF_ET_DYN_BASE");
	kfx_free(f);

	f = kfx_new_with(w5);
	is_u64(f->p->mm->task_size, (UINT64_C(1) << 56) - PG, "LA57: TASK_SIZE 2^56 - 4096");
	is_u64(f->p->mm->mmap_base, BASE0, "LA57: same mmap_base (DEFAULT_MAP_WINDOW)");
	is_u64(vm_vma_last(f->p->mm)->vm_end, WINDOW, "LA57: same stack top");
	kfx_free(f);

	const char *const big[] = { "stack_limit=1G", NULL };
	f = kfx_new_with(big);
	is_u64(f->p->mm->mmap_base, 0x7fffbfeff000, "stack_limit 1G: mmap_base 1 GiB + 1 MiB below the top");
	kfx_free(f);
}

static void test_fallback(void)
{
	struct kfx *f = kfx_new();

	is_i64(MMAP(f, 0x10000, BASE0 - PG - 0x10000, VM_PROT_NONE,
		    PRIV_ANON | VM_MAP_FIXED | VM_MAP_NORESERVE, -1, 0), 0x10000,
	       "everything below mmap_base but its last page taken");
	is_i64(MMAP(f, 0, 2 * PG, RW, PRIV_ANON, -1, 0), BASE0 - PG,
	       "top-down fails, bottom-up from the legacy base finds the gap across mmap_base");
	kfx_free(f);
}

struct spread {
	uint64_t any, all, max;
};

static void spread_add(struct spread *s, uint64_t v)
{
	s->any |= v;
	s->all &= v;
	if (v > s->max)
		s->max = v;
}

static void test_entropy(const char *aslr, unsigned rnd_bits)
{
	char bits[32];
	sprintf(bits, "mmap_rnd_bits=%u", rnd_bits);
	const char *const w[] = { aslr, bits, NULL };
	struct kfx *f = kfx_new_with(w);
	struct spread base = { 0, ~0ull, 0 }, stack = { 0, ~0ull, 0 }, pie = { 0, ~0ull, 0 };
	struct spread heap = { 0, ~0ull, 0 };
	uint64_t mask = ((UINT64_C(1) << rnd_bits) - 1) << 12;
	unsigned bad = 0, named = 0;
	bool two = !strcmp(aslr, "aslr=2");

	for (unsigned i = 0; i < DRAWS; i++) {
		struct vm_proc *p;
		if (vm_proc_create(f->k, "draw", &p)) {
			bad++;
			break;
		}
		struct vm_mm *mm = p->mm;
		struct vm_vma *st = vm_vma_last(mm);
		spread_add(&base, BASE1 - mm->mmap_base);
		bad += mm->mmap_legacy_base - 0x2aaaaaaab000 != BASE1 - mm->mmap_base;
		spread_add(&stack, WINDOW - st->vm_end);
		named += st->vm_start <= mm->start_stack && mm->start_stack < st->vm_end;
		spread_add(&pie, mm->start_code - PG - PIE);
		spread_add(&heap, mm->start_brk - (two ? mm->end_data + PG : mm->end_data));
		vm_sys_exit(f->k, p, 0);
		vm_proc_reap(f->k, p);
	}
	is_u64(bad, 0, "%s: legacy base moves with the same draw", aslr);
	is_u64(base.any, mask, "%s: mmap base varies in exactly %u page bits", aslr, rnd_bits);
	is_u64(base.all, 0, "%s: every one of them also seen clear", aslr);
	is_u64(pie.any, mask, "%s: PIE base varies in the same %u bits (its own draw)", aslr, rnd_bits);
	is_u64(stack.any & 0x3fffff000, 0x3fffff000, "%s: stack top varies in 22 page bits", aslr);
	ok(stack.max <= 0x400000000 && !(stack.any & 0xfff), "%s: within 16 GiB, page aligned", aslr);
	is_u64(named, DRAWS, "%s: start_stack always inside the stack VMA", aslr);
	if (two)
		is_u64(heap.any, 0x3ffff000, "aslr=2: heap offset varies in 18 page bits (1 GiB)");
	else
		is_u64(heap.any, 0, "aslr=1: the heap is not randomised (right after bss)");
	is_u64(f->bad_checks, 0, "kernel consistent");
	kfx_free(f);
}

static void test_determinism(void)
{
	const char *const s1[] = { "aslr=2", "seed=42", NULL };
	const char *const s2[] = { "aslr=2", "seed=43", NULL };
	struct kfx *a = kfx_new_with(s1), *b = kfx_new_with(s1), *c = kfx_new_with(s2);
	char ma[4096];

	strcpy(ma, kfx_maps(a));
	MMAP(a, 0, PG, RW, PRIV_ANON, -1, 0);
	MMAP(b, 0, PG, RW, PRIV_ANON, -1, 0);
	MMAP(c, 0, PG, RW, PRIV_ANON, -1, 0);
	BRK(a, a->p->mm->start_brk + PG);
	BRK(b, b->p->mm->start_brk + PG);
	BRK(c, c->p->mm->start_brk + PG);
	strcpy(ma, kfx_maps(a));
	is_str(kfx_maps(b), ma, "same seed, same layout, byte for byte");
	ok(strcmp(kfx_maps(c), ma) != 0, "another seed, another layout");
	kfx_free(a);
	kfx_free(b);
	kfx_free(c);
}

int main(void)
{
	test_aslr0();
	test_fallback();
	test_entropy("aslr=1", 28);
	test_entropy("aslr=2", 28);
	test_entropy("aslr=2", 32);
	test_determinism();
	return done_testing();
}
