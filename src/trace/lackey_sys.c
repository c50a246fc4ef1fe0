/*
 * Valgrind's SYSCALL lines (LACKEY.md 2.3, 2.4): the head, the wrapper's
 * NAME ( ARGS ), the status, and what each call means for memory — which
 * calls replay keeps, which write into user buffers (the kernel's writes
 * that lackey cannot see, 3.2), and how descriptors come to name files.
 *
 * Argument conventions (Valgrind's PRINT): pointers 0x%lx, numbers %lu
 * (a 32-bit -1 prints as 4294967295), paths 0xADDR(path), some flags bare
 * hex (clone).  Arguments are separated by ", " — except in the one quirk
 * `sys_pkey_mprotect ( 0x483c000, 4096, 1 4294967295 )`, so a blank
 * separates them too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "trace/kernel_writes.h"
#include "trace/lackey.h"
#include "trace/text.h"

/* Decimal digits at s[*i]: the value (wrapping is refused). */
static bool take_dec(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t start = *i;
	uint64_t x = 0;
	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		unsigned d = (unsigned)(s[*i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
		(*i)++;
	}
	*v = x;
	return *i > start;
}

static bool take_hex(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t start = *i;
	uint64_t x = 0;
	int d;
	while (*i < n && (d = vm_text_hexval(s[*i])) >= 0) {
		if (x >> 60)
			return false;
		x = x << 4 | (uint64_t)d;
		(*i)++;
	}
	*v = x;
	return *i > start;
}

static bool take_str(const char *s, size_t n, size_t *i, const char *w)
{
	size_t k = strlen(w);
	if (n - *i < k || memcmp(s + *i, w, k) != 0)
		return false;
	*i += k;
	return true;
}

/* Where w first occurs in s[0..n), or n. */
static size_t find(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);
	for (size_t i = 0; i + k <= n; i++)
		if (s[i] == w[0] && memcmp(s + i, w, k) == 0)
			return i;
	return n;
}

bool lk_parse_head(const char *s, size_t n, struct lk_call *c, size_t *rest)
{
	size_t i = 0;
	uint64_t pid, tid, nr;
	if (!take_str(s, n, &i, "SYSCALL[") || !take_dec(s, n, &i, &pid) ||
	    !take_str(s, n, &i, ",") || !take_dec(s, n, &i, &tid) || !take_str(s, n, &i, "](") ||
	    !take_dec(s, n, &i, &nr) || !take_str(s, n, &i, ")"))
		return false;
	if (pid == 0 || pid > INT32_MAX || tid == 0 || tid > INT32_MAX || nr > INT32_MAX)
		return false;
	c->pid = (int32_t)pid;
	c->tid = (int32_t)tid;
	c->nr = (int32_t)nr;
	if (i < n && s[i] == ' ')
		i++;
	*rest = i;
	return true;
}

bool lk_is_completion(const char *s, size_t n)
{
	size_t i = 0;
	return take_str(s, n, &i, "... [async] --> ");
}

/* "Success(0x..)", "Failure(0x..)" or "NoWriteResult" at s[i]. */
static int parse_result(const char *s, size_t n, size_t i, struct lk_call *c)
{
	if (take_str(s, n, &i, "NoWriteResult")) {
		c->status = LK_ST_NOWRITE;
		c->result = 0;
		return 0;
	}
	if (take_str(s, n, &i, "Success(0x"))
		c->status = LK_ST_SUCCESS;
	else if (take_str(s, n, &i, "Failure(0x"))
		c->status = LK_ST_FAILURE;
	else
		return -1;
	if (!take_hex(s, n, &i, &c->result) || !take_str(s, n, &i, ")"))
		return -1;
	return 0;
}

int lk_parse_status(const char *s, size_t n, struct lk_call *c)
{
	size_t at = find(s, n, "-->");
	c->status = LK_ST_NONE;
	if (at == n)
		return 0;
	size_t i = at + 3;
	/* "[sync] --> R" and "... [async] --> R": the result follows. */
	if ((at >= 7 && memcmp(s + at - 7, "[sync] ", 7) == 0) ||
	    (at >= 8 && memcmp(s + at - 8, "[async] ", 8) == 0))
		return take_str(s, n, &i, " ") ? parse_result(s, n, i, c) : -1;
	if (take_str(s, n, &i, " [pre-success] ") || take_str(s, n, &i, " [pre-fail] "))
		return parse_result(s, n, i, c);
	if (take_str(s, n, &i, " [async] ...")) {
		c->status = LK_ST_ASYNC;
		return 0;
	}
	return -1;
}

