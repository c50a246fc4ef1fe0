/*
 * execve (Linux 6.18 fs/exec.c, fs/binfmt_elf.c): open the file
 * (do_open_execat), copy the strings (copy_strings, bprm_stack_limits),
 * read and check the headers (vm_elf_parse), open and check the
 * interpreter; then, past the point of no return, a new address space
 * (begin_new_exec, setup_new_exec: arch_pick_mmap_layout), the stack
 * (setup_arg_pages), the segments, interpreter and vDSO (exec_load.c),
 * the initial stack (create_elf_tables) and the heap (brk after bss,
 * arch_randomize_brk).
 *
 * The initial stack, from high addresses to low (docs/exec.md):
 *
 *   stack_top - 8 .. stack_top   8 zero bytes
 *   file name, envp strings, argv strings      <- arg_start
 *   (arch_align_stack: up to 8 KiB down with ASLR, 16-byte aligned)
 *   "x86_64\0" (AT_PLATFORM), 16 random bytes (AT_RANDOM)
 *   (padding to 16 bytes)
 *   auxv pairs ... AT_NULL, NULL, envp[], NULL, argv[], argc  <- sp
 */
#include "kernel/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/error.h"
#include "base/host.h"
#include "kernel/anon_vma.h"
#include "kernel/exec_internal.h"
#include "kernel/fault.h"
#include "kernel/uapi.h"

#define MAX_ARG_STRLEN   (32 * VM_PAGE_SIZE)       /* one string, its NUL included */
#define ARG_MAX_BYTES    (32 * VM_PAGE_SIZE)       /* ARG_MAX: the historical floor */
#define STK_LIM          (UINT64_C(8) << 20)        /* _STK_LIM */
#define MAX_ARG_STRINGS  UINT64_C(0x7fffffff)
#define TASK_COMM_LEN    16
#define PLATFORM         "x86_64"                   /* ELF_PLATFORM (utsname machine) */

/* The host's CPU as the auxiliary vector shows it (LD_SHOW_AUXV=1 on the
 * Zen 4 of REFERENCE.md): CPUID.1:EDX, FSGSBASE, the signal frame size of
 * its XSAVE features, and rseq's (struct rseq size 28, alignment 32). */
#define ELF_HWCAP        UINT64_C(0x178bfbff)
#define ELF_HWCAP2       UINT64_C(0x2)
#define MINSIGSTKSZ_HOST UINT64_C(3376)
#define RSEQ_FEATURE_SIZE 28
#define RSEQ_ALIGN       32
#define CLOCKS_PER_SEC   100                        /* USER_HZ */

/* The reader of the headers: the first page is read once and serves the
 * ELF header, the program headers and PT_INTERP when they lie in it. */
static long fd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct vm_exec_file *f = ctx;
	size_t done = 0;

	if (f->head_len < 0) {
		ssize_t n = pread(f->fd, f->head, sizeof(f->head), 0);
		f->head_len = n < 0 ? 0 : n;
	}
	if (off + len <= (uint64_t)f->head_len ||
	    (off <= (uint64_t)f->head_len && f->head_len < (long)sizeof(f->head))) {
		done = VM_MIN(len, (size_t)((uint64_t)f->head_len - off));
		memcpy(buf, f->head + off, done);
		return (long)done;
	}
	while (done < len) {
		ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (long)done;
}

/* The file's name as maps shows it: d_path of the opened file (symlinks
 * followed), from /proc/self/fd when the host has it. */
static int resolve(int fd, const char *path, char *out)
{
	char link[32];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, PATH_MAX - 1);
	if (n > 0 && out[0] == '/') {
		out[n] = '\0';
		return 0;
	}
	return realpath(path, out) ? 0 : -1;
}

/* Linux: do_open_execat() — a regular file the process may execute
 * (may_open with MAY_EXEC: a directory is EACCES, so is a file without
 * an execute bit, even for root).  The host must let vmlab read it (a
 * file with execute but no read permission is EACCES here, unlike Linux
 * for a non-root user). */
