/*
 * ELF64 x86-64 executables as Linux's exec reads them (fs/binfmt_elf.c):
 * the header and program-header checks of load_elf_binary, load_elf_phdrs
 * and the interpreter's, in Linux's order and with Linux's errno, and the
 * arithmetic of loading one PT_LOAD (elf_load, elf_map, padzero,
 * vm_brk_flags) as a plan that exec.c carries out in an address space.
 *
 * Written from the ELF specification (System V ABI, its x86-64 supplement,
 * man 5 elf); the constants are spelled here with a VM_ prefix so that the
 * model does not depend on the host's <elf.h> (tests/unit/test_elf.c checks
 * them against it).
 *
 * Two kinds of verdict, as in Linux:
 *   - before the point of no return (begin_new_exec): execve returns
 *     -errno and the old program goes on: vm_elf_parse's errors;
 *   - after it, the old address space is gone and Linux kills the process
 *     with SIGSEGV: vm_elf_check_load's and vm_elf_validate's errors, and
 *     whatever mmap refuses while the segments are mapped.
 */
#ifndef VM_KERNEL_ELF_H
#define VM_KERNEL_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmlab/types.h>

/* e_ident */
#define VM_EI_NIDENT      16
#define VM_EI_CLASS       4
#define VM_EI_DATA        5
#define VM_ELFCLASS32     1
#define VM_ELFCLASS64     2
#define VM_ELFDATA2LSB    1
#define VM_ELFDATA2MSB    2

/* e_type, e_machine */
#define VM_ET_REL         1
#define VM_ET_EXEC        2
#define VM_ET_DYN         3
#define VM_ET_CORE        4
#define VM_EM_386         3
#define VM_EM_X86_64      62

/* p_type, p_flags */
#define VM_PT_NULL         0
#define VM_PT_LOAD         1
#define VM_PT_DYNAMIC      2
#define VM_PT_INTERP       3
#define VM_PT_NOTE         4
#define VM_PT_PHDR         6
#define VM_PT_TLS          7
#define VM_PT_GNU_EH_FRAME 0x6474e550u
#define VM_PT_GNU_STACK    0x6474e551u
#define VM_PT_GNU_RELRO    0x6474e552u
#define VM_PT_GNU_PROPERTY 0x6474e553u
#define VM_ELF_PF_X            1u
#define VM_ELF_PF_W            2u
#define VM_ELF_PF_R            4u

/* Sizes of the 64-bit structures (Elf64_Ehdr, Elf64_Phdr). */
#define VM_ELF_EHDR_SIZE  64
#define VM_ELF_PHDR_SIZE  56

/* load_elf_phdrs(): the program headers take at most 64 KiB, so at most
 * 65536 / 56 = 1170 of them (measured on 6.18: 74 headers pass, the
 * one-page limit of older kernels is gone). */
#define VM_ELF_PHDR_MAX   (65536 / VM_ELF_PHDR_SIZE)
/* PATH_MAX: the longest PT_INTERP, its NUL included. */
#define VM_ELF_PATH_MAX   4096
/* BINPRM_BUF_SIZE: the bytes of the file exec reads first (zero padded). */
#define VM_BINPRM_BUF_SIZE 256

/* Elf64_Phdr, host byte order. */
struct vm_elf_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/* Linux's EXSTACK_*: what PT_GNU_STACK asks for the stack. */
enum vm_elf_stack {
	VM_ELF_STACK_DEFAULT,   /* no PT_GNU_STACK: x86-64 makes it non-executable */
	VM_ELF_STACK_NOEXEC,    /* PT_GNU_STACK without PF_X */
	VM_ELF_STACK_EXEC,      /* PT_GNU_STACK with PF_X */
};

/* A parsed executable or interpreter.  Addresses are the file's (before
 * the load bias). */
struct vm_elf_image {
	uint16_t type;                 /* VM_ET_EXEC or VM_ET_DYN (an interpreter may
					* be anything: load_elf_interp checks late) */
	uint16_t machine;
	uint64_t entry;                /* e_entry */
	uint64_t phoff;                /* e_phoff */
	uint16_t phnum;                /* 1..VM_ELF_PHDR_MAX */
	struct vm_elf_phdr ph[VM_ELF_PHDR_MAX];
	unsigned nload;                /* PT_LOAD headers */
	bool has_interp;               /* a PT_INTERP (the first one counts) */
	char interp[VM_ELF_PATH_MAX];  /* its path, NUL terminated */
	enum vm_elf_stack stack;       /* from the last PT_GNU_STACK */
	uint64_t total_size;           /* total_mapping_size(): last PT_LOAD's end minus
					* the first's page start (wraps as Linux's does) */
	uint64_t alignment;            /* maximum_alignment(): the largest power-of-two
					* p_align of a PT_LOAD, at least a page */
};

