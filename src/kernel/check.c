/*
 * vm_kernel_check: the whole kernel cross-checked against itself (Linux
 * has pieces of this in validate_mm, check_mm and the page-table checker).
 *
 *   - each address space: its VMA tree (vm_vma_tree_check), its page
 *     tables (pt_ops check), and its accounting (total/data/exec/stack/
 *     locked pages recomputed from the VMAs);
 *   - page tables against VMAs: no present leaf outside a VMA, rights no
 *     wider than the VMA's (write only with VM_WRITE, and in a private
 *     mapping only on an anonymous page of its own; user access only for
 *     an accessible VMA; execute only with VM_EXEC);
 *   - frames: map and reference counts rebuilt from every page table and
 *     the page cache must equal the descriptors' (anonymous page: refcount =
 *     mapcount; page-cache page: 1 + mapcount), and every allocated frame
 *     must be held by something (zero page, tables, mappings, cache);
 *   - RSS counters against the present pages of each kind;
 *   - anon_vmas: each VMA's chain (its own anon_vma in it, ancestry
 *     closed, the root first), each anonymous page's anon_vma in the chain
 *     of every VMA mapping it (what the reverse map relies on), and every
 *     anon_vma's counts (links, active VMAs, children, references) rebuilt
 *     from the chains; no anon_vma outlives the VMAs linking it;
 *   - swap slots against the entries holding them (page tables and shmem
 *     objects' indexes), the LRU against the pages that belong there;
 *   - file references against the descriptors and VMAs holding them;
 *   - the buddy allocator's own invariants (free frames).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "base/u64map.h"
#include "kernel/anon_vma.h"
#include "kernel/mm_internal.h"
#include "kernel/reclaim.h"
#include "kernel/rmap.h"
#include "kernel/swap.h"
#include "kernel/vfs.h"

struct check {
	struct vm_kernel *k;
	struct vm_u64map counts;       /* pfn -> mapcount (low 32 bits) | extra refs << 32 */
	struct vm_u64map links;        /* anon_vma -> VMAs whose chain holds it */
	struct vm_u64map active;       /* anon_vma -> VMAs whose own anon_vma it is */
	struct vm_mm *mm;
	uint64_t rss[VM_RSS_COUNT];
	char *msg;
	size_t len;
	int err;
};

static int fail(struct check *c, const char *fmt, ...) VM_PRINTF(2, 3);
static int fail(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->msg, c->len, fmt, ap);
	va_end(ap);
	c->err = -EUCLEAN;
	return c->err;
}

/* Add a mapping (refs 1, maps 1) or a cache reference (refs 1, maps 0). */
static int count(struct check *c, uint64_t pfn, uint64_t maps, uint64_t refs)
{
	uint64_t v = 0;

	vm_u64map_get(&c->counts, pfn, &v);
	if (vm_u64map_put(&c->counts, pfn, v + maps + (refs << 32))) {
		snprintf(c->msg, c->len, "out of host memory for the check");
		return c->err = -ENOMEM;
	}
	return 0;
}

