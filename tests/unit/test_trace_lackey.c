/*
 * The lackey reader against real logs of this machine (tests/trace/data,
 * read a second time here with zlib's gzgets as an independent oracle)
 * and against the line shapes ../shared/LACKEY.md records.
 */
#include <inttypes.h>
#include <zlib.h>

#include "kernel/uapi.h"
#include "tap.h"
#include "trace_fixture.h"

#define BANNER(pid) \
	"==" #pid "== Lackey, an example Valgrind tool\n" \
	"==" #pid "== Command: /bin/true\n" \
	"==" #pid "== Parent PID: 4327\n" \
	"==" #pid "== \n"

/* What Valgrind itself says about the log, read line by line. */
struct oracle {
	uint64_t ilines, isize, istraddle, straddle, data_lines, guest_instrs;
};

static struct oracle read_oracle(const char *path)
{
	struct oracle o = { 0 };
	gzFile f = gzopen(path, "rb");
	char line[8192];
	while (f && gzgets(f, line, sizeof(line))) {
		unsigned long long a, s;
		char c;
		if (sscanf(line, "I  %llx,%llu", &a, &s) == 2) {
			o.ilines++;
			o.isize += s;
			o.istraddle += (a & 4095) + s > 4096;
			o.straddle += (a & 4095) + s > 4096;
		} else if (sscanf(line, " %c %llx,%llu", &c, &a, &s) == 3 && strchr("LSM", c)) {
			o.data_lines++;
			o.straddle += (a & 4095) + s > 4096;
		} else if (strstr(line, "guest instrs:")) {
			unsigned long long v = 0;
			for (char *p = strstr(line, ":") + 1; *p; p++)
				if (*p >= '0' && *p <= '9')
					v = v * 10 + (unsigned long long)(*p - '0');
			o.guest_instrs = v;
		}
	}
	if (f)
		gzclose(f);
	return o;
}

static const struct vm_trace_event *find_sys(const struct evlist *l, int nr, int64_t ret)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ev[i].kind == VM_TEV_SYSCALL && l->ev[i].sys.nr == nr && l->ev[i].sys.ret == ret)
			return &l->ev[i];
	return NULL;
}

