/*
 * The memory system calls, with Linux's semantics and errno values (the
 * differential test in tests/linux/ is the judge).  Each returns what the
 * syscall returns on x86-64: a value, or -errno.  Arguments use the ABI
 * constants of uapi.h.  Each names, in a comment at its definition, the
 * Linux function it models.  Calls on a dead process return -ESRCH.
 */
#ifndef VM_KERNEL_SYSCALLS_H
#define VM_KERNEL_SYSCALLS_H

#include <stdint.h>

#include <vmlab/types.h>

#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/uapi.h"

/* ksys_mmap_pgoff / do_mmap: returns the address or -EINVAL, -ENOMEM,
 * -EEXIST, -EACCES, -EBADF, -ENODEV, -EPERM, -EOVERFLOW. */
long vm_sys_mmap(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len, int prot,
		 int flags, int fd, uint64_t off);
/* __vm_munmap: 0, -EINVAL, -ENOMEM (max_map_count on a split). */
long vm_sys_munmap(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len);
/* do_mprotect_pkey: 0, -EINVAL, -ENOMEM (hole or max_map_count), -EACCES. */
long vm_sys_mprotect(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len, int prot);
/* SYSCALL_DEFINE1(brk): the new break on success, the old one on failure. */
long vm_sys_brk(struct vm_kernel *k, struct vm_proc *p, vm_vaddr brk);
/* SYSCALL_DEFINE5(mremap): the new address or -EINVAL, -ENOMEM, -EFAULT. */
long vm_sys_mremap(struct vm_kernel *k, struct vm_proc *p, vm_vaddr old_addr, uint64_t old_len,
		   uint64_t new_len, int flags, vm_vaddr new_addr);
/* do_madvise: 0, -EINVAL, -ENOMEM (range not fully mapped), -EAGAIN (a split beyond
 * max_map_count).  WILLNEED on anonymous memory is 0, as on a kernel with swap. */
long vm_sys_madvise(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len, int advice);
/* SYSCALL_DEFINE3(msync): 0, -EINVAL, -ENOMEM, -EBUSY. */
long vm_sys_msync(struct vm_kernel *k, struct vm_proc *p, vm_vaddr addr, uint64_t len, int flags);
/* openat(AT_FDCWD, path, flags) of a host file, read only: fd, -ENOENT,
 * -EACCES, -EISDIR (for O_WRONLY/O_RDWR), -EMFILE, -EROFS (writes come later). */
long vm_sys_openat(struct vm_kernel *k, struct vm_proc *p, const char *path, int flags);
long vm_sys_close(struct vm_kernel *k, struct vm_proc *p, int fd);
/* do_exit: unmap everything, close files; the process stays as a zombie. */
void vm_sys_exit(struct vm_kernel *k, struct vm_proc *p, int code);

#endif