/* One present leaf of c->mm. */
static int check_leaf(void *arg, const struct vm_pt_leaf *leaf)
{
	struct check *c = arg;
	struct vm_kernel *k = c->k;
	uint64_t size = UINT64_C(1) << vm_psize_shift(leaf->size);
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;
	struct vm_vma *vma = vm_vma_lookup(c->mm, leaf->va);
	uint64_t f;

	if (!vma || leaf->va + size > vma->vm_end)
		return fail(c, "pid mm %u: page %#" PRIx64 " mapped outside any VMA", c->mm->pcid,
			    leaf->va);
	f = vma->vm_flags;
	if (pfn >= k->phys->nframes)
		return fail(c, "page %#" PRIx64 " maps frame %#" PRIx64 " beyond memory", leaf->va, pfn);
	struct vm_page *pg = &k->pages[pfn];
	bool zero = pfn == k->zero_pfn;
	if (pte_write(leaf->pte) && !(f & VM_WRITE))
		return fail(c, "page %#" PRIx64 " writable in a VMA without VM_WRITE", leaf->va);
	if (pte_write(leaf->pte) && !(f & VM_SHARED) && (zero || pg->owner_kind != VM_OWNER_ANON))
		return fail(c, "page %#" PRIx64 " of a private mapping writable on a %s page", leaf->va,
			    zero ? "zero" : "shared (page-cache)");
	if (pte_user(leaf->pte) && !(f & VM_ACCESS_FLAGS))
		return fail(c, "page %#" PRIx64 " user-accessible in a PROT_NONE VMA", leaf->va);
	if (vm_kernel_nxe(k) && pte_exec(leaf->pte) && pte_user(leaf->pte) && !(f & VM_EXEC))
		return fail(c, "page %#" PRIx64 " executable in a VMA without VM_EXEC", leaf->va);
	if (zero) {
		if (leaf->size != VM_PSIZE_4K || pte_write(leaf->pte))
			return fail(c, "the zero page mapped large or writable at %#" PRIx64, leaf->va);
		return 0;
	}
	if (vm_page_test(pg, VM_PG_BUDDY) || vm_page_test(pg, VM_PG_TAIL) ||
	    vm_page_test(pg, VM_PG_PGTABLE) || pg->refcount == 0)
		return fail(c, "page %#" PRIx64 " maps frame %#" PRIx64 " that is free, a tail or a "
			    "page table", leaf->va, pfn);
	/* Copy-on-write: a private page may be written through a PTE only
	 * while that PTE is its sole user (PageAnonExclusive). */
	if (pte_write(leaf->pte) && !(f & VM_SHARED) && pg->refcount != 1)
		return fail(c, "page %#" PRIx64 " writable in a private mapping but frame %#" PRIx64
			    " has refcount %u: copy-on-write broken", leaf->va, pfn, pg->refcount);
	if (vm_page_test(pg, VM_PG_ANON_EXCLUSIVE) && (pg->refcount != 1 || (f & VM_SHARED)))
		return fail(c, "page %#" PRIx64 ": frame %#" PRIx64 " marked exclusive but has "
			    "refcount %u", leaf->va, pfn, pg->refcount);
	c->rss[vm_rss_kind(vma, pg)] += size >> VM_PAGE_SHIFT;
	if (pg->owner_kind == VM_OWNER_ANON && !vm_anon_vma_in_chain(vma, pg->owner))
		return fail(c, "page %#" PRIx64 ": its anon_vma is not in the VMA's chain (the "
			    "reverse map would miss this mapping)", leaf->va);
	return count(c, pfn, 1, 1);
}

static const char *const rss_name[VM_RSS_COUNT] = { "file", "anon", "swap", "shmem" };

static int add_one(struct check *c, struct vm_u64map *m, const void *key)
{
	uint64_t v = 0;

	vm_u64map_get(m, (uint64_t)(uintptr_t)key, &v);
	if (vm_u64map_put(m, (uint64_t)(uintptr_t)key, v + 1)) {
		snprintf(c->msg, c->len, "out of host memory for the check");
		return c->err = -ENOMEM;
	}
	return 0;
}

/* One VMA's anon_vma and chain. */
static int check_chain(struct check *c, const struct vm_vma *v)
{
	if (!v->anon != !v->nr_chain)
		return fail(c, "VMA %#" PRIx64 ": anon_vma %s but %u chain links", v->vm_start,
			    v->anon ? "set" : "unset", v->nr_chain);
	if (v->anon && (v->vm_flags & VM_SHARED))
		return fail(c, "VMA %#" PRIx64 ": a shared mapping with an anon_vma", v->vm_start);
	if (v->anon && !vm_anon_vma_in_chain(v, v->anon))
		return fail(c, "VMA %#" PRIx64 ": its anon_vma is not in its chain", v->vm_start);
	for (uint32_t i = 0; i < v->nr_chain; i++) {
		const struct vm_anon_vma *av = v->chain[i];
		if (av->root != v->chain[0] || !vm_anon_vma_in_chain(v, av->parent))
			return fail(c, "VMA %#" PRIx64 ": anon_vma #%" PRIu64 " has its root or parent "
				    "outside the chain", v->vm_start, av->serial);
		if (add_one(c, &c->links, av))
			return c->err;
	}
	return v->anon ? add_one(c, &c->active, v->anon) : 0;
}

