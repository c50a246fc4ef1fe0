/*
 * Running a sequence on the host kernel, in a forked child.
 *
 * The child measures each call and each access alone: getrusage, the one
 * system call (raw, so that glibc neither checks arguments nor writes
 * errno) or the one load/store (inline assembly, so that no sanitizer
 * instruments it), getrusage again.  Everything it touches inside those
 * windows — the code of the two measuring functions, their stack frame —
 * has been faulted in by a warm-up first.  Reading /proc/self/maps, parsing
 * and normalising happen between windows, where faults do not matter.  The
 * sequence comes in and the results go out through a MAP_SHARED buffer that
 * the parent maps once, outside the windows the test shows.
 *
 * Setup of the child, so that it starts where a fresh vmlab process does:
 *   prctl(PR_SET_THP_DISABLE)   no THP anywhere in it (the model: thp=never);
 *   brk(start_brk)              the inherited heap is given back, so the
 *                               break starts at start_brk with no [heap];
 *   mmap(KD_BASE, KD_SIZE, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|
 *        MAP_NORESERVE|MAP_FIXED_NOREPLACE)   the reserved range;
 *   openat(path, O_RDONLY)      the temporary file;
 *   openat(rw_path, O_RDWR)     the writable file (this side's copy), if
 *                               the sequence maps it.
 * After the heap is given back the child must not call malloc: it does
 * not (raw system calls, static buffers, the shared buffer).
 *
 * A fork step forks the process running the sequence (a raw fork: no
 * atfork handlers).  The parent re-warms (its stack is now shared
 * copy-on-write), makes the touch phase, records its maps, lets the child
 * go through a pipe, then exits or waits for the child; the child, once
 * let go (and, after an exiting parent, once that is gone: its parent pid
 * changes after exit_mm), re-warms, makes the touch phase and runs the
 * rest of the sequence.  Every process of a run holds the write end of
 * the "done" pipe, so that the harness knows when the last one is gone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/uapi.h"
#include "kdiff.h"

struct kd_shared {
	struct kd_seq seq;
	char path[256], rw_path[256];
	struct kd_run run;
};

static struct kd_shared *shared;
static size_t shared_size;
static pid_t child_pid = -1;
static int done_fd = -1;          /* read end of the done pipe (the harness's) */

/* The child's own buffers (never touched by the parent). */
static char maps_buf[1 << 20];
static char child_maps[KD_MAPS_TEXT];
static struct kd_vma vmas[1024];
static struct kd_env env;

static inline long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline void rusage_now(struct rusage *ru)
{
	sys6(SYS_getrusage, RUSAGE_SELF, (long)ru, 0, 0, 0, 0);
}

/* One system call between two getrusage calls. */
__attribute__((noinline)) static long measured_call(long nr, const long *a, uint64_t *minflt,
						    uint64_t *majflt)
{
	struct rusage r0, r1;
	long a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5], ret;

	rusage_now(&r0);
	ret = sys6(nr, a0, a1, a2, a3, a4, a5);
	rusage_now(&r1);
	*minflt = (uint64_t)(r1.ru_minflt - r0.ru_minflt);
	*majflt = (uint64_t)(r1.ru_majflt - r0.ru_majflt);
	return ret;
}

/* One byte load or store (of *byte; a load returns it there) between two
 * getrusage calls. */
__attribute__((noinline)) static void measured_access(uint64_t va, bool write, unsigned char *byte,
						      uint64_t *minflt, uint64_t *majflt)
{
	struct rusage r0, r1;
	unsigned char v = *byte;

	rusage_now(&r0);
	if (write)
		__asm__ volatile("movb %1, (%0)" : : "r"(va), "q"(v) : "memory");
	else
		__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(va) : "memory");
	rusage_now(&r1);
	*byte = v;
	*minflt = (uint64_t)(r1.ru_minflt - r0.ru_minflt);
	*majflt = (uint64_t)(r1.ru_majflt - r0.ru_majflt);
}

/* Fault in the stack below us, deeper than any call the child makes
 * inside a window. */
__attribute__((noinline)) static void warm_stack(void)
{
	volatile char pad[64 * 1024];
	for (size_t i = 0; i < sizeof pad; i += 512)
		pad[i] = 1;
}

static void fail(const char *what, long rc)
{
	snprintf(shared->run.error, sizeof shared->run.error, "native child: %s: %s", what,
		 rc < 0 ? strerror((int)-rc) : "unexpected result");
	sys6(SYS_exit_group, 2, 0, 0, 0, 0, 0);
}

