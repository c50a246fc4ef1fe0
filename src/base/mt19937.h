/*
 * MT19937 (Matsumoto and Nishimura, 1998) seeded and drawn exactly as
 * CPython's `random` module does, so that vmlab can reproduce programs that
 * take their randomness from Python (the OSTEP homework simulators): the
 * same seed gives the same numbers, bit for bit.
 *
 * This is NOT the machine's RNG (base/rng.h, xoshiro256**): vmlab's own
 * random choices never use it.  It exists only for compatibility.
 *
 * What CPython does (Modules/_randommodule.c, Lib/random.py):
 *   random.seed(n), n an int   init_by_array(key) where key is |n| as
 *                              little-endian 32-bit words (one word 0 for 0)
 *   random.random()            a = u32 >> 5, b = u32 >> 6,
 *                              (a * 2^26 + b) / 2^53
 *   random.getrandbits(k)      32-bit words, least significant first; the
 *                              last word keeps its top bits (u32 >> (32 - r))
 *   random._randbelow(n)       k = n.bit_length(); draw getrandbits(k) until
 *                              it is < n (Python 3; Python 2 differed)
 *   randint(a, b)              a + _randbelow(b - a + 1)
 *   choice(seq)                seq[_randbelow(len(seq))]
 */
#ifndef VM_BASE_MT19937_H
#define VM_BASE_MT19937_H

#include <stddef.h>
#include <stdint.h>

#define VM_MT_N 624

struct vm_mt {
	uint32_t mt[VM_MT_N];
	unsigned index;          /* next word of mt[] to temper; VM_MT_N = regenerate */
};

/* init_by_array with n > 0 32-bit key words (the reference algorithm). */
void vm_mt_seed_array(struct vm_mt *m, const uint32_t *key, size_t n);

/* random.seed(x) for an int x of 64 bits or less: |x| as its 32-bit words
 * (Python takes the absolute value, so seed(-5) == seed(5)). */
void vm_mt_seed_int(struct vm_mt *m, int64_t x);

/* random.seed(int(text)) for a decimal integer of any size, with Python's
 * int() syntax: surrounding whitespace, an optional sign, digits with
 * single underscores between them.  0, or -EINVAL when text is not an
 * integer (m is unchanged) or has more than 4096 digits. */
int vm_mt_seed_decimal(struct vm_mt *m, const char *text);

/* The next tempered 32-bit output (genrand_uint32). */
uint32_t vm_mt_u32(struct vm_mt *m);

/* random.random(): uniform in [0, 1) with 53 random bits. */
double vm_mt_random(struct vm_mt *m);

/* random.getrandbits(k) for 0 <= k <= 64 (0 gives 0, as Python 3.9+). */
uint64_t vm_mt_getrandbits(struct vm_mt *m, unsigned k);

/* Python 3's random._randbelow(n) for 0 < n <= 2^64 - 1; n == 0 gives 0
 * without drawing. */
uint64_t vm_mt_randbelow(struct vm_mt *m, uint64_t n);

/* random.randint(a, b) for a <= b with b - a + 1 representable; else a. */
int64_t vm_mt_randint(struct vm_mt *m, int64_t a, int64_t b);

#endif
