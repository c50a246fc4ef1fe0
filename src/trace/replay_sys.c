/*
 * Replaying a trace's memory system calls (replay.h).  The trace gives
 * each call's arguments and the result Linux (or Valgrind) returned; the
 * model must end in the same state, so a call that succeeded is replayed
 * where it took effect: an mmap MAP_FIXED at the returned address (under
 * Valgrind the address-space manager chose it, not the kernel), an mremap
 * in place or MREMAP_FIXED to where it moved.  The model's own result is
 * compared with the trace's: the first difference is reported, all are
 * counted.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kernel/syscalls.h"
#include "kernel/uapi.h"
#include "trace/replay_internal.h"
#include "trace/scenario.h"

/* Memory calls the readers keep that the model does not have. */
static bool unmodelled(int nr)
{
	switch (nr) {
	case 30:  /* shmat */
	case 67:  /* shmdt */
	case 149: /* mlock */
	case 150: /* munlock */
	case 151: /* mlockall */
	case 152: /* munlockall */
	case 216: /* remap_file_pages */
	case 325: /* mlock2 */
		return true;
	default:
		return false;
	}
}

static const char *call_name(int nr)
{
	switch (nr) {
	case VM_NR_MMAP: return "mmap";
	case VM_NR_MPROTECT: return "mprotect";
	case VM_NR_MUNMAP: return "munmap";
	case VM_NR_BRK: return "brk";
	case VM_NR_MREMAP: return "mremap";
	case VM_NR_MSYNC: return "msync";
	case VM_NR_MADVISE: return "madvise";
	case 329: return "pkey_mprotect";
	default: return "syscall";
	}
}

static void result_text(int64_t v, char *buf, size_t len)
{
	if (v < 0 && v > -4096)
		snprintf(buf, len, "-%s", scn_errno_name(-v) ? scn_errno_name(-v) : "?");
	else
		snprintf(buf, len, "0x%" PRIx64, (uint64_t)v);
}

/* Compare the model's result with the trace's. */
static void compare(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
		    long got, int64_t want)
{
	r->res.note[VM_RNOTE_SYS_REPLAYED]++;
	if (got == want || (ev->flags & VM_TEV_F_NORET))
		return;
	r->res.note[VM_RNOTE_SYS_MISMATCH]++;
	if (r->res.first_mismatch[0])
		return;
	char a[32], b[32];
	result_text(got, a, sizeof(a));
	result_text(want, b, sizeof(b));
	snprintf(r->res.first_mismatch, sizeof(r->res.first_mismatch),
		 "event %" PRIu64 ": pid %" PRId32 ": %s(0x%" PRIx64 ", %" PRIu64 ") returned %s in the "
		 "model, %s in the trace", r->res.events, pp->figs.pid, call_name(ev->sys.nr),
		 ev->sys.arg[0], ev->sys.arg[1], a, b);
}

long rp_mmap_file(struct vm_replay *r, struct rp_proc *pp, const char *path, vm_vaddr addr,
		  uint64_t len, int prot, int flags, uint64_t off)
{
	struct vm_kernel *k = r->k;
	struct vm_proc *p = pp->p;
	bool shared_write = (flags & VM_MAP_TYPE) != VM_MAP_PRIVATE && (prot & VM_PROT_WRITE);
	long fd = vm_sys_openat(k, p, path, shared_write ? VM_O_RDWR : VM_O_RDONLY);

	if (fd < 0 && shared_write) {
		/* The model cannot write this file: a private mapping keeps
		 * the faults and the RSS, not the sharing. */
		fd = vm_sys_openat(k, p, path, VM_O_RDONLY);
		if (fd >= 0) {
			flags = (flags & ~VM_MAP_TYPE) | VM_MAP_PRIVATE;
			r->res.note[VM_RNOTE_SHARED_PRIVATE]++;
		}
	}
	if (fd < 0) {
		r->res.note[VM_RNOTE_FILE_MISSING]++;
		return vm_sys_mmap(k, p, addr, len, prot, flags | VM_MAP_ANONYMOUS, -1, 0);
	}
	long ret = vm_sys_mmap(k, p, addr, len, prot, flags, (int)fd, off);
	vm_sys_close(k, p, (int)fd);
	return ret;
}

static void replay_mmap(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev)
{
	const uint64_t *a = ev->sys.arg;
	bool noret = ev->flags & VM_TEV_F_NORET;
	int flags = (int)a[3];
	vm_vaddr at = a[0];
	long got;

	if (!noret && ev->sys.ret < 0) {
		r->res.note[VM_RNOTE_SYS_SKIPPED]++;
		return;
	}
	if (!noret) {
		at = (vm_vaddr)ev->sys.ret;
		flags = (flags & ~VM_MAP_FIXED_NOREPLACE) | VM_MAP_FIXED;
	}
	if (flags & VM_MAP_ANONYMOUS) {
		got = vm_sys_mmap(r->k, pp->p, at, a[1], (int)a[2], flags, -1, a[5]);
	} else if (!ev->path) {
		r->res.note[VM_RNOTE_FILE_UNKNOWN]++;
		got = vm_sys_mmap(r->k, pp->p, at, a[1], (int)a[2], flags | VM_MAP_ANONYMOUS, -1, 0);
	} else {
		got = rp_mmap_file(r, pp, ev->path, at, a[1], (int)a[2], flags, a[5]);
	}
	compare(r, pp, ev, got, ev->sys.ret);
}

