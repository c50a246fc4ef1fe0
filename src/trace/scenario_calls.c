/*
 * What a scenario's processes do, each statement `P verb ...` once P is
 * known to run: user accesses (vm_user_access), the memory system calls
 * (vm_sys_*), exec, fork, vfork, thread and wait.  scenario_run.c checks
 * the operands and the process, then calls scn_run_call.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "kernel/exec.h"
#include "kernel/fault.h"
#include "kernel/fork.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "trace/scenario.h"

/* The notice of a process killed by a signal (its code and address, as
 * siginfo has them); its threads died with it. */
static void killed(struct scn_run *r, const struct scn_stmt *st, const struct vm_proc *p)
{
	const char *sig = scn_signal_name(p->sig.signo), *code = NULL;
	if (p->sig.signo == VM_SIGSEGV)
		code = p->sig.code == VM_SEGV_MAPERR ? "SEGV_MAPERR"
		       : p->sig.code == VM_SEGV_ACCERR ? "SEGV_ACCERR" : "SEGV_PKUERR";
	else if (p->sig.signo == VM_SIGBUS)
		code = p->sig.code == VM_BUS_ADRERR ? "BUS_ADRERR" : NULL;
	/* The other threads of the group died with it (do_group_exit). */
	for (size_t i = 0; i < r->prog->nprocs; i++)
		if (r->procs[i] && r->procs[i]->state == VM_PROC_KILLED && !r->killed_line[i])
			r->killed_line[i] = st->line;
	scn_out_begin(r, st->line, "%s killed by %s%s%s%s at 0x%" PRIx64 "%s%s",
		      scn_proc_name(r, st->proc), sig ? sig : "a signal", code ? " (" : "",
		      code ? code : "", code ? ")" : "", p->sig.addr, p->sig.reason ? ": " : "",
		      p->sig.reason ? p->sig.reason : "");
	scn_out_end(r);
}

/* len bytes at va, split at page boundaries; in data mode reads keep the
 * first 8 bytes in A.value and writes store `value` little endian,
 * repeated.  Returns vm_user_access's result. */
static int access_bytes(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
			vm_vaddr va, uint64_t len, uint64_t value)
{
	unsigned char buf[VM_PAGE_SIZE];
	unsigned kind = (unsigned)st->flags;
	bool bytes = r->data && kind != VM_ACC_EXEC;
	uint64_t got = 0;
	for (uint64_t done = 0; done < len;) {
		vm_vaddr a = va + done;
		uint64_t n = VM_MIN(len - done, VM_PAGE_SIZE - (a & (VM_PAGE_SIZE - 1)));
		if (bytes && kind == VM_ACC_WRITE)
			for (uint64_t i = 0; i < n; i++)
				buf[i] = (unsigned char)(value >> (8 * ((done + i) % 8)));
		int rc = vm_user_access(r->k, p, a, n, kind, bytes ? buf : NULL);
		if (rc)
			return rc;
		if (bytes && kind == VM_ACC_READ)
			for (uint64_t i = 0; i < n && done + i < 8; i++)
				got |= (uint64_t)buf[i] << (8 * (done + i));
		done += n;
	}
	if (kind == VM_ACC_READ)
		r->value[st->proc] = (int64_t)got;
	return 0;
}

/* One access per page of [va, va + len): at va in the first page, at the
 * start of each later one. */
static int touch_pages(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p, vm_vaddr va,
		       uint64_t len)
{
	vm_vaddr last = VM_ALIGN_DOWN(va + len - 1, VM_PAGE_SIZE);
	for (vm_vaddr pg = VM_ALIGN_DOWN(va, VM_PAGE_SIZE);; pg += VM_PAGE_SIZE) {
		int rc = vm_user_access(r->k, p, pg < va ? va : pg, 1, (unsigned)st->flags, NULL);
		if (rc || pg == last)
			return rc;
	}
}

static const char *const verb_names[] = {
	[SCN_READ] = "read", [SCN_WRITE] = "write", [SCN_EXEC] = "exec", [SCN_TOUCH] = "touch",
};

