/*
 * Writing vmt (vmt.h, docs/formats.md).  Consecutive accesses of one
 * process, of one kind and flags, to one page become one record with a
 * count: the first access's address and size, and how many there were.
 * Every page-level figure (TLB lookups, walks, faults, Accessed and Dirty
 * bits, RSS) is the same for the run as for its accesses one by one; what
 * is lost is where inside the page the later ones fell.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"
#include "trace/vmt.h"

struct vmt_wr {
	int32_t pid;                  /* of the last PID record (0: none yet) */
	struct vm_trace_event run;    /* the access run not written yet */
	bool have_run;
	uint64_t next_x;              /* predicted next fetch: end of the last one */
	uint64_t last_d;              /* last data address */
	uint64_t records;             /* events written (all but PID and END) */
	uint8_t rec[VMT_RECORD_MAX + 16];
};

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static size_t put_path(uint8_t *p, const char *path)
{
	if (!path)
		return put_varint(p, 0);
	size_t len = strlen(path);
	size_t n = put_varint(p, len + 1);
	memcpy(p + n, path, len);
	return n + len;
}

static int vmt_begin(struct vm_trace_writer *w)
{
	struct vmt_wr *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	w->priv = v;
	uint8_t h[VMT_HEADER] = { 'V', 'M', 'T', 'R', VMT_VERSION, w->compress ? VMT_F_ZLIB : 0 };
	int rc = vm_tout_write(&w->out, h, sizeof(h));
	if (rc == 0 && w->compress)
		rc = vm_tout_compress(&w->out, VM_TOUT_ZLIB, w->level);
	return rc;
}

static int put_pid(struct vm_trace_writer *w, struct vmt_wr *v, int32_t pid)
{
	if (pid == v->pid)
		return 0;
	uint8_t b[8];
	b[0] = VMT_PID;
	size_t n = 1 + put_varint(b + 1, (uint64_t)pid);
	v->pid = pid;
	return vm_tout_write(&w->out, b, n);
}

static int put_access(struct vm_trace_writer *w, struct vmt_wr *v, const struct vm_trace_event *ev)
{
	uint8_t *b = v->rec;
	size_t n = 0;
	int rc = put_pid(w, v, ev->pid);
	if (rc)
		return rc;
	v->records++;
	if (ev->flags) {
		b[n++] = VMT_XACCESS;
		n += put_varint(b + n, ev->access | (uint64_t)ev->flags << 2);
		n += put_varint(b + n, ev->acc.addr);
		n += put_varint(b + n, ev->acc.size);
		n += put_varint(b + n, ev->acc.count);
		return vm_tout_write(&w->out, b, n);
	}
	bool fetch = ev->access == VM_ACC_EXEC;
	uint64_t pred = fetch ? v->next_x : v->last_d;
	uint8_t tag = (uint8_t)(VMT_ACCESS | ev->access << 5);
	if (ev->acc.count > 1)
		tag |= 0x10;
	if (ev->acc.size < 16)
		tag |= (uint8_t)ev->acc.size;
	b[n++] = tag;
	n += put_varint(b + n, vmt_zigzag((int64_t)(ev->acc.addr - pred)));
	if (ev->acc.size >= 16)
		n += put_varint(b + n, ev->acc.size);
	if (ev->acc.count > 1)
		n += put_varint(b + n, ev->acc.count - 2);
	if (fetch)
		v->next_x = ev->acc.addr + ev->acc.size;
	else
		v->last_d = ev->acc.addr;
	return vm_tout_write(&w->out, b, n);
}

static int flush_run(struct vm_trace_writer *w, struct vmt_wr *v)
{
	if (!v->have_run)
		return 0;
	v->have_run = false;
	return put_access(w, v, &v->run);
}

static int put_other(struct vm_trace_writer *w, struct vmt_wr *v, const struct vm_trace_event *ev)
{
	uint8_t *b = v->rec;
	size_t n = 0;
	int rc = put_pid(w, v, ev->pid);
	if (rc)
		return rc;
	v->records++;
	switch (ev->kind) {
	case VM_TEV_SYSCALL: {
		bool noret = ev->flags & VM_TEV_F_NORET;
		b[n++] = VMT_SYSCALL;
		n += put_varint(b + n, (uint64_t)ev->sys.nr);
		n += put_varint(b + n, ev->sys.nargs | (noret ? 8u : 0u));
		for (unsigned i = 0; i < ev->sys.nargs; i++)
			n += put_varint(b + n, ev->sys.arg[i]);
		if (!noret)
			n += put_varint(b + n, vmt_zigzag(ev->sys.ret));
		n += put_path(b + n, ev->path);
		break;
	}
	case VM_TEV_MAP:
		b[n++] = VMT_MAP;
		n += put_varint(b + n, ev->map.start >> 12);
		n += put_varint(b + n, (ev->map.end - ev->map.start) >> 12);
		n += put_varint(b + n, ev->map.prot);
		n += put_varint(b + n, ev->map.flags);
		n += put_varint(b + n, ev->map.offset >> 12);
		n += put_varint(b + n, ev->flags);
		n += put_path(b + n, ev->path);
		break;
	case VM_TEV_FORK:
		b[n++] = VMT_FORK;
		n += put_varint(b + n, (uint64_t)ev->fork.child);
		break;
	case VM_TEV_EXEC:
		b[n++] = VMT_EXEC;
		n += put_path(b + n, ev->path);
		break;
	case VM_TEV_EXIT:
		b[n++] = VMT_EXIT;
		n += put_varint(b + n, vmt_zigzag(ev->exit.code));
		break;
	default:
		return -EINVAL;
	}
	return vm_tout_write(&w->out, b, n);
}

static int vmt_put(struct vm_trace_writer *w, const struct vm_trace_event *ev)
{
	struct vmt_wr *v = w->priv;
	if (ev->kind == VM_TEV_ACCESS) {
		struct vm_trace_event *r = &v->run;
		if (v->have_run && r->pid == ev->pid && r->access == ev->access &&
		    r->flags == ev->flags && (r->acc.addr >> 12) == (ev->acc.addr >> 12) &&
		    r->acc.count <= UINT64_MAX - ev->acc.count) {
			r->acc.count += ev->acc.count;
			return 0;
		}
		int rc = flush_run(w, v);
		v->run = *ev;
		v->run.path = NULL;
		v->have_run = true;
		return rc;
	}
	int rc = flush_run(w, v);
	return rc ? rc : put_other(w, v, ev);
}

static int vmt_end(struct vm_trace_writer *w)
{
	struct vmt_wr *v = w->priv;
	int rc = flush_run(w, v);
	if (rc)
		return rc;
	uint8_t b[16];
	b[0] = VMT_END;
	size_t n = 1 + put_varint(b + 1, v->records);
	return vm_tout_write(&w->out, b, n);
}

static void vmt_free(struct vm_trace_writer *w)
{
	free(w->priv);
	w->priv = NULL;
}

const struct trace_writer_ops vm_trace_vmt_writer = {
	.name = "vmt",
	.begin = vmt_begin,
	.put = vmt_put,
	.end = vmt_end,
	.free = vmt_free,
};
