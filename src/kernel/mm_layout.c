/*
 * The x86-64 address-space layout: creating and dropping an mm
 * (mm_alloc / mmput -> exit_mmap), the top-down layout with its mmap_base
 * and ASLR (arch/x86/mm/mmap.c arch_pick_mmap_layout), and the choice of
 * a free range for mmap and mremap (mm/mmap.c __get_unmapped_area,
 * arch/x86/kernel/sys_x86_64.c arch_get_unmapped_area[_topdown],
 * mm/huge_memory.c thp_get_unmapped_area).
 *
 * All randomness comes from the machine's RNG (k->rng), and only when
 * cfg.aslr says so (Linux's PF_RANDOMIZE from randomize_va_space).
 */
#include <errno.h>

#include "base/compiler.h"
#include "base/host.h"
#include "kernel/fault.h"
#include "kernel/mm_internal.h"
#include "kernel/uapi.h"

/* Linux: arch_rnd() / arch_mmap_rnd(): bits of page-granular randomness. */
static uint64_t arch_rnd(struct vm_kernel *k, unsigned bits)
{
	if (!k->cfg.aslr)
		return 0;
	return (vm_rng_next(k->rng) & ((UINT64_C(1) << bits) - 1)) << VM_PAGE_SHIFT;
}

/* Linux: mmap_base() — below the stack's rlimit, its randomisation range
 * and the guard gap, at least 128 MiB and at most 5/6 of the space below
 * task_size, then the random offset. */
static vm_vaddr mmap_base(const struct vm_kernel *k, uint64_t rnd, vm_vaddr task_size)
{
	uint64_t gap = k->cfg.stack_rlimit;
	uint64_t pad = k->cfg.stack_guard_gap;
	uint64_t gap_max = task_size / 6 * 5;

	if (k->cfg.aslr)
		pad += VM_STACK_RND_MASK << VM_PAGE_SHIFT;   /* stack_maxrandom_size() */
	if (gap + pad > gap)
		gap += pad;
	if (gap < VM_MMAP_GAP_MIN)
		gap = VM_MMAP_GAP_MIN;
	else if (gap > gap_max)
		gap = gap_max;
	return VM_ALIGN_UP(task_size - gap - rnd, VM_PAGE_SIZE);
}

/* Linux: arch_pick_mmap_layout() for a 64-bit task (never legacy: the x86
 * code no longer looks at RLIMIT_STACK = unlimited).  Both bases are
 * computed from DEFAULT_MAP_WINDOW, also with LA57 (task_size_64bit(0)). */
static void pick_mmap_layout(struct vm_kernel *k, struct vm_mm *mm)
{
	uint64_t rnd = arch_rnd(k, k->cfg.mmap_rnd_bits);
	vm_vaddr window = k->cfg.map_window;

	mm->mmap_legacy_base = VM_ALIGN_UP(window / 3, VM_PAGE_SIZE) + rnd;
	mm->mmap_base = mmap_base(k, rnd, window);
}

int vm_mm_alloc(struct vm_kernel *k, struct vm_mm **out)
{
	struct vm_mm *mm = vm_host_calloc(k->host, 1, sizeof(*mm));
	int err;

	*out = NULL;
	if (!mm)
		return -ENOMEM;
	err = vm_pt_create(&mm->pt, k->pt_type->name, k->phys, &k->table_src);
	if (err) {
		vm_host_free(k->host, mm);
		return err;
	}
	mm->k = k;
	mm->users = 1;
	if (k->next_pcid == 0 || k->next_pcid > 4095)
		k->next_pcid = 1;
	mm->pcid = k->next_pcid++;
	mm->task_size = k->cfg.task_size_max;
	*out = mm;
	return 0;
}

int vm_mm_create(struct vm_kernel *k, struct vm_mm **out)
{
	int err = vm_mm_alloc(k, out);

	if (!err)
		pick_mmap_layout(k, *out);
	return err;
}

/* Linux: exit_mmap() — every page unmapped, every VMA freed. */
static void exit_mmap(struct vm_kernel *k, struct vm_mm *mm)
{
	struct vm_vma *vma = vm_vma_first(mm), *next;

	for (; vma; vma = next) {
		next = vm_vma_next(vma);
		vm_zap_range(k, vma, vma->vm_start, vma->vm_end);
		vm_stat_account(mm, vma->vm_flags, -(int64_t)vma_pages(vma));
		vm_vma_unlink(mm, vma);
		vm_vma_free(k, vma);
	}
}

void vm_mm_put(struct vm_kernel *k, struct vm_mm *mm)
{
	if (!mm || --mm->users > 0)
		return;
	int saved = k->cur_cpu;
	exit_mmap(k, mm);
	vm_vma_tree_release(mm);
	k->cur_cpu = saved;
	vm_leave_mm(k, mm);
	vm_pt_destroy(&mm->pt);
	vm_host_free(k->host, mm);
}

/* Linux: mmap_address_hint_valid() — a hint must leave room for len and
 * stay on one side of the 47-bit window. */
static bool hint_valid(const struct vm_kernel *k, const struct vm_mm *mm, vm_vaddr addr,
		       uint64_t len)
{
	if (mm->task_size - len < addr)
		return false;
	return (addr > k->cfg.map_window) == (addr + len > k->cfg.map_window);
}

/* Linux: arch_get_unmapped_area() (bottom-up from mmap_legacy_base), the
 * fallback when the top-down search fails. */
