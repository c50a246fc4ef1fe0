/*
 * The lackey reader: one log of Valgrind's lackey tool run with
 * --trace-mem=yes --trace-syscalls=yes (../shared/LACKEY.md), one process
 * image per log (--log-file=NAME.%p.%n.log).
 *
 *   "I  ADDR,SIZE"   an instruction fetch       -> ACCESS exec
 *   " L ADDR,SIZE"   a load                     -> ACCESS read
 *   " S ADDR,SIZE"   a store                    -> ACCESS write
 *   " M ADDR,SIZE"   a load and a store by one instruction -> ACCESS modify
 *   "SYSCALL[...]"   a system call; its status may come on a continuation
 *                    line (" --> [...") or, for a blocking call, on a later
 *                    completion line ("... [async] --> ...")
 *   "==PID== ..."    banner, warnings, summary; "--PID-- ..." debug lines
 *
 * From the calls: memory calls become SYSCALL events (file mmaps carry the
 * path their descriptor names: openat, close and dup* are followed), calls
 * that write into user buffers become kernel-write ACCESS events of the
 * length they returned, fork-like calls FORK, a successful execve (the log
 * ends with its line, without a status) EXEC, exit_group EXIT.  The initial
 * address map, which no line shows, comes from `valgrind -d` (opts.maps,
 * lackey_maps.c) as MAP events before the first other event.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "kernel/uapi.h"
#include "trace/lackey.h"

#define LK_TIDS 512           /* Valgrind's VG_N_THREADS default is 500 */
#define ENOSYS_VAL 0x26

struct lk_log {
	char *name;               /* the file, for messages */
	struct vm_tin *in;        /* its bytes */
	bool own_in;
	int seq;                  /* N of NAME.PID.N.log (0: the name does not say) */
	int32_t pid;              /* the log's process: from the banner or the first SYSCALL */
	bool pid_guessed;         /* memory lines came first: pid 1 until told */
	char command[256];        /* the banner's program (first word of Command:) */
	long line;
	bool banner;              /* the Command: line was seen */
	struct lk_fdtab fds;
	struct lk_call *pending[LK_TIDS];   /* blocking calls awaiting completion, by tid */
	struct lk_call split;     /* a SYSCALL line whose status comes on a later line */
	bool has_split;
	long split_line;
	unsigned threads;         /* live threads besides the first */
	/* The initial map, handed out before the first other event. */
	struct lk_maps *maps;     /* the -d tables (the trace's), NULL: none */
	struct lk_map *map;
	uint64_t tramp_start, tramp_len;   /* Valgrind's trampoline in the log (maps->tramp_*) */
	size_t next_seg;
	bool map_done;
	bool exec_pending;        /* the log ended with a successful execve */
	char exec_path[VM_TRACE_PATH_MAX + 1];
	bool at_end;
};

static const signed char hexdig[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
	['f'] = 16,
};

bool lk_detect(const unsigned char *head, size_t len)
{
	const char *s = (const char *)head;
	if (len >= 3 && (memcmp(s, "I  ", 3) == 0 ||
			 (s[0] == ' ' && (s[1] == 'L' || s[1] == 'S' || s[1] == 'M') && s[2] == ' ')))
		return true;
	if (len >= 8 && memcmp(s, "SYSCALL[", 8) == 0)
		return true;
	/* "==4330== " or "--4330-- " */
	if (len >= 4 && ((s[0] == '=' && s[1] == '=') || (s[0] == '-' && s[1] == '-'))) {
		size_t i = 2;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		return i > 2 && i + 1 < len && s[i] == s[0] && s[i + 1] == s[0];
	}
	return false;
}

