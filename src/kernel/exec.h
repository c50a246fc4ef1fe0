/*
 * execve of ELF64 x86-64 programs from the host's files, as Linux 6.18
 * does it (fs/exec.c do_execveat_common, bprm_execve, begin_new_exec,
 * setup_arg_pages; fs/binfmt_elf.c load_elf_binary, load_elf_interp,
 * create_elf_tables; arch/x86/entry/vdso/vma.c map_vdso).  docs/exec.md
 * has the whole story, the initial stack and what is not modelled.
 */
#ifndef VM_KERNEL_EXEC_H
#define VM_KERNEL_EXEC_H

#include <stdint.h>

#include <vmlab/types.h>

#include "kernel/kernel.h"
#include "kernel/proc.h"

/* Auxiliary vector types (include/uapi/linux/auxvec.h,
 * arch/x86/include/uapi/asm/auxvec.h). */
#define VM_AT_NULL              0
#define VM_AT_PHDR              3
#define VM_AT_PHENT             4
#define VM_AT_PHNUM             5
#define VM_AT_PAGESZ            6
#define VM_AT_BASE              7
#define VM_AT_FLAGS             8
#define VM_AT_ENTRY             9
#define VM_AT_UID               11
#define VM_AT_EUID              12
#define VM_AT_GID               13
#define VM_AT_EGID              14
#define VM_AT_PLATFORM          15
#define VM_AT_HWCAP             16
#define VM_AT_CLKTCK            17
#define VM_AT_SECURE            23
#define VM_AT_RANDOM            25
#define VM_AT_HWCAP2            26
#define VM_AT_RSEQ_FEATURE_SIZE 27
#define VM_AT_RSEQ_ALIGN        28
#define VM_AT_EXECFN            31
#define VM_AT_SYSINFO_EHDR      33
#define VM_AT_MINSIGSTKSZ       51

/* Entries in the auxiliary vector exec writes, AT_NULL included. */
#define VM_AUXV_ENTRIES 23

/* The special mappings map_vdso() installs on the host's 6.18 kernel
 * (measured: maps and smaps of a process stopped at its first
 * instruction): [vvar] 4 pages, [vvar_vclock] 2, [vdso] 2. */
#define VM_VVAR_PAGES   4u
#define VM_VCLOCK_PAGES 2u
#define VM_VDSO_PAGES   2u

/* The uid and gid of the model's processes: an unprivileged user. */
#define VM_EXEC_UID 1000u

/* What an exec set up, for tests and the scenario's figures.  Addresses
 * are in the new address space. */
struct vm_exec_info {
	vm_vaddr entry;               /* where the program starts running: the interpreter's
				       * entry, or the program's without one */
	vm_vaddr sp;                  /* the initial stack pointer (argc is there) */
	vm_vaddr load_bias;           /* added to the program's addresses (0 for ET_EXEC) */
	vm_vaddr interp_base;         /* AT_BASE: the interpreter's load address, or 0 */
	vm_vaddr vdso;                /* AT_SYSINFO_EHDR: the [vdso] text */
	vm_vaddr stack_top;           /* the end of the stack VMA */
	vm_vaddr arg_start, arg_end;  /* argv strings */
	vm_vaddr env_start, env_end;  /* envp strings */
	vm_vaddr execfn;              /* AT_EXECFN: the file name as given */
	uint64_t argc, envc;
	uint64_t auxv[2 * VM_AUXV_ENTRIES];  /* (type, value) pairs as written, AT_NULL last */
};

/* execve(path, argv, envp) by p.  argv and envp are NULL-terminated arrays
 * of strings (NULL: none; an empty argv gets one empty string, as Linux
 * 5.18+ does).  The file is a host file (read, never written).
 *
 * Before the point of no return the process keeps its program and the
 * call returns -errno: -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG (the
 * path), -EACCES (a directory, not a regular file, no execute
 * permission), -E2BIG (strings beyond the limits of bprm_stack_limits and
 * MAX_ARG_STRLEN), -ENOEXEC and -EIO (vm_elf_parse; also a #! script, not
 * modelled), the interpreter's -ENOENT / -EACCES / -EIO / -ELIBBAD,
 * -ENOMEM, -ESRCH (a dead process), -EFAULT (path NULL).
 *
 * After it the old address space is gone; a failure to load (a segment
 * mmap refuses, vm_elf_check_load, the interpreter) kills p with SIGSEGV,
 * as Linux does, and returns that failure's -errno (which Linux's caller
 * never sees).  0: p runs the new program; *info (may be NULL) says
 * where.  err (may be NULL) gets a one-line message for any failure. */
int vm_sys_execve(struct vm_kernel *k, struct vm_proc *p, const char *path,
		  const char *const *argv, const char *const *envp, struct vm_exec_info *info,
		  struct vm_error *err);

#endif
