/*
 * Bytes in and out of trace files: a buffered source over a descriptor or a
 * memory buffer that gunzips on the fly (a .gz trace, or a compressed
 * stream piped into standard input, is recognised by gzip's magic, not by
 * its name), and a buffered sink that can deflate what it writes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "trace/trace.h"

#define TIN_CHUNK   ((size_t)1 << 20)   /* bytes asked of read(2) / inflate at once */
#define TIN_RAW     ((size_t)1 << 18)   /* compressed bytes read at once */

static const unsigned char gzip_magic[2] = { 0x1f, 0x8b };

static int tin_alloc(struct vm_tin *in, size_t cap)
{
	unsigned char *b = realloc(in->buf, cap);
	if (!b)
		return in->error = -ENOMEM;
	in->buf = b;
	in->cap = cap;
	return 0;
}

/* Raw bytes from the descriptor or the memory buffer into dst: the count,
 * 0 at the end, -EIO. */
static ssize_t raw_read(struct vm_tin *in, unsigned char *dst, size_t n)
{
	if (in->fd < 0) {
		size_t k = n < in->mem_len ? n : in->mem_len;
		memcpy(dst, in->mem, k);
		in->mem += k;
		in->mem_len -= k;
		return (ssize_t)k;
	}
	for (;;) {
		ssize_t k = read(in->fd, dst, n);
		if (k >= 0)
			return k;
		if (errno != EINTR)
			return -EIO;
	}
}

static int gz_start(struct vm_tin *in)
{
	z_stream *z = calloc(1, sizeof(*z));
	in->raw = malloc(TIN_RAW);
	if (!z || !in->raw) {
		free(z);
		return in->error = -ENOMEM;
	}
	if (inflateInit2(z, 16 + MAX_WBITS) != Z_OK) {
		free(z);
		return in->error = -ENOMEM;
	}
	in->z = z;
	in->gz = true;
	return 0;
}

/* Decode more gzip data into buf[len..cap). */
static int gz_more(struct vm_tin *in)
{
	z_stream *z = in->z;
	size_t before = in->len;
	while (in->len == before && !in->eof) {
		if (z->avail_in == 0) {
			ssize_t k = raw_read(in, in->raw, TIN_RAW);
			if (k < 0)
				return in->error = (int)k;
			if (k == 0) {
				/* The input ended inside a member. */
				return in->error = -EBADMSG;
			}
			z->next_in = in->raw;
			z->avail_in = (uInt)k;
		}
		z->next_out = in->buf + in->len;
		z->avail_out = (uInt)(in->cap - in->len);
		int rc = inflate(z, Z_NO_FLUSH);
		in->len = (size_t)(z->next_out - in->buf);
		if (rc == Z_STREAM_END) {
			/* Another member may follow (cat a.gz b.gz). */
			if (z->avail_in == 0) {
				ssize_t k = raw_read(in, in->raw, TIN_RAW);
				if (k < 0)
					return in->error = (int)k;
				z->next_in = in->raw;
				z->avail_in = (uInt)k;
			}
			if (z->avail_in == 0) {
				in->eof = true;
				break;
			}
			if (inflateReset(z) != Z_OK)
				return in->error = -EBADMSG;
		} else if (rc == Z_BUF_ERROR && z->avail_out == 0) {
			break;
		} else if (rc != Z_OK) {
			return in->error = rc == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
		}
	}
	return 0;
}

static int plain_more(struct vm_tin *in)
{
	ssize_t k = raw_read(in, in->buf + in->len, in->cap - in->len);
	if (k < 0)
		return in->error = (int)k;
	if (k == 0)
		in->eof = true;
	in->len += (size_t)k;
	return 0;
}

/* Look at the first bytes: a gzip stream is inflated from then on. */
static int tin_start(struct vm_tin *in)
{
	if (tin_alloc(in, TIN_CHUNK))
		return in->error;
	/* Read until two bytes are there (a pipe may deliver one at a time). */
	while (in->len < 2 && !in->eof)
		if (plain_more(in))
			return in->error;
	if (in->len >= 2 && memcmp(in->buf, gzip_magic, 2) == 0) {
		if (gz_start(in))
			return in->error;
		z_stream *z = in->z;
		memcpy(in->raw, in->buf, in->len);
		z->next_in = in->raw;
		z->avail_in = (uInt)in->len;
		in->len = 0;
		in->eof = false;
	}
	return 0;
}

int vm_tin_open_fd(struct vm_tin *in, int fd, bool own)
{
	memset(in, 0, sizeof(*in));
	in->fd = fd;
	in->own_fd = own;
	return tin_start(in);
}

int vm_tin_open_mem(struct vm_tin *in, const void *data, size_t len)
{
	memset(in, 0, sizeof(*in));
	in->fd = -1;
	in->mem = data;
	in->mem_len = len;
	return tin_start(in);
}

