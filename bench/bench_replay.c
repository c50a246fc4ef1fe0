/*
 * Replay throughput (issue 6, section 6), each figure next to its floor
 * measured in the same run on the same bytes (reading and decoding the
 * trace without simulating: every event handed out by vm_trace_next):
 *
 *   (a) vmt, meta mode, a TLB-hit-heavy synthetic trace: a loop whose code
 *       (4 pages, straight-line fetches) reads and writes 16 data pages
 *       and its stack, every access an L1 TLB hit once the pages are
 *       mapped.  Target: at least 0.5x the floor.
 *   (b) the bundled real trace (examples/traces/ls-l-usr-bin.vmt, 18.5 M
 *       accesses of ls -l /usr/bin) with the full model: data mode (frames
 *       hold bytes), default settings; and in meta mode beside it.
 *   (c) under memory pressure, for the linux and clock policies: the
 *       bundled trace with phys=1M (about half of what ls needs: reclaim
 *       and swap all along), and a synthetic loop over 24 MiB of
 *       anonymous memory with phys=16M (reclaim and swap on every pass),
 *       both with swap=64M; beside the accesses per second, the reclaim
 *       counters (pgscan, pswpout, pswpin) show the pressure happened.
 *   memory: a synthetic trace of 200 M accesses streamed through a pipe
 *       replays in the host memory of its first 10 M: replay keeps what
 *       the touched pages need, not what the trace's length would.
 *
 * Figures are the best of BENCH_REPS passes (zlib vmt, as vmlab writes it;
 * (a) also plain).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "bench.h"
#include "trace/replay.h"
#include "trace/trace.h"

#define REAL "examples/traces/ls-l-usr-bin.vmt"
#define SYNTH_ACCESSES 4000000
#define STREAM_ACCESSES UINT64_C(200000000)

/* Resident memory of this process now, bytes (/proc/self/statm). */
static long long bench_rss_bytes(void)
{
	long long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lld %lld", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * sysconf(_SC_PAGESIZE);
}

static struct vm_trace_event ev_acc(unsigned kind, uint64_t addr, uint32_t size)
{
	struct vm_trace_event e = { .kind = VM_TEV_ACCESS, .access = (uint8_t)kind, .pid = 1 };
	e.acc.addr = addr;
	e.acc.size = size;
	e.acc.count = 1;
	return e;
}

static struct vm_trace_event ev_mmap(uint64_t addr, uint64_t len, int prot)
{
	struct vm_trace_event e = { .kind = VM_TEV_SYSCALL, .pid = 1 };
	e.sys.nr = VM_NR_MMAP;
	e.sys.nargs = 6;
	e.sys.arg[1] = len;
	e.sys.arg[2] = (uint64_t)prot;
	e.sys.arg[3] = 0x22;              /* MAP_PRIVATE | MAP_ANONYMOUS */
	e.sys.arg[4] = (uint64_t)-1;
	e.sys.ret = (int64_t)addr;
	return e;
}

/* The synthetic loop: per iteration a fetch, then alternately a load from
 * one of 16 data pages and a store to the stack; n accesses in all. */
static void synth(struct vm_trace_writer *w, uint64_t n)
{
	struct vm_trace_event e = ev_mmap(0x400000, 4 << 12, 5);
	vm_trace_writer_put(w, &e);
	e = ev_mmap(0x10000000, 16 << 12, 3);
	vm_trace_writer_put(w, &e);
	e = ev_mmap(0x7ff000000, 4 << 12, 3);
	vm_trace_writer_put(w, &e);
	uint64_t pc = 0x400000;
	for (uint64_t i = 0; i < n; i++) {
		if ((i & 1) == 0) {
			e = ev_acc(VM_ACC_EXEC, pc, 4);
			pc += 4;
			if (pc >= 0x400000 + (4 << 12))
				pc = 0x400000;
		} else if ((i & 3) == 1) {
			e = ev_acc(VM_ACC_READ, 0x10000000 + ((i * 520) & 0xfff8), 8);
		} else {
			e = ev_acc(VM_ACC_WRITE, 0x7ff003f00 - ((i >> 2) & 0x1f) * 8, 8);
		}
		vm_trace_writer_put(w, &e);
	}
	struct vm_trace_event x = { .kind = VM_TEV_EXIT, .pid = 1 };
	vm_trace_writer_put(w, &x);
}

/* Under pressure: PRESSURE_PASSES passes over PRESSURE_PAGES anonymous
 * pages, each visit a fetch and 15 data accesses to the page (reads, then
 * a write every fourth pass, so swapped pages are sometimes dirty again). */
#define PRESSURE_PAGES  6144      /* 24 MiB */
#define PRESSURE_PASSES 16
#define PRESSURE_REPS   3