/* Every anon_vma seen in a chain against the counts rebuilt from them. */
static int check_anon_vmas(struct check *c)
{
	struct vm_u64map kids, refs;
	uint64_t pos = 0, key, n, live = 0;
	int rc = 0;

	vm_u64map_init(&kids, c->k->host);
	vm_u64map_init(&refs, c->k->host);
	while (!rc && vm_u64map_next(&c->links, &pos, &key, &n)) {
		const struct vm_anon_vma *av = (const void *)(uintptr_t)key;
		live++;
		rc = add_one(c, &kids, av->parent);      /* a root is its own child */
		if (!rc)
			rc = add_one(c, &refs, av);
		if (!rc && av->root != av)
			rc = add_one(c, &refs, av->root);
	}
	for (pos = 0; !rc && vm_u64map_next(&c->links, &pos, &key, &n);) {
		const struct vm_anon_vma *av = (const void *)(uintptr_t)key;
		uint64_t act = 0, ch = 0, rf = 0;
		vm_u64map_get(&c->active, key, &act);
		vm_u64map_get(&kids, key, &ch);
		vm_u64map_get(&refs, key, &rf);
		if (av->nr_vmas != n || av->num_active_vmas != act || av->num_children != ch ||
		    av->refcount != rf)
			rc = fail(c, "anon_vma #%" PRIu64 ": links/active/children/refs %u/%u/%u/%u, "
				  "the chains say %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64,
				  av->serial, av->nr_vmas, av->num_active_vmas, av->num_children,
				  av->refcount, n, act, ch, rf);
	}
	if (!rc && live != c->k->anon_vmas)
		rc = fail(c, "%" PRIu64 " anon_vmas allocated but %" PRIu64 " linked by VMAs",
			  c->k->anon_vmas, live);
	vm_u64map_fini(&kids);
	vm_u64map_fini(&refs);
	return rc;
}

static int check_mm(struct check *c, struct vm_mm *mm)
{
	uint64_t total = 0, data = 0, exec = 0, stack = 0, locked = 0;
	char why[160];

	if (vm_vma_tree_check(mm, why, sizeof(why)))
		return fail(c, "VMA tree: %s", why);
	if (mm->pt.ops->check(&mm->pt, why, sizeof(why)))
		return fail(c, "page tables: %s", why);
	for (struct vm_vma *v = vm_vma_first(mm); v; v = vm_vma_next(v)) {
		uint64_t n = vma_pages(v), f = v->vm_flags;
		if (v->vm_end > mm->task_size)
			return fail(c, "VMA [%#" PRIx64 ", %#" PRIx64 ") beyond TASK_SIZE",
				    v->vm_start, v->vm_end);
		if (check_chain(c, v))
			return c->err;
		total += n;
		if ((f & (VM_EXEC | VM_WRITE | VM_GROWSDOWN)) == VM_EXEC)
			exec += n;
		else if (f & VM_GROWSDOWN)
			stack += n;
		else if ((f & (VM_WRITE | VM_SHARED)) == VM_WRITE)
			data += n;
		if (f & VM_LOCKED)
			locked += n;
	}
	if (total != mm->total_vm || data != mm->data_vm || exec != mm->exec_vm ||
	    stack != mm->stack_vm || locked != mm->locked_vm)
		return fail(c, "accounting: total/data/exec/stack/locked %" PRIu64 "/%" PRIu64 "/%"
			    PRIu64 "/%" PRIu64 "/%" PRIu64 " pages, VMAs say %" PRIu64 "/%" PRIu64 "/%"
			    PRIu64 "/%" PRIu64 "/%" PRIu64, mm->total_vm, mm->data_vm, mm->exec_vm,
			    mm->stack_vm, mm->locked_vm, total, data, exec, stack, locked);
	if (mm->hiwater_vm < mm->total_vm)
		return fail(c, "hiwater_vm below total_vm");

	c->mm = mm;
	memset(c->rss, 0, sizeof(c->rss));
	int rc = mm->pt.ops->for_each(&mm->pt, 0, mm->task_size, check_leaf, c);
	if (rc || c->err)
		return c->err ? c->err : fail(c, "page-table walk failed: %d", rc);
	for (unsigned i = 0; i < VM_RSS_COUNT; i++)
		if (i != VM_RSS_SWAP && c->rss[i] != mm->rss[i])
			return fail(c, "RSS %s counter %" PRIu64 " but %" PRIu64 " pages present",
				    rss_name[i], mm->rss[i], c->rss[i]);
	return 0;
}

