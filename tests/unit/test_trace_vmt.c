/*
 * vmt and the round trip between formats: lackey -> vmt -> text -> vmt
 * gives byte-identical files and identical event streams; every event kind
 * and flag survives vmt and text; collapsing runs keeps every page-level
 * count; truncated, corrupt and other-version files are refused with the
 * event number.
 */
#include <inttypes.h>

#include "kernel/uapi.h"
#include "tap.h"
#include "trace/vmt.h"
#include "trace_fixture.h"

static struct vm_trace_event acc(int32_t pid, unsigned kind, uint64_t addr, uint32_t size,
				 uint64_t count, uint16_t flags)
{
	struct vm_trace_event e = { .kind = VM_TEV_ACCESS, .access = (uint8_t)kind, .pid = pid,
				    .flags = flags };
	e.acc.addr = addr;
	e.acc.size = size;
	e.acc.count = count;
	return e;
}

static struct vm_trace_event sys(int32_t pid, int32_t nr, unsigned nargs, const uint64_t *a,
				 int64_t ret, const char *path, uint16_t flags)
{
	struct vm_trace_event e = { .kind = VM_TEV_SYSCALL, .pid = pid, .path = path, .flags = flags };
	e.sys.nr = nr;
	e.sys.nargs = nargs;
	for (unsigned i = 0; i < nargs; i++)
		e.sys.arg[i] = a[i];
	e.sys.ret = ret;
	return e;
}

static struct vm_trace_event map(int32_t pid, uint64_t s, uint64_t e, uint32_t prot, uint32_t flags,
				 uint64_t off, const char *path, uint16_t evf)
{
	struct vm_trace_event m = { .kind = VM_TEV_MAP, .pid = pid, .path = path, .flags = evf };
	m.map.start = s;
	m.map.end = e;
	m.map.prot = prot;
	m.map.flags = flags;
	m.map.offset = off;
	return m;
}

/* Every kind, every flag, edge values; no two accesses in a row that vmt
 * would collapse. */
