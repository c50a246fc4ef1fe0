/*
 * test_exec: execve of real ELF files (src/kernel/exec.c, exec_load.c).
 *
 * Oracles: Linux 6.18 measured on this Debian 12 host — a process stopped
 * at its first instruction under setarch -R (ptrace; tests/linux/exec
 * makes the same comparison live) shows for /bin/ls the maps below,
 * VmRSS 12 kB (the stack page and the two pages padzero writes), VmPTE
 * 28 kB, the initial stack byte for byte; the program headers read with
 * the host's <elf.h>; binfmt_elf's rules (load bias, brk after bss, the
 * stack's execute permission, errno before the point of no return,
 * SIGSEGV after it); and the frame accounting (every frame back after
 * exit, vm_kernel_check after every step).
 */
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "tap.h"
#include "kernel_fixture.h"
#include "base/compiler.h"
#include "kernel/exec.h"

#define LS_SIZE 151344       /* Debian 12's /bin/ls, whose native maps are below */

static char tmpdir[64];

static int exec_args(struct kfx *f, const char *path, const char *const *argv,
		     const char *const *envp, struct vm_exec_info *info, struct vm_error *err)
{
	int rc = vm_sys_execve(f->k, f->p, path, argv, envp, info, err);
	kfx_check(f, "execve");
	return rc;
}

static int exec1(struct kfx *f, const char *path, struct vm_exec_info *info,
		 struct vm_error *err)
{
	const char *argv[] = { path, NULL };
	return exec_args(f, path, argv, NULL, info, err);
}

static uint64_t peek(struct kfx *f, vm_vaddr va)
{
	uint64_t v = 0;
	if (vm_user_access(f->k, f->p, va, 8, VM_ACC_READ, &v))
		return UINT64_MAX;
	return v;
}

static void peek_str(struct kfx *f, vm_vaddr va, char *buf, size_t len)
{
	size_t i = 0;
	for (; i + 1 < len; i++) {
		unsigned char c = 0;
		if (vm_user_access(f->k, f->p, va + i, 1, VM_ACC_READ, &c) || !c)
			break;
		buf[i] = (char)c;
	}
	buf[i] = '\0';
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) ? -1 : (long)st.st_size;
}

/* The native maps of Debian 12's /bin/ls stopped at its first instruction
 * under setarch -R on Linux 6.18 (device and inode left out). */
static const char *const ls_native[] = {
	"555555554000-555555558000 r--p 00000000 /usr/bin/ls",
	"555555558000-55555556e000 r-xp 00004000 /usr/bin/ls",
	"55555556e000-555555577000 r--p 0001a000 /usr/bin/ls",
	"555555577000-555555579000 rw-p 00023000 /usr/bin/ls",
	"555555579000-55555557a000 rw-p 00000000 ",
	"7ffff7fc2000-7ffff7fc6000 r--p 00000000 [vvar]",
	"7ffff7fc6000-7ffff7fc8000 r--p 00000000 [vvar_vclock]",
	"7ffff7fc8000-7ffff7fca000 r-xp 00000000 [vdso]",
	"7ffff7fca000-7ffff7fcb000 r--p 00000000 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	"7ffff7fcb000-7ffff7ff1000 r-xp 00001000 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	"7ffff7ff1000-7ffff7ffb000 r--p 00027000 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	"7ffff7ffb000-7ffff7fff000 rw-p 00031000 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	"7ffffffde000-7ffffffff000 rw-p 00000000 [stack]",
	NULL,
};

/* maps without the device and inode columns. */
static void strip_maps(const char *maps, char *out, size_t len)
{
	char range[64], perms[8], off[32], dev[16];
	unsigned long ino;
	int n;
	size_t w = 0;
	while (*maps && sscanf(maps, "%63s %7s %31s %15s %lu%n", range, perms, off, dev, &ino, &n) == 5) {
		const char *name = maps + n;
		while (*name == ' ')
			name++;
		const char *eol = strchr(name, '\n');
		size_t nl = eol ? (size_t)(eol - name) : strlen(name);
		w += (size_t)snprintf(out + w, len - w, "%s %s %s %.*s\n", range, perms, off, (int)nl, name);
		maps = eol ? eol + 1 : name + nl;
	}
}

