/*
 * Joining a capture's per-process vmt files into one process tree
 * (capture_vgtool.h, docs/vgtool.md), while the capture runs or after it.
 *
 * The tool writes PREFIX.PID.SEQ.vmt per process image (SEQ: 1 from the
 * process's start or fork, 2 after its first exec, ...).  The joined trace
 * reads them as the lackey reader reads a capture's logs: the first
 * process's file; at a FORK of child C, C's next file whole, with what it
 * starts, then the parent goes on; after an EXEC, the same pid's next file.
 *
 * Records are copied as bytes: only the first fetch and the first data
 * access after a switch of file are encoded again, because their address
 * is a delta from a prediction (vmt.h) that the file before them left
 * elsewhere; from then on the output's predictions are the file's and
 * every record is the file's own.  The result is the file vmt_write.c
 * would write for the same events (the tool collapses runs as it does).
 *
 * Live: with an alive() callback the files are read as they grow (a
 * record cut by the end of the data so far is read again when more has
 * come), and a file that ends with EXEC and END is taken as an exec only
 * when the exec is confirmed — the pid's next file exists, or the process
 * no longer runs the tool — because a failed execve takes the two records
 * back (the tool truncates its file and goes on).
 */
#define _GNU_SOURCE           /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/u64map.h"
#include "trace/capture_vgtool.h"
#include "trace/trace.h"
#include "trace/vmt.h"

#define READ_CHUNK (1u << 20)

/* One file being read. */
struct src {
	int fd;
	char *path;
	int32_t pid;
	uint64_t seq;
	uint8_t *buf;             /* bytes read: [pos, len) not consumed */
	size_t pos, len, cap;
	uint64_t off;             /* file offset of buf[len] */
	bool header;              /* the header was read */
	uint64_t next_x, last_d;  /* the file's address predictions */
	uint64_t records;         /* event records read (all but PID and END) */
	uint64_t released;        /* live: the file's blocks below this offset are freed */
	bool writable;            /* opened read-write, so that they can be */
};

struct join {
	const char *prefix;
	const struct vm_vgtool_opts *opts;
	bool (*alive)(void *ctx, int32_t pid);   /* NULL: the files are complete */
	void *ctx;
	struct vm_host host;
	struct vm_u64map next_seq;        /* pid -> SEQ of its next file */
	struct src **stack;
	unsigned depth, cap;
	struct vm_tout out;
	int32_t out_pid;
	uint64_t out_x, out_d;            /* the output's address predictions */
	uint64_t out_records;
	struct vm_vgtool_result *res;
	struct vm_error *err;
};

/* One record as scanned. */
struct rec {
	uint8_t tag;
	size_t len;
	uint64_t a, b;            /* access: delta, size; PID, FORK, END: the value */
	uint64_t count;           /* access */
};

enum { SCAN_BAD = -1, SCAN_SHORT = 0 };

static void pause_briefly(void)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* Varint at p[*i..n): 1, SCAN_SHORT, SCAN_BAD (longer than 64 bits). */
static int get_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*i >= n)
			return SCAN_SHORT;
		uint8_t b = p[(*i)++];
		if (shift == 63 && b > 1)
			return SCAN_BAD;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 1;
		}
	}
	return SCAN_BAD;
}

#define VARINT(v) do { int r_ = get_varint(p, n, &i, &(v)); if (r_ <= 0) return r_; } while (0)

static int skip_path(const uint8_t *p, size_t n, size_t *ip)
{
	size_t i = *ip;
	uint64_t len;
	VARINT(len);
	if (len > VM_TRACE_PATH_MAX + 1)
		return SCAN_BAD;
	if (len && n - i < len - 1)
		return SCAN_SHORT;
	*ip = i + (len ? len - 1 : 0);
	return 1;
}