static size_t all_kinds(struct vm_trace_event *ev)
{
	static const uint64_t mm[] = { 0, 8192, 3, 34, 0xffffffff, 0 };
	static const uint64_t mf[] = { 0x486d000, 1400832, 5, 2066, 4, 155648 };
	static const uint64_t odd[] = { 0x1000, 4096, 0x1000000 | 1, 0x40 | 2, 0xffffffff, 4096 };
	static const uint64_t big[] = { UINT64_MAX, 0, 1, UINT64_MAX - 1, 1ull << 63, 42 };
	static const uint64_t mr[] = { 0x4a2c000, 32768, 32768, 3, 0x10000000 };
	static const uint64_t adv[] = { 0x4a2c000, 65536, 4 }, bad_adv[] = { 0x4a2c000, 65536, 100 };
	static const uint64_t ms[] = { 0x1000, 4096, 0 };
	size_t n = 0;
	ev[n++] = map(4330, 0x108000, 0x10a000, VM_PROT_READ, VM_MAP_PRIVATE, 0, "/usr/bin/true", 0);
	ev[n++] = map(4330, 0x4035000, 0x4036000, 7, VM_MAP_PRIVATE | VM_MAP_ANONYMOUS, 0, NULL, VM_TEV_F_HEAP);
	ev[n++] = map(4330, 0x1ffefff000, 0x1fff001000, 3, VM_MAP_PRIVATE | VM_MAP_ANONYMOUS, 0, NULL,
		      VM_TEV_F_STACK);
	ev[n++] = map(4330, 0x7000, 0x9000, 0, VM_MAP_SHARED, 0x7000, "/dev/shm/a b#[c]", 0);
	ev[n++] = map(4330, 0x9000, 0xa000, 0, VM_MAP_SHARED | VM_MAP_ANONYMOUS, 0, NULL, 0);
	ev[n++] = acc(4330, VM_ACC_EXEC, 0x401ab70, 3, 1, 0);
	ev[n++] = acc(4330, VM_ACC_WRITE, 0x1fff000708, 8, 1, 0);
	ev[n++] = acc(4330, VM_ACC_EXEC, 0x401ab73, 15, 7, 0);
	ev[n++] = acc(4330, VM_ACC_READ, 0x0, 4096, 1, 0);
	ev[n++] = acc(4330, VM_TACC_MODIFY, 0xfffffffffffff000, 4096, UINT64_MAX, 0);
	ev[n++] = acc(4330, VM_ACC_READ, 0x4032e40, 16, 2, 0);
	ev[n++] = acc(4330, VM_ACC_WRITE, 0x1ffeffedb8, 584, 1, VM_TEV_F_KERNEL);
	ev[n++] = acc(4330, VM_ACC_WRITE, 0x1ffefff000, 248, 3, VM_TEV_F_KERNEL);
	ev[n++] = sys(4330, VM_NR_MMAP, 6, mm, 0x4835000, NULL, 0);
	ev[n++] = sys(4330, VM_NR_MMAP, 6, mf, 0x486d000, "/lib/x86_64-linux-gnu/libc.so.6", 0);
	ev[n++] = sys(4330, VM_NR_MMAP, 6, mf, 0, "/lib/libc.so.6", VM_TEV_F_NORET);
	ev[n++] = sys(4330, VM_NR_MMAP, 6, odd, -EINVAL, NULL, 0);
	ev[n++] = sys(4330, VM_NR_MMAP, 6, mm, 0x4835000, "/not/anon/but/anon/flag", 0);
	ev[n++] = sys(4330, VM_NR_MUNMAP, 2, mm + 1, 0, NULL, 0);
	ev[n++] = sys(4330, VM_NR_MPROTECT, 3, adv, -ENOMEM, NULL, 0);
	ev[n++] = sys(4330, VM_NR_MPROTECT, 3, big, 0, NULL, 0);
	ev[n++] = sys(4330, VM_NR_BRK, 1, mm, 0x4035000, NULL, 0);
	ev[n++] = sys(4330, VM_NR_BRK, 1, mm, 0, NULL, VM_TEV_F_NORET);
	ev[n++] = sys(4330, VM_NR_MREMAP, 5, mr, 0x10000000, NULL, 0);
	ev[n++] = sys(4330, VM_NR_MREMAP, 4, mr, -EFAULT, NULL, 0);
	ev[n++] = sys(4330, VM_NR_MADVISE, 3, adv, 0, NULL, 0);
	ev[n++] = sys(4330, VM_NR_MADVISE, 3, bad_adv, -EINVAL, NULL, 0);
	ev[n++] = sys(4330, VM_NR_MSYNC, 3, ms, -EINVAL, NULL, 0);
	ev[n++] = sys(4330, 149, 2, mm + 1, 0, NULL, 0);
	ev[n++] = sys(4330, 152, 0, NULL, INT64_MIN, NULL, 0);
	ev[n++] = sys(4330, 1000000, 6, big, INT64_MAX, "p", 0);
	ev[n++] = (struct vm_trace_event){ .kind = VM_TEV_FORK, .pid = 4330, .fork = { 4331 } };
	ev[n++] = acc(4331, VM_ACC_READ, 0x4032e40, 16, 1, 0);
	ev[n++] = (struct vm_trace_event){ .kind = VM_TEV_EXEC, .pid = 4331, .path = "/usr/bin/ls" };
	ev[n++] = (struct vm_trace_event){ .kind = VM_TEV_EXIT, .pid = 4331, .exit = { -1 } };
	ev[n++] = (struct vm_trace_event){ .kind = VM_TEV_EXIT, .pid = INT32_MAX, .exit = { INT32_MIN } };
	ev[n++] = acc(1, VM_ACC_EXEC, 0x1000, 1, 1, 0);
	return n;
}

static struct evlist list_of(const struct vm_trace_event *ev, size_t n)
{
	struct evlist l = { .ev = malloc(n * sizeof(*ev)), .n = n, .cap = n };
	for (size_t i = 0; i < n; i++) {
		l.ev[i] = ev[i];
		l.ev[i].path = ev[i].path ? strdup(ev[i].path) : NULL;
	}
	return l;
}

