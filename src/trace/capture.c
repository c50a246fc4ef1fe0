/*
 * Captures (capture.h): the backend registry, the temporary directory and
 * its budget, and looking programs up in $PATH.
 */
#include "trace/capture.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "base/error.h"

#define DEFAULT_BUDGET (UINT64_C(4) << 30)

static const struct capture_ops *const backends[] = { &vm_capture_lackey_ops,
						      &vm_capture_vgtool_ops };

int vm_capture_which(const char *name, char *out, size_t len)
{
	if (!name || !*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		struct stat st;
		if (stat(name, &st) != 0)
			return -errno;
		if (!S_ISREG(st.st_mode) || access(name, X_OK) != 0)
			return -EACCES;
		snprintf(out, len, "%s", name);
		return 0;
	}
	const char *path = getenv("PATH");
	int rc = -ENOENT;
	for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; ; p++) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char cand[PATH_MAX];
		struct stat st;
		if (n + strlen(name) + 2 <= sizeof(cand)) {
			snprintf(cand, sizeof(cand), "%.*s%s%s", (int)n, n ? p : ".", "/", name);
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
				if (access(cand, X_OK) == 0) {
					snprintf(out, len, "%s", cand);
					return 0;
				}
				rc = -EACCES;
			}
		}
		if (!end)
			return rc;
		p = end;
	}
}

uint64_t vm_capture_dir_bytes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t total = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		struct stat st;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path) &&
		    lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return total;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int vm_capture_create(const char *backend, const struct vm_capture_opts *o,
		      struct vm_capture **out, struct vm_error *err)
{
	const struct capture_ops *ops = NULL;
	*out = NULL;
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!ops && (!backend || strcmp(backend, backends[i]->name) == 0))
			ops = backends[i];
	if (!ops)
		return vm_error_set(err, "no capture backend '%s' (there are: vgtool, lackey)", backend);
	if (!o || !o->argv || !o->argv[0])
		return vm_error_set(err, "no program to run");
	struct vm_capture *c = calloc(1, sizeof(*c));
	if (!c)
		return vm_error_set(err, "out of memory"), -ENOMEM;
	c->ops = ops;
	c->o = *o;
	int rc = vm_capture_which(o->argv[0], c->program, sizeof(c->program));
	if (rc) {
		vm_error_set(err, "%s: cannot start it: %s", o->argv[0],
			     rc == -EACCES ? "not an executable file" : "no such program (in $PATH)");
		free(c);
		return rc;
	}
	const char *tmp = o->tmpdir ? o->tmpdir : getenv("TMPDIR");
	snprintf(c->dir, sizeof(c->dir), "%s/vmlab-trace.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c->dir)) {
		rc = -errno;
		vm_error_set(err, "cannot make a temporary directory in %s: %s", tmp && *tmp ? tmp : "/tmp",
			     strerror(errno));
		free(c);
		return rc;
	}
	/* Never fill the disk unasked: at most half of what is free now. */
	struct statvfs vfs;
	uint64_t half = UINT64_MAX;
	if (statvfs(c->dir, &vfs) == 0)
		half = (uint64_t)vfs.f_bavail * vfs.f_frsize / 2;
	c->budget = o->max_bytes ? o->max_bytes : DEFAULT_BUDGET;
	if (c->budget > half) {
		if (o->max_bytes) {
			vm_error_set(err, "%s has %llu MiB free: a budget of %llu MiB could fill it", c->dir,
				     (unsigned long long)(2 * half >> 20),
				     (unsigned long long)(o->max_bytes >> 20));
			remove_dir(c->dir);
			free(c);
			return -ENOSPC;
		}
		c->budget = half;
	}
	*out = c;
	return 0;
}

int vm_capture_run(struct vm_capture *c, struct vm_error *err)
{
	return c->ops->run(c, err);
}

int vm_capture_open(struct vm_capture *c, struct vm_trace **t, struct vm_error *err)
{
	return c->ops->open(c, t, err);
}

int vm_capture_wait(struct vm_capture *c, struct vm_error *err)
{
	if (!c)
		return vm_error_set(err, "vm_capture_wait: no capture");
	if (!c->waited) {
		c->waited = true;
		c->wait_rc = c->ops->wait ? c->ops->wait(c, &c->wait_err) : 0;
	}
	if (c->wait_rc && err)
		*err = c->wait_err;
	return c->wait_rc;
}

bool vm_capture_streams(const struct vm_capture *c)
{
	return c && c->ops->wait;
}

void vm_capture_destroy(struct vm_capture *c)
{
	if (!c)
		return;
	vm_capture_wait(c, NULL);
	if (!c->o.keep)
		remove_dir(c->dir);
	free(c->priv);
	free(c);
}