static void test_ls_native(void)
{
	struct kfx *f = kfx_new();
	struct vm_exec_info info;
	struct vm_error err;
	const char *envp[] = { "A=1", NULL };
	const char *argv[] = { "/bin/ls", NULL };

	is_i64(exec_args(f, "/bin/ls", argv, envp, &info, &err), 0, "exec /bin/ls (aslr=0)");
	if (file_size("/bin/ls") != LS_SIZE) {
		diag("/bin/ls is not Debian 12's: the native comparison is skipped");
		kfx_free(f);
		return;
	}
	static char got[8192], want[8192];
	strip_maps(kfx_maps(f), got, sizeof(got));
	size_t w = 0;
	for (int i = 0; ls_native[i]; i++)
		w += (size_t)snprintf(want + w, sizeof(want) - w, "%s\n", ls_native[i]);
	is_str(got, want, "maps as Linux shows them at the first instruction");
	kfx_status(f);
	is_i64(kfx_field(f, "VmRSS:"), 12, "VmRSS 12 kB: the stack page and two padzero pages");
	is_i64(kfx_field(f, "RssAnon:"), 12, "all anonymous");
	is_i64(kfx_field(f, "VmPTE:"), 28, "VmPTE 28 kB: seven tables");
	is_i64(kfx_field(f, "VmSize:"), 528, "VmSize 528 kB");
	is_i64(kfx_field(f, "VmData:"), 28, "VmData 28 kB");
	is_i64(kfx_field(f, "VmStk:"), 132, "VmStk 132 kB");
	is_i64(kfx_field(f, "VmExe:"), 88, "VmExe 88 kB (ls's text)");
	is_i64(kfx_field(f, "VmLib:"), 160, "VmLib 160 kB (ld.so's text and the vDSO)");
	/* ptrace(PTRACE_GETREGS) of the native process: rsp, rip. */
	is_u64(info.sp, 0x7fffffffee30, "rsp as natively");
	is_u64(info.entry, 0x7ffff7fe4b70, "rip: ld.so's entry");
	is_u64(f->p->mm->start_stack, info.sp, "start_stack is the stack pointer");
	kfx_free(f);
}

/* The program headers of path through <elf.h>: ehdr and the PT_LOADs. */
static int host_phdrs(const char *path, Elf64_Ehdr *eh, Elf64_Phdr *ph, int max)
{
	FILE *fp = fopen(path, "rb");
	int n = -1;
	if (fp && fread(eh, sizeof(*eh), 1, fp) == 1 && eh->e_phnum <= max &&
	    !fseek(fp, (long)eh->e_phoff, SEEK_SET) &&
	    fread(ph, sizeof(*ph), eh->e_phnum, fp) == eh->e_phnum)
		n = eh->e_phnum;
	if (fp)
		fclose(fp);
	return n;
}

