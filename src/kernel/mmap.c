/*
 * mmap, munmap and brk, and the growth of a stack VMA (Linux mm/mmap.c,
 * mm/vma.c __mmap_region, arch/x86/kernel/sys_x86_64.c sys_mmap), with
 * Linux's checks in Linux's order so that each errno comes exactly when the
 * host's would (tests/unit/test_mmap.c holds the cases, measured on Linux
 * 6.18).  The process is an unprivileged one: no CAP_SYS_RAWIO below
 * mmap_min_addr, no CAP_IPC_LOCK beyond RLIMIT_MEMLOCK.
 */
#include <errno.h>

#include "base/compiler.h"
#include "kernel/anon_vma.h"
#include "kernel/fault.h"
#include "kernel/mm_internal.h"
#include "kernel/swap.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "kernel/vfs.h"

/* include/linux/mman.h: the flags MAP_SHARED_VALIDATE accepts; MAP_SYNC
 * too when the file system declares it (FOP_MMAP_SYNC, vm_file.mmap_sync). */
#define LEGACY_MAP_MASK (VM_MAP_SHARED | VM_MAP_PRIVATE | VM_MAP_FIXED | VM_MAP_ANONYMOUS | \
			 VM_MAP_DENYWRITE | VM_MAP_EXECUTABLE | VM_MAP_UNINITIALIZED | \
			 VM_MAP_GROWSDOWN | VM_MAP_LOCKED | VM_MAP_NORESERVE | VM_MAP_POPULATE | \
			 VM_MAP_NONBLOCK | VM_MAP_STACK | VM_MAP_HUGETLB)

int vm_sys_enter(struct vm_kernel *k, struct vm_proc *p, int *saved)
{
	if (!vm_proc_alive(p))
		return -ESRCH;
	k->stats->syscalls++;
	*saved = k->cur_cpu;
	k->cur_cpu = (int)p->cpu;
	return 0;
}

long vm_sys_leave(struct vm_kernel *k, int saved, long ret, const char *what)
{
	k->cur_cpu = saved;
	VM_DEBUG_CHECK(k, what);
	(void)what;
	return ret;
}

/* Linux: __vm_enough_memory() with vm.overcommit_memory = 0 (OVERCOMMIT_GUESS):
 * refuse only a single request larger than all of memory plus swap. */
int vm_enough_memory(const struct vm_kernel *k, uint64_t pages)
{
	uint64_t swap = k->swap ? k->swap->pages : 0;      /* total_swap_pages */

	return pages > k->phys->nframes + swap ? -ENOMEM : 0;
}

/* Linux: mlock_future_ok() for a task without CAP_IPC_LOCK. */
static bool mlock_future_ok(const struct vm_mm *mm, uint64_t flags, uint64_t bytes)
{
	if (!(flags & VM_LOCKED))
		return true;
	return ((mm->locked_vm << VM_PAGE_SHIFT) + bytes) <= VM_MLOCK_LIMIT;
}

/* Linux: calc_vm_prot_bits() | calc_vm_flag_bits() | VM_MAY*. */
static uint64_t mmap_vm_flags(int prot, int flags)
{
	uint64_t vf = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | vm_calc_prot_bits(prot);

	if (flags & VM_MAP_GROWSDOWN)
		vf |= VM_GROWSDOWN;
	if (flags & VM_MAP_LOCKED)
		vf |= VM_LOCKED;
	if (flags & VM_MAP_SYNC)
		vf |= VM_SYNC;           /* whatever the map type: it keeps VMAs apart */
	if (flags & VM_MAP_STACK)
		vf |= VM_NOHUGEPAGE;     /* since Linux 6.7: MAP_STACK implies no THP */
	return vf;
}