static void test_every_kind(void)
{
	struct vm_trace_event ev[64];
	size_t n = all_kinds(ev), where = 0;
	for (size_t i = 0; i < n; i++)
		if (vm_trace_event_invalid(&ev[i]))
			diag("event %zu invalid: %s", i, vm_trace_event_invalid(&ev[i]));
	struct evlist want = list_of(ev, n);
	char *vmt_z, *vmt_raw, *text, *vmt2;
	size_t zlen, rawlen, tlen, len2;
	ok(write_mem("vmt", true, ev, n, &vmt_z, &zlen) == 0, "every kind writes as vmt (zlib)");
	ok(write_mem("vmt", false, ev, n, &vmt_raw, &rawlen) == 0, "and as plain vmt");
	ok(write_mem("text", false, ev, n, &text, &tlen) == 0, "and as text");
	struct evlist a = read_mem("z.vmt", vmt_z, zlen, NULL, NULL);
	is_str(a.err, "", "the zlib vmt reads back");
	ok(same_events(&a, &want, &where), "with the same events (first difference at %zu)", where);
	struct evlist b = read_mem("r.vmt", vmt_raw, rawlen, NULL, NULL);
	ok(same_events(&b, &want, &where), "so does the plain one (first difference at %zu)", where);
	struct evlist c = read_mem("t.txt", text, tlen, NULL, NULL);
	is_str(c.err, "", "the text reads back");
	ok(same_events(&c, &want, &where), "with the same events (first difference at %zu)", where);
	if (!same_events(&c, &want, &where) && where < c.n)
		diag("text:\n%s", text);
	ok(write_mem("vmt", false, c.ev, c.n, &vmt2, &len2) == 0 && len2 == rawlen &&
	   memcmp(vmt2, vmt_raw, rawlen) == 0, "text -> vmt is byte-identical to the direct vmt");
	free(vmt_z);
	free(vmt_raw);
	free(text);
	free(vmt2);
	evlist_free(&a);
	evlist_free(&b);
	evlist_free(&c);
	evlist_free(&want);
}

/* Accesses by (pid, kind, flags, page), counting repetitions. */
static uint64_t page_digest(const struct evlist *l, uint64_t *records)
{
	uint64_t h = 0;
	*records = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct vm_trace_event *e = &l->ev[i];
		if (e->kind != VM_TEV_ACCESS)
			continue;
		(*records)++;
		/* Order-independent within a run: a sum of per-access hashes. */
		uint64_t k = (uint64_t)e->pid * 0x9e3779b97f4a7c15ull ^ (e->acc.addr >> 12) * 0xc2b2ae3d27d4eb4full ^
			     (uint64_t)(e->access | e->flags << 2) * 0x165667b19e3779f9ull;
		k ^= k >> 29;
		h += k * e->acc.count;
	}
	return h;
}

static void test_real_round_trip(void)
{
	struct evlist lk = read_file(TRACE_DATA "true.log.gz", NULL, TRACE_DATA "true.stderr.gz");
	is_str(lk.err, "", "the real trace reads");
	char *vmt_a, *text, *vmt_b, *text_direct, *vmt_c;
	size_t alen, tlen, blen, dlen, clen, where;
	ok(write_mem("vmt", true, lk.ev, lk.n, &vmt_a, &alen) == 0, "lackey -> vmt");
	struct evlist a = read_mem("a.vmt", vmt_a, alen, NULL, NULL);
	is_str(a.err, "", "the vmt reads");
	ok(write_mem("text", false, a.ev, a.n, &text, &tlen) == 0, "vmt -> text");
	struct evlist t = read_mem("a.txt", text, tlen, NULL, NULL);
	is_str(t.err, "", "the text reads");
	ok(write_mem("vmt", true, t.ev, t.n, &vmt_b, &blen) == 0, "text -> vmt");
	ok(alen == blen && memcmp(vmt_a, vmt_b, alen) == 0, "lackey -> vmt -> text -> vmt: byte-identical");
	struct evlist b = read_mem("b.vmt", vmt_b, blen, NULL, NULL);
	ok(same_events(&a, &b, &where) && same_events(&a, &t, &where), "and identical event streams");
	ok(write_mem("text", false, lk.ev, lk.n, &text_direct, &dlen) == 0, "lackey -> text directly");
	struct evlist d = read_mem("d.txt", text_direct, dlen, NULL, NULL);
	ok(same_events(&d, &lk, &where), "reads back as the lackey events, uncollapsed (at %zu)", where);
	ok(write_mem("vmt", true, d.ev, d.n, &vmt_c, &clen) == 0 && clen == alen &&
	   memcmp(vmt_c, vmt_a, alen) == 0, "lackey -> text -> vmt = lackey -> vmt");

	uint64_t ra, rl;
	uint64_t ha = page_digest(&a, &ra), hl = page_digest(&lk, &rl);
	ok(ha == hl, "collapsed runs keep every access count per process, kind and page");
	ok(ra < rl * 6 / 10, "and vmt holds fewer access records (%" PRIu64 " for %" PRIu64 " accesses)",
	   ra, rl);
	ok(alen * 2 < 134922, "the zlib vmt (%zu bytes) is under half the gzip'd log (134,922)", alen);
	uint64_t acc_a = 0, acc_l = 0;
	for (size_t i = 0; i < a.n; i++)
		acc_a += a.ev[i].kind == VM_TEV_ACCESS ? a.ev[i].acc.count : 0;
	for (size_t i = 0; i < lk.n; i++)
		acc_l += lk.ev[i].kind == VM_TEV_ACCESS;
	is_u64(acc_a, acc_l, "the counts add up to the accesses");
	free(vmt_a);
	free(text);
	free(vmt_b);
	free(text_direct);
	free(vmt_c);
	evlist_free(&lk);
	evlist_free(&a);
	evlist_free(&t);
	evlist_free(&b);
	evlist_free(&d);
}