int lk_log_open(struct lk_log **out, const char *name, struct vm_tin *in, bool own_in, int seq,
		int32_t pid, struct lk_maps *maps)
{
	struct lk_log *lk = calloc(1, sizeof(*lk));
	if (!lk || !(lk->name = strdup(name))) {
		free(lk);
		if (own_in)
			vm_tin_close(in);
		return -ENOMEM;
	}
	lk->in = in;
	lk->own_in = own_in;
	lk->seq = seq;
	lk->pid = pid;
	lk->maps = maps;
	/* A fork child's address space is its parent's at the fork: no table. */
	lk->map_done = !maps || seq > 1;
	if (maps) {
		lk->tramp_start = maps->tramp_start;
		lk->tramp_len = maps->tramp_len;
	}
	*out = lk;
	return 0;
}

void lk_log_free(struct lk_log *lk)
{
	if (!lk)
		return;
	lk_fd_free(&lk->fds);
	for (unsigned i = 0; i < LK_TIDS; i++)
		free(lk->pending[i]);
	if (lk->own_in) {
		vm_tin_close(lk->in);
		free(lk->in);
	}
	free(lk->name);
	free(lk);
}

struct lk_fdtab *lk_log_fds(struct lk_log *lk)
{
	return &lk->fds;
}

int32_t lk_log_pid(const struct lk_log *lk)
{
	return lk->pid;
}

int lk_log_seq(const struct lk_log *lk)
{
	return lk->seq;
}

/* t->err = this log's FILE:LINE: fmt; -EINVAL. */
static int lk_fail(struct vm_trace *t, const struct lk_log *lk, long line, const char *fmt, ...)
	VM_PRINTF(4, 5);
static int lk_fail(struct vm_trace *t, const struct lk_log *lk, long line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->err.msg, sizeof(t->err.msg), fmt, ap);
	va_end(ap);
	t->err.file = lk->name;
	t->err.line = line;
	return -EINVAL;
}

/* An access address as the trace has it: one into Valgrind's trampoline
 * moved to VM_VG_TRAMPOLINE, where its map event puts the page
 * (lackey_maps.c); an access that starts there and goes on past it moves
 * whole, as vmlab's tool moves it (vgt_out.c). */
static inline uint64_t lk_addr(const struct lk_log *lk, uint64_t a)
{
	if (VM_UNLIKELY(a - lk->tramp_start < lk->tramp_len))
		return a - lk->tramp_start + VM_VG_TRAMPOLINE;
	return a;
}

/* "ADDR,SIZE" at s[0..n): false if malformed. */
static inline bool parse_mem(const char *s, size_t n, uint64_t *addr, uint32_t *size)
{
	size_t i = 0;
	uint64_t a = 0;
	int d;
	while (i < n && (d = hexdig[(unsigned char)s[i]]) != 0) {
		a = a << 4 | (uint64_t)(d - 1);
		i++;
	}
	if (i == 0 || i > 16 || i >= n || s[i] != ',')
		return false;
	uint32_t z = 0;
	size_t j = ++i;
	while (i < n && s[i] >= '0' && s[i] <= '9' && i - j < 5)
		z = z * 10 + (uint32_t)(s[i++] - '0');
	if (i == j || i != n || z == 0 || z > VM_PAGE_SIZE)
		return false;
	*addr = a;
	*size = z;
	return true;
}

static int set_pid(struct vm_trace *t, struct lk_log *lk, int32_t pid)
{
	if (lk->pid == 0)
		lk->pid = pid;
	else if (pid != lk->pid && lk->pid_guessed)
		return lk_fail(t, lk, lk->line, "memory lines before the first line that names the "
				     "process (the ==PID== banner or a SYSCALL line)");
	else if (pid != lk->pid)
		return lk_fail(t, lk, lk->line, "a line of process %d in the log of process %d "
				     "(one log per process: --log-file=NAME.%%p.%%n.log)", pid, lk->pid);
	return 0;
}

/* "==PID== Command: PROGRAM ARGS": the pid, and the program for picking
 * the initial map. */
