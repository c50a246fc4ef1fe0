/*
 * Unit tests for simulated physical memory (src/hw/phys.c): sizes, the byte
 * API in data and meta mode, ranges that leave memory or wrap, whole-frame
 * helpers, the host cost of a large memory, and injected host failure.
 */
#include <errno.h>
#include <stdbool.h>

#include "tap.h"

#include "base/host.h"
#include "hw/phys.h"

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

static vm_paddr pa(uint64_t v)
{
	return (vm_paddr){ v };
}

/* Every byte of buf[0, len) is c. */
static bool all_bytes(const unsigned char *buf, size_t len, unsigned char c)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != c)
			return false;
	return true;
}

static void test_sizes(void)
{
	static const struct {
		uint64_t size;
		const char *what;
	} bad[] = {
		{ 0, "0" },
		{ 60 * KiB, "60 KiB (below 64 KiB)" },
		{ 64 * KiB - 4 * KiB, "64 KiB - 4 KiB" },
		{ 64 * KiB + 1, "64 KiB + 1 (unaligned)" },
		{ 64 * KiB + 2048, "64 KiB + 2 KiB (unaligned)" },
		{ (UINT64_C(1) << 40) + 4 * KiB, "1 TiB + 4 KiB (above 1 TiB)" },
		{ UINT64_C(1) << 41, "2 TiB" },
		{ UINT64_MAX, "UINT64_MAX" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_host host = { 0 };
		struct vm_phys p;

		memset(&p, 0xa5, sizeof(p));    /* what an uninitialised struct holds */
		int err = vm_phys_init(&p, &host, bad[i].size, true);
		vm_phys_fini(&p);
		ok(err == -EINVAL && host.attempts == 0 && host.frees == 0,
		   "size %s: -EINVAL before any reservation, fini afterwards harmless", bad[i].what);
	}

	struct vm_host host = { 0 };
	struct vm_phys p;
	is_i64(vm_phys_init(&p, &host, 64 * KiB, true), 0, "64 KiB, the smallest, is accepted");
	is_u64(p.nframes, 16, "as 16 frames");
	ok(vm_phys_valid(&p, pa(64 * KiB - 1)) && !vm_phys_valid(&p, pa(64 * KiB)),
	   "vm_phys_valid: the last byte is inside, the size is not");
	vm_phys_fini(&p);
	is_i64(vm_phys_init(&p, &host, UINT64_C(1) << 40, false), 0, "1 TiB, the largest, is accepted");
	is_u64(p.nframes, UINT64_C(1) << 28, "as 2^28 frames");
	vm_phys_fini(&p);
	ok(host.allocs == 2 && host.frees == 2, "fini released both reservations");
	vm_phys_fini(&p);
	is_u64(host.frees, 2, "a second fini does nothing");
}

static void test_data_mode(void)
{
	struct vm_host host = { 0 };
	struct vm_phys p;
	unsigned char in[100], out[100], frame[4096];

	vm_phys_init(&p, &host, 64 * KiB, true);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 1);
	is_i64(vm_phys_write(&p, pa(4096 - 50), in, sizeof(in)), 0, "write 100 bytes across frames 0/1");
	memset(out, 0, sizeof(out));
	is_i64(vm_phys_read(&p, pa(4096 - 50), out, sizeof(out)), 0, "read them back");
	ok(memcmp(in, out, sizeof(in)) == 0, "the same bytes");
	vm_phys_read(&p, pa(2 * 4096), frame, sizeof(frame));
	ok(all_bytes(frame, sizeof(frame), 0), "an untouched frame reads as zero");
	vm_phys_read(&p, pa(4096 - 51), out, 1);
	ok(out[0] == 0, "the byte before the write is untouched");

	is_i64(vm_phys_write(&p, pa(64 * KiB - 1), "z", 1), 0, "write the last byte");
	is_i64(vm_phys_read(&p, pa(64 * KiB - 1), out, 1), 0, "read the last byte");
	ok(out[0] == 'z', "it holds what was written");
	is_i64(vm_phys_read(&p, pa(64 * KiB), NULL, 0), 0, "empty read at the end, NULL buffer: 0");
	is_i64(vm_phys_write(&p, pa(0), NULL, 0), 0, "empty write, NULL buffer: 0");
	vm_phys_fini(&p);
}

