/*
 * kdiff: the differential test of vmlab against the host's Linux kernel.
 *
 *   kdiff [options] [CASE...]
 *
 *   --count N      random sequences to run (default 1000; 100000 when
 *                  VMLAB_TEST_LONG is set, as `make test-long` does)
 *   --seed S       seed of the first sequence (default VMLAB_SEED, else 1);
 *                  sequence i has seed S + i, so `--seed S --count 1` reruns one
 *   --calls N      system calls per sequence (default 50; a touch phase
 *                  follows each call with probability 1/2)
 *   --cases DIR    also replay every DIR/<name>.case
 *   --self-check   run each sequence natively twice instead (no model):
 *                  the native side must be deterministic
 *   --no-exclusions  generate the steps exclusions[] leaves out (to see
 *                  whether the differences they stand for are still there)
 *   --known FILE   seeds known to differ (open model bugs): "SEED CASE" lines;
 *                  they are reported without failing their batch
 *   --max-fail N   stop after N sequences that differ (default 3)
 *   --host-check N first run N sequences natively twice (as --self-check),
 *                  then the comparison with the model
 *   --print        print the sequence of --seed as a case file and exit
 *   --trace        print every step with both results
 *   --minimize     on a mismatch, shrink the sequence and print the case
 *   --check-every  run the model's invariant checker after every step (else
 *                  after the setup and at the end of each sequence)
 *   --fork         generate sequences with fork steps (fork mode: the same
 *                  seed gives another sequence; docs/differential.md, "Fork")
 *   --fork-count N after the random sequences, N more in fork mode (with
 *                  the same seeds); known fork-mode seeds are "fork:SEED"
 *
 * Output is TAP: one line per case file and per batch of 100 sequences,
 * totals in a diagnostic line.  A mismatch prints the seed, the step, the
 * call, both results and a diff of the maps lines, and makes the run fail.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/uapi.h"
#include "kdiff.h"
#include "tap.h"

struct options {
	uint64_t count, seed, calls, host_check, max_fail, fork_count;
	const char *cases;
	bool self_check, print, trace, minimize, check_every, no_exclusions, fork;
};

struct totals {
	uint64_t sequences, calls, touches, accesses, faults, lines, forks;
	uint64_t noise;          /* differences that did not repeat */
	uint64_t known;          /* seeds that differ as the known list says */
	uint64_t kind_calls[KD_KIND_COUNT], kind_ok[KD_KIND_COUNT];
};

static char file_path[256];
/* The writable file: the native side's copy (a new one for each run of a
 * sequence that maps it) and the model's (never written: the model writes
 * in memory). */
static char rw_native_path[256], rw_model_path[256];
static struct kd_host host;
static struct options opt;
static struct totals tot;

/* Runs are large (maps text for every step): keep them off the stack. */
static struct kd_run run_a, run_b;

/* ------------------------------------------------------------ exclusions */

/* Differences that are known and excluded on purpose, each with its
 * reason (docs/differential.md lists them).  An op that matches one is left
 * out of generated sequences (only of those that map the writable file,
 * with rwfile); every run prints the list. */
struct kd_exclusion {
	const char *what;
	bool (*match)(const struct kd_op *op);
	bool rwfile;
};

static bool is_madv_remove(const struct kd_op *op)
{
	return op->kind == KD_MADVISE && op->flags == VM_MADV_REMOVE;
}

static const struct kd_exclusion exclusions[] = {
	{ "MADV_REMOVE in sequences that map the writable file: after ext4 punches a hole, "
	  "readahead brings the neighbouring holes in with the first major fault; the model "
	  "has no readahead (docs/files.md)", is_madv_remove, true },
	{ NULL, NULL, false },
};

static bool excluded(const struct kd_op *op, bool rwfile)
{
	if (opt.no_exclusions)
		return false;
	for (const struct kd_exclusion *e = exclusions; e->what; e++)
		if ((!e->rwfile || rwfile) && e->match(op))
			return true;
	return false;
}

static void generate(uint64_t seed, struct kd_seq *seq)
{
	unsigned n = 0;
	kd_generate(seed, (unsigned)opt.calls, opt.fork, seq);
	bool rwfile = kd_seq_uses_rwfile(seq);
	for (unsigned i = 0; i < seq->n; i++)
		if (!excluded(&seq->op[i], rwfile))
			seq->op[n++] = seq->op[i];
	seq->n = n;
}

