/*
 * Trace readers (issue 6, section 6): parsing alone, no machine.
 *
 *   (c) lackey text parsing: the real /bin/true log (tests/trace/data,
 *       169 K lines) through the lackey reader, every event handed out.
 *       Floor: the same bytes through the same buffered source, split
 *       into lines, nothing decoded (vm_tin_line).  The target is against
 *       Valgrind itself: at least 10x the rate at which lackey writes its
 *       lines (VALGRIND_LINES_PER_S, measured once on this machine:
 *       docs/benchmarks.md), so that parsing never slows live tracing.
 *   vmt decoding: the same events written as vmt, plain and zlib, read
 *       back.  Floors: reading the plain file's bytes (a sum over them);
 *       inflating the zlib body without decoding it.
 *
 * Each figure is the best of BENCH_REPS passes of PASSES parses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bench.h"
#include "trace/trace.h"
#include "trace/vmt.h"

#define DATA "tests/trace/data/true.log.gz"
#define PASSES 8
/* `ls -l /usr/bin` under lackey on this machine: 18,481,172 lines in 24.3 s
 * (docs/benchmarks.md). */
#define VALGRIND_LINES_PER_S 0.76e6

static char *load(const char *path, size_t *len)
{
	gzFile f = gzopen(path, "rb");
	size_t cap = 1 << 22;
	char *buf = malloc(cap);
	*len = 0;
	int n;
	while (f && buf && (n = gzread(f, buf + *len, (unsigned)(cap - *len))) > 0) {
		*len += (size_t)n;
		if (*len == cap)
			buf = realloc(buf, cap *= 2);
	}
	if (f)
		gzclose(f);
	return f ? buf : NULL;
}

/* Every event of data as format: how many, and the accesses counted. */
static uint64_t parse(const char *data, size_t len, const char *format, uint64_t *accesses)
{
	struct vm_trace *t;
	struct vm_error err;
	const struct vm_trace_opts o = { .format = format };
	if (vm_trace_open_mem("bench", data, len, &o, &t, &err)) {
		fprintf(stderr, "bench_trace: %s\n", err.msg);
		exit(1);
	}
	struct vm_trace_event ev;
	uint64_t n = 0, a = 0, sum = 0;
	int rc;
	while ((rc = vm_trace_next(t, &ev)) == 1) {
		n++;
		if (ev.kind == VM_TEV_ACCESS) {
			a += ev.acc.count;
			sum += ev.acc.addr;
		}
	}
	if (rc) {
		fprintf(stderr, "bench_trace: %s:%ld: %s\n", t->err.file, t->err.line, t->err.msg);
		exit(1);
	}
	bench_keep(sum);
	vm_trace_close(t);
	*accesses = a;
	return n;
}

/* Floor of (c): the lines, split and not decoded. */
static uint64_t split_lines(const char *data, size_t len)
{
	struct vm_tin in;
	const char *s;
	size_t n;
	bool partial;
	uint64_t lines = 0, sum = 0;
	vm_tin_open_mem(&in, data, len);
	while (vm_tin_line(&in, 1 << 16, &s, &n, &partial) == 1) {
		lines++;
		sum += n + (unsigned char)s[0];
	}
	vm_tin_close(&in);
	bench_keep(sum);
	return lines;
}

/* Floor of plain vmt: every byte read. */
static uint64_t read_bytes(const char *data, size_t len)
{
	struct vm_tin in;
	uint64_t sum = 0;
	vm_tin_open_mem(&in, data, len);
	while (vm_tin_fill(&in, 1 << 16) == 0 && in.len > in.pos) {
		for (size_t i = in.pos; i < in.len; i++)
			sum += in.buf[i];
		in.pos = in.len;
	}
	vm_tin_close(&in);
	bench_keep(sum);
	return sum;
}

/* Floor of zlib vmt: the body inflated, not decoded. */
static uint64_t inflate_body(const char *data, size_t len)
{
	z_stream z = { 0 };
	static unsigned char out[1 << 20];
	uint64_t total = 0;
	inflateInit(&z);
	z.next_in = (unsigned char *)data + VMT_HEADER;
	z.avail_in = (uInt)(len - VMT_HEADER);
	int rc;
	do {
		z.next_out = out;
		z.avail_out = sizeof(out);
		rc = inflate(&z, Z_NO_FLUSH);
		total += sizeof(out) - z.avail_out;
		bench_keep(out[0]);
	} while (rc == Z_OK);
	inflateEnd(&z);
	return total;
}

