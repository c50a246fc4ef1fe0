/*
 * The replay engine (src/trace/replay*.c) on events built in memory:
 * regions of a process laid out as an ELF loader leaves it, repetition
 * counts, what a failed call in the trace does, fork and exit figures,
 * the initial map, errors with their event numbers, --lenient, and that
 * a long trace replays in memory that does not grow with its length.
 *
 * The expected figures are Linux's rules (LACKEY.md 9, measured on the
 * host): the zero page for a read of anonymous memory, one fault per page
 * for writes, fault-around over a 64 KiB block for file reads.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "kernel/uapi.h"
#include "tap.h"
#include "trace/replay.h"

static struct vm_machine *machine(const char *extra)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_machine *m = NULL;
	char words[128];
	vmlab_settings_parse(s, "mode=meta", NULL);
	snprintf(words, sizeof(words), "%s", extra ? extra : "");
	for (char *save, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
		if (vmlab_settings_parse(s, w, NULL))
			abort();
	if (vmlab_machine_create(s, NULL, &m, NULL))
		m = NULL;
	vmlab_settings_destroy(s);
	return m;
}

static struct vm_trace_event acc(int32_t pid, unsigned kind, uint64_t addr, uint64_t count)
{
	struct vm_trace_event e = { .kind = VM_TEV_ACCESS, .access = (uint8_t)kind, .pid = pid };
	e.acc.addr = addr;
	e.acc.size = 1;
	e.acc.count = count;
	return e;
}

static struct vm_trace_event map(int32_t pid, uint64_t s, uint64_t e, uint32_t prot,
				 uint64_t off, const char *path, uint16_t flags)
{
	struct vm_trace_event ev = { .kind = VM_TEV_MAP, .pid = pid, .path = path, .flags = flags };
	ev.map.start = s;
	ev.map.end = e;
	ev.map.prot = prot;
	ev.map.offset = off;
	ev.map.flags = VM_MAP_PRIVATE | (path ? 0 : VM_MAP_ANONYMOUS);
	return ev;
}

static struct vm_trace_event sys(int32_t pid, int32_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
				 uint64_t a3, int64_t ret)
{
	struct vm_trace_event e = { .kind = VM_TEV_SYSCALL, .pid = pid };
	e.sys.nr = nr;
	e.sys.nargs = 6;
	e.sys.arg[0] = a0;
	e.sys.arg[1] = a1;
	e.sys.arg[2] = a2;
	e.sys.arg[3] = a3;
	e.sys.arg[4] = (uint64_t)-1;
	e.sys.ret = ret;
	return e;
}

static struct vm_trace_event simple(unsigned kind, int32_t pid, int32_t arg)
{
	struct vm_trace_event e = { .kind = (uint8_t)kind, .pid = pid };
	if (kind == VM_TEV_FORK)
		e.fork.child = arg;
	else
		e.exit.code = arg;
	return e;
}

/* A replay on a fresh machine. */
struct fix {
	struct vm_machine *m;
	struct vm_replay *r;
	struct vm_replay_result res;
	struct vm_error err;
};

static void fix_init(struct fix *f, bool lenient)
{
	memset(f, 0, sizeof(*f));
	f->m = machine(NULL);
	const struct vm_replay_opts o = { .lenient = lenient };
	if (!f->m || vm_replay_create(f->m, &o, &f->r))
		abort();
}

static int feed(struct fix *f, struct vm_trace_event ev)
{
	return vm_replay_event(f->r, &ev, &f->err);
}

static void fix_result(struct fix *f)
{
	if (vm_replay_result(f->r, &f->res))
		abort();
}

static void fix_fini(struct fix *f)
{
	struct vm_error e = { 0 };
	ok(vmlab_machine_check(f->m, &e) == 0, "the machine's invariants hold after the replay%s%s",
	   e.msg[0] ? ": " : "", e.msg);
	vm_replay_result_free(&f->res);
	vm_replay_destroy(f->r);
	vmlab_machine_destroy(f->m);
}