/* Layout facts that follow from the ELF file and binfmt_elf's rules. */
static void test_layout(const char *path)
{
	struct kfx *f = kfx_new();
	struct vm_exec_info info;
	struct vm_error err;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[80];
	int n = host_phdrs(path, &eh, ph, 80);

	if (n < 0 || eh.e_type != ET_DYN) {
		ok(0, "%s: a PIE", path);
		kfx_free(f);
		return;
	}
	is_i64(exec1(f, path, &info, &err), 0, "exec %s", path);
	is_u64(info.load_bias, 0x555555554000, "%s: PIE at ELF_ET_DYN_BASE page (aslr=0)", path);
	uint64_t brk = 0, phdr = 0;
	unsigned mapped = 0;
	for (int i = 0; i < n; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		uint64_t start = (info.load_bias + ph[i].p_vaddr) & ~UINT64_C(0xfff);
		struct vm_vma *v = vm_vma_lookup(f->p->mm, start);
		uint64_t want = (ph[i].p_flags & PF_R ? VM_READ : 0) | (ph[i].p_flags & PF_W ? VM_WRITE : 0) |
				(ph[i].p_flags & PF_X ? VM_EXEC : 0);
		if (v && v->vm_start == start && v->vm_file &&
		    (v->vm_flags & (VM_READ | VM_WRITE | VM_EXEC)) == want &&
		    v->vm_pgoff << 12 == (ph[i].p_offset & ~UINT64_C(0xfff)))
			mapped++;
		else
			diag("%s: PT_LOAD %d not mapped as its header says", path, i);
		if (ph[i].p_vaddr + ph[i].p_memsz > brk)
			brk = ph[i].p_vaddr + ph[i].p_memsz;
		if (ph[i].p_offset <= eh.e_phoff && eh.e_phoff < ph[i].p_offset + ph[i].p_filesz)
			phdr = eh.e_phoff - ph[i].p_offset + ph[i].p_vaddr;
	}
	ok(mapped > 0, "%s: every PT_LOAD is a private file mapping with its flags and offset (%u)",
	   path, mapped);
	is_u64(f->p->mm->start_brk, (info.load_bias + brk + 0xfff) & ~UINT64_C(0xfff),
	       "%s: brk starts at the page after bss (aslr=0)", path);
	is_u64(f->p->mm->brk, f->p->mm->start_brk, "%s: empty heap", path);

	/* The initial stack, read back through the MMU. */
	vm_vaddr sp = info.sp;
	ok(sp % 16 == 0, "%s: sp 16-byte aligned", path);
	is_u64(peek(f, sp), 1, "argc 1");
	char s[256];
	peek_str(f, peek(f, sp + 8), s, sizeof(s));
	is_str(s, path, "argv[0]");
	is_u64(peek(f, sp + 16), 0, "argv NULL");
	is_u64(peek(f, sp + 24), 0, "no environment: envp NULL");
	vm_vaddr a = sp + 32;
	static const uint64_t order[] = {
		AT_SYSINFO_EHDR, AT_MINSIGSTKSZ, AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT,
		AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID, AT_GID, AT_EGID, AT_SECURE,
		AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_PLATFORM, 27, 28, AT_NULL,
	};
	unsigned in_order = 0;
	uint64_t val[64] = { 0 };
	for (unsigned i = 0; i < VM_ARRAY_SIZE(order); i++, a += 16) {
		uint64_t t = peek(f, a);
		if (t == order[i])
			in_order++;
		if (t < 64)
			val[t] = peek(f, a + 8);
	}
	is_u64(in_order, VM_ARRAY_SIZE(order), "auxv types in create_elf_tables' order");
	is_u64(val[AT_PHDR], info.load_bias + phdr, "AT_PHDR");
	is_u64(val[AT_PHENT], sizeof(Elf64_Phdr), "AT_PHENT");
	is_u64(val[AT_PHNUM], eh.e_phnum, "AT_PHNUM");
	is_u64(val[AT_ENTRY], info.load_bias + eh.e_entry, "AT_ENTRY");
	is_u64(val[AT_PAGESZ], 4096, "AT_PAGESZ");
	is_u64(val[AT_CLKTCK], 100, "AT_CLKTCK");
	is_u64(val[AT_BASE], info.interp_base, "AT_BASE: the interpreter");
	struct vm_vma *ld = vm_vma_lookup(f->p->mm, info.interp_base);
	ok(ld && ld->vm_start == info.interp_base && ld->vm_file, "ld.so's first page is there");
	struct vm_vma *vdso = vm_vma_lookup(f->p->mm, val[AT_SYSINFO_EHDR]);
	ok(vdso && vdso->vm_name && !strcmp(vdso->vm_name, "[vdso]"), "AT_SYSINFO_EHDR: the [vdso]");
	peek_str(f, val[AT_EXECFN], s, sizeof(s));
	is_str(s, path, "AT_EXECFN: the file name as given");
	peek_str(f, val[AT_PLATFORM], s, sizeof(s));
	is_str(s, "x86_64", "AT_PLATFORM");
	ok(val[AT_RANDOM] > sp && val[AT_RANDOM] + 16 <= val[AT_PLATFORM], "AT_RANDOM: 16 bytes below the platform");
	ok(val[AT_EXECFN] + strlen(path) + 1 == info.stack_top - 8, "the file name at the top, 8 bytes below its end");
	kfx_free(f);
}

