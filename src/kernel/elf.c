/*
 * ELF64 x86-64 headers as Linux's exec reads them (fs/binfmt_elf.c
 * load_elf_binary, load_elf_phdrs, elf_read, load_elf_interp, elf_load,
 * elf_map, total_mapping_size, maximum_alignment), decoded byte by byte
 * (little endian) so that no input can cause an unaligned or out-of-range
 * read.  See elf.h for the two kinds of verdict.
 */
#include "kernel/elf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "kernel/uapi.h"

#define PAGE_MASK_LOW (VM_PAGE_SIZE - 1)

/* Linux's ELF_PAGESTART / ELF_PAGEOFFSET / ELF_PAGEALIGN (ELF_MIN_ALIGN is
 * the 4 KiB page on x86-64); PAGEALIGN wraps to 0 at the top. */
static inline uint64_t pagestart(uint64_t v) { return v & ~PAGE_MASK_LOW; }
static inline uint64_t pageoffset(uint64_t v) { return v & PAGE_MASK_LOW; }
static inline uint64_t pagealign(uint64_t v) { return (v + PAGE_MASK_LOW) & ~PAGE_MASK_LOW; }

static int VM_PRINTF(4, 5) fail(struct vm_error *err, const char *name, int errnum,
				const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->file = name;
		err->line = 0;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -errnum;
}

