/*
 * The text and page-list readers: every line form, names bound by the
 * scenario language's mmap and mremap, the PID: prefix, escapes, and the
 * messages bad lines get.
 */
#include <inttypes.h>

#include "kernel/uapi.h"
#include "tap.h"
#include "trace/text.h"
#include "trace_fixture.h"

static const char hand[] =
	"# a hand-written trace\n"
	"R 0x1000 8\n"
	"W 1ff8 16                    # crosses a page: two events\n"
	"X 0x401000\n"
	"M 3000 4 x3\n"
	"W 0x5000 100 kernel\n"
	"mmap p 16K rw private,anon = 0x7f0000000000\n"
	"write p+4K 8\n"
	"touch p 16K read\n"
	"munmap p 4K = 0\n"
	"mprotect p+4K 4K r = 0\n"
	"brk 0 = 0x555555559000\n"
	"mremap p+8K 8K 16K maymove as q = 0x7f0000100000\n"
	"madvise q 16K dontneed = 0\n"
	"msync q 4K sync,invalidate = -ENOMEM\n"
	"mmap _ 8K r private file /etc/hosts 4K at 0x10000 = 0x10000 fd 3\n"
	"mmap _ 4K rw shared file /dev/shm/x = ?\n"
	"syscall 149 q 4096 = 0\n"
	"syscall 216 1 2 3 4 5 file /a\\x20b = -EINVAL\n"
	"7: map 0x108000 0x10a000 r--p 0 /usr/bin/true\n"
	"map 4035000 4036000 rwxp 0 [heap]\n"
	"map 1ffefff000 1fff001000 rw-p 0 [stack]\n"
	"fork 8\n"
	"8: execve /bin/ls\n"
	"exit 2\n"
	"7: let base 0x1000\n"
	"read base+16 4\n";

