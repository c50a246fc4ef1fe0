/*
 * Fuzz target: a byte-coded program of memory system calls and accesses on
 * a small machine, with the invariant checker (vm_kernel_check) after every
 * operation.  Any crash, sanitizer report or broken invariant is a finding.
 *
 * Encoding: byte 0 picks settings (THP mode, ASLR, CPUs, data/meta mode,
 * fault-around, page cache warm/cold, TLB preset with memory pressure:
 * 4 MiB and swap); then each operation is one opcode
 * byte followed by the argument bytes it consumes.  Addresses come mostly
 * from a 2 MiB window of interesting pages (so that calls meet each other's
 * mappings), sometimes from the start of an existing VMA, sometimes raw;
 * lengths are mostly small page counts, sometimes raw.  Input that runs out
 * ends the program.  Physical memory is small (8 MiB) so that allocation
 * failures, OOM kills and THP fallbacks happen too.  Processes come from
 * vm_proc_create and from fork, vfork and threads; wait reaps them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmlab/machine.h>
#include <vmlab/settings.h>

#include "core/machine.h"
#include "kernel/fault.h"
#include "kernel/fork.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/syscalls.h"
#include "kernel/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WINDOW UINT64_C(0x300000000000)   /* 2 MiB aligned, 512 pages of play */
#define MAXPROCS 8
#define FILE_PATH "tests/scenarios/data/6000-bytes.txt"

struct prog {
	const uint8_t *p, *end;
};

static bool more(const struct prog *g)
{
	return g->p < g->end;
}

static uint8_t byte(struct prog *g)
{
	return g->p < g->end ? *g->p++ : 0;
}

static uint64_t raw64(struct prog *g)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | byte(g);
	return v;
}

static vm_vaddr addr(struct prog *g, struct vm_proc *p)
{
	uint8_t how = byte(g);
	if (how < 200)
		return WINDOW + ((uint64_t)byte(g) << 12) * 2 + (how & 1 ? 4096 : 0);
	if (how < 240 && p->mm) {
		/* the start (or end) of the n-th VMA */
		unsigned n = byte(g);
		struct vm_vma *v = vm_vma_first(p->mm);
		for (unsigned i = 0; v && i < n % 16; i++)
			v = vm_vma_next(v);
		if (v)
			return how & 1 ? v->vm_end : v->vm_start;
	}
	return raw64(g);
}

static uint64_t length(struct prog *g)
{
	uint8_t how = byte(g);
	if (how < 230)
		return ((uint64_t)(how % 40) + (how >= 200)) << 12;
	if (how < 250)
		return ((uint64_t)byte(g) << 21) >> (how % 4);   /* up to ~512 MiB */
	return raw64(g);
}

static int prot(struct prog *g)
{
	uint8_t b = byte(g);
	int pr = b & 7;
	if (b & 0x80)
		pr |= VM_PROT_GROWSDOWN;
	return pr;
}

static int mmap_flags(struct prog *g, int *fd)
{
	static const int extra[] = { 0, VM_MAP_FIXED, VM_MAP_FIXED_NOREPLACE, VM_MAP_POPULATE,
				     VM_MAP_NORESERVE, VM_MAP_GROWSDOWN, VM_MAP_LOCKED, VM_MAP_STACK };
	uint8_t b = byte(g), c = byte(g);
	int flags = (b & 1 ? VM_MAP_SHARED : VM_MAP_PRIVATE) | extra[c % 8] | extra[(c >> 3) % 8];
	if (b & 2)
		flags |= VM_MAP_ANONYMOUS;
	else
		*fd = b & 4 ? (int)byte(g) - 8 : *fd;   /* sometimes a bad descriptor */
	if ((b & 0xf0) == 0xf0)
		flags = (int)raw64(g);                     /* anything at all */
	return flags;
}

static struct vm_machine *make_machine(uint8_t cfg)
{
	static const char *const thp[] = { "thp=never", "thp=madvise", "thp=always", "thp=always" };
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;
	struct vm_machine *m = NULL;
	if (!s)
		return NULL;
	vmlab_settings_parse(s, "phys=8M", &err);
	vmlab_settings_parse(s, thp[cfg & 3], &err);
	vmlab_settings_parse(s, cfg & 4 ? "aslr=2" : "aslr=0", &err);
	vmlab_settings_parse(s, cfg & 8 ? "cpus=2" : "cpus=1", &err);
	vmlab_settings_parse(s, cfg & 16 ? "mode=meta" : "mode=data", &err);
	vmlab_settings_parse(s, cfg & 32 ? "fault_around=4K" : "fault_around=64K", &err);
	vmlab_settings_parse(s, cfg & 64 ? "pagecache=cold" : "pagecache=warm", &err);
	/* Bit 7 also puts the machine under memory pressure: reclaim swaps
	 * anonymous and shmem pages and splits THPs. */
	vmlab_settings_parse(s, cfg & 128 ? "tlb=tiny" : "tlb=zen4", &err);
	if (cfg & 128) {
		vmlab_settings_parse(s, "phys=4M", &err);
		vmlab_settings_parse(s, "swap=16M", &err);
	}
	if (vmlab_machine_create(s, NULL, &m, &err))
		m = NULL;
	vmlab_settings_destroy(s);
	return m;
}