/* The record at p[0..n): its length in r->len (> 0), SCAN_SHORT or SCAN_BAD. */
static int scan(const uint8_t *p, size_t n, struct rec *r)
{
	size_t i = 1;
	uint64_t x;
	int rc;
	if (n == 0)
		return SCAN_SHORT;
	r->tag = p[0];
	if (r->tag & VMT_ACCESS) {
		VARINT(r->a);
		r->b = r->tag & 15;
		if (r->b == 0)
			VARINT(r->b);
		r->count = 1;
		if (r->tag & 0x10) {
			VARINT(r->count);
			r->count += 2;
		}
	} else {
		switch (r->tag) {
		case VMT_END:
		case VMT_PID:
		case VMT_FORK:
		case VMT_EXIT:
			VARINT(r->b);
			break;
		case VMT_SYSCALL: {
			uint64_t head;
			VARINT(x);
			VARINT(head);
			if ((head & 7) > VM_TEV_ARGS || head > 15)
				return SCAN_BAD;
			for (unsigned k = 0; k < (head & 7); k++)
				VARINT(x);
			if (!(head & 8))
				VARINT(x);
			if ((rc = skip_path(p, n, &i)) <= 0)
				return rc;
			break;
		}
		case VMT_XACCESS:
			for (unsigned k = 0; k < 4; k++)
				VARINT(x);
			break;
		case VMT_MAP:
			for (unsigned k = 0; k < 6; k++)
				VARINT(x);
			/* fallthrough */
		case VMT_EXEC:
			if ((rc = skip_path(p, n, &i)) <= 0)
				return rc;
			break;
		default:
			return SCAN_BAD;
		}
	}
	r->len = i;
	return 1;
}

/* Output. */

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

static int out_pid(struct join *j, int32_t pid)
{
	if (pid == j->out_pid)
		return 0;
	uint8_t b[8];
	b[0] = VMT_PID;
	j->out_pid = pid;
	return vm_tout_write(&j->out, b, 1 + put_varint(b + 1, (uint64_t)pid));
}

/* An access record at the file's address addr, encoded against the
 * output's prediction (as vmt_write.c encodes it). */
static int out_access(struct join *j, const struct rec *r, uint64_t addr)
{
	uint8_t b[40];
	size_t n = 0;
	bool fetch = ((r->tag >> 5) & 3) == VM_ACC_EXEC;
	uint64_t pred = fetch ? j->out_x : j->out_d;
	b[n++] = r->tag;
	n += put_varint(b + n, vmt_zigzag((int64_t)(addr - pred)));
	if ((r->tag & 15) == 0)
		n += put_varint(b + n, r->b);
	if (r->tag & 0x10)
		n += put_varint(b + n, r->count - 2);
	return vm_tout_write(&j->out, b, n);
}

/* Files. */

static void src_free(struct src *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->path);
	free(s->buf);
	free(s);
}

/* Live, the disk need not keep what was joined: free the file's blocks
 * below upto (fallocate PUNCH_HOLE; the size stays, so the tool's writes
 * go on at its end).  On a file system without holes
 * the file stays whole until it is removed. */
static void src_release(struct src *s, uint64_t upto)
{
	if (!s->writable || upto <= s->released)
		return;
	if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)s->released,
		      (off_t)(upto - s->released)) == 0)
		s->released = upto;
	else
		s->writable = false;
}

/* More bytes of s: 1 (some came), 0 (none now), or -EIO/-ENOMEM. */
static int src_read(struct src *s)
{
	if (s->pos) {
		memmove(s->buf, s->buf + s->pos, s->len - s->pos);
		s->len -= s->pos;
		s->pos = 0;
		src_release(s, (s->off - s->len) & ~(uint64_t)(READ_CHUNK - 1));
	}
	if (s->cap - s->len < READ_CHUNK / 2) {
		size_t cap = s->cap ? 2 * s->cap : READ_CHUNK;
		uint8_t *p = realloc(s->buf, cap);
		if (!p)
			return -ENOMEM;
		s->buf = p;
		s->cap = cap;
	}
	ssize_t k;
	do
		k = pread(s->fd, s->buf + s->len, s->cap - s->len, (off_t)s->off);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return -EIO;
	s->len += (size_t)k;
	s->off += (uint64_t)k;
	return k > 0;
}

