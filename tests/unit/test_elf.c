/*
 * test_elf: the ELF64 header parser and validator (src/kernel/elf.c).
 *
 * The oracles: the host's <elf.h> (constants, and Elf64_Ehdr / Elf64_Phdr
 * read with plain fread as an independent decoder) over /bin/ls,
 * /bin/true and every regular file in /usr/bin; and Linux's binfmt_elf
 * verdicts for mutated and truncated copies of /bin/true written to a
 * temporary directory (each errno is the one load_elf_binary returns at
 * that check; tests/linux/exec confirms them against the host kernel).
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/compiler.h"
#include "kernel/elf.h"
#include "kernel/uapi.h"
#include "tap.h"

#define TASK_SIZE UINT64_C(0x7ffffffff000)

static long fd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	int fd = *(int *)ctx;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long)done;
}

/* Parse path as an executable: 0 or -errno; *img filled. */
static int parse_path(const char *path, struct vm_elf_image *img, struct vm_error *err)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	struct vm_elf_reader r = { fd_read, &fd, path };
	int rc = vm_elf_parse(&r, img, err);
	close(fd);
	return rc;
}

static void test_constants(void)
{
	is_u64(VM_PT_LOAD, PT_LOAD, "PT_LOAD");
	is_u64(VM_PT_INTERP, PT_INTERP, "PT_INTERP");
	is_u64(VM_PT_PHDR, PT_PHDR, "PT_PHDR");
	is_u64(VM_PT_GNU_STACK, PT_GNU_STACK, "PT_GNU_STACK");
	is_u64(VM_PT_GNU_RELRO, PT_GNU_RELRO, "PT_GNU_RELRO");
	is_u64(VM_PT_GNU_EH_FRAME, PT_GNU_EH_FRAME, "PT_GNU_EH_FRAME");
	is_u64(VM_PT_GNU_PROPERTY, PT_GNU_PROPERTY, "PT_GNU_PROPERTY");
	is_u64(VM_ELF_PF_X, PF_X, "PF_X");
	is_u64(VM_ELF_PF_W, PF_W, "PF_W");
	is_u64(VM_ELF_PF_R, PF_R, "PF_R");
	is_u64(VM_ET_EXEC, ET_EXEC, "ET_EXEC");
	is_u64(VM_ET_DYN, ET_DYN, "ET_DYN");
	is_u64(VM_EM_X86_64, EM_X86_64, "EM_X86_64");
	is_u64(VM_ELF_EHDR_SIZE, sizeof(Elf64_Ehdr), "sizeof(Elf64_Ehdr)");
	is_u64(VM_ELF_PHDR_SIZE, sizeof(Elf64_Phdr), "sizeof(Elf64_Phdr)");
	is_u64(VM_EI_CLASS, EI_CLASS, "EI_CLASS");
	is_u64(VM_EI_DATA, EI_DATA, "EI_DATA");
}

/* Compare the parse of path with <elf.h>'s structures read by fread.
 * Returns 1 if the file is an x86-64 ELF executable (and was compared). */
static int compare_with_host(const char *path, unsigned *mismatches)
{
	FILE *f = fopen(path, "rb");
	Elf64_Ehdr eh;
	if (!f)
		return 0;
	size_t got = fread(&eh, 1, sizeof(eh), f);
	if (got != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
		fclose(f);
		return 0;
	}
	static struct vm_elf_image img;
	struct vm_error err = { 0 };
	int rc = parse_path(path, &img, &err);
	unsigned bad = 0;
	if (rc) {
		diag("%s: parse failed: %d %s", path, rc, err.msg);
		bad++;
	} else if (img.type != eh.e_type || img.entry != eh.e_entry || img.phnum != eh.e_phnum ||
		   img.phoff != eh.e_phoff) {
		bad++;
	} else {
		bool interp = false;
		uint32_t stack = 0;
		for (unsigned i = 0; i < img.phnum; i++) {
			Elf64_Phdr ph;
			if (fseek(f, (long)(eh.e_phoff + i * sizeof(ph)), SEEK_SET) ||
			    fread(&ph, sizeof(ph), 1, f) != 1) {
				bad++;
				break;
			}
			const struct vm_elf_phdr *m = &img.ph[i];
			if (m->type != ph.p_type || m->flags != ph.p_flags || m->offset != ph.p_offset ||
			    m->vaddr != ph.p_vaddr || m->filesz != ph.p_filesz || m->memsz != ph.p_memsz ||
			    m->align != ph.p_align || m->paddr != ph.p_paddr)
				bad++;
			if (ph.p_type == PT_INTERP && !interp) {
				char path2[4096] = { 0 };
				interp = true;
				if (ph.p_filesz < sizeof(path2) && !fseek(f, (long)ph.p_offset, SEEK_SET) &&
				    fread(path2, 1, ph.p_filesz, f) == ph.p_filesz &&
				    strcmp(path2, img.interp) != 0)
					bad++;
			}
			if (ph.p_type == PT_GNU_STACK)
				stack = (ph.p_flags & PF_X) ? 2 : 1;
		}
		if (interp != img.has_interp)
			bad++;
		if ((stack == 0 && img.stack != VM_ELF_STACK_DEFAULT) ||
		    (stack == 1 && img.stack != VM_ELF_STACK_NOEXEC) ||
		    (stack == 2 && img.stack != VM_ELF_STACK_EXEC))
			bad++;
		/* A binary the host runs loads in Linux: nothing to refuse. */
		if (vm_elf_validate(&img, false, TASK_SIZE, &err, path)) {
			diag("%s: validate: %s", path, err.msg);
			bad++;
		}
	}
	if (bad)
		diag("%s: %u differences with <elf.h>", path, bad);
	*mismatches += bad;
	fclose(f);
	return 1;
}

