/*
 * Writing the text trace format (docs/formats.md, read by text.c): every
 * event as one line that reads back to the same event.  Memory calls use
 * the scenario language's words when the words can say the call exactly
 * (known flags, an anonymous mmap with fd -1 and offset 0, a line within
 * the scenario's 1024 bytes); anything else is written as `syscall NR
 * ARG...`.  The PID: prefix is written when the process changes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/uapi.h"
#include "trace/scenario.h"
#include "trace/text.h"
#include "trace/trace.h"


struct text_wr {
	int32_t pid;              /* of the line before: 1 at the start, as the reader assumes */
	char line[2 * 4 * (VM_TRACE_PATH_MAX + 1) + 512];
	char path[4 * VM_TRACE_PATH_MAX + 8];
};

void vm_text_escape(const char *path, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; path[i] && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\' || (i == 0 && c == '[') ||
		    (i == 0 && path[1] == '\0' && c == '=')) {
			static const char hex[] = "0123456789abcdef";
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static int text_begin(struct vm_trace_writer *w)
{
	struct text_wr *tw = calloc(1, sizeof(*tw));
	if (!tw)
		return -ENOMEM;
	w->priv = tw;
	tw->pid = 1;
	return w->compress ? vm_tout_compress(&w->out, VM_TOUT_GZIP, w->level) : 0;
}

/* A number as the scenario language reads it: hex for addresses. */
static int num(char *b, size_t len, uint64_t v)
{
	return v < 4096 ? snprintf(b, len, "%" PRIu64, v) : snprintf(b, len, "0x%" PRIx64, v);
}

/* The result: -ENAME for an errno with a name, else a number. */
static size_t result(char *b, size_t len, int64_t ret)
{
	const char *e = ret < 0 && ret > -4096 ? scn_errno_name(-ret) : NULL;
	if (e)
		return (size_t)snprintf(b, len, " = -%s", e);
	if (ret < 0)
		return (size_t)snprintf(b, len, " = %" PRId64, ret);
	size_t n = (size_t)snprintf(b, len, " = ");
	return n + (size_t)num(b + n, len - n, (uint64_t)ret);
}

static void prot_word(char *b, uint64_t prot)
{
	size_t o = 0;
	if (prot & VM_PROT_READ)
		b[o++] = 'r';
	if (prot & VM_PROT_WRITE)
		b[o++] = 'w';
	if (prot & VM_PROT_EXEC)
		b[o++] = 'x';
	if (!o)
		strcpy(b + o, "none");
	else
		b[o] = '\0';
}

#define PROT_KNOWN (uint64_t)(VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXEC)

/* The scenario words of a memory call into b; false when they cannot say
 * it exactly. */
static bool scenario_form(struct text_wr *tw, const struct vm_trace_event *ev, char *b, size_t len)
{
	const uint64_t *a = ev->sys.arg;
	char x[3][40], words[256], p[8];
	size_t n = ev->sys.nargs;
	for (size_t i = 0; i < n && i < 3; i++)
		num(x[i], sizeof(x[i]), a[i]);
	switch (ev->sys.nr) {
	case VM_NR_MMAP: {
		bool anon = a[3] & VM_MAP_ANONYMOUS;
		if (n != 6 || (a[2] & ~PROT_KNOWN) || a[3] > INT32_MAX ||
		    !scn_format_words(SCN_WORDS_MMAP, (int)a[3], words, sizeof(words)) ||
		    (anon && (ev->path || a[4] != FD_NONE || a[5])) || (!anon && !ev->path) ||
		    (!anon && a[4] > FD_NONE))
			return false;
		prot_word(p, a[2]);
		int o = snprintf(b, len, "mmap _ %s %s %s", x[1], p, words);
		if (!anon) {
			char off[40];
			vm_text_escape(ev->path, tw->path, sizeof(tw->path));
			num(off, sizeof(off), a[5]);
			o += snprintf(b + o, len - (size_t)o, " file %s %s", tw->path, off);
		}
		if (a[0])
			o += snprintf(b + o, len - (size_t)o, " at 0x%" PRIx64, a[0]);
		return true;
	}
	case VM_NR_MUNMAP:
		return n == 2 && snprintf(b, len, "munmap %s %s", x[0], x[1]) > 0;
	case VM_NR_MPROTECT:
		if (n != 3 || (a[2] & ~PROT_KNOWN))
			return false;
		prot_word(p, a[2]);
		return snprintf(b, len, "mprotect %s %s %s", x[0], x[1], p) > 0;
	case VM_NR_BRK:
		return n == 1 && snprintf(b, len, "brk %s", x[0]) > 0;
	case VM_NR_MREMAP: {
		if ((n != 4 && n != 5) || a[3] > INT32_MAX)
			return false;
		int o = snprintf(b, len, "mremap %s %s %s", x[0], x[1], x[2]);
		if (a[3] && !scn_format_words(SCN_WORDS_MREMAP, (int)a[3], words, sizeof(words)))
			return false;
		if (a[3])
			o += snprintf(b + o, len - (size_t)o, " %s", words);
		if (n == 5)
			snprintf(b + o, len - (size_t)o, " at 0x%" PRIx64, a[4]);
		return true;
	}
	case VM_NR_MADVISE:
	case VM_NR_MSYNC:
		if (n != 3 || a[2] > INT32_MAX ||
		    !scn_format_words(ev->sys.nr == VM_NR_MADVISE ? SCN_WORDS_ADVICE : SCN_WORDS_MSYNC,
				      (int)a[2], words, sizeof(words)))
			return false;
		return snprintf(b, len, "%s %s %s %s", ev->sys.nr == VM_NR_MADVISE ? "madvise" : "msync",
				x[0], x[1], words) > 0;
	}
	return false;
}

static size_t syscall_line(struct text_wr *tw, const struct vm_trace_event *ev, char *b, size_t len)
{
	size_t o;
	if (!ev->path || ev->sys.nr == VM_NR_MMAP) {
		if (scenario_form(tw, ev, b, len) && strlen(b) + 40 <= SCN_LINE_MAX) {
			o = strlen(b);
			goto result;
		}
	}
	o = (size_t)snprintf(b, len, "syscall %d", ev->sys.nr);
	for (unsigned i = 0; i < ev->sys.nargs; i++) {
		b[o++] = ' ';
		o += (size_t)num(b + o, len - o, ev->sys.arg[i]);
	}
	if (ev->path) {
		vm_text_escape(ev->path, tw->path, sizeof(tw->path));
		o += (size_t)snprintf(b + o, len - o, " file %s", tw->path);
	}
	if (!(ev->flags & VM_TEV_F_NORET))
		o += result(b + o, len - o, ev->sys.ret);
	return o;
result:
	if (!(ev->flags & VM_TEV_F_NORET))
		o += result(b + o, len - o, ev->sys.ret);
	if (ev->sys.nr == VM_NR_MMAP && !(ev->sys.arg[3] & VM_MAP_ANONYMOUS) &&
	    ev->sys.arg[4] != FD_NONE) {
		if (ev->flags & VM_TEV_F_NORET)
			o += (size_t)snprintf(b + o, len - o, " = ?");
		o += (size_t)snprintf(b + o, len - o, " fd %" PRIu64, ev->sys.arg[4]);
	}
	return o;
}

static int text_put(struct vm_trace_writer *w, const struct vm_trace_event *ev)
{
	struct text_wr *tw = w->priv;
	char *b = tw->line;
	size_t len = sizeof(tw->line), o = 0;
	if (ev->pid != tw->pid) {
		o = (size_t)snprintf(b, len, "%d: ", ev->pid);
		tw->pid = ev->pid;
	}
	switch (ev->kind) {
	case VM_TEV_ACCESS:
		o += (size_t)snprintf(b + o, len - o, "%c 0x%" PRIx64 " %u",
				      vm_trace_acc_letter(ev->access), ev->acc.addr, ev->acc.size);
		if (ev->acc.count > 1)
			o += (size_t)snprintf(b + o, len - o, " x%" PRIu64, ev->acc.count);
		if (ev->flags & VM_TEV_F_KERNEL)
			o += (size_t)snprintf(b + o, len - o, " kernel");
		break;
	case VM_TEV_SYSCALL:
		o += syscall_line(tw, ev, b + o, len - o);
		break;
	case VM_TEV_MAP:
		o += (size_t)snprintf(b + o, len - o, "map 0x%" PRIx64 " 0x%" PRIx64 " %c%c%c%c 0x%" PRIx64,
				      ev->map.start, ev->map.end, ev->map.prot & VM_PROT_READ ? 'r' : '-',
				      ev->map.prot & VM_PROT_WRITE ? 'w' : '-',
				      ev->map.prot & VM_PROT_EXEC ? 'x' : '-',
				      (ev->map.flags & VM_MAP_TYPE) == VM_MAP_SHARED ? 's' : 'p',
				      ev->map.offset);
		if (ev->path) {
			vm_text_escape(ev->path, tw->path, sizeof(tw->path));
			o += (size_t)snprintf(b + o, len - o, " %s", tw->path);
		} else if (ev->flags) {
			o += (size_t)snprintf(b + o, len - o, " %s",
					      ev->flags & VM_TEV_F_HEAP ? "[heap]" : "[stack]");
		}
		break;
	case VM_TEV_FORK:
		o += (size_t)snprintf(b + o, len - o, "fork %d", ev->fork.child);
		break;
	case VM_TEV_EXEC:
		vm_text_escape(ev->path, tw->path, sizeof(tw->path));
		o += (size_t)snprintf(b + o, len - o, "execve %s", tw->path);
		break;
	case VM_TEV_EXIT:
		o += (size_t)snprintf(b + o, len - o, "exit %d", ev->exit.code);
		break;
	}
	b[o++] = '\n';
	return vm_tout_write(&w->out, b, o);
}

static int text_end(struct vm_trace_writer *w)
{
	return w->out.error;
}

static void text_free(struct vm_trace_writer *w)
{
	free(w->priv);
	w->priv = NULL;
}

const struct trace_writer_ops vm_trace_text_writer = {
	.name = "text",
	.begin = text_begin,
	.put = text_put,
	.end = text_end,
	.free = text_free,
};