/* Rebuilt counts against the descriptors, and every allocated frame held. */
static int check_frames(struct check *c, uint64_t table_frames)
{
	struct vm_kernel *k = c->k;
	uint64_t pos = 0, pfn, v, held = 1 + table_frames;   /* the zero page, the tables */

	for (struct vm_list *e = k->files.next; e != &k->files; e = e->next) {
		struct vm_file *f = VM_CONTAINER_OF(e, struct vm_file, link);
		uint64_t p2 = 0, idx, fpfn;
		while (vm_u64map_next(&f->cache, &p2, &idx, &fpfn)) {
			if (fpfn >= k->phys->nframes || k->pages[fpfn].owner_kind != VM_OWNER_FILE)
				return fail(c, "%s: cached page %" PRIu64 " on frame %#" PRIx64
					    " not owned by a file", f->path, idx, fpfn);
			if (count(c, fpfn, 0, 1))
				return c->err;
		}
	}
	for (unsigned t = 0; k->swap && t < k->swap->nareas; t++) {
		uint64_t p2 = 0, off, spfn, ent;
		while (vm_u64map_next(&k->swap->area[t].cache, &p2, &off, &spfn)) {
			if (spfn >= k->phys->nframes || k->pages[spfn].owner_kind != VM_OWNER_ANON)
				return fail(c, "swap cache slot %u:%" PRIu64 " on frame %#" PRIx64
					    " not an anonymous page", t, off, spfn);
			if (!vm_u64map_get(&k->swap->cache_rev, spfn, &ent) ||
			    ent != vm_swp_pte(t, off).v)
				return fail(c, "swap cache slot %u:%" PRIu64 " on frame %#" PRIx64
					    " not so in the reverse index", t, off, spfn);
			if (count(c, spfn, 0, 1))
				return c->err;
		}
	}
	while (vm_u64map_next(&c->counts, &pos, &pfn, &v)) {
		const struct vm_page *pg = &k->pages[pfn];
		uint64_t maps = v & UINT32_MAX, refs = v >> 32;
		if ((uint64_t)pg->mapcount != maps || pg->refcount != refs)
			return fail(c, "frame %#" PRIx64 ": mapcount %d refcount %u, but %" PRIu64
				    " mappings and %" PRIu64 " references hold it", pfn, pg->mapcount,
				    pg->refcount, maps, refs);
		held += vm_page_test(pg, VM_PG_HEAD) ? UINT64_C(1) << pg->order : 1;
	}
	uint64_t used = k->phys->nframes - k->buddy->free_frames;
	if (used != held)
		return fail(c, "%" PRIu64 " frames allocated but %" PRIu64 " held by the zero page, "
			    "page tables, mappings and the page cache", used, held);
	return 0;
}

/* Swap: every slot's count equals the swap entries naming it, each mm's
 * MM_SWAPENTS its entries, and the slots in use those counted or cached.
 * The LRU: exactly the pages that belong there carry VM_PG_LRU, as many as
 * the policy holds. */
static bool first_user(const struct vm_kernel *k, unsigned i);

/* The swap entries shmem objects hold in their indexes: each one a
 * reference on its slot (added to refs, by entry), the object's count of
 * them right, and none where the page cache has the page. */
