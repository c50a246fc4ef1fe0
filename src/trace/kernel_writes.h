/*
 * Kernel writes into user memory that a trace cannot show and its readers
 * synthesise (the lackey reader, lackey_sys.c, and vmlab's Valgrind tool,
 * src/vgtool/vgt_sys.c): one list for both, so that their traces agree
 * (tests/vgtool/lackey.t).  Plain macros and no includes: the tool is built
 * against Valgrind's headers, without libc.
 *
 * VM_KERNEL_WRITES(X) gives X(nr, buf, len, n) per written buffer, Linux
 * x86-64 syscall numbers and sizes: buf is the argument holding the
 * buffer; len > 0 a fixed byte count, or a rule:
 *   VM_KW_RET    the call's result            VM_KW_ARG    argument n
 *   VM_KW_RET_X  result * n                   VM_KW_ARG_X  argument 1 * n
 *   VM_KW_PAGES  one byte per page of argument 1 (mincore)
 *   VM_KW_IOCTL  VM_IOCTL_WRITES' length for the request in argument 1
 *
 * Not synthesised: readv, preadv and preadv2 (Linux do_iter_readv_writev
 * fills each iovec in order up to the result, but the iovec array lives in
 * user memory and no trace carries its contents), recvmsg likewise, and
 * ioctls other than VM_IOCTL_WRITES'.
 */
#ifndef VM_TRACE_KERNEL_WRITES_H
#define VM_TRACE_KERNEL_WRITES_H

#define VM_KW_RET     (-1)
#define VM_KW_ARG     (-2)
#define VM_KW_RET_X   (-3)
#define VM_KW_ARG_X   (-4)
#define VM_KW_PAGES   (-5)
#define VM_KW_IOCTL   (-6)

#define VM_KERNEL_WRITES(X) \
	X(0, 1, VM_KW_RET, 0)       /* read(fd, buf, count) */ \
	X(17, 1, VM_KW_RET, 0)      /* pread64 */ \
	X(78, 1, VM_KW_RET, 0)      /* getdents */ \
	X(217, 1, VM_KW_RET, 0)     /* getdents64 */ \
	X(4, 1, 144, 0)             /* stat(path, struct stat *) */ \
	X(5, 1, 144, 0)             /* fstat */ \
	X(6, 1, 144, 0)             /* lstat */ \
	X(262, 2, 144, 0)           /* newfstatat(dirfd, path, statbuf, flags) */ \
	X(332, 4, 256, 0)           /* statx(dirfd, path, flags, mask, struct statx *) */ \
	X(89, 1, VM_KW_RET, 0)      /* readlink(path, buf, size) */ \
	X(267, 2, VM_KW_RET, 0)     /* readlinkat */ \
	X(79, 0, VM_KW_RET, 0)      /* getcwd(buf, size): the length with the NUL */ \
	X(63, 0, 390, 0)            /* uname(struct utsname *) */ \
	X(99, 0, 112, 0)            /* sysinfo */ \
	X(318, 0, VM_KW_RET, 0)     /* getrandom(buf, len, flags) */ \
	X(45, 1, VM_KW_RET, 0)      /* recvfrom(fd, buf, len, ...) */ \
	X(22, 0, 8, 0)              /* pipe(int[2]) */ \
	X(293, 0, 8, 0)             /* pipe2 */ \
	X(53, 3, 8, 0)              /* socketpair(.., int[2]) */ \
	X(228, 1, 16, 0)            /* clock_gettime(clk, struct timespec *) */ \
	X(229, 1, 16, 0)            /* clock_getres */ \
	X(96, 0, 16, 0)             /* gettimeofday(struct timeval *, tz) */ \
	X(13, 2, 32, 0)             /* rt_sigaction(sig, act, oldact, size): kernel sigaction */ \
	X(14, 2, VM_KW_ARG, 3)      /* rt_sigprocmask(how, set, oldset, sigsetsize) */ \
	X(302, 3, 16, 0)            /* prlimit64(pid, res, new, old) */ \
	X(97, 1, 16, 0)             /* getrlimit */ \
	X(98, 1, 144, 0)            /* getrusage(who, struct rusage *) */ \
	X(204, 2, VM_KW_RET, 0)     /* sched_getaffinity(pid, len, mask): bytes copied */ \
	X(61, 1, 4, 0)              /* wait4(pid, int *status, options, rusage) */ \
	X(61, 3, 144, 0) \
	X(137, 1, 120, 0)           /* statfs(path, struct statfs *) */ \
	X(138, 1, 120, 0)           /* fstatfs */ \
	X(100, 0, 32, 0)            /* times(struct tms *) */ \
	X(27, 2, VM_KW_PAGES, 0)    /* mincore(addr, len, vec) */ \
	X(232, 1, VM_KW_RET_X, 12)  /* epoll_wait(epfd, events, max, timeout): packed 12 bytes */ \
	X(281, 1, VM_KW_RET_X, 12)  /* epoll_pwait */ \
	X(7, 0, VM_KW_ARG_X, 8)     /* poll(fds, nfds, timeout): revents of each pollfd */ \
	X(131, 1, 24, 0)            /* sigaltstack(ss, old) */ \
	X(158, 1, 8, 0)             /* arch_prctl(ARCH_GET_FS/GS, addr): only those codes (the readers check) */ \
	X(16, 2, VM_KW_IOCTL, 0)    /* ioctl(fd, request, arg) */

/* X(request, bytes) per ioctl request (Linux x86-64 ABI): the ones
 * isatty(3), ls and Python make. */
#define VM_IOCTL_WRITES(X) \
	X(0x5401, 36)   /* TCGETS: struct termios (kernel's: 4 flags, c_line, c_cc[19]) */ \
	X(0x540f, 4)    /* TIOCGPGRP: pid_t */ \
	X(0x5413, 8)    /* TIOCGWINSZ: struct winsize */ \
	X(0x541b, 4)    /* FIONREAD: int */

#endif
