/*
 * The capture backend "vgtool" (capture.h): the program runs under
 * vmlab's own Valgrind tool (capture_vgtool.c, docs/vgtool.md), whose
 * joined trace goes to a plain vmt file in the capture's folder, then is
 * opened as any vmt.  vmlab trace prefers it and falls back to lackey
 * when the tool or Valgrind cannot be found (cmd_trace.c).
 *
 * Not carried over from the lackey backend: the byte budget (the tool
 * writes runs, 28-64x less than lackey's logs) and the progress line.
 */
#include "trace/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "trace/capture_vgtool.h"

static void trace_path(const struct vm_capture *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s/trace.vmt", c->dir);
}

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

static void restore_stdout(int saved)
{
	if (saved < 0)
		return;
	dup2(saved, 1);
	close(saved);
}

static int tool_run(struct vm_capture *c, struct vm_error *err)
{
	char path[PATH_MAX + 16];
	const char *env = getenv("VMLAB_VALGRIND");
	struct vm_vgtool_opts o = { .valgrind = env && *env ? env : NULL, .work_dir = c->dir,
				    .keep = c->o.keep };
	struct vm_vgtool_result *res = calloc(1, sizeof(*res));
	int saved, rc;

	if (!res)
		return vm_error_set(err, "out of memory"), -ENOMEM;
	free(c->priv);
	c->priv = res;
	trace_path(c, path, sizeof(path));
	FILE *out = fopen(path, "wb");
	if (!out)
		return vm_error_set(err, "cannot write %s: %s", path, strerror(errno)), -EIO;
	if ((rc = redirect_stdout(c->o.stdout_path, &saved, err))) {
		fclose(out);
		return rc;
	}
	fflush(stderr);
	rc = vm_vgtool_capture(c->o.argv, &o, out, res, err);
	restore_stdout(saved);
	if (fclose(out) != 0 && rc == 0) {
		vm_error_set(err, "cannot write %s", path);
		rc = -EIO;
	}
	if (rc)
		return rc;
	c->pid = res->pid;
	c->wait_status = res->exited ? (res->exit_code & 0xff) << 8 : res->term_signal & 0x7f;
	c->bytes = vm_capture_dir_bytes(c->dir);
	if (res->truncated)
		snprintf(c->note, sizeof(c->note), "%s", res->note);
	return 0;
}

static int tool_open(struct vm_capture *c, struct vm_trace **t, struct vm_error *err)
{
	char path[PATH_MAX + 16];
	trace_path(c, path, sizeof(path));
	const struct vm_trace_opts o = { .format = "vmt" };
	return vm_trace_open(path, &o, t, err);
}

const struct capture_ops vm_capture_vgtool_ops = {
	.name = "vgtool",
	.desc = "vmlab's own Valgrind tool (docs/vgtool.md): vmt written by the tool",
	.run = tool_run,
	.open = tool_open,
};
