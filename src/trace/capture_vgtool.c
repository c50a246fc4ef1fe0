/*
 * Capturing with vmlab's Valgrind tool (capture_vgtool.h, docs/vgtool.md):
 * find the tool, Valgrind and the program; run `valgrind --tool=vmlab` on
 * it with the tool's files in a work directory; join them while it runs
 * (capture_join.c), so that compressing the trace takes the second CPU
 * rather than time after the run.
 */
#define _GNU_SOURCE           /* fopencookie */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <dirent.h>
#include <unistd.h>

#include "base/error.h"
#include "trace/capture.h"
#include "trace/capture_vgtool.h"

#define TOOL_NAME "vmlab-amd64-linux"

extern char **environ;

/* Is path an executable regular file? 0, -ENOENT, -EACCES. */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -ENOENT;
	if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
		return -EACCES;
	return 0;
}

/* name as execvp finds it (a name with '/' is itself) into buf.  0,
 * -ENOENT, -EACCES (found, but nothing executable of that name). */
static int find_program(const char *name, char *buf, size_t len)
{
	if (strchr(name, '/')) {
		snprintf(buf, len, "%s", name);
		return executable(name);
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int rc = -ENOENT;
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);
		snprintf(buf, len, "%.*s%s%s", (int)n, path, n ? "/" : "", name);
		int r = executable(buf);
		if (r == 0)
			return 0;
		if (r == -EACCES)
			rc = -EACCES;
		path += n + (colon ? 1 : 0);
	}
	return rc;
}

static bool has_tool(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/%s", dir, TOOL_NAME);
	return executable(p) == 0;
}

int vm_vgtool_find(char *buf, size_t len, struct vm_error *err)
{
	if (!buf || len == 0)
		return vm_error_set(err, "vm_vgtool_find: no buffer");
	const char *env = getenv("VMLAB_VGTOOL_DIR");
	if (env && *env) {
		snprintf(buf, len, "%s", env);
		if (has_tool(buf))
			return 0;
		vm_error_set(err, "VMLAB_VGTOOL_DIR=%s holds no %s", env, TOOL_NAME);
		return -ENOENT;
	}
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/vgtool", exe);
			if (has_tool(buf))
				return 0;
			snprintf(buf, len, "%s/../libexec/vmlab", exe);
			if (has_tool(buf))
				return 0;
		}
	}
	vm_error_set(err, "vmlab's Valgrind tool is not built (make vgtool): no %s in vgtool/ or "
		     "../libexec/vmlab/ beside %s; VMLAB_VGTOOL_DIR names another place", TOOL_NAME,
		     n > 0 ? exe : "vmlab");
	return -ENOENT;
}

/* Running. */

/* argv for valgrind (NULL-terminated, allocated; *out too). */
static char **valgrind_argv(const char *valgrind, const char *prefix, const struct vm_vgtool_opts *o,
			    char *const argv[], char **outp)
{
	size_t n = 0;
	while (argv[n])
		n++;
	char **v = calloc(n + 8, sizeof(*v));
	char *out = malloc(strlen(prefix) + 16);
	if (!v || !out) {
		free(v);
		free(out);
		return NULL;
	}
	*outp = out;
	sprintf(out, "--vmt-out=%s", prefix);
	size_t k = 0;
	v[k++] = (char *)valgrind;
	v[k++] = "--tool=vmlab";
	v[k++] = "-q";
	v[k++] = o->no_children ? "--trace-children=no" : "--trace-children=yes";
	v[k++] = out;
	if (o->exact)
		v[k++] = "--vmt-exact=yes";
	for (size_t i = 0; i < n; i++)
		v[k++] = argv[i];
	v[k] = NULL;
	return v;
}

/* The environment plus VALGRIND_LIB=dir (allocated; the strings are shared). */
static char **valgrind_env(const char *dir, char **lib)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **e = calloc(n + 2, sizeof(*e));
	*lib = malloc(strlen(dir) + 16);
	if (!e || !*lib) {
		free(e);
		free(*lib);
		return NULL;
	}
	sprintf(*lib, "VALGRIND_LIB=%s", dir);
	size_t k = 0;
	e[k++] = *lib;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "VALGRIND_LIB=", 13) != 0)
			e[k++] = environ[i];
	e[k] = NULL;
	return e;
}

