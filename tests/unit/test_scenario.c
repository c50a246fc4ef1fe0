/* Scenario language: the parser and the expression evaluator (no kernel). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vmlab/settings.h>
#include <vmlab/stats.h>

#include "kernel/uapi.h"
#include "tap.h"
#include "trace/scenario.h"

/* Parse text; 0 or the error as "FILE:LINE: msg" in msg. */
static int parse(struct scn_prog *prog, const char *text, const struct vm_settings *base,
		 char *msg, size_t len)
{
	struct vm_error err = { 0 };
	int rc = scn_parse(prog, "t.vms", text, strlen(text), base, &err);
	if (rc)
		snprintf(msg, len, "%s:%ld: %s", err.file ? err.file : "?", err.line, err.msg);
	else
		snprintf(msg, len, "ok");
	return rc;
}

static void parses(const char *text, size_t nstmts, const char *what)
{
	struct scn_prog prog;
	char msg[300];
	int rc = parse(&prog, text, NULL, msg, sizeof(msg));
	is_str(msg, "ok", "parses: %s", what);
	if (rc == 0)
		is_u64(prog.nstmts, nstmts, "%s: %zu statements", what, nstmts);
	scn_prog_free(&prog);
}

static void fails(const char *text, const char *want, const char *what)
{
	struct scn_prog prog;
	char msg[300];
	int rc = parse(&prog, text, NULL, msg, sizeof(msg));
	ok(rc == -EINVAL, "rejected: %s", what);
	is_str(msg, want, "message: %s", what);
	scn_prog_free(&prog);
}

/* The example of the issue, as written. */
static const char issue_example[] =
	"# comment\n"
	"set phys=64M thp=never aslr=0          # settings before the first process\n"
	"process A                               # empty process\n"
	"A mmap p 16K rw private,anon            # binds name p\n"
	"A mmap q 8K r private file /etc/hosts 0\n"
	"A mmap r 8K rw private,anon,fixed at 0x200000000000   # flags\n"
	"A read p+4K 8        A write p 1        A exec p        A touch p 16K write\n"
	"A munmap p+4K 4K     A mprotect p 8K r  A brk +64K      A madvise p 16K dontneed\n"
	"A mremap p 16K 32K maymove\n"
	"show A maps          show A status      show A pagetable p      show stats\n"
	"expect A.minor_faults == 4\n"
	"expect A.rss == 12K\n"
	"expect A.last == -ENOMEM                # the last call's return value\n"
	"expect A.signal == SIGSEGV\n"
	"A exit\n";

