/*
 * /proc/PID/maps, smaps and the memory lines of status, byte for byte as
 * Linux 6.x prints them (fs/proc/task_mmu.c show_map_vma, show_smap,
 * __show_smap, show_smap_vma_flags, task_mem).
 */
#include "kernel/procfs.h"
#include "kernel/swap.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "base/compiler.h"
#include "kernel/mm_internal.h"
#include "kernel/rmap.h"
#include "kernel/shmem_swap.h"
#include "kernel/vfs.h"

#define MAPS_NAME_COLUMN 72   /* seq_setwidth(25 + sizeof(void *) * 6 - 1) */
#define PSS_SHIFT 12

/* Linux: seq_path(m, path, "\n") escapes a newline as \012. */
static void put_path(FILE *out, const char *path)
{
	for (; *path; path++) {
		if (*path == '\n')
			fputs("\\012", out);
		else
			fputc(*path, out);
	}
}

/* Linux: vma_is_initial_heap() / vma_is_initial_stack().  The heap test
 * is strict (6.x): a bss VMA that ends where the heap starts is not
 * [heap] (measured after exec under setarch -R). */
static bool is_heap(const struct vm_vma *v, const struct vm_mm *mm)
{
	return v->vm_start < mm->brk && v->vm_end > mm->start_brk;
}

static bool is_stack(const struct vm_vma *v, const struct vm_mm *mm)
{
	return v->vm_start <= mm->start_stack && v->vm_end >= mm->start_stack;
}

/* Linux: show_map_vma() — the header line of maps and smaps. */
static void show_map_vma(FILE *out, const struct vm_mm *mm, const struct vm_vma *v)
{
	uint64_t f = v->vm_flags, pgoff = 0, ino = 0;
	unsigned major = 0, minor = 0;
	const char *name = NULL;
	int n;

	if (v->vm_file) {
		major = v->vm_file->dev_major;
		minor = v->vm_file->dev_minor;
		ino = v->vm_file->ino;
		pgoff = v->vm_pgoff << VM_PAGE_SHIFT;
	}
	n = fprintf(out, "%08" PRIx64 "-%08" PRIx64 " %c%c%c%c %08" PRIx64 " %02x:%02x %" PRIu64 " ",
		    v->vm_start, v->vm_end, f & VM_READ ? 'r' : '-', f & VM_WRITE ? 'w' : '-',
		    f & VM_EXEC ? 'x' : '-', f & VM_MAYSHARE ? 's' : 'p', pgoff, major, minor, ino);
	if (!v->vm_file) {
		if (v->vm_name)
			name = v->vm_name;      /* vm_ops->name() comes first */
		else if (is_heap(v, mm))
			name = "[heap]";
		else if (is_stack(v, mm))
			name = "[stack]";
	}
	if (v->vm_file || name) {
		for (; n < MAPS_NAME_COLUMN; n++)
			fputc(' ', out);
		fputc(' ', out);
		if (v->vm_file)
			put_path(out, v->vm_file->path);
		else
			fputs(name, out);
	}
	fputc('\n', out);
}

static struct vm_mm *proc_mm(struct vm_proc *p)
{
	return p && p->state == VM_PROC_RUNNING ? p->mm : NULL;
}

int vm_procfs_maps(struct vm_kernel *k, struct vm_proc *p, FILE *out, vm_vaddr lo, vm_vaddr hi)
{
	struct vm_mm *mm = proc_mm(p);

	(void)k;
	if (!mm)
		return -ESRCH;
	for (struct vm_vma *v = vm_find_vma(mm, lo); v && v->vm_start < hi; v = vm_vma_next(v))
		show_map_vma(out, mm, v);
	return ferror(out) ? -EIO : 0;
}

/* Linux: struct mem_size_stats (bytes; pss fields << PSS_SHIFT). */
struct mss {
	struct vm_kernel *k;
	const struct vm_vma *vma;
	uint64_t resident, pss, pss_dirty, shared_clean, shared_dirty, private_clean;
	uint64_t private_dirty, referenced, anonymous, lazyfree, anonymous_thp, pss_locked;
};

