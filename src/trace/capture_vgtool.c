/*
 * Capturing with vmlab's Valgrind tool (capture_vgtool.h, docs/vgtool.md).
 *
 * The tool writes one vmt file per process image, PREFIX.PID.SEQ.vmt (SEQ
 * counts the images of one pid: 1 from its start or fork, 2 after its
 * first exec, ...), each a complete trace of its own with its pid's PID
 * record.  Joining reads them as the lackey reader reads a capture's logs
 * (lackey_tree.c): the first process's file; at a FORK of child C, C's
 * next file, whole, with what it starts, before the parent goes on; at the
 * end of a file whose last event is an EXEC, the same pid's next file.
 * Events pass through vmlab's own vmt writer, which collapses runs and
 * compresses, and which leaves the END record out when a stream was cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "base/error.h"
#include "base/u64map.h"
#include "trace/capture_vgtool.h"
#include "trace/trace.h"

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

/* Joining. */

struct stream {
	struct vm_trace *t;
	int32_t pid;
	unsigned seq;
	bool exec_next;           /* its last event was an exec: the pid's next file follows */
};

struct join {
	const char *prefix;
	struct vm_host host;
	struct vm_u64map next_seq;        /* pid -> the SEQ its next file has */
	struct stream *stack;
	unsigned depth, cap;
	struct vm_trace_writer *w;
	struct vm_vgtool_result *res;
	struct vm_error *err;
};

/* pid's next file as s: 1, 0 if there is none, or an error. */
static int open_next(struct join *j, int32_t pid, struct stream *s)
{
	uint64_t seq = 1;
	vm_u64map_get(&j->next_seq, (uint64_t)pid, &seq);
	size_t n = strlen(j->prefix) + 48;
	char *path = malloc(n);
	if (!path)
		return -ENOMEM;
	snprintf(path, n, "%s.%d.%u.vmt", j->prefix, pid, (unsigned)seq);
	struct stat st;
	if (stat(path, &st) != 0) {
		free(path);
		return 0;     /* not traced (--trace-children=no, or it ran no Valgrind) */
	}
	int rc = vm_u64map_put(&j->next_seq, (uint64_t)pid, seq + 1);
	struct vm_trace_opts o = { .format = "vmt" };
	struct vm_error e;
	if (rc == 0)
		rc = vm_trace_open(path, &o, &s->t, &e);
	if (rc == 0) {
		s->pid = pid;
		s->seq = (unsigned)seq;
		s->exec_next = false;
		j->res->streams++;
		j->res->stream_bytes += (uint64_t)st.st_size;
	} else if (rc == -EINVAL) {
		/* Not even a header: a process killed as it started.  Its events
		 * are none. */
		if (!j->res->truncated)
			snprintf(j->res->note, sizeof(j->res->note), "%s: %s", path, e.msg);
		j->res->truncated = true;
		rc = 0;
	} else if (rc != -ENOMEM) {
		vm_error_set(j->err, "%s: %s", path, e.msg);
		rc = -EIO;
	}
	free(path);
	return rc < 0 ? rc : s->t ? 1 : 0;
}