static void test_issue_example(void)
{
	struct scn_prog prog;
	char msg[300];
	int rc = parse(&prog, issue_example, NULL, msg, sizeof(msg));
	is_str(msg, "ok", "the issue's example parses as written");
	if (rc) {
		scn_prog_free(&prog);
		return;
	}
	is_u64(prog.nstmts, 22, "22 statements");
	static const enum scn_verb want[] = {
		SCN_PROCESS, SCN_MMAP, SCN_MMAP, SCN_MMAP, SCN_READ, SCN_WRITE, SCN_EXEC, SCN_TOUCH,
		SCN_MUNMAP, SCN_MPROTECT, SCN_BRK, SCN_MADVISE, SCN_MREMAP, SCN_SHOW_MAPS,
		SCN_SHOW_STATUS, SCN_SHOW_PT, SCN_SHOW_STATS, SCN_EXPECT, SCN_EXPECT, SCN_EXPECT,
		SCN_EXPECT, SCN_EXIT,
	};
	size_t k = 0;
	for (size_t i = 0; i < prog.nstmts && k < sizeof(want) / sizeof(want[0]); i++)
		if (prog.stmts[i].verb == want[k])
			k++;
	is_u64(k, sizeof(want) / sizeof(want[0]), "statements in order");
	const struct scn_stmt *q = &prog.stmts[2];
	is_u64(q->verb, SCN_MMAP, "line 5 is an mmap");
	is_str(scn_str(&prog, q->path), "/etc/hosts", "file path kept");
	ok(q->arg[SCN_A_LEN2] != SCN_NONE, "file offset parsed");
	is_u64(q->prot, VM_PROT_READ, "prot r");
	is_u64(q->flags, VM_MAP_PRIVATE, "flags private");
	const struct scn_stmt *r = &prog.stmts[3];
	is_u64(r->flags, VM_MAP_PRIVATE | VM_MAP_ANONYMOUS | VM_MAP_FIXED, "flags private,anon,fixed");
	ok(r->arg[SCN_A_EXTRA] != SCN_NONE, "at ADDR parsed");
	is_u64(prog.ex[r->arg[SCN_A_EXTRA]].v, 0x200000000000, "at 0x200000000000");
	is_u64(prog.stmts[4].line, 7, "read is on line 7");
	is_u64(prog.stmts[7].line, 7, "touch is on line 7 too");
	is_u64(prog.stmts[7].flags, VM_ACC_WRITE, "touch ... write");
	is_u64(prog.stmts[10].brk_sign, '+', "brk +64K is relative");
	is_u64(prog.stmts[11].flags, VM_MADV_DONTNEED, "madvise dontneed");
	is_u64(prog.stmts[12].flags, VM_MREMAP_MAYMOVE, "mremap maymove");
	is_str(vmlab_settings_get(prog.settings, "phys"), "64M", "set phys=64M applied");
	is_str(vmlab_settings_get(prog.settings, "thp"), "never", "set thp=never applied");
	is_u64(prog.nexpects, 4, "four expectations");
	const struct scn_stmt *e = &prog.stmts[19];
	is_str(scn_str(&prog, e->text), "A.last == -ENOMEM", "expect text kept");
	is_str(scn_str(&prog, e->left), "A.last", "left side text");
	is_str(scn_str(&prog, e->right), "-ENOMEM", "right side text");
	scn_prog_free(&prog);
}

static void test_valid(void)
{
	parses("", 0, "empty text");
	parses("\n\n# only comments\n   \t\n", 0, "blank lines and comments");
	parses("process A\r\nA brk -8K\r\n", 2, "CRLF line ends");
	parses("process A\nA mmap p 4K none private,anon\n", 2, "prot none");
	parses("process A\nA mmap p 4K r-x private,anon\n", 2, "prot r-x");
	parses("process A\nA mmap p 4K rwx shared,anon,populate,locked,noreserve at 1G\n", 2,
	       "many flags and a hint");
	parses("process A\nA mmap p 4K r private at 0x10000 file /etc/hosts\n", 2,
	       "at before file, no offset");
	parses("process A\nA mmap p (1+2)*4K rw private,anon\nA read p + 4K   A read p - 1 2\n", 4,
	       "parentheses and spaced operators");
	parses("process A\nA brk A.brk+4K\nA brk -4K\nA brk +(2*4K)\n", 4, "brk forms");
	parses("process A\nprocess B\nA exit B exit\n", 4, "two processes on one line");
	parses("process A\nA mmap p 8K rw private,anon\nA mremap p 8K 16K maymove,fixed at 1G as p2\n"
	       "A write p2 8 0x1122\n", 4, "mremap with flags, at, as; write with a value");
	parses("process A\nA mmap p 8K rw private,anon\nA mremap p 8K 4K\n", 3, "mremap without flags");
	parses("process A\nA mmap p 8K rw shared,anon\nA msync p 8K sync,invalidate\n", 3, "msync");
	parses("process A\nlet w0 walks\nA touch 0x1000 4K read\nexpect walks - w0 >= 0\n", 4,
	       "let and a counter delta");
	parses("process A\nshow A.rss\nshow walks+1\nshow A smaps\n", 4, "show forms");
	parses("process A\nexpect A.sigcode == SEGV_ACCERR expect A.signal != SIGBUS\n", 3,
	       "two expects on one line");
	parses("process A\nexpect A.rss==0\n", 2, "comparison without spaces");
	parses("process A\nA exit 3\nexpect A.exit_code == 3\nshow A maps\n", 4,
	       "expect and show after exit");
	parses("set cpus=2\nset tlb=skylake pt=radix5\nprocess A\n", 1, "set lines before");
	parses("file /dev/shm/x 16K\nprocess A\nA mmap p 16K rw shared file /dev/shm/x\n", 3,
	       "an in-memory file, then a mapping of it");
	parses("process A\nfile /a 4K file /b 2*4K A write 0x1000 8\n", 4,
	       "file statements on one line, ended by a keyword and a process");
	parses("process A\nA mmap p 4K r shared file /a file /b 4K\n", 3,
	       "a file statement right after mmap's file clause");
}