/* One argument at s[*i]: 0xHEX, 0xHEX(path), decimal, bare hex, -decimal. */
static bool take_arg(const char *s, size_t n, size_t *i, struct lk_call *c)
{
	uint64_t v;
	if (c->nargs >= LK_ARGS_MAX)
		return false;
	if (take_str(s, n, i, "0x")) {
		if (!take_hex(s, n, i, &v))
			return false;
		if (*i < n && s[*i] == '(') {
			/* The path ends at the ')' that a separator or the list's end follows. */
			size_t p = ++*i;
			while (*i < n && !(s[*i] == ')' && (*i + 1 == n || s[*i + 1] == ',' ||
							   s[*i + 1] == ' ' || s[*i + 1] == ')')))
				(*i)++;
			if (*i == n)
				return false;
			if (c->path_arg < 0) {
				size_t len = *i - p;
				if (len > VM_TRACE_PATH_MAX)
					return false;
				memcpy(c->path, s + p, len);
				c->path[len] = '\0';
				c->path_arg = (int)c->nargs;
			}
			(*i)++;
		}
	} else if (*i < n && s[*i] == '-') {
		(*i)++;
		if (!take_dec(s, n, i, &v))
			return false;
		v = (uint64_t)0 - v;
	} else {
		size_t start = *i;
		if (!take_dec(s, n, i, &v))
			return false;
		if (*i < n && vm_text_hexval(s[*i]) >= 0) {
			/* Bare hex (clone flags, arch_prctl): read again as hex. */
			*i = start;
			if (!take_hex(s, n, i, &v))
				return false;
		}
	}
	c->arg[c->nargs++] = v;
	return true;
}

void lk_parse_wrapper(const char *s, size_t n, struct lk_call *c)
{
	size_t i = 0;
	c->args_ok = false;
	c->nargs = 0;
	c->path_arg = -1;
	c->child = 0;
	/* NAME: up to the '(' of the list ("sys_fcntl[ARG3=='arg'] (", "exit("). */
	while (i < n && s[i] != '(' && s[i] != ' ')
		i++;
	while (i < n && s[i] == ' ')
		i++;
	if (i < n && s[i] == '(') {
		i++;
		bool ok = true;
		for (;;) {
			while (i < n && (s[i] == ' ' || s[i] == ','))
				i++;
			if (i < n && s[i] == ')') {
				i++;
				break;
			}
			if (!take_arg(s, n, &i, c) ||
			    (i < n && s[i] != ' ' && s[i] != ',' && s[i] != ')')) {
				ok = false;
				break;
			}
		}
		c->args_ok = ok;
	}
	/* "fork: process P created child C" / "clone(fork): process P created child C" */
	size_t at = find(s, n, "created child ");
	uint64_t child;
	if (at < n) {
		size_t j = at + 14;
		if (take_dec(s, n, &j, &child) && child > 0 && child <= INT32_MAX)
			c->child = (int32_t)child;
	}
}

/* The calls readers keep: memory calls, with the argument counts Valgrind
 * prints for them. */
static const struct {
	int32_t nr;
	uint8_t min, max;
	const char *name;
} kept[] = {
	{ 9, 6, 6, "mmap" },          { 10, 3, 3, "mprotect" },     { 11, 2, 2, "munmap" },
	{ 12, 1, 1, "brk" },          { 25, 4, 5, "mremap" },       { 26, 3, 3, "msync" },
	{ 28, 3, 3, "madvise" },      { 30, 3, 3, "shmat" },        { 67, 1, 1, "shmdt" },
	{ 149, 2, 2, "mlock" },       { 150, 2, 2, "munlock" },     { 151, 1, 1, "mlockall" },
	{ 152, 0, 0, "munlockall" },  { 216, 5, 5, "remap_file_pages" },
	{ 325, 3, 3, "mlock2" },      { 329, 4, 4, "pkey_mprotect" },
};

bool lk_sys_kept(int32_t nr, unsigned *min, unsigned *max)
{
	for (size_t i = 0; i < VM_ARRAY_SIZE(kept); i++)
		if (kept[i].nr == nr) {
			*min = kept[i].min;
			*max = kept[i].max;
			return true;
		}
	return false;
}

const char *lk_sys_name(int32_t nr)
{
	for (size_t i = 0; i < VM_ARRAY_SIZE(kept); i++)
		if (kept[i].nr == nr)
			return kept[i].name;
	return NULL;
}

/* Bytes an ioctl request writes at its argument, or 0 (kernel_writes.h). */
static uint64_t ioctl_len(uint64_t req)
{
	switch (req) {
#define IOCTL_CASE(request, bytes) case request: return bytes;
	VM_IOCTL_WRITES(IOCTL_CASE)
#undef IOCTL_CASE
	}
	return 0;
}

/* The kernel's writes into user buffers (kernel_writes.h, shared with the
 * tool). */
static const struct {
	int32_t nr;
	uint8_t buf;        /* argument holding the buffer */
	int32_t len;        /* > 0 bytes, or a VM_KW_* rule */
	uint8_t n;
} writes[] = {
#define WRITE_ROW(nr, buf, len, n) { nr, buf, len, n },
	VM_KERNEL_WRITES(WRITE_ROW)
#undef WRITE_ROW
};