/* ------------------------------------------------------------ the file */

/* The parent's own mapping of the file, populated and mlocked: pages
 * mapped into page tables survive drop_caches (invalidate_mapping_pages
 * skips mapped folios) and mlocked ones survive reclaim, so the file stays
 * cached as the model's pagecache=warm assumes.  Children inherit the
 * mapping (outside the windows; fork drops VM_LOCKED). */
static void *file_pin;

static void unpin_file(void)
{
	if (file_pin)
		munmap(file_pin, KD_FILE_SIZE);
	file_pin = NULL;
}

static int make_file(void)
{
	const char *dir = getenv("TMPDIR");
	char buf[KD_FILE_SIZE];
	int fd;

	snprintf(file_path, sizeof file_path, "%s/vmlab-kdiff-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(file_path);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)kd_file_byte(i);
	/* Written a page at a time, so that the page cache holds it in
	 * order-0 folios (a larger write gets large folios on ext4, and 6.18's
	 * fault-around maps a whole large folio, beyond its 64 KiB window);
	 * then synced, so that every page is cached, clean, and never locked
	 * for writeback while a child maps it. */
	for (size_t off = 0; off < sizeof buf; off += 4096) {
		size_t n = sizeof buf - off < 4096 ? sizeof buf - off : 4096;
		if (write(fd, buf + off, n) != (ssize_t)n)
			break;
	}
	if (lseek(fd, 0, SEEK_END) != (off_t)sizeof buf || fsync(fd) != 0) {
		close(fd);
		unlink(file_path);
		return -EIO;
	}
	file_pin = mmap(NULL, KD_FILE_SIZE, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (file_pin == MAP_FAILED) {
		file_pin = NULL;
		unlink(file_path);
		return -errno;
	}
	mlock(file_pin, KD_FILE_SIZE);     /* best effort: the mapping alone resists drop_caches */
	return 0;
}

/* A new writable file (the file's bytes) at a fresh path made from
 * `pattern`, a page per write (order-0 folios).  A new inode each time: its
 * pages are dirty but young, so the flusher, which writes back inodes dirty
 * for 30 s, never write-protects pages a native child has mapped while it
 * runs (the next write would fault).  -errno. */
static int new_rw_file(char *path, size_t len, const char *name)
{
	const char *dir = getenv("TMPDIR");
	char buf[4096];
	int fd, rc = 0;

	snprintf(path, len, "%s/%s-XXXXXX", dir && *dir ? dir : "/tmp", name);
	if ((fd = mkstemp(path)) < 0)
		return -errno;
	for (size_t off = 0; off < KD_FILE_SIZE && !rc; off += sizeof buf) {
		size_t n = KD_FILE_SIZE - off < sizeof buf ? KD_FILE_SIZE - off : sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)kd_file_byte(off + i);
		if (write(fd, buf, n) != (ssize_t)n)
			rc = -EIO;
	}
	close(fd);
	if (rc)
		unlink(path);
	return rc;
}

/* Before every sequence: is every page of the file still cached?  If the
 * host dropped any (reclaim despite the pin), write a new file rather than
 * let faults be major or meet large folios read back by readahead. */
static int keep_file_cached(void)
{
	unsigned char vec[KD_FILE_PAGES];
	int rc = file_pin ? mincore(file_pin, KD_FILE_SIZE, vec) : -1;

	for (unsigned i = 0; rc == 0 && i < KD_FILE_PAGES; i++)
		rc = vec[i] & 1 ? 0 : 1;
	if (rc == 0)
		return 0;
	diag("%s is no longer all in the page cache: writing a new file", file_path);
	unpin_file();
	unlink(file_path);
	return make_file();
}

/* ------------------------------------------------------------ reporting */

static const char *errno_name(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EIO, "EIO" },
		{ ENXIO, "ENXIO" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" },
		{ ENODEV, "ENODEV" }, { EINVAL, "EINVAL" }, { EMFILE, "EMFILE" }, { EFBIG, "EFBIG" },
		{ EOVERFLOW, "EOVERFLOW" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { ENOSYS, "ENOSYS" },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].e == e)
			return t[i].n;
	return NULL;
}

