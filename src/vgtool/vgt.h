/*
 * vmlab's Valgrind tool (docs/vgtool.md): what its files share.
 *
 * The tool runs inside Valgrind's process, linked against Valgrind's own
 * static libraries (libcoregrind, libvex), with no C library: everything
 * here is written with Valgrind's VG_(...) functions and types.  It writes
 * vmlab's vmt format (docs/formats.md) directly, one file per process
 * image, NAME.PID.SEQ.vmt:
 *
 *   vgt_main.c    registration, options, start and end of a process image,
 *                 fork (the child starts its own file)
 *   vgt_instr.c   instrumentation: every fetch, load, store and modify, as
 *                 inline IR that extends the current run of accesses to one
 *                 page and a helper call when the page or kind changes
 *   vgt_out.c     the vmt encoder: runs, records, the output buffer, files
 *   vgt_sys.c     system calls: memory calls, descriptors, kernel writes,
 *                 fork, exec, exit
 *   vgt_maps.c    the initial address space, from the address-space manager
 *
 * The events are those of the lackey reader (src/trace/lackey*.c), in the
 * same order, so that the two captures of one program replay alike.
 */
#ifndef VGT_H
#define VGT_H

#include "pub_tool_basics.h"
#include "pub_tool_tooliface.h"

/* Access kinds, as vmlab's (VM_ACC_READ/WRITE/EXEC, VM_TACC_MODIFY). */
#define VGT_R 0
#define VGT_W 1
#define VGT_X 2
#define VGT_M 3

/* Access flags (VM_TEV_F_KERNEL): a write the kernel made into a user
 * buffer, synthesised from a system call's arguments and result. */
#define VGT_F_KERNEL 1

/* Map event flags (VM_TEV_F_HEAP, VM_TEV_F_STACK). */
#define VGT_MAP_HEAP  4
#define VGT_MAP_STACK 8

/* Valgrind's trampoline: the page of the tool's own text (around
 * VG_(trampoline_stuff_start)) that Valgrind gives the client.  It is the
 * tracer's, not the program's, and lies at another address in each tool
 * (lackey's 0x5807d000, this one's 0x5807e000): the trace puts it at
 * VGT_TRAMPOLINE, anonymous, as the lackey reader does
 * (src/trace/lackey.h VM_VG_TRAMPOLINE, the same value), so that the two
 * tools' traces replay alike.  vgt_tramp_len is 0 until vgt_maps_write
 * found it. */
#define VGT_TRAMPOLINE 0x58000000UL
extern Addr vgt_tramp_start;
extern UWord vgt_tramp_len;

#define VGT_PAGE 4096UL
#define VGT_PAGE_MASK (~(VGT_PAGE - 1))
#define VGT_PATH_MAX 4095        /* bytes in a path, as vmt allows */

/* The run of accesses being collapsed: consecutive accesses of one kind
 * (and flags) to one page.  key = page address | kind | flags << 2; the
 * generated code compares it and adds to count without a call.  key ==
 * VGT_NO_RUN when there is none (its low bits can be no access's). */
struct vgt_run {
	ULong key;
	ULong count;                 /* accesses in the run, >= 1 */
	Addr addr;                   /* the first access */
	UWord size;                  /* its size, 1..4096 */
};

#define VGT_NO_RUN (~0UL)

extern struct vgt_run vgt_run;
extern Bool vgt_exact;           /* --vmt-exact=yes: every access its own record */

/* vgt_out.c */

/* Start the stream of this process image: create NAME.PID.SEQ.vmt (the
 * lowest free SEQ) and write the header and the PID record.  Exits
 * Valgrind with a message when the file cannot be created. */
void vgt_out_open(const HChar *prefix);
/* A fork child: leave the parent's file (its bytes were written before
 * the fork) and start the child's own. */
void vgt_out_reopen_child(const HChar *prefix);
/* Write the buffered records to the file (whole records only). */
void vgt_out_flush(void);
/* End the stream: the pending run, then END with the event count. */
void vgt_out_finish(void);

/* An access of size bytes at addr (split at page boundaries), n times:
 * joins the current run or starts a new one.  Called from the generated
 * code's slow path and for kernel writes.  An access that starts in the
 * trampoline is moved to VGT_TRAMPOLINE first; its run's key is then a
 * page the generated code's comparison (of the real address) never
 * matches, so each such access takes this call. */
void vgt_access(Addr addr, UWord size, UInt kind, UInt flags, ULong n);
/* Write the pending run as a record (before any other event). */
void vgt_run_flush(void);

/* Other events (the run is flushed first). */
void vgt_ev_syscall(UInt nr, UInt nargs, const UWord *args, Long ret, const HChar *path);
void vgt_ev_map(Addr start, Addr end, UInt prot, UInt mapflags, ULong offset, UInt evflags,
		const HChar *path);
void vgt_ev_fork(Int child);
void vgt_ev_exec(const HChar *path);
void vgt_ev_exit(Int code);

/* Around a successful execve the image is gone: write EXEC and END before
 * the call (vgt_out_exec_begin) and take them back if it fails
 * (vgt_out_exec_failed). */
void vgt_out_exec_begin(const HChar *path);
void vgt_out_exec_failed(void);

/* vgt_instr.c */
IRSB *vgt_instrument(VgCallbackClosure *closure, IRSB *sb, const VexGuestLayout *layout,
		     const VexGuestExtents *vge, const VexArchInfo *archinfo, IRType gwt,
		     IRType hwt);

/* vgt_sys.c */
void vgt_pre_syscall(ThreadId tid, UInt nr, UWord *args, UInt nargs);
void vgt_post_syscall(ThreadId tid, UInt nr, UWord *args, UInt nargs, SysRes res);
/* atfork hooks: a real fork is under way (Valgrind turns vfork and
 * CLONE_VFORK into forks too). */
void vgt_fork_pre(ThreadId tid);
void vgt_fork_parent(ThreadId tid);
void vgt_fork_child(ThreadId tid);
/* Copy a NUL-terminated string from client memory into buf (at most
 * VGT_PATH_MAX bytes), checking that every page is the client's and
 * readable.  False if it is not. */
Bool vgt_client_string(Addr a, HChar *buf);

/* vgt_maps.c: MAP events of the address space now (client file and
 * anonymous segments; the break page and the stack marked). */
void vgt_maps_write(void);

#endif
