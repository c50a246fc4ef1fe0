/*
 * What exec.c (the system call, the strings, the stack) and exec_load.c
 * (mapping the program, its interpreter and the vDSO) share: Linux's
 * struct linux_binprm, reduced to what the model needs.
 */
#ifndef VM_KERNEL_EXEC_INTERNAL_H
#define VM_KERNEL_EXEC_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/elf.h"
#include "kernel/exec.h"
#include "kernel/mm_internal.h"
#include "kernel/vfs.h"

/* arch/x86/include/asm/elf.h: ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW / 3 * 2
 * (0x555555554aaa; the load bias masks it to a page). */
#define VM_ELF_ET_DYN_BASE(k) ((k)->cfg.map_window / 3 * 2)

/* One file exec reads and maps: the program or its interpreter. */
struct vm_exec_file {
	char path[PATH_MAX];          /* resolved (realpath): the name maps shows */
	int fd;                       /* host descriptor for the headers; -1 = none */
	unsigned char head[4096];     /* the file's first page, read once: the headers */
	long head_len;                /* bytes in head; -1 = not read yet */
	struct vm_elf_reader reader;
	struct vm_elf_image *img;     /* host memory */
	struct vm_file *file;         /* one reference, for the mappings */
};

struct vm_bprm {
	struct vm_kernel *k;
	struct vm_proc *p;
	struct vm_error *err;         /* never NULL (a local one if the caller gave none) */
	const char *filename;         /* as given: AT_EXECFN, comm */
	struct vm_exec_file exe, interp;
	bool has_interp;

	/* The strings, as copy_strings lays them out below STACK_TOP_MAX - 8:
	 * argv, then envp, then the file name, each NUL terminated. */
	const char *const *argv, *const *envp;
	uint64_t argc, envc;
	char *strings;                /* host memory, strings_len bytes */
	uint64_t strings_len;

	/* Set while loading (exec_load.c), in the new address space. */
	vm_vaddr load_bias, entry, e_entry, phdr_addr, interp_base, vdso;
	vm_vaddr start_code, end_code, start_data, end_data, elf_brk;
	bool point_of_no_return;
};

/* exec_load.c: map the program's PT_LOADs (load_elf_binary's loop), then
 * the interpreter (load_elf_interp) and the vDSO (map_vdso); set the
 * fields above.  0 or -errno with b->err. */
int vm_exec_load_program(struct vm_bprm *b);
int vm_exec_load_interp(struct vm_bprm *b);
int vm_exec_map_vdso(struct vm_bprm *b);

/* Linux arch_mmap_rnd(): a page-granular random offset of mmap_rnd_bits
 * bits when the process randomises (aslr >= 1), else 0. */
uint64_t vm_exec_mmap_rnd(struct vm_kernel *k);

#endif