static void format_ret(const struct kd_rec *r, char *buf, size_t len)
{
	const char *n;
	switch (r->ret_kind) {
	case KD_RET_RANGE:
	case KD_RET_HEAP:
		snprintf(buf, len, "%c%c0x%" PRIx64, r->ret_kind == KD_RET_RANGE ? 'R' : 'B',
			 r->ret < 0 ? '-' : '+', r->ret < 0 ? -(uint64_t)r->ret : (uint64_t)r->ret);
		break;
	case KD_RET_OUTSIDE:
		snprintf(buf, len, "an address outside the windows");
		break;
	default:
		if (r->ret < 0 && r->ret >= -4095 && (n = errno_name((int)-r->ret)))
			snprintf(buf, len, "-%s", n);
		else
			snprintf(buf, len, "%" PRId64, r->ret);
	}
}

static void print_result(const char *who, const struct kd_op *op, const struct kd_rec *r)
{
	char ret[64];
	format_ret(r, ret, sizeof ret);
	if (op && op->kind == KD_TOUCH)
		printf("#   %s: faults per access %s (minflt %" PRIu64 ", majflt %" PRIu64 "), data read %016"
		       PRIx64 "\n", who, r->access, r->minflt, r->majflt, r->sum);
	else if (op && op->kind == KD_FORK)
		printf("#   %s: faults per access: parent %s (minflt %" PRIu64 ", majflt %" PRIu64
		       ", data read %016" PRIx64 "), child %s (minflt %" PRIu64 ", majflt %" PRIu64
		       ", data read %016" PRIx64 ")\n", who, r->access, r->minflt, r->majflt, r->sum,
		       r->access2, r->minflt2, r->majflt2, r->sum2);
	else
		printf("#   %s: ret %s, minflt %" PRIu64 ", majflt %" PRIu64 "\n", who, ret, r->minflt,
		       r->majflt);
}

static bool line_in(const char *line, size_t len, const char *text)
{
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		if (n == len && memcmp(p, line, len) == 0)
			return true;
		p += n + (eol != NULL);
	}
	return false;
}

/* Every line of a, marked '-' when b lacks it; then b's own with '+'. */
static void print_maps_diff(const char *a, const char *b)
{
	for (int pass = 0; pass < 2; pass++) {
		const char *text = pass ? b : a, *other = pass ? a : b;
		for (const char *p = text; *p;) {
			const char *eol = strchr(p, '\n');
			size_t n = eol ? (size_t)(eol - p) : strlen(p);
			bool both = line_in(p, n, other);
			if (!pass || !both)
				printf("#     %c %.*s\n", both ? ' ' : pass ? '+' : '-', (int)n, p);
			p += n + (eol != NULL);
		}
	}
}

static bool rec_equal(const struct kd_op *op, const struct kd_rec *a, const struct kd_rec *b)
{
	if (op && op->kind == KD_FORK) {
		if (strcmp(a->access, b->access) != 0 || strcmp(a->access2, b->access2) != 0 ||
		    a->sum != b->sum || a->sum2 != b->sum2 || a->minflt2 != b->minflt2 ||
		    a->majflt2 != b->majflt2)
			return false;
	} else if (op && op->kind == KD_TOUCH) {
		if (strcmp(a->access, b->access) != 0 || a->sum != b->sum)
			return false;
	} else if (a->ret_kind != b->ret_kind || a->ret != b->ret) {
		return false;
	}
	return a->minflt == b->minflt && a->majflt == b->majflt && strcmp(a->maps, b->maps) == 0;
}

static void print_seq(const struct kd_seq *seq, unsigned upto, const char *prefix)
{
	char line[400];
	for (unsigned i = 0; i < upto && i < seq->n; i++) {
		kd_op_format(&seq->op[i], line, sizeof line);
		printf("%s%s\n", prefix, line);
	}
}

/* The first step where a and b differ, or -1; -2 if a run failed. */
static int first_difference(const struct kd_seq *seq, const struct kd_run *a, const struct kd_run *b)
{
	if (a->error[0] || b->error[0])
		return -2;
	for (unsigned i = 0; i < a->n && i < b->n; i++)
		if (!rec_equal(i ? &seq->op[i - 1] : NULL, &a->rec[i], &b->rec[i]))
			return (int)i;
	return a->n == b->n ? -1 : (int)(a->n < b->n ? a->n : b->n);
}

