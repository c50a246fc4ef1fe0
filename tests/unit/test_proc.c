/*
 * Processes (src/kernel/proc.c) and stack growth (vm_expand_stack in
 * mmap.c): pids and CPUs, the file table (openat, close and their errno),
 * exit and kill releasing everything, reaping, and the stack growing on a
 * fault below it within RLIMIT_STACK and outside the guard gap of the
 * mapping below (Linux expand_downwards / acct_stack_growth).
 */
#include "tap.h"
#include "kernel_fixture.h"
#include "kernel/vfs.h"

#define STACK_END UINT64_C(0x7ffffffff000)

static void test_procs(void)
{
	const char *const w[] = { "cpus=4", NULL };
	struct kfx *f = kfx_new_with(w);
	struct vm_proc *p2, *p3;
	struct vm_stats st0, st1;

	is_i64(f->p->pid, 1, "first pid 1");
	is_u64(f->p->cpu, 1, "runs on CPU pid %% ncpus");
	ok(vm_proc_create(f->k, "two", &p2) == 0 && p2->pid == 2 && p2->cpu == 2, "pid 2 on CPU 2");
	ok(vm_proc_find(f->k, 2) == p2 && vm_proc_find(f->k, 9) == NULL, "find by pid");
	is_str(p2->name, "two", "name kept");
	ok(p2->mm != f->p->mm && p2->mm->pcid != f->p->mm->pcid, "own address space and PCID");
	vmlab_machine_stats(f->m, &st0);
	ok(vm_proc_create(f->k, "three", &p3) == 0, "a third");
	is_i64(vm_sys_mmap(f->k, p3, 0, 4 * PG, RW, PRIV_ANON | VM_MAP_POPULATE, -1, 0), 0x7ffff7ffb000,
	       "it maps and populates four pages");
	vm_sys_exit(f->k, p3, 7);
	is_u64(p3->state, VM_PROC_EXITED, "exited");
	ok(vm_proc_find(f->k, 3) == p3, "a zombie stays findable");
	vm_proc_reap(f->k, p3);
	ok(vm_proc_find(f->k, 3) == NULL, "reaped");
	vmlab_machine_stats(f->m, &st1);
	is_u64(st1.frames_free, st0.frames_free, "every frame it held is free again");
	struct vm_siginfo sig = { .signo = VM_SIGSEGV, .code = VM_SEGV_MAPERR, .reason = "test" };
	vm_proc_kill(f->k, p2, &sig);
	is_u64(p2->state, VM_PROC_KILLED, "killed");
	is_i64(p2->exit_code, 128 + VM_SIGSEGV, "exit code 128 + signal");
	is_i64(vm_sys_brk(f->k, p2, 0), -ESRCH, "system calls of a dead process: ESRCH");
	is_i64(kfx_check(f, "kill"), 0, "consistent");
	kfx_free(f);
}

static void test_files(void)
{
	struct kfx *f = kfx_new();
	long fd;

	is_i64(vm_sys_openat(f->k, f->p, "/nonexistent/x", VM_O_RDONLY), -ENOENT, "no such file");
	is_i64(vm_sys_openat(f->k, f->p, "/nonexistent/y", VM_O_RDWR | VM_O_CREAT), -EROFS,
	       "creating a file: EROFS (not modelled; writing one is test_writeback's)");
	is_i64(vm_sys_openat(f->k, f->p, "/tmp", VM_O_WRONLY), -EISDIR, "a directory for writing");
	fd = vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY);
	is_i64(fd, 0, "the lowest free descriptor: 0");
	is_i64(vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY), 1, "then 1");
	struct vm_file *file = f->p->fds[0].file;
	is_u64(file->refs, 2, "one file, two references");
	is_i64(vm_sys_close(f->k, f->p, 0), 0, "close 0");
	is_i64(vm_sys_close(f->k, f->p, 0), -EBADF, "close it again: EBADF");
	is_i64(vm_sys_close(f->k, f->p, -1), -EBADF, "close -1: EBADF");
	is_i64(vm_sys_close(f->k, f->p, VM_NOFILE), -EBADF, "close beyond the table: EBADF");
	is_i64(vm_sys_openat(f->k, f->p, "/etc/hostname", VM_O_RDONLY), 0, "0 is reused");
	is_i64(vm_sys_openat(f->k, f->p, "/tmp", VM_O_RDONLY), 2, "a directory can be opened");
	for (int i = 3; i < VM_NOFILE; i++)
		vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY);
	is_i64(vm_sys_openat(f->k, f->p, "/etc/passwd", VM_O_RDONLY), -EMFILE, "the table full: EMFILE");
	is_u64(file->refs, VM_NOFILE - 3 + 1, "references counted");
	is_i64(kfx_check(f, "files"), 0, "consistent");
	vm_sys_exit(f->k, f->p, 0);
	is_i64(kfx_check(f, "exit"), 0, "exit closed every descriptor");
	kfx_free(f);
}

