/*
 * Changing the VMA set of an address space as Linux's mm/vma.c does:
 * splitting (__split_vma), merging a new range into its neighbours
 * (vma_merge_new_range), changing part of a VMA with a merge or a split
 * (vma_modify / vma_merge_existing_range), and the munmap core
 * (do_vmi_align_munmap).  Merges follow REFERENCE.md 2.7: equal flags but
 * VM_SOFTDIRTY (VM_SYNC among them: MAP_SYNC keeps VMAs apart), the same
 * file (a shmem object is a file), contiguous page offsets,
 * compatible anon_vmas (anon_vma.c), never VM_SPECIAL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/host.h"
#include "kernel/anon_vma.h"
#include "kernel/fault.h"
#include "kernel/mm_internal.h"
#include "kernel/rmap.h"
#include "kernel/vfs.h"

bool vm_kernel_nxe(const struct vm_kernel *k)
{
	return k->ncpus == 0 || (k->cpus[0].efer & VM_EFER_NXE);
}

struct vm_vma *vm_vma_new(struct vm_kernel *k)
{
	return vm_host_calloc(k->host, 1, sizeof(struct vm_vma));
}

/* Linux: vm_area_dup() + anon_vma_clone(). */
struct vm_vma *vm_vma_dup(struct vm_kernel *k, const struct vm_vma *src)
{
	struct vm_vma *v = vm_vma_new(k);

	if (!v)
		return NULL;
	*v = *src;
	memset(&v->node, 0, sizeof(v->node));
	v->chain = NULL;
	v->nr_chain = 0;
	if (vm_anon_vma_clone(k, v, src)) {
		vm_host_free(k->host, v);
		return NULL;
	}
	if (v->vm_file)
		vm_file_get(v->vm_file);
	return v;
}

/* Linux: remove_vma() (with unlink_anon_vmas, which free_pgtables and
 * the merge path run). */
void vm_vma_free(struct vm_kernel *k, struct vm_vma *vma)
{
	vm_unlink_anon_vmas(k, vma);
	if (vma->vm_file)
		vm_file_put(k, vma->vm_file);
	vm_host_free(k->host, vma);
}

/* Linux: vm_stat_account() with is_exec/stack/data_mapping(). */
void vm_stat_account(struct vm_mm *mm, uint64_t flags, int64_t npages)
{
	mm->total_vm += (uint64_t)npages;
	if ((flags & (VM_EXEC | VM_WRITE | VM_GROWSDOWN)) == VM_EXEC)
		mm->exec_vm += (uint64_t)npages;
	else if (flags & VM_GROWSDOWN)
		mm->stack_vm += (uint64_t)npages;
	else if ((flags & (VM_WRITE | VM_SHARED | VM_GROWSDOWN)) == VM_WRITE)
		mm->data_vm += (uint64_t)npages;
	if (flags & VM_LOCKED)
		mm->locked_vm += (uint64_t)npages;
	if (mm->total_vm > mm->hiwater_vm)
		mm->hiwater_vm = mm->total_vm;
}

/* Linux: __split_vma() -> vma_adjust_trans_huge(): a THP straddling addr
 * becomes 4 KiB pages so that each VMA maps its own part. */
static int split_leaf_at(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr)
{
	struct vm_pt_leaf leaf;
	struct vm_pt *pt = &vma->mm->pt;

	if (pt->ops->lookup(pt, addr, &leaf) || leaf.va == addr)
		return 0;
	if (leaf.size == VM_PSIZE_2M)
		return vm_split_huge_pmd(k, vma, addr);
	return leaf.size == VM_PSIZE_4K ? 0 : pt->ops->split(pt, addr);
}

/* Linux: __split_vma(). */
int __vm_split_vma(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr, bool new_below)
{
	struct vm_mm *mm = vma->mm;
	struct vm_vma *new;

	if (vm_vma_tree_prealloc(mm))       /* Linux: vma_iter_prealloc() */
		return -ENOMEM;
	new = vm_vma_dup(k, vma);
	if (!new)
		return -ENOMEM;
	if (split_leaf_at(k, vma, addr)) {
		vm_vma_free(k, new);
		return -ENOMEM;
	}
	if (new_below) {
		new->vm_end = addr;
		vma->vm_pgoff += (addr - vma->vm_start) >> VM_PAGE_SHIFT;
		vma->vm_start = addr;
	} else {
		new->vm_start = addr;
		new->vm_pgoff += (addr - vma->vm_start) >> VM_PAGE_SHIFT;
		vma->vm_end = addr;
	}
	vm_vma_update_gaps(mm, vma);
	vm_vma_link_after(mm, new, new_below ? vm_vma_prev(vma) : vma);
	return 0;
}

