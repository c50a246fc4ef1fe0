/*
 * Mapping a program into a fresh address space, as Linux's
 * fs/binfmt_elf.c does after the point of no return: each PT_LOAD as a
 * private file mapping with its protections (elf_map), the rest of its
 * last file page zeroed (padzero) and its bss as anonymous memory
 * (vm_brk_flags), all through elf_load(); the load bias of a PIE; the
 * interpreter (load_elf_interp) placed top-down in the mmap area; then
 * the vDSO (arch/x86/entry/vdso/vma.c map_vdso).  Every mapping is a
 * real mmap of the model (vm_mmap_kernel), so errno values and placement
 * follow mmap's rules.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "base/error.h"
#include "kernel/exec_internal.h"
#include "kernel/fault.h"
#include "kernel/uapi.h"

static inline uint64_t pagestart(uint64_t v) { return v & ~(VM_PAGE_SIZE - 1); }

/* Linux: BAD_ADDR() — an address at or beyond TASK_SIZE (error values
 * included). */
static bool bad_addr(const struct vm_bprm *b, long v)
{
	return (uint64_t)v >= b->p->mm->task_size;
}

/* load_elf_binary: retval = IS_ERR_VALUE(error) ? PTR_ERR(error) : -EINVAL. */
static int load_error(long v)
{
	return vm_is_err(v) ? (int)v : -EINVAL;
}

uint64_t vm_exec_mmap_rnd(struct vm_kernel *k)
{
	if (!k->cfg.aslr)
		return 0;
	return (vm_rng_next(k->rng) & ((UINT64_C(1) << k->cfg.mmap_rnd_bits) - 1)) << VM_PAGE_SHIFT;
}

/* Linux: elf_map() — the file part; with total_size (the first segment of
 * an ET_DYN) the whole image is mapped to reserve its room and the part
 * beyond this segment unmapped again. */
static long elf_map(struct vm_bprm *b, struct vm_file *file, const struct vm_elf_load *l,
		    int flags, uint64_t total)
{
	if (!l->map_len)
		return (long)l->map_start;
	if (!total)
		return vm_mmap_kernel(b->k, b->p, file, l->map_start, l->map_len, l->prot, flags,
				      l->map_off);
	total = VM_ALIGN_UP(total, VM_PAGE_SIZE);
	long addr = vm_mmap_kernel(b->k, b->p, file, l->map_start, total, l->prot, flags, l->map_off);
	if (!bad_addr(b, addr) && total > l->map_len)
		(void)vm_do_munmap(b->k, b->p->mm, (vm_vaddr)addr + l->map_len, (vm_vaddr)addr + total);
	return addr;
}

/* Linux: elf_load() — returns the address of the segment's first page or
 * an error value (bad_addr). */
static long elf_load(struct vm_bprm *b, struct vm_file *file, vm_vaddr addr,
		     const struct vm_elf_phdr *ph, int flags, uint64_t total)
{
	struct vm_elf_load l;
	long map_addr;

	vm_elf_plan_load(ph, addr, &l);
	if (ph->filesz) {
		map_addr = elf_map(b, file, &l, flags, total);
		if (bad_addr(b, map_addr))
			return map_addr;
		if ((vm_vaddr)map_addr != l.map_start)
			vm_elf_plan_load(ph, (vm_vaddr)map_addr, &l);
		/* padzero(): a failure only matters for a writable segment. */
		if (l.zero_end > l.zero_start &&
		    vm_copy_to_user(b->k, b->p, l.zero_start, NULL, l.zero_end - l.zero_start) &&
		    (l.prot & VM_PROT_WRITE))
			return -EFAULT;
	} else {
		map_addr = (long)l.map_start;
	}
	if (l.bss_end != l.bss_start) {
		/* vm_brk_flags(): anonymous, read-write, executable if the
		 * segment is. */
		long r = vm_mmap_kernel(b->k, b->p, NULL, l.bss_start, l.bss_end - l.bss_start,
					VM_PROT_READ | VM_PROT_WRITE | (l.prot & VM_PROT_EXEC),
					VM_MAP_PRIVATE | VM_MAP_ANONYMOUS | VM_MAP_FIXED, 0);
		if (vm_is_err(r))
			map_addr = r;
	}
	return map_addr;
}

static int fail_segment(struct vm_bprm *b, const struct vm_exec_file *f, unsigned i, long v)
{
	int rc = load_error(v);
	vm_error_at(b->err, b->filename, 0, "%sprogram header %u cannot be mapped: %s",
		    f == &b->interp ? "interpreter " : "", i,
		    rc == -EFAULT ? "its bss cannot be zeroed" : strerror(-rc));
	return rc;
}

