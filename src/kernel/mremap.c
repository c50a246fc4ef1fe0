/*
 * mremap (Linux 6.18 mm/mremap.c: check_mremap_params, check_prep_vma,
 * mremap_at / mremap_to, expand_vma_in_place, move_vma with copy_vma and
 * move_page_tables, unmap_source_vma, dontunmap_complete, and remap_move for
 * MREMAP_FIXED moves of equal length across several VMAs).
 *
 * A move moves the page-table entries, so the pages keep their frames (and
 * their contents): each leaf is mapped at the new address with the same
 * frame and flags, then removed from the old one; a THP cut by the range or
 * not congruent at the destination is split first, a whole one moves as a
 * 2 MiB leaf (move_huge_pmd).
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/fault.h"
#include "kernel/mm_internal.h"
#include "kernel/rmap.h"
#include "kernel/swap.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"

enum remap_type { REMAP_NO_RESIZE, REMAP_SHRINK, REMAP_EXPAND };

/* Linux: struct vma_remap_struct. */
struct remap {
	struct vm_kernel *k;
	struct vm_proc *p;
	struct vm_mm *mm;
	struct vm_vma *vma;
	vm_vaddr addr, new_addr;
	uint64_t old_len, new_len, delta;
	int flags;
	enum remap_type type;
	bool populate_expand;
};

static bool implies_new_addr(const struct remap *r)
{
	return r->flags & (VM_MREMAP_FIXED | VM_MREMAP_DONTUNMAP);
}

static void set_delta(struct remap *r)
{
	r->delta = r->old_len > r->new_len ? r->old_len - r->new_len : r->new_len - r->old_len;
	r->type = !r->delta ? REMAP_NO_RESIZE
		: r->old_len > r->new_len ? REMAP_SHRINK : REMAP_EXPAND;
}

/* Linux: check_mremap_params(). */
static long check_params(struct remap *r)
{
	vm_vaddr task_size = r->mm->task_size;

	if (r->flags & ~(VM_MREMAP_FIXED | VM_MREMAP_MAYMOVE | VM_MREMAP_DONTUNMAP))
		return -EINVAL;
	if (r->addr & (VM_PAGE_SIZE - 1))
		return -EINVAL;
	if (!r->new_len || r->new_len > task_size)
		return -EINVAL;
	if (!implies_new_addr(r))
		return 0;
	if (r->new_addr > task_size - r->new_len || (r->new_addr & (VM_PAGE_SIZE - 1)))
		return -EINVAL;
	if (!(r->flags & VM_MREMAP_MAYMOVE))
		return -EINVAL;
	if ((r->flags & VM_MREMAP_DONTUNMAP) && r->old_len != r->new_len)
		return -EINVAL;
	if (r->addr + r->old_len > r->new_addr && r->new_addr + r->new_len > r->addr)
		return -EINVAL;                  /* vrm_overlaps() */
	/* Moving may split one VMA into three at each end. */
	if (r->mm->map_count + 2 >= r->k->cfg.max_map_count - 3)
		return -ENOMEM;
	return 0;
}

/* Linux: check_prep_vma(). */
static long check_prep_vma(struct remap *r)
{
	struct vm_vma *vma = r->vma;
	uint64_t old_len, pgoff;

	if (!vma)
		return -EFAULT;
	set_delta(r);
	if (!implies_new_addr(r))
		r->new_addr = r->addr;
	if (r->type != REMAP_EXPAND && !implies_new_addr(r))
		return 0;
	if (!r->old_len && !(vma->vm_flags & (VM_SHARED | VM_MAYSHARE)))
		return -EINVAL;                  /* duplicating a private mapping */
	old_len = r->type == REMAP_SHRINK ? r->new_len : r->old_len;
	if (old_len > vma->vm_end - r->addr)
		return -EFAULT;
	if (r->new_len == old_len)
		return 0;
	if (vma->vm_flags & VM_LOCKED)
		r->populate_expand = true;
	pgoff = vma->vm_pgoff + ((r->addr - vma->vm_start) >> VM_PAGE_SHIFT);
	if (pgoff + (r->new_len >> VM_PAGE_SHIFT) < pgoff)
		return -EINVAL;
	if ((vma->vm_flags & VM_LOCKED) &&
	    ((r->mm->locked_vm << VM_PAGE_SHIFT) + r->delta) > VM_MLOCK_LIMIT)
		return -EAGAIN;
	return 0;
}

