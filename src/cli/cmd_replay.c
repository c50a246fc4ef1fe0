/*
 * vmlab replay TRACE: a trace's events through a machine built from the
 * settings, and the summary (docs/replay.md).  --compare KEY=V1,V2,...
 * replays once per value in parallel child processes (fork on the host)
 * and prints the results side by side.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmlab/machine.h>

#include "cli/cli.h"
#include "cli/replay_cli.h"
#include "report/replay_report.h"
#include "trace/capture.h"

#define COMPARE_MAX 16

struct vm_settings *cli_replay_settings(const struct vm_settings *base)
{
	struct vm_settings *s = vmlab_settings_clone(base);
	/* DESIGN.md: meta mode for trace replay unless asked otherwise. */
	if (s && !vmlab_settings_is_set(base, "mode"))
		vmlab_settings_set(s, "mode", "meta", NULL);
	return s;
}

/* ---- progress ------------------------------------------------------------ */

struct progress {
	const char *cmd;
	double start, last;
	bool shown;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress_cb(void *ctx, uint64_t events, uint64_t accesses)
{
	struct progress *pr = ctx;
	double t = now();
	char a[32], b[32];
	if (t - pr->last < 0.25)
		return;
	pr->last = t;
	pr->shown = true;
	fprintf(stderr, "\rvmlab %s: %s events, %s accesses, %.1f M events/s, %.1f s elapsed ",
		pr->cmd, cli_group(events, a, sizeof(a)), cli_group(accesses, b, sizeof(b)),
		(double)events / (t - pr->start) / 1e6, t - pr->start);
}

static void progress_end(struct progress *pr)
{
	if (pr->shown)
		fputs("\r\033[K", stderr);
}

/* ---- one replay ---------------------------------------------------------- */

/* Replay c->path into *res.  0, CLI_BADINPUT or CLI_USAGE with the
 * message printed; *format the reader's name. */
static int replay_into(const struct cli_replay *c, FILE *maps_out, struct vm_replay_result *res,
		       const char **format)
{
	struct vm_error err = { 0 };
	struct vm_machine *m = NULL;
	struct vm_trace *t = NULL;
	struct vm_replay *r = NULL;
	FILE *timeline = NULL;
	struct progress pr = { .cmd = c->cmd, .start = now(), .last = now() };
	int status = 0, rc;

	memset(res, 0, sizeof(*res));
	rc = c->capture ? vm_capture_open(c->capture, &t, &err) : vm_trace_open(c->path, &c->topts, &t, &err);
	if (rc) {
		cli_error(&err);
		return rc == -EINVAL ? CLI_BADINPUT : CLI_USAGE;
	}
	/* vmlab trace names its capture backend (vgtool, lackey), not the format. */
	*format = c->capture ? c->capture->ops->name : t->ops->name;
	if (vmlab_machine_create(c->settings, NULL, &m, &err)) {
		cli_fail(c->cmd, "cannot build the machine: %s", err.msg);
		status = CLI_USAGE;
		goto out;
	}
	if (c->timeline && !(timeline = fopen(c->timeline, "w"))) {
		cli_fail(c->cmd, "--timeline: %s: %s", c->timeline, strerror(errno));
		status = CLI_USAGE;
		goto out;
	}
	const struct vm_replay_opts o = {
		.lenient = c->lenient, .timeline = timeline, .every = timeline ? c->every : 0,
		.maps_at = c->maps_at, .maps_out = maps_out,
		.progress = c->progress && isatty(2) ? progress_cb : NULL, .ctx = &pr, .tee = c->tee,
	};
	if (vm_replay_create(m, &o, &r)) {
		cli_fail(c->cmd, "out of memory");
		status = CLI_BADINPUT;
		goto out;
	}
	rc = vm_replay_run(r, t, &err);
	progress_end(&pr);
	if (c->capture_end && c->capture_end(c)) {
		status = CLI_BADINPUT;
		goto out;
	}
	if (rc) {
		cli_error(&err);
		status = CLI_BADINPUT;
		goto out;
	}
	if (vm_replay_result(r, res)) {
		cli_fail(c->cmd, "out of memory");
		status = CLI_BADINPUT;
	}
out:
	if (timeline && fclose(timeline) != 0 && status == 0) {
		cli_fail(c->cmd, "--timeline: %s: cannot write", c->timeline);
		status = CLI_BADINPUT;
	}
	vm_replay_destroy(r);
	vmlab_machine_destroy(m);
	vm_trace_close(t);
	return status;
}

int cli_replay_print(const struct cli_replay *c)
{
	struct vm_replay_result res;
	char *maps = NULL;
	size_t maps_len = 0;
	FILE *maps_out = NULL;
	const char *format = "?";

	if (c->maps_at)
		maps_out = c->json ? open_memstream(&maps, &maps_len) : stdout;
	int status = replay_into(c, maps_out, &res, &format);
	if (c->json && maps_out)
		fclose(maps_out);
	if (status == 0) {
		struct vm_replay_info info = {
			.trace = c->title ? c->title : strcmp(c->path, "-") == 0 ? "<stdin>" : c->path,
			.format = format,
			.settings = c->settings, .maps_text = c->json ? maps : NULL, .maps_at = c->maps_at,
		};
		if (c->maps_at && res.events < c->maps_at)
			fprintf(stderr, "vmlab %s: --maps-at %" PRIu64 ": the trace has only %" PRIu64
				" events\n", c->cmd, c->maps_at, res.events);
		if (c->json) {
			struct vm_json j;
			vm_json_init(&j, stdout);
			vm_report_replay_json(&j, NULL, &info, &res);
			vm_json_finish(&j);
		} else {
			if (c->maps_at)
				putchar('\n');
			vm_report_replay_text(stdout, &info, &res);
		}
	}
	vm_replay_result_free(&res);
	free(maps);
	return status;
}

/* ---- --compare ----------------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	char *b = p;
	while (n) {
		ssize_t got = read(fd, b, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -EIO;
		b += got;
		n -= (size_t)got;
	}
	return 0;
}

/* A result through a pipe: the struct (pointers meaningless), the
 * processes, then each file's figures, path length and path. */
static int send_result(int fd, int status, const struct vm_replay_result *res)
{
	int rc = write_all(fd, &status, sizeof(status));
	if (rc || status)
		return rc;
	rc = write_all(fd, res, sizeof(*res));
	if (!rc)
		rc = write_all(fd, res->procs, res->nprocs * sizeof(*res->procs));
	for (unsigned i = 0; !rc && i < res->nfiles; i++) {
		uint32_t len = (uint32_t)strlen(res->files[i].path);
		rc = write_all(fd, &res->files[i].use, sizeof(res->files[i].use));
		if (!rc)
			rc = write_all(fd, &len, sizeof(len));
		if (!rc)
			rc = write_all(fd, res->files[i].path, len);
	}
	return rc;
}

static int recv_result(int fd, int *status, struct vm_replay_result *res)
{
	memset(res, 0, sizeof(*res));
	if (read_all(fd, status, sizeof(*status)))
		return -EIO;
	if (*status)
		return 0;
	if (read_all(fd, res, sizeof(*res)))
		return -EIO;
	unsigned np = res->nprocs, nf = res->nfiles;
	res->nprocs = res->nfiles = 0;
	res->procs = calloc(np ? np : 1, sizeof(*res->procs));
	res->files = calloc(nf ? nf : 1, sizeof(*res->files));
	if (!res->procs || !res->files || read_all(fd, res->procs, np * sizeof(*res->procs)))
		return -EIO;
	res->nprocs = np;
	for (unsigned i = 0; i < nf; i++) {
		uint32_t len;
		if (read_all(fd, &res->files[i].use, sizeof(res->files[i].use)) ||
		    read_all(fd, &len, sizeof(len)) || len > VM_TRACE_PATH_MAX + 1)
			return -EIO;
		res->files[i].path = calloc(1, len + 1);
		res->nfiles = i + 1;
		if (!res->files[i].path || read_all(fd, res->files[i].path, len))
			return -EIO;
	}
	return 0;
}

/* "KEY=V1,V2,...": the key and its values (pointers into buf). */
static int parse_compare(const char *spec, char *buf, size_t len, const char **key,
			 const char **values, unsigned *n)
{
	if (strlen(spec) >= len) {
		cli_fail("replay", "--compare: too long");
		return CLI_USAGE;
	}
	strcpy(buf, spec);
	char *eq = strchr(buf, '=');
	if (!eq || eq == buf || !eq[1]) {
		cli_fail("replay", "--compare: '%s' is not KEY=V1,V2,...", spec);
		return CLI_USAGE;
	}
	*eq = '\0';
	*key = buf;
	*n = 0;
	for (char *save, *tok = strtok_r(eq + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n == COMPARE_MAX) {
			cli_fail("replay", "--compare: at most %d values", COMPARE_MAX);
			return CLI_USAGE;
		}
		values[(*n)++] = tok;
	}
	if (*n < 1) {
		cli_fail("replay", "--compare: no values after '%s='", buf);
		return CLI_USAGE;
	}
	return 0;
}

static int compare(const struct cli_replay *base, const char *spec)
{
	char buf[1024];
	const char *key, *values[COMPARE_MAX];
	struct vm_settings *s[COMPARE_MAX] = { 0 };
	struct vm_replay_result res[COMPARE_MAX];
	struct vm_replay_info infos[COMPARE_MAX];
	pid_t pids[COMPARE_MAX];
	int fds[COMPARE_MAX];
	unsigned n = 0, started = 0;
	int status = parse_compare(spec, buf, sizeof(buf), &key, values, &n);

	memset(res, 0, sizeof(res));
	for (unsigned i = 0; status == 0 && i < n; i++) {
		struct vm_error err;
		s[i] = vmlab_settings_clone(base->settings);
		if (!s[i]) {
			cli_fail("replay", "out of memory");
			status = CLI_BADINPUT;
		} else if (vmlab_settings_set(s[i], key, values[i], &err)) {
			cli_fail("replay", "--compare: %s", err.msg);
			status = CLI_USAGE;
		}
	}
	fflush(stdout);
	fflush(stderr);
	for (unsigned i = 0; status == 0 && i < n; i++, started++) {
		int p[2];
		if (pipe(p) || (pids[i] = fork()) < 0) {
			cli_fail("replay", "--compare: cannot start a replay: %s", strerror(errno));
			status = CLI_BADINPUT;
			break;
		}
		if (pids[i] == 0) {
			struct cli_replay one = *base;
			struct vm_replay_result r;
			const char *format;
			close(p[0]);
			one.settings = s[i];
			one.progress = false;
			int st = replay_into(&one, NULL, &r, &format);
			int rc = send_result(p[1], st, &r);
			_exit(rc ? CLI_BADINPUT : 0);
		}
		close(p[1]);
		fds[i] = p[0];
	}
	int child_status = 0;
	for (unsigned i = 0; i < started; i++) {
		int st = 0, ws;
		if (status == 0 && recv_result(fds[i], &st, &res[i])) {
			cli_fail("replay", "--compare %s=%s: the replay did not report", key, values[i]);
			st = CLI_BADINPUT;
		}
		if (st && !child_status)
			child_status = st;
		close(fds[i]);
		waitpid(pids[i], &ws, 0);
	}
	if (status == 0)
		status = child_status;
	if (status == 0) {
		struct vm_trace *t;
		struct vm_error err;
		const char *format = "?";
		if (vm_trace_open(base->path, &base->topts, &t, &err) == 0) {
			format = t->ops->name;
			vm_trace_close(t);
		}
		for (unsigned i = 0; i < n; i++)
			infos[i] = (struct vm_replay_info){ .trace = base->path, .format = format,
							    .settings = s[i] };
		if (base->json)
			vm_report_compare_json(stdout, infos, key, values, res, n);
		else
			vm_report_compare_text(stdout, infos, key, values, res, n);
	}
	for (unsigned i = 0; i < n; i++) {
		vm_replay_result_free(&res[i]);
		vmlab_settings_destroy(s[i]);
	}
	return status;
}

int cmd_replay(int argc, char **argv)
{
	struct vm_settings *base = vmlab_settings_create();
	const char *format = NULL, *maps = NULL, *timeline = NULL, *cmp = NULL;
	bool json = false, lenient = false, one_log = false;
	uint64_t every = 0, maps_at = 0;
	if (!base) {
		cli_fail("replay", "out of memory");
		return CLI_BADINPUT;
	}
	const struct cli_opt opts[] = {
		{ "set", CLI_SET, base, "KEY=VALUE", "change a setting (vmlab config lists them)" },
		{ "config", CLI_CONFIG, base, "FILE", "read settings from a file" },
		{ "format", CLI_STR, &format, "FMT", "lackey, text, pages or vmt (default: from the content)" },
		{ "maps", CLI_STR, &maps, "FILE", "lackey: the stderr of `valgrind -d` (initial maps)" },
		{ "one-log", CLI_FLAG, &one_log, NULL, "lackey: this log alone, not its process tree" },
		{ "lenient", CLI_FLAG, &lenient, NULL, "skip and count what cannot be replayed "
						       "(docs/replay.md) instead of failing" },
		{ "json", CLI_FLAG, &json, NULL, "print the summary as JSON" },
		{ "timeline", CLI_STR, &timeline, "FILE.csv", "write RSS, VSZ, faults and TLB misses "
							      "every N accesses (--every)" },
		{ "every", CLI_COUNT, &every, "N", "timeline sample interval in accesses (default 100000)" },
		{ "maps-at", CLI_COUNT, &maps_at, "N", "print the maps of every process after event N" },
		{ "compare", CLI_STR, &cmp, "KEY=V1,V2,...", "replay once per value (in parallel) and "
							     "print the results side by side" },
		{ 0 },
	};
	int first, rc = cli_parse("replay", argc, argv, opts, &first, "TRACE [OPTIONS]",
				  "Replay a trace (lackey log, text, page list or .vmt; a file, - or\n"
				  ".gz) through a machine built from the settings (mode=meta unless\n"
				  "set): accesses through the MMU and TLBs, system calls through the\n"
				  "kernel at the addresses the trace returned, forks and execs as a\n"
				  "process tree.  Prints accesses, TLB misses, page walks, faults,\n"
				  "VSZ and RSS with their peaks, page-table memory, an estimated time\n"
				  "from a cost model, and where the accesses and faults went (text,\n"
				  "data, bss, heap, mmap, stack, each file).  docs/replay.md.\n\n"
				  "exit status: 0 replayed, 1 bad input (the trace, or an event the\n"
				  "model cannot replay: the message names it), 2 usage error.\n\n"
				  "examples:\n"
				  "  vmlab replay examples/traces/ls-l-usr-bin.vmt\n"
				  "  vmlab replay ls.vmt --compare thp=never,always\n"
				  "  vmlab replay ls.vmt --set tlb=skylake --timeline ls.csv --every 10000");
	if (rc == 0 && argc - first != 1) {
		cli_fail("replay", argc - first ? "one trace at a time" : "missing the trace (vmlab replay TRACE)");
		rc = CLI_USAGE;
	}
	if (rc == 0 && format && !vm_trace_format_find(format)) {
		cli_fail("replay", "--format: '%s' is not lackey, text, pages or vmt", format);
		rc = CLI_USAGE;
	}
	if (rc == 0 && every && !timeline) {
		cli_fail("replay", "--every needs --timeline");
		rc = CLI_USAGE;
	}
	if (rc == 0 && cmp && (timeline || maps_at)) {
		cli_fail("replay", "--compare cannot be combined with --timeline or --maps-at");
		rc = CLI_USAGE;
	}
	if (rc == 0 && cmp && strcmp(argv[first], "-") == 0) {
		cli_fail("replay", "--compare reads the trace once per value: name a file, not -");
		rc = CLI_USAGE;
	}
	struct vm_settings *s = rc == 0 ? cli_replay_settings(base) : NULL;
	if (rc == 0 && !s) {
		cli_fail("replay", "out of memory");
		rc = CLI_BADINPUT;
	}
	if (rc == 0) {
		struct cli_replay c = {
			.cmd = "replay", .path = argv[first],
			.topts = { .format = format, .maps = maps, .one_log = one_log },
			.settings = s, .lenient = lenient, .json = json, .timeline = timeline,
			.every = every ? every : 100000, .maps_at = maps_at, .progress = true,
		};
		rc = cmp ? compare(&c, cmp) : cli_replay_print(&c);
	}
	vmlab_settings_destroy(s);
	vmlab_settings_destroy(base);
	return rc;
}