/* A program as an ELF loader leaves it: text, rodata, data of one file,
 * its bss right after, a heap, a data file, an anonymous mmap, a stack. */
static void test_regions(void)
{
	struct fix f;
	char data[] = "/tmp/vmlab-test-replay.XXXXXX";
	int fd = mkstemp(data);
	static char zeros[65536];
	ok(fd >= 0 && write(fd, zeros, sizeof(zeros)) == (ssize_t)sizeof(zeros), "a data file");
	close(fd);

	fix_init(&f, false);
	const char *prog = "/bin/true";
	is_i64(feed(&f, map(5, 0x400000, 0x401000, VM_PROT_READ, 0, prog, 0)), 0, "program header map");
	feed(&f, map(5, 0x401000, 0x402000, VM_PROT_READ | VM_PROT_EXEC, 0x1000, prog, 0));
	feed(&f, map(5, 0x402000, 0x403000, VM_PROT_READ | VM_PROT_WRITE, 0x2000, prog, 0));
	feed(&f, map(5, 0x403000, 0x405000, VM_PROT_READ | VM_PROT_WRITE, 0, NULL, 0));
	feed(&f, map(5, 0x4035000, 0x4036000, 7, 0, NULL, VM_TEV_F_HEAP));
	feed(&f, map(5, 0x1ffefff000, 0x1fff001000, 3, 0, NULL, VM_TEV_F_STACK));
	is_i64(feed(&f, sys(5, VM_NR_BRK, 0x4045000, 0, 0, 0, 0x4045000)), 0, "brk grows the heap");
	struct vm_trace_event mm = sys(5, VM_NR_MMAP, 0, 65536, VM_PROT_READ, VM_MAP_PRIVATE, 0x10000000);
	mm.path = data;
	is_i64(feed(&f, mm), 0, "a file mmap at the address the trace returned");
	feed(&f, sys(5, VM_NR_MMAP, 0, 8192, 3, VM_MAP_PRIVATE | VM_MAP_ANONYMOUS, 0x20000000));
	feed(&f, acc(5, VM_ACC_EXEC, 0x401010, 1));                     /* text */
	feed(&f, acc(5, VM_ACC_READ, 0x400010, 2));                     /* data (rodata) */
	feed(&f, acc(5, VM_ACC_WRITE, 0x402010, 3));                    /* data */
	feed(&f, acc(5, VM_ACC_WRITE, 0x404000, 4));                    /* bss */
	feed(&f, acc(5, VM_ACC_WRITE, 0x4040000, 5));                   /* heap */
	feed(&f, acc(5, VM_ACC_READ, 0x10000000, 6));                   /* the data file */
	feed(&f, acc(5, VM_ACC_WRITE, 0x20001000, 7));                  /* anonymous mmap */
	feed(&f, acc(5, VM_ACC_WRITE, 0x1fff000800, 8));                /* stack */
	feed(&f, acc(5, VM_ACC_WRITE, 0x1ffeffe800, 9));                /* the stack grows */
	fix_result(&f);
	is_u64(f.res.rgn[VM_RGN_TEXT].accesses, 1, "text: executable file mapping");
	is_u64(f.res.rgn[VM_RGN_DATA].accesses, 5, "data: the other mappings of a file with code");
	is_u64(f.res.rgn[VM_RGN_BSS].accesses, 4, "bss: anonymous right after the data");
	is_u64(f.res.rgn[VM_RGN_HEAP].accesses, 5, "heap: the brk area");
	is_u64(f.res.rgn[VM_RGN_FILE].accesses, 6, "mmap-file: a file without code");
	is_u64(f.res.rgn[VM_RGN_ANON].accesses, 7, "mmap-anon");
	is_u64(f.res.rgn[VM_RGN_STACK].accesses, 17, "stack, also below its start (growth)");
	is_u64(f.res.rgn[VM_RGN_OTHER].accesses, 0, "nothing else");
	is_u64(f.res.rgn[VM_RGN_FILE].minflt, 1, "the data file: one fault for its 64 KiB block");
	is_u64(f.res.rgn[VM_RGN_HEAP].minflt, 1, "the heap: one write fault");
	/* 2 pages populated by the initial map, 1 written (already present), 1 grown. */
	is_u64(f.res.rgn[VM_RGN_STACK].minflt, 3, "the stack: 2 populated pages and 1 it grew");
	is_u64(f.res.acc[VM_RK_WRITE], 3 + 4 + 5 + 7 + 8 + 9, "writes counted with their repetitions");
	/* A faulting access is translated again when the instruction restarts. */
	is_u64(f.res.stats.acc_exec, 1 + 1, "the MMU fetched once, and again after the fault");
	is_u64(f.res.stats.acc_read, 2 + 6 + 2, "read every repetition, two of them again after a fault");
	is_str(f.res.procs[0].name, "true", "named after the program's first map");
	is_u64(f.res.nfiles, 2, "two files listed: the program and the data file");
	fix_fini(&f);
	unlink(data);
}