/* Fork and exec valgrind.  0 and *pid, or -errno (err). */
static int spawn_valgrind(const char *valgrind, char **argv, char **envp, pid_t *pid,
			  struct vm_error *err)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return vm_error_set(err, "pipe: %s", strerror(errno)), -EIO;
	/* The write end closes on a successful exec: EOF says it worked. */
	fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
	fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
	long maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	*pid = fork();
	if (*pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		/* The program starts with the caller's standard descriptors only,
		 * as from a shell (the trace's descriptor numbers are then the
		 * native run's). */
		for (int fd = 3; fd < maxfd; fd++)
			if (fd != pfd[1])
				close(fd);
		execve(valgrind, argv, envp);
		int e = errno;
		ssize_t w = write(pfd[1], &e, sizeof(e));
		(void)w;
		_exit(127);
	}
	int rc = 0;
	if (*pid < 0) {
		rc = -errno;
		vm_error_set(err, "fork: %s", strerror(errno));
	}
	close(pfd[1]);
	int e;
	if (rc == 0 && read(pfd[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		rc = -e;
		vm_error_set(err, "cannot run %s: %s", valgrind, strerror(e));
		while (waitpid(*pid, &e, 0) < 0 && errno == EINTR)
			;
	}
	close(pfd[0]);
	return rc;
}

/* What the join asks while the capture runs. */
struct live {
	pid_t root;
	bool root_done;
	int status;
	struct timespec root_end;
	int grace_ms;
	const char *dir;          /* the work directory, watched against max_disk */
	uint64_t max_disk;        /* most bytes of files in dir; 0: no limit */
	struct timespec checked;  /* when dir was last measured */
	uint64_t disk;            /* its bytes then */
	bool over;                /* max_disk was passed: the processes were killed */
};

static long ms_since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static bool root_running(struct live *l)
{
	if (!l->root_done) {
		pid_t r = waitpid(l->root, &l->status, WNOHANG);
		if (r == l->root || (r < 0 && errno == ECHILD)) {
			l->root_done = true;
			clock_gettime(CLOCK_MONOTONIC, &l->root_end);
		}
	}
	return !l->root_done;
}

/* Does process pid run (not a zombie)? */
static bool pid_running(int32_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* Does process pid run the tool? */
static bool runs_tool(int32_t pid)
{
	char proc[64], exe[4096];
	snprintf(proc, sizeof(proc), "/proc/%d/exe", pid);
	ssize_t n = readlink(proc, exe, sizeof(exe) - 1);
	if (n < (ssize_t)strlen(TOOL_NAME))
		return false;
	exe[n] = '\0';
	return strcmp(exe + n - strlen(TOOL_NAME), TOOL_NAME) == 0;
}

/* Kill the first process and every process that has a file in dir and
 * still runs the tool: the capture stops where it is. */
static void kill_all(struct live *l)
{
	kill(l->root, SIGKILL);
	DIR *d = opendir(l->dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		int pid;
		if (sscanf(e->d_name, "t.%d.", &pid) == 1 && pid > 0 && pid != l->root &&
		    runs_tool(pid))
			kill(pid, SIGKILL);
	}
	if (d)
		closedir(d);
}

/* Have the files in the work directory passed max_disk?  Measured at most
 * every 200 ms; once over, the processes are killed and it stays true. */
static bool disk_over(struct live *l)
{
	if (l->over || !l->max_disk || ms_since(&l->checked) < 200)
		return l->over;
	clock_gettime(CLOCK_MONOTONIC, &l->checked);
	l->disk = vm_capture_dir_bytes(l->dir);
	if (l->disk > l->max_disk) {
		l->over = true;
		kill_all(l);
	}
	return l->over;
}

/* May pid still write?  The first process while it runs; the others while
 * they run, but no longer than the grace time after the first ended. */
static bool alive(void *ctx, int32_t pid)
{
	struct live *l = ctx;
	bool root = root_running(l);
	if (disk_over(l))
		return false;
	if (pid == l->root)
		return root;
	if (!root && ms_since(&l->root_end) > l->grace_ms)
		return false;
	return pid_running(pid);
}

/* Writing into a pipe: while the reader lags, the disk is watched (the
 * tool goes on writing its files while the join waits).  The pipe is
 * non-blocking: write(2) takes what fits, poll(2) waits for room at most
 * 200 ms at a time. */
struct pipe_out {
	int fd;
	struct live *l;
};

static ssize_t pipe_write(void *cookie, const char *buf, size_t n)
{
	struct pipe_out *p = cookie;
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(p->fd, buf + done, n - done);
		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EINTR && errno != EAGAIN)
			return -1;
		struct pollfd pfd = { .fd = p->fd, .events = POLLOUT };
		if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
			return -1;
		if (disk_over(p->l)) {
			errno = EFBIG;
			return -1;
		}
	}
	return (ssize_t)n;
}