static void test_host_binaries(void)
{
	unsigned mismatches = 0, elves = 0, others = 0, other_ok = 0;

	ok(compare_with_host("/bin/ls", &mismatches), "/bin/ls is an x86-64 ELF executable");
	ok(compare_with_host("/bin/true", &mismatches), "/bin/true is an x86-64 ELF executable");
	DIR *d = opendir("/usr/bin");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "/usr/bin/%s", e->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (compare_with_host(path, &mismatches)) {
			elves++;
			continue;
		}
		/* Not an x86-64 executable (scripts, data): refused before the
		 * point of no return, never accepted. */
		static struct vm_elf_image img;
		struct vm_error err;
		int rc = parse_path(path, &img, &err);
		others++;
		if (rc == -ENOEXEC)
			other_ok++;
		else
			diag("%s: not an x86-64 executable, but parse gave %d", path, rc);
	}
	if (d)
		closedir(d);
	diag("/usr/bin: %u x86-64 executables, %u other files", elves, others);
	ok(elves >= 10, "at least 10 ELF executables in /usr/bin (found %u)", elves);
	is_u64(mismatches, 0, "every header field and program header agrees with <elf.h>");
	is_u64(other_ok, others, "every other file is ENOEXEC");
}

/* Facts about Debian 12's /bin/ls (readelf -lW /bin/ls). */
static void test_ls(void)
{
	static struct vm_elf_image img;
	struct vm_error err;
	is_i64(parse_path("/bin/ls", &img, &err), 0, "/bin/ls parses");
	is_u64(img.type, VM_ET_DYN, "/bin/ls is a PIE (ET_DYN)");
	ok(img.has_interp, "/bin/ls has PT_INTERP");
	is_str(img.interp, "/lib64/ld-linux-x86-64.so.2", "its interpreter");
	is_u64(img.stack, VM_ELF_STACK_NOEXEC, "PT_GNU_STACK without PF_X");
	is_u64(img.alignment, 0x1000, "p_align of every PT_LOAD is 4 KiB");
	ok(img.nload >= 2, "several PT_LOAD");
	is_i64(vm_elf_validate(&img, false, TASK_SIZE, &err, "ls"), 0, "/bin/ls validates");

	static struct vm_elf_image ld;
	int fd = open(img.interp, O_RDONLY);
	struct vm_elf_reader r = { fd_read, &fd, img.interp };
	is_i64(vm_elf_parse_interp(&r, &ld, &err), 0, "the interpreter parses as one");
	close(fd);
	is_u64(ld.type, VM_ET_DYN, "ld.so is ET_DYN");
	ok(!ld.has_interp, "the interpreter's own PT_INTERP is not looked for");
	is_i64(vm_elf_validate(&ld, true, TASK_SIZE, &err, "ld.so"), 0, "ld.so validates");
}

