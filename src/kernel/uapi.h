/*
 * The Linux user ABI constants the model's system calls take, with Linux's
 * x86-64 values (include/uapi/asm-generic/mman-common.h, mman.h,
 * linux/mman.h, asm-generic/signal.h, siginfo.h, fcntl.h), spelled with a
 * VM_ prefix so that the model never depends on the host's headers.
 * tests/unit/test_uapi.c checks them against the host's.
 */
#ifndef VM_KERNEL_UAPI_H
#define VM_KERNEL_UAPI_H

#define VM_PROT_NONE      0x0
#define VM_PROT_READ      0x1
#define VM_PROT_WRITE     0x2
#define VM_PROT_EXEC      0x4
#define VM_PROT_GROWSDOWN 0x01000000
#define VM_PROT_GROWSUP   0x02000000

#define VM_MAP_SHARED          0x01
#define VM_MAP_PRIVATE         0x02
#define VM_MAP_SHARED_VALIDATE 0x03
#define VM_MAP_TYPE            0x0f
#define VM_MAP_FIXED           0x10
#define VM_MAP_ANONYMOUS       0x20
#define VM_MAP_GROWSDOWN       0x0100
#define VM_MAP_DENYWRITE       0x0800
#define VM_MAP_EXECUTABLE      0x1000
#define VM_MAP_LOCKED          0x2000
#define VM_MAP_NORESERVE       0x4000
#define VM_MAP_POPULATE        0x8000
#define VM_MAP_NONBLOCK        0x10000
#define VM_MAP_STACK           0x20000
#define VM_MAP_HUGETLB         0x40000
#define VM_MAP_SYNC            0x80000
#define VM_MAP_FIXED_NOREPLACE 0x100000
#define VM_MAP_UNINITIALIZED   0x4000000

#define VM_MREMAP_MAYMOVE   1
#define VM_MREMAP_FIXED     2
#define VM_MREMAP_DONTUNMAP 4

#define VM_MADV_NORMAL      0
#define VM_MADV_RANDOM      1
#define VM_MADV_SEQUENTIAL  2
#define VM_MADV_WILLNEED    3
#define VM_MADV_DONTNEED    4
#define VM_MADV_FREE        8
#define VM_MADV_REMOVE      9
#define VM_MADV_DONTFORK    10
#define VM_MADV_DOFORK      11
#define VM_MADV_MERGEABLE   12
#define VM_MADV_UNMERGEABLE 13
#define VM_MADV_HUGEPAGE    14
#define VM_MADV_NOHUGEPAGE  15
#define VM_MADV_DONTDUMP    16
#define VM_MADV_DODUMP      17
#define VM_MADV_WIPEONFORK  18
#define VM_MADV_KEEPONFORK  19
#define VM_MADV_COLD        20
#define VM_MADV_PAGEOUT     21
#define VM_MADV_POPULATE_READ  22
#define VM_MADV_POPULATE_WRITE 23

#define VM_MS_ASYNC      1
#define VM_MS_INVALIDATE 2
#define VM_MS_SYNC       4

#define VM_O_RDONLY 00
#define VM_O_WRONLY 01
#define VM_O_RDWR   02
#define VM_O_ACCMODE 03
#define VM_O_CREAT  0100
#define VM_O_TRUNC  01000

#define VM_SIGBUS  7
#define VM_SIGKILL 9
#define VM_SIGSEGV 11

#define VM_SEGV_MAPERR 1    /* address not mapped */
#define VM_SEGV_ACCERR 2    /* invalid permissions for mapped object */
#define VM_SEGV_PKUERR 4    /* protection-key violation */
#define VM_BUS_ADRERR  2    /* nonexistent physical address (beyond EOF) */

#endif
