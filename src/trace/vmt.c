/*
 * Reading vmt (vmt.h, docs/formats.md): the header, then records decoded
 * from a window that always holds a whole record unless the file ends
 * first, inflating the body when the header says it is compressed.  Every
 * record is checked as it is decoded — a truncated file, an unknown tag, a
 * varint longer than 64 bits, an access outside one page, an event count
 * that disagrees with the END record — and reported with its event number.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/compiler.h"
#include "trace/trace.h"
#include "trace/vmt.h"

#define ZOUT ((size_t)1 << 20)

struct vmt_rd {
	bool zlib;
	z_stream z;
	bool z_init, z_end;
	uint8_t *buf;                 /* inflated body: [pos, len) not decoded yet */
	size_t pos, len;
	int32_t pid;
	uint64_t next_x, last_d;
	uint64_t events;              /* records decoded (all but PID and END) */
	bool ended;
	char path[VM_TRACE_PATH_MAX + 1];
};

static bool vmt_detect(const unsigned char *head, size_t len)
{
	return len >= 4 && memcmp(head, VMT_MAGIC, 4) == 0;
}

static int fail(struct vm_trace *t, struct vmt_rd *r, const char *what)
{
	return vm_trace_fail(t, 0, "event %llu: %s", (unsigned long long)r->events + 1, what);
}

static int vmt_open(struct vm_trace *t)
{
	struct vmt_rd *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	t->priv = r;
	int rc = vm_tin_fill(&t->in, VMT_HEADER);
	if (rc)
		return rc;
	const uint8_t *h = t->in.buf + t->in.pos;
	if (t->in.len - t->in.pos < VMT_HEADER || memcmp(h, VMT_MAGIC, 4) != 0)
		return vm_trace_fail(t, 0, "not a vmt file (it does not start with VMTR)");
	if (h[4] != VMT_VERSION)
		return vm_trace_fail(t, 0, "a version %u vmt file; this vmlab reads version %u",
				     h[4], VMT_VERSION);
	if (h[5] & ~VMT_F_ZLIB)
		return vm_trace_fail(t, 0, "unknown header flags 0x%02x", h[5]);
	r->zlib = h[5] & VMT_F_ZLIB;
	t->in.pos += VMT_HEADER;
	if (r->zlib) {
		r->buf = malloc(ZOUT);
		if (!r->buf || inflateInit(&r->z) != Z_OK)
			return -ENOMEM;
		r->z_init = true;
	}
	return 0;
}

static void vmt_close(struct vm_trace *t)
{
	struct vmt_rd *r = t->priv;
	if (r->z_init)
		inflateEnd(&r->z);
	free(r->buf);
	free(r);
	t->priv = NULL;
}

/* Inflate until want bytes are in [pos, len) or the stream ends. */
static int inflate_more(struct vm_trace *t, struct vmt_rd *r, size_t want)
{
	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	while (r->len < want && !r->z_end) {
		int rc = vm_tin_fill(&t->in, 1);
		if (rc)
			return rc;
		size_t avail = t->in.len - t->in.pos;
		if (avail == 0)
			return fail(t, r, "truncated: the compressed body ends early");
		r->z.next_in = t->in.buf + t->in.pos;
		r->z.avail_in = (uInt)(avail > (1u << 30) ? 1u << 30 : avail);
		r->z.next_out = r->buf + r->len;
		r->z.avail_out = (uInt)(ZOUT - r->len);
		int zrc = inflate(&r->z, Z_NO_FLUSH);
		t->in.pos += (size_t)(r->z.next_in - (t->in.buf + t->in.pos));
		r->len = (size_t)(r->z.next_out - r->buf);
		if (zrc == Z_STREAM_END)
			r->z_end = true;
		else if (zrc == Z_MEM_ERROR)
			return -ENOMEM;
		else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
			return fail(t, r, "corrupt zlib data");
	}
	return 0;
}

/* A window of the body holding at least one whole record (or all that is
 * left): *p and *n. */
static int window(struct vm_trace *t, struct vmt_rd *r, const uint8_t **p, size_t *n)
{
	if (r->zlib) {
		if (r->len - r->pos < VMT_RECORD_MAX && !r->z_end) {
			int rc = inflate_more(t, r, VMT_RECORD_MAX);
			if (rc)
				return rc;
		}
		*p = r->buf + r->pos;
		*n = r->len - r->pos;
		return 0;
	}
	if (t->in.len - t->in.pos < VMT_RECORD_MAX && !t->in.eof) {
		int rc = vm_tin_fill(&t->in, VMT_RECORD_MAX);
		if (rc)
			return rc;
	}
	*p = t->in.buf + t->in.pos;
	*n = t->in.len - t->in.pos;
	return 0;
}