static int open_exec(struct vm_bprm *b, const char *path, struct vm_exec_file *f)
{
	const char *pre = f == &b->interp ? "the interpreter " : "";
	const char *show = f == &b->interp ? path : "";
	struct stat st;
	int e;

	f->head_len = -1;
	if ((f->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f->fd, &st)) {
		e = errno;
		vm_error_at(b->err, b->filename, 0, "%s%.100s%s%s", pre, show, *pre ? ": " : "",
			    strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111) || access(path, X_OK)) {
		vm_error_at(b->err, b->filename, 0, "%s%.100s%s%s (EACCES)", pre, show, *pre ? " is " : "",
			    S_ISDIR(st.st_mode) ? "a directory" : !S_ISREG(st.st_mode)
			    ? "not a regular file" : "not executable");
		return -EACCES;
	}
	if (resolve(f->fd, path, f->path)) {
		e = errno;
		vm_error_at(b->err, b->filename, 0, "%s%.100s%s%s", pre, show, *pre ? ": " : "",
			    strerror(e));
		return -e;
	}
	/* Messages name the file exec was given (it outlives the call). */
	f->reader = (struct vm_elf_reader){ fd_read, f, b->filename };
	f->img = vm_host_calloc(b->k->host, 1, sizeof(*f->img));
	int rc = f->img ? vm_file_open(b->k, f->path, &f->file) : -ENOMEM;
	if (rc)
		vm_error_at(b->err, b->filename, 0, "out of memory");
	return rc;
}

static void close_exec(struct vm_bprm *b, struct vm_exec_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	vm_host_free(b->k->host, f->img);
	f->img = NULL;
	vm_file_put(b->k, f->file);
	f->file = NULL;
}

static uint64_t count(const char *const *v)
{
	uint64_t n = 0;
	while (v && v[n] && n <= MAX_ARG_STRINGS)
		n++;
	return n;
}

/* Linux: bprm_stack_limits() then copy_string_kernel / copy_strings for
 * the file name, envp (last first), argv and, for an empty argv, "": each
 * string at most MAX_ARG_STRLEN, all of them and their pointers within a
 * quarter of RLIMIT_STACK (at least 128 KiB, at most 6 MiB).  Fills
 * b->strings in address order: argv, envp, file name. */
static int copy_strings(struct vm_bprm *b)
{
	uint64_t limit = VM_MIN(STK_LIM / 4 * 3, b->k->cfg.stack_rlimit / 4);
	uint64_t argc = VM_MAX(b->argc, 1), total = 0;

	limit = VM_MAX(limit, ARG_MAX_BYTES);
	if (b->argc > MAX_ARG_STRINGS || b->envc > MAX_ARG_STRINGS ||
	    limit <= (argc + b->envc) * sizeof(uint64_t))
		return vm_error_at(b->err, b->filename, 0, "too many arguments (E2BIG)"), -E2BIG;
	limit -= (argc + b->envc) * sizeof(uint64_t);
	for (uint64_t i = 0; i < b->argc + b->envc + 1 + (b->argc == 0); i++) {
		const char *s = i < b->argc ? b->argv[i] : i < b->argc + b->envc ? b->envp[i - b->argc]
			      : i == b->argc + b->envc ? b->filename : "";
		uint64_t len = strnlen(s, MAX_ARG_STRLEN) + 1;
		if (len > MAX_ARG_STRLEN || (total += len) > limit)
			return vm_error_at(b->err, b->filename, 0,
					   "argument or environment too long (E2BIG)"), -E2BIG;
	}
	b->strings = vm_host_calloc(b->k->host, 1, total);
	if (!b->strings)
		return -ENOMEM;
	b->strings_len = total;
	char *at = b->strings;
	if (b->argc == 0)
		*at++ = '\0';
	for (uint64_t i = 0; i < b->argc + b->envc + 1; i++) {
		const char *s = i < b->argc ? b->argv[i] : i < b->argc + b->envc ? b->envp[i - b->argc]
			      : b->filename;
		size_t len = strnlen(s, MAX_ARG_STRLEN) + 1;
		memcpy(at, s, len - 1);
		at[len - 1] = '\0';
		at += len;
	}
	if (b->argc == 0)
		b->argc = 1;
	return 0;
}

/* Everything load_elf_binary checks before begin_new_exec. */
static int prepare(struct vm_bprm *b)
{
	int rc = open_exec(b, b->filename, &b->exe);

	if (rc || (rc = copy_strings(b)))
		return rc;
	if ((rc = vm_elf_parse(&b->exe.reader, b->exe.img, b->err)))
		return rc;
	b->has_interp = b->exe.img->has_interp;
	if (!b->has_interp)
		return 0;
	if ((rc = open_exec(b, b->exe.img->interp, &b->interp)))
		return rc;
	return vm_elf_parse_interp(&b->interp.reader, b->interp.img, b->err);
}

