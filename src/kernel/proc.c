/*
 * Processes: creation with the address space an exec of a small program
 * leaves (fs/binfmt_elf.c load_elf_binary, fs/exec.c setup_arg_pages), the
 * file table (openat, close), exit and kill (do_exit), and reaping.
 *
 * The "empty program" a new process runs: a position-independent
 * executable of five pages (as `gcc -O0` makes of an empty main) loaded at
 * ELF_ET_DYN_BASE, whose bss ends at the end of its fifth page; its
 * segments are not mapped (exec and ELF loading come later), only their
 * end matters: the heap starts there.  So with aslr=0 the heap begins at
 * 0x555555559000, as for such a program under `setarch -R`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "base/host.h"
#include "kernel/anon_vma.h"
#include "kernel/mm_internal.h"
#include "kernel/syscalls.h"
#include "kernel/vfs.h"

/* arch/x86/include/asm/elf.h: ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW / 3 * 2. */
#define ELF_IMAGE_PAGES 5u

/* bits random bits from the machine's RNG. */
static uint64_t rnd_bits(struct vm_kernel *k, unsigned bits)
{
	return vm_rng_next(k->rng) & ((UINT64_C(1) << bits) - 1);
}

/* Linux: randomize_stack_top() + arch_align_stack() + PAGE_ALIGN as
 * setup_arg_pages() receives it.  Returns the stack pointer; the stack VMA
 * ends at its page's end. */
static vm_vaddr stack_pointer(struct vm_kernel *k)
{
	vm_vaddr top = k->cfg.map_window;              /* STACK_TOP = TASK_SIZE_LOW */

	if (!k->cfg.aslr)
		return top;
	top -= (vm_rng_next(k->rng) & VM_STACK_RND_MASK) << VM_PAGE_SHIFT;
	top -= vm_rng_below(k->rng, 8192);             /* arch_align_stack() */
	return top & ~UINT64_C(0xf);
}

/* Linux: setup_arg_pages() — the stack VMA, 128 KiB below its top
 * (stack_expand; Linux adds the pages already holding argv and envp, one
 * for a small environment), with the pgoff it keeps from __bprm_mm_init
 * at STACK_TOP_MAX. */
static int setup_stack(struct vm_kernel *k, struct vm_mm *mm)
{
	vm_vaddr sp = stack_pointer(k);
	vm_vaddr end = VM_ALIGN_UP(sp, VM_PAGE_SIZE);
	uint64_t size = VM_MIN(VM_STACK_EXPAND, VM_ALIGN_DOWN(k->cfg.stack_rlimit, VM_PAGE_SIZE));
	struct vm_vma *vma;

	if (vm_vma_tree_prealloc(mm))       /* Linux: vma_iter_prealloc() */
		return -ENOMEM;
	vma = vm_vma_new(k);
	if (!vma)
		return -ENOMEM;
	vma->vm_start = end - size;
	vma->vm_end = end;
	vma->vm_flags = VM_STACK_FLAGS;
	vma->vm_pgoff = (k->cfg.task_size_max >> VM_PAGE_SHIFT) - (size >> VM_PAGE_SHIFT);
	vm_vma_link(mm, vma);
	if (vm_anon_vma_prepare(k, vma)) {             /* exec wrote argv and envp there */
		vm_vma_unlink(mm, vma);
		vm_vma_free(k, vma);
		return -ENOMEM;
	}
	vm_stat_account(mm, vma->vm_flags, (int64_t)vma_pages(vma));
	mm->start_stack = sp - 8;                      /* where argc sits */
	return 0;
}

/* Linux: load_elf_binary()'s load_bias for an ET_DYN with an interpreter,
 * and the brk after its bss (+ a page and arch_randomize_brk() with
 * randomize_va_space 2). */