static void consume(struct vm_trace *t, struct vmt_rd *r, size_t k)
{
	if (r->zlib)
		r->pos += k;
	else
		t->in.pos += k;
}

/* Decoding inside a window: d->i moves; d->bad is set on running out or
 * an overlong varint. */
struct dec {
	const uint8_t *p;
	size_t n, i;
	bool bad;
};

static inline uint64_t get_varint(struct dec *d)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (VM_UNLIKELY(d->i >= d->n)) {
			d->bad = true;
			return 0;
		}
		uint8_t b = d->p[d->i++];
		if (shift == 63 && b > 1) {
			d->bad = true;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	d->bad = true;
	return 0;
}

static const char *get_path(struct dec *d, char *out, const char **path)
{
	uint64_t len = get_varint(d);
	*path = NULL;
	if (d->bad || len == 0)
		return NULL;
	len--;
	if (len > VM_TRACE_PATH_MAX)
		return "path longer than 4095 bytes";
	if (d->n - d->i < len) {
		d->bad = true;
		return NULL;
	}
	memcpy(out, d->p + d->i, len);
	out[len] = '\0';
	d->i += len;
	if (strlen(out) != len)
		return "NUL byte in a path";
	*path = out;
	return NULL;
}

static const char *decode_access(struct vmt_rd *r, struct dec *d, uint8_t tag,
				 struct vm_trace_event *ev)
{
	ev->kind = VM_TEV_ACCESS;
	ev->access = (tag >> 5) & 3;
	ev->flags = 0;
	ev->path = NULL;
	bool fetch = ev->access == VM_ACC_EXEC;
	uint64_t delta = get_varint(d);
	uint64_t addr = (fetch ? r->next_x : r->last_d) + (uint64_t)vmt_unzigzag(delta);
	uint64_t size = tag & 15;
	if (size == 0) {
		size = get_varint(d);
		if (size < 16 && !d->bad)
			return "size below 16 written as a varint";
	}
	uint64_t count = 1;
	if (tag & 0x10) {
		count = get_varint(d) + 2;
		if (count < 2)
			return "count overflows";
	}
	if (d->bad)
		return NULL;
	if (size > VM_PAGE_SIZE || (addr & (VM_PAGE_SIZE - 1)) + size > VM_PAGE_SIZE)
		return "access not inside one page";
	ev->acc.addr = addr;
	ev->acc.size = (uint32_t)size;
	ev->acc.count = count;
	if (fetch)
		r->next_x = addr + size;
	else
		r->last_d = addr;
	return NULL;
}

/* Every record but accesses and PID. */
static const char *decode_other(struct vmt_rd *r, struct dec *d, uint8_t tag,
				struct vm_trace_event *ev)
{
	*ev = (struct vm_trace_event){ .pid = r->pid };
	switch (tag) {
	case VMT_SYSCALL: {
		ev->kind = VM_TEV_SYSCALL;
		uint64_t nr = get_varint(d), head = get_varint(d);
		if (nr > INT32_MAX || (head & 7) > VM_TEV_ARGS || head > 15)
			return d->bad ? NULL : "bad system-call number or argument count";
		ev->sys.nr = (int32_t)nr;
		ev->sys.nargs = (uint32_t)(head & 7);
		for (unsigned i = 0; i < ev->sys.nargs; i++)
			ev->sys.arg[i] = get_varint(d);
		if (head & 8)
			ev->flags = VM_TEV_F_NORET;
		else
			ev->sys.ret = vmt_unzigzag(get_varint(d));
		return get_path(d, r->path, &ev->path);
	}
	case VMT_XACCESS: {
		ev->kind = VM_TEV_ACCESS;
		uint64_t kf = get_varint(d);
		ev->access = kf & 3;
		if ((kf >> 2) > 0xffff)
			return "bad access flags";
		ev->flags = (uint16_t)(kf >> 2);
		if (!ev->flags)
			return "an access without flags in the long form";
		ev->acc.addr = get_varint(d);
		uint64_t size = get_varint(d);
		ev->acc.count = get_varint(d);
		if (size > VM_PAGE_SIZE)
			return "access not inside one page";
		ev->acc.size = (uint32_t)size;
		return NULL;
	}
	case VMT_MAP: {
		ev->kind = VM_TEV_MAP;
		uint64_t start = get_varint(d), pages = get_varint(d);
		uint64_t prot = get_varint(d), flags = get_varint(d), off = get_varint(d);
		uint64_t evf = get_varint(d);
		if (start >= (UINT64_C(1) << 52) || pages >= (UINT64_C(1) << 52) - start ||
		    prot > 0xffffffff || flags > 0xffffffff || off >= (UINT64_C(1) << 52) || evf > 0xffff)
			return d->bad ? NULL : "map segment out of range";
		ev->map.start = start << 12;
		ev->map.end = (start + pages) << 12;
		ev->map.prot = (uint32_t)prot;
		ev->map.flags = (uint32_t)flags;
		ev->map.offset = off << 12;
		ev->flags = (uint16_t)evf;
		return get_path(d, r->path, &ev->path);
	}
	case VMT_FORK: {
		ev->kind = VM_TEV_FORK;
		uint64_t child = get_varint(d);
		if (child > INT32_MAX)
			return "bad child process id";
		ev->fork.child = (int32_t)child;
		return NULL;
	}
	case VMT_EXEC:
		ev->kind = VM_TEV_EXEC;
		return get_path(d, r->path, &ev->path);
	case VMT_EXIT: {
		ev->kind = VM_TEV_EXIT;
		int64_t code = vmt_unzigzag(get_varint(d));
		if (code < INT32_MIN || code > INT32_MAX)
			return "exit code out of range";
		ev->exit.code = (int32_t)code;
		return NULL;
	}
	}
	return "unknown record type";
}