static void replay_mremap(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev)
{
	const uint64_t *a = ev->sys.arg;
	int flags = (int)a[3];
	vm_vaddr to = ev->sys.nargs > 4 ? a[4] : 0;

	if (!(ev->flags & VM_TEV_F_NORET)) {
		if (ev->sys.ret < 0) {
			r->res.note[VM_RNOTE_SYS_SKIPPED]++;
			return;
		}
		if ((uint64_t)ev->sys.ret == a[0] && !(flags & VM_MREMAP_FIXED)) {
			/* Valgrind grew it in place (LACKEY.md 3.5: Linux might
			 * have moved it): so must the model. */
			flags &= ~VM_MREMAP_MAYMOVE;
		} else if ((uint64_t)ev->sys.ret != a[0]) {
			flags |= VM_MREMAP_MAYMOVE | VM_MREMAP_FIXED;
			to = (vm_vaddr)ev->sys.ret;
		}
	}
	long got = vm_sys_mremap(r->k, pp->p, a[0], a[1], a[2], flags, to);
	compare(r, pp, ev, got, ev->sys.ret);
}

static void replay_brk(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev)
{
	/* brk(0) asks; a brk that failed returns the old break (Valgrind caps
	 * the heap at 8 MiB where Linux would grow it: LACKEY.md 3.5). Only
	 * a break that moved is replayed. */
	if (!(ev->flags & VM_TEV_F_NORET) && (uint64_t)ev->sys.ret != ev->sys.arg[0]) {
		if (ev->sys.arg[0])
			r->res.note[VM_RNOTE_SYS_SKIPPED]++;
		return;
	}
	compare(r, pp, ev, vm_sys_brk(r->k, pp->p, ev->sys.arg[0]), ev->sys.ret);
}

int rp_syscall(struct vm_replay *r, struct rp_proc *pp, const struct vm_trace_event *ev,
	       struct vm_error *err)
{
	struct vm_kernel *k = r->k;
	struct vm_proc *p = pp->p;
	const uint64_t *a = ev->sys.arg;
	unsigned need;

	switch (ev->sys.nr) {
	case VM_NR_MMAP: need = 6; break;
	case VM_NR_MREMAP: need = 4; break;
	case VM_NR_MPROTECT: case VM_NR_MADVISE: case VM_NR_MSYNC: case 329: need = 3; break;
	case VM_NR_MUNMAP: need = 2; break;
	case VM_NR_BRK: need = 1; break;
	default: need = 0; break;
	}
	if (ev->sys.nargs < need)
		return rp_fail(r, err, "%s with %u arguments (it takes %u)", call_name(ev->sys.nr),
			       ev->sys.nargs, need);
	switch (ev->sys.nr) {
	case VM_NR_MMAP:
		replay_mmap(r, pp, ev);
		return 0;
	case VM_NR_MREMAP:
		replay_mremap(r, pp, ev);
		return 0;
	case VM_NR_BRK:
		replay_brk(r, pp, ev);
		return 0;
	/* These fail, when they fail, as the model does: mprotect and madvise
	 * apply up to a hole (Linux semantics), so they are replayed as given. */
	case VM_NR_MUNMAP:
		compare(r, pp, ev, vm_sys_munmap(k, p, a[0], a[1]), ev->sys.ret);
		return 0;
	case VM_NR_MPROTECT:
	case 329:    /* pkey_mprotect: protection keys are not modelled */
		compare(r, pp, ev, vm_sys_mprotect(k, p, a[0], a[1], (int)a[2]), ev->sys.ret);
		return 0;
	case VM_NR_MADVISE:
		compare(r, pp, ev, vm_sys_madvise(k, p, a[0], a[1], (int)a[2]), ev->sys.ret);
		return 0;
	case VM_NR_MSYNC:
		compare(r, pp, ev, vm_sys_msync(k, p, a[0], a[1], (int)a[2]), ev->sys.ret);
		return 0;
	default:
		break;
	}
	if (unmodelled(ev->sys.nr)) {
		r->res.note[VM_RNOTE_SYS_UNMODELLED]++;
		return 0;
	}
	if (r->o.lenient) {
		r->res.note[VM_RNOTE_SYS_UNKNOWN]++;
		return 0;
	}
	return rp_fail(r, err, "pid %" PRId32 ": system call %" PRId32 " is not a memory call vmlab "
		       "replays (mmap, munmap, mprotect, brk, mremap, madvise, msync; --lenient skips "
		       "others)", pp->figs.pid, ev->sys.nr);
}