static int banner_line(struct vm_trace *t, struct lk_log *lk, const char *s, size_t n)
{
	size_t i = 2;
	int64_t pid = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9' && pid <= INT32_MAX)
		pid = pid * 10 + (s[i++] - '0');
	if (i == 2 || pid == 0 || pid > INT32_MAX || n - i < 2 || s[i] != '=' || s[i + 1] != '=')
		return 0;     /* not a banner: a message like any other */
	static const char cmd[] = "== Command: ";
	if (n - i >= sizeof(cmd) - 1 && memcmp(s + i, cmd, sizeof(cmd) - 1) == 0 && !lk->banner) {
		int rc = set_pid(t, lk, (int32_t)pid);
		if (rc)
			return rc;
		lk->banner = true;
		/* The first word; Valgrind escapes blanks in it with a backslash. */
		size_t o = 0;
		for (i += sizeof(cmd) - 1; i < n && s[i] != ' ' && o + 1 < sizeof(lk->command); i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			lk->command[o++] = s[i];
		}
		lk->command[o] = '\0';
	}
	return 0;
}

/* Pick the initial map once the process is known. */
static int load_map(struct vm_trace *t, struct lk_log *lk)
{
	lk->map_done = true;
	if (!lk->banner)
		return lk_fail(t, lk, lk->line, "no '==PID== Command:' banner before the first "
				     "event: cannot pick the initial map from %s", t->opts.maps);
	lk->map = lk_maps_pick(lk->maps, lk->pid, lk->command);
	if (!lk->map)
		return lk_fail(t, lk, lk->line, "%s holds %zu startup maps, none of process %d or "
			       "of program '%s'", t->opts.maps, lk->maps->nmap, lk->pid,
			       lk->command);
	lk->map->used = true;
	return 0;
}

static void map_event(struct lk_log *lk, struct vm_trace_event *ev)
{
	const struct lk_segment *sg = &lk->map->seg[lk->next_seg++];
	*ev = (struct vm_trace_event){ .kind = VM_TEV_MAP, .flags = sg->flags, .pid = lk->pid,
				       .path = sg->path };
	ev->map.start = sg->start;
	ev->map.end = sg->end;
	ev->map.offset = sg->offset;
	ev->map.prot = sg->prot;
	ev->map.flags = VM_MAP_PRIVATE | (sg->path ? 0 : VM_MAP_ANONYMOUS);
}

/* A SYSCALL event of a kept call. */
static void syscall_event(struct lk_log *lk, const struct lk_call *c, struct vm_trace_event *ev)
{
	*ev = (struct vm_trace_event){ .kind = VM_TEV_SYSCALL, .pid = c->pid };
	ev->sys.nr = c->nr;
	ev->sys.nargs = c->nargs;
	memcpy(ev->sys.arg, c->arg, sizeof(ev->sys.arg));
	ev->sys.ret = c->status == LK_ST_FAILURE ? -(int64_t)c->result : (int64_t)c->result;
	if (c->nr == VM_NR_MMAP && !(c->arg[3] & VM_MAP_ANONYMOUS))
		ev->path = lk_fd_path(&lk->fds, c->arg[4]);
}

/* A call with its status: the events it makes.  1 (ev filled, maybe more
 * pushed), 0 (none), or an error. */