/* The plan of elf_load for hand-made segments (binfmt_elf arithmetic). */
static void test_plan(void)
{
	struct vm_elf_load l;
	/* /bin/ls's data segment: off 0x232b0 vaddr 0x232b0 filesz 0x1310
	 * memsz 0x25f8; maps (setarch -R) show the file part
	 * 555555577000-555555579000 offset 00023000 and an anonymous page
	 * 555555579000-55555557a000. */
	struct vm_elf_phdr ph = { VM_PT_LOAD, VM_ELF_PF_R | VM_ELF_PF_W, 0x232b0, 0x232b0, 0x232b0,
				  0x1310, 0x25f8, 0x1000 };
	vm_elf_plan_load(&ph, 0x555555554000 + ph.vaddr, &l);
	is_u64(l.map_start, 0x555555577000, "data: mapped from its page");
	is_u64(l.map_len, 0x2000, "data: two file pages");
	is_u64(l.map_off, 0x23000, "data: from file offset 0x23000");
	is_u64(l.zero_start, 0x5555555785c0, "padzero from the end of the file bytes");
	is_u64(l.zero_end, 0x555555579000, "to the end of that page");
	is_u64(l.bss_start, 0x555555579000, "bss: anonymous from the next page");
	is_u64(l.bss_end, 0x55555557a000, "bss: to the page holding the end of p_memsz");
	is_i64(l.prot, VM_PROT_READ | VM_PROT_WRITE, "data: rw");

	/* /bin/true's data: vaddr 0x8d70 off 0x7d70 filesz 0x470 memsz 0x608:
	 * 55555555c000-55555555e000 rw-p 00007000, bss within the last page. */
	ph = (struct vm_elf_phdr){ VM_PT_LOAD, VM_ELF_PF_R | VM_ELF_PF_W, 0x7d70, 0x8d70, 0x8d70,
				   0x470, 0x608, 0x1000 };
	vm_elf_plan_load(&ph, 0x555555554000 + ph.vaddr, &l);
	is_u64(l.map_start, 0x55555555c000, "true data: page start");
	is_u64(l.map_len, 0x2000, "true data: two pages");
	is_u64(l.map_off, 0x7000, "true data: offset 0x7000");
	is_u64(l.zero_start, 0x55555555d1e0, "true: padzero start");
	ok(l.bss_end == l.bss_start, "true: no anonymous bss");

	/* A bss-only segment (p_filesz 0): no file mapping, no padzero. */
	ph = (struct vm_elf_phdr){ VM_PT_LOAD, VM_ELF_PF_R | VM_ELF_PF_W, 0, 0x10100, 0x10100, 0, 0x2000,
				   0x1000 };
	vm_elf_plan_load(&ph, 0x400000 + ph.vaddr, &l);
	is_u64(l.map_len, 0, "bss only: no file mapping");
	ok(l.zero_end == l.zero_start, "bss only: nothing to zero");
	is_u64(l.bss_start, 0x410000, "bss only: from the page of p_vaddr");
	is_u64(l.bss_end, 0x413000, "bss only: to PAGE_ALIGN(p_vaddr + p_memsz)");

	/* Text whose file part ends on a page boundary: no padzero. */
	ph = (struct vm_elf_phdr){ VM_PT_LOAD, VM_ELF_PF_R | VM_ELF_PF_X, 0x1000, 0x1000, 0x1000, 0x3000,
				   0x3000, 0x1000 };
	vm_elf_plan_load(&ph, 0x400000 + ph.vaddr, &l);
	is_u64(l.map_len, 0x3000, "text: three pages");
	ok(l.zero_end == l.zero_start && l.bss_end == l.bss_start, "text: no zeroing, no bss");
	is_i64(l.prot, VM_PROT_READ | VM_PROT_EXEC, "text: r-x");
}

/* ---- mutated copies ------------------------------------------------------ */

static unsigned char *orig;
static size_t orig_len;
static char tmpdir[64];

static int load_orig(void)
{
	FILE *f = fopen("/bin/true", "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	orig_len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	orig = malloc(orig_len);
	size_t n = orig ? fread(orig, 1, orig_len, f) : 0;
	fclose(f);
	return n == orig_len ? 0 : -1;
}

static void put16(unsigned char *b, uint16_t v) { b[0] = (unsigned char)v; b[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *b, uint32_t v) { put16(b, (uint16_t)v); put16(b + 2, (uint16_t)(v >> 16)); }
static void put64(unsigned char *b, uint64_t v) { put32(b, (uint32_t)v); put32(b + 4, (uint32_t)(v >> 32)); }

static uint64_t orig_phoff(void) { Elf64_Ehdr *e = (Elf64_Ehdr *)orig; return e->e_phoff; }
static unsigned orig_phnum(void) { Elf64_Ehdr *e = (Elf64_Ehdr *)orig; return e->e_phnum; }

/* Offset in the copy of program header i's field at byte off. */
static size_t phfield(unsigned i, size_t off) { return (size_t)orig_phoff() + i * 56 + off; }

/* Index of the n-th program header of type t, or -1. */
static int find_ph(uint32_t t, int n)
{
	for (unsigned i = 0; i < orig_phnum(); i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(orig + orig_phoff() + i * sizeof(*ph));
		if (ph->p_type == t && n-- == 0)
			return (int)i;
	}
	return -1;
}

/* Write buf to tmpdir/name and parse (and validate) it.  *val receives
 * vm_elf_validate's result when the parse succeeds. */
static int try_copy(const char *name, const unsigned char *buf, size_t len, int *val,
		    struct vm_error *err)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len) {
		if (f)
			fclose(f);
		return -999;
	}
	fclose(f);
	static struct vm_elf_image img;
	int rc = parse_path(path, &img, err);
	*val = rc ? 1 : vm_elf_validate(&img, false, TASK_SIZE, err, path);
	return rc;
}

