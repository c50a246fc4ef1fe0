/*
 * Processes: a pid, an address space, a CPU to run on, open files, fault
 * counters and, once dead, why.
 */
#ifndef VM_KERNEL_PROC_H
#define VM_KERNEL_PROC_H

#include <stdbool.h>
#include <stdint.h>

#include <vmlab/types.h>

#include "kernel/kernel.h"

#define VM_PROC_NAME 32
#define VM_NOFILE 1024            /* RLIMIT_NOFILE: file descriptors 0..1023 */

enum vm_proc_state {
	VM_PROC_RUNNING,
	VM_PROC_EXITED,               /* called exit */
	VM_PROC_KILLED,               /* a signal killed it (see sig) */
};

/* What killed a process (Linux's siginfo for a fault). */
struct vm_siginfo {
	int signo;                    /* VM_SIGSEGV, VM_SIGBUS; 0 = none */
	int code;                     /* VM_SEGV_MAPERR, VM_SEGV_ACCERR, VM_BUS_ADRERR, ... */
	vm_vaddr addr;                /* the faulting address */
	uint32_t pf_error;            /* the #PF error code */
	const char *reason;           /* one line: "no VMA", "write to a read-only VMA", ... */
};

struct vm_fd {
	struct vm_file *file;         /* holds a file reference; NULL = closed (or special) */
	int flags;                    /* VM_O_RDONLY / VM_O_WRONLY / VM_O_RDWR */
	bool special;                 /* open, but nothing mmap can map (a directory, a
				       * device): file is NULL and mmap gives -ENODEV */
};

struct vm_proc {
	int pid;
	int ppid;                     /* the parent that may wait for it; 0 = none (orphan) */
	int tgid;                     /* thread group: the pid of its process (== pid but for
				       * threads, which share the leader's mm) */
	int vfork_child;              /* pid of the vfork child it waits for (Linux: the
				       * vfork_done completion), 0 = not waiting */
	char name[VM_PROC_NAME];
	struct vm_mm *mm;
	unsigned cpu;                 /* the CPU it runs on */
	enum vm_proc_state state;
	int exit_code;
	struct vm_siginfo sig;
	uint64_t min_flt, maj_flt;    /* task counters (getrusage ru_minflt, ru_majflt) */
	int oom_score_adj;            /* /proc/PID/oom_score_adj: -1000 (never) .. 1000 */
	struct vm_fd *fds;            /* VM_NOFILE entries, allocated at create */
};

/* A new process with an empty address space: the standard layout, a stack
 * VMA of 128 KiB below the (randomised) stack top as setup_arg_pages leaves
 * it, and a brk start, as an exec of a small program would.  Runs on CPU
 * pid % ncpus.  0, -ENOMEM. */
int vm_proc_create(struct vm_kernel *k, const char *name, struct vm_proc **out);

/* A process struct with a pid (the next one), a slot in the process
 * table, an empty descriptor table, CPU pid % ncpus; no mm, state
 * RUNNING (the caller gives it an mm, or frees it with vm_proc_reap).
 * 0, -ENOMEM. */
int vm_proc_alloc(struct vm_kernel *k, const char *name, struct vm_proc **out);

/* By pid, or NULL (dead processes stay findable until reaped). */
struct vm_proc *vm_proc_find(struct vm_kernel *k, int pid);

/* Kill a process with a signal from a fault: record it, free its address
 * space, close its files.  The whole thread group dies (a fatal signal's
 * default action is do_group_exit). */
void vm_proc_kill(struct vm_kernel *k, struct vm_proc *p, const struct vm_siginfo *sig);

/* Free a dead process's slot and struct. */
void vm_proc_reap(struct vm_kernel *k, struct vm_proc *p);

/* Linux mm_release() -> complete_vfork_done(): p stops using the mm it
 * borrowed from a vfork parent (it exits, is killed, or execs a new
 * program): the parent waiting for it runs again.  Nothing when p is no
 * vfork child.  exec calls it before it replaces the mm. */
void vm_proc_vfork_done(struct vm_kernel *k, struct vm_proc *p);

#endif
