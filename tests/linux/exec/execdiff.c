/*
 * execdiff — exec in vmlab against exec on the host's Linux kernel
 * (docs/exec.md).  For each binary, natively: a child under ptrace
 * (PTRACE_TRACEME, personality ADDR_NO_RANDOMIZE as setarch -R sets it)
 * execs it and stops before its first instruction; the parent reads
 * /proc/PID/maps, the memory lines of status, the layout fields of stat,
 * rsp and rip, and the initial stack.  In the model: a machine with
 * aslr=0 and one process that execs the same file with the same argv and
 * environment.  Everything must be identical except what the model does
 * not have: [vsyscall] (the gate area is not a VMA), the 16 AT_RANDOM
 * bytes, and AT_UID..AT_EGID (the model's processes are uid 1000).
 *
 * Then the verdicts on damaged copies of /bin/true (tests/unit/test_elf.c
 * lists why each is refused): the errno execve returns natively must be
 * the model's, and a copy the kernel kills after the point of no return
 * (SIGSEGV) must be killed in the model too.
 *
 *   execdiff [BINARY...]     TAP; without arguments a default list
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "core/machine.h"
#include "kernel/exec.h"
#include "kernel/fault.h"
#include "kernel/procfs.h"
#include "kernel/syscalls.h"
#include "tap.h"

#define STACK_TOP UINT64_C(0x7ffffffff000)
#define TEXT_MAX  (1 << 16)

static char *const child_env[] = { "A=1", "LANG=C", NULL };

/* What a process looks like at its first instruction. */
struct snap {
	char maps[TEXT_MAX];
	char status[4096];            /* the Vm and Rss lines */
	uint64_t stat[10];            /* start_code end_code start_stack start_data end_data
				       * start_brk arg_start arg_end env_start env_end */
	uint64_t rsp, rip;
	unsigned char *stack;         /* [rsp, STACK_TOP) */
	size_t stack_len;
};

static const char *const stat_names[10] = {
	"start_code", "end_code", "start_stack", "start_data", "end_data", "start_brk",
	"arg_start", "arg_end", "env_start", "env_end",
};

static void keep_status_lines(const char *in, char *out, size_t len)
{
	size_t w = 0;
	for (const char *l = in; *l;) {
		const char *eol = strchr(l, '\n');
		size_t n = eol ? (size_t)(eol - l + 1) : strlen(l);
		if ((!strncmp(l, "Vm", 2) || !strncmp(l, "Rss", 3)) && w + n < len) {
			memcpy(out + w, l, n);
			w += n;
		}
		l += n;
	}
	out[w] = '\0';
}

static ssize_t read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = 0, r;
	if (fd < 0)
		return -1;
	while ((size_t)n + 1 < len && (r = read(fd, buf + n, len - 1 - (size_t)n)) > 0)
		n += r;
	buf[n] = '\0';
	close(fd);
	return n;
}

/* Native: exec path in a traced child.  Returns 0 and *s at the first
 * instruction; or the errno execve returned (> 0); or -SIGNAL when the
 * child was killed by a signal; or -1000 when ptrace is not available. */