static void test_forms(void)
{
	struct evlist l = read_str("t.txt", hand, NULL);
	is_str(l.err, "", "the hand-written trace reads");
	is_str(l.format, "text", "detected as text");
	size_t i = 0;
#define NEXT (i < l.n ? &l.ev[i++] : &none)
	const struct vm_trace_event none = { .kind = 255 };
	const struct vm_trace_event *e = NEXT;
	ok(e->kind == VM_TEV_ACCESS && e->access == VM_ACC_READ && e->acc.addr == 0x1000 &&
	   e->acc.size == 8 && e->pid == 1, "R 0x1000 8, by process 1");
	e = NEXT;
	ok(e->access == VM_ACC_WRITE && e->acc.addr == 0x1ff8 && e->acc.size == 8, "W 1ff8 16: 8 bytes,");
	e = NEXT;
	ok(e->acc.addr == 0x2000 && e->acc.size == 8, "... then 8 in the next page (hex without 0x)");
	e = NEXT;
	ok(e->access == VM_ACC_EXEC && e->acc.size == 1, "X with the default size 1");
	e = NEXT;
	ok(e->access == VM_TACC_MODIFY && e->acc.count == 3, "M 3000 4 x3: a modify, 3 times");
	e = NEXT;
	ok(e->flags == VM_TEV_F_KERNEL && e->acc.size == 100, "W ... kernel: a kernel write");
	e = NEXT;
	ok(e->kind == VM_TEV_SYSCALL && e->sys.nr == VM_NR_MMAP && e->sys.nargs == 6 &&
	   e->sys.arg[0] == 0 && e->sys.arg[1] == 16384 && e->sys.arg[2] == (VM_PROT_READ | VM_PROT_WRITE) &&
	   e->sys.arg[3] == (VM_MAP_PRIVATE | VM_MAP_ANONYMOUS) && e->sys.arg[4] == 0xffffffff &&
	   e->sys.arg[5] == 0 && e->sys.ret == 0x7f0000000000 && !e->path,
	   "mmap p 16K rw private,anon = 0x7f0000000000: mmap(0, 16384, 3, 0x22, -1, 0)");
	e = NEXT;
	ok(e->kind == VM_TEV_ACCESS && e->acc.addr == 0x7f0000001000 && e->acc.size == 8,
	   "write p+4K 8: p holds mmap's result");
	uint64_t touched = 0;
	for (int k = 0; k < 4; k++) {
		e = NEXT;
		touched += e->kind == VM_TEV_ACCESS && e->acc.size == 1 &&
			   e->acc.addr == 0x7f0000000000 + (uint64_t)k * 4096;
	}
	is_u64(touched, 4, "touch p 16K read: a byte at the start of each of 4 pages");
	e = NEXT;
	ok(e->sys.nr == VM_NR_MUNMAP && e->sys.nargs == 2 && e->sys.arg[1] == 4096 && e->sys.ret == 0,
	   "munmap p 4K = 0");
	e = NEXT;
	ok(e->sys.nr == VM_NR_MPROTECT && e->sys.arg[2] == VM_PROT_READ, "mprotect p+4K 4K r");
	e = NEXT;
	ok(e->sys.nr == VM_NR_BRK && e->sys.nargs == 1 && e->sys.ret == 0x555555559000, "brk 0 = ...");
	e = NEXT;
	ok(e->sys.nr == VM_NR_MREMAP && e->sys.nargs == 4 && e->sys.arg[3] == VM_MREMAP_MAYMOVE &&
	   e->sys.arg[0] == 0x7f0000002000, "mremap p+8K 8K 16K maymove (4 arguments)");
	e = NEXT;
	ok(e->sys.nr == VM_NR_MADVISE && e->sys.arg[0] == 0x7f0000100000 &&
	   e->sys.arg[2] == VM_MADV_DONTNEED, "madvise q ...: q holds mremap's result (as q)");
	e = NEXT;
	ok(e->sys.nr == VM_NR_MSYNC && e->sys.arg[2] == (VM_MS_SYNC | VM_MS_INVALIDATE) &&
	   e->sys.ret == -ENOMEM, "msync ... = -ENOMEM");
	e = NEXT;
	ok(e->sys.nr == VM_NR_MMAP && e->sys.arg[0] == 0x10000 && e->sys.arg[4] == 3 &&
	   e->sys.arg[5] == 4096 && e->path && !strcmp(e->path, "/etc/hosts"),
	   "mmap _ ... file /etc/hosts 4K at 0x10000 = ... fd 3");
	e = NEXT;
	ok(e->sys.nr == VM_NR_MMAP && (e->flags & VM_TEV_F_NORET) && e->sys.arg[3] == VM_MAP_SHARED,
	   "= ?: no result (the name _ bound twice)");
	e = NEXT;
	ok(e->sys.nr == 149 && e->sys.nargs == 2 && e->sys.arg[0] == 0x7f0000100000,
	   "syscall 149 q 4096: any call, names allowed");
	e = NEXT;
	ok(e->sys.nr == 216 && e->sys.nargs == 5 && e->path && !strcmp(e->path, "/a b") &&
	   e->sys.ret == -EINVAL, "syscall ... file /a\\x20b: an escaped blank");
	e = NEXT;
	ok(e->kind == VM_TEV_MAP && e->pid == 7 && e->map.start == 0x108000 && e->map.end == 0x10a000 &&
	   e->map.prot == VM_PROT_READ && e->map.flags == VM_MAP_PRIVATE && e->path,
	   "7: map ...: a file segment of process 7");
	e = NEXT;
	ok(e->kind == VM_TEV_MAP && e->pid == 7 && e->flags == VM_TEV_F_HEAP &&
	   e->map.flags == (VM_MAP_PRIVATE | VM_MAP_ANONYMOUS) && e->map.prot == 7,
	   "[heap], still process 7 (no prefix)");
	e = NEXT;
	ok(e->flags == VM_TEV_F_STACK, "[stack]");
	e = NEXT;
	ok(e->kind == VM_TEV_FORK && e->pid == 7 && e->fork.child == 8, "fork 8");
	e = NEXT;
	ok(e->kind == VM_TEV_EXEC && e->pid == 8 && !strcmp(e->path, "/bin/ls"), "8: execve /bin/ls");
	e = NEXT;
	ok(e->kind == VM_TEV_EXIT && e->pid == 8 && e->exit.code == 2, "exit 2");
	e = NEXT;
	ok(e->kind == VM_TEV_ACCESS && e->pid == 7 && e->acc.addr == 0x1010 && e->acc.size == 4,
	   "let base ..., read base+16 4");
	is_u64(l.n, i, "nothing else");
#undef NEXT
	evlist_free(&l);
}

static void bad(const char *text, const char *want, const char *what)
{
	struct evlist l = read_str("t.txt", text, "text");
	ok(l.rc == -EINVAL, "rejected: %s", what);
	is_str(l.err, want, "message: %s", what);
	evlist_free(&l);
}