/* Linux: arch_align_stack() — down by a random amount below 8 KiB when
 * randomising, then to 16 bytes. */
static vm_vaddr align_stack(struct vm_kernel *k, vm_vaddr sp)
{
	if (k->cfg.aslr)
		sp -= vm_rng_below(k->rng, 8192);
	return sp & ~UINT64_C(0xf);
}

/* Linux: begin_new_exec() + setup_new_exec(): the old address space goes,
 * the new one (with its own mmap layout) takes its place; comm becomes
 * the file's base name. */
static void new_address_space(struct vm_bprm *b, struct vm_mm *mm)
{
	struct vm_proc *p = b->p;
	struct vm_mm *old = p->mm;
	const char *base = strrchr(b->filename, '/');

	p->mm = mm;
	vm_mm_put(b->k, old);
	snprintf(p->name, VM_MIN(sizeof(p->name), (size_t)TASK_COMM_LEN), "%s",
		 base ? base + 1 : b->filename);
	b->point_of_no_return = true;
}

/* Linux: setup_arg_pages() — the stack VMA holds the pages of the strings
 * (copied below STACK_TOP_MAX, then shifted to the randomised top) and
 * 128 KiB more (stack_expand, capped by RLIMIT_STACK); executable only if
 * PT_GNU_STACK asks (x86-64 never sets READ_IMPLIES_EXEC). */
static int setup_arg_pages(struct vm_bprm *b, vm_vaddr *top)
{
	struct vm_kernel *k = b->k;
	struct vm_mm *mm = b->p->mm;
	vm_vaddr stack_top = k->cfg.map_window;                 /* STACK_TOP */
	uint64_t strings_pages, size, rlim = VM_ALIGN_DOWN(k->cfg.stack_rlimit, VM_PAGE_SIZE);

	if (k->cfg.aslr)                                        /* randomize_stack_top() */
		stack_top -= (vm_rng_next(k->rng) & VM_STACK_RND_MASK) << VM_PAGE_SHIFT;
	stack_top = VM_ALIGN_UP(align_stack(k, stack_top), VM_PAGE_SIZE);
	strings_pages = VM_ALIGN_UP(b->strings_len + 8, VM_PAGE_SIZE) >> VM_PAGE_SHIFT;
	size = (strings_pages << VM_PAGE_SHIFT) + VM_STACK_EXPAND;
	if (size > rlim)
		size = VM_MAX(rlim, strings_pages << VM_PAGE_SHIFT);

	struct vm_vma *vma = vm_vma_new(k);
	if (!vma)
		return -ENOMEM;
	vma->vm_start = stack_top - size;
	vma->vm_end = stack_top;
	vma->vm_flags = VM_STACK_FLAGS;
	if (b->exe.img->stack == VM_ELF_STACK_EXEC)
		vma->vm_flags |= VM_EXEC;
	/* __bprm_mm_init's VMA started at the top of the 47- (or 56-) bit
	 * space; growing down keeps the pgoff in step. */
	vma->vm_pgoff = ((k->cfg.task_size_max - (strings_pages << VM_PAGE_SHIFT)) >> VM_PAGE_SHIFT) -
			((size >> VM_PAGE_SHIFT) - strings_pages);
	vm_vma_link(mm, vma);
	/* copy_strings faults the argument pages in: the stack gets its
	 * anon_vma then (get_arg_page -> handle_mm_fault). */
	int rc = vm_anon_vma_prepare(k, vma);
	if (rc)
		return rc;
	vm_stat_account(mm, vma->vm_flags, (int64_t)(size >> VM_PAGE_SHIFT));
	*top = stack_top;
	return 0;
}