struct mutation {
	const char *name;
	size_t off;             /* where to write */
	unsigned width;         /* 1, 2, 4, 8 bytes; 0 = truncate the file at off */
	uint64_t value;
	int parse;              /* expected vm_elf_parse result */
	int validate;           /* expected vm_elf_validate result (when parse is 0) */
};

static void test_mutations(void)
{
	if (load_orig()) {
		ok(0, "cannot read /bin/true");
		return;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmlab-test-elf-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		ok(0, "mkdtemp");
		return;
	}
	int interp = find_ph(PT_INTERP, 0), load0 = find_ph(PT_LOAD, 0), load3 = find_ph(PT_LOAD, 3);
	int stack = find_ph(PT_GNU_STACK, 0);
	ok(interp >= 0 && load0 >= 0 && load3 >= 0 && stack >= 0,
	   "/bin/true has PT_INTERP, 4 PT_LOAD and PT_GNU_STACK");
	if (interp < 0 || load3 < 0 || stack < 0)
		return;
	Elf64_Phdr *ip = (Elf64_Phdr *)(orig + phfield((unsigned)interp, 0));
	size_t phend = (size_t)orig_phoff() + orig_phnum() * 56;
	const struct mutation muts[] = {
		{ "empty", 0, 0, 0, -ENOEXEC, 0 },
		{ "magic-only", 4, 0, 0, -ENOEXEC, 0 },
		{ "short-header", 63, 0, 0, -ENOEXEC, 0 },
		{ "no-phdrs", phend - 1, 0, 0, -ENOEXEC, 0 },
		{ "cut-interp", ip->p_offset + 3, 0, 0, -EIO, 0 },
		{ "cut-after-headers", orig_len / 2, 0, 0, 0, 0 },
		{ "bad-magic", 1, 1, 'e', -ENOEXEC, 0 },
		{ "type-rel", 16, 2, ET_REL, -ENOEXEC, 0 },
		{ "type-core", 16, 2, ET_CORE, -ENOEXEC, 0 },
		{ "machine-386", 18, 2, EM_386, -ENOEXEC, 0 },
		{ "machine-aarch64", 18, 2, EM_AARCH64, -ENOEXEC, 0 },
		{ "class-32", EI_CLASS, 1, ELFCLASS32, -ENOEXEC, 0 },
		{ "big-endian", EI_DATA, 1, ELFDATA2MSB, -ENOEXEC, 0 },
		{ "phentsize-32", 54, 2, 32, -ENOEXEC, 0 },
		{ "phnum-0", 56, 2, 0, -ENOEXEC, 0 },
		/* 6.18 reads up to 64 KiB of headers: 74 pass (the next ones are
		 * whatever bytes follow, which make the load fail: 1 = any error);
		 * 1170 run past the end of this file; 1171 are too many. */
		{ "phnum-74", 56, 2, 74, 0, 1 },
		{ "phnum-1170", 56, 2, 1170, -ENOEXEC, 0 },
		{ "phnum-1171", 56, 2, 1171, -ENOEXEC, 0 },
		{ "phnum-ffff", 56, 2, 0xffff, -ENOEXEC, 0 },
		{ "phoff-huge", 32, 8, UINT64_C(1) << 63, -ENOEXEC, 0 },
		{ "phoff-eof", 32, 8, orig_len - 8, -ENOEXEC, 0 },
		{ "interp-size-1", phfield((unsigned)interp, 32), 8, 1, -ENOEXEC, 0 },
		{ "interp-size-4097", phfield((unsigned)interp, 32), 8, 4097, -ENOEXEC, 0 },
		{ "interp-no-nul", ip->p_offset + ip->p_filesz - 1, 1, 'x', -ENOEXEC, 0 },
		{ "interp-beyond-eof", phfield((unsigned)interp, 8), 8, orig_len + 4096, -EIO, 0 },
		{ "interp-offset-negative", phfield((unsigned)interp, 8), 8, UINT64_C(1) << 63, -EINVAL, 0 },
		/* After the point of no return (validate): the process dies. */
		{ "filesz-gt-memsz", phfield((unsigned)load3, 32), 8, 0x10000, 0, -EINVAL },
		{ "offset-misaligned", phfield((unsigned)load3, 8), 8, 0x7d71, 0, -EINVAL },
		/* The last PT_LOAD sets an ET_DYN's total size, which the first
		 * elf_map maps at once: mmap refuses it before any check. */
		{ "vaddr-beyond-task", phfield((unsigned)load3, 16), 8, UINT64_C(0x800000000000), 0, -ENOMEM },
		{ "memsz-huge", phfield((unsigned)load3, 40), 8, UINT64_C(1) << 62, 0, -ENOMEM },
		{ "filesz-wraps", phfield((unsigned)load3, 32), 8, UINT64_MAX - 0x100, 0, -EINVAL },
		/* Harmless to Linux. */
		{ "stack-exec", phfield((unsigned)stack, 4), 4, PF_R | PF_W | PF_X, 0, 0 },
		{ "stack-gone", phfield((unsigned)stack, 0), 4, PT_NULL, 0, 0 },
		{ "version-0", EI_VERSION, 1, 0, 0, 0 },
	};
	unsigned char *buf = malloc(orig_len + 16);
	for (size_t i = 0; i < VM_ARRAY_SIZE(muts); i++) {
		const struct mutation *m = &muts[i];
		size_t len = orig_len;
		memcpy(buf, orig, orig_len);
		if (m->width == 0)
			len = m->off;
		else if (m->width == 1)
			buf[m->off] = (unsigned char)m->value;
		else if (m->width == 2)
			put16(buf + m->off, (uint16_t)m->value);
		else if (m->width == 4)
			put32(buf + m->off, (uint32_t)m->value);
		else
			put64(buf + m->off, m->value);
		struct vm_error err = { 0 };
		int val = 0;
		int rc = try_copy(m->name, buf, len, &val, &err);
		is_i64(rc, m->parse, "%s: parse", m->name);
		if (rc == 0 && m->parse == 0 && m->validate == 1)
			ok(val != 0, "%s: validate refuses it (%d)", m->name, val);
		else if (rc == 0 && m->parse == 0)
			is_i64(val, m->validate, "%s: validate", m->name);
		if (rc || val)
			ok(err.msg[0] != '\0' && err.file, "%s: says why (%s)", m->name, err.msg);
	}
	free(buf);

	/* Every ET_DYN without PT_LOAD is refused after the point of no
	 * return (total_mapping_size 0: -EINVAL). */
	for (unsigned i = 0; i < orig_phnum(); i++)
		if (((Elf64_Phdr *)(orig + phfield(i, 0)))->p_type == PT_LOAD)
			put32(orig + phfield(i, 0), PT_NULL);
	struct vm_error err;
	int val;
	is_i64(try_copy("no-load", orig, orig_len, &val, &err), 0, "no PT_LOAD: parses");
	is_i64(val, -EINVAL, "no PT_LOAD: validate -EINVAL (%s)", err.msg);

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("could not remove %s", tmpdir);
	free(orig);
}