static int native(const char *path, struct snap *s)
{
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC))
		return -1000;
	pid_t pid = fork();
	if (pid < 0)
		return -1000;
	if (pid == 0) {
		char *argv[] = { (char *)path, NULL };
		close(pipefd[0]);
		personality(ADDR_NO_RANDOMIZE);
		if (ptrace(PTRACE_TRACEME, 0, 0, 0))
			_exit(126);
		execve(path, argv, child_env);
		int e = errno;
		if (write(pipefd[1], &e, sizeof(e)) != sizeof(e))
			_exit(125);
		_exit(127);
	}
	close(pipefd[1]);
	int st, e = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st)) {
		ssize_t n = read(pipefd[0], &e, sizeof(e));
		close(pipefd[0]);
		return WEXITSTATUS(st) == 126 ? -1000 : n == sizeof(e) ? e : -1000;
	}
	close(pipefd[0]);
	if (WIFSIGNALED(st))
		return -WTERMSIG(st);
	if (WIFSTOPPED(st) && WSTOPSIG(st) != SIGTRAP) {
		/* Killed after the point of no return: the signal arrives first
		 * as a signal-delivery stop. */
		int sig = WSTOPSIG(st);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -sig;
	}
	char p[64], buf[TEXT_MAX];
	snprintf(p, sizeof(p), "/proc/%d/maps", pid);
	read_text(p, s->maps, sizeof(s->maps));
	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	read_text(p, buf, sizeof(buf));
	keep_status_lines(buf, s->status, sizeof(s->status));
	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	read_text(p, buf, sizeof(buf));
	/* Fields after "(comm)": 3 is state; 26..28 and 45..51 are ours. */
	char *f = strrchr(buf, ')');
	int field = 2, k = 0;
	for (char *t = f ? strtok(f + 1, " ") : NULL; t; t = strtok(NULL, " ")) {
		field++;
		if ((field >= 26 && field <= 28) || (field >= 45 && field <= 51))
			s->stat[k++] = strtoull(t, NULL, 10);
	}
	struct user_regs_struct r;
	ptrace(PTRACE_GETREGS, pid, 0, &r);
	s->rsp = r.rsp;
	s->rip = r.rip;
	s->stack_len = STACK_TOP > r.rsp ? STACK_TOP - r.rsp : 0;
	s->stack = calloc(1, s->stack_len + 1);
	snprintf(p, sizeof(p), "/proc/%d/mem", pid);
	int fd = open(p, O_RDONLY);
	if (fd < 0 || pread(fd, s->stack, s->stack_len, (off_t)r.rsp) != (ssize_t)s->stack_len)
		s->stack_len = 0;
	if (fd >= 0)
		close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return 0;
}

static struct vm_machine *new_machine(void)
{
	struct vm_settings *set = vmlab_settings_create();
	struct vm_error err;
	struct vm_machine *m = NULL;
	vmlab_settings_parse(set, "aslr=0", &err);
	vmlab_settings_parse(set, "phys=256M", &err);
	if (vmlab_machine_create(set, NULL, &m, &err))
		m = NULL;
	vmlab_settings_destroy(set);
	return m;
}

static void capture(int which, struct vm_kernel *k, struct vm_proc *p, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");
	if (!f)
		return;
	if (which == 0)
		vm_procfs_maps(k, p, f, 0, UINT64_MAX);
	else
		vm_procfs_status(k, p, f);
	fputc('\0', f);
	fclose(f);
	buf[len - 1] = '\0';
}

/* The model: 0 and *s, or the -errno of execve; *killed when it killed. */
static int model(const char *path, struct snap *s, bool *killed, struct vm_error *err)
{
	struct vm_machine *m = new_machine();
	struct vm_kernel *k = m ? vm_machine_kernel(m) : NULL;
	struct vm_proc *p;
	struct vm_exec_info info;
	const char *argv[] = { path, NULL };
	*killed = false;
	if (!k || vm_proc_create(k, "execdiff", &p)) {
		vmlab_machine_destroy(m);
		return -ENOMEM;
	}
	int rc = vm_sys_execve(k, p, path, argv, (const char *const *)child_env, &info, err);
	*killed = p->state == VM_PROC_KILLED;
	if (rc == 0) {
		char buf[TEXT_MAX];
		capture(0, k, p, s->maps, sizeof(s->maps));
		capture(1, k, p, buf, sizeof(buf));
		keep_status_lines(buf, s->status, sizeof(s->status));
		const struct vm_mm *mm = p->mm;
		uint64_t v[10] = { mm->start_code, mm->end_code, mm->start_stack, mm->start_data,
				   mm->end_data, mm->start_brk, info.arg_start, info.arg_end,
				   info.env_start, info.env_end };
		memcpy(s->stat, v, sizeof(v));
		s->rsp = info.sp;
		s->rip = info.entry;
		s->stack_len = info.stack_top - info.sp;
		s->stack = calloc(1, s->stack_len + 1);
		vm_user_access(k, p, info.sp, s->stack_len, VM_ACC_READ, s->stack);
	}
	vmlab_machine_destroy(m);
	return rc;
}