static long get_area_bottomup(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr addr,
			      uint64_t len, int flags)
{
	vm_vaddr end = addr > k->cfg.map_window ? k->cfg.task_size_max : k->cfg.map_window;
	struct vm_vma *vma;

	if (flags & VM_MAP_FIXED)
		return (long)addr;
	if (len > end)
		return -ENOMEM;
	if (addr) {
		addr = VM_ALIGN_UP(addr, VM_PAGE_SIZE);
		vma = vm_find_vma(mm, addr);
		if (end - len >= addr &&
		    (!vma || addr + len <= vm_vma_start_gap(vma, k->cfg.stack_guard_gap)))
			return (long)addr;
	}
	struct vm_unmapped_area_info info = {
		.length = len,
		.low_limit = VM_MAX(mm->mmap_legacy_base, vm_mmap_min_addr(k)),
		.high_limit = end,
	};
	return vm_unmapped_area(mm, &info);
}

/* Linux: arch_get_unmapped_area_topdown(): a valid hint that fits is
 * taken, else the highest gap below mmap_base (below mmap_base plus the
 * upper half of a 57-bit space when the hint lies above 47 bits), else
 * bottom-up. */
static long get_area_topdown(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr addr0,
			     uint64_t len, int flags)
{
	vm_vaddr addr = addr0;
	long ret;

	if (len > mm->task_size)
		return -ENOMEM;
	if (flags & VM_MAP_FIXED)
		return (long)addr;
	if (addr) {
		addr = VM_ALIGN_DOWN(addr, VM_PAGE_SIZE);
		if (hint_valid(k, mm, addr, len)) {
			struct vm_vma *vma = vm_find_vma(mm, addr);
			if (!vma || addr + len <= vm_vma_start_gap(vma, k->cfg.stack_guard_gap))
				return (long)addr;
		}
	}
	struct vm_unmapped_area_info info = {
		.topdown = true,
		.length = len,
		.low_limit = vm_mmap_min_addr(k),     /* PAGE_SIZE, raised to mmap_min_addr */
		.high_limit = mm->mmap_base,
	};
	if (addr > k->cfg.map_window)
		info.high_limit += k->cfg.task_size_max - k->cfg.map_window;
	ret = vm_unmapped_area(mm, &info);
	if (!vm_is_err(ret))
		return ret;
	return get_area_bottomup(k, mm, addr0, len, flags);
}

/* Linux: __thp_get_unmapped_area() with size = PMD_SIZE: when the range
 * of the object covers a whole aligned 2 MiB, search len + 2 MiB and place
 * the mapping so that object offsets and addresses agree modulo 2 MiB.
 * Returns 0 when it does not apply or fails (the caller retries plainly). */
static vm_vaddr thp_get_area(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr addr,
			     uint64_t len, uint64_t off, int flags)
{
	uint64_t off_end = off + len, off_align = VM_ALIGN_UP(off, VM_PMD_SIZE);
	uint64_t len_pad = len + VM_PMD_SIZE, off_sub;
	long ret;

	if (off_end <= off_align || off_end - off_align < VM_PMD_SIZE)
		return 0;
	if (len_pad < len || off + len_pad < off)
		return 0;
	ret = get_area_topdown(k, mm, addr, len_pad, flags);
	if (vm_is_err(ret))
		return 0;
	if ((vm_vaddr)ret == addr)
		return addr;
	off_sub = (off - (uint64_t)ret) & (VM_PMD_SIZE - 1);
	if (!off_sub)             /* MMF_TOPDOWN: keep the mapping at the top */
		return (vm_vaddr)ret + VM_PMD_SIZE;
	return (vm_vaddr)ret + off_sub;
}

/* Linux: __get_unmapped_area().  Regular files go through
 * thp_get_unmapped_area (ext4, xfs and btrfs set it as their
 * ->get_unmapped_area); shared anonymous memory through
 * shmem_get_unmapped_area, which with shmem_enabled=never (the default)
 * is the plain search; private anonymous mappings without a hint whose
 * length is a multiple of 2 MiB are THP aligned (CONFIG_TRANSPARENT_HUGEPAGE,
 * whatever the thp setting). */
long vm_get_unmapped_area(struct vm_kernel *k, struct vm_mm *mm, struct vm_file *file,
			  vm_vaddr addr, uint64_t len, uint64_t pgoff, int flags)
{
	long ret = 0;

	if (len > mm->task_size)
		return -ENOMEM;
	if (!file)
		pgoff = 0;
	if (!(flags & VM_MAP_FIXED) &&
	    ((file && !(flags & VM_MAP_FIXED)) ||
	     (!file && !(flags & VM_MAP_SHARED) && !addr && VM_IS_ALIGNED(len, VM_PMD_SIZE))))
		ret = (long)thp_get_area(k, mm, addr, len, pgoff << VM_PAGE_SHIFT, flags);
	if (!ret)
		ret = get_area_topdown(k, mm, addr, len, flags);
	if (vm_is_err(ret))
		return ret;
	if ((vm_vaddr)ret > mm->task_size - len)
		return -ENOMEM;
	if (ret & (long)(VM_PAGE_SIZE - 1))
		return -EINVAL;
	/* security_mmap_addr() -> cap_mmap_addr(): below vm.mmap_min_addr
	 * only with CAP_SYS_RAWIO, which the model's processes lack. */
	if ((vm_vaddr)ret < k->cfg.mmap_min_addr)
		return -EPERM;
	return ret;
}
