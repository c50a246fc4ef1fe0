/*
 * anon_vma and its chains, as Linux mm/rmap.c and mm/vma.c keep them
 * (__anon_vma_prepare, find_mergeable_anon_vma, reusable_anon_vma,
 * anon_vma_compatible, anon_vma_clone, anon_vma_fork, unlink_anon_vmas,
 * dup_anon_vma).  Contract and counting rules in anon_vma.h.
 *
 * Linux links a VMA to each anon_vma with an anon_vma_chain entry that sits
 * both on the VMA's list and in the anon_vma's interval tree (for the
 * reverse map).  The model keeps the VMA's side as an array, oldest
 * anon_vma first, and of the tree only its size (nr_vmas): nothing walks
 * the reverse map yet, and the size is what decides when an anon_vma dies.
 */
#include "kernel/anon_vma.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "base/host.h"
#include "kernel/mm_internal.h"

static struct vm_anon_vma *anon_vma_alloc(struct vm_kernel *k)
{
	struct vm_anon_vma *av = vm_host_calloc(k->host, 1, sizeof(*av));

	if (!av)
		return NULL;
	av->refcount = 1;
	av->root = av->parent = av;
	av->serial = ++k->anon_vma_serial;
	k->anon_vmas++;
	return av;
}

static void anon_vma_free(struct vm_kernel *k, struct vm_anon_vma *av)
{
	k->anon_vmas--;
	vm_host_free(k->host, av);
}

/* Linux put_anon_vma() / __put_anon_vma(): a non-root anon_vma holds a
 * reference on its root, dropped when it is freed. */
static void put_anon_vma(struct vm_kernel *k, struct vm_anon_vma *av)
{
	VM_ASSERT(av->refcount > 0);
	if (--av->refcount)
		return;
	struct vm_anon_vma *root = av->root;
	anon_vma_free(k, av);
	if (root != av)
		put_anon_vma(k, root);
}

bool vm_anon_vma_in_chain(const struct vm_vma *vma, const struct vm_anon_vma *av)
{
	for (uint32_t i = 0; i < vma->nr_chain; i++)
		if (vma->chain[i] == av)
			return true;
	return false;
}

/* Linux anon_vma_compatible(): a directly below b, the same file, flags
 * equal but for the access bits, pgoff continuing (mempolicies are not
 * modelled). */
static bool anon_vma_compatible(const struct vm_vma *a, const struct vm_vma *b)
{
	return a->vm_end == b->vm_start && a->vm_file == b->vm_file &&
	       !((a->vm_flags ^ b->vm_flags) & ~(VM_READ | VM_WRITE | VM_EXEC | VM_SOFTDIRTY)) &&
	       b->vm_pgoff == a->vm_pgoff + ((b->vm_start - a->vm_start) >> VM_PAGE_SHIFT);
}

/* Linux reusable_anon_vma(): old's anon_vma, if a and b fit together and
 * no fork shares it with another process (list_is_singular: old's chain
 * holds only its own). */
static struct vm_anon_vma *reusable_anon_vma(const struct vm_vma *old, const struct vm_vma *a,
					     const struct vm_vma *b)
{
	if (anon_vma_compatible(a, b) && old->anon && old->nr_chain == 1)
		return old->anon;
	return NULL;
}

/* Linux find_mergeable_anon_vma(): try the next VMA first, then the
 * previous.  Sharing an anon_vma is what lets mprotect merge the two VMAs
 * again later. */
static struct vm_anon_vma *find_mergeable_anon_vma(const struct vm_vma *vma)
{
	const struct vm_vma *next = vm_vma_next(vma), *prev = vm_vma_prev(vma);
	struct vm_anon_vma *av = NULL;

	if (next && next->vm_start == vma->vm_end)
		av = reusable_anon_vma(next, vma, next);
	if (!av && prev)
		av = reusable_anon_vma(prev, prev, vma);
	return av;
}

int vm_anon_vma_prepare(struct vm_kernel *k, struct vm_vma *vma)
{
	if (vma->anon)
		return 0;
	struct vm_anon_vma **chain = vm_host_calloc(k->host, 1, sizeof(*chain));
	if (!chain)
		return -ENOMEM;
	struct vm_anon_vma *av = find_mergeable_anon_vma(vma);
	if (!av) {
		av = anon_vma_alloc(k);
		if (!av) {
			vm_host_free(k->host, chain);
			return -ENOMEM;
		}
		av->num_children++;               /* self-parent link of a new root */
	}
	chain[0] = av;
	vma->chain = chain;
	vma->nr_chain = 1;
	vma->anon = av;
	av->nr_vmas++;
	av->num_active_vmas++;
	return 0;
}

