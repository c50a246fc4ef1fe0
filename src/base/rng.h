/*
 * The machine's seeded random-number generator (DESIGN.md rule 4: every
 * random choice draws from it; nothing is seeded from the clock).
 * xoshiro256** (Blackman and Vigna, 2018), state seeded with splitmix64.
 */
#ifndef VM_BASE_RNG_H
#define VM_BASE_RNG_H

#include <stdint.h>

struct vm_rng {
	uint64_t s[4];
};

void vm_rng_seed(struct vm_rng *r, uint64_t seed);

/* 64 uniformly random bits. */
uint64_t vm_rng_next(struct vm_rng *r);

/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t vm_rng_below(struct vm_rng *r, uint64_t n);

#endif