static int push(struct join *j, int32_t pid)
{
	if (j->depth == j->cap) {
		unsigned cap = j->cap ? 2 * j->cap : 16;
		struct stream *p = realloc(j->stack, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		j->stack = p;
		j->cap = cap;
	}
	struct stream *s = &j->stack[j->depth];
	memset(s, 0, sizeof(*s));
	int rc = open_next(j, pid, s);
	if (rc == 1)
		j->depth++;
	return rc < 0 ? rc : 0;
}

/* A stream that stopped with an error: it was cut (its process killed,
 * Valgrind killed, the disk full).  Its events so far are kept. */
static void cut(struct join *j, struct stream *s)
{
	if (!j->res->truncated)
		snprintf(j->res->note, sizeof(j->res->note), "the trace of process %d was cut: %s: %s",
			 s->pid, s->t->err.file ? s->t->err.file : "?", s->t->err.msg);
	j->res->truncated = true;
}

static int join_loop(struct join *j)
{
	struct vm_trace_event ev;
	while (j->depth) {
		struct stream *s = &j->stack[j->depth - 1];
		int rc = vm_trace_next(s->t, &ev);
		if (rc == 1) {
			if ((rc = vm_trace_writer_put(j->w, &ev)))
				return rc == -EINVAL ? -EIO : rc;
			j->res->events++;
			if (ev.kind == VM_TEV_FORK) {
				if ((rc = push(j, ev.fork.child)))
					return rc;
			} else if (ev.kind == VM_TEV_EXEC) {
				s->exec_next = true;
			} else if (ev.kind == VM_TEV_EXIT) {
				s->exec_next = false;
			} else if (ev.kind != VM_TEV_MAP) {
				/* Anything after an exec means the exec failed after all. */
				s->exec_next = false;
			}
			continue;
		}
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			cut(j, s);
		bool exec_next = s->exec_next && rc == 0;
		int32_t pid = s->pid;
		vm_trace_close(s->t);
		s->t = NULL;
		j->depth--;
		if (exec_next && (rc = push(j, pid)))
			return rc;
	}
	return 0;
}

int vm_vgtool_join(const char *prefix, int32_t root, const struct vm_vgtool_opts *opts, FILE *out,
		   struct vm_vgtool_result *res, struct vm_error *err)
{
	if (!prefix || root <= 0 || !opts || !out || !res)
		return vm_error_set(err, "vm_vgtool_join: bad arguments");
	struct join j = { .prefix = prefix, .res = res, .err = err };
	vm_u64map_init(&j.next_seq, &j.host);
	res->truncated = false;
	res->note[0] = '\0';
	res->streams = 0;
	res->events = 0;
	res->stream_bytes = 0;
	int rc = vm_trace_writer_create("vmt", out, opts->compress, opts->level, &j.w);
	if (rc == 0) {
		j.w->exact = opts->exact;
		rc = push(&j, root);
		if (rc == 0 && j.depth == 0 && !res->truncated) {
			vm_error_set(err, "%s.%d.1.vmt: no such file: Valgrind wrote no trace", prefix,
				     root);
			rc = -ENOENT;
		}
	}
	if (rc == 0)
		rc = join_loop(&j);
	if (rc == 0) {
		j.w->cut = res->truncated;
		rc = vm_trace_writer_end(j.w);
		if (rc)
			vm_error_set(err, "cannot write the trace: %s", strerror(-rc));
	} else if (rc == -ENOMEM) {
		vm_error_set(err, "out of memory");
	} else if (rc == -EIO && !err->msg[0]) {
		vm_error_set(err, "cannot write the trace");
	}
	while (j.depth)
		vm_trace_close(j.stack[--j.depth].t);
	free(j.stack);
	vm_u64map_fini(&j.next_seq);
	vm_trace_writer_destroy(j.w);
	return rc;
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

/* Fork and exec valgrind; wait for it.  0 and *pid, *status; or -errno
 * (exec failed: err). */
static int run_valgrind(const char *valgrind, char **argv, char **envp, pid_t *pid, int *status,
			struct vm_error *err)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return vm_error_set(err, "pipe: %s", strerror(errno)), -EIO;
	/* The write end closes on a successful exec: EOF says it worked. */
	fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
	fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
	/* As system(3): the caller's terminal signals go to the program, and
	 * the capture survives them to join what it traced. */
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_int, old_quit;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	long maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	*pid = fork();
	if (*pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
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
	if (rc == 0) {
		int e;
		if (read(pfd[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
			rc = -e;
			vm_error_set(err, "cannot run %s: %s", valgrind, strerror(e));
		}
		while (waitpid(*pid, status, 0) < 0 && errno == EINTR)
			;
	}
	close(pfd[0]);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return rc;
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
	int status = 0;
	if (rc == 0)
		rc = run_valgrind(valgrind, vargv, venv, &pid, &status, err);
	free(outopt);
	free(vargv);
	free(venv);
	free(lib);
	if (rc == 0) {
		res->pid = (int32_t)pid;
		res->exited = WIFEXITED(status);
		res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
		res->term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		rc = vm_vgtool_join(prefix, res->pid, opts, out, res, err);
		if (rc == -ENOENT)
			rc = -EINVAL;     /* Valgrind failed before the tool started */
	}
	if (!opts->keep) {
		remove_files(res->work_dir, "t");
		if (made_dir)
			rmdir(res->work_dir);
	}
	return rc;
}