/* END: the count must agree, and nothing may follow. */
static int decode_end(struct vm_trace *t, struct vmt_rd *r, struct dec *d)
{
	uint64_t count = get_varint(d);
	if (d->bad)
		return fail(t, r, "truncated: the file ends inside the end record");
	if (count != r->events)
		return vm_trace_fail(t, 0, "the end record counts %llu events, the file holds %llu: "
				     "corrupt", (unsigned long long)count, (unsigned long long)r->events);
	r->ended = true;
	consume(t, r, d->i);
	int rc = r->zlib ? inflate_more(t, r, 1) : 0;
	if (rc == 0)
		rc = vm_tin_fill(&t->in, 1);
	if (rc)
		return rc;
	if ((r->zlib && r->len > r->pos) || t->in.len > t->in.pos)
		return vm_trace_fail(t, 0, "data after the end record");
	return 0;
}

static int vmt_next(struct vm_trace *t, struct vm_trace_event *ev)
{
	struct vmt_rd *r = t->priv;
	for (;;) {
		if (r->ended)
			return 0;
		struct dec d;
		int rc = window(t, r, &d.p, &d.n);
		if (rc)
			return rc;
		if (d.n == 0)
			return fail(t, r, "truncated: no end record");
		d.i = 1;
		d.bad = false;
		uint8_t tag = d.p[0];
		const char *bad;
		if (VM_LIKELY(tag & VMT_ACCESS)) {
			bad = decode_access(r, &d, tag, ev);
		} else if (tag == VMT_PID) {
			uint64_t pid = get_varint(&d);
			bad = !d.bad && (pid == 0 || pid > INT32_MAX) ? "bad process id" : NULL;
			r->pid = (int32_t)pid;
			if (!bad && !d.bad) {
				consume(t, r, d.i);
				continue;
			}
		} else if (tag == VMT_END) {
			return decode_end(t, r, &d);
		} else {
			bad = decode_other(r, &d, tag, ev);
		}
		if (d.bad && !bad)
			bad = "truncated: the file ends inside a record";
		if (!bad && r->pid == 0)
			bad = "an event before the first process record";
		ev->pid = r->pid;
		if (!bad && ev->kind != VM_TEV_ACCESS)
			bad = vm_trace_event_invalid(ev);
		if (!bad && ev->kind == VM_TEV_ACCESS && (tag & VMT_ACCESS) == 0)
			bad = vm_trace_event_invalid(ev);
		if (bad)
			return fail(t, r, bad);
		consume(t, r, d.i);
		r->events++;
		return 1;
	}
}

const struct trace_ops vm_trace_vmt_ops = {
	.name = "vmt",
	.desc = "vmlab's binary format: delta/varint accesses, runs collapsed, optional zlib",
	.detect = vmt_detect,
	.open = vmt_open,
	.next = vmt_next,
	.close = vmt_close,
};