/* The vmt of data's events into *out. */
static size_t to_vmt(const char *data, size_t len, bool compress, char **out)
{
	size_t olen;
	FILE *f = open_memstream(out, &olen);
	struct vm_trace *t;
	struct vm_trace_writer *w;
	struct vm_error err;
	struct vm_trace_event ev;
	if (!f || vm_trace_open_mem("bench", data, len, NULL, &t, &err) ||
	    vm_trace_writer_create("vmt", f, compress, -1, &w))
		exit(1);
	while (vm_trace_next(t, &ev) == 1)
		vm_trace_writer_put(w, &ev);
	vm_trace_writer_end(w);
	vm_trace_writer_destroy(w);
	vm_trace_close(t);
	fclose(f);
	return olen;
}

enum { PARSE, FLOOR };

/* Best seconds per pass of what over data. */
static double best(int what, int fmt, const char *data, size_t len)
{
	double b = 1e30;
	uint64_t acc;
	for (int r = 0; r < BENCH_REPS; r++) {
		double t0 = bench_now();
		for (int p = 0; p < PASSES; p++) {
			if (what == PARSE)
				parse(data, len, fmt == 0 ? "lackey" : "vmt", &acc);
			else if (fmt == 0)
				split_lines(data, len);
			else if (fmt == 1)
				read_bytes(data, len);
			else
				inflate_body(data, len);
		}
		double dt = (bench_now() - t0) / PASSES;
		if (dt < b)
			b = dt;
	}
	return b;
}

int main(void)
{
	size_t len;
	char *log = load(DATA, &len);
	if (!log) {
		fprintf(stderr, "bench_trace: cannot read %s (run from the top of the tree)\n", DATA);
		return 1;
	}
	uint64_t accesses, events = parse(log, len, "lackey", &accesses);
	uint64_t lines = split_lines(log, len);
	printf("lackey log of /bin/true: %.1f MB, %" PRIu64 " lines, %" PRIu64 " events\n",
	       len / 1e6, lines, events);

	double tp = best(PARSE, 0, log, len), tf = best(FLOOR, 0, log, len);
	double rate = lines / tp;
	printf("(c) lackey parsing   %7.1f M lines/s   floor (split lines) %7.1f M lines/s   "
	       "%.2fx the floor\n", rate / 1e6, lines / tf / 1e6, tf / tp);
	printf("    = %.1fx Valgrind's %.2f M lines/s (target >= 10x): %s\n",
	       rate / VALGRIND_LINES_PER_S, VALGRIND_LINES_PER_S / 1e6,
	       rate >= 10 * VALGRIND_LINES_PER_S ? "met" : "NOT met");

	char *raw, *z;
	size_t rawlen = to_vmt(log, len, false, &raw), zlen = to_vmt(log, len, true, &z);
	uint64_t vacc, vev = parse(raw, rawlen, "vmt", &vacc);
	printf("vmt: %zu bytes plain, %zu zlib; %" PRIu64 " records for %" PRIu64 " accesses\n",
	       rawlen, zlen, vev, vacc);
	double vp = best(PARSE, 1, raw, rawlen), vf = best(FLOOR, 1, raw, rawlen);
	printf("vmt plain decoding   %7.1f M acc/s (%6.1f M records/s)   floor (read bytes) %7.1f MB/s = "
	       "%6.1f M acc/s   %.2fx the floor\n", vacc / vp / 1e6, vev / vp / 1e6, rawlen / vf / 1e6,
	       vacc / vf / 1e6, vf / vp);
	double zp = best(PARSE, 2, z, zlen), zf = best(FLOOR, 2, z, zlen);
	printf("vmt zlib decoding    %7.1f M acc/s (%6.1f M records/s)   floor (inflate only)          "
	       "= %6.1f M acc/s   %.2fx the floor\n", vacc / zp / 1e6, vev / zp / 1e6, vacc / zf / 1e6,
	       zf / zp);
	free(raw);
	free(z);
	free(log);
	return 0;
}
