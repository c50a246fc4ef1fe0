/*
 * System calls, through Valgrind's syscall-wrapper hooks: the events the
 * lackey reader takes out of SYSCALL lines (src/trace/lackey.c,
 * lackey_sys.c, docs/formats.md "lackey"), made here from the arguments
 * and the result directly.
 *
 *   memory calls      mmap, mprotect, munmap, brk, mremap, msync, madvise,
 *                     shmat, shmdt, the mlock family, remap_file_pages,
 *                     pkey_mprotect: a SYSCALL event with the arguments
 *                     Valgrind prints for them and the result (a value or
 *                     -errno); a file mmap carries the path its descriptor
 *                     names
 *   descriptors       openat, open, creat, openat2, memfd_create name a
 *                     descriptor; dup, dup2, dup3, fcntl(F_DUPFD*) copy it;
 *                     close, close_range drop it (a fork child inherits the
 *                     table: it is this process's memory)
 *   kernel writes     read, fstat and the others of the table below write
 *                     into user memory without a store the tool sees: a
 *                     write access with the kernel flag, of the length the
 *                     call returned or of the structure's size
 *   processes         a fork (Valgrind runs fork, vfork and CLONE_VFORK as
 *                     forks; the atfork hooks say which clone was one) is a
 *                     FORK event in the parent, and the child starts its own
 *                     file; execve writes EXEC and ends the file before the
 *                     call, taken back if it fails; exit_group, or exit of
 *                     the last thread, is an EXIT event
 */
#include "pub_tool_basics.h"
#include "pub_tool_aspacemgr.h"
#include "pub_tool_libcassert.h"
#include "pub_tool_libcbase.h"
#include "pub_tool_libcprint.h"
#include "pub_tool_mallocfree.h"
#include "pub_tool_vki.h"
#include "pub_tool_vkiscnums.h"

#include "vgt.h"
#include "../trace/kernel_writes.h"

extern const HChar *vgt_prefix;

/* Memory calls kept as events, with the number of arguments Valgrind's
 * wrappers print (the lackey reader's event holds those). */
static const struct {
	UInt nr;
	UInt nargs;
} kept[] = {
	{ 9, 6 }, { 10, 3 }, { 11, 2 }, { 12, 1 }, { 25, 4 }, { 26, 3 }, { 28, 3 }, { 30, 3 },
	{ 67, 1 }, { 149, 2 }, { 150, 2 }, { 151, 1 }, { 152, 0 }, { 216, 5 }, { 325, 3 },
	{ 329, 4 },
};

/* Bytes an ioctl request writes at its argument, or 0 (kernel_writes.h). */
static ULong ioctl_len(UWord req)
{
	switch (req) {
#define IOCTL_CASE(request, bytes) case request: return bytes;
	VM_IOCTL_WRITES(IOCTL_CASE)
#undef IOCTL_CASE
	}
	return 0;
}

/* The kernel's writes into user buffers: the lackey reader's list
 * (kernel_writes.h), so that the two traces agree. */
static const struct {
	UInt nr;
	UChar buf;               /* the argument holding the buffer */
	Int len;                 /* > 0 bytes, or a VM_KW_* rule */
	UChar n;
} writes[] = {
#define WRITE_ROW(nr, buf, len, n) { nr, buf, len, n },
	VM_KERNEL_WRITES(WRITE_ROW)
#undef WRITE_ROW
};

#define FD_MAX 65536u

static HChar **fd_path;          /* by descriptor; NULL: closed or unknown */
static UInt fd_cap;
static UInt threads;             /* live threads besides the first */
static Bool fork_seen;           /* the atfork hooks ran for this call */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

Bool vgt_client_string(Addr a, HChar *buf)
{
	Addr checked = 0;
	for (UInt i = 0; i <= VGT_PATH_MAX; i++, a++) {
		if ((a & VGT_PAGE_MASK) != checked) {
			checked = a & VGT_PAGE_MASK;
			if (a < VGT_PAGE || !VG_(am_is_valid_for_client)(checked, 1, VKI_PROT_READ))
				return False;
		}
		buf[i] = *(const HChar *)a;
		if (buf[i] == '\0')
			return True;
	}
	buf[VGT_PATH_MAX] = '\0';    /* cut, as the lackey reader cuts */
	return True;
}

static const HChar *fd_lookup(UWord fd)
{
	return fd < fd_cap ? fd_path[fd] : NULL;
}

/* fd now names prefix + path (NULL: nothing known). */
static void fd_name(UWord fd, const HChar *path, const HChar *prefix)
{
	if (fd >= FD_MAX)
		return;
	if (fd >= fd_cap) {
		UInt cap = fd_cap ? fd_cap : 64;
		while (cap <= fd)
			cap *= 2;
		fd_path = VG_(realloc)("vgt.fds", fd_path, cap * sizeof(*fd_path));
		VG_(memset)(fd_path + fd_cap, 0, (cap - fd_cap) * sizeof(*fd_path));
		fd_cap = cap;
	}
	HChar *copy = NULL;
	if (path && path[0]) {
		SizeT a = VG_(strlen)(prefix), b = VG_(strlen)(path);
		copy = VG_(malloc)("vgt.fd", a + b + 1);
		VG_(memcpy)(copy, prefix, a);
		VG_(memcpy)(copy + a, path, b + 1);
		if (a + b > VGT_PATH_MAX)
			copy[VGT_PATH_MAX] = '\0';
	}
	if (fd_path[fd])
		VG_(free)(fd_path[fd]);
	fd_path[fd] = copy;
}

/* The path of a call's string argument, or NULL. */
static const HChar *arg_string(UWord a)
{
	static HChar buf[VGT_PATH_MAX + 1];
	return vgt_client_string(a, buf) ? buf : NULL;
}

