/*
 * Traces: the registry of formats, opening a source (a path, "-", a gzip
 * file) with the format detected from its first bytes, and the one
 * vm_trace_next every consumer calls, which hands out the events a reader
 * queued and cuts accesses at page boundaries.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/error.h"
#include "kernel/uapi.h"
#include "trace/trace.h"

/* Detection order: the binary magic first, lackey's distinctive shapes,
 * then page lists; text takes what is left. */
static const struct trace_ops *const formats[] = {
	&vm_trace_vmt_ops, &vm_trace_lackey_ops, &vm_trace_pages_ops, &vm_trace_text_ops,
};

#define DETECT_BYTES 4096

const struct trace_ops *vm_trace_format_at(unsigned i)
{
	return i < VM_ARRAY_SIZE(formats) ? formats[i] : NULL;
}

const struct trace_ops *vm_trace_format_find(const char *name)
{
	for (unsigned i = 0; name && i < VM_ARRAY_SIZE(formats); i++)
		if (strcmp(formats[i]->name, name) == 0)
			return formats[i];
	return NULL;
}

static const char *const stat_names[] = {
#define VM_TRACE_STAT_NAME(id, name, help) name,
	VM_TRACE_STATS(VM_TRACE_STAT_NAME)
#undef VM_TRACE_STAT_NAME
};
static const char *const stat_helps[] = {
#define VM_TRACE_STAT_HELP(id, name, help) help,
	VM_TRACE_STATS(VM_TRACE_STAT_HELP)
#undef VM_TRACE_STAT_HELP
};

const char *vm_trace_stat_name(unsigned i)
{
	return i < VM_TSTAT_COUNT ? stat_names[i] : NULL;
}

const char *vm_trace_stat_help(unsigned i)
{
	return i < VM_TSTAT_COUNT ? stat_helps[i] : NULL;
}

const char *vm_trace_kind_name(unsigned kind)
{
	static const char *const names[] = { "access", "syscall", "map", "fork", "exec", "exit" };
	return kind < VM_ARRAY_SIZE(names) ? names[kind] : "?";
}

char vm_trace_acc_letter(unsigned acc)
{
	return "RWXM"[acc & 3];
}