static void test_invalid(void)
{
	fails("file\n", "t.vms:1: file needs a path and a size (file PATH SIZE)", "file alone");
	fails("file /x\n", "t.vms:1: missing the size after the path", "file without a size");
	fails("process A\nfile A 4K\n", "t.vms:2: file needs a path and a size (file PATH SIZE)",
	      "a process name where the path goes");
	fails("file /x 4Q\n", "t.vms:1: '4Q' is not a number (decimal, 0x hex, or a size such as 64K)",
	      "file with a bad size");
	fails("process file\n", "t.vms:1: 'file' is a reserved word (keyword, verb, counter or constant)",
	      "file as a process name");
	fails("process A\nA mmap p 16Q rw private,anon\n",
	      "t.vms:2: '16Q' is not a number (decimal, 0x hex, or a size such as 64K)", "a bad size");
	fails("process A\nA frob p\n",
	      "t.vms:2: A: 'frob' is not a verb (mmap, munmap, mprotect, brk, mremap, madvise, msync, "
	      "read, write, exec, touch, exit, fork, vfork, thread, wait)", "an unknown verb");
	fails("B mmap p 4K rw private,anon\n",
	      "t.vms:1: 'B': no such process (declare it with `process B`)", "an unknown process");
	fails("mmap p 4K rw private\n",
	      "t.vms:1: 'mmap' needs a process first (process A, then A mmap ...)", "a verb alone");
	fails("process A\nprocess A\n", "t.vms:2: 'A' is already defined (as a process)",
	      "a process defined twice");
	fails("process A\nA mmap p 4K rw private,anon\nA mmap p 4K rw private,anon\n",
	      "t.vms:3: 'p' is already defined (as a name)", "a name bound twice");
	fails("process A\nA mmap walks 4K rw private,anon\n",
	      "t.vms:2: 'walks' is a reserved word (keyword, verb, counter or constant)",
	      "a counter as a name");
	fails("process A\nA read q\n",
	      "t.vms:2: unknown name 'q' (not bound by mmap or let, not a counter)", "an unknown name");
	fails("process A\nA mmap p 4K rw private,anon extra\n",
	      "t.vms:2: unexpected 'extra' after the statement (a statement starts with a keyword or "
	      "a process name)", "trailing garbage");
	fails("process A\nA mmap p 4K rwz private\n",
	      "t.vms:2: 'rwz' is not a protection (r, w, x combined, or none)", "a bad prot");
	fails("process A\nA mmap p 4K rr private\n",
	      "t.vms:2: 'rr' is not a protection (r, w, x combined, or none)", "a repeated prot letter");
	fails("process A\nA mmap p 4K rw privat\n",
	      "t.vms:2: 'privat': unknown mmap flag (private, shared, ... docs/scenarios.md)",
	      "a bad flag");
	fails("process A\nA madvise 0 4K sometimes\n",
	      "t.vms:2: 'sometimes': unknown madvise advice (normal, random, ... docs/scenarios.md)",
	      "a bad advice");
	fails("process A\nA touch 0 4K poke\n",
	      "t.vms:2: 'poke': unknown access kind (read, write or exec) (read, write, ... "
	      "docs/scenarios.md)", "a bad access kind");
	fails("process A\nA munmap 0x1000\n", "t.vms:2: missing the length", "a missing operand");
	fails("process A\nexpect A.rss\n",
	      "t.vms:2: expect needs a comparison (==, !=, <, <=, >, >=) before end of line",
	      "expect without a comparison");
	fails("process A\nexpect A.rss = 4K\n", "t.vms:2: '=' is not a comparison: write '=='",
	      "a single =");
	fails("process A\nexpect A.rss == 1 == 1\n", "t.vms:2: one comparison per expect",
	      "two comparisons");
	fails("process A\nA read 1 < 2\n", "t.vms:2: a comparison belongs in an expect line",
	      "a comparison as an operand");
	fails("process A\nexpect A.bogus == 1\n",
	      "t.vms:2: 'A.bogus': no such process figure (rss, vsz, last, signal, minor_faults, ... "
	      "docs/scenarios.md lists them)", "an unknown figure");
	fails("expect Z.rss == 1\n",
	      "t.vms:1: 'Z': no such process (declare it with `process NAME`)", "figure of no process");
	fails("process A\nexpect A == 1\n",
	      "t.vms:2: 'A' is a process, not a value (A.last, A.rss, ...)", "a process as a value");
	fails("process A\nA read (1+2\n", "t.vms:2: expected ')' before end of line",
	      "an open parenthesis");
	fails("process A\nA read 1+\n", "t.vms:2: expected a value, found end of line",
	      "a dangling operator");
	fails("process A\nA read p(8)\n", "t.vms:2: unknown name 'p' (not bound by mmap or let, not a counter)",
	      "unknown before glued");
	fails("process A\nA read 4(8)\n",
	      "t.vms:2: unexpected '(' after an operand (operands are separated by spaces)",
	      "operands glued together");
	fails("process A\nA exit\nA read 0\n",
	      "t.vms:3: A exited at line 2; only expect and show may name it now", "use after exit");
	fails("process A\nset phys=1G\n",
	      "t.vms:2: set must come before the first statement (settings build the machine)",
	      "set after a process");
	fails("set phys=12Q\n", "t.vms:1: phys=12Q: not a size (a number with K, M, G or T)",
	      "a bad setting value");
	fails("set phy=1G\n", "t.vms:1: unknown setting 'phy' (did you mean 'phys'?)",
	      "an unknown setting");
	fails("set phys\n", "t.vms:1: 'phys': expected key=value", "set without =");
	fails("set\n", "t.vms:1: set needs key=value (vmlab config lists the keys)", "an empty set");
	fails("show\n", "t.vms:1: show what? (stats, swaps, P maps, P smaps, P status, P pagetable ADDR, "
	      "or an expression)", "an empty show");
	fails("process A\nshow A pagetable\n", "t.vms:2: missing the address", "pagetable without ADDR");
	fails("process A\nshow A vmas\n",
	      "t.vms:2: 'vmas': unknown view (maps, smaps, status or pagetable) (maps, smaps, ... "
	      "docs/scenarios.md)", "an unknown view");
	fails("process 9lives\n",
	      "t.vms:1: '9lives' is not a name (a letter or _, then letters, digits, _)", "a bad name");
	fails("process abcdefghijabcdefghijabcdefghijXY\n",
	      "t.vms:1: 'abcdefghijabcdefghijabcdefghijXY': name longer than 31 characters",
	      "a long name");
	fails("process\n", "t.vms:1: missing name", "process without a name");
	fails("let\n", "t.vms:1: let needs a name and a value (let NAME EXPR)", "an empty let");
	fails("process A\nA read 99999999999999999999\n",
	      "t.vms:2: '99999999999999999999' does not fit in 64 bits", "an overflowing number");
	fails("hello world\n",
	      "t.vms:1: 'hello': expected a statement (set, process, let, show, expect, file, or a process "
	      "name and a verb)", "not a statement");
	fails("process A\n\n\nA read 0 \x01\n", "t.vms:4: control character 0x01 (a scenario is text)",
	      "a control character");
	fails("process A\nA mremap 0 4K 8K maymove as\n", "t.vms:2: missing name", "as without a name");
	fails("process A\nA mmap p 4K r private file\n", "t.vms:2: missing the path after 'file'",
	      "file without a path");

	struct scn_prog prog;
	struct vm_error err = { 0 };
	static const char nul[] = "process A\nA read\0 0\n";
	int rc = scn_parse(&prog, "n.vms", nul, sizeof(nul) - 1, NULL, &err);
	ok(rc == -EINVAL && err.line == 2 && strcmp(err.msg, "NUL byte (a scenario is text)") == 0,
	   "a NUL byte is an error at its line: %s", err.msg);
	scn_prog_free(&prog);

	char big[SCN_LINE_MAX + 40];
	memset(big, ' ', sizeof(big));
	memcpy(big, "process A\n#", 11);
	big[sizeof(big) - 1] = '\0';
	fails(big, "t.vms:2: line longer than 1024 bytes", "an overlong line");

	char deep[300] = "process A\nA read ";
	for (int i = 0; i < 70; i++)
		strcat(deep, "(");
	strcat(deep, "1\n");
	fails(deep, "t.vms:2: expression nested deeper than 64 levels", "deep nesting");
}