/* Linux: smaps_page_accumulate(). */
static void accumulate(struct mss *s, const struct vm_page *pg, uint64_t size, uint64_t pss,
		       bool dirty, bool private)
{
	s->pss += pss;
	if (s->vma->vm_flags & VM_LOCKED)
		s->pss_locked += pss;
	if (dirty || vm_page_test(pg, VM_PG_DIRTY)) {
		s->pss_dirty += pss;
		*(private ? &s->private_dirty : &s->shared_dirty) += size;
	} else {
		*(private ? &s->private_clean : &s->shared_clean) += size;
	}
}

/* Linux: smaps_pte_entry() / smaps_pmd_entry() -> smaps_account(). */
static int smaps_leaf(void *arg, const struct vm_pt_leaf *leaf)
{
	struct mss *s = arg;
	uint64_t pfn = pte_leaf_base(leaf->pte, leaf->level) >> VM_PAGE_SHIFT;
	uint64_t size = UINT64_C(1) << vm_psize_shift(leaf->size);
	bool dirty = pte_dirty(leaf->pte);

	if (pfn == s->k->zero_pfn || pfn >= s->k->phys->nframes)
		return 0;                               /* vm_normal_page(): not a normal page */
	const struct vm_page *pg = &s->k->pages[pfn];
	bool anon = pg->owner_kind == VM_OWNER_ANON;     /* folio_test_anon() */

	if (anon) {
		s->anonymous += size;
		if (leaf->size == VM_PSIZE_2M)
			s->anonymous_thp += size;
		if (!vm_page_test(pg, VM_PG_SWAPBACKED) && !dirty && !vm_page_test(pg, VM_PG_DIRTY))
			s->lazyfree += size;
	}
	s->resident += size;
	if (pte_young(leaf->pte) || vm_page_test(pg, VM_PG_REFERENCED))
		s->referenced += size;
	if (pg->refcount == 1) {
		accumulate(s, pg, size, size << PSS_SHIFT, dirty, true);
		return 0;
	}
	/* Every 4 KiB of the leaf has the block's map count (no partial maps). */
	uint64_t mapcount = pg->mapcount > 0 ? (uint64_t)pg->mapcount : 1;
	for (uint64_t off = 0; off < size; off += VM_PAGE_SIZE) {
		uint64_t pss = VM_PAGE_SIZE << PSS_SHIFT;
		if (mapcount >= 2)
			pss /= mapcount;
		accumulate(s, pg, VM_PAGE_SIZE, pss, dirty, mapcount < 2);
	}
	return 0;
}

/* Linux: thp_vma_allowable_orders(vma, vm_flags, TVA_SMAPS, THP_ORDERS_ALL)
 * for PMD-sized THPs: anonymous VMAs per the thp setting and
 * MADV_(NO)HUGEPAGE, if an aligned 2 MiB fits; shmem with
 * shmem_enabled=never and page-cache files (no CONFIG_READ_ONLY_THP_FOR_FS)
 * never. */
static bool thp_eligible(const struct vm_kernel *k, const struct vm_vma *v)
{
	vm_vaddr haddr;

	if (!vma_is_anonymous(v) || (v->vm_flags & VM_NOHUGEPAGE))
		return false;
	if (k->cfg.thp == VM_THP_NEVER || (k->cfg.thp == VM_THP_MADVISE && !(v->vm_flags & VM_HUGEPAGE)))
		return false;
	if (v->vm_end - v->vm_start < VM_PMD_SIZE)
		return false;
	haddr = VM_ALIGN_DOWN(v->vm_end - VM_PMD_SIZE, VM_PMD_SIZE);
	return haddr >= v->vm_start && haddr + VM_PMD_SIZE <= v->vm_end;
}

/* Linux: show_smap_vma_flags() mnemonics, by bit. */
static const char *const vm_flag_names[64] = {
	[0] = "rd", [1] = "wr", [2] = "ex", [3] = "sh", [4] = "mr", [5] = "mw", [6] = "me",
	[7] = "ms", [8] = "gd", [10] = "pf", [13] = "lo", [14] = "io", [15] = "sr", [16] = "rr",
	[17] = "dc", [18] = "de", [19] = "lf", [20] = "ac", [21] = "nr", [22] = "ht", [23] = "sf",
	[25] = "wf", [26] = "dd", [28] = "mm", [29] = "hg", [30] = "nh", [31] = "mg",
};

static int no_leaf(void *ctx, const struct vm_pt_leaf *leaf)
{
	(void)ctx;
	(void)leaf;
	return 1;
}

