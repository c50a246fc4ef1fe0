/*
 * The capture backend "vgtool" (capture.h): the program runs under
 * vmlab's own Valgrind tool (capture_vgtool.c, docs/vgtool.md) and the
 * trace is replayed while it runs.  A thread joins the tool's per-process
 * files (vm_vgtool_finish) into a pipe; the trace open hands out reads
 * the other end, so replay is the join's consumer and runs on the second
 * CPU beside Valgrind.  The pipe is the only buffer between them (1 MiB
 * at most): when replay lags, the join waits and the tool's files wait on
 * disk, watched against the capture's budget, their blocks freed as joined.
 * vmlab trace prefers this backend and falls back to lackey when the tool
 * or Valgrind cannot be found or cannot start (cmd_trace.c).
 *
 * The replay sees the same bytes as a file written by the same join, so
 * its result is that of `vmlab replay` of the saved trace.
 */
#define _GNU_SOURCE           /* F_SETPIPE_SZ */
#include "trace/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "trace/capture_vgtool.h"

#define PIPE_BYTES (1 << 20)

/* The capture under way: c->priv. */
struct stream {
	struct vm_vgtool_run *run;        /* until the join thread takes it */
	FILE *w;                          /* the pipe's write end: the join's output */
	int rfd;                          /* its read end, until open hands it to the trace */
	int drain_fd;                     /* a second descriptor of the read end, for wait */
	pthread_t thread;
	bool started;                     /* the join thread runs (or ran, not joined yet) */
	int saved_stdout;                 /* --stdout: vmlab's own standard output, or -1 */
	int rc;                           /* the join thread's result */
	struct vm_error err;
	struct vm_vgtool_result res;
};

/* The program's standard output onto path, for the capture's time (the
 * tool's capture gives the program the caller's descriptors). */
static int redirect_stdout(const char *path, int *saved, struct vm_error *err)
{
	*saved = -1;
	if (!path)
		return 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		return vm_error_set(err, "%s: %s", path, strerror(errno)), -EIO;
	fflush(stdout);
	*saved = dup(1);
	if (*saved < 0 || dup2(fd, 1) < 0) {
		int e = errno;
		close(fd);
		if (*saved >= 0)
			close(*saved);
		*saved = -1;
		return vm_error_set(err, "%s: %s", path, strerror(e)), -EIO;
	}
	close(fd);
	return 0;
}

static void restore_stdout(int *saved)
{
	if (*saved < 0)
		return;
	dup2(*saved, 1);
	close(*saved);
	*saved = -1;
}

static void *join_thread(void *arg)
{
	struct stream *s = arg;
	/* A reader gone (it never is: wait drains) must not kill vmlab. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	s->rc = vm_vgtool_finish(s->run, s->w, &s->res, &s->err);
	s->run = NULL;
	if (fclose(s->w) != 0 && s->rc == 0) {
		vm_error_set(&s->err, "cannot write the trace into the pipe: %s", strerror(errno));
		s->rc = -EIO;
	}
	s->w = NULL;
	return NULL;
}

/* The pipe and the join thread.  0, or -errno with err (the run is then
 * finished here, its trace thrown away). */
static int stream_start(struct stream *s, struct vm_error *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return vm_error_set(err, "pipe: %s", strerror(errno)), -EIO;
	/* A larger pipe: fewer switches between the join and replay. */
	fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);
	s->rfd = p[0];
	s->drain_fd = dup(p[0]);
	s->w = fdopen(p[1], "wb");
	if (s->drain_fd < 0 || !s->w) {
		if (!s->w)
			close(p[1]);
		return vm_error_set(err, "pipe: %s", strerror(errno)), -EIO;
	}
	int e = pthread_create(&s->thread, NULL, join_thread, s);
	if (e) {
		fclose(s->w);
		s->w = NULL;
		return vm_error_set(err, "cannot start a thread: %s", strerror(e)), -e;
	}
	s->started = true;
	return 0;
}

static int tool_run(struct vm_capture *c, struct vm_error *err)
{
	const char *env = getenv("VMLAB_VALGRIND");
	struct vm_vgtool_opts o = { .valgrind = env && *env ? env : NULL, .work_dir = c->dir,
				    .keep = c->o.keep, .max_disk = c->budget };
	struct stream *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return vm_error_set(err, "out of memory"), -ENOMEM;
	s->rfd = s->drain_fd = s->saved_stdout = -1;
	free(c->priv);
	c->priv = s;
	if ((rc = redirect_stdout(c->o.stdout_path, &s->saved_stdout, err)))
		return rc;
	fflush(stderr);
	rc = vm_vgtool_start(c->o.argv, &o, &s->run, err);
	if (rc == 0 && (rc = stream_start(s, err))) {
		/* No pipe, no thread: let the program run to its end untraced
		 * rather than kill it. */
		FILE *null = fopen("/dev/null", "wb");
		struct vm_error e2 = { 0 };
		if (null) {
			vm_vgtool_finish(s->run, null, &s->res, &e2);
			fclose(null);
		}
		s->run = NULL;
	}
	if (rc) {
		restore_stdout(&s->saved_stdout);
		if (s->rfd >= 0)
			close(s->rfd);
		if (s->drain_fd >= 0)
			close(s->drain_fd);
		s->rfd = s->drain_fd = -1;
		c->waited = true;       /* nothing to wait for */
	}
	return rc;
}

static int tool_open(struct vm_capture *c, struct vm_trace **t, struct vm_error *err)
{
	struct stream *s = c->priv;
	char name[PATH_MAX + 32];
	if (!s || s->rfd < 0)
		return vm_error_set(err, "the capture's trace was opened already"), -EINVAL;
	snprintf(name, sizeof(name), "%s/trace.vmt", c->dir);
	const struct vm_trace_opts o = { .format = "vmt" };
	int fd = s->rfd;
	s->rfd = -1;
	int rc = vm_trace_open_fd(fd, name, &o, t, err);
	/* A capture that failed leaves a trace too short to open: its own
	 * error says why. */
	if (rc && vm_capture_wait(c, NULL))
		*err = c->wait_err;
	return rc;
}

static int tool_wait(struct vm_capture *c, struct vm_error *err)
{
	struct stream *s = c->priv;
	char buf[1 << 16];
	if (!s)
		return 0;
	/* What replay did not read: the program goes on to its end. */
	while (s->drain_fd >= 0) {
		ssize_t k = read(s->drain_fd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			close(s->drain_fd);
			s->drain_fd = -1;
		}
	}
	if (s->rfd >= 0) {
		close(s->rfd);
		s->rfd = -1;
	}
	if (s->started) {
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	restore_stdout(&s->saved_stdout);
	if (s->rc) {
		*err = s->err;
		return s->rc;
	}
	c->pid = s->res.pid;
	c->wait_status = s->res.exited ? (s->res.exit_code & 0xff) << 8 : s->res.term_signal & 0x7f;
	c->bytes = s->res.stream_bytes;
	if (s->res.truncated)
		snprintf(c->note, sizeof(c->note), "%s", s->res.note);
	return 0;
}

const struct capture_ops vm_capture_vgtool_ops = {
	.name = "vgtool",
	.desc = "vmlab's own Valgrind tool (docs/vgtool.md): vmt written by the tool, replayed "
		"while the program runs",
	.run = tool_run,
	.open = tool_open,
	.wait = tool_wait,
};
