/*
 * exec of /bin/ls (issue 4, benchmark).
 *
 * (a) execve("/bin/ls") again and again in one process: each one drops
 *     the previous address space (exit_mmap of its 13 VMAs and pages) and
 *     builds the new one (headers of ls and ld.so read from the host file,
 *     13 VMAs, 3 pages written by the kernel: the stack and two bss tails).
 * (b) Floors measured in the same run:
 *       - the headers alone: vm_elf_parse of /bin/ls and of its
 *         interpreter through the same pread reader (host I/O and parsing);
 *       - the same number of VMAs made and dropped with mmap: 13 file and
 *         anonymous mmaps of the same sizes in a fresh-enough process,
 *         3 pages written, then 13 munmaps.
 * Reported per exec, in meta and data mode, with the ratios.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmlab/machine.h>

#include "bench.h"
#include "core/machine.h"
#include "kernel/elf.h"
#include "kernel/exec.h"
#include "kernel/fault.h"
#include "kernel/kernel.h"
#include "kernel/proc.h"
#include "kernel/syscalls.h"
#include "kernel/vfs.h"

#define PROGRAM "/bin/ls"
#define ROUNDS  2000

struct bench {
	struct vm_machine *m;
	struct vm_kernel *k;
	struct vm_proc *p;
};

static int setup(struct bench *b, const char *mode)
{
	const char *words[] = { "phys=256M", "aslr=2", mode };
	int rc = bench_machine(words, 3, &b->m);
	if (rc)
		return rc;
	b->k = vm_machine_kernel(b->m);
	return vm_proc_create(b->k, "bench", &b->p);
}

/* (a): seconds per exec, best of BENCH_REPS. */
static double bench_exec(struct bench *b, uint64_t *allocs)
{
	const char *argv[] = { "ls", "-l", NULL };
	const char *envp[] = { "HOME=/root", "PATH=/usr/bin:/bin", "LANG=C", NULL };
	struct vm_error err;
	double best = 1e9;

	for (int rep = 0; rep < BENCH_REPS; rep++) {
		uint64_t a0 = vmlab_machine_host_allocs(b->m);
		double t0 = bench_now();
		for (int i = 0; i < ROUNDS; i++)
			if (vm_sys_execve(b->k, b->p, PROGRAM, argv, envp, NULL, &err)) {
				fprintf(stderr, "bench: exec: %s\n", err.msg);
				exit(1);
			}
		double t = (bench_now() - t0) / ROUNDS;
		*allocs = (vmlab_machine_host_allocs(b->m) - a0) / ROUNDS;
		if (t < best)
			best = t;
	}
	return best;
}

static long fd_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);
	return n < 0 ? -errno : n;
}

/* Floor 1: the headers of the program and its interpreter. */
static double bench_headers(void)
{
	static struct vm_elf_image img, ld;
	struct vm_error err;
	double best = 1e9;
	int fd = open(PROGRAM, O_RDONLY), ldfd;
	struct vm_elf_reader r = { fd_read, &fd, PROGRAM };

	if (fd < 0 || vm_elf_parse(&r, &img, &err) || (ldfd = open(img.interp, O_RDONLY)) < 0)
		exit(1);
	struct vm_elf_reader lr = { fd_read, &ldfd, img.interp };
	for (int rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = bench_now();
		for (int i = 0; i < ROUNDS; i++)
			if (vm_elf_parse(&r, &img, &err) || vm_elf_parse_interp(&lr, &ld, &err))
				exit(1);
		double t = (bench_now() - t0) / ROUNDS;
		if (t < best)
			best = t;
	}
	close(fd);
	close(ldfd);
	return best;
}

/* Floor 2: the VMAs of an exec'ed ls, made with mmap and dropped with
 * munmap: the exec's maps give their sizes, files, offsets and
 * protections; the first three writable ones get a write each, as exec
 * writes the stack page and the two bss tails. */
static double bench_mmaps(struct bench *b)
{
	struct { vm_vaddr start, len; int prot; const char *path; uint64_t off; } v[32];
	unsigned n = 0;
	struct vm_error err;

	if (vm_sys_execve(b->k, b->p, PROGRAM, NULL, NULL, NULL, &err))
		exit(1);
	for (struct vm_vma *vma = vm_vma_first(b->p->mm); vma && n < 32; vma = vm_vma_next(vma), n++) {
		v[n].start = vma->vm_start;
		v[n].len = vma->vm_end - vma->vm_start;
		v[n].prot = (int)(vma->vm_flags & 7);
		v[n].path = vma->vm_file ? vma->vm_file->path : NULL;
		v[n].off = vma->vm_pgoff << 12;
	}
	/* A process of its own, so that the address space is empty. */
	struct vm_proc *p;
	if (vm_proc_create(b->k, "floor", &p))
		exit(1);
	long fd[32];
	for (unsigned j = 0; j < n; j++)
		fd[j] = v[j].path ? vm_sys_openat(b->k, p, v[j].path, VM_O_RDONLY) : -1;
	double best = 1e9;
	for (int rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = bench_now();
		for (int i = 0; i < ROUNDS; i++) {
			for (unsigned j = 0; j < n; j++) {
				long r = vm_sys_mmap(b->k, p, 0x100000000000 + (v[j].start & 0xffffffffff),
						     v[j].len, v[j].prot | VM_PROT_READ,
						     VM_MAP_PRIVATE | VM_MAP_FIXED | (v[j].path ? 0 : VM_MAP_ANONYMOUS),
						     (int)fd[j], v[j].off);
				if (r < 0) {
					fprintf(stderr, "bench: floor mmap %u: %ld\n", j, r);
					exit(1);
				}
			}
			uint64_t w = 0;
			for (unsigned j = 0, done = 0; j < n && done < 3; j++)
				if (v[j].prot & VM_PROT_WRITE) {
					done++;
					vm_user_access(b->k, p, 0x100000000000 + (v[j].start & 0xffffffffff),
						       8, VM_ACC_WRITE, &w);
				}
			for (unsigned j = 0; j < n; j++)
				vm_sys_munmap(b->k, p, 0x100000000000 + (v[j].start & 0xffffffffff), v[j].len);
		}
		double t = (bench_now() - t0) / ROUNDS;
		if (t < best)
			best = t;
	}
	for (unsigned j = 0; j < n; j++)
		if (fd[j] >= 0)
			vm_sys_close(b->k, p, (int)fd[j]);
	return best;
}

int main(void)
{
	const char *modes[] = { "mode=meta", "mode=data" };
	double headers = bench_headers();

	printf("exec of %s, %d rounds, best of %d (bench/bench_exec.c)\n", PROGRAM, ROUNDS, BENCH_REPS);
	printf("floor: the headers of ls and ld.so (vm_elf_parse, pread): %.2f us\n", headers * 1e6);
	for (int i = 0; i < 2; i++) {
		struct bench b = { 0 };
		uint64_t allocs = 0;
		if (setup(&b, modes[i]))
			return 1;
		double exec = bench_exec(&b, &allocs);
		double mmaps = bench_mmaps(&b);
		printf("%-9s exec %.2f us (%" PRIu64 " host allocations)  floor: the same VMAs by mmap "
		       "+ munmap %.2f us  ratio %.1fx (headers %.1fx)\n", modes[i], exec * 1e6, allocs,
		       mmaps * 1e6, exec / mmaps, exec / headers);
		vmlab_machine_destroy(b.m);
	}
	return 0;
}
