/*
 * The lackey format as a trace: the logs of one capture read as one
 * process tree (LACKEY.md 2.5).  With --trace-children=yes and
 * --log-file=NAME.%p.%n.log Valgrind writes one log per process image:
 *
 *   NAME.P.1.log   process P, complete, with "created child C" at each fork
 *   NAME.C.2.log   child C from its return from fork to its execve (the
 *                  child continues its parent's counter: N + 1)
 *   NAME.C.1.log   the image C exec'd (the new Valgrind counts from 1 again)
 *
 * Opening NAME.P.N.log reads that log.  At P's fork of C the child's log
 * NAME.C.(N+1).log, when it exists beside it, is read next — whole, with
 * the processes it starts in turn — and then P goes on: depth first, as a
 * shell runs a command and waits for it (a pipeline's members run one
 * after the other).  A log that ends with an exec is followed by
 * NAME.C.1.log, the new image, with its initial map from --maps.  The
 * child inherits its parent's descriptors at the fork.  Each log's events
 * carry its own pid, and errors name the log and its line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/lackey.h"

#define LK_DEPTH 64           /* nesting of forks followed */

struct lackey {
	struct lk_log *log[LK_DEPTH];   /* the process being read, and those waiting */
	bool exec_next[LK_DEPTH];       /* that log ended with an exec: its new image follows */
	unsigned depth;
	struct lk_maps maps;
	bool has_maps;
	char *prefix;                   /* "DIR/NAME" of the first log, NULL: no tree */
};

/* NAME.PID.N.log: the prefix (allocated) and N, or NULL. */
static char *split_name(const char *path, int *seq)
{
	size_t n = strlen(path);
	if (n < 9 || strcmp(path + n - 4, ".log") != 0)
		return NULL;
	size_t end = n - 4, i = end;
	int field = 0;
	long num[2] = { 0, 0 };
	while (field < 2) {
		size_t stop = i;
		long v = 0, mul = 1;
		while (i > 0 && path[i - 1] >= '0' && path[i - 1] <= '9' && stop - i < 9) {
			v += (path[i - 1] - '0') * mul;
			mul *= 10;
			i--;
		}
		if (i == stop || i == 0 || path[i - 1] != '.')
			return NULL;
		num[field++] = v;
		i--;
	}
	if (i == 0 || num[0] == 0 || num[1] == 0)
		return NULL;
	*seq = (int)num[0];
	return strndup(path, i);
}

static int lackey_open(struct vm_trace *t)
{
	struct lackey *lk = calloc(1, sizeof(*lk));
	if (!lk)
		return -ENOMEM;
	t->priv = lk;
	if (t->opts.maps) {
		int rc = lk_maps_load(&lk->maps, t->opts.maps, &t->err);
		if (rc)
			return rc;
		lk->has_maps = true;
	}
	int seq = 0;
	if (!t->opts.one_log && t->in.fd >= 0)
		lk->prefix = split_name(t->name, &seq);
	int rc = lk_log_open(&lk->log[0], t->name, &t->in, false, seq, 0,
			     lk->has_maps ? &lk->maps : NULL);
	if (rc)
		return rc;
	lk->depth = 1;
	t->stat[VM_TSTAT_LOGS]++;
	return 0;
}

static void lackey_close(struct vm_trace *t)
{
	struct lackey *lk = t->priv;
	for (unsigned i = 0; i < lk->depth; i++)
		lk_log_free(lk->log[i]);
	lk_maps_free(&lk->maps);
	free(lk->prefix);
	free(lk);
	t->priv = NULL;
}

/* The log NAME.pid.seq.log as *out: 1, 0 if there is none, or an error. */
static int open_log(struct vm_trace *t, struct lackey *lk, int32_t pid, int seq,
		    struct lk_log **out)
{
	size_t n = strlen(lk->prefix) + 32;
	char *path = malloc(n);
	if (!path)
		return -ENOMEM;
	snprintf(path, n, "%s.%d.%d.log", lk->prefix, pid, seq);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(path);
		return 0;     /* not captured (no --trace-children, or not a child we know) */
	}
	struct vm_tin *in = calloc(1, sizeof(*in));
	int rc = in ? vm_tin_open_fd(in, fd, true) : -ENOMEM;
	if (!in)
		close(fd);
	if (rc == 0)
		rc = lk_log_open(out, path, in, true, seq, pid, lk->has_maps ? &lk->maps : NULL);
	else if (in) {
		vm_tin_close(in);
		free(in);
	}
	if (rc) {
		vm_trace_fail(t, 0, "cannot read %s", path);
		free(path);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	free(path);
	t->stat[VM_TSTAT_LOGS]++;
	return 1;
}

/* After parent's fork of child: read the child's log next. */
static int descend(struct vm_trace *t, struct lackey *lk, struct lk_log *parent, int32_t child)
{
	struct lk_log *log;
	int rc = open_log(t, lk, child, lk_log_seq(parent) + 1, &log);
	if (rc <= 0)
		return rc;
	if (lk->depth == LK_DEPTH) {
		lk_log_free(log);
		return vm_trace_fail(t, 0, "the process tree is deeper than %d forks", LK_DEPTH);
	}
	if (lk_fd_copy(lk_log_fds(log), lk_log_fds(parent))) {
		lk_log_free(log);
		return -ENOMEM;
	}
	lk->exec_next[lk->depth] = false;
	lk->log[lk->depth++] = log;
	return 0;
}

static int lackey_next(struct vm_trace *t, struct vm_trace_event *ev)
{
	struct lackey *lk = t->priv;
	for (;;) {
		unsigned d = lk->depth - 1;
		struct lk_log *log = lk->log[d];
		int rc = lk_log_next(t, log, ev);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (lk->prefix && ev->kind == VM_TEV_FORK)
				rc = descend(t, lk, log, ev->fork.child);
			else if (lk->prefix && ev->kind == VM_TEV_EXEC && lk_log_seq(log) != 1)
				lk->exec_next[d] = true;
			return rc < 0 ? rc : 1;
		}
		if (lk->exec_next[d]) {
			struct lk_log *image;
			lk->exec_next[d] = false;
			rc = open_log(t, lk, lk_log_pid(log), 1, &image);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				lk_log_free(log);
				lk->log[d] = image;
				continue;
			}
		}
		if (d == 0)
			return 0;
		lk_log_free(log);
		lk->depth--;
	}
}

const struct trace_ops vm_trace_lackey_ops = {
	.name = "lackey",
	.desc = "Valgrind lackey logs (--trace-mem=yes --trace-syscalls=yes), a capture's "
		"NAME.PID.N.log files as one process tree",
	.detect = lk_detect,
	.open = lackey_open,
	.next = lackey_next,
	.close = lackey_close,
};