static void test_true_log(void)
{
	struct oracle o = read_oracle(TRACE_DATA "true.log.gz");
	struct evlist l = read_file(TRACE_DATA "true.log.gz", NULL, NULL);
	is_str(l.err, "", "the /bin/true log reads without an error");
	is_str(l.format, "lackey", "detected as lackey (through gzip)");
	ok(o.guest_instrs == 128916, "oracle: Valgrind's summary says 128,916 guest instrs");
	is_u64(l.stat[VM_TSTAT_INSTR_LINES], o.guest_instrs, "one I line per guest instruction");
	is_u64(l.stat[VM_TSTAT_DATA_LINES], o.data_lines, "every L, S, M line read");
	uint64_t xsize = 0, xev = 0, bad = 0, kinds[VM_TEV_KINDS] = { 0 };
	for (size_t i = 0; i < l.n; i++) {
		const struct vm_trace_event *e = &l.ev[i];
		kinds[e->kind]++;
		bad += vm_trace_event_invalid(e) != NULL;
		if (e->kind == VM_TEV_ACCESS && e->access == VM_ACC_EXEC) {
			xsize += e->acc.size;
			xev++;
		}
	}
	is_u64(bad, 0, "every event is valid (each access inside one page)");
	is_u64(xsize, o.isize, "fetched bytes = the sum of the I lines' sizes");
	is_u64(xev, o.ilines + o.istraddle, "fetch events = I lines + those that straddle a page");
	ok(l.stat[VM_TSTAT_SPLITS] >= o.straddle && o.straddle > 0,
	   "every straddling line was split (%" PRIu64 " straddle; kernel writes add more)", o.straddle);
	is_u64(kinds[VM_TEV_MAP] + kinds[VM_TEV_FORK] + kinds[VM_TEV_EXEC], 0,
	       "no map, fork or exec events without -d maps in a single-process log");

	/* The calls LACKEY.md quotes from this very program. */
	const struct vm_trace_event *e = l.n ? find_sys(&l, VM_NR_BRK, 0x4035000) : NULL;
	ok(e && e->sys.nargs == 1 && e->sys.arg[0] == 0, "brk ( 0x0 ) = 0x4035000");
	e = find_sys(&l, VM_NR_MMAP, 0x483c000);
	ok(e && e->sys.nargs == 6 && e->sys.arg[0] == 0 && e->sys.arg[1] == 41491 &&
	   e->sys.arg[2] == 1 && e->sys.arg[3] == 2 && e->sys.arg[4] == 4 && e->sys.arg[5] == 0,
	   "mmap ( 0x0, 41491, 1, 2, 4, 0 ) = 0x483c000");
	is_str(e ? e->path : NULL, "/etc/ld.so.cache", "its fd 4 names the file openat opened");
	e = find_sys(&l, VM_NR_MMAP, 0x486d000);
	is_str(e ? e->path : NULL, "/lib/x86_64-linux-gnu/libc.so.6", "libc's text mapping names libc");
	e = find_sys(&l, VM_NR_MUNMAP, 0);
	ok(e && e->sys.arg[0] == 0x483c000 && e->sys.arg[1] == 41491, "munmap ( 0x483c000, 41491 ) = 0");
	e = find_sys(&l, VM_NR_MPROTECT, 0);
	ok(e && e->sys.arg[0] == 0x4a16000 && e->sys.arg[1] == 16384 && e->sys.arg[2] == 1,
	   "the first mprotect is libc's RELRO: ( 0x4a16000, 16384, 1 )");
	is_u64(l.stat[VM_TSTAT_SYS_REFUSED], 1, "rseq (334) refused with ENOSYS, once");
	ok(l.n && l.ev[l.n - 1].kind == VM_TEV_EXIT && l.ev[l.n - 1].exit.code == 0,
	   "the last event is exit_group( 0 )");
	/* sys_read ( 4, 0x1ffeffedb8, 832 ) ... Success(0x340): the kernel wrote 832
	 * bytes, across the page boundary at 0x1ffefff000. */
	size_t k = 0;
	while (k < l.n && !(l.ev[k].flags & VM_TEV_F_KERNEL))
		k++;
	ok(k + 1 < l.n && l.ev[k].acc.addr == 0x1ffeffedb8 && l.ev[k].acc.size == 0x1ffefff000 - 0x1ffeffedb8 &&
	   l.ev[k + 1].acc.addr == 0x1ffefff000 && l.ev[k + 1].acc.size == 832 - (0x1ffefff000 - 0x1ffeffedb8) &&
	   (l.ev[k + 1].flags & VM_TEV_F_KERNEL) && l.ev[k].access == VM_ACC_WRITE,
	   "read(4, 0x1ffeffedb8, 832) = 832: a kernel write of 584 + 248 bytes");
	evlist_free(&l);
}

