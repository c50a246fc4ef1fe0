/*
 * The lackey capture backend (capture.h): the program under Valgrind's
 * lackey tool with memory and system-call tracing, one log per process
 * image in the capture's directory, then the initial address maps from a
 * second, untraced `valgrind -d` run of the same command, as
 * ../shared/LACKEY.md (sections 1 and 4) prescribes:
 *
 *   valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes \
 *            --trace-children=yes --log-file=DIR/t.%p.%n.log PROGRAM ARGS
 *   valgrind -d --tool=lackey --trace-children=yes --log-file=/dev/null \
 *            PROGRAM ARGS 2> DIR/maps.stderr      (stdin, stdout: /dev/null)
 *
 * (-d in the traced run itself would make Valgrind own fd 2, and the
 * program's close(2) would fail.)  When the traced run left one log (no
 * child process), the maps run is stopped as soon as Valgrind has printed
 * the startup table ("Running thread 1"): the program does not run twice.
 * Otherwise it runs to its end, with no input, to print the table of each
 * program it execs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "trace/capture.h"

/* Tests point this at a stand-in to check the messages. */
#define VALGRIND_ENV "VMLAB_VALGRIND"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* argv for valgrind: its options, then the program's argv. */
static char **valgrind_argv(struct vm_capture *c, const char *valgrind, bool maps, char *logopt)
{
	size_t n = 0;
	while (c->o.argv[n])
		n++;
	char **v = calloc(n + 9, sizeof(*v));
	size_t i = 0;
	if (!v)
		return NULL;
	v[i++] = (char *)valgrind;
	if (maps)
		v[i++] = (char *)"-d";
	v[i++] = (char *)"--tool=lackey";
	if (!maps) {
		v[i++] = (char *)"--trace-mem=yes";
		v[i++] = (char *)"--trace-syscalls=yes";
	}
	v[i++] = (char *)"--trace-children=yes";
	v[i++] = logopt;
	v[i++] = c->program;
	for (size_t k = 1; k < n; k++)
		v[i++] = c->o.argv[k];
	return v;
}

/* fork + exec; fds < 0 are inherited.  The pid, or -errno. */
static pid_t spawn(char **argv, int in, int out, int errfd)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0)
			dup2(out, 1);
		if (errfd >= 0)
			dup2(errfd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static int count_logs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, "t.", 2) == 0 && len > 4 && strcmp(e->d_name + len - 4, ".log") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Wait for pid, watching the directory's size against the budget. */