static void run_access(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		       const int64_t *v)
{
	vm_vaddr va = (vm_vaddr)v[SCN_A_ADDR];
	int64_t len = st->arg[SCN_A_LEN] == SCN_NONE ? 1 : v[SCN_A_LEN];
	const char *verb = verb_names[st->verb];
	if (len <= 0) {
		scn_stop(r, st->line, "%s: length %" PRId64 " is not positive", verb, len);
		return;
	}
	if (va + (uint64_t)len - 1 < va) {
		scn_stop(r, st->line, "%s: [0x%" PRIx64 ", +%" PRId64 ") wraps around the address space",
			 verb, va, len);
		return;
	}
	int rc = st->verb == SCN_TOUCH
		 ? touch_pages(r, st, p, va, (uint64_t)len)
		 : access_bytes(r, st, p, va, (uint64_t)len, (uint64_t)v[SCN_A_EXTRA]);
	if (rc > 0)
		killed(r, st, p);
	else if (rc < 0)
		scn_stop(r, st->line, "%s: the access failed with %s%s", verb,
			 scn_errno_name(-rc) ? "-" : "",
			 scn_errno_name(-rc) ? scn_errno_name(-rc) : "an error");
}

static long run_mmap(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		     const int64_t *v)
{
	uint64_t len = (uint64_t)v[SCN_A_LEN], off = (uint64_t)v[SCN_A_LEN2];
	vm_vaddr addr = (vm_vaddr)v[SCN_A_EXTRA];
	if (st->path == SCN_NONE)
		return vm_sys_mmap(r->k, p, addr, len, st->prot, st->flags, -1, off);
	/* As a program does: open, mmap, close (the mapping keeps the file);
	 * for writing too when the mapping is shared and writable. */
	bool shared_write = (st->flags & VM_MAP_TYPE) != VM_MAP_PRIVATE && (st->prot & VM_PROT_WRITE);
	long fd = vm_sys_openat(r->k, p, scn_str(r->prog, st->path),
				shared_write ? VM_O_RDWR : VM_O_RDONLY);
	if (fd < 0)
		return fd;
	long ret = vm_sys_mmap(r->k, p, addr, len, st->prot, st->flags, (int)fd, off);
	vm_sys_close(r->k, p, (int)fd);
	return ret;
}

/* `P exec PATH [ARG...]`: execve(PATH, {PATH, ARG..., NULL}, {NULL}).
 * A.last is 0 or -errno; a failure says why in the output; one after the
 * point of no return kills P (SIGSEGV), as in Linux. */
static void run_execve(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p)
{
	const char *path = scn_str(r->prog, st->path);
	const char *argv[SCN_LINE_MAX / 2 + 2];
	const char *at = path;
	struct vm_error err;
	for (int i = 0; i <= st->flags; i++) {
		argv[i] = at;
		at += strlen(at) + 1;
	}
	argv[st->flags + 1] = NULL;
	int rc = vm_sys_execve(r->k, p, path, argv, NULL, NULL, &err);
	r->last[st->proc] = rc;
	if (rc && p->state == VM_PROC_RUNNING) {
		const char *name = scn_errno_name(-rc);
		scn_out_begin(r, st->line, "%s exec %s: -%s: %s", scn_proc_name(r, st->proc), path,
			      name ? name : "?", err.msg);
		scn_out_end(r);
	} else if (rc) {
		killed(r, st, p);
	}
}