static void count_shmem_swap(struct check *c, struct vm_u64map *refs)
{
	const struct vm_kernel *k = c->k;

	for (struct vm_list *e = k->files.next; e != &k->files && !c->err; e = e->next) {
		const struct vm_file *f = VM_CONTAINER_OF(e, struct vm_file, link);
		uint64_t pos = 0, index, v, n, seen = 0;
		while (!c->err && vm_u64map_next(&f->swap, &pos, &index, &v)) {
			vm_pte entry = { v };
			seen++;
			if (!f->shmem || !vm_swap_area_of(k, entry))
				fail(c, "%s: page %" PRIu64 " swapped to slot %u:%" PRIu64 " outside the "
				     "areas", f->path, index, vm_swp_pte_type(entry),
				     vm_swp_pte_offset(entry));
			else if (vm_u64map_get(&f->cache, index, NULL))
				fail(c, "%s: page %" PRIu64 " both cached and swapped", f->path, index);
			n = 0;
			vm_u64map_get(refs, v, &n);
			vm_u64map_put(refs, v, n + 1);
		}
		if (!c->err && seen != f->swapped_pages)
			fail(c, "%s: %" PRIu64 " pages swapped, counted %" PRIu64, f->path, seen,
			     f->swapped_pages);
	}
}

struct swap_refs {
	struct check *c;
	struct vm_u64map *refs;      /* swap entry -> entries naming it */
	uint64_t n;                  /* entries in this mm */
};

/* Each swap entry in the page tables, counted by slot. */
static int swap_ref(void *arg, const struct vm_pt_leaf *leaf)
{
	struct swap_refs *r = arg;
	uint64_t n = 0;

	if (pte_present(leaf->pte))
		return 0;
	if (!vm_swap_area_of(r->c->k, leaf->pte))
		return fail(r->c, "swap entry at %#" PRIx64 " names slot %u:%" PRIu64
			    " outside the areas", leaf->va, vm_swp_pte_type(leaf->pte),
			    vm_swp_pte_offset(leaf->pte));
	r->n++;
	vm_u64map_get(r->refs, leaf->pte.v, &n);
	vm_u64map_put(r->refs, leaf->pte.v, n + 1);
	return 0;
}

static int check_swap_lru(struct check *c)
{
	struct vm_kernel *k = c->k;
	struct vm_swap *s = k->swap;
	struct vm_u64map refs;
	uint64_t n;

	vm_u64map_init(&refs, k->host);
	for (unsigned i = 0; i < k->procs_cap && !c->err; i++) {
		if (!first_user(k, i))
			continue;
		struct vm_mm *mm = k->procs[i]->mm;
		struct swap_refs r = { .c = c, .refs = &refs };
		mm->pt.ops->for_each_entry(&mm->pt, 0, mm->task_size, swap_ref, &r);
		if (!c->err && r.n != mm->rss[VM_RSS_SWAP])
			fail(c, "MM_SWAPENTS %" PRIu64 " but %" PRIu64 " swap entries", mm->rss[VM_RSS_SWAP],
			     r.n);
	}
	if (!c->err)
		count_shmem_swap(c, &refs);
	uint64_t total = 0;
	for (unsigned t = 0; s && t < s->nareas && !c->err; t++) {
		struct vm_swap_area *a = &s->area[t];
		uint64_t inuse = 0;
		for (uint64_t off = 1; off < a->nslots && !c->err; off++) {
			n = 0;
			vm_u64map_get(&refs, vm_swp_pte(t, off).v, &n);
			if (n != a->map[off])
				fail(c, "swap slot %u:%" PRIu64 ": count %u but %" PRIu64 " entries (page "
				     "tables and shmem indexes)", t, off, a->map[off], n);
			inuse += a->map[off] || vm_u64map_get(&a->cache, off, NULL);
		}
		if (!c->err && inuse != a->inuse)
			fail(c, "area %u: %" PRIu64 " swap slots in use, counted %" PRIu64, t, a->inuse,
			     inuse);
		total += inuse;
	}
	if (s && !c->err && total != s->inuse)
		fail(c, "%" PRIu64 " swap slots in use in all, counted %" PRIu64, s->inuse, total);
	vm_u64map_fini(&refs);
	struct vm_reclaim *r = k->reclaim;
	if (r && r->policy && !c->err) {
		uint64_t lru = 0;
		for (uint64_t pfn = 0; pfn < k->phys->nframes && !c->err; pfn++) {
			const struct vm_page *pg = &k->pages[pfn];
			bool on = vm_page_test(pg, VM_PG_LRU);
			bool user = vm_lru_belongs(k, pg);
			if (on ? !user : user && !r->lru_refused)
				fail(c, "frame %#" PRIx64 ": %s the LRU but %s a user page that belongs there",
				     pfn, on ? "on" : "off", user ? "is" : "not");
			lru += on;
		}
		if (!c->err && (lru != r->lru_pages || (r->policy ? r->policy->used : 0) != lru))
			fail(c, "%" PRIu64 " frames on the LRU, counted %" PRIu64 ", policy holds %u", lru,
			     r->lru_pages, r->policy ? r->policy->used : 0);
	}
	return c->err;
}