static int finish_call(struct vm_trace *t, struct lk_log *lk, struct lk_call *c,
		       struct vm_trace_event *ev)
{
	unsigned min, max;
	int produced = 0;
	t->stat[VM_TSTAT_SYSCALLS]++;
	if (c->status == LK_ST_FAILURE && c->result == ENOSYS_VAL)
		t->stat[VM_TSTAT_SYS_REFUSED]++;
	if (lk_sys_kept(c->nr, &min, &max)) {
		if (!c->args_ok || c->nargs < min || c->nargs > max)
			return lk_fail(t, lk, lk->line, "cannot read the arguments of %s (%u..%u "
					     "expected)", lk_sys_name(c->nr), min, max);
		syscall_event(lk, c, ev);
		if (c->nr == VM_NR_MMAP && !(c->arg[3] & VM_MAP_ANONYMOUS) && !ev->path)
			t->stat[VM_TSTAT_FD_UNKNOWN]++;
		t->stat[VM_TSTAT_SYS_KEPT]++;
		produced = 1;
	} else if ((c->nr == 56 || c->nr == 57 || c->nr == 58 || c->nr == 435) &&
		   c->status == LK_ST_SUCCESS) {
		/* Valgrind turns fork, vfork and CLONE_VFORK into real forks and says
		 * "created child N"; a clone without that message is a thread. */
		bool fork = c->child || c->nr == 57 || c->nr == 58;
		if (fork && (c->result == 0 || c->result > INT32_MAX ||
			     (c->child && c->result != (uint64_t)c->child)))
			return lk_fail(t, lk, lk->line, "fork returned %#" PRIx64 " but the message "
					     "names child %d", c->result, c->child);
		if (fork) {
			*ev = (struct vm_trace_event){ .kind = VM_TEV_FORK, .pid = c->pid };
			ev->fork.child = (int32_t)c->result;
			produced = 1;
		} else if (c->result != 0) {
			lk->threads++;
		}
	} else if (c->nr == 231 || (c->nr == 60 && lk->threads == 0)) {
		*ev = (struct vm_trace_event){ .kind = VM_TEV_EXIT, .pid = c->pid };
		ev->exit.code = c->args_ok && c->nargs >= 1 ? (int32_t)c->arg[0] : 0;
		produced = 1;
	} else if (c->nr == 60 && lk->threads) {
		lk->threads--;
	}
	int rc = lk_fd_apply(&lk->fds, c);
	if (rc)
		return rc;
	uint64_t addr[2], len[2];
	unsigned nw = lk_sys_user_writes(c, addr, len);
	for (unsigned i = 0; i < nw; i++) {
		struct vm_trace_event w = { .kind = VM_TEV_ACCESS, .access = VM_ACC_WRITE,
					    .flags = VM_TEV_F_KERNEL, .pid = c->pid };
		w.acc.addr = lk_addr(lk, addr[i]);
		w.acc.size = (uint32_t)len[i];
		w.acc.count = 1;
		t->stat[VM_TSTAT_KWRITES]++;
		if (produced)
			vm_trace_push(t, &w);
		else
			*ev = w;
		produced = 1;
	}
	return produced;
}

/* The status of c is known: finish it, or park it until its completion. */
static int resolve(struct vm_trace *t, struct lk_log *lk, struct lk_call *c,
		   struct vm_trace_event *ev)
{
	if (c->status != LK_ST_ASYNC)
		return finish_call(t, lk, c, ev);
	if ((uint32_t)c->tid >= LK_TIDS)
		return lk_fail(t, lk, lk->line, "thread %d: more threads than Valgrind runs", c->tid);
	struct lk_call **slot = &lk->pending[c->tid];
	if (*slot)
		t->stat[VM_TSTAT_ASYNC_LOST]++;     /* a signal interrupted it (LACKEY.md 2.3) */
	else if (!(*slot = malloc(sizeof(**slot))))
		return -ENOMEM;
	**slot = *c;
	return 0;
}

static int completion(struct vm_trace *t, struct lk_log *lk, const struct lk_call *head,
		      const char *s, size_t n, struct vm_trace_event *ev)
{
	struct lk_call **slot = (uint32_t)head->tid < LK_TIDS ? &lk->pending[head->tid] : NULL;
	if (!slot || !*slot || (*slot)->nr != head->nr)
		return lk_fail(t, lk, lk->line, "completion of system call %d of thread %d, which "
				     "did not start", head->nr, head->tid);
	struct lk_call *c = *slot;
	if (lk_parse_status(s, n, c) < 0 || (c->status != LK_ST_SUCCESS &&
					     c->status != LK_ST_FAILURE)) {
		return lk_fail(t, lk, lk->line, "cannot read the result of this completion line");
	}
	*slot = NULL;
	int rc = finish_call(t, lk, c, ev);
	free(c);
	return rc;
}