/* maps without [vsyscall], which is not a VMA of the mm. */
static void drop_vsyscall(char *maps)
{
	char *l = strstr(maps, "[vsyscall]");
	if (!l)
		return;
	while (l > maps && l[-1] != '\n')
		l--;
	char *eol = strchr(l, '\n');
	memmove(l, eol ? eol + 1 : l + strlen(l), strlen(eol ? eol + 1 : "") + 1);
}

/* Stack words that may differ: AT_RANDOM's 16 bytes, the uid and gid
 * values.  Marks them in skip[] (one flag per byte). */
static void mask_stack(const struct snap *s, unsigned char *skip)
{
	uint64_t w, argc;
	size_t at = 0;
	if (s->stack_len < 8)
		return;
	memcpy(&argc, s->stack, 8);
	at = 8 + 8 * (argc + 1);
	while (at + 8 <= s->stack_len && (memcpy(&w, s->stack + at, 8), w))
		at += 8;                                /* envp */
	for (at += 8; at + 16 <= s->stack_len; at += 16) {
		uint64_t type, val;
		memcpy(&type, s->stack + at, 8);
		memcpy(&val, s->stack + at + 8, 8);
		if (type == AT_NULL)
			break;
		if (type == AT_UID || type == AT_EUID || type == AT_GID || type == AT_EGID)
			memset(skip + at + 8, 1, 8);
		if (type == AT_RANDOM && val >= s->rsp && val + 16 <= s->rsp + s->stack_len)
			memset(skip + (val - s->rsp), 1, 16);
	}
}

static void compare(const char *path)
{
	static struct snap n, m;
	free(n.stack);
	free(m.stack);
	memset(&n, 0, sizeof(n));
	memset(&m, 0, sizeof(m));
	int rn = native(path, &n);
	if (rn == -1000) {
		ok(1, "# SKIP %s: ptrace is not available", path);
		return;
	}
	if (rn != 0) {
		ok(0, "%s: runs natively (got %d)", path, rn);
		return;
	}
	bool killed;
	struct vm_error err;
	int rm = model(path, &m, &killed, &err);
	if (!is_i64(rm, 0, "%s: exec in the model", path)) {
		diag("%s", err.msg);
		return;
	}
	drop_vsyscall(n.maps);
	is_str(m.maps, n.maps, "%s: maps", path);
	is_str(m.status, n.status, "%s: status Vm and Rss lines", path);
	for (int i = 0; i < 10; i++)
		is_u64(m.stat[i], n.stat[i], "%s: %s", path, stat_names[i]);
	is_u64(m.rsp, n.rsp, "%s: rsp", path);
	is_u64(m.rip, n.rip, "%s: rip", path);
	unsigned char *skip = calloc(1, n.stack_len + 1);
	size_t diff = 0, first = 0;
	mask_stack(&n, skip);
	if (m.stack_len != n.stack_len) {
		diff = 1;
	} else {
		for (size_t i = 0; i < n.stack_len; i++)
			if (!skip[i] && m.stack[i] != n.stack[i] && !diff++)
				first = i;
	}
	ok(diff == 0, "%s: the initial stack, %zu bytes (but AT_RANDOM and the uids)", path,
	   n.stack_len);
	if (diff)
		diag("%zu bytes differ, the first at rsp+%zu (lengths %zu native, %zu model)", diff,
		     first, n.stack_len, m.stack_len);
	free(skip);
}

/* ---- damaged copies of /bin/true ----------------------------------------- */

struct damage {
	const char *name;
	size_t off;          /* byte offset, or a program-header field (see below) */
	int ph_type;         /* 0: off is absolute; else the first header of this type, off its field */
	unsigned width;      /* 1, 2, 4, 8; 0 = truncate at off */
	uint64_t value;
};