static uint16_t le16(const unsigned char *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const unsigned char *b)
{
	return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

/* Linux: elf_read() — all len bytes at off, or -EIO (short) or the read's
 * error.  An offset that is negative as a loff_t is -EINVAL
 * (rw_verify_area). */
static long elf_read(const struct vm_elf_reader *r, void *buf, size_t len, uint64_t off)
{
	if (off > (uint64_t)INT64_MAX)
		return -EINVAL;
	long n = r->read(r->ctx, buf, len, off);
	if (n < 0)
		return n;
	return (size_t)n == len ? 0 : -EIO;
}

static void decode_phdr(const unsigned char *b, struct vm_elf_phdr *ph)
{
	ph->type = le32(b);
	ph->flags = le32(b + 4);
	ph->offset = le64(b + 8);
	ph->vaddr = le64(b + 16);
	ph->paddr = le64(b + 24);
	ph->filesz = le64(b + 32);
	ph->memsz = le64(b + 40);
	ph->align = le64(b + 48);
}

/* The ELF header fields exec reads (Elf64_Ehdr). */
static void decode_ehdr(const unsigned char *b, struct vm_elf_image *img, uint16_t *phentsize)
{
	img->type = le16(b + 16);
	img->machine = le16(b + 18);
	img->entry = le64(b + 24);
	img->phoff = le64(b + 32);
	*phentsize = le16(b + 54);
	img->phnum = le16(b + 56);
}

static const char *class_name(unsigned c)
{
	return c == VM_ELFCLASS32 ? "ELFCLASS32 (32-bit)" : c == VM_ELFCLASS64 ? "ELFCLASS64" : "invalid";
}

/* Linux: load_elf_phdrs() — e_phentsize must be sizeof(Elf64_Phdr), the
 * table 1..4096 bytes and wholly in the file.  Returns 0 or the errnum the
 * caller reports (ENOEXEC for an executable, ELIBBAD for an interpreter)
 * with err. */
static int load_phdrs(const struct vm_elf_reader *r, struct vm_elf_image *img, uint16_t phentsize,
		      int errnum, struct vm_error *err)
{
	unsigned char buf[64 * VM_ELF_PHDR_SIZE];
	const char *what = errnum == ELIBBAD ? "interpreter " : "";
	uint64_t size = (uint64_t)VM_ELF_PHDR_SIZE * img->phnum;

	if (phentsize != VM_ELF_PHDR_SIZE)
		return fail(err, r->name, errnum,
			    "%se_phentsize is %u, not %u (sizeof(Elf64_Phdr))", what, phentsize,
			    VM_ELF_PHDR_SIZE);
	if (size == 0)
		return fail(err, r->name, errnum, "%sno program headers (e_phnum 0)", what);
	if (img->phnum > VM_ELF_PHDR_MAX)
		return fail(err, r->name, errnum,
			    "%s%u program headers: Linux reads at most %u (64 KiB of them)", what,
			    img->phnum, VM_ELF_PHDR_MAX);
	img->nload = 0;
	/* One elf_read of the whole table, in pieces: short anywhere fails. */
	if (img->phoff > (uint64_t)INT64_MAX - size)
		return fail(err, r->name, errnum, "%sprogram headers at 0x%" PRIx64 " cannot be read",
			    what, img->phoff);
	for (unsigned i = 0; i < img->phnum; i += 64) {
		unsigned n = VM_MIN(64u, img->phnum - i);
		long rc = elf_read(r, buf, (size_t)n * VM_ELF_PHDR_SIZE,
				   img->phoff + (uint64_t)i * VM_ELF_PHDR_SIZE);
		if (rc)
			return fail(err, r->name, errnum,
				    "%sprogram headers at 0x%" PRIx64 " (%" PRIu64 " bytes) %s", what,
				    img->phoff, size,
				    rc == -EIO ? "run past the end of the file" : "cannot be read");
		for (unsigned j = 0; j < n; j++) {
			decode_phdr(buf + (size_t)j * VM_ELF_PHDR_SIZE, &img->ph[i + j]);
			if (img->ph[i + j].type == VM_PT_LOAD)
				img->nload++;
		}
	}
	return 0;
}

/* Linux: total_mapping_size() — from the first PT_LOAD's page to the end
 * of the last one, in header order (unsigned, so a disorder wraps). */
static uint64_t total_mapping_size(const struct vm_elf_image *img)
{
	int first = -1, last = -1;

	for (unsigned i = 0; i < img->phnum; i++)
		if (img->ph[i].type == VM_PT_LOAD) {
			if (first < 0)
				first = (int)i;
			last = (int)i;
		}
	if (first < 0)
		return 0;
	return img->ph[last].vaddr + img->ph[last].memsz - pagestart(img->ph[first].vaddr);
}

/* Linux: maximum_alignment() — the largest power-of-two p_align of a
 * PT_LOAD (others are ignored as invalid), page aligned. */
static uint64_t maximum_alignment(const struct vm_elf_image *img)
{
	uint64_t alignment = 0;

	for (unsigned i = 0; i < img->phnum; i++) {
		uint64_t a = img->ph[i].align;
		if (img->ph[i].type == VM_PT_LOAD && a && !(a & (a - 1)) && a > alignment)
			alignment = a;
	}
	return pagealign(alignment);
}

/* The PT_INTERP loop of load_elf_binary: the first PT_INTERP names the
 * interpreter. */
static int read_interp(const struct vm_elf_reader *r, struct vm_elf_image *img,
		       const struct vm_elf_phdr *ph, struct vm_error *err)
{
	if (ph->filesz > VM_ELF_PATH_MAX || ph->filesz < 2)
		return fail(err, r->name, ENOEXEC,
			    "PT_INTERP is %" PRIu64 " bytes: Linux wants 2 to %u (PATH_MAX)", ph->filesz,
			    VM_ELF_PATH_MAX);
	long rc = elf_read(r, img->interp, (size_t)ph->filesz, ph->offset);
	if (rc)
		return fail(err, r->name, (int)-rc,
			    "PT_INTERP at 0x%" PRIx64 " (%" PRIu64 " bytes) %s", ph->offset, ph->filesz,
			    rc == -EIO ? "runs past the end of the file" : "cannot be read");
	if (img->interp[ph->filesz - 1] != '\0')
		return fail(err, r->name, ENOEXEC, "PT_INTERP is not NUL terminated");
	img->has_interp = true;
	return 0;
}

static void scan_stack(struct vm_elf_image *img)
{
	img->stack = VM_ELF_STACK_DEFAULT;
	for (unsigned i = 0; i < img->phnum; i++)
		if (img->ph[i].type == VM_PT_GNU_STACK)
			img->stack = (img->ph[i].flags & VM_ELF_PF_X) ? VM_ELF_STACK_EXEC : VM_ELF_STACK_NOEXEC;
}

/* The header the way exec reads it: BINPRM_BUF_SIZE bytes, zero padded
 * (prepare_binprm), or exactly 64 for an interpreter (elf_read). */
static int read_header(const struct vm_elf_reader *r, bool interp, unsigned char *buf,
		       struct vm_error *err)
{
	long n;

	memset(buf, 0, VM_BINPRM_BUF_SIZE);
	if (interp) {
		n = elf_read(r, buf, VM_ELF_EHDR_SIZE, 0);
		if (n)
			return fail(err, r->name, (int)-n, "the interpreter is %s",
				    n == -EIO ? "shorter than an ELF header (64 bytes)" : "unreadable");
		return 0;
	}
	n = r->read(r->ctx, buf, VM_BINPRM_BUF_SIZE, 0);
	if (n < 0)
		return fail(err, r->name, (int)-n, "cannot read the file");
	return 0;
}

static int check_ident(const struct vm_elf_reader *r, const unsigned char *b, int errnum,
		       struct vm_error *err)
{
	const char *what = errnum == ELIBBAD ? "the interpreter is " : "";

	if (memcmp(b, "\177ELF", 4) != 0)
		return fail(err, r->name, errnum, "%snot an ELF file (no \\177ELF magic)", what);
	return 0;
}

static int check_machine(const struct vm_elf_reader *r, const unsigned char *b,
			 const struct vm_elf_image *img, int errnum, struct vm_error *err)
{
	const char *what = errnum == ELIBBAD ? "the interpreter: " : "";

	/* elf_check_arch(): e_machine only.  Linux's 64-bit loader does not
	 * look at the class; a 32-bit file goes to the compat loader, which
	 * the model (like a kernel without CONFIG_IA32_EMULATION) lacks. */
	if (img->machine != VM_EM_X86_64)
		return fail(err, r->name, errnum, "%se_machine is %u%s, not 62 (EM_X86_64)", what,
			    img->machine, img->machine == VM_EM_386 ? " (EM_386)" : "");
	if (b[VM_EI_CLASS] != VM_ELFCLASS64)
		return fail(err, r->name, errnum,
			    "%sclass is %s, not ELFCLASS64: 32-bit and x32 programs need the compat "
			    "loader, which is not modelled", what, class_name(b[VM_EI_CLASS]));
	if (b[VM_EI_DATA] != VM_ELFDATA2LSB)
		return fail(err, r->name, errnum, "%sdata encoding %u is not little endian (ELFDATA2LSB)",
			    what, b[VM_EI_DATA]);
	return 0;
}

static void image_init(struct vm_elf_image *img)
{
	memset(img, 0, offsetof(struct vm_elf_image, ph));
	img->nload = 0;
	img->has_interp = false;
	img->interp[0] = '\0';
	img->stack = VM_ELF_STACK_DEFAULT;
	img->total_size = img->alignment = 0;
}

/* The start of both parses: the arguments, a clean image, the first
 * VM_BINPRM_BUF_SIZE bytes (as bprm->buf) into b, and the ELF header
 * decoded from them.  0 or a negative errno (err filled). */
static int parse_begin(const struct vm_elf_reader *r, struct vm_elf_image *img, bool interp,
		       unsigned char *b, uint16_t *phentsize, struct vm_error *err)
{
	int rc;

	if (!r || !r->read || !img)
		return -EINVAL;
	image_init(img);
	if ((rc = read_header(r, interp, b, err)))
		return rc;
	decode_ehdr(b, img, phentsize);
	return 0;
}

/* The end of both parses, with the program headers in: PT_GNU_STACK and
 * the size and alignment of the whole mapping (total_mapping_size(),
 * maximum_alignment() in fs/binfmt_elf.c). */
static void parse_end(struct vm_elf_image *img)
{
	scan_stack(img);
	img->total_size = total_mapping_size(img);
	img->alignment = maximum_alignment(img);
}

int vm_elf_parse(const struct vm_elf_reader *r, struct vm_elf_image *img, struct vm_error *err)
{
	unsigned char b[VM_BINPRM_BUF_SIZE];
	uint16_t phentsize;
	int rc;

	if ((rc = parse_begin(r, img, false, b, &phentsize, err)))
		return rc;
	if ((rc = check_ident(r, b, ENOEXEC, err)))
		return rc;
	if (img->type != VM_ET_EXEC && img->type != VM_ET_DYN)
		return fail(err, r->name, ENOEXEC, "e_type is %u%s: only ET_EXEC (2) and ET_DYN (3) run",
			    img->type, img->type == VM_ET_REL ? " (ET_REL, an object file)"
				       : img->type == VM_ET_CORE ? " (ET_CORE, a core dump)" : "");
	if ((rc = check_machine(r, b, img, ENOEXEC, err)) ||
	    (rc = load_phdrs(r, img, phentsize, ENOEXEC, err)))
		return rc;
	for (unsigned i = 0; i < img->phnum; i++)
		if (img->ph[i].type == VM_PT_INTERP) {
			if ((rc = read_interp(r, img, &img->ph[i], err)))
				return rc;
			break;
		}
	parse_end(img);
	return 0;
}

int vm_elf_parse_interp(const struct vm_elf_reader *r, struct vm_elf_image *img,
			struct vm_error *err)
{
	unsigned char b[VM_BINPRM_BUF_SIZE];
	uint16_t phentsize;
	int rc;

	if ((rc = parse_begin(r, img, true, b, &phentsize, err)))
		return rc;
	if ((rc = check_ident(r, b, ELIBBAD, err)) || (rc = check_machine(r, b, img, ELIBBAD, err)) ||
	    (rc = load_phdrs(r, img, phentsize, ELIBBAD, err)))
		return rc;
	parse_end(img);
	return 0;
}

int vm_elf_prot(uint32_t p_flags)
{
	return ((p_flags & VM_ELF_PF_R) ? VM_PROT_READ : 0) | ((p_flags & VM_ELF_PF_W) ? VM_PROT_WRITE : 0) |
	       ((p_flags & VM_ELF_PF_X) ? VM_PROT_EXEC : 0);
}

/* Linux: elf_load() with elf_map() and padzero(), as arithmetic. */
void vm_elf_plan_load(const struct vm_elf_phdr *ph, vm_vaddr addr, struct vm_elf_load *out)
{
	uint64_t in_page = pageoffset(ph->vaddr);
	vm_vaddr zero_start, zero_end;

	memset(out, 0, sizeof(*out));
	out->prot = vm_elf_prot(ph->flags);
	out->map_start = pagestart(addr);
	if (ph->filesz) {
		/* elf_map(): a zero size (after PAGEALIGN wrapped) maps nothing. */
		out->map_len = pagealign(ph->filesz + in_page);
		out->map_off = ph->offset - in_page;
		zero_start = out->map_start + in_page + ph->filesz;
		zero_end = out->map_start + in_page + ph->memsz;
		if (ph->memsz > ph->filesz && pageoffset(zero_start)) {
			out->zero_start = zero_start;
			out->zero_end = zero_start - pageoffset(zero_start) + VM_PAGE_SIZE;
		}
	} else {
		zero_start = out->map_start;
		zero_end = zero_start + in_page + ph->memsz;
	}
	if (ph->memsz > ph->filesz) {
		out->bss_start = pagealign(zero_start);
		out->bss_end = pagealign(zero_end);
	}
}

int vm_elf_check_load(const struct vm_elf_image *img, unsigned i, uint64_t task_size,
		      struct vm_error *err, const char *name)
{
	const struct vm_elf_phdr *ph = &img->ph[i];

	if (ph->vaddr >= task_size)
		return fail(err, name, EINVAL,
			    "program header %u: p_vaddr 0x%" PRIx64 " is beyond the user address space",
			    i, ph->vaddr);
	if (ph->filesz > ph->memsz)
		return fail(err, name, EINVAL,
			    "program header %u: p_filesz 0x%" PRIx64 " is larger than p_memsz 0x%" PRIx64,
			    i, ph->filesz, ph->memsz);
	if (ph->memsz > task_size || task_size - ph->memsz < ph->vaddr)
		return fail(err, name, EINVAL,
			    "program header %u: [0x%" PRIx64 ", +0x%" PRIx64 ") ends beyond the user "
			    "address space", i, ph->vaddr, ph->memsz);
	return 0;
}

int vm_elf_check_interp_load(const struct vm_elf_image *img, unsigned i, uint64_t load_addr,
			     uint64_t task_size, struct vm_error *err, const char *name)
{
	const struct vm_elf_phdr *ph = &img->ph[i];
	uint64_t k = load_addr + ph->vaddr;

	if (k >= task_size || ph->filesz > ph->memsz || ph->memsz > task_size ||
	    task_size - ph->memsz < k)
		return fail(err, name, ENOMEM,
			    "interpreter program header %u: %s", i,
			    ph->filesz > ph->memsz ? "p_filesz is larger than p_memsz"
						   : "it ends beyond the user address space");
	return 0;
}

/* The arithmetic checks vm_mmap / do_mmap make on one elf_map (those that
 * do not depend on what is mapped already). */
static int check_map(const struct vm_elf_load *l, uint64_t len, uint64_t task_size, unsigned i,
		     struct vm_error *err, const char *name)
{
	if (l->map_off + pagealign(len) < l->map_off)
		return fail(err, name, EINVAL,
			    "program header %u: file offset 0x%" PRIx64 " + length wraps around", i,
			    l->map_off);
	if (pageoffset(l->map_off))
		return fail(err, name, EINVAL,
			    "program header %u: p_offset and p_vaddr differ modulo the page size "
			    "(mmap would get offset 0x%" PRIx64 ")", i, l->map_off);
	if (!pagealign(len) || pagealign(len) > task_size)
		return fail(err, name, ENOMEM, "program header %u: a mapping of 0x%" PRIx64
			    " bytes does not fit in the address space", i, len);
	return 0;
}

int vm_elf_validate(const struct vm_elf_image *img, bool interp, uint64_t task_size,
		    struct vm_error *err, const char *name)
{
	bool first = true;
	int rc;

	if (interp && img->type != VM_ET_EXEC && img->type != VM_ET_DYN)
		/* load_elf_interp fails with ~0UL, which exec returns as -EPERM. */
		return fail(err, name, EPERM, "the interpreter's e_type is %u, not ET_EXEC or ET_DYN",
			    img->type);
	if ((interp || img->type == VM_ET_DYN) && img->total_size == 0)
		return fail(err, name, EINVAL, img->nload ? "the PT_LOAD segments span 0 bytes"
							  : "no PT_LOAD segment");
	for (unsigned i = 0; i < img->phnum; i++) {
		const struct vm_elf_phdr *ph = &img->ph[i];
		struct vm_elf_load l;
		if (ph->type != VM_PT_LOAD)
			continue;
		vm_elf_plan_load(ph, ph->vaddr, &l);
		/* The first mapping of an ET_DYN covers total_size (elf_map). */
		uint64_t len = first && (interp || img->type == VM_ET_DYN) ? img->total_size : l.map_len;
		if (l.map_len && (rc = check_map(&l, len, task_size, i, err, name)))
			return rc;
		first = false;
		if (!interp && (rc = vm_elf_check_load(img, i, task_size, err, name)))
			return rc;
		if (interp && (rc = vm_elf_check_interp_load(img, i, 0, task_size, err, name)))
			return rc;
	}
	if (!interp && !img->has_interp && img->type == VM_ET_EXEC && img->entry >= task_size)
		return fail(err, name, EINVAL, "the entry point 0x%" PRIx64 " is beyond the user "
			    "address space", img->entry);
	return 0;
}

const char *vm_elf_ptype_name(uint32_t type, char *buf, size_t len)
{
	static const char *const names[] = {
		[VM_PT_NULL] = "NULL", [VM_PT_LOAD] = "LOAD", [VM_PT_DYNAMIC] = "DYNAMIC",
		[VM_PT_INTERP] = "INTERP", [VM_PT_NOTE] = "NOTE", [5] = "SHLIB", [VM_PT_PHDR] = "PHDR",
		[VM_PT_TLS] = "TLS",
	};
	if (type < VM_ARRAY_SIZE(names))
		return names[type];
	switch (type) {
	case VM_PT_GNU_EH_FRAME: return "GNU_EH_FRAME";
	case VM_PT_GNU_STACK: return "GNU_STACK";
	case VM_PT_GNU_RELRO: return "GNU_RELRO";
	case VM_PT_GNU_PROPERTY: return "GNU_PROPERTY";
	default:
		snprintf(buf, len, "0x%" PRIx32, type);
		return buf;
	}
}