/* procs[i] is the first process using its mm (threads share one). */
static bool first_user(const struct vm_kernel *k, unsigned i)
{
	const struct vm_mm *mm = k->procs[i] ? k->procs[i]->mm : NULL;

	if (!mm)
		return false;
	for (unsigned j = 0; j < i; j++)
		if (k->procs[j] && k->procs[j]->mm == mm)
			return false;
	return true;
}

/* A vfork parent waits for a running child that borrows its mm. */
static int check_vfork(struct check *c)
{
	struct vm_kernel *k = c->k;

	for (unsigned i = 0; i < k->procs_cap; i++) {
		const struct vm_proc *p = k->procs[i], *child;
		if (!p || !p->vfork_child)
			continue;
		child = vm_proc_find(k, p->vfork_child);
		if (p->state != VM_PROC_RUNNING || !child || child->state != VM_PROC_RUNNING ||
		    child->mm != p->mm || child->ppid != p->pid)
			return fail(c, "pid %d waits for vfork child %d, which does not run on its mm",
				    p->pid, p->vfork_child);
	}
	return 0;
}

/* File references: descriptors plus VMAs. */
static int check_files(struct check *c)
{
	struct vm_kernel *k = c->k;

	for (struct vm_list *e = k->files.next; e != &k->files; e = e->next) {
		struct vm_file *f = VM_CONTAINER_OF(e, struct vm_file, link);
		uint64_t refs = 0;
		for (unsigned i = 0; i < k->procs_cap; i++) {
			struct vm_proc *p = k->procs[i];
			if (!p)
				continue;
			for (int fd = 0; p->fds && fd < VM_NOFILE; fd++)
				refs += p->fds[fd].file == f;
			if (first_user(k, i))
				for (struct vm_vma *v = vm_vma_first(p->mm); v; v = vm_vma_next(v))
					refs += v->vm_file == f;
		}
		refs += f->pinned;      /* the kernel's own */
		if (refs != f->refs)
			return fail(c, "%s: %u references, %" PRIu64 " descriptors, VMAs and pins",
				    f->path, f->refs, refs);
	}
	return 0;
}

int vm_kernel_check(struct vm_kernel *k, char *msg, size_t len)
{
	char dummy[8];
	struct check c = { .k = k, .msg = msg ? msg : dummy, .len = msg ? len : sizeof(dummy) };
	uint64_t tables = 0;
	char why[160];

	c.msg[0] = '\0';
	if (vm_buddy_check(k->buddy, why, sizeof(why)))
		return fail(&c, "buddy: %s", why);
	vm_u64map_init(&c.counts, k->host);
	vm_u64map_init(&c.links, k->host);
	vm_u64map_init(&c.active, k->host);
	for (unsigned i = 0; i < k->procs_cap && !c.err; i++) {
		if (!first_user(k, i))
			continue;
		tables += k->procs[i]->mm->pt.table_frames;
		check_mm(&c, k->procs[i]->mm);
	}
	if (!c.err)
		check_frames(&c, tables);
	if (!c.err)
		check_anon_vmas(&c);
	if (!c.err)
		check_swap_lru(&c);
	if (!c.err)
		check_vfork(&c);
	if (!c.err)
		check_files(&c);
	vm_u64map_fini(&c.counts);
	vm_u64map_fini(&c.links);
	vm_u64map_fini(&c.active);
	return c.err;
}