/* Linux smap_gather_stats() for a shmem VMA: the object's swapped pages
 * in the VMA's range (shmem_swap_usage), all of them for a shared or
 * read-only mapping; a private writable one counts only those it has no
 * page of its own for (smaps_pte_hole_lookup, for a PTE that is none). */
static uint64_t shmem_swap_pages(struct vm_mm *mm, const struct vm_vma *v)
{
	const struct vm_file *f = v->vm_file;
	uint64_t pages = (v->vm_end - v->vm_start) >> VM_PAGE_SHIFT, pos = 0, index, e, n = 0;

	if (!f || !f->shmem || !f->swapped_pages)
		return 0;
	if ((v->vm_flags & VM_SHARED) || !(v->vm_flags & VM_WRITE))
		return vm_shmem_swap_count(f, v->vm_pgoff, pages);
	while (vm_u64map_next(&f->swap, &pos, &index, &e)) {
		if (index < v->vm_pgoff || index - v->vm_pgoff >= pages)
			continue;
		vm_vaddr va = v->vm_start + ((index - v->vm_pgoff) << VM_PAGE_SHIFT);
		vm_pte swp;
		n += mm->pt.ops->for_each(&mm->pt, va, va + VM_PAGE_SIZE, no_leaf,
					  NULL) == 0 &&
		     !vm_swap_pte_at(mm, va, &swp);
	}
	return n;
}

static void put_kb(FILE *out, const char *label, uint64_t bytes, int width)
{
	fprintf(out, "%s%*" PRIu64 " kB\n", label, width, bytes >> 10);
}

static void show_smap(FILE *out, struct vm_kernel *k, struct vm_mm *mm,
		      const struct vm_vma *v)
{
	struct mss s = { .k = k, .vma = v };

	mm->pt.ops->for_each(&mm->pt, v->vm_start, v->vm_end, smaps_leaf, &s);
	show_map_vma(out, mm, v);
	put_kb(out, "Size:           ", v->vm_end - v->vm_start, 8);
	put_kb(out, "KernelPageSize: ", VM_PAGE_SIZE, 8);
	put_kb(out, "MMUPageSize:    ", VM_PAGE_SIZE, 8);
	put_kb(out, "Rss:            ", s.resident, 8);
	put_kb(out, "Pss:            ", s.pss >> PSS_SHIFT, 8);
	put_kb(out, "Pss_Dirty:      ", s.pss_dirty >> PSS_SHIFT, 8);
	put_kb(out, "Shared_Clean:   ", s.shared_clean, 8);
	put_kb(out, "Shared_Dirty:   ", s.shared_dirty, 8);
	put_kb(out, "Private_Clean:  ", s.private_clean, 8);
	put_kb(out, "Private_Dirty:  ", s.private_dirty, 8);
	put_kb(out, "Referenced:     ", s.referenced, 8);
	put_kb(out, "Anonymous:      ", s.anonymous, 8);
	put_kb(out, "KSM:            ", 0, 8);
	put_kb(out, "LazyFree:       ", s.lazyfree, 8);
	put_kb(out, "AnonHugePages:  ", s.anonymous_thp, 8);
	put_kb(out, "ShmemPmdMapped: ", 0, 8);
	put_kb(out, "FilePmdMapped:  ", 0, 8);
	put_kb(out, "Shared_Hugetlb: ", 0, 8);
	put_kb(out, "Private_Hugetlb: ", 0, 7);
	put_kb(out, "Swap:           ",
	       (vm_swap_count(mm, v->vm_start, v->vm_end) + shmem_swap_pages(mm, v)) << VM_PAGE_SHIFT, 8);
	/* Linux counts a shmem object's swapped pages in Swap but not in
	 * SwapPss: only swap PTEs reach smaps_pte_entry(). */
	put_kb(out, "SwapPss:        ", vm_swap_pss(k, mm, v->vm_start, v->vm_end, PSS_SHIFT) >> PSS_SHIFT,
	       8);
	put_kb(out, "Locked:         ", s.pss_locked >> PSS_SHIFT, 8);
	fprintf(out, "THPeligible:    %8u\n", thp_eligible(k, v) ? 1u : 0u);
	fputs("VmFlags: ", out);
	for (unsigned b = 0; b < 64; b++)
		if ((v->vm_flags >> b & 1) && vm_flag_names[b])
			fprintf(out, "%s ", vm_flag_names[b]);
	fputc('\n', out);
}