/* Linux: split_vma(). */
int vm_split_vma(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr, bool new_below)
{
	if (vma->mm->map_count >= k->cfg.max_map_count)
		return -ENOMEM;
	return __vm_split_vma(k, vma, addr, new_below);
}

/* Drop a VMA whose range a neighbour has taken over (vma_complete's
 * remove path): its pages stay mapped, now under the neighbour, which a
 * dup_anon_vma before has linked to the same anon_vmas. */
static void remove_merged(struct vm_kernel *k, struct vm_vma *gone)
{
	vm_vma_unlink(gone->mm, gone);
	vm_vma_free(k, gone);
}

/* Linux: is_mergeable_vma(). */
static bool mergeable(const struct vm_vma *vma, const struct vm_merge *m)
{
	return !((vma->vm_flags ^ m->flags) & ~VM_SOFTDIRTY) && vma->vm_file == m->file;
}

/* Linux: is_mergeable_anon_vma() — may the range (whose anon_vma is
 * m->anon) join tgt?  Where only one side has an anon_vma, the merged VMA
 * takes it, which Linux refuses for a VMA that shares its parent's pages
 * after fork (the anon_vma root lock would cover more); where both have
 * one, it must be the same. */
static bool anon_mergeable(const struct vm_merge *m, const struct vm_vma *tgt)
{
	if (!tgt->anon && m->anon)
		return !vm_vma_is_fork_child(m->middle) && !vm_vma_is_fork_child(m->copied_from);
	if (tgt->anon && !m->anon)
		return !vm_vma_is_fork_child(tgt);
	return tgt->anon == m->anon;
}

/* Linux: can_vma_merge_before() / can_vma_merge_left() and
 * can_vma_merge_after() / can_vma_merge_right(): with both, prev's and
 * next's anon_vmas must agree with each other too. */
static bool can_merge_prev(const struct vm_merge *m)
{
	const struct vm_vma *p = m->prev;
	return p && p->vm_end == m->start && mergeable(p, m) && anon_mergeable(m, p) &&
	       p->vm_pgoff + vma_pages(p) == m->pgoff;
}

static bool can_merge_next(const struct vm_merge *m, bool left)
{
	const struct vm_vma *n = m->next, *p = m->prev;
	if (!n || m->end != n->vm_start || !mergeable(n, m) || !anon_mergeable(m, n) ||
	    n->vm_pgoff != m->pgoff + ((m->end - m->start) >> VM_PAGE_SHIFT))
		return false;
	return !left || !p->anon || !n->anon || p->anon == n->anon;
}

/* Grow keep over [start, end) in place (vma_expand). */
static void set_range(struct vm_vma *vma, vm_vaddr start, vm_vaddr end, uint64_t pgoff)
{
	vma->vm_start = start;
	vma->vm_end = end;
	vma->vm_pgoff = pgoff;
	vm_vma_update_gaps(vma->mm, vma);
}

/* Linux: vma_merge_new_range() -> vma_expand().  The VMA that grows
 * takes the anon_vma of what it absorbs: next's when both sides merge,
 * and the moved VMA's for mremap (dup_anon_vma); a failure to link
 * (host memory) means no merge. */
struct vm_vma *vm_merge_new_range(struct vm_kernel *k, struct vm_merge *m)
{
	struct vm_vma *prev = m->prev, *next = m->next, *target;
	bool left, right;

	if (m->flags & VM_SPECIAL)
		return NULL;
	left = can_merge_prev(m);
	right = !m->just_expand && can_merge_next(m, left);
	if (!left && !right)
		return NULL;
	target = left ? prev : next;
	if (left && right && vm_dup_anon_vma(k, prev, next))
		return NULL;
	if (m->copied_from && vm_dup_anon_vma(k, target, m->copied_from))
		return NULL;
	if (left && right) {
		vm_vaddr end = next->vm_end;
		remove_merged(k, next);
		set_range(prev, prev->vm_start, end, prev->vm_pgoff);
	} else if (left) {
		set_range(prev, prev->vm_start, m->end, prev->vm_pgoff);
	} else {
		set_range(next, m->start, next->vm_end, m->pgoff);
	}
	return target;
}

/* Linux: vma_merge_existing_range(), its anon_vma duplicated into the
 * VMA that grows first (dup_anon_vma: prev takes next's or middle's,
 * next takes middle's).  NULL: no merge (*err -ENOMEM if the links could
 * not be made). */