static int syscall_line(struct vm_trace *t, struct lk_log *lk, const char *s, size_t n,
			struct vm_trace_event *ev)
{
	struct lk_call c;
	size_t rest;
	if (!lk_parse_head(s, n, &c, &rest))
		return lk_fail(t, lk, lk->line, "malformed SYSCALL line (SYSCALL[PID,TID](NR) ...)");
	int rc = set_pid(t, lk, c.pid);
	if (rc)
		return rc;
	if (lk->has_split)
		return lk_fail(t, lk, lk->line, "the SYSCALL line at line %ld has no status "
				     "(' --> [...' line missing)", lk->split_line);
	s += rest;
	n -= rest;
	if (lk_is_completion(s, n))
		return completion(t, lk, &c, s, n, ev);
	lk_parse_wrapper(s, n, &c);
	if (lk_parse_status(s, n, &c) < 0)
		return lk_fail(t, lk, lk->line, "cannot read the status of this SYSCALL line");
	if (c.status == LK_ST_NONE) {
		/* Split by an embedded message: the status follows later. */
		lk->split = c;
		lk->has_split = true;
		lk->split_line = lk->line;
		return 0;
	}
	return resolve(t, lk, &c, ev);
}

/* " --> [...": the status of the split SYSCALL line.  In a fork child's
 * log it comes first, without a line before it: the child's own return
 * from fork (0), which starts its log (LACKEY.md 2.5). */
static int continuation(struct vm_trace *t, struct lk_log *lk, const char *s, size_t n,
			struct vm_trace_event *ev)
{
	struct lk_call probe;
	if (!lk->has_split) {
		if (lk_parse_status(s, n, &probe) < 0 || probe.status != LK_ST_SUCCESS)
			return lk_fail(t, lk, lk->line, "a status line without a SYSCALL line before it");
		t->stat[VM_TSTAT_IGNORED]++;
		return 0;
	}
	lk->has_split = false;
	if (lk_parse_status(s, n, &lk->split) < 0 || lk->split.status == LK_ST_NONE)
		return lk_fail(t, lk, lk->line, "cannot read this status line");
	return resolve(t, lk, &lk->split, ev);
}

/* The end of the log: a split execve line is a successful exec. */
static int at_eof(struct vm_trace *t, struct lk_log *lk, struct vm_trace_event *ev)
{
	lk->at_end = true;
	for (unsigned i = 0; i < LK_TIDS; i++)
		if (lk->pending[i]) {
			t->stat[VM_TSTAT_ASYNC_LOST]++;
			free(lk->pending[i]);
			lk->pending[i] = NULL;
		}
	if (!lk->has_split)
		return 0;
	lk->has_split = false;
	struct lk_call *c = &lk->split;
	if ((c->nr != 59 && c->nr != 322) || !c->args_ok || c->path_arg < 0 || !c->path[0])
		return lk_fail(t, lk, lk->split_line, "the log ends inside this SYSCALL line "
				     "(truncated?)");
	t->stat[VM_TSTAT_SYSCALLS]++;
	memcpy(lk->exec_path, c->path, sizeof(lk->exec_path));
	*ev = (struct vm_trace_event){ .kind = VM_TEV_EXEC, .pid = c->pid, .path = lk->exec_path };
	return 1;
}