/* argv and envp strings and pointers. */
static void test_args(void)
{
	struct kfx *f = kfx_new();
	struct vm_exec_info info;
	struct vm_error err;
	const char *argv[] = { "ls", "-l", "", "a b", NULL };
	const char *envp[] = { "HOME=/root", "X=", NULL };
	is_i64(exec_args(f, "/bin/ls", argv, envp, &info, &err), 0, "exec with 4 args, 2 env");
	is_u64(peek(f, info.sp), 4, "argc 4");
	char s[64];
	for (int i = 0; i < 4; i++) {
		peek_str(f, peek(f, info.sp + 8 + 8 * (uint64_t)i), s, sizeof(s));
		is_str(s, argv[i], "argv[%d]", i);
	}
	for (int i = 0; i < 2; i++) {
		peek_str(f, peek(f, info.sp + 48 + 8 * (uint64_t)i), s, sizeof(s));
		is_str(s, envp[i], "envp[%d]", i);
	}
	is_u64(peek(f, info.sp + 64), 0, "envp NULL");
	is_u64(info.arg_start, peek(f, info.sp + 8), "argv strings start arg_start");
	is_u64(info.env_start, info.arg_end, "env strings follow");
	is_u64(info.env_end - info.env_start, strlen(envp[0]) + strlen(envp[1]) + 2, "env size");

	/* An empty argv gets one empty string (Linux 5.18+). */
	is_i64(exec_args(f, "/bin/true", NULL, NULL, &info, &err), 0, "exec with argv NULL");
	is_u64(peek(f, info.sp), 1, "argc 1");
	peek_str(f, peek(f, info.sp + 8), s, sizeof(s));
	is_str(s, "", "argv[0] is \"\"");
	is_str(f->p->name, "true", "comm: the base name");
	kfx_free(f);
}

static void write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	FILE *fp = fopen(path, "wb");
	if (fp) {
		if (fwrite(buf, 1, len, fp) != len)
			diag("short write to %s", path);
		fclose(fp);
	}
	chmod(path, mode);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *b = NULL;
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	*len = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	b = malloc(*len + 4096);
	if (b && fread(b, 1, *len, fp) != *len) {
		free(b);
		b = NULL;
	}
	fclose(fp);
	return b;
}

/* Before the point of no return: -errno, the old program untouched. */
static void test_errors(void)
{
	struct kfx *f = kfx_new();
	struct vm_error err;
	char path[128], before[8192];
	long m = MMAP(f, 0, 3 * PG, RW, PRIV_ANON, -1, 0);
	ok(m > 0, "an mmap in the old program");
	snprintf(before, sizeof(before), "%s", kfx_maps(f));

	is_i64(exec1(f, "/nonexistent/ls", NULL, &err), -ENOENT, "missing: -ENOENT");
	is_i64(exec1(f, "/tmp", NULL, &err), -EACCES, "a directory: -EACCES (%s)", err.msg);
	is_i64(exec1(f, "", NULL, &err), -ENOENT, "an empty path: -ENOENT");
	is_i64(vm_sys_execve(f->k, f->p, NULL, NULL, NULL, NULL, &err), -EFAULT, "path NULL: -EFAULT");
	snprintf(path, sizeof(path), "%s/text", tmpdir);
	write_file(path, "echo hello\n", 11, 0755);
	is_i64(exec1(f, path, NULL, &err), -ENOEXEC, "an executable text file: -ENOEXEC");
	ok(strstr(err.msg, "not an ELF") != NULL, "says so: %s", err.msg);
	snprintf(path, sizeof(path), "%s/script", tmpdir);
	write_file(path, "#!/bin/sh\necho\n", 15, 0755);
	is_i64(exec1(f, path, NULL, &err), -ENOEXEC, "a #! script: -ENOEXEC (binfmt_script is not modelled)");
	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_file(path, "", 0, 0755);
	is_i64(exec1(f, path, NULL, &err), -ENOEXEC, "an empty file: -ENOEXEC");
	size_t len;
	unsigned char *elf = slurp("/bin/true", &len);
	snprintf(path, sizeof(path), "%s/noexec", tmpdir);
	write_file(path, elf, len, 0644);
	is_i64(exec1(f, path, NULL, &err), -EACCES, "an ELF without execute permission: -EACCES");
	is_i64(exec1(f, "/etc/passwd/x", NULL, &err), -ENOTDIR, "a file as a directory: -ENOTDIR");

	/* E2BIG: one string over MAX_ARG_STRLEN; all of them over 1/4 of
	 * RLIMIT_STACK (2 MiB of 8 MiB). */
	char *big = malloc(33 * 4096);
	memset(big, 'x', 33 * 4096);
	big[32 * 4096] = '\0';
	const char *argv1[] = { "true", big, NULL };
	is_i64(exec_args(f, "/bin/true", argv1, NULL, NULL, &err), -E2BIG, "a 128 KiB argument: -E2BIG");
	big[32 * 4096 - 1] = '\0';
	is_i64(exec_args(f, "/bin/true", argv1, NULL, NULL, &err), 0,
	       "128 KiB minus its NUL fits (MAX_ARG_STRLEN counts the NUL)");
	const char *many[20];
	for (int i = 0; i < 19; i++)
		many[i] = big;
	many[19] = NULL;
	is_i64(exec_args(f, "/bin/true", many, NULL, NULL, &err), -E2BIG, "19 x 128 KiB > 2 MiB: -E2BIG");
	free(big);

	/* After a failed exec the process still runs its program. */
	kfx_free(f);
	f = kfx_new();
	m = MMAP(f, 0, 3 * PG, RW, PRIV_ANON, -1, 0);
	snprintf(before, sizeof(before), "%s", kfx_maps(f));
	snprintf(path, sizeof(path), "%s/text", tmpdir);
	exec1(f, path, NULL, &err);
	is_str(kfx_maps(f), before, "a failed exec leaves the address space as it was");
	ok(f->p->state == VM_PROC_RUNNING, "and the process running");
	free(elf);
	kfx_free(f);
}