static struct vm_vma *merge_existing(struct vm_kernel *k, struct vm_merge *m, long *err)
{
	struct vm_vma *prev = m->prev, *mid = m->middle, *next = m->next;
	bool left_side = m->start == mid->vm_start, right_side = m->end == mid->vm_end;
	bool merge_left, merge_right;

	if ((m->flags & VM_SPECIAL) || (!left_side && !right_side))
		return NULL;
	merge_left = left_side && can_merge_prev(m);
	merge_right = right_side && can_merge_next(m, merge_left);
	if (!merge_left && !merge_right)
		return NULL;

	if (merge_left && merge_right)
		*err = vm_dup_anon_vma(k, prev, next->anon ? next : mid);
	else if (merge_left)
		*err = vm_dup_anon_vma(k, prev, mid);
	else
		*err = vm_dup_anon_vma(k, next, mid);
	if (*err)
		return NULL;

	if (merge_left && merge_right) {
		vm_vaddr end = next->vm_end;
		remove_merged(k, mid);
		remove_merged(k, next);
		set_range(prev, prev->vm_start, end, prev->vm_pgoff);
		return prev;
	}
	if (merge_left) {
		if (right_side) {
			remove_merged(k, mid);
		} else {
			mid->vm_pgoff += (m->end - mid->vm_start) >> VM_PAGE_SHIFT;
			mid->vm_start = m->end;
			vm_vma_update_gaps(mid->mm, mid);
		}
		set_range(prev, prev->vm_start, m->end, prev->vm_pgoff);
		return prev;
	}
	if (left_side) {
		remove_merged(k, mid);
	} else {
		mid->vm_end = m->start;
		vm_vma_update_gaps(mid->mm, mid);
	}
	set_range(next, m->start, next->vm_end, m->pgoff);
	return next;
}

struct vm_vma *vm_vma_modify(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr start,
			     vm_vaddr end, uint64_t flags, long *err)
{
	struct vm_merge m = {
		.mm = vma->mm, .prev = vm_vma_prev(vma), .middle = vma, .next = vm_vma_next(vma),
		.start = start, .end = end, .flags = flags, .file = vma->vm_file,
		.anon = vma->anon,
		.pgoff = vma->vm_pgoff + ((start - vma->vm_start) >> VM_PAGE_SHIFT),
	};
	struct vm_vma *merged;
	int rc;

	*err = 0;
	merged = merge_existing(k, &m, err);
	if (merged || *err)
		return merged;
	if (vma->vm_start < start) {
		rc = vm_split_vma(k, vma, start, true);
		if (rc) {
			*err = rc;
			return NULL;
		}
	}
	if (vma->vm_end > end) {
		rc = vm_split_vma(k, vma, end, false);
		if (rc) {
			*err = rc;
			return NULL;
		}
	}
	return vma;
}

/* Linux: do_vmi_align_munmap() (vms_gather_munmap_vmas, unmap_region,
 * vms_complete_munmap_vmas). */
int vm_do_munmap(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr start, vm_vaddr end)
{
	struct vm_vma *vma = vm_find_vma(mm, start), *next;
	int err;

	if (!vma || vma->vm_start >= end)
		return 0;
	if (start > vma->vm_start) {
		/* munmap may leave map_count one above the limit only when it
		 * does not add a VMA. */
		if (end < vma->vm_end && mm->map_count >= k->cfg.max_map_count)
			return -ENOMEM;
		err = __vm_split_vma(k, vma, start, true);
		if (err)
			return err;
	}
	for (struct vm_vma *v = vma; v && v->vm_start < end; v = vm_vma_next(v)) {
		if (v->vm_end > end) {
			err = __vm_split_vma(k, v, end, false);
			if (err)
				return err;
		}
	}
	for (struct vm_vma *v = vma; v && v->vm_start < end; v = next) {
		next = vm_vma_next(v);
		vm_zap_range(k, v, v->vm_start, v->vm_end);
		vm_stat_account(mm, v->vm_flags, -(int64_t)vma_pages(v));
		vm_vma_unlink(mm, v);
		vm_vma_free(k, v);
	}
	return 0;
}

void vm_debug_check(struct vm_kernel *k, const char *where)
{
	char msg[256];
	/* The checker is no part of the model: the failures a test injects
	 * into host allocations are not for it. */
	uint64_t fail_at = k->host->fail_at;
	k->host->fail_at = 0;
	int rc = vm_kernel_check(k, msg, sizeof(msg));
	k->host->fail_at = fail_at;
	if (rc) {
		fprintf(stderr, "vmlab: invariant broken after %s: %s\n", where, msg);
		abort();
	}
}
