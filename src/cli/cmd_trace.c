/*
 * vmlab trace [OPTIONS] -- PROGRAM ARGS: run a program under a capture
 * backend (vmlab's own Valgrind tool, src/trace/capture_tool.c, or
 * Valgrind's lackey tool, src/trace/capture_lackey.c), replay what it did
 * (while it runs with the tool; after it ends with lackey), and print the
 * replay summary (docs/replay.md).
 * --backend auto (the default) takes the tool and falls back to lackey
 * when the tool or Valgrind cannot be found or cannot start; the backend
 * used is said on stderr and named in the summary.  --save keeps the
 * trace as .vmt.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/replay_cli.h"
#include "trace/capture.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void capture_progress(void *ctx, uint64_t bytes, double seconds)
{
	const char *prog = ctx;
	fprintf(stderr, "\rvmlab trace: %s under valgrind: %" PRIu64 " MiB of log, %.1f s ", prog,
		bytes >> 20, seconds);
}

/* "PROGRAM ARG ..." for the summary's title. */
static void title_of(char **argv, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; argv[i] && o + 1 < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? " " : "", argv[i]);
	if (o >= len && len > 4)
		strcpy(buf + len - 4, "...");
}

/* The writer of --save, onto a file beside out renamed at the end. */
struct save {
	char *tmp;
	FILE *f;
	struct vm_trace_writer *w;
};

static int save_begin(struct save *sv, const char *out)
{
	size_t n = strlen(out) + 32;
	sv->tmp = malloc(n);
	if (!sv->tmp)
		return -ENOMEM;
	snprintf(sv->tmp, n, "%s.tmp%ld", out, (long)getpid());
	sv->f = fopen(sv->tmp, "wb");
	if (!sv->f || vm_trace_writer_create("vmt", sv->f, true, 6, &sv->w)) {
		cli_fail("trace", "--save: %s: cannot write: %s", out, strerror(errno));
		return -EIO;
	}
	return 0;
}

static int save_end(struct save *sv, const char *out, bool keep)
{
	int rc = 0;
	if (sv->w && keep && vm_trace_writer_end(sv->w))
		rc = -EIO;
	vm_trace_writer_destroy(sv->w);
	if (sv->f && fclose(sv->f) != 0)
		rc = -EIO;
	if (keep && rc == 0 && rename(sv->tmp, out) != 0)
		rc = -errno;
	if (!keep || rc)
		remove(sv->tmp);
	if (keep && rc)
		cli_fail("trace", "--save: %s: cannot write: %s", out, strerror(-rc));
	free(sv->tmp);
	return rc;
}

/* SIGINT and SIGTERM stop a capture (the lackey backend watches
 * stop_flag) for the time it runs: until run returns, or for a capture
 * that replays as the program runs, until it has ended. */
struct sigs {
	struct sigaction old_int, old_term;
	bool set;
};

static void sigs_catch(struct sigs *g)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &g->old_int);
	sigaction(SIGTERM, &sa, &g->old_term);
	g->set = true;
}

static void sigs_restore(struct sigs *g)
{
	if (!g->set)
		return;
	sigaction(SIGINT, &g->old_int, NULL);
	sigaction(SIGTERM, &g->old_term, NULL);
	g->set = false;
}

/* Make and run a capture with backend; 0 with *out, or the capture's
 * negative errno with err filled (nothing printed).  *made: the capture
 * was made (what failed, if anything, is the backend's run). */
static int capture_with(const char *backend, const struct vm_capture_opts *co, struct sigs *g,
			struct vm_capture **out, bool *made, struct vm_error *err)
{
	int rc = vm_capture_create(backend, co, out, err);
	*made = rc == 0;
	if (rc)
		return rc;
	fprintf(stderr, "vmlab trace: capturing with %s\n", strcmp(backend, "vgtool") == 0 ?
		"vmlab's Valgrind tool (vgtool)" : "Valgrind's lackey tool (lackey)");
	sigs_catch(g);
	rc = vm_capture_run(*out, err);
	if (co->progress)
		fputs("\r\033[K", stderr);
	if (rc || !vm_capture_streams(*out))
		sigs_restore(g);
	if (rc) {
		vm_capture_destroy(*out);
		*out = NULL;
	}
	return rc;
}

/* auto: the tool, unless it or Valgrind cannot be found (-ENOENT) or
 * Valgrind could not start it (-EINVAL): the program has not run then,
 * and lackey runs it instead. */