/* Reading the file: up to len bytes at off into buf; returns the bytes
 * read (fewer at the end of the file) or -errno. */
struct vm_elf_reader {
	long (*read)(void *ctx, void *buf, size_t len, uint64_t off);
	void *ctx;
	const char *name;              /* for messages: vmlab: NAME: what is wrong */
};

/* Parse an executable: the checks of load_elf_binary up to the point of no
 * return, in its order.  0, or -errno with err (err->file = r->name, line
 * 0) saying what is wrong:
 *   -ENOEXEC  not ELF (magic), not ET_EXEC/ET_DYN, not x86-64, not
 *             ELFCLASS64 little endian (a kernel without ia32 emulation),
 *             e_phentsize not 56, no or more than 1170 program headers, headers
 *             beyond the end of the file, PT_INTERP shorter than 2 or
 *             longer than PATH_MAX bytes or not NUL terminated;
 *   -EIO      PT_INTERP's bytes beyond the end of the file (elf_read);
 *   or what r->read returns.
 * The interpreter is not opened here (exec.c does: open_exec). */
int vm_elf_parse(const struct vm_elf_reader *r, struct vm_elf_image *img, struct vm_error *err);

/* Parse an interpreter, as load_elf_binary checks it before the point of
 * no return: its first 64 bytes (-EIO when the file is shorter), then
 * -ELIBBAD for a wrong magic, a machine other than x86-64, or program
 * headers load_elf_phdrs refuses.  Its type is checked later
 * (vm_elf_check_interp). */
int vm_elf_parse_interp(const struct vm_elf_reader *r, struct vm_elf_image *img,
			struct vm_error *err);

/* What elf_load() does for one PT_LOAD mapped at address addr (the
 * segment's p_vaddr plus the load bias), in the order it does it:
 *   1. a private file mapping [map_start, map_start + map_len) of the file
 *      from offset map_off, when map_len != 0 (elf_map);
 *   2. zeroing [zero_start, zero_end) (padzero: the rest of the page after
 *      the file's bytes), when zero_end > zero_start;
 *   3. an anonymous mapping [bss_start, bss_end) (vm_brk_flags), when
 *      bss_end > bss_start.
 * Everything wraps as Linux's unsigned long arithmetic does; mmap's own
 * checks (an unaligned offset is -EINVAL) decide what a wrapped value
 * means. */
struct vm_elf_load {
	vm_vaddr map_start;
	uint64_t map_len;
	uint64_t map_off;
	vm_vaddr zero_start, zero_end;
	vm_vaddr bss_start, bss_end;
	int prot;                      /* VM_PROT_* from p_flags (make_prot) */
};
void vm_elf_plan_load(const struct vm_elf_phdr *ph, vm_vaddr addr, struct vm_elf_load *out);

/* The checks load_elf_binary makes after mapping segment i (unbiased
 * p_vaddr against task_size: BAD_ADDR, p_filesz > p_memsz, p_memsz beyond
 * task_size): 0 or -EINVAL with err. */
int vm_elf_check_load(const struct vm_elf_image *img, unsigned i, uint64_t task_size,
		      struct vm_error *err, const char *name);

/* load_elf_interp's checks for segment i loaded with load_addr: the same
 * as above with the biased address, -ENOMEM (Linux's errno there). */
int vm_elf_check_interp_load(const struct vm_elf_image *img, unsigned i, uint64_t load_addr,
			     uint64_t task_size, struct vm_error *err, const char *name);

/* Everything about the image that would make its loading fail after the
 * point of no return whatever the address space holds (the process is
 * then killed by SIGSEGV), in Linux's order: ET_DYN without PT_LOAD or
 * with a total size of 0 (-EINVAL), an unaligned file offset
 * (p_offset - p_vaddr not a multiple of the page: -EINVAL from mmap), a
 * mapping whose length wraps (-EINVAL or -ENOMEM as mmap says), a segment
 * vm_elf_check_load refuses (-EINVAL), an entry point beyond task_size
 * (-EINVAL, only without an interpreter).  interp: check as an interpreter
 * (its type too; errors as load_elf_interp returns them).  0 or -errno
 * with err. */
int vm_elf_validate(const struct vm_elf_image *img, bool interp, uint64_t task_size,
		    struct vm_error *err, const char *name);

/* Linux make_prot() on x86-64 (no arch protections): PF_R/W/X to PROT_*. */
int vm_elf_prot(uint32_t p_flags);

/* A one-line name of a p_type ("LOAD", "GNU_STACK", "0x70000001"); buf
 * holds at least 16 bytes.  Returns buf or a constant string. */
const char *vm_elf_ptype_name(uint32_t type, char *buf, size_t len);

#endif