/* Link dst to every anon_vma of src's chain, in chain (n entries, room
 * for more is the caller's). */
static void clone_into(struct vm_vma *dst, const struct vm_vma *src, struct vm_anon_vma **chain)
{
	/* Oldest first, as Linux walks the source list in reverse. */
	for (uint32_t i = 0; i < src->nr_chain; i++) {
		struct vm_anon_vma *av = src->chain[i];
		chain[i] = av;
		av->nr_vmas++;
		/* Reuse an anon_vma with no VMA of its own and at most one
		 * child: its process is gone, and a new one would only grow
		 * the tree.  A root is never reused (it counts itself as a
		 * child, and has one more while anything is forked from it). */
		if (!dst->anon && src->anon && av->num_children < 2 && av->num_active_vmas == 0)
			dst->anon = av;
	}
	dst->chain = chain;
	dst->nr_chain = src->nr_chain;
	if (dst->anon)
		dst->anon->num_active_vmas++;
}

int vm_anon_vma_clone(struct vm_kernel *k, struct vm_vma *dst, const struct vm_vma *src)
{
	VM_ASSERT(dst->nr_chain == 0);
	dst->chain = NULL;
	if (!src->nr_chain)
		return 0;
	struct vm_anon_vma **chain = vm_host_calloc(k->host, src->nr_chain, sizeof(*chain));
	if (!chain)
		return -ENOMEM;
	clone_into(dst, src, chain);
	return 0;
}

int vm_anon_vma_fork(struct vm_kernel *k, struct vm_vma *vma, const struct vm_vma *pvma)
{
	vma->anon = NULL;
	vma->chain = NULL;
	vma->nr_chain = 0;
	if (!pvma->anon)
		return 0;
	struct vm_anon_vma **chain = vm_host_calloc(k->host, pvma->nr_chain + 1, sizeof(*chain));
	if (!chain)
		return -ENOMEM;
	/* First link to every anon_vma of the parent, so that the pages the
	 * child still shares are found from its VMA. */
	clone_into(vma, pvma, chain);
	if (vma->anon)
		return 0;                         /* an existing anon_vma was reused */
	/* Then an anon_vma of its own, where the pages it copies on write go. */
	struct vm_anon_vma *own = anon_vma_alloc(k);
	if (!own) {
		vm_unlink_anon_vmas(k, vma);
		return -ENOMEM;
	}
	own->root = pvma->anon->root;
	own->parent = pvma->anon;
	own->root->refcount++;                    /* get_anon_vma(root) */
	own->parent->num_children++;
	own->num_active_vmas++;
	own->nr_vmas++;
	chain[vma->nr_chain++] = own;
	vma->anon = own;
	return 0;
}

int vm_dup_anon_vma(struct vm_kernel *k, struct vm_vma *dst, const struct vm_vma *src)
{
	if (!src->anon || dst->anon)
		return 0;
	dst->anon = src->anon;
	int err = vm_anon_vma_clone(k, dst, src);
	if (err)
		dst->anon = NULL;
	return err;
}

void vm_unlink_anon_vmas(struct vm_kernel *k, struct vm_vma *vma)
{
	uint32_t n = vma->nr_chain;

	/* Newest first, as Linux walks the VMA's list.  An anon_vma no VMA
	 * links any more leaves its parent's children (the parent is in the
	 * chain too, and outlives it: every VMA linking a child links the
	 * parent). */
	for (uint32_t i = n; i-- > 0;) {
		struct vm_anon_vma *av = vma->chain[i];
		if (--av->nr_vmas == 0)
			av->parent->num_children--;
	}
	if (vma->anon)
		vma->anon->num_active_vmas--;
	/* Then the references of the empty ones.  None is freed before the
	 * loop reaches it: an empty anon_vma still holds its own reference. */
	for (uint32_t i = n; i-- > 0;)
		if (vma->chain[i]->nr_vmas == 0)
			put_anon_vma(k, vma->chain[i]);
	vm_host_free(k->host, vma->chain);
	vma->chain = NULL;
	vma->nr_chain = 0;
	vma->anon = NULL;
}