static int capture_auto(const char *backend, const struct vm_capture_opts *co, struct sigs *g,
			struct vm_capture **out, struct vm_error *err)
{
	bool made;
	if (strcmp(backend, "auto") != 0)
		return capture_with(backend, co, g, out, &made, err);
	int rc = capture_with("vgtool", co, g, out, &made, err);
	/* What the capture could not make (the program missing, no
	 * temporary folder) would fail lackey alike: say it once. */
	if (!made || (rc != -ENOENT && rc != -EINVAL))
		return rc;
	char prog[PATH_MAX];
	if (vm_capture_which(co->argv[0], prog, sizeof(prog)))
		return rc;
	fprintf(stderr, "vmlab trace: vmlab's Valgrind tool cannot run (%s): using lackey\n",
		err->msg);
	memset(err, 0, sizeof(*err));
	return capture_with("lackey", co, g, out, &made, err);
}

/* How the program ended, on stderr. */
static void say_end(const struct vm_capture *cap)
{
	const char *prog = cap->o.argv[0];
	bool streams = vm_capture_streams(cap);
	if (cap->note[0])
		fprintf(stderr, "vmlab trace: warning: %s\n", cap->note);
	if (WIFEXITED(cap->wait_status))
		fprintf(stderr, "vmlab trace: %s exited with status %d; %" PRIu64 " MiB of %s %s\n",
			prog, WEXITSTATUS(cap->wait_status), cap->bytes >> 20,
			strcmp(cap->ops->name, "lackey") == 0 ? "lackey logs" : "trace",
			streams ? "replayed as it ran" : "to replay");
	else if (WIFSIGNALED(cap->wait_status))
		fprintf(stderr, "vmlab trace: %s was killed by signal %d\n", prog,
			WTERMSIG(cap->wait_status));
	if (cap->o.keep)
		fprintf(stderr, "vmlab trace: the %s stay in %s\n", streams ? "tool's files" : "logs",
			cap->dir);
}

/* The replay has read the trace: the program's end (cli_replay.capture_end). */
static int capture_end(const struct cli_replay *c)
{
	struct vm_error err = { 0 };
	if (!vm_capture_streams(c->capture))
		return 0;
	int rc = vm_capture_wait(c->capture, &err);
	if (rc) {
		cli_fail("trace", "%s%s", err.msg, rc == -EFBIG ? " (--max-log SIZE allows more; half "
			 "the free space at most)" : "");
		return 1;
	}
	say_end(c->capture);
	return 0;
}

static int trace_run(char **prog, const struct cli_replay *base, const struct vm_capture_opts *co,
		     const char *backend, const char *save_path)
{
	struct vm_capture *cap = NULL;
	struct vm_error err = { 0 };
	struct save sv = { 0 };
	struct sigs g = { 0 };
	char title[512];
	int status;

	int rc = capture_auto(backend, co, &g, &cap, &err);
	if (rc) {
		cli_fail("trace", "%s", err.msg);
		return rc == -EINTR ? 130 : CLI_BADINPUT;
	}
	if (!vm_capture_streams(cap))
		say_end(cap);
	title_of(prog, title, sizeof(title));
	struct cli_replay c = *base;
	c.capture = cap;
	c.title = title;
	c.capture_end = capture_end;
	if (save_path && save_begin(&sv, save_path)) {
		save_end(&sv, save_path, false);
		vm_capture_destroy(cap);
		sigs_restore(&g);
		return CLI_USAGE;
	}
	c.tee = sv.w;
	status = cli_replay_print(&c);
	if (save_path && save_end(&sv, save_path, status == 0) && status == 0)
		status = CLI_BADINPUT;
	vm_capture_destroy(cap);
	sigs_restore(&g);
	return status;
}