static void test_bad_ranges(void)
{
	static const struct {
		uint64_t pa;
		size_t len;
		const char *what;
	} bad[] = {
		{ 64 * KiB - 10, 20, "runs 10 bytes past the end" },
		{ 64 * KiB, 1, "starts at the end" },
		{ 64 * KiB + 4096, 0, "empty, beyond the end" },
		{ UINT64_MAX, 1, "pa UINT64_MAX" },
		{ UINT64_MAX - 4, 10, "wraps around zero" },
		{ 8, SIZE_MAX, "len SIZE_MAX" },
		{ 4096, SIZE_MAX - 4095, "pa + len wraps to exactly zero" },
	};
	struct vm_host host = { 0 };
	struct vm_phys p;
	unsigned char buf[32] = { 0 };

	for (int data = 1; data >= 0; data--) {
		vm_phys_init(&p, &host, 64 * KiB, data);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int r = vm_phys_read(&p, pa(bad[i].pa), buf, bad[i].len);
			int w = vm_phys_write(&p, pa(bad[i].pa), buf, bad[i].len);
			ok(r == -EINVAL && w == -EINVAL, "%s mode, %s: read and write -EINVAL",
			   data ? "data" : "meta", bad[i].what);
		}
		vm_phys_fini(&p);
	}
}

static void test_meta_mode(void)
{
	struct vm_host host = { 0 };
	struct vm_phys p;
	unsigned char buf[16] = { 0 };

	vm_phys_init(&p, &host, 64 * KiB, false);
	is_i64(vm_phys_read(&p, pa(0), buf, sizeof(buf)), -ENODATA, "meta: read is -ENODATA");
	is_i64(vm_phys_write(&p, pa(0), buf, sizeof(buf)), -ENODATA, "meta: write is -ENODATA");
	is_i64(vm_phys_zero_frame(&p, 1), -ENODATA, "meta: zero_frame is -ENODATA");
	is_i64(vm_phys_copy_frame(&p, 1, 2), -ENODATA, "meta: copy_frame is -ENODATA");
	is_i64(vm_phys_zero_frame(&p, 16), -EINVAL, "meta: zero_frame out of range is -EINVAL");

	uint64_t *t = vm_phys_table(&p, 3);
	t[0] = 0x1234;
	t[511] = UINT64_C(0x8000000000000067);
	ok(vm_phys_table(&p, 3)[0] == 0x1234 && vm_phys_table(&p, 3)[511] == UINT64_C(0x8000000000000067),
	   "meta: a table frame keeps its entries");
	ok(vm_phys_table(&p, 4)[0] == 0 && vm_phys_table(&p, 2)[511] == 0,
	   "meta: the neighbouring frames are untouched");
	vm_phys_fini(&p);
}