static void report(const char *name, const struct kd_seq *seq, const struct kd_run *a,
		   const struct kd_run *b, int step, const char *la, const char *lb)
{
	char line[400];
	printf("# MISMATCH in %s", name);
	if (seq->seed)
		printf(" (seed %" PRIu64 ": rerun with kdiff --seed %" PRIu64 " --count 1 --trace)", seq->seed,
		       seq->seed);
	printf("\n");
	if (step == -2) {
		if (a->error[0])
			printf("#   %s failed: %s\n", la, a->error);
		if (b->error[0])
			printf("#   %s failed: %s\n", lb, b->error);
		return;
	}
	if (step == 0) {
		printf("#   the initial state differs\n");
	} else {
		kd_op_format(&seq->op[step - 1], line, sizeof line);
		printf("#   step %d of %u: %s\n", step, seq->n, line);
	}
	if ((unsigned)step >= a->n || (unsigned)step >= b->n) {
		printf("#   %s has %u steps, %s %u\n", la, a->n, lb, b->n);
		return;
	}
	print_result(la, step ? &seq->op[step - 1] : NULL, &a->rec[step]);
	print_result(lb, step ? &seq->op[step - 1] : NULL, &b->rec[step]);
	printf("#   maps after the step (- %s only, + %s only):\n", la, lb);
	print_maps_diff(a->rec[step].maps, b->rec[step].maps);
	printf("#   the steps up to it:\n");
	print_seq(seq, (unsigned)step, "#     ");
}

static void trace(const struct kd_seq *seq, const struct kd_run *a, const struct kd_run *b,
		  const char *la, const char *lb)
{
	char line[400];
	for (unsigned i = 0; i < a->n || i < b->n; i++) {
		const struct kd_op *op = i ? &seq->op[i - 1] : NULL;
		if (op) {
			kd_op_format(op, line, sizeof line);
			printf("# [%u] %s\n", i, line);
		} else {
			printf("# [0] initial state\n");
		}
		if (i < a->n)
			print_result(la, op, &a->rec[i]);
		if (i < b->n)
			print_result(lb, op, &b->rec[i]);
		if (i < a->n && i < b->n && strcmp(a->rec[i].maps, b->rec[i].maps) != 0)
			print_maps_diff(a->rec[i].maps, b->rec[i].maps);
		else if (i < a->n)
			print_maps_diff(a->rec[i].maps, a->rec[i].maps);
	}
}

/* ------------------------------------------------------------ running */

/* The model runs in a child process of its own, so that a crash of the
 * model (a signal, a sanitizer report) is a difference reported with its
 * seed, and minimised like any other, instead of the end of kdiff.  Its
 * results come back through a shared mapping. */
static struct kd_run *model_run;

static void run_model(const struct kd_seq *seq, struct kd_run *out)
{
	int status = 0;
	pid_t pid, w;

	if (!model_run) {
		model_run = mmap(NULL, sizeof *model_run, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				 -1, 0);
		if (model_run == MAP_FAILED) {
			model_run = NULL;
			kd_model_run(seq, file_path, rw_model_path, &host, opt.check_every, out);   /* in-process */
			return;
		}
	}
	model_run->n = 0;
	model_run->error[0] = 0;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		kd_model_run(seq, file_path, rw_model_path, &host, opt.check_every, model_run);
		_exit(0);
	}
	do
		w = pid < 0 ? -1 : waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	out->n = model_run->n;
	memcpy(out->error, model_run->error, sizeof out->error);
	memcpy(out->rec, model_run->rec, sizeof out->rec[0] * out->n);
	if (w < 0)
		snprintf(out->error, sizeof out->error, "vmlab: cannot run the model: %s", strerror(errno));
	else if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)
		snprintf(out->error, sizeof out->error,
			 "vmlab crashed (%s %d) after %u steps: the model, not the comparison",
			 WIFSIGNALED(status) ? "signal" : "exit status",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), out->n ? out->n - 1 : 0);
}

/* Start seq natively with a new copy of the writable file if it maps it
 * (an earlier run may have written the last one); finish removes it. */