/* The repetitions of a run are TLB hits once the first access did its work. */
static void test_counts(void)
{
	struct fix f;
	fix_init(&f, false);
	feed(&f, sys(1, VM_NR_MMAP, 0, 4096, 3, VM_MAP_PRIVATE | VM_MAP_ANONYMOUS, 0x10000000));
	feed(&f, acc(1, VM_ACC_WRITE, 0x10000000, 1000));
	fix_result(&f);
	is_u64(f.res.stats.acc_write, 1000 + 1, "1000 translated writes, the first one twice (fault, retry)");
	is_u64(f.res.stats.minflt, 1, "one fault");
	is_u64(f.res.stats.tlb_l1d_miss, 2, "two L1 misses: before and after the fault");
	is_u64(f.res.procs[0].rss_anon, 1, "one page");
	fix_fini(&f);
}

/* A run of n accesses (a vmt record with a count) leaves the machine as n
 * single accesses do: every counter equal, over a pattern that fills and
 * evicts the TLBs (200 pages, runs of 1 to 7, LRU and tree-PLRU). */
static void run_pattern(struct fix *f, bool collapsed)
{
	feed(f, sys(1, VM_NR_MMAP, 0, 200 << 12, 7, VM_MAP_PRIVATE | VM_MAP_ANONYMOUS, 0x10000000));
	for (uint64_t i = 0; i < 20000; i++) {
		uint64_t page = (i * 37) % 200, n = 1 + i % 7;
		unsigned kind = i % 3 == 0 ? VM_ACC_EXEC : i % 3 == 1 ? VM_ACC_READ : VM_ACC_WRITE;
		uint64_t addr = 0x10000000 + (page << 12) + (i & 0xff0);
		if (collapsed) {
			feed(f, acc(1, kind, addr, n));
		} else {
			for (uint64_t k = 0; k < n; k++)
				feed(f, acc(1, kind, addr, 1));
		}
	}
}

static void test_runs_exact(const char *repl)
{
	struct fix a, b;
	for (int i = 0; i < 2; i++) {
		struct fix *f = i ? &b : &a;
		memset(f, 0, sizeof(*f));
		f->m = machine(repl);
		const struct vm_replay_opts o = { 0 };
		if (!f->m || vm_replay_create(f->m, &o, &f->r))
			abort();
		run_pattern(f, i == 1);
		fix_result(f);
	}
	unsigned diff = 0;
	for (unsigned i = 0; i < VM_CNT_COUNT; i++)
		if (vmlab_counter_get(&a.res.stats, i) != vmlab_counter_get(&b.res.stats, i)) {
			diag("%s: %" PRIu64 " one by one, %" PRIu64 " as runs", vmlab_counter_name(i),
			     vmlab_counter_get(&a.res.stats, i), vmlab_counter_get(&b.res.stats, i));
			diff++;
		}
	is_u64(diff, 0, "%s: runs give every counter that single accesses give", repl);
	ok(a.res.stats.tlb_evictions > 1000, "the pattern evicts TLB entries (%" PRIu64 ")",
	   a.res.stats.tlb_evictions);
	fix_fini(&a);
	fix_fini(&b);
}