static void test_frame_helpers(void)
{
	struct vm_host host = { 0 };
	struct vm_phys p;
	unsigned char frame[4096], pattern[4096];

	vm_phys_init(&p, &host, 64 * KiB, true);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (unsigned char)(i ^ (i >> 8) ^ 0x5a);
	vm_phys_write(&p, pa(2 * 4096), pattern, sizeof(pattern));
	vm_phys_write(&p, pa(3 * 4096), pattern, sizeof(pattern));

	is_i64(vm_phys_copy_frame(&p, 5, 2), 0, "copy frame 2 to 5");
	vm_phys_read(&p, pa(5 * 4096), frame, sizeof(frame));
	ok(memcmp(frame, pattern, sizeof(frame)) == 0, "frame 5 holds frame 2's bytes");
	is_i64(vm_phys_copy_frame(&p, 2, 2), 0, "copy a frame onto itself");
	vm_phys_read(&p, pa(2 * 4096), frame, sizeof(frame));
	ok(memcmp(frame, pattern, sizeof(frame)) == 0, "it is unchanged");
	ok(vm_phys_copy_frame(&p, 16, 2) == -EINVAL && vm_phys_copy_frame(&p, 2, 16) == -EINVAL &&
	   vm_phys_copy_frame(&p, UINT64_MAX, 0) == -EINVAL, "copy with a pfn out of range: -EINVAL");

	is_i64(vm_phys_zero_frame(&p, 2), 0, "zero frame 2");
	vm_phys_read(&p, pa(2 * 4096), frame, sizeof(frame));
	ok(all_bytes(frame, sizeof(frame), 0), "frame 2 reads as zero");
	vm_phys_read(&p, pa(3 * 4096), frame, sizeof(frame));
	ok(memcmp(frame, pattern, sizeof(frame)) == 0, "frame 3 is untouched");
	ok(vm_phys_zero_frame(&p, 16) == -EINVAL && vm_phys_zero_frame(&p, UINT64_MAX) == -EINVAL,
	   "zero with a pfn out of range: -EINVAL");

	vm_phys_discard(&p, 3, 1);
	vm_phys_read(&p, pa(3 * 4096), frame, sizeof(frame));
	ok(all_bytes(frame, sizeof(frame), 0), "a discarded frame reads as zero");
	vm_phys_read(&p, pa(5 * 4096), frame, sizeof(frame));
	ok(memcmp(frame, pattern, sizeof(frame)) == 0, "other frames keep their bytes");
	vm_phys_discard(&p, 5, UINT64_MAX);
	vm_phys_discard(&p, 16, 1);
	vm_phys_discard(&p, UINT64_MAX, 2);
	vm_phys_read(&p, pa(5 * 4096), frame, sizeof(frame));
	ok(memcmp(frame, pattern, sizeof(frame)) == 0, "out-of-range or wrapping discards do nothing");
	vm_phys_fini(&p);
}

/* A 64 GiB memory costs the host only the frames that are written. */
static void test_host_cost(void)
{
	static const uint64_t at[] = { 0, GiB + 123, 32 * GiB, 64 * GiB - 8 };
	struct vm_host host = { 0 };
	struct vm_phys p;
	uint64_t v;
	bool all = true;

	long long rss0 = tap_rss_bytes();
	if (!ok(vm_phys_init(&p, &host, 64 * GiB, true) == 0, "64 GiB in data mode"))
		return;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		v = at[i] * 3 + 1;
		all &= vm_phys_write(&p, pa(at[i]), &v, sizeof(v)) == 0;
	}
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		all &= vm_phys_read(&p, pa(at[i]), &v, sizeof(v)) == 0 && v == at[i] * 3 + 1;
	long long grown = tap_rss_bytes() - rss0;
	ok(all, "writes spread over 64 GiB read back");
	diag("RSS grew %lld KiB", grown / 1024);
	ok(rss0 >= 0 && grown < (long long)(8 * MiB), "the host paid for the touched frames only");
	vm_phys_fini(&p);
}

static void test_fault_injection(void)
{
	struct vm_host host = { .fail_at = 1 };
	struct vm_phys p;

	is_i64(vm_phys_init(&p, &host, 64 * KiB, true), -ENOMEM, "fail_at = 1: init is -ENOMEM");
	ok(host.attempts == 1 && host.allocs == 0 && p.bytes == NULL, "nothing was reserved");
	vm_phys_fini(&p);
	is_u64(host.frees, 0, "fini after the failure releases nothing");

	host = (struct vm_host){ .fail_at = 2 };
	is_i64(vm_phys_init(&p, &host, 64 * KiB, true), 0, "fail_at = 2: init's one attempt succeeds");
	vm_phys_fini(&p);
	ok(host.allocs == 1 && host.frees == 1, "and fini releases it");
}

int main(void)
{
	test_sizes();
	test_data_mode();
	test_bad_ranges();
	test_meta_mode();
	test_frame_helpers();
	test_host_cost();
	test_fault_injection();
	return done_testing();
}