static void synth_pressure(struct vm_trace_writer *w)
{
	struct vm_trace_event e = ev_mmap(0x400000, 1 << 12, 5);
	vm_trace_writer_put(w, &e);
	e = ev_mmap(0x20000000, (uint64_t)PRESSURE_PAGES << 12, 3);
	vm_trace_writer_put(w, &e);
	for (unsigned pass = 0; pass < PRESSURE_PASSES; pass++)
		for (uint64_t pg = 0; pg < PRESSURE_PAGES; pg++) {
			uint64_t a = 0x20000000 + (pg << 12);
			e = ev_acc(VM_ACC_EXEC, 0x400000 + (pg & 0x3ff) * 4, 4);
			vm_trace_writer_put(w, &e);
			for (unsigned k = 0; k < 15; k++) {
				bool write = k == 0 && (pass & 3) == 0;
				e = ev_acc(write ? VM_ACC_WRITE : VM_ACC_READ, a + k * 256, 8);
				vm_trace_writer_put(w, &e);
			}
		}
	struct vm_trace_event x = { .kind = VM_TEV_EXIT, .pid = 1 };
	vm_trace_writer_put(w, &x);
}

static size_t synth_vmt_of(bool compress, bool pressure, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	struct vm_trace_writer *w;
	if (!f || vm_trace_writer_create("vmt", f, compress, 1, &w))
		exit(1);
	if (pressure)
		synth_pressure(w);
	else
		synth(w, SYNTH_ACCESSES);
	vm_trace_writer_end(w);
	vm_trace_writer_destroy(w);
	fclose(f);
	return len;
}

static size_t synth_vmt(bool compress, char **out)
{
	return synth_vmt_of(compress, false, out);
}

static char *load(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len);
	if (!buf || fread(buf, 1, *len, f) != *len)
		exit(1);
	fclose(f);
	return buf;
}

/* The floor: every event decoded, nothing simulated.  Accesses counted. */
static uint64_t decode(const char *data, size_t len)
{
	struct vm_trace *t;
	struct vm_error err;
	struct vm_trace_event ev;
	uint64_t acc = 0, sum = 0;
	if (vm_trace_open_mem("bench", data, len, NULL, &t, &err))
		exit(1);
	while (vm_trace_next(t, &ev) == 1) {
		if (ev.kind == VM_TEV_ACCESS) {
			acc += ev.acc.count;
			sum += ev.acc.addr;
		}
	}
	vm_trace_close(t);
	bench_keep(sum);
	return acc;
}

static struct vm_machine *machine(const char *mode)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_machine *m;
	vmlab_settings_set(s, "mode", mode, NULL);
	if (vmlab_machine_create(s, NULL, &m, NULL))
		exit(1);
	vmlab_settings_destroy(s);
	return m;
}

/* Replay data on a fresh machine of the settings words; the accesses
 * replayed, the machine's counters at the end in *st. */
static uint64_t replay_on(const char *data, size_t len, const char *const *words, unsigned nwords,
			  struct vm_stats *st)
{
	struct vm_machine *m;
	struct vm_trace *t;
	struct vm_replay *r;
	struct vm_error err;
	struct vm_replay_result res;
	const struct vm_replay_opts o = { 0 };
	if (bench_machine(words, nwords, &m))
		exit(1);
	if (vm_trace_open_mem("bench", data, len, NULL, &t, &err) || vm_replay_create(m, &o, &r))
		exit(1);
	if (vm_replay_run(r, t, &err)) {
		fprintf(stderr, "bench_replay: %s\n", err.msg);
		exit(1);
	}
	vm_replay_result(r, &res);
	uint64_t acc = 0;
	for (unsigned i = 0; i < VM_RK_COUNT; i++)
		acc += res.acc[i];
	*st = res.stats;
	vm_replay_result_free(&res);
	vm_replay_destroy(r);
	vm_trace_close(t);
	vmlab_machine_destroy(m);
	return acc;
}

/* Replay data in mode (meta or data), default settings otherwise. */
static uint64_t replay(const char *data, size_t len, const char *mode, uint64_t *walks)
{
	char word[32];
	const char *words[] = { word };
	struct vm_stats st;
	snprintf(word, sizeof(word), "mode=%s", mode);
	uint64_t acc = replay_on(data, len, words, 1, &st);
	if (walks)
		*walks = st.walks;
	return acc;
}

/* Best seconds of decode (mode NULL) or replay in mode, of reps passes. */
static double best_of(const char *data, size_t len, const char *mode, int reps)
{
	double b = 1e30;
	for (int i = 0; i < reps; i++) {
		double t0 = bench_now();
		if (mode)
			replay(data, len, mode, NULL);
		else
			decode(data, len);
		double dt = bench_now() - t0;
		if (dt < b)
			b = dt;
	}
	return b;
}

static double best(const char *data, size_t len, const char *mode)
{
	return best_of(data, len, mode, BENCH_REPS);
}

static void figure(const char *label, const char *data, size_t len, const char *mode,
		   const char *target)
{
	uint64_t walks, acc = replay(data, len, mode, &walks);
	double tr = best(data, len, mode), tf = best(data, len, NULL);
	printf("%-44s %7.1f M acc/s   floor (decode only) %7.1f M acc/s   %.2fx the floor%s  "
	       "[%" PRIu64 " accesses, %" PRIu64 " walks]\n", label, acc / tr / 1e6, acc / tf / 1e6,
	       tf / tr, target, acc, walks);
}