/* --set (explicit in base) wins over the file's set lines. */
static void test_set_precedence(void)
{
	struct vm_settings *base = vmlab_settings_create();
	struct scn_prog prog;
	char msg[300];
	vmlab_settings_set(base, "tlb", "skylake", NULL);
	int rc = parse(&prog, "set tlb=zen4 phys=128M\nprocess A\n", base, msg, sizeof(msg));
	is_i64(rc, 0, "parses with a base");
	is_str(vmlab_settings_get(prog.settings, "tlb"), "skylake", "--set tlb wins over the file");
	is_str(vmlab_settings_get(prog.settings, "phys"), "128M", "the file sets what --set did not");
	scn_prog_free(&prog);
	rc = parse(&prog, "set tlb=nosuch\n", base, msg, sizeof(msg));
	ok(rc == -EINVAL, "a bad value is an error even when --set overrides the key: %s", msg);
	scn_prog_free(&prog);
	vmlab_settings_destroy(base);
}

/* A fake world for the evaluator. */
static int64_t env_name(void *ctx, int name)
{
	(void)ctx;
	return 0x10000 * (name + 1);
}
static uint64_t env_counter(void *ctx, unsigned id)
{
	(void)ctx;
	return id == (unsigned)vmlab_counter_find("walks") ? 7 : 0;
}
static int64_t env_field(void *ctx, int proc, unsigned f)
{
	(void)ctx;
	return f == SCN_F_RSS ? 12288 + proc : f == SCN_F_LAST ? -ENOMEM : 0;
}