/* Bad arguments and a reader that fails. */
static long failing_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	(void)ctx, (void)buf, (void)len, (void)off;
	return -EIO;
}

static void test_args(void)
{
	static struct vm_elf_image img;
	struct vm_elf_reader r = { failing_read, NULL, "x" };
	struct vm_error err;
	is_i64(vm_elf_parse(NULL, &img, &err), -EINVAL, "no reader: -EINVAL");
	is_i64(vm_elf_parse(&r, NULL, &err), -EINVAL, "no image: -EINVAL");
	is_i64(vm_elf_parse(&r, &img, &err), -EIO, "a read error is returned");
	is_i64(vm_elf_parse_interp(&r, &img, &err), -EIO, "also for an interpreter");
	char b[16];
	is_str(vm_elf_ptype_name(PT_LOAD, b, sizeof(b)), "LOAD", "p_type name");
	is_str(vm_elf_ptype_name(PT_GNU_STACK, b, sizeof(b)), "GNU_STACK", "GNU p_type name");
	is_str(vm_elf_ptype_name(0x70000001, b, sizeof(b)), "0x70000001", "unknown p_type in hex");
	is_i64(vm_elf_prot(PF_R | PF_X), VM_PROT_READ | VM_PROT_EXEC, "make_prot r-x");
}

int main(void)
{
	test_constants();
	test_args();
	test_ls();
	test_plan();
	test_host_binaries();
	test_mutations();
	return done_testing();
}