/* A failed mmap in the trace changes nothing; a brk Valgrind refused is
 * not replayed; the model's results are compared with the trace's. */
static void test_syscalls(void)
{
	struct fix f;
	fix_init(&f, false);
	is_i64(feed(&f, sys(1, VM_NR_MMAP, 0, 4096, 3, VM_MAP_PRIVATE | VM_MAP_ANONYMOUS, -ENOMEM)), 0,
	       "a failed mmap");
	is_i64(feed(&f, map(1, 0x4035000, 0x4036000, 7, 0, NULL, VM_TEV_F_HEAP)), 0, "the break page");
	is_i64(feed(&f, sys(1, VM_NR_BRK, 0x4835000, 0, 0, 0, 0x4035000)), 0, "a refused brk");
	is_i64(feed(&f, sys(1, VM_NR_MUNMAP, 0x7000, 4096, 0, 0, -EINVAL)), 0, "a munmap the model accepts");
	feed(&f, acc(1, VM_ACC_READ, 0x4035000, 1));
	fix_result(&f);
	is_u64(f.res.note[VM_RNOTE_SYS_SKIPPED], 2, "mmap and brk not replayed");
	is_u64(f.res.note[VM_RNOTE_SYS_MISMATCH], 1, "munmap: 0 in the model, -EINVAL in the trace");
	ok(strstr(f.res.first_mismatch, "event 4: pid 1: munmap(0x7000, 4096) returned 0x0 in the model, "
		  "-EINVAL in the trace") != NULL, "the mismatch is described: %s", f.res.first_mismatch);
	is_u64(f.res.procs[0].vsz, 0, "nothing mapped: the break page is not a VMA");
	is_u64(f.res.stats.sig_segv, 1, "so touching it is a SIGSEGV");
	fix_fini(&f);
}

static void test_errors(void)
{
	struct fix f;
	fix_init(&f, false);
	feed(&f, acc(3, VM_ACC_READ, 0x1000, 1));
	is_i64(feed(&f, acc(3, VM_ACC_READ, 0x2000, 1)), -EINVAL, "an event after the process died");
	ok(strstr(f.err.msg, "event 2: pid 3 (pid 3) was killed by SIGSEGV at event 1") != NULL,
	   "names both events: %s", f.err.msg);
	fix_fini(&f);

	fix_init(&f, true);
	feed(&f, acc(3, VM_ACC_READ, 0x1000, 1));
	is_i64(feed(&f, acc(3, VM_ACC_READ, 0x2000, 1)), 0, "--lenient");
	is_i64(feed(&f, sys(3, 12345, 0, 0, 0, 0, 0)), 0, "an unknown call, --lenient");
	fix_result(&f);
	is_u64(f.res.note[VM_RNOTE_SEGV_SKIPPED], 2, "both accesses skipped");
	is_u64(f.res.note[VM_RNOTE_SYS_UNKNOWN], 1, "the call counted");
	is_u64(f.res.stats.sig_segv, 0, "and no signal");
	fix_fini(&f);

	fix_init(&f, false);
	is_i64(feed(&f, sys(1, 12345, 0, 0, 0, 0, 0)), -EINVAL, "an unknown call");
	ok(strstr(f.err.msg, "event 1: pid 1: system call 12345 is not a memory call") != NULL,
	   "message: %s", f.err.msg);
	struct vm_trace_event e = sys(1, VM_NR_MMAP, 0, 0, 0, 0, 0);
	e.sys.nargs = 2;
	is_i64(feed(&f, e), -EINVAL, "an mmap with two arguments");
	is_i64(feed(&f, simple(VM_TEV_FORK, 1, 2)), 0, "fork");
	is_i64(feed(&f, simple(VM_TEV_FORK, 1, 2)), -EINVAL, "a second fork of a live pid");
	fix_fini(&f);
}

