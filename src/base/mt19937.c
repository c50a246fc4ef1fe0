#include "base/mt19937.h"

#include <errno.h>
#include <stdbool.h>

#define MT_M          397
#define MATRIX_A      0x9908b0dfu
#define UPPER_MASK    0x80000000u
#define LOWER_MASK    0x7fffffffu
#define MAX_DIGITS    4096
#define MAX_WORDS     (MAX_DIGITS / 9 + 2)    /* 10^9 < 2^32 per word */

static void init_genrand(struct vm_mt *m, uint32_t s)
{
	m->mt[0] = s;
	for (unsigned i = 1; i < VM_MT_N; i++)
		m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + i;
	m->index = VM_MT_N;
}

void vm_mt_seed_array(struct vm_mt *m, const uint32_t *key, size_t n)
{
	unsigned i = 1;
	size_t j = 0;

	init_genrand(m, 19650218u);
	for (size_t k = n > VM_MT_N ? n : VM_MT_N; k; k--) {
		m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1664525u)) +
			   key[j] + (uint32_t)j;
		i++;
		j++;
		if (i >= VM_MT_N) {
			m->mt[0] = m->mt[VM_MT_N - 1];
			i = 1;
		}
		if (j >= n)
			j = 0;
	}
	for (unsigned k = VM_MT_N - 1; k; k--) {
		m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1566083941u)) - i;
		i++;
		if (i >= VM_MT_N) {
			m->mt[0] = m->mt[VM_MT_N - 1];
			i = 1;
		}
	}
	m->mt[0] = 0x80000000u;     /* a non-zero initial state is assured */
	m->index = VM_MT_N;
}

void vm_mt_seed_int(struct vm_mt *m, int64_t x)
{
	/* Python: n = abs(arg); key = n's 32-bit words, at least one. */
	uint64_t a = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
	uint32_t key[2] = { (uint32_t)a, (uint32_t)(a >> 32) };
	vm_mt_seed_array(m, key, key[1] ? 2 : 1);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int vm_mt_seed_decimal(struct vm_mt *m, const char *text)
{
	uint32_t w[MAX_WORDS] = { 0 };
	size_t nw = 1, digits = 0;
	const char *p = text;

	while (is_space(*p))
		p++;
	if (*p == '+' || *p == '-')
		p++;
	for (; *p; p++) {
		if (*p == '_') {
			/* Python: one underscore, only between two digits. */
			if (!digits || p[1] < '0' || p[1] > '9')
				return -EINVAL;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		if (++digits > MAX_DIGITS)
			return -EINVAL;
		uint64_t carry = (uint64_t)(*p - '0');
		for (size_t i = 0; i < nw; i++) {
			uint64_t v = (uint64_t)w[i] * 10 + carry;
			w[i] = (uint32_t)v;
			carry = v >> 32;
		}
		if (carry)
			w[nw++] = (uint32_t)carry;
	}
	while (is_space(*p))
		p++;
	if (!digits || *p)
		return -EINVAL;
	while (nw > 1 && w[nw - 1] == 0)
		nw--;
	vm_mt_seed_array(m, w, nw);
	return 0;
}

static void generate(struct vm_mt *m)
{
	static const uint32_t mag01[2] = { 0, MATRIX_A };
	unsigned k;
	uint32_t y;

	for (k = 0; k < VM_MT_N - MT_M; k++) {
		y = (m->mt[k] & UPPER_MASK) | (m->mt[k + 1] & LOWER_MASK);
		m->mt[k] = m->mt[k + MT_M] ^ (y >> 1) ^ mag01[y & 1];
	}
	for (; k < VM_MT_N - 1; k++) {
		y = (m->mt[k] & UPPER_MASK) | (m->mt[k + 1] & LOWER_MASK);
		m->mt[k] = m->mt[k + MT_M - VM_MT_N] ^ (y >> 1) ^ mag01[y & 1];
	}
	y = (m->mt[VM_MT_N - 1] & UPPER_MASK) | (m->mt[0] & LOWER_MASK);
	m->mt[VM_MT_N - 1] = m->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1];
	m->index = 0;
}

uint32_t vm_mt_u32(struct vm_mt *m)
{
	if (m->index >= VM_MT_N)
		generate(m);
	uint32_t y = m->mt[m->index++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

double vm_mt_random(struct vm_mt *m)
{
	uint32_t a = vm_mt_u32(m) >> 5, b = vm_mt_u32(m) >> 6;
	return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

uint64_t vm_mt_getrandbits(struct vm_mt *m, unsigned k)
{
	if (k == 0)
		return 0;
	if (k > 64)
		k = 64;
	if (k <= 32)
		return vm_mt_u32(m) >> (32 - k);
	uint64_t lo = vm_mt_u32(m);
	uint64_t hi = vm_mt_u32(m) >> (64 - k);
	return lo | hi << 32;
}

uint64_t vm_mt_randbelow(struct vm_mt *m, uint64_t n)
{
	if (n == 0)
		return 0;
	unsigned k = 64u - (unsigned)__builtin_clzll(n);      /* n.bit_length() */
	uint64_t r;
	do
		r = vm_mt_getrandbits(m, k);
	while (r >= n);
	return r;
}

int64_t vm_mt_randint(struct vm_mt *m, int64_t a, int64_t b)
{
	if (b < a)
		return a;
	uint64_t width = (uint64_t)b - (uint64_t)a + 1;
	if (width == 0)
		return a;
	return (int64_t)((uint64_t)a + vm_mt_randbelow(m, width));
}