/* A successful call's effect on the descriptor table (lk_fd_apply). */
static void fd_apply(UInt nr, const UWord *args, UWord res)
{
	switch (nr) {
	case 2:       /* open(path, flags, mode) */
	case 85:      /* creat(path, mode) */
		fd_name(res, arg_string(args[0]), "");
		break;
	case 257:     /* openat(dirfd, path, flags, mode) */
	case 437:     /* openat2(dirfd, path, how, size) */
		fd_name(res, arg_string(args[1]), "");
		break;
	case 319:     /* memfd_create(name, flags): maps show /memfd:NAME */
		fd_name(res, arg_string(args[0]), "/memfd:");
		break;
	case 32:      /* dup(old) */
		fd_name(res, fd_lookup(args[0]), "");
		break;
	case 33:      /* dup2(old, new) */
	case 292:     /* dup3(old, new, flags) */
		if (args[1] != args[0])
			fd_name(args[1], fd_lookup(args[0]), "");
		break;
	case 72:      /* fcntl(fd, F_DUPFD 0 or F_DUPFD_CLOEXEC 1030, min) */
		if (args[1] == 0 || args[1] == 1030)
			fd_name(res, fd_lookup(args[0]), "");
		break;
	case 3:       /* close(fd) */
		fd_name(args[0], NULL, "");
		break;
	case 436:     /* close_range(first, last, flags) */
		for (UWord fd = args[0]; fd <= args[1] && fd < fd_cap; fd++)
			fd_name(fd, NULL, "");
		break;
	}
}

/* Kernel writes of a successful call (lk_sys_user_writes). */
static void kernel_writes(UInt nr, const UWord *args, UWord res)
{
	UInt k = 0;
	/* arch_prctl writes only for ARCH_GET_FS (0x1003) and ARCH_GET_GS (0x1004). */
	if (nr == 158 && args[0] != 0x1003 && args[0] != 0x1004)
		return;
	for (UInt i = 0; i < ARRAY_SIZE(writes) && k < 2; i++) {
		if (writes[i].nr != nr || args[writes[i].buf] == 0)
			continue;
		ULong n;
		switch (writes[i].len) {
		case VM_KW_RET:
			n = res;
			break;
		case VM_KW_ARG:
			n = args[writes[i].n];
			break;
		case VM_KW_RET_X:
			n = (ULong)res * writes[i].n;
			break;
		case VM_KW_ARG_X:
			n = (ULong)args[1] * writes[i].n;
			break;
		case VM_KW_PAGES:
			n = (args[1] + VGT_PAGE - 1) / VGT_PAGE;
			break;
		case VM_KW_IOCTL:
			n = ioctl_len(args[1]);
			break;
		default:
			n = (ULong)writes[i].len;
		}
		if (n == 0 || n > (1ULL << 31))
			continue;
		vgt_access(args[writes[i].buf], n, VGT_W, VGT_F_KERNEL, 1);
		k++;
	}
}

static Int kept_nargs(UInt nr, const UWord *args)
{
	for (UInt i = 0; i < ARRAY_SIZE(kept); i++)
		if (kept[i].nr == nr) {
			/* mremap prints its new address only with MREMAP_FIXED. */
			if (nr == 25 && (args[3] & 2))
				return 5;
			return (Int)kept[i].nargs;
		}
	return -1;
}

void vgt_pre_syscall(ThreadId tid, UInt nr, UWord *args, UInt nargs)
{
	switch (nr) {
	case 59:      /* execve(path, argv, envp) */
	case 322: {   /* execveat(dirfd, path, argv, envp, flags) */
		const HChar *path = arg_string(nr == 59 ? args[0] : args[1]);
		if (path && path[0])
			vgt_out_exec_begin(path);
		break;
	}
	case 231:     /* exit_group(code) */
		vgt_ev_exit((Int)args[0]);
		break;
	case 60:      /* exit(code): the process's only when no other thread lives */
		if (threads == 0)
			vgt_ev_exit((Int)args[0]);
		else
			threads--;
		break;
	}
}

void vgt_post_syscall(ThreadId tid, UInt nr, UWord *args, UInt nargs, SysRes res)
{
	Bool ok = !sr_isError(res);
	UWord val = ok ? sr_Res(res) : sr_Err(res);
	Int n = kept_nargs(nr, args);
	if (n >= 0) {
		const HChar *path = NULL;
		if (nr == 9 && !(args[3] & VKI_MAP_ANONYMOUS))
			path = fd_lookup(args[4]);
		vgt_ev_syscall(nr, (UInt)n, args, ok ? (Long)val : -(Long)val, path);
	} else if (nr == 56 || nr == 57 || nr == 58 || nr == 435) {
		/* clone, fork, vfork, clone3: a fork if the atfork hooks ran. */
		if (ok && val != 0) {
			if (fork_seen) {
				vgt_ev_fork((Int)val);
				/* The join follows the child from here (capture_join.c)
				 * while the parent waits for it, often with its buffer
				 * not full: write the FORK now. */
				vgt_out_flush();
			} else
				threads++;
		}
		fork_seen = False;
	} else if (nr == 59 || nr == 322) {
		vgt_out_exec_failed();    /* a successful exec does not return */
	}
	if (!ok)
		return;
	fd_apply(nr, args, val);
	kernel_writes(nr, args, val);
}

void vgt_fork_pre(ThreadId tid)
{
	/* What is buffered is the parent's: write it before the child copies it. */
	vgt_out_flush();
	fork_seen = True;
}

void vgt_fork_parent(ThreadId tid)
{
}

void vgt_fork_child(ThreadId tid)
{
	threads = 0;
	vgt_out_reopen_child(vgt_prefix);
}