static void setup_image(struct vm_kernel *k, struct vm_mm *mm)
{
	vm_vaddr base = VM_ALIGN_DOWN(k->cfg.map_window / 3 * 2, VM_PAGE_SIZE);
	vm_vaddr brk;

	if (k->cfg.aslr)
		base += rnd_bits(k, k->cfg.mmap_rnd_bits) << VM_PAGE_SHIFT;
	mm->start_code = base + VM_PAGE_SIZE;
	mm->end_code = base + 2 * VM_PAGE_SIZE;
	mm->start_data = base + (ELF_IMAGE_PAGES - 1) * VM_PAGE_SIZE;
	mm->end_data = base + ELF_IMAGE_PAGES * VM_PAGE_SIZE;
	brk = mm->end_data;
	if (k->cfg.aslr > 1) {
		brk += VM_PAGE_SIZE;
		brk += vm_rng_below(k->rng, VM_BRK_RND_RANGE >> VM_PAGE_SHIFT) << VM_PAGE_SHIFT;
	}
	mm->start_brk = mm->brk = brk;
}

static int add_slot(struct vm_kernel *k, struct vm_proc *p)
{
	for (unsigned i = 0; i < k->procs_cap; i++)
		if (!k->procs[i]) {
			k->procs[i] = p;
			k->nprocs++;
			return 0;
		}
	unsigned cap = k->procs_cap ? k->procs_cap * 2 : 8;
	struct vm_proc **n = vm_host_calloc(k->host, cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (k->procs_cap)
		memcpy(n, k->procs, k->procs_cap * sizeof(*n));
	vm_host_free(k->host, k->procs);
	n[k->procs_cap] = p;
	k->procs = n;
	k->procs_cap = cap;
	k->nprocs++;
	return 0;
}

int vm_proc_alloc(struct vm_kernel *k, const char *name, struct vm_proc **out)
{
	struct vm_proc *p = vm_host_calloc(k->host, 1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fds = vm_host_calloc(k->host, VM_NOFILE, sizeof(*p->fds));
	if (!p->fds || add_slot(k, p)) {
		vm_host_free(k->host, p->fds);
		vm_host_free(k->host, p);
		return -ENOMEM;
	}
	p->pid = p->tgid = k->next_pid++;
	p->cpu = (unsigned)p->pid % k->ncpus;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	p->state = VM_PROC_RUNNING;
	*out = p;
	return 0;
}

int vm_proc_create(struct vm_kernel *k, const char *name, struct vm_proc **out)
{
	struct vm_mm *mm;
	int err = vm_mm_create(k, &mm);

	*out = NULL;
	if (err)
		return err;
	err = setup_stack(k, mm);
	if (!err)
		err = vm_proc_alloc(k, name, out);
	if (err) {
		vm_mm_put(k, mm);
		return err;
	}
	setup_image(k, mm);
	(*out)->mm = mm;
	return 0;
}

struct vm_proc *vm_proc_find(struct vm_kernel *k, int pid)
{
	for (unsigned i = 0; i < k->procs_cap; i++)
		if (k->procs[i] && k->procs[i]->pid == pid)
			return k->procs[i];
	return NULL;
}

void vm_proc_vfork_done(struct vm_kernel *k, struct vm_proc *p)
{
	struct vm_proc *parent = p->ppid ? vm_proc_find(k, p->ppid) : NULL;

	if (parent && parent->vfork_child == p->pid)
		parent->vfork_child = 0;
}

/* Linux: forget_original_parent() — children of an exiting process have
 * no parent to wait for them (init would reap them; the model has none). */
static void reparent_children(struct vm_kernel *k, const struct vm_proc *p)
{
	for (unsigned i = 0; i < k->procs_cap; i++)
		if (k->procs[i] && k->procs[i]->ppid == p->pid && k->procs[i] != p)
			k->procs[i]->ppid = 0;
}

/* Linux: close_files() + exit_mm() (with mm_release, which wakes a vfork
 * parent) + exit_notify() as do_exit() runs them. */
static void release(struct vm_kernel *k, struct vm_proc *p)
{
	for (int fd = 0; p->fds && fd < VM_NOFILE; fd++)
		if (p->fds[fd].file || p->fds[fd].special) {
			vm_file_put(k, p->fds[fd].file);
			p->fds[fd] = (struct vm_fd){ 0 };
		}
	p->vfork_child = 0;      /* a vfork parent killed while it waits */
	if (p->mm) {
		int saved = k->cur_cpu;
		vm_proc_vfork_done(k, p);
		/* Linux: exit_mm() -> enter_lazy_tlb(): the CPU keeps the tables
		 * loaded but no longer runs the mm, so flushes of the mm (by the
		 * threads that live on) do not interrupt it; it catches up when
		 * it runs the mm again (the PCID slot, kernel.c). */
		if (p->cpu < k->ncpus && k->cpu_mm[p->cpu] == p->mm)
			k->cpu_mm[p->cpu] = NULL;
		k->cur_cpu = (int)p->cpu;
		vm_mm_put(k, p->mm);
		k->cur_cpu = saved;
		p->mm = NULL;
	}
	if (p->tgid == p->pid)
		reparent_children(k, p);
}

static void kill_one(struct vm_kernel *k, struct vm_proc *p, const struct vm_siginfo *sig)
{
	p->state = VM_PROC_KILLED;
	p->sig = *sig;
	p->exit_code = 128 + sig->signo;       /* as a shell reports it */
	release(k, p);
}

void vm_proc_kill(struct vm_kernel *k, struct vm_proc *p, const struct vm_siginfo *sig)
{
	if (!p || p->state != VM_PROC_RUNNING)
		return;
	int tgid = p->tgid;
	kill_one(k, p, sig);
	/* Linux: do_group_exit() — the other threads die with it. */
	for (unsigned i = 0; i < k->procs_cap; i++) {
		struct vm_proc *t = k->procs[i];
		if (t && t->tgid == tgid && t->state == VM_PROC_RUNNING)
			kill_one(k, t, sig);
	}
}

void vm_sys_exit(struct vm_kernel *k, struct vm_proc *p, int code)
{
	if (!p || p->state != VM_PROC_RUNNING)
		return;
	k->stats->syscalls++;
	p->state = VM_PROC_EXITED;
	p->exit_code = code;
	release(k, p);
	VM_DEBUG_CHECK(k, "exit");
}

void vm_proc_reap(struct vm_kernel *k, struct vm_proc *p)
{
	if (!p)
		return;
	release(k, p);
	for (unsigned i = 0; i < k->procs_cap; i++)
		if (k->procs[i] == p) {
			k->procs[i] = NULL;
			k->nprocs--;
		}
	vm_host_free(k->host, p->fds);
	vm_host_free(k->host, p);
}

/* Linux: do_sys_openat2() — a descriptor first (get_unused_fd_flags, the
 * lowest free one), then the path.  A file opened for writing is written
 * in memory only (vm_file_open_write: docs/files.md). */
long vm_sys_openat(struct vm_kernel *k, struct vm_proc *p, const char *path, int flags)
{
	struct vm_file *f = NULL;
	int saved, fd;
	long ret = vm_sys_enter(k, p, &saved);

	if (ret)
		return ret;
	for (fd = 0; fd < VM_NOFILE && (p->fds[fd].file || p->fds[fd].special); fd++)
		;
	if (fd == VM_NOFILE)
		return vm_sys_leave(k, saved, -EMFILE, "openat");
	ret = vm_file_open(k, path, &f);
	if ((flags & VM_O_ACCMODE) != VM_O_RDONLY) {
		/* Writing a directory is EISDIR; devices and new files are not
		 * modelled (EROFS). */
		if (!ret)
			ret = vm_file_open_write(k, f, path);
		else if (ret == -ENODEV || (ret == -ENOENT && (flags & VM_O_CREAT)))
			ret = -EROFS;
		if (ret) {
			vm_file_put(k, f);
			return vm_sys_leave(k, saved, ret, "openat");
		}
	}
	if (ret == -EISDIR || ret == -ENODEV)
		p->fds[fd] = (struct vm_fd){ .flags = flags & VM_O_ACCMODE, .special = true };
	else if (!ret)
		p->fds[fd] = (struct vm_fd){ .file = f, .flags = flags & VM_O_ACCMODE };
	else
		return vm_sys_leave(k, saved, ret, "openat");
	return vm_sys_leave(k, saved, fd, "openat");
}

long vm_sys_close(struct vm_kernel *k, struct vm_proc *p, int fd)
{
	int saved;
	long ret = vm_sys_enter(k, p, &saved);

	if (ret)
		return ret;
	if (fd < 0 || fd >= VM_NOFILE || (!p->fds[fd].file && !p->fds[fd].special))
		return vm_sys_leave(k, saved, -EBADF, "close");
	vm_file_put(k, p->fds[fd].file);
	p->fds[fd] = (struct vm_fd){ 0 };
	return vm_sys_leave(k, saved, 0, "close");
}