/* Move one leaf: map it at dst, then drop it at its old place (the
 * counts, RSS and the frame stay).  A swap entry moves as it is (Linux
 * move_ptes() moves every PTE, present or not). */
static int move_leaf(struct vm_mm *mm, const struct vm_pt_leaf *leaf, vm_vaddr dst)
{
	struct vm_pt *pt = &mm->pt;

	if (!pte_present(leaf->pte))
		return vm_swap_move_entry(mm, leaf->va, dst);
	uint64_t size = UINT64_C(1) << vm_psize_shift(leaf->size);
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;
	int err = pt->ops->map(pt, dst, pfn, leaf->size,
			       leaf->pte.v & (VM_PTE_PROT_MASK | VM_PTE_A | VM_PTE_D));

	if (err)
		return err;
	return pt->ops->unmap(pt, leaf->va, leaf->va + size, NULL, NULL);
}

#define MOVE_BATCH 64

struct batch {
	struct vm_pt_leaf leaf[MOVE_BATCH];
	unsigned n;
};

static int collect(void *arg, const struct vm_pt_leaf *leaf)
{
	struct batch *b = arg;

	b->leaf[b->n++] = *leaf;
	return b->n == MOVE_BATCH;
}

/* A THP that the move cannot carry whole becomes 4 KiB pages first. */
static int split_thps(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr old, vm_vaddr new,
		      uint64_t len)
{
	struct vm_pt *pt = &vma->mm->pt;
	struct vm_pt_leaf leaf;

	for (vm_vaddr va = VM_ALIGN_DOWN(old, VM_PMD_SIZE); va < old + len; va += VM_PMD_SIZE) {
		if (pt->ops->lookup(pt, va < old ? old : va, &leaf) || leaf.size != VM_PSIZE_2M)
			continue;
		bool whole = leaf.va >= old && leaf.va + VM_PMD_SIZE <= old + len &&
			     VM_IS_ALIGNED(new + (leaf.va - old), VM_PMD_SIZE);
		if (!whole) {
			int err = vm_split_huge_pmd(k, vma, leaf.va);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Linux: move_page_tables() for [old, old + len) to new.  Returns the
 * bytes moved: all of len, or less when a table frame ran out. */
static uint64_t move_page_tables(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr old,
				 vm_vaddr new, uint64_t len)
{
	struct vm_pt *pt = &vma->mm->pt;
	struct batch b;
	bool any = false;
	vm_vaddr va = old;

	if (split_thps(k, vma, old, new, len))
		return 0;
	while (va < old + len) {
		b.n = 0;
		pt->ops->for_each_entry(pt, va, old + len, collect, &b);
		if (!b.n)
			break;
		for (unsigned i = 0; i < b.n; i++) {
			if (move_leaf(vma->mm, &b.leaf[i], new + (b.leaf[i].va - old))) {
				if (any)
					vm_flush_tlb_range(k, vma->mm, old, old + len, k->cur_cpu);
				return b.leaf[i].va - old;
			}
			any = true;
			va = b.leaf[i].va + (UINT64_C(1) << vm_psize_shift(b.leaf[i].size));
		}
	}
	if (any)
		vm_flush_tlb_range(k, vma->mm, old, old + len, k->cur_cpu);
	return len;
}

/* Linux: copy_vma() — the VMA for [new_addr, +new_len), merged with its
 * new neighbours when it can.  An anonymous VMA that never had a page
 * takes the pgoff of its new place (more chances to merge there). */
static struct vm_vma *copy_vma(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr,
			       uint64_t len, uint64_t pgoff)
{
	struct vm_mm *mm = vma->mm;
	struct vm_vma *prev, *next = vm_find_vma_prev(mm, addr, &prev), *new;

	if (vma_is_anonymous(vma) && !vm_vma_has_anon(vma))
		pgoff = addr >> VM_PAGE_SHIFT;
	struct vm_merge m = {
		.mm = mm, .prev = prev, .next = next, .start = addr, .end = addr + len,
		.flags = vma->vm_flags, .pgoff = pgoff, .file = vma->vm_file,
		.anon = vma->anon, .copied_from = vma,
	};
	new = vm_merge_new_range(k, &m);
	if (new)
		return new;
	if (vm_vma_tree_prealloc(mm))       /* Linux: vma_iter_prealloc() */
		return NULL;
	new = vm_vma_dup(k, vma);
	if (!new)
		return NULL;
	new->vm_start = addr;
	new->vm_end = addr + len;
	new->vm_pgoff = pgoff;
	vm_vma_link(mm, new);
	return new;
}

/* Linux: unmap_source_vma() — unmap the old range without uncharging it
 * (the move charged only the difference), VM_ACCOUNT kept on what stays. */
static void unmap_source(struct remap *r)
{
	struct vm_mm *mm = r->mm;
	struct vm_vma *vma = r->vma, *v;
	vm_vaddr end = r->addr + r->old_len, vm_start = vma->vm_start, vm_end = vma->vm_end;
	bool accountable = (vma->vm_flags & VM_ACCOUNT) && !(r->flags & VM_MREMAP_DONTUNMAP);

	/* A duplicate (old_len 0) leaves the source alone: do_vmi_munmap
	 * refuses the empty range. */
	if (!r->old_len)
		return;
	if (accountable)
		vma->vm_flags &= ~VM_ACCOUNT;
	if (vm_do_munmap(r->k, mm, r->addr, end)) {
		if (accountable)
			vma->vm_flags |= VM_ACCOUNT;
		return;
	}
	if (accountable && vm_start < r->addr && (v = vm_vma_lookup(mm, r->addr - 1)))
		v->vm_flags |= VM_ACCOUNT;
	if (accountable && vm_end > end && (v = vm_vma_lookup(mm, end)))
		v->vm_flags |= VM_ACCOUNT;
}

/* Linux: move_vma(). */
static long move_vma(struct remap *r)
{
	struct vm_kernel *k = r->k;
	struct vm_vma *vma = r->vma, *new_vma;
	uint64_t pgoff = vma->vm_pgoff + ((r->addr - vma->vm_start) >> VM_PAGE_SHIFT);
	uint64_t charged, moved, hiwater_vm;
	long err = 0;

	if (r->mm->map_count >= k->cfg.max_map_count - 3)
		return -ENOMEM;                  /* prep_move_vma() */
	charged = (r->flags & VM_MREMAP_DONTUNMAP ? r->new_len : r->delta) >> VM_PAGE_SHIFT;
	if ((vma->vm_flags & VM_ACCOUNT) && vm_enough_memory(k, charged))
		return -ENOMEM;
	new_vma = copy_vma(k, vma, r->new_addr, r->new_len, pgoff);
	if (!new_vma)
		return -ENOMEM;
	/* The copy may have merged into the source VMA itself. */
	r->vma = vma = vm_vma_lookup(r->mm, r->addr);
	moved = move_page_tables(k, vma, r->addr, r->new_addr, r->old_len);
	if (moved < r->old_len) {
		/* Move the entries back and unmap the new range instead. */
		move_page_tables(k, new_vma, r->new_addr, r->addr, moved);
		r->vma = new_vma;
		r->addr = r->new_addr;
		r->old_len = r->new_len;
		err = -ENOMEM;
	}
	hiwater_vm = r->mm->hiwater_vm;
	vm_stat_account(r->mm, r->vma->vm_flags, (int64_t)(r->new_len >> VM_PAGE_SHIFT));
	if (!err && (r->flags & VM_MREMAP_DONTUNMAP)) {
		/* dontunmap_complete(): the old VMA keeps its range but not its
		 * lock (the model also gives back its locked_vm). */
		if (vma->vm_flags & VM_LOCKED) {
			r->mm->locked_vm -= vma_pages(vma);
			vma->vm_flags &= ~VM_LOCKED;
		}
	} else {
		unmap_source(r);
	}
	r->mm->hiwater_vm = VM_MAX(hiwater_vm, r->mm->total_vm);
	return err ? err : (long)r->new_addr;
}

/* Linux: vrm_set_new_addr(). */
static long set_new_addr(struct remap *r)
{
	struct vm_vma *vma = r->vma;
	uint64_t pgoff = vma->vm_pgoff + ((r->addr - vma->vm_start) >> VM_PAGE_SHIFT);
	int map_flags = 0;
	long res;

	if (r->flags & VM_MREMAP_FIXED)
		map_flags |= VM_MAP_FIXED;
	if (vma->vm_flags & VM_MAYSHARE)
		map_flags |= VM_MAP_SHARED;
	res = vm_get_unmapped_area(r->k, r->mm, vma->vm_file,
				   implies_new_addr(r) ? r->new_addr : 0, r->new_len, pgoff, map_flags);
	if (vm_is_err(res))
		return res;
	r->new_addr = (vm_vaddr)res;
	return 0;
}

/* Linux: shrink_vma(): unmap the tail beyond new_len. */
static long shrink(struct remap *r)
{
	long err = vm_do_munmap(r->k, r->mm, r->addr + r->new_len, r->addr + r->old_len);

	if (err)
		return err;
	r->vma = vm_vma_lookup(r->mm, r->addr);
	return r->vma ? 0 : -EFAULT;
}

/* Linux: mremap_to(). */
static long mremap_to(struct remap *r)
{
	long err;

	if (r->flags & VM_MREMAP_FIXED) {
		err = vm_do_munmap(r->k, r->mm, r->new_addr, r->new_addr + r->new_len);
		if (err)
			return err;
		r->vma = vm_vma_lookup(r->mm, r->addr);
		if (!r->vma)
			return -EFAULT;
	}
	if (r->type == REMAP_SHRINK) {
		err = shrink(r);
		if (err)
			return err;
		r->old_len = r->new_len;
	}
	err = set_new_addr(r);
	return err ? err : move_vma(r);
}

/* Linux: vma_expandable() and vrm_can_expand_in_place(). */
static bool can_expand_in_place(const struct remap *r)
{
	const struct vm_vma *vma = r->vma, *next = vm_vma_next(vma);
	vm_vaddr end = vma->vm_end + r->delta;

	if (vma->vm_end - r->addr != r->old_len || end < vma->vm_end)
		return false;
	if (next && next->vm_start < end)
		return false;
	return end - vma->vm_start <= r->mm->task_size &&
	       vma->vm_start <= r->mm->task_size - (end - vma->vm_start);
}

/* Linux: expand_vma_in_place() -> vma_merge_extend(). */
static long expand_in_place(struct remap *r)
{
	struct vm_vma *vma = r->vma;

	if ((vma->vm_flags & VM_ACCOUNT) && vm_enough_memory(r->k, r->delta >> VM_PAGE_SHIFT))
		return -ENOMEM;
	struct vm_merge m = {
		.mm = r->mm, .prev = vma, .next = vm_vma_next(vma), .start = vma->vm_end,
		.end = vma->vm_end + r->delta, .flags = vma->vm_flags,
		.pgoff = vma->vm_pgoff + vma_pages(vma), .file = vma->vm_file, .anon = vma->anon,
	};
	uint64_t flags = vma->vm_flags;
	if (!vm_merge_new_range(r->k, &m))
		return -ENOMEM;
	vm_stat_account(r->mm, flags, (int64_t)(r->delta >> VM_PAGE_SHIFT));
	return 0;
}

/* Linux: mremap_at(). */
static long mremap_at(struct remap *r)
{
	long err;

	switch (r->type) {
	case REMAP_NO_RESIZE:
		return (long)r->addr;
	case REMAP_SHRINK:
		err = vm_do_munmap(r->k, r->mm, r->addr + r->new_len, r->addr + r->old_len);
		return err ? err : (long)r->addr;
	case REMAP_EXPAND:
		if (can_expand_in_place(r)) {
			err = expand_in_place(r);
			return err ? err : (long)r->addr;
		}
		if (!(r->flags & VM_MREMAP_MAYMOVE))
			return -ENOMEM;
		err = set_new_addr(r);
		return err ? err : move_vma(r);
	}
	return -EINVAL;
}

/* Linux: remap_move() — MREMAP_FIXED with equal lengths moves every VMA
 * of the range, keeping the gaps between them; no gap at the start. */
static long remap_move(struct remap *r)
{
	vm_vaddr start = r->addr, end = r->addr + r->old_len, target = r->new_addr, last_end = 0;
	struct vm_vma *vma = vm_find_vma(r->mm, start);
	bool seen = false;
	long res = -EFAULT;

	while (vma && vma->vm_start < end) {
		vm_vaddr a = VM_MAX(vma->vm_start, start);
		uint64_t len = VM_MIN(end, vma->vm_end) - a;
		uint64_t offset = seen ? vma->vm_start - last_end : 0;
		long one;

		if (!seen && start < vma->vm_start)
			return -EFAULT;
		last_end = vma->vm_end;
		r->vma = vma;
		r->addr = a;
		r->new_addr = target + offset;
		r->old_len = r->new_len = len;
		one = check_prep_vma(r);
		if (!one)
			one = mremap_to(r);
		if (one < 0)
			return one;
		if (!seen)
			res = one;
		seen = true;
		target = (vm_vaddr)one + len;
		vma = vm_find_vma(r->mm, VM_MIN(last_end, end));
	}
	return res;
}

/* Linux: do_mremap(). */
static long do_mremap(struct remap *r)
{
	long res;

	r->old_len = VM_ALIGN_UP(r->old_len, VM_PAGE_SIZE);
	r->new_len = VM_ALIGN_UP(r->new_len, VM_PAGE_SIZE);
	res = check_params(r);
	if (res)
		return res;
	if ((r->flags & VM_MREMAP_FIXED) && r->old_len == r->new_len) {
		res = remap_move(r);
	} else {
		r->vma = vm_vma_lookup(r->mm, r->addr);
		res = check_prep_vma(r);
		if (!res)
			res = implies_new_addr(r) ? mremap_to(r) : mremap_at(r);
	}
	if (res >= 0 && r->populate_expand && r->new_len > r->old_len)
		vm_populate(r->k, r->p, r->new_addr + r->old_len, r->new_addr + r->new_len, false);
	return res;
}

long vm_sys_mremap(struct vm_kernel *k, struct vm_proc *p, vm_vaddr old_addr, uint64_t old_len,
		   uint64_t new_len, int flags, vm_vaddr new_addr)
{
	int saved;
	long ret = vm_sys_enter(k, p, &saved);

	if (ret)
		return ret;
	struct remap r = {
		.k = k, .p = p, .mm = p->mm, .addr = old_addr, .old_len = old_len,
		.new_len = new_len, .flags = flags, .new_addr = new_addr,
	};
	ret = do_mremap(&r);
	return vm_sys_leave(k, saved, ret, "mremap");
}