int vm_procfs_smaps(struct vm_kernel *k, struct vm_proc *p, FILE *out)
{
	struct vm_mm *mm = proc_mm(p);

	if (!mm)
		return -ESRCH;
	for (struct vm_vma *v = vm_vma_first(mm); v; v = vm_vma_next(v))
		show_smap(out, k, mm, v);
	return ferror(out) ? -EIO : 0;
}

/* Linux: task_mem(). */
int vm_procfs_status(struct vm_kernel *k, struct vm_proc *p, FILE *out)
{
	struct vm_mm *mm = proc_mm(p);
	uint64_t anon, file, shmem, rss, hwm, peak, text, lib;

	(void)k;
	if (!mm)
		return -ESRCH;
	anon = mm->rss[VM_RSS_ANON];
	file = mm->rss[VM_RSS_FILE];
	shmem = mm->rss[VM_RSS_SHMEM];
	rss = anon + file + shmem;
	hwm = VM_MAX(rss, mm->hiwater_rss);
	peak = VM_MAX(mm->total_vm, mm->hiwater_vm);
	text = VM_ALIGN_UP(mm->end_code, VM_PAGE_SIZE) - VM_ALIGN_DOWN(mm->start_code, VM_PAGE_SIZE);
	text = VM_MIN(text, mm->exec_vm << VM_PAGE_SHIFT);
	lib = (mm->exec_vm << VM_PAGE_SHIFT) - text;

	put_kb(out, "VmPeak:\t", peak << VM_PAGE_SHIFT, 8);
	put_kb(out, "VmSize:\t", mm->total_vm << VM_PAGE_SHIFT, 8);
	put_kb(out, "VmLck:\t", mm->locked_vm << VM_PAGE_SHIFT, 8);
	put_kb(out, "VmPin:\t", 0, 8);
	put_kb(out, "VmHWM:\t", hwm << VM_PAGE_SHIFT, 8);
	put_kb(out, "VmRSS:\t", rss << VM_PAGE_SHIFT, 8);
	put_kb(out, "RssAnon:\t", anon << VM_PAGE_SHIFT, 8);
	put_kb(out, "RssFile:\t", file << VM_PAGE_SHIFT, 8);
	put_kb(out, "RssShmem:\t", shmem << VM_PAGE_SHIFT, 8);
	put_kb(out, "VmData:\t", mm->data_vm << VM_PAGE_SHIFT, 8);
	put_kb(out, "VmStk:\t", mm->stack_vm << VM_PAGE_SHIFT, 8);
	put_kb(out, "VmExe:\t", text, 8);
	put_kb(out, "VmLib:\t", lib, 8);
	/* mm_pgtables_bytes(): every table but the top one. */
	put_kb(out, "VmPTE:\t", (mm->pt.table_frames ? mm->pt.table_frames - 1 : 0) << VM_PAGE_SHIFT, 8);
	put_kb(out, "VmSwap:\t", mm->rss[VM_RSS_SWAP] << VM_PAGE_SHIFT, 8);
	return ferror(out) ? -EIO : 0;
}

/* Linux: swap_show() — Size is si->pages (the slots but the header), Used
 * the slots in use (entries or the swap cache), both in KiB; the name is
 * padded to 40 columns, "file" followed by a tab. */
int vm_procfs_swaps(struct vm_kernel *k, FILE *out)
{
	if (!k || !out)
		return -EINVAL;
	fputs("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n", out);
	for (unsigned i = 0; k->swap && i < k->swap->nareas; i++) {
		const struct vm_swap_area *a = &k->swap->area[i];
		char name[16];
		int len = snprintf(name, sizeof(name), "/swap%u", a->type);
		uint64_t size = (a->nslots - 1) << (VM_PAGE_SHIFT - 10);
		uint64_t used = a->inuse << (VM_PAGE_SHIFT - 10);
		fprintf(out, "%s%*s%s\t%" PRIu64 "\t%s%" PRIu64 "\t%s%d\n", name,
			len < 40 ? 40 - len : 1, " ", "file\t", size, size < 10000000 ? "\t" : "",
			used, used < 10000000 ? "\t" : "", a->prio);
	}
	return 0;
}