/* The auxiliary vector of create_elf_tables, x86-64's ARCH_DLINFO first. */
static unsigned fill_auxv(const struct vm_bprm *b, uint64_t *a, vm_vaddr execfn,
			  vm_vaddr platform, vm_vaddr random)
{
	const uint64_t pairs[][2] = {
		{ VM_AT_SYSINFO_EHDR, b->vdso }, { VM_AT_MINSIGSTKSZ, MINSIGSTKSZ_HOST },
		{ VM_AT_HWCAP, ELF_HWCAP }, { VM_AT_PAGESZ, VM_PAGE_SIZE },
		{ VM_AT_CLKTCK, CLOCKS_PER_SEC }, { VM_AT_PHDR, b->phdr_addr },
		{ VM_AT_PHENT, VM_ELF_PHDR_SIZE }, { VM_AT_PHNUM, b->exe.img->phnum },
		{ VM_AT_BASE, b->interp_base }, { VM_AT_FLAGS, 0 }, { VM_AT_ENTRY, b->e_entry },
		{ VM_AT_UID, VM_EXEC_UID }, { VM_AT_EUID, VM_EXEC_UID }, { VM_AT_GID, VM_EXEC_UID },
		{ VM_AT_EGID, VM_EXEC_UID }, { VM_AT_SECURE, 0 }, { VM_AT_RANDOM, random },
		{ VM_AT_HWCAP2, ELF_HWCAP2 }, { VM_AT_EXECFN, execfn }, { VM_AT_PLATFORM, platform },
		{ VM_AT_RSEQ_FEATURE_SIZE, RSEQ_FEATURE_SIZE }, { VM_AT_RSEQ_ALIGN, RSEQ_ALIGN },
		{ VM_AT_NULL, 0 },
	};
	static_assert(VM_ARRAY_SIZE(pairs) == VM_AUXV_ENTRIES, "auxv size");
	for (unsigned i = 0; i < VM_AUXV_ENTRIES; i++) {
		a[2 * i] = pairs[i][0];
		a[2 * i + 1] = pairs[i][1];
	}
	return 2 * VM_AUXV_ENTRIES;
}

static void put_u64(unsigned char *at, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		at[i] = (unsigned char)(v >> (8 * i));
}

/* Linux: the strings' final place and create_elf_tables(): platform
 * string, random bytes, then argc, argv, envp and the auxiliary vector at
 * the 16-byte aligned stack pointer.  Written through the MMU in two
 * pieces (strings; tables), as the kernel's own writes touch those pages
 * only.  Returns 0 or -EFAULT / -ENOMEM. */
static int create_elf_tables(struct vm_bprm *b, vm_vaddr stack_top, struct vm_exec_info *info)
{
	struct vm_kernel *k = b->k;
	uint64_t *auxv = info->auxv;
	vm_vaddr arg_start = stack_top - 8 - b->strings_len;
	vm_vaddr execfn = stack_top - 8 - (strlen(b->filename) + 1);
	int rc = vm_copy_to_user(k, b->p, arg_start, b->strings, b->strings_len);
	if (rc)
		return rc;

	vm_vaddr p = align_stack(k, arg_start);
	vm_vaddr platform = p -= sizeof(PLATFORM);
	vm_vaddr random = p -= 16;
	unsigned ei = fill_auxv(b, auxv, execfn, platform, random);
	uint64_t items = (b->argc + 1) + (b->envc + 1) + 1;
	vm_vaddr sp = (p - 8 * ei - 8 * items) & ~UINT64_C(15);     /* STACK_ROUND */
	uint64_t len = p + sizeof(PLATFORM) + 16 - sp;
	unsigned char *t = vm_host_calloc(k->host, 1, len);
	if (!t)
		return -ENOMEM;

	unsigned char *w = t;
	vm_vaddr s = arg_start;
	put_u64(w, b->argc), w += 8;
	info->arg_start = arg_start;
	for (uint64_t i = 0; i < b->argc + b->envc; i++) {
		if (i == b->argc) {
			put_u64(w, 0), w += 8;       /* argv's NULL */
			info->arg_end = info->env_start = s;
		}
		put_u64(w, s), w += 8;
		s += strlen(b->strings + (s - arg_start)) + 1;
	}
	if (b->envc == 0)
		put_u64(w, 0), w += 8, info->arg_end = info->env_start = s;
	put_u64(w, 0), w += 8;               /* envp's NULL */
	info->env_end = s;
	for (unsigned i = 0; i < ei; i++)
		put_u64(w + 8 * i, auxv[i]);
	for (unsigned i = 0; i < 16; i++)
		t[random - sp + i] = (unsigned char)vm_rng_next(k->rng);    /* get_random_bytes */
	memcpy(t + (platform - sp), PLATFORM, sizeof(PLATFORM));
	rc = vm_copy_to_user(k, b->p, sp, t, len);
	vm_host_free(k->host, t);

	info->sp = sp;
	info->execfn = execfn;
	info->argc = b->argc;
	info->envc = b->envc;
	return rc;
}