/* (c): replay under pressure with phys and policy, swap=64M, meta mode;
 * accesses per second beside the floor, and the counters of reclaim. */
static void pressure(const char *label, const char *data, size_t len, const char *phys,
		     const char *policy)
{
	char wphys[32], wpolicy[32];
	const char *words[] = { "mode=meta", wphys, "swap=64M", wpolicy };
	struct vm_stats st;
	double tr = 1e30;
	uint64_t acc = 0;

	snprintf(wphys, sizeof(wphys), "phys=%s", phys);
	snprintf(wpolicy, sizeof(wpolicy), "policy=%s", policy);
	for (int i = 0; i < PRESSURE_REPS; i++) {
		double t0 = bench_now();
		acc = replay_on(data, len, words, 4, &st);
		double dt = bench_now() - t0;
		if (dt < tr)
			tr = dt;
	}
	double tf = best(data, len, NULL);
	printf("%-30s %-6s %7.2f M acc/s   floor %7.1f M acc/s   %.3fx the floor  [phys=%s: "
	       "pgscan %" PRIu64 ", pswpout %" PRIu64 ", pswpin %" PRIu64 ", major faults %" PRIu64
	       ", %" PRIu64 " accesses]\n", label, policy, acc / tr / 1e6, acc / tf / 1e6, tf / tr,
	       phys, st.pgscan_kswapd + st.pgscan_direct, st.pswpout, st.pswpin, st.majflt, acc);
}

/* 200 M accesses through a pipe from a child that writes them: host RSS
 * after 10 M and at the end. */
static void memory(void)
{
	int p[2];
	if (pipe(p))
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		FILE *f = fdopen(p[1], "wb");
		struct vm_trace_writer *w;
		if (!f || vm_trace_writer_create("vmt", f, false, 0, &w))
			_exit(1);
		synth(w, STREAM_ACCESSES);
		vm_trace_writer_end(w);
		fclose(f);
		_exit(0);
	}
	close(p[1]);
	struct vm_machine *m = machine("meta");
	struct vm_trace *t;
	struct vm_replay *r;
	struct vm_error err;
	struct vm_trace_event ev;
	const struct vm_replay_opts o = { 0 };
	char path[32];
	snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
	if (vm_trace_open(path, NULL, &t, &err) || vm_replay_create(m, &o, &r))
		exit(1);
	uint64_t n = 0, at10 = 0;
	double t0 = bench_now();
	while (vm_trace_next(t, &ev) == 1) {
		if (vm_replay_event(r, &ev, &err))
			exit(1);
		if (++n == 10000000)
			at10 = (uint64_t)bench_rss_bytes();
	}
	double dt = bench_now() - t0;
	uint64_t end = (uint64_t)bench_rss_bytes();
	printf("memory: %" PRIu64 " M events streamed through a pipe in %.1f s: host RSS %" PRIu64
	       " KiB after 10 M, %" PRIu64 " KiB at the end (%s)\n", n / 1000000, dt, at10 >> 10,
	       end >> 10, end <= at10 + (1 << 20) ? "constant" : "GROWS");
	vm_replay_destroy(r);
	vm_trace_close(t);
	vmlab_machine_destroy(m);
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	char *plain, *z;
	size_t plen = synth_vmt(false, &plain), zlen = synth_vmt(true, &z), rlen;
	printf("(a) synthetic TLB-hit-heavy trace: %d accesses, vmt %zu bytes plain, %zu zlib\n",
	       SYNTH_ACCESSES, plen, zlen);
	figure("(a) vmt zlib, meta mode", z, zlen, "meta", " (target 0.5x)");
	figure("(a) vmt plain, meta mode", plain, plen, "meta", " (target 0.5x)");
	free(plain);
	free(z);
	char *real = load(REAL, &rlen);
	if (!real) {
		fprintf(stderr, "bench_replay: cannot read %s (run from the top of the tree)\n", REAL);
		return 1;
	}
	printf("(b) %s: %zu bytes\n", REAL, rlen);
	figure("(b) real trace, full model (mode=data)", real, rlen, "data", "");
	figure("(b) real trace, meta mode", real, rlen, "meta", "");
	char *hot;
	size_t hlen = synth_vmt_of(true, true, &hot);
	printf("(c) under memory pressure, swap=64M, meta mode (best of %d):\n", PRESSURE_REPS);
	for (unsigned i = 0; i < 2; i++) {
		const char *policy = i ? "clock" : "linux";
		pressure("(c) real trace", real, rlen, "1M", policy);
		pressure("(c) 24 MiB loop in 16 MiB", hot, hlen, "16M", policy);
	}
	free(hot);
	free(real);
	if (argc < 2 || strcmp(argv[1], "--no-memory") != 0)
		memory();
	return 0;
}