/* One operation on process p; returns false to stop the program. */
static bool step(struct vm_kernel *k, struct vm_proc **procs, unsigned *nprocs, unsigned *cur,
		 int *fd, struct prog *g)
{
	struct vm_proc *p = procs[*cur];
	uint8_t op = byte(g);
	uint8_t buf[64];

	switch (op % 16) {
	case 0: {
		vm_vaddr a = addr(g, p);
		uint64_t len = length(g);
		int pr = prot(g), flags = mmap_flags(g, fd);
		uint64_t off = (uint64_t)byte(g) << 12;
		vm_sys_mmap(k, p, a, len, pr, flags, (flags & VM_MAP_ANONYMOUS) ? -1 : *fd, off);
		break;
	}
	case 1:
		vm_sys_munmap(k, p, addr(g, p), length(g));
		break;
	case 2:
		vm_sys_mprotect(k, p, addr(g, p), length(g), prot(g));
		break;
	case 3: {
		uint8_t b = byte(g);
		vm_vaddr target = b < 128 && p->mm ? p->mm->brk + ((uint64_t)b << 12) :
			b < 250 && p->mm ? p->mm->brk - ((uint64_t)(b - 128) << 12) : raw64(g);
		vm_sys_brk(k, p, target);
		break;
	}
	case 4: {
		vm_vaddr a = addr(g, p);
		uint64_t ol = length(g), nl = length(g);
		int fl = byte(g) & 7;
		vm_sys_mremap(k, p, a, ol, nl, fl, addr(g, p));
		break;
	}
	case 5: {
		vm_vaddr a = addr(g, p);
		uint64_t len = length(g);
		vm_sys_madvise(k, p, a, len, byte(g) % 26);
		break;
	}
	case 6: {
		vm_vaddr a = addr(g, p);
		vm_sys_msync(k, p, a, length(g), byte(g) & 7);
		break;
	}
	case 7:
	case 8:
	case 9: {
		vm_vaddr a = addr(g, p);
		uint64_t len = 1 + byte(g) % sizeof(buf);
		unsigned kind = op % 16 == 7 ? VM_ACC_READ : op % 16 == 8 ? VM_ACC_WRITE : VM_ACC_EXEC;
		memset(buf, op, sizeof(buf));
		vm_user_access(k, p, a, len, kind, buf);
		break;
	}
	case 10: {        /* touch a range page by page */
		vm_vaddr a = addr(g, p);
		unsigned pages = byte(g) % 64, kind = byte(g) % 2;
		for (unsigned i = 0; i < pages && p->state == VM_PROC_RUNNING; i++)
			vm_user_access(k, p, a + ((uint64_t)i << 12), 1, kind, NULL);
		break;
	}
	case 11:
		if (*nprocs < MAXPROCS && vm_proc_create(k, "fuzz", &procs[*nprocs]) == 0)
			(*nprocs)++;
		break;
	case 12:
		*cur = byte(g) % *nprocs;
		break;
	case 13:
		if (byte(g) < 16)
			vm_sys_exit(k, p, 0);
		break;
	case 14:
		if (*fd >= 0 && byte(g) & 1) {
			vm_sys_close(k, p, *fd);
			*fd = -1;
		} else if (*fd < 0) {
			long r = vm_sys_openat(k, p, FILE_PATH, VM_O_RDONLY);
			*fd = r >= 0 ? (int)r : -1;
		}
		break;
	case 15: {        /* fork, vfork, a thread; or wait */
		static const unsigned how[] = { 0, VM_CLONE_VM | VM_CLONE_VFORK,
						VM_CLONE_VM | VM_CLONE_THREAD, VM_CLONE_VM };
		uint8_t b = byte(g);
		if (b < 128) {
			if (*nprocs < MAXPROCS &&
			    vm_sys_clone(k, p, how[b % 4], "fuzz", &procs[*nprocs]) > 0)
				(*nprocs)++;
			break;
		}
		int pids[MAXPROCS];
		for (unsigned i = 0; i < *nprocs; i++)
			pids[i] = procs[i]->pid;
		long r = vm_sys_wait(k, p, b & 1 ? -1 : pids[byte(g) % *nprocs], NULL);
		for (unsigned i = 0; r > 0 && i < *nprocs; i++)
			if (pids[i] == r) {        /* reaped: its struct is gone */
				memmove(&procs[i], &procs[i + 1], (*nprocs - i - 1) * sizeof(procs[0]));
				(*nprocs)--;
				*cur = 0;
				break;
			}
		break;
	}
	default:
		break;
	}
	char msg[256];
	if (vm_kernel_check(k, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "fuzz_kernel_ops: invariant broken after op %u: %s\n", op % 16, msg);
		abort();
	}
	return more(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	struct prog g = { data + 1, data + size };
	struct vm_machine *m = make_machine(data[0]);
	if (!m)
		return 0;
	struct vm_kernel *k = vm_machine_kernel(m);
	struct vm_proc *procs[MAXPROCS];
	unsigned nprocs = 0, cur = 0;
	int fd = -1;
	if (vm_proc_create(k, "fuzz", &procs[0]) == 0) {
		nprocs = 1;
		long r = vm_sys_openat(k, procs[0], FILE_PATH, VM_O_RDONLY);
		fd = r >= 0 ? (int)r : -1;
		while (more(&g) && step(k, procs, &nprocs, &cur, &fd, &g))
			;
	}
	vmlab_machine_destroy(m);
	return 0;
}
