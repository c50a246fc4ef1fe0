/*
 * vm_kernel_check (src/kernel/check.c): a consistent kernel passes; each
 * kind of corruption is reported (and the message names it); undoing the
 * corruption makes the kernel pass again.
 */
#include "tap.h"
#include "kernel_fixture.h"
#include "kernel/vfs.h"

#define A UINT64_C(0x40000000)

/* vm_kernel_check fails and its message contains `what`. */
static bool reports(struct kfx *f, const char *what)
{
	char msg[256];
	int err = vm_kernel_check(f->k, msg, sizeof(msg));

	if (err != -EUCLEAN || !strstr(msg, what)) {
		diag("check returned %d: \"%s\", wanted \"%s\"", err, msg, what);
		return false;
	}
	return true;
}

static bool passes(struct kfx *f)
{
	char msg[256];
	int err = vm_kernel_check(f->k, msg, sizeof(msg));

	if (err)
		diag("check: %s", msg);
	return err == 0;
}

static uint64_t pfn_at(struct kfx *f, vm_vaddr va)
{
	struct vm_pt_leaf leaf;
	f->p->mm->pt.ops->lookup(&f->p->mm->pt, va, &leaf);
	return pte_leaf_base(leaf.pte, leaf.level) >> VM_PAGE_SHIFT;
}

int main(void)
{
	struct kfx *f = kfx_new();
	struct vm_mm *mm = f->p->mm;
	struct vm_pt *pt = &mm->pt;
	long fd = vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY);

	MMAP(f, A, 4 * PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0);
	MMAP(f, A + 4 * PG, PG, VM_PROT_READ, VM_MAP_PRIVATE | VM_MAP_FIXED, fd, 0);
	kfx_touch(f, A, 3 * PG, VM_ACC_WRITE);
	kfx_touch(f, A + 3 * PG, 1, VM_ACC_READ);
	kfx_touch(f, A + 4 * PG, 1, VM_ACC_READ);
	ok(passes(f), "a consistent kernel passes");
	is_u64(f->bad_checks, 0, "and passed after every step");

	struct vm_page *pg = &f->k->pages[pfn_at(f, A)];
	pg->refcount++;
	ok(reports(f, "refcount"), "a reference count off by one");
	pg->refcount--;
	pg->mapcount++;
	ok(reports(f, "mapcount"), "a map count off by one");
	pg->mapcount--;

	struct vm_page *fpg = &f->k->pages[pfn_at(f, A + 4 * PG)];
	fpg->refcount--;
	ok(reports(f, "refcount"), "a page-cache page missing the cache's reference");
	fpg->refcount++;

	mm->rss[VM_RSS_ANON]++;
	ok(reports(f, "RSS anon"), "RssAnon counter wrong");
	mm->rss[VM_RSS_ANON]--;
	mm->rss[VM_RSS_FILE] = 0;
	ok(reports(f, "RSS file"), "RssFile counter wrong");
	mm->rss[VM_RSS_FILE] = 1;

	mm->total_vm++;
	ok(reports(f, "accounting"), "VSZ not the sum of the VMAs");
	mm->total_vm--;
	mm->data_vm--;
	ok(reports(f, "accounting"), "VmData wrong");
	mm->data_vm++;

	mm->map_count++;
	ok(reports(f, "map_count"), "map_count wrong");
	mm->map_count--;

	pt->ops->protect(pt, A + 4 * PG, A + 5 * PG, VM_PTE_RW, 0);
	ok(reports(f, "writable in a VMA without VM_WRITE"), "a PTE wider than its VMA");
	pt->ops->protect(pt, A + 4 * PG, A + 5 * PG, 0, VM_PTE_RW);
	pt->ops->protect(pt, A + 3 * PG, A + 4 * PG, VM_PTE_RW, 0);
	ok(reports(f, "zero page"), "the zero page made writable");
	pt->ops->protect(pt, A + 3 * PG, A + 4 * PG, 0, VM_PTE_RW);
	pt->ops->protect(pt, A, A + PG, 0, VM_PTE_NX);
	ok(reports(f, "executable"), "an executable PTE in a VMA without VM_EXEC");
	pt->ops->protect(pt, A, A + PG, VM_PTE_NX, 0);

	uint64_t pfn;
	ok(vm_page_alloc(f->k, 0, &pfn) == 0, "a frame nobody holds");
	ok(reports(f, "frames allocated"), "a leaked frame");
	ok(pt->ops->map(pt, A + MB(1), pfn, VM_PSIZE_4K, VM_PTE_US | VM_PTE_NX) == 0, "mapped by hand");
	ok(reports(f, "outside any VMA"), "a page mapped outside any VMA");
	pt->ops->unmap(pt, A + MB(1), A + MB(1) + PG, NULL, NULL);
	vm_page_put(f->k, pfn);

	struct vm_file *file = f->p->fds[fd].file;
	file->refs++;
	ok(reports(f, "references"), "a file reference too many");
	file->refs--;

	struct vm_vma *v = vm_vma_lookup(mm, A);
	v->vm_start -= PG;          /* moved without vm_vma_update_gaps: its gap is stale */
	ok(reports(f, "VMA tree"), "a wrong gap in the VMA tree");
	v->vm_start += PG;

	f->k->buddy->free_frames++;
	ok(reports(f, "buddy"), "the buddy allocator's count wrong");
	f->k->buddy->free_frames--;

	ok(passes(f), "everything undone: passes again");
	struct vm_error err;
	is_i64(vmlab_machine_check(f->m, &err), 0, "vmlab_machine_check runs it too");
	mm->rss[VM_RSS_ANON]++;
	is_i64(vmlab_machine_check(f->m, &err), -EUCLEAN, "and reports through the public API");
	ok(strstr(err.msg, "kernel: RSS anon") != NULL, "with the kernel's message");
	mm->rss[VM_RSS_ANON]--;
	kfx_free(f);
	return done_testing();
}