int vm_trace_fail(struct vm_trace *t, long line, const char *fmt, ...)
{
	va_list ap;
	t->err.file = t->name;
	t->err.line = line;
	va_start(ap, fmt);
	vsnprintf(t->err.msg, sizeof(t->err.msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int io_error(struct vm_trace *t, int rc)
{
	const char *what = rc == -EBADMSG ? "corrupt gzip data"
			   : rc == -ENOMEM ? "out of memory" : "read error";
	vm_trace_fail(t, 0, "%s", what);
	return rc == -EBADMSG ? -EINVAL : rc;
}

static int detect(struct vm_trace *t)
{
	const struct trace_ops *ops = NULL;
	if (t->opts.format) {
		ops = vm_trace_format_find(t->opts.format);
		if (!ops)
			return vm_trace_fail(t, 0, "unknown trace format '%.40s' (lackey, text, pages, vmt)",
					     t->opts.format);
	} else {
		int rc = vm_tin_fill(&t->in, DETECT_BYTES);
		if (rc)
			return io_error(t, rc);
		const unsigned char *head = t->in.buf + t->in.pos;
		size_t n = t->in.len - t->in.pos;
		for (unsigned i = 0; !ops && i < VM_ARRAY_SIZE(formats); i++)
			if (formats[i]->detect(head, n > DETECT_BYTES ? DETECT_BYTES : n))
				ops = formats[i];
	}
	t->ops = ops;
	return 0;
}

/* display: the caller's name for the source, which outlives t (the
 * error of a failed open must not point into t->name). */
static int finish_open(struct vm_trace *t, int rc, const char *display, struct vm_trace **out,
		       struct vm_error *err)
{
	if (rc == 0 && t->in.error)
		rc = io_error(t, t->in.error);
	if (rc == 0)
		rc = detect(t);
	if (rc == 0)
		rc = t->ops->open(t);
	if (rc && rc != -EINVAL && rc != -ENOMEM && !t->err.msg[0])
		rc = io_error(t, rc);     /* the input's own read error (a reader said nothing) */
	if (rc) {
		if (err) {
			*err = t->err;
			if (!err->file || err->file == t->name)
				err->file = display;
		}
		if (rc == -ENOMEM && err)
			vm_error_at(err, display, 0, "out of memory");
		vm_trace_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

static struct vm_trace *trace_new(const char *name, const struct vm_trace_opts *opts)
{
	struct vm_trace *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->name = strdup(name);
	if (!t->name) {
		free(t);
		return NULL;
	}
	if (opts)
		t->opts = *opts;
	t->in.fd = -1;
	t->err.file = t->name;
	return t;
}

int vm_trace_open(const char *path, const struct vm_trace_opts *opts, struct vm_trace **out,
		  struct vm_error *err)
{
	if (!path || !out)
		return vm_error_set(err, "vm_trace_open: no path");
	bool std = strcmp(path, "-") == 0;
	int fd = std ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		vm_error_at(err, path, 0, "cannot open: %s", strerror(e));
		return -e;
	}
	struct vm_trace *t = trace_new(std ? "<stdin>" : path, opts);
	if (!t) {
		if (!std)
			close(fd);
		vm_error_at(err, path, 0, "out of memory");
		return -ENOMEM;
	}
	return finish_open(t, vm_tin_open_fd(&t->in, fd, !std), std ? "<stdin>" : path, out, err);
}

int vm_trace_open_fd(int fd, const char *name, const struct vm_trace_opts *opts,
		     struct vm_trace **out, struct vm_error *err)
{
	if (fd < 0 || !name || !out) {
		if (fd >= 0)
			close(fd);
		return vm_error_set(err, "vm_trace_open_fd: bad arguments");
	}
	struct vm_trace *t = trace_new(name, opts);
	if (!t) {
		close(fd);
		vm_error_at(err, name, 0, "out of memory");
		return -ENOMEM;
	}
	return finish_open(t, vm_tin_open_fd(&t->in, fd, true), name, out, err);
}

int vm_trace_open_mem(const char *name, const void *data, size_t len,
		      const struct vm_trace_opts *opts, struct vm_trace **out, struct vm_error *err)
{
	if (!name || (!data && len) || !out)
		return vm_error_set(err, "vm_trace_open_mem: bad arguments");
	struct vm_trace *t = trace_new(name, opts);
	if (!t) {
		vm_error_at(err, name, 0, "out of memory");
		return -ENOMEM;
	}
	return finish_open(t, vm_tin_open_mem(&t->in, data ? data : "", len), name, out, err);
}

void vm_trace_close(struct vm_trace *t)
{
	if (!t)
		return;
	if (t->ops && t->priv)
		t->ops->close(t);
	vm_tin_close(&t->in);
	free(t->name);
	free(t);
}

int vm_trace_push(struct vm_trace *t, const struct vm_trace_event *ev)
{
	if (t->qlen >= VM_TRACE_QUEUE - 1)
		return -ENOSPC;
	t->queue[(t->qhead + t->qlen++) % VM_TRACE_QUEUE] = *ev;
	return 0;
}

void vm_trace_touch(struct vm_trace *t, struct vm_trace_event *ev, int32_t pid, unsigned acc,
		    uint64_t addr, uint64_t len)
{
	uint64_t last = VM_ALIGN_DOWN(addr + len - 1, VM_PAGE_SIZE);
	*ev = (struct vm_trace_event){ .kind = VM_TEV_ACCESS, .access = (uint8_t)acc, .pid = pid,
				       .acc = { addr, 1, 1 } };
	t->span = *ev;
	t->span.acc.addr = VM_ALIGN_DOWN(addr, VM_PAGE_SIZE);
	t->span_left = (last - t->span.acc.addr) >> VM_PAGE_SHIFT;
	t->span_touch = true;
}

/* Cut ev at its page's end; the rest goes to the span. */
static void split(struct vm_trace *t, struct vm_trace_event *ev)
{
	uint64_t end = ev->acc.addr + ev->acc.size;
	uint64_t room = VM_PAGE_SIZE - (ev->acc.addr & (VM_PAGE_SIZE - 1));
	if (ev->acc.size <= room)
		return;
	t->span = *ev;
	t->span.acc.addr = ev->acc.addr + room;
	t->span_left = end - t->span.acc.addr;
	t->span_touch = false;
	ev->acc.size = (uint32_t)room;
	t->stat[VM_TSTAT_SPLITS]++;
}

/* The next piece of the span. */
static void span_piece(struct vm_trace *t, struct vm_trace_event *ev)
{
	*ev = t->span;
	if (t->span_touch) {
		ev->acc.addr = t->span.acc.addr += VM_PAGE_SIZE;
		ev->acc.size = 1;
		t->span_left--;
		return;
	}
	uint64_t n = t->span_left < VM_PAGE_SIZE ? t->span_left : VM_PAGE_SIZE;
	ev->acc.size = (uint32_t)n;
	t->span.acc.addr += n;
	t->span_left -= n;
}

static int deliver(struct vm_trace *t, struct vm_trace_event *ev)
{
	if (ev->kind == VM_TEV_ACCESS) {
		if (ev->acc.addr + ev->acc.size - 1 < ev->acc.addr || ev->acc.size == 0) {
			t->failed = true;
			return t->last_rc = vm_trace_fail(t, t->stat[VM_TSTAT_LINES],
							  "an access of %u bytes at 0x%" PRIx64
							  " wraps around the address space",
							  ev->acc.size, ev->acc.addr);
		}
		split(t, ev);
		t->stat[VM_TSTAT_ACCESSES] += ev->acc.count;
	}
	t->stat[VM_TSTAT_EVENTS]++;
	return 1;
}

int vm_trace_next(struct vm_trace *t, struct vm_trace_event *ev)
{
	if (VM_UNLIKELY(t->failed))
		return t->last_rc;
	if (t->span_left) {
		span_piece(t, ev);
		t->stat[VM_TSTAT_ACCESSES] += ev->acc.count;
		t->stat[VM_TSTAT_EVENTS]++;
		return 1;
	}
	if (t->qlen) {
		*ev = t->queue[t->qhead];
		t->qhead = (t->qhead + 1) % VM_TRACE_QUEUE;
		t->qlen--;
		return deliver(t, ev);
	}
	int rc = t->ops->next(t, ev);
	if (rc == 1)
		return deliver(t, ev);
	if (rc < 0) {
		t->failed = true;
		t->last_rc = rc == -EINVAL ? rc : io_error(t, rc);
	}
	return rc < 0 ? t->last_rc : rc;
}

/* Invariants. */

static bool map_flags_ok(const struct vm_trace_event *ev)
{
	uint32_t type = ev->map.flags & VM_MAP_TYPE;
	uint32_t rest = ev->map.flags & ~(uint32_t)VM_MAP_TYPE;
	return (type == VM_MAP_PRIVATE || type == VM_MAP_SHARED) &&
	       rest == (ev->path ? 0u : (uint32_t)VM_MAP_ANONYMOUS);
}

const char *vm_trace_event_invalid(const struct vm_trace_event *ev)
{
	if (ev->kind >= VM_TEV_KINDS)
		return "unknown event kind";
	if (ev->pid <= 0)
		return "process id must be positive";
	if (ev->path && strlen(ev->path) > VM_TRACE_PATH_MAX)
		return "path longer than 4095 bytes";
	if (ev->path && !ev->path[0])
		return "empty path";
	switch (ev->kind) {
	case VM_TEV_ACCESS:
		if (ev->access > VM_TACC_MODIFY)
			return "unknown access kind";
		if (ev->acc.size == 0 || ev->acc.size > VM_PAGE_SIZE ||
		    (ev->acc.addr & (VM_PAGE_SIZE - 1)) + ev->acc.size > VM_PAGE_SIZE)
			return "access not inside one page";
		if (ev->acc.count == 0)
			return "access count 0";
		if ((ev->flags & ~VM_TEV_F_KERNEL) ||
		    ((ev->flags & VM_TEV_F_KERNEL) && ev->access != VM_ACC_WRITE))
			return "bad access flags (the kernel only writes)";
		break;
	case VM_TEV_SYSCALL:
		if (ev->sys.nargs > VM_TEV_ARGS)
			return "more than 6 arguments";
		if (ev->sys.nr < 0)
			return "negative system-call number";
		if (ev->flags & ~VM_TEV_F_NORET)
			return "bad system-call flags";
		break;
	case VM_TEV_MAP:
		if (ev->map.start >= ev->map.end || !VM_IS_ALIGNED(ev->map.start, VM_PAGE_SIZE) ||
		    !VM_IS_ALIGNED(ev->map.end, VM_PAGE_SIZE))
			return "map segment not page aligned or empty";
		if (ev->map.prot & ~(uint32_t)(VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC))
			return "bad map protection";
		if (!map_flags_ok(ev))
			return "map flags must be private or shared, anonymous exactly when pathless";
		if (ev->path ? ev->map.offset & (VM_PAGE_SIZE - 1) : ev->map.offset)
			return "bad map offset";
		if (ev->flags & ~(VM_TEV_F_HEAP | VM_TEV_F_STACK) ||
		    ev->flags == (VM_TEV_F_HEAP | VM_TEV_F_STACK) || (ev->flags && ev->path))
			return "bad map flags";
		break;
	case VM_TEV_FORK:
		if (ev->fork.child <= 0)
			return "child process id must be positive";
		break;
	case VM_TEV_EXEC:
		if (!ev->path)
			return "exec without a path";
		break;
	}
	if (ev->kind != VM_TEV_ACCESS && ev->kind != VM_TEV_SYSCALL && ev->kind != VM_TEV_MAP &&
	    ev->flags)
		return "flags on an event that takes none";
	return NULL;
}

static bool same_path(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool vm_trace_event_equal(const struct vm_trace_event *a, const struct vm_trace_event *b)
{
	if (a->kind != b->kind || a->pid != b->pid || a->flags != b->flags)
		return false;
	switch (a->kind) {
	case VM_TEV_ACCESS:
		return a->access == b->access && a->acc.addr == b->acc.addr && a->acc.size == b->acc.size &&
		       a->acc.count == b->acc.count;
	case VM_TEV_SYSCALL:
		if (a->sys.nr != b->sys.nr || a->sys.nargs != b->sys.nargs ||
		    (!(a->flags & VM_TEV_F_NORET) && a->sys.ret != b->sys.ret) ||
		    !same_path(a->path, b->path))
			return false;
		for (unsigned i = 0; i < a->sys.nargs && i < VM_TEV_ARGS; i++)
			if (a->sys.arg[i] != b->sys.arg[i])
				return false;
		return true;
	case VM_TEV_MAP:
		return a->map.start == b->map.start && a->map.end == b->map.end &&
		       a->map.offset == b->map.offset && a->map.prot == b->map.prot &&
		       a->map.flags == b->map.flags && same_path(a->path, b->path);
	case VM_TEV_FORK:
		return a->fork.child == b->fork.child;
	case VM_TEV_EXEC:
		return same_path(a->path, b->path);
	case VM_TEV_EXIT:
		return a->exit.code == b->exit.code;
	}
	return false;
}

/* Writers. */

int vm_trace_writer_create(const char *format, FILE *f, bool compress, int level,
			   struct vm_trace_writer **out)
{
	const struct trace_writer_ops *ops = NULL;
	if (format && strcmp(format, "vmt") == 0)
		ops = &vm_trace_vmt_writer;
	else if (format && strcmp(format, "text") == 0)
		ops = &vm_trace_text_writer;
	if (!ops || !f || !out || level < -1 || level > 9)
		return -EINVAL;
	struct vm_trace_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ops = ops;
	w->compress = compress;
	w->level = level;
	vm_tout_init(&w->out, f);
	int rc = ops->begin(w);
	if (rc) {
		vm_trace_writer_destroy(w);
		return rc;
	}
	*out = w;
	return 0;
}

int vm_trace_writer_put(struct vm_trace_writer *w, const struct vm_trace_event *ev)
{
	if (vm_trace_event_invalid(ev))
		return -EINVAL;
	w->events++;
	return w->ops->put(w, ev);
}

int vm_trace_writer_end(struct vm_trace_writer *w)
{
	int rc = w->ops->end(w);
	int rc2 = vm_tout_finish(&w->out);
	return rc ? rc : rc2;
}

void vm_trace_writer_destroy(struct vm_trace_writer *w)
{
	if (!w)
		return;
	w->ops->free(w);
	if (w->out.z)
		vm_tout_finish(&w->out);
	free(w);
}