/* The load bias of the first PT_LOAD of an ET_DYN (load_elf_binary's
 * "PIE handling"): ELF_ET_DYN_BASE plus the randomisation for a program
 * with an interpreter; the mmap area for a loader run directly, aligned
 * when it asks for more than a page.  Then lowered by the first vaddr. */
static int dyn_bias(struct vm_bprm *b, const struct vm_elf_phdr *ph, int *flags, vm_vaddr *bias)
{
	const struct vm_elf_image *img = b->exe.img;
	uint64_t bias0 = 0;

	if (b->has_interp) {
		bias0 = VM_ELF_ET_DYN_BASE(b->k) + vm_exec_mmap_rnd(b->k);
		if (img->alignment)
			bias0 &= ~(img->alignment - 1);
		*flags |= VM_MAP_FIXED_NOREPLACE;
	} else if (img->alignment > VM_PAGE_SIZE) {
		long a = elf_load(b, b->exe.file, 0, ph, *flags, img->total_size);
		if (bad_addr(b, a))
			return load_error(a);
		(void)vm_do_munmap(b->k, b->p->mm, (vm_vaddr)a,
				   (vm_vaddr)a + VM_ALIGN_UP(img->total_size, VM_PAGE_SIZE));
		bias0 = (uint64_t)a & ~(img->alignment - 1);
		*flags |= VM_MAP_FIXED_NOREPLACE;
	}
	*bias = pagestart(bias0 - ph->vaddr);
	return 0;
}

/* Linux: load_elf_binary's loop over the program headers. */
int vm_exec_load_program(struct vm_bprm *b)
{
	const struct vm_elf_image *img = b->exe.img;
	uint64_t task_size = b->p->mm->task_size;
	vm_vaddr bias = 0, start_code = ~UINT64_C(0), end_code = 0, start_data = 0, end_data = 0;
	vm_vaddr elf_brk = 0, phdr = 0;
	bool first = true;
	int rc;

	for (unsigned i = 0; i < img->phnum; i++) {
		const struct vm_elf_phdr *ph = &img->ph[i];
		int flags = VM_MAP_PRIVATE;
		uint64_t total = 0;
		if (ph->type != VM_PT_LOAD)
			continue;
		if (!first) {
			flags |= VM_MAP_FIXED;
		} else if (img->type == VM_ET_EXEC) {
			flags |= VM_MAP_FIXED_NOREPLACE;
		} else {
			total = img->total_size;
			if (!total)
				return vm_error_at(b->err, b->filename, 0,
						   "the PT_LOAD segments span 0 bytes (EINVAL)");
			if ((rc = dyn_bias(b, ph, &flags, &bias)))
				return fail_segment(b, &b->exe, i, rc);
		}
		long got = elf_load(b, b->exe.file, bias + ph->vaddr, ph, flags, total);
		if (bad_addr(b, got))
			return fail_segment(b, &b->exe, i, got);
		if (first && img->type == VM_ET_DYN)
			bias += (vm_vaddr)got - pagestart(bias + ph->vaddr);
		first = false;
		/* The segment holding the program headers gives AT_PHDR. */
		if (ph->offset <= img->phoff && img->phoff < ph->offset + ph->filesz)
			phdr = img->phoff - ph->offset + ph->vaddr;
		if ((ph->flags & VM_ELF_PF_X) && ph->vaddr < start_code)
			start_code = ph->vaddr;
		if (start_data < ph->vaddr)
			start_data = ph->vaddr;
		if ((rc = vm_elf_check_load(img, i, task_size, b->err, b->filename)))
			return rc;
		vm_vaddr k = ph->vaddr + ph->filesz;
		if ((ph->flags & VM_ELF_PF_X) && end_code < k)
			end_code = k;
		if (end_data < k)
			end_data = k;
		if (ph->vaddr + ph->memsz > elf_brk)
			elf_brk = ph->vaddr + ph->memsz;
	}
	b->load_bias = bias;
	b->e_entry = img->entry + bias;
	b->phdr_addr = phdr + bias;
	b->elf_brk = elf_brk + bias;
	b->start_code = start_code + bias;
	b->end_code = end_code + bias;
	b->start_data = start_data + bias;
	b->end_data = end_data + bias;
	return 0;
}

/* Linux: load_elf_interp() — returns the interpreter's load address, or
 * an error value. */