static int native_start(const struct kd_seq *seq, struct kd_run *run)
{
	rw_native_path[0] = 0;
	if (kd_seq_uses_rwfile(seq) && new_rw_file(rw_native_path, sizeof rw_native_path,
						   "vmlab-kdiff-rw") != 0)
		return -1;
	return kd_native_start(seq, file_path, rw_native_path, run);
}

static void native_finish(struct kd_run *run)
{
	kd_native_finish(run);
	if (rw_native_path[0])
		unlink(rw_native_path);
	rw_native_path[0] = 0;
}

/* Run seq on both sides into run_a (Linux) and run_b (vmlab, or Linux again
 * with --self-check); the first difference as first_difference. */
static int run_both(const struct kd_seq *seq)
{
	memset(run_a.error, 0, sizeof run_a.error);
	memset(run_b.error, 0, sizeof run_b.error);
	if (native_start(seq, &run_a) != 0) {
		snprintf(run_a.error, sizeof run_a.error, "fork: %s", strerror(errno));
		return -2;
	}
	if (opt.self_check) {
		native_finish(&run_a);
		if (native_start(seq, &run_b) == 0)
			native_finish(&run_b);
	} else {
		run_model(seq, &run_b);          /* while the native child runs */
		native_finish(&run_a);
	}
	return first_difference(seq, &run_a, &run_b);
}

static void count(const struct kd_seq *seq, const struct kd_run *r)
{
	tot.sequences++;
	for (unsigned i = 0; i < seq->n && i + 1 < r->n; i++) {
		const struct kd_rec *rec = &r->rec[i + 1];
		if (seq->op[i].kind == KD_TOUCH || seq->op[i].kind == KD_FORK) {
			tot.touches += seq->op[i].kind == KD_FORK ? 2 : 1;
			tot.forks += seq->op[i].kind == KD_FORK;
			for (const char *a = rec->access; *a; a++)
				tot.accesses += *a != '-';
			for (const char *a = rec->access2; *a; a++)
				tot.accesses += *a != '-';
			tot.faults += rec->minflt2 + rec->majflt2;
		} else {
			tot.calls++;
			tot.kind_calls[seq->op[i].kind]++;
			tot.kind_ok[seq->op[i].kind] += rec->ret_kind != KD_RET_VALUE || rec->ret >= 0;
		}
		tot.faults += rec->minflt + rec->majflt;
		for (const char *p = rec->maps; (p = strchr(p, '\n')); p++)
			tot.lines++;
	}
}

/* Greedily drop steps while the sequence still shows a mismatch on a step
 * of the same kind of call. */
static void minimize(struct kd_seq *seq, int step)
{
	unsigned kind = step > 0 ? seq->op[step - 1].kind : KD_KIND_COUNT;
	bool changed = true;
	while (changed) {
		changed = false;
		for (unsigned i = seq->n; i-- > 0;) {
			struct kd_seq *t = malloc(sizeof *t);
			int d;
			if (!t)
				return;
			*t = *seq;
			memmove(&t->op[i], &t->op[i + 1], (t->n - i - 1) * sizeof t->op[0]);
			t->n--;
			d = run_both(t);
			if (d != -1 && (d <= 0 || t->op[d - 1].kind == kind)) {
				*seq = *t;
				changed = true;
			}
			free(t);
		}
	}
}

static const char *label_b(void)
{
	return opt.self_check ? "linux again" : "vmlab";
}

/* Run one sequence; true if both sides agree.  A difference is run again
 * (twice at most) before it is reported: the model is deterministic, so a
 * model bug repeats, while the host may not (a page reclaimed under
 * pressure turns a minor fault major).  A difference that does not repeat
 * is said in a diagnostic line and counted, never dropped silently. */