static void evals_rc(const char *expr, int64_t want, int want_rc)
{
	struct scn_prog prog;
	char text[200], msg[300];
	snprintf(text, sizeof(text), "process A\nprocess B\nlet p 0\nlet q 0\nshow %s\n", expr);
	int rc = parse(&prog, text, NULL, msg, sizeof(msg));
	if (rc) {
		ok(0, "'%s' parses: %s", expr, msg);
		scn_prog_free(&prog);
		return;
	}
	struct scn_env env = { env_name, env_counter, env_field, NULL };
	const struct scn_stmt *st = &prog.stmts[prog.nstmts - 1];
	int64_t v = 0;
	rc = scn_eval(&prog, st->arg[SCN_A_ADDR], &env, &v);
	if (want_rc)
		is_i64(rc, want_rc, "%s fails with %d", expr, want_rc);
	else
		is_i64(v, want, "%s == %lld", expr, (long long)want);
	scn_prog_free(&prog);
}

static void evals(const char *expr, int64_t want)
{
	evals_rc(expr, want, 0);
}

static void test_eval(void)
{
	evals("0", 0);
	evals("4K", 4096);
	evals("2M+4K", (2 << 20) + 4096);
	evals("0x1000", 4096);
	evals("1-2", -1);
	evals("1 - 2 - 3", -4);
	evals("2+3*4", 14);
	evals("(2+3)*4", 20);
	evals("-4K", -4096);
	evals("--1", 1);
	evals("+5", 5);
	evals("p", 0x30000);            /* names 0, 1 are A and B */
	evals("q+4K", 0x40000 + 4096);
	evals("walks", 7);
	evals("walks*2", 14);
	evals("A.rss", 12288);
	evals("B.rss", 12289);
	evals("A.last", -ENOMEM);
	evals("-ENOMEM", -ENOMEM);
	evals("SIGSEGV", VM_SIGSEGV);
	evals("SEGV_ACCERR", VM_SEGV_ACCERR);
	evals("0xffffffffffffffff", -1);
	evals("0x7fffffffffffffff+1", INT64_MIN);      /* wraps, no UB */
	evals("0x8000000000000000*2", 0);
	evals("7/2", 3);
	evals("-7/2", -3);
	evals("7%3", 1);
	evals("-7%3", -1);
	evals("(4K+1)/4K*4K", 4096);
	evals("2+10/5*3", 8);
	evals("0x8000000000000000/-1", INT64_MIN);
	evals("0x8000000000000000%-1", 0);
	evals_rc("1/0", 0, -EDOM);
	evals_rc("5%(2-2)", 0, -EDOM);
	evals_rc("1+(walks/0)", 0, -EDOM);

	struct scn_prog prog;
	char msg[300];
	struct scn_env env = { env_name, env_counter, env_field, NULL };
	parse(&prog, "process A\nexpect A.rss == 12K\nexpect A.rss < 12K\nexpect A.rss >= 12K\n"
		     "expect A.last != -ENOMEM\nexpect walks <= 7\nexpect walks > 7\n", NULL, msg, sizeof(msg));
	static const int64_t want[] = { 1, 0, 1, 0, 1, 0 };
	for (size_t i = 0; i < 6 && i + 1 < prog.nstmts; i++) {
		int64_t v = -1;
		scn_eval(&prog, prog.stmts[i + 1].arg[SCN_A_ADDR], &env, &v);
		is_i64(v, want[i], "expect %zu", i);
	}
	scn_prog_free(&prog);
}

