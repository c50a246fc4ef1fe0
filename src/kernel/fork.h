/*
 * New processes from old ones (Linux kernel/fork.c): fork with
 * copy-on-write, vfork, threads (clone with a shared mm), and wait.
 * docs/fork.md tells the whole story.
 */
#ifndef VM_KERNEL_FORK_H
#define VM_KERNEL_FORK_H

#include "kernel/kernel.h"
#include "kernel/proc.h"

/* clone flags the model knows (include/uapi/linux/sched.h values). */
#define VM_CLONE_VM      0x00000100u   /* share the address space */
#define VM_CLONE_VFORK   0x00004000u   /* the parent waits until the child exits or execs */
#define VM_CLONE_THREAD  0x00010000u   /* same thread group (needs VM_CLONE_VM) */

/* Linux kernel_clone() -> copy_process() for parent:
 *   0                          fork: the child gets a copy of every VMA but
 *                              VM_DONTCOPY ones and of their page tables
 *                              (dup_mmap, copy_page_range): private
 *                              writable pages write-protected in both,
 *                              shared mappings shared; the parent's TLBs
 *                              flushed on every CPU running its mm;
 *   VM_CLONE_VM|VM_CLONE_VFORK vfork: the child borrows the parent's mm,
 *                              runs on the parent's CPU, and the parent
 *                              waits (vfork_child) until it exits or execs;
 *   VM_CLONE_VM|VM_CLONE_THREAD a thread: shares the mm, joins the thread
 *                              group (its parent is the parent's parent).
 * The child's descriptor table is a copy (CLONE_FILES is not modelled),
 * its fault counters start at 0, it runs on CPU pid % ncpus unless
 * vfork.  Returns the child's pid with *out, or -ESRCH (parent dead),
 * -EINVAL (flags), -ENOMEM (host memory, a table frame, or the
 * VM_ACCOUNT commit of a VMA): then no child exists. */
long vm_sys_clone(struct vm_kernel *k, struct vm_proc *parent, unsigned flags, const char *name,
		  struct vm_proc **out);

/* Linux wait4(pid, &status, WNOHANG, NULL) as the model's scenarios need
 * it: pid > 0 a child, -1 any child.  A child that has exited or was
 * killed is reaped (its struct freed) and its pid returned, with *status
 * (may be NULL) in wait(2)'s encoding: exit code << 8, or the signal.
 * 0 when the child still runs (the model has no scheduler to block on),
 * -ECHILD when p has no such child (threads are nobody's children),
 * -ESRCH for a dead p. */
long vm_sys_wait(struct vm_kernel *k, struct vm_proc *p, int pid, int *status);

#endif