/* LACKEY.md 4: the /proc-like map of /bin/true from the -d run. */
static void test_true_maps(void)
{
	static const struct {
		uint64_t start, end;
		const char *perms;
		uint64_t off;
		const char *path;
		uint16_t flags;
	} want[] = {
		{ 0x108000, 0x10a000, "r--", 0x0, "/usr/bin/true", 0 },
		{ 0x10a000, 0x10e000, "r-x", 0x2000, "/usr/bin/true", 0 },
		{ 0x10e000, 0x110000, "r--", 0x6000, "/usr/bin/true", 0 },
		{ 0x110000, 0x112000, "rw-", 0x7000, "/usr/bin/true", 0 },
		{ 0x4000000, 0x4001000, "r--", 0x0, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0 },
		{ 0x4001000, 0x4027000, "r-x", 0x1000, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0 },
		{ 0x4027000, 0x4031000, "r--", 0x27000, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0 },
		{ 0x4031000, 0x4035000, "rw-", 0x31000, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 0 },
		{ 0x4035000, 0x4036000, "rwx", 0, NULL, VM_TEV_F_HEAP },
		/* Valgrind's trampoline, 0x5807d000 in lackey-amd64-linux: the tool's */
		{ 0x58000000, 0x58001000, "r-x", 0, NULL, 0 },   /* page, moved (lackey.h) */
		{ 0x1ffefff000, 0x1fff001000, "rw-", 0, NULL, VM_TEV_F_STACK },
	};
	struct evlist l = read_file(TRACE_DATA "true.log.gz", "lackey", TRACE_DATA "true.stderr.gz");
	is_str(l.err, "", "the log with its -d map reads");
	size_t n = sizeof(want) / sizeof(want[0]), good = 0;
	for (size_t i = 0; i < n && i < l.n; i++) {
		const struct vm_trace_event *e = &l.ev[i];
		unsigned prot = (want[i].perms[0] == 'r' ? VM_PROT_READ : 0) |
				(want[i].perms[1] == 'w' ? VM_PROT_WRITE : 0) |
				(want[i].perms[2] == 'x' ? VM_PROT_EXEC : 0);
		bool same = e->kind == VM_TEV_MAP && e->pid == 21045 && e->map.start == want[i].start &&
			    e->map.end == want[i].end && e->map.prot == prot && e->map.offset == want[i].off &&
			    e->flags == want[i].flags &&
			    ((!e->path && !want[i].path) || (e->path && want[i].path && !strcmp(e->path, want[i].path)));
		if (!same)
			diag("segment %zu differs: %" PRIx64 "-%" PRIx64 " %s", i, e->map.start, e->map.end,
			     e->path ? e->path : "(anon)");
		good += same;
	}
	is_u64(good, n, "the 11 client segments of LACKEY.md 4, in order, heap and stack marked, "
	       "the trampoline at 0x58000000");
	ok(l.n > n && l.ev[n].kind == VM_TEV_ACCESS && l.ev[n].access == VM_ACC_EXEC &&
	   l.ev[n].acc.addr == 0x401ab70 && l.ev[n].acc.size == 3,
	   "then the first instruction: ld.so's _start, I  0401ab70,3");
	evlist_free(&l);
}

/* Accesses into the trampoline move with its page, the first byte's
 * offset kept; the pages around it do not move. */
static void test_trampoline(void)
{
	static const char log[] = "==21045== Command: /bin/true\n"
		"I  0401ab70,3\n"
		"I  5807dbe9,7\n"
		" L 5807dffe,4\n"
		"I  5807cfff,1\n"
		"I  5807e000,1\n";
	struct evlist l = read_mem("t.log", log, sizeof(log) - 1, "lackey", TRACE_DATA "true.stderr.gz");
	is_str(l.err, "", "a log with accesses to the trampoline reads");
	uint64_t want[] = { 0x401ab70, 0x58000be9, 0x58000ffe, 0x58001000, 0x5807cfff, 0x5807e000 };
	size_t first = 0, good = 0, n = sizeof(want) / sizeof(want[0]);
	while (first < l.n && l.ev[first].kind == VM_TEV_MAP)
		first++;
	for (size_t i = 0; i < n && first + i < l.n; i++)
		good += l.ev[first + i].kind == VM_TEV_ACCESS && l.ev[first + i].acc.addr == want[i];
	is_u64(good, n, "fetch and load in 0x5807d000 at 0x58000000 + offset (the load that crosses "
	       "the page end split after the move), the pages beside it where they are");
	ok(first + n == l.n, "and nothing else (%zu events)", l.n);
	evlist_free(&l);
}