void vm_tin_close(struct vm_tin *in)
{
	if (in->z) {
		inflateEnd(in->z);
		free(in->z);
	}
	free(in->raw);
	free(in->buf);
	if (in->own_fd && in->fd >= 0)
		close(in->fd);
	memset(in, 0, sizeof(*in));
	in->fd = -1;
}

int vm_tin_fill(struct vm_tin *in, size_t want)
{
	if (in->error)
		return in->error;
	while (in->len - in->pos < want && !in->eof) {
		/* Keep the unread tail at the front, then make room. */
		if (in->pos) {
			memmove(in->buf, in->buf + in->pos, in->len - in->pos);
			in->len -= in->pos;
			in->pos = 0;
		}
		if (in->cap - in->len < TIN_CHUNK / 2 || in->cap < want)
			if (tin_alloc(in, in->cap * 2 > want + TIN_CHUNK ? in->cap * 2 : want + TIN_CHUNK))
				return in->error;
		if (in->gz ? gz_more(in) : plain_more(in))
			return in->error;
	}
	return 0;
}

int vm_tin_line(struct vm_tin *in, size_t max, const char **line, size_t *len, bool *partial)
{
	size_t scanned = 0;
	for (;;) {
		const unsigned char *s = in->buf + in->pos;
		size_t avail = in->len - in->pos;
		const unsigned char *nl = memchr(s + scanned, '\n', avail - scanned);
		if (nl) {
			size_t n = (size_t)(nl - s);
			if (n > max)
				return -E2BIG;
			*line = (const char *)s;
			*len = n;
			*partial = false;
			in->pos += n + 1;
			return 1;
		}
		if (avail > max)
			return -E2BIG;
		if (in->eof) {
			if (in->error)
				return in->error;
			if (avail == 0)
				return 0;
			*line = (const char *)s;
			*len = avail;
			*partial = true;
			in->pos += avail;
			return 1;
		}
		scanned = avail;
		if (vm_tin_fill(in, avail + 1))
			return in->error;
	}
}

/* The sink. */

void vm_tout_init(struct vm_tout *o, FILE *f)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
}

#define ZBUF (1u << 16)

/* Push buf through deflate (flush: Z_NO_FLUSH or Z_FINISH) into the FILE. */
static int deflate_out(struct vm_tout *o, int flush)
{
	z_stream *z = o->z;
	z->next_in = o->buf;
	z->avail_in = (uInt)o->len;
	int rc;
	do {
		z->next_out = o->zbuf;
		z->avail_out = ZBUF;
		rc = deflate(z, flush);
		if (rc == Z_STREAM_ERROR)
			return o->error = -EIO;
		size_t have = ZBUF - z->avail_out;
		if (have && fwrite(o->zbuf, 1, have, o->f) != have)
			return o->error = -EIO;
	} while (z->avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
	o->len = 0;
	return 0;
}

static int tout_flush(struct vm_tout *o)
{
	if (o->error)
		return o->error;
	if (o->z)
		return deflate_out(o, Z_NO_FLUSH);
	if (o->len && fwrite(o->buf, 1, o->len, o->f) != o->len)
		return o->error = -EIO;
	o->len = 0;
	return 0;
}

int vm_tout_compress(struct vm_tout *o, enum vm_tout_z how, int level)
{
	if (how == VM_TOUT_PLAIN || o->z)
		return 0;
	if (tout_flush(o))
		return o->error;
	z_stream *z = calloc(1, sizeof(*z));
	o->zbuf = malloc(ZBUF);
	if (!z || !o->zbuf ||
	    deflateInit2(z, level, Z_DEFLATED, how == VM_TOUT_GZIP ? 16 + MAX_WBITS : MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		free(o->zbuf);
		o->zbuf = NULL;
		return o->error = -ENOMEM;
	}
	o->z = z;
	return 0;
}

int vm_tout_write(struct vm_tout *o, const void *p, size_t n)
{
	const unsigned char *s = p;
	while (n) {
		if (o->len == sizeof(o->buf) && tout_flush(o))
			return o->error;
		size_t k = sizeof(o->buf) - o->len;
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
	return o->error;
}

int vm_tout_printf(struct vm_tout *o, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return o->error = -EIO;
	return vm_tout_write(o, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int vm_tout_finish(struct vm_tout *o)
{
	if (o->z) {
		if (!o->error)
			deflate_out(o, Z_FINISH);
		deflateEnd(o->z);
		free(o->z);
		free(o->zbuf);
		o->z = NULL;
		o->zbuf = NULL;
	} else {
		tout_flush(o);
	}
	if (fflush(o->f) != 0 || ferror(o->f))
		o->error = o->error ? o->error : -EIO;
	return o->error;
}
