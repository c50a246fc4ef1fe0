/*
 * Benchmark helpers.  Every figure is reported next to a floor measured in
 * the same run on the same data (never as one absolute time), and each
 * measurement takes the best of several repetitions to shed noise.
 */
#ifndef VMLAB_BENCH_H
#define VMLAB_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

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

#endif