static void test_stack(void)
{
	struct kfx *f = kfx_new();
	struct vm_mm *mm = f->p->mm;
	struct vm_vma *st = vm_vma_last(mm);

	is_u64(st->vm_start, STACK_END - KB(128), "128 KiB stack");
	is_i64(kfx_touch(f, STACK_END - KB(128) - 1, 1, VM_ACC_WRITE), 0, "a write just below it");
	is_u64(st->vm_start, STACK_END - KB(132), "the stack grew by a page");
	is_u64(mm->stack_vm, 33, "VmStk 33 pages");
	is_i64(kfx_touch(f, STACK_END - MB(4), 8, VM_ACC_WRITE), 0, "4 MiB down: grows");
	is_u64(st->vm_start, STACK_END - MB(4), "to the faulting page");
	is_i64(kfx_touch(f, STACK_END - MB(8), 8, VM_ACC_WRITE), 0, "exactly 8 MiB (RLIMIT_STACK)");
	is_i64(kfx_touch(f, STACK_END - MB(8) - 1, 1, VM_ACC_WRITE), VM_SIGSEGV, "one byte more: SIGSEGV");
	is_u64(f->p->sig.code, VM_SEGV_MAPERR, "SEGV_MAPERR");
	kfx_free(f);

	f = kfx_new();
	st = vm_vma_last(f->p->mm);
	vm_vaddr below = STACK_END - KB(128) - MB(2);
	is_i64(MMAP(f, below, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), below,
	       "a mapping 2 MiB below the stack");
	is_i64(kfx_touch(f, below + PG + MB(1), 1, VM_ACC_WRITE), 0, "1 MiB above it: grows");
	is_i64(kfx_touch(f, below + PG + MB(1) - PG, 1, VM_ACC_WRITE), VM_SIGSEGV,
	       "within the 1 MiB guard gap: SIGSEGV");
	kfx_free(f);

	const char *const w[] = { "stack_guard_gap=0", "stack_limit=256K", NULL };
	f = kfx_new_with(w);
	st = vm_vma_last(f->p->mm);
	is_i64(kfx_touch(f, STACK_END - KB(256), 1, VM_ACC_WRITE), 0, "stack_limit=256K: 256 KiB fine");
	is_i64(kfx_touch(f, STACK_END - KB(256) - 1, 1, VM_ACC_WRITE), VM_SIGSEGV, "beyond: SIGSEGV");
	kfx_free(f);

	f = kfx_new_with(w);
	vm_vaddr g = STACK_END - KB(128) - 2 * PG;
	is_i64(MMAP(f, g, PG, RW, PRIV_ANON | VM_MAP_FIXED, -1, 0), g, "a page right under the gap");
	is_i64(kfx_touch(f, g + PG, 1, VM_ACC_WRITE), 0, "stack_guard_gap=0: grows to touch it");
	is_u64(vm_vma_last(f->p->mm)->vm_start, g + PG, "adjacent now");
	is_u64(f->bad_checks, 0, "kernel consistent after every step");
	kfx_free(f);
}

int main(void)
{
	test_procs();
	test_files();
	test_stack();
	return done_testing();
}