/* The whole of /proc/self/maps into maps_buf; its length. */
static size_t read_maps(void)
{
	long fd = sys6(SYS_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY, 0, 0, 0);
	size_t len = 0;
	long n;
	if (fd < 0)
		fail("open /proc/self/maps", fd);
	while ((n = sys6(SYS_read, fd, (long)(maps_buf + len), (long)(sizeof maps_buf - len), 0, 0, 0)) > 0)
		len += (size_t)n;
	sys6(SYS_close, fd, 0, 0, 0, 0, 0);
	if (n < 0 || len == sizeof maps_buf)
		fail("read /proc/self/maps", n < 0 ? n : -EFBIG);
	return len;
}

static int collect(char *msg, size_t len)
{
	return kd_maps_collect(maps_buf, read_maps(), &env, vmas, 1024, msg, len);
}

/* start_brk: field 47 of /proc/self/stat (after the parenthesised comm). */
static uint64_t read_start_brk(void)
{
	long fd = sys6(SYS_openat, AT_FDCWD, (long)"/proc/self/stat", O_RDONLY, 0, 0, 0);
	long n = fd < 0 ? fd : sys6(SYS_read, fd, (long)maps_buf, sizeof maps_buf - 1, 0, 0, 0);
	char *p;
	unsigned field = 2;
	uint64_t v = 0;

	if (fd >= 0)
		sys6(SYS_close, fd, 0, 0, 0, 0, 0);
	if (n <= 0)
		fail("read /proc/self/stat", n);
	maps_buf[n] = 0;
	p = strrchr(maps_buf, ')');
	for (; p && *p && field < 47; p++)
		if (*p == ' ')
			field++;
	for (; p && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	if (!v)
		fail("parse start_brk", -EINVAL);
	return v;
}

/* Fault in what the measuring windows use: the stack below, the two
 * measuring functions' code and frames (after a fork, a process shares
 * its stack copy-on-write and has none of the executable's text mapped). */
static void warm(void)
{
	uint64_t mf, Mf;
	long a[6] = { 0 };
	unsigned char byte = 0;

	warm_stack();
	measured_call(SYS_getpid, a, &mf, &Mf);
	measured_access((uint64_t)(uintptr_t)&mf, false, &byte, &mf, &Mf);
	measured_access((uint64_t)(uintptr_t)&mf, true, &byte, &mf, &Mf);
}

static void setup(int *fd, int *rwfd)
{
	sys6(SYS_alarm, 30, 0, 0, 0, 0, 0);
	if (sys6(SYS_prctl, PR_SET_THP_DISABLE, 1, 0, 0, 0, 0) != 0)
		fail("prctl(PR_SET_THP_DISABLE)", -EINVAL);
	env.start_brk = read_start_brk();
	env.file_path = shared->path;
	env.rw_path = shared->rw_path;
	if ((uint64_t)sys6(SYS_brk, (long)env.start_brk, 0, 0, 0, 0, 0) != env.start_brk)
		fail("brk(start_brk)", -ENOMEM);
	long rc = sys6(SYS_mmap, (long)KD_BASE, (long)KD_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (rc != (long)KD_BASE)
		fail("reserve the range", rc);
	*fd = (int)sys6(SYS_openat, AT_FDCWD, (long)shared->path, O_RDONLY, 0, 0, 0);
	if (*fd < 0)
		fail("open the file", *fd);
	*rwfd = -1;         /* only a sequence that maps the writable file has a copy of it */
	if (shared->rw_path[0] &&
	    (*rwfd = (int)sys6(SYS_openat, AT_FDCWD, (long)shared->rw_path, O_RDWR, 0, 0, 0)) < 0)
		fail("open the writable file", *rwfd);
	warm();
}

static long op_nr(const struct kd_op *op)
{
	static const long nr[] = { SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise,
				   SYS_msync, SYS_brk };
	return nr[op->kind];
}

/* The raw arguments of a call on this side. */
static void op_args(const struct kd_op *op, int fd, int rwfd, long *a)
{
	memset(a, 0, 6 * sizeof *a);
	a[0] = (long)kd_resolve(&env, op->addr);
	a[1] = (long)op->len;
	switch (op->kind) {
	case KD_MMAP:
		a[2] = (long)op->prot;
		a[3] = (long)op->flags;
		a[4] = op->fd == KD_FD_FILE ? fd : op->fd == KD_FD_RWFILE ? rwfd
		       : op->fd == KD_FD_BAD ? 1000 : -1;
		a[5] = (long)op->off;
		break;
	case KD_MPROTECT:
		a[2] = (long)op->prot;
		break;
	case KD_MREMAP:
		a[2] = (long)op->len2;
		a[3] = (long)op->flags;
		a[4] = (long)kd_resolve(&env, op->addr2);
		break;
	case KD_MADVISE:
	case KD_MSYNC:
		a[2] = (long)op->flags;
		break;
	}
}

/* A touch phase: each access writes wbyte or reads a byte into *sum. */
static void run_touch(const struct kd_op *op, unsigned char wbyte, int nvmas, char *access,
		      uint64_t *minflt, uint64_t *majflt, uint64_t *sum)
{
	uint64_t va[KD_MAX_ACCESS];
	bool write[KD_MAX_ACCESS];
	unsigned n = kd_touch_plan(&env, op, va, write);

	*sum = KD_SUM_INIT;
	for (unsigned i = 0; i < n; i++) {
		uint64_t mf = 0, Mf = 0;
		unsigned char byte = wbyte;
		if (!kd_accessible(&env, vmas, nvmas, va[i], write[i])) {
			access[i] = '-';
			continue;
		}
		measured_access(va[i], write[i], &byte, &mf, &Mf);
		if (!write[i])
			*sum = kd_sum_byte(*sum, byte);
		access[i] = (char)('0' + (mf > 9 ? 9 : mf));
		*minflt += mf;
		*majflt += Mf;
	}
	access[n] = 0;
}

/* A fork step; returns in the child only (see the top of the file). */
static void run_fork(const struct kd_op *op, unsigned step, int nvmas, struct kd_rec *rec)
{
	int p[2];
	char msg[200], b = 'x';
	long parent = sys6(SYS_getpid, 0, 0, 0, 0, 0, 0), pid, rc;

	if ((rc = sys6(SYS_pipe2, (long)p, 0, 0, 0, 0, 0)) < 0)
		fail("pipe2", rc);
	if ((pid = sys6(SYS_fork, 0, 0, 0, 0, 0, 0)) < 0)
		fail("fork", pid);
	if (pid == 0) {
		sys6(SYS_alarm, 30, 0, 0, 0, 0, 0);            /* alarms are not inherited */
		sys6(SYS_close, p[1], 0, 0, 0, 0, 0);
		if (sys6(SYS_read, p[0], (long)&b, 1, 0, 0, 0) != 1)
			sys6(SYS_exit_group, 3, 0, 0, 0, 0, 0);   /* the parent failed and said why */
		sys6(SYS_close, p[0], 0, 0, 0, 0, 0);
		while ((op->flags & KD_F_EXIT) && sys6(SYS_getppid, 0, 0, 0, 0, 0, 0) == parent)
			sys6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		/* Its own maps decide what it may touch (VM_DONTCOPY VMAs are gone). */
		if ((nvmas = collect(msg, sizeof msg)) < 0)
			fail(msg, -EINVAL);
		warm();
		run_touch(op, kd_child_byte(step), nvmas, rec->access2, &rec->minflt2, &rec->majflt2,
			  &rec->sum2);
		return;
	}
	sys6(SYS_close, p[0], 0, 0, 0, 0, 0);
	warm();
	run_touch(op, kd_touch_byte(step), nvmas, rec->access, &rec->minflt, &rec->majflt,
		  &rec->sum);
	if ((nvmas = collect(msg, sizeof msg)) < 0)
		fail(msg, -EINVAL);
	kd_maps_normalise(&env, vmas, nvmas, rec->maps);
	sys6(SYS_write, p[1], (long)&b, 1, 0, 0, 0);
	sys6(SYS_close, p[1], 0, 0, 0, 0, 0);
	if (!(op->flags & KD_F_EXIT))
		while (sys6(SYS_wait4, pid, 0, 0, 0, 0, 0) == -EINTR)
			;
	sys6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

static void child(void)
{
	struct kd_run *run = &shared->run;
	const struct kd_seq *seq = &shared->seq;
	char msg[200];
	int fd, rwfd, nvmas;

	setup(&fd, &rwfd);
	if ((nvmas = collect(msg, sizeof msg)) < 0)
		fail(msg, -EINVAL);
	kd_maps_normalise(&env, vmas, nvmas, run->rec[0].maps);
	run->n = 1;
	for (unsigned i = 0; i < seq->n; i++) {
		const struct kd_op *op = &seq->op[i];
		struct kd_rec *rec = &run->rec[i + 1];
		if (op->kind == KD_TOUCH) {
			run_touch(op, kd_touch_byte(i), nvmas, rec->access, &rec->minflt, &rec->majflt,
				  &rec->sum);
		} else if (op->kind == KD_FORK) {
			run_fork(op, i, nvmas, rec);
		} else {
			long a[6];
			op_args(op, fd, rwfd, a);
			long ret = measured_call(op_nr(op), a, &rec->minflt, &rec->majflt);
			kd_ret_normalise(&env, op, ret, rec);
			if (rec->ret_kind == KD_RET_OUTSIDE)
				sys6(SYS_munmap, ret, (long)(op->kind == KD_MMAP ? op->len : op->len2), 0, 0, 0, 0);
		}
		if ((nvmas = collect(msg, sizeof msg)) < 0)
			fail(msg, -EINVAL);
		if (op->kind == KD_MMAP && rec->ret_kind == KD_RET_RANGE &&
		    (op->flags & (VM_MAP_SHARED | VM_MAP_ANONYMOUS)) == (VM_MAP_SHARED | VM_MAP_ANONYMOUS))
			kd_note_shm(&env, vmas, nvmas, KD_BASE + (uint64_t)rec->ret, op->len);
		if (op->kind == KD_FORK) {
			kd_maps_normalise(&env, vmas, nvmas, child_maps);
			kd_maps_append_child(rec->maps, child_maps);
		} else {
			kd_maps_normalise(&env, vmas, nvmas, rec->maps);
		}
		run->n = i + 2;
	}
	sys6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
}

int kd_native_init(void)
{
	shared_size = (sizeof(struct kd_shared) + 4095) & ~(size_t)4095;
	void *p = mmap(NULL, shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	shared = p;
	return 0;
}

void kd_native_fini(void)
{
	if (shared)
		munmap(shared, shared_size);
	shared = NULL;
}

int kd_native_start(const struct kd_seq *seq, const char *path, const char *rw_path,
		    struct kd_run *run)
{
	int done[2];

	(void)run;
	shared->seq = *seq;
	snprintf(shared->path, sizeof shared->path, "%s", path);
	snprintf(shared->rw_path, sizeof shared->rw_path, "%s", rw_path);
	shared->run.n = 0;
	shared->run.error[0] = 0;
	memset(shared->run.rec, 0, sizeof shared->run.rec[0] * (seq->n + 1));
	if (pipe(done) != 0)
		return -errno;
	fflush(stdout);
	child_pid = fork();
	if (child_pid < 0) {
		close(done[0]);
		close(done[1]);
		return -errno;
	}
	if (child_pid == 0) {
		close(done[0]);
		child();
	}
	close(done[1]);
	done_fd = done[0];
	return 0;
}

int kd_native_finish(struct kd_run *run)
{
	int status;
	pid_t w;

	do
		w = waitpid(child_pid, &status, 0);
	while (w < 0 && errno == EINTR);
	child_pid = -1;
	/* After a fork step the last process of the run may be another one:
	 * wait until no process holds the done pipe. */
	for (;;) {
		char b;
		ssize_t n = read(done_fd, &b, 1);
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	close(done_fd);
	done_fd = -1;
	run->n = shared->run.n;
	memcpy(run->error, shared->run.error, sizeof run->error);
	memcpy(run->rec, shared->run.rec, sizeof run->rec[0] * run->n);
	if (w < 0) {
		snprintf(run->error, sizeof run->error, "native: waitpid: %s", strerror(errno));
		return -1;
	}
	if (WIFSIGNALED(status)) {
		snprintf(run->error, sizeof run->error,
			 "native child killed by signal %d after %u steps (a touch the filter let through?)",
			 WTERMSIG(status), run->n ? run->n - 1 : 0);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (!run->error[0])
			snprintf(run->error, sizeof run->error, "native child exited with %d",
				 WEXITSTATUS(status));
		return -1;
	}
	if (!run->error[0] && run->n != shared->seq.n + 1) {
		snprintf(run->error, sizeof run->error,
			 "a native process of the run died after %u steps (a forked one: no status)",
			 run->n ? run->n - 1 : 0);
		return -1;
	}
	return 0;
}