static void test_fork_logs(void)
{
	struct evlist l = read_file(TRACE_DATA "sh-parent-excerpt.log", NULL, NULL);
	is_str(l.err, "", "the excerpt of sh's log reads");
	size_t f = 0;
	while (f < l.n && l.ev[f].kind != VM_TEV_FORK)
		f++;
	ok(f < l.n && l.ev[f].pid == 23201 && l.ev[f].fork.child == 23637,
	   "sys_fork ... created child 23637 / Success(0x5c55): a fork event");
	ok(f > 0 && f + 1 < l.n && l.ev[f - 1].acc.addr == 0x491b3b6 && l.ev[f + 1].acc.addr == 0x491b3b8,
	   "at its place between the instructions around it");
	ok(l.n && l.ev[l.n - 1].kind == VM_TEV_EXIT, "the excerpt ends with exit_group");
	evlist_free(&l);

	l = read_file(TRACE_DATA "sh-child.log.gz", NULL, NULL);
	is_str(l.err, "", "the fork child's log (no final newline) reads");
	ok(l.n && l.ev[0].pid == 23637, "its events are the child's (pid 23637)");
	ok(l.n && l.ev[l.n - 1].kind == VM_TEV_EXEC && l.ev[l.n - 1].path &&
	   !strcmp(l.ev[l.n - 1].path, "/bin/true"), "it ends in execve /bin/true");
	ok(l.stat[VM_TSTAT_IGNORED] >= 7, "the banner and fork's return of 0 carry no event");
	evlist_free(&l);
}

/* Shapes of LACKEY.md 2.3 and 2.4 (real lines), one at a time. */
static void test_shapes(void)
{
	struct evlist l = read_str("t.log", BANNER(10000)
		"I  04000ffe,5\n"
		" M 04a29ffc,8\n"
		"SYSCALL[10000,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a29a10, 0x0 )   clone(fork): process 10000 created child 10001\n"
		" --> [pre-success] Success(0x2711) \n"
		"SYSCALL[10000,1](56) sys_clone ( 3d0f00, 0x523bf70, 0x523c990, 0x523c990, 0x523c6c0 ) --> [pre-success] Success(0x2713) \n"
		"SYSCALL[10000,2](60) exit( 0 ) --> [pre-success] Success(0x0) \n"
		"SYSCALL[10000,1](28) sys_madvise ( 0x4a2c000, 65536, 4 ) --> [async] ... \n"
		"I  04001000,1\n"
		"SYSCALL[10000,1](28) ... [async] --> Success(0x0) \n"
		"SYSCALL[10000,1](12) sys_brk ( 0x80d6000 )==10000== brk segment overflow in thread #1: can't grow to 0x80d6000\n"
		" --> [pre-success] Success(0x40d6000) \n"
		"SYSCALL[10000,1](462) --10000-- WARNING: unhandled amd64-linux syscall: 462\n"
		"--10000-- You may be able to write your own handler.\n"
		" --> [pre-fail] Failure(0x26) \n"
		"SYSCALL[10000,1](329) sys_pkey_mprotect ( 0x483c000, 4096, 1 4294967295 )[sync] --> Success(0x0) \n"
		"SYSCALL[10000,1](25) sys_mremap ( 0x4a2c000, 32768, 32768, 0x3, 0x10000000 ) --> [pre-success] Success(0x10000000) \n"
		"SYSCALL[10000,1](9) sys_mmap ( 0x0, 0, 1, 34, 4294967295, 0 ) --> [pre-fail] Failure(0x16) \n"
		"SYSCALL[10000,1](59) sys_execve ( 0x10a036(/nonexistent), 0x1fff0005c0, 0x1fff000718 ) --> [pre-fail] Failure(0x2) \n"
		"SYSCALL[10000,1](231) exit_group( 3 ) --> [pre-success] Success(0x0) \n", NULL);
	is_str(l.err, "", "LACKEY.md's shapes read");
	size_t i = 0;
#define NEXT (i < l.n ? &l.ev[i++] : NULL)
	const struct vm_trace_event *e = NEXT;
	ok(e && e->access == VM_ACC_EXEC && e->acc.addr == 0x4000ffe && e->acc.size == 2, "I  04000ffe,5: 2 bytes in the first page");
	e = NEXT;
	ok(e && e->acc.addr == 0x4001000 && e->acc.size == 3, "... and 3 in the next");
	e = NEXT;
	ok(e && e->access == VM_TACC_MODIFY && e->acc.size == 4, " M 04a29ffc,8: a modify, split too");
	e = NEXT;
	ok(e && e->acc.addr == 0x4a2a000 && e->acc.size == 4, "... its second half");
	e = NEXT;
	ok(e && e->kind == VM_TEV_FORK && e->fork.child == 10001, "clone(fork) created child 10001: fork");
	e = NEXT;
	ok(e && e->kind == VM_TEV_ACCESS && e->acc.addr == 0x4001000,
	   "pthread's clone and the thread's exit make no event; an async call waits for its completion");
	e = NEXT;
	ok(e && e->kind == VM_TEV_SYSCALL && e->sys.nr == 28 && e->sys.ret == 0 && e->sys.arg[2] == 4,
	   "madvise ( 0x4a2c000, 65536, 4 ): at its completion, = 0");
	e = NEXT;
	ok(e && e->sys.nr == 12 && e->sys.arg[0] == 0x80d6000 && e->sys.ret == 0x40d6000,
	   "a brk split by Valgrind's overflow warning: = 0x40d6000 (the old break)");
	e = NEXT;
	ok(e && e->sys.nr == 329 && e->sys.nargs == 4 && e->sys.arg[3] == 4294967295u,
	   "pkey_mprotect's missing comma: 4 arguments");
	e = NEXT;
	ok(e && e->sys.nr == 25 && e->sys.nargs == 5 && e->sys.arg[4] == 0x10000000 && e->sys.ret == 0x10000000,
	   "mremap with MREMAP_FIXED: 5 arguments");
	e = NEXT;
	ok(e && e->sys.nr == 9 && e->sys.ret == -EINVAL, "a failed mmap: -EINVAL (Failure(0x16))");
	e = NEXT;
	ok(e && e->kind == VM_TEV_EXIT && e->exit.code == 3, "a failed execve makes no event; exit_group( 3 )");
	is_u64(l.n, i, "nothing else");
	is_u64(l.stat[VM_TSTAT_SYS_REFUSED], 1, "the unhandled syscall 462 is counted as refused");
	evlist_free(&l);
#undef NEXT
}