static long load_elf_interp(struct vm_bprm *b, vm_vaddr no_base)
{
	const struct vm_elf_image *img = b->interp.img;
	uint64_t total = img->total_size, task_size = b->p->mm->task_size;
	vm_vaddr load_addr = 0;
	bool load_addr_set = false;
	int rc;

	if (img->type != VM_ET_EXEC && img->type != VM_ET_DYN) {
		vm_error_at(b->err, b->filename, 0,
			    "the interpreter's e_type is %u, not ET_EXEC or ET_DYN", img->type);
		return -1;      /* ~0UL, which exec turns into -EPERM */
	}
	if (!total) {
		vm_error_at(b->err, b->filename, 0, "the interpreter has no PT_LOAD (EINVAL)");
		return -EINVAL;
	}
	for (unsigned i = 0; i < img->phnum; i++) {
		const struct vm_elf_phdr *ph = &img->ph[i];
		int flags = VM_MAP_PRIVATE;
		if (ph->type != VM_PT_LOAD)
			continue;
		if (img->type == VM_ET_EXEC || load_addr_set)
			flags |= VM_MAP_FIXED;
		else if (no_base && img->type == VM_ET_DYN)
			load_addr = -ph->vaddr;
		long map_addr = elf_load(b, b->interp.file, load_addr + ph->vaddr, ph, flags, total);
		total = 0;
		if (bad_addr(b, map_addr)) {
			fail_segment(b, &b->interp, i, map_addr);
			return map_addr;
		}
		if (!load_addr_set && img->type == VM_ET_DYN) {
			load_addr = (vm_vaddr)map_addr - pagestart(ph->vaddr);
			load_addr_set = true;
		}
		if ((rc = vm_elf_check_interp_load(img, i, load_addr, task_size, b->err,
						   b->filename)))
			return rc;
	}
	return (long)load_addr;
}

int vm_exec_load_interp(struct vm_bprm *b)
{
	long base = load_elf_interp(b, b->load_bias);
	vm_vaddr entry = (vm_vaddr)base;

	if (!vm_is_err(base)) {
		b->interp_base = (vm_vaddr)base;
		entry += b->interp.img->entry;
	}
	if (bad_addr(b, (long)entry)) {
		if (!vm_is_err(base))
			vm_error_at(b->err, b->filename, 0,
				    "the interpreter's entry 0x%" PRIx64 " is beyond the address space",
				    entry);
		return vm_is_err((long)entry) ? (int)(long)entry : -EINVAL;
	}
	b->entry = entry;
	return 0;
}

/* Linux: _install_special_mapping() — a VMA without file or anonymous
 * pages of its own, named in maps. */
static int special_mapping(struct vm_bprm *b, vm_vaddr start, unsigned pages, uint64_t flags,
			   const char *name)
{
	struct vm_mm *mm = b->p->mm;
	struct vm_vma *vma = vm_vma_new(b->k);

	if (!vma)
		return -ENOMEM;
	vma->vm_start = start;
	vma->vm_end = start + ((uint64_t)pages << VM_PAGE_SHIFT);
	vma->vm_flags = flags | VM_DONTEXPAND;
	vma->vm_name = name;
	vm_vma_link(mm, vma);
	vm_stat_account(mm, vma->vm_flags, pages);
	return 0;
}

/* Linux 6.18 map_vdso(image, 0): one free range top-down in the mmap area
 * for the data pages and the text ([vvar], [vvar_vclock], then [vdso]);
 * since 6.9 it shares the mmap base's randomisation. */
int vm_exec_map_vdso(struct vm_bprm *b)
{
	const unsigned data_pages = VM_VVAR_PAGES + VM_VCLOCK_PAGES;
	const uint64_t vvar_flags = VM_READ | VM_MAYREAD | VM_IO | VM_DONTDUMP | VM_PFNMAP;
	uint64_t len = (uint64_t)(data_pages + VM_VDSO_PAGES) << VM_PAGE_SHIFT;
	long addr = vm_get_unmapped_area(b->k, b->p->mm, NULL, 0, len, 0, 0);
	vm_vaddr text;
	int rc;

	if (vm_is_err(addr)) {
		vm_error_at(b->err, b->filename, 0, "no room for the vDSO");
		return (int)addr;
	}
	text = (vm_vaddr)addr + ((uint64_t)data_pages << VM_PAGE_SHIFT);
	/* MAYWRITE lets a debugger COW the text to set breakpoints. */
	if ((rc = special_mapping(b, text, VM_VDSO_PAGES,
				  VM_READ | VM_EXEC | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC, "[vdso]")) ||
	    (rc = special_mapping(b, (vm_vaddr)addr, VM_VVAR_PAGES, vvar_flags, "[vvar]")) ||
	    (rc = special_mapping(b, (vm_vaddr)addr + ((uint64_t)VM_VVAR_PAGES << VM_PAGE_SHIFT),
				  VM_VCLOCK_PAGES, vvar_flags, "[vvar_vclock]"))) {
		vm_error_at(b->err, b->filename, 0, "out of memory for the vDSO");
		return rc;
	}
	b->vdso = text;
	return 0;
}
