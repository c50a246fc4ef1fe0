/*
 * Small compiler and arithmetic helpers used by every layer.
 */
#ifndef VM_BASE_COMPILER_H
#define VM_BASE_COMPILER_H

#include <stdint.h>

#define VM_LIKELY(x)    __builtin_expect(!!(x), 1)
#define VM_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define VM_NOINLINE     __attribute__((noinline))
#define VM_UNUSED       __attribute__((unused))
#define VM_PRINTF(f, a) __attribute__((format(printf, f, a)))

#define VM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Power-of-two alignment; a must be a power of two. */
#define VM_ALIGN_DOWN(x, a)  ((x) & ~((uint64_t)(a) - 1))
#define VM_ALIGN_UP(x, a)    (((x) + ((uint64_t)(a) - 1)) & ~((uint64_t)(a) - 1))
#define VM_IS_ALIGNED(x, a)  (((x) & ((uint64_t)(a) - 1)) == 0)

#define VM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Debug-build assertion for internal invariants (never for bad input). */
#if defined(VM_DEBUG) && VM_DEBUG
#include <stdio.h>
#include <stdlib.h>
#define VM_ASSERT(x) \
	do { \
		if (!(x)) { \
			fprintf(stderr, "%s:%d: VM_ASSERT(%s) failed\n", __FILE__, __LINE__, #x); \
			abort(); \
		} \
	} while (0)
#else
#define VM_ASSERT(x) ((void)0)
#endif

static inline unsigned vm_ilog2(uint64_t x)   /* floor(log2 x), x > 0 */
{
	return 63u - (unsigned)__builtin_clzll(x);
}

static inline int vm_is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

#endif