static void test_descriptors(void)
{
	struct evlist l = read_str("fd.log", BANNER(4330)
		"SYSCALL[4330,1](257) sys_openat ( 4294967196, 0x402a2a0(/etc/a b,c), 524288 ) --> [async] ... \n"
		"SYSCALL[4330,1](257) ... [async] --> Success(0x4) \n"
		"SYSCALL[4330,1](33) sys_dup2 ( 4, 7 )[sync] --> Success(0x7) \n"
		"SYSCALL[4330,1](3) sys_close ( 4 )[sync] --> Success(0x0) \n"
		"SYSCALL[4330,1](72) sys_fcntl[ARG3=='arg'] ( 7, 0, 10 )[sync] --> Success(0xa) \n"
		"SYSCALL[4330,1](9) sys_mmap ( 0x0, 4096, 1, 2, 7, 0 ) --> [pre-success] Success(0x4835000) \n"
		"SYSCALL[4330,1](9) sys_mmap ( 0x0, 4096, 1, 2, 4, 0 ) --> [pre-success] Success(0x4836000) \n"
		"SYSCALL[4330,1](9) sys_mmap ( 0x0, 4096, 1, 2, 10, 4096 ) --> [pre-success] Success(0x4837000) \n"
		"SYSCALL[4330,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4838000) \n",
		NULL);
	is_str(l.err, "", "descriptor lines read");
	ok(l.n == 4 && l.ev[0].path && !strcmp(l.ev[0].path, "/etc/a b,c"),
	   "dup2(4, 7): fd 7 names what openat opened (a path with a blank and a comma)");
	ok(l.n == 4 && !l.ev[1].path, "fd 4 after close(4) names nothing");
	ok(l.n == 4 && l.ev[2].path && !strcmp(l.ev[2].path, "/etc/a b,c"), "fcntl(F_DUPFD) copies it");
	ok(l.n == 4 && !l.ev[3].path, "an anonymous mmap has no path");
	is_u64(l.stat[VM_TSTAT_FD_UNKNOWN], 1, "the mmap of a closed descriptor is counted");
	evlist_free(&l);
}