static void put32(unsigned char *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

/* The n-th program header of type t in an ELF image in memory. */
static Elf64_Phdr *phdr_of(unsigned char *elf, uint32_t t)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(elf + eh->e_phoff + i * sizeof(*ph));
		if (ph->p_type == t)
			return ph;
	}
	return NULL;
}

/* A copy of /bin/true whose PT_INTERP names interp (appended at the end). */
static void with_interp(const char *path, const char *interp)
{
	size_t len;
	unsigned char *b = slurp("/bin/true", &len);
	Elf64_Phdr *ph = phdr_of(b, PT_INTERP);
	size_t n = strlen(interp) + 1;
	memcpy(b + len, interp, n);
	put64((unsigned char *)&ph->p_offset, len);
	put64((unsigned char *)&ph->p_filesz, n);
	write_file(path, b, len + n, 0755);
	free(b);
}

/* Interpreters and the stack's execute permission. */
static void test_interp_and_stack(void)
{
	struct kfx *f = kfx_new();
	struct vm_error err;
	struct vm_exec_info info;
	char path[128], ipath[128];
	size_t len;

	snprintf(path, sizeof(path), "%s/t-missing-interp", tmpdir);
	with_interp(path, "/lib64/ld-musl-x86_64.so.1.nope");
	is_i64(exec1(f, path, NULL, &err), -ENOENT, "a missing interpreter: -ENOENT (%s)", err.msg);
	snprintf(ipath, sizeof(ipath), "%s/fake-ld", tmpdir);
	static const char text[] = "this is not an ELF interpreter, but it is executable and longer "
				   "than an ELF header\n";
	write_file(ipath, text, sizeof(text) - 1, 0755);
	snprintf(path, sizeof(path), "%s/t-bad-interp", tmpdir);
	with_interp(path, ipath);
	is_i64(exec1(f, path, NULL, &err), -ELIBBAD, "an interpreter that is not ELF: -ELIBBAD");
	write_file(ipath, "short", 5, 0755);
	is_i64(exec1(f, path, NULL, &err), -EIO, "one shorter than an ELF header: -EIO");
	write_file(ipath, "x", 1, 0644);
	is_i64(exec1(f, path, NULL, &err), -EACCES, "one without execute permission: -EACCES");
	snprintf(path, sizeof(path), "%s/t-dir-interp", tmpdir);
	with_interp(path, "/tmp");
	is_i64(exec1(f, path, NULL, &err), -EACCES, "a directory as interpreter: -EACCES");

	/* PT_GNU_STACK with PF_X: an executable stack; without PT_GNU_STACK
	 * x86-64 keeps it non-executable (no READ_IMPLIES_EXEC for 64-bit). */
	unsigned char *b = slurp("/bin/true", &len);
	Elf64_Phdr *st = phdr_of(b, PT_GNU_STACK);
	put32((unsigned char *)&st->p_flags, PF_R | PF_W | PF_X);
	snprintf(path, sizeof(path), "%s/t-execstack", tmpdir);
	write_file(path, b, len, 0755);
	is_i64(exec1(f, path, &info, &err), 0, "exec with an executable stack");
	struct vm_vma *v = vm_vma_lookup(f->p->mm, info.sp);
	ok(v && (v->vm_flags & VM_EXEC) && (v->vm_flags & VM_GROWSDOWN), "the stack VMA has VM_EXEC");
	put32((unsigned char *)&st->p_type, PT_NULL);
	snprintf(path, sizeof(path), "%s/t-nostack", tmpdir);
	write_file(path, b, len, 0755);
	is_i64(exec1(f, path, &info, &err), 0, "exec without PT_GNU_STACK");
	v = vm_vma_lookup(f->p->mm, info.sp);
	ok(v && !(v->vm_flags & VM_EXEC), "the stack is not executable");
	free(b);
	kfx_free(f);
}

