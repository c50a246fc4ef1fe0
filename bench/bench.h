/*
 * Benchmark helpers.  Every figure is reported next to a floor measured in
 * the same run on the same data (never as one absolute time), and each
 * measurement takes the best of several repetitions to shed noise.
 */
#ifndef VMLAB_BENCH_H
#define VMLAB_BENCH_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <vmlab/machine.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Keep a value alive so the compiler cannot drop the loop computing it. */
static inline void bench_keep(uint64_t v)
{
	__asm__ volatile("" : : "r"(v) : "memory");
}

#define BENCH_REPS 5

/* A machine built from n settings words ("phys=1G", "mode=meta", ...):
 * 0, or the error of the settings word or of vmlab_machine_create, with its
 * message on stderr. */
static inline int bench_machine(const char *const *words, unsigned n, struct vm_machine **m)
{
	struct vm_settings *s = vmlab_settings_create();
	struct vm_error err;
	int rc = 0;

	if (!s) {
		fprintf(stderr, "bench: out of memory\n");
		return -ENOMEM;
	}
	/* A word the settings refuse stops the benchmark: measuring another
	 * machine than the one asked for would be silently wrong. */
	for (unsigned i = 0; i < n && !rc; i++)
		rc = vmlab_settings_parse(s, words[i], &err);
	if (!rc)
		rc = vmlab_machine_create(s, NULL, m, &err);
	vmlab_settings_destroy(s);
	if (rc)
		fprintf(stderr, "bench: %s\n", err.msg);
	return rc;
}

#endif