static void test_format(void)
{
	static const struct {
		int64_t v;
		enum scn_hint hint;
		const char *want;
	} cases[] = {
		{ 0, SCN_H_PLAIN, "0" },
		{ 4, SCN_H_PLAIN, "4" },
		{ 12288, SCN_H_PLAIN, "12288 (12K)" },
		{ 0x10001, SCN_H_PLAIN, "65537 (0x10001)" },
		{ 0x200000000000, SCN_H_PLAIN, "35184372088832 (32T, 0x200000000000)" },
		{ 0x7eff8a600000, SCN_H_PLAIN, "139636003307520 (0x7eff8a600000)" },
		{ 0x201000, SCN_H_PLAIN, "2101248 (2052K, 0x201000)" },
		{ -ENOMEM, SCN_H_ERRNO, "-12 (-ENOMEM)" },
		{ -ENOMEM, SCN_H_PLAIN, "-12 (-ENOMEM)" },
		{ -5000, SCN_H_PLAIN, "-5000" },
		{ VM_SIGSEGV, SCN_H_SIGNAL, "11 (SIGSEGV)" },
		{ 0, SCN_H_SIGNAL, "0" },
		{ VM_SEGV_MAPERR, SCN_H_SIGCODE, "1 (SEGV_MAPERR)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[80];
		scn_format_value(cases[i].v, cases[i].hint, buf, sizeof(buf));
		is_str(buf, cases[i].want, "format %lld", (long long)cases[i].v);
	}
}

int main(void)
{
	test_issue_example();
	test_valid();
	test_invalid();
	test_set_precedence();
	test_eval();
	test_format();
	return done_testing();
}