/* A memory system call or exit; its return value becomes A.last. */
static void run_syscall(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		     const int64_t *v)
{
	struct vm_kernel *k = r->k;
	vm_vaddr addr = (vm_vaddr)v[SCN_A_ADDR];
	uint64_t len = (uint64_t)v[SCN_A_LEN];
	long ret = 0;
	switch ((enum scn_verb)st->verb) {
	case SCN_MMAP:
		ret = run_mmap(r, st, p, v);
		r->names[st->name] = ret;
		break;
	case SCN_MUNMAP:
		ret = vm_sys_munmap(k, p, addr, len);
		break;
	case SCN_MPROTECT:
		ret = vm_sys_mprotect(k, p, addr, len, st->prot);
		break;
	case SCN_MADVISE:
		ret = vm_sys_madvise(k, p, addr, len, st->flags);
		break;
	case SCN_MSYNC:
		ret = vm_sys_msync(k, p, addr, len, st->flags);
		break;
	case SCN_BRK:
		if (st->brk_sign == '+')
			addr = p->mm->brk + addr;
		else if (st->brk_sign == '-')
			addr = p->mm->brk - addr;
		ret = vm_sys_brk(k, p, addr);
		break;
	case SCN_MREMAP:
		ret = vm_sys_mremap(k, p, addr, len, (uint64_t)v[SCN_A_LEN2], st->flags,
				    (vm_vaddr)v[SCN_A_EXTRA]);
		if (st->name != SCN_NONE)
			r->names[st->name] = ret;
		break;
	case SCN_EXIT:
		vm_sys_exit(k, p, (int)addr);
		return;
	default:
		return;
	}
	r->last[st->proc] = ret;
}

static const unsigned clone_flags[] = {
	[SCN_FORK] = 0, [SCN_VFORK] = VM_CLONE_VM | VM_CLONE_VFORK,
	[SCN_THREAD] = VM_CLONE_VM | VM_CLONE_THREAD,
};

/* fork, vfork, thread: A.last is the child's pid (or -errno), the
 * child's own last value 0, as each sees fork return. */
static void run_clone(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		      const int64_t *v)
{
	struct vm_proc *child;
	if (st->arg[SCN_A_ADDR] != SCN_NONE && (v[SCN_A_ADDR] < 0 ||
						 (uint64_t)v[SCN_A_ADDR] >= r->k->ncpus)) {
		scn_stop(r, st->line, "cpu %" PRId64 ": the machine has CPUs 0 to %u (set cpus=N)",
			 v[SCN_A_ADDR], r->k->ncpus - 1);
		return;
	}
	long ret = vm_sys_clone(r->k, p, clone_flags[st->verb], scn_proc_name(r, st->child), &child);
	r->last[st->proc] = ret;
	if (ret < 0)
		return;
	if (st->arg[SCN_A_ADDR] != SCN_NONE)
		child->cpu = (unsigned)v[SCN_A_ADDR];
	r->procs[st->child] = child;
	r->last[st->child] = 0;
}

/* wait: the kernel frees what it reaps; the scenario keeps a copy so that
 * expect and show may still name the child. */
static void run_wait(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p)
{
	struct vm_proc *c = r->procs[st->child];
	const char *name = scn_proc_name(r, st->child);
	if (!c || r->reaped[st->child] == c) {
		r->last[st->proc] = -ECHILD;     /* never created, or reaped already */
		return;
	}
	if (c->state == VM_PROC_RUNNING && c->ppid == p->pid && c->tgid == c->pid) {
		scn_stop(r, st->line, "%s still runs: %s would wait forever (a scenario runs one "
			 "statement at a time; let %s exit first)", name, scn_proc_name(r, st->proc),
			 name);
		return;
	}
	struct vm_proc *copy = malloc(sizeof(*copy));
	if (!copy) {
		scn_stop(r, st->line, "out of memory");
		return;
	}
	*copy = *c;
	copy->fds = NULL;
	copy->mm = NULL;
	long ret = vm_sys_wait(r->k, p, c->pid, NULL);
	r->last[st->proc] = ret;
	if (ret == copy->pid) {
		r->reaped[st->child] = copy;
		r->procs[st->child] = copy;
	} else {
		free(copy);
	}
}

void scn_run_call(struct scn_run *r, const struct scn_stmt *st, struct vm_proc *p,
		  const int64_t *v)
{
	switch ((enum scn_verb)st->verb) {
	case SCN_READ:
	case SCN_WRITE:
	case SCN_EXEC:
	case SCN_TOUCH:
		run_access(r, st, p, v);
		return;
	case SCN_EXECVE:
		run_execve(r, st, p);
		return;
	case SCN_FORK:
	case SCN_VFORK:
	case SCN_THREAD:
		run_clone(r, st, p, v);
		return;
	case SCN_WAIT:
		run_wait(r, st, p);
		return;
	default:
		run_syscall(r, st, p, v);
		return;
	}
}