static bool check(const char *name, struct kd_seq *seq, bool quiet)
{
	int d;

	if (keep_file_cached() != 0) {
		diag("cannot write a new file: %s", strerror(errno));
		return false;
	}
	d = run_both(seq);
	for (int again = 0; d != -1 && again < 2 && !opt.trace; again++) {
		int first = d;
		if (keep_file_cached() != 0)
			break;
		d = run_both(seq);
		if (d == -1) {
			diag("%s: a difference at step %d did not repeat (host noise, e.g. a reclaimed page)",
			     name, first);
			tot.noise++;
		}
	}
	if (opt.trace)
		trace(seq, &run_a, &run_b, "linux", label_b());
	if (d == -1) {
		count(seq, &run_a);
		return true;
	}
	if (quiet)
		return false;
	report(name, seq, &run_a, &run_b, d, "linux", label_b());
	if (opt.minimize && !(d == -2 && run_a.error[0])) {     /* a model crash minimises too */
		uint64_t seed = seq->seed;
		minimize(seq, d);
		seq->seed = 0;        /* no longer the sequence of that seed */
		d = run_both(seq);
		printf("# minimal sequence (%u steps):\n", seq->n);
		printf("#   # kdiff case: from seed %" PRIu64 "\n", seed);
		print_seq(seq, seq->n, "#   ");
		if (d >= 0)
			report("the minimal sequence", seq, &run_a, &run_b, d, "linux", label_b());
	}
	return false;
}

/* A case file: `# todo: why` marks a known model bug (a TAP TODO test). */
static void run_case(const char *dir, const char *name)
{
	char path[1024], msg[300], todo[200] = "", line[300];
	struct kd_seq *seq = malloc(sizeof *seq);
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof line, f))
			if (strncmp(line, "# todo:", 7) == 0)
				snprintf(todo, sizeof todo, "%s", line + 7 + strspn(line + 7, " "));
		fclose(f);
	}
	todo[strcspn(todo, "\n")] = 0;
	if (!seq || kd_case_read(path, seq, msg, sizeof msg) != 0) {
		ok(0, "%s: %s", name, seq ? msg : "out of memory");
		free(seq);
		return;
	}
	bool same = check(name, seq, false);
	if (todo[0])      /* a TODO test: reported, not counted as a failure */
		printf("%s %d - case %s # TODO %s\n", same ? "ok" : "not ok", ++tap_count, name, todo);
	else
		ok(same, "case %s", name);
	free(seq);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_cases(const char *dir)
{
	char *names[512];
	size_t n = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d) {
		ok(0, "cases directory %s: %s", dir, strerror(errno));
		return;
	}

	while ((e = readdir(d)) && n < 512) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".case") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], by_name);
	for (size_t i = 0; i < n; i++) {
		if (names[i])
			run_case(dir, names[i]);
		free(names[i]);
	}
}

/* Seeds known to differ because of an open model bug, each with the case
 * file that reproduces it (--known FILE: "SEED CASE" a line, '#'
 * comments).  Such a seed that differs is named in a diagnostic line and
 * does not fail its batch; one that agrees is named too, to be removed. */
#define MAX_KNOWN 256
static uint64_t known_seed[MAX_KNOWN];
static bool known_fork[MAX_KNOWN];        /* a seed of fork mode ("fork:SEED") */
static char known_case[MAX_KNOWN][64];
static unsigned nknown;

static int read_known(const char *path)
{
	char line[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f) && nknown < MAX_KNOWN) {
		unsigned long long seed;
		char name[64];
		bool fork = strncmp(line, "fork:", 5) == 0;
		if (line[0] == '#' || sscanf(line + (fork ? 5 : 0), "%llu %63s", &seed, name) != 2)
			continue;
		known_fork[nknown] = fork;
		known_seed[nknown] = seed;
		snprintf(known_case[nknown++], sizeof known_case[0], "%s", name);
	}
	fclose(f);
	return 0;
}

static const char *known(uint64_t seed)
{
	for (unsigned i = 0; i < nknown; i++)
		if (known_seed[i] == seed && known_fork[i] == opt.fork)
			return known_case[i];
	return NULL;
}