/* Drop what was read from file offset at on (a failed exec's two records
 * that the tool took back). */
static void src_rewind(struct src *s, uint64_t at)
{
	uint64_t buf_start = s->off - s->len;
	s->len = (size_t)(at - buf_start);
	s->off = at;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static char *file_name(const struct join *j, int32_t pid, uint64_t seq)
{
	size_t n = strlen(j->prefix) + 48;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s.%d.%llu.vmt", j->prefix, pid, (unsigned long long)seq);
	return p;
}

/* pid's next file: 1 and *out, 0 if there is none (and none will come),
 * or -ENOMEM/-EIO.  Live, it waits for the file while pid runs. */
static int src_open(struct join *j, int32_t pid, struct src **out)
{
	uint64_t seq = 1;
	vm_u64map_get(&j->next_seq, (uint64_t)pid, &seq);
	char *path = file_name(j, pid, seq);
	if (!path)
		return -ENOMEM;
	int fd;
	/* Live and not kept, the join frees what it has read (src_release). */
	int mode = (j->alive && !j->opts->keep ? O_RDWR : O_RDONLY) | O_CLOEXEC;
	for (;;) {
		fd = open(path, mode);
		if (fd >= 0 || errno != ENOENT)
			break;
		if (!j->alive || !j->alive(j->ctx, pid)) {
			/* One more look: it may have come as the process ended. */
			fd = open(path, mode);
			break;
		}
		pause_briefly();
	}
	if (fd < 0) {
		free(path);
		return 0;     /* not traced: the process ran no tool */
	}
	struct src *s = calloc(1, sizeof(*s));
	if (!s || vm_u64map_put(&j->next_seq, (uint64_t)pid, seq + 1)) {
		close(fd);
		free(path);
		free(s);
		return -ENOMEM;
	}
	s->fd = fd;
	s->writable = (mode & O_ACCMODE) == O_RDWR;
	s->path = path;
	s->pid = pid;
	s->seq = seq;
	j->res->streams++;
	*out = s;
	return 1;
}

static int push(struct join *j, int32_t pid)
{
	if (j->depth == j->cap) {
		unsigned cap = j->cap ? 2 * j->cap : 16;
		struct src **p = realloc(j->stack, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		j->stack = p;
		j->cap = cap;
	}
	struct src *s = NULL;
	int rc = src_open(j, pid, &s);
	if (rc == 1)
		j->stack[j->depth++] = s;
	return rc < 0 ? rc : 0;
}

/* s stops here: it was cut (its process killed, Valgrind killed, a full
 * disk) or is not a tool file.  What it gave is kept. */
static void cut(struct join *j, const struct src *s, const char *why)
{
	if (!j->res->truncated)
		snprintf(j->res->note, sizeof(j->res->note),
			 "the trace of process %d was cut: %s: event %llu: %s", s->pid, s->path,
			 (unsigned long long)s->records + 1, why);
	j->res->truncated = true;
}

/* Does the file still hold the bytes of s's buffer from its position to
 * file offset end (the EXEC and END records read)? */
static bool same_bytes(const struct src *s, uint64_t end)
{
	uint8_t b[VMT_RECORD_MAX + 16];
	uint64_t at = s->off - (s->len - s->pos);
	size_t n = (size_t)(end - at);
	if (n > sizeof(b))
		return true;
	return pread(s->fd, b, n, (off_t)at) == (ssize_t)n && memcmp(b, s->buf + s->pos, n) == 0;
}

/* Was the exec at the end of s (EXEC, END, ending at file offset end)
 * real?  1 yes, 0 no (the tool took the records back), live. */
static int exec_confirmed(struct join *j, const struct src *s, uint64_t end)
{
	char *next = file_name(j, s->pid, s->seq + 1);
	char proc[64], exe[4096];
	snprintf(proc, sizeof(proc), "/proc/%d/exe", s->pid);
	int rc = -1;
	while (rc < 0) {
		struct stat st;
		if (fstat(s->fd, &st) == 0 && (uint64_t)st.st_size != end)
			rc = 0;
		else if (!same_bytes(s, end))
			rc = 0;
		else if (!next || file_exists(next) || !j->alive(j->ctx, s->pid))
			rc = 1;
		else {
			/* A successful exec leaves the tool: the process runs another
			 * program (the launcher, or an untraced one). */
			ssize_t n = readlink(proc, exe, sizeof(exe) - 1);
			exe[n > 0 ? n : 0] = '\0';
			size_t len = strlen(exe);
			if (n > 0 && (len < 17 || strcmp(exe + len - 17, "vmlab-amd64-linux") != 0))
				rc = 1;
			else
				pause_briefly();
		}
	}
	free(next);
	return rc;
}

/* Copy s's records from rec_start (its PID record gone) until its END, a
 * FORK (1: *child set) or its cut.  0 at its end (*exec: it ended with an
 * exec), 1 at a fork, or -ENOMEM/-EIO. */
static int copy(struct join *j, struct src *s, int32_t *child, bool *exec)
{
	int rc;
	*exec = false;
	for (;;) {
		struct rec r;
		const uint8_t *p = s->buf + s->pos;
		size_t n = s->len - s->pos;
		if (!s->header) {
			if (n < VMT_HEADER) {
				rc = SCAN_SHORT;
			} else if (memcmp(p, VMT_MAGIC, 4) != 0 || p[4] != VMT_VERSION || p[5] != 0) {
				cut(j, s, "not a vmt file of the tool");
				return 0;
			} else {
				s->pos += VMT_HEADER;
				s->header = true;
				continue;
			}
		} else {
			rc = scan(p, n, &r);
		}
		if (rc == SCAN_BAD) {
			cut(j, s, "a malformed record");
			return 0;
		}
		if (rc == SCAN_SHORT) {
			int k = src_read(s);
			if (k < 0)
				return k;
			if (k == 0 && j->alive && j->alive(j->ctx, s->pid))
				pause_briefly();
			else if (k == 0) {
				/* Once more: its last bytes may have come as it ended. */
				if ((k = src_read(s)) < 0)
					return k;
				if (k == 0) {
					cut(j, s, n ? "the file ends inside a record" : "no end record");
					return 0;
				}
			}
			continue;
		}
		uint8_t tag = r.tag;
		if (tag == VMT_PID) {
			if (r.b != (uint64_t)s->pid) {
				cut(j, s, "a record of another process");
				return 0;
			}
			s->pos += r.len;
			continue;
		}
		if (tag == VMT_END) {
			if (r.b != s->records)
				cut(j, s, "the end record miscounts its events");
			return 0;
		}
		if ((rc = out_pid(j, s->pid)))
			return rc;
		if (tag == VMT_EXEC) {
			/* EXEC and END ends the image; live, only once confirmed. */
			struct rec e;
			int k = scan(p + r.len, n - r.len, &e);
			if (k == SCAN_SHORT && !(j->alive && j->alive(j->ctx, s->pid))) {
				if ((k = src_read(s)) < 0)
					return k;
				if (k == 0) {
					cut(j, s, "the file ends after an exec without its end record");
					return 0;
				}
				continue;
			}
			if (k == SCAN_SHORT) {
				if ((k = src_read(s)) < 0)
					return k;
				if (k == 0)
					pause_briefly();
				continue;
			}
			if (k == 1 && e.tag == VMT_END && j->alive) {
				uint64_t at = s->off - (s->len - s->pos);
				if (!exec_confirmed(j, s, at + r.len + e.len)) {
					src_rewind(s, at);
					continue;
				}
			}
			*exec = k == 1 && e.tag == VMT_END;
		}
		if (tag & VMT_ACCESS) {
			bool fetch = ((tag >> 5) & 3) == VM_ACC_EXEC;
			uint64_t *pred = fetch ? &s->next_x : &s->last_d;
			uint64_t *opred = fetch ? &j->out_x : &j->out_d;
			uint64_t addr = *pred + (uint64_t)vmt_unzigzag(r.a);
			if (*opred == *pred)
				rc = vm_tout_write(&j->out, p, r.len);
			else
				rc = out_access(j, &r, addr);
			*pred = *opred = fetch ? addr + r.b : addr;
			j->res->accesses += r.count;
		} else {
			rc = vm_tout_write(&j->out, p, r.len);
		}
		if (rc)
			return rc;
		s->pos += r.len;
		s->records++;
		j->out_records++;
		if (tag == VMT_FORK) {
			if (r.b == 0 || r.b > INT32_MAX) {
				cut(j, s, "a fork of a bad process id");
				return 0;
			}
			*child = (int32_t)r.b;
			return 1;
		}
	}
}

static int join_all(struct join *j)
{
	while (j->depth) {
		struct src *s = j->stack[j->depth - 1];
		int32_t child = 0;
		bool exec = false;
		int rc = copy(j, s, &child, &exec);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if ((rc = push(j, child)))
				return rc;
			continue;
		}
		int32_t pid = s->pid;
		j->res->stream_bytes += s->off;
		/* Live, a joined file's blocks go at once: the disk holds only
		 * what the join has not read yet.  Its name stays until the
		 * end, because the tool numbers a process's next image by the
		 * lowest free SEQ. */
		src_release(s, s->off);
		src_free(s);
		j->depth--;
		if (exec && !j->opts->no_children && (rc = push(j, pid)))
			return rc;
	}
	return 0;
}

int vm_vgtool_join_live(const char *prefix, int32_t root, const struct vm_vgtool_opts *opts,
			FILE *out, bool (*alive)(void *ctx, int32_t pid), void *ctx,
			struct vm_vgtool_result *res, struct vm_error *err)
{
	if (!prefix || root <= 0 || !opts || !out || !res)
		return vm_error_set(err, "vm_vgtool_join: bad arguments");
	struct join j = { .prefix = prefix, .opts = opts, .alive = alive, .ctx = ctx, .res = res,
			  .err = err };
	vm_u64map_init(&j.next_seq, &j.host);
	res->truncated = false;
	res->note[0] = '\0';
	res->streams = 0;
	res->events = 0;
	res->accesses = 0;
	res->stream_bytes = 0;
	vm_tout_init(&j.out, out);
	uint8_t h[VMT_HEADER] = { 'V', 'M', 'T', 'R', VMT_VERSION, opts->compress ? VMT_F_ZLIB : 0 };
	int rc = vm_tout_write(&j.out, h, sizeof(h));
	if (rc == 0 && opts->compress)
		rc = vm_tout_compress(&j.out, VM_TOUT_ZLIB, opts->level);
	if (rc == 0)
		rc = push(&j, root);
	if (rc == 0 && j.depth == 0) {
		vm_error_set(err, "%s.%d.1.vmt: no such file: Valgrind wrote no trace", prefix, root);
		rc = -ENOENT;
	}
	if (rc == 0)
		rc = join_all(&j);
	res->events = j.out_records;
	if (rc == 0 && !res->truncated) {
		uint8_t b[16];
		b[0] = VMT_END;
		rc = vm_tout_write(&j.out, b, 1 + put_varint(b + 1, j.out_records));
	}
	int rc2 = vm_tout_finish(&j.out);
	if (rc == 0)
		rc = rc2;
	if (rc == -ENOMEM)
		vm_error_set(err, "out of memory");
	else if (rc == -EIO)
		vm_error_set(err, "cannot read the capture's files or write the trace: %s",
			     strerror(errno ? errno : EIO));
	while (j.depth)
		src_free(j.stack[--j.depth]);
	free(j.stack);
	vm_u64map_fini(&j.next_seq);
	return rc;
}

int vm_vgtool_join(const char *prefix, int32_t root, const struct vm_vgtool_opts *opts, FILE *out,
		   struct vm_vgtool_result *res, struct vm_error *err)
{
	return vm_vgtool_join_live(prefix, root, opts, out, NULL, NULL, res, err);
}