static void test_exec_end(void)
{
	static const char text[] = BANNER(8899)
		"I  0491bad5,2\n"
		"SYSCALL[8899,1](59) sys_execve ( 0x4035ce8(/usr/bin/ls), 0x4035b60, 0x4035b98 )";
	struct evlist l = read_str("x.log", text, NULL);
	is_str(l.err, "", "a log that ends with execve and no newline");
	ok(l.n == 2 && l.ev[1].kind == VM_TEV_EXEC && !strcmp(l.ev[1].path, "/usr/bin/ls"),
	   "is a successful exec of /usr/bin/ls");
	evlist_free(&l);
}

static void bad(const char *text, const char *want, const char *what)
{
	struct evlist l = read_str("bad.log", text, "lackey");
	ok(l.rc == -EINVAL, "rejected: %s", what);
	is_str(l.err, want, "message: %s", what);
	evlist_free(&l);
}

static void test_errors(void)
{
	bad(BANNER(1) "I  0401ab70,3\nI  04zz,3\n",
	    "bad.log:6: 'I  04zz,3': expected ADDR,SIZE (hex address, size 1..4096)", "a garbled address");
	bad(BANNER(1) "I  0401ab70,0\n", "bad.log:5: 'I  0401ab70,0': expected ADDR,SIZE (hex address, "
	    "size 1..4096)", "size 0");
	bad(BANNER(1) "I  0401ab70,3\n L 0401",
	    "bad.log:6: the last line has no newline (truncated?)", "a truncated last line");
	bad(BANNER(1) "SYSCALL[1,1](12) sys_brk ( 0x0 )   some message\nI  0401ab70,3\n",
	    "bad.log:6: the SYSCALL line at line 5 has no status (' --> [...' line missing)",
	    "a split line whose status never comes");
	bad(BANNER(1) "SYSCALL[1,1](28) ... [async] --> Success(0x0) \n",
	    "bad.log:5: completion of system call 28 of thread 1, which did not start",
	    "a completion without its start");
	bad(BANNER(1) "SYSCALL[2,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) \n",
	    "bad.log:5: a line of process 2 in the log of process 1 (one log per process: "
	    "--log-file=NAME.%p.%n.log)", "two processes in one log");
	bad(BANNER(1) "SYSCALL[1,1](9) sys_mmap ( 0x0, 8192 ) --> [pre-success] Success(0x4835000) \n",
	    "bad.log:5: cannot read the arguments of mmap (6..6 expected)", "mmap with two arguments");
	bad(BANNER(1) "SYSCALL[1,1](12) sys_brk ( 0x0 ) --> [pre-success] Sucess(0x4035000) \n",
	    "bad.log:5: cannot read the status of this SYSCALL line", "a misspelt status");
	bad(BANNER(1) "SYSCALL[1,1](12) sys_brk ( 0x0 )   message\n",
	    "bad.log:5: the log ends inside this SYSCALL line (truncated?)", "a split line at the end");
	bad(BANNER(1) "hello\n", "bad.log:5: 'hello': not a lackey line (I, L, S, M, SYSCALL, ==PID==)",
	    "a line of another format");
	bad("I  0401ab70,3\nSYSCALL[5,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) \n",
	    "bad.log:2: memory lines before the first line that names the process (the ==PID== "
	    "banner or a SYSCALL line)", "a log without its banner");
	struct evlist l = read_mem("m.log", BANNER(1) "I  0401ab70,3\n", sizeof(BANNER(1) "I  0401ab70,3\n") - 1,
				   "lackey", TRACE_DATA "sh-child.log.gz");
	ok(l.rc == -EINVAL && strstr(l.err, "no 'Memory layout at client startup' table"),
	   "a -d map file without a startup table: %s", l.err);
	evlist_free(&l);
	l = read_mem("m.log", "I  0401ab70,3\n", 14, "lackey", TRACE_DATA "true.stderr.gz");
	is_str(l.err, "m.log:1: no '==PID== Command:' banner before the first event: cannot pick the "
	       "initial map from tests/trace/data/true.stderr.gz", "maps need the banner");
	evlist_free(&l);
}

int main(void)
{
	test_true_log();
	test_true_maps();
	test_trampoline();
	test_fork_logs();
	test_shapes();
	test_descriptors();
	test_exec_end();
	test_errors();
	return done_testing();
}