/* count sequences from opt.seed; TAP line per batch of 100. */
static void run_random(uint64_t count)
{
	struct kd_seq *seq = malloc(sizeof *seq);
	uint64_t failed = 0, batch_failed = 0;
	const uint64_t batch = 100;

	if (!seq) {
		ok(0, "out of memory");
		return;
	}
	for (uint64_t i = 0; i < count; i++) {
		uint64_t seed = opt.seed + i;
		char name[64];
		snprintf(name, sizeof name, "%ssequence %" PRIu64, opt.fork ? "fork-mode " : "", seed);
		generate(seed, seq);
		const char *why = opt.self_check ? NULL : known(seed);
		bool same = check(name, seq, why != NULL);
		if (why && !same) {
			diag("%sseed %" PRIu64 " differs, as known: open model bug, cases/%s",
			     opt.fork ? "fork-mode " : "", seed, why);
			tot.known++;
		} else if (why) {
			diag("%sseed %" PRIu64 " agrees now: remove it from the known differences (%s)",
			     opt.fork ? "fork-mode " : "", seed, why);
		} else if (!same) {
			failed++;
			batch_failed++;
		}
		bool stop = failed >= opt.max_fail && !opt.trace;
		if ((i + 1) % batch == 0 || i + 1 == count || stop) {
			uint64_t first = i - i % batch;
			ok(batch_failed == 0, "%s%s: seeds %" PRIu64 "..%" PRIu64 " (%" PRIu64 " differ)",
			   opt.self_check ? "linux twice" : "linux vs vmlab", opt.fork ? " (fork mode)" : "",
			   opt.seed + first, seed, batch_failed);
			batch_failed = 0;
			fflush(stdout);
		}
		if (stop) {
			diag("stopping after %" PRIu64 " mismatching sequences", failed);
			break;
		}
	}
	free(seq);
}

static bool addr_equal(struct kd_addr a, struct kd_addr b)
{
	return a.anchor == b.anchor && a.off == b.off;
}

static bool op_equal(const struct kd_op *a, const struct kd_op *b)
{
	return a->kind == b->kind && a->fd == b->fd && addr_equal(a->addr, b->addr) &&
	       addr_equal(a->addr2, b->addr2) && a->len == b->len && a->len2 == b->len2 &&
	       a->prot == b->prot && a->flags == b->flags && a->off == b->off;
}

/* Every generated step must read back from its text form unchanged, or a
 * printed failure could not be replayed from a case file. */
static void check_text_form(void)
{
	struct kd_seq *seq = malloc(sizeof *seq);
	uint64_t steps = 0, bad = 0;
	char line[400], msg[160] = "";

	for (uint64_t s = 1; seq && s <= 300; s++) {
		kd_generate(s, 50, s % 2 == 0, seq);
		for (unsigned i = 0; i < seq->n; i++, steps++) {
			struct kd_op back;
			kd_op_format(&seq->op[i], line, sizeof line);
			if (kd_op_parse(line, &back, msg, sizeof msg) != 0 || !op_equal(&back, &seq->op[i])) {
				if (!bad++)
					diag("'%s' does not read back (%s)", line, msg);
			}
		}
	}
	ok(seq && bad == 0, "the text form of %" PRIu64 " generated steps reads back unchanged", steps);
	free(seq);
}

/* ------------------------------------------------------------ main */

static int usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--count N] [--seed S] [--calls N] [--cases DIR] [--self-check]\n"
		"          [--host-check N] [--max-fail N] [--print] [--trace] [--minimize]\n"
		"          [--check-every] [--no-exclusions] [--known FILE] [--fork]\n"
		"          [--fork-count N] [CASE...]\n", prog);
	return 2;
}

/* The options: flags, numbers, and the two that take a path. */
static const struct { const char *name; bool *flag; } flag_opts[] = {
	{ "--self-check", &opt.self_check }, { "--print", &opt.print }, { "--trace", &opt.trace },
	{ "--minimize", &opt.minimize }, { "--check-every", &opt.check_every },
	{ "--no-exclusions", &opt.no_exclusions }, { "--fork", &opt.fork },
};
static const struct { const char *name; uint64_t *value; } number_opts[] = {
	{ "--count", &opt.count }, { "--seed", &opt.seed }, { "--calls", &opt.calls },
	{ "--max-fail", &opt.max_fail }, { "--host-check", &opt.host_check },
	{ "--fork-count", &opt.fork_count },
};

/* One option at argv[*i] (advancing *i past its value): 0, or -1 if it is
 * not one or lacks its value. */
static int parse_option(int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	for (size_t k = 0; k < sizeof flag_opts / sizeof flag_opts[0]; k++)
		if (strcmp(a, flag_opts[k].name) == 0)
			return *flag_opts[k].flag = true, 0;
	if (*i + 1 >= argc)
		return -1;
	for (size_t k = 0; k < sizeof number_opts / sizeof number_opts[0]; k++)
		if (strcmp(a, number_opts[k].name) == 0) {
			*number_opts[k].value = strtoull(argv[++*i], NULL, 0);
			return 0;
		}
	if (strcmp(a, "--cases") == 0) {
		opt.cases = argv[++*i];
		return 0;
	}
	if (strcmp(a, "--known") == 0)
		return read_known(argv[++*i]);
	return -1;
}