/* A real capture of a shell that forks twice and execs ls and true
 * (tests/trace/replay/README.md): three processes, each exec'd image built
 * from its map events, every one exiting 0, the invariants intact. */
static void test_real_tree(void)
{
	struct fix f;
	struct vm_trace *t;
	fix_init(&f, false);
	if (vm_trace_open("tests/trace/replay/sh-fork.vmt", NULL, &t, &f.err)) {
		ok(0, "cannot open the trace (run from the top of the tree): %s", f.err.msg);
		fix_fini(&f);
		return;
	}
	is_i64(vm_replay_run(f.r, t, &f.err), 0, "the capture replays");
	vm_trace_close(t);
	fix_result(&f);
	is_u64(f.res.nprocs, 3, "three processes");
	is_u64(f.res.ev[VM_TEV_FORK], 2, "two forks");
	is_u64(f.res.ev[VM_TEV_EXEC], 2, "two execs");
	unsigned exited = 0;
	for (unsigned i = 0; i < f.res.nprocs; i++)
		exited += f.res.procs[i].state == VM_RPROC_EXITED && f.res.procs[i].exit_code == 0;
	is_u64(exited, 3, "all exited 0");
	is_str(f.res.procs[1].name, "ls", "the first child is ls");
	is_i64(f.res.procs[1].parent, f.res.procs[0].pid, "forked by the shell");
	is_u64(f.res.stats.sig_segv, 0, "no signal");
	is_u64(f.res.note[VM_RNOTE_SYS_MISMATCH], 0, "every call's result as in the trace");
	/* Natively 227-231 (docs/fidelity.md: vfork runs as a fork under
	 * Valgrind, up to 35 % more). */
	ok(f.res.stats.minflt >= 229 && f.res.stats.minflt <= 229 * 135 / 100,
	   "minor faults %" PRIu64 " within 0 to +35 %% of the native 229", f.res.stats.minflt);
	ok(f.res.rss_sum_peak >= f.res.procs[0].rss_peak, "the summed RSS peaks at least at the shell's own");
	fix_fini(&f);
}

/* Memory grows with the pages a trace touches, not with its length: 20
 * million accesses over 16 pages, host RSS measured after the first and
 * after the last. */
static void test_constant_memory(void)
{
	struct fix f;
	fix_init(&f, false);
	feed(&f, sys(1, VM_NR_MMAP, 0, 65536, 7, VM_MAP_PRIVATE | VM_MAP_ANONYMOUS, 0x10000000));
	uint64_t before = 0;
	for (uint64_t i = 0; i < 20000000; i++) {
		if (i == 1000000)
			before = tap_rss_bytes();
		struct vm_trace_event e = acc(1, i & 1 ? VM_ACC_WRITE : VM_ACC_EXEC,
					      0x10000000 + ((i * 4104) & 0xffff), 1);
		feed(&f, e);
	}
	uint64_t after = tap_rss_bytes();
	ok(after <= before + (256 << 10), "20 M accesses after the first 1 M: host RSS %" PRIu64
	   " KiB -> %" PRIu64 " KiB", before >> 10, after >> 10);
	fix_result(&f);
	is_u64(f.res.acc[VM_RK_WRITE] + f.res.acc[VM_RK_EXEC], 20000000, "every access replayed");
	fix_fini(&f);
}

int main(void)
{
	test_regions();
	test_counts();
	test_runs_exact("tlb_repl=lru");
	test_runs_exact("tlb=zen3 tlb_repl=plru");
	test_runs_exact("tlb=skylake");
	test_syscalls();
	test_errors();
	test_real_tree();
	test_constant_memory();
	return done_testing();
}
