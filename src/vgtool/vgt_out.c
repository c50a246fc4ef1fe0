/*
 * The vmt encoder of the tool (docs/formats.md "vmt" is the specification;
 * src/trace/vmt_write.c is vmlab's own writer, which this one must agree
 * with byte for byte on the same events).
 *
 * Records go into a 1 MiB buffer and reach the file in whole records, so
 * that a process killed at any moment leaves a file that ends at a record
 * boundary: readers then report it as truncated at the last complete
 * event.  Consecutive accesses of one kind and flags to one page are one
 * record with a count (a run); --vmt-exact=yes writes every access.
 */
#include "pub_tool_basics.h"
#include "pub_tool_libcassert.h"
#include "pub_tool_libcbase.h"
#include "pub_tool_libcfile.h"
#include "pub_tool_libcprint.h"
#include "pub_tool_libcproc.h"
#include "pub_tool_vki.h"
#include "pub_tool_vkiscnums.h"

#include "vgt.h"

/* Two functions of coregrind that the tool headers do not declare: the raw
 * system call (pub_core_syscall.h; the tool API has no ftruncate) and
 * moving a descriptor out of the client's range (pub_core_libcfile.h). */
extern SysRes VG_(do_syscall)(UWord sysno, RegWord a1, RegWord a2, RegWord a3, RegWord a4,
			      RegWord a5, RegWord a6, RegWord a7, RegWord a8);
extern Int VG_(safe_fd)(Int oldfd);

/* vmt.h, repeated: this file cannot include vmlab's headers (no libc). */
#define VMT_END     0x00
#define VMT_PID     0x01
#define VMT_SYSCALL 0x02
#define VMT_XACCESS 0x03
#define VMT_MAP     0x04
#define VMT_FORK    0x05
#define VMT_EXEC    0x06
#define VMT_EXIT    0x07
#define VMT_ACCESS  0x80
#define VMT_RECORD_MAX (1 + 5 + 1 + 6 * 10 + 10 + 2 + VGT_PATH_MAX)

#define BUF_SIZE (1u << 20)

struct vgt_run vgt_run = { .key = VGT_NO_RUN };

static struct {
	Int fd;                  /* the file, or -1 */
	HChar path[VGT_PATH_MAX + 64];
	Bool failed;             /* a write failed: nothing more is written */
	ULong records;           /* event records written (all but PID and END) */
	ULong file_off;          /* bytes in the file */
	Addr next_x;             /* predicted next fetch: end of the last X record's access */
	Addr last_d;             /* address of the last R/W/M record */
	/* A pending execve: EXEC and END written at exec_off. */
	Bool exec_pending;
	ULong exec_off, exec_records;
	UInt len;                /* bytes in buf */
	UChar buf[BUF_SIZE];
} out = { .fd = -1 };

static UChar *room(void)
{
	if (BUF_SIZE - out.len < VMT_RECORD_MAX)
		vgt_out_flush();
	return out.buf + out.len;
}