/* After the point of no return: SIGSEGV, and nothing leaks. */
static void test_fatal(void)
{
	struct kfx *f = kfx_new();
	struct vm_error err;
	char path[128];
	size_t len;
	unsigned char *b = slurp("/bin/true", &len);
	Elf64_Phdr *data = NULL;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(b + eh->e_phoff + i * sizeof(*ph));
		if (ph->p_type == PT_LOAD)
			data = ph;
	}
	put64((unsigned char *)&data->p_offset, data->p_offset + 1);
	snprintf(path, sizeof(path), "%s/t-misaligned", tmpdir);
	write_file(path, b, len, 0755);
	int rc = exec1(f, path, NULL, &err);
	is_i64(rc, -EINVAL, "p_offset and p_vaddr apart modulo the page: -EINVAL (%s)", err.msg);
	is_u64(f->p->state, VM_PROC_KILLED, "the process is killed");
	is_i64(f->p->sig.signo, VM_SIGSEGV, "by SIGSEGV");
	ok(f->p->mm == NULL, "its address space is gone");
	vm_proc_reap(f->k, f->p);
	is_u64(f->k->buddy->free_frames, f->k->phys->nframes - 1, "every frame is free but the zero page");
	kfx_check(f, "reap");
	free(b);
	kfx_free(f);
}

/* Randomisation with aslr=2 (Linux's entropy per region; REFERENCE.md
 * 2.6) and determinism. */
static void test_aslr(void)
{
	const char *w2[] = { "aslr=2", NULL };
	vm_vaddr bias[2], sp[2], base[2], brk[2];
	char maps[2][4096];
	for (int seed = 0; seed < 2; seed++) {
		char s[32];
		snprintf(s, sizeof(s), "seed=%d", seed + 7);
		const char *w[] = { "aslr=2", s, NULL };
		struct kfx *f = kfx_new_with(w);
		struct vm_exec_info info;
		struct vm_error err;
		is_i64(exec1(f, "/bin/ls", &info, &err), 0, "exec /bin/ls with aslr=2 seed %d", seed + 7);
		bias[seed] = info.load_bias;
		sp[seed] = info.sp;
		base[seed] = info.interp_base;
		brk[seed] = f->p->mm->start_brk;
		snprintf(maps[seed], sizeof(maps[seed]), "%s", kfx_maps(f));
		ok(bias[seed] >= 0x555555554000 && bias[seed] < 0x555555554000 + (UINT64_C(1) << 40) &&
		   bias[seed] % 4096 == 0, "PIE base within 2^28 pages of ELF_ET_DYN_BASE");
		ok(sp[seed] % 16 == 0 && sp[seed] < 0x7ffffffff000 &&
		   sp[seed] > 0x7ffffffff000 - (UINT64_C(1) << 34) - 65536, "stack within 16 GiB of the top");
		Elf64_Ehdr eh;
		Elf64_Phdr ph[80];
		int n = host_phdrs("/bin/ls", &eh, ph, 80);
		uint64_t end = 0;
		for (int i = 0; i < n; i++)
			if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > end)
				end = ph[i].p_vaddr + ph[i].p_memsz;
		end = (bias[seed] + end + 0xfff) & ~UINT64_C(0xfff);
		ok(brk[seed] >= end + 4096 && brk[seed] < end + 4096 + (UINT64_C(1) << 30),
		   "brk a page after bss plus up to 1 GiB (arch_randomize_brk)");
		kfx_free(f);
	}
	ok(bias[0] != bias[1] && sp[0] != sp[1] && base[0] != base[1] && brk[0] != brk[1],
	   "two seeds: every region moves");
	struct kfx *f = kfx_new_with((const char *[]){ "aslr=2", "seed=7", NULL });
	struct vm_error err;
	exec1(f, "/bin/ls", NULL, &err);
	is_str(kfx_maps(f), maps[0], "the same seed gives the same maps");
	kfx_free(f);
	(void)w2;
}