static int parse_args(int argc, char **argv, int *ncases)
{
	*ncases = 0;
	opt.count = tap_long() ? 100000 : 1000;
	opt.seed = tap_seed(1);
	opt.calls = 50;
	opt.max_fail = 3;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			argv[(*ncases)++] = argv[i];       /* case files, kept in order */
		else if (parse_option(argc, argv, &i) != 0)
			return -1;
	}
	tap_seed_value = opt.seed;                  /* printed if anything fails */
	if (opt.calls == 0 || opt.calls > KD_MAX_STEPS / 2)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	int ncases, rc;
	struct timespec t0, t1;

	if (parse_args(argc, argv, &ncases) != 0)
		return usage(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (opt.print) {
		struct kd_seq *seq = malloc(sizeof *seq);
		if (!seq)
			return 1;
		generate(opt.seed, seq);
		printf("# kdiff case: seed %" PRIu64 ", %" PRIu64 " calls\n", opt.seed, opt.calls);
		print_seq(seq, seq->n, "");
		free(seq);
		return 0;
	}
	if ((rc = make_file()) != 0 || (rc = new_rw_file(rw_model_path, sizeof rw_model_path,
							  "vmlab-kdiff-rwm")) != 0 ||
	    (rc = kd_native_init()) != 0) {
		printf("1..0 # SKIP cannot set up: %s\n", strerror(-rc));
		return 0;
	}
	kd_host_read(&host);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	diag("file %s (%d bytes), range [0x%" PRIx64 ", 0x%" PRIx64 "), host fault_around %" PRIu64
	     ", mmap_min_addr %" PRIu64 ", max_map_count %" PRIu64 ", aslr %u",
	     file_path, KD_FILE_SIZE, KD_BASE, KD_BASE + KD_SIZE, host.fault_around, host.mmap_min_addr,
	     host.max_map_count, host.aslr);
	for (const struct kd_exclusion *e = exclusions; e->what; e++)
		diag("excluded: %s", e->what);
	check_text_form();
	if (opt.cases)
		run_cases(opt.cases);
	for (int i = 0; i < ncases; i++) {
		char *slash = strrchr(argv[i], '/');
		if (slash) {
			*slash = 0;
			run_case(argv[i], slash + 1);
		} else {
			run_case(".", argv[i]);
		}
	}
	if (ncases == 0 && opt.host_check && !opt.self_check) {
		/* The host must repeat itself before it can judge the model. */
		opt.self_check = true;
		run_random(opt.host_check);
		opt.self_check = false;
	}
	if (ncases == 0 && opt.count)
		run_random(opt.count);
	if (ncases == 0 && opt.fork_count && !opt.fork) {
		opt.fork = true;
		run_random(opt.fork_count);
		opt.fork = false;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	diag("%" PRIu64 " sequences agreed: %" PRIu64 " calls, %" PRIu64 " forks, %" PRIu64
	     " touch phases (%" PRIu64 " accesses), %" PRIu64 " faults, %" PRIu64
	     " maps lines compared in %.1f s",
	     tot.sequences, tot.calls, tot.forks, tot.touches, tot.accesses, tot.faults, tot.lines,
	     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (tot.known)
		diag("%" PRIu64 " sequences differ as known (open model bugs, listed with --known)", tot.known);
	if (tot.noise)
		diag("%" PRIu64 " differences did not repeat on a second run (host noise)", tot.noise);
	if (tot.calls) {
		char line[300];
		size_t n = 0;
		for (unsigned k = 0; k < KD_TOUCH; k++)
			n += (size_t)snprintf(line + n, sizeof line - n, " %s %" PRIu64 " (%" PRIu64 "%% ok)",
					      kd_kind_name(k), tot.kind_calls[k],
					      tot.kind_calls[k] ? 100 * tot.kind_ok[k] / tot.kind_calls[k] : 0);
		diag("calls:%s", line);
	}
	kd_native_fini();
	if (model_run)
		munmap(model_run, sizeof *model_run);
	unpin_file();
	unlink(file_path);
	unlink(rw_model_path);
	return done_testing();
}