static void put_le(unsigned char *b, uint64_t v, unsigned width)
{
	for (unsigned i = 0; i < width; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

static void verdicts(const char *dir)
{
	FILE *f = fopen("/bin/true", "rb");
	if (!f)
		return;
	static unsigned char orig[1 << 20], buf[1 << 20];
	size_t len = fread(orig, 1, sizeof(orig), f);
	fclose(f);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)orig;
	const struct damage list[] = {
		{ "empty", 0, 0, 0, 0 },
		{ "short-header", 40, 0, 0, 0 },
		{ "no-phdrs", eh->e_phoff + 56, 0, 0, 0 },
		{ "bad-magic", 1, 0, 1, 'e' },
		{ "type-rel", 16, 0, 2, ET_REL },
		{ "machine-386", 18, 0, 2, EM_386 },
		{ "machine-aarch64", 18, 0, 2, EM_AARCH64 },
		{ "phentsize-32", 54, 0, 2, 32 },
		{ "phnum-0", 56, 0, 2, 0 },
		{ "phnum-74", 56, 0, 2, 74 },
		{ "phnum-1170", 56, 0, 2, 1170 },
		{ "phnum-1171", 56, 0, 2, 1171 },
		{ "phoff-eof", 32, 0, 8, len - 8 },
		{ "interp-size-1", 32, PT_INTERP, 8, 1 },
		{ "interp-size-4097", 32, PT_INTERP, 8, 4097 },
		{ "interp-beyond-eof", 8, PT_INTERP, 8, len + 4096 },
		{ "interp-offset-negative", 8, PT_INTERP, 8, UINT64_C(1) << 63 },
		{ "load-misaligned", 8, PT_LOAD, 8, 1 },
		{ "load-filesz-gt-memsz", 32, PT_LOAD, 8, 0x100000 },
		{ "stack-exec", 4, PT_GNU_STACK, 4, PF_R | PF_W | PF_X },
		{ "version-0", EI_VERSION, 0, 1, 0 },
	};
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++) {
		const struct damage *d = &list[i];
		size_t n = len, off = d->off;
		memcpy(buf, orig, len);
		if (d->ph_type) {
			for (unsigned j = 0; j < eh->e_phnum; j++) {
				Elf64_Phdr *ph = (Elf64_Phdr *)(orig + eh->e_phoff + j * sizeof(*ph));
				if (ph->p_type == (uint32_t)d->ph_type) {
					off = eh->e_phoff + j * sizeof(*ph) + d->off;
					break;
				}
			}
		}
		if (d->width)
			put_le(buf + off, d->value, d->width);
		else
			n = off;
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", dir, d->name);
		FILE *o = fopen(path, "wb");
		if (!o || fwrite(buf, 1, n, o) != n) {
			ok(0, "write %s", path);
			if (o)
				fclose(o);
			continue;
		}
		fclose(o);
		chmod(path, 0755);
		static struct snap s;
		int rn = native(path, &s);
		free(s.stack);
		s.stack = NULL;
		if (rn == -1000) {
			ok(1, "# SKIP %s: ptrace is not available", d->name);
			continue;
		}
		bool killed;
		struct vm_error err;
		static struct snap ms;
		int rm = model(path, &ms, &killed, &err);
		free(ms.stack);
		ms.stack = NULL;
		if (rn > 0)
			is_i64(rm, -rn, "%s: execve returns -%s natively and in the model (%s)", d->name,
			       strerrorname_np(rn), err.msg);
		else if (rn < 0)
			ok(killed && -rn == SIGSEGV, "%s: killed by signal %d natively; the model %s (%s)",
			   d->name, -rn, killed ? "killed it" : "did not", err.msg);
		else
			ok(rm == 0 && !killed, "%s: runs natively and in the model (%d)", d->name, rm);
	}
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = {
		"/bin/ls", "/bin/true", "/usr/bin/env", "/usr/bin/cat", "/usr/bin/ld.so",
		"/usr/bin/c-index-test-14", "/usr/bin/fd2pascal-3.2.2", NULL,
	};
	struct snap probe = { 0 };
	if (native("/bin/true", &probe) == -1000) {
		printf("1..0 # SKIP ptrace is not available here\n");
		return 0;
	}
	free(probe.stack);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			compare(argv[i]);
	} else {
		for (int i = 0; defaults[i]; i++)
			if (access(defaults[i], X_OK) == 0)
				compare(defaults[i]);
	}
	char dir[] = "/tmp/vmlab-execdiff-XXXXXX";
	if (argc <= 1 && mkdtemp(dir)) {
		verdicts(dir);
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			diag("could not remove %s", dir);
	}
	return done_testing();
}