/* Linux: accountable_mapping(). */
static bool accountable(uint64_t vm_flags)
{
	return (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE;
}

/* Linux: __mmap_region() — unmap what MAP_FIXED replaces, account, merge
 * with a neighbour or insert a new VMA. */
static long mmap_region(struct vm_kernel *k, struct vm_mm *mm, struct vm_file *file,
			vm_vaddr addr, uint64_t len, uint64_t vm_flags, uint64_t pgoff)
{
	vm_vaddr end = addr + len;
	struct vm_vma *vma, *prev;
	int err;

	if (accountable(vm_flags)) {
		if (vm_enough_memory(k, len >> VM_PAGE_SHIFT))
			return -ENOMEM;
		vm_flags |= VM_ACCOUNT;
	} else if (!file && (vm_flags & VM_SHARED) && !(vm_flags & VM_NORESERVE) &&
		   vm_enough_memory(k, len >> VM_PAGE_SHIFT)) {
		return -ENOMEM;   /* shmem_acct_size() of the shmem object */
	}
	vma = vm_find_vma_prev(mm, addr, &prev);
	if (vma && vma->vm_start < end) {
		err = vm_do_munmap(k, mm, addr, end);   /* MAP_FIXED over mappings */
		if (err)
			return err;
		vma = vm_find_vma_prev(mm, addr, &prev);
	}
	/* mmap_file(): ext4_file_mmap and xfs_file_mmap refuse VM_SYNC on a
	 * file that is not DAX (daxdev_mapping_supported), and no file of the
	 * model is.  This comes after MAP_FIXED cleared the old range, which
	 * stays unmapped (vms_abort_munmap_vmas cannot restore it).  Other
	 * file systems accept VM_SYNC from MAP_SHARED or MAP_PRIVATE. */
	if (file && file->mmap_sync && (vm_flags & VM_SYNC))
		return -EOPNOTSUPP;
	struct vm_merge m = {
		.mm = mm, .prev = prev, .next = vma, .start = addr, .end = end,
		.flags = vm_flags, .pgoff = pgoff, .file = file,
	};
	/* Shared anonymous memory gets a new shmem object: it never merges. */
	if (file || !(vm_flags & VM_SHARED))
		vma = vm_merge_new_range(k, &m);
	else
		vma = NULL;
	if (!vma) {
		if (vm_vma_tree_prealloc(mm))       /* Linux: vma_iter_prealloc() */
			return -ENOMEM;
		vma = vm_vma_new(k);
		if (!vma)
			return -ENOMEM;
		vma->vm_start = addr;
		vma->vm_end = end;
		vma->vm_flags = vm_flags;
		vma->vm_pgoff = pgoff;
		if (file) {
			vma->vm_file = file;
			vm_file_get(file);
		} else if ((vm_flags & VM_SHARED) &&
			   vm_shmem_file_create(k, "/dev/zero (deleted)", VM_SHM_DEV_MINOR, len,
						&vma->vm_file)) {
			/* shmem_zero_setup(): an object of the mapping's size, its
			 * reference held by the VMA. */
			vm_vma_free(k, vma);
			return -ENOMEM;
		}
		vm_vma_link_after(mm, vma, prev);
	}
	vm_stat_account(mm, vm_flags, (int64_t)(len >> VM_PAGE_SHIFT));
	return (long)addr;
}

/* The file behind fd, or -EBADF; *special for an fd that cannot be mapped. */
static int fd_file(struct vm_proc *p, int fd, struct vm_fd **out)
{
	if (fd < 0 || fd >= VM_NOFILE || (!p->fds[fd].file && !p->fds[fd].special))
		return -EBADF;
	*out = &p->fds[fd];
	return 0;
}

/* Linux: the file half of do_mmap()'s checks; adjusts *vm_flags. */
static long mmap_file_checks(const struct vm_fd *f, uint64_t pgoff, uint64_t len, int prot,
			     int flags, uint64_t *vm_flags)
{
	bool can_read = (f->flags & VM_O_ACCMODE) != VM_O_WRONLY;
	bool can_write = (f->flags & VM_O_ACCMODE) != VM_O_RDONLY;
	int flags_mask = LEGACY_MAP_MASK | (f->file && f->file->mmap_sync ? VM_MAP_SYNC : 0);

	/* file_mmap_ok() */
	if (len > MAX_LFS_FILESIZE || pgoff > (MAX_LFS_FILESIZE - len) >> VM_PAGE_SHIFT)
		return -EOVERFLOW;
	switch (flags & VM_MAP_TYPE) {
	case VM_MAP_SHARED:
		flags &= LEGACY_MAP_MASK;
		/* fall through */
	case VM_MAP_SHARED_VALIDATE:
		if (flags & ~flags_mask)
			return -EOPNOTSUPP;
		if ((prot & VM_PROT_WRITE) && !can_write)
			return -EACCES;
		*vm_flags |= VM_SHARED | VM_MAYSHARE;
		if (!can_write)
			*vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
		/* fall through */
	case VM_MAP_PRIVATE:
		if (!can_read)
			return -EACCES;
		if (f->special)
			return -ENODEV;          /* no ->mmap: a directory, a device */
		if (*vm_flags & VM_GROWSDOWN)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

/* Linux: do_mmap() after ksys_mmap_pgoff found the file. */
static long do_mmap(struct vm_kernel *k, struct vm_proc *p, const struct vm_fd *f,
		    vm_vaddr addr, uint64_t len, int prot, int flags, uint64_t pgoff)
{
	struct vm_mm *mm = p->mm;
	struct vm_file *file = f ? f->file : NULL;
	uint64_t vm_flags;
	long ret;

	if (!len)
		return -EINVAL;
	if (flags & VM_MAP_FIXED_NOREPLACE)
		flags |= VM_MAP_FIXED;
	if (!(flags & VM_MAP_FIXED)) {
		/* round_hint_to_min() */
		addr = VM_ALIGN_DOWN(addr, VM_PAGE_SIZE);
		if (addr && addr < vm_mmap_min_addr(k))
			addr = VM_ALIGN_UP(vm_mmap_min_addr(k), VM_PAGE_SIZE);
	}
	len = VM_ALIGN_UP(len, VM_PAGE_SIZE);
	if (!len)
		return -ENOMEM;
	if (pgoff + (len >> VM_PAGE_SHIFT) < pgoff)
		return -EOVERFLOW;
	if (mm->map_count > k->cfg.max_map_count)
		return -ENOMEM;
	vm_flags = mmap_vm_flags(prot, flags);

	ret = vm_get_unmapped_area(k, mm, file, addr, len, pgoff, flags);
	if (vm_is_err(ret))
		return ret;
	addr = (vm_vaddr)ret;
	if (flags & VM_MAP_FIXED_NOREPLACE) {
		struct vm_vma *v = vm_find_vma(mm, addr);
		if (v && v->vm_start < addr + len)
			return -EEXIST;
	}
	if (!mlock_future_ok(mm, vm_flags, len))
		return -EAGAIN;

	if (f) {
		ret = mmap_file_checks(f, pgoff, len, prot, flags, &vm_flags);
		if (ret)
			return ret;
	} else {
		switch (flags & VM_MAP_TYPE) {
		case VM_MAP_SHARED:
			if (vm_flags & VM_GROWSDOWN)
				return -EINVAL;
			pgoff = 0;
			vm_flags |= VM_SHARED | VM_MAYSHARE;
			break;
		case VM_MAP_PRIVATE:
			pgoff = addr >> VM_PAGE_SHIFT;   /* so that neighbours merge */
			break;
		default:
			return -EINVAL;
		}
	}
	if (flags & VM_MAP_NORESERVE)
		vm_flags |= VM_NORESERVE;        /* overcommit_memory != 2 */

	ret = mmap_region(k, mm, file, addr, len, vm_flags, pgoff);
	if (ret >= 0 && ((vm_flags & VM_LOCKED) ||
			 (flags & (VM_MAP_POPULATE | VM_MAP_NONBLOCK)) == VM_MAP_POPULATE))
		/* mm_populate() ignores errors: the mapping stands. */
		vm_populate(k, p, addr, addr + len,
			    (vm_flags & (VM_WRITE | VM_SHARED)) == VM_WRITE);
	return ret;
}

/* Linux: SYSCALL_DEFINE6(mmap) (arch/x86) -> ksys_mmap_pgoff -> do_mmap. */
long vm_sys_mmap(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len, int prot,
		 int flags, int fd, uint64_t off)
{
	struct vm_fd *f = NULL;
	int saved;
	long ret = vm_sys_enter(k, p, &saved);

	if (ret)
		return ret;
	if (off & (VM_PAGE_SIZE - 1)) {
		ret = -EINVAL;
	} else if (!(flags & VM_MAP_ANONYMOUS)) {
		ret = fd_file(p, fd, &f);
		if (!ret && (flags & VM_MAP_HUGETLB))
			ret = -EINVAL;                   /* not a hugetlbfs file */
	} else if (flags & VM_MAP_HUGETLB) {
		ret = -ENOMEM;                           /* no huge pages reserved */
	}
	if (!ret)
		ret = do_mmap(k, p, f, addr, len, prot, flags, off >> VM_PAGE_SHIFT);
	return vm_sys_leave(k, saved, ret, "mmap");
}

/* Linux: vm_mmap() — a mapping the kernel makes for a process (exec's
 * elf_map and bss): a file instead of a descriptor, vm_mmap's offset
 * checks, then do_mmap.  Not a system call: not counted, no debug check;
 * the caller set k->cur_cpu. */
long vm_mmap_kernel(struct vm_kernel *k, struct vm_proc *p, struct vm_file *file, vm_vaddr addr,
		    uint64_t len, int prot, int flags, uint64_t off)
{
	struct vm_fd f = { .file = file, .flags = VM_O_RDONLY };

	if (off + VM_ALIGN_UP(len, VM_PAGE_SIZE) < off || (off & (VM_PAGE_SIZE - 1)))
		return -EINVAL;
	return do_mmap(k, p, file ? &f : NULL, addr, len, prot, flags, off >> VM_PAGE_SHIFT);
}

/* Linux: __vm_munmap() -> do_vmi_munmap(). */
long vm_sys_munmap(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len)
{
	int saved;
	long ret = vm_sys_enter(k, p, &saved);
	vm_vaddr task_size;

	if (ret)
		return ret;
	task_size = p->mm->task_size;
	if ((addr & (VM_PAGE_SIZE - 1)) || addr > task_size || len > task_size - addr)
		ret = -EINVAL;
	else if (!VM_ALIGN_UP(len, VM_PAGE_SIZE))
		ret = -EINVAL;
	else
		ret = vm_do_munmap(k, p->mm, addr, addr + VM_ALIGN_UP(len, VM_PAGE_SIZE));
	return vm_sys_leave(k, saved, ret, "munmap");
}

/* Linux: do_brk_flags() — grow the brk VMA below addr, or add one. */
static int do_brk_flags(struct vm_kernel *k, struct vm_mm *mm, struct vm_vma *vma,
			vm_vaddr addr, uint64_t len)
{
	uint64_t flags = VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT;

	if (mm->map_count > k->cfg.max_map_count)
		return -ENOMEM;
	if (vm_enough_memory(k, len >> VM_PAGE_SHIFT))
		return -ENOMEM;
	if (vma && vma->vm_end == addr) {
		struct vm_merge m = {
			.mm = mm, .prev = vma, .start = addr, .end = addr + len, .flags = flags,
			.pgoff = addr >> VM_PAGE_SHIFT, .just_expand = true,
		};
		if (vm_merge_new_range(k, &m))
			goto out;
	}
	if (vm_vma_tree_prealloc(mm))       /* Linux: vma_iter_prealloc() */
		return -ENOMEM;
	vma = vm_vma_new(k);
	if (!vma)
		return -ENOMEM;
	vma->vm_start = addr;
	vma->vm_end = addr + len;
	vma->vm_flags = flags;
	vma->vm_pgoff = addr >> VM_PAGE_SHIFT;
	vm_vma_link(mm, vma);
out:
	vm_stat_account(mm, flags, (int64_t)(len >> VM_PAGE_SHIFT));
	return 0;
}

/* Linux: SYSCALL_DEFINE1(brk) without CONFIG_COMPAT_BRK. */
static vm_vaddr do_brk(struct vm_kernel *k, struct vm_mm *mm, vm_vaddr brk)
{
	vm_vaddr newbrk, oldbrk;
	struct vm_vma *vma, *next;

	if (brk < mm->start_brk)
		return mm->brk;
	newbrk = VM_ALIGN_UP(brk, VM_PAGE_SIZE);
	oldbrk = VM_ALIGN_UP(mm->brk, VM_PAGE_SIZE);
	if (newbrk < brk)
		return mm->brk;                  /* PAGE_ALIGN wrapped: past any limit */
	if (oldbrk == newbrk) {
		mm->brk = brk;
		return brk;
	}
	if (brk <= mm->brk) {
		/* Always allow shrinking brk, if a VMA lies in [newbrk, oldbrk). */
		vma = vm_find_vma(mm, newbrk);
		if (!vma || vma->vm_start >= oldbrk)
			return mm->brk;
		if (vm_do_munmap(k, mm, newbrk, oldbrk))
			return mm->brk;
		mm->brk = brk;
		return brk;
	}
	/* check_brk_limits(): get_unmapped_area(MAP_FIXED) bounds. */
	if (newbrk - oldbrk > mm->task_size || oldbrk > mm->task_size - (newbrk - oldbrk))
		return mm->brk;
	next = vm_find_vma(mm, oldbrk);
	if (next && newbrk + VM_PAGE_SIZE > vm_vma_start_gap(next, k->cfg.stack_guard_gap))
		return mm->brk;
	vma = next ? vm_vma_prev(next) : vm_vma_last(mm);
	if (vma && vma->vm_end <= mm->start_brk)
		vma = NULL;                      /* vma_prev_limit(start_brk) */
	if (do_brk_flags(k, mm, vma, oldbrk, newbrk - oldbrk))
		return mm->brk;
	mm->brk = brk;
	return brk;
}

long vm_sys_brk(struct vm_kernel *k, struct vm_proc *p, vm_vaddr brk)
{
	int saved;
	long ret = vm_sys_enter(k, p, &saved);

	if (ret)
		return ret;
	ret = (long)do_brk(k, p->mm, brk);
	return vm_sys_leave(k, saved, ret, "brk");
}

/* Linux: acct_stack_growth(). */
static int acct_stack_growth(struct vm_kernel *k, struct vm_vma *vma, uint64_t size,
			     uint64_t grow)
{
	if (size > k->cfg.stack_rlimit)
		return -ENOMEM;
	if (!mlock_future_ok(vma->mm, vma->vm_flags, grow << VM_PAGE_SHIFT))
		return -ENOMEM;
	return vm_enough_memory(k, grow);
}

/* Linux: expand_downwards() (via expand_stack_locked). */
int vm_expand_stack(struct vm_kernel *k, struct vm_vma *vma, vm_vaddr addr)
{
	struct vm_mm *mm = vma->mm;
	struct vm_vma *prev;
	uint64_t size, grow;
	int err;

	if (!(vma->vm_flags & VM_GROWSDOWN))
		return -EFAULT;
	addr = VM_ALIGN_DOWN(addr, VM_PAGE_SIZE);
	if (addr < vm_mmap_min_addr(k))
		return -EPERM;
	prev = vm_vma_prev(vma);
	if (prev && !(prev->vm_flags & VM_GROWSDOWN) && (prev->vm_flags & VM_ACCESS_FLAGS) &&
	    addr - prev->vm_end < k->cfg.stack_guard_gap)
		return -ENOMEM;
	if (addr >= vma->vm_start)
		return 0;
	size = vma->vm_end - addr;
	grow = (vma->vm_start - addr) >> VM_PAGE_SHIFT;
	if (grow > vma->vm_pgoff)
		return -ENOMEM;
	err = acct_stack_growth(k, vma, size, grow);
	if (err)
		return err;
	if (vm_anon_vma_prepare(k, vma))
		return -ENOMEM;
	vm_stat_account(mm, vma->vm_flags, (int64_t)grow);
	vma->vm_start = addr;
	vma->vm_pgoff -= grow;
	vm_vma_update_gaps(mm, vma);
	return 0;
}