/* Meta mode: the same address space, no bytes. */
static void test_meta(void)
{
	struct kfx *d = kfx_new(), *m = kfx_new_with((const char *[]){ "mode=meta", NULL });
	struct vm_error err;
	struct vm_exec_info a, b;
	is_i64(exec1(d, "/bin/ls", &a, &err), 0, "data mode");
	is_i64(exec1(m, "/bin/ls", &b, &err), 0, "meta mode");
	static char md[8192];
	snprintf(md, sizeof(md), "%s", kfx_maps(d));
	is_str(kfx_maps(m), md, "the same maps");
	is_u64(b.sp, a.sp, "the same stack pointer (the stack is sized the same)");
	is_u64(m->p->mm->rss[VM_RSS_ANON], d->p->mm->rss[VM_RSS_ANON], "the same pages touched");
	kfx_free(d);
	kfx_free(m);
}

/* exec twice, then exit: every frame comes back; host allocation
 * failures at every step leave nothing held. */
static void test_lifecycle(void)
{
	struct kfx *f = kfx_new();
	struct vm_error err;
	is_i64(exec1(f, "/bin/true", NULL, &err), 0, "exec /bin/true");
	is_i64(exec1(f, "/bin/ls", NULL, &err), 0, "then /bin/ls");
	vm_sys_exit(f->k, f->p, 0);
	kfx_check(f, "exit");
	is_u64(f->k->buddy->free_frames, f->k->phys->nframes - 1,
	       "exit: every frame is free but the zero page (files closed, their cache dropped)");
	kfx_free(f);

#if defined(VM_DEBUG) && VM_DEBUG
	/* Debug builds check every invariant inside the system call, and the
	 * checker needs host memory too: an injected failure there is not
	 * exec's.  Release and sanitizer builds run the loop. */
	ok(1, "allocation failures: skipped in DEBUG builds");
	ok(1, "allocation failures: skipped in DEBUG builds");
	return;
#endif
	/* How many host allocations a clean exec makes; then fail each. */
	f = kfx_new();
	uint64_t a0 = f->m->host.attempts;
	vm_sys_execve(f->k, f->p, "/bin/ls", NULL, NULL, NULL, &err);
	uint64_t total = f->m->host.attempts - a0;
	kfx_free(f);
	unsigned failures = 0, failed = 0;
	for (uint64_t n = 1; n <= total; n++) {
		f = kfx_new();
		uint64_t before = f->m->host.allocs - f->m->host.frees;
		f->m->host.fail_at = f->m->host.attempts + n;
		int rc = vm_sys_execve(f->k, f->p, "/bin/ls", NULL, NULL, NULL, &err);
		f->m->host.fail_at = 0;
		if (kfx_check(f, "execve with a failed allocation"))
			failures++;
		/* A fault that finds no memory while the kernel writes the
		 * new program's memory fails that write: -EFAULT, killed.
		 * Linux ignores a failed munmap in elf_map: exec may succeed. */
		if (rc)
			failed++;
		if (rc && rc != -ENOMEM && !(rc == -EFAULT && f->p->state == VM_PROC_KILLED)) {
			diag("allocation %" PRIu64 ": exec returned %d", n, rc);
			failures++;
		}
		if (rc && f->p->state == VM_PROC_RUNNING &&
		    f->m->host.allocs - f->m->host.frees != before) {
			diag("allocation %" PRIu64 ": %" PRIu64 " host blocks held", n,
			     f->m->host.allocs - f->m->host.frees - before);
			failures++;
		}
		kfx_free(f);
	}
	ok(total > 10 && failed > 0, "%" PRIu64 " allocations in an exec, %u failures made it fail",
	   total, failed);
	is_u64(failures, 0, "every failed allocation is -ENOMEM, consistent, nothing leaked");
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vmlab-test-exec-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	test_ls_native();
	test_layout("/bin/ls");
	test_layout("/bin/true");
	test_layout("/usr/bin/env");
	test_args();
	test_errors();
	test_interp_and_stack();
	test_fatal();
	test_aslr();
	test_meta();
	test_lifecycle();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		diag("could not remove %s", tmpdir);
	return done_testing();
}