static void test_errors(void)
{
	bad("R 0x1000\nR zz\n", "t.txt:2: 'zz': expected a hex address", "a bad address");
	bad("R 0x1000 0\n", "t.txt:1: '0': expected a size in bytes, 1 to 1G", "size 0");
	bad("R 0xffe 8 x2\n", "t.txt:1: a repeated access must stay inside one page", "a repeated straddle");
	bad("R 0x1000 8 x0\n", "t.txt:1: 'x0': expected xCOUNT, a count >= 1", "count 0");
	bad("R 0xffffffffffffffff 2\n", "t.txt:1: the access wraps around the address space", "a wrap");
	bad("R 0x1000 8 kernel\n", "t.txt:1: only writes are made by the kernel", "a kernel read");
	bad("frob 1\n", "t.txt:1: 'frob': expected R, W, X, M, a system call (mmap, munmap, ...), "
	    "syscall, map, fork, execve, exit or let", "an unknown word");
	bad("write 0x1000 8 7\n", "t.txt:1: a trace carries no data: write ADDR [LEN]", "a value");
	bad("read walks\n", "t.txt:1: counters and process figures have no value in a trace", "a counter");
	bad("mmap p 4K rw private,anon\nwrite p\n",
	    "t.txt:2: 'p' has no value (its mmap or mremap line gave no result: add = ADDR)",
	    "a name without a value");
	bad("mmap p 4K rw private,anon = 0x1000\nmmap p 4K rw private,anon = 0x2000\n",
	    "t.txt:2: 'p' is already defined (as a name)", "a name bound twice");
	bad("brk +4K = 0\n", "t.txt:1: brk + N needs the current break: a trace writes brk ADDR",
	    "a relative brk");
	bad("munmap 0x1000 4096 = 0 fd 3\n", "t.txt:1: only mmap takes 'fd N' after its result", "fd on munmap");
	bad("munmap 0x1000 = 0\n", "t.txt:1: missing the length", "a missing operand (the scenario's message)");
	bad("mmap p 4K rwq private = 1\n", "t.txt:1: 'rwq' is not a protection (r, w, x combined, or none)",
	    "a bad protection (the scenario's message)");
	bad("read 0x1000 = 3\n", "t.txt:1: only system calls have a result (= RET)", "a result on a read");
	bad("munmap 0x1000 4K =\n", "t.txt:1: missing the result after '='", "an empty result");
	bad("map 0x1000 0x3000 r-xp 0 [heap] x\n", "t.txt:1: unexpected 'x' after the map line",
	    "trailing words");
	bad("map 0x1000 0x1000 r-xp 0\n", "t.txt:1: map: map segment not page aligned or empty",
	    "an empty segment");
	bad("map 0x1000 0x2000 rwzp 0\n", "t.txt:1: map: 'rwzp': expected permissions as in "
	    "/proc/PID/maps (r-xp)", "bad permissions");
	bad("0: R 0x1000\n", "t.txt:1: '0: R 0x1000': a line starts with PID: (1 to 2147483647) or a word",
	    "pid 0");
	bad("fork 0\n", "t.txt:1: fork: '0': expected the child's pid", "fork 0");
	bad("execve /a\\x00b\n", "t.txt:1: '/a\\x00b': bad path (escapes are \\xHH, not \\x00)", "a NUL escape");
	bad("R 0x1000\x01\n", "t.txt:1: control character 0x01 (a text trace is text)", "a control character");
	bad("syscall 9 1 2 3 4 5 6 7 = 0\n", "t.txt:1: syscall: more than 6 arguments", "7 arguments");
}

static void test_pages(void)
{
	struct evlist l = read_str("p.txt", "# Belady\n7 0 1 2 0 3w\n\n0x4, 2W  # more\n", NULL);
	is_str(l.err, "", "a page list reads");
	is_str(l.format, "pages", "detected as pages");
	static const uint64_t want[] = { 7, 0, 1, 2, 0, 3, 4, 2 };
	size_t good = 0;
	for (size_t i = 0; i < l.n && i < 8; i++)
		good += l.ev[i].acc.addr == want[i] << 12 && l.ev[i].acc.size == 1 && l.ev[i].pid == 1 &&
			l.ev[i].access == (i == 5 || i == 7 ? VM_ACC_WRITE : VM_ACC_READ);
	ok(l.n == 8 && good == 8, "8 references: page * 4096, w for writes");
	evlist_free(&l);
	l = read_str("p.txt", "1 2\n3 4x\n", "pages");
	is_str(l.err, "p.txt:2: '4x': expected a page number (decimal or 0x hex, below 2^52), "
	       "optionally with r or w", "a bad page number");
	evlist_free(&l);
	l = read_str("p.txt", "R 0x1000\n", NULL);
	is_str(l.format, "text", "'R 0x1000' is text, not a page list");
	evlist_free(&l);
	l = read_str("p.txt", "12: R 0x1000\n", NULL);
	is_str(l.format, "text", "'12: R ...' is text too");
	evlist_free(&l);
}

static void test_escapes(void)
{
	static const char *const paths[] = { "/a b#c\\d", "[heap]", "=", "/caf\xc3\xa9\t", "/x" };
	char esc[256], back[256];
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		vm_text_escape(paths[i], esc, sizeof(esc));
		bool plain = true;
		for (const char *p = esc; *p; p++)
			plain &= *p > 0x20 && *p < 0x7f && *p != '#';
		ok(plain && esc[0] != '[' && strcmp(esc, "=") != 0 && vm_text_unescape(esc, back, sizeof(back)) == 0 &&
		   !strcmp(back, paths[i]), "path %zu escapes to one plain word (%s) and back", i, esc);
	}
}

int main(void)
{
	test_forms();
	test_errors();
	test_pages();
	test_escapes();
	return done_testing();
}