static void refused(const char *data, size_t len, const char *want, const char *what)
{
	struct evlist l = read_mem("x.vmt", data, len, NULL, NULL);
	ok(l.rc == -EINVAL, "refused: %s", what);
	is_str(l.err, want, "message: %s", what);
	evlist_free(&l);
}

static void test_bad_files(void)
{
	struct vm_trace_event ev[64];
	size_t n = all_kinds(ev);
	char *raw, *z;
	size_t rawlen, zlen;
	write_mem("vmt", false, ev, n, &raw, &rawlen);
	write_mem("vmt", true, ev, n, &z, &zlen);

	/* Every prefix is refused: never a crash, never a silent short trace. */
	size_t refused_raw = 0, refused_z = 0;
	for (size_t k = 0; k < rawlen; k++) {
		struct evlist l = read_mem("x.vmt", raw, k, "vmt", NULL);
		refused_raw += l.rc == -EINVAL && l.err[0];
		evlist_free(&l);
	}
	for (size_t k = 0; k < zlen; k++) {
		struct evlist l = read_mem("x.vmt", z, k, "vmt", NULL);
		refused_z += l.rc == -EINVAL && l.err[0];
		evlist_free(&l);
	}
	is_u64(refused_raw, rawlen, "each of the %zu truncations of a plain vmt is refused", rawlen);
	is_u64(refused_z, zlen, "each of the %zu truncations of a zlib vmt is refused", zlen);
	refused(raw, rawlen - 2, "x.vmt: event 38: truncated: no end record", "cut before the end record");

	/* Flipping any one byte: an error or a valid stream, never a crash (ASan). */
	size_t survived = 0;
	for (size_t k = 0; k < rawlen; k++)
		for (int bit = 0; bit < 8; bit += 3) {
			raw[k] ^= (char)(1 << bit);
			struct evlist l = read_mem("x.vmt", raw, rawlen, NULL, NULL);
			survived += l.rc == 0 || (l.rc == -EINVAL && l.err[0]);
			evlist_free(&l);
			raw[k] ^= (char)(1 << bit);
		}
	is_u64(survived, rawlen * 3, "every single-bit flip is read or refused with a message");

	char v2[] = "VMTR\x02\x00\x00\x00";
	refused(v2, 8, "x.vmt: a version 2 vmt file; this vmlab reads version 1", "another version");
	char flags[] = "VMTR\x01\x04\x00\x00";
	refused(flags, 8, "x.vmt: unknown header flags 0x04", "unknown header flags");
	char tag[] = "VMTR\x01\x00\x01\x05\x08";
	refused(tag, 9, "x.vmt: event 1: unknown record type", "an unknown record");
	char count[] = "VMTR\x01\x00\x01\x05\x81\x00\x00\x05";
	refused(count, 12, "x.vmt: the end record counts 5 events, the file holds 1: corrupt",
		"an end record that miscounts");
	char after[] = "VMTR\x01\x00\x01\x05\x81\x00\x00\x01\x00";
	refused(after, 13, "x.vmt: data after the end record", "bytes after the end record");
	char nopid[] = "VMTR\x01\x00\x81\x00\x00\x01";
	refused(nopid, 10, "x.vmt: event 1: an event before the first process record", "no pid");
	char cross[] = "VMTR\x01\x00\x01\x05\x80\xfe\x3f\x10\x00\x01";   /* 16 bytes at 0xfff */
	refused(cross, 14, "x.vmt: event 1: access not inside one page", "an access across a page");
	char longv[] = "VMTR\x01\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01";
	refused(longv, 18, "x.vmt: event 1: truncated: the file ends inside a record",
		"a varint longer than 64 bits");
	char *corrupt = malloc(zlen);
	memcpy(corrupt, z, zlen);
	for (size_t k = VMT_HEADER + 2; k < zlen; k++)
		corrupt[k] ^= 0x55;
	struct evlist l = read_mem("x.vmt", corrupt, zlen, NULL, NULL);
	ok(l.rc == -EINVAL && strstr(l.err, "event "), "a corrupt zlib body: %s", l.err);
	evlist_free(&l);
	free(corrupt);
	free(raw);
	free(z);
}

int main(void)
{
	test_every_kind();
	test_real_round_trip();
	test_bad_files();
	return done_testing();
}