/* Anything but a memory line. */
static int other_line(struct vm_trace *t, struct lk_log *lk, const char *s, size_t n, bool partial,
		      struct vm_trace_event *ev)
{
	if (n >= 8 && memcmp(s, "SYSCALL[", 8) == 0) {
		/* Only an execve line may end the log without a newline. */
		int rc = syscall_line(t, lk, s, n, ev);
		if (rc == 0 && partial && !lk->has_split)
			return lk_fail(t, lk, lk->line, "the last line has no newline (truncated?)");
		return rc;
	}
	if (partial)
		return lk_fail(t, lk, lk->line, "the last line has no newline (truncated?)");
	if (n >= 6 && memcmp(s, " --> [", 6) == 0)
		return continuation(t, lk, s, n, ev);
	t->stat[VM_TSTAT_IGNORED]++;
	if (n >= 2 && s[0] == '=' && s[1] == '=')
		return banner_line(t, lk, s, n);
	if ((n >= 2 && s[0] == '-' && s[1] == '-') || n == 0)
		return 0;
	return lk_fail(t, lk, lk->line, "'%.*s': not a lackey line (I, L, S, M, SYSCALL, ==PID==)",
			     (int)VM_MIN(n, 40), s);
}

int lk_log_next(struct vm_trace *t, struct lk_log *lk, struct vm_trace_event *ev)
{
	if (lk->map && lk->next_seg < lk->map->nseg) {
		map_event(lk, ev);
		return 1;
	}
	while (!lk->at_end) {
		const char *s;
		size_t n;
		bool partial;
		int rc = vm_tin_line(lk->in, LK_LINE_MAX, &s, &n, &partial);
		if (rc == 0)
			return at_eof(t, lk, ev);
		if (rc < 0)
			return rc == -E2BIG ? lk_fail(t, lk, lk->line + 1, "line longer than %d bytes",
							    LK_LINE_MAX) : rc;
		lk->line++;
		t->stat[VM_TSTAT_LINES]++;
		char c0 = n > 3 ? s[0] : 0;
		bool mem = (c0 == 'I' && s[1] == ' ' && s[2] == ' ') ||
			   (c0 == ' ' && s[2] == ' ' && (s[1] == 'L' || s[1] == 'S' || s[1] == 'M'));
		if (VM_UNLIKELY(!lk->map_done) && (mem || (n >= 8 && memcmp(s, "SYSCALL[", 8) == 0))) {
			/* Hand out the initial map first; this line is read again. */
			if ((rc = load_map(t, lk)))
				return rc;
			lk->in->pos -= n + !partial;
			lk->line--;
			t->stat[VM_TSTAT_LINES]--;
			return lk_log_next(t, lk, ev);
		}
		if (VM_LIKELY(mem) && !partial) {
			if (VM_UNLIKELY(lk->has_split))
				return lk_fail(t, lk, lk->line, "the SYSCALL line at line %ld has no status "
						     "(' --> [...' line missing)", lk->split_line);
			if (VM_UNLIKELY(!parse_mem(s + 3, n - 3, &ev->acc.addr, &ev->acc.size)))
				return lk_fail(t, lk, lk->line, "'%.*s': expected ADDR,SIZE (hex "
						     "address, size 1..4096)", (int)VM_MIN(n, 40), s);
			ev->acc.addr = lk_addr(lk, ev->acc.addr);
			ev->kind = VM_TEV_ACCESS;
			ev->flags = 0;
			if (VM_UNLIKELY(!lk->pid)) {
				lk->pid = 1;
				lk->pid_guessed = true;
			}
			ev->pid = lk->pid;
			ev->path = NULL;
			ev->acc.count = 1;
			if (c0 == 'I') {
				ev->access = VM_ACC_EXEC;
				t->stat[VM_TSTAT_INSTR_LINES]++;
			} else {
				ev->access = s[1] == 'L' ? VM_ACC_READ : s[1] == 'S' ? VM_ACC_WRITE
										 : VM_TACC_MODIFY;
				t->stat[VM_TSTAT_DATA_LINES]++;
			}
			return 1;
		}
		rc = other_line(t, lk, s, n, partial, ev);
		if (rc)
			return rc;
		if (lk->map && lk->next_seg < lk->map->nseg) {
			map_event(lk, ev);
			return 1;
		}
	}
	return 0;
}