/* Linux: the end of load_elf_binary — the mm's layout fields, and the
 * heap: brk at the page after the end of bss (ELF_ET_DYN_BASE for a
 * loader run directly), plus a page and arch_randomize_brk() (a random
 * page within 1 GiB) with randomize_va_space 2. */
static void set_brk(struct vm_bprm *b, vm_vaddr sp)
{
	struct vm_mm *mm = b->p->mm;
	struct vm_kernel *k = b->k;
	vm_vaddr brk = b->elf_brk;
	bool moved = false;

	mm->start_code = b->start_code;
	mm->end_code = b->end_code;
	mm->start_data = b->start_data;
	mm->end_data = b->end_data;
	mm->start_stack = sp;
	if (b->exe.img->type == VM_ET_DYN && !b->has_interp) {
		brk = VM_ELF_ET_DYN_BASE(k);
		moved = true;
	}
	brk = VM_ALIGN_UP(brk, VM_PAGE_SIZE);
	if (k->cfg.aslr > 1) {
		if (!moved)
			brk += VM_PAGE_SIZE;
		brk += vm_rng_below(k->rng, VM_BRK_RND_RANGE >> VM_PAGE_SHIFT) << VM_PAGE_SHIFT;
	}
	mm->start_brk = mm->brk = brk;
}

/* After the point of no return (Linux: bprm_execve's force_fatal_sig). */
static int fatal(struct vm_bprm *b, int rc)
{
	static const struct vm_siginfo sig = {
		.signo = VM_SIGSEGV, .code = 0x80 /* SI_KERNEL */,
		.reason = "exec failed after the point of no return",
	};
	if (!b->err->msg[0])
		vm_error_at(b->err, b->filename, 0, "exec failed after the point of no return (%d)", rc);
	vm_proc_kill(b->k, b->p, &sig);
	return rc;
}

/* From the point of no return on. */
static int load(struct vm_bprm *b, struct vm_mm *mm, struct vm_exec_info *info)
{
	vm_vaddr stack_top;
	int rc;

	new_address_space(b, mm);
	if ((rc = setup_arg_pages(b, &stack_top)) || (rc = vm_exec_load_program(b)))
		return fatal(b, rc);
	b->entry = b->e_entry;
	if (b->has_interp && (rc = vm_exec_load_interp(b)))
		return fatal(b, rc);
	if (!b->has_interp && (b->entry >= mm->task_size))
		return fatal(b, vm_error_at(b->err, b->filename, 0,
					    "the entry point 0x%" PRIx64 " is beyond the address space",
					    b->entry));
	if ((rc = vm_exec_map_vdso(b)) || (rc = create_elf_tables(b, stack_top, info)))
		return fatal(b, rc);
	set_brk(b, info->sp);
	info->entry = b->entry;
	info->load_bias = b->load_bias;
	info->interp_base = b->interp_base;
	info->vdso = b->vdso;
	info->stack_top = stack_top;
	return 0;
}

int vm_sys_execve(struct vm_kernel *k, struct vm_proc *p, const char *path,
		  const char *const *argv, const char *const *envp, struct vm_exec_info *info,
		  struct vm_error *err)
{
	struct vm_error local;
	struct vm_exec_info local_info;
	struct vm_bprm b = {
		.k = k, .p = p, .err = err ? err : &local, .filename = path, .argv = argv,
		.envp = envp, .argc = count(argv), .envc = count(envp),
		.exe = { .fd = -1 }, .interp = { .fd = -1 },
	};
	struct vm_mm *mm = NULL;
	int saved, rc;

	vm_error_clear(b.err);
	if (!info)
		info = &local_info;
	memset(info, 0, sizeof(*info));
	if ((rc = vm_sys_enter(k, p, &saved)))
		return rc;
	if (!path)
		rc = -EFAULT;
	else if (!(rc = prepare(&b)))
		rc = vm_mm_create(k, &mm);     /* bprm_mm_init: before the point of no return */
	if (!rc)
		rc = load(&b, mm, info);
	close_exec(&b, &b.exe);
	close_exec(&b, &b.interp);
	vm_host_free(k->host, b.strings);
	return (int)vm_sys_leave(k, saved, rc, "execve");
}