static int watch(struct vm_capture *c, pid_t pid, int *status, struct vm_error *err)
{
	double start = now(), last = 0;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return vm_error_set(err, "waiting for valgrind: %s", strerror(errno)), -EIO;
		double t = now();
		if (t - last >= 0.25) {
			last = t;
			c->bytes = vm_capture_dir_bytes(c->dir);
			if (c->o.progress)
				c->o.progress(c->o.ctx, c->bytes, t - start);
			if (c->bytes > c->budget || (c->o.stop && *c->o.stop)) {
				bool stopped = c->o.stop && *c->o.stop;
				kill(pid, SIGKILL);
				waitpid(pid, status, 0);
				if (stopped)
					return vm_error_set(err, "the capture was interrupted"), -EINTR;
				return vm_error_set(err, "the capture's logs reached %llu MiB, its budget "
						    "(--max-log SIZE allows more; half the free space "
						    "at most): stopped", (unsigned long long)(c->bytes >> 20)),
				       -EFBIG;
			}
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* The maps run: its stderr into DIR/maps.stderr; stopped after the first
 * startup table when one process was traced. */
static int maps_run(struct vm_capture *c, const char *valgrind, struct vm_error *err)
{
	char path[PATH_MAX + 16], logopt[] = "--log-file=/dev/null";
	bool one = count_logs(c->dir) <= 1;
	int p[2], null = open("/dev/null", O_RDWR);
	snprintf(path, sizeof(path), "%s/maps.stderr", c->dir);
	FILE *out = fopen(path, "w");
	char **argv = valgrind_argv(c, valgrind, true, logopt);
	if (!out || !argv || null < 0 || pipe(p)) {
		if (out)
			fclose(out);
		free(argv);
		if (null >= 0)
			close(null);
		return vm_error_set(err, "cannot start the maps run: %s", strerror(errno)), -EIO;
	}
	pid_t pid = spawn(argv, null, null, p[1]);
	free(argv);
	close(null);
	close(p[1]);
	if (pid < 0) {
		fclose(out);
		close(p[0]);
		return vm_error_set(err, "cannot start valgrind: %s", strerror((int)-pid)), -EIO;
	}
	FILE *in = fdopen(p[0], "r");
	char line[4096];
	bool killed = false;
	uint64_t bytes = 0;
	while (in && fgets(line, sizeof(line), in)) {
		fputs(line, out);
		bytes += strlen(line);
		if (!killed && ((one && strstr(line, "Running thread 1")) || bytes > c->budget)) {
			kill(pid, SIGKILL);
			killed = true;
		}
	}
	if (in)
		fclose(in);
	else
		close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	if (fclose(out) != 0)
		return vm_error_set(err, "cannot write %s", path), -EIO;
	return 0;
}

static int lackey_run(struct vm_capture *c, struct vm_error *err)
{
	char valgrind[PATH_MAX], logopt[PATH_MAX + 32];
	const char *env = getenv(VALGRIND_ENV);
	int rc = vm_capture_which(env && *env ? env : "valgrind", valgrind, sizeof(valgrind));
	if (rc && env && *env)
		return vm_error_set(err, "%s=%s: %s", VALGRIND_ENV, env, rc == -EACCES ?
				    "not an executable file" : "no such program"), -ENOENT;
	if (rc)
		return vm_error_set(err, "valgrind is %s: vmlab trace needs it (Debian: apt-get install "
				    "valgrind)", rc == -EACCES ? "not executable" : "not installed (not in "
				    "$PATH)"), -ENOENT;
	snprintf(logopt, sizeof(logopt), "--log-file=%s/t.%%p.%%n.log", c->dir);
	char **argv = valgrind_argv(c, valgrind, false, logopt);
	if (!argv)
		return vm_error_set(err, "out of memory"), -ENOMEM;
	int out = -1;
	if (c->o.stdout_path && (out = open(c->o.stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0666)) < 0) {
		free(argv);
		return vm_error_set(err, "%s: %s", c->o.stdout_path, strerror(errno)), -EIO;
	}
	fflush(stdout);
	fflush(stderr);
	c->pid = spawn(argv, -1, out, -1);
	free(argv);
	if (out >= 0)
		close(out);
	if (c->pid < 0)
		return vm_error_set(err, "cannot start valgrind: %s", strerror((int)-c->pid)), -EIO;
	rc = watch(c, c->pid, &c->wait_status, err);
	if (rc)
		return rc;
	if (c->o.stop && *c->o.stop)
		return vm_error_set(err, "the capture was interrupted"), -EINTR;
	char first[PATH_MAX + 32];
	snprintf(first, sizeof(first), "%s/t.%d.1.log", c->dir, (int)c->pid);
	if (access(first, R_OK) != 0) {
		int code = WIFEXITED(c->wait_status) ? WEXITSTATUS(c->wait_status) : -1;
		return vm_error_set(err, "%s: valgrind could not run it (exit status %d, no log)",
				    c->o.argv[0], code), -EIO;
	}
	rc = maps_run(c, valgrind, err);
	c->bytes = vm_capture_dir_bytes(c->dir);
	return rc;
}

static int lackey_open(struct vm_capture *c, struct vm_trace **t, struct vm_error *err)
{
	char first[PATH_MAX + 32], maps[PATH_MAX + 16];
	snprintf(first, sizeof(first), "%s/t.%d.1.log", c->dir, (int)c->pid);
	snprintf(maps, sizeof(maps), "%s/maps.stderr", c->dir);
	/* The reader keeps the path for its messages. */
	char *keep = realloc(c->priv, strlen(maps) + 1);
	if (!keep)
		return vm_error_set(err, "out of memory"), -ENOMEM;
	c->priv = keep;
	strcpy(keep, maps);
	const struct vm_trace_opts o = { .format = "lackey", .maps = keep };
	return vm_trace_open(first, &o, t, err);
}

const struct capture_ops vm_capture_lackey_ops = {
	.name = "lackey",
	.desc = "Valgrind's lackey tool: --trace-mem=yes --trace-syscalls=yes --trace-children=yes",
	.run = lackey_run,
	.open = lackey_open,
};