static inline UInt put_varint(UChar *p, ULong v)
{
	UInt n = 0;
	while (v >= 0x80) {
		p[n++] = (UChar)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (UChar)v;
	return n;
}

static inline ULong zigzag(Long v)
{
	return ((ULong)v << 1) ^ (ULong)(v >> 63);
}

static UInt put_path(UChar *p, const HChar *path)
{
	if (!path)
		return put_varint(p, 0);
	SizeT len = VG_(strlen)(path);
	if (len > VGT_PATH_MAX)
		len = VGT_PATH_MAX;
	UInt n = put_varint(p, len + 1);
	VG_(memcpy)(p + n, path, len);
	return n + (UInt)len;
}

void vgt_out_flush(void)
{
	UInt done = 0;
	while (done < out.len && !out.failed && out.fd >= 0) {
		Int w = VG_(write)(out.fd, out.buf + done, (Int)(out.len - done));
		if (w <= 0) {
			out.failed = True;
			VG_(fmsg)("vmlab: cannot write %s (error %d): the trace of this process "
				  "ends here\n", out.path, -w);
			break;
		}
		done += (UInt)w;
		out.file_off += (ULong)w;
	}
	out.len = 0;
}

/* NAME.PID.SEQ.vmt with the lowest SEQ not taken yet. */
static void create_file(const HChar *prefix)
{
	Int pid = VG_(getpid)();
	for (Int seq = 1; seq < 100000; seq++) {
		VG_(snprintf)(out.path, sizeof(out.path), "%s.%d.%d.vmt", prefix, pid, seq);
		SysRes r = VG_(open)(out.path, VKI_O_CREAT | VKI_O_EXCL | VKI_O_WRONLY, 0644);
		if (!sr_isError(r)) {
			/* Out of the client's descriptor range (and closed on exec). */
			out.fd = VG_(safe_fd)((Int)sr_Res(r));
			return;
		}
		if (sr_Err(r) != VKI_EEXIST) {
			VG_(fmsg)("vmlab: cannot create %s (error %lu)\n", out.path, sr_Err(r));
			VG_(exit)(1);
		}
	}
	VG_(fmsg)("vmlab: %s: too many files of process %d\n", prefix, pid);
	VG_(exit)(1);
}

static void start_stream(const HChar *prefix)
{
	create_file(prefix);
	out.failed = False;
	out.records = 0;
	out.file_off = 0;
	out.next_x = out.last_d = 0;
	out.exec_pending = False;
	out.len = 0;
	vgt_run.key = VGT_NO_RUN;
	/* Header: "VMTR", version 1, flags 0 (plain: the tool has no zlib). */
	UChar *p = out.buf;
	p[0] = 'V';
	p[1] = 'M';
	p[2] = 'T';
	p[3] = 'R';
	p[4] = 1;
	p[5] = 0;
	p[6] = VMT_PID;
	out.len = 7 + put_varint(p + 7, (ULong)VG_(getpid)());
	vgt_out_flush();
}

void vgt_out_open(const HChar *prefix)
{
	start_stream(prefix);
}

void vgt_out_reopen_child(const HChar *prefix)
{
	/* The parent flushed its buffer before the fork (vgt_fork_pre); what the
	 * child inherited of it belongs to the parent. */
	if (out.fd >= 0)
		VG_(close)(out.fd);
	out.fd = -1;
	start_stream(prefix);
}

/* The pending run as one record. */
static void put_run(void)
{
	struct vgt_run *r = &vgt_run;
	UInt kind = r->key & 3, flags = (r->key >> 2) & 1;
	UChar *b = room();
	UInt n = 0;
	out.records++;
	if (flags) {
		b[n++] = VMT_XACCESS;
		n += put_varint(b + n, kind | (ULong)flags << 2);
		n += put_varint(b + n, r->addr);
		n += put_varint(b + n, r->size);
		n += put_varint(b + n, r->count);
		out.len += n;
		return;
	}
	Bool fetch = kind == VGT_X;
	Addr pred = fetch ? out.next_x : out.last_d;
	UChar tag = (UChar)(VMT_ACCESS | kind << 5);
	if (r->count > 1)
		tag |= 0x10;
	if (r->size < 16)
		tag |= (UChar)r->size;
	b[n++] = tag;
	n += put_varint(b + n, zigzag((Long)(r->addr - pred)));
	if (r->size >= 16)
		n += put_varint(b + n, r->size);
	if (r->count > 1)
		n += put_varint(b + n, r->count - 2);
	if (fetch)
		out.next_x = r->addr + r->size;
	else
		out.last_d = r->addr;
	out.len += n;
}

void vgt_run_flush(void)
{
	if (vgt_run.key == VGT_NO_RUN)
		return;
	put_run();
	vgt_run.key = VGT_NO_RUN;
}

void vgt_access(Addr addr, UWord size, UInt kind, UInt flags, ULong n)
{
	if (addr - vgt_tramp_start < vgt_tramp_len)
		addr = addr - vgt_tramp_start + VGT_TRAMPOLINE;   /* whole, before the split */
	Addr end = addr + size;
	if (size == 0 || end < addr)
		return;          /* nothing, or wraps around: no access can */
	while (addr < end) {
		Addr page = addr & VGT_PAGE_MASK;
		UWord piece = (end - page > VGT_PAGE ? page + VGT_PAGE : end) - addr;
		ULong key = page | kind | (ULong)flags << 2;
		if (key == vgt_run.key && !vgt_exact) {
			vgt_run.count += n;
		} else {
			vgt_run_flush();
			vgt_run.key = key;
			vgt_run.addr = addr;
			vgt_run.size = piece;
			vgt_run.count = n;
			if (vgt_exact)
				vgt_run_flush();
		}
		addr += piece;     /* each piece is an access, as vm_trace_next splits them */
	}
}

void vgt_ev_syscall(UInt nr, UInt nargs, const UWord *args, Long ret, const HChar *path)
{
	vgt_run_flush();
	UChar *b = room();
	UInt n = 0;
	b[n++] = VMT_SYSCALL;
	n += put_varint(b + n, nr);
	n += put_varint(b + n, nargs);
	for (UInt i = 0; i < nargs; i++)
		n += put_varint(b + n, args[i]);
	n += put_varint(b + n, zigzag(ret));
	n += put_path(b + n, path);
	out.len += n;
	out.records++;
}

void vgt_ev_map(Addr start, Addr end, UInt prot, UInt mapflags, ULong offset, UInt evflags,
		const HChar *path)
{
	vgt_run_flush();
	UChar *b = room();
	UInt n = 0;
	b[n++] = VMT_MAP;
	n += put_varint(b + n, start >> 12);
	n += put_varint(b + n, (end - start) >> 12);
	n += put_varint(b + n, prot);
	n += put_varint(b + n, mapflags);
	n += put_varint(b + n, offset >> 12);
	n += put_varint(b + n, evflags);
	n += put_path(b + n, path);
	out.len += n;
	out.records++;
}

void vgt_ev_fork(Int child)
{
	vgt_run_flush();
	UChar *b = room();
	b[0] = VMT_FORK;
	out.len += 1 + put_varint(b + 1, (ULong)child);
	out.records++;
}

void vgt_ev_exec(const HChar *path)
{
	vgt_run_flush();
	UChar *b = room();
	b[0] = VMT_EXEC;
	out.len += 1 + put_path(b + 1, path);
	out.records++;
}

void vgt_ev_exit(Int code)
{
	vgt_run_flush();
	UChar *b = room();
	b[0] = VMT_EXIT;
	out.len += 1 + put_varint(b + 1, zigzag(code));
	out.records++;
}

static void put_end(void)
{
	UChar *b = room();
	b[0] = VMT_END;
	out.len += 1 + put_varint(b + 1, out.records);
}

void vgt_out_finish(void)
{
	if (out.exec_pending || out.fd < 0)
		return;          /* an exec that Valgrind could not recover from: already ended */
	vgt_run_flush();
	put_end();
	vgt_out_flush();
	VG_(close)(out.fd);
	out.fd = -1;
}

void vgt_out_exec_begin(const HChar *path)
{
	vgt_run_flush();
	vgt_out_flush();
	out.exec_off = out.file_off;
	out.exec_records = out.records;
	out.exec_pending = True;
	vgt_ev_exec(path);
	put_end();
	vgt_out_flush();
}

void vgt_out_exec_failed(void)
{
	if (!out.exec_pending)
		return;
	out.exec_pending = False;
	out.records = out.exec_records;
	if (out.failed || out.fd < 0)
		return;
	VG_(lseek)(out.fd, (Off64T)out.exec_off, VKI_SEEK_SET);
	VG_(do_syscall)(__NR_ftruncate, (RegWord)out.fd, (RegWord)out.exec_off, 0, 0, 0, 0, 0, 0);
	out.file_off = out.exec_off;
}
