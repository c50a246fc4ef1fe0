/*
 * A small TAP producer for vmlab's unit tests (run by `prove`).
 *
 *   ok(cond, "what")                  plain truth
 *   is_u64(got, want, "what")         unsigned, printed in hex and decimal
 *   is_i64(got, want, "what")         signed (errno values: -ENOMEM ...)
 *   is_str(got, want, "what")         strings (NULL allowed)
 *   diag("fmt", ...)                  a comment line
 *   tap_rss_bytes()                   resident memory now (host-cost tests)
 *   return done_testing();            prints the plan; exit 1 if any failed
 *
 * A failing assertion prints file, line, the expression and both values.
 * Random tests take their seed from tap_seed() (env VMLAB_SEED, else a fixed
 * default) and print it when anything fails, so a failure can be replayed.
 */
#ifndef VMLAB_TAP_H
#define VMLAB_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_count;
static int tap_failures;
static uint64_t tap_seed_value;
static int tap_seed_used;

static void tap_vline(int pass, const char *fmt, va_list ap)
{
	printf("%s %d - ", pass ? "ok" : "not ok", ++tap_count);
	vprintf(fmt, ap);
	printf("\n");
	if (!pass)
		tap_failures++;
}

static void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int tap_ok(int pass, const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6), unused));
static int tap_ok(int pass, const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   %s:%d: failed: %s\n", file, line, expr);
	return pass;
}

static int tap_is_u64(uint64_t got, uint64_t want, const char *file, int line, const char *expr,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7), unused));
static int tap_is_u64(uint64_t got, uint64_t want, const char *file, int line, const char *expr,
		      const char *fmt, ...)
{
	va_list ap;
	int pass = got == want;
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   %s:%d: %s\n#     got:  0x%" PRIx64 " (%" PRIu64 ")\n"
		       "#     want: 0x%" PRIx64 " (%" PRIu64 ")\n",
		       file, line, expr, got, got, want, want);
	return pass;
}

static int tap_is_i64(int64_t got, int64_t want, const char *file, int line, const char *expr,
		      const char *fmt, ...) __attribute__((format(printf, 6, 7), unused));
static int tap_is_i64(int64_t got, int64_t want, const char *file, int line, const char *expr,
		      const char *fmt, ...)
{
	va_list ap;
	int pass = got == want;
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   %s:%d: %s\n#     got:  %" PRId64 "\n#     want: %" PRId64 "\n", file, line,
		       expr, got, want);
	return pass;
}

static int tap_is_str(const char *got, const char *want, const char *file, int line,
		      const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 6, 7), unused));
static int tap_is_str(const char *got, const char *want, const char *file, int line,
		      const char *expr, const char *fmt, ...)
{
	va_list ap;
	int pass = (got == NULL && want == NULL) || (got && want && strcmp(got, want) == 0);
	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   %s:%d: %s\n#     got:  \"%s\"\n#     want: \"%s\"\n", file, line, expr,
		       got ? got : "(null)", want ? want : "(null)");
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)
#define is_u64(got, want, ...) \
	tap_is_u64((uint64_t)(got), (uint64_t)(want), __FILE__, __LINE__, #got " == " #want, __VA_ARGS__)
#define is_i64(got, want, ...) \
	tap_is_i64((int64_t)(got), (int64_t)(want), __FILE__, __LINE__, #got " == " #want, __VA_ARGS__)
#define is_str(got, want, ...) tap_is_str((got), (want), __FILE__, __LINE__, #got " == " #want, __VA_ARGS__)

/* The seed for random tests: VMLAB_SEED if set, else def. */
static uint64_t tap_seed(uint64_t def) __attribute__((unused));
static uint64_t tap_seed(uint64_t def)
{
	const char *s = getenv("VMLAB_SEED");
	tap_seed_value = s ? strtoull(s, NULL, 0) : def;
	tap_seed_used = 1;
	return tap_seed_value;
}

/* True when `make test-long` asked for the long versions of random tests. */
static int tap_long(void) __attribute__((unused));
static int tap_long(void)
{
	const char *s = getenv("VMLAB_TEST_LONG");
	return s && *s && strcmp(s, "0") != 0;
}

/* This process's resident memory in bytes (/proc/self/statm), or -1: tests
 * of lazily touched reservations compare it before and after. */
static long long tap_rss_bytes(void) __attribute__((unused));
static long long tap_rss_bytes(void)
{
	long long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%lld %lld", &size, &resident);
	fclose(f);
	return n == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

static int done_testing(void) __attribute__((unused));
static int done_testing(void)
{
	printf("1..%d\n", tap_count);
	if (tap_failures && tap_seed_used)
		printf("# failed with seed %" PRIu64 " (rerun with VMLAB_SEED=%" PRIu64 ")\n",
		       tap_seed_value, tap_seed_value);
	fflush(stdout);
	return tap_failures ? 1 : 0;
}

#endif
