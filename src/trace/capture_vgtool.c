/*
 * Capturing with vmlab's Valgrind tool (capture_vgtool.h, docs/vgtool.md):
 * find the tool, Valgrind and the program; run `valgrind --tool=vmlab` on
 * it with the tool's files in a work directory; join them while it runs
 * (capture_join.c), so that compressing the trace takes the second CPU
 * rather than time after the run.
 */
#include <errno.h>
#include <fcntl.h>
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
};

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

/* May pid still write?  The first process while it runs; the others while
 * they run, but no longer than the grace time after the first ended. */
static bool alive(void *ctx, int32_t pid)
{
	struct live *l = ctx;
	bool root = root_running(l);
	if (pid == l->root)
		return root;
	if (!root) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - l->root_end.tv_sec) * 1000 +
			  (now.tv_nsec - l->root_end.tv_nsec) / 1000000;
		if (ms > l->grace_ms)
			return false;
	}
	return pid_running(pid);
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

int vm_vgtool_capture(char *const argv[], const struct vm_vgtool_opts *opts, FILE *out,
		      struct vm_vgtool_result *res, struct vm_error *err)
{
	if (!argv || !argv[0] || !argv[0][0] || !opts || !out || !res)
		return vm_error_set(err, "vm_vgtool_capture: no program");
	memset(res, 0, sizeof(*res));
	char tool[4096], valgrind[4096], prog[4096];
	int rc = 0;
	if (opts->tool_dir) {
		snprintf(tool, sizeof(tool), "%s", opts->tool_dir);
		if (!has_tool(tool)) {
			vm_error_set(err, "%s holds no %s (make vgtool)", tool, TOOL_NAME);
			return -ENOENT;
		}
	} else if ((rc = vm_vgtool_find(tool, sizeof(tool), err))) {
		return rc;
	}
	if ((rc = find_program(opts->valgrind ? opts->valgrind : "valgrind", valgrind,
			       sizeof(valgrind)))) {
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

	bool made_dir = false;
	if (opts->work_dir) {
		snprintf(res->work_dir, sizeof(res->work_dir), "%s", opts->work_dir);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(res->work_dir, sizeof(res->work_dir), "%s/vmlab-capture.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(res->work_dir)) {
			vm_error_set(err, "cannot make a directory %s: %s", res->work_dir, strerror(errno));
			return -EIO;
		}
		made_dir = true;
	}
	char prefix[4200];
	snprintf(prefix, sizeof(prefix), "%s/t", res->work_dir);
	char *lib = NULL, *outopt = NULL;
	char **vargv = valgrind_argv(valgrind, prefix, opts, argv, &outopt);
	char **venv = valgrind_env(tool, &lib);
	if (!vargv || !venv) {
		rc = -ENOMEM;
		vm_error_set(err, "out of memory");
	}
	pid_t pid = 0;
	/* As system(3): the terminal's signals go to the program; the capture
	 * lives on to write what was traced. */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	if (rc == 0)
		rc = spawn_valgrind(valgrind, vargv, venv, &pid, err);
	free(outopt);
	free(vargv);
	free(venv);
	free(lib);
	if (rc == 0) {
		struct live l = { .root = pid, .grace_ms = opts->grace_ms > 0 ? opts->grace_ms : 10000 };
		res->pid = (int32_t)pid;
		rc = vm_vgtool_join_live(prefix, res->pid, opts, out, alive, &l, res, err);
		if (rc == -ENOENT) {
			/* Valgrind stopped before the tool started (a bad interpreter...). */
			vm_error_set(err, "Valgrind could not start %s (its message is above): no trace",
				     argv[0]);
			rc = -EINVAL;
		} else if (rc < 0 && !l.root_done) {
			/* The trace cannot be written (a full disk): stop the program. */
			kill(pid, SIGKILL);
		}
		while (!l.root_done && waitpid(pid, &l.status, 0) < 0 && errno == EINTR)
			;
		res->exited = WIFEXITED(l.status);
		res->exit_code = WIFEXITED(l.status) ? WEXITSTATUS(l.status) : 0;
		res->term_signal = WIFSIGNALED(l.status) ? WTERMSIG(l.status) : 0;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	if (!opts->keep) {
		remove_files(res->work_dir, "t");
		if (made_dir)
			rmdir(res->work_dir);
	}
	return rc;
}
