/*
 * Anonymous-memory identity (Linux mm/rmap.c: struct anon_vma and the
 * anon_vma_chain).  Every private VMA that ever held an anonymous page has
 * an anon_vma, the object its new anonymous pages belong to
 * (folio->mapping); a VMA's chain lists every anon_vma whose pages it may
 * map: its own and, after fork, those of its ancestors, whose pages it
 * shares copy-on-write.  What makes it matter for behaviour: two VMAs merge
 * only when their anon_vmas agree (is_mergeable_anon_vma), and which
 * anon_vma a faulting VMA gets decides later merges
 * (find_mergeable_anon_vma).
 *
 * Counting rules (each checked by vm_kernel_check):
 *   nr_vmas          VMAs whose chain holds the anon_vma (Linux: the size of
 *                    its interval tree); > 0 for every live anon_vma
 *   num_active_vmas  VMAs whose vma->anon is it
 *   num_children     live anon_vmas whose parent it is (a root counts itself:
 *                    its parent is itself)
 *   refcount         1 while nr_vmas > 0, plus 1 for each live non-root
 *                    anon_vma whose root it is (get_anon_vma(root) in fork)
 * A chain is ordered oldest first: chain[0] is the root of the fork tree,
 * and every anon_vma's parent and root are in the chain too.
 */
#ifndef VM_KERNEL_ANON_VMA_H
#define VM_KERNEL_ANON_VMA_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/kernel.h"

struct vm_anon_vma {
	struct vm_anon_vma *root;     /* first anon_vma of the fork tree; itself for a root */
	struct vm_anon_vma *parent;   /* the anon_vma it was forked from; itself for a root */
	uint32_t refcount;            /* see above; freed at 0 */
	uint32_t num_children;
	uint32_t num_active_vmas;
	uint32_t nr_vmas;
	uint64_t serial;              /* 1, 2, ... in order of creation on the machine (show) */
};

/* Linux vma_is_fork_child(): the VMA maps pages of an ancestor's anon_vma
 * (its chain holds more than its own), so merging it is refused where
 * Linux refuses it (is_mergeable_anon_vma). */
static inline bool vm_vma_is_fork_child(const struct vm_vma *vma)
{
	return vma && vma->anon && vma->nr_chain != 1;
}

/* Linux __anon_vma_prepare(): give vma (private, without one) an anon_vma
 * before its first anonymous page: an adjacent, compatible neighbour's that
 * no fork shares (find_mergeable_anon_vma: the next VMA first, then the
 * previous), else a new root.  Nothing for a VMA that has one.  0, -ENOMEM. */
int vm_anon_vma_prepare(struct vm_kernel *k, struct vm_vma *vma);

/* Linux anon_vma_clone(): link dst (whose chain is empty) to every
 * anon_vma of src's chain.  dst->anon is kept when set (split, mremap's
 * copy, a merge); when NULL (fork), the oldest anon_vma of the chain that
 * no VMA uses and that has fewer than two children becomes dst's own
 * (Linux's reuse of an anon_vma whose process exited).  0, -ENOMEM
 * (dst unchanged). */
int vm_anon_vma_clone(struct vm_kernel *k, struct vm_vma *dst, const struct vm_vma *src);

/* Linux anon_vma_fork(): the child's copy vma of the parent's pvma gets
 * the parent's chain (anon_vma_clone) and, unless it reused one, a new
 * anon_vma of its own whose parent is pvma's, so that the pages it
 * copies on write are its own while the parent's stay shared.  Nothing
 * when pvma has no anon_vma.  0, -ENOMEM (vma's chain left empty). */
int vm_anon_vma_fork(struct vm_kernel *k, struct vm_vma *vma, const struct vm_vma *pvma);

/* Linux dup_anon_vma(): a merge makes dst cover src's pages: if src has
 * an anon_vma and dst none, dst takes src's anon_vma and chain.  0, -ENOMEM. */
int vm_dup_anon_vma(struct vm_kernel *k, struct vm_vma *dst, const struct vm_vma *src);

/* Linux unlink_anon_vmas(): vma goes away (or gives up its chain): drop
 * its links; an anon_vma no VMA links any more leaves its parent's
 * children and is put (freed with its last reference, putting its root). */
void vm_unlink_anon_vmas(struct vm_kernel *k, struct vm_vma *vma);

/* Is av in vma's chain (may vma map a page of av)? */
bool vm_anon_vma_in_chain(const struct vm_vma *vma, const struct vm_anon_vma *av);

#endif