/* Remove the capture's files (PREFIX.*.vmt) from dir. */
static void remove_files(const char *dir, const char *base)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t n = strlen(base);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, base, n) == 0 && e->d_name[n] == '.' && len > 4 &&
		    strcmp(e->d_name + len - 4, ".vmt") == 0)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

struct vm_vgtool_run {
	struct vm_vgtool_opts opts;
	const char *prog;            /* argv[0], for messages */
	char work_dir[4096];
	bool made_dir;
	char prefix[4200];
	struct live l;
	struct sigaction old_int, old_quit;
};

/* Clean up after a capture and free run. */
static void run_free(struct vm_vgtool_run *run)
{
	sigaction(SIGINT, &run->old_int, NULL);
	sigaction(SIGQUIT, &run->old_quit, NULL);
	if (!run->opts.keep) {
		remove_files(run->work_dir, "t");
		if (run->made_dir)
			rmdir(run->work_dir);
	}
	free(run);
}

/* Wait until the first process's file exists (the tool has started) or the
 * process has ended.  0, or -EINVAL: Valgrind never started the tool. */
static int wait_for_tool(struct vm_vgtool_run *run, struct vm_error *err)
{
	size_t n = strlen(run->prefix) + 48;
	char *path = malloc(n);
	if (!path)
		return vm_error_set(err, "out of memory"), -ENOMEM;
	snprintf(path, n, "%s.%d.1.vmt", run->prefix, (int)run->l.root);
	bool started;
	while (!(started = access(path, F_OK) == 0) && root_running(&run->l)) {
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	started = started || access(path, F_OK) == 0;
	free(path);
	if (started)
		return 0;
	/* Valgrind stopped before the tool started (a bad interpreter...). */
	vm_error_set(err, "Valgrind could not start %s (its message is above): no trace", run->prog);
	return -EINVAL;
}

/* The checks of vm_vgtool_capture: the tool, valgrind and the program,
 * into tool and valgrind.  0, or -ENOENT/-EACCES with err. */
static int find_all(char *const argv[], const struct vm_vgtool_opts *opts, char *tool,
		    char *valgrind, size_t len, struct vm_error *err)
{
	char prog[4096];
	int rc;
	if (opts->tool_dir) {
		snprintf(tool, len, "%s", opts->tool_dir);
		if (!has_tool(tool)) {
			vm_error_set(err, "%s holds no %s (make vgtool)", tool, TOOL_NAME);
			return -ENOENT;
		}
	} else if ((rc = vm_vgtool_find(tool, len, err))) {
		return rc;
	}
	if (find_program(opts->valgrind ? opts->valgrind : "valgrind", valgrind, len)) {
		vm_error_set(err, "valgrind is not installed: %s not found%s",
			     opts->valgrind ? opts->valgrind : "valgrind",
			     opts->valgrind ? "" : " in $PATH");
		return -ENOENT;
	}
	if ((rc = find_program(argv[0], prog, sizeof(prog)))) {
		vm_error_set(err, "%s: %s", argv[0], rc == -EACCES ? "not an executable file"
				  : strchr(argv[0], '/') ? "no such file" : "command not found");
		return rc;
	}
	return 0;
}

int vm_vgtool_start(char *const argv[], const struct vm_vgtool_opts *opts,
		    struct vm_vgtool_run **out, struct vm_error *err)
{
	if (!argv || !argv[0] || !argv[0][0] || !opts || !out)
		return vm_error_set(err, "vm_vgtool_start: no program");
	*out = NULL;
	char tool[4096], valgrind[4096];
	int rc = find_all(argv, opts, tool, valgrind, sizeof(tool), err);
	if (rc)
		return rc;
	struct vm_vgtool_run *run = calloc(1, sizeof(*run));
	if (!run)
		return vm_error_set(err, "out of memory"), -ENOMEM;
	run->opts = *opts;
	run->prog = argv[0];
	if (opts->work_dir) {
		snprintf(run->work_dir, sizeof(run->work_dir), "%s", opts->work_dir);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(run->work_dir, sizeof(run->work_dir), "%s/vmlab-capture.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(run->work_dir)) {
			vm_error_set(err, "cannot make a directory %s: %s", run->work_dir,
				     strerror(errno));
			free(run);
			return -EIO;
		}
		run->made_dir = true;
	}
	snprintf(run->prefix, sizeof(run->prefix), "%s/t", run->work_dir);
	char *lib = NULL, *outopt = NULL;
	char **vargv = valgrind_argv(valgrind, run->prefix, opts, argv, &outopt);
	char **venv = valgrind_env(tool, &lib);
	if (!vargv || !venv) {
		rc = -ENOMEM;
		vm_error_set(err, "out of memory");
	}
	/* As system(3): the terminal's signals go to the program; the capture
	 * lives on to write what was traced. */
	struct sigaction ign = { .sa_handler = SIG_IGN };
	sigaction(SIGINT, &ign, &run->old_int);
	sigaction(SIGQUIT, &ign, &run->old_quit);
	pid_t pid = 0;
	if (rc == 0)
		rc = spawn_valgrind(valgrind, vargv, venv, &pid, err);
	free(outopt);
	free(vargv);
	free(venv);
	free(lib);
	run->l = (struct live){ .root = pid, .grace_ms = opts->grace_ms > 0 ? opts->grace_ms : 10000,
				.dir = run->work_dir, .max_disk = opts->max_disk };
	clock_gettime(CLOCK_MONOTONIC, &run->l.checked);
	if (rc == 0)
		rc = wait_for_tool(run, err);
	if (rc) {
		if (pid > 0)
			while (!run->l.root_done && waitpid(pid, &run->l.status, 0) < 0 && errno == EINTR)
				;
		run_free(run);
		return rc;
	}
	*out = run;
	return 0;
}

int vm_vgtool_finish(struct vm_vgtool_run *run, FILE *out, struct vm_vgtool_result *res,
		     struct vm_error *err)
{
	if (!run || !out || !res) {
		if (run)
			run_free(run);
		return vm_error_set(err, "vm_vgtool_finish: bad arguments");
	}
	memset(res, 0, sizeof(*res));
	snprintf(res->work_dir, sizeof(res->work_dir), "%s", run->work_dir);
	struct live *l = &run->l;
	res->pid = (int32_t)l->root;
	/* Into a pipe: through pipe_write, which watches the disk while the
	 * reader lags. */
	struct stat st;
	struct pipe_out po = { .fd = fileno(out), .l = l };
	FILE *to = out;
	int fl = -1;
	if (po.fd >= 0 && fstat(po.fd, &st) == 0 && S_ISFIFO(st.st_mode) && fflush(out) == 0 &&
	    (fl = fcntl(po.fd, F_GETFL)) >= 0 && fcntl(po.fd, F_SETFL, fl | O_NONBLOCK) == 0) {
		to = fopencookie(&po, "w", (cookie_io_functions_t){ .write = pipe_write });
		if (to)
			setvbuf(to, NULL, _IONBF, 0);
		else
			to = out;
	}
	int rc = vm_vgtool_join_live(run->prefix, res->pid, &run->opts, to, alive, l, res, err);
	if (to != out && fclose(to) != 0 && rc == 0) {
		vm_error_set(err, "cannot write the trace: %s", strerror(errno));
		rc = -EIO;
	}
	if (fl >= 0)
		fcntl(po.fd, F_SETFL, fl);
	if (l->over) {
		vm_error_set(err, "the capture's files reached %llu MiB on disk, the most allowed: "
			     "stopped", (unsigned long long)(l->disk >> 20));
		rc = -EFBIG;
	} else if (rc == -ENOENT) {
		vm_error_set(err, "Valgrind could not start %s (its message is above): no trace",
			     run->prog);
		rc = -EINVAL;
	} else if (rc < 0 && !l->root_done) {
		/* The trace cannot be written (a full disk): stop the program. */
		kill(l->root, SIGKILL);
	}
	while (!l->root_done && waitpid(l->root, &l->status, 0) < 0 && errno == EINTR)
		;
	res->exited = WIFEXITED(l->status);
	res->exit_code = WIFEXITED(l->status) ? WEXITSTATUS(l->status) : 0;
	res->term_signal = WIFSIGNALED(l->status) ? WTERMSIG(l->status) : 0;
	run_free(run);
	return rc;
}

int vm_vgtool_capture(char *const argv[], const struct vm_vgtool_opts *opts, FILE *out,
		      struct vm_vgtool_result *res, struct vm_error *err)
{
	if (!argv || !argv[0] || !argv[0][0] || !opts || !out || !res)
		return vm_error_set(err, "vm_vgtool_capture: no program");
	memset(res, 0, sizeof(*res));
	struct vm_vgtool_run *run;
	int rc = vm_vgtool_start(argv, opts, &run, err);
	return rc ? rc : vm_vgtool_finish(run, out, res, err);
}