int cmd_trace(int argc, char **argv)
{
	struct vm_settings *base = vmlab_settings_create();
	const char *timeline = NULL, *save = NULL, *tmpdir = NULL, *prog_out = NULL;
	const char *backend = "auto";
	bool json = false, lenient = false, keep = false;
	uint64_t every = 0, maps_at = 0, max_log = 0;
	if (!base) {
		cli_fail("trace", "out of memory");
		return CLI_BADINPUT;
	}
	const struct cli_opt opts[] = {
		{ "backend", CLI_STR, &backend, "vgtool|lackey|auto", "the capture: vmlab's Valgrind tool, "
			"Valgrind's lackey, or the tool when it runs, else lackey (default auto)" },
		{ "set", CLI_SET, base, "KEY=VALUE", "change a setting of the replay (vmlab config)" },
		{ "config", CLI_CONFIG, base, "FILE", "read settings from a file" },
		{ "save", CLI_STR, &save, "FILE.vmt", "keep the trace in vmlab's format" },
		{ "lenient", CLI_FLAG, &lenient, NULL, "skip and count what cannot be replayed" },
		{ "json", CLI_FLAG, &json, NULL, "print the summary as JSON" },
		{ "timeline", CLI_STR, &timeline, "FILE.csv", "RSS, VSZ, faults, TLB misses every N accesses" },
		{ "every", CLI_COUNT, &every, "N", "timeline sample interval in accesses (default 100000)" },
		{ "maps-at", CLI_COUNT, &maps_at, "N", "print the maps of every process after event N" },
		{ "max-log", CLI_SIZE, &max_log, "SIZE", "most bytes the capture's files may hold on "
							 "disk (default 4G, at most half the free space)" },
		{ "tmpdir", CLI_STR, &tmpdir, "DIR", "where the logs go while they are replayed "
						     "(default $TMPDIR or /tmp)" },
		{ "keep", CLI_FLAG, &keep, NULL, "keep the capture's logs (their folder is printed)" },
		{ "stdout", CLI_STR, &prog_out, "FILE", "the program's standard output goes to FILE "
							"(default: vmlab's, before the summary)" },
		{ 0 },
	};
	int first, rc = cli_parse("trace", argc, argv, opts, &first, "[OPTIONS] -- PROGRAM [ARGS]",
				  "Run PROGRAM under Valgrind, children included, replay the capture\n"
				  "through the model (while it runs with the tool, after it ends with\n"
				  "lackey) and print the summary of vmlab replay; a progress line on a\n"
				  "terminal shows events and events/s as it goes.\n"
				  "--backend vgtool: vmlab's own Valgrind tool (docs/vgtool.md), which\n"
				  "writes vmt directly; it is looked for in $VMLAB_VGTOOL_DIR, else\n"
				  "vgtool/ beside the vmlab program (the build tree), else\n"
				  "../libexec/vmlab/ beside it (make install).  --backend lackey:\n"
				  "Valgrind's lackey tool (memory and system-call tracing; the initial\n"
				  "address map from a second, untraced `valgrind -d` run).  Either\n"
				  "stops if its files on disk outgrow --max-log.  --backend auto (the\n"
				  "default): the tool, or lackey when the tool or Valgrind cannot be\n"
				  "found or started; stderr says which, the summary names it.  What\n"
				  "the capture writes goes to a temporary folder removed at the end.\n"
				  "The program's input and output are vmlab's (--stdout FILE sends its\n"
				  "output elsewhere).  docs/replay.md.\n\n"
				  "exit status: 0 replayed, 1 the capture or the replay failed (no\n"
				  "valgrind, a program that cannot start, a bad trace), 2 usage error,\n"
				  "130 interrupted.\n\n"
				  "example: vmlab trace -- ls -l /usr/bin");
	if (rc == 0 && first >= argc) {
		cli_fail("trace", "missing the program (vmlab trace [OPTIONS] -- PROGRAM ARGS)");
		rc = CLI_USAGE;
	}
	if (rc == 0 && every && !timeline) {
		cli_fail("trace", "--every needs --timeline");
		rc = CLI_USAGE;
	}
	if (rc == 0 && strcmp(backend, "vgtool") && strcmp(backend, "lackey") &&
	    strcmp(backend, "auto")) {
		cli_fail("trace", "--backend: '%s': not vgtool, lackey or auto", backend);
		rc = CLI_USAGE;
	}
	struct vm_settings *s = rc == 0 ? cli_replay_settings(base) : NULL;
	if (rc == 0 && !s) {
		cli_fail("trace", "out of memory");
		rc = CLI_BADINPUT;
	}
	if (rc == 0) {
		const struct cli_replay c = {
			.cmd = "trace", .path = argv[first], .settings = s, .lenient = lenient,
			.json = json, .timeline = timeline, .every = every ? every : 100000,
			.maps_at = maps_at, .progress = true,
		};
		const struct vm_capture_opts co = {
			.argv = argv + first, .tmpdir = tmpdir, .max_bytes = max_log, .keep = keep,
			.stdout_path = prog_out,
			.progress = isatty(2) ? capture_progress : NULL, .ctx = argv[first],
			.stop = &stop_flag,
		};
		rc = trace_run(argv + first, &c, &co, backend, save);
	}
	vmlab_settings_destroy(s);
	vmlab_settings_destroy(base);
	return rc;
}