unsigned lk_sys_user_writes(const struct lk_call *c, uint64_t addr[2], uint64_t len[2])
{
	unsigned k = 0;
	if (c->status != LK_ST_SUCCESS || !c->args_ok)
		return 0;
	/* arch_prctl writes only for ARCH_GET_FS (0x1003) and ARCH_GET_GS (0x1004). */
	if (c->nr == 158 && (c->nargs < 1 || (c->arg[0] != 0x1003 && c->arg[0] != 0x1004)))
		return 0;
	for (size_t i = 0; i < VM_ARRAY_SIZE(writes) && k < 2; i++) {
		if (writes[i].nr != c->nr || writes[i].buf >= c->nargs || c->arg[writes[i].buf] == 0)
			continue;
		uint64_t n;
		switch (writes[i].len) {
		case VM_KW_RET:
			n = c->result;
			break;
		case VM_KW_ARG:
			n = writes[i].n < c->nargs ? c->arg[writes[i].n] : 0;
			break;
		case VM_KW_RET_X:
			n = c->result * writes[i].n;
			break;
		case VM_KW_ARG_X:
			n = c->nargs > 1 ? c->arg[1] * writes[i].n : 0;
			break;
		case VM_KW_PAGES:
			n = c->nargs > 1 ? (c->arg[1] + 4095) / 4096 : 0;
			break;
		case VM_KW_IOCTL:
			n = c->nargs > 1 ? ioctl_len(c->arg[1]) : 0;
			break;
		default:
			n = (uint64_t)writes[i].len;
		}
		/* A length no call can return is a garbled line; leave it be. */
		if (n == 0 || n > (UINT64_C(1) << 31))
			continue;
		addr[k] = c->arg[writes[i].buf];
		len[k++] = n;
	}
	return k;
}

/* Descriptors. */

static int fd_name(struct lk_fdtab *t, uint64_t fd, const char *path, const char *prefix);

void lk_fd_free(struct lk_fdtab *t)
{
	for (unsigned i = 0; i < t->cap; i++)
		free(t->path[i]);
	free(t->path);
	t->path = NULL;
	t->cap = 0;
}

int lk_fd_copy(struct lk_fdtab *dst, const struct lk_fdtab *src)
{
	for (unsigned fd = 0; fd < src->cap; fd++)
		if (src->path[fd] && fd_name(dst, fd, src->path[fd], ""))
			return -ENOMEM;
	return 0;
}

const char *lk_fd_path(const struct lk_fdtab *t, uint64_t fd)
{
	return fd < t->cap ? t->path[fd] : NULL;
}

/* fd now names path (a copy; NULL: unknown). */
static int fd_name(struct lk_fdtab *t, uint64_t fd, const char *path, const char *prefix)
{
	if (fd >= LK_FD_MAX)
		return 0;     /* beyond any RLIMIT_NOFILE we track: stays unknown */
	if (fd >= t->cap) {
		unsigned cap = t->cap ? t->cap : 64;
		while (cap <= fd)
			cap *= 2;
		char **p = realloc(t->path, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + t->cap, 0, (cap - t->cap) * sizeof(*p));
		t->path = p;
		t->cap = cap;
	}
	char *copy = NULL;
	if (path && *path) {
		size_t a = strlen(prefix), b = strlen(path);
		copy = malloc(a + b + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, prefix, a);
		memcpy(copy + a, path, b + 1);
		if (a + b > VM_TRACE_PATH_MAX)
			copy[VM_TRACE_PATH_MAX] = '\0';
	}
	free(t->path[fd]);
	t->path[fd] = copy;
	return 0;
}

int lk_fd_apply(struct lk_fdtab *t, const struct lk_call *c)
{
	if (c->status != LK_ST_SUCCESS || !c->args_ok)
		return 0;
	const char *src;
	switch (c->nr) {
	case 2:       /* open(path, flags, mode) */
	case 85:      /* creat(path, mode) */
	case 257:     /* openat(dirfd, path, flags, mode) */
	case 437:     /* openat2(dirfd, path, how, size) */
		return fd_name(t, c->result, c->path_arg >= 0 ? c->path : NULL, "");
	case 319:     /* memfd_create(name, flags): maps show /memfd:NAME */
		return fd_name(t, c->result, c->path_arg >= 0 ? c->path : NULL, "/memfd:");
	case 32:      /* dup(old) */
		src = c->nargs >= 1 ? lk_fd_path(t, c->arg[0]) : NULL;
		return fd_name(t, c->result, src, "");
	case 33:      /* dup2(old, new) */
	case 292:     /* dup3(old, new, flags) */
		src = c->nargs >= 2 ? lk_fd_path(t, c->arg[0]) : NULL;
		return c->nargs >= 2 ? fd_name(t, c->arg[1], src, "") : 0;
	case 72:      /* fcntl(fd, F_DUPFD 0 or F_DUPFD_CLOEXEC 1030, min) */
		if (c->nargs >= 2 && (c->arg[1] == 0 || c->arg[1] == 1030))
			return fd_name(t, c->result, lk_fd_path(t, c->arg[0]), "");
		return 0;
	case 3:       /* close(fd) */
		return c->nargs >= 1 ? fd_name(t, c->arg[0], NULL, "") : 0;
	case 436:     /* close_range(first, last, flags) */
		if (c->nargs >= 2)
			for (uint64_t fd = c->arg[0]; fd <= c->arg[1] && fd < t->cap; fd++)
				fd_name(t, fd, NULL, "");
		return 0;
	}
	return 0;
}
