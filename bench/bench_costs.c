/*
 * The host's own costs for replay's cost model (docs/replay.md, "The cost
 * model"), measured natively and printed next to the settings' defaults,
 * so that the defaults can be checked on this machine and set for another:
 *
 *   cost_minor_fault   first write to a page of anonymous memory (and, for
 *                      comparison, a read that maps the zero page)
 *   cost_walk_ref      a random pointer chase, one access per page, over a
 *                      region with 4 KiB pages against the same with 2 MiB
 *                      pages (MADV_HUGEPAGE): the difference per access is
 *                      a TLB miss and its walk, which the model counts as
 *                      one reference when the upper levels are in the
 *                      paging-structure caches (64 MiB: 16,384 pages, more
 *                      than the L2 TLB holds; its 128 KiB of PTEs in cache)
 *   cost_major_fault   a read fault of a file page evicted with
 *                      POSIX_FADV_DONTNEED, MADV_RANDOM (no read-ahead)
 *   cost_writeback     fdatasync of 16 MiB of dirty pages, per page
 *
 * Best of 3 each (load on the host only adds time).  Cycles at cpu_mhz's
 * default (2,600 MHz, this host).  The walk: the model counts one
 * reference per walk of this pattern (the PDE cache covers 64 MiB) and
 * 81 % of its accesses walk (the rest hit the L2 TLB), so a reference is
 * (difference x MHz - 19 % x cost_tlb_hit) / 81 %.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vmlab/settings.h>

#include "bench.h"

#define MHZ 2600.0

static double anon_fault(bool write)
{
	size_t n = 16384, len = n << 12;
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		char *p = mmap(NULL, len, write ? PROT_READ | PROT_WRITE : PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t sum = 0;
		if (p == MAP_FAILED)
			return 0;
		madvise(p, len, MADV_NOHUGEPAGE);
		double t0 = bench_now();
		for (size_t i = 0; i < len; i += 4096) {
			if (write)
				p[i] = 1;
			else
				sum += (unsigned char)p[i];
		}
		double dt = (bench_now() - t0) / (double)n;
		bench_keep(sum);
		if (dt < best)
			best = dt;
		munmap(p, len);
	}
	return best * 1e9;
}

/* ns per access of a random cycle over the pages of len bytes. */
static double chase(size_t len, bool huge)
{
	size_t n = len >> 12;
	char *raw = mmap(NULL, len + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (raw == MAP_FAILED)
		return 0;
	char *p = (char *)(((uintptr_t)raw + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	madvise(p, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	size_t *perm = malloc(n * sizeof(*perm));
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n - 1; i > 0; i--) {     /* xorshift64: a fixed random order */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t j = x % (i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	/* One line per page, at a varying offset so lines spread over cache sets. */
	for (size_t i = 0; i < n; i++) {
		size_t a = perm[i], b = perm[(i + 1) % n];
		*(char **)(p + (a << 12) + (a % 64) * 64) = p + (b << 12) + (b % 64) * 64;
	}
	char *q = p + (perm[0] << 12) + (perm[0] % 64) * 64;
	double best = 1e9;
	for (int r = 0; r < 3; r++) {
		size_t steps = 4000000;
		double t0 = bench_now();
		for (size_t i = 0; i < steps; i++)
			q = *(char **)q;
		double dt = (bench_now() - t0) / (double)steps;
		if (dt < best)
			best = dt;
	}
	bench_keep((uint64_t)(uintptr_t)q);
	free(perm);
	munmap(raw, len + (2 << 20));
	return best * 1e9;
}

static double major_fault(const char *path)
{
	size_t len = 64 << 20;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *buf = malloc(1 << 20);
	double best = 1e9;
	if (fd < 0 || !buf)
		return 0;
	memset(buf, 7, 1 << 20);
	for (size_t o = 0; o < len; o += 1 << 20)
		if (write(fd, buf, 1 << 20) != 1 << 20)
			return 0;
	fsync(fd);
	for (int r = 0; r < 3; r++) {
		posix_fadvise(fd, 0, (off_t)len, POSIX_FADV_DONTNEED);
		char *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
		uint64_t sum = 0, n = 0;
		madvise(p, len, MADV_RANDOM);
		double t0 = bench_now();
		for (size_t i = 0; i < len; i += 1 << 20, n++)
			sum += (unsigned char)p[i];
		double dt = (bench_now() - t0) / (double)n;
		bench_keep(sum);
		if (dt < best)
			best = dt;
		munmap(p, len);
	}
	close(fd);
	free(buf);
	return best * 1e9;
}

static double writeback(const char *path)
{
	size_t len = 16 << 20;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *buf = malloc(len);
	double best = 1e9;
	if (fd < 0 || !buf)
		return 0;
	for (int r = 0; r < 3; r++) {
		memset(buf, r + 1, len);
		if (pwrite(fd, buf, len, 0) != (ssize_t)len)
			return 0;
		double t0 = bench_now();
		fdatasync(fd);
		double dt = (bench_now() - t0) / (double)(len >> 12);
		if (dt < best)
			best = dt;
	}
	close(fd);
	free(buf);
	return best * 1e9;
}

static const char *def(const struct vm_settings *s, const char *key)
{
	return vmlab_settings_get(s, key);
}

int main(void)
{
	struct vm_settings *s = vmlab_settings_create();
	char path[] = "/tmp/vmlab-bench-costs.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return 1;
	close(fd);
	double w = anon_fault(true), z = anon_fault(false);
	printf("cost_minor_fault  default %6s cycles   measured: anonymous write fault %.0f ns = %.0f cycles "
	       "(zero-page read fault %.0f ns)\n", def(s, "cost_minor_fault"), w, w * MHZ / 1000, z);
	double c4 = chase(64 << 20, false), c2 = chase(64 << 20, true);
	double per_ref = ((c4 - c2) * MHZ / 1000 - 0.19 * 8) / 0.81;
	printf("cost_walk_ref     default %6s cycles   measured: random chase over 64 MiB, 4K pages %.1f ns, "
	       "2M pages %.1f ns: %.1f ns more per access, %.0f cycles per walk reference\n",
	       def(s, "cost_walk_ref"), c4, c2, c4 - c2, per_ref);
	double m = major_fault(path);
	printf("cost_major_fault  default %6s ns       measured: cold file page read fault %.0f ns\n",
	       def(s, "cost_major_fault"), m);
	double b = writeback(path);
	printf("cost_writeback    default %6s ns       measured: fdatasync of 16 MiB, %.0f ns per page\n",
	       def(s, "cost_writeback"), b);
	vmlab_settings_destroy(s);
	unlink(path);
	return 0;
}
